//! # minimis-audit: the auditor
//!
//! Checks, from the public log alone, that the system did what its policy says:
//!
//! 1. the log verifies (exit 3 if not): the checkpoint's signature and every required
//!    witness cosignature (**AUD-1**), consistency with the checkpoint verified on the
//!    last run, kept in the auditor's own state (**AUD-2**: rollback, split view,
//!    rewritten history), and every entry against the tiles (**AUD-3**, with
//!    [`minimis_log::LogReader::audit_with`]);
//! 2. the policy claims hold (exit 1 if not): challenges within the caps (**AUD-4**),
//!    keys destroyed and records purged by their deadline (**AUD-5**), accesses justified,
//!    in order, and never after destruction (**AUD-6**), enrollments under a published
//!    policy (**AUD-8**), legal holds (**AUD-9**); with the counts of **AUD-7**;
//! 3. in participant mode, the participant's own entries and their challenges against
//!    their own schedule (**AUD-11**).
//!
//! Beside the audit: the audit written as one self-contained HTML report for policymakers
//! ([`html`], `minimis audit report`, **AUD-27** to **AUD-29**), which can embed a vendor
//! comparison made by `minimis-compare` (`minimis compare`, `spec/inventory.md`).
//!
//! The log comes from a [`LogSource`]: a tlog-tiles directory ([`DirSource`]) or a
//! tlog-tiles server read through a transport the caller gives ([`TlogClient`], over
//! HTTPS in `minimis audit https://…`, **AUD-13**); every check is the same for both.
//!
//! Against a malicious log (**AUD-30** to **AUD-33**): both sources read lazily and
//! within bounds, a directory without following links or opening special files; nothing
//! the checkpoint names is read before the checkpoint verifies, the tree is checked top
//! down, and every check is linear in the entries. The report names each key it used and
//! where it came from ([`KeyOrigin`], **AUD-34**), and an audit that requires no witness
//! is refused unless allowed (**AUD-35**).
//!
//! Spec: `spec/audit.md`. One pass over the log does it all: the entries are handed to
//! the checks as the tiles are verified.
//!
//! **Trust domain:** the auditor: anyone. **Holds:** the public log, the log's and the
//! witnesses' public keys, the published policies, its own state (public checkpoints
//! and pinned public keys). **Never holds:** personal data, a decryption key, an account
//! (**AUD-10**). Participant mode takes a participant's tag key, which the participant
//! gives; it never shows in the output.
//!
//! ```
//! use minimis_audit::{Auditor, synthetic};
//!
//! // A small, compliant log under the reference policy, and an audit of it.
//! let history = synthetic::History::generate(&synthetic::Params::small());
//! let log = synthetic::SignedLog::build(&history.entries, 500);
//! let auditor = Auditor::new(log.log_key.clone(), history.now)
//!     .witness(log.witness_key.clone())
//!     .policy(history.policy.clone());
//! let report = auditor.audit(log.storage(), None)?;
//! assert!(report.holds(), "{}", report.to_table());
//! assert_eq!(report.exit_code(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod checks;
pub mod html;
pub mod layout;
pub mod obligations;
mod participant;
pub mod remote;
mod report;
pub mod series;
pub mod state;
pub mod synthetic;
mod time;
mod verify;

pub use checks::{
    Caps, CheckId, Counts, EpochCounts, MAX_WINDOW_SECONDS, SummaryCounts, Violation,
    local_days_in_epoch,
};
pub use html::{LogFigures, ReportInputs};
pub use layout::{
    DirKeys, DirSource, ExportDir, LayoutError, LogSource, SourceError, WriteExportError,
    write_export,
};
pub use participant::{Participant, ParticipantEntry, ParticipantParseError, ParticipantReport};
pub use remote::{Fetch, FetchError, RemoteError, RemoteStorage, TlogClient};
pub use report::{Check, Consistency, PolicyInfo, Report};
pub use state::{AuditorState, LogState, StateError};
pub use time::{TimeParseError, parse_time};
pub use verify::{AuditFailure, VerifyError};

use minimis_log::{
    LogEntry, LogReader, ReaderError, TileStorage, TlogPolicy, TlogPolicyHash, VerifierKey,
};
use minimis_proto::{Policy, UnixTime};
use serde::Serialize;

/// Where a key the audit used came from (**AUD-34**): said in the report, so that
/// nobody mistakes an audit against keys the operator supplied for one against keys from
/// their owners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeyOrigin {
    /// Given by the program that runs the audit, with no file (a library caller).
    Given,
    /// A file the user named (`--log-key FILE`, `--witness FILE`).
    File {
        /// The file.
        path: String,
    },
    /// A file of the export directory the log came from, used because the user said so
    /// (`--trust-keys-in-dir`): it is only as trustworthy as whoever wrote the directory,
    /// who may be the operator being audited.
    ExportDir {
        /// The file.
        path: String,
    },
    /// Pinned in the auditor's state file on an earlier run (**AUD-2**), and given by
    /// nothing else this run.
    State,
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given => f.write_str("given by the caller"),
            Self::File { path } => write!(f, "from {path}"),
            Self::ExportDir { path } => write!(
                f,
                "from {path}, in the directory audited (--trust-keys-in-dir)"
            ),
            Self::State => f.write_str("pinned in the state file"),
        }
    }
}

/// A key the audit used and where it came from (**AUD-34**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The key.
    pub key: VerifierKey,
    /// Where it came from.
    pub origin: KeyOrigin,
    /// Whether the auditor's state had pinned it on an earlier run (**AUD-2**).
    pub pinned: bool,
}

/// The tlog-policy an audit required (**LOG-67**): its hash, which the log declares, and
/// where the file came from (**AUD-34**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicyUse {
    /// The SHA-256 of the policy file.
    pub hash: TlogPolicyHash,
    /// Where the file came from.
    pub origin: KeyOrigin,
    /// How many witnesses it knows.
    pub witnesses: usize,
    /// How many of them validly cosigned the checkpoint (at least its quorum).
    pub cosigned: usize,
}

/// An audit's inputs: the log's key, the witnesses whose cosignatures are required, the
/// policies, the time, and optionally a participant.
#[derive(Debug)]
pub struct Auditor {
    log_key: VerifierKey,
    log_key_origin: KeyOrigin,
    witnesses: Vec<(VerifierKey, KeyOrigin)>,
    tlog_policy: Option<(TlogPolicy, KeyOrigin)>,
    allow_no_witness: bool,
    policies: Vec<Policy>,
    offered: Vec<Policy>,
    now: UnixTime,
    participant: Option<Participant>,
}

impl Auditor {
    /// An auditor of the log with `log_key`, at time `now` (deadlines after `now` are
    /// not yet due).
    pub fn new(log_key: VerifierKey, now: UnixTime) -> Self {
        Self {
            log_key,
            log_key_origin: KeyOrigin::Given,
            witnesses: Vec::new(),
            tlog_policy: None,
            allow_no_witness: false,
            policies: Vec::new(),
            offered: Vec::new(),
            now,
            participant: None,
        }
    }

    /// Says where the log key came from, for the report (**AUD-34**).
    pub fn log_key_origin(mut self, origin: KeyOrigin) -> Self {
        self.log_key_origin = origin;
        self
    }

    /// Requires `key`'s cosignature on the checkpoint.
    pub fn witness(self, key: VerifierKey) -> Self {
        self.witness_from(key, KeyOrigin::Given)
    }

    /// Requires `key`'s cosignature on the checkpoint, and says where the key came from
    /// (**AUD-34**). A key given twice keeps its first origin.
    pub fn witness_from(mut self, key: VerifierKey, origin: KeyOrigin) -> Self {
        if !self.witnesses.iter().any(|(k, _)| *k == key) {
            self.witnesses.push((key, origin));
        }
        self
    }

    /// Requires the checkpoint to carry the quorum of `policy` (C2SP tlog-policy,
    /// **LOG-67**), whose hash the log must declare in its latest `witness policy
    /// published` entry; `origin` says where the file came from (**AUD-34**). Witnesses
    /// given with [`Auditor::witness`] stay required each, besides.
    pub fn tlog_policy(mut self, policy: TlogPolicy, origin: KeyOrigin) -> Self {
        self.tlog_policy = Some((policy, origin));
        self
    }

    /// Allows an audit that requires no witness's cosignature, which is otherwise refused
    /// (**AUD-35**): the log's own signature then vouches for a checkpoint nobody else
    /// has seen, and the report says so.
    pub fn allow_no_witness(mut self) -> Self {
        self.allow_no_witness = true;
        self
    }

    /// Gives a policy the log may publish.
    pub fn policy(mut self, policy: Policy) -> Self {
        if !self.policies.iter().any(|p| p.hash() == policy.hash()) {
            self.policies.push(policy);
        }
        self
    }

    /// Offers a policy from a source that is not trusted (the operator's server): it is
    /// used only if the log publishes its hash (POL-12), and is not reported as given
    /// when it does not.
    pub fn offered_policy(mut self, policy: Policy) -> Self {
        if !self.offered.iter().any(|p| p.hash() == policy.hash()) {
            self.offered.push(policy);
        }
        self
    }

    /// Adds participant mode for `participant` (**AUD-11**).
    pub fn participant(mut self, participant: Participant) -> Self {
        self.participant = Some(participant);
        self
    }

    /// Audits the log in `storage`. `pinned` is what the auditor's state holds for this
    /// log's origin from an earlier run (`None` on the first run).
    ///
    /// Nothing the checkpoint names is read before the checkpoint's signature, every
    /// required cosignature and the pinned state have been checked (**AUD-31**): give a
    /// storage that reads lazily ([`minimis_log::DirStorage`], a [`TlogClient`]'s) and
    /// a forged checkpoint costs one read. The tree is then checked top down (LOG-39).
    ///
    /// # Errors
    /// [`AuditFailure::Verify`] if the log does not verify (exit 3);
    /// [`AuditFailure::MissingPolicy`] if it publishes a policy not given, and
    /// [`AuditFailure::NoWitness`] if no witness is required and that was not allowed
    /// (exit 2).
    pub fn audit<S: TileStorage>(
        &self,
        storage: S,
        pinned: Option<&LogState>,
    ) -> Result<Report, AuditFailure<S::Error>> {
        // AUD-2: the keys pinned on the first run; a pinned witness stays required.
        let mut required: Vec<KeyUse> = self
            .witnesses
            .iter()
            .map(|(key, origin)| KeyUse {
                key: key.clone(),
                origin: origin.clone(),
                pinned: pinned.is_some_and(|p| p.witnesses().contains(key)),
            })
            .collect();
        if let Some(p) = pinned {
            if *p.log_key() != self.log_key {
                return Err(VerifyError::LogKeyChanged {
                    origin: self.log_key.name().to_string(),
                }
                .into());
            }
            for w in p.witnesses() {
                if !required.iter().any(|k| k.key == *w) {
                    required.push(KeyUse {
                        key: w.clone(),
                        origin: KeyOrigin::State,
                        pinned: true,
                    });
                }
            }
        }
        // AUD-35: a witness, unless the caller said none is needed.
        let policy_requires = self
            .tlog_policy
            .as_ref()
            .is_some_and(|(p, _)| p.quorum() != minimis_log::tlog_policy::Quorum::None);
        if required.is_empty() && !policy_requires && !self.allow_no_witness {
            return Err(AuditFailure::NoWitness);
        }
        let required_keys: Vec<VerifierKey> = required.iter().map(|k| k.key.clone()).collect();
        // AUD-1: the log's signature and origin, every required cosignature.
        let reader = LogReader::open(storage, &self.log_key).map_err(|e| match e {
            ReaderError::NoCheckpoint => VerifyError::NoCheckpoint,
            ReaderError::Checkpoint(e) => VerifyError::Checkpoint(e),
            ReaderError::Storage(e) => VerifyError::Storage(e),
            _ => VerifyError::NoCheckpoint,
        })?;
        let checkpoint = reader.checkpoint().clone();
        let mut cosignatures = checkpoint
            .verify_cosignatures(&required_keys)
            .map_err(VerifyError::Cosignature)?;
        // LOG-67: the tlog-policy's quorum, before anything else is read (AUD-31).
        let mut quorum_cosigned = 0;
        if let Some((policy, _)) = &self.tlog_policy {
            if !policy.accepts_log(&self.log_key) {
                return Err(VerifyError::LogNotInTlogPolicy.into());
            }
            let quorum = policy
                .verify_quorum(&checkpoint)
                .map_err(VerifyError::Quorum)?;
            quorum_cosigned = quorum.cosignatures.len();
            for c in quorum.cosignatures {
                if !cosignatures.iter().any(|k| k.witness == c.witness) {
                    cosignatures.push(c);
                }
            }
        }
        let size = checkpoint.checkpoint().tree_size();
        // AUD-2, what needs no tiles: the log follower pinned to the last checkpoint
        // verified refuses a rollback or another root for that size (LOG-52, LOG-53).
        let mut follower = pinned.map(|p| {
            minimis_log::Follower::pinned(
                self.log_key.clone(),
                required_keys.clone(),
                p.checkpoint().clone(),
            )
        });
        let text = checkpoint.to_string();
        if let Some(f) = &follower {
            f.check(text.as_bytes()).map_err(follow_error)?;
        }
        // AUD-3, with the policy checks in the same pass.
        let tracker = self.participant.as_ref().map(participant::Tracker::new);
        let mut checker = checks::Checker::new(&self.policies, &self.offered, self.now, tracker);
        let mut malformed = None;
        let mut witness_policy = None;
        reader
            .audit_with(|index, bytes| {
                if malformed.is_some() {
                    return;
                }
                match LogEntry::decode(bytes) {
                    Ok(entry) => {
                        if let LogEntry::WitnessPolicyPublished { policy } = &entry {
                            witness_policy = Some(*policy);
                        }
                        checker.observe(index, &entry);
                    }
                    Err(error) => malformed = Some(VerifyError::MalformedEntry { index, error }),
                }
            })
            .map_err(VerifyError::Tiles)?;
        if let Some(e) = malformed {
            return Err(e.into());
        }
        // LOG-67: the log declares the policy given, last.
        if let Some((policy, _)) = &self.tlog_policy
            && witness_policy != Some(policy.hash())
        {
            return Err(VerifyError::TlogPolicyNotLogged {
                given: policy.hash(),
                logged: witness_policy,
            }
            .into());
        }
        // AUD-2: the new tree extends the old one (the follower checks the proof).
        let consistency = match &mut follower {
            None => Consistency::FirstRun,
            Some(f) => {
                let from = f.size();
                let proof = if from == 0 || from == size {
                    minimis_log::ConsistencyProof {
                        first: from,
                        second: size,
                        consistency_path: Vec::new(),
                    }
                } else {
                    reader
                        .consistency_proof(from, size)
                        .map_err(VerifyError::ConsistencyProof)?
                };
                f.advance(text.as_bytes(), &proof).map_err(follow_error)?;
                if from == size {
                    Consistency::Unchanged
                } else {
                    Consistency::Extends { from }
                }
            }
        };
        let findings = checker.finish();
        if let Some(&policy) = findings.missing.first() {
            return Err(AuditFailure::MissingPolicy { policy });
        }
        let unused = self
            .policies
            .iter()
            .filter(|p| !findings.published.iter().any(|q| q.hash() == p.hash()))
            .map(Policy::hash)
            .collect();
        let mut pinned_witnesses = required_keys;
        pinned_witnesses.sort_by_key(ToString::to_string);
        required.sort_by_key(|k| k.key.to_string());
        Ok(Report::new(
            report::Verified {
                checkpoint: checkpoint.clone(),
                cosignatures,
                witnesses_required: pinned_witnesses.len(),
                consistency,
                now: self.now,
                state: LogState::new(self.log_key.clone(), pinned_witnesses, checkpoint),
                unused,
                log_key: KeyUse {
                    key: self.log_key.clone(),
                    origin: self.log_key_origin.clone(),
                    pinned: pinned.is_some(),
                },
                witnesses: required,
                witness_policy: self
                    .tlog_policy
                    .as_ref()
                    .map(|(p, origin)| WitnessPolicyUse {
                        hash: p.hash(),
                        origin: origin.clone(),
                        witnesses: p.witnesses().len(),
                        cosigned: quorum_cosigned,
                    }),
            },
            findings,
        ))
    }
}

/// The auditor's error for a checkpoint the log follower refused (AUD-2).
fn follow_error<E: std::error::Error + 'static>(e: minimis_log::AdvanceError) -> VerifyError<E> {
    use minimis_log::AdvanceError as A;
    match e {
        A::Checkpoint(e) => VerifyError::Checkpoint(e),
        A::Cosignature(e) => VerifyError::Cosignature(e),
        A::Rollback {
            pinned, offered, ..
        } => VerifyError::Rollback { pinned, offered },
        A::SplitView { size, .. } => VerifyError::SplitView { size },
        A::Inconsistent {
            pinned,
            offered,
            error,
            ..
        } => VerifyError::RewrittenHistory {
            pinned,
            offered,
            error,
        },
        other => VerifyError::Follower(other),
    }
}
