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
    start_as(
        data,
        "witness.example/w1",
        "127.0.0.1:0",
        &signer().verifier_key().to_string(),
    )
}

fn start_as(data: &Path, name: &str, listen: &str, log_vkey: &str) -> Witness {
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "name = \"{name}\"\nlisten = \"{listen}\"\ndata_dir = \"{}\"\n\
             [[log]]\nvkey = \"{log_vkey}\"\nrate = {{ per_minute = 600000, burst = 100000 }}\n",
            data.display(),
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
        // Read to the end even once nobody listens: a witness whose stdout closed would
        // die on its next line (a broken pipe), as it did under load when this returned
        // after the lines the test waits for.
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
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

/// The operator's newest cosigned checkpoint, once it covers `size` (or `None` after
/// `wait`).
async fn cosigned_at_least(
    server: &minimis_server::Running,
    log_key: &minimis_log::VerifierKey,
    size: u64,
    wait: Duration,
) -> Option<SignedCheckpoint> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(note) = server.cosigned_checkpoint().await.unwrap() {
            let cp = SignedCheckpoint::open(note.as_bytes(), log_key).unwrap();
            if cp.checkpoint().tree_size() >= size {
                return Some(cp);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_61_log_60_a_checkpoint_is_published_only_once_the_quorum_cosigned_it() {
    // The operator's log key: a first start of the server makes it.
    let h = crate::server::Harness::start().await;
    let log_vkey = h.running.log_key().to_owned();
    let log_key: minimis_log::VerifierKey = log_vkey.parse().unwrap();
    let crate::server::Harness {
        dir,
        running,
        clock,
        world,
        server_cert,
        officer,
    } = h;
    running.shutdown().await;
    // Three independent witnesses, 2 of 3 required.
    // Processes, so that stopping one (SIGKILL) closes the operator's kept-alive
    // connection to it too.
    let mut witnesses = Vec::new();
    for i in 0..3 {
        witnesses.push(start_as(
            &dir.path().join(format!("w{i}")),
            &format!("witness{i}.example"),
            "127.0.0.1:0",
            &log_vkey,
        ));
    }
    let links: Vec<minimis_server::WitnessLink> = witnesses
        .iter()
        .map(|w| minimis_server::WitnessLink {
            addr: w.addr,
            server_name: "localhost".into(),
            roots_pem: w.cert.clone(),
            client: None,
            prefix: String::new(),
            vkey: w.vkey.parse().unwrap(),
        })
        .collect();
    let vkeys: Vec<minimis_log::VerifierKey> = links.iter().map(|l| l.vkey.clone()).collect();
    let running = minimis_server::Server::start(
        minimis_server::ServerConfig {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            agency_key: Some(world.agency_key.public_key()),
            oversight_key: Some(world.oversight_key.public_key()),
            witnesses: Some(minimis_server::WitnessSet {
                witnesses: links,
                quorum: 2,
                policy: None,
            }),
            ..minimis_server::ServerConfig::default()
        },
        clock.clone(),
    )
    .await
    .unwrap();
    let mut officer_c = Client::connect(
        running.addr(),
        &server_cert,
        Some((&officer.0, &officer.1)),
        Versions::Tls13,
    )
    .await
    .unwrap();
    let size_now = || async {
        let mut c = Client::connect(running.addr(), &server_cert, None, Versions::Tls13)
            .await
            .unwrap();
        let r = c.get("/v1/log/checkpoint").await.unwrap();
        SignedCheckpoint::open(&r.body, &log_key)
            .unwrap()
            .checkpoint()
            .tree_size()
    };

    // One witness down: two of three still cosign, and the checkpoint is published with
    // both cosignatures, which verify.
    let mut down = witnesses.pop().unwrap();
    let down_addr = down.addr;
    down.child.kill().unwrap();
    let _ = down.child.wait();
    minimis_testkit::https::enroll(&mut officer_c, world.participant()).await;
    let size = size_now().await;
    let cp = cosigned_at_least(&running, &log_key, size, PATIENCE)
        .await
        .expect("two of three witnesses up: the checkpoint is published");
    cp.verify_cosignatures(&vkeys[..2]).unwrap();
    assert!(
        cp.verify_cosignatures(&vkeys[2..]).is_err(),
        "the third was down"
    );

    // Two down: one cosignature is below the quorum, so nothing new is published.
    let mut second = witnesses.pop().unwrap();
    let second_addr = second.addr;
    second.child.kill().unwrap();
    let _ = second.child.wait();
    minimis_testkit::https::enroll(&mut officer_c, world.participant()).await;
    let grown = size_now().await;
    assert!(grown > size);
    // The server retries every 3 s: three rounds go by.
    assert!(
        cosigned_at_least(&running, &log_key, grown, Duration::from_secs(10))
            .await
            .is_none(),
        "published below the quorum"
    );
    // The one witness up did cosign it: the quorum, not the witnesses, held it back.
    let mut w0 = Client::connect(witnesses[0].addr, &witnesses[0].cert, None, Versions::Tls13)
        .await
        .unwrap();
    let hash = minimis_witness::origin_hash(log_key.name().as_str());
    let r = w0.get(&format!("/{hash}/checkpoint")).await.unwrap();
    let seen = SignedCheckpoint::open(&r.body, &log_key).unwrap();
    assert_eq!(seen.checkpoint().tree_size(), grown);

    // The two come back (same key, same state): the stopped one catches up from its 409.
    let mut back = start_as(
        &dir.path().join("w1"),
        "witness1.example",
        &second_addr.to_string(),
        &log_vkey,
    );
    let mut back2 = start_as(
        &dir.path().join("w2"),
        "witness2.example",
        &down_addr.to_string(),
        &log_vkey,
    );
    let cp = cosigned_at_least(&running, &log_key, grown, PATIENCE)
        .await
        .expect("the quorum is back: the checkpoint is published");
    let cosigned = vkeys
        .iter()
        .filter(|k| cp.verify_cosignatures(std::slice::from_ref(*k)).is_ok())
        .count();
    assert!(cosigned >= 2, "{cosigned} cosignatures");
    // The next checkpoint goes to all three; the one that missed checkpoints resyncs from
    // its 409 and cosigns it.
    minimis_testkit::https::enroll(&mut officer_c, world.participant()).await;
    let last = size_now().await;
    cosigned_at_least(&running, &log_key, last, PATIENCE)
        .await
        .expect("published");
    let mut c2 = Client::connect(back2.addr, &back2.cert, None, Versions::Tls13)
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = c2.get(&format!("/{hash}/checkpoint")).await.unwrap();
        let seen = SignedCheckpoint::open(&r.body, &log_key)
            .ok()
            .map(|c| c.checkpoint().tree_size());
        if seen == Some(last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stopped witness never caught up: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.shutdown().await;
    for w in [&mut back, &mut back2, &mut witnesses[0]] {
        w.child.kill().unwrap();
        let _ = w.child.wait();
    }
}
