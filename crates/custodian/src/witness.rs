//! The oversight custodian as the log's witness: C2SP tlog-witness `add-checkpoint`
//! (<https://c2sp.org/tlog-witness>) over [`minimis_log::Witness`], with its state stored
//! durably before any cosignature is released (**LOG-16**, **LOG-32**).
//!
//! ```text
//! POST /witness/add-checkpoint
//!
//! old <size>\n                 the size of the last checkpoint the client saw cosigned
//! <base64 hash>\n ...           at most 63: the consistency proof from <size>
//! \n
//! <signed checkpoint note>
//!
//! 200  "— <witness name> <base64 cosignature>\n"
//! 400  malformed body, or old size above the checkpoint's size
//! 403  no signature by the log's key
//! 404  the origin is not the log's
//! 409  old size is not the size last cosigned (body: that size, text/x.tlog.size),
//!      or the same size with another root hash (a split view)
//! 422  the consistency proof does not verify
//! ```
//!
//! A `409` for a size mismatch has the body tlog-witness fixes (the size, as
//! `text/x.tlog.size`); every other refusal is the custodian's JSON refusal, with the code
//! of [`AddCheckpointError::code`] (**SVC-8**).
//!
//! The check of the old size and the update of the stored tree head happen under one
//! lock, and the new head is written (temporary file, sync, rename, directory sync)
//! before the cosignature leaves, so that no crash and no race can make the witness
//! cosign a rollback. Requests refused as a split view or as inconsistent are kept as
//! evidence of the log's misbehaviour.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_log::checkpoint::OpenCheckpointError;
use minimis_log::{
    Cosigner, Hash, KeyName, SignedCheckpoint, TreeHead, VerifierKey, Witness, verify_consistency,
};
use minimis_proto::UnixTime;

use crate::files::{self, FileError};

/// The most consistency-proof lines a request may carry (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why the witness did not cosign. Each has its tlog-witness status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddCheckpointError {
    /// The body is not an `old` line, proof lines, an empty line and a note.
    #[error("malformed add-checkpoint request: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// The old size is above the checkpoint's size.
    #[error("the old size {old} is above the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The checkpoint's origin is not the log this witness follows.
    #[error("unknown log origin")]
    UnknownOrigin,
    /// No signature by the log's key verifies.
    #[error("the checkpoint is not signed by the log's key")]
    NotSigned,
    /// The old size is not the size this witness last cosigned.
    #[error("the witness last cosigned size {latest}")]
    SizeMismatch {
        /// The size last cosigned.
        latest: u64,
    },
    /// Same size as last cosigned, another root: a split view.
    #[error("a second root hash for size {size}: split view")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The consistency proof does not verify.
    #[error("the consistency proof does not verify")]
    Inconsistent,
    /// The state could not be stored: nothing was cosigned.
    #[error("the witness state could not be stored")]
    Storage(#[source] FileError),
}

impl AddCheckpointError {
    /// The refusal of the custodians' API this is: the status tlog-witness gives it,
    /// and its code in a JSON refusal (every one but
    /// [`AddCheckpointError::SizeMismatch`], whose body tlog-witness fixes: the size, as
    /// `text/x.tlog.size`).
    pub fn refusal(&self) -> minimis_wire::CustodianRefusal {
        use minimis_wire::CustodianRefusal as R;
        match self {
            Self::Malformed { .. } => R::Malformed,
            Self::OldSizeTooLarge { .. } => R::OldSizeTooLarge,
            Self::NotSigned => R::NotSigned,
            Self::UnknownOrigin => R::UnknownOrigin,
            Self::SizeMismatch { .. } => R::SizeMismatch,
            Self::SplitView { .. } => R::SplitView,
            Self::Inconsistent => R::InconsistentProof,
            Self::Storage(_) => R::WitnessUnavailable,
        }
    }

    /// The HTTP status tlog-witness gives this refusal.
    pub fn status(&self) -> u16 {
        self.refusal().status()
    }

    /// The machine-readable code of a refusal answered in JSON.
    pub fn code(&self) -> &'static str {
        self.refusal().code()
    }

    /// The response body: the latest size for a size mismatch, else the reason.
    pub fn body(&self) -> String {
        match self {
            Self::SizeMismatch { latest } => format!("{latest}\n"),
            other => format!("{other}\n"),
        }
    }

    /// The response content type.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::SizeMismatch { .. } => SIZE_CONTENT_TYPE,
            _ => "text/plain; charset=utf-8",
        }
    }
}

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessStartError {
    /// The state file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The state file is not what this witness writes.
    #[error("{path}: not a witness state file")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// The log key is not an Ed25519 note key.
    #[error(transparent)]
    Witness(#[from] minimis_log::cosignature::WitnessError),
}

/// A parsed `add-checkpoint` request body: what the witness is asked to cosign, not yet
/// checked against anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest<'a> {
    /// The size of the last checkpoint the client saw this witness cosign.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: &'a [u8],
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

impl<'a> AddCheckpointRequest<'a> {
    /// Parses a body: an `old <size>` line, at most [`MAX_PROOF_LINES`] base64 hashes, an
    /// empty line, then the checkpoint (tlog-witness).
    ///
    /// # Errors
    /// [`AddCheckpointError::Malformed`].
    pub fn parse(body: &'a [u8]) -> Result<Self, AddCheckpointError> {
        let bad = |what| AddCheckpointError::Malformed { what };
        let mut rest = body;
        let next_line = |rest: &mut &[u8]| -> Option<String> {
            let i = rest.iter().position(|&b| b == b'\n')?;
            let line = std::str::from_utf8(&rest[..i]).ok()?.to_owned();
            *rest = &rest[i + 1..];
            Some(line)
        };
        let first = next_line(&mut rest).ok_or(bad("no `old` line"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(bad("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest).ok_or(bad("no empty line before the checkpoint"))?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let bytes = B64
                .decode(line.as_bytes())
                .map_err(|_| bad("a proof line is not base64"))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("a proof line is not a 32-byte hash"))?;
            proof.push(Hash::from_bytes(hash));
        }
        if old == 0 && !proof.is_empty() {
            return Err(bad("the proof must be empty when the old size is 0"));
        }
        Ok(Self {
            old,
            proof,
            checkpoint: rest,
        })
    }

    /// The body, written as [`AddCheckpointRequest::parse`] reads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h.as_bytes()).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(self.checkpoint);
        out
    }
}

fn state_text(head: &TreeHead) -> String {
    format!(
        "minimis witness state v1\n{}\n{}\n",
        head.tree_size,
        B64.encode(head.root_hash.as_bytes())
    )
}

fn read_state(path: &Path) -> Result<Option<TreeHead>, WitnessStartError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(files::io(path)(e).into()),
    };
    let corrupt = || WitnessStartError::Corrupt {
        path: path.to_owned(),
    };
    let mut lines = text.lines();
    if lines.next() != Some("minimis witness state v1") {
        return Err(corrupt());
    }
    let tree_size = lines.next().and_then(parse_decimal).ok_or_else(corrupt)?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok(Some(TreeHead {
        tree_size,
        root_hash: Hash::from_bytes(root),
    }))
}

/// The oversight custodian's witness for one log: state on disk, one request at a time.
#[derive(Debug)]
pub struct WitnessService {
    inner: Mutex<Witness>,
    /// Every tree head cosigned, by size (the `heads` file, append-only).
    heads: Mutex<std::collections::BTreeMap<u64, Hash>>,
    log_key: VerifierKey,
    vkey: VerifierKey,
    dir: PathBuf,
}

impl WitnessService {
    /// The witness named `name` with `key`, for the log with `log_key`, keeping its state
    /// in `dir` (resumed if there is one).
    ///
    /// # Errors
    /// [`WitnessStartError`].
    pub fn open(
        dir: &Path,
        name: KeyName,
        key: SigningKey,
        log_key: VerifierKey,
    ) -> Result<Self, WitnessStartError> {
        files::make_private_dir(dir)?;
        let latest = read_state(&dir.join("state"))?;
        let witness = Witness::resume(Cosigner::new(name, key), log_key.clone(), latest)?;
        let vkey = witness.verifier_key();
        let mut heads = std::collections::BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("heads")) {
            for line in text.lines() {
                let parsed = line.split_once(' ').and_then(|(n, r)| {
                    let n = parse_decimal(n)?;
                    let r: [u8; 32] = B64.decode(r).ok()?.try_into().ok()?;
                    Some((n, Hash::from_bytes(r)))
                });
                // A line cut by a crash is the last one; the state file has the head.
                if let Some((n, r)) = parsed {
                    heads.insert(n, r);
                }
            }
        }
        if let Some(l) = latest {
            heads.insert(l.tree_size, l.root_hash);
        }
        Ok(Self {
            inner: Mutex::new(witness),
            heads: Mutex::new(heads),
            log_key,
            vkey,
            dir: dir.to_owned(),
        })
    }

    /// The witness's verifier key (`cosignature/v1`), for clients to require.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.vkey
    }

    /// The root hash this witness cosigned for a tree of `size`, if it cosigned one:
    /// a checkpoint of that size with another root is a split view.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.heads.lock().ok().and_then(|h| h.get(&size).copied())
    }

    fn remember(&self, head: &TreeHead) {
        use std::io::Write as _;
        let line = format!(
            "{} {}\n",
            head.tree_size,
            B64.encode(head.root_hash.as_bytes())
        );
        let path = self.dir.join("heads");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::warn!(error = %e, "the witness could not add to its history of heads");
        }
        if let Ok(mut h) = self.heads.lock() {
            h.insert(head.tree_size, head.root_hash);
        }
    }

    /// The tree head last cosigned.
    pub fn latest(&self) -> Option<TreeHead> {
        self.inner.lock().ok().and_then(|w| w.latest())
    }

    fn keep_evidence(&self, body: &[u8], now: UnixTime) {
        // Best effort: evidence is kept to show an auditor, never needed to refuse.
        let dir = self.dir.join("evidence");
        if files::make_private_dir(&dir).is_ok() {
            let d = ring::digest::digest(&ring::digest::SHA256, body);
            let name = format!("{}-{}.txt", now.seconds(), hex::encode(&d.as_ref()[..8]));
            let _ = files::write_atomic(&dir.join(name), body, false);
        }
    }

    /// Handles one `add-checkpoint` request body at time `now`: the cosignature line(s)
    /// on success (**LOG-16**, **LOG-32**).
    ///
    /// # Errors
    /// An [`AddCheckpointError`], with its status; nothing is cosigned and the state is
    /// unchanged.
    pub fn add_checkpoint(&self, body: &[u8], now: UnixTime) -> Result<String, AddCheckpointError> {
        let req = AddCheckpointRequest::parse(body)?;
        let signed =
            SignedCheckpoint::open(req.checkpoint, &self.log_key).map_err(|e| match e {
                OpenCheckpointError::OriginMismatch { .. } => AddCheckpointError::UnknownOrigin,
                OpenCheckpointError::Signature(_) | OpenCheckpointError::NotALogKey => {
                    AddCheckpointError::NotSigned
                }
                _ => AddCheckpointError::Malformed {
                    what: "not a signed checkpoint",
                },
            })?;
        let cp = signed.checkpoint();
        if req.old > cp.tree_size() {
            return Err(AddCheckpointError::OldSizeTooLarge {
                old: req.old,
                size: cp.tree_size(),
            });
        }
        // One request at a time, from the size check to the state write.
        let mut w = self
            .inner
            .lock()
            .map_err(|_| AddCheckpointError::Malformed {
                what: "witness state poisoned",
            })?;
        let latest = w.latest();
        let latest_size = latest.map_or(0, |h| h.tree_size);
        if req.old != latest_size {
            return Err(AddCheckpointError::SizeMismatch {
                latest: latest_size,
            });
        }
        if let Some(l) = latest.filter(|l| l.tree_size > 0) {
            if cp.tree_size() == l.tree_size && cp.root_hash() != &l.root_hash {
                self.keep_evidence(body, now);
                return Err(AddCheckpointError::SplitView { size: l.tree_size });
            }
            if verify_consistency(
                l.tree_size,
                cp.tree_size(),
                &l.root_hash,
                cp.root_hash(),
                &req.proof,
            )
            .is_err()
            {
                self.keep_evidence(body, now);
                return Err(AddCheckpointError::Inconsistent);
            }
        }
        // Store the new tree head before anything is signed (LOG-32).
        let head = TreeHead {
            tree_size: cp.tree_size(),
            root_hash: *cp.root_hash(),
        };
        files::write_atomic(&self.dir.join("state"), state_text(&head).as_bytes(), false)
            .map_err(AddCheckpointError::Storage)?;
        self.remember(&head);
        let sig = w
            .cosign(req.checkpoint, &req.proof, now)
            .map_err(|e| match e {
                minimis_log::cosignature::WitnessError::SplitView { size } => {
                    AddCheckpointError::SplitView { size }
                }
                _ => AddCheckpointError::Inconsistent,
            })?;
        Ok(sig.to_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_log::{Log, MemoryStorage, NoteSigner};

    fn log() -> Log<MemoryStorage> {
        let signer = NoteSigner::new(
            KeyName::new("log.minimis.example").unwrap(),
            SigningKey::generate().unwrap(),
        );
        Log::create(MemoryStorage::new(), signer).unwrap()
    }

    fn witness(dir: &Path, log_key: VerifierKey, seed: u8) -> WitnessService {
        WitnessService::open(
            dir,
            KeyName::new("oversight.example/witness").unwrap(),
            SigningKey::from_seed(&[seed; 32]).unwrap(),
            log_key,
        )
        .unwrap()
    }

    fn body(old: u64, proof: &[Hash], checkpoint: &str) -> Vec<u8> {
        let mut s = format!("old {old}\n");
        for h in proof {
            s.push_str(&B64.encode(h.as_bytes()));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(checkpoint);
        s.into_bytes()
    }

    #[test]
    fn log_16_log_32_cosigns_consistent_checkpoints_and_keeps_its_state_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = log();
        l.append_batch(&[b"a".as_slice(), b"b"]).unwrap();
        let w = witness(dir.path(), l.verifier_key(), 7);
        let line = w
            .add_checkpoint(&body(0, &[], &l.checkpoint().to_string()), UnixTime(100))
            .unwrap();
        assert!(line.starts_with("— oversight.example/witness "));
        assert!(line.ends_with('\n'));
        // The client adds it to the checkpoint; it verifies under the witness key.
        let sig = minimis_log::SignedNote::parse(format!("{}{line}", l.checkpoint()).as_bytes())
            .unwrap()
            .signatures()
            .last()
            .cloned()
            .unwrap();
        l.add_cosignature(sig, w.verifier_key()).unwrap();
        // Extend; a proof from 2.
        l.append_batch(&[b"c".as_slice()]).unwrap();
        let proof = l.consistency_proof(2, 3).unwrap().consistency_path;
        w.add_checkpoint(&body(2, &proof, &l.checkpoint().to_string()), UnixTime(101))
            .unwrap();
        assert_eq!(w.latest().unwrap().tree_size, 3);
        drop(w);
        // Restarted: it remembers size 3.
        let w = witness(dir.path(), l.verifier_key(), 7);
        assert_eq!(w.latest().unwrap().tree_size, 3);
        let e = w
            .add_checkpoint(&body(0, &[], &l.checkpoint().to_string()), UnixTime(102))
            .unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(e.body(), "3\n");
        assert_eq!(e.content_type(), "text/x.tlog.size");
    }

    #[test]
    fn log_16_refuses_rollback_split_view_inconsistency_and_strangers() {
        let dir = tempfile::tempdir().unwrap();
        // Logs signed with the log's key: the real one, a fork, an older copy.
        let signer = || {
            NoteSigner::new(
                KeyName::new("log.minimis.example").unwrap(),
                SigningKey::from_seed(&[42; 32]).unwrap(),
            )
        };
        let mut real = Log::create(MemoryStorage::new(), signer()).unwrap();
        real.append_batch(&[b"a".as_slice(), b"b", b"c"]).unwrap();
        let w = witness(dir.path(), real.verifier_key(), 7);
        let cp3 = real.checkpoint().to_string();
        w.add_checkpoint(&body(0, &[], &cp3), UnixTime(1)).unwrap();

        // The same size with another root: a split view.
        let mut fork = Log::create(MemoryStorage::new(), signer()).unwrap();
        fork.append_batch(&[b"x".as_slice(), b"y", b"z"]).unwrap();
        let e = w
            .add_checkpoint(&body(3, &[], &fork.checkpoint().to_string()), UnixTime(2))
            .unwrap_err();
        assert!(
            matches!(e, AddCheckpointError::SplitView { size: 3 }),
            "{e}"
        );
        assert_eq!(e.status(), 409);
        // The fork grown by one, with the fork's own proof: inconsistent.
        fork.append_batch(&[b"w".as_slice()]).unwrap();
        let proof = fork.consistency_proof(3, 4).unwrap().consistency_path;
        let e = w
            .add_checkpoint(
                &body(3, &proof, &fork.checkpoint().to_string()),
                UnixTime(3),
            )
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
        // Refused requests are kept as evidence.
        assert_eq!(
            std::fs::read_dir(dir.path().join("evidence"))
                .unwrap()
                .count(),
            2
        );

        // A rolled-back checkpoint (size 2 after 3).
        let mut older = Log::create(MemoryStorage::new(), signer()).unwrap();
        older.append_batch(&[b"a".as_slice(), b"b"]).unwrap();
        let cp2 = older.checkpoint().to_string();
        let e = w
            .add_checkpoint(&body(3, &[], &cp2), UnixTime(4))
            .unwrap_err();
        assert_eq!(e.status(), 400, "old size above the checkpoint's");
        let e = w
            .add_checkpoint(&body(2, &[], &cp2), UnixTime(4))
            .unwrap_err();
        assert_eq!((e.status(), e.body()), (409, "3\n".to_owned()));

        // Not signed by the log's key; another log's origin.
        let stranger = NoteSigner::new(
            KeyName::new("log.minimis.example").unwrap(),
            SigningKey::from_seed(&[43; 32]).unwrap(),
        );
        let mut s = Log::create(MemoryStorage::new(), stranger).unwrap();
        s.append_batch(&[b"a".as_slice(), b"b", b"c", b"d"])
            .unwrap();
        let e = w
            .add_checkpoint(&body(3, &[], &s.checkpoint().to_string()), UnixTime(5))
            .unwrap_err();
        assert_eq!(e.status(), 403, "{e}");
        let other = log();
        let e = w
            .add_checkpoint(&body(0, &[], &other.checkpoint().to_string()), UnixTime(5))
            .unwrap_err();
        assert!(matches!(e.status(), 403 | 404), "{e}");

        // Malformed bodies.
        for bad in [
            &b""[..],
            b"old 01\n\n",
            b"old x\n\n",
            b"new 3\n\n",
            b"old 3\nnot base64!\n\n",
            b"old 3\n",
        ] {
            assert_eq!(
                w.add_checkpoint(bad, UnixTime(6)).unwrap_err().status(),
                400
            );
        }
        let e = w
            .add_checkpoint(&body(0, &[Hash::from_bytes([1; 32])], &cp3), UnixTime(6))
            .unwrap_err();
        assert_eq!(e.status(), 400, "a proof with old size 0");
        assert_eq!(w.latest().unwrap().tree_size, 3, "nothing changed");
        // The real log's next checkpoint is still cosigned.
        real.append_batch(&[b"d".as_slice()]).unwrap();
        let proof = real.consistency_proof(3, 4).unwrap().consistency_path;
        w.add_checkpoint(
            &body(3, &proof, &real.checkpoint().to_string()),
            UnixTime(7),
        )
        .unwrap();
    }
}
