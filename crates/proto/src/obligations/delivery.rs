//! A delivery (**OBL-12**): a reminder, a decision or an acknowledgement from the agency
//! or the oversight body to the participant's phone, 512 bytes whatever it says.
//!
//! ```text
//! offset  size  field
//!      0     1  version      0x01
//!      1     1  kind         1 appointment reminder, 2 hearing reminder, 3 review decision,
//!                            4 oversight decision, 5 filing acknowledgement
//!      2     8  when         i64 BE: the appointment or hearing (kinds 1, 2); the day
//!                            decided (3, 4); the day acknowledged (5)
//!     10     8  contest_by   i64 BE, a day: the last day to contest (kind 3); else 0
//!     18    32  concerns     the review id and 16 zero bytes (3, 4); the filing id (5);
//!                            else zero
//!     50     1  outcome      kind 3: 1 excused, 2 not-excused, 3 no-action;
//!                            kind 4: 1 upheld, 2 overturned; else 0
//!     51     1  reason_len   1 to 32 (kinds 3, 4); else 0
//!     52    32  reason       the policy's reason id, ASCII, then zero bytes
//!     84     2  text_len     u16 BE
//!     86     n  text         UTF-8, in the participant's language
//!   86+n     …  padding      zero bytes up to 512
//! ```
//!
//! A delivery is signed by its sender over [`super::delivery_signing_input`] and the
//! 512 bytes and the 64-byte signature are sealed together ([`SIGNED_DELIVERY_LEN`]), so
//! that the operator, which relays it, cannot tell who sent it, let alone what it says.

use zeroize::Zeroizing;

use super::is_day;
use super::text::{REASON_ID_MAX, ReasonId, Text};
use crate::ids::{FilingId, ReviewId};
use crate::wire::UnixTime;

/// The fixed size of an encoded delivery.
pub const DELIVERY_LEN: usize = 512;
/// The version this crate writes and reads.
pub const DELIVERY_VERSION: u8 = 1;
/// Bytes before the text.
pub const DELIVERY_HEADER_LEN: usize = 86;
/// The longest text that fits: 426 bytes.
pub const DELIVERY_TEXT_CAPACITY: usize = DELIVERY_LEN - DELIVERY_HEADER_LEN;
/// What is sealed: the delivery and its sender's Ed25519 signature.
pub const SIGNED_DELIVERY_LEN: usize = DELIVERY_LEN + 64;

/// What a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryKind {
    /// An appointment reminder (**OBL-13**).
    AppointmentReminder,
    /// A hearing reminder (**OBL-13**).
    HearingReminder,
    /// An officer's decision of a review (**OBL-14**).
    ReviewDecision,
    /// The oversight body's decision of an appeal (**OBL-15**).
    OversightDecision,
    /// The agency's acknowledgement of a filing (**OBL-10**).
    FilingAcknowledgement,
}

impl DeliveryKind {
    /// The byte in the encoding.
    pub const fn code(self) -> u8 {
        match self {
            Self::AppointmentReminder => 1,
            Self::HearingReminder => 2,
            Self::ReviewDecision => 3,
            Self::OversightDecision => 4,
            Self::FilingAcknowledgement => 5,
        }
    }

    /// The kind a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::AppointmentReminder,
            2 => Self::HearingReminder,
            3 => Self::ReviewDecision,
            4 => Self::OversightDecision,
            5 => Self::FilingAcknowledgement,
            _ => return None,
        })
    }
}

/// An officer's decision of a review (**OBL-14**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Excused: no further step.
    Excused,
    /// Not excused.
    NotExcused,
    /// No action taken.
    NoAction,
}

impl Decision {
    /// The byte in deliveries and log entries.
    pub const fn code(self) -> u8 {
        match self {
            Self::Excused => 1,
            Self::NotExcused => 2,
            Self::NoAction => 3,
        }
    }

    /// The decision a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Excused,
            2 => Self::NotExcused,
            3 => Self::NoAction,
            _ => return None,
        })
    }
}

/// The oversight body's decision of an appeal (**OBL-15**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppealOutcome {
    /// The officer's decision stands.
    Upheld,
    /// The officer's decision is replaced.
    Overturned,
}

impl AppealOutcome {
    /// The byte in deliveries and log entries.
    pub const fn code(self) -> u8 {
        match self {
            Self::Upheld => 1,
            Self::Overturned => 2,
        }
    }

    /// The outcome a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Upheld),
            2 => Some(Self::Overturned),
            _ => None,
        }
    }
}

/// What a delivery says, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryBody {
    /// An appointment at `at`.
    AppointmentReminder {
        /// When the appointment is.
        at: UnixTime,
    },
    /// A hearing at `at`.
    HearingReminder {
        /// When the hearing is.
        at: UnixTime,
    },
    /// A review decided.
    ReviewDecision {
        /// The review.
        review: ReviewId,
        /// The day it was decided.
        decided: UnixTime,
        /// The decision.
        decision: Decision,
        /// The policy's reason.
        reason: ReasonId,
        /// The last day the participant may contest it.
        contest_by: UnixTime,
    },
    /// An appeal decided by the oversight body.
    OversightDecision {
        /// The review.
        review: ReviewId,
        /// The day it was decided.
        decided: UnixTime,
        /// Upheld or overturned.
        outcome: AppealOutcome,
        /// The reason.
        reason: ReasonId,
    },
    /// A filing acknowledged by the agency.
    FilingAcknowledgement {
        /// The filing.
        filing: FilingId,
        /// The day it was acknowledged.
        day: UnixTime,
    },
}

impl DeliveryBody {
    /// The kind.
    pub const fn kind(&self) -> DeliveryKind {
        match self {
            Self::AppointmentReminder { .. } => DeliveryKind::AppointmentReminder,
            Self::HearingReminder { .. } => DeliveryKind::HearingReminder,
            Self::ReviewDecision { .. } => DeliveryKind::ReviewDecision,
            Self::OversightDecision { .. } => DeliveryKind::OversightDecision,
            Self::FilingAcknowledgement { .. } => DeliveryKind::FilingAcknowledgement,
        }
    }
}

/// Why a delivery breaks a rule. Nothing is made or sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A decision, acknowledgement or deadline that is not a day (00:00 UTC).
    #[error("decision days, acknowledgement days and deadlines are days (00:00 UTC)")]
    NotADay,
    /// A contest deadline before the decision.
    #[error("the contest deadline is before the decision")]
    ContestBy,
    /// A text longer than fits.
    #[error("delivery text is {0} bytes; at most {DELIVERY_TEXT_CAPACITY} fit")]
    TextTooLong(usize),
}

impl DeliveryError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotADay => "not_a_day",
            Self::ContestBy => "contest_by",
            Self::TextTooLong(_) => "text_too_long",
        }
    }
}

/// Why bytes are not a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryDecodeError {
    /// Not exactly [`DELIVERY_LEN`] bytes.
    #[error("a delivery must be exactly {DELIVERY_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// A version this crate does not read.
    #[error("delivery version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A kind outside 1..=5.
    #[error("unknown delivery kind {0}")]
    UnknownKind(u8),
    /// An outcome byte this kind does not define.
    #[error("unknown outcome {0} for this kind of delivery")]
    UnknownOutcome(u8),
    /// A reason that is not a reason id, or of a length over 32.
    #[error("the reason is not a reason id")]
    BadReason,
    /// A field that this kind leaves zero is not zero.
    #[error("the field at offset {0} must be zero for this kind of delivery")]
    NonZeroField(usize),
    /// A text that is not UTF-8.
    #[error("delivery text is not valid UTF-8")]
    TextNotUtf8,
    /// A padding byte that is not zero.
    #[error("padding byte at offset {0} is not zero")]
    NonZeroPadding(usize),
    /// The fields break a delivery rule.
    #[error(transparent)]
    Invalid(#[from] DeliveryError),
}

impl DeliveryDecodeError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WrongLength(_) => "wrong_length",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnknownKind(_) => "unknown_kind",
            Self::UnknownOutcome(_) => "unknown_outcome",
            Self::BadReason => "bad_reason",
            Self::NonZeroField(_) => "non_zero_field",
            Self::TextNotUtf8 => "text_not_utf8",
            Self::NonZeroPadding(_) => "non_zero_padding",
            Self::Invalid(e) => e.code(),
        }
    }
}

/// A delivery. Its text zeroizes on drop and `Debug` shows only its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    body: DeliveryBody,
    text: Text,
}

impl Delivery {
    /// A delivery that keeps every rule.
    ///
    /// # Errors
    /// [`DeliveryError`].
    pub fn new(body: DeliveryBody, text: Text) -> Result<Self, DeliveryError> {
        match &body {
            DeliveryBody::AppointmentReminder { .. } | DeliveryBody::HearingReminder { .. } => {}
            DeliveryBody::ReviewDecision {
                decided,
                contest_by,
                ..
            } => {
                if !is_day(*decided) || !is_day(*contest_by) {
                    return Err(DeliveryError::NotADay);
                }
                if contest_by < decided {
                    return Err(DeliveryError::ContestBy);
                }
            }
            DeliveryBody::OversightDecision { decided, .. } => {
                if !is_day(*decided) {
                    return Err(DeliveryError::NotADay);
                }
            }
            DeliveryBody::FilingAcknowledgement { day, .. } => {
                if !is_day(*day) {
                    return Err(DeliveryError::NotADay);
                }
            }
        }
        if text.len() > DELIVERY_TEXT_CAPACITY {
            return Err(DeliveryError::TextTooLong(text.len()));
        }
        Ok(Self { body, text })
    }

    /// What it says.
    pub fn body(&self) -> &DeliveryBody {
        &self.body
    }

    /// The kind.
    pub fn kind(&self) -> DeliveryKind {
        self.body.kind()
    }

    /// The text, in the participant's language.
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// The one encoding, in a buffer that zeroizes on drop.
    pub fn encode(&self) -> Zeroizing<[u8; DELIVERY_LEN]> {
        let mut out = Zeroizing::new([0u8; DELIVERY_LEN]);
        out[0] = DELIVERY_VERSION;
        out[1] = self.kind().code();
        let put_reason = |out: &mut [u8; DELIVERY_LEN], reason: &ReasonId| {
            let r = reason.as_str().as_bytes();
            // A ReasonId is 1 to 32 bytes.
            let n = r.len().min(REASON_ID_MAX);
            out[51] = n as u8;
            out[52..52 + n].copy_from_slice(&r[..n]);
        };
        match &self.body {
            DeliveryBody::AppointmentReminder { at } | DeliveryBody::HearingReminder { at } => {
                out[2..10].copy_from_slice(&at.seconds().to_be_bytes());
            }
            DeliveryBody::ReviewDecision {
                review,
                decided,
                decision,
                reason,
                contest_by,
            } => {
                out[2..10].copy_from_slice(&decided.seconds().to_be_bytes());
                out[10..18].copy_from_slice(&contest_by.seconds().to_be_bytes());
                out[18..34].copy_from_slice(review.as_bytes());
                out[50] = decision.code();
                put_reason(&mut out, reason);
            }
            DeliveryBody::OversightDecision {
                review,
                decided,
                outcome,
                reason,
            } => {
                out[2..10].copy_from_slice(&decided.seconds().to_be_bytes());
                out[18..34].copy_from_slice(review.as_bytes());
                out[50] = outcome.code();
                put_reason(&mut out, reason);
            }
            DeliveryBody::FilingAcknowledgement { filing, day } => {
                out[2..10].copy_from_slice(&day.seconds().to_be_bytes());
                out[18..50].copy_from_slice(filing.as_bytes());
            }
        }
        let text = self.text.expose().as_bytes();
        // `new` and `decode` bound the text by DELIVERY_TEXT_CAPACITY.
        let n = text.len().min(DELIVERY_TEXT_CAPACITY);
        out[84..86].copy_from_slice(&(n as u16).to_be_bytes());
        out[DELIVERY_HEADER_LEN..DELIVERY_HEADER_LEN + n].copy_from_slice(&text[..n]);
        out
    }

    /// Decodes exactly [`DELIVERY_LEN`] bytes.
    ///
    /// # Errors
    /// [`DeliveryDecodeError`]: the layout's errors in offset order, then the rules'.
    pub fn decode(bytes: &[u8]) -> Result<Self, DeliveryDecodeError> {
        if bytes.len() != DELIVERY_LEN {
            return Err(DeliveryDecodeError::WrongLength(bytes.len()));
        }
        if bytes[0] != DELIVERY_VERSION {
            return Err(DeliveryDecodeError::UnsupportedVersion(bytes[0]));
        }
        let kind =
            DeliveryKind::from_code(bytes[1]).ok_or(DeliveryDecodeError::UnknownKind(bytes[1]))?;
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            UnixTime(i64::from_be_bytes(b))
        };
        let zero = |from: usize, to: usize| match bytes[from..to].iter().position(|&b| b != 0) {
            Some(i) => Err(DeliveryDecodeError::NonZeroField(from + i)),
            None => Ok(()),
        };
        let reason = || -> Result<ReasonId, DeliveryDecodeError> {
            let n = usize::from(bytes[51]);
            if n > REASON_ID_MAX {
                return Err(DeliveryDecodeError::BadReason);
            }
            let text = std::str::from_utf8(&bytes[52..52 + n])
                .map_err(|_| DeliveryDecodeError::BadReason)?;
            let id = ReasonId::new(text).map_err(|_| DeliveryDecodeError::BadReason)?;
            zero(52 + n, 84)?;
            Ok(id)
        };
        let review = || {
            let mut r = [0u8; 16];
            r.copy_from_slice(&bytes[18..34]);
            ReviewId::from_bytes(r)
        };
        let when = i64_at(2);
        let body = match kind {
            DeliveryKind::AppointmentReminder | DeliveryKind::HearingReminder => {
                zero(10, 84)?;
                if kind == DeliveryKind::AppointmentReminder {
                    DeliveryBody::AppointmentReminder { at: when }
                } else {
                    DeliveryBody::HearingReminder { at: when }
                }
            }
            DeliveryKind::ReviewDecision => {
                zero(34, 50)?;
                let decision = Decision::from_code(bytes[50])
                    .ok_or(DeliveryDecodeError::UnknownOutcome(bytes[50]))?;
                DeliveryBody::ReviewDecision {
                    review: review(),
                    decided: when,
                    decision,
                    reason: reason()?,
                    contest_by: i64_at(10),
                }
            }
            DeliveryKind::OversightDecision => {
                zero(10, 18)?;
                zero(34, 50)?;
                let outcome = AppealOutcome::from_code(bytes[50])
                    .ok_or(DeliveryDecodeError::UnknownOutcome(bytes[50]))?;
                DeliveryBody::OversightDecision {
                    review: review(),
                    decided: when,
                    outcome,
                    reason: reason()?,
                }
            }
            DeliveryKind::FilingAcknowledgement => {
                zero(10, 18)?;
                zero(50, 84)?;
                let mut f = [0u8; 32];
                f.copy_from_slice(&bytes[18..50]);
                DeliveryBody::FilingAcknowledgement {
                    filing: FilingId::from_bytes(f),
                    day: when,
                }
            }
        };
        let len = usize::from(u16::from_be_bytes([bytes[84], bytes[85]]));
        if len > DELIVERY_TEXT_CAPACITY {
            return Err(DeliveryError::TextTooLong(len).into());
        }
        let end = DELIVERY_HEADER_LEN + len;
        let text = std::str::from_utf8(&bytes[DELIVERY_HEADER_LEN..end])
            .map_err(|_| DeliveryDecodeError::TextNotUtf8)?;
        if let Some(i) = bytes[end..].iter().position(|&b| b != 0) {
            return Err(DeliveryDecodeError::NonZeroPadding(end + i));
        }
        Ok(Self::new(body, Text::new(text))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;
    const MONDAY: UnixTime = UnixTime(1_795_392_000);

    fn decision() -> Delivery {
        Delivery::new(
            DeliveryBody::ReviewDecision {
                review: ReviewId::from_bytes([7; 16]),
                decided: MONDAY,
                decision: Decision::Excused,
                reason: ReasonId::new("explained-by-notice").unwrap(),
                contest_by: UnixTime(MONDAY.0 + 30 * DAY),
            },
            Text::new("Your travel notice explains the check-in of 26 November."),
        )
        .unwrap()
    }

    #[test]
    fn obl_12_encoding_has_one_size() {
        assert_eq!(decision().encode().len(), DELIVERY_LEN);
        let full = Delivery::new(
            DeliveryBody::HearingReminder {
                at: UnixTime(MONDAY.0 + 9 * 3600),
            },
            Text::new("é".repeat(DELIVERY_TEXT_CAPACITY / 2)),
        )
        .unwrap();
        assert_eq!(full.encode().len(), DELIVERY_LEN);
        assert_eq!(Delivery::decode(&full.encode()[..]).unwrap(), full);
    }

    #[test]
    fn obl_12_rules_are_refused_when_made() {
        let reason = ReasonId::new("r").unwrap();
        let bad_day = DeliveryBody::FilingAcknowledgement {
            filing: FilingId::from_bytes([1; 32]),
            day: UnixTime(MONDAY.0 + 1),
        };
        assert_eq!(
            Delivery::new(bad_day, Text::default()).unwrap_err(),
            DeliveryError::NotADay
        );
        let early = DeliveryBody::ReviewDecision {
            review: ReviewId::from_bytes([1; 16]),
            decided: MONDAY,
            decision: Decision::NotExcused,
            reason,
            contest_by: UnixTime(MONDAY.0 - DAY),
        };
        assert_eq!(
            Delivery::new(early, Text::default()).unwrap_err(),
            DeliveryError::ContestBy
        );
        let long = DeliveryBody::AppointmentReminder { at: MONDAY };
        assert_eq!(
            Delivery::new(long, Text::new("x".repeat(427))).unwrap_err(),
            DeliveryError::TextTooLong(427)
        );
    }

    #[test]
    fn obl_12_each_decoding_error_is_distinct() {
        let good = *decision().encode();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![(good[..511].to_vec(), "wrong_length")];
        let mut v = good;
        v[0] = 0;
        cases.push((v.to_vec(), "unsupported_version"));
        let mut v = good;
        v[1] = 6;
        cases.push((v.to_vec(), "unknown_kind"));
        let mut v = good;
        v[50] = 4;
        cases.push((v.to_vec(), "unknown_outcome"));
        let mut v = good;
        v[51] = 33;
        cases.push((v.to_vec(), "bad_reason"));
        let mut v = good;
        v[52] = b'A';
        cases.push((v.to_vec(), "bad_reason"));
        let mut v = good;
        v[40] = 1;
        cases.push((v.to_vec(), "non_zero_field"));
        let mut v = good;
        v[83] = 1;
        cases.push((v.to_vec(), "non_zero_field"));
        let mut v = good;
        v[9] = 1;
        cases.push((v.to_vec(), "not_a_day"));
        let mut v = good;
        v[84..86].copy_from_slice(&427u16.to_be_bytes());
        cases.push((v.to_vec(), "text_too_long"));
        let mut v = good;
        v[DELIVERY_HEADER_LEN] = 0xff;
        cases.push((v.to_vec(), "text_not_utf8"));
        let mut v = good;
        v[DELIVERY_LEN - 1] = 1;
        cases.push((v.to_vec(), "non_zero_padding"));
        // A reminder's unused fields must be zero.
        let reminder = *Delivery::new(
            DeliveryBody::AppointmentReminder { at: MONDAY },
            Text::default(),
        )
        .unwrap()
        .encode();
        let mut v = reminder;
        v[50] = 1;
        cases.push((v.to_vec(), "non_zero_field"));
        for (bytes, code) in cases {
            let err = Delivery::decode(&bytes).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        assert_eq!(Delivery::decode(&good).unwrap(), decision());
    }

    fn body() -> impl Strategy<Value = DeliveryBody> {
        let day = (-10_000i64..40_000).prop_map(|d| UnixTime(d * DAY));
        let reason = "[a-z0-9-]{1,32}".prop_map(|s| ReasonId::new(&s).unwrap());
        let review = any::<[u8; 16]>().prop_map(ReviewId::from_bytes);
        prop_oneof![
            any::<i64>().prop_map(|t| DeliveryBody::AppointmentReminder { at: UnixTime(t) }),
            any::<i64>().prop_map(|t| DeliveryBody::HearingReminder { at: UnixTime(t) }),
            (
                review.clone(),
                day.clone(),
                0i64..90,
                prop::sample::select(vec![
                    Decision::Excused,
                    Decision::NotExcused,
                    Decision::NoAction
                ]),
                reason.clone()
            )
                .prop_map(|(review, decided, extra, decision, reason)| {
                    DeliveryBody::ReviewDecision {
                        review,
                        decided,
                        decision,
                        reason,
                        contest_by: UnixTime(decided.0 + extra * DAY),
                    }
                }),
            (
                review,
                day.clone(),
                prop::sample::select(vec![AppealOutcome::Upheld, AppealOutcome::Overturned]),
                reason
            )
                .prop_map(|(review, decided, outcome, reason)| {
                    DeliveryBody::OversightDecision {
                        review,
                        decided,
                        outcome,
                        reason,
                    }
                }),
            (any::<[u8; 32]>(), day).prop_map(|(f, day)| DeliveryBody::FilingAcknowledgement {
                filing: FilingId::from_bytes(f),
                day
            }),
        ]
    }

    proptest! {
        #[test]
        fn obl_12_round_trip(body in body(), text in "\\PC{0,140}") {
            let d = Delivery::new(body, Text::new(text)).unwrap();
            prop_assert_eq!(Delivery::decode(&d.encode()[..]).unwrap(), d);
        }

        #[test]
        fn obl_12_decode_accepts_only_the_one_encoding(
            mut bytes in proptest::collection::vec(any::<u8>(), DELIVERY_LEN),
            kind in 1u8..=5,
            zeros in 0usize..DELIVERY_LEN,
        ) {
            bytes[0] = DELIVERY_VERSION;
            bytes[1] = kind;
            bytes[zeros..].fill(0);
            if let Ok(d) = Delivery::decode(&bytes) {
                prop_assert_eq!(&d.encode()[..], &bytes[..]);
            }
        }

        #[test]
        fn obl_12_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Delivery::decode(&bytes);
        }
    }
}
