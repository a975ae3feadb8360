//! The device against a hostile or careless server: challenges beyond the schedule are
//! refused, and no location fix is ever taken without an accepted challenge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::presence::NotRequired;
use minimis_client::{Device, Enrollment, Refusal};
use minimis_crypto::{SigningKey, sign_challenge};
use minimis_proto::*;
use minimis_testkit::{NOW, World};
use proptest::prelude::*;

const ZONE: &str = r#"{"type":"Polygon","coordinates":[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]}"#;

/// A location source that counts every fix the library asks for.
struct Counting {
    fixes: u32,
    at: (f64, f64),
}

impl LocationSource for Counting {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        self.fixes += 1;
        Ok(cap.into_fix(self.at.0, self.at.1))
    }
}

struct Setup {
    world: World,
    device: Device,
    operator: SigningKey,
}

fn setup(zone: bool, daily: u8, adhoc: u8) -> Setup {
    let probe = World::new(&[]);
    let e = probe.policy.epoch_at(NOW).unwrap();
    let world = World::new(&[e, e.next().unwrap()]);
    let p = world.participant();
    let mut windows = vec![Window {
        weekday: Weekday::Thursday,
        start: "09:00".parse().unwrap(),
        end: "12:00".parse().unwrap(),
    }];
    if daily >= 2 {
        windows.push(Window {
            weekday: Weekday::Thursday,
            start: "14:00".parse().unwrap(),
            end: "15:00".parse().unwrap(),
        });
    }
    let schedule = Schedule::new("America/Chicago", windows, daily, adhoc).unwrap();
    let operator = SigningKey::from_seed(world.operator_key.expose_seed()).unwrap();
    let log_key = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("test/log").unwrap(),
        SigningKey::generate().unwrap(),
    )
    .verifier_key();
    let enrollment = Enrollment {
        pseudonym: p.pseudonym,
        schedule,
        zone: zone.then(|| Zone::from_geojson(ZONE).unwrap()),
        policy: world.policy.clone().into(),
        policy_text: DEFAULT_POLICY_TOML.into(),
        operator_key: operator.public_key(),
        log_key,
        witnesses: vec![],
        custodians: world.custodian_keys(),
    };
    Setup {
        device: Device::new(enrollment, p.device, p.tags),
        world,
        operator,
    }
}

fn challenge(
    s: &Setup,
    kind: ChallengeKind,
    at: UnixTime,
    window: (UnixTime, UnixTime),
    id: u8,
) -> SignedChallenge {
    sign_challenge(
        &s.operator,
        Challenge {
            id: ChallengeId::from_bytes([id; 16]),
            pseudonym: s.device.pseudonym(),
            epoch: s.world.policy.epoch_at(at).unwrap(),
            kind,
            issued_at: at,
            window_start: window.0,
            window_end: window.1,
            policy: s.world.policy.hash(),
        },
    )
}

fn morning(s: &Setup) -> (UnixTime, UnixTime) {
    let w = s.device.enrollment().schedule.window_at(NOW).unwrap();
    (w.start, w.end)
}

#[test]
fn chl_5_device_refuses_what_the_schedule_does_not_allow_and_keeps_it() {
    let mut s = setup(true, 1, 1);
    let w = morning(&s);
    let first = challenge(&s, ChallengeKind::Scheduled, NOW, w, 1);
    assert!(s.device.accept(first.clone(), NOW).is_ok());
    // The same challenge again (the server lists open challenges): no second acceptance.
    assert!(s.device.accept(first, NOW).is_ok());
    assert_eq!(s.device.accepted().count(), 1);
    let cases = [
        (
            challenge(&s, ChallengeKind::AdHoc, NOW.plus(60), w, 2),
            NOW.plus(60),
            Refusal::DailyCapReached,
        ),
        (
            challenge(&s, ChallengeKind::Scheduled, NOW.plus(120), w, 3),
            NOW.plus(120),
            Refusal::ScheduledAlreadyIssued,
        ),
        (
            challenge(&s, ChallengeKind::AdHoc, NOW.plus(3_600), w, 4),
            NOW,
            Refusal::Stale,
        ),
        (
            challenge(&s, ChallengeKind::AdHoc, NOW, w, 9),
            w.1.plus(2 * 3_600),
            Refusal::Stale,
        ),
    ];
    for (c, now, want) in cases {
        assert_eq!(s.device.accept(c, now).unwrap_err(), want);
    }
    let mut forged = challenge(&s, ChallengeKind::AdHoc, NOW, w, 5);
    forged.signature.0[0] ^= 1;
    assert_eq!(
        s.device.accept(forged, NOW).unwrap_err(),
        Refusal::BadSignature
    );
    let mut other = challenge(&s, ChallengeKind::AdHoc, NOW, w, 6);
    other.challenge.pseudonym = Pseudonym::from_bytes([0xee; 16]);
    let other = sign_challenge(&s.operator, other.challenge);
    assert_eq!(s.device.accept(other, NOW).unwrap_err(), Refusal::NotMine);
    // A window the schedule does not have (the server claims 06:00–23:00).
    let next_day = NOW.plus(86_400 * 7);
    let w2 = s.device.enrollment().schedule.window_at(next_day).unwrap();
    let wide = (w2.start.plus(-3 * 3_600), w2.end.plus(11 * 3_600));
    let c = challenge(&s, ChallengeKind::Scheduled, next_day, wide, 7);
    assert_eq!(
        s.device.accept(c, next_day).unwrap_err(),
        Refusal::WindowMismatch
    );
    // Outside every window.
    let night = NOW.plus(12 * 3_600);
    let c = challenge(&s, ChallengeKind::AdHoc, night, (night, night.plus(60)), 8);
    assert_eq!(
        s.device.accept(c, night).unwrap_err(),
        Refusal::OutsideWindow
    );
    // Every refusal is kept, with the operator's signature, to show the participant.
    assert_eq!(s.device.refused().len(), 8);
    assert_eq!(s.device.fixes_taken(), 0, "refusals take no fix");
}

#[test]
fn loc_3_chk_1_a_check_in_takes_one_fix_and_sends_only_a_zone_result() {
    let mut s = setup(true, 1, 1);
    let w = morning(&s);
    let accepted = s
        .device
        .accept(challenge(&s, ChallengeKind::Scheduled, NOW, w, 1), NOW)
        .unwrap();
    let mut gps = Counting {
        fixes: 0,
        at: (41.8781, -87.6298),
    };
    let e = s.world.now_epoch();
    let env = s
        .device
        .check_in(
            accepted,
            &mut gps,
            &mut NotRequired,
            "",
            &s.world.published(e),
            NOW,
        )
        .unwrap();
    assert_eq!(gps.fixes, 1, "one fix for one accepted challenge");
    // What was sent, decrypted by both custodians: only the spec's fields, and of the
    // location only the zone result.
    let p = minimis_seal::open(
        &env.ciphertext,
        e,
        &s.world.agency,
        s.world.oversight.as_ref(),
        280,
    )
    .unwrap();
    let CheckInPayload {
        challenge_id,
        zone,
        presence,
        device_time,
        note,
    } = p;
    assert_eq!(challenge_id, ChallengeId::from_bytes([1; 16]));
    assert_eq!(zone, ZoneResult::Inside);
    assert_eq!(presence, PresenceResult::NotRequired);
    assert_eq!(device_time, NOW);
    assert!(note.is_empty());
    // The envelope's bytes hold no coordinate text either.
    let json = serde_json::to_string(&env).unwrap();
    assert!(!json.contains("41.87") && !json.contains("87.62"));
}

#[test]
fn loc_3_without_a_zone_no_fix_is_ever_taken() {
    let mut s = setup(false, 1, 1);
    let w = morning(&s);
    let accepted = s
        .device
        .accept(challenge(&s, ChallengeKind::Scheduled, NOW, w, 1), NOW)
        .unwrap();
    let mut gps = Counting {
        fixes: 0,
        at: (0.0, 0.0),
    };
    let e = s.world.now_epoch();
    let env = s
        .device
        .check_in(
            accepted,
            &mut gps,
            &mut NotRequired,
            "",
            &s.world.published(e),
            NOW,
        )
        .unwrap();
    assert_eq!(gps.fixes, 0);
    let p = minimis_seal::open(
        &env.ciphertext,
        e,
        &s.world.agency,
        s.world.oversight.as_ref(),
        280,
    )
    .unwrap();
    assert_eq!(p.zone, ZoneResult::NotRequired);
}

#[test]
fn loc_4_the_fix_type_zeroizes_on_drop() {
    fn zeroizes<T: zeroize::ZeroizeOnDrop>() {}
    zeroizes::<Fix>();
}

#[test]
fn enr_2_the_store_is_encrypted_at_rest_and_round_trips() {
    let s = setup(true, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    minimis_client::store::save(&s.device, &path, "correct horse").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    let seed_b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        s.device.key().expose_seed(),
    );
    assert!(
        !bytes
            .windows(seed_b64.len())
            .any(|w| w == seed_b64.as_bytes())
    );
    assert!(
        !bytes.windows(10).any(|w| w == &ZONE.as_bytes()[..10]),
        "the zone is encrypted too"
    );
    let back = minimis_client::store::load(&path, "correct horse").unwrap();
    assert_eq!(back.pseudonym(), s.device.pseudonym());
    assert_eq!(back.key().public_key(), s.device.key().public_key());
    assert!(back.enrollment().zone.is_some());
    assert!(matches!(
        minimis_client::store::load(&path, "wrong"),
        Err(minimis_client::store::StoreError::Decrypt)
    ));
}

/// What a hostile server may send: any kind, any claimed time, any window, a good or a
/// bad signature, fresh ids or replays.
#[derive(Debug, Clone)]
struct Attempt {
    adhoc: bool,
    /// When the device receives it: near one of the schedule's window occurrences
    /// (`Some(i)`, then `device_offset` is the seconds from 10 minutes before it opens),
    /// or anywhere in the two weeks (`None`, seconds from the start).
    near_window: Option<usize>,
    device_offset: i64,
    /// How far the claimed issue time is from the device's clock.
    skew: i64,
    /// Whether the window claimed is the schedule's, or made up.
    true_window: bool,
    bad_signature: bool,
    replay: bool,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (
        any::<bool>(),
        prop_oneof![3 => (0usize..4).prop_map(Some), 1 => Just(None)],
        0i64..(14 * 86_400),
        prop_oneof![Just(0i64), -900i64..900],
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(adhoc, near_window, device_offset, skew, true_window, bad_signature, replay)| {
                Attempt {
                    adhoc,
                    near_window,
                    device_offset: if near_window.is_some() {
                        device_offset % (4 * 3_600 + 1_200)
                    } else {
                        device_offset
                    },
                    skew,
                    true_window,
                    bad_signature,
                    replay,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn chl_5_loc_3_hostile_server_cannot_get_more_fixes_than_the_schedule_allows(
        mut attempts in proptest::collection::vec(attempt(), 1..60),
    ) {
        let mut s = setup(true, 2, 2);
        let start = s.world.policy.epoch_start(s.world.now_epoch());
        let spans = s.device.enrollment().schedule.spans_between(start, start.plus(14 * 86_400));
        prop_assert_eq!(spans.len(), 4, "two windows a week, two weeks");
        let when = |a: &Attempt| match a.near_window {
            Some(i) => spans[i].start.plus(-600 + a.device_offset),
            None => start.plus(a.device_offset),
        };
        attempts.sort_by_key(when);
        let mut gps = Counting { fixes: 0, at: (41.88, -87.63) };
        let grace = s.world.policy.grace_seconds();
        let mut sent_ids: Vec<SignedChallenge> = Vec::new();
        let mut fixes_at: Vec<Slot> = Vec::new();
        for (i, a) in attempts.iter().enumerate() {
            let now = when(a);
            let claimed = now.plus(a.skew);
            let window = match s.device.enrollment().schedule.window_at(claimed) {
                Some(w) if a.true_window => (w.start, w.end),
                _ => (claimed.plus(-60), claimed.plus(3_600)),
            };
            let kind = if a.adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled };
            let mut c = if a.replay && !sent_ids.is_empty() {
                sent_ids[i % sent_ids.len()].clone()
            } else {
                challenge(&s, kind, claimed, window, (i % 250) as u8 + 1)
            };
            if a.bad_signature {
                c.signature.0[3] ^= 0x55;
            }
            sent_ids.push(c.clone());
            if let Ok(accepted) = s.device.accept(c, now) {
                let before = gps.fixes;
                let e = s.world.policy.epoch_at(now).unwrap();
                let ch = accepted.challenge().clone();
                let published = s.world.published(e);
                if s.device.check_in(accepted, &mut gps, &mut NotRequired, "", &published, now).is_ok() {
                    prop_assert_eq!(gps.fixes, before + 1);
                    // Every fix is taken while its challenge's window (or grace) is open, by the
                    // device's clock, give or take the clock skew the device tolerates.
                    prop_assert!(ch.window_start.seconds() - minimis_client::CLOCK_SKEW <= now.seconds());
                    prop_assert!(now.seconds() < ch.window_end.seconds() + grace);
                    fixes_at.push(Slot { at: ch.issued_at, kind: ch.kind });
                }
            }
        }
        // No fix without a check-in of an accepted challenge...
        prop_assert_eq!(u64::from(gps.fixes), s.device.fixes_taken());
        prop_assert_eq!(gps.fixes as usize, fixes_at.len());
        // ...and the challenges that got a fix are themselves a history the schedule admits.
        let schedule = s.device.enrollment().schedule.clone();
        let mut prior = Vec::new();
        for slot in fixes_at {
            prop_assert!(schedule.admits(&prior, slot).is_ok(), "a fix beyond the schedule at {:?}", slot);
            prior.push(slot);
        }
    }
}

#[test]
fn chl_5_loc_3_a_burst_of_ad_hoc_challenges_gets_only_what_the_schedule_allows() {
    // The Houston case: an officer tries to follow one person with a challenge every few
    // minutes. The device answers the daily cap's worth and refuses the rest.
    let mut s = setup(true, 2, 2);
    let w = morning(&s);
    let mut gps = Counting {
        fixes: 0,
        at: (41.88, -87.63),
    };
    let e = s.world.now_epoch();
    let published = s.world.published(e);
    let mut refused = 0;
    for i in 0..30u8 {
        let now = w.0.plus(i64::from(i) * 300);
        if now >= w.1 {
            break;
        }
        let c = challenge(&s, ChallengeKind::AdHoc, now, w, i + 1);
        match s.device.accept(c, now) {
            Ok(a) => {
                s.device
                    .check_in(a, &mut gps, &mut NotRequired, "", &published, now)
                    .unwrap();
            }
            Err(_) => refused += 1,
        }
    }
    assert_eq!(gps.fixes, 2, "the daily cap of 2");
    assert_eq!(refused, 28, "the other 28 refused");
    assert_eq!(s.device.refused().len(), refused);
}

#[test]
fn chl_5_a_phone_that_was_off_when_the_window_opened_can_still_answer() {
    // Issued when the window opened; the phone comes back on two hours later.
    let mut a = setup(true, 1, 1);
    let w = morning(&a);
    let c = challenge(&a, ChallengeKind::Scheduled, w.0, w, 1);
    assert!(a.device.accept(c, w.0.plus(2 * 3_600)).is_ok());
    // Received in the grace period after the window: still answerable.
    let mut b = setup(true, 1, 1);
    let c = challenge(&b, ChallengeKind::Scheduled, w.0.plus(60), w, 1);
    assert!(b.device.accept(c, w.1.plus(30 * 60)).is_ok());
    // Received once the grace period is over: refused.
    let mut late = setup(true, 1, 1);
    let c = challenge(&late, ChallengeKind::Scheduled, w.0, w, 1);
    let end = w.1.plus(late.world.policy.grace_seconds());
    assert_eq!(late.device.accept(c, end).unwrap_err(), Refusal::Stale);
}

/// A receipt signed by the log but not yet cosigned is kept as provisional; one the
/// witness cosigned replaces it and is never replaced by a provisional one again; a receipt
/// with a bad cosignature, or for another entry, is refused and changes nothing.
#[test]
fn chk_32_receipts_are_provisional_until_the_witness_cosigns() {
    use minimis_client::{ReceiptError, ReceiptStatus};
    use minimis_log::{Cosigner, KeyName, LogEntry, MemoryStorage, NoteSigner, Witness};

    let probe = World::new(&[]);
    let e = probe.policy.epoch_at(NOW).unwrap();
    let world = World::new(&[e, e.next().unwrap()]);
    let p = world.participant();
    let tags = minimis_crypto::TagKey::from_bytes(zeroize::Zeroizing::new(*p.tags.expose_secret()));
    let operator = SigningKey::from_seed(world.operator_key.expose_seed()).unwrap();
    let log_signer = NoteSigner::new(
        KeyName::new("test/log").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let cosigner = Cosigner::new(
        KeyName::new("oversight.example/witness").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let enrollment = Enrollment {
        pseudonym: p.pseudonym,
        schedule: p.schedule.clone(),
        zone: None,
        policy: world.policy.clone().into(),
        policy_text: DEFAULT_POLICY_TOML.into(),
        operator_key: operator.public_key(),
        log_key: log_signer.verifier_key(),
        witnesses: vec![cosigner.verifier_key()],
        custodians: world.custodian_keys(),
    };
    let mut s = Setup {
        device: Device::new(enrollment, p.device, p.tags),
        world,
        operator,
    };
    let w = morning(&s);
    let accepted = s
        .device
        .accept(challenge(&s, ChallengeKind::Scheduled, NOW, w, 1), NOW)
        .unwrap();
    let mut gps = Counting {
        fixes: 0,
        at: (0.0, 0.0),
    };
    let recipients = s.world.published(s.world.now_epoch());
    s.device
        .check_in(accepted, &mut gps, &mut NotRequired, "", &recipients, NOW)
        .unwrap();
    let sent = s.device.sent()[0].clone();

    // The operator logs the check-in, as the server does.
    let entry = LogEntry::CheckInReceived {
        tag: tags.tag(&s.device.pseudonym(), sent.epoch),
        record: sent.record_id,
        challenge: sent.challenge,
        epoch: sent.epoch,
    };
    let other = LogEntry::PolicyPublished {
        policy: s.world.policy.hash(),
    };
    let mut log = minimis_log::Log::create(MemoryStorage::default(), log_signer).unwrap();
    log.append_entries(&[other, entry]).unwrap();
    let receipt = |log: &minimis_log::Log<MemoryStorage>, index| Receipt {
        record_id: sent.record_id,
        tlog_proof: log.tlog_proof(index).unwrap().to_string(),
    };

    // Uncosigned: provisional, and still to fetch again.
    let provisional = receipt(&log, 1);
    assert_eq!(
        s.device.keep_receipt(provisional.clone()).unwrap(),
        ReceiptStatus::Provisional
    );
    assert!(!s.device.sent()[0].witnessed);
    assert_eq!(s.device.provisional_receipts(), vec![sent.record_id]);

    // A proof of another entry is refused, even though the log signed it.
    let wrong = Receipt {
        record_id: sent.record_id,
        tlog_proof: log.tlog_proof(0).unwrap().to_string(),
    };
    assert!(matches!(
        s.device.keep_receipt(wrong),
        Err(ReceiptError::Invalid(_))
    ));
    assert_eq!(s.device.sent()[0].receipt.as_ref(), Some(&provisional));

    // The witness cosigns: the receipt fetched again is witnessed.
    let mut witness = Witness::new(cosigner, log.verifier_key()).unwrap();
    let sig = witness
        .cosign(log.checkpoint().to_string().as_bytes(), &[], NOW)
        .unwrap();
    log.add_cosignature(sig, &witness.verifier_key()).unwrap();
    let witnessed = receipt(&log, 1);

    // A cosignature that does not verify is refused, not taken as provisional.
    let text = witnessed.tlog_proof.clone();
    let line = text
        .lines()
        .find(|l| l.starts_with("— oversight.example/witness "))
        .unwrap();
    let b64 = line.rsplit(' ').next().unwrap();
    use base64::Engine as _;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let forged = Receipt {
        record_id: sent.record_id,
        tlog_proof: text.replace(b64, &base64::engine::general_purpose::STANDARD.encode(&raw)),
    };
    assert!(matches!(
        s.device.keep_receipt(forged),
        Err(ReceiptError::Invalid(_))
    ));
    assert!(!s.device.sent()[0].witnessed);

    assert_eq!(
        s.device.keep_receipt(witnessed.clone()).unwrap(),
        ReceiptStatus::Witnessed
    );
    assert!(s.device.sent()[0].witnessed);
    assert!(s.device.provisional_receipts().is_empty());

    // A provisional receipt never replaces a witnessed one.
    assert_eq!(
        s.device.keep_receipt(provisional).unwrap(),
        ReceiptStatus::Witnessed
    );
    assert_eq!(s.device.sent()[0].receipt.as_ref(), Some(&witnessed));
}
