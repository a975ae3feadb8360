//! `minimis-operator`: the operator's server, the binary an operator deploys. The same
//! configuration file and flags as `minimis serve` ([`minimis_operator::ServeArgs`]); no
//! decryption code, no plaintext baseline (SEAL-25, SEAL-26).
//!
//! Exit codes: 0 when stopped by a signal; 2 for usage errors and when the server cannot
//! start.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use minimis_operator::ServeArgs;

/// The minimis operator's server: check-ins over TLS 1.3, stored durably, never readable
/// by the operator. Works with no options: a data directory `minimis-data` with a
/// development certificate made on first start (unless built without `dev-pki`).
#[derive(Parser)]
#[command(name = "minimis-operator", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.serve.config()?;
    minimis_operator::serve(config, "minimis-operator", &[])?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimis-operator: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
