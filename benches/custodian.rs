//! The key custodians: what retention costs, and how fast content is opened through
//! both custodians (issue 6). Run: `cargo bench --bench custodian`. Nothing here asserts
//! a time.
//!
//! - **destroy/N**: a custodian destroying the identity of an epoch that sealed N
//!   check-ins, N = 1,000 and 1,000,000: the tombstone written and synced, the identity
//!   zeroized, its file overwritten, synced, unlinked and the directory synced
//!   (`Keystore::destroy_epoch`, **RET-8**). The records are real: 1,000 distinct
//!   two-layer check-ins sealed to this very identity, and for N = 1,000,000 each of them
//!   stored 1,000 times under distinct record ids (sealing a million takes minutes and
//!   changes nothing the destruction touches). Each iteration destroys a fresh copy of
//!   the same keystore (a benchmark fixture: a deployment never copies a keystore,
//!   RET-4); the setup checks that the first and last records of the table open before,
//!   and not after.
//! - **purge/N**: the operator's row purge of the same N records, measured in the same
//!   run: the server's schema (`records` with its epoch index, `holds`), WAL mode,
//!   `synchronous = FULL`, and the server's purge in one transaction: select the
//!   epoch's record ids not under a hold, delete each, hash the record set (LOG-30),
//!   commit. Each iteration starts from a fresh copy of the table (not timed).
//! - **access/K**: an officer's request for K records (K = 1 and 100) through both
//!   custodians, in one process: the agency custodian's checks (policy, caseload file),
//!   its case book entry (synced), its `content accessed` entry appended and its proof
//!   verified, the oversight custodian's verification of that proof, its own entry and
//!   proof, the outer layer removed, the inner layer opened. Each log batch is cosigned
//!   by the oversight custodian's witness (which syncs its state before it answers)
//!   before the proof is returned. Floor: the two age layers opened directly with the
//!   same identities (`remove_outer`, `open_inner`), per record.
//!
//! A paired pass then prints the medians, destroy(1,000,000) / destroy(1,000), and
//! purge(N) / destroy(N). Set `MINIMIS_BENCH_RECORDS` to change the largest N.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use minimis_crypto::{SigningKey, TagKey};
use minimis_custodian::keystore::{Keystore, KeystoreSecret, Protection, WorkFactor};
use minimis_custodian::protocol::AccessRequest;
use minimis_custodian::{InProcessDeployment, ManualClock};
use minimis_log::entry::{OfficerId, RecordSetHash};
use minimis_proto::*;
use minimis_seal::{CustodianKeys, SealingKeys};
use zeroize::Zeroizing;

/// Thursday 2026-11-26T16:00:00Z.
const NOW: UnixTime = UnixTime(1_795_708_800);
const DISTINCT: usize = 1_000;

fn secret() -> Protection {
    Protection::File {
        secret: KeystoreSecret::Passphrase(Zeroizing::new("benchmark keystore secret".into())),
        work: WorkFactor::below_floor_for_tests(10),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn payload(i: usize) -> CheckInPayload {
    let mut c = [0u8; 16];
    c[..8].copy_from_slice(&(i as u64).to_be_bytes());
    CheckInPayload {
        challenge_id: ChallengeId::from_bytes(c),
        zone: ZoneResult::Inside,
        presence: PresenceResult::Confirmed,
        device_time: NOW,
        note: Note::empty(),
    }
}

/// Two keystores with an identity for the epoch, and 1,000 check-ins sealed to them.
struct Sealed {
    dir: tempfile::TempDir,
    epoch: EpochId,
    ciphertexts: Vec<Vec<u8>>,
}

fn keystore(dir: &Path, role: CustodianRole) -> Keystore {
    Keystore::open_or_create(dir, &secret(), role, role.as_str()).unwrap()
}

fn sealed() -> Sealed {
    let dir = tempfile::tempdir().unwrap();
    let policy = default_policy();
    let epoch = policy.epoch_at(NOW).unwrap();
    let mut a = keystore(&dir.path().join("agency"), CustodianRole::Agency);
    let mut o = keystore(&dir.path().join("oversight"), CustodianRole::Oversight);
    a.generate_epoch(epoch).unwrap();
    o.generate_epoch(epoch).unwrap();
    let not_after = policy.epoch_end(epoch);
    let published = [
        a.keyring()
            .publish(epoch, not_after, a.signing_key())
            .unwrap(),
        o.keyring()
            .publish(epoch, not_after, o.signing_key())
            .unwrap(),
    ];
    let keys = SealingKeys::verify(
        &policy,
        NOW,
        &published,
        &CustodianKeys {
            agency: a.signing_key().public_key(),
            oversight: Some(o.signing_key().public_key()),
        },
    )
    .unwrap();
    let ciphertexts = (0..DISTINCT)
        .map(|i| {
            minimis_seal::seal(&payload(i), &keys)
                .unwrap()
                .as_bytes()
                .to_vec()
        })
        .collect();
    Sealed {
        dir,
        epoch,
        ciphertexts,
    }
}

fn opens(s: &Sealed, agency: &Path, ciphertext: &[u8]) -> bool {
    let a = keystore(agency, CustodianRole::Agency);
    let o = keystore(&s.dir.path().join("oversight"), CustodianRole::Oversight);
    let sealed = SealedCheckIn::new(ciphertext.to_vec(), CiphertextBounds::for_layers(2)).unwrap();
    minimis_seal::open(&sealed, s.epoch, a.keyring(), Some(o.keyring()), 280).is_ok()
}

// ---- the operator's table -------------------------------------------------------------

const SCHEMA: &str = "
CREATE TABLE records (
  record_id BLOB NOT NULL UNIQUE,
  pseudonym BLOB NOT NULL,
  challenge_id BLOB NOT NULL UNIQUE,
  epoch INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,
  signature BLOB NOT NULL,
  log_index INTEGER NOT NULL
) STRICT;
CREATE INDEX records_by_epoch ON records(epoch);
CREATE TABLE holds (record_id BLOB NOT NULL, until INTEGER NOT NULL) STRICT;
";

fn open_db(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn
}

/// A table of `n` records of the epoch (record `i` holding sealed check-in `i mod
/// 1,000`) and 1,000 of the next epoch, checkpointed into the database file.
fn table(s: &Sealed, n: usize, path: &Path) {
    let mut conn = open_db(path);
    conn.execute_batch(SCHEMA).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .unwrap();
        for i in 0..n + DISTINCT {
            let (epoch, idx) = if i < n {
                (s.epoch.get(), i)
            } else {
                (s.epoch.get() + 1, i)
            };
            let id = minimis_crypto::sha256(&(idx as u64).to_be_bytes());
            let challenge = &minimis_crypto::sha256(&id)[..16];
            ins.execute(rusqlite::params![
                id.as_slice(),
                &id[..16],
                challenge,
                i64::from(epoch),
                s.ciphertexts[i % DISTINCT].as_slice(),
                [0u8; 64].as_slice(),
                i as i64
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

/// The server's purge of an epoch, in one transaction: the number of records purged.
fn purge(conn: &mut rusqlite::Connection, epoch: EpochId) -> u64 {
    let tx = conn.transaction().unwrap();
    let ids: Vec<RecordId> = {
        let mut st = tx
            .prepare_cached(
                "SELECT record_id FROM records WHERE epoch = ?1 AND record_id NOT IN \
                 (SELECT record_id FROM holds WHERE until > ?2) ORDER BY record_id",
            )
            .unwrap();
        st.query_map(
            rusqlite::params![i64::from(epoch.get()), NOW.seconds()],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .unwrap()
        .map(|r| RecordId::from_bytes(r.unwrap().try_into().unwrap()))
        .collect()
    };
    {
        let mut del = tx
            .prepare_cached("DELETE FROM records WHERE record_id = ?1")
            .unwrap();
        for id in &ids {
            del.execute([id.as_bytes().as_slice()]).unwrap();
        }
    }
    let (count, _hash) = RecordSetHash::of(&ids);
    tx.commit().unwrap();
    count
}

fn fresh_copy(template: &Path, into: &Path) -> rusqlite::Connection {
    let _ = std::fs::remove_file(into);
    let _ = std::fs::remove_file(into.with_extension("sqlite3-wal"));
    std::fs::copy(template, into).unwrap();
    open_db(into)
}

// ---- access through both custodians --------------------------------------------------

struct Access {
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    d: InProcessDeployment,
    records: Vec<RecordId>,
    ciphertexts: Vec<Vec<u8>>,
    epoch: EpochId,
}

fn access_setup() -> Access {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = rt
        .block_on(InProcessDeployment::open(
            dir.path(),
            default_policy(),
            ManualClock::new(NOW),
            |_| {},
        ))
        .unwrap();
    let epoch = default_policy().epoch_at(NOW).unwrap();
    let people: Vec<Pseudonym> = (0..10u8).map(|i| Pseudonym::from_bytes([i; 16])).collect();
    d.set_caseload(&[("officer-1", &people)]).unwrap();
    let device = SigningKey::generate().unwrap();
    let tags = TagKey::generate().unwrap();
    let keys = d.sealing_keys(NOW).unwrap();
    let mut records = Vec::new();
    let mut ciphertexts = Vec::new();
    for i in 0..DISTINCT {
        let p = people[i % people.len()];
        let env = minimis_seal::seal_envelope(&payload(i), &keys, p, &device).unwrap();
        ciphertexts.push(env.ciphertext.as_bytes().to_vec());
        records.push(d.operator.store(&env, tags.tag(&p, epoch)).unwrap());
    }
    Access {
        _dir: dir,
        rt,
        d,
        records,
        ciphertexts,
        epoch,
    }
}

impl Access {
    fn request(&self, records: &[RecordId]) -> usize {
        let req = AccessRequest {
            records: records.iter().map(ToString::to_string).collect(),
            purpose: "compliance-review".into(),
            legal_basis: "release-conditions".into(),
            case_reference: "BENCH-1".into(),
        };
        let officer = OfficerId::new("officer-1").unwrap();
        self.rt
            .block_on(self.d.agency.access(&officer, req))
            .unwrap()
            .records
            .len()
    }

    fn floor(&self, ciphertext: &[u8]) -> usize {
        let oversight = self.d.oversight.as_ref().unwrap();
        let sealed =
            SealedCheckIn::new(ciphertext.to_vec(), CiphertextBounds::for_layers(2)).unwrap();
        let inner = oversight
            .with_keystore(|k| minimis_seal::remove_outer(&sealed, k.epoch(self.epoch).unwrap()))
            .unwrap()
            .unwrap();
        self.d
            .agency
            .with_keystore(|k| {
                minimis_seal::open_inner(inner.as_bytes(), k.epoch(self.epoch).unwrap(), 280)
            })
            .unwrap()
            .unwrap()
            .note
            .len()
    }
}

// ---- main --------------------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let largest: usize = std::env::var("MINIMIS_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sizes = [DISTINCT, largest];
    let t = Instant::now();
    let s = sealed();
    let work = tempfile::tempdir().unwrap();
    let mut templates: Vec<(usize, PathBuf)> = Vec::new();
    for &n in &sizes {
        let path = work.path().join(format!("template-{n}.sqlite3"));
        table(&s, n, &path);
        // The first and last records of the table open with the keystores' keys.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for idx in [0, n - 1] {
            let c: Vec<u8> = conn
                .query_row(
                    "SELECT ciphertext FROM records WHERE log_index = ?1",
                    [idx as i64],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(opens(&s, &s.dir.path().join("agency"), &c));
        }
        templates.push((n, path));
    }
    println!(
        "custodian: sealed {DISTINCT} check-ins and built tables of {sizes:?} records in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let destroy_once = || -> Duration {
        let d = tempfile::tempdir().unwrap();
        let ks_dir = d.path().join("agency");
        copy_dir(&s.dir.path().join("agency"), &ks_dir);
        let mut ks = keystore(&ks_dir, CustodianRole::Agency);
        let start = Instant::now();
        black_box(ks.destroy_epoch(s.epoch, NOW).unwrap());
        start.elapsed()
    };
    // Once, outside the measurements: a destroyed copy opens nothing.
    {
        let d = tempfile::tempdir().unwrap();
        let ks_dir = d.path().join("agency");
        copy_dir(&s.dir.path().join("agency"), &ks_dir);
        keystore(&ks_dir, CustodianRole::Agency)
            .destroy_epoch(s.epoch, NOW)
            .unwrap();
        assert!(!opens(&s, &ks_dir, &s.ciphertexts[0]));
        assert!(!opens(&s, &ks_dir, &s.ciphertexts[DISTINCT - 1]));
    }

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("retention");
        g.sampling_mode(SamplingMode::Flat).sample_size(10);
        for (n, template) in &templates {
            g.bench_function(format!("destroy/{n}"), |b| {
                b.iter_batched(
                    || {
                        let d = tempfile::tempdir().unwrap();
                        let ks_dir = d.path().join("agency");
                        copy_dir(&s.dir.path().join("agency"), &ks_dir);
                        (d, keystore(&ks_dir, CustodianRole::Agency))
                    },
                    |(d, mut ks)| {
                        black_box(ks.destroy_epoch(s.epoch, NOW).unwrap());
                        d
                    },
                    BatchSize::PerIteration,
                );
            });
            let db = work.path().join(format!("purge-{n}.sqlite3"));
            g.bench_function(format!("purge/{n}"), |b| {
                b.iter_batched(
                    || fresh_copy(template, &db),
                    |mut conn| {
                        assert_eq!(purge(&mut conn, s.epoch), *n as u64);
                        conn
                    },
                    BatchSize::PerIteration,
                );
            });
        }
        g.finish();
    }
    let a = access_setup();
    {
        let mut g = c.benchmark_group("access");
        let mut i = 0usize;
        g.throughput(Throughput::Elements(1));
        g.bench_function("access/1", |b| {
            b.iter(|| {
                i = (i + 1) % DISTINCT;
                black_box(a.request(&a.records[i..=i]))
            });
        });
        g.bench_function("floor/1", |b| {
            b.iter(|| {
                i = (i + 1) % DISTINCT;
                black_box(a.floor(&a.ciphertexts[i]))
            });
        });
        g.throughput(Throughput::Elements(100));
        g.sample_size(20);
        g.bench_function("access/100", |b| {
            b.iter(|| {
                i = (i + 100) % (DISTINCT - 100);
                black_box(a.request(&a.records[i..i + 100]))
            });
        });
        g.finish();
    }
    c.final_summary();

    // The paired pass: medians of the same operations, alternated.
    let rounds = 9;
    let mut destroy: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut purged: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    for _ in 0..rounds {
        for (k, (n, template)) in templates.iter().enumerate() {
            destroy[k].push(destroy_once().as_secs_f64());
            let db = work.path().join(format!("paired-{n}.sqlite3"));
            let mut conn = fresh_copy(template, &db);
            let start = Instant::now();
            black_box(purge(&mut conn, s.epoch));
            purged[k].push(start.elapsed().as_secs_f64());
        }
    }
    println!("\nretention, paired medians of {rounds} rounds:");
    println!(
        "{:>12} {:>14} {:>14} {:>14}",
        "records", "destroy (ms)", "purge (ms)", "purge/destroy"
    );
    let dm: Vec<f64> = destroy.into_iter().map(median).collect();
    let pm: Vec<f64> = purged.into_iter().map(median).collect();
    for (k, n) in sizes.iter().enumerate() {
        println!(
            "{n:>12} {:>14.3} {:>14.3} {:>13.0}x",
            dm[k] * 1e3,
            pm[k] * 1e3,
            pm[k] / dm[k]
        );
    }
    println!(
        "destroy({}) / destroy({}) = {:.2}",
        sizes[1],
        sizes[0],
        dm[1] / dm[0]
    );
    let mut one = Vec::new();
    let mut hundred = Vec::new();
    let mut floor = Vec::new();
    let mut i = 0usize;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..20 {
            i = (i + 1) % DISTINCT;
            black_box(a.request(&a.records[i..=i]));
        }
        one.push(20.0 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        i = (i + 100) % (DISTINCT - 100);
        black_box(a.request(&a.records[i..i + 100]));
        hundred.push(100.0 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..100 {
            i = (i + 1) % DISTINCT;
            black_box(a.floor(&a.ciphertexts[i]));
        }
        floor.push(100.0 / start.elapsed().as_secs_f64());
    }
    println!("\naccess through both custodians, in process, paired medians of {rounds} rounds:");
    println!("  requests of 1 record:    {:>9.0} records/s", median(one));
    println!(
        "  requests of 100 records: {:>9.0} records/s",
        median(hundred)
    );
    println!(
        "  floor (two age layers):  {:>9.0} records/s",
        median(floor)
    );
}
