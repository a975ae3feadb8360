//! `minimis audit DIR`: verify an exported log and check the policy's claims from it.
//! `minimis audit https://HOST[:PORT][/PREFIX]`: the same audit of a log served over
//! HTTPS, read as a C2SP tlog-tiles client reads it (AUD-13; [`https`]).
//! `minimis audit report DIR --html FILE`: the same audit, written as one self-contained
//! HTML file for policymakers and auditors, with charts and a vendor inventory compared
//! with minimis.
//!
//! Exit codes (spec/audit.md, AUD-12): 0 every claim holds; 1 a policy claim is
//! violated; 2 usage or I/O error, nothing verified; 3 the log does not verify. The report
//! is written whenever the log verifies (exit 0 or 1); when it does not (exit 3), the
//! verification table is printed and no file is written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use minimis_audit::html::{LogFigures, ReportInputs, render};
use minimis_audit::inventory::{Inventory, SMARTLINK_INVENTORY};
use minimis_audit::layout::{read_policy, read_vkey, read_vkeys};
use minimis_audit::series::{DEMO_SERIES_FILE, DEMO_SERIES_FORMAT, DemoSeries};
use minimis_audit::{
    AuditFailure, Auditor, AuditorState, ExportDir, LogSource as _, Participant, TlogClient,
    parse_time,
};
use minimis_log::{MemoryStorage, VerifierKey};
use minimis_proto::{Policy, Schedule, UnixTime};

use crate::Outcome;

mod https;

/// `minimis audit` arguments: `minimis audit DIR|URL [OPTIONS]`, or
/// `minimis audit report DIR --html FILE [OPTIONS]`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// The log: an export directory (DIR/log/ in C2SP tlog-tiles, DIR/log.vkey,
    /// DIR/witnesses.vkey and DIR/policy.toml, as `minimis demo --export DIR` writes
    /// them), or a log served over HTTPS, `https://HOST[:PORT][/PREFIX]` (with no path,
    /// the prefix of `minimis serve`'s log, /v1/log), which needs --ca, --log-key and
    /// --witness.
    #[arg(required = true, value_name = "DIR|URL")]
    log: Option<PathBuf>,
    #[command(flatten)]
    inputs: InputArgs,
    // Boxed: only a URL uses it, and it keeps `minimis`'s command enum small.
    #[command(flatten)]
    remote: Box<RemoteArgs>,
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

#[derive(Subcommand)]
enum AuditCommand {
    /// Audit DIR as `minimis audit DIR` does, and write the result as one self-contained
    /// HTML file (no external resource) for policymakers and auditors: the verdict of
    /// every check with its requirement IDs, the log's facts, charts, and a vendor's
    /// inventory held against minimis. Exit codes as for `minimis audit`.
    Report(ReportArgs),
}

/// `minimis audit report` arguments.
#[derive(Args)]
struct ReportArgs {
    /// The export directory, as for `minimis audit DIR`. If it holds demo-series.json
    /// (written by `minimis demo --export DIR`), the report adds the demo's two charts of
    /// data held.
    dir: PathBuf,
    /// Where to write the report.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// The inventory to hold against minimis in the report (default: BI SmartLINK as
    /// publicly documented, examples/inventories/smartlink.toml, built in).
    #[arg(long, value_name = "FILE")]
    inventory: Option<PathBuf>,
    #[command(flatten)]
    inputs: InputArgs,
}

/// How a log served over HTTPS is fetched (AUD-13).
#[derive(Args)]
struct RemoteArgs {
    /// For an https:// log: the PEM certificate(s) of the CA that signed the server's
    /// certificate (for `minimis serve`, its DATA/tls/server.crt). Required: the system's
    /// roots are not used.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// For an https:// log: the time allowed for each request, in seconds (default 30).
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: Option<u64>,
    /// For an https:// log: the most it may take, tiles and bundles together, in bytes
    /// (default 4 GiB); a larger log is refused before its tiles are fetched.
    #[arg(long, value_name = "BYTES")]
    max_bytes: Option<u64>,
}

/// The time allowed for each request to a log served over HTTPS, by default.
const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

/// What both forms read besides the directory.
#[derive(Args)]
struct InputArgs {
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

/// An auditor set up from an export directory and the options.
struct Prepared {
    auditor: Auditor,
    log_key: VerifierKey,
    export: ExportDir,
    policies: Vec<Policy>,
}

fn prepare(dir: &Path, args: &InputArgs) -> anyhow::Result<Prepared> {
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
    let mut policies = Vec::new();
    if let Some(p) = &export.policy {
        policies.push(p.clone());
    }
    for f in &args.policies {
        policies.push(read_policy(f)?);
    }
    for p in &policies {
        auditor = auditor.policy(p.clone());
    }
    Ok(Prepared {
        auditor,
        log_key,
        export,
        policies,
    })
}

fn load_state(args: &InputArgs) -> anyhow::Result<AuditorState> {
    Ok(match &args.state {
        Some(f) => AuditorState::load(f)?.unwrap_or_default(),
        None => AuditorState::new(),
    })
}

/// Participant mode's inputs, if given (AUD-11).
fn participant(args: &AuditArgs) -> anyhow::Result<Option<Participant>> {
    let (Some(tag_key), Some(pseudonym)) = (&args.tag_key, &args.pseudonym) else {
        return Ok(None);
    };
    let mut participant = Participant::from_hex(tag_key, pseudonym)?;
    if let Some(f) = &args.schedule {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read schedule file {}", f.display()))?;
        let schedule: Schedule = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a schedule", f.display()))?;
        participant = participant.with_schedule(schedule);
    }
    Ok(Some(participant))
}

/// Whether the log argument names a URL rather than a directory.
fn is_url(arg: &Path) -> Option<&str> {
    arg.to_str().filter(|s| s.contains("://"))
}

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    if let Some(AuditCommand::Report(report)) = &args.command {
        return run_report(report);
    }
    let log = args.log.as_ref().context(
        "give the log: minimis audit DIR, or minimis audit https://HOST[:PORT][/PREFIX]",
    )?;
    if let Some(url) = is_url(log) {
        return run_https(url, args);
    }
    let remote = &args.remote;
    if remote.ca.is_some() || remote.timeout.is_some() || remote.max_bytes.is_some() {
        bail!(
            "--ca, --timeout and --max-bytes are for a log served over HTTPS (https://...); {} is a directory",
            log.display()
        );
    }
    let Prepared {
        mut auditor,
        log_key,
        export,
        ..
    } = prepare(log, &args.inputs)?;
    if let Some(p) = participant(args)? {
        auditor = auditor.participant(p);
    }
    let state = load_state(&args.inputs)?;
    let source = export.source();
    let storage = source
        .fetch()
        .with_context(|| format!("cannot read the log in {}", source.location()))?;
    finish(args, &auditor, &log_key, state, storage, &source.location())
}

/// `minimis audit https://...` (AUD-13): the keys from files (AUD-14), the log fetched
/// as a tlog-tiles client does, then the same audit as for a directory.
fn run_https(url: &str, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let url = https::LogUrl::parse(url)?;
    let inputs = &args.inputs;
    let log_key_file = inputs.log_key.as_ref().with_context(|| {
        format!(
            "give --log-key FILE for {}: the log's verifier key, from the log's own publication (AUD-14); it is not taken from the server being audited",
            url.location()
        )
    })?;
    if inputs.witnesses.is_empty() {
        bail!(
            "give --witness FILE for {}: the keys of the witnesses whose cosignatures the checkpoint must carry, one per line (AUD-1); an empty file requires none",
            url.location()
        );
    }
    let ca = args.remote.ca.as_ref().with_context(|| {
        format!(
            "give --ca FILE for {}: the PEM certificate of the CA that signed the server's certificate (for `minimis serve`, DATA/tls/server.crt); the system's roots are not used",
            url.location()
        )
    })?;
    let roots = https::read_roots(ca)?;
    let log_key = read_vkey(log_key_file)?;
    let mut auditor = Auditor::new(log_key.clone(), now(inputs.now.as_deref())?);
    for f in &inputs.witnesses {
        for k in read_vkeys(f)? {
            auditor = auditor.witness(k);
        }
    }
    let mut policies = Vec::new();
    for f in &inputs.policies {
        policies.push(read_policy(f)?);
    }
    if let Some(p) = participant(args)? {
        auditor = auditor.participant(p);
    }
    let state = load_state(inputs)?;
    let timeout =
        std::time::Duration::from_secs(args.remote.timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS));
    let source = TlogClient::new(https::HttpsFetch::new(url, roots, timeout)?).max_bytes(
        args.remote
            .max_bytes
            .unwrap_or(minimis_audit::remote::DEFAULT_MAX_BYTES),
    );
    let storage = source
        .fetch()
        .with_context(|| format!("cannot fetch the log from {}", source.location()))?;
    // The operator's own policy file, when the log publishes its hash and it was not
    // given: the hash, computed here, is what makes it safe to use.
    let published = https::published_policies(&storage);
    if published
        .iter()
        .any(|h| !policies.iter().any(|p| p.hash() == *h))
    {
        match source.transport().operator_policy() {
            Ok(Some(p)) if published.contains(&p.hash()) => {
                if !policies.iter().any(|g| g.hash() == p.hash()) {
                    eprintln!(
                        "minimis: using the policy the operator serves (sha256:{}), whose hash the log publishes",
                        p.hash()
                    );
                    policies.push(p);
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("minimis: the operator's policy could not be read: {e}"),
        }
    }
    for p in policies {
        auditor = auditor.policy(p);
    }
    finish(args, &auditor, &log_key, state, storage, &source.location())
}

/// Audits `storage`, prints the report or why the log does not verify, and records the
/// verified checkpoint in the state file.
fn finish(
    args: &AuditArgs,
    auditor: &Auditor,
    log_key: &VerifierKey,
    mut state: AuditorState,
    storage: MemoryStorage,
    location: &str,
) -> anyhow::Result<Outcome> {
    let pinned = state.get(log_key.name().as_str()).cloned();
    match auditor.audit(storage, pinned.as_ref()) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_table());
            }
            if let Some(f) = &args.inputs.state {
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
                println!("{}", serde_json::to_string_pretty(&e.to_json(location))?);
            } else {
                print!("{}", e.to_table(location));
            }
            Ok(Outcome::LogDoesNotVerify)
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads DIR/demo-series.json, if it is there.
fn read_series(dir: &Path) -> anyhow::Result<Option<DemoSeries>> {
    let path = dir.join(DEMO_SERIES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let series: DemoSeries = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a {DEMO_SERIES_FORMAT} file", path.display()))?;
    if series.format != DEMO_SERIES_FORMAT {
        bail!(
            "{} has format `{}`, not `{DEMO_SERIES_FORMAT}`",
            path.display(),
            series.format
        );
    }
    Ok(Some(series))
}

fn run_report(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let Prepared {
        auditor,
        log_key,
        export,
        policies,
    } = prepare(&args.dir, &args.inputs)?;
    let series = read_series(&args.dir)?;
    let inventory = match &args.inventory {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the inventory {}", f.display()))?;
            Inventory::from_toml_str(&text).with_context(|| format!("in {}", f.display()))?
        }
        None => Inventory::from_toml_str(SMARTLINK_INVENTORY)
            .context("the built-in SmartLINK inventory")?,
    };
    let mut state = load_state(&args.inputs)?;
    let source = export.source();
    let storage = source
        .fetch()
        .with_context(|| format!("cannot read the log in {}", source.location()))?;
    let pinned = state.get(log_key.name().as_str()).cloned();
    let report = match auditor.audit(storage.clone(), pinned.as_ref()) {
        Ok(report) => report,
        Err(AuditFailure::Verify(e)) => {
            print!("{}", e.to_table(&source.location()));
            eprintln!(
                "minimis: the log does not verify; no report written to {}",
                args.html.display()
            );
            return Ok(Outcome::LogDoesNotVerify);
        }
        Err(e) => return Err(e.into()),
    };
    // The policy the log publishes (the first given, if it publishes several).
    let policy = policies
        .iter()
        .find(|p| report.policies().iter().any(|i| i.hash == p.hash()))
        .cloned()
        .unwrap_or_else(minimis_proto::default_policy);
    let figures = LogFigures::read(storage, &log_key, Some(&policy))
        .with_context(|| format!("cannot count the figures of {}", source.location()))?;
    let comparison = inventory.compare(&policy);
    let html = render(&ReportInputs {
        report: &report,
        figures: &figures,
        series: series.as_ref(),
        comparison: Some(&comparison),
        generator: concat!("minimis ", env!("CARGO_PKG_VERSION")),
    })?;
    std::fs::write(&args.html, html)
        .with_context(|| format!("cannot write the report to {}", args.html.display()))?;
    if let Some(f) = &args.inputs.state {
        state.record(report.log_state().clone());
        state.save(f)?;
    }
    println!(
        "wrote {}: {}; {} gaps between {} and minimis{}",
        args.html.display(),
        if report.holds() {
            "every claim holds"
        } else {
            "a policy claim is violated"
        },
        comparison.gaps.len(),
        comparison.about.system,
        if series.is_none() {
            format!("; no {DEMO_SERIES_FILE}, so the demo's two charts are left out")
        } else {
            String::new()
        }
    );
    Ok(if report.holds() {
        Outcome::Success
    } else {
        Outcome::CheckFailed
    })
}

/// What `minimis demo` shows of its own audit.
pub(crate) struct DemoAudit {
    /// The exit code `minimis audit DIR` would give (0, 1 or 3).
    pub(crate) exit_code: u8,
    /// The report as a table (or the verification failure).
    pub(crate) table: String,
    /// Each check: what it covered, its requirement IDs, whether it held.
    pub(crate) checks: Vec<(String, &'static [&'static str], bool)>,
}

/// Audits an export directory as `minimis audit DIR --now NOW` does, and writes the HTML
/// report to `html` when the log verifies. The demo calls this on what it exported.
pub(crate) fn audit_export(
    dir: &Path,
    now: UnixTime,
    html: Option<&Path>,
) -> anyhow::Result<DemoAudit> {
    let inputs = InputArgs {
        log_key: None,
        witnesses: Vec::new(),
        policies: Vec::new(),
        state: None,
        now: Some(now.seconds().to_string()),
    };
    let Prepared {
        auditor,
        log_key,
        export,
        policies,
    } = prepare(dir, &inputs)?;
    let source = export.source();
    let storage = source
        .fetch()
        .with_context(|| format!("cannot read the log in {}", source.location()))?;
    let report = match auditor.audit(storage.clone(), None) {
        Ok(r) => r,
        Err(AuditFailure::Verify(e)) => {
            return Ok(DemoAudit {
                exit_code: 3,
                table: e.to_table(&source.location()),
                checks: Vec::new(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = html {
        let policy = policies
            .iter()
            .find(|p| report.policies().iter().any(|i| i.hash == p.hash()))
            .cloned()
            .unwrap_or_else(minimis_proto::default_policy);
        let figures = LogFigures::read(storage, &log_key, Some(&policy))
            .with_context(|| format!("cannot count the figures of {}", source.location()))?;
        let inventory = Inventory::from_toml_str(SMARTLINK_INVENTORY)
            .context("the built-in SmartLINK inventory")?;
        let comparison = inventory.compare(&policy);
        let page = render(&ReportInputs {
            report: &report,
            figures: &figures,
            series: read_series(dir)?.as_ref(),
            comparison: Some(&comparison),
            generator: concat!("minimis ", env!("CARGO_PKG_VERSION"), " demo"),
        })?;
        std::fs::write(path, page)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    Ok(DemoAudit {
        exit_code: report.exit_code(),
        table: report.to_table(),
        checks: report
            .checks()
            .iter()
            .map(|c| (c.summary.clone(), c.id.requirements(), c.holds()))
            .collect(),
    })
}
