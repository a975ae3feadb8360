//! Where the auditor reads a log from: the [`LogSource`] trait, the tlog-tiles
//! directory source, and the export layout (**AUD-10**, **AUD-30**, **AUD-34**).
//!
//! ```text
//! DIR/log/              a C2SP tlog-tiles root: checkpoint, tile/<L>/<N>, tile/entries/<N>
//! DIR/log.vkey          the log's verifier key, one line (signed-note vkey)
//! DIR/witnesses.vkey    one witness verifier key per line (may be empty)
//! DIR/policy.toml       the policy whose hash the log publishes
//! ```
//!
//! `minimis demo --export DIR` writes this layout (with [`write_export`]) and
//! `minimis audit DIR` reads it ([`ExportDir::read`]). Whoever wrote the directory may
//! be the operator being audited, so every file of it is read as
//! [`minimis_log::static_dir`] reads a directory someone else wrote (no link followed,
//! no special file opened, each file within the bound of its kind, **AUD-30**), and the
//! keys it holds are read only when the caller says so ([`DirKeys::Trust`], **AUD-34**):
//! a log signed by a key its own directory supplies proves nothing about who signed it.
//! An auditor gets the keys from the log's and the witnesses' own publications and pins
//! them in its state file on the first run (**AUD-2**).
//!
//! A log served over HTTPS is another [`LogSource`] (**AUD-13**):
//! [`crate::remote::TlogClient`] fetches `<prefix>/checkpoint` and the tiles and bundles
//! the checkpoint needs, exactly as C2SP tlog-tiles clients do, through a transport the
//! caller gives (`minimis audit https://…` gives one over TLS 1.3).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use minimis_log::static_dir::{DirReadError, Root};
use minimis_log::tiles::{DirSummary, ExportError};
use minimis_log::{DirStorage, Log, TileStorage, VerifierKey};
use minimis_proto::{Policy, PolicyError};

/// The tlog-tiles root inside an export directory.
pub const LOG_DIR: &str = "log";
/// The log's verifier key file.
pub const LOG_VKEY: &str = "log.vkey";
/// The witnesses' verifier keys file.
pub const WITNESSES_VKEY: &str = "witnesses.vkey";
/// The policy file.
pub const POLICY_TOML: &str = "policy.toml";
/// The witnesses' C2SP tlog-policy file (LOG-67), read like the key files: only with
/// [`DirKeys::Trust`].
pub const TLOG_POLICY: &str = "witnesses.policy";

/// The most a file of one verifier key is read (`log.vkey`, `--log-key FILE`): 4 KiB
/// (**AUD-30**).
pub const MAX_LOG_VKEY_LEN: usize = 4 << 10;
/// The most a file of witness keys is read (`witnesses.vkey`, `--witness FILE`): 64 KiB.
pub const MAX_WITNESSES_VKEY_LEN: usize = 64 << 10;
/// The most a policy file is read (`policy.toml`, `--policy FILE`): 64 KiB (the
/// reference policy is under 4 KiB).
pub const MAX_POLICY_LEN: usize = 64 << 10;

/// Why a log could not be fetched from its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The log's directory could not be opened: a link, something other than a directory
    /// (**AUD-30**).
    #[error(transparent)]
    Dir(#[from] DirReadError),
    /// An export directory with no `log/` directory.
    #[error("{path} is not there")]
    NoLog {
        /// Where it should be.
        path: PathBuf,
    },
}

/// Where a log comes from: something that yields a [`TileStorage`] holding the
/// checkpoint and the tiles and bundles it needs. The auditor verifies everything it
/// reads; a source only fetches. Both sources here read lazily: nothing is read until the
/// auditor asks for it, and the auditor asks for nothing the checkpoint names before the
/// checkpoint verifies (**AUD-31**).
pub trait LogSource {
    /// The storage the log is read through.
    type Storage: TileStorage;

    /// Where the log is, for people: a path or a URL.
    fn location(&self) -> String;

    /// The storage to read the log through.
    ///
    /// # Errors
    /// A [`SourceError`]: nothing was verified.
    fn fetch(&self) -> Result<Self::Storage, SourceError>;
}

/// A static tlog-tiles directory (**LOG-23**), read lazily and safely as
/// [`DirStorage`] reads one (**LOG-38**).
#[derive(Clone, Debug)]
pub struct DirSource {
    location: PathBuf,
    /// The export directory it is below, when it is an export's `log/`: opened from
    /// there without following a link.
    below: Option<Root>,
}

impl DirSource {
    /// The tlog-tiles root at `root` (the directory holding `checkpoint`), which the
    /// caller named.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            location: root.into(),
            below: None,
        }
    }
}

impl LogSource for DirSource {
    type Storage = DirStorage;

    fn location(&self) -> String {
        self.location.display().to_string()
    }

    fn fetch(&self) -> Result<DirStorage, SourceError> {
        match &self.below {
            None => Ok(DirStorage::open(&self.location)?),
            Some(export) => match export.subdir(LOG_DIR)? {
                Some(root) => Ok(DirStorage::new(root)),
                None => Err(SourceError::NoLog {
                    path: self.location.clone(),
                }),
            },
        }
    }
}

/// Why an export directory or a key or policy file could not be read.
///
/// For [`ExportDir::read`], every variant but [`LayoutError::NotADirectory`] is about a
/// file of the directory, which whoever wrote it chose: `minimis audit` reports it as an
/// export that does not verify (exit 3, **AUD-30**). For a file the user named
/// ([`read_vkey`], [`read_vkeys`], [`read_policy`]) it is a usage or I/O error (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The export directory itself cannot be opened.
    #[error("{path} is not a directory that can be read")]
    NotADirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: DirReadError,
    },
    /// A file of the export directory was refused: a link, a special file, a file larger
    /// than its kind can be (**AUD-30**).
    #[error(transparent)]
    Refused(#[from] DirReadError),
    /// A file the user named could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file the user named is larger than its kind can be.
    #[error("{path} is larger than the {max} bytes a file of its kind can be")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: usize,
    },
    /// A file that is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// A line of a key file is not a verifier key.
    #[error("{path}, line {line}: not a verifier key ({error})")]
    Key {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// Why.
        error: minimis_log::note::VerifierKeyError,
    },
    /// A tlog-policy file that does not parse (LOG-63).
    #[error("{path}: {error}")]
    TlogPolicy {
        /// The file.
        path: PathBuf,
        /// Why.
        error: minimis_log::TlogPolicyError,
    },
    /// A log key file that does not hold exactly one key.
    #[error("{path} must hold exactly one verifier key, not {count}")]
    KeyCount {
        /// The file.
        path: PathBuf,
        /// How many it holds.
        count: usize,
    },
    /// A `demo-series.json` that is not one.
    #[error("{path} is not a {format} file: {message}", format = crate::series::DEMO_SERIES_FORMAT)]
    Series {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A policy file that is not a valid policy.
    #[error("{path} is not a valid policy")]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: PolicyError,
    },
}

impl LayoutError {
    /// A short machine-readable code, for `--json`, when the file was in the export
    /// directory (**AUD-30**): `export-file-refused` for a file not read (a link, a
    /// special file, too large), `malformed-export-file` for one that does not parse.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotADirectory { .. }
            | Self::Refused(_)
            | Self::Io { .. }
            | Self::TooLarge { .. } => "export-file-refused",
            _ => "malformed-export-file",
        }
    }
}

/// Reads the file the user named at `path`, at most `max` bytes, as text. A link is
/// followed and any kind of file is read (the user chose it), but never past `max`.
fn read_named(path: &Path, max: usize) -> Result<String, LayoutError> {
    let io = |source| LayoutError::Io {
        path: path.to_owned(),
        source,
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(max as u64 + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() > max {
        return Err(LayoutError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    String::from_utf8(data).map_err(|_| LayoutError::NotText {
        path: path.to_owned(),
    })
}

/// Reads the file `name` of the export directory `root` as [`Root::read`] does (no
/// link, no special file, at most `max` bytes), as text; `None` if it is not there.
fn read_in_dir(root: &Root, name: &str, max: usize) -> Result<Option<String>, LayoutError> {
    root.read(name, max)?
        .map(|data| {
            String::from_utf8(data).map_err(|_| LayoutError::NotText {
                path: root.path().join(name),
            })
        })
        .transpose()
}

fn parse_vkeys(path: &Path, text: &str) -> Result<Vec<VerifierKey>, LayoutError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim().parse().map_err(|error| LayoutError::Key {
                path: path.to_owned(),
                line: i + 1,
                error,
            })
        })
        .collect()
}

fn one_vkey(path: &Path, text: &str) -> Result<VerifierKey, LayoutError> {
    let mut keys = parse_vkeys(path, text)?;
    if keys.len() != 1 {
        return Err(LayoutError::KeyCount {
            path: path.to_owned(),
            count: keys.len(),
        });
    }
    Ok(keys.remove(0))
}

fn parse_policy(path: &Path, text: &str) -> Result<Policy, LayoutError> {
    Policy::from_toml_str(text).map_err(|source| LayoutError::Policy {
        path: path.to_owned(),
        source,
    })
}

/// Reads a file of verifier keys the user named, one per line (blank lines ignored), at
/// most [`MAX_WITNESSES_VKEY_LEN`] bytes.
///
/// # Errors
/// A [`LayoutError`].
pub fn read_vkeys(path: &Path) -> Result<Vec<VerifierKey>, LayoutError> {
    parse_vkeys(path, &read_named(path, MAX_WITNESSES_VKEY_LEN)?)
}

/// Reads a file the user named that holds exactly one verifier key, at most
/// [`MAX_LOG_VKEY_LEN`] bytes.
///
/// # Errors
/// A [`LayoutError`].
pub fn read_vkey(path: &Path) -> Result<VerifierKey, LayoutError> {
    one_vkey(path, &read_named(path, MAX_LOG_VKEY_LEN)?)
}

/// Reads and validates a policy file the user named, at most [`MAX_POLICY_LEN`] bytes.
///
/// # Errors
/// A [`LayoutError`].
pub fn read_tlog_policy(path: &Path) -> Result<minimis_log::TlogPolicy, LayoutError> {
    let bytes = std::fs::read(path).map_err(|source| LayoutError::Io {
        path: path.to_owned(),
        source,
    })?;
    minimis_log::TlogPolicy::parse(&bytes).map_err(|error| LayoutError::TlogPolicy {
        path: path.to_owned(),
        error,
    })
}

/// Reads and parses a policy file the user named (`--policy FILE`).
///
/// # Errors
/// A [`LayoutError`].
pub fn read_policy(path: &Path) -> Result<Policy, LayoutError> {
    parse_policy(path, &read_named(path, MAX_POLICY_LEN)?)
}

/// Whether the keys an export directory holds are read (**AUD-34**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirKeys {
    /// `log.vkey` and `witnesses.vkey` are not read: the keys come from elsewhere.
    Ignore,
    /// They are read and used: the caller trusts whoever wrote the directory
    /// (`--trust-keys-in-dir`).
    Trust,
}

/// An export directory, read: what each of its files gave, `None` for a file that is
/// not there (or, for the key files, not read).
#[derive(Debug)]
pub struct ExportDir {
    root: Root,
    /// `log.vkey`, if read ([`DirKeys::Trust`]).
    pub log_key: Option<VerifierKey>,
    /// `witnesses.vkey`, if read ([`DirKeys::Trust`]).
    pub witnesses: Option<Vec<VerifierKey>>,
    /// `policy.toml`: used only if the log publishes its hash.
    pub policy: Option<Policy>,
    /// `witnesses.policy`, if read ([`DirKeys::Trust`]).
    pub tlog_policy: Option<minimis_log::TlogPolicy>,
}

impl ExportDir {
    /// Reads the policy file of the export directory `root` and, with
    /// [`DirKeys::Trust`], its key files (the log itself is read by
    /// [`ExportDir::source`]). Every file is read as [`Root::read`] does: no link
    /// followed, no special file opened, each within its bound (**AUD-30**).
    ///
    /// # Errors
    /// [`LayoutError::NotADirectory`] if `root` cannot be opened as a directory; another
    /// [`LayoutError`] for a file of it that is refused or malformed.
    pub fn read(root: &Path, keys: DirKeys) -> Result<Self, LayoutError> {
        let dir = Root::open(root).map_err(|source| LayoutError::NotADirectory {
            path: root.to_owned(),
            source,
        })?;
        let tlog_policy = match keys {
            DirKeys::Ignore => None,
            DirKeys::Trust => dir
                .read(TLOG_POLICY, minimis_log::tlog_policy::MAX_POLICY_LEN)?
                .map(|bytes| {
                    minimis_log::TlogPolicy::parse(&bytes).map_err(|error| {
                        LayoutError::TlogPolicy {
                            path: root.join(TLOG_POLICY),
                            error,
                        }
                    })
                })
                .transpose()?,
        };
        let (log_key, witnesses) = match keys {
            DirKeys::Ignore => (None, None),
            DirKeys::Trust => {
                let log_key = read_in_dir(&dir, LOG_VKEY, MAX_LOG_VKEY_LEN)?
                    .map(|text| one_vkey(&root.join(LOG_VKEY), &text))
                    .transpose()?;
                let witnesses = read_in_dir(&dir, WITNESSES_VKEY, MAX_WITNESSES_VKEY_LEN)?
                    .map(|text| parse_vkeys(&root.join(WITNESSES_VKEY), &text))
                    .transpose()?;
                (log_key, witnesses)
            }
        };
        let policy = read_in_dir(&dir, POLICY_TOML, MAX_POLICY_LEN)?
            .map(|text| parse_policy(&root.join(POLICY_TOML), &text))
            .transpose()?;
        Ok(Self {
            root: dir,
            log_key,
            witnesses,
            policy,
            tlog_policy,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A handle on the directory, to read its other files as [`Root::read`] does.
    pub fn handle(&self) -> &Root {
        &self.root
    }

    /// The log: the tlog-tiles root `DIR/log`, opened from the directory without
    /// following a link.
    pub fn source(&self) -> DirSource {
        DirSource {
            location: self.root.path().join(LOG_DIR),
            below: Some(self.root.clone()),
        }
    }
}

/// Why an export directory could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteExportError<E: std::error::Error + 'static> {
    /// The log's tiles could not be written.
    #[error(transparent)]
    Log(#[from] ExportError<E>),
    /// A key or policy file could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `log` in the export layout under `dir`: the tlog-tiles directory `log/`, the
/// log's key in `log.vkey`, the `witnesses`' keys in `witnesses.vkey` and `policy_toml`
/// (the text of the policy the log publishes) in `policy.toml`.
///
/// # Errors
/// A [`WriteExportError`].
pub fn write_export<S: TileStorage>(
    dir: &Path,
    log: &Log<S>,
    witnesses: &[VerifierKey],
    policy_toml: &str,
) -> Result<DirSummary, WriteExportError<S::Error>> {
    let summary = log.export_dir(&dir.join(LOG_DIR))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| WriteExportError::Io { path, source })
    };
    write(LOG_VKEY, format!("{}\n", log.verifier_key()))?;
    write(
        WITNESSES_VKEY,
        witnesses.iter().map(|w| format!("{w}\n")).collect(),
    )?;
    write(POLICY_TOML, policy_toml.to_owned())?;
    Ok(summary)
}
