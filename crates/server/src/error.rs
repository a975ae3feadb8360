//! The API's errors: each refusal has its own HTTP status and machine-readable code, as
//! `spec/operator.md` lists them, and changes no state. Every refusal is
//! `{"error": {"code", "message"}}` ([`minimis_service::refusal`], **SVC-8**), the
//! refusals of the transport included ([`OperatorRefusals`]); the operator's codes are
//! snake_case (**SVC-9**).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minimis_service::refusal::{Refusals, Transport};

/// An API error: an HTTP status, a stable code, and a message for people. Messages never
/// carry secrets, content or request metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the server could not store the request; nothing was recorded; retry",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        minimis_service::refusal::respond(self.status.as_u16(), self.code, &self.message)
    }
}

/// The operator's codes for the refusals of the transport (spec/operator.md § Errors).
#[derive(Clone, Copy, Debug, Default)]
pub struct OperatorRefusals;

impl OperatorRefusals {
    /// The operator's code for `t`.
    pub fn code(t: &Transport) -> &'static str {
        match t {
            Transport::NotFound => "not_found",
            Transport::MethodNotAllowed => "method_not_allowed",
            Transport::Malformed { .. } => "malformed",
            Transport::BodyTooLarge { .. } => "body_too_large",
            Transport::BodyTimeout => "request_timeout",
            _ => "internal_error",
        }
    }
}

impl Refusals for OperatorRefusals {
    fn refuse(&self, t: &Transport) -> Response {
        minimis_service::refusal::respond(t.status(), Self::code(t), &t.message())
    }
}
