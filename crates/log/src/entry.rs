//! Typed log entries and their one canonical binary encoding.
//!
//! Every entry is a type byte followed by its fields, fixed-size or length-prefixed, all
//! integers big-endian; there is exactly one encoding of each entry, and decoding
//! refuses anything else: an unknown type byte, a truncated field, trailing bytes, a
//! field out of its range (**LOG-25**, **LOG-26**).
//!
//! ```text
//! label     = len (u8, 1..=32) || len bytes of [a-z0-9-]
//! case      = SHA-256("minimis case-ref v1\n" || salt (32) || case_reference) (32)
//! records   = count (u16, 1..=1024) || count × record_id (32), strictly ascending
//! access    = custodian (label) || officer (label) || purpose (label)
//!             || legal_basis (label) || case (32) || records || epoch (u32)
//! hold      = hold_id (16) || records || legal_basis (label) || expires (i64)
//!
//! 0x01 enrollment opened     tag (32) || epoch (u32) || policy (32)
//! 0x02 enrollment closed     tag (32) || epoch (u32)
//! 0x03 policy published      policy (32)
//! 0x04 challenge issued      tag (32) || challenge_id (16) || epoch (u32) || kind (u8)
//!                            || issued_at (i64) || window_start (i64) || window_end (i64)
//! 0x05 check-in received     tag (32) || record_id (32) || challenge_id (16) || epoch (u32)
//! 0x06 content accessed      access
//! 0x07 access denied         access || reason (u8)
//! 0x08 records purged        epoch (u32) || count (u64) || record_set_hash (32)
//!                            || purged_at (i64)
//! 0x09 epoch key destroyed   custodian (label) || epoch (u32) || destroyed_at (i64)
//! 0x0a legal hold placed     hold
//! 0x0b legal hold released   hold
//! 0x0c row resolved          tag (32) || challenge_id (16) || epoch (u32) || resolution (u8)
//!                            || reason (u8)
//! 0x0d ledger purged         tag (32) || epoch (u32) || purged_at (i64)
//! 0x0e epoch summary         epoch (u32) || issued (u32) || on_time (u32) || late (u32)
//!                            || missed (u32) || no_network (u32) || app_error (u32)
//!                            || device_error (u32) || presence_unavailable (u32)
//!                            || other (u32)
//! 0x0f witness policy published  policy (32): SHA-256 of a tlog-policy file (LOG-65)
//! 0x10 to 0x17               the obligations' entries: crate::obligation_entry
//! ```
//!
//! Entries name a participant only by the [`ParticipantTag`] of the epoch (an HMAC tag
//! that changes every epoch); they carry no content, no coordinates and no identity
//! (**LOG-27**). Officer ids are role pseudonyms the agency chooses (**LOG-28**). The
//! agency's case reference never appears: an access carries only its salted
//! [`CaseCommitment`] (**LOG-33**, **ACC-9**). A denial's reason is one of the error
//! codes of `spec/access.md` (**LOG-34**). A resolution names no officer: the operator's
//! ledger keeps who resolved a row, and the public log keeps only the decision and its
//! reason, so that an officer's id cannot link a participant's tags across epochs
//! (**LOG-27**, **CHK-24**). An epoch summary holds counts only, no tag and no id
//! (**LOG-35**, **CHK-28**).
//!
//! Spec: `spec/log.md` § Entries.

use core::fmt;
use core::str::FromStr;

use minimis_proto::{
    ChallengeId, ChallengeKind, EpochId, ParticipantTag, PolicyHash, RecordId, UnixTime, WindowSpan,
};

use crate::obligation_entry::{ObligationEntry, ObligationFieldError};
use crate::tlog_policy::TlogPolicyHash;
use crate::verify::{Hash, leaf_hash};

/// The longest label (custodian, officer, purpose and legal basis ids), in bytes.
pub const MAX_LABEL_LEN: usize = 32;

/// The longest case reference, in bytes.
pub const MAX_CASE_REF_LEN: usize = 64;

/// The most records one access, denial or legal hold entry may name.
pub const MAX_RECORDS: usize = 1024;

/// Why a label or case reference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 1 to {max} characters of {charset}")]
pub struct LabelError {
    /// What was being parsed.
    pub kind: &'static str,
    /// The longest allowed, in bytes.
    pub max: usize,
    /// The characters allowed.
    pub charset: &'static str,
}

const LABEL_CHARSET: &str = "a-z, 0-9 and -";

fn is_label(s: &[u8]) -> bool {
    (1..=MAX_LABEL_LEN).contains(&s.len())
        && s.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

macro_rules! label {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks `s`: 1 to 32 characters of `a-z`, `0-9` and `-`.
            ///
            /// # Errors
            /// A [`LabelError`].
            pub fn new(s: &str) -> Result<Self, LabelError> {
                if is_label(s.as_bytes()) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(LabelError { kind: $kind, max: MAX_LABEL_LEN, charset: LABEL_CHARSET })
                }
            }

            /// The label.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = LabelError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

label!(
    /// A custodian's id, as in the policy's `custodians` list.
    CustodianId,
    "a custodian id"
);
label!(
    /// An officer's role pseudonym, chosen by the agency (**LOG-28**): never a name, a
    /// badge number or anything else that identifies a person outside the agency.
    OfficerId,
    "an officer id"
);
label!(
    /// A purpose id, as in the policy's `access.purposes` list.
    PurposeId,
    "a purpose id"
);
label!(
    /// A legal basis id, as in the policy's `access.legal_bases` list.
    LegalBasisId,
    "a legal basis id"
);

/// The agency's reference for the case an access belongs to: 1 to 64 characters of
/// `A-Z`, `a-z`, `0-9` and `. _ : / -`. It must be the agency's internal case or order
/// number, never a participant identifier such as an A-number (**LOG-27**).
///
/// It never appears in the log: an access entry carries only its [`CaseCommitment`]
/// (**LOG-33**, **ACC-9**). The agency custodian keeps the reference and the salt.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseRef(String);

fn is_case_ref(s: &[u8]) -> bool {
    (1..=MAX_CASE_REF_LEN).contains(&s.len())
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'))
}

impl CaseRef {
    /// Checks `s`.
    ///
    /// # Errors
    /// A [`LabelError`].
    pub fn new(s: &str) -> Result<Self, LabelError> {
        if is_case_ref(s.as_bytes()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(LabelError {
                kind: "a case reference",
                max: MAX_CASE_REF_LEN,
                charset: "A-Z, a-z, 0-9 and . _ : / -",
            })
        }
    }

    /// The reference.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CaseRef {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for CaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaseRef(<redacted>)")
    }
}

/// The 32-byte random salt of a [`CaseCommitment`] (**ACC-9**). The agency custodian
/// keeps it with the reference for as long as the entry, so that it can open the
/// commitment to an auditor or a court; anyone who holds it can test guesses of the
/// reference, so it is kept like a secret: zeroized on drop, redacted in `Debug`.
pub struct CaseSalt(zeroize::Zeroizing<[u8; 32]>);

impl CaseSalt {
    /// A fresh salt from the system CSPRNG.
    ///
    /// # Errors
    /// [`minimis_crypto::RandomError`] if the system generator fails.
    pub fn generate() -> Result<Self, minimis_crypto::RandomError> {
        Ok(Self(zeroize::Zeroizing::new(
            minimis_crypto::random_bytes::<32>()?,
        )))
    }

    /// The salt with these bytes (one the custodian stored).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(zeroize::Zeroizing::new(bytes))
    }

    /// The raw salt, to store it or to open the commitment.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for CaseSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaseSalt(<redacted>)")
    }
}

/// The label that starts a case commitment's input (**ACC-9**).
pub const CASE_COMMITMENT_LABEL: &[u8] = b"minimis case-ref v1\n";

/// The salted commitment to a case reference that an access entry carries instead of the
/// reference (**LOG-33**, **ACC-9**):
///
/// ```text
/// SHA-256("minimis case-ref v1\n" || salt (32) || case_reference)
/// ```
///
/// Hiding: without the salt nobody can test guesses of the reference. Binding: the
/// custodian cannot later claim another reference for the same entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseCommitment([u8; 32]);

impl CaseCommitment {
    /// The commitment to `reference` under `salt`.
    pub fn new(salt: &CaseSalt, reference: &CaseRef) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(CASE_COMMITMENT_LABEL);
        ctx.update(salt.expose_secret());
        ctx.update(reference.as_str().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }

    /// Whether this commits to `reference` under `salt` (opening the commitment).
    pub fn opens_to(&self, salt: &CaseSalt, reference: &CaseRef) -> bool {
        *self == Self::new(salt, reference)
    }

    /// Wraps raw bytes (as read from an entry).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for CaseCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseCommitment({:?})", Hash::from_bytes(self.0))
    }
}

/// A legal hold's identifier: 128 random bits chosen when the hold is placed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldId([u8; 16]);

impl HoldId {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HoldId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Why a record set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordSetError {
    /// No record.
    #[error("a record set names at least one record")]
    Empty,
    /// More than [`MAX_RECORDS`] records.
    #[error("a record set names at most {MAX_RECORDS} records, not {count}")]
    TooMany {
        /// How many were given.
        count: usize,
    },
}

/// A non-empty set of at most [`MAX_RECORDS`] record ids, kept in ascending order.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordSet(Vec<RecordId>);

impl RecordSet {
    /// The set of `records` (sorted; duplicates dropped).
    ///
    /// # Errors
    /// A [`RecordSetError`].
    pub fn new(records: impl IntoIterator<Item = RecordId>) -> Result<Self, RecordSetError> {
        let mut v: Vec<RecordId> = records.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        match v.len() {
            0 => Err(RecordSetError::Empty),
            n if n > MAX_RECORDS => Err(RecordSetError::TooMany { count: n }),
            _ => Ok(Self(v)),
        }
    }

    /// The record ids, ascending.
    pub fn as_slice(&self) -> &[RecordId] {
        &self.0
    }
}

impl fmt::Debug for RecordSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// The label that starts a record set hash's input.
pub const RECORD_SET_LABEL: &[u8] = b"minimis-log/v1 record-set\n";

/// A commitment to the set of records a purge removed (**LOG-30**):
///
/// ```text
/// SHA-256("minimis-log/v1 record-set\n" || count (u64) || record_id × count)
/// ```
///
/// over the distinct record ids in ascending order. An auditor who collected the
/// check-in entries of an epoch recomputes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordSetHash([u8; 32]);

impl RecordSetHash {
    /// The count of distinct records and the hash of their set.
    pub fn of(records: &[RecordId]) -> (u64, Self) {
        let mut v = records.to_vec();
        v.sort_unstable();
        v.dedup();
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(RECORD_SET_LABEL);
        ctx.update(&(v.len() as u64).to_be_bytes());
        for r in &v {
            ctx.update(r.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        (v.len() as u64, Self(out))
    }

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RecordSetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordSetHash({:?})", Hash::from_bytes(self.0))
    }
}

/// Why a custodian refused access: exactly the refusals of `spec/access.md` § Errors
/// that are logged, with the same names (**LOG-34**). (`request-malformed` names no
/// valid records and is never logged.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DenialReason {
    /// `0x01` `purpose-not-allowed`: the purpose is not in the policy (**ACC-2**).
    PurposeNotAllowed,
    /// `0x02` `legal-basis-not-allowed`: the legal basis is not in the policy
    /// (**ACC-2**).
    LegalBasisNotAllowed,
    /// `0x03` `not-in-caseload`: a record's participant is not in the officer's caseload
    /// (**ACC-3**).
    NotInCaseload,
    /// `0x04` `oversight-refused`: the oversight custodian's reviewer refused
    /// (**ACC-16**).
    OversightRefused,
    /// `0x05` `record-unknown`: no such record; it may have been purged (**ACC-1**).
    RecordUnknown,
    /// `0x06` `access-not-logged`: the oversight custodian cannot verify the agency's
    /// log entry (**ACC-7**).
    AccessNotLogged,
    /// `0x07` `key-destroyed`: the record's epoch key is destroyed (**ACC-10**).
    KeyDestroyed,
    /// `0x08` `log-unavailable`: the log could not be written or its proof verified;
    /// nothing was opened (**ACC-5**), and the refusal is logged once the log is back.
    LogUnavailable,
}

impl DenialReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 8] = [
        Self::PurposeNotAllowed,
        Self::LegalBasisNotAllowed,
        Self::NotInCaseload,
        Self::OversightRefused,
        Self::RecordUnknown,
        Self::AccessNotLogged,
        Self::KeyDestroyed,
        Self::LogUnavailable,
    ];

    /// The byte that stands for this reason.
    pub const fn code(self) -> u8 {
        match self {
            Self::PurposeNotAllowed => 0x01,
            Self::LegalBasisNotAllowed => 0x02,
            Self::NotInCaseload => 0x03,
            Self::OversightRefused => 0x04,
            Self::RecordUnknown => 0x05,
            Self::AccessNotLogged => 0x06,
            Self::KeyDestroyed => 0x07,
            Self::LogUnavailable => 0x08,
        }
    }

    /// The reason with this byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The error code of `spec/access.md`, for example `purpose-not-allowed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PurposeNotAllowed => "purpose-not-allowed",
            Self::LegalBasisNotAllowed => "legal-basis-not-allowed",
            Self::NotInCaseload => "not-in-caseload",
            Self::OversightRefused => "oversight-refused",
            Self::RecordUnknown => "record-unknown",
            Self::AccessNotLogged => "access-not-logged",
            Self::KeyDestroyed => "key-destroyed",
            Self::LogUnavailable => "log-unavailable",
        }
    }
}

impl fmt::Display for DenialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An officer's decision on a ledger row, and what it rests on: defined once in
/// `minimis-proto` (the operator's ledger and its API use the same types, **CHK-24**).
pub use minimis_proto::ledger::{Resolution, ResolutionReason};

/// Who asked a custodian for which records, why and under what authority.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The custodian asked.
    pub custodian: CustodianId,
    /// The officer's role pseudonym.
    pub officer: OfficerId,
    /// The purpose, from the policy.
    pub purpose: PurposeId,
    /// The legal basis, from the policy.
    pub legal_basis: LegalBasisId,
    /// The salted commitment to the agency's case reference (**LOG-33**); never the
    /// reference itself.
    pub case: CaseCommitment,
    /// The records.
    pub records: RecordSet,
    /// The epoch the records were sealed to.
    pub epoch: EpochId,
}

/// A legal hold: records kept past their retention, under a legal basis, until
/// `expires`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LegalHold {
    /// The hold's id.
    pub hold: HoldId,
    /// The records held.
    pub records: RecordSet,
    /// The legal basis, from the policy.
    pub legal_basis: LegalBasisId,
    /// When the hold lapses unless renewed.
    pub expires: UnixTime,
}

/// Technical-failure reports by category (**CHK-23**), as an `epoch summary` counts
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FailureCounts {
    /// `no-network`.
    pub no_network: u32,
    /// `app-error`.
    pub app_error: u32,
    /// `device-error`.
    pub device_error: u32,
    /// `presence-unavailable`.
    pub presence_unavailable: u32,
    /// `other`.
    pub other: u32,
}

impl FailureCounts {
    /// The categories' names (`spec/failure.md`) and counts, in encoding order.
    pub const fn by_category(&self) -> [(&'static str, u32); 5] {
        [
            ("no-network", self.no_network),
            ("app-error", self.app_error),
            ("device-error", self.device_error),
            ("presence-unavailable", self.presence_unavailable),
            ("other", self.other),
        ]
    }

    /// Every report, whatever its category.
    pub fn total(&self) -> u64 {
        self.by_category().iter().map(|(_, n)| u64::from(*n)).sum()
    }
}

/// The operator's per-epoch counts of its ledger (**CHK-28**, **LOG-35**, **LOG-36**):
/// aggregate counts only, no tag, no challenge, no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EpochSummary {
    /// The epoch whose challenges are counted.
    pub epoch: EpochId,
    /// Challenges issued in the epoch (one ledger row each).
    pub issued: u32,
    /// Rows whose check-in arrived inside the window (`on-time`).
    pub on_time: u32,
    /// Rows whose check-in arrived within the grace period (`late`), resolved or not.
    pub late: u32,
    /// Rows with no check-in by the end of the grace period (`pending-review` at
    /// closing), resolved or not.
    pub missed: u32,
    /// Technical-failure reports filed on the epoch's rows by the time of the summary.
    pub reports: FailureCounts,
}

/// A log entry (**LOG-25**, **LOG-27**).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogEntry {
    /// `0x01`: a participant was enrolled under a policy.
    EnrollmentOpened {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The epoch of enrollment.
        epoch: EpochId,
        /// The policy in force.
        policy: PolicyHash,
    },
    /// `0x02`: an enrollment ended.
    EnrollmentClosed {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The epoch it ended in.
        epoch: EpochId,
    },
    /// `0x03`: a policy was published.
    PolicyPublished {
        /// Its hash.
        policy: PolicyHash,
    },
    /// `0x04`: the server issued a challenge.
    ChallengeIssued {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The challenge.
        challenge: ChallengeId,
        /// The epoch.
        epoch: EpochId,
        /// Scheduled or ad hoc.
        kind: ChallengeKind,
        /// When it was issued: inside `window` (**CHL-2**), so that an auditor can check
        /// it and count challenges per window (**AUD-4**).
        issued_at: UnixTime,
        /// The window it must be answered in.
        window: WindowSpan,
    },
    /// `0x05`: the server received and stored a check-in.
    CheckInReceived {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The stored record.
        record: RecordId,
        /// The challenge it answers.
        challenge: ChallengeId,
        /// The epoch it is sealed to.
        epoch: EpochId,
    },
    /// `0x06`: a custodian granted access, before opening anything.
    ContentAccessed(Access),
    /// `0x07`: a custodian refused access.
    AccessDenied {
        /// The request.
        access: Access,
        /// Why it was refused.
        reason: DenialReason,
    },
    /// `0x08`: the server purged an epoch's ciphertexts.
    RecordsPurged {
        /// The epoch.
        epoch: EpochId,
        /// How many records.
        count: u64,
        /// Which ones (**LOG-30**).
        record_set: RecordSetHash,
        /// When the ciphertexts were deleted, for the deadline check (**AUD-5**).
        purged_at: UnixTime,
    },
    /// `0x09`: a custodian destroyed its key for an epoch.
    EpochKeyDestroyed {
        /// The custodian.
        custodian: CustodianId,
        /// The epoch.
        epoch: EpochId,
        /// When.
        destroyed_at: UnixTime,
    },
    /// `0x0a`: records were put on legal hold.
    LegalHoldPlaced(LegalHold),
    /// `0x0b`: a legal hold was released.
    LegalHoldReleased(LegalHold),
    /// `0x0c`: an officer resolved a ledger row (**CHK-24**). It names the participant
    /// only by the tag of the challenge's epoch, and no officer: the operator's ledger
    /// keeps who resolved it.
    RowResolved {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The challenge whose row was resolved.
        challenge: ChallengeId,
        /// The challenge's epoch.
        epoch: EpochId,
        /// The decision.
        resolution: Resolution,
        /// What it rests on.
        reason: ResolutionReason,
    },
    /// `0x0d`: the operator deleted a closed enrollment's ledger, schedule, pseudonym and
    /// keys at its deadline (**RET-20**). The tag and epoch are those of the enrollment's
    /// `enrollment closed` entry, so that an auditor pairs the two and checks the
    /// deadline (**AUD-5**).
    LedgerPurged {
        /// The participant's tag for `epoch`.
        tag: ParticipantTag,
        /// The epoch the enrollment closed in.
        epoch: EpochId,
        /// When the ledger was deleted.
        purged_at: UnixTime,
    },
    /// `0x0e`: the operator's counts of an epoch's ledger rows, written once every
    /// challenge of the epoch is closed (**CHK-28**, **LOG-35**, **LOG-36**).
    EpochSummary(EpochSummary),
    /// `0x0f`: the operator published the tlog-policy its checkpoints are cosigned under
    /// from here on: which witnesses, and their quorum (**LOG-65**).
    WitnessPolicyPublished {
        /// The SHA-256 of the policy file's bytes.
        policy: TlogPolicyHash,
    },
    /// `0x10` to `0x17`: conditions summaries, reviews, filings and deliveries
    /// (`spec/obligations.md`).
    Obligation(ObligationEntry),
}

/// An entry's type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryType {
    /// `0x01`.
    EnrollmentOpened,
    /// `0x02`.
    EnrollmentClosed,
    /// `0x03`.
    PolicyPublished,
    /// `0x04`.
    ChallengeIssued,
    /// `0x05`.
    CheckInReceived,
    /// `0x06`.
    ContentAccessed,
    /// `0x07`.
    AccessDenied,
    /// `0x08`.
    RecordsPurged,
    /// `0x09`.
    EpochKeyDestroyed,
    /// `0x0a`.
    LegalHoldPlaced,
    /// `0x0b`.
    LegalHoldReleased,
    /// `0x0c`.
    RowResolved,
    /// `0x0d`.
    LedgerPurged,
    /// `0x0e`.
    EpochSummary,
    /// `0x0f`.
    WitnessPolicyPublished,
    /// `0x10`.
    ConditionsSummary,
    /// `0x11`.
    ReviewOpened,
    /// `0x12`.
    ReviewDecided,
    /// `0x13`.
    DecisionContested,
    /// `0x14`.
    AppealDecided,
    /// `0x15`.
    FilingReceived,
    /// `0x16`.
    FilingAcknowledged,
    /// `0x17`.
    DeliveryAcknowledged,
}

impl EntryType {
    /// Every type, in code order.
    pub const ALL: [Self; 23] = [
        Self::EnrollmentOpened,
        Self::EnrollmentClosed,
        Self::PolicyPublished,
        Self::ChallengeIssued,
        Self::CheckInReceived,
        Self::ContentAccessed,
        Self::AccessDenied,
        Self::RecordsPurged,
        Self::EpochKeyDestroyed,
        Self::LegalHoldPlaced,
        Self::LegalHoldReleased,
        Self::RowResolved,
        Self::LedgerPurged,
        Self::EpochSummary,
        Self::WitnessPolicyPublished,
        Self::ConditionsSummary,
        Self::ReviewOpened,
        Self::ReviewDecided,
        Self::DecisionContested,
        Self::AppealDecided,
        Self::FilingReceived,
        Self::FilingAcknowledged,
        Self::DeliveryAcknowledged,
    ];

    /// The type byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::EnrollmentOpened => 0x01,
            Self::EnrollmentClosed => 0x02,
            Self::PolicyPublished => 0x03,
            Self::ChallengeIssued => 0x04,
            Self::CheckInReceived => 0x05,
            Self::ContentAccessed => 0x06,
            Self::AccessDenied => 0x07,
            Self::RecordsPurged => 0x08,
            Self::EpochKeyDestroyed => 0x09,
            Self::LegalHoldPlaced => 0x0a,
            Self::LegalHoldReleased => 0x0b,
            Self::RowResolved => 0x0c,
            Self::LedgerPurged => 0x0d,
            Self::EpochSummary => 0x0e,
            Self::WitnessPolicyPublished => 0x0f,
            Self::ConditionsSummary => 0x10,
            Self::ReviewOpened => 0x11,
            Self::ReviewDecided => 0x12,
            Self::DecisionContested => 0x13,
            Self::AppealDecided => 0x14,
            Self::FilingReceived => 0x15,
            Self::FilingAcknowledged => 0x16,
            Self::DeliveryAcknowledged => 0x17,
        }
    }

    /// The type with this byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Its name in reports, for example `check-in-received`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EnrollmentOpened => "enrollment-opened",
            Self::EnrollmentClosed => "enrollment-closed",
            Self::PolicyPublished => "policy-published",
            Self::ChallengeIssued => "challenge-issued",
            Self::CheckInReceived => "check-in-received",
            Self::ContentAccessed => "content-accessed",
            Self::AccessDenied => "access-denied",
            Self::RecordsPurged => "records-purged",
            Self::EpochKeyDestroyed => "epoch-key-destroyed",
            Self::LegalHoldPlaced => "legal-hold-placed",
            Self::LegalHoldReleased => "legal-hold-released",
            Self::RowResolved => "row-resolved",
            Self::LedgerPurged => "ledger-purged",
            Self::EpochSummary => "epoch-summary",
            Self::WitnessPolicyPublished => "witness-policy-published",
            Self::ConditionsSummary => "conditions-summary",
            Self::ReviewOpened => "review-opened",
            Self::ReviewDecided => "review-decided",
            Self::DecisionContested => "decision-contested",
            Self::AppealDecided => "appeal-decided",
            Self::FilingReceived => "filing-received",
            Self::FilingAcknowledged => "filing-acknowledged",
            Self::DeliveryAcknowledged => "delivery-acknowledged",
        }
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes are not a log entry (**LOG-26**): each refusal has its own variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryDecodeError {
    /// No bytes at all.
    #[error("an entry has at least a type byte")]
    Empty,
    /// A type byte no entry has.
    #[error("unknown entry type {code:#04x}")]
    UnknownType {
        /// The byte found.
        code: u8,
    },
    /// The bytes end inside a field.
    #[error("the entry ends inside `{field}`")]
    Truncated {
        /// The field.
        field: &'static str,
    },
    /// Bytes after the last field.
    #[error("{count} bytes after the end of the entry")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A label outside its length or characters.
    #[error("`{field}` is not a valid label")]
    InvalidLabel {
        /// The field.
        field: &'static str,
    },
    /// A challenge kind byte other than 1 (scheduled) and 2 (ad hoc).
    #[error("unknown challenge kind {code}")]
    UnknownChallengeKind {
        /// The byte found.
        code: u8,
    },
    /// A window that does not end after it starts.
    #[error("a challenge window must end after it starts")]
    EmptyWindow,
    /// A record count of 0 or above [`MAX_RECORDS`].
    #[error("a record list names 1 to {MAX_RECORDS} records, not {count}")]
    RecordCount {
        /// The count found.
        count: u16,
    },
    /// Record ids not in strictly ascending order (unsorted or repeated).
    #[error("record ids must be strictly ascending")]
    RecordsNotAscending,
    /// A denial reason byte no reason has.
    #[error("unknown denial reason {code}")]
    UnknownDenialReason {
        /// The byte found.
        code: u8,
    },
    /// A resolution byte no resolution has.
    #[error("unknown resolution {code}")]
    UnknownResolution {
        /// The byte found.
        code: u8,
    },
    /// A resolution reason byte no reason has.
    #[error("unknown resolution reason {code}")]
    UnknownResolutionReason {
        /// The byte found.
        code: u8,
    },
    /// An epoch summary whose on-time, late and missed rows do not add up to the
    /// challenges issued (**LOG-35**).
    #[error("an epoch summary counts {issued} challenges but {rows} rows")]
    SummaryRowsMismatch {
        /// The challenges issued.
        issued: u32,
        /// On time, late and missed together.
        rows: u64,
    },
    /// An epoch summary with more failure reports than rows: a row holds at most one
    /// (**LOG-35**, **CHK-22**).
    #[error("an epoch summary counts {reports} failure reports for {issued} rows")]
    SummaryReportsExceedRows {
        /// The challenges issued.
        issued: u32,
        /// The reports.
        reports: u64,
    },
    /// A field of an obligations entry outside its values.
    #[error(transparent)]
    Obligation(#[from] ObligationFieldError),
}

struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    fn summary(&mut self, s: &EpochSummary) {
        self.u32(s.epoch.get());
        for n in [s.issued, s.on_time, s.late, s.missed] {
            self.u32(n);
        }
        for (_, n) in s.reports.by_category() {
            self.u32(n);
        }
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_be_bytes());
    }

    /// A label: 1 to 32 bytes, so its length fits the `u8`.
    fn label(&mut self, s: &str) {
        self.u8(s.len() as u8);
        self.bytes(s.as_bytes());
    }

    /// A record set: 1 to 1024 ids, so the count fits the `u16`.
    fn records(&mut self, r: &RecordSet) {
        self.bytes(&(r.0.len() as u16).to_be_bytes());
        for id in &r.0 {
            self.bytes(id.as_bytes());
        }
    }

    fn access(&mut self, a: &Access) {
        self.label(a.custodian.as_str());
        self.label(a.officer.as_str());
        self.label(a.purpose.as_str());
        self.label(a.legal_basis.as_str());
        self.bytes(a.case.as_bytes());
        self.records(&a.records);
        self.u32(a.epoch.get());
    }

    fn hold(&mut self, h: &LegalHold) {
        self.bytes(h.hold.as_bytes());
        self.records(&h.records);
        self.label(h.legal_basis.as_str());
        self.i64(h.expires.seconds());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], EntryDecodeError> {
        if self.0.len() < n {
            return Err(EntryDecodeError::Truncated { field });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], EntryDecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, EntryDecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, EntryDecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn summary(&mut self) -> Result<EpochSummary, EntryDecodeError> {
        let s = EpochSummary {
            epoch: self.epoch()?,
            issued: self.u32("issued")?,
            on_time: self.u32("on_time")?,
            late: self.u32("late")?,
            missed: self.u32("missed")?,
            reports: FailureCounts {
                no_network: self.u32("no_network")?,
                app_error: self.u32("app_error")?,
                device_error: self.u32("device_error")?,
                presence_unavailable: self.u32("presence_unavailable")?,
                other: self.u32("other")?,
            },
        };
        let rows = u64::from(s.on_time) + u64::from(s.late) + u64::from(s.missed);
        if rows != u64::from(s.issued) {
            return Err(EntryDecodeError::SummaryRowsMismatch {
                issued: s.issued,
                rows,
            });
        }
        let reports = s.reports.total();
        if reports > u64::from(s.issued) {
            return Err(EntryDecodeError::SummaryReportsExceedRows {
                issued: s.issued,
                reports,
            });
        }
        Ok(s)
    }

    fn epoch(&mut self) -> Result<EpochId, EntryDecodeError> {
        Ok(EpochId::new(u32::from_be_bytes(self.array("epoch")?)))
    }

    fn time(&mut self, field: &'static str) -> Result<UnixTime, EntryDecodeError> {
        Ok(UnixTime(i64::from_be_bytes(self.array(field)?)))
    }

    fn tag(&mut self) -> Result<ParticipantTag, EntryDecodeError> {
        Ok(ParticipantTag::from_bytes(self.array("tag")?))
    }

    fn challenge(&mut self) -> Result<ChallengeId, EntryDecodeError> {
        Ok(ChallengeId::from_bytes(self.array("challenge_id")?))
    }

    fn policy(&mut self) -> Result<PolicyHash, EntryDecodeError> {
        Ok(PolicyHash::from_bytes(self.array("policy")?))
    }

    fn label(&mut self, field: &'static str) -> Result<String, EntryDecodeError> {
        let len = usize::from(self.u8(field)?);
        let b = self.take(len, field)?;
        if !is_label(b) {
            return Err(EntryDecodeError::InvalidLabel { field });
        }
        // Valid labels are ASCII.
        String::from_utf8(b.to_vec()).map_err(|_| EntryDecodeError::InvalidLabel { field })
    }

    fn records(&mut self) -> Result<RecordSet, EntryDecodeError> {
        let count = u16::from_be_bytes(self.array("record_count")?);
        if count == 0 || usize::from(count) > MAX_RECORDS {
            return Err(EntryDecodeError::RecordCount { count });
        }
        let mut out: Vec<RecordId> = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let id = RecordId::from_bytes(self.array("record_id")?);
            if out.last().is_some_and(|last| *last >= id) {
                return Err(EntryDecodeError::RecordsNotAscending);
            }
            out.push(id);
        }
        Ok(RecordSet(out))
    }

    fn access(&mut self) -> Result<Access, EntryDecodeError> {
        Ok(Access {
            custodian: CustodianId(self.label("custodian")?),
            officer: OfficerId(self.label("officer")?),
            purpose: PurposeId(self.label("purpose")?),
            legal_basis: LegalBasisId(self.label("legal_basis")?),
            case: CaseCommitment(self.array("case")?),
            records: self.records()?,
            epoch: self.epoch()?,
        })
    }

    fn hold(&mut self) -> Result<LegalHold, EntryDecodeError> {
        Ok(LegalHold {
            hold: HoldId(self.array("hold_id")?),
            records: self.records()?,
            legal_basis: LegalBasisId(self.label("legal_basis")?),
            expires: self.time("expires")?,
        })
    }
}

impl LogEntry {
    /// The entry's type.
    pub fn entry_type(&self) -> EntryType {
        match self {
            Self::EnrollmentOpened { .. } => EntryType::EnrollmentOpened,
            Self::EnrollmentClosed { .. } => EntryType::EnrollmentClosed,
            Self::PolicyPublished { .. } => EntryType::PolicyPublished,
            Self::ChallengeIssued { .. } => EntryType::ChallengeIssued,
            Self::CheckInReceived { .. } => EntryType::CheckInReceived,
            Self::ContentAccessed(_) => EntryType::ContentAccessed,
            Self::AccessDenied { .. } => EntryType::AccessDenied,
            Self::RecordsPurged { .. } => EntryType::RecordsPurged,
            Self::EpochKeyDestroyed { .. } => EntryType::EpochKeyDestroyed,
            Self::LegalHoldPlaced(_) => EntryType::LegalHoldPlaced,
            Self::LegalHoldReleased(_) => EntryType::LegalHoldReleased,
            Self::RowResolved { .. } => EntryType::RowResolved,
            Self::LedgerPurged { .. } => EntryType::LedgerPurged,
            Self::EpochSummary(_) => EntryType::EpochSummary,
            Self::WitnessPolicyPublished { .. } => EntryType::WitnessPolicyPublished,
            Self::Obligation(o) => o.entry_type(),
        }
    }

    /// The canonical encoding (**LOG-25**).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(128));
        w.u8(self.entry_type().code());
        match self {
            Self::EnrollmentOpened { tag, epoch, policy } => {
                w.bytes(tag.as_bytes());
                w.u32(epoch.get());
                w.bytes(policy.as_bytes());
            }
            Self::EnrollmentClosed { tag, epoch } => {
                w.bytes(tag.as_bytes());
                w.u32(epoch.get());
            }
            Self::PolicyPublished { policy } => w.bytes(policy.as_bytes()),
            Self::WitnessPolicyPublished { policy } => w.bytes(policy.as_bytes()),
            Self::ChallengeIssued {
                tag,
                challenge,
                epoch,
                kind,
                issued_at,
                window,
            } => {
                w.bytes(tag.as_bytes());
                w.bytes(challenge.as_bytes());
                w.u32(epoch.get());
                w.u8(kind.code());
                w.i64(issued_at.seconds());
                w.i64(window.start.seconds());
                w.i64(window.end.seconds());
            }
            Self::CheckInReceived {
                tag,
                record,
                challenge,
                epoch,
            } => {
                w.bytes(tag.as_bytes());
                w.bytes(record.as_bytes());
                w.bytes(challenge.as_bytes());
                w.u32(epoch.get());
            }
            Self::ContentAccessed(a) => w.access(a),
            Self::AccessDenied { access, reason } => {
                w.access(access);
                w.u8(reason.code());
            }
            Self::RecordsPurged {
                epoch,
                count,
                record_set,
                purged_at,
            } => {
                w.u32(epoch.get());
                w.bytes(&count.to_be_bytes());
                w.bytes(record_set.as_bytes());
                w.i64(purged_at.seconds());
            }
            Self::EpochKeyDestroyed {
                custodian,
                epoch,
                destroyed_at,
            } => {
                w.label(custodian.as_str());
                w.u32(epoch.get());
                w.i64(destroyed_at.seconds());
            }
            Self::LegalHoldPlaced(h) | Self::LegalHoldReleased(h) => w.hold(h),
            Self::RowResolved {
                tag,
                challenge,
                epoch,
                resolution,
                reason,
            } => {
                w.bytes(tag.as_bytes());
                w.bytes(challenge.as_bytes());
                w.u32(epoch.get());
                w.u8(resolution.code());
                w.u8(reason.code());
            }
            Self::LedgerPurged {
                tag,
                epoch,
                purged_at,
            } => {
                w.bytes(tag.as_bytes());
                w.u32(epoch.get());
                w.i64(purged_at.seconds());
            }
            Self::EpochSummary(s) => w.summary(s),
            Self::Obligation(o) => o.encode_body(&mut w.0),
        }
        w.0
    }

    /// Decodes the canonical encoding, refusing anything else (**LOG-26**).
    ///
    /// # Errors
    /// An [`EntryDecodeError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryDecodeError> {
        let (&code, rest) = bytes.split_first().ok_or(EntryDecodeError::Empty)?;
        let ty = EntryType::from_code(code).ok_or(EntryDecodeError::UnknownType { code })?;
        let mut r = Reader(rest);
        let entry = match ty {
            EntryType::EnrollmentOpened => Self::EnrollmentOpened {
                tag: r.tag()?,
                epoch: r.epoch()?,
                policy: r.policy()?,
            },
            EntryType::EnrollmentClosed => Self::EnrollmentClosed {
                tag: r.tag()?,
                epoch: r.epoch()?,
            },
            EntryType::PolicyPublished => Self::PolicyPublished {
                policy: r.policy()?,
            },
            EntryType::WitnessPolicyPublished => Self::WitnessPolicyPublished {
                policy: TlogPolicyHash(*r.policy()?.as_bytes()),
            },
            EntryType::ChallengeIssued => {
                let tag = r.tag()?;
                let challenge = r.challenge()?;
                let epoch = r.epoch()?;
                let kind = match r.u8("kind")? {
                    1 => ChallengeKind::Scheduled,
                    2 => ChallengeKind::AdHoc,
                    code => return Err(EntryDecodeError::UnknownChallengeKind { code }),
                };
                let issued_at = r.time("issued_at")?;
                let start = r.time("window_start")?;
                let end = r.time("window_end")?;
                if end <= start {
                    return Err(EntryDecodeError::EmptyWindow);
                }
                Self::ChallengeIssued {
                    tag,
                    challenge,
                    epoch,
                    kind,
                    issued_at,
                    window: WindowSpan { start, end },
                }
            }
            EntryType::CheckInReceived => Self::CheckInReceived {
                tag: r.tag()?,
                record: RecordId::from_bytes(r.array("record_id")?),
                challenge: r.challenge()?,
                epoch: r.epoch()?,
            },
            EntryType::ContentAccessed => Self::ContentAccessed(r.access()?),
            EntryType::AccessDenied => {
                let access = r.access()?;
                let code = r.u8("reason")?;
                let reason = DenialReason::from_code(code)
                    .ok_or(EntryDecodeError::UnknownDenialReason { code })?;
                Self::AccessDenied { access, reason }
            }
            EntryType::RecordsPurged => Self::RecordsPurged {
                epoch: r.epoch()?,
                count: u64::from_be_bytes(r.array("count")?),
                record_set: RecordSetHash(r.array("record_set_hash")?),
                purged_at: r.time("purged_at")?,
            },
            EntryType::EpochKeyDestroyed => Self::EpochKeyDestroyed {
                custodian: CustodianId(r.label("custodian")?),
                epoch: r.epoch()?,
                destroyed_at: r.time("destroyed_at")?,
            },
            EntryType::LegalHoldPlaced => Self::LegalHoldPlaced(r.hold()?),
            EntryType::LegalHoldReleased => Self::LegalHoldReleased(r.hold()?),
            EntryType::RowResolved => {
                let tag = r.tag()?;
                let challenge = r.challenge()?;
                let epoch = r.epoch()?;
                let code = r.u8("resolution")?;
                let resolution = Resolution::from_code(code)
                    .ok_or(EntryDecodeError::UnknownResolution { code })?;
                let code = r.u8("reason")?;
                let reason = ResolutionReason::from_code(code)
                    .ok_or(EntryDecodeError::UnknownResolutionReason { code })?;
                Self::RowResolved {
                    tag,
                    challenge,
                    epoch,
                    resolution,
                    reason,
                }
            }
            EntryType::LedgerPurged => Self::LedgerPurged {
                tag: r.tag()?,
                epoch: r.epoch()?,
                purged_at: r.time("purged_at")?,
            },
            EntryType::EpochSummary => Self::EpochSummary(r.summary()?),
            EntryType::ConditionsSummary
            | EntryType::ReviewOpened
            | EntryType::ReviewDecided
            | EntryType::DecisionContested
            | EntryType::AppealDecided
            | EntryType::FilingReceived
            | EntryType::FilingAcknowledged
            | EntryType::DeliveryAcknowledged => {
                // The body is the rest: its own decoder refuses trailing bytes.
                let rest = std::mem::take(&mut r.0);
                Self::Obligation(ObligationEntry::decode_body(ty, rest)?)
            }
        };
        if !r.0.is_empty() {
            return Err(EntryDecodeError::TrailingBytes { count: r.0.len() });
        }
        Ok(entry)
    }

    /// The entry's RFC 9162 leaf hash: `SHA-256(0x00 || encoding)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn access() -> Access {
        Access {
            custodian: CustodianId::new("oversight").unwrap(),
            officer: OfficerId::new("officer-7f3a").unwrap(),
            purpose: PurposeId::new("compliance-review").unwrap(),
            legal_basis: LegalBasisId::new("release-conditions").unwrap(),
            case: CaseCommitment::new(
                &CaseSalt::from_bytes([0x5a; 32]),
                &CaseRef::new("ORD-2026/0042").unwrap(),
            ),
            records: RecordSet::new([RecordId::from_bytes([2; 32]), RecordId::from_bytes([1; 32])])
                .unwrap(),
            epoch: EpochId::new(2_900),
        }
    }

    fn hold() -> LegalHold {
        LegalHold {
            hold: HoldId::from_bytes([0x42; 16]),
            records: RecordSet::new([RecordId::from_bytes([9; 32])]).unwrap(),
            legal_basis: LegalBasisId::new("court-order").unwrap(),
            expires: UnixTime(1_830_000_000),
        }
    }

    /// One entry of every type.
    pub(crate) fn examples() -> Vec<LogEntry> {
        let tag = ParticipantTag::from_bytes([0x11; 32]);
        let epoch = EpochId::new(2_900);
        vec![
            LogEntry::EnrollmentOpened {
                tag,
                epoch,
                policy: PolicyHash::from_bytes([0x22; 32]),
            },
            LogEntry::EnrollmentClosed { tag, epoch },
            LogEntry::PolicyPublished {
                policy: PolicyHash::from_bytes([0x22; 32]),
            },
            LogEntry::ChallengeIssued {
                tag,
                challenge: ChallengeId::from_bytes([0x33; 16]),
                epoch,
                kind: ChallengeKind::AdHoc,
                issued_at: UnixTime(1_800_000_060),
                window: WindowSpan {
                    start: UnixTime(1_800_000_000),
                    end: UnixTime(1_800_003_600),
                },
            },
            LogEntry::CheckInReceived {
                tag,
                record: RecordId::from_bytes([0x44; 32]),
                challenge: ChallengeId::from_bytes([0x33; 16]),
                epoch,
            },
            LogEntry::ContentAccessed(access()),
            LogEntry::AccessDenied {
                access: access(),
                reason: DenialReason::OversightRefused,
            },
            LogEntry::RecordsPurged {
                epoch,
                count: 2,
                record_set: RecordSetHash::of(&[
                    RecordId::from_bytes([1; 32]),
                    RecordId::from_bytes([2; 32]),
                ])
                .1,
                purged_at: UnixTime(1_807_000_000),
            },
            LogEntry::EpochKeyDestroyed {
                custodian: CustodianId::new("agency").unwrap(),
                epoch,
                destroyed_at: UnixTime(1_808_000_000),
            },
            LogEntry::LegalHoldPlaced(hold()),
            LogEntry::LegalHoldReleased(hold()),
            LogEntry::RowResolved {
                tag,
                challenge: ChallengeId::from_bytes([0x33; 16]),
                epoch,
                resolution: Resolution::NotExcused,
                reason: ResolutionReason::FailureReport,
            },
            LogEntry::LedgerPurged {
                tag,
                epoch,
                purged_at: UnixTime(2_020_000_000),
            },
            LogEntry::EpochSummary(summary()),
            LogEntry::WitnessPolicyPublished {
                policy: TlogPolicyHash([0x23; 32]),
            },
            LogEntry::Obligation(ObligationEntry::ConditionsSummary(
                crate::obligation_entry::ConditionsSummary {
                    epoch,
                    opened: 10,
                    area: [0, 7, 2, 1],
                    presence: [0, 9, 0, 1],
                    reviews: 4,
                },
            )),
            LogEntry::Obligation(ObligationEntry::ReviewOpened {
                review: minimis_proto::ReviewId::from_bytes([0x55; 16]),
                epoch,
                cause: minimis_proto::obligations::ReviewCause::Condition,
                day: UnixTime(1_795_651_200),
            }),
            LogEntry::Obligation(ObligationEntry::ReviewDecided {
                review: minimis_proto::ReviewId::from_bytes([0x55; 16]),
                decision: minimis_proto::obligations::Decision::NotExcused,
                reason: minimis_proto::obligations::ReasonId::new("not-explained").unwrap(),
                day: UnixTime(1_795_737_600),
            }),
            LogEntry::Obligation(ObligationEntry::DecisionContested {
                review: minimis_proto::ReviewId::from_bytes([0x55; 16]),
                day: UnixTime(1_795_824_000),
            }),
            LogEntry::Obligation(ObligationEntry::AppealDecided {
                review: minimis_proto::ReviewId::from_bytes([0x55; 16]),
                outcome: minimis_proto::obligations::AppealOutcome::Overturned,
                reason: minimis_proto::obligations::ReasonId::new("explained-by-notice").unwrap(),
                day: UnixTime(1_796_083_200),
            }),
            LogEntry::Obligation(ObligationEntry::FilingReceived {
                tag,
                filing: minimis_proto::FilingId::from_bytes([0x66; 32]),
                addressee: minimis_proto::obligations::Addressee::AgencyAndOversight,
                day: UnixTime(1_795_651_200),
            }),
            LogEntry::Obligation(ObligationEntry::FilingAcknowledged {
                filing: minimis_proto::FilingId::from_bytes([0x66; 32]),
                day: UnixTime(1_795_737_600),
            }),
            LogEntry::Obligation(ObligationEntry::DeliveryAcknowledged {
                tag,
                delivery: minimis_proto::DeliveryId::from_bytes([0x77; 32]),
                day: UnixTime(1_795_737_600),
            }),
        ]
    }

    fn summary() -> EpochSummary {
        EpochSummary {
            epoch: EpochId::new(2_900),
            issued: 1_000,
            on_time: 950,
            late: 30,
            missed: 20,
            reports: FailureCounts {
                no_network: 12,
                app_error: 5,
                device_error: 2,
                presence_unavailable: 1,
                other: 3,
            },
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn log_25_every_type_round_trips_with_its_type_byte() {
        let ex = examples();
        assert_eq!(ex.len(), EntryType::ALL.len());
        for (e, t) in ex.iter().zip(EntryType::ALL) {
            assert_eq!(e.entry_type(), t);
            let b = e.encode();
            assert_eq!(b[0], t.code());
            assert_eq!(LogEntry::decode(&b).unwrap(), *e);
            assert_eq!(e.leaf_hash(), leaf_hash(&b));
        }
        // The sizes of spec/log.md § Entries: fixed, or a base plus labels and records.
        let labels = |a: &Access| {
            [
                a.custodian.as_str(),
                a.officer.as_str(),
                a.purpose.as_str(),
                a.legal_basis.as_str(),
            ]
            .iter()
            .map(|l| l.len())
            .sum::<usize>()
        };
        let a = access();
        let h = hold();
        let records = 32 * a.records.as_slice().len();
        let want = [
            69,
            37,
            33,
            78,
            85,
            43 + labels(&a) + records,
            44 + labels(&a) + records,
            53,
            14 + "agency".len(),
            28 + h.legal_basis.as_str().len() + 32 * h.records.as_slice().len(),
            28 + h.legal_basis.as_str().len() + 32 * h.records.as_slice().len(),
            55,
            45,
            41,
            33,
            45,
            30,
            27 + "not-explained".len(),
            25,
            27 + "explained-by-notice".len(),
            74,
            41,
            73,
        ];
        let got: Vec<usize> = ex.iter().map(|e| e.encode().len()).collect();
        assert_eq!(got, want);
    }

    /// A label as encoded: its length byte, then its bytes, in hex.
    fn label(s: &str, len: u8) -> String {
        assert_eq!(usize::from(len), s.len());
        format!("{len:02x}{}", hex(s.as_bytes()))
    }

    #[test]
    fn log_25_encodings_are_byte_exact() {
        // The byte layouts of spec/log.md § Entries, field by field.
        let ex = examples();
        let check_in = ex[4].encode();
        assert_eq!(
            hex(&check_in),
            format!(
                "05{}{}{}00000b54",
                "11".repeat(32),
                "44".repeat(32),
                "33".repeat(16)
            )
        );
        let challenge = ex[3].encode();
        assert_eq!(
            hex(&challenge),
            format!(
                "04{}{}00000b5402{}{}{}",
                "11".repeat(32),
                "33".repeat(16),
                hex(&1_800_000_060i64.to_be_bytes()),
                hex(&1_800_000_000i64.to_be_bytes()),
                hex(&1_800_003_600i64.to_be_bytes())
            )
        );
        let purged = ex[7].encode();
        let LogEntry::RecordsPurged { record_set, .. } = &ex[7] else {
            unreachable!()
        };
        assert_eq!(
            hex(&purged),
            format!(
                "0800000b54{}{}{}",
                hex(&2u64.to_be_bytes()),
                hex(record_set.as_bytes()),
                hex(&1_807_000_000i64.to_be_bytes())
            )
        );
        let destroyed = ex[8].encode();
        assert_eq!(
            hex(&destroyed),
            format!(
                "0906{}00000b54{}",
                hex(b"agency"),
                hex(&1_808_000_000i64.to_be_bytes())
            )
        );
        let accessed = ex[5].encode();
        let want = format!(
            "06{}{}{}{}{}0002{}{}00000b54",
            label("oversight", 0x09),
            label("officer-7f3a", 0x0c),
            label("compliance-review", 0x11),
            label("release-conditions", 0x12),
            hex(access().case.as_bytes()),
            "01".repeat(32),
            "02".repeat(32),
        );
        assert_eq!(hex(&accessed), want);
        assert_eq!(hex(&ex[6].encode()), format!("07{}04", &want[2..]));
        assert_eq!(
            hex(&ex[11].encode()),
            format!("0c{}{}00000b540301", "11".repeat(32), "33".repeat(16))
        );
        assert_eq!(
            hex(&ex[12].encode()),
            format!(
                "0d{}00000b54{}",
                "11".repeat(32),
                hex(&2_020_000_000i64.to_be_bytes())
            )
        );
    }

    #[test]
    fn log_35_epoch_summary_is_byte_exact_and_holds_only_counts() {
        // The example of spec/log.md § Entries.
        let b = LogEntry::EpochSummary(summary()).encode();
        assert_eq!(
            hex(&b),
            "0e00000b54000003e8000003b60000001e00000014\
             0000000c00000005000000020000000100000003"
        );
        assert_eq!(b.len(), 41);
        assert_eq!(LogEntry::decode(&b), Ok(LogEntry::EpochSummary(summary())));
        assert_eq!(summary().reports.total(), 23);
        let names: Vec<&str> = summary()
            .reports
            .by_category()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        // The categories of CHK-23, in its order.
        assert_eq!(
            names,
            [
                "no-network",
                "app-error",
                "device-error",
                "presence-unavailable",
                "other"
            ]
        );
        // An empty epoch is well formed.
        let empty = EpochSummary {
            epoch: EpochId::new(7),
            issued: 0,
            on_time: 0,
            late: 0,
            missed: 0,
            reports: FailureCounts::default(),
        };
        let e = LogEntry::EpochSummary(empty);
        assert_eq!(LogEntry::decode(&e.encode()), Ok(e));
    }

    #[test]
    fn log_26_log_35_malformed_epoch_summaries_are_refused() {
        let good = LogEntry::EpochSummary(summary()).encode();
        // on_time + late + missed must be issued: one more on time.
        let mut inflated = good.clone();
        inflated[9..13].copy_from_slice(&951u32.to_be_bytes());
        assert_eq!(
            LogEntry::decode(&inflated),
            Err(EntryDecodeError::SummaryRowsMismatch {
                issued: 1_000,
                rows: 1_001
            })
        );
        // The sum is taken without overflow.
        let mut huge = good.clone();
        for at in [9, 13, 17] {
            huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        }
        assert_eq!(
            LogEntry::decode(&huge),
            Err(EntryDecodeError::SummaryRowsMismatch {
                issued: 1_000,
                rows: 3 * u64::from(u32::MAX)
            })
        );
        // At most one report per row.
        let mut reports = good.clone();
        reports[21..25].copy_from_slice(&990u32.to_be_bytes());
        assert_eq!(
            LogEntry::decode(&reports),
            Err(EntryDecodeError::SummaryReportsExceedRows {
                issued: 1_000,
                reports: 1_001
            })
        );
        assert_eq!(
            LogEntry::decode(&good[..40]),
            Err(EntryDecodeError::Truncated { field: "other" })
        );
        let mut longer = good;
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(
            LogEntry::decode(&longer),
            Err(EntryDecodeError::TrailingBytes { count: 4 })
        );
    }

    #[test]
    fn log_26_unknown_type_truncation_and_trailing_bytes_are_refused() {
        assert_eq!(LogEntry::decode(&[]), Err(EntryDecodeError::Empty));
        for code in [0x00, 0x18, 0x7f, 0xff] {
            assert_eq!(
                LogEntry::decode(&[code]),
                Err(EntryDecodeError::UnknownType { code })
            );
        }
        for e in examples() {
            let b = e.encode();
            for cut in 1..b.len() {
                assert!(
                    matches!(
                        LogEntry::decode(&b[..cut]),
                        Err(EntryDecodeError::Truncated { .. })
                    ),
                    "{e:?} cut at {cut}"
                );
            }
            let mut longer = b.clone();
            longer.push(0);
            assert_eq!(
                LogEntry::decode(&longer),
                Err(EntryDecodeError::TrailingBytes { count: 1 })
            );
        }
    }

    #[test]
    fn log_26_invalid_fields_are_refused_each_with_its_error() {
        let ex = examples();
        let mut kind = ex[3].encode();
        kind[1 + 32 + 16 + 4] = 3;
        assert_eq!(
            LogEntry::decode(&kind),
            Err(EntryDecodeError::UnknownChallengeKind { code: 3 })
        );
        let mut window = ex[3].encode();
        let end = window.len() - 8;
        window[end..].copy_from_slice(&1_800_000_000i64.to_be_bytes());
        assert_eq!(
            LogEntry::decode(&window),
            Err(EntryDecodeError::EmptyWindow)
        );
        for code in [0, 9, 0xff] {
            let mut reason = ex[6].encode();
            *reason.last_mut().unwrap() = code;
            assert_eq!(
                LogEntry::decode(&reason),
                Err(EntryDecodeError::UnknownDenialReason { code })
            );
        }
        for code in [0, 4, 0xff] {
            let mut resolution = ex[11].encode();
            resolution[1 + 32 + 16 + 4] = code;
            assert_eq!(
                LogEntry::decode(&resolution),
                Err(EntryDecodeError::UnknownResolution { code })
            );
        }
        for code in [0, 7, 0xff] {
            let mut reason = ex[11].encode();
            *reason.last_mut().unwrap() = code;
            assert_eq!(
                LogEntry::decode(&reason),
                Err(EntryDecodeError::UnknownResolutionReason { code })
            );
        }
        // An issue time outside the window is what an auditor looks for (AUD-4), not a
        // malformed entry: it decodes.
        let mut late = ex[3].encode();
        let at = 1 + 32 + 16 + 4 + 1;
        late[at..at + 8].copy_from_slice(&1_900_000_000i64.to_be_bytes());
        assert!(matches!(
            LogEntry::decode(&late),
            Ok(LogEntry::ChallengeIssued {
                issued_at: UnixTime(1_900_000_000),
                ..
            })
        ));
        let mut label = ex[8].encode();
        label[2] = b'A';
        assert_eq!(
            LogEntry::decode(&label),
            Err(EntryDecodeError::InvalidLabel { field: "custodian" })
        );
        let mut empty_label = vec![0x09, 0];
        empty_label.extend_from_slice(&[0; 12]);
        assert_eq!(
            LogEntry::decode(&empty_label),
            Err(EntryDecodeError::InvalidLabel { field: "custodian" })
        );
        // Records: the count is at a known offset in a hold entry.
        let mut zero = ex[9].encode();
        zero[17..19].copy_from_slice(&[0, 0]);
        assert_eq!(
            LogEntry::decode(&zero),
            Err(EntryDecodeError::RecordCount { count: 0 })
        );
        let mut many = ex[9].encode();
        many[17..19].copy_from_slice(&1025u16.to_be_bytes());
        assert_eq!(
            LogEntry::decode(&many),
            Err(EntryDecodeError::RecordCount { count: 1025 })
        );
        let mut unsorted = ex[5].encode();
        let at = unsorted.len() - 4 - 64;
        unsorted[at..at + 32].copy_from_slice(&[3; 32]);
        assert_eq!(
            LogEntry::decode(&unsorted),
            Err(EntryDecodeError::RecordsNotAscending)
        );
        let mut repeated = ex[5].encode();
        repeated[at..at + 32].copy_from_slice(&[2; 32]);
        assert_eq!(
            LogEntry::decode(&repeated),
            Err(EntryDecodeError::RecordsNotAscending)
        );
    }

    #[test]
    fn log_27_log_28_labels_cannot_carry_names_or_free_text() {
        for bad in [
            "",
            "Jane Doe",
            "jane doe",
            "jane.doe",
            "officer_1",
            "é",
            &"a".repeat(33),
        ] {
            assert!(OfficerId::new(bad).is_err(), "{bad:?}");
            assert!(CustodianId::new(bad).is_err(), "{bad:?}");
        }
        assert!(OfficerId::new("officer-7f3a").is_ok());
        assert!(CaseRef::new("Jane Doe").is_err());
        assert!(CaseRef::new(&"A".repeat(65)).is_err());
        assert!(CaseRef::new("ORD-2026/0042").is_ok());
        // Every entry is bounded: no field can hold content of arbitrary size.
        let biggest = LogEntry::AccessDenied {
            access: Access {
                records: RecordSet::new((0..MAX_RECORDS as u32).map(|i| {
                    let mut b = [0u8; 32];
                    b[..4].copy_from_slice(&i.to_be_bytes());
                    RecordId::from_bytes(b)
                }))
                .unwrap(),
                ..access()
            },
            reason: DenialReason::NotInCaseload,
        };
        assert!(biggest.encode().len() < crate::tiles::MAX_ENTRY_LEN);
        assert_eq!(
            RecordSet::new(core::iter::empty()),
            Err(RecordSetError::Empty)
        );
    }

    #[test]
    fn log_30_record_set_hash_is_order_free_and_counts_distinct_records() {
        let a = RecordId::from_bytes([1; 32]);
        let b = RecordId::from_bytes([2; 32]);
        let (n, h) = RecordSetHash::of(&[b, a, b]);
        assert_eq!(n, 2);
        assert_eq!(h, RecordSetHash::of(&[a, b]).1);
        let mut input = RECORD_SET_LABEL.to_vec();
        input.extend_from_slice(&2u64.to_be_bytes());
        input.extend_from_slice(&[1; 32]);
        input.extend_from_slice(&[2; 32]);
        let d = ring::digest::digest(&ring::digest::SHA256, &input);
        assert_eq!(h.as_bytes().as_slice(), d.as_ref());
        assert_ne!(h, RecordSetHash::of(&[a]).1);
    }

    #[test]
    fn log_33_case_commitment_is_the_salted_hash_of_acc_9() {
        let salt = CaseSalt::from_bytes([0x5a; 32]);
        let reference = CaseRef::new("HOU-2025-004211").unwrap();
        let c = CaseCommitment::new(&salt, &reference);
        let mut input = b"minimis case-ref v1\n".to_vec();
        input.extend_from_slice(&[0x5a; 32]);
        input.extend_from_slice(b"HOU-2025-004211");
        let d = ring::digest::digest(&ring::digest::SHA256, &input);
        assert_eq!(c.as_bytes().as_slice(), d.as_ref());
        assert!(c.opens_to(&salt, &reference));
        assert!(!c.opens_to(&CaseSalt::from_bytes([0x5b; 32]), &reference));
        assert!(!c.opens_to(&salt, &CaseRef::new("HOU-2025-004212").unwrap()));
        // Fresh salts hide equal references from each other.
        let a = CaseCommitment::new(&CaseSalt::generate().unwrap(), &reference);
        let b = CaseCommitment::new(&CaseSalt::generate().unwrap(), &reference);
        assert_ne!(a, b);
        // The entry carries the commitment, never the reference.
        let entry = LogEntry::ContentAccessed(Access {
            case: c,
            ..access()
        })
        .encode();
        assert!(
            !entry
                .windows(reference.as_str().len())
                .any(|w| w == reference.as_str().as_bytes())
        );
        assert!(entry.windows(32).any(|w| w == c.as_bytes()));
        // Neither the salt nor the reference shows in Debug.
        assert_eq!(format!("{salt:?}"), "CaseSalt(<redacted>)");
        assert!(!format!("{reference:?}").contains("HOU"));
    }

    /// The rows of the table in `spec/<file>` whose first cell is `first`, as cells.
    fn spec_rows(file: &str) -> Vec<Vec<String>> {
        let path = format!("{}/../../spec/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().trim_matches('`').to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn log_34_denial_reasons_are_the_access_error_codes() {
        // spec/access.md § Errors: status, code, log byte, when, requirement.
        let access: Vec<(String, String)> = spec_rows("access.md")
            .into_iter()
            .filter(|r| r.len() == 5 && r[0].parse::<u16>().is_ok())
            .map(|r| (r[1].clone(), r[2].clone()))
            .collect();
        assert!(access.len() >= 9, "{access:?}");
        let logged: Vec<(String, String)> = access
            .iter()
            .filter(|(code, _)| code != "request_malformed")
            .cloned()
            .collect();
        assert_eq!(
            access
                .iter()
                .find(|(c, _)| c == "request_malformed")
                .map(|(_, b)| b.as_str()),
            Some("not logged")
        );
        let ours: Vec<(String, String)> = DenialReason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), format!("0x{:02x}", r.code())))
            .collect();
        // The access error code is the log name with `_` for `-` (SVC-9, SVC-41).
        let wire: Vec<(String, String)> = ours
            .iter()
            .map(|(name, byte)| (name.replace('-', "_"), byte.clone()))
            .collect();
        let mut sorted = logged.clone();
        sorted.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(sorted, wire, "spec/access.md's codes and bytes");
        // spec/log.md lists the same bytes and names in its reason table.
        let log: Vec<(String, String)> = spec_rows("log.md")
            .into_iter()
            .filter(|r| r.len() == 3 && r[0].starts_with("0x") && r[2].starts_with("ACC-"))
            .map(|r| (r[1].clone(), r[0].clone()))
            .collect();
        assert_eq!(log, ours, "spec/log.md's reason table");
        for r in DenialReason::ALL {
            assert_eq!(DenialReason::from_code(r.code()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!(DenialReason::from_code(0), None);
        assert_eq!(DenialReason::from_code(9), None);
    }

    #[test]
    fn log_25_resolutions_and_reasons_are_those_of_the_spec() {
        // spec/log.md: the resolution table, then the resolution reason table.
        let rows: Vec<(String, String)> = spec_rows("log.md")
            .into_iter()
            .filter(|r| r.len() == 3 && r[0].starts_with("0x") && !r[2].starts_with("ACC-"))
            .map(|r| (r[1].clone(), r[0].clone()))
            .collect();
        let ours: Vec<(String, String)> = Resolution::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), format!("0x{:02x}", r.code())))
            .chain(
                ResolutionReason::ALL
                    .iter()
                    .map(|r| (r.as_str().to_owned(), format!("0x{:02x}", r.code()))),
            )
            .collect();
        assert_eq!(rows, ours, "spec/log.md's resolution tables");
        // spec/failure.md names each of them.
        let failure = std::fs::read_to_string(format!(
            "{}/../../spec/failure.md",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for (name, _) in &ours {
            assert!(failure.contains(&format!("`{name}`")), "failure.md: {name}");
        }
        for r in Resolution::ALL {
            assert_eq!(Resolution::from_code(r.code()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        for r in ResolutionReason::ALL {
            assert_eq!(ResolutionReason::from_code(r.code()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!(Resolution::from_code(0), None);
        assert_eq!(ResolutionReason::from_code(7), None);
    }

    fn arb_label() -> impl Strategy<Value = String> {
        "[a-z0-9-]{1,32}"
    }

    fn arb_records() -> impl Strategy<Value = RecordSet> {
        proptest::collection::vec(any::<[u8; 32]>(), 1..8)
            .prop_map(|v| RecordSet::new(v.into_iter().map(RecordId::from_bytes)).unwrap())
    }

    fn arb_access() -> impl Strategy<Value = Access> {
        (
            arb_label(),
            arb_label(),
            arb_label(),
            arb_label(),
            any::<[u8; 32]>(),
            arb_records(),
            any::<u32>(),
        )
            .prop_map(|(c, o, p, l, k, records, e)| Access {
                custodian: CustodianId(c),
                officer: OfficerId(o),
                purpose: PurposeId(p),
                legal_basis: LegalBasisId(l),
                case: CaseCommitment(k),
                records,
                epoch: EpochId::new(e),
            })
    }

    fn arb_hold() -> impl Strategy<Value = LegalHold> {
        (any::<[u8; 16]>(), arb_records(), arb_label(), any::<i64>()).prop_map(|(h, r, l, t)| {
            LegalHold {
                hold: HoldId(h),
                records: r,
                legal_basis: LegalBasisId(l),
                expires: UnixTime(t),
            }
        })
    }

    fn arb_entry() -> impl Strategy<Value = LogEntry> {
        let tag = any::<[u8; 32]>().prop_map(ParticipantTag::from_bytes);
        let epoch = any::<u32>().prop_map(EpochId::new);
        prop_oneof![
            (tag.clone(), epoch.clone(), any::<[u8; 32]>()).prop_map(|(tag, epoch, p)| {
                LogEntry::EnrollmentOpened {
                    tag,
                    epoch,
                    policy: PolicyHash::from_bytes(p),
                }
            }),
            (tag.clone(), epoch.clone())
                .prop_map(|(tag, epoch)| LogEntry::EnrollmentClosed { tag, epoch }),
            any::<[u8; 32]>().prop_map(|p| LogEntry::PolicyPublished {
                policy: PolicyHash::from_bytes(p)
            }),
            any::<[u8; 32]>().prop_map(|p| LogEntry::WitnessPolicyPublished {
                policy: TlogPolicyHash(p)
            }),
            (
                tag.clone(),
                any::<[u8; 16]>(),
                epoch.clone(),
                any::<bool>(),
                any::<i64>(),
                any::<i64>(),
                1..=i64::MAX
            )
                .prop_map(|(tag, c, epoch, adhoc, at, start, len)| {
                    LogEntry::ChallengeIssued {
                        tag,
                        challenge: ChallengeId::from_bytes(c),
                        epoch,
                        kind: if adhoc {
                            ChallengeKind::AdHoc
                        } else {
                            ChallengeKind::Scheduled
                        },
                        issued_at: UnixTime(at),
                        window: WindowSpan {
                            start: UnixTime(start.min(i64::MAX - len)),
                            end: UnixTime(start.min(i64::MAX - len) + len),
                        },
                    }
                }),
            (
                tag.clone(),
                any::<[u8; 32]>(),
                any::<[u8; 16]>(),
                epoch.clone()
            )
                .prop_map(|(tag, r, c, epoch)| LogEntry::CheckInReceived {
                    tag,
                    record: RecordId::from_bytes(r),
                    challenge: ChallengeId::from_bytes(c),
                    epoch,
                }),
            arb_access().prop_map(LogEntry::ContentAccessed),
            (arb_access(), 1u8..=8).prop_map(|(access, r)| LogEntry::AccessDenied {
                access,
                reason: DenialReason::from_code(r).unwrap(),
            }),
            (epoch.clone(), any::<u64>(), any::<[u8; 32]>(), any::<i64>()).prop_map(
                |(epoch, count, h, t)| LogEntry::RecordsPurged {
                    epoch,
                    count,
                    record_set: RecordSetHash(h),
                    purged_at: UnixTime(t),
                }
            ),
            (arb_label(), epoch.clone(), any::<i64>()).prop_map(|(c, epoch, t)| {
                LogEntry::EpochKeyDestroyed {
                    custodian: CustodianId(c),
                    epoch,
                    destroyed_at: UnixTime(t),
                }
            }),
            arb_hold().prop_map(LogEntry::LegalHoldPlaced),
            arb_hold().prop_map(LogEntry::LegalHoldReleased),
            (
                tag.clone(),
                any::<[u8; 16]>(),
                epoch.clone(),
                0..Resolution::ALL.len(),
                0..ResolutionReason::ALL.len()
            )
                .prop_map(|(tag, c, epoch, r, why)| LogEntry::RowResolved {
                    tag,
                    challenge: ChallengeId::from_bytes(c),
                    epoch,
                    resolution: Resolution::ALL[r],
                    reason: ResolutionReason::ALL[why],
                }),
            (tag, epoch.clone(), any::<i64>()).prop_map(|(tag, epoch, t)| {
                LogEntry::LedgerPurged {
                    tag,
                    epoch,
                    purged_at: UnixTime(t),
                }
            }),
            (epoch, any::<[u16; 3]>(), any::<[u8; 5]>()).prop_map(|(epoch, [a, b, c], r)| {
                let issued = u32::from(a) + u32::from(b) + u32::from(c);
                let reports = r.map(u32::from);
                LogEntry::EpochSummary(EpochSummary {
                    epoch,
                    issued: issued.max(reports.iter().sum()),
                    on_time: u32::from(a) + issued.max(reports.iter().sum()) - issued,
                    late: u32::from(b),
                    missed: u32::from(c),
                    reports: FailureCounts {
                        no_network: reports[0],
                        app_error: reports[1],
                        device_error: reports[2],
                        presence_unavailable: reports[3],
                        other: reports[4],
                    },
                })
            }),
        ]
    }

    fn arb_obligation() -> impl Strategy<Value = LogEntry> {
        use crate::obligation_entry::ConditionsSummary;
        use minimis_proto::ReviewId;
        use minimis_proto::obligations::{AppealOutcome, Decision, ReasonId, ReviewCause};
        let review = any::<[u8; 16]>().prop_map(ReviewId::from_bytes);
        let day = (-20_000i64..100_000).prop_map(|d| UnixTime(d * 86_400));
        let reason = "[a-z0-9-]{1,32}".prop_map(|s| ReasonId::new(&s).unwrap());
        let entry = prop_oneof![
            (any::<u32>(), any::<[u16; 4]>(), 0usize..4, any::<u32>()).prop_map(
                |(e, a, turn, reviews)| {
                    let area = a.map(u32::from);
                    // Presence: the same counts in another order, so both add up.
                    let mut presence = area;
                    presence.rotate_left(turn);
                    ObligationEntry::ConditionsSummary(ConditionsSummary {
                        epoch: EpochId::new(e),
                        opened: area.iter().sum(),
                        area,
                        presence,
                        reviews,
                    })
                }
            ),
            (review.clone(), any::<u32>(), any::<bool>(), day.clone()).prop_map(
                |(review, e, missed, day)| ObligationEntry::ReviewOpened {
                    review,
                    epoch: EpochId::new(e),
                    cause: if missed {
                        ReviewCause::Missed
                    } else {
                        ReviewCause::Condition
                    },
                    day,
                }
            ),
            (review.clone(), 1u8..=3, reason.clone(), day.clone()).prop_map(
                |(review, d, reason, day)| ObligationEntry::ReviewDecided {
                    review,
                    decision: Decision::from_code(d).unwrap(),
                    reason,
                    day,
                }
            ),
            (review.clone(), day.clone())
                .prop_map(|(review, day)| ObligationEntry::DecisionContested { review, day }),
            (review, 1u8..=2, reason, day.clone()).prop_map(|(review, o, reason, day)| {
                ObligationEntry::AppealDecided {
                    review,
                    outcome: AppealOutcome::from_code(o).unwrap(),
                    reason,
                    day,
                }
            }),
            (
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
                any::<bool>(),
                day.clone()
            )
                .prop_map(|(t, f, two, day)| ObligationEntry::FilingReceived {
                    tag: minimis_proto::ParticipantTag::from_bytes(t),
                    filing: minimis_proto::FilingId::from_bytes(f),
                    addressee: if two {
                        minimis_proto::obligations::Addressee::AgencyAndOversight
                    } else {
                        minimis_proto::obligations::Addressee::Agency
                    },
                    day,
                }),
            (any::<[u8; 32]>(), day.clone()).prop_map(|(f, day)| {
                ObligationEntry::FilingAcknowledged {
                    filing: minimis_proto::FilingId::from_bytes(f),
                    day,
                }
            }),
            (any::<[u8; 32]>(), any::<[u8; 32]>(), day).prop_map(|(t, d, day)| {
                ObligationEntry::DeliveryAcknowledged {
                    tag: minimis_proto::ParticipantTag::from_bytes(t),
                    delivery: minimis_proto::DeliveryId::from_bytes(d),
                    day,
                }
            }),
        ];
        entry.prop_map(LogEntry::Obligation)
    }

    proptest! {
        #[test]
        fn obl_7_obl_17_obligation_entries_are_canonical(entry in arb_obligation()) {
            let bytes = entry.encode();
            prop_assert_eq!(LogEntry::decode(&bytes).unwrap(), entry);
        }

        #[test]
        fn log_25_log_26_encoding_is_canonical(entry in arb_entry()) {
            let bytes = entry.encode();
            prop_assert_eq!(LogEntry::decode(&bytes).unwrap(), entry);
        }

        #[test]
        fn log_26_decoding_arbitrary_bytes_never_panics_and_accepts_only_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            if let Ok(entry) = LogEntry::decode(&bytes) {
                prop_assert_eq!(entry.encode(), bytes);
            }
        }
    }
}
