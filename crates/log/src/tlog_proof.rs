//! C2SP tlog-proof (<https://c2sp.org/tlog-proof>): a self-contained, offline-verifiable
//! proof that an entry is in the log, for a participant to keep as a receipt.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]              optional, NOT authenticated
//! index <leaf index, ASCII decimal, no leading zeroes>
//! <base64 hash>                             zero or more: the inclusion path, leaf first
//! <empty line>
//! <the signed checkpoint, verbatim, with any cosignatures>
//! ```
//!
//! Spec: `spec/log.md` § Proofs (**LOG-17**, **LOG-18**).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{Checkpoint, OpenCheckpointError, SignedCheckpoint, parse_decimal};
use crate::cosignature::{CosignatureError, VerifiedCosignature};
use crate::note::VerifierKey;
use crate::tlog_policy::{QuorumError, TlogPolicy};
use crate::verify::{Hash, InclusionError, leaf_hash, verify_inclusion};

/// The first line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion path in a tree of at most 2^64 - 1 entries has.
const MAX_PATH: usize = 64;

/// A tlog-proof: index, inclusion path and the signed checkpoint it leads to.
#[derive(Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    leaf_index: u64,
    inclusion_path: Vec<Hash>,
    checkpoint: String,
}

/// Why a tlog-proof text was refused (**LOG-17**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofParseError {
    /// Not valid UTF-8.
    #[error("a tlog-proof must be valid UTF-8")]
    NotUtf8,
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("a tlog-proof starts with the line `{TLOG_PROOF_HEADER}`")]
    Header,
    /// The `extra` line's data is not standard base64.
    #[error("the extra data of a tlog-proof must be standard base64")]
    Extra,
    /// No `index <N>` line, or `N` is not ASCII decimal without leading zeroes.
    #[error("a tlog-proof needs an `index <N>` line, N decimal with no leading zeroes")]
    Index,
    /// A proof line that is not standard base64 of 32 bytes.
    #[error("line {line} of a tlog-proof is not a base64 SHA-256 hash")]
    Hash {
        /// The line number, from 1.
        line: usize,
    },
    /// More than 64 proof hashes.
    #[error("a tlog-proof has at most {MAX_PATH} proof hashes")]
    TooManyHashes,
    /// No empty line and checkpoint after the proof hashes.
    #[error("a tlog-proof ends with an empty line and the signed checkpoint")]
    NoCheckpoint,
}

/// Why a tlog-proof did not verify (**LOG-18**).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The text is malformed.
    #[error("tlog-proof: {0}")]
    Parse(#[from] TlogProofParseError),
    /// The checkpoint is malformed, not signed by the log or names another origin.
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] OpenCheckpointError),
    /// A required witness's cosignature is missing or bad.
    #[error("tlog-proof cosignature: {0}")]
    Cosignature(#[from] CosignatureError),
    /// The inclusion proof does not lead from the entry to the checkpoint's root.
    #[error("tlog-proof inclusion: {0}")]
    Inclusion(#[from] InclusionError),
    /// The log key is not one the policy accepts (**LOG-64**).
    #[error("tlog-proof: the policy does not accept this log's key")]
    LogNotInPolicy,
    /// The checkpoint does not carry the policy's quorum (**LOG-64**).
    #[error("tlog-proof quorum: {0}")]
    Quorum(#[from] QuorumError),
}

/// What a verified tlog-proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTlogProof {
    /// The entry's index in the log.
    pub leaf_index: u64,
    /// The checkpoint the entry is included in, signed by the log.
    pub checkpoint: Checkpoint,
    /// The required witnesses' cosignatures, in the order the keys were given.
    pub cosignatures: Vec<VerifiedCosignature>,
    /// The extra data; NOT authenticated, never trust it implicitly.
    pub extra: Option<Vec<u8>>,
}

impl TlogProof {
    /// A proof of entry `leaf_index` with `inclusion_path` in `checkpoint`'s tree.
    pub fn new(leaf_index: u64, inclusion_path: Vec<Hash>, checkpoint: &SignedCheckpoint) -> Self {
        Self {
            extra: None,
            leaf_index,
            inclusion_path,
            checkpoint: checkpoint.to_string(),
        }
    }

    /// A proof with the checkpoint already rendered as text (for many proofs of one
    /// checkpoint).
    pub(crate) fn from_parts(
        leaf_index: u64,
        inclusion_path: Vec<Hash>,
        checkpoint: String,
    ) -> Self {
        Self {
            extra: None,
            leaf_index,
            inclusion_path,
            checkpoint,
        }
    }

    /// The same proof with opaque, unauthenticated extra data.
    pub fn with_extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The entry's index.
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }

    /// The inclusion path, leaf first.
    pub fn inclusion_path(&self) -> &[Hash] {
        &self.inclusion_path
    }

    /// The extra data, if any (NOT authenticated).
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The signed checkpoint, as carried (unverified until [`TlogProof::verify`]).
    pub fn checkpoint_text(&self) -> &str {
        &self.checkpoint
    }

    /// Parses a tlog-proof (**LOG-17**).
    ///
    /// # Errors
    /// A [`TlogProofParseError`] naming the broken rule.
    pub fn parse(text: &[u8]) -> Result<Self, TlogProofParseError> {
        let text = core::str::from_utf8(text).map_err(|_| TlogProofParseError::NotUtf8)?;
        let mut rest = text
            .strip_prefix(TLOG_PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(TlogProofParseError::Header)?;
        let next_line = |r: &mut &str| -> Option<String> {
            let (line, tail) = r.split_once('\n')?;
            *r = tail;
            Some(line.to_owned())
        };
        let mut line_no = 2;
        let mut line = next_line(&mut rest).ok_or(TlogProofParseError::Index)?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(data.as_bytes())
                    .map_err(|_| TlogProofParseError::Extra)?,
            );
            line = next_line(&mut rest).ok_or(TlogProofParseError::Index)?;
            line_no += 1;
        }
        let leaf_index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(TlogProofParseError::Index)?;
        let mut inclusion_path = Vec::new();
        loop {
            line_no += 1;
            let line = next_line(&mut rest).ok_or(TlogProofParseError::NoCheckpoint)?;
            if line.is_empty() {
                break;
            }
            if inclusion_path.len() == MAX_PATH {
                return Err(TlogProofParseError::TooManyHashes);
            }
            let hash = B64
                .decode(line.as_bytes())
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or(TlogProofParseError::Hash { line: line_no })?;
            inclusion_path.push(hash);
        }
        if rest.is_empty() {
            return Err(TlogProofParseError::NoCheckpoint);
        }
        Ok(Self {
            extra,
            leaf_index,
            inclusion_path,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies that `entry` is in the log (**LOG-18**): the checkpoint carries a valid
    /// signature by `log_key` and names its origin, every key in `witnesses` cosigned
    /// it, and the inclusion path leads from `entry`'s leaf hash to its root.
    ///
    /// # Errors
    /// A [`TlogProofError`] naming the failed step.
    pub fn verify(
        &self,
        entry: &[u8],
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        self.verify_leaf_hash(&leaf_hash(entry), log_key, witnesses)
    }

    /// [`TlogProof::verify`] for an entry known only by its leaf hash.
    ///
    /// # Errors
    /// A [`TlogProofError`] naming the failed step.
    pub fn verify_leaf_hash(
        &self,
        hash: &Hash,
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        let signed = SignedCheckpoint::open(self.checkpoint.as_bytes(), log_key)?;
        let cosignatures = signed.verify_cosignatures(witnesses)?;
        let cp = signed.checkpoint();
        verify_inclusion(
            hash,
            self.leaf_index,
            cp.tree_size(),
            &self.inclusion_path,
            cp.root_hash(),
        )?;
        Ok(VerifiedTlogProof {
            leaf_index: self.leaf_index,
            checkpoint: cp.clone(),
            cosignatures,
            extra: self.extra.clone(),
        })
    }
}

impl TlogProof {
    /// The checkpoint, opened under `log_key` (its signature and origin checked, its
    /// cosignatures not).
    ///
    /// # Errors
    /// An [`OpenCheckpointError`].
    pub fn open_checkpoint(
        &self,
        log_key: &VerifierKey,
    ) -> Result<SignedCheckpoint, OpenCheckpointError> {
        SignedCheckpoint::open(self.checkpoint.as_bytes(), log_key)
    }

    /// [`TlogProof::verify_leaf_hash_with_policy`] for the encoded `entry`.
    ///
    /// # Errors
    /// A [`TlogProofError`] naming the failed step.
    pub fn verify_with_policy(
        &self,
        entry: &[u8],
        log_key: &VerifierKey,
        policy: &TlogPolicy,
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        self.verify_leaf_hash_with_policy(&leaf_hash(entry), log_key, policy)
    }

    /// Verifies that the entry with leaf hash `hash` is in the log under a tlog-policy
    /// (**LOG-18**, **LOG-64**): `log_key` is one the policy accepts and signed the
    /// checkpoint, the checkpoint carries the policy's quorum of cosignatures, and the
    /// inclusion path leads to its root. The cosignatures returned are the quorum's, one
    /// per witness.
    ///
    /// # Errors
    /// A [`TlogProofError`] naming the failed step.
    pub fn verify_leaf_hash_with_policy(
        &self,
        hash: &Hash,
        log_key: &VerifierKey,
        policy: &TlogPolicy,
    ) -> Result<VerifiedTlogProof, TlogProofError> {
        if !policy.accepts_log(log_key) {
            return Err(TlogProofError::LogNotInPolicy);
        }
        let signed = SignedCheckpoint::open(self.checkpoint.as_bytes(), log_key)?;
        let quorum = policy.verify_quorum(&signed)?;
        let cp = signed.checkpoint();
        verify_inclusion(
            hash,
            self.leaf_index,
            cp.tree_size(),
            &self.inclusion_path,
            cp.root_hash(),
        )?;
        Ok(VerifiedTlogProof {
            leaf_index: self.leaf_index,
            checkpoint: cp.clone(),
            cosignatures: quorum.cosignatures,
            extra: self.extra.clone(),
        })
    }
}

impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", B64.encode(extra))?;
        }
        writeln!(f, "index {}", self.leaf_index)?;
        for h in &self.inclusion_path {
            writeln!(f, "{}", B64.encode(h.as_bytes()))?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}

impl fmt::Debug for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlogProof")
            .field("leaf_index", &self.leaf_index)
            .field("inclusion_path", &self.inclusion_path)
            .field("extra", &self.extra.as_ref().map(|e| B64.encode(e)))
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

/// Parses and verifies a tlog-proof of `entry` against the log key and the required
/// witness keys (**LOG-18**).
///
/// # Errors
/// A [`TlogProofError`] naming the failed step.
pub fn verify_tlog_proof(
    text: &[u8],
    entry: &[u8],
    log_key: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<VerifiedTlogProof, TlogProofError> {
    TlogProof::parse(text)?.verify(entry, log_key, witnesses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;
    use crate::note::{KeyName, NoteSigner};
    use crate::tree;
    use minimis_crypto::SigningKey;

    struct Fixture {
        log: NoteSigner,
        witness: Cosigner,
        entries: Vec<Vec<u8>>,
        checkpoint: SignedCheckpoint,
    }

    fn fixture(n: u64) -> Fixture {
        let log = NoteSigner::new(
            KeyName::new("log.minimis.example/p").unwrap(),
            SigningKey::from_seed(&[5; 32]).unwrap(),
        );
        let witness = Cosigner::new(
            KeyName::new("oversight.example/witness").unwrap(),
            SigningKey::from_seed(&[6; 32]).unwrap(),
        );
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let cp = Checkpoint::new(log.name().as_str(), n, tree::root(&leaves)).unwrap();
        let mut checkpoint = SignedCheckpoint::sign(cp, &log).unwrap();
        let sig = witness.cosign_unchecked(checkpoint.checkpoint(), 1_800_000_000);
        checkpoint
            .add_cosignature(sig, &witness.verifier_key())
            .unwrap();
        Fixture {
            log,
            witness,
            entries,
            checkpoint,
        }
    }

    fn proof(f: &Fixture, index: u64) -> TlogProof {
        let leaves: Vec<Hash> = f.entries.iter().map(|e| leaf_hash(e)).collect();
        let p = tree::inclusion_proof(&leaves, index).unwrap();
        TlogProof::new(index, p.inclusion_path, &f.checkpoint)
    }

    #[test]
    fn log_17_log_18_round_trip_and_verify() {
        let f = fixture(11);
        for index in 0..11 {
            let p = proof(&f, index);
            let text = p.to_string();
            assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex "));
            let parsed = TlogProof::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed, p);
            let v = verify_tlog_proof(
                text.as_bytes(),
                &f.entries[index as usize],
                &f.log.verifier_key(),
                &[f.witness.verifier_key()],
            )
            .unwrap();
            assert_eq!(v.leaf_index, index);
            assert_eq!(v.checkpoint.tree_size(), 11);
            assert_eq!(v.cosignatures[0].witness, *f.witness.name());
        }
        // With extra data, and for a one-entry tree (empty path).
        let f1 = fixture(1);
        let p = proof(&f1, 0).with_extra(b"age-v1".to_vec());
        let text = p.to_string();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra YWdlLXYx\nindex 0\n\n"));
        let parsed = TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.extra(), Some(&b"age-v1"[..]));
        parsed
            .verify(&f1.entries[0], &f1.log.verifier_key(), &[])
            .unwrap();
    }

    #[test]
    fn log_17_malformed_proofs_are_refused() {
        let f = fixture(5);
        let good = proof(&f, 2).to_string();
        let h = good.lines().nth(2).unwrap().to_owned();
        let cases: Vec<(String, TlogProofParseError)> = vec![
            (
                good.replace("tlog-proof@v1", "tlog-proof@v2"),
                TlogProofParseError::Header,
            ),
            (
                good.replace("index 2", "index 02"),
                TlogProofParseError::Index,
            ),
            (
                good.replace("index 2", "index -2"),
                TlogProofParseError::Index,
            ),
            (good.replace("index 2", "idx 2"), TlogProofParseError::Index),
            (
                good.replace("index 2", "extra !!\nindex 2"),
                TlogProofParseError::Extra,
            ),
            (
                good.replace(&h, &h[..40]),
                TlogProofParseError::Hash { line: 3 },
            ),
            (
                good.replacen("\n\n", "\n", 1),
                TlogProofParseError::Hash { line: 6 },
            ),
            (
                format!("{TLOG_PROOF_HEADER}\nindex 0\n"),
                TlogProofParseError::NoCheckpoint,
            ),
            (
                format!("{TLOG_PROOF_HEADER}\nindex 0\n\n"),
                TlogProofParseError::NoCheckpoint,
            ),
            (
                format!(
                    "{TLOG_PROOF_HEADER}\nindex 0\n{}\n{}",
                    format!("{h}\n").repeat(65),
                    f.checkpoint
                ),
                TlogProofParseError::TooManyHashes,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(TlogProof::parse(text.as_bytes()), Err(want), "{text}");
        }
        assert_eq!(TlogProof::parse(&[0xff]), Err(TlogProofParseError::NotUtf8));
    }

    #[test]
    fn log_18_tampering_is_detected_with_typed_errors() {
        let f = fixture(9);
        let text = proof(&f, 4).to_string();
        let log_key = f.log.verifier_key();
        let witnesses = [f.witness.verifier_key()];
        // Modified entry.
        assert_eq!(
            verify_tlog_proof(text.as_bytes(), b"entry 5", &log_key, &witnesses),
            Err(TlogProofError::Inclusion(InclusionError::RootMismatch))
        );
        // Wrong index.
        let moved = text.replace("index 4", "index 5");
        assert_eq!(
            verify_tlog_proof(moved.as_bytes(), b"entry 4", &log_key, &witnesses),
            Err(TlogProofError::Inclusion(InclusionError::RootMismatch))
        );
        // Dropped proof hash.
        let h = text.lines().nth(2).unwrap();
        let dropped = text.replacen(&format!("{h}\n"), "", 1);
        assert!(matches!(
            verify_tlog_proof(dropped.as_bytes(), b"entry 4", &log_key, &witnesses),
            Err(TlogProofError::Inclusion(
                InclusionError::WrongPathLength { .. }
            ))
        ));
        // Wrong root: the checkpoint body changed breaks the log's signature.
        let root = B64.encode(f.checkpoint.checkpoint().root_hash().as_bytes());
        let wrong = text.replace(&root, &B64.encode([0u8; 32]));
        assert!(matches!(
            verify_tlog_proof(wrong.as_bytes(), b"entry 4", &log_key, &witnesses),
            Err(TlogProofError::Checkpoint(OpenCheckpointError::Signature(
                _
            )))
        ));
        // A missing witness.
        let other = Cosigner::new(
            KeyName::new("agency.example/witness").unwrap(),
            SigningKey::from_seed(&[8; 32]).unwrap(),
        );
        assert!(matches!(
            verify_tlog_proof(
                text.as_bytes(),
                b"entry 4",
                &log_key,
                &[other.verifier_key()]
            ),
            Err(TlogProofError::Cosignature(
                CosignatureError::Missing { .. }
            ))
        ));
        // A bad cosignature.
        let line = f.checkpoint.note().signatures()[1].to_line();
        let mut sig = f.checkpoint.note().signatures()[1].signature().to_vec();
        sig[20] ^= 0x40;
        let forged = crate::note::NoteSignature::new(
            f.witness.name().clone(),
            f.checkpoint.note().signatures()[1].key_id(),
            sig,
        );
        let bad = text.replace(&line, &forged.to_line());
        assert_eq!(
            verify_tlog_proof(bad.as_bytes(), b"entry 4", &log_key, &witnesses),
            Err(TlogProofError::Cosignature(CosignatureError::Bad {
                witness: f.witness.name().clone()
            }))
        );
        // Not the log's key.
        let stranger = NoteSigner::new(
            KeyName::new("log.minimis.example/p").unwrap(),
            SigningKey::from_seed(&[7; 32]).unwrap(),
        );
        assert!(matches!(
            verify_tlog_proof(
                text.as_bytes(),
                b"entry 4",
                &stranger.verifier_key(),
                &witnesses
            ),
            Err(TlogProofError::Checkpoint(OpenCheckpointError::Signature(
                _
            )))
        ));
    }
}
