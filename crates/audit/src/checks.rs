//! The policy claims, checked from the entries in one pass (**AUD-4** to **AUD-9**).
//!
//! [`Checker::observe`] sees every entry in log order; checks that depend on what came
//! before (a purpose allowed by a policy published earlier, an access after a
//! destruction, an oversight access after the agency's) are made there. Checks that
//! need the whole log (caps per epoch, deadlines) are made by [`Checker::finish`].
//!
//! When the log publishes more than one policy, the log does not say which enrollment a
//! challenge or a record belongs to (tags change every epoch), so each claim is checked
//! against the most permissive of the policies published: a claim that fails under it
//! fails under all of them. With one policy, as usual, the check is exact.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use minimis_log::entry::{
    Access, CustodianId, HoldId, LegalBasisId, LegalHold, OfficerId, PurposeId, RecordSet,
    RecordSetHash,
};
use minimis_log::{EntryType, EpochSummary, LogEntry};
use minimis_proto::{
    ChallengeId, ChallengeKind, CustodianRole, EpochId, ParticipantTag, Policy, PolicyHash,
    RecordId, UnixTime, WindowSpan,
};
use serde::Serialize;

use crate::participant::Tracker;

/// The longest a window occurrence can last: a local day of 25 hours, when a
/// daylight-saving change repeats an hour (a window is at most `00:00` to `24:00`).
pub const MAX_WINDOW_SECONDS: i64 = 25 * 3600;

/// The most local calendar days an epoch of `days` days can touch, whatever the time
/// zone: one more at each end when the epoch does not start at local midnight is at
/// most one more in all (the two partial days add up to one), and a 23-hour
/// daylight-saving day inside it can add one more.
pub const fn local_days_in_epoch(days: u32) -> u32 {
    days + 2
}

/// A named check: a row of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CheckId {
    /// Challenges within the schedule caps (AUD-4).
    Challenges,
    /// Keys destroyed by their deadline (AUD-5).
    KeysDestroyed,
    /// Records purged by their deadline (AUD-5).
    RecordsPurged,
    /// Closed enrollments' ledgers purged by their deadline (AUD-5, RET-20).
    LedgersPurged,
    /// Accesses name an allowed purpose and legal basis, by a named custodian (AUD-6).
    AccessJustified,
    /// An oversight access follows the agency's (AUD-6).
    AccessOrder,
    /// No access after destruction (AUD-6).
    NoAccessAfterDestruction,
    /// Enrollments cite a published policy (AUD-8).
    Enrollments,
    /// Legal holds (AUD-9).
    LegalHolds,
    /// The operator's epoch summaries agree with the log (CHK-28, LOG-37).
    EpochSummaries,
    /// The participant's challenges against their own schedule (AUD-11).
    ParticipantSchedule,
    /// Filings acknowledged within `obligations.acknowledge_days` (AUD-43).
    FilingsAcknowledged,
    /// Reviews decided within `obligations.decide_days`, each step in order (AUD-44).
    ReviewsDecided,
    /// Contests within `obligations.contest_days`, appeals decided within
    /// `obligations.appeal_days` (AUD-45).
    AppealsDecided,
    /// The case system's conditions summaries against the log's counts (AUD-46).
    ConditionsSummaries,
}

impl CheckId {
    /// The checks of every run, in report order (participant mode adds
    /// [`CheckId::ParticipantSchedule`]).
    pub const POLICY: [Self; 10] = [
        Self::Challenges,
        Self::KeysDestroyed,
        Self::RecordsPurged,
        Self::LedgersPurged,
        Self::AccessJustified,
        Self::AccessOrder,
        Self::NoAccessAfterDestruction,
        Self::Enrollments,
        Self::LegalHolds,
        Self::EpochSummaries,
    ];

    /// The obligations' checks, added to a run whose log has obligations entries
    /// (**AUD-43** to **AUD-46**).
    pub const OBLIGATIONS: [Self; 4] = [
        Self::FilingsAcknowledged,
        Self::ReviewsDecided,
        Self::AppealsDecided,
        Self::ConditionsSummaries,
    ];

    /// What it checks, in words.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Challenges => "challenges within the schedule caps",
            Self::KeysDestroyed => "keys destroyed by their deadline",
            Self::RecordsPurged => "records purged by their deadline",
            Self::LedgersPurged => "ledgers purged by their deadline",
            Self::AccessJustified => "accesses name an allowed purpose",
            Self::AccessOrder => "oversight opens after the agency",
            Self::NoAccessAfterDestruction => "no access after destruction",
            Self::Enrollments => "enrollments cite a published policy",
            Self::LegalHolds => "legal holds as placed and released",
            Self::EpochSummaries => "epoch summaries agree with the log",
            Self::ParticipantSchedule => "my challenges within my schedule",
            Self::FilingsAcknowledged => "filings acknowledged in time",
            Self::ReviewsDecided => "reviews decided in time",
            Self::AppealsDecided => "contests and appeals in time",
            Self::ConditionsSummaries => "conditions summaries agree with the log",
        }
    }

    /// The requirement IDs it enforces.
    pub const fn requirements(self) -> &'static [&'static str] {
        match self {
            Self::Challenges => &["AUD-4", "CHL-2", "CHL-3", "CHL-4"],
            Self::KeysDestroyed => &["AUD-5", "RET-1"],
            Self::RecordsPurged => &["AUD-5", "LOG-30"],
            Self::LedgersPurged => &["AUD-5", "RET-20"],
            Self::AccessJustified => &["AUD-6", "ACC-2"],
            Self::AccessOrder => &["AUD-6", "ACC-7"],
            Self::NoAccessAfterDestruction => &["AUD-6", "RET-2"],
            Self::Enrollments => &["AUD-8", "POL-12"],
            Self::LegalHolds => &["AUD-9"],
            Self::EpochSummaries => &["AUD-7", "CHK-28", "LOG-37"],
            Self::ParticipantSchedule => &["AUD-11", "CHL-2", "CHL-3", "CHL-4"],
            Self::FilingsAcknowledged => &["AUD-43", "OBL-10"],
            Self::ReviewsDecided => &["AUD-44", "OBL-14", "OBL-17"],
            Self::AppealsDecided => &["AUD-45", "OBL-15"],
            Self::ConditionsSummaries => &["AUD-46", "OBL-7"],
        }
    }
}

/// A violated policy claim, with the entry or the tag and epoch it concerns. Nothing
/// here is more than the log holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Violation {
    /// AUD-4: a challenge issued outside the window it names (CHL-2).
    #[error("entry {index}: challenge issued at {issued_at}, outside its window {start} to {end}")]
    ChallengeOutsideWindow {
        /// The entry.
        index: u64,
        /// When it was issued.
        issued_at: UnixTime,
        /// The window's start.
        start: UnixTime,
        /// The window's end.
        end: UnixTime,
    },
    /// AUD-4: a window longer than any local day.
    #[error("entry {index}: a challenge window of {seconds} seconds, longer than a local day")]
    WindowTooLong {
        /// The entry.
        index: u64,
        /// Its length.
        seconds: i64,
    },
    /// AUD-4: a challenge that names another epoch than the one it was issued in.
    #[error("entry {index}: challenge issued at {issued_at} names epoch {epoch}, not its own")]
    ChallengeInWrongEpoch {
        /// The entry.
        index: u64,
        /// The epoch named.
        epoch: EpochId,
        /// When it was issued.
        issued_at: UnixTime,
    },
    /// AUD-4: more than one scheduled challenge in one window occurrence (CHL-2).
    #[error(
        "tag {tag}, epoch {epoch}: {count} scheduled challenges in the window opening {start}; at most 1"
    )]
    ScheduledTwiceInWindow {
        /// The participant's tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
        /// The window's start.
        start: UnixTime,
        /// How many.
        count: u32,
    },
    /// AUD-4: more challenges in one window occurrence than a day allows (CHL-3).
    #[error(
        "tag {tag}, epoch {epoch}: {count} challenges in the window opening {start}; at most {cap}"
    )]
    TooManyInWindow {
        /// The participant's tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
        /// The window's start.
        start: UnixTime,
        /// How many.
        count: u32,
        /// The policy's daily cap.
        cap: u32,
    },
    /// AUD-4: two different windows of one participant that overlap, which no schedule
    /// produces.
    #[error("tag {tag}, epoch {epoch}: the windows opening {first} and {second} overlap")]
    OverlappingWindows {
        /// The participant's tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
        /// The first window's start.
        first: UnixTime,
        /// The second window's start.
        second: UnixTime,
    },
    /// AUD-4: more challenges in one epoch than any schedule under the policy allows.
    #[error("tag {tag}, epoch {epoch}: {count} challenges; at most {cap} in an epoch")]
    TooManyInEpoch {
        /// The participant's tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
        /// How many.
        count: u32,
        /// The most the policy allows.
        cap: u32,
    },
    /// AUD-4: more ad-hoc challenges in one epoch than the 30-day cap (CHL-4).
    #[error("tag {tag}, epoch {epoch}: {count} ad-hoc challenges; at most {cap}")]
    TooManyAdHoc {
        /// The participant's tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
        /// How many.
        count: u32,
        /// The policy's cap.
        cap: u32,
    },
    /// AUD-5: a custodian never logged the destruction of an epoch's key.
    #[error("epoch {epoch}: custodian {custodian} logged no key destruction; deadline {deadline}")]
    KeyNotDestroyed {
        /// The custodian.
        custodian: String,
        /// The epoch.
        epoch: EpochId,
        /// The deadline.
        deadline: UnixTime,
    },
    /// AUD-5: a key destroyed after its deadline.
    #[error(
        "entry {index}: custodian {custodian} destroyed the key of epoch {epoch} at {destroyed_at}, after the deadline {deadline}"
    )]
    KeyDestroyedLate {
        /// The entry.
        index: u64,
        /// The custodian.
        custodian: String,
        /// The epoch.
        epoch: EpochId,
        /// The deadline.
        deadline: UnixTime,
        /// When it was destroyed.
        destroyed_at: UnixTime,
    },
    /// AUD-5: records of an epoch past its deadline, not purged and not on hold.
    #[error("epoch {epoch}: {count} records not purged; deadline {deadline}")]
    RecordsNotPurged {
        /// The epoch.
        epoch: EpochId,
        /// The deadline.
        deadline: UnixTime,
        /// How many records.
        count: u64,
    },
    /// AUD-5: a `check-in received` entry naming a record an earlier one already named
    /// (a record's id is the hash of its envelope, CHK-12, and a challenge is answered
    /// once): it is not counted again.
    #[error("entry {index}: the record of entry {first_index} is received again")]
    RecordLoggedTwice {
        /// The entry.
        index: u64,
        /// The first entry that named the record.
        first_index: u64,
    },
    /// AUD-5: a purge after the deadline of records it removed.
    #[error("entry {index}: epoch {epoch} purged at {purged_at}, after the deadline {deadline}")]
    PurgedLate {
        /// The entry.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// The deadline.
        deadline: UnixTime,
        /// When it was purged.
        purged_at: UnixTime,
    },
    /// AUD-5: a purge whose record set is not the epoch's records that were due (the
    /// check-ins logged for the epoch, less those on hold and those purged before).
    #[error(
        "entry {index}: the purge of epoch {epoch} names {count} records, not the {expected} that were due"
    )]
    PurgeMismatch {
        /// The entry.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// How many were due.
        expected: u64,
        /// How many the entry says.
        count: u64,
    },
    /// AUD-5: a closed enrollment whose ledger deadline passed with no `ledger purged`
    /// entry for its tag and epoch (RET-20).
    #[error(
        "tag {tag}, epoch {epoch}: the enrollment closed and its ledger was not purged; deadline {deadline}"
    )]
    LedgerNotPurged {
        /// The tag of the `enrollment closed` entry.
        tag: ParticipantTag,
        /// The epoch it closed in.
        epoch: EpochId,
        /// The deadline: the end of that epoch plus `retention.ledger_days`.
        deadline: UnixTime,
    },
    /// AUD-5: a ledger purged after its deadline (RET-20).
    #[error(
        "entry {index}: tag {tag}, epoch {epoch}: ledger purged at {purged_at}, after the deadline {deadline}"
    )]
    LedgerPurgedLate {
        /// The entry.
        index: u64,
        /// The tag.
        tag: ParticipantTag,
        /// The epoch the enrollment closed in.
        epoch: EpochId,
        /// The deadline.
        deadline: UnixTime,
        /// When it was purged.
        purged_at: UnixTime,
    },
    /// AUD-5: a `ledger purged` entry that no earlier `enrollment closed` entry with the
    /// same tag and epoch explains, or a second one for the same enrollment.
    #[error(
        "entry {index}: ledger purged for tag {tag}, epoch {epoch}, which closed no enrollment still to purge"
    )]
    LedgerPurgeUnexplained {
        /// The entry.
        index: u64,
        /// The tag.
        tag: ParticipantTag,
        /// The epoch.
        epoch: EpochId,
    },
    /// CHK-28, LOG-37: a summary whose challenges issued are not the `challenge issued`
    /// entries of its epoch.
    #[error(
        "entry {index}: the summary of epoch {epoch} counts {summary} challenges issued; the log has {log}"
    )]
    SummaryIssuedMismatch {
        /// The summary's entry.
        index: u64,
        /// Its epoch.
        epoch: EpochId,
        /// What it says.
        summary: u64,
        /// What the log holds.
        log: u64,
    },
    /// CHK-28, LOG-37: a summary whose on-time and late rows are not the `check-in
    /// received` entries answering its epoch's challenges.
    #[error(
        "entry {index}: the summary of epoch {epoch} counts {summary} check-ins on time or late; the log has {log}"
    )]
    SummaryCheckInsMismatch {
        /// The summary's entry.
        index: u64,
        /// Its epoch.
        epoch: EpochId,
        /// On time and late, as it says.
        summary: u64,
        /// What the log holds.
        log: u64,
    },
    /// CHK-28, LOG-36: a second summary for one epoch.
    #[error("entry {index}: a second summary of epoch {epoch}; the first is entry {first}")]
    SummaryDuplicate {
        /// The second summary's entry.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// The first one's entry.
        first: u64,
    },
    /// CHK-28, LOG-36: an epoch with challenges and no summary, between two epochs that
    /// have one (the operator summarizes epochs in order, once it has started).
    #[error(
        "epoch {epoch} issued {challenges} challenges and has no summary, though later epochs do"
    )]
    SummaryMissing {
        /// The epoch.
        epoch: EpochId,
        /// Its `challenge issued` entries.
        challenges: u64,
    },
    /// AUD-6: an access whose purpose no published policy allows.
    #[error("entry {index}: purpose `{purpose}` is not allowed by the policy")]
    PurposeNotAllowed {
        /// The entry.
        index: u64,
        /// The purpose.
        purpose: String,
    },
    /// AUD-6: an access whose legal basis no published policy allows.
    #[error("entry {index}: legal basis `{legal_basis}` is not allowed by the policy")]
    LegalBasisNotAllowed {
        /// The entry.
        index: u64,
        /// The legal basis.
        legal_basis: String,
    },
    /// AUD-6: an access by someone the policy does not name as a custodian.
    #[error("entry {index}: `{custodian}` is not a custodian the policy names")]
    UnknownCustodian {
        /// The entry.
        index: u64,
        /// The custodian named.
        custodian: String,
    },
    /// AUD-6: an oversight custodian's access with no earlier agency access for the same
    /// officer, purpose, legal basis, epoch and records (ACC-7).
    #[error("entry {index}: the oversight custodian opened content the agency had not logged")]
    OversightWithoutAgency {
        /// The entry.
        index: u64,
    },
    /// AUD-6: an access to an epoch after a custodian logged the destruction of its key.
    #[error(
        "entry {index}: access to epoch {epoch} after its key was destroyed (entry {destroyed_index})"
    )]
    AccessAfterDestruction {
        /// The entry.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// The destruction entry.
        destroyed_index: u64,
    },
    /// AUD-8: an enrollment that cites a policy not published before it.
    #[error("entry {index}: the enrollment cites policy {policy}, not published before it")]
    PolicyNotPublished {
        /// The entry.
        index: u64,
        /// The policy cited.
        policy: PolicyHash,
    },
    /// AUD-8: a challenge, access or hold before any policy was published.
    #[error("entry {index}: a {entry} before any policy was published")]
    NoPolicyYet {
        /// The entry.
        index: u64,
        /// Its type.
        entry: &'static str,
    },
    /// AUD-8: a log with entries and no published policy.
    #[error("the log publishes no policy")]
    NoPolicyPublished,
    /// AUD-9: a hold whose legal basis no published policy allows.
    #[error(
        "entry {index}: hold under legal basis `{legal_basis}`, which the policy does not allow"
    )]
    HoldBasisNotAllowed {
        /// The entry.
        index: u64,
        /// The legal basis.
        legal_basis: String,
    },
    /// AUD-9: a hold id placed twice.
    #[error("entry {index}: hold placed again (first placed at entry {first_index})")]
    HoldPlacedTwice {
        /// The entry.
        index: u64,
        /// The first placement.
        first_index: u64,
    },
    /// AUD-9: a release of a hold never placed.
    #[error("entry {index}: release of a hold that was never placed")]
    HoldReleaseUnknown {
        /// The entry.
        index: u64,
    },
    /// AUD-9: a release that differs from the hold as placed.
    #[error("entry {index}: release differs from the hold placed at entry {placed_index}")]
    HoldReleaseMismatch {
        /// The entry.
        index: u64,
        /// The placement.
        placed_index: u64,
    },
    /// AUD-9: a hold released twice.
    #[error("entry {index}: hold released again (first released at entry {first_index})")]
    HoldReleasedTwice {
        /// The entry.
        index: u64,
        /// The first release.
        first_index: u64,
    },
    /// AUD-11: a challenge to the participant that their schedule does not admit.
    #[error("entry {index}: challenge at {issued_at} breaks my schedule ({rule})")]
    OutsideSchedule {
        /// The entry.
        index: u64,
        /// When it was issued.
        issued_at: UnixTime,
        /// The rule broken, as `Schedule::admits` names it.
        rule: &'static str,
    },
    /// AUD-11: a challenge whose window is not the participant's window occurrence.
    #[error("entry {index}: the challenge names a window my schedule does not have")]
    WindowNotInSchedule {
        /// The entry.
        index: u64,
    },
    /// AUD-43: a filing acknowledged after `obligations.acknowledge_days`, or not at all
    /// once they passed (OBL-10).
    #[error(
        "entry {index}: filing {filing} received {received}, due to be acknowledged by {deadline}, acknowledged {}",
        .acknowledged.map_or_else(|| "never".to_owned(), |d| d.to_string())
    )]
    FilingNotAcknowledgedInTime {
        /// Its `filing received` entry.
        index: u64,
        /// The filing.
        filing: minimis_proto::FilingId,
        /// The day received.
        received: UnixTime,
        /// The last day to acknowledge it.
        deadline: UnixTime,
        /// The day acknowledged, if it was.
        acknowledged: Option<UnixTime>,
    },
    /// AUD-43: an acknowledgement of a filing the log never received, or acknowledged
    /// twice.
    #[error("entry {index}: filing {filing} acknowledged, never received or acknowledged before")]
    AcknowledgementUnexplained {
        /// The entry.
        index: u64,
        /// The filing.
        filing: minimis_proto::FilingId,
    },
    /// AUD-44: a review decided after `obligations.decide_days`, or not at all once they
    /// passed (OBL-14).
    #[error(
        "entry {index}: review {review} opened {opened}, due to be decided by {deadline}, decided {}",
        .decided.map_or_else(|| "never".to_owned(), |d| d.to_string())
    )]
    ReviewNotDecidedInTime {
        /// Its `review opened` entry.
        index: u64,
        /// The review.
        review: minimis_proto::ReviewId,
        /// The day opened.
        opened: UnixTime,
        /// The last day to decide it.
        deadline: UnixTime,
        /// The day decided, if it was.
        decided: Option<UnixTime>,
    },
    /// AUD-44: a review step the log cannot explain: decided without being opened,
    /// contested without a decision, an appeal without a contest, or a step twice
    /// (OBL-17).
    #[error("entry {index}: review {review} {step}")]
    ReviewStepUnexplained {
        /// The entry.
        index: u64,
        /// The review.
        review: minimis_proto::ReviewId,
        /// What is out of order.
        step: &'static str,
    },
    /// AUD-45: a contest logged after `obligations.contest_days` from the decision.
    #[error(
        "entry {index}: review {review} decided {decided}, contestable until {deadline}, contested {contested}"
    )]
    ContestOutOfWindow {
        /// The `decision contested` entry.
        index: u64,
        /// The review.
        review: minimis_proto::ReviewId,
        /// The day decided.
        decided: UnixTime,
        /// The last day to contest.
        deadline: UnixTime,
        /// The day contested.
        contested: UnixTime,
    },
    /// AUD-45: an appeal decided after `obligations.appeal_days`, or not at all once they
    /// passed (OBL-15): an oversight body that stalls.
    #[error(
        "entry {index}: review {review} contested {contested}, appeal due by {deadline}, decided {}",
        .decided.map_or_else(|| "never".to_owned(), |d| d.to_string())
    )]
    AppealNotDecidedInTime {
        /// The `decision contested` entry.
        index: u64,
        /// The review.
        review: minimis_proto::ReviewId,
        /// The day contested.
        contested: UnixTime,
        /// The last day to decide the appeal.
        deadline: UnixTime,
        /// The day decided, if it was.
        decided: Option<UnixTime>,
    },
    /// AUD-46: a conditions summary counting more results opened than the epoch's
    /// `check-in received` entries (OBL-7).
    #[error(
        "entry {index}: epoch {epoch}: {opened} condition results opened, {check_ins} check-ins received"
    )]
    ConditionsMoreThanCheckIns {
        /// The summary.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// Results opened, as the case system says.
        opened: u32,
        /// Check-ins the log received for the epoch.
        check_ins: u64,
    },
    /// AUD-46: fewer reviews than the results with a condition not met or not checked
    /// and the operator's missed rows require (OBL-6, OBL-7).
    #[error("entry {index}: epoch {epoch}: {reviews} reviews opened, at least {at_least} required")]
    ConditionsTooFewReviews {
        /// The summary.
        index: u64,
        /// The epoch.
        epoch: EpochId,
        /// Reviews, as the case system says.
        reviews: u32,
        /// The least the counts require.
        at_least: u64,
    },
}

impl Violation {
    /// The check it breaks.
    pub fn check(&self) -> CheckId {
        match self {
            Self::ChallengeOutsideWindow { .. }
            | Self::WindowTooLong { .. }
            | Self::ChallengeInWrongEpoch { .. }
            | Self::ScheduledTwiceInWindow { .. }
            | Self::TooManyInWindow { .. }
            | Self::OverlappingWindows { .. }
            | Self::TooManyInEpoch { .. }
            | Self::TooManyAdHoc { .. } => CheckId::Challenges,
            Self::KeyNotDestroyed { .. } | Self::KeyDestroyedLate { .. } => CheckId::KeysDestroyed,
            Self::RecordsNotPurged { .. }
            | Self::RecordLoggedTwice { .. }
            | Self::PurgedLate { .. }
            | Self::PurgeMismatch { .. } => CheckId::RecordsPurged,
            Self::LedgerNotPurged { .. }
            | Self::LedgerPurgedLate { .. }
            | Self::LedgerPurgeUnexplained { .. } => CheckId::LedgersPurged,
            Self::PurposeNotAllowed { .. }
            | Self::LegalBasisNotAllowed { .. }
            | Self::UnknownCustodian { .. } => CheckId::AccessJustified,
            Self::OversightWithoutAgency { .. } => CheckId::AccessOrder,
            Self::AccessAfterDestruction { .. } => CheckId::NoAccessAfterDestruction,
            Self::PolicyNotPublished { .. }
            | Self::NoPolicyYet { .. }
            | Self::NoPolicyPublished => CheckId::Enrollments,
            Self::HoldBasisNotAllowed { .. }
            | Self::HoldPlacedTwice { .. }
            | Self::HoldReleaseUnknown { .. }
            | Self::HoldReleaseMismatch { .. }
            | Self::HoldReleasedTwice { .. } => CheckId::LegalHolds,
            Self::SummaryIssuedMismatch { .. }
            | Self::SummaryCheckInsMismatch { .. }
            | Self::SummaryDuplicate { .. }
            | Self::SummaryMissing { .. } => CheckId::EpochSummaries,
            Self::OutsideSchedule { .. } | Self::WindowNotInSchedule { .. } => {
                CheckId::ParticipantSchedule
            }
            Self::FilingNotAcknowledgedInTime { .. } | Self::AcknowledgementUnexplained { .. } => {
                CheckId::FilingsAcknowledged
            }
            Self::ReviewNotDecidedInTime { .. } | Self::ReviewStepUnexplained { .. } => {
                CheckId::ReviewsDecided
            }
            Self::ContestOutOfWindow { .. } | Self::AppealNotDecidedInTime { .. } => {
                CheckId::AppealsDecided
            }
            Self::ConditionsMoreThanCheckIns { .. } | Self::ConditionsTooFewReviews { .. } => {
                CheckId::ConditionsSummaries
            }
        }
    }

    /// The requirement it violates (the first of its check's).
    pub fn requirement(&self) -> &'static str {
        self.check().requirements()[0]
    }
}

/// The figures an auditor reports (**AUD-7**), and what the checks covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Entries in the log.
    pub entries: u64,
    /// Entries by type.
    pub by_type: BTreeMap<&'static str, u64>,
    /// Distinct epochs named by any entry.
    pub epochs: u64,
    /// Epochs whose content deadline has passed.
    pub epochs_due: u64,
    /// Closed enrollments whose ledger deadline has passed.
    pub ledgers_due: u64,
    /// Distinct (tag, epoch) pairs that received challenges: participant-epochs.
    pub participant_epochs: u64,
    /// Ad-hoc challenges.
    pub adhoc_challenges: u64,
    /// `content accessed` entries by custodian (a two-custodian access has one per
    /// custodian).
    pub accesses_by_custodian: BTreeMap<String, u64>,
    /// `content accessed` entries by purpose.
    pub accesses_by_purpose: BTreeMap<String, u64>,
    /// `content accessed` entries by legal basis.
    pub accesses_by_legal_basis: BTreeMap<String, u64>,
    /// `content accessed` entries by officer (a role pseudonym, LOG-28).
    pub accesses_by_officer: BTreeMap<String, u64>,
    /// `access denied` entries by reason code.
    pub denials_by_reason: BTreeMap<&'static str, u64>,
    /// Per epoch with challenges or a summary, oldest first: what the log shows and the
    /// operator's summary, if any (CHK-28).
    pub epoch_summaries: Vec<EpochCounts>,
    /// The obligations' figures (AUD-47); `None` when the log has no obligations entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obligations: Option<crate::obligations::ObligationCounts>,
}

/// One epoch's figures (**CHK-28**): what the log itself shows, and the operator's
/// `epoch summary` if it wrote one (logs from before summaries have none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EpochCounts {
    /// The epoch.
    pub epoch: EpochId,
    /// Its `challenge issued` entries.
    pub challenges: u64,
    /// `check-in received` entries answering those challenges (whatever epoch they were
    /// sealed to).
    pub check_ins: u64,
    /// The operator's summary; `None`: no summary.
    pub summary: Option<SummaryCounts>,
}

/// The counts of an `epoch summary` entry, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryCounts {
    /// The entry's index.
    pub index: u64,
    /// Challenges issued.
    pub issued: u32,
    /// Rows on time.
    pub on_time: u32,
    /// Rows late.
    pub late: u32,
    /// Rows missed (pending review at closing).
    pub missed: u32,
    /// Technical-failure reports by category (CHK-23).
    pub failure_reports: BTreeMap<&'static str, u32>,
}

impl Counts {
    /// Entries of type `t`.
    pub fn of(&self, t: EntryType) -> u64 {
        self.by_type.get(t.as_str()).copied().unwrap_or(0)
    }
}

/// The caps a policy puts on one participant-epoch, as the log can check them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Caps {
    /// Challenges in one window occurrence: `schedule.max_checkins_per_day`.
    pub per_window: u32,
    /// Challenges in one epoch: `max_checkins_per_day × (epochs.length_days + 2)`.
    pub per_epoch: u32,
    /// Ad-hoc challenges in one epoch: `schedule.max_adhoc_per_30_days` (an epoch is at
    /// most 28 days).
    pub adhoc_per_epoch: u32,
}

impl Caps {
    /// The caps of `policy`.
    pub fn of(policy: &Policy) -> Self {
        let day = policy.max_checkins_per_day();
        Self {
            per_window: day,
            per_epoch: day.saturating_mul(local_days_in_epoch(policy.epoch_length_days())),
            adhoc_per_epoch: policy.max_adhoc_per_30_days(),
        }
    }

    fn max(self, other: Self) -> Self {
        Self {
            per_window: self.per_window.max(other.per_window),
            per_epoch: self.per_epoch.max(other.per_epoch),
            adhoc_per_epoch: self.adhoc_per_epoch.max(other.adhoc_per_epoch),
        }
    }
}

/// One window occurrence of one participant-epoch.
struct WindowCount {
    start: UnixTime,
    end: UnixTime,
    all: u32,
    scheduled: u32,
}

/// One participant-epoch's challenges. The window of each challenge is only recorded
/// here (`O(1)`); the windows are sorted and counted once, at the end (`O(n log n)`), so
/// no number of challenges in one participant-epoch makes the check quadratic (AUD-32).
#[derive(Default)]
struct TagEpoch {
    all: u32,
    adhoc: u32,
    /// Each challenge's window occurrence (start, end) and whether it was scheduled.
    windows: Vec<(UnixTime, UnixTime, bool)>,
}

/// The legal holds on one record (AUD-9): the expiries of those in force (placed and not
/// released), counted, and the latest expiry of any ever placed.
#[derive(Default)]
struct RecordHolds {
    in_force: BTreeMap<UnixTime, u32>,
    latest: Option<UnixTime>,
}

impl RecordHolds {
    /// Until when a hold in force keeps the record: the latest expiry among them.
    fn held_until(&self) -> Option<UnixTime> {
        self.in_force.last_key_value().map(|(t, _)| *t)
    }
}

/// The records of one epoch not yet purged (AUD-5), kept so that a purge costs time in
/// the records it takes and those it looks at for the first time, never again in those
/// a hold keeps (AUD-32).
#[derive(Default)]
struct EpochPending {
    /// Records no purge has looked at yet, in the order received: the next purge takes
    /// those no hold keeps and moves the others to `held`.
    fresh: Vec<RecordId>,
    /// Records a hold kept at a purge, by until when a hold in force keeps them (kept
    /// exact as holds are placed and released: [`Checker::rekey`]).
    held: BTreeSet<(UnixTime, RecordId)>,
}

struct HoldState {
    placed_index: u64,
    hold: LegalHold,
    released_index: Option<u64>,
}

/// What a purge covered, for the deadline check at the end.
struct Purge {
    index: u64,
    epoch: EpochId,
    purged_at: UnixTime,
    /// The earliest hold expiry among the records it removed, if every one of them had
    /// been on hold (a record on hold may be purged up to its hold's expiry).
    held_until: Option<UnixTime>,
}

type AccessKey = (OfficerId, PurposeId, LegalBasisId, EpochId, RecordSet);

/// The policy claims, checked entry by entry.
pub(crate) struct Checker<'a> {
    given: HashMap<PolicyHash, &'a Policy>,
    now: UnixTime,
    /// Published and given, in order of publication.
    published: Vec<&'a Policy>,
    published_hashes: HashSet<PolicyHash>,
    /// Published but not given: the audit cannot check them.
    pub(crate) missing: Vec<PolicyHash>,
    challenges: HashMap<(ParticipantTag, EpochId), TagEpoch>,
    epochs: BTreeSet<EpochId>,
    destructions: HashMap<(CustodianId, EpochId), (u64, UnixTime)>,
    destroyed_epochs: HashMap<EpochId, u64>,
    /// Check-in records not yet purged, by epoch.
    pending: HashMap<EpochId, EpochPending>,
    /// The epoch of each record in an [`EpochPending::held`].
    held_in: HashMap<RecordId, EpochId>,
    /// Every record received, with the entry that received it first.
    received: HashMap<RecordId, u64>,
    purges: Vec<Purge>,
    /// `enrollment closed` entries not yet matched by a `ledger purged`, by tag and
    /// epoch: how many.
    closed: HashMap<(ParticipantTag, EpochId), u32>,
    /// Every `enrollment closed` entry's tag and epoch, for the deadline check.
    closes: Vec<(ParticipantTag, EpochId)>,
    /// `ledger purged` entries that matched a close: index, tag, epoch, time.
    ledger_purges: Vec<(u64, ParticipantTag, EpochId, UnixTime)>,
    holds: HashMap<HoldId, HoldState>,
    /// The holds on each record.
    held: HashMap<RecordId, RecordHolds>,
    agency_accesses: HashMap<AccessKey, u32>,
    /// Every challenge's epoch, to count the check-ins answering an epoch's challenges.
    challenge_epochs: HashMap<ChallengeId, EpochId>,
    /// Per epoch: challenges and the check-ins answering them.
    epoch_rows: BTreeMap<EpochId, (u64, u64)>,
    /// Every `epoch summary` entry, in log order.
    summaries: Vec<(u64, EpochSummary)>,
    counts: Counts,
    violations: Vec<Violation>,
    participant: Option<Tracker<'a>>,
    obligations: crate::obligations::Tracker,
}

impl<'a> Checker<'a> {
    /// The checker of logs under `policies` (given by the user) or `offered` (from a
    /// source not trusted: used only when the log publishes their hash).
    pub(crate) fn new(
        policies: &'a [Policy],
        offered: &'a [Policy],
        now: UnixTime,
        participant: Option<Tracker<'a>>,
    ) -> Self {
        Self {
            given: offered
                .iter()
                .chain(policies)
                .map(|p| (p.hash(), p))
                .collect(),
            now,
            published: Vec::new(),
            published_hashes: HashSet::new(),
            missing: Vec::new(),
            challenges: HashMap::new(),
            epochs: BTreeSet::new(),
            destructions: HashMap::new(),
            destroyed_epochs: HashMap::new(),
            pending: HashMap::new(),
            held_in: HashMap::new(),
            received: HashMap::new(),
            purges: Vec::new(),
            closed: HashMap::new(),
            closes: Vec::new(),
            ledger_purges: Vec::new(),
            holds: HashMap::new(),
            held: HashMap::new(),
            agency_accesses: HashMap::new(),
            challenge_epochs: HashMap::new(),
            epoch_rows: BTreeMap::new(),
            summaries: Vec::new(),
            counts: Counts::default(),
            violations: Vec::new(),
            participant,
            obligations: crate::obligations::Tracker::default(),
        }
    }

    fn needs_policy(&mut self, index: u64, entry: EntryType) -> bool {
        if self.published.is_empty() {
            if self.missing.is_empty() {
                self.violations.push(Violation::NoPolicyYet {
                    index,
                    entry: entry.as_str(),
                });
            }
            false
        } else {
            true
        }
    }

    /// Checks one entry, in log order.
    pub(crate) fn observe(&mut self, index: u64, entry: &LogEntry) {
        let ty = entry.entry_type();
        self.counts.entries += 1;
        *self.counts.by_type.entry(ty.as_str()).or_default() += 1;
        if let Some(p) = self.participant.as_mut() {
            p.observe(index, entry);
        }
        self.obligations.observe(index, entry);
        match entry {
            LogEntry::PolicyPublished { policy } if self.published_hashes.insert(*policy) => {
                match self.given.get(policy) {
                    Some(p) => self.published.push(p),
                    None => self.missing.push(*policy),
                }
            }
            LogEntry::EnrollmentOpened { epoch, policy, .. } => {
                self.epochs.insert(*epoch);
                if !self.published_hashes.contains(policy) {
                    self.violations.push(Violation::PolicyNotPublished {
                        index,
                        policy: *policy,
                    });
                }
            }
            LogEntry::EnrollmentClosed { tag, epoch } => {
                self.epochs.insert(*epoch);
                *self.closed.entry((*tag, *epoch)).or_default() += 1;
                self.closes.push((*tag, *epoch));
            }
            LogEntry::LedgerPurged {
                tag,
                epoch,
                purged_at,
            } => match self.closed.get_mut(&(*tag, *epoch)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    self.ledger_purges.push((index, *tag, *epoch, *purged_at));
                }
                _ => self.violations.push(Violation::LedgerPurgeUnexplained {
                    index,
                    tag: *tag,
                    epoch: *epoch,
                }),
            },
            LogEntry::RowResolved { epoch, .. } => {
                self.epochs.insert(*epoch);
            }
            LogEntry::ChallengeIssued {
                tag,
                challenge,
                epoch,
                kind,
                issued_at,
                window,
            } => {
                self.challenge_epochs.insert(*challenge, *epoch);
                self.epoch_rows.entry(*epoch).or_default().0 += 1;
                self.challenge(index, *tag, *epoch, *kind, *issued_at, *window);
            }
            LogEntry::EpochSummary(s) => self.summaries.push((index, *s)),
            LogEntry::CheckInReceived {
                record,
                epoch,
                challenge,
                ..
            } => {
                self.epochs.insert(*epoch);
                if let Some(&first_index) = self.received.get(record) {
                    self.violations
                        .push(Violation::RecordLoggedTwice { index, first_index });
                } else {
                    self.received.insert(*record, index);
                    if let Some(e) = self.challenge_epochs.get(challenge) {
                        self.epoch_rows.entry(*e).or_default().1 += 1;
                    }
                    self.pending.entry(*epoch).or_default().fresh.push(*record);
                }
            }
            LogEntry::ContentAccessed(a) => self.access(index, a),
            LogEntry::AccessDenied { access, reason } => {
                self.epochs.insert(access.epoch);
                *self
                    .counts
                    .denials_by_reason
                    .entry(reason.as_str())
                    .or_default() += 1;
            }
            LogEntry::RecordsPurged {
                epoch,
                count,
                record_set,
                purged_at,
            } => self.purge(index, *epoch, *count, *record_set, *purged_at),
            LogEntry::EpochKeyDestroyed {
                custodian,
                epoch,
                destroyed_at,
            } => {
                self.epochs.insert(*epoch);
                self.destructions
                    .entry((custodian.clone(), *epoch))
                    .or_insert((index, *destroyed_at));
                self.destroyed_epochs.entry(*epoch).or_insert(index);
            }
            LogEntry::LegalHoldPlaced(h) => self.hold_placed(index, h),
            LogEntry::LegalHoldReleased(h) => self.hold_released(index, h),
            _ => {}
        }
    }

    fn challenge(
        &mut self,
        index: u64,
        tag: ParticipantTag,
        epoch: EpochId,
        kind: ChallengeKind,
        issued_at: UnixTime,
        window: WindowSpan,
    ) {
        self.epochs.insert(epoch);
        if kind == ChallengeKind::AdHoc {
            self.counts.adhoc_challenges += 1;
        }
        if !window.contains(issued_at) {
            self.violations.push(Violation::ChallengeOutsideWindow {
                index,
                issued_at,
                start: window.start,
                end: window.end,
            });
        }
        let seconds = window.end.seconds().saturating_sub(window.start.seconds());
        if seconds > MAX_WINDOW_SECONDS {
            self.violations
                .push(Violation::WindowTooLong { index, seconds });
        }
        if self.needs_policy(index, EntryType::ChallengeIssued)
            && !self
                .published
                .iter()
                .any(|p| p.epoch_at(issued_at) == Some(epoch))
        {
            self.violations.push(Violation::ChallengeInWrongEpoch {
                index,
                epoch,
                issued_at,
            });
        }
        let te = self.challenges.entry((tag, epoch)).or_default();
        te.all = te.all.saturating_add(1);
        if kind == ChallengeKind::AdHoc {
            te.adhoc = te.adhoc.saturating_add(1);
        }
        te.windows
            .push((window.start, window.end, kind == ChallengeKind::Scheduled));
    }

    fn custodian_role(&self, id: &CustodianId) -> Option<CustodianRole> {
        self.published.iter().find_map(|p| {
            p.custodians()
                .iter()
                .find(|c| c.id == id.as_str())
                .map(|c| c.role)
        })
    }

    fn access(&mut self, index: u64, a: &Access) {
        self.epochs.insert(a.epoch);
        for (map, key) in [
            (&mut self.counts.accesses_by_custodian, a.custodian.as_str()),
            (&mut self.counts.accesses_by_purpose, a.purpose.as_str()),
            (
                &mut self.counts.accesses_by_legal_basis,
                a.legal_basis.as_str(),
            ),
            (&mut self.counts.accesses_by_officer, a.officer.as_str()),
        ] {
            match map.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    map.insert(key.to_owned(), 1);
                }
            }
        }
        if let Some(&destroyed_index) = self.destroyed_epochs.get(&a.epoch) {
            self.violations.push(Violation::AccessAfterDestruction {
                index,
                epoch: a.epoch,
                destroyed_index,
            });
        }
        if !self.needs_policy(index, EntryType::ContentAccessed) {
            return;
        }
        if !self
            .published
            .iter()
            .any(|p| p.allows_purpose(a.purpose.as_str()))
        {
            self.violations.push(Violation::PurposeNotAllowed {
                index,
                purpose: a.purpose.to_string(),
            });
        }
        if !self
            .published
            .iter()
            .any(|p| p.allows_legal_basis(a.legal_basis.as_str()))
        {
            self.violations.push(Violation::LegalBasisNotAllowed {
                index,
                legal_basis: a.legal_basis.to_string(),
            });
        }
        let key = (
            a.officer.clone(),
            a.purpose.clone(),
            a.legal_basis.clone(),
            a.epoch,
            a.records.clone(),
        );
        match self.custodian_role(&a.custodian) {
            None => self.violations.push(Violation::UnknownCustodian {
                index,
                custodian: a.custodian.to_string(),
            }),
            Some(CustodianRole::Agency) => *self.agency_accesses.entry(key).or_default() += 1,
            Some(CustodianRole::Oversight) => match self.agency_accesses.get_mut(&key) {
                Some(n) if *n > 0 => *n -= 1,
                _ => self
                    .violations
                    .push(Violation::OversightWithoutAgency { index }),
            },
        }
    }

    /// Whether a hold on `record` is in force at `t`: placed, not released, not expired.
    fn held_at(&self, record: &RecordId, t: UnixTime) -> bool {
        self.held
            .get(record)
            .and_then(RecordHolds::held_until)
            .is_some_and(|until| until > t)
    }

    /// The latest expiry of the holds ever placed on `record`.
    fn hold_expiry(&self, record: &RecordId) -> Option<UnixTime> {
        self.held.get(record).and_then(|h| h.latest)
    }

    /// Moves `record`, if a purge left it on hold, to its place for the holds now in
    /// force on it: until `until`, or back among the records to look at.
    fn rekey(&mut self, record: RecordId, before: Option<UnixTime>, until: Option<UnixTime>) {
        if before == until {
            return;
        }
        let (Some(before), Some(&epoch)) = (before, self.held_in.get(&record)) else {
            return;
        };
        let Some(p) = self.pending.get_mut(&epoch) else {
            return;
        };
        p.held.remove(&(before, record));
        match until {
            Some(until) => {
                p.held.insert((until, record));
            }
            None => {
                self.held_in.remove(&record);
                p.fresh.push(record);
            }
        }
    }

    fn purge(
        &mut self,
        index: u64,
        epoch: EpochId,
        count: u64,
        record_set: RecordSetHash,
        purged_at: UnixTime,
    ) {
        self.epochs.insert(epoch);
        // Due: the records no hold in force keeps past the purge time; the rest stay.
        let EpochPending { fresh, held } = self.pending.remove(&epoch).unwrap_or_default();
        let mut kept = held;
        let mut due = Vec::new();
        for r in fresh {
            match self.held.get(&r).and_then(RecordHolds::held_until) {
                Some(until) if until > purged_at => {
                    kept.insert((until, r));
                    self.held_in.insert(r, epoch);
                }
                _ => due.push(r),
            }
        }
        // Those a hold kept before, whose holds end by the purge time, are due too.
        let mut still = kept.split_off(&(purged_at, RecordId::from_bytes([0xff; 32])));
        if let Some(first) = still.first().copied()
            && first.0 == purged_at
        {
            still.remove(&first);
            kept.insert(first);
        }
        for (_, r) in kept {
            self.held_in.remove(&r);
            due.push(r);
        }
        let expected = RecordSetHash::of(&due);
        if expected != (count, record_set) {
            self.violations.push(Violation::PurgeMismatch {
                index,
                epoch,
                expected: expected.0,
                count,
            });
        }
        if !due.is_empty() {
            let held_until = due
                .iter()
                .map(|r| self.hold_expiry(r))
                .try_fold(UnixTime(i64::MAX), |min, e| e.map(|e| min.min(e)));
            self.purges.push(Purge {
                index,
                epoch,
                purged_at,
                held_until,
            });
        }
        if !still.is_empty() {
            self.pending.insert(
                epoch,
                EpochPending {
                    fresh: Vec::new(),
                    held: still,
                },
            );
        }
    }

    fn hold_placed(&mut self, index: u64, h: &LegalHold) {
        if self.needs_policy(index, EntryType::LegalHoldPlaced)
            && !self
                .published
                .iter()
                .any(|p| p.allows_legal_basis(h.legal_basis.as_str()))
        {
            self.violations.push(Violation::HoldBasisNotAllowed {
                index,
                legal_basis: h.legal_basis.to_string(),
            });
        }
        if let Some(first) = self.holds.get(&h.hold) {
            self.violations.push(Violation::HoldPlacedTwice {
                index,
                first_index: first.placed_index,
            });
            return;
        }
        for r in h.records.as_slice() {
            let holds = self.held.entry(*r).or_default();
            let before = holds.held_until();
            *holds.in_force.entry(h.expires).or_default() += 1;
            holds.latest = Some(holds.latest.map_or(h.expires, |l| l.max(h.expires)));
            let until = holds.held_until();
            self.rekey(*r, before, until);
        }
        self.holds.insert(
            h.hold,
            HoldState {
                placed_index: index,
                hold: h.clone(),
                released_index: None,
            },
        );
    }

    fn hold_released(&mut self, index: u64, h: &LegalHold) {
        let Some(state) = self.holds.get_mut(&h.hold) else {
            self.violations
                .push(Violation::HoldReleaseUnknown { index });
            return;
        };
        if state.hold != *h {
            self.violations.push(Violation::HoldReleaseMismatch {
                index,
                placed_index: state.placed_index,
            });
        } else if let Some(first_index) = state.released_index {
            self.violations
                .push(Violation::HoldReleasedTwice { index, first_index });
        } else {
            state.released_index = Some(index);
            for r in h.records.as_slice() {
                let Some(holds) = self.held.get_mut(r) else {
                    continue;
                };
                let before = holds.held_until();
                if let Some(n) = holds.in_force.get_mut(&h.expires) {
                    *n -= 1;
                    if *n == 0 {
                        holds.in_force.remove(&h.expires);
                    }
                }
                let until = holds.held_until();
                self.rekey(*r, before, until);
            }
        }
    }

    /// The deadline of `epoch` under the most permissive published policy.
    fn deadline(&self, epoch: EpochId) -> Option<UnixTime> {
        self.published
            .iter()
            .map(|p| p.content_deadline(epoch))
            .max()
    }

    /// The ledger deadline of an enrollment closed in `epoch` under the most permissive
    /// published policy: the end of the epoch (the latest it can have closed) plus
    /// `retention.ledger_days` (RET-20).
    fn ledger_deadline(&self, epoch: EpochId) -> Option<UnixTime> {
        self.published
            .iter()
            .map(|p| {
                p.epoch_end(epoch)
                    .plus(i64::from(p.ledger_retention_days()) * 86_400)
            })
            .max()
    }

    /// The checks that need the whole log; then the violations, the counts and the
    /// caps applied.
    /// CHK-28: each summary against the log's own counts; one per epoch; none missing
    /// between two epochs that have one.
    fn summaries_finish(&mut self) {
        let mut first: BTreeMap<EpochId, (u64, EpochSummary)> = BTreeMap::new();
        for &(index, s) in &self.summaries {
            if let Some(&(f, _)) = first.get(&s.epoch) {
                self.violations.push(Violation::SummaryDuplicate {
                    index,
                    epoch: s.epoch,
                    first: f,
                });
            } else {
                first.insert(s.epoch, (index, s));
            }
            let (challenges, check_ins) = self.epoch_rows.get(&s.epoch).copied().unwrap_or((0, 0));
            if u64::from(s.issued) != challenges {
                self.violations.push(Violation::SummaryIssuedMismatch {
                    index,
                    epoch: s.epoch,
                    summary: u64::from(s.issued),
                    log: challenges,
                });
            }
            let answered = u64::from(s.on_time) + u64::from(s.late);
            if answered != check_ins {
                self.violations.push(Violation::SummaryCheckInsMismatch {
                    index,
                    epoch: s.epoch,
                    summary: answered,
                    log: check_ins,
                });
            }
        }
        let span = first
            .keys()
            .next()
            .copied()
            .zip(first.keys().last().copied());
        let mut epochs: BTreeSet<EpochId> = self.epoch_rows.keys().copied().collect();
        epochs.extend(first.keys().copied());
        for epoch in epochs {
            let (challenges, check_ins) = self.epoch_rows.get(&epoch).copied().unwrap_or((0, 0));
            let summary = first.get(&epoch).map(|&(index, s)| SummaryCounts {
                index,
                issued: s.issued,
                on_time: s.on_time,
                late: s.late,
                missed: s.missed,
                failure_reports: s.reports.by_category().into_iter().collect(),
            });
            if summary.is_none()
                && challenges > 0
                && span.is_some_and(|(lo, hi)| lo < epoch && epoch < hi)
            {
                self.violations
                    .push(Violation::SummaryMissing { epoch, challenges });
            }
            self.counts.epoch_summaries.push(EpochCounts {
                epoch,
                challenges,
                check_ins,
                summary,
            });
        }
    }

    pub(crate) fn finish(mut self) -> Findings<'a> {
        let now = self.now;
        let caps = self.published.iter().map(|p| Caps::of(p)).reduce(Caps::max);
        if self.published.is_empty() && self.missing.is_empty() && self.counts.entries > 0 {
            self.violations.push(Violation::NoPolicyPublished);
        }
        // AUD-4: per participant-epoch.
        let mut challenge_violations = Vec::new();
        self.counts.participant_epochs = self.challenges.len() as u64;
        let mut challenges: Vec<_> = std::mem::take(&mut self.challenges).into_iter().collect();
        challenges.sort_unstable_by_key(|((tag, epoch), _)| (*epoch, *tag));
        for ((tag, epoch), mut te) in challenges {
            // The window occurrences, in order of (start, end), with their counts.
            te.windows.sort_unstable();
            let mut windows: Vec<WindowCount> = Vec::new();
            for (start, end, scheduled) in te.windows {
                match windows.last_mut() {
                    Some(w) if w.start == start && w.end == end => {
                        w.all = w.all.saturating_add(1);
                        w.scheduled = w.scheduled.saturating_add(u32::from(scheduled));
                    }
                    _ => windows.push(WindowCount {
                        start,
                        end,
                        all: 1,
                        scheduled: u32::from(scheduled),
                    }),
                }
            }
            for w in &windows {
                let start = w.start;
                if w.scheduled > 1 {
                    challenge_violations.push(Violation::ScheduledTwiceInWindow {
                        tag,
                        epoch,
                        start,
                        count: w.scheduled,
                    });
                }
                if let Some(c) = caps
                    && w.all > c.per_window
                {
                    challenge_violations.push(Violation::TooManyInWindow {
                        tag,
                        epoch,
                        start,
                        count: w.all,
                        cap: c.per_window,
                    });
                }
            }
            for pair in windows.windows(2) {
                if pair[1].start < pair[0].end {
                    challenge_violations.push(Violation::OverlappingWindows {
                        tag,
                        epoch,
                        first: pair[0].start,
                        second: pair[1].start,
                    });
                }
            }
            if let Some(c) = caps {
                if te.all > c.per_epoch {
                    challenge_violations.push(Violation::TooManyInEpoch {
                        tag,
                        epoch,
                        count: te.all,
                        cap: c.per_epoch,
                    });
                }
                if te.adhoc > c.adhoc_per_epoch {
                    challenge_violations.push(Violation::TooManyAdHoc {
                        tag,
                        epoch,
                        count: te.adhoc,
                        cap: c.adhoc_per_epoch,
                    });
                }
            }
        }
        self.violations.extend(challenge_violations);

        // AUD-5: every custodian every policy names, for every epoch past its deadline.
        let mut custodians: Option<BTreeSet<&str>> = None;
        for p in &self.published {
            let ids: BTreeSet<&str> = p.custodians().iter().map(|c| c.id.as_str()).collect();
            custodians = Some(match custodians {
                None => ids,
                Some(prev) => prev.intersection(&ids).copied().collect(),
            });
        }
        let custodians = custodians.unwrap_or_default();
        let mut due = 0u64;
        let mut late = Vec::new();
        for &epoch in &self.epochs {
            let Some(deadline) = self.deadline(epoch) else {
                continue;
            };
            if deadline >= now {
                continue;
            }
            due += 1;
            for &c in &custodians {
                let Ok(id) = CustodianId::new(c) else {
                    continue;
                };
                match self.destructions.get(&(id, epoch)) {
                    None => late.push(Violation::KeyNotDestroyed {
                        custodian: c.to_owned(),
                        epoch,
                        deadline,
                    }),
                    Some(&(index, destroyed_at)) if destroyed_at > deadline => {
                        late.push(Violation::KeyDestroyedLate {
                            index,
                            custodian: c.to_owned(),
                            epoch,
                            deadline,
                            destroyed_at,
                        });
                    }
                    Some(_) => {}
                }
            }
            let not_purged = self.pending.get(&epoch).map_or(0, |p| {
                p.fresh
                    .iter()
                    .chain(p.held.iter().map(|(_, r)| r))
                    .filter(|r| {
                        !self.held_at(r, now) && self.hold_expiry(r).is_none_or(|until| until < now)
                    })
                    .count() as u64
            });
            if not_purged > 0 {
                late.push(Violation::RecordsNotPurged {
                    epoch,
                    deadline,
                    count: not_purged,
                });
            }
        }
        for p in &self.purges {
            let Some(deadline) = self.deadline(p.epoch) else {
                continue;
            };
            let deadline = p.held_until.map_or(deadline, |h| deadline.max(h));
            if p.purged_at > deadline {
                late.push(Violation::PurgedLate {
                    index: p.index,
                    epoch: p.epoch,
                    deadline,
                    purged_at: p.purged_at,
                });
            }
        }
        self.violations.extend(late);

        // AUD-5, RET-20: every closed enrollment's ledger, by its deadline.
        let mut ledgers = Vec::new();
        let mut ledgers_due = 0u64;
        for &(_, epoch) in &self.closes {
            if self.ledger_deadline(epoch).is_some_and(|d| d < now) {
                ledgers_due += 1;
            }
        }
        let mut unmatched: Vec<(ParticipantTag, EpochId, u32)> = self
            .closed
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|((t, e), n)| (*t, *e, *n))
            .collect();
        unmatched.sort_by_key(|(t, e, _)| (*e, *t));
        for (tag, epoch, n) in unmatched {
            let Some(deadline) = self.ledger_deadline(epoch) else {
                continue;
            };
            if deadline < now {
                for _ in 0..n {
                    ledgers.push(Violation::LedgerNotPurged {
                        tag,
                        epoch,
                        deadline,
                    });
                }
            }
        }
        for &(index, tag, epoch, purged_at) in &self.ledger_purges {
            let Some(deadline) = self.ledger_deadline(epoch) else {
                continue;
            };
            if purged_at > deadline {
                ledgers.push(Violation::LedgerPurgedLate {
                    index,
                    tag,
                    epoch,
                    deadline,
                    purged_at,
                });
            }
        }
        self.violations.extend(ledgers);
        self.summaries_finish();
        let deadlines = crate::obligations::Deadlines::of(self.published.iter().copied());
        let (found, obligations) = std::mem::take(&mut self.obligations).finish(deadlines, now);
        self.violations.extend(found);
        self.counts.obligations = obligations;
        self.counts.ledgers_due = ledgers_due;
        self.counts.epochs = self.epochs.len() as u64;
        self.counts.epochs_due = due;
        let participant = self.participant.map(|t| t.finish());
        let mut violations = self.violations;
        if let Some(p) = &participant {
            violations.extend(p.violations.iter().cloned());
        }
        Findings {
            violations,
            counts: self.counts,
            caps,
            custodians: custodians.into_iter().map(str::to_owned).collect(),
            published: self.published,
            missing: self.missing,
            participant,
        }
    }
}

/// What the checks found.
pub(crate) struct Findings<'a> {
    pub(crate) violations: Vec<Violation>,
    pub(crate) counts: Counts,
    pub(crate) caps: Option<Caps>,
    pub(crate) custodians: Vec<String>,
    pub(crate) published: Vec<&'a Policy>,
    pub(crate) missing: Vec<PolicyHash>,
    pub(crate) participant: Option<crate::participant::ParticipantReport>,
}
