//! Following a log someone else writes: the one implementation every client uses
//! (the participant's device, the auditor, the demo), so that nothing outside this crate
//! hashes the tree (**LOG-50** to **LOG-56**).
//!
//! A [`Follower`] holds the log's key, the witnesses whose cosignatures it requires, the
//! last checkpoint it verified (*pinned*), and, when it read the entries or the hash
//! tiles, the [`Frontier`] of that tree: the roots of the perfect subtrees that make it
//! up (its compact range, one hash per set bit of the size). It moves to a newer
//! checkpoint in one of three ways, each of which first opens the checkpoint with the log
//! key and checks every required cosignature:
//!
//! - [`Follower::advance`], with an RFC 9162 consistency proof from the pinned tree (the
//!   frontier is then unknown, unless the size did not change);
//! - [`Follower::catch_up`], reading the entries appended since the pinned tree into its
//!   frontier ([`CatchUp::push`]) until they hash to the new root ([`CatchUp::finish`]);
//! - [`Follower::advance_from_tiles`], reading a consistency proof and the new frontier
//!   from any [`TileStorage`] (a directory, a remote tlog-tiles client, tiles fetched by
//!   hand).
//!
//! A smaller tree than the pinned one is a [`AdvanceError::Rollback`]; another root for
//! the pinned size a [`AdvanceError::SplitView`]; a proof that does not lead from the
//! pinned root to the new one [`AdvanceError::Inconsistent`]. Each keeps both signed
//! checkpoints as [`Evidence`]: a log that signed both has forked (or rolled back) under
//! its own key, and anyone holding the two notes can show it. On any error the follower
//! is unchanged.
//!
//! Its state ([`FollowerState`]) is plain JSON-serialisable data: the pinned checkpoint
//! verbatim and the frontier in hex. The keys are not part of it: they come from the
//! caller's own trust root every time ([`Follower::from_state`] re-verifies the pinned
//! checkpoint with them).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{OpenCheckpointError, SignedCheckpoint};
use crate::cosignature::CosignatureError;
use crate::log::{LogReader, ProofError, ReaderError, TileReadError};
use crate::note::VerifierKey;
use crate::tiles::TileStorage;
use crate::verify::{ConsistencyError, ConsistencyProof, Hash, empty_root, leaf_hash, node_hash};

/// The right edge of an RFC 9162 tree: the roots of the perfect subtrees that make up its
/// first `size` leaves, largest (leftmost) first, one per set bit of `size` (**LOG-50**).
/// Appending a leaf merges the subtrees it completes; folding them from the right gives
/// `MTH(D[0:size])` (RFC 9162 §2.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// The hashes given do not make the frontier of a tree of that size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frontier of a tree of {size} entries has {expected} hashes, not {got}")]
pub struct FrontierError {
    /// The size claimed.
    pub size: u64,
    /// One hash per set bit of the size.
    pub expected: usize,
    /// How many were given.
    pub got: usize,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its stored parts.
    ///
    /// # Errors
    /// [`FrontierError`] unless there is one hash per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(FrontierError {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends the entry `entry` (its leaf hash, RFC 9162 §2.1.1).
    pub fn push(&mut self, entry: &[u8]) {
        self.push_leaf(leaf_hash(entry));
    }

    /// Appends a leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        let mut h = leaf;
        // Leaf `size` completes one subtree per trailing one bit of `size`.
        for _ in 0..self.size.trailing_ones() {
            if let Some(left) = self.hashes.pop() {
                h = node_hash(&left, &h);
            }
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// `MTH(D[0:size])`: the subtrees folded from the right (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// The two signed checkpoints that show a log forked or rolled back: both verify under
/// the log's key, and no tree can be both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The checkpoint the follower had verified before, verbatim.
    pub pinned: String,
    /// The checkpoint offered now, verbatim.
    pub offered: String,
}

/// Why a follower did not move to a checkpoint (**LOG-51** to **LOG-55**). The follower
/// is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvanceError {
    /// The checkpoint is malformed, not signed by the log key, or names another origin
    /// (LOG-11, LOG-13).
    #[error("the checkpoint does not verify under the log key: {0}")]
    Checkpoint(#[source] OpenCheckpointError),
    /// A required witness's cosignature is missing or bad (LOG-15).
    #[error("the checkpoint lacks a required cosignature: {0}")]
    Cosignature(#[source] CosignatureError),
    /// The tree is smaller than the pinned one: a rollback (LOG-52).
    #[error(
        "rollback: the log's tree has {offered} entries, fewer than the {pinned} verified before"
    )]
    Rollback {
        /// The pinned size.
        pinned: u64,
        /// The size offered.
        offered: u64,
        /// Both signed checkpoints.
        evidence: Box<Evidence>,
    },
    /// Another root for the pinned size: a split view (LOG-53).
    #[error("split view: the log signed two different trees of size {size}")]
    SplitView {
        /// The size.
        size: u64,
        /// Both signed checkpoints.
        evidence: Box<Evidence>,
    },
    /// The consistency proof does not lead from the pinned root to the new one: the log
    /// has not shown that the new tree extends the pinned one (a split view or rewritten
    /// history, LOG-53).
    #[error(
        "the tree of {offered} entries is not shown to extend the tree of {pinned} verified before: {error}"
    )]
    Inconsistent {
        /// The pinned size.
        pinned: u64,
        /// The size offered.
        offered: u64,
        /// How the proof failed.
        error: ConsistencyError,
        /// Both signed checkpoints.
        evidence: Box<Evidence>,
    },
    /// The proof is for other sizes than the pinned tree and the checkpoint.
    #[error(
        "a consistency proof from {got_first} to {got_second} was given, not from {first} to {second}"
    )]
    ProofSizes {
        /// The pinned size.
        first: u64,
        /// The checkpoint's size.
        second: u64,
        /// The proof's first size.
        got_first: u64,
        /// The proof's second size.
        got_second: u64,
    },
    /// The entries or tiles read do not hash to the checkpoint's root, continued from
    /// the pinned frontier: an entry was changed, left out or added, or the log lies about
    /// its root (LOG-54).
    #[error("the log's entries do not hash to its signed checkpoint of {size} entries")]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// Catching up by entries needs the pinned tree's frontier, which the follower does
    /// not hold (it advanced by a proof).
    #[error("the follower holds no frontier of its pinned tree to read entries onto")]
    NoFrontier,
}

impl AdvanceError {
    /// Whether the error is itself proof, under the log's own signature, that the log
    /// showed two histories: a rollback, a split view or an inconsistent proof.
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            Self::Rollback { evidence, .. }
            | Self::SplitView { evidence, .. }
            | Self::Inconsistent { evidence, .. } => Some(evidence),
            _ => None,
        }
    }
}

/// Why a follower did not move to the checkpoint of a [`TileStorage`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdvanceFromTilesError<E: std::error::Error + 'static> {
    /// The storage's checkpoint could not be read or does not verify.
    #[error(transparent)]
    Open(ReaderError<E>),
    /// A consistency proof could not be read from the tiles.
    #[error(transparent)]
    Proof(ProofError<E>),
    /// The new frontier could not be read from the tiles.
    #[error(transparent)]
    Frontier(TileReadError<E>),
    /// The checkpoint was refused.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

/// A follower's state, for a device's store or an auditor's state file: the pinned
/// checkpoint verbatim and, if known, the frontier of its tree (hex). Keys are not in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowerState {
    /// The pinned signed checkpoint, verbatim; `None` before the first.
    pub checkpoint: Option<String>,
    /// The frontier of its tree, if known.
    pub frontier: Option<FrontierState>,
}

/// A frontier as stored: its size and its hashes in lowercase hex, largest subtree first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontierState {
    /// The tree size.
    pub size: u64,
    /// The subtree roots, hex.
    pub hashes: Vec<String>,
}

/// Why a stored follower state could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FollowerStateError {
    /// The pinned checkpoint does not verify under the log key given.
    #[error("the stored checkpoint does not verify under the log key: {0}")]
    Checkpoint(#[source] OpenCheckpointError),
    /// A frontier hash is not 32 bytes of hex.
    #[error("a stored frontier hash is not 64 hex digits")]
    Hash,
    /// The frontier does not fit its size.
    #[error(transparent)]
    Frontier(#[from] FrontierError),
    /// The frontier is not that of the pinned tree (another size or root).
    #[error("the stored frontier is not the pinned checkpoint's tree")]
    FrontierMismatch,
}

impl From<&Frontier> for FrontierState {
    fn from(f: &Frontier) -> Self {
        Self {
            size: f.size,
            hashes: f.hashes.iter().map(Hash::to_hex).collect(),
        }
    }
}

impl TryFrom<&FrontierState> for Frontier {
    type Error = FollowerStateError;

    fn try_from(s: &FrontierState) -> Result<Self, Self::Error> {
        let hashes = s
            .hashes
            .iter()
            .map(|h| parse_hex(h).ok_or(FollowerStateError::Hash))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier::from_parts(s.size, hashes)?)
    }
}

/// A hash from 64 lowercase or uppercase hex digits.
pub fn parse_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Hash::from_bytes(out))
}

/// A client's view of a log: the last checkpoint it verified and, when known, that
/// tree's frontier (**LOG-50**). See the [module documentation](self).
#[derive(Clone, PartialEq, Eq)]
pub struct Follower {
    log_key: VerifierKey,
    witnesses: Vec<VerifierKey>,
    pinned: Option<SignedCheckpoint>,
    frontier: Option<Frontier>,
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("log_key", &self.log_key.to_string())
            .field("witnesses", &self.witnesses.len())
            .field("size", &self.size())
            .field("frontier", &self.frontier.is_some())
            .finish()
    }
}

impl Follower {
    /// A follower that has verified nothing yet: its first checkpoint is trusted on the
    /// log key's and the witnesses' signatures alone (trust on first use of that tree),
    /// and its frontier is that of the empty tree.
    pub fn new(log_key: VerifierKey, witnesses: Vec<VerifierKey>) -> Self {
        Self {
            log_key,
            witnesses,
            pinned: None,
            frontier: Some(Frontier::new()),
        }
    }

    /// A follower pinned to `checkpoint`, verified before, without its frontier.
    pub fn pinned(
        log_key: VerifierKey,
        witnesses: Vec<VerifierKey>,
        checkpoint: SignedCheckpoint,
    ) -> Self {
        Self {
            log_key,
            witnesses,
            pinned: Some(checkpoint),
            frontier: None,
        }
    }

    /// Restores a follower from its stored state, re-verifying the pinned checkpoint
    /// with `log_key` (not its cosignatures: the witnesses required may have changed
    /// since) and checking that the frontier is its tree's.
    ///
    /// # Errors
    /// A [`FollowerStateError`].
    pub fn from_state(
        log_key: VerifierKey,
        witnesses: Vec<VerifierKey>,
        state: &FollowerState,
    ) -> Result<Self, FollowerStateError> {
        let pinned = state
            .checkpoint
            .as_ref()
            .map(|t| SignedCheckpoint::open(t.as_bytes(), &log_key))
            .transpose()
            .map_err(FollowerStateError::Checkpoint)?;
        let frontier = match (&state.frontier, &pinned) {
            (Some(f), _) => Some(Frontier::try_from(f)?),
            (None, None) => Some(Frontier::new()),
            (None, Some(_)) => None,
        };
        if let Some(f) = &frontier {
            let (size, root) = pinned.as_ref().map_or((0, empty_root()), |cp| {
                (cp.checkpoint().tree_size(), *cp.checkpoint().root_hash())
            });
            if f.size() != size || f.root() != root {
                return Err(FollowerStateError::FrontierMismatch);
            }
        }
        Ok(Self {
            log_key,
            witnesses,
            pinned,
            frontier,
        })
    }

    /// The state to store.
    pub fn state(&self) -> FollowerState {
        FollowerState {
            checkpoint: self.pinned.as_ref().map(ToString::to_string),
            frontier: self.frontier.as_ref().map(FrontierState::from),
        }
    }

    /// The log's key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// The witnesses whose cosignatures every checkpoint must carry.
    pub fn witnesses(&self) -> &[VerifierKey] {
        &self.witnesses
    }

    /// The last checkpoint verified, if any.
    pub fn checkpoint(&self) -> Option<&SignedCheckpoint> {
        self.pinned.as_ref()
    }

    /// The pinned tree's size (0 before the first checkpoint).
    pub fn size(&self) -> u64 {
        self.pinned
            .as_ref()
            .map_or(0, |cp| cp.checkpoint().tree_size())
    }

    /// The pinned tree's root.
    pub fn root(&self) -> Hash {
        self.pinned
            .as_ref()
            .map_or_else(empty_root, |cp| *cp.checkpoint().root_hash())
    }

    /// The pinned tree's frontier, when the follower read it.
    pub fn frontier(&self) -> Option<&Frontier> {
        self.frontier.as_ref()
    }

    /// Opens `checkpoint` and checks it against the pinned tree without any proof
    /// (**LOG-51** to **LOG-53**): the log key's signature and origin, every required
    /// cosignature, no rollback, no other root for the pinned size. What a client checks
    /// before it reads anything the checkpoint names.
    ///
    /// # Errors
    /// [`AdvanceError::Checkpoint`], [`AdvanceError::Cosignature`],
    /// [`AdvanceError::Rollback`] or [`AdvanceError::SplitView`].
    pub fn check(&self, checkpoint: &[u8]) -> Result<SignedCheckpoint, AdvanceError> {
        let cp =
            SignedCheckpoint::open(checkpoint, &self.log_key).map_err(AdvanceError::Checkpoint)?;
        cp.verify_cosignatures(&self.witnesses)
            .map_err(AdvanceError::Cosignature)?;
        if let Some(p) = &self.pinned {
            let (size, pinned) = (cp.checkpoint().tree_size(), p.checkpoint().tree_size());
            if size < pinned {
                return Err(AdvanceError::Rollback {
                    pinned,
                    offered: size,
                    evidence: self.evidence(&cp),
                });
            }
            if size == pinned && cp.checkpoint().root_hash() != p.checkpoint().root_hash() {
                return Err(AdvanceError::SplitView {
                    size,
                    evidence: self.evidence(&cp),
                });
            }
        }
        Ok(cp)
    }

    fn evidence(&self, offered: &SignedCheckpoint) -> Box<Evidence> {
        Box::new(Evidence {
            pinned: self
                .pinned
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            offered: offered.to_string(),
        })
    }

    /// Moves to `checkpoint` with `proof`, the RFC 9162 consistency proof from the
    /// pinned tree to it (**LOG-51** to **LOG-53**). From no pinned checkpoint, or the
    /// empty tree, any proof of the right sizes with an empty path is accepted: every tree
    /// extends the empty one. The frontier is kept if the size did not change, and
    /// forgotten otherwise.
    ///
    /// # Errors
    /// An [`AdvanceError`]; the follower is unchanged.
    pub fn advance(
        &mut self,
        checkpoint: &[u8],
        proof: &ConsistencyProof,
    ) -> Result<(), AdvanceError> {
        let cp = self.check(checkpoint)?;
        let (first, second) = (self.size(), cp.checkpoint().tree_size());
        if (proof.first, proof.second) != (first, second) {
            return Err(AdvanceError::ProofSizes {
                first,
                second,
                got_first: proof.first,
                got_second: proof.second,
            });
        }
        if first > 0 {
            proof
                .verify(&self.root(), cp.checkpoint().root_hash())
                .map_err(|error| AdvanceError::Inconsistent {
                    pinned: first,
                    offered: second,
                    error,
                    evidence: self.evidence(&cp),
                })?;
        } else if !proof.consistency_path.is_empty() {
            return Err(AdvanceError::Inconsistent {
                pinned: 0,
                offered: second,
                error: ConsistencyError::EmptyFirstTree,
                evidence: self.evidence(&cp),
            });
        }
        if first != second {
            self.frontier = (second == 0).then(Frontier::new);
        }
        self.pinned = Some(cp);
        Ok(())
    }

    /// Starts moving to `checkpoint` by reading the entries appended since the pinned
    /// tree (**LOG-54**): push them in order with [`CatchUp::push`], then
    /// [`CatchUp::finish`]. The checkpoint is checked first ([`Follower::check`]).
    ///
    /// # Errors
    /// What [`Follower::check`] returns, or [`AdvanceError::NoFrontier`].
    pub fn catch_up(&self, checkpoint: &[u8]) -> Result<CatchUp, AdvanceError> {
        let cp = self.check(checkpoint)?;
        let frontier = self.frontier.clone().ok_or(AdvanceError::NoFrontier)?;
        Ok(CatchUp {
            follower: self.clone(),
            checkpoint: cp,
            frontier,
        })
    }

    /// Moves to the checkpoint `storage` serves, reading the consistency proof from the
    /// pinned tree and the new frontier from its hash tiles (**LOG-55**). Only the
    /// checkpoint is read before it is checked ([`Follower::check`]).
    ///
    /// # Errors
    /// An [`AdvanceFromTilesError`]; the follower is unchanged.
    pub fn advance_from_tiles<S: TileStorage>(
        &mut self,
        storage: S,
    ) -> Result<(), AdvanceFromTilesError<S::Error>> {
        let reader = LogReader::open(storage, &self.log_key).map_err(|e| match e {
            ReaderError::Checkpoint(e) => {
                AdvanceFromTilesError::Advance(AdvanceError::Checkpoint(e))
            }
            e => AdvanceFromTilesError::Open(e),
        })?;
        let text = reader.checkpoint().to_string();
        let cp = self.check(text.as_bytes())?;
        let (first, second) = (self.size(), cp.checkpoint().tree_size());
        let proof = if first == 0 {
            ConsistencyProof {
                first,
                second,
                consistency_path: Vec::new(),
            }
        } else {
            reader
                .consistency_proof(first, second)
                .map_err(AdvanceFromTilesError::Proof)?
        };
        let frontier = reader.frontier().map_err(AdvanceFromTilesError::Frontier)?;
        if frontier.root() != *cp.checkpoint().root_hash() {
            return Err(AdvanceError::RootMismatch { size: second }.into());
        }
        let mut next = self.clone();
        next.advance(text.as_bytes(), &proof)?;
        next.frontier = Some(frontier);
        *self = next;
        Ok(())
    }
}

/// A follower reading the entries between its pinned tree and a new checkpoint
/// ([`Follower::catch_up`]).
#[derive(Debug)]
pub struct CatchUp {
    follower: Follower,
    checkpoint: SignedCheckpoint,
    frontier: Frontier,
}

impl CatchUp {
    /// The checkpoint being caught up to, verified.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The next entry's index: the size of the tree read so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the tree read so far, to check a tree head of that size against
    /// (a receipt's checkpoint, say).
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Whether every entry up to the checkpoint's size has been pushed.
    pub fn is_complete(&self) -> bool {
        self.frontier.size() >= self.checkpoint.checkpoint().tree_size()
    }

    /// Reads the next entry into the tree.
    pub fn push(&mut self, entry: &[u8]) {
        self.frontier.push(entry);
    }

    /// Checks that the entries pushed hash to the checkpoint's root, and returns the
    /// follower moved to it, with the new frontier.
    ///
    /// # Errors
    /// [`AdvanceError::RootMismatch`] if they do not (too few, too many, or other
    /// entries).
    pub fn finish(self) -> Result<Follower, AdvanceError> {
        let cp = self.checkpoint.checkpoint();
        if self.frontier.size() != cp.tree_size() || self.frontier.root() != *cp.root_hash() {
            return Err(AdvanceError::RootMismatch {
                size: cp.tree_size(),
            });
        }
        let mut follower = self.follower;
        follower.pinned = Some(self.checkpoint);
        follower.frontier = Some(self.frontier);
        Ok(follower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature::{Cosigner, Witness};
    use crate::note::{KeyName, NoteSigner};
    use crate::tiles::MemoryStorage;
    use crate::{Log, tree};
    use minimis_crypto::SigningKey;
    use minimis_proto::UnixTime;
    use proptest::prelude::*;

    const ORIGIN: &str = "log.minimis.example/follow";

    fn signer(seed: u8) -> NoteSigner {
        NoteSigner::new(
            KeyName::new(ORIGIN).unwrap(),
            SigningKey::from_seed(&[seed; 32]).unwrap(),
        )
    }

    fn entry(tag: u8, i: u64) -> Vec<u8> {
        let mut e = vec![tag];
        e.extend_from_slice(&i.to_be_bytes());
        e
    }

    /// A log written by the log key (seed 1), one batch per size in `sizes`; its entries
    /// are `entry(tag, i)`. Returns the log, each checkpoint and its storage then.
    struct History {
        log: Log<MemoryStorage>,
        entries: Vec<Vec<u8>>,
        checkpoints: Vec<(u64, String, MemoryStorage)>,
    }

    fn history(tag: u8, sizes: &[u64]) -> History {
        let mut log = Log::create(MemoryStorage::new(), signer(1)).unwrap();
        let mut entries = Vec::new();
        let mut checkpoints = Vec::new();
        for &size in sizes {
            let batch: Vec<Vec<u8>> = (log.size()..size).map(|i| entry(tag, i)).collect();
            if !batch.is_empty() {
                log.append_batch(&batch).unwrap();
            }
            entries.extend(batch);
            checkpoints.push((size, log.checkpoint().to_string(), log.storage().clone()));
        }
        History {
            log,
            entries,
            checkpoints,
        }
    }

    fn follower() -> Follower {
        Follower::new(signer(1).verifier_key(), Vec::new())
    }

    fn proof(log: &Log<MemoryStorage>, first: u64, second: u64) -> ConsistencyProof {
        if first == 0 {
            return ConsistencyProof {
                first,
                second,
                consistency_path: Vec::new(),
            };
        }
        log.consistency_proof(first, second).unwrap()
    }

    #[test]
    fn log_50_frontier_root_is_the_tree_root_at_every_size_to_300() {
        let leaves: Vec<Hash> = (0..300).map(|i| leaf_hash(&entry(0, i))).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), tree::root(&[]));
        for (i, leaf) in leaves.iter().enumerate() {
            f.push(&entry(0, i as u64));
            assert_eq!(f.size(), i as u64 + 1);
            assert_eq!(f.hashes().len(), f.size().count_ones() as usize);
            assert_eq!(f.root(), tree::root(&leaves[..=i]), "size {}", i + 1);
            assert_eq!(*leaf, leaf_hash(&entry(0, i as u64)));
        }
        assert_eq!(
            Frontier::from_parts(3, vec![leaves[0]]),
            Err(FrontierError {
                size: 3,
                expected: 2,
                got: 1
            })
        );
    }

    #[test]
    fn log_51_a_checkpoint_under_another_key_is_refused_and_changes_nothing() {
        let h = history(0, &[5]);
        let mut f = follower();
        f.advance(h.checkpoints[0].1.as_bytes(), &proof(&h.log, 0, 5))
            .unwrap();
        let before = f.clone();
        // The same origin, another key: an impostor.
        let mut impostor = Log::create(MemoryStorage::new(), signer(2)).unwrap();
        impostor
            .append_batch(&(0..9).map(|i| entry(0, i)).collect::<Vec<_>>())
            .unwrap();
        let text = impostor.checkpoint().to_string();
        let e = f
            .advance(text.as_bytes(), &proof(&impostor, 5, 9))
            .unwrap_err();
        assert!(
            matches!(
                e,
                AdvanceError::Checkpoint(OpenCheckpointError::Signature(_))
            ),
            "{e:?}"
        );
        assert!(matches!(
            f.catch_up(text.as_bytes()).unwrap_err(),
            AdvanceError::Checkpoint(_)
        ));
        assert_eq!(f, before);
    }

    #[test]
    fn log_51_a_checkpoint_without_a_required_cosignature_is_refused() {
        let h = history(0, &[4]);
        let witness_key = {
            let mut w = Witness::new(
                Cosigner::new(
                    KeyName::new("oversight.example/w").unwrap(),
                    SigningKey::from_seed(&[9; 32]).unwrap(),
                ),
                signer(1).verifier_key(),
            )
            .unwrap();
            let key = w.verifier_key();
            let text = &h.checkpoints[0].1;
            let cosig = w
                .cosign(text.as_bytes(), &[], UnixTime(1_800_000_000))
                .unwrap();
            let mut cp =
                SignedCheckpoint::open(text.as_bytes(), &signer(1).verifier_key()).unwrap();
            cp.add_cosignature(cosig, &key).unwrap();
            // With the cosignature it is accepted.
            let mut f = Follower::new(signer(1).verifier_key(), vec![key.clone()]);
            f.advance(cp.to_string().as_bytes(), &proof(&h.log, 0, 4))
                .unwrap();
            assert_eq!(f.size(), 4);
            key
        };
        // Without it, refused.
        let mut f = Follower::new(signer(1).verifier_key(), vec![witness_key]);
        let e = f
            .advance(h.checkpoints[0].1.as_bytes(), &proof(&h.log, 0, 4))
            .unwrap_err();
        assert!(
            matches!(
                e,
                AdvanceError::Cosignature(CosignatureError::Missing { .. })
            ),
            "{e:?}"
        );
        assert_eq!(f.size(), 0);
        assert!(f.checkpoint().is_none());
    }

    #[test]
    fn log_52_a_log_that_rolls_back_is_caught_with_both_checkpoints() {
        let h = history(0, &[5, 12]);
        let mut f = follower();
        f.advance(h.checkpoints[1].1.as_bytes(), &proof(&h.log, 0, 12))
            .unwrap();
        let before = f.clone();
        // The log serves its older checkpoint again: genuinely signed, smaller.
        let old = &h.checkpoints[0].1;
        let e = f
            .advance(old.as_bytes(), &proof(&h.log, 5, 12))
            .unwrap_err();
        match &e {
            AdvanceError::Rollback {
                pinned: 12,
                offered: 5,
                evidence,
            } => {
                assert_eq!(evidence.pinned, h.checkpoints[1].1);
                assert_eq!(evidence.offered, *old);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.evidence().is_some());
        assert!(matches!(
            f.catch_up(old.as_bytes()).unwrap_err(),
            AdvanceError::Rollback { .. }
        ));
        assert!(matches!(
            f.advance_from_tiles(h.checkpoints[0].2.clone())
                .unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::Rollback { .. })
        ));
        assert_eq!(f, before);
    }

    #[test]
    fn log_53_a_log_that_forks_is_caught_at_the_same_size_and_beyond() {
        // Two logs under one key: the same first 6 entries, then different ones.
        let honest = history(0, &[6, 10, 20]);
        let mut forked = Log::create(MemoryStorage::new(), signer(1)).unwrap();
        forked.append_batch(&honest.entries[..6]).unwrap();
        forked
            .append_batch(&(6..20).map(|i| entry(1, i)).collect::<Vec<_>>())
            .unwrap();
        let mut fork_10 = Log::create(MemoryStorage::new(), signer(1)).unwrap();
        fork_10.append_batch(&honest.entries[..6]).unwrap();
        fork_10
            .append_batch(&(6..10).map(|i| entry(1, i)).collect::<Vec<_>>())
            .unwrap();

        let mut f = follower();
        f.advance(
            honest.checkpoints[1].1.as_bytes(),
            &proof(&honest.log, 0, 10),
        )
        .unwrap();
        let before = f.clone();
        // Same size, other root.
        let other = fork_10.checkpoint().to_string();
        match f.advance(
            other.as_bytes(),
            &ConsistencyProof {
                first: 10,
                second: 10,
                consistency_path: Vec::new(),
            },
        ) {
            Err(AdvanceError::SplitView { size: 10, evidence }) => {
                assert_eq!(evidence.pinned, honest.checkpoints[1].1);
                assert_eq!(evidence.offered, other);
            }
            other => panic!("{other:?}"),
        }
        // A larger tree of the fork: its own proof does not lead from the pinned root.
        let text = forked.checkpoint().to_string();
        let e = f
            .advance(text.as_bytes(), &forked.consistency_proof(10, 20).unwrap())
            .unwrap_err();
        assert!(
            matches!(
                e,
                AdvanceError::Inconsistent {
                    pinned: 10,
                    offered: 20,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.evidence().map(|x| x.offered.as_str()),
            Some(text.as_str())
        );
        // Nor can the fork's entries be read onto the pinned frontier... (it has none
        // after a proof); a follower that read the honest entries catches it by root.
        let mut g = follower();
        let mut c = g.catch_up(honest.checkpoints[1].1.as_bytes()).unwrap();
        honest.entries[..10].iter().for_each(|e| c.push(e));
        g = c.finish().unwrap();
        let mut c = g.catch_up(text.as_bytes()).unwrap();
        (10..20).for_each(|i| c.push(&entry(1, i)));
        assert_eq!(
            c.finish().unwrap_err(),
            AdvanceError::RootMismatch { size: 20 }
        );
        assert!(matches!(
            g.advance_from_tiles(forked.storage().clone()).unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::Inconsistent { .. })
        ));
        assert_eq!(f, before);
        assert_eq!(g.size(), 10);
    }

    #[test]
    fn log_54_a_log_that_lies_about_its_root_is_caught() {
        let h = history(0, &[7, 15]);
        let mut f = follower();
        let mut c = f.catch_up(h.checkpoints[0].1.as_bytes()).unwrap();
        h.entries[..7].iter().for_each(|e| c.push(e));
        f = c.finish().unwrap();
        // The log signs a checkpoint of 15 entries whose root is not its entries'.
        let lie = SignedCheckpoint::sign(
            Checkpoint::new(ORIGIN, 15, leaf_hash(b"not the root")).unwrap(),
            &signer(1),
        )
        .unwrap()
        .to_string();
        let mut c = f.catch_up(lie.as_bytes()).unwrap();
        h.entries[7..15].iter().for_each(|e| c.push(e));
        assert_eq!(
            c.finish().unwrap_err(),
            AdvanceError::RootMismatch { size: 15 }
        );
        // Too few entries against the true checkpoint is a mismatch too.
        let mut c = f.catch_up(h.checkpoints[1].1.as_bytes()).unwrap();
        h.entries[7..14].iter().for_each(|e| c.push(e));
        assert!(!c.is_complete());
        assert_eq!(
            c.finish().unwrap_err(),
            AdvanceError::RootMismatch { size: 15 }
        );
        // The same lie served over tiles: the tiles' frontier does not reach its root.
        let mut storage = h.checkpoints[1].2.clone();
        storage.write_checkpoint(&lie).unwrap();
        let mut g = follower();
        assert!(matches!(
            g.advance_from_tiles(storage).unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::RootMismatch { size: 15 })
        ));
        assert_eq!(g.size(), 0);
        assert_eq!(f.size(), 7);
    }

    #[test]
    fn log_51_a_proof_for_other_sizes_is_refused() {
        let h = history(0, &[3, 9]);
        let mut f = follower();
        f.advance(h.checkpoints[0].1.as_bytes(), &proof(&h.log, 0, 3))
            .unwrap();
        let e = f
            .advance(h.checkpoints[1].1.as_bytes(), &proof(&h.log, 2, 9))
            .unwrap_err();
        assert!(matches!(
            e,
            AdvanceError::ProofSizes {
                first: 3,
                second: 9,
                got_first: 2,
                ..
            }
        ));
        let mut g = follower();
        let e = g
            .advance(
                h.checkpoints[0].1.as_bytes(),
                &ConsistencyProof {
                    first: 0,
                    second: 3,
                    consistency_path: vec![leaf_hash(b"x")],
                },
            )
            .unwrap_err();
        assert!(matches!(e, AdvanceError::Inconsistent { .. }));
    }

    #[test]
    fn log_55_following_by_tiles_reaches_the_same_state_as_reading_entries() {
        let h = history(0, &[1, 255, 256, 257, 700]);
        let mut by_tiles = follower();
        let mut by_entries = follower();
        let mut read = 0usize;
        for (size, text, storage) in &h.checkpoints {
            by_tiles.advance_from_tiles(storage.clone()).unwrap();
            let mut c = by_entries.catch_up(text.as_bytes()).unwrap();
            for e in &h.entries[read..*size as usize] {
                c.push(e);
            }
            read = *size as usize;
            by_entries = c.finish().unwrap();
            assert_eq!(by_tiles, by_entries, "size {size}");
            assert_eq!(by_tiles.frontier().map(Frontier::size), Some(*size));
        }
    }

    #[test]
    fn log_55_nothing_but_the_checkpoint_is_read_before_it_is_checked() {
        let h = history(0, &[40, 90]);
        let mut f = follower();
        f.advance_from_tiles(h.checkpoints[1].2.clone()).unwrap();
        // Storages holding a checkpoint and no tile at all: a rollback, a split view and
        // a checkpoint under another key are refused as such, not as a missing tile.
        let only = |text: &str| {
            let mut s = MemoryStorage::new();
            s.write_checkpoint(text).unwrap();
            s
        };
        assert!(matches!(
            f.advance_from_tiles(only(&h.checkpoints[0].1)).unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::Rollback { .. })
        ));
        let other = SignedCheckpoint::sign(
            Checkpoint::new(ORIGIN, 90, leaf_hash(b"other")).unwrap(),
            &signer(1),
        )
        .unwrap()
        .to_string();
        assert!(matches!(
            f.advance_from_tiles(only(&other)).unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::SplitView { size: 90, .. })
        ));
        let stranger = SignedCheckpoint::sign(
            Checkpoint::new(ORIGIN, 95, leaf_hash(b"other")).unwrap(),
            &signer(2),
        )
        .unwrap()
        .to_string();
        assert!(matches!(
            f.advance_from_tiles(only(&stranger)).unwrap_err(),
            AdvanceFromTilesError::Advance(AdvanceError::Checkpoint(_))
        ));
        // A valid larger checkpoint with its tiles missing: only then is a tile asked for.
        let mut h2 = history(0, &[40, 90, 100]);
        let text = h2.checkpoints.pop().unwrap().1;
        assert!(matches!(
            f.advance_from_tiles(only(&text)).unwrap_err(),
            AdvanceFromTilesError::Proof(_)
        ));
        assert_eq!(f.size(), 90);
    }

    #[test]
    fn log_56_state_round_trips_and_a_tampered_state_is_refused() {
        let h = history(0, &[13]);
        let key = signer(1).verifier_key();
        let fresh = follower();
        let json = serde_json::to_string(&fresh.state()).unwrap();
        let back: FollowerState = serde_json::from_str(&json).unwrap();
        assert_eq!(
            Follower::from_state(key.clone(), Vec::new(), &back).unwrap(),
            fresh
        );

        let mut f = follower();
        f.advance_from_tiles(h.checkpoints[0].2.clone()).unwrap();
        let state = f.state();
        let json = serde_json::to_string(&state).unwrap();
        let back: FollowerState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        assert_eq!(
            Follower::from_state(key.clone(), Vec::new(), &back).unwrap(),
            f
        );

        // A frontier that is not the pinned tree's.
        let mut bad = state.clone();
        if let Some(fr) = &mut bad.frontier {
            fr.hashes[0] = leaf_hash(b"x").to_hex();
        }
        assert_eq!(
            Follower::from_state(key.clone(), Vec::new(), &bad),
            Err(FollowerStateError::FrontierMismatch)
        );
        let mut bad = state.clone();
        if let Some(fr) = &mut bad.frontier {
            fr.hashes[0] = "zz".into();
        }
        assert_eq!(
            Follower::from_state(key.clone(), Vec::new(), &bad),
            Err(FollowerStateError::Hash)
        );
        // A checkpoint under another key.
        assert!(matches!(
            Follower::from_state(signer(2).verifier_key(), Vec::new(), &state),
            Err(FollowerStateError::Checkpoint(_))
        ));
        // A pinned checkpoint without frontier restores without one.
        let pinned_only = FollowerState {
            checkpoint: state.checkpoint.clone(),
            frontier: None,
        };
        let g = Follower::from_state(key, Vec::new(), &pinned_only).unwrap();
        assert_eq!((g.size(), g.frontier()), (13, None));
        assert_eq!(
            g.catch_up(h.checkpoints[0].1.as_bytes()).unwrap_err(),
            AdvanceError::NoFrontier
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Advancing through any sequence of checkpoints equals advancing once to the
        /// last, by proofs, by entries and by tiles (LOG-50).
        #[test]
        fn log_50_advancing_in_steps_equals_advancing_once(
            mut sizes in proptest::collection::vec(0u64..600, 1..6)
        ) {
            sizes.sort_unstable();
            let h = history(0, &sizes);
            let (last, last_text, last_storage) = h.checkpoints.last().unwrap().clone();

            let mut once = follower();
            once.advance(last_text.as_bytes(), &proof(&h.log, 0, last)).unwrap();
            let mut steps = follower();
            for (size, text, _) in &h.checkpoints {
                steps.advance(text.as_bytes(), &proof(&h.log, steps.size(), *size)).unwrap();
            }
            prop_assert_eq!(steps.checkpoint(), once.checkpoint());

            let mut once = follower();
            let mut c = once.catch_up(last_text.as_bytes()).unwrap();
            h.entries.iter().for_each(|e| c.push(e));
            once = c.finish().unwrap();
            let mut steps = follower();
            for (size, text, _) in &h.checkpoints {
                let mut c = steps.catch_up(text.as_bytes()).unwrap();
                h.entries[steps.size() as usize..*size as usize].iter().for_each(|e| c.push(e));
                steps = c.finish().unwrap();
            }
            prop_assert_eq!(&steps, &once);

            let mut tiles = follower();
            for (_, _, storage) in &h.checkpoints {
                tiles.advance_from_tiles(storage.clone()).unwrap();
            }
            let mut tiles_once = follower();
            tiles_once.advance_from_tiles(last_storage).unwrap();
            prop_assert_eq!(&tiles, &once);
            prop_assert_eq!(&tiles_once, &once);
        }
    }
}
