//! What `minimis demo` records over its simulated period, beside its export, for the
//! HTML report (`minimis audit report`): `DIR/demo-series.json`.
//!
//! Everything else the report shows comes from the log itself; these figures do not,
//! because the log holds no sizes: how many bytes each party held over time, and the same
//! period under a SmartLINK-style design as publicly documented. They are the demo's own
//! measurements (and, for SmartLINK, estimates marked as such), not audited facts, and the
//! report says so.

use serde::{Deserialize, Serialize};

/// The file's `format` value.
pub const DEMO_SERIES_FORMAT: &str = "minimis-demo-series/v1";

/// The file name inside an export directory.
pub const DEMO_SERIES_FILE: &str = "demo-series.json";

/// The most `demo-series.json` is read: 16 MiB (a year of hourly samples is under 2 MiB)
/// (**AUD-30**).
pub const MAX_SERIES_LEN: usize = 16 << 20;

/// Reads `DIR/demo-series.json` of the export directory `dir`, if it is there, as every
/// file of an export is read (no link, no special file, at most [`MAX_SERIES_LEN`]
/// bytes, **AUD-30**).
///
/// # Errors
/// A [`crate::LayoutError`]: the file refused, not JSON of this format.
pub fn read_series(
    dir: &minimis_log::static_dir::Root,
) -> Result<Option<DemoSeries>, crate::LayoutError> {
    let Some(data) = dir.read(DEMO_SERIES_FILE, MAX_SERIES_LEN)? else {
        return Ok(None);
    };
    let path = dir.path().join(DEMO_SERIES_FILE);
    let series: DemoSeries =
        serde_json::from_slice(&data).map_err(|source| crate::LayoutError::Series {
            path: path.clone(),
            message: source.to_string(),
        })?;
    if series.format != DEMO_SERIES_FORMAT {
        return Err(crate::LayoutError::Series {
            path,
            message: format!("format `{}`, not `{DEMO_SERIES_FORMAT}`", series.format),
        });
    }
    Ok(Some(series))
}

/// The demo's series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSeries {
    /// [`DEMO_SERIES_FORMAT`].
    pub format: String,
    /// Participants enrolled.
    pub participants: u64,
    /// What was held, sampled over the simulated period (at least daily), oldest first.
    pub samples: Vec<HeldSample>,
    /// What each design holds at the end, by category of data.
    pub categories: Vec<CategoryRow>,
}

/// What each party held at one time (simulated clock).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldSample {
    /// Unix seconds.
    pub at: i64,
    /// The operator's sealed check-ins (ciphertext it cannot open), bytes.
    pub operator_ciphertext_bytes: u64,
    /// The operator's compliance ledger (no content), bytes.
    pub operator_ledger_bytes: u64,
    /// The public log (entries, tiles, checkpoint), bytes.
    pub log_bytes: u64,
    /// Content that could still be opened (records whose epoch keys are not yet
    /// destroyed, wherever a copy of them is), bytes of ciphertext.
    pub readable_bytes: u64,
    /// The custodians' live epoch keys, count (both custodians together).
    pub custodian_live_keys: u64,
}

/// One category of data, under each design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRow {
    /// The category, in words ("precise location", "face images", "check-in content", …).
    pub category: String,
    /// Bytes minimis holds at the end (0 when never collected).
    pub minimis_bytes: u64,
    /// Bytes a SmartLINK-style design would hold for the same participants and period.
    pub smartlink_bytes: u64,
    /// How the SmartLINK figure was reached: a cited fact or an estimate, with its source.
    pub smartlink_basis: String,
    /// Whether the SmartLINK figure is an estimate (shown marked as such).
    pub estimate: bool,
}
