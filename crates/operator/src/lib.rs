//! # minimis-operator: the binary the operator deploys
//!
//! The operator's server ([`minimis_server`]) as a command of its own, built only from the
//! operator's crates: the server, the service toolkit, the wire contract, the log, the
//! protocol and the signing crate. It links no `age`, no X25519 or ChaCha20-Poly1305
//! implementation for content and no custodian, device or auditor crate (**SEAL-25**), and
//! it cannot enable the benchmark's plaintext baseline: it does not turn on
//! `minimis-server`'s `dangerous-plaintext-baseline` feature and its code never names the
//! ingest mode (**SEAL-26**). Both are checked by `tests/deps.rs` on the dependency and
//! feature graph (`cargo tree -e normal -p minimis-operator`).
//!
//! `ring` is in the graph; what it provides the operator is TLS 1.3 through `rustls` (key
//! exchange, record protection and certificate signatures, on the wire only), Ed25519
//! signing and verification (challenges, checkpoints, receipts; device, custodian and
//! witness signatures), SHA-256 and HMAC-SHA-256, and the system's random numbers for its
//! own signing keys. The operator's own code calls no other part of it (`tests/deps.rs`).
//!
//! This library is the argument code [`ServeArgs`] and the start-up [`serve`], shared by
//! the `minimis-operator` binary and the `minimis serve` command of the umbrella binary
//! (demo and tools), so that both take the same configuration file and the same flags.
//! Spec: `spec/operator.md`; configuration keys: `spec/configuration.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;
use minimis_proto::PublicKey;
use minimis_server::{ConfigError, Server, ServerConfig, StartError, SystemClock, TlsSource};

/// The flags of `minimis-operator` and of `minimis serve`. Flags override the
/// configuration file; the configuration file overrides the embedded defaults.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// A TOML configuration file (every key: spec/configuration.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (database, keys, development certificates).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: `sqlite` (the default, in the data directory) or a PostgreSQL URL,
    /// `postgres://user@host:port/dbname`, with no password (PGPASSWORD gives it).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The policy file (default: the embedded reference policy).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The server's certificate chain (PEM); with --key, instead of a development certificate.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The server's private key (PEM, PKCS#8).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The CA (PEM) that issues officers' client certificates.
    #[arg(long, value_name = "FILE")]
    pub officer_ca: Option<PathBuf>,
    /// The agency custodian's Ed25519 public key (base64).
    #[arg(long, value_name = "BASE64")]
    pub agency_key: Option<String>,
    /// The oversight custodian's Ed25519 public key (base64).
    #[arg(long, value_name = "BASE64")]
    pub oversight_key: Option<String>,
}

/// Why the flags and the configuration file do not make a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// The configuration file cannot be read or is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key flag is not base64.
    #[error("{flag} is not base64")]
    KeyNotBase64 {
        /// The flag.
        flag: &'static str,
    },
    /// A key flag is not a 32-byte Ed25519 public key.
    #[error("{flag} must be 32 bytes")]
    KeyLength {
        /// The flag.
        flag: &'static str,
    },
}

fn key(b64: &str, flag: &'static str) -> Result<PublicKey, ArgsError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ArgsError::KeyNotBase64 { flag })?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ArgsError::KeyLength { flag })?;
    Ok(PublicKey(arr))
}

impl ServeArgs {
    /// The server's configuration: the file's (or the defaults), then the flags.
    ///
    /// # Errors
    /// [`ArgsError`]: the file, or a key flag that is not a base64 Ed25519 public key.
    pub fn config(&self) -> Result<ServerConfig, ArgsError> {
        let mut config = match &self.config {
            Some(p) => ServerConfig::from_file(p)?,
            None => ServerConfig::default(),
        };
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(st) = &self.store {
            config.store = minimis_server::StoreConfig::parse(st)?;
        }
        if let Some(l) = self.listen {
            config.listen = l;
        }
        if let Some(p) = &self.policy {
            config.policy = Some(p.clone());
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config.tls = TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            };
        }
        if let Some(ca) = &self.officer_ca {
            config.officer_ca = Some(ca.clone());
        }
        if let Some(k) = &self.agency_key {
            config.agency_key = Some(key(k, "--agency-key")?);
        }
        if let Some(k) = &self.oversight_key {
            config.oversight_key = Some(key(k, "--oversight-key")?);
        }
        Ok(config)
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The server could not start.
    #[error("cannot start the server: {0}")]
    Start(#[from] StartError),
}

/// Runs the operator's server with `config` until the process receives SIGINT or SIGTERM.
///
/// Logs go to standard error, undated, with no line per request (SVC-11 to SVC-13): the
/// server writes no address, no header and no arrival time to them (POL-7, POL-20). The
/// first line on standard output is `{program}: listening on https://{address}`, then what
/// an operator needs to set up the other parties: the policy hash, the certificate's
/// fingerprint, the public keys; each line of `notes` follows.
///
/// # Errors
/// [`ServeError`] if the runtime or the server cannot start.
pub fn serve(config: ServerConfig, program: &str, notes: &[&str]) -> Result<(), ServeError> {
    minimis_service::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let running = Server::start(config.clone(), SystemClock).await?;
        println!("{program}: listening on https://{}", running.addr());
        for note in notes {
            println!("  {note}");
        }
        println!("  data directory     {}", config.data_dir.display());
        if let minimis_server::StoreConfig::Postgres(url) = &config.store {
            println!("  store              {}", url.redacted());
        }
        println!("  policy             {}", running.policy().hash());
        println!("  TLS certificate    SHA-256 {}", running.fingerprint());
        if let Some((cert, key)) = running.dev_officer() {
            println!(
                "  development officer certificate: {} (key {})",
                cert.display(),
                key.display()
            );
        }
        println!("  challenge key      {}", running.operator_key());
        println!("  log key            {}", running.log_key());
        if config.agency_key.is_none() {
            println!(
                "  note: no custodian keys configured (--agency-key, --oversight-key): check-ins are refused until they are"
            );
        }
        tokio::select! {
            () = running.wait() => {}
            () = minimis_service::shutdown_signal() => {}
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_override_the_file_and_bad_keys_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("operator.toml");
        std::fs::write(
            &file,
            "data_dir = \"from-file\"\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9001))),
            agency_key: Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32])),
            ..ServeArgs::default()
        };
        let c = args.config().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("from-file"));
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 9001)));
        assert_eq!(c.agency_key, Some(PublicKey([7; 32])));

        let short = ServeArgs {
            oversight_key: Some(base64::engine::general_purpose::STANDARD.encode([7u8; 31])),
            ..ServeArgs::default()
        };
        assert!(matches!(
            short.config(),
            Err(ArgsError::KeyLength {
                flag: "--oversight-key"
            })
        ));
        let junk = ServeArgs {
            agency_key: Some("not base64!".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            junk.config(),
            Err(ArgsError::KeyNotBase64 {
                flag: "--agency-key"
            })
        ));
    }
}
