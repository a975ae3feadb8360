//! The presence check, on the device (POL-4).
//!
//! A program may ask that the person checking in is the enrolled participant. minimis
//! answers that on the device: a [`PresenceCheck`] yields a [`PresenceResult`], and only
//! that result is sealed into the payload. The reference implementation is a PIN
//! ([`PinPresence`]). A program that uses a platform biometric implements the trait with
//! the platform's on-device matcher (a 1:1 match against a template held in the device's
//! secure hardware); no image, template or voice print ever leaves the device, and this
//! crate has no type that could carry one.

use std::fmt;
use std::num::NonZeroU32;

use minimis_proto::PresenceResult;
use ring::pbkdf2;
use zeroize::Zeroizing;

/// Something that checks, on the device, that the enrolled person is present.
pub trait PresenceCheck {
    /// Runs the check once.
    fn check(&mut self) -> PresenceResult;
}

/// No presence check was ordered.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotRequired;

impl PresenceCheck for NotRequired {
    fn check(&mut self) -> PresenceResult {
        PresenceResult::NotRequired
    }
}

/// A PIN verifier: PBKDF2-HMAC-SHA-256 (ring) with a random salt; the PIN itself is never
/// stored. Secret: zeroizes, redacted `Debug`, no `Serialize`.
pub struct PinVerifier {
    salt: [u8; 16],
    hash: Zeroizing<[u8; 32]>,
}

const PIN_ITERATIONS: u32 = 200_000;

fn iterations() -> NonZeroU32 {
    NonZeroU32::new(PIN_ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

/// A PIN that is not 4 to 12 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a PIN must be 4 to 12 decimal digits")]
pub struct BadPin;

impl PinVerifier {
    /// Makes a verifier for `pin`, chosen by the participant at enrollment.
    ///
    /// # Errors
    /// [`BadPin`]; a random-number failure is reported as [`BadPin`] too, and nothing is
    /// stored.
    pub fn new(pin: &str) -> Result<Self, BadPin> {
        if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadPin);
        }
        let salt = minimis_crypto::random_bytes::<16>().map_err(|_| BadPin)?;
        let mut hash = Zeroizing::new([0u8; 32]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(),
            &salt,
            pin.as_bytes(),
            hash.as_mut_slice(),
        );
        Ok(Self { salt, hash })
    }

    /// Restores a verifier from its stored salt and hash.
    pub fn from_parts(salt: [u8; 16], hash: Zeroizing<[u8; 32]>) -> Self {
        Self { salt, hash }
    }

    /// The stored salt and hash (for the device's encrypted store only).
    pub fn expose_parts(&self) -> ([u8; 16], &[u8; 32]) {
        (self.salt, &self.hash)
    }

    /// Whether `pin` is the PIN (constant time).
    pub fn verify(&self, pin: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(),
            &self.salt,
            pin.as_bytes(),
            self.hash.as_slice(),
        )
        .is_ok()
    }
}

impl fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinVerifier(<redacted>)")
    }
}

/// The reference presence check: the participant enters their PIN.
pub struct PinPresence<'a, F: FnMut() -> Option<Zeroizing<String>>> {
    verifier: &'a PinVerifier,
    prompt: F,
}

impl<'a, F: FnMut() -> Option<Zeroizing<String>>> PinPresence<'a, F> {
    /// A PIN check that asks `prompt` for the PIN (`None`: the participant could not
    /// enter it, for example the screen failed).
    pub fn new(verifier: &'a PinVerifier, prompt: F) -> Self {
        Self { verifier, prompt }
    }
}

impl<F: FnMut() -> Option<Zeroizing<String>>> PresenceCheck for PinPresence<'_, F> {
    fn check(&mut self) -> PresenceResult {
        match (self.prompt)() {
            None => PresenceResult::Unavailable,
            Some(pin) if self.verifier.verify(&pin) => PresenceResult::Confirmed,
            Some(_) => PresenceResult::NotConfirmed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pol_4_pin_presence_yields_only_a_result() {
        let v = PinVerifier::new("482913").unwrap();
        let mut ok = PinPresence::new(&v, || Some(Zeroizing::new("482913".to_owned())));
        assert_eq!(ok.check(), PresenceResult::Confirmed);
        let mut wrong = PinPresence::new(&v, || Some(Zeroizing::new("000000".to_owned())));
        assert_eq!(wrong.check(), PresenceResult::NotConfirmed);
        let mut none = PinPresence::new(&v, || None);
        assert_eq!(none.check(), PresenceResult::Unavailable);
        assert_eq!(NotRequired.check(), PresenceResult::NotRequired);
        assert!(!format!("{v:?}").contains("4829"));
        assert_eq!(PinVerifier::new("12a4").unwrap_err(), BadPin);
        assert_eq!(PinVerifier::new("123").unwrap_err(), BadPin);
    }
}
