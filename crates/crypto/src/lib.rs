//! # minimis-crypto: signatures, tags and randomness
//!
//! Ed25519 signing keys (device, custodian, operator and log keys), the participant tag
//! of **ENR-3**, envelope and message verification, and fresh random identifiers, all on
//! `ring`. Spec: `spec/checkin.md` § Signatures, `spec/enrollment.md` § Tags.
//!
//! **Trust domain:** every party. **Holds:** whichever secret key its caller gives it.
//! **Never holds:** age identities or any decryption key (those are `minimis-seal`'s), so
//! the operator's server can verify check-ins through this crate without any code path
//! that decrypts.
//!
//! Every secret type here zeroizes on drop, has a `Debug` that shows no key bytes, and
//! implements neither `Display`, `Serialize` nor `Clone` (**SEAL-9**).
//!
//! ```
//! use minimis_crypto::{SigningKey, verify};
//!
//! let device = SigningKey::generate()?;
//! let public = device.public_key();
//! let sig = device.sign(b"minimis/v1 example\n");
//! assert!(verify(&public, b"minimis/v1 example\n", &sig).is_ok());
//! assert!(verify(&public, b"minimis/v1 tampered\n", &sig).is_err());
//! // Debug never shows the secret.
//! assert!(format!("{device:?}").contains("redacted"));
//! # Ok::<(), minimis_crypto::RandomError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod envelope;
mod keys;
mod obligations;
mod scrub;
mod tag;

pub use envelope::{
    EnvelopeError, MessageError, VerifiedEnvelope, sign_case_request, sign_challenge,
    sign_custodian_request, sign_envelope, sign_epoch_recipient, sign_request, verify_case_request,
    verify_challenge, verify_custodian_request, verify_envelope, verify_epoch_recipient,
    verify_request,
};
pub use keys::{BadSignature, KeyError, SigningKey, verify};
pub use obligations::{
    SealedMessageError, SignatureRefused, sign_condition, sign_delivery, sign_delivery_ack,
    sign_filing, sign_inbox_recipient, verify_condition, verify_delivery, verify_delivery_ack,
    verify_filing, verify_inbox_recipient,
};
pub use tag::{TAG_LABEL, TagKey};

use minimis_proto::{ChallengeId, Pseudonym};
use ring::rand::{SecureRandom, SystemRandom};

/// The system's random number generator failed. Nothing can be done safely without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// Fills `N` bytes from the operating system's CSPRNG.
///
/// # Errors
/// [`RandomError`] if the system generator fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| RandomError)?;
    Ok(out)
}

/// A fresh pseudonym: 128 random bits (**ENR-1**).
///
/// # Errors
/// [`RandomError`] if the system generator fails.
pub fn random_pseudonym() -> Result<Pseudonym, RandomError> {
    random_bytes().map(Pseudonym::from_bytes)
}

/// A fresh challenge id: 128 random bits.
///
/// # Errors
/// [`RandomError`] if the system generator fails.
pub fn random_challenge_id() -> Result<ChallengeId, RandomError> {
    random_bytes().map(ChallengeId::from_bytes)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enr_1_pseudonyms_are_128_fresh_random_bits() {
        let n = 10_000;
        let all: std::collections::HashSet<Pseudonym> =
            (0..n).map(|_| random_pseudonym().unwrap()).collect();
        assert_eq!(all.len(), n, "no two pseudonyms collide");
        // Every bit position is used: a fixed or derived component would show up as a
        // position that never (or always) flips. 10,000 draws make a miss by chance
        // impossible in practice (probability 2^-10000 per position).
        let mut ones = [0u32; 128];
        for p in &all {
            for (i, bit) in ones.iter_mut().enumerate() {
                *bit += u32::from((p.as_bytes()[i / 8] >> (i % 8)) & 1);
            }
        }
        assert!(ones.iter().all(|&c| c > 0 && c < n as u32), "{ones:?}");
        // And overall they are balanced (expected 640,000 ones; 5 sigma is about 2,800).
        let total: u32 = ones.iter().sum();
        assert!((637_000..=643_000).contains(&total), "{total}");
    }

    #[test]
    fn enr_2_device_keys_are_fresh_ed25519_keys() {
        let a = SigningKey::generate().unwrap();
        let b = SigningKey::generate().unwrap();
        assert_ne!(a.public_key(), b.public_key());
        let msg = b"minimis/v1 check-in\n";
        let sig = a.sign(msg);
        assert!(verify(&a.public_key(), msg, &sig).is_ok());
        assert!(verify(&b.public_key(), msg, &sig).is_err());
        // What leaves the device is the public key; the secret shows nowhere in Debug.
        let dbg = format!("{a:?}");
        assert!(!dbg.contains(&format!("{:?}", a.expose_seed())));
        assert!(dbg.contains(&format!("{:?}", a.public_key())));
    }
}
