//! The SQLite backend: one file in the data directory, WAL mode, `synchronous = FULL`, so a
//! committed batch survives a crash or a power cut; one writer, many readers.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use minimis_log::TileStorage;
use minimis_log::tiles::{BundleId, TileId};
use minimis_proto::obligations::Addressee;
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, DeliveryId, EpochId, FilingId, PolicyHash, Pseudonym,
    PublicKey, RecordId, ReviewId, Schedule, SealedCheckIn, Signature, SignedChallenge,
    SignedEpochRecipient, Slot, UnixTime,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, Row, params};
use zeroize::Zeroizing;

use super::{
    ChallengeRow, ConditionRow, CountRows, DeliveryRow, FailureCategory, FailureReport, FilingRow,
    InboxRow, LedgerState, ParticipantRow, PurgedParticipant, RecordRow, Resolution,
    ResolutionReason, ReviewRow, SealedTextRow, Statement, StatementCategory, Store, StoreError,
    StoreRead, TextRef,
};

pub use super::Holdings;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS participants (
  pseudonym BLOB PRIMARY KEY,
  device_key BLOB NOT NULL,
  tag_key BLOB NOT NULL,
  schedule TEXT NOT NULL,
  enrolled_epoch INTEGER NOT NULL,
  closed_at INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS ledger (
  challenge_id BLOB PRIMARY KEY,
  pseudonym BLOB NOT NULL,
  epoch INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  policy BLOB NOT NULL,
  signature BLOB NOT NULL,
  state INTEGER NOT NULL,
  resolved_by TEXT,
  failure_report INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS ledger_by_participant ON ledger(pseudonym, issued_at);
CREATE INDEX IF NOT EXISTS ledger_open ON ledger(state) WHERE state = 0;
CREATE TABLE IF NOT EXISTS records (
  record_id BLOB NOT NULL UNIQUE,
  pseudonym BLOB NOT NULL,
  challenge_id BLOB NOT NULL UNIQUE,
  epoch INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,
  signature BLOB NOT NULL,
  log_index INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS records_by_epoch ON records(epoch);
CREATE INDEX IF NOT EXISTS participants_closed ON participants(closed_at)
  WHERE closed_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS recipients (
  epoch INTEGER NOT NULL,
  role INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (epoch, role)
) STRICT;
CREATE TABLE IF NOT EXISTS holds (
  record_id BLOB NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (record_id, until)
) STRICT;
CREATE TABLE IF NOT EXISTS log_tiles (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  width INTEGER NOT NULL,
  hashes BLOB NOT NULL,
  PRIMARY KEY (level, idx, width)
) STRICT;
CREATE TABLE IF NOT EXISTS log_bundles (
  idx INTEGER NOT NULL,
  width INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (idx, width)
) STRICT;
CREATE TABLE IF NOT EXISTS log_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  text TEXT NOT NULL
) STRICT;
";

/// The schema's changes since [`SCHEMA`], in order: migration `i` takes a database from
/// `PRAGMA user_version` `i` to `i + 1`, in one transaction with the version bump, so a
/// database made by an older server is brought up to date when it is opened, and an
/// interrupted migration leaves it as it was. A fresh database runs [`SCHEMA`] and then
/// every migration. Never edit a migration that has shipped; add one.
const MIGRATIONS: &[&str] = &[
    // 1: resolutions carry a reason code (CHK-24); failure reports and statements carry
    // sealed free texts (CHK-23, ACC-12); officers' reads of a row are recorded (CHK-24).
    "ALTER TABLE ledger ADD COLUMN resolution_reason INTEGER;
     ALTER TABLE ledger ADD COLUMN failure_text_id BLOB;
     ALTER TABLE ledger ADD COLUMN failure_text_epoch INTEGER;
     CREATE TABLE statements (
       challenge_id BLOB NOT NULL,
       seq INTEGER NOT NULL,
       category INTEGER NOT NULL,
       text_id BLOB,
       text_epoch INTEGER,
       PRIMARY KEY (challenge_id, seq)
     ) STRICT;
     CREATE TABLE ledger_reads (
       challenge_id BLOB NOT NULL,
       officer TEXT NOT NULL,
       PRIMARY KEY (challenge_id, officer)
     ) STRICT;
     CREATE TABLE sealed_texts (
       text_id BLOB PRIMARY KEY,
       pseudonym BLOB NOT NULL,
       challenge_id BLOB NOT NULL,
       epoch INTEGER NOT NULL,
       ciphertext BLOB NOT NULL
     ) STRICT;
     CREATE INDEX sealed_texts_by_epoch ON sealed_texts(epoch);
     CREATE INDEX sealed_texts_by_participant ON sealed_texts(pseudonym);",
    // 2: the epoch summary counts an epoch's rows once it closes (CHK-28, LOG-36), by
    // epoch rather than by a scan of the whole ledger.
    "CREATE INDEX ledger_by_epoch ON ledger(epoch);",
    // 3: the obligations (spec/obligations.md): enrollments under conditions, their sealed
    // condition results beside the ledger rows (OBL-4), and the participants' sealed
    // filings (OBL-9), each in the order stored, for the case system's cursor (OBL-5).
    // AUTOINCREMENT: a purged row's position is never given to a new one.
    "ALTER TABLE participants ADD COLUMN conditions INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE conditions (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       challenge_id BLOB NOT NULL UNIQUE,
       pseudonym BLOB NOT NULL,
       epoch INTEGER NOT NULL,
       ciphertext BLOB NOT NULL,
       signature BLOB NOT NULL
     ) STRICT;
     CREATE INDEX conditions_by_participant ON conditions(pseudonym);
     CREATE TABLE filings (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       filing_id BLOB NOT NULL UNIQUE,
       pseudonym BLOB NOT NULL,
       addressee INTEGER NOT NULL,
       ciphertext BLOB NOT NULL,
       signature BLOB NOT NULL,
       day INTEGER NOT NULL,
       log_index INTEGER NOT NULL,
       acknowledged INTEGER
     ) STRICT;
     CREATE INDEX filings_by_participant ON filings(pseudonym);",
    // 4: deliveries (spec/obligations.md, OBL-43, OBL-44): each device's signed inbox
    // recipient per epoch, and the sealed deliveries the case system posts, whose
    // ciphertext is deleted (set to NULL) when the device acknowledges it or at its
    // epoch's content deadline; the row stays until the ledger's deadline.
    "CREATE TABLE inboxes (
       pseudonym BLOB NOT NULL,
       epoch INTEGER NOT NULL,
       recipient TEXT NOT NULL,
       signature BLOB NOT NULL,
       PRIMARY KEY (pseudonym, epoch)
     ) STRICT;
     CREATE TABLE deliveries (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       delivery_id BLOB NOT NULL UNIQUE,
       pseudonym BLOB NOT NULL,
       epoch INTEGER NOT NULL,
       ciphertext BLOB,
       day INTEGER NOT NULL,
       acknowledged INTEGER
     ) STRICT;
     CREATE INDEX deliveries_by_participant ON deliveries(pseudonym);
     CREATE INDEX deliveries_by_epoch ON deliveries(epoch);",
    // 5: the case system's review entries (OBL-46): each review's steps by day, to refuse
    // one out of order, and the epochs whose conditions summary is logged. What the public
    // log shows, and no pseudonym.
    "CREATE TABLE reviews (
       review_id BLOB PRIMARY KEY,
       epoch INTEGER NOT NULL,
       opened INTEGER NOT NULL,
       decided INTEGER,
       contested INTEGER,
       appeal_decided INTEGER
     ) STRICT;
     CREATE TABLE conditions_summaries (
       epoch INTEGER PRIMARY KEY,
       day INTEGER NOT NULL
     ) STRICT;",
];

/// The schema version a database has once [`SqliteStore::open`] returns.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], one migration per transaction.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    loop {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            if version > SCHEMA_VERSION {
                // Made by a newer server: refuse rather than misread it.
                return Err(StoreError::Corrupt {
                    what: "schema version (newer than this server)",
                });
            }
            return Ok(());
        };
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {};\nCOMMIT;",
            version + 1
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
}

/// The database file's name in the data directory.
pub const DB_FILE: &str = "minimis.sqlite3";

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every statement the writer and the readers use stays prepared (rusqlite keeps 16).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// WAL frames (pages) after which the writer checkpoints at commit, if the background
/// checkpointer has not kept up. Until then the writer leaves checkpoints to it.
const WRITER_AUTOCHECKPOINT: i64 = 16_384;
/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The writer's connection.
pub struct SqliteStore {
    conn: Rc<Connection>,
    path: PathBuf,
}

/// A reader's connection (may be used from any one thread at a time).
pub struct SqliteReader {
    conn: Connection,
}

/// The log's tiles in the writer's connection and transaction.
pub struct SqliteTiles {
    conn: Rc<Connection>,
    /// The sequencer's value this handle extends (**STO-6**): the checkpoint it last read
    /// or wrote (`Some(None)`: it read that there is none; `None`: it has not read).
    seen: std::cell::RefCell<Option<Option<String>>>,
}

/// The background checkpointer ([`SqliteStore::spawn_checkpointer`]); dropping it stops
/// the thread and waits for it.
pub struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The benchmark comparator's plaintext check-ins, in the writer's connection and
/// transaction: what a conventional vendor stores, readable by the operator. Made only by
/// [`SqliteStore::dangerous_plaintext_baseline`]. Only with the `dangerous-plaintext-baseline`
/// feature, which only the benchmark enables.
#[cfg(feature = "dangerous-plaintext-baseline")]
pub struct PlaintextBaseline {
    conn: Rc<Connection>,
}

#[cfg(feature = "dangerous-plaintext-baseline")]
impl PlaintextBaseline {
    /// Stores a plaintext check-in; returns its row id.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the challenge already has one.
    pub fn insert(
        &self,
        pseudonym: &Pseudonym,
        challenge: &ChallengeId,
        payload: &[u8],
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO plaintext_baseline_checkins (pseudonym, challenge_id, payload) \
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                pseudonym.as_bytes().as_slice(),
                challenge.as_bytes().as_slice(),
                payload
            ])
            .map_err(|e| unique(e, "plaintext check-in"))?;
        Ok(self.conn.last_insert_rowid())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `dir`: WAL mode, full sync on commit.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = open_conn(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Deleted rows (purged ciphertexts, ledgers, tag keys) are overwritten with zeros,
        // not left in free pages (RET-5, RET-6). Their old images can remain in the WAL
        // until it is checkpointed and reused, and in backups taken before: the content
        // itself is protected by the destroyed keys, not by this.
        conn.pragma_update(None, "secure_delete", "ON")?;
        // FULL: in WAL mode the WAL is fsynced at every commit, so an acknowledged batch
        // is on disk (NORMAL would only sync at checkpoints).
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints (copying the WAL into the database and syncing it) are the
        // background checkpointer's job, off the writer's path; the writer checkpoints
        // itself only if the WAL grows past this.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Rc::new(conn),
            path,
        })
    }

    /// A new read-only connection to the same database.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn reader(&self) -> Result<SqliteReader, StoreError> {
        SqliteReader::open(&self.path)
    }

    /// Starts the background checkpointer: a thread with its own connection that copies
    /// committed WAL frames into the database every 100 ms (`wal_checkpoint(PASSIVE)`,
    /// which never blocks the writer or a reader), so that the writer's commits only
    /// append to the WAL and sync it. It stops when the returned guard is dropped.
    /// Durability does not depend on it: a commit is durable once the WAL is synced.
    ///
    /// # Errors
    /// [`StoreError`] if its connection or thread cannot be made.
    pub fn spawn_checkpointer(&self) -> Result<Checkpointer, StoreError> {
        let conn = open_conn(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("minimis-checkpointer".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "background checkpoint failed");
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Copies the WAL into the database file and truncates the WAL
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), so that the file's size is what is stored.
    ///
    /// # Errors
    /// [`StoreError`], also when a reader kept the checkpoint from completing.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("the WAL checkpoint could not complete".into()),
            )));
        }
        Ok(())
    }

    /// The plaintext table of the benchmark comparator
    /// ([`IngestMode::DangerousPlaintextBaseline`](crate::config::IngestMode)), created if
    /// needed, written in the writer's transaction. A database the server runs in its
    /// normal mode never has this table.
    ///
    /// # Errors
    /// [`StoreError`].
    #[cfg(feature = "dangerous-plaintext-baseline")]
    pub fn dangerous_plaintext_baseline(&self) -> Result<PlaintextBaseline, StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS plaintext_baseline_checkins (
               id INTEGER PRIMARY KEY,
               pseudonym BLOB NOT NULL,
               challenge_id BLOB NOT NULL UNIQUE,
               payload BLOB NOT NULL
             ) STRICT;",
        )?;
        Ok(PlaintextBaseline {
            conn: Rc::clone(&self.conn),
        })
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`"ok"` when sound).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

impl SqliteReader {
    /// Opens a read-only connection to the database file at `path`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Self { conn })
    }
}

fn arr<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt { what })
}

fn epoch(v: i64) -> Result<EpochId, StoreError> {
    u32::try_from(v)
        .map(EpochId::new)
        .map_err(|_| StoreError::Corrupt { what: "epoch" })
}

/// The counts of an `epoch summary` (CHK-28), by epoch. A resolved row was `late` or
/// `pending-review` before (spec/failure.md): its stored check-in tells which.
fn ledger_counts(
    c: &Connection,
    first: EpochId,
    last: EpochId,
    rows: CountRows,
) -> Result<Vec<minimis_log::EpochSummary>, StoreError> {
    const COUNTS: &str = "SELECT l.epoch, count(*),            coalesce(sum(l.state = 1), 0),            coalesce(sum(l.state = 2 OR (l.state > 10 AND EXISTS              (SELECT 1 FROM records r WHERE r.challenge_id = l.challenge_id))), 0),            coalesce(sum(l.state IN (0, 3) OR (l.state > 10 AND NOT EXISTS              (SELECT 1 FROM records r WHERE r.challenge_id = l.challenge_id))), 0),            coalesce(sum(l.failure_report = 1), 0), coalesce(sum(l.failure_report = 2), 0),            coalesce(sum(l.failure_report = 3), 0), coalesce(sum(l.failure_report = 4), 0),            coalesce(sum(l.failure_report = 5), 0)          FROM ledger l WHERE l.epoch BETWEEN ?1 AND ?2";
    let (sql, before) = match rows {
        CountRows::All => (
            format!("{COUNTS} AND ?3 IS NULL GROUP BY l.epoch ORDER BY l.epoch"),
            None,
        ),
        CountRows::ClosedBefore(t) => (
            format!(
                "{COUNTS} AND l.pseudonym IN (SELECT pseudonym FROM participants                  WHERE closed_at IS NOT NULL AND closed_at < ?3)                  GROUP BY l.epoch ORDER BY l.epoch"
            ),
            Some(t.seconds()),
        ),
    };
    let mut st = c.prepare_cached(&sql)?;
    let found = st.query_map(
        params![i64::from(first.get()), i64::from(last.get()), before],
        |r| {
            let mut n = [0i64; 9];
            for (i, v) in n.iter_mut().enumerate() {
                *v = r.get(i + 1)?;
            }
            Ok((r.get::<_, i64>(0)?, n))
        },
    )?;
    let count = |v: i64| {
        u32::try_from(v).map_err(|_| StoreError::Corrupt {
            what: "ledger count",
        })
    };
    found
        .map(|r| {
            let (e, n) = r?;
            Ok(minimis_log::EpochSummary {
                epoch: epoch(e)?,
                issued: count(n[0])?,
                on_time: count(n[1])?,
                late: count(n[2])?,
                missed: count(n[3])?,
                reports: minimis_log::FailureCounts {
                    no_network: count(n[4])?,
                    app_error: count(n[5])?,
                    device_error: count(n[6])?,
                    presence_unavailable: count(n[7])?,
                    other: count(n[8])?,
                },
            })
        })
        .collect()
}

fn participant_from(row: &Row<'_>) -> rusqlite::Result<RawParticipant> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

type RawParticipant = (Vec<u8>, Vec<u8>, Vec<u8>, String, i64, Option<i64>, i64);

/// The columns a participant is read with.
const PARTICIPANT_SELECT: &str =
    "pseudonym, device_key, tag_key, schedule, enrolled_epoch, closed_at, conditions";

fn participant(raw: RawParticipant) -> Result<ParticipantRow, StoreError> {
    let (p, key, tag, schedule, enrolled, closed, conditions) = raw;
    let schedule: Schedule =
        serde_json::from_str(&schedule).map_err(|_| StoreError::Corrupt { what: "schedule" })?;
    Ok(ParticipantRow {
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        device_key: PublicKey(arr(key, "device key")?),
        tag_key: Zeroizing::new(arr(tag, "tag key")?),
        schedule,
        enrolled_epoch: epoch(enrolled)?,
        closed_at: closed.map(UnixTime),
        conditions: conditions != 0,
    })
}

type RawCondition = (i64, Vec<u8>, Vec<u8>, i64, Vec<u8>, Vec<u8>);

const CONDITION_SELECT: &str = "seq, challenge_id, pseudonym, epoch, ciphertext, signature";

fn condition_from(row: &Row<'_>) -> rusqlite::Result<RawCondition> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn condition(raw: RawCondition) -> Result<ConditionRow, StoreError> {
    let (seq, c, p, e, ct, sig) = raw;
    Ok(ConditionRow {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt { what: "seq" })?,
        challenge_id: ChallengeId::from_bytes(arr(c, "challenge id")?),
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        epoch: epoch(e)?,
        ciphertext: ct,
        signature: Signature(arr(sig, "signature")?),
    })
}

type RawFiling = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
);

const FILING_SELECT: &str =
    "seq, filing_id, pseudonym, addressee, ciphertext, signature, day, log_index, acknowledged";

fn filing_from(row: &Row<'_>) -> rusqlite::Result<RawFiling> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn filing(raw: RawFiling) -> Result<FilingRow, StoreError> {
    let (seq, id, p, addressee, ct, sig, day, index, acked) = raw;
    Ok(FilingRow {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt { what: "seq" })?,
        filing_id: FilingId::from_bytes(arr(id, "filing id")?),
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        addressee: u8::try_from(addressee)
            .ok()
            .and_then(Addressee::from_code)
            .ok_or(StoreError::Corrupt { what: "addressee" })?,
        ciphertext: ct,
        signature: Signature(arr(sig, "signature")?),
        day: UnixTime(day),
        log_index: u64::try_from(index).map_err(|_| StoreError::Corrupt { what: "log index" })?,
        acknowledged: acked.map(UnixTime),
    })
}

type RawInbox = (Vec<u8>, i64, String, Vec<u8>);

fn inbox_from(row: &Row<'_>) -> rusqlite::Result<RawInbox> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn inbox(raw: RawInbox) -> Result<InboxRow, StoreError> {
    let (p, e, recipient, sig) = raw;
    Ok(InboxRow {
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        epoch: epoch(e)?,
        recipient,
        signature: Signature(arr(sig, "signature")?),
    })
}

type RawDelivery = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    i64,
    Option<i64>,
);

const DELIVERY_SELECT: &str = "seq, delivery_id, pseudonym, epoch, ciphertext, day, acknowledged";

fn delivery_from(row: &Row<'_>) -> rusqlite::Result<RawDelivery> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn delivery(raw: RawDelivery) -> Result<DeliveryRow, StoreError> {
    let (seq, id, p, e, ct, day, acked) = raw;
    Ok(DeliveryRow {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt { what: "seq" })?,
        delivery_id: DeliveryId::from_bytes(arr(id, "delivery id")?),
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        epoch: epoch(e)?,
        ciphertext: ct,
        day: UnixTime(day),
        acknowledged: acked.map(UnixTime),
    })
}

/// A cursor or limit as SQLite takes it.
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const LEDGER_COLUMNS: &str = "challenge_id, pseudonym, epoch, kind, issued_at, window_start, \
    window_end, policy, signature, state, resolved_by, failure_report";

/// What a row is read with: [`LEDGER_COLUMNS`] and the columns migrations added.
const LEDGER_SELECT: &str = "challenge_id, pseudonym, epoch, kind, issued_at, window_start, \
    window_end, policy, signature, state, resolved_by, failure_report, resolution_reason, \
    failure_text_id, failure_text_epoch";

type RawLedger = (
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Option<String>,
    Option<i64>,
);

type RawLedgerExtra = (Option<i64>, Option<Vec<u8>>, Option<i64>);

fn ledger_from(row: &Row<'_>) -> rusqlite::Result<(RawLedger, RawLedgerExtra)> {
    Ok((
        ledger_base(row)?,
        (row.get(12)?, row.get(13)?, row.get(14)?),
    ))
}

fn ledger_base(row: &Row<'_>) -> rusqlite::Result<RawLedger> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
    ))
}

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

fn ledger((raw, extra): (RawLedger, RawLedgerExtra)) -> Result<ChallengeRow, StoreError> {
    let (id, p, e, kind, issued, ws, we, policy, sig, state, by, report) = raw;
    let (reason, text_id, text_epoch) = extra;
    let kind = challenge_kind(kind)?;
    Ok(ChallengeRow {
        signed: SignedChallenge {
            challenge: Challenge {
                id: ChallengeId::from_bytes(arr(id, "challenge id")?),
                pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
                epoch: epoch(e)?,
                kind,
                issued_at: UnixTime(issued),
                window_start: UnixTime(ws),
                window_end: UnixTime(we),
                policy: PolicyHash::from_bytes(arr(policy, "policy hash")?),
            },
            signature: Signature(arr(sig, "signature")?),
        },
        state: super::state_from_code(state).ok_or(StoreError::Corrupt { what: "state" })?,
        resolved_by: by,
        resolution_reason: reason
            .map(|c| super::reason_from_code(c).ok_or(StoreError::Corrupt { what: "reason" }))
            .transpose()?,
        failure_report: report
            .map(|c| {
                u8::try_from(c)
                    .ok()
                    .and_then(FailureCategory::from_code)
                    .ok_or(StoreError::Corrupt { what: "report" })
            })
            .transpose()?,
        failure_text: text_ref(text_id, text_epoch)?,
    })
}

type RawSealedText = (Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>);

fn sealed_text_from(row: &Row<'_>) -> rusqlite::Result<RawSealedText> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn sealed_text((id, p, c, e, ct): RawSealedText) -> Result<SealedTextRow, StoreError> {
    Ok(SealedTextRow {
        text_id: RecordId::from_bytes(arr(id, "text id")?),
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        challenge_id: ChallengeId::from_bytes(arr(c, "challenge id")?),
        epoch: epoch(e)?,
        ciphertext: SealedCheckIn::try_from(ct)
            .map_err(|_| StoreError::Corrupt { what: "ciphertext" })?,
    })
}

type RawRecord = (Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>, Vec<u8>, i64);

fn record(raw: RawRecord) -> Result<RecordRow, StoreError> {
    let (id, p, c, e, ct, sig, index) = raw;
    Ok(RecordRow {
        record_id: RecordId::from_bytes(arr(id, "record id")?),
        pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
        challenge_id: ChallengeId::from_bytes(arr(c, "challenge id")?),
        epoch: epoch(e)?,
        ciphertext: SealedCheckIn::try_from(ct)
            .map_err(|_| StoreError::Corrupt { what: "ciphertext" })?,
        signature: Signature(arr(sig, "signature")?),
        log_index: u64::try_from(index).map_err(|_| StoreError::Corrupt { what: "log index" })?,
    })
}

/// The read queries, shared by the writer and the readers.
fn read<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    f(conn)
}

macro_rules! impl_read {
    ($ty:ty, $conn:ident) => {
        impl StoreRead for $ty {
            fn participant(
                &self,
                pseudonym: &Pseudonym,
            ) -> Result<Option<ParticipantRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(
                        &format!(
                        "SELECT {PARTICIPANT_SELECT} FROM participants WHERE pseudonym = ?1"
                    ),
                    )?
                    .query_row([pseudonym.as_bytes().as_slice()], participant_from)
                    .optional()?
                    .map(participant)
                    .transpose()
                })
            }

            fn participants(&self) -> Result<Vec<ParticipantRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        &format!("SELECT {PARTICIPANT_SELECT} FROM participants"),
                    )?;
                    let rows = st.query_map([], participant_from)?;
                    rows.map(|r| participant(r?)).collect()
                })
            }

            fn challenge(&self, id: &ChallengeId) -> Result<Option<ChallengeRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(&format!(
                        "SELECT {LEDGER_SELECT} FROM ledger WHERE challenge_id = ?1"
                    ))?
                    .query_row([id.as_bytes().as_slice()], ledger_from)
                    .optional()?
                    .map(ledger)
                    .transpose()
                })
            }

            fn ledger(&self, pseudonym: &Pseudonym) -> Result<Vec<ChallengeRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {LEDGER_SELECT} FROM ledger WHERE pseudonym = ?1 \
                         ORDER BY issued_at, challenge_id"
                    ))?;
                    let rows = st.query_map([pseudonym.as_bytes().as_slice()], ledger_from)?;
                    rows.map(|r| ledger(r?)).collect()
                })
            }

            fn open_challenges(&self) -> Result<Vec<ChallengeRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {LEDGER_SELECT} FROM ledger WHERE state = 0"
                    ))?;
                    let rows = st.query_map([], ledger_from)?;
                    rows.map(|r| ledger(r?)).collect()
                })
            }

            fn issued_since(
                &self,
                pseudonym: &Pseudonym,
                since: UnixTime,
            ) -> Result<Vec<SignedChallenge>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {LEDGER_SELECT} FROM ledger WHERE pseudonym = ?1 AND issued_at >= ?2 \
                         ORDER BY issued_at"
                    ))?;
                    let rows = st.query_map(
                        params![pseudonym.as_bytes().as_slice(), since.seconds()],
                        ledger_from,
                    )?;
                    rows.map(|r| ledger(r?).map(|row| row.signed)).collect()
                })
            }

            fn record(&self, id: &RecordId) -> Result<Option<RecordRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(
                        "SELECT record_id, pseudonym, challenge_id, epoch, ciphertext, signature, \
                         log_index FROM records WHERE record_id = ?1",
                    )?
                    .query_row([id.as_bytes().as_slice()], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    })
                    .optional()?
                    .map(record)
                    .transpose()
                })
            }

            fn records_in_epoch(&self, e: EpochId) -> Result<u64, StoreError> {
                read(&self.$conn, |c| {
                    let n: i64 = c
                        .prepare_cached("SELECT count(*) FROM records WHERE epoch = ?1")?
                        .query_row([i64::from(e.get())], |r| r.get(0))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                })
            }

            fn epochs_with_records(&self) -> Result<Vec<EpochId>, StoreError> {
                read(&self.$conn, |c| {
                    // One index seek per distinct epoch (the scheduler asks every second),
                    // where `SELECT DISTINCT` would read every record's index entry.
                    let mut st = c.prepare_cached(
                        "WITH RECURSIVE e(epoch) AS ( \
                           SELECT min(epoch) FROM records \
                           UNION ALL \
                           SELECT (SELECT min(epoch) FROM records WHERE epoch > e.epoch) \
                           FROM e WHERE e.epoch IS NOT NULL) \
                         SELECT epoch FROM e WHERE epoch IS NOT NULL ORDER BY epoch",
                    )?;
                    let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
                    rows.map(|r| epoch(r?)).collect()
                })
            }

            fn ledger_counts(
                &self,
                first: EpochId,
                last: EpochId,
                rows: CountRows,
            ) -> Result<Vec<minimis_log::EpochSummary>, StoreError> {
                read(&self.$conn, |c| ledger_counts(c, first, last, rows))
            }

            fn statements(&self, id: &ChallengeId) -> Result<Vec<Statement>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        "SELECT category, text_id, text_epoch FROM statements \
                         WHERE challenge_id = ?1 ORDER BY seq",
                    )?;
                    let rows = st.query_map([id.as_bytes().as_slice()], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<Vec<u8>>>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                        ))
                    })?;
                    rows.map(|r| {
                        let (category, text_id, text_epoch) = r?;
                        Ok(Statement {
                            category: u8::try_from(category)
                                .ok()
                                .and_then(StatementCategory::from_code)
                                .ok_or(StoreError::Corrupt { what: "statement" })?,
                            text: text_ref(text_id, text_epoch)?,
                        })
                    })
                    .collect()
                })
            }

            fn read_by(&self, id: &ChallengeId, officer: &str) -> Result<bool, StoreError> {
                read(&self.$conn, |c| {
                    Ok(c.prepare_cached(
                        "SELECT 1 FROM ledger_reads WHERE challenge_id = ?1 AND officer = ?2",
                    )?
                    .query_row(params![id.as_bytes().as_slice(), officer], |_| Ok(()))
                    .optional()?
                    .is_some())
                })
            }

            fn sealed_text(&self, id: &RecordId) -> Result<Option<SealedTextRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(
                        "SELECT text_id, pseudonym, challenge_id, epoch, ciphertext \
                         FROM sealed_texts WHERE text_id = ?1",
                    )?
                    .query_row([id.as_bytes().as_slice()], sealed_text_from)
                    .optional()?
                    .map(sealed_text)
                    .transpose()
                })
            }

            fn epochs_with_sealed_texts(&self) -> Result<Vec<EpochId>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        "SELECT DISTINCT epoch FROM sealed_texts ORDER BY epoch",
                    )?;
                    let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
                    rows.map(|r| epoch(r?)).collect()
                })
            }

            fn for_each_participant(
                &self,
                f: &mut dyn FnMut(ParticipantRow) -> Result<(), StoreError>,
            ) -> Result<(), StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        &format!("SELECT {PARTICIPANT_SELECT} FROM participants"),
                    )?;
                    let mut rows = st.query([])?;
                    while let Some(row) = rows.next()? {
                        f(participant(participant_from(row)?)?)?;
                    }
                    Ok(())
                })
            }

            fn conditions_after(
                &self,
                after: u64,
                limit: usize,
            ) -> Result<Vec<ConditionRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {CONDITION_SELECT} FROM conditions WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))?;
                    let rows = st.query_map(
                        params![sql_int(after), sql_int(limit as u64)],
                        condition_from,
                    )?;
                    rows.map(|r| condition(r?)).collect()
                })
            }

            fn filings_after(&self, after: u64, limit: usize) -> Result<Vec<FilingRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {FILING_SELECT} FROM filings WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))?;
                    let rows =
                        st.query_map(params![sql_int(after), sql_int(limit as u64)], filing_from)?;
                    rows.map(|r| filing(r?)).collect()
                })
            }

            fn filing(&self, id: &FilingId) -> Result<Option<FilingRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(&format!(
                        "SELECT {FILING_SELECT} FROM filings WHERE filing_id = ?1"
                    ))?
                    .query_row([id.as_bytes().as_slice()], filing_from)
                    .optional()?
                    .map(filing)
                    .transpose()
                })
            }

            fn inbox(
                &self,
                pseudonym: &Pseudonym,
                e: EpochId,
            ) -> Result<Option<InboxRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(
                        "SELECT pseudonym, epoch, recipient, signature FROM inboxes \
                         WHERE pseudonym = ?1 AND epoch = ?2",
                    )?
                    .query_row(
                        params![pseudonym.as_bytes().as_slice(), i64::from(e.get())],
                        inbox_from,
                    )
                    .optional()?
                    .map(inbox)
                    .transpose()
                })
            }

            fn review(&self, id: &ReviewId) -> Result<Option<ReviewRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(
                        "SELECT review_id, epoch, opened, decided, contested, appeal_decided \
                         FROM reviews WHERE review_id = ?1",
                    )?
                    .query_row([id.as_bytes().as_slice()], |r| {
                        Ok((
                            r.get::<_, Vec<u8>>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, Option<i64>>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                        ))
                    })
                    .optional()?
                    .map(|(id, e, opened, decided, contested, appeal)| {
                        Ok(ReviewRow {
                            review_id: ReviewId::from_bytes(arr(id, "review id")?),
                            epoch: epoch(e)?,
                            opened: UnixTime(opened),
                            decided: decided.map(UnixTime),
                            contested: contested.map(UnixTime),
                            appeal_decided: appeal.map(UnixTime),
                        })
                    })
                    .transpose()
                })
            }

            fn conditions_summary_logged(&self, e: EpochId) -> Result<bool, StoreError> {
                read(&self.$conn, |c| {
                    Ok(c.prepare_cached("SELECT 1 FROM conditions_summaries WHERE epoch = ?1")?
                        .query_row([i64::from(e.get())], |_| Ok(()))
                        .optional()?
                        .is_some())
                })
            }

            fn delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRow>, StoreError> {
                read(&self.$conn, |c| {
                    c.prepare_cached(&format!(
                        "SELECT {DELIVERY_SELECT} FROM deliveries WHERE delivery_id = ?1"
                    ))?
                    .query_row([id.as_bytes().as_slice()], delivery_from)
                    .optional()?
                    .map(delivery)
                    .transpose()
                })
            }

            fn pending_deliveries(
                &self,
                pseudonym: &Pseudonym,
                limit: usize,
            ) -> Result<Vec<DeliveryRow>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {DELIVERY_SELECT} FROM deliveries \
                         WHERE pseudonym = ?1 AND ciphertext IS NOT NULL ORDER BY seq LIMIT ?2"
                    ))?;
                    let rows = st.query_map(
                        params![pseudonym.as_bytes().as_slice(), sql_int(limit as u64)],
                        delivery_from,
                    )?;
                    rows.map(|r| delivery(r?)).collect()
                })
            }

            fn for_each_open_challenge(
                &self,
                f: &mut dyn FnMut(ChallengeRow) -> Result<(), StoreError>,
            ) -> Result<(), StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT {LEDGER_SELECT} FROM ledger WHERE state = 0"
                    ))?;
                    let mut rows = st.query([])?;
                    while let Some(row) = rows.next()? {
                        f(ledger(ledger_from(row)?)?)?;
                    }
                    Ok(())
                })
            }

            fn slots_since(
                &self,
                pseudonym: &Pseudonym,
                since: UnixTime,
            ) -> Result<Vec<Slot>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        "SELECT issued_at, kind FROM ledger WHERE pseudonym = ?1 AND issued_at >= ?2 \
                         ORDER BY issued_at",
                    )?;
                    let rows = st.query_map(
                        params![pseudonym.as_bytes().as_slice(), since.seconds()],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )?;
                    let mut out = Vec::new();
                    for r in rows {
                        let (at, kind) = r?;
                        out.push(Slot {
                            at: UnixTime(at),
                            kind: challenge_kind(kind)?,
                        });
                    }
                    out.shrink_to_fit();
                    Ok(out)
                })
            }

            fn recipients(&self, e: EpochId) -> Result<Vec<SignedEpochRecipient>, StoreError> {
                read(&self.$conn, |c| {
                    let mut st = c.prepare_cached(
                        "SELECT json FROM recipients WHERE epoch = ?1 ORDER BY role",
                    )?;
                    let rows = st.query_map([i64::from(e.get())], |r| r.get::<_, String>(0))?;
                    rows.map(|r| {
                        serde_json::from_str(&r?)
                            .map_err(|_| StoreError::Corrupt { what: "recipient" })
                    })
                    .collect()
                })
            }

            fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
                read(&self.$conn, |c| {
                    Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                        .query_row([key], |r| r.get(0))
                        .optional()?)
                })
            }
        }
    };
}

impl_read!(SqliteStore, conn);
impl_read!(SqliteReader, conn);

impl super::ReadStore for SqliteReader {
    fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        read_tile(&self.conn, tile)
    }

    fn bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        read_bundle(&self.conn, bundle)
    }

    fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        read_checkpoint(&self.conn)
    }

    fn holdings(&self) -> Result<Holdings, StoreError> {
        SqliteReader::holdings(self)
    }

    fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        SqliteReader::backup_to(self, path)
    }
}

fn read_tile(conn: &Connection, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT hashes FROM log_tiles WHERE level = ?1 AND idx = ?2 AND width = ?3",
        )?
        .query_row(
            params![
                i64::from(tile.level()),
                i64::try_from(tile.index()).unwrap_or(i64::MAX),
                i64::from(tile.width())
            ],
            |r| r.get(0),
        )
        .optional()?)
}

fn read_bundle(conn: &Connection, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT data FROM log_bundles WHERE idx = ?1 AND width = ?2")?
        .query_row(
            params![
                i64::try_from(bundle.index()).unwrap_or(i64::MAX),
                i64::from(bundle.width())
            ],
            |r| r.get(0),
        )
        .optional()?)
}

fn read_checkpoint(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT text FROM log_checkpoint WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

fn changed(n: usize, what: &'static str) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::NotFound { what })
    } else {
        Ok(())
    }
}

fn unique(e: rusqlite::Error, what: &'static str) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate { what }
        }
        e => StoreError::Sqlite(e),
    }
}

impl Store for SqliteStore {
    type Tiles = SqliteTiles;

    fn tiles(&self) -> SqliteTiles {
        SqliteTiles {
            conn: Rc::clone(&self.conn),
            seen: std::cell::RefCell::new(None),
        }
    }

    fn open_reader(&self) -> Result<Box<dyn super::ReadStore>, StoreError> {
        Ok(Box::new(SqliteReader::open(&self.path)?))
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let done = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut st| st.execute([]));
        if let Err(e) = done {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    fn insert_participant(&mut self, row: &ParticipantRow) -> Result<(), StoreError> {
        let schedule = serde_json::to_string(&row.schedule)
            .map_err(|_| StoreError::Corrupt { what: "schedule" })?;
        self.conn
            .prepare_cached(
                "INSERT INTO participants (pseudonym, device_key, tag_key, schedule, enrolled_epoch, closed_at, conditions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.pseudonym.as_bytes().as_slice(),
                row.device_key.as_bytes().as_slice(),
                row.tag_key.as_slice(),
                schedule,
                i64::from(row.enrolled_epoch.get()),
                row.closed_at.map(UnixTime::seconds),
                i64::from(row.conditions),
            ])
            .map_err(|e| unique(e, "participant"))?;
        Ok(())
    }

    fn close_enrollment(&mut self, pseudonym: &Pseudonym, at: UnixTime) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE participants SET closed_at = ?2 WHERE pseudonym = ?1 AND closed_at IS NULL",
            )?
            .execute(params![pseudonym.as_bytes().as_slice(), at.seconds()])?;
        changed(n, "open enrollment")
    }

    fn insert_challenge(&mut self, s: &SignedChallenge) -> Result<(), StoreError> {
        let c = &s.challenge;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO ledger ({LEDGER_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, NULL, NULL)"
            ))?
            .execute(params![
                c.id.as_bytes().as_slice(),
                c.pseudonym.as_bytes().as_slice(),
                i64::from(c.epoch.get()),
                i64::from(c.kind.code()),
                c.issued_at.seconds(),
                c.window_start.seconds(),
                c.window_end.seconds(),
                c.policy.as_bytes().as_slice(),
                s.signature.as_bytes().as_slice(),
            ])
            .map_err(|e| unique(e, "challenge"))?;
        Ok(())
    }

    fn set_state(
        &mut self,
        id: &ChallengeId,
        state: LedgerState,
        resolved_by: Option<&str>,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE ledger SET state = ?2, resolved_by = ?3 WHERE challenge_id = ?1",
            )?
            .execute(params![
                id.as_bytes().as_slice(),
                super::state_code(state),
                resolved_by
            ])?;
        changed(n, "challenge")
    }

    fn resolve(
        &mut self,
        id: &ChallengeId,
        resolution: Resolution,
        reason: ResolutionReason,
        officer: &str,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE ledger SET state = ?2, resolved_by = ?3, resolution_reason = ?4 \
                 WHERE challenge_id = ?1",
            )?
            .execute(params![
                id.as_bytes().as_slice(),
                super::state_code(LedgerState::Resolved(resolution)),
                officer,
                super::reason_code(reason)
            ])?;
        changed(n, "challenge")
    }

    fn set_failure_report(
        &mut self,
        id: &ChallengeId,
        report: &FailureReport,
    ) -> Result<(), StoreError> {
        let key = id.as_bytes().as_slice();
        let n = self
            .conn
            .prepare_cached(
                "UPDATE ledger SET failure_report = ?2, failure_text_id = ?3, \
                 failure_text_epoch = ?4 WHERE challenge_id = ?1",
            )?
            .execute(params![
                key,
                report.category.code(),
                report.text.map(|t| t.id.as_bytes().to_vec()),
                report.text.map(|t| i64::from(t.epoch.get())),
            ])?;
        changed(n, "challenge")?;
        self.conn
            .prepare_cached("DELETE FROM ledger_reads WHERE challenge_id = ?1")?
            .execute([key])?;
        Ok(())
    }

    fn add_statement(&mut self, id: &ChallengeId, statement: &Statement) -> Result<(), StoreError> {
        let key = id.as_bytes().as_slice();
        let exists = self
            .conn
            .prepare_cached("SELECT 1 FROM ledger WHERE challenge_id = ?1")?
            .query_row([key], |_| Ok(()))
            .optional()?;
        changed(usize::from(exists.is_some()), "challenge")?;
        self.conn
            .prepare_cached(
                "INSERT INTO statements (challenge_id, seq, category, text_id, text_epoch) \
                 VALUES (?1, (SELECT count(*) FROM statements WHERE challenge_id = ?1), ?2, ?3, ?4)",
            )?
            .execute(params![
                key,
                statement.category.code(),
                statement.text.map(|t| t.id.as_bytes().to_vec()),
                statement.text.map(|t| i64::from(t.epoch.get())),
            ])
            .map_err(|e| unique(e, "statement"))?;
        self.conn
            .prepare_cached("DELETE FROM ledger_reads WHERE challenge_id = ?1")?
            .execute([key])?;
        Ok(())
    }

    fn mark_read(&mut self, id: &ChallengeId, officer: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ledger_reads (challenge_id, officer) \
                 SELECT challenge_id, ?2 FROM ledger WHERE challenge_id = ?1",
            )?
            .execute(params![id.as_bytes().as_slice(), officer])?;
        if n == 0 && !self.read_by(id, officer)? {
            return Err(StoreError::NotFound { what: "challenge" });
        }
        Ok(())
    }

    fn insert_sealed_text(&mut self, t: &SealedTextRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sealed_texts (text_id, pseudonym, challenge_id, epoch, ciphertext) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                t.text_id.as_bytes().as_slice(),
                t.pseudonym.as_bytes().as_slice(),
                t.challenge_id.as_bytes().as_slice(),
                i64::from(t.epoch.get()),
                t.ciphertext.as_bytes(),
            ])
            .map_err(|e| unique(e, "sealed text"))?;
        Ok(())
    }

    fn purge_sealed_texts(&mut self, e: EpochId, now: UnixTime) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM sealed_texts WHERE epoch = ?1 AND text_id NOT IN \
                 (SELECT record_id FROM holds WHERE until > ?2)",
            )?
            .execute(params![i64::from(e.get()), now.seconds()])?;
        Ok(n as u64)
    }

    fn insert_condition(&mut self, row: &ConditionRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO conditions (challenge_id, pseudonym, epoch, ciphertext, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                row.challenge_id.as_bytes().as_slice(),
                row.pseudonym.as_bytes().as_slice(),
                i64::from(row.epoch.get()),
                row.ciphertext,
                row.signature.as_bytes().as_slice(),
            ])
            .map_err(|e| unique(e, "condition result"))?;
        Ok(())
    }

    fn insert_filing(&mut self, row: &FilingRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO filings (filing_id, pseudonym, addressee, ciphertext, signature, day, log_index, acknowledged) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                row.filing_id.as_bytes().as_slice(),
                row.pseudonym.as_bytes().as_slice(),
                i64::from(row.addressee.code()),
                row.ciphertext,
                row.signature.as_bytes().as_slice(),
                row.day.seconds(),
                sql_int(row.log_index),
                row.acknowledged.map(UnixTime::seconds),
            ])
            .map_err(|e| unique(e, "filing"))?;
        Ok(())
    }

    fn acknowledge_filing(&mut self, id: &FilingId, day: UnixTime) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE filings SET acknowledged = ?2 WHERE filing_id = ?1")?
            .execute(params![id.as_bytes().as_slice(), day.seconds()])?;
        Ok(())
    }

    fn put_review(&mut self, row: &ReviewRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO reviews (review_id, epoch, opened, decided, contested, appeal_decided) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (review_id) DO UPDATE SET decided = excluded.decided, \
                 contested = excluded.contested, appeal_decided = excluded.appeal_decided",
            )?
            .execute(params![
                row.review_id.as_bytes().as_slice(),
                i64::from(row.epoch.get()),
                row.opened.seconds(),
                row.decided.map(UnixTime::seconds),
                row.contested.map(UnixTime::seconds),
                row.appeal_decided.map(UnixTime::seconds),
            ])?;
        Ok(())
    }

    fn insert_conditions_summary(&mut self, e: EpochId, day: UnixTime) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO conditions_summaries (epoch, day) VALUES (?1, ?2)")?
            .execute(params![i64::from(e.get()), day.seconds()])
            .map_err(|e| unique(e, "conditions summary"))?;
        Ok(())
    }

    fn insert_inbox(&mut self, row: &InboxRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO inboxes (pseudonym, epoch, recipient, signature) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                row.pseudonym.as_bytes().as_slice(),
                i64::from(row.epoch.get()),
                row.recipient,
                row.signature.as_bytes().as_slice(),
            ])
            .map_err(|e| unique(e, "inbox"))?;
        Ok(())
    }

    fn insert_delivery(&mut self, row: &DeliveryRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO deliveries (delivery_id, pseudonym, epoch, ciphertext, day, acknowledged) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                row.delivery_id.as_bytes().as_slice(),
                row.pseudonym.as_bytes().as_slice(),
                i64::from(row.epoch.get()),
                row.ciphertext,
                row.day.seconds(),
                row.acknowledged.map(UnixTime::seconds),
            ])
            .map_err(|e| unique(e, "delivery"))?;
        Ok(())
    }

    fn acknowledge_delivery(&mut self, id: &DeliveryId, day: UnixTime) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET acknowledged = ?2, ciphertext = NULL WHERE delivery_id = ?1",
            )?
            .execute(params![id.as_bytes().as_slice(), day.seconds()])?;
        Ok(())
    }

    fn expire_deliveries(&mut self, through: EpochId) -> Result<u64, StoreError> {
        let e = i64::from(through.get());
        let n = self
            .conn
            .prepare_cached(
                "UPDATE deliveries SET ciphertext = NULL WHERE epoch <= ?1 AND ciphertext IS NOT NULL",
            )?
            .execute([e])?;
        self.conn
            .prepare_cached("DELETE FROM inboxes WHERE epoch <= ?1")?
            .execute([e])?;
        Ok(n as u64)
    }

    fn insert_record(&mut self, row: &RecordRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO records (record_id, pseudonym, challenge_id, epoch, ciphertext, signature, log_index) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.record_id.as_bytes().as_slice(),
                row.pseudonym.as_bytes().as_slice(),
                row.challenge_id.as_bytes().as_slice(),
                i64::from(row.epoch.get()),
                row.ciphertext.as_bytes(),
                row.signature.as_bytes().as_slice(),
                i64::try_from(row.log_index).unwrap_or(i64::MAX),
            ])
            .map_err(|e| unique(e, "record"))?;
        Ok(())
    }

    fn put_recipient(&mut self, r: &SignedEpochRecipient) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(r).map_err(|_| StoreError::Corrupt { what: "recipient" })?;
        self.conn
            .prepare_cached(
                "INSERT INTO recipients (epoch, role, json) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (epoch, role) DO UPDATE SET json = excluded.json",
            )?
            .execute(params![
                i64::from(r.recipient.epoch.get()),
                i64::from(r.recipient.role.code()),
                json
            ])?;
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    fn hold(&mut self, records: &[RecordId], until: UnixTime) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO holds (record_id, until) VALUES (?1, ?2)")?;
        for r in records {
            st.execute(params![r.as_bytes().as_slice(), until.seconds()])?;
        }
        Ok(())
    }

    fn purge_epoch(&mut self, e: EpochId, now: UnixTime) -> Result<Vec<RecordId>, StoreError> {
        let ids: Vec<RecordId> = {
            let mut st = self.conn.prepare_cached(
                "SELECT record_id FROM records WHERE epoch = ?1 AND record_id NOT IN \
                 (SELECT record_id FROM holds WHERE until > ?2) ORDER BY record_id",
            )?;
            let rows = st.query_map(params![i64::from(e.get()), now.seconds()], |r| {
                r.get::<_, Vec<u8>>(0)
            })?;
            rows.map(|r| Ok(RecordId::from_bytes(arr(r?, "record id")?)))
                .collect::<Result<_, StoreError>>()?
        };
        let mut del = self
            .conn
            .prepare_cached("DELETE FROM records WHERE record_id = ?1")?;
        for id in &ids {
            del.execute([id.as_bytes().as_slice()])?;
        }
        Ok(ids)
    }

    fn purge_closed_before(
        &mut self,
        before: UnixTime,
        now: UnixTime,
    ) -> Result<Vec<PurgedParticipant>, StoreError> {
        let gone: Vec<PurgedParticipant> = {
            let mut st = self.conn.prepare_cached(
                "SELECT pseudonym, closed_at FROM participants \
                 WHERE closed_at IS NOT NULL AND closed_at < ?1 ORDER BY closed_at, pseudonym",
            )?;
            let rows = st.query_map([before.seconds()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
            })?;
            rows.map(|r| {
                let (p, closed) = r?;
                Ok(PurgedParticipant {
                    pseudonym: Pseudonym::from_bytes(arr(p, "pseudonym")?),
                    closed_at: UnixTime(closed),
                })
            })
            .collect::<Result<_, StoreError>>()?
        };
        for p in &gone {
            let key = p.pseudonym.as_bytes().as_slice();
            for sql in [
                "DELETE FROM statements WHERE challenge_id IN \
                 (SELECT challenge_id FROM ledger WHERE pseudonym = ?1)",
                "DELETE FROM ledger_reads WHERE challenge_id IN \
                 (SELECT challenge_id FROM ledger WHERE pseudonym = ?1)",
                "DELETE FROM ledger WHERE pseudonym = ?1",
                // Condition results and filings are compliance records: kept as long as
                // the ledger (OBL-2, RET-20).
                "DELETE FROM conditions WHERE pseudonym = ?1",
                "DELETE FROM filings WHERE pseudonym = ?1",
                // What remains of deliveries (ids and days), and any inbox recipient.
                "DELETE FROM deliveries WHERE pseudonym = ?1",
                "DELETE FROM inboxes WHERE pseudonym = ?1",
                "DELETE FROM participants WHERE pseudonym = ?1",
            ] {
                self.conn.prepare_cached(sql)?.execute([key])?;
            }
            self.conn
                .prepare_cached(
                    "DELETE FROM sealed_texts WHERE pseudonym = ?1 AND text_id NOT IN \
                     (SELECT record_id FROM holds WHERE until > ?2)",
                )?
                .execute(params![key, now.seconds()])?;
        }
        Ok(gone)
    }
}

/// Why the log's SQLite storage failed.
#[derive(Debug, thiserror::Error)]
pub enum TilesError {
    /// The database failed.
    #[error("log storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The stored checkpoint is not the one this handle read or wrote last: another
    /// writer extended the log (**STO-6**). The batch must be rolled back and the log
    /// reopened from what is stored.
    #[error("log storage: another writer moved the log's checkpoint")]
    SequencerMoved,
}

impl TileStorage for SqliteTiles {
    type Error = TilesError;

    fn write_tile(&mut self, tile: TileId, hashes: &[u8]) -> Result<(), TilesError> {
        let (level, idx) = (
            i64::from(tile.level()),
            i64::try_from(tile.index()).unwrap_or(i64::MAX),
        );
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO log_tiles (level, idx, width, hashes) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![level, idx, i64::from(tile.width()), hashes])?;
        if tile.is_full() {
            // A client that cannot fetch a partial tile fetches the full one (C2SP
            // tlog-tiles), so partial tiles are dropped once the full tile exists.
            self.conn
                .prepare_cached(
                    "DELETE FROM log_tiles WHERE level = ?1 AND idx = ?2 AND width < 256",
                )?
                .execute(params![level, idx])?;
        }
        Ok(())
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, TilesError> {
        read_tile(&self.conn, tile)
            .map(|o| o.map(Cow::Owned))
            .map_err(|e| match e {
                StoreError::Sqlite(e) => TilesError::Sqlite(e),
                _ => TilesError::Sqlite(rusqlite::Error::InvalidQuery),
            })
    }

    fn write_bundle(&mut self, bundle: BundleId, data: &[u8]) -> Result<(), TilesError> {
        let idx = i64::try_from(bundle.index()).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO log_bundles (idx, width, data) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![idx, i64::from(bundle.width()), data])?;
        if bundle.is_full() {
            self.conn
                .prepare_cached("DELETE FROM log_bundles WHERE idx = ?1 AND width < 256")?
                .execute([idx])?;
        }
        Ok(())
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, TilesError> {
        read_bundle(&self.conn, bundle)
            .map(|o| o.map(Cow::Owned))
            .map_err(|e| match e {
                StoreError::Sqlite(e) => TilesError::Sqlite(e),
                _ => TilesError::Sqlite(rusqlite::Error::InvalidQuery),
            })
    }

    /// A compare-and-swap on the single checkpoint row (**STO-6**): it replaces the
    /// checkpoint this handle last read or wrote, and nothing else; a handle that has
    /// not read one writes only the first.
    fn write_checkpoint(&mut self, checkpoint: &str) -> Result<(), TilesError> {
        let expected = self.seen.borrow().clone().flatten();
        let changed = match &expected {
            Some(old) => self
                .conn
                .prepare_cached("UPDATE log_checkpoint SET text = ?1 WHERE id = 1 AND text = ?2")?
                .execute([checkpoint, old.as_str()])?,
            None => self
                .conn
                .prepare_cached(
                    "INSERT INTO log_checkpoint (id, text) VALUES (1, ?1) \
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute([checkpoint])?,
        };
        if changed != 1 {
            return Err(TilesError::SequencerMoved);
        }
        *self.seen.borrow_mut() = Some(Some(checkpoint.to_owned()));
        Ok(())
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, TilesError> {
        let text = read_checkpoint(&self.conn).map_err(|e| match e {
            StoreError::Sqlite(e) => TilesError::Sqlite(e),
            _ => TilesError::Sqlite(rusqlite::Error::InvalidQuery),
        })?;
        *self.seen.borrow_mut() = Some(text.clone());
        Ok(text.map(Cow::Owned))
    }
}

impl SqliteReader {
    /// What the database holds now ([`Holdings`]), in one read transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn holdings(&self) -> Result<Holdings, StoreError> {
        let c = &self.conn;
        let tx = c.unchecked_transaction()?;
        let two = |sql: &str| -> Result<(u64, u64), StoreError> {
            Ok(tx.query_row(sql, [], |r| {
                Ok((
                    r.get::<_, i64>(0)?.max(0) as u64,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0).max(0) as u64,
                ))
            })?)
        };
        let (participants, participant_bytes) = two(
            "SELECT count(*), sum(length(pseudonym) + length(device_key) + length(tag_key) \
             + length(schedule) + 16) FROM participants",
        )?;
        let (ledger_rows, ledger_bytes) = two(
            "SELECT count(*), sum(length(challenge_id) + length(pseudonym) + length(policy) \
             + length(signature) + 6 * 8 + coalesce(length(resolved_by), 0)) FROM ledger",
        )?;
        let (records, ciphertext_bytes) =
            two("SELECT count(*), sum(length(ciphertext)) FROM records")?;
        let (_, record_row_bytes) = two(
            "SELECT count(*), sum(length(record_id) + length(pseudonym) + length(challenge_id) \
             + length(signature) + 16) FROM records",
        )?;
        let (sealed_texts, sealed_text_bytes) =
            two("SELECT count(*), sum(length(ciphertext)) FROM sealed_texts")?;
        let (_, bundles) = two("SELECT count(*), sum(length(data)) FROM log_bundles")?;
        let (_, tiles) = two("SELECT count(*), sum(length(hashes)) FROM log_tiles")?;
        let (_, checkpoint) = two("SELECT count(*), sum(length(text)) FROM log_checkpoint")?;
        drop(tx);
        Ok(Holdings {
            participants,
            participant_bytes,
            ledger_rows,
            ledger_bytes,
            records,
            ciphertext_bytes,
            record_row_bytes,
            sealed_texts,
            sealed_text_bytes,
            log_bytes: bundles + tiles + checkpoint,
        })
    }

    /// Writes a consistent copy of the whole database to `path` (`VACUUM INTO`), as an
    /// operator's backup would be: the demo uses it to show that a backup taken before a
    /// retention deadline is unreadable after it (RET-3).
    ///
    /// # Errors
    /// [`StoreError`]; `path` must not exist.
    pub fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        let target = path.to_str().ok_or_else(|| StoreError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not UTF-8"),
        })?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    /// Every sealed record of `epoch` in this database: (record id, ciphertext).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn records_of_epoch(&self, epoch: EpochId) -> Result<Vec<(RecordId, Vec<u8>)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT record_id, ciphertext FROM records WHERE epoch = ?1 ORDER BY record_id",
        )?;
        let rows = st.query_map([i64::from(epoch.get())], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ct) = row?;
            let id: [u8; 32] = id
                .try_into()
                .map_err(|_| StoreError::Corrupt { what: "record id" })?;
            out.push((RecordId::from_bytes(id), ct));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_made_before_the_migrations_is_brought_up_to_date_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // What a server before the migrations left: the base schema, version 0, a row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                &format!(
                    "INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES \
                     (?1, ?2, 100, 1, 1000, 990, 4600, ?3, ?4, 3, NULL, 2)"
                ),
                params![[1u8; 16], [2u8; 16], [3u8; 32], [4u8; 64]],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let row = store
            .challenge(&ChallengeId::from_bytes([1; 16]))
            .unwrap()
            .unwrap();
        assert_eq!(row.state, LedgerState::PendingReview);
        assert_eq!(row.failure_report, Some(FailureCategory::AppError));
        assert_eq!((row.resolution_reason, row.failure_text), (None, None));
        assert!(
            store
                .statements(&ChallengeId::from_bytes([1; 16]))
                .unwrap()
                .is_empty()
        );
        drop(store);
        // Opening again runs nothing twice.
        let store = SqliteStore::open(dir.path()).unwrap();
        assert!(
            store
                .challenge(&ChallengeId::from_bytes([1; 16]))
                .unwrap()
                .is_some()
        );
        // A database from a newer server is refused, not misread.
        store
            .conn
            .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
        drop(store);
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
