//! The custodians' messages (JSON over mutual TLS) and their refusals.
//!
//! Officer → agency custodian:
//!
//! ```text
//! POST /v1/access          {"records": ["<hex>", ...], "purpose", "legal_basis",
//!                           "case_reference"}
//!                          200 {"records": [{"record_id", "epoch", "challenge_id", "zone",
//!                               "presence", "device_time", "note"}], "log": [...]}
//! POST /v1/holds           {"records": [...], "legal_basis", "until": <unix>}
//!                          201 {"hold", "records", "until", "log": [...]}
//! POST /v1/holds/{hold}/release                     200 {"hold", "log": [...]}
//! ```
//!
//! Agency custodian → oversight custodian (its client certificate's common name is the
//! agency custodian's id in the policy):
//!
//! ```text
//! POST /v1/outer           {"officer", "purpose", "legal_basis", "records": [...],
//!                           "logged": [{"entry": "<base64>", "proof": "<tlog-proof>"}]}
//!                          200 {"inner": [{"record_id", "file": "<base64>"}],
//!                               "logged": [...]}
//! POST /v1/holds/rewrap    {"logged": {"entry", "proof"}}
//!                          200 {"headers": [{"record_id", "inner_header": "<base64>"}]}
//! POST /v1/holds/release   {"logged": {"entry", "proof"}}                      204
//! ```
//!
//! Operator → oversight custodian: `POST /witness/add-checkpoint` (C2SP tlog-witness).
//!
//! Every refusal is `{"error": {"code": "<code>", "message": "<text>"}}` with the status
//! of spec/access.md § Errors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::{DenialReason, EntryType, LogEntry};
use minimis_proto::{EpochId, RecordId};
use serde::{Deserialize, Serialize};

/// Why a custodian refused a request, or could not serve it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `400 request-malformed`: a field is missing, unknown or badly formed. Not logged.
    #[error("request-malformed: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// A refusal under the policy, logged with this reason (**ACC-6**).
    #[error("{0}")]
    Denied(DenialReason),
    /// `404 hold-unknown`: no such legal hold here.
    #[error("hold-unknown")]
    UnknownHold,
    /// `500 caseload-unavailable`: the caseload file cannot be read. Nothing was opened.
    #[error("caseload-unavailable")]
    CaseloadUnavailable,
    /// `502 operator-error`: the operator's answer contradicts itself (a record whose
    /// bytes do not hash to its id, a payload for another challenge). Nothing was given
    /// to the officer.
    #[error("operator-error: {what}")]
    OperatorError {
        /// What was wrong.
        what: &'static str,
    },
    /// `503 oversight-unavailable`: the oversight custodian cannot be reached. Nothing
    /// was opened.
    #[error("oversight-unavailable")]
    OversightUnavailable,
    /// `403 not-allowed`: the caller's certificate is not one this route serves.
    #[error("not-allowed")]
    NotAllowed,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed { .. } => 400,
            Self::Denied(r) => denial_status(*r),
            Self::UnknownHold => 404,
            Self::CaseloadUnavailable => 500,
            Self::OperatorError { .. } => 502,
            Self::OversightUnavailable => 503,
            Self::NotAllowed => 403,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "request-malformed",
            Self::Denied(r) => r.as_str(),
            Self::UnknownHold => "hold-unknown",
            Self::CaseloadUnavailable => "caseload-unavailable",
            Self::OperatorError { .. } => "operator-error",
            Self::OversightUnavailable => "oversight-unavailable",
            Self::NotAllowed => "not-allowed",
        }
    }

    /// The refusal a peer answered with this status and code.
    pub fn from_code(status: u16, code: &str) -> Self {
        if let Some(r) = DenialReason::ALL.into_iter().find(|r| r.as_str() == code) {
            return Self::Denied(r);
        }
        match (status, code) {
            (400, _) => Self::Malformed {
                what: "the oversight custodian found the request malformed",
            },
            (404, "hold-unknown") => Self::UnknownHold,
            (403, "not-allowed") => Self::NotAllowed,
            _ => Self::OversightUnavailable,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}})
    }
}

/// The status of a logged refusal (spec/access.md § Errors).
pub fn denial_status(r: DenialReason) -> u16 {
    match r {
        DenialReason::PurposeNotAllowed
        | DenialReason::LegalBasisNotAllowed
        | DenialReason::NotInCaseload
        | DenialReason::OversightRefused => 403,
        DenialReason::RecordUnknown => 404,
        DenialReason::AccessNotLogged => 409,
        DenialReason::KeyDestroyed => 410,
        DenialReason::LogUnavailable => 503,
        _ => 403,
    }
}

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
    /// [`Refusal::Malformed`] if not base64.
    pub fn entry_bytes(&self) -> Result<Vec<u8>, Refusal> {
        B64.decode(self.entry.as_bytes())
            .map_err(|_| Refusal::Malformed {
                what: "an entry is not base64",
            })
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

/// The agency custodian's request to re-wrap the outer layers of a hold's records.
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

/// Where a custodian's entry landed in the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogRef {
    /// The entry type.
    pub entry: String,
    /// The custodian that logged it, when the entry names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custodian: Option<String>,
    /// The epoch, when the entry names one.
    #[serde(skip_serializing_if = "Option::is_none")]
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
