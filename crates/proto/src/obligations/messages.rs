//! The signed messages that carry condition results, filings and deliveries, each with the
//! one byte string that is signed.
//!
//! Sealed bytes are standard age v1 files; their length depends only on the fixed size of
//! what they seal, the number of X25519 recipients and the age crate's one random "grease"
//! stanza ([`sealed_bounds`]), so the operator can refuse a malformed one by its length
//! without being able to read it.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::condition::CONDITION_LEN;
use super::delivery::{DELIVERY_LEN, SIGNED_DELIVERY_LEN};
use super::filing::{Addressee, FILING_LEN};
use crate::ids::{ChallengeId, DeliveryId, EpochId, FilingId, Pseudonym};
use crate::messages::CiphertextBounds;
use crate::wire::{Signature, base64_bytes};

/// The label of a condition result's signing input (**OBL-4**).
pub const CONDITION_LABEL: &[u8] = b"minimis/v1 condition\n";
/// The label of a filing's signing input (**OBL-9**).
pub const FILING_LABEL: &[u8] = b"minimis/v1 filing\n";
/// The label of an inbox recipient's signing input (**OBL-11**).
pub const INBOX_LABEL: &[u8] = b"minimis/v1 inbox\n";
/// The label of a delivery's signing input, by its sender (**OBL-12**).
pub const DELIVERY_LABEL: &[u8] = b"minimis/v1 delivery\n";
/// The label of a device's acknowledgement of a delivery (**OBL-12**).
pub const DELIVERED_LABEL: &[u8] = b"minimis/v1 delivered\n";

/// The lengths an age v1 file sealing `plaintext_len` bytes (under 64 KiB, one STREAM
/// chunk) to `recipients` X25519 recipients can have: the fixed parts alone (no grease
/// stanza, as Go `age` writes), or plus the one grease stanza the age crate adds to every
/// file it writes (13 to 190 bytes) (**SEAL-20**).
pub const fn sealed_bounds(plaintext_len: usize, recipients: usize) -> CiphertextBounds {
    CiphertextBounds::for_files(plaintext_len, 1, recipients)
}

/// Sealed bytes of the wrong length for what they must seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed {what} is {len} bytes; it must be {bare} or {min} to {max}")]
pub struct SealedLengthError {
    /// Which message.
    pub what: &'static str,
    /// Its length.
    pub len: usize,
    /// The length with no grease stanza.
    pub bare: usize,
    /// The shortest allowed with a grease stanza.
    pub min: usize,
    /// The longest allowed.
    pub max: usize,
}

fn check_len(
    what: &'static str,
    len: usize,
    bounds: CiphertextBounds,
) -> Result<(), SealedLengthError> {
    if bounds.contains(len) {
        Ok(())
    } else {
        Err(SealedLengthError {
            what,
            len,
            bare: bounds.bare,
            min: bounds.min,
            max: bounds.max,
        })
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A condition result as the device sends it with its check-in (**OBL-4**): the 64 bytes
/// sealed to the enrollment's case recipient, signed with the device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedConditionResult {
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The challenge it answers (the same as the check-in's).
    pub challenge_id: ChallengeId,
    /// The sealed condition result.
    #[serde(with = "base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
    /// Ed25519 by the device key over [`SignedConditionResult::signing_input`].
    pub signature: Signature,
}

impl SignedConditionResult {
    /// The length of a 64-byte condition result sealed to one recipient.
    pub const BOUNDS: CiphertextBounds = sealed_bounds(CONDITION_LEN, 1);

    /// The bytes the device signs (**OBL-4**):
    ///
    /// ```text
    /// "minimis/v1 condition\n" || pseudonym (16) || challenge_id (16)
    ///     || len(ciphertext) (u32 BE) || ciphertext
    /// ```
    pub fn signing_input_for(
        pseudonym: &Pseudonym,
        challenge_id: &ChallengeId,
        ciphertext: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(CONDITION_LABEL.len() + 36 + ciphertext.len());
        out.extend_from_slice(CONDITION_LABEL);
        out.extend_from_slice(pseudonym.as_bytes());
        out.extend_from_slice(challenge_id.as_bytes());
        put_len(&mut out, ciphertext.len());
        out.extend_from_slice(ciphertext);
        out
    }

    /// This message's signing input.
    pub fn signing_input(&self) -> Vec<u8> {
        Self::signing_input_for(&self.pseudonym, &self.challenge_id, &self.ciphertext)
    }

    /// Whether the ciphertext has the length of a condition result sealed to one recipient
    /// (`condition_malformed` otherwise).
    ///
    /// # Errors
    /// [`SealedLengthError`].
    pub fn check_length(&self) -> Result<(), SealedLengthError> {
        check_len("condition result", self.ciphertext.len(), Self::BOUNDS)
    }
}

/// A filing as the device sends it (**OBL-9**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedFiling {
    /// Whose.
    pub pseudonym: Pseudonym,
    /// Who it is sealed to: the one thing about it the operator learns.
    pub addressee: Addressee,
    /// The sealed 1,024-byte filing.
    #[serde(with = "base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
    /// Ed25519 by the device key over [`SignedFiling::signing_input`].
    pub signature: Signature,
}

impl SignedFiling {
    /// The length of a filing sealed to `addressee`.
    pub const fn bounds(addressee: Addressee) -> CiphertextBounds {
        sealed_bounds(FILING_LEN, addressee.recipients())
    }

    /// The bytes the device signs (**OBL-9**):
    ///
    /// ```text
    /// "minimis/v1 filing\n" || pseudonym (16) || addressee (u8: 1 agency, 2 agency and
    ///     oversight) || len(ciphertext) (u32 BE) || ciphertext
    /// ```
    pub fn signing_input_for(
        pseudonym: &Pseudonym,
        addressee: Addressee,
        ciphertext: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILING_LABEL.len() + 21 + ciphertext.len());
        out.extend_from_slice(FILING_LABEL);
        out.extend_from_slice(pseudonym.as_bytes());
        out.push(addressee.code());
        put_len(&mut out, ciphertext.len());
        out.extend_from_slice(ciphertext);
        out
    }

    /// This message's signing input.
    pub fn signing_input(&self) -> Vec<u8> {
        Self::signing_input_for(&self.pseudonym, self.addressee, &self.ciphertext)
    }

    /// The filing id: SHA-256 of the signing input (**OBL-9**).
    pub fn filing_id(&self) -> FilingId {
        FilingId::from_bytes(sha256(&self.signing_input()))
    }

    /// Whether the ciphertext has the length of a filing sealed to its addressee.
    ///
    /// # Errors
    /// [`SealedLengthError`].
    pub fn check_length(&self) -> Result<(), SealedLengthError> {
        check_len(
            "filing",
            self.ciphertext.len(),
            Self::bounds(self.addressee),
        )
    }
}

/// A device's inbox recipient for one epoch, signed with the device key (**OBL-11**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedInboxRecipient {
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The epoch it is for.
    pub epoch: EpochId,
    /// The age X25519 recipient, `age1…`.
    pub recipient: String,
    /// Ed25519 by the device key over [`SignedInboxRecipient::signing_input`].
    pub signature: Signature,
}

impl SignedInboxRecipient {
    /// The bytes the device signs (**OBL-11**):
    ///
    /// ```text
    /// "minimis/v1 inbox\n" || pseudonym (16) || epoch (u32 BE)
    ///     || len(recipient) (u32 BE) || recipient (ASCII)
    /// ```
    pub fn signing_input_for(pseudonym: &Pseudonym, epoch: EpochId, recipient: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(INBOX_LABEL.len() + 24 + recipient.len());
        out.extend_from_slice(INBOX_LABEL);
        out.extend_from_slice(pseudonym.as_bytes());
        out.extend_from_slice(&epoch.get().to_be_bytes());
        put_len(&mut out, recipient.len());
        out.extend_from_slice(recipient.as_bytes());
        out
    }

    /// This message's signing input.
    pub fn signing_input(&self) -> Vec<u8> {
        Self::signing_input_for(&self.pseudonym, self.epoch, &self.recipient)
    }
}

/// The bytes a delivery's sender signs (**OBL-12**), in a buffer that zeroizes on drop
/// (it holds the plaintext):
///
/// ```text
/// "minimis/v1 delivery\n" || pseudonym (16) || delivery (512)
/// ```
///
/// The pseudonym binds a delivery to its participant, so one person's decision cannot be
/// shown on another's phone.
pub fn delivery_signing_input(
    pseudonym: &Pseudonym,
    delivery: &[u8; DELIVERY_LEN],
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(DELIVERY_LABEL.len() + 16 + DELIVERY_LEN));
    out.extend_from_slice(DELIVERY_LABEL);
    out.extend_from_slice(pseudonym.as_bytes());
    out.extend_from_slice(delivery);
    out
}

/// A sealed delivery as the operator stores it until the device fetches it (**OBL-12**):
/// the delivery and its sender's signature, sealed to the participant's inbox recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedDelivery {
    /// The age file.
    #[serde(with = "base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
}

impl SealedDelivery {
    /// The length of a signed delivery sealed to one recipient.
    pub const BOUNDS: CiphertextBounds = sealed_bounds(SIGNED_DELIVERY_LEN, 1);

    /// The delivery id: SHA-256 of the sealed bytes.
    pub fn id(&self) -> DeliveryId {
        DeliveryId::from_bytes(sha256(&self.ciphertext))
    }

    /// Whether the ciphertext has the length of a sealed delivery.
    ///
    /// # Errors
    /// [`SealedLengthError`].
    pub fn check_length(&self) -> Result<(), SealedLengthError> {
        check_len("delivery", self.ciphertext.len(), Self::BOUNDS)
    }
}

/// The device's acknowledgement that it fetched and opened a delivery (**OBL-12**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeliveryAck {
    /// Whose.
    pub pseudonym: Pseudonym,
    /// Which delivery.
    pub delivery_id: DeliveryId,
    /// Ed25519 by the device key over [`DeliveryAck::signing_input`].
    pub signature: Signature,
}

impl DeliveryAck {
    /// The bytes the device signs:
    ///
    /// ```text
    /// "minimis/v1 delivered\n" || pseudonym (16) || delivery_id (32)
    /// ```
    pub fn signing_input_for(pseudonym: &Pseudonym, delivery_id: &DeliveryId) -> Vec<u8> {
        let mut out = Vec::with_capacity(DELIVERED_LABEL.len() + 48);
        out.extend_from_slice(DELIVERED_LABEL);
        out.extend_from_slice(pseudonym.as_bytes());
        out.extend_from_slice(delivery_id.as_bytes());
        out
    }

    /// This message's signing input.
    pub fn signing_input(&self) -> Vec<u8> {
        Self::signing_input_for(&self.pseudonym, &self.delivery_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::age_layout::X25519_STANZA;
    use crate::messages::{ENVELOPE_LABEL, REQUEST_LABEL};

    #[test]
    fn obl_4_obl_9_labels_are_distinct_from_every_other_label() {
        let labels = [
            CONDITION_LABEL,
            FILING_LABEL,
            INBOX_LABEL,
            DELIVERY_LABEL,
            DELIVERED_LABEL,
            ENVELOPE_LABEL,
            REQUEST_LABEL,
        ];
        for (i, a) in labels.iter().enumerate() {
            assert!(a.ends_with(b"\n"));
            for b in &labels[i + 1..] {
                assert!(!a.starts_with(b) && !b.starts_with(a), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn obl_4_condition_signing_input_is_as_specified() {
        let p = Pseudonym::from_bytes([1; 16]);
        let c = ChallengeId::from_bytes([2; 16]);
        let input = SignedConditionResult::signing_input_for(&p, &c, b"xyz");
        let mut expected = b"minimis/v1 condition\n".to_vec();
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&[2; 16]);
        expected.extend_from_slice(&3u32.to_be_bytes());
        expected.extend_from_slice(b"xyz");
        assert_eq!(input, expected);
    }

    #[test]
    fn obl_9_filing_id_binds_the_addressee_and_the_bytes() {
        let f = SignedFiling {
            pseudonym: Pseudonym::from_bytes([1; 16]),
            addressee: Addressee::Agency,
            ciphertext: vec![5; 10],
            signature: Signature([0; 64]),
        };
        let mut other = f.clone();
        other.addressee = Addressee::AgencyAndOversight;
        assert_ne!(f.filing_id(), other.filing_id());
        let mut other = f.clone();
        other.ciphertext[0] = 6;
        assert_ne!(f.filing_id(), other.filing_id());
        // The signature is not part of the id: it is over the id's input.
        let mut other = f.clone();
        other.signature = Signature([1; 64]);
        assert_eq!(f.filing_id(), other.filing_id());
    }

    #[test]
    fn obl_4_sealed_bounds_follow_the_age_layout() {
        // 64 + 22 + 98 + 48 + 16 + 16 = 264, plus 13 to 190 of grease.
        assert_eq!(
            SignedConditionResult::BOUNDS,
            CiphertextBounds {
                bare: 264,
                min: 277,
                max: 454
            }
        );
        let one = SignedFiling::bounds(Addressee::Agency);
        let two = SignedFiling::bounds(Addressee::AgencyAndOversight);
        assert_eq!(two.min - one.min, X25519_STANZA);
        assert_eq!(sealed_bounds(SIGNED_DELIVERY_LEN, 1).min, 576 + 200 + 13);
    }

    #[test]
    fn obl_12_sealed_messages_round_trip_as_json() {
        let d = SealedDelivery {
            ciphertext: vec![1, 2, 3],
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"ciphertext":"AQID"}"#);
        assert_eq!(serde_json::from_str::<SealedDelivery>(&json).unwrap(), d);
        assert!(serde_json::from_str::<SealedDelivery>(r#"{"ciphertext":"AQID","x":1}"#).is_err());
        let f = SignedFiling {
            pseudonym: Pseudonym::from_bytes([1; 16]),
            addressee: Addressee::AgencyAndOversight,
            ciphertext: vec![5; 4],
            signature: Signature([0; 64]),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert!(
            json.contains(r#""addressee":"agency-and-oversight""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SignedFiling>(&json).unwrap(), f);
    }
}
