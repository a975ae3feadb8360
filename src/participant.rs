//! `minimis participant …`: what the participant's device shows them.

use std::path::PathBuf;

use anyhow::Context as _;
use minimis_client::notice::{Language, Translation, notice};

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
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The translation of the policy's texts for `--lang` (default for `es` with the
        /// reference policy: the embedded `policy/default.es.toml`).
        #[arg(long, value_name = "FILE")]
        translation: Option<PathBuf>,
    },
    /// Show what the device holds: its check-ins and receipts (verified again), the
    /// challenges it refused and why, and the failures it recorded. Reads the device's
    /// encrypted store; the passphrase is read from the environment variable
    /// MINIMIS_DEVICE_PASSPHRASE.
    History {
        /// The device's store (an age file).
        #[arg(long, value_name = "FILE")]
        device: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(cmd: &ParticipantCommand) -> anyhow::Result<Outcome> {
    match cmd {
        ParticipantCommand::Notice {
            lang,
            policy,
            translation,
        } => {
            let language: Language = lang
                .parse()
                .map_err(|e| anyhow::anyhow!("--lang {lang}: {e}"))?;
            let policy = crate::load_policy(policy.as_ref())?;
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
        ParticipantCommand::History { device, json } => {
            let passphrase = std::env::var("MINIMIS_DEVICE_PASSPHRASE")
                .context("set MINIMIS_DEVICE_PASSPHRASE to the device store's passphrase")?;
            let mut d = minimis_client::store::load(device, &passphrase)?;
            // Receipts are verified again before they are shown.
            let receipts: Vec<_> = d.sent().iter().filter_map(|s| s.receipt.clone()).collect();
            let mut verified = 0;
            for r in receipts {
                if d.keep_receipt(r).is_ok() {
                    verified += 1;
                }
            }
            let checkins: Vec<_> = d
                .sent()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "challenge": s.challenge,
                        "epoch": s.epoch,
                        "record_id": s.record_id,
                        "zone": s.payload.zone,
                        "presence": s.payload.presence,
                        "device_time": s.payload.device_time,
                        "note": s.payload.note.expose(),
                        "receipt": s.receipt.is_some(),
                    })
                })
                .collect();
            let report = serde_json::json!({
                "pseudonym": d.pseudonym(),
                "checkins": checkins,
                "receipts_verified": verified,
                "refused_challenges": d.refused(),
                "failures": d.failures(),
                "location_fixes_taken": d.fixes_taken(),
            });
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("pseudonym {}", d.pseudonym());
                println!(
                    "check-ins ({}; {verified} receipts verified):",
                    d.sent().len()
                );
                for s in d.sent() {
                    println!(
                        "  {}  epoch {}  zone {:?}  presence {:?}  receipt {}",
                        s.payload.device_time,
                        s.epoch,
                        s.payload.zone,
                        s.payload.presence,
                        if s.receipt.is_some() { "yes" } else { "no" }
                    );
                }
                println!("challenges refused ({}):", d.refused().len());
                for r in d.refused() {
                    println!("  {}  {}  ({})", r.at, r.challenge.challenge.id, r.reason);
                }
                println!("failures recorded ({}):", d.failures().len());
                for f in d.failures() {
                    println!(
                        "  {}  {:?}  {}",
                        f.at,
                        f.category,
                        if f.reported {
                            "reported"
                        } else {
                            "not yet reported"
                        }
                    );
                }
                println!("location fixes taken: {}", d.fixes_taken());
            }
            Ok(Outcome::Success)
        }
    }
}
