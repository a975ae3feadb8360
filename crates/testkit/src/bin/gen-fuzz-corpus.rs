//! Writes the fuzz targets' seed corpora to `fuzz/corpus/<target>/` (run from the
//! repository root): `cargo run -p minimis-testkit --bin gen-fuzz-corpus`.
//!
//! Seeds made by code use the fixed public test keys of `minimis_testkit::fuzz::keys`;
//! sealing is randomised, so sealed seeds differ from run to run (they open all the
//! same). Files already in a corpus folder are left alone: remove the folder first to
//! start again.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(".");
    if !root.join("fuzz/Cargo.toml").exists() {
        eprintln!("gen-fuzz-corpus: run from the repository root (fuzz/Cargo.toml not found)");
        return ExitCode::from(2);
    }
    let seeds = match minimis_testkit::fuzz::seeds::all(root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gen-fuzz-corpus: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut written = 0;
    for s in &seeds {
        if minimis_testkit::fuzz::target(s.target).is_none() {
            eprintln!("gen-fuzz-corpus: a seed for no target: {}", s.target);
            return ExitCode::FAILURE;
        }
        let dir = root.join("fuzz/corpus").join(s.target);
        let path = dir.join(&s.name);
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &s.bytes))
        {
            eprintln!("gen-fuzz-corpus: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        written += 1;
    }
    println!("gen-fuzz-corpus: wrote {written} seeds under fuzz/corpus/");
    ExitCode::SUCCESS
}
