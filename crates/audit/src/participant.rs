//! Participant mode (**AUD-11**): a participant, or someone they trust, finds their own
//! entries in the public log with their tag key, and checks the challenges issued to
//! them against their own schedule.
//!
//! The participant's tag for epoch `e` is `HMAC-SHA-256(tag_key, "minimis/v1 tag\n" ||
//! pseudonym || e)` (**ENR-3**): the auditor recomputes it for each epoch the log names
//! and keeps the entries that carry it (resolutions of their rows and the purge of their
//! ledger included), then the accesses, refusals, holds, purges and destructions that
//! concern the records of those entries. The tag key and the
//! pseudonym never appear in the output (**AUD-10**).

use std::collections::{BTreeSet, HashMap, HashSet};

use minimis_crypto::TagKey;
use minimis_log::LogEntry;
use minimis_proto::{
    ChallengeKind, EpochId, ParticipantTag, Pseudonym, RecordId, Schedule, Slot, UnixTime,
    WindowSpan,
};
use serde::Serialize;

use crate::checks::Violation;

/// A participant, as participant mode knows them: their tag key and pseudonym, and
/// optionally their schedule. `Debug` shows neither secret.
pub struct Participant {
    tag_key: TagKey,
    pseudonym: Pseudonym,
    schedule: Option<Schedule>,
}

impl Participant {
    /// The participant with this tag key and pseudonym.
    pub fn new(tag_key: TagKey, pseudonym: Pseudonym) -> Self {
        Self {
            tag_key,
            pseudonym,
            schedule: None,
        }
    }

    /// The same participant, whose challenges are checked against `schedule`.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }
}

/// Why participant mode's inputs were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParticipantParseError {
    /// The tag key is not 64 hexadecimal characters.
    #[error("a tag key is 64 hexadecimal characters (32 bytes)")]
    TagKey,
    /// The pseudonym is not 32 lowercase hexadecimal characters.
    #[error("a pseudonym is 32 lowercase hexadecimal characters (16 bytes)")]
    Pseudonym,
}

impl Participant {
    /// The participant whose tag key and pseudonym are these hexadecimal strings (as
    /// the participant's device shows them).
    ///
    /// # Errors
    /// A [`ParticipantParseError`] naming the bad one; the message holds neither value.
    pub fn from_hex(tag_key: &str, pseudonym: &str) -> Result<Self, ParticipantParseError> {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(tag_key.trim(), key.as_mut_slice())
            .map_err(|_| ParticipantParseError::TagKey)?;
        let pseudonym: Pseudonym = pseudonym
            .trim()
            .parse()
            .map_err(|_| ParticipantParseError::Pseudonym)?;
        Ok(Self::new(TagKey::from_bytes(key), pseudonym))
    }
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant")
            .field("tag_key", &self.tag_key)
            .field("schedule", &self.schedule.is_some())
            .finish_non_exhaustive()
    }
}

/// One of the participant's entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParticipantEntry {
    /// Its index in the log.
    pub index: u64,
    /// Its type, for example `challenge-issued`.
    pub entry: &'static str,
    /// The epoch it concerns (a legal hold names records, not an epoch).
    pub epoch: Option<EpochId>,
    /// The time it carries, if any (issue time, destruction or purge time).
    pub time: Option<UnixTime>,
    /// What it says, in words.
    pub detail: String,
}

/// What participant mode found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParticipantReport {
    /// The participant's entries, in log order.
    pub entries: Vec<ParticipantEntry>,
    /// Challenges issued to them.
    pub challenges: u64,
    /// Their check-ins received.
    pub check_ins: u64,
    /// Accesses to their content (one per custodian entry).
    pub accesses: u64,
    /// Refusals of access to their content.
    pub denials: u64,
    /// Whether the challenges were checked against their schedule.
    pub schedule_checked: bool,
    /// The challenges their schedule does not admit.
    pub violations: Vec<Violation>,
}

/// Follows the participant through the log.
pub(crate) struct Tracker<'a> {
    participant: &'a Participant,
    tags: HashMap<EpochId, ParticipantTag>,
    records: HashSet<RecordId>,
    epochs: BTreeSet<EpochId>,
    slots: Vec<(u64, Slot, WindowSpan)>,
    report: ParticipantReport,
}

fn short(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(participant: &'a Participant) -> Self {
        Self {
            participant,
            tags: HashMap::new(),
            records: HashSet::new(),
            epochs: BTreeSet::new(),
            slots: Vec::new(),
            report: ParticipantReport {
                entries: Vec::new(),
                challenges: 0,
                check_ins: 0,
                accesses: 0,
                denials: 0,
                schedule_checked: participant.schedule.is_some(),
                violations: Vec::new(),
            },
        }
    }

    fn is_mine(&mut self, tag: &ParticipantTag, epoch: EpochId) -> bool {
        let p = self.participant;
        let mine = self
            .tags
            .entry(epoch)
            .or_insert_with(|| p.tag_key.tag(&p.pseudonym, epoch));
        mine == tag
    }

    fn push(
        &mut self,
        index: u64,
        entry: &LogEntry,
        epoch: impl Into<Option<EpochId>>,
        time: Option<UnixTime>,
        detail: String,
    ) {
        self.report.entries.push(ParticipantEntry {
            index,
            entry: entry.entry_type().as_str(),
            epoch: epoch.into(),
            time,
            detail,
        });
    }

    fn mine_of(&self, records: &[RecordId]) -> usize {
        records.iter().filter(|r| self.records.contains(*r)).count()
    }

    pub(crate) fn observe(&mut self, index: u64, entry: &LogEntry) {
        match entry {
            LogEntry::EnrollmentOpened { tag, epoch, policy } if self.is_mine(tag, *epoch) => {
                self.epochs.insert(*epoch);
                self.push(index, entry, *epoch, None, format!("under policy {policy}"));
            }
            LogEntry::EnrollmentClosed { tag, epoch } if self.is_mine(tag, *epoch) => {
                self.epochs.insert(*epoch);
                self.push(index, entry, *epoch, None, String::new());
            }
            LogEntry::ChallengeIssued {
                tag,
                challenge,
                epoch,
                kind,
                issued_at,
                window,
            } if self.is_mine(tag, *epoch) => {
                self.epochs.insert(*epoch);
                self.report.challenges += 1;
                self.slots.push((
                    index,
                    Slot {
                        at: *issued_at,
                        kind: *kind,
                    },
                    *window,
                ));
                let kind = match kind {
                    ChallengeKind::Scheduled => "scheduled",
                    ChallengeKind::AdHoc => "ad hoc",
                };
                self.push(
                    index,
                    entry,
                    *epoch,
                    Some(*issued_at),
                    format!(
                        "{kind} challenge {}…, window {} to {}",
                        short(challenge.as_bytes()),
                        window.start,
                        window.end
                    ),
                );
            }
            LogEntry::CheckInReceived {
                tag,
                record,
                challenge,
                epoch,
            } if self.is_mine(tag, *epoch) => {
                self.epochs.insert(*epoch);
                self.report.check_ins += 1;
                self.records.insert(*record);
                self.push(
                    index,
                    entry,
                    *epoch,
                    None,
                    format!(
                        "record {}… answering challenge {}…",
                        short(record.as_bytes()),
                        short(challenge.as_bytes())
                    ),
                );
            }
            LogEntry::RowResolved {
                tag,
                challenge,
                epoch,
                resolution,
                reason,
            } if self.is_mine(tag, *epoch) => {
                self.push(
                    index,
                    entry,
                    *epoch,
                    None,
                    format!(
                        "the row of challenge {}… resolved {resolution} ({reason})",
                        short(challenge.as_bytes())
                    ),
                );
            }
            LogEntry::LedgerPurged {
                tag,
                epoch,
                purged_at,
            } if self.is_mine(tag, *epoch) => {
                self.push(
                    index,
                    entry,
                    *epoch,
                    Some(*purged_at),
                    "my ledger, schedule, pseudonym and keys deleted by the operator".to_owned(),
                );
            }
            LogEntry::ContentAccessed(a) => {
                let mine = self.mine_of(a.records.as_slice());
                if mine > 0 {
                    self.report.accesses += 1;
                    self.push(
                        index,
                        entry,
                        a.epoch,
                        None,
                        format!(
                            "{mine} of my records opened at {} for officer {}, purpose {}, legal basis {}",
                            a.custodian, a.officer, a.purpose, a.legal_basis
                        ),
                    );
                }
            }
            LogEntry::AccessDenied { access: a, reason } => {
                let mine = self.mine_of(a.records.as_slice());
                if mine > 0 {
                    self.report.denials += 1;
                    self.push(
                        index,
                        entry,
                        a.epoch,
                        None,
                        format!(
                            "{mine} of my records: {} refused officer {} ({reason})",
                            a.custodian, a.officer
                        ),
                    );
                }
            }
            LogEntry::LegalHoldPlaced(h) | LogEntry::LegalHoldReleased(h) => {
                let mine = self.mine_of(h.records.as_slice());
                if mine > 0 {
                    self.push(
                        index,
                        entry,
                        None,
                        Some(h.expires),
                        format!(
                            "{mine} of my records, legal basis {}, until {}",
                            h.legal_basis, h.expires
                        ),
                    );
                }
            }
            LogEntry::RecordsPurged {
                epoch, purged_at, ..
            } if self.epochs.contains(epoch) => {
                self.push(
                    index,
                    entry,
                    *epoch,
                    Some(*purged_at),
                    "the epoch's records deleted".to_owned(),
                );
            }
            LogEntry::EpochKeyDestroyed {
                custodian,
                epoch,
                destroyed_at,
            } if self.epochs.contains(epoch) => {
                self.push(
                    index,
                    entry,
                    *epoch,
                    Some(*destroyed_at),
                    format!("{custodian} destroyed the epoch's key"),
                );
            }
            _ => {}
        }
    }

    /// Checks the challenges against the schedule, in the order they were issued: each
    /// one against all those issued before it (`Schedule::admits`, CHL-2 to CHL-4).
    pub(crate) fn finish(mut self) -> ParticipantReport {
        if let Some(schedule) = &self.participant.schedule {
            self.slots.sort_by_key(|(index, slot, _)| (slot.at, *index));
            let mut prior: Vec<Slot> = Vec::with_capacity(self.slots.len());
            for (index, slot, window) in &self.slots {
                match schedule.admits(&prior, *slot) {
                    Ok(span) if span != *window => self
                        .report
                        .violations
                        .push(Violation::WindowNotInSchedule { index: *index }),
                    Ok(_) => {}
                    Err(v) => self.report.violations.push(Violation::OutsideSchedule {
                        index: *index,
                        issued_at: slot.at,
                        rule: v.code(),
                    }),
                }
                prior.push(*slot);
            }
        }
        self.report
    }
}
