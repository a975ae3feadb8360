//! The operator on PostgreSQL, for real (spec/storage.md, STO-11 to STO-13): clusters the
//! tests start with `initdb` and `pg_ctl` in a temporary folder on a loopback port, and
//! stop when dropped. Ignored on a machine without PostgreSQL; `.ci/run` installs it,
//! sets `MINIMIS_PG_BIN` and runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use minimis_log::LogReader;
use minimis_proto::Receipt;
use minimis_server::{Server, ServerConfig, StoreConfig};
use minimis_testkit::https::{Client, StatusCode, Versions};

use crate::server::{Harness, fetch_log};

/// A throwaway cluster (as the server crate's own tests make one): PostgreSQL refuses to
/// run as root, so under root its binaries run as Debian's `postgres` user.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    port: u16,
    _dir: tempfile::TempDir,
}

fn pg(as_postgres: bool, bin: &Path, tool: &str, args: &[&str]) {
    let program = bin.join(tool);
    let status = if as_postgres {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&program)
            .args(args)
            .status()
    } else {
        Command::new(&program).args(args).status()
    };
    assert!(status.is_ok_and(|s| s.success()), "{tool} {args:?}");
}

impl Cluster {
    fn start() -> Self {
        let bin = PathBuf::from(
            std::env::var_os("MINIMIS_PG_BIN")
                .expect("MINIMIS_PG_BIN must name PostgreSQL's bin directory (.ci/run sets it)"),
        );
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster's directory to postgres");
        }
        let data = dir.path().join("data");
        let d = data.to_str().unwrap();
        pg(
            as_postgres,
            &bin,
            "initdb",
            &[
                "-D",
                d,
                "-U",
                "minimis",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        let log = dir.path().join("log");
        pg(
            as_postgres,
            &bin,
            "pg_ctl",
            &[
                "-D",
                d,
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Self {
            bin,
            data,
            as_postgres,
            port,
            _dir: dir,
        }
    }

    fn store(&self) -> StoreConfig {
        StoreConfig::parse(&format!(
            "postgres://minimis@127.0.0.1:{}/postgres",
            self.port
        ))
        .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(d) = self.data.to_str() {
            let program = self.bin.join("pg_ctl");
            let args = ["-D", d, "-m", "immediate", "-w", "stop"];
            let _ = if self.as_postgres {
                Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(&program)
                    .args(args)
                    .status()
            } else {
                Command::new(&program).args(args).status()
            };
        }
    }
}

/// Enrolls, issues a challenge and checks in through `h`; returns the receipt.
async fn check_in_once(h: &Harness) -> Receipt {
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let challenge = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &challenge, "");
    let r = c
        .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let receipt: Receipt = serde_json::from_value(r.json()["receipt"].clone()).unwrap();
    assert_eq!(receipt.record_id, env.record_id());
    receipt
}

async fn log_key(c: &mut Client) -> minimis_log::VerifierKey {
    let keys = c.get("/v1/keys").await.unwrap().json();
    keys["log"].as_str().unwrap().parse().unwrap()
}

/// Every file of a directory tree, by relative path.
fn files(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by .ci/run"]
async fn sto_11_an_operator_on_postgres_takes_check_ins_over_tls_and_its_log_audits() {
    let cluster = Cluster::start();
    let store = cluster.store();
    let h = Harness::start_with(true, move |c| c.store = store).await;
    let receipt = check_in_once(&h).await;
    assert!(
        !h.dir.path().join("data/minimis.sqlite3").exists(),
        "nothing is stored in SQLite"
    );
    let mut c = h.client().await;
    let key = log_key(&mut c).await;
    let dir = h.dir.path().join("fetched");
    let checkpoint = fetch_log(&mut c, &dir).await;
    let reader = LogReader::from_dir(&dir, &key).unwrap();
    reader.audit().unwrap();
    // The receipt verifies against the log's key and is in the audited log.
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        size >= 3,
        "policy, enrollment, challenge and check-in: {size}"
    );
    assert!(
        receipt
            .tlog_proof
            .as_bytes()
            .starts_with(b"c2sp.org/tlog-proof@v1\n")
    );
    // A restart on the same database finds everything (the log reopens from its tiles).
    let data = h.dir.path().join("data");
    h.running.shutdown().await;
    let config = ServerConfig {
        data_dir: data,
        store: cluster.store(),
        listen: "127.0.0.1:0".parse().unwrap(),
        agency_key: Some(h.world.agency_key.public_key()),
        oversight_key: Some(h.world.oversight_key.public_key()),
        ..ServerConfig::default()
    };
    let again = Server::start(config, h.clock.clone()).await.unwrap();
    let mut c = Client::connect(again.addr(), &h.server_cert, None, Versions::Tls13)
        .await
        .unwrap();
    let after = c.get("/v1/log/checkpoint").await.unwrap();
    assert_eq!(String::from_utf8(after.body.to_vec()).unwrap(), checkpoint);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by .ci/run"]
async fn sto_13_two_front_ends_on_one_database_serve_the_same_tiles_and_never_split_the_log() {
    let cluster = Cluster::start();
    let store = cluster.store();
    let a = Harness::start_with(true, move |c| c.store = store).await;
    check_in_once(&a).await;
    // A second front end: the same keys (copied), the same database.
    let data_b = a.dir.path().join("data-b");
    for sub in ["keys", "tls"] {
        std::fs::create_dir_all(data_b.join(sub)).unwrap();
        for e in std::fs::read_dir(a.dir.path().join("data").join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), data_b.join(sub).join(e.file_name())).unwrap();
        }
    }
    let b = Server::start(
        ServerConfig {
            data_dir: data_b,
            store: cluster.store(),
            listen: "127.0.0.1:0".parse().unwrap(),
            agency_key: Some(a.world.agency_key.public_key()),
            oversight_key: Some(a.world.oversight_key.public_key()),
            ..ServerConfig::default()
        },
        a.clock.clone(),
    )
    .await
    .unwrap();
    let connect_b = || Client::connect(b.addr(), &a.server_cert, None, Versions::Tls13);
    let officer_b = || {
        Client::connect(
            b.addr(),
            &a.server_cert,
            Some((&a.officer.0, &a.officer.1)),
            Versions::Tls13,
        )
    };

    let same_tiles = |tag: &'static str| {
        let (a, dir) = (&a, a.dir.path().to_owned());
        async move {
            let mut ca = a.client().await;
            let mut cb = connect_b().await.unwrap();
            let ta = fetch_log(&mut ca, &dir.join(format!("{tag}-a"))).await;
            let tb = fetch_log(&mut cb, &dir.join(format!("{tag}-b"))).await;
            assert_eq!(ta, tb, "{tag}: the same checkpoint");
            let (fa, fb) = (
                files(&dir.join(format!("{tag}-a"))),
                files(&dir.join(format!("{tag}-b"))),
            );
            assert!(fa.len() >= 3, "{tag}: checkpoint, tiles and bundles");
            assert_eq!(fa, fb, "{tag}: every tile and bundle byte for byte");
            let key = log_key(&mut ca).await;
            LogReader::from_dir(&dir.join(format!("{tag}-a")), &key)
                .unwrap()
                .audit()
                .unwrap();
            ta
        }
    };
    same_tiles("first").await;

    // A extends the log; B's view of the sequencer is now stale. B's next batch is
    // refused by the compare-and-swap (STO-6): nothing of it is acknowledged, and the
    // stored checkpoint is A's.
    let mut officer_a = a.officer_client().await;
    a.enroll(&mut officer_a).await;
    let after_a = same_tiles("after-a").await;
    let mut ob = officer_b().await.unwrap();
    let p = a.world.participant();
    let body = minimis_wire::operator::EnrollRequest {
        device_key: p.device.public_key(),
        tag_key: minimis_wire::operator::WireTagKey::new(*p.tags.expose_secret()),
        schedule: p.schedule.clone(),
        conditions: false,
    };
    let refused = ob
        .post("/v1/enrollments", serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a front end with a stale sequencer cannot extend the log: {:?}",
        refused.json()
    );
    let mut ca = a.client().await;
    let now = ca.get("/v1/log/checkpoint").await.unwrap();
    assert_eq!(
        String::from_utf8(now.body.to_vec()).unwrap(),
        after_a,
        "the refused batch changed nothing: no split log"
    );
    // B reopened the log from what is stored: its next batch extends A's log.
    let mut ob = officer_b().await.unwrap();
    let ok = ob
        .post("/v1/enrollments", serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.json());
    let last = same_tiles("after-b").await;
    let size = |t: &str| t.lines().nth(1).unwrap().parse::<u64>().unwrap();
    assert_eq!(
        size(&last),
        size(&after_a) + 1,
        "one entry more, on A's log"
    );
    b.shutdown().await;
}
