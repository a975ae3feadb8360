//! The oversight custodian as the log's witness: the `minimis-witness` crate (C2SP
//! tlog-witness `add-checkpoint`, <https://c2sp.org/tlog-witness>) for the one log it
//! follows, behind the custodian's mutual-TLS listener (**LOG-16**, **LOG-32**, **WIT-5**).
//!
//! ```text
//! POST /witness/add-checkpoint         (submission prefix `/witness`)
//! ```
//!
//! The statuses are tlog-witness's ([`minimis_witness::protocol`]); a `409` for a size
//! mismatch has the body tlog-witness fixes (the size, as `text/x.tlog.size`); every
//! other refusal is the custodian's JSON refusal, with the code of [`refusal`]
//! (**SVC-8**).
//!
//! What this adds to the crate's witness is what the custodian needs as a custodian: the
//! history of every tree head it cosigned (so that a proof shown to it later on a
//! checkpoint of a size it cosigned, with another root, is refused as a split view), and
//! the requests refused as a split view or as inconsistent, kept as evidence of the log's
//! misbehaviour. A state written before the witness was its own crate (`state`) is moved
//! to the crate's layout on first start.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_log::{Hash, KeyName, TreeHead, VerifierKey};
use minimis_proto::UnixTime;
pub use minimis_witness::{
    AddCheckpointError, AddCheckpointRequest, MAX_PROOF_LINES, SIZE_CONTENT_TYPE,
};
use minimis_witness::{
    KnownLog, OpenWitnessError, TlogWitness, origin_hash, protocol::parse_decimal,
};

use crate::files::{self, FileError};

/// The refusal of the custodians' API an `add-checkpoint` refusal is: the status
/// tlog-witness gives it, and its code in a JSON refusal (every one but
/// [`AddCheckpointError::SizeMismatch`], whose body tlog-witness fixes).
pub fn refusal(e: &AddCheckpointError) -> minimis_wire::CustodianRefusal {
    use minimis_wire::CustodianRefusal as R;
    match e {
        AddCheckpointError::Malformed { .. } => R::Malformed,
        AddCheckpointError::OldSizeTooLarge { .. } => R::OldSizeTooLarge,
        AddCheckpointError::NotSigned => R::NotSigned,
        AddCheckpointError::UnknownOrigin => R::UnknownOrigin,
        AddCheckpointError::SizeMismatch { .. } => R::SizeMismatch,
        AddCheckpointError::SplitView { .. } => R::SplitView,
        AddCheckpointError::EmptyTreeRoot
        | AddCheckpointError::ProofFromZero
        | AddCheckpointError::Inconsistent => R::InconsistentProof,
        _ => R::WitnessUnavailable,
    }
}

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessStartError {
    /// A file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The witness's state, or the log key.
    #[error(transparent)]
    Open(#[from] OpenWitnessError),
}

/// The oversight custodian's witness for one log: state on disk, one request at a time.
#[derive(Debug)]
pub struct WitnessService {
    inner: TlogWitness,
    origin: String,
    /// Every tree head cosigned, by size (the `heads` file, append-only).
    heads: Mutex<std::collections::BTreeMap<u64, Hash>>,
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
        let origin = log_key.name().as_str().to_owned();
        // The layout before minimis-witness: one `state` file (size and root), which the
        // crate reads as it is; moved under its new name once, atomically.
        let legacy = dir.join("state");
        let current = dir.join(origin_hash(&origin));
        if legacy.exists() && !current.exists() {
            let bytes = std::fs::read(&legacy).map_err(files::io(&legacy))?;
            files::write_atomic(&current, &bytes, false)?;
            std::fs::remove_file(&legacy).map_err(files::io(&legacy))?;
        }
        let inner = TlogWitness::open(
            dir,
            name,
            key,
            vec![KnownLog {
                key: log_key,
                // The custodian's listener takes only the operator's certificate.
                rate: None,
            }],
        )?;
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
        if let Some(l) = inner.latest(&origin) {
            heads.insert(l.head.tree_size, l.head.root_hash);
        }
        Ok(Self {
            inner,
            origin,
            heads: Mutex::new(heads),
            dir: dir.to_owned(),
        })
    }

    /// The witness's verifier key (`cosignature/v1`), for clients to require.
    pub fn verifier_key(&self) -> &VerifierKey {
        self.inner.verifier_key()
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
        self.inner.latest(&self.origin).map(|c| c.head)
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
        match self.inner.add_checkpoint(body, now, Instant::now()) {
            Ok(lines) => {
                if let Some(l) = self.inner.latest(&self.origin) {
                    self.remember(&l.head);
                }
                Ok(lines)
            }
            Err(e) => {
                if e.is_evidence() {
                    self.keep_evidence(body, now);
                }
                Err(e)
            }
        }
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
        assert_eq!(e.size_body().as_deref(), Some("3\n"));
        assert_eq!(refusal(&e).code(), "size_mismatch");
    }

    #[test]
    fn log_16_wit_6_refuses_rollback_split_view_inconsistency_and_strangers() {
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
        assert_eq!(e.status(), 422, "tlog-witness: the same size, another root");
        assert_eq!(refusal(&e).status(), 422);
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
        assert_eq!((e.status(), e.size_body()), (409, Some("3\n".to_owned())));

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
        assert_eq!(e.status(), 409, "old size 0 after size 3: resync first");
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

    #[test]
    fn wit_5_a_state_from_before_the_witness_crate_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = log();
        l.append_batch(&[b"a".as_slice(), b"b"]).unwrap();
        let root = B64.encode(l.checkpoint().checkpoint().root_hash().as_bytes());
        std::fs::write(
            dir.path().join("state"),
            format!("minimis witness state v1\n2\n{root}\n"),
        )
        .unwrap();
        let w = witness(dir.path(), l.verifier_key(), 7);
        assert_eq!(w.latest().unwrap().tree_size, 2);
        assert!(!dir.path().join("state").exists());
        let e = w
            .add_checkpoint(&body(0, &[], &l.checkpoint().to_string()), UnixTime(5))
            .unwrap_err();
        assert_eq!(e.size_body().as_deref(), Some("2\n"));
        drop(w);
        let w = witness(dir.path(), l.verifier_key(), 7);
        assert_eq!(
            w.latest().unwrap().tree_size,
            2,
            "once moved, still resumed"
        );
    }
}
