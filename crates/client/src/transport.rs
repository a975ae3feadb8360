//! How the device talks to the operator: the wire contract's [`Transport`] trait, so that
//! a mobile app can use its platform's HTTP stack, and [`Https`], the workspace's one
//! HTTPS client (HTTP/1.1 on TLS 1.3 only, bounded in size and time; feature `https`, on
//! by default).

pub use minimis_wire::transport::{Limits, Request, Response, Transport, TransportError};

#[cfg(feature = "https")]
pub use minimis_wire::https::{HttpsClient as Https, HttpsConfigError};
