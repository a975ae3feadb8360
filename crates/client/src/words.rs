//! What the participant reads, in plain language (English): the words for results,
//! ledger states, failures and times, shared by [`History::to_text`](crate::History::to_text)
//! and an app's screens.
//!
//! A failed or missed check-in is never described as a violation (**CHK-25**): every text
//! about one says that a person will review it and how to file a report
//! ([`FAILURE_IS_NOT_A_VIOLATION`], [`failure_notice`]).

use minimis_proto::{
    LedgerState, PresenceResult, Resolution, ResolutionReason, UnixTime, ZoneResult,
};

use crate::device::FailureCategory;

macro_rules! how_to_report {
    () => {
        "To tell them what happened, use \"Report a problem\" in the app (or `minimis participant report`): choose what went wrong (no network, the app failed, the phone failed, the PIN check could not run, or something else). Your report is attached to that check-in for the person who reviews it."
    };
}

/// How to file a technical-failure report, in the app and from the command line.
pub const HOW_TO_REPORT: &str = how_to_report!();

/// What the participant is told about any failed or missed check-in (CHK-25).
pub const FAILURE_IS_NOT_A_VIOLATION: &str = concat!(
    "A check-in that failed or was missed is not a violation by itself. A person will review it before anything is decided, and will see your report. ",
    how_to_report!()
);

/// What the app shows the moment a check-in cannot be completed (CHK-22, CHK-25): what
/// went wrong, in words, then [`FAILURE_IS_NOT_A_VIOLATION`].
pub fn failure_notice(category: FailureCategory) -> String {
    format!(
        "Your check-in could not be completed: {}. Your phone has recorded this. {}",
        failure_category(category),
        FAILURE_IS_NOT_A_VIOLATION
    )
}

/// A failure category, in words.
pub fn failure_category(c: FailureCategory) -> &'static str {
    match c {
        FailureCategory::NoNetwork => "there was no network",
        FailureCategory::AppError => "the app failed",
        FailureCategory::DeviceError => "the phone failed",
        FailureCategory::PresenceUnavailable => "the PIN check could not run",
        FailureCategory::Other => "something else went wrong",
    }
}

/// A ledger row's state (failure.md § The ledger), in words, without a final period. A
/// row waiting for review is described as CHK-25 requires; a text that shows one also
/// shows [`FAILURE_IS_NOT_A_VIOLATION`], which says how to report.
pub fn ledger_state(state: LedgerState) -> String {
    match state {
        LedgerState::Open => "waiting for your check-in".to_owned(),
        LedgerState::OnTime => "you checked in on time".to_owned(),
        LedgerState::Late => {
            "you checked in late, within the extra time the rules allow; a person may look at it"
                .to_owned()
        }
        LedgerState::PendingReview => {
            "no check-in arrived in time. That is not a violation by itself: a person will review it, and you can report what happened (see below)".to_owned()
        }
        LedgerState::Resolved(Resolution::ExcusedTechnical) => {
            "a person reviewed it and excused it: the app, the network or the phone failed"
                .to_owned()
        }
        LedgerState::Resolved(Resolution::ExcusedOther) => {
            "a person reviewed it and excused it for another reason".to_owned()
        }
        LedgerState::Resolved(Resolution::NotExcused) => {
            "a person reviewed it and did not excuse it. You can add a statement to this row to dispute it, and ask your lawyer or the oversight custodian".to_owned()
        }
        LedgerState::Resolved(r) => format!("a person reviewed it: \"{r}\""),
    }
}

/// What a resolution rests on (failure.md's reason codes), in words.
pub fn resolution_reason(reason: ResolutionReason) -> &'static str {
    match reason {
        ResolutionReason::FailureReport => "your report of a problem",
        ResolutionReason::ParticipantStatement => "your statement",
        ResolutionReason::AgencyContact => "what you told the agency",
        ResolutionReason::OperatorOutage => "the company's service being down",
        ResolutionReason::CheckInContent => {
            "what your check-in said, opened through a logged request"
        }
        ResolutionReason::NoAccount => "no account from you by the time of review",
        other => other.as_str(),
    }
}

/// Why a custodian refused access (access.md § Errors), in words; the code itself if it
/// is unknown.
pub fn denial_reason(code: &str) -> &str {
    match code {
        "purpose-not-allowed" => "the reason given is not one the rules allow",
        "legal-basis-not-allowed" => "the legal authority given is not one the rules allow",
        "not-in-caseload" => "you are not in that officer's caseload",
        "oversight-refused" => "the oversight custodian's reviewer refused",
        "record-unknown" => "the check-in is not held (it may have been deleted)",
        "access-not-logged" => "the request was not properly recorded first",
        "key-destroyed" => "the key was destroyed, so nobody can open it",
        "log-unavailable" => "the public record could not be written, so nothing was opened",
        other => other,
    }
}

/// A zone result, in words.
pub fn zone(z: ZoneResult) -> &'static str {
    match z {
        ZoneResult::Inside => "inside the area in your order",
        ZoneResult::Outside => "outside the area in your order",
        ZoneResult::Unavailable => "the phone could not tell where it was",
        ZoneResult::NotRequired => "no area applies, so no location was used",
    }
}

/// A presence result, in words.
pub fn presence(p: PresenceResult) -> &'static str {
    match p {
        PresenceResult::Confirmed => "you confirmed it was you",
        PresenceResult::NotConfirmed => "the PIN was not confirmed",
        PresenceResult::Unavailable => "the PIN check could not run",
        PresenceResult::NotRequired => "no PIN was asked for",
    }
}

/// A time in the participant's own time zone (`2026-11-26 10:00 CST`); UTC if the zone
/// is unknown.
pub fn local_time(t: UnixTime, time_zone: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(t.seconds()) else {
        return t.to_string();
    };
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(tz)
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A date in the participant's own time zone (`2026-11-23`); UTC if the zone is unknown.
pub fn local_date(t: UnixTime, time_zone: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(t.seconds()) else {
        return t.to_string();
    };
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(tz).strftime("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_is_in_the_schedule_zone() {
        // 2026-11-26T16:00:00Z is 10:00 in Chicago (CST, UTC-6).
        assert_eq!(
            local_time(UnixTime(1_795_708_800), "America/Chicago"),
            "2026-11-26 10:00 CST"
        );
        assert_eq!(
            local_time(UnixTime(1_795_708_800), "Not/AZone"),
            "2026-11-26 16:00 UTC"
        );
    }
}
