//! What a participant attaches to a row of their ledger: the category of a
//! technical-failure report (CHK-23, spec/failure.md) and of a statement (ACC-12,
//! spec/access.md). The device sends them and the operator stores them; both use these
//! types, so the wire names and the stored codes are defined once.

use serde::{Deserialize, Serialize};

/// A technical-failure report's category (CHK-23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        assert_eq!(StatementCategory::from_code(5), None);
    }
}
