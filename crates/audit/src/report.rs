//! What an audit reports: a table for people, JSON for machines (**AUD-12**).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use minimis_log::{SignedCheckpoint, VerifiedCosignature};
use minimis_proto::{PolicyHash, UnixTime};
use serde::Serialize;
use serde_json::{Value, json};

use crate::checks::{Caps, CheckId, Counts, Findings, Violation};
use crate::participant::ParticipantReport;
use crate::state::LogState;
use crate::verify::VerifyError;
use crate::{KeyOrigin, KeyUse};

/// How the checkpoint relates to the one verified on the last run (**AUD-2**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Consistency {
    /// No earlier checkpoint: this one is recorded.
    FirstRun,
    /// The same checkpoint as last time.
    Unchanged,
    /// A consistency proof from the tree of `from` entries verified.
    Extends {
        /// The size verified before.
        from: u64,
    },
}

/// A policy the log publishes, and the auditor was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// Its hash.
    pub hash: PolicyHash,
    /// Its name.
    pub name: String,
}

/// One policy check and what broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which check.
    pub id: CheckId,
    /// What it covered, in words.
    pub summary: String,
    /// What broke it; empty when it holds.
    pub violations: Vec<Violation>,
}

impl Check {
    /// Whether it holds.
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What the verification established, for the report.
pub(crate) struct Verified {
    pub(crate) checkpoint: SignedCheckpoint,
    pub(crate) cosignatures: Vec<VerifiedCosignature>,
    pub(crate) witnesses_required: usize,
    pub(crate) consistency: Consistency,
    pub(crate) now: UnixTime,
    pub(crate) state: LogState,
    pub(crate) unused: Vec<PolicyHash>,
    pub(crate) log_key: KeyUse,
    pub(crate) witnesses: Vec<KeyUse>,
    pub(crate) witness_policy: Option<crate::WitnessPolicyUse>,
}

/// The report of an audit of a log that verifies: the checks, the counts and, in
/// participant mode, the participant's entries.
#[derive(Debug)]
pub struct Report {
    checkpoint: SignedCheckpoint,
    cosignatures: Vec<VerifiedCosignature>,
    witnesses_required: usize,
    consistency: Consistency,
    now: UnixTime,
    state: LogState,
    log_key: KeyUse,
    witness_keys: Vec<KeyUse>,
    witness_policy: Option<crate::WitnessPolicyUse>,
    policies: Vec<PolicyInfo>,
    unused_policies: Vec<PolicyHash>,
    caps: Option<Caps>,
    custodians: Vec<String>,
    checks: Vec<Check>,
    counts: Counts,
    participant: Option<ParticipantReport>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Report {
    pub(crate) fn new(v: Verified, f: Findings<'_>) -> Self {
        let mut by_check: BTreeMap<CheckId, Vec<Violation>> = BTreeMap::new();
        for violation in f.violations {
            by_check
                .entry(violation.check())
                .or_default()
                .push(violation);
        }
        let c = &f.counts;
        let mut ids = CheckId::POLICY.to_vec();
        if f.participant.as_ref().is_some_and(|p| p.schedule_checked) {
            ids.push(CheckId::ParticipantSchedule);
        }
        if c.obligations.is_some() {
            ids.extend(CheckId::OBLIGATIONS);
        }
        let checks = ids
            .into_iter()
            .map(|id| {
                let summary = match id {
                    CheckId::Challenges => match f.caps {
                        Some(caps) => format!(
                            "{}, {} participant-epochs; max {}/window, {}/epoch, {} ad-hoc/epoch",
                            plural(
                                c.of(minimis_log::EntryType::ChallengeIssued),
                                "challenge",
                                "challenges"
                            ),
                            c.participant_epochs,
                            caps.per_window,
                            caps.per_epoch,
                            caps.adhoc_per_epoch
                        ),
                        None => "no policy to check against".to_owned(),
                    },
                    CheckId::KeysDestroyed => format!(
                        "{} past the deadline, custodians {}",
                        plural(c.epochs_due, "epoch", "epochs"),
                        if f.custodians.is_empty() {
                            "none".to_owned()
                        } else {
                            f.custodians.join(", ")
                        }
                    ),
                    CheckId::RecordsPurged => format!(
                        "{}, {}",
                        plural(
                            c.of(minimis_log::EntryType::RecordsPurged),
                            "purge",
                            "purges"
                        ),
                        plural(
                            c.of(minimis_log::EntryType::CheckInReceived),
                            "record",
                            "records"
                        )
                    ),
                    CheckId::LedgersPurged => format!(
                        "{} past the deadline, {}",
                        plural(c.ledgers_due, "closed enrollment", "closed enrollments"),
                        plural(
                            c.of(minimis_log::EntryType::LedgerPurged),
                            "ledger purge",
                            "ledger purges"
                        )
                    ),
                    CheckId::AccessJustified | CheckId::AccessOrder => format!(
                        "{}, {}",
                        plural(
                            c.of(minimis_log::EntryType::ContentAccessed),
                            "access",
                            "accesses"
                        ),
                        plural(
                            c.of(minimis_log::EntryType::AccessDenied),
                            "denial",
                            "denials"
                        )
                    ),
                    CheckId::NoAccessAfterDestruction => plural(
                        c.of(minimis_log::EntryType::EpochKeyDestroyed),
                        "destruction",
                        "destructions",
                    ),
                    CheckId::Enrollments => plural(
                        c.of(minimis_log::EntryType::EnrollmentOpened),
                        "enrollment",
                        "enrollments",
                    ),
                    CheckId::LegalHolds => format!(
                        "{} placed, {} released",
                        c.of(minimis_log::EntryType::LegalHoldPlaced),
                        c.of(minimis_log::EntryType::LegalHoldReleased)
                    ),
                    CheckId::EpochSummaries => {
                        let with = c
                            .epoch_summaries
                            .iter()
                            .filter(|e| e.summary.is_some())
                            .count() as u64;
                        format!(
                            "{} summarized, {} without a summary",
                            plural(with, "epoch", "epochs"),
                            c.epoch_summaries.len() as u64 - with
                        )
                    }
                    CheckId::ParticipantSchedule => f
                        .participant
                        .as_ref()
                        .map(|p| plural(p.challenges, "challenge", "challenges"))
                        .unwrap_or_default(),
                    CheckId::FilingsAcknowledged
                    | CheckId::ReviewsDecided
                    | CheckId::AppealsDecided
                    | CheckId::ConditionsSummaries => {
                        crate::obligations::summary(id, c.obligations.as_ref())
                    }
                };
                Check {
                    id,
                    summary,
                    violations: by_check.remove(&id).unwrap_or_default(),
                }
            })
            .collect();
        Self {
            checkpoint: v.checkpoint,
            cosignatures: v.cosignatures,
            witnesses_required: v.witnesses_required,
            consistency: v.consistency,
            now: v.now,
            state: v.state,
            log_key: v.log_key,
            witness_keys: v.witnesses,
            witness_policy: v.witness_policy,
            policies: f
                .published
                .iter()
                .map(|p| PolicyInfo {
                    hash: p.hash(),
                    name: p.name().to_owned(),
                })
                .collect(),
            unused_policies: v.unused,
            caps: f.caps,
            custodians: f.custodians,
            checks,
            counts: f.counts,
            participant: f.participant,
        }
    }

    /// Whether every checked claim holds.
    pub fn holds(&self) -> bool {
        self.checks.iter().all(Check::holds)
    }

    /// The exit code of **AUD-12**: 0 when every claim holds, 1 when one is violated.
    pub fn exit_code(&self) -> u8 {
        if self.holds() { 0 } else { 1 }
    }

    /// The policy checks, in report order.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// One check.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Every violation, check by check.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.checks.iter().flat_map(|c| c.violations.iter())
    }

    /// The counts (**AUD-7**).
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Participant mode's findings.
    pub fn participant(&self) -> Option<&ParticipantReport> {
        self.participant.as_ref()
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// How it relates to the last run's.
    pub fn consistency(&self) -> Consistency {
        self.consistency
    }

    /// The witnesses' cosignatures that verified.
    pub fn cosignatures(&self) -> &[VerifiedCosignature] {
        &self.cosignatures
    }

    /// The tlog-policy whose quorum the checkpoint carries, if one was given (**LOG-67**).
    pub fn witness_policy(&self) -> Option<&crate::WitnessPolicyUse> {
        self.witness_policy.as_ref()
    }

    /// How many witnesses' cosignatures were required.
    pub fn witnesses_required(&self) -> usize {
        self.witnesses_required
    }

    /// The log key the checkpoint was verified with, and where it came from (**AUD-34**).
    pub fn log_key(&self) -> &KeyUse {
        &self.log_key
    }

    /// The witness keys whose cosignatures were required, and where each came from
    /// (**AUD-34**); empty when no witness was required (**AUD-35**).
    pub fn witness_keys(&self) -> &[KeyUse] {
        &self.witness_keys
    }

    /// The table's lines that say which keys were used and where they came from.
    fn key_lines(&self) -> String {
        let mut out = String::new();
        let line = |role: &str, k: &KeyUse| {
            let key = format!("{}+{}", k.key.name(), k.key.key_id());
            let pinned = if k.pinned && k.origin != KeyOrigin::State {
                "; pinned in the state file"
            } else {
                ""
            };
            format!("{role:<12}{key}   {}{pinned}\n", k.origin)
        };
        out.push_str(&line("log key", &self.log_key));
        for w in &self.witness_keys {
            out.push_str(&line("witness", w));
        }
        if self.witness_keys.is_empty() {
            out.push_str(
                "witness     none required (--allow-no-witness): the log's own signature alone vouches for the checkpoint\n",
            );
        }
        out
    }

    /// The policies the log publishes that the auditor was given.
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.policies
    }

    /// The caps the challenges were checked against (the most permissive published
    /// policy's); `None` when the log publishes no policy.
    pub fn caps(&self) -> Option<Caps> {
        self.caps
    }

    /// The time the deadlines were checked against.
    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// The state to keep for the next run (**AUD-2**): this checkpoint, the log key and
    /// every witness required.
    pub fn log_state(&self) -> &LogState {
        &self.state
    }

    fn verification_rows(&self) -> [(&'static str, &'static str, String); 3] {
        let cp = self.checkpoint.checkpoint();
        [
            (
                "log signatures and cosignatures",
                "AUD-1",
                format!(
                    "ok     (log key, {}/{} witnesses)",
                    self.cosignatures.len(),
                    self.witnesses_required
                ),
            ),
            (
                "consistency with the last checkpoint",
                "AUD-2",
                match self.consistency {
                    Consistency::FirstRun => "ok     (first run: checkpoint recorded)".to_owned(),
                    Consistency::Unchanged => "ok     (unchanged since the last run)".to_owned(),
                    Consistency::Extends { from } => {
                        format!("ok     (extends size {from} of the last run)")
                    }
                },
            ),
            (
                "every entry matches the tiles",
                "AUD-3",
                format!("ok     ({})", plural(cp.tree_size(), "entry", "entries")),
            ),
        ]
    }

    /// The report as a table (**AUD-12**), at most `per_check` violations listed per
    /// check.
    pub fn to_table_with(&self, per_check: usize) -> String {
        let mut out = String::new();
        let cp = self.checkpoint.checkpoint();
        let _ = writeln!(
            out,
            "log         {}   size {}   witnesses {}/{}   {}",
            cp.origin(),
            cp.tree_size(),
            self.cosignatures.len(),
            self.witnesses_required,
            match self.consistency {
                Consistency::FirstRun => "first run",
                Consistency::Unchanged => "unchanged since last run",
                Consistency::Extends { .. } => "consistent with last run",
            }
        );
        if let Some(p) = &self.witness_policy {
            let _ = writeln!(
                out,
                "quorum      tlog-policy sha256 {}: met ({} of its {} witnesses cosigned; LOG-67)",
                p.hash, p.cosigned, p.witnesses
            );
        }
        out.push_str(&self.key_lines());
        for p in &self.policies {
            let _ = writeln!(out, "policy      sha256:{}  \"{}\"", p.hash, p.name);
        }
        for h in &self.unused_policies {
            let _ = writeln!(
                out,
                "policy      sha256:{h}  given, not published: not used"
            );
        }
        let _ = writeln!(out, "now         {}", self.now);
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<40}{:<28}result", "check", "requirement");
        for (name, req, result) in self.verification_rows() {
            let _ = writeln!(out, "{name:<40}{req:<28}{result}");
        }
        for c in &self.checks {
            let result = if c.holds() {
                format!("ok     ({})", c.summary)
            } else {
                format!(
                    "FAILED ({}; {})",
                    plural(c.violations.len() as u64, "violation", "violations"),
                    c.summary
                )
            };
            let _ = writeln!(
                out,
                "{:<40}{:<28}{result}",
                c.id.name(),
                c.id.requirements().join(", ")
            );
            for v in c.violations.iter().take(per_check) {
                let _ = writeln!(out, "    ! {v}");
            }
            if c.violations.len() > per_check {
                let _ = writeln!(out, "    ! … and {} more", c.violations.len() - per_check);
            }
        }
        let _ = writeln!(out);
        let list = |m: &BTreeMap<String, u64>| -> String {
            if m.is_empty() {
                return "none".to_owned();
            }
            let mut v: Vec<_> = m.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            v.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let c = &self.counts;
        let _ = writeln!(
            out,
            "accesses by custodian     {}",
            list(&c.accesses_by_custodian)
        );
        let _ = writeln!(
            out,
            "accesses by purpose       {}",
            list(&c.accesses_by_purpose)
        );
        let _ = writeln!(
            out,
            "accesses by legal basis   {}",
            list(&c.accesses_by_legal_basis)
        );
        let _ = writeln!(
            out,
            "accesses by officer       {}",
            list(&c.accesses_by_officer)
        );
        let denials: BTreeMap<String, u64> = c
            .denials_by_reason
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        let _ = writeln!(out, "denials by reason         {}", list(&denials));
        if !c.epoch_summaries.is_empty() {
            // CHK-28: per epoch, the operator's counts beside what the log shows.
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{:<8}{:>11}{:>10}  {:>8}{:>6}{:>8}  failure reports",
                "epoch", "challenges", "check-ins", "on time", "late", "missed"
            );
            for e in &c.epoch_summaries {
                let summary = match &e.summary {
                    Some(s) => {
                        let reports: Vec<String> = s
                            .failure_reports
                            .iter()
                            .filter(|(_, n)| **n > 0)
                            .map(|(k, n)| format!("{k} {n}"))
                            .collect();
                        format!(
                            "{:>8}{:>6}{:>8}  {}",
                            s.on_time,
                            s.late,
                            s.missed,
                            if reports.is_empty() {
                                "none".to_owned()
                            } else {
                                reports.join(", ")
                            }
                        )
                    }
                    None => "no summary".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{:<8}{:>11}{:>10}  {summary}",
                    e.epoch.get(),
                    e.challenges,
                    e.check_ins
                );
            }
        }
        if let Some(p) = &self.participant {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "my entries: {} challenges, {} check-ins, {} accesses, {} refusals",
                p.challenges, p.check_ins, p.accesses, p.denials
            );
            for e in &p.entries {
                let epoch = e.epoch.map(|e| format!("epoch {e}")).unwrap_or_default();
                let time = e.time.map(|t| t.to_string()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:>9}  {:<20} {:<12} {:<21} {}",
                    e.index, e.entry, epoch, time, e.detail
                );
            }
        }
        let _ = writeln!(out);
        let verdict = if self.holds() {
            "verdict: all claims hold"
        } else {
            "verdict: a policy claim is violated"
        };
        let _ = writeln!(out, "{verdict:<68}exit {}", self.exit_code());
        out
    }

    /// The report as a table, at most 10 violations listed per check.
    pub fn to_table(&self) -> String {
        self.to_table_with(10)
    }

    /// The report as JSON (**AUD-12**).
    pub fn to_json(&self) -> Value {
        let cp = self.checkpoint.checkpoint();
        let mut checks: Vec<Value> = self
            .verification_rows()
            .iter()
            .map(|(name, req, _)| {
                json!({
                    "check": name,
                    "requirements": [req],
                    "result": "ok",
                })
            })
            .collect();
        checks.extend(self.checks.iter().map(|c| {
            json!({
                "check": c.id.name(),
                "id": c.id,
                "requirements": c.id.requirements(),
                "result": if c.holds() { "ok" } else { "violated" },
                "summary": c.summary,
                "violations": c.violations.iter().map(violation_json).collect::<Vec<_>>(),
            })
        }));
        json!({
            "verdict": if self.holds() { "all-claims-hold" } else { "claim-violated" },
            "exit": self.exit_code(),
            "log": {
                "origin": cp.origin(),
                "tree_size": cp.tree_size(),
                "root_hash": cp.root_hash().to_hex(),
                "witnesses_required": self.witnesses_required,
                "witness_policy": self.witness_policy.as_ref().map(|p| json!({
                    "sha256": p.hash.to_hex(),
                    "witnesses": p.witnesses,
                    "cosigned": p.cosigned,
                    "origin": p.origin,
                })),
                "cosignatures": self.cosignatures.iter().map(|c| json!({
                    "witness": c.witness.as_str(),
                    "time": c.time,
                })).collect::<Vec<_>>(),
                "consistency": self.consistency,
            },
            "keys": {
                "log": key_json(&self.log_key),
                "witnesses": self.witness_keys.iter().map(key_json).collect::<Vec<_>>(),
            },
            "now": self.now,
            "policies": self.policies,
            "policies_not_published": self.unused_policies,
            "caps": self.caps,
            "custodians": self.custodians,
            "checks": checks,
            "counts": self.counts,
            "participant": self.participant,
        })
    }
}

fn key_json(k: &KeyUse) -> Value {
    json!({
        "key": k.key.to_string(),
        "name": k.key.name().as_str(),
        "origin": k.origin,
        "pinned": k.pinned,
    })
}

fn violation_json(v: &Violation) -> Value {
    let mut j = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut j {
        m.insert("requirement".into(), v.requirement().into());
        m.insert("message".into(), v.to_string().into());
    }
    j
}

impl<E: std::error::Error + 'static> VerifyError<E> {
    /// The report of a log that does not verify, as a table: which requirement failed
    /// and why; no policy claim is reported (**AUD-12**).
    pub fn to_table(&self, location: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "log         {location}");
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<40}{:<28}result", "check", "requirement");
        // What was verified before the failure: signatures, then rollback and split
        // view, then the tiles, then the consistency proof.
        let results = match self {
            Self::LogKeyChanged { .. } => ["-", "FAILED", "-"],
            Self::Rollback { .. } | Self::SplitView { .. } => ["ok", "FAILED", "-"],
            Self::Tiles(_) | Self::MalformedEntry { .. } => ["ok", "-", "FAILED"],
            Self::RewrittenHistory { .. } | Self::ConsistencyProof(_) | Self::Follower(_) => {
                ["ok", "FAILED", "ok"]
            }
            _ => ["FAILED", "-", "-"],
        };
        for ((name, req), result) in [
            ("log signatures and cosignatures", "AUD-1"),
            ("consistency with the last checkpoint", "AUD-2"),
            ("every entry matches the tiles", "AUD-3"),
        ]
        .into_iter()
        .zip(results)
        {
            let _ = writeln!(out, "{name:<40}{req:<28}{result}");
        }
        let _ = writeln!(out, "    ! {}", error_chain(self));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<68}exit 3",
            "verdict: the log does not verify; no policy claim is reported"
        );
        out
    }

    /// The report of a log that does not verify, as JSON.
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "verdict": "log-does-not-verify",
            "exit": 3,
            "log": { "location": location },
            "error": {
                "code": self.code(),
                "requirement": self.requirement(),
                "message": error_chain(self),
            },
        })
    }
}

/// The table of an export directory that does not verify because one of its files was
/// refused or is malformed (**AUD-30**): nothing of the log was verified.
fn export_failure_table(location: &str, message: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "log         {location}");
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<40}{:<28}result", "check", "requirement");
    let _ = writeln!(out, "{:<40}{:<28}FAILED", "the export's files", "AUD-30");
    let _ = writeln!(out, "    ! {message}");
    for (name, req) in [
        ("log signatures and cosignatures", "AUD-1"),
        ("consistency with the last checkpoint", "AUD-2"),
        ("every entry matches the tiles", "AUD-3"),
    ] {
        let _ = writeln!(out, "{name:<40}{req:<28}-");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<68}exit 3",
        "verdict: the log does not verify; no policy claim is reported"
    );
    out
}

fn export_failure_json(location: &str, code: &str, message: String) -> Value {
    json!({
        "verdict": "log-does-not-verify",
        "exit": 3,
        "log": { "location": location },
        "error": {
            "code": code,
            "requirement": "AUD-30",
            "message": message,
        },
    })
}

impl crate::LayoutError {
    /// The report of an export directory whose file was refused or is malformed, as a
    /// table (**AUD-30**).
    pub fn to_table(&self, location: &str) -> String {
        export_failure_table(location, &error_chain(self))
    }

    /// The same, as JSON.
    pub fn to_json(&self, location: &str) -> Value {
        export_failure_json(location, self.code(), error_chain(self))
    }
}

impl crate::SourceError {
    /// The report of an export directory whose log cannot be opened, as a table
    /// (**AUD-30**).
    pub fn to_table(&self, location: &str) -> String {
        export_failure_table(location, &error_chain(self))
    }

    /// The same, as JSON.
    pub fn to_json(&self, location: &str) -> Value {
        export_failure_json(location, "export-file-refused", error_chain(self))
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
