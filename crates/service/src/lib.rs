//! # minimis-service: what every listener shares
//!
//! The operator's server (`minimis-server`) and the key custodians (`minimis-custodian`)
//! are different trust domains with the same plumbing. This crate is that plumbing, once,
//! so that a limit, a timeout or a refusal shape cannot drift between them, and so that a
//! later listener gets them by using it. Spec: `spec/services.md` (SVC).
//!
//! - [`clock`]: where a service's time comes from ([`SystemClock`]; [`ManualClock`] for the
//!   demo and the tests only).
//! - [`tls`]: TLS 1.3 only, on rustls with ring, HTTP/1.1, no session resumption; PEM
//!   loading; the name and issuer of a verified client certificate.
//! - [`listener`]: the accept loop every listener runs: a connection cap, back-off when
//!   accepting fails, and the handshake, header, body and idle timeouts of [`Limits`]
//!   (**SVC-1** to **SVC-7**); request bodies bounded and buffered before any handler.
//! - [`refusal`]: every refusal is JSON, `{"error": {"code", "message"}}`, including the
//!   ones the HTTP framework would otherwise write as plain text or an empty body
//!   (**SVC-8**, **SVC-9**).
//! - [`request_log`]: the only request log is a tally per period (a UTC day by default),
//!   never a line per request or per connection (**SVC-11**, **SVC-12**).
//! - [`config`]: the `[limits]` and `[request_log]` sections of a service's configuration
//!   file, and the policy file.
//! - [`logging`] and [`shutdown_signal`]: the shared parts of a `serve` command.
//! - `dev_pki` (cargo feature `dev-pki`, off by default): self-signed development
//!   certificates made on first start, so that `minimis serve` works out of the box. It is
//!   for development, tests and the demo only; a production build can leave it out
//!   (`--no-default-features` on the service crates), and then a service without
//!   configured TLS files refuses to start (**SVC-15**).
//!
//! **Trust domain:** none of its own; it runs inside each service. **Holds:** a service's
//! TLS key while the service runs (given to it by the service). **Never holds:** anything
//! that decrypts content: it depends on neither `age` nor `minimis-seal` (**SVC-17**,
//! `tests/deps.rs`), so the operator's server can be built on it. It never sees a peer's
//! address: the accept loop drops it (**POL-20**).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod clock;
pub mod config;
#[cfg(any(test, feature = "dev-pki"))]
pub mod dev_pki;
pub mod files;
pub mod limits;
pub mod listener;
pub mod logging;
pub mod refusal;
pub mod request_log;
pub mod tls;

pub use clock::{Clock, ManualClock, SystemClock};
pub use limits::{Limits, LimitsError};
pub use listener::{Endpoint, ListenError, Serving};
pub use refusal::{Refusals, Transport};
pub use request_log::RequestLog;

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM (what
/// service managers send).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
