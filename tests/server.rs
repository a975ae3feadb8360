//! The operator's server, for real: TLS 1.3 on loopback, a real SQLite file, the
//! participant's crypto path from the crates.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use minimis_log::tiles::{bundles_for, tiles_for};
use minimis_proto::*;
use minimis_server::{ManualClock, Running, Server, ServerConfig};
use minimis_testkit::https::{Client, Versions};
use minimis_testkit::https::{Method, StatusCode};
use minimis_testkit::{NOW, Participant, World};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) struct Harness {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) running: Running,
    pub(crate) clock: ManualClock,
    pub(crate) world: World,
    pub(crate) server_cert: String,
    pub(crate) officer: (String, String),
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::start_with(true, |_| {}).await
    }

    pub(crate) async fn start_with(publish: bool, tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let probe = World::new(&[]);
        let epoch = probe.policy.epoch_at(NOW).unwrap();
        let world = World::new(&[epoch]);
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            agency_key: Some(world.agency_key.public_key()),
            oversight_key: Some(world.oversight_key.public_key()),
            max_batch: 256,
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let clock = ManualClock::new(NOW);
        let running = Server::start(config, clock.clone()).await.unwrap();
        let tls = dir.path().join("data/tls");
        let read = |f: &str| std::fs::read_to_string(tls.join(f)).unwrap();
        let h = Self {
            server_cert: read("server.crt"),
            officer: (read("officer-0001.crt"), read("officer-0001.key")),
            dir,
            running,
            clock,
            world,
        };
        // The custodians publish their recipients for the current epoch.
        let mut c = h.client().await;
        for r in h.world.published(epoch).into_iter().filter(|_| publish) {
            let reply = c
                .post("/v1/recipients", serde_json::to_vec(&r).unwrap())
                .await
                .unwrap();
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json());
        }
        h
    }

    pub(crate) async fn client(&self) -> Client {
        Client::connect(
            self.running.addr(),
            &self.server_cert,
            None,
            Versions::Tls13,
        )
        .await
        .unwrap()
    }

    pub(crate) async fn officer_client(&self) -> Client {
        Client::connect(
            self.running.addr(),
            &self.server_cert,
            Some((&self.officer.0, &self.officer.1)),
            Versions::Tls13,
        )
        .await
        .unwrap()
    }

    /// Enrolls a participant through the officer API; returns it with its pseudonym.
    pub(crate) async fn enroll(&self, officer: &mut Client) -> Participant {
        let mut p = self.world.participant();
        let body = serde_json::json!({
            "device_key": B64.encode(p.device.public_key().as_bytes()),
            "tag_key": B64.encode(p.tags.expose_secret()),
            "schedule": p.schedule,
        });
        let r = officer
            .post("/v1/enrollments", serde_json::to_vec(&body).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        p.pseudonym = r.json()["pseudonym"].as_str().unwrap().parse().unwrap();
        p
    }

    /// The participant's open challenges, fetched with a signed request.
    pub(crate) async fn challenges(&self, c: &mut Client, p: &Participant) -> Vec<SignedChallenge> {
        let path = format!("/v1/participants/{}/challenges", p.pseudonym);
        let r = c
            .signed(
                Method::GET,
                &path,
                &p.pseudonym,
                &p.device,
                self.clock_now(),
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        serde_json::from_slice(&r.body).unwrap()
    }

    pub(crate) fn clock_now(&self) -> UnixTime {
        minimis_server::Clock::now(&self.clock)
    }

    /// A sealed, signed envelope answering `challenge`.
    pub(crate) fn envelope(&self, p: &Participant, challenge: &Challenge, note: &str) -> Envelope {
        let payload = minimis_testkit::payload(challenge.id, ZoneResult::Inside, note);
        let keys = self.world.sealing_keys(self.clock_now());
        minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap()
    }

    /// A digest of every row of every table of the database: equal digests mean the
    /// database did not change.
    pub(crate) fn db_digest(&self) -> String {
        db_digest(&self.dir.path().join("data/minimis.sqlite3"))
    }
}

pub(crate) fn db_digest(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for t in tables {
        ctx.update(t.as_bytes());
        let mut st = conn
            .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                ctx.update(format!("{v:?}").as_bytes());
            }
        }
    }
    hex::encode(ctx.finish())
}

async fn checkin(c: &mut Client, env: &Envelope) -> minimis_testkit::https::Reply {
    c.post("/v1/checkins", serde_json::to_vec(env).unwrap())
        .await
        .unwrap()
}

/// Fetches the log through the tlog-tiles endpoints into a directory, and returns it.
pub(crate) async fn fetch_log(c: &mut Client, into: &Path) -> String {
    let cp = c.get("/v1/log/checkpoint").await.unwrap();
    assert_eq!(cp.status, StatusCode::OK);
    let text = String::from_utf8(cp.body.to_vec()).unwrap();
    std::fs::create_dir_all(into).unwrap();
    std::fs::write(into.join("checkpoint"), &text).unwrap();
    let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
    let paths: Vec<String> = tiles_for(size)
        .map(|t| t.path())
        .chain(bundles_for(size).map(|b| b.path()))
        .collect();
    for path in paths {
        let r = c.get(&format!("/v1/log/{path}")).await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let file = into.join(&path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, &r.body).unwrap();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enr_5_chk_17_chk_18_enroll_challenge_check_in_and_verify_the_receipt() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let mut c = h.client().await;
    assert!(
        h.challenges(&mut c, &p).await.is_empty(),
        "nothing issued before the tick"
    );
    let report = h.running.tick().await.unwrap();
    assert_eq!(report.issued, 1);
    let challenges = h.challenges(&mut c, &p).await;
    assert_eq!(challenges.len(), 1);
    let keys = c.get("/v1/keys").await.unwrap().json();
    let operator = PublicKey(
        B64.decode(keys["operator"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let challenge = minimis_crypto::verify_challenge(&challenges[0], &operator).unwrap();
    // The device checks the challenge against its own copy of the schedule (CHL-5).
    assert!(
        p.schedule
            .admits(
                &[],
                Slot {
                    at: challenge.issued_at,
                    kind: challenge.kind
                }
            )
            .is_ok()
    );
    let env = h.envelope(&p, challenge, "on my way");
    let r = checkin(&mut c, &env).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let body = r.json();
    assert_eq!(body["state"]["state"], "on-time");
    let receipt: Receipt = serde_json::from_value(body["receipt"].clone()).unwrap();
    assert_eq!(receipt.record_id, env.record_id());
    // The receipt is a C2SP tlog-proof of the check-in's entry, against the log's key.
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let tag = p.tags.tag(&p.pseudonym, env.epoch);
    let entry = minimis_log::LogEntry::CheckInReceived {
        tag,
        record: env.record_id(),
        challenge: challenge.id,
        epoch: env.epoch,
    };
    minimis_log::verify_tlog_proof(
        receipt.tlog_proof.as_bytes(),
        &entry.encode(),
        &log_key,
        &[],
    )
    .unwrap();
    // The participant's own ledger says on time.
    let path = format!("/v1/participants/{}/ledger", p.pseudonym);
    let ledger = c
        .signed(
            Method::GET,
            &path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ledger.json()[0]["state"]["state"], "on-time");
    // And the log, read through the tiles endpoints, verifies from its tiles.
    let dir = h.dir.path().join("fetched");
    fetch_log(&mut c, &dir).await;
    let reader = minimis_log::LogReader::from_dir(&dir, &log_key).unwrap();
    reader.audit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_11_chk_16_bad_input_matrix_each_error_is_documented_and_changes_nothing() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let a = h.enroll(&mut officer).await;
    let b = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ca = h.challenges(&mut c, &a).await.remove(0).challenge;
    let cb = h.challenges(&mut c, &b).await.remove(0).challenge;
    let good = h.envelope(&a, &ca, "");
    let before = h.db_digest();

    let mut cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = Vec::new();
    cases.push((
        "malformed JSON",
        b"{\"pseudonym\": ".to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed",
    ));
    let mut wrong_type = serde_json::to_value(&good).unwrap();
    wrong_type["epoch"] = serde_json::json!("2968");
    cases.push((
        "wrong type",
        serde_json::to_vec(&wrong_type).unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed",
    ));
    let mut unknown = serde_json::to_value(&good).unwrap();
    unknown["latitude"] = serde_json::json!(29.76);
    cases.push((
        "unknown field",
        serde_json::to_vec(&unknown).unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed",
    ));
    cases.push((
        "oversize body",
        vec![b' '; 20_000],
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    ));
    for (what, len) in [
        ("truncated ciphertext", 700),
        ("oversize ciphertext", 1_300),
        ("one-layer-sized ciphertext", 900),
    ] {
        let mut v = serde_json::to_value(&good).unwrap();
        v["ciphertext"] = serde_json::json!(B64.encode(vec![7u8; len]));
        cases.push((
            what,
            serde_json::to_vec(&v).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ciphertext_length",
        ));
    }
    let mut bad_sig = good.clone();
    bad_sig.signature.0[0] ^= 1;
    cases.push((
        "bad signature",
        serde_json::to_vec(&bad_sig).unwrap(),
        StatusCode::UNAUTHORIZED,
        "bad_signature",
    ));
    let mut stranger = good.clone();
    stranger.pseudonym = Pseudonym::from_bytes([9; 16]);
    cases.push((
        "unknown participant",
        serde_json::to_vec(&stranger).unwrap(),
        StatusCode::NOT_FOUND,
        "unknown_participant",
    ));
    // A's device answering B's challenge, properly signed by A.
    let foreign = h.envelope(&a, &cb, "");
    cases.push((
        "foreign challenge",
        serde_json::to_vec(&foreign).unwrap(),
        StatusCode::FORBIDDEN,
        "challenge_not_yours",
    ));
    // A challenge id the server never issued (forged, or from the future).
    let mut forged = ca.clone();
    forged.id = ChallengeId::from_bytes([0x42; 16]);
    let never = h.envelope(&a, &forged, "");
    cases.push((
        "unknown challenge",
        serde_json::to_vec(&never).unwrap(),
        StatusCode::NOT_FOUND,
        "unknown_challenge",
    ));
    // Sealed to next week's epoch (signed correctly).
    let mut next = good.clone();
    next.epoch = next.epoch.next().unwrap();
    let next = minimis_crypto::sign_envelope(
        &a.device,
        next.pseudonym,
        next.challenge_id,
        next.epoch,
        next.ciphertext,
    );
    cases.push((
        "wrong epoch",
        serde_json::to_vec(&next).unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong_epoch",
    ));

    for (what, body, status, code) in cases {
        let r = c.post("/v1/checkins", body).await.unwrap();
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{what}: {:?}",
            r.json()
        );
        assert_eq!(h.db_digest(), before, "{what} changed the database");
    }

    // Officer routes without a client certificate.
    let r = c.post("/v1/enrollments", b"{}".to_vec()).await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "client_certificate_required")
    );
    let r = c
        .post(
            &format!("/v1/participants/{}/challenges", a.pseudonym),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.code(), "client_certificate_required");
    // Unsigned and badly signed participant requests.
    let path = format!("/v1/participants/{}/ledger", a.pseudonym);
    let r = c.get(&path).await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_authorization")
    );
    let r = c
        .signed(
            Method::GET,
            &path,
            &a.pseudonym,
            &b.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.code(), "bad_signature");
    let r = c
        .signed(
            Method::GET,
            &path,
            &a.pseudonym,
            &a.device,
            h.clock_now().plus(-3_600),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.code(), "stale_request");
    let r = c
        .signed(
            Method::GET,
            &path,
            &b.pseudonym,
            &b.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "not_yours")
    );
    // A recipient not signed by its custodian.
    let epoch = h.world.now_epoch();
    let mut forged = h.world.published(epoch).remove(0);
    forged.signature.0[5] ^= 1;
    let r = c
        .post("/v1/recipients", serde_json::to_vec(&forged).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_signature")
    );
    assert_eq!(
        h.db_digest(),
        before,
        "refused requests changed the database"
    );

    // A TLS 1.2 client cannot connect at all.
    let tls12 = Client::connect(h.running.addr(), &h.server_cert, None, Versions::Tls12).await;
    assert!(tls12.is_err(), "TLS 1.2 must be refused");

    // The server keeps serving: the good check-in goes through, once.
    let r = checkin(&mut c, &good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let after = h.db_digest();
    let r = checkin(&mut c, &good).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "challenge_already_answered"),
        "replay"
    );
    assert_eq!(h.db_digest(), after, "the replay changed the database");

    // Past the window and the grace period: expired, and the ledger says pending review.
    h.clock.advance(3 * 3_600);
    let report = h.running.tick().await.unwrap();
    assert_eq!(report.missed, 1, "B never answered");
    let late = h.envelope(&b, &cb, "");
    let r = checkin(&mut c, &late).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "challenge_expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_18_seal_7_unsigned_epoch_is_refused_until_every_custodian_has_signed() {
    let h = Harness::start_with(false, |_| {}).await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    let published = h.world.published(h.world.now_epoch());
    // Only the agency custodian has published: the epoch is not sealable yet.
    let r = c
        .post("/v1/recipients", serde_json::to_vec(&published[0]).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let before = h.db_digest();
    let r = checkin(&mut c, &env).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unsigned_epoch")
    );
    assert_eq!(h.db_digest(), before);
    // Once the oversight custodian has signed too, the same check-in is accepted.
    let r = c
        .post("/v1/recipients", serde_json::to_vec(&published[1]).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = checkin(&mut c, &env).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chl_2_chl_4_chl_7_officer_ad_hoc_challenges_are_capped_by_the_schedule() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let path = format!("/v1/participants/{}/challenges", p.pseudonym);
    // Daily cap 1 in the test schedule: the first ad-hoc challenge uses it up.
    let r = officer.post(&path, vec![]).await.unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let before = h.db_digest();
    for _ in 0..5 {
        let r = officer.post(&path, vec![]).await.unwrap();
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "daily_cap_reached")
        );
    }
    // Outside every window: refused whatever the caps.
    h.clock.advance(6 * 3_600);
    let r = officer.post(&path, vec![]).await.unwrap();
    assert_eq!(r.code(), "outside_window");
    assert_eq!(h.db_digest(), before, "refused challenges changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_20_missed_is_pending_review_and_only_an_officer_resolves_it() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    // The participant files a technical-failure report.
    let path = format!("/v1/participants/{}/failure-reports", p.pseudonym);
    let body =
        serde_json::to_vec(&serde_json::json!({"challenge_id": ch.id, "category": "no-network"}))
            .unwrap();
    let r = c
        .signed(
            Method::POST,
            &path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            body,
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    h.clock.advance(4 * 3_600);
    assert_eq!(h.running.tick().await.unwrap().missed, 1);
    let ledger_path = format!("/v1/participants/{}/ledger", p.pseudonym);
    let l = c
        .signed(
            Method::GET,
            &ledger_path,
            &p.pseudonym,
            &p.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        l.json()[0]["state"]["state"],
        "pending-review",
        "never a violation by itself"
    );
    assert_eq!(l.json()[0]["failure_report"], "no-network");
    // Only an officer, with a reason, resolves it.
    let res = format!("/v1/ledger/{}/resolution", ch.id);
    let r = c
        .post(&res, br#"{"resolution":"excused-technical"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), "client_certificate_required");
    let r = officer
        .post(&res, br#"{"resolution":"excused-technical"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(
        r.json()["state"],
        serde_json::json!({"state": "resolved", "resolution": "excused-technical"})
    );
    let r = officer
        .post(&res, br#"{"resolution":"not-excused"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "not_reviewable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_11_concurrent_tls_clients_every_receipt_stored_once_and_the_log_verifies() {
    const N: usize = 500;
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let mut people = Vec::with_capacity(N);
    for _ in 0..N {
        people.push(h.enroll(&mut officer).await);
    }
    assert_eq!(h.running.tick().await.unwrap().issued, N as u64);
    let mut envelopes = Vec::with_capacity(N);
    let mut c = h.client().await;
    for p in &people {
        let ch = h.challenges(&mut c, p).await.remove(0).challenge;
        envelopes.push(h.envelope(p, &ch, ""));
    }
    // N clients, each on its own TLS connection, all at once.
    let mut tasks = Vec::new();
    for env in envelopes.clone() {
        let (addr, cert) = (h.running.addr(), h.server_cert.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr, &cert, None, Versions::Tls13)
                .await
                .unwrap();
            let r = c
                .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
                .await
                .unwrap();
            (env, r)
        }));
    }
    let mut receipts = BTreeMap::new();
    for t in tasks {
        let (env, r) = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        let receipt: Receipt = serde_json::from_value(r.json()["receipt"].clone()).unwrap();
        assert_eq!(receipt.record_id, env.record_id());
        assert!(
            receipts.insert(receipt.record_id, receipt).is_none(),
            "one receipt per record"
        );
    }
    assert_eq!(receipts.len(), N);
    // Every record stored exactly once.
    let conn = rusqlite::Connection::open(h.dir.path().join("data/minimis.sqlite3")).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT record_id) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (N as i64, N as i64));
    // The log verifies, and every receipt is in it.
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let dir = h.dir.path().join("fetched");
    fetch_log(&mut c, &dir).await;
    minimis_log::LogReader::from_dir(&dir, &log_key)
        .unwrap()
        .audit()
        .unwrap();
    let by_id: BTreeMap<RecordId, (&Participant, &Envelope)> = people
        .iter()
        .zip(envelopes.iter())
        .map(|(p, e)| (e.record_id(), (p, e)))
        .collect();
    for (id, receipt) in &receipts {
        let (p, env) = by_id[id];
        let entry = minimis_log::LogEntry::CheckInReceived {
            tag: p.tags.tag(&p.pseudonym, env.epoch),
            record: *id,
            challenge: env.challenge_id,
            epoch: env.epoch,
        };
        minimis_log::verify_tlog_proof(
            receipt.tlog_proof.as_bytes(),
            &entry.encode(),
            &log_key,
            &[],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_and_lists_every_route() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let r = c.get("/v1/openapi.json").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/checkins",
        "/v1/enrollments",
        "/v1/log/checkpoint",
        "/v1/participants/{pseudonym}/ledger",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    let r = c.get("/v1/nowhere").await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// Captures every log line the process writes, for the canary test.
fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pol_7_pol_20_canary_address_user_agent_and_note_reach_no_file_and_no_log() {
    let logs = captured_logs();
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let canary_ip: std::net::IpAddr = "127.0.0.42".parse().unwrap();
    let canary_ua = "minimis-canary-agent-5f2a9e";
    let canary_note = "minimis-canary-note-c41d07";
    let mut c = Client::connect_from(
        Some(canary_ip),
        h.running.addr(),
        &h.server_cert,
        None,
        Versions::Tls13,
    )
    .await
    .unwrap();
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, canary_note);
    let r = c
        .request(
            Method::POST,
            "/v1/checkins",
            &[
                ("user-agent", canary_ua.to_owned()),
                ("x-forwarded-for", "203.0.113.77".to_owned()),
            ],
            serde_json::to_vec(&env).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    // Stop the server so every file is flushed.
    let Harness { dir, running, .. } = h;
    running.shutdown().await;

    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("client address", b"127.0.0.42".to_vec()),
        ("client address, binary", vec![127, 0, 0, 42]),
        ("forwarded address", b"203.0.113.77".to_vec()),
        ("user agent", canary_ua.as_bytes().to_vec()),
        ("note", canary_note.as_bytes().to_vec()),
    ];
    let mut files = Vec::new();
    files_under(&dir.path().join("data"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("minimis.sqlite3")),
        "{files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (what, needle) in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "the {what} canary reached {}",
                f.display()
            );
        }
    }
    let logs = logs.lock().unwrap().clone();
    assert!(
        String::from_utf8_lossy(&logs).contains("/v1/checkins"),
        "the request log was captured (the check is not vacuous)"
    );
    for (what, needle) in &needles {
        assert!(
            !logs.windows(needle.len()).any(|w| w == needle.as_slice()),
            "the {what} canary reached the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_29_a_check_in_in_the_grace_period_is_late_not_missed() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    // 30 minutes after the window closed: inside the 60-minute grace period.
    h.clock.set(ch.window_end.plus(30 * 60));
    assert_eq!(h.running.tick().await.unwrap().missed, 0, "not missed yet");
    let env = h.envelope(&p, &ch, "");
    let r = checkin(&mut c, &env).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    assert_eq!(r.json()["state"]["state"], "late");
}

/// The log's entries, fetched through the tiles endpoints and decoded.
async fn log_entries(h: &Harness, c: &mut Client) -> Vec<minimis_log::LogEntry> {
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let dir = h.dir.path().join(format!("fetched-{}", rand_suffix()));
    fetch_log(c, &dir).await;
    let reader = minimis_log::LogReader::from_dir(&dir, &log_key).unwrap();
    reader.audit().unwrap();
    let mut out = Vec::new();
    reader
        .for_each_entry(|_, e| out.push(minimis_log::LogEntry::decode(e).unwrap()))
        .unwrap();
    out
}

fn rand_suffix() -> String {
    hex::encode(minimis_crypto::random_bytes::<4>().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_5_sweeper_purges_content_at_its_deadline_logs_it_and_is_idempotent() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    let deadline = h.world.policy.content_deadline(env.epoch);
    // One second before the deadline nothing is purged.
    h.clock.set(deadline.plus(-1));
    assert_eq!(h.running.tick().await.unwrap().purged_records, 0);
    h.clock.set(deadline);
    assert_eq!(h.running.tick().await.unwrap().purged_records, 1);
    let conn = rusqlite::Connection::open(h.dir.path().join("data/minimis.sqlite3")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "the ciphertext is gone");
    // Idempotent: a second sweep does nothing and logs nothing.
    assert_eq!(h.running.tick().await.unwrap().purged_records, 0);
    let entries = log_entries(&h, &mut c).await;
    let purges: Vec<_> = entries
        .iter()
        .filter_map(|e| match e {
            minimis_log::LogEntry::RecordsPurged {
                epoch,
                count,
                record_set,
                purged_at,
            } => Some((*epoch, *count, *record_set, *purged_at)),
            _ => None,
        })
        .collect();
    let (count, set) = minimis_log::entry::RecordSetHash::of(&[env.record_id()]);
    assert_eq!(
        purges,
        vec![(env.epoch, count, set, deadline)],
        "one purge, logged with its record set"
    );
    // The check-in's entry stays in the log: purging keeps the hash (LOG-29).
    assert!(entries.iter().any(|e| matches!(e, minimis_log::LogEntry::CheckInReceived { record, .. } if *record == env.record_id())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_6_a_closed_enrollments_ledger_is_purged_after_ledger_days() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let keep = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let r = officer
        .post(&format!("/v1/enrollments/{}/close", p.pseudonym), vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let r = officer
        .post(&format!("/v1/enrollments/{}/close", p.pseudonym), vec![])
        .await
        .unwrap();
    assert_eq!(r.code(), "enrollment_closed");
    let closed_at = h.clock_now();
    let days = i64::from(h.world.policy.ledger_retention_days());
    h.clock.set(closed_at.plus(days * 86_400));
    assert_eq!(
        h.running.tick().await.unwrap().purged_participants,
        0,
        "not before the deadline"
    );
    h.clock.set(closed_at.plus(days * 86_400 + 1));
    assert_eq!(h.running.tick().await.unwrap().purged_participants, 1);
    let conn = rusqlite::Connection::open(h.dir.path().join("data/minimis.sqlite3")).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM ledger WHERE pseudonym = ?1",
            [p.pseudonym.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0, "its ledger rows are gone");
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM participants WHERE pseudonym = ?1",
            [keep.pseudonym.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1, "an open enrollment is untouched");
    let mut c = h.client().await;
    let entries = log_entries(&h, &mut c).await;
    assert!(
        entries
            .iter()
            .any(|e| matches!(e, minimis_log::LogEntry::EnrollmentClosed { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_19_the_server_stores_no_arrival_time() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    // Arrive at a distinctive second, and look for it everywhere in the database.
    let arrival = ch.issued_at.plus(1_234);
    h.clock.set(arrival);
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    let conn = rusqlite::Connection::open(h.dir.path().join("data/minimis.sqlite3")).unwrap();
    for table in ["participants", "ledger", "records"] {
        let mut st = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let rusqlite::types::Value::Integer(v) = row.get(i).unwrap() {
                    assert_ne!(v, arrival.seconds(), "{table} stores the arrival time");
                }
            }
        }
    }
}
