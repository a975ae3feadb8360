//! The trust split is made of crates: the crates the operator's server is built from have
//! no code path that decrypts (SEAL-11). This runs the very command an auditor would:
//! `cargo tree -e normal -p <crate>`.

use std::collections::BTreeSet;

/// The normal (not dev, not build) dependencies of a workspace crate, by name.
fn normal_dependencies(krate: &str) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", krate])
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deps: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(deps.contains(krate), "cargo tree listed {krate}: {deps:?}");
    deps
}

#[test]
fn seal_11_verifying_crates_cannot_decrypt() {
    // The operator's server and every crate it is built from.
    for krate in [
        "minimis-server",
        "minimis-proto",
        "minimis-crypto",
        "minimis-log",
    ] {
        let deps = normal_dependencies(krate);
        for forbidden in [
            "age",
            "age-core",
            "minimis-seal",
            "x25519-dalek",
            "chacha20poly1305",
        ] {
            assert!(
                !deps.contains(forbidden),
                "{krate} depends on {forbidden}: the operator side must have no code path that decrypts"
            );
        }
    }
    // The check is not vacuous: the sealing crate does depend on age and x25519.
    let seal = normal_dependencies("minimis-seal");
    assert!(
        seal.contains("age") && seal.contains("x25519-dalek"),
        "{seal:?}"
    );
}
