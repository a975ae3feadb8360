//! `minimis demo --export DIR` writes records that a standard age implementation opens
//! with the exported identities, and no others (SEAL-1, SEAL-8, RET-2).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Export {
    root: PathBuf,
    live: Vec<PathBuf>,
    destroyed: Vec<PathBuf>,
    agency: PathBuf,
    oversight: PathBuf,
}

/// The shared demo run's export (see `demo.rs`).
fn export() -> Export {
    let root = crate::demo::demo().export.clone();
    let mut epochs: Vec<PathBuf> = std::fs::read_dir(root.join("records"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    epochs.sort();
    assert_eq!(
        epochs.len(),
        2,
        "records of the destroyed and the live epoch"
    );
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let destroyed = list(&epochs[0]);
    let live = list(&epochs[1]);
    let live_epoch = epochs[1]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace("epoch-", "");
    let ids = root.join("identities");
    let agency = ids.join(format!("agency-epoch-{live_epoch}.txt"));
    let oversight = ids.join(format!("oversight-epoch-{live_epoch}.txt"));
    assert!(agency.exists() && oversight.exists());
    assert_eq!(
        std::fs::read_dir(&ids).unwrap().count(),
        2,
        "only the live epoch's identities"
    );
    assert!(!live.is_empty() && !destroyed.is_empty());
    Export {
        root,
        live,
        destroyed,
        agency,
        oversight,
    }
}

/// Opens an age file with the age crate's standard decryptor and an identity file.
fn age_crate_open(file: &[u8], identity_file: &Path) -> Option<Vec<u8>> {
    let ids = age::IdentityFile::from_buffer(std::io::BufReader::new(
        std::fs::File::open(identity_file).unwrap(),
    ))
    .unwrap()
    .into_identities()
    .unwrap();
    let d = age::Decryptor::new_buffered(file).ok()?;
    let mut r = d
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .ok()?;
    let mut out = vec![];
    std::io::Read::read_to_end(&mut r, &mut out).ok()?;
    Some(out)
}

#[test]
fn seal_8_ret_2_export_opens_with_the_age_crate_and_destroyed_records_do_not() {
    let e = export();
    assert!(
        std::fs::read_to_string(e.root.join("README.txt"))
            .unwrap()
            .contains("age -d -i")
    );
    for rec in &e.live {
        let sealed = std::fs::read(rec).unwrap();
        let inner = age_crate_open(&sealed, &e.oversight).expect("outer layer opens");
        let plain = age_crate_open(&inner, &e.agency).expect("inner layer opens");
        let p = minimis_proto::CheckInPayload::decode(&plain, 280).unwrap();
        // The file name is the record id, which binds the stored bytes.
        assert!(rec.file_stem().unwrap().to_string_lossy().len() == 64);
        assert_ne!(p.challenge_id.as_bytes(), &[0u8; 16]);
    }
    for rec in &e.destroyed {
        let sealed = std::fs::read(rec).unwrap();
        for id in [&e.agency, &e.oversight] {
            assert!(
                age_crate_open(&sealed, id).is_none(),
                "{} opened",
                rec.display()
            );
        }
    }
}

fn age_cli(identity: &Path, input: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut child = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the age command-line tool is installed (apt-get install age)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
#[ignore = "needs the age CLI (Debian package age); run by .ci/run"]
fn seal_1_seal_8_ret_2_export_opens_with_the_age_cli_and_no_other_keys() {
    let e = export();
    for rec in &e.live {
        let sealed = std::fs::read(rec).unwrap();
        let inner = age_cli(&e.oversight, &sealed).expect("outer layer opens with age");
        let plain = age_cli(&e.agency, &inner).expect("inner layer opens with age");
        assert_eq!(plain.len(), 512);
        let out = crate::minimis()
            .args(["payload", "decode"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin.take().unwrap().write_all(&plain)?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(out.status.success());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            ["inside", "outside", "unavailable", "not-required"]
                .contains(&json["zone"].as_str().unwrap())
        );
        // Each layer needs its own custodian: swapped identities fail.
        assert!(age_cli(&e.agency, &sealed).is_err());
        assert!(age_cli(&e.oversight, &inner).is_err());
    }
    for rec in &e.destroyed {
        let sealed = std::fs::read(rec).unwrap();
        for id in [&e.agency, &e.oversight] {
            let err = age_cli(id, &sealed).unwrap_err();
            assert!(err.contains("no identity matched"), "{err}");
        }
    }
}

#[test]
fn log_23_log_24_exported_log_verifies_from_its_tiles_with_its_published_keys() {
    let e = export();
    let read_key = |name: &str| -> Vec<minimis_log::VerifierKey> {
        std::fs::read_to_string(e.root.join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.parse().unwrap())
            .collect()
    };
    let log_key = read_key("log.vkey").remove(0);
    let witnesses = read_key("witnesses.vkey");
    assert_eq!(witnesses.len(), 1);
    let reader = minimis_log::LogReader::from_dir(&e.root.join("log"), &log_key).unwrap();
    reader.audit().unwrap();
    reader.checkpoint().verify_cosignatures(&witnesses).unwrap();
    // The policy the log publishes is the exported file.
    let policy = minimis_proto::Policy::from_toml_str(
        &std::fs::read_to_string(e.root.join("policy.toml")).unwrap(),
    )
    .unwrap();
    let first = minimis_log::LogEntry::decode(&reader.entry(0).unwrap()).unwrap();
    assert_eq!(
        first,
        minimis_log::LogEntry::PolicyPublished {
            policy: policy.hash()
        }
    );
}

#[test]
fn aud_1_aud_12_minimis_audit_verifies_the_demos_export() {
    let e = export();
    let out = crate::minimis()
        .args(["audit", "--json", "--trust-keys-in-dir"])
        .arg(&e.root)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    // The demo logged its key destructions and purge, and its accesses and one denial.
    assert!(text.contains("purpose-not-allowed"), "{text}");
}
