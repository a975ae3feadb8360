//! Project tasks, run as `cargo xtask <task>` (the alias is in `.cargo/config.toml`).
//!
//! `cargo xtask trace` reads every requirement ID defined in `spec/**/*.md` (a bold
//! `**FAM-N.**` with an optional `(planned: ...)` or `(process: ...)` marker), every test
//! function in `crates/`, `tests/` and `src/` whose name starts with an ID chain
//! (`seal_2_ret_2_...`), writes the matrix to `spec/traceability.md`, and fails if:
//! a MUST requirement that is neither planned nor process has no test; a test, a spec
//! file or the threat model names an ID that is not defined; a document cites a test
//! that does not exist; or an ID is defined twice.
//!
//! `cargo xtask trace --check` writes nothing and also fails if `spec/traceability.md`
//! differs from what `cargo xtask trace` would write (for CI).
//!
//! Exit codes: 0 all checks hold; 1 a traceability check failed; 2 usage or I/O error.

mod ids;
mod rust;
mod spec;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask trace [--check]

  trace          write spec/traceability.md and check requirement traceability
  trace --check  check only, and fail if spec/traceability.md is out of date (CI)";

/// The repository root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the task; `Ok(false)` when a check failed.
#[allow(clippy::print_stderr)]
fn run() -> Result<bool> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let check = match args.as_slice() {
        ["trace"] => false,
        ["trace", "--check"] => true,
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            return Ok(true);
        }
        _ => bail!("unknown arguments {args:?}\n{USAGE}"),
    };

    let root = repo_root();
    let inputs = trace::read_inputs(&root)?;
    let result = trace::trace(&inputs);
    let matrix_path = root.join(trace::MATRIX_PATH);

    let mut ok = result.problems.is_empty();
    for p in &result.problems {
        eprintln!("trace: {p}");
    }
    if check {
        let on_disk = std::fs::read_to_string(&matrix_path).unwrap_or_default();
        if on_disk != result.matrix {
            eprintln!(
                "trace: {} is out of date; run `cargo xtask trace` and commit the result",
                trace::MATRIX_PATH
            );
            ok = false;
        }
    } else {
        std::fs::write(&matrix_path, &result.matrix)
            .with_context(|| format!("writing {}", matrix_path.display()))?;
        eprintln!("trace: wrote {}", trace::MATRIX_PATH);
    }
    eprintln!("trace: {}", result.summary);
    if ok {
        eprintln!("trace: ok");
    } else {
        eprintln!(
            "trace: FAILED with {} problem(s){}",
            result.problems.len(),
            if check && result.problems.is_empty() {
                " (the matrix is out of date)"
            } else {
                ""
            }
        );
    }
    Ok(ok)
}
