//! The PostgreSQL store (spec/storage.md, issue 20): its schema as migrations, the log's
//! sequencer as a compare-and-swap on one row (**STO-6**, **STO-7**), and [`PgStore`] and
//! [`PgReader`] behind the store traits, run through the conformance suite (**STO-11**).
//!
//! The client is `tokio-postgres`, each connection driven by a single-threaded runtime of
//! its own on the caller's thread (the traits are synchronous). The writer's group commit
//! queues a batch's per-check-in writes and sends them pipelined, with the sequencer's
//! compare-and-swap last, so a batch costs a few round trips, not one per row
//! (**STO-12**).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use minimis_log::TileStorage;
use minimis_log::tiles::{BundleId, TileId};
use minimis_proto::obligations::Addressee;
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, DeliveryId, EpochId, FilingId, PolicyHash, Pseudonym,
    PublicKey, RecordId, ReviewId, Schedule, SealedCheckIn, Signature, SignedChallenge,
    SignedEpochRecipient, Slot, UnixTime,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Row};
use zeroize::Zeroizing;

use super::{
    ChallengeRow, ConditionRow, CountRows, DeliveryRow, FailureCategory, FailureReport, FilingRow,
    Holdings, InboxRow, LedgerState, ParticipantRow, PurgedParticipant, RecordRow, Resolution,
    ResolutionReason, ReviewRow, SealedTextRow, Statement, StatementCategory, Store, StoreError,
    StoreRead, TextRef,
};

/// The schema, as migrations in order: migration `i` takes a database from
/// `schema_version` `i` to `i + 1`, in one transaction with the version bump, so an
/// interrupted migration leaves the database as it was. Never edit a migration that has
/// shipped; add one.
///
/// The tables are SQLite's (`super::sqlite`), in PostgreSQL's types. Positions of
/// condition results and filings are identity columns, which never hand a purged row's
/// position to a new one (**STO-4**). The checkpoint row is the log's sequencer: one row,
/// written only by [`advance_checkpoint`].
pub const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE participants (
  pseudonym BYTEA PRIMARY KEY,
  device_key BYTEA NOT NULL,
  tag_key BYTEA NOT NULL,
  schedule TEXT NOT NULL,
  enrolled_epoch BIGINT NOT NULL,
  closed_at BIGINT,
  conditions BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX participants_closed ON participants(closed_at) WHERE closed_at IS NOT NULL;
CREATE TABLE ledger (
  challenge_id BYTEA PRIMARY KEY,
  pseudonym BYTEA NOT NULL,
  epoch BIGINT NOT NULL,
  kind BIGINT NOT NULL,
  issued_at BIGINT NOT NULL,
  window_start BIGINT NOT NULL,
  window_end BIGINT NOT NULL,
  policy BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  state BIGINT NOT NULL,
  resolved_by TEXT,
  failure_report BIGINT,
  resolution_reason BIGINT,
  failure_text_id BYTEA,
  failure_text_epoch BIGINT
);
CREATE INDEX ledger_by_participant ON ledger(pseudonym, issued_at);
CREATE INDEX ledger_open ON ledger(state) WHERE state = 0;
CREATE INDEX ledger_by_epoch ON ledger(epoch);
CREATE TABLE statements (
  challenge_id BYTEA NOT NULL,
  seq BIGINT NOT NULL,
  category BIGINT NOT NULL,
  text_id BYTEA,
  text_epoch BIGINT,
  PRIMARY KEY (challenge_id, seq)
);
CREATE TABLE ledger_reads (
  challenge_id BYTEA NOT NULL,
  officer TEXT NOT NULL,
  PRIMARY KEY (challenge_id, officer)
);
CREATE TABLE records (
  record_id BYTEA NOT NULL UNIQUE,
  pseudonym BYTEA NOT NULL,
  challenge_id BYTEA NOT NULL UNIQUE,
  epoch BIGINT NOT NULL,
  ciphertext BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  log_index BIGINT NOT NULL
);
CREATE INDEX records_by_epoch ON records(epoch);
CREATE TABLE sealed_texts (
  text_id BYTEA PRIMARY KEY,
  pseudonym BYTEA NOT NULL,
  challenge_id BYTEA NOT NULL,
  epoch BIGINT NOT NULL,
  ciphertext BYTEA NOT NULL
);
CREATE INDEX sealed_texts_by_epoch ON sealed_texts(epoch);
CREATE INDEX sealed_texts_by_participant ON sealed_texts(pseudonym);
CREATE TABLE recipients (
  epoch BIGINT NOT NULL,
  role BIGINT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (epoch, role)
);
CREATE TABLE holds (
  record_id BYTEA NOT NULL,
  until BIGINT NOT NULL,
  PRIMARY KEY (record_id, until)
);
CREATE TABLE conditions (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  challenge_id BYTEA NOT NULL UNIQUE,
  pseudonym BYTEA NOT NULL,
  epoch BIGINT NOT NULL,
  ciphertext BYTEA NOT NULL,
  signature BYTEA NOT NULL
);
CREATE INDEX conditions_by_participant ON conditions(pseudonym);
CREATE TABLE filings (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  filing_id BYTEA NOT NULL UNIQUE,
  pseudonym BYTEA NOT NULL,
  addressee BIGINT NOT NULL,
  ciphertext BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  day BIGINT NOT NULL,
  log_index BIGINT NOT NULL,
  acknowledged BIGINT
);
CREATE INDEX filings_by_participant ON filings(pseudonym);
CREATE TABLE log_tiles (
  level BIGINT NOT NULL,
  idx BIGINT NOT NULL,
  width BIGINT NOT NULL,
  hashes BYTEA NOT NULL,
  PRIMARY KEY (level, idx, width)
);
CREATE TABLE log_bundles (
  idx BIGINT NOT NULL,
  width BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (idx, width)
);
CREATE TABLE log_checkpoint (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  text TEXT NOT NULL
);
",
    // 2: deliveries (OBL-43, OBL-44), as the SQLite store's migration 4.
    "
CREATE TABLE inboxes (
  pseudonym BYTEA NOT NULL,
  epoch BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  signature BYTEA NOT NULL,
  PRIMARY KEY (pseudonym, epoch)
);
CREATE TABLE deliveries (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id BYTEA NOT NULL UNIQUE,
  pseudonym BYTEA NOT NULL,
  epoch BIGINT NOT NULL,
  ciphertext BYTEA,
  day BIGINT NOT NULL,
  acknowledged BIGINT
);
CREATE INDEX deliveries_by_participant ON deliveries(pseudonym);
CREATE INDEX deliveries_by_epoch ON deliveries(epoch);
",
    // 3: reviews and conditions summaries (OBL-46), as the SQLite store's migration 5.
    "
CREATE TABLE reviews (
  review_id BYTEA PRIMARY KEY,
  epoch BIGINT NOT NULL,
  opened BIGINT NOT NULL,
  decided BIGINT,
  contested BIGINT,
  appeal_decided BIGINT
);
CREATE TABLE conditions_summaries (
  epoch BIGINT PRIMARY KEY,
  day BIGINT NOT NULL
);
",
];

/// The schema version a database has once [`migrate`] returns.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A key for `pg_advisory_xact_lock`, so that two servers starting at once migrate one
/// after the other.
const MIGRATION_LOCK: i64 = 0x6d69_6e69_6d69_7301;

/// Brings the database up to [`SCHEMA_VERSION`], one migration per transaction, and
/// refuses a database made by a newer server.
///
/// # Errors
/// [`StoreError::Postgres`]; [`StoreError::Corrupt`] for a newer schema.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    loop {
        let tx = client.transaction().await?;
        // The lock first: two `CREATE TABLE IF NOT EXISTS` at once can still collide.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await?;
        let version: i64 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            // End the transaction now, releasing the advisory lock: a dropped
            // transaction's rollback would wait for this connection's next request, and
            // another server's migration would wait on the lock until then.
            tx.rollback().await?;
            if version > SCHEMA_VERSION {
                return Err(StoreError::Corrupt {
                    what: "schema version (newer than this server)",
                });
            }
            return Ok(());
        };
        tx.batch_execute(step).await?;
        tx.execute("DELETE FROM schema_version", &[]).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(version + 1)],
        )
        .await?;
        tx.commit().await?;
    }
}

/// Why the sequencer did not advance.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    /// The database failed.
    #[error("log sequencer: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The stored checkpoint is not the one the writer extends: another front end
    /// extended the log (**STO-6**). Roll the batch back and reopen the log.
    #[error("log sequencer: another writer moved the log's checkpoint")]
    Moved,
}

/// Replaces the checkpoint `expected` (`None`: there is none yet) with `new`, inside the
/// caller's transaction, and nothing else (**STO-6**, **STO-7**). Under PostgreSQL's
/// default isolation a concurrent writer's `UPDATE` waits for this transaction and then
/// re-checks its condition against the committed row, so of two writers that read the
/// same checkpoint, one advances it and the other gets [`AdvanceError::Moved`].
///
/// # Errors
/// [`AdvanceError`].
pub async fn advance_checkpoint(
    tx: &impl GenericClient,
    expected: Option<&str>,
    new: &str,
) -> Result<(), AdvanceError> {
    let changed = match expected {
        Some(old) => {
            tx.execute(
                "UPDATE log_checkpoint SET text = $1 WHERE id = 1 AND text = $2",
                &[&new, &old],
            )
            .await?
        }
        None => {
            tx.execute(
                "INSERT INTO log_checkpoint (id, text) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                &[&new],
            )
            .await?
        }
    };
    if changed == 1 {
        Ok(())
    } else {
        Err(AdvanceError::Moved)
    }
}

/// The stored checkpoint, if any.
///
/// # Errors
/// [`StoreError::Postgres`].
pub async fn read_checkpoint(client: &impl GenericClient) -> Result<Option<String>, StoreError> {
    Ok(client
        .query_opt("SELECT text FROM log_checkpoint WHERE id = 1", &[])
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

// ---------------------------------------------------------------------------------------
// The store behind the traits.
// ---------------------------------------------------------------------------------------

/// How a PostgreSQL store is reached: a `postgres://` URL or a `key=value` connection
/// string (libpq's syntax, as `tokio-postgres` reads it). Its `Debug` and `Display` never
/// show a password.
#[derive(Clone)]
pub struct PgUrl(Zeroizing<String>);

impl PgUrl {
    /// Parses a connection string.
    ///
    /// # Errors
    /// [`PgUrlError`] when it is not one.
    pub fn parse(s: &str) -> Result<Self, PgUrlError> {
        s.parse::<tokio_postgres::Config>()
            .map_err(|_| PgUrlError)?;
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// Whether the string names a host.
    pub fn has_host(&self) -> bool {
        self.0
            .parse::<tokio_postgres::Config>()
            .is_ok_and(|c| !c.get_hosts().is_empty())
    }

    /// Whether the string itself holds a password (a configuration file's must not,
    /// CFG-3).
    pub fn has_password(&self) -> bool {
        self.0
            .parse::<tokio_postgres::Config>()
            .is_ok_and(|c| c.get_password().is_some())
    }

    /// The client's configuration; without a password in the string, the one in the
    /// environment variable `PGPASSWORD` (libpq's), if set.
    fn config(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut c = self
            .0
            .parse::<tokio_postgres::Config>()
            .map_err(StoreError::Postgres)?;
        if c.get_password().is_none()
            && let Some(p) = std::env::var_os("PGPASSWORD")
        {
            c.password(Zeroizing::new(p.into_encoded_bytes()).as_slice());
        }
        Ok(c)
    }

    /// What may be shown: the hosts, ports, user and database, never the password.
    pub fn redacted(&self) -> String {
        match self.0.parse::<tokio_postgres::Config>() {
            Ok(c) => {
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .map(|h| match h {
                        tokio_postgres::config::Host::Tcp(h) => h.clone(),
                        #[allow(unreachable_patterns)]
                        _ => "(socket)".to_owned(),
                    })
                    .collect();
                let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
                format!(
                    "postgres://{}@{}:{}/{}",
                    c.get_user().unwrap_or(""),
                    hosts.join(","),
                    ports.join(","),
                    c.get_dbname().unwrap_or("")
                )
            }
            Err(_) => "postgres://(unparsable)".to_owned(),
        }
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PgUrl").field(&self.redacted()).finish()
    }
}

/// A connection string that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("not a PostgreSQL connection string (postgres://user@host:port/dbname)")]
pub struct PgUrlError;

/// What a queued statement's result must be.
#[derive(Clone, Copy)]
enum Expect {
    /// One row changed, or the row was already there: [`StoreError::Duplicate`].
    Inserted(&'static str),
    /// At least one row changed, or [`StoreError::NotFound`].
    Changed(&'static str),
    /// Anything.
    Any,
}

type Param = Box<dyn ToSql + Sync + Send>;

/// A write the writer made but has not sent: sent with the others of its batch, pipelined,
/// at the next read, the next write that must answer at once, or the commit.
struct Queued {
    sql: &'static str,
    params: Vec<Param>,
    expect: Expect,
}

/// One connection, driven by a runtime of its own on the caller's thread (**STO-11**).
struct Conn {
    rt: Option<tokio::runtime::Runtime>,
    client: tokio_postgres::Client,
    cache: RefCell<HashMap<String, tokio_postgres::Statement>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A reader may be dropped on an async task: never block there.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Conn {
    fn open(url: &PgUrl) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                path: "(postgres runtime)".into(),
                source,
            })?;
        let config = url.config()?;
        let client = rt.block_on(async {
            let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            Ok::<_, StoreError>(client)
        })?;
        Ok(Self {
            rt: Some(rt),
            client,
            cache: RefCell::new(HashMap::new()),
        })
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt
            .as_ref()
            .unwrap_or_else(|| unreachable!("the runtime is taken only when dropped"))
            .block_on(f)
    }

    /// The prepared statement for `sql` (prepared once per connection).
    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
        if let Some(s) = self.cache.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.block_on(self.client.prepare(sql))?;
        self.cache.borrow_mut().insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        Ok(self.block_on(self.client.query(&st, params))?)
    }

    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        Ok(self.block_on(self.client.execute(&st, params))?)
    }

    /// Sends every queued statement at once (tokio-postgres pipelines requests polled
    /// together: one round trip for the lot) and checks each result in order.
    fn send(&self, queued: Vec<Queued>) -> Result<Vec<u64>, StoreError> {
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        let mut statements = Vec::with_capacity(queued.len());
        for q in &queued {
            statements.push(self.statement(q.sql)?);
        }
        let results = self.block_on(futures_util::future::join_all(
            queued.iter().zip(&statements).map(|(q, st)| {
                let params: Vec<&(dyn ToSql + Sync)> = q
                    .params
                    .iter()
                    .map(|p| &**p as &(dyn ToSql + Sync))
                    .collect();
                async move { self.client.execute(st, &params).await }
            }),
        ));
        let mut counts = Vec::with_capacity(results.len());
        for (q, r) in queued.iter().zip(results) {
            let n = r?;
            match q.expect {
                Expect::Inserted(what) if n == 0 => return Err(StoreError::Duplicate { what }),
                Expect::Changed(what) if n == 0 => return Err(StoreError::NotFound { what }),
                _ => {}
            }
            counts.push(n);
        }
        Ok(counts)
    }
}

/// The writer's connection and its batch: what [`PgStore`] and [`PgTiles`] share.
struct Writing {
    conn: Conn,
    /// Writes not yet sent.
    queued: Vec<Queued>,
    /// A statement of the open transaction failed: PostgreSQL has aborted it, and a
    /// `COMMIT` would roll it back while answering success. Commit refuses instead.
    failed: bool,
}

impl Writing {
    fn flush(&mut self) -> Result<Vec<u64>, StoreError> {
        let queued = std::mem::take(&mut self.queued);
        self.conn.send(queued).inspect_err(|_| self.failed = true)
    }

    fn run<T>(&mut self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.flush()?;
        f(&self.conn).inspect_err(|_| self.failed = true)
    }
}

/// The PostgreSQL store's writer (**STO-11**): one connection, one transaction per batch.
/// Writes that every check-in makes (its record, its ledger row's state, its condition
/// result, the log's tiles and bundles) are queued and sent together, pipelined, before
/// the next read, before the sequencer's compare-and-swap, or at commit; their typed
/// errors (`Duplicate`, `NotFound`) come from that point, and the batch is rolled back
/// (**STO-12**).
pub struct PgStore {
    w: Rc<RefCell<Writing>>,
    url: PgUrl,
}

/// A reader: its own connection; sees committed batches only.
pub struct PgReader {
    conn: Conn,
}

/// The log's tiles in the writer's connection and transaction.
pub struct PgTiles {
    w: Rc<RefCell<Writing>>,
    /// The sequencer's value this handle extends (**STO-6**), as `SqliteTiles` keeps it.
    seen: RefCell<Option<Option<String>>>,
}

impl PgStore {
    /// Connects, and brings the schema up to date (**STO-7**).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(url: &PgUrl) -> Result<Self, StoreError> {
        let mut conn = Conn::open(url)?;
        let rt = conn.rt.take();
        let done = rt
            .as_ref()
            .map(|rt| rt.block_on(migrate(&mut conn.client)))
            .unwrap_or(Ok(()));
        conn.rt = rt;
        done?;
        Ok(Self {
            w: Rc::new(RefCell::new(Writing {
                conn,
                queued: Vec::new(),
                failed: false,
            })),
            url: url.clone(),
        })
    }

    /// A new reader of the same database.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn reader(&self) -> Result<PgReader, StoreError> {
        PgReader::open(&self.url)
    }

    fn queue(&self, sql: &'static str, params: Vec<Param>, expect: Expect) {
        self.w.borrow_mut().queued.push(Queued {
            sql,
            params,
            expect,
        });
    }

    fn run<T>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.w.borrow_mut().run(f)
    }
}

impl PgReader {
    /// Connects a reader (the schema must exist: the writer makes it).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(url: &PgUrl) -> Result<Self, StoreError> {
        Ok(Self {
            conn: Conn::open(url)?,
        })
    }

    fn run<T>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.conn)
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn bytes(v: &[u8]) -> Param {
    Box::new(v.to_vec())
}

fn arr<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt { what })
}

fn epoch(v: i64) -> Result<EpochId, StoreError> {
    u32::try_from(v)
        .map(EpochId::new)
        .map_err(|_| StoreError::Corrupt { what: "epoch" })
}

const PARTICIPANT_SELECT: &str = "SELECT pseudonym, device_key, tag_key, schedule, enrolled_epoch, closed_at, conditions FROM participants";

fn participant(r: &Row) -> Result<ParticipantRow, StoreError> {
    let schedule: Schedule = serde_json::from_str(r.try_get::<_, &str>(3)?)
        .map_err(|_| StoreError::Corrupt { what: "schedule" })?;
    Ok(ParticipantRow {
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(0)?, "pseudonym")?),
        device_key: PublicKey(arr(r.try_get(1)?, "device key")?),
        tag_key: Zeroizing::new(arr(r.try_get(2)?, "tag key")?),
        schedule,
        enrolled_epoch: epoch(r.try_get(4)?)?,
        closed_at: r.try_get::<_, Option<i64>>(5)?.map(UnixTime),
        conditions: r.try_get(6)?,
    })
}

const LEDGER_SELECT: &str = "SELECT challenge_id, pseudonym, epoch, kind, issued_at, window_start, \
    window_end, policy, signature, state, resolved_by, failure_report, resolution_reason, \
    failure_text_id, failure_text_epoch FROM ledger";

fn challenge_kind(code: i64) -> Result<ChallengeKind, StoreError> {
    match code {
        1 => Ok(ChallengeKind::Scheduled),
        2 => Ok(ChallengeKind::AdHoc),
        _ => Err(StoreError::Corrupt { what: "kind" }),
    }
}

fn text_ref(id: Option<Vec<u8>>, e: Option<i64>) -> Result<Option<TextRef>, StoreError> {
    match (id, e) {
        (None, None) => Ok(None),
        (Some(id), Some(e)) => Ok(Some(TextRef {
            id: RecordId::from_bytes(arr(id, "text id")?),
            epoch: epoch(e)?,
        })),
        _ => Err(StoreError::Corrupt { what: "text link" }),
    }
}

fn ledger_row(r: &Row) -> Result<ChallengeRow, StoreError> {
    Ok(ChallengeRow {
        signed: SignedChallenge {
            challenge: Challenge {
                id: ChallengeId::from_bytes(arr(r.try_get(0)?, "challenge id")?),
                pseudonym: Pseudonym::from_bytes(arr(r.try_get(1)?, "pseudonym")?),
                epoch: epoch(r.try_get(2)?)?,
                kind: challenge_kind(r.try_get(3)?)?,
                issued_at: UnixTime(r.try_get(4)?),
                window_start: UnixTime(r.try_get(5)?),
                window_end: UnixTime(r.try_get(6)?),
                policy: PolicyHash::from_bytes(arr(r.try_get(7)?, "policy hash")?),
            },
            signature: Signature(arr(r.try_get(8)?, "signature")?),
        },
        state: super::state_from_code(r.try_get(9)?)
            .ok_or(StoreError::Corrupt { what: "state" })?,
        resolved_by: r.try_get(10)?,
        failure_report: r
            .try_get::<_, Option<i64>>(11)?
            .map(|c| {
                u8::try_from(c)
                    .ok()
                    .and_then(FailureCategory::from_code)
                    .ok_or(StoreError::Corrupt { what: "report" })
            })
            .transpose()?,
        resolution_reason: r
            .try_get::<_, Option<i64>>(12)?
            .map(|c| super::reason_from_code(c).ok_or(StoreError::Corrupt { what: "reason" }))
            .transpose()?,
        failure_text: text_ref(r.try_get(13)?, r.try_get(14)?)?,
    })
}

const RECORD_SELECT: &str = "SELECT record_id, pseudonym, challenge_id, epoch, ciphertext, signature, \
    log_index FROM records";

fn record_row(r: &Row) -> Result<RecordRow, StoreError> {
    Ok(RecordRow {
        record_id: RecordId::from_bytes(arr(r.try_get(0)?, "record id")?),
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(1)?, "pseudonym")?),
        challenge_id: ChallengeId::from_bytes(arr(r.try_get(2)?, "challenge id")?),
        epoch: epoch(r.try_get(3)?)?,
        ciphertext: SealedCheckIn::try_from(r.try_get::<_, Vec<u8>>(4)?)
            .map_err(|_| StoreError::Corrupt { what: "ciphertext" })?,
        signature: Signature(arr(r.try_get(5)?, "signature")?),
        log_index: u64::try_from(r.try_get::<_, i64>(6)?)
            .map_err(|_| StoreError::Corrupt { what: "log index" })?,
    })
}

const SEALED_TEXT_SELECT: &str =
    "SELECT text_id, pseudonym, challenge_id, epoch, ciphertext FROM sealed_texts";

fn sealed_text_row(r: &Row) -> Result<SealedTextRow, StoreError> {
    Ok(SealedTextRow {
        text_id: RecordId::from_bytes(arr(r.try_get(0)?, "text id")?),
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(1)?, "pseudonym")?),
        challenge_id: ChallengeId::from_bytes(arr(r.try_get(2)?, "challenge id")?),
        epoch: epoch(r.try_get(3)?)?,
        ciphertext: SealedCheckIn::try_from(r.try_get::<_, Vec<u8>>(4)?)
            .map_err(|_| StoreError::Corrupt { what: "ciphertext" })?,
    })
}

const CONDITION_SELECT: &str =
    "SELECT seq, challenge_id, pseudonym, epoch, ciphertext, signature FROM conditions";

fn condition_row(r: &Row) -> Result<ConditionRow, StoreError> {
    Ok(ConditionRow {
        seq: u64::try_from(r.try_get::<_, i64>(0)?)
            .map_err(|_| StoreError::Corrupt { what: "seq" })?,
        challenge_id: ChallengeId::from_bytes(arr(r.try_get(1)?, "challenge id")?),
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(2)?, "pseudonym")?),
        epoch: epoch(r.try_get(3)?)?,
        ciphertext: r.try_get(4)?,
        signature: Signature(arr(r.try_get(5)?, "signature")?),
    })
}

const FILING_SELECT: &str = "SELECT seq, filing_id, pseudonym, addressee, ciphertext, signature, day, \
    log_index, acknowledged FROM filings";

fn filing_row(r: &Row) -> Result<FilingRow, StoreError> {
    Ok(FilingRow {
        seq: u64::try_from(r.try_get::<_, i64>(0)?)
            .map_err(|_| StoreError::Corrupt { what: "seq" })?,
        filing_id: FilingId::from_bytes(arr(r.try_get(1)?, "filing id")?),
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(2)?, "pseudonym")?),
        addressee: u8::try_from(r.try_get::<_, i64>(3)?)
            .ok()
            .and_then(Addressee::from_code)
            .ok_or(StoreError::Corrupt { what: "addressee" })?,
        ciphertext: r.try_get(4)?,
        signature: Signature(arr(r.try_get(5)?, "signature")?),
        day: UnixTime(r.try_get(6)?),
        log_index: u64::try_from(r.try_get::<_, i64>(7)?)
            .map_err(|_| StoreError::Corrupt { what: "log index" })?,
        acknowledged: r.try_get::<_, Option<i64>>(8)?.map(UnixTime),
    })
}

fn inbox_row(r: &Row) -> Result<InboxRow, StoreError> {
    Ok(InboxRow {
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(0)?, "pseudonym")?),
        epoch: epoch(r.try_get(1)?)?,
        recipient: r.try_get(2)?,
        signature: Signature(arr(r.try_get(3)?, "signature")?),
    })
}

fn review_row(r: &Row) -> Result<ReviewRow, StoreError> {
    Ok(ReviewRow {
        review_id: ReviewId::from_bytes(arr(r.try_get(0)?, "review id")?),
        epoch: epoch(r.try_get(1)?)?,
        opened: UnixTime(r.try_get(2)?),
        decided: r.try_get::<_, Option<i64>>(3)?.map(UnixTime),
        contested: r.try_get::<_, Option<i64>>(4)?.map(UnixTime),
        appeal_decided: r.try_get::<_, Option<i64>>(5)?.map(UnixTime),
    })
}

const DELIVERY_SELECT: &str =
    "SELECT seq, delivery_id, pseudonym, epoch, ciphertext, day, acknowledged FROM deliveries";

fn delivery_row(r: &Row) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        seq: u64::try_from(r.try_get::<_, i64>(0)?)
            .map_err(|_| StoreError::Corrupt { what: "seq" })?,
        delivery_id: DeliveryId::from_bytes(arr(r.try_get(1)?, "delivery id")?),
        pseudonym: Pseudonym::from_bytes(arr(r.try_get(2)?, "pseudonym")?),
        epoch: epoch(r.try_get(3)?)?,
        ciphertext: r.try_get(4)?,
        day: UnixTime(r.try_get(5)?),
        acknowledged: r.try_get::<_, Option<i64>>(6)?.map(UnixTime),
    })
}

/// The counts of an `epoch summary` (CHK-28), as SQLite's store counts them.
const COUNTS: &str = "SELECT l.epoch, count(*), \
    count(*) FILTER (WHERE l.state = 1), \
    count(*) FILTER (WHERE l.state = 2 OR (l.state > 10 AND EXISTS \
      (SELECT 1 FROM records r WHERE r.challenge_id = l.challenge_id))), \
    count(*) FILTER (WHERE l.state IN (0, 3) OR (l.state > 10 AND NOT EXISTS \
      (SELECT 1 FROM records r WHERE r.challenge_id = l.challenge_id))), \
    count(*) FILTER (WHERE l.failure_report = 1), count(*) FILTER (WHERE l.failure_report = 2), \
    count(*) FILTER (WHERE l.failure_report = 3), count(*) FILTER (WHERE l.failure_report = 4), \
    count(*) FILTER (WHERE l.failure_report = 5) \
    FROM ledger l WHERE l.epoch BETWEEN $1 AND $2 AND ($3::BIGINT IS NULL OR l.pseudonym IN \
      (SELECT pseudonym FROM participants WHERE closed_at IS NOT NULL AND closed_at < $3)) \
    GROUP BY l.epoch ORDER BY l.epoch";

fn ledger_counts(
    c: &Conn,
    first: EpochId,
    last: EpochId,
    rows: CountRows,
) -> Result<Vec<minimis_log::EpochSummary>, StoreError> {
    let before = match rows {
        CountRows::All => None,
        CountRows::ClosedBefore(t) => Some(t.seconds()),
    };
    let count = |r: &Row, i: usize| -> Result<u32, StoreError> {
        u32::try_from(r.try_get::<_, i64>(i)?).map_err(|_| StoreError::Corrupt {
            what: "ledger count",
        })
    };
    c.query(
        COUNTS,
        &[&i64::from(first.get()), &i64::from(last.get()), &before],
    )?
    .iter()
    .map(|r| {
        Ok(minimis_log::EpochSummary {
            epoch: epoch(r.try_get(0)?)?,
            issued: count(r, 1)?,
            on_time: count(r, 2)?,
            late: count(r, 3)?,
            missed: count(r, 4)?,
            reports: minimis_log::FailureCounts {
                no_network: count(r, 5)?,
                app_error: count(r, 6)?,
                device_error: count(r, 7)?,
                presence_unavailable: count(r, 8)?,
                other: count(r, 9)?,
            },
        })
    })
    .collect()
}

fn read_tile(c: &Conn, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
    c.query_opt(
        "SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2 AND width = $3",
        &[
            &i64::from(tile.level()),
            &int(tile.index()),
            &i64::from(tile.width()),
        ],
    )?
    .map(|r| r.try_get(0))
    .transpose()
    .map_err(StoreError::from)
}

fn read_bundle(c: &Conn, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
    c.query_opt(
        "SELECT data FROM log_bundles WHERE idx = $1 AND width = $2",
        &[&int(bundle.index()), &i64::from(bundle.width())],
    )?
    .map(|r| r.try_get(0))
    .transpose()
    .map_err(StoreError::from)
}

fn read_checkpoint_sync(c: &Conn) -> Result<Option<String>, StoreError> {
    c.query_opt("SELECT text FROM log_checkpoint WHERE id = 1", &[])?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(StoreError::from)
}

macro_rules! impl_pg_read {
    ($ty:ty) => {
        impl StoreRead for $ty {
            fn participant(&self, p: &Pseudonym) -> Result<Option<ParticipantRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{PARTICIPANT_SELECT} WHERE pseudonym = $1"),
                        &[&p.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(participant)
                    .transpose()
                })
            }

            fn participants(&self) -> Result<Vec<ParticipantRow>, StoreError> {
                self.run(|c| c.query(PARTICIPANT_SELECT, &[])?.iter().map(participant).collect())
            }

            fn challenge(&self, id: &ChallengeId) -> Result<Option<ChallengeRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{LEDGER_SELECT} WHERE challenge_id = $1"),
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(ledger_row)
                    .transpose()
                })
            }

            fn ledger(&self, p: &Pseudonym) -> Result<Vec<ChallengeRow>, StoreError> {
                self.run(|c| {
                    c.query(
                        &format!(
                            "{LEDGER_SELECT} WHERE pseudonym = $1 ORDER BY issued_at, challenge_id"
                        ),
                        &[&p.as_bytes().as_slice()],
                    )?
                    .iter()
                    .map(ledger_row)
                    .collect()
                })
            }

            fn open_challenges(&self) -> Result<Vec<ChallengeRow>, StoreError> {
                self.run(|c| {
                    c.query(&format!("{LEDGER_SELECT} WHERE state = 0"), &[])?
                        .iter()
                        .map(ledger_row)
                        .collect()
                })
            }

            fn issued_since(
                &self,
                p: &Pseudonym,
                since: UnixTime,
            ) -> Result<Vec<SignedChallenge>, StoreError> {
                self.run(|c| {
                    c.query(
                        &format!(
                            "{LEDGER_SELECT} WHERE pseudonym = $1 AND issued_at >= $2 ORDER BY issued_at"
                        ),
                        &[&p.as_bytes().as_slice(), &since.seconds()],
                    )?
                    .iter()
                    .map(|r| ledger_row(r).map(|row| row.signed))
                    .collect()
                })
            }

            fn slots_since(&self, p: &Pseudonym, since: UnixTime) -> Result<Vec<Slot>, StoreError> {
                self.run(|c| {
                    c.query(
                        "SELECT issued_at, kind FROM ledger WHERE pseudonym = $1 AND issued_at >= $2 \
                         ORDER BY issued_at",
                        &[&p.as_bytes().as_slice(), &since.seconds()],
                    )?
                    .iter()
                    .map(|r| {
                        Ok(Slot {
                            at: UnixTime(r.try_get(0)?),
                            kind: challenge_kind(r.try_get(1)?)?,
                        })
                    })
                    .collect()
                })
            }

            fn record(&self, id: &RecordId) -> Result<Option<RecordRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{RECORD_SELECT} WHERE record_id = $1"),
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(record_row)
                    .transpose()
                })
            }

            fn records_in_epoch(&self, e: EpochId) -> Result<u64, StoreError> {
                self.run(|c| {
                    let n: i64 = c
                        .query("SELECT count(*) FROM records WHERE epoch = $1", &[&i64::from(e.get())])?
                        .first()
                        .map(|r| r.try_get(0))
                        .transpose()?
                        .unwrap_or(0);
                    Ok(u64::try_from(n).unwrap_or(0))
                })
            }

            fn epochs_with_records(&self) -> Result<Vec<EpochId>, StoreError> {
                self.run(|c| {
                    // One index seek per distinct epoch, as on SQLite.
                    c.query(
                        "WITH RECURSIVE e(epoch) AS ( \
                           SELECT min(epoch) FROM records \
                           UNION ALL \
                           SELECT (SELECT min(epoch) FROM records WHERE epoch > e.epoch) \
                           FROM e WHERE e.epoch IS NOT NULL) \
                         SELECT epoch FROM e WHERE epoch IS NOT NULL ORDER BY epoch",
                        &[],
                    )?
                    .iter()
                    .map(|r| epoch(r.try_get(0)?))
                    .collect()
                })
            }

            fn recipients(&self, e: EpochId) -> Result<Vec<SignedEpochRecipient>, StoreError> {
                self.run(|c| {
                    c.query(
                        "SELECT json FROM recipients WHERE epoch = $1 ORDER BY role",
                        &[&i64::from(e.get())],
                    )?
                    .iter()
                    .map(|r| {
                        serde_json::from_str(r.try_get::<_, &str>(0)?)
                            .map_err(|_| StoreError::Corrupt { what: "recipient" })
                    })
                    .collect()
                })
            }

            fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
                self.run(|c| {
                    c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
                        .map(|r| r.try_get(0))
                        .transpose()
                        .map_err(StoreError::from)
                })
            }

            fn ledger_counts(
                &self,
                first: EpochId,
                last: EpochId,
                rows: CountRows,
            ) -> Result<Vec<minimis_log::EpochSummary>, StoreError> {
                self.run(|c| ledger_counts(c, first, last, rows))
            }

            fn statements(&self, id: &ChallengeId) -> Result<Vec<Statement>, StoreError> {
                self.run(|c| {
                    c.query(
                        "SELECT category, text_id, text_epoch FROM statements \
                         WHERE challenge_id = $1 ORDER BY seq",
                        &[&id.as_bytes().as_slice()],
                    )?
                    .iter()
                    .map(|r| {
                        Ok(Statement {
                            category: u8::try_from(r.try_get::<_, i64>(0)?)
                                .ok()
                                .and_then(StatementCategory::from_code)
                                .ok_or(StoreError::Corrupt { what: "statement" })?,
                            text: text_ref(r.try_get(1)?, r.try_get(2)?)?,
                        })
                    })
                    .collect()
                })
            }

            fn read_by(&self, id: &ChallengeId, officer: &str) -> Result<bool, StoreError> {
                self.run(|c| {
                    Ok(c.query_opt(
                        "SELECT 1 FROM ledger_reads WHERE challenge_id = $1 AND officer = $2",
                        &[&id.as_bytes().as_slice(), &officer],
                    )?
                    .is_some())
                })
            }

            fn sealed_text(&self, id: &RecordId) -> Result<Option<SealedTextRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{SEALED_TEXT_SELECT} WHERE text_id = $1"),
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(sealed_text_row)
                    .transpose()
                })
            }

            fn epochs_with_sealed_texts(&self) -> Result<Vec<EpochId>, StoreError> {
                self.run(|c| {
                    c.query("SELECT DISTINCT epoch FROM sealed_texts ORDER BY epoch", &[])?
                        .iter()
                        .map(|r| epoch(r.try_get(0)?))
                        .collect()
                })
            }

            fn conditions_after(&self, after: u64, limit: usize) -> Result<Vec<ConditionRow>, StoreError> {
                self.run(|c| {
                    c.query(
                        &format!("{CONDITION_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"),
                        &[&int(after), &int(limit as u64)],
                    )?
                    .iter()
                    .map(condition_row)
                    .collect()
                })
            }

            fn filings_after(&self, after: u64, limit: usize) -> Result<Vec<FilingRow>, StoreError> {
                self.run(|c| {
                    c.query(
                        &format!("{FILING_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"),
                        &[&int(after), &int(limit as u64)],
                    )?
                    .iter()
                    .map(filing_row)
                    .collect()
                })
            }

            fn filing(&self, id: &FilingId) -> Result<Option<FilingRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{FILING_SELECT} WHERE filing_id = $1"),
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(filing_row)
                    .transpose()
                })
            }

            fn inbox(
                &self,
                pseudonym: &Pseudonym,
                e: EpochId,
            ) -> Result<Option<InboxRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        "SELECT pseudonym, epoch, recipient, signature FROM inboxes \
                         WHERE pseudonym = $1 AND epoch = $2",
                        &[&pseudonym.as_bytes().as_slice(), &i64::from(e.get())],
                    )?
                    .as_ref()
                    .map(inbox_row)
                    .transpose()
                })
            }

            fn review(&self, id: &ReviewId) -> Result<Option<ReviewRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        "SELECT review_id, epoch, opened, decided, contested, appeal_decided \
                         FROM reviews WHERE review_id = $1",
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(review_row)
                    .transpose()
                })
            }

            fn conditions_summary_logged(&self, e: EpochId) -> Result<bool, StoreError> {
                self.run(|c| {
                    Ok(c
                        .query_opt(
                            "SELECT 1 FROM conditions_summaries WHERE epoch = $1",
                            &[&i64::from(e.get())],
                        )?
                        .is_some())
                })
            }

            fn delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRow>, StoreError> {
                self.run(|c| {
                    c.query_opt(
                        &format!("{DELIVERY_SELECT} WHERE delivery_id = $1"),
                        &[&id.as_bytes().as_slice()],
                    )?
                    .as_ref()
                    .map(delivery_row)
                    .transpose()
                })
            }

            fn pending_deliveries(
                &self,
                pseudonym: &Pseudonym,
                limit: usize,
            ) -> Result<Vec<DeliveryRow>, StoreError> {
                self.run(|c| {
                    c.query(
                        &format!(
                            "{DELIVERY_SELECT} WHERE pseudonym = $1 AND ciphertext IS NOT NULL \
                             ORDER BY seq LIMIT $2"
                        ),
                        &[&pseudonym.as_bytes().as_slice(), &int(limit as u64)],
                    )?
                    .iter()
                    .map(delivery_row)
                    .collect()
                })
            }
        }
    };
}

impl_pg_read!(PgStore);
impl_pg_read!(PgReader);

impl super::ReadStore for PgReader {
    fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        read_tile(&self.conn, tile)
    }

    fn bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        read_bundle(&self.conn, bundle)
    }

    fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        read_checkpoint_sync(&self.conn)
    }

    fn holdings(&self) -> Result<Holdings, StoreError> {
        // One snapshot for every count.
        const SQL: &str = "SELECT \
          (SELECT count(*) FROM participants), \
          (SELECT coalesce(sum(octet_length(pseudonym) + octet_length(device_key) \
             + octet_length(tag_key) + octet_length(schedule) + 16), 0)::BIGINT FROM participants), \
          (SELECT count(*) FROM ledger), \
          (SELECT coalesce(sum(octet_length(challenge_id) + octet_length(pseudonym) \
             + octet_length(policy) + octet_length(signature) + 6 * 8 \
             + coalesce(octet_length(resolved_by), 0)), 0)::BIGINT FROM ledger), \
          (SELECT count(*) FROM records), \
          (SELECT coalesce(sum(octet_length(ciphertext)), 0)::BIGINT FROM records), \
          (SELECT coalesce(sum(octet_length(record_id) + octet_length(pseudonym) \
             + octet_length(challenge_id) + octet_length(signature) + 16), 0)::BIGINT FROM records), \
          (SELECT count(*) FROM sealed_texts), \
          (SELECT coalesce(sum(octet_length(ciphertext)), 0)::BIGINT FROM sealed_texts), \
          (SELECT coalesce(sum(octet_length(data)), 0)::BIGINT FROM log_bundles) \
            + (SELECT coalesce(sum(octet_length(hashes)), 0)::BIGINT FROM log_tiles) \
            + (SELECT coalesce(sum(octet_length(text)), 0)::BIGINT FROM log_checkpoint)";
        let r = self
            .conn
            .query_opt(SQL, &[])?
            .ok_or(StoreError::Corrupt { what: "holdings" })?;
        let n = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(r.try_get::<_, i64>(i)?).unwrap_or(0))
        };
        Ok(Holdings {
            participants: n(0)?,
            participant_bytes: n(1)?,
            ledger_rows: n(2)?,
            ledger_bytes: n(3)?,
            records: n(4)?,
            ciphertext_bytes: n(5)?,
            record_row_bytes: n(6)?,
            sealed_texts: n(7)?,
            sealed_text_bytes: n(8)?,
            log_bytes: n(9)?,
        })
    }

    fn backup_to(&self, _path: &std::path::Path) -> Result<(), StoreError> {
        // A PostgreSQL backup is the operator's (pg_basebackup and archived WAL, STO-9),
        // not a file the server writes.
        Err(StoreError::Unsupported {
            what: "a backup file of a PostgreSQL store (use pg_basebackup)",
        })
    }
}

/// Why the log's PostgreSQL storage failed.
#[derive(Debug, thiserror::Error)]
pub enum PgTilesError {
    /// The store failed (also a queued write of the batch, sent with this one).
    #[error("log storage: {0}")]
    Store(#[from] StoreError),
    /// The stored checkpoint is not the one this handle read or wrote last: another
    /// front end extended the log (**STO-6**). Roll the batch back and reopen the log.
    #[error("log storage: another writer moved the log's checkpoint")]
    SequencerMoved,
}

impl TileStorage for PgTiles {
    type Error = PgTilesError;

    fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), PgTilesError> {
        let (level, idx) = (i64::from(tile.level()), int(tile.index()));
        let mut w = self.w.borrow_mut();
        w.queued.push(Queued {
            sql: "INSERT INTO log_tiles (level, idx, width, hashes) VALUES ($1, $2, $3, $4) \
                  ON CONFLICT (level, idx, width) DO UPDATE SET hashes = excluded.hashes",
            params: vec![
                Box::new(level),
                Box::new(idx),
                Box::new(i64::from(tile.width())),
                bytes(hashes),
            ],
            expect: Expect::Any,
        });
        if tile.is_full() {
            // Partial tiles go once the full one exists (C2SP tlog-tiles), as on SQLite.
            w.queued.push(Queued {
                sql: "DELETE FROM log_tiles WHERE level = $1 AND idx = $2 AND width < 256",
                params: vec![Box::new(level), Box::new(idx)],
                expect: Expect::Any,
            });
        }
        Ok(())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, PgTilesError> {
        Ok(self
            .w
            .borrow_mut()
            .run(|c| read_tile(c, tile))?
            .map(Cow::Owned))
    }

    fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), PgTilesError> {
        let idx = int(bundle.index());
        let mut w = self.w.borrow_mut();
        w.queued.push(Queued {
            sql: "INSERT INTO log_bundles (idx, width, data) VALUES ($1, $2, $3) \
                  ON CONFLICT (idx, width) DO UPDATE SET data = excluded.data",
            params: vec![
                Box::new(idx),
                Box::new(i64::from(bundle.width())),
                bytes(data),
            ],
            expect: Expect::Any,
        });
        if bundle.is_full() {
            w.queued.push(Queued {
                sql: "DELETE FROM log_bundles WHERE idx = $1 AND width < 256",
                params: vec![Box::new(idx)],
                expect: Expect::Any,
            });
        }
        Ok(())
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, PgTilesError> {
        Ok(self
            .w
            .borrow_mut()
            .run(|c| read_bundle(c, bundle))?
            .map(Cow::Owned))
    }

    /// The compare-and-swap on the sequencer row (**STO-6**, **STO-7**), sent in one
    /// pipeline with the batch's queued writes.
    fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), PgTilesError> {
        let expected = self.seen.borrow().clone().flatten();
        let mut w = self.w.borrow_mut();
        w.queued.push(match expected {
            Some(old) => Queued {
                sql: "UPDATE log_checkpoint SET text = $1 WHERE id = 1 AND text = $2",
                params: vec![Box::new(checkpoint.to_owned()), Box::new(old)],
                expect: Expect::Any,
            },
            None => Queued {
                sql: "INSERT INTO log_checkpoint (id, text) VALUES (1, $1) \
                      ON CONFLICT (id) DO NOTHING",
                params: vec![Box::new(checkpoint.to_owned())],
                expect: Expect::Any,
            },
        });
        let counts = w.flush()?;
        if counts.last() != Some(&1) {
            // Nothing of this batch may commit now.
            w.failed = true;
            return Err(PgTilesError::SequencerMoved);
        }
        drop(w);
        *self.seen.borrow_mut() = Some(Some(checkpoint.to_owned()));
        Ok(())
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, PgTilesError> {
        let text = self.w.borrow_mut().run(read_checkpoint_sync)?;
        *self.seen.borrow_mut() = Some(text.clone());
        Ok(text.map(Cow::Owned))
    }
}

impl Store for PgStore {
    type Tiles = PgTiles;

    fn tiles(&self) -> PgTiles {
        PgTiles {
            w: Rc::clone(&self.w),
            seen: RefCell::new(None),
        }
    }

    fn open_reader(&self) -> Result<Box<dyn super::ReadStore>, StoreError> {
        Ok(Box::new(PgReader::open(&self.url)?))
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        let mut w = self.w.borrow_mut();
        w.queued.clear();
        w.failed = false;
        w.conn.execute("BEGIN", &[])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let mut w = self.w.borrow_mut();
        let done = if w.failed {
            Err(StoreError::Aborted)
        } else {
            w.flush()
                .and_then(|_| w.conn.execute("COMMIT", &[]).map(|_| ()))
        };
        if done.is_err() {
            w.queued.clear();
            let _ = w.conn.execute("ROLLBACK", &[]);
        }
        w.failed = false;
        done
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        let mut w = self.w.borrow_mut();
        w.queued.clear();
        w.failed = false;
        w.conn.execute("ROLLBACK", &[])?;
        Ok(())
    }

    fn insert_participant(&mut self, row: &ParticipantRow) -> Result<(), StoreError> {
        let schedule = serde_json::to_string(&row.schedule)
            .map_err(|_| StoreError::Corrupt { what: "schedule" })?;
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO participants (pseudonym, device_key, tag_key, schedule, enrolled_epoch, \
                 closed_at, conditions) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &row.pseudonym.as_bytes().as_slice(),
                    &row.device_key.as_bytes().as_slice(),
                    &row.tag_key.as_slice(),
                    &schedule,
                    &i64::from(row.enrolled_epoch.get()),
                    &row.closed_at.map(UnixTime::seconds),
                    &row.conditions,
                ],
            )
        })?;
        inserted(n, "participant")
    }

    fn close_enrollment(&mut self, p: &Pseudonym, at: UnixTime) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "UPDATE participants SET closed_at = $2 WHERE pseudonym = $1 AND closed_at IS NULL",
                &[&p.as_bytes().as_slice(), &at.seconds()],
            )
        })?;
        changed(n, "open enrollment")
    }

    fn insert_challenge(&mut self, s: &SignedChallenge) -> Result<(), StoreError> {
        let c = &s.challenge;
        let n = self.run(|conn| {
            conn.execute(
                "INSERT INTO ledger (challenge_id, pseudonym, epoch, kind, issued_at, window_start, \
                 window_end, policy, signature, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0) \
                 ON CONFLICT DO NOTHING",
                &[
                    &c.id.as_bytes().as_slice(),
                    &c.pseudonym.as_bytes().as_slice(),
                    &i64::from(c.epoch.get()),
                    &i64::from(c.kind.code()),
                    &c.issued_at.seconds(),
                    &c.window_start.seconds(),
                    &c.window_end.seconds(),
                    &c.policy.as_bytes().as_slice(),
                    &s.signature.as_bytes().as_slice(),
                ],
            )
        })?;
        inserted(n, "challenge")
    }

    fn set_state(
        &mut self,
        id: &ChallengeId,
        state: LedgerState,
        resolved_by: Option<&str>,
    ) -> Result<(), StoreError> {
        // Every check-in sets its row's state: queued, sent with the batch (STO-12).
        self.queue(
            "UPDATE ledger SET state = $2, resolved_by = $3 WHERE challenge_id = $1",
            vec![
                bytes(id.as_bytes()),
                Box::new(super::state_code(state)),
                Box::new(resolved_by.map(str::to_owned)),
            ],
            Expect::Changed("challenge"),
        );
        Ok(())
    }

    fn resolve(
        &mut self,
        id: &ChallengeId,
        resolution: Resolution,
        reason: ResolutionReason,
        officer: &str,
    ) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "UPDATE ledger SET state = $2, resolved_by = $3, resolution_reason = $4 \
                 WHERE challenge_id = $1",
                &[
                    &id.as_bytes().as_slice(),
                    &super::state_code(LedgerState::Resolved(resolution)),
                    &officer,
                    &super::reason_code(reason),
                ],
            )
        })?;
        changed(n, "challenge")
    }

    fn set_failure_report(
        &mut self,
        id: &ChallengeId,
        report: &FailureReport,
    ) -> Result<(), StoreError> {
        let key = id.as_bytes().as_slice();
        let n = self.run(|c| {
            c.execute(
                "UPDATE ledger SET failure_report = $2, failure_text_id = $3, \
                 failure_text_epoch = $4 WHERE challenge_id = $1",
                &[
                    &key,
                    &i64::from(report.category.code()),
                    &report.text.map(|t| t.id.as_bytes().to_vec()),
                    &report.text.map(|t| i64::from(t.epoch.get())),
                ],
            )
        })?;
        changed(n, "challenge")?;
        self.run(|c| c.execute("DELETE FROM ledger_reads WHERE challenge_id = $1", &[&key]))?;
        Ok(())
    }

    fn add_statement(&mut self, id: &ChallengeId, statement: &Statement) -> Result<(), StoreError> {
        let key = id.as_bytes().as_slice();
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO statements (challenge_id, seq, category, text_id, text_epoch) \
                 SELECT challenge_id, (SELECT count(*) FROM statements WHERE challenge_id = $1), \
                 $2, $3, $4 FROM ledger WHERE challenge_id = $1",
                &[
                    &key,
                    &i64::from(statement.category.code()),
                    &statement.text.map(|t| t.id.as_bytes().to_vec()),
                    &statement.text.map(|t| i64::from(t.epoch.get())),
                ],
            )
        })?;
        changed(n, "challenge")?;
        self.run(|c| c.execute("DELETE FROM ledger_reads WHERE challenge_id = $1", &[&key]))?;
        Ok(())
    }

    fn mark_read(&mut self, id: &ChallengeId, officer: &str) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO ledger_reads (challenge_id, officer) \
                 SELECT challenge_id, $2 FROM ledger WHERE challenge_id = $1 ON CONFLICT DO NOTHING",
                &[&id.as_bytes().as_slice(), &officer],
            )
        })?;
        if n == 0 && !self.read_by(id, officer)? {
            return Err(StoreError::NotFound { what: "challenge" });
        }
        Ok(())
    }

    fn insert_sealed_text(&mut self, t: &SealedTextRow) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO sealed_texts (text_id, pseudonym, challenge_id, epoch, ciphertext) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &t.text_id.as_bytes().as_slice(),
                    &t.pseudonym.as_bytes().as_slice(),
                    &t.challenge_id.as_bytes().as_slice(),
                    &i64::from(t.epoch.get()),
                    &t.ciphertext.as_bytes(),
                ],
            )
        })?;
        inserted(n, "sealed text")
    }

    fn purge_sealed_texts(&mut self, e: EpochId, now: UnixTime) -> Result<u64, StoreError> {
        self.run(|c| {
            c.execute(
                "DELETE FROM sealed_texts WHERE epoch = $1 AND text_id NOT IN \
                 (SELECT record_id FROM holds WHERE until > $2)",
                &[&i64::from(e.get()), &now.seconds()],
            )
        })
    }

    fn insert_condition(&mut self, row: &ConditionRow) -> Result<(), StoreError> {
        // With its check-in: queued (STO-12).
        self.queue(
            "INSERT INTO conditions (challenge_id, pseudonym, epoch, ciphertext, signature) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            vec![
                bytes(row.challenge_id.as_bytes()),
                bytes(row.pseudonym.as_bytes()),
                Box::new(i64::from(row.epoch.get())),
                Box::new(row.ciphertext.clone()),
                bytes(row.signature.as_bytes()),
            ],
            Expect::Inserted("condition result"),
        );
        Ok(())
    }

    fn insert_filing(&mut self, row: &FilingRow) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO filings (filing_id, pseudonym, addressee, ciphertext, signature, day, \
                 log_index, acknowledged) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &row.filing_id.as_bytes().as_slice(),
                    &row.pseudonym.as_bytes().as_slice(),
                    &i64::from(row.addressee.code()),
                    &row.ciphertext,
                    &row.signature.as_bytes().as_slice(),
                    &row.day.seconds(),
                    &int(row.log_index),
                    &row.acknowledged.map(UnixTime::seconds),
                ],
            )
        })?;
        inserted(n, "filing")
    }

    fn acknowledge_filing(&mut self, id: &FilingId, day: UnixTime) -> Result<(), StoreError> {
        self.run(|c| {
            c.execute(
                "UPDATE filings SET acknowledged = $2 WHERE filing_id = $1",
                &[&id.as_bytes().as_slice(), &day.seconds()],
            )
        })?;
        Ok(())
    }

    fn put_review(&mut self, row: &ReviewRow) -> Result<(), StoreError> {
        self.run(|c| {
            c.execute(
                "INSERT INTO reviews (review_id, epoch, opened, decided, contested, appeal_decided) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (review_id) DO UPDATE SET decided = excluded.decided, \
                 contested = excluded.contested, appeal_decided = excluded.appeal_decided",
                &[
                    &row.review_id.as_bytes().as_slice(),
                    &i64::from(row.epoch.get()),
                    &row.opened.seconds(),
                    &row.decided.map(UnixTime::seconds),
                    &row.contested.map(UnixTime::seconds),
                    &row.appeal_decided.map(UnixTime::seconds),
                ],
            )
        })?;
        Ok(())
    }

    fn insert_conditions_summary(&mut self, e: EpochId, day: UnixTime) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO conditions_summaries (epoch, day) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[&i64::from(e.get()), &day.seconds()],
            )
        })?;
        inserted(n, "conditions summary")
    }

    fn insert_inbox(&mut self, row: &InboxRow) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO inboxes (pseudonym, epoch, recipient, signature) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &row.pseudonym.as_bytes().as_slice(),
                    &i64::from(row.epoch.get()),
                    &row.recipient,
                    &row.signature.as_bytes().as_slice(),
                ],
            )
        })?;
        inserted(n, "inbox")
    }

    fn insert_delivery(&mut self, row: &DeliveryRow) -> Result<(), StoreError> {
        let n = self.run(|c| {
            c.execute(
                "INSERT INTO deliveries (delivery_id, pseudonym, epoch, ciphertext, day, \
                 acknowledged) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &row.delivery_id.as_bytes().as_slice(),
                    &row.pseudonym.as_bytes().as_slice(),
                    &i64::from(row.epoch.get()),
                    &row.ciphertext,
                    &row.day.seconds(),
                    &row.acknowledged.map(UnixTime::seconds),
                ],
            )
        })?;
        inserted(n, "delivery")
    }

    fn acknowledge_delivery(&mut self, id: &DeliveryId, day: UnixTime) -> Result<(), StoreError> {
        self.run(|c| {
            c.execute(
                "UPDATE deliveries SET acknowledged = $2, ciphertext = NULL WHERE delivery_id = $1",
                &[&id.as_bytes().as_slice(), &day.seconds()],
            )
        })?;
        Ok(())
    }

    fn expire_deliveries(&mut self, through: EpochId) -> Result<u64, StoreError> {
        let e = i64::from(through.get());
        self.run(|c| {
            let n = c.execute(
                "UPDATE deliveries SET ciphertext = NULL \
                 WHERE epoch <= $1 AND ciphertext IS NOT NULL",
                &[&e],
            )?;
            c.execute("DELETE FROM inboxes WHERE epoch <= $1", &[&e])?;
            Ok(n)
        })
    }

    fn insert_record(&mut self, row: &RecordRow) -> Result<(), StoreError> {
        // The check-in itself: queued, sent with the batch (STO-12).
        self.queue(
            "INSERT INTO records (record_id, pseudonym, challenge_id, epoch, ciphertext, signature, \
             log_index) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            vec![
                bytes(row.record_id.as_bytes()),
                bytes(row.pseudonym.as_bytes()),
                bytes(row.challenge_id.as_bytes()),
                Box::new(i64::from(row.epoch.get())),
                bytes(row.ciphertext.as_bytes()),
                bytes(row.signature.as_bytes()),
                Box::new(int(row.log_index)),
            ],
            Expect::Inserted("record"),
        );
        Ok(())
    }

    fn put_recipient(&mut self, r: &SignedEpochRecipient) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(r).map_err(|_| StoreError::Corrupt { what: "recipient" })?;
        self.run(|c| {
            c.execute(
                "INSERT INTO recipients (epoch, role, json) VALUES ($1, $2, $3) \
                 ON CONFLICT (epoch, role) DO UPDATE SET json = excluded.json",
                &[
                    &i64::from(r.recipient.epoch.get()),
                    &i64::from(r.recipient.role.code()),
                    &json,
                ],
            )
        })?;
        Ok(())
    }

    fn hold(&mut self, records: &[RecordId], until: UnixTime) -> Result<(), StoreError> {
        let ids: Vec<Vec<u8>> = records.iter().map(|r| r.as_bytes().to_vec()).collect();
        self.run(|c| {
            c.execute(
                "INSERT INTO holds (record_id, until) SELECT unnest($1::BYTEA[]), $2 \
                 ON CONFLICT DO NOTHING",
                &[&ids, &until.seconds()],
            )
        })?;
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.run(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
        })?;
        Ok(())
    }

    fn purge_epoch(&mut self, e: EpochId, now: UnixTime) -> Result<Vec<RecordId>, StoreError> {
        self.run(|c| {
            let mut ids = c
                .query(
                    "DELETE FROM records WHERE epoch = $1 AND record_id NOT IN \
                     (SELECT record_id FROM holds WHERE until > $2) RETURNING record_id",
                    &[&i64::from(e.get()), &now.seconds()],
                )?
                .iter()
                .map(|r| Ok(RecordId::from_bytes(arr(r.try_get(0)?, "record id")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            ids.sort_by_key(|id| *id.as_bytes());
            Ok(ids)
        })
    }

    fn purge_closed_before(
        &mut self,
        before: UnixTime,
        now: UnixTime,
    ) -> Result<Vec<PurgedParticipant>, StoreError> {
        self.run(|c| {
            let gone = c
                .query(
                    "SELECT pseudonym, closed_at FROM participants \
                     WHERE closed_at IS NOT NULL AND closed_at < $1 ORDER BY closed_at, pseudonym",
                    &[&before.seconds()],
                )?
                .iter()
                .map(|r| {
                    Ok(PurgedParticipant {
                        pseudonym: Pseudonym::from_bytes(arr(r.try_get(0)?, "pseudonym")?),
                        closed_at: UnixTime(r.try_get(1)?),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let keys: Vec<Vec<u8>> = gone
                .iter()
                .map(|p| p.pseudonym.as_bytes().to_vec())
                .collect();
            if keys.is_empty() {
                return Ok(gone);
            }
            for sql in [
                "DELETE FROM statements WHERE challenge_id IN \
                 (SELECT challenge_id FROM ledger WHERE pseudonym = ANY($1))",
                "DELETE FROM ledger_reads WHERE challenge_id IN \
                 (SELECT challenge_id FROM ledger WHERE pseudonym = ANY($1))",
                "DELETE FROM ledger WHERE pseudonym = ANY($1)",
                // Compliance records: kept as long as the ledger (OBL-2, RET-20).
                "DELETE FROM conditions WHERE pseudonym = ANY($1)",
                "DELETE FROM filings WHERE pseudonym = ANY($1)",
                "DELETE FROM participants WHERE pseudonym = ANY($1)",
            ] {
                c.execute(sql, &[&keys])?;
            }
            c.execute(
                "DELETE FROM sealed_texts WHERE pseudonym = ANY($1) AND text_id NOT IN \
                 (SELECT record_id FROM holds WHERE until > $2)",
                &[&keys, &now.seconds()],
            )?;
            Ok(gone)
        })
    }
}

fn changed(n: u64, what: &'static str) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::NotFound { what })
    } else {
        Ok(())
    }
}

fn inserted(n: u64, what: &'static str) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::Duplicate { what })
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod cluster {
    //! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, a
    //! free loopback port, `pg_ctl` start, and `pg_ctl stop` when dropped. The binaries
    //! are found through `MINIMIS_PG_BIN` (`.ci/run` sets it); a test that needs them is
    //! `#[ignore]`d and fails, naming the variable, when it is unset. PostgreSQL refuses
    //! to run as root, so under root the binaries run as the `postgres` user that
    //! Debian's package makes.

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A running cluster.
    pub(crate) struct Cluster {
        bin: PathBuf,
        data: PathBuf,
        as_postgres: bool,
        /// The loopback port it listens on.
        pub(crate) port: u16,
        _dir: tempfile::TempDir,
    }

    fn run(as_postgres: bool, bin: &Path, tool: &str, args: &[&str]) {
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
        match status {
            Ok(s) if s.success() => {}
            other => panic!("{tool} {args:?}: {other:?}"),
        }
    }

    impl Cluster {
        /// Makes and starts a cluster with a superuser `minimis` trusted on loopback.
        pub(crate) fn start() -> Self {
            let bin = PathBuf::from(std::env::var_os("MINIMIS_PG_BIN").unwrap_or_else(|| {
                panic!("MINIMIS_PG_BIN must name PostgreSQL 15's bin directory (.ci/run sets it)")
            }));
            let uid = Command::new("id")
                .arg("-u")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            let as_postgres = uid == "0";
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let log = dir.path().join("log");
            if as_postgres {
                let ok = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path())
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "chown the cluster's directory to postgres");
            }
            let data_s = data.to_str().unwrap();
            run(
                as_postgres,
                &bin,
                "initdb",
                &[
                    "-D",
                    data_s,
                    "-U",
                    "minimis",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            );
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let opts = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=on"
            );
            run(
                as_postgres,
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    data_s,
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

        /// A connection string for its `postgres` database.
        pub(crate) fn url(&self) -> String {
            format!(
                "host=127.0.0.1 port={} user=minimis dbname=postgres",
                self.port
            )
        }

        /// A connection string for its database `db`.
        pub(crate) fn url_of(&self, db: &str) -> String {
            format!("host=127.0.0.1 port={} user=minimis dbname={db}", self.port)
        }

        /// Makes database `db` (with `psql`'s sibling `createdb`).
        pub(crate) fn create_database(&self, db: &str) {
            let port = self.port.to_string();
            let status = Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "minimis", db])
                .status();
            assert!(status.is_ok_and(|s| s.success()), "createdb {db}");
        }

        /// A new connection, its driver spawned on the current runtime.
        pub(crate) async fn connect(&self) -> tokio_postgres::Client {
            let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            if let Some(data) = self.data.to_str() {
                let program = self.bin.join("pg_ctl");
                let args = ["-D", data, "-m", "immediate", "-w", "stop"];
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
}

#[cfg(test)]
mod tests {
    use super::cluster::Cluster;
    use super::*;

    #[tokio::test]
    #[ignore = "needs PostgreSQL 15; run by .ci/run"]
    async fn sto_7_migrations_make_the_schema_once_and_refuse_a_newer_one() {
        let pg = Cluster::start();
        let mut c = pg.connect().await;
        migrate(&mut c).await.unwrap();
        // Again: nothing to do, nothing changed.
        migrate(&mut c).await.unwrap();
        let v: i64 = c
            .query_one("SELECT version FROM schema_version", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, SCHEMA_VERSION);
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        // The SQLite store's 18 tables and schema_version.
        assert_eq!(tables, 19);
        c.execute("UPDATE schema_version SET version = version + 1", &[])
            .await
            .unwrap();
        assert!(matches!(
            migrate(&mut c).await,
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL 15; run by .ci/run"]
    async fn sto_7_servers_starting_at_once_migrate_one_after_the_other() {
        let pg = Cluster::start();
        let mut runs = Vec::new();
        for _ in 0..4 {
            let mut c = pg.connect().await;
            runs.push(tokio::spawn(
                async move { migrate(&mut c).await.map(|()| c) },
            ));
        }
        let mut last = None;
        for r in runs {
            last = Some(r.await.unwrap().expect("every server's migration succeeds"));
        }
        let c = last.unwrap();
        let rows = c
            .query("SELECT version FROM schema_version", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one version row");
        assert_eq!(rows[0].get::<_, i64>(0), SCHEMA_VERSION);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL 15; run by .ci/run"]
    async fn sto_6_sto_7_two_front_ends_racing_on_the_sequencer_row_cannot_both_advance_it() {
        let pg = Cluster::start();
        let mut a = pg.connect().await;
        migrate(&mut a).await.unwrap();
        let mut b = pg.connect().await;
        // Both have read that there is no checkpoint; both try to write the first, at
        // once: b's insert waits on a's uncommitted row, then finds it.
        let ta = a.transaction().await.unwrap();
        advance_checkpoint(&ta, None, "log\n1\nA\n").await.unwrap();
        let racer = tokio::spawn(async move {
            let tb = b.transaction().await.unwrap();
            tb.execute(
                "INSERT INTO log_tiles (level, idx, width, hashes) VALUES (0, 0, 1, '\\x09')",
                &[],
            )
            .await
            .unwrap();
            let r = advance_checkpoint(&tb, None, "log\n1\nB\n").await;
            tb.rollback().await.unwrap();
            (b, r)
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        ta.commit().await.unwrap();
        let (mut b, r) = tokio::time::timeout(std::time::Duration::from_secs(10), racer)
            .await
            .expect("the racer finishes once a commits (a timeout only catches a hang)")
            .unwrap();
        assert!(matches!(r, Err(AdvanceError::Moved)), "{r:?}");
        assert_eq!(
            read_checkpoint(&a).await.unwrap().as_deref(),
            Some("log\n1\nA\n")
        );
        let tiles: i64 = a
            .query_one("SELECT count(*) FROM log_tiles", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(tiles, 0, "nothing of the refused batch is kept");

        // Both extend "1A" at once: one advances, the other's UPDATE re-checks against
        // the committed row and changes nothing.
        let ta = a.transaction().await.unwrap();
        advance_checkpoint(&ta, Some("log\n1\nA\n"), "log\n2\nA\n")
            .await
            .unwrap();
        let racer = tokio::spawn(async move {
            let tb = b.transaction().await.unwrap();
            let r = advance_checkpoint(&tb, Some("log\n1\nA\n"), "log\n2\nB\n").await;
            tb.commit().await.unwrap();
            r
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        ta.commit().await.unwrap();
        let r = tokio::time::timeout(std::time::Duration::from_secs(10), racer)
            .await
            .expect("the racer finishes once a commits (a timeout only catches a hang)")
            .unwrap();
        assert!(matches!(r, Err(AdvanceError::Moved)), "{r:?}");
        assert_eq!(
            read_checkpoint(&a).await.unwrap().as_deref(),
            Some("log\n2\nA\n"),
            "no split log: the stored checkpoint is the one writer's"
        );
    }

    #[test]
    #[ignore = "needs PostgreSQL 15; run by .ci/run"]
    fn sto_12_a_batch_in_which_a_statement_failed_is_never_reported_committed() {
        use crate::store::{Store as _, StoreRead as _};
        let pg = Cluster::start();
        let mut s = PgStore::open(&PgUrl::parse(&pg.url()).unwrap()).unwrap();
        let p = minimis_proto::Pseudonym::from_bytes([3; 16]);
        s.begin().unwrap();
        s.set_meta("kept?", b"yes").unwrap();
        // PostgreSQL refuses a NUL in text: the statement fails and aborts the
        // transaction, after which PostgreSQL would answer COMMIT with a rollback.
        assert!(s.set_meta("bad\0key", b"x").is_err());
        // The caller ignores the error and commits: the store must say it did not.
        let committed = s.commit();
        assert!(
            matches!(committed, Err(StoreError::Aborted)),
            "{committed:?}"
        );
        assert_eq!(
            s.meta("kept?").unwrap(),
            None,
            "nothing of the batch is kept"
        );
        assert!(s.participant(&p).unwrap().is_none());
        // The store is usable again.
        s.begin().unwrap();
        s.set_meta("kept?", b"yes").unwrap();
        s.commit().unwrap();
        assert_eq!(s.meta("kept?").unwrap().as_deref(), Some(&b"yes"[..]));
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL 15; run by .ci/run"]
    async fn sto_8_both_stores_have_the_same_columns_and_none_for_a_content_key() {
        use std::collections::BTreeSet;
        let dir = tempfile::tempdir().unwrap();
        drop(crate::store::sqlite::SqliteStore::open(dir.path()).unwrap());
        let lite =
            rusqlite::Connection::open(dir.path().join(crate::store::sqlite::DB_FILE)).unwrap();
        let mut st = lite
            .prepare(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            )
            .unwrap();
        let sqlite: BTreeSet<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let pg = Cluster::start();
        let mut c = pg.connect().await;
        migrate(&mut c).await.unwrap();
        let postgres: BTreeSet<(String, String)> = c
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> 'schema_version'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(sqlite, postgres, "the two stores keep the same things");
        for known in [("records", "ciphertext"), ("log_checkpoint", "text")] {
            assert!(
                sqlite.contains(&(known.0.to_owned(), known.1.to_owned())),
                "the query reads the schema: {known:?}"
            );
        }
        // The columns that say "key" are the device's public key, the tag key (ENR-3) and
        // the bookkeeping table's names; nothing that opens content (STO-8).
        for (table, column) in &sqlite {
            let c = column.to_ascii_lowercase();
            assert!(
                !["secret", "identity", "private", "age_key", "epoch_key"]
                    .iter()
                    .any(|w| c.contains(w)),
                "{table}.{column}"
            );
            if c.contains("key") {
                assert!(
                    matches!(
                        (table.as_str(), c.as_str()),
                        ("participants", "device_key" | "tag_key") | ("meta", "key")
                    ),
                    "{table}.{column}"
                );
            }
        }
    }
}
