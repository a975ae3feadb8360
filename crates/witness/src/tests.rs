//! Conformance with C2SP tlog-witness, one row per sentence of the spec that fixes an
//! answer, and the attacks a witness is there to stop: a fork, a rollback, a race, a
//! crash mid-check.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_log::note::NoteSignature;
use minimis_log::{
    Checkpoint, Hash, KeyName, Log, MemoryStorage, NoteSigner, SignedCheckpoint, SignedNote,
    VerifierKey,
};
use minimis_proto::UnixTime;

use crate::{AddCheckpointError, KnownLog, Rate, TlogWitness, origin_hash};

const ORIGIN: &str = "log.minimis.example";

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_seed(&[seed; 32]).unwrap(),
    )
}

/// A log signed with the log's key (seed 42), holding `leaves`.
fn log_with(leaves: &[&[u8]]) -> Log<MemoryStorage> {
    let mut l = Log::create(MemoryStorage::new(), signer(42)).unwrap();
    if !leaves.is_empty() {
        l.append_batch(leaves).unwrap();
    }
    l
}

fn open(dir: &Path, rate: Option<Rate>) -> TlogWitness {
    TlogWitness::open(
        dir,
        KeyName::new("witness.example/w1").unwrap(),
        SigningKey::from_seed(&[7; 32]).unwrap(),
        vec![KnownLog {
            key: signer(42).verifier_key(),
            rate,
        }],
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

fn add(w: &TlogWitness, b: &[u8]) -> Result<String, AddCheckpointError> {
    w.add_checkpoint(b, UnixTime(1_700_000_000), Instant::now())
}

/// The witness cosigned `real`'s first 3 leaves (a, b, c).
fn at_three(dir: &Path) -> (TlogWitness, Log<MemoryStorage>) {
    let w = open(dir, None);
    let real = log_with(&[b"a", b"b", b"c"]);
    add(&w, &body(0, &[], &real.checkpoint().to_string())).unwrap();
    (w, real)
}

/// A request body, made from the real log.
type MakeRequest = Box<dyn Fn(&Log<MemoryStorage>) -> Vec<u8>>;

struct Row {
    spec: &'static str,
    request: MakeRequest,
    status: u16,
}

#[test]
fn wit_1_wit_2_wit_3_every_answer_tlog_witness_defines() {
    let empty_tree_root = minimis_log::verify::root_of_the_empty_tree();
    let rows: Vec<Row> = vec![
        Row {
            spec: "the body is not an old line, proof lines, an empty line and a checkpoint: 400",
            request: Box::new(|_| b"old 3\nnot base64\n\n".to_vec()),
            status: 400,
        },
        Row {
            spec: "the checkpoint is not a signed note: 400",
            request: Box::new(|_| body(3, &[], "not a note\n")),
            status: 400,
        },
        Row {
            spec: "If the checkpoint origin is unknown, the witness MUST respond with 404",
            request: Box::new(|_| {
                let other = NoteSigner::new(
                    KeyName::new("other.example/log").unwrap(),
                    SigningKey::from_seed(&[42; 32]).unwrap(),
                );
                let mut l = Log::create(MemoryStorage::new(), other).unwrap();
                l.append_batch(&[b"a".as_slice()]).unwrap();
                body(0, &[], &l.checkpoint().to_string())
            }),
            status: 404,
        },
        Row {
            spec: "no signature from a trusted key for the origin is present: 403",
            request: Box::new(|_| {
                let mut l = Log::create(MemoryStorage::new(), signer(43)).unwrap();
                l.append_batch(&[b"a".as_slice(), b"b", b"c", b"d"])
                    .unwrap();
                body(3, &[], &l.checkpoint().to_string())
            }),
            status: 403,
        },
        Row {
            spec: "a signature line's key name and ID match a trusted key but the signature fails: 403",
            request: Box::new(|real| {
                let mut l = log_with(&[b"a", b"b", b"c", b"d"]);
                let proof = l.consistency_proof(3, 4).unwrap().consistency_path;
                let _ = real;
                let text = l.checkpoint().to_string();
                // Flip one byte of the log's signature (its base64 after the key ID).
                let (head, line) = text.rsplit_once("— ").unwrap();
                let (name, sig) = line.trim_end().split_once(' ').unwrap();
                let mut raw = B64.decode(sig).unwrap();
                raw[10] ^= 1;
                let bad = format!("{head}— {name} {}\n", B64.encode(raw));
                l.append_batch(&[b"e".as_slice()]).unwrap();
                body(3, &proof, &bad)
            }),
            status: 403,
        },
        Row {
            spec: "The old size MUST be equal to or lower than the checkpoint size, else 400",
            request: Box::new(|_| {
                let older = log_with(&[b"a", b"b"]);
                body(3, &[], &older.checkpoint().to_string())
            }),
            status: 400,
        },
        Row {
            spec: "the old size does not match the size of the latest cosigned checkpoint: 409",
            request: Box::new(|_| {
                let l = log_with(&[b"a", b"b", b"c", b"d"]);
                body(2, &[], &l.checkpoint().to_string())
            }),
            status: 409,
        },
        Row {
            spec: "an old size of zero when the witness has cosigned: 409 (the client resyncs)",
            request: Box::new(|_| {
                let l = log_with(&[b"a", b"b", b"c", b"d"]);
                body(0, &[], &l.checkpoint().to_string())
            }),
            status: 409,
        },
        Row {
            spec: "If a Merkle Consistency Proof doesn't verify: 422",
            request: Box::new(|_| {
                let l = log_with(&[b"a", b"b", b"c", b"d"]);
                body(3, &[Hash::from_bytes([9; 32])], &l.checkpoint().to_string())
            }),
            status: 422,
        },
        Row {
            spec: "old size matches the checkpoint size but the root hashes differ: 422 (a fork)",
            request: Box::new(|_| {
                let fork = log_with(&[b"x", b"y", b"z"]);
                body(3, &[], &fork.checkpoint().to_string())
            }),
            status: 422,
        },
        Row {
            spec: "a fork grown past the cosigned size, with the fork's own proof: 422",
            request: Box::new(|_| {
                let fork = log_with(&[b"x", b"y", b"z", b"w"]);
                let proof = fork.consistency_proof(3, 4).unwrap().consistency_path;
                body(3, &proof, &fork.checkpoint().to_string())
            }),
            status: 422,
        },
        Row {
            spec: "signatures from unknown keys are ignored: 200",
            request: Box::new(|_| {
                let l = log_with(&[b"a", b"b", b"c", b"d"]);
                let proof = l.consistency_proof(3, 4).unwrap().consistency_path;
                let stranger = NoteSigner::new(
                    KeyName::new("stranger.example").unwrap(),
                    SigningKey::from_seed(&[5; 32]).unwrap(),
                );
                let mut text = l.checkpoint().to_string();
                let cp =
                    SignedCheckpoint::open(text.as_bytes(), &signer(42).verifier_key()).unwrap();
                text.push_str(&stranger.sign(cp.note().text()).unwrap().to_line());
                body(3, &proof, &text)
            }),
            status: 200,
        },
        Row {
            spec: "the same size and root as cosigned: 200 (cosigned again)",
            request: Box::new(|real| body(3, &[], &real.checkpoint().to_string())),
            status: 200,
        },
    ];
    for row in &rows {
        let dir = tempfile::tempdir().unwrap();
        let (w, real) = at_three(dir.path());
        let before = std::fs::read(dir.path().join(origin_hash(ORIGIN))).unwrap();
        let got = add(&w, &(row.request)(&real));
        let status = got
            .as_ref()
            .map_or_else(AddCheckpointError::status, |_| 200);
        assert_eq!(status, row.status, "{}: {got:?}", row.spec);
        match got {
            Ok(lines) => {
                assert!(lines.starts_with("— witness.example/w1 ") && lines.ends_with('\n'));
            }
            Err(e) => {
                // A refusal changes nothing, in memory or on disk.
                assert_eq!(w.latest(ORIGIN).unwrap().head.tree_size, 3, "{}", row.spec);
                assert_eq!(
                    std::fs::read(dir.path().join(origin_hash(ORIGIN))).unwrap(),
                    before,
                    "{}",
                    row.spec
                );
                if e.status() == 409 {
                    assert_eq!(e.size_body().as_deref(), Some("3\n"), "{}", row.spec);
                } else {
                    assert_eq!(e.size_body(), None);
                }
            }
        }
    }

    // From a witness that never cosigned this log.
    let fresh_rows: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "never cosigned: the old size must be zero (409, body 0)",
            body(
                2,
                &[],
                &log_with(&[b"a", b"b", b"c"]).checkpoint().to_string(),
            ),
            409,
        ),
        (
            "If the proof is not empty when the old size is zero: 422",
            body(
                0,
                &[Hash::from_bytes([1; 32])],
                &log_with(&[b"a"]).checkpoint().to_string(),
            ),
            422,
        ),
        (
            "A checkpoint of size zero MUST have the root hash of the empty tree, else 422",
            {
                let cp = Checkpoint::new(ORIGIN, 0, Hash::from_bytes([3; 32])).unwrap();
                body(
                    0,
                    &[],
                    &SignedCheckpoint::sign(cp, &signer(42)).unwrap().to_string(),
                )
            },
            422,
        ),
        (
            "the empty tree with its root: 200",
            {
                let cp = Checkpoint::new(ORIGIN, 0, empty_tree_root).unwrap();
                body(
                    0,
                    &[],
                    &SignedCheckpoint::sign(cp, &signer(42)).unwrap().to_string(),
                )
            },
            200,
        ),
    ];
    for (spec, req, status) in fresh_rows {
        let dir = tempfile::tempdir().unwrap();
        let w = open(dir.path(), None);
        let got = add(&w, &req);
        assert_eq!(
            got.as_ref()
                .map_or_else(AddCheckpointError::status, |_| 200),
            status,
            "{spec}: {got:?}"
        );
        if let Err(e) = got {
            assert!(w.latest(ORIGIN).is_none(), "{spec}");
            if status == 409 {
                assert_eq!(e.size_body().as_deref(), Some("0\n"));
            }
        }
    }
}

#[test]
fn wit_3_a_200_is_a_timestamped_cosignature_the_client_verifies_by_concatenation() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), None);
    let l = log_with(&[b"a", b"b"]);
    let lines = w
        .add_checkpoint(
            &body(0, &[], &l.checkpoint().to_string()),
            UnixTime(1_700_000_123),
            Instant::now(),
        )
        .unwrap();
    // "the client MAY concatenate it to the checkpoint, and use a note verification
    // function configured with the witness keys it trusts"
    let joined = format!("{}{lines}", l.checkpoint());
    let mut cp = SignedCheckpoint::open(joined.as_bytes(), &signer(42).verifier_key()).unwrap();
    let v = cp.verify_cosignatures(&[w.verifier_key().clone()]).unwrap();
    assert_eq!(
        v[0].time,
        UnixTime(1_700_000_123),
        "the timestamp is not zero"
    );
    let line = NoteSignature::parse_line(lines.trim_end()).unwrap();
    cp.add_cosignature(line, w.verifier_key()).unwrap();
    // A witness key the client does not trust verifies nothing.
    let other = minimis_log::Cosigner::new(
        KeyName::new("witness.example/w1").unwrap(),
        SigningKey::from_seed(&[8; 32]).unwrap(),
    );
    assert!(cp.verify_cosignatures(&[other.verifier_key()]).is_err());
}

#[test]
fn wit_4_the_latest_cosigned_size_survives_a_restart_and_a_crash_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let (w, mut real) = at_three(dir.path());
    real.append_batch(&[b"d".as_slice()]).unwrap();
    let proof = real.consistency_proof(3, 4).unwrap().consistency_path;
    add(&w, &body(3, &proof, &real.checkpoint().to_string())).unwrap();
    drop(w);
    // A crash between writing the temporary file and renaming it: a torn temporary file
    // is left beside the state. The witness resumes from the state, ignoring it.
    let state = dir.path().join(origin_hash(ORIGIN));
    std::fs::write(
        minimis_service::files::tmp_path(&state),
        b"minimis witness state v1\n9",
    )
    .unwrap();
    let w = open(dir.path(), None);
    assert_eq!(w.latest(ORIGIN).unwrap().head.tree_size, 4);
    let e = add(&w, &body(3, &proof, &real.checkpoint().to_string())).unwrap_err();
    assert_eq!(e.size_body().as_deref(), Some("4\n"));
    // And the next checkpoint is cosigned from there (the temporary file is replaced).
    real.append_batch(&[b"e".as_slice()]).unwrap();
    let proof = real.consistency_proof(4, 5).unwrap().consistency_path;
    add(&w, &body(4, &proof, &real.checkpoint().to_string())).unwrap();
    assert!(!minimis_service::files::tmp_path(&state).exists());
    // A state file that is not one is refused at start, not silently reset to zero.
    std::fs::write(&state, b"garbage").unwrap();
    assert!(
        TlogWitness::open(
            dir.path(),
            KeyName::new("witness.example/w1").unwrap(),
            SigningKey::from_seed(&[7; 32]).unwrap(),
            vec![KnownLog {
                key: signer(42).verifier_key(),
                rate: None
            }],
        )
        .is_err()
    );
}

#[test]
fn wit_4_racing_requests_cannot_roll_the_witness_back() {
    // tlog-witness's race: A (size N) and B (size N+K) both checked against the same old
    // size; if both were stored, A would roll back K leaves.
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let (w, real) = at_three(dir.path());
        let w = Arc::new(w);
        let mut bigger = log_with(&[b"a", b"b", b"c", b"d"]);
        let small = (
            4,
            body(
                3,
                &bigger.consistency_proof(3, 4).unwrap().consistency_path,
                &bigger.checkpoint().to_string(),
            ),
        );
        bigger.append_batch(&[b"e".as_slice(), b"f", b"g"]).unwrap();
        let large = (
            7,
            body(
                3,
                &bigger.consistency_proof(3, 7).unwrap().consistency_path,
                &bigger.checkpoint().to_string(),
            ),
        );
        drop(real);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [small, large]
            .into_iter()
            .map(|(size, b)| {
                let (w, barrier) = (w.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (size, add(&w, &b).is_ok())
                })
            })
            .collect();
        let results: Vec<(u64, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won: Vec<u64> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one of the two is cosigned: {results:?}"
        );
        assert_eq!(w.latest(ORIGIN).unwrap().head.tree_size, won[0]);
    }
}

#[test]
fn wit_7_the_monitoring_answer_is_the_latest_cosigned_checkpoint_or_404() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), None);
    let h = origin_hash(ORIGIN);
    assert_eq!(
        h,
        hex::encode(ring::digest::digest(&ring::digest::SHA256, ORIGIN.as_bytes()).as_ref())
    );
    assert!(w.checkpoint(&h).is_none(), "never cosigned: 404");
    let l = log_with(&[b"a", b"b"]);
    // Sent with a stranger's signature too: the stored note keeps only the log's.
    let stranger = NoteSigner::new(
        KeyName::new("stranger.example").unwrap(),
        SigningKey::from_seed(&[5; 32]).unwrap(),
    );
    let mut text = l.checkpoint().to_string();
    let parsed = SignedNote::parse(text.as_bytes()).unwrap();
    text.push_str(&stranger.sign(parsed.text()).unwrap().to_line());
    add(&w, &body(0, &[], &text)).unwrap();
    let served = w.checkpoint(&h).unwrap();
    let cp = SignedCheckpoint::open(served.as_bytes(), &signer(42).verifier_key()).unwrap();
    assert_eq!(cp.checkpoint().tree_size(), 2);
    cp.verify_cosignatures(&[w.verifier_key().clone()]).unwrap();
    assert_eq!(cp.note().signatures().len(), 2, "{served}");
    assert!(w.checkpoint(&origin_hash("other.example")).is_none());
    assert!(w.checkpoint("not-a-hash").is_none());
    // It survives a restart.
    drop(w);
    let w = open(dir.path(), None);
    assert_eq!(w.checkpoint(&h).as_deref(), Some(served.as_str()));
}

#[test]
fn wit_8_a_log_over_its_rate_is_refused_with_429_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(
        dir.path(),
        Some(Rate {
            per_minute: 60,
            burst: 2,
        }),
    );
    let l = log_with(&[b"a"]);
    let t0 = Instant::now();
    let req = body(0, &[], &l.checkpoint().to_string());
    w.add_checkpoint(&req, UnixTime(10), t0).unwrap();
    w.add_checkpoint(&body(1, &[], &l.checkpoint().to_string()), UnixTime(10), t0)
        .unwrap();
    let e = w
        .add_checkpoint(&body(1, &[], &l.checkpoint().to_string()), UnixTime(10), t0)
        .unwrap_err();
    assert!(
        matches!(e, AddCheckpointError::RateLimited { retry_after: 1 }),
        "{e}"
    );
    assert_eq!(e.status(), 429);
    // Requests not signed by the log do not use its rate up.
    let forged = Log::create(MemoryStorage::new(), signer(43)).unwrap();
    for _ in 0..10 {
        let e = w
            .add_checkpoint(
                &body(1, &[], &forged.checkpoint().to_string()),
                UnixTime(11),
                t0 + Duration::from_secs(1),
            )
            .unwrap_err();
        assert_eq!(e.status(), 403);
    }
    w.add_checkpoint(
        &body(1, &[], &l.checkpoint().to_string()),
        UnixTime(11),
        t0 + Duration::from_secs(1),
    )
    .unwrap();
}

#[test]
fn wit_9_the_witness_key_stays_out_of_debug() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), None);
    let shown = format!("{w:?}");
    let seed = B64.encode([7u8; 32]);
    assert!(!shown.contains(&seed) && !shown.contains(&hex::encode([7u8; 32])));
    assert!(shown.contains("witness.example/w1"));
    let _: &VerifierKey = w.verifier_key();
}
