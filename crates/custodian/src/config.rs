//! A custodian's configuration: a TOML file (`minimis custodian serve --config FILE`).
//! Every key, its type, default and meaning: `spec/configuration.md` (kept in step with
//! this parser by the test `cfg_2_…`).
//!
//! ```toml
//! role = "agency"                        # or "oversight"
//! data_dir = "custodian-data"            # keystore, holds, case book, witness state
//! listen = "127.0.0.1:8444"
//! policy = "policy/default.toml"         # omitted: the embedded reference policy
//! tick_seconds = 60                      # how often the schedule runs (1 to 60)
//! caseload = "caseload.toml"             # agency: officers' caseloads (pseudonyms)
//! witness_name = "oversight.example/witness"   # oversight: the witness's key name
//!
//! [keystore]
//! # Production: keys in a PKCS#11 token (an HSM), as an RFC 7512 URI (see
//! # `keystore::TokenConfig::from_uri`); the PIN from a file or an environment variable.
//! pkcs11 = "pkcs11:token=minimis-agency?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:MINIMIS_TOKEN_PIN"
//! # Development (file mode), instead: exactly one of the three secrets.
//! # key_file = "/run/credentials/custodian.key"   # never inside data_dir (refused)
//! # passphrase_file = "/run/credentials/passphrase"
//! # passphrase_env = "MINIMIS_CUSTODIAN_PASSPHRASE"
//! # scrypt_log_n = 18                    # scrypt work factor of a new keystore, 15..=22
//! # dangerous_key_file_in_data_dir = true   # allow a key file inside data_dir: then any
//! #                                      # copy of data_dir opens every key it holds
//!
//! [tls]                                  # omitted: a development PKI in data_dir/tls
//! cert = "custodian.crt"                 # this service's certificate chain (PEM)
//! key = "custodian.key"
//! officer_ca = "officers-ca.crt"         # agency: the CA of officers' certificates
//! operator_ca = "operator-ca.crt"        # oversight: the CA of the operator's client cert
//! agency_ca = "agency-ca.crt"            # oversight: the CA of the agency custodian's cert
//!
//! [operator]                             # the operator's server
//! address = "127.0.0.1:8443"
//! server_name = "localhost"
//! ca = "operator-server.crt"             # roots for its server certificate (PEM)
//! log_key = "localhost/minimis-log+…"    # pin the log's key (else taken on first start)
//! witnesses = ["oversight.minimis/witness+…"]  # cosignatures every proof must carry
//!
//! [oversight]                            # agency, with two custodians: the oversight custodian
//! address = "127.0.0.1:8445"
//! server_name = "localhost"
//! ca = "oversight-server.crt"
//! client_cert = "agency-client.crt"      # issued by the oversight custodian's agency_ca
//! client_key = "agency-client.key"
//!
//! [limits]                               # the listener's limits (spec/services.md, SVC-7)
//! idle_timeout_seconds = 30              # also handshake_, header_, body_timeout_seconds,
//! max_connections = 512                  # as minimis_service::limits documents
//!
//! [request_log]                          # the request tally, the only request log
//! period_days = 1
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use minimis_proto::CustodianRole;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::keystore::{
    KeystoreError, KeystoreSecret, Protection, TokenConfig, TokenError, WorkFactor,
};

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
    /// Not exactly one keystore secret.
    #[error("[keystore] needs exactly one of pkcs11, key_file, passphrase_file, passphrase_env")]
    Secret,
    /// A `pkcs11:` URI that does not parse.
    #[error("[keystore] pkcs11: {0}")]
    Token(#[from] TokenError),
    /// An scrypt work factor below the floor or above the maximum (**RET-38**).
    #[error("[keystore] scrypt_log_n: {0}")]
    WorkFactor(KeystoreError),
    /// The key file is inside the data directory (**RET-36**): a copy of the data
    /// directory would then hold every key and the secret that opens them.
    #[error(
        "the keystore key file {key_file} is inside the data directory {data_dir}: any copy of the data directory (a backup) would open every key it holds. Keep the key file on other storage, or use a PKCS#11 token; --dangerous-key-file-in-data-dir (dangerous_key_file_in_data_dir = true) allows it for development"
    )]
    KeyFileInDataDir {
        /// The key file.
        key_file: PathBuf,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The passphrase's environment variable is not set.
    #[error("the environment variable {0} (the keystore passphrase) is not set")]
    PassphraseEnv(String),
    /// The key file could not be made.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// Only part of the `[tls]` files.
    #[error("[tls] needs cert and key together, and the client CAs of the role")]
    HalfTls,
    /// A limit out of its range.
    #[error(transparent)]
    Limits(#[from] minimis_service::LimitsError),
    /// The request tally's period out of its range.
    #[error(transparent)]
    RequestLog(#[from] minimis_service::request_log::PeriodError),
    /// `tick_seconds` out of 1 to 60 (**CFG-4**).
    #[error(
        "tick_seconds = {0} is out of range 1..=60: keys are destroyed at each tick, at most a minute late"
    )]
    TickSeconds(u64),
}

/// Where the keystore secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretSource {
    /// A key file (random bytes), on other storage than the keystore.
    KeyFile(PathBuf),
    /// A file holding the passphrase.
    PassphraseFile(PathBuf),
    /// An environment variable holding the passphrase.
    PassphraseEnv(String),
}

/// Where the service's TLS certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsSource {
    /// A development PKI made on first start in `data_dir/tls`: a CA, this service's
    /// certificate, the client CAs of the role and one client certificate per class.
    Development,
    /// PEM files.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
        /// Officers' CA (agency custodian).
        officer_ca: Option<PathBuf>,
        /// The operator's CA (oversight custodian: the witness's caller).
        operator_ca: Option<PathBuf>,
        /// The agency custodian's CA (oversight custodian).
        agency_ca: Option<PathBuf>,
    },
}

/// An HTTPS endpoint this custodian calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its address.
    pub address: SocketAddr,
    /// The name its certificate is checked against.
    pub server_name: String,
    /// The roots its certificate is checked against (PEM).
    pub ca: PathBuf,
    /// This custodian's client certificate and key (PEM), if the endpoint asks for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A custodian's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustodianConfig {
    /// Agency or oversight.
    pub role: CustodianRole,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where the service listens.
    pub listen: SocketAddr,
    /// The policy file; `None` for the embedded reference policy.
    pub policy: Option<PathBuf>,
    /// Seconds between runs of the schedule (with the system clock), 1 to 60.
    pub tick_seconds: u64,
    /// The keystore secret (file mode).
    pub secret: SecretSource,
    /// The scrypt work factor of a new keystore (file mode).
    pub scrypt: WorkFactor,
    /// The PKCS#11 token (token mode); when set, `secret` is not used.
    pub token: Option<TokenConfig>,
    /// Allow a key file inside the data directory (development only, **RET-36**).
    pub dangerous_key_file_in_data_dir: bool,
    /// TLS.
    pub tls: TlsSource,
    /// The operator.
    pub operator: Option<Endpoint>,
    /// The log's verifier key, pinned.
    pub log_key: Option<String>,
    /// Witness keys every proof must be cosigned by.
    pub witnesses: Vec<String>,
    /// The oversight custodian (agency custodian, two-custodian policy).
    pub oversight: Option<Endpoint>,
    /// The caseload file (agency custodian).
    pub caseload: Option<PathBuf>,
    /// The witness's key name (oversight custodian).
    pub witness_name: Option<String>,
    /// The listener's timeouts and connection cap (**SVC-1** to **SVC-7**).
    pub limits: minimis_service::Limits,
    /// The request tally's period, in whole UTC days (**SVC-11**).
    pub request_log_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    role: CustodianRole,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    policy: Option<PathBuf>,
    tick_seconds: Option<u64>,
    #[serde(default)]
    keystore: RawKeystore,
    tls: Option<RawTls>,
    operator: Option<RawOperator>,
    oversight: Option<RawEndpoint>,
    caseload: Option<PathBuf>,
    witness_name: Option<String>,
    #[serde(default)]
    limits: minimis_service::limits::RawLimits,
    #[serde(default)]
    request_log: minimis_service::request_log::RawRequestLog,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeystore {
    pkcs11: Option<String>,
    #[serde(default)]
    dangerous_key_file_in_data_dir: bool,
    key_file: Option<PathBuf>,
    passphrase_file: Option<PathBuf>,
    passphrase_env: Option<String>,
    scrypt_log_n: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    officer_ca: Option<PathBuf>,
    operator_ca: Option<PathBuf>,
    agency_ca: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    address: SocketAddr,
    server_name: String,
    ca: PathBuf,
    log_key: Option<String>,
    #[serde(default)]
    witnesses: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    address: SocketAddr,
    server_name: String,
    ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl CustodianConfig {
    /// The defaults for `role`: `custodian-<role>` data directory, the development PKI,
    /// a key file `custodian-<role>.key` next to it, no operator.
    pub fn new(role: CustodianRole) -> Self {
        Self {
            role,
            data_dir: PathBuf::from(format!("custodian-{role}")),
            listen: match role {
                CustodianRole::Agency => SocketAddr::from(([127, 0, 0, 1], 8444)),
                CustodianRole::Oversight => SocketAddr::from(([127, 0, 0, 1], 8445)),
            },
            policy: None,
            tick_seconds: 60,
            secret: SecretSource::KeyFile(PathBuf::from(format!("custodian-{role}.key"))),
            scrypt: WorkFactor::DEFAULT,
            token: None,
            dangerous_key_file_in_data_dir: false,
            tls: TlsSource::Development,
            operator: None,
            log_key: None,
            witnesses: Vec::new(),
            oversight: None,
            caseload: None,
            witness_name: None,
            limits: minimis_service::Limits::default(),
            request_log_days: minimis_service::request_log::DEFAULT_PERIOD_DAYS,
        }
    }

    /// Parses a configuration file's text; relative paths stay relative to the working
    /// directory.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text)?;
        let mut c = Self::new(raw.role);
        if let Some(d) = raw.data_dir {
            c.data_dir = d;
        }
        if let Some(l) = raw.listen {
            c.listen = l;
        }
        c.policy = raw.policy;
        if let Some(t) = raw.tick_seconds {
            // At most a minute: destruction runs at every tick, a minute ahead of each
            // deadline (RET-8, RET-40). Refused, not clamped (CFG-1, CFG-4).
            if !(1..=60).contains(&t) {
                return Err(ConfigError::TickSeconds(t));
            }
            c.tick_seconds = t;
        }
        let k = raw.keystore;
        if let Some(uri) = &k.pkcs11 {
            if k.key_file.is_some() || k.passphrase_file.is_some() || k.passphrase_env.is_some() {
                return Err(ConfigError::Secret);
            }
            c.token = Some(TokenConfig::from_uri(uri)?);
        }
        c.secret = match (k.key_file, k.passphrase_file, k.passphrase_env) {
            (Some(f), None, None) => SecretSource::KeyFile(f),
            (None, Some(f), None) => SecretSource::PassphraseFile(f),
            (None, None, Some(v)) => SecretSource::PassphraseEnv(v),
            (None, None, None) => c.secret,
            _ => return Err(ConfigError::Secret),
        };
        if let Some(n) = k.scrypt_log_n {
            c.scrypt = WorkFactor::new(n).map_err(ConfigError::WorkFactor)?;
        }
        c.dangerous_key_file_in_data_dir = k.dangerous_key_file_in_data_dir;
        if let Some(t) = raw.tls {
            let needs = match raw.role {
                CustodianRole::Agency => t.officer_ca.is_some(),
                CustodianRole::Oversight => t.operator_ca.is_some() && t.agency_ca.is_some(),
            };
            if !needs {
                return Err(ConfigError::HalfTls);
            }
            c.tls = TlsSource::Files {
                cert: t.cert,
                key: t.key,
                officer_ca: t.officer_ca,
                operator_ca: t.operator_ca,
                agency_ca: t.agency_ca,
            };
        }
        if let Some(o) = raw.operator {
            c.log_key = o.log_key;
            c.witnesses = o.witnesses;
            c.operator = Some(Endpoint {
                address: o.address,
                server_name: o.server_name,
                ca: o.ca,
                client: None,
            });
        }
        c.oversight = raw.oversight.map(|o| Endpoint {
            address: o.address,
            server_name: o.server_name,
            ca: o.ca,
            client: Some((o.client_cert, o.client_key)),
        });
        c.caseload = raw.caseload;
        c.witness_name = raw.witness_name;
        c.limits = raw.limits.resolve()?;
        c.request_log_days = raw.request_log.period_days()?;
        Ok(c)
    }

    /// How the keystore is protected, ready to open it: the token, or the file mode's
    /// secret (a key file made on first start if there is none, a passphrase read from
    /// its file or variable).
    ///
    /// # Errors
    /// [`ConfigError::KeyFileInDataDir`] for a key file inside the data directory
    /// without `dangerous_key_file_in_data_dir` (**RET-36**); a passphrase that cannot
    /// be read.
    pub fn protection(&self) -> Result<Protection, ConfigError> {
        if let Some(t) = &self.token {
            return Ok(Protection::Token(t.clone()));
        }
        let secret = match &self.secret {
            SecretSource::KeyFile(p) => {
                if !self.dangerous_key_file_in_data_dir && is_inside(p, &self.data_dir) {
                    return Err(ConfigError::KeyFileInDataDir {
                        key_file: p.clone(),
                        data_dir: self.data_dir.clone(),
                    });
                }
                if !p.exists() && !self.data_dir.join("keystore").join("signing.age").exists() {
                    // A first start: make the key file (a deployment provisions it).
                    KeystoreSecret::make_key_file(p)?;
                    tracing::warn!(path = %p.display(), "made a new keystore key file; keep it on other storage than the data directory");
                }
                KeystoreSecret::KeyFile(p.clone())
            }
            SecretSource::PassphraseFile(p) => {
                let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|source| {
                    ConfigError::Read {
                        path: p.clone(),
                        source,
                    }
                })?);
                KeystoreSecret::Passphrase(Zeroizing::new(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                ))
            }
            SecretSource::PassphraseEnv(var) => KeystoreSecret::Passphrase(Zeroizing::new(
                std::env::var(var).map_err(|_| ConfigError::PassphraseEnv(var.clone()))?,
            )),
        };
        Ok(Protection::File {
            secret,
            work: self.scrypt,
        })
    }

    /// Reads a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }
}

/// `p` made absolute, with its longest existing ancestor's symbolic links and `..`
/// resolved by the file system, and the rest (which does not exist, so holds no link)
/// resolved lexically.
fn resolve(p: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let parts: Vec<Component<'_>> = abs.components().collect();
    let mut split = parts.len();
    while split > 0 && !parts[..split].iter().collect::<PathBuf>().exists() {
        split -= 1;
    }
    let prefix: PathBuf = parts[..split].iter().collect();
    let mut out = prefix.canonicalize().unwrap_or(prefix);
    for c in &parts[split..] {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Whether `file` lies inside `dir` (after making both absolute and resolving links).
fn is_inside(file: &Path, dir: &Path) -> bool {
    resolve(file).starts_with(resolve(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_configuration_parses_and_mistakes_are_refused() {
        let c = CustodianConfig::from_toml_str(
            r#"
role = "agency"
data_dir = "d"
caseload = "c.toml"
[keystore]
passphrase_env = "P"
scrypt_log_n = 15
[operator]
address = "127.0.0.1:8443"
server_name = "localhost"
ca = "op.crt"
witnesses = ["w"]
[oversight]
address = "127.0.0.1:8445"
server_name = "localhost"
ca = "o.crt"
client_cert = "a.crt"
client_key = "a.key"
"#,
        )
        .unwrap();
        assert_eq!(c.secret, SecretSource::PassphraseEnv("P".into()));
        assert_eq!(c.scrypt.get(), 15);
        assert_eq!(c.witnesses, vec!["w".to_owned()]);
        assert!(c.oversight.unwrap().client.is_some());
        assert!(matches!(
            CustodianConfig::from_toml_str(
                "role = \"agency\"\n[keystore]\nkey_file = \"a\"\npassphrase_env = \"b\"\n"
            ),
            Err(ConfigError::Secret)
        ));
        assert!(CustodianConfig::from_toml_str("role = \"operator\"\n").is_err());
        assert!(CustodianConfig::from_toml_str("role = \"agency\"\nkeys = 1\n").is_err());
        assert!(matches!(
            CustodianConfig::from_toml_str(
                "role = \"oversight\"\n[tls]\ncert = \"c\"\nkey = \"k\"\noperator_ca = \"o\"\n"
            ),
            Err(ConfigError::HalfTls)
        ));
    }

    #[test]
    fn cfg_4_a_tick_out_of_one_to_sixty_seconds_is_refused_not_clamped() {
        for t in [0, 61, 3600] {
            assert!(
                matches!(
                    CustodianConfig::from_toml_str(&format!(
                        "role = \"agency\"\ntick_seconds = {t}\n"
                    )),
                    Err(ConfigError::TickSeconds(v)) if v == t
                ),
                "{t}"
            );
        }
        for t in [1, 60] {
            let c =
                CustodianConfig::from_toml_str(&format!("role = \"agency\"\ntick_seconds = {t}\n"))
                    .unwrap();
            assert_eq!(c.tick_seconds, t);
        }
    }

    #[test]
    fn ret_36_a_key_file_inside_the_data_directory_is_refused_unless_dangerous() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("custodian-agency");
        std::fs::create_dir_all(&data).unwrap();
        let mut c = CustodianConfig::new(CustodianRole::Agency);
        c.data_dir = data.clone();
        for inside in [
            data.join("custodian.key"),
            data.join("keystore").join("custodian.key"),
            dir.path()
                .join("x")
                .join("..")
                .join("custodian-agency")
                .join("k"),
        ] {
            c.secret = SecretSource::KeyFile(inside.clone());
            assert!(
                matches!(c.protection(), Err(ConfigError::KeyFileInDataDir { .. })),
                "{}",
                inside.display()
            );
            assert!(!inside.exists(), "a refusal makes no key file");
        }
        // Through a symbolic link to the data directory.
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            c.secret = SecretSource::KeyFile(link.join("k"));
            assert!(matches!(
                c.protection(),
                Err(ConfigError::KeyFileInDataDir { .. })
            ));
        }
        // Beside the data directory: made on first start.
        let beside = dir.path().join("custodian-agency.key");
        c.secret = SecretSource::KeyFile(beside.clone());
        assert!(matches!(c.protection(), Ok(Protection::File { .. })));
        assert_eq!(std::fs::read(&beside).unwrap().len(), 32);
        // Told so, with the flag whose name says it is dangerous.
        c.secret = SecretSource::KeyFile(data.join("custodian.key"));
        c.dangerous_key_file_in_data_dir = true;
        assert!(c.protection().is_ok());
        let parsed = CustodianConfig::from_toml_str(
            "role = \"agency\"\n[keystore]\nkey_file = \"k\"\ndangerous_key_file_in_data_dir = true\n",
        )
        .unwrap();
        assert!(parsed.dangerous_key_file_in_data_dir);
    }

    #[test]
    fn ret_38_ret_35_the_configuration_refuses_a_low_scrypt_factor_and_takes_a_token_uri() {
        for n in [10, 14, 23] {
            assert!(matches!(
                CustodianConfig::from_toml_str(&format!(
                    "role = \"agency\"\n[keystore]\nscrypt_log_n = {n}\n"
                )),
                Err(ConfigError::WorkFactor(_))
            ));
        }
        let c = CustodianConfig::from_toml_str(
            "role = \"oversight\"\n[keystore]\npkcs11 = \"pkcs11:token=o?module-path=m.so&pin-source=env:P\"\n",
        )
        .unwrap();
        assert_eq!(c.token.as_ref().map(|t| t.token.as_str()), Some("o"));
        assert!(matches!(c.protection(), Ok(Protection::Token(_))));
        assert!(matches!(
            CustodianConfig::from_toml_str(
                "role = \"oversight\"\n[keystore]\npkcs11 = \"pkcs11:token=o?module-path=m.so&pin-source=env:P\"\nkey_file = \"k\"\n"
            ),
            Err(ConfigError::Secret)
        ));
        assert!(matches!(
            CustodianConfig::from_toml_str(
                "role = \"oversight\"\n[keystore]\npkcs11 = \"pkcs11:token=o?module-path=m.so&pin-value=1\"\n"
            ),
            Err(ConfigError::Token(_))
        ));
    }
}
