//! The auditor's notion of "now": Unix seconds or an RFC 3339 timestamp.

use minimis_proto::UnixTime;

/// Why a time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a time: give Unix seconds (1795708800) or an RFC 3339 timestamp (2026-11-26T16:00:00Z)"
)]
pub struct TimeParseError {
    /// The text given.
    pub text: String,
}

/// Parses `text` as Unix seconds (`1795708800`, optionally signed) or an RFC 3339
/// timestamp with an offset (`2026-11-26T16:00:00Z`, `2026-11-26T10:00:00-06:00`).
///
/// # Errors
/// [`TimeParseError`] for anything else.
pub fn parse_time(text: &str) -> Result<UnixTime, TimeParseError> {
    let err = || TimeParseError {
        text: text.to_owned(),
    };
    let t = text.trim();
    if !t.is_empty()
        && t.trim_start_matches(['-', '+'])
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return t.parse::<i64>().map(UnixTime).map_err(|_| err());
    }
    t.parse::<jiff::Timestamp>()
        .map(|ts| UnixTime(ts.as_second()))
        .map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_rfc_3339() {
        assert_eq!(parse_time("1795708800"), Ok(UnixTime(1_795_708_800)));
        assert_eq!(parse_time("-5"), Ok(UnixTime(-5)));
        assert_eq!(
            parse_time("2026-11-26T16:00:00Z"),
            Ok(UnixTime(1_795_708_800))
        );
        assert_eq!(
            parse_time("2026-11-26T10:00:00-06:00"),
            Ok(UnixTime(1_795_708_800))
        );
        for bad in ["", "soon", "2026-11-26", "99999999999999999999999", "1.5"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
