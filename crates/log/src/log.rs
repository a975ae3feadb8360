//! The log: appends entries in batches, keeps the tree as tlog-tiles, signs one
//! checkpoint per batch and proves inclusion and consistency from the tiles; and the
//! [`LogReader`] that opens, proves from and audits a log someone else wrote.
//!
//! Appending keeps the right edge of the tree (one hash per set bit of the size) and the
//! rightmost tile of each level in memory, so an entry costs its leaf hash, on average
//! one node hash, and a copy into its tile and bundle; full tiles and bundles are
//! written as they fill, partial ones and the checkpoint at the end of each batch.
//!
//! Spec: `spec/log.md` § The log (**LOG-14**, **LOG-22** to **LOG-24**, **LOG-29**).

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use crate::checkpoint::{Checkpoint, OpenCheckpointError, SignedCheckpoint};
use crate::cosignature::{CosignatureError, VerifiedCosignature};
use crate::entry::LogEntry;
use crate::follow::Frontier;
use crate::note::{NoteSignature, NoteSigner, VerifierKey};
use crate::tiles::{
    BundleError, BundleId, DirSummary, ExportError, FULL_TILE_LEN, ImportError, MAX_ENTRY_LEN,
    MemoryStorage, TILE_HEIGHT, TILE_WIDTH, TileId, TileStorage, export_dir, level_len, read_dir,
    split_bundle, tile_width,
};
use crate::tlog_proof::TlogProof;
use crate::tree::{ProveError, SubtreeHashes, prove_consistency, prove_inclusion, split_point};
use crate::verify::{
    ConsistencyProof, HASH_LEN, Hash, InclusionProof, empty_root, leaf_hash, node_hash,
};

/// Why a tile needed for a hash could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileReadError<E: std::error::Error + 'static> {
    /// The tile is not stored.
    #[error("tile {tile} is missing")]
    Missing {
        /// The tile.
        tile: TileId,
    },
    /// The stored tile has the wrong length.
    #[error("tile {tile} has {len} bytes")]
    Length {
        /// The tile.
        tile: TileId,
        /// Its length.
        len: usize,
    },
    /// The storage failed.
    #[error("reading the tile storage failed")]
    Storage(#[source] E),
}

/// Why a proof could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError<E: std::error::Error + 'static> {
    /// The index or sizes are outside the log.
    #[error(transparent)]
    Range(#[from] ProveError),
    /// A tile could not be read.
    #[error(transparent)]
    Tiles(#[from] TileReadError<E>),
}

/// Why an entry could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadEntryError<E: std::error::Error + 'static> {
    /// No entry at that index.
    #[error("no entry {index} in a log of {tree_size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The log's size.
        tree_size: u64,
    },
    /// The bundle is not stored.
    #[error("entry bundle {bundle} is missing")]
    MissingBundle {
        /// The bundle.
        bundle: BundleId,
    },
    /// The bundle is malformed.
    #[error("entry bundle {bundle}: {error}")]
    Bundle {
        /// The bundle.
        bundle: BundleId,
        /// What is wrong with it.
        error: BundleError,
    },
    /// The storage failed.
    #[error("reading the tile storage failed")]
    Storage(#[source] E),
}

/// Why a new log could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError<E: std::error::Error + 'static> {
    /// The storage already holds a log.
    #[error("the storage already holds a checkpoint; open the log instead")]
    AlreadyInitialized,
    /// The storage failed.
    #[error("the tile storage failed")]
    Storage(#[source] E),
}

/// Why a stored log could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError<E: std::error::Error + 'static> {
    /// The storage holds no checkpoint.
    #[error("the storage holds no checkpoint; create the log instead")]
    NoCheckpoint,
    /// The stored checkpoint is not this log's.
    #[error(transparent)]
    Checkpoint(#[from] OpenCheckpointError),
    /// A tile could not be read.
    #[error(transparent)]
    Tiles(#[from] TileReadError<E>),
    /// The open entry bundle could not be read.
    #[error(transparent)]
    Bundle(ReadEntryError<E>),
    /// The tiles do not hash to the checkpoint's root.
    #[error("the stored tiles do not hash to the checkpoint's root")]
    RootMismatch,
    /// The storage failed.
    #[error("the tile storage failed")]
    Storage(#[source] E),
}

/// Why a batch was not appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError<E: std::error::Error + 'static> {
    /// An entry longer than an entry bundle can carry (65,535 bytes). Nothing was
    /// appended.
    #[error("entry {position} of the batch is {len} bytes; at most {MAX_ENTRY_LEN}")]
    EntryTooLarge {
        /// Its position in the batch.
        position: usize,
        /// Its length.
        len: usize,
    },
    /// The log would pass 2^64 - 1 entries. Nothing was appended.
    #[error("the log is full")]
    Full,
    /// A previous storage failure left this handle behind its storage; open the log
    /// again.
    #[error("an earlier storage failure stopped this log; open it again")]
    Poisoned,
    /// The storage failed; this handle is now poisoned and the batch is not committed
    /// unless its checkpoint was written.
    #[error("the tile storage failed")]
    Storage(#[source] E),
}

/// Why a cosignature was not added to the log's checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddCosignatureError<E: std::error::Error + 'static> {
    /// It is not the witness's valid cosignature of the current checkpoint.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
    /// A previous storage failure stopped this handle.
    #[error("an earlier storage failure stopped this log; open it again")]
    Poisoned,
    /// The storage failed.
    #[error("the tile storage failed")]
    Storage(#[source] E),
}

/// Why a stored log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError<E: std::error::Error + 'static> {
    /// The storage holds no checkpoint.
    #[error("the storage holds no checkpoint")]
    NoCheckpoint,
    /// The checkpoint is not signed by the log or is malformed.
    #[error(transparent)]
    Checkpoint(#[from] OpenCheckpointError),
    /// The storage failed.
    #[error("the tile storage failed")]
    Storage(#[source] E),
}

/// Why a static log directory could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FromDirError {
    /// The directory could not be read.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Its checkpoint is not the log's.
    #[error(transparent)]
    Open(#[from] ReaderError<crate::tiles::MemoryStorageError>),
}

/// What an audit found wrong (**LOG-24**): each kind of tampering has its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError<E: std::error::Error + 'static> {
    /// A tile could not be read.
    #[error(transparent)]
    Tiles(#[from] TileReadError<E>),
    /// An entry could not be read: a bundle is missing, or holds too few or too many
    /// entries (an entry dropped or added).
    #[error(transparent)]
    Entries(ReadEntryError<E>),
    /// An entry does not hash to its leaf hash in the level-0 tile (an entry changed).
    #[error("entry {index} does not hash to its leaf")]
    EntryHashMismatch {
        /// The entry's index.
        index: u64,
    },
    /// A tile hash is not the hash of the full tile below it.
    #[error("hash {position} of tile {tile} is not the hash of the tile below")]
    TileHashMismatch {
        /// The tile.
        tile: TileId,
        /// The position of the hash in it.
        position: usize,
    },
    /// The tiles hash to another root than the checkpoint's (a wrong root).
    #[error("the tiles do not hash to the checkpoint's root")]
    RootMismatch,
}

/// The entries a batch appended: indices `first_index..tree_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The index of the batch's first entry.
    pub first_index: u64,
    /// The tree size after the batch: the new checkpoint's size.
    pub tree_size: u64,
}

fn hashes(bytes: &[u8]) -> impl Iterator<Item = Hash> + '_ {
    bytes.chunks_exact(HASH_LEN).map(|c| {
        let mut a = [0u8; HASH_LEN];
        a.copy_from_slice(c);
        Hash::from_bytes(a)
    })
}

/// The root of a perfect subtree whose leaves are the hashes in `bytes` (a power of two
/// of them, at most 256).
fn perfect_root(bytes: &[u8]) -> Hash {
    let mut level: Vec<Hash> = hashes(bytes).collect();
    while level.len() > 1 {
        for i in 0..level.len() / 2 {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        level.truncate(level.len() / 2);
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// A tile or bundle read from storage, with its coordinates.
type Read<'a, Id> = (Id, Cow<'a, [u8]>);

/// Reads hashes, entries and proofs of the tree of `tree_size` from tiles.
struct TreeReader<'a, S: TileStorage + ?Sized> {
    storage: &'a S,
    tree_size: u64,
}

impl<S: TileStorage + ?Sized> TreeReader<'_, S> {
    fn tile(&self, level: u32, index: u64) -> Result<Read<'_, TileId>, TileReadError<S::Error>> {
        // Levels stay below 8 in a tree of at most 2^64 - 1 entries.
        let width = tile_width(self.tree_size, level, index);
        let tile = TileId::new_unchecked(level as u8, index, width.max(1));
        if width == 0 {
            return Err(TileReadError::Missing { tile });
        }
        let data = self
            .storage
            .read_tile(tile)
            .map_err(TileReadError::Storage)?
            .ok_or(TileReadError::Missing { tile })?;
        if data.len() != tile.byte_len() {
            return Err(TileReadError::Length {
                tile,
                len: data.len(),
            });
        }
        Ok((tile, data))
    }

    /// The hash of the perfect subtree of `height` at `index` (leaves
    /// `[index·2^height, (index+1)·2^height)`), from the tile of its level.
    fn perfect(&self, height: u32, index: u64) -> Result<Hash, TileReadError<S::Error>> {
        let level = height / TILE_HEIGHT;
        let r = height % TILE_HEIGHT;
        let first = index << r;
        let count = 1usize << r;
        let (tile, data) = self.tile(level, first >> TILE_HEIGHT)?;
        let offset = (first % u64::from(TILE_WIDTH)) as usize;
        let bytes = data
            .get(offset * HASH_LEN..(offset + count) * HASH_LEN)
            .ok_or(TileReadError::Length {
                tile,
                len: data.len(),
            })?;
        Ok(perfect_root(bytes))
    }

    fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError<S::Error>> {
        if tree_size > self.tree_size {
            return Err(ProveError::TreeSizeOutOfRange {
                tree_size,
                log_size: self.tree_size,
            }
            .into());
        }
        if leaf_index >= tree_size {
            return Err(ProveError::LeafIndexOutOfRange {
                leaf_index,
                tree_size,
            }
            .into());
        }
        Ok(prove_inclusion(leaf_index, tree_size, self)?)
    }

    fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError<S::Error>> {
        if second > self.tree_size {
            return Err(ProveError::TreeSizeOutOfRange {
                tree_size: second,
                log_size: self.tree_size,
            }
            .into());
        }
        if first == 0 || first > second {
            return Err(ProveError::NoConsistencyProof { first, second }.into());
        }
        Ok(prove_consistency(first, second, self)?)
    }

    fn bundle(&self, index: u64) -> Result<Read<'_, BundleId>, ReadEntryError<S::Error>> {
        let width = tile_width(self.tree_size, 0, index);
        if width == 0 {
            return Err(ReadEntryError::IndexOutOfRange {
                index: index << TILE_HEIGHT,
                tree_size: self.tree_size,
            });
        }
        let bundle = BundleId::new_unchecked(index, width);
        let data = self
            .storage
            .read_bundle(bundle)
            .map_err(ReadEntryError::Storage)?
            .ok_or(ReadEntryError::MissingBundle { bundle })?;
        Ok((bundle, data))
    }

    fn for_each_entry<F: FnMut(u64, &[u8])>(
        &self,
        mut f: F,
    ) -> Result<(), ReadEntryError<S::Error>> {
        for index in 0..self.tree_size.div_ceil(u64::from(TILE_WIDTH)) {
            let (bundle, data) = self.bundle(index)?;
            let entries = split_bundle(&data, bundle.width())
                .map_err(|error| ReadEntryError::Bundle { bundle, error })?;
            for (i, e) in entries.into_iter().enumerate() {
                f((index << TILE_HEIGHT) + i as u64, e);
            }
        }
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, ReadEntryError<S::Error>> {
        if index >= self.tree_size {
            return Err(ReadEntryError::IndexOutOfRange {
                index,
                tree_size: self.tree_size,
            });
        }
        let (bundle, data) = self.bundle(index >> TILE_HEIGHT)?;
        let entries = split_bundle(&data, bundle.width())
            .map_err(|error| ReadEntryError::Bundle { bundle, error })?;
        let position = (index % u64::from(TILE_WIDTH)) as usize;
        entries
            .get(position)
            .map(|e| e.to_vec())
            .ok_or(ReadEntryError::IndexOutOfRange {
                index,
                tree_size: self.tree_size,
            })
    }

    /// Checks the whole tree against `checkpoint_root`, top down (**LOG-24**, **LOG-39**).
    ///
    /// First the right edge: the partial tile of each level (at most one per level, eight
    /// in all), read once, whose hashes alone make the root; they must hash to the
    /// checkpoint's root. Then every full tile, depth first and left to right, each
    /// against the hash its parent (already verified) holds for it, and every bundle
    /// against the leaf hashes of its level-0 tile. So each tile and bundle is read once,
    /// at most one tile per level is held at a time, an inconsistent tile is found as soon
    /// as it is read, and each entry reaches `f` only once it is proven part of the tree
    /// the checkpoint names, in index order.
    fn audit(
        &self,
        checkpoint_root: &Hash,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<(), AuditError<S::Error>> {
        if self.tree_size == 0 {
            return if empty_root() == *checkpoint_root {
                Ok(())
            } else {
                Err(AuditError::RootMismatch)
            };
        }
        let levels = (0..8u32)
            .take_while(|&l| level_len(self.tree_size, l) > 0)
            .count() as u32;
        // The right edge, top level first: the top level always has one, partial, tile.
        let mut edge = Vec::new();
        for level in (0..levels).rev() {
            let len = level_len(self.tree_size, level);
            if !len.is_multiple_of(u64::from(TILE_WIDTH)) {
                edge.push(self.tile(level, len / u64::from(TILE_WIDTH))?);
            }
        }
        // Its perfect subtrees, largest first: one per set bit of the tree size.
        let mut subtrees = Vec::new();
        for (tile, data) in &edge {
            let width = usize::from(tile.width());
            let mut offset = 0;
            for bit in (0..TILE_HEIGHT).rev() {
                let n = 1usize << bit;
                if width & n != 0 {
                    subtrees.push(perfect_root(
                        &data[offset * HASH_LEN..(offset + n) * HASH_LEN],
                    ));
                    offset += n;
                }
            }
        }
        // RFC 9162: MTH(D[0:n]) = node(MTH(first perfect subtree), MTH(the rest)).
        let root = subtrees
            .into_iter()
            .rev()
            .reduce(|right, left| node_hash(&left, &right))
            .unwrap_or_else(empty_root);
        if root != *checkpoint_root {
            return Err(AuditError::RootMismatch);
        }
        for (tile, data) in &edge {
            let level = u32::from(tile.level());
            if level == 0 {
                self.leaves(tile.index(), data, f)?;
            } else {
                for (position, hash) in hashes(data).enumerate() {
                    let child = (tile.index() << TILE_HEIGHT) + position as u64;
                    self.verify_full(level - 1, child, &hash, (*tile, position), f)?;
                }
            }
        }
        Ok(())
    }

    /// Checks the full tile `index` of `level` against `expected`, the hash its parent
    /// holds for it at `parent`, then everything below it.
    fn verify_full(
        &self,
        level: u32,
        index: u64,
        expected: &Hash,
        parent: (TileId, usize),
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<(), AuditError<S::Error>> {
        let (tile, data) = self.tile(level, index)?;
        if perfect_root(&data) != *expected {
            return Err(AuditError::TileHashMismatch {
                tile: parent.0,
                position: parent.1,
            });
        }
        if level == 0 {
            return self.leaves(index, &data, f);
        }
        for (position, hash) in hashes(&data).enumerate() {
            let child = (index << TILE_HEIGHT) + position as u64;
            self.verify_full(level - 1, child, &hash, (tile, position), f)?;
        }
        Ok(())
    }

    /// Checks bundle `index` against the leaf hashes of its level-0 tile, `leaves`, and
    /// hands each entry to `f`.
    fn leaves(
        &self,
        index: u64,
        leaves: &[u8],
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<(), AuditError<S::Error>> {
        let (bundle, bytes) = self.bundle(index).map_err(AuditError::Entries)?;
        let entries = split_bundle(&bytes, bundle.width())
            .map_err(|error| AuditError::Entries(ReadEntryError::Bundle { bundle, error }))?;
        for (i, (entry, leaf)) in entries.iter().zip(hashes(leaves)).enumerate() {
            let index = (index << TILE_HEIGHT) + i as u64;
            if leaf_hash(entry) != leaf {
                return Err(AuditError::EntryHashMismatch { index });
            }
            f(index, entry);
        }
        Ok(())
    }
}

impl<S: TileStorage + ?Sized> SubtreeHashes for TreeReader<'_, S> {
    type Error = TileReadError<S::Error>;

    /// `MTH(D[start:end])` following RFC 9162 §2.1.1's split, reading each perfect
    /// subtree from its tile.
    fn subtree_hash(&self, start: u64, end: u64) -> Result<Hash, Self::Error> {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let height = n.trailing_zeros();
            return self.perfect(height, start >> height);
        }
        let k = split_point(n);
        Ok(node_hash(
            &self.subtree_hash(start, start + k)?,
            &self.subtree_hash(start + k, end)?,
        ))
    }
}

/// Signs the checkpoint of `tree_size` and `root_hash` with the log's key.
fn sign(signer: &NoteSigner, tree_size: u64, root_hash: Hash) -> SignedCheckpoint {
    let signed = Checkpoint::new(signer.name().as_str(), tree_size, root_hash)
        .ok()
        .and_then(|cp| SignedCheckpoint::sign(cp, signer).ok());
    match signed {
        Some(s) => s,
        // A key name is valid origin text, and a checkpoint body valid note text.
        None => unreachable!("a checkpoint of the signer's own name always signs"),
    }
}

/// A transparency log writer over a [`TileStorage`] (C2SP tlog-tiles), signing with
/// the log's [`NoteSigner`].
///
/// Every [`Log::append_batch`] appends its entries, writes their tiles and bundles and
/// then one signed checkpoint (**LOG-22**). The log only ever extends its own tree, so
/// any two checkpoints it signs are consistent (**LOG-14**).
pub struct Log<S: TileStorage> {
    storage: S,
    signer: NoteSigner,
    /// Entries appended, committed or not.
    size: u64,
    /// Roots of the perfect subtrees along the right edge, largest first: one per set
    /// bit of `size`.
    edge: Vec<Hash>,
    /// The rightmost, incomplete tile of each level.
    open_tiles: Vec<Vec<u8>>,
    /// The rightmost, incomplete entry bundle.
    open_bundle: Vec<u8>,
    open_bundle_len: u16,
    checkpoint: SignedCheckpoint,
    poisoned: bool,
}

impl<S: TileStorage> Log<S> {
    /// A new, empty log in `storage`; writes the checkpoint of the empty tree.
    ///
    /// # Errors
    /// [`CreateError::AlreadyInitialized`] if `storage` holds a checkpoint.
    pub fn create(mut storage: S, signer: NoteSigner) -> Result<Self, CreateError<S::Error>> {
        if storage
            .read_checkpoint()
            .map_err(CreateError::Storage)?
            .is_some()
        {
            return Err(CreateError::AlreadyInitialized);
        }
        let checkpoint = sign(&signer, 0, empty_root());
        storage
            .write_checkpoint(&checkpoint.to_string())
            .map_err(CreateError::Storage)?;
        Ok(Self {
            storage,
            signer,
            size: 0,
            edge: Vec::new(),
            open_tiles: Vec::new(),
            open_bundle: Vec::new(),
            open_bundle_len: 0,
            checkpoint,
            poisoned: false,
        })
    }

    /// Opens the log in `storage`: verifies the stored checkpoint with the signer's own
    /// key, and rebuilds the right edge and open tiles from the tiles, checking that
    /// they hash to the checkpoint's root.
    ///
    /// # Errors
    /// An [`OpenError`].
    pub fn open(storage: S, signer: NoteSigner) -> Result<Self, OpenError<S::Error>> {
        let text = storage
            .read_checkpoint()
            .map_err(OpenError::Storage)?
            .ok_or(OpenError::NoCheckpoint)?
            .into_owned();
        let checkpoint = SignedCheckpoint::open(text.as_bytes(), &signer.verifier_key())?;
        let size = checkpoint.checkpoint().tree_size();
        let reader = TreeReader {
            storage: &storage,
            tree_size: size,
        };
        let mut edge = Vec::new();
        let mut start = 0u64;
        for height in (0..64u32).rev() {
            if size & (1u64 << height) != 0 {
                edge.push(reader.perfect(height, start >> height)?);
                start += 1u64 << height;
            }
        }
        let mut open_tiles = Vec::new();
        for level in 0..8u32 {
            let width = tile_width(
                size,
                level,
                crate::tiles::level_len(size, level) >> TILE_HEIGHT,
            );
            let mut buf = Vec::with_capacity(FULL_TILE_LEN);
            if width > 0 {
                let (_, data) =
                    reader.tile(level, crate::tiles::level_len(size, level) >> TILE_HEIGHT)?;
                buf.extend_from_slice(&data);
            }
            open_tiles.push(buf);
        }
        let mut open_bundle = Vec::new();
        let open_bundle_len = tile_width(size, 0, size >> TILE_HEIGHT);
        if open_bundle_len > 0 {
            let (bundle, data) = reader
                .bundle(size >> TILE_HEIGHT)
                .map_err(OpenError::Bundle)?;
            split_bundle(&data, bundle.width())
                .map_err(|error| OpenError::Bundle(ReadEntryError::Bundle { bundle, error }))?;
            open_bundle.extend_from_slice(&data);
        }
        let log = Self {
            storage,
            signer,
            size,
            edge,
            open_tiles,
            open_bundle,
            open_bundle_len,
            checkpoint,
            poisoned: false,
        };
        if log.edge_root() != *log.checkpoint.checkpoint().root_hash() {
            return Err(OpenError::RootMismatch);
        }
        Ok(log)
    }

    /// The number of entries in the latest checkpoint.
    pub fn size(&self) -> u64 {
        self.checkpoint.checkpoint().tree_size()
    }

    /// The latest signed checkpoint, with the cosignatures added to it.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The log's public key, for clients, witnesses and auditors.
    pub fn verifier_key(&self) -> VerifierKey {
        self.signer.verifier_key()
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Gives back the storage.
    pub fn into_storage(self) -> S {
        self.storage
    }

    fn edge_root(&self) -> Hash {
        let mut it = self.edge.iter().rev();
        let Some(&last) = it.next() else {
            return empty_root();
        };
        it.fold(last, |acc, left| node_hash(left, &acc))
    }

    fn reader(&self) -> TreeReader<'_, S> {
        TreeReader {
            storage: &self.storage,
            tree_size: self.size(),
        }
    }

    /// Appends `hash` to the open tile of `level`, writing the tile when it is full.
    /// `position` is the hash's index within the level.
    fn push_tile_hash(&mut self, level: usize, position: u64, hash: &Hash) -> Result<(), S::Error> {
        if self.open_tiles.len() <= level {
            self.open_tiles
                .resize_with(level + 1, || Vec::with_capacity(FULL_TILE_LEN));
        }
        let buf = &mut self.open_tiles[level];
        buf.extend_from_slice(hash.as_bytes());
        if buf.len() == FULL_TILE_LEN {
            // Levels stay below 8 in a tree of at most 2^64 - 1 entries.
            let tile = TileId::new_unchecked(level as u8, position >> TILE_HEIGHT, TILE_WIDTH);
            self.storage.write_tile(tile, buf)?;
            buf.clear();
        }
        Ok(())
    }

    /// Appends one entry of at most [`MAX_ENTRY_LEN`] bytes. With `record`, every hash
    /// computed (the leaf's, and each perfect subtree it completes) is also pushed onto
    /// the vector of its height, for [`BatchProofs`].
    fn push(&mut self, entry: &[u8], mut record: Option<&mut [Vec<Hash>]>) -> Result<(), S::Error> {
        let index = self.size;
        // Entry bundle: u16 big-endian length, then the entry.
        self.open_bundle
            .extend_from_slice(&(entry.len() as u16).to_be_bytes());
        self.open_bundle.extend_from_slice(entry);
        self.open_bundle_len += 1;
        if self.open_bundle_len == TILE_WIDTH {
            let bundle = BundleId::new_unchecked(index >> TILE_HEIGHT, TILE_WIDTH);
            self.storage.write_bundle(bundle, &self.open_bundle)?;
            self.open_bundle.clear();
            self.open_bundle_len = 0;
        }
        // Leaf hash into the level-0 tile, then merge the right edge: one node hash per
        // trailing one bit of the old size. Every node of height 8·l goes into the tile
        // of level l.
        let mut node = leaf_hash(entry);
        self.push_tile_hash(0, index, &node)?;
        if let Some(levels) = record.as_deref_mut() {
            levels[0].push(node);
        }
        let mut n = index;
        let mut height = 0u32;
        while n & 1 == 1 {
            let Some(left) = self.edge.pop() else {
                debug_assert!(false, "the edge has one hash per set bit of the size");
                break;
            };
            node = node_hash(&left, &node);
            height += 1;
            n >>= 1;
            if let Some(levels) = record.as_deref_mut() {
                levels[height as usize].push(node);
            }
            if height.is_multiple_of(TILE_HEIGHT) {
                let level = height / TILE_HEIGHT;
                self.push_tile_hash(level as usize, index >> (TILE_HEIGHT * level), &node)?;
            }
        }
        self.edge.push(node);
        self.size += 1;
        Ok(())
    }

    /// Writes the partial tiles and bundle, then the signed checkpoint.
    fn commit(&mut self) -> Result<(), S::Error> {
        let size = self.size;
        for (level, buf) in self.open_tiles.iter().enumerate() {
            if buf.is_empty() {
                continue;
            }
            let index = crate::tiles::level_len(size, level as u32) >> TILE_HEIGHT;
            // An open tile holds 1 to 255 hashes.
            let tile = TileId::new_unchecked(level as u8, index, (buf.len() / HASH_LEN) as u16);
            self.storage.write_tile(tile, buf)?;
        }
        if self.open_bundle_len > 0 {
            // An open bundle holds 1 to 255 entries.
            let bundle = BundleId::new_unchecked(size >> TILE_HEIGHT, self.open_bundle_len);
            self.storage.write_bundle(bundle, &self.open_bundle)?;
        }
        let checkpoint = sign(&self.signer, size, self.edge_root());
        self.storage.write_checkpoint(&checkpoint.to_string())?;
        self.checkpoint = checkpoint;
        Ok(())
    }

    /// Appends `entries` (each at most 65,535 bytes) and signs a checkpoint of the new
    /// tree (**LOG-22**). The batch is all or nothing: an entry too large refuses it
    /// before anything is written. An empty batch signs the current tree again.
    ///
    /// # Errors
    /// An [`AppendError`]. After [`AppendError::Storage`] this handle refuses further
    /// appends; open the log again from its storage.
    pub fn append_batch<E: AsRef<[u8]>>(
        &mut self,
        entries: &[E],
    ) -> Result<Batch, AppendError<S::Error>> {
        self.append(entries, None)
    }

    /// Appends `entries` as [`Log::append_batch`] does, and keeps the hashes the append
    /// computes, so that the inclusion proof of every entry of the batch, against the
    /// batch's checkpoint, costs a few array reads instead of reading tiles
    /// ([`BatchProofs`]): the receipts of a group commit. The tiles written are the same.
    ///
    /// # Errors
    /// See [`Log::append_batch`].
    pub fn append_batch_with_proofs<E: AsRef<[u8]>>(
        &mut self,
        entries: &[E],
    ) -> Result<BatchProofs, AppendError<S::Error>> {
        // Before the batch: one right-edge hash per set bit of the size, largest first.
        // Each is the left neighbour, at its height, of the first hash the batch adds
        // there, and the only hash left of the batch that any of its proofs needs.
        let first_index = self.size;
        let mut levels: Vec<Vec<Hash>> = vec![Vec::new(); 65];
        let mut edge = self.edge.iter();
        for height in (0..64u32).rev() {
            if first_index & (1u64 << height) != 0
                && let Some(h) = edge.next()
            {
                levels[height as usize].push(*h);
            }
        }
        let batch = self.append(entries, Some(&mut levels))?;
        Ok(BatchProofs::new(batch, levels))
    }

    fn append<E: AsRef<[u8]>>(
        &mut self,
        entries: &[E],
        mut record: Option<&mut [Vec<Hash>]>,
    ) -> Result<Batch, AppendError<S::Error>> {
        if self.poisoned {
            return Err(AppendError::Poisoned);
        }
        if let Some((position, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.as_ref().len() > MAX_ENTRY_LEN)
        {
            return Err(AppendError::EntryTooLarge {
                position,
                len: e.as_ref().len(),
            });
        }
        let first_index = self.size;
        first_index
            .checked_add(entries.len() as u64)
            .ok_or(AppendError::Full)?;
        let result = entries
            .iter()
            .try_for_each(|e| self.push(e.as_ref(), record.as_deref_mut()))
            .and_then(|()| self.commit());
        if let Err(e) = result {
            self.poisoned = true;
            return Err(AppendError::Storage(e));
        }
        Ok(Batch {
            first_index,
            tree_size: self.size,
        })
    }

    /// Appends typed entries in their canonical encoding (**LOG-25**).
    ///
    /// # Errors
    /// See [`Log::append_batch`].
    pub fn append_entries(&mut self, entries: &[LogEntry]) -> Result<Batch, AppendError<S::Error>> {
        let encoded: Vec<Vec<u8>> = entries.iter().map(LogEntry::encode).collect();
        self.append_batch(&encoded)
    }

    /// Appends typed entries and keeps their proofs, as
    /// [`Log::append_batch_with_proofs`].
    ///
    /// # Errors
    /// See [`Log::append_batch`].
    pub fn append_entries_with_proofs(
        &mut self,
        entries: &[LogEntry],
    ) -> Result<BatchProofs, AppendError<S::Error>> {
        let encoded: Vec<Vec<u8>> = entries.iter().map(LogEntry::encode).collect();
        self.append_batch_with_proofs(&encoded)
    }

    /// Adds a witness's cosignature to the current checkpoint after verifying it, and
    /// stores the checkpoint with it.
    ///
    /// # Errors
    /// An [`AddCosignatureError`].
    pub fn add_cosignature(
        &mut self,
        cosignature: NoteSignature,
        witness: &VerifierKey,
    ) -> Result<VerifiedCosignature, AddCosignatureError<S::Error>> {
        if self.poisoned {
            return Err(AddCosignatureError::Poisoned);
        }
        let verified = self.checkpoint.add_cosignature(cosignature, witness)?;
        if let Err(e) = self.storage.write_checkpoint(&self.checkpoint.to_string()) {
            self.poisoned = true;
            return Err(AddCosignatureError::Storage(e));
        }
        Ok(verified)
    }

    /// The inclusion proof of entry `leaf_index` in the tree of `tree_size` (at most the
    /// current size), read from the tiles (RFC 9162 §2.1.3.1, **LOG-2**).
    ///
    /// # Errors
    /// A [`ProofError`].
    pub fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError<S::Error>> {
        self.reader().inclusion_proof(leaf_index, tree_size)
    }

    /// The consistency proof from the tree of `first` to the tree of `second` (at most
    /// the current size), read from the tiles (RFC 9162 §2.1.4.1, **LOG-4**).
    ///
    /// # Errors
    /// A [`ProofError`].
    pub fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError<S::Error>> {
        self.reader().consistency_proof(first, second)
    }

    /// A C2SP tlog-proof of entry `leaf_index` against the current checkpoint, with the
    /// cosignatures added so far (**LOG-17**): the receipt a participant keeps.
    ///
    /// # Errors
    /// A [`ProofError`].
    pub fn tlog_proof(&self, leaf_index: u64) -> Result<TlogProof, ProofError<S::Error>> {
        let proof = self.inclusion_proof(leaf_index, self.size())?;
        Ok(TlogProof::new(
            leaf_index,
            proof.inclusion_path,
            &self.checkpoint,
        ))
    }

    /// The entry at `index`.
    ///
    /// # Errors
    /// A [`ReadEntryError`].
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, ReadEntryError<S::Error>> {
        self.reader().entry(index)
    }

    /// Writes the log as a static tlog-tiles directory (**LOG-23**).
    ///
    /// # Errors
    /// An [`ExportError`].
    pub fn export_dir(&self, dir: &Path) -> Result<DirSummary, ExportError<S::Error>> {
        export_dir(&self.storage, dir)
    }
}

/// Why a proof was not given from a [`BatchProofs`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchProofError {
    /// The entry is not in this batch.
    #[error("entry {leaf_index} is not in the batch {first_index}..{tree_size}")]
    NotInBatch {
        /// The index asked for.
        leaf_index: u64,
        /// The batch's first index.
        first_index: u64,
        /// The tree size after the batch.
        tree_size: u64,
    },
    /// The checkpoint given is not the batch's: another size or root.
    #[error("the checkpoint is not the one of the batch (size {tree_size})")]
    CheckpointMismatch {
        /// The batch's tree size.
        tree_size: u64,
    },
}

/// The inclusion proofs of every entry of one batch against the tree the batch ends
/// (**LOG-2**), from the hashes [`Log::append_batch_with_proofs`] computed anyway.
///
/// For a batch of entries `a..n`, every hash on their paths is either inside the batch
/// (a perfect subtree it completed, or a partial subtree on the tree's right edge), or
/// one of the right-edge hashes of the tree of size `a`. Keeping those (about two hashes
/// per entry) makes each proof O(log n) array reads, with no tile read and no hashing;
/// the proofs are exactly RFC 9162's `PATH(m, D[n])`, as the reference prover gives them.
pub struct BatchProofs {
    batch: Batch,
    /// `levels[h][j - base(h)]`: the hash of the perfect subtree of height `h` at index
    /// `j` (leaves `j·2^h .. (j+1)·2^h`), for `base(h) <= j < n >> h`.
    levels: Vec<Vec<Hash>>,
    /// `partial[h]`: the hash of the rightmost node of height `h` when it is not
    /// perfect (leaves `((n-1) >> h) << h .. n`).
    partial: Vec<Option<Hash>>,
    root: Hash,
}

impl BatchProofs {
    fn new(batch: Batch, levels: Vec<Vec<Hash>>) -> Self {
        let mut proofs = Self {
            batch,
            levels,
            partial: Vec::new(),
            root: empty_root(),
        };
        let n = batch.tree_size;
        if batch.first_index == n {
            return proofs;
        }
        let top = proofs.top();
        proofs.partial = vec![None; top as usize + 1];
        for height in 1..=top {
            let p = (n - 1) >> height;
            if p < n >> height {
                continue;
            }
            // Both children of a node with leaves in the batch are recorded or partial.
            let left = proofs.node(height - 1, 2 * p);
            let right = proofs.node(height - 1, 2 * p + 1);
            proofs.partial[height as usize] = match (left, right) {
                (Some(l), Some(r)) => Some(node_hash(&l, &r)),
                (l, None) => l,
                (None, Some(_)) => None,
            };
        }
        proofs.root = proofs.node(top, 0).unwrap_or_else(empty_root);
        proofs
    }

    /// The height of the root: the number of levels above the leaves.
    fn top(&self) -> u32 {
        let n = self.batch.tree_size;
        if n <= 1 {
            0
        } else {
            64 - (n - 1).leading_zeros()
        }
    }

    /// The first index kept at `height`: the batch's first ancestor there, or the
    /// right-edge hash just left of it.
    fn base(&self, height: u32) -> u64 {
        let a = self.batch.first_index >> height;
        a - (a & 1)
    }

    /// The hash of node `index` at `height` of the tree of the batch's size (the RFC 9162
    /// subtree of leaves `index·2^h .. min((index+1)·2^h, n)`), if it exists and was
    /// kept.
    fn node(&self, height: u32, index: u64) -> Option<Hash> {
        let n = self.batch.tree_size;
        if n == 0 || index > (n - 1) >> height {
            return None;
        }
        if index < n >> height {
            let base = self.base(height);
            let offset = usize::try_from(index.checked_sub(base)?).ok()?;
            self.levels.get(height as usize)?.get(offset).copied()
        } else {
            self.partial.get(height as usize).copied().flatten()
        }
    }

    /// The batch: entries `first_index..tree_size`.
    pub fn batch(&self) -> Batch {
        self.batch
    }

    /// The root hash of the tree of the batch's size.
    pub fn root_hash(&self) -> Hash {
        self.root
    }

    /// The inclusion proof of entry `leaf_index` of the batch in the tree of the batch's
    /// size (RFC 9162 §2.1.3.1, **LOG-2**).
    ///
    /// # Errors
    /// [`BatchProofError::NotInBatch`].
    pub fn inclusion_proof(&self, leaf_index: u64) -> Result<InclusionProof, BatchProofError> {
        let Batch {
            first_index,
            tree_size,
        } = self.batch;
        if leaf_index < first_index || leaf_index >= tree_size {
            return Err(BatchProofError::NotInBatch {
                leaf_index,
                first_index,
                tree_size,
            });
        }
        let mut inclusion_path =
            Vec::with_capacity(crate::verify::inclusion_path_len(leaf_index, tree_size));
        // From the leaf up: at each height, the sibling of the leaf's ancestor, if the
        // tree has one (the rightmost nodes may have none).
        for height in 0..self.top() {
            if let Some(h) = self.node(height, (leaf_index >> height) ^ 1) {
                inclusion_path.push(h);
            }
        }
        Ok(InclusionProof {
            leaf_index,
            tree_size,
            inclusion_path,
        })
    }

    /// The inclusion proofs of the batch's entries, in order.
    pub fn inclusion_proofs(&self) -> impl Iterator<Item = InclusionProof> + '_ {
        (self.batch.first_index..self.batch.tree_size)
            .filter_map(move |i| self.inclusion_proof(i).ok())
    }

    /// The receipts of the batch's entries, in order: C2SP tlog-proofs (**LOG-17**)
    /// against `checkpoint`, the batch's checkpoint with the cosignatures added so far
    /// (normally [`Log::checkpoint`] once the witnesses have cosigned).
    ///
    /// # Errors
    /// [`BatchProofError::CheckpointMismatch`] if `checkpoint` is not of the batch's
    /// tree.
    pub fn tlog_proofs(
        &self,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Vec<TlogProof>, BatchProofError> {
        let cp = checkpoint.checkpoint();
        if cp.tree_size() != self.batch.tree_size || *cp.root_hash() != self.root {
            return Err(BatchProofError::CheckpointMismatch {
                tree_size: self.batch.tree_size,
            });
        }
        let text = checkpoint.to_string();
        Ok(self
            .inclusion_proofs()
            .map(|p| TlogProof::from_parts(p.leaf_index, p.inclusion_path, text.clone()))
            .collect())
    }
}

impl fmt::Debug for BatchProofs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchProofs")
            .field("batch", &self.batch)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl<S: TileStorage> fmt::Debug for Log<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("signer", &self.signer)
            .field("size", &self.size)
            .field("checkpoint", &self.checkpoint.checkpoint())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// A read-only view of a log someone else wrote: opened with the log's public key,
/// proves from its tiles and audits it end to end (**LOG-24**).
pub struct LogReader<S: TileStorage> {
    storage: S,
    checkpoint: SignedCheckpoint,
}

impl<S: TileStorage> LogReader<S> {
    /// Opens the log in `storage`, verifying its checkpoint with `log_key`.
    ///
    /// # Errors
    /// A [`ReaderError`].
    pub fn open(storage: S, log_key: &VerifierKey) -> Result<Self, ReaderError<S::Error>> {
        let text = storage
            .read_checkpoint()
            .map_err(ReaderError::Storage)?
            .ok_or(ReaderError::NoCheckpoint)?
            .into_owned();
        let checkpoint = SignedCheckpoint::open(text.as_bytes(), log_key)?;
        Ok(Self {
            storage,
            checkpoint,
        })
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    fn reader(&self) -> TreeReader<'_, S> {
        TreeReader {
            storage: &self.storage,
            tree_size: self.checkpoint.checkpoint().tree_size(),
        }
    }

    /// The entry at `index`.
    ///
    /// # Errors
    /// A [`ReadEntryError`].
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, ReadEntryError<S::Error>> {
        self.reader().entry(index)
    }

    /// Calls `f` with every entry's index and bytes, in order. Entries are not checked
    /// against the tiles; see [`LogReader::audit`].
    ///
    /// # Errors
    /// A [`ReadEntryError`].
    pub fn for_each_entry<F: FnMut(u64, &[u8])>(
        &self,
        f: F,
    ) -> Result<(), ReadEntryError<S::Error>> {
        self.reader().for_each_entry(f)
    }

    /// An inclusion proof, read from the tiles.
    ///
    /// # Errors
    /// A [`ProofError`].
    pub fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError<S::Error>> {
        self.reader().inclusion_proof(leaf_index, tree_size)
    }

    /// A consistency proof, read from the tiles.
    ///
    /// # Errors
    /// A [`ProofError`].
    pub fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError<S::Error>> {
        self.reader().consistency_proof(first, second)
    }

    /// The frontier of the checkpoint's tree, read from the hash tiles: the roots of
    /// its perfect subtrees, largest first (**LOG-55**). Not checked against the root
    /// here; [`crate::Follower::advance_from_tiles`] does.
    ///
    /// # Errors
    /// A [`TileReadError`].
    pub fn frontier(&self) -> Result<Frontier, TileReadError<S::Error>> {
        let reader = self.reader();
        let size = self.checkpoint.checkpoint().tree_size();
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for height in (0..64u32).rev() {
            if size >> height & 1 == 1 {
                hashes.push(reader.perfect(height, start >> height)?);
                start += 1 << height;
            }
        }
        match Frontier::from_parts(size, hashes) {
            Ok(f) => Ok(f),
            // One hash per set bit, by construction.
            Err(_) => unreachable!("a frontier read bit by bit fits its size"),
        }
    }

    /// Checks the whole log against its checkpoint (**LOG-24**): the tiles hash to the
    /// checkpoint's root, every tile hash is the hash of the full tile below it, and
    /// every entry bundle holds exactly its tile's number of entries, each hashing to its
    /// leaf. Top down (**LOG-39**): the right edge of the tree against the root first,
    /// then every tile against its parent, so that each tile and bundle is read once and
    /// the first inconsistent one stops the audit.
    ///
    /// # Errors
    /// An [`AuditError`] naming the first discrepancy.
    pub fn audit(&self) -> Result<(), AuditError<S::Error>> {
        self.audit_with(|_, _| {})
    }

    /// [`LogReader::audit`], handing each entry to `f` (index, bytes), in order, once
    /// it is proven part of the checkpoint's tree (its leaf hash, and every tile from it
    /// up to the root, checked): one pass for an auditor that also reads the entries.
    /// A later tile or bundle may still fail the audit.
    ///
    /// # Errors
    /// An [`AuditError`] naming the first discrepancy.
    pub fn audit_with<F: FnMut(u64, &[u8])>(&self, mut f: F) -> Result<(), AuditError<S::Error>> {
        self.reader()
            .audit(self.checkpoint.checkpoint().root_hash(), &mut f)
    }
}

impl LogReader<MemoryStorage> {
    /// Reads a static tlog-tiles directory and opens it with `log_key` (**LOG-23**).
    ///
    /// # Errors
    /// A [`FromDirError`].
    pub fn from_dir(dir: &Path, log_key: &VerifierKey) -> Result<Self, FromDirError> {
        Ok(Self::open(read_dir(dir)?, log_key)?)
    }
}

impl<S: TileStorage> fmt::Debug for LogReader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader")
            .field("checkpoint", &self.checkpoint.checkpoint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::{Cosigner, Witness, WitnessError};
    use crate::entry::{LogEntry, RecordSetHash};
    use crate::note::KeyName;
    use crate::static_dir::DirReadError;
    use crate::tiles::{MemoryStorageError, bundles_for, tiles_for};
    use crate::tree;
    use crate::verify::{ConsistencyError, InclusionError};
    use minimis_crypto::SigningKey;
    use minimis_proto::{ChallengeId, EpochId, ParticipantTag, RecordId, UnixTime};
    use std::path::PathBuf;

    fn signer() -> NoteSigner {
        NoteSigner::new(
            KeyName::new("log.minimis.example/test").unwrap(),
            SigningKey::from_seed(&[42; 32]).unwrap(),
        )
    }

    fn entry(i: u64) -> Vec<u8> {
        // Entries of varied length, the empty one included.
        let len = (i % 37) as usize;
        let mut e = i.to_be_bytes().to_vec();
        e.truncate(len.min(8));
        e.extend(std::iter::repeat_n((i % 251) as u8, len.saturating_sub(8)));
        e
    }

    fn new_log() -> Log<MemoryStorage> {
        Log::create(MemoryStorage::new(), signer()).unwrap()
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self, bound: u64) -> u64 {
            // xorshift64*: deterministic, for sampling only.
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        // Unique per call: tests run in parallel and may share a name.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("minimis-log-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn log_2_log_4_log_22_tile_proofs_match_the_reference_for_every_size_to_130() {
        let mut log = new_log();
        let mut leaves = Vec::new();
        let mut roots = vec![empty_root()];
        // One entry per batch up to 300 (past the first full tile), checking each root.
        for i in 0..300 {
            log.append_batch(&[entry(i)]).unwrap();
            leaves.push(leaf_hash(&entry(i)));
            assert_eq!(
                *log.checkpoint().checkpoint().root_hash(),
                tree::root(&leaves)
            );
            roots.push(tree::root(&leaves));
        }
        for tree_size in 1..=130u64 {
            let d = &leaves[..tree_size as usize];
            for leaf_index in 0..tree_size {
                let got = log.inclusion_proof(leaf_index, tree_size).unwrap();
                assert_eq!(got, tree::inclusion_proof(d, leaf_index).unwrap());
                got.verify(&leaves[leaf_index as usize], &roots[tree_size as usize])
                    .unwrap();
            }
            for first in 1..=tree_size {
                let got = log.consistency_proof(first, tree_size).unwrap();
                assert_eq!(got, tree::consistency_proof(d, first).unwrap());
                got.verify(&roots[first as usize], &roots[tree_size as usize])
                    .unwrap();
            }
        }
        for first in [1, 100, 255, 256, 257, 299] {
            log.consistency_proof(first, 300)
                .unwrap()
                .verify(&roots[first as usize], &roots[300])
                .unwrap();
        }
        assert!(matches!(
            log.inclusion_proof(300, 300),
            Err(ProofError::Range(ProveError::LeafIndexOutOfRange { .. }))
        ));
        assert!(matches!(
            log.inclusion_proof(0, 301),
            Err(ProofError::Range(ProveError::TreeSizeOutOfRange { .. }))
        ));
        assert!(matches!(
            log.consistency_proof(0, 10),
            Err(ProofError::Range(ProveError::NoConsistencyProof { .. }))
        ));
    }

    #[test]
    fn log_2_batch_proofs_equal_the_reference_for_every_boundary_to_130() {
        // Every batch a..n with 0 <= a < n <= 130, against RFC 9162 PATH computed from
        // the leaves.
        let all: Vec<Hash> = (0..130).map(|i| leaf_hash(&entry(i))).collect();
        let reference: Vec<Vec<InclusionProof>> = (0..=130usize)
            .map(|n| {
                (0..n as u64)
                    .map(|m| tree::inclusion_proof(&all[..n], m).unwrap())
                    .collect()
            })
            .collect();
        for a in 0..130u64 {
            let mut before = new_log();
            let head: Vec<Vec<u8>> = (0..a).map(entry).collect();
            before.append_batch(&head).unwrap();
            let storage = before.into_storage();
            for n in a + 1..=130 {
                let mut log = Log::open(storage.clone(), signer()).unwrap();
                let batch: Vec<Vec<u8>> = (a..n).map(entry).collect();
                let proofs = log.append_batch_with_proofs(&batch).unwrap();
                assert_eq!(
                    proofs.batch(),
                    Batch {
                        first_index: a,
                        tree_size: n
                    }
                );
                assert_eq!(
                    proofs.root_hash(),
                    *log.checkpoint().checkpoint().root_hash()
                );
                let got: Vec<InclusionProof> = proofs.inclusion_proofs().collect();
                assert_eq!(got, reference[n as usize][a as usize..], "batch {a}..{n}");
                for outside in [a.wrapping_sub(1), n] {
                    assert!(matches!(
                        proofs.inclusion_proof(outside),
                        Err(BatchProofError::NotInBatch { .. })
                    ));
                }
            }
        }
    }

    #[test]
    fn log_2_log_17_batch_proofs_match_the_tiles_across_three_levels() {
        // Batches of random sizes up to 70,000 entries, crossing tile boundaries on
        // levels 0, 1 and 2; each batch's proofs against the tile prover, and its
        // receipts verified.
        let mut log = new_log();
        let key = log.verifier_key();
        let mut rng = Rng(0xba7c);
        // Batches that end exactly at tile boundaries first, then random ones.
        let mut sizes = vec![65_536, 65_535, 257, 256, 255, 1];
        while log.size() < 70_000 {
            let n = match sizes.pop() {
                Some(target) if target > log.size() => target - log.size(),
                _ => {
                    let bound = if rng.next(4) == 0 { 3_000 } else { 300 };
                    1 + rng.next(bound)
                }
            };
            let batch: Vec<Vec<u8>> = (log.size()..log.size() + n).map(entry).collect();
            let proofs = log.append_batch_with_proofs(&batch).unwrap();
            let Batch {
                first_index,
                tree_size,
            } = proofs.batch();
            let root = *log.checkpoint().checkpoint().root_hash();
            assert_eq!(proofs.root_hash(), root);
            for (p, e) in proofs.inclusion_proofs().zip(&batch) {
                p.verify(&leaf_hash(e), &root).unwrap();
            }
            let mut probes = vec![first_index, tree_size - 1, (first_index + tree_size) / 2];
            probes.extend((0..8).map(|_| first_index + rng.next(n)));
            for m in probes {
                assert_eq!(
                    proofs.inclusion_proof(m).unwrap(),
                    log.inclusion_proof(m, tree_size).unwrap(),
                    "{m} in {first_index}..{tree_size}"
                );
            }
            let receipts = proofs.tlog_proofs(log.checkpoint()).unwrap();
            assert_eq!(receipts.len() as u64, n);
            for i in [0, receipts.len() - 1] {
                let r = &receipts[i];
                let expected = log.tlog_proof(r.leaf_index()).unwrap();
                assert_eq!(r, &expected);
                crate::tlog_proof::verify_tlog_proof(
                    r.to_string().as_bytes(),
                    &batch[i],
                    &key,
                    &[],
                )
                .unwrap();
            }
        }
        // Receipts against another checkpoint are refused.
        let proofs = log.append_batch_with_proofs(&[entry(1)]).unwrap();
        log.append_batch(&[entry(2)]).unwrap();
        assert_eq!(
            proofs.tlog_proofs(log.checkpoint()),
            Err(BatchProofError::CheckpointMismatch {
                tree_size: proofs.batch().tree_size
            })
        );
        // An empty batch has no proofs.
        let empty = log.append_batch_with_proofs::<Vec<u8>>(&[]).unwrap();
        assert_eq!(empty.inclusion_proofs().count(), 0);
    }

    #[test]
    fn log_2_log_4_log_20_proofs_across_three_tile_levels() {
        // 70,000 entries: full and partial tiles on levels 0, 1 and 2.
        let mut log = new_log();
        let mut rng = Rng(0x5eed);
        let mut leaves = Vec::new();
        let mut sizes = Vec::new();
        while log.size() < 70_000 {
            let n = 1 + rng.next(3_000);
            let batch: Vec<Vec<u8>> = (log.size()..log.size() + n).map(entry).collect();
            leaves.extend(batch.iter().map(|e| leaf_hash(e)));
            let b = log.append_batch(&batch).unwrap();
            assert_eq!(b.tree_size, leaves.len() as u64);
            sizes.push(b.tree_size);
        }
        let size = log.size();
        assert_eq!(
            *log.checkpoint().checkpoint().root_hash(),
            tree::root(&leaves)
        );
        let stored: Vec<TileId> = tiles_for(size).collect();
        assert!(stored.iter().any(|t| t.level() == 2));
        for _ in 0..40 {
            let tree_size = 1 + rng.next(size);
            let root = tree::root(&leaves[..tree_size as usize]);
            let leaf_index = rng.next(tree_size);
            log.inclusion_proof(leaf_index, tree_size)
                .unwrap()
                .verify(&leaves[leaf_index as usize], &root)
                .unwrap();
            let first = 1 + rng.next(tree_size);
            let got = log.consistency_proof(first, tree_size).unwrap();
            assert_eq!(
                got,
                tree::consistency_proof(&leaves[..tree_size as usize], first).unwrap()
            );
        }
        // Entries read back from their bundles.
        for i in [0, 255, 256, 65_535, 65_536, size - 1] {
            assert_eq!(log.entry(i).unwrap(), entry(i));
        }
        assert!(matches!(
            log.entry(size),
            Err(ReadEntryError::IndexOutOfRange { .. })
        ));
    }

    #[test]
    fn log_14_every_checkpoint_is_consistent_with_the_previous_one() {
        let mut log = new_log();
        let key = log.verifier_key();
        let mut rng = Rng(7);
        let mut previous = log.checkpoint().clone();
        for _ in 0..40 {
            let n = rng.next(600);
            let batch: Vec<Vec<u8>> = (0..n).map(|i| entry(log.size() + i)).collect();
            log.append_batch(&batch).unwrap();
            let next =
                SignedCheckpoint::open(log.checkpoint().to_string().as_bytes(), &key).unwrap();
            let (a, b) = (previous.checkpoint(), next.checkpoint());
            if a.tree_size() > 0 {
                log.consistency_proof(a.tree_size(), b.tree_size())
                    .unwrap()
                    .verify(a.root_hash(), b.root_hash())
                    .unwrap();
            }
            previous = next;
        }
    }

    #[test]
    fn log_22_open_resumes_where_the_storage_left_off() {
        let mut whole = new_log();
        let mut parted = new_log();
        let mut rng = Rng(99);
        for round in 0..12 {
            let n = rng.next(700);
            let batch: Vec<Vec<u8>> = (0..n).map(|i| entry(whole.size() + i)).collect();
            whole.append_batch(&batch).unwrap();
            parted.append_batch(&batch).unwrap();
            // Close and reopen every other round.
            if round % 2 == 0 {
                parted = Log::open(parted.into_storage(), signer()).unwrap();
            }
            assert_eq!(whole.checkpoint(), parted.checkpoint());
        }
        // A log opened with another key refuses the storage.
        let other = NoteSigner::new(
            signer().name().clone(),
            SigningKey::from_seed(&[1; 32]).unwrap(),
        );
        assert!(matches!(
            Log::open(parted.into_storage(), other),
            Err(OpenError::Checkpoint(OpenCheckpointError::Signature(_)))
        ));
        assert!(matches!(
            Log::open(MemoryStorage::new(), signer()),
            Err(OpenError::NoCheckpoint)
        ));
        assert!(matches!(
            Log::create(whole.into_storage(), signer()),
            Err(CreateError::AlreadyInitialized)
        ));
    }

    #[test]
    fn log_21_entry_too_large_refuses_the_whole_batch() {
        let mut log = new_log();
        log.append_batch(&[b"a".to_vec()]).unwrap();
        let before = log.checkpoint().clone();
        let big = vec![0u8; MAX_ENTRY_LEN + 1];
        assert!(matches!(
            log.append_batch(&[b"b".to_vec(), big]),
            Err(AppendError::EntryTooLarge {
                position: 1,
                len: 65_536
            })
        ));
        assert_eq!(log.checkpoint(), &before);
        let max = vec![7u8; MAX_ENTRY_LEN];
        log.append_batch(std::slice::from_ref(&max)).unwrap();
        assert_eq!(log.entry(1).unwrap(), max);
        // An empty batch signs the same tree again.
        let b = log.append_batch::<Vec<u8>>(&[]).unwrap();
        assert_eq!((b.first_index, b.tree_size), (2, 2));
    }

    /// A storage that fails every write after `budget` of them.
    struct Failing {
        inner: MemoryStorage,
        budget: usize,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct DiskFull;

    impl Failing {
        fn spend(&mut self) -> Result<(), DiskFull> {
            if self.budget == 0 {
                return Err(DiskFull);
            }
            self.budget -= 1;
            Ok(())
        }
    }

    impl TileStorage for Failing {
        type Error = DiskFull;

        fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), DiskFull> {
            self.spend()?;
            self.inner.write_tile(tile, hashes).map_err(|_| DiskFull)
        }
        fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, DiskFull> {
            self.inner.read_tile(tile).map_err(|_| DiskFull)
        }
        fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), DiskFull> {
            self.spend()?;
            self.inner.write_bundle(bundle, data).map_err(|_| DiskFull)
        }
        fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, DiskFull> {
            self.inner.read_bundle(bundle).map_err(|_| DiskFull)
        }
        fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), DiskFull> {
            self.spend()?;
            self.inner
                .write_checkpoint(checkpoint)
                .map_err(|_| DiskFull)
        }
        fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, DiskFull> {
            self.inner.read_checkpoint().map_err(|_| DiskFull)
        }
    }

    #[test]
    fn log_22_a_storage_failure_stops_the_handle_and_the_checkpoint_is_the_commit_point() {
        let storage = Failing {
            inner: MemoryStorage::new(),
            budget: 100,
        };
        let mut log = Log::create(storage, signer()).unwrap();
        let batch: Vec<Vec<u8>> = (0..10).map(entry).collect();
        log.append_batch(&batch).unwrap();
        let committed = log.checkpoint().clone();
        // Room for the tiles but not the checkpoint.
        let mut storage = log.into_storage();
        storage.budget = 2;
        let mut log = Log::open(storage, signer()).unwrap();
        assert!(matches!(
            log.append_batch(&batch),
            Err(AppendError::Storage(DiskFull))
        ));
        assert!(matches!(
            log.append_batch(&batch),
            Err(AppendError::Poisoned)
        ));
        // Reopened, the log is at its last committed checkpoint and carries on.
        let mut storage = log.into_storage();
        storage.budget = 100;
        let mut log = Log::open(storage, signer()).unwrap();
        assert_eq!(log.checkpoint(), &committed);
        let more: Vec<Vec<u8>> = (10..20).map(entry).collect();
        log.append_batch(&more).unwrap();
        let leaves: Vec<Hash> = (0..20).map(|i| leaf_hash(&entry(i))).collect();
        assert_eq!(
            *log.checkpoint().checkpoint().root_hash(),
            tree::root(&leaves)
        );
    }

    #[test]
    fn log_23_log_24_export_read_back_and_audit() {
        let mut log = new_log();
        let batch: Vec<Vec<u8>> = (0..1_000).map(entry).collect();
        log.append_batch(&batch).unwrap();
        let dir = temp_dir("export");
        let summary = log.export_dir(&dir).unwrap();
        assert_eq!(
            summary,
            DirSummary {
                tree_size: 1_000,
                tiles: 5,
                bundles: 4
            }
        );
        for path in [
            "checkpoint",
            "tile/0/000",
            "tile/0/002",
            "tile/0/003.p/232",
            "tile/1/000.p/3",
            "tile/entries/000",
            "tile/entries/003.p/232",
        ] {
            assert!(dir.join(path).is_file(), "{path}");
        }
        assert_eq!(std::fs::read(dir.join("tile/0/000")).unwrap().len(), 8_192);
        let reader = LogReader::from_dir(&dir, &log.verifier_key()).unwrap();
        reader.audit().unwrap();
        let mut seen = 0u64;
        reader
            .audit_with(|i, e| {
                assert_eq!((i, e), (seen, entry(seen).as_slice()));
                seen += 1;
            })
            .unwrap();
        assert_eq!(seen, 1_000);
        assert_eq!(reader.checkpoint(), log.checkpoint());
        assert_eq!(reader.entry(999).unwrap(), entry(999));
        let mut n = 0;
        reader
            .for_each_entry(|i, e| {
                assert_eq!(e, entry(i));
                n += 1;
            })
            .unwrap();
        assert_eq!(n, 1_000);
        assert_eq!(
            reader.inclusion_proof(500, 1_000).unwrap(),
            log.inclusion_proof(500, 1_000).unwrap()
        );
        // A reader with another key refuses the directory.
        let stranger = NoteSigner::new(
            signer().name().clone(),
            SigningKey::from_seed(&[2; 32]).unwrap(),
        );
        assert!(matches!(
            LogReader::from_dir(&dir, &stranger.verifier_key()),
            Err(FromDirError::Open(ReaderError::Checkpoint(_)))
        ));
        // An oversized tile, then a missing one.
        std::fs::write(dir.join("tile/1/000.p/3"), vec![0u8; FULL_TILE_LEN + 1]).unwrap();
        assert!(matches!(
            LogReader::from_dir(&dir, &log.verifier_key()),
            Err(FromDirError::Import(ImportError::File(
                DirReadError::TooLarge { .. }
            )))
        ));
        std::fs::remove_file(dir.join("tile/1/000.p/3")).unwrap();
        assert!(matches!(
            LogReader::from_dir(&dir, &log.verifier_key()),
            Err(FromDirError::Import(ImportError::Missing { .. }))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn exported(n: u64) -> (Log<MemoryStorage>, PathBuf) {
        let mut log = new_log();
        let batch: Vec<Vec<u8>> = (0..n).map(entry).collect();
        log.append_batch(&batch).unwrap();
        let dir = temp_dir(&format!("tamper-{n}-{}", Rng(n).next(1 << 30)));
        log.export_dir(&dir).unwrap();
        (log, dir)
    }

    fn audit_dir(
        dir: &Path,
        log: &Log<MemoryStorage>,
    ) -> Result<(), AuditError<MemoryStorageError>> {
        LogReader::from_dir(dir, &log.verifier_key())
            .unwrap()
            .audit()
    }

    #[test]
    fn log_24_modified_entry_is_detected() {
        let (log, dir) = exported(300);
        let path = dir.join("tile/entries/001.p/44");
        let mut bundle = std::fs::read(&path).unwrap();
        // Entry 256 is the first of this bundle: its length, then its first byte.
        bundle[2] ^= 1;
        std::fs::write(&path, bundle).unwrap();
        assert!(matches!(
            audit_dir(&dir, &log),
            Err(AuditError::EntryHashMismatch { index: 256 })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_24_dropped_entry_is_detected() {
        let (log, dir) = exported(300);
        let path = dir.join("tile/entries/000");
        let bundle = std::fs::read(&path).unwrap();
        let entries = split_bundle(&bundle, 256).unwrap();
        let mut without: Vec<u8> = Vec::new();
        for e in entries.iter().take(10).chain(entries.iter().skip(11)) {
            without.extend_from_slice(&(e.len() as u16).to_be_bytes());
            without.extend_from_slice(e);
        }
        std::fs::write(&path, without).unwrap();
        assert!(matches!(
            audit_dir(&dir, &log),
            Err(AuditError::Entries(ReadEntryError::Bundle {
                error: BundleError::EntryCount {
                    expected: 256,
                    found: 255
                },
                ..
            }))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_24_log_39_modified_tile_is_detected() {
        // A full tile: its parent's hash for it no longer matches.
        let (log, dir) = exported(600);
        let path = dir.join("tile/0/001");
        let mut tile = std::fs::read(&path).unwrap();
        tile[40] ^= 1;
        std::fs::write(&path, tile).unwrap();
        assert!(matches!(
            audit_dir(&dir, &log),
            Err(AuditError::TileHashMismatch { tile, position: 1 }) if tile.path() == "tile/1/000.p/2"
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        // A tile of the right edge (here the top one): the root no longer matches.
        let (log, dir) = exported(600);
        let path = dir.join("tile/1/000.p/2");
        let mut tile = std::fs::read(&path).unwrap();
        tile[40] ^= 1;
        std::fs::write(&path, tile).unwrap();
        assert!(matches!(
            audit_dir(&dir, &log),
            Err(AuditError::RootMismatch)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        // In memory too: a leaf hash changed in the partial level-0 tile.
        let (log, dir) = exported(20);
        std::fs::remove_dir_all(&dir).unwrap();
        let mut storage = log.storage().clone();
        let mut tile = storage
            .read_tile(TileId::new(0, 0, 20).unwrap())
            .unwrap()
            .unwrap()
            .into_owned();
        tile[0] ^= 1;
        storage.tamper("tile/0/000.p/20", tile);
        let reader = LogReader::open(storage, &log.verifier_key()).unwrap();
        assert!(matches!(reader.audit(), Err(AuditError::RootMismatch)));
    }

    /// A storage that records what is read from it, in order.
    struct Recording<S> {
        inner: S,
        reads: std::cell::RefCell<Vec<String>>,
    }

    impl<S> Recording<S> {
        fn new(inner: S) -> Self {
            Self {
                inner,
                reads: std::cell::RefCell::new(Vec::new()),
            }
        }

        fn reads(&self) -> Vec<String> {
            self.reads.borrow().clone()
        }
    }

    impl<S: TileStorage> TileStorage for Recording<S> {
        type Error = S::Error;

        fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), S::Error> {
            self.inner.write_tile(tile, hashes)
        }

        fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, S::Error> {
            self.reads.borrow_mut().push(tile.path());
            self.inner.read_tile(tile)
        }

        fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), S::Error> {
            self.inner.write_bundle(bundle, data)
        }

        fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, S::Error> {
            self.reads.borrow_mut().push(bundle.path());
            self.inner.read_bundle(bundle)
        }

        fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), S::Error> {
            self.inner.write_checkpoint(checkpoint)
        }

        fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, S::Error> {
            self.reads.borrow_mut().push("checkpoint".into());
            self.inner.read_checkpoint()
        }
    }

    #[test]
    fn log_39_the_audit_goes_top_down_reads_each_tile_once_and_stops_at_the_first_bad_one() {
        // 70,000 entries: full and partial tiles on levels 0, 1 and 2.
        let mut log = new_log();
        for start in (0..70_000u64).step_by(10_000) {
            let batch: Vec<Vec<u8>> = (start..start + 10_000).map(entry).collect();
            log.append_batch(&batch).unwrap();
        }
        let size = log.size();
        let reader =
            LogReader::open(Recording::new(log.storage().clone()), &log.verifier_key()).unwrap();
        let mut seen = Vec::new();
        reader
            .audit_with(|i, e| {
                assert_eq!(e, entry(i));
                seen.push(i);
            })
            .unwrap();
        assert_eq!(seen, (0..size).collect::<Vec<_>>(), "every entry, in order");
        let reads = reader.storage().reads();
        // The checkpoint, then the right edge from the top, then everything else once.
        assert_eq!(
            reads[..4],
            [
                "checkpoint",
                "tile/2/000.p/1",
                "tile/1/001.p/17",
                "tile/0/273.p/112"
            ]
        );
        let mut sorted = reads[1..].to_vec();
        sorted.sort();
        let mut expected: Vec<String> = tiles_for(size)
            .map(|t| t.path())
            .chain(bundles_for(size).map(|b| b.path()))
            .collect();
        expected.sort();
        assert_eq!(sorted, expected, "each tile and bundle exactly once");

        // A top tile forged to another value: nothing but the right edge is read.
        let mut forged = log.storage().clone();
        forged.tamper("tile/2/000.p/1", vec![0xaa; 32]);
        let reader = LogReader::open(Recording::new(forged), &log.verifier_key()).unwrap();
        let mut handed = 0;
        assert!(matches!(
            reader.audit_with(|_, _| handed += 1),
            Err(AuditError::RootMismatch)
        ));
        assert_eq!(handed, 0);
        assert_eq!(reader.storage().reads().len(), 4);

        // A level-1 tile changed: the audit stops when it reads it; no entry under it, or
        // after it, is handed on.
        let mut changed = log.storage().clone();
        let mut tile = changed
            .read_tile(TileId::new(1, 0, 256).unwrap())
            .unwrap()
            .unwrap()
            .into_owned();
        tile[5 * 32] ^= 1;
        changed.tamper("tile/1/000", tile);
        let reader = LogReader::open(Recording::new(changed), &log.verifier_key()).unwrap();
        let mut handed = 0u64;
        assert!(matches!(
            reader.audit_with(|_, _| handed += 1),
            Err(AuditError::TileHashMismatch { tile, position: 0 }) if tile.path() == "tile/2/000.p/1"
        ));
        assert_eq!(handed, 0);
        assert_eq!(reader.storage().reads().last().unwrap(), "tile/1/000");
        // A level-0 tile changed in the middle: the entries before it were handed on,
        // none from it.
        let mut changed = log.storage().clone();
        let mut tile = changed
            .read_tile(TileId::new(0, 100, 256).unwrap())
            .unwrap()
            .unwrap()
            .into_owned();
        tile[0] ^= 1;
        changed.tamper("tile/0/100", tile);
        let reader = LogReader::open(Recording::new(changed), &log.verifier_key()).unwrap();
        let mut handed = 0u64;
        assert!(matches!(
            reader.audit_with(|_, _| handed += 1),
            Err(AuditError::TileHashMismatch { tile, position: 100 }) if tile.path() == "tile/1/000"
        ));
        assert_eq!(handed, 100 * 256);
    }

    #[test]
    fn log_24_wrong_root_is_detected() {
        // A checkpoint validly signed by the log key over a root the tiles do not give.
        let (log, dir) = exported(300);
        let wrong = sign(&signer(), 300, leaf_hash(b"not the root"));
        std::fs::write(dir.join("checkpoint"), wrong.to_string()).unwrap();
        assert!(matches!(
            audit_dir(&dir, &log),
            Err(AuditError::RootMismatch)
        ));
        // And a receipt against it fails to verify.
        let proof = log.inclusion_proof(7, 300).unwrap();
        assert_eq!(
            proof.verify(&leaf_hash(&entry(7)), wrong.checkpoint().root_hash()),
            Err(InclusionError::RootMismatch)
        );
        // Reopening the writer refuses it too.
        let mut storage = log.storage().clone();
        storage.write_checkpoint(&wrong.to_string()).unwrap();
        assert!(matches!(
            Log::open(storage, signer()),
            Err(OpenError::RootMismatch)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_16_split_view_is_detected() {
        // Two logs with the same key, the same size and different roots.
        let mut honest = new_log();
        let mut forked = new_log();
        let a: Vec<Vec<u8>> = (0..50).map(entry).collect();
        let mut b = a.clone();
        b[17] = b"rewritten".to_vec();
        honest.append_batch(&a).unwrap();
        forked.append_batch(&b).unwrap();
        let (x, y) = (
            honest.checkpoint().checkpoint(),
            forked.checkpoint().checkpoint(),
        );
        assert_eq!(x.tree_size(), y.tree_size());
        assert_eq!(
            crate::verify::verify_consistency(50, 50, x.root_hash(), y.root_hash(), &[]),
            Err(ConsistencyError::SplitView { size: 50 })
        );
        let cosigner = Cosigner::new(
            KeyName::new("oversight.example/w").unwrap(),
            SigningKey::from_seed(&[5; 32]).unwrap(),
        );
        let mut witness = Witness::new(cosigner, honest.verifier_key()).unwrap();
        let t = UnixTime(1_800_000_000);
        witness
            .cosign(honest.checkpoint().to_string().as_bytes(), &[], t)
            .unwrap();
        assert_eq!(
            witness.cosign(forked.checkpoint().to_string().as_bytes(), &[], t),
            Err(WitnessError::SplitView { size: 50 })
        );
        // Growing the fork does not help: no consistency proof connects it.
        forked.append_batch(&[entry(50)]).unwrap();
        let proof = forked.consistency_proof(50, 51).unwrap();
        assert!(matches!(
            witness.cosign(
                forked.checkpoint().to_string().as_bytes(),
                &proof.consistency_path,
                t
            ),
            Err(WitnessError::Inconsistent(
                ConsistencyError::FirstRootMismatch
            ))
        ));
    }

    #[test]
    fn log_29_purging_keeps_entries_hashes_and_receipts() {
        let mut log = new_log();
        let key = log.verifier_key();
        let records: Vec<RecordId> = (0..5u8).map(|i| RecordId::from_bytes([i; 32])).collect();
        let check_ins: Vec<LogEntry> = records
            .iter()
            .map(|r| LogEntry::CheckInReceived {
                tag: ParticipantTag::from_bytes([1; 32]),
                record: *r,
                challenge: ChallengeId::from_bytes([2; 16]),
                epoch: EpochId::new(10),
            })
            .collect();
        log.append_entries(&check_ins).unwrap();
        let receipt = log.tlog_proof(3).unwrap().to_string();
        let old = log.checkpoint().checkpoint().clone();
        // The epoch's content is purged: the log gains an entry and loses nothing.
        let (count, record_set) = RecordSetHash::of(&records);
        log.append_entries(&[LogEntry::RecordsPurged {
            epoch: EpochId::new(10),
            count,
            record_set,
            purged_at: UnixTime(1_800_000_000),
        }])
        .unwrap();
        let encoded = check_ins[3].encode();
        crate::tlog_proof::verify_tlog_proof(receipt.as_bytes(), &encoded, &key, &[]).unwrap();
        assert_eq!(log.entry(3).unwrap(), encoded);
        let new = log.checkpoint().checkpoint();
        log.consistency_proof(old.tree_size(), new.tree_size())
            .unwrap()
            .verify(old.root_hash(), new.root_hash())
            .unwrap();
        log.inclusion_proof(3, new.tree_size())
            .unwrap()
            .verify(&leaf_hash(&encoded), new.root_hash())
            .unwrap();
        // And a fresh receipt still names the same entry.
        crate::tlog_proof::verify_tlog_proof(
            log.tlog_proof(3).unwrap().to_string().as_bytes(),
            &encoded,
            &key,
            &[],
        )
        .unwrap();
    }

    #[test]
    fn debug_shows_no_secret() {
        let log = new_log();
        let dbg = format!("{log:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
        assert!(!dbg.contains(&format!("{:?}", [42u8; 32])));
    }
}
