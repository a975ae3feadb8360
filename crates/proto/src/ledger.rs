//! A ledger row's state ([`LedgerState`]), an officer's [`Resolution`] and the
//! [`ResolutionReason`] it rests on (CHK-24), and what a participant attaches to a row:
//! the category of a technical-failure report (CHK-23, spec/failure.md) and of a
//! statement (ACC-12, spec/access.md). The device, the operator, its API and the log
//! (`row resolved`, spec/log.md) all use these types, so the wire names and the codes are
//! defined once.

use serde::{Deserialize, Serialize};

/// A technical-failure report's category (CHK-23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FailureCategory {
    /// `no-network` (code 1): no network.
    NoNetwork,
    /// `app-error` (code 2): the app failed.
    AppError,
    /// `device-error` (code 3): the device failed.
    DeviceError,
    /// `presence-unavailable` (code 4): the presence check could not run.
    PresenceUnavailable,
    /// `other` (code 5): something else.
    Other,
}

impl FailureCategory {
    /// Every category, in code order.
    pub const ALL: [Self; 5] = [
        Self::NoNetwork,
        Self::AppError,
        Self::DeviceError,
        Self::PresenceUnavailable,
        Self::Other,
    ];

    /// The category as on the wire (`no-network`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoNetwork => "no-network",
            Self::AppError => "app-error",
            Self::DeviceError => "device-error",
            Self::PresenceUnavailable => "presence-unavailable",
            Self::Other => "other",
        }
    }

    /// The code that stands for it in storage (1 to 5).
    pub fn code(self) -> u8 {
        match self {
            Self::NoNetwork => 1,
            Self::AppError => 2,
            Self::DeviceError => 3,
            Self::PresenceUnavailable => 4,
            Self::Other => 5,
        }
    }

    /// The category of `code`, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl std::str::FromStr for FailureCategory {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCategory)
    }
}

/// A failure category other than `no-network`, `app-error`, `device-error`,
/// `presence-unavailable` and `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a failure category is no-network, app-error, device-error, presence-unavailable or other")]
pub struct UnknownCategory;

/// A statement's category (ACC-12): what the participant says about a row of their
/// ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum StatementCategory {
    /// `dispute` (code 1): the participant disputes the row's state or resolution.
    Dispute,
    /// `explanation` (code 2): of a missed or late check-in.
    Explanation,
    /// `correction` (code 3): something the row records is wrong.
    Correction,
    /// `other` (code 4): something else.
    Other,
}

impl StatementCategory {
    /// Every category, in code order.
    pub const ALL: [Self; 4] = [
        Self::Dispute,
        Self::Explanation,
        Self::Correction,
        Self::Other,
    ];

    /// The category as on the wire (`dispute`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dispute => "dispute",
            Self::Explanation => "explanation",
            Self::Correction => "correction",
            Self::Other => "other",
        }
    }

    /// The code that stands for it in storage (1 to 4).
    pub fn code(self) -> u8 {
        match self {
            Self::Dispute => 1,
            Self::Explanation => 2,
            Self::Correction => 3,
            Self::Other => 4,
        }
    }

    /// The category of `code`, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// An officer's decision on a ledger row (`spec/failure.md`): the byte of a
/// `row resolved` entry (**CHK-24**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Resolution {
    /// `0x01` `excused-technical`: the app, the network or the device failed.
    ExcusedTechnical,
    /// `0x02` `excused-other`: a reason the officer accepts.
    ExcusedOther,
    /// `0x03` `not-excused`: the only resolution that can support an adverse decision,
    /// and only a person sets it (**CHK-21**).
    NotExcused,
}

impl Resolution {
    /// Every resolution, in code order.
    pub const ALL: [Self; 3] = [Self::ExcusedTechnical, Self::ExcusedOther, Self::NotExcused];

    /// The byte that stands for this resolution.
    pub const fn code(self) -> u8 {
        match self {
            Self::ExcusedTechnical => 0x01,
            Self::ExcusedOther => 0x02,
            Self::NotExcused => 0x03,
        }
    }

    /// The resolution with this byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Its name in `spec/failure.md` and the API, for example `not-excused`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExcusedTechnical => "excused-technical",
            Self::ExcusedOther => "excused-other",
            Self::NotExcused => "not-excused",
        }
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an officer's resolution rests on: the reason code every resolution carries
/// (**CHK-24**, `spec/failure.md`). It names a source of information, never the
/// participant's circumstances, so it cannot carry health or other personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ResolutionReason {
    /// `0x01` `failure-report`: the participant's technical-failure report (**CHK-22**).
    FailureReport,
    /// `0x02` `participant-statement`: the participant's statement on the row
    /// (**ACC-12**).
    ParticipantStatement,
    /// `0x03` `agency-contact`: what the participant told the agency directly.
    AgencyContact,
    /// `0x04` `operator-outage`: the operator's service was unavailable.
    OperatorOutage,
    /// `0x05` `check-in-content`: the check-in's content, opened through a logged access
    /// (**ACC-4**).
    CheckInContent,
    /// `0x06` `no-account`: no account from the participant by the time of review.
    NoAccount,
}

impl ResolutionReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 6] = [
        Self::FailureReport,
        Self::ParticipantStatement,
        Self::AgencyContact,
        Self::OperatorOutage,
        Self::CheckInContent,
        Self::NoAccount,
    ];

    /// The byte that stands for this reason.
    pub const fn code(self) -> u8 {
        match self {
            Self::FailureReport => 0x01,
            Self::ParticipantStatement => 0x02,
            Self::AgencyContact => 0x03,
            Self::OperatorOutage => 0x04,
            Self::CheckInContent => 0x05,
            Self::NoAccount => 0x06,
        }
    }

    /// The reason with this byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Its name in `spec/failure.md` and the API, for example `failure-report`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FailureReport => "failure-report",
            Self::ParticipantStatement => "participant-statement",
            Self::AgencyContact => "agency-contact",
            Self::OperatorOutage => "operator-outage",
            Self::CheckInContent => "check-in-content",
            Self::NoAccount => "no-account",
        }
    }
}

impl std::fmt::Display for ResolutionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a ledger row (spec/failure.md), as the operator stores it and its API
/// shows it: `{"state": "on-time"}`, `{"state": "resolved", "resolution": "not-excused"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case", tag = "state", content = "resolution")]
pub enum LedgerState {
    /// Issued; its window (and grace period) has not ended and no check-in arrived.
    Open,
    /// A valid check-in arrived inside the window.
    OnTime,
    /// A valid check-in arrived after the window, within the grace period.
    Late,
    /// No valid check-in by the end of the grace period: for a person to review. Never a
    /// violation by itself (**CHK-20**).
    PendingReview,
    /// An officer reviewed the row.
    Resolved(Resolution),
}

impl LedgerState {
    /// The state's name on the wire: `open`, `on-time`, `late`, `pending-review` or
    /// `resolved`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::OnTime => "on-time",
            Self::Late => "late",
            Self::PendingReview => "pending-review",
            Self::Resolved(_) => "resolved",
        }
    }

    /// The resolution of a resolved row.
    pub const fn resolution(self) -> Option<Resolution> {
        match self {
            Self::Resolved(r) => Some(r),
            _ => None,
        }
    }
}

impl std::fmt::Display for LedgerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resolved(r) => write!(f, "resolved ({r})"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chk_23_acc_12_categories_round_trip_through_their_names_and_codes() {
        for c in FailureCategory::ALL {
            assert_eq!(c.as_str().parse::<FailureCategory>(), Ok(c));
            assert_eq!(FailureCategory::from_code(c.code()), Some(c));
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::json!(c.as_str()))
            );
        }
        for c in StatementCategory::ALL {
            assert_eq!(StatementCategory::from_code(c.code()), Some(c));
        }
        assert_eq!("battery".parse::<FailureCategory>(), Err(UnknownCategory));
        assert_eq!(FailureCategory::from_code(0), None);
        assert_eq!(FailureCategory::from_code(6), None);
        for c in StatementCategory::ALL {
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::json!(c.as_str()))
            );
        }
        assert_eq!(StatementCategory::from_code(5), None);
    }

    #[test]
    fn chk_24_resolutions_reasons_and_states_have_one_name_on_the_wire_and_one_code() {
        for r in Resolution::ALL {
            assert_eq!(Resolution::from_code(r.code()), Some(r));
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
        for r in ResolutionReason::ALL {
            assert_eq!(ResolutionReason::from_code(r.code()), Some(r));
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
        assert_eq!(Resolution::from_code(0), None);
        assert_eq!(ResolutionReason::from_code(7), None);
        let resolved = LedgerState::Resolved(Resolution::NotExcused);
        assert_eq!(
            serde_json::to_value(resolved).ok(),
            Some(serde_json::json!({"state": "resolved", "resolution": "not-excused"}))
        );
        assert_eq!(
            serde_json::to_value(LedgerState::OnTime).ok(),
            Some(serde_json::json!({"state": "on-time"}))
        );
        for s in [
            LedgerState::Open,
            LedgerState::OnTime,
            LedgerState::Late,
            LedgerState::PendingReview,
            resolved,
        ] {
            let v = serde_json::to_value(s).ok();
            assert_eq!(v.as_ref().and_then(|v| v["state"].as_str()), Some(s.name()));
            let back: Option<LedgerState> = v.and_then(|v| serde_json::from_value(v).ok());
            assert_eq!(back, Some(s));
        }
        assert!(
            serde_json::from_value::<LedgerState>(serde_json::json!({"state": "done"})).is_err()
        );
    }
}
