//! The operator's binary as an operator runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

fn operator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minimis-operator"))
}

#[test]
fn seal_25_the_operator_binary_takes_the_serve_flags_and_no_baseline_flag() {
    let out = operator().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // The flags of `minimis serve` (the same `ServeArgs`), each of them.
    for flag in [
        "--config",
        "--data-dir",
        "--store",
        "--listen",
        "--policy",
        "--cert",
        "--key",
        "--officer-ca",
        "--agency-key",
        "--oversight-key",
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    // No option for the plaintext baseline (the description may name it, to say so).
    let options: Vec<&str> = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .collect();
    // The ten above, --help and --version.
    assert_eq!(options.len(), 12, "{help}");
    assert!(
        options
            .iter()
            .all(|l| !l.to_lowercase().contains("baseline")),
        "{help}"
    );
    let out = operator().arg("--baseline-plaintext").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A bad key is a usage error with its flag named, and nothing is started.
    let dir = tempfile::tempdir().unwrap();
    let out = operator()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--agency-key",
            "AAAA",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--agency-key must be 32 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("data").exists());
}

#[test]
fn seal_25_the_operator_binary_serves_with_the_development_pki() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = operator()
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("MINIMIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    // A generous timeout that only catches a hang, not a timing claim.
    let first = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("the operator's binary printed nothing within 60 s");
    let addr = first
        .strip_prefix("minimis-operator: listening on https://")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(addr.parse::<std::net::SocketAddr>().is_ok(), "{addr}");
    // It made its keys and a development certificate in the data directory.
    assert!(dir.path().join("keys/operator.key").exists());
    assert!(dir.path().join("tls").is_dir());
}
