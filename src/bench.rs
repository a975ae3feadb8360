//! `minimis bench ingest`: durable check-ins a second through the operator's server over
//! TLS, against the same job done the way a conventional vendor does it.
//!
//! What it does, in order:
//!
//! 1. **Setup, not timed.** Starts `minimis serve` (this binary, as a child process) on a
//!    fresh data directory, publishes two custodians' recipients for the current and the
//!    next epoch, enrolls `--participants` participants through the officer API (mutual
//!    TLS, `--clients` connections at once) with a schedule open all day every day in
//!    UTC (the server runs on the real clock), waits for the scheduler to issue the first
//!    `--checkins` of them a challenge and fetches each with a signed request, then seals
//!    and signs every answer on the device side (age, two layers) and, for the baseline,
//!    encodes the same 512-byte payload in the clear. The server is then killed and its
//!    data directory, checkpointed, becomes the snapshot every run starts from.
//! 2. **Runs, timed.** `--runs` times for each mode, alternating: copy the snapshot to a
//!    fresh directory, start `minimis serve` (or the comparator, `minimis bench serve-plaintext-baseline`),
//!    open `--clients` TLS 1.3 connections, then time from the first request to the last
//!    response while every connection posts check-ins back to back (a closed loop). Each
//!    request's latency is from writing it to reading its whole response. Every answer
//!    must be `201`; a `201` means the check-in is durable (CHK-15).
//! 3. **Figures.** Check-ins per second (median of the runs), latency percentiles (median
//!    of the runs' p50, p90, p99), the server's peak RSS (`VmHWM` of the child's
//!    `/proc/<pid>/status`: the whole process, from its start with every participant
//!    enrolled to the end of ingest; the largest of the runs), and bytes stored per
//!    check-in (growth of the data directory's database after a `wal_checkpoint(TRUNCATE)`,
//!    over the snapshot, divided by the check-ins). The cost of privacy is the ratio of
//!    the medians of the two modes' ingest times.
//!
//! The load generator runs in this process, on the same cores as the server: the figures
//! are what the two together reach, not the server alone. The server runs with
//! `MINIMIS_LOG=warn` in both modes, so neither writes a request log line.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    ChallengeId, CheckInPayload, CustodianRole, EpochId, Note, Policy, PresenceResult, Pseudonym,
    Schedule, SignedChallenge, SignedEpochRecipient, UnixTime, Weekday, Window, ZoneResult,
};
use minimis_seal::{CustodianKeys, EpochKeyring, SealingKeys};
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::Outcome;

/// `minimis bench`.
#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Durable check-ins per second through `minimis serve` over TLS, latency, the
    /// server's peak RSS and bytes stored per check-in, against a plaintext baseline
    /// (`minimis bench serve-plaintext-baseline`) measured in the same run.
    Ingest(IngestArgs),
    /// BENCHMARK COMPARATOR ONLY, never with real participants: the operator's server
    /// taking check-ins in the clear and storing them readable by the operator, with no
    /// signature, no log and no receipt (the conventional vendor `minimis bench ingest`
    /// compares minimis with). The flags of `minimis serve`. Started by `minimis bench
    /// ingest`; not in `minimis serve` nor in the operator's binary (SEAL-26).
    #[command(hide = true)]
    ServePlaintextBaseline(minimis_operator::ServeArgs),
}

#[derive(clap::Args)]
struct IngestArgs {
    /// Check-ins per run. 197490 replays one day of the FY2023 ISAP population (197,490
    /// enrolled participants, one check-in each).
    #[arg(long, default_value_t = 20_000)]
    checkins: usize,
    /// Participants to enroll (default: as many as check-ins); those beyond --checkins are
    /// enrolled and challenged but do not check in.
    #[arg(long)]
    participants: Option<usize>,
    /// Timed runs per mode; the report gives medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Concurrent TLS connections of the load generator.
    #[arg(long, default_value_t = 128)]
    clients: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Keep every data directory and server log in this directory (default: a temporary
    /// directory, removed at the end).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

/// How long the server may take to start (it rebuilds its view of every participant).
const START_PATIENCE: Duration = Duration::from_secs(600);

pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        BenchCommand::Ingest(a) => ingest(a),
        BenchCommand::ServePlaintextBaseline(a) => serve_plaintext_baseline(a),
    }
}

/// The comparator's server: `minimis serve`'s start-up with the plaintext baseline's
/// ingest mode, which only this crate's build of `minimis-server` has (its
/// `dangerous-plaintext-baseline` feature).
fn serve_plaintext_baseline(args: &minimis_operator::ServeArgs) -> anyhow::Result<Outcome> {
    let mut config = args.config()?;
    config.ingest_mode = minimis_server::IngestMode::DangerousPlaintextBaseline;
    minimis_operator::serve(
        config,
        "minimis bench serve-plaintext-baseline",
        &[
            "WARNING: plaintext baseline mode, a benchmark comparator: check-ins are stored in the clear, unsigned and unlogged",
        ],
    )?;
    Ok(Outcome::Success)
}

// ---- the report ------------------------------------------------------------------------

#[derive(Serialize)]
struct Report {
    checkins: usize,
    participants: usize,
    runs: usize,
    clients: usize,
    cores: usize,
    server: &'static str,
    setup: Setup,
    minimis: ModeReport,
    baseline: ModeReport,
    /// Median ingest time of minimis over the baseline's: the cost of privacy.
    time_ratio: f64,
}

#[derive(Serialize)]
struct Setup {
    enroll_seconds: f64,
    enroll_per_second: f64,
    challenges_seconds: f64,
    seal_seconds: f64,
    snapshot_bytes: u64,
    /// Peak RSS of the setup server (enrollment, challenge issuance), bytes.
    setup_server_peak_rss_bytes: u64,
}

#[derive(Serialize, Clone)]
struct RunReport {
    seconds: f64,
    checkins_per_second: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    peak_rss_bytes: u64,
    bytes_per_checkin: f64,
    /// Bytes the server wrote (WAL frames, checkpoints) during the timed window, over
    /// check-ins.
    written_bytes_per_checkin: f64,
    /// CPU time of the server process (all threads) during the timed window.
    server_cpu_us_per_checkin: f64,
    /// CPU time of this process (the load generator) during the timed window.
    generator_cpu_us_per_checkin: f64,
    /// The machine's idle time during the timed window, percent.
    idle_percent: f64,
}

#[derive(Serialize)]
struct ModeReport {
    /// Medians over the runs.
    checkins_per_second: f64,
    seconds: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    /// The largest of the runs.
    peak_rss_bytes: u64,
    bytes_per_checkin: f64,
    written_bytes_per_checkin: f64,
    server_cpu_us_per_checkin: f64,
    generator_cpu_us_per_checkin: f64,
    idle_percent: f64,
    runs: Vec<RunReport>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl ModeReport {
    fn of(runs: Vec<RunReport>) -> Self {
        let m = |f: fn(&RunReport) -> f64| median(runs.iter().map(f).collect());
        Self {
            checkins_per_second: m(|r| r.checkins_per_second),
            seconds: m(|r| r.seconds),
            p50_ms: m(|r| r.p50_ms),
            p90_ms: m(|r| r.p90_ms),
            p99_ms: m(|r| r.p99_ms),
            peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
            bytes_per_checkin: m(|r| r.bytes_per_checkin),
            written_bytes_per_checkin: m(|r| r.written_bytes_per_checkin),
            server_cpu_us_per_checkin: m(|r| r.server_cpu_us_per_checkin),
            generator_cpu_us_per_checkin: m(|r| r.generator_cpu_us_per_checkin),
            idle_percent: m(|r| r.idle_percent),
            runs,
        }
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn print_report(r: &Report) {
    println!(
        "minimis bench ingest: {} check-ins per run, {} participants enrolled, {} runs per mode, {} TLS 1.3 connections",
        r.checkins, r.participants, r.runs, r.clients
    );
    println!(
        "machine: {} cores, shared by the server and the load generator",
        r.cores
    );
    println!(
        "setup (not timed): enrolled {} participants through the API in {:.1} s ({:.0}/s); fetched {} challenges in {:.1} s; sealed {} check-ins in {:.1} s",
        r.participants,
        r.setup.enroll_seconds,
        r.setup.enroll_per_second,
        r.checkins,
        r.setup.challenges_seconds,
        r.checkins,
        r.setup.seal_seconds
    );
    println!(
        "setup server: peak RSS {:.1} MiB; snapshot {:.1} MiB",
        mib(r.setup.setup_server_peak_rss_bytes),
        mib(r.setup.snapshot_bytes)
    );
    println!();
    println!(
        "{:<20} {:>12} {:>9} {:>9} {:>9} {:>15} {:>15}   runs (check-ins/s)",
        "mode", "check-ins/s", "p50 ms", "p90 ms", "p99 ms", "peak RSS MiB", "bytes/check-in"
    );
    for (name, m) in [("minimis", &r.minimis), ("plaintext baseline", &r.baseline)] {
        let runs: Vec<String> = m
            .runs
            .iter()
            .map(|x| format!("{:.0}", x.checkins_per_second))
            .collect();
        println!(
            "{:<20} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>15.1} {:>15.0}   {}",
            name,
            m.checkins_per_second,
            m.p50_ms,
            m.p90_ms,
            m.p99_ms,
            mib(m.peak_rss_bytes),
            m.bytes_per_checkin,
            runs.join(" ")
        );
    }
    println!();
    println!(
        "{:<20} {:>22} {:>22} {:>12} {:>22}",
        "per check-in", "server CPU", "load generator CPU", "idle", "server bytes written"
    );
    for (name, m) in [("minimis", &r.minimis), ("plaintext baseline", &r.baseline)] {
        println!(
            "{:<20} {:>19.1} us {:>19.1} us {:>11.1}% {:>22.0}",
            name,
            m.server_cpu_us_per_checkin,
            m.generator_cpu_us_per_checkin,
            m.idle_percent,
            m.written_bytes_per_checkin
        );
    }
    println!();
    println!(
        "cost of privacy: minimis takes {:.2}x the plaintext baseline's time (median ingest {:.3} s vs {:.3} s)",
        r.time_ratio, r.minimis.seconds, r.baseline.seconds
    );
    println!(
        "check-ins/s and latencies: medians over the runs; peak RSS: {}, the largest of the runs; bytes/check-in: database growth after a WAL checkpoint, over check-ins",
        r.server
    );
}

// ---- the server, as a child process ---------------------------------------------------------

/// A `minimis serve` child process; killed when dropped.
struct ServerProcess {
    child: std::process::Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(
        dir: &Path,
        keys: &Custodians,
        baseline: bool,
        log: &Path,
        clients: usize,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the minimis binary")?;
        // The load generator holds `clients` connections at once: the server's connection
        // cap (512 by default, SVC-5) must not make some of them wait.
        let config = log.with_extension("toml");
        std::fs::write(
            &config,
            format!(
                "[limits]\nmax_connections = {}\n",
                (clients + 16).clamp(512, 65_536)
            ),
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
        let stderr = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = std::process::Command::new(exe);
        if baseline {
            cmd.args(["bench", "serve-plaintext-baseline"]);
        } else {
            cmd.arg("serve");
        }
        cmd.arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args([
                "--agency-key",
                &B64.encode(keys.agency.public_key().as_bytes()),
            ])
            .args([
                "--oversight-key",
                &B64.encode(keys.oversight.public_key().as_bytes()),
            ])
            .env("MINIMIS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().context("cannot start minimis serve")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no standard output from minimis serve"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((_, a)) = line.split_once(": listening on https://") {
                    let _ = tx.send(a.trim().parse::<SocketAddr>());
                }
            }
        });
        let mut me = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        me.addr = match rx.recv_timeout(START_PATIENCE) {
            Ok(Ok(a)) => a,
            _ => bail!(
                "minimis serve did not start; its log, {}:\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        };
        Ok(me)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The peak resident set size of the whole process so far (`VmHWM`), in bytes.
    fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .context("cannot read /proc/<pid>/status (peak RSS is measured on Linux)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| anyhow!("no VmHWM in /proc/<pid>/status"))
    }

    /// SIGKILL, and reap it.
    fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().context("cannot stop minimis serve")?;
        self.child.wait().context("cannot reap minimis serve")?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a small HTTP/1.1 client over TLS 1.3 -----------------------------------------------

/// The workspace's one client TLS configuration (TLS 1.3, ALPN `http/1.1`; SVC-42): the
/// load generator writes its own HTTP/1.1 over it, to measure the server rather than a
/// client.
fn tls_config(
    server_cert: &str,
    client: Option<(&str, &str)>,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    Ok(Arc::new(minimis_wire::https::client_config(
        server_cert,
        client,
    )?))
}

/// One keep-alive HTTP/1.1 connection over TLS.
struct Conn {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await?;
        Ok(Self {
            tls,
            buf: Vec::with_capacity(8192),
            request: Vec::with_capacity(4096),
        })
    }

    /// Sends a request and reads the whole response: its status and body.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{headers}content-length: {}\r\n\r\n",
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.tls.write_all(&self.request).await?;
        self.tls.flush().await?;
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.tls.read(&mut chunk).await?;
            ensure!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end])?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP/1.1 response"))?;
        let mut length = 0usize;
        for line in head.split("\r\n").skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked responses are not expected from minimis serve");
                }
            }
        }
        while self.buf.len() < head_end + length {
            let n = self.tls.read(&mut chunk).await?;
            ensure!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok((status, body))
    }
}

// ---- participants and custodians ---------------------------------------------------------

struct Custodians {
    agency: SigningKey,
    oversight: SigningKey,
    published: Vec<SignedEpochRecipient>,
}

impl Custodians {
    fn new(policy: &Policy, epochs: &[EpochId]) -> anyhow::Result<Self> {
        let id = |role: CustodianRole| {
            policy
                .custodian(role)
                .map(|c| c.id.clone())
                .ok_or_else(|| anyhow!("the policy names no {role} custodian"))
        };
        let mut agency_ring = EpochKeyring::new(CustodianRole::Agency, id(CustodianRole::Agency)?);
        let mut oversight_ring =
            EpochKeyring::new(CustodianRole::Oversight, id(CustodianRole::Oversight)?);
        let agency = SigningKey::generate()?;
        let oversight = SigningKey::generate()?;
        let mut published = Vec::new();
        for &e in epochs {
            agency_ring.generate(e)?;
            oversight_ring.generate(e)?;
            let not_after = policy.epoch_end(e);
            published.push(agency_ring.publish(e, not_after, &agency)?);
            published.push(oversight_ring.publish(e, not_after, &oversight)?);
        }
        Ok(Self {
            agency,
            oversight,
            published,
        })
    }

    fn keys(&self) -> CustodianKeys {
        CustodianKeys {
            agency: self.agency.public_key(),
            oversight: Some(self.oversight.public_key()),
        }
    }
}

struct Person {
    pseudonym: Pseudonym,
    device: SigningKey,
}

fn now() -> UnixTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Open all day, every day, in UTC: the server runs on the real clock.
fn always_open() -> anyhow::Result<Schedule> {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let mut windows = Vec::new();
    for weekday in days {
        windows.push(Window {
            weekday,
            start: "00:00".parse()?,
            end: "24:00".parse()?,
        });
    }
    Ok(Schedule::new("UTC", windows, 1, 0)?)
}

/// Runs `f` over `0..n` split across `clients` tasks, each with its own connection.
async fn fan_out<T, F, Fut>(
    n: usize,
    clients: usize,
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    f: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Conn, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<(Conn, T)>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients.min(n.max(1)) {
        let conn = Conn::connect(addr, config).await?;
        let (next, f) = (next.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut conn = conn;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (c, t) = f(conn, i).await?;
                conn = c;
                out.push((i, t));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all: Vec<(usize, T)> = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// What the timed runs send: the sealed envelopes, and the same payloads in the clear.
struct Bodies {
    sealed: Arc<Vec<Vec<u8>>>,
    plaintext: Arc<Vec<Vec<u8>>>,
}

struct Prepared {
    snapshot: PathBuf,
    server_cert: String,
    bodies: Bodies,
    setup: Setup,
}

/// Enrolls, fetches challenges, seals; leaves a checkpointed snapshot directory.
async fn prepare(
    a: &IngestArgs,
    participants: usize,
    work: &Path,
    custodians: &Custodians,
    policy: &Policy,
) -> anyhow::Result<Prepared> {
    let snapshot = work.join("snapshot");
    let server = ServerProcess::start(
        &snapshot,
        custodians,
        false,
        &work.join("setup.log"),
        a.clients,
    )?;
    let tls = snapshot.join("tls");
    let read = |f: &str| {
        std::fs::read_to_string(tls.join(f)).with_context(|| format!("cannot read tls/{f}"))
    };
    let server_cert = read("server.crt")?;
    let officer = tls_config(
        &server_cert,
        Some((&read("officer-0001.crt")?, &read("officer-0001.key")?)),
    )?;
    let anyone = tls_config(&server_cert, None)?;
    let mut c = Conn::connect(server.addr, &anyone).await?;
    for r in &custodians.published {
        let (status, body) = c
            .request("POST", "/v1/recipients", "", &serde_json::to_vec(r)?)
            .await?;
        ensure!(
            status == 204,
            "publishing a recipient: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }

    // Enrollment, through the officer API.
    let schedule = Arc::new(always_open()?);
    let start = Instant::now();
    let people: Vec<Person> = fan_out(participants, a.clients, server.addr, &officer, {
        let schedule = schedule.clone();
        move |mut conn: Conn, _| {
            let schedule = schedule.clone();
            async move {
                let device = SigningKey::generate()?;
                let tags = TagKey::generate()?;
                let body = serde_json::to_vec(&serde_json::json!({
                    "device_key": B64.encode(device.public_key().as_bytes()),
                    "tag_key": B64.encode(tags.expose_secret()),
                    "schedule": &*schedule,
                }))?;
                let (status, reply) = conn
                    .request(
                        "POST",
                        "/v1/enrollments",
                        "content-type: application/json\r\n",
                        &body,
                    )
                    .await?;
                ensure!(
                    status == 201,
                    "enrollment: {status} {}",
                    String::from_utf8_lossy(&reply)
                );
                let v: serde_json::Value = serde_json::from_slice(&reply)?;
                let pseudonym: Pseudonym = v["pseudonym"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no pseudonym in the enrollment's answer"))?
                    .parse()?;
                Ok((conn, Person { pseudonym, device }))
            }
        }
    })
    .await?;
    let enroll_seconds = start.elapsed().as_secs_f64();

    // Each participant who will check in fetches its challenge, once the scheduler has
    // issued it.
    let start = Instant::now();
    let people = Arc::new(people);
    let challenges: Vec<ChallengeId> = fan_out(a.checkins, a.clients, server.addr, &anyone, {
        let people = people.clone();
        move |mut conn: Conn, i| {
            let people = people.clone();
            async move {
                let p = &people[i];
                let path = format!("/v1/participants/{}/challenges", p.pseudonym);
                let deadline = Instant::now() + START_PATIENCE;
                loop {
                    let t = now();
                    let sig =
                        minimis_crypto::sign_request(&p.device, &p.pseudonym, "GET", &path, t, b"");
                    let auth = format!(
                        "authorization: Minimis-Device pseudonym={},time={},signature={}\r\n",
                        p.pseudonym,
                        t.seconds(),
                        B64.encode(sig.as_bytes())
                    );
                    let (status, body) = conn.request("GET", &path, &auth, b"").await?;
                    ensure!(
                        status == 200,
                        "fetching challenges: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                    let open: Vec<SignedChallenge> = serde_json::from_slice(&body)?;
                    if let Some(c) = open.first() {
                        return Ok((conn, c.challenge.id));
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "the scheduler issued no challenge"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    })
    .await?;
    let challenges_seconds = start.elapsed().as_secs_f64();
    let setup_server_peak_rss_bytes = server.peak_rss()?;
    server.stop()?;

    // Seal on the device side (not timed), on every core.
    let start = Instant::now();
    let keys = SealingKeys::verify(policy, now(), &custodians.published, &custodians.keys())?;
    let note = Note::new("", minimis_proto::payload::NOTE_CAPACITY)?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = a.checkins.div_ceil(threads).max(1);
    let indices: Vec<usize> = (0..a.checkins).collect();
    let mut sealed = Vec::with_capacity(a.checkins);
    let mut plaintext = Vec::with_capacity(a.checkins);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                let (keys, note, people, challenges) = (&keys, &note, &people, &challenges);
                s.spawn(move || -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
                    let mut out = Vec::with_capacity(part.len());
                    for &i in part {
                        let p = &people[i];
                        let payload = CheckInPayload {
                            challenge_id: challenges[i],
                            zone: ZoneResult::Inside,
                            presence: PresenceResult::Confirmed,
                            device_time: now(),
                            note: note.clone(),
                        };
                        let env =
                            minimis_seal::seal_envelope(&payload, keys, p.pseudonym, &p.device)?;
                        let clear = serde_json::json!({
                            "pseudonym": p.pseudonym,
                            "challenge_id": challenges[i],
                            "payload": B64.encode(payload.encode().expose()),
                        });
                        out.push((serde_json::to_vec(&env)?, serde_json::to_vec(&clear)?));
                    }
                    Ok(out)
                })
            })
            .collect();
        for h in handles {
            let part = h
                .join()
                .map_err(|_| anyhow!("a sealing thread panicked"))??;
            for (s, p) in part {
                sealed.push(s);
                plaintext.push(p);
            }
        }
        Ok(())
    })?;
    let seal_seconds = start.elapsed().as_secs_f64();

    minimis_server::store::sqlite::SqliteStore::open(&snapshot)?.checkpoint()?;
    let snapshot_bytes = db_bytes(&snapshot)?;
    Ok(Prepared {
        snapshot,
        server_cert,
        bodies: Bodies {
            sealed: Arc::new(sealed),
            plaintext: Arc::new(plaintext),
        },
        setup: Setup {
            enroll_seconds,
            enroll_per_second: participants as f64 / enroll_seconds.max(1e-9),
            challenges_seconds,
            seal_seconds,
            snapshot_bytes,
            setup_server_peak_rss_bytes,
        },
    })
}

/// The database and its WAL, in bytes.
fn db_bytes(dir: &Path) -> anyhow::Result<u64> {
    let db = dir.join(minimis_server::store::sqlite::DB_FILE);
    let mut total = std::fs::metadata(&db)
        .with_context(|| format!("{}", db.display()))?
        .len();
    let wal = dir.join(format!("{}-wal", minimis_server::store::sqlite::DB_FILE));
    if let Ok(m) = std::fs::metadata(wal) {
        total += m.len();
    }
    Ok(total)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)
                .with_context(|| format!("cannot copy to {}", target.display()))?;
        }
    }
    Ok(())
}

/// CPU time, in clock ticks (`USER_HZ`, 100 a second on Linux): the whole machine's busy
/// and idle time from `/proc/stat`, and one process's (all its threads) from
/// `/proc/<pid>/stat`.
#[derive(Clone, Copy, Default)]
struct CpuTicks {
    busy: u64,
    idle: u64,
    server: u64,
    generator: u64,
}

const USER_HZ: f64 = 100.0;

fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Bytes the server process passed to `write` and `pwrite` so far (`wchar` of
/// `/proc/<pid>/io`): the WAL's frames and the checkpoints' copies.
fn written_bytes(server: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{server}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_ticks(server: u32) -> CpuTicks {
    let mut t = CpuTicks {
        server: process_ticks(&server.to_string()),
        generator: process_ticks("self"),
        ..CpuTicks::default()
    };
    if let Some(line) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
    {
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        t.busy = v.iter().take(8).sum::<u64>().saturating_sub(idle);
        t.idle = idle;
    }
    t
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// One timed run: a fresh copy of the snapshot, a server, `clients` connections posting
/// every body once.
async fn timed_run(
    prepared: &Prepared,
    bodies: &Arc<Vec<Vec<u8>>>,
    baseline: bool,
    clients: usize,
    dir: &Path,
    custodians: &Custodians,
) -> anyhow::Result<RunReport> {
    copy_dir(&prepared.snapshot, dir)?;
    let log = dir.with_extension("log");
    let server = ServerProcess::start(dir, custodians, baseline, &log, clients)?;
    let config = tls_config(&prepared.server_cert, None)?;
    let n = bodies.len();
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients.min(n.max(1)) {
        conns.push(Conn::connect(server.addr, &config).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(tokio::sync::Barrier::new(conns.len() + 1));
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let (next, bodies, go) = (next.clone(), bodies.clone(), go.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(n / clients + 1);
            go.wait().await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                let (status, body) = conn
                    .request(
                        "POST",
                        "/v1/checkins",
                        "content-type: application/json\r\n",
                        &bodies[i],
                    )
                    .await?;
                latencies.push(t.elapsed());
                ensure!(
                    status == 201,
                    "a check-in was answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            anyhow::Ok(latencies)
        }));
    }
    let before = cpu_ticks(server.pid());
    let written_before = written_bytes(server.pid());
    go.wait().await;
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = cpu_ticks(server.pid());
    let written = written_bytes(server.pid()).saturating_sub(written_before);
    let per_checkin = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / USER_HZ * 1e6 / n as f64;
    let peak_rss_bytes = server.peak_rss()?;
    server.stop()?;
    minimis_server::store::sqlite::SqliteStore::open(dir)?.checkpoint()?;
    let grown = db_bytes(dir)?.saturating_sub(prepared.setup.snapshot_bytes);
    latencies.sort_unstable();
    Ok(RunReport {
        seconds,
        checkins_per_second: n as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 50.0),
        p90_ms: percentile(&latencies, 90.0),
        p99_ms: percentile(&latencies, 99.0),
        peak_rss_bytes,
        bytes_per_checkin: grown as f64 / n.max(1) as f64,
        written_bytes_per_checkin: written as f64 / n.max(1) as f64,
        server_cpu_us_per_checkin: per_checkin(before.server, after.server),
        generator_cpu_us_per_checkin: per_checkin(before.generator, after.generator),
        idle_percent: {
            let (busy, idle) = (
                after.busy.saturating_sub(before.busy),
                after.idle.saturating_sub(before.idle),
            );
            100.0 * idle as f64 / (busy + idle).max(1) as f64
        },
    })
}

fn ingest(a: &IngestArgs) -> anyhow::Result<Outcome> {
    let participants = a.participants.unwrap_or(a.checkins);
    ensure!(a.checkins > 0, "--checkins must be at least 1");
    ensure!(a.runs > 0, "--runs must be at least 1");
    ensure!(a.clients > 0, "--clients must be at least 1");
    ensure!(
        participants >= a.checkins,
        "--participants ({participants}) must be at least --checkins ({})",
        a.checkins
    );
    let (work, temporary) = match &a.work_dir {
        Some(d) => {
            let empty = std::fs::read_dir(d).map_or(true, |mut e| e.next().is_none());
            ensure!(
                empty,
                "--work-dir {} is not empty: every run needs a fresh data directory",
                d.display()
            );
            (d.clone(), false)
        }
        None => {
            let suffix = hex_suffix()?;
            (
                std::env::temp_dir().join(format!("minimis-bench-{}-{suffix}", std::process::id())),
                true,
            )
        }
    };
    std::fs::create_dir_all(&work)
        .with_context(|| format!("cannot create the work directory {}", work.display()))?;
    let result = ingest_in(a, participants, &work);
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    let report = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(Outcome::Success)
}

fn hex_suffix() -> anyhow::Result<String> {
    let b: [u8; 4] = minimis_crypto::random_bytes()?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn ingest_in(a: &IngestArgs, participants: usize, work: &Path) -> anyhow::Result<Report> {
    let policy = minimis_proto::default_policy();
    let epoch = policy
        .epoch_at(now())
        .ok_or_else(|| anyhow!("the clock is before the first epoch"))?;
    let next = epoch
        .next()
        .ok_or_else(|| anyhow!("no epoch after {epoch:?}"))?;
    let custodians = Custodians::new(&policy, &[epoch, next])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let prepared = prepare(a, participants, work, &custodians, &policy).await?;
        let sealed = prepared.bodies.sealed.clone();
        let plaintext = prepared.bodies.plaintext.clone();
        let (mut minimis, mut baseline) = (Vec::new(), Vec::new());
        for run in 0..a.runs {
            // Alternate which mode goes first, so that both see the same machine.
            let order = if run % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for plain in order {
                let (name, bodies) = if plain {
                    ("baseline", &plaintext)
                } else {
                    ("minimis", &sealed)
                };
                let dir = work.join(format!("run-{run}-{name}"));
                let r = timed_run(&prepared, bodies, plain, a.clients, &dir, &custodians).await?;
                if a.work_dir.is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                if plain {
                    baseline.push(r);
                } else {
                    minimis.push(r);
                }
            }
        }
        let (minimis, baseline) = (ModeReport::of(minimis), ModeReport::of(baseline));
        Ok(Report {
            checkins: a.checkins,
            participants,
            runs: a.runs,
            clients: a.clients,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            server: "VmHWM of the `minimis serve` child process (the whole server process, from its start with every participant enrolled to the end of ingest)",
            time_ratio: minimis.seconds / baseline.seconds.max(1e-9),
            setup: prepared.setup,
            minimis,
            baseline,
        })
    })
}
