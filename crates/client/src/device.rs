//! The participant's device: its keys, what it was enrolled with, and everything it did.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use minimis_crypto::{SigningKey, TagKey};
use minimis_log::cosignature::CosignatureError;
use minimis_log::tlog_proof::TlogProofError;
use minimis_log::{LogEntry, QuorumError, TlogProof, VerifierKey, verify_tlog_proof};
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CheckInPayload, Envelope, EpochId, Note, Placement,
    Policy, PresenceResult, Pseudonym, PublicKey, Receipt, RecordId, Schedule, ScheduleViolation,
    SignedChallenge, SignedEpochRecipient, UnixTime, WindowSpan, ZoneResult,
};
use minimis_seal::{CustodianKeys, RecipientError, SealError, SealingKeys, seal_envelope};
use serde::{Deserialize, Serialize};

use crate::location::{LocationSource, Zone, zone_result};
use crate::presence::PresenceCheck;

/// How far the device's clock may be behind the operator's: a challenge's issue time may be
/// this far ahead of the device's clock, and its window may open this much later by the
/// device's clock than it accepts it (CHL-8).
pub const CLOCK_SKEW: i64 = 300;

/// For each [`Refusal`] reason, how many refused challenges the device keeps as evidence:
/// the first it refused for that reason and the newest after it (**CHL-13**). Every
/// refusal is counted; only these are kept.
pub const REFUSALS_KEPT_PER_REASON: usize = 8;

/// What the device was enrolled with: all public, kept on the device.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// The pseudonym the operator assigned.
    pub pseudonym: Pseudonym,
    /// The schedule the device enforces on every challenge.
    pub schedule: Schedule,
    /// The zone the agency or a court ordered, if any. Without one, no location fix is
    /// ever taken.
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
    /// The tlog-policy of the bundle, if it carries one: a receipt is witnessed only with
    /// its quorum of cosignatures (**LOG-68**).
    pub tlog_policy: Option<std::sync::Arc<minimis_log::TlogPolicy>>,
    /// The custodians' keys, for their signed epoch recipients (SEAL-7).
    pub custodians: CustodianKeys,
}

/// Why the device refused a challenge. Every refusal is counted by reason, and refused
/// challenges are kept, with the operator's signature, as evidence (CHL-5, CHL-13).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    thiserror::Error,
)]
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
    /// Not current by the device's clock (CHL-8): issued more than [`CLOCK_SKEW`] in the
    /// future, its window not yet open, or its window and grace period ended.
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
    /// A challenge with the id of one the device already answered (CHL-11).
    #[error("the challenge was already answered")]
    Replay,
    /// A challenge with the id of one the device already accepted and has not answered:
    /// the device hands out one [`Accepted`] per challenge (CHL-11).
    #[error("the challenge was already accepted")]
    AlreadyAccepted,
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
/// Not `Clone`, and made only by the device, once per challenge ([`Device::accept`], or
/// [`Device::resume`] when no other is held): one accepted challenge, one check-in
/// (**CHL-11**, **CHL-12**).
#[derive(Debug)]
#[must_use = "an accepted challenge is answered with Device::check_in"]
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

/// What the device keeps of the challenges it refused (**CHL-13**): a count of refusals
/// by reason, and for each reason the first refused challenge and the newest after it,
/// [`REFUSALS_KEPT_PER_REASON`] in all, as signed evidence. A challenge sent again exactly
/// as one the device keeps (refused for the same reason, or accepted) changes nothing: it
/// is neither counted nor kept again. So a hostile operator cannot make it grow without
/// bound, nor push out the evidence of one reason by sending challenges refused for
/// another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    counts: BTreeMap<Refusal, u64>,
    kept: Vec<Refused>,
}

impl Refusals {
    /// How many challenges were refused, by reason (never reset, saturating; a challenge
    /// sent again exactly as one kept is not counted again).
    pub fn counts(&self) -> &BTreeMap<Refusal, u64> {
        &self.counts
    }

    /// How many challenges were refused in all.
    pub fn total(&self) -> u64 {
        self.counts.values().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// The refused challenges kept as evidence, in the order they were refused.
    pub fn kept(&self) -> &[Refused] {
        &self.kept
    }

    /// Counts a refusal and keeps its challenge, by the rule of CHL-13; nothing if the
    /// same challenge is kept, refused for the same reason.
    pub(crate) fn record(&mut self, refused: Refused) {
        if self
            .kept
            .iter()
            .any(|k| k.reason == refused.reason && k.challenge == refused.challenge)
        {
            return;
        }
        let n = self.counts.entry(refused.reason).or_insert(0);
        *n = n.saturating_add(1);
        let same: Vec<usize> = self
            .kept
            .iter()
            .enumerate()
            .filter(|(_, k)| k.reason == refused.reason)
            .map(|(i, _)| i)
            .collect();
        if same.len() >= REFUSALS_KEPT_PER_REASON {
            // Keep the first; drop the oldest of the others.
            self.kept.remove(same[1]);
        }
        self.kept.push(refused);
    }

    /// Rebuilds the record from a stored one; `None` if it breaks the bound.
    pub(crate) fn from_parts(counts: BTreeMap<Refusal, u64>, kept: Vec<Refused>) -> Option<Self> {
        let fits = counts.keys().all(|reason| {
            let n = kept.iter().filter(|k| k.reason == *reason).count();
            n <= REFUSALS_KEPT_PER_REASON && n as u64 <= counts[reason]
        }) && kept.iter().all(|k| counts.contains_key(&k.reason));
        fits.then_some(Self { counts, kept })
    }
}

/// A challenge the device accepted, as it keeps it (CHL-9, CHL-14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The challenge, with the operator's signature.
    pub(crate) signed: SignedChallenge,
    /// The window occurrence the device placed it in: its window, open by the device's
    /// clock when it was accepted (CHL-8).
    pub(crate) window: WindowSpan,
    /// The device's time when it accepted it.
    pub(crate) accepted_at: UnixTime,
    /// The device's time when it answered it (and took its one fix), if it has.
    pub(crate) answered_at: Option<UnixTime>,
}

impl Taken {
    /// Where it counts against the caps: its window, and the device's time it answered at,
    /// or accepted at if not answered (CHL-9).
    fn placement(&self) -> Placement {
        Placement {
            window: self.window,
            at: self.answered_at.unwrap_or(self.accepted_at),
            kind: self.signed.challenge.kind,
        }
    }
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
    /// This device holds no such accepted challenge (a token from another device).
    #[error("this device did not accept that challenge")]
    NotAccepted,
    /// The challenge was already answered: one check-in, one location fix, per challenge
    /// (CHL-12).
    #[error("the challenge was already answered")]
    AlreadyAnswered,
    /// The challenge's window, with its grace period, is not open by the device's clock
    /// (CHL-8, CHL-12).
    #[error("the challenge is not current by the device's clock")]
    Stale,
    /// Answering now would break the schedule, counted on the device's clock (the clock
    /// went back, CHL-9).
    #[error("answering now would break the schedule: {0}")]
    Schedule(ScheduleViolation),
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

/// Why [`Device::resume`] gave no [`Accepted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The device did not accept a challenge with this id.
    #[error("this device did not accept that challenge")]
    NotAccepted,
    /// It was answered.
    #[error("the challenge was already answered")]
    AlreadyAnswered,
    /// An [`Accepted`] for it is already held (CHL-11).
    #[error("an accepted challenge for it is already held")]
    Held,
    /// Its window, with its grace period, is not open by the device's clock.
    #[error("the challenge is not current by the device's clock")]
    Stale,
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
    /// Cosigned by some of the enrollment's tlog-policy witnesses, but not its quorum
    /// (**LOG-68**): an honest operator serves a checkpoint with its log signature only
    /// or with the quorum's cosignatures (LOG-61), never between.
    #[error(
        "the receipt is cosigned by {cosigned} of the policy's {known} witnesses: below its quorum"
    )]
    BelowQuorum {
        /// Distinct known witnesses that cosigned validly.
        cosigned: usize,
        /// Witnesses the policy knows.
        known: usize,
    },
    /// The receipt's checkpoint has the size of one the device already verified, with
    /// another root: the log shows two histories (**LOG-69**). Both checkpoints are
    /// signed by the log: keep them as evidence.
    #[error("the log forked: two checkpoints of size {size} with different roots")]
    Fork {
        /// The size.
        size: u64,
        /// The root the device verified before.
        held: minimis_log::Hash,
        /// The root of the receipt's checkpoint.
        offered: minimis_log::Hash,
    },
}

/// The participant's device. Secrets: the device key and the tag key (no `Clone`,
/// `Serialize` or secret-revealing `Debug`).
pub struct Device {
    pub(crate) enrollment: Enrollment,
    pub(crate) key: SigningKey,
    pub(crate) tags: TagKey,
    /// Challenges accepted, each placed by the device's clock (CHL-9).
    pub(crate) accepted: Vec<Taken>,
    /// Refusals: counted, and kept within a bound (CHL-13).
    pub(crate) refusals: Refusals,
    /// Challenges this instance handed out an [`Accepted`] for that is not yet used (not
    /// stored: after a restart, none is held, CHL-11).
    pub(crate) held: HashSet<ChallengeId>,
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
    /// The tree heads (size, root) of every receipt's checkpoint the device verified,
    /// to catch a fork at once (LOG-69); rebuilt when the store is read.
    pub(crate) receipt_heads: BTreeMap<u64, minimis_log::Hash>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("pseudonym", &self.enrollment.pseudonym)
            .field("key", &self.key)
            .field("tags", &self.tags)
            .field("accepted", &self.accepted.len())
            .field("refused", &self.refusals.total())
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
            refusals: Refusals::default(),
            held: HashSet::new(),
            sent: Vec::new(),
            failures: Vec::new(),
            fixes_taken: 0,
            expired: Vec::new(),
            log_view: crate::history::LogView::default(),
            bundle: None,
            zone_salt: None,
            notice_shown: None,
            receipt_heads: BTreeMap::new(),
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
    /// the device's own clock and record (CHL-5, **CHL-8**, **CHL-9**), and accepts it or
    /// refuses it. The device places the challenge in its window, which must be open by the
    /// device's clock (from [`CLOCK_SKEW`] before it opens to the policy's grace period
    /// after it closes), and counts it at `now`, never at the issue time the operator
    /// claims; that claim can only make it refuse. A challenge it already accepted is
    /// refused ([`Refusal::AlreadyAccepted`], [`Refusal::Replay`]) and counts nothing
    /// again: one [`Accepted`] per challenge (**CHL-11**; to take up one accepted earlier,
    /// [`Device::resume`]). Sent again exactly as accepted, it changes nothing; otherwise
    /// every refusal is counted, and its challenge kept as evidence within a bound
    /// (**CHL-13**).
    ///
    /// # Errors
    /// The [`Refusal`], already recorded.
    pub fn accept(&mut self, signed: SignedChallenge, now: UnixTime) -> Result<Accepted, Refusal> {
        match self.check(&signed, now) {
            Ok(window) => {
                let challenge = signed.challenge.clone();
                self.held.insert(challenge.id);
                self.accepted.push(Taken {
                    signed,
                    window,
                    accepted_at: now,
                    answered_at: None,
                });
                Ok(Accepted { challenge })
            }
            Err(reason) => {
                // The same challenge again (the server lists open challenges until they
                // are answered) changes nothing; the same id with other content is
                // evidence, and kept.
                let resent = matches!(reason, Refusal::AlreadyAccepted | Refusal::Replay)
                    && self.accepted.iter().any(|t| t.signed == signed);
                if !resent {
                    self.refusals.record(Refused {
                        challenge: signed,
                        reason,
                        at: now,
                    });
                }
                Err(reason)
            }
        }
    }

    /// The checks of [`Device::accept`]; the window occurrence the challenge is placed in.
    fn check(&self, signed: &SignedChallenge, now: UnixTime) -> Result<WindowSpan, Refusal> {
        let e = &self.enrollment;
        let c = minimis_crypto::verify_challenge(signed, &e.operator_key)
            .map_err(|_| Refusal::BadSignature)?;
        if c.pseudonym != e.pseudonym {
            return Err(Refusal::NotMine);
        }
        if c.policy != e.policy.hash() {
            return Err(Refusal::WrongPolicy);
        }
        if let Some(t) = self.accepted.iter().find(|t| t.signed.challenge.id == c.id) {
            return Err(if t.answered_at.is_some() {
                Refusal::Replay
            } else {
                Refusal::AlreadyAccepted
            });
        }
        // The challenge must be consistent with the schedule as signed: its issue time in
        // an enrolled window, and that window the one it names. The issue time is used
        // only to refuse, never to place it (CHL-8).
        let span = e
            .schedule
            .window_at(c.issued_at)
            .ok_or(Refusal::OutsideWindow)?;
        if span.start != c.window_start || span.end != c.window_end {
            return Err(Refusal::WindowMismatch);
        }
        // By the device's own clock: not issued in the future, and its window open (from
        // the clock skew before it to the grace period after it). This pins the challenge
        // to the window the device is in (or has just left), so a server cannot backdate
        // challenges into other days to get round the caps; a phone that was off when the
        // window opened can still answer.
        if c.issued_at.seconds() > now.seconds().saturating_add(CLOCK_SKEW)
            || !self.open_at(span, now)
        {
            return Err(Refusal::Stale);
        }
        // Counted where the device placed it: in that window, at the device's time (CHL-9).
        let prior: Vec<Placement> = self.accepted.iter().map(Taken::placement).collect();
        e.schedule
            .admits_placement(
                &prior,
                Placement {
                    window: span,
                    at: now,
                    kind: c.kind,
                },
            )
            .map_err(Refusal::from)?;
        Ok(span)
    }

    /// Whether `window` is open by the device's clock at `now`: from [`CLOCK_SKEW`] before
    /// it opens until the grace period after it closes (CHL-8).
    fn open_at(&self, window: WindowSpan, now: UnixTime) -> bool {
        let grace = self.enrollment.policy.grace_seconds();
        window.start.seconds().saturating_sub(CLOCK_SKEW) <= now.seconds()
            && now.seconds() < window.end.seconds().saturating_add(grace)
    }

    /// An [`Accepted`] for a challenge this device accepted and has not answered, when this
    /// instance holds none for it: after a restart (the store keeps what was accepted, not
    /// the `Accepted` values), or after a check-in that failed before its fix
    /// (**CHL-11**). The challenge is not checked or counted again: it already counts.
    ///
    /// # Errors
    /// [`ResumeError`]: not accepted, answered, an [`Accepted`] already held, or its window
    /// not open by the device's clock.
    pub fn resume(
        &mut self,
        challenge: ChallengeId,
        now: UnixTime,
    ) -> Result<Accepted, ResumeError> {
        let t = self
            .accepted
            .iter()
            .find(|t| t.signed.challenge.id == challenge)
            .ok_or(ResumeError::NotAccepted)?;
        if t.answered_at.is_some() {
            return Err(ResumeError::AlreadyAnswered);
        }
        if self.held.contains(&challenge) {
            return Err(ResumeError::Held);
        }
        if !self.open_at(t.window, now) {
            return Err(ResumeError::Stale);
        }
        let challenge = t.signed.challenge.clone();
        self.held.insert(challenge.id);
        Ok(Accepted { challenge })
    }

    /// Gives back an [`Accepted`] the participant will not answer now, so that
    /// [`Device::resume`] can hand it out again later. Dropping it instead keeps it held
    /// until the device is restarted (CHL-11).
    pub fn release(&mut self, accepted: Accepted) {
        if self
            .accepted
            .iter()
            .any(|t| t.signed.challenge == accepted.challenge)
        {
            self.held.remove(&accepted.challenge.id);
        }
    }

    /// The challenges accepted and not answered whose window is open by the device's clock
    /// at `now`: what the participant can still answer ([`Device::resume`]).
    pub fn answerable(&self, now: UnixTime) -> Vec<ChallengeId> {
        self.accepted
            .iter()
            .filter(|t| t.answered_at.is_none() && self.open_at(t.window, now))
            .map(|t| t.signed.challenge.id)
            .collect()
    }

    /// Answers an accepted challenge: takes the one location fix this challenge allows if
    /// a zone was ordered (none otherwise), reduces it to a zone result on the device, runs
    /// the presence check, and seals the payload to the custodians' verified recipients
    /// for the current epoch (SEAL-7). The device keeps its own copy.
    ///
    /// A challenge is answered once (**CHL-12**): one it already answered is refused, and
    /// it is marked answered, at `now`, before the fix is taken, so that nothing after the
    /// fix can give it a second one. Its window must still be open by the device's clock,
    /// and answering at `now` must keep the schedule's caps as the device counts them
    /// (CHL-8, CHL-9).
    ///
    /// # Errors
    /// [`CheckInError`]; nothing is sent. If the check-in failed before the fix (anything
    /// but [`CheckInError::Seal`]), the challenge stays answerable: get it again with
    /// [`Device::resume`].
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
        let (i, keys, note) = match self.ready(&c, note, recipients, now) {
            Ok(ready) => ready,
            Err(e) => {
                // The token was consumed and nothing was taken: it can be resumed.
                if !matches!(e, CheckInError::NotMine | CheckInError::NotAccepted) {
                    self.held.remove(&c.id);
                }
                return Err(e);
            }
        };
        // Answered before the fix: whatever happens next, no second fix (CHL-12).
        self.accepted[i].answered_at = Some(now);
        self.held.remove(&c.id);
        let e = &self.enrollment;
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

    /// Everything [`Device::check_in`] checks before it marks the challenge answered: the
    /// index of its record, the verified recipients and the note.
    fn ready(
        &self,
        c: &Challenge,
        note: &str,
        recipients: &[SignedEpochRecipient],
        now: UnixTime,
    ) -> Result<(usize, SealingKeys, Note), CheckInError> {
        let e = &self.enrollment;
        if c.pseudonym != e.pseudonym {
            return Err(CheckInError::NotMine);
        }
        let i = self
            .accepted
            .iter()
            .position(|t| t.signed.challenge == *c)
            .ok_or(CheckInError::NotAccepted)?;
        let t = &self.accepted[i];
        if t.answered_at.is_some() {
            return Err(CheckInError::AlreadyAnswered);
        }
        if !self.open_at(t.window, now) {
            return Err(CheckInError::Stale);
        }
        let prior: Vec<Placement> = self
            .accepted
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, t)| t.placement())
            .collect();
        e.schedule
            .admits_placement(
                &prior,
                Placement {
                    window: t.window,
                    at: now,
                    kind: c.kind,
                },
            )
            .map_err(CheckInError::Schedule)?;
        let keys = SealingKeys::verify(&e.policy, now, recipients, &e.custodians)?;
        let note = Note::new(note, e.policy.max_note_bytes())?;
        Ok((i, keys, note))
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
            self.note_receipt_head(&receipt);
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
        self.note_receipt_head(&receipt);
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
        let proof = TlogProof::parse(text).map_err(|e| ReceiptError::Invalid(e.to_string()))?;
        // LOG-69: a checkpoint of a size already verified must have the same root.
        let cp = proof
            .open_checkpoint(log_key)
            .map_err(|e| ReceiptError::Invalid(e.to_string()))?;
        let (size, root) = (cp.checkpoint().tree_size(), *cp.checkpoint().root_hash());
        let held = self.receipt_heads.get(&size).copied().or_else(|| {
            self.log_view
                .heads()
                .iter()
                .find(|(s, _)| *s == size)
                .map(|(_, r)| *r)
        });
        if let Some(held) = held.filter(|h| *h != root) {
            return Err(ReceiptError::Fork {
                size,
                held,
                offered: root,
            });
        }
        if let Some(policy) = &self.enrollment.tlog_policy {
            return match proof.verify_with_policy(&entry, log_key, policy) {
                Ok(_) => Ok(ReceiptStatus::Witnessed),
                // LOG-68: no cosignature yet is provisional; some, below the quorum, is
                // refused; a bad line by a known witness is refused.
                Err(TlogProofError::Quorum(QuorumError::BelowQuorum { cosigned: 0, .. })) => {
                    proof
                        .verify(&entry, log_key, &[])
                        .map_err(|e| ReceiptError::Invalid(e.to_string()))?;
                    Ok(ReceiptStatus::Provisional)
                }
                Err(TlogProofError::Quorum(QuorumError::BelowQuorum { cosigned, known })) => {
                    Err(ReceiptError::BelowQuorum { cosigned, known })
                }
                Err(e) => Err(ReceiptError::Invalid(e.to_string())),
            };
        }
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

    /// Remembers the tree head of a receipt that verified (LOG-69): only after
    /// [`Device::receipt_status`] accepted it, so its log signature is not checked again.
    pub(crate) fn note_receipt_head(&mut self, receipt: &Receipt) {
        let head = TlogProof::parse(receipt.tlog_proof.as_bytes())
            .ok()
            .and_then(|p| minimis_log::SignedNote::parse(p.checkpoint_text().as_bytes()).ok())
            .and_then(|n| minimis_log::Checkpoint::parse(n.text()).ok());
        if let Some(cp) = head {
            self.receipt_heads.insert(cp.tree_size(), *cp.root_hash());
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

    /// The refused challenges the device keeps as evidence, with why (shown to the
    /// participant); within the bound of CHL-13 ([`Device::refusals`] counts them all).
    pub fn refused(&self) -> &[Refused] {
        self.refusals.kept()
    }

    /// Every refusal, counted by reason, and the refused challenges kept (CHL-13).
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
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
        self.accepted
            .iter()
            .map(|t| (&t.signed.challenge, t.accepted_at))
    }

    /// How many ad-hoc challenges were accepted.
    pub fn adhoc_accepted(&self) -> usize {
        self.accepted
            .iter()
            .filter(|t| t.signed.challenge.kind == ChallengeKind::AdHoc)
            .count()
    }
}
