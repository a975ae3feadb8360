//! The witness: for each log it knows, the latest checkpoint it cosigned, checked and
//! stored under one lock per log (**WIT-2** to **WIT-8**).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_log::note::{NoteSignature, SignatureType};
use minimis_log::verify::root_of_the_empty_tree;
use minimis_log::{
    Checkpoint, Cosigner, Hash, KeyName, SignedNote, TreeHead, VerifierKey, verify_consistency,
};
use minimis_proto::UnixTime;
use minimis_service::files::{self, FileError};

use crate::protocol::{AddCheckpointError, AddCheckpointRequest, parse_decimal};
use crate::rate::{Bucket, Rate};

/// The first line of a state file.
const STATE_HEADER: &str = "minimis witness state v1";

/// The lowercase hex SHA-256 of a log's origin: the monitoring path's `<origin hash>`
/// (tlog-witness), and the name of the log's state file.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, origin.as_bytes()).as_ref())
}

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenWitnessError {
    /// A file could not be read, or the state directory made.
    #[error(transparent)]
    File(#[from] FileError),
    /// A state file is not what this witness writes, or is for another log.
    #[error("{path}: not a witness state file for this log")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// A log key is not an Ed25519 (`0x01`) note key.
    #[error("log key {name}: a log key must be an Ed25519 (0x01) key")]
    NotALogKey {
        /// The key's name.
        name: String,
    },
    /// Two log keys name the same origin.
    #[error("log {origin} is configured twice")]
    DuplicateLog {
        /// The origin.
        origin: String,
    },
}

/// A log the witness knows: its verifier key (whose name is the log's origin, as C2SP
/// tlog-checkpoint recommends and minimis's **LOG-13** requires) and its rate.
#[derive(Clone, Debug)]
pub struct KnownLog {
    /// The log's Ed25519 note key.
    pub key: VerifierKey,
    /// How many `add-checkpoint` requests it may send; `None`: no limit.
    pub rate: Option<Rate>,
}

/// What the witness last cosigned for a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// Size and root.
    pub head: TreeHead,
    /// The checkpoint with the log's verified signature(s) and this witness's
    /// cosignature, as the monitoring endpoint serves it; `None` for a state written
    /// before the witness kept it (a size and a root only).
    pub note: Option<String>,
}

struct LogState {
    key: VerifierKey,
    path: PathBuf,
    latest: Option<Cosigned>,
    bucket: Option<Bucket>,
}

/// A C2SP tlog-witness for a set of logs, its state in a directory: one file per log,
/// `<origin hash>`, rewritten atomically (temporary file, fsync, rename, directory fsync)
/// before a cosignature leaves (**WIT-4**).
///
/// The witness holds its signing key and, per log, the latest checkpoint it cosigned;
/// nothing else (**WIT-9**). `Debug` never shows the key.
pub struct TlogWitness {
    name: KeyName,
    key: SigningKey,
    vkey: VerifierKey,
    logs: HashMap<String, Mutex<LogState>>,
    by_hash: HashMap<String, String>,
}

impl std::fmt::Debug for TlogWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlogWitness")
            .field("vkey", &self.vkey.to_string())
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn state_text(c: &Cosigned, origin: &str) -> String {
    let mut s = format!(
        "{STATE_HEADER}\n{}\n{}\n{origin}\n",
        c.head.tree_size,
        B64.encode(c.head.root_hash.as_bytes())
    );
    if let Some(n) = &c.note {
        s.push_str(n);
    }
    s
}

/// Reads a state file: the header, the size, the root, and then (written since the
/// witness kept them) the origin and the cosigned checkpoint.
fn read_state(path: &Path, origin: &str) -> Result<Option<Cosigned>, OpenWitnessError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(files::io(path)(e).into()),
    };
    let corrupt = || OpenWitnessError::Corrupt {
        path: path.to_owned(),
    };
    let mut rest = text.as_str();
    let mut line = || -> Option<&str> {
        let (l, r) = rest.split_once('\n')?;
        rest = r;
        Some(l)
    };
    if line() != Some(STATE_HEADER) {
        return Err(corrupt());
    }
    let tree_size = line().and_then(parse_decimal).ok_or_else(corrupt)?;
    let root: [u8; 32] = line()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    let note = match line() {
        None => None,
        Some(o) if o == origin => Some(rest.to_owned()).filter(|n| !n.is_empty()),
        Some(_) => return Err(corrupt()),
    };
    Ok(Some(Cosigned {
        head: TreeHead {
            tree_size,
            root_hash: Hash::from_bytes(root),
        },
        note,
    }))
}

impl TlogWitness {
    /// The witness named `name` with `key` for `logs`, keeping its state in `dir` (made
    /// private if missing; the state found there is resumed).
    ///
    /// # Errors
    /// [`OpenWitnessError`].
    pub fn open(
        dir: &Path,
        name: KeyName,
        key: SigningKey,
        logs: Vec<KnownLog>,
    ) -> Result<Self, OpenWitnessError> {
        files::make_private_dir(dir)?;
        let mut map = HashMap::new();
        let mut by_hash = HashMap::new();
        for log in logs {
            if log.key.signature_type() != SignatureType::Ed25519 {
                return Err(OpenWitnessError::NotALogKey {
                    name: log.key.name().to_string(),
                });
            }
            let origin = log.key.name().as_str().to_owned();
            let hash = origin_hash(&origin);
            let path = dir.join(&hash);
            let latest = read_state(&path, &origin)?;
            let state = LogState {
                key: log.key,
                path,
                latest,
                bucket: log.rate.map(Bucket::new),
            };
            if map.insert(origin.clone(), Mutex::new(state)).is_some() {
                return Err(OpenWitnessError::DuplicateLog { origin });
            }
            by_hash.insert(hash, origin);
        }
        let vkey = Cosigner::new(
            name.clone(),
            SigningKey::from_seed(key.expose_seed()).map_err(|_| OpenWitnessError::NotALogKey {
                name: name.to_string(),
            })?,
        )
        .verifier_key();
        Ok(Self {
            name,
            key,
            vkey,
            logs: map,
            by_hash,
        })
    }

    /// The witness's verifier key (`cosignature/v1`, type `0x04`), for logs and verifiers
    /// to require.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.vkey
    }

    /// What the witness last cosigned for the log with `origin`, if anything.
    pub fn latest(&self, origin: &str) -> Option<Cosigned> {
        self.logs
            .get(origin)
            .and_then(|l| l.lock().ok())
            .and_then(|l| l.latest.clone())
    }

    /// The monitoring endpoint's answer for `origin_hash` (lowercase hex SHA-256 of an
    /// origin): the latest cosigned checkpoint with the log's signature and this
    /// witness's cosignature; `None` (a `404`) if the witness knows no such log or never
    /// cosigned one of its checkpoints (**WIT-7**).
    pub fn checkpoint(&self, origin_hash: &str) -> Option<String> {
        let origin = self.by_hash.get(origin_hash)?;
        self.latest(origin).and_then(|c| c.note)
    }

    fn cosigner(&self) -> Result<Cosigner, AddCheckpointError> {
        let key = SigningKey::from_seed(self.key.expose_seed())
            .map_err(|_| AddCheckpointError::Unavailable)?;
        Ok(Cosigner::new(self.name.clone(), key))
    }

    /// Handles one `add-checkpoint` request body at wall-clock time `now` and monotonic
    /// time `instant` (for the rate): the cosignature line(s) on success.
    ///
    /// The checks run in tlog-witness's order (see [`crate::protocol`]); from the old
    /// size's check to the state's write, the log's lock is held, so two requests cannot
    /// interleave and roll the witness back (**WIT-4**).
    ///
    /// # Errors
    /// An [`AddCheckpointError`] with its status; nothing is cosigned and the state is
    /// unchanged.
    pub fn add_checkpoint(
        &self,
        body: &[u8],
        now: UnixTime,
        instant: Instant,
    ) -> Result<String, AddCheckpointError> {
        let req = AddCheckpointRequest::parse(body)?;
        let not_checkpoint = AddCheckpointError::Malformed {
            what: "not a signed checkpoint note",
        };
        let note = SignedNote::parse(req.checkpoint).map_err(|_| not_checkpoint)?;
        let origin = note.text().split('\n').next().unwrap_or_default();
        let log = self
            .logs
            .get(origin)
            .ok_or(AddCheckpointError::UnknownOrigin)?;
        let mut st = log.lock().map_err(|_| AddCheckpointError::Unavailable)?;
        // Signatures from other keys are ignored; a line with the log key's name and ID
        // that fails, or none at all, is a 403.
        note.verify(std::slice::from_ref(&st.key))
            .map_err(|_| AddCheckpointError::NotSigned)?;
        let cp = Checkpoint::parse(note.text()).map_err(|_| AddCheckpointError::Malformed {
            what: "the note is not a checkpoint",
        })?;
        // After the signature: only the log itself can use up its rate (WIT-8).
        if let Some(b) = st.bucket.as_mut() {
            b.take(instant)
                .map_err(|wait: Duration| AddCheckpointError::RateLimited {
                    retry_after: wait.as_secs().max(1),
                })?;
        }
        if req.old > cp.tree_size() {
            return Err(AddCheckpointError::OldSizeTooLarge {
                old: req.old,
                size: cp.tree_size(),
            });
        }
        let latest = st.latest.as_ref().map(|c| c.head);
        let latest_size = latest.map_or(0, |h| h.tree_size);
        if req.old != latest_size {
            return Err(AddCheckpointError::SizeMismatch {
                latest: latest_size,
            });
        }
        if cp.tree_size() == 0 && *cp.root_hash() != root_of_the_empty_tree() {
            return Err(AddCheckpointError::EmptyTreeRoot);
        }
        if req.old == 0 {
            if !req.proof.is_empty() {
                return Err(AddCheckpointError::ProofFromZero);
            }
        } else if let Some(l) = latest {
            if cp.tree_size() == l.tree_size && *cp.root_hash() != l.root_hash {
                return Err(AddCheckpointError::SplitView { size: l.tree_size });
            }
            verify_consistency(
                l.tree_size,
                cp.tree_size(),
                &l.root_hash,
                cp.root_hash(),
                &req.proof,
            )
            .map_err(|_| AddCheckpointError::Inconsistent)?;
        }
        if now.seconds() <= 0 {
            // tlog-witness: a cosignature's timestamp must not be zero.
            return Err(AddCheckpointError::Unavailable);
        }
        // Every check passed: cosign (the log crate's witness checks the same again,
        // LOG-16), then store, then answer.
        let mut w = minimis_log::Witness::resume(self.cosigner()?, st.key.clone(), latest)
            .map_err(|_| AddCheckpointError::Unavailable)?;
        let sig = w
            .cosign(req.checkpoint, &req.proof, now)
            .map_err(|e| match e {
                minimis_log::cosignature::WitnessError::SplitView { size } => {
                    AddCheckpointError::SplitView { size }
                }
                minimis_log::cosignature::WitnessError::Inconsistent(_)
                | minimis_log::cosignature::WitnessError::Rollback { .. } => {
                    AddCheckpointError::Inconsistent
                }
                _ => AddCheckpointError::Unavailable,
            })?;
        let cosigned = Cosigned {
            head: TreeHead {
                tree_size: cp.tree_size(),
                root_hash: *cp.root_hash(),
            },
            note: Some(monitoring_note(&note, &st.key, sig.clone())?),
        };
        files::write_atomic(&st.path, state_text(&cosigned, origin).as_bytes(), false)
            .map_err(|_| AddCheckpointError::Unavailable)?;
        st.latest = Some(cosigned);
        Ok(sig.to_line())
    }
}

/// The checkpoint as the monitoring endpoint serves it: the text, the log key's
/// signature line(s) (verified), and the witness's cosignature.
fn monitoring_note(
    note: &SignedNote,
    log_key: &VerifierKey,
    cosignature: NoteSignature,
) -> Result<String, AddCheckpointError> {
    let mut out = SignedNote::new(note.text()).map_err(|_| AddCheckpointError::Unavailable)?;
    for s in note.signatures() {
        if s.name() == log_key.name() && s.key_id() == log_key.key_id() {
            out.add_signature(s.clone())
                .map_err(|_| AddCheckpointError::Unavailable)?;
        }
    }
    out.add_signature(cosignature)
        .map_err(|_| AddCheckpointError::Unavailable)?;
    Ok(out.to_string())
}
