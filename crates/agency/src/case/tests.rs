//! The case system's tests, with the attacks: a result signed by another device, one
//! replayed onto another row, one sealed to another case, oversized and malformed input.
//! Each refusal is typed and leaves the case system as it was.

use minimis_crypto::{sign_condition, sign_filing, verify_delivery};
use minimis_proto::default_policy;
use minimis_proto::obligations::{Addressee, ConditionOutcome, DeliveryBody};
use minimis_seal::{InboxIdentity, LayerFailure, open_delivery, seal_condition, seal_filing};

use super::*;

const THURSDAY: UnixTime = UnixTime(1_795_651_200 + 10 * 3600); // 2026-11-26T10:00Z

struct Fixture {
    agency: CaseSystem,
    device: SigningKey,
    p: Pseudonym,
    case: CaseRecipient,
    inbox: InboxIdentity,
    epoch: EpochId,
}

fn fixture() -> Fixture {
    let policy = default_policy();
    let epoch = policy.epoch_at(THURSDAY).unwrap();
    let mut agency = CaseSystem::new(policy, SigningKey::generate().unwrap()).unwrap();
    let device = SigningKey::generate().unwrap();
    let p = Pseudonym::from_bytes([0x11; 16]);
    let case = agency.enroll(p, device.public_key()).unwrap();
    Fixture {
        agency,
        device,
        p,
        case,
        inbox: InboxIdentity::generate(),
        epoch,
    }
}

fn challenge(n: u8) -> ChallengeId {
    ChallengeId::from_bytes([n; 16])
}

fn result(c: ChallengeId, area: ConditionOutcome, presence: ConditionOutcome) -> ConditionResult {
    ConditionResult {
        challenge_id: c,
        area,
        presence,
    }
}

/// What the device sends (OBL-4), as `minimis-client` makes it.
fn signed(f: &Fixture, r: &ConditionResult) -> SignedConditionResult {
    let sealed = seal_condition(r, &f.case).unwrap();
    sign_condition(&f.device, f.p, r.challenge_id, sealed)
}

/// The state a refused operation must leave unchanged.
fn snapshot(a: &CaseSystem) -> (Vec<Review>, ConditionsSummary, Vec<FilingId>) {
    let e = a.policy.epoch_at(THURSDAY).unwrap();
    (
        a.reviews().cloned().collect(),
        a.conditions_summary(e),
        a.overdue_acknowledgements(THURSDAY.plus(365 * DAY)),
    )
}

#[test]
fn obl_5_obl_6_a_condition_not_met_opens_a_review_and_a_met_one_does_not() {
    let mut f = fixture();
    let outside = result(
        challenge(1),
        ConditionOutcome::NotMet,
        ConditionOutcome::Met,
    );
    let got = f
        .agency
        .accept_condition(challenge(1), f.epoch, &signed(&f, &outside), THURSDAY)
        .unwrap();
    assert_eq!(got.result, outside);
    let review = f.agency.review(got.review.unwrap()).unwrap();
    assert_eq!(review.cause, ReviewCause::Condition);
    assert_eq!(review.challenge, challenge(1));
    assert_eq!(review.opened, day_of(THURSDAY));
    assert_eq!(review.decision, None);

    let met = result(challenge(2), ConditionOutcome::Met, ConditionOutcome::Met);
    let got = f
        .agency
        .accept_condition(challenge(2), f.epoch, &signed(&f, &met), THURSDAY)
        .unwrap();
    assert_eq!(got.review, None, "a condition met is not reviewed");

    let unchecked = result(
        challenge(3),
        ConditionOutcome::NotOrdered,
        ConditionOutcome::NotChecked,
    );
    let got = f
        .agency
        .accept_condition(challenge(3), f.epoch, &signed(&f, &unchecked), THURSDAY)
        .unwrap();
    assert!(got.review.is_some(), "not checked is reviewed too");
    assert_eq!(f.agency.condition(f.p, challenge(1)), Some(outside));

    // OBL-7: the epoch's counts, and nothing but counts.
    let s = f.agency.conditions_summary(f.epoch);
    assert_eq!(s.opened, 3);
    assert_eq!(s.area, [1, 1, 1, 0]);
    assert_eq!(s.presence, [0, 2, 0, 1]);
    assert_eq!(s.reviews, 2);
    assert_eq!(
        f.agency.conditions_summary(f.epoch.next().unwrap()),
        ConditionsSummary::default()
    );
}

#[test]
fn obl_5_obl_25_attack_a_result_signed_by_another_device_is_refused_unopened() {
    let mut f = fixture();
    let before = snapshot(&f.agency);
    let r = result(
        challenge(1),
        ConditionOutcome::NotMet,
        ConditionOutcome::Met,
    );
    let sealed = seal_condition(&r, &f.case).unwrap();
    let forged = sign_condition(&SigningKey::generate().unwrap(), f.p, challenge(1), sealed);
    assert_eq!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &forged, THURSDAY)
            .unwrap_err(),
        ConditionError::Message(SealedMessageError::BadSignature)
    );
    assert_eq!(snapshot(&f.agency), before);
    assert_eq!(f.agency.condition(f.p, challenge(1)), None);
    // The genuine one is still accepted afterwards.
    assert!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &signed(&f, &r), THURSDAY)
            .is_ok()
    );
}

#[test]
fn obl_5_obl_25_attack_a_result_replayed_for_another_challenge_is_refused() {
    let mut f = fixture();
    let met = result(challenge(1), ConditionOutcome::Met, ConditionOutcome::Met);
    let genuine = signed(&f, &met);
    let before = snapshot(&f.agency);
    // The operator serves challenge 1's result as the result of challenge 2's row (to hide
    // that challenge 2's condition was not met).
    assert_eq!(
        f.agency
            .accept_condition(challenge(2), f.epoch, &genuine, THURSDAY)
            .unwrap_err(),
        ConditionError::WrongChallenge
    );
    // ...or relabels it: the signature covers the challenge id.
    let mut relabelled = genuine.clone();
    relabelled.challenge_id = challenge(2);
    assert_eq!(
        f.agency
            .accept_condition(challenge(2), f.epoch, &relabelled, THURSDAY)
            .unwrap_err(),
        ConditionError::Message(SealedMessageError::BadSignature)
    );
    // A result signed for challenge 2 whose sealed content names challenge 1.
    let inner = seal_condition(&met, &f.case).unwrap();
    let mismatched = sign_condition(&f.device, f.p, challenge(2), inner);
    assert_eq!(
        f.agency
            .accept_condition(challenge(2), f.epoch, &mismatched, THURSDAY)
            .unwrap_err(),
        ConditionError::SealedChallengeMismatch
    );
    assert_eq!(snapshot(&f.agency), before);
    // And one result is recorded once.
    f.agency
        .accept_condition(challenge(1), f.epoch, &genuine, THURSDAY)
        .unwrap();
    assert_eq!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &genuine, THURSDAY)
            .unwrap_err(),
        ConditionError::AlreadyRecorded
    );
}

#[test]
fn obl_5_obl_25_attack_oversized_malformed_and_foreign_input_is_refused() {
    let mut f = fixture();
    let before = snapshot(&f.agency);
    let r = result(
        challenge(1),
        ConditionOutcome::NotMet,
        ConditionOutcome::Met,
    );
    // Oversized: refused on its length, before any signature check or decryption.
    let big = sign_condition(
        &f.device,
        f.p,
        challenge(1),
        vec![0; SignedConditionResult::BOUNDS.max + 1],
    );
    let err = f
        .agency
        .accept_condition(challenge(1), f.epoch, &big, THURSDAY)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConditionError::Message(SealedMessageError::Malformed(_))
        ),
        "{err:?}"
    );
    // The right length, signed, but not an age file.
    let junk = sign_condition(
        &f.device,
        f.p,
        challenge(1),
        vec![0x41; SignedConditionResult::BOUNDS.min],
    );
    assert_eq!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &junk, THURSDAY)
            .unwrap_err(),
        ConditionError::Open(OpenSealedError::Layer(LayerFailure::Malformed))
    );
    // Sealed to another enrollment's case recipient: this case identity cannot open it.
    let other = CaseIdentity::generate().recipient();
    let foreign = sign_condition(
        &f.device,
        f.p,
        challenge(1),
        seal_condition(&r, &other).unwrap(),
    );
    assert_eq!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &foreign, THURSDAY)
            .unwrap_err(),
        ConditionError::Open(OpenSealedError::Layer(LayerFailure::NoMatchingKey))
    );
    // An unknown pseudonym.
    let mut stranger = signed(&f, &r);
    stranger.pseudonym = Pseudonym::from_bytes([0x22; 16]);
    assert_eq!(
        f.agency
            .accept_condition(challenge(1), f.epoch, &stranger, THURSDAY)
            .unwrap_err(),
        ConditionError::UnknownEnrollment
    );
    assert_eq!(snapshot(&f.agency), before);
}

#[test]
fn obl_6_a_missed_row_opens_one_review() {
    let mut f = fixture();
    let id = f
        .agency
        .missed(f.p, challenge(9), f.epoch, THURSDAY)
        .unwrap();
    assert_eq!(f.agency.review(id).unwrap().cause, ReviewCause::Missed);
    assert_eq!(
        f.agency
            .missed(f.p, challenge(9), f.epoch, THURSDAY)
            .unwrap_err(),
        MissedError::AlreadyOpen
    );
    let met = result(challenge(1), ConditionOutcome::Met, ConditionOutcome::Met);
    f.agency
        .accept_condition(challenge(1), f.epoch, &signed(&f, &met), THURSDAY)
        .unwrap();
    assert_eq!(
        f.agency
            .missed(f.p, challenge(1), f.epoch, THURSDAY)
            .unwrap_err(),
        MissedError::NotMissed
    );
    assert_eq!(f.agency.conditions_summary(f.epoch).reviews, 1);
}

fn residence(text: &str) -> Filing {
    Filing::new(
        FilingKind::Residence,
        day_of(THURSDAY),
        None,
        None,
        Text::new(text),
    )
    .unwrap()
}

fn file(
    f: &Fixture,
    filing: &Filing,
    review: Option<&minimis_seal::ReviewRecipient>,
) -> SignedFiling {
    let (addressee, sealed) = seal_filing(filing, &f.case, review).unwrap();
    sign_filing(&f.device, f.p, addressee, sealed)
}

#[test]
fn obl_9_obl_10_a_notice_is_opened_and_acknowledged_to_the_phone() {
    let mut f = fixture();
    let notice = residence("12 Elm Street, Apt 3");
    let msg = file(&f, &notice, None);
    let got = f.agency.accept_filing(&msg, THURSDAY).unwrap();
    assert_eq!(got.filing, notice);
    assert_eq!(got.id, msg.filing_id());
    assert_eq!(
        f.agency.accept_filing(&msg, THURSDAY).unwrap_err(),
        FilingError::AlreadyRecorded
    );
    // Not acknowledged yet: overdue after acknowledge_days (2), not before.
    assert!(
        f.agency
            .overdue_acknowledgements(THURSDAY.plus(2 * DAY))
            .is_empty()
    );
    assert_eq!(
        f.agency.overdue_acknowledgements(THURSDAY.plus(3 * DAY)),
        vec![got.id]
    );
    let to = f.inbox.recipient();
    let sealed = f
        .agency
        .acknowledge(f.p, got.id, THURSDAY.plus(DAY), Text::new("Received."), &to)
        .unwrap();
    assert!(matches!(
        f.agency
            .acknowledge(f.p, got.id, THURSDAY.plus(DAY), Text::default(), &to),
        Err(AckError::AlreadyAcknowledged)
    ));
    assert!(
        f.agency
            .overdue_acknowledgements(THURSDAY.plus(30 * DAY))
            .is_empty()
    );
    // The phone opens it and checks it is the agency's, for this participant.
    let opened = open_delivery(&sealed, &f.inbox).unwrap();
    assert!(
        verify_delivery(
            &f.agency.enrollment_key(),
            &f.p,
            &opened.bytes,
            &opened.signature
        )
        .is_ok()
    );
    assert_eq!(
        opened.delivery.body(),
        &DeliveryBody::FilingAcknowledgement {
            filing: got.id,
            day: day_of(THURSDAY.plus(DAY)),
        }
    );
}

#[test]
fn obl_9_attack_a_filing_with_a_false_addressee_or_signer_is_refused() {
    let mut f = fixture();
    let before = snapshot(&f.agency);
    let notice = residence("12 Elm Street");
    // Signed by another device.
    let (addressee, sealed) = seal_filing(&notice, &f.case, None).unwrap();
    let forged = sign_filing(
        &SigningKey::generate().unwrap(),
        f.p,
        addressee,
        sealed.clone(),
    );
    assert_eq!(
        f.agency.accept_filing(&forged, THURSDAY).unwrap_err(),
        FilingError::Message(SealedMessageError::BadSignature)
    );
    // A notice declared as addressed to the oversight body too: refused on its length or,
    // where the lengths overlap, on its kind.
    let false_addressee = sign_filing(&f.device, f.p, Addressee::AgencyAndOversight, sealed);
    let err = f
        .agency
        .accept_filing(&false_addressee, THURSDAY)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FilingError::WrongAddressee | FilingError::Message(SealedMessageError::Malformed(_))
        ),
        "{err:?}"
    );
    // A contest of a review that is not this participant's.
    let review = minimis_seal::ReviewIdentity::generate().recipient();
    let contest = Filing::new(
        FilingKind::Contest,
        day_of(THURSDAY),
        None,
        Some(ReviewId::from_bytes([5; 16])),
        Text::new("I was there."),
    )
    .unwrap();
    assert_eq!(
        f.agency
            .accept_filing(&file(&f, &contest, Some(&review)), THURSDAY)
            .unwrap_err(),
        FilingError::UnknownReview
    );
    assert_eq!(snapshot(&f.agency), before);
}

#[test]
fn obl_14_obl_15_a_decision_with_a_policy_reason_is_delivered_and_can_be_contested() {
    let mut f = fixture();
    let outside = result(
        challenge(1),
        ConditionOutcome::NotMet,
        ConditionOutcome::Met,
    );
    let review = f
        .agency
        .accept_condition(challenge(1), f.epoch, &signed(&f, &outside), THURSDAY)
        .unwrap()
        .review
        .unwrap();
    let oversight = minimis_seal::ReviewIdentity::generate();
    let contest = Filing::new(
        FilingKind::Contest,
        day_of(THURSDAY),
        None,
        Some(review),
        Text::new("I had filed a travel notice."),
    )
    .unwrap();
    // Not decided yet: nothing to contest.
    assert_eq!(
        f.agency
            .accept_filing(&file(&f, &contest, Some(&oversight.recipient())), THURSDAY)
            .unwrap_err(),
        FilingError::NotContestable
    );
    let to = f.inbox.recipient();
    let before = snapshot(&f.agency);
    let bad = ReasonId::new("violation").unwrap();
    assert!(matches!(
        f.agency.decide(
            review,
            Decision::NotExcused,
            bad,
            Text::default(),
            THURSDAY.plus(DAY),
            &to
        ),
        Err(DecideError::UnknownReason(_))
    ));
    assert_eq!(
        snapshot(&f.agency),
        before,
        "a refused decision records nothing"
    );
    let reason = ReasonId::new("not-explained").unwrap();
    let sealed = f
        .agency
        .decide(
            review,
            Decision::NotExcused,
            reason.clone(),
            Text::new("No notice covers this day."),
            THURSDAY.plus(DAY),
            &to,
        )
        .unwrap();
    let decided = day_of(THURSDAY.plus(DAY));
    assert_eq!(
        f.agency.review(review).unwrap().decision,
        Some((Decision::NotExcused, reason.clone(), decided))
    );
    assert!(matches!(
        f.agency.decide(
            review,
            Decision::Excused,
            reason.clone(),
            Text::default(),
            THURSDAY.plus(DAY),
            &to
        ),
        Err(DecideError::AlreadyDecided)
    ));
    // The phone learns the decision, the reason and the last day to contest (30 days).
    let opened = open_delivery(&sealed, &f.inbox).unwrap();
    assert_eq!(
        opened.delivery.body(),
        &DeliveryBody::ReviewDecision {
            review,
            decided,
            decision: Decision::NotExcused,
            reason,
            contest_by: decided.plus(30 * DAY),
        }
    );
    // The participant contests: the review is marked, and the oversight body can read it.
    let msg = file(&f, &contest, Some(&oversight.recipient()));
    f.agency
        .accept_filing(&msg, THURSDAY.plus(2 * DAY))
        .unwrap();
    assert_eq!(
        f.agency.review(review).unwrap().contested,
        Some(day_of(THURSDAY.plus(2 * DAY)))
    );
    assert_eq!(
        minimis_seal::open_filing_as_oversight(&msg.ciphertext, &oversight).unwrap(),
        contest
    );
    // A second contest of the same review (another filing) is refused.
    let again = Filing::new(
        FilingKind::Contest,
        day_of(THURSDAY),
        None,
        Some(review),
        Text::new("Again."),
    )
    .unwrap();
    assert_eq!(
        f.agency
            .accept_filing(&file(&f, &again, Some(&oversight.recipient())), THURSDAY)
            .unwrap_err(),
        FilingError::NotContestable
    );
    // A hold request on it is recorded (OBL-16's input).
    let hold = Filing::new(
        FilingKind::HoldRequest,
        day_of(THURSDAY),
        None,
        Some(review),
        Text::default(),
    )
    .unwrap();
    let id = f
        .agency
        .accept_filing(&file(&f, &hold, Some(&oversight.recipient())), THURSDAY)
        .unwrap()
        .id;
    assert_eq!(f.agency.review(review).unwrap().holds_requested, vec![id]);
}

#[test]
fn obl_13_reminders_are_due_ahead_and_the_day_before() {
    let f = fixture();
    let hearing = UnixTime(1_796_000_000);
    let [first, last] = reminder_days(f.agency.obligations(), hearing);
    assert_eq!(first, day_of(hearing).plus(-7 * DAY));
    assert_eq!(last, day_of(hearing).plus(-DAY));
    let sealed = f
        .agency
        .remind(
            f.p,
            true,
            hearing,
            Text::new("Hearing, courtroom 4."),
            &f.inbox.recipient(),
        )
        .unwrap();
    let opened = open_delivery(&sealed, &f.inbox).unwrap();
    assert_eq!(
        opened.delivery.body(),
        &DeliveryBody::HearingReminder { at: hearing }
    );
    assert!(matches!(
        f.agency.remind(
            Pseudonym::from_bytes([9; 16]),
            false,
            hearing,
            Text::default(),
            &f.inbox.recipient()
        ),
        Err(RemindError::UnknownEnrollment)
    ));
}

#[test]
fn obl_1_one_case_identity_per_enrollment_and_a_redacted_debug() {
    let mut f = fixture();
    assert_eq!(
        f.agency.enroll(f.p, f.device.public_key()).unwrap_err(),
        EnrollError::Exists
    );
    let q = Pseudonym::from_bytes([0x33; 16]);
    let other = f.agency.enroll(q, f.device.public_key()).unwrap();
    assert_ne!(other, f.case, "each enrollment has its own case identity");
    let dbg = format!("{:?}", f.agency);
    assert!(
        dbg.contains("redacted") && !dbg.contains("AGE-SECRET-KEY"),
        "{dbg}"
    );
}

#[test]
fn obl_22_a_case_system_needs_a_policy_with_obligations() {
    let text = minimis_proto::DEFAULT_POLICY_TOML;
    let start = text.find("# The program's obligations").unwrap();
    let end = text.find("# Who holds the epoch keys.").unwrap();
    let format_1 = format!("{}{}", &text[..start], &text[end..])
        .replace("minimis-policy/2", "minimis-policy/1");
    let policy = Policy::from_toml_str(&format_1).unwrap();
    assert_eq!(
        CaseSystem::new(policy, SigningKey::generate().unwrap()).unwrap_err(),
        NoObligations
    );
}
