//! `minimis demo`: the whole system, for real, on one machine.
//!
//! The operator's server and both key custodians run as TLS 1.3 services on loopback,
//! each with its own data directory ([`stack`]). Simulated participants enroll through an
//! officer's mutual-TLS connection, and their phones, each a [`minimis_client::Device`],
//! answer their scheduled challenges over HTTPS for a simulated year ([`people`]): most on
//! time, some late, some missed for a technical reason and reported, a few outside their
//! zone. Officers open a few records through the custodians with an allowed purpose; one
//! tries without and is refused. One officer tries to follow a participant with ad-hoc
//! challenges: the server stops at the schedule's caps, and challenges a compromised
//! operator signs past them are refused by the phone. Retention runs on schedule: the
//! custodians destroy each epoch's keys at its deadline, the operator purges, and a backup
//! of the operator's database taken the day before is shown unreadable after it. At the
//! end the log is fetched over HTTPS as any outsider would fetch it, exported, and
//! audited; the audit report is written as HTML.
//!
//! The services run on simulated clocks that the demo moves hour by hour: a documented
//! demo and test mode; production services use the real clock.

mod people;
mod scan;
mod stack;
mod summary;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minimis_audit::series::{CategoryRow, DEMO_SERIES_FORMAT, DemoSeries, HeldSample};
use minimis_client::bundle::{ZoneCommitment, ZoneSalt};
use minimis_client::transport::{Https, Request, Transport as _};
use minimis_client::{Api, Bundle, Device};
use minimis_crypto::{SigningKey, TagKey};
use minimis_log::{LogEntry, MemoryStorage, TileStorage as _, VerifierKey};
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CiphertextBounds, EpochId, Policy, Pseudonym, RecordId,
    SignedEpochRecipient, UnixTime,
};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use self::people::{Behaviour, Person, Tally, behaviour};
use self::stack::{Stack, pick};
use self::summary::*;
use crate::Outcome;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Options of `minimis demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// How many participants to enroll (197490 is the whole FY2023 ISAP population).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=250_000))]
    participants: u32,
    /// How many weeks to simulate, ending now (52: a year; at least 15 to see a retention
    /// deadline pass under the reference policy).
    #[arg(long, default_value_t = 52, value_parser = clap::value_parser!(u32).range(1..=260))]
    weeks: u32,
    /// Keep every service's data here (a new or empty directory) instead of a temporary
    /// directory removed at the end.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Also write the export (sealed records, the live epoch's identity files, the log as
    /// C2SP tlog-tiles with its keys, the demo's series, the HTML audit report and a
    /// README.txt on checking them with tools we did not write) to this new or empty
    /// directory. With --data-dir and no --export, the export goes to DATA_DIR/export.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Use this policy file instead of the embedded default.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// Print the summary as JSON (no progress bars).
    #[arg(long)]
    json: bool,
    /// Where the custodians keep their epoch keys. `file`: development mode, files
    /// encrypted under a key file kept beside (never inside) each data directory.
    /// `softhsm2`: production mode, each epoch key wrapped by its own non-extractable
    /// key in a PKCS#11 token, SoftHSM2 standing in for an HSM (Debian package
    /// `softhsm2`); its tokens live in a temporary directory of their own.
    #[arg(long, value_enum, default_value_t = DemoKeystore::File)]
    keystore: DemoKeystore,
    /// The PKCS#11 module for `--keystore softhsm2`.
    #[arg(long, value_name = "FILE", default_value = stack::SOFTHSM2_MODULE)]
    pkcs11_module: PathBuf,
}

/// Where the demo's custodians keep their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DemoKeystore {
    /// Files under a key file (development).
    File,
    /// A SoftHSM2 token per custodian.
    Softhsm2,
}

/// Set, in the demo that runs itself again, to the directory of its SoftHSM2 tokens.
const SOFTHSM2_HOME_ENV: &str = "MINIMIS_DEMO_SOFTHSM2_HOME";

/// SoftHSM2 reads its configuration (where its tokens live) from `SOFTHSM2_CONF` when
/// the module is initialised. A program cannot safely change its own environment once
/// it runs threads, so the demo makes a directory for the tokens, outside every data
/// directory, and runs itself again with the variable set; it exits as that run does.
fn rerun_with_softhsm2() -> anyhow::Result<Outcome> {
    let home = tempfile::Builder::new()
        .prefix("minimis-softhsm2-")
        .tempdir()
        .context("cannot make a directory for the SoftHSM2 tokens")?;
    let tokens = home.path().join("tokens");
    std::fs::create_dir_all(&tokens)
        .with_context(|| format!("cannot create {}", tokens.display()))?;
    let conf = home.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .with_context(|| format!("cannot write {}", conf.display()))?;
    let exe = std::env::current_exe().context("cannot find this program to run it again")?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(SOFTHSM2_HOME_ENV, home.path())
        .status()
        .context("cannot run the demo again with SoftHSM2 configured")?;
    drop(home);
    std::process::exit(status.code().unwrap_or(2));
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    if args.keystore == DemoKeystore::Softhsm2 && std::env::var_os(SOFTHSM2_HOME_ENV).is_none() {
        return rerun_with_softhsm2();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(simulate(args))
}

fn progress(len: u64, label: &str, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>14} [{bar:32}] {pos}/{len} {msg} {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

fn system_now() -> anyhow::Result<UnixTime> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    Ok(UnixTime(
        i64::try_from(secs).context("the system clock is out of range")?,
    ))
}

/// What every job shares.
struct Ctx {
    people: Arc<Vec<Mutex<Person>>>,
    pool: Arc<Vec<Api<Https>>>,
    policy: Arc<Policy>,
    recipients: HashMap<EpochId, Arc<Vec<SignedEpochRecipient>>>,
}

/// Something a phone does.
#[derive(Clone, Copy)]
enum Job {
    Answer(Behaviour, u64),
    Report,
    Upgrade,
}

impl Ctx {
    /// The custodians' signed recipients for the epoch of `now`, as the operator serves
    /// them (each phone checks their signatures itself, SEAL-7).
    async fn recipients(
        &mut self,
        now: UnixTime,
    ) -> anyhow::Result<Arc<Vec<SignedEpochRecipient>>> {
        let epoch = self
            .policy
            .epoch_at(now)
            .ok_or_else(|| anyhow!("the clock is before the first epoch"))?;
        if let Some(r) = self.recipients.get(&epoch) {
            return Ok(r.clone());
        }
        let r = Arc::new(
            pick(&self.pool, 0)
                .recipients(epoch)
                .await
                .map_err(|e| anyhow!("recipients of epoch {epoch}: {e}"))?,
        );
        self.recipients.insert(epoch, r.clone());
        Ok(r)
    }

    /// Runs `jobs` at `now`, one lane per connection.
    async fn run(&mut self, jobs: Vec<(usize, Job)>, now: UnixTime) -> anyhow::Result<Tally> {
        if jobs.is_empty() {
            return Ok(Tally::default());
        }
        let recipients = self.recipients(now).await?;
        let lanes = self.pool.len();
        let mut per_lane: Vec<Vec<(usize, Job)>> = vec![Vec::new(); lanes];
        for (k, j) in jobs.into_iter().enumerate() {
            per_lane[k % lanes].push(j);
        }
        let mut set = JoinSet::new();
        for (lane, jobs) in per_lane.into_iter().enumerate() {
            if jobs.is_empty() {
                continue;
            }
            let (people, pool, recipients) =
                (self.people.clone(), self.pool.clone(), recipients.clone());
            set.spawn(async move {
                let api = pick(&pool, lane);
                let mut tally = Tally::default();
                for (i, job) in jobs {
                    let mut p = people[i].lock().await;
                    match job {
                        Job::Answer(b, week) => {
                            p.answer(api, now, b, week, &recipients, &mut tally).await?;
                        }
                        Job::Report => p.report_failures(api, now, &recipients, &mut tally).await?,
                        Job::Upgrade => p.upgrade_receipts(api, now, &mut tally).await?,
                    }
                }
                Ok::<_, anyhow::Error>(tally)
            });
        }
        let mut total = Tally::default();
        while let Some(r) = set.join_next().await {
            total.add(r.map_err(|e| anyhow!("a phone's task failed: {e}"))??);
        }
        Ok(total)
    }
}

/// The size of the log the operator publishes now.
async fn log_size(public: &Https) -> anyhow::Result<u64> {
    let r = public
        .send(get("/v1/log/checkpoint"))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let text = String::from_utf8(r.body).context("the checkpoint is not UTF-8")?;
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| anyhow!("the operator's checkpoint has no size line"))
}

fn get(path: &str) -> Request {
    Request {
        method: "GET",
        path: path.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Fetches the whole log over HTTPS from the operator's public endpoints, as any outsider
/// would (C2SP tlog-tiles paths), verifies it, and decodes its entries: the checkpoint
/// under the log key (the witness's cosignature is the audit's to require, AUD-1), the
/// tiles to the checkpoint's root with the log follower (LOG-55), and every entry against
/// its tile (LOG-24). Nothing the operator serves is counted before it verifies.
async fn fetch_log(
    public: &Https,
    log_key: &VerifierKey,
) -> anyhow::Result<(Vec<(String, Vec<u8>)>, Vec<LogEntry>)> {
    let r = public
        .send(get("/v1/log/checkpoint"))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if r.status != 200 {
        bail!("GET /v1/log/checkpoint answered {}", r.status);
    }
    let follower = minimis_log::Follower::new(log_key.clone(), Vec::new());
    let checkpoint = follower
        .check(&r.body)
        .context("the operator's checkpoint does not verify under the log key")?;
    let size = checkpoint.checkpoint().tree_size();
    let mut storage = MemoryStorage::new();
    let mut files = vec![("checkpoint".to_owned(), r.body)];
    for tile in minimis_log::tiles::tiles_for(size) {
        let path = tile.path();
        let r = public
            .send(get(&format!("/v1/log/{path}")))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if r.status != 200 {
            bail!("GET /v1/log/{path} answered {}", r.status);
        }
        storage
            .write_tile(tile, &r.body)
            .with_context(|| format!("/v1/log/{path}"))?;
        files.push((path, r.body));
    }
    for bundle in minimis_log::tiles::bundles_for(size) {
        let path = bundle.path();
        let r = public
            .send(get(&format!("/v1/log/{path}")))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if r.status != 200 {
            bail!("GET /v1/log/{path} answered {}", r.status);
        }
        storage
            .write_bundle(bundle, &r.body)
            .with_context(|| format!("/v1/log/{path}"))?;
        files.push((path, r.body));
    }
    storage
        .write_checkpoint(&checkpoint.to_string())
        .context("the operator's checkpoint")?;
    let mut follower = follower;
    follower
        .advance_from_tiles(storage.clone())
        .context("the operator's tiles do not verify against its checkpoint")?;
    let reader = minimis_log::LogReader::open(storage, log_key)?;
    let mut entries = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut bad = None;
    reader
        .audit_with(|index, bytes| match LogEntry::decode(bytes) {
            Ok(e) => entries.push(e),
            Err(e) if bad.is_none() => bad = Some((index, e)),
            Err(_) => {}
        })
        .context("the operator's entries do not verify against its tiles")?;
    if let Some((index, e)) = bad {
        bail!("entry {index} of the operator's log is not a valid entry: {e}");
    }
    Ok((files, entries))
}

/// An officer's request to the agency custodian (`POST /v1/access`).
async fn access(
    agency: &Https,
    records: &[RecordId],
    purpose: &str,
    legal_basis: &str,
    case: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let body = serde_json::to_vec(&serde_json::json!({
        "records": records.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "purpose": purpose,
        "legal_basis": legal_basis,
        "case_reference": case,
    }))?;
    let r = agency
        .send(Request {
            method: "POST",
            path: "/v1/access".into(),
            headers: vec![("content-type", "application/json".into())],
            body,
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let json = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    Ok((r.status, json))
}

fn error_code(v: &serde_json::Value) -> String {
    v["error"]["code"].as_str().unwrap_or("?").to_owned()
}

/// The schedule groups: participants who share a time zone and a weekday share their
/// window, so the hour loop asks one schedule per group whether a window opens.
struct Groups {
    reps: Vec<minimis_proto::Schedule>,
    members: Vec<Vec<usize>>,
}

impl Groups {
    fn new(n: usize) -> anyhow::Result<Self> {
        let g = people::PLACES.len() * 5;
        let mut members = vec![Vec::new(); g];
        for i in 0..n {
            members[i % g].push(i);
        }
        let reps = (0..g)
            .map(people::schedule)
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { reps, members })
    }
}

/// Where the run lives, under which policy, and the period it simulates.
struct Setting {
    policy: Arc<Policy>,
    policy_text: Arc<str>,
    policy_file: PathBuf,
    /// Every service's data, and the backups.
    dir: PathBuf,
    /// Removed at the end, unless `--data-dir` was given.
    _temp: Option<tempfile::TempDir>,
    export_dir: PathBuf,
    first: EpochId,
    current: EpochId,
    start: UnixTime,
    end: UnixTime,
}

impl Setting {
    fn new(args: &DemoArgs) -> anyhow::Result<Self> {
        // The policy, as a file the services read.
        let policy_text = match &args.policy {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy file {}", p.display()))?,
            None => minimis_proto::DEFAULT_POLICY_TOML.to_owned(),
        };
        let policy = Arc::new(Policy::from_toml_str(&policy_text).context("in the policy file")?);
        if policy
            .custodian(minimis_proto::CustodianRole::Agency)
            .is_none()
        {
            bail!("the policy names no agency custodian");
        }

        // Where everything lives.
        let export_dir = args
            .export
            .clone()
            .or_else(|| args.data_dir.as_ref().map(|d| d.join("export")));
        if let Some(d) = &export_dir {
            crate::export::check_empty(d)?;
        }
        let (dir, temp) = match &args.data_dir {
            Some(d) => {
                if d.exists()
                    && std::fs::read_dir(d)
                        .with_context(|| format!("cannot read {}", d.display()))?
                        .next()
                        .is_some()
                {
                    bail!(
                        "{} is not empty; give --data-dir a new or empty directory",
                        d.display()
                    );
                }
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                (d.clone(), None)
            }
            None => {
                let temp = tempfile::tempdir().context("cannot make a temporary directory")?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let policy_file = dir.join("policy.toml");
        std::fs::write(&policy_file, &policy_text)
            .with_context(|| format!("cannot write {}", policy_file.display()))?;

        // The simulated period: whole epochs back from the current one, to now (hour).
        let now = system_now()?;
        let end = UnixTime(now.seconds() - now.seconds().rem_euclid(HOUR));
        let current = policy
            .epoch_at(end)
            .ok_or_else(|| anyhow!("the clock is before the first epoch"))?;
        let first = EpochId::new(
            current
                .get()
                .checked_sub(args.weeks * 7 / policy.epoch_length_days().max(1))
                .ok_or_else(|| anyhow!("the clock is too early for {} weeks", args.weeks))?,
        );
        let start = policy.epoch_start(first);
        Ok(Self {
            export_dir: export_dir.unwrap_or_else(|| dir.join("export")),
            policy,
            policy_text: policy_text.into(),
            policy_file,
            dir,
            _temp: temp,
            first,
            current,
            start,
            end,
        })
    }

    fn hours(&self) -> u64 {
        u64::try_from((self.end.seconds() - self.start.seconds()) / HOUR).unwrap_or(0)
    }

    fn weeks(&self) -> i64 {
        (self.end.seconds() - self.start.seconds()) / WEEK
    }
}

/// What happens when, besides the schedules.
struct Plan {
    groups: Groups,
    /// When officers open records (the round's index is its position).
    access_times: Vec<i64>,
    /// When an officer tries to follow participant 0 with ad-hoc challenges.
    burst_at: i64,
    /// The first epoch whose content deadline falls inside the run, and when the
    /// operator's database is backed up: the day before that deadline.
    backup: Option<(EpochId, i64)>,
}

impl Plan {
    fn new(s: &Setting, n: usize) -> anyhow::Result<Self> {
        let (start, end) = (s.start.seconds(), s.end.seconds());
        let access_times = (1..=8)
            .map(|k| {
                let t = start + (end - start) * k / 10;
                t - t.rem_euclid(DAY) + 15 * HOUR
            })
            .collect();
        // An hour into participant 0's first window after the middle of the run, when the
        // schedule admits one ad-hoc challenge beside the scheduled one.
        let burst_at = people::schedule(0)?
            .spans_between(UnixTime(start + (end - start) / 2), s.end)
            .first()
            .map_or(i64::MIN, |w| w.start.seconds() + HOUR);
        let backup = (s.first.get()..s.current.get())
            .map(EpochId::new)
            .find(|&e| s.policy.content_deadline(e).seconds() <= end - DAY)
            .map(|e| (e, s.policy.content_deadline(e).seconds() - DAY));
        Ok(Self {
            groups: Groups::new(n)?,
            access_times,
            burst_at,
            backup,
        })
    }
}

/// Enrolls `n` participants through an officer's connection; each phone makes its own
/// keys. Returns the phones' context and the officer's connections (for ad-hoc requests).
async fn enroll(
    stack: &Stack,
    s: &Setting,
    n: usize,
    show: bool,
    harvest: &mut scan::Harvest,
) -> anyhow::Result<(Ctx, Vec<Pseudonym>, Arc<Vec<Api<Https>>>)> {
    let enrolling = stack.officer_cert("officer-0001")?;
    let officer_pool = Arc::new(stack.officer_pool(&enrolling)?);
    let device_pool = Arc::new(stack.device_pool()?);
    let keys = pick(&device_pool, 0)
        .keys()
        .await
        .map_err(|e| anyhow!("GET /v1/keys: {e}"))?;
    if keys.log != stack.log_key.to_string() {
        bail!("the operator serves another log key than its own");
    }
    let bar = progress(n as u64, "enroll", show);
    let mut set = JoinSet::new();
    let lanes = officer_pool.len();
    for lane in 0..lanes {
        let pool = officer_pool.clone();
        let bar = bar.clone();
        set.spawn(async move {
            let mut out = Vec::new();
            for i in (lane..n).step_by(lanes) {
                let key = SigningKey::generate()?;
                let tags = TagKey::generate()?;
                let schedule = people::schedule(i)?;
                let enrolled = pick(&pool, lane)
                    .enroll(&key, &tags, &schedule)
                    .await
                    .map_err(|e| anyhow!("enrollment {i}: {e}"))?;
                out.push((i, key, tags, schedule, enrolled.pseudonym));
                bar.inc(1);
            }
            Ok::<_, anyhow::Error>(out)
        });
    }
    let mut enrolled = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        enrolled.extend(r.map_err(|e| anyhow!("enrollment task: {e}"))??);
    }
    bar.finish();
    enrolled.sort_by_key(|e| e.0);
    // The agency's enrollment station signs each participant's bundle; the phone shows
    // the notice, then enrolls from the bundle alone (ENR-4, ENR-20, LOC-21).
    let station = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("agency.minimis/enrollment")?,
        SigningKey::generate()?,
    );
    let station_key = station.verifier_key();
    let (_, shown) =
        minimis_client::notice::show(&s.policy, minimis_client::notice::Language::English, None);
    let witnesses: Vec<_> = stack.witness_key.iter().cloned().collect();
    let issued = s.start;
    let mut list = Vec::with_capacity(n);
    let mut pseudonyms = Vec::with_capacity(n);
    for (i, key, tags, schedule, pseudonym) in enrolled {
        harvest.participant(i, &key, &tags, &pseudonym)?;
        pseudonyms.push(pseudonym);
        let zone = match people::zone(i)? {
            Some(z) => Some((z, ZoneSalt::generate()?)),
            None => None,
        };
        let bundle = Bundle {
            pseudonym,
            device_key: key.public_key(),
            policy: s.policy.hash(),
            schedule,
            zone: zone.as_ref().map(|(z, salt)| ZoneCommitment::new(salt, z)),
            operator_key: keys.operator,
            log_key: stack.log_key.clone(),
            witnesses: witnesses.clone(),
            tlog_policy: None,
            custodians: stack.custodian_keys,
            obligations: None,
            issued,
        };
        let note = bundle
            .sign(&station)
            .map_err(|e| anyhow!("bundle {i}: {e}"))?;
        let device = Device::enroll(&note, &station_key, &s.policy_text, zone, shown, key, tags)
            .map_err(|e| anyhow!("the phone of participant {i} refused its bundle: {e}"))?;
        list.push(Mutex::new(Person {
            index: i,
            device,
            failure_pending: false,
        }));
    }
    let ctx = Ctx {
        people: Arc::new(list),
        pool: device_pool,
        policy: s.policy.clone(),
        recipients: HashMap::new(),
    };
    Ok((ctx, pseudonyms, officer_pool))
}

/// The officers whose caseloads share the participants: participant i is on the caseload
/// of officer i mod 3. Written to the agency custodian's caseload file.
const OFFICERS: [&str; 3] = ["officer-7f30", "officer-7f31", "officer-7f32"];

fn write_caseloads(s: &Setting, stack: &Stack, pseudonyms: &[Pseudonym]) -> anyhow::Result<()> {
    let mut caseload = String::from("[officers]\n");
    for (k, officer) in OFFICERS.iter().enumerate() {
        let mine: Vec<String> = pseudonyms
            .iter()
            .enumerate()
            .filter(|(i, _)| i % OFFICERS.len() == k)
            .map(|(_, p)| format!("\"{p}\""))
            .collect();
        caseload.push_str(&format!("{officer} = [{}]\n", mine.join(", ")));
    }
    let tmp = s.dir.join("caseload.tmp");
    std::fs::write(&tmp, caseload).context("cannot write the caseload")?;
    std::fs::rename(&tmp, &stack.caseload).context("cannot replace the caseload")?;
    Ok(())
}

/// The running world and what it has counted.
struct World {
    stack: Stack,
    ctx: Ctx,
    /// The enrolling officer's connections to the operator.
    officer_pool: Arc<Vec<Api<Https>>>,
    /// Each caseload officer's connection to the agency custodian.
    officers: Vec<(String, Https)>,
    /// An outsider's connection to the operator's public endpoints.
    public: Https,
    run: RunFigures,
    tally: Tally,
    samples: Vec<HeldSample>,
    /// Late answers due: (window end, participant, week).
    late_due: Vec<(i64, usize, u64)>,
    backup: Option<Backup>,
    ingest_time: Duration,
    /// Every secret, fix, name and sealed text of the run, to search the operator for.
    harvest: scan::Harvest,
}

impl World {
    fn new(
        stack: Stack,
        ctx: Ctx,
        officer_pool: Arc<Vec<Api<Https>>>,
        harvest: scan::Harvest,
    ) -> anyhow::Result<Self> {
        let public = Https::new(stack.server.addr(), "localhost", &stack.server_roots, None)?
            .with_limits(minimis_client::transport::Limits::LOG_READER);
        let officers = OFFICERS
            .iter()
            .map(|o| {
                Ok((
                    (*o).to_owned(),
                    stack.officer_to_agency(&stack.officer_cert(o)?)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            stack,
            ctx,
            officer_pool,
            officers,
            public,
            run: RunFigures::default(),
            tally: Tally::default(),
            samples: Vec::new(),
            late_due: Vec::new(),
            backup: None,
            ingest_time: Duration::ZERO,
            harvest,
        })
    }

    /// Runs the simulated period hour by hour.
    async fn simulate(&mut self, s: &Setting, plan: &Plan, show: bool) -> anyhow::Result<()> {
        let bar = progress(s.hours(), "simulate", show);
        let mut t = s.start.seconds();
        while t < s.end.seconds() {
            self.hour(t, s, plan).await?;
            t += HOUR;
            bar.inc(1);
            if t.rem_euclid(WEEK) == 0 {
                bar.set_message(format!(
                    "{} check-ins",
                    self.tally.on_time + self.tally.late
                ));
            }
        }
        bar.finish();
        Ok(())
    }

    /// One simulated hour starting at `t`.
    async fn hour(&mut self, t: i64, s: &Setting, plan: &Plan) -> anyhow::Result<()> {
        let now = UnixTime(t);
        self.stack.set_time(now);
        let week = u64::try_from((t - s.start.seconds()) / WEEK).unwrap_or(0);
        if t.rem_euclid(DAY) == 0 {
            self.midnight(t, s, plan).await?;
        } else {
            self.run.add_tick(&self.stack.tick_server().await?);
        }

        // Windows opening now: the phones poll and answer; the late ones at half past the
        // hour their window closes.
        let mut jobs = Vec::new();
        for (g, rep) in plan.groups.reps.iter().enumerate() {
            if let Some(w) = rep.window_at(now)
                && w.start == now
            {
                for &i in &plan.groups.members[g] {
                    let b = behaviour(i, week);
                    if b == Behaviour::Late {
                        self.late_due.push((w.end.seconds(), i, week));
                    } else {
                        jobs.push((i, Job::Answer(b, week)));
                    }
                }
            }
        }
        self.checkins(jobs, now).await?;

        if t == plan.burst_at {
            let (b, answered) =
                adhoc_burst(&self.stack, &mut self.ctx, &self.officer_pool, now, week).await?;
            self.tally.add(answered);
            self.run.burst = Some(b);
        }
        if let Some(k) = plan.access_times.iter().position(|&a| a == t) {
            officer_accesses(&self.ctx, &self.officers, &s.policy, k, &mut self.run).await?;
        }

        let (late, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.late_due)
            .into_iter()
            .partition(|d| d.0 == t);
        self.late_due = rest;
        if !late.is_empty() {
            let half = UnixTime(t + HOUR / 2);
            self.stack.set_time(half);
            let jobs = late
                .into_iter()
                .map(|(_, i, w)| (i, Job::Answer(Behaviour::Late, w)))
                .collect();
            self.checkins(jobs, half).await?;
        }
        Ok(())
    }

    /// Check-ins, timed as the run's ingest.
    async fn checkins(&mut self, jobs: Vec<(usize, Job)>, now: UnixTime) -> anyhow::Result<()> {
        let started = Instant::now();
        self.tally.add(self.ctx.run(jobs, now).await?);
        self.ingest_time += started.elapsed();
        Ok(())
    }

    /// Midnight UTC: the custodians' schedules (identities ahead, destruction at the
    /// deadline), then the operator's; the backup on its day; the day's failure reports,
    /// and each week the receipt upgrades; a sample of what each party holds.
    async fn midnight(&mut self, t: i64, s: &Setting, plan: &Plan) -> anyhow::Result<()> {
        let now = UnixTime(t);
        let (destroyed, r) = self.stack.tick_all().await?;
        self.run.keys_destroyed += destroyed;
        self.run.add_tick(&r);
        // Identities are made ahead and destroyed months later: a daily look sees each.
        self.harvest.custodian_keys(&self.stack)?;
        if let Some((epoch, at)) = plan.backup
            && at == t
        {
            let path = s.dir.join("backup").join("operator-backup.sqlite");
            std::fs::create_dir_all(s.dir.join("backup"))?;
            self.stack
                .server
                .backup(&path)
                .await
                .map_err(|e| anyhow!("backup: {e}"))?;
            self.backup = Some(Backup {
                path,
                epoch,
                taken: now,
                checked: None,
            });
        }
        self.report_failures(now).await?;
        if t.rem_euclid(WEEK) == 0 {
            // Once a week the phones fetch the witnessed form of their receipts.
            self.upgrade_receipts(now).await?;
        }
        self.sample(t).await?;
        if let Some(b) = self.backup.as_mut()
            && b.checked.is_none()
            && s.policy.content_deadline(b.epoch).seconds() <= t
        {
            b.checked = Some(check_backup(&self.stack, b, &s.policy)?);
        }
        Ok(())
    }

    /// Phones with a failure to report report it.
    async fn report_failures(&mut self, now: UnixTime) -> anyhow::Result<()> {
        let n = self.ctx.people.len();
        let jobs = filter_people(&self.ctx, (0..n).map(|i| (i, Job::Report)).collect(), |p| {
            p.failure_pending
        })
        .await;
        self.tally.add(self.ctx.run(jobs, now).await?);
        Ok(())
    }

    /// Once the witness has cosigned the log as it is, phones with provisional receipts
    /// fetch their witnessed form.
    async fn upgrade_receipts(&mut self, now: UnixTime) -> anyhow::Result<()> {
        self.stack.witnessed(log_size(&self.public).await?).await?;
        let n = self.ctx.people.len();
        let jobs = filter_people(
            &self.ctx,
            (0..n).map(|i| (i, Job::Upgrade)).collect(),
            |p| !p.device.provisional_receipts().is_empty(),
        )
        .await;
        self.tally.add(self.ctx.run(jobs, now).await?);
        Ok(())
    }

    /// What each party holds at `t`, for the report's charts.
    async fn sample(&mut self, t: i64) -> anyhow::Result<minimis_server::store::sqlite::Holdings> {
        let h = self
            .stack
            .server
            .holdings()
            .await
            .map_err(|e| anyhow!("holdings: {e}"))?;
        self.samples.push(HeldSample {
            at: t,
            operator_ciphertext_bytes: h.ciphertext_bytes,
            operator_ledger_bytes: h.ledger_bytes,
            log_bytes: h.log_bytes,
            // The operator purges an epoch's records when its keys are destroyed: what
            // it holds is what could still be opened.
            readable_bytes: h.ciphertext_bytes,
            custodian_live_keys: live_keys(&self.stack),
        });
        Ok(h)
    }

    /// The end: the last reports and receipts; a justified request for the newest
    /// epoch, and one for a record of the destroyed epoch. Returns whether the newest
    /// record opened, and what the operator holds.
    async fn wind_up(
        &mut self,
        s: &Setting,
    ) -> anyhow::Result<(bool, minimis_server::store::sqlite::Holdings)> {
        self.stack.set_time(s.end);
        let (destroyed, r) = self.stack.tick_all().await?;
        self.run.keys_destroyed += destroyed;
        self.run.add_tick(&r);
        self.harvest.custodian_keys(&self.stack)?;
        self.report_failures(s.end).await?;
        self.upgrade_receipts(s.end).await?;
        // Live content is unaffected by retention.
        let live_opened =
            open_latest(&self.ctx, &self.officers, &s.policy, s.end, &mut self.run).await?;
        if let Some(c) = self.backup.as_mut().and_then(|b| b.checked.as_mut())
            && let Some(rec) = c.sample.first()
        {
            let (_, agency) = &self.officers[0];
            let (status, json) = access(
                agency,
                &[rec.1],
                first_purpose(&s.policy)?,
                first_basis(&s.policy)?,
                scan::CASE_AFTER_DESTRUCTION,
            )
            .await?;
            c.asked_after = Some(if status == 200 {
                "opened".to_owned()
            } else {
                error_code(&json)
            });
        }
        self.stack.witnessed(log_size(&self.public).await?).await?;
        let holdings = self.sample(s.end.seconds()).await?;
        Ok((live_opened, holdings))
    }

    /// A few sealed records of the newest epoch that has any, with that epoch, from a
    /// consistent copy of the operator's database.
    async fn live_sample(
        &self,
        s: &Setting,
    ) -> anyhow::Result<(EpochId, Vec<(RecordId, Vec<u8>)>)> {
        let snapshot = s.dir.join("backup").join("operator-at-end.sqlite");
        std::fs::create_dir_all(s.dir.join("backup"))?;
        self.stack
            .server
            .backup(&snapshot)
            .await
            .map_err(|e| anyhow!("snapshot: {e}"))?;
        let r = minimis_server::store::sqlite::SqliteReader::open(&snapshot)?;
        let mut epoch = s.current;
        let mut v = r.records_of_epoch(epoch)?;
        if v.is_empty() {
            epoch = EpochId::new(s.current.get().saturating_sub(1));
            v = r.records_of_epoch(epoch)?;
        }
        v.truncate(5);
        Ok((epoch, v))
    }

    /// Both custodians' identity files for `epoch` (for the export only: RET-4).
    fn identities(
        &self,
        epoch: EpochId,
    ) -> Vec<(minimis_proto::CustodianRole, zeroize::Zeroizing<String>)> {
        let of = |r: &minimis_custodian::Running| {
            r.node()
                .with_keystore(|ks| ks.keyring().identity(epoch).map(|i| i.to_identity_file()))
                .and_then(Result::ok)
        };
        let mut v = Vec::new();
        if let Some(f) = of(&self.stack.agency) {
            v.push((minimis_proto::CustodianRole::Agency, f));
        }
        if let Some(f) = self.stack.oversight.as_ref().and_then(of) {
            v.push((minimis_proto::CustodianRole::Oversight, f));
        }
        v
    }
}

async fn simulate(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let wall = Instant::now();
    let show = !args.quiet && !args.json;
    let n = args.participants as usize;
    let s = Setting::new(args)?;
    if show {
        println!(
            "minimis demo: {n} participants, {} simulated weeks ({} to {}), policy {}",
            s.weeks(),
            s.start,
            s.end,
            &s.policy.hash().to_hex()[..16]
        );
    }

    let mut phases = Phases::start();
    let keys = match args.keystore {
        DemoKeystore::File => stack::Keys::File,
        DemoKeystore::Softhsm2 => stack::Keys::SoftHsm2 {
            module: args.pkcs11_module.clone(),
            home: std::env::var_os(SOFTHSM2_HOME_ENV)
                .map(PathBuf::from)
                .ok_or_else(|| anyhow!("{SOFTHSM2_HOME_ENV} is not set"))?,
        },
    };
    if show && args.keystore == DemoKeystore::Softhsm2 {
        println!(
            "  keys in SoftHSM2 tokens (a stand-in for an HSM: it keeps its tokens in files, in {})",
            std::env::var(SOFTHSM2_HOME_ENV).unwrap_or_default()
        );
    }
    let stack = Stack::start(&s.dir, &s.policy, &s.policy_file, s.start, &keys).await?;
    phases.mark("start services");
    stack.tick_all().await?;
    if show {
        stack.print_addresses();
    }
    let mut harvest = scan::Harvest::new();
    harvest.fixed()?;
    harvest.custodian_keys(&stack)?;
    let (ctx, pseudonyms, officer_pool) = enroll(&stack, &s, n, show, &mut harvest).await?;
    write_caseloads(&s, &stack, &pseudonyms)?;
    let plan = Plan::new(&s, n)?;
    let mut world = World::new(stack, ctx, officer_pool, harvest)?;
    phases.mark("enroll");

    world.simulate(&s, &plan, show).await?;
    let (live_opened, holdings) = world.wind_up(&s).await?;
    phases.mark("simulate");

    // The log, as an outsider fetches it.
    let (log_files, entries) = fetch_log(&world.public, &world.stack.log_key).await?;
    phases.mark("fetch log");
    let devices = device_figures(&world.ctx).await;
    let tags: HashSet<_> = entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::ChallengeIssued { tag, epoch, .. }
            | LogEntry::CheckInReceived { tag, epoch, .. } => Some((*tag, *epoch)),
            _ => None,
        })
        .collect();
    let distinct_tags = tags.iter().map(|(t, _)| *t).collect::<HashSet<_>>().len() as u64;

    // The export, the audit and the report.
    let series = DemoSeries {
        format: DEMO_SERIES_FORMAT.to_owned(),
        participants: n as u64,
        samples: std::mem::take(&mut world.samples),
        categories: categories(&devices, &holdings),
    };
    let (live_epoch, live_records) = world.live_sample(&s).await?;
    let identities = world.identities(live_epoch);
    let destroyed = world.backup.as_ref().and_then(|b| {
        b.checked
            .as_ref()
            .map(|c| (b.epoch, c.sample.iter().take(5).collect::<Vec<_>>()))
    });
    let mut sample: Vec<(EpochId, RecordId, &[u8])> = Vec::new();
    if let Some((e, records)) = &destroyed {
        sample.extend(records.iter().map(|(_, id, ct)| (*e, *id, ct.as_slice())));
    }
    sample.extend(
        live_records
            .iter()
            .map(|(id, ct)| (live_epoch, *id, ct.as_slice())),
    );
    crate::export::write(
        &s.export_dir,
        &crate::export::Export {
            policy_text: &s.policy_text,
            destroyed: destroyed.as_ref().map(|d| d.0),
            live: live_epoch,
            sample: &sample,
            identities: &identities,
            log_files: &log_files,
            log_key: &world.stack.log_key,
            witness_key: world.stack.witness_key.as_ref(),
            series: &series,
        },
    )?;
    let report_path = s.export_dir.join("report.html");
    let audit = crate::audit::audit_export(&s.export_dir, s.end, Some(&report_path))?;
    phases.mark("export and audit");

    // What the operator holds, searched for everything it must not (while it runs:
    // its write-ahead log included).
    world
        .harvest
        .fixes(std::mem::take(&mut world.tally.fixes))?;
    let operator_scan = world.harvest.scan_operator(
        &world.stack.operator_dir,
        &s.dir.join("backup"),
        &world.stack.operator_config,
        &s.dir,
    )?;
    let epoch_identities = world.harvest.epoch_identities();
    phases.mark("scan the operator");

    let summary = Summary::build(SummaryInputs {
        n: n as u64,
        start: s.start,
        end: s.end,
        policy: &s.policy,
        stack: &world.stack,
        holdings: &holdings,
        tally: &world.tally,
        run: &world.run,
        devices: &devices,
        backup: world.backup.as_ref(),
        live_opened,
        entries: &entries,
        distinct_tags,
        participant_epochs: tags.len() as u64,
        audit: &audit,
        operator_scan,
        epoch_identities,
        bounds: CiphertextBounds::for_layers(s.policy.custodians().len()),
        ingest_seconds: world.ingest_time.as_secs_f64(),
        elapsed: wall.elapsed().as_secs_f64(),
        phases: &phases,
        export: &s.export_dir,
        report: &report_path,
        kept: args.data_dir.is_some() || args.export.is_some(),
    });
    world.stack.stop().await;

    let failures = summary.failures();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if show {
        summary.print();
    }
    if failures.is_empty() {
        Ok(Outcome::Success)
    } else {
        for f in failures {
            eprintln!("minimis demo: CHECK FAILED: {f}");
        }
        // Where the scan of the operator's files matched (labels and encodings only,
        // never the canary's bytes), so that a failure can be followed up.
        for h in &summary.operator_scan.hits {
            eprintln!(
                "minimis demo: found {:?} `{}` ({}) in {} at byte {}",
                h.kind,
                h.canary,
                h.encoding,
                h.path.display(),
                h.offset
            );
        }
        Ok(Outcome::CheckFailed)
    }
}

/// The jobs whose person satisfies `f`.
async fn filter_people(
    ctx: &Ctx,
    jobs: Vec<(usize, Job)>,
    f: impl Fn(&Person) -> bool,
) -> Vec<(usize, Job)> {
    let mut out = Vec::new();
    for (i, j) in jobs {
        if f(&*ctx.people[i].lock().await) {
            out.push((i, j));
        }
    }
    out
}

fn live_keys(stack: &Stack) -> u64 {
    let count = |r: &minimis_custodian::Running| {
        r.node()
            .with_keystore(|ks| ks.keyring().live_epochs().count() as u64)
            .unwrap_or(0)
    };
    count(&stack.agency) + stack.oversight.as_ref().map_or(0, count)
}

fn first_purpose(policy: &Policy) -> anyhow::Result<&str> {
    policy
        .purposes()
        .first()
        .map(|p| p.id.as_str())
        .ok_or_else(|| anyhow!("the policy allows no purpose"))
}

fn first_basis(policy: &Policy) -> anyhow::Result<&str> {
    policy
        .legal_bases()
        .first()
        .map(|b| b.id.as_str())
        .ok_or_else(|| anyhow!("the policy names no legal basis"))
}

/// The backup of the operator's database, and what became of it.
pub(crate) struct Backup {
    path: PathBuf,
    pub(crate) epoch: EpochId,
    pub(crate) taken: UnixTime,
    pub(crate) checked: Option<BackupCheck>,
}

/// The backup after its epoch's deadline: every key left anywhere, tried on every record.
pub(crate) struct BackupCheck {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) keys_left: u64,
    pub(crate) opened: u64,
    pub(crate) destroyed_by: Vec<String>,
    sample: Vec<(EpochId, RecordId, Vec<u8>)>,
    pub(crate) asked_after: Option<String>,
}

fn check_backup(stack: &Stack, b: &Backup, policy: &Policy) -> anyhow::Result<BackupCheck> {
    let reader = minimis_server::store::sqlite::SqliteReader::open(&b.path)?;
    let records = reader.records_of_epoch(b.epoch)?;
    let bounds = CiphertextBounds::for_layers(policy.custodians().len());
    let sealed: Vec<minimis_proto::SealedCheckIn> = records
        .iter()
        .filter_map(|(_, ct)| minimis_proto::SealedCheckIn::new(ct.clone(), bounds).ok())
        .collect();
    let max = policy.max_note_bytes();
    let mut keys_left = 0u64;
    let mut opened = 0u64;
    let mut destroyed_by = Vec::new();
    let runs: Vec<&minimis_custodian::Running> = std::iter::once(&stack.agency)
        .chain(stack.oversight.as_ref())
        .collect();
    for r in runs {
        let (k, o, gone) = r
            .node()
            .with_keystore(|ks| {
                let ring = ks.keyring();
                let mut k = 0u64;
                let mut o = 0u64;
                for e in ring.live_epochs() {
                    let Ok(id) = ring.identity(e) else { continue };
                    k += 1;
                    for s in &sealed {
                        if minimis_seal::remove_outer(s, id).is_ok()
                            || minimis_seal::open_inner(s.as_bytes(), id, max).is_ok()
                        {
                            o += 1;
                        }
                    }
                }
                (k, o, ks.destroyed_at(b.epoch).is_some())
            })
            .unwrap_or((0, 0, false));
        keys_left += k;
        opened += o;
        if gone {
            destroyed_by.push(r.node().role().to_string());
        }
    }
    Ok(BackupCheck {
        records: records.len() as u64,
        bytes: records.iter().map(|(_, c)| c.len() as u64).sum(),
        keys_left,
        opened,
        destroyed_by,
        sample: records
            .iter()
            .take(5)
            .map(|(id, ct)| (b.epoch, *id, ct.clone()))
            .collect(),
        asked_after: None,
    })
}

/// One officer follows a participant with ad-hoc challenges.
async fn adhoc_burst(
    stack: &Stack,
    ctx: &mut Ctx,
    officer_pool: &[Api<Https>],
    now: UnixTime,
    week: u64,
) -> anyhow::Result<(Burst, Tally)> {
    let target = 0usize;
    let pseudonym = ctx.people[target].lock().await.device.pseudonym();
    let fixes_before = ctx.people[target].lock().await.device.fixes_taken();
    let mut burst = Burst::default();
    // Through the operator's officer API: the server stops at the schedule's caps.
    for _ in 0..6 {
        burst.requested += 1;
        match pick(officer_pool, 0).adhoc(&pseudonym).await {
            Ok(_) => burst.issued += 1,
            Err(e) => {
                *burst
                    .refused_by_server
                    .entry(e.refusal().map_or("?", |r| r.code()).to_owned())
                    .or_default() += 1;
            }
        }
    }
    // The phone answers what was issued (it accepts only what its schedule allows).
    let answered = ctx
        .run(vec![(target, Job::Answer(Behaviour::OnTime, week))], now)
        .await?;
    burst.answered = answered.on_time + answered.late;
    // A compromised operator signs more, past the caps, in the window the phone is in,
    // each claiming to be issued a minute before the last (issue 13: claims that once got
    // past the phone's count), and sends them straight to the phone: the phone counts on
    // its own clock, refuses each, keeps it signed as evidence, and takes no fix.
    let seed = std::fs::read_to_string(stack.operator_dir.join("keys").join("operator.key"))
        .context("cannot read the operator's key (the demo plays a compromised operator)")?;
    let seed = zeroize::Zeroizing::new(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, seed.trim())
            .context("the operator's key is not base64")?,
    );
    let operator = SigningKey::from_seed(&seed)?;
    let epoch = ctx
        .policy
        .epoch_at(now)
        .ok_or_else(|| anyhow!("no epoch"))?;
    let mut p = ctx.people[target].lock().await;
    let window = p
        .device
        .enrollment()
        .schedule
        .window_at(now)
        .ok_or_else(|| anyhow!("the burst is not in one of the target's windows"))?;
    let mut forged = HashSet::new();
    for k in 0..5u8 {
        let c = minimis_crypto::sign_challenge(
            &operator,
            Challenge {
                id: ChallengeId::from_bytes(minimis_crypto::random_bytes()?),
                pseudonym,
                epoch,
                kind: ChallengeKind::AdHoc,
                issued_at: UnixTime(now.seconds() + i64::from(4 - k) * 60).min(window.end.plus(-1)),
                window_start: window.start,
                window_end: window.end,
                policy: ctx.policy.hash(),
            },
        );
        burst.forged += 1;
        forged.insert(c.challenge.id);
        if p.device
            .accept(c, UnixTime(now.seconds() + i64::from(k) * 60))
            .is_err()
        {
            burst.refused_by_device += 1;
        }
    }
    let kept = || {
        p.device
            .refused()
            .iter()
            .filter(|r| forged.contains(&r.challenge.challenge.id))
    };
    burst.refusals_kept = kept().count() as u64;
    burst.reasons = kept()
        .map(|r| r.reason.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    burst.fixes_taken = p.device.fixes_taken() - fixes_before;
    Ok((burst, answered))
}

/// Officers open a few recent records of their caseload, with allowed purposes; one
/// officer without a purpose the policy allows is refused.
async fn officer_accesses(
    ctx: &Ctx,
    officers: &[(String, Https)],
    policy: &Policy,
    k: usize,
    run: &mut RunFigures,
) -> anyhow::Result<()> {
    let (_, agency) = &officers[k % officers.len()];
    let purposes: Vec<&str> = policy.purposes().iter().map(|p| p.id.as_str()).collect();
    let purpose = purposes[k % purposes.len().max(1)];
    let basis = first_basis(policy)?;
    // Two participants of this officer's caseload, by their latest check-in.
    let mut records: Vec<(RecordId, usize)> = Vec::new();
    // Participant i is on the caseload of officer i mod m; each round starts further in.
    let m = officers.len();
    let own = k % m;
    let slots = ctx.people.len().saturating_sub(own).div_ceil(m);
    for j in 0..slots {
        if records.len() == 2 {
            break;
        }
        let i = own + m * ((k * 7 + j) % slots);
        let p = ctx.people[i].lock().await;
        if let Some(s) = p.device.sent().last() {
            records.push((s.record_id, i));
        }
    }
    if k >= 2 && run.denied == 0 {
        // An officer who names no purpose the policy allows, for any recent record.
        let mut any = records.first().map(|r| r.0);
        for m in ctx.people.iter() {
            if any.is_some() {
                break;
            }
            any = m.lock().await.device.sent().last().map(|s| s.record_id);
        }
        if let Some(id) = any {
            let (status, json) =
                access(agency, &[id], "curiosity", basis, scan::CASE_REFUSED).await?;
            if status != 200 {
                run.denied += 1;
                *run.denial_codes.entry(error_code(&json)).or_default() += 1;
            }
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<RecordId> = records.iter().map(|r| r.0).collect();
    // The case of the first participant asked for (a request may span a caseload).
    let case = people::case_number(records[0].1);
    let (status, json) = access(agency, &ids, purpose, basis, &case).await?;
    if status == 200 {
        run.granted += 1;
        *run.by_purpose.entry(purpose.to_owned()).or_default() += 1;
        for r in json["records"].as_array().into_iter().flatten() {
            let id: Option<RecordId> = r["record_id"].as_str().and_then(|s| s.parse().ok());
            let Some((_, who)) = records.iter().find(|(rid, _)| Some(*rid) == id) else {
                continue;
            };
            let p = ctx.people[*who].lock().await;
            let mine = p.device.sent().iter().find(|s| Some(s.record_id) == id);
            if let Some(s) = mine {
                let same = serde_json::to_value(s.payload.zone)? == r["zone"]
                    && serde_json::to_value(s.payload.presence)? == r["presence"]
                    && r["note"].as_str() == Some(s.payload.note.expose())
                    && r["challenge_id"].as_str()
                        == Some(s.payload.challenge_id.to_string().as_str())
                    && r["device_time"].as_i64() == Some(s.payload.device_time.seconds());
                if same {
                    run.matched += 1;
                    let z = r["zone"].as_str().unwrap_or("?").to_owned();
                    *run.zones_seen.entry(z).or_default() += 1;
                }
                run.opened += 1;
            }
        }
    } else {
        *run.unexpected_refusals
            .entry(error_code(&json))
            .or_default() += 1;
    }
    Ok(())
}

/// After retention, a record of the newest epoch still opens for a justified request.
async fn open_latest(
    ctx: &Ctx,
    officers: &[(String, Https)],
    policy: &Policy,
    now: UnixTime,
    run: &mut RunFigures,
) -> anyhow::Result<bool> {
    let epoch = policy.epoch_at(now);
    for (k, (_, agency)) in officers.iter().enumerate() {
        for i in (k..ctx.people.len()).step_by(officers.len()).take(50) {
            let (id, expected) = {
                let p = ctx.people[i].lock().await;
                match p.device.sent().last() {
                    Some(s) if Some(s.epoch) == epoch || Some(s.epoch.next()) == Some(epoch) => {
                        (s.record_id, s.payload.note.expose().to_owned())
                    }
                    _ => continue,
                }
            };
            let (status, json) = access(
                agency,
                &[id],
                first_purpose(policy)?,
                first_basis(policy)?,
                "CASE-2026-004300",
            )
            .await?;
            if status == 200 {
                run.granted += 1;
                *run.by_purpose
                    .entry(first_purpose(policy)?.to_owned())
                    .or_default() += 1;
                return Ok(json["records"][0]["note"].as_str() == Some(expected.as_str()));
            }
            return Ok(false);
        }
    }
    Ok(false)
}

/// What the phones hold and did, gathered at the end.
async fn device_figures(ctx: &Ctx) -> DeviceFigures {
    let mut d = DeviceFigures::default();
    let mut by_pe: BTreeMap<(usize, EpochId), u64> = BTreeMap::new();
    for (i, m) in ctx.people.iter().enumerate() {
        let p = m.lock().await;
        d.fixes_taken += p.device.fixes_taken();
        if p.device.bundle().is_some() && p.device.notice_shown().is_some() {
            d.from_signed_bundle += 1;
        }
        if p.device.enrollment().zone.is_some() {
            d.with_zone += 1;
        }
        for s in p.device.sent() {
            d.sent += 1;
            d.note_bytes += s.payload.note.expose().len() as u64;
            if s.receipt.is_some() {
                d.receipts += 1;
            }
            if s.witnessed {
                d.witnessed += 1;
            }
            if p.device.enrollment().zone.is_some() {
                d.sent_with_zone += 1;
            }
            *by_pe.entry((i, s.epoch)).or_default() += 1;
        }
        d.refused += p.device.refusals().total();
        d.failures += p.device.failures().len() as u64;
        d.failures_unreported += p.device.unreported_failures().len() as u64;
    }
    d.participants = ctx.people.len() as u64;
    d.participant_epochs = by_pe.len() as u64;
    d
}

fn categories(d: &DeviceFigures, h: &minimis_server::store::sqlite::Holdings) -> Vec<CategoryRow> {
    let n = d.sent;
    vec![
        CategoryRow {
            category: "face images".into(),
            minimis_bytes: 0,
            smartlink_bytes: n * FACE_IMAGE_BYTES_ESTIMATE,
            smartlink_basis: format!(
                "one facial image per check-in, used for verification (CyberScoop, on records obtained by Just Futures Law); {} per image is an estimate",
                summary::human_bytes(FACE_IMAGE_BYTES_ESTIMATE)
            ),
            estimate: true,
        },
        CategoryRow {
            category: "precise location".into(),
            minimis_bytes: 0,
            smartlink_bytes: n * LOCATION_POINT_BYTES,
            smartlink_basis: format!(
                "geolocation at each check-in (CyberScoop); {LOCATION_POINT_BYTES} bytes per point (latitude, longitude, accuracy, time) is an estimate; continuous tracking, which can be switched on, would add far more"
            ),
            estimate: true,
        },
        CategoryRow {
            category: "check-in content".into(),
            minimis_bytes: h.ciphertext_bytes,
            smartlink_bytes: n * CHECKIN_RECORD_BYTES,
            smartlink_basis: format!(
                "a check-in record kept 7 years after the program, by the rule DHS's privacy impact assessment states (as CyberScoop reports it); {CHECKIN_RECORD_BYTES} bytes per record is an estimate. minimis: sealed ciphertext the operator cannot open, held only until its deadline"
            ),
            estimate: true,
        },
        CategoryRow {
            category: "compliance ledger".into(),
            minimis_bytes: h.ledger_bytes,
            smartlink_bytes: h.ledger_bytes,
            smartlink_basis: "assumed equal: any program keeps a record of compliance".into(),
            estimate: true,
        },
        CategoryRow {
            category: "identity (names, identifiers, contacts)".into(),
            minimis_bytes: 0,
            smartlink_bytes: d.participants * IDENTITY_BYTES,
            smartlink_basis: format!(
                "name, identifiers and contacts' phone numbers per participant (CyberScoop); {IDENTITY_BYTES} bytes per participant is an estimate. minimis: a random pseudonym"
            ),
            estimate: true,
        },
    ]
}
