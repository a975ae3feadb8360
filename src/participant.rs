//! `minimis participant …`: what the participant's device shows them.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use minimis_client::notice::{Language, Translation, notice};
use minimis_client::transport::Https;
use minimis_client::{Api, FailureCategory};
use minimis_proto::{ChallengeId, UnixTime};
use zeroize::Zeroizing;

use crate::Outcome;

/// `minimis participant` commands.
#[derive(clap::Subcommand)]
pub(crate) enum ParticipantCommand {
    /// Print the notice: what is collected, why, for how long, who can read it and how to
    /// see one's own record, generated from the policy.
    Notice {
        /// `en` or `es`.
        #[arg(long, default_value = "en")]
        lang: String,
        /// The policy (default: the embedded reference policy).
        #[arg(long, value_name = "FILE", conflicts_with = "device")]
        policy: Option<PathBuf>,
        /// Show the notice of the policy this device was enrolled under (its encrypted
        /// store; the passphrase is read from MINIMIS_DEVICE_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        device: Option<PathBuf>,
        /// The translation of the policy's texts for `--lang` (default for `es` with the
        /// reference policy: the embedded `policy/default.es.toml`).
        #[arg(long, value_name = "FILE")]
        translation: Option<PathBuf>,
    },
    /// Show the participant's own record (ACC-11): their check-ins with their verified
    /// receipts, their ledger as the operator holds it, and what the public log says about
    /// them (every check-in request, every access to their check-ins and every refusal,
    /// the deletions), the log verified on the device; then the requests the device
    /// refused and the problems it recorded. Without --operator, only what the device
    /// holds. Reads and updates the device's encrypted store; the passphrase is read from
    /// the environment variable MINIMIS_DEVICE_PASSPHRASE.
    History {
        /// The device's store (an age file).
        #[arg(long, value_name = "FILE")]
        device: PathBuf,
        #[command(flatten)]
        operator: OperatorArgs,
        /// The device's time, in seconds since 1970 (default: the system clock).
        #[arg(long, value_name = "SECONDS")]
        now: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report a problem with a check-in (a technical-failure report, CHK-22): records it
    /// on the device if --challenge and --category are given, then delivers every report
    /// not yet delivered. The report is attached to the check-in for the person who
    /// reviews it; it is not an admission of anything.
    Report {
        /// The device's store (an age file).
        #[arg(long, value_name = "FILE")]
        device: PathBuf,
        #[command(flatten)]
        operator: OperatorArgs,
        /// The check-in request the problem concerns (its id, hex).
        #[arg(long, value_name = "ID", requires = "category")]
        challenge: Option<String>,
        /// What went wrong: no-network, app-error, device-error, presence-unavailable or
        /// other.
        #[arg(long, value_name = "CATEGORY", requires = "challenge")]
        category: Option<String>,
        /// The device's time, in seconds since 1970 (default: the system clock).
        #[arg(long, value_name = "SECONDS")]
        now: Option<i64>,
    },
}

/// Where the operator's server is.
#[derive(clap::Args)]
pub(crate) struct OperatorArgs {
    /// The operator's server, HOST:PORT (an IP address and port).
    #[arg(long, value_name = "ADDR")]
    operator: Option<SocketAddr>,
    /// The name the server's certificate is checked for.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    server_name: String,
    /// The operator's CA certificate (PEM), pinned.
    #[arg(long, value_name = "FILE", requires = "operator")]
    ca: Option<PathBuf>,
}

impl OperatorArgs {
    fn api(&self) -> anyhow::Result<Option<Api<Https>>> {
        let Some(addr) = self.operator else {
            return Ok(None);
        };
        let ca = self
            .ca
            .as_ref()
            .context("--operator needs --ca FILE, the operator's CA certificate")?;
        let roots =
            std::fs::read_to_string(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        // The device reads the log too: entry bundles up to the largest there can be.
        Ok(Some(Api::new(
            Https::new(addr, &self.server_name, &roots, None)?
                .with_limits(minimis_client::transport::Limits::LOG_READER),
        )))
    }
}

fn device_time(now: Option<i64>) -> anyhow::Result<UnixTime> {
    match now {
        Some(t) => Ok(UnixTime(t)),
        None => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970; give --now")?;
            Ok(UnixTime(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        }
    }
}

fn passphrase() -> anyhow::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        std::env::var("MINIMIS_DEVICE_PASSPHRASE")
            .context("set MINIMIS_DEVICE_PASSPHRASE to the device store's passphrase")?,
    ))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(cmd: &ParticipantCommand) -> anyhow::Result<Outcome> {
    match cmd {
        ParticipantCommand::Notice {
            lang,
            policy,
            device,
            translation,
        } => {
            let language: Language = lang
                .parse()
                .map_err(|e| anyhow::anyhow!("--lang {lang}: {e}"))?;
            let policy = match device {
                // The enrolled policy, whatever the default is (ENR-20).
                Some(d) => {
                    let d = minimis_client::store::load(d, &passphrase()?)?;
                    (*d.enrollment().policy).clone()
                }
                None => crate::load_policy(policy.as_ref())?,
            };
            let tr = match (translation, language) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(Translation::from_toml_str(&text, &policy)?)
                }
                (None, Language::Spanish) => Some(
                    Translation::from_toml_str(minimis_client::notice::DEFAULT_POLICY_ES, &policy)
                        .context(
                            "no Spanish translation of this policy: give --translation FILE",
                        )?,
                ),
                (None, Language::English) => None,
            };
            print!("{}", notice(&policy, language, tr.as_ref()));
            Ok(Outcome::Success)
        }
        ParticipantCommand::History {
            device,
            operator,
            now,
            json,
        } => {
            let passphrase = passphrase()?;
            let now = device_time(*now)?;
            let mut d = minimis_client::store::load(device, &passphrase)?;
            // The device deletes its copy of content past its deadline first (RET-23).
            d.apply_retention(now);
            let history = match operator.api()? {
                None => d.history_offline(),
                Some(api) => runtime()?
                    .block_on(d.history(&api, now))
                    .context("cannot put the record together")?,
            };
            minimis_client::store::save(&d, device, &passphrase)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&history)?);
            } else {
                print!("{}", history.to_text());
            }
            Ok(Outcome::Success)
        }
        ParticipantCommand::Report {
            device,
            operator,
            challenge,
            category,
            now,
        } => {
            let passphrase = passphrase()?;
            let now = device_time(*now)?;
            let mut d = minimis_client::store::load(device, &passphrase)?;
            if let (Some(c), Some(k)) = (challenge, category) {
                let c: ChallengeId = c
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--challenge {c}: {e}"))?;
                let k: FailureCategory = k
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--category {k}: {e}"))?;
                d.record_failure(c, k, now);
                println!("{}", minimis_client::words::failure_notice(k));
            }
            minimis_client::store::save(&d, device, &passphrase)?;
            let pending = d.unreported_failures();
            match operator.api()? {
                None => println!(
                    "{} report(s) recorded on this device, to deliver with --operator.",
                    pending.len()
                ),
                Some(api) => {
                    let rt = runtime()?;
                    let mut delivered = 0;
                    for f in pending {
                        // The same report again changes nothing at the server (a retry
                        // whose answer was lost); a different one already there is refused.
                        if let Err(e) =
                            rt.block_on(api.report_failure(&d, f.challenge, f.category, None, now))
                        {
                            minimis_client::store::save(&d, device, &passphrase)?;
                            return Err(e).context("the report could not be delivered");
                        }
                        d.mark_reported(f.challenge);
                        delivered += 1;
                    }
                    minimis_client::store::save(&d, device, &passphrase)?;
                    println!("{delivered} report(s) delivered.");
                }
            }
            Ok(Outcome::Success)
        }
    }
}
