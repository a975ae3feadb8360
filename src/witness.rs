//! `minimis witness serve`: a standalone C2SP tlog-witness (`minimis-witness`), with a
//! configuration file and flags over it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use minimis_witness::service::{Overrides, WitnessConfig};

use crate::Outcome;

#[derive(clap::Subcommand)]
pub(crate) enum WitnessCommand {
    /// Run a witness: cosigns the checkpoints of the logs it knows (C2SP tlog-witness
    /// `POST /add-checkpoint`) after checking each extends the last one it cosigned, and
    /// serves the latest one (`GET /<origin hash>/checkpoint`). Plain HTTPS, no client
    /// certificate.
    Serve(ServeArgs),
}

/// Options of `minimis witness serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (see the `minimis_witness::service` docs).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The witness's key name, e.g. `witness.example/w1`.
    #[arg(long)]
    name: Option<String>,
    /// Where to listen (default 127.0.0.1:7380).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The data directory: the signing key (made on first start) and the state.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A log to witness: its Ed25519 note verifier key (the key's name is the log's
    /// origin). Repeat for several logs.
    #[arg(long = "log", value_name = "VKEY")]
    logs: Vec<String>,
}

pub(crate) fn run(command: &WitnessCommand) -> anyhow::Result<Outcome> {
    let WitnessCommand::Serve(args) = command;
    let config = WitnessConfig::load(
        args.config.as_deref(),
        Overrides {
            name: args.name.clone(),
            listen: args.listen,
            data_dir: args.data_dir.clone(),
            logs: args.logs.clone(),
        },
    )?;
    minimis_service::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut running =
            minimis_witness::service::serve(config.clone(), Arc::new(minimis_service::SystemClock))
                .await
                .context("cannot start the witness")?;
        println!(
            "minimis witness serve: `{}`, listening on https://{}",
            config.name,
            running.serving.addr()
        );
        println!("  witness key        {}", running.witness.verifier_key());
        println!("  data directory     {}", config.data_dir.display());
        for l in &config.logs {
            println!(
                "  log                {}   (monitoring: /{}/checkpoint)",
                l.key,
                minimis_witness::origin_hash(l.key.name().as_str())
            );
        }
        if running.dev_cert.is_some() {
            println!(
                "  TLS                development certificate {}",
                config.data_dir.join("dev-tls-cert.pem").display()
            );
        }
        tokio::select! {
            () = running.serving.wait() => {}
            () = minimis_service::shutdown_signal() => {}
        }
        Ok(Outcome::Success)
    })
}
