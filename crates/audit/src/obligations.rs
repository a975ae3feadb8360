//! The program's obligations, checked from the log alone (`spec/audit.md`, **AUD-43** to
//! **AUD-47**; `spec/obligations.md`, **OBL-7**, **OBL-10**, **OBL-14**, **OBL-15**,
//! **OBL-17**).
//!
//! The log's obligations entries (`0x10` to `0x17`) carry days, review ids and filing ids,
//! never a participant's name: what an auditor can check is that each deadline of the
//! policy's `[obligations]` table was kept, and that the case system's counts agree with
//! what the log shows. A deadline not yet reached is not a violation; one passed without
//! its step is, as of the audit's time.
//!
//! When the log publishes more than one policy with an `[obligations]` table, each
//! deadline is checked against the longest of them (the most permissive), as
//! the `checks` module does for the caps.

use std::collections::BTreeMap;

use minimis_log::LogEntry;
use minimis_log::obligation_entry::{ConditionsSummary, ObligationEntry};
use minimis_proto::obligations::{AppealOutcome, day_of};
use minimis_proto::{EpochId, FilingId, Policy, ReviewId, UnixTime};
use serde::Serialize;

use crate::checks::Violation;

const DAY: i64 = 86_400;

/// The deadlines, in days, the log is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Deadlines {
    /// `obligations.acknowledge_days` (OBL-10).
    pub acknowledge_days: u32,
    /// `obligations.decide_days` (OBL-14).
    pub decide_days: u32,
    /// `obligations.contest_days` (OBL-15).
    pub contest_days: u32,
    /// `obligations.appeal_days` (OBL-15).
    pub appeal_days: u32,
}

impl Deadlines {
    /// The most permissive deadlines of the policies that have an `[obligations]` table;
    /// `None` when none has.
    pub fn of<'p>(policies: impl IntoIterator<Item = &'p Policy>) -> Option<Self> {
        policies
            .into_iter()
            .filter_map(Policy::obligations)
            .map(|o| Self {
                acknowledge_days: o.acknowledge_days(),
                decide_days: o.decide_days(),
                contest_days: o.contest_days(),
                appeal_days: o.appeal_days(),
            })
            .reduce(|a, b| Self {
                acknowledge_days: a.acknowledge_days.max(b.acknowledge_days),
                decide_days: a.decide_days.max(b.decide_days),
                contest_days: a.contest_days.max(b.contest_days),
                appeal_days: a.appeal_days.max(b.appeal_days),
            })
    }
}

/// What the log shows of reviews and appeals (**AUD-47**, **OBL-17**): the figures the
/// issue asks an auditor to report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObligationCounts {
    /// The deadlines checked against; `None`: no published policy has an
    /// `[obligations]` table, and no deadline was checked.
    pub deadlines: Option<Deadlines>,
    /// `filing received` entries.
    pub filings: u64,
    /// Of those, acknowledged (`filing acknowledged`).
    pub filings_acknowledged: u64,
    /// `delivery acknowledged` entries.
    pub deliveries_acknowledged: u64,
    /// `review opened` entries.
    pub reviews_opened: u64,
    /// Reviews decided.
    pub reviews_decided: u64,
    /// Days from opening to decision, summed over the reviews decided (their mean is
    /// this over `reviews_decided`).
    pub decision_days_total: u64,
    /// The longest time to a decision, in days.
    pub decision_days_max: u64,
    /// Decisions contested.
    pub contested: u64,
    /// Appeals decided.
    pub appeals_decided: u64,
    /// Appeals decided `overturned`.
    pub overturned: u64,
    /// Epochs with a `conditions summary`.
    pub conditions_summaries: u64,
    /// Check-ins received in epochs with a conditions summary whose condition result the
    /// case system did not count as opened: those of enrollments not under conditions, or
    /// results the operator did not deliver (the log does not say which, OBL-41).
    pub check_ins_without_result: u64,
}

impl ObligationCounts {
    /// The share of decisions contested, in percent (0 when none was decided).
    pub fn share_contested_percent(&self) -> u64 {
        percent(self.contested, self.reviews_decided)
    }

    /// The share of appeals decided `overturned`, in percent (0 when none was decided).
    pub fn share_overturned_percent(&self) -> u64 {
        percent(self.overturned, self.appeals_decided)
    }
}

/// The summary line of an obligations check in the report.
pub(crate) fn summary(id: crate::CheckId, c: Option<&ObligationCounts>) -> String {
    use crate::CheckId;
    let Some(c) = c else {
        return String::new();
    };
    let against = match c.deadlines {
        None => "; no policy with an [obligations] table to check deadlines against".to_owned(),
        Some(d) => match id {
            CheckId::FilingsAcknowledged => format!("; within {} days", d.acknowledge_days),
            CheckId::ReviewsDecided => format!("; within {} days", d.decide_days),
            CheckId::AppealsDecided => format!(
                "; contests within {} days, appeals within {}",
                d.contest_days, d.appeal_days
            ),
            _ => String::new(),
        },
    };
    match id {
        CheckId::FilingsAcknowledged => format!(
            "{} filings, {} acknowledged, {} deliveries acknowledged{against}",
            c.filings, c.filings_acknowledged, c.deliveries_acknowledged
        ),
        CheckId::ReviewsDecided => format!(
            "{} reviews, {} decided, mean {} days, longest {}{against}",
            c.reviews_opened,
            c.reviews_decided,
            c.decision_days_total
                .checked_div(c.reviews_decided)
                .unwrap_or(0),
            c.decision_days_max
        ),
        CheckId::AppealsDecided => format!(
            "{} contested ({}%), {} appeals decided, {} overturned ({}%){against}",
            c.contested,
            c.share_contested_percent(),
            c.appeals_decided,
            c.overturned,
            c.share_overturned_percent()
        ),
        _ => format!(
            "{} epochs summarized, {} check-ins without a result",
            c.conditions_summaries, c.check_ins_without_result
        ),
    }
}

fn percent(n: u64, of: u64) -> u64 {
    (n * 100).checked_div(of).unwrap_or(0)
}

#[derive(Clone, Copy, Debug, Default)]
struct Steps {
    opened: Option<(u64, EpochId, UnixTime)>,
    decided: Option<(u64, UnixTime)>,
    contested: Option<(u64, UnixTime)>,
    appeal: Option<(u64, UnixTime, AppealOutcome)>,
}

/// Follows the obligations entries in log order.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    filings: BTreeMap<FilingId, (u64, UnixTime, Option<UnixTime>)>,
    reviews: BTreeMap<ReviewId, Steps>,
    summaries: Vec<(u64, ConditionsSummary)>,
    /// `check-in received` entries by the epoch they name.
    check_ins: BTreeMap<EpochId, u64>,
    /// `missed` of the operator's epoch summary, by epoch.
    missed: BTreeMap<EpochId, u32>,
    counts: ObligationCounts,
    violations: Vec<Violation>,
    seen: bool,
}

impl Tracker {
    /// Sees one entry, in log order.
    pub(crate) fn observe(&mut self, index: u64, entry: &LogEntry) {
        match entry {
            LogEntry::CheckInReceived { epoch, .. } => {
                *self.check_ins.entry(*epoch).or_default() += 1;
            }
            LogEntry::EpochSummary(s) => {
                self.missed.insert(s.epoch, s.missed);
            }
            LogEntry::Obligation(o) => {
                self.seen = true;
                self.obligation(index, o);
            }
            _ => {}
        }
    }

    fn unexplained(&mut self, index: u64, review: ReviewId, step: &'static str) {
        self.violations.push(Violation::ReviewStepUnexplained {
            index,
            review,
            step,
        });
    }

    fn obligation(&mut self, index: u64, o: &ObligationEntry) {
        match o {
            ObligationEntry::ConditionsSummary(s) => self.summaries.push((index, *s)),
            ObligationEntry::FilingReceived { filing, day, .. } => {
                self.counts.filings += 1;
                self.filings.entry(*filing).or_insert((index, *day, None));
            }
            ObligationEntry::FilingAcknowledged { filing, day } => {
                match self.filings.get_mut(filing) {
                    Some((_, _, acked @ None)) => *acked = Some(*day),
                    _ => self.violations.push(Violation::AcknowledgementUnexplained {
                        index,
                        filing: *filing,
                    }),
                }
            }
            ObligationEntry::DeliveryAcknowledged { .. } => {
                self.counts.deliveries_acknowledged += 1;
            }
            ObligationEntry::ReviewOpened {
                review, epoch, day, ..
            } => {
                let steps = self.reviews.entry(*review).or_default();
                if steps.opened.is_some() {
                    self.unexplained(index, *review, "opened twice");
                } else {
                    steps.opened = Some((index, *epoch, *day));
                }
            }
            ObligationEntry::ReviewDecided { review, day, .. } => {
                let steps = self.reviews.entry(*review).or_default();
                if steps.opened.is_none() {
                    self.unexplained(index, *review, "decided, never opened");
                } else if steps.decided.is_some() {
                    self.unexplained(index, *review, "decided twice");
                } else {
                    steps.decided = Some((index, *day));
                }
            }
            ObligationEntry::DecisionContested { review, day } => {
                let steps = self.reviews.entry(*review).or_default();
                if steps.decided.is_none() {
                    self.unexplained(index, *review, "contested, never decided");
                } else if steps.contested.is_some() {
                    self.unexplained(index, *review, "contested twice");
                } else {
                    steps.contested = Some((index, *day));
                }
            }
            ObligationEntry::AppealDecided {
                review,
                outcome,
                day,
                ..
            } => {
                let steps = self.reviews.entry(*review).or_default();
                if steps.contested.is_none() {
                    self.unexplained(index, *review, "appeal decided, never contested");
                } else if steps.appeal.is_some() {
                    self.unexplained(index, *review, "appeal decided twice");
                } else {
                    steps.appeal = Some((index, *day, *outcome));
                }
            }
            _ => {}
        }
    }

    /// The violations and the counts, as of `now`; `None` for the counts when the log
    /// has no obligations entry at all (a log from before them, or a program without a
    /// case system): the report then shows nothing of them.
    pub(crate) fn finish(
        mut self,
        deadlines: Option<Deadlines>,
        now: UnixTime,
    ) -> (Vec<Violation>, Option<ObligationCounts>) {
        if !self.seen {
            return (self.violations, None);
        }
        let today = day_of(now);
        self.counts.deadlines = deadlines;
        let by = |from: UnixTime, days: u32| from.plus(i64::from(days) * DAY);
        // AUD-43: filings acknowledged within acknowledge_days.
        for (&filing, &(index, received, acked)) in &self.filings {
            if acked.is_some() {
                self.counts.filings_acknowledged += 1;
            }
            let Some(d) = deadlines else { continue };
            let deadline = by(received, d.acknowledge_days);
            let late = match acked {
                Some(a) => a > deadline,
                None => today > deadline,
            };
            if late {
                self.violations
                    .push(Violation::FilingNotAcknowledgedInTime {
                        index,
                        filing,
                        received,
                        deadline,
                        acknowledged: acked,
                    });
            }
        }
        // AUD-44, AUD-45: decisions and appeals within their days; contests within theirs.
        for (&review, steps) in &self.reviews {
            let Some((index, _, opened)) = steps.opened else {
                continue;
            };
            self.counts.reviews_opened += 1;
            if let Some((_, decided)) = steps.decided {
                self.counts.reviews_decided += 1;
                let days = u64::try_from((decided.seconds() - opened.seconds()) / DAY).unwrap_or(0);
                self.counts.decision_days_total += days;
                self.counts.decision_days_max = self.counts.decision_days_max.max(days);
            }
            if steps.contested.is_some() {
                self.counts.contested += 1;
            }
            if let Some((_, _, outcome)) = steps.appeal {
                self.counts.appeals_decided += 1;
                if outcome == AppealOutcome::Overturned {
                    self.counts.overturned += 1;
                }
            }
            let Some(d) = deadlines else { continue };
            let deadline = by(opened, d.decide_days);
            let decided = steps.decided.map(|(_, day)| day);
            if decided.map_or(today > deadline, |day| day > deadline) {
                self.violations.push(Violation::ReviewNotDecidedInTime {
                    index,
                    review,
                    opened,
                    deadline,
                    decided,
                });
            }
            if let (Some((_, decided)), Some((cindex, contested))) =
                (steps.decided, steps.contested)
            {
                let window = by(decided, d.contest_days);
                if contested > window {
                    self.violations.push(Violation::ContestOutOfWindow {
                        index: cindex,
                        review,
                        decided,
                        deadline: window,
                        contested,
                    });
                }
                let deadline = by(contested, d.appeal_days);
                let appeal = steps.appeal.map(|(_, day, _)| day);
                if appeal.map_or(today > deadline, |day| day > deadline) {
                    self.violations.push(Violation::AppealNotDecidedInTime {
                        index: cindex,
                        review,
                        contested,
                        deadline,
                        decided: appeal,
                    });
                }
            }
        }
        // AUD-46: the case system's counts against the log's.
        for &(index, s) in &self.summaries {
            self.counts.conditions_summaries += 1;
            let received = self.check_ins.get(&s.epoch).copied().unwrap_or(0);
            if u64::from(s.opened) > received {
                self.violations.push(Violation::ConditionsMoreThanCheckIns {
                    index,
                    epoch: s.epoch,
                    opened: s.opened,
                    check_ins: received,
                });
            } else {
                self.counts.check_ins_without_result += received - u64::from(s.opened);
            }
            // Every result with a condition not met or not checked, and every missed row,
            // has a review (OBL-6): at least the larger of the two dimensions' counts.
            let area = u64::from(s.area[2]) + u64::from(s.area[3]);
            let presence = u64::from(s.presence[2]) + u64::from(s.presence[3]);
            let missed = u64::from(self.missed.get(&s.epoch).copied().unwrap_or(0));
            let at_least = area.max(presence) + missed;
            if u64::from(s.reviews) < at_least {
                self.violations.push(Violation::ConditionsTooFewReviews {
                    index,
                    epoch: s.epoch,
                    reviews: s.reviews,
                    at_least,
                });
            }
        }
        (self.violations, Some(self.counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_log::EpochSummary;
    use minimis_proto::ParticipantTag;
    use minimis_proto::obligations::{Addressee, Decision, ReasonId, ReviewCause};

    const D0: UnixTime = UnixTime(1_795_392_000);

    fn day(n: i64) -> UnixTime {
        D0.plus(n * DAY)
    }

    fn deadlines() -> Deadlines {
        Deadlines {
            acknowledge_days: 2,
            decide_days: 14,
            contest_days: 30,
            appeal_days: 30,
        }
    }

    fn run(entries: &[ObligationEntry], now: UnixTime) -> (Vec<Violation>, ObligationCounts) {
        let mut t = Tracker::default();
        for (i, e) in entries.iter().enumerate() {
            t.observe(i as u64, &LogEntry::Obligation(e.clone()));
        }
        let (v, c) = t.finish(Some(deadlines()), now);
        (v, c.unwrap())
    }

    fn filing(n: u8, d: i64) -> ObligationEntry {
        ObligationEntry::FilingReceived {
            tag: ParticipantTag::from_bytes([n; 32]),
            filing: FilingId::from_bytes([n; 32]),
            addressee: Addressee::Agency,
            day: day(d),
        }
    }

    fn ack(n: u8, d: i64) -> ObligationEntry {
        ObligationEntry::FilingAcknowledged {
            filing: FilingId::from_bytes([n; 32]),
            day: day(d),
        }
    }

    fn opened(n: u8, d: i64) -> ObligationEntry {
        ObligationEntry::ReviewOpened {
            review: ReviewId::from_bytes([n; 16]),
            epoch: EpochId::new(3),
            cause: ReviewCause::Condition,
            day: day(d),
        }
    }

    fn decided(n: u8, d: i64) -> ObligationEntry {
        ObligationEntry::ReviewDecided {
            review: ReviewId::from_bytes([n; 16]),
            decision: Decision::NotExcused,
            reason: ReasonId::new("not-explained").unwrap(),
            day: day(d),
        }
    }

    fn contested(n: u8, d: i64) -> ObligationEntry {
        ObligationEntry::DecisionContested {
            review: ReviewId::from_bytes([n; 16]),
            day: day(d),
        }
    }

    fn appeal(n: u8, d: i64, outcome: AppealOutcome) -> ObligationEntry {
        ObligationEntry::AppealDecided {
            review: ReviewId::from_bytes([n; 16]),
            outcome,
            reason: ReasonId::new("explained-by-participant").unwrap(),
            day: day(d),
        }
    }

    #[test]
    fn aud_43_a_filing_acknowledged_late_or_not_at_all_past_its_deadline_is_reported() {
        // 1 on time, 2 late, 3 never and overdue, 4 never and not yet due.
        let entries = [
            filing(1, 0),
            ack(1, 2),
            filing(2, 0),
            ack(2, 3),
            filing(3, 0),
            filing(4, 9),
            ack(9, 9),
        ];
        let (v, c) = run(&entries, day(10));
        let late: Vec<FilingId> = v
            .iter()
            .filter_map(|v| match v {
                Violation::FilingNotAcknowledgedInTime { filing, .. } => Some(*filing),
                _ => None,
            })
            .collect();
        assert_eq!(
            late,
            vec![FilingId::from_bytes([2; 32]), FilingId::from_bytes([3; 32])]
        );
        assert!(v.contains(&Violation::AcknowledgementUnexplained {
            index: 6,
            filing: FilingId::from_bytes([9; 32])
        }));
        assert_eq!((c.filings, c.filings_acknowledged), (4, 2));
        // Not acknowledged, on its last day: not late yet; the day after, late.
        let (v, _) = run(&[filing(3, 0)], day(2));
        assert!(v.is_empty(), "{v:?}");
        let (v, _) = run(&[filing(3, 0)], day(3));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn aud_44_aud_45_aud_47_decisions_and_appeals_past_their_days_are_reported_with_the_shares() {
        let entries = [
            // 1: decided on day 14 (in time), contested, appeal overturned on day 44.
            opened(1, 0),
            decided(1, 14),
            contested(1, 14),
            appeal(1, 44, AppealOutcome::Overturned),
            // 2: decided on day 15 (late), not contested.
            opened(2, 0),
            decided(2, 15),
            // 3: never decided, opened on day 0: overdue on day 60.
            opened(3, 0),
            // 4: decided, contested on day 31 after decision (out of window), appeal
            // upheld late.
            opened(4, 0),
            decided(4, 1),
            contested(4, 32),
            appeal(4, 63, AppealOutcome::Upheld),
            // Steps the log cannot explain.
            decided(5, 2),
            contested(6, 2),
        ];
        let (v, c) = run(&entries, day(60));
        let undecided: Vec<_> = v
            .iter()
            .filter_map(|v| match v {
                Violation::ReviewNotDecidedInTime {
                    review, decided, ..
                } => Some((*review, *decided)),
                _ => None,
            })
            .collect();
        assert_eq!(
            undecided,
            vec![
                (ReviewId::from_bytes([2; 16]), Some(day(15))),
                (ReviewId::from_bytes([3; 16]), None)
            ]
        );
        assert!(v.iter().any(|v| matches!(
            v,
            Violation::ContestOutOfWindow { review, .. } if *review == ReviewId::from_bytes([4; 16])
        )));
        let appeals: Vec<_> = v
            .iter()
            .filter_map(|v| match v {
                Violation::AppealNotDecidedInTime { review, .. } => Some(*review),
                _ => None,
            })
            .collect();
        assert_eq!(appeals, vec![ReviewId::from_bytes([4; 16])]);
        assert_eq!(
            v.iter()
                .filter(|v| matches!(v, Violation::ReviewStepUnexplained { .. }))
                .count(),
            2
        );
        assert_eq!(
            (
                c.reviews_opened,
                c.reviews_decided,
                c.contested,
                c.appeals_decided,
                c.overturned
            ),
            (4, 3, 2, 2, 1)
        );
        assert_eq!((c.decision_days_total, c.decision_days_max), (30, 15));
        assert_eq!(
            (c.share_contested_percent(), c.share_overturned_percent()),
            (66, 50)
        );
    }

    #[test]
    fn aud_46_a_conditions_summary_is_checked_against_the_check_ins_and_the_missed_rows() {
        let mut t = Tracker::default();
        let e = EpochId::new(3);
        let mut index = 0;
        let mut push = |t: &mut Tracker, entry: LogEntry| {
            t.observe(index, &entry);
            index += 1;
        };
        for n in 0..3u8 {
            push(
                &mut t,
                LogEntry::CheckInReceived {
                    tag: ParticipantTag::from_bytes([n; 32]),
                    record: minimis_proto::RecordId::from_bytes([n; 32]),
                    challenge: minimis_proto::ChallengeId::from_bytes([n; 16]),
                    epoch: e,
                },
            );
        }
        push(
            &mut t,
            LogEntry::EpochSummary(EpochSummary {
                epoch: e,
                issued: 4,
                on_time: 3,
                late: 0,
                missed: 1,
                reports: minimis_log::entry::FailureCounts::default(),
            }),
        );
        let summary = |opened: u32, reviews: u32| {
            LogEntry::Obligation(ObligationEntry::ConditionsSummary(ConditionsSummary {
                epoch: e,
                opened,
                area: [0, opened - 1, 1, 0],
                presence: [opened, 0, 0, 0],
                reviews,
            }))
        };
        // Consistent: 2 results of 3 check-ins (one enrollment not under conditions), one
        // area not met and one missed row: 2 reviews.
        let mut ok = Tracker {
            check_ins: t.check_ins.clone(),
            missed: t.missed.clone(),
            ..Tracker::default()
        };
        ok.observe(10, &summary(2, 2));
        let (v, c) = ok.finish(Some(deadlines()), day(0));
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(c.unwrap().check_ins_without_result, 1);
        // More results than check-ins, and too few reviews.
        push(&mut t, summary(4, 1));
        let (v, _) = t.finish(Some(deadlines()), day(0));
        assert_eq!(
            v,
            vec![
                Violation::ConditionsMoreThanCheckIns {
                    index: 4,
                    epoch: e,
                    opened: 4,
                    check_ins: 3
                },
                Violation::ConditionsTooFewReviews {
                    index: 4,
                    epoch: e,
                    reviews: 1,
                    at_least: 2
                }
            ]
        );
    }

    #[test]
    fn aud_47_a_log_without_obligations_entries_reports_none() {
        let t = Tracker::default();
        let (v, c) = t.finish(Some(deadlines()), day(0));
        assert!(v.is_empty());
        assert!(c.is_none());
    }
}
