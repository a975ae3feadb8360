//! A log read as a C2SP tlog-tiles client reads it (**AUD-13**): the [`TlogClient`]
//! source fetches `<prefix>/checkpoint`, then exactly the tiles and entry bundles that
//! checkpoint's tree needs, through a [`Fetch`] transport, bounded in size.
//!
//! The transport is the caller's: `minimis audit https://…` gives one over HTTPS (TLS 1.3,
//! in the `minimis` binary, on tokio); this crate stays free of any network stack and
//! async runtime. As for every source, nothing is verified here: the auditor verifies
//! what was fetched (**AUD-1** to **AUD-3**) exactly as it verifies a directory.
//!
//! Fetch order and bounds (<https://c2sp.org/tlog-tiles>, **LOG-19** to **LOG-23**):
//!
//! 1. `checkpoint`, at most [`minimis_log::note::MAX_NOTE_LEN`] bytes; its tree size
//!    (read, not yet verified) gives the tiles and bundles to fetch;
//! 2. a tree whose tiles and bundles cannot fit in [`TlogClient::max_bytes`] is refused
//!    before anything else is fetched;
//! 3. every hash tile, level by level ([`minimis_log::tiles::tiles_for`]), each exactly
//!    its width × 32 bytes;
//! 4. every entry bundle ([`minimis_log::tiles::bundles_for`]), each at most its width ×
//!    (2 + 65,535) bytes.
//!
//! A partial tile or bundle that answers 404 is read from the full one of the same index,
//! if there is one (a log may drop partial tiles once the full tile exists): its first
//! `width` hashes or entries. Fetching stops at the first error: every error is a
//! [`RemoteError`], and nothing was verified.

use std::fmt;

use minimis_log::checkpoint::Checkpoint;
use minimis_log::note::{MAX_NOTE_LEN, SignedNote};
use minimis_log::tiles::{
    BundleId, FULL_TILE_LEN, MAX_ENTRY_LEN, TILE_WIDTH, TileId, bundles_for, tiles_for,
};
use minimis_log::{MemoryStorage, TileStorage as _};

use crate::layout::{LogSource, SourceError};

/// The default bound on what one audit fetches: 4 GiB of tiles and bundles.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Why one request failed, as the transport reports it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No connection could be made (name resolution, TCP).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TLS handshake failed: for example, the server's certificate does not verify
    /// against the roots given.
    #[error("TLS: {0}")]
    Tls(String),
    /// No complete answer within the time allowed.
    #[error("no complete answer within {seconds} s")]
    Timeout {
        /// The time allowed, in seconds.
        seconds: u64,
    },
    /// An answer other than `200 OK` or `404 Not Found`.
    #[error("the server answered HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
    },
    /// An answer longer than the resource can be.
    #[error("the answer is larger than the {max} bytes it can be")]
    TooLarge {
        /// The most the resource can be, in bytes.
        max: usize,
    },
    /// Any other transport failure (the connection dropped, a malformed HTTP answer).
    #[error("{0}")]
    Transport(String),
}

/// A transport that GETs the resources of one log, under its prefix.
pub trait Fetch {
    /// The log's prefix, for people: a URL such as `https://log.example/v1/log`.
    fn location(&self) -> String;

    /// GETs `<prefix>/<path>` (`path` is `checkpoint`, `tile/0/000` and the like):
    /// `Ok(Some(body))` for `200 OK`, `Ok(None)` for `404 Not Found`.
    ///
    /// # Errors
    /// A [`FetchError`]; [`FetchError::TooLarge`] for an answer longer than `max`
    /// bytes, which a transport should stop reading as soon as it knows.
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, FetchError>;
}

/// Why a log could not be fetched from a tlog-tiles server (**AUD-13**). Nothing was
/// verified; `minimis audit` exits 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// A request failed.
    #[error("GET {url} failed")]
    Fetch {
        /// The resource.
        url: String,
        /// Why.
        #[source]
        error: FetchError,
    },
    /// The checkpoint, or a resource its tree needs, is not there (404).
    #[error("GET {url}: not found (404)")]
    NotFound {
        /// The resource.
        url: String,
    },
    /// The checkpoint is not a checkpoint note.
    #[error("{url} is not a checkpoint note")]
    BadCheckpoint {
        /// The checkpoint's URL.
        url: String,
    },
    /// A hash tile of the wrong length.
    #[error("{url} is {len} bytes; a tile of its width is {expected}")]
    TileLength {
        /// The tile.
        url: String,
        /// Its width × 32.
        expected: usize,
        /// What was served.
        len: usize,
    },
    /// The checkpoint's tree is too large to fetch within the bound.
    #[error(
        "the checkpoint's tree of {tree_size} entries needs at least {needed} bytes of tiles and bundles, more than the limit of {max} bytes"
    )]
    LogTooLarge {
        /// The tree size the checkpoint claims.
        tree_size: u64,
        /// The least its tiles and bundles can take.
        needed: u64,
        /// The bound.
        max: u64,
    },
    /// The tiles and bundles served exceed the bound.
    #[error("the tiles and bundles served exceed the limit of {max} bytes")]
    TooManyBytes {
        /// The bound.
        max: u64,
    },
}

/// A log read from a tlog-tiles server through `F` (**AUD-13**): a [`LogSource`] like
/// the directory source, whose [`LogSource::fetch`] returns the same [`MemoryStorage`].
pub struct TlogClient<F> {
    fetch: F,
    max_bytes: u64,
}

impl<F> fmt::Debug for TlogClient<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlogClient")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl<F: Fetch> TlogClient<F> {
    /// A client of the log `fetch` reaches, fetching at most [`DEFAULT_MAX_BYTES`].
    pub fn new(fetch: F) -> Self {
        Self {
            fetch,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Bounds what one fetch reads: tiles and bundles, in bytes.
    #[must_use]
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &F {
        &self.fetch
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.fetch.location().trim_end_matches('/'))
    }

    /// GETs `path`, at most `max` bytes, `None` for 404.
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, RemoteError> {
        let fetch_error = |error| RemoteError::Fetch {
            url: self.url(path),
            error,
        };
        let body = self.fetch.get(path, max).map_err(fetch_error)?;
        // A transport that read past `max` still gets no further.
        match body {
            Some(b) if b.len() > max => Err(fetch_error(FetchError::TooLarge { max })),
            other => Ok(other),
        }
    }

    /// GETs a tile or bundle of `width` at `partial`; on 404 for a partial one, the full
    /// one at `full`, cut to its first `width` items by `cut`.
    fn get_resource(
        &self,
        partial: &str,
        full: Option<&str>,
        max: usize,
        full_max: usize,
        cut: impl Fn(Vec<u8>) -> Vec<u8>,
    ) -> Result<Vec<u8>, RemoteError> {
        if let Some(b) = self.get(partial, max)? {
            return Ok(b);
        }
        if let Some(full) = full
            && let Some(b) = self.get(full, full_max)?
        {
            return Ok(cut(b));
        }
        Err(RemoteError::NotFound {
            url: self.url(partial),
        })
    }

    /// Fetches the log: the checkpoint, then every tile, then every bundle.
    fn fetch_log(&self) -> Result<MemoryStorage, RemoteError> {
        let checkpoint_url = || self.url("checkpoint");
        let checkpoint =
            self.get("checkpoint", MAX_NOTE_LEN)?
                .ok_or_else(|| RemoteError::NotFound {
                    url: checkpoint_url(),
                })?;
        let checkpoint = String::from_utf8(checkpoint).map_err(|_| RemoteError::BadCheckpoint {
            url: checkpoint_url(),
        })?;
        let tree_size = SignedNote::parse(checkpoint.as_bytes())
            .ok()
            .and_then(|n| Checkpoint::parse(n.text()).ok())
            .map(|c| c.tree_size())
            .ok_or_else(|| RemoteError::BadCheckpoint {
                url: checkpoint_url(),
            })?;
        // The least the tree can take: its tiles, and two bytes of length per entry.
        let tile_bytes: u64 = tiles_for(tree_size)
            .map(|t| t.byte_len() as u64)
            .fold(0u64, u64::saturating_add);
        let needed = tile_bytes.saturating_add(tree_size.saturating_mul(2));
        if needed > self.max_bytes {
            return Err(RemoteError::LogTooLarge {
                tree_size,
                needed,
                max: self.max_bytes,
            });
        }
        let mut total: u64 = 0;
        let mut count = |len: usize| {
            total = total.saturating_add(len as u64);
            if total > self.max_bytes {
                Err(RemoteError::TooManyBytes {
                    max: self.max_bytes,
                })
            } else {
                Ok(())
            }
        };
        let mut storage = MemoryStorage::new();
        for tile in tiles_for(tree_size) {
            let full = full_tile(tile);
            let data = self.get_resource(
                &tile.path(),
                full.as_ref().map(TileId::path).as_deref(),
                tile.byte_len(),
                FULL_TILE_LEN,
                |mut b| {
                    if b.len() == FULL_TILE_LEN {
                        b.truncate(tile.byte_len());
                    }
                    b
                },
            )?;
            count(data.len())?;
            if data.len() != tile.byte_len() {
                return Err(RemoteError::TileLength {
                    url: self.url(&tile.path()),
                    expected: tile.byte_len(),
                    len: data.len(),
                });
            }
            storage
                .write_tile(tile, &data)
                .map_err(|_| RemoteError::TileLength {
                    url: self.url(&tile.path()),
                    expected: tile.byte_len(),
                    len: data.len(),
                })?;
        }
        for bundle in bundles_for(tree_size) {
            let full = full_bundle(bundle);
            let data = self.get_resource(
                &bundle.path(),
                full.as_ref().map(BundleId::path).as_deref(),
                max_bundle_len(bundle.width()),
                max_bundle_len(TILE_WIDTH),
                |mut b| {
                    // The first `width` entries; a bundle too short to hold them is
                    // kept whole, for the auditor to report (AUD-3).
                    if let Some(end) = bundle_prefix_len(&b, bundle.width()) {
                        b.truncate(end);
                    }
                    b
                },
            )?;
            count(data.len())?;
            // Nothing is committed yet, so no write can conflict; the auditor checks
            // the bundle's entries against its tile (AUD-3).
            let _ = storage.write_bundle(bundle, &data);
        }
        storage
            .write_checkpoint(&checkpoint)
            .map_err(|_| RemoteError::BadCheckpoint {
                url: checkpoint_url(),
            })?;
        Ok(storage)
    }
}

impl<F: Fetch> LogSource for TlogClient<F> {
    type Storage = MemoryStorage;

    fn location(&self) -> String {
        self.fetch.location()
    }

    fn fetch(&self) -> Result<MemoryStorage, SourceError> {
        Ok(self.fetch_log()?)
    }
}

/// The full tile of a partial tile's index; `None` for a full tile.
fn full_tile(tile: TileId) -> Option<TileId> {
    if tile.is_full() {
        None
    } else {
        TileId::new(tile.level(), tile.index(), TILE_WIDTH).ok()
    }
}

/// The full bundle of a partial bundle's index; `None` for a full bundle.
fn full_bundle(bundle: BundleId) -> Option<BundleId> {
    if bundle.is_full() {
        None
    } else {
        BundleId::new(bundle.index(), TILE_WIDTH).ok()
    }
}

/// The largest bundle of `width` entries.
fn max_bundle_len(width: u16) -> usize {
    usize::from(width) * (2 + MAX_ENTRY_LEN)
}

/// The byte length of the first `entries` entries of a bundle, `None` if it holds fewer.
fn bundle_prefix_len(data: &[u8], entries: u16) -> Option<usize> {
    let mut end = 0usize;
    for _ in 0..entries {
        let len = data.get(end..end.checked_add(2)?)?;
        end = end.checked_add(2 + usize::from(u16::from_be_bytes([len[0], len[1]])))?;
    }
    (end <= data.len()).then_some(end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use minimis_log::TileStorage;

    use super::*;
    use crate::synthetic::{History, Params, SignedLog};
    use crate::{Auditor, DirSource};

    /// A tlog-tiles server in memory: paths to bodies, and the requests it got.
    struct MapFetch {
        files: HashMap<String, Vec<u8>>,
        requests: RefCell<Vec<String>>,
    }

    impl MapFetch {
        /// Every tile and bundle of `storage`'s tree at each of `sizes`, and its
        /// checkpoint.
        fn of(storage: &MemoryStorage, sizes: &[u64]) -> Self {
            let mut files = HashMap::new();
            for &size in sizes {
                for t in tiles_for(size) {
                    let d = storage.read_tile(t).unwrap().unwrap();
                    files.insert(t.path(), d.into_owned());
                }
                for b in bundles_for(size) {
                    let d = storage.read_bundle(b).unwrap().unwrap();
                    files.insert(b.path(), d.into_owned());
                }
            }
            let cp = storage.read_checkpoint().unwrap().unwrap();
            files.insert("checkpoint".into(), cp.as_bytes().to_vec());
            Self {
                files,
                requests: RefCell::new(Vec::new()),
            }
        }
    }

    impl Fetch for MapFetch {
        fn location(&self) -> String {
            "https://log.example/v1/log".into()
        }

        fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
            self.requests.borrow_mut().push(path.to_owned());
            match self.files.get(path) {
                Some(b) if b.len() > max => Err(FetchError::TooLarge { max }),
                other => Ok(other.cloned()),
            }
        }
    }

    fn small() -> (History, SignedLog) {
        let h = History::generate(&Params {
            participants: 6,
            epochs: 3,
            ..Params::small()
        });
        let log = SignedLog::build(&h.entries, 100);
        (h, log)
    }

    #[test]
    fn aud_13_fetches_the_checkpoint_then_exactly_the_tiles_and_bundles_it_needs() {
        let (h, log) = small();
        let size = log.log.size();
        assert!(size > 256, "the test needs full and partial tiles: {size}");
        let client = TlogClient::new(MapFetch::of(&log.log.storage().clone(), &[size]));
        assert_eq!(client.location(), "https://log.example/v1/log");
        let storage = client.fetch().unwrap();
        let mut expected = vec!["checkpoint".to_owned()];
        expected.extend(tiles_for(size).map(|t| t.path()));
        expected.extend(bundles_for(size).map(|b| b.path()));
        assert_eq!(*client.transport().requests.borrow(), expected);
        // The same log, so the same audit as from a directory.
        let dir = tempfile::tempdir().unwrap();
        log.log.export_dir(dir.path()).unwrap();
        let from_dir = DirSource::new(dir.path()).fetch().unwrap();
        let auditor = Auditor::new(log.log_key.clone(), h.now)
            .witness(log.witness_key.clone())
            .policy(h.policy.clone());
        let a = auditor.audit(storage, None).unwrap();
        let b = auditor.audit(from_dir, None).unwrap();
        assert!(a.holds(), "{}", a.to_table());
        assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn aud_13_a_partial_tile_that_is_gone_is_read_from_the_full_one() {
        let (h, mut log) = small();
        let old = log.log.size();
        let old_checkpoint = log.log.checkpoint().to_string();
        log.append(&h.entries[..300], 100);
        let new = log.log.size();
        let mut fetch = MapFetch::of(&log.log.storage().clone(), &[old, new]);
        // The server has dropped the partial tiles and bundles that are now full.
        let gone: Vec<String> = tiles_for(old)
            .map(|t| t.path())
            .chain(bundles_for(old).map(|b| b.path()))
            .filter(|p| p.contains(".p/"))
            .filter(|p| {
                let full = p.split(".p/").next().unwrap_or_default();
                fetch.files.contains_key(full)
            })
            .collect();
        assert!(!gone.is_empty());
        for p in &gone {
            fetch.files.remove(p);
        }
        fetch
            .files
            .insert("checkpoint".into(), old_checkpoint.into_bytes());
        let client = TlogClient::new(fetch);
        let storage = client.fetch().unwrap();
        let requests = client.transport().requests.borrow().clone();
        for p in &gone {
            let full = p.split(".p/").next().unwrap_or_default().to_owned();
            let at = requests.iter().position(|r| r == p).unwrap();
            assert_eq!(requests[at + 1], full, "{p} is read from {full}");
        }
        let report = Auditor::new(log.log_key.clone(), h.now)
            .witness(log.witness_key.clone())
            .policy(h.policy.clone())
            .audit(storage, None)
            .unwrap();
        assert_eq!(report.log_state().tree_size(), old);
    }

    #[test]
    fn aud_13_missing_wrong_length_and_oversized_resources_are_typed_errors() {
        let (_, log) = small();
        let size = log.log.size();
        let storage = log.log.storage().clone();
        let error = |fetch: MapFetch| match TlogClient::new(fetch).fetch() {
            Err(SourceError::Remote(e)) => e,
            other => panic!("expected a remote error, got {other:?}"),
        };
        // A bundle the tree needs is missing.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.remove("tile/entries/000");
        assert!(
            matches!(error(f), RemoteError::NotFound { url } if url == "https://log.example/v1/log/tile/entries/000")
        );
        // No checkpoint.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.remove("checkpoint");
        assert!(matches!(error(f), RemoteError::NotFound { .. }));
        // A checkpoint that is not one.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.insert("checkpoint".into(), b"hello\n".to_vec());
        assert!(matches!(error(f), RemoteError::BadCheckpoint { .. }));
        // A checkpoint larger than any note.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files
            .insert("checkpoint".into(), vec![b'a'; MAX_NOTE_LEN + 1]);
        assert!(matches!(
            error(f),
            RemoteError::Fetch { error: FetchError::TooLarge { max }, .. } if max == MAX_NOTE_LEN
        ));
        // A full tile one hash short, and one hash long.
        for len in [FULL_TILE_LEN - 32, FULL_TILE_LEN + 32] {
            let mut f = MapFetch::of(&storage, &[size]);
            f.files.insert("tile/0/000".into(), vec![0; len]);
            let e = error(f);
            if len < FULL_TILE_LEN {
                assert!(
                    matches!(e, RemoteError::TileLength { expected: FULL_TILE_LEN, len: l, .. } if l == len)
                );
            } else {
                assert!(matches!(
                    e,
                    RemoteError::Fetch {
                        error: FetchError::TooLarge { max: FULL_TILE_LEN },
                        ..
                    }
                ));
            }
        }
        // The bound on the whole log: refused from the checkpoint alone, before any tile.
        let f = MapFetch::of(&storage, &[size]);
        let client = TlogClient::new(f).max_bytes(1000);
        assert!(matches!(
            client.fetch(),
            Err(SourceError::Remote(RemoteError::LogTooLarge { tree_size, max: 1000, .. })) if tree_size == size
        ));
        assert_eq!(*client.transport().requests.borrow(), ["checkpoint"]);
        // A bound the tiles fit in but the bundles do not.
        let tiles: u64 = tiles_for(size).map(|t| t.byte_len() as u64).sum();
        let client = TlogClient::new(MapFetch::of(&storage, &[size])).max_bytes(tiles + 2 * size);
        assert!(matches!(
            client.fetch(),
            Err(SourceError::Remote(RemoteError::TooManyBytes { .. }))
        ));
    }

    #[test]
    fn bundle_prefixes_are_whole_entries() {
        let data = [0, 2, b'h', b'i', 0, 0, 0, 1, b'!'];
        assert_eq!(bundle_prefix_len(&data, 0), Some(0));
        assert_eq!(bundle_prefix_len(&data, 1), Some(4));
        assert_eq!(bundle_prefix_len(&data, 3), Some(9));
        assert_eq!(bundle_prefix_len(&data, 4), None);
        assert_eq!(bundle_prefix_len(&data[..8], 3), None);
    }
}
