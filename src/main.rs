//! `minimis`: the command line. Thin wiring of the crates, nothing else.
//!
//! Exit codes: 0 when everything held; 1 when a check failed (the demo found a record that
//! opened when it must not, or one that did not open when it must; the auditor found a
//! policy claim violated); 2 for usage and I/O errors; 3 when `minimis audit` found that
//! the log does not verify.

#![forbid(unsafe_code)]

mod agency;
mod audit;
mod bench;
mod compare;
mod custodian;
mod demo;
mod devpki;
mod export;
mod participant;
mod serve;
mod witness;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use minimis_proto::{CheckInPayload, Policy};

/// minimis: supervision check-ins that collect as little as possible.
#[derive(Parser)]
#[command(name = "minimis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole check-in path for simulated participants and show what each party
    /// holds, what retention erased and what a SmartLINK-style design would hold.
    Demo(demo::DemoArgs),
    /// Verify a transparency log, exported to a directory or served over HTTPS
    /// (signatures, cosignatures, consistency with the last run, every entry) and check
    /// the policy's claims from it. Exit 0: all
    /// claims hold; 1: a claim is violated; 2: usage or I/O error; 3: the log does not
    /// verify.
    Audit(audit::AuditArgs),
    /// Hold a vendor's declared data inventory (TOML) against the minimis specification
    /// and policy, and report each gap with the requirement it fails. Exit 0: no gap;
    /// 1: gaps found; 2: usage error or an inventory that does not parse.
    Compare(compare::CompareArgs),
    /// Run the operator's server: check-ins over TLS 1.3, stored durably, never readable
    /// by the operator. Works with no options: a data directory `minimis-data` with a
    /// development certificate made on first start.
    Serve(serve::ServeArgs),
    /// Run a key custodian (agency or oversight): epoch keys, justified two-party access
    /// over mutual TLS, destruction on schedule, legal holds, the log's witness.
    Custodian {
        #[command(subcommand)]
        command: custodian::CustodianCommand,
    },
    /// Run a witness (C2SP tlog-witness) for one or more logs: its own trust domain, its
    /// own key, plain HTTPS.
    Witness {
        #[command(subcommand)]
        command: witness::WitnessCommand,
    },
    /// Measure the operator's server: durable check-ins per second over TLS, latency,
    /// peak RSS and bytes per check-in, against a plaintext baseline in the same run.
    Bench(bench::BenchArgs),
    /// What the participant's device shows them: the notice, their history.
    Participant {
        #[command(subcommand)]
        command: participant::ParticipantCommand,
    },
    /// The agency's enrollment station: its enrollment key and the signed enrollment
    /// bundles it issues to devices at the in-person enrollment.
    Agency {
        #[command(subcommand)]
        command: agency::AgencyCommand,
    },
    /// Make every certificate a hand-started stack needs (development and trials only):
    /// the services' CA and server certificates, officers' certificates, and the client
    /// certificates the operator and the agency custodian present to the oversight
    /// custodian.
    DevPki(devpki::DevPkiArgs),
    /// Check a policy file and print its hash.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Work with a decrypted check-in payload.
    Payload {
        #[command(subcommand)]
        command: PayloadCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file (the embedded default if none is given) and print its hash.
    Check {
        /// The policy file (TOML).
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PayloadCommand {
    /// Decode a 512-byte payload (for example the output of `age -d`) and print it as JSON.
    Decode {
        /// The payload file; standard input if omitted.
        file: Option<PathBuf>,
        /// The policy whose note limit applies (the embedded default if omitted).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

/// How a command ended, when it did not fail with an error.
pub(crate) enum Outcome {
    /// Every check held.
    Success,
    /// A check did not hold; details were printed.
    CheckFailed,
    /// The log does not verify (`minimis audit`); details were printed.
    LogDoesNotVerify,
}

fn load_policy(path: Option<&PathBuf>) -> anyhow::Result<Policy> {
    match path {
        None => Ok(minimis_proto::default_policy()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy file {}", p.display()))?;
            Policy::from_toml_str(&text).with_context(|| format!("in {}", p.display()))
        }
    }
}

fn run() -> anyhow::Result<Outcome> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Custodian { command } => custodian::run(&command),
        Command::Witness { command } => witness::run(&command),
        Command::Participant { command } => participant::run(&command),
        Command::Agency { command } => agency::run(&command),
        Command::DevPki(args) => devpki::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            let policy = load_policy(file.as_ref())?;
            println!("policy:   {}", policy.name());
            println!("hash:     {}", policy.hash());
            println!(
                "epochs:   {} days; content kept {} days after its epoch; ledger kept {} days after enrollment closes",
                policy.epoch_length_days(),
                policy.content_retention_days(),
                policy.ledger_retention_days()
            );
            let custodians: Vec<_> = policy
                .custodians()
                .iter()
                .map(|c| format!("{} ({})", c.id, c.role))
                .collect();
            println!("custodians: {}", custodians.join(", "));
            Ok(Outcome::Success)
        }
        Command::Payload {
            command: PayloadCommand::Decode { file, policy },
        } => {
            let policy = load_policy(policy.as_ref())?;
            let bytes = match &file {
                Some(p) => {
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
                }
                None => {
                    let mut b = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut b)
                        .context("cannot read standard input")?;
                    b
                }
            };
            let p = CheckInPayload::decode(&bytes, policy.max_note_bytes())
                .context("not a minimis check-in payload")?;
            let json = serde_json::json!({
                "challenge_id": p.challenge_id,
                "zone": p.zone,
                "presence": p.presence,
                "device_time": p.device_time,
                "note": p.note.expose(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(Outcome::Success)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Ok(Outcome::LogDoesNotVerify) => ExitCode::from(3),
        Err(e) => {
            eprintln!("minimis: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
