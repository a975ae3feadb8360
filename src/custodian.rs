//! `minimis custodian serve`: a key custodian (`minimis-custodian`), with a configuration
//! file and flags over defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use minimis_custodian::config::{Endpoint, SecretSource};
use minimis_custodian::{Custodian, CustodianConfig, SystemClock};
use minimis_proto::CustodianRole;

use crate::Outcome;

#[derive(clap::Subcommand)]
pub(crate) enum CustodianCommand {
    /// Run a key custodian: its epoch keys (encrypted at rest, destroyed at each epoch's
    /// retention deadline), justified two-party access over mutual TLS, legal holds,
    /// and (oversight) the log's witness.
    Serve(ServeArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Role {
    Agency,
    Oversight,
}

/// Options of `minimis custodian serve`. Flags override the configuration file.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (see the `minimis_custodian::config` docs).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which custodian (required without --config).
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// The data directory (keystore, holds, case book, witness state, development TLS).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The policy file (default: the embedded reference policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The keystore key file (made on first start if missing; keep it on other storage).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    key_file: Option<PathBuf>,
    /// The environment variable that holds the keystore passphrase.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// The operator's address.
    #[arg(long, value_name = "ADDR", requires = "operator_ca")]
    operator: Option<SocketAddr>,
    /// The CA (PEM) that the operator's server certificate is checked against (for
    /// `minimis serve`'s development certificate: its `tls/server.crt`).
    #[arg(long, value_name = "FILE")]
    operator_ca: Option<PathBuf>,
    /// The name the operator's certificate is checked against.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    operator_name: String,
    /// The caseload file (agency custodian).
    #[arg(long, value_name = "FILE")]
    caseload: Option<PathBuf>,
}

pub(crate) fn run(command: &CustodianCommand) -> anyhow::Result<Outcome> {
    let CustodianCommand::Serve(args) = command;
    let mut config = match (&args.config, args.role) {
        (Some(p), _) => CustodianConfig::load(p)?,
        (None, Some(Role::Agency)) => CustodianConfig::new(CustodianRole::Agency),
        (None, Some(Role::Oversight)) => CustodianConfig::new(CustodianRole::Oversight),
        (None, None) => anyhow::bail!(
            "say which custodian this is: --role agency or --role oversight (or --config FILE)"
        ),
    };
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(p) = &args.policy {
        config.policy = Some(p.clone());
    }
    if let Some(k) = &args.key_file {
        config.secret = SecretSource::KeyFile(k.clone());
    }
    if let Some(v) = &args.passphrase_env {
        config.secret = SecretSource::PassphraseEnv(v.clone());
    }
    if let (Some(addr), Some(ca)) = (args.operator, &args.operator_ca) {
        config.operator = Some(Endpoint {
            address: addr,
            server_name: args.operator_name.clone(),
            ca: ca.clone(),
            client: None,
        });
    }
    if let Some(c) = &args.caseload {
        config.caseload = Some(c.clone());
    }
    if config.operator.is_none() {
        anyhow::bail!(
            "no operator to log to: pass --operator ADDR --operator-ca FILE, or [operator] in --config; a custodian opens nothing it cannot log"
        );
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MINIMIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = Custodian::start(config.clone(), SystemClock)
            .await
            .context("cannot start the custodian")?;
        let node = running.node();
        println!(
            "minimis custodian serve: the {} custodian `{}`, listening on https://{}",
            node.role(),
            node.id(),
            running.addr()
        );
        println!("  data directory     {}", config.data_dir.display());
        println!("  policy             {}", node.policy().hash());
        if let Some(k) = node.public_key() {
            println!(
                "  custodian key      {}   (configure the operator: [custodians] {} = \"…\")",
                k.to_base64(),
                node.role()
            );
        }
        println!("  log key            {}", node.log_key());
        if let Some(w) = node.witness() {
            println!("  witness key        {}", w.verifier_key());
        }
        let report = running.tick().await;
        println!(
            "  epoch keys made {:?}, recipients published {:?}, destroyed {:?}",
            report.generated.iter().map(|e| e.get()).collect::<Vec<_>>(),
            report.published.iter().map(|e| e.get()).collect::<Vec<_>>(),
            report.destroyed.iter().map(|e| e.get()).collect::<Vec<_>>()
        );
        tokio::select! {
            () = running.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(Outcome::Success)
    })
}
