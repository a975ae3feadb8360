//! Every listener stays up under abuse, refuses in typed JSON, and keeps no arrival time
//! (spec/services.md, SVC; spec/operator.md, CHK-33).
//!
//! The operator's server and a custodian run in process, over TLS on loopback, with short
//! timeouts so that the tests are quick. `minimis serve` runs as a child process where a
//! test must see the process from outside: its descriptors, its CPU time, and every line
//! it writes, stamped with when it was written, as a log collector would. Waits are
//! generous and only catch hangs; no test asserts how fast anything happened.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use minimis_custodian::{Custodian, InProcessOperator, ManualClock};
use minimis_proto::{CustodianRole, UnixTime, ZoneResult, default_policy};
use minimis_server::Limits;
use minimis_testkit::https::{Client, Method, StatusCode, Versions, read_until_closed, tls_stream};
use minimis_testkit::serve::{self, Line, Serve};
use minimis_testkit::{NOW, World};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::server::Harness;

/// How long anything may take before a test gives up (a loaded 2-core machine). It only
/// catches a hang.
const PATIENCE: Duration = Duration::from_secs(120);

/// Limits for the in-process tests: a handshake timeout long enough that the idle sockets
/// are still held when the legitimate client is served; short header and body timeouts;
/// an idle timeout longer than those, so that a sender slowed down by a loaded machine is
/// still cut off by the header or body timeout, not as idle.
fn test_limits() -> Limits {
    let mut l = Limits::default().with_timeouts(Duration::from_secs(2));
    l.handshake_timeout = Duration::from_secs(30);
    l.idle_timeout = Duration::from_secs(15);
    l
}

// ---- abuse ---------------------------------------------------------------------------

/// Connections held against a listener: idle TCP sockets that never start TLS, and TLS
/// connections that send a request head, or a body, one byte at a time.
struct Abuse {
    idle: Vec<TcpStream>,
    slow_heads: Vec<tokio::task::JoinHandle<Option<Vec<u8>>>>,
    slow_bodies: Vec<tokio::task::JoinHandle<Option<Vec<u8>>>>,
    dribblers: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens a TLS connection, writes `head`, then one byte every 100 ms (so that bytes keep
/// moving and only a header or body timeout can end it), reading whatever comes back
/// until the server closes the connection.
async fn dribble(
    addr: SocketAddr,
    cert: &str,
    client: Option<(&str, &str)>,
    head: String,
    abuse: &mut Vec<tokio::task::JoinHandle<Option<Vec<u8>>>>,
    dribblers: &mut Vec<tokio::task::JoinHandle<()>>,
) {
    let s = tls_stream(addr, cert, client).await.unwrap();
    let (r, mut w) = tokio::io::split(s);
    abuse.push(tokio::spawn(read_until_closed(r, PATIENCE)));
    dribblers.push(tokio::spawn(async move {
        if w.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..1200 {
            if w.write_all(b"x").await.is_err() || w.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }));
}

impl Abuse {
    async fn start(addr: SocketAddr, cert: &str, client: Option<(&str, &str)>, post: &str) -> Self {
        let mut a = Self {
            idle: Vec::new(),
            slow_heads: Vec::new(),
            slow_bodies: Vec::new(),
            dribblers: Vec::new(),
        };
        for _ in 0..200 {
            a.idle.push(TcpStream::connect(addr).await.unwrap());
        }
        for _ in 0..10 {
            let head = "GET /v1/policy HTTP/1.1\r\nhost: localhost\r\nx-slow: ".to_owned();
            dribble(
                addr,
                cert,
                client,
                head,
                &mut a.slow_heads,
                &mut a.dribblers,
            )
            .await;
            let head = format!(
                "POST {post} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n"
            );
            dribble(
                addr,
                cert,
                client,
                head,
                &mut a.slow_bodies,
                &mut a.dribblers,
            )
            .await;
        }
        a
    }

    /// Every abusive connection is closed by the server: the idle ones and the slow heads
    /// with nothing sent, the slow bodies with `408` and the interface's JSON refusal.
    async fn closed(self, timeout_code: &str) {
        for s in self.idle {
            let sent = read_until_closed(s, PATIENCE)
                .await
                .expect("an idle socket was held past every timeout");
            assert!(sent.is_empty());
        }
        for t in self.slow_heads {
            let sent = t
                .await
                .unwrap()
                .expect("a request head sent slowly was held past the header timeout");
            assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
        }
        for t in self.slow_bodies {
            let sent = t
                .await
                .unwrap()
                .expect("a body sent slowly was held past the body timeout");
            let sent = String::from_utf8_lossy(&sent).into_owned();
            assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
            let body: serde_json::Value =
                serde_json::from_str(sent.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap();
            assert_eq!(body["error"]["code"], timeout_code, "{sent}");
        }
        for d in self.dribblers {
            d.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_1_svc_2_svc_3_svc_4_the_operator_serves_a_client_while_200_idle_sockets_and_20_slow_senders_are_held()
 {
    let h = Harness::start_with(true, |c| c.limits = test_limits()).await;
    let abuse = Abuse::start(h.running.addr(), &h.server_cert, None, "/v1/checkins").await;
    let held = h.running.open_connections();
    // A participant is served meanwhile: a signed request for its challenges.
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    assert_eq!(h.challenges(&mut c, &p).await.len(), 1);
    assert!(
        held >= 200,
        "the idle sockets were held while the client was served ({held} connections)"
    );
    abuse.closed("request_timeout").await;
    // The tally counts each as it closes (a count may land just after its socket closes).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = h.running.request_log().snapshot().connections;
        if t.handshake_failed >= 200 && t.header_timeouts >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "{t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The oversight custodian, alone, as a TLS service with `limits`, and its development
/// PKI's directory.
async fn oversight(
    dir: &Path,
    limits: Limits,
) -> (minimis_custodian::Running, Arc<InProcessOperator>, PathBuf) {
    let clock = ManualClock::new(NOW);
    let operator = InProcessOperator::new(default_policy(), Arc::new(clock.clone())).unwrap();
    let mut c = crate::custodian::config(CustodianRole::Oversight, dir);
    c.limits = limits;
    let running = Custodian::start_with(
        c,
        clock,
        Arc::new(operator.link(CustodianRole::Oversight)),
        None,
    )
    .await
    .unwrap();
    (running, operator, dir.join("oversight/tls"))
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_1_svc_2_svc_3_svc_4_a_custodian_serves_a_client_while_200_idle_sockets_and_20_slow_senders_are_held()
 {
    let dir = tempfile::tempdir().unwrap();
    let (running, _operator, tls) = oversight(dir.path(), test_limits()).await;
    let ca = read(tls.join("ca.crt"));
    let agency = (
        read(tls.join("agency-client.crt")),
        read(tls.join("agency-client.key")),
    );
    let client = Some((agency.0.as_str(), agency.1.as_str()));
    let abuse = Abuse::start(running.addr(), &ca, client, "/v1/outer").await;
    let held = running.open_connections();
    let mut c = Client::connect(running.addr(), &ca, client, Versions::Tls13)
        .await
        .unwrap();
    let r = c.get("/v1/custodian").await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert!(held >= 200, "{held} connections held");
    abuse.closed("request_timeout").await;
    running.shutdown().await;
}

// ---- refusals ----------------------------------------------------------------------

/// A request head, written raw (for a body that is declared but never sent), and what
/// came back before the server closed the connection.
async fn raw(addr: SocketAddr, cert: &str, client: Option<(&str, &str)>, head: &str) -> String {
    let mut s = tls_stream(addr, cert, client).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let sent = read_until_closed(s, PATIENCE).await.expect("closed");
    String::from_utf8_lossy(&sent).into_owned()
}

/// Request heads the HTTP implementation cannot take, with the status and the code each
/// is refused with (`malformed` is the interface's code for a head that does not parse).
fn bad_heads(malformed: &'static str) -> [(String, u16, &'static str); 2] {
    [
        (
            "GET /v1/policy HTTP/1.1\r\nthis line has no colon\r\n\r\n".to_owned(),
            400,
            malformed,
        ),
        (
            format!(
                "GET /v1/policy HTTP/1.1\r\nhost: localhost\r\nx-filler: {}\r\n\r\n",
                "a".repeat(70 * 1024)
            ),
            431,
            "head_too_large",
        ),
    ]
}

fn json_body(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_8_svc_9_svc_10_every_refusal_of_the_operator_is_typed_json() {
    let h = Harness::start_with(true, |c| c.limits = test_limits()).await;
    let cases: Vec<(Method, &str, Vec<u8>, u16, &str)> = vec![
        (Method::GET, "/v1/nowhere", Vec::new(), 404, "not_found"),
        (
            Method::DELETE,
            "/v1/policy",
            Vec::new(),
            405,
            "method_not_allowed",
        ),
        (
            Method::PUT,
            "/v1/checkins",
            b"{}".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/v1/epochs/abc/recipients",
            Vec::new(),
            400,
            "malformed",
        ),
        (
            Method::GET,
            "/v1/epochs/99999999999/recipients",
            Vec::new(),
            400,
            "malformed",
        ),
        (
            Method::POST,
            "/v1/recipients",
            b"{not json".to_vec(),
            400,
            "malformed",
        ),
        (
            Method::POST,
            "/v1/recipients",
            vec![b' '; 20_000],
            413,
            "body_too_large",
        ),
    ];
    for (method, path, body, status, code) in cases {
        // A new connection each time: a refusal of a body closes its connection.
        let mut c = h.client().await;
        let r = c.request(method.clone(), path, &[], body).await.unwrap();
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{method} {path}: {:?}", r.body);
        assert!(
            !r.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty()
        );
    }
    // A body declared over the limit is refused from its length, before it is sent.
    let sent = raw(
        h.running.addr(),
        &h.server_cert,
        None,
        "POST /v1/checkins HTTP/1.1\r\nhost: localhost\r\ncontent-length: 10000000\r\n\r\n",
    )
    .await;
    assert!(sent.starts_with("HTTP/1.1 413"), "{sent}");
    assert_eq!(json_body(&sent)["error"]["code"], "body_too_large");
    // Request heads that never reach a handler: one that does not parse, one over 64 KiB.
    for (head, status, code) in bad_heads("malformed") {
        let sent = raw(h.running.addr(), &h.server_cert, None, &head).await;
        assert!(sent.starts_with(&format!("HTTP/1.1 {status}")), "{sent}");
        assert_eq!(json_body(&sent)["error"]["code"], code, "{sent}");
    }
    assert_eq!(
        h.running.request_log().snapshot().connections.heads_refused,
        2
    );
    // The tally counts them by route template, never by path.
    let t = h.running.request_log().snapshot();
    assert_eq!(t.count("GET", "/v1/epochs/{epoch}/recipients", 400), 2);
    assert_eq!(t.count("GET", "(no route)", 404), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_8_svc_9_every_refusal_of_a_custodian_is_typed_json() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _operator, tls) = oversight(dir.path(), test_limits()).await;
    let ca = read(tls.join("ca.crt"));
    let agency = (
        read(tls.join("agency-client.crt")),
        read(tls.join("agency-client.key")),
    );
    let operator = (
        read(tls.join("operator.crt")),
        read(tls.join("operator.key")),
    );
    let as_agency = Some((agency.0.as_str(), agency.1.as_str()));
    let as_operator = Some((operator.0.as_str(), operator.1.as_str()));
    let cases: Vec<(_, Method, &str, Vec<u8>, u16, &str)> = vec![
        (
            as_agency,
            Method::GET,
            "/v1/nowhere",
            Vec::new(),
            404,
            "not_found",
        ),
        (
            as_agency,
            Method::GET,
            "/v1/outer",
            Vec::new(),
            405,
            "method_not_allowed",
        ),
        (
            as_agency,
            Method::POST,
            "/v1/outer",
            b"{not json".to_vec(),
            400,
            "request_malformed",
        ),
        // The witness: refusals in JSON, but for the one body tlog-witness fixes.
        (
            as_operator,
            Method::POST,
            "/witness/add-checkpoint",
            b"garbage".to_vec(),
            400,
            "request_malformed",
        ),
        (
            as_agency,
            Method::POST,
            "/witness/add-checkpoint",
            b"old 0\n\n".to_vec(),
            403,
            "not_allowed",
        ),
    ];
    for (who, method, path, body, status, code) in cases {
        let mut c = Client::connect(running.addr(), &ca, who, Versions::Tls13)
            .await
            .unwrap();
        let r = c.request(method.clone(), path, &[], body).await.unwrap();
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{method} {path}: {:?}", r.body);
    }
    // A body declared over 4 MiB is refused from its length, before it is sent.
    let sent = raw(
        running.addr(),
        &ca,
        as_agency,
        "POST /v1/outer HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4194305\r\n\r\n",
    )
    .await;
    assert!(sent.starts_with("HTTP/1.1 413"), "{sent}");
    assert_eq!(json_body(&sent)["error"]["code"], "body_too_large");
    for (head, status, code) in bad_heads("request_malformed") {
        let sent = raw(running.addr(), &ca, as_agency, &head).await;
        assert!(sent.starts_with(&format!("HTTP/1.1 {status}")), "{sent}");
        assert_eq!(json_body(&sent)["error"]["code"], code, "{sent}");
    }
    running.shutdown().await;
}

// ---- `minimis serve` as a process ----------------------------------------------------

/// `minimis serve` on `dir/data`, with `config` as its configuration file if given, and
/// at most `nofile` descriptors if given; the default log level.
async fn serve(dir: &Path, world: &World, config: Option<&str>, nofile: Option<u32>) -> Serve {
    let config = config.map(|text| {
        let path = dir.join("serve.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    let options = serve::Options {
        config,
        nofile,
        ..serve::Options::default()
    };
    let exe: &Path = env!("CARGO_BIN_EXE_minimis").as_ref();
    Serve::start(exe, &dir.join("data"), world, &options).await
}

/// A client served within [`PATIENCE`] (connections may wait in the kernel's queue).
async fn served(serve: &Serve) -> StatusCode {
    tokio::time::timeout(PATIENCE, async {
        let mut c = serve.client().await;
        c.get("/v1/policy").await.unwrap().status
    })
    .await
    .expect("the server did not serve a client")
}

/// The child's open sockets, from `/proc`.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// CPU time (user and system, in clock ticks) of a process's threads, or of the calling
/// thread (`/proc/thread-self`), from `/proc/.../stat`.
fn cpu_ticks(stat: &str) -> u64 {
    // Fields after the command name (which is in parentheses): utime is the 14th field
    // of the line, stime the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn process_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(0, |s| cpu_ticks(&s))
}

fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_5_minimis_serve_holds_at_most_max_connections_and_serves_a_client_past_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::new(&[]);
    let config = "[limits]\nmax_connections = 50\nhandshake_timeout_seconds = 5\n";
    let serve = serve(dir.path(), &world, Some(config), None).await;
    assert_eq!(served(&serve).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sockets(serve.pid());
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(TcpStream::connect(serve.addr).await.unwrap());
    }
    // Sampled while the 80 are held (before the handshake timeout can free a slot).
    let mut most = 0;
    for _ in 0..50 {
        most = most.max(sockets(serve.pid()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        most <= before + 50,
        "the server held {} connections with a cap of 50",
        most - before
    );
    assert!(
        most >= before + 40,
        "the 80 connections were being accepted (the check is not vacuous): {} held",
        most.saturating_sub(before)
    );
    // A client waits in the kernel's queue and is served once timeouts free slots.
    assert_eq!(served(&serve).await, StatusCode::OK);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_6_out_of_descriptors_minimis_serve_backs_off_instead_of_spinning_and_serves_again() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::new(&[]);
    // Slots never free themselves during the test: only the descriptor limit stops
    // accepting.
    let config = "[limits]\nhandshake_timeout_seconds = 120\nidle_timeout_seconds = 120\n";
    let serve = serve(dir.path(), &world, Some(config), Some(100)).await;
    assert_eq!(served(&serve).await, StatusCode::OK);
    let mut held = Vec::new();
    for _ in 0..150 {
        held.push(TcpStream::connect(serve.addr).await.unwrap());
    }
    // The server ran out of descriptors (the check is not vacuous).
    let deadline = Instant::now() + PATIENCE;
    while !serve.saw("cannot accept connections") {
        assert!(
            Instant::now() < deadline,
            "the server never said it could not accept: {:?}",
            serve.lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The CPU the server uses while out of descriptors, against what a thread that never
    // stops gets on this machine over the same three seconds: a loop that spins on the
    // failing accept gets about as much as the spinner.
    let pid = serve.pid();
    let spinner = std::thread::spawn(|| {
        let ticks = || cpu_ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
        let start = ticks();
        let end = Instant::now() + Duration::from_secs(3);
        let mut x = 0u64;
        while Instant::now() < end {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        ticks() - start
    });
    let server_start = process_ticks(pid);
    let spun = tokio::task::spawn_blocking(move || spinner.join().unwrap())
        .await
        .unwrap();
    let server_used = process_ticks(pid) - server_start;
    eprintln!("svc_6: over 3 s the server used {server_used} ticks, a spinning thread {spun}");
    assert!(spun > 0, "the spinner was measured");
    assert!(
        server_used * 4 < spun,
        "the server spins while out of descriptors: {server_used} ticks against a spinner's {spun}"
    );
    // The pressure ends: a client is served again.
    drop(held);
    assert_eq!(served(&serve).await, StatusCode::OK);
}

// ---- no arrival times ------------------------------------------------------------------

/// Every way the tests look for a time: decimal Unix seconds (which also begin any
/// millisecond or microsecond count), the seconds as SQLite stores an integer (4 bytes,
/// big-endian) and as 8 bytes either way, and RFC 3339 or similar text to the minute.
fn time_needles(t: i64) -> Vec<(String, Vec<u8>)> {
    let mut n = vec![
        (format!("decimal {t}"), t.to_string().into_bytes()),
        (
            format!("u32 big-endian {t}"),
            u32::try_from(t).unwrap().to_be_bytes().to_vec(),
        ),
        (format!("i64 big-endian {t}"), t.to_be_bytes().to_vec()),
        (format!("i64 little-endian {t}"), t.to_le_bytes().to_vec()),
    ];
    let dt = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::from_second(t).unwrap());
    for sep in ['T', ' '] {
        let minute = format!(
            "{}{sep}{:02}:{:02}",
            dt.date(),
            dt.time().hour(),
            dt.time().minute()
        );
        n.push((format!("text {minute}"), minute.into_bytes()));
    }
    n
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_33_svc_11_svc_12_svc_13_no_file_or_line_of_a_minimis_serve_run_holds_when_a_check_in_arrived()
 {
    let world = World::keyed_at(UnixTime(now_secs()), 1);
    let epochs = world.epochs();
    let dir = tempfile::tempdir().unwrap();
    // The defaults: no configuration file, the default log level.
    let serve = serve(dir.path(), &world, None, None).await;
    let mut c = serve.client().await;
    for e in epochs {
        for r in world.published(e) {
            let reply = c
                .post("/v1/recipients", serde_json::to_vec(&r).unwrap())
                .await
                .unwrap();
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json());
        }
    }
    let mut officer = Client::connect(
        serve.addr,
        &serve.cert,
        Some((&serve.officer.0, &serve.officer.1)),
        Versions::Tls13,
    )
    .await
    .unwrap();
    let mut people = Vec::new();
    for _ in 0..3 {
        let mut p = world.participant();
        p.schedule = serve::always_open();
        people.push(minimis_testkit::https::enroll(&mut officer, p).await);
    }
    let mut challenges = Vec::new();
    for p in &people {
        challenges.push(serve::first_challenge(&mut c, p).await);
    }
    let issued = challenges
        .iter()
        .map(|ch| ch.issued_at.seconds())
        .max()
        .unwrap();
    // The check-ins start two seconds after the last challenge was issued, so that no
    // time of theirs is a time of the challenges.
    while now_secs() < issued + 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let first = SystemTime::now();
    for (p, ch) in people.iter().zip(&challenges) {
        let payload = minimis_testkit::payload(ch.id, ZoneResult::Inside, "");
        let keys = world.sealing_keys(UnixTime(now_secs()));
        let env = minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap();
        let r = c
            .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let last = SystemTime::now();
    // Anything the check-ins made the server write has been written by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet_until = SystemTime::now();

    // 1. No line was written while the check-ins arrived, nor in the seconds after: a
    // collector stamping lines would date none of them. (A tally is written only at a
    // UTC day's end; if one fell in the window, its lines are allowed.)
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let midnight_in_window = secs(first) / 86_400 != secs(quiet_until) / 86_400;
    let written: Vec<Line> = serve
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.at >= first && l.at <= quiet_until)
        .filter(|l| !(midnight_in_window && l.text.contains("in the period")))
        .cloned()
        .collect();
    assert!(
        written.is_empty(),
        "the server wrote while check-ins arrived: {written:?}"
    );
    assert!(
        serve.saw("listening on"),
        "the server's lines were read (the check is not vacuous)"
    );

    // 2. No file of the data directory, and nothing the server wrote, holds a time in the
    // window the check-ins arrived in, to the second or to the minute.
    let (from, to) = (secs(first) as i64 - 1, secs(last) as i64 + 1);
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for t in from..=to {
        for n in time_needles(t) {
            if !needles.iter().any(|(_, b)| *b == n.1) {
                needles.push(n);
            }
        }
    }
    // The minutes of the window may be the minute the challenges were issued; a minute
    // is checked only if no challenge was issued in it.
    let issued_minutes: Vec<Vec<u8>> = challenges
        .iter()
        .flat_map(|ch| time_needles(ch.issued_at.seconds()))
        .filter(|(what, _)| what.starts_with("text"))
        .map(|(_, b)| b)
        .collect();
    needles.retain(|(_, b)| !issued_minutes.contains(b));
    // Everything the server wrote, to the end of the run.
    let output: Vec<u8> = serve
        .lines
        .lock()
        .unwrap()
        .iter()
        .flat_map(|l| format!("{}\n", l.text).into_bytes())
        .collect();
    drop(serve);
    // 3. The server does not date its own lines (SVC-13): today's date is in none of them.
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_second(secs(first) as i64).unwrap())
        .date()
        .to_string();
    assert!(
        midnight_in_window || !contains(&output, today.as_bytes()),
        "the server dated its lines: {}",
        String::from_utf8_lossy(&output)
    );
    let mut files = Vec::new();
    files_under(&dir.path().join("data"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("minimis.sqlite3")),
        "{files:?}"
    );
    let mut everything: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    everything.push(("the server's output".to_owned(), output));
    for (what, bytes) in &everything {
        for (name, needle) in &needles {
            assert!(
                !contains(bytes, needle),
                "{what} holds a check-in's arrival time ({name})"
            );
        }
    }
    // The scan finds times where they are: the challenges' issue times, which the server
    // keeps (CHL-7), are in the database (the check is not vacuous).
    let t0 = challenges[0].issued_at.seconds();
    let found = everything.iter().any(|(_, b)| {
        time_needles(t0)
            .iter()
            .any(|(what, n)| what.starts_with("u32") && contains(b, n))
    });
    assert!(found, "the scan found the challenge's issue time {t0}");
}
