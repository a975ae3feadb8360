//! A full audit of a log of about 1,000,000 realistic entries against the SHA-256 floor
//! of the same log, measured in the same run (issue 4: auditing one million entries in
//! 10 s or less).
//!
//! - **audit_1m**: `Auditor::audit` over the log in memory: the checkpoint's signature
//!   and cosignature (AUD-1), every entry against its leaf and every tile against the
//!   tiles below and the root (AUD-3), every entry decoded and run through every policy
//!   check (AUD-4 to AUD-9) and the counts (AUD-7). The history is
//!   `synthetic::Params::million()`: 1,150 participants over 31 weekly epochs,
//!   challenges, check-ins, ad-hoc challenges, accesses, refusals, legal holds, purges
//!   and destructions under the reference policy; every claim holds.
//! - **floor**: SHA-256 of every entry once (`0x00 || entry`) and of every internal node
//!   of the tree once (`n - 1` hashes of 65 bytes), with ring called directly: the
//!   hashing no verification of every entry can avoid.
//! - **audit_1m_from_dir**: the same audit of the log exported as a tlog-tiles directory
//!   (read from the file system, page cache warm), including reading and parsing the
//!   export layout.
//!
//! - **audit_adversarial_challenges**: the audit of a log made to be expensive
//!   (AUD-32): 1,000,000 challenges to one participant in one epoch, each in a window
//!   occurrence of its own (`synthetic::Adversarial::Challenges`), where a check that
//!   scans the participant-epoch's windows for each challenge is quadratic.
//! - **audit_adversarial_holds**: 333,333 check-ins of one epoch, all on legal hold, and
//!   333,333 purges of that epoch (`synthetic::Adversarial::Holds`), where a purge that
//!   rescans the records it leaves is quadratic.
//!
//! Criterion reports each; a paired pass then alternates rounds of the audit and its
//! floor and prints the medians and the median ratio, and the adversarial audits beside
//! the honest one, per entry. Run: `cargo bench --bench audit`. Nothing here asserts a
//! time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use minimis_audit::synthetic::{Adversarial, History, Params, SignedLog};
use minimis_audit::{Auditor, DirKeys, ExportDir, LogSource as _, Report, write_export};
use minimis_log::MemoryStorage;
use ring::digest::{Context, SHA256, digest};

struct Setup {
    history: History,
    log: SignedLog,
    encoded: Vec<Vec<u8>>,
    dir: tempfile::TempDir,
    adversarial: Vec<(&'static str, History, SignedLog)>,
}

fn auditor(s: &Setup) -> Auditor {
    Auditor::new(s.log.log_key.clone(), s.history.now)
        .witness(s.log.witness_key.clone())
        .policy(s.history.policy.clone())
}

fn audit(s: &Setup, storage: MemoryStorage) -> u64 {
    let report = auditor(s).audit(storage, None).unwrap();
    assert!(report.holds());
    report.counts().entries
}

/// An audit of an adversarial log: it verifies, and reports the violations it was made
/// with (the challenge caps) or none (the holds).
fn audit_adversarial(h: &History, log: &SignedLog) -> u64 {
    let report: Report = Auditor::new(log.log_key.clone(), h.now)
        .witness(log.witness_key.clone())
        .policy(h.policy.clone())
        .audit(log.storage(), None)
        .unwrap();
    report.counts().entries
}

fn audit_dir(s: &Setup) -> u64 {
    let export = ExportDir::read(s.dir.path(), DirKeys::Trust).unwrap();
    let storage = export.source().fetch().unwrap();
    let mut a = Auditor::new(export.log_key.clone().unwrap(), s.history.now);
    for w in export.witnesses.clone().unwrap() {
        a = a.witness(w);
    }
    let report = a
        .policy(export.policy.clone().unwrap())
        .audit(storage, None)
        .unwrap();
    assert!(report.holds());
    report.counts().entries
}

/// Every entry's leaf hash and every internal node's hash, once.
fn floor(encoded: &[Vec<u8>]) -> u8 {
    let mut acc = 0u8;
    for e in encoded {
        let mut ctx = Context::new(&SHA256);
        ctx.update(&[0]);
        ctx.update(e);
        acc ^= ctx.finish().as_ref()[0];
    }
    let mut node = [1u8; 65];
    for _ in 1..encoded.len() {
        node[1] = acc;
        acc ^= digest(&SHA256, &node).as_ref()[0];
    }
    acc
}

fn setup() -> Setup {
    let t = Instant::now();
    let history = History::generate(&Params::million());
    let generated = t.elapsed();
    let t = Instant::now();
    let log = SignedLog::build(&history.entries, 10_000);
    let built = t.elapsed();
    let encoded: Vec<Vec<u8>> = history.entries.iter().map(|e| e.encode()).collect();
    let dir = tempfile::tempdir().unwrap();
    write_export(
        dir.path(),
        &log.log,
        std::slice::from_ref(&log.witness_key),
        minimis_proto::DEFAULT_POLICY_TOML,
    )
    .unwrap();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    println!(
        "audit: {} entries ({:.1} MB encoded, {:.1} bytes each on average); generated in {:.2} s, appended and cosigned in {:.2} s",
        encoded.len(),
        bytes as f64 / 1e6,
        bytes as f64 / encoded.len() as f64,
        generated.as_secs_f64(),
        built.as_secs_f64()
    );
    let adversarial = [
        ("challenges", Adversarial::Challenges(1_000_000)),
        ("holds", Adversarial::Holds(333_333)),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let h = History::adversarial(kind);
        let log = SignedLog::build(&h.entries, 10_000);
        println!(
            "audit: adversarial log `{name}`: {} entries",
            h.entries.len()
        );
        (name, h, log)
    })
    .collect();
    Setup {
        history,
        log,
        encoded,
        dir,
        adversarial,
    }
}

fn criterion_benches(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("audit_1m", |b| {
        b.iter_batched(
            || s.log.storage(),
            |storage| black_box(audit(s, storage)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("audit_1m_floor", |b| {
        b.iter(|| black_box(floor(&s.encoded)))
    });
    g.bench_function("audit_1m_from_dir", |b| b.iter(|| black_box(audit_dir(s))));
    for (name, h, log) in &s.adversarial {
        g.bench_function(format!("audit_adversarial_{name}"), |b| {
            b.iter(|| black_box(audit_adversarial(h, log)))
        });
    }
    g.finish();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn paired(s: &Setup) {
    const ROUNDS: usize = 7;
    let (mut ops, mut floors, mut ratios, mut dirs) = (vec![], vec![], vec![], vec![]);
    for r in 0..ROUNDS {
        let storage = s.log.storage();
        let run_audit = |storage| {
            let t = Instant::now();
            black_box(audit(s, storage));
            t.elapsed().as_secs_f64()
        };
        let run_floor = || {
            let t = Instant::now();
            black_box(floor(&s.encoded));
            t.elapsed().as_secs_f64()
        };
        let (a, b) = if r % 2 == 0 {
            let a = run_audit(storage);
            (a, run_floor())
        } else {
            let b = run_floor();
            (run_audit(storage), b)
        };
        ops.push(a);
        floors.push(b);
        ratios.push(a / b);
        let t = Instant::now();
        black_box(audit_dir(s));
        dirs.push(t.elapsed().as_secs_f64());
    }
    let n = s.encoded.len() as f64;
    let (op, fl, ratio, dir) = (
        median(&mut ops),
        median(&mut floors),
        median(&mut ratios),
        median(&mut dirs),
    );
    println!();
    println!("audit: paired medians over {ROUNDS} alternating rounds (operation vs its floor)");
    println!(
        "{:<26} {:>10} {:>10} {:>9}",
        "op", "op (s)", "floor (s)", "ratio"
    );
    println!(
        "{:<26} {op:>10.3} {fl:>10.3} {ratio:>8.2}x",
        "audit (in memory)"
    );
    println!(
        "{:<26} {dir:>10.3} {fl:>10.3} {:>8.2}x",
        "audit (from a directory)",
        dir / fl
    );
    println!(
        "{:<26} {:>10.0} entries/s (floor {:.0}/s); goal: 1,000,000 in 10 s or less",
        "audit throughput",
        n / op,
        n / fl
    );
    // AUD-32: the adversarial logs beside the honest one, per entry, in the same run.
    println!();
    println!(
        "audit: adversarial logs, medians over {ROUNDS} rounds, against the honest log per entry"
    );
    println!(
        "{:<26} {:>10} {:>10} {:>12} {:>9}",
        "log", "entries", "median (s)", "µs/entry", "ratio"
    );
    let honest = op / n * 1e6;
    println!(
        "{:<26} {:>10} {op:>10.3} {honest:>12.3} {:>8.2}x",
        "honest (in memory)",
        s.encoded.len(),
        1.0
    );
    for (name, h, log) in &s.adversarial {
        let mut times: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                black_box(audit_adversarial(h, log));
                t.elapsed().as_secs_f64()
            })
            .collect();
        let m = median(&mut times);
        let per = m / h.entries.len() as f64 * 1e6;
        println!(
            "{:<26} {:>10} {m:>10.3} {per:>12.3} {:>8.2}x",
            format!("adversarial: {name}"),
            h.entries.len(),
            per / honest
        );
    }
}

fn main() {
    let s = setup();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &s);
    c.final_summary();
    paired(&s);
}
