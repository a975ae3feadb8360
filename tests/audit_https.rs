//! `minimis audit https://…` (AUD-13): the auditor reads a log served over HTTPS as a
//! C2SP tlog-tiles client does, and audits it exactly as it audits the same log from a
//! directory. Against the operator's real server (TLS 1.3, SQLite, its development PKI),
//! and against a small static tlog-tiles mirror over TLS that this module runs, for what
//! the operator's server never does: tampered, oversized, endless, missing, stalled or
//! dripped answers, redirects and content that is not the log, each run under a memory
//! and a time limit (AUD-33).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use minimis_audit::layout::write_export;
use minimis_audit::synthetic::{History, Params, SignedLog};
use minimis_log::tiles::{bundles_for, tiles_for};
use minimis_proto::ZoneResult;
use minimis_server::tls::DevPki;
use minimis_testkit::https::{Client, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::server::{Harness, fetch_log};

/// Runs `minimis` with `args` off the runtime's threads, so the servers keep answering.
async fn minimis(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || crate::minimis().args(args).output().unwrap())
        .await
        .unwrap()
}

/// [`minimis`] under 512 MiB of address space and 60 s (see [`crate::run_bounded`]).
async fn minimis_bounded(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = crate::minimis();
        cmd.args(args);
        crate::run_bounded(cmd, 512 << 20, 60).output
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

// ---- the operator's server -------------------------------------------------------------

/// The operator's server with `n` participants enrolled, each answering one challenge.
async fn serve_with(n: usize) -> Harness {
    let h = Harness::start().await;
    grow(&h, n).await;
    h
}

/// Enrolls `n` more participants, issues their challenges and checks each one in.
async fn grow(h: &Harness, n: usize) {
    let mut officer = h.officer_client().await;
    let mut people = Vec::new();
    for _ in 0..n {
        people.push(h.enroll(&mut officer).await);
    }
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    for p in &people {
        let challenges = h.challenges(&mut c, p).await;
        let keys = c.get("/v1/keys").await.unwrap().json();
        let operator = minimis_proto::PublicKey(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                keys["operator"].as_str().unwrap(),
            )
            .unwrap()
            .try_into()
            .unwrap(),
        );
        for signed in &challenges {
            let challenge = minimis_crypto::verify_challenge(signed, &operator).unwrap();
            let payload = minimis_testkit::payload(challenge.id, ZoneResult::Inside, "here");
            let keys = h.world.sealing_keys(h.clock_now());
            let env = minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap();
            let r = c
                .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
                .await
                .unwrap();
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        }
    }
}

/// The server's log size, from its checkpoint.
async fn log_size(c: &mut Client) -> u64 {
    let cp = c.get("/v1/log/checkpoint").await.unwrap();
    String::from_utf8(cp.body.to_vec())
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// The files an auditor keeps beside the state: the log's key (as the log publishes it),
/// an empty witness file (this server has no witness) and the server's CA certificate.
struct AuditorFiles {
    dir: tempfile::TempDir,
}

impl AuditorFiles {
    async fn of(h: &Harness) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = h.client().await;
        let keys = c.get("/v1/keys").await.unwrap().json();
        std::fs::write(
            dir.path().join("log.vkey"),
            format!("{}\n", keys["log"].as_str().unwrap()),
        )
        .unwrap();
        std::fs::write(dir.path().join("witnesses.vkey"), "").unwrap();
        std::fs::write(dir.path().join("ca.crt"), &h.server_cert).unwrap();
        Self { dir }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// `minimis audit https://ADDR --ca --log-key --witness --now` and `extra`.
    fn https_args(&self, h: &Harness, extra: &[&str]) -> Vec<String> {
        let mut v = vec![
            "audit".to_owned(),
            format!("https://{}", h.running.addr()),
            "--ca".into(),
            s(&self.path("ca.crt")),
            "--log-key".into(),
            s(&self.path("log.vkey")),
            "--witness".into(),
            s(&self.path("witnesses.vkey")),
            // This server has no witness: said explicitly (AUD-35).
            "--allow-no-witness".into(),
            "--now".into(),
            h.clock_now().seconds().to_string(),
        ];
        v.extend(extra.iter().map(|a| (*a).to_owned()));
        v
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_an_https_audit_of_the_operators_server_matches_the_directory_audit() {
    let h = serve_with(3).await;
    let files = AuditorFiles::of(&h).await;
    let mut c = h.client().await;
    let size = log_size(&mut c).await;
    // The same log as a directory in the export layout, fetched through the same
    // endpoints, with the policy the server serves.
    let export = tempfile::tempdir().unwrap();
    fetch_log(&mut c, &export.path().join("log")).await;
    std::fs::copy(files.path("log.vkey"), export.path().join("log.vkey")).unwrap();
    std::fs::copy(
        files.path("witnesses.vkey"),
        export.path().join("witnesses.vkey"),
    )
    .unwrap();
    let policy = c.get("/v1/policy").await.unwrap().json();
    std::fs::write(
        export.path().join("policy.toml"),
        policy["toml"].as_str().unwrap(),
    )
    .unwrap();
    let now = h.clock_now().seconds().to_string();
    for format in [&["--json"][..], &[]] {
        let mut dir_args = vec![
            "audit".to_owned(),
            s(export.path()),
            "--log-key".into(),
            s(&files.path("log.vkey")),
            "--witness".into(),
            s(&files.path("witnesses.vkey")),
            "--allow-no-witness".into(),
            "--now".into(),
            now.clone(),
        ];
        dir_args.extend(format.iter().map(|a| (*a).to_owned()));
        let from_dir = minimis(dir_args).await;
        // No --policy: the server's policy is used because the log publishes its hash.
        let over_https = minimis(files.https_args(&h, format)).await;
        assert_eq!(from_dir.status.code(), Some(0), "{}", text(&from_dir));
        assert_eq!(over_https.status.code(), Some(0), "{}", text(&over_https));
        assert_eq!(
            String::from_utf8_lossy(&over_https.stdout),
            String::from_utf8_lossy(&from_dir.stdout),
            "the same verdict and the same figures"
        );
        assert!(
            String::from_utf8_lossy(&over_https.stderr).contains("policy the operator serves"),
            "{}",
            text(&over_https)
        );
    }
    let j = json(&minimis(files.https_args(&h, &["--json"])).await);
    assert_eq!(j["verdict"], "all-claims-hold");
    assert_eq!(j["log"]["tree_size"], size);
    assert_eq!(j["log"]["origin"], "localhost/minimis-log");
    assert_eq!(j["policies"][0]["hash"], policy["hash"]);
    assert_eq!(j["counts"]["entries"], size);
    assert_eq!(j["counts"]["by_type"]["enrollment-opened"], 3, "{j}");
    assert_eq!(j["counts"]["by_type"]["check-in-received"], 3, "{j}");
    h.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_aud_2_aud_14_the_state_file_pins_the_keys_and_holds_the_log_to_its_history_across_https_runs()
 {
    let h = serve_with(1).await;
    let files = AuditorFiles::of(&h).await;
    let state = files.path("state.json");
    let run = |extra: &[&str]| {
        let mut e = vec!["--json", "--state", state.to_str().unwrap()];
        e.extend_from_slice(extra);
        files.https_args(&h, &e)
    };
    let first = minimis(run(&[])).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let first = json(&first);
    assert_eq!(first["log"]["consistency"]["kind"], "first-run", "{first}");
    let size1 = first["log"]["tree_size"].as_u64().unwrap();
    // The log grows; the next run proves the new tree extends the one pinned.
    grow(&h, 2).await;
    let second = minimis(run(&[])).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let second = json(&second);
    let size2 = second["log"]["tree_size"].as_u64().unwrap();
    assert!(size2 > size1, "{size1} -> {size2}");
    assert_eq!(
        second["log"]["consistency"],
        serde_json::json!({ "kind": "extends", "from": size1 }),
        "{second}"
    );
    let saved = minimis_audit::AuditorState::load(&state).unwrap().unwrap();
    assert_eq!(
        saved.get("localhost/minimis-log").unwrap().tree_size(),
        size2,
        "the state holds the new checkpoint"
    );
    // Unchanged since: said so.
    let third = json(&minimis(run(&[])).await);
    assert_eq!(third["log"]["consistency"]["kind"], "unchanged", "{third}");
    // The state pins the log key: another key for the same log is refused (exit 3).
    let other = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
        minimis_crypto::SigningKey::generate().unwrap(),
    );
    std::fs::write(
        files.path("other.vkey"),
        format!("{}\n", other.verifier_key()),
    )
    .unwrap();
    let mut args = run(&[]);
    let at = args.iter().position(|a| a == "--log-key").unwrap();
    args[at + 1] = s(&files.path("other.vkey"));
    let refused = minimis(args).await;
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert_eq!(json(&refused)["error"]["code"], "log-key-changed");
    h.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_aud_1_a_wrong_log_key_over_https_exits_3() {
    let h = serve_with(1).await;
    let files = AuditorFiles::of(&h).await;
    // A key of the log's own name, but not the log's: the checkpoint's signature fails.
    let other = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
        minimis_crypto::SigningKey::generate().unwrap(),
    );
    std::fs::write(
        files.path("log.vkey"),
        format!("{}\n", other.verifier_key()),
    )
    .unwrap();
    let out = minimis(files.https_args(&h, &["--json"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["verdict"], "log-does-not-verify");
    assert_eq!(j["error"]["code"], "bad-checkpoint");
    assert_eq!(j["error"]["requirement"], "AUD-1");
    assert_eq!(
        j["log"]["location"],
        format!("https://{}/v1/log", h.running.addr())
    );
    let out = minimis(files.https_args(&h, &[])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no policy claim is reported"),
        "{}",
        text(&out)
    );
    h.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_a_server_certificate_the_ca_does_not_sign_is_refused_with_exit_2() {
    let h = serve_with(0).await;
    let files = AuditorFiles::of(&h).await;
    // Another CA: a fresh development PKI's certificate.
    let other = DevPki::generate().unwrap();
    std::fs::write(files.path("ca.crt"), &other.server.cert).unwrap();
    let state = files.path("state.json");
    let out = minimis(files.https_args(&h, &["--state", state.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS"), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("--ca"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing was verified, nothing reported"
    );
    assert!(!state.exists(), "no state is written");
    // Without --ca at all: a usage error that says what to give.
    let mut args = files.https_args(&h, &[]);
    let at = args.iter().position(|a| a == "--ca").unwrap();
    args.drain(at..at + 2);
    let out = minimis(args).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give --ca FILE"),
        "{}",
        text(&out)
    );
    h.running.shutdown().await;
}

// ---- a static tlog-tiles mirror over TLS -------------------------------------------------

/// What the mirror answers for one path instead of its file.
#[derive(Clone, Copy, Debug)]
enum Odd {
    /// A 200 whose body is far longer than the resource can be.
    Huge,
    /// A 200 whose chunked body never ends.
    Endless,
    /// A 200 that announces a megabyte and sends a byte every 200 ms.
    Drip,
    /// A 200 with a web page instead of the resource.
    Html,
    /// A redirect to another path of the same server.
    Redirect,
    /// Nothing, ever.
    Stall,
}

/// A static tlog-tiles server over TLS 1.3: `GET <prefix>/<path>` answers the file
/// `root/<path>`, over keep-alive HTTP/1.1. It records the paths asked for.
struct Mirror {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mirror {
    async fn start(root: &Path, prefix: &'static str, pki: &DevPki, odd: Vec<(&str, Odd)>) -> Self {
        use rustls_pki_types::pem::PemObject as _;
        let chain = rustls_pki_types::CertificateDer::pem_slice_iter(pki.server.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key =
            rustls_pki_types::PrivateKeyDer::from_pem_slice(pki.server.key.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let odd: Arc<Vec<(String, Odd)>> =
            Arc::new(odd.into_iter().map(|(p, o)| (p.to_owned(), o)).collect());
        let root = root.to_owned();
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, root, seen, odd) =
                    (acceptor.clone(), root.clone(), seen.clone(), odd.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match tls.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                        seen.lock().unwrap().push(path.clone());
                        let rel = path.strip_prefix(prefix).and_then(|p| p.strip_prefix('/'));
                        let mut status = "200 OK";
                        let mut extra = String::new();
                        let answer = match rel {
                            Some(rel) => match odd.iter().find(|(p, _)| p == rel) {
                                Some((_, Odd::Stall)) => {
                                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                                    return;
                                }
                                Some((_, Odd::Endless)) => {
                                    let head =
                                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                                    if tls.write_all(head.as_bytes()).await.is_err() {
                                        return;
                                    }
                                    let chunk = format!("10000\r\n{}\r\n", "z".repeat(0x10000));
                                    // Until the client hangs up.
                                    while tls.write_all(chunk.as_bytes()).await.is_ok() {}
                                    return;
                                }
                                Some((_, Odd::Drip)) => {
                                    let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
                                    if tls.write_all(head.as_bytes()).await.is_err() {
                                        return;
                                    }
                                    loop {
                                        if tls.write_all(b"a").await.is_err()
                                            || tls.flush().await.is_err()
                                        {
                                            return;
                                        }
                                        tokio::time::sleep(std::time::Duration::from_millis(200))
                                            .await;
                                    }
                                }
                                Some((_, Odd::Huge)) => Some(vec![b'a'; 3 << 20]),
                                Some((_, Odd::Html)) => Some(
                                    b"<!doctype html><html><body>Maintenance</body></html>\n"
                                        .to_vec(),
                                ),
                                Some((_, Odd::Redirect)) => {
                                    status = "302 Found";
                                    extra = format!("location: {prefix}/elsewhere\r\n");
                                    Some(Vec::new())
                                }
                                None if rel.split('/').any(|s| s == "..") => None,
                                None => std::fs::read(root.join(rel)).ok(),
                            },
                            None => None,
                        };
                        let body = match answer {
                            Some(b) => b,
                            None => {
                                status = "404 Not Found";
                                Vec::new()
                            }
                        };
                        let head = format!(
                            "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\ncontent-type: application/octet-stream\r\n\r\n",
                            body.len()
                        );
                        if tls.write_all(head.as_bytes()).await.is_err()
                            || tls.write_all(&body).await.is_err()
                            || tls.flush().await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A synthetic log of several tiles, with a witness, in the export layout.
fn synthetic_export(dir: &Path) -> (History, SignedLog) {
    let h = History::generate(&Params {
        participants: 8,
        epochs: 4,
        ..Params::small()
    });
    let log = SignedLog::build(&h.entries, 200);
    write_export(
        dir,
        &log.log,
        std::slice::from_ref(&log.witness_key),
        minimis_proto::DEFAULT_POLICY_TOML,
    )
    .unwrap();
    (h, log)
}

/// `minimis audit URL` of a mirror of the export in `dir`, with its keys and policy.
fn mirror_args(url: &str, dir: &Path, ca: &Path, h: &History, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "audit".to_owned(),
        url.to_owned(),
        "--ca".into(),
        s(ca),
        "--log-key".into(),
        s(&dir.join("log.vkey")),
        "--witness".into(),
        s(&dir.join("witnesses.vkey")),
        "--policy".into(),
        s(&dir.join("policy.toml")),
        "--now".into(),
        h.now.seconds().to_string(),
    ];
    v.extend(extra.iter().map(|a| (*a).to_owned()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_aud_3_a_mirror_is_fetched_as_tlog_tiles_and_a_tampered_entry_exits_3() {
    let export = tempfile::tempdir().unwrap();
    let (h, log) = synthetic_export(export.path());
    let size = log.log.size();
    assert!(size > 512, "several full tiles and a partial one: {size}");
    let pki = DevPki::generate().unwrap();
    let ca = export.path().join("ca.crt");
    std::fs::write(&ca, &pki.server.cert).unwrap();
    let mirror = Mirror::start(&export.path().join("log"), "/mirror/log", &pki, vec![]).await;
    let url = format!("https://{}/mirror/log", mirror.addr);
    let now = h.now.seconds().to_string();

    // Fetched as a tlog-tiles client does: the checkpoint, then exactly the tiles and
    // bundles its tree needs, each once; audited as the directory is.
    let over_https = minimis(mirror_args(&url, export.path(), &ca, &h, &["--json"])).await;
    assert_eq!(over_https.status.code(), Some(0), "{}", text(&over_https));
    let requests = mirror.requests();
    assert_eq!(requests[0], "/mirror/log/checkpoint");
    let mut rest = requests[1..].to_vec();
    rest.sort();
    let mut expected: Vec<String> = tiles_for(size)
        .map(|t| format!("/mirror/log/{}", t.path()))
        .chain(bundles_for(size).map(|b| format!("/mirror/log/{}", b.path())))
        .collect();
    expected.sort();
    assert_eq!(rest, expected);
    let from_dir = minimis(vec![
        "audit".into(),
        s(export.path()),
        "--log-key".into(),
        s(&export.path().join("log.vkey")),
        "--witness".into(),
        s(&export.path().join("witnesses.vkey")),
        "--now".into(),
        now.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(from_dir.status.code(), Some(0), "{}", text(&from_dir));
    assert_eq!(json(&over_https), json(&from_dir));
    assert_eq!(json(&over_https)["log"]["tree_size"], size);
    assert_eq!(json(&over_https)["log"]["witnesses_required"], 1);

    // One entry changed on the mirror: the log does not verify (exit 3), as from a
    // directory.
    let bundle = export.path().join("log/tile/entries/001");
    let mut data = std::fs::read(&bundle).unwrap();
    data[5] ^= 0x40;
    std::fs::write(&bundle, data).unwrap();
    let out = minimis(mirror_args(&url, export.path(), &ca, &h, &["--json"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["error"]["code"], "modified-entry");
    assert_eq!(j["error"]["requirement"], "AUD-3");
    assert_eq!(j["log"]["location"], url);
    let out = minimis(mirror_args(&url, export.path(), &ca, &h, &[])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("does not hash to its leaf"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_aud_33_a_malicious_server_ends_in_exit_3_within_bounds() {
    let export = tempfile::tempdir().unwrap();
    let (h, log) = synthetic_export(export.path());
    let pki = DevPki::generate().unwrap();
    let ca = export.path().join("ca.crt");
    std::fs::write(&ca, &pki.server.cert).unwrap();
    let root = export.path().join("log");
    let last_bundle = bundles_for(log.log.size()).last().unwrap().path();
    // What the server does, for which path, what the error says, and its JSON code.
    let cases: [(&str, Odd, &str, &str); 9] = [
        ("checkpoint", Odd::Huge, "larger than", "storage"),
        // An endless answer is refused at the resource's own bound, as it arrives
        // (SVC-42).
        (
            "checkpoint",
            Odd::Endless,
            "larger than the 1048576 bytes",
            "storage",
        ),
        (
            "checkpoint",
            Odd::Drip,
            "no complete answer within 2 s",
            "storage",
        ),
        ("checkpoint", Odd::Html, "", "bad-checkpoint"),
        ("checkpoint", Odd::Redirect, "HTTP 302", "storage"),
        (
            "tile/0/001",
            Odd::Stall,
            "no complete answer within 2 s",
            "tiles-unreadable",
        ),
        (
            "tile/0/001",
            Odd::Huge,
            "larger than the 8192 bytes",
            "tiles-unreadable",
        ),
        (
            "tile/0/001",
            Odd::Endless,
            "larger than the 8192 bytes",
            "tiles-unreadable",
        ),
        (
            &last_bundle,
            Odd::Drip,
            "no complete answer within 2 s",
            "tiles-unreadable",
        ),
    ];
    for (path, odd, says, code) in cases {
        let m = Mirror::start(&root, "", &pki, vec![(path, odd)]).await;
        let url = format!("https://{}/", m.addr);
        let out = minimis_bounded(mirror_args(
            &url,
            export.path(),
            &ca,
            &h,
            &["--timeout", "2", "--json"],
        ))
        .await;
        let what = format!("{path} {odd:?}");
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out));
        let j = json(&out);
        assert_eq!(j["verdict"], "log-does-not-verify", "{what}");
        assert_eq!(j["error"]["code"], code, "{what}: {j}");
        assert!(
            j["error"]["message"].as_str().unwrap().contains(says),
            "{what}: {j}"
        );
    }
    // A tile the server does not have: the log does not verify either.
    std::fs::remove_file(root.join(&last_bundle)).unwrap();
    let m = Mirror::start(&root, "", &pki, vec![]).await;
    let url = format!("https://{}/", m.addr);
    let out = minimis_bounded(mirror_args(&url, export.path(), &ca, &h, &["--json"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(json(&out)["error"]["code"], "tiles-unreadable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aud_13_aud_33_an_unreachable_server_a_log_over_the_bound_and_usage_errors_exit_2() {
    let export = tempfile::tempdir().unwrap();
    let (h, log) = synthetic_export(export.path());
    let pki = DevPki::generate().unwrap();
    let ca = export.path().join("ca.crt");
    std::fs::write(&ca, &pki.server.cert).unwrap();
    let root = export.path().join("log");
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // A log larger than the bound: refused once the checkpoint verified, before any tile.
    let m = Mirror::start(&root, "", &pki, vec![]).await;
    let url = format!("https://{}/", m.addr);
    let out = minimis_bounded(mirror_args(
        &url,
        export.path(),
        &ca,
        &h,
        &["--max-bytes", "1000"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("more than the limit of 1000 bytes"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("--max-bytes"), "{}", text(&out));
    assert_eq!(m.requests(), ["/checkpoint".to_owned()]);
    assert!(log.log.size() > 0);

    // A server that takes the connection and never speaks TLS: nothing was read.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let out = minimis_bounded(mirror_args(
        &format!("https://{silent_addr}/"),
        export.path(),
        &ca,
        &h,
        &["--timeout", "2"],
    ))
    .await;
    hold.abort();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("no TLS 1.3 session"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // Plain HTTP, a missing log key or witness file, and HTTPS options for a directory:
    // usage errors that say what to give.
    let mut args = mirror_args(&url, export.path(), &ca, &h, &[]);
    args[1] = format!("http://{}/", m.addr);
    let out = minimis(args).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("HTTPS only"), "{}", text(&out));
    for (flag, says) in [
        ("--log-key", "give --log-key FILE"),
        ("--witness", "give --witness FILE"),
    ] {
        let mut args = mirror_args(&url, export.path(), &ca, &h, &[]);
        let at = args.iter().position(|a| a == flag).unwrap();
        args.drain(at..at + 2);
        let out = minimis(args).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(stderr(&out).contains(says), "{}", text(&out));
    }
    let out = minimis(vec![
        "audit".into(),
        s(export.path()),
        "--ca".into(),
        s(&ca),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", text(&out));
    let seen: HashSet<String> = m.requests().into_iter().collect();
    assert!(
        !seen.iter().any(|p| p.contains("policy")),
        "a mirror is not asked for a policy: {seen:?}"
    );
}
