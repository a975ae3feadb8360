//! Ed25519 keys: a secret [`SigningKey`] and the public [`PublicKey`] kept apart.

use std::fmt;

use minimis_proto::{PublicKey, Signature};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::scrub::Scrubbed;
use crate::{RandomError, random_bytes};

/// An Ed25519 signing key: a device's, a custodian's, the operator's or the log's.
///
/// Zeroizes its seed and scrubs `ring`'s expanded key on drop; `Debug` shows only the
/// public key; no `Clone`, `Display` or `Serialize`. The one way to read the secret is
/// [`SigningKey::expose_seed`], for storing it encrypted at rest.
pub struct SigningKey {
    seed: Zeroizing<[u8; 32]>,
    pair: Scrubbed<Ed25519KeyPair>,
    public: PublicKey,
}

/// A key that could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The system random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A seed that is not 32 bytes.
    #[error("an Ed25519 seed must be 32 bytes")]
    BadSeedLength,
}

/// A signature that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify")]
pub struct BadSignature;

fn pair_from_seed(seed: &[u8; 32]) -> Ed25519KeyPair {
    // `from_seed_unchecked` fails only for a seed that is not 32 bytes.
    match Ed25519KeyPair::from_seed_unchecked(seed) {
        Ok(pair) => pair,
        Err(_) => unreachable!("a [u8; 32] is always a valid Ed25519 seed"),
    }
}

fn blank_pair() -> Ed25519KeyPair {
    pair_from_seed(&[0u8; 32])
}

impl SigningKey {
    /// A fresh key from the system CSPRNG.
    ///
    /// # Errors
    /// [`RandomError`] if the system generator fails.
    pub fn generate() -> Result<Self, RandomError> {
        let seed = Zeroizing::new(random_bytes::<32>()?);
        Ok(Self::from_seed_array(seed))
    }

    /// The key with this RFC 8032 seed (32 bytes).
    ///
    /// # Errors
    /// [`KeyError::BadSeedLength`] for any other length.
    pub fn from_seed(seed: &[u8]) -> Result<Self, KeyError> {
        let mut s = Zeroizing::new([0u8; 32]);
        if seed.len() != 32 {
            return Err(KeyError::BadSeedLength);
        }
        s.copy_from_slice(seed);
        Ok(Self::from_seed_array(s))
    }

    fn from_seed_array(seed: Zeroizing<[u8; 32]>) -> Self {
        let pair = pair_from_seed(&seed);
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Self {
            seed,
            pair: Scrubbed::new(pair, blank_pair),
            public: PublicKey(public),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs `message` (Ed25519, RFC 8032: deterministic).
    pub fn sign(&self, message: &[u8]) -> Signature {
        let sig = self.pair.get().sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(sig.as_ref());
        Signature(out)
    }

    /// The 32-byte seed. Only for storing the key encrypted at rest; never log or send it.
    pub fn expose_seed(&self) -> &[u8; 32] {
        &self.seed
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Verifies an Ed25519 signature.
///
/// # Errors
/// [`BadSignature`] if it does not verify (including a malformed public key).
pub fn verify(key: &PublicKey, message: &[u8], signature: &Signature) -> Result<(), BadSignature> {
    UnparsedPublicKey::new(&ED25519, key.as_bytes())
        .verify(message, signature.as_bytes())
        .map_err(|_| BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_9_debug_shows_no_secret() {
        let seed = [0x5a; 32];
        let key = SigningKey::from_seed(&seed).unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted"));
        for needle in [hex(&seed), format!("{seed:?}"), "90, 90, 90".to_owned()] {
            assert!(!dbg.contains(&needle), "{dbg}");
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message).
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let key = SigningKey::from_seed(&seed).unwrap();
        assert_eq!(
            hex(key.public_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"");
        assert_eq!(
            hex(sig.as_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verify(&key.public_key(), b"", &sig).is_ok());
    }

    #[test]
    fn expose_seed_is_the_seed_the_key_was_made_from() {
        // The seed is what a key store writes (encrypted) and reads back: it must be the
        // key's own seed, so the key read back signs as the original did.
        let seed = [0x5a; 32];
        let key = SigningKey::from_seed(&seed).unwrap();
        assert_eq!(key.expose_seed(), &seed);
        let fresh = SigningKey::generate().unwrap();
        let back = SigningKey::from_seed(fresh.expose_seed()).unwrap();
        assert_eq!(back.public_key(), fresh.public_key());
        assert_eq!(back.sign(b"m"), fresh.sign(b"m"));
    }

    #[test]
    fn bad_seed_length_is_typed() {
        assert_eq!(
            SigningKey::from_seed(&[0; 31]).unwrap_err(),
            KeyError::BadSeedLength
        );
    }

    #[test]
    fn malformed_public_key_fails_verification() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"m");
        assert_eq!(
            verify(&PublicKey([0xff; 32]), b"m", &sig),
            Err(BadSignature)
        );
    }
}
