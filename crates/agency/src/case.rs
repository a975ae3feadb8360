//! The case system's state and operations.

use std::collections::BTreeMap;
use std::fmt;

use minimis_crypto::{
    RandomError, SealedMessageError, SigningKey, sign_delivery, verify_condition, verify_filing,
    verify_inbox_recipient,
};
use minimis_proto::obligations::{
    ConditionOutcome, ConditionResult, Decision, Delivery, DeliveryBody, DeliveryError, Filing,
    FilingKind, ReasonId, ReviewCause, SealedDelivery, SignedConditionResult, SignedFiling,
    SignedInboxRecipient, Text, day_of,
};
use minimis_proto::{
    ChallengeId, EpochId, FilingId, Obligations, Policy, Pseudonym, PublicKey, ReviewId, UnixTime,
};
use minimis_seal::{
    CaseIdentity, CaseRecipient, InboxRecipient, OpenSealedError, SealObligationError,
    open_condition, open_filing_as_agency, seal_delivery,
};

const DAY: i64 = 86_400;

/// A review of one check-in (**OBL-6**, **OBL-14**, **OBL-15**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// The review id: 16 random bytes, the only name the log gives it.
    pub id: ReviewId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The challenge of the ledger row.
    pub challenge: ChallengeId,
    /// The epoch of the check-in.
    pub epoch: EpochId,
    /// Why.
    pub cause: ReviewCause,
    /// The day it was opened.
    pub opened: UnixTime,
    /// The officer's decision, reason and day, once decided.
    pub decision: Option<(Decision, ReasonId, UnixTime)>,
    /// The day the participant contested it, if they did.
    pub contested: Option<UnixTime>,
    /// The filing ids of hold requests for it.
    pub holds_requested: Vec<FilingId>,
}

impl Review {
    /// The last day the officer may decide it under `obligations` (**OBL-14**).
    pub fn decide_by(&self, obligations: &Obligations) -> UnixTime {
        self.opened.plus(i64::from(obligations.decide_days()) * DAY)
    }
}

/// One enrollment's case.
struct Case {
    device_key: PublicKey,
    identity: CaseIdentity,
    /// The condition ledger: each check-in's opened condition result.
    conditions: BTreeMap<ChallengeId, (EpochId, ConditionResult)>,
    /// Filings received: id → (filing, the day received, the day acknowledged).
    filings: BTreeMap<FilingId, (Filing, UnixTime, Option<UnixTime>)>,
}

/// The case system: every enrollment's case identity and records, the reviews, and the
/// agency's enrollment key. Secret: no `Clone`, `Serialize` or revealing `Debug`.
pub struct CaseSystem {
    policy: Policy,
    obligations: Obligations,
    enrollment_key: SigningKey,
    cases: BTreeMap<Pseudonym, Case>,
    reviews: BTreeMap<ReviewId, Review>,
}

impl fmt::Debug for CaseSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseSystem")
            .field("policy", &self.policy.hash())
            .field("enrollment_key", &self.enrollment_key)
            .field("cases", &self.cases.len())
            .field("reviews", &self.reviews.len())
            .finish()
    }
}

/// A policy without the `[obligations]` table (format 1): the case system has no deadlines
/// or reasons to work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the policy has no [obligations] table (format 1)")]
pub struct NoObligations;

/// Why an enrollment's case was not made. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// The pseudonym already has a case (a replaced phone keeps it: OBL-18).
    #[error("the pseudonym already has a case")]
    Exists,
}

/// Why a condition result was refused. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionError {
    /// No case for the pseudonym.
    #[error("no case for this pseudonym")]
    UnknownEnrollment,
    /// It is not for the ledger row's challenge (a result replayed onto another row).
    #[error("the condition result is for another challenge than the ledger row's")]
    WrongChallenge,
    /// Malformed, or not signed by the enrolled device (`condition_malformed`,
    /// `bad_signature`).
    #[error(transparent)]
    Message(#[from] SealedMessageError),
    /// It does not open with the case identity, or is not a condition result.
    #[error(transparent)]
    Open(#[from] OpenSealedError),
    /// Sealed inside for another challenge than the one the device signed for.
    #[error("the sealed condition result names another challenge")]
    SealedChallengeMismatch,
    /// The row already has a condition result.
    #[error("this check-in already has a condition result")]
    AlreadyRecorded,
    /// No random review id could be made.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// A condition result accepted into the condition ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedCondition {
    /// What it says.
    pub result: ConditionResult,
    /// The review it opened, if a condition was not met or not checked (**OBL-6**).
    pub review: Option<ReviewId>,
}

/// Why a missed row's review was not opened. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MissedError {
    /// No case for the pseudonym.
    #[error("no case for this pseudonym")]
    UnknownEnrollment,
    /// The row has a condition result: it was not missed.
    #[error("this check-in was received; it was not missed")]
    NotMissed,
    /// A review of the row is already open.
    #[error("a review of this row is already open")]
    AlreadyOpen,
    /// No random review id could be made.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Why a filing was refused. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilingError {
    /// No case for the pseudonym.
    #[error("no case for this pseudonym")]
    UnknownEnrollment,
    /// Malformed, or not signed by the enrolled device.
    #[error(transparent)]
    Message(#[from] SealedMessageError),
    /// It does not open with the case identity, or is not a filing.
    #[error(transparent)]
    Open(#[from] OpenSealedError),
    /// Its declared addressee is not its kind's (a notice sent as a contest, or the
    /// reverse).
    #[error("the filing's addressee is not its kind's")]
    WrongAddressee,
    /// The same filing was received before.
    #[error("this filing was received before")]
    AlreadyRecorded,
    /// A contest or hold request names no review of this participant.
    #[error("the filing names no review of this participant")]
    UnknownReview,
    /// A contest of a review not yet decided, or contested before.
    #[error("the review is not decided, or was contested before")]
    NotContestable,
}

/// A filing accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedFiling {
    /// Its id (the operator logged it with this id).
    pub id: FilingId,
    /// What it says.
    pub filing: Filing,
}

/// Why a filing was not acknowledged. Nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No case for the pseudonym, or no such filing in it.
    #[error("no such filing for this pseudonym")]
    UnknownFiling,
    /// It was acknowledged before.
    #[error("the filing was acknowledged before")]
    AlreadyAcknowledged,
    /// The delivery could not be made.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealObligationError),
}

/// Why a review was not decided. Nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecideError {
    /// No such review.
    #[error("no such review")]
    UnknownReview,
    /// It was decided before; an officer's decision is changed only by the oversight body.
    #[error("the review was decided before")]
    AlreadyDecided,
    /// The reason is not one of the policy's (**OBL-14**).
    #[error("`{0}` is not one of the policy's reasons")]
    UnknownReason(ReasonId),
    /// The delivery could not be made (a text too long).
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealObligationError),
}

/// Why a reminder was not made. Nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemindError {
    /// No case for the pseudonym.
    #[error("no case for this pseudonym")]
    UnknownEnrollment,
    /// The delivery could not be made.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealObligationError),
}

/// Why a participant's published inbox recipient was not accepted (**OBL-43**). Nothing is
/// sealed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboxCheckError {
    /// No case for the pseudonym.
    #[error("no case for this pseudonym")]
    UnknownEnrollment,
    /// It is for another epoch than the one asked for.
    #[error("the inbox recipient is for another epoch")]
    WrongEpoch,
    /// Not signed by the enrolled device key for this pseudonym: the operator, which
    /// relays it, cannot substitute a recipient of its own.
    #[error("the inbox recipient is not signed by the enrolled device")]
    BadSignature,
    /// Not an age X25519 recipient.
    #[error(transparent)]
    Invalid(#[from] minimis_seal::InvalidRecipient),
}

/// One epoch's counts for the log's `conditions summary` entry (**OBL-7**): counts only,
/// no tag, no challenge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConditionsSummary {
    /// Condition results opened.
    pub opened: u32,
    /// Of those, by area outcome, in code order (not ordered, met, not met, not checked).
    pub area: [u32; 4],
    /// Of those, by presence outcome, in code order.
    pub presence: [u32; 4],
    /// Reviews opened for the epoch's check-ins (missed rows included).
    pub reviews: u32,
}

/// The days a reminder of an appointment or hearing at `at` is due (**OBL-13**): the day
/// `obligations.remind_days_before` days before its day, and the day before.
pub fn reminder_days(obligations: &Obligations, at: UnixTime) -> [UnixTime; 2] {
    let day = day_of(at);
    [
        day.plus(-i64::from(obligations.remind_days_before()) * DAY),
        day.plus(-DAY),
    ]
}

fn random_review_id() -> Result<ReviewId, RandomError> {
    loop {
        let b: [u8; 16] = minimis_crypto::random_bytes()?;
        // The all-zero id stands for "none" in a filing; never use it.
        if b != [0; 16] {
            return Ok(ReviewId::from_bytes(b));
        }
    }
}

impl CaseSystem {
    /// A case system under `policy`, signing with the agency's enrollment key.
    ///
    /// # Errors
    /// [`NoObligations`] for a policy without the `[obligations]` table.
    pub fn new(policy: Policy, enrollment_key: SigningKey) -> Result<Self, NoObligations> {
        let obligations = policy.obligations().cloned().ok_or(NoObligations)?;
        Ok(Self {
            policy,
            obligations,
            enrollment_key,
            cases: BTreeMap::new(),
            reviews: BTreeMap::new(),
        })
    }

    /// The policy's `[obligations]` table.
    pub fn obligations(&self) -> &Obligations {
        &self.obligations
    }

    /// The agency's enrollment key (the device pins it from the bundle; deliveries are
    /// signed with it).
    pub fn enrollment_key(&self) -> PublicKey {
        self.enrollment_key.public_key()
    }

    /// Makes the case of an enrollment: a fresh case identity from the system's secure
    /// random number generator, whose recipient goes into the bundle's `case-recipient`
    /// line (**OBL-1**).
    ///
    /// # Errors
    /// [`EnrollError::Exists`].
    pub fn enroll(
        &mut self,
        pseudonym: Pseudonym,
        device_key: PublicKey,
    ) -> Result<CaseRecipient, EnrollError> {
        if self.cases.contains_key(&pseudonym) {
            return Err(EnrollError::Exists);
        }
        let identity = CaseIdentity::generate();
        let recipient = identity.recipient();
        self.cases.insert(
            pseudonym,
            Case {
                device_key,
                identity,
                conditions: BTreeMap::new(),
                filings: BTreeMap::new(),
            },
        );
        Ok(recipient)
    }

    /// Takes a condition result the operator served for the ledger row of `challenge` in
    /// `epoch` (**OBL-5**): checks it is for that challenge, its length and the device
    /// signature under the enrolled key, then opens it with the case identity, checks the
    /// sealed challenge id, records it, and opens a review if a condition was not met or not
    /// checked (**OBL-6**). Never any other step: a result is a fact to review (CHK-21).
    ///
    /// # Errors
    /// [`ConditionError`]; nothing is recorded.
    pub fn accept_condition(
        &mut self,
        challenge: ChallengeId,
        epoch: EpochId,
        message: &SignedConditionResult,
        today: UnixTime,
    ) -> Result<AcceptedCondition, ConditionError> {
        let case = self
            .cases
            .get(&message.pseudonym)
            .ok_or(ConditionError::UnknownEnrollment)?;
        if message.challenge_id != challenge {
            return Err(ConditionError::WrongChallenge);
        }
        if case.conditions.contains_key(&challenge) {
            return Err(ConditionError::AlreadyRecorded);
        }
        verify_condition(message, &case.device_key)?;
        let result = open_condition(&message.ciphertext, &case.identity)?;
        if result.challenge_id != challenge {
            return Err(ConditionError::SealedChallengeMismatch);
        }
        let review = if result.needs_review() {
            Some(random_review_id()?)
        } else {
            None
        };
        // Everything is checked: record.
        if let Some(id) = review {
            self.reviews.insert(
                id,
                Review {
                    id,
                    pseudonym: message.pseudonym,
                    challenge,
                    epoch,
                    cause: ReviewCause::Condition,
                    opened: day_of(today),
                    decision: None,
                    contested: None,
                    holds_requested: Vec::new(),
                },
            );
        }
        if let Some(case) = self.cases.get_mut(&message.pseudonym) {
            case.conditions.insert(challenge, (epoch, result));
        }
        Ok(AcceptedCondition { result, review })
    }

    /// Opens the review of a ledger row that ended `pending-review` (**OBL-6**).
    ///
    /// # Errors
    /// [`MissedError`]; nothing is recorded.
    pub fn missed(
        &mut self,
        pseudonym: Pseudonym,
        challenge: ChallengeId,
        epoch: EpochId,
        today: UnixTime,
    ) -> Result<ReviewId, MissedError> {
        let case = self
            .cases
            .get(&pseudonym)
            .ok_or(MissedError::UnknownEnrollment)?;
        if case.conditions.contains_key(&challenge) {
            return Err(MissedError::NotMissed);
        }
        if self
            .reviews
            .values()
            .any(|r| r.pseudonym == pseudonym && r.challenge == challenge)
        {
            return Err(MissedError::AlreadyOpen);
        }
        let id = random_review_id()?;
        self.reviews.insert(
            id,
            Review {
                id,
                pseudonym,
                challenge,
                epoch,
                cause: ReviewCause::Missed,
                opened: day_of(today),
                decision: None,
                contested: None,
                holds_requested: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Takes a filing the operator relayed (**OBL-9**): checks its length and device
    /// signature, opens it with the case identity, checks its addressee against its kind,
    /// and for a contest or hold request that it names a review of this participant (a
    /// contest: a decided one, not contested before). A contest marks the review
    /// contested (**OBL-15**).
    ///
    /// # Errors
    /// [`FilingError`]; nothing is recorded.
    pub fn accept_filing(
        &mut self,
        message: &SignedFiling,
        received: UnixTime,
    ) -> Result<AcceptedFiling, FilingError> {
        let case = self
            .cases
            .get(&message.pseudonym)
            .ok_or(FilingError::UnknownEnrollment)?;
        let id = verify_filing(message, &case.device_key)?;
        if case.filings.contains_key(&id) {
            return Err(FilingError::AlreadyRecorded);
        }
        let filing = open_filing_as_agency(&message.ciphertext, message.addressee, &case.identity)?;
        if filing.addressee() != message.addressee {
            return Err(FilingError::WrongAddressee);
        }
        if let Some(review) = filing.review() {
            let r = self
                .reviews
                .get(&review)
                .filter(|r| r.pseudonym == message.pseudonym)
                .ok_or(FilingError::UnknownReview)?;
            if filing.kind() == FilingKind::Contest
                && (r.decision.is_none() || r.contested.is_some())
            {
                return Err(FilingError::NotContestable);
            }
        }
        // Everything is checked: record.
        let day = day_of(received);
        if let Some(review) = filing.review()
            && let Some(r) = self.reviews.get_mut(&review)
        {
            match filing.kind() {
                FilingKind::Contest => r.contested = Some(day),
                _ => r.holds_requested.push(id),
            }
        }
        if let Some(case) = self.cases.get_mut(&message.pseudonym) {
            case.filings.insert(id, (filing.clone(), day, None));
        }
        Ok(AcceptedFiling { id, filing })
    }

    /// Acknowledges a filing (**OBL-10**): a delivery of kind 5, signed with the agency's
    /// enrollment key and sealed to the participant's inbox `to`.
    ///
    /// # Errors
    /// [`AckError`]; nothing is recorded.
    pub fn acknowledge(
        &mut self,
        pseudonym: Pseudonym,
        filing: FilingId,
        today: UnixTime,
        text: Text,
        to: &InboxRecipient,
    ) -> Result<SealedDelivery, AckError> {
        let (_, _, acked) = self
            .cases
            .get(&pseudonym)
            .and_then(|c| c.filings.get(&filing))
            .ok_or(AckError::UnknownFiling)?;
        if acked.is_some() {
            return Err(AckError::AlreadyAcknowledged);
        }
        let day = day_of(today);
        let delivery = Delivery::new(DeliveryBody::FilingAcknowledgement { filing, day }, text)?;
        let sealed = self.seal(&pseudonym, &delivery, to)?;
        if let Some((_, _, acked)) = self
            .cases
            .get_mut(&pseudonym)
            .and_then(|c| c.filings.get_mut(&filing))
        {
            *acked = Some(day);
        }
        Ok(sealed)
    }

    /// Filings not acknowledged within `obligations.acknowledge_days` of being received, as
    /// of `today` (what the auditor reports, **OBL-10**).
    pub fn overdue_acknowledgements(&self, today: UnixTime) -> Vec<FilingId> {
        let days = i64::from(self.obligations.acknowledge_days()) * DAY;
        self.cases
            .values()
            .flat_map(|c| c.filings.iter())
            .filter(|(_, (_, received, acked))| match acked {
                Some(a) => *a > received.plus(days),
                None => day_of(today) > received.plus(days),
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Records an officer's decision of a review with one of the policy's reasons, and
    /// seals it to the participant with how long they have to contest it (**OBL-14**).
    ///
    /// # Errors
    /// [`DecideError`]; nothing is recorded.
    pub fn decide(
        &mut self,
        review: ReviewId,
        decision: Decision,
        reason: ReasonId,
        text: Text,
        today: UnixTime,
        to: &InboxRecipient,
    ) -> Result<SealedDelivery, DecideError> {
        let r = self
            .reviews
            .get(&review)
            .ok_or(DecideError::UnknownReview)?;
        if r.decision.is_some() {
            return Err(DecideError::AlreadyDecided);
        }
        if !self.obligations.allows_reason(reason.as_str()) {
            return Err(DecideError::UnknownReason(reason));
        }
        let decided = day_of(today);
        let contest_by = decided.plus(i64::from(self.obligations.contest_days()) * DAY);
        let pseudonym = r.pseudonym;
        let delivery = Delivery::new(
            DeliveryBody::ReviewDecision {
                review,
                decided,
                decision,
                reason: reason.clone(),
                contest_by,
            },
            text,
        )?;
        let sealed = self.seal(&pseudonym, &delivery, to)?;
        if let Some(r) = self.reviews.get_mut(&review) {
            r.decision = Some((decision, reason, decided));
        }
        Ok(sealed)
    }

    /// Seals a reminder of an appointment (`hearing` false) or a hearing at `at`
    /// (**OBL-13**).
    ///
    /// # Errors
    /// [`RemindError`].
    pub fn remind(
        &self,
        pseudonym: Pseudonym,
        hearing: bool,
        at: UnixTime,
        text: Text,
        to: &InboxRecipient,
    ) -> Result<SealedDelivery, RemindError> {
        if !self.cases.contains_key(&pseudonym) {
            return Err(RemindError::UnknownEnrollment);
        }
        let body = if hearing {
            DeliveryBody::HearingReminder { at }
        } else {
            DeliveryBody::AppointmentReminder { at }
        };
        let delivery = Delivery::new(body, text)?;
        Ok(self.seal(&pseudonym, &delivery, to)?)
    }

    fn seal(
        &self,
        pseudonym: &Pseudonym,
        delivery: &Delivery,
        to: &InboxRecipient,
    ) -> Result<SealedDelivery, SealObligationError> {
        let signature = sign_delivery(&self.enrollment_key, pseudonym, &delivery.encode());
        seal_delivery(delivery, &signature, to)
    }

    /// Checks an inbox recipient the operator served for `pseudonym` and `epoch`
    /// (**OBL-43**): signed by the enrolled device key, for this participant and epoch, and
    /// an age X25519 recipient. Only a recipient that passes is sealed to, so a relay that
    /// substitutes its own recipient learns nothing.
    ///
    /// # Errors
    /// [`InboxCheckError`].
    pub fn inbox_recipient(
        &self,
        pseudonym: Pseudonym,
        epoch: EpochId,
        signed: &SignedInboxRecipient,
    ) -> Result<InboxRecipient, InboxCheckError> {
        let case = self
            .cases
            .get(&pseudonym)
            .ok_or(InboxCheckError::UnknownEnrollment)?;
        if signed.pseudonym != pseudonym {
            return Err(InboxCheckError::BadSignature);
        }
        if signed.epoch != epoch {
            return Err(InboxCheckError::WrongEpoch);
        }
        verify_inbox_recipient(signed, &case.device_key)
            .map_err(|_| InboxCheckError::BadSignature)?;
        Ok(InboxRecipient::parse(&signed.recipient)?)
    }

    /// A review.
    pub fn review(&self, id: ReviewId) -> Option<&Review> {
        self.reviews.get(&id)
    }

    /// Every review, by id.
    pub fn reviews(&self) -> impl Iterator<Item = &Review> {
        self.reviews.values()
    }

    /// The condition result recorded for a participant's challenge.
    pub fn condition(
        &self,
        pseudonym: Pseudonym,
        challenge: ChallengeId,
    ) -> Option<ConditionResult> {
        self.cases
            .get(&pseudonym)
            .and_then(|c| c.conditions.get(&challenge))
            .map(|(_, r)| *r)
    }

    /// The counts for the log's `conditions summary` entry of `epoch` (**OBL-7**).
    pub fn conditions_summary(&self, epoch: EpochId) -> ConditionsSummary {
        let mut s = ConditionsSummary::default();
        let index = |o: ConditionOutcome| usize::from(o.code());
        for (e, r) in self.cases.values().flat_map(|c| c.conditions.values()) {
            if *e == epoch {
                s.opened += 1;
                s.area[index(r.area)] += 1;
                s.presence[index(r.presence)] += 1;
            }
        }
        s.reviews = u32::try_from(self.reviews.values().filter(|r| r.epoch == epoch).count())
            .unwrap_or(u32::MAX);
        s
    }
}

#[cfg(test)]
mod tests;
