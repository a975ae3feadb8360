//! The auditor's own state between runs (**AUD-2**): for each log origin, the keys it
//! pinned on the first run and the last checkpoint it verified.
//!
//! ```json
//! {
//!   "format": "minimis-audit-state/1",
//!   "logs": [
//!     {
//!       "log_key": "log.minimis.example+d577081f+AZJz…",
//!       "witnesses": ["oversight.example/witness+76edc182+BMhA…"],
//!       "checkpoint": "log.minimis.example\n6\nKOJB…=\n\n— log.minimis.example 1XcI…\n"
//!     }
//!   ]
//! }
//! ```
//!
//! The checkpoint is kept verbatim, signatures included: if the log later shows a
//! different root for that size, the two signed checkpoints are the evidence of the
//! split view. The state holds nothing but public keys and public checkpoints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minimis_log::{Hash, SignedCheckpoint, VerifierKey};
use serde::{Deserialize, Serialize};

/// The `format` of a state file.
pub const STATE_FORMAT: &str = "minimis-audit-state/1";

/// The most a state file is read: 16 MiB (a log's entry is a few hundred bytes).
pub const MAX_STATE_LEN: usize = 16 << 20;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading or writing the file failed.
    #[error("cannot {action} the state file {path}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than a state file can be.
    #[error("the state file {path} is larger than {MAX_STATE_LEN} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a state file.
    #[error("the state file is not minimis-audit-state/1 JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Another format version.
    #[error("the state file has format `{found}`, not `{STATE_FORMAT}`")]
    Format {
        /// The format found.
        found: String,
    },
    /// A pinned key that is not a vkey.
    #[error("the state file pins `{key}`, which is not a verifier key")]
    Key {
        /// The text.
        key: String,
    },
    /// A pinned checkpoint that does not verify with the pinned log key.
    #[error("the state file's checkpoint for {origin} does not verify with its pinned log key")]
    Checkpoint {
        /// The log's origin.
        origin: String,
    },
}

/// What the auditor pinned and verified last for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogState {
    log_key: VerifierKey,
    witnesses: Vec<VerifierKey>,
    checkpoint: SignedCheckpoint,
}

impl LogState {
    /// The state after verifying `checkpoint` with `log_key` and `witnesses`.
    pub fn new(
        log_key: VerifierKey,
        witnesses: Vec<VerifierKey>,
        checkpoint: SignedCheckpoint,
    ) -> Self {
        Self {
            log_key,
            witnesses,
            checkpoint,
        }
    }

    /// The log's origin (its key's name).
    pub fn origin(&self) -> &str {
        self.log_key.name().as_str()
    }

    /// The pinned log key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// The pinned witness keys: each one's cosignature is required from then on.
    pub fn witnesses(&self) -> &[VerifierKey] {
        &self.witnesses
    }

    /// The last checkpoint verified.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Its tree size.
    pub fn tree_size(&self) -> u64 {
        self.checkpoint.checkpoint().tree_size()
    }

    /// Its root hash.
    pub fn root_hash(&self) -> &Hash {
        self.checkpoint.checkpoint().root_hash()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    format: String,
    logs: Vec<RawLog>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    log_key: String,
    witnesses: Vec<String>,
    checkpoint: String,
}

fn parse_key(text: &str) -> Result<VerifierKey, StateError> {
    text.parse().map_err(|_| StateError::Key {
        key: text.to_owned(),
    })
}

/// The auditor's state: one [`LogState`] per log origin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditorState {
    logs: BTreeMap<String, LogState>,
}

impl AuditorState {
    /// An empty state: the first run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a state file; `Ok(None)` if it does not exist yet (the first run).
    ///
    /// # Errors
    /// A [`StateError`].
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        use std::io::Read as _;
        let io = |source| StateError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        // Bounded, like every file the auditor reads (AUD-30).
        let mut text = String::new();
        file.take(MAX_STATE_LEN as u64 + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() > MAX_STATE_LEN {
            return Err(StateError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::from_json(&text).map(Some)
    }

    /// Parses the JSON of a state file, re-verifying each pinned checkpoint with its
    /// pinned key.
    ///
    /// # Errors
    /// A [`StateError`].
    pub fn from_json(text: &str) -> Result<Self, StateError> {
        let raw: RawState = serde_json::from_str(text)?;
        if raw.format != STATE_FORMAT {
            return Err(StateError::Format { found: raw.format });
        }
        let mut logs = BTreeMap::new();
        for l in raw.logs {
            let log_key = parse_key(&l.log_key)?;
            let witnesses = l
                .witnesses
                .iter()
                .map(|w| parse_key(w))
                .collect::<Result<Vec<_>, _>>()?;
            let origin = log_key.name().to_string();
            let checkpoint =
                SignedCheckpoint::open(l.checkpoint.as_bytes(), &log_key).map_err(|_| {
                    StateError::Checkpoint {
                        origin: origin.clone(),
                    }
                })?;
            logs.insert(
                origin,
                LogState {
                    log_key,
                    witnesses,
                    checkpoint,
                },
            );
        }
        Ok(Self { logs })
    }

    /// The JSON of the state file.
    pub fn to_json(&self) -> String {
        let raw = RawState {
            format: STATE_FORMAT.to_owned(),
            logs: self
                .logs
                .values()
                .map(|l| RawLog {
                    log_key: l.log_key.to_string(),
                    witnesses: l.witnesses.iter().map(ToString::to_string).collect(),
                    checkpoint: l.checkpoint.to_string(),
                })
                .collect(),
        };
        // A struct of strings always serialises.
        serde_json::to_string_pretty(&raw).unwrap_or_default() + "\n"
    }

    /// Writes the state file, replacing it in one step (write beside, then rename).
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_json()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The state of the log with `origin`.
    pub fn get(&self, origin: &str) -> Option<&LogState> {
        self.logs.get(origin)
    }

    /// Records `log` as the last verified state of its origin.
    pub fn record(&mut self, log: LogState) {
        self.logs.insert(log.origin().to_owned(), log);
    }
}
