//! `minimis audit DIR`: verify an exported log and check the policy's claims from it.
//! `minimis audit https://HOST[:PORT][/PREFIX]`: the same audit of a log served over
//! HTTPS, read as a C2SP tlog-tiles client reads it (AUD-13; [`https`]).
//! `minimis audit report DIR --html FILE`: the same audit, written as one self-contained
//! HTML file for policymakers and auditors, with charts and a vendor inventory compared
//! with minimis.
//!
//! Exit codes (spec/audit.md, AUD-12, AUD-30, AUD-33): 0 every claim holds; 1 a policy
//! claim is violated; 2 usage error, a file the user named that cannot be read, a server
//! that cannot be reached, a log larger than `--max-bytes`: nothing verified; 3 the log
//! does not verify, which includes any file of an export directory that is refused (a
//! link, a special file, too large) or malformed, a missing tile, and anything a server
//! answered that is not the log. The report is written whenever the log verifies (exit 0
//! or 1); when it does not (exit 3), the verification table is printed and no file is
//! written.
//!
//! Keys (AUD-34, AUD-35): the log key comes from `--log-key FILE`, or from `DIR/log.vkey`
//! only with `--trust-keys-in-dir`; the witness keys from `--witness FILE`, from
//! `DIR/witnesses.vkey` only with `--trust-keys-in-dir`, and from the state file. An
//! audit that requires no witness is refused unless `--allow-no-witness` is given. The
//! output names each key and where it came from.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use minimis_audit::html::{LogFigures, ReportInputs, render};
use minimis_audit::layout::{LOG_VKEY, WITNESSES_VKEY, read_policy, read_vkey, read_vkeys};
use minimis_audit::series::{DEMO_SERIES_FILE, read_series};
use minimis_audit::{
    AuditFailure, Auditor, AuditorState, DirKeys, ExportDir, KeyOrigin, LayoutError,
    LogSource as _, Participant, RemoteError, Report, TlogClient, parse_time,
};
use minimis_compare::{Inventory, SMARTLINK_INVENTORY};
use minimis_log::{TileStorage, VerifierKey};
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
    /// The log: an export directory (DIR/log/ in C2SP tlog-tiles, DIR/policy.toml, and
    /// DIR/log.vkey and DIR/witnesses.vkey, used only with --trust-keys-in-dir, as
    /// `minimis demo --export DIR` writes them), or a log served over HTTPS,
    /// `https://HOST[:PORT][/PREFIX]` (with no path, the prefix of `minimis serve`'s log,
    /// /v1/log), which needs --ca, --log-key and --witness.
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
    /// The log's verifier key (one line), from the log's own publication. Required,
    /// unless --trust-keys-in-dir takes DIR/log.vkey.
    #[arg(long, value_name = "FILE")]
    log_key: Option<PathBuf>,
    /// Require the cosignature of each witness key in FILE (one per line), from the
    /// witnesses' own publications. Repeatable.
    #[arg(long = "witness", value_name = "FILE")]
    witnesses: Vec<PathBuf>,
    /// Require the quorum of the C2SP tlog-policy FILE (its witnesses, groups and quorum
    /// rule), whose SHA-256 the log must declare last (entry 0x0f); a checkpoint below
    /// the quorum fails the audit with exit 3 (LOG-67). With --trust-keys-in-dir,
    /// DIR/witnesses.policy is used when this is not given.
    #[arg(long, value_name = "FILE")]
    tlog_policy: Option<PathBuf>,
    /// Use the keys the export directory holds (DIR/log.vkey, unless --log-key is given,
    /// and DIR/witnesses.vkey): they are only as trustworthy as whoever wrote the
    /// directory, who may be the operator being audited. The output says so.
    #[arg(long)]
    trust_keys_in_dir: bool,
    /// Audit even if no witness's cosignature is required (no --witness, an empty witness
    /// file, none pinned): the log's own signature then vouches for a checkpoint nobody
    /// else has seen. Refused without this flag.
    #[arg(long)]
    allow_no_witness: bool,
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

/// Why an export directory could not be prepared: a usage or I/O error of the user's
/// (exit 2), or a file of the directory refused or malformed (exit 3, AUD-30).
enum PrepareError {
    Usage(anyhow::Error),
    Export(LayoutError),
}

impl From<anyhow::Error> for PrepareError {
    fn from(e: anyhow::Error) -> Self {
        Self::Usage(e)
    }
}

fn origin_of(path: &Path) -> KeyOrigin {
    KeyOrigin::File {
        path: path.display().to_string(),
    }
}

/// The witness keys of the files the user named, with their origins.
fn named_witnesses(args: &InputArgs) -> anyhow::Result<Vec<(VerifierKey, KeyOrigin)>> {
    let mut out = Vec::new();
    for f in &args.witnesses {
        for k in read_vkeys(f)? {
            out.push((k, origin_of(f)));
        }
    }
    Ok(out)
}

fn prepare(dir: &Path, args: &InputArgs) -> Result<Prepared, PrepareError> {
    let keys = if args.trust_keys_in_dir {
        DirKeys::Trust
    } else {
        DirKeys::Ignore
    };
    let export = match ExportDir::read(dir, keys) {
        Ok(e) => e,
        Err(LayoutError::NotADirectory { .. }) => {
            return Err(anyhow::anyhow!(
                "{} is not a directory; give the directory `minimis demo --export` wrote (it holds log/ and policy.toml)",
                dir.display()
            )
            .into());
        }
        Err(e) => return Err(PrepareError::Export(e)),
    };
    // AUD-34: the log key from the user's file, or from the directory when trusted.
    let (log_key, log_key_origin) = match (&args.log_key, &export.log_key) {
        (Some(f), _) => (read_vkey(f).map_err(anyhow::Error::from)?, origin_of(f)),
        (None, Some(k)) => (
            k.clone(),
            KeyOrigin::ExportDir {
                path: dir.join(LOG_VKEY).display().to_string(),
            },
        ),
        (None, None) if args.trust_keys_in_dir => {
            return Err(anyhow::anyhow!(
                "no log key: {} is not there; give --log-key FILE",
                dir.join(LOG_VKEY).display()
            )
            .into());
        }
        (None, None) => {
            return Err(anyhow::anyhow!(
                "give --log-key FILE: the log's verifier key, from the log's own publication (AUD-34); the keys in {} are used only with --trust-keys-in-dir, since whoever wrote the directory chose them",
                dir.display()
            )
            .into());
        }
    };
    let mut auditor =
        Auditor::new(log_key.clone(), now(args.now.as_deref())?).log_key_origin(log_key_origin);
    for (k, origin) in named_witnesses(args)? {
        auditor = auditor.witness_from(k, origin);
    }
    if let Some(keys) = &export.witnesses {
        let origin = KeyOrigin::ExportDir {
            path: dir.join(WITNESSES_VKEY).display().to_string(),
        };
        for k in keys {
            auditor = auditor.witness_from(k.clone(), origin.clone());
        }
    }
    match (&args.tlog_policy, &export.tlog_policy) {
        (Some(f), _) => {
            let p = minimis_audit::layout::read_tlog_policy(f).map_err(anyhow::Error::from)?;
            auditor = auditor.tlog_policy(p, origin_of(f));
        }
        (None, Some(p)) => {
            let origin = KeyOrigin::ExportDir {
                path: dir
                    .join(minimis_audit::layout::TLOG_POLICY)
                    .display()
                    .to_string(),
            };
            auditor = auditor.tlog_policy(p.clone(), origin);
        }
        (None, None) => {}
    }
    if args.allow_no_witness {
        auditor = auditor.allow_no_witness();
    }
    let mut policies = Vec::new();
    if let Some(p) = &export.policy {
        policies.push(p.clone());
    }
    for f in &args.policies {
        policies.push(read_policy(f).map_err(anyhow::Error::from)?);
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

/// Prints why an export directory does not verify (exit 3), or returns the usage error.
fn export_failure(e: PrepareError, location: &str, json: bool) -> anyhow::Result<Outcome> {
    match e {
        PrepareError::Usage(e) => Err(e),
        PrepareError::Export(e) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&e.to_json(location))?);
            } else {
                print!("{}", e.to_table(location));
            }
            Ok(Outcome::LogDoesNotVerify)
        }
    }
}

fn load_state(args: &InputArgs) -> anyhow::Result<AuditorState> {
    Ok(match &args.state {
        Some(f) => AuditorState::load(f)?.unwrap_or_default(),
        None => AuditorState::new(),
    })
}

/// Reads a text file the user named, at most `max` bytes (AUD-30): a link is followed
/// and any kind of file read (the user chose it), but never past `max`.
pub(crate) fn read_user_file(path: &Path, max: usize, what: &str) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max as u64 + 1).read_to_string(&mut text))
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if text.len() > max {
        bail!(
            "the {what} {} is larger than the {max} bytes it can be",
            path.display()
        );
    }
    Ok(text)
}

/// Participant mode's inputs, if given (AUD-11).
fn participant(args: &AuditArgs) -> anyhow::Result<Option<Participant>> {
    let (Some(tag_key), Some(pseudonym)) = (&args.tag_key, &args.pseudonym) else {
        return Ok(None);
    };
    let mut participant = Participant::from_hex(tag_key, pseudonym)?;
    if let Some(f) = &args.schedule {
        let text = read_user_file(f, 64 << 10, "schedule file")?;
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
    let location = log
        .join(minimis_audit::layout::LOG_DIR)
        .display()
        .to_string();
    let Prepared {
        mut auditor,
        log_key,
        export,
        ..
    } = match prepare(log, &args.inputs) {
        Ok(p) => p,
        Err(e) => return export_failure(e, &location, args.json),
    };
    if let Some(p) = participant(args)? {
        auditor = auditor.participant(p);
    }
    let state = load_state(&args.inputs)?;
    let source = export.source();
    let storage = match source.fetch() {
        Ok(s) => s,
        Err(e) => {
            print_source_failure(&e, &source.location(), args.json)?;
            return Ok(Outcome::LogDoesNotVerify);
        }
    };
    finish(
        args,
        &auditor,
        &log_key,
        state,
        storage,
        &source.location(),
        |_| false,
    )
}

fn print_source_failure(
    e: &minimis_audit::SourceError,
    location: &str,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&e.to_json(location))?);
    } else {
        print!("{}", e.to_table(location));
    }
    Ok(())
}

/// `minimis audit https://...` (AUD-13): the keys from files (AUD-14, AUD-34), the log
/// fetched as a tlog-tiles client does, each resource when the audit needs it and bounded
/// (AUD-31, AUD-33), then the same audit as for a directory.
fn run_https(url: &str, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let url = https::LogUrl::parse(url)?;
    let inputs = &args.inputs;
    if inputs.trust_keys_in_dir {
        bail!(
            "--trust-keys-in-dir is for an export directory; for {} give --log-key FILE and --witness FILE",
            url.location()
        );
    }
    let log_key_file = inputs.log_key.as_ref().with_context(|| {
        format!(
            "give --log-key FILE for {}: the log's verifier key, from the log's own publication (AUD-14); it is not taken from the server being audited",
            url.location()
        )
    })?;
    if inputs.witnesses.is_empty() && inputs.tlog_policy.is_none() && !inputs.allow_no_witness {
        bail!(
            "give --witness FILE for {}: the keys of the witnesses whose cosignatures the checkpoint must carry, one per line (AUD-1); or --allow-no-witness to audit with none",
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
    let mut auditor = Auditor::new(log_key.clone(), now(inputs.now.as_deref())?)
        .log_key_origin(origin_of(log_key_file));
    for (k, origin) in named_witnesses(inputs)? {
        auditor = auditor.witness_from(k, origin);
    }
    if let Some(f) = &inputs.tlog_policy {
        let p = minimis_audit::layout::read_tlog_policy(f)?;
        auditor = auditor.tlog_policy(p, origin_of(f));
    }
    if inputs.allow_no_witness {
        auditor = auditor.allow_no_witness();
    }
    let mut given = Vec::new();
    for f in &inputs.policies {
        given.push(read_policy(f)?);
    }
    for p in &given {
        auditor = auditor.policy(p.clone());
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
    // The operator's own policy file, offered: used only if the log publishes its hash,
    // which the audit checks (POL-12).
    let offered = match source.transport().operator_policy() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("minimis: the operator's policy could not be read: {e}");
            None
        }
    };
    if let Some(p) = &offered {
        auditor = auditor.offered_policy(p.clone());
    }
    let storage = source.fetch()?;
    let used_offered = |report: &Report| {
        if let Some(p) = &offered
            && !given.iter().any(|g| g.hash() == p.hash())
            && report.policies().iter().any(|i| i.hash == p.hash())
        {
            eprintln!(
                "minimis: using the policy the operator serves (sha256:{}), whose hash the log publishes",
                p.hash()
            );
        }
    };
    finish_with(
        args,
        &auditor,
        &log_key,
        state,
        storage,
        &source.location(),
        |e: &RemoteError| e.could_not_check(),
        used_offered,
    )
}

/// Audits `storage`, prints the report or why the log does not verify, and records the
/// verified checkpoint in the state file. `could_not_check` says which storage errors
/// mean the log could not be checked (exit 2) rather than that it does not verify.
fn finish<S: TileStorage>(
    args: &AuditArgs,
    auditor: &Auditor,
    log_key: &VerifierKey,
    state: AuditorState,
    storage: S,
    location: &str,
    could_not_check: impl Fn(&S::Error) -> bool,
) -> anyhow::Result<Outcome> {
    finish_with(
        args,
        auditor,
        log_key,
        state,
        storage,
        location,
        could_not_check,
        |_| {},
    )
}

#[allow(clippy::too_many_arguments)]
fn finish_with<S: TileStorage>(
    args: &AuditArgs,
    auditor: &Auditor,
    log_key: &VerifierKey,
    mut state: AuditorState,
    storage: S,
    location: &str,
    could_not_check: impl Fn(&S::Error) -> bool,
    on_report: impl Fn(&Report),
) -> anyhow::Result<Outcome> {
    let pinned = state.get(log_key.name().as_str()).cloned();
    match auditor.audit(storage, pinned.as_ref()) {
        Ok(report) => {
            on_report(&report);
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
        Err(AuditFailure::Verify(e)) if e.storage_error().is_some_and(&could_not_check) => {
            Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot check the log at {location}"))
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

fn run_report(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let location = args
        .dir
        .join(minimis_audit::layout::LOG_DIR)
        .display()
        .to_string();
    let Prepared {
        auditor,
        log_key,
        export,
        policies,
    } = match prepare(&args.dir, &args.inputs) {
        Ok(p) => p,
        Err(e) => return export_failure(e, &location, false),
    };
    let series = match read_series(export.handle()) {
        Ok(s) => s,
        Err(e) => return export_failure(PrepareError::Export(e), &location, false),
    };
    let inventory = match &args.inventory {
        Some(f) => {
            let text = read_user_file(f, 1 << 20, "inventory")?;
            Inventory::from_toml_str(&text).with_context(|| format!("in {}", f.display()))?
        }
        None => Inventory::from_toml_str(SMARTLINK_INVENTORY)
            .context("the built-in SmartLINK inventory")?,
    };
    let mut state = load_state(&args.inputs)?;
    let source = export.source();
    let storage = match source.fetch() {
        Ok(s) => s,
        Err(e) => {
            print_source_failure(&e, &source.location(), false)?;
            return Ok(Outcome::LogDoesNotVerify);
        }
    };
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
    // The demo wrote the directory itself, from the keys of the services it ran: it
    // trusts the keys there, and its report says where they came from (AUD-34).
    let inputs = InputArgs {
        log_key: None,
        witnesses: Vec::new(),
        tlog_policy: None,
        trust_keys_in_dir: true,
        allow_no_witness: false,
        policies: Vec::new(),
        state: None,
        now: Some(now.seconds().to_string()),
    };
    let Prepared {
        auditor,
        log_key,
        export,
        policies,
    } = match prepare(dir, &inputs) {
        Ok(p) => p,
        Err(PrepareError::Usage(e)) => return Err(e),
        Err(PrepareError::Export(e)) => {
            return Ok(DemoAudit {
                exit_code: 3,
                table: e.to_table(&dir.display().to_string()),
                checks: Vec::new(),
            });
        }
    };
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
            series: read_series(export.handle())?.as_ref(),
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
