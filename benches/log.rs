//! The transparency log against the floor of the hashing and signing it is made of,
//! measured in the same run (issue 4: appends in memory at 1,000,000 entries a second or
//! more).
//!
//! - **append**: a batch of 10,000 check-in entries (85 bytes each) appended to a log in
//!   memory, tiles, bundles and the signed checkpoint included. Floor: per entry one
//!   leaf hash and one node hash (what appending costs on average: a leaf, and one merge
//!   of the right edge), with ring's SHA-256 called directly; plus one Ed25519 signature.
//! - **checkpoint_sign**: the checkpoint body signed as a note. Floor: one Ed25519
//!   signature (ring) over the same body.
//! - **inclusion_prove**, **inclusion_verify**: an inclusion proof in a tree of 1,000,000
//!   entries, generated from the tiles and verified (RFC 9162 §2.1.3). Floor: the SHA-256
//!   hashes a verification needs: the leaf hash and one node hash per path element.
//! - **consistency_prove**, **consistency_verify**: a consistency proof between two sizes
//!   up to 1,000,000 (RFC 9162 §2.1.4). Floor: the node hashes its verification needs.
//! - **tlog_proof_verify**: a participant checking a receipt: parse the tlog-proof, verify
//!   the log's signature, one witness cosignature and the inclusion proof. Floor: two
//!   Ed25519 verifications and the inclusion hashes.
//! - **batch_proof**, **batch_receipt**: the receipts of a group commit. The last 10,000
//!   entries of the tree were appended with `Log::append_batch_with_proofs`, which keeps
//!   the hashes the append computes; one inclusion proof (or one complete tlog-proof
//!   against the batch's cosigned checkpoint), amortised over the batch. Floor: the
//!   verification floor of the same proof, as for `inclusion_verify`.
//! - **append_with_proofs**: the same 10,000-entry append keeping those hashes, against
//!   the plain append.
//!
//! Proving from tiles reads one tile per level and rehashes up to 255 of its hashes
//! (tiles keep every eighth level of the tree, which is what makes them static files),
//! so proof generation from tiles costs tens of times its verification floor; proofs of
//! the batch just appended cost a fraction of it; verification, which clients and
//! auditors run, stays within a few percent of it.
//!
//! Criterion reports each operation and its floor; then a paired pass alternates batches
//! of each and prints medians and the median ratio. Run: `cargo bench --bench log`.
//! Nothing here asserts a time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use minimis_crypto::SigningKey;
use minimis_log::verify::{consistency_path_len, inclusion_path_len};
use minimis_log::{
    BatchProofs, Checkpoint, ConsistencyProof, Cosigner, Hash, InclusionProof, KeyName, Log,
    LogEntry, MemoryStorage, NoteSigner, SignedCheckpoint, VerifierKey, Witness, leaf_hash,
    verify_tlog_proof,
};
use minimis_proto::{ChallengeId, EpochId, ParticipantTag, RecordId, UnixTime};
use ring::digest::{SHA256, digest};

const TREE: u64 = 1_000_000;
const BATCH: usize = 10_000;
const PROBES: usize = 64;

fn signer() -> NoteSigner {
    NoteSigner::new(
        KeyName::new("log.minimis.example").unwrap(),
        SigningKey::from_seed(&[1; 32]).unwrap(),
    )
}

fn check_in(i: u64) -> Vec<u8> {
    let mut record = [0u8; 32];
    record[..8].copy_from_slice(&i.to_be_bytes());
    LogEntry::CheckInReceived {
        tag: ParticipantTag::from_bytes([(i % 251) as u8; 32]),
        record: RecordId::from_bytes(record),
        challenge: ChallengeId::from_bytes([(i % 241) as u8; 16]),
        epoch: EpochId::new(2_900),
    }
    .encode()
}

struct Setup {
    log: Log<MemoryStorage>,
    log_key: VerifierKey,
    witness_key: VerifierKey,
    batch: Vec<Vec<u8>>,
    /// Leaf index, tree size, entry.
    inclusion: Vec<(u64, u64, Vec<u8>)>,
    inclusion_proofs: Vec<(InclusionProof, Hash, Hash)>,
    /// first, second.
    consistency: Vec<(u64, u64)>,
    consistency_proofs: Vec<(ConsistencyProof, Hash, Hash)>,
    receipt: String,
    receipt_entry: Vec<u8>,
    checkpoint: Checkpoint,
    /// The proofs of the last batch (entries `TREE - BATCH..TREE`).
    batch_proofs: BatchProofs,
}

fn setup() -> Setup {
    let mut log = Log::create(MemoryStorage::new(), signer()).unwrap();
    let log_key = log.verifier_key();
    // Grow the tree in batches, keeping the roots of a few sizes for consistency proofs.
    let mut roots = std::collections::HashMap::new();
    let mut next = 0u64;
    let last = TREE - BATCH as u64;
    while next < last {
        let n = (last - next).min(BATCH as u64 + next % 977);
        let entries: Vec<Vec<u8>> = (next..next + n).map(check_in).collect();
        let b = log.append_batch(&entries).unwrap();
        roots.insert(b.tree_size, *log.checkpoint().checkpoint().root_hash());
        next = b.tree_size;
    }
    // The last batch keeps its proofs: the receipts of a group commit.
    let entries: Vec<Vec<u8>> = (last..TREE).map(check_in).collect();
    let batch_proofs = log.append_batch_with_proofs(&entries).unwrap();
    roots.insert(TREE, *log.checkpoint().checkpoint().root_hash());
    let root = *log.checkpoint().checkpoint().root_hash();
    let cosigner = Cosigner::new(
        KeyName::new("oversight.example/witness").unwrap(),
        SigningKey::from_seed(&[2; 32]).unwrap(),
    );
    let mut witness = Witness::new(cosigner, log_key.clone()).unwrap();
    let witness_key = witness.verifier_key();
    let sig = witness
        .cosign(
            log.checkpoint().to_string().as_bytes(),
            &[],
            UnixTime(1_800_000_000),
        )
        .unwrap();
    log.add_cosignature(sig, &witness_key).unwrap();

    let mut sizes: Vec<u64> = roots.keys().copied().collect();
    sizes.sort_unstable();
    let inclusion: Vec<(u64, u64, Vec<u8>)> = (0..PROBES as u64)
        .map(|i| {
            let index = (i * 15_485_863) % TREE;
            (index, TREE, check_in(index))
        })
        .collect();
    let inclusion_proofs = inclusion
        .iter()
        .map(|(i, n, e)| (log.inclusion_proof(*i, *n).unwrap(), leaf_hash(e), root))
        .collect();
    let consistency: Vec<(u64, u64)> = (0..PROBES)
        .map(|i| (sizes[(i * 7) % (sizes.len() - 1)], TREE))
        .collect();
    let consistency_proofs = consistency
        .iter()
        .map(|&(m, n)| (log.consistency_proof(m, n).unwrap(), roots[&m], roots[&n]))
        .collect();
    let receipt = log.tlog_proof(123_456).unwrap().to_string();
    let checkpoint = log.checkpoint().checkpoint().clone();
    Setup {
        batch: (0..BATCH as u64).map(|i| check_in(TREE + i)).collect(),
        log,
        log_key,
        witness_key,
        inclusion,
        inclusion_proofs,
        consistency,
        consistency_proofs,
        receipt,
        receipt_entry: check_in(123_456),
        checkpoint,
        batch_proofs,
    }
}

/// The SHA-256 work of one inclusion verification, done directly: the leaf hash over
/// `0x00 || entry` and one 65-byte node hash per path element.
fn inclusion_floor(entry: &[u8], path_len: usize) -> u8 {
    let mut leaf = Vec::with_capacity(1 + entry.len());
    leaf.push(0);
    leaf.extend_from_slice(entry);
    let mut acc = digest(&SHA256, &leaf).as_ref()[0];
    let mut node = [1u8; 65];
    for _ in 0..path_len {
        node[1] = acc;
        acc = digest(&SHA256, &node).as_ref()[0];
    }
    acc
}

/// The SHA-256 work of one consistency verification: two node hashes per path element
/// on the inner part, one on the border; bounded above by two per element.
fn consistency_floor(hashes: usize) -> u8 {
    let mut node = [1u8; 65];
    let mut acc = 0;
    for _ in 0..hashes {
        node[1] = acc;
        acc = digest(&SHA256, &node).as_ref()[0];
    }
    acc
}

/// How many node hashes RFC 9162 §2.1.4.2 computes for a proof from `first` to `second`.
fn consistency_hashes(first: u64, second: u64) -> usize {
    // Each path element after the first updates sr, and fr too while LSB(fn) is set or
    // fn equals sn; count by running the algorithm's control flow without hashing.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let len = consistency_path_len(first, second) + usize::from(first.is_power_of_two());
    let mut n = 0;
    for _ in 1..len {
        if fn_ & 1 == 1 || fn_ == sn {
            n += 2;
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            n += 1;
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    n
}

struct Floors {
    ed25519: ring::signature::Ed25519KeyPair,
    public: Vec<u8>,
    body: Vec<u8>,
    signature: Vec<u8>,
    leaf_node: Vec<u8>,
}

impl Floors {
    fn new(s: &Setup) -> Self {
        let ed25519 = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[1; 32]).unwrap();
        let body = s.checkpoint.to_text().into_bytes();
        let signature = ed25519.sign(&body).as_ref().to_vec();
        let public = ring::signature::KeyPair::public_key(&ed25519)
            .as_ref()
            .to_vec();
        Self {
            ed25519,
            public,
            body,
            signature,
            leaf_node: {
                let mut v = vec![0u8];
                v.extend_from_slice(&s.batch[0]);
                v
            },
        }
    }

    fn sign(&self) -> usize {
        self.ed25519.sign(&self.body).as_ref().len()
    }

    fn verify(&self) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.public)
            .verify(&self.body, &self.signature)
            .is_ok()
    }

    /// Per entry appended: one leaf hash, one node hash.
    fn append(&self, entries: usize) -> u8 {
        let node = [1u8; 65];
        let mut acc = 0;
        for _ in 0..entries {
            acc ^= digest(&SHA256, &self.leaf_node).as_ref()[0];
            acc ^= digest(&SHA256, &node).as_ref()[0];
        }
        acc
    }
}

fn fresh_log() -> Log<MemoryStorage> {
    Log::create(MemoryStorage::new(), signer()).unwrap()
}

fn criterion_benches(c: &mut Criterion, s: &Setup, f: &Floors) {
    let mut g = c.benchmark_group("log");
    g.sample_size(20);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));

    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("append_10k", |b| {
        b.iter_batched(
            fresh_log,
            |mut log| {
                log.append_batch(black_box(&s.batch)).unwrap();
                log
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("append_10k_floor", |b| {
        b.iter(|| black_box(f.append(BATCH)) ^ black_box(f.sign() as u8))
    });

    g.throughput(Throughput::Elements(1));
    let signer = signer();
    g.bench_function("checkpoint_sign", |b| {
        b.iter(|| SignedCheckpoint::sign(black_box(s.checkpoint.clone()), &signer).unwrap())
    });
    g.bench_function("checkpoint_sign_floor", |b| b.iter(|| black_box(f.sign())));

    let mut i = 0;
    g.bench_function("inclusion_prove", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (index, size, _) = &s.inclusion[i];
            s.log.inclusion_proof(*index, *size).unwrap()
        })
    });
    g.bench_function("inclusion_verify", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (_, _, entry) = &s.inclusion[i];
            let (proof, _, root) = &s.inclusion_proofs[i];
            // The verifier hashes the entry itself, as the floor does.
            proof.verify(&leaf_hash(black_box(entry)), root).unwrap()
        })
    });
    g.bench_function("inclusion_floor", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (index, size, entry) = &s.inclusion[i];
            black_box(inclusion_floor(entry, inclusion_path_len(*index, *size)))
        })
    });

    g.bench_function("consistency_prove", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (m, n) = s.consistency[i];
            s.log.consistency_proof(m, n).unwrap()
        })
    });
    g.bench_function("consistency_verify", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (proof, r1, r2) = &s.consistency_proofs[i];
            proof.verify(black_box(r1), r2).unwrap()
        })
    });
    g.bench_function("consistency_floor", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            let (m, n) = s.consistency[i];
            black_box(consistency_floor(consistency_hashes(m, n)))
        })
    });

    let witnesses = [s.witness_key.clone()];
    let path = inclusion_path_len(123_456, TREE);
    g.bench_function("tlog_proof_verify", |b| {
        b.iter(|| {
            verify_tlog_proof(
                black_box(s.receipt.as_bytes()),
                &s.receipt_entry,
                &s.log_key,
                &witnesses,
            )
            .unwrap()
        })
    });
    g.bench_function("tlog_proof_verify_floor", |b| {
        b.iter(|| {
            black_box(f.verify());
            black_box(f.verify());
            black_box(inclusion_floor(&s.receipt_entry, path))
        })
    });

    let first = s.batch_proofs.batch().first_index;
    let mut k = 0u64;
    g.bench_function("batch_proof", |b| {
        b.iter(|| {
            k = (k + 1) % BATCH as u64;
            s.batch_proofs
                .inclusion_proof(black_box(first + k))
                .unwrap()
        })
    });
    g.bench_function("batch_proof_floor", |b| {
        b.iter(|| {
            k = (k + 1) % BATCH as u64;
            black_box(inclusion_floor(
                &s.batch[0],
                inclusion_path_len(first + k, TREE),
            ))
        })
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("batch_receipts_10k", |b| {
        b.iter(|| {
            s.batch_proofs
                .tlog_proofs(black_box(s.log.checkpoint()))
                .unwrap()
        })
    });
    g.bench_function("append_10k_with_proofs", |b| {
        b.iter_batched(
            fresh_log,
            |mut log| {
                let p = log.append_batch_with_proofs(black_box(&s.batch)).unwrap();
                (log, p)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Times `n` runs of `f`, in nanoseconds per run.
fn batch(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Alternates batches of the operation and its floor; returns the median ns of each and
/// the median of the per-round ratios.
fn paired(n: u32, rounds: usize, mut op: impl FnMut(), mut floor: impl FnMut()) -> (f64, f64, f64) {
    let (mut ops, mut floors, mut ratios) = (vec![], vec![], vec![]);
    for r in 0..rounds {
        let (a, b) = if r % 2 == 0 {
            let a = batch(n, &mut op);
            (a, batch(n, &mut floor))
        } else {
            let b = batch(n, &mut floor);
            (batch(n, &mut op), b)
        };
        ops.push(a);
        floors.push(b);
        ratios.push(a / b);
    }
    (median(&mut ops), median(&mut floors), median(&mut ratios))
}

fn paired_ratios(s: &Setup, f: &Floors) {
    const ROUNDS: usize = 21;
    println!();
    println!("log: paired medians over {ROUNDS} alternating rounds (operation vs its floor)");
    println!(
        "{:<20} {:>12} {:>12} {:>9}",
        "op", "op (us)", "floor (us)", "ratio"
    );
    let report = |name: &str, (op, floor, ratio): (f64, f64, f64)| {
        println!(
            "{name:<20} {:>12.3} {:>12.3} {:>8.2}x",
            op / 1e3,
            floor / 1e3,
            ratio
        );
    };

    // Appends: a fresh log per round, so the tree never grows past a batch.
    let (mut ops, mut floors, mut ratios) = (vec![], vec![], vec![]);
    for r in 0..ROUNDS {
        let log = fresh_log();
        let run_op = |mut log: Log<MemoryStorage>| {
            let t = Instant::now();
            log.append_batch(&s.batch).unwrap();
            let ns = t.elapsed().as_nanos() as f64;
            drop(black_box(log));
            ns
        };
        let run_floor = || {
            let t = Instant::now();
            black_box(f.append(BATCH));
            black_box(f.sign());
            t.elapsed().as_nanos() as f64
        };
        let (a, b) = if r % 2 == 0 {
            let a = run_op(log);
            (a, run_floor())
        } else {
            let b = run_floor();
            (run_op(log), b)
        };
        ops.push(a);
        floors.push(b);
        ratios.push(a / b);
    }
    let append = (median(&mut ops), median(&mut floors), median(&mut ratios));
    report("append (10k batch)", append);
    println!(
        "{:<20} {:>12.0} entries/s in memory (floor {:.0}/s)",
        "append throughput",
        BATCH as f64 / (append.0 / 1e9),
        BATCH as f64 / (append.1 / 1e9)
    );

    // Appending with the batch's proofs kept, against the plain append: fresh logs.
    let (mut with, mut without, mut ratios) = (vec![], vec![], vec![]);
    for r in 0..ROUNDS {
        let plain = |mut log: Log<MemoryStorage>| {
            let t = Instant::now();
            log.append_batch(&s.batch).unwrap();
            let ns = t.elapsed().as_nanos() as f64;
            drop(black_box(log));
            ns
        };
        let keeping = |mut log: Log<MemoryStorage>| {
            let t = Instant::now();
            let p = log.append_batch_with_proofs(&s.batch).unwrap();
            let ns = t.elapsed().as_nanos() as f64;
            drop(black_box((log, p)));
            ns
        };
        let (a, b) = if r % 2 == 0 {
            let a = keeping(fresh_log());
            (a, plain(fresh_log()))
        } else {
            let b = plain(fresh_log());
            (keeping(fresh_log()), b)
        };
        with.push(a);
        without.push(b);
        ratios.push(a / b);
    }
    println!(
        "{:<20} {:>12.3} {:>12.3} {:>8.2}x   (floor column: the plain append)",
        "append_with_proofs",
        median(&mut with) / 1e3,
        median(&mut without) / 1e3,
        median(&mut ratios)
    );

    let signer = signer();
    report(
        "checkpoint_sign",
        paired(
            200,
            ROUNDS,
            || {
                black_box(SignedCheckpoint::sign(s.checkpoint.clone(), &signer).unwrap());
            },
            || {
                black_box(f.sign());
            },
        ),
    );

    let mut i = 0;
    let mut j = 0;
    report(
        "inclusion_prove",
        paired(
            200,
            ROUNDS,
            || {
                i = (i + 1) % PROBES;
                let (index, size, _) = &s.inclusion[i];
                black_box(s.log.inclusion_proof(*index, *size).unwrap());
            },
            || {
                j = (j + 1) % PROBES;
                let (index, size, entry) = &s.inclusion[j];
                black_box(inclusion_floor(entry, inclusion_path_len(*index, *size)));
            },
        ),
    );
    report(
        "inclusion_verify",
        paired(
            2_000,
            ROUNDS,
            || {
                i = (i + 1) % PROBES;
                let (index, _, entry) = &s.inclusion[i];
                let (proof, _, root) = &s.inclusion_proofs[i];
                debug_assert_eq!(proof.leaf_index, *index);
                // The verifier hashes the entry itself.
                proof.verify(&leaf_hash(black_box(entry)), root).unwrap();
            },
            || {
                j = (j + 1) % PROBES;
                let (index, size, entry) = &s.inclusion[j];
                black_box(inclusion_floor(entry, inclusion_path_len(*index, *size)));
            },
        ),
    );
    report(
        "consistency_prove",
        paired(
            200,
            ROUNDS,
            || {
                i = (i + 1) % PROBES;
                let (m, n) = s.consistency[i];
                black_box(s.log.consistency_proof(m, n).unwrap());
            },
            || {
                j = (j + 1) % PROBES;
                let (m, n) = s.consistency[j];
                black_box(consistency_floor(consistency_hashes(m, n)));
            },
        ),
    );
    report(
        "consistency_verify",
        paired(
            2_000,
            ROUNDS,
            || {
                i = (i + 1) % PROBES;
                let (proof, r1, r2) = &s.consistency_proofs[i];
                proof.verify(black_box(r1), r2).unwrap();
            },
            || {
                j = (j + 1) % PROBES;
                let (m, n) = s.consistency[j];
                black_box(consistency_floor(consistency_hashes(m, n)));
            },
        ),
    );
    let witnesses = [s.witness_key.clone()];
    let path = inclusion_path_len(123_456, TREE);
    report(
        "tlog_proof_verify",
        paired(
            200,
            ROUNDS,
            || {
                black_box(
                    verify_tlog_proof(
                        s.receipt.as_bytes(),
                        &s.receipt_entry,
                        &s.log_key,
                        &witnesses,
                    )
                    .unwrap(),
                );
            },
            || {
                black_box(f.verify());
                black_box(f.verify());
                black_box(inclusion_floor(&s.receipt_entry, path));
            },
        ),
    );
}

/// Medians of an operation and its floor, and of their ratio.
type Paired = (f64, f64, f64);

/// Every proof of the batch, then every receipt, against the verification floor of the
/// same proofs: per proof, amortised over the batch.
fn batch_ratios(s: &Setup, report: &dyn Fn(&str, Paired)) {
    const ROUNDS: usize = 21;
    let first = s.batch_proofs.batch().first_index;
    let floor_all = || {
        for k in 0..BATCH as u64 {
            black_box(inclusion_floor(
                &s.batch[0],
                inclusion_path_len(first + k, TREE),
            ));
        }
    };
    let per =
        |(op, floor, ratio): (f64, f64, f64)| (op / BATCH as f64, floor / BATCH as f64, ratio);
    report(
        "batch_proof",
        per(paired(
            1,
            ROUNDS,
            || {
                for p in s.batch_proofs.inclusion_proofs() {
                    black_box(p);
                }
            },
            floor_all,
        )),
    );
    report(
        "batch_receipt",
        per(paired(
            1,
            ROUNDS,
            || {
                black_box(s.batch_proofs.tlog_proofs(s.log.checkpoint()).unwrap());
            },
            floor_all,
        )),
    );
}

fn main() {
    let t = Instant::now();
    let s = setup();
    println!(
        "log: built a tree of {TREE} entries in {:.2} s ({:.0} entries/s, batches of ~{BATCH})",
        t.elapsed().as_secs_f64(),
        TREE as f64 / t.elapsed().as_secs_f64()
    );
    let f = Floors::new(&s);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &s, &f);
    c.final_summary();
    paired_ratios(&s, &f);
    batch_ratios(&s, &|name, (op, floor, ratio)| {
        println!(
            "{name:<20} {:>12.3} {:>12.3} {:>8.2}x   (per proof, amortised over {BATCH})",
            op / 1e3,
            floor / 1e3,
            ratio
        );
    });
}
