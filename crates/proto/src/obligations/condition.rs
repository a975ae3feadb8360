//! The condition result (**OBL-3**): whether each ordered condition was met for one
//! check-in, and nothing more.
//!
//! ```text
//! offset  size  field
//!      0     1  version        0x01
//!      1    16  challenge_id
//!     17     1  area           0 not ordered, 1 met, 2 not met, 3 not checked
//!     18     1  presence       0 not ordered, 1 met, 2 not met, 3 not checked
//!     19    45  padding        zero bytes
//! ```

use zeroize::Zeroizing;

use crate::ids::ChallengeId;
use crate::payload::{CheckInPayload, PresenceResult, ZoneResult};

/// The fixed size of an encoded condition result.
pub const CONDITION_LEN: usize = 64;
/// The version this crate writes and reads.
pub const CONDITION_VERSION: u8 = 1;
const HEADER_LEN: usize = 19;

/// What the agency learns of one condition. Never coordinates, never a time, never the
/// note: four values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionOutcome {
    /// The order sets no such condition.
    NotOrdered,
    /// The condition was met.
    Met,
    /// The condition was not met: outside the area, or presence not confirmed.
    NotMet,
    /// The condition could not be checked: no location, or the presence check could not
    /// run.
    NotChecked,
}

impl ConditionOutcome {
    /// The byte in the encoding.
    pub const fn code(self) -> u8 {
        match self {
            Self::NotOrdered => 0,
            Self::Met => 1,
            Self::NotMet => 2,
            Self::NotChecked => 3,
        }
    }

    /// The outcome a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::NotOrdered,
            1 => Self::Met,
            2 => Self::NotMet,
            3 => Self::NotChecked,
            _ => return None,
        })
    }

    /// Whether this outcome must open a review (**OBL-6**): not met, or not checked.
    pub const fn needs_review(self) -> bool {
        matches!(self, Self::NotMet | Self::NotChecked)
    }

    /// All four, in code order.
    pub const ALL: [Self; 4] = [Self::NotOrdered, Self::Met, Self::NotMet, Self::NotChecked];
}

impl From<ZoneResult> for ConditionOutcome {
    /// `inside` → met, `outside` → not met, `unavailable` → not checked, `not-required` →
    /// not ordered (**OBL-3**).
    fn from(zone: ZoneResult) -> Self {
        match zone {
            ZoneResult::Inside => Self::Met,
            ZoneResult::Outside => Self::NotMet,
            ZoneResult::Unavailable => Self::NotChecked,
            ZoneResult::NotRequired => Self::NotOrdered,
        }
    }
}

impl From<PresenceResult> for ConditionOutcome {
    /// `confirmed` → met, `not-confirmed` → not met, `unavailable` → not checked,
    /// `not-required` → not ordered (**OBL-3**).
    fn from(presence: PresenceResult) -> Self {
        match presence {
            PresenceResult::Confirmed => Self::Met,
            PresenceResult::NotConfirmed => Self::NotMet,
            PresenceResult::Unavailable => Self::NotChecked,
            PresenceResult::NotRequired => Self::NotOrdered,
        }
    }
}

/// One check-in's condition result (**OBL-3**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConditionResult {
    /// The challenge answered.
    pub challenge_id: ChallengeId,
    /// The area condition.
    pub area: ConditionOutcome,
    /// The presence condition.
    pub presence: ConditionOutcome,
}

/// Why bytes are not a condition result. Each case has its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionDecodeError {
    /// Not exactly [`CONDITION_LEN`] bytes.
    #[error("a condition result must be exactly {CONDITION_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// A version this crate does not read.
    #[error("condition result version {0} is not supported")]
    UnsupportedVersion(u8),
    /// An area or presence byte above 3.
    #[error("unknown condition outcome {value} at offset {offset}")]
    UnknownOutcome {
        /// Where.
        offset: usize,
        /// The byte.
        value: u8,
    },
    /// A padding byte that is not zero.
    #[error("padding byte at offset {0} is not zero")]
    NonZeroPadding(usize),
}

impl ConditionDecodeError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WrongLength(_) => "wrong_length",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnknownOutcome { .. } => "unknown_outcome",
            Self::NonZeroPadding(_) => "non_zero_padding",
        }
    }
}

impl ConditionResult {
    /// The condition result of a check-in payload: derived from its zone and presence
    /// results and from nothing else (**OBL-3**).
    pub fn of_payload(payload: &CheckInPayload) -> Self {
        Self {
            challenge_id: payload.challenge_id,
            area: payload.zone.into(),
            presence: payload.presence.into(),
        }
    }

    /// Whether the check-in must be reviewed (**OBL-6**).
    pub const fn needs_review(&self) -> bool {
        self.area.needs_review() || self.presence.needs_review()
    }

    /// The one encoding, in a buffer that zeroizes on drop.
    pub fn encode(&self) -> Zeroizing<[u8; CONDITION_LEN]> {
        let mut out = Zeroizing::new([0u8; CONDITION_LEN]);
        out[0] = CONDITION_VERSION;
        out[1..17].copy_from_slice(self.challenge_id.as_bytes());
        out[17] = self.area.code();
        out[18] = self.presence.code();
        out
    }

    /// Decodes exactly [`CONDITION_LEN`] bytes.
    ///
    /// # Errors
    /// [`ConditionDecodeError`], the first rule broken in offset order.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConditionDecodeError> {
        if bytes.len() != CONDITION_LEN {
            return Err(ConditionDecodeError::WrongLength(bytes.len()));
        }
        if bytes[0] != CONDITION_VERSION {
            return Err(ConditionDecodeError::UnsupportedVersion(bytes[0]));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[1..17]);
        let outcome = |offset: usize| {
            ConditionOutcome::from_code(bytes[offset]).ok_or(ConditionDecodeError::UnknownOutcome {
                offset,
                value: bytes[offset],
            })
        };
        let area = outcome(17)?;
        let presence = outcome(18)?;
        if let Some(i) = bytes[HEADER_LEN..].iter().position(|&b| b != 0) {
            return Err(ConditionDecodeError::NonZeroPadding(HEADER_LEN + i));
        }
        Ok(Self {
            challenge_id: ChallengeId::from_bytes(id),
            area,
            presence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Note;
    use crate::wire::UnixTime;
    use proptest::prelude::*;

    fn sample() -> ConditionResult {
        ConditionResult {
            challenge_id: ChallengeId::from_bytes(*b"Minimis-challeng"),
            area: ConditionOutcome::NotMet,
            presence: ConditionOutcome::Met,
        }
    }

    #[test]
    fn obl_3_the_spec_example_encodes_exactly() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), CONDITION_LEN);
        assert_eq!(
            hex::encode(&bytes[..19]),
            "014d696e696d69732d6368616c6c656e670201"
        );
        assert!(bytes[19..].iter().all(|&b| b == 0));
    }

    #[test]
    fn obl_3_each_decoding_error_is_distinct() {
        let good = *sample().encode();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..63].to_vec(), "wrong_length"),
            ([&good[..], &[0]].concat(), "wrong_length"),
        ];
        let mut v = good;
        v[0] = 2;
        cases.push((v.to_vec(), "unsupported_version"));
        let mut v = good;
        v[17] = 4;
        cases.push((v.to_vec(), "unknown_outcome"));
        let mut v = good;
        v[18] = 0xff;
        cases.push((v.to_vec(), "unknown_outcome"));
        let mut v = good;
        v[CONDITION_LEN - 1] = 1;
        cases.push((v.to_vec(), "non_zero_padding"));
        for (bytes, code) in cases {
            let err = ConditionResult::decode(&bytes).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        assert_eq!(ConditionResult::decode(&good).unwrap(), sample());
    }

    #[test]
    fn obl_3_outcomes_come_from_the_payload_results_only() {
        let cases = [
            (ZoneResult::Inside, ConditionOutcome::Met),
            (ZoneResult::Outside, ConditionOutcome::NotMet),
            (ZoneResult::Unavailable, ConditionOutcome::NotChecked),
            (ZoneResult::NotRequired, ConditionOutcome::NotOrdered),
        ];
        let presences = [
            (PresenceResult::Confirmed, ConditionOutcome::Met),
            (PresenceResult::NotConfirmed, ConditionOutcome::NotMet),
            (PresenceResult::Unavailable, ConditionOutcome::NotChecked),
            (PresenceResult::NotRequired, ConditionOutcome::NotOrdered),
        ];
        for (zone, area) in cases {
            for (presence, p) in presences {
                let payload = CheckInPayload {
                    challenge_id: ChallengeId::from_bytes([3; 16]),
                    zone,
                    presence,
                    device_time: UnixTime(1_795_651_200),
                    note: Note::new("a note the agency never sees", 280).unwrap(),
                };
                let r = ConditionResult::of_payload(&payload);
                assert_eq!((r.area, r.presence), (area, p));
                assert_eq!(r.challenge_id, payload.challenge_id);
                assert_eq!(
                    r.needs_review(),
                    area.needs_review() || p.needs_review(),
                    "OBL-6: not met or not checked opens a review"
                );
            }
        }
    }

    fn outcome() -> impl Strategy<Value = ConditionOutcome> {
        prop::sample::select(ConditionOutcome::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn obl_3_round_trip(id in any::<[u8; 16]>(), area in outcome(), presence in outcome()) {
            let r = ConditionResult { challenge_id: ChallengeId::from_bytes(id), area, presence };
            let enc = r.encode();
            prop_assert_eq!(ConditionResult::decode(&enc[..]).unwrap(), r);
        }

        #[test]
        fn obl_3_decode_accepts_only_the_one_encoding(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(r) = ConditionResult::decode(&bytes) {
                prop_assert_eq!(&r.encode()[..], &bytes[..]);
            }
        }

        #[test]
        fn obl_3_decode_canonical_with_valid_prefix(mut bytes in proptest::collection::vec(0u8..4, CONDITION_LEN)) {
            bytes[0] = CONDITION_VERSION;
            if let Ok(r) = ConditionResult::decode(&bytes) {
                prop_assert_eq!(&r.encode()[..], &bytes[..]);
            }
        }
    }
}
