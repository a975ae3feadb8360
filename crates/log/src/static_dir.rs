//! Reading a directory someone else wrote: a static tlog-tiles log, or the export around
//! it. Whoever wrote it may be the adversary, so no symbolic link and no special file is
//! followed, and no file is read past the most its kind can be (**LOG-38**).
//!
//! [`Root`] is a handle on the directory the caller named (a link in that path is the
//! caller's own choice and is followed). Every file below it is read through the handle,
//! one path component at a time, never through a path string:
//!
//! 1. each directory component is examined with `lstat` (`fstatat` with
//!    `AT_SYMLINK_NOFOLLOW`) and must be a directory, then opened with `O_DIRECTORY |
//!    O_NOFOLLOW`;
//! 2. the file itself is examined the same way and must be a regular file no larger than
//!    its bound, so that a FIFO, a socket or a device is never even opened;
//! 3. it is then opened with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, and `fstat` of the
//!    handle must show the same regular file (same device and inode): a file swapped
//!    between the two steps is refused;
//! 4. at most `max + 1` bytes are read from the handle: a file that grew past its bound is
//!    refused.
//!
//! [`DirStorage`] is a read-only [`TileStorage`] over such a directory that reads each
//! tile or bundle only when it is asked for: an auditor that verifies the checkpoint
//! first ([`crate::LogReader::open`]) reads nothing the checkpoint names before its
//! signature verifies, and holds one tile and one bundle per tree level at a time.
//!
//! On systems other than Unix the same checks are made with `symlink_metadata` and the
//! opened file's metadata, without the guarantee against a file swapped in between.

use std::borrow::Cow;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::note::MAX_NOTE_LEN;
use crate::tiles::{
    BundleId, FULL_TILE_LEN, MAX_BUNDLE_LEN, MAX_ENTRY_LEN, TILE_WIDTH, TileId, TileStorage,
    bundle_prefix_len,
};

/// What kind of thing stood where a file or a directory was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A symbolic link.
    Link,
    /// A directory.
    Directory,
    /// A regular file.
    File,
    /// A FIFO (named pipe).
    Fifo,
    /// A socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else.
    Other,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Link => "a symbolic link",
            Self::Directory => "a directory",
            Self::File => "a regular file",
            Self::Fifo => "a FIFO",
            Self::Socket => "a socket",
            Self::CharDevice => "a character device",
            Self::BlockDevice => "a block device",
            Self::Other => "not a regular file",
        })
    }
}

/// Why a file of a directory someone else wrote was not read (**LOG-38**).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirReadError {
    /// A symbolic link where a file or a directory was expected: links are not followed.
    #[error("{path} is a symbolic link; links are not followed")]
    Link {
        /// The link.
        path: PathBuf,
    },
    /// Something other than a regular file where a file was expected (a FIFO, a device,
    /// a directory), or other than a directory where a directory was expected.
    #[error("{path} is {found}, not {expected}")]
    WrongKind {
        /// Where.
        path: PathBuf,
        /// What is there.
        found: Kind,
        /// What was expected: a regular file or a directory.
        expected: Kind,
    },
    /// A file larger than its kind can be.
    #[error("{path} is larger than the {max} bytes it can be")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its bound.
        max: usize,
    },
    /// The file was replaced between its examination and its opening.
    #[error("{path} changed while it was being opened")]
    Replaced {
        /// The file.
        path: PathBuf,
    },
    /// A path component that is empty, `.`, `..` or holds a NUL byte.
    #[error("`{path}` is not a plain relative path")]
    BadPath {
        /// The path asked for.
        path: String,
    },
    /// A checkpoint that is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// Any other I/O error.
    #[error("cannot read {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A write to a [`DirStorage`], which only reads.
    #[error("a directory read as a log is read-only")]
    ReadOnly,
}

/// A handle on a directory someone else wrote, to read files below it without following
/// links or opening special files (**LOG-38**). Cheap to clone: clones share the handle.
#[derive(Clone)]
pub struct Root {
    path: PathBuf,
    #[cfg(unix)]
    fd: Arc<std::os::fd::OwnedFd>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root").field("path", &self.path).finish()
    }
}

fn components(rel: &str) -> Result<Vec<&str>, DirReadError> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return Err(DirReadError::BadPath {
            path: rel.to_owned(),
        });
    }
    Ok(parts)
}

impl Root {
    /// Opens the directory at `path`, which the caller named (a link in it is followed:
    /// it is the caller's choice).
    ///
    /// # Errors
    /// [`DirReadError::WrongKind`] if it is not a directory, [`DirReadError::Io`] if it
    /// cannot be opened (including when it does not exist).
    pub fn open(path: &Path) -> Result<Self, DirReadError> {
        let io = |source| DirReadError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_dir() {
            return Err(DirReadError::WrongKind {
                path: path.to_owned(),
                found: kind_of_std(&meta.file_type()),
                expected: Kind::Directory,
            });
        }
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let fd = rustix::fs::openat(
                rustix::fs::CWD,
                path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(e.into()))?;
            Ok(Self {
                path: path.to_owned(),
                fd: Arc::new(fd),
            })
        }
        #[cfg(not(unix))]
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A directory below this one, `rel` (components separated by `/`), as a new root;
    /// `None` if it does not exist.
    ///
    /// # Errors
    /// A [`DirReadError`]: a link or something other than a directory on the way.
    pub fn subdir(&self, rel: &str) -> Result<Option<Self>, DirReadError> {
        let parts = components(rel)?;
        let path = self.path.join(rel);
        #[cfg(unix)]
        {
            let mut fd: Option<std::os::fd::OwnedFd> = None;
            for (i, part) in parts.iter().enumerate() {
                let at = self.path.join(parts[..=i].join("/"));
                let parent = fd.as_ref().map_or(self.fd.as_ref(), |f| f);
                match unix::open_dir(parent, part, &at)? {
                    Some(f) => fd = Some(f),
                    None => return Ok(None),
                }
            }
            Ok(fd.map(|fd| Self {
                path,
                fd: Arc::new(fd),
            }))
        }
        #[cfg(not(unix))]
        {
            for i in 0..parts.len() {
                let at = self.path.join(parts[..=i].join("/"));
                match other::check(&at, Kind::Directory)? {
                    Some(()) => {}
                    None => return Ok(None),
                }
            }
            Ok(Some(Self { path }))
        }
    }

    /// Reads the regular file `rel` (components separated by `/`) below this directory,
    /// at most `max` bytes; `None` if it (or a directory on its way) does not exist.
    ///
    /// # Errors
    /// A [`DirReadError`]: a link or a special file on the way, a file larger than `max`,
    /// a file replaced while it was opened, an I/O error.
    pub fn read(&self, rel: &str, max: usize) -> Result<Option<Vec<u8>>, DirReadError> {
        let parts = components(rel)?;
        let Some((name, dirs)) = parts.split_last() else {
            return Err(DirReadError::BadPath {
                path: rel.to_owned(),
            });
        };
        let path = self.path.join(rel);
        #[cfg(unix)]
        {
            let mut fd: Option<std::os::fd::OwnedFd> = None;
            for (i, part) in dirs.iter().enumerate() {
                let at = self.path.join(parts[..=i].join("/"));
                let parent = fd.as_ref().map_or(self.fd.as_ref(), |f| f);
                match unix::open_dir(parent, part, &at)? {
                    Some(f) => fd = Some(f),
                    None => return Ok(None),
                }
            }
            let parent = fd.as_ref().map_or(self.fd.as_ref(), |f| f);
            unix::read_file(parent, name, &path, max)
        }
        #[cfg(not(unix))]
        {
            let _ = (name, dirs);
            other::read_file(&path, max)
        }
    }
}

fn kind_of_std(t: &std::fs::FileType) -> Kind {
    if t.is_symlink() {
        Kind::Link
    } else if t.is_dir() {
        Kind::Directory
    } else if t.is_file() {
        Kind::File
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt as _;
            if t.is_fifo() {
                return Kind::Fifo;
            }
            if t.is_socket() {
                return Kind::Socket;
            }
            if t.is_char_device() {
                return Kind::CharDevice;
            }
            if t.is_block_device() {
                return Kind::BlockDevice;
            }
        }
        Kind::Other
    }
}

/// Reads at most `max` bytes from `reader`; more is [`DirReadError::TooLarge`].
fn read_bounded(
    reader: impl std::io::Read,
    path: &Path,
    max: usize,
) -> Result<Vec<u8>, DirReadError> {
    let mut data = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|source| DirReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    if data.len() > max {
        return Err(DirReadError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    Ok(data)
}

// The types of `stat`'s fields differ between platforms, hence the casts.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
mod unix {
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{DirReadError, Kind, read_bounded};

    fn kind(mode: u32) -> Kind {
        match FileType::from_raw_mode(mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Directory,
            FileType::Symlink => Kind::Link,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            FileType::CharacterDevice => Kind::CharDevice,
            FileType::BlockDevice => Kind::BlockDevice,
            _ => Kind::Other,
        }
    }

    fn io(path: &Path, e: Errno) -> DirReadError {
        DirReadError::Io {
            path: path.to_owned(),
            source: e.into(),
        }
    }

    /// `lstat` of `name` in `dir`: its kind, device, inode and size; `None` if absent.
    fn lstat(
        dir: impl AsFd,
        name: &str,
        path: &Path,
    ) -> Result<Option<(Kind, u64, u64, u64)>, DirReadError> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some((
                kind(st.st_mode as u32),
                st.st_dev as u64,
                st.st_ino as u64,
                st.st_size as u64,
            ))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io(path, e)),
        }
    }

    fn refuse(path: &Path, found: Kind, expected: Kind) -> DirReadError {
        if found == Kind::Link {
            DirReadError::Link {
                path: path.to_owned(),
            }
        } else {
            DirReadError::WrongKind {
                path: path.to_owned(),
                found,
                expected,
            }
        }
    }

    fn open_error(path: &Path, e: Errno) -> DirReadError {
        match e {
            // What O_NOFOLLOW answers for a link that appeared since the lstat.
            Errno::LOOP | Errno::MLINK => DirReadError::Link {
                path: path.to_owned(),
            },
            Errno::NOTDIR => DirReadError::Replaced {
                path: path.to_owned(),
            },
            e => io(path, e),
        }
    }

    /// Opens the directory `name` in `dir`; `None` if absent.
    pub(super) fn open_dir(
        dir: &OwnedFd,
        name: &str,
        path: &Path,
    ) -> Result<Option<OwnedFd>, DirReadError> {
        let Some((found, dev, ino, _)) = lstat(dir, name, path)? else {
            return Ok(None);
        };
        if found != Kind::Directory {
            return Err(refuse(path, found, Kind::Directory));
        }
        let fd = match rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(open_error(path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io(path, e))?;
        if st.st_dev as u64 != dev || st.st_ino as u64 != ino {
            return Err(DirReadError::Replaced {
                path: path.to_owned(),
            });
        }
        Ok(Some(fd))
    }

    /// Reads the regular file `name` in `dir`, at most `max` bytes; `None` if absent.
    pub(super) fn read_file(
        dir: &OwnedFd,
        name: &str,
        path: &Path,
        max: usize,
    ) -> Result<Option<Vec<u8>>, DirReadError> {
        let Some((found, dev, ino, size)) = lstat(dir, name, path)? else {
            return Ok(None);
        };
        if found != Kind::File {
            return Err(refuse(path, found, Kind::File));
        }
        if size > max as u64 {
            return Err(DirReadError::TooLarge {
                path: path.to_owned(),
                max,
            });
        }
        let fd = match rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(open_error(path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io(path, e))?;
        if kind(st.st_mode as u32) != Kind::File
            || st.st_dev as u64 != dev
            || st.st_ino as u64 != ino
        {
            return Err(DirReadError::Replaced {
                path: path.to_owned(),
            });
        }
        read_bounded(std::fs::File::from(fd), path, max).map(Some)
    }
}

#[cfg(not(unix))]
mod other {
    use std::path::Path;

    use super::{DirReadError, Kind, kind_of_std, read_bounded};

    /// Checks that `path` is of `expected` kind, without following a link; `None` if
    /// absent.
    pub(super) fn check(path: &Path, expected: Kind) -> Result<Option<()>, DirReadError> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(DirReadError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let found = kind_of_std(&meta.file_type());
        if found == Kind::Link {
            return Err(DirReadError::Link {
                path: path.to_owned(),
            });
        }
        if found != expected {
            return Err(DirReadError::WrongKind {
                path: path.to_owned(),
                found,
                expected,
            });
        }
        Ok(Some(()))
    }

    pub(super) fn read_file(path: &Path, max: usize) -> Result<Option<Vec<u8>>, DirReadError> {
        let mut dir = path.to_path_buf();
        dir.pop();
        if check(path, Kind::File)?.is_none() {
            return Ok(None);
        }
        let file = std::fs::File::open(path).map_err(|source| DirReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let meta = file.metadata().map_err(|source| DirReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        if !meta.is_file() {
            return Err(DirReadError::Replaced {
                path: path.to_owned(),
            });
        }
        read_bounded(file, path, max).map(Some)
    }
}

/// A static tlog-tiles directory (**LOG-23**) read as a [`TileStorage`], lazily and
/// safely (**LOG-38**): the checkpoint when it is asked for (at most a signed note's
/// bound, [`MAX_NOTE_LEN`]), and each tile (exactly its width × 32 bytes) or bundle (at
/// most its width × 65,537 bytes) only when it is read, through a [`Root`]. A partial
/// tile or bundle that is not there is read from the full one of the same index, cut to
/// its first `width` hashes or entries.
///
/// The first checkpoint read is kept: every later read of the checkpoint returns the same
/// text, so two passes over one `DirStorage` see one checkpoint, whatever happens to the
/// file. Writes are refused ([`DirReadError::ReadOnly`]).
#[derive(Clone, Debug)]
pub struct DirStorage {
    root: Root,
    checkpoint: Arc<OnceLock<String>>,
}

impl DirStorage {
    /// The tlog-tiles directory at `path` (the directory holding `checkpoint`). Only the
    /// directory is opened; nothing is read yet.
    ///
    /// # Errors
    /// A [`DirReadError`] if it is not a directory that can be opened.
    pub fn open(path: &Path) -> Result<Self, DirReadError> {
        Ok(Self::new(Root::open(path)?))
    }

    /// The tlog-tiles directory at `root`.
    pub fn new(root: Root) -> Self {
        Self {
            root,
            checkpoint: Arc::new(OnceLock::new()),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Root {
        &self.root
    }
}

impl TileStorage for DirStorage {
    type Error = DirReadError;

    fn write_tile(&mut self, _: TileId, _: &[u8]) -> Result<(), DirReadError> {
        Err(DirReadError::ReadOnly)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, DirReadError> {
        if let Some(data) = self.root.read(&tile.path(), tile.byte_len())? {
            return Ok(Some(Cow::Owned(data)));
        }
        if tile.is_full() {
            return Ok(None);
        }
        let full = TileId::new_unchecked(tile.level(), tile.index(), TILE_WIDTH);
        Ok(self
            .root
            .read(&full.path(), FULL_TILE_LEN)?
            .map(|mut data| {
                if data.len() == FULL_TILE_LEN {
                    data.truncate(tile.byte_len());
                }
                Cow::Owned(data)
            }))
    }

    fn write_bundle(&mut self, _: BundleId, _: &[u8]) -> Result<(), DirReadError> {
        Err(DirReadError::ReadOnly)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, DirReadError> {
        let max = usize::from(bundle.width()) * (2 + MAX_ENTRY_LEN);
        if let Some(data) = self.root.read(&bundle.path(), max)? {
            return Ok(Some(Cow::Owned(data)));
        }
        if bundle.is_full() {
            return Ok(None);
        }
        let full = BundleId::new_unchecked(bundle.index(), TILE_WIDTH);
        Ok(self
            .root
            .read(&full.path(), MAX_BUNDLE_LEN)?
            .map(|mut data| {
                // The first `width` entries; a bundle too short to hold them is kept
                // whole, for the reader to report.
                if let Some(end) = bundle_prefix_len(&data, bundle.width()) {
                    data.truncate(end);
                }
                Cow::Owned(data)
            }))
    }

    fn write_checkpoint(&mut self, _: &str) -> Result<(), DirReadError> {
        Err(DirReadError::ReadOnly)
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, DirReadError> {
        if let Some(text) = self.checkpoint.get() {
            return Ok(Some(Cow::Borrowed(text)));
        }
        let Some(data) = self.root.read("checkpoint", MAX_NOTE_LEN)? else {
            return Ok(None);
        };
        let text = String::from_utf8(data).map_err(|_| DirReadError::NotText {
            path: self.root.path().join("checkpoint"),
        })?;
        // The first read wins, so that every reader of this storage sees one checkpoint.
        let _ = self.checkpoint.set(text);
        Ok(self.checkpoint.get().map(|t| Cow::Borrowed(t.as_str())))
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn root(dir: &tempfile::TempDir) -> Root {
        Root::open(dir.path()).unwrap()
    }

    /// Runs `f` on another thread and waits at most 10 s for it: a read that blocks (on a
    /// FIFO with no writer, say) fails the test instead of hanging it. The limit only
    /// catches a hang; the reads take microseconds.
    fn within_10_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the read did not return within 10 s: it blocked")
    }

    #[test]
    fn log_38_regular_files_are_read_within_their_bound() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/c"), b"hello").unwrap();
        let r = root(&dir);
        assert_eq!(r.read("a/b/c", 5).unwrap().unwrap(), b"hello");
        assert_eq!(r.read("a/b/missing", 5).unwrap(), None);
        assert_eq!(r.read("a/missing/c", 5).unwrap(), None);
        assert!(matches!(
            r.read("a/b/c", 4),
            Err(DirReadError::TooLarge { max: 4, .. })
        ));
        let sub = r.subdir("a/b").unwrap().unwrap();
        assert_eq!(sub.read("c", 5).unwrap().unwrap(), b"hello");
        assert!(r.subdir("a/x").unwrap().is_none());
        for bad in ["", "a//c", "../a", "a/./c", "/a", "a/b/"] {
            assert!(
                matches!(r.read(bad, 5), Err(DirReadError::BadPath { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn log_38_links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"outside").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        // A link to a file outside, a link to the endless zero device, a link to a file
        // inside, and a link to a directory.
        symlink(outside.path().join("secret"), dir.path().join("out")).unwrap();
        symlink("/dev/zero", dir.path().join("zero")).unwrap();
        std::fs::write(dir.path().join("d/real"), b"inside").unwrap();
        symlink("d/real", dir.path().join("inner")).unwrap();
        symlink(outside.path(), dir.path().join("dirlink")).unwrap();
        let r = root(&dir);
        for name in ["out", "zero", "inner", "dirlink/secret"] {
            let r = r.clone();
            let got = within_10_s(move || r.read(name, 1 << 20));
            assert!(
                matches!(got, Err(DirReadError::Link { .. })),
                "{name}: {got:?}"
            );
        }
        assert!(matches!(
            r.subdir("dirlink"),
            Err(DirReadError::Link { .. })
        ));
        // The directory the caller names may itself be a link: that is their choice.
        let named = outside.path().join("named");
        symlink(dir.path().join("d"), &named).unwrap();
        assert_eq!(
            Root::open(&named)
                .unwrap()
                .read("real", 10)
                .unwrap()
                .unwrap(),
            b"inside"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn log_38_fifos_sockets_and_directories_are_not_opened_as_files() {
        let dir = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        let r = root(&dir);
        for (name, kind) in [
            ("fifo", Kind::Fifo),
            ("sock", Kind::Socket),
            ("dir", Kind::Directory),
        ] {
            let r = r.clone();
            let got = within_10_s(move || r.read(name, 1 << 20));
            assert!(
                matches!(got, Err(DirReadError::WrongKind { found, expected: Kind::File, .. }) if found == kind),
                "{name}: {got:?}"
            );
        }
        // A FIFO, or a file, where a directory is expected.
        for name in ["fifo/x", "file/x"] {
            let r = r.clone();
            let got = within_10_s(move || r.read(name, 1 << 20));
            assert!(
                matches!(
                    got,
                    Err(DirReadError::WrongKind {
                        expected: Kind::Directory,
                        ..
                    })
                ),
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn log_38_dir_storage_reads_lazily_within_bounds_and_keeps_its_first_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tile/0")).unwrap();
        std::fs::create_dir_all(dir.path().join("tile/entries")).unwrap();
        std::fs::write(dir.path().join("checkpoint"), "first\n").unwrap();
        let mut s = DirStorage::open(dir.path()).unwrap();
        assert_eq!(s.read_checkpoint().unwrap().unwrap(), "first\n");
        std::fs::write(dir.path().join("checkpoint"), "second\n").unwrap();
        assert_eq!(
            s.clone().read_checkpoint().unwrap().unwrap(),
            "first\n",
            "one storage, one checkpoint"
        );
        // A partial tile: exactly its width × 32 bytes, or read from the full one.
        let t3 = TileId::new(0, 0, 3).unwrap();
        assert_eq!(s.read_tile(t3).unwrap(), None);
        std::fs::write(dir.path().join("tile/0/000"), vec![7u8; FULL_TILE_LEN]).unwrap();
        assert_eq!(s.read_tile(t3).unwrap().unwrap().as_ref(), &[7u8; 96][..]);
        std::fs::create_dir(dir.path().join("tile/0/000.p")).unwrap();
        std::fs::write(dir.path().join("tile/0/000.p/3"), vec![1u8; 97]).unwrap();
        assert!(matches!(
            s.read_tile(t3),
            Err(DirReadError::TooLarge { max: 96, .. })
        ));
        // A bundle: at most its width × 65,537 bytes; a partial one from the full one.
        let b2 = BundleId::new(0, 2).unwrap();
        std::fs::write(
            dir.path().join("tile/entries/000"),
            [0, 1, b'a', 0, 1, b'b', 0, 1, b'c'],
        )
        .unwrap();
        assert_eq!(
            s.read_bundle(b2).unwrap().unwrap().as_ref(),
            &[0, 1, b'a', 0, 1, b'b']
        );
        std::fs::create_dir(dir.path().join("tile/entries/000.p")).unwrap();
        std::fs::write(
            dir.path().join("tile/entries/000.p/2"),
            vec![0u8; 2 * 65_537 + 1],
        )
        .unwrap();
        assert!(matches!(
            s.read_bundle(b2),
            Err(DirReadError::TooLarge { max: 131_074, .. })
        ));
        // Read-only.
        assert!(matches!(
            s.write_checkpoint("x"),
            Err(DirReadError::ReadOnly)
        ));
        // A checkpoint that is not text.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("checkpoint"), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            DirStorage::open(other.path()).unwrap().read_checkpoint(),
            Err(DirReadError::NotText { .. })
        ));
    }
}
