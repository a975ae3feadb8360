//! `minimis audit DIR` as a user runs it: the export layout, the exit codes of AUD-12
//! (0 all claims hold, 1 a claim violated, 2 usage or I/O, 3 the log does not verify),
//! the state file between runs (AUD-2), participant mode (AUD-11), where the keys come
//! from (AUD-34, AUD-35), and directories built to attack the auditor, each run under a
//! memory and a time limit (AUD-30, AUD-31).

use std::path::Path;
use std::process::Output;

use minimis_audit::layout::write_export;
use minimis_audit::synthetic::{self, History, Params, SignedLog};
use minimis_log::LogEntry;
use serde_json::Value;

fn history() -> History {
    History::generate(&Params {
        participants: 12,
        epochs: 16,
        ..Params::small()
    })
}

/// Writes `entries` as a log in the export layout under `dir`.
fn export(dir: &Path, entries: &[LogEntry]) -> SignedLog {
    let log = SignedLog::build(entries, 500);
    write_export(
        dir,
        &log.log,
        std::slice::from_ref(&log.witness_key),
        minimis_proto::DEFAULT_POLICY_TOML,
    )
    .unwrap();
    log
}

/// `minimis audit DIR --now NOW EXTRA…`, with no key given.
fn audit_bare(dir: &Path, h: &History, extra: &[&str]) -> Output {
    crate::minimis()
        .arg("audit")
        .arg(dir)
        .args(["--now", &h.now.seconds().to_string()])
        .args(extra)
        .output()
        .unwrap()
}

/// `minimis audit DIR --trust-keys-in-dir --now NOW EXTRA…`: the keys the export holds.
fn audit(dir: &Path, h: &History, extra: &[&str]) -> Output {
    let mut args = vec!["--trust-keys-in-dir"];
    args.extend_from_slice(extra);
    audit_bare(dir, h, &args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn aud_12_a_clean_export_exits_0_with_a_table_or_json() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(
        table.contains(&format!(
            "from {}, in the directory audited (--trust-keys-in-dir)",
            dir.path().join("log.vkey").display()
        )),
        "{table}"
    );
    for row in [
        "AUD-1", "AUD-2", "AUD-3", "AUD-4", "AUD-5", "AUD-6", "AUD-8", "AUD-9",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }
    assert!(table.contains("verdict: all claims hold"), "{table}");
    let out = audit(dir.path(), &h, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "all-claims-hold");
    assert_eq!(j["log"]["origin"], synthetic::LOG_NAME);
    assert_eq!(j["log"]["tree_size"], h.entries.len());
}

#[test]
fn aud_12_a_violated_claim_exits_1() {
    let h = history();
    let mut entries = h.entries.clone();
    let at = entries
        .iter()
        .position(|e| matches!(e, LogEntry::EpochKeyDestroyed { .. }))
        .unwrap();
    entries.remove(at);
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &entries);
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("logged no key destruction"),
        "{}",
        stdout(&out)
    );
    let out = audit(dir.path(), &h, &["--json"]);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["exit"], 1);
}

#[test]
fn aud_3_aud_12_a_tampered_export_exits_3() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let path = dir.path().join("log/tile/entries/001");
    let mut bundle = std::fs::read(&path).unwrap();
    bundle[5] ^= 0x40;
    std::fs::write(&path, bundle).unwrap();
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("does not hash to its leaf"), "{text}");
    assert!(text.contains("no policy claim is reported"), "{text}");
    let out = audit(dir.path(), &h, &["--json"]);
    assert_eq!(out.status.code(), Some(3));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["code"], "modified-entry");
    assert_eq!(j["error"]["requirement"], "AUD-3");
}

#[test]
fn aud_1_aud_12_a_missing_cosignature_exits_3() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let path = dir.path().join("log/checkpoint");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains(synthetic::WITNESS_NAME))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("no cosignature by witness"));
    // An empty witnesses.vkey requires none: refused unless allowed (AUD-35).
    std::fs::write(dir.path().join("witnesses.vkey"), "").unwrap();
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-no-witness"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(dir.path(), &h, &["--allow-no-witness"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("witness     none required (--allow-no-witness)"));
}

#[test]
fn aud_2_a_split_view_between_two_runs_exits_3() {
    let h = history();
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let first = tempfile::tempdir().unwrap();
    export(first.path(), &h.entries);
    let out = audit(first.path(), &h, &["--state", state_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("first run"));
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("minimis-audit-state/1")
    );
    // The same log again: consistent.
    let out = audit(first.path(), &h, &["--state", state_arg]);
    assert_eq!(out.status.code(), Some(0));
    // The log shows another tree of the same size.
    let mut other = h.entries.clone();
    other.swap(50, 51);
    let second = tempfile::tempdir().unwrap();
    export(second.path(), &other);
    let out = audit(second.path(), &h, &["--state", state_arg]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("split view"), "{}", stdout(&out));
    // The state still holds the first signed checkpoint: with the second, the evidence.
    let kept = std::fs::read_to_string(&state).unwrap();
    let root = |d: &Path| {
        let cp = std::fs::read_to_string(d.join("log/checkpoint")).unwrap();
        cp.lines().nth(2).unwrap().to_owned()
    };
    assert!(kept.contains(&root(first.path())));
    assert!(!kept.contains(&root(second.path())));
}

#[test]
fn aud_12_usage_and_io_errors_exit_2() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    // Not a directory.
    let out = audit(&dir.path().join("nothing"), &h, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
    // No key at all.
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-key"));
    export(dir.path(), &h.entries);
    // A key file the user names that is not there, or is larger than a key file can be.
    let out = audit_bare(dir.path(), &h, &["--log-key", "/nonexistent/log.vkey"]);
    assert_eq!(out.status.code(), Some(2));
    let big = tempfile::NamedTempFile::new().unwrap();
    big.as_file().set_len(1 << 30).unwrap();
    let out = audit_bare(dir.path(), &h, &["--log-key", big.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than the 4096 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bad time.
    let out = crate::minimis()
        .arg("audit")
        .arg(dir.path())
        .args(["--now", "soon", "--trust-keys-in-dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    // Participant mode needs both halves.
    let out = audit(dir.path(), &h, &["--tag-key", &"00".repeat(32)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn aud_8_a_policy_the_auditor_lacks_exits_2_until_given() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    std::fs::remove_file(dir.path().join("policy.toml")).unwrap();
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--policy"));
    let policy = dir.path().join("elsewhere.toml");
    std::fs::write(&policy, minimis_proto::DEFAULT_POLICY_TOML).unwrap();
    let out = audit(dir.path(), &h, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn aud_11_participant_mode_lists_my_entries() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let (key, pseudonym) = synthetic::participant(2);
    let key_hex = hex::encode(key.expose_secret());
    let out = audit(
        dir.path(),
        &h,
        &[
            "--json",
            "--tag-key",
            &key_hex,
            "--pseudonym",
            &pseudonym.to_hex(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = j["participant"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["entry"] == "challenge-issued"));
    assert!(entries.iter().any(|e| e["entry"] == "check-in-received"));
    assert!(!stdout(&out).contains(&key_hex));
    assert!(!stdout(&out).contains(&pseudonym.to_hex()));
    // With a schedule that has no Sunday window, the Sunday challenges break it.
    let schedule = dir.path().join("schedule.json");
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let windows: Vec<String> = days
        .iter()
        .flat_map(|d| {
            [
                format!(r#"{{"weekday":"{d}","start":"08:00","end":"10:00"}}"#),
                format!(r#"{{"weekday":"{d}","start":"13:00","end":"15:00"}}"#),
            ]
        })
        .collect();
    std::fs::write(
        &schedule,
        format!(
            r#"{{"time_zone":"UTC","windows":[{}],"daily_cap":3,"adhoc_cap_30d":4}}"#,
            windows.join(",")
        ),
    )
    .unwrap();
    let out = audit(
        dir.path(),
        &h,
        &[
            "--tag-key",
            &key_hex,
            "--pseudonym",
            &pseudonym.to_hex(),
            "--schedule",
            schedule.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("outside_window"), "{}", stdout(&out));
}

/// The export's key files, copied to a directory of their own: keys the auditor holds.
fn keys_of(dir: &Path) -> tempfile::TempDir {
    let keys = tempfile::tempdir().unwrap();
    for f in ["log.vkey", "witnesses.vkey"] {
        std::fs::copy(dir.join(f), keys.path().join(f)).unwrap();
    }
    keys
}

fn key_args(keys: &Path) -> Vec<String> {
    vec![
        "--log-key".into(),
        keys.join("log.vkey").display().to_string(),
        "--witness".into(),
        keys.join("witnesses.vkey").display().to_string(),
    ]
}

#[test]
fn aud_34_keys_in_the_directory_are_used_only_when_trusted_and_the_output_says_where_each_came_from()
 {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let log = export(dir.path(), &h.entries);
    // The directory's keys are not used unless the user says so.
    let out = audit_bare(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give --log-key FILE"), "{err}");
    assert!(err.contains("--trust-keys-in-dir"), "{err}");
    // Keys from files of the user's own: the output names them.
    let keys = keys_of(dir.path());
    let args = key_args(keys.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = audit_bare(dir.path(), &h, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let table = stdout(&out);
    let id = |k: &minimis_log::VerifierKey| format!("{}+{}", k.name(), k.key_id());
    assert!(
        table.contains(&format!(
            "log key     {}   from {}\n",
            id(&log.log_key),
            keys.path().join("log.vkey").display()
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "witness     {}   from {}\n",
            id(&log.witness_key),
            keys.path().join("witnesses.vkey").display()
        )),
        "{table}"
    );
    assert!(!table.contains("--trust-keys-in-dir"), "{table}");
    let mut json_args = args.clone();
    json_args.push("--json");
    let j: Value = serde_json::from_slice(&audit_bare(dir.path(), &h, &json_args).stdout).unwrap();
    assert_eq!(j["keys"]["log"]["key"], log.log_key.to_string());
    assert_eq!(j["keys"]["log"]["origin"]["kind"], "file");
    assert_eq!(j["keys"]["witnesses"][0]["origin"]["kind"], "file");
    // Trusted: the output says the keys came from the directory audited.
    let j: Value = serde_json::from_slice(&audit(dir.path(), &h, &["--json"]).stdout).unwrap();
    assert_eq!(j["keys"]["log"]["origin"]["kind"], "export-dir");
    assert_eq!(
        j["keys"]["log"]["origin"]["path"],
        dir.path().join("log.vkey").display().to_string()
    );
    assert_eq!(j["keys"]["witnesses"][0]["origin"]["kind"], "export-dir");
}

#[test]
fn aud_34_aud_35_a_forged_log_that_brings_its_own_key_and_no_witness_does_not_pass_unnoticed() {
    let h = history();
    let real = tempfile::tempdir().unwrap();
    export(real.path(), &h.entries);
    let keys = keys_of(real.path());
    // The forger's log: other entries, signed by its own key of the log's name, with
    // that key in log.vkey and no witness.
    let mut entries = h.entries.clone();
    let at = entries
        .iter()
        .position(|e| matches!(e, LogEntry::EpochKeyDestroyed { .. }))
        .unwrap();
    entries.remove(at);
    let forger = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new(synthetic::LOG_NAME).unwrap(),
        minimis_crypto::SigningKey::from_seed(&[0x66; 32]).unwrap(),
    );
    let mut log = minimis_log::Log::create(minimis_log::MemoryStorage::new(), forger).unwrap();
    for chunk in entries.chunks(500) {
        log.append_entries(chunk).unwrap();
    }
    let forged = tempfile::tempdir().unwrap();
    write_export(forged.path(), &log, &[], minimis_proto::DEFAULT_POLICY_TOML).unwrap();
    // Against the keys from their owners: the log does not verify.
    let args = key_args(keys.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = audit_bare(forged.path(), &h, &args);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("AUD-1"), "{}", stdout(&out));
    // Trusting the directory's keys, with its empty witness file: refused, not passed.
    let out = audit(forged.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no witness"));
    // With the real witness: its cosignature is missing.
    let out = audit(
        forged.path(),
        &h,
        &[
            "--witness",
            keys.path().join("witnesses.vkey").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("no cosignature by witness"));
    // Only when the user allows everything does it verify, and then the output says
    // exactly what vouched for it: the directory's own key, and no witness.
    let out = audit(forged.path(), &h, &["--allow-no-witness"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let table = stdout(&out);
    assert!(
        table.contains(&format!(
            "from {}, in the directory audited (--trust-keys-in-dir)",
            forged.path().join("log.vkey").display()
        )),
        "{table}"
    );
    assert!(
        table.contains("witness     none required (--allow-no-witness)"),
        "{table}"
    );
}

// ---- directories built to attack the auditor (AUD-30, AUD-31) --------------------------

/// The address space `minimis audit` gets in these tests: far more than it needs (it
/// holds one tile per level and one bundle at a time), far less than a read without bound
/// would take.
#[cfg(target_os = "linux")]
const MEMORY: u64 = 512 << 20;

/// `minimis audit DIR --now NOW` and `args`, under [`MEMORY`] and 60 s.
#[cfg(target_os = "linux")]
fn audit_bounded(dir: &Path, h: &History, args: &[String]) -> crate::Bounded {
    let mut cmd = crate::minimis();
    cmd.arg("audit")
        .arg(dir)
        .args(["--now", &h.now.seconds().to_string()])
        .args(args);
    crate::run_bounded(cmd, MEMORY, 60)
}

/// Replaces `path` with a symbolic link to `target`.
#[cfg(target_os = "linux")]
fn link(path: &Path, target: &Path) {
    let _ = std::fs::remove_file(path);
    std::os::unix::fs::symlink(target, path).unwrap();
}

/// Replaces `path` with a FIFO that nobody writes to.
#[cfg(target_os = "linux")]
fn fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn aud_30_aud_12_links_fifos_and_oversized_files_in_the_directory_end_in_exit_3_within_bounds() {
    let h = history();
    let zero = Path::new("/dev/zero");
    let outside = tempfile::tempdir().unwrap();
    // A regular file far larger than any file of the export, outside it (sparse).
    let huge = outside.path().join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    // Each case: how the directory is attacked, whether the keys in it are trusted, and
    // the JSON code the auditor must answer with.
    type Attack = fn(&Path, &Path, &Path);
    let cases: [(&str, Attack, bool, &str); 12] = [
        (
            "policy.toml -> /dev/zero",
            |d, z, _| link(&d.join("policy.toml"), z),
            false,
            "export-file-refused",
        ),
        (
            "policy.toml a FIFO",
            |d, _, _| fifo(&d.join("policy.toml")),
            false,
            "export-file-refused",
        ),
        (
            "policy.toml 8 GiB",
            |d, _, _| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("policy.toml"))
                    .unwrap()
                    .set_len(8 << 30)
                    .unwrap();
            },
            false,
            "export-file-refused",
        ),
        (
            "log.vkey -> /dev/zero",
            |d, z, _| link(&d.join("log.vkey"), z),
            true,
            "export-file-refused",
        ),
        (
            "witnesses.vkey a FIFO",
            |d, _, _| fifo(&d.join("witnesses.vkey")),
            true,
            "export-file-refused",
        ),
        (
            "witnesses.vkey -> a file outside",
            |d, _, x| link(&d.join("witnesses.vkey"), x),
            true,
            "export-file-refused",
        ),
        (
            "log/ -> a directory outside",
            |d, _, x| {
                std::fs::remove_dir_all(d.join("log")).unwrap();
                link(&d.join("log"), x.parent().unwrap());
            },
            false,
            "export-file-refused",
        ),
        (
            "log/checkpoint -> /dev/zero",
            |d, z, _| link(&d.join("log/checkpoint"), z),
            false,
            "storage",
        ),
        (
            "log/checkpoint a FIFO",
            |d, _, _| fifo(&d.join("log/checkpoint")),
            false,
            "storage",
        ),
        (
            "every tile and bundle -> /dev/zero",
            |d, z, _| {
                for f in walk(&d.join("log/tile")) {
                    link(&f, z);
                }
            },
            false,
            "tiles-unreadable",
        ),
        (
            "every bundle -> an 8 GiB file",
            |d, _, x| {
                for f in walk(&d.join("log/tile/entries")) {
                    link(&f, x);
                }
            },
            false,
            "tiles-unreadable",
        ),
        (
            "a bundle missing",
            |d, _, _| {
                std::fs::remove_file(d.join("log/tile/entries/000")).unwrap();
            },
            false,
            "tiles-unreadable",
        ),
    ];
    for (what, attack, trust, code) in cases {
        let dir = tempfile::tempdir().unwrap();
        export(dir.path(), &h.entries);
        let keys = keys_of(dir.path());
        attack(dir.path(), zero, &huge);
        let mut args = if trust {
            vec!["--trust-keys-in-dir".to_owned()]
        } else {
            key_args(keys.path())
        };
        args.push("--json".into());
        let run = audit_bounded(dir.path(), &h, &args);
        assert_eq!(run.code(), Some(3), "{what}: {}", run.text());
        let j: Value = serde_json::from_slice(&run.output.stdout)
            .unwrap_or_else(|e| panic!("{what}: {e}: {}", run.text()));
        assert_eq!(j["verdict"], "log-does-not-verify", "{what}");
        assert_eq!(j["error"]["code"], code, "{what}: {j}");
        // The same as a table.
        args.pop();
        let run = audit_bounded(dir.path(), &h, &args);
        assert_eq!(run.code(), Some(3), "{what}: {}", run.text());
        assert!(
            String::from_utf8_lossy(&run.output.stdout).contains("no policy claim is reported"),
            "{what}: {}",
            run.text()
        );
    }
}

/// Every file below `dir`.
#[cfg(target_os = "linux")]
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[cfg(target_os = "linux")]
#[test]
fn aud_31_nothing_the_checkpoint_names_is_read_before_it_verifies() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let keys = keys_of(dir.path());
    // Every tile and bundle is a FIFO: reading any of them would fail the audit with
    // `tiles-unreadable` (or, through a regression, block it).
    for f in walk(&dir.path().join("log/tile")) {
        fifo(&f);
    }
    // A log key that did not sign the checkpoint: the checkpoint fails first.
    let other = outside_key(keys.path());
    let mut args = key_args(keys.path());
    args[1] = other.display().to_string();
    args.push("--json".into());
    let run = audit_bounded(dir.path(), &h, &args);
    assert_eq!(run.code(), Some(3), "{}", run.text());
    let j: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(j["error"]["code"], "bad-checkpoint", "{j}");
    // A witness whose cosignature is missing: the same.
    let mut args = key_args(keys.path());
    args.extend([
        "--witness".into(),
        other_witness(keys.path()).display().to_string(),
    ]);
    args.push("--json".into());
    let run = audit_bounded(dir.path(), &h, &args);
    assert_eq!(run.code(), Some(3), "{}", run.text());
    let j: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(j["error"]["code"], "missing-cosignature", "{j}");
    // Once the checkpoint verifies, the first tile read is refused.
    let mut args = key_args(keys.path());
    args.push("--json".into());
    let run = audit_bounded(dir.path(), &h, &args);
    assert_eq!(run.code(), Some(3), "{}", run.text());
    let j: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(j["error"]["code"], "tiles-unreadable", "{j}");
}

/// A log key of the synthetic log's name that is not its key, in a file under `dir`.
fn outside_key(dir: &Path) -> std::path::PathBuf {
    let other = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new(synthetic::LOG_NAME).unwrap(),
        minimis_crypto::SigningKey::from_seed(&[0x77; 32]).unwrap(),
    );
    let path = dir.join("other-log.vkey");
    std::fs::write(&path, format!("{}\n", other.verifier_key())).unwrap();
    path
}

/// A witness key that never cosigned, in a file under `dir`.
fn other_witness(dir: &Path) -> std::path::PathBuf {
    let w = minimis_log::Cosigner::new(
        minimis_log::KeyName::new("stranger.example/witness").unwrap(),
        minimis_crypto::SigningKey::from_seed(&[0x78; 32]).unwrap(),
    );
    let path = dir.join("other-witness.vkey");
    std::fs::write(&path, format!("{}\n", w.verifier_key())).unwrap();
    path
}

/// The synthetic history with the program's obligations entries appended: a review
/// decided in time, contested and overturned; a filing acknowledged; and, when `late`, a
/// review opened 20 days before the audit and never decided (`decide_days` is 14).
fn with_obligations(h: &History, late: bool) -> Vec<LogEntry> {
    use minimis_log::obligation_entry::ObligationEntry as O;
    use minimis_proto::obligations::{
        Addressee, AppealOutcome, Decision, ReasonId, ReviewCause, day_of,
    };
    use minimis_proto::{EpochId, FilingId, ParticipantTag, ReviewId};
    let today = day_of(h.now);
    let day = |n: i64| minimis_proto::UnixTime(today.0 - n * 86_400);
    let r1 = ReviewId::from_bytes([1; 16]);
    let mut entries = h.entries.clone();
    let o = [
        O::FilingReceived {
            tag: ParticipantTag::from_bytes([7; 32]),
            filing: FilingId::from_bytes([7; 32]),
            addressee: Addressee::Agency,
            day: day(30),
        },
        O::FilingAcknowledged {
            filing: FilingId::from_bytes([7; 32]),
            day: day(29),
        },
        O::ReviewOpened {
            review: r1,
            epoch: EpochId::new(1),
            cause: ReviewCause::Missed,
            day: day(30),
        },
        O::ReviewDecided {
            review: r1,
            decision: Decision::NotExcused,
            reason: ReasonId::new("not-explained").unwrap(),
            day: day(25),
        },
        O::DecisionContested {
            review: r1,
            day: day(20),
        },
        O::AppealDecided {
            review: r1,
            outcome: AppealOutcome::Overturned,
            reason: ReasonId::new("explained-by-participant").unwrap(),
            day: day(10),
        },
    ];
    entries.extend(o.into_iter().map(LogEntry::Obligation));
    if late {
        entries.push(LogEntry::Obligation(O::ReviewOpened {
            review: ReviewId::from_bytes([2; 16]),
            epoch: EpochId::new(1),
            cause: ReviewCause::Condition,
            day: day(20),
        }));
    }
    entries
}

#[test]
fn aud_43_aud_44_aud_47_obligations_are_checked_and_a_decision_past_its_deadline_exits_1() {
    let h = history();
    // In time: exit 0, the obligations' checks and figures in the table and the JSON.
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &with_obligations(&h, false));
    let out = audit(dir.path(), &h, &[]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{table}");
    for row in [
        "AUD-43",
        "AUD-44",
        "AUD-45",
        "AUD-46",
        "1 reviews, 1 decided, mean 5 days",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }
    let out = audit(dir.path(), &h, &["--json"]);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &j["counts"]["obligations"];
    assert_eq!(
        (&c["reviews_decided"], &c["contested"], &c["overturned"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{c}"
    );

    // A review opened 20 days ago and never decided: exit 1, naming it.
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &with_obligations(&h, true));
    let out = audit(dir.path(), &h, &[]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("decided never"), "{table}");
    let out = audit(dir.path(), &h, &["--json"]);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["exit"], 1);

    // A log without obligations entries shows none of these checks.
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let table = stdout(&audit(dir.path(), &h, &[]));
    assert!(!table.contains("AUD-43"), "{table}");
}
