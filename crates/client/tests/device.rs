//! The device against a hostile or careless server: challenges beyond the schedule are
//! refused, and no location fix is ever taken without an accepted challenge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::presence::NotRequired;
use minimis_client::{Device, Refusal};
use minimis_crypto::{SigningKey, sign_challenge};
use minimis_proto::*;
use minimis_testkit::device::{self, log_signer};
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
    let world = World::keyed_at(NOW, 1);
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
    let zone = zone.then(|| Zone::from_geojson(ZONE).unwrap());
    let log = log_signer(&[0x4c; 32]).verifier_key();
    Setup {
        device: device::device(&world, p, schedule, zone, log, vec![]),
        operator: world.operator(),
        world,
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
    // The same challenge again (the server lists open challenges): no second acceptance
    // (CHL-11), and nothing changes.
    assert_eq!(
        s.device.accept(first, NOW).unwrap_err(),
        Refusal::AlreadyAccepted
    );
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
    assert_eq!(s.device.refusals().total(), 8);
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

/// A location source that records, for every fix the library asks for, the challenge it
/// is for and the device's clock at that moment (set by the test before each check-in).
#[derive(Default)]
struct Recording {
    now: i64,
    fixes: Vec<(ChallengeId, i64)>,
}

impl LocationSource for Recording {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        self.fixes.push((cap.challenge(), self.now));
        Ok(cap.into_fix(41.88, -87.63))
    }
}

/// A device enrolled with a zone and `windows` (Chicago), with the world keyed for every
/// epoch from [`NOW`]'s to `weeks` weeks later.
fn setup_with(windows: &[(Weekday, &str, &str)], daily: u8, adhoc: u8, weeks: i64) -> Setup {
    let world = World::keyed_between(NOW.plus(-7 * 86_400), NOW.plus(weeks * 7 * 86_400));
    let p = world.participant();
    let windows = windows
        .iter()
        .map(|(weekday, a, b)| Window {
            weekday: *weekday,
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        })
        .collect();
    let schedule = Schedule::new("America/Chicago", windows, daily, adhoc).unwrap();
    let zone = Some(Zone::from_geojson(ZONE).unwrap());
    let log = log_signer(&[0x4c; 32]).verifier_key();
    Setup {
        device: device::device(&world, p, schedule, zone, log, vec![]),
        operator: world.operator(),
        world,
    }
}

/// A challenge signed by the operator with every field chosen by the test.
fn signed(
    s: &Setup,
    id: [u8; 16],
    kind: ChallengeKind,
    issued_at: UnixTime,
    window: WindowSpan,
) -> SignedChallenge {
    sign_challenge(
        &s.operator,
        Challenge {
            id: ChallengeId::from_bytes(id),
            pseudonym: s.device.pseudonym(),
            epoch: s.world.policy.epoch_at(NOW).unwrap(),
            kind,
            issued_at,
            window_start: window.start,
            window_end: window.end,
            policy: s.world.policy.hash(),
        },
    )
}

fn id(n: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[15] = 1;
    b
}

/// The bypass (issue 13): ad-hoc challenges signed with decreasing issue times each found
/// no earlier ad-hoc one "before" it, so a device with an ad-hoc cap of 1 answered as
/// many as the daily cap allowed in one window. Equal and far-future issue times must not
/// help either. The device counts each challenge where its own clock places it.
#[test]
fn chl_8_chl_9_the_ad_hoc_cap_holds_whatever_issue_times_the_operator_signs() {
    let mut s = setup(true, 3, 1);
    let w = morning(&s);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    let mut gps = Recording::default();
    let published = s.world.published(s.world.now_epoch());
    // 11:00 in Chicago: the device takes one ad-hoc challenge, issued at 11:00.
    let mut now = w.0.plus(2 * 3_600);
    let first = signed(&s, id(1), ChallengeKind::AdHoc, now, window);
    let a = s.device.accept(first, now).unwrap();
    gps.now = now.seconds();
    s.device
        .check_in(a, &mut gps, &mut NotRequired, "", &published, now)
        .unwrap();
    // Then the operator signs more, each claiming to be issued earlier than the last, or
    // at the same time, or a little ahead of the device's clock.
    let claims = [
        now.plus(-60),
        now.plus(-1_800),
        now.plus(-3_600),
        w.0,
        now,
        now.plus(minimis_client::CLOCK_SKEW),
    ];
    for (k, claim) in claims.into_iter().enumerate() {
        now = now.plus(60);
        let c = signed(&s, id(10 + k as u32), ChallengeKind::AdHoc, claim, window);
        assert_eq!(
            s.device.accept(c, now).unwrap_err(),
            Refusal::AdHocCapReached,
            "issued at {claim:?}, received at {now:?}"
        );
    }
    // Far in the future, in the window of that day: refused as not current.
    let far = NOW.plus(7 * 86_400 * 52);
    let far_window = s.device.enrollment().schedule.window_at(far).unwrap();
    let c = signed(&s, id(30), ChallengeKind::AdHoc, far, far_window);
    assert_eq!(s.device.accept(c, now).unwrap_err(), Refusal::Stale);
    // A week later (within 30 days), whatever it claims: still over the cap.
    let next = w.0.plus(7 * 86_400 + 3_600);
    let next_window = s.device.enrollment().schedule.window_at(next).unwrap();
    for (k, claim) in [next, next_window.start, next.plus(-1)]
        .into_iter()
        .enumerate()
    {
        let c = signed(
            &s,
            id(40 + k as u32),
            ChallengeKind::AdHoc,
            claim,
            next_window,
        );
        assert_eq!(
            s.device.accept(c, next.plus(k as i64)).unwrap_err(),
            Refusal::AdHocCapReached
        );
    }
    // Five weeks later (past 30 days of the device's clock): one more.
    let later = w.0.plus(35 * 86_400 + 3_600);
    let later_window = s.device.enrollment().schedule.window_at(later).unwrap();
    let c = signed(
        &s,
        id(50),
        ChallengeKind::AdHoc,
        later_window.start,
        later_window,
    );
    assert!(s.device.accept(c, later).is_ok());
    assert_eq!(gps.fixes.len(), 1, "one ad-hoc fix in 30 days");
    assert_eq!(s.device.fixes_taken(), 1);
}

/// A check-in counts again at the device's time of answering (CHL-9): if the clock went
/// back after another ad-hoc challenge was answered "later", answering now would put two
/// ad-hoc fixes within 30 days of the device's clock, and no fix is taken.
#[test]
fn chl_9_a_check_in_counts_again_when_the_clock_went_back() {
    let mut s = setup_with(
        &[
            (Weekday::Thursday, "09:00", "12:00"),
            (Weekday::Saturday, "09:00", "12:00"),
        ],
        1,
        1,
        6,
    );
    let schedule = s.device.enrollment().schedule.clone();
    let mut gps = Recording::default();
    let recipients =
        |s: &Setup, t: UnixTime| s.world.published(s.world.policy.epoch_at(t).unwrap());
    // Thursday 10:00: an ad-hoc challenge, accepted and kept for later.
    let w = schedule.window_at(NOW).unwrap();
    let a = signed(&s, id(1), ChallengeKind::AdHoc, NOW, w);
    let a = s.device.accept(a, NOW).unwrap();
    // The clock jumps 30 days and a minute ahead (Saturday 10:01): another ad-hoc
    // challenge is more than 30 days after the first, and is answered.
    let later = NOW.plus(30 * 86_400 + 60);
    let w2 = schedule.window_at(later).unwrap();
    let b = signed(&s, id(2), ChallengeKind::AdHoc, later, w2);
    let b = s.device.accept(b, later).unwrap();
    gps.now = later.seconds();
    let r = recipients(&s, later);
    s.device
        .check_in(b, &mut gps, &mut NotRequired, "", &r, later)
        .unwrap();
    // The clock goes back to Thursday 11:00: answering the first now would put two ad-hoc
    // fixes less than 30 days apart.
    let back = NOW.plus(3_600);
    gps.now = back.seconds();
    let r = recipients(&s, back);
    let err = s
        .device
        .check_in(a, &mut gps, &mut NotRequired, "", &r, back)
        .unwrap_err();
    assert!(
        matches!(
            err,
            minimis_client::CheckInError::Schedule(ScheduleViolation::AdHocCapReached { cap: 1 })
        ),
        "{err:?}"
    );
    assert_eq!(gps.fixes.len(), 1);
    assert_eq!(s.device.fixes_taken(), 1);
}

/// The device places a challenge in its window by the device's clock: a window that has
/// not opened (more than the clock skew ahead) or whose grace period has ended is refused,
/// whatever the challenge claims; the issue time can only make it refuse.
#[test]
fn chl_8_the_window_must_be_open_by_the_devices_clock() {
    let s0 = setup(true, 2, 2);
    let w = morning(&s0);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    let grace = s0.world.policy.grace_seconds();
    let skew = minimis_client::CLOCK_SKEW;
    for (now, ok) in [
        (w.0.plus(-skew - 1), false),
        (w.0.plus(-skew), true),
        (w.1.plus(grace - 1), true),
        (w.1.plus(grace), false),
    ] {
        let mut s = setup(true, 2, 2);
        let c = signed(&s, id(1), ChallengeKind::Scheduled, w.0, window);
        let r = s.device.accept(c, now);
        assert_eq!(r.is_ok(), ok, "{now:?}: {:?}", r.err());
        if !ok {
            assert_eq!(r.unwrap_err(), Refusal::Stale);
        }
    }
    // An issue time more than the skew ahead of the device's clock: refused.
    let mut s = setup(true, 2, 2);
    let c = signed(
        &s,
        id(2),
        ChallengeKind::Scheduled,
        w.0.plus(3_600 + skew + 1),
        window,
    );
    assert_eq!(
        s.device.accept(c, w.0.plus(3_600)).unwrap_err(),
        Refusal::Stale
    );
}

/// One `Accepted` per challenge (CHL-11): a second accept of its id is refused, whether the
/// operator sends it again as it was or signs the id again with other content (which is
/// kept as evidence), and counts nothing; once answered, the id is a replay. An `Accepted`
/// given back can be resumed, one at a time.
#[test]
fn chl_11_a_challenge_is_accepted_once() {
    let mut s = setup(true, 2, 2);
    let w = morning(&s);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    let c = signed(&s, id(1), ChallengeKind::Scheduled, NOW, window);
    let a = s.device.accept(c.clone(), NOW).unwrap();
    assert_eq!(
        s.device.accept(c.clone(), NOW.plus(1)).unwrap_err(),
        Refusal::AlreadyAccepted
    );
    let resigned = signed(&s, id(1), ChallengeKind::AdHoc, NOW.plus(5), window);
    assert_eq!(
        s.device.accept(resigned.clone(), NOW.plus(2)).unwrap_err(),
        Refusal::AlreadyAccepted
    );
    assert_eq!(s.device.accepted().count(), 1);
    assert_eq!(
        s.device.refusals().total(),
        1,
        "the challenge sent again changes nothing; the re-signed one is evidence"
    );
    assert_eq!(s.device.refused().len(), 1);
    assert_eq!(s.device.refused()[0].challenge, resigned);
    let cid = ChallengeId::from_bytes(id(1));
    // While `a` is held, no second one.
    assert_eq!(
        s.device.resume(cid, NOW).unwrap_err(),
        minimis_client::ResumeError::Held
    );
    s.device.release(a);
    let a = s.device.resume(cid, NOW).unwrap();
    assert_eq!(
        s.device.resume(cid, NOW).unwrap_err(),
        minimis_client::ResumeError::Held
    );
    let mut gps = Recording::default();
    let published = s.world.published(s.world.now_epoch());
    s.device
        .check_in(a, &mut gps, &mut NotRequired, "", &published, NOW)
        .unwrap();
    assert_eq!(
        s.device.accept(c, NOW.plus(3)).unwrap_err(),
        Refusal::Replay
    );
    assert_eq!(
        s.device.resume(cid, NOW).unwrap_err(),
        minimis_client::ResumeError::AlreadyAnswered
    );
    assert_eq!(gps.fixes.len(), 1);
    // The ad-hoc budget is untouched: the re-signed ad-hoc challenge counted nothing.
    let adhoc = signed(&s, id(2), ChallengeKind::AdHoc, NOW.plus(10), window);
    assert!(s.device.accept(adhoc, NOW.plus(10)).is_ok());
}

/// A check-in answers a challenge once (CHL-12): an `Accepted` for a challenge already
/// answered (here one resumed in a copy of the device made before the answer) is refused
/// and takes no fix; so is one from another device, one whose window has closed by the
/// device's clock, and a failed check-in leaves the challenge answerable.
#[test]
fn chl_12_check_in_answers_a_challenge_once() {
    let mut s = setup(true, 2, 2);
    let w = morning(&s);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    let published = s.world.published(s.world.now_epoch());
    let mut gps = Recording::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    let c = signed(&s, id(1), ChallengeKind::Scheduled, NOW, window);
    let first = s.device.accept(c, NOW).unwrap();
    // A copy of the device, made while the challenge was accepted and not answered, hands
    // out another `Accepted` for it (it holds none).
    minimis_client::store::save(&s.device, &path, "pass").unwrap();
    let mut copy = minimis_client::store::load(&path, "pass").unwrap();
    let second = copy
        .resume(ChallengeId::from_bytes(id(1)), NOW.plus(60))
        .unwrap();
    // A check-in with bad recipients fails before the fix and leaves it answerable.
    let err = s
        .device
        .check_in(first, &mut gps, &mut NotRequired, "", &[], NOW)
        .unwrap_err();
    assert!(
        matches!(err, minimis_client::CheckInError::Recipients(_)),
        "{err:?}"
    );
    assert!(gps.fixes.is_empty());
    let first = s
        .device
        .resume(ChallengeId::from_bytes(id(1)), NOW)
        .unwrap();
    s.device
        .check_in(first, &mut gps, &mut NotRequired, "", &published, NOW)
        .unwrap();
    assert_eq!(gps.fixes.len(), 1);
    // The device, restarted after the answer, refuses the copy's `Accepted`.
    minimis_client::store::save(&s.device, &path, "pass").unwrap();
    let mut restarted = minimis_client::store::load(&path, "pass").unwrap();
    let err = restarted
        .check_in(
            second,
            &mut gps,
            &mut NotRequired,
            "",
            &published,
            NOW.plus(120),
        )
        .unwrap_err();
    assert!(
        matches!(err, minimis_client::CheckInError::AlreadyAnswered),
        "{err:?}"
    );
    assert_eq!(gps.fixes.len(), 1, "no second fix for one challenge");
    assert_eq!(restarted.fixes_taken(), 1);

    // An `Accepted` from another device, which never accepted the challenge.
    let mut other = setup(true, 2, 2);
    let c = signed(&other, id(2), ChallengeKind::Scheduled, NOW, window);
    let theirs = other.device.accept(c, NOW).unwrap();
    let err = s
        .device
        .check_in(theirs, &mut gps, &mut NotRequired, "", &published, NOW)
        .unwrap_err();
    assert!(
        matches!(
            err,
            minimis_client::CheckInError::NotMine | minimis_client::CheckInError::NotAccepted
        ),
        "{err:?}"
    );

    // Accepted in the window, answered after its grace period: refused, no fix.
    let mut late = setup(true, 2, 2);
    let c = signed(&late, id(3), ChallengeKind::Scheduled, NOW, window);
    let a = late.device.accept(c, NOW).unwrap();
    let after = w.1.plus(late.world.policy.grace_seconds());
    let mut gps = Recording::default();
    let err = late
        .device
        .check_in(a, &mut gps, &mut NotRequired, "", &published, after)
        .unwrap_err();
    assert!(
        matches!(err, minimis_client::CheckInError::Stale),
        "{err:?}"
    );
    assert!(gps.fixes.is_empty());
    assert_eq!(
        late.device
            .resume(ChallengeId::from_bytes(id(3)), after)
            .unwrap_err(),
        minimis_client::ResumeError::Stale
    );
    assert!(late.device.answerable(after).is_empty());
    assert_eq!(
        late.device.answerable(NOW),
        vec![ChallengeId::from_bytes(id(3))]
    );
}

/// A hostile operator cannot make the device's record of refusals grow without bound, nor
/// push out the evidence of one reason with refusals for another (CHL-13); the counts are
/// exact, and they survive a restart.
#[test]
fn chl_13_refusals_are_counted_and_kept_within_a_bound() {
    use minimis_client::REFUSALS_KEPT_PER_REASON as KEPT;
    let mut s = setup(true, 1, 0);
    let w = morning(&s);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    // One ad-hoc challenge beyond the cap of 0: the evidence that matters.
    let over = signed(&s, id(1), ChallengeKind::AdHoc, NOW, window);
    assert_eq!(
        s.device.accept(over.clone(), NOW).unwrap_err(),
        Refusal::AdHocCapReached
    );
    // Then a flood: 600 outside every window, 600 with a broken signature, and the same
    // challenge 100 times more (which changes nothing).
    let night = NOW.plus(12 * 3_600);
    let mut outside = Vec::new();
    for n in 0..600u32 {
        let c = signed(
            &s,
            id(1_000 + n),
            ChallengeKind::AdHoc,
            night,
            WindowSpan {
                start: night,
                end: night.plus(60),
            },
        );
        outside.push(c.clone());
        assert_eq!(
            s.device.accept(c, NOW.plus(i64::from(n))).unwrap_err(),
            Refusal::OutsideWindow
        );
        let mut bad = signed(&s, id(5_000 + n), ChallengeKind::Scheduled, NOW, window);
        bad.signature.0[0] ^= 1;
        assert_eq!(
            s.device.accept(bad, NOW.plus(i64::from(n))).unwrap_err(),
            Refusal::BadSignature
        );
    }
    for _ in 0..100 {
        assert!(s.device.accept(over.clone(), NOW.plus(700)).is_err());
    }
    let check = |d: &Device| {
        let r = d.refusals();
        assert_eq!(r.counts()[&Refusal::OutsideWindow], 600);
        assert_eq!(r.counts()[&Refusal::BadSignature], 600);
        assert_eq!(r.counts()[&Refusal::AdHocCapReached], 1);
        assert_eq!(r.total(), 1_201);
        assert_eq!(d.refused().len(), 1 + 2 * KEPT, "{:?}", r.counts());
        let kept = |reason| -> Vec<SignedChallenge> {
            d.refused()
                .iter()
                .filter(|k| k.reason == reason)
                .map(|k| k.challenge.clone())
                .collect()
        };
        assert_eq!(kept(Refusal::AdHocCapReached), vec![over.clone()]);
        // The first refused for a reason, and the newest.
        let mut want = vec![outside[0].clone()];
        want.extend_from_slice(&outside[600 - (KEPT - 1)..]);
        assert_eq!(kept(Refusal::OutsideWindow), want);
    };
    check(&s.device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    minimis_client::store::save(&s.device, &path, "pass").unwrap();
    check(&minimis_client::store::load(&path, "pass").unwrap());
    // The file is bounded too: well under what 1,201 signed challenges would take.
    assert!(std::fs::metadata(&path).unwrap().len() < 64 * 1024);
}

/// What the device accepted and answered survives a restart (CHL-14): the counts are not
/// reset, a challenge accepted and not answered can be resumed, and an answered one is a
/// replay.
#[test]
fn chl_14_a_restart_does_not_reset_the_counts() {
    let mut s = setup(true, 2, 1);
    let w = morning(&s);
    let window = WindowSpan {
        start: w.0,
        end: w.1,
    };
    let published = s.world.published(s.world.now_epoch());
    let mut gps = Recording::default();
    let answered = signed(&s, id(1), ChallengeKind::Scheduled, NOW, window);
    let a = s.device.accept(answered.clone(), NOW).unwrap();
    s.device
        .check_in(a, &mut gps, &mut NotRequired, "", &published, NOW)
        .unwrap();
    let pending = signed(&s, id(2), ChallengeKind::AdHoc, NOW.plus(60), window);
    let _held = s.device.accept(pending, NOW.plus(60)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    minimis_client::store::save(&s.device, &path, "pass").unwrap();
    let mut d = minimis_client::store::load(&path, "pass").unwrap();
    // The daily cap of 2 is reached in the afternoon window too, and the ad-hoc cap of 1
    // for 30 days of the device's clock.
    let afternoon = d
        .enrollment()
        .schedule
        .window_at(NOW.plus(4 * 3_600 + 1_800))
        .unwrap();
    let c = signed(
        &s,
        id(3),
        ChallengeKind::Scheduled,
        afternoon.start,
        afternoon,
    );
    assert_eq!(
        d.accept(c, afternoon.start).unwrap_err(),
        Refusal::DailyCapReached
    );
    let next = NOW.plus(7 * 86_400);
    let next_window = d.enrollment().schedule.window_at(next).unwrap();
    let c = signed(&s, id(4), ChallengeKind::AdHoc, next, next_window);
    assert_eq!(d.accept(c, next).unwrap_err(), Refusal::AdHocCapReached);
    assert_eq!(
        d.accept(answered, NOW.plus(120)).unwrap_err(),
        Refusal::Replay
    );
    // The pending one is answered after the restart, once.
    let a = d
        .resume(ChallengeId::from_bytes(id(2)), NOW.plus(180))
        .unwrap();
    d.check_in(a, &mut gps, &mut NotRequired, "", &published, NOW.plus(180))
        .unwrap();
    assert_eq!(gps.fixes.len(), 2);
    assert_eq!(d.fixes_taken(), 2);
}

/// A device store written in the first format (`tests/data/device-v1.age`, see its
/// README) is read: what it accepted and answered keeps counting, and its refusals are
/// counted (CHL-14).
#[test]
fn chl_14_a_format_1_store_is_read_and_keeps_its_counts() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/device-v1.age");
    let mut d = minimis_client::store::load(&path, "fixture passphrase").unwrap();
    let ids: Vec<ChallengeId> = d.accepted().map(|(c, _)| c.id).collect();
    assert_eq!(
        ids,
        vec![
            ChallengeId::from_bytes([1; 16]),
            ChallengeId::from_bytes([2; 16])
        ]
    );
    assert_eq!(d.sent().len(), 1);
    assert_eq!(d.sent()[0].payload.note.expose(), "on the bus");
    assert_eq!(d.fixes_taken(), 1);
    let r = d.refusals();
    assert_eq!(r.counts()[&Refusal::DailyCapReached], 1);
    assert_eq!(r.counts()[&Refusal::BadSignature], 1);
    assert_eq!(r.total(), 2);
    assert_eq!(d.refused().len(), 2);
    // The answered one stays answered; the pending one can be answered (in its window,
    // by the device's clock); the day's cap of 2 is still reached.
    assert_eq!(
        d.resume(ChallengeId::from_bytes([1; 16]), NOW).unwrap_err(),
        minimis_client::ResumeError::AlreadyAnswered
    );
    assert_eq!(
        d.resume(ChallengeId::from_bytes([2; 16]), NOW.plus(24 * 3_600))
            .unwrap_err(),
        minimis_client::ResumeError::Stale
    );
    let pending = d.resume(ChallengeId::from_bytes([2; 16]), NOW.plus(300));
    assert!(pending.is_ok());
    let kept = d.refused()[0].challenge.clone();
    assert_eq!(
        d.accept(kept, NOW.plus(360)).unwrap_err(),
        Refusal::DailyCapReached
    );
    // Written again, it is format 2, and reads back the same.
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("device.age");
    minimis_client::store::save(&d, &again, "pass").unwrap();
    let back = minimis_client::store::load(&again, "pass").unwrap();
    assert_eq!(back.refusals(), d.refusals());
    assert_eq!(
        back.accepted().collect::<Vec<_>>(),
        d.accepted().collect::<Vec<_>>()
    );
}

/// The device's clock, as the property test moves it (never back).
#[derive(Debug, Clone)]
enum Clock {
    Stay,
    Advance(i64),
    /// To `offset` seconds from the opening of the `ahead`-th window occurrence whose
    /// grace period has not ended.
    Jump {
        ahead: usize,
        offset: i64,
    },
}

/// The window a hostile operator names.
#[derive(Debug, Clone)]
enum Named {
    /// The occurrence `k` places from the first whose grace period has not ended (-1: the
    /// one before it).
    Occurrence(i64),
    /// The enrolled occurrence around the claimed issue time, if there is one.
    AroundIssue,
    /// Made up: from `a` seconds from the device's clock, `len` long.
    MadeUp(i64, i64),
}

/// The issue time a hostile operator claims.
#[derive(Debug, Clone)]
enum Claim {
    /// Somewhere in the named window.
    InWindow(i64),
    /// The device's clock, or a little ahead of it.
    Ahead(i64),
    /// The previous claim again.
    Same,
    /// Earlier than the previous claim.
    Before(i64),
    /// Far in the future.
    Far(i64),
}

#[derive(Debug, Clone)]
enum Act {
    /// The operator sends a challenge: fresh, a re-send of an earlier one, or an earlier
    /// id signed again; the device answers it at once if `answer` and it accepts it.
    Send {
        adhoc: bool,
        named: Named,
        claim: Claim,
        reuse: Option<(usize, bool)>,
        bad_signature: bool,
        answer: bool,
    },
    /// The device answers an `Accepted` it holds.
    Answer(usize),
    /// The device resumes a challenge it accepted earlier.
    Resume(usize),
    /// The device gives back an `Accepted` it holds.
    Release(usize),
    /// The operator sends `n` fresh challenges at once in the window open now, each
    /// claiming to be issued a minute before the last; the device answers what it accepts.
    Burst { n: usize, adhoc: bool },
}

fn clock() -> impl Strategy<Value = Clock> {
    let ahead = prop_oneof![4 => Just(0usize), 1 => 1usize..4];
    prop_oneof![
        4 => Just(Clock::Stay),
        4 => (0i64..600).prop_map(Clock::Advance),
        1 => (0i64..(4 * 86_400)).prop_map(Clock::Advance),
        3 => (ahead, -600i64..(4 * 3_600)).prop_map(|(ahead, offset)| Clock::Jump { ahead, offset }),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    let named = prop_oneof![
        6 => Just(Named::Occurrence(0)),
        2 => (-1i64..2).prop_map(Named::Occurrence),
        1 => Just(Named::AroundIssue),
        1 => (-86_400i64..86_400, 1i64..20_000).prop_map(|(a, l)| Named::MadeUp(a, l)),
    ];
    let claim = prop_oneof![
        3 => (0i64..20_000).prop_map(Claim::InWindow),
        2 => (0i64..600).prop_map(Claim::Ahead),
        1 => Just(Claim::Same),
        3 => (1i64..3_600).prop_map(Claim::Before),
        1 => (1i64..100_000).prop_map(Claim::Before),
        1 => (1_000i64..1_000_000_000).prop_map(Claim::Far),
    ];
    prop_oneof![
        6 => (
            any::<bool>(),
            named,
            claim,
            prop::option::weighted(0.15, (0usize..1_000, any::<bool>())),
            prop::bool::weighted(0.05),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(adhoc, named, claim, reuse, bad_signature, answer)| Act::Send {
                adhoc,
                named,
                claim,
                reuse,
                bad_signature,
                answer,
            }),
        1 => (1usize..6, any::<bool>()).prop_map(|(n, adhoc)| Act::Burst { n, adhoc }),
        2 => (0usize..1_000).prop_map(Act::Answer),
        1 => (0usize..1_000).prop_map(Act::Resume),
        1 => (0usize..1_000).prop_map(Act::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// For any sequence of operator-signed challenges (any kind, any window, issue times
    /// decreasing, equal, ahead or far in the future, re-sent or re-signed ids), with the
    /// device's clock advancing arbitrarily and the device answering at once, later or
    /// after resuming, the calls to the platform's location source are at most what the
    /// schedule allows: one per challenge, each while its window (or grace period) is open
    /// by the device's clock; per window occurrence at most one scheduled and at most the
    /// daily cap; per local day of the device's clock at most the daily cap; and in any 30
    /// days of the device's clock at most the ad-hoc cap of ad-hoc ones (CHL-15).
    #[test]
    fn chl_15_loc_3_hostile_server_cannot_get_more_fixes_than_the_schedule_allows(
        daily in 2u8..=3,
        adhoc in 0u8..=2,
        steps in proptest::collection::vec((clock(), act()), 1..150),
    ) {
        use std::collections::HashMap;
        let mut s = setup_with(
            &[
                (Weekday::Monday, "09:00", "12:00"),
                (Weekday::Thursday, "09:00", "12:00"),
                (Weekday::Thursday, "14:00", "15:00"),
            ],
            daily,
            adhoc,
            11,
        );
        let schedule = s.device.enrollment().schedule.clone();
        let policy = s.world.policy.clone();
        let grace = policy.grace_seconds();
        let skew = minimis_client::CLOCK_SKEW;
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let day = |t: i64| tz.to_datetime(jiff::Timestamp::from_second(t).unwrap()).date();
        let start = NOW.plus(-3 * 86_400);
        let end = NOW.plus(10 * 7 * 86_400);
        let spans = schedule.spans_between(start.plus(-7 * 86_400), end.plus(7 * 86_400));
        // Every window, from the skew before it to its grace period after it, lies within
        // its local day: so counting per day by the device's clock is meaningful here.
        for w in &spans {
            prop_assert_eq!(day(w.start.seconds() - skew), day(w.end.seconds() + grace - 1));
        }
        let mut published = HashMap::new();
        let mut now = start;
        let mut gps = Recording::default();
        let mut sent: Vec<SignedChallenge> = Vec::new();
        let mut held: Vec<minimis_client::Accepted> = Vec::new();
        let mut ever: Vec<ChallengeId> = Vec::new();
        let mut challenges: HashMap<ChallengeId, Challenge> = HashMap::new();
        let mut last_claim = now;
        let mut next_id = 0u32;
        for (c, a) in steps {
            // The device's clock.
            let first_open = spans.iter().position(|w| now.seconds() < w.end.seconds() + grace).unwrap();
            now = match c {
                Clock::Stay => now,
                Clock::Advance(d) => now.plus(d),
                Clock::Jump { ahead, offset } => spans[first_open + ahead].start.plus(offset).max(now),
            };
            if now >= end {
                break;
            }
            let first_open = spans.iter().position(|w| now.seconds() < w.end.seconds() + grace).unwrap();
            let mut answer = |s: &mut Setup, gps: &mut Recording, token: minimis_client::Accepted, now: UnixTime| {
                gps.now = now.seconds();
                let e = policy.epoch_at(now).unwrap();
                let recipients = published.entry(e).or_insert_with(|| s.world.published(e)).clone();
                let _ = s.device.check_in(token, gps, &mut NotRequired, "", &recipients, now);
            };
            match a {
                Act::Send { adhoc, named, claim, reuse, bad_signature, answer: at_once } => {
                    let kind = if adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled };
                    let occurrence = |k: i64| spans[(first_open as i64 + k).max(0) as usize];
                    let issued = match claim {
                        Claim::InWindow(_) => None,
                        Claim::Ahead(d) => Some(now.plus(d)),
                        Claim::Same => Some(last_claim),
                        Claim::Before(d) => Some(last_claim.plus(-d)),
                        Claim::Far(d) => Some(now.plus(d)),
                    };
                    let window = match named {
                        Named::Occurrence(k) => occurrence(k),
                        Named::AroundIssue => issued
                            .and_then(|t| schedule.window_at(t))
                            .unwrap_or_else(|| occurrence(0)),
                        Named::MadeUp(a, l) => WindowSpan { start: now.plus(a), end: now.plus(a + l) },
                    };
                    let issued = issued.unwrap_or_else(|| match claim {
                        Claim::InWindow(o) => window.start.plus(o % (window.end.seconds() - window.start.seconds()).max(1)),
                        _ => now,
                    });
                    last_claim = issued;
                    let mut c = match reuse {
                        Some((i, same)) if !sent.is_empty() => {
                            let earlier = sent[i % sent.len()].clone();
                            if same {
                                earlier
                            } else {
                                signed(&s, *earlier.challenge.id.as_bytes(), kind, issued, window)
                            }
                        }
                        _ => {
                            next_id += 1;
                            signed(&s, id(next_id), kind, issued, window)
                        }
                    };
                    if bad_signature {
                        c.signature.0[7] ^= 0x20;
                    }
                    sent.push(c.clone());
                    if let Ok(token) = s.device.accept(c, now) {
                        let ch = token.challenge().clone();
                        prop_assert!(!ever.contains(&ch.id), "a second acceptance of one id");
                        ever.push(ch.id);
                        challenges.insert(ch.id, ch);
                        if at_once {
                            answer(&mut s, &mut gps, token, now);
                        } else {
                            held.push(token);
                        }
                    }
                }
                Act::Answer(i) => {
                    if !held.is_empty() {
                        let token = held.swap_remove(i % held.len());
                        answer(&mut s, &mut gps, token, now);
                    }
                }
                Act::Resume(i) => {
                    if !ever.is_empty()
                        && let Ok(token) = s.device.resume(ever[i % ever.len()], now)
                    {
                        held.push(token);
                    }
                }
                Act::Burst { n, adhoc } => {
                    let kind = if adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled };
                    let window = spans[first_open];
                    for k in 0..n {
                        next_id += 1;
                        let claim = now.min(window.end.plus(-1)).plus(-60 * k as i64).max(window.start);
                        let c = signed(&s, id(next_id), kind, claim, window);
                        sent.push(c.clone());
                        if let Ok(token) = s.device.accept(c, now) {
                            let ch = token.challenge().clone();
                            prop_assert!(!ever.contains(&ch.id), "a second acceptance of one id");
                            ever.push(ch.id);
                            challenges.insert(ch.id, ch);
                            answer(&mut s, &mut gps, token, now);
                        }
                    }
                }
                Act::Release(i) => {
                    if !held.is_empty() {
                        let token = held.swap_remove(i % held.len());
                        s.device.release(token);
                    }
                }
            }
        }

        // Every call to the location source is counted by the device...
        prop_assert_eq!(gps.fixes.len() as u64, s.device.fixes_taken());
        // ...is for a challenge the device accepted, once...
        let mut seen = Vec::new();
        for (c, _) in &gps.fixes {
            prop_assert!(challenges.contains_key(c));
            prop_assert!(!seen.contains(c), "two fixes for one challenge");
            seen.push(*c);
        }
        // ...and is taken in an enrolled window of the challenge's, open by the device's
        // clock (from the skew before it to the grace period after it).
        for (c, t) in &gps.fixes {
            let w = WindowSpan { start: challenges[c].window_start, end: challenges[c].window_end };
            prop_assert!(schedule.is_occurrence(w), "a fix for a window not enrolled");
            prop_assert!(w.start.seconds() - skew <= *t && *t < w.end.seconds() + grace);
        }
        let daily = usize::from(schedule.daily_cap());
        for (c, t) in &gps.fixes {
            let ch = &challenges[c];
            // Per window occurrence.
            let same_window: Vec<_> = gps.fixes.iter()
                .filter(|(d, _)| challenges[d].window_start == ch.window_start)
                .collect();
            prop_assert!(same_window.len() <= daily);
            prop_assert!(same_window.iter().filter(|(d, _)| challenges[d].kind == ChallengeKind::Scheduled).count() <= 1);
            // Per local day of the device's clock.
            prop_assert!(gps.fixes.iter().filter(|(_, u)| day(*u) == day(*t)).count() <= daily);
            // Ad hoc, in the 30 days of the device's clock up to this fix.
            if ch.kind == ChallengeKind::AdHoc {
                let n = gps.fixes.iter()
                    .filter(|(d, u)| challenges[d].kind == ChallengeKind::AdHoc && t - 30 * 86_400 < *u && u <= t)
                    .count();
                prop_assert!(n <= usize::from(schedule.adhoc_cap_30d()), "{} ad-hoc fixes in 30 days", n);
            }
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
    assert_eq!(s.device.refusals().total(), refused as u64);
    assert_eq!(
        s.device.refused().len(),
        minimis_client::REFUSALS_KEPT_PER_REASON,
        "all for one reason: the first and the newest kept"
    );
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

#[test]
fn chl_5_aud_40_a_challenge_signed_for_the_end_of_time_is_refused_not_a_panic() {
    // Found by the `messages` fuzz target (fuzz/regressions/messages/): the grace period
    // added to a window that ends at the end of time overflowed.
    let s = setup(true, 1, 1);
    let w = morning(&s);
    let end = UnixTime(i64::MAX);
    for (issued_at, window, now) in [
        (NOW, (w.0, end), NOW),
        (NOW, (w.0, end), end),
        (end, (end, end), NOW),
        (end, (end, end), end),
        (
            UnixTime(i64::MIN),
            (UnixTime(i64::MIN), w.1),
            UnixTime(i64::MIN),
        ),
    ] {
        let mut s = setup(true, 1, 1);
        let c = sign_challenge(
            &s.operator,
            Challenge {
                id: ChallengeId::from_bytes([7; 16]),
                pseudonym: s.device.pseudonym(),
                epoch: s.world.policy.epoch_at(NOW).unwrap(),
                kind: ChallengeKind::Scheduled,
                issued_at,
                window_start: window.0,
                window_end: window.1,
                policy: s.world.policy.hash(),
            },
        );
        let refused = s.device.accept(c, now).unwrap_err();
        assert!(
            matches!(
                refused,
                Refusal::Stale | Refusal::WindowMismatch | Refusal::OutsideWindow
            ),
            "{refused:?} at {now:?}"
        );
        assert_eq!(s.device.refused().len(), 1, "kept as evidence");
    }
}

/// A receipt signed by the log but not yet cosigned is kept as provisional; one the
/// witness cosigned replaces it and is never replaced by a provisional one again; a receipt
/// with a bad cosignature, or for another entry, is refused and changes nothing.
#[test]
fn chk_32_receipts_are_provisional_until_the_witness_cosigns() {
    use minimis_client::{ReceiptError, ReceiptStatus};
    use minimis_log::{Cosigner, KeyName, LogEntry, MemoryStorage, Witness};

    let world = World::keyed_at(NOW, 1);
    let p = world.participant();
    let tags = minimis_crypto::TagKey::from_bytes(zeroize::Zeroizing::new(*p.tags.expose_secret()));
    let log_signer = log_signer(&[0x4c; 32]);
    let cosigner = Cosigner::new(
        KeyName::new("oversight.example/witness").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let schedule = p.schedule.clone();
    let (log, witnesses) = (log_signer.verifier_key(), vec![cosigner.verifier_key()]);
    let mut s = Setup {
        device: device::device(&world, p, schedule, None, log, witnesses),
        operator: world.operator(),
        world,
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

/// With a tlog-policy in the enrollment (2 of 3 witnesses), a receipt is witnessed only
/// with two distinct known witnesses' cosignatures: one witness, one witness twice, or one
/// witness and a stranger is below the quorum and refused, and changes nothing; a receipt
/// with none is provisional. A receipt from a fork (the log's signature, the quorum's
/// cosignatures, the size of a receipt already held, another root) is refused.
#[test]
fn log_68_log_69_a_receipt_needs_the_policy_quorum_and_a_fork_is_refused() {
    use minimis_client::{ReceiptError, ReceiptStatus};
    use minimis_log::{Cosigner, KeyName, LogEntry, MemoryStorage, TlogPolicy, Witness};

    let world = World::keyed_at(NOW, 1);
    let p = world.participant();
    let tags = minimis_crypto::TagKey::from_bytes(zeroize::Zeroizing::new(*p.tags.expose_secret()));
    let log_signer = || log_signer(&[0x4c; 32]);
    let cosigner = |i: u8| {
        Cosigner::new(
            KeyName::new(&format!("witness{i}.example")).unwrap(),
            SigningKey::from_seed(&[0x60 + i; 32]).unwrap(),
        )
    };
    let policy = format!(
        "log {}\nwitness oversight {}\nwitness w1 {}\nwitness w2 {}\ngroup two-of-three 2 oversight w1 w2\nquorum two-of-three\n",
        log_signer().verifier_key(),
        cosigner(1).verifier_key(),
        cosigner(2).verifier_key(),
        cosigner(3).verifier_key(),
    );
    let policy = TlogPolicy::parse(policy.as_bytes()).unwrap();
    let schedule = p.schedule.clone();
    let mut e = device::enrollment(
        &world,
        &p,
        schedule,
        None,
        log_signer().verifier_key(),
        vec![],
    );
    e.tlog_policy = Some(std::sync::Arc::new(policy));
    let mut s = Setup {
        device: Device::new(e, p.device, p.tags),
        operator: world.operator(),
        world,
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
    let entry = LogEntry::CheckInReceived {
        tag: tags.tag(&s.device.pseudonym(), sent.epoch),
        record: sent.record_id,
        challenge: sent.challenge,
        epoch: sent.epoch,
    };
    let logged = |first: LogEntry| {
        let mut log = minimis_log::Log::create(MemoryStorage::default(), log_signer()).unwrap();
        log.append_entries(&[first, entry.clone()]).unwrap();
        log
    };
    let log = logged(LogEntry::PolicyPublished {
        policy: s.world.policy.hash(),
    });
    let bare = log.tlog_proof(1).unwrap().to_string();
    let cp = log.checkpoint().to_string();
    // Each witness's cosignature line on the checkpoint, at time `t`.
    let line = |i: u8, cp: &str, t: i64| {
        let mut w = Witness::new(cosigner(i), log_signer().verifier_key()).unwrap();
        w.cosign(cp.as_bytes(), &[], UnixTime(t)).unwrap().to_line()
    };
    let with = |lines: &[String]| Receipt {
        record_id: sent.record_id,
        tlog_proof: format!("{bare}{}", lines.concat()),
    };
    let stranger = Cosigner::new(
        KeyName::new("stranger.example").unwrap(),
        SigningKey::from_seed(&[0x7f; 32]).unwrap(),
    );
    let stranger_line = Witness::new(stranger, log_signer().verifier_key())
        .unwrap()
        .cosign(cp.as_bytes(), &[], NOW)
        .unwrap()
        .to_line();

    // No cosignature yet: provisional.
    assert_eq!(
        s.device.keep_receipt(with(&[])).unwrap(),
        ReceiptStatus::Provisional
    );
    let held = s.device.sent()[0].receipt.clone();
    // One known witness, the same witness twice, a known witness and a stranger: below.
    for lines in [
        vec![line(1, &cp, NOW.0)],
        vec![line(2, &cp, NOW.0), line(2, &cp, NOW.0 + 1)],
        vec![line(3, &cp, NOW.0), stranger_line.clone()],
    ] {
        assert!(
            matches!(
                s.device.keep_receipt(with(&lines)),
                Err(ReceiptError::BelowQuorum {
                    cosigned: 1,
                    known: 3
                })
            ),
            "{lines:?}"
        );
        assert_eq!(s.device.sent()[0].receipt, held, "nothing changed");
        assert!(!s.device.sent()[0].witnessed);
    }
    // Two distinct known witnesses: witnessed.
    let quorum = with(&[line(1, &cp, NOW.0), line(3, &cp, NOW.0)]);
    assert_eq!(
        s.device.keep_receipt(quorum.clone()).unwrap(),
        ReceiptStatus::Witnessed
    );
    assert!(s.device.sent()[0].witnessed);

    // A fork: the same size, another first entry, so another root; signed by the log
    // and cosigned by two witnesses that forgot (or betrayed) what they cosigned.
    let fork = logged(LogEntry::PolicyPublished {
        policy: PolicyHash::from_bytes([0x99; 32]),
    });
    let fork_cp = fork.checkpoint().to_string();
    let forked = Receipt {
        record_id: sent.record_id,
        tlog_proof: format!(
            "{}{}{}",
            fork.tlog_proof(1).unwrap(),
            line(1, &fork_cp, NOW.0),
            line(2, &fork_cp, NOW.0)
        ),
    };
    let root = |l: &minimis_log::Log<MemoryStorage>| *l.checkpoint().checkpoint().root_hash();
    match s.device.keep_receipt(forked) {
        Err(ReceiptError::Fork {
            size,
            held,
            offered,
        }) => {
            assert_eq!(size, 2);
            assert_eq!(held, root(&log));
            assert_eq!(offered, root(&fork));
        }
        other => panic!("a fork must be refused: {other:?}"),
    }
    assert_eq!(s.device.sent()[0].receipt.as_ref(), Some(&quorum));
}

#[test]
fn obl_3_obl_4_a_check_in_outside_the_area_gives_a_sealed_signed_not_met_and_nothing_else() {
    let mut s = setup(true, 1, 1);
    let w = morning(&s);
    let accepted = s
        .device
        .accept(challenge(&s, ChallengeKind::Scheduled, NOW, w, 1), NOW)
        .unwrap();
    // Outside the enrolled zone (Chicago's box): Houston.
    let mut gps = Counting {
        fixes: 0,
        at: (29.7601, -95.3701),
    };
    let e = s.world.now_epoch();
    s.device
        .check_in(
            accepted,
            &mut gps,
            &mut NotRequired,
            "a note the agency must not see",
            &s.world.published(e),
            NOW,
        )
        .unwrap();
    let case = minimis_seal::CaseIdentity::generate();
    let id = ChallengeId::from_bytes([1; 16]);
    let signed = s.device.condition_result(id, &case.recipient()).unwrap();
    assert_eq!(signed.pseudonym, s.device.pseudonym());
    assert_eq!(signed.challenge_id, id);
    // The operator's check: the length of a sealed 64-byte result, the device's signature.
    minimis_crypto::verify_condition(&signed, &s.device.key().public_key()).unwrap();
    // The agency's case identity opens it: area not met, presence not ordered. Nothing of
    // the note, the time or the fix is in 64 bytes of two outcomes.
    let result = minimis_seal::open_condition(&signed.ciphertext, &case).unwrap();
    assert_eq!(
        result,
        obligations::ConditionResult {
            challenge_id: id,
            area: obligations::ConditionOutcome::NotMet,
            presence: obligations::ConditionOutcome::NotOrdered,
        }
    );
    // Nobody else's identity opens it (the custodians' epoch keys included: they are not
    // recipients).
    assert!(
        minimis_seal::open_condition(&signed.ciphertext, &minimis_seal::CaseIdentity::generate())
            .is_err()
    );
    // No check-in, no condition result.
    assert!(matches!(
        s.device
            .condition_result(ChallengeId::from_bytes([2; 16]), &case.recipient()),
        Err(minimis_client::obligations::ConditionResultError::NoCheckIn)
    ));
}

#[test]
fn obl_9_the_device_files_a_travel_notice_and_a_contest_sealed_and_signed() {
    let s = setup(false, 1, 1);
    let case = minimis_seal::CaseIdentity::generate();
    let oversight = minimis_seal::ReviewIdentity::generate();
    let day = UnixTime(1_795_392_000);
    let travel = obligations::Filing::new(
        obligations::FilingKind::Travel,
        day,
        Some(day.plus(3 * 86_400)),
        None,
        obligations::Text::new("Visiting my sister in Milwaukee, WI."),
    )
    .unwrap();
    let signed = s.device.file(&travel, &case.recipient(), None).unwrap();
    assert_eq!(signed.addressee, obligations::Addressee::Agency);
    let id = minimis_crypto::verify_filing(&signed, &s.device.key().public_key()).unwrap();
    assert_eq!(id, signed.filing_id());
    assert_eq!(
        minimis_seal::open_filing_as_agency(&signed.ciphertext, signed.addressee, &case).unwrap(),
        travel
    );
    // The relay sees ciphertext only: no word of the text.
    let json = serde_json::to_string(&signed).unwrap();
    assert!(!json.contains("Milwaukee"));

    let contest = obligations::Filing::new(
        obligations::FilingKind::Contest,
        day,
        None,
        Some(ReviewId::from_bytes([6; 16])),
        obligations::Text::new("My phone had no signal."),
    )
    .unwrap();
    // A contest must reach the oversight body too: without its recipient, nothing is made.
    assert!(s.device.file(&contest, &case.recipient(), None).is_err());
    let signed = s
        .device
        .file(&contest, &case.recipient(), Some(&oversight.recipient()))
        .unwrap();
    assert_eq!(signed.addressee, obligations::Addressee::AgencyAndOversight);
    assert_eq!(
        minimis_seal::open_filing_as_oversight(&signed.ciphertext, &oversight).unwrap(),
        contest
    );
}
