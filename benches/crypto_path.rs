//! The crypto path of one check-in against the floor of the primitives it is made of,
//! measured in the same run (issue: foundation, goals seal ≤ 1.15×, verify ≤ 1.2×,
//! open ≤ 1.2× their floors).
//!
//! - **seal**: encode and pad the payload, two age layers, the device's Ed25519 signature.
//!   Floor: per layer one X25519 base-point multiplication and one Diffie-Hellman (with
//!   x25519-dalek, the implementation age uses), one HKDF-SHA-256 and ChaCha20-Poly1305
//!   over the layer's payload; plus one Ed25519 signature (ring) over the signing input.
//! - **verify**: what the operator does: the length bound and the device signature.
//!   Floor: one Ed25519 verification (ring) over the same signing input.
//! - **open**: both layers. Floor: per layer the same primitives as sealing (age computes
//!   the identity's public key, one base-point multiplication, to salt its HKDF).
//!
//! Criterion reports each operation and its floor; then a paired pass alternates batches
//! of the operation and its floor, so that both see the same machine state, and prints
//! the median ratio. Run: `cargo bench --bench crypto_path`. Nothing here asserts a time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead as _, KeyInit as _};
use criterion::{BatchSize, Criterion};
use minimis_crypto::{SigningKey, verify_envelope};
use minimis_proto::{CiphertextBounds, Envelope, EpochId, PublicKey};
use minimis_seal::{SealingKeys, open, seal_envelope};
use minimis_testkit::{NOW, World};

struct Setup {
    world: World,
    epoch: EpochId,
    keys: SealingKeys,
    device: SigningKey,
    device_public: PublicKey,
    payload: minimis_proto::CheckInPayload,
    envelope: Envelope,
    inner_len: usize,
    bounds: CiphertextBounds,
}

fn setup() -> Setup {
    let world = World::keyed_at(NOW, 0);
    let epoch = world.now_epoch();
    let keys = world.sealing_keys(NOW);
    let p = world.participant();
    let payload = minimis_testkit::payload(
        minimis_proto::ChallengeId::from_bytes([7; 16]),
        minimis_proto::ZoneResult::Inside,
        "running late",
    );
    let envelope = seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap();
    let o = world.oversight.as_ref().unwrap().identity(epoch).unwrap();
    let inner_len = minimis_seal::remove_outer(&envelope.ciphertext, o)
        .unwrap()
        .as_bytes()
        .len();
    Setup {
        bounds: keys.bounds(),
        world,
        epoch,
        keys,
        device_public: p.device.public_key(),
        device: p.device,
        payload,
        envelope,
        inner_len,
    }
}

/// The primitives of one age X25519 layer, called directly: base-point multiplication,
/// Diffie-Hellman, HKDF-SHA-256, ChaCha20-Poly1305 over `len` bytes.
struct LayerFloor {
    secret: x25519_dalek::StaticSecret,
    peer: x25519_dalek::PublicKey,
    plaintext: Vec<u8>,
}

impl LayerFloor {
    fn new(len: usize) -> Self {
        let secret = x25519_dalek::StaticSecret::from([0x42; 32]);
        let peer = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([0x24; 32]));
        Self {
            secret,
            peer,
            plaintext: vec![0x5a; len],
        }
    }

    fn run(&self) -> usize {
        let public = x25519_dalek::PublicKey::from(&self.secret);
        let shared = self.secret.diffie_hellman(&self.peer);
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(public.as_bytes());
        salt[32..].copy_from_slice(self.peer.as_bytes());
        let mut key = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), shared.as_bytes())
            .expand(b"age-encryption.org/v1/X25519", &mut key)
            .unwrap();
        let aead = ChaCha20Poly1305::new(&key.into());
        aead.encrypt(&[0u8; 12].into(), self.plaintext.as_slice())
            .unwrap()
            .len()
    }
}

struct Floors {
    inner: LayerFloor,
    outer: LayerFloor,
    signer: ring::signature::Ed25519KeyPair,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    public: Vec<u8>,
}

impl Floors {
    fn new(s: &Setup) -> Self {
        let signer = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
        let signing_input = s.envelope.signing_input();
        let signature = signer.sign(&signing_input).as_ref().to_vec();
        let public = ring::signature::KeyPair::public_key(&signer)
            .as_ref()
            .to_vec();
        Self {
            inner: LayerFloor::new(minimis_proto::payload::PAYLOAD_LEN),
            outer: LayerFloor::new(s.inner_len),
            signer,
            signing_input,
            signature,
            public,
        }
    }

    fn sign(&self) -> usize {
        self.signer.sign(&self.signing_input).as_ref().len()
    }

    fn verify(&self) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.public)
            .verify(&self.signing_input, &self.signature)
            .is_ok()
    }

    fn seal(&self) -> usize {
        self.inner.run() + self.outer.run() + self.sign()
    }

    fn open(&self) -> usize {
        self.inner.run() + self.outer.run()
    }
}

fn criterion_benches(c: &mut Criterion, s: &Setup, f: &Floors) {
    let mut g = c.benchmark_group("crypto_path");
    g.sample_size(60);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("seal", |b| {
        b.iter(|| {
            seal_envelope(
                black_box(&s.payload),
                &s.keys,
                s.envelope.pseudonym,
                &s.device,
            )
            .unwrap()
        })
    });
    g.bench_function("seal_floor", |b| b.iter(|| black_box(f.seal())));
    g.bench_function("verify", |b| {
        b.iter_batched(
            || s.envelope.clone(),
            |e| verify_envelope(e, &s.device_public, s.bounds).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("verify_floor", |b| b.iter(|| black_box(f.verify())));
    let agency = &s.world.agency;
    let oversight = s.world.oversight.as_ref();
    g.bench_function("open", |b| {
        b.iter(|| {
            open(
                black_box(&s.envelope.ciphertext),
                s.epoch,
                agency,
                oversight,
                280,
            )
            .unwrap()
        })
    });
    g.bench_function("open_floor", |b| b.iter(|| black_box(f.open())));
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

/// Alternates batches of the operation and its floor; returns median ns of each and the
/// median of the per-round ratios.
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
    const ROUNDS: usize = 41;
    println!();
    println!(
        "crypto_path: paired medians over {ROUNDS} alternating rounds (operation vs its floor)"
    );
    println!(
        "{:<8} {:>12} {:>12} {:>8} {:>6}",
        "op", "op (us)", "floor (us)", "ratio", "goal"
    );
    let report = |name: &str, (op, floor, ratio): (f64, f64, f64), goal: f64| {
        println!(
            "{name:<8} {:>12.1} {:>12.1} {:>7.3}x {:>5.2}x",
            op / 1e3,
            floor / 1e3,
            ratio,
            goal
        );
    };
    let seal = paired(
        100,
        ROUNDS,
        || {
            black_box(seal_envelope(&s.payload, &s.keys, s.envelope.pseudonym, &s.device).unwrap());
        },
        || {
            black_box(f.seal());
        },
    );
    report("seal", seal, 1.15);

    const N: u32 = 300;
    let verify = {
        let (mut ops, mut floors, mut ratios) = (vec![], vec![], vec![]);
        for r in 0..ROUNDS {
            let inputs: Vec<Envelope> = (0..N).map(|_| s.envelope.clone()).collect();
            let run_op = |inputs: Vec<Envelope>| {
                let t = Instant::now();
                for e in inputs {
                    black_box(verify_envelope(e, &s.device_public, s.bounds).unwrap());
                }
                t.elapsed().as_nanos() as f64 / f64::from(N)
            };
            let run_floor = || {
                batch(N, || {
                    black_box(f.verify());
                })
            };
            let (a, b) = if r % 2 == 0 {
                let a = run_op(inputs);
                (a, run_floor())
            } else {
                let b = run_floor();
                (run_op(inputs), b)
            };
            ops.push(a);
            floors.push(b);
            ratios.push(a / b);
        }
        (median(&mut ops), median(&mut floors), median(&mut ratios))
    };
    report("verify", verify, 1.2);

    let agency = &s.world.agency;
    let oversight = s.world.oversight.as_ref();
    let open_r = paired(
        100,
        ROUNDS,
        || {
            black_box(open(&s.envelope.ciphertext, s.epoch, agency, oversight, 280).unwrap());
        },
        || {
            black_box(f.open());
        },
    );
    report("open", open_r, 1.2);
}

fn main() {
    let s = setup();
    let f = Floors::new(&s);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &s, &f);
    c.final_summary();
    paired_ratios(&s, &f);
}
