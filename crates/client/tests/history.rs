//! The participant's own record (ACC-11) against an operator that lies: the device reads
//! the log as a tlog-tiles client, verifies it, and refuses a rollback, a split view, a
//! changed or dropped entry and a checkpoint it cannot verify; it finds its own entries
//! and nothing of anyone else's; it says what does not add up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use minimis_client::history::{Discrepancy, FoundEntry, HistoryError, OnDevice, ReceiptState};
use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource};
use minimis_client::presence::NotRequired;
use minimis_client::transport::{Request, Response, Transport, TransportError};
use minimis_client::{Api, Device};
use minimis_crypto::{SigningKey, TagKey, sign_challenge};
use minimis_log::entry::{
    CaseCommitment, CaseRef, CaseSalt, CustodianId, DenialReason, LegalBasisId, OfficerId,
    PurposeId, RecordSet,
};
use minimis_log::tiles::{bundles_for, tiles_for};
use minimis_log::{Access, Log, LogEntry, MemoryStorage, TileStorage as _};
use minimis_proto::*;
use minimis_testkit::device::{self, log_signer};
use minimis_testkit::{NOW, World};

/// Runs a future that never waits (the fake operator answers at once).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

struct NoGps;

impl LocationSource for NoGps {
    fn one_fix(&mut self, _: FixCapability) -> Result<Fix, LocationError> {
        Err(LocationError::Unavailable)
    }
}

/// What the fake operator serves: the log's checkpoint and every tile and bundle of its
/// tree (narrower partial ones cut from wider ones, as tlog-tiles allows), and a ledger.
#[derive(Default)]
struct Served {
    checkpoint: String,
    files: HashMap<String, Vec<u8>>,
    ledger: String,
}

impl Served {
    fn of(log: &Log<MemoryStorage>) -> Self {
        let size = log.size();
        let s = log.storage();
        let mut files = HashMap::new();
        for t in tiles_for(size) {
            files.insert(t.path(), s.read_tile(t).unwrap().unwrap().into_owned());
        }
        for b in bundles_for(size) {
            files.insert(b.path(), s.read_bundle(b).unwrap().unwrap().into_owned());
        }
        Self {
            checkpoint: log.checkpoint().to_string(),
            files,
            ledger: "[]".into(),
        }
    }

    fn get(&self, path: &str) -> Option<Vec<u8>> {
        if path == "/v1/log/checkpoint" {
            return Some(self.checkpoint.clone().into_bytes());
        }
        let path = path.strip_prefix("/v1/log/")?;
        if let Some(d) = self.files.get(path) {
            return Some(d.clone());
        }
        // A narrower partial tile or bundle: the prefix of a wider one.
        let (base, width) = path.split_once(".p/")?;
        let width: usize = width.parse().ok()?;
        let wider = self
            .files
            .iter()
            .find(|(k, _)| {
                k.as_str() == base || k.split_once(".p/").is_some_and(|(b, _)| b == base)
            })?
            .1;
        if base.starts_with("tile/entries/") {
            let mut out = Vec::new();
            let mut rest = wider.as_slice();
            for _ in 0..width {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                out.extend_from_slice(&rest[..2 + len]);
                rest = &rest[2 + len..];
            }
            Some(out)
        } else {
            Some(wider[..width * 32].to_vec())
        }
    }
}

struct Operator(Mutex<Served>);

impl Operator {
    fn serve(&self, s: Served) {
        *self.0.lock().unwrap() = s;
    }

    fn tamper(&self, f: impl FnOnce(&mut Served)) {
        f(&mut self.0.lock().unwrap());
    }
}

impl Transport for &Operator {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        let s = self.0.lock().unwrap();
        if req.path.ends_with("/ledger") {
            return Ok(Response {
                status: 200,
                body: s.ledger.clone().into_bytes(),
            });
        }
        Ok(match s.get(&req.path) {
            Some(body) => Response { status: 200, body },
            None => Response {
                status: 404,
                body: br#"{"error":{"code":"not_found","message":"no such tile"}}"#.to_vec(),
            },
        })
    }
}

struct Setup {
    world: World,
    device: Device,
    tags: TagKey,
    operator_key: SigningKey,
    log_seed: [u8; 32],
    epoch: EpochId,
}

fn setup() -> Setup {
    let world = World::keyed_at(NOW, 0);
    let epoch = world.now_epoch();
    let p = world.participant();
    let tags = TagKey::from_bytes(zeroize::Zeroizing::new(*p.tags.expose_secret()));
    let operator_key = world.operator();
    let log_seed = [0x4c; 32];
    let schedule = p.schedule.clone();
    let log = log_signer(&log_seed).verifier_key();
    Setup {
        device: device::device(&world, p, schedule, None, log, vec![]),
        world,
        tags,
        operator_key,
        log_seed,
        epoch,
    }
}

impl Setup {
    fn challenge(&self, id: u8, pseudonym: Pseudonym) -> SignedChallenge {
        let w = self.device.enrollment().schedule.window_at(NOW).unwrap();
        sign_challenge(
            &self.operator_key,
            Challenge {
                id: ChallengeId::from_bytes([id; 16]),
                pseudonym,
                epoch: self.epoch,
                kind: ChallengeKind::Scheduled,
                issued_at: NOW,
                window_start: w.start,
                window_end: w.end,
                policy: self.world.policy.hash(),
            },
        )
    }

    fn issued(&self, c: &SignedChallenge, tag: ParticipantTag) -> LogEntry {
        let c = &c.challenge;
        LogEntry::ChallengeIssued {
            tag,
            challenge: c.id,
            epoch: c.epoch,
            kind: c.kind,
            issued_at: c.issued_at,
            window: WindowSpan {
                start: c.window_start,
                end: c.window_end,
            },
        }
    }

    fn my_tag(&self) -> ParticipantTag {
        self.tags.tag(&self.device.pseudonym(), self.epoch)
    }

    /// The device answers challenge `id`; returns its record and the entry the operator
    /// logs for it.
    fn check_in(&mut self, c: SignedChallenge) -> (RecordId, LogEntry) {
        let accepted = self.device.accept(c, NOW).unwrap();
        let recipients = self.world.published(self.epoch);
        let env = self
            .device
            .check_in(
                accepted,
                &mut NoGps,
                &mut NotRequired,
                "my note",
                &recipients,
                NOW,
            )
            .unwrap();
        let entry = LogEntry::CheckInReceived {
            tag: self.my_tag(),
            record: env.record_id(),
            challenge: env.challenge_id,
            epoch: env.epoch,
        };
        (env.record_id(), entry)
    }
}

fn access(custodian: &str, records: &[RecordId], epoch: EpochId) -> Access {
    Access {
        custodian: CustodianId::new(custodian).unwrap(),
        officer: OfficerId::new("officer-7f3a").unwrap(),
        purpose: PurposeId::new("compliance-review").unwrap(),
        legal_basis: LegalBasisId::new("release-conditions").unwrap(),
        case: CaseCommitment::new(
            &CaseSalt::from_bytes([9; 32]),
            &CaseRef::new("HOU-2025-004211").unwrap(),
        ),
        records: RecordSet::new(records.iter().copied()).unwrap(),
        epoch,
    }
}

fn receipt(log: &Log<MemoryStorage>, record: RecordId, index: u64) -> Receipt {
    Receipt {
        record_id: record,
        tlog_proof: log.tlog_proof(index).unwrap().to_string(),
    }
}

/// The participant's entries, and others', in one log: the device finds exactly its own.
#[test]
fn acc_11_the_device_finds_its_own_entries_and_nothing_of_anyone_else() {
    let mut s = setup();
    let mine = s.challenge(1, s.device.pseudonym());
    let stranger = Pseudonym::from_bytes([0x55; 16]);
    let stranger_tag = TagKey::generate().unwrap().tag(&stranger, s.epoch);
    let theirs = s.challenge(2, stranger);
    let (record, checked_in) = s.check_in(mine.clone());
    let their_record = RecordId::from_bytes([0x77; 32]);
    let other_epoch = s.epoch.previous().unwrap();
    let mut log = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    log.append_entries(&[
        LogEntry::PolicyPublished {
            policy: s.world.policy.hash(),
        },
        LogEntry::EnrollmentOpened {
            tag: s.my_tag(),
            epoch: s.epoch,
            policy: s.world.policy.hash(),
        },
        LogEntry::EnrollmentOpened {
            tag: stranger_tag,
            epoch: s.epoch,
            policy: s.world.policy.hash(),
        },
        s.issued(&mine, s.my_tag()),
        s.issued(&theirs, stranger_tag),
    ])
    .unwrap();
    let batch = log
        .append_entries(&[
            checked_in,
            LogEntry::CheckInReceived {
                tag: stranger_tag,
                record: their_record,
                challenge: theirs.challenge.id,
                epoch: s.epoch,
            },
        ])
        .unwrap();
    s.device
        .keep_receipt(receipt(&log, record, batch.first_index))
        .unwrap();
    log.append_entries(&[
        // One access names both participants' records: only mine is shown.
        LogEntry::ContentAccessed(access("agency", &[record, their_record], s.epoch)),
        LogEntry::AccessDenied {
            access: access("agency", &[their_record], s.epoch),
            reason: DenialReason::PurposeNotAllowed,
        },
        LogEntry::AccessDenied {
            access: access("oversight", &[record], s.epoch),
            reason: DenialReason::OversightRefused,
        },
        LogEntry::EpochKeyDestroyed {
            custodian: CustodianId::new("agency").unwrap(),
            epoch: s.epoch,
            destroyed_at: NOW.plus(100 * 86_400),
        },
        LogEntry::EpochKeyDestroyed {
            custodian: CustodianId::new("agency").unwrap(),
            epoch: other_epoch,
            destroyed_at: NOW.plus(93 * 86_400),
        },
    ])
    .unwrap();
    // Enough entries to fill a tile and a bundle, and a partial one after them.
    let filler: Vec<LogEntry> = (0..300u32)
        .map(|i| LogEntry::PolicyPublished {
            policy: PolicyHash::from_bytes([(i % 251) as u8; 32]),
        })
        .collect();
    log.append_entries(&filler).unwrap();
    let op = Operator(Mutex::new(Served::of(&log)));
    let api = Api::new(&op);

    let h = block_on(s.device.history(&api, NOW)).unwrap();
    assert_eq!(h.log.size, log.size());
    assert_eq!(h.log.entries_read, log.size());
    assert_eq!(h.log.receipts_checked, 1);
    assert!(h.discrepancies.is_empty(), "{:?}", h.discrepancies);
    let kinds: Vec<&str> = h
        .found
        .iter()
        .map(|f| match &f.entry {
            FoundEntry::EnrollmentOpened { .. } => "enrollment",
            FoundEntry::ChallengeIssued { .. } => "challenge",
            FoundEntry::CheckInReceived { .. } => "check-in",
            FoundEntry::ContentAccessed { .. } => "accessed",
            FoundEntry::AccessDenied { .. } => "denied",
            FoundEntry::EpochKeyDestroyed { .. } => "destroyed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "enrollment",
            "challenge",
            "check-in",
            "accessed",
            "denied",
            "destroyed"
        ]
    );
    assert!(matches!(
        h.found[1].entry,
        FoundEntry::ChallengeIssued {
            on_device: OnDevice::Answered,
            ..
        }
    ));
    for f in &h.found {
        match &f.entry {
            FoundEntry::ContentAccessed { records, .. } => assert_eq!(records, &vec![record]),
            FoundEntry::AccessDenied {
                records, reason, ..
            } => {
                assert_eq!(records, &vec![record]);
                assert_eq!(reason, "oversight-refused");
            }
            FoundEntry::EpochKeyDestroyed { epoch, .. } => assert_eq!(*epoch, s.epoch),
            _ => {}
        }
    }
    assert_eq!(h.check_ins.len(), 1);
    // Enrolled with no witness, a receipt the log signed is all there is to have.
    assert_eq!(h.check_ins[0].receipt, ReceiptState::Witnessed);
    assert_eq!(h.check_ins[0].log_index, Some(batch.first_index));
    let json = serde_json::to_string(&h).unwrap();
    for theirs in [
        their_record.to_string(),
        theirs.challenge.id.to_string(),
        stranger.to_string(),
    ] {
        assert!(!json.contains(&theirs), "{theirs} shown");
    }

    // The next look reads only the new entries, through a partial bundle the log has
    // since widened, and finds the same.
    log.append_entries(&[LogEntry::PolicyPublished {
        policy: PolicyHash::from_bytes([0xee; 32]),
    }])
    .unwrap();
    op.serve(Served::of(&log));
    let again = block_on(s.device.history(&api, NOW)).unwrap();
    assert_eq!(again.log.entries_read, 1);
    assert_eq!(again.found, h.found);
}

/// A log that rewrites what the device saw, rolls back, or serves a changed or missing
/// entry, or a checkpoint the log key did not sign, is refused, and the device's view
/// does not change.
#[test]
fn acc_11_a_rewritten_rolled_back_or_tampered_log_is_refused() {
    let mut s = setup();
    let c = s.challenge(1, s.device.pseudonym());
    let (record, checked_in) = s.check_in(c.clone());
    let entries = |n: u8| -> Vec<LogEntry> {
        (0..n)
            .map(|i| LogEntry::PolicyPublished {
                policy: PolicyHash::from_bytes([i; 32]),
            })
            .collect()
    };
    let mut log = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    log.append_entries(&[s.issued(&c, s.my_tag())]).unwrap();
    let b = log
        .append_entries(std::slice::from_ref(&checked_in))
        .unwrap();
    s.device
        .keep_receipt(receipt(&log, record, b.first_index))
        .unwrap();
    log.append_entries(&entries(10)).unwrap();
    let op = Operator(Mutex::new(Served::of(&log)));
    let api = Api::new(&op);
    block_on(s.device.history(&api, NOW)).unwrap();
    let view = s.device.log_view().clone();
    assert_eq!(view.size(), 12);

    // A rollback: fewer entries than the device has verified.
    let mut short = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    short.append_entries(&[s.issued(&c, s.my_tag())]).unwrap();
    short
        .append_entries(std::slice::from_ref(&checked_in))
        .unwrap();
    short.append_entries(&entries(3)).unwrap();
    op.serve(Served::of(&short));
    assert!(matches!(
        block_on(s.device.history(&api, NOW)),
        Err(HistoryError::Rollback {
            held: 12,
            served: 5
        })
    ));

    // A rewrite: a longer log, signed by the same key, with my entries where they were,
    // but one of the first 12 entries changed.
    let mut fork = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    fork.append_entries(&[s.issued(&c, s.my_tag())]).unwrap();
    fork.append_entries(std::slice::from_ref(&checked_in))
        .unwrap();
    let mut rewritten = entries(10);
    rewritten[4] = LogEntry::PolicyPublished {
        policy: PolicyHash::from_bytes([0xaa; 32]),
    };
    fork.append_entries(&rewritten).unwrap();
    fork.append_entries(&entries(5)).unwrap();
    op.serve(Served::of(&fork));
    assert!(matches!(
        block_on(s.device.history(&api, NOW)),
        Err(HistoryError::RootMismatch { size: 17 })
    ));

    // An entry changed in its bundle, a bundle with an entry left out, a checkpoint the
    // log's key did not sign.
    log.append_entries(&entries(2)).unwrap();
    op.serve(Served::of(&log));
    op.tamper(|s| {
        let b = s.files.get_mut("tile/entries/000.p/14").unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
    });
    assert!(matches!(
        block_on(s.device.history(&api, NOW)),
        Err(HistoryError::RootMismatch { size: 14 })
    ));
    op.serve(Served::of(&log));
    op.tamper(|s| {
        let b = s.files.get_mut("tile/entries/000.p/14").unwrap();
        let cut = b.len() - 35;
        b.truncate(cut);
    });
    assert!(matches!(
        block_on(s.device.history(&api, NOW)),
        Err(HistoryError::Bundle { .. })
    ));
    let mut stranger = Log::create(MemoryStorage::new(), log_signer(&[0x99; 32])).unwrap();
    stranger.append_entries(&entries(20)).unwrap();
    op.serve(Served::of(&log));
    op.tamper(|s| s.checkpoint = stranger.checkpoint().to_string());
    assert!(matches!(
        block_on(s.device.history(&api, NOW)),
        Err(HistoryError::Checkpoint(_))
    ));
    assert_eq!(s.device.log_view(), &view, "nothing changed");

    // The honest log, extended: accepted.
    op.serve(Served::of(&log));
    let h = block_on(s.device.history(&api, NOW)).unwrap();
    assert_eq!(h.log.entries_read, 2);
}

/// A receipt whose checkpoint the device never read through (kept after its last look)
/// is checked with a consistency proof from the log's hash tiles; one from a forked log
/// is a split view, even though the log's key signed it.
#[test]
fn acc_11_a_receipt_kept_after_the_last_look_is_checked_for_consistency() {
    let mut s = setup();
    let c = s.challenge(1, s.device.pseudonym());
    let (record, checked_in) = s.check_in(c.clone());
    let filler = |n: u32, salt: u8| -> Vec<LogEntry> {
        (0..n)
            .map(|i| LogEntry::PolicyPublished {
                policy: PolicyHash::from_bytes([(i % 200) as u8 ^ salt; 32]),
            })
            .collect()
    };
    let mut log = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    log.append_entries(&filler(270, 0)).unwrap();
    log.append_entries(&[s.issued(&c, s.my_tag())]).unwrap();
    let b = log
        .append_entries(std::slice::from_ref(&checked_in))
        .unwrap();
    let early = receipt(&log, record, b.first_index);
    log.append_entries(&filler(300, 1)).unwrap();
    let op = Operator(Mutex::new(Served::of(&log)));
    let api = Api::new(&op);
    // The device looks before it has the receipt (the answer to its check-in was lost).
    let h = block_on(s.device.history(&api, NOW)).unwrap();
    assert_eq!(h.log.receipts_checked, 0);
    assert_eq!(h.check_ins[0].receipt, ReceiptState::Missing);
    // It fetches the receipt again (CHK-30) and keeps it: its checkpoint is older than
    // what the device read through, so the next look asks the tiles for a proof.
    s.device.keep_receipt(early).unwrap();
    let h = block_on(s.device.history(&api, NOW)).unwrap();
    assert_eq!(h.log.entries_read, 0);
    assert_eq!(h.log.receipts_checked, 1);
    assert!(
        s.device
            .log_view()
            .heads()
            .iter()
            .any(|(size, _)| *size == b.tree_size)
    );

    // A receipt from a fork of the log (same key, other entries before mine).
    let mut s2 = setup();
    let c2 = s2.challenge(1, s2.device.pseudonym());
    let (record2, checked_in2) = s2.check_in(c2.clone());
    let mut main = Log::create(MemoryStorage::new(), log_signer(&s2.log_seed)).unwrap();
    main.append_entries(&filler(40, 0)).unwrap();
    main.append_entries(&[s2.issued(&c2, s2.my_tag()), checked_in2.clone()])
        .unwrap();
    main.append_entries(&filler(40, 3)).unwrap();
    let mut fork = Log::create(MemoryStorage::new(), log_signer(&s2.log_seed)).unwrap();
    fork.append_entries(&filler(40, 9)).unwrap();
    let fb = fork
        .append_entries(&[s2.issued(&c2, s2.my_tag()), checked_in2])
        .unwrap();
    let op2 = Operator(Mutex::new(Served::of(&main)));
    let api2 = Api::new(&op2);
    block_on(s2.device.history(&api2, NOW)).unwrap();
    s2.device
        .keep_receipt(receipt(&fork, record2, fb.first_index + 1))
        .unwrap();
    assert!(matches!(
        block_on(s2.device.history(&api2, NOW)),
        Err(HistoryError::SplitView { size: 42 })
    ));
}

/// What does not add up is said: a check-in under my tag I did not send, a challenge the
/// operator signed for me that is not in the log, an enrollment under another policy.
#[test]
fn acc_11_what_does_not_add_up_is_shown() {
    let mut s = setup();
    let logged = s.challenge(1, s.device.pseudonym());
    let unlogged = s.challenge(2, s.device.pseudonym());
    let (_, checked_in) = s.check_in(logged.clone());
    // The device received a second challenge the log never shows (it refuses it: the
    // schedule allows one a day).
    assert!(s.device.accept(unlogged.clone(), NOW.plus(60)).is_err());
    let forged = RecordId::from_bytes([0x42; 32]);
    let other_policy = PolicyHash::from_bytes([0x13; 32]);
    let mut log = Log::create(MemoryStorage::new(), log_signer(&s.log_seed)).unwrap();
    log.append_entries(&[
        LogEntry::EnrollmentOpened {
            tag: s.my_tag(),
            epoch: s.epoch,
            policy: other_policy,
        },
        s.issued(&logged, s.my_tag()),
        checked_in,
        LogEntry::CheckInReceived {
            tag: s.my_tag(),
            record: forged,
            challenge: logged.challenge.id,
            epoch: s.epoch,
        },
    ])
    .unwrap();
    let op = Operator(Mutex::new(Served::of(&log)));
    op.tamper(|x| {
        x.ledger = serde_json::to_string(&serde_json::json!([
            { "challenge": logged, "state": {"state": "on-time"}, "failure_report": null, "statements": [] }
        ]))
        .unwrap();
    });
    let api = Api::new(&op);
    let h = block_on(s.device.history(&api, NOW)).unwrap();
    assert!(
        h.discrepancies.contains(&Discrepancy::CheckInNotSent {
            index: 3,
            record: forged
        }),
        "{:?}",
        h.discrepancies
    );
    assert!(h.discrepancies.contains(&Discrepancy::ChallengeNotLogged {
        challenge: unlogged.challenge.id
    }));
    assert!(h.discrepancies.contains(&Discrepancy::OtherPolicy {
        index: 0,
        policy: other_policy
    }));
    assert_eq!(h.discrepancies.len(), 3, "{:?}", h.discrepancies);
    let text = h.to_text();
    assert!(text.contains("Things that do not add up"), "{text}");
    assert!(text.contains("that this phone did not send"), "{text}");
}
