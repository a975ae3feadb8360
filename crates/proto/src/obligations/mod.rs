//! The program's obligations (`spec/obligations.md`): what the agency learns of each
//! check-in's conditions, the participant's filings, the deliveries to the phone and the
//! signed messages that carry them.
//!
//! Every plaintext here has exactly one encoding of one fixed size, whatever its content:
//!
//! | what | size | spec |
//! | --- | ---: | --- |
//! | [`ConditionResult`] | 64 bytes | **OBL-3** |
//! | [`Filing`] | 1,024 bytes | **OBL-8** |
//! | [`Delivery`] | 512 bytes (576 sealed with its sender's signature) | **OBL-12** |
//!
//! so a sealed one tells whoever relays it only that one was sent. Each decoder refuses
//! every byte string that is not the one encoding of a value, with its own error and
//! machine-readable code. The signed wire messages ([`SignedConditionResult`],
//! [`SignedFiling`], [`DeliveryAck`], [`SignedInboxRecipient`]) each start their signing
//! input with their own label, so no signature over one can be replayed as another.
//!
//! Nothing here is sealed or signed: sealing is in `minimis-seal`, signatures in
//! `minimis-crypto`.

mod condition;
mod delivery;
mod filing;
mod messages;
mod text;

pub use condition::{
    CONDITION_LEN, CONDITION_VERSION, ConditionDecodeError, ConditionOutcome, ConditionResult,
};
pub use delivery::{
    AppealOutcome, DELIVERY_HEADER_LEN, DELIVERY_LEN, DELIVERY_TEXT_CAPACITY, DELIVERY_VERSION,
    Decision, Delivery, DeliveryBody, DeliveryDecodeError, DeliveryError, DeliveryKind,
    SIGNED_DELIVERY_LEN,
};
pub use filing::{
    Addressee, FILING_HEADER_LEN, FILING_LEN, FILING_TEXT_CAPACITY, FILING_VERSION, Filing,
    FilingDecodeError, FilingError, FilingKind,
};
pub use messages::{
    CONDITION_LABEL, DELIVERED_LABEL, DELIVERY_LABEL, DeliveryAck, FILING_LABEL, INBOX_LABEL,
    SealedDelivery, SealedLengthError, SignedConditionResult, SignedFiling, SignedInboxRecipient,
    delivery_signing_input, sealed_bounds,
};
pub use text::{REASON_ID_MAX, ReasonId, ReasonIdError, Text};

use crate::wire::UnixTime;

/// Why a review was opened (**OBL-6**, **OBL-17**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReviewCause {
    /// The ledger row ended `pending-review`: no check-in in time (CHK-20).
    Missed,
    /// A condition was not met or not checked.
    Condition,
}

impl ReviewCause {
    /// The byte in log entries: 1 missed, 2 condition.
    pub const fn code(self) -> u8 {
        match self {
            Self::Missed => 1,
            Self::Condition => 2,
        }
    }

    /// The cause a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Missed),
            2 => Some(Self::Condition),
            _ => None,
        }
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Whether `t` is a day: 00:00 UTC (dates in filings and deliveries are days, so that the
/// encodings carry no time of day the order does not need).
pub const fn is_day(t: UnixTime) -> bool {
    t.0.rem_euclid(SECONDS_PER_DAY) == 0
}

/// The day (00:00 UTC) that contains `t`.
pub const fn day_of(t: UnixTime) -> UnixTime {
    UnixTime(t.0 - t.0.rem_euclid(SECONDS_PER_DAY))
}
