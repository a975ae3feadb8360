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
        let world = World::keyed_at(NOW, 0);
        let epoch = world.now_epoch();
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
        minimis_testkit::https::enroll(officer, self.world.participant()).await
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
        ("one bare layer (Go age, one custodian)", 712),
        ("between two bare layers and the shortest grease", 913),
        ("just below the shortest greased two layers", 924),
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
        // A new connection for each: a refused body closes its connection (SVC-10).
        let mut c = h.client().await;
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
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_recipient_signature")
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
    let body = br#"{"resolution":"excused-technical","reason":"failure-report"}"#.to_vec();
    let r = c.post(&res, body.clone()).await.unwrap();
    assert_eq!(r.code(), "client_certificate_required");
    let r = officer.post(&res, body).await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(
        r.json()["state"],
        serde_json::json!({"state": "resolved", "resolution": "excused-technical"})
    );
    let r = officer
        .post(
            &res,
            br#"{"resolution":"not-excused","reason":"no-account"}"#.to_vec(),
        )
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
    // Every route of spec/operator.md's table, with its method.
    let spec = std::fs::read_to_string(crate::root().join("spec/operator.md")).unwrap();
    let routes: Vec<(String, String)> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(route, _)| route))
        .filter_map(|r| r.split_once(' '))
        .filter(|(_, path)| path.starts_with("/v1/") && *path != "/v1/openapi.json")
        .map(|(m, p)| (m.to_lowercase(), p.to_owned()))
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    for (method, path) in &routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    for p in [
        "/v1/ledger/{challenge_id}",
        "/v1/participants/{pseudonym}/statements",
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

pub(crate) fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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
    // The request tally (the only request log, SVC-11), written as at a period's end.
    assert_eq!(
        h.running
            .request_log()
            .snapshot()
            .count("POST", "/v1/checkins", 201),
        1
    );
    h.running.request_log().write_now();
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
        "the request tally was captured (the check is not vacuous)"
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
pub(crate) async fn log_entries(h: &Harness, c: &mut Client) -> Vec<minimis_log::LogEntry> {
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

fn custodian_auth(
    key: &minimis_crypto::SigningKey,
    role: CustodianRole,
    method: &str,
    path: &str,
    time: UnixTime,
    body: &[u8],
) -> String {
    let sig = minimis_crypto::sign_custodian_request(key, role, method, path, time, body);
    format!(
        "Minimis-Custodian role={},time={},signature={}",
        role.as_str(),
        time.seconds(),
        B64.encode(sig.as_bytes())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enr_6_the_server_publishes_its_policy_in_the_log_once() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let entries = log_entries(&h, &mut c).await;
    assert_eq!(
        entries.first(),
        Some(&minimis_log::LogEntry::PolicyPublished {
            policy: h.world.policy.hash()
        }),
        "the first entry publishes the policy, before any enrollment"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| matches!(e, minimis_log::LogEntry::PolicyPublished { .. }))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_30_a_participant_can_fetch_a_receipt_again() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let other = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    // The answer was lost: fetch the receipt again, with a signed request.
    let path = format!(
        "/v1/participants/{}/receipts/{}",
        p.pseudonym,
        env.record_id()
    );
    let r = c
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
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let receipt: Receipt = serde_json::from_slice(&r.body).unwrap();
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let entry = minimis_log::LogEntry::CheckInReceived {
        tag: p.tags.tag(&p.pseudonym, env.epoch),
        record: env.record_id(),
        challenge: ch.id,
        epoch: env.epoch,
    };
    minimis_log::verify_tlog_proof(
        receipt.tlog_proof.as_bytes(),
        &entry.encode(),
        &log_key,
        &[],
    )
    .unwrap();
    // Nobody else can fetch it, and an unknown record is just unknown.
    let path_other = format!(
        "/v1/participants/{}/receipts/{}",
        other.pseudonym,
        env.record_id()
    );
    let r = c
        .signed(
            Method::GET,
            &path_other,
            &other.pseudonym,
            &other.device,
            h.clock_now(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "unknown_record")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc_40_acc_41_custodians_append_their_own_entries_and_fetch_records() {
    use minimis_log::entry::{
        CaseCommitment, CaseRef, CaseSalt, CustodianId, LegalBasisId, OfficerId, PurposeId,
        RecordSet,
    };
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);

    let access = |custodian: &str| minimis_log::Access {
        custodian: CustodianId::new(custodian).unwrap(),
        officer: OfficerId::new("officer-0001").unwrap(),
        purpose: PurposeId::new("compliance-review").unwrap(),
        legal_basis: LegalBasisId::new("release-conditions").unwrap(),
        case: CaseCommitment::new(
            &CaseSalt::from_bytes([1; 32]),
            &CaseRef::new("CASE-1").unwrap(),
        ),
        records: RecordSet::new([env.record_id()]).unwrap(),
        epoch: env.epoch,
    };
    let post = |entries: Vec<minimis_log::LogEntry>| {
        serde_json::to_vec(&serde_json::json!({
            "entries": entries.iter().map(|e| B64.encode(e.encode())).collect::<Vec<_>>()
        }))
        .unwrap()
    };
    let now = h.clock_now();
    let agency = CustodianRole::Agency;
    let body = post(vec![minimis_log::LogEntry::ContentAccessed(access(
        "agency",
    ))]);
    let auth = custodian_auth(
        &h.world.agency_key,
        agency,
        "POST",
        "/v1/custodian/entries",
        now,
        &body,
    );
    let r = c
        .request(
            Method::POST,
            "/v1/custodian/entries",
            &[("authorization", auth)],
            body,
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let proof = r.json()["proofs"][0].as_str().unwrap().to_owned();
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let entry = minimis_log::LogEntry::ContentAccessed(access("agency"));
    minimis_log::verify_tlog_proof(proof.as_bytes(), &entry.encode(), &log_key, &[]).unwrap();

    let before = h.db_digest();
    // The agency cannot log in the oversight custodian's name...
    let body = post(vec![minimis_log::LogEntry::ContentAccessed(access(
        "oversight",
    ))]);
    let auth = custodian_auth(
        &h.world.agency_key,
        agency,
        "POST",
        "/v1/custodian/entries",
        now,
        &body,
    );
    let r = c
        .request(
            Method::POST,
            "/v1/custodian/entries",
            &[("authorization", auth)],
            body,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "not_your_entry")
    );
    // ...nor write an operator's entry...
    let body = post(vec![minimis_log::LogEntry::PolicyPublished {
        policy: h.world.policy.hash(),
    }]);
    let auth = custodian_auth(
        &h.world.agency_key,
        agency,
        "POST",
        "/v1/custodian/entries",
        now,
        &body,
    );
    let r = c
        .request(
            Method::POST,
            "/v1/custodian/entries",
            &[("authorization", auth)],
            body,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "entry_not_allowed")
    );
    // ...and a request not signed by a custodian's key gets nowhere.
    let body = post(vec![minimis_log::LogEntry::ContentAccessed(access(
        "agency",
    ))]);
    let auth = custodian_auth(
        &h.world.operator_key,
        agency,
        "POST",
        "/v1/custodian/entries",
        now,
        &body,
    );
    let r = c
        .request(
            Method::POST,
            "/v1/custodian/entries",
            &[("authorization", auth)],
            body.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let r = c.post("/v1/custodian/entries", body).await.unwrap();
    assert_eq!(r.code(), "missing_authorization");
    assert_eq!(h.db_digest(), before, "refusals change nothing");

    // A custodian fetches the sealed record to open it.
    let path = format!("/v1/custodian/records/{}", env.record_id());
    let auth = custodian_auth(
        &h.world.oversight_key,
        CustodianRole::Oversight,
        "GET",
        &path,
        now,
        b"",
    );
    let r = c
        .request(Method::GET, &path, &[("authorization", auth)], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let got = r.json();
    assert_eq!(
        B64.decode(got["ciphertext"].as_str().unwrap()).unwrap(),
        env.ciphertext.as_bytes()
    );
    assert_eq!(got["pseudonym"], p.pseudonym.to_hex());
    assert_eq!(got["kind"], "check-in");
    // The challenge it answers, so the custodian can recompute the record id (CHK-12).
    assert_eq!(got["challenge_id"], env.challenge_id.to_hex());
    let r = c.get(&path).await.unwrap();
    assert_eq!(
        r.code(),
        "missing_authorization",
        "devices and strangers cannot fetch ciphertext here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_5_acc_42_a_held_record_survives_the_purge_until_the_hold_ends() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    let deadline = h.world.policy.content_deadline(env.epoch);
    let until = deadline.plus(30 * 86_400);
    let body = serde_json::to_vec(
        &serde_json::json!({"records": [env.record_id()], "until": until.seconds()}),
    )
    .unwrap();
    let auth = custodian_auth(
        &h.world.agency_key,
        CustodianRole::Agency,
        "POST",
        "/v1/custodian/holds",
        h.clock_now(),
        &body,
    );
    let r = c
        .request(
            Method::POST,
            "/v1/custodian/holds",
            &[("authorization", auth)],
            body,
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    h.clock.set(deadline);
    assert_eq!(
        h.running.tick().await.unwrap().purged_records,
        0,
        "held past its deadline"
    );
    h.clock.set(until);
    assert_eq!(
        h.running.tick().await.unwrap().purged_records,
        1,
        "purged when the hold ends"
    );
}

// ---- failure handling, statements and the ledger's retention (CHK-21 to CHK-26, ACC-12,
// RET-20) -------------------------------------------------------------------------------

/// A signed device request with a JSON body.
async fn device_post(
    h: &Harness,
    c: &mut Client,
    p: &Participant,
    path: &str,
    body: &serde_json::Value,
) -> minimis_testkit::https::Reply {
    c.signed(
        Method::POST,
        path,
        &p.pseudonym,
        &p.device,
        h.clock_now(),
        serde_json::to_vec(body).unwrap(),
    )
    .await
    .unwrap()
}

fn reports_path(p: &Participant) -> String {
    format!("/v1/participants/{}/failure-reports", p.pseudonym)
}

fn statements_path(p: &Participant) -> String {
    format!("/v1/participants/{}/statements", p.pseudonym)
}

/// A free text sealed as the device seals it (spec/failure.md): the note of a payload for
/// the row's challenge, zone and presence `not-required`, sealed to the current epoch.
fn sealed_text(h: &Harness, challenge: ChallengeId, text: &str) -> serde_json::Value {
    let payload = CheckInPayload {
        challenge_id: challenge,
        zone: ZoneResult::NotRequired,
        presence: PresenceResult::NotRequired,
        device_time: h.clock_now(),
        note: Note::new(text, h.world.policy.max_note_bytes()).unwrap(),
    };
    let keys = h.world.sealing_keys(h.clock_now());
    let sealed = minimis_seal::seal(&payload, &keys).unwrap();
    serde_json::json!({
        "epoch": keys.epoch().get(),
        "ciphertext": B64.encode(sealed.as_bytes()),
    })
}

/// The participant's ledger, read with a signed request.
async fn own_ledger(h: &Harness, c: &mut Client, p: &Participant) -> serde_json::Value {
    let path = format!("/v1/participants/{}/ledger", p.pseudonym);
    let r = c
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
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    r.json()
}

async fn read_row(officer: &mut Client, c: ChallengeId) -> minimis_testkit::https::Reply {
    officer.get(&format!("/v1/ledger/{c}")).await.unwrap()
}

async fn resolve(
    officer: &mut Client,
    c: ChallengeId,
    resolution: &str,
    reason: &str,
) -> minimis_testkit::https::Reply {
    officer
        .post(
            &format!("/v1/ledger/{c}/resolution"),
            serde_json::to_vec(&serde_json::json!({"resolution": resolution, "reason": reason}))
                .unwrap(),
        )
        .await
        .unwrap()
}

/// A sealed, signed envelope answering `challenge` with these zone and presence results.
fn envelope_with(
    h: &Harness,
    p: &Participant,
    challenge: &Challenge,
    zone: ZoneResult,
    presence: PresenceResult,
) -> Envelope {
    let payload = CheckInPayload {
        challenge_id: challenge.id,
        zone,
        presence,
        device_time: h.clock_now(),
        note: Note::new("", 0).unwrap(),
    };
    let keys = h.world.sealing_keys(h.clock_now());
    minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap()
}

fn row_resolutions(entries: &[minimis_log::LogEntry]) -> Vec<minimis_log::LogEntry> {
    entries
        .iter()
        .filter(|e| matches!(e, minimis_log::LogEntry::RowResolved { .. }))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_21_no_component_sets_an_adverse_state_on_its_own() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let missed = h.enroll(&mut officer).await;
    let reported = h.enroll(&mut officer).await;
    let late = h.enroll(&mut officer).await;
    let disputed = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = |p| {
        let h = &h;
        async move {
            let mut c = h.client().await;
            h.challenges(&mut c, p).await.remove(0).challenge
        }
    };
    let (c_missed, c_reported) = (ch(&missed).await, ch(&reported).await);
    let (c_late, c_disputed) = (ch(&late).await, ch(&disputed).await);
    // A failure report, a statement, and a late check-in whose sealed results are the
    // worst a payload can say: outside the zone, presence not confirmed.
    let body = serde_json::json!({"challenge_id": c_reported.id, "category": "app-error"});
    let r = device_post(&h, &mut c, &reported, &reports_path(&reported), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let body = serde_json::json!({"challenge_id": c_disputed.id, "category": "dispute"});
    let r = device_post(&h, &mut c, &disputed, &statements_path(&disputed), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    h.clock.set(c_late.window_end.plus(10 * 60));
    let env = envelope_with(
        &h,
        &late,
        &c_late,
        ZoneResult::Outside,
        PresenceResult::NotConfirmed,
    );
    let r = checkin(&mut c, &env).await;
    assert_eq!(r.json()["state"]["state"], "late");
    // Two weeks of ticks, once an hour: windows close, new challenges are issued and
    // missed, and nothing but an officer ever resolves a row.
    let start = h.clock_now();
    let mut missed_total = 0;
    for hour in 1..=14 * 24 {
        h.clock.set(start.plus(hour * 3_600));
        missed_total += h.running.tick().await.unwrap().missed;
    }
    assert!(
        missed_total >= 3 + 4,
        "the first rows and later weeks' were missed"
    );
    let mut states = Vec::new();
    for p in [&missed, &reported, &late, &disputed] {
        for row in own_ledger(&h, &mut c, p).await.as_array().unwrap() {
            states.push(row["state"]["state"].as_str().unwrap().to_owned());
        }
    }
    assert!(states.len() >= 8, "{states:?}");
    assert!(
        states
            .iter()
            .all(|s| matches!(s.as_str(), "pending-review" | "late" | "open")),
        "only a person resolves a row: {states:?}"
    );
    assert!(states.iter().filter(|s| *s == "pending-review").count() >= 7);
    assert!(
        row_resolutions(&log_entries(&h, &mut c).await).is_empty(),
        "no resolution was logged by any component"
    );
    // An officer can, and only then is there a `not-excused` row, and its entry.
    let r = resolve(&mut officer, c_missed.id, "not-excused", "no-account").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(
        own_ledger(&h, &mut c, &missed).await[0]["state"],
        serde_json::json!({"state": "resolved", "resolution": "not-excused"})
    );
    let resolved = row_resolutions(&log_entries(&h, &mut c).await);
    assert_eq!(resolved.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_22_chk_23_a_failure_report_and_its_sealed_text_are_attached_to_the_row() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let other = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let theirs = h.challenges(&mut c, &other).await.remove(0).challenge;
    let canary = "minimis-canary-report-9b17e4: la app se cerró";
    let text = sealed_text(&h, ch.id, canary);
    let good = serde_json::json!({"challenge_id": ch.id, "category": "device-error", "text": text});
    let path = reports_path(&p);
    let before = h.db_digest();

    // A report holds a category, the challenge and a sealed text: nothing else (CHK-23).
    let with = |key: &str, value: serde_json::Value| {
        let mut v = good.clone();
        v[key] = value;
        v
    };
    let mut bad_text_field = good.clone();
    bad_text_field["text"]["latitude"] = serde_json::json!(29.76);
    let mut short = good.clone();
    short["text"]["ciphertext"] = serde_json::json!(B64.encode([7u8; 100]));
    let mut next_epoch = good.clone();
    next_epoch["text"]["epoch"] = serde_json::json!(h.world.now_epoch().get() + 1);
    let cases: Vec<(&str, serde_json::Value, StatusCode, &str)> = vec![
        (
            "logs",
            with("logs", serde_json::json!("…")),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "screenshot",
            with("screenshot", serde_json::json!("iVBOR")),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "device id",
            with("device_id", serde_json::json!("353918050000000")),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "location",
            bad_text_field,
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "unknown category",
            with("category", serde_json::json!("battery")),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "text in the clear",
            with("text", serde_json::json!(canary)),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "short ciphertext",
            short,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ciphertext_length",
        ),
        (
            "next epoch",
            next_epoch,
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_epoch",
        ),
        (
            "another's challenge",
            with("challenge_id", serde_json::json!(theirs.id)),
            StatusCode::FORBIDDEN,
            "challenge_not_yours",
        ),
        (
            "unknown challenge",
            with(
                "challenge_id",
                serde_json::json!(ChallengeId::from_bytes([0x42; 16])),
            ),
            StatusCode::NOT_FOUND,
            "unknown_challenge",
        ),
    ];
    for (what, body, status, code) in cases {
        let r = device_post(&h, &mut c, &p, &path, &body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{what}: {:?}",
            r.json()
        );
        assert_eq!(h.db_digest(), before, "{what} changed the database");
    }
    let r = c
        .post(&path, serde_json::to_vec(&good).unwrap())
        .await
        .unwrap();
    assert_eq!(r.code(), "missing_authorization");
    assert_eq!(h.db_digest(), before);

    // The report is attached to the row of its challenge; the same report again is a
    // retry and changes nothing; another is refused (the participant adds a statement).
    let r = device_post(&h, &mut c, &p, &path, &good).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let after = h.db_digest();
    let r = device_post(&h, &mut c, &p, &path, &good).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.db_digest(), after, "a retry changes nothing");
    let other_report = serde_json::json!({"challenge_id": ch.id, "category": "no-network"});
    let r = device_post(&h, &mut c, &p, &path, &other_report).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "failure_report_exists")
    );
    assert_eq!(h.db_digest(), after, "a refused report changes nothing");

    // The text's id is the hash of spec/failure.md, and the ledger links to it.
    let ciphertext = B64.decode(text["ciphertext"].as_str().unwrap()).unwrap();
    let epoch = h.world.now_epoch();
    let mut input = b"minimis/v1 sealed-text\n".to_vec();
    input.extend_from_slice(p.pseudonym.as_bytes());
    input.extend_from_slice(ch.id.as_bytes());
    input.extend_from_slice(&epoch.get().to_be_bytes());
    input.extend_from_slice(&(ciphertext.len() as u32).to_be_bytes());
    input.extend_from_slice(&ciphertext);
    let text_id = hex::encode(ring::digest::digest(&ring::digest::SHA256, &input));
    let link = serde_json::json!({"id": text_id, "epoch": epoch.get()});
    let row = &own_ledger(&h, &mut c, &p).await[0];
    assert_eq!(row["state"]["state"], "open", "a report changes no state");
    assert_eq!(row["failure_report"], "device-error");
    assert_eq!(row["failure_text"], link);
    let r = read_row(&mut officer, ch.id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(
        r.json()["failure_report"],
        serde_json::json!({"category": "device-error", "text": link})
    );

    // The operator holds only ciphertext: the canary is in no file; the custodians fetch
    // the text by its id and open it as they open a check-in.
    let mut files = Vec::new();
    files_under(&h.dir.path().join("data"), &mut files);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(27).any(|w| w == &canary.as_bytes()[..27]),
            "the report's text reached {} in the clear",
            f.display()
        );
    }
    let rec = format!("/v1/custodian/records/{text_id}");
    let auth = custodian_auth(
        &h.world.agency_key,
        CustodianRole::Agency,
        "GET",
        &rec,
        h.clock_now(),
        b"",
    );
    let r = c
        .request(Method::GET, &rec, &[("authorization", auth)], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["pseudonym"], p.pseudonym.to_hex());
    assert_eq!(r.json()["kind"], "sealed-text");
    assert!(
        r.json().get("challenge_id").is_none(),
        "a text has no record-id binding"
    );
    let got = B64
        .decode(r.json()["ciphertext"].as_str().unwrap())
        .unwrap();
    assert_eq!(got, ciphertext);
    let opened = minimis_seal::open(
        &SealedCheckIn::try_from(got).unwrap(),
        epoch,
        &h.world.agency,
        h.world.oversight.as_ref(),
        h.world.policy.max_note_bytes(),
    )
    .unwrap();
    assert_eq!(opened.note.expose(), canary);
    assert_eq!(opened.challenge_id, ch.id);

    // At the epoch's content deadline the text goes with the epoch's records; the link
    // stays on the row.
    h.clock.set(h.world.policy.content_deadline(epoch));
    assert_eq!(h.running.tick().await.unwrap().purged_texts, 1);
    let auth = custodian_auth(
        &h.world.agency_key,
        CustodianRole::Agency,
        "GET",
        &rec,
        h.clock_now(),
        b"",
    );
    let r = c
        .request(Method::GET, &rec, &[("authorization", auth)], vec![])
        .await
        .unwrap();
    assert_eq!(r.code(), "unknown_record");
    let r = read_row(&mut officer, ch.id).await;
    assert_eq!(r.json()["failure_report"]["text"], link);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_24_a_resolution_has_a_reason_is_logged_and_not_excused_needs_the_report_read() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let q = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let cp = h.challenges(&mut c, &p).await.remove(0).challenge;
    let cq = h.challenges(&mut c, &q).await.remove(0).challenge;
    let body = serde_json::json!({"challenge_id": cp.id, "category": "no-network"});
    let r = device_post(&h, &mut c, &p, &reports_path(&p), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    h.clock.advance(4 * 3_600);
    assert_eq!(h.running.tick().await.unwrap().missed, 2);
    let before = h.db_digest();

    // A reason code is required, and must be one the spec lists and the row supports.
    let res = format!("/v1/ledger/{}/resolution", cp.id);
    for (body, status, code) in [
        (
            r#"{"resolution":"excused-other"}"#,
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            r#"{"resolution":"excused-other","reason":"illness"}"#,
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            r#"{"resolution":"excused-other","reason":"no-account","officer":"x"}"#,
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
    ] {
        let r = officer.post(&res, body.as_bytes().to_vec()).await.unwrap();
        assert_eq!((r.status, r.code().as_str()), (status, code), "{body}");
    }
    let r = resolve(
        &mut officer,
        cp.id,
        "excused-other",
        "participant-statement",
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason_not_on_row")
    );
    // Not excused, over a failure report nobody has read: refused.
    let r = resolve(&mut officer, cp.id, "not-excused", "failure-report").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "report_not_read")
    );
    let r = c.get(&format!("/v1/ledger/{}", cp.id)).await.unwrap();
    assert_eq!(r.code(), "client_certificate_required", "officers only");
    let r = read_row(&mut officer, ChallengeId::from_bytes([0x42; 16])).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "unknown_challenge")
    );
    assert_eq!(h.db_digest(), before, "refusals change nothing");

    // The officer reads the row and its report; a statement filed after that makes it
    // unread again; once read again, the resolution goes through.
    let r = read_row(&mut officer, cp.id).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["failure_report"]["category"], "no-network");
    let body = serde_json::json!({"challenge_id": cp.id, "category": "explanation",
        "text": sealed_text(&h, cp.id, "no tenía señal en el trabajo")});
    let r = device_post(&h, &mut c, &p, &statements_path(&p), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let r = resolve(&mut officer, cp.id, "not-excused", "failure-report").await;
    assert_eq!(
        r.code(),
        "report_not_read",
        "the statement came after the read"
    );
    let r = read_row(&mut officer, cp.id).await;
    assert_eq!(r.json()["statements"][0]["category"], "explanation");
    let r = resolve(&mut officer, cp.id, "not-excused", "failure-report").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    // A row with no report or statement needs no read.
    let r = resolve(&mut officer, cq.id, "excused-technical", "operator-outage").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());

    // The ledger keeps who and why; the log keeps the decision and why, under the tag.
    let r = read_row(&mut officer, cp.id).await.json();
    assert_eq!(r["resolved_by"], "officer-0001");
    assert_eq!(r["resolution_reason"], "failure-report");
    assert_eq!(
        own_ledger(&h, &mut c, &p).await[0]["resolution_reason"],
        "failure-report"
    );
    let epoch = h.world.now_epoch();
    let resolved = row_resolutions(&log_entries(&h, &mut c).await);
    use minimis_log::entry::{Resolution, ResolutionReason};
    assert_eq!(
        resolved,
        vec![
            minimis_log::LogEntry::RowResolved {
                tag: p.tags.tag(&p.pseudonym, epoch),
                challenge: cp.id,
                epoch,
                resolution: Resolution::NotExcused,
                reason: ResolutionReason::FailureReport,
            },
            minimis_log::LogEntry::RowResolved {
                tag: q.tags.tag(&q.pseudonym, epoch),
                challenge: cq.id,
                epoch,
                resolution: Resolution::ExcusedTechnical,
                reason: ResolutionReason::OperatorOutage,
            },
        ]
    );
    for e in &resolved {
        let bytes = e.encode();
        assert!(
            !bytes.windows(12).any(|w| w == b"officer-0001"),
            "the public entry names no officer"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_26_presence_and_zone_results_do_not_change_the_ledger_state() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let results = [
        (ZoneResult::Inside, PresenceResult::Confirmed),
        (ZoneResult::Inside, PresenceResult::NotConfirmed),
        (ZoneResult::Inside, PresenceResult::Unavailable),
        (ZoneResult::Unavailable, PresenceResult::Confirmed),
        (ZoneResult::Unavailable, PresenceResult::Unavailable),
        (ZoneResult::Outside, PresenceResult::NotConfirmed),
    ];
    let mut people = Vec::new();
    for _ in 0..2 * results.len() {
        people.push(h.enroll(&mut officer).await);
    }
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let mut challenges = Vec::new();
    for p in &people {
        challenges.push(h.challenges(&mut c, p).await.remove(0).challenge);
    }
    // The first half arrive in the window, the second in the grace period: the state is
    // set by when they arrive, and the sealed results, which the server cannot read, do
    // not count.
    let (on_time, late) = people.split_at(results.len());
    for (i, (p, (zone, presence))) in on_time.iter().zip(results).enumerate() {
        let env = envelope_with(&h, p, &challenges[i], zone, presence);
        let r = checkin(&mut c, &env).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        assert_eq!(
            r.json()["state"]["state"],
            "on-time",
            "{zone:?} {presence:?}"
        );
    }
    h.clock.set(challenges[0].window_end.plus(59 * 60));
    for (i, (p, (zone, presence))) in late.iter().zip(results).enumerate() {
        let env = envelope_with(&h, p, &challenges[results.len() + i], zone, presence);
        let r = checkin(&mut c, &env).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        assert_eq!(r.json()["state"]["state"], "late", "{zone:?} {presence:?}");
    }
    h.clock.advance(3_600);
    assert_eq!(h.running.tick().await.unwrap().missed, 0, "all received");
    for (i, p) in people.iter().enumerate() {
        let want = if i < results.len() { "on-time" } else { "late" };
        assert_eq!(own_ledger(&h, &mut c, p).await[0]["state"]["state"], want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc_12_a_statement_is_kept_with_its_row_and_an_officer_sees_both() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let q = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let cp = h.challenges(&mut c, &p).await.remove(0).challenge;
    let cq = h.challenges(&mut c, &q).await.remove(0).challenge;
    // p checks in on time; q misses, and an officer excuses it.
    let env = h.envelope(&p, &cp, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    let text = sealed_text(&h, cp.id, "the time on this row is wrong");
    h.clock.set(cq.window_end.plus(2 * 3_600));
    assert_eq!(h.running.tick().await.unwrap().missed, 1);
    let r = resolve(&mut officer, cq.id, "excused-other", "agency-contact").await;
    assert_eq!(r.status, StatusCode::OK);

    // Statements on an on-time row and on a resolved row: any row of one's own ledger.
    let path = statements_path(&p);
    let first = serde_json::json!({"challenge_id": cp.id, "category": "correction", "text": text});
    let r = device_post(&h, &mut c, &p, &path, &first).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let second = serde_json::json!({"challenge_id": cp.id, "category": "other"});
    let r = device_post(&h, &mut c, &p, &path, &second).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    let dispute = serde_json::json!({"challenge_id": cq.id, "category": "dispute"});
    let r = device_post(&h, &mut c, &q, &statements_path(&q), &dispute).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());

    // The row is as it was, with the statements beside it, for the participant and for
    // the officer who reads it.
    let link = {
        let ct = B64.decode(text["ciphertext"].as_str().unwrap()).unwrap();
        let ct = SealedCheckIn::try_from(ct).unwrap();
        let id =
            minimis_server::store::sealed_text_id(&p.pseudonym, &cp.id, h.world.now_epoch(), &ct);
        serde_json::json!({"id": id.to_hex(), "epoch": h.world.now_epoch().get()})
    };
    let want = serde_json::json!([
        {"category": "correction", "text": link},
        {"category": "other", "text": null},
    ]);
    let mine = &own_ledger(&h, &mut c, &p).await[0];
    assert_eq!(
        mine["state"]["state"], "on-time",
        "the original row is kept"
    );
    assert_eq!(mine["statements"], want);
    let r = read_row(&mut officer, cp.id).await.json();
    assert_eq!(r["state"]["state"], "on-time");
    assert_eq!(r["statements"], want);
    let r = read_row(&mut officer, cq.id).await.json();
    assert_eq!(
        r["state"],
        serde_json::json!({"state": "resolved", "resolution": "excused-other"})
    );
    assert_eq!(r["resolution_reason"], "agency-contact");
    assert_eq!(
        r["statements"],
        serde_json::json!([{"category": "dispute", "text": null}])
    );

    // Refusals change nothing: another's row, an unknown category, an extra field, no
    // signature; the same statement again is a retry; the ninth is refused.
    let before = h.db_digest();
    for (who, body, status, code) in [
        (
            &q,
            serde_json::json!({"challenge_id": cp.id, "category": "dispute"}),
            StatusCode::FORBIDDEN,
            "challenge_not_yours",
        ),
        (
            &p,
            serde_json::json!({"challenge_id": cp.id, "category": "complaint"}),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            &p,
            serde_json::json!({"challenge_id": cp.id, "category": "other", "photo": "…"}),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
    ] {
        let r = device_post(&h, &mut c, who, &statements_path(who), &body).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{body}");
    }
    let r = c
        .post(&path, serde_json::to_vec(&second).unwrap())
        .await
        .unwrap();
    assert_eq!(r.code(), "missing_authorization");
    let r = device_post(&h, &mut c, &p, &path, &second).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.db_digest(), before, "refusals and a retry change nothing");
    for i in 0..6 {
        let t = sealed_text(&h, cp.id, &format!("more {i}"));
        let body = serde_json::json!({"challenge_id": cp.id, "category": "other", "text": t});
        let r = device_post(&h, &mut c, &p, &path, &body).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    }
    let before = h.db_digest();
    let r = device_post(&h, &mut c, &p, &path, &first.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "a retry of a kept statement"
    );
    let ninth = serde_json::json!({"challenge_id": cp.id, "category": "dispute"});
    let r = device_post(&h, &mut c, &p, &path, &ninth).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "statement_limit")
    );
    assert_eq!(h.db_digest(), before);
    assert_eq!(
        own_ledger(&h, &mut c, &p).await[0]["statements"]
            .as_array()
            .unwrap()
            .len(),
        8,
        "nothing acknowledged is lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_20_a_closed_enrollment_is_purged_at_its_deadline_and_the_purge_logged() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let keep = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let env = h.envelope(&p, &ch, "");
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);
    let body = serde_json::json!({"challenge_id": ch.id, "category": "explanation",
        "text": sealed_text(&h, ch.id, "llegué tarde por el autobús")});
    let r = device_post(&h, &mut c, &p, &statements_path(&p), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    assert_eq!(read_row(&mut officer, ch.id).await.status, StatusCode::OK);
    let r = officer
        .post(&format!("/v1/enrollments/{}/close", p.pseudonym), vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let closed_at = h.clock_now();
    let close_epoch = h.world.policy.epoch_at(closed_at).unwrap();
    let days = i64::from(h.world.policy.ledger_retention_days());
    h.clock.set(closed_at.plus(days * 86_400));
    let report = h.running.tick().await.unwrap();
    assert_eq!(report.purged_participants, 0, "not before the deadline");
    assert_eq!(
        (report.purged_records, report.purged_texts),
        (1, 1),
        "content went first"
    );
    h.clock.set(closed_at.plus(days * 86_400 + 1));
    let purged_at = h.clock_now();
    assert_eq!(h.running.tick().await.unwrap().purged_participants, 1);
    assert_eq!(
        h.running.tick().await.unwrap().purged_participants,
        0,
        "a second sweep does nothing"
    );

    // Nothing of the participant is left: no value anywhere holds the pseudonym, the
    // device key or the tag key, and no statement, read or text remains.
    let conn = rusqlite::Connection::open(h.dir.path().join("data/minimis.sqlite3")).unwrap();
    let needles: [(&str, Vec<u8>); 3] = [
        ("pseudonym", p.pseudonym.as_bytes().to_vec()),
        ("device key", p.device.public_key().as_bytes().to_vec()),
        ("tag key", p.tags.expose_secret().to_vec()),
    ];
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in &tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                let bytes = match row.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Blob(b) => b,
                    rusqlite::types::Value::Text(s) => s.into_bytes(),
                    _ => continue,
                };
                for (what, needle) in &needles {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                        "table {t} still holds the {what}"
                    );
                }
            }
        }
    }
    for t in ["statements", "ledger_reads", "sealed_texts"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{t}");
    }
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM participants WHERE pseudonym = ?1",
            [keep.pseudonym.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1, "an open enrollment is untouched");
    let path = format!("/v1/participants/{}/ledger", p.pseudonym);
    let r = c
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
    assert_eq!(
        r.code(),
        "unknown_participant",
        "the device key is gone too"
    );

    // The purge is logged once, under the tag and epoch of the enrollment's closing, so
    // that an auditor pairs the two and checks the deadline (AUD-5).
    let entries = log_entries(&h, &mut c).await;
    let tag = p.tags.tag(&p.pseudonym, close_epoch);
    assert!(entries.contains(&minimis_log::LogEntry::EnrollmentClosed {
        tag,
        epoch: close_epoch
    }));
    let purges: Vec<_> = entries
        .iter()
        .filter(|e| matches!(e, minimis_log::LogEntry::LedgerPurged { .. }))
        .collect();
    assert_eq!(
        purges,
        vec![&minimis_log::LogEntry::LedgerPurged {
            tag,
            epoch: close_epoch,
            purged_at,
        }]
    );
    // And the auditor, from the log alone, finds the purge paired and on time.
    use minimis_audit::LogSource as _;
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let dir = h.dir.path().join("audited");
    fetch_log(&mut c, &dir).await;
    let storage = minimis_audit::DirSource::new(&dir).fetch().unwrap();
    let deadline = h.world.policy.epoch_end(close_epoch).plus(days * 86_400);
    assert!(purged_at <= deadline);
    // This server runs with no witness.
    let report = minimis_audit::Auditor::new(log_key, deadline.plus(1))
        .policy(h.world.policy.clone())
        .allow_no_witness()
        .audit(storage, None)
        .unwrap();
    let check = report.check(minimis_audit::CheckId::LedgersPurged).unwrap();
    assert!(check.holds(), "{:?}", check.violations);
    assert_eq!(report.counts().ledgers_due, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loc_20_the_operator_takes_no_zone_and_the_bundle_carries_only_a_salted_commitment() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.world.participant();
    let zone_json = r#"{"type":"Polygon","coordinates":[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]}"#;
    let before = h.db_digest();
    // An enrollment that carries a zone, as a polygon or as its commitment, is refused:
    // the operator's enrollment has no field for either, and nothing is stored.
    for (field, value) in [
        (
            "zone",
            serde_json::from_str::<serde_json::Value>(zone_json).unwrap(),
        ),
        ("zone_commitment", serde_json::json!(hex::encode([7u8; 32]))),
    ] {
        let mut body = serde_json::json!({
            "device_key": B64.encode(p.device.public_key().as_bytes()),
            "tag_key": B64.encode(p.tags.expose_secret()),
            "schedule": p.schedule,
        });
        body[field] = value;
        let r = officer
            .post("/v1/enrollments", serde_json::to_vec(&body).unwrap())
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, "malformed"),
            "{field}"
        );
        assert_eq!(h.db_digest(), before, "{field} changed the database");
    }
    // The zone is fixed in the agency's bundle only as a salted commitment: the same
    // public boundary under two salts gives two unrelated commitments, and neither is the
    // unsalted hash anyone could compute from the published boundary.
    let zone = minimis_client::location::Zone::from_geojson(zone_json).unwrap();
    let a = minimis_client::bundle::ZoneSalt::generate().unwrap();
    let b = minimis_client::bundle::ZoneSalt::generate().unwrap();
    let ca = minimis_client::bundle::ZoneCommitment::new(&a, &zone);
    let cb = minimis_client::bundle::ZoneCommitment::new(&b, &zone);
    assert_ne!(ca, cb);
    let unsalted = minimis_crypto::sha256(zone_json.as_bytes());
    assert_ne!(ca.0, unsalted);
    assert_ne!(cb.0, unsalted);
}

/// The `epoch summary` entries of the log.
fn summaries(entries: &[minimis_log::LogEntry]) -> Vec<minimis_log::EpochSummary> {
    entries
        .iter()
        .filter_map(|e| match e {
            minimis_log::LogEntry::EpochSummary(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_28_log_36_one_epoch_summary_once_the_epochs_challenges_close_and_never_twice() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let on_time = h.enroll(&mut officer).await;
    let late = h.enroll(&mut officer).await;
    let missed = h.enroll(&mut officer).await;
    assert_eq!(h.running.tick().await.unwrap().issued, 3);
    let mut c = h.client().await;
    let epoch = h.world.now_epoch();
    let a = h.challenges(&mut c, &on_time).await.remove(0).challenge;
    let b = h.challenges(&mut c, &late).await.remove(0).challenge;
    let m = h.challenges(&mut c, &missed).await.remove(0).challenge;
    assert!([&a, &b, &m].iter().all(|ch| ch.epoch == epoch));
    let r = checkin(&mut c, &h.envelope(&on_time, &a, "")).await;
    assert_eq!(r.json()["state"]["state"], "on-time");
    // The one who missed files a technical-failure report.
    let body = serde_json::json!({"challenge_id": m.id, "category": "no-network"});
    let r = device_post(&h, &mut c, &missed, &reports_path(&missed), &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    h.clock.set(b.window_end.plus(30 * 60));
    let r = checkin(&mut c, &h.envelope(&late, &b, "")).await;
    assert_eq!(r.json()["state"]["state"], "late");
    h.clock
        .set(m.window_end.plus(h.world.policy.grace_seconds()));
    assert_eq!(h.running.tick().await.unwrap().missed, 1);
    // Resolved rows still count as what they were: late, and missed.
    let r = resolve(&mut officer, b.id, "excused-other", "agency-contact").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let r = resolve(&mut officer, m.id, "excused-technical", "failure-report").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());

    // Not before the epoch ends.
    let end = h.world.policy.epoch_end(epoch);
    h.clock.set(end.plus(-1));
    assert_eq!(h.running.tick().await.unwrap().summarized_epochs, 0);
    assert_eq!(summaries(&log_entries(&h, &mut c).await), vec![]);

    h.clock.set(end);
    assert_eq!(h.running.tick().await.unwrap().summarized_epochs, 1);
    let want = minimis_log::EpochSummary {
        epoch,
        issued: 3,
        on_time: 1,
        late: 1,
        missed: 1,
        reports: minimis_log::FailureCounts {
            no_network: 1,
            ..Default::default()
        },
    };
    assert_eq!(summaries(&log_entries(&h, &mut c).await), vec![want]);
    // A report filed after the summary is not in it, and nothing is logged again.
    assert_eq!(h.running.tick().await.unwrap().summarized_epochs, 0);

    // Nor after a restart, nor for the next epoch, which issued no challenge.
    let Harness {
        dir,
        running,
        clock,
        world,
        server_cert,
        officer: officer_cert,
    } = h;
    running.shutdown().await;
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        agency_key: Some(world.agency_key.public_key()),
        oversight_key: Some(world.oversight_key.public_key()),
        max_batch: 256,
        ..ServerConfig::default()
    };
    let running = Server::start(config, clock.clone()).await.unwrap();
    let h = Harness {
        dir,
        running,
        clock,
        world,
        server_cert,
        officer: officer_cert,
    };
    let mut c = h.client().await;
    assert_eq!(h.running.tick().await.unwrap().summarized_epochs, 0);
    h.clock
        .set(h.world.policy.epoch_end(EpochId::new(epoch.get() + 1)));
    assert_eq!(h.running.tick().await.unwrap().summarized_epochs, 1);
    let entries = log_entries(&h, &mut c).await;
    assert_eq!(summaries(&entries), vec![want], "exactly one, ever");
    // The entry holds counts only: no tag, no challenge id of the epoch's rows.
    let bytes = minimis_log::LogEntry::EpochSummary(want).encode();
    for ch in [&a, &b, &m] {
        assert!(!bytes.windows(16).any(|w| w == ch.id.as_bytes()));
    }
    // And the auditor agrees with it (CHK-28).
    use minimis_audit::LogSource as _;
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: minimis_log::VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();
    let dir = h.dir.path().join("audited");
    fetch_log(&mut c, &dir).await;
    let storage = minimis_audit::DirSource::new(&dir).fetch().unwrap();
    // This server runs with no witness.
    let report = minimis_audit::Auditor::new(log_key, h.clock_now())
        .policy(h.world.policy.clone())
        .allow_no_witness()
        .audit(storage, None)
        .unwrap();
    let check = report
        .check(minimis_audit::CheckId::EpochSummaries)
        .unwrap();
    assert!(check.holds(), "{:?}", check.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_40_chk_41_a_custodian_request_is_refused_unless_signed_by_its_roles_key() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let now = h.clock_now();
    let path = format!("/v1/custodian/records/{}", RecordId::from_bytes([5; 32]));
    let (agency, oversight) = (CustodianRole::Agency, CustodianRole::Oversight);
    let good = custodian_auth(&h.world.oversight_key, oversight, "GET", &path, now, b"");
    let mut cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        // Signed by its role's key: past the check, to the route (no such record).
        (
            "signed",
            Some(good.clone()),
            StatusCode::NOT_FOUND,
            "unknown_record",
        ),
        (
            "unsigned",
            None,
            StatusCode::UNAUTHORIZED,
            "missing_authorization",
        ),
        (
            "another role's key",
            Some(custodian_auth(
                &h.world.agency_key,
                oversight,
                "GET",
                &path,
                now,
                b"",
            )),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "signed for the other role",
            Some(good.replace("role=oversight", "role=agency")),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "another path",
            Some(custodian_auth(
                &h.world.oversight_key,
                oversight,
                "GET",
                "/v1/custodian/holds",
                now,
                b"",
            )),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "stale",
            Some(custodian_auth(
                &h.world.agency_key,
                agency,
                "GET",
                &path,
                UnixTime(now.0 - 301),
                b"",
            )),
            StatusCode::UNAUTHORIZED,
            "stale_request",
        ),
        (
            "a role by its custodian id's spelling",
            Some(good.replace("role=oversight", "role=Oversight")),
            StatusCode::UNAUTHORIZED,
            "bad_authorization",
        ),
        (
            "parameters out of order",
            Some(good.replacen("role=oversight,", "", 1) + ",role=oversight"),
            StatusCode::UNAUTHORIZED,
            "bad_authorization",
        ),
        (
            "a space after a comma",
            Some(good.replace(",time=", ", time=")),
            StatusCode::UNAUTHORIZED,
            "bad_authorization",
        ),
    ];
    cases.push((
        "a device's scheme",
        Some(good.replace("Minimis-Custodian", "Minimis-Device")),
        StatusCode::UNAUTHORIZED,
        "bad_authorization",
    ));
    let before = h.db_digest();
    for (what, auth, status, code) in cases {
        let headers: Vec<(&str, String)> = auth.into_iter().map(|a| ("authorization", a)).collect();
        let r = c
            .request(Method::GET, &path, &headers, vec![])
            .await
            .unwrap();
        assert_eq!((r.status, r.code().as_str()), (status, code), "{what}");
    }
    assert_eq!(h.db_digest(), before, "a refusal changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_42_the_signed_path_is_the_request_target_as_sent() {
    let h = Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    let mut c = h.client().await;
    let now = h.clock_now();
    let plain = format!("/v1/participants/{}/challenges", p.pseudonym);
    // The same route with the pseudonym's first character percent-encoded.
    let hex = p.pseudonym.to_string();
    let encoded = format!(
        "/v1/participants/%{:02X}{}/challenges",
        hex.as_bytes()[0],
        &hex[1..]
    );
    let sign = |signed_path: &str| {
        let sig =
            minimis_crypto::sign_request(&p.device, &p.pseudonym, "GET", signed_path, now, b"");
        vec![(
            "authorization",
            format!(
                "Minimis-Device pseudonym={},time={},signature={}",
                p.pseudonym,
                now.seconds(),
                B64.encode(sig.as_bytes())
            ),
        )]
    };
    // Signed over the target as sent, encoded: accepted (the route decodes its parameter).
    let r = c
        .request(Method::GET, &encoded, &sign(&encoded), vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    // Signed over the decoded path but sent encoded: not what was sent, refused.
    let r = c
        .request(Method::GET, &encoded, &sign(&plain), vec![])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    // A query is part of what is signed.
    let with_query = format!("{plain}?x=1");
    let r = c
        .request(Method::GET, &with_query, &sign(&plain), vec![])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_23_seal_24_one_recipient_per_epoch_and_custodian_and_each_refusal_its_code() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let epoch = h.world.now_epoch();
    let first = h
        .world
        .published(epoch)
        .into_iter()
        .find(|r| r.recipient.role == CustodianRole::Agency)
        .unwrap();
    // The custodian sets `not_after` to the epoch's end.
    assert_eq!(first.recipient.not_after, h.world.policy.epoch_end(epoch));
    let post = |r: &SignedEpochRecipient| serde_json::to_vec(r).unwrap();
    let before = h.db_digest();
    // The same signed recipient again: a retry, answered 204, nothing changes.
    let r = c.post("/v1/recipients", post(&first)).await.unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
    assert_eq!(h.db_digest(), before);

    let mut other = first.recipient.clone();
    other.not_after = UnixTime(other.not_after.0 - 60);
    let stranger = minimis_crypto::SigningKey::generate().unwrap();
    let mut misnamed = first.recipient.clone();
    misnamed.custodian = "someone-else".into();
    let cases = [
        (
            "a second, validly signed recipient for the same epoch and custodian",
            minimis_crypto::sign_epoch_recipient(&h.world.agency_key, other),
            StatusCode::CONFLICT,
            "recipient_already_published",
        ),
        (
            "signed by a key the operator was not configured with",
            minimis_crypto::sign_epoch_recipient(&stranger, first.recipient.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_recipient_signature",
        ),
        (
            "signed by the other custodian's key",
            minimis_crypto::sign_epoch_recipient(&h.world.oversight_key, first.recipient.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_recipient_signature",
        ),
        (
            "a custodian id the policy does not name",
            minimis_crypto::sign_epoch_recipient(&h.world.agency_key, misnamed),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_custodian",
        ),
    ];
    for (what, signed, status, code) in cases {
        let r = c.post("/v1/recipients", post(&signed)).await.unwrap();
        assert_eq!((r.status, r.code().as_str()), (status, code), "{what}");
    }
    assert_eq!(h.db_digest(), before, "a refusal changes nothing");
    // Devices still fetch the first.
    let r = c
        .get(&format!("/v1/epochs/{}/recipients", epoch.get()))
        .await
        .unwrap();
    let got: Vec<SignedEpochRecipient> = serde_json::from_slice(&r.body).unwrap();
    assert!(got.contains(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_43_chk_44_chk_46_a_window_across_an_epoch_boundary_logs_each_entry_under_its_epochs_tag()
 {
    let mut h = Harness::start().await;
    let (first, next) = (h.world.now_epoch(), h.world.now_epoch().next().unwrap());
    h.world.agency.generate(next).unwrap();
    h.world.oversight.as_mut().unwrap().generate(next).unwrap();
    let mut c = h.client().await;
    for r in h.world.published(next) {
        let reply = c
            .post("/v1/recipients", serde_json::to_vec(&r).unwrap())
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json());
    }
    // Sunday 17:00 to 19:00 in Chicago: 23:00 to 01:00 UTC, across Monday 00:00 UTC, where
    // epoch `next` starts.
    let boundary = h.world.policy.epoch_start(next);
    let mut p = h.world.participant();
    p.schedule = Schedule::new(
        "America/Chicago",
        vec![Window {
            weekday: Weekday::Sunday,
            start: "17:00".parse().unwrap(),
            end: "19:00".parse().unwrap(),
        }],
        1,
        0,
    )
    .unwrap();
    // Enrolled inside the window (CHK-46): the window's challenge comes at the next pass,
    // with the window's own bounds, not the enrollment's time.
    h.clock.set(UnixTime(boundary.0 - 30 * 60));
    let mut officer = h.officer_client().await;
    let p = minimis_testkit::https::enroll(&mut officer, p).await;
    h.running.tick().await.unwrap();
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    assert_eq!(ch.window_start, UnixTime(boundary.0 - 3_600));
    assert_eq!(ch.window_end, UnixTime(boundary.0 + 3_600));
    assert_eq!(ch.issued_at, UnixTime(boundary.0 - 30 * 60));
    // Its epoch is the one containing its issue time (CHK-43), not its window's end.
    assert_eq!(ch.epoch, first);

    // Answered after the boundary: sealed to the epoch current then.
    h.clock.set(UnixTime(boundary.0 + 10 * 60));
    let env = h.envelope(&p, &ch, "");
    assert_eq!(env.epoch, next);
    assert_eq!(checkin(&mut c, &env).await.status, StatusCode::CREATED);

    let entries = log_entries(&h, &mut c).await;
    let issued = entries
        .iter()
        .find_map(|e| match e {
            minimis_log::LogEntry::ChallengeIssued {
                tag,
                challenge,
                epoch,
                ..
            } if *challenge == ch.id => Some((*tag, *epoch)),
            _ => None,
        })
        .unwrap();
    let received = entries
        .iter()
        .find_map(|e| match e {
            minimis_log::LogEntry::CheckInReceived {
                tag,
                challenge,
                epoch,
                ..
            } if *challenge == ch.id => Some((*tag, *epoch)),
            _ => None,
        })
        .unwrap();
    assert_eq!(issued, (p.tags.tag(&p.pseudonym, first), first));
    assert_eq!(received, (p.tags.tag(&p.pseudonym, next), next));
}

/// With a tlog-policy, the server logs its SHA-256 (entry `0x0f`) at its start, before
/// any checkpoint is cosigned under it, and once (LOG-65).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_65_the_server_logs_its_tlog_policy_hash_once() {
    let witness = minimis_log::Cosigner::new(
        minimis_log::KeyName::new("witness1.example").unwrap(),
        minimis_crypto::SigningKey::from_seed(&[0x31; 32]).unwrap(),
    )
    .verifier_key();
    let policy =
        minimis_log::TlogPolicy::parse(format!("witness a {witness}\nquorum a\n").as_bytes())
            .unwrap();
    let hash = policy.hash();
    let set = minimis_server::WitnessSet {
        // Nobody listens there: the policy is logged whether or not a witness answers.
        witnesses: vec![minimis_server::WitnessLink {
            addr: "127.0.0.1:9".parse().unwrap(),
            server_name: "localhost".into(),
            roots_pem: String::new(),
            client: None,
            prefix: String::new(),
            vkey: witness,
        }],
        quorum: 1,
        policy: Some(std::sync::Arc::new(policy)),
    };
    let h = Harness::start_with(true, |c| c.witnesses = Some(set)).await;
    let mut c = h.client().await;
    let logged = |entries: &[minimis_log::LogEntry]| {
        entries
            .iter()
            .filter(|e| matches!(e, minimis_log::LogEntry::WitnessPolicyPublished { .. }))
            .cloned()
            .collect::<Vec<_>>()
    };
    let entries = log_entries(&h, &mut c).await;
    assert_eq!(
        logged(&entries),
        vec![minimis_log::LogEntry::WitnessPolicyPublished { policy: hash }]
    );
}
