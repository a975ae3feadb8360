//! `minimis serve`: the operator's server (`minimis-server`), with a configuration file
//! and flags over embedded defaults, so that it works out of the box.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use minimis_proto::PublicKey;
use minimis_server::{IngestMode, Server, ServerConfig, SystemClock, TlsSource};

use crate::Outcome;

/// Options of `minimis serve`. Flags override the configuration file.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (every key: spec/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory (database, keys, development certificates).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The store: `sqlite` (the default, in the data directory) or a PostgreSQL URL,
    /// `postgres://user@host:port/dbname`, with no password (PGPASSWORD gives it).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The policy file (default: the embedded reference policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The server's certificate chain (PEM); with --key, instead of a development certificate.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The server's private key (PEM, PKCS#8).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// The CA (PEM) that issues officers' client certificates.
    #[arg(long, value_name = "FILE")]
    officer_ca: Option<PathBuf>,
    /// The agency custodian's Ed25519 public key (base64).
    #[arg(long, value_name = "BASE64")]
    agency_key: Option<String>,
    /// The oversight custodian's Ed25519 public key (base64).
    #[arg(long, value_name = "BASE64")]
    oversight_key: Option<String>,
    /// BENCHMARK COMPARATOR ONLY, never with real participants: take check-ins in the
    /// clear and store them readable by the operator, with no signature, no log and no
    /// receipt (the conventional vendor `minimis bench ingest` compares minimis with).
    #[arg(long)]
    baseline_plaintext: bool,
}

fn key(b64: &str, what: &str) -> anyhow::Result<PublicKey> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{what} is not base64"))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what} must be 32 bytes"))?;
    Ok(PublicKey(arr))
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<Outcome> {
    let mut config = match &args.config {
        Some(p) => ServerConfig::from_file(p)?,
        None => ServerConfig::default(),
    };
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(s) = &args.store {
        config.store = minimis_server::StoreConfig::parse(s)?;
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(p) = &args.policy {
        config.policy = Some(p.clone());
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        config.tls = TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        };
    }
    if let Some(ca) = &args.officer_ca {
        config.officer_ca = Some(ca.clone());
    }
    if let Some(k) = &args.agency_key {
        config.agency_key = Some(key(k, "--agency-key")?);
    }
    if let Some(k) = &args.oversight_key {
        config.oversight_key = Some(key(k, "--oversight-key")?);
    }
    if args.baseline_plaintext {
        config.ingest_mode = IngestMode::DangerousPlaintextBaseline;
    }
    // Logs go to standard error; the server writes no address or header to them (POL-20).
    // Logs go to standard error, undated, with no line per request (SVC-11 to SVC-13): the
    // server writes no address, no header and no arrival time to them (POL-7, POL-20).
    minimis_service::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = Server::start(config.clone(), SystemClock)
            .await
            .context("cannot start the server")?;
        println!("minimis serve: listening on https://{}", running.addr());
        if config.ingest_mode == IngestMode::DangerousPlaintextBaseline {
            println!(
                "  WARNING: plaintext baseline mode, a benchmark comparator: check-ins are stored in the clear, unsigned and unlogged"
            );
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
        Ok(Outcome::Success)
    })
}
