//! `minimis serve` as a child process, for the end-to-end tests: started on a data
//! directory with the custodians' keys of a [`World`], its standard output and error
//! read line by line as they come (so that a pipe never fills), its address taken from
//! the line it prints. Dropping it kills it.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;

use crate::https::{Client, Method, StatusCode, Versions};
use crate::{Participant, World};
use minimis_proto::{Challenge, Schedule, UnixTime, Weekday, Window};

/// How long a server may take to start (a loaded 2-core machine building in parallel):
/// only catches a hang.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The line `minimis serve` prints once it listens.
const LISTENING: &str = "minimis serve: listening on https://";

/// A line the child wrote, with when the test read it (as a log collector would stamp
/// it).
#[derive(Clone, Debug)]
pub struct Line {
    /// When it was read.
    pub at: SystemTime,
    /// The line, without its end.
    pub text: String,
}

/// How to start the server.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A configuration file (`--config`).
    pub config: Option<PathBuf>,
    /// At most this many file descriptors (the shell's `ulimit -n`).
    pub nofile: Option<u32>,
    /// `MINIMIS_LOG`; `None` removes it (the default level).
    pub log: Option<String>,
    /// Waits until the server answers `GET /v1/policy` over TLS, not only until it
    /// prints its address.
    pub wait_until_served: bool,
}

/// A running `minimis serve`.
pub struct Serve {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every line it wrote so far, standard output and error together.
    pub lines: Arc<Mutex<Vec<Line>>>,
    /// Its certificate (PEM), from its data directory's development PKI.
    pub cert: String,
    /// The development officer's certificate and key (PEM).
    pub officer: (String, String),
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(from: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<Line>>>) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines() {
            let Ok(text) = line else { break };
            let at = SystemTime::now();
            into.lock().unwrap().push(Line { at, text });
        }
    });
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Serve {
    /// Starts `exe serve` (the `minimis` binary under test) on `data`, trusting
    /// `world`'s custodians, and waits until it prints its address (and, with
    /// [`Options::wait_until_served`], answers), for at most [`PATIENCE`].
    pub async fn start(exe: &Path, data: &Path, world: &World, options: &Options) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--data-dir".into(),
            data.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--agency-key".into(),
            b64.encode(world.agency_key.public_key().as_bytes()),
            "--oversight-key".into(),
            b64.encode(world.oversight_key.public_key().as_bytes()),
        ];
        if let Some(path) = &options.config {
            args.extend(["--config".into(), path.display().to_string()]);
        }
        let mut cmd = match options.nofile {
            None => {
                let mut c = Command::new(exe);
                c.args(&args);
                c
            }
            // The shell's own `ulimit`, then the server in its place (same process).
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(exe)
                    .args(&args);
                c
            }
        };
        match &options.log {
            Some(level) => cmd.env("MINIMIS_LOG", level),
            None => cmd.env_remove("MINIMIS_LOG"),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        read_lines(child.stdout.take().unwrap(), lines.clone());
        read_lines(child.stderr.take().unwrap(), lines.clone());
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let found = lines.lock().unwrap().iter().find_map(|l| {
                l.text
                    .strip_prefix(LISTENING)
                    .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            });
            if let Some(a) = found {
                break a;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start: {:?}",
                lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let tls = data.join("tls");
        let s = Self {
            child,
            addr,
            lines,
            cert: read(tls.join("server.crt")),
            officer: (
                read(tls.join("officer-0001.crt")),
                read(tls.join("officer-0001.key")),
            ),
        };
        if options.wait_until_served {
            loop {
                if let Ok(mut c) = Client::connect(addr, &s.cert, None, Versions::Tls13).await
                    && let Ok(r) = c.get("/v1/policy").await
                    && r.status == StatusCode::OK
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the server never became ready: {:?}",
                    s.lines.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        s
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A connection without a client certificate.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr, &self.cert, None, Versions::Tls13)
            .await
            .unwrap()
    }

    /// A connection with the development officer's certificate.
    pub async fn officer_client(&self) -> Client {
        Client::connect(
            self.addr,
            &self.cert,
            Some((&self.officer.0, &self.officer.1)),
            Versions::Tls13,
        )
        .await
        .unwrap()
    }

    /// Whether a line it wrote holds `text`.
    pub fn saw(&self, text: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.text.contains(text))
    }

    /// SIGKILL (`Child::kill` is SIGKILL on Unix), and reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        tokio::task::block_in_place(|| self.child.wait()).unwrap();
    }
}

/// The system clock, as the protocol's time (a child server runs on it).
pub fn system_now() -> UnixTime {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UnixTime(i64::try_from(secs).unwrap())
}

/// Open all day, every day, in UTC, one check-in a day: a schedule under which a server
/// on the system clock issues a challenge at once.
pub fn always_open() -> Schedule {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let windows = days
        .into_iter()
        .map(|weekday| Window {
            weekday,
            start: "00:00".parse().unwrap(),
            end: "24:00".parse().unwrap(),
        })
        .collect();
    Schedule::new("UTC", windows, 1, 0).unwrap()
}

/// Waits, for at most [`PATIENCE`], until the server's scheduler has issued `p` a
/// challenge (a signed request on the system clock), and returns the first.
pub async fn first_challenge(c: &mut Client, p: &Participant) -> Challenge {
    let path = format!("/v1/participants/{}/challenges", p.pseudonym);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = c
            .signed(
                Method::GET,
                &path,
                &p.pseudonym,
                &p.device,
                system_now(),
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        let open: Vec<minimis_proto::SignedChallenge> = serde_json::from_slice(&r.body).unwrap();
        if let Some(first) = open.into_iter().next() {
            return first.challenge;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler issued no challenge"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
