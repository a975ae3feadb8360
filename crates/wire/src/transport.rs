//! How a client reaches a service: a [`Transport`] sends one [`Request`] and returns its
//! [`Response`] or a typed [`TransportError`]. [`crate::https::HttpsClient`] is the
//! workspace's one implementation over the network (feature `https`); a mobile app can
//! implement it on its platform's HTTP stack, and tests implement it in process.

use std::future::Future;
use std::time::Duration;

/// An HTTP request, as a typed client builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Headers the protocol defines (`authorization`, `content-type`); nothing else.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `POST` of a JSON `body` to `path` (an empty body has no content type).
    pub fn post(path: impl Into<String>, body: Vec<u8>) -> Self {
        let headers = if body.is_empty() {
            Vec::new()
        } else {
            vec![("content-type", "application/json".to_owned())]
        };
        Self {
            method: "POST",
            path: path.into(),
            headers,
            body,
        }
    }
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Why no whole answer came: nothing was delivered, or the answer was lost or refused
/// for its size or its time (**SVC-42**). Each bound has its own variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection failed.
    #[error("the connection failed")]
    Connect,
    /// The server's certificate does not verify against the roots the client trusts.
    #[error("the server's certificate does not verify against the trusted roots")]
    Certificate,
    /// The TLS handshake failed otherwise (for example, no TLS 1.3).
    #[error("the TLS handshake failed")]
    Tls,
    /// The HTTP exchange failed (the connection closed, an answer that is not HTTP/1.1).
    #[error("the HTTP exchange failed")]
    Http,
    /// The connection (TCP, TLS and HTTP handshakes) took longer than its bound.
    #[error("the connection timed out")]
    ConnectTimeout,
    /// The answer stalled: no part of it came within the read bound.
    #[error("the answer stalled (read timeout)")]
    ReadTimeout,
    /// The whole exchange took longer than its bound.
    #[error("the exchange timed out")]
    Timeout,
    /// The answer's body is larger than the bound (bytes); refused from a declared length
    /// before any of the body is read.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// The bounds on one exchange (**SVC-42**, **RET-41**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// TCP connect, TLS handshake and HTTP handshake together.
    pub connect: Duration,
    /// The longest wait for the answer's head, or for each next part of its body.
    pub read: Duration,
    /// The whole exchange, connection included.
    pub total: Duration,
    /// The largest body, in bytes.
    pub max_body: usize,
}

impl Limits {
    /// 10 s to connect, 15 s per read, 30 s in all, 8 MiB of body: the custodians'
    /// bounds (the largest legitimate answer to a custodian, 1,024 inner layers of an
    /// access, is under 2 MiB).
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(10),
        read: Duration::from_secs(15),
        total: Duration::from_secs(30),
        max_body: 8 << 20,
    };

    /// As [`Limits::DEFAULT`], with 32 MiB of body and 120 s in all: for a device or an
    /// auditor reading the log (a full C2SP tlog-tiles entry bundle of 256 of the
    /// largest entries is 16 MiB).
    pub const LOG_READER: Self = Self {
        connect: Duration::from_secs(10),
        read: Duration::from_secs(15),
        total: Duration::from_secs(120),
        max_body: 32 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Sends requests to a service.
pub trait Transport {
    /// Sends one request and returns the response.
    fn send(&self, req: Request) -> impl Future<Output = Result<Response, TransportError>> + Send;
}
