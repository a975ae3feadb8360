//! # minimis-custodian: the key custodians
//!
//! Check-in content is sealed on the device in two age layers, the inner one to the
//! agency custodian's identity for the epoch, the outer one to the oversight custodian's
//! (`minimis-seal`, **SEAL-2**). This crate is the custodians: it keeps those identities,
//! opens a record only for a justified request that both custodians have logged first,
//! destroys each epoch's identity at the end of its retention so that every copy of the
//! epoch's content (backups included) becomes noise, keeps records under legal holds
//! without widening what either custodian can read, and runs the log's witness.
//! Spec: `spec/access.md` (ACC), `spec/retention.md` (RET), `spec/log.md` (**LOG-16**,
//! **LOG-32**).
//!
//! **Trust domain:** the key custodians, by default two (the supervising agency's and an
//! independent oversight body's), neither of them the operator. **Holds:** its epoch
//! identities and legal-hold identities, only in its own keystore, encrypted at rest
//! ([`keystore`], **RET-4**, **RET-7**; in production each wrapped by its own
//! non-extractable key in a PKCS#11 token, destroyed with the epoch, **RET-34**); its Ed25519 signing key; the access policy; the
//! caseload file (agency); the witness's key and state (oversight). **Never holds:** the
//! ciphertext store (it fetches the records a request names from the operator, and
//! keeps none), plaintext after the response is sent (**ACC-8**), the other custodian's
//! keys, names.
//!
//! - [`Node`]: one custodian's rules: [`Node::access`] (agency), [`Node::remove_outer`]
//!   (oversight), [`Node::place_hold`] / [`Node::release_hold`], [`Node::tick`] (make
//!   and publish identities ahead, destroy at the deadline, end expired holds, log what
//!   waited for the log).
//! - [`Custodian::start`]: a [`Node`] as a TLS 1.3 service with client certificates
//!   required ([`tls`]), on the listener every service shares (`minimis-service`: its
//!   limits and timeouts, typed JSON refusals, the request tally), its schedule on a
//!   timer; `minimis custodian serve` runs it.
//! - [`OperatorLink`]: what a custodian asks of the operator, over HTTPS
//!   ([`https::HttpsOperator`]) or in process ([`InProcessOperator`], a real log).
//! - [`OversightLink`]: the agency custodian's link to the oversight custodian, over
//!   mutual TLS ([`https::HttpsPeer`]) or in process ([`InProcessPeer`]).
//! - [`witness::WitnessService`]: C2SP tlog-witness `add-checkpoint`.
//! - [`rewrap`]: a legal hold re-wraps each layer's file key to a hold identity, from the
//!   layer's header alone.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use minimis_crypto::{SigningKey, TagKey};
//! use minimis_custodian::protocol::AccessRequest;
//! use minimis_custodian::{InProcessDeployment, ManualClock};
//! use minimis_log::entry::OfficerId;
//! use minimis_proto::*;
//!
//! // An operator and both custodians in one process (tests and demos only), at
//! // Thursday 2026-11-26T16:00:00Z.
//! let now = UnixTime(1_795_708_800);
//! let dir = tempfile::tempdir()?;
//! let d = InProcessDeployment::open(dir.path(), default_policy(), ManualClock::new(now), |_| {})
//!     .await?;
//! let participant = Pseudonym::from_bytes([7; 16]);
//! d.set_caseload(&[("officer-7f3a", &[participant])])?;
//! // A device seals a check-in to both custodians' published recipients.
//! let payload = CheckInPayload {
//!     challenge_id: ChallengeId::from_bytes([1; 16]),
//!     zone: ZoneResult::Inside,
//!     presence: PresenceResult::Confirmed,
//!     device_time: now,
//!     note: Note::empty(),
//! };
//! let epoch = default_policy().epoch_at(now).ok_or("no epoch")?;
//! let tag = TagKey::generate()?.tag(&participant, epoch);
//! let record = d.check_in(&SigningKey::generate()?, participant, tag, &payload)?;
//! // A justified request: both custodians log it, then it opens.
//! let officer = OfficerId::new("officer-7f3a")?;
//! let request = AccessRequest {
//!     records: vec![record.to_string()],
//!     purpose: "compliance-review".into(),
//!     legal_basis: "release-conditions".into(),
//!     case_reference: "HOU-2025-004211".into(),
//! };
//! let opened = d.agency.access(&officer, request.clone()).await.map_err(|r| r.to_string())?;
//! assert_eq!(opened.records[0].payload, payload);
//! assert_eq!(opened.log.len(), 2);
//! // At the epoch's content deadline both custodians destroy their identities.
//! d.clock.set(default_policy().content_deadline(epoch));
//! d.tick().await;
//! let refused = d.agency.access(&officer, request).await.err().ok_or("opened")?;
//! assert_eq!(refused.code(), "key_destroyed");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod caseload;
pub mod config;
mod files;
pub mod https;
pub mod inprocess;
pub mod keystore;
pub mod node;
pub mod operator;
pub mod peer;
pub mod protocol;
pub mod rewrap;
mod service;
pub mod store;
pub mod tls;
pub mod witness;

pub use config::CustodianConfig;
pub use files::FileError;
pub use inprocess::InProcessDeployment;
/// Where a custodian's time comes from: [`SystemClock`] in production, [`ManualClock`] for
/// the documented demo and test mode only ([`minimis_service::clock`], the same as the
/// operator's). Nothing on the wire can set a custodian's clock.
pub use minimis_service::clock;
pub use minimis_service::clock::{Clock, ManualClock, SystemClock};
pub use minimis_service::limits::Limits;
pub use node::{Node, NodeOptions, StartError, TickReport};
pub use operator::{InProcessOperator, OperatorLink};
pub use peer::{InProcessPeer, OversightLink};
pub use service::{Custodian, CustodianRefusals, Running};

#[cfg(test)]
mod tests;
