//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the log as static files.
//!
//! ```text
//! <prefix>/checkpoint                       the signed checkpoint
//! <prefix>/tile/<L>/<N>[.p/<W>]             hash tile: level L (0..=63), index N, width W
//! <prefix>/tile/entries/<N>[.p/<W>]         entry bundle for the level-0 tile N
//! ```
//!
//! `<N>` is written in zero-padded 3-digit path elements, all but the last prefixed by
//! `x` (1234067 is `x001/x234/067`). A full tile is 256 hashes (8,192 bytes); the tile
//! at level `l`, index `n` holds, for `i` in `0..256`,
//! `MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l])`. The rightmost tiles of a tree of
//! size `s` are partial, of width `floor(s / 256^l) mod 256` (1 to 255; an empty tile is
//! never written). An entry bundle is the tile's entries, each as a big-endian `u16`
//! length and the entry bytes.
//!
//! [`TileStorage`] is where a [`crate::Log`] keeps tiles, bundles and its checkpoint;
//! [`MemoryStorage`] keeps them in memory, [`export_dir`] writes them as a static
//! directory any tlog-tiles client can read, and [`read_dir`] reads one back.
//!
//! Spec: `spec/log.md` § Tiles (**LOG-19** to **LOG-23**).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::note::SignedNote;
use crate::verify::HASH_LEN;

/// Hashes per full tile (tlog-tiles: tiles are 256 hashes wide, height 8).
pub const TILE_WIDTH: u16 = 256;

/// Tree levels per tile.
pub const TILE_HEIGHT: u32 = 8;

/// Bytes in a full tile.
pub const FULL_TILE_LEN: usize = TILE_WIDTH as usize * HASH_LEN;

/// The longest entry an entry bundle can carry: its length prefix is a `u16`.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// The largest entry bundle: 256 entries of the longest length, each with its prefix.
pub const MAX_BUNDLE_LEN: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_LEN);

/// The highest tile level tlog-tiles allows.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Why tile or bundle coordinates were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileIdError {
    /// A level above 63.
    #[error("a tile level is 0 to 63, not {level}")]
    Level {
        /// The level given.
        level: u8,
    },
    /// A width of 0 or above 256.
    #[error("a tile width is 1 to 256, not {width}")]
    Width {
        /// The width given.
        width: u16,
    },
}

fn check_width(width: u16) -> Result<(), TileIdError> {
    if width == 0 || width > TILE_WIDTH {
        Err(TileIdError::Width { width })
    } else {
        Ok(())
    }
}

/// Writes `n` as tlog-tiles path elements: `x001/x234/067` for 1234067 (**LOG-19**).
pub fn encode_index(n: u64) -> String {
    let mut out = format!("{:03}", n % 1000);
    let mut n = n;
    while n >= 1000 {
        n /= 1000;
        out = format!("x{:03}/{out}", n % 1000);
    }
    out
}

fn suffix(width: u16) -> String {
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// The coordinates of a hash tile: level, index and width (256 for a full tile).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// Tile `index` of `level`, `width` hashes wide.
    ///
    /// # Errors
    /// A [`TileIdError`] for a level above 63 or a width outside 1 to 256.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileIdError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileIdError::Level { level });
        }
        check_width(width)?;
        Ok(Self {
            level,
            index,
            width,
        })
    }

    /// For coordinates the caller has already bounded (level below 64, width 1 to 256).
    pub(crate) const fn new_unchecked(level: u8, index: u64, width: u16) -> Self {
        Self {
            level,
            index,
            width,
        }
    }

    /// The level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 hashes).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Its length in bytes.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_LEN
    }

    /// The path under the log's prefix: `tile/<L>/<N>[.p/<W>]` (**LOG-19**).
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_index(self.index),
            suffix(self.width)
        )
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl fmt::Debug for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TileId({})", self.path())
    }
}

/// The coordinates of an entry bundle: index (that of its level-0 tile) and width.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundleId {
    index: u64,
    width: u16,
}

impl BundleId {
    /// Bundle `index`, `width` entries.
    ///
    /// # Errors
    /// [`TileIdError::Width`] for a width outside 1 to 256.
    pub fn new(index: u64, width: u16) -> Result<Self, TileIdError> {
        check_width(width)?;
        Ok(Self { index, width })
    }

    /// For coordinates the caller has already bounded (width 1 to 256).
    pub(crate) const fn new_unchecked(index: u64, width: u16) -> Self {
        Self { index, width }
    }

    /// The index (that of the level-0 tile whose leaves these entries are).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of entries, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the bundle is full (256 entries).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The path under the log's prefix: `tile/entries/<N>[.p/<W>]` (**LOG-19**).
    pub fn path(&self) -> String {
        format!(
            "tile/entries/{}{}",
            encode_index(self.index),
            suffix(self.width)
        )
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl fmt::Debug for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BundleId({})", self.path())
    }
}

/// How many hashes level `level` has in a tree of `tree_size`.
pub(crate) fn level_len(tree_size: u64, level: u32) -> u64 {
    tree_size.checked_shr(TILE_HEIGHT * level).unwrap_or(0)
}

/// The width of tile `index` at `level` in a tree of `tree_size` (0 if it is empty).
pub(crate) fn tile_width(tree_size: u64, level: u32, index: u64) -> u16 {
    let len = level_len(tree_size, level);
    let start = index.saturating_mul(u64::from(TILE_WIDTH));
    // At most 256, so the cast is exact.
    len.saturating_sub(start).min(u64::from(TILE_WIDTH)) as u16
}

/// Every tile of the tree of `tree_size`, level by level (**LOG-20**): the full tiles
/// and, where the level's length is not a multiple of 256, one partial tile.
pub fn tiles_for(tree_size: u64) -> impl Iterator<Item = TileId> {
    (0..8u32)
        .take_while(move |&l| level_len(tree_size, l) > 0)
        .flat_map(move |l| {
            let len = level_len(tree_size, l);
            (0..len.div_ceil(u64::from(TILE_WIDTH))).map(move |index| TileId {
                level: l as u8,
                index,
                width: tile_width(tree_size, l, index),
            })
        })
}

/// Every entry bundle of the tree of `tree_size` (**LOG-21**).
pub fn bundles_for(tree_size: u64) -> impl Iterator<Item = BundleId> {
    (0..tree_size.div_ceil(u64::from(TILE_WIDTH))).map(move |index| BundleId {
        index,
        width: tile_width(tree_size, 0, index),
    })
}

/// Why an entry bundle could not be split into entries (**LOG-21**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Entry `entry` runs past the end of the bundle.
    #[error("entry {entry} of the bundle is truncated")]
    Truncated {
        /// The entry's position in the bundle.
        entry: usize,
    },
    /// Fewer or more entries than the bundle's width.
    #[error("the bundle holds {found} entries, not {expected}")]
    EntryCount {
        /// The bundle's width.
        expected: u16,
        /// How many entries it holds.
        found: usize,
    },
}

/// Splits a bundle into its entries: each a big-endian `u16` length and that many bytes
/// (**LOG-21**); the bundle must hold exactly `width` entries and nothing after them.
///
/// # Errors
/// A [`BundleError`].
pub fn split_bundle(data: &[u8], width: u16) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    while !rest.is_empty() {
        let entry = entries.len();
        if entry == usize::from(width) {
            return Err(BundleError::EntryCount {
                expected: width,
                found: entry + 1,
            });
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(BundleError::Truncated { entry });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(BundleError::Truncated { entry });
        }
        entries.push(&tail[..len]);
        rest = &tail[len..];
    }
    if entries.len() != usize::from(width) {
        return Err(BundleError::EntryCount {
            expected: width,
            found: entries.len(),
        });
    }
    Ok(entries)
}

/// Where a log keeps its tiles, entry bundles and checkpoint.
///
/// A [`crate::Log`] writes every tile and bundle of a batch before the batch's
/// checkpoint (**LOG-22**), so [`TileStorage::write_checkpoint`] is the commit point: a
/// durable implementation makes a batch's writes visible together when the checkpoint is
/// written. A read of a partial tile or bundle may be answered from a wider version of
/// the same tile (the narrower one is its prefix).
pub trait TileStorage {
    /// Why a read or write failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stores a hash tile: `hashes` is `tile.width()` hashes of 32 bytes.
    ///
    /// # Errors
    /// A storage failure.
    fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), Self::Error>;

    /// Reads a hash tile, `None` if it is not stored.
    ///
    /// # Errors
    /// A storage failure.
    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, Self::Error>;

    /// Stores an entry bundle.
    ///
    /// # Errors
    /// A storage failure.
    fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), Self::Error>;

    /// Reads an entry bundle, `None` if it is not stored.
    ///
    /// # Errors
    /// A storage failure.
    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, Self::Error>;

    /// Stores the signed checkpoint, replacing the previous one: the commit point of a
    /// batch.
    ///
    /// # Errors
    /// A storage failure.
    fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), Self::Error>;

    /// Reads the signed checkpoint, `None` for a new log.
    ///
    /// # Errors
    /// A storage failure.
    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, Self::Error>;
}

/// Why [`MemoryStorage`] refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryStorageError {
    /// A tile whose length is not its width times 32.
    #[error("tile {tile} must be {expected} bytes, not {len}")]
    TileLength {
        /// The tile.
        tile: TileId,
        /// The length it must have.
        expected: usize,
        /// The length given.
        len: usize,
    },
    /// A write that would change hashes or entries a stored checkpoint covers.
    #[error("{path} would change content a checkpoint already covers")]
    Conflict {
        /// The resource's path.
        path: String,
    },
    /// A checkpoint whose tree size cannot be read.
    #[error("the checkpoint is not a checkpoint note")]
    BadCheckpoint,
}

#[derive(Clone, Default)]
struct Stored {
    width: u16,
    data: Vec<u8>,
}

/// Tiles, bundles and the checkpoint in memory.
///
/// Keeps one version of each tile and bundle, the latest: a partial tile is a prefix of
/// every wider version, so a narrower read is served from a wider one (as tlog-tiles
/// allows once the wider tile exists). A write may never change what the stored
/// checkpoint covers; what a batch wrote before failing to write its checkpoint is
/// replaced by the next batch.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    tiles: HashMap<(u8, u64), Stored>,
    bundles: HashMap<u64, Stored>,
    checkpoint: Option<String>,
    /// The tree size of the stored checkpoint.
    committed_size: u64,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes of tiles and bundles it holds.
    pub fn byte_len(&self) -> usize {
        self.tiles.values().map(|s| s.data.len()).sum::<usize>()
            + self.bundles.values().map(|s| s.data.len()).sum::<usize>()
    }

    /// Replaces a stored tile or bundle without any check: for tests that tamper with a
    /// log.
    #[cfg(test)]
    pub(crate) fn tamper(&mut self, path: &str, data: Vec<u8>) {
        for (k, s) in &mut self.tiles {
            let id = TileId {
                level: k.0,
                index: k.1,
                width: s.width,
            };
            if id.path() == path {
                s.data = data;
                return;
            }
        }
        for (k, s) in &mut self.bundles {
            if (BundleId {
                index: *k,
                width: s.width,
            })
            .path()
                == path
            {
                s.data = data;
                return;
            }
        }
        panic!("no {path} to tamper with");
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("tiles", &self.tiles.len())
            .field("bundles", &self.bundles.len())
            .field("checkpoint", &self.checkpoint.is_some())
            .finish()
    }
}

/// The byte length of the first `entries` entries of a bundle (`None` if it holds fewer).
pub(crate) fn bundle_prefix_len(data: &[u8], entries: u16) -> Option<usize> {
    let mut end = 0usize;
    for _ in 0..entries {
        let len = data.get(end..end + 2)?;
        end += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    (end <= data.len()).then_some(end)
}

/// Replaces a stored tile or bundle, refusing to change its committed prefix: the
/// `committed` bytes a checkpoint already covers. What lies beyond (written by a batch
/// whose checkpoint never came) may be replaced.
fn replace(
    slot: &mut Stored,
    width: u16,
    data: &[u8],
    committed: usize,
    path: impl Fn() -> String,
) -> Result<(), MemoryStorageError> {
    let keep = committed.min(slot.data.len());
    if !data.starts_with(&slot.data[..keep]) || data.len() < keep {
        return Err(MemoryStorageError::Conflict { path: path() });
    }
    slot.width = width;
    slot.data.clear();
    slot.data.extend_from_slice(data);
    Ok(())
}

impl TileStorage for MemoryStorage {
    type Error = MemoryStorageError;

    fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), Self::Error> {
        if hashes.len() != tile.byte_len() {
            return Err(MemoryStorageError::TileLength {
                tile,
                expected: tile.byte_len(),
                len: hashes.len(),
            });
        }
        let committed = usize::from(tile_width(
            self.committed_size,
            u32::from(tile.level),
            tile.index,
        )) * HASH_LEN;
        let slot = self.tiles.entry((tile.level, tile.index)).or_default();
        replace(slot, tile.width, hashes, committed, || tile.path())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, Self::Error> {
        Ok(self
            .tiles
            .get(&(tile.level, tile.index))
            .filter(|s| s.width >= tile.width)
            .and_then(|s| s.data.get(..tile.byte_len()))
            .map(Cow::Borrowed))
    }

    fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), Self::Error> {
        let entries = tile_width(self.committed_size, 0, bundle.index);
        let slot = self.bundles.entry(bundle.index).or_default();
        let committed = bundle_prefix_len(&slot.data, entries).unwrap_or(slot.data.len());
        replace(slot, bundle.width, data, committed, || bundle.path())
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, Self::Error> {
        let Some(s) = self.bundles.get(&bundle.index) else {
            return Ok(None);
        };
        if s.width == bundle.width {
            return Ok(Some(Cow::Borrowed(&s.data)));
        }
        if s.width < bundle.width {
            return Ok(None);
        }
        // The first `width` entries of the wider bundle.
        Ok(bundle_prefix_len(&s.data, bundle.width)
            .and_then(|end| s.data.get(..end))
            .map(Cow::Borrowed))
    }

    fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), Self::Error> {
        self.committed_size =
            stored_tree_size(checkpoint).ok_or(MemoryStorageError::BadCheckpoint)?;
        self.checkpoint = Some(checkpoint.to_owned());
        Ok(())
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, Self::Error> {
        Ok(self.checkpoint.as_deref().map(Cow::Borrowed))
    }
}

/// Why a static log directory could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError<E: std::error::Error + 'static> {
    /// The storage has no checkpoint.
    #[error("the storage holds no checkpoint")]
    NoCheckpoint,
    /// The stored checkpoint is not a checkpoint note.
    #[error("the stored checkpoint is malformed")]
    BadCheckpoint,
    /// A tile or bundle the checkpoint needs is not stored.
    #[error("{path} is not in the storage")]
    Missing {
        /// The resource's path.
        path: String,
    },
    /// Reading the storage failed.
    #[error("reading the tile storage failed")]
    Storage(#[source] E),
    /// Writing a file failed.
    #[error("writing {path} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What was written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirSummary {
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// How many tile files.
    pub tiles: usize,
    /// How many entry bundle files.
    pub bundles: usize,
}

/// The tree size of a stored checkpoint, without verifying its signature.
fn stored_tree_size(text: &str) -> Option<u64> {
    let note = SignedNote::parse(text.as_bytes()).ok()?;
    Checkpoint::parse(note.text()).ok().map(|c| c.tree_size())
}

fn write_file(dir: &Path, rel: &str, data: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let path = dir.join(rel);
    let io = |e| (path.clone(), e);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // Write beside and rename, so a reader never sees half a file.
    let tmp = path.with_extension("tmp-minimis");
    std::fs::write(&tmp, data).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Writes the log in `storage` as a static tlog-tiles directory under `dir` (**LOG-23**):
/// every tile and entry bundle of the stored checkpoint's tree, then `checkpoint` last,
/// so a reader that sees the checkpoint finds everything it needs.
///
/// # Errors
/// An [`ExportError`].
pub fn export_dir<S: TileStorage + ?Sized>(
    storage: &S,
    dir: &Path,
) -> Result<DirSummary, ExportError<S::Error>> {
    let checkpoint = storage
        .read_checkpoint()
        .map_err(ExportError::Storage)?
        .ok_or(ExportError::NoCheckpoint)?;
    let tree_size = stored_tree_size(&checkpoint).ok_or(ExportError::BadCheckpoint)?;
    let io = |(path, source)| ExportError::Io { path, source };
    let mut summary = DirSummary {
        tree_size,
        tiles: 0,
        bundles: 0,
    };
    for tile in tiles_for(tree_size) {
        let data = storage
            .read_tile(tile)
            .map_err(ExportError::Storage)?
            .ok_or_else(|| ExportError::Missing { path: tile.path() })?;
        write_file(dir, &tile.path(), &data).map_err(io)?;
        summary.tiles += 1;
    }
    for bundle in bundles_for(tree_size) {
        let data = storage
            .read_bundle(bundle)
            .map_err(ExportError::Storage)?
            .ok_or_else(|| ExportError::Missing {
                path: bundle.path(),
            })?;
        write_file(dir, &bundle.path(), &data).map_err(io)?;
        summary.bundles += 1;
    }
    write_file(dir, "checkpoint", checkpoint.as_bytes()).map_err(io)?;
    Ok(summary)
}

/// Why a static log directory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A file could not be read: a link, a special file, a file larger than its kind can
    /// be, an I/O error (**LOG-38**).
    #[error(transparent)]
    File(#[from] crate::static_dir::DirReadError),
    /// A file the checkpoint's tree needs is not there.
    #[error("{path} is missing")]
    Missing {
        /// The file's path, relative to the directory.
        path: String,
    },
    /// The `checkpoint` file is not a checkpoint note.
    #[error("the checkpoint file is malformed")]
    BadCheckpoint,
    /// A tile file whose length is not its width times 32.
    #[error("{path} has the wrong length")]
    TileLength {
        /// The tile's path.
        path: String,
    },
}

/// Reads a static tlog-tiles directory into memory, as a client would (**LOG-23**):
/// the `checkpoint`, then exactly the tiles and bundles its tree size requires, each
/// read as [`crate::static_dir`] reads files (no link or special file followed, no
/// file read past its bound, **LOG-38**).
///
/// Nothing is verified here but the tiles' lengths, and everything the tree needs is read
/// before anything is verified: to verify a directory someone else wrote, open a
/// [`crate::static_dir::DirStorage`] with [`crate::LogReader::open`] instead, which
/// verifies the checkpoint before it reads any tile.
///
/// # Errors
/// An [`ImportError`].
pub fn read_dir(dir: &Path) -> Result<MemoryStorage, ImportError> {
    let root = crate::static_dir::Root::open(dir)?;
    let read = |rel: &str, max: usize| {
        root.read(rel, max)?.ok_or_else(|| ImportError::Missing {
            path: rel.to_owned(),
        })
    };
    let checkpoint = String::from_utf8(read("checkpoint", crate::note::MAX_NOTE_LEN)?)
        .map_err(|_| ImportError::BadCheckpoint)?;
    let tree_size = stored_tree_size(&checkpoint).ok_or(ImportError::BadCheckpoint)?;
    let mut storage = MemoryStorage::new();
    for tile in tiles_for(tree_size) {
        let data = read(&tile.path(), tile.byte_len())?;
        storage
            .write_tile(tile, &data)
            .map_err(|_| ImportError::TileLength { path: tile.path() })?;
    }
    for bundle in bundles_for(tree_size) {
        let data = read(
            &bundle.path(),
            usize::from(bundle.width()) * (2 + MAX_ENTRY_LEN),
        )?;
        // One version per bundle index: this write cannot conflict.
        let slot = storage.bundles.entry(bundle.index).or_default();
        slot.width = bundle.width;
        slot.data = data;
    }
    storage.checkpoint = Some(checkpoint);
    storage.committed_size = tree_size;
    Ok(storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_19_paths_are_encoded_as_the_spec_says() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(67), "067");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        assert_eq!(
            TileId::new(0, 1_234_067, 256).unwrap().path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(TileId::new(1, 0, 17).unwrap().path(), "tile/1/000.p/17");
        assert_eq!(TileId::new(63, 5, 1).unwrap().path(), "tile/63/005.p/1");
        assert_eq!(
            BundleId::new(273, 112).unwrap().path(),
            "tile/entries/273.p/112"
        );
        assert_eq!(
            BundleId::new(1000, 256).unwrap().path(),
            "tile/entries/x001/000"
        );
        assert_eq!(TileId::new(64, 0, 1), Err(TileIdError::Level { level: 64 }));
        assert_eq!(TileId::new(0, 0, 0), Err(TileIdError::Width { width: 0 }));
        assert_eq!(
            BundleId::new(0, 257),
            Err(TileIdError::Width { width: 257 })
        );
    }

    #[test]
    fn log_20_tiles_of_a_tree_match_the_spec_examples() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one
        // partial level 0 tile of width 112, one full level 1 tile, one partial level 1
        // tile of width 17, and one partial level 2 tile of width 1."
        let tiles: Vec<TileId> = tiles_for(70_000).collect();
        let level = |l: u8| tiles.iter().filter(move |t| t.level == l);
        assert_eq!(level(0).filter(|t| t.is_full()).count(), 273);
        assert_eq!(
            level(0)
                .filter(|t| !t.is_full())
                .map(|t| (t.index, t.width))
                .collect::<Vec<_>>(),
            [(273, 112)]
        );
        assert_eq!(
            level(1).map(|t| (t.index, t.width)).collect::<Vec<_>>(),
            [(0, 256), (1, 17)]
        );
        assert_eq!(
            level(2).map(|t| (t.index, t.width)).collect::<Vec<_>>(),
            [(0, 1)]
        );
        assert_eq!(tiles.len(), 273 + 1 + 2 + 1);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial
        // level 1 tile of width 1."
        let t256: Vec<String> = tiles_for(256).map(|t| t.path()).collect();
        assert_eq!(t256, ["tile/0/000", "tile/1/000.p/1"]);
        // Empty tiles are never listed.
        assert_eq!(tiles_for(0).count(), 0);
        assert!(tiles_for(65_536 + 255).all(|t| t.width > 0));
        assert_eq!(tiles_for(65_536).filter(|t| !t.is_full()).count(), 1);
        assert_eq!(bundles_for(70_000).count(), 274);
        assert_eq!(bundles_for(512).last().unwrap().path(), "tile/entries/001");
    }

    #[test]
    fn log_21_bundles_are_u16_length_prefixed() {
        let data = [0, 2, b'h', b'i', 0, 0, 0, 1, b'!'];
        assert_eq!(split_bundle(&data, 3).unwrap(), [&b"hi"[..], b"", b"!"]);
        assert_eq!(
            split_bundle(&data, 4),
            Err(BundleError::EntryCount {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            split_bundle(&data, 2),
            Err(BundleError::EntryCount {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            split_bundle(&data[..8], 3),
            Err(BundleError::Truncated { entry: 2 })
        );
        assert_eq!(
            split_bundle(&data[..5], 3),
            Err(BundleError::Truncated { entry: 1 })
        );
    }

    #[test]
    fn memory_storage_serves_prefixes_and_refuses_to_change_committed_content() {
        let mut s = MemoryStorage::new();
        let t3 = TileId::new(0, 0, 3).unwrap();
        let t5 = TileId::new(0, 0, 5).unwrap();
        s.write_tile(t3, &[1; 96]).unwrap();
        let mut five = vec![1; 96];
        five.extend_from_slice(&[2; 64]);
        s.write_tile(t5, &five).unwrap();
        assert_eq!(s.read_tile(t3).unwrap().unwrap().as_ref(), &[1; 96]);
        assert_eq!(s.read_tile(TileId::new(0, 0, 6).unwrap()).unwrap(), None);
        assert!(matches!(
            s.write_tile(t5, &[1; 10]),
            Err(MemoryStorageError::TileLength { .. })
        ));
        // Nothing is committed yet: an unfinished batch may be replaced.
        s.write_tile(t3, &[3; 96]).unwrap();
        s.write_tile(t5, &five).unwrap();
        // Once a checkpoint of size 4 covers them, the first four hashes are fixed.
        let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        s.write_checkpoint(&format!("o\n4\n{root}\n\n\u{2014} o AAAAAAA=\n"))
            .unwrap();
        assert!(matches!(
            s.write_tile(t3, &[1; 96]),
            Err(MemoryStorageError::Conflict { .. })
        ));
        let mut changed = five.clone();
        changed[100] ^= 1;
        assert!(matches!(
            s.write_tile(t5, &changed),
            Err(MemoryStorageError::Conflict { .. })
        ));
        let mut beyond = five.clone();
        beyond[140] ^= 1;
        s.write_tile(t5, &beyond).unwrap();
        assert_eq!(
            s.write_checkpoint("garbage"),
            Err(MemoryStorageError::BadCheckpoint)
        );
        let b2 = BundleId::new(0, 2).unwrap();
        s.write_bundle(b2, &[0, 1, b'a', 0, 1, b'b']).unwrap();
        s.write_bundle(
            BundleId::new(0, 3).unwrap(),
            &[0, 1, b'a', 0, 1, b'b', 0, 0],
        )
        .unwrap();
        assert_eq!(
            s.read_bundle(b2).unwrap().unwrap().as_ref(),
            &[0, 1, b'a', 0, 1, b'b']
        );
        assert_eq!(
            s.read_bundle(BundleId::new(0, 1).unwrap())
                .unwrap()
                .unwrap()
                .as_ref(),
            &[0, 1, b'a']
        );
        assert!(matches!(
            s.write_bundle(b2, &[0, 1, b'a', 0, 1, b'c']),
            Err(MemoryStorageError::Conflict { .. })
        ));
    }
}
