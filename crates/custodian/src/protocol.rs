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
//! of spec/access.md § Errors. The messages and the refusals' codes are the wire
//! contract's ([`minimis_wire::custodian`]); [`Refusal`] is the custodian's own, with the
//! detail it logs, and names its [`CustodianRefusal`].

use minimis_log::DenialReason;
use minimis_wire::CustodianRefusal;

pub use minimis_wire::custodian::{
    AboutResponse, AccessRequest, HoldRequest, HoldRewrapResponse, InnerFile, InnerHeader, LogRef,
    LoggedEntry, NotBase64, OuterRequest, OuterResponse, PlaceHoldRequest, PlaceHoldResponse,
    ReleaseHoldResponse,
};

/// Why a custodian refused a request, or could not serve it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `400 request_malformed`: a field is missing, unknown or badly formed. Not logged.
    #[error("request_malformed: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// A refusal under the policy, logged with this reason (**ACC-6**).
    #[error("{}", CustodianRefusal::from_denial(*.0))]
    Denied(DenialReason),
    /// `404 hold_unknown`: no such legal hold here.
    #[error("hold_unknown")]
    UnknownHold,
    /// `500 caseload_unavailable`: the caseload file cannot be read. Nothing was opened.
    #[error("caseload_unavailable")]
    CaseloadUnavailable,
    /// `502 operator_error`: the operator's answer contradicts itself (a record whose
    /// bytes do not hash to its id, a payload for another challenge). Nothing was given
    /// to the officer.
    #[error("operator_error: {what}")]
    OperatorError {
        /// What was wrong.
        what: &'static str,
    },
    /// `503 oversight_unavailable`: the oversight custodian cannot be reached. Nothing
    /// was opened.
    #[error("oversight_unavailable")]
    OversightUnavailable,
    /// `403 not_allowed`: the caller's certificate is not one this route serves.
    #[error("not_allowed")]
    NotAllowed,
}

impl Refusal {
    /// The refusal of the custodians' API this is: its status and code.
    pub fn refusal(&self) -> CustodianRefusal {
        match self {
            Self::Malformed { .. } => CustodianRefusal::Malformed,
            Self::Denied(r) => CustodianRefusal::from_denial(*r),
            Self::UnknownHold => CustodianRefusal::HoldUnknown,
            Self::CaseloadUnavailable => CustodianRefusal::CaseloadUnavailable,
            Self::OperatorError { .. } => CustodianRefusal::OperatorError,
            Self::OversightUnavailable => CustodianRefusal::OversightUnavailable,
            Self::NotAllowed => CustodianRefusal::NotAllowed,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.refusal().status()
    }

    /// The machine-readable code (snake_case, **SVC-41**).
    pub fn code(&self) -> &'static str {
        self.refusal().code()
    }

    /// The refusal the other custodian answered with, as this custodian passes it on:
    /// a logged denial as that denial, a malformed request or a certificate it does not
    /// serve as such, and anything else as the oversight custodian being unavailable.
    pub fn from_peer(r: CustodianRefusal) -> Self {
        if let Some(d) = r.denial() {
            return Self::Denied(d);
        }
        match r {
            CustodianRefusal::Malformed => Self::Malformed {
                what: "the oversight custodian found the request malformed",
            },
            CustodianRefusal::HoldUnknown => Self::UnknownHold,
            CustodianRefusal::NotAllowed => Self::NotAllowed,
            _ => Self::OversightUnavailable,
        }
    }
}

impl From<NotBase64> for Refusal {
    fn from(_: NotBase64) -> Self {
        Self::Malformed {
            what: "an entry is not base64",
        }
    }
}
