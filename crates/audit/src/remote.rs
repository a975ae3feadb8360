//! A log read as a C2SP tlog-tiles client reads it (**AUD-13**): the [`TlogClient`]
//! source fetches `<prefix>/checkpoint`, then the tiles and entry bundles that
//! checkpoint's tree needs, through a [`Fetch`] transport, each when the auditor asks for
//! it and bounded in size (**AUD-33**).
//!
//! The transport is the caller's: `minimis audit https://…` gives one over HTTPS (TLS 1.3,
//! in the `minimis` binary, on tokio); this crate stays free of any network stack and
//! async runtime. As for every source, nothing is verified here: the auditor verifies
//! what was fetched (**AUD-1** to **AUD-3**) exactly as it verifies a directory.
//!
//! Fetch order and bounds (<https://c2sp.org/tlog-tiles>, **LOG-19** to **LOG-23**,
//! **AUD-31**, **AUD-33**):
//!
//! 1. `checkpoint`, at most [`minimis_log::note::MAX_NOTE_LEN`] bytes; the auditor
//!    verifies its signature, every required cosignature and its state before it asks for
//!    anything else;
//! 2. with the first tile asked for, a tree whose tiles (and two bytes per entry) cannot
//!    fit in [`TlogClient::max_bytes`] is refused before any tile is fetched;
//! 3. each tile and bundle as the auditor checks the tree top down (LOG-39): the right
//!    edge first, then depth first; each hash tile at most its width × 32 bytes, each
//!    entry bundle at most its width × (2 + 65,535) bytes, and everything fetched
//!    together at most [`TlogClient::max_bytes`].
//!
//! Each resource is fetched once. A partial tile or bundle that answers 404 is read from
//! the full one of the same index, if there is one (a log may drop partial tiles once the
//! full tile exists): its first `width` hashes or entries. A resource that answers 404
//! otherwise is missing: the log does not verify.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::fmt;
use std::rc::Rc;

use minimis_log::TileStorage;
use minimis_log::checkpoint::Checkpoint;
use minimis_log::note::{MAX_NOTE_LEN, SignedNote};
use minimis_log::tiles::{
    BundleId, FULL_TILE_LEN, MAX_BUNDLE_LEN, MAX_ENTRY_LEN, TILE_WIDTH, TileId, tiles_for,
};

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
    /// An answer other than `200 OK` or `404 Not Found` (a redirect included: it is not
    /// followed).
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

/// Why a log could not be read from a tlog-tiles server (**AUD-13**, **AUD-33**). The
/// auditor reports it as a log that does not verify (exit 3), except when
/// [`RemoteError::could_not_check`] says the server was never reached, or the log is
/// larger than the caller's bound (exit 2).
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
    /// The checkpoint is not UTF-8 text.
    #[error("{url} is not a checkpoint note")]
    BadCheckpoint {
        /// The checkpoint's URL.
        url: String,
    },
    /// The checkpoint's tree is too large to fetch within the bound.
    #[error(
        "the checkpoint's tree of {tree_size} entries needs at least {needed} bytes of tiles and bundles, more than the limit of {max} bytes; give a larger --max-bytes to audit it"
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
    #[error(
        "the tiles and bundles served exceed the limit of {max} bytes; give a larger --max-bytes to audit it"
    )]
    TooManyBytes {
        /// The bound.
        max: u64,
    },
    /// A write to a log read from a server, which only reads.
    #[error("a log read from a server is read-only")]
    ReadOnly,
}

impl RemoteError {
    /// Whether the log could not be checked rather than found not to verify (exit 2,
    /// **AUD-33**): no connection or no TLS session to a server whose certificate
    /// verifies could be made (nothing the log's server says was read), or the log is
    /// larger than the caller's bound. Everything else the server answered, or failed to
    /// answer once connected, is the log's (exit 3).
    pub fn could_not_check(&self) -> bool {
        matches!(
            self,
            Self::Fetch {
                error: FetchError::Connect(_) | FetchError::Tls(_),
                ..
            } | Self::LogTooLarge { .. }
                | Self::TooManyBytes { .. }
        )
    }
}

struct Remote<F> {
    fetch: F,
    max_bytes: Cell<u64>,
    /// Bytes of tiles and bundles fetched so far.
    fetched: Cell<u64>,
    /// Whether the bound on the whole tree was checked (with the first tile).
    bounded: Cell<bool>,
    /// The checkpoint, as first fetched: every later read returns it.
    checkpoint: OnceCell<String>,
}

/// A log read from a tlog-tiles server through `F` (**AUD-13**): a [`LogSource`] like
/// the directory source, whose storage ([`RemoteStorage`]) fetches each resource when the
/// auditor asks for it.
pub struct TlogClient<F> {
    inner: Rc<Remote<F>>,
}

impl<F> fmt::Debug for TlogClient<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlogClient")
            .field("max_bytes", &self.inner.max_bytes.get())
            .finish_non_exhaustive()
    }
}

impl<F: Fetch> TlogClient<F> {
    /// A client of the log `fetch` reaches, fetching at most [`DEFAULT_MAX_BYTES`].
    pub fn new(fetch: F) -> Self {
        Self {
            inner: Rc::new(Remote {
                fetch,
                max_bytes: Cell::new(DEFAULT_MAX_BYTES),
                fetched: Cell::new(0),
                bounded: Cell::new(false),
                checkpoint: OnceCell::new(),
            }),
        }
    }

    /// Bounds what one audit fetches: tiles and bundles, in bytes.
    #[must_use]
    pub fn max_bytes(self, max: u64) -> Self {
        self.inner.max_bytes.set(max);
        self
    }

    /// The transport.
    pub fn transport(&self) -> &F {
        &self.inner.fetch
    }

    /// How many bytes of tiles and bundles were fetched so far.
    pub fn fetched(&self) -> u64 {
        self.inner.fetched.get()
    }
}

impl<F: Fetch> LogSource for TlogClient<F> {
    type Storage = RemoteStorage<F>;

    fn location(&self) -> String {
        self.inner.fetch.location()
    }

    fn fetch(&self) -> Result<RemoteStorage<F>, SourceError> {
        Ok(RemoteStorage {
            inner: self.inner.clone(),
        })
    }
}

/// The storage of a [`TlogClient`]: each read is a bounded GET (**AUD-33**). Read-only.
pub struct RemoteStorage<F> {
    inner: Rc<Remote<F>>,
}

impl<F> fmt::Debug for RemoteStorage<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStorage")
            .field("fetched", &self.inner.fetched.get())
            .finish_non_exhaustive()
    }
}

impl<F: Fetch> RemoteStorage<F> {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.inner.fetch.location().trim_end_matches('/')
        )
    }

    /// GETs `path`, at most `max` bytes, `None` for 404.
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, RemoteError> {
        let fetch_error = |error| RemoteError::Fetch {
            url: self.url(path),
            error,
        };
        let body = self.inner.fetch.get(path, max).map_err(fetch_error)?;
        // A transport that read past `max` still gets no further.
        match body {
            Some(b) if b.len() > max => Err(fetch_error(FetchError::TooLarge { max })),
            other => Ok(other),
        }
    }

    /// Counts `len` more bytes of tiles and bundles against the bound.
    fn count(&self, len: usize) -> Result<(), RemoteError> {
        let total = self.inner.fetched.get().saturating_add(len as u64);
        self.inner.fetched.set(total);
        if total > self.inner.max_bytes.get() {
            return Err(RemoteError::TooManyBytes {
                max: self.inner.max_bytes.get(),
            });
        }
        Ok(())
    }

    /// With the first tile or bundle: refuses a tree that cannot fit in the bound, from
    /// the checkpoint already read (and, in an audit, verified) alone.
    fn check_bound(&self) -> Result<(), RemoteError> {
        if self.inner.bounded.replace(true) {
            return Ok(());
        }
        let Some(tree_size) = self
            .inner
            .checkpoint
            .get()
            .and_then(|c| SignedNote::parse(c.as_bytes()).ok())
            .and_then(|n| Checkpoint::parse(n.text()).ok())
            .map(|c| c.tree_size())
        else {
            return Ok(());
        };
        // The least the tree can take: its tiles, and two bytes of length per entry.
        let tile_bytes: u64 = tiles_for(tree_size)
            .map(|t| t.byte_len() as u64)
            .fold(0u64, u64::saturating_add);
        let needed = tile_bytes.saturating_add(tree_size.saturating_mul(2));
        let max = self.inner.max_bytes.get();
        if needed > max {
            return Err(RemoteError::LogTooLarge {
                tree_size,
                needed,
                max,
            });
        }
        Ok(())
    }

    /// GETs a tile or bundle at `partial` (at most `max` bytes); on 404 for a partial
    /// one, the full one at `full` (at most `full_max`), cut by `cut`.
    fn get_resource(
        &self,
        partial: &str,
        full: Option<String>,
        max: usize,
        full_max: usize,
        cut: impl Fn(Vec<u8>) -> Vec<u8>,
    ) -> Result<Option<Cow<'_, [u8]>>, RemoteError> {
        self.check_bound()?;
        let data = match self.get(partial, max)? {
            Some(b) => Some(b),
            None => match full {
                Some(full) => self.get(&full, full_max)?.map(cut),
                None => None,
            },
        };
        if let Some(d) = &data {
            self.count(d.len())?;
        }
        Ok(data.map(Cow::Owned))
    }
}

impl<F: Fetch> TileStorage for RemoteStorage<F> {
    type Error = RemoteError;

    fn write_tile(&mut self, _: TileId, _: &[u8]) -> Result<(), RemoteError> {
        Err(RemoteError::ReadOnly)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, RemoteError> {
        let full = (!tile.is_full())
            .then(|| TileId::new(tile.level(), tile.index(), TILE_WIDTH).ok())
            .flatten();
        self.get_resource(
            &tile.path(),
            full.map(|t| t.path()),
            tile.byte_len(),
            FULL_TILE_LEN,
            |mut b| {
                if b.len() == FULL_TILE_LEN {
                    b.truncate(tile.byte_len());
                }
                b
            },
        )
    }

    fn write_bundle(&mut self, _: BundleId, _: &[u8]) -> Result<(), RemoteError> {
        Err(RemoteError::ReadOnly)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, RemoteError> {
        let full = (!bundle.is_full())
            .then(|| BundleId::new(bundle.index(), TILE_WIDTH).ok())
            .flatten();
        self.get_resource(
            &bundle.path(),
            full.map(|b| b.path()),
            usize::from(bundle.width()) * (2 + MAX_ENTRY_LEN),
            MAX_BUNDLE_LEN,
            |mut b| {
                // The first `width` entries; a bundle too short to hold them is kept
                // whole, for the auditor to report (AUD-3).
                if let Some(end) = bundle_prefix_len(&b, bundle.width()) {
                    b.truncate(end);
                }
                b
            },
        )
    }

    fn write_checkpoint(&mut self, _: &str) -> Result<(), RemoteError> {
        Err(RemoteError::ReadOnly)
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, RemoteError> {
        if let Some(c) = self.inner.checkpoint.get() {
            return Ok(Some(Cow::Borrowed(c)));
        }
        let Some(data) = self.get("checkpoint", MAX_NOTE_LEN)? else {
            return Ok(None);
        };
        let text = String::from_utf8(data).map_err(|_| RemoteError::BadCheckpoint {
            url: self.url("checkpoint"),
        })?;
        let _ = self.inner.checkpoint.set(text);
        Ok(self
            .inner
            .checkpoint
            .get()
            .map(|c| Cow::Borrowed(c.as_str())))
    }
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

    use minimis_log::tiles::bundles_for;
    use minimis_log::{AuditError, MemoryStorage, TileReadError, TileStorage};

    use super::*;
    use crate::synthetic::{History, Params, SignedLog};
    use crate::{AuditFailure, Auditor, DirSource, VerifyError};

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

    fn auditor(h: &History, log: &SignedLog) -> Auditor {
        Auditor::new(log.log_key.clone(), h.now)
            .witness(log.witness_key.clone())
            .policy(h.policy.clone())
    }

    type Failure = AuditFailure<RemoteError>;

    fn audit(
        h: &History,
        log: &SignedLog,
        client: &TlogClient<MapFetch>,
    ) -> Result<crate::Report, Failure> {
        auditor(h, log).audit(client.fetch().unwrap(), None)
    }

    #[test]
    fn aud_13_aud_31_fetches_the_checkpoint_then_each_tile_and_bundle_it_needs_once() {
        let (h, log) = small();
        let size = log.log.size();
        assert!(size > 256, "the test needs full and partial tiles: {size}");
        let client = TlogClient::new(MapFetch::of(&log.log.storage().clone(), &[size]));
        assert_eq!(client.location(), "https://log.example/v1/log");
        let a = audit(&h, &log, &client).unwrap();
        assert!(a.holds(), "{}", a.to_table());
        let requests = client.transport().requests.borrow().clone();
        assert_eq!(requests[0], "checkpoint");
        let mut rest = requests[1..].to_vec();
        rest.sort();
        let mut expected: Vec<String> = tiles_for(size)
            .map(|t| t.path())
            .chain(bundles_for(size).map(|b| b.path()))
            .collect();
        expected.sort();
        assert_eq!(rest, expected, "each tile and bundle once, nothing else");
        // The same log, so the same audit as from a directory.
        let dir = tempfile::tempdir().unwrap();
        log.log.export_dir(dir.path()).unwrap();
        let from_dir = DirSource::new(dir.path()).fetch().unwrap();
        let b = auditor(&h, &log).audit(from_dir, None).unwrap();
        assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn aud_31_nothing_but_the_checkpoint_is_fetched_when_it_does_not_verify() {
        let (h, log) = small();
        let size = log.log.size();
        // A log key of the log's name, but not the log's: the signature fails.
        let other_key = Auditor::new(
            minimis_log::NoteSigner::new(
                log.log_key.name().clone(),
                minimis_crypto::SigningKey::generate().unwrap(),
            )
            .verifier_key(),
            h.now,
        )
        .witness(log.witness_key.clone());
        let client = TlogClient::new(MapFetch::of(&log.log.storage().clone(), &[size]));
        assert!(matches!(
            other_key.audit(client.fetch().unwrap(), None),
            Err(AuditFailure::Verify(VerifyError::Checkpoint(_)))
        ));
        assert_eq!(*client.transport().requests.borrow(), ["checkpoint"]);
        // A missing cosignature: the same.
        let stranger = minimis_log::NoteSigner::new(
            minimis_log::KeyName::new("stranger.example/witness").unwrap(),
            minimis_crypto::SigningKey::generate().unwrap(),
        );
        let witness = minimis_log::VerifierKey::cosignature_v1(
            stranger.name().clone(),
            *stranger.verifier_key().public_key(),
        );
        let client = TlogClient::new(MapFetch::of(&log.log.storage().clone(), &[size]));
        assert!(matches!(
            auditor(&h, &log)
                .witness(witness)
                .audit(client.fetch().unwrap(), None),
            Err(AuditFailure::Verify(VerifyError::Cosignature(_)))
        ));
        assert_eq!(*client.transport().requests.borrow(), ["checkpoint"]);
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
        let report = audit(&h, &log, &client).unwrap();
        let requests = client.transport().requests.borrow().clone();
        for p in &gone {
            let full = p.split(".p/").next().unwrap_or_default().to_owned();
            let at = requests.iter().position(|r| r == p).unwrap();
            assert_eq!(requests[at + 1], full, "{p} is read from {full}");
        }
        assert_eq!(report.log_state().tree_size(), old);
    }

    #[test]
    fn aud_33_missing_wrong_length_and_oversized_resources_do_not_verify() {
        let (h, log) = small();
        let size = log.log.size();
        let storage = log.log.storage().clone();
        let error = |fetch: MapFetch| match audit(&h, &log, &TlogClient::new(fetch)) {
            Err(AuditFailure::Verify(e)) => e,
            other => panic!("expected a verification failure, got {other:?}"),
        };
        // A bundle the tree needs is missing.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.remove("tile/entries/000");
        let e = error(f);
        assert!(
            matches!(&e, VerifyError::Tiles(AuditError::Entries(_))),
            "{e}"
        );
        // No checkpoint.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.remove("checkpoint");
        assert!(matches!(error(f), VerifyError::NoCheckpoint));
        // A checkpoint that is not one.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files.insert("checkpoint".into(), b"hello\n".to_vec());
        assert!(matches!(error(f), VerifyError::Checkpoint(_)));
        // A checkpoint larger than any note.
        let mut f = MapFetch::of(&storage, &[size]);
        f.files
            .insert("checkpoint".into(), vec![b'a'; MAX_NOTE_LEN + 1]);
        let e = error(f);
        assert!(
            matches!(
                &e,
                VerifyError::Storage(RemoteError::Fetch { error: FetchError::TooLarge { max }, .. }) if *max == MAX_NOTE_LEN
            ),
            "{e}"
        );
        // A full tile one hash short, and one hash long.
        for len in [FULL_TILE_LEN - 32, FULL_TILE_LEN + 32] {
            let mut f = MapFetch::of(&storage, &[size]);
            f.files.insert("tile/0/000".into(), vec![0; len]);
            let e = error(f);
            if len < FULL_TILE_LEN {
                assert!(
                    matches!(&e, VerifyError::Tiles(AuditError::Tiles(TileReadError::Length { len: l, .. })) if *l == len),
                    "{e}"
                );
            } else {
                assert!(
                    matches!(
                        &e,
                        VerifyError::Tiles(AuditError::Tiles(TileReadError::Storage(
                            RemoteError::Fetch {
                                error: FetchError::TooLarge { max: FULL_TILE_LEN },
                                ..
                            }
                        )))
                    ),
                    "{e}"
                );
            }
            assert!(!e.storage_error().is_some_and(RemoteError::could_not_check));
        }
        // The bound on the whole log: refused once the checkpoint verified, before any
        // tile; the log could not be checked (exit 2), not found wrong.
        let client = TlogClient::new(MapFetch::of(&storage, &[size])).max_bytes(1000);
        let e = match audit(&h, &log, &client) {
            Err(AuditFailure::Verify(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(
            matches!(e.storage_error(), Some(RemoteError::LogTooLarge { tree_size, max: 1000, .. }) if *tree_size == size),
            "{e}"
        );
        assert!(e.storage_error().unwrap().could_not_check());
        assert_eq!(*client.transport().requests.borrow(), ["checkpoint"]);
        // A bound the tiles fit in but the bundles do not.
        let tiles: u64 = tiles_for(size).map(|t| t.byte_len() as u64).sum();
        let client = TlogClient::new(MapFetch::of(&storage, &[size])).max_bytes(tiles + 2 * size);
        let e = match audit(&h, &log, &client) {
            Err(AuditFailure::Verify(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(
            matches!(e.storage_error(), Some(RemoteError::TooManyBytes { .. })),
            "{e}"
        );
        assert!(client.fetched() > tiles + 2 * size);
        assert!(client.fetched() <= tiles + 2 * size + MAX_BUNDLE_LEN as u64);
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
