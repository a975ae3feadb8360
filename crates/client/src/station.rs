//! The agency's enrollment station: its configuration file and the signed enrollment
//! bundle it issues (**ENR-30** to **ENR-33**, `spec/enrollment.md`,
//! `spec/configuration.md`). `minimis agency issue-bundle` is its command line.
//!
//! ```toml
//! policy = "policy.toml"                   # omitted: the embedded reference policy
//!
//! [enrollment_key]                         # the agency's enrollment key (ENR-30)
//! file = "/run/credentials/agency-enrollment.key"   # base64 Ed25519 seed, mode 0600
//! name = "agency.example/enrollment"       # its key name (C2SP signed note)
//!
//! [operator]                               # what the operator printed when it started
//! challenge_key = "…"                      # base64: `challenge key`
//! log_key = "localhost/minimis-log+…"      # C2SP vkey: `log key`
//! witnesses = ["oversight.example/witness+…"]   # every receipt must be cosigned by these
//! tlog_policy = "witnesses.policy"         # or: a C2SP tlog-policy file whose quorum every
//!                                          # receipt must carry (LOG-68); it ships in the bundle
//!
//! [custodians]                             # what each custodian printed: `custodian key`
//! agency = "…"
//! oversight = "…"                          # required when the policy names two custodians
//! ```
//!
//! The station takes every key it puts in a bundle from this file, which the agency fills
//! in once, from what each service printed on its own console; never from the operator at
//! issue time (the operator is not trusted to say which custodians a device seals to).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_log::{KeyName, NoteSigner, TlogPolicy, VerifierKey};
use minimis_proto::{CustodianRole, Policy, Pseudonym, PublicKey, Schedule, UnixTime};
use minimis_seal::CustodianKeys;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::bundle::{Bundle, BundleError, ZoneCommitment};

/// The enrollment station's configuration (`minimis agency issue-bundle --config FILE`).
#[derive(Clone, Debug)]
pub struct StationConfig {
    /// The policy file; `None` for the embedded reference policy.
    pub policy: Option<PathBuf>,
    /// The file that holds the agency's enrollment key (a base64 Ed25519 seed).
    pub key_file: PathBuf,
    /// The enrollment key's name in its signed notes.
    pub key_name: KeyName,
    /// The operator's challenge-signing key.
    pub operator_key: PublicKey,
    /// The log's verifier key.
    pub log_key: VerifierKey,
    /// The witnesses every receipt must be cosigned by.
    pub witnesses: Vec<VerifierKey>,
    /// The tlog-policy whose quorum every receipt must carry (**LOG-68**).
    pub tlog_policy: Option<TlogPolicy>,
    /// The custodians' keys.
    pub custodians: CustodianKeys,
}

/// Why the station's configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StationConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, a missing key or a wrong type.
    #[error("configuration is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// A key that is not 32 bytes of base64.
    #[error("{0} must be a base64 Ed25519 public key (32 bytes)")]
    BadKey(&'static str),
    /// A verifier key or key name that does not parse.
    #[error("{field} is not valid: {message}")]
    BadNoteKey {
        /// Which key.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The log key or a witness key is of the wrong kind (the log signs Ed25519 notes;
    /// witnesses cosign with `cosignature/v1`).
    #[error("{0} is the wrong kind of verifier key")]
    WrongKeyKind(&'static str),
    /// The tlog-policy file does not parse (LOG-63).
    #[error("operator.tlog_policy: {0}")]
    TlogPolicy(#[from] minimis_log::TlogPolicyError),
    /// The tlog-policy lists logs, and not `operator.log_key`.
    #[error("operator.tlog_policy does not accept operator.log_key")]
    LogNotInTlogPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    policy: Option<PathBuf>,
    enrollment_key: RawKey,
    operator: RawOperator,
    custodians: RawCustodians,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    file: PathBuf,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    challenge_key: String,
    log_key: String,
    #[serde(default)]
    witnesses: Vec<String>,
    tlog_policy: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustodians {
    agency: String,
    oversight: Option<String>,
}

fn public_key(field: &'static str, b64: &str) -> Result<PublicKey, StationConfigError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| StationConfigError::BadKey(field))?;
    Ok(PublicKey(
        bytes
            .try_into()
            .map_err(|_| StationConfigError::BadKey(field))?,
    ))
}

fn vkey(field: &'static str, text: &str) -> Result<VerifierKey, StationConfigError> {
    text.trim()
        .parse()
        .map_err(
            |e: minimis_log::note::VerifierKeyError| StationConfigError::BadNoteKey {
                field,
                message: e.to_string(),
            },
        )
}

impl StationConfig {
    /// Parses a configuration file's text; relative paths stay relative to the working
    /// directory.
    ///
    /// # Errors
    /// [`StationConfigError`].
    pub fn from_toml_str(text: &str) -> Result<Self, StationConfigError> {
        use minimis_log::note::SignatureType;
        let raw: Raw = toml::from_str(text)?;
        let key_name =
            KeyName::new(&raw.enrollment_key.name).map_err(|e| StationConfigError::BadNoteKey {
                field: "enrollment_key.name",
                message: e.to_string(),
            })?;
        let log_key = vkey("operator.log_key", &raw.operator.log_key)?;
        if log_key.signature_type() != SignatureType::Ed25519 {
            return Err(StationConfigError::WrongKeyKind("operator.log_key"));
        }
        let witnesses = raw
            .operator
            .witnesses
            .iter()
            .map(|w| {
                let k = vkey("operator.witnesses", w)?;
                if k.signature_type() == SignatureType::Ed25519 {
                    return Err(StationConfigError::WrongKeyKind("operator.witnesses"));
                }
                Ok(k)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tlog_policy = match &raw.operator.tlog_policy {
            None => None,
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| StationConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let p = TlogPolicy::parse(&bytes)?;
                if !p.accepts_log(&log_key) {
                    return Err(StationConfigError::LogNotInTlogPolicy);
                }
                Some(p)
            }
        };
        Ok(Self {
            policy: raw.policy,
            key_file: raw.enrollment_key.file,
            key_name,
            operator_key: public_key("operator.challenge_key", &raw.operator.challenge_key)?,
            log_key,
            witnesses,
            tlog_policy,
            custodians: CustodianKeys {
                agency: public_key("custodians.agency", &raw.custodians.agency)?,
                oversight: match &raw.custodians.oversight {
                    Some(o) => Some(public_key("custodians.oversight", o)?),
                    None => None,
                },
            },
        })
    }

    /// Reads a configuration file.
    ///
    /// # Errors
    /// [`StationConfigError`].
    pub fn load(path: &Path) -> Result<Self, StationConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| StationConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }
}

/// Why the station could not issue a bundle. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The enrollment key file could not be read, made or parsed.
    #[error("the enrollment key file {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The policy names an oversight custodian and the configuration gives no key for
    /// it, or the other way round (**ENR-31**): the device would seal to the wrong
    /// custodians.
    #[error(
        "the policy names {policy} custodian(s) and the station's configuration gives {configured} key(s): [custodians] must give exactly the policy's"
    )]
    Custodians {
        /// How many custodians the policy names.
        policy: usize,
        /// How many keys the configuration gives.
        configured: usize,
    },
    /// The schedule is outside the policy (CHL-1, **ENR-31**).
    #[error("the schedule is outside the policy: {0}")]
    Schedule(String),
    /// The bundle could not be written or signed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// What goes into one bundle besides the station's keys: what the operator's enrollment
/// answer and the enrolling officer give.
#[derive(Clone, Debug)]
pub struct BundleRequest {
    /// The pseudonym the operator assigned (its enrollment answer).
    pub pseudonym: Pseudonym,
    /// The device's public key, as the device shows it.
    pub device_key: PublicKey,
    /// The schedule, as `POST /v1/enrollments` took it.
    pub schedule: Schedule,
    /// The commitment to the ordered zone, if one was ordered.
    pub zone: Option<ZoneCommitment>,
    /// When it is issued.
    pub issued: UnixTime,
}

/// Reads the enrollment key from `path`, or makes it there (mode 0600) if `make` and it
/// does not exist.
///
/// # Errors
/// [`IssueError::Key`].
pub fn enrollment_key(path: &Path, make: bool) -> Result<SigningKey, IssueError> {
    let err = |message: String| IssueError::Key {
        path: path.to_owned(),
        message,
    };
    if !path.exists() {
        if !make {
            return Err(err(
                "does not exist (make it with `minimis agency keygen`)".into()
            ));
        }
        let key = SigningKey::generate().map_err(|e| err(e.to_string()))?;
        let text = Zeroizing::new(format!("{}\n", B64.encode(key.expose_seed())));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        write_private(path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
        return Ok(key);
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let seed = Zeroizing::new(
        B64.decode(text.trim())
            .map_err(|_| err("not base64".into()))?,
    );
    SigningKey::from_seed(&seed).map_err(|e| err(e.to_string()))
}

/// Writes a new file readable by its owner only; never over an existing one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The station's note signer: its enrollment key under its name.
#[must_use]
pub fn signer(config: &StationConfig, key: SigningKey) -> NoteSigner {
    NoteSigner::new(config.key_name.clone(), key)
}

/// Issues a signed enrollment bundle (**ENR-30**, **ENR-31**): checks that the station's
/// custodian keys are exactly the policy's custodians and that the schedule is within
/// the policy, then signs the bundle with the enrollment key.
///
/// # Errors
/// [`IssueError`]; nothing is signed.
pub fn issue(
    config: &StationConfig,
    policy: &Policy,
    signer: &NoteSigner,
    request: BundleRequest,
) -> Result<String, IssueError> {
    let policy_count = usize::from(policy.custodian(CustodianRole::Agency).is_some())
        + usize::from(policy.custodian(CustodianRole::Oversight).is_some());
    let configured = 1 + usize::from(config.custodians.oversight.is_some());
    if policy_count != configured {
        return Err(IssueError::Custodians {
            policy: policy_count,
            configured,
        });
    }
    request
        .schedule
        .check_policy(policy)
        .map_err(|e| IssueError::Schedule(e.to_string()))?;
    let bundle = Bundle {
        pseudonym: request.pseudonym,
        device_key: request.device_key,
        policy: policy.hash(),
        schedule: request.schedule,
        zone: request.zone,
        operator_key: config.operator_key,
        log_key: config.log_key.clone(),
        witnesses: config.witnesses.clone(),
        tlog_policy: config.tlog_policy.clone(),
        custodians: config.custodians,
        obligations: None,
        issued: request.issued,
    };
    Ok(bundle.sign(signer)?)
}
