//! # minimis-client: the participant's device
//!
//! The library a check-in app embeds. It enforces, on the device, what the architecture
//! promises the participant:
//!
//! - **No continuous location.** Every challenge is checked against the schedule the
//!   device was enrolled with, and counted on the device's own clock and record, never at
//!   a time the operator claims ([`Device::accept`], CHL-5, CHL-8, CHL-9); anything beyond
//!   it is refused, counted, and kept as signed evidence within a bound (CHL-13). One
//!   accepted challenge gives one check-in (CHL-11, CHL-12). A location fix is taken only
//!   inside an accepted check-in, only if a zone was ordered, at most once, and reduced to
//!   a zone result on the device ([`location`], LOC-2 to LOC-4).
//! - **Presence on the device.** A PIN, or a platform biometric matched on the device; only
//!   the result leaves it ([`presence`], POL-4).
//! - **Sealed content.** The payload is sealed to the custodians' recipients after
//!   checking their signatures ([`Device::check_in`], SEAL-7).
//! - **Proof in the participant's hand.** Every receipt is verified against the log's key
//!   and the witnesses' cosignatures and kept ([`Device::keep_receipt`]).
//! - **Encrypted at rest.** The device's state is one age file under a passphrase
//!   ([`store`]).
//! - **Fixed at enrollment.** A signed enrollment bundle fixes the schedule, the zone, the
//!   policy and every key the device trusts ([`Device::enroll`], [`bundle`], ENR-4,
//!   LOC-21).
//! - **The participant's own record, at any time.** Their check-ins and receipts, their
//!   ledger as the operator holds it, and what the public log says about them, the log
//!   verified on the device ([`Device::history`], ACC-11), in plain words that never call
//!   a failure a violation ([`words`], CHK-25).
//! - **Deleted on time.** The device deletes its copy of a check-in's content at the
//!   server's deadline unless the participant keeps it ([`Device::apply_retention`],
//!   RET-23).
//!
//! - **The program's obligations.** With each check-in, a condition result sealed to the
//!   agency's case recipient; notices (residence, employment, travel), contests and hold
//!   requests sealed on the device; reminders and decisions opened from a per-epoch inbox
//!   and verified by sender; polling within a cap instead of a push service
//!   ([`obligations`], OBL-4, OBL-9, OBL-11, OBL-12, OBL-20).
//!
//! **Trust domain:** the participant's device. **Holds:** the device key, the tag key, the
//! enrollment (schedule, zone, keys), its own check-ins, receipts, refusals and failures.
//! **Never holds:** other participants' data, any key that opens content.
//!
//! ## Embedding it in a mobile app
//!
//! The core ([`Device`], [`location`], [`presence`], [`store`]) is synchronous and has no
//! async runtime requirement. The network is behind [`transport::Transport`]: an app
//! implements it with its platform's HTTP stack (with the operator's certificate pinned),
//! or uses [`transport::Https`] (feature `https`, rustls, TLS 1.3 only). The platform's
//! location service implements [`location::LocationSource`] (one reading per call, never
//! in the background); its on-device biometric or PIN screen implements
//! [`presence::PresenceCheck`]. The store's passphrase comes from the platform keystore.
//!
//! ```
//! use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
//!
//! // The platform's location service: one reading, only when handed a capability.
//! struct Gps;
//! impl LocationSource for Gps {
//!     fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
//!         Ok(cap.into_fix(29.7601, -95.3701)) // read the platform's location here
//!     }
//! }
//! let zone = Zone::from_geojson(
//!     r#"{"type":"Polygon","coordinates":[[[-95.5,29.6],[-95.2,29.6],[-95.2,29.9],[-95.5,29.9],[-95.5,29.6]]]}"#,
//! )?;
//! // Outside this crate a capability cannot be made, so a fix cannot be taken or read:
//! // the library makes one per accepted challenge, and the zone test consumes the fix.
//! # let _ = (Gps, zone);
//! # Ok::<(), minimis_client::location::ZoneError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod api;
pub mod bundle;
mod device;
pub mod history;
pub mod location;
pub mod notice;
pub mod obligations;
pub mod presence;
pub mod station;
pub mod store;
pub mod transport;
pub mod words;

pub use api::{Api, ApiError, Fetched, FilingCallError, InboxCallError, SubmitError};
pub use bundle::{Bundle, BundleError};
pub use device::{
    Accepted, CLOCK_SKEW, CheckInError, Device, Enrollment, ExpiredCheckIn, Failure,
    FailureCategory, REFUSALS_KEPT_PER_REASON, ReceiptError, ReceiptStatus, Refusal, Refusals,
    Refused, ResumeError, SealedText, SentCheckIn, StatementCategory, UnknownCategory,
};
pub use history::{History, HistoryError};
