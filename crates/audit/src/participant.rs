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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use minimis_crypto::TagKey;
use minimis_log::LogEntry;
use minimis_proto::{
    ChallengeKind, EpochId, ParticipantTag, Pseudonym, RecordId, Schedule, ScheduleViolation, Slot,
    UnixTime, WindowSpan,
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
    /// one against all those issued before it, as `Schedule::admits` does (CHL-2 to
    /// CHL-4), in time linear in the challenges ([`ScheduleCheck`], AUD-32).
    pub(crate) fn finish(mut self) -> ParticipantReport {
        if let Some(schedule) = &self.participant.schedule {
            self.slots.sort_by_key(|(index, slot, _)| (slot.at, *index));
            let mut check = ScheduleCheck::new(schedule);
            for (index, slot, window) in &self.slots {
                match check.admit(*slot) {
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
            }
        }
        self.report
    }
}

/// `Schedule::admits` for challenges given in the order they were issued (by time), each
/// against all those before it, in `O(log n)` each instead of `O(n)` (**AUD-32**): a
/// malicious operator that issues a participant thousands of challenges cannot make the
/// participant's audit quadratic. The same rules, in the same order (a test holds it to
/// `Schedule::admits` on random sequences):
///
/// 1. outside every window: `outside_window`;
/// 2. a scheduled challenge when one was already issued in its window:
///    `scheduled_already_issued`;
/// 3. the day's cap reached (every challenge of the same local date counts):
///    `daily_cap_reached`;
/// 4. an ad-hoc challenge when the cap of ad-hoc ones in the 30 days before it is
///    reached: `adhoc_cap_reached`.
pub(crate) struct ScheduleCheck<'s> {
    schedule: &'s Schedule,
    /// The schedule's time zone, for local dates; `None` if it cannot be loaded (never
    /// for a valid schedule): then each challenge is checked with `Schedule::admits`.
    tz: Option<jiff::tz::TimeZone>,
    /// The times of the scheduled challenges so far, counted.
    scheduled: BTreeMap<UnixTime, u32>,
    /// The challenges so far per local date.
    per_day: HashMap<Option<jiff::civil::Date>, u32>,
    /// The times of the ad-hoc challenges within 30 days of the last one.
    adhoc: VecDeque<UnixTime>,
    /// Every challenge so far, when the time zone cannot be loaded.
    prior: Vec<Slot>,
}

/// Thirty days, as `Schedule::admits` counts ad-hoc challenges (CHL-4).
const THIRTY_DAYS: i64 = 30 * 86_400;

impl<'s> ScheduleCheck<'s> {
    pub(crate) fn new(schedule: &'s Schedule) -> Self {
        Self {
            schedule,
            tz: jiff::tz::TimeZone::get(schedule.time_zone()).ok(),
            scheduled: BTreeMap::new(),
            per_day: HashMap::new(),
            adhoc: VecDeque::new(),
            prior: Vec::new(),
        }
    }

    fn local_date(tz: &jiff::tz::TimeZone, t: UnixTime) -> Option<jiff::civil::Date> {
        let ts = jiff::Timestamp::from_second(t.seconds()).ok()?;
        Some(tz.to_datetime(ts).date())
    }

    /// Whether the schedule admits `candidate` after every challenge given before, which
    /// must not be later than it. `candidate` then counts as given.
    pub(crate) fn admit(&mut self, candidate: Slot) -> Result<WindowSpan, ScheduleViolation> {
        let Some(tz) = self.tz.clone() else {
            let result = self.schedule.admits(&self.prior, candidate);
            self.prior.push(candidate);
            return result;
        };
        let day = Self::local_date(&tz, candidate.at);
        // Ad-hoc challenges more than 30 days before this one no longer count.
        let since = candidate.at.plus(-THIRTY_DAYS);
        while self.adhoc.front().is_some_and(|&t| t <= since) {
            self.adhoc.pop_front();
        }
        let result = (|| {
            let span = self
                .schedule
                .window_at(candidate.at)
                .ok_or(ScheduleViolation::OutsideWindow)?;
            if candidate.kind == ChallengeKind::Scheduled
                && self.scheduled.range(span.start..span.end).next().is_some()
            {
                return Err(ScheduleViolation::ScheduledAlreadyIssued);
            }
            let cap = self.schedule.daily_cap();
            if self.per_day.get(&day).copied().unwrap_or(0) >= u32::from(cap) {
                return Err(ScheduleViolation::DailyCapReached { cap });
            }
            let cap = self.schedule.adhoc_cap_30d();
            if candidate.kind == ChallengeKind::AdHoc && self.adhoc.len() >= usize::from(cap) {
                return Err(ScheduleViolation::AdHocCapReached { cap });
            }
            Ok(span)
        })();
        match candidate.kind {
            ChallengeKind::Scheduled => *self.scheduled.entry(candidate.at).or_default() += 1,
            ChallengeKind::AdHoc => self.adhoc.push_back(candidate.at),
        }
        *self.per_day.entry(day).or_default() += 1;
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use minimis_proto::{Weekday, Window};
    use proptest::prelude::*;

    use super::*;

    fn schedule(tz: &str, daily: u8, adhoc: u8) -> Schedule {
        let at = |h: u8, m: u8| minimis_proto::LocalTime::new(h, m).unwrap();
        Schedule::new(
            tz,
            vec![
                Window {
                    weekday: Weekday::Monday,
                    start: at(9, 0),
                    end: at(12, 0),
                },
                Window {
                    weekday: Weekday::Monday,
                    start: at(13, 0),
                    end: at(17, 0),
                },
                Window {
                    weekday: Weekday::Wednesday,
                    start: at(0, 0),
                    end: at(24, 0),
                },
                Window {
                    weekday: Weekday::Sunday,
                    start: at(1, 0),
                    end: at(3, 30),
                },
            ],
            daily,
            adhoc,
        )
        .unwrap()
    }

    #[test]
    fn aud_32_aud_11_the_linear_schedule_check_finds_every_rule_as_admits_does() {
        // A Wednesday (2026-03-04, UTC): scheduled twice in a window, the daily cap, the
        // ad-hoc cap; then outside every window.
        let schedule = schedule("UTC", 3, 2);
        let wednesday = 1_772_582_400; // 2026-03-04T00:00:00Z
        let mut check = ScheduleCheck::new(&schedule);
        let mut prior = Vec::new();
        let mut seen = HashSet::new();
        for (offset, kind) in [
            (3_600, ChallengeKind::Scheduled),
            (7_200, ChallengeKind::Scheduled),
            (7_300, ChallengeKind::AdHoc),
            (7_400, ChallengeKind::AdHoc),
            (7_500, ChallengeKind::AdHoc),
            (86_400 + 3_600, ChallengeKind::AdHoc),
        ] {
            let slot = Slot {
                at: UnixTime(wednesday + offset),
                kind,
            };
            let got = check.admit(slot);
            assert_eq!(got, schedule.admits(&prior, slot));
            seen.insert(got.map_or_else(|v| v.code(), |_| "ok"));
            prior.push(slot);
        }
        let mut seen: Vec<_> = seen.into_iter().collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            [
                "daily_cap_reached",
                "ok",
                "outside_window",
                "scheduled_already_issued"
            ]
        );
        // The ad-hoc cap, across days within 30 days.
        let mut check = ScheduleCheck::new(&schedule);
        let mut prior = Vec::new();
        let mut results = Vec::new();
        for week in 0..4 {
            let slot = Slot {
                at: UnixTime(wednesday + week * 7 * 86_400 + 3_600),
                kind: ChallengeKind::AdHoc,
            };
            let got = check.admit(slot);
            assert_eq!(got, schedule.admits(&prior, slot));
            results.push(got.map_or_else(|v| v.code(), |_| "ok"));
            prior.push(slot);
        }
        assert_eq!(
            results,
            ["ok", "ok", "adhoc_cap_reached", "adhoc_cap_reached"]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// AUD-32: the linear check says exactly what `Schedule::admits` says, for any
        /// sequence of challenges: bursts, equal times, gaps of more than 30 days,
        /// daylight-saving changes (America/New_York in March and November 2026).
        #[test]
        fn aud_32_aud_11_the_linear_schedule_check_is_schedule_admits(
            tz in prop::sample::select(vec!["UTC", "America/New_York", "Asia/Kolkata"]),
            daily in 2u8..5,
            adhoc in 0u8..6,
            start in prop::sample::select(vec![1_772_000_000i64, 1_773_000_000, 1_793_000_000]),
            steps in prop::collection::vec((0i64..4, 0i64..200_000, any::<bool>()), 1..120),
        ) {
            let schedule = schedule(tz, daily, adhoc);
            let mut check = ScheduleCheck::new(&schedule);
            let mut prior = Vec::new();
            let mut at = start;
            for (jump, step, is_adhoc) in steps {
                // Mostly small steps; now and then a jump of weeks.
                at += if jump == 0 { step * 30 } else { step / 64 };
                let slot = Slot {
                    at: UnixTime(at),
                    kind: if is_adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled },
                };
                prop_assert_eq!(check.admit(slot), schedule.admits(&prior, slot));
                prior.push(slot);
            }
        }
    }
}
