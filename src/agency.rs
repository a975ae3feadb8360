//! `minimis agency …`: the agency's enrollment station (`minimis_client::station`): its
//! enrollment key, and the signed enrollment bundle it issues to a device at the
//! in-person enrollment (ENR-4, ENR-30 to ENR-33).

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use minimis_client::bundle::{ZoneCommitment, ZoneSalt};
use minimis_client::location::Zone;
use minimis_client::station::{self, BundleRequest, StationConfig};
use minimis_log::KeyName;
use minimis_proto::{Pseudonym, PublicKey, Schedule, UnixTime};

use crate::Outcome;

/// `minimis agency` commands.
#[derive(clap::Subcommand)]
pub(crate) enum AgencyCommand {
    /// Make the agency's enrollment key (an Ed25519 key, kept in a file readable by its
    /// owner only) and print its verifier key, which every device pins at enrollment.
    Keygen {
        /// The key file to make (refused if it exists).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The key's name in its signed notes, e.g. `agency.example/enrollment`.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// Issue a signed enrollment bundle for one device (ENR-4, ENR-30): the pseudonym
    /// the operator assigned, the device's key, the schedule and zone the agency or a
    /// court ordered, and every key the device is to trust, from the station's
    /// configuration file. Prints the bundle (a C2SP signed note) or writes it to --out.
    IssueBundle(IssueArgs),
}

/// Options of `minimis agency issue-bundle`.
#[derive(clap::Args)]
pub(crate) struct IssueArgs {
    /// The station's configuration file (spec/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The pseudonym from the operator's enrollment answer (32 hex digits).
    #[arg(long, value_name = "HEX")]
    pseudonym: String,
    /// The device's Ed25519 public key (base64), as the device shows it.
    #[arg(long, value_name = "BASE64")]
    device_key: String,
    /// The schedule (a JSON file, as `POST /v1/enrollments` took it).
    #[arg(long, value_name = "FILE")]
    schedule: PathBuf,
    /// The ordered zone (a GeoJSON file), if one was ordered; requires --zone-salt.
    #[arg(long, value_name = "FILE", requires = "zone_salt")]
    zone: Option<PathBuf>,
    /// Where to write the zone commitment's fresh random salt (hex; a new file, readable
    /// by its owner only). It goes to the device with the zone; it is not in the bundle.
    #[arg(long, value_name = "FILE", requires = "zone")]
    zone_salt: Option<PathBuf>,
    /// The issue time, in seconds since 1970 (default: the system clock).
    #[arg(long, value_name = "SECONDS")]
    issued: Option<i64>,
    /// Write the bundle to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) fn run(command: &AgencyCommand) -> anyhow::Result<Outcome> {
    match command {
        AgencyCommand::Keygen { key_file, name } => {
            let name = KeyName::new(name).context("--name")?;
            if key_file.exists() {
                anyhow::bail!(
                    "{} exists: the enrollment key is made once (devices pin it)",
                    key_file.display()
                );
            }
            let key = station::enrollment_key(key_file, true)?;
            let signer = minimis_log::NoteSigner::new(name, key);
            println!("{}", signer.verifier_key());
            eprintln!(
                "minimis agency keygen: the enrollment key is in {} (keep it off the operator's machines); the line above is its verifier key, which devices pin",
                key_file.display()
            );
            Ok(Outcome::Success)
        }
        AgencyCommand::IssueBundle(args) => issue(args),
    }
}

fn issue(args: &IssueArgs) -> anyhow::Result<Outcome> {
    let config = StationConfig::load(&args.config)?;
    let policy = crate::load_policy(config.policy.as_ref())?;
    let key = station::enrollment_key(&config.key_file, false)?;
    let signer = station::signer(&config, key);
    let pseudonym: Pseudonym = args
        .pseudonym
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--pseudonym must be 32 lowercase hex digits"))?;
    let device_key = base64::engine::general_purpose::STANDARD
        .decode(args.device_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(PublicKey)
        .ok_or_else(|| anyhow::anyhow!("--device-key must be a base64 Ed25519 key (32 bytes)"))?;
    let text = std::fs::read_to_string(&args.schedule)
        .with_context(|| format!("cannot read {}", args.schedule.display()))?;
    let schedule: Schedule = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a schedule", args.schedule.display()))?;
    let zone = match (&args.zone, &args.zone_salt) {
        (Some(z), Some(salt_file)) => {
            let text = std::fs::read_to_string(z)
                .with_context(|| format!("cannot read {}", z.display()))?;
            let zone = Zone::from_geojson(&text).with_context(|| format!("{}", z.display()))?;
            if salt_file.exists() {
                anyhow::bail!("{} exists: name a new file", salt_file.display());
            }
            let salt = ZoneSalt::generate()?;
            let commitment = ZoneCommitment::new(&salt, &zone);
            Some((commitment, salt, salt_file))
        }
        _ => None,
    };
    let issued = match args.issued {
        Some(s) => UnixTime(s),
        None => UnixTime(
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .context("the system clock is before 1970")?
                    .as_secs(),
            )
            .context("the system clock is out of range")?,
        ),
    };
    let note = station::issue(
        &config,
        &policy,
        &signer,
        BundleRequest {
            pseudonym,
            device_key,
            schedule,
            zone: zone.as_ref().map(|(c, _, _)| *c),
            issued,
        },
    )?;
    // Written only once the bundle is signed: a refusal leaves no salt file behind.
    if let Some((_, salt, file)) = &zone {
        minimis_service::files::write_atomic(
            file,
            format!("{}\n", hex::encode(salt.expose_secret())).as_bytes(),
            true,
        )
        .with_context(|| format!("cannot write {}", file.display()))?;
    }
    match &args.out {
        Some(p) => {
            std::fs::write(p, &note).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("minimis agency issue-bundle: wrote {}", p.display());
        }
        None => print!("{note}"),
    }
    Ok(Outcome::Success)
}
