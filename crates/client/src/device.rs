//! The participant's device: its keys, what it was enrolled with, and everything it did.

use std::fmt;

use minimis_crypto::{SigningKey, TagKey};
use minimis_log::cosignature::CosignatureError;
use minimis_log::tlog_proof::TlogProofError;
use minimis_log::{LogEntry, VerifierKey, verify_tlog_proof};
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CheckInPayload, Envelope, EpochId, Note, Policy,
    PresenceResult, Pseudonym, PublicKey, Receipt, RecordId, Schedule, ScheduleViolation,
    SignedChallenge, SignedEpochRecipient, Slot, UnixTime, ZoneResult,
};
use minimis_seal::{CustodianKeys, RecipientError, SealError, SealingKeys, seal_envelope};
use serde::{Deserialize, Serialize};

use crate::location::{LocationSource, Zone, zone_result};
use crate::presence::PresenceCheck;

/// How far ahead of the device's clock a challenge's issue time may be.
pub const CLOCK_SKEW: i64 = 300;

/// What the device was enrolled with: all public, kept on the device.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// The pseudonym the operator assigned.
    pub pseudonym: Pseudonym,
    /// The schedule the device enforces on every challenge.
    pub schedule: Schedule,
    /// The zone a court ordered, if any. Without one, no location fix is ever taken.
    pub zone: Option<Zone>,
    /// The policy in force (shared: every device of a simulation, or an app's screens,
    /// can hold the same one).
    pub policy: std::sync::Arc<Policy>,
    /// The policy file, as enrolled.
    pub policy_text: std::sync::Arc<str>,
    /// The operator's challenge-signing key.
    pub operator_key: PublicKey,
    /// The log's verifier key, for receipts.
    pub log_key: VerifierKey,
    /// Witnesses whose cosignature every receipt must carry.
    pub witnesses: Vec<VerifierKey>,
    /// The custodians' keys, for their signed epoch recipients (SEAL-7).
    pub custodians: CustodianKeys,
}

/// Why the device refused a challenge. A refused challenge is kept, with the operator's
/// signature, as evidence (CHL-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// Not signed by the operator the device was enrolled with.
    #[error("the challenge is not signed by the operator")]
    BadSignature,
    /// For another pseudonym.
    #[error("the challenge is for someone else")]
    NotMine,
    /// Under a policy other than the enrolled one.
    #[error("the challenge cites a policy other than the enrolled one")]
    WrongPolicy,
    /// Issued in the future by the device's clock, or no longer answerable: its window
    /// and grace period have ended by the device's clock.
    #[error("the challenge is not current by the device's clock")]
    Stale,
    /// Its window is not the enrolled schedule's window at that time.
    #[error("the challenge's window is not one of the enrolled windows")]
    WindowMismatch,
    /// Outside every enrolled window.
    #[error("the challenge is outside every enrolled window")]
    OutsideWindow,
    /// A second scheduled challenge in one window.
    #[error("a scheduled challenge was already answered in this window")]
    ScheduledAlreadyIssued,
    /// Over the daily cap.
    #[error("the daily cap is reached")]
    DailyCapReached,
    /// Over the ad-hoc cap for 30 days.
    #[error("the cap of ad-hoc challenges in 30 days is reached")]
    AdHocCapReached,
    /// A challenge already answered or refused.
    #[error("the challenge was already answered or refused")]
    Replay,
}

impl From<ScheduleViolation> for Refusal {
    fn from(v: ScheduleViolation) -> Self {
        match v {
            ScheduleViolation::OutsideWindow => Self::OutsideWindow,
            ScheduleViolation::ScheduledAlreadyIssued => Self::ScheduledAlreadyIssued,
            ScheduleViolation::DailyCapReached { .. } => Self::DailyCapReached,
            ScheduleViolation::AdHocCapReached { .. } => Self::AdHocCapReached,
            _ => Self::OutsideWindow,
        }
    }
}

/// A challenge the device accepted: the only way to a check-in, and so to a location fix.
/// Not `Clone`: one accepted challenge, one check-in.
#[derive(Debug)]
pub struct Accepted {
    challenge: Challenge,
}

impl Accepted {
    /// The challenge.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }
}

/// A refused challenge, kept as evidence and shown to the participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The challenge as the server sent it (with its signature).
    pub challenge: SignedChallenge,
    /// Why it was refused.
    pub reason: Refusal,
    /// The device's time when it was refused.
    pub at: UnixTime,
}

/// A free text sealed on the device, for a technical-failure report (CHK-23) or a
/// statement (ACC-12): sealed
/// exactly as a check-in is, as the note of a payload for the row's challenge with zone and
/// presence `not-required` ("Sealed free text" in spec/failure.md), so the operator holds
/// only ciphertext of a check-in's length, which the custodians open on a justified,
/// logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedText {
    /// The epoch it is sealed to: the current one.
    pub epoch: EpochId,
    /// The sealed bytes: age v1, to both custodians' recipients for `epoch`.
    pub ciphertext: Vec<u8>,
}

/// A check-in the device made: its own copy, and the receipt once verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCheckIn {
    /// The record id (CHK-12).
    pub record_id: RecordId,
    /// The challenge answered.
    pub challenge: ChallengeId,
    /// The epoch sealed to.
    pub epoch: EpochId,
    /// What the device said.
    pub payload: CheckInPayload,
    /// The verified receipt, once the server answered.
    pub receipt: Option<Receipt>,
    /// Whether the receipt carries every required witness's cosignature; a receipt
    /// without them is provisional, until [`Device::keep_receipt`] takes a cosigned one
    /// (CHK-32).
    pub witnessed: bool,
    /// Whether the participant chose to keep the content past its deadline (RET-23,
    /// [`Device::keep_content`]).
    pub keep: bool,
}

/// A check-in whose content the device deleted at its epoch's content deadline (RET-23):
/// what is left is what holds no content, the ids and the receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredCheckIn {
    /// The record id (CHK-12).
    pub record_id: RecordId,
    /// The challenge answered.
    pub challenge: ChallengeId,
    /// The epoch sealed to.
    pub epoch: EpochId,
    /// The verified receipt, if the server answered.
    pub receipt: Option<Receipt>,
    /// Whether the receipt is witnessed (CHK-32).
    pub witnessed: bool,
    /// When the device deleted the content.
    pub deleted_at: UnixTime,
}

/// What a kept receipt proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Signed by the log, with every required witness's cosignature: the witness has
    /// checked that this checkpoint extends every one it saw before, so the operator
    /// cannot later show a log without this check-in to anyone who checks with the witness.
    Witnessed,
    /// Signed by the log only: the check-in is in the log the operator signed, but no
    /// witness has vouched for that checkpoint yet. Fetch the receipt again later
    /// ([`Device::provisional_receipts`]).
    Provisional,
}

pub use minimis_proto::{FailureCategory, StatementCategory, UnknownCategory};

/// A check-in that could not be completed, recorded on the device (CHK-22).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The challenge it concerns.
    pub challenge: ChallengeId,
    /// What went wrong.
    pub category: FailureCategory,
    /// The device's time.
    pub at: UnixTime,
    /// Whether the report reached the operator.
    pub reported: bool,
}

/// Why a check-in could not be made. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckInError {
    /// The accepted challenge is not this device's (a token from another device).
    #[error("the accepted challenge does not belong to this device")]
    NotMine,
    /// The custodians' recipients do not verify (SEAL-7).
    #[error(transparent)]
    Recipients(#[from] RecipientError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The note is longer than the policy allows.
    #[error(transparent)]
    Note(#[from] minimis_proto::payload::NoteTooLong),
}

/// Why a receipt was refused: it does not prove the check-in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// No check-in with this record id was made by this device.
    #[error("this device made no check-in with that record id")]
    Unknown,
    /// The proof does not verify against the log key, the witnesses and the entry.
    #[error("the receipt does not verify: {0}")]
    Invalid(String),
}

/// The participant's device. Secrets: the device key and the tag key (no `Clone`,
/// `Serialize` or secret-revealing `Debug`).
pub struct Device {
    pub(crate) enrollment: Enrollment,
    pub(crate) key: SigningKey,
    pub(crate) tags: TagKey,
    /// Challenges accepted: (challenge, the device's time of acceptance, answered).
    pub(crate) accepted: Vec<(SignedChallenge, UnixTime, bool)>,
    pub(crate) refused: Vec<Refused>,
    pub(crate) sent: Vec<SentCheckIn>,
    pub(crate) failures: Vec<Failure>,
    /// How many location fixes were ever requested (for the participant's view, and to
    /// check the schedule's bound).
    pub(crate) fixes_taken: u64,
    /// Check-ins whose content was deleted at its deadline (RET-23).
    pub(crate) expired: Vec<ExpiredCheckIn>,
    /// What the device has verified of the public log (ACC-11).
    pub(crate) log_view: crate::history::LogView,
    /// The signed enrollment bundle, if enrolled with one (ENR-4).
    pub(crate) bundle: Option<crate::bundle::KeptBundle>,
    /// The salt of the zone's commitment in the bundle (LOC-21).
    pub(crate) zone_salt: Option<crate::bundle::ZoneSalt>,
    /// The notice shown at enrollment (ENR-20).
    pub(crate) notice_shown: Option<crate::notice::NoticeShown>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("pseudonym", &self.enrollment.pseudonym)
            .field("key", &self.key)
            .field("tags", &self.tags)
            .field("accepted", &self.accepted.len())
            .field("refused", &self.refused.len())
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device with its keys and an enrollment the caller vouches for, without a signed
    /// bundle: for simulations (`minimis demo`) and tests. It enforces everything the
    /// enrollment says, but nothing fixes the enrollment itself: a participant's device is
    /// enrolled with [`Device::enroll`], from the agency's signed bundle and after the
    /// notice (ENR-4, ENR-20, LOC-21).
    pub fn new(enrollment: Enrollment, key: SigningKey, tags: TagKey) -> Self {
        Self {
            enrollment,
            key,
            tags,
            accepted: Vec::new(),
            refused: Vec::new(),
            sent: Vec::new(),
            failures: Vec::new(),
            fixes_taken: 0,
            expired: Vec::new(),
            log_view: crate::history::LogView::default(),
            bundle: None,
            zone_salt: None,
            notice_shown: None,
        }
    }

    /// What the device was enrolled with.
    pub fn enrollment(&self) -> &Enrollment {
        &self.enrollment
    }

    /// The pseudonym.
    pub fn pseudonym(&self) -> Pseudonym {
        self.enrollment.pseudonym
    }

    /// The device key (to sign requests; CHK-13).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The participant's tag in `epoch` (ENR-3), to find their own log entries.
    pub fn tag(&self, epoch: EpochId) -> minimis_proto::ParticipantTag {
        self.tags.tag(&self.enrollment.pseudonym, epoch)
    }

    /// Checks a challenge against the operator's key, the enrolled policy and schedule and
    /// the device's own clock and history (CHL-5), and accepts it or refuses it. Refusals
    /// are kept as evidence. A challenge accepted earlier and not yet answered is returned
    /// again, without counting twice.
    ///
    /// # Errors
    /// The [`Refusal`], already recorded.
    pub fn accept(&mut self, signed: SignedChallenge, now: UnixTime) -> Result<Accepted, Refusal> {
        match self.check(&signed, now) {
            Ok(()) => {
                let challenge = signed.challenge.clone();
                self.accepted.push((signed, now, false));
                Ok(Accepted { challenge })
            }
            Err(Refusal::Replay)
                if self
                    .accepted
                    .iter()
                    .any(|(s, _, answered)| s == &signed && !answered) =>
            {
                Ok(Accepted {
                    challenge: signed.challenge,
                })
            }
            Err(reason) => {
                self.refused.push(Refused {
                    challenge: signed,
                    reason,
                    at: now,
                });
                Err(reason)
            }
        }
    }

    fn check(&self, signed: &SignedChallenge, now: UnixTime) -> Result<(), Refusal> {
        let e = &self.enrollment;
        let c = minimis_crypto::verify_challenge(signed, &e.operator_key)
            .map_err(|_| Refusal::BadSignature)?;
        if c.pseudonym != e.pseudonym {
            return Err(Refusal::NotMine);
        }
        if c.policy != e.policy.hash() {
            return Err(Refusal::WrongPolicy);
        }
        let seen = self.accepted.iter().any(|(s, _, _)| s.challenge.id == c.id)
            || self
                .refused
                .iter()
                .any(|r| r.challenge.challenge.id == c.id);
        if seen {
            return Err(Refusal::Replay);
        }
        // By the device's own clock: not issued in the future, and still answerable. With
        // the window check below this pins the challenge to the window the device is in
        // (or has just left), so a server cannot backdate challenges into other days to
        // get round the caps; a phone that was off when the window opened can still answer.
        if c.issued_at.seconds() > now.seconds() + CLOCK_SKEW
            || now.seconds() >= c.window_end.seconds() + e.policy.grace_seconds()
        {
            return Err(Refusal::Stale);
        }
        let prior: Vec<Slot> = self
            .accepted
            .iter()
            .map(|(s, _, _)| Slot {
                at: s.challenge.issued_at,
                kind: s.challenge.kind,
            })
            .collect();
        let span = e
            .schedule
            .admits(
                &prior,
                Slot {
                    at: c.issued_at,
                    kind: c.kind,
                },
            )
            .map_err(Refusal::from)?;
        if span.start != c.window_start || span.end != c.window_end {
            return Err(Refusal::WindowMismatch);
        }
        Ok(())
    }

    /// Answers an accepted challenge: takes the one location fix this challenge allows if
    /// a zone was ordered (none otherwise), reduces it to a zone result on the device, runs
    /// the presence check, and seals the payload to the custodians' verified recipients
    /// for the current epoch (SEAL-7). The device keeps its own copy.
    ///
    /// # Errors
    /// [`CheckInError`]; nothing is sent, and the challenge stays answerable.
    pub fn check_in(
        &mut self,
        accepted: Accepted,
        location: &mut dyn LocationSource,
        presence: &mut dyn PresenceCheck,
        note: &str,
        recipients: &[SignedEpochRecipient],
        now: UnixTime,
    ) -> Result<Envelope, CheckInError> {
        let c = accepted.challenge;
        if c.pseudonym != self.enrollment.pseudonym {
            return Err(CheckInError::NotMine);
        }
        let e = &self.enrollment;
        let keys = SealingKeys::verify(&e.policy, now, recipients, &e.custodians)?;
        let note = Note::new(note, e.policy.max_note_bytes())?;
        if e.zone.is_some() {
            self.fixes_taken += 1;
        }
        let zone: ZoneResult = zone_result(e.zone.as_ref(), c.id, location);
        let presence: PresenceResult = presence.check();
        let payload = CheckInPayload {
            challenge_id: c.id,
            zone,
            presence,
            device_time: now,
            note,
        };
        let envelope = seal_envelope(&payload, &keys, e.pseudonym, &self.key)?;
        if let Some(a) = self
            .accepted
            .iter_mut()
            .find(|(s, _, _)| s.challenge.id == c.id)
        {
            a.2 = true;
        }
        self.sent.push(SentCheckIn {
            record_id: envelope.record_id(),
            challenge: c.id,
            epoch: envelope.epoch,
            payload,
            receipt: None,
            witnessed: false,
            keep: false,
        });
        Ok(envelope)
    }

    /// Seals `text` for a technical-failure report (CHK-23) or a statement (ACC-12) on
    /// `challenge`, to the
    /// custodians' verified recipients for the epoch of `now` (SEAL-7). The text is bounded
    /// like a check-in's note (CHK-3); no location fix is taken and no presence check run.
    ///
    /// # Errors
    /// [`CheckInError`]: the recipients do not verify, the text is too long, or sealing
    /// failed. Nothing was kept or sent.
    pub fn seal_text(
        &self,
        challenge: ChallengeId,
        text: &str,
        recipients: &[SignedEpochRecipient],
        now: UnixTime,
    ) -> Result<SealedText, CheckInError> {
        let e = &self.enrollment;
        let keys = SealingKeys::verify(&e.policy, now, recipients, &e.custodians)?;
        let payload = CheckInPayload {
            challenge_id: challenge,
            zone: ZoneResult::NotRequired,
            presence: PresenceResult::NotRequired,
            device_time: now,
            note: Note::new(text, e.policy.max_note_bytes())?,
        };
        let sealed = minimis_seal::seal(&payload, &keys)?;
        Ok(SealedText {
            epoch: keys.epoch(),
            ciphertext: sealed.as_bytes().to_vec(),
        })
    }

    /// Verifies a receipt against the log's key and every required witness, for the
    /// device's own check-in, and keeps it (the participant's proof of compliance). A
    /// receipt signed by the log but not yet cosigned by every required witness is kept as
    /// provisional; a witnessed receipt is never replaced by a provisional one (CLI-12).
    ///
    /// # Errors
    /// [`ReceiptError`]; the receipt is not kept.
    pub fn keep_receipt(&mut self, receipt: Receipt) -> Result<ReceiptStatus, ReceiptError> {
        if let Some(i) = self
            .sent
            .iter()
            .position(|s| s.record_id == receipt.record_id)
        {
            let s = &self.sent[i];
            let status = self.receipt_status(s.record_id, s.challenge, s.epoch, &receipt)?;
            let s = &mut self.sent[i];
            if s.witnessed && status == ReceiptStatus::Provisional {
                return Ok(ReceiptStatus::Witnessed);
            }
            s.receipt = Some(receipt);
            s.witnessed = status == ReceiptStatus::Witnessed;
            return Ok(status);
        }
        let i = self
            .expired
            .iter()
            .position(|x| x.record_id == receipt.record_id)
            .ok_or(ReceiptError::Unknown)?;
        let x = &self.expired[i];
        let status = self.receipt_status(x.record_id, x.challenge, x.epoch, &receipt)?;
        let x = &mut self.expired[i];
        if x.witnessed && status == ReceiptStatus::Provisional {
            return Ok(ReceiptStatus::Witnessed);
        }
        x.receipt = Some(receipt);
        x.witnessed = status == ReceiptStatus::Witnessed;
        Ok(status)
    }

    /// Verifies `receipt` for the check-in of `record`: witnessed, provisional, or
    /// refused.
    pub(crate) fn receipt_status(
        &self,
        record: RecordId,
        challenge: ChallengeId,
        epoch: EpochId,
        receipt: &Receipt,
    ) -> Result<ReceiptStatus, ReceiptError> {
        if receipt.record_id != record {
            return Err(ReceiptError::Unknown);
        }
        let entry = LogEntry::CheckInReceived {
            tag: self.tags.tag(&self.enrollment.pseudonym, epoch),
            record,
            challenge,
            epoch,
        }
        .encode();
        let text = receipt.tlog_proof.as_bytes();
        let log_key = &self.enrollment.log_key;
        match verify_tlog_proof(text, &entry, log_key, &self.enrollment.witnesses) {
            Ok(_) => Ok(ReceiptStatus::Witnessed),
            // Only a missing cosignature makes it provisional; a bad one is refused.
            Err(TlogProofError::Cosignature(CosignatureError::Missing { .. })) => {
                verify_tlog_proof(text, &entry, log_key, &[])
                    .map_err(|e| ReceiptError::Invalid(e.to_string()))?;
                Ok(ReceiptStatus::Provisional)
            }
            Err(e) => Err(ReceiptError::Invalid(e.to_string())),
        }
    }

    /// The record ids of check-ins whose receipt is missing or provisional: fetch them
    /// again (`GET /v1/participants/{p}/receipts/{record_id}`, CHK-30) until witnessed.
    pub fn provisional_receipts(&self) -> Vec<RecordId> {
        self.sent
            .iter()
            .filter(|s| !s.witnessed)
            .map(|s| s.record_id)
            .chain(
                self.expired
                    .iter()
                    .filter(|x| !x.witnessed)
                    .map(|x| x.record_id),
            )
            .collect()
    }

    /// Deletes the device's copy of the content of every check-in whose epoch's content
    /// deadline (RET-1: the epoch's end plus `retention.content_days`) has passed by `now`,
    /// unless the participant chose to keep it ([`Device::keep_content`]) (**RET-23**).
    /// The ids and the receipt stay: they hold no content, and they are the
    /// participant's proof. Returns the records whose content was deleted.
    pub fn apply_retention(&mut self, now: UnixTime) -> Vec<RecordId> {
        let policy = self.enrollment.policy.clone();
        let (due, keep): (Vec<SentCheckIn>, Vec<SentCheckIn>) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|s| !s.keep && now >= policy.content_deadline(s.epoch));
        self.sent = keep;
        let mut deleted = Vec::with_capacity(due.len());
        for s in due {
            deleted.push(s.record_id);
            self.expired.push(ExpiredCheckIn {
                record_id: s.record_id,
                challenge: s.challenge,
                epoch: s.epoch,
                receipt: s.receipt.clone(),
                witnessed: s.witnessed,
                deleted_at: now,
            });
            // The payload's note zeroizes when `s` is dropped here.
        }
        deleted
    }

    /// The participant's choice to keep (or not) the content of one check-in past its
    /// deadline (RET-23). Returns false if the device holds no content for `record` (never
    /// sent, or already deleted).
    pub fn keep_content(&mut self, record: RecordId, keep: bool) -> bool {
        match self.sent.iter_mut().find(|s| s.record_id == record) {
            Some(s) => {
                s.keep = keep;
                true
            }
            None => false,
        }
    }

    /// Check-ins whose content the device deleted at its deadline (RET-23), with their
    /// receipts.
    pub fn expired(&self) -> &[ExpiredCheckIn] {
        &self.expired
    }

    /// Records a check-in that could not be completed (CHK-22), to report at the next
    /// chance.
    pub fn record_failure(
        &mut self,
        challenge: ChallengeId,
        category: FailureCategory,
        now: UnixTime,
    ) {
        self.failures.push(Failure {
            challenge,
            category,
            at: now,
            reported: false,
        });
    }

    /// Failures not yet reported.
    pub fn unreported_failures(&self) -> Vec<Failure> {
        self.failures
            .iter()
            .filter(|f| !f.reported)
            .cloned()
            .collect()
    }

    /// Marks a failure report as delivered.
    pub fn mark_reported(&mut self, challenge: ChallengeId) {
        for f in self
            .failures
            .iter_mut()
            .filter(|f| f.challenge == challenge)
        {
            f.reported = true;
        }
    }

    /// The device's own check-ins, oldest first.
    pub fn sent(&self) -> &[SentCheckIn] {
        &self.sent
    }

    /// Challenges the device refused, with why (shown to the participant).
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// Technical failures recorded.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// How many location fixes the device has requested from the platform, ever.
    pub fn fixes_taken(&self) -> u64 {
        self.fixes_taken
    }

    /// Challenges accepted, with the device's time of acceptance.
    pub fn accepted(&self) -> impl Iterator<Item = (&Challenge, UnixTime)> {
        self.accepted.iter().map(|(s, at, _)| (&s.challenge, *at))
    }

    /// How many ad-hoc challenges were accepted.
    pub fn adhoc_accepted(&self) -> usize {
        self.accepted
            .iter()
            .filter(|(s, _, _)| s.challenge.kind == ChallengeKind::AdHoc)
            .count()
    }
}
