//! The witness on HTTPS: `minimis witness serve` (**WIT-10**).
//!
//! Plain HTTPS (TLS 1.3, no client certificate: tlog-witness authenticates a request by
//! the log's signature on its checkpoint, nothing else), on the listener every minimis
//! service shares (limits, timeouts, connection cap, JSON refusals; spec/services.md).
//! The submission and monitoring prefixes are both the root:
//!
//! ```text
//! POST /add-checkpoint                   C2SP tlog-witness
//! GET  /<origin hash>/checkpoint         the latest cosigned checkpoint (404 if none)
//! ```
//!
//! Configuration file (TOML; every key optional but `name` and a `[[log]]`):
//!
//! ```toml
//! name = "witness.example/w1"             # the witness's key name
//! listen = "127.0.0.1:7380"
//! data_dir = "minimis-witness"            # key (made on first start) and state
//! key_file = "minimis-witness/witness.key"  # default: <data_dir>/witness.key
//! tls_cert = "cert.pem"                   # both or neither; neither: a development
//! tls_key = "key.pem"                     # certificate made on first start (dev-pki)
//!
//! [[log]]
//! vkey = "log.example+abcd1234+AQ…"       # the log's Ed25519 note key; its name is the origin
//! rate = { per_minute = 120, burst = 20 } # default; `rate = "none"` is not accepted
//!
//! [limits]                                # as every service (spec/services.md)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use minimis_crypto::SigningKey;
use minimis_log::{KeyName, VerifierKey};
use minimis_service::limits::RawLimits;
use minimis_service::listener::{self, Endpoint};
use minimis_service::refusal::{Refusals, Transport, respond, verbatim};
use minimis_service::{Clock, Limits, RequestLog, Serving};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::protocol::{AddCheckpointError, SIZE_CONTENT_TYPE};
use crate::rate::Rate;
use crate::witness::{KnownLog, OpenWitnessError, TlogWitness};

/// The largest request body taken: a checkpoint note with a few signatures and 63 proof
/// lines fit many times over.
pub const MAX_BODY: usize = 64 * 1024;

/// The state the routes share.
#[derive(Clone)]
struct App {
    witness: Arc<TlogWitness>,
    clock: Arc<dyn Clock>,
}

/// The witness's response to an `add-checkpoint` outcome: `200` with the cosignature
/// lines, `409` with the size as `text/x.tlog.size`, `429` with `Retry-After`, else a JSON
/// refusal with the status tlog-witness gives it.
pub fn add_checkpoint_response(outcome: Result<String, AddCheckpointError>) -> Response {
    match outcome {
        Ok(lines) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        Err(e) => {
            if let Some(body) = e.size_body() {
                return verbatim(
                    (
                        StatusCode::CONFLICT,
                        [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                        body,
                    )
                        .into_response(),
                );
            }
            let mut r = respond(e.status(), e.code(), &e.to_string());
            if let AddCheckpointError::RateLimited { retry_after } = e
                && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn add_checkpoint(State(app): State<App>, body: Bytes) -> Response {
    let now = app.clock.now();
    let w = app.witness.clone();
    // The state is written (and synced) before the answer: off the async threads.
    let outcome =
        tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now, Instant::now())).await;
    match outcome {
        Ok(o) => add_checkpoint_response(o),
        Err(_) => WitnessRefusals.refuse(&Transport::Fault { status: 503 }),
    }
}

async fn checkpoint(State(app): State<App>, UrlPath(hash): UrlPath<String>) -> Response {
    match app.witness.checkpoint(&hash) {
        Some(note) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            note,
        )
            .into_response(),
        None => respond(
            404,
            "no_checkpoint",
            "this witness never cosigned a checkpoint of that log",
        ),
    }
}

/// The witness's routes.
pub fn router(witness: Arc<TlogWitness>, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .with_state(App { witness, clock })
}

/// The witness's codes for the transport's refusals (**SVC-8**).
#[derive(Clone, Copy, Debug, Default)]
pub struct WitnessRefusals;

impl Refusals for WitnessRefusals {
    fn refuse(&self, t: &Transport) -> Response {
        let code = match t {
            Transport::NotFound => "not_found",
            Transport::MethodNotAllowed => "method_not_allowed",
            Transport::Malformed { .. } => "request_malformed",
            Transport::BodyTooLarge { .. } => "body_too_large",
            Transport::BodyTimeout => "request_timeout",
            Transport::Fault { status: 503 } => "service_unavailable",
            _ => "internal_error",
        };
        let status = match t {
            Transport::Fault { status: 503 } => 503,
            Transport::Fault { .. } => 500,
            other => other.status(),
        };
        respond(status, code, &t.message())
    }
}

/// Why `minimis witness serve` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file could not be read or parsed, or a value is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The key file.
    #[error("witness key {path}: {what}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The state.
    #[error(transparent)]
    Open(#[from] OpenWitnessError),
    /// TLS.
    #[error(transparent)]
    Tls(#[from] minimis_service::tls::TlsError),
    /// The listening socket.
    #[error(transparent)]
    Listen(#[from] minimis_service::ListenError),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    key_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    log: Vec<RawLog>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    vkey: String,
    rate: Option<Rate>,
}

/// The witness's configuration: the file, then the flags over it.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// The witness's key name.
    pub name: KeyName,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The key (unless `key_file`) and the state.
    pub data_dir: PathBuf,
    /// The signing key's file: the 32-byte Ed25519 seed in base64, made on first start.
    pub key_file: PathBuf,
    /// The TLS certificate chain and key (PEM); `None`: a development certificate.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The logs.
    pub logs: Vec<KnownLog>,
    /// The listener's limits.
    pub limits: Limits,
}

/// What the command line gives over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--name`.
    pub name: Option<String>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log VKEY`, each with the default rate (added to the file's).
    pub logs: Vec<String>,
}

impl WitnessConfig {
    /// The configuration from `file` (if any) and `over`.
    ///
    /// # Errors
    /// [`ServeError::Config`].
    pub fn load(file: Option<&Path>, over: Overrides) -> Result<Self, ServeError> {
        let raw: RawConfig = match file {
            None => RawConfig::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ServeError::Config(format!("{}: {e}", p.display())))?;
                toml::from_str(&text)
                    .map_err(|e| ServeError::Config(format!("{}: {e}", p.display())))?
            }
        };
        let name = over
            .name
            .or(raw.name)
            .ok_or_else(|| ServeError::Config("the witness needs a name (--name)".into()))?;
        let name =
            KeyName::new(&name).map_err(|e| ServeError::Config(format!("name {name:?}: {e}")))?;
        let data_dir = over
            .data_dir
            .or(raw.data_dir)
            .unwrap_or_else(|| PathBuf::from("minimis-witness"));
        let key_file = raw.key_file.unwrap_or_else(|| data_dir.join("witness.key"));
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(ServeError::Config(
                    "tls_cert and tls_key go together".into(),
                ));
            }
        };
        let mut logs = Vec::new();
        let default_rate = Rate::default();
        let parse = |v: &str| -> Result<VerifierKey, ServeError> {
            v.parse()
                .map_err(|e| ServeError::Config(format!("log vkey {v:?}: {e}")))
        };
        for l in raw.log {
            logs.push(KnownLog {
                key: parse(&l.vkey)?,
                rate: Some(l.rate.unwrap_or(default_rate)),
            });
        }
        for v in over.logs {
            logs.push(KnownLog {
                key: parse(&v)?,
                rate: Some(default_rate),
            });
        }
        if logs.is_empty() {
            return Err(ServeError::Config(
                "no log to witness: add a [[log]] or --log VKEY".into(),
            ));
        }
        let limits = raw
            .limits
            .resolve()
            .map_err(|e| ServeError::Config(e.to_string()))?;
        Ok(Self {
            name,
            listen: over
                .listen
                .or(raw.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7380))),
            data_dir,
            key_file,
            tls,
            logs,
            limits,
        })
    }
}

/// Reads the witness's signing key from `path`, or makes one there (private to its
/// owner) if there is none.
///
/// # Errors
/// [`ServeError::Key`].
pub fn load_or_make_key(path: &Path) -> Result<SigningKey, ServeError> {
    use base64::Engine as _;
    let err = |what: String| ServeError::Key {
        path: path.to_owned(),
        what,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let seed = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| err("not base64".into()))?,
            );
            SigningKey::from_seed(&seed).map_err(|e| err(e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate().map_err(|e| err(e.to_string()))?;
            let text = Zeroizing::new(format!(
                "{}\n",
                base64::engine::general_purpose::STANDARD.encode(key.expose_seed())
            ));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                minimis_service::files::make_private_dir(dir).map_err(|e| err(e.to_string()))?;
            }
            minimis_service::files::write_atomic(path, text.as_bytes(), true)
                .map_err(|e| err(e.to_string()))?;
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// A running witness.
#[derive(Debug)]
pub struct RunningWitness {
    /// The listener.
    pub serving: Serving,
    /// The witness.
    pub witness: Arc<TlogWitness>,
    /// The certificate clients should trust, when it is a development one (PEM).
    pub dev_cert: Option<String>,
}

/// Opens the witness and serves it on HTTPS.
///
/// # Errors
/// [`ServeError`].
pub async fn serve(
    config: WitnessConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningWitness, ServeError> {
    let key = load_or_make_key(&config.key_file)?;
    let witness = Arc::new(TlogWitness::open(
        &config.data_dir.join("state"),
        config.name.clone(),
        key,
        config.logs.clone(),
    )?);
    let (chain, tls_key, dev_cert) = match &config.tls {
        Some((c, k)) => (
            minimis_service::tls::read_certs(c)?,
            minimis_service::tls::read_key(k)?,
            None,
        ),
        None => dev_tls(&config.data_dir)?,
    };
    let tls = minimis_service::tls::server_config(
        chain,
        tls_key,
        &[],
        minimis_service::tls::ClientAuth::Optional,
    )?;
    let tcp = listener::bind(config.listen).await?;
    let serving = listener::serve(
        tcp,
        Endpoint {
            tls,
            router: router(witness.clone(), clock),
            limits: config.limits,
            max_body: MAX_BODY,
            refusals: Arc::new(WitnessRefusals),
            // No client certificate is asked for: every connection is served.
            identify: Arc::new(|_: &rustls::ServerConnection| Some(())),
            log: RequestLog::new("witness", 1),
        },
    )?;
    Ok(RunningWitness {
        serving,
        witness,
        dev_cert,
    })
}

type DevTls = (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
    Option<String>,
);

#[cfg(feature = "dev-pki")]
fn dev_tls(data_dir: &Path) -> Result<DevTls, ServeError> {
    use minimis_service::files::write_atomic;
    let cert = data_dir.join("dev-tls-cert.pem");
    let key = data_dir.join("dev-tls-key.pem");
    if !cert.exists() || !key.exists() {
        let pair = minimis_service::dev_pki::self_signed_server("localhost")?;
        minimis_service::files::make_private_dir(data_dir)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        write_atomic(&key, pair.key.as_bytes(), true)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        write_atomic(&cert, pair.cert.as_bytes(), false)
            .map_err(|e| ServeError::Config(e.to_string()))?;
    }
    let pem = std::fs::read_to_string(&cert).map_err(|e| ServeError::Config(e.to_string()))?;
    Ok((
        minimis_service::tls::read_certs(&cert)?,
        minimis_service::tls::read_key(&key)?,
        Some(pem),
    ))
}

#[cfg(not(feature = "dev-pki"))]
fn dev_tls(_: &Path) -> Result<DevTls, ServeError> {
    Err(ServeError::Config(
        "no tls_cert and tls_key, and this build makes no development certificate (SVC-15)".into(),
    ))
}
