//! Sealing on the device: check the custodians' signed recipients, then seal.

use std::io::Write as _;
use std::str::FromStr as _;

use minimis_crypto::{SigningKey, sign_envelope, verify_epoch_recipient};
use minimis_proto::messages::CiphertextLengthError;
use minimis_proto::payload::PAYLOAD_LEN;
use minimis_proto::{
    ChallengeId, CheckInPayload, CiphertextBounds, CustodianRole, Envelope, EpochId, Policy,
    Pseudonym, PublicKey, SealedCheckIn, SignedEpochRecipient, UnixTime,
};
use zeroize::Zeroizing;

/// The custodians' Ed25519 public keys, as the enrollment bundle gives them to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustodianKeys {
    /// The agency custodian's key.
    pub agency: PublicKey,
    /// The oversight custodian's key; required when the policy names one.
    pub oversight: Option<PublicKey>,
}

impl CustodianKeys {
    fn key(&self, role: CustodianRole) -> Option<PublicKey> {
        match role {
            CustodianRole::Agency => Some(self.agency),
            CustodianRole::Oversight => self.oversight,
        }
    }
}

/// Why the published recipients cannot be sealed to (**SEAL-7**). Nothing is sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecipientError {
    /// The current time is before the first epoch.
    #[error("the current time is before the first epoch")]
    NoCurrentEpoch,
    /// No published recipient for a custodian the policy names.
    #[error("no recipient published by the {0} custodian for the current epoch")]
    Missing(CustodianRole),
    /// The enrollment gives no public key for a custodian the policy names.
    #[error("the enrollment holds no key for the {0} custodian")]
    NoCustodianKey(CustodianRole),
    /// The signature does not verify under that custodian's key.
    #[error("the {0} custodian's recipient is not signed by that custodian")]
    BadSignature(CustodianRole),
    /// The recipient names a custodian id other than the policy's.
    #[error("the {0} recipient names a custodian the policy does not")]
    WrongCustodian(CustodianRole),
    /// The recipient is for another epoch.
    #[error("the {role} recipient is for epoch {found}, not the current epoch {expected}")]
    WrongEpoch {
        /// Whose.
        role: CustodianRole,
        /// The current epoch.
        expected: EpochId,
        /// The epoch it names.
        found: EpochId,
    },
    /// The recipient's `not_after` has passed.
    #[error("the {0} custodian's recipient has expired")]
    Expired(CustodianRole),
    /// Not a valid age X25519 recipient.
    #[error("the {0} custodian's recipient is not a valid age X25519 recipient")]
    InvalidRecipient(CustodianRole),
}

/// The verified recipients for the current epoch: the only way to seal.
#[derive(Clone, Debug)]
pub struct SealingKeys {
    epoch: EpochId,
    agency: age::x25519::Recipient,
    oversight: Option<age::x25519::Recipient>,
    max_note_bytes: usize,
    bounds: CiphertextBounds,
}

impl SealingKeys {
    /// Checks the custodians' published recipients for the epoch containing `now`
    /// (**SEAL-7**): one per custodian the policy names, each signed by that custodian's
    /// key from the enrollment, naming the policy's custodian id, for the current epoch,
    /// not expired, and a valid age X25519 recipient.
    ///
    /// # Errors
    /// The first [`RecipientError`] found.
    pub fn verify(
        policy: &Policy,
        now: UnixTime,
        published: &[SignedEpochRecipient],
        keys: &CustodianKeys,
    ) -> Result<Self, RecipientError> {
        let epoch = policy.epoch_at(now).ok_or(RecipientError::NoCurrentEpoch)?;
        let check = |role: CustodianRole| -> Result<age::x25519::Recipient, RecipientError> {
            let custodian = policy
                .custodian(role)
                .ok_or(RecipientError::Missing(role))?;
            let key = keys.key(role).ok_or(RecipientError::NoCustodianKey(role))?;
            let signed = published
                .iter()
                .find(|s| s.recipient.role == role && s.recipient.epoch == epoch)
                .or_else(|| published.iter().find(|s| s.recipient.role == role))
                .ok_or(RecipientError::Missing(role))?;
            let body = verify_epoch_recipient(signed, &key)
                .map_err(|_| RecipientError::BadSignature(role))?;
            if body.custodian != custodian.id {
                return Err(RecipientError::WrongCustodian(role));
            }
            if body.epoch != epoch {
                return Err(RecipientError::WrongEpoch {
                    role,
                    expected: epoch,
                    found: body.epoch,
                });
            }
            if now > body.not_after {
                return Err(RecipientError::Expired(role));
            }
            age::x25519::Recipient::from_str(&body.recipient)
                .map_err(|_| RecipientError::InvalidRecipient(role))
        };
        let agency = check(CustodianRole::Agency)?;
        let oversight = match policy.custodian(CustodianRole::Oversight) {
            Some(_) => Some(check(CustodianRole::Oversight)?),
            None => None,
        };
        let layers = 1 + usize::from(oversight.is_some());
        Ok(Self {
            epoch,
            agency,
            oversight,
            max_note_bytes: policy.max_note_bytes(),
            bounds: CiphertextBounds::for_layers(layers),
        })
    }

    /// The epoch these keys seal to.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }

    /// One layer or two.
    pub fn layers(&self) -> usize {
        1 + usize::from(self.oversight.is_some())
    }

    /// The length bound of what [`seal`] produces with these keys (**SEAL-4**).
    pub fn bounds(&self) -> CiphertextBounds {
        self.bounds
    }
}

/// Why sealing failed. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The note is longer than the policy allows.
    #[error("note is {len} bytes; the policy allows {max}")]
    NoteTooLong {
        /// Its length.
        len: usize,
        /// The policy's most.
        max: usize,
    },
    /// age refused to encrypt.
    #[error("age encryption failed")]
    Encrypt(#[source] age::EncryptError),
    /// Writing the age stream failed.
    #[error("age encryption failed")]
    Io(#[source] std::io::Error),
    /// The result is outside the documented bound; never sent (a changed age crate would
    /// show up here, not on the wire).
    #[error(transparent)]
    Length(#[from] CiphertextLengthError),
}

/// One age v1 file with one X25519 recipient around `plaintext`.
fn age_layer(
    plaintext: &[u8],
    recipient: &age::x25519::Recipient,
    out_capacity: usize,
) -> Result<Vec<u8>, SealError> {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(SealError::Encrypt)?;
    let mut out = Vec::with_capacity(out_capacity);
    let mut writer = encryptor.wrap_output(&mut out).map_err(SealError::Io)?;
    writer.write_all(plaintext).map_err(SealError::Io)?;
    writer.finish().map_err(SealError::Io)?;
    Ok(out)
}

/// Seals a payload: encode and pad to 512 bytes, then age to the agency custodian, then
/// (with two custodians) age again to the oversight custodian (**SEAL-1**, **SEAL-2**,
/// **SEAL-3**). The plaintext encoding zeroizes when dropped.
///
/// # Errors
/// [`SealError`].
pub fn seal(payload: &CheckInPayload, keys: &SealingKeys) -> Result<SealedCheckIn, SealError> {
    if payload.note.len() > keys.max_note_bytes {
        return Err(SealError::NoteTooLong {
            len: payload.note.len(),
            max: keys.max_note_bytes,
        });
    }
    let mut plain = Zeroizing::new([0u8; PAYLOAD_LEN]);
    payload.encode_into(&mut plain);
    let one = CiphertextBounds::for_layers(1);
    let inner = age_layer(plain.as_slice(), &keys.agency, one.max)?;
    let sealed = match &keys.oversight {
        Some(oversight) => age_layer(&inner, oversight, keys.bounds.max)?,
        None => inner,
    };
    Ok(SealedCheckIn::new(sealed, keys.bounds)?)
}

/// Seals a payload and signs the envelope with the device key: what the device sends.
///
/// # Errors
/// [`SealError`].
pub fn seal_envelope(
    payload: &CheckInPayload,
    keys: &SealingKeys,
    pseudonym: Pseudonym,
    device: &SigningKey,
) -> Result<Envelope, SealError> {
    let challenge: ChallengeId = payload.challenge_id;
    let sealed = seal(payload, keys)?;
    Ok(sign_envelope(
        device, pseudonym, challenge, keys.epoch, sealed,
    ))
}
