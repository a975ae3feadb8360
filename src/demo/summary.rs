//! What the demo measured, and the summary it prints (as text or JSON).

use std::collections::BTreeMap;
use std::path::Path;

use minimis_log::LogEntry;
use minimis_proto::{CiphertextBounds, Policy, UnixTime};
use serde::Serialize;

use super::scan::OperatorScan;
use super::stack::Stack;
use super::{Backup, people::Tally};
use crate::audit::DemoAudit;
use minimis_testkit::canary::Kind;

/// Estimate: a compressed phone selfie uploaded for face matching. Not a published
/// figure; marked as an estimate wherever it is shown.
pub(crate) const FACE_IMAGE_BYTES_ESTIMATE: u64 = 150_000;
/// Estimate: one location point (latitude, longitude, accuracy, time) as stored.
pub(crate) const LOCATION_POINT_BYTES: u64 = 32;
/// Estimate: a check-in record's other fields in a conventional database.
pub(crate) const CHECKIN_RECORD_BYTES: u64 = 512;
/// Estimate: a participant's identity record (name, identifiers, contacts' numbers).
pub(crate) const IDENTITY_BYTES: u64 = 2_048;
/// FY2023 participants on the SmartLINK app (ICE data reported by CyberScoop).
pub(crate) const SMARTLINK_FY2023: u64 = 177_654;
/// Weekly check-ins on a set day, as reported.
const CHECKINS_PER_YEAR: u64 = 52;

/// Wall-clock seconds of each phase of the run, in order.
#[derive(Default, Serialize)]
pub(crate) struct Phases {
    #[serde(skip)]
    last: Option<std::time::Instant>,
    /// (phase, seconds)
    pub(crate) seconds: Vec<(&'static str, f64)>,
}

impl Phases {
    /// Starts the clock.
    pub(crate) fn start() -> Self {
        Self {
            last: Some(std::time::Instant::now()),
            seconds: Vec::new(),
        }
    }

    /// Ends phase `name` now; the next phase starts.
    pub(crate) fn mark(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        if let Some(l) = self.last {
            self.seconds
                .push((name, now.duration_since(l).as_secs_f64()));
        }
        self.last = Some(now);
    }
}

/// Counters kept during the run, beside the phones' own.
#[derive(Default)]
pub(crate) struct RunFigures {
    pub(crate) missed: u64,
    pub(crate) purged_records: u64,
    pub(crate) keys_destroyed: u64,
    pub(crate) granted: u64,
    pub(crate) opened: u64,
    pub(crate) matched: u64,
    pub(crate) by_purpose: BTreeMap<String, u64>,
    pub(crate) zones_seen: BTreeMap<String, u64>,
    pub(crate) denied: u64,
    pub(crate) denial_codes: BTreeMap<String, u64>,
    pub(crate) unexpected_refusals: BTreeMap<String, u64>,
    pub(crate) burst: Option<Burst>,
}

impl RunFigures {
    pub(crate) fn add_tick(&mut self, r: &minimis_server::TickReport) {
        self.missed += r.missed;
        self.purged_records += r.purged_records;
    }
}

/// The officer who tried to follow one participant.
#[derive(Default, Serialize)]
pub(crate) struct Burst {
    /// Ad-hoc challenges the officer asked the operator for, within an hour.
    pub(crate) requested: u64,
    /// Issued (within the schedule's caps).
    pub(crate) issued: u64,
    /// Refused by the server, by error code.
    pub(crate) refused_by_server: BTreeMap<String, u64>,
    /// Check-ins the phone made for what was issued.
    pub(crate) answered: u64,
    /// Challenges a compromised operator signed past the caps and sent to the phone.
    pub(crate) forged: u64,
    /// Refused by the phone.
    pub(crate) refused_by_device: u64,
    /// Kept on the phone, signed, as evidence.
    pub(crate) refusals_kept: u64,
    /// Why the phone refused.
    pub(crate) reasons: Vec<String>,
    /// Location fixes taken during the whole burst (one per answered check-in with a
    /// zone, none for a refusal).
    pub(crate) fixes_taken: u64,
}

/// What the phones did and hold, at the end.
#[derive(Default)]
pub(crate) struct DeviceFigures {
    pub(crate) participants: u64,
    /// Phones enrolled from the agency's signed bundle, after the notice (ENR-4, ENR-20).
    pub(crate) from_signed_bundle: u64,
    pub(crate) sent: u64,
    pub(crate) sent_with_zone: u64,
    pub(crate) with_zone: u64,
    pub(crate) fixes_taken: u64,
    pub(crate) receipts: u64,
    pub(crate) witnessed: u64,
    pub(crate) refused: u64,
    pub(crate) failures: u64,
    pub(crate) failures_unreported: u64,
    pub(crate) note_bytes: u64,
    pub(crate) participant_epochs: u64,
}

/// Everything the summary is built from.
pub(crate) struct SummaryInputs<'a> {
    pub(crate) n: u64,
    pub(crate) start: UnixTime,
    pub(crate) end: UnixTime,
    pub(crate) policy: &'a Policy,
    pub(crate) stack: &'a Stack,
    pub(crate) holdings: &'a minimis_server::store::sqlite::Holdings,
    pub(crate) tally: &'a Tally,
    pub(crate) run: &'a RunFigures,
    pub(crate) devices: &'a DeviceFigures,
    pub(crate) backup: Option<&'a Backup>,
    pub(crate) live_opened: bool,
    pub(crate) entries: &'a [LogEntry],
    pub(crate) distinct_tags: u64,
    pub(crate) participant_epochs: u64,
    pub(crate) audit: &'a DemoAudit,
    pub(crate) operator_scan: OperatorScan,
    /// Custodian epoch identities collected during the run (each searched for).
    pub(crate) epoch_identities: u64,
    pub(crate) bounds: CiphertextBounds,
    pub(crate) ingest_seconds: f64,
    pub(crate) elapsed: f64,
    pub(crate) phases: &'a Phases,
    pub(crate) export: &'a Path,
    pub(crate) report: &'a Path,
    pub(crate) kept: bool,
}

/// The summary, printed as text or JSON.
#[derive(Serialize)]
pub(crate) struct Summary {
    participants: u64,
    simulated: Simulated,
    policy_hash: String,
    services: Services,
    checkins: CheckIns,
    receipts: Receipts,
    operator: OperatorHolds,
    /// How `operator`'s keys, locations, images and names were measured.
    pub(crate) operator_scan: OperatorScan,
    /// Custodian epoch identities the demo collected during the run and searched for.
    epoch_identities_searched: u64,
    custodians: Vec<CustodianHolds>,
    devices: DeviceHolds,
    accesses: Accesses,
    adhoc_burst: Option<Burst>,
    retention: Retention,
    log: LogSummary,
    /// Distinct participant tags in the log: one per participant per epoch when nothing
    /// links them (ENR-3).
    distinct_log_tags: u64,
    participant_epochs_in_log: u64,
    participant_epochs_on_devices: u64,
    ingest: Ingest,
    crypto_path_micros: CryptoFigures,
    smartlink_comparison: SmartlinkComparison,
    export: String,
    report: String,
    elapsed_seconds: f64,
    /// Wall-clock seconds of each phase.
    phase_seconds: BTreeMap<&'static str, f64>,
    #[serde(skip)]
    phase_order: Vec<(&'static str, f64)>,
    #[serde(skip)]
    kept: bool,
    #[serde(skip)]
    audit_table: String,
}

#[derive(Serialize)]
struct Simulated {
    start: String,
    end: String,
    weeks: i64,
    epochs: u64,
}

#[derive(Serialize)]
struct Services {
    operator: String,
    agency: String,
    oversight: Option<String>,
    transport: &'static str,
}

#[derive(Serialize)]
struct CheckIns {
    challenges_issued: u64,
    on_time: u64,
    late: u64,
    pending_review: u64,
    technical_failures_recorded: u64,
    technical_failures_reported: u64,
    /// Reports that carried a free text sealed on the phone (CHK-23).
    technical_failure_texts_sealed: u64,
    outside_zone: u64,
}

#[derive(Serialize)]
struct Receipts {
    issued: u64,
    verified_by_devices: u64,
    witnessed: u64,
    provisional_at_first: u64,
}

#[derive(Serialize)]
struct OperatorHolds {
    participants: u64,
    participant_bytes: u64,
    ledger_rows: u64,
    ledger_bytes: u64,
    sealed_checkins_received: u64,
    sealed_checkins_held: u64,
    ciphertext_bytes_held: u64,
    mean_bytes_per_checkin: f64,
    /// Sealed texts of failure reports the operator holds and cannot open (CHK-23).
    sealed_texts_held: u64,
    sealed_text_bytes_held: u64,
    /// The one length with no grease stanza (what Go `age` writes), then the range with
    /// grease (SEAL-4, SEAL-20).
    bound_bare: u64,
    bound_min: u64,
    bound_max: u64,
    log_bytes: u64,
    /// Found by the scan of everything the operator holds (`operator_scan`): secret
    /// keys of other parties, location fixes and zones, images, names and case numbers,
    /// and texts sealed on the phones, in the clear. Measured, not assumed.
    decryption_keys: u64,
    locations: u64,
    images: u64,
    names: u64,
    sealed_content_in_the_clear: u64,
}

#[derive(Serialize)]
struct CustodianHolds {
    role: String,
    live_epochs: Vec<u32>,
    destroyed_epochs: Vec<u32>,
}

#[derive(Serialize)]
struct DeviceHolds {
    enrolled_from_signed_bundle: u64,
    check_ins_sent: u64,
    location_fixes_taken: u64,
    participants_with_a_zone: u64,
    check_ins_with_a_zone: u64,
    challenges_refused: u64,
}

#[derive(Serialize)]
struct Accesses {
    requests_granted: u64,
    records_opened: u64,
    records_opened_and_matched: u64,
    by_purpose: BTreeMap<String, u64>,
    requests_denied: u64,
    denial_codes: BTreeMap<String, u64>,
    unexpected_refusals: BTreeMap<String, u64>,
    zone_results_seen: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct Retention {
    keys_destroyed: u64,
    records_purged: u64,
    backup: Option<BackupSummary>,
    live_epoch_record_opened_after: bool,
}

#[derive(Serialize)]
struct BackupSummary {
    epoch: u32,
    taken: String,
    deadline: String,
    records: u64,
    bytes: u64,
    keys_left_tried: u64,
    records_opened: u64,
    keys_destroyed_by: Vec<String>,
    asked_through_custodians_after: Option<String>,
}

#[derive(Serialize)]
struct LogSummary {
    entries: u64,
    by_type: BTreeMap<String, u64>,
    witness_cosigned: bool,
    audit_exit_code: u8,
    audit_checks: Vec<AuditCheck>,
    log_key: String,
    witness_key: Option<String>,
}

#[derive(Serialize)]
struct AuditCheck {
    check: String,
    requirements: Vec<&'static str>,
    holds: bool,
}

#[derive(Serialize)]
struct Ingest {
    check_ins: u64,
    seconds: f64,
    per_second: f64,
    submit_p50_ms: f64,
    submit_p99_ms: f64,
}

#[derive(Serialize)]
struct CryptoFigures {
    seal_on_device: f64,
    receipt_verify_on_device: f64,
}

#[derive(Serialize)]
struct SmartlinkComparison {
    source_note: &'static str,
    face_images_for_this_run_bytes_estimate: u64,
    precise_locations_for_this_run: u64,
    retention: &'static str,
    isap_year_face_images_bytes_estimate: u64,
    isap_year_minimis_ciphertext_bytes_estimate: u64,
    minimis_readable_days_at_most: u32,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn entry_name(e: &LogEntry) -> &'static str {
    match e {
        LogEntry::EnrollmentOpened { .. } => "enrollment-opened",
        LogEntry::EnrollmentClosed { .. } => "enrollment-closed",
        LogEntry::PolicyPublished { .. } => "policy-published",
        LogEntry::ChallengeIssued { .. } => "challenge-issued",
        LogEntry::CheckInReceived { .. } => "check-in-received",
        LogEntry::ContentAccessed(_) => "content-accessed",
        LogEntry::AccessDenied { .. } => "access-denied",
        LogEntry::RecordsPurged { .. } => "records-purged",
        LogEntry::EpochKeyDestroyed { .. } => "epoch-key-destroyed",
        LogEntry::LegalHoldPlaced(_) => "legal-hold-placed",
        LogEntry::LegalHoldReleased(_) => "legal-hold-released",
        _ => "other",
    }
}

impl Summary {
    pub(crate) fn build(i: SummaryInputs<'_>) -> Self {
        let t = i.tally;
        let h = i.holdings;
        let received = t.on_time + t.late;
        let mut lat = t.submit_latencies.clone();
        let p50 = percentile(&mut lat, 0.5) * 1e3;
        let p99 = percentile(&mut lat, 0.99) * 1e3;
        let mean = if h.records == 0 {
            0.0
        } else {
            h.ciphertext_bytes as f64 / h.records as f64
        };
        let custodians = std::iter::once(&i.stack.agency)
            .chain(i.stack.oversight.as_ref())
            .map(|r| {
                let (live, destroyed) = r
                    .node()
                    .with_keystore(|ks| {
                        let ring = ks.keyring();
                        (
                            ring.live_epochs().map(|e| e.get()).collect::<Vec<_>>(),
                            ring.destroyed_epochs().map(|e| e.get()).collect::<Vec<_>>(),
                        )
                    })
                    .unwrap_or_default();
                CustodianHolds {
                    role: r.node().role().to_string(),
                    live_epochs: live,
                    destroyed_epochs: destroyed,
                }
            })
            .collect();
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for e in i.entries {
            *by_type.entry(entry_name(e).to_owned()).or_default() += 1;
        }
        let backup = i.backup.and_then(|b| {
            let c = b.checked.as_ref()?;
            Some(BackupSummary {
                epoch: b.epoch.get(),
                taken: b.taken.to_string(),
                deadline: i.policy.content_deadline(b.epoch).to_string(),
                records: c.records,
                bytes: c.bytes,
                keys_left_tried: c.keys_left,
                records_opened: c.opened,
                keys_destroyed_by: c.destroyed_by.clone(),
                asked_through_custodians_after: c.asked_after.clone(),
            })
        });
        let scan_found = i.operator_scan.found.clone();
        let found = |k: Kind| scan_found.get(&k).copied().unwrap_or(0);
        // What the operator received, as its own log says.
        let logged_checkins = by_type.get("check-in-received").copied().unwrap_or(0);
        let readable_days = i.policy.epoch_length_days() + i.policy.content_retention_days();
        Self {
            participants: i.n,
            simulated: Simulated {
                start: i.start.to_string(),
                end: i.end.to_string(),
                weeks: (i.end.seconds() - i.start.seconds()) / super::WEEK,
                epochs: i.devices.participant_epochs.max(1) / i.n.max(1),
            },
            policy_hash: i.policy.hash().to_hex(),
            services: Services {
                operator: format!("https://{}", i.stack.server.addr()),
                agency: format!("https://{}", i.stack.agency.addr()),
                oversight: i
                    .stack
                    .oversight
                    .as_ref()
                    .map(|o| format!("https://{}", o.addr())),
                transport: "TLS 1.3 (rustls); officers and custodians by client certificate",
            },
            checkins: CheckIns {
                challenges_issued: by_type.get("challenge-issued").copied().unwrap_or(0),
                on_time: t.on_time,
                late: t.late,
                pending_review: i.run.missed,
                technical_failures_recorded: t.failures_recorded,
                technical_failures_reported: t.failures_reported,
                technical_failure_texts_sealed: t.failure_texts_sealed,
                outside_zone: t.outside_zone,
            },
            receipts: Receipts {
                issued: logged_checkins,
                verified_by_devices: i.devices.receipts,
                witnessed: i.devices.witnessed,
                provisional_at_first: t.receipts_provisional,
            },
            operator: OperatorHolds {
                participants: h.participants,
                participant_bytes: h.participant_bytes,
                ledger_rows: h.ledger_rows,
                ledger_bytes: h.ledger_bytes,
                sealed_checkins_received: logged_checkins,
                sealed_checkins_held: h.records,
                ciphertext_bytes_held: h.ciphertext_bytes,
                mean_bytes_per_checkin: mean,
                sealed_texts_held: h.sealed_texts,
                sealed_text_bytes_held: h.sealed_text_bytes,
                bound_bare: i.bounds.bare as u64,
                bound_min: i.bounds.min as u64,
                bound_max: i.bounds.max as u64,
                log_bytes: h.log_bytes,
                decryption_keys: found(Kind::Key),
                locations: found(Kind::Location),
                images: found(Kind::Image),
                names: found(Kind::Name),
                sealed_content_in_the_clear: found(Kind::Content),
            },
            operator_scan: i.operator_scan,
            epoch_identities_searched: i.epoch_identities,
            custodians,
            devices: DeviceHolds {
                enrolled_from_signed_bundle: i.devices.from_signed_bundle,
                check_ins_sent: i.devices.sent,
                location_fixes_taken: i.devices.fixes_taken,
                participants_with_a_zone: i.devices.with_zone,
                check_ins_with_a_zone: i.devices.sent_with_zone,
                challenges_refused: i.devices.refused,
            },
            accesses: Accesses {
                requests_granted: i.run.granted,
                records_opened: i.run.opened,
                records_opened_and_matched: i.run.matched,
                by_purpose: i.run.by_purpose.clone(),
                requests_denied: i.run.denied,
                denial_codes: i.run.denial_codes.clone(),
                unexpected_refusals: i.run.unexpected_refusals.clone(),
                zone_results_seen: i.run.zones_seen.clone(),
            },
            adhoc_burst: i.run.burst.as_ref().map(|b| Burst {
                requested: b.requested,
                issued: b.issued,
                refused_by_server: b.refused_by_server.clone(),
                answered: b.answered,
                forged: b.forged,
                refused_by_device: b.refused_by_device,
                refusals_kept: b.refusals_kept,
                reasons: b.reasons.clone(),
                fixes_taken: b.fixes_taken,
            }),
            retention: Retention {
                keys_destroyed: i.run.keys_destroyed,
                records_purged: i.run.purged_records,
                backup,
                live_epoch_record_opened_after: i.live_opened,
            },
            log: LogSummary {
                entries: i.entries.len() as u64,
                by_type,
                // The audit requires the witness's cosignature (witnesses.vkey): exit 3
                // if it is missing or bad.
                witness_cosigned: i.stack.witness_key.is_some() && i.audit.exit_code != 3,
                audit_exit_code: i.audit.exit_code,
                audit_checks: i
                    .audit
                    .checks
                    .iter()
                    .map(|(c, r, h)| AuditCheck {
                        check: c.clone(),
                        requirements: r.to_vec(),
                        holds: *h,
                    })
                    .collect(),
                log_key: i.stack.log_key.to_string(),
                witness_key: i.stack.witness_key.as_ref().map(ToString::to_string),
            },
            distinct_log_tags: i.distinct_tags,
            participant_epochs_in_log: i.participant_epochs,
            participant_epochs_on_devices: i.devices.participant_epochs,
            ingest: Ingest {
                check_ins: received,
                seconds: i.ingest_seconds,
                per_second: if i.ingest_seconds > 0.0 {
                    received as f64 / i.ingest_seconds
                } else {
                    0.0
                },
                submit_p50_ms: p50,
                submit_p99_ms: p99,
            },
            crypto_path_micros: CryptoFigures {
                seal_on_device: micros(t.seal, t.seals),
                receipt_verify_on_device: micros(t.receipt_verify, t.receipt_verifies),
            },
            smartlink_comparison: SmartlinkComparison {
                source_note: "SmartLINK facts as publicly reported (CyberScoop on records obtained by Just Futures Law; DHS/ICE PIA as quoted there; ICE ATD FAQ); per-item sizes are estimates",
                face_images_for_this_run_bytes_estimate: received * FACE_IMAGE_BYTES_ESTIMATE,
                precise_locations_for_this_run: received,
                retention: "7 years after the participant leaves the program by the rule DHS's privacy impact assessment states, \"for the life of the contract\" by ICE's FAQ, and possibly indefinitely by the records Just Futures Law obtained (CyberScoop)",
                isap_year_face_images_bytes_estimate: SMARTLINK_FY2023
                    * CHECKINS_PER_YEAR
                    * FACE_IMAGE_BYTES_ESTIMATE,
                isap_year_minimis_ciphertext_bytes_estimate: (SMARTLINK_FY2023 as f64
                    * CHECKINS_PER_YEAR as f64
                    * mean) as u64,
                minimis_readable_days_at_most: readable_days,
            },
            export: i.export.display().to_string(),
            report: i.report.display().to_string(),
            elapsed_seconds: i.elapsed,
            phase_seconds: i.phases.seconds.iter().copied().collect(),
            phase_order: i.phases.seconds.clone(),
            kept: i.kept,
            audit_table: i.audit.table.clone(),
        }
    }

    /// What did not hold, in words; empty when everything did.
    pub(crate) fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        let mut check = |bad: bool, what: &str| {
            if bad {
                f.push(what.to_owned());
            }
        };
        let c = &self.checkins;
        check(
            c.on_time + c.late != self.operator.sealed_checkins_received,
            "a check-in was not answered on-time or late",
        );
        check(
            self.receipts.verified_by_devices != self.receipts.issued,
            "a device could not verify a receipt",
        );
        check(
            self.receipts.witnessed != self.receipts.issued,
            "a receipt was never witnessed",
        );
        check(
            self.accesses.records_opened_and_matched != self.accesses.records_opened,
            "an opened record differs from what its device sent",
        );
        check(
            self.accesses.requests_granted == 0,
            "no justified request was granted",
        );
        check(
            self.accesses.requests_denied != 1,
            "the request without an allowed purpose was not refused",
        );
        check(
            !self.accesses.unexpected_refusals.is_empty(),
            "a justified request was refused",
        );
        check(
            self.operator.ciphertext_bytes_held > 0
                && self.operator.mean_bytes_per_checkin > self.operator.bound_max as f64,
            "a ciphertext is outside the bound",
        );
        let o = &self.operator;
        check(
            o.decryption_keys > 0,
            "the operator holds a secret key of another party",
        );
        check(o.locations > 0, "the operator holds a location");
        check(o.images > 0, "the operator holds an image");
        check(o.names > 0, "the operator holds a name or a case number");
        check(
            o.sealed_content_in_the_clear > 0,
            "the operator holds a sealed text in the clear",
        );
        let sc = &self.operator_scan;
        check(
            sc.controls_found < sc.controls_searched,
            "the scan missed a pseudonym or tag key the operator holds by design: it did not read all of its database",
        );
        check(
            sc.planted
                .iter()
                .any(|(k, n)| sc.planted_found.get(k) != Some(n)),
            "the scan missed a canary planted in a copy of the operator's directory",
        );
        if let Some(b) = &self.adhoc_burst {
            check(
                b.refused_by_device != b.forged,
                "the phone accepted a challenge past its schedule's caps",
            );
            check(
                b.issued + b.refused_by_server.values().sum::<u64>() != b.requested,
                "an ad-hoc request was neither issued nor refused",
            );
        }
        if let Some(b) = &self.retention.backup {
            check(
                b.records_opened != 0,
                "a backed-up record of a destroyed epoch opened",
            );
            check(
                b.asked_through_custodians_after.as_deref() == Some("opened"),
                "the custodians opened a record of a destroyed epoch",
            );
        }
        check(
            !self.retention.live_epoch_record_opened_after,
            "a record of the live epoch did not open at the end",
        );
        check(
            self.log.audit_exit_code != 0,
            "the audit of the exported log did not pass",
        );
        check(
            self.distinct_log_tags != self.participant_epochs_in_log,
            "a participant tag repeats across participants or epochs",
        );
        f
    }

    pub(crate) fn print(&self) {
        let o = &self.operator;
        let c = &self.checkins;
        let a = &self.accesses;
        let r = &self.retention;
        let sl = &self.smartlink_comparison;
        println!();
        println!(
            "{} participants, {} weeks simulated in {:.1} s over real TLS",
            self.participants, self.simulated.weeks, self.elapsed_seconds
        );
        println!(
            "  {} challenges issued; {} check-ins on time, {} late (within the grace period), {} missed and pending a person's review",
            c.challenges_issued, c.on_time, c.late, c.pending_review
        );
        println!(
            "  {} technical failures recorded on phones, {} reported ({} with a few words sealed on the phone, which the operator cannot read); none of them is a violation until an officer decides (CHK-20, CHK-21)",
            c.technical_failures_recorded,
            c.technical_failures_reported,
            c.technical_failure_texts_sealed
        );
        println!();
        println!("What the operator (the vendor running the servers) holds at the end");
        println!(
            "  {} participants as random pseudonyms ({}); {} compliance-ledger rows with no content ({})",
            o.participants,
            human_bytes(o.participant_bytes),
            o.ledger_rows,
            human_bytes(o.ledger_bytes)
        );
        println!(
            "  {} sealed check-ins it cannot open ({}; {:.0} bytes each on average, each {} or {}-{} bytes long as SEAL-4 fixes), of {} received: the rest were purged at their deadlines",
            o.sealed_checkins_held,
            human_bytes(o.ciphertext_bytes_held),
            o.mean_bytes_per_checkin,
            o.bound_bare,
            o.bound_min,
            o.bound_max,
            o.sealed_checkins_received
        );
        println!(
            "  {} sealed texts of failure reports it cannot open either ({}; the rest were purged with their epochs)",
            o.sealed_texts_held,
            human_bytes(o.sealed_text_bytes_held)
        );
        println!("  the public log ({})", human_bytes(o.log_bytes));
        let sc = &self.operator_scan;
        let n = |m: &BTreeMap<Kind, u64>, k: Kind| m.get(&k).copied().unwrap_or(0);
        let none = |x: u64| {
            if x == 0 {
                "none".to_owned()
            } else {
                format!("{x} FOUND")
            }
        };
        println!(
            "  searched, in {} files, its configuration among them ({}): decryption keys {}, locations {}, images {}, names and case numbers {}, sealed texts in the clear {}",
            sc.files,
            human_bytes(sc.bytes),
            none(o.decryption_keys),
            none(o.locations),
            none(o.images),
            none(o.names),
            none(o.sealed_content_in_the_clear)
        );
        println!(
            "    for {} canaries of secret keys (the {} custodian epoch identities of the run, each as its string and its scalar; the custodians' signing keys; the phones' keys), {} of locations (every fix taken, every zone), {} names and case numbers, {} sealed texts, in {} encodings; the scan found {} of the {} pseudonyms and tag keys the operator holds by design, and {} of {} canaries planted in a copy",
            n(&sc.searched, Kind::Key),
            self.epoch_identities_searched,
            n(&sc.searched, Kind::Location),
            n(&sc.searched, Kind::Name),
            n(&sc.searched, Kind::Content),
            sc.patterns.values().sum::<u64>(),
            sc.controls_found,
            sc.controls_searched,
            sc.planted_found.values().sum::<u64>(),
            sc.planted.values().sum::<u64>(),
        );
        println!("What the key custodians hold");
        for cu in &self.custodians {
            println!(
                "  {:9} {} live epoch keys; {} destroyed on schedule",
                cu.role,
                cu.live_epochs.len(),
                cu.destroyed_epochs.len()
            );
        }
        println!("What the phones did");
        println!(
            "  {} enrolled from the agency's signed bundle (policy, schedule, zone commitment, every key they trust), after showing the notice",
            self.devices.enrolled_from_signed_bundle
        );
        println!(
            "  {} location fixes in all, one per check-in of the {} participants with an ordered zone, none otherwise; {} check-ins outside a zone were sent as \"outside\", never as coordinates",
            self.devices.location_fixes_taken,
            self.devices.participants_with_a_zone,
            c.outside_zone
        );
        println!(
            "  {} receipts verified on the phones, {} of them now cosigned by the oversight witness",
            self.receipts.verified_by_devices, self.receipts.witnessed
        );
        println!("Opening content takes a logged reason and both custodians");
        println!(
            "  {} requests granted ({}), {} records opened, each matching what its phone sent; what they held: a zone result ({})",
            a.requests_granted,
            join(&a.by_purpose),
            a.records_opened,
            join(&a.zone_results_seen)
        );
        println!(
            "  {} refused ({}); each refusal is in the log",
            plural(a.requests_denied, "request", "requests"),
            join(&a.denial_codes)
        );
        if let Some(b) = &self.adhoc_burst {
            println!("An officer tries to follow one participant with ad-hoc challenges");
            println!(
                "  asked the operator {} times within the hour: {} issued, refused {} ({})",
                b.requested,
                b.issued,
                b.refused_by_server.values().sum::<u64>(),
                join(&b.refused_by_server)
            );
            println!(
                "  a compromised operator signed {} more and sent them straight to the phone: refused {} ({}), kept as signed evidence",
                b.forged,
                b.refused_by_device,
                b.reasons.join(", "),
            );
            println!(
                "  location fixes that day: {}, for the {} the schedule allowed and none for the rest",
                b.fixes_taken,
                plural(b.answered, "check-in", "check-ins"),
            );
        }
        println!("Retention is enforced by destroying keys");
        println!(
            "  {} epoch keys destroyed at their deadlines, {} records purged",
            r.keys_destroyed, r.records_purged
        );
        match &r.backup {
            Some(b) => {
                println!(
                    "  a backup of the operator's database taken the day before epoch {}'s deadline still holds its {} records ({}): tried with all {} keys left anywhere, {} open",
                    b.epoch,
                    b.records,
                    human_bytes(b.bytes),
                    b.keys_left_tried,
                    b.records_opened
                );
                if let Some(s) = &b.asked_through_custodians_after {
                    println!("  asked for through the custodians after the deadline: {s}");
                }
            }
            None => println!(
                "  no content deadline fell in this run (give --weeks 15 or more to see one)"
            ),
        }
        println!(
            "  the newest epoch is unaffected: a justified request at the end {}",
            if r.live_epoch_record_opened_after {
                "opened its record"
            } else {
                "FAILED to open its record"
            }
        );
        println!("The public log, fetched over HTTPS and audited");
        println!(
            "  {} entries; participants appear only as tags that change every epoch ({} distinct tags for {} participant-epochs)",
            self.log.entries, self.distinct_log_tags, self.participant_epochs_in_log
        );
        print!("{}", indent(&self.audit_table));
        println!("This run's figures (this machine)");
        println!(
            "  wall clock: {}",
            self.phase_order
                .iter()
                .map(|(p, s)| format!("{p} {s:.1} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  ingest: {} check-ins in {:.1} s of simulated windows ({:.0}/s), submit round trip p50 {:.1} ms, p99 {:.1} ms",
            self.ingest.check_ins,
            self.ingest.seconds,
            self.ingest.per_second,
            self.ingest.submit_p50_ms,
            self.ingest.submit_p99_ms
        );
        println!(
            "  on the phone: seal {:.0} us per check-in, receipt check {:.0} us",
            self.crypto_path_micros.seal_on_device,
            self.crypto_path_micros.receipt_verify_on_device
        );
        println!("The same check-ins under a SmartLINK-style design, as publicly reported");
        println!(
            "  a face image and a precise location per check-in: ~{} of face images (estimate) and {} exact locations, kept {}",
            human_bytes(sl.face_images_for_this_run_bytes_estimate),
            sl.precise_locations_for_this_run,
            sl.retention
        );
        println!(
            "  a year of weekly check-ins for the {} people on SmartLINK in FY2023: ~{} of face images (estimate) vs ~{} of minimis ciphertext, which no key opens after at most {} days (the custodians destroy the keys)",
            SMARTLINK_FY2023,
            human_bytes(sl.isap_year_face_images_bytes_estimate),
            human_bytes(sl.isap_year_minimis_ciphertext_bytes_estimate),
            sl.minimis_readable_days_at_most
        );
        println!();
        if self.kept {
            println!(
                "Exported to {}: README.txt there says how to check it with tools we did not write; the audit report is {}",
                self.export, self.report
            );
        } else {
            println!(
                "(the services' data was in a temporary directory, now removed; give --export DIR to keep the log, sample records and the HTML audit report)"
            );
        }
    }
}

fn micros(total: std::time::Duration, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1e6 / n as f64
    }
}

fn join(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

pub(crate) fn human_bytes(b: u64) -> String {
    let f = b as f64;
    if f >= 1e12 {
        format!("{:.2} TB", f / 1e12)
    } else if f >= 1e9 {
        format!("{:.2} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{b} bytes")
    }
}

/// "1 thing", "2 things".
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
