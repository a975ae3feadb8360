//! # minimis-proto: the protocol model
//!
//! Types and byte-exact encodings of the minimis check-in protocol: identifiers, the
//! policy file, the enrolled schedule, the fixed-size check-in payload and the messages
//! that carry it, and the fixed-size encodings of the program's obligations (condition
//! results, filings, deliveries). Spec: `spec/policy.md`, `spec/schedule.md`,
//! `spec/checkin.md`, `spec/obligations.md`.
//!
//! **Trust domain:** none; every party links this crate. **Holds:** nothing. It does no
//! I/O, reads no clock and holds no key: callers pass the time in, and signatures are made
//! and checked in `minimis-crypto`.
//!
//! **Never holds:** there is no type here for coordinates, images, biometric templates,
//! contacts, device identifiers or network addresses (**LOC-1**, **POL-1** to **POL-7**);
//! a location fix is reduced to a [`ZoneResult`] on the device before anything is encoded.
//!
//! ```
//! use minimis_proto::{CheckInPayload, ChallengeId, Note, PresenceResult, UnixTime, ZoneResult};
//! use minimis_proto::payload::PAYLOAD_LEN;
//!
//! let policy = minimis_proto::default_policy();
//! let payload = CheckInPayload {
//!     challenge_id: ChallengeId::from_bytes([7; 16]),
//!     zone: ZoneResult::Inside,
//!     presence: PresenceResult::Confirmed,
//!     device_time: UnixTime(1_795_651_200),
//!     note: Note::new("bus was late", policy.max_note_bytes())?,
//! };
//! // One encoding, one size, whatever the content.
//! let bytes = payload.encode();
//! assert_eq!(bytes.expose().len(), PAYLOAD_LEN);
//! assert_eq!(CheckInPayload::decode(bytes.expose(), policy.max_note_bytes())?, payload);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod ids;
pub mod ledger;
pub mod messages;
pub mod obligations;
#[cfg(feature = "openapi")]
mod openapi;
pub mod payload;
pub mod policy;
pub mod schedule;
pub mod wire;

pub use ids::{
    ChallengeId, DeliveryId, EpochId, FilingId, ParticipantTag, PolicyHash, Pseudonym, RecordId,
    ReviewId,
};
pub use ledger::{
    FailureCategory, LedgerState, Resolution, ResolutionReason, StatementCategory, UnknownCategory,
};
pub use messages::{
    ANY_CIPHERTEXT, Challenge, CiphertextBounds, Envelope, EpochRecipient, Receipt, SealedCheckIn,
    SignedChallenge, SignedEpochRecipient,
};
pub use payload::{CheckInPayload, Note, PayloadDecodeError, PresenceResult, ZoneResult};
pub use policy::{
    Custodian, CustodianRole, DEFAULT_POLICY_TOML, Obligations, Policy, PolicyError, Reason,
    default_policy,
};
pub use schedule::{
    ChallengeKind, LocalTime, Placement, Schedule, ScheduleViolation, Slot, Weekday, Window,
    WindowSpan,
};
pub use wire::{PublicKey, Signature, UnixTime};
