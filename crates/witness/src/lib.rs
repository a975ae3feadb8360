//! # minimis-witness: a C2SP tlog-witness
//!
//! A witness cosigns a transparency log's checkpoints only after checking that each one
//! extends the last one it cosigned for that log, so that a log that shows two views
//! (a fork) is caught by every witness that saw the other view. This crate is the
//! witness side of C2SP tlog-witness (<https://c2sp.org/tlog-witness>) to the letter,
//! for any number of logs ([`TlogWitness`]), with the statuses the spec fixes
//! ([`protocol`]), a rate per log ([`rate`]), and `minimis witness serve` ([`service`]):
//! plain HTTPS on the listener every minimis service shares. The oversight custodian's
//! witness is this crate, for one log, behind its mutual-TLS listener.
//!
//! **Trust domain:** its own, small: a witness operator independent of the log's.
//! **Holds:** its signing key (`cosignature/v1`, Ed25519), and per known log the latest
//! checkpoint it cosigned (size, root, the log's signature and its cosignature).
//! **Never holds:** anything about participants, entries or content: it sees checkpoints
//! (a size and a root hash) and consistency proofs (hashes), nothing else (**WIT-9**).
//!
//! Spec: `spec/log.md` § Witnesses (**WIT-1** to **WIT-10**).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod protocol;
pub mod rate;
pub mod service;
pub mod witness;

pub use protocol::{AddCheckpointError, AddCheckpointRequest, MAX_PROOF_LINES, SIZE_CONTENT_TYPE};
pub use rate::Rate;
pub use witness::{Cosigned, KnownLog, OpenWitnessError, TlogWitness, origin_hash};
#[cfg(test)]
mod tests;
