//! Writes the test vectors to `spec/vectors/` (run from the repository root):
//! `cargo run -p minimis-testkit --bin gen-vectors`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new("spec/vectors");
    if !Path::new("Cargo.toml").exists() || !root.exists() {
        eprintln!("gen-vectors: run from the repository root (spec/vectors/ not found)");
        return ExitCode::from(2);
    }
    let mut written = 0;
    for v in minimis_testkit::vectors::all() {
        let path = root.join(&v.path);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!("gen-vectors: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        if let Err(e) = std::fs::write(&path, v.to_file()) {
            eprintln!("gen-vectors: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        written += 1;
    }
    println!(
        "gen-vectors: wrote {written} files under {}",
        root.display()
    );
    ExitCode::SUCCESS
}
