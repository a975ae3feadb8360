//! Configuration: a TOML file, overridden by command-line flags, with defaults that make
//! `minimis serve` work out of the box. Every key, its type, default and meaning:
//! `spec/configuration.md` (kept in step with this parser by the test `cfg_2_…`).
//!
//! ```toml
//! data_dir = "minimis-data"              # SQLite database, keys, development certificates
//! store = "sqlite"                       # or postgres://user@host:port/dbname (no password:
//!                                        # PGPASSWORD from the environment, CFG-3)
//! listen = "127.0.0.1:8443"
//! log_origin = "localhost/minimis-log"   # the log's name in its checkpoints
//! policy = "policy/default.toml"         # omitted: the embedded reference policy
//!
//! [tls]                                  # omitted: a self-signed development certificate
//! cert = "server.crt"                    # PEM chain
//! key = "server.key"                     # PEM PKCS#8 key
//! officer_ca = "officers-ca.crt"         # PEM CA that issues officers' client certificates
//!
//! [custodians]                           # the custodians' Ed25519 keys (base64)
//! agency = "…"
//! oversight = "…"
//!
//! [case_system]                        # omitted: no case-system route answers
//! key = "…"                              # the agency case system's request key (base64)
//!
//! [ingest]
//! max_batch = 4096                       # most check-ins committed together
//!
//! [witness]                              # the oversight custodian's witness (one of the set)
//! addr = "127.0.0.1:8445"                # its witness endpoint
//! server_name = "oversight.example"      # the name its TLS certificate is for
//! ca = "oversight-ca.crt"                # PEM certificates to trust for it
//! client_cert = "operator-client.crt"    # the operator's client certificate (PEM)
//! client_key = "operator-client.key"     # its key (PEM PKCS#8)
//! vkey = "oversight+1234abcd+B…"         # the witness's C2SP verifier key
//! # prefix = "/witness"                  # its submission prefix (the default here)
//!
//! [[witnesses]]                          # more witnesses (`minimis witness serve`, public ones)
//! addr = "127.0.0.1:7380"
//! server_name = "witness1.example"
//! ca = "witness1-ca.crt"                 # no client_cert/client_key: plain HTTPS
//! vkey = "witness1.example+89abcdef+B…"
//! # prefix = ""                          # the default for [[witnesses]]
//!
//! witness_quorum = 2                     # a top-level key: cosignatures needed before a
//!                                        # checkpoint is published (default: every witness)
//! # tlog_policy = "witnesses.policy"     # instead of witness_quorum: a C2SP tlog-policy
//!                                        # file whose quorum decides (LOG-66); its hash is
//!                                        # logged (entry 0x0f, LOG-65)
//!
//! [limits]                               # every listener's limits (spec/services.md)
//! handshake_timeout_seconds = 10
//! header_timeout_seconds = 10
//! body_timeout_seconds = 30
//! idle_timeout_seconds = 30
//! max_connections = 512
//!
//! [request_log]                          # the request tally, the only request log
//! period_days = 1                        # written once per period (1 to 31 days)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use minimis_proto::PublicKey;
use minimis_service::limits::{Limits, LimitsError, RawLimits};
use minimis_service::request_log::{PeriodError, RawRequestLog};
use serde::Deserialize;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a wrong type.
    #[error("configuration is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// A custodian key that is not 32 bytes of base64.
    #[error("custodians.{role} must be a base64 Ed25519 public key (32 bytes)")]
    BadCustodianKey {
        /// Which custodian.
        role: &'static str,
    },
    /// A case-system key that is not 32 bytes of base64.
    #[error("case_system.key must be a base64 Ed25519 public key (32 bytes)")]
    BadCaseSystemKey,
    /// Only one of `tls.cert` and `tls.key`.
    #[error("tls.cert and tls.key must be given together")]
    HalfTls,
    /// Only one of a witness's `client_cert` and `client_key`.
    #[error("a witness's client_cert and client_key must be given together")]
    HalfWitnessClient,
    /// A witness verifier key that is not a C2SP vkey.
    #[error("witness.vkey is not a signed-note verifier key: {0}")]
    BadWitnessKey(String),
    /// A limit out of its range.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// The request tally's period out of its range.
    #[error(transparent)]
    RequestLog(#[from] PeriodError),
    /// A `store` that is neither `sqlite` nor a PostgreSQL URL.
    #[error("store must be \"sqlite\" or a postgres:// URL")]
    BadStore,
    /// A `store` URL with a password in it: a configuration file holds no secret (CFG-3).
    #[error("store must not hold a password (CFG-3): give it in the environment as PGPASSWORD")]
    StorePassword,
    /// The tlog-policy file does not parse (LOG-63).
    #[error("tlog_policy: {0}")]
    TlogPolicy(#[from] minimis_log::TlogPolicyError),
    /// A tlog-policy and `witness_quorum` both, or a tlog-policy and no witness.
    #[error(
        "tlog_policy needs at least one witness, and replaces witness_quorum (give one or the other)"
    )]
    TlogPolicyUse,
    /// A configured witness whose key the tlog-policy does not list (LOG-66).
    #[error("the witness {vkey} is not in tlog_policy")]
    WitnessNotInPolicy {
        /// The witness's vkey.
        vkey: String,
    },
    /// The configured witnesses cannot reach the tlog-policy's quorum even all together
    /// (LOG-66): no checkpoint would ever be published.
    #[error("all the configured witnesses together do not reach tlog_policy's quorum")]
    QuorumUnreachable,
    /// A value out of range.
    #[error("{key} = {value} is out of range {min}..={max}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    store: Option<String>,
    listen: Option<SocketAddr>,
    log_origin: Option<String>,
    policy: Option<PathBuf>,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    custodians: RawCustodians,
    case_system: Option<RawCaseSystem>,
    #[serde(default)]
    ingest: RawIngest,
    witness: Option<RawWitness>,
    #[serde(default)]
    witnesses: Vec<RawWitness>,
    witness_quorum: Option<u64>,
    tlog_policy: Option<PathBuf>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    request_log: RawRequestLog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitness {
    addr: SocketAddr,
    server_name: String,
    ca: PathBuf,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    vkey: String,
    prefix: Option<String>,
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    officer_ca: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCustodians {
    agency: Option<String>,
    oversight: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaseSystem {
    key: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    max_batch: Option<u64>,
}

/// Where the server's TLS certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// A self-signed development certificate, made on first start in the data
    /// directory and printed with its fingerprint.
    Development,
    /// A certificate chain and key from PEM files (production).
    Files {
        /// The chain.
        cert: PathBuf,
        /// The PKCS#8 key.
        key: PathBuf,
    },
}

/// What the server does with a check-in.
///
/// [`IngestMode::Sealed`] is minimis, the default and, in a production build, the only
/// mode. The other mode exists only so that `minimis bench ingest` can measure, in the
/// same run, what the same job costs when done the way a conventional vendor does it: it
/// is compiled only with the `dangerous-plaintext-baseline` feature, which only the
/// benchmark enables and the operator's binary cannot (**SEAL-26**), and it can be chosen
/// only in code, never with a flag of `minimis serve` or `minimis-operator` nor in a
/// configuration file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IngestMode {
    /// minimis: sealed check-ins, the device signature verified, the ledger row set, the
    /// record stored and its entry logged, one signed checkpoint per batch, a receipt.
    #[default]
    Sealed,
    /// **A benchmark comparator, never for real participants.** `POST /v1/checkins` takes
    /// the check-in's 512-byte payload *in the clear* (`{"pseudonym", "challenge_id",
    /// "payload"}`), checks the participant and the challenge as [`IngestMode::Sealed`]
    /// does, sets the ledger row and stores the payload readable by the operator, with the
    /// same single writer, group commit and WAL sync, but no device signature, no log,
    /// no checkpoint and no receipt. Everything else (enrollment, challenges, the log of
    /// those) is unchanged.
    #[cfg(feature = "dangerous-plaintext-baseline")]
    DangerousPlaintextBaseline,
}

/// Which database the operator's store is (spec/storage.md).
#[derive(Clone, Debug, Default)]
pub enum StoreConfig {
    /// SQLite, one file in the data directory: the embedded default.
    #[default]
    Sqlite,
    /// PostgreSQL (**STO-11**). Its `Debug` shows no password.
    Postgres(crate::store::postgres::PgUrl),
}

impl StoreConfig {
    /// Reads `sqlite` or a PostgreSQL URL, which must hold no password: a configuration
    /// file holds no secret (CFG-3), and a flag's value is visible to every user of the
    /// machine. The password, if the database needs one, is `PGPASSWORD`'s.
    ///
    /// # Errors
    /// [`ConfigError::BadStore`], [`ConfigError::StorePassword`].
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        if s == "sqlite" {
            return Ok(Self::Sqlite);
        }
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Err(ConfigError::BadStore);
        }
        let url = crate::store::postgres::PgUrl::parse(s).map_err(|_| ConfigError::BadStore)?;
        if !url.has_host() {
            return Err(ConfigError::BadStore);
        }
        if url.has_password() {
            return Err(ConfigError::StorePassword);
        }
        Ok(Self::Postgres(url))
    }
}

/// The server's configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The store: SQLite in the data directory, or PostgreSQL.
    pub store: StoreConfig,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The log's origin (its name in checkpoints).
    pub log_origin: String,
    /// A policy file; `None` for the embedded reference policy.
    pub policy: Option<PathBuf>,
    /// The server certificate.
    pub tls: TlsSource,
    /// The CA for officers' client certificates; `None`: a development CA made in the
    /// data directory, with one officer certificate beside it.
    pub officer_ca: Option<PathBuf>,
    /// The agency custodian's Ed25519 key, which signs its epoch recipients.
    pub agency_key: Option<PublicKey>,
    /// The oversight custodian's key.
    pub oversight_key: Option<PublicKey>,
    /// The agency case system's request key (spec/obligations.md, **OBL-5**): it alone
    /// fetches condition results and filings and acknowledges filings. `None`: those
    /// routes refuse everyone (`case_system_required`).
    pub case_system_key: Option<PublicKey>,
    /// The most check-ins committed in one batch.
    pub max_batch: usize,
    /// What a check-in is: sealed (minimis, the default) or the plaintext benchmark
    /// comparator. Not settable from the configuration file.
    pub ingest_mode: IngestMode,
    /// The witnesses that cosign the log's checkpoints and their quorum (**LOG-61**);
    /// `None`: checkpoints stay uncosigned and receipts say so (CHK-31).
    pub witnesses: Option<crate::WitnessSet>,
    /// The listener's timeouts and connection cap (**SVC-1** to **SVC-7**).
    pub limits: Limits,
    /// The request tally's period, in whole UTC days (**SVC-11**).
    pub request_log_days: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("minimis-data"),
            store: StoreConfig::Sqlite,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            log_origin: "localhost/minimis-log".to_owned(),
            policy: None,
            tls: TlsSource::Development,
            officer_ca: None,
            agency_key: None,
            oversight_key: None,
            case_system_key: None,
            max_batch: 4096,
            ingest_mode: IngestMode::Sealed,
            witnesses: None,
            limits: Limits::default(),
            request_log_days: minimis_service::request_log::DEFAULT_PERIOD_DAYS,
        }
    }
}

fn key(role: &'static str, b64: Option<String>) -> Result<Option<PublicKey>, ConfigError> {
    use base64::Engine as _;
    let Some(b64) = b64 else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ConfigError::BadCustodianKey { role })?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ConfigError::BadCustodianKey { role })?;
    Ok(Some(PublicKey(arr)))
}

impl ServerConfig {
    /// Reads a TOML configuration; keys not given keep their defaults.
    ///
    /// # Errors
    /// A [`ConfigError`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let d = Self::default();
        let tls = match (raw.tls.cert, raw.tls.key) {
            (Some(cert), Some(key)) => TlsSource::Files { cert, key },
            (None, None) => TlsSource::Development,
            _ => return Err(ConfigError::HalfTls),
        };
        let max_batch = raw.ingest.max_batch.unwrap_or(d.max_batch as u64);
        if !(1..=65_536).contains(&max_batch) {
            return Err(ConfigError::OutOfRange {
                key: "ingest.max_batch",
                value: max_batch,
                min: 1,
                max: 65_536,
            });
        }
        let mut links = Vec::new();
        for (w, default_prefix) in raw
            .witness
            .into_iter()
            .map(|w| (w, "/witness"))
            .chain(raw.witnesses.into_iter().map(|w| (w, "")))
        {
            let client = match (w.client_cert, w.client_key) {
                (Some(c), Some(k)) => {
                    Some((read_text(&c)?, zeroize::Zeroizing::new(read_text(&k)?)))
                }
                (None, None) => None,
                _ => return Err(ConfigError::HalfWitnessClient),
            };
            links.push(crate::WitnessLink {
                addr: w.addr,
                server_name: w.server_name,
                roots_pem: read_text(&w.ca)?,
                client,
                prefix: w.prefix.unwrap_or_else(|| default_prefix.to_owned()),
                vkey: w
                    .vkey
                    .trim()
                    .parse()
                    .map_err(|e: minimis_log::note::VerifierKeyError| {
                        ConfigError::BadWitnessKey(e.to_string())
                    })?,
            });
        }
        let tlog_policy = match &raw.tlog_policy {
            None => None,
            Some(path) => {
                if links.is_empty() || raw.witness_quorum.is_some() {
                    return Err(ConfigError::TlogPolicyUse);
                }
                let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let policy = minimis_log::TlogPolicy::parse(&bytes)?;
                let mut marks = vec![false; policy.witnesses().len()];
                for l in &links {
                    let i = policy
                        .witnesses()
                        .iter()
                        .position(|w| w.key == l.vkey)
                        .ok_or_else(|| ConfigError::WitnessNotInPolicy {
                            vkey: l.vkey.to_string(),
                        })?;
                    marks[i] = true;
                }
                if !policy.satisfied_by(&marks) {
                    return Err(ConfigError::QuorumUnreachable);
                }
                Some(std::sync::Arc::new(policy))
            }
        };
        let witnesses = if links.is_empty() {
            None
        } else {
            let n = links.len() as u64;
            let quorum = raw.witness_quorum.unwrap_or(n);
            if !(1..=n).contains(&quorum) {
                return Err(ConfigError::OutOfRange {
                    key: "witness_quorum",
                    value: quorum,
                    min: 1,
                    max: n,
                });
            }
            Some(crate::WitnessSet {
                witnesses: links,
                quorum: quorum as usize,
                policy: tlog_policy,
            })
        };
        Ok(Self {
            data_dir: raw.data_dir.unwrap_or(d.data_dir),
            store: match raw.store {
                None => StoreConfig::Sqlite,
                Some(s) => StoreConfig::parse(&s)?,
            },
            listen: raw.listen.unwrap_or(d.listen),
            log_origin: raw.log_origin.unwrap_or(d.log_origin),
            policy: raw.policy,
            tls,
            officer_ca: raw.tls.officer_ca,
            agency_key: key("agency", raw.custodians.agency)?,
            oversight_key: key("oversight", raw.custodians.oversight)?,
            case_system_key: match raw.case_system {
                None => None,
                Some(c) => Some(
                    key("case_system", Some(c.key)).map_err(|_| ConfigError::BadCaseSystemKey)?,
                )
                .flatten(),
            },
            max_batch: max_batch as usize,
            ingest_mode: IngestMode::Sealed,
            witnesses,
            limits: raw.limits.resolve()?,
            request_log_days: raw.request_log.period_days()?,
        })
    }

    /// Reads a TOML configuration file.
    ///
    /// # Errors
    /// A [`ConfigError`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator with a tlog-policy (LOG-66): its quorum decides; a witness not in
    /// it, a policy beside `witness_quorum`, or witnesses that cannot reach the quorum
    /// together are refused when the configuration is read.
    #[test]
    fn log_66_the_tlog_policy_decides_the_quorum_and_a_wrong_set_is_refused() {
        use minimis_log::{Cosigner, KeyName};
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "").unwrap();
        let cosigner = |i: u8| {
            Cosigner::new(
                KeyName::new(&format!("witness{i}.example")).unwrap(),
                minimis_crypto::SigningKey::from_seed(&[0x30 + i; 32]).unwrap(),
            )
            .verifier_key()
        };
        let (a, b, c) = (cosigner(1), cosigner(2), cosigner(3));
        let policy = dir.path().join("witnesses.policy");
        std::fs::write(
            &policy,
            format!("witness a {a}\nwitness b {b}\nwitness c {c}\ngroup g 2 a b c\nquorum g\n"),
        )
        .unwrap();
        let config = |keys: &[&minimis_log::VerifierKey], extra: &str| {
            let mut t = format!("tlog_policy = {:?}\n{extra}", policy.display().to_string());
            for (i, k) in keys.iter().enumerate() {
                t.push_str(&format!(
                    "[[witnesses]]\naddr = \"127.0.0.1:{}\"\nserver_name = \"w\"\nca = {:?}\nvkey = \"{k}\"\n",
                    7000 + i,
                    ca.display().to_string()
                ));
            }
            ServerConfig::from_toml_str(&t)
        };
        let set = config(&[&a, &b], "").unwrap().witnesses.unwrap();
        assert!(!set.reached(&[&a]));
        assert!(set.reached(&[&a, &b]));
        assert!(
            !set.reached(&[&a, &cosigner(9)]),
            "a stranger does not count"
        );
        assert!(matches!(
            config(&[&a, &cosigner(9)], ""),
            Err(ConfigError::WitnessNotInPolicy { .. })
        ));
        assert!(matches!(
            config(&[&a], ""),
            Err(ConfigError::QuorumUnreachable)
        ));
        assert!(matches!(
            config(&[&a, &b], "witness_quorum = 1\n"),
            Err(ConfigError::TlogPolicyUse)
        ));
        assert!(matches!(config(&[], ""), Err(ConfigError::TlogPolicyUse)));
        std::fs::write(&policy, "quorum\n").unwrap();
        assert!(matches!(
            config(&[&a, &b], ""),
            Err(ConfigError::TlogPolicy(_))
        ));
    }

    #[test]
    fn defaults_work_out_of_the_box() {
        let c = ServerConfig::from_toml_str("").unwrap();
        assert_eq!(c.tls, TlsSource::Development);
        assert_eq!(c.listen.port(), 8443);
        assert!(c.agency_key.is_none());
    }

    #[test]
    fn unknown_keys_and_half_tls_are_refused() {
        assert!(matches!(
            ServerConfig::from_toml_str("log_ip_addresses = true"),
            Err(ConfigError::Toml(_))
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("[tls]\ncert = \"a.pem\""),
            Err(ConfigError::HalfTls)
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("[custodians]\nagency = \"AAAA\""),
            Err(ConfigError::BadCustodianKey { role: "agency" })
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("[case_system]\nkey = \"AAAA\""),
            Err(ConfigError::BadCaseSystemKey)
        ));
        let c = ServerConfig::from_toml_str(&format!(
            "[case_system]\nkey = \"{}\"",
            "A".repeat(43) + "="
        ))
        .unwrap();
        assert_eq!(c.case_system_key, Some(PublicKey([0; 32])));
        assert!(matches!(
            ServerConfig::from_toml_str("[ingest]\nmax_batch = 0"),
            Err(ConfigError::OutOfRange { .. })
        ));
    }

    #[test]
    fn svc_7_the_limits_and_the_tally_period_are_read_from_the_file() {
        let c = ServerConfig::from_toml_str(
            "[limits]\nidle_timeout_seconds = 5\nmax_connections = 64\n[request_log]\nperiod_days = 7\n",
        )
        .unwrap();
        assert_eq!(c.limits.idle_timeout, std::time::Duration::from_secs(5));
        assert_eq!(c.limits.max_connections, 64);
        assert_eq!(c.limits.header_timeout, Limits::default().header_timeout);
        assert_eq!(c.request_log_days, 7);
        assert_eq!(ServerConfig::default().limits, Limits::default());
        assert!(matches!(
            ServerConfig::from_toml_str("[limits]\nmax_connections = 0"),
            Err(ConfigError::Limits(_))
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("[request_log]\nperiod_days = 0"),
            Err(ConfigError::RequestLog(_))
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("[request_log]\nper_request = true"),
            Err(ConfigError::Toml(_))
        ));
    }

    #[test]
    fn the_plaintext_baseline_is_never_the_default_nor_in_a_file() {
        assert_eq!(ServerConfig::default().ingest_mode, IngestMode::Sealed);
        assert_eq!(
            ServerConfig::from_toml_str("").unwrap().ingest_mode,
            IngestMode::Sealed
        );
        for text in [
            "ingest_mode = \"plaintext\"",
            "[ingest]\nmode = \"plaintext\"",
            "[ingest]\nbaseline = true",
        ] {
            assert!(
                matches!(ServerConfig::from_toml_str(text), Err(ConfigError::Toml(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn sto_11_cfg_3_the_store_is_sqlite_or_a_postgres_url_with_no_password() {
        assert!(matches!(
            ServerConfig::from_toml_str("").unwrap().store,
            StoreConfig::Sqlite
        ));
        assert!(matches!(
            ServerConfig::from_toml_str("store = \"sqlite\"")
                .unwrap()
                .store,
            StoreConfig::Sqlite
        ));
        let c = ServerConfig::from_toml_str("store = \"postgres://minimis@db.example:5433/ops\"")
            .unwrap();
        let StoreConfig::Postgres(url) = &c.store else {
            panic!("{:?}", c.store)
        };
        assert_eq!(url.redacted(), "postgres://minimis@db.example:5433/ops");
        for bad in ["mysql://x@y/z", "postgres://", "sqlite3", ""] {
            assert!(
                matches!(
                    ServerConfig::from_toml_str(&format!("store = \"{bad}\"")),
                    Err(ConfigError::BadStore)
                ),
                "{bad}"
            );
        }
        for secret in [
            "postgres://minimis:hunter2@db.example/ops",
            "postgresql://minimis:hunter2@db.example/ops",
        ] {
            let e = ServerConfig::from_toml_str(&format!("store = \"{secret}\"")).unwrap_err();
            assert!(matches!(e, ConfigError::StorePassword), "{e}");
            assert!(!e.to_string().contains("hunter2"));
        }
        // The flag's value is refused the same way, and Debug never shows a password.
        assert!(matches!(
            StoreConfig::parse("postgres://u:hunter2@h/d"),
            Err(ConfigError::StorePassword)
        ));
        let shown = format!("{:?}", c.store);
        assert!(
            shown.contains("db.example") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
