//! Every refusal is typed JSON (**SVC-8**).
//!
//! A refusal on the wire is `{"error": {"code": "<code>", "message": "<text>"}}` with its
//! HTTP status: the shape the operator and the custodians already used for their own
//! refusals ([`RefusalBody`]). Each interface keeps its codes in its own naming style
//! (**SVC-9**); this module has no code strings of its own. What it adds is the refusals
//! that happen before any handler, at the transport ([`Transport`]: a request head that
//! does not parse or is too large, an unknown route, a method a route does not take, a
//! body too large or too slow, a path, query or body the framework cannot parse), which
//! each interface writes through its [`Refusals`]; and a
//! layer (applied by the listener) that turns any refusal the HTTP
//! framework would write as plain text or an empty body into one of those, so that no
//! route can forget.
//!
//! [`Transport`] and [`RefusalBody`] depend on nothing but serde, so that they can move to
//! a crate of wire types with the interfaces' own refusal enums.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A refusal at the transport, before or around any handler: the same for every
/// interface, written in each interface's codes by its [`Refusals`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `404`: no such route.
    NotFound,
    /// `405`: the route does not take this method (the response keeps its `Allow`).
    MethodNotAllowed,
    /// `400`: a path parameter, the query or the body does not parse as the route
    /// expects, or the request says its body is something the route does not take.
    Malformed {
        /// What the framework found wrong.
        what: String,
    },
    /// `431`: the request head (request line and headers) is larger than a listener
    /// reads; the connection is closed.
    HeadTooLarge {
        /// The most bytes a head may have.
        limit: usize,
    },
    /// `414`: the request target is longer than the HTTP implementation takes; the
    /// connection is closed.
    UriTooLong,
    /// `413`: the body is larger than the interface takes.
    BodyTooLarge {
        /// The most bytes a body may have.
        limit: usize,
    },
    /// `408`: the body did not arrive whole within the body timeout (**SVC-3**).
    BodyTimeout,
    /// A failure status a handler returned without a body (a fault, never a refusal a
    /// client can act on); the status is kept.
    Fault {
        /// The status.
        status: u16,
    },
}

impl Transport {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Malformed { .. } => 400,
            Self::BodyTooLarge { .. } => 413,
            Self::HeadTooLarge { .. } => 431,
            Self::UriTooLong => 414,
            Self::BodyTimeout => 408,
            Self::Fault { status } => *status,
        }
    }

    /// A message for people.
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "no such route".to_owned(),
            Self::MethodNotAllowed => "this route does not take this method".to_owned(),
            Self::Malformed { what } => what.clone(),
            Self::BodyTooLarge { limit } => format!("request bodies are at most {limit} bytes"),
            Self::HeadTooLarge { limit } => {
                format!("request heads (request line and headers) are at most {limit} bytes")
            }
            Self::UriTooLong => "the request target is too long".to_owned(),
            Self::BodyTimeout => "the request body did not arrive in time".to_owned(),
            Self::Fault { .. } => "the service could not answer; nothing was done".to_owned(),
        }
    }
}

/// The JSON body of every refusal: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalBody {
    /// The refusal.
    pub error: RefusalInner,
}

/// The inside of a [`RefusalBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalInner {
    /// The machine-readable code.
    pub code: String,
    /// What went wrong, for people. Never secrets, content or request metadata.
    pub message: String,
}

/// The response for a refusal: `status`, `{"error": {"code", "message"}}`, no caching.
pub fn respond(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = RefusalBody {
        error: RefusalInner {
            code: code.to_owned(),
            message: message.to_owned(),
        },
    };
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// How an interface writes the transport's refusals, in its own codes.
pub trait Refusals: Send + Sync + 'static {
    /// The response refusing with `t`: [`respond`] with the interface's code for it.
    fn refuse(&self, t: &Transport) -> Response;
}

/// A response marked so: its body is fixed by a protocol the interface implements (for
/// example C2SP tlog-witness's `409` with a `text/x.tlog.size` body) and is left as is.
#[derive(Clone, Copy, Debug)]
pub struct Verbatim;

/// Marks `response` as [`Verbatim`].
pub fn verbatim(mut response: Response) -> Response {
    response.extensions_mut().insert(Verbatim);
    response
}

fn is_json(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The state of [`json_refusals`].
#[derive(Clone)]
pub(crate) struct JsonRefusals {
    pub(crate) refusals: Arc<dyn Refusals>,
    pub(crate) max_body: usize,
}

/// A layer (`axum::middleware::from_fn_with_state`): any failure status that is not
/// already JSON (nor [`Verbatim`]) becomes the interface's JSON refusal for it.
pub(crate) async fn json_refusals(
    State(s): State<JsonRefusals>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(&resp)
        || resp.extensions().get::<Verbatim>().is_some()
    {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let close = resp.headers().get(header::CONNECTION).cloned();
    // The framework's own text (a rejection's reason) is short; read at most 1 KiB of it.
    let text = match axum::body::to_bytes(resp.into_body(), 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let t = match status.as_u16() {
        404 => Transport::NotFound,
        405 => Transport::MethodNotAllowed,
        413 => Transport::BodyTooLarge { limit: s.max_body },
        408 => Transport::BodyTimeout,
        400 | 415 | 422 => Transport::Malformed {
            what: if text.is_empty() {
                "the request does not parse".to_owned()
            } else {
                text
            },
        },
        other => Transport::Fault { status: other },
    };
    let mut out = s.refusals.refuse(&t);
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    if let Some(c) = close {
        out.headers_mut().insert(header::CONNECTION, c);
    }
    out
}

/// Refuses with `t` and asks for the connection to be closed (the request's body was not
/// read whole, so the connection cannot carry another request).
pub(crate) fn refuse_and_close(refusals: &dyn Refusals, t: &Transport) -> Response {
    let mut r = refusals.refuse(t);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_refusals_have_their_statuses() {
        assert_eq!(Transport::NotFound.status(), 404);
        assert_eq!(Transport::MethodNotAllowed.status(), 405);
        assert_eq!(Transport::Malformed { what: "x".into() }.status(), 400);
        assert_eq!(Transport::BodyTooLarge { limit: 1 }.status(), 413);
        assert_eq!(Transport::BodyTimeout.status(), 408);
        assert_eq!(Transport::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(Transport::UriTooLong.status(), 414);
        assert_eq!(Transport::Fault { status: 503 }.status(), 503);
        assert!(
            Transport::BodyTooLarge { limit: 16 }
                .message()
                .contains("16")
        );
    }

    #[tokio::test]
    async fn a_refusal_is_the_json_shape() {
        let r = respond(409, "some_code", "why");
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(is_json(&r));
        let b = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        let body: RefusalBody = serde_json::from_slice(&b).unwrap();
        assert_eq!(body.error.code, "some_code");
        assert_eq!(body.error.message, "why");
    }
}
