//! Crash safety (CHK-15): the real `minimis serve`, killed with SIGKILL at random moments
//! while many TLS clients submit check-ins, restarted on the same data directory, round
//! after round.
//!
//! Each round enrolls fresh participants (so, after a restart, their challenges prove the
//! scheduler ticks again), seals their answers, lets many clients submit them at once, and
//! kills the server after a random number of receipts plus a random delay, so the kill
//! lands anywhere in the writer's cycle: checking, appending, signing, syncing the WAL,
//! answering. Then it restarts the server and checks what a crash must never break:
//!
//! - every check-in that got a `201` receipt is stored exactly once, with its ledger row
//!   on time or late and its `check-in received` entry at the record's log index;
//! - every receipt's tlog-proof still verifies with the log key, its entry is included in
//!   the current tree (proved from the current tiles), and its checkpoint is consistent
//!   with the current checkpoint;
//! - `PRAGMA integrity_check` is `ok`, and the log, fetched through `/v1/log/...`, audits
//!   from its tiles;
//! - a check-in that got no answer is stored once or not at all: resubmitted after the
//!   restart it gets either `201` or `409 challenge_already_answered`, never a second
//!   record; and nothing is half stored (no record without its ledger state and its log
//!   entry, no answered ledger row or log entry without its record);
//! - the scheduler and the sweeper resume: the next round's challenges are issued by the
//!   restarted server, and in some rounds a ledger row whose window ended days ago and a
//!   record past its epoch's content deadline are planted while the server is down; the
//!   restarted server marks the row pending review and purges the record, logging it.
//!
//! The server runs on the real clock, so participants are enrolled with a schedule that is
//! open all day, every day, in UTC, and the custodians publish recipients for the current
//! and the next epoch. Set `MINIMIS_CRASH_SEED` to replay a round plan.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minimis_log::entry::RecordSetHash;
use minimis_log::{LogEntry, LogReader, VerifierKey, verify_tlog_proof};
use minimis_proto::{ChallengeId, Envelope, EpochId, Receipt, RecordId, ZoneResult};
use minimis_testkit::https::{Client, StatusCode, Versions};
use minimis_testkit::serve::{self, PATIENCE, Serve, system_now as now};
use minimis_testkit::{Participant, World};

/// Rounds of ingest, kill and restart.
const ROUNDS: usize = 12;
/// Participants enrolled, and check-ins submitted, per round.
const PER_ROUND: usize = 48;
/// Concurrent TLS clients submitting check-ins.
const CLIENTS: usize = 12;

/// xorshift64*: the round plan (kill points, delays), reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

/// `minimis serve` on `data`, once it answers (its warnings and errors only).
async fn serve(data: &Path, world: &World) -> Serve {
    let options = serve::Options {
        log: Some("warn".into()),
        wait_until_served: true,
        ..serve::Options::default()
    };
    Serve::start(
        env!("CARGO_BIN_EXE_minimis").as_ref(),
        data,
        world,
        &options,
    )
    .await
}

/// The data directory and the custodians' world.
struct Site {
    data: PathBuf,
    world: World,
}

impl Site {
    fn db(&self) -> PathBuf {
        self.data.join("minimis.sqlite3")
    }
}

/// One check-in of the test: who, what was sent, and what came back.
struct Sent {
    participant: usize,
    envelope: Envelope,
    receipt: Option<Receipt>,
}

impl Sent {
    fn entry(&self, people: &[Participant]) -> LogEntry {
        let p = &people[self.participant];
        LogEntry::CheckInReceived {
            tag: p.tags.tag(&p.pseudonym, self.envelope.epoch),
            record: self.envelope.record_id(),
            challenge: self.envelope.challenge_id,
            epoch: self.envelope.epoch,
        }
    }
}

/// What a submission got.
enum Answer {
    Receipt(Receipt),
    /// Refused with a status and code.
    Refused(StatusCode, String),
    /// No answer: the server died first, or the request was never sent.
    None,
}

async fn enroll(site: &Site, s: &Serve, n: usize) -> Vec<Participant> {
    let mut tasks = Vec::new();
    for chunk in 0..4 {
        let mut officer = s.officer_client().await;
        let people: Vec<Participant> = (0..n / 4 + usize::from(chunk < n % 4))
            .map(|_| {
                let mut p = site.world.participant();
                p.schedule = serve::always_open();
                p
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for p in people {
                out.push(minimis_testkit::https::enroll(&mut officer, p).await);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// Submits every envelope from `CLIENTS` concurrent TLS connections; kills the server
/// once `kill_after` receipts are in and `delay` has passed. Returns each envelope's answer.
async fn ingest_and_kill(
    s: &mut Serve,
    envelopes: &[Envelope],
    kill_after: usize,
    delay: Duration,
) -> Vec<Answer> {
    let queue = Arc::new(Mutex::new((0..envelopes.len()).collect::<VecDeque<_>>()));
    let answers = Arc::new(Mutex::new(
        (0..envelopes.len())
            .map(|_| Answer::None)
            .collect::<Vec<_>>(),
    ));
    let receipts = Arc::new(AtomicUsize::new(0));
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        envelopes
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap())
            .collect(),
    );
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, answers, receipts, bodies) = (
            queue.clone(),
            answers.clone(),
            receipts.clone(),
            bodies.clone(),
        );
        let (addr, cert) = (s.addr, s.cert.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = Client::connect(addr, &cert, None, Versions::Tls13).await else {
                return;
            };
            loop {
                let Some(i) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                let Ok(r) = c.post("/v1/checkins", bodies[i].clone()).await else {
                    // The server is gone: this one, and the rest, got no answer.
                    return;
                };
                let answer = if r.status == StatusCode::CREATED {
                    receipts.fetch_add(1, Ordering::SeqCst);
                    Answer::Receipt(serde_json::from_value(r.json()["receipt"].clone()).unwrap())
                } else {
                    Answer::Refused(r.status, r.code())
                };
                answers.lock().unwrap()[i] = answer;
            }
        }));
    }
    let deadline = Instant::now() + PATIENCE;
    while receipts.load(Ordering::SeqCst) < kill_after && !tasks.iter().all(|t| t.is_finished()) {
        assert!(Instant::now() < deadline, "ingest stalled");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    tokio::time::sleep(delay).await;
    s.kill();
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(answers).ok().unwrap().into_inner().unwrap()
}

/// What the database holds, read by the test's own connection while the server runs.
struct DbState {
    /// record id -> (challenge id, log index).
    records: BTreeMap<RecordId, (ChallengeId, u64)>,
    /// challenge id -> ledger state code.
    ledger: BTreeMap<ChallengeId, i64>,
}

fn read_db(path: &Path) -> DbState {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok", "PRAGMA integrity_check");
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT record_id) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, distinct, "a record stored twice");
    let mut records = BTreeMap::new();
    let mut st = conn
        .prepare("SELECT record_id, challenge_id, log_index FROM records")
        .unwrap();
    let mut q = st.query([]).unwrap();
    while let Some(row) = q.next().unwrap() {
        let id = RecordId::from_bytes(row.get::<_, Vec<u8>>(0).unwrap().try_into().unwrap());
        let c = ChallengeId::from_bytes(row.get::<_, Vec<u8>>(1).unwrap().try_into().unwrap());
        let index = u64::try_from(row.get::<_, i64>(2).unwrap()).unwrap();
        records.insert(id, (c, index));
    }
    let mut ledger = BTreeMap::new();
    let mut st = conn
        .prepare("SELECT challenge_id, state FROM ledger")
        .unwrap();
    let mut q = st.query([]).unwrap();
    while let Some(row) = q.next().unwrap() {
        let c = ChallengeId::from_bytes(row.get::<_, Vec<u8>>(0).unwrap().try_into().unwrap());
        ledger.insert(c, row.get(1).unwrap());
    }
    DbState { records, ledger }
}

/// The log as anyone can fetch it: audited from its tiles, with its decoded entries.
struct FetchedLog {
    reader: LogReader<minimis_log::MemoryStorage>,
    entries: Vec<LogEntry>,
}

async fn fetch_log(c: &mut Client, key: &VerifierKey, into: &Path) -> FetchedLog {
    crate::server::fetch_log(c, into).await;
    let reader = LogReader::from_dir(into, key).unwrap();
    reader.audit().expect("the log audits from its tiles");
    let mut entries = Vec::new();
    reader
        .for_each_entry(|_, e| entries.push(LogEntry::decode(e).unwrap()))
        .unwrap();
    FetchedLog { reader, entries }
}

/// A receipt still verifies, its entry is in the current tree, and its checkpoint is
/// consistent with the current one.
fn check_receipt(log: &FetchedLog, key: &VerifierKey, receipt: &Receipt, entry: &LogEntry) {
    let encoded = entry.encode();
    let proof = verify_tlog_proof(receipt.tlog_proof.as_bytes(), &encoded, key, &[])
        .expect("the receipt's tlog-proof verifies");
    let current = log.reader.checkpoint().checkpoint();
    let (size, root) = (current.tree_size(), *current.root_hash());
    let index = proof.leaf_index;
    assert_eq!(&log.entries[usize::try_from(index).unwrap()], entry);
    log.reader
        .inclusion_proof(index, size)
        .unwrap()
        .verify(&minimis_log::verify::leaf_hash(&encoded), &root)
        .expect("the entry is included in the current tree");
    let then = proof.checkpoint.tree_size();
    assert!(then <= size, "the log shrank below a receipt");
    log.reader
        .consistency_proof(then, size)
        .unwrap()
        .verify(proof.checkpoint.root_hash(), &root)
        .expect("the receipt's checkpoint is consistent with the current one");
}

/// Nothing is half stored: records, answered ledger rows and `check-in received` entries
/// match one to one.
fn check_whole(db: &DbState, log: &FetchedLog) {
    let mut logged: BTreeMap<RecordId, (ChallengeId, u64)> = BTreeMap::new();
    let mut challenges = BTreeSet::new();
    for (i, e) in log.entries.iter().enumerate() {
        if let LogEntry::CheckInReceived {
            record, challenge, ..
        } = e
        {
            assert!(
                logged.insert(*record, (*challenge, i as u64)).is_none(),
                "a record logged twice"
            );
            assert!(challenges.insert(*challenge), "a challenge answered twice");
        }
    }
    let unlogged = db
        .records
        .iter()
        .filter(|(id, v)| logged.get(*id) != Some(*v));
    let unstored = logged
        .iter()
        .filter(|(id, v)| db.records.get(*id) != Some(*v));
    let (unlogged, unstored) = (unlogged.count(), unstored.count());
    assert_eq!(
        (unlogged, unstored),
        (0, 0),
        "records without their `check-in received` entry at their log index, and entries \
         without their record"
    );
    for (id, (challenge, _)) in &db.records {
        let state = db.ledger.get(challenge).copied();
        assert!(
            matches!(state, Some(1 | 2)),
            "record {id:?}'s ledger row is {state:?}, not on time or late"
        );
    }
    let answered: BTreeSet<ChallengeId> = db
        .ledger
        .iter()
        .filter(|(_, s)| matches!(s, 1 | 2))
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(
        answered, challenges,
        "every answered ledger row has its record and entry"
    );
}

/// While the server is down: a ledger row whose window ended three days ago, still open,
/// and a record of an epoch past its content deadline. The restarted server's tick must
/// mark the one pending review and purge the other.
fn plant(site: &Site, owner: &Participant) -> (ChallengeId, RecordId, EpochId) {
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    let t = now();
    let old = site.world.policy.epoch_at(t).unwrap().get() - 20;
    let old = EpochId::new(old);
    assert!(site.world.policy.content_deadline(old) < t);
    let challenge = ChallengeId::from_bytes(minimis_crypto::random_bytes().unwrap());
    let record = RecordId::from_bytes(minimis_crypto::random_bytes().unwrap());
    let p = owner.pseudonym.as_bytes().to_vec();
    let start = t.seconds() - 3 * 86_400;
    conn.execute(
        "INSERT INTO ledger (challenge_id, pseudonym, epoch, kind, issued_at, window_start, \
         window_end, policy, signature, state) VALUES (?1, ?2, ?3, 2, ?4, ?4, ?5, ?6, ?7, 0)",
        rusqlite::params![
            challenge.as_bytes().to_vec(),
            p,
            i64::from(site.world.policy.epoch_at(t).unwrap().get()),
            start,
            start + 3_600,
            vec![0u8; 32],
            vec![0u8; 64],
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO records (record_id, pseudonym, challenge_id, epoch, ciphertext, signature, \
         log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
        rusqlite::params![
            record.as_bytes().to_vec(),
            owner.pseudonym.as_bytes().to_vec(),
            minimis_crypto::random_bytes::<16>().unwrap().to_vec(),
            i64::from(old.get()),
            vec![0u8; 1_000],
            vec![0u8; 64],
        ],
    )
    .unwrap();
    (challenge, record, old)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_15_log_31_sigkill_during_ingest_loses_no_receipt_and_stores_nothing_twice_or_half() {
    let seed = std::env::var("MINIMIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from_le_bytes(minimis_crypto::random_bytes().unwrap()) | 1);
    eprintln!("chk_15 crash test: MINIMIS_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let world = World::keyed_at(now(), 1);
    let epochs = world.epochs();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut serve = serve(&data, &world).await;
    let site = Site { data, world };
    let mut c = serve.client().await;
    for e in epochs {
        for r in site.world.published(e) {
            let reply = c
                .post("/v1/recipients", serde_json::to_vec(&r).unwrap())
                .await
                .unwrap();
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json());
        }
    }
    let keys = c.get("/v1/keys").await.unwrap().json();
    let log_key: VerifierKey = keys["log"].as_str().unwrap().parse().unwrap();

    let mut people: Vec<Participant> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    let (mut kills, mut unanswered_stored, mut unanswered_not_stored) = (0, 0, 0);
    let mut planted_rounds = 0;
    for round in 0..ROUNDS {
        // Fresh participants; after a restart their challenges show the scheduler ticks.
        let fresh = enroll(&site, &serve, PER_ROUND).await;
        let first = people.len();
        people.extend(fresh);
        let mut c = serve.client().await;
        let mut envelopes = Vec::with_capacity(PER_ROUND);
        let keys = site.world.sealing_keys(now());
        for p in &people[first..] {
            let ch = serve::first_challenge(&mut c, p).await;
            let payload = minimis_testkit::payload(ch.id, ZoneResult::Inside, "");
            envelopes.push(
                minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap(),
            );
        }
        drop(c);

        // Ingest, and kill the server somewhere in the middle of it.
        let kill_after = usize::try_from(rng.below(PER_ROUND as u64 * 3 / 4)).unwrap();
        let delay = Duration::from_micros(rng.below(3_000));
        let answers = ingest_and_kill(&mut serve, &envelopes, kill_after, delay).await;
        kills += 1;

        // Sometimes, while it is down, plant work for the sweeper.
        let planted = (round % 3 == 1).then(|| {
            planted_rounds += 1;
            plant(&site, &people[first])
        });

        serve = self::serve(&site.data, &site.world).await;
        let mut c = serve.client().await;

        // Resubmit what got no answer: stored once already (409) or stored now (201).
        let mut round_sent = Vec::new();
        for (i, (env, answer)) in envelopes.into_iter().zip(answers).enumerate() {
            let receipt = match answer {
                Answer::Receipt(r) => Some(r),
                Answer::Refused(status, code) => {
                    panic!("a check-in was refused before the kill: {status} {code}")
                }
                Answer::None => {
                    let r = c
                        .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
                        .await
                        .unwrap();
                    match (r.status, r.code().as_str()) {
                        (StatusCode::CREATED, _) => {
                            unanswered_not_stored += 1;
                            Some(serde_json::from_value(r.json()["receipt"].clone()).unwrap())
                        }
                        (StatusCode::CONFLICT, "challenge_already_answered") => {
                            unanswered_stored += 1;
                            None
                        }
                        other => panic!("resubmission answered {other:?}"),
                    }
                }
            };
            round_sent.push(Sent {
                participant: first + i,
                envelope: env,
                receipt,
            });
        }

        if let Some((challenge, record, old)) = planted {
            // The sweeper resumed: the overdue row is pending review, the record purged
            // and its purge logged.
            let deadline = Instant::now() + PATIENCE;
            loop {
                let db = read_db(&site.db());
                if db.ledger.get(&challenge) == Some(&3) && !db.records.contains_key(&record) {
                    break;
                }
                assert!(Instant::now() < deadline, "the sweeper did not resume");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let log = fetch_log(&mut c, &log_key, &dir.path().join(format!("log-{round}"))).await;
            let (count, set) = RecordSetHash::of(&[record]);
            assert!(
                log.entries.iter().any(|e| matches!(e,
                    LogEntry::RecordsPurged { epoch, count: n, record_set, .. }
                        if *epoch == old && *n == count && *record_set == set)),
                "the purge of the planted record is logged"
            );
        }

        // Everything sent this round is stored exactly once now, and nothing is half.
        let log = fetch_log(&mut c, &log_key, &dir.path().join(format!("round-{round}"))).await;
        let db = read_db(&site.db());
        check_whole(&db, &log);
        for s in &round_sent {
            assert!(
                db.records.contains_key(&s.envelope.record_id()),
                "round {round}: a check-in is missing"
            );
            if let Some(r) = &s.receipt {
                assert_eq!(r.record_id, s.envelope.record_id());
                check_receipt(&log, &log_key, r, &s.entry(&people));
            }
        }
        // Every receipt of earlier rounds survives this crash too.
        for s in &sent {
            assert!(db.records.contains_key(&s.envelope.record_id()));
        }
        sent.extend(round_sent);
    }

    // At the end, every receipt ever given still verifies against the final log.
    let mut c = serve.client().await;
    let log = fetch_log(&mut c, &log_key, &dir.path().join("final")).await;
    let db = read_db(&site.db());
    check_whole(&db, &log);
    let mut receipts = 0;
    for s in &sent {
        if let Some(r) = &s.receipt {
            check_receipt(&log, &log_key, r, &s.entry(&people));
            receipts += 1;
        }
    }
    assert_eq!(db.records.len(), ROUNDS * PER_ROUND);
    assert_eq!(kills, ROUNDS);
    assert!(planted_rounds > 0);
    eprintln!(
        "chk_15 crash test: {kills} kills, {receipts} receipts verified, {unanswered_stored} \
         unanswered check-ins were stored, {unanswered_not_stored} were not"
    );
}
