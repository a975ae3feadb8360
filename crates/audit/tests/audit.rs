//! The auditor against tampered logs (exit 3, AUD-1 to AUD-3) and against logs with
//! planted policy violations (exit 1, AUD-4 to AUD-9), and participant mode (AUD-11).
//! Every test starts from a compliant synthetic history that audits clean.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use minimis_audit::layout::write_export;
use minimis_audit::synthetic::{self, History, Params, SignedLog};
use minimis_audit::{
    AuditFailure, Auditor, AuditorState, CheckId, Consistency, DirKeys, ExportDir, KeyOrigin,
    LogSource as _, Participant, Report, VerifyError, Violation,
};
use minimis_crypto::SigningKey;
use minimis_log::checkpoint::OpenCheckpointError;
use minimis_log::cosignature::CosignatureError;
use minimis_log::entry::{
    Access, CustodianId, HoldId, LegalBasisId, LegalHold, OfficerId, PurposeId, RecordSet,
};
use minimis_log::static_dir::DirReadError;
use minimis_log::tiles::{BundleError, MemoryStorageError, split_bundle};
use minimis_log::{
    AuditError, EntryDecodeError, KeyName, LogEntry, MemoryStorage, NoteSigner, ReadEntryError,
    TileStorage as _,
};
use minimis_proto::{
    ChallengeId, ChallengeKind, EpochId, ParticipantTag, PolicyHash, RecordId, Schedule, UnixTime,
    WindowSpan,
};

type Failure = AuditFailure<MemoryStorageError>;

fn history() -> History {
    History::generate(&Params::small())
}

fn auditor(log: &SignedLog, history: &History) -> Auditor {
    Auditor::new(log.log_key.clone(), history.now)
        .witness(log.witness_key.clone())
        .policy(history.policy.clone())
}

fn audit(entries: &[LogEntry], history: &History) -> Result<Report, Failure> {
    let log = SignedLog::build(entries, 1_000);
    auditor(&log, history).audit(log.storage(), None)
}

/// The violations of a log that verifies.
fn violations(entries: &[LogEntry], history: &History) -> Vec<Violation> {
    let report = audit(entries, history).unwrap();
    assert_eq!(report.exit_code(), u8::from(!report.holds()));
    report.violations().cloned().collect()
}

fn verify_error<E: std::error::Error + 'static>(
    result: Result<Report, AuditFailure<E>>,
) -> VerifyError<E> {
    match result {
        Err(AuditFailure::Verify(e)) => e,
        Err(other) => panic!("expected a verification failure, got {other}"),
        Ok(r) => panic!("expected a verification failure, got\n{}", r.to_table()),
    }
}

fn position(entries: &[LogEntry], f: impl Fn(&LogEntry) -> bool) -> usize {
    entries
        .iter()
        .position(f)
        .expect("the history has such an entry")
}

#[test]
fn aud_1_aud_3_aud_12_a_clean_log_verifies_every_claim_holds_and_exits_0() {
    let h = history();
    let log = SignedLog::build(&h.entries, 777);
    let report = auditor(&log, &h).audit(log.storage(), None).unwrap();
    assert!(report.holds(), "{}", report.to_table());
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.consistency(), Consistency::FirstRun);
    assert_eq!(report.counts().entries, h.entries.len() as u64);
    // Every check ran and covered something.
    let c = report.counts();
    assert_eq!(c.epochs_due, 16);
    assert!(c.participant_epochs >= 16 * 40);
    for id in CheckId::POLICY {
        assert!(report.check(id).unwrap().holds());
    }
    let table = report.to_table();
    assert!(table.contains("verdict: all claims hold"), "{table}");
    assert!(table.contains("exit 0"));
}

#[test]
fn aud_1_a_checkpoint_not_signed_by_the_log_key_does_not_verify() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    // The same name, another key: a checkpoint the log never signed.
    let impostor = NoteSigner::new(
        KeyName::new(synthetic::LOG_NAME).unwrap(),
        SigningKey::from_seed(&[9; 32]).unwrap(),
    );
    let forged = SignedLog::build(&h.entries, 1_000);
    let text = forged.log.checkpoint().checkpoint().to_text();
    let note = impostor.sign_note(&text).unwrap().to_string();
    let mut storage = log.storage();
    storage.write_checkpoint(&note).unwrap();
    let e = verify_error(auditor(&log, &h).audit(storage, None));
    assert!(
        matches!(
            e,
            VerifyError::Checkpoint(OpenCheckpointError::Signature(_))
        ),
        "{e}"
    );
    assert_eq!(e.requirement(), "AUD-1");
    assert_eq!(AuditFailure::Verify(e).exit_code(), 3);
}

/// The checkpoint text with the witness's cosignature line removed or altered.
fn without_cosignature(log: &SignedLog, alter: bool) -> MemoryStorage {
    let text = log.log.checkpoint().to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("\u{2014} {}", synthetic::WITNESS_NAME)))
        .unwrap();
    if alter {
        // Flip a bit of the signature, past the key ID and timestamp.
        let line = &mut lines[at];
        let sig = line.rsplit(' ').next().unwrap().to_owned();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut bytes = b64.decode(&sig).unwrap();
        bytes[20] ^= 1;
        *line = line.replace(&sig, &b64.encode(bytes));
    } else {
        lines.remove(at);
    }
    let mut storage = log.storage();
    storage
        .write_checkpoint(&(lines.join("\n") + "\n"))
        .unwrap();
    storage
}

#[test]
fn aud_1_a_missing_cosignature_does_not_verify() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let e = verify_error(auditor(&log, &h).audit(without_cosignature(&log, false), None));
    assert!(
        matches!(
            e,
            VerifyError::Cosignature(CosignatureError::Missing { .. })
        ),
        "{e}"
    );
    assert_eq!(e.code(), "missing-cosignature");
    // Without a required witness the same checkpoint verifies, if that is allowed.
    let alone = Auditor::new(log.log_key.clone(), h.now)
        .policy(h.policy.clone())
        .allow_no_witness();
    assert!(
        alone
            .audit(without_cosignature(&log, false), None)
            .unwrap()
            .holds()
    );
}

#[test]
fn aud_35_an_audit_with_no_witness_is_refused_unless_allowed_and_then_says_so() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    // A forged log whose checkpoint only the log key signed: with no witness required
    // and nothing said, the auditor refuses to vouch for it (exit 2).
    let alone = Auditor::new(log.log_key.clone(), h.now).policy(h.policy.clone());
    let refused = alone.audit(without_cosignature(&log, false), None);
    assert!(
        matches!(refused, Err(AuditFailure::NoWitness)),
        "{refused:?}"
    );
    assert_eq!(refused.unwrap_err().exit_code(), 2);
    // Allowed: the report says no witness was required.
    let report = alone
        .allow_no_witness()
        .audit(without_cosignature(&log, false), None)
        .unwrap();
    assert!(report.witness_keys().is_empty());
    assert_eq!(report.witnesses_required(), 0);
    assert!(
        report
            .to_table()
            .contains("witness     none required (--allow-no-witness)")
    );
    assert_eq!(report.to_json()["keys"]["witnesses"], serde_json::json!([]));
    // A witness pinned in the state on an earlier run counts: no need to allow anything.
    let state = first_run(&log, &h);
    let pinned = state.get(synthetic::LOG_NAME);
    let report = Auditor::new(log.log_key.clone(), h.now)
        .policy(h.policy.clone())
        .audit(log.storage(), pinned)
        .unwrap();
    assert_eq!(report.witness_keys().len(), 1);
    assert_eq!(report.witness_keys()[0].origin, KeyOrigin::State);
}

#[test]
fn aud_34_the_report_names_each_key_and_where_it_came_from() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let report = Auditor::new(log.log_key.clone(), h.now)
        .log_key_origin(KeyOrigin::File {
            path: "keys/log.vkey".into(),
        })
        .witness_from(
            log.witness_key.clone(),
            KeyOrigin::ExportDir {
                path: "export/witnesses.vkey".into(),
            },
        )
        .policy(h.policy.clone())
        .audit(log.storage(), None)
        .unwrap();
    let table = report.to_table();
    let id = |k: &minimis_log::VerifierKey| format!("{}+{}", k.name(), k.key_id());
    assert!(
        table.contains(&format!(
            "log key     {}   from keys/log.vkey\n",
            id(&log.log_key)
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "witness     {}   from export/witnesses.vkey, in the directory audited (--trust-keys-in-dir)\n",
            id(&log.witness_key)
        )),
        "{table}"
    );
    let j = report.to_json();
    assert_eq!(j["keys"]["log"]["key"], log.log_key.to_string());
    assert_eq!(j["keys"]["log"]["origin"]["kind"], "file");
    assert_eq!(j["keys"]["log"]["origin"]["path"], "keys/log.vkey");
    assert_eq!(
        j["keys"]["witnesses"][0]["key"],
        log.witness_key.to_string()
    );
    assert_eq!(j["keys"]["witnesses"][0]["origin"]["kind"], "export-dir");
    assert_eq!(j["keys"]["witnesses"][0]["pinned"], false);
    // On a later run against the state, each key says it was pinned.
    let state = first_run(&log, &h);
    let report = auditor(&log, &h)
        .audit(log.storage(), state.get(synthetic::LOG_NAME))
        .unwrap();
    assert!(report.log_key().pinned);
    assert!(report.witness_keys()[0].pinned);
    assert!(
        report
            .to_table()
            .contains("given by the caller; pinned in the state file")
    );
}

#[test]
fn aud_1_a_bad_cosignature_does_not_verify() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let e = verify_error(auditor(&log, &h).audit(without_cosignature(&log, true), None));
    assert!(
        matches!(e, VerifyError::Cosignature(CosignatureError::Bad { .. })),
        "{e}"
    );
    assert_eq!(e.code(), "bad-cosignature");
}

/// The log exported to a temporary directory, read back through the export layout.
fn exported(log: &SignedLog) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_export(
        dir.path(),
        &log.log,
        std::slice::from_ref(&log.witness_key),
        minimis_proto::DEFAULT_POLICY_TOML,
    )
    .unwrap();
    dir
}

fn audit_dir(dir: &Path, h: &History) -> Result<Report, AuditFailure<DirReadError>> {
    let export = ExportDir::read(dir, DirKeys::Trust).unwrap();
    let mut a = Auditor::new(export.log_key.clone().unwrap(), h.now);
    for w in export.witnesses.clone().unwrap() {
        a = a.witness(w);
    }
    a = a.policy(export.policy.clone().unwrap());
    a.audit(export.source().fetch().unwrap(), None)
}

#[test]
fn aud_3_layout_round_trips() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let dir = exported(&log);
    let export = ExportDir::read(dir.path(), DirKeys::Trust).unwrap();
    assert_eq!(export.log_key.as_ref(), Some(&log.log_key));
    assert_eq!(
        export.witnesses.as_deref(),
        Some(std::slice::from_ref(&log.witness_key))
    );
    assert_eq!(
        export.policy.as_ref().map(|p| p.hash()),
        Some(h.policy.hash())
    );
    assert!(audit_dir(dir.path(), &h).unwrap().holds());
}

#[test]
fn aud_3_a_modified_entry_does_not_verify() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let dir = exported(&log);
    let path = dir.path().join("log/tile/entries/003");
    let mut bundle = std::fs::read(&path).unwrap();
    // The last byte of the bundle's first entry (after its 2-byte length).
    let len = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
    bundle[1 + len] ^= 1;
    std::fs::write(&path, bundle).unwrap();
    let e = verify_error(audit_dir(dir.path(), &h));
    assert!(
        matches!(
            e,
            VerifyError::Tiles(AuditError::EntryHashMismatch { index: 768 })
        ),
        "{e}"
    );
    assert_eq!((e.requirement(), e.code()), ("AUD-3", "modified-entry"));
}

#[test]
fn aud_3_a_dropped_entry_does_not_verify() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let dir = exported(&log);
    let path = dir.path().join("log/tile/entries/002");
    let bundle = std::fs::read(&path).unwrap();
    let entries = split_bundle(&bundle, 256).unwrap();
    let mut without = Vec::new();
    for e in entries.iter().take(100).chain(entries.iter().skip(101)) {
        without.extend_from_slice(&(e.len() as u16).to_be_bytes());
        without.extend_from_slice(e);
    }
    std::fs::write(&path, without).unwrap();
    let e = verify_error(audit_dir(dir.path(), &h));
    assert!(
        matches!(
            e,
            VerifyError::Tiles(AuditError::Entries(ReadEntryError::Bundle {
                error: BundleError::EntryCount {
                    expected: 256,
                    found: 255
                },
                ..
            }))
        ),
        "{e}"
    );
    assert_eq!(e.code(), "entries-do-not-match-tiles");
}

#[test]
fn aud_3_a_checkpoint_over_another_root_does_not_verify() {
    // Validly signed by the log key, over a root the tiles do not give.
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let mut forged_entries = h.entries.clone();
    forged_entries.swap(10, 11);
    let forged = SignedLog::build(&forged_entries, 1_000);
    let mut storage = log.storage();
    storage
        .write_checkpoint(&forged.log.checkpoint().to_string())
        .unwrap();
    let e = verify_error(auditor(&log, &h).audit(storage, None));
    assert!(
        matches!(e, VerifyError::Tiles(AuditError::RootMismatch)),
        "{e}"
    );
}

#[test]
fn aud_3_an_entry_that_is_not_a_minimis_entry_does_not_verify() {
    let h = history();
    let mut log = SignedLog::build(&h.entries[..500], 1_000);
    log.append_bytes(&[b"\xffnot an entry".to_vec()]);
    let e = verify_error(auditor(&log, &h).audit(log.storage(), None));
    assert!(
        matches!(
            e,
            VerifyError::MalformedEntry {
                index: 500,
                error: EntryDecodeError::UnknownType { code: 0xff }
            }
        ),
        "{e}"
    );
}

/// Audits `log`, then returns the state a second run starts from.
fn first_run(log: &SignedLog, h: &History) -> AuditorState {
    let report = auditor(log, h).audit(log.storage(), None).unwrap();
    assert_eq!(report.consistency(), Consistency::FirstRun);
    let mut state = AuditorState::new();
    state.record(report.log_state().clone());
    // Through its JSON, as a state file.
    AuditorState::from_json(&state.to_json()).unwrap()
}

#[test]
fn aud_2_a_split_view_between_two_runs_is_detected() {
    let h = history();
    let seen = SignedLog::build(&h.entries, 1_000);
    let state = first_run(&seen, &h);
    // Same key, same size, one entry different: the log shows this auditor another tree.
    let mut other = h.entries.clone();
    other.swap(100, 101);
    let fork = SignedLog::build(&other, 1_000);
    let pinned = state.get(synthetic::LOG_NAME);
    let e = verify_error(auditor(&fork, &h).audit(fork.storage(), pinned));
    assert!(
        matches!(e, VerifyError::SplitView { size } if size == h.entries.len() as u64),
        "{e}"
    );
    assert_eq!((e.requirement(), e.code()), ("AUD-2", "split-view"));
    // The same log again is fine.
    let again = auditor(&seen, &h).audit(seen.storage(), pinned).unwrap();
    assert_eq!(again.consistency(), Consistency::Unchanged);
}

#[test]
fn aud_2_a_rewritten_history_is_detected() {
    let h = history();
    let seen = SignedLog::build(&h.entries[..10_000], 1_000);
    let state = first_run(&seen, &h);
    // A larger tree whose first 10,000 entries differ from those verified.
    let mut rewritten = h.entries.clone();
    rewritten.swap(5_000, 5_001);
    let fork = SignedLog::build(&rewritten, 1_000);
    let e = verify_error(auditor(&fork, &h).audit(fork.storage(), state.get(synthetic::LOG_NAME)));
    assert!(
        matches!(e, VerifyError::RewrittenHistory { pinned: 10_000, .. }),
        "{e}"
    );
    assert_eq!(e.code(), "rewritten-history");
}

#[test]
fn aud_2_a_rollback_is_detected() {
    let h = history();
    let seen = SignedLog::build(&h.entries, 1_000);
    let state = first_run(&seen, &h);
    let older = SignedLog::build(&h.entries[..9_000], 1_000);
    let e =
        verify_error(auditor(&older, &h).audit(older.storage(), state.get(synthetic::LOG_NAME)));
    assert!(
        matches!(e, VerifyError::Rollback { offered: 9_000, .. }),
        "{e}"
    );
}

#[test]
fn aud_2_an_honest_extension_verifies_and_moves_the_state() {
    let h = history();
    let mut log = SignedLog::build(&h.entries[..9_000], 1_000);
    let state = first_run(&log, &h);
    log.append(&h.entries[9_000..], 1_000);
    let report = auditor(&log, &h)
        .audit(log.storage(), state.get(synthetic::LOG_NAME))
        .unwrap();
    assert_eq!(report.consistency(), Consistency::Extends { from: 9_000 });
    assert!(report.holds(), "{}", report.to_table());
    assert_eq!(report.log_state().tree_size(), h.entries.len() as u64);
}

#[test]
fn aud_2_pinned_keys_stay_required() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let state = first_run(&log, &h);
    let pinned = state.get(synthetic::LOG_NAME);
    // Dropping the witness from the configuration does not drop the requirement.
    let forgetful = Auditor::new(log.log_key.clone(), h.now).policy(h.policy.clone());
    let e = verify_error(forgetful.audit(without_cosignature(&log, false), pinned));
    assert!(
        matches!(
            e,
            VerifyError::Cosignature(CosignatureError::Missing { .. })
        ),
        "{e}"
    );
    // Another key under the log's name is refused.
    let other = NoteSigner::new(
        KeyName::new(synthetic::LOG_NAME).unwrap(),
        SigningKey::from_seed(&[3; 32]).unwrap(),
    );
    let e = verify_error(Auditor::new(other.verifier_key(), h.now).audit(log.storage(), pinned));
    assert!(matches!(e, VerifyError::LogKeyChanged { .. }), "{e}");
}

#[test]
fn aud_2_the_state_file_round_trips_and_refuses_a_forged_checkpoint() {
    let h = history();
    let log = SignedLog::build(&h.entries[..2_000], 1_000);
    let state = first_run(&log, &h);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    assert_eq!(AuditorState::load(&path).unwrap(), None);
    state.save(&path).unwrap();
    assert_eq!(AuditorState::load(&path).unwrap(), Some(state.clone()));
    let json = std::fs::read_to_string(&path).unwrap();
    let forged = json.replace("\\n2000\\n", "\\n1999\\n");
    assert_ne!(forged, json);
    assert!(AuditorState::from_json(&forged).is_err());
    assert!(AuditorState::from_json("{}").is_err());
}

// ---- AUD-4: challenges ----------------------------------------------------------------

/// The first scheduled challenge of the history: its position, tag, epoch and window.
fn first_challenge(entries: &[LogEntry]) -> (usize, ParticipantTag, EpochId, WindowSpan) {
    let at = position(entries, |e| matches!(e, LogEntry::ChallengeIssued { .. }));
    let LogEntry::ChallengeIssued {
        tag, epoch, window, ..
    } = &entries[at]
    else {
        unreachable!()
    };
    (at, *tag, *epoch, *window)
}

fn challenge(
    tag: ParticipantTag,
    epoch: EpochId,
    kind: ChallengeKind,
    issued_at: UnixTime,
    window: WindowSpan,
    n: u8,
) -> LogEntry {
    LogEntry::ChallengeIssued {
        tag,
        challenge: ChallengeId::from_bytes([n; 16]),
        epoch,
        kind,
        issued_at,
        window,
    }
}

#[test]
fn aud_4_too_many_challenges_in_one_window_are_detected() {
    let h = history();
    let (at, tag, epoch, window) = first_challenge(&h.entries);
    let mut entries = h.entries.clone();
    // Three ad-hoc challenges on top of the scheduled one: four in a window, cap 3.
    for n in 0..3u8 {
        entries.insert(
            at + 1,
            challenge(
                tag,
                epoch,
                ChallengeKind::AdHoc,
                window.start.plus(60 * i64::from(n)),
                window,
                n,
            ),
        );
    }
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::TooManyInWindow {
            tag,
            epoch,
            start: window.start,
            count: 4,
            cap: 3
        }]
    );
    assert_eq!(v[0].requirement(), "AUD-4");
}

#[test]
fn aud_4_covert_tracking_by_many_small_windows_is_detected() {
    // One challenge in each of 14 extra one-hour windows, at night: every window is
    // within the caps, but the epoch holds more challenges than any schedule allows.
    let h = history();
    let (at, tag, epoch, _) = first_challenge(&h.entries);
    let start = h.policy.epoch_start(epoch);
    let mut entries = h.entries.clone();
    for day in 0..7i64 {
        for hour in [2i64, 22] {
            let open = start.plus(day * 86_400 + hour * 3_600);
            let window = WindowSpan {
                start: open,
                end: open.plus(3_600),
            };
            entries.insert(
                at + 1,
                challenge(
                    tag,
                    epoch,
                    ChallengeKind::Scheduled,
                    open.plus(10),
                    window,
                    hour as u8,
                ),
            );
        }
    }
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::TooManyInEpoch {
            tag,
            epoch,
            count: 28,
            cap: 27
        }]
    );
}

#[test]
fn aud_4_too_many_adhoc_challenges_are_detected() {
    let h = history();
    let (at, tag, epoch, window) = first_challenge(&h.entries);
    let mut entries = h.entries.clone();
    // One ad-hoc challenge in each of the first five daily windows: 5, cap 4.
    for day in 0..5i64 {
        let w = WindowSpan {
            start: window.start.plus(day * 86_400),
            end: window.end.plus(day * 86_400),
        };
        entries.insert(
            at + 1,
            challenge(
                tag,
                epoch,
                ChallengeKind::AdHoc,
                w.start.plus(3_000),
                w,
                day as u8,
            ),
        );
    }
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::TooManyAdHoc {
            tag,
            epoch,
            count: 5,
            cap: 4
        }]
    );
}

#[test]
fn aud_4_challenges_outside_their_window_epoch_or_schedule_shape_are_detected() {
    let h = history();
    let (at, tag, epoch, window) = first_challenge(&h.entries);
    let mut entries = h.entries.clone();
    let outside = window.end.plus(60);
    let long = WindowSpan {
        start: window.start.plus(3 * 86_400),
        end: window.start.plus(3 * 86_400 + 26 * 3_600),
    };
    let overlapping = WindowSpan {
        start: window.start.plus(3_600),
        end: window.end.plus(3_600),
    };
    let next_epoch = h.policy.epoch_end(epoch).plus(3_600);
    let later = WindowSpan {
        start: next_epoch,
        end: next_epoch.plus(3_600),
    };
    let planted = [
        challenge(tag, epoch, ChallengeKind::AdHoc, outside, window, 1),
        challenge(tag, epoch, ChallengeKind::Scheduled, long.start, long, 2),
        challenge(
            tag,
            epoch,
            ChallengeKind::Scheduled,
            window.start.plus(30),
            window,
            3,
        ),
        challenge(
            tag,
            epoch,
            ChallengeKind::AdHoc,
            overlapping.start,
            overlapping,
            4,
        ),
        challenge(tag, epoch, ChallengeKind::AdHoc, later.start, later, 5),
    ];
    for (i, c) in planted.into_iter().enumerate() {
        entries.insert(at + 1 + i, c);
    }
    let i = |k: usize| (at + 1 + k) as u64;
    let v = violations(&entries, &h);
    for want in [
        Violation::ChallengeOutsideWindow {
            index: i(0),
            issued_at: outside,
            start: window.start,
            end: window.end,
        },
        Violation::WindowTooLong {
            index: i(1),
            seconds: 26 * 3_600,
        },
        Violation::ScheduledTwiceInWindow {
            tag,
            epoch,
            start: window.start,
            count: 2,
        },
        Violation::OverlappingWindows {
            tag,
            epoch,
            first: window.start,
            second: overlapping.start,
        },
        Violation::ChallengeInWrongEpoch {
            index: i(4),
            epoch,
            issued_at: later.start,
        },
    ] {
        assert!(v.contains(&want), "{want:?} not in {v:#?}");
    }
    assert!(v.iter().all(|x| x.check() == CheckId::Challenges), "{v:#?}");
}

// ---- AUD-5: destruction and purge -----------------------------------------------------

fn destruction_of(entries: &[LogEntry], custodian: &str, e: u32) -> usize {
    position(entries, |x| {
        matches!(x, LogEntry::EpochKeyDestroyed { custodian: c, epoch, .. }
            if c.as_str() == custodian && *epoch == EpochId::new(e))
    })
}

#[test]
fn aud_5_a_late_key_destruction_is_detected() {
    let h = history();
    let mut entries = h.entries.clone();
    let at = destruction_of(&entries, "agency", 2_952);
    let deadline = h.policy.content_deadline(EpochId::new(2_952));
    let late = deadline.plus(86_400);
    entries[at] = LogEntry::EpochKeyDestroyed {
        custodian: CustodianId::new("agency").unwrap(),
        epoch: EpochId::new(2_952),
        destroyed_at: late,
    };
    assert_eq!(
        violations(&entries, &h),
        [Violation::KeyDestroyedLate {
            index: at as u64,
            custodian: "agency".into(),
            epoch: EpochId::new(2_952),
            deadline,
            destroyed_at: late
        }]
    );
}

#[test]
fn aud_5_a_missing_key_destruction_is_detected() {
    let h = history();
    let mut entries = h.entries.clone();
    entries.remove(destruction_of(&entries, "oversight", 2_955));
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::KeyNotDestroyed {
            custodian: "oversight".into(),
            epoch: EpochId::new(2_955),
            deadline: h.policy.content_deadline(EpochId::new(2_955)),
        }]
    );
    assert_eq!(v[0].check(), CheckId::KeysDestroyed);
    // Before the deadline, nothing is due.
    let early = History {
        now: h.policy.content_deadline(EpochId::new(2_950)).plus(-1),
        ..h.clone()
    };
    let report = audit(&entries, &early).unwrap();
    assert_eq!(report.counts().epochs_due, 0);
    assert!(report.check(CheckId::KeysDestroyed).unwrap().holds());
}

fn purge_of(entries: &[LogEntry], e: u32) -> usize {
    position(
        entries,
        |x| matches!(x, LogEntry::RecordsPurged { epoch, .. } if *epoch == EpochId::new(e)),
    )
}

#[test]
fn aud_5_missing_late_and_partial_purges_are_detected() {
    let h = history();
    let epoch = EpochId::new(2_953);
    let deadline = h.policy.content_deadline(epoch);
    // Missing.
    let mut entries = h.entries.clone();
    let at = purge_of(&entries, 2_953);
    let LogEntry::RecordsPurged {
        count, record_set, ..
    } = entries.remove(at)
    else {
        unreachable!()
    };
    let v = violations(&entries, &h);
    assert!(
        matches!(v.as_slice(), [Violation::RecordsNotPurged { epoch: e, count: n, .. }] if *e == epoch && *n == count),
        "{v:#?}"
    );
    // Late.
    let mut entries = h.entries.clone();
    let late = deadline.plus(3_600);
    entries[at] = LogEntry::RecordsPurged {
        epoch,
        count,
        record_set,
        purged_at: late,
    };
    assert_eq!(
        violations(&entries, &h),
        [Violation::PurgedLate {
            index: at as u64,
            epoch,
            deadline,
            purged_at: late
        }]
    );
    // A record set that is not the epoch's records: one record kept back.
    let mut entries = h.entries.clone();
    let records: Vec<RecordId> = h
        .entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::CheckInReceived {
                record, epoch: x, ..
            } if *x == epoch => Some(*record),
            _ => None,
        })
        .collect();
    let (fewer, set) = minimis_log::entry::RecordSetHash::of(&records[1..]);
    entries[at] = LogEntry::RecordsPurged {
        epoch,
        count: fewer,
        record_set: set,
        purged_at: deadline.plus(-3_600),
    };
    let v = violations(&entries, &h);
    assert!(
        v.contains(&Violation::PurgeMismatch {
            index: at as u64,
            epoch,
            expected: count,
            count: fewer
        }),
        "{v:#?}"
    );
}

/// The violations of the ledger check, auditing `entries` at `now`.
#[test]
fn aud_5_aud_32_a_record_received_twice_is_a_violation_and_counted_once() {
    let h = history();
    let mut entries = h.entries.clone();
    // The first check-in of epoch 2953, logged again later in the same epoch: the
    // purge, which names it once, still matches.
    let first = entries
        .iter()
        .position(|e| matches!(e, LogEntry::CheckInReceived { epoch, .. } if epoch.get() == 2_953))
        .unwrap();
    let again = entries[first].clone();
    let at = first + 10;
    entries.insert(at, again);
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::RecordLoggedTwice {
            index: at as u64,
            first_index: first as u64
        }]
    );
}

fn ledger_violations(entries: &[LogEntry], h: &History, now: UnixTime) -> Vec<Violation> {
    let log = SignedLog::build(entries, 1_000);
    let report = Auditor::new(log.log_key.clone(), now)
        .witness(log.witness_key.clone())
        .policy(h.policy.clone())
        .audit(log.storage(), None)
        .unwrap();
    report
        .check(CheckId::LedgersPurged)
        .unwrap()
        .violations
        .clone()
}

#[test]
fn aud_5_ret_20_a_closed_enrollments_ledger_must_be_purged_by_its_deadline() {
    let h = history();
    let (_, tag, epoch, _) = first_challenge(&h.entries);
    let deadline = h
        .policy
        .epoch_end(epoch)
        .plus(i64::from(h.policy.ledger_retention_days()) * 86_400);
    let closed = LogEntry::EnrollmentClosed { tag, epoch };
    let purged = |at: UnixTime| LogEntry::LedgerPurged {
        tag,
        epoch,
        purged_at: at,
    };
    let mut entries = h.entries.clone();
    entries.push(closed.clone());
    // Not due before the deadline; due, and missing, after it.
    assert_eq!(ledger_violations(&entries, &h, deadline), []);
    assert_eq!(
        ledger_violations(&entries, &h, deadline.plus(1)),
        [Violation::LedgerNotPurged {
            tag,
            epoch,
            deadline
        }]
    );
    // Purged by the deadline: holds; after it: late.
    let mut on_time = entries.clone();
    on_time.push(purged(deadline));
    assert_eq!(ledger_violations(&on_time, &h, deadline.plus(86_400)), []);
    let log = SignedLog::build(&on_time, 1_000);
    let report = Auditor::new(log.log_key.clone(), deadline.plus(86_400))
        .witness(log.witness_key.clone())
        .policy(h.policy.clone())
        .audit(log.storage(), None)
        .unwrap();
    assert_eq!(report.counts().ledgers_due, 1);
    let mut late = entries.clone();
    late.push(purged(deadline.plus(1)));
    let index = late.len() as u64 - 1;
    assert_eq!(
        ledger_violations(&late, &h, deadline.plus(86_400)),
        [Violation::LedgerPurgedLate {
            index,
            tag,
            epoch,
            deadline,
            purged_at: deadline.plus(1)
        }]
    );
    // A purge no closing explains, and a second purge of one closing.
    let mut stray = h.entries.clone();
    stray.push(purged(deadline));
    let index = stray.len() as u64 - 1;
    assert_eq!(
        ledger_violations(&stray, &h, deadline.plus(86_400)),
        [Violation::LedgerPurgeUnexplained { index, tag, epoch }]
    );
    let mut twice = on_time.clone();
    twice.push(purged(deadline));
    let index = twice.len() as u64 - 1;
    assert_eq!(
        ledger_violations(&twice, &h, deadline.plus(86_400)),
        [Violation::LedgerPurgeUnexplained { index, tag, epoch }]
    );
}

#[test]
fn aud_5_aud_9_records_on_hold_are_exempt_until_the_hold_ends() {
    let h = history();
    let epoch = EpochId::new(2_953);
    let records: Vec<RecordId> = h
        .entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::CheckInReceived {
                record, epoch: x, ..
            } if *x == epoch => Some(*record),
            _ => None,
        })
        .collect();
    let held = records[0];
    let at = purge_of(&h.entries, 2_953);
    let deadline = h.policy.content_deadline(epoch);
    let hold = LegalHold {
        hold: HoldId::from_bytes([0xee; 16]),
        records: RecordSet::new([held]).unwrap(),
        legal_basis: LegalBasisId::new("court-order").unwrap(),
        expires: deadline.plus(10 * 86_400),
    };
    // The hold is placed before the purge, which leaves the held record out; the
    // record is purged after the hold is released, before it expires.
    let mut entries = h.entries.clone();
    let (count, record_set) = minimis_log::entry::RecordSetHash::of(&records[1..]);
    entries[at] = LogEntry::RecordsPurged {
        epoch,
        count,
        record_set,
        purged_at: deadline.plus(-3_600),
    };
    entries.insert(at, LogEntry::LegalHoldPlaced(hold.clone()));
    let mut tail = vec![LogEntry::LegalHoldReleased(hold.clone())];
    let (one, one_set) = minimis_log::entry::RecordSetHash::of(&[held]);
    tail.push(LogEntry::RecordsPurged {
        epoch,
        count: one,
        record_set: one_set,
        purged_at: deadline.plus(5 * 86_400),
    });
    let mut with_purge = entries.clone();
    with_purge.extend(tail.clone());
    let later = History {
        now: deadline.plus(20 * 86_400),
        ..h.clone()
    };
    assert_eq!(violations(&with_purge, &later), []);
    // Never purged after the hold expired: a violation once the expiry has passed.
    let mut released_only = entries.clone();
    released_only.push(tail[0].clone());
    let v = violations(&released_only, &later);
    assert!(
        matches!(v.as_slice(), [Violation::RecordsNotPurged { count: 1, .. }]),
        "{v:#?}"
    );
    // While the hold is in force the record is exempt.
    let during = History {
        now: deadline.plus(86_400),
        ..h.clone()
    };
    assert_eq!(violations(&entries, &during), []);
    // Purged after the hold expired: late.
    let mut late = released_only;
    late.push(LogEntry::RecordsPurged {
        epoch,
        count: one,
        record_set: one_set,
        purged_at: deadline.plus(11 * 86_400),
    });
    let v = violations(&late, &later);
    assert!(
        matches!(v.as_slice(), [Violation::PurgedLate { .. }]),
        "{v:#?}"
    );
}

// ---- AUD-6, AUD-7: accesses -----------------------------------------------------------

/// The position of the first agency access, and the access.
fn first_access(entries: &[LogEntry]) -> (usize, Access) {
    let at = position(
        entries,
        |e| matches!(e, LogEntry::ContentAccessed(a) if a.custodian.as_str() == "agency"),
    );
    let LogEntry::ContentAccessed(a) = &entries[at] else {
        unreachable!()
    };
    (at, a.clone())
}

#[test]
fn aud_6_an_access_without_an_allowed_purpose_or_basis_is_detected() {
    let h = history();
    let (at, a) = first_access(&h.entries);
    let mut entries = h.entries.clone();
    entries.insert(
        at,
        LogEntry::ContentAccessed(Access {
            purpose: PurposeId::new("curiosity").unwrap(),
            legal_basis: LegalBasisId::new("none").unwrap(),
            ..a.clone()
        }),
    );
    entries.insert(
        at,
        LogEntry::ContentAccessed(Access {
            custodian: CustodianId::new("operator").unwrap(),
            ..a
        }),
    );
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [
            Violation::UnknownCustodian {
                index: at as u64,
                custodian: "operator".into()
            },
            Violation::PurposeNotAllowed {
                index: at as u64 + 1,
                purpose: "curiosity".into()
            },
            Violation::LegalBasisNotAllowed {
                index: at as u64 + 1,
                legal_basis: "none".into()
            },
        ]
    );
    assert!(v.iter().all(|x| x.requirement() == "AUD-6"));
}

#[test]
fn aud_6_an_access_after_key_destruction_is_detected() {
    let h = history();
    let (_, a) = first_access(&h.entries);
    let destroyed = destruction_of(&h.entries, "agency", a.epoch.get());
    let mut entries = h.entries.clone();
    entries.insert(destroyed + 1, LogEntry::ContentAccessed(a.clone()));
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [Violation::AccessAfterDestruction {
            index: destroyed as u64 + 1,
            epoch: a.epoch,
            destroyed_index: destroyed as u64
        }]
    );
}

#[test]
fn aud_6_an_oversight_access_with_no_agency_access_is_detected() {
    let h = history();
    let (at, a) = first_access(&h.entries);
    let mut entries = h.entries.clone();
    // The oversight custodian opens for an officer the agency never logged.
    entries.insert(
        at,
        LogEntry::ContentAccessed(Access {
            custodian: CustodianId::new("oversight").unwrap(),
            officer: OfficerId::new("officer-0000").unwrap(),
            ..a.clone()
        }),
    );
    // And the agency's entry removed for an access the oversight custodian logged.
    let agency: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            LogEntry::ContentAccessed(x) if x.custodian.as_str() == "agency" => Some(i),
            _ => None,
        })
        .collect();
    entries.remove(agency[3]);
    let v = violations(&entries, &h);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert_eq!(v[0], Violation::OversightWithoutAgency { index: at as u64 });
    assert!(matches!(v[1], Violation::OversightWithoutAgency { .. }));
    assert_eq!(v[0].check(), CheckId::AccessOrder);
}

#[test]
fn aud_7_accesses_are_counted_by_purpose_basis_officer_and_denials_by_reason() {
    let h = history();
    let report = audit(&h.entries, &h).unwrap();
    let c = report.counts();
    let mut purposes = std::collections::BTreeMap::<String, u64>::new();
    let mut officers = std::collections::BTreeMap::<String, u64>::new();
    let mut reasons = std::collections::BTreeMap::<&str, u64>::new();
    for e in &h.entries {
        match e {
            LogEntry::ContentAccessed(a) => {
                *purposes.entry(a.purpose.to_string()).or_default() += 1;
                *officers.entry(a.officer.to_string()).or_default() += 1;
            }
            LogEntry::AccessDenied { reason, .. } => {
                *reasons.entry(reason.as_str()).or_default() += 1
            }
            _ => {}
        }
    }
    assert_eq!(c.accesses_by_purpose, purposes);
    assert_eq!(c.accesses_by_officer, officers);
    assert_eq!(c.denials_by_reason, reasons);
    assert!(purposes.len() > 1 && officers.len() > 1 && reasons.len() > 1);
    assert_eq!(
        c.accesses_by_legal_basis.get("release-conditions").copied(),
        Some(purposes.values().sum())
    );
    let table = report.to_table();
    assert!(table.contains("accesses by officer"), "{table}");
    assert!(table.contains("not-in-caseload"), "{table}");
}

// ---- AUD-8, AUD-9 ---------------------------------------------------------------------

#[test]
fn aud_8_enrollments_must_cite_a_policy_published_before_them() {
    let h = history();
    let mut entries = h.entries.clone();
    let at = position(&entries, |e| matches!(e, LogEntry::EnrollmentOpened { .. }));
    let LogEntry::EnrollmentOpened { tag, epoch, .. } = entries[at].clone() else {
        unreachable!()
    };
    let unpublished = PolicyHash::from_bytes([0xab; 32]);
    entries.insert(
        at,
        LogEntry::EnrollmentOpened {
            tag,
            epoch,
            policy: unpublished,
        },
    );
    assert_eq!(
        violations(&entries, &h),
        [Violation::PolicyNotPublished {
            index: at as u64,
            policy: unpublished
        }]
    );
    // A policy published after the enrollment does not count.
    let mut late = h.entries.clone();
    let publish = late.remove(0);
    late.insert(at, publish);
    let v = violations(&late, &h);
    assert!(
        v.contains(&Violation::PolicyNotPublished {
            index: 0,
            policy: h.policy.hash()
        }),
        "{v:#?}"
    );
    // No policy at all.
    let none: Vec<LogEntry> = h.entries[1..].to_vec();
    assert!(violations(&none, &h).contains(&Violation::NoPolicyPublished));
}

#[test]
fn aud_8_a_published_policy_the_auditor_lacks_stops_the_audit_with_exit_2() {
    let h = history();
    let mut entries = h.entries.clone();
    let other = PolicyHash::from_bytes([0x77; 32]);
    entries.insert(1, LogEntry::PolicyPublished { policy: other });
    let failure = audit(&entries, &h).unwrap_err();
    assert!(matches!(failure, AuditFailure::MissingPolicy { policy } if policy == other));
    assert_eq!(failure.exit_code(), 2);
}

#[test]
fn aud_9_legal_holds_must_be_placed_once_and_released_as_placed() {
    let h = history();
    let placed = position(&h.entries, |e| matches!(e, LogEntry::LegalHoldPlaced(_)));
    let LogEntry::LegalHoldPlaced(hold) = h.entries[placed].clone() else {
        unreachable!()
    };
    let released = position(&h.entries, |e| matches!(e, LogEntry::LegalHoldReleased(_)));
    let mut entries = h.entries.clone();
    let stranger = LegalHold {
        hold: HoldId::from_bytes([1; 16]),
        ..hold.clone()
    };
    let changed = LegalHold {
        expires: hold.expires.plus(86_400),
        ..hold.clone()
    };
    let unlawful = LegalHold {
        hold: HoldId::from_bytes([2; 16]),
        legal_basis: LegalBasisId::new("because").unwrap(),
        ..hold.clone()
    };
    // After the genuine release: a second release, a release of a hold never placed,
    // a release that differs from the placement, a placement again, an unlawful hold.
    let tail = [
        LogEntry::LegalHoldReleased(hold.clone()),
        LogEntry::LegalHoldReleased(stranger),
        LogEntry::LegalHoldReleased(changed),
        LogEntry::LegalHoldPlaced(hold.clone()),
        LogEntry::LegalHoldPlaced(unlawful),
    ];
    for (i, e) in tail.into_iter().enumerate() {
        entries.insert(released + 1 + i, e);
    }
    let i = |k: usize| (released + 1 + k) as u64;
    let v = violations(&entries, &h);
    assert_eq!(
        v,
        [
            Violation::HoldReleasedTwice {
                index: i(0),
                first_index: released as u64
            },
            Violation::HoldReleaseUnknown { index: i(1) },
            Violation::HoldReleaseMismatch {
                index: i(2),
                placed_index: placed as u64
            },
            Violation::HoldPlacedTwice {
                index: i(3),
                first_index: placed as u64
            },
            Violation::HoldBasisNotAllowed {
                index: i(4),
                legal_basis: "because".into()
            },
        ]
    );
}

// ---- AUD-10, AUD-11: participant mode --------------------------------------------------

/// The synthetic schedule: every day, 08:00 to 10:00 and 13:00 to 15:00 UTC.
fn schedule() -> Schedule {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
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
    serde_json::from_str(&format!(
        r#"{{"time_zone":"UTC","windows":[{}],"daily_cap":3,"adhoc_cap_30d":4}}"#,
        windows.join(",")
    ))
    .unwrap()
}

fn participant(i: u32) -> Participant {
    let (key, pseudonym) = synthetic::participant(i);
    Participant::new(key, pseudonym)
}

#[test]
fn aud_11_participant_mode_lists_my_entries_and_checks_my_schedule() {
    let h = history();
    let (key, pseudonym) = synthetic::participant(7);
    let mine: std::collections::HashSet<ParticipantTag> = (2_950..2_966)
        .map(|e| key.tag(&pseudonym, EpochId::new(e)))
        .collect();
    let (mut challenges, mut check_ins) = (0u64, 0u64);
    let mut records = std::collections::HashSet::new();
    for e in &h.entries {
        match e {
            LogEntry::ChallengeIssued { tag, .. } if mine.contains(tag) => challenges += 1,
            LogEntry::CheckInReceived { tag, record, .. } if mine.contains(tag) => {
                check_ins += 1;
                records.insert(*record);
            }
            _ => {}
        }
    }
    let log = SignedLog::build(&h.entries, 1_000);
    let report = auditor(&log, &h)
        .participant(participant(7).with_schedule(schedule()))
        .audit(log.storage(), None)
        .unwrap();
    assert!(report.holds(), "{}", report.to_table());
    let p = report.participant().unwrap();
    assert_eq!((p.challenges, p.check_ins), (challenges, check_ins));
    assert!(p.schedule_checked);
    assert_eq!(
        p.entries
            .iter()
            .filter(|e| e.entry == "enrollment-opened")
            .count(),
        1
    );
    assert_eq!(
        p.entries
            .iter()
            .filter(|e| e.entry == "epoch-key-destroyed")
            .count(),
        32
    );
    assert!(report.check(CheckId::ParticipantSchedule).unwrap().holds());

    // A challenge at 03:00, in a window of its own: within the policy's caps, outside
    // my schedule. And an access to one of my records is listed.
    let (at, a) = first_access(&h.entries);
    let epoch = a.epoch;
    let tag = key.tag(&pseudonym, epoch);
    let night = h.policy.epoch_start(epoch).plus(2 * 86_400 + 3 * 3_600);
    let mut entries = h.entries.clone();
    let my_record = *h
        .entries
        .iter()
        .find_map(|e| match e {
            LogEntry::CheckInReceived {
                tag: t,
                record,
                epoch: x,
                ..
            } if *t == tag && *x == epoch => Some(record),
            _ => None,
        })
        .unwrap();
    entries.insert(
        at,
        LogEntry::ContentAccessed(Access {
            records: RecordSet::new([my_record]).unwrap(),
            ..a.clone()
        }),
    );
    entries.insert(
        at,
        challenge(
            tag,
            epoch,
            ChallengeKind::AdHoc,
            night,
            WindowSpan {
                start: night,
                end: night.plus(3_600),
            },
            9,
        ),
    );
    let log = SignedLog::build(&entries, 1_000);
    let report = auditor(&log, &h)
        .participant(participant(7).with_schedule(schedule()))
        .audit(log.storage(), None)
        .unwrap();
    let v: Vec<&Violation> = report.violations().collect();
    assert_eq!(
        v,
        [&Violation::OutsideSchedule {
            index: at as u64,
            issued_at: night,
            rule: "outside_window"
        }]
    );
    assert_eq!(report.exit_code(), 1);
    let p = report.participant().unwrap();
    assert!(p.accesses >= 1);
    assert!(
        p.entries
            .iter()
            .any(|e| e.index == at as u64 + 1 && e.entry == "content-accessed")
    );
    // Another participant sees none of it.
    let other = auditor(&log, &h)
        .participant(participant(8))
        .audit(log.storage(), None)
        .unwrap();
    assert!(
        !other
            .participant()
            .unwrap()
            .entries
            .iter()
            .any(|e| e.index == at as u64)
    );
}

#[test]
fn aud_10_participant_mode_output_holds_neither_the_tag_key_nor_the_pseudonym() {
    let h = history();
    let log = SignedLog::build(&h.entries, 1_000);
    let (key, pseudonym) = synthetic::participant(3);
    let secret = hex::encode(key.expose_secret());
    let report = auditor(&log, &h)
        .participant(Participant::from_hex(&secret, &pseudonym.to_hex()).unwrap())
        .audit(log.storage(), None)
        .unwrap();
    assert!(report.participant().unwrap().entries.len() > 100);
    let table = report.to_table();
    let json = report.to_json().to_string();
    for text in [&table, &json] {
        assert!(!text.contains(&secret));
        assert!(!text.contains(&pseudonym.to_hex()));
    }
    assert!(Participant::from_hex("zz", &pseudonym.to_hex()).is_err());
    assert!(Participant::from_hex(&secret, "00").is_err());
    assert!(
        !format!(
            "{:?}",
            Participant::from_hex(&secret, &pseudonym.to_hex()).unwrap()
        )
        .contains(&secret)
    );
}

#[test]
fn aud_12_json_names_every_check_with_its_requirements_and_violations() {
    let h = history();
    let (at, tag, epoch, window) = first_challenge(&h.entries);
    let mut entries = h.entries.clone();
    for n in 0..3u8 {
        entries.insert(
            at + 1,
            challenge(tag, epoch, ChallengeKind::AdHoc, window.start, window, n),
        );
    }
    let report = audit(&entries, &h).unwrap();
    let j = report.to_json();
    assert_eq!(j["verdict"], "claim-violated");
    assert_eq!(j["exit"], 1);
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3 + CheckId::POLICY.len());
    for c in checks {
        assert!(
            c["requirements"][0].as_str().unwrap().starts_with("AUD-"),
            "{c}"
        );
    }
    let failed: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| c["result"] == "violated")
        .collect();
    assert_eq!(failed.len(), 1);
    let v = &failed[0]["violations"][0];
    assert_eq!(v["code"], "too-many-in-window");
    assert_eq!(v["requirement"], "AUD-4");
    assert_eq!(v["count"], 4);
    assert!(v["message"].as_str().unwrap().contains("at most 3"));
    let table = report.to_table();
    assert!(table.contains("FAILED"), "{table}");
    assert!(
        table.contains("verdict: a policy claim is violated"),
        "{table}"
    );
    // A failure report names the requirement and exits 3.
    let e: VerifyError<MemoryStorageError> = VerifyError::SplitView { size: 5 };
    assert_eq!(e.to_json("x")["exit"], 3);
    assert_eq!(e.to_json("x")["error"]["requirement"], "AUD-2");
    assert!(e.to_table("x").contains("exit 3"));
}

#[test]
fn aud_4_a_burst_is_flagged_exactly_when_it_passes_the_cap() {
    // 0 to 4 extra ad-hoc challenges in one window holding one scheduled challenge.
    let h = History::generate(&Params {
        participants: 3,
        epochs: 2,
        ..Params::small()
    });
    let (at, tag, epoch, window) = first_challenge(&h.entries);
    for extra in 0..=4u8 {
        let mut entries = h.entries.clone();
        for n in 0..extra {
            entries.insert(
                at + 1,
                challenge(tag, epoch, ChallengeKind::AdHoc, window.start, window, n),
            );
        }
        let v = violations(&entries, &h);
        let flagged = v
            .iter()
            .any(|x| matches!(x, Violation::TooManyInWindow { .. }));
        assert_eq!(flagged, 1 + u32::from(extra) > 3, "{extra}: {v:#?}");
    }
}

#[test]
fn aud_12_the_spec_example_is_what_the_auditor_prints() {
    let h = history();
    let log = SignedLog::build(&h.entries, 500);
    // The keys as the example's command gives them.
    let report = Auditor::new(log.log_key.clone(), h.now)
        .log_key_origin(KeyOrigin::File {
            path: "keys/log.vkey".into(),
        })
        .witness_from(
            log.witness_key.clone(),
            KeyOrigin::File {
                path: "keys/witnesses.vkey".into(),
            },
        )
        .policy(h.policy.clone())
        .audit(log.storage(), None)
        .unwrap();
    let table = report.to_table();
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/audit.md"))
        .unwrap();
    let example: String = spec
        .lines()
        .skip_while(|l| !l.starts_with("$ minimis audit"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        example, table,
        "spec/audit.md must quote the auditor's table"
    );
}

#[test]
fn aud_11_participant_mode_lists_the_resolutions_of_my_rows_and_my_ledgers_purge() {
    use minimis_log::entry::{Resolution, ResolutionReason};
    let h = history();
    let (key, pseudonym) = synthetic::participant(7);
    let (other_key, other) = synthetic::participant(8);
    let epoch = EpochId::new(2_955);
    let resolved = |tag, n| LogEntry::RowResolved {
        tag,
        challenge: ChallengeId::from_bytes([n; 16]),
        epoch,
        resolution: Resolution::ExcusedTechnical,
        reason: ResolutionReason::FailureReport,
    };
    let mine = key.tag(&pseudonym, epoch);
    let mut entries = h.entries.clone();
    entries.push(resolved(mine, 1));
    entries.push(resolved(other_key.tag(&other, epoch), 2));
    entries.push(LogEntry::EnrollmentClosed { tag: mine, epoch });
    entries.push(LogEntry::LedgerPurged {
        tag: mine,
        epoch,
        purged_at: h.now,
    });
    let log = SignedLog::build(&entries, 1_000);
    let report = auditor(&log, &h)
        .participant(participant(7))
        .audit(log.storage(), None)
        .unwrap();
    let p = report.participant().unwrap();
    let resolutions: Vec<_> = p
        .entries
        .iter()
        .filter(|e| e.entry == "row-resolved")
        .collect();
    assert_eq!(resolutions.len(), 1, "mine only");
    assert!(
        resolutions[0]
            .detail
            .contains("resolved excused-technical (failure-report)"),
        "{}",
        resolutions[0].detail
    );
    assert_eq!(
        p.entries
            .iter()
            .filter(|e| e.entry == "ledger-purged" && e.time == Some(h.now))
            .count(),
        1
    );
}

/// A consistent `epoch summary` for every epoch of `entries` with challenges: every
/// answered challenge on time, the rest missed, and one failure report.
fn epoch_summaries(entries: &[LogEntry]) -> Vec<minimis_log::EpochSummary> {
    let mut epochs: std::collections::BTreeMap<EpochId, (u32, u32)> = Default::default();
    let mut of: std::collections::HashMap<ChallengeId, EpochId> = Default::default();
    for e in entries {
        match e {
            LogEntry::ChallengeIssued {
                challenge, epoch, ..
            } => {
                of.insert(*challenge, *epoch);
                epochs.entry(*epoch).or_default().0 += 1;
            }
            LogEntry::CheckInReceived { challenge, .. } => {
                epochs.entry(of[challenge]).or_default().1 += 1;
            }
            _ => {}
        }
    }
    epochs
        .into_iter()
        .map(|(epoch, (issued, answered))| minimis_log::EpochSummary {
            epoch,
            issued,
            on_time: answered,
            late: 0,
            missed: issued - answered,
            reports: minimis_log::FailureCounts {
                app_error: 1.min(issued),
                ..Default::default()
            },
        })
        .collect()
}

fn summary_report(entries: &[LogEntry], h: &History) -> Report {
    let log = SignedLog::build(entries, 1_000);
    auditor(&log, h).audit(log.storage(), None).unwrap()
}

#[test]
fn chk_28_log_37_consistent_epoch_summaries_hold_and_are_reported() {
    let h = history();
    let summaries = epoch_summaries(&h.entries);
    assert!(summaries.len() > 1, "the history spans several epochs");
    // A log without summaries (an older one) holds: every epoch says "no summary".
    let report = summary_report(&h.entries, &h);
    assert_eq!(report.exit_code(), 0, "{}", report.to_table());
    assert!(
        report
            .counts()
            .epoch_summaries
            .iter()
            .all(|e| e.summary.is_none())
    );
    assert!(report.to_table().contains("no summary"));
    // With a consistent summary per epoch, it holds and reports their counts.
    let mut entries = h.entries.clone();
    entries.extend(summaries.iter().map(|s| LogEntry::EpochSummary(*s)));
    let report = summary_report(&entries, &h);
    assert_eq!(report.exit_code(), 0, "{}", report.to_table());
    let rows = &report.counts().epoch_summaries;
    assert_eq!(rows.len(), summaries.len());
    for (row, s) in rows.iter().zip(&summaries) {
        let got = row.summary.as_ref().unwrap();
        assert_eq!(row.epoch, s.epoch);
        assert_eq!(row.challenges, u64::from(s.issued));
        assert_eq!(row.check_ins, u64::from(s.on_time));
        assert_eq!(
            (got.issued, got.on_time, got.late, got.missed),
            (s.issued, s.on_time, s.late, s.missed)
        );
        assert_eq!(got.failure_reports["app-error"], 1);
        assert_eq!(got.failure_reports["no-network"], 0);
    }
    let json = report.to_json();
    let first = &json["counts"]["epoch_summaries"][0];
    assert_eq!(first["summary"]["on_time"], summaries[0].on_time);
    assert_eq!(first["summary"]["failure_reports"]["app-error"], 1);
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "epoch-summaries")
        .unwrap();
    assert_eq!(check["result"], "ok");
    assert!(report.to_table().contains("app-error 1"));
}

#[test]
fn chk_28_log_37_an_inflated_on_time_count_is_a_violation() {
    let h = history();
    let mut summaries = epoch_summaries(&h.entries);
    // One more on time, one fewer missed: the entry is well formed, the log disagrees.
    let s = summaries
        .iter_mut()
        .find(|s| s.missed > 0)
        .expect("an epoch with a missed challenge");
    s.on_time += 1;
    s.missed -= 1;
    let (epoch, claimed) = (s.epoch, u64::from(s.on_time));
    let mut entries = h.entries.clone();
    let first = entries.len() as u64;
    let at = summaries.iter().position(|x| x.epoch == epoch).unwrap() as u64;
    entries.extend(summaries.iter().map(|s| LogEntry::EpochSummary(*s)));
    let report = summary_report(&entries, &h);
    assert_eq!(report.exit_code(), 1);
    let check = report.check(CheckId::EpochSummaries).unwrap();
    assert_eq!(
        check.violations,
        [Violation::SummaryCheckInsMismatch {
            index: first + at,
            epoch,
            summary: claimed,
            log: claimed - 1,
        }]
    );
    assert_eq!(
        CheckId::EpochSummaries.requirements(),
        ["AUD-7", "CHK-28", "LOG-37"]
    );
    // An issued count the log does not have is caught too.
    let mut more = epoch_summaries(&h.entries);
    more[0].issued += 1;
    more[0].missed += 1;
    let mut entries = h.entries.clone();
    entries.push(LogEntry::EpochSummary(more[0]));
    let report = summary_report(&entries, &h);
    assert_eq!(
        report.check(CheckId::EpochSummaries).unwrap().violations,
        [Violation::SummaryIssuedMismatch {
            index: h.entries.len() as u64,
            epoch: more[0].epoch,
            summary: u64::from(more[0].issued),
            log: u64::from(more[0].issued) - 1,
        }]
    );
}

#[test]
fn chk_28_log_36_a_duplicate_or_skipped_epoch_summary_is_a_violation() {
    let h = history();
    let summaries = epoch_summaries(&h.entries);
    let mut entries = h.entries.clone();
    let first = entries.len() as u64;
    entries.extend(summaries.iter().map(|s| LogEntry::EpochSummary(*s)));
    entries.push(LogEntry::EpochSummary(summaries[0]));
    let report = summary_report(&entries, &h);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.check(CheckId::EpochSummaries).unwrap().violations,
        [Violation::SummaryDuplicate {
            index: entries.len() as u64 - 1,
            epoch: summaries[0].epoch,
            first,
        }]
    );
    // An epoch with challenges skipped between two summarized ones.
    assert!(summaries.len() >= 3);
    let mut entries = h.entries.clone();
    entries.extend(
        summaries
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, s)| LogEntry::EpochSummary(*s)),
    );
    let report = summary_report(&entries, &h);
    assert_eq!(
        report.check(CheckId::EpochSummaries).unwrap().violations,
        [Violation::SummaryMissing {
            epoch: summaries[1].epoch,
            challenges: u64::from(summaries[1].issued),
        }]
    );
}

/// Runs `f` on another thread and waits at most `seconds` for it. Only to catch a check
/// that has gone quadratic (what takes seconds here would then take hours); the limit is
/// far above the time the audit takes, and no timing is asserted.
fn within<T: Send + 'static>(seconds: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(seconds))
        .unwrap_or_else(|_| panic!("not done within {seconds} s: a check is not linear"))
}

#[test]
fn aud_32_many_challenges_in_one_participant_epoch_are_checked_in_linear_time() {
    // The size at which the quadratic check took 73 s in a release build.
    let n = 640_000;
    let h = History::adversarial(synthetic::Adversarial::Challenges(n));
    let log = SignedLog::build(&h.entries, 10_000);
    let report = within(120, move || {
        auditor(&log, &h).audit(log.storage(), None).unwrap()
    });
    let v: Vec<&Violation> = report.violations().collect();
    assert!(
        v.iter()
            .any(|v| matches!(v, Violation::TooManyInEpoch { count, cap: 27, .. } if *count == n))
    );
    let overlaps = v
        .iter()
        .filter(|v| matches!(v, Violation::OverlappingWindows { .. }))
        .count();
    assert_eq!(overlaps, n as usize - 1, "each window overlaps the next");
}

#[test]
fn aud_32_many_purges_of_records_on_hold_are_checked_in_linear_time() {
    let n = 100_000;
    let h = History::adversarial(synthetic::Adversarial::Holds(n));
    let log = SignedLog::build(&h.entries, 10_000);
    let report = within(300, move || {
        auditor(&log, &h).audit(log.storage(), None).unwrap()
    });
    // Every record is on hold at every purge: each purge names none, rightly.
    assert!(
        report.check(CheckId::RecordsPurged).unwrap().holds(),
        "{}",
        report.to_table()
    );
    assert_eq!(
        report.counts().of(minimis_log::EntryType::RecordsPurged),
        u64::from(n)
    );
    assert_eq!(
        report.counts().of(minimis_log::EntryType::LegalHoldPlaced),
        u64::from(n).div_ceil(1024) + 256
    );
}

#[test]
fn aud_32_aud_11_many_challenges_to_one_participant_are_checked_against_the_schedule_in_linear_time()
 {
    let n = 100_000;
    let h = History::adversarial(synthetic::Adversarial::Challenges(n));
    let log = SignedLog::build(&h.entries, 10_000);
    let report = within(300, move || {
        auditor(&log, &h)
            .participant(participant(0).with_schedule(schedule()))
            .audit(log.storage(), None)
            .unwrap()
    });
    let p = report.participant().unwrap();
    assert_eq!(p.challenges, u64::from(n));
    // All but the first few break the schedule: outside its windows, or past the caps.
    let outside = p
        .violations
        .iter()
        .filter(|v| matches!(v, Violation::OutsideSchedule { .. }))
        .count();
    assert!(outside > n as usize - 100, "{outside}");
}

/// A witness of the quorum tests, `i` from 1.
fn quorum_witness(i: u8) -> minimis_log::Cosigner {
    minimis_log::Cosigner::new(
        minimis_log::KeyName::new(&format!("witness{i}.example")).unwrap(),
        SigningKey::from_seed(&[0x70 + i; 32]).unwrap(),
    )
}

/// Has `cosigner` cosign `log`'s checkpoint as a witness seeing it for the first time.
fn cosign_with(log: &mut SignedLog, cosigner: minimis_log::Cosigner) {
    let mut w = minimis_log::Witness::new(cosigner, log.log_key.clone()).unwrap();
    let vkey = w.verifier_key();
    let sig = w
        .cosign(
            log.log.checkpoint().to_string().as_bytes(),
            &[],
            synthetic::WITNESS_TIME,
        )
        .unwrap();
    log.log.add_cosignature(sig, &vkey).unwrap();
}

/// The auditor with a 2-of-3 tlog-policy (the synthetic witness and two more): a
/// checkpoint cosigned by one of them, or by one and a stranger, is refused with exit 3
/// before anything else is read; two of them pass; a policy the log does not declare
/// last is refused; a fork cosigned by the quorum is still caught against the pinned
/// state.
#[test]
fn log_67_the_auditor_requires_the_tlog_policy_quorum_and_its_logged_hash() {
    use minimis_log::{QuorumError, TlogPolicy};
    let h = history();
    let policy_text = |group: &str| {
        format!(
            "log {}\nwitness oversight {}\nwitness w1 {}\nwitness w2 {}\ngroup g {group} oversight w1 w2\nquorum g\n",
            synthetic::log_signer().verifier_key(),
            synthetic::witness_cosigner().verifier_key(),
            quorum_witness(1).verifier_key(),
            quorum_witness(2).verifier_key(),
        )
    };
    let policy = TlogPolicy::parse(policy_text("2").as_bytes()).unwrap();
    let mut entries = h.entries.clone();
    entries.push(LogEntry::WitnessPolicyPublished {
        policy: policy.hash(),
    });
    let with_policy = |log: &SignedLog, p: &TlogPolicy| {
        Auditor::new(log.log_key.clone(), h.now)
            .policy(h.policy.clone())
            .tlog_policy(p.clone(), KeyOrigin::Given)
    };

    // Cosigned by the synthetic witness alone: 1 of 3.
    let mut log = SignedLog::build(&entries, 1_000);
    let failure = with_policy(&log, &policy).audit(log.storage(), None);
    assert_eq!(failure.as_ref().err().map(AuditFailure::exit_code), Some(3));
    let e = verify_error(failure);
    assert!(
        matches!(
            e,
            VerifyError::Quorum(QuorumError::BelowQuorum {
                cosigned: 1,
                known: 3
            })
        ),
        "{e}"
    );
    assert_eq!((e.requirement(), e.code()), ("LOG-67", "below-quorum"));

    // A stranger's valid cosignature does not count.
    let stranger = minimis_log::Cosigner::new(
        minimis_log::KeyName::new("stranger.example").unwrap(),
        SigningKey::from_seed(&[0x7e; 32]).unwrap(),
    );
    cosign_with(&mut log, stranger);
    let e = verify_error(with_policy(&log, &policy).audit(log.storage(), None));
    assert!(
        matches!(
            e,
            VerifyError::Quorum(QuorumError::BelowQuorum { cosigned: 1, .. })
        ),
        "{e}"
    );

    // A second known witness: the quorum holds, and the report says so.
    cosign_with(&mut log, quorum_witness(2));
    let report = with_policy(&log, &policy)
        .audit(log.storage(), None)
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_table());
    let used = report.witness_policy().unwrap();
    assert_eq!(
        (used.hash, used.cosigned, used.witnesses),
        (policy.hash(), 2, 3)
    );
    assert!(report.to_table().contains(&policy.hash().to_hex()));

    // Another policy, which this checkpoint satisfies too, but which the log does not
    // declare: refused.
    let other = TlogPolicy::parse(policy_text("any").as_bytes()).unwrap();
    let e = verify_error(with_policy(&log, &other).audit(log.storage(), None));
    assert!(
        matches!(e, VerifyError::TlogPolicyNotLogged { given, logged }
            if given == other.hash() && logged == Some(policy.hash())),
        "{e}"
    );
    assert_eq!(e.code(), "tlog-policy-not-logged");

    // A fork of the same size, cosigned by the quorum: the pinned state catches it.
    let mut state = AuditorState::new();
    state.record(report.log_state().clone());
    let mut forked = entries.clone();
    forked.swap(100, 101);
    let mut fork = SignedLog::build(&forked, 1_000);
    cosign_with(&mut fork, quorum_witness(1));
    let e = verify_error(
        with_policy(&fork, &policy).audit(fork.storage(), state.get(synthetic::LOG_NAME)),
    );
    assert!(
        matches!(e, VerifyError::SplitView { size } if size == entries.len() as u64),
        "{e}"
    );
}
