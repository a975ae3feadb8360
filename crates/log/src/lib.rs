//! # minimis-log: the transparency log
//!
//! A tamper-evident, append-only log of what the system did: challenges issued,
//! check-ins received, content accessed or refused, records purged, epoch keys
//! destroyed, policies published, enrollments opened and closed, legal holds. Everything
//! here is a published standard, so any auditor's tooling can check it:
//!
//! - the Merkle tree, inclusion and consistency proofs of RFC 9162 §2.1 ([`verify`],
//!   [`tree`]);
//! - checkpoints as C2SP [signed notes](https://c2sp.org/signed-note) and
//!   [tlog-checkpoints](https://c2sp.org/tlog-checkpoint) ([`note`], [`checkpoint`]);
//! - witness cosignatures, C2SP [tlog-cosignature](https://c2sp.org/tlog-cosignature)
//!   `cosignature/v1`, made only after a consistency check ([`cosignature`]);
//! - receipts as C2SP [tlog-proofs](https://c2sp.org/tlog-proof) ([`tlog_proof`]), for a
//!   whole batch at once from the hashes its append computed
//!   ([`Log::append_batch_with_proofs`], [`BatchProofs`]);
//! - storage and publication as C2SP [tlog-tiles](https://c2sp.org/tlog-tiles)
//!   ([`tiles`], [`Log`], [`LogReader`]);
//! - typed entries with one canonical encoding ([`entry`]).
//!
//! Spec: `spec/log.md` (**LOG-1** and on).
//!
//! **Trust domain:** the operator's server runs the [`Log`] with the log's signing key;
//! custodians run a [`Witness`] with their own witness key; participants' devices and
//! auditors use only the verifier side ([`verify`], [`SignedCheckpoint::open`],
//! [`verify_tlog_proof`], [`LogReader::audit`]), and the [`verify`] module alone
//! depends on nothing but `ring`'s SHA-256.
//!
//! **Never holds:** check-in content, ciphertext, coordinates, names or any other
//! identity. An entry names a participant only by the [`ParticipantTag`] of the epoch,
//! which changes every epoch (**LOG-27**); purging content removes no entry and no hash,
//! so every receipt stays valid (**LOG-29**). The only secrets are the log's and the
//! witnesses' signing keys, which never show in `Debug`.
//!
//! [`ParticipantTag`]: minimis_proto::ParticipantTag
//!
//! ```
//! use minimis_crypto::SigningKey;
//! use minimis_log::{
//!     Cosigner, KeyName, Log, LogEntry, MemoryStorage, NoteSigner, Witness, verify_tlog_proof,
//! };
//! use minimis_proto::{ChallengeId, EpochId, ParticipantTag, RecordId, UnixTime};
//!
//! // The operator's log, and the oversight custodian as its witness.
//! let signer = NoteSigner::new(KeyName::new("log.minimis.example")?, SigningKey::generate()?);
//! let mut log = Log::create(MemoryStorage::new(), signer)?;
//! let log_key = log.verifier_key();
//! let cosigner = Cosigner::new(KeyName::new("oversight.example/w")?, SigningKey::generate()?);
//! let mut witness = Witness::new(cosigner, log_key.clone())?;
//! let witness_key = witness.verifier_key();
//!
//! // A batch of entries, one signed checkpoint.
//! let entry = LogEntry::CheckInReceived {
//!     tag: ParticipantTag::from_bytes([7; 32]),
//!     record: RecordId::from_bytes([8; 32]),
//!     challenge: ChallengeId::from_bytes([9; 16]),
//!     epoch: EpochId::new(2_900),
//! };
//! let batch = log.append_entries(&[entry.clone()])?;
//!
//! // The witness checks consistency with what it saw last, then cosigns.
//! let checkpoint = log.checkpoint().to_string();
//! let cosignature = witness.cosign(checkpoint.as_bytes(), &[], UnixTime(1_800_000_000))?;
//! log.add_cosignature(cosignature, &witness_key)?;
//!
//! // The participant's receipt: a self-contained tlog-proof.
//! let receipt = log.tlog_proof(batch.first_index)?.to_string();
//! let verified = verify_tlog_proof(receipt.as_bytes(), &entry.encode(), &log_key, &[witness_key])?;
//! assert_eq!(verified.leaf_index, 0);
//! assert_eq!(LogEntry::decode(&log.entry(0)?)?, entry);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod follow;
mod log;
pub mod note;
pub mod obligation_entry;
pub mod static_dir;
pub mod tiles;
pub mod tlog_policy;
pub mod tlog_proof;
pub mod tree;
pub mod verify;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use cosignature::{Cosigner, TreeHead, VerifiedCosignature, Witness};
pub use entry::{
    Access, CaseCommitment, CaseRef, CaseSalt, DenialReason, EntryDecodeError, EntryType,
    EpochSummary, FailureCounts, LegalHold, LogEntry,
};
pub use follow::{
    AdvanceError, AdvanceFromTilesError, CatchUp, Evidence, Follower, FollowerState, Frontier,
};
pub use log::{
    AddCosignatureError, AppendError, AuditError, Batch, BatchProofError, BatchProofs, CreateError,
    FromDirError, Log, LogReader, OpenError, ProofError, ReadEntryError, ReaderError,
    TileReadError,
};
pub use note::{KeyName, NoteSigner, SignedNote, VerifierKey};
pub use static_dir::DirStorage;
pub use tiles::{MemoryStorage, TileStorage};
pub use tlog_policy::{QuorumError, TlogPolicy, TlogPolicyError, TlogPolicyHash, VerifiedQuorum};
pub use tlog_proof::{TlogProof, VerifiedTlogProof, verify_tlog_proof};
pub use verify::{
    ConsistencyProof, Hash, InclusionProof, leaf_hash, verify_consistency, verify_inclusion,
};

#[cfg(test)]
mod spec_examples {
    //! The example artifacts at the top of `spec/log.md` are produced by this code: the
    //! test rebuilds them (Ed25519 is deterministic) and checks the spec quotes them
    //! verbatim. Run with `--nocapture` to print them.

    use super::*;
    use crate::entry::{CustodianId, RecordSetHash};
    use minimis_crypto::SigningKey;
    use minimis_proto::{
        ChallengeId, ChallengeKind, EpochId, ParticipantTag, PolicyHash, RecordId, UnixTime,
        WindowSpan,
    };

    pub(crate) struct Example {
        pub(crate) log_vkey: String,
        pub(crate) witness_vkey: String,
        pub(crate) checkpoint: String,
        pub(crate) tlog_proof: String,
        pub(crate) entry_hex: String,
    }

    pub(crate) fn example() -> Example {
        let signer = NoteSigner::new(
            KeyName::new("log.minimis.example").unwrap(),
            SigningKey::from_seed(&[0x4c; 32]).unwrap(),
        );
        let mut log = Log::create(MemoryStorage::new(), signer).unwrap();
        let tag = ParticipantTag::from_bytes([0x7a; 32]);
        let epoch = EpochId::new(2_968);
        let challenge = ChallengeId::from_bytes([0xc1; 16]);
        let record = RecordId::from_bytes([0x5e; 32]);
        let policy = PolicyHash::from_bytes([0x90; 32]);
        let check_in = LogEntry::CheckInReceived {
            tag,
            record,
            challenge,
            epoch,
        };
        log.append_entries(&[
            LogEntry::PolicyPublished { policy },
            LogEntry::EnrollmentOpened { tag, epoch, policy },
            LogEntry::ChallengeIssued {
                tag,
                challenge,
                epoch,
                kind: ChallengeKind::Scheduled,
                issued_at: UnixTime(1_795_683_600),
                window: WindowSpan {
                    start: UnixTime(1_795_683_600),
                    end: UnixTime(1_795_690_800),
                },
            },
        ])
        .unwrap();
        let (count, record_set) = RecordSetHash::of(&[RecordId::from_bytes([0x01; 32])]);
        log.append_entries(&[
            check_in.clone(),
            LogEntry::RecordsPurged {
                epoch: EpochId::new(2_954),
                count,
                record_set,
                purged_at: UnixTime(1_795_651_200),
            },
            LogEntry::EpochKeyDestroyed {
                custodian: CustodianId::new("oversight").unwrap(),
                epoch: EpochId::new(2_954),
                destroyed_at: UnixTime(1_795_651_200),
            },
        ])
        .unwrap();
        let cosigner = Cosigner::new(
            KeyName::new("oversight.example/witness").unwrap(),
            SigningKey::from_seed(&[0x57; 32]).unwrap(),
        );
        let mut witness = Witness::new(cosigner, log.verifier_key()).unwrap();
        let cosignature = witness
            .cosign(
                log.checkpoint().to_string().as_bytes(),
                &[],
                UnixTime(1_795_690_000),
            )
            .unwrap();
        log.add_cosignature(cosignature, &witness.verifier_key())
            .unwrap();
        let proof = log.tlog_proof(3).unwrap().to_string();
        verify_tlog_proof(
            proof.as_bytes(),
            &check_in.encode(),
            &log.verifier_key(),
            &[witness.verifier_key()],
        )
        .unwrap();
        Example {
            log_vkey: log.verifier_key().to_string(),
            witness_vkey: witness.verifier_key().to_string(),
            checkpoint: log.checkpoint().to_string(),
            tlog_proof: proof,
            entry_hex: check_in
                .encode()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }

    #[test]
    fn log_12_log_15_log_17_spec_examples_are_what_the_code_produces() {
        let e = example();
        println!("LOG VKEY\n{}\n", e.log_vkey);
        println!("WITNESS VKEY\n{}\n", e.witness_vkey);
        println!("CHECKPOINT\n{}", e.checkpoint);
        println!("TLOG-PROOF\n{}", e.tlog_proof);
        println!("ENTRY\n{}", e.entry_hex);
        let spec =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/log.md"))
                .unwrap();
        for (what, text) in [
            ("log vkey", &e.log_vkey),
            ("witness vkey", &e.witness_vkey),
            ("checkpoint", &e.checkpoint),
            ("tlog-proof", &e.tlog_proof),
        ] {
            assert!(
                spec.contains(text.as_str()),
                "spec/log.md must quote the {what}:\n{text}"
            );
        }
    }
}
