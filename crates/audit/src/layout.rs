//! Where the auditor reads a log from: the [`LogSource`] trait, the tlog-tiles
//! directory source, and the export layout (**AUD-10**).
//!
//! ```text
//! DIR/log/              a C2SP tlog-tiles root: checkpoint, tile/<L>/<N>, tile/entries/<N>
//! DIR/log.vkey          the log's verifier key, one line (signed-note vkey)
//! DIR/witnesses.vkey    one witness verifier key per line (may be empty)
//! DIR/policy.toml       the policy whose hash the log publishes
//! ```
//!
//! `minimis demo --export DIR` writes this layout (with [`write_export`]) and
//! `minimis audit DIR` reads it ([`ExportDir::read`]). Keys read from a directory the
//! operator produced are only as trustworthy as the operator: an auditor gets them from
//! the log's and the witnesses' own publications when it can, and pins them in its state
//! file on the first run (**AUD-2**).
//!
//! A log served over HTTPS is another [`LogSource`] (**AUD-13**):
//! [`crate::remote::TlogClient`] fetches `<prefix>/checkpoint` and the tiles and bundles
//! the checkpoint needs, exactly as C2SP tlog-tiles clients do, through a transport the
//! caller gives (`minimis audit https://…` gives one over TLS 1.3).

use std::path::{Path, PathBuf};

use minimis_log::tiles::{DirSummary, ExportError, ImportError, read_dir};
use minimis_log::{Log, MemoryStorage, TileStorage, VerifierKey};
use minimis_proto::{Policy, PolicyError};

/// The tlog-tiles root inside an export directory.
pub const LOG_DIR: &str = "log";
/// The log's verifier key file.
pub const LOG_VKEY: &str = "log.vkey";
/// The witnesses' verifier keys file.
pub const WITNESSES_VKEY: &str = "witnesses.vkey";
/// The policy file.
pub const POLICY_TOML: &str = "policy.toml";

/// Why a log could not be fetched from its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A tlog-tiles directory could not be read (a missing tile or bundle included).
    #[error(transparent)]
    Dir(#[from] ImportError),
    /// A log served by a tlog-tiles server could not be fetched (**AUD-13**).
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// Where a log comes from: something that yields a [`TileStorage`] holding the
/// checkpoint and the tiles and bundles it needs. The auditor verifies everything it
/// reads; a source only fetches.
pub trait LogSource {
    /// The storage the log is read through.
    type Storage: TileStorage;

    /// Where the log is, for people: a path or a URL.
    fn location(&self) -> String;

    /// Fetches the log.
    ///
    /// # Errors
    /// A [`SourceError`]: nothing was verified.
    fn fetch(&self) -> Result<Self::Storage, SourceError>;
}

/// A static tlog-tiles directory (**LOG-23**).
#[derive(Clone, Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// The tlog-tiles root at `root` (the directory holding `checkpoint`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl LogSource for DirSource {
    type Storage = MemoryStorage;

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn fetch(&self) -> Result<MemoryStorage, SourceError> {
        Ok(read_dir(&self.root)?)
    }
}

/// Why an export directory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
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
    /// A log key file that does not hold exactly one key.
    #[error("{path} must hold exactly one verifier key, not {count}")]
    KeyCount {
        /// The file.
        path: PathBuf,
        /// How many it holds.
        count: usize,
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

fn read_text(path: &Path) -> Result<String, LayoutError> {
    std::fs::read_to_string(path).map_err(|source| LayoutError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, LayoutError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LayoutError::Io {
            path: path.to_owned(),
            source,
        }),
    }
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

/// Reads a file of verifier keys, one per line (blank lines ignored).
///
/// # Errors
/// A [`LayoutError`].
pub fn read_vkeys(path: &Path) -> Result<Vec<VerifierKey>, LayoutError> {
    parse_vkeys(path, &read_text(path)?)
}

/// Reads a file that holds exactly one verifier key.
///
/// # Errors
/// A [`LayoutError`].
pub fn read_vkey(path: &Path) -> Result<VerifierKey, LayoutError> {
    let mut keys = read_vkeys(path)?;
    if keys.len() != 1 {
        return Err(LayoutError::KeyCount {
            path: path.to_owned(),
            count: keys.len(),
        });
    }
    Ok(keys.remove(0))
}

/// Reads and validates a policy file.
///
/// # Errors
/// A [`LayoutError`].
pub fn read_policy(path: &Path) -> Result<Policy, LayoutError> {
    Policy::from_toml_str(&read_text(path)?).map_err(|source| LayoutError::Policy {
        path: path.to_owned(),
        source,
    })
}

/// An export directory, read: what each of its files gave, `None` for a file that is
/// not there.
#[derive(Debug)]
pub struct ExportDir {
    root: PathBuf,
    /// `log.vkey`.
    pub log_key: Option<VerifierKey>,
    /// `witnesses.vkey`.
    pub witnesses: Option<Vec<VerifierKey>>,
    /// `policy.toml`.
    pub policy: Option<Policy>,
}

impl ExportDir {
    /// Reads the key and policy files of the export directory `root` (the log itself
    /// is read by [`ExportDir::source`]).
    ///
    /// # Errors
    /// A [`LayoutError`] for a file that is there but unreadable or malformed.
    pub fn read(root: &Path) -> Result<Self, LayoutError> {
        let log_key_path = root.join(LOG_VKEY);
        let log_key = match read_optional(&log_key_path)? {
            None => None,
            Some(text) => {
                let mut keys = parse_vkeys(&log_key_path, &text)?;
                if keys.len() != 1 {
                    return Err(LayoutError::KeyCount {
                        path: log_key_path,
                        count: keys.len(),
                    });
                }
                Some(keys.remove(0))
            }
        };
        let witnesses_path = root.join(WITNESSES_VKEY);
        let witnesses = read_optional(&witnesses_path)?
            .map(|text| parse_vkeys(&witnesses_path, &text))
            .transpose()?;
        let policy_path = root.join(POLICY_TOML);
        let policy = read_optional(&policy_path)?
            .map(|text| {
                Policy::from_toml_str(&text).map_err(|source| LayoutError::Policy {
                    path: policy_path.clone(),
                    source,
                })
            })
            .transpose()?;
        Ok(Self {
            root: root.to_owned(),
            log_key,
            witnesses,
            policy,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The log: the tlog-tiles root `DIR/log`.
    pub fn source(&self) -> DirSource {
        DirSource::new(self.root.join(LOG_DIR))
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
