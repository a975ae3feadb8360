//! A custodian's configuration: a TOML file (`minimis custodian serve --config FILE`).
//!
//! ```toml
//! role = "agency"                        # or "oversight"
//! data_dir = "custodian-data"            # keystore, holds, case book, witness state
//! listen = "127.0.0.1:8444"
//! policy = "policy/default.toml"         # omitted: the embedded reference policy
//! tick_seconds = 60                      # how often the schedule runs
//! caseload = "caseload.toml"             # agency: officers' caseloads (pseudonyms)
//! witness_name = "oversight.example/witness"   # oversight: the witness's key name
//!
//! [keystore]                             # exactly one of the three secrets
//! key_file = "/run/credentials/custodian.key"
//! # passphrase_file = "/run/credentials/passphrase"
//! # passphrase_env = "MINIMIS_CUSTODIAN_PASSPHRASE"
//! scrypt_log_n = 18                      # scrypt work factor of a new keystore
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
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use minimis_proto::CustodianRole;
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
    /// Not exactly one keystore secret.
    #[error("[keystore] needs exactly one of key_file, passphrase_file, passphrase_env")]
    Secret,
    /// Only part of the `[tls]` files.
    #[error("[tls] needs cert and key together, and the client CAs of the role")]
    HalfTls,
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
    /// Seconds between runs of the schedule (with the system clock).
    pub tick_seconds: u64,
    /// The keystore secret.
    pub secret: SecretSource,
    /// The scrypt work factor of a new keystore.
    pub scrypt_log_n: u8,
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
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeystore {
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
            scrypt_log_n: crate::keystore::DEFAULT_SCRYPT_LOG_N,
            tls: TlsSource::Development,
            operator: None,
            log_key: None,
            witnesses: Vec::new(),
            oversight: None,
            caseload: None,
            witness_name: None,
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
            c.tick_seconds = t.max(1);
        }
        let k = raw.keystore;
        c.secret = match (k.key_file, k.passphrase_file, k.passphrase_env) {
            (Some(f), None, None) => SecretSource::KeyFile(f),
            (None, Some(f), None) => SecretSource::PassphraseFile(f),
            (None, None, Some(v)) => SecretSource::PassphraseEnv(v),
            (None, None, None) => c.secret,
            _ => return Err(ConfigError::Secret),
        };
        if let Some(n) = k.scrypt_log_n {
            c.scrypt_log_n = n;
        }
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
        Ok(c)
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
        assert_eq!(c.scrypt_log_n, 15);
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
}
