//! The custodians' API (JSON over mutual TLS; spec/access.md): every request and
//! response body once (**SVC-40**), and its refusals ([`CustodianRefusal`], **SVC-41**).
//!
//! Officer → agency custodian:
//!
//! | route | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/access` | [`AccessRequest`] | `200` records opened, and [`LogRef`]s |
//! | `POST /v1/holds` | [`PlaceHoldRequest`] | `201` [`PlaceHoldResponse`] |
//! | `POST /v1/holds/{hold}/release` | | `200` [`ReleaseHoldResponse`] |
//!
//! Agency custodian → oversight custodian (its client certificate's common name is the
//! agency custodian's id in the policy):
//!
//! | route | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/outer` | [`OuterRequest`] | `200` [`OuterResponse`] |
//! | `POST /v1/holds/rewrap` | [`HoldRequest`] | `200` [`HoldRewrapResponse`] |
//! | `POST /v1/holds/release` | [`HoldRequest`] | `204` |
//!
//! Anyone with a certificate the custodian serves: `GET /v1/custodian`
//! ([`AboutResponse`]). Operator → oversight custodian: `POST /witness/add-checkpoint`
//! (C2SP tlog-witness; its refusals are [`CustodianRefusal`]s too, but for the size
//! mismatch, whose body tlog-witness fixes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::{DenialReason, EntryType, LogEntry};
use minimis_proto::{EpochId, RecordId};
use serde::{Deserialize, Serialize};

use crate::operator::refusals;
use crate::refusal::Refusal;

/// An officer's request to open records (**ACC-1**): records by id, nothing else
/// (**ACC-13**).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// Record ids, lowercase hex.
    pub records: Vec<String>,
    /// A purpose id from the policy.
    pub purpose: String,
    /// A legal basis id from the policy.
    pub legal_basis: String,
    /// The agency's case reference; only its salted commitment is logged (**ACC-9**).
    pub case_reference: String,
}

/// An entry's bytes that are not base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an entry is not base64")]
pub struct NotBase64;

/// A log entry and its proof, as one custodian shows another.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoggedEntry {
    /// The entry's canonical encoding, base64.
    pub entry: String,
    /// Its C2SP tlog-proof.
    pub proof: String,
}

impl LoggedEntry {
    /// Wraps an entry and its proof.
    pub fn new(entry: &LogEntry, proof: String) -> Self {
        Self {
            entry: B64.encode(entry.encode()),
            proof,
        }
    }

    /// The entry's bytes.
    ///
    /// # Errors
    /// [`NotBase64`].
    pub fn entry_bytes(&self) -> Result<Vec<u8>, NotBase64> {
        B64.decode(self.entry.as_bytes()).map_err(|_| NotBase64)
    }
}

/// The agency custodian's request to remove the outer layer (**ACC-7**).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OuterRequest {
    /// The officer who asked.
    pub officer: String,
    /// The purpose.
    pub purpose: String,
    /// The legal basis.
    pub legal_basis: String,
    /// The records.
    pub records: Vec<RecordId>,
    /// The agency custodian's `content accessed` entries (one per epoch) and proofs.
    pub logged: Vec<LoggedEntry>,
}

/// One record with its outer layer removed: still sealed to the agency custodian.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InnerFile {
    /// The record.
    pub record_id: RecordId,
    /// The inner age file, base64.
    pub file: String,
}

/// The oversight custodian's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OuterResponse {
    /// The inner files.
    pub inner: Vec<InnerFile>,
    /// The oversight custodian's own `content accessed` entries and proofs.
    pub logged: Vec<LoggedEntry>,
}

/// The agency custodian's request to re-wrap the outer layers of a hold's records, or to
/// release them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The `legal hold placed` (or `released`) entry and its proof.
    pub logged: LoggedEntry,
}

/// One held record's inner header, for the agency custodian to re-wrap.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InnerHeader {
    /// The record.
    pub record_id: RecordId,
    /// The inner age file's header (not its payload), base64.
    pub inner_header: String,
}

/// The oversight custodian's answer to a re-wrap request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRewrapResponse {
    /// The inner headers.
    pub headers: Vec<InnerHeader>,
}

/// An officer's request for a legal hold (**RET-32**).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceHoldRequest {
    /// Record ids, hex.
    pub records: Vec<String>,
    /// A legal basis id from the policy.
    pub legal_basis: String,
    /// When the hold lapses (Unix seconds).
    pub until: i64,
}

/// A hold placed (`201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceHoldResponse {
    /// The hold's id, 32 hex characters.
    pub hold: String,
    /// The records held.
    pub records: Vec<RecordId>,
    /// When it lapses (Unix seconds).
    pub until: i64,
    /// Whether every record's keys are re-wrapped already (both custodians).
    pub complete: bool,
    /// Where the hold's entries are in the log.
    pub log: Vec<LogRef>,
}

/// A hold released (`200`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseHoldResponse {
    /// The hold's id.
    pub hold: String,
    /// Where the release's entries are in the log.
    pub log: Vec<LogRef>,
}

/// What a custodian says of itself (`GET /v1/custodian`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AboutResponse {
    /// `agency` or `oversight`.
    pub role: minimis_proto::CustodianRole,
    /// Its id in the policy.
    pub custodian: String,
    /// Its public key (Ed25519, base64), if it has one.
    pub public_key: Option<String>,
    /// Its witness key (C2SP vkey), if it is the witness.
    pub witness: Option<String>,
    /// The log's verifier key it checks proofs with.
    pub log: String,
}

/// Where a custodian's entry landed in the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogRef {
    /// The entry type.
    pub entry: String,
    /// The custodian that logged it, when the entry names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian: Option<String>,
    /// The epoch, when the entry names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<EpochId>,
    /// Its index in the log.
    pub index: u64,
}

impl LogRef {
    /// Where `entry` is, at `index`.
    pub fn new(entry: &LogEntry, index: u64) -> Self {
        let (custodian, epoch) = match entry {
            LogEntry::ContentAccessed(a) | LogEntry::AccessDenied { access: a, .. } => {
                (Some(a.custodian.to_string()), Some(a.epoch))
            }
            LogEntry::EpochKeyDestroyed {
                custodian, epoch, ..
            } => (Some(custodian.to_string()), Some(*epoch)),
            _ => (None, None),
        };
        Self {
            entry: EntryType::as_str(entry.entry_type()).to_owned(),
            custodian,
            epoch,
            index,
        }
    }
}

refusals! {
    /// Every refusal of the custodians' API, with its status and code (spec/access.md
    /// § Errors, **SVC-41**). The codes are snake_case; a logged denial's code is its
    /// `access denied` reason's name (spec/log.md) with `_` for `-`.
    CustodianRefusal {
        /// `400 request_malformed`: a field is missing, unknown or badly formed; not
        /// logged.
        Malformed = (400, "request_malformed"),
        /// `403 purpose_not_allowed` (logged, `0x01`).
        PurposeNotAllowed = (403, "purpose_not_allowed"),
        /// `403 legal_basis_not_allowed` (logged, `0x02`).
        LegalBasisNotAllowed = (403, "legal_basis_not_allowed"),
        /// `403 not_in_caseload` (logged, `0x03`).
        NotInCaseload = (403, "not_in_caseload"),
        /// `403 oversight_refused` (logged, `0x04`).
        OversightRefused = (403, "oversight_refused"),
        /// `404 record_unknown` (logged, `0x05`).
        RecordUnknown = (404, "record_unknown"),
        /// `409 access_not_logged` (logged, `0x06`).
        AccessNotLogged = (409, "access_not_logged"),
        /// `410 key_destroyed` (logged, `0x07`).
        KeyDestroyed = (410, "key_destroyed"),
        /// `503 log_unavailable` (logged, `0x08`).
        LogUnavailable = (503, "log_unavailable"),
        /// `403 not_allowed`: a certificate of another class than the route serves.
        NotAllowed = (403, "not_allowed"),
        /// `404 hold_unknown`: no such legal hold here.
        HoldUnknown = (404, "hold_unknown"),
        /// `500 caseload_unavailable`: the caseload file cannot be read.
        CaseloadUnavailable = (500, "caseload_unavailable"),
        /// `502 operator_error`: the operator's answer contradicts itself.
        OperatorError = (502, "operator_error"),
        /// `503 oversight_unavailable`: the oversight custodian cannot be reached.
        OversightUnavailable = (503, "oversight_unavailable"),
        /// `404 not_found`: no such route.
        NotFound = (404, "not_found"),
        /// `405 method_not_allowed`: the route does not take this method.
        MethodNotAllowed = (405, "method_not_allowed"),
        /// `408 request_timeout`: the body did not arrive in time.
        RequestTimeout = (408, "request_timeout"),
        /// `413 body_too_large`: a body over 4 MiB.
        BodyTooLarge = (413, "body_too_large"),
        /// `414 uri_too_long`: a request target longer than the HTTP implementation takes;
        /// the connection is closed.
        UriTooLong = (414, "uri_too_long"),
        /// `431 head_too_large`: a request head (request line and headers) over 64 KiB;
        /// the connection is closed.
        HeadTooLarge = (431, "head_too_large"),
        /// `500 internal_error`: a fault; nothing was done.
        InternalError = (500, "internal_error"),
        /// `503 service_unavailable`: the custodian cannot serve the request now; nothing
        /// was done.
        ServiceUnavailable = (503, "service_unavailable"),
        /// `400 old_size_too_large` (tlog-witness): the old size is larger than the
        /// checkpoint's.
        OldSizeTooLarge = (400, "old_size_too_large"),
        /// `403 not_signed` (tlog-witness): the checkpoint is not signed by the log.
        NotSigned = (403, "not_signed"),
        /// `404 unknown_origin` (tlog-witness): the witness does not follow this log.
        UnknownOrigin = (404, "unknown_origin"),
        /// `409 size_mismatch` (tlog-witness): the old size is not the size last
        /// cosigned; answered with that size as `text/x.tlog.size`, as tlog-witness fixes,
        /// not as JSON.
        SizeMismatch = (409, "size_mismatch"),
        /// `422 split_view` (tlog-witness): another checkpoint of the same size was
        /// cosigned.
        SplitView = (422, "split_view"),
        /// `422 inconsistent_proof` (tlog-witness): the consistency proof does not verify.
        InconsistentProof = (422, "inconsistent_proof"),
        /// `503 witness_unavailable` (tlog-witness): the witness state could not be
        /// stored; nothing was cosigned.
        WitnessUnavailable = (503, "witness_unavailable"),
    }
}

impl CustodianRefusal {
    /// The refusal for a logged denial: its code is the reason's name with `_` for `-`.
    pub fn from_denial(r: DenialReason) -> Self {
        match r {
            DenialReason::PurposeNotAllowed => Self::PurposeNotAllowed,
            DenialReason::LegalBasisNotAllowed => Self::LegalBasisNotAllowed,
            DenialReason::NotInCaseload => Self::NotInCaseload,
            DenialReason::OversightRefused => Self::OversightRefused,
            DenialReason::RecordUnknown => Self::RecordUnknown,
            DenialReason::AccessNotLogged => Self::AccessNotLogged,
            DenialReason::KeyDestroyed => Self::KeyDestroyed,
            DenialReason::LogUnavailable => Self::LogUnavailable,
            // A reason added to the log later is refused, not served, until it has a
            // code of its own.
            _ => Self::OversightRefused,
        }
    }

    /// The logged denial this refusal is, if it is one.
    pub fn denial(self) -> Option<DenialReason> {
        DenialReason::ALL
            .into_iter()
            .find(|r| Self::from_denial(*r) == self)
    }
}

/// An opened check-in's note, as an officer receives it: content, so it zeroizes on drop
/// and its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedNote(zeroize::Zeroizing<String>);

impl<'de> Deserialize<'de> for OpenedNote {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(zeroize::Zeroizing::new(s)))
    }
}

impl OpenedNote {
    /// The note's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OpenedNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenedNote(<{} bytes>)", self.0.len())
    }
}

/// One record opened for an officer (**ACC-1**): what the check-in says, nothing more.
/// The custodian writes it from its own buffer, wiped once sent (**ACC-8**); this type is
/// how a client reads it, and has no `Serialize`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenedRecord {
    /// The record.
    pub record_id: RecordId,
    /// Its epoch.
    pub epoch: EpochId,
    /// The challenge it answers.
    pub challenge_id: minimis_proto::ChallengeId,
    /// The on-device zone test's result.
    pub zone: minimis_proto::ZoneResult,
    /// The on-device presence check's result.
    pub presence: minimis_proto::PresenceResult,
    /// The device's clock when it answered (Unix seconds).
    pub device_time: i64,
    /// The participant's note.
    pub note: OpenedNote,
}

/// The answer to an access (`POST /v1/access`, `200`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessResponse {
    /// The records opened.
    pub records: Vec<OpenedRecord>,
    /// Where the access's entries are in the log (both custodians').
    pub log: Vec<LogRef>,
}
