//! `minimis audit DIR` as a user runs it: the export layout, the exit codes of AUD-12
//! (0 all claims hold, 1 a claim violated, 2 usage or I/O, 3 the log does not verify),
//! the state file between runs (AUD-2) and participant mode (AUD-11).

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

fn audit(dir: &Path, h: &History, extra: &[&str]) -> Output {
    crate::minimis()
        .arg("audit")
        .arg(dir)
        .args(["--now", &h.now.seconds().to_string()])
        .args(extra)
        .output()
        .unwrap()
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
    // An empty witnesses.vkey requires none.
    std::fs::write(dir.path().join("witnesses.vkey"), "").unwrap();
    assert_eq!(audit(dir.path(), &h, &[]).status.code(), Some(0));
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
    // No log at all.
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-key"));
    export(dir.path(), &h.entries);
    // A bad time.
    let out = crate::minimis()
        .arg("audit")
        .arg(dir.path())
        .args(["--now", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    // A missing tile: I/O, nothing verified.
    std::fs::remove_file(dir.path().join("log/tile/entries/000")).unwrap();
    let out = audit(dir.path(), &h, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
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
