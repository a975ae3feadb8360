//! Participant tags (**ENR-3**): how the public log names a participant.
//!
//! ```text
//! tag = HMAC-SHA-256(tag_key, "minimis/v1 tag\n" || pseudonym (16) || epoch (u32 BE))
//! ```
//!
//! The tag key is 32 random bytes made at enrollment and held by the participant's device
//! and by whoever enrolled them. Tags change every epoch, so the public log links no two
//! epochs of one participant, yet an auditor can still count entries per tag within an
//! epoch, and the participant can recompute their own tags to find their entries.

use std::fmt;

use minimis_proto::{EpochId, ParticipantTag, Pseudonym};
use ring::hmac;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::scrub::Scrubbed;
use crate::{RandomError, random_bytes};

/// The label that starts a tag's input.
pub const TAG_LABEL: &[u8] = b"minimis/v1 tag\n";

fn blank_key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &[0u8; 32])
}

/// A participant's tag key. Secret: zeroizes on drop, redacted `Debug`, no `Clone`,
/// `Display` or `Serialize`.
pub struct TagKey {
    bytes: Zeroizing<[u8; 32]>,
    key: Scrubbed<hmac::Key>,
}

impl TagKey {
    /// A fresh key from the system CSPRNG.
    ///
    /// # Errors
    /// [`RandomError`] if the system generator fails.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self::from_bytes(Zeroizing::new(random_bytes::<32>()?)))
    }

    /// The key with these bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, bytes.as_slice());
        Self {
            bytes,
            key: Scrubbed::new(key, blank_key),
        }
    }

    /// The raw key. Only for storing it encrypted at rest or handing it to the participant.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The tag of `pseudonym` in `epoch`.
    pub fn tag(&self, pseudonym: &Pseudonym, epoch: EpochId) -> ParticipantTag {
        let mut input = [0u8; TAG_LABEL.len() + 16 + 4];
        input[..TAG_LABEL.len()].copy_from_slice(TAG_LABEL);
        input[TAG_LABEL.len()..TAG_LABEL.len() + 16].copy_from_slice(pseudonym.as_bytes());
        input[TAG_LABEL.len() + 16..].copy_from_slice(&epoch.get().to_be_bytes());
        let t = hmac::sign(self.key.get(), &input);
        let mut out = [0u8; 32];
        out.copy_from_slice(t.as_ref());
        ParticipantTag::from_bytes(out)
    }

    /// Whether `tag` is this participant's tag in `epoch`, compared in constant time.
    pub fn is_mine(&self, pseudonym: &Pseudonym, epoch: EpochId, tag: &ParticipantTag) -> bool {
        self.tag(pseudonym, epoch)
            .as_bytes()
            .ct_eq(tag.as_bytes())
            .into()
    }
}

impl fmt::Debug for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TagKey")
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enr_3_tags_change_every_epoch_and_differ_between_people() {
        let key = TagKey::from_bytes(Zeroizing::new([1; 32]));
        let other = TagKey::from_bytes(Zeroizing::new([2; 32]));
        let p = Pseudonym::from_bytes([3; 16]);
        let a = key.tag(&p, EpochId::new(10));
        let b = key.tag(&p, EpochId::new(11));
        assert_ne!(a, b, "a new tag each epoch");
        assert_eq!(a, key.tag(&p, EpochId::new(10)), "deterministic");
        assert_ne!(a, other.tag(&p, EpochId::new(10)), "keyed");
        assert!(key.is_mine(&p, EpochId::new(10), &a));
        assert!(!key.is_mine(&p, EpochId::new(11), &a));
    }

    #[test]
    fn enr_3_tag_is_hmac_sha256_of_the_documented_input() {
        let key = TagKey::from_bytes(Zeroizing::new([0x0b; 32]));
        let p = Pseudonym::from_bytes([0xaa; 16]);
        let mut input = b"minimis/v1 tag\n".to_vec();
        input.extend_from_slice(&[0xaa; 16]);
        input.extend_from_slice(&7u32.to_be_bytes());
        let expect = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0x0b; 32]), &input);
        assert_eq!(key.tag(&p, EpochId::new(7)).as_bytes(), expect.as_ref());
    }

    #[test]
    fn enr_3_exposed_tag_key_recomputes_the_same_tags() {
        // The exposed bytes are what the participant receives: with them the participant
        // must recompute exactly the tags the operator wrote.
        let bytes = [0x0c; 32];
        let key = TagKey::from_bytes(Zeroizing::new(bytes));
        assert_eq!(key.expose_secret(), &bytes);
        let fresh = TagKey::generate().unwrap();
        let participant = TagKey::from_bytes(Zeroizing::new(*fresh.expose_secret()));
        let p = Pseudonym::from_bytes([5; 16]);
        assert_eq!(
            participant.tag(&p, EpochId::new(3)),
            fresh.tag(&p, EpochId::new(3))
        );
    }

    #[test]
    fn seal_9_tag_key_debug_is_redacted() {
        let key = TagKey::from_bytes(Zeroizing::new([0x42; 32]));
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted") && !dbg.contains("42") && !dbg.contains("66"));
    }
}
