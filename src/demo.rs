//! `minimis demo`: the sealed check-in path end to end, in one process.
//!
//! Each party keeps to its own data: devices hold their keys and their own check-ins; the
//! operator holds devices' public keys, schedules, the challenges it issued and the sealed
//! records; each custodian holds its epoch identities. The simulated clock starts in the
//! previous epoch and runs to the current one; retention is then fast-forwarded to the
//! previous epoch's deadline. (Later issues put each party behind its own TLS service.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minimis_crypto::{SigningKey, TagKey, sign_challenge, verify_challenge, verify_envelope};
use minimis_proto::{
    Challenge, ChallengeKind, CheckInPayload, CiphertextBounds, CustodianRole, Envelope, EpochId,
    Note, Policy, PresenceResult, Pseudonym, PublicKey, RecordId, Schedule, SignedChallenge,
    SignedEpochRecipient, Slot, UnixTime, Weekday, Window, ZoneResult,
};
use minimis_seal::{
    CustodianKeys, EpochKeyring, OpenError, SealingKeys, open, open_inner, remove_outer,
    seal_envelope,
};
use serde::Serialize;

use crate::Outcome;

/// Options of `minimis demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// How many participants to enroll.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    participants: u32,
    /// Also write a sample of sealed records, the surviving epoch's identity files and a
    /// README.txt on opening them with the standard `age` tool to this directory.
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

/// A participant's device: its secrets and its own record of what it sent.
struct Device {
    pseudonym: Pseudonym,
    key: SigningKey,
    /// Derives the per-epoch tags under which the log will list this participant.
    tags: TagKey,
    schedule: Schedule,
    /// Challenges this device accepted, for its own schedule check.
    accepted: Vec<Slot>,
}

/// What the operator knows of one participant: never an identity, never a key that opens.
struct OperatorView {
    device_key: PublicKey,
    schedule: Schedule,
    issued: Vec<Slot>,
}

/// One enrolled participant, as two separate views.
struct Enrolled {
    device: Device,
    operator: OperatorView,
}

/// A record in the operator's store.
struct Stored {
    record_id: RecordId,
    epoch: EpochId,
    envelope: Envelope,
}

/// A key custodian.
struct Custodian {
    keyring: EpochKeyring,
    signing: SigningKey,
}

#[derive(Default)]
struct Timings {
    seal: Duration,
    verify: Duration,
    open: Duration,
    seals: u64,
    verifies: u64,
    opens: u64,
}

impl Timings {
    fn add(&mut self, other: &Timings) {
        self.seal += other.seal;
        self.verify += other.verify;
        self.open += other.open;
        self.seals += other.seals;
        self.verifies += other.verifies;
        self.opens += other.opens;
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
    opened_before_retention: Counted,
    retention: RetentionResult,
    zone_results: HashMap<String, u64>,
    /// Distinct per-epoch participant tags: participants × epochs when nothing links.
    distinct_log_tags: u64,
    crypto_path_micros: CryptoFigures,
    smartlink_comparison: SmartlinkComparison,
}

#[derive(Serialize)]
struct OperatorHolds {
    sealed_checkins: u64,
    ciphertext_bytes: u64,
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
struct Counted {
    attempted: u64,
    opened_and_matched: u64,
}

#[derive(Serialize)]
struct RetentionResult {
    destroyed_epoch: u32,
    deadline: String,
    records_still_stored: u64,
    bytes_still_stored: u64,
    keys_tried_per_record: u64,
    records_opened_after_destruction: u64,
    surviving_epoch_records_opened: u64,
}

#[derive(Serialize)]
struct CryptoFigures {
    seal: f64,
    verify: f64,
    open: f64,
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
        ProgressStyle::with_template("{prefix:>12} [{bar:32}] {pos}/{len} {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

/// Splits `items` into one chunk per core and runs `f` on each in parallel.
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

fn enroll(policy: &Policy, n: u32) -> anyhow::Result<Vec<Enrolled>> {
    (0..u64::from(n))
        .map(|i| {
            let zone = TIME_ZONES[(mix(i, 1) % 4) as usize];
            let day = WEEKDAYS[(mix(i, 2) % 5) as usize];
            let schedule = Schedule::new(
                zone,
                vec![Window {
                    weekday: day,
                    start: minimis_proto::LocalTime::new(9, 0)
                        .ok_or_else(|| anyhow!("09:00 is a valid time"))?,
                    end: minimis_proto::LocalTime::new(17, 0)
                        .ok_or_else(|| anyhow!("17:00 is a valid time"))?,
                }],
                1,
                2,
            )?;
            schedule.check_policy(policy)?;
            let key = SigningKey::generate()?;
            let device_key = key.public_key();
            Ok(Enrolled {
                device: Device {
                    pseudonym: minimis_crypto::random_pseudonym()?,
                    key,
                    tags: TagKey::generate()?,
                    schedule: schedule.clone(),
                    accepted: Vec::new(),
                },
                operator: OperatorView {
                    device_key,
                    schedule,
                    issued: Vec::new(),
                },
            })
        })
        .collect()
}

/// The operator issues the epoch's scheduled challenge, within the enrolled schedule.
fn issue(
    operator_key: &SigningKey,
    policy: &Policy,
    pseudonym: Pseudonym,
    view: &mut OperatorView,
    epoch: EpochId,
    i: u64,
) -> anyhow::Result<SignedChallenge> {
    let spans = view
        .schedule
        .spans_between(policy.epoch_start(epoch), policy.epoch_end(epoch));
    let span = spans
        .first()
        .ok_or_else(|| anyhow!("no window in epoch {epoch}"))?;
    let width = (span.end.seconds() - span.start.seconds()).max(1) as u64;
    let at = span
        .start
        .plus((mix(i, u64::from(epoch.get())) % width) as i64);
    let slot = Slot {
        at,
        kind: ChallengeKind::Scheduled,
    };
    let window = view.schedule.admits(&view.issued, slot)?;
    view.issued.push(slot);
    let challenge = Challenge {
        id: minimis_crypto::random_challenge_id()?,
        pseudonym,
        epoch,
        kind: ChallengeKind::Scheduled,
        issued_at: at,
        window_start: window.start,
        window_end: window.end,
        policy: policy.hash(),
    };
    Ok(sign_challenge(operator_key, challenge))
}

/// What one worker produced for its participants in one epoch.
struct CheckinBatch {
    stored: Vec<Stored>,
    sent: Vec<(RecordId, CheckInPayload)>,
    timings: Timings,
}

#[allow(clippy::too_many_arguments)]
fn run_epoch(
    people: &mut [Enrolled],
    first_index: u64,
    policy: &Policy,
    operator_key: &SigningKey,
    keys: &SealingKeys,
    bounds: CiphertextBounds,
    bar: &ProgressBar,
) -> anyhow::Result<CheckinBatch> {
    let epoch = keys.epoch();
    let operator_public = operator_key.public_key();
    let mut batch = CheckinBatch {
        stored: Vec::with_capacity(people.len()),
        sent: Vec::with_capacity(people.len()),
        timings: Timings::default(),
    };
    for (k, p) in people.iter_mut().enumerate() {
        let i = first_index + k as u64;
        // Operator: issue the scheduled challenge.
        let signed = issue(
            operator_key,
            policy,
            p.device.pseudonym,
            &mut p.operator,
            epoch,
            i,
        )?;
        // Device: check the operator's signature and its own schedule before answering.
        let challenge = verify_challenge(&signed, &operator_public)?;
        let slot = Slot {
            at: challenge.issued_at,
            kind: challenge.kind,
        };
        p.device.schedule.admits(&p.device.accepted, slot)?;
        p.device.accepted.push(slot);
        let roll = mix(i, 7) % 100;
        let zone = match roll {
            0..=89 => ZoneResult::Inside,
            90..=93 => ZoneResult::Outside,
            _ => ZoneResult::Unavailable,
        };
        let note = if mix(i, 11) % 10 == 0 {
            Note::new(NOTES[(mix(i, 13) % 4) as usize], policy.max_note_bytes())?
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
        let envelope = seal_envelope(&payload, keys, p.device.pseudonym, &p.device.key)?;
        batch.timings.seal += t.elapsed();
        batch.timings.seals += 1;

        // Operator: verify (length bound, device signature) and store.
        let t = Instant::now();
        let verified = verify_envelope(envelope, &p.operator.device_key, bounds)?;
        batch.timings.verify += t.elapsed();
        batch.timings.verifies += 1;
        if verified.envelope().challenge_id != challenge.id {
            bail!("the envelope answers a challenge that was not issued");
        }
        let record_id = verified.record_id();
        batch.stored.push(Stored {
            record_id,
            epoch,
            envelope: verified.into_envelope(),
        });
        batch.sent.push((record_id, payload));
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
    let mut keyring = EpochKeyring::new(role, id);
    for &e in epochs {
        keyring.generate(e)?;
    }
    Ok(Custodian {
        keyring,
        signing: SigningKey::generate()?,
    })
}

fn published(
    policy: &Policy,
    epoch: EpochId,
    custodians: &[&Custodian],
) -> anyhow::Result<Vec<SignedEpochRecipient>> {
    custodians
        .iter()
        .map(|c| {
            c.keyring
                .publish(epoch, policy.epoch_end(epoch), &c.signing)
                .map_err(Into::into)
        })
        .collect()
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let policy = crate::load_policy(args.policy.as_ref())?;
    let show = !args.quiet && !args.json;
    let n = args.participants;

    // The simulated clock: from the previous epoch to the current one.
    let today = now()?;
    let current = policy
        .epoch_at(today)
        .ok_or_else(|| anyhow!("the clock is before the first epoch"))?;
    let previous = current
        .previous()
        .ok_or_else(|| anyhow!("the clock is in the first epoch"))?;
    let epochs = [previous, current];

    if show {
        println!(
            "minimis demo: {n} participants, two {}-day epochs ({previous} and {current}), policy {}",
            policy.epoch_length_days(),
            &policy.hash().to_hex()[..16]
        );
    }

    // Custodians make their epoch identities ahead of time and sign the recipients.
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
    let layers = 1 + usize::from(oversight.is_some());
    let bounds = CiphertextBounds::for_layers(layers);

    let bar = progress(u64::from(n), "enroll", show);
    let mut people = enroll(&policy, n)?;
    bar.set_position(u64::from(n));
    bar.finish();

    let mut store: Vec<Stored> = Vec::with_capacity(2 * people.len());
    let mut sent: HashMap<RecordId, CheckInPayload> = HashMap::with_capacity(2 * people.len());
    let mut timings = Timings::default();
    let chunk = people
        .len()
        .div_ceil(std::thread::available_parallelism().map_or(1, |c| c.get()))
        .max(1);
    for &epoch in &epochs {
        // Each device checks the custodians' signed recipients once per epoch (SEAL-7);
        // every simulated device would reach the same verified keys, so verify once.
        let mut list: Vec<&Custodian> = vec![&agency];
        list.extend(oversight.as_ref());
        let recipients = published(&policy, epoch, &list)?;
        let at = policy.epoch_start(epoch);
        let keys = SealingKeys::verify(&policy, at, &recipients, &custodian_keys)?;
        let bar = progress(u64::from(n), &format!("epoch {epoch}"), show);
        // Chunk indices are derived from the chunk's position so choices are stable.
        let starts: Vec<u64> = (0..people.len()).step_by(chunk).map(|s| s as u64).collect();
        let mut slices: Vec<(u64, &mut [Enrolled])> =
            starts.into_iter().zip(people.chunks_mut(chunk)).collect();
        let batches = par_chunks(&mut slices, |part| {
            let mut out = Vec::new();
            for (start, people) in part.iter_mut() {
                out.push(run_epoch(
                    people,
                    *start,
                    &policy,
                    &operator_key,
                    &keys,
                    bounds,
                    &bar,
                )?);
            }
            Ok(out)
        })?;
        bar.finish();
        for batch in batches.into_iter().flatten() {
            store.extend(batch.stored);
            sent.extend(batch.sent);
            timings.add(&batch.timings);
        }
    }

    // Two-party opening: every record, with both custodians' keys.
    let max_note = policy.max_note_bytes();
    let bar = progress(store.len() as u64, "open", show);
    let opened = par_chunks(&mut store, |part| {
        let mut t = Timings::default();
        let mut matched = 0u64;
        let mut zones: HashMap<String, u64> = HashMap::new();
        for r in part.iter() {
            let start = Instant::now();
            let result = open(
                &r.envelope.ciphertext,
                r.epoch,
                &agency.keyring,
                oversight.as_ref().map(|c| &c.keyring),
                max_note,
            );
            t.open += start.elapsed();
            t.opens += 1;
            if let Ok(p) = result {
                if sent.get(&r.record_id) == Some(&p) {
                    matched += 1;
                    let z = serde_json::to_value(p.zone)?
                        .as_str()
                        .unwrap_or("?")
                        .to_owned();
                    *zones.entry(z).or_default() += 1;
                }
            }
            bar.inc(1);
        }
        Ok((matched, zones, t))
    })?;
    bar.finish();
    let mut matched = 0;
    let mut zone_results: HashMap<String, u64> = HashMap::new();
    for (m, z, t) in opened {
        matched += m;
        timings.add(&t);
        for (k, v) in z {
            *zone_results.entry(k).or_default() += v;
        }
    }

    // Export before retention, so the sample includes records of the epoch about to be
    // destroyed; only the surviving epoch's identities are written.
    if let Some(dir) = &args.export {
        let sample: Vec<(EpochId, RecordId, &[u8])> = epochs
            .iter()
            .flat_map(|&e| {
                store
                    .iter()
                    .filter(move |r| r.epoch == e)
                    .take(5)
                    .map(|r| (r.epoch, r.record_id, r.envelope.ciphertext.as_bytes()))
            })
            .collect();
        let mut identities = vec![agency.keyring.identity(current)?];
        if let Some(o) = &oversight {
            identities.push(o.keyring.identity(current)?);
        }
        crate::export::write(dir, &policy, previous, &sample, &identities)?;
    }

    // Retention: fast-forward to the previous epoch's deadline; both custodians destroy.
    let deadline = policy.content_deadline(previous);
    let mut agency = agency;
    agency.keyring.destroy(previous);
    if let Some(o) = oversight.as_mut() {
        o.keyring.destroy(previous);
    }
    // The operator still has every record of that epoch (as any backup would). Try every
    // key that still exists anywhere in this run against each of them.
    let old: Vec<&Stored> = store.iter().filter(|r| r.epoch == previous).collect();
    let survivors_agency = agency.keyring.identity(current)?;
    let survivors_oversight = oversight
        .as_ref()
        .map(|o| o.keyring.identity(current))
        .transpose()?;
    let bar = progress(old.len() as u64, "retention", show);
    let mut reopened = 0u64;
    for r in &old {
        let by_epoch = open(
            &r.envelope.ciphertext,
            r.epoch,
            &agency.keyring,
            oversight.as_ref().map(|o| &o.keyring),
            max_note,
        );
        if !matches!(by_epoch, Err(OpenError::KeyDestroyed { .. })) {
            reopened += 1;
        }
        let bytes = r.envelope.ciphertext.as_bytes();
        let any_layer_opens = [Some(survivors_agency), survivors_oversight]
            .into_iter()
            .flatten()
            .any(|id| {
                remove_outer(&r.envelope.ciphertext, id).is_ok()
                    || open_inner(bytes, id, max_note).is_ok()
            });
        if any_layer_opens {
            reopened += 1;
        }
        bar.inc(1);
    }
    bar.finish();
    let keys_tried = 1 + layers as u64;
    let surviving_ok = store
        .iter()
        .filter(|r| r.epoch == current)
        .take(100)
        .filter(|r| {
            open(
                &r.envelope.ciphertext,
                r.epoch,
                &agency.keyring,
                oversight.as_ref().map(|o| &o.keyring),
                max_note,
            )
            .is_ok()
        })
        .count() as u64;

    // The log (next issue) names a participant by a tag that changes every epoch: check
    // that no tag repeats across participants or epochs, so the public log links nothing.
    let tags: std::collections::HashSet<_> = people
        .iter()
        .flat_map(|p| {
            epochs
                .iter()
                .map(|&e| p.device.tags.tag(&p.device.pseudonym, e))
        })
        .collect();
    let distinct_tags = tags.len() as u64;

    let lens: Vec<u64> = store
        .iter()
        .map(|r| r.envelope.ciphertext.len() as u64)
        .collect();
    let total: u64 = lens.iter().sum();
    let records = store.len() as u64;
    let mean = total as f64 / records.max(1) as f64;
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
    let summary = Summary {
        participants: n,
        policy_hash: policy.hash().to_hex(),
        epochs: epochs.iter().map(|e| e.get()).collect(),
        readable_days: policy.epoch_length_days() + policy.content_retention_days(),
        operator: OperatorHolds {
            sealed_checkins: records,
            ciphertext_bytes: total,
            mean_bytes_per_checkin: mean,
            min_bytes: lens.iter().copied().min().unwrap_or(0),
            max_bytes: lens.iter().copied().max().unwrap_or(0),
            bound_min: bounds.min as u64,
            bound_max: bounds.max as u64,
            decryption_keys: 0,
        },
        custodians,
        opened_before_retention: Counted {
            attempted: records,
            opened_and_matched: matched,
        },
        retention: RetentionResult {
            destroyed_epoch: previous.get(),
            deadline: deadline.to_string(),
            records_still_stored: old.len() as u64,
            bytes_still_stored: old.iter().map(|r| r.envelope.ciphertext.len() as u64).sum(),
            keys_tried_per_record: keys_tried,
            records_opened_after_destruction: reopened,
            surviving_epoch_records_opened: surviving_ok,
        },
        zone_results,
        distinct_log_tags: distinct_tags,
        crypto_path_micros: CryptoFigures {
            seal: Timings::micros(timings.seal, timings.seals),
            verify: Timings::micros(timings.verify, timings.verifies),
            open: Timings::micros(timings.open, timings.opens),
        },
        smartlink_comparison: SmartlinkComparison {
            source_note: "SmartLINK facts as publicly reported (CyberScoop on records obtained by Just Futures Law; DHS/ICE/PIA-062 as quoted); image size is an estimate",
            face_image_bytes_estimate: FACE_IMAGE_BYTES_ESTIMATE,
            face_images_for_this_run_bytes_estimate: records * FACE_IMAGE_BYTES_ESTIMATE,
            precise_locations_for_this_run: records,
            retention: "7 years after the participant leaves the program (DHS PIA-062), or indefinitely (records obtained by Just Futures Law)",
            isap_year_face_images_bytes_estimate: SMARTLINK_FY2023
                * CHECKINS_PER_YEAR
                * FACE_IMAGE_BYTES_ESTIMATE,
            isap_year_minimis_ciphertext_bytes_estimate: (SMARTLINK_FY2023 as f64
                * CHECKINS_PER_YEAR as f64
                * mean) as u64,
        },
    };

    let ok = distinct_tags == 2 * u64::from(n)
        && matched == records
        && reopened == 0
        && surviving_ok == u64::from(n).min(100);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if show {
        print_summary(&summary, args.export.as_ref());
    }
    if ok {
        Ok(Outcome::Success)
    } else {
        if !args.json {
            eprintln!(
                "minimis demo: CHECK FAILED: {matched}/{records} records opened before retention, \
                 {reopened} openings after destruction, {surviving_ok} surviving records opened"
            );
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

fn print_summary(s: &Summary, export: Option<&PathBuf>) {
    let o = &s.operator;
    let r = &s.retention;
    let sl = &s.smartlink_comparison;
    println!();
    println!("What the operator (the vendor running the servers) holds");
    println!(
        "  {} sealed check-ins, {} in all: {:.0} bytes each on average ({}-{}; every one within the fixed bound {}-{})",
        o.sealed_checkins,
        human_bytes(o.ciphertext_bytes),
        o.mean_bytes_per_checkin,
        o.min_bytes,
        o.max_bytes,
        o.bound_min,
        o.bound_max
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
    println!("Opening content takes both custodians");
    println!(
        "  {} of {} records opened with both custodians' keys and matched what each device sent",
        s.opened_before_retention.opened_and_matched, s.opened_before_retention.attempted
    );
    let mut zones: Vec<_> = s.zone_results.iter().collect();
    zones.sort();
    let zones: Vec<String> = zones.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "  what they contain: a zone result only ({})",
        zones.join(", ")
    );
    println!("Retention is enforced by destroying keys");
    println!(
        "  epoch {}'s keys destroyed by both custodians at its deadline ({})",
        r.destroyed_epoch, r.deadline
    );
    println!(
        "  the operator still stores its {} records ({}), as any backup would: {} of them open with any of the {} keys that still exist",
        r.records_still_stored,
        human_bytes(r.bytes_still_stored),
        r.records_opened_after_destruction,
        r.keys_tried_per_record
    );
    println!(
        "  the current epoch is unaffected: {} of the sampled records still open",
        r.surviving_epoch_records_opened
    );
    println!("The public log will name people only by tags that change every epoch");
    println!(
        "  {} participants x {} epochs = {} distinct tags: no tag links two epochs of one person",
        s.participants,
        s.epochs.len(),
        s.distinct_log_tags
    );
    println!("The crypto path on this machine (mean per check-in)");
    println!(
        "  seal on the device {:.0} us, verify on the server {:.0} us, open by both custodians {:.0} us",
        s.crypto_path_micros.seal, s.crypto_path_micros.verify, s.crypto_path_micros.open
    );
    println!("The same check-ins under a SmartLINK-style design, as publicly reported");
    println!(
        "  each check-in: a face image (~{}, estimate) and a precise location; {} check-ins: ~{} of face images and {} exact locations",
        human_bytes(sl.face_image_bytes_estimate),
        o.sealed_checkins,
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
            "Exported a sample to {}: see README.txt there to open the records with the standard age tool.",
            dir.display()
        );
    }
}
