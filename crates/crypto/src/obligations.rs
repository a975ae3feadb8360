//! Signing and verifying the obligations' messages (`spec/obligations.md`): condition
//! results, filings and inbox recipients signed by the device key, deliveries signed by
//! their sender, and the device's acknowledgement of a delivery.
//!
//! Every verification checks what costs nothing first (the sealed length) and the
//! signature second; none of them decrypts anything, so the operator can run them all.

use minimis_proto::obligations::{
    DELIVERY_LEN, DeliveryAck, SealedLengthError, SignedConditionResult, SignedFiling,
    SignedInboxRecipient, delivery_signing_input,
};
use minimis_proto::{
    ChallengeId, DeliveryId, EpochId, FilingId, Pseudonym, PublicKey, Signature,
    obligations::Addressee,
};

use crate::keys::{SigningKey, verify};

/// Why a signed condition result or filing was refused. Each has a machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealedMessageError {
    /// The sealed bytes are not the length of what they must seal, to the recipients they
    /// must have (`condition_malformed`, `filing_malformed`).
    #[error(transparent)]
    Malformed(#[from] SealedLengthError),
    /// The device signature does not verify.
    #[error("the device signature does not verify")]
    BadSignature,
}

impl SealedMessageError {
    /// The machine-readable code, as in the spec.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(e) if e.what == "filing" => "filing_malformed",
            Self::Malformed(_) => "condition_malformed",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// Signs a sealed condition result with the device key (**OBL-4**).
pub fn sign_condition(
    device: &SigningKey,
    pseudonym: Pseudonym,
    challenge_id: ChallengeId,
    ciphertext: Vec<u8>,
) -> SignedConditionResult {
    let signature = device.sign(&SignedConditionResult::signing_input_for(
        &pseudonym,
        &challenge_id,
        &ciphertext,
    ));
    SignedConditionResult {
        pseudonym,
        challenge_id,
        ciphertext,
        signature,
    }
}

/// What the operator checks of a condition result before it stores it, and what the
/// agency's case system checks before it opens one (**OBL-4**, **OBL-5**): the sealed
/// length, then the signature under the enrolled device key.
///
/// # Errors
/// [`SealedMessageError`].
pub fn verify_condition(
    message: &SignedConditionResult,
    device: &PublicKey,
) -> Result<(), SealedMessageError> {
    message.check_length()?;
    verify(device, &message.signing_input(), &message.signature)
        .map_err(|_| SealedMessageError::BadSignature)
}

/// Signs a sealed filing with the device key (**OBL-9**).
pub fn sign_filing(
    device: &SigningKey,
    pseudonym: Pseudonym,
    addressee: Addressee,
    ciphertext: Vec<u8>,
) -> SignedFiling {
    let signature = device.sign(&SignedFiling::signing_input_for(
        &pseudonym,
        addressee,
        &ciphertext,
    ));
    SignedFiling {
        pseudonym,
        addressee,
        ciphertext,
        signature,
    }
}

/// Checks a filing's sealed length and device signature (**OBL-9**), and gives its id.
///
/// # Errors
/// [`SealedMessageError`].
pub fn verify_filing(
    message: &SignedFiling,
    device: &PublicKey,
) -> Result<FilingId, SealedMessageError> {
    message.check_length()?;
    verify(device, &message.signing_input(), &message.signature)
        .map_err(|_| SealedMessageError::BadSignature)?;
    Ok(message.filing_id())
}

/// Signs the device's inbox recipient for an epoch (**OBL-11**).
pub fn sign_inbox_recipient(
    device: &SigningKey,
    pseudonym: Pseudonym,
    epoch: EpochId,
    recipient: String,
) -> SignedInboxRecipient {
    let signature = device.sign(&SignedInboxRecipient::signing_input_for(
        &pseudonym, epoch, &recipient,
    ));
    SignedInboxRecipient {
        pseudonym,
        epoch,
        recipient,
        signature,
    }
}

/// Why a delivery's, an inbox recipient's or an acknowledgement's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {what} signature does not verify")]
pub struct SignatureRefused {
    /// Which message.
    pub what: &'static str,
}

/// Checks an inbox recipient's device signature (**OBL-11**).
///
/// # Errors
/// [`SignatureRefused`].
pub fn verify_inbox_recipient(
    message: &SignedInboxRecipient,
    device: &PublicKey,
) -> Result<(), SignatureRefused> {
    verify(device, &message.signing_input(), &message.signature).map_err(|_| SignatureRefused {
        what: "inbox recipient",
    })
}

/// Signs a delivery for `pseudonym` with its sender's key (the agency's enrollment key,
/// or the oversight body's review key) (**OBL-12**).
pub fn sign_delivery(
    sender: &SigningKey,
    pseudonym: &Pseudonym,
    delivery: &[u8; DELIVERY_LEN],
) -> Signature {
    sender.sign(&delivery_signing_input(pseudonym, delivery))
}

/// Checks a delivery's sender signature (**OBL-12**).
///
/// # Errors
/// [`SignatureRefused`].
pub fn verify_delivery(
    sender: &PublicKey,
    pseudonym: &Pseudonym,
    delivery: &[u8; DELIVERY_LEN],
    signature: &Signature,
) -> Result<(), SignatureRefused> {
    verify(
        sender,
        &delivery_signing_input(pseudonym, delivery),
        signature,
    )
    .map_err(|_| SignatureRefused { what: "delivery" })
}

/// Signs the device's acknowledgement of a delivery (**OBL-12**).
pub fn sign_delivery_ack(
    device: &SigningKey,
    pseudonym: Pseudonym,
    delivery_id: DeliveryId,
) -> DeliveryAck {
    let signature = device.sign(&DeliveryAck::signing_input_for(&pseudonym, &delivery_id));
    DeliveryAck {
        pseudonym,
        delivery_id,
        signature,
    }
}

/// Checks a delivery acknowledgement's device signature (**OBL-12**).
///
/// # Errors
/// [`SignatureRefused`].
pub fn verify_delivery_ack(
    message: &DeliveryAck,
    device: &PublicKey,
) -> Result<(), SignatureRefused> {
    verify(device, &message.signing_input(), &message.signature).map_err(|_| SignatureRefused {
        what: "delivery acknowledgement",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::generate().unwrap()
    }

    #[test]
    fn obl_4_condition_result_signature_and_length_are_checked() {
        let device = key();
        let p = Pseudonym::from_bytes([1; 16]);
        let c = ChallengeId::from_bytes([2; 16]);
        let good_len = SignedConditionResult::BOUNDS.min + 40;
        let msg = sign_condition(&device, p, c, vec![7; good_len]);
        assert_eq!(verify_condition(&msg, &device.public_key()), Ok(()));
        // Another device's key.
        let err = verify_condition(&msg, &key().public_key()).unwrap_err();
        assert_eq!(err.code(), "bad_signature");
        // Re-labelled for another challenge: the signature binds the challenge id.
        let mut moved = msg.clone();
        moved.challenge_id = ChallengeId::from_bytes([3; 16]);
        assert_eq!(
            verify_condition(&moved, &device.public_key()).unwrap_err(),
            SealedMessageError::BadSignature
        );
        // Too long or too short for a sealed 64-byte result: refused before the signature.
        for len in [
            SignedConditionResult::BOUNDS.min - 1,
            SignedConditionResult::BOUNDS.max + 1,
        ] {
            let m = sign_condition(&device, p, c, vec![7; len]);
            let err = verify_condition(&m, &device.public_key()).unwrap_err();
            assert_eq!(err.code(), "condition_malformed", "{len}");
        }
    }

    #[test]
    fn obl_9_filing_signature_binds_the_addressee() {
        let device = key();
        let p = Pseudonym::from_bytes([1; 16]);
        let len = SignedFiling::bounds(Addressee::AgencyAndOversight).max;
        let msg = sign_filing(&device, p, Addressee::AgencyAndOversight, vec![1; len]);
        assert_eq!(
            verify_filing(&msg, &device.public_key()),
            Ok(msg.filing_id())
        );
        // Nobody can re-address it: the length may no longer fit (the two ranges overlap, as
        // the grease stanza varies), and the signature covers the addressee.
        let mut readdressed = msg.clone();
        readdressed.addressee = Addressee::Agency;
        assert_eq!(
            verify_filing(&readdressed, &device.public_key())
                .unwrap_err()
                .code(),
            "filing_malformed"
        );
        let one = SignedFiling::bounds(Addressee::Agency).max;
        let m = sign_filing(&device, p, Addressee::Agency, vec![1; one]);
        let mut up = m.clone();
        up.addressee = Addressee::AgencyAndOversight;
        assert_eq!(
            verify_filing(&up, &device.public_key()).unwrap_err(),
            SealedMessageError::BadSignature
        );
    }

    #[test]
    fn obl_11_obl_12_inbox_delivery_and_ack_signatures() {
        let device = key();
        let agency = key();
        let p = Pseudonym::from_bytes([1; 16]);
        let r = sign_inbox_recipient(&device, p, EpochId::new(5), "age1xyz".into());
        assert!(verify_inbox_recipient(&r, &device.public_key()).is_ok());
        let mut other_epoch = r.clone();
        other_epoch.epoch = EpochId::new(6);
        assert!(verify_inbox_recipient(&other_epoch, &device.public_key()).is_err());

        let d = [9u8; DELIVERY_LEN];
        let sig = sign_delivery(&agency, &p, &d);
        assert!(verify_delivery(&agency.public_key(), &p, &d, &sig).is_ok());
        // For another participant, or by another sender: refused.
        let q = Pseudonym::from_bytes([2; 16]);
        assert!(verify_delivery(&agency.public_key(), &q, &d, &sig).is_err());
        assert!(verify_delivery(&device.public_key(), &p, &d, &sig).is_err());

        let id = DeliveryId::from_bytes([4; 32]);
        let ack = sign_delivery_ack(&device, p, id);
        assert!(verify_delivery_ack(&ack, &device.public_key()).is_ok());
        let mut other = ack.clone();
        other.delivery_id = DeliveryId::from_bytes([5; 32]);
        assert!(verify_delivery_ack(&other, &device.public_key()).is_err());
    }
}
