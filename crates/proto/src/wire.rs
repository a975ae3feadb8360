//! Public binary values on the wire: signatures, public keys and times.
//!
//! Binary values are standard base64 with padding (RFC 4648 §4) in JSON. Nothing in
//! this module is secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serde helpers for `Vec<u8>` as standard base64.
pub mod base64_bytes {
    use super::*;

    /// Serializes bytes as standard base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    /// Deserializes standard base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        B64.decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

fn fixed_from_b64<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
    what: &'static str,
) -> Result<[u8; N], D::Error> {
    let bytes = base64_bytes::deserialize(d)?;
    bytes
        .try_into()
        .map_err(|_| serde::de::Error::custom(format_args!("{what} must be {N} bytes")))
}

/// An Ed25519 signature (RFC 8032), 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", B64.encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fixed_from_b64::<D, 64>(d, "a signature").map(Self)
    }
}

/// An Ed25519 public key (RFC 8032), 32 bytes: a device's, a custodian's or the log's.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64, as on the wire.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fixed_from_b64::<D, 32>(d, "a public key").map(Self)
    }
}

/// A point in time: whole seconds since 1970-01-01T00:00:00Z, ignoring leap seconds.
///
/// The model never reads a clock; whoever builds a value says where the time came from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Signature {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::base64_fixed(64, "An Ed25519 signature (RFC 8032)")
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Signature {}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PublicKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::base64_fixed(32, "An Ed25519 public key (RFC 8032)")
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PublicKey {}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for UnixTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::unix_time()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for UnixTime {}

impl UnixTime {
    /// Seconds since the Unix epoch.
    pub const fn seconds(self) -> i64 {
        self.0
    }

    /// This time plus `secs` seconds, saturating.
    pub const fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_second(self.0) {
            Ok(ts) => write!(f, "UnixTime({ts})"),
            Err(_) => write!(f, "UnixTime({})", self.0),
        }
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_second(self.0) {
            Ok(ts) => write!(f, "{ts}"),
            Err(_) => write!(f, "@{}", self.0),
        }
    }
}
