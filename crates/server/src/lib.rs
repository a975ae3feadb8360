//! # minimis-server: the operator
//!
//! The operator runs the infrastructure (BI's role in ISAP). In minimis it stores sealed
//! check-ins it cannot open, a compliance ledger with no content, and the transparency
//! log; it issues challenges only as each enrolled schedule allows, logging each before it
//! is sent; and it keeps no request metadata. Spec: `spec/operator.md`.
//!
//! **Trust domain:** the operator. **Holds:** participants' pseudonyms, device public keys,
//! tag keys and schedules; ledger rows, with the participant's failure reports and
//! statements as category codes; ciphertext (check-ins, and the sealed texts of reports and
//! statements); the log; its own challenge and log signing keys. **Never holds:** any key that decrypts (this crate depends on neither
//! `minimis-seal` nor `age`: `tests/deps.rs`), a location, an image, a name, a network
//! address.
//!
//! The service is tokio, hyper/axum and rustls (TLS 1.3 only), with SQLite in WAL mode
//! under a single writer that commits in batches ([`writer`](crate) docs): a check-in is
//! answered only once its record, its ledger row and its log entry are on disk (CHK-15;
//! `tests/crash.rs` kills the server with SIGKILL during ingest to check it). A background
//! thread copies the WAL into the database, off the writer's path
//! ([`store::sqlite::SqliteStore::spawn_checkpointer`]).
//!
//! The plaintext baseline, a benchmark comparator (`minimis bench ingest`: check-ins in the
//! clear, the way a conventional vendor takes them), is compiled only with the
//! `dangerous-plaintext-baseline` feature, which only the benchmark enables: the
//! operator's binary (`minimis-operator`) cannot enable it (**SEAL-26**, `tests/deps.rs`).
//! Even then it is never the default and cannot be set from a configuration file.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use minimis_server::{Server, ServerConfig, SystemClock};
//! let running = Server::start(ServerConfig::default(), SystemClock).await?;
//! println!("listening on https://{}", running.addr());
//! running.wait().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod api;
pub mod config;
pub mod error;
pub mod store;
pub mod tls;
mod witness;
mod writer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use minimis_crypto::SigningKey;
use minimis_log::KeyName;
use minimis_proto::{CiphertextBounds, CustodianRole, Policy, PublicKey};
use minimis_service::listener::{self, Endpoint, Serving};
use minimis_service::request_log::RequestLog;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

pub use config::{ConfigError, IngestMode, ServerConfig, StoreConfig, TlsSource};
pub use error::ApiError;
/// Where the server's time comes from: [`SystemClock`] in production, [`ManualClock`] for
/// the documented demo and test mode only ([`minimis_service::clock`]). Nothing on the
/// wire can set the server's clock.
pub use minimis_service::clock;
pub use minimis_service::clock::{Clock, ManualClock, SystemClock};
pub use minimis_service::limits::Limits;
pub use witness::{WitnessLink, WitnessSet};
pub use writer::TickReport;

use crate::api::{AppState, Peer, Readers};
use crate::store::sqlite::SqliteStore;
use crate::writer::{Op, Shared, Writer};
use minimis_wire::operator::KeysResponse;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration or a file it names.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policy file.
    #[error("policy: {0}")]
    Policy(String),
    /// The policy file could not be read or is not a valid policy.
    #[error(transparent)]
    PolicyFile(#[from] minimis_service::config::PolicyFileError),
    /// TLS.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The database.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The writer could not start.
    #[error(transparent)]
    Writer(#[from] writer::WriterError),
    /// The tlog-policy lists logs, and not this log's key (LOG-66).
    #[error("tlog_policy lists logs, and not this log's key")]
    LogNotInTlogPolicy,
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A key file.
    #[error("key file {path}: {message}")]
    Key {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What the writer's thread answers once it has started: the log's verifier key and the
/// API's readers, or why it could not start.
type Ready = Result<(minimis_log::VerifierKey, Vec<Box<dyn store::ReadStore>>), StartError>;

/// The API's readers, opened through the store's trait (**STO-1**): the same code for
/// either backend.
fn open_readers<S: store::Store>(s: &S) -> Result<Vec<Box<dyn store::ReadStore>>, StartError> {
    Ok((0..4)
        .map(|_| s.open_reader())
        .collect::<Result<Vec<_>, _>>()?)
}

/// A started writer, the API's readers, and what must be dropped after the writer.
type Started<S, C, K> = (Writer<S, C>, Vec<Box<dyn store::ReadStore>>, Option<K>);

/// Answers `ready` and runs the writer on this thread until every sender is dropped; then
/// drops the SQLite checkpointer, if any, after the writer.
fn run_writer<S: store::Store, C: Clock, K>(
    made: Result<Started<S, C, K>, StartError>,
    ready: &std::sync::mpsc::SyncSender<Ready>,
    rx: mpsc::Receiver<Op>,
    max_batch: usize,
) {
    match made {
        Ok((w, readers, checkpointer)) => {
            let _ = ready.send(Ok((w.log_key(), readers)));
            w.run(rx, max_batch);
            drop(checkpointer);
        }
        Err(e) => {
            let _ = ready.send(Err(e));
        }
    }
}

/// Loads a 32-byte Ed25519 seed from `path` (base64), making it on first start.
fn load_or_make_key(path: &Path) -> Result<SigningKey, StartError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let err = |message: String| StartError::Key {
        path: path.to_owned(),
        message,
    };
    if path.exists() {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let seed = Zeroizing::new(
            b64.decode(text.trim())
                .map_err(|_| err("not base64".into()))?,
        );
        return SigningKey::from_seed(&seed).map_err(|e| err(e.to_string()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let key = SigningKey::generate().map_err(|e| err(e.to_string()))?;
    let text = Zeroizing::new(format!("{}\n", b64.encode(key.expose_seed())));
    minimis_service::files::write_atomic(path, text.as_bytes(), true)
        .map_err(|e| err(e.to_string()))?;
    Ok(key)
}

/// A running server.
pub struct Running {
    tx: mpsc::Sender<Op>,
    serving: Serving,
    scheduler: Option<JoinHandle<()>>,
    witness: Option<JoinHandle<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
    readers: Arc<Readers>,
    fingerprint: String,
    officer_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    keys: KeysResponse,
    policy: Arc<Policy>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// How many connections the server holds now (at most `limits.max_connections`,
    /// **SVC-5**).
    pub fn open_connections(&self) -> usize {
        self.serving.open_connections()
    }

    /// The request tally of the current period: counts by method, route template and
    /// status, nothing per request (**SVC-11**). It is written to the log only at the
    /// period's end.
    pub fn request_log(&self) -> &RequestLog {
        self.serving.request_log()
    }

    /// The SHA-256 fingerprint of the server certificate.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The development officer certificate and key, when the development PKI is in use.
    pub fn dev_officer(&self) -> Option<&(std::path::PathBuf, std::path::PathBuf)> {
        self.officer_cert.as_ref()
    }

    /// The operator's challenge-signing key (Ed25519, base64).
    pub fn operator_key(&self) -> String {
        self.keys.operator.to_base64()
    }

    /// The log's verifier key (C2SP vkey).
    pub fn log_key(&self) -> &str {
        &self.keys.log
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Runs the scheduler once now: issues due challenges, marks missed rows, purges what
    /// is past retention. The demo and the tests drive time this way; a production server
    /// ticks every second on its own.
    ///
    /// # Errors
    /// [`ApiError`] if the writer could not commit.
    pub async fn tick(&self) -> Result<TickReport, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Tick(tx))
            .await
            .map_err(|_| ApiError::unavailable())?;
        rx.await.map_err(|_| ApiError::unavailable())?
    }

    /// The newest checkpoint the witness has cosigned (a signed note with the log's
    /// signature and the witness's cosignature), if any (CHK-31).
    ///
    /// # Errors
    /// [`ApiError`] if the database cannot be read.
    pub async fn cosigned_checkpoint(&self) -> Result<Option<String>, ApiError> {
        let bytes = self
            .readers
            .with(|r| r.meta(writer::COSIGNED_CHECKPOINT))
            .await?;
        Ok(bytes.and_then(|b| String::from_utf8(b).ok()))
    }

    /// What the operator holds now, by kind ([`store::sqlite::Holdings`]).
    ///
    /// # Errors
    /// [`ApiError`] if the database cannot be read.
    pub async fn holdings(&self) -> Result<store::sqlite::Holdings, ApiError> {
        self.readers.with(|r| r.holdings()).await
    }

    /// Writes a consistent copy of the database to `path`, as a backup would be taken
    /// (`VACUUM INTO`; `path` must not exist).
    ///
    /// # Errors
    /// [`ApiError`] if the copy could not be written.
    pub async fn backup(&self, path: &Path) -> Result<(), ApiError> {
        let path = path.to_owned();
        self.readers.with(move |r| r.backup_to(&path)).await
    }

    /// Waits until the server stops (it runs until the process ends).
    pub async fn wait(mut self) {
        self.serving.wait().await;
    }

    /// Stops accepting connections, lets the writer finish its batch, and waits for it.
    pub async fn shutdown(mut self) {
        self.serving.stop();
        if let Some(s) = self.scheduler.take() {
            s.abort();
        }
        if let Some(w) = self.witness.take() {
            w.abort();
        }
        let _ = self.tx.send(Op::Shutdown).await;
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

/// The server.
pub struct Server;

impl Server {
    /// Starts a server with `config`, on `clock`. With a [`SystemClock`] the scheduler
    /// ticks every second; with a [`ManualClock`] (demo and test mode) it ticks only when
    /// [`Running::tick`] is called.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn start<C: Clock + Clone>(
        config: ServerConfig,
        clock: C,
    ) -> Result<Running, StartError> {
        let manual = clock.is_manual();
        Self::start_inner(config, clock, !manual).await
    }

    async fn start_inner<C: Clock + Clone>(
        config: ServerConfig,
        clock: C,
        auto_tick: bool,
    ) -> Result<Running, StartError> {
        let (policy, policy_text) = minimis_service::config::load_policy(config.policy.as_deref())?;
        let policy = Arc::new(policy);
        let data = config.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|source| store::StoreError::Io {
            path: data.clone(),
            source,
        })?;

        // TLS.
        let tls_dir = data.join("tls");
        let (chain, key, officer_ca, officer_cert) = match &config.tls {
            TlsSource::Files { cert, key } => {
                (tls::read_certs(cert)?, tls::read_key(key)?, None, None)
            }
            TlsSource::Development => {
                let f = tls::dev_files(&tls_dir)?;
                (
                    tls::read_certs(&f.server_cert)?,
                    tls::read_key(&f.server_key)?,
                    Some(f.officer_ca.clone()),
                    Some((f.officer_cert.clone(), f.officer_key.clone())),
                )
            }
        };
        let officer_ca_path = match (&config.officer_ca, officer_ca) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => p,
            (None, None) => tls::dev_files(&tls_dir)?.officer_ca,
        };
        let fingerprint = chain.first().map(tls::fingerprint).unwrap_or_default();
        let tls_config = tls::server_config(chain, key, &tls::read_certs(&officer_ca_path)?)?;

        // Keys.
        let operator = load_or_make_key(&data.join("keys").join("operator.key"))?;
        let log_key = load_or_make_key(&data.join("keys").join("log.key"))?;
        let log_name = KeyName::new(&config.log_origin).map_err(|e| StartError::Key {
            path: data.join("keys").join("log.key"),
            message: format!("log_origin: {e}"),
        })?;
        let operator_public = operator.public_key();
        let mut custodians: Vec<(CustodianRole, PublicKey)> = Vec::new();
        if let Some(k) = config.agency_key {
            custodians.push((CustodianRole::Agency, k));
        }
        if let (Some(k), Some(_)) = (
            config.oversight_key,
            policy.custodian(CustodianRole::Oversight),
        ) {
            custodians.push((CustodianRole::Oversight, k));
        }

        // The writer, on its own thread, owning the database's writing connection.
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel::<Op>(config.max_batch * 4);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Ready>(1);
        let writer = {
            let (policy, clock, shared, dir, custodians) = (
                (*policy).clone(),
                clock.clone(),
                shared.clone(),
                data.clone(),
                custodians.clone(),
            );
            let max_batch = config.max_batch;
            #[cfg(feature = "dangerous-plaintext-baseline")]
            let mode = config.ingest_mode;
            let store = config.store.clone();
            let witness_policy = config
                .witnesses
                .as_ref()
                .and_then(|w| w.policy.as_ref())
                .map(|p| p.hash());
            std::thread::Builder::new()
                .name("minimis-writer".into())
                .spawn(move || {
                    match store {
                        StoreConfig::Sqlite => {
                            let made = SqliteStore::open(&dir).map_err(StartError::from).and_then(
                                |store| {
                                    #[cfg(feature = "dangerous-plaintext-baseline")]
                                    let plaintext = match mode {
                                        IngestMode::Sealed => None,
                                        IngestMode::DangerousPlaintextBaseline => {
                                            Some(store.dangerous_plaintext_baseline()?)
                                        }
                                    };
                                    // Stopped (and joined) when dropped, after the writer.
                                    let checkpointer = store.spawn_checkpointer()?;
                                    let readers = open_readers(&store)?;
                                    let mut w = Writer::new(
                                        store, log_name, &log_key, operator, policy, clock,
                                        custodians, shared,
                                    )?;
                                    if let Some(hash) = witness_policy {
                                        w.publish_witness_policy(hash)?;
                                    }
                                    #[cfg(feature = "dangerous-plaintext-baseline")]
                                    let w = match plaintext {
                                        Some(t) => w.with_dangerous_plaintext_baseline(t),
                                        None => w,
                                    };
                                    Ok((w, readers, Some(checkpointer)))
                                },
                            );
                            run_writer(made, &ready_tx, rx, max_batch);
                        }
                        StoreConfig::Postgres(url) => {
                            // The benchmark's plaintext comparator runs on SQLite only.
                            #[cfg(feature = "dangerous-plaintext-baseline")]
                            let allowed = match mode {
                                IngestMode::Sealed => Ok(()),
                                IngestMode::DangerousPlaintextBaseline => Err(StartError::Policy(
                                    "the plaintext baseline runs on SQLite only".into(),
                                )),
                            };
                            #[cfg(not(feature = "dangerous-plaintext-baseline"))]
                            let allowed: Result<(), StartError> = Ok(());
                            let made = allowed
                                .and_then(|()| Ok(store::postgres::PgStore::open(&url)?))
                                .and_then(|store| {
                                    let readers = open_readers(&store)?;
                                    let mut w = Writer::new(
                                        store, log_name, &log_key, operator, policy, clock,
                                        custodians, shared,
                                    )?;
                                    if let Some(hash) = witness_policy {
                                        w.publish_witness_policy(hash)?;
                                    }
                                    Ok((w, readers, None::<store::sqlite::Checkpointer>))
                                });
                            run_writer(made, &ready_tx, rx, max_batch);
                        }
                    }
                })
                .map_err(|source| store::StoreError::Io {
                    path: data.clone(),
                    source,
                })?
        };
        let (log_vkey, readers) = tokio::task::spawn_blocking(move || ready_rx.recv())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| StartError::Policy("the writer did not start".into()))??;

        let keys = KeysResponse {
            operator: operator_public,
            log: log_vkey.to_string(),
        };
        let layers = policy.custodians().len();
        let readers = Arc::new(Readers::new(readers));
        // The tally: the listener counts requests in it; the witness task counts its
        // failures in it (SVC-11, SVC-12).
        let request_log = RequestLog::new("operator", config.request_log_days);
        let witness = match config.witnesses {
            None => None,
            Some(set) => {
                if set
                    .policy
                    .as_ref()
                    .is_some_and(|p| !p.accepts_log(&log_vkey))
                {
                    return Err(StartError::LogNotInTlogPolicy);
                }
                let key = log_vkey.clone();
                // Resume from the size the witness last cosigned.
                let old = readers
                    .with(move |r| {
                        Ok(r.meta(writer::COSIGNED_CHECKPOINT)?
                            .and_then(|b| minimis_log::SignedCheckpoint::open(&b, &key).ok())
                            .map_or(0, |c| c.checkpoint().tree_size()))
                    })
                    .await
                    .map_err(|_| StartError::Policy("the database cannot be read".into()))?;
                let task = witness::run(
                    set,
                    readers.clone(),
                    log_vkey.clone(),
                    tx.clone(),
                    shared.clone(),
                    old,
                    request_log.clone(),
                );
                // Ask once at start, for a checkpoint signed before the witness was set.
                shared.checkpoint_changed.notify_one();
                Some(tokio::spawn(task))
            }
        };
        let state = AppState {
            tx: tx.clone(),
            shared,
            readers: readers.clone(),
            policy: policy.clone(),
            policy_text: policy_text.into(),
            clock: Arc::new(clock),
            keys: Arc::new(keys.clone()),
            bounds: CiphertextBounds::for_layers(layers),
            ingest_mode: config.ingest_mode,
            custodians: Arc::new(custodians),
            log_key: Arc::new(log_vkey.clone()),
            case_system: config.case_system_key,
        };
        let app = api::router(state);

        let tcp = listener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen {
                addr: e.addr,
                source: e.source,
            })?;
        let serving = listener::serve(
            tcp,
            Endpoint {
                tls: tls_config,
                router: app,
                limits: config.limits,
                max_body: api::MAX_BODY,
                refusals: Arc::new(error::OperatorRefusals),
                // Officers are named by their certificate; anyone else connects without one.
                identify: Arc::new(|conn: &rustls::ServerConnection| {
                    Some(Peer {
                        officer: minimis_service::tls::peer_certificate(conn)
                            .and_then(tls::officer_id),
                    })
                }),
                log: request_log,
            },
        )
        .map_err(|e| StartError::Listen {
            addr: config.listen,
            source: e.source,
        })?;
        let scheduler = auto_tick.then(|| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    every.tick().await;
                    let (rtx, rrx) = oneshot::channel();
                    if tx.send(Op::Tick(rtx)).await.is_err() {
                        break;
                    }
                    let _ = rrx.await;
                }
            })
        });
        Ok(Running {
            tx,
            serving,
            scheduler,
            witness,
            writer: Some(writer),
            readers,
            fingerprint,
            officer_cert,
            keys,
            policy,
        })
    }
}
