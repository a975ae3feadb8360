//! The policy file: the program's rules, fixed before anyone is enrolled.
//!
//! A policy is read from TOML (`policy/default.toml` is the reference) and refused with
//! a precise error if any key is unknown or any value is out of the range the
//! specification allows (**POL-10**, **POL-11**). Its hash, SHA-256 over the canonical
//! encoding below, is what enrollments and log entries cite (**POL-12**). Spec:
//! `spec/policy.md`.
//!
//! Canonical encoding (all integers big-endian; `str` is a `u32` byte length followed by
//! UTF-8; lists are a `u32` count followed by their items, in file order):
//!
//! ```text
//! "minimis-policy-v1\n"  (format 1)  or  "minimis-policy-v2\n"  (format 2)
//! str  name
//! u32  epochs.length_days
//! u32  retention.content_days
//! u32  retention.ledger_days
//! u32  schedule.max_checkins_per_day
//! u32  schedule.max_adhoc_per_30_days
//! u32  schedule.grace_minutes
//! u32  checkin.max_note_bytes
//! list access.purposes      of (str id, str description)
//! list access.legal_bases   of (str id, str citation)
//! list custodians           of (str id, u8 role (1 agency, 2 oversight), str name)
//! u32  obligations.acknowledge_days
//! u32  obligations.remind_days_before
//! u32  obligations.decide_days
//! u32  obligations.contest_days
//! u32  obligations.appeal_days
//! u32  obligations.poll_minutes
//! list obligations.reasons  of (str id, str description)
//! ```
//!
//! The `obligations` fields are in format 2 only (**OBL-22**); a format-1 policy's encoding
//! and hash are what they were before the table existed.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::ids::{EpochId, PolicyHash};
use crate::payload::NOTE_CAPACITY;
use crate::wire::UnixTime;

/// The format line of a policy file with the `[obligations]` table
/// (`format = "minimis-policy/2"`, **OBL-22**): what new policies carry.
pub const POLICY_FORMAT: &str = "minimis-policy/2";

/// The first format, without the `[obligations]` table. Still read, with its hash
/// unchanged, so that enrollments under it keep their policy.
pub const POLICY_FORMAT_1: &str = "minimis-policy/1";

/// The start of epoch 0: 1970-01-05T00:00:00Z, the first Monday of the Unix era.
pub const EPOCH_ORIGIN: UnixTime = UnixTime(4 * 86_400);

const SECONDS_PER_DAY: i64 = 86_400;

/// The allowed range of each numeric policy value (**POL-11**).
pub mod limits {
    use std::ops::RangeInclusive;

    /// Epoch length in days: at least a day, at most four weeks.
    pub const EPOCH_LENGTH_DAYS: RangeInclusive<u32> = 1..=28;
    /// Content retention after an epoch ends, in days: at most a year.
    pub const CONTENT_RETENTION_DAYS: RangeInclusive<u32> = 1..=365;
    /// Compliance-ledger retention after an enrollment closes, in days: at most ten years.
    pub const LEDGER_RETENTION_DAYS: RangeInclusive<u32> = 1..=3_650;
    /// Most check-ins a day: a handful, never anything close to continuous.
    pub const MAX_CHECKINS_PER_DAY: RangeInclusive<u32> = 1..=4;
    /// Most ad-hoc challenges in any 30 days.
    pub const MAX_ADHOC_PER_30_DAYS: RangeInclusive<u32> = 0..=8;
    /// Minutes after a window closes during which a check-in is still accepted, as late.
    pub const GRACE_MINUTES: RangeInclusive<u32> = 0..=1_440;
    /// The longest note, in bytes; bounded by the fixed payload size.
    pub const MAX_NOTE_BYTES: RangeInclusive<u32> = 0..=(crate::payload::NOTE_CAPACITY as u32);
    /// How many custodians: one, or two (agency and oversight).
    pub const CUSTODIANS: RangeInclusive<u32> = 1..=2;
    /// Days the agency has to acknowledge a filing (OBL-10).
    pub const ACKNOWLEDGE_DAYS: RangeInclusive<u32> = 1..=14;
    /// Days before an appointment or hearing that the first reminder goes out (OBL-13).
    pub const REMIND_DAYS_BEFORE: RangeInclusive<u32> = 1..=30;
    /// Days an officer has to decide a review (OBL-14).
    pub const DECIDE_DAYS: RangeInclusive<u32> = 1..=30;
    /// Days the participant has to contest a decision (OBL-15).
    pub const CONTEST_DAYS: RangeInclusive<u32> = 7..=90;
    /// Days the oversight body has to decide an appeal (OBL-15).
    pub const APPEAL_DAYS: RangeInclusive<u32> = 1..=60;
    /// The shortest poll interval inside a window, in minutes (OBL-20).
    pub const POLL_MINUTES: RangeInclusive<u32> = 1..=60;
}

/// Why a policy file was refused. No variant carries more than the offending key and value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not valid TOML, a key the format does not define, a missing key or a wrong type.
    #[error("policy file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// The `format` line names a format this version does not read.
    #[error(
        "policy format `{found}` is not supported; expected `{POLICY_FORMAT}` (or `{POLICY_FORMAT_1}`)"
    )]
    UnsupportedFormat {
        /// The format the file named.
        found: String,
    },
    /// A format-2 policy without the `[obligations]` table, or a format-1 policy with it.
    #[error(
        "policy format `{found}`: `{POLICY_FORMAT}` requires the [obligations] table and `{POLICY_FORMAT_1}` has none"
    )]
    ObligationsFormat {
        /// The format the file named.
        found: String,
    },
    /// A numeric value outside its allowed range.
    #[error("policy value `{key}` = {value} is out of range {min}..={max}")]
    OutOfRange {
        /// The key, as written in the file.
        key: &'static str,
        /// The value found.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// A list that must not be empty is empty, or a text that must not be blank is blank.
    #[error("policy value `{key}` must not be empty")]
    Empty {
        /// The key.
        key: &'static str,
    },
    /// An identifier that is not 1 to 32 characters of `a-z`, `0-9` and `-`.
    #[error("policy identifier `{id}` in `{key}` must be 1 to 32 characters of a-z, 0-9 and -")]
    InvalidId {
        /// The key of the list.
        key: &'static str,
        /// The identifier found.
        id: String,
    },
    /// The same identifier twice in one list.
    #[error("policy identifier `{id}` appears twice in `{key}`")]
    DuplicateId {
        /// The key of the list.
        key: &'static str,
        /// The repeated identifier.
        id: String,
    },
    /// The custodians are not one agency custodian and at most one oversight custodian.
    #[error(
        "policy `custodians` must name exactly one `agency` custodian and at most one `oversight` custodian"
    )]
    CustodianRoles,
}

/// A custodian's role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CustodianRole {
    /// The supervising agency's custodian: holds the inner layer; the only party that
    /// ever sees plaintext.
    Agency,
    /// The independent oversight body's custodian (a court or ombud): holds the outer
    /// layer and opens it only for a logged, justified request.
    Oversight,
}

impl CustodianRole {
    /// The byte that stands for this role in canonical encodings.
    pub const fn code(self) -> u8 {
        match self {
            Self::Agency => 1,
            Self::Oversight => 2,
        }
    }

    /// The role's name as written in the policy file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Oversight => "oversight",
        }
    }
}

impl fmt::Display for CustodianRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key custodian named by the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custodian {
    /// Short identifier, cited in log entries.
    pub id: String,
    /// Agency or oversight.
    pub role: CustodianRole,
    /// Who this is, in words.
    pub name: String,
}

/// An allowed purpose for opening content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// Short identifier, cited in access requests and log entries.
    pub id: String,
    /// What it means, in words.
    pub description: String,
}

/// An allowed legal basis for opening content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegalBasis {
    /// Short identifier, cited in access requests and log entries.
    pub id: String,
    /// The authority, as a citation.
    pub citation: String,
}

/// A reason a review may be decided with (**OBL-14**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// Short identifier, carried in decisions and log entries.
    pub id: String,
    /// What it means, in words.
    pub description: String,
}

/// The policy's `[obligations]` table (`spec/obligations.md` § The policy's new keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obligations {
    acknowledge_days: u32,
    remind_days_before: u32,
    decide_days: u32,
    contest_days: u32,
    appeal_days: u32,
    poll_minutes: u32,
    reasons: Vec<Reason>,
}

impl Obligations {
    /// Days the agency has to acknowledge a filing (**OBL-10**).
    pub fn acknowledge_days(&self) -> u32 {
        self.acknowledge_days
    }

    /// Days before an appointment or hearing that the first reminder is sent (**OBL-13**).
    pub fn remind_days_before(&self) -> u32 {
        self.remind_days_before
    }

    /// Days an officer has to decide a review (**OBL-14**).
    pub fn decide_days(&self) -> u32 {
        self.decide_days
    }

    /// Days the participant has to contest a decision (**OBL-15**).
    pub fn contest_days(&self) -> u32 {
        self.contest_days
    }

    /// Days the oversight body has to decide an appeal (**OBL-15**).
    pub fn appeal_days(&self) -> u32 {
        self.appeal_days
    }

    /// The shortest poll interval inside a window, in minutes (**OBL-20**).
    pub fn poll_minutes(&self) -> u32 {
        self.poll_minutes
    }

    /// The reasons a review may be decided with, in file order (**OBL-14**).
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// Whether `id` is one of the policy's reasons.
    pub fn allows_reason(&self, id: &str) -> bool {
        self.reasons.iter().any(|r| r.id == id)
    }
}

/// A validated policy. The only way to get one is [`Policy::from_toml_str`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    name: String,
    epoch_length_days: u32,
    content_retention_days: u32,
    ledger_retention_days: u32,
    max_checkins_per_day: u32,
    max_adhoc_per_30_days: u32,
    grace_minutes: u32,
    max_note_bytes: u32,
    purposes: Vec<Purpose>,
    legal_bases: Vec<LegalBasis>,
    custodians: Vec<Custodian>,
    obligations: Option<Obligations>,
    hash: PolicyHash,
}

// ---- the file as written ------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    format: String,
    name: String,
    epochs: RawEpochs,
    retention: RawRetention,
    schedule: RawScheduleLimits,
    checkin: RawCheckin,
    access: RawAccess,
    custodians: Vec<RawCustodian>,
    obligations: Option<RawObligations>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObligations {
    acknowledge_days: u32,
    remind_days_before: u32,
    decide_days: u32,
    contest_days: u32,
    appeal_days: u32,
    poll_minutes: u32,
    reasons: Vec<RawReason>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReason {
    id: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEpochs {
    length_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    content_days: u32,
    ledger_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheduleLimits {
    max_checkins_per_day: u32,
    max_adhoc_per_30_days: u32,
    grace_minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckin {
    max_note_bytes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    purposes: Vec<RawPurpose>,
    legal_bases: Vec<RawLegalBasis>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    id: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLegalBasis {
    id: String,
    citation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustodian {
    id: String,
    role: CustodianRole,
    name: String,
}

fn in_range(
    key: &'static str,
    value: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, PolicyError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(PolicyError::OutOfRange {
            key,
            value: u64::from(value),
            min: u64::from(*range.start()),
            max: u64::from(*range.end()),
        })
    }
}

fn not_blank(key: &'static str, s: &str) -> Result<(), PolicyError> {
    if s.trim().is_empty() {
        Err(PolicyError::Empty { key })
    } else {
        Ok(())
    }
}

fn unique_ids<'a>(
    key: &'static str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), PolicyError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        let valid = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(PolicyError::InvalidId {
                key,
                id: id.to_owned(),
            });
        }
        if !seen.insert(id) {
            return Err(PolicyError::DuplicateId {
                key,
                id: id.to_owned(),
            });
        }
    }
    if seen.is_empty() {
        return Err(PolicyError::Empty { key });
    }
    Ok(())
}

/// Reads and checks the `[obligations]` table (**OBL-22**).
fn read_obligations(o: RawObligations) -> Result<Obligations, PolicyError> {
    let acknowledge_days = in_range(
        "obligations.acknowledge_days",
        o.acknowledge_days,
        limits::ACKNOWLEDGE_DAYS,
    )?;
    let remind_days_before = in_range(
        "obligations.remind_days_before",
        o.remind_days_before,
        limits::REMIND_DAYS_BEFORE,
    )?;
    let decide_days = in_range(
        "obligations.decide_days",
        o.decide_days,
        limits::DECIDE_DAYS,
    )?;
    let contest_days = in_range(
        "obligations.contest_days",
        o.contest_days,
        limits::CONTEST_DAYS,
    )?;
    let appeal_days = in_range(
        "obligations.appeal_days",
        o.appeal_days,
        limits::APPEAL_DAYS,
    )?;
    let poll_minutes = in_range(
        "obligations.poll_minutes",
        o.poll_minutes,
        limits::POLL_MINUTES,
    )?;
    unique_ids(
        "obligations.reasons",
        o.reasons.iter().map(|r| r.id.as_str()),
    )?;
    for r in &o.reasons {
        not_blank("obligations.reasons.description", &r.description)?;
    }
    Ok(Obligations {
        acknowledge_days,
        remind_days_before,
        decide_days,
        contest_days,
        appeal_days,
        poll_minutes,
        reasons: o
            .reasons
            .into_iter()
            .map(|r| Reason {
                id: r.id,
                description: r.description,
            })
            .collect(),
    })
}

impl Policy {
    /// Reads and validates a policy from TOML text.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first key that is unknown, missing, of the wrong type or
    /// out of range.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text)?;
        // Format 2 has the [obligations] table, format 1 none (OBL-22).
        let obligations = match (raw.format.as_str(), raw.obligations) {
            (POLICY_FORMAT, Some(o)) => Some(o),
            (POLICY_FORMAT_1, None) => None,
            (POLICY_FORMAT | POLICY_FORMAT_1, _) => {
                return Err(PolicyError::ObligationsFormat { found: raw.format });
            }
            _ => return Err(PolicyError::UnsupportedFormat { found: raw.format }),
        };
        not_blank("name", &raw.name)?;
        let epoch_length_days = in_range(
            "epochs.length_days",
            raw.epochs.length_days,
            limits::EPOCH_LENGTH_DAYS,
        )?;
        let content_retention_days = in_range(
            "retention.content_days",
            raw.retention.content_days,
            limits::CONTENT_RETENTION_DAYS,
        )?;
        let ledger_retention_days = in_range(
            "retention.ledger_days",
            raw.retention.ledger_days,
            limits::LEDGER_RETENTION_DAYS,
        )?;
        let max_checkins_per_day = in_range(
            "schedule.max_checkins_per_day",
            raw.schedule.max_checkins_per_day,
            limits::MAX_CHECKINS_PER_DAY,
        )?;
        let max_adhoc_per_30_days = in_range(
            "schedule.max_adhoc_per_30_days",
            raw.schedule.max_adhoc_per_30_days,
            limits::MAX_ADHOC_PER_30_DAYS,
        )?;
        let grace_minutes = in_range(
            "schedule.grace_minutes",
            raw.schedule.grace_minutes,
            limits::GRACE_MINUTES,
        )?;
        let max_note_bytes = in_range(
            "checkin.max_note_bytes",
            raw.checkin.max_note_bytes,
            limits::MAX_NOTE_BYTES,
        )?;

        unique_ids(
            "access.purposes",
            raw.access.purposes.iter().map(|p| p.id.as_str()),
        )?;
        for p in &raw.access.purposes {
            not_blank("access.purposes.description", &p.description)?;
        }
        unique_ids(
            "access.legal_bases",
            raw.access.legal_bases.iter().map(|b| b.id.as_str()),
        )?;
        for b in &raw.access.legal_bases {
            not_blank("access.legal_bases.citation", &b.citation)?;
        }

        let count = u32::try_from(raw.custodians.len()).unwrap_or(u32::MAX);
        in_range("custodians", count, limits::CUSTODIANS)?;
        unique_ids("custodians", raw.custodians.iter().map(|c| c.id.as_str()))?;
        for c in &raw.custodians {
            not_blank("custodians.name", &c.name)?;
        }
        let agencies = raw
            .custodians
            .iter()
            .filter(|c| c.role == CustodianRole::Agency)
            .count();
        let oversights = raw
            .custodians
            .iter()
            .filter(|c| c.role == CustodianRole::Oversight)
            .count();
        if agencies != 1 || oversights > 1 {
            return Err(PolicyError::CustodianRoles);
        }
        // Agency first: the inner layer is the agency's (SEAL-2).
        let mut custodians: Vec<Custodian> = raw
            .custodians
            .into_iter()
            .map(|c| Custodian {
                id: c.id,
                role: c.role,
                name: c.name,
            })
            .collect();
        custodians.sort_by_key(|c| c.role);
        let obligations = obligations.map(read_obligations).transpose()?;

        let mut policy = Self {
            name: raw.name,
            epoch_length_days,
            content_retention_days,
            ledger_retention_days,
            max_checkins_per_day,
            max_adhoc_per_30_days,
            grace_minutes,
            max_note_bytes,
            purposes: raw
                .access
                .purposes
                .into_iter()
                .map(|p| Purpose {
                    id: p.id,
                    description: p.description,
                })
                .collect(),
            legal_bases: raw
                .access
                .legal_bases
                .into_iter()
                .map(|b| LegalBasis {
                    id: b.id,
                    citation: b.citation,
                })
                .collect(),
            custodians,
            obligations,
            hash: PolicyHash::from_bytes([0; 32]),
        };
        policy.hash = PolicyHash::from_bytes(sha256(&policy.canonical_bytes()));
        Ok(policy)
    }

    /// The canonical encoding that the hash covers (module docs give the layout).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn put_str(out: &mut Vec<u8>, s: &str) {
            put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
            out.extend_from_slice(s.as_bytes());
        }
        fn put_u32(out: &mut Vec<u8>, v: u32) {
            out.extend_from_slice(&v.to_be_bytes());
        }
        fn put_len(out: &mut Vec<u8>, n: usize) {
            put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
        }
        let mut out = Vec::with_capacity(512);
        // A format-2 policy's encoding starts with its own line, so that no format-1
        // encoding is ever a prefix of one that means something else.
        out.extend_from_slice(match self.obligations {
            Some(_) => b"minimis-policy-v2\n",
            None => b"minimis-policy-v1\n",
        });
        put_str(&mut out, &self.name);
        for v in [
            self.epoch_length_days,
            self.content_retention_days,
            self.ledger_retention_days,
            self.max_checkins_per_day,
            self.max_adhoc_per_30_days,
            self.grace_minutes,
            self.max_note_bytes,
        ] {
            put_u32(&mut out, v);
        }
        put_len(&mut out, self.purposes.len());
        for p in &self.purposes {
            put_str(&mut out, &p.id);
            put_str(&mut out, &p.description);
        }
        put_len(&mut out, self.legal_bases.len());
        for b in &self.legal_bases {
            put_str(&mut out, &b.id);
            put_str(&mut out, &b.citation);
        }
        put_len(&mut out, self.custodians.len());
        for c in &self.custodians {
            put_str(&mut out, &c.id);
            out.push(c.role.code());
            put_str(&mut out, &c.name);
        }
        let Some(o) = &self.obligations else {
            return out;
        };
        for v in [
            o.acknowledge_days,
            o.remind_days_before,
            o.decide_days,
            o.contest_days,
            o.appeal_days,
            o.poll_minutes,
        ] {
            put_u32(&mut out, v);
        }
        put_len(&mut out, o.reasons.len());
        for r in &o.reasons {
            put_str(&mut out, &r.id);
            put_str(&mut out, &r.description);
        }
        out
    }

    /// SHA-256 of [`Policy::canonical_bytes`].
    pub fn hash(&self) -> PolicyHash {
        self.hash
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Epoch length in days.
    pub fn epoch_length_days(&self) -> u32 {
        self.epoch_length_days
    }

    /// Epoch length in seconds.
    pub fn epoch_length_seconds(&self) -> i64 {
        i64::from(self.epoch_length_days) * SECONDS_PER_DAY
    }

    /// Days content is kept after its epoch ends.
    pub fn content_retention_days(&self) -> u32 {
        self.content_retention_days
    }

    /// Days compliance-ledger rows are kept after the enrollment closes.
    pub fn ledger_retention_days(&self) -> u32 {
        self.ledger_retention_days
    }

    /// Most check-ins a schedule may allow in one day.
    pub fn max_checkins_per_day(&self) -> u32 {
        self.max_checkins_per_day
    }

    /// Most ad-hoc challenges a schedule may allow in any 30 days.
    pub fn max_adhoc_per_30_days(&self) -> u32 {
        self.max_adhoc_per_30_days
    }

    /// Minutes after a window closes during which a check-in is accepted and recorded as
    /// late; after that the challenge is missed and pending review.
    pub fn grace_minutes(&self) -> u32 {
        self.grace_minutes
    }

    /// [`Policy::grace_minutes`] in seconds.
    pub fn grace_seconds(&self) -> i64 {
        i64::from(self.grace_minutes) * 60
    }

    /// The longest note a check-in may carry, in bytes.
    pub fn max_note_bytes(&self) -> usize {
        // Bounded by NOTE_CAPACITY at validation time.
        (self.max_note_bytes as usize).min(NOTE_CAPACITY)
    }

    /// The allowed access purposes.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// The allowed legal bases.
    pub fn legal_bases(&self) -> &[LegalBasis] {
        &self.legal_bases
    }

    /// The custodians, agency first.
    pub fn custodians(&self) -> &[Custodian] {
        &self.custodians
    }

    /// The `[obligations]` table (`spec/obligations.md`); `None` for a format-1 policy,
    /// under which the obligations' mechanisms are not in force.
    pub fn obligations(&self) -> Option<&Obligations> {
        self.obligations.as_ref()
    }

    /// The custodian with `role`, if the policy names one.
    pub fn custodian(&self, role: CustodianRole) -> Option<&Custodian> {
        self.custodians.iter().find(|c| c.role == role)
    }

    /// Whether `id` is an allowed purpose.
    pub fn allows_purpose(&self, id: &str) -> bool {
        self.purposes.iter().any(|p| p.id == id)
    }

    /// Whether `id` is an allowed legal basis.
    pub fn allows_legal_basis(&self, id: &str) -> bool {
        self.legal_bases.iter().any(|b| b.id == id)
    }

    /// The epoch that contains `t`, or `None` before [`EPOCH_ORIGIN`] or past `u32::MAX`
    /// epochs.
    pub fn epoch_at(&self, t: UnixTime) -> Option<EpochId> {
        let since = t.seconds().checked_sub(EPOCH_ORIGIN.seconds())?;
        if since < 0 {
            return None;
        }
        u32::try_from(since / self.epoch_length_seconds())
            .ok()
            .map(EpochId::new)
    }

    /// When `epoch` begins.
    pub fn epoch_start(&self, epoch: EpochId) -> UnixTime {
        EPOCH_ORIGIN.plus(i64::from(epoch.get()) * self.epoch_length_seconds())
    }

    /// When `epoch` ends (the first second of the next epoch).
    pub fn epoch_end(&self, epoch: EpochId) -> UnixTime {
        self.epoch_start(epoch).plus(self.epoch_length_seconds())
    }

    /// When every key of `epoch` must be destroyed and its content purged:
    /// `epoch_end + content_retention` (**RET-1**).
    pub fn content_deadline(&self, epoch: EpochId) -> UnixTime {
        self.epoch_end(epoch)
            .plus(i64::from(self.content_retention_days) * SECONDS_PER_DAY)
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The reference policy shipped as `policy/default.toml`, embedded so that the CLI works
/// with no files at all.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../../policy/default.toml");

/// The reference policy, parsed.
///
/// # Panics
/// Never in a released build: a test parses the embedded file.
#[allow(clippy::expect_used)]
pub fn default_policy() -> Policy {
    Policy::from_toml_str(DEFAULT_POLICY_TOML).expect("the embedded default policy is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(from: &str, to: &str) -> String {
        assert!(
            DEFAULT_POLICY_TOML.contains(from),
            "fixture must contain {from}"
        );
        DEFAULT_POLICY_TOML.replacen(from, to, 1)
    }

    #[test]
    fn pol_10_default_policy_is_valid() {
        let p = default_policy();
        assert_eq!(p.epoch_length_days(), 7);
        assert_eq!(p.custodians().len(), 2);
        assert_eq!(p.custodians()[0].role, CustodianRole::Agency);
        assert!(p.max_note_bytes() <= NOTE_CAPACITY);
    }

    #[test]
    fn pol_10_unknown_key_is_refused_with_its_name() {
        let text = replace("[epochs]\n", "[epochs]\ncontinuous_location = true\n");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert!(matches!(err, PolicyError::Toml(_)), "{err:?}");
        assert!(err.to_string().contains("continuous_location"), "{err}");

        let text = format!("{DEFAULT_POLICY_TOML}\n[extra]\nkey = 1\n");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn pol_10_missing_key_is_refused() {
        let text = replace("max_note_bytes", "# max_note_bytes");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert!(err.to_string().contains("max_note_bytes"), "{err}");
    }

    #[test]
    fn pol_10_wrong_format_is_refused() {
        let text = replace("minimis-policy/2", "minimis-policy/9");
        assert!(matches!(
            Policy::from_toml_str(&text),
            Err(PolicyError::UnsupportedFormat { found }) if found == "minimis-policy/9"
        ));
    }

    #[test]
    fn pol_11_out_of_range_values_are_refused_precisely() {
        let cases = [
            (
                "length_days = 7",
                "length_days = 0",
                "epochs.length_days",
                0,
            ),
            (
                "length_days = 7",
                "length_days = 29",
                "epochs.length_days",
                29,
            ),
            (
                "content_days = 90",
                "content_days = 366",
                "retention.content_days",
                366,
            ),
            (
                "max_checkins_per_day = 3",
                "max_checkins_per_day = 96",
                "schedule.max_checkins_per_day",
                96,
            ),
            (
                "max_adhoc_per_30_days = 4",
                "max_adhoc_per_30_days = 9",
                "schedule.max_adhoc_per_30_days",
                9,
            ),
            (
                "grace_minutes = 60",
                "grace_minutes = 1441",
                "schedule.grace_minutes",
                1441,
            ),
            (
                "max_note_bytes = 280",
                "max_note_bytes = 484",
                "checkin.max_note_bytes",
                484,
            ),
        ];
        for (from, to, key, value) in cases {
            match Policy::from_toml_str(&replace(from, to)) {
                Err(PolicyError::OutOfRange {
                    key: k, value: v, ..
                }) => {
                    assert_eq!((k, v), (key, value));
                }
                other => panic!("{to}: expected OutOfRange, got {other:?}"),
            }
        }
    }

    #[test]
    fn pol_11_custodian_roles_are_checked() {
        let two_agencies = replace("role = \"oversight\"", "role = \"agency\"");
        assert!(matches!(
            Policy::from_toml_str(&two_agencies),
            Err(PolicyError::CustodianRoles)
        ));
        let bad_role = replace("role = \"oversight\"", "role = \"operator\"");
        assert!(matches!(
            Policy::from_toml_str(&bad_role),
            Err(PolicyError::Toml(_))
        ));
    }

    #[test]
    fn pol_11_ids_are_checked() {
        let dup = replace("id = \"court-order\"", "id = \"compliance-review\"");
        assert!(matches!(
            Policy::from_toml_str(&dup),
            Err(PolicyError::DuplicateId {
                key: "access.purposes",
                ..
            })
        ));
        let bad = replace("id = \"court-order\"", "id = \"Court Order\"");
        assert!(matches!(
            Policy::from_toml_str(&bad),
            Err(PolicyError::InvalidId { .. })
        ));
    }

    #[test]
    fn pol_12_hash_ignores_comments_and_layout_but_not_values() {
        let base = default_policy();
        let with_comments = format!("# a comment\n\n{DEFAULT_POLICY_TOML}\n# trailing\n");
        assert_eq!(
            Policy::from_toml_str(&with_comments).unwrap().hash(),
            base.hash()
        );
        let changed = replace("content_days = 90", "content_days = 91");
        assert_ne!(Policy::from_toml_str(&changed).unwrap().hash(), base.hash());
        let ledger = replace("ledger_days = 2555", "ledger_days = 2554");
        assert_ne!(Policy::from_toml_str(&ledger).unwrap().hash(), base.hash());
    }

    #[test]
    fn obl_22_obligations_table_is_read_with_its_ranges() {
        let o = default_policy().obligations().unwrap().clone();
        assert_eq!(
            (
                o.acknowledge_days(),
                o.remind_days_before(),
                o.decide_days(),
                o.contest_days(),
                o.appeal_days(),
                o.poll_minutes()
            ),
            (2, 7, 14, 30, 30, 5)
        );
        assert!(o.allows_reason("explained-by-notice"));
        assert!(!o.allows_reason("violation"));
        let cases = [
            (
                "acknowledge_days = 2",
                "acknowledge_days = 0",
                "obligations.acknowledge_days",
                0,
            ),
            (
                "acknowledge_days = 2",
                "acknowledge_days = 15",
                "obligations.acknowledge_days",
                15,
            ),
            (
                "remind_days_before = 7",
                "remind_days_before = 31",
                "obligations.remind_days_before",
                31,
            ),
            (
                "decide_days = 14",
                "decide_days = 31",
                "obligations.decide_days",
                31,
            ),
            (
                "contest_days = 30",
                "contest_days = 6",
                "obligations.contest_days",
                6,
            ),
            (
                "contest_days = 30",
                "contest_days = 91",
                "obligations.contest_days",
                91,
            ),
            (
                "appeal_days = 30",
                "appeal_days = 61",
                "obligations.appeal_days",
                61,
            ),
            (
                "poll_minutes = 5",
                "poll_minutes = 0",
                "obligations.poll_minutes",
                0,
            ),
            (
                "poll_minutes = 5",
                "poll_minutes = 61",
                "obligations.poll_minutes",
                61,
            ),
        ];
        for (from, to, key, value) in cases {
            match Policy::from_toml_str(&replace(from, to)) {
                Err(PolicyError::OutOfRange {
                    key: k, value: v, ..
                }) => assert_eq!((k, v), (key, value)),
                other => panic!("{to}: expected OutOfRange, got {other:?}"),
            }
        }
    }

    #[test]
    fn obl_22_obligations_table_is_required_and_checked() {
        let start = DEFAULT_POLICY_TOML
            .find("\n[obligations]\n")
            .expect("the reference policy has the table");
        let end = DEFAULT_POLICY_TOML
            .find("# Who holds the epoch keys.")
            .expect("the custodians follow it");
        // Without the table (and its reasons), the policy is refused, naming it.
        let without = format!(
            "{}{}",
            &DEFAULT_POLICY_TOML[..start],
            &DEFAULT_POLICY_TOML[end..]
        );
        let err = Policy::from_toml_str(&without).unwrap_err();
        assert!(err.to_string().contains("obligations"), "{err}");
        // An unknown key in it is refused.
        let extra = replace("poll_minutes = 5", "poll_minutes = 5\npush_service = true");
        let err = Policy::from_toml_str(&extra).unwrap_err();
        assert!(err.to_string().contains("push_service"), "{err}");
        // A repeated or malformed reason id, or a blank description.
        let dup = replace("id = \"not-explained\"", "id = \"technical-failure\"");
        assert!(matches!(
            Policy::from_toml_str(&dup),
            Err(PolicyError::DuplicateId {
                key: "obligations.reasons",
                ..
            })
        ));
        let bad = replace("id = \"not-explained\"", "id = \"Not Explained\"");
        assert!(matches!(
            Policy::from_toml_str(&bad),
            Err(PolicyError::InvalidId {
                key: "obligations.reasons",
                ..
            })
        ));
        let blank = replace(
            "description = \"No explanation was given or found; the result stands as recorded.\"",
            "description = \" \"",
        );
        assert!(matches!(
            Policy::from_toml_str(&blank),
            Err(PolicyError::Empty {
                key: "obligations.reasons.description"
            })
        ));
        // No reasons at all: the table without its array of tables.
        let reasons = DEFAULT_POLICY_TOML
            .find("[[obligations.reasons]]")
            .expect("reasons");
        let no_reasons = format!(
            "{}reasons = []\n\n{}",
            &DEFAULT_POLICY_TOML[..reasons],
            &DEFAULT_POLICY_TOML[end..]
        );
        assert!(matches!(
            Policy::from_toml_str(&no_reasons),
            Err(PolicyError::Empty {
                key: "obligations.reasons"
            })
        ));
    }

    /// The reference policy before the `[obligations]` table: format 1.
    fn format_1() -> String {
        let start = DEFAULT_POLICY_TOML
            .find("# The program's obligations")
            .unwrap();
        let end = DEFAULT_POLICY_TOML
            .find("# Who holds the epoch keys.")
            .unwrap();
        format!(
            "{}{}",
            &DEFAULT_POLICY_TOML[..start],
            &DEFAULT_POLICY_TOML[end..]
        )
        .replace("minimis-policy/2", "minimis-policy/1")
    }

    #[test]
    fn obl_22_pol_12_a_format_1_policy_is_read_with_its_hash_unchanged() {
        let p = Policy::from_toml_str(&format_1()).unwrap();
        assert_eq!(p.obligations(), None);
        // The reference policy's hash before the table existed: enrollments that cite it
        // keep their policy.
        assert_eq!(
            p.hash().to_hex(),
            "37fa4f4a0228196d50753acc46e8951854c0ca89d3bc4aa53f1fedce47c5046a"
        );
        // Format 1 with the table, or format 2 without it: refused, naming the table.
        let with = DEFAULT_POLICY_TOML.replace("minimis-policy/2", "minimis-policy/1");
        let err = Policy::from_toml_str(&with).unwrap_err();
        assert!(
            matches!(err, PolicyError::ObligationsFormat { .. }),
            "{err:?}"
        );
        let without = format_1().replace("minimis-policy/1", "minimis-policy/2");
        let err = Policy::from_toml_str(&without).unwrap_err();
        assert!(err.to_string().contains("[obligations]"), "{err}");
        // The same values under format 2 hash differently: the encodings start apart.
        assert_ne!(default_policy().hash(), p.hash());
    }

    #[test]
    fn obl_22_pol_12_obligations_are_in_the_hash() {
        let base = default_policy();
        for (from, to) in [
            ("decide_days = 14", "decide_days = 13"),
            ("poll_minutes = 5", "poll_minutes = 6"),
            ("id = \"not-explained\"", "id = \"unexplained\""),
        ] {
            let changed = Policy::from_toml_str(&replace(from, to)).unwrap();
            assert_ne!(changed.hash(), base.hash(), "{to}");
        }
    }

    #[test]
    fn seal_6_ret_1_epochs_tile_time_and_set_deadlines() {
        let p = default_policy();
        assert_eq!(p.epoch_at(UnixTime(0)), None, "before the origin");
        assert_eq!(p.epoch_at(EPOCH_ORIGIN), Some(EpochId::new(0)));
        let e = EpochId::new(2_900);
        assert_eq!(p.epoch_at(p.epoch_start(e)), Some(e));
        assert_eq!(p.epoch_at(p.epoch_end(e).plus(-1)), Some(e));
        assert_eq!(p.epoch_at(p.epoch_end(e)), e.next());
        // 2026-11-26 is a Thursday; its epoch starts on Monday 2026-11-23.
        let thursday = UnixTime(1_795_651_200); // 2026-11-26T00:00:00Z
        let start = p.epoch_start(p.epoch_at(thursday).unwrap());
        assert_eq!(start, UnixTime(1_795_392_000)); // 2026-11-23T00:00:00Z
        assert_eq!(
            p.content_deadline(e),
            p.epoch_end(e).plus(90 * 86_400),
            "RET-1 deadline"
        );
    }
}
