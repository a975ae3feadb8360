//! Identifiers: one newtype each, fixed size, parsed rather than validated.
//!
//! On the wire (JSON) identifiers are lowercase hexadecimal strings of their exact
//! length, so they can stand in URL paths unescaped; variable-length binary values
//! (ciphertexts, signatures, keys) use base64 (see [`crate::wire`]). Spec: `spec/checkin.md`
//! § Identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The error returned when an identifier's text is not exactly its size in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be {expected} lowercase hexadecimal characters")]
pub struct IdParseError {
    /// Which identifier was being parsed.
    pub kind: &'static str,
    /// How many hex characters it must have.
    pub expected: usize,
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $label:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The size of this identifier in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hexadecimal, as on the wire.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = IdParseError { kind: $label, expected: 2 * $len };
                if s.len() != 2 * $len || s.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(err);
                }
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out).map_err(|_| err)?;
                Ok(Self(out))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::hex($len, $label)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

hex_id!(
    /// A participant's pseudonym: 128 random bits assigned at enrollment.
    ///
    /// The operator knows a participant only by this value; the link to a real
    /// identity stays with the enrolling agency (**ENR-1**).
    Pseudonym,
    16,
    "pseudonym"
);

hex_id!(
    /// A challenge's identifier: 128 random bits chosen by the server when it issues it.
    ChallengeId,
    16,
    "challenge id"
);

hex_id!(
    /// A stored check-in record's identifier: SHA-256 of the envelope's signing input
    /// (**CHK-12**), so the server cannot choose it and a receipt binds the exact bytes.
    RecordId,
    32,
    "record id"
);

hex_id!(
    /// SHA-256 of a policy's canonical encoding (**POL-12**); enrollments and log
    /// entries cite the policy by this value.
    PolicyHash,
    32,
    "policy hash"
);

hex_id!(
    /// A participant's tag for one epoch: HMAC-SHA-256 under the participant's tag key
    /// (**ENR-3**). The transparency log names participants only by tags, which change
    /// every epoch, so the public log links no two epochs of one person.
    ParticipantTag,
    32,
    "participant tag"
);

hex_id!(
    /// A review's identifier: 128 random bits made by the agency's case system when it
    /// opens a review (**OBL-17**). Review log entries carry it and no participant tag; the
    /// participant learns it from the decision delivered to their phone.
    ReviewId,
    16,
    "review id"
);

hex_id!(
    /// A filing's identifier: SHA-256 of the filing's signing input (**OBL-9**), so the
    /// operator cannot choose it and the receipt binds the exact bytes the participant sent.
    FilingId,
    32,
    "filing id"
);

hex_id!(
    /// A delivery's identifier: SHA-256 of its sealed bytes (**OBL-12**), computed alike by
    /// the sender, the operator and the device.
    DeliveryId,
    32,
    "delivery id"
);

/// An epoch: a fixed-length period (one week by default) that content is sealed to.
///
/// Epoch `n` covers `[ORIGIN + n·L, ORIGIN + (n+1)·L)` where `ORIGIN` is
/// 1970-01-05T00:00:00Z (a Monday) and `L` the policy's epoch length (**SEAL-6**).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EpochId(u32);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EpochId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::epoch()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EpochId {}

impl EpochId {
    /// Wraps an epoch number.
    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    /// The epoch number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The epoch before this one, if any.
    pub fn previous(self) -> Option<Self> {
        self.0.checked_sub(1).map(Self)
    }

    /// The epoch after this one, if any.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EpochId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strictness() {
        let p = Pseudonym::from_bytes([0xab; 16]);
        let s = p.to_string();
        assert_eq!(s, "ab".repeat(16));
        assert_eq!(s.parse::<Pseudonym>().unwrap(), p);
        assert!(
            "AB".repeat(16).parse::<Pseudonym>().is_err(),
            "uppercase is refused"
        );
        assert!(
            "ab".repeat(15).parse::<Pseudonym>().is_err(),
            "short is refused"
        );
        assert!(
            "zz".repeat(16).parse::<Pseudonym>().is_err(),
            "non-hex is refused"
        );
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<Pseudonym>(&json).unwrap(), p);
    }

    proptest::proptest! {
        #[test]
        fn ids_hex_round_trip(bytes in proptest::prelude::any::<[u8; 32]>()) {
            let id = RecordId::from_bytes(bytes);
            proptest::prop_assert_eq!(id.to_string().parse::<RecordId>().unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<RecordId>(&json).unwrap(), id);
        }
    }

    #[test]
    fn epoch_neighbours() {
        assert_eq!(EpochId::new(0).previous(), None);
        assert_eq!(EpochId::new(5).previous(), Some(EpochId::new(4)));
        assert_eq!(EpochId::new(u32::MAX).next(), None);
    }
}
