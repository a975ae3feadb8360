//! The PostgreSQL store's foundations (spec/storage.md, issue 20): its schema as
//! migrations, and the log's sequencer as a compare-and-swap on one row (**STO-6**,
//! **STO-7**). The store itself (the [`super::Store`] and [`super::ReadStore`]
//! implementations, run through the conformance suite) is the next slice; nothing in the
//! server uses this module yet.
//!
//! The client is `tokio-postgres`: the writer's group commit will pipeline a batch's
//! statements and copy its rows in binary, so a batch costs a few round trips, not one
//! per row.

use tokio_postgres::{Client, GenericClient};

use super::StoreError;

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
        // The SQLite store's 14 tables and schema_version.
        assert_eq!(tables, 15);
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
