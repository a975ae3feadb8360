//! The device's own copy of check-in content is deleted at the server's deadline unless
//! the participant keeps it; receipts stay (RET-23). What the participant reads about a
//! failed or missed check-in never calls it a violation (CHK-25).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minimis_client::history::ReceiptState;
use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource};
use minimis_client::presence::NotRequired;
use minimis_client::words::{FAILURE_IS_NOT_A_VIOLATION, failure_notice, ledger_state};
use minimis_client::{Device, FailureCategory, ReceiptStatus};
use minimis_crypto::{TagKey, sign_challenge};
use minimis_log::{Log, LogEntry, MemoryStorage};
use minimis_proto::*;
use minimis_testkit::device;
use minimis_testkit::{NOW, World};

struct NoGps;

impl LocationSource for NoGps {
    fn one_fix(&mut self, _: FixCapability) -> Result<Fix, LocationError> {
        Err(LocationError::Unavailable)
    }
}

const HOUR: i64 = 3_600;

/// A device with two Thursday windows (09:00-12:00 and 14:00-15:00 Chicago) that checked
/// in in both, with a verified receipt for each.
fn two_check_ins() -> (Device, World, [RecordId; 2], Vec<Receipt>) {
    let world = World::keyed_at(NOW, 0);
    let e = world.now_epoch();
    let p = world.participant();
    let tags = TagKey::from_bytes(zeroize::Zeroizing::new(*p.tags.expose_secret()));
    let operator = world.operator();
    let log_signer = device::log_signer(&[0x4c; 32]);
    let schedule = Schedule::new(
        "America/Chicago",
        vec![
            Window {
                weekday: Weekday::Thursday,
                start: "09:00".parse().unwrap(),
                end: "12:00".parse().unwrap(),
            },
            Window {
                weekday: Weekday::Thursday,
                start: "14:00".parse().unwrap(),
                end: "15:00".parse().unwrap(),
            },
        ],
        2,
        0,
    )
    .unwrap();
    let log = log_signer.verifier_key();
    let pseudonym = p.pseudonym;
    let mut device = device::device(&world, p, schedule.clone(), None, log, vec![]);
    let mut log = Log::create(MemoryStorage::new(), log_signer).unwrap();
    let mut records = Vec::new();
    let mut receipts = Vec::new();
    // 10:00 and 14:30 in Chicago.
    for (id, at, note) in [
        (1u8, NOW, "first note"),
        (2, NOW.plus(4 * HOUR + 1_800), "second note"),
    ] {
        let w = schedule.window_at(at).unwrap();
        let c = sign_challenge(
            &operator,
            Challenge {
                id: ChallengeId::from_bytes([id; 16]),
                pseudonym,
                epoch: e,
                kind: ChallengeKind::Scheduled,
                issued_at: at,
                window_start: w.start,
                window_end: w.end,
                policy: world.policy.hash(),
            },
        );
        let accepted = device.accept(c, at).unwrap();
        let env = device
            .check_in(
                accepted,
                &mut NoGps,
                &mut NotRequired,
                note,
                &world.published(e),
                at,
            )
            .unwrap();
        let b = log
            .append_entries(&[LogEntry::CheckInReceived {
                tag: tags.tag(&pseudonym, e),
                record: env.record_id(),
                challenge: env.challenge_id,
                epoch: e,
            }])
            .unwrap();
        let r = Receipt {
            record_id: env.record_id(),
            tlog_proof: log.tlog_proof(b.first_index).unwrap().to_string(),
        };
        device.keep_receipt(r.clone()).unwrap();
        records.push(env.record_id());
        receipts.push(r);
    }
    (device, world, [records[0], records[1]], receipts)
}

#[test]
fn ret_23_the_device_deletes_content_at_the_deadline_keeps_what_the_participant_chose_and_every_receipt()
 {
    let (mut device, world, [first, second], receipts) = two_check_ins();
    let epoch = world.now_epoch();
    let deadline = world.policy.content_deadline(epoch);
    assert_eq!(
        deadline,
        world
            .policy
            .epoch_end(epoch)
            .plus(i64::from(world.policy.content_retention_days()) * 86_400),
        "the server's deadline (RET-1)"
    );

    // Before the deadline nothing goes.
    assert!(device.apply_retention(deadline.plus(-1)).is_empty());
    assert_eq!(device.sent().len(), 2);

    // The participant keeps the second; at the deadline the first one's content goes.
    assert!(device.keep_content(second, true));
    assert!(!device.keep_content(RecordId::from_bytes([9; 32]), true));
    assert_eq!(device.apply_retention(deadline), vec![first]);
    assert_eq!(device.sent().len(), 1);
    assert_eq!(device.sent()[0].record_id, second);
    assert_eq!(device.sent()[0].payload.note.expose(), "second note");
    let gone = &device.expired()[0];
    assert_eq!(
        (gone.record_id, gone.deleted_at, gone.receipt.as_ref()),
        (first, deadline, Some(&receipts[0]))
    );
    // The receipt still proves the check-in.
    assert_eq!(
        device.keep_receipt(receipts[0].clone()).unwrap(),
        ReceiptStatus::Witnessed
    );
    // Nothing more to delete.
    assert!(device.apply_retention(deadline.plus(86_400)).is_empty());

    // The store keeps the choice and the receipt, and no longer holds the content.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    minimis_client::store::save(&device, &path, "pass").unwrap();
    let back = minimis_client::store::load(&path, "pass").unwrap();
    assert_eq!(back.expired(), device.expired());
    assert!(back.sent()[0].keep);
    assert!(back.expired()[0].witnessed);
    let plain = decrypt(&path, "pass");
    assert!(!plain.contains("first note"));
    assert!(plain.contains("second note"));

    // What the participant sees.
    let h = back.history_offline();
    let c: Vec<_> = h
        .check_ins
        .iter()
        .map(|c| (c.record_id, c.content.is_some(), c.receipt))
        .collect();
    assert!(c.contains(&(first, false, ReceiptState::Witnessed)));
    assert!(c.contains(&(second, true, ReceiptState::Witnessed)));
    assert!(h.to_text().contains("was deleted from this phone"));
}

fn decrypt(path: &std::path::Path, pass: &str) -> String {
    use std::io::Read as _;
    let bytes = std::fs::read(path).unwrap();
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(pass.to_owned()));
    let mut plain = Vec::new();
    age::Decryptor::new_buffered(bytes.as_slice())
        .unwrap()
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    String::from_utf8(plain).unwrap()
}

/// Words that would describe a failure as a violation, or threaten.
const ACCUSING: &[&str] = &[
    "violat",
    "noncomplian",
    "non-complian",
    "breach",
    "infraction",
    "penalt",
    "sanction",
    "arrest",
    "warrant",
    "fail to comply",
];

/// The text with the one allowed use of "violation" (saying a failure is not one) taken
/// out.
fn accusing(text: &str) -> Vec<&'static str> {
    let t = text
        .to_lowercase()
        .replace("is not a violation by itself", "");
    ACCUSING.iter().copied().filter(|w| t.contains(w)).collect()
}

#[test]
fn chk_25_a_failed_or_missed_check_in_is_never_called_a_violation_and_the_text_says_a_person_reviews_it_and_how_to_report()
 {
    // What the participant reads when a check-in cannot be completed.
    for c in [
        FailureCategory::NoNetwork,
        FailureCategory::AppError,
        FailureCategory::DeviceError,
        FailureCategory::PresenceUnavailable,
        FailureCategory::Other,
    ] {
        let text = failure_notice(c);
        assert!(text.contains("is not a violation by itself"), "{text}");
        assert!(text.contains("A person will review it"), "{text}");
        assert!(text.contains("Report a problem"), "{text}");
        assert!(text.contains("minimis participant report"), "{text}");
        assert_eq!(accusing(&text), Vec::<&str>::new(), "{text}");
    }
    // A missed check-in in the ledger.
    let missed = ledger_state(LedgerState::PendingReview);
    assert!(missed.contains("a person will review it"), "{missed}");
    assert!(missed.contains("report what happened"), "{missed}");
    assert_eq!(accusing(&missed), Vec::<&str>::new());
    // A late one, and a resolved one, are not violations either.
    for state in [
        LedgerState::Late,
        LedgerState::Resolved(Resolution::ExcusedTechnical),
        LedgerState::Resolved(Resolution::NotExcused),
    ] {
        let text = ledger_state(state);
        assert_eq!(accusing(&text), Vec::<&str>::new(), "{text}");
    }

    // The history of a device that recorded failures says it, with how to report.
    let (mut device, _, _, _) = two_check_ins();
    device.record_failure(
        ChallengeId::from_bytes([7; 16]),
        FailureCategory::NoNetwork,
        NOW,
    );
    let text = device.history_offline().to_text();
    assert!(text.contains(FAILURE_IS_NOT_A_VIOLATION), "{text}");
    assert!(text.contains("there was no network"), "{text}");
    assert_eq!(accusing(&text), Vec::<&str>::new(), "{text}");
}
