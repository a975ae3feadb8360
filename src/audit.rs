//! `minimis audit DIR`: verify an exported log and check the policy's claims from it.
//!
//! Exit codes (spec/audit.md, AUD-12): 0 every claim holds; 1 a policy claim is
//! violated; 2 usage or I/O error, nothing verified; 3 the log does not verify.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use minimis_audit::layout::{read_policy, read_vkey, read_vkeys};
use minimis_audit::{
    AuditFailure, Auditor, AuditorState, ExportDir, LogSource as _, Participant, parse_time,
};
use minimis_proto::{Schedule, UnixTime};

use crate::Outcome;

/// `minimis audit` arguments.
#[derive(Args)]
pub(crate) struct AuditArgs {
    /// The export directory: DIR/log/ (C2SP tlog-tiles), DIR/log.vkey, DIR/witnesses.vkey
    /// and DIR/policy.toml, as `minimis demo --export DIR` writes them.
    dir: PathBuf,
    /// The log's verifier key (one line), instead of DIR/log.vkey.
    #[arg(long, value_name = "FILE")]
    log_key: Option<PathBuf>,
    /// Require the cosignature of each witness key in FILE (one per line), besides those
    /// of DIR/witnesses.vkey. Repeatable.
    #[arg(long = "witness", value_name = "FILE")]
    witnesses: Vec<PathBuf>,
    /// A policy the log may publish, besides DIR/policy.toml. Repeatable.
    #[arg(long = "policy", value_name = "FILE")]
    policies: Vec<PathBuf>,
    /// The auditor's own state between runs: the last verified checkpoint per log and
    /// the pinned keys. Created on the first run; later runs require consistency.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// The time deadlines are checked against: Unix seconds or RFC 3339 (default: the
    /// system clock).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Participant mode: the participant's tag key, 64 hex characters.
    #[arg(long, value_name = "HEX", requires = "pseudonym")]
    tag_key: Option<String>,
    /// Participant mode: the participant's pseudonym, 32 hex characters.
    #[arg(long, value_name = "HEX", requires = "tag_key")]
    pseudonym: Option<String>,
    /// Participant mode: the participant's schedule (JSON, as in spec/schedule.md), to
    /// check their challenges against.
    #[arg(long, value_name = "FILE", requires = "tag_key")]
    schedule: Option<PathBuf>,
}

fn now(arg: Option<&str>) -> anyhow::Result<UnixTime> {
    match arg {
        Some(t) => Ok(parse_time(t)?),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970; give --now")?
                .as_secs();
            Ok(UnixTime(
                i64::try_from(secs).context("the system clock is out of range")?,
            ))
        }
    }
}

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the directory `minimis demo --export` wrote (it holds log/, log.vkey, witnesses.vkey and policy.toml)",
            dir.display()
        );
    }
    let export = ExportDir::read(dir)?;
    let log_key = match &args.log_key {
        Some(f) => read_vkey(f)?,
        None => export.log_key.clone().with_context(|| {
            format!(
                "no log key: {} is missing; give --log-key FILE",
                dir.join(minimis_audit::layout::LOG_VKEY).display()
            )
        })?,
    };
    let mut auditor = Auditor::new(log_key.clone(), now(args.now.as_deref())?);
    match &export.witnesses {
        Some(keys) => {
            for k in keys {
                auditor = auditor.witness(k.clone());
            }
        }
        None if args.witnesses.is_empty() => bail!(
            "{} is missing; an empty file requires no witness, or give --witness FILE",
            dir.join(minimis_audit::layout::WITNESSES_VKEY).display()
        ),
        None => {}
    }
    for f in &args.witnesses {
        for k in read_vkeys(f)? {
            auditor = auditor.witness(k);
        }
    }
    if let Some(p) = &export.policy {
        auditor = auditor.policy(p.clone());
    }
    for f in &args.policies {
        auditor = auditor.policy(read_policy(f)?);
    }
    if let (Some(tag_key), Some(pseudonym)) = (&args.tag_key, &args.pseudonym) {
        let mut participant = Participant::from_hex(tag_key, pseudonym)?;
        if let Some(f) = &args.schedule {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read schedule file {}", f.display()))?;
            let schedule: Schedule = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a schedule", f.display()))?;
            participant = participant.with_schedule(schedule);
        }
        auditor = auditor.participant(participant);
    }
    let mut state = match &args.state {
        Some(f) => AuditorState::load(f)?.unwrap_or_default(),
        None => AuditorState::new(),
    };
    let source = export.source();
    let storage = source
        .fetch()
        .with_context(|| format!("cannot read the log in {}", source.location()))?;
    let pinned = state.get(log_key.name().as_str()).cloned();
    match auditor.audit(storage, pinned.as_ref()) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_table());
            }
            if let Some(f) = &args.state {
                state.record(report.log_state().clone());
                state.save(f)?;
            }
            Ok(if report.holds() {
                Outcome::Success
            } else {
                Outcome::CheckFailed
            })
        }
        Err(AuditFailure::Verify(e)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&e.to_json(&source.location()))?
                );
            } else {
                print!("{}", e.to_table(&source.location()));
            }
            Ok(Outcome::LogDoesNotVerify)
        }
        Err(e) => Err(e.into()),
    }
}
