//! `minimis demo`: the sealed check-in path end to end, in one process, with its
//! transparency log.
//!
//! Each party keeps to its own data. Devices hold their keys, their own check-ins and
//! their receipts. The operator holds devices' public keys, schedules, the challenges it
//! issued, the sealed records and the log. Each custodian holds its epoch identities; the
//! oversight custodian also witnesses the log. Officers see content only through a
//! logged, justified, two-party request.
//!
//! The simulated clock runs over the two epochs that ended 14 and 13 weeks before today,
//! so that the older one's retention deadline (its end plus the policy's 90 days) has just
//! passed and the newer one's has not: the log can then be audited against the real
//! clock. (Later issues put each party behind its own TLS service.)

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minimis_crypto::{SigningKey, TagKey, sign_challenge, verify_challenge, verify_envelope};
use minimis_log::entry::{
    CaseCommitment, CaseRef, CaseSalt, CustodianId, DenialReason, LegalBasisId, OfficerId,
    PurposeId, RecordSet, RecordSetHash,
};
use minimis_log::{
    Access, Cosigner, KeyName, Log, LogEntry, MemoryStorage, NoteSigner, VerifierKey, Witness,
    verify_tlog_proof,
};
use minimis_proto::{
    Challenge, ChallengeKind, CheckInPayload, CiphertextBounds, CustodianRole, Envelope, EpochId,
    Note, Policy, PresenceResult, Pseudonym, PublicKey, RecordId, Schedule, SignedChallenge, Slot,
    UnixTime, Weekday, Window, ZoneResult,
};
use minimis_seal::{
    CustodianKeys, EpochKeyring, OpenError, SealingKeys, open, open_inner, remove_outer,
    seal_envelope,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::Outcome;

/// Options of `minimis demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// How many participants to enroll.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    participants: u32,
    /// Also write sealed records, the live epoch's identity files, the log as C2SP
    /// tlog-tiles with its keys, and a README.txt on checking them with tools we did not
    /// write, to this (new or empty) directory.
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
}

/// How far back the simulation starts: the destroyed epoch ended this many epochs before
/// the current one began. With 7-day epochs and 90 days of retention, 14 is the most
/// recent epoch whose deadline has passed.
fn epochs_back(policy: &Policy) -> u32 {
    let len = policy.epoch_length_days();
    // The smallest k with k·len ≥ len + content_days: deadline(E−k) ≤ start(E) ≤ now.
    (len + policy.content_retention_days()).div_ceil(len)
}

// ---- the parties ---------------------------------------------------------------------

/// A participant's device: its secrets and its own record of what it did.
struct Device {
    pseudonym: Pseudonym,
    key: SigningKey,
    tags: TagKey,
    schedule: Schedule,
    /// Challenges this device accepted, for its own schedule check.
    accepted: Vec<Slot>,
    /// The challenge waiting to be answered.
    inbox: Option<SignedChallenge>,
    /// What it sent: record id, challenge, epoch, and its own copy of the payload.
    sent: Vec<(
        RecordId,
        minimis_proto::ChallengeId,
        EpochId,
        CheckInPayload,
    )>,
    /// Receipts it verified.
    receipts: u64,
}

/// What the operator knows of one participant: never an identity, never a key that opens.
struct OperatorView {
    device_key: PublicKey,
    schedule: Schedule,
    /// A copy of the participant's tag key, to write the log's tags (ENR-3).
    tags: TagKey,
    issued: Vec<Slot>,
}

/// One enrolled participant, as two separate views.
struct Enrolled {
    device: Device,
    operator: OperatorView,
}

/// A record in the operator's store.
#[derive(Clone)]
struct Stored {
    record_id: RecordId,
    epoch: EpochId,
    envelope: Envelope,
}

/// A key custodian.
struct Custodian {
    id: String,
    keyring: EpochKeyring,
    signing: SigningKey,
}

/// The operator's log, witnessed by the oversight custodian.
struct Transparency {
    log: Log<MemoryStorage>,
    log_key: VerifierKey,
    witness: Witness,
    witness_key: VerifierKey,
}

impl Transparency {
    fn new() -> anyhow::Result<Self> {
        let signer = NoteSigner::new(
            KeyName::new("operator.minimis.example/log")?,
            SigningKey::generate()?,
        );
        let log = Log::create(MemoryStorage::new(), signer)?;
        let log_key = log.verifier_key();
        let cosigner = Cosigner::new(
            KeyName::new("oversight.minimis.example/witness")?,
            SigningKey::generate()?,
        );
        let witness = Witness::new(cosigner, log_key.clone())?;
        let witness_key = witness.verifier_key();
        Ok(Self {
            log,
            log_key,
            witness,
            witness_key,
        })
    }

    /// Appends a batch, signs one checkpoint, and has the witness cosign it after
    /// checking that it extends the last tree the witness saw. Returns the index of the
    /// batch's first entry.
    fn commit(&mut self, entries: &[LogEntry], at: UnixTime) -> anyhow::Result<u64> {
        let before = self.log.size();
        let batch = self.log.append_entries(entries)?;
        let path = if before == 0 {
            Vec::new()
        } else {
            self.log
                .consistency_proof(before, batch.tree_size)?
                .consistency_path
        };
        let checkpoint = self.log.checkpoint().to_string();
        let cosignature = self.witness.cosign(checkpoint.as_bytes(), &path, at)?;
        self.log.add_cosignature(cosignature, &self.witness_key)?;
        Ok(batch.first_index)
    }
}

// ---- measurements and the summary ----------------------------------------------------

#[derive(Default)]
struct Timings {
    seal: Duration,
    verify: Duration,
    open: Duration,
    receipt: Duration,
    seals: u64,
    verifies: u64,
    opens: u64,
    receipts: u64,
}

impl Timings {
    fn add(&mut self, other: &Timings) {
        self.seal += other.seal;
        self.verify += other.verify;
        self.open += other.open;
        self.receipt += other.receipt;
        self.seals += other.seals;
        self.verifies += other.verifies;
        self.opens += other.opens;
        self.receipts += other.receipts;
    }

    fn micros(total: Duration, n: u64) -> f64 {
        if n == 0 {
            0.0
        } else {
            total.as_secs_f64() * 1e6 / n as f64
        }
    }
}

/// The summary, printed as text or JSON.
#[derive(Serialize)]
struct Summary {
    participants: u32,
    policy_hash: String,
    epochs: Vec<u32>,
    /// The longest any content stays readable: an epoch plus the content retention.
    readable_days: u32,
    operator: OperatorHolds,
    custodians: Vec<CustodianHolds>,
    receipts: Receipts,
    accesses: Accesses,
    retention: RetentionResult,
    log: LogSummary,
    /// Distinct per-epoch participant tags: participants × epochs when nothing links.
    distinct_log_tags: u64,
    crypto_path_micros: CryptoFigures,
    smartlink_comparison: SmartlinkComparison,
}

#[derive(Serialize)]
struct OperatorHolds {
    sealed_checkins_received: u64,
    sealed_checkins_held: u64,
    ciphertext_bytes_held: u64,
    mean_bytes_per_checkin: f64,
    min_bytes: u64,
    max_bytes: u64,
    bound_min: u64,
    bound_max: u64,
    decryption_keys: u64,
}

#[derive(Serialize)]
struct CustodianHolds {
    role: String,
    live_epochs: Vec<u32>,
    destroyed_epochs: Vec<u32>,
}

#[derive(Serialize)]
struct Receipts {
    issued: u64,
    verified_by_devices: u64,
}

#[derive(Serialize)]
struct Accesses {
    requests_granted: u64,
    records_opened_and_matched: u64,
    by_purpose: HashMap<String, u64>,
    requests_denied: u64,
    zone_results_seen: HashMap<String, u64>,
}

#[derive(Serialize)]
struct RetentionResult {
    destroyed_epoch: u32,
    deadline: String,
    records_purged: u64,
    backup_records: u64,
    backup_bytes: u64,
    keys_tried_per_record: u64,
    backup_records_opened: u64,
    live_epoch_record_opened_after: bool,
}

#[derive(Serialize)]
struct LogSummary {
    entries: u64,
    checkpoint_root: String,
    witness_cosigned: bool,
    tiles_verified: bool,
    log_key: String,
    witness_key: String,
}

#[derive(Serialize)]
struct CryptoFigures {
    seal: f64,
    verify: f64,
    open: f64,
    receipt_verify: f64,
}

#[derive(Serialize)]
struct SmartlinkComparison {
    source_note: &'static str,
    face_image_bytes_estimate: u64,
    face_images_for_this_run_bytes_estimate: u64,
    precise_locations_for_this_run: u64,
    retention: &'static str,
    isap_year_face_images_bytes_estimate: u64,
    isap_year_minimis_ciphertext_bytes_estimate: u64,
}

/// Estimate: a compressed phone selfie uploaded for face matching. Not a published
/// figure; marked as an estimate wherever it is shown.
const FACE_IMAGE_BYTES_ESTIMATE: u64 = 150_000;
/// FY2023 participants on the SmartLINK app (ICE data reported by CyberScoop).
const SMARTLINK_FY2023: u64 = 177_654;
/// Weekly check-ins on a set day, as reported (Documented, KPBS).
const CHECKINS_PER_YEAR: u64 = 52;

const TIME_ZONES: [&str; 4] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
];
const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];
const NOTES: [&str; 4] = [
    "Bus was late; checking in from the stop.",
    "Llegué tarde por el trabajo.",
    "Hearing moved to next month, letter attached at office.",
    "Cita médica de mi hija a las 3.",
];

/// A cheap, deterministic mixer for the simulation's choices (not for anything secret).
fn mix(i: u64, salt: u64) -> u64 {
    let mut x = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
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
        ProgressStyle::with_template("{prefix:>14} [{bar:32}] {pos}/{len} {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

/// Runs `f` on one chunk of `items` per core, in parallel; results in chunk order.
fn par_chunks<T: Send, R: Send>(
    items: &mut [T],
    f: impl Fn(&mut [T]) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks_mut(chunk).map(|c| s.spawn(|| f(c))).collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a worker thread panicked"))?)
            .collect()
    })
}

fn now() -> anyhow::Result<UnixTime> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    Ok(UnixTime(
        i64::try_from(secs).context("the system clock is out of range")?,
    ))
}

// ---- the phases ----------------------------------------------------------------------

fn enroll(policy: &Policy, n: u32) -> anyhow::Result<Vec<Enrolled>> {
    let nine = minimis_proto::LocalTime::new(9, 0).ok_or_else(|| anyhow!("09:00"))?;
    let five = minimis_proto::LocalTime::new(17, 0).ok_or_else(|| anyhow!("17:00"))?;
    (0..u64::from(n))
        .map(|i| {
            let schedule = Schedule::new(
                TIME_ZONES[(mix(i, 1) % 4) as usize],
                vec![Window {
                    weekday: WEEKDAYS[(mix(i, 2) % 5) as usize],
                    start: nine,
                    end: five,
                }],
                1,
                2,
            )?;
            schedule.check_policy(policy)?;
            let key = SigningKey::generate()?;
            let device_key = key.public_key();
            let tags = TagKey::generate()?;
            // The enrolling agency hands the operator a copy of the tag key.
            let operator_tags = TagKey::from_bytes(Zeroizing::new(*tags.expose_secret()));
            Ok(Enrolled {
                device: Device {
                    pseudonym: minimis_crypto::random_pseudonym()?,
                    key,
                    tags,
                    schedule: schedule.clone(),
                    accepted: Vec::new(),
                    inbox: None,
                    sent: Vec::new(),
                    receipts: 0,
                },
                operator: OperatorView {
                    device_key,
                    schedule,
                    tags: operator_tags,
                    issued: Vec::new(),
                },
            })
        })
        .collect()
}

/// The operator issues the epoch's scheduled challenge to everyone, within each enrolled
/// schedule, and returns the log entries (logged before the challenges are sent).
fn issue_challenges(
    people: &mut [Enrolled],
    policy: &Policy,
    operator_key: &SigningKey,
    epoch: EpochId,
) -> anyhow::Result<(Vec<LogEntry>, UnixTime)> {
    let mut entries = Vec::with_capacity(people.len());
    let mut latest = policy.epoch_start(epoch);
    for (i, p) in people.iter_mut().enumerate() {
        let view = &mut p.operator;
        let spans = view
            .schedule
            .spans_between(policy.epoch_start(epoch), policy.epoch_end(epoch));
        let span = spans
            .first()
            .ok_or_else(|| anyhow!("no window in epoch {epoch}"))?;
        let width = (span.end.seconds() - span.start.seconds()).max(1) as u64;
        let at = span
            .start
            .plus((mix(i as u64, u64::from(epoch.get())) % width) as i64);
        let slot = Slot {
            at,
            kind: ChallengeKind::Scheduled,
        };
        let window = view.schedule.admits(&view.issued, slot)?;
        view.issued.push(slot);
        let challenge = Challenge {
            id: minimis_crypto::random_challenge_id()?,
            pseudonym: p.device.pseudonym,
            epoch,
            kind: ChallengeKind::Scheduled,
            issued_at: at,
            window_start: window.start,
            window_end: window.end,
            policy: policy.hash(),
        };
        entries.push(LogEntry::ChallengeIssued {
            tag: view.tags.tag(&challenge.pseudonym, epoch),
            challenge: challenge.id,
            epoch,
            kind: challenge.kind,
            issued_at: at,
            window,
        });
        latest = latest.max(at);
        p.device.inbox = Some(sign_challenge(operator_key, challenge));
    }
    Ok((entries, latest))
}

/// What one worker produced for its participants in one epoch.
struct CheckinBatch {
    stored: Vec<Stored>,
    entries: Vec<LogEntry>,
    latest: UnixTime,
    timings: Timings,
}

/// Devices answer their challenge; the operator verifies and stores each check-in.
fn answer_challenges(
    people: &mut [Enrolled],
    policy: &Policy,
    operator_public: &PublicKey,
    keys: &SealingKeys,
    bar: &ProgressBar,
) -> anyhow::Result<CheckinBatch> {
    let epoch = keys.epoch();
    let bounds = keys.bounds();
    let mut batch = CheckinBatch {
        stored: Vec::with_capacity(people.len()),
        entries: Vec::with_capacity(people.len()),
        latest: policy.epoch_start(epoch),
        timings: Timings::default(),
    };
    for p in people.iter_mut() {
        let d = &mut p.device;
        let signed = d.inbox.take().ok_or_else(|| anyhow!("no challenge"))?;
        // Device: the operator's signature, then its own copy of the schedule.
        let challenge = verify_challenge(&signed, operator_public)?;
        let slot = Slot {
            at: challenge.issued_at,
            kind: challenge.kind,
        };
        d.schedule.admits(&d.accepted, slot)?;
        d.accepted.push(slot);
        let seed = u64::from_le_bytes(
            d.pseudonym.as_bytes()[..8]
                .try_into()
                .map_err(|_| anyhow!("pseudonym"))?,
        ) ^ u64::from(epoch.get());
        let zone = match mix(seed, 7) % 100 {
            0..=89 => ZoneResult::Inside,
            90..=93 => ZoneResult::Outside,
            _ => ZoneResult::Unavailable,
        };
        let note = if mix(seed, 11) % 10 == 0 {
            Note::new(NOTES[(mix(seed, 13) % 4) as usize], policy.max_note_bytes())?
        } else {
            Note::empty()
        };
        let payload = CheckInPayload {
            challenge_id: challenge.id,
            zone,
            presence: PresenceResult::Confirmed,
            device_time: challenge.issued_at.plus(90),
            note,
        };
        let t = Instant::now();
        let envelope = seal_envelope(&payload, keys, d.pseudonym, &d.key)?;
        batch.timings.seal += t.elapsed();
        batch.timings.seals += 1;
        let record_id = envelope.record_id();
        d.sent
            .push((record_id, challenge.id, epoch, payload.clone()));
        batch.latest = batch.latest.max(payload.device_time);

        // Operator: length bound and device signature, then store and log.
        let t = Instant::now();
        let verified = verify_envelope(envelope, &p.operator.device_key, bounds)?;
        batch.timings.verify += t.elapsed();
        batch.timings.verifies += 1;
        let env = verified.into_envelope();
        if env.challenge_id != challenge.id || env.epoch != epoch {
            bail!("the envelope does not answer the challenge issued");
        }
        batch.entries.push(LogEntry::CheckInReceived {
            tag: p.operator.tags.tag(&env.pseudonym, epoch),
            record: record_id,
            challenge: env.challenge_id,
            epoch,
        });
        batch.stored.push(Stored {
            record_id,
            epoch,
            envelope: env,
        });
        bar.inc(1);
    }
    Ok(batch)
}

fn custodian(
    role: CustodianRole,
    policy: &Policy,
    epochs: &[EpochId],
) -> anyhow::Result<Custodian> {
    let id = policy
        .custodian(role)
        .ok_or_else(|| anyhow!("the policy names no {role} custodian"))?
        .id
        .clone();
    let mut keyring = EpochKeyring::new(role, id.clone());
    for &e in epochs {
        keyring.generate(e)?;
    }
    Ok(Custodian {
        id,
        keyring,
        signing: SigningKey::generate()?,
    })
}

/// An officer's request to open records, as the custodians log it.
struct Request<'a> {
    officer: &'a str,
    purpose: &'a str,
    legal_basis: &'a str,
    case: &'a str,
    records: Vec<&'a Stored>,
}

/// The access as a custodian logs it. The case reference itself stays with the agency;
/// the log carries a salted commitment to it (ACC-9), which the agency can open for an
/// auditor or a court.
fn access(
    custodian: &str,
    r: &Request<'_>,
    salt: &CaseSalt,
    epoch: EpochId,
) -> anyhow::Result<Access> {
    Ok(Access {
        custodian: CustodianId::new(custodian)?,
        officer: OfficerId::new(r.officer)?,
        purpose: PurposeId::new(r.purpose)?,
        legal_basis: LegalBasisId::new(r.legal_basis)?,
        case: CaseCommitment::new(salt, &CaseRef::new(r.case)?),
        records: RecordSet::new(r.records.iter().map(|s| s.record_id))?,
        epoch,
    })
}

/// The result of one request.
enum Granted {
    Opened(Vec<CheckInPayload>),
    Denied,
}

/// Two-party access (spec/access.md): the agency custodian checks the policy and logs the
/// access or the denial; the oversight custodian opens its layer only for an access the
/// agency logged, and logs its own; both entries are in a witnessed checkpoint before
/// anything is opened.
#[allow(clippy::too_many_arguments)]
fn request(
    r: &Request<'_>,
    policy: &Policy,
    agency: &Custodian,
    oversight: Option<&Custodian>,
    t: &mut Transparency,
    at: UnixTime,
    timings: &mut Timings,
) -> anyhow::Result<Granted> {
    let epoch = r
        .records
        .first()
        .map(|s| s.epoch)
        .ok_or_else(|| anyhow!("a request names at least one record"))?;
    let salt = CaseSalt::generate()?;
    let agency_access = access(&agency.id, r, &salt, epoch)?;
    if !policy.allows_purpose(r.purpose) || !policy.allows_legal_basis(r.legal_basis) {
        let reason = if policy.allows_purpose(r.purpose) {
            DenialReason::LegalBasisNotAllowed
        } else {
            DenialReason::PurposeNotAllowed
        };
        t.commit(
            &[LogEntry::AccessDenied {
                access: agency_access,
                reason,
            }],
            at,
        )?;
        return Ok(Granted::Denied);
    }
    let mut entries = vec![LogEntry::ContentAccessed(agency_access)];
    if let Some(o) = oversight {
        entries.push(LogEntry::ContentAccessed(access(&o.id, r, &salt, epoch)?));
    }
    let first = t.commit(&entries, at)?;
    // Log before open: each custodian checks its entry is in the witnessed log.
    for (i, e) in entries.iter().enumerate() {
        let proof = t.log.tlog_proof(first + i as u64)?.to_string();
        verify_tlog_proof(
            proof.as_bytes(),
            &e.encode(),
            &t.log_key,
            std::slice::from_ref(&t.witness_key),
        )?;
    }
    let agency_id = agency.keyring.identity(epoch)?;
    let mut out = Vec::with_capacity(r.records.len());
    for s in &r.records {
        let start = Instant::now();
        let payload = match oversight {
            Some(o) => {
                let inner = remove_outer(&s.envelope.ciphertext, o.keyring.identity(epoch)?)?;
                open_inner(inner.as_bytes(), agency_id, policy.max_note_bytes())?
            }
            None => open_inner(
                s.envelope.ciphertext.as_bytes(),
                agency_id,
                policy.max_note_bytes(),
            )?,
        };
        timings.open += start.elapsed();
        timings.opens += 1;
        out.push(payload);
    }
    Ok(Granted::Opened(out))
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    // The policy's own text is exported with the log, so that an auditor checks the hash
    // the log publishes against exactly this file.
    let policy_text = match &args.policy {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read policy file {}", p.display()))?,
        None => minimis_proto::DEFAULT_POLICY_TOML.to_owned(),
    };
    let policy = Policy::from_toml_str(&policy_text).context("in the policy file")?;
    let show = !args.quiet && !args.json;
    let n = args.participants;

    // The simulated clock (see the module docs).
    let today = now()?;
    let current = policy
        .epoch_at(today)
        .ok_or_else(|| anyhow!("the clock is before the first epoch"))?;
    let back = epochs_back(&policy);
    let old = EpochId::new(
        current
            .get()
            .checked_sub(back)
            .ok_or_else(|| anyhow!("the clock is too early"))?,
    );
    let live = old.next().ok_or_else(|| anyhow!("epoch overflow"))?;
    let epochs = [old, live];
    let deadline = policy.content_deadline(old);

    if show {
        println!(
            "minimis demo: {n} participants, two {}-day epochs ({old} and {live}, {back} and {} weeks ago), policy {}",
            policy.epoch_length_days(),
            back - 1,
            &policy.hash().to_hex()[..16]
        );
    }

    // Custodians make their epoch identities ahead of time; the oversight custodian also
    // runs the log's witness.
    let agency = custodian(CustodianRole::Agency, &policy, &epochs)?;
    let mut oversight = match policy.custodian(CustodianRole::Oversight) {
        Some(_) => Some(custodian(CustodianRole::Oversight, &policy, &epochs)?),
        None => None,
    };
    let custodian_keys = CustodianKeys {
        agency: agency.signing.public_key(),
        oversight: oversight.as_ref().map(|c| c.signing.public_key()),
    };
    let operator_key = SigningKey::generate()?;
    let operator_public = operator_key.public_key();
    let mut t = Transparency::new()?;
    let layers = 1 + usize::from(oversight.is_some());
    let bounds = CiphertextBounds::for_layers(layers);
    let start = policy.epoch_start(old);
    t.commit(
        &[LogEntry::PolicyPublished {
            policy: policy.hash(),
        }],
        start,
    )?;

    let bar = progress(u64::from(n), "enroll", show);
    let mut people = enroll(&policy, n)?;
    let enrollments: Vec<LogEntry> = people
        .iter()
        .map(|p| LogEntry::EnrollmentOpened {
            tag: p.operator.tags.tag(&p.device.pseudonym, old),
            epoch: old,
            policy: policy.hash(),
        })
        .collect();
    t.commit(&enrollments, start)?;
    bar.set_position(u64::from(n));
    bar.finish();

    let mut store: Vec<Stored> = Vec::with_capacity(2 * people.len());
    let mut timings = Timings::default();
    let mut receipts_issued = 0u64;
    for &epoch in &epochs {
        // Challenges are logged before they are sent (CHL-5).
        let (issued, issued_at) = issue_challenges(&mut people, &policy, &operator_key, epoch)?;
        t.commit(&issued, issued_at)?;

        // Each device checks the custodians' signed recipients once per epoch (SEAL-7);
        // every simulated device reaches the same verified keys, so verify once.
        let mut recipients =
            vec![
                agency
                    .keyring
                    .publish(epoch, policy.epoch_end(epoch), &agency.signing)?,
            ];
        if let Some(o) = &oversight {
            recipients.push(
                o.keyring
                    .publish(epoch, policy.epoch_end(epoch), &o.signing)?,
            );
        }
        let keys = SealingKeys::verify(
            &policy,
            policy.epoch_start(epoch),
            &recipients,
            &custodian_keys,
        )?;
        let bar = progress(u64::from(n), &format!("epoch {epoch}"), show);
        let batches = par_chunks(&mut people, |part| {
            answer_challenges(part, &policy, &operator_public, &keys, &bar)
        })?;
        bar.finish();
        let mut entries = Vec::with_capacity(people.len());
        let mut latest = policy.epoch_start(epoch);
        for b in batches {
            entries.extend(b.entries);
            store.extend(b.stored);
            timings.add(&b.timings);
            latest = latest.max(b.latest);
        }
        // One batch, one witnessed checkpoint; each device gets its receipt.
        let first = t.commit(&entries, latest)?;
        receipts_issued += entries.len() as u64;
        let proofs: Vec<String> = (0..entries.len() as u64)
            .map(|i| t.log.tlog_proof(first + i).map(|p| p.to_string()))
            .collect::<Result<_, _>>()?;
        let (log_key, witness_key) = (&t.log_key, &t.witness_key);
        let bar = progress(u64::from(n), "receipts", show);
        let mut with_receipts: Vec<(&mut Enrolled, &String)> =
            people.iter_mut().zip(proofs.iter()).collect();
        let verified = par_chunks(&mut with_receipts, |part| {
            let mut tm = Timings::default();
            for (p, proof) in part.iter_mut() {
                let d = &mut p.device;
                let (record, challenge, e, _) =
                    d.sent.last().ok_or_else(|| anyhow!("nothing sent"))?;
                // The device rebuilds the entry from what it knows, so the receipt proves
                // its own check-in.
                let entry = LogEntry::CheckInReceived {
                    tag: d.tags.tag(&d.pseudonym, *e),
                    record: *record,
                    challenge: *challenge,
                    epoch: *e,
                };
                let start = Instant::now();
                verify_tlog_proof(
                    proof.as_bytes(),
                    &entry.encode(),
                    log_key,
                    std::slice::from_ref(witness_key),
                )?;
                tm.receipt += start.elapsed();
                tm.receipts += 1;
                d.receipts += 1;
                bar.inc(1);
            }
            Ok(tm)
        })?;
        bar.finish();
        for tm in verified {
            timings.add(&tm);
        }
    }

    // Officers ask to open records of the newer epoch, after it ended: a few requests
    // with allowed purposes, and one without.
    let review_time = policy.epoch_end(live).plus(86_400);
    let purposes: Vec<&str> = policy.purposes().iter().map(|p| p.id.as_str()).collect();
    let basis = policy
        .legal_bases()
        .first()
        .map(|b| b.id.as_str())
        .ok_or_else(|| anyhow!("the policy names no legal basis"))?;
    let sent: HashMap<RecordId, &CheckInPayload> = people
        .iter()
        .flat_map(|p| p.device.sent.iter().map(|(r, _, _, pl)| (*r, pl)))
        .collect();
    let live_records: Vec<&Stored> = store.iter().filter(|s| s.epoch == live).collect();
    let first_live: Option<Stored> = live_records.first().map(|s| (*s).clone());
    let mut by_purpose: HashMap<String, u64> = HashMap::new();
    let mut zones: HashMap<String, u64> = HashMap::new();
    let (mut granted, mut denied, mut matched) = (0u64, 0u64, 0u64);
    let requests = live_records.len().min(12);
    let bar = progress(requests as u64 + 1, "access", show);
    for (i, s) in live_records.iter().take(requests).enumerate() {
        let purpose = purposes[i % purposes.len().clamp(1, 2)];
        let officer = format!("officer-{:04x}", 0x7f30 + (i % 3));
        let case = format!("CASE-2026-{:06}", 4_211 + i);
        let r = Request {
            officer: &officer,
            purpose,
            legal_basis: basis,
            case: &case,
            records: vec![s],
        };
        if let Granted::Opened(payloads) = request(
            &r,
            &policy,
            &agency,
            oversight.as_ref(),
            &mut t,
            review_time,
            &mut timings,
        )? {
            granted += 1;
            *by_purpose.entry(purpose.to_owned()).or_default() += 1;
            for (s, p) in r.records.iter().zip(payloads) {
                if sent.get(&s.record_id) == Some(&&p) {
                    matched += 1;
                    let z = serde_json::to_value(p.zone)?;
                    *zones
                        .entry(z.as_str().unwrap_or("?").to_owned())
                        .or_default() += 1;
                }
            }
        }
        bar.inc(1);
    }
    // An officer who gives no purpose the policy allows is refused, and the refusal logged.
    if let Some(s) = live_records.first() {
        let r = Request {
            officer: "officer-7f3f",
            purpose: "curiosity",
            legal_basis: basis,
            case: "CASE-2026-000000",
            records: vec![s],
        };
        if let Granted::Denied = request(
            &r,
            &policy,
            &agency,
            oversight.as_ref(),
            &mut t,
            review_time,
            &mut timings,
        )? {
            denied += 1;
        }
    }
    bar.inc(1);
    bar.finish();

    // Retention: at the older epoch's deadline. The operator's database is backed up the
    // day before; then both custodians destroy their keys and the operator purges.
    let backup: Vec<Stored> = store.iter().filter(|s| s.epoch == old).cloned().collect();
    let mut agency = agency;
    agency.keyring.destroy(old);
    let mut destructions = vec![LogEntry::EpochKeyDestroyed {
        custodian: CustodianId::new(&agency.id)?,
        epoch: old,
        destroyed_at: deadline,
    }];
    if let Some(o) = oversight.as_mut() {
        o.keyring.destroy(old);
        destructions.push(LogEntry::EpochKeyDestroyed {
            custodian: CustodianId::new(&o.id)?,
            epoch: old,
            destroyed_at: deadline,
        });
    }
    let purged: Vec<RecordId> = backup.iter().map(|s| s.record_id).collect();
    store.retain(|s| s.epoch != old);
    let (count, record_set) = RecordSetHash::of(&purged);
    destructions.push(LogEntry::RecordsPurged {
        epoch: old,
        count,
        record_set,
        purged_at: deadline,
    });
    t.commit(&destructions, deadline)?;

    // Every key that still exists anywhere in this run, against every backed-up record.
    let survivors: Vec<&minimis_seal::EpochIdentity> = [Some(&agency), oversight.as_ref()]
        .into_iter()
        .flatten()
        .map(|c| c.keyring.identity(live))
        .collect::<Result<_, _>>()?;
    let bar = progress(backup.len() as u64, "retention", show);
    let mut reopened = 0u64;
    for s in &backup {
        let by_epoch = open(
            &s.envelope.ciphertext,
            s.epoch,
            &agency.keyring,
            oversight.as_ref().map(|o| &o.keyring),
            policy.max_note_bytes(),
        );
        if !matches!(by_epoch, Err(OpenError::KeyDestroyed { .. })) {
            reopened += 1;
        }
        let bytes = s.envelope.ciphertext.as_bytes();
        if survivors.iter().any(|id| {
            remove_outer(&s.envelope.ciphertext, id).is_ok()
                || open_inner(bytes, id, policy.max_note_bytes()).is_ok()
        }) {
            reopened += 1;
        }
        bar.inc(1);
    }
    bar.finish();
    // The newer epoch is unaffected: one more logged request opens one of its records.
    let after = match &first_live {
        Some(s) => {
            let r = Request {
                officer: "officer-7f30",
                purpose: purposes[0],
                legal_basis: basis,
                case: "CASE-2026-004300",
                records: vec![s],
            };
            let g = request(
                &r,
                &policy,
                &agency,
                oversight.as_ref(),
                &mut t,
                deadline.plus(3_600),
                &mut timings,
            )?;
            matches!(g, Granted::Opened(p) if sent.get(&s.record_id) == p.first().as_ref())
        }
        None => false,
    };

    // The log verifies from its tiles alone.
    let reader = minimis_log::LogReader::open(t.log.storage().clone(), &t.log_key)?;
    let tiles_verified = reader.audit().is_ok();
    let witness_cosigned = t
        .log
        .checkpoint()
        .verify_cosignatures(std::slice::from_ref(&t.witness_key))
        .is_ok();

    if let Some(dir) = &args.export {
        let sample: Vec<(EpochId, RecordId, &[u8])> = backup
            .iter()
            .take(5)
            .chain(store.iter().filter(|s| s.epoch == live).take(5))
            .map(|s| (s.epoch, s.record_id, s.envelope.ciphertext.as_bytes()))
            .collect();
        let identities: Vec<&minimis_seal::EpochIdentity> = survivors.clone();
        crate::export::write(
            dir,
            &crate::export::Export {
                policy_text: &policy_text,
                destroyed: old,
                sample: &sample,
                identities: &identities,
                log: &t.log,
                witness_key: &t.witness_key,
            },
        )?;
    }

    // The log names each participant by a fresh tag per epoch.
    let tags: HashSet<_> = people
        .iter()
        .flat_map(|p| {
            epochs
                .iter()
                .map(|&e| p.device.tags.tag(&p.device.pseudonym, e))
        })
        .collect();
    let distinct_tags = tags.len() as u64;
    let verified_receipts: u64 = people.iter().map(|p| p.device.receipts).sum();

    let lens: Vec<u64> = store
        .iter()
        .chain(backup.iter())
        .map(|r| r.envelope.ciphertext.len() as u64)
        .collect();
    let received = lens.len() as u64;
    let held: u64 = store
        .iter()
        .map(|s| s.envelope.ciphertext.len() as u64)
        .sum();
    let mean = lens.iter().sum::<u64>() as f64 / received.max(1) as f64;
    let mut custodians = vec![CustodianHolds {
        role: "agency".into(),
        live_epochs: agency.keyring.live_epochs().map(EpochId::get).collect(),
        destroyed_epochs: agency
            .keyring
            .destroyed_epochs()
            .map(EpochId::get)
            .collect(),
    }];
    if let Some(o) = &oversight {
        custodians.push(CustodianHolds {
            role: "oversight".into(),
            live_epochs: o.keyring.live_epochs().map(EpochId::get).collect(),
            destroyed_epochs: o.keyring.destroyed_epochs().map(EpochId::get).collect(),
        });
    }
    let checkpoint = t.log.checkpoint().checkpoint();
    let summary = Summary {
        participants: n,
        policy_hash: policy.hash().to_hex(),
        epochs: epochs.iter().map(|e| e.get()).collect(),
        readable_days: policy.epoch_length_days() + policy.content_retention_days(),
        operator: OperatorHolds {
            sealed_checkins_received: received,
            sealed_checkins_held: store.len() as u64,
            ciphertext_bytes_held: held,
            mean_bytes_per_checkin: mean,
            min_bytes: lens.iter().copied().min().unwrap_or(0),
            max_bytes: lens.iter().copied().max().unwrap_or(0),
            bound_min: bounds.min as u64,
            bound_max: bounds.max as u64,
            decryption_keys: 0,
        },
        custodians,
        receipts: Receipts {
            issued: receipts_issued,
            verified_by_devices: verified_receipts,
        },
        accesses: Accesses {
            requests_granted: granted,
            records_opened_and_matched: matched,
            by_purpose,
            requests_denied: denied,
            zone_results_seen: zones,
        },
        retention: RetentionResult {
            destroyed_epoch: old.get(),
            deadline: deadline.to_string(),
            records_purged: count,
            backup_records: backup.len() as u64,
            backup_bytes: backup
                .iter()
                .map(|s| s.envelope.ciphertext.len() as u64)
                .sum(),
            keys_tried_per_record: 1 + survivors.len() as u64,
            backup_records_opened: reopened,
            live_epoch_record_opened_after: after,
        },
        log: LogSummary {
            entries: t.log.size(),
            checkpoint_root: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                checkpoint.root_hash(),
            ),
            witness_cosigned,
            tiles_verified,
            log_key: t.log_key.to_string(),
            witness_key: t.witness_key.to_string(),
        },
        distinct_log_tags: distinct_tags,
        crypto_path_micros: CryptoFigures {
            seal: Timings::micros(timings.seal, timings.seals),
            verify: Timings::micros(timings.verify, timings.verifies),
            open: Timings::micros(timings.open, timings.opens),
            receipt_verify: Timings::micros(timings.receipt, timings.receipts),
        },
        smartlink_comparison: SmartlinkComparison {
            source_note: "SmartLINK facts as publicly reported (CyberScoop on records obtained by Just Futures Law; DHS/ICE/PIA-062 as quoted); image size is an estimate",
            face_image_bytes_estimate: FACE_IMAGE_BYTES_ESTIMATE,
            face_images_for_this_run_bytes_estimate: received * FACE_IMAGE_BYTES_ESTIMATE,
            precise_locations_for_this_run: received,
            retention: "7 years after the participant leaves the program (DHS PIA-062), or indefinitely (records obtained by Just Futures Law)",
            isap_year_face_images_bytes_estimate: SMARTLINK_FY2023
                * CHECKINS_PER_YEAR
                * FACE_IMAGE_BYTES_ESTIMATE,
            isap_year_minimis_ciphertext_bytes_estimate: (SMARTLINK_FY2023 as f64
                * CHECKINS_PER_YEAR as f64
                * mean) as u64,
        },
    };

    let n64 = u64::from(n);
    let failures: Vec<&str> = [
        (
            distinct_tags != 2 * n64,
            "a tag repeats across participants or epochs",
        ),
        (
            verified_receipts != 2 * n64,
            "a device could not verify its receipt",
        ),
        (
            matched != granted,
            "an opened record differs from what its device sent",
        ),
        (
            denied != 1,
            "the request without an allowed purpose was not refused",
        ),
        (reopened != 0, "a record of the destroyed epoch opened"),
        (
            !after,
            "a record of the live epoch did not open after retention",
        ),
        (!tiles_verified, "the log does not verify from its tiles"),
        (
            !witness_cosigned,
            "the checkpoint lacks the witness's cosignature",
        ),
    ]
    .into_iter()
    .filter_map(|(bad, what)| bad.then_some(what))
    .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if show {
        print_summary(&summary, args.export.as_ref());
    }
    if failures.is_empty() {
        Ok(Outcome::Success)
    } else {
        for f in failures {
            eprintln!("minimis demo: CHECK FAILED: {f}");
        }
        Ok(Outcome::CheckFailed)
    }
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e12 {
        format!("{:.2} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} bytes")
    }
}

fn sorted(map: &HashMap<String, u64>) -> String {
    let mut v: Vec<_> = map.iter().collect();
    v.sort();
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_summary(s: &Summary, export: Option<&PathBuf>) {
    let o = &s.operator;
    let r = &s.retention;
    let a = &s.accesses;
    let sl = &s.smartlink_comparison;
    println!();
    println!("What the operator (the vendor running the servers) holds");
    println!(
        "  received {} sealed check-ins, {:.0} bytes each on average ({}-{}; all within the fixed bound {}-{})",
        o.sealed_checkins_received,
        o.mean_bytes_per_checkin,
        o.min_bytes,
        o.max_bytes,
        o.bound_min,
        o.bound_max
    );
    println!(
        "  holds {} of them now ({}): the older epoch's were purged at its deadline",
        o.sealed_checkins_held,
        human_bytes(o.ciphertext_bytes_held)
    );
    println!(
        "  decryption keys: none. No location, no image, no identity: a random pseudonym per person."
    );
    println!("What the key custodians hold");
    for c in &s.custodians {
        println!(
            "  {:9} live epoch keys {:?}, destroyed {:?}",
            c.role, c.live_epochs, c.destroyed_epochs
        );
    }
    println!("Every participant holds proof of each check-in");
    println!(
        "  {} receipts (inclusion proofs against witnessed checkpoints), {} verified by the devices",
        s.receipts.issued, s.receipts.verified_by_devices
    );
    println!("Opening content takes a logged reason and both custodians");
    println!(
        "  {} requests granted ({}), {} records opened, each matching what its device sent",
        a.requests_granted,
        sorted(&a.by_purpose),
        a.records_opened_and_matched
    );
    println!(
        "  {} request refused for naming no purpose the policy allows; the refusal is in the log",
        a.requests_denied
    );
    println!(
        "  what they contained: a zone result only ({})",
        sorted(&a.zone_results_seen)
    );
    println!("Retention is enforced by destroying keys");
    println!(
        "  epoch {}'s deadline ({}): both custodians destroyed their keys, the operator purged {} records",
        r.destroyed_epoch, r.deadline, r.records_purged
    );
    println!(
        "  a backup taken the day before still holds {} of them ({}): {} open with any of the {} keys that still exist",
        r.backup_records,
        human_bytes(r.backup_bytes),
        r.backup_records_opened,
        r.keys_tried_per_record
    );
    println!(
        "  the newer epoch is unaffected: a logged request after the deadline {}",
        if r.live_epoch_record_opened_after {
            "opened its record"
        } else {
            "FAILED to open its record"
        }
    );
    println!("The public log");
    println!(
        "  {} entries; the checkpoint (root {}) is signed by the operator{}, and the tiles verify{}",
        s.log.entries,
        &s.log.checkpoint_root,
        if s.log.witness_cosigned {
            ", cosigned by the oversight witness"
        } else {
            ", NOT cosigned"
        },
        if s.log.tiles_verified { "" } else { ": NO" }
    );
    println!(
        "  people appear only as tags that change every epoch: {} participants x {} epochs = {} distinct tags",
        s.participants,
        s.epochs.len(),
        s.distinct_log_tags
    );
    println!("The crypto path on this machine (mean per operation)");
    println!(
        "  seal on the device {:.0} us, verify on the server {:.0} us, open by both custodians {:.0} us, receipt check on the device {:.0} us",
        s.crypto_path_micros.seal,
        s.crypto_path_micros.verify,
        s.crypto_path_micros.open,
        s.crypto_path_micros.receipt_verify
    );
    println!("The same check-ins under a SmartLINK-style design, as publicly reported");
    println!(
        "  each check-in: a face image (~{}, estimate) and a precise location; {} check-ins: ~{} of face images and {} exact locations",
        human_bytes(sl.face_image_bytes_estimate),
        o.sealed_checkins_received,
        human_bytes(sl.face_images_for_this_run_bytes_estimate),
        sl.precise_locations_for_this_run
    );
    println!("  kept: {}", sl.retention);
    println!(
        "  a year of weekly check-ins for the {} people on SmartLINK in FY2023: ~{} of face images (estimate) vs ~{} of minimis ciphertext, unreadable after at most {} days",
        SMARTLINK_FY2023,
        human_bytes(sl.isap_year_face_images_bytes_estimate),
        human_bytes(sl.isap_year_minimis_ciphertext_bytes_estimate),
        s.readable_days
    );
    if let Some(dir) = export {
        println!();
        println!(
            "Exported to {}: see README.txt there to open the records with the standard age tool and to audit the log.",
            dir.display()
        );
    }
}
