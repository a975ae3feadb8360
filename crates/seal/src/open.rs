//! Opening on the custodians' side: the oversight custodian removes the outer layer, the
//! agency custodian opens the inner one (**SEAL-10**).

use std::fmt;
use std::io::Read as _;

use minimis_proto::payload::PAYLOAD_LEN;
use minimis_proto::{
    CheckInPayload, CiphertextBounds, CustodianRole, EpochId, PayloadDecodeError, SealedCheckIn,
};
use zeroize::Zeroizing;

use crate::identity::{EpochIdentity, EpochKeyring, KeyUnavailable};

/// What went wrong inside an age layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerFailure {
    /// Not an age v1 file, or a malformed header.
    Malformed,
    /// The identity given is not a recipient of this file.
    NoMatchingKey,
    /// The header MAC or the payload failed authentication: the bytes were changed.
    Tampered,
    /// The layer's plaintext is longer than any valid layer's can be.
    Oversize,
}

impl fmt::Display for LayerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "it is not a well-formed age file",
            Self::NoMatchingKey => "the key is not a recipient of it",
            Self::Tampered => "it failed authentication",
            Self::Oversize => "its plaintext is too long",
        })
    }
}

/// Why a sealed check-in could not be opened. Never panics, whatever the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A custodian's key for the epoch was destroyed: the content is erased (**RET-2**).
    #[error("epoch {epoch} is erased: the {role} key was destroyed")]
    KeyDestroyed {
        /// The epoch.
        epoch: EpochId,
        /// Whose key.
        role: CustodianRole,
    },
    /// A custodian has no key for the epoch.
    #[error("the {role} custodian holds no key for epoch {epoch}")]
    UnknownEpoch {
        /// The epoch.
        epoch: EpochId,
        /// Whose key.
        role: CustodianRole,
    },
    /// A two-layer record opened with one keyring, or the reverse.
    #[error("the record has a different number of layers than custodians given")]
    WrongLayerCount,
    /// An age layer could not be opened.
    #[error("the {role} layer cannot be opened: {failure}")]
    Layer {
        /// Whose layer.
        role: CustodianRole,
        /// What failed.
        failure: LayerFailure,
    },
    /// The plaintext is not a valid payload.
    #[error(transparent)]
    Payload(#[from] PayloadDecodeError),
}

impl From<KeyUnavailable> for OpenError {
    fn from(e: KeyUnavailable) -> Self {
        match e {
            KeyUnavailable::Destroyed { epoch, role } => Self::KeyDestroyed { epoch, role },
            KeyUnavailable::Unknown { epoch, role } => Self::UnknownEpoch { epoch, role },
        }
    }
}

/// The inner age file after the oversight custodian removed the outer layer: still
/// ciphertext, readable only by the agency custodian.
#[derive(Clone, PartialEq, Eq)]
pub struct InnerCiphertext(Vec<u8>);

impl InnerCiphertext {
    /// The bytes (an age v1 file).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for InnerCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InnerCiphertext(<{} bytes>)", self.0.len())
    }
}

fn map_age(role: CustodianRole, e: &age::DecryptError) -> OpenError {
    let failure = match e {
        age::DecryptError::NoMatchingKeys => LayerFailure::NoMatchingKey,
        age::DecryptError::InvalidMac | age::DecryptError::DecryptionFailed => {
            LayerFailure::Tampered
        }
        _ => LayerFailure::Malformed,
    };
    OpenError::Layer { role, failure }
}

/// Decrypts one age layer into a zeroizing buffer of at most `max` bytes.
fn age_open(
    ciphertext: &[u8],
    identity: &EpochIdentity,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let role = identity.role();
    // `new_buffered` parses from the slice directly (the reader form is far slower).
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| map_age(role, &e))?;
    let reader = decryptor
        .decrypt(std::iter::once(
            identity.age_identity() as &dyn age::Identity
        ))
        .map_err(|e| map_age(role, &e))?;
    let mut out = Zeroizing::new(Vec::with_capacity(max + 1));
    // Read at most one byte more than allowed, so an oversize layer is caught without
    // buffering it.
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| OpenError::Layer {
            role,
            failure: LayerFailure::Tampered,
        })?;
    if out.len() > max {
        return Err(OpenError::Layer {
            role,
            failure: LayerFailure::Oversize,
        });
    }
    Ok(out)
}

/// The oversight custodian's step: removes the outer layer.
///
/// # Errors
/// [`OpenError::Layer`] if the identity is not the record's or the bytes were changed.
pub fn remove_outer(
    sealed: &SealedCheckIn,
    oversight: &EpochIdentity,
) -> Result<InnerCiphertext, OpenError> {
    let inner = age_open(
        sealed.as_bytes(),
        oversight,
        CiphertextBounds::for_layers(1).max,
    )?;
    Ok(InnerCiphertext(inner.to_vec()))
}

/// The agency custodian's step: opens the inner layer and decodes the payload.
///
/// # Errors
/// [`OpenError::Layer`] or [`OpenError::Payload`].
pub fn open_inner(
    inner: &[u8],
    agency: &EpochIdentity,
    max_note_bytes: usize,
) -> Result<CheckInPayload, OpenError> {
    let plain = age_open(inner, agency, PAYLOAD_LEN)?;
    Ok(CheckInPayload::decode(&plain, max_note_bytes)?)
}

/// Opens a sealed check-in of `epoch` with both custodians' keyrings (one, if the policy
/// names one custodian). Checks key availability first, so a destroyed epoch is reported
/// as [`OpenError::KeyDestroyed`] without touching the ciphertext.
///
/// # Errors
/// [`OpenError`].
pub fn open(
    sealed: &SealedCheckIn,
    epoch: EpochId,
    agency: &EpochKeyring,
    oversight: Option<&EpochKeyring>,
    max_note_bytes: usize,
) -> Result<CheckInPayload, OpenError> {
    let agency_id = agency.identity(epoch)?;
    let oversight_id = oversight.map(|k| k.identity(epoch)).transpose()?;
    match oversight_id {
        Some(o) => {
            if !CiphertextBounds::for_layers(2).contains(sealed.len()) {
                return Err(OpenError::WrongLayerCount);
            }
            let inner = remove_outer(sealed, o)?;
            open_inner(inner.as_bytes(), agency_id, max_note_bytes)
        }
        None => {
            if !CiphertextBounds::for_layers(1).contains(sealed.len()) {
                return Err(OpenError::WrongLayerCount);
            }
            open_inner(sealed.as_bytes(), agency_id, max_note_bytes)
        }
    }
}
