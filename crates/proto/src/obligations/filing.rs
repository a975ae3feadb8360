//! A filing (**OBL-8**): a participant's notice or request to the agency, 1,024 bytes
//! whatever it says.
//!
//! ```text
//! offset  size  field
//!      0     1  version         0x01
//!      1     1  kind            1 residence, 2 employment, 3 travel, 4 contest, 5 hold request
//!      2     8  effective       i64 BE, a day (00:00 UTC): the change takes effect, the
//!                               travel starts; for kinds 4 and 5 the day it was written
//!     10     8  end             i64 BE, a day: the travel ends (kind 3); else 0
//!     18    16  review_id       the review concerned (kinds 4 and 5); else zero
//!     34     2  text_len        u16 BE
//!     36     n  text            UTF-8: the address, employer, destination or account
//!   36+n     …  padding         zero bytes up to 1,024
//! ```
//!
//! Rules every filing keeps, checked both when one is made and when one is decoded: dates
//! are days; a travel notice ends on or after it starts and no other kind has an end;
//! kinds 4 and 5 name a review and no other kind does; every kind but a hold request has
//! a text.

use zeroize::Zeroizing;

use super::is_day;
use super::text::Text;
use crate::ids::ReviewId;
use crate::wire::UnixTime;

/// The fixed size of an encoded filing.
pub const FILING_LEN: usize = 1024;
/// The version this crate writes and reads.
pub const FILING_VERSION: u8 = 1;
/// Bytes before the text.
pub const FILING_HEADER_LEN: usize = 36;
/// The longest text that fits: 988 bytes.
pub const FILING_TEXT_CAPACITY: usize = FILING_LEN - FILING_HEADER_LEN;

/// What a filing is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilingKind {
    /// A change of residence (8 U.S.C. 1305; release and supervision orders).
    Residence,
    /// A change of employment.
    Employment,
    /// A travel notice: from `effective` to `end`.
    Travel,
    /// A contest of a decision (**OBL-15**).
    Contest,
    /// A request for a legal hold on a check-in's records (**OBL-16**).
    HoldRequest,
}

impl FilingKind {
    /// The byte in the encoding.
    pub const fn code(self) -> u8 {
        match self {
            Self::Residence => 1,
            Self::Employment => 2,
            Self::Travel => 3,
            Self::Contest => 4,
            Self::HoldRequest => 5,
        }
    }

    /// The kind a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Residence,
            2 => Self::Employment,
            3 => Self::Travel,
            4 => Self::Contest,
            5 => Self::HoldRequest,
            _ => return None,
        })
    }

    /// Who it is sealed to (**OBL-9**): a contest and a hold request reach the oversight
    /// body too, so that they are heard even if the agency does nothing.
    pub const fn addressee(self) -> Addressee {
        match self {
            Self::Residence | Self::Employment | Self::Travel => Addressee::Agency,
            Self::Contest | Self::HoldRequest => Addressee::AgencyAndOversight,
        }
    }

    /// Whether it concerns a review.
    pub const fn names_review(self) -> bool {
        matches!(self, Self::Contest | Self::HoldRequest)
    }

    /// All five, in code order.
    pub const ALL: [Self; 5] = [
        Self::Residence,
        Self::Employment,
        Self::Travel,
        Self::Contest,
        Self::HoldRequest,
    ];
}

/// Who a filing is sealed to: the one thing about it the operator learns (**OBL-9**).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Addressee {
    /// The agency's case recipient only (kinds 1 to 3).
    Agency,
    /// The case recipient and the oversight body's review recipient (kinds 4 and 5).
    AgencyAndOversight,
}

impl Addressee {
    /// The byte in signing inputs and log entries.
    pub const fn code(self) -> u8 {
        match self {
            Self::Agency => 1,
            Self::AgencyAndOversight => 2,
        }
    }

    /// The addressee a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Agency),
            2 => Some(Self::AgencyAndOversight),
            _ => None,
        }
    }

    /// How many age recipients a filing to it is sealed to.
    pub const fn recipients(self) -> usize {
        match self {
            Self::Agency => 1,
            Self::AgencyAndOversight => 2,
        }
    }
}

/// Why a filing breaks a rule. Nothing is made or sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilingError {
    /// A date that is not 00:00 UTC.
    #[error("filing dates are days (00:00 UTC)")]
    NotADay,
    /// A travel notice without an end, ending before it starts, or ending on day 0 (the
    /// encoding's "no end"); or an end on another kind.
    #[error("only a travel notice has an end date, on or after its start")]
    EndDate,
    /// A contest or hold request without a review id (or with the all-zero one, the
    /// encoding's "none"), or another kind with one.
    #[error("a contest or hold request names a review; no other filing does")]
    ReviewId,
    /// A text longer than fits.
    #[error("filing text is {0} bytes; at most {FILING_TEXT_CAPACITY} fit")]
    TextTooLong(usize),
    /// A notice or contest with no text.
    #[error("this kind of filing needs a text")]
    TextEmpty,
}

impl FilingError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotADay => "not_a_day",
            Self::EndDate => "end_date",
            Self::ReviewId => "review_id",
            Self::TextTooLong(_) => "text_too_long",
            Self::TextEmpty => "text_empty",
        }
    }
}

/// Why bytes are not a filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilingDecodeError {
    /// Not exactly [`FILING_LEN`] bytes.
    #[error("a filing must be exactly {FILING_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// A version this crate does not read.
    #[error("filing version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A kind outside 1..=5.
    #[error("unknown filing kind {0}")]
    UnknownKind(u8),
    /// A text that is not UTF-8.
    #[error("filing text is not valid UTF-8")]
    TextNotUtf8,
    /// A padding byte that is not zero.
    #[error("padding byte at offset {0} is not zero")]
    NonZeroPadding(usize),
    /// The fields break a filing rule.
    #[error(transparent)]
    Invalid(#[from] FilingError),
}

impl FilingDecodeError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WrongLength(_) => "wrong_length",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnknownKind(_) => "unknown_kind",
            Self::TextNotUtf8 => "text_not_utf8",
            Self::NonZeroPadding(_) => "non_zero_padding",
            Self::Invalid(e) => e.code(),
        }
    }
}

/// A filing. Its text is personal content: it zeroizes on drop and `Debug` shows only its
/// length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filing {
    kind: FilingKind,
    effective: UnixTime,
    end: Option<UnixTime>,
    review: Option<ReviewId>,
    text: Text,
}

impl Filing {
    /// A filing that keeps every rule.
    ///
    /// # Errors
    /// [`FilingError`], the first rule broken.
    pub fn new(
        kind: FilingKind,
        effective: UnixTime,
        end: Option<UnixTime>,
        review: Option<ReviewId>,
        text: Text,
    ) -> Result<Self, FilingError> {
        if !is_day(effective) || end.is_some_and(|e| !is_day(e)) {
            return Err(FilingError::NotADay);
        }
        match (kind, end) {
            // 0 encodes "no end", so no end can be 0 (one encoding).
            (FilingKind::Travel, Some(e)) if e >= effective && e.seconds() != 0 => {}
            (FilingKind::Travel, _) | (_, Some(_)) => return Err(FilingError::EndDate),
            (_, None) => {}
        }
        // An all-zero review id encodes "no review".
        let review = review.filter(|r| r.as_bytes() != &[0; 16]);
        if kind.names_review() != review.is_some() {
            return Err(FilingError::ReviewId);
        }
        if text.len() > FILING_TEXT_CAPACITY {
            return Err(FilingError::TextTooLong(text.len()));
        }
        if text.is_empty() && kind != FilingKind::HoldRequest {
            return Err(FilingError::TextEmpty);
        }
        Ok(Self {
            kind,
            effective,
            end,
            review,
            text,
        })
    }

    /// The kind.
    pub fn kind(&self) -> FilingKind {
        self.kind
    }

    /// The day the change takes effect, the travel starts, or (kinds 4 and 5) it was
    /// written.
    pub fn effective(&self) -> UnixTime {
        self.effective
    }

    /// The day a travel notice ends.
    pub fn end(&self) -> Option<UnixTime> {
        self.end
    }

    /// The review a contest or hold request concerns.
    pub fn review(&self) -> Option<ReviewId> {
        self.review
    }

    /// The text.
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// Who it is sealed to.
    pub fn addressee(&self) -> Addressee {
        self.kind.addressee()
    }

    /// The one encoding, in a buffer that zeroizes on drop.
    pub fn encode(&self) -> Zeroizing<[u8; FILING_LEN]> {
        let mut out = Zeroizing::new([0u8; FILING_LEN]);
        out[0] = FILING_VERSION;
        out[1] = self.kind.code();
        out[2..10].copy_from_slice(&self.effective.seconds().to_be_bytes());
        out[10..18].copy_from_slice(&self.end.map_or(0, |e| e.seconds()).to_be_bytes());
        if let Some(r) = self.review {
            out[18..34].copy_from_slice(r.as_bytes());
        }
        let text = self.text.expose().as_bytes();
        // `new` and `decode` bound the text by FILING_TEXT_CAPACITY, which fits in a u16.
        let n = text.len().min(FILING_TEXT_CAPACITY);
        out[34..36].copy_from_slice(&(n as u16).to_be_bytes());
        out[FILING_HEADER_LEN..FILING_HEADER_LEN + n].copy_from_slice(&text[..n]);
        out
    }

    /// Decodes exactly [`FILING_LEN`] bytes.
    ///
    /// # Errors
    /// [`FilingDecodeError`]: the layout's errors in offset order, then the rules'.
    pub fn decode(bytes: &[u8]) -> Result<Self, FilingDecodeError> {
        if bytes.len() != FILING_LEN {
            return Err(FilingDecodeError::WrongLength(bytes.len()));
        }
        if bytes[0] != FILING_VERSION {
            return Err(FilingDecodeError::UnsupportedVersion(bytes[0]));
        }
        let kind =
            FilingKind::from_code(bytes[1]).ok_or(FilingDecodeError::UnknownKind(bytes[1]))?;
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i64::from_be_bytes(b)
        };
        let effective = UnixTime(i64_at(2));
        let end = match i64_at(10) {
            0 => None,
            e => Some(UnixTime(e)),
        };
        let mut review = [0u8; 16];
        review.copy_from_slice(&bytes[18..34]);
        let review = (review != [0; 16]).then_some(ReviewId::from_bytes(review));
        let len = usize::from(u16::from_be_bytes([bytes[34], bytes[35]]));
        if len > FILING_TEXT_CAPACITY {
            return Err(FilingError::TextTooLong(len).into());
        }
        let text_end = FILING_HEADER_LEN + len;
        let text = std::str::from_utf8(&bytes[FILING_HEADER_LEN..text_end])
            .map_err(|_| FilingDecodeError::TextNotUtf8)?;
        if let Some(i) = bytes[text_end..].iter().position(|&b| b != 0) {
            return Err(FilingDecodeError::NonZeroPadding(text_end + i));
        }
        Ok(Self::new(kind, effective, end, review, Text::new(text))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;
    const MONDAY: UnixTime = UnixTime(1_795_392_000); // 2026-11-23

    fn residence() -> Filing {
        Filing::new(
            FilingKind::Residence,
            MONDAY,
            None,
            None,
            Text::new("12 Elm Street, Apt 3, Springfield"),
        )
        .unwrap()
    }

    #[test]
    fn obl_8_encoding_has_one_size_whatever_the_text() {
        assert_eq!(residence().encode().len(), FILING_LEN);
        let long = Filing::new(
            FilingKind::Employment,
            MONDAY,
            None,
            None,
            Text::new("x".repeat(FILING_TEXT_CAPACITY)),
        )
        .unwrap();
        assert_eq!(long.encode().len(), FILING_LEN);
        assert_eq!(Filing::decode(&long.encode()[..]).unwrap(), long);
    }

    #[test]
    fn obl_8_rules_are_refused_when_made() {
        let r = Some(ReviewId::from_bytes([9; 16]));
        let t = || Text::new("text");
        let cases = [
            (
                FilingKind::Residence,
                UnixTime(MONDAY.0 + 1),
                None,
                None,
                t(),
                "not_a_day",
            ),
            (FilingKind::Travel, MONDAY, None, None, t(), "end_date"),
            (
                FilingKind::Travel,
                MONDAY,
                Some(UnixTime(MONDAY.0 - DAY)),
                None,
                t(),
                "end_date",
            ),
            (
                FilingKind::Travel,
                MONDAY,
                Some(UnixTime(MONDAY.0 + 5)),
                None,
                t(),
                "not_a_day",
            ),
            (
                FilingKind::Employment,
                MONDAY,
                Some(MONDAY),
                None,
                t(),
                "end_date",
            ),
            (FilingKind::Contest, MONDAY, None, None, t(), "review_id"),
            (FilingKind::Residence, MONDAY, None, r, t(), "review_id"),
            (
                FilingKind::Residence,
                MONDAY,
                None,
                None,
                Text::new(""),
                "text_empty",
            ),
            (
                FilingKind::Residence,
                MONDAY,
                None,
                None,
                Text::new("x".repeat(FILING_TEXT_CAPACITY + 1)),
                "text_too_long",
            ),
        ];
        for (kind, eff, end, review, text, code) in cases {
            let err = Filing::new(kind, eff, end, review, text).unwrap_err();
            assert_eq!(err.code(), code, "{kind:?}: {err}");
        }
        assert!(Filing::new(FilingKind::HoldRequest, MONDAY, None, r, Text::new("")).is_ok());
        assert!(Filing::new(FilingKind::Travel, MONDAY, Some(MONDAY), None, t()).is_ok());
    }

    #[test]
    fn obl_8_each_decoding_error_is_distinct() {
        let good = *residence().encode();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..FILING_LEN - 1].to_vec(), "wrong_length"),
            ([&good[..], &[0]].concat(), "wrong_length"),
        ];
        let mut v = good;
        v[0] = 2;
        cases.push((v.to_vec(), "unsupported_version"));
        let mut v = good;
        v[1] = 6;
        cases.push((v.to_vec(), "unknown_kind"));
        let mut v = good;
        v[9] = 1;
        cases.push((v.to_vec(), "not_a_day"));
        let mut v = good;
        v[10..18].copy_from_slice(&(MONDAY.0 + DAY).to_be_bytes());
        cases.push((v.to_vec(), "end_date"));
        let mut v = good;
        v[20] = 1;
        cases.push((v.to_vec(), "review_id"));
        let mut v = good;
        v[34..36].copy_from_slice(&989u16.to_be_bytes());
        cases.push((v.to_vec(), "text_too_long"));
        let mut v = good;
        v[FILING_HEADER_LEN] = 0xff;
        cases.push((v.to_vec(), "text_not_utf8"));
        let mut v = good;
        v[FILING_LEN - 1] = 1;
        cases.push((v.to_vec(), "non_zero_padding"));
        let mut v = good;
        v[34..36].copy_from_slice(&0u16.to_be_bytes());
        v[FILING_HEADER_LEN..FILING_HEADER_LEN + 64].fill(0);
        cases.push((v.to_vec(), "text_empty"));
        for (bytes, code) in cases {
            let err = Filing::decode(&bytes).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        assert_eq!(Filing::decode(&good).unwrap(), residence());
    }

    #[test]
    fn obl_9_contest_and_hold_request_reach_oversight() {
        for kind in FilingKind::ALL {
            let expected = if matches!(kind, FilingKind::Contest | FilingKind::HoldRequest) {
                Addressee::AgencyAndOversight
            } else {
                Addressee::Agency
            };
            assert_eq!(kind.addressee(), expected);
        }
    }

    fn filing() -> impl Strategy<Value = Filing> {
        (
            prop::sample::select(FilingKind::ALL.to_vec()),
            -20_000i64..40_000,
            0i64..400,
            any::<[u8; 16]>(),
            "\\PC{1,200}",
        )
            .prop_filter_map("valid", |(kind, day, len, review, text)| {
                let eff = UnixTime(day * DAY);
                let end = (kind == FilingKind::Travel).then_some(UnixTime((day + len) * DAY));
                let review = kind.names_review().then_some(ReviewId::from_bytes(review));
                Filing::new(kind, eff, end, review, Text::new(text)).ok()
            })
    }

    proptest! {
        #[test]
        fn obl_8_round_trip(f in filing()) {
            let enc = f.encode();
            prop_assert_eq!(Filing::decode(&enc[..]).unwrap(), f);
        }

        #[test]
        fn obl_8_decode_accepts_only_the_one_encoding(mut bytes in proptest::collection::vec(any::<u8>(), FILING_LEN), kind in 1u8..=5, len in 0u16..40) {
            // A plausible prefix, so that decoding gets past the first checks.
            bytes[0] = FILING_VERSION;
            bytes[1] = kind;
            bytes[34..36].copy_from_slice(&len.to_be_bytes());
            if let Ok(f) = Filing::decode(&bytes) {
                prop_assert_eq!(&f.encode()[..], &bytes[..]);
            }
        }

        #[test]
        fn obl_8_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            let _ = Filing::decode(&bytes);
        }
    }
}
