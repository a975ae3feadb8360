//! The API's errors: each refusal is an [`OperatorRefusal`] of the wire contract, with its
//! one HTTP status and snake_case code (spec/operator.md, **CHK-16**, **SVC-41**), and
//! changes no state. This module is the one place a refusal becomes a response: every
//! refusal is `{"error": {"code", "message"}}` ([`minimis_service::refusal`], **SVC-8**),
//! the refusals of the transport included ([`OperatorRefusals`]).

use axum::response::{IntoResponse, Response};
use minimis_service::refusal::{Refusals, Transport};
pub use minimis_wire::OperatorRefusal;

/// An API error: a refusal of the operator's API and a message for people. Messages
/// never carry secrets, content or request metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What is refused: its status and code.
    pub refusal: OperatorRefusal,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(refusal: OperatorRefusal, message: impl Into<String>) -> Self {
        Self {
            refusal,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.refusal.status()
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.refusal.code()
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(OperatorRefusal::Malformed, message)
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            OperatorRefusal::StorageUnavailable,
            "the server could not store the request; nothing was recorded; retry",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        minimis_service::refusal::respond(self.status(), self.code(), &self.message)
    }
}

/// The operator's refusals for the refusals of the transport (spec/operator.md § Errors).
#[derive(Clone, Copy, Debug, Default)]
pub struct OperatorRefusals;

impl OperatorRefusals {
    /// The operator's refusal for `t`.
    pub fn refusal(t: &Transport) -> OperatorRefusal {
        match t {
            Transport::NotFound => OperatorRefusal::NotFound,
            Transport::MethodNotAllowed => OperatorRefusal::MethodNotAllowed,
            Transport::Malformed { .. } => OperatorRefusal::Malformed,
            Transport::BodyTooLarge { .. } => OperatorRefusal::BodyTooLarge,
            Transport::HeadTooLarge { .. } => OperatorRefusal::HeadTooLarge,
            Transport::UriTooLong => OperatorRefusal::UriTooLong,
            Transport::BodyTimeout => OperatorRefusal::RequestTimeout,
            Transport::Fault { status: 503 } => OperatorRefusal::ServiceUnavailable,
            _ => OperatorRefusal::InternalError,
        }
    }

    /// The operator's code for `t`.
    pub fn code(t: &Transport) -> &'static str {
        Self::refusal(t).code()
    }
}

impl Refusals for OperatorRefusals {
    fn refuse(&self, t: &Transport) -> Response {
        // One status per code: a fault answered `503` is `service_unavailable`, any other
        // `internal_error` (`500`).
        let r = Self::refusal(t);
        minimis_service::refusal::respond(r.status(), r.code(), &t.message())
    }
}
