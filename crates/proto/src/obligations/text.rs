//! The texts inside filings and deliveries, and the policy's reason ids.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Free text in a filing or a delivery (a new address, an employer, a decision's
/// explanation): personal content, so it zeroizes on drop and its `Debug` shows only its
/// length. It has no `Serialize`: it travels only inside a sealed encoding.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Text(String);

impl Text {
    /// Wraps a text. Its length is checked by the encoding that carries it.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes of UTF-8.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text(<{} bytes>)", self.0.len())
    }
}

/// The longest reason id, in bytes: the policy's identifier rule (POL-11).
pub const REASON_ID_MAX: usize = 32;

/// A reason a review may be decided with: one of the policy's `obligations.reasons` ids
/// (**OBL-14**): 1 to 32 characters of `a-z`, `0-9` and `-`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReasonId(String);

/// A reason id that is not 1 to 32 characters of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reason id must be 1 to 32 characters of a-z, 0-9 and -")]
pub struct ReasonIdError;

impl ReasonId {
    /// Parses a reason id.
    ///
    /// # Errors
    /// [`ReasonIdError`].
    pub fn new(id: &str) -> Result<Self, ReasonIdError> {
        let valid = (1..=REASON_ID_MAX).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(ReasonIdError)
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReasonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ReasonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReasonId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obl_14_reason_ids_follow_the_policy_identifier_rule() {
        assert!(ReasonId::new("explained-by-notice").is_ok());
        assert!(ReasonId::new(&"a".repeat(32)).is_ok());
        for bad in ["", "Capital", "with space", "é", &"a".repeat(33)] {
            assert_eq!(ReasonId::new(bad), Err(ReasonIdError), "{bad:?}");
        }
    }

    #[test]
    fn obl_8_text_debug_hides_content() {
        let t = Text::new("12 Elm Street");
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("Elm"), "{dbg}");
        assert!(dbg.contains("13 bytes"), "{dbg}");
    }
}
