//! `minimis witness serve`, the real process: the tlog-witness answers over HTTPS, and a
//! witness killed with SIGKILL mid-check keeps the latest size it acknowledged (**WIT-4**,
//! **WIT-10**).

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use minimis_crypto::SigningKey;
use minimis_log::{KeyName, Log, MemoryStorage, NoteSigner, SignedCheckpoint};
use minimis_testkit::https::{Client, StatusCode, Versions};

/// How long anything may take before the test gives up: it only catches a hang.
const PATIENCE: Duration = Duration::from_secs(120);
const ORIGIN: &str = "log.minimis.example";

fn signer() -> NoteSigner {
    NoteSigner::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_seed(&[42; 32]).unwrap(),
    )
}

struct Witness {
    child: Child,
    addr: SocketAddr,
    vkey: String,
    cert: String,
}

fn start(data: &Path) -> Witness {
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "name = \"witness.example/w1\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\
             [[log]]\nvkey = \"{}\"\nrate = {{ per_minute = 600000, burst = 100000 }}\n",
            data.display(),
            signer().verifier_key()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_minimis"))
        .args(["witness", "serve", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let (mut addr, mut vkey) = (None, None);
    while addr.is_none() || vkey.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the witness did not start");
        if let Some(a) = line.split("listening on https://").nth(1) {
            addr = a.trim().parse().ok();
        }
        if let Some(k) = line.strip_prefix("  witness key") {
            vkey = Some(k.trim().to_owned());
        }
    }
    Witness {
        child,
        addr: addr.unwrap(),
        vkey: vkey.unwrap(),
        cert: std::fs::read_to_string(data.join("dev-tls-cert.pem")).unwrap(),
    }
}

fn body(old: u64, log: &Log<MemoryStorage>) -> Vec<u8> {
    let size = log.size();
    let mut s = format!("old {old}\n");
    if old > 0 && old < size {
        for h in log.consistency_proof(old, size).unwrap().consistency_path {
            s.push_str(&base64::engine::general_purpose::STANDARD.encode(h.as_bytes()));
            s.push('\n');
        }
    }
    s.push('\n');
    s.push_str(&log.checkpoint().to_string());
    s.into_bytes()
}

async fn client(w: &Witness) -> Client {
    Client::connect(w.addr, &w.cert, None, Versions::Tls13)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wit_10_witness_serve_answers_tlog_witness_over_https_without_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = start(&dir.path().join("w"));
    let mut c = client(&w).await;
    let mut log = Log::create(MemoryStorage::new(), signer()).unwrap();
    log.append_batch(&[b"a".as_slice(), b"b"]).unwrap();
    let hash = minimis_witness::origin_hash(ORIGIN);
    let r = c.get(&format!("/{hash}/checkpoint")).await.unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND, "never cosigned");
    let r = c.post("/add-checkpoint", body(0, &log)).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let lines = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(lines.starts_with("— witness.example/w1 "), "{lines}");
    let wkey: minimis_log::VerifierKey = w.vkey.parse().unwrap();
    let joined = format!("{}{lines}", log.checkpoint());
    SignedCheckpoint::open(joined.as_bytes(), &signer().verifier_key())
        .unwrap()
        .verify_cosignatures(std::slice::from_ref(&wkey))
        .unwrap();
    // 409 with the size as text/x.tlog.size, on the same (kept-alive) connection.
    log.append_batch(&[b"c".as_slice()]).unwrap();
    let r = c.post("/add-checkpoint", body(0, &log)).await.unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(&r.body[..], b"2\n");
    // The monitoring endpoint serves the checkpoint with both signatures.
    let r = c.get(&format!("/{hash}/checkpoint")).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    SignedCheckpoint::open(&r.body, &signer().verifier_key())
        .unwrap()
        .verify_cosignatures(std::slice::from_ref(&wkey))
        .unwrap();
    // An unknown route is a JSON refusal.
    let r = c.get("/nope").await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    w.child.kill().unwrap();
    let _ = w.child.wait();
}

/// xorshift64*: kill points, reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wit_4_a_witness_killed_mid_check_keeps_the_latest_size_it_acknowledged() {
    let seed = std::env::var("MINIMIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("w");
    let mut log = Log::create(MemoryStorage::new(), signer()).unwrap();
    let mut acked = 0u64;
    for round in 0..6 {
        let mut w = start(&data);
        let mut c = client(&w).await;
        // Where the witness is: a 409 to old size 0 (or a 200 if it never cosigned).
        log.append_batch(&[format!("r{round}").as_bytes()]).unwrap();
        let r = c.post("/add-checkpoint", body(0, &log)).await.unwrap();
        let latest: u64 = match r.status {
            StatusCode::CONFLICT => std::str::from_utf8(&r.body)
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
            StatusCode::OK => log.size(),
            s => panic!("seed {seed}: {s}"),
        };
        assert!(
            latest >= acked,
            "seed {seed}, round {round}: the witness acknowledged size {acked} and came back at {latest}"
        );
        assert!(latest <= log.size());
        // Its stored root is the log's at that size: it cosigns the next one from there.
        let r = c.post("/add-checkpoint", body(latest, &log)).await.unwrap();
        assert!(
            r.status == StatusCode::OK || latest == log.size(),
            "seed {seed}: {} {:?}",
            r.status,
            r.body
        );
        acked = log.size();
        // Checkpoints as fast as the witness takes them; SIGKILL at a random moment.
        let pid_kill_after = Duration::from_millis(rng.below(120));
        let mut log_task = log;
        let task = tokio::spawn(async move {
            let mut acked = acked;
            loop {
                log_task.append_batch(&[b"x".as_slice()]).unwrap();
                match c.post("/add-checkpoint", body(acked, &log_task)).await {
                    Ok(r) if r.status == StatusCode::OK => acked = log_task.size(),
                    Ok(r) => panic!("unexpected {}: {:?}", r.status, r.body),
                    Err(_) => return (log_task, acked),
                }
            }
        });
        tokio::time::sleep(pid_kill_after).await;
        w.child.kill().unwrap();
        let _ = w.child.wait();
        let (l, a) = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the client hung")
            .unwrap();
        log = l;
        acked = a;
    }
    let w = start(&data);
    let mut c = client(&w).await;
    let r = c.post("/add-checkpoint", body(0, &log)).await.unwrap();
    let latest: u64 = std::str::from_utf8(&r.body)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(latest >= acked, "seed {seed}");
    let mut w = w;
    w.child.kill().unwrap();
    let _ = w.child.wait();
}
