//! The check-in payload: what a participant's device says about one challenge, and the
//! only thing that is ever sealed.
//!
//! It has exactly one encoding, [`PAYLOAD_LEN`] bytes whatever its content (**CHK-1**):
//!
//! ```text
//! offset  size  field
//!      0     1  version            0x01
//!      1    16  challenge_id
//!     17     1  zone               1 inside, 2 outside, 3 unavailable, 4 not-required
//!     18     1  presence           1 confirmed, 2 not-confirmed, 3 unavailable, 4 not-required
//!     19     8  device_time        i64 big-endian, seconds since the Unix epoch
//!     27     2  note_len           u16 big-endian, at most the policy's max_note_bytes
//!     29     n  note               UTF-8
//!   29+n     …  padding            zero bytes up to 512
//! ```
//!
//! Decoding refuses a wrong length, an unknown version or tag, an over-long note, a note
//! that is not UTF-8 and any non-zero padding byte, each with its own error (**CHK-2**).
//! There is no field for coordinates, images, templates or identifiers (**LOC-1**,
//! **POL-1** to **POL-7**). Spec: `spec/checkin.md` § Payload.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ids::ChallengeId;
use crate::wire::UnixTime;

/// The fixed size of an encoded payload, in bytes.
pub const PAYLOAD_LEN: usize = 512;
/// The payload format version this crate writes and reads.
pub const PAYLOAD_VERSION: u8 = 1;
/// Bytes before the note.
pub const HEADER_LEN: usize = 29;
/// The longest note that fits: 483 bytes.
pub const NOTE_CAPACITY: usize = PAYLOAD_LEN - HEADER_LEN;

/// The outcome of the on-device zone test, the only trace of a location fix that ever
/// leaves the device (**LOC-2**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneResult {
    /// The one fix taken was inside the enrolled zone.
    Inside,
    /// The one fix taken was outside the enrolled zone.
    Outside,
    /// No fix could be taken (no signal, permission refused, timeout).
    Unavailable,
    /// No zone was ordered, so no fix was taken at all.
    NotRequired,
}

impl ZoneResult {
    /// The tag byte in the encoding.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Inside => 1,
            Self::Outside => 2,
            Self::Unavailable => 3,
            Self::NotRequired => 4,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => Self::Inside,
            2 => Self::Outside,
            3 => Self::Unavailable,
            4 => Self::NotRequired,
            _ => return None,
        })
    }
}

/// The outcome of the on-device presence check (PIN, or a platform biometric matched on
/// the device against a template that never leaves it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PresenceResult {
    /// The check passed.
    Confirmed,
    /// The check was attempted and did not pass.
    NotConfirmed,
    /// The check could not run (for example the sensor failed).
    Unavailable,
    /// The schedule asks for no presence check.
    NotRequired,
}

impl PresenceResult {
    /// The tag byte in the encoding.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Confirmed => 1,
            Self::NotConfirmed => 2,
            Self::Unavailable => 3,
            Self::NotRequired => 4,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => Self::Confirmed,
            2 => Self::NotConfirmed,
            3 => Self::Unavailable,
            4 => Self::NotRequired,
            _ => return None,
        })
    }
}

/// A participant's optional free-text note: personal content, so it zeroizes on drop and
/// its `Debug` shows only its length.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Note(String);

impl Note {
    /// A note of at most `max_bytes` bytes of UTF-8.
    ///
    /// # Errors
    /// [`NoteTooLong`] if it is longer.
    pub fn new(text: impl Into<String>, max_bytes: usize) -> Result<Self, NoteTooLong> {
        let text = text.into();
        let max = max_bytes.min(NOTE_CAPACITY);
        if text.len() > max {
            let len = text.len();
            drop(Zeroizing::new(text));
            return Err(NoteTooLong { len, max });
        }
        Ok(Self(text))
    }

    /// The empty note.
    pub fn empty() -> Self {
        Self(String::new())
    }

    /// The note's text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the note is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Note(<{} bytes>)", self.0.len())
    }
}

/// A note longer than the policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("note is {len} bytes; at most {max} are allowed")]
pub struct NoteTooLong {
    /// Its length in bytes.
    pub len: usize,
    /// The most allowed.
    pub max: usize,
}

/// A check-in's content. Plaintext: it zeroizes on drop (**SEAL-9**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckInPayload {
    /// The challenge this answers.
    pub challenge_id: ChallengeId,
    /// The zone test's outcome.
    pub zone: ZoneResult,
    /// The presence check's outcome.
    pub presence: PresenceResult,
    /// The device's clock when the check-in was made.
    pub device_time: UnixTime,
    /// The optional note.
    pub note: Note,
}

/// Why bytes are not a payload. Each case has its own variant and machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadDecodeError {
    /// Not exactly [`PAYLOAD_LEN`] bytes.
    #[error("payload must be exactly {expected} bytes, got {actual}")]
    WrongLength {
        /// [`PAYLOAD_LEN`].
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// A version this crate does not read.
    #[error("payload version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A zone tag outside 1..=4.
    #[error("unknown zone result tag {0}")]
    UnknownZoneTag(u8),
    /// A presence tag outside 1..=4.
    #[error("unknown presence result tag {0}")]
    UnknownPresenceTag(u8),
    /// A note longer than allowed.
    #[error("note is {len} bytes; at most {max} are allowed")]
    NoteTooLong {
        /// The declared length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// A note that is not UTF-8.
    #[error("note is not valid UTF-8")]
    NoteNotUtf8,
    /// A padding byte that is not zero.
    #[error("padding byte at offset {offset} is not zero")]
    NonZeroPadding {
        /// Where.
        offset: usize,
    },
}

impl PayloadDecodeError {
    /// The machine-readable code, as in the spec and the test vectors.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WrongLength { .. } => "wrong_length",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnknownZoneTag(_) => "unknown_zone_tag",
            Self::UnknownPresenceTag(_) => "unknown_presence_tag",
            Self::NoteTooLong { .. } => "note_too_long",
            Self::NoteNotUtf8 => "note_not_utf8",
            Self::NonZeroPadding { .. } => "non_zero_padding",
        }
    }
}

/// An encoded payload: exactly [`PAYLOAD_LEN`] bytes of plaintext, zeroized on drop.
pub struct EncodedPayload(Zeroizing<[u8; PAYLOAD_LEN]>);

impl EncodedPayload {
    /// The bytes.
    pub fn expose(&self) -> &[u8; PAYLOAD_LEN] {
        &self.0
    }
}

impl fmt::Debug for EncodedPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncodedPayload(<512 bytes of plaintext>)")
    }
}

impl CheckInPayload {
    /// The one encoding (**CHK-1**).
    pub fn encode(&self) -> EncodedPayload {
        let mut out = Zeroizing::new([0u8; PAYLOAD_LEN]);
        self.encode_into(&mut out);
        EncodedPayload(out)
    }

    /// Writes the encoding into `out`, which is overwritten entirely.
    pub fn encode_into(&self, out: &mut [u8; PAYLOAD_LEN]) {
        out.fill(0);
        out[0] = PAYLOAD_VERSION;
        out[1..17].copy_from_slice(self.challenge_id.as_bytes());
        out[17] = self.zone.tag();
        out[18] = self.presence.tag();
        out[19..27].copy_from_slice(&self.device_time.seconds().to_be_bytes());
        let note = self.note.expose().as_bytes();
        // A Note is never longer than NOTE_CAPACITY, which fits in a u16.
        let n = note.len().min(NOTE_CAPACITY);
        out[27..29].copy_from_slice(&(n as u16).to_be_bytes());
        out[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&note[..n]);
    }

    /// Decodes exactly [`PAYLOAD_LEN`] bytes, with notes of at most `max_note_bytes`.
    ///
    /// # Errors
    /// [`PayloadDecodeError`], the first rule broken in offset order.
    pub fn decode(bytes: &[u8], max_note_bytes: usize) -> Result<Self, PayloadDecodeError> {
        if bytes.len() != PAYLOAD_LEN {
            return Err(PayloadDecodeError::WrongLength {
                expected: PAYLOAD_LEN,
                actual: bytes.len(),
            });
        }
        if bytes[0] != PAYLOAD_VERSION {
            return Err(PayloadDecodeError::UnsupportedVersion(bytes[0]));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[1..17]);
        let zone =
            ZoneResult::from_tag(bytes[17]).ok_or(PayloadDecodeError::UnknownZoneTag(bytes[17]))?;
        let presence = PresenceResult::from_tag(bytes[18])
            .ok_or(PayloadDecodeError::UnknownPresenceTag(bytes[18]))?;
        let mut t = [0u8; 8];
        t.copy_from_slice(&bytes[19..27]);
        let note_len = usize::from(u16::from_be_bytes([bytes[27], bytes[28]]));
        let max = max_note_bytes.min(NOTE_CAPACITY);
        if note_len > max {
            return Err(PayloadDecodeError::NoteTooLong { len: note_len, max });
        }
        let note_end = HEADER_LEN + note_len;
        let note = std::str::from_utf8(&bytes[HEADER_LEN..note_end])
            .map_err(|_| PayloadDecodeError::NoteNotUtf8)?;
        if let Some(i) = bytes[note_end..].iter().position(|&b| b != 0) {
            return Err(PayloadDecodeError::NonZeroPadding {
                offset: note_end + i,
            });
        }
        Ok(Self {
            challenge_id: ChallengeId::from_bytes(id),
            zone,
            presence,
            device_time: UnixTime(i64::from_be_bytes(t)),
            note: Note(note.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(note: &str) -> CheckInPayload {
        CheckInPayload {
            challenge_id: ChallengeId::from_bytes([7; 16]),
            zone: ZoneResult::Inside,
            presence: PresenceResult::Confirmed,
            device_time: UnixTime(1_795_651_200),
            note: Note::new(note, NOTE_CAPACITY).unwrap(),
        }
    }

    #[test]
    fn chk_1_encoding_has_one_size() {
        assert_eq!(sample("").encode().expose().len(), PAYLOAD_LEN);
        let full = "x".repeat(NOTE_CAPACITY);
        assert_eq!(sample(&full).encode().expose().len(), PAYLOAD_LEN);
    }

    #[test]
    fn chk_2_each_decoding_error_is_distinct() {
        let good = *sample("hola").encode().expose();
        let max = 280;
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..511].to_vec(), "wrong_length"),
            ([&good[..], &[0]].concat(), "wrong_length"),
        ];
        let mut v = good;
        v[0] = 2;
        cases.push((v.to_vec(), "unsupported_version"));
        let mut v = good;
        v[17] = 0;
        cases.push((v.to_vec(), "unknown_zone_tag"));
        let mut v = good;
        v[18] = 5;
        cases.push((v.to_vec(), "unknown_presence_tag"));
        let mut v = good;
        v[27..29].copy_from_slice(&281u16.to_be_bytes());
        cases.push((v.to_vec(), "note_too_long"));
        let mut v = good;
        v[HEADER_LEN] = 0xff;
        cases.push((v.to_vec(), "note_not_utf8"));
        let mut v = good;
        v[PAYLOAD_LEN - 1] = 1;
        cases.push((v.to_vec(), "non_zero_padding"));
        for (bytes, code) in cases {
            let err = CheckInPayload::decode(&bytes, max).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        assert!(CheckInPayload::decode(&good, max).is_ok());
    }

    #[test]
    fn chk_2_note_limit_comes_from_the_policy() {
        let bytes = *sample("twelve bytes").encode().expose();
        assert!(CheckInPayload::decode(&bytes, 12).is_ok());
        assert_eq!(
            CheckInPayload::decode(&bytes, 11).unwrap_err(),
            PayloadDecodeError::NoteTooLong { len: 12, max: 11 }
        );
        assert_eq!(
            Note::new("twelve bytes", 11).unwrap_err(),
            NoteTooLong { len: 12, max: 11 }
        );
    }

    #[test]
    fn seal_9_note_debug_hides_content() {
        let p = sample("my secret note");
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("14 bytes"), "{dbg}");
        assert!(!format!("{:?}", p.encode()).contains("secret"));
    }

    fn zone() -> impl Strategy<Value = ZoneResult> {
        prop_oneof![
            Just(ZoneResult::Inside),
            Just(ZoneResult::Outside),
            Just(ZoneResult::Unavailable),
            Just(ZoneResult::NotRequired)
        ]
    }

    fn presence() -> impl Strategy<Value = PresenceResult> {
        prop_oneof![
            Just(PresenceResult::Confirmed),
            Just(PresenceResult::NotConfirmed),
            Just(PresenceResult::Unavailable),
            Just(PresenceResult::NotRequired)
        ]
    }

    proptest! {
        #[test]
        fn chk_1_round_trip(
            id in any::<[u8; 16]>(),
            zone in zone(),
            presence in presence(),
            t in any::<i64>(),
            note in "\\PC{0,120}",
        ) {
            prop_assume!(note.len() <= NOTE_CAPACITY);
            let p = CheckInPayload {
                challenge_id: ChallengeId::from_bytes(id),
                zone,
                presence,
                device_time: UnixTime(t),
                note: Note::new(note, NOTE_CAPACITY).unwrap(),
            };
            let enc = p.encode();
            prop_assert_eq!(enc.expose().len(), PAYLOAD_LEN);
            let back = CheckInPayload::decode(enc.expose(), NOTE_CAPACITY).unwrap();
            prop_assert_eq!(back, p);
        }

        #[test]
        fn chk_2_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = CheckInPayload::decode(&bytes, NOTE_CAPACITY);
        }

        #[test]
        fn chk_2_decode_accepts_only_canonical_bytes(mut bytes in proptest::collection::vec(any::<u8>(), PAYLOAD_LEN)) {
            bytes[0] = PAYLOAD_VERSION;
            if let Ok(p) = CheckInPayload::decode(&bytes, NOTE_CAPACITY) {
                // Whatever decodes re-encodes to the very same bytes: one encoding only.
                let again = p.encode();
                prop_assert_eq!(&again.expose()[..], &bytes[..]);
            }
        }
    }
}
