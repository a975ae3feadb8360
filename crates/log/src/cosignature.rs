//! C2SP tlog-cosignature v1 (<https://c2sp.org/tlog-cosignature>): timestamped Ed25519
//! witness cosignatures, and the [`Witness`] that makes them only after checking that
//! the log stayed append-only.
//!
//! ```text
//! key ID     = SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4]
//! message    = "cosignature/v1\n" || "time " || <timestamp, ASCII decimal> || "\n"
//!              || <checkpoint body, final newline included>
//! signature  = timestamp (u64, big-endian) || Ed25519(message) (64 bytes)
//! line       = "— " <name> " " base64(key ID || signature)
//! ```
//!
//! In minimis the custodians are the witnesses: each cosigns a checkpoint only after
//! verifying the log's signature and a consistency proof from the last checkpoint it
//! cosigned, and refuses a smaller tree or a second root for the same size.
//!
//! Spec: `spec/log.md` § Cosignatures (**LOG-15**, **LOG-16**).

use core::fmt;

use minimis_crypto::SigningKey;
use minimis_proto::{PublicKey, Signature, UnixTime};

use crate::checkpoint::{Checkpoint, OpenCheckpointError, SignedCheckpoint};
use crate::note::{KeyId, KeyName, NoteSignature, SignatureType, SignedNote, VerifierKey};
use crate::verify::{ConsistencyError, Hash, verify_consistency};

/// The header line of a v1 cosignature's signed message.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// The message a v1 cosignature signs for the checkpoint body `text` at `timestamp`.
pub fn message_v1(text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{text}")
}

/// The timestamp of a valid v1 cosignature `signature` by `key` on `text`, or `None`.
pub(crate) fn verify_v1(key: &PublicKey, text: &str, signature: &[u8]) -> Option<u64> {
    let (ts, sig) = signature.split_first_chunk::<8>()?;
    let timestamp = u64::from_be_bytes(*ts);
    // "It MUST NOT exceed 2^63 - 1."
    if i64::try_from(timestamp).is_err() {
        return None;
    }
    let sig = Signature(<[u8; 64]>::try_from(sig).ok()?);
    minimis_crypto::verify(key, message_v1(text, timestamp).as_bytes(), &sig)
        .ok()
        .map(|()| timestamp)
}

/// A verified cosignature: who, and when they say they observed the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCosignature {
    /// The witness's key name.
    pub witness: KeyName,
    /// The cosignature's timestamp.
    pub time: UnixTime,
}

/// Why a cosignature was refused (**LOG-15**).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The key given for a witness is not a `cosignature/v1` (`0x04`) key.
    #[error("witness key {witness} is not a cosignature/v1 (0x04) key")]
    NotAWitnessKey {
        /// The key's name.
        witness: KeyName,
    },
    /// The checkpoint carries no cosignature by this witness.
    #[error("no cosignature by witness {witness}")]
    Missing {
        /// The witness's key name.
        witness: KeyName,
    },
    /// A cosignature line with this witness's name and key ID does not verify.
    #[error("the cosignature by witness {witness} does not verify")]
    Bad {
        /// The witness's key name.
        witness: KeyName,
    },
    /// The signature offered is by another key than the witness given.
    #[error("the signature offered is not by witness {witness}")]
    WrongSigner {
        /// The witness's key name.
        witness: KeyName,
    },
    /// The note would carry too many signatures.
    #[error("the checkpoint note would carry too many signatures")]
    TooManySignatures,
}

fn witness_key(witness: &VerifierKey) -> Result<(), CosignatureError> {
    if witness.signature_type() == SignatureType::CosignatureV1 {
        Ok(())
    } else {
        Err(CosignatureError::NotAWitnessKey {
            witness: witness.name().clone(),
        })
    }
}

fn time_of(witness: &VerifierKey, timestamp: u64) -> VerifiedCosignature {
    VerifiedCosignature {
        witness: witness.name().clone(),
        // `verify_v1` refuses timestamps above i64::MAX.
        time: UnixTime(i64::try_from(timestamp).unwrap_or(i64::MAX)),
    }
}

/// Verifies one offered cosignature line against `witness`.
pub(crate) fn verify_one(
    note: &SignedNote,
    cosignature: &NoteSignature,
    witness: &VerifierKey,
) -> Result<VerifiedCosignature, CosignatureError> {
    witness_key(witness)?;
    if cosignature.name() != witness.name() || cosignature.key_id() != witness.key_id() {
        return Err(CosignatureError::WrongSigner {
            witness: witness.name().clone(),
        });
    }
    verify_v1(witness.public_key(), note.text(), cosignature.signature())
        .map(|ts| time_of(witness, ts))
        .ok_or_else(|| CosignatureError::Bad {
            witness: witness.name().clone(),
        })
}

/// Finds and verifies `witness`'s cosignature on `note`: every line with its name and
/// key ID must verify, and there must be one.
pub(crate) fn verify_required(
    note: &SignedNote,
    witness: &VerifierKey,
) -> Result<VerifiedCosignature, CosignatureError> {
    witness_key(witness)?;
    let mut found = None;
    for line in note.signatures() {
        if line.name() == witness.name() && line.key_id() == witness.key_id() {
            let v = verify_one(note, line, witness)?;
            found.get_or_insert(v);
        }
    }
    found.ok_or_else(|| CosignatureError::Missing {
        witness: witness.name().clone(),
    })
}

/// A witness's signing key and name (`cosignature/v1`, type `0x04`).
///
/// It signs only through a [`Witness`], which checks consistency first. `Debug` never
/// shows the secret.
pub struct Cosigner {
    name: KeyName,
    key_id: KeyId,
    key: SigningKey,
}

impl Cosigner {
    /// A cosigner named `name` with `key`. A witness key must not be used for anything
    /// else, and each witness must have its own key (the v1 message does not name the
    /// witness).
    pub fn new(name: KeyName, key: SigningKey) -> Self {
        let key_id = KeyId::compute(&name, SignatureType::CosignatureV1, &key.public_key());
        Self { name, key_id, key }
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The public witness key (type `0x04`), to publish as a vkey.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::cosignature_v1(self.name.clone(), self.key.public_key())
    }

    /// Cosigns `checkpoint` at `timestamp`, unchecked: only [`Witness::cosign`] and the
    /// tests call this.
    pub(crate) fn cosign_unchecked(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> NoteSignature {
        let message = message_v1(&checkpoint.to_text(), timestamp);
        let sig = self.key.sign(message.as_bytes());
        let mut bytes = Vec::with_capacity(72);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(sig.as_bytes());
        NoteSignature::new(self.name.clone(), self.key_id, bytes)
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A tree head a witness has cosigned: size and root hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The tree size.
    pub tree_size: u64,
    /// The root hash.
    pub root_hash: Hash,
}

/// Why a witness refused to cosign (**LOG-16**).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The key given for the log is not an Ed25519 (`0x01`) key.
    #[error("a log key must be an Ed25519 (0x01) key")]
    NotALogKey,
    /// The checkpoint is malformed, not signed by the log, or names another origin.
    #[error(transparent)]
    Checkpoint(#[from] OpenCheckpointError),
    /// The time is before 1970: a cosignature timestamp is unsigned.
    #[error("a cosignature time must not be before 1970")]
    TimeBeforeEpoch,
    /// The tree is smaller than the one last cosigned: the log rolled back.
    #[error("the log offers size {offered} after size {latest} was cosigned")]
    Rollback {
        /// The size last cosigned.
        latest: u64,
        /// The size offered.
        offered: u64,
    },
    /// A different root for the size last cosigned: a split view.
    #[error("the log offers a second root for size {size}: split view")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The consistency proof from the last cosigned tree does not verify.
    #[error("the new checkpoint is not consistent with the last one cosigned: {0}")]
    Inconsistent(ConsistencyError),
}

/// A witness: cosigns a log's checkpoints after checking that each one extends the last
/// one it cosigned (**LOG-16**).
///
/// The caller persists [`Witness::latest`] durably after each cosignature and restores
/// it with [`Witness::resume`]; a witness that forgets its state can be shown a split
/// view.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    log_key: VerifierKey,
    latest: Option<TreeHead>,
}

impl Witness {
    /// A witness for the log with `log_key` that has cosigned nothing yet.
    ///
    /// # Errors
    /// [`WitnessError::NotALogKey`] unless `log_key` is an Ed25519 (`0x01`) key.
    pub fn new(cosigner: Cosigner, log_key: VerifierKey) -> Result<Self, WitnessError> {
        Self::resume(cosigner, log_key, None)
    }

    /// A witness that last cosigned `latest`.
    ///
    /// # Errors
    /// [`WitnessError::NotALogKey`] unless `log_key` is an Ed25519 (`0x01`) key.
    pub fn resume(
        cosigner: Cosigner,
        log_key: VerifierKey,
        latest: Option<TreeHead>,
    ) -> Result<Self, WitnessError> {
        if log_key.signature_type() != SignatureType::Ed25519 {
            return Err(WitnessError::NotALogKey);
        }
        Ok(Self {
            cosigner,
            log_key,
            latest,
        })
    }

    /// The tree head last cosigned.
    pub fn latest(&self) -> Option<TreeHead> {
        self.latest
    }

    /// The witness's public key (type `0x04`).
    pub fn verifier_key(&self) -> VerifierKey {
        self.cosigner.verifier_key()
    }

    /// Checks `checkpoint` (a signed note) and cosigns it at `time` (**LOG-16**):
    ///
    /// 1. the log's signature verifies and the origin is the log key's name;
    /// 2. the tree is not smaller than the last one cosigned;
    /// 3. for the same size, the root is the same;
    /// 4. for a larger size, `consistency_path` proves that the new tree extends the last
    ///    one cosigned (RFC 9162 §2.1.4.2); the first checkpoint a witness sees needs no
    ///    proof.
    ///
    /// On success the new tree head becomes [`Witness::latest`].
    ///
    /// # Errors
    /// A [`WitnessError`] naming the failed check; the state is unchanged.
    pub fn cosign(
        &mut self,
        checkpoint: &[u8],
        consistency_path: &[Hash],
        time: UnixTime,
    ) -> Result<NoteSignature, WitnessError> {
        let signed = SignedCheckpoint::open(checkpoint, &self.log_key)?;
        let cp = signed.checkpoint();
        let timestamp = u64::try_from(time.seconds()).map_err(|_| WitnessError::TimeBeforeEpoch)?;
        if let Some(latest) = self.latest {
            if cp.tree_size() < latest.tree_size {
                return Err(WitnessError::Rollback {
                    latest: latest.tree_size,
                    offered: cp.tree_size(),
                });
            }
            if latest.tree_size > 0 {
                verify_consistency(
                    latest.tree_size,
                    cp.tree_size(),
                    &latest.root_hash,
                    cp.root_hash(),
                    consistency_path,
                )
                .map_err(|e| match e {
                    ConsistencyError::SplitView { size } => WitnessError::SplitView { size },
                    e => WitnessError::Inconsistent(e),
                })?;
            }
        }
        let sig = self.cosigner.cosign_unchecked(cp, timestamp);
        self.latest = Some(TreeHead {
            tree_size: cp.tree_size(),
            root_hash: *cp.root_hash(),
        });
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use crate::tree;
    use crate::verify::leaf_hash;

    fn signer_of_log() -> NoteSigner {
        NoteSigner::new(
            KeyName::new("log.minimis.example/w").unwrap(),
            SigningKey::from_seed(&[3; 32]).unwrap(),
        )
    }

    fn cosigner(seed: u8) -> Cosigner {
        Cosigner::new(
            KeyName::new(&format!("witness{seed}.example")).unwrap(),
            SigningKey::from_seed(&[seed; 32]).unwrap(),
        )
    }

    fn signed(signer: &NoteSigner, leaves: &[Hash]) -> SignedCheckpoint {
        let cp = Checkpoint::new(
            signer.name().as_str(),
            leaves.len() as u64,
            tree::root(leaves),
        )
        .unwrap();
        SignedCheckpoint::sign(cp, signer).unwrap()
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn log_15_cosignature_bytes_follow_the_spec() {
        let log = signer_of_log();
        let w = cosigner(7);
        let cp = signed(&log, &leaves(3));
        let sig = w.cosign_unchecked(cp.checkpoint(), 1_679_315_147);
        assert_eq!(sig.signature().len(), 72);
        assert_eq!(&sig.signature()[..8], &1_679_315_147u64.to_be_bytes());
        // Key ID with type 0x04.
        let mut input = b"witness7.example\n\x04".to_vec();
        input.extend_from_slice(w.verifier_key().public_key().as_bytes());
        let d = ring::digest::digest(&ring::digest::SHA256, &input);
        assert_eq!(sig.key_id().as_bytes(), &d.as_ref()[..4]);
        // The signed message.
        let msg = message_v1(&cp.checkpoint().to_text(), 1_679_315_147);
        assert!(msg.starts_with("cosignature/v1\ntime 1679315147\nlog.minimis.example/w\n3\n"));
        let ed = Signature(sig.signature()[8..].try_into().unwrap());
        assert!(minimis_crypto::verify(w.verifier_key().public_key(), msg.as_bytes(), &ed).is_ok());
        // The vkey carries type 0x04 and round-trips.
        let vkey = w.verifier_key().to_string();
        let parsed: VerifierKey = vkey.parse().unwrap();
        assert_eq!(parsed.signature_type(), SignatureType::CosignatureV1);
    }

    #[test]
    fn log_15_bad_cosignature_is_refused() {
        let log = signer_of_log();
        let w = cosigner(7);
        let mut cp = signed(&log, &leaves(3));
        let good = w.cosign_unchecked(cp.checkpoint(), 100);
        // A cosignature of another checkpoint.
        let other = signed(&log, &leaves(4));
        let wrong = w.cosign_unchecked(other.checkpoint(), 100);
        assert_eq!(
            cp.add_cosignature(wrong.clone(), &w.verifier_key()),
            Err(CosignatureError::Bad {
                witness: w.name().clone()
            })
        );
        // A changed timestamp.
        let mut bytes = good.signature().to_vec();
        bytes[7] ^= 1;
        let retimed = NoteSignature::new(good.name().clone(), good.key_id(), bytes);
        assert!(matches!(
            cp.add_cosignature(retimed.clone(), &w.verifier_key()),
            Err(CosignatureError::Bad { .. })
        ));
        // A timestamp above 2^63 - 1.
        let mut big = good.signature().to_vec();
        big[0] = 0x80;
        let big = NoteSignature::new(good.name().clone(), good.key_id(), big);
        assert!(matches!(
            cp.add_cosignature(big, &w.verifier_key()),
            Err(CosignatureError::Bad { .. })
        ));
        // A note-signing (0x01) key is not a witness key.
        assert!(matches!(
            cp.verify_cosignatures(&[log.verifier_key()]),
            Err(CosignatureError::NotAWitnessKey { .. })
        ));
        // Missing, then present, then a forged line beside a good one.
        assert!(matches!(
            cp.verify_cosignatures(&[w.verifier_key()]),
            Err(CosignatureError::Missing { .. })
        ));
        let v = cp.add_cosignature(good, &w.verifier_key()).unwrap();
        assert_eq!(v.time, UnixTime(100));
        assert_eq!(
            cp.verify_cosignatures(&[w.verifier_key()]).unwrap().len(),
            1
        );
        let text = format!("{cp}{}", retimed.to_line());
        let reopened = SignedCheckpoint::open(text.as_bytes(), &log.verifier_key()).unwrap();
        assert_eq!(
            reopened.verify_cosignatures(&[w.verifier_key()]),
            Err(CosignatureError::Bad {
                witness: w.name().clone()
            })
        );
        // The log's own verification ignores cosignatures.
        assert!(SignedCheckpoint::open(text.as_bytes(), &log.verifier_key()).is_ok());
    }

    #[test]
    fn log_16_witness_checks_consistency_before_cosigning() {
        let log = signer_of_log();
        let all = leaves(20);
        let mut witness = Witness::new(cosigner(9), log.verifier_key()).unwrap();
        let t = UnixTime(1_800_000_000);
        let cp5 = signed(&log, &all[..5]).to_string();
        witness.cosign(cp5.as_bytes(), &[], t).unwrap();
        assert_eq!(witness.latest().unwrap().tree_size, 5);
        // Consistent growth.
        let cp9 = signed(&log, &all[..9]);
        let proof = tree::consistency_proof(&all[..9], 5).unwrap();
        let sig = witness
            .cosign(cp9.to_string().as_bytes(), &proof.consistency_path, t)
            .unwrap();
        let mut cosigned = cp9.clone();
        cosigned
            .add_cosignature(sig, &witness.verifier_key())
            .unwrap();
        // The same checkpoint again needs no proof.
        witness.cosign(cp9.to_string().as_bytes(), &[], t).unwrap();
        // Rollback.
        assert_eq!(
            witness.cosign(cp5.as_bytes(), &[], t),
            Err(WitnessError::Rollback {
                latest: 9,
                offered: 5
            })
        );
        // Split view: same size, another root.
        let mut forked = all[..9].to_vec();
        forked[3] = leaf_hash(b"rewritten");
        let fork9 = signed(&log, &forked);
        assert_eq!(
            witness.cosign(fork9.to_string().as_bytes(), &[], t),
            Err(WitnessError::SplitView { size: 9 })
        );
        // A larger fork: the proof cannot connect it.
        let mut forked12 = all[..12].to_vec();
        forked12[3] = leaf_hash(b"rewritten");
        let fork12 = signed(&log, &forked12);
        let bogus = tree::consistency_proof(&forked12, 9).unwrap();
        assert!(matches!(
            witness.cosign(fork12.to_string().as_bytes(), &bogus.consistency_path, t),
            Err(WitnessError::Inconsistent(_))
        ));
        // Not signed by the log.
        let impostor =
            NoteSigner::new(log.name().clone(), SigningKey::from_seed(&[4; 32]).unwrap());
        let fake = signed(&impostor, &all[..12]);
        assert!(matches!(
            witness.cosign(fake.to_string().as_bytes(), &[], t),
            Err(WitnessError::Checkpoint(OpenCheckpointError::Signature(_)))
        ));
        // Before 1970.
        let cp12 = signed(&log, &all[..12]);
        let proof = tree::consistency_proof(&all[..12], 9).unwrap();
        assert_eq!(
            witness.cosign(
                cp12.to_string().as_bytes(),
                &proof.consistency_path,
                UnixTime(-1)
            ),
            Err(WitnessError::TimeBeforeEpoch)
        );
        // The state did not move on any refusal.
        assert_eq!(witness.latest().unwrap().tree_size, 9);
        witness
            .cosign(cp12.to_string().as_bytes(), &proof.consistency_path, t)
            .unwrap();
        assert_eq!(witness.latest().unwrap().tree_size, 12);
        let dbg = format!("{witness:?}");
        assert!(dbg.contains("redacted"));
    }
}
