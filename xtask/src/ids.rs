//! Requirement identifiers: `FAM-N` in the spec, `fam_n_` in test names.

use std::fmt;

/// The requirement families, in the order the spec's README lists them.
pub(crate) const FAMILIES: [&str; 19] = [
    "ENR", "CHL", "CHK", "LOC", "SEAL", "RET", "ACC", "LOG", "AUD", "POL", "SVC", "WIT", "OBL",
    "AGY", "APP", "MSG", "CFG", "STO", "CMP",
];

/// A requirement identifier such as `RET-2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ReqId {
    /// Index into [`FAMILIES`].
    family: usize,
    /// The number within the family.
    number: u32,
}

impl ReqId {
    /// `family` must be one of [`FAMILIES`] (upper case); `None` otherwise.
    pub(crate) fn new(family: &str, number: u32) -> Option<Self> {
        let family = FAMILIES.iter().position(|f| *f == family)?;
        Some(Self { family, number })
    }

    /// Parses `RET-2`. Leading zeros are refused, so each ID has one spelling.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (fam, num) = s.split_once('-')?;
        Self::new(fam, parse_number(num)?)
    }

    /// The family, upper case.
    pub(crate) fn family(&self) -> &'static str {
        FAMILIES[self.family]
    }

    /// The number.
    pub(crate) fn number(&self) -> u32 {
        self.number
    }

    /// The sort key: family in README order, then number.
    pub(crate) fn sort_key(&self) -> (usize, u32) {
        (self.family, self.number)
    }
}

impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.family(), self.number)
    }
}

/// A decimal number without a leading zero (`0` itself is allowed).
pub(crate) fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// The requirement IDs a test name starts with: `seal_2_ret_2_nested_layers` names
/// SEAL-2 and RET-2. The chain is a run of `<family>_<n>` segments at the start of the
/// name, each followed by `_` or the end of the name. Returns an empty list for a name
/// that does not start with an ID (`log_appends_are_fast`, `sha_256_vector`).
pub(crate) fn test_name_ids(name: &str) -> Vec<ReqId> {
    let mut ids = Vec::new();
    let parts: Vec<&str> = name.split('_').collect();
    let mut i = 0;
    while i + 1 < parts.len() {
        let fam = parts[i];
        if fam.is_empty() || !fam.bytes().all(|b| b.is_ascii_lowercase()) {
            break;
        }
        let Some(number) = parse_number(parts[i + 1]) else {
            break;
        };
        let Some(id) = ReqId::new(&fam.to_ascii_uppercase(), number) else {
            break;
        };
        ids.push(id);
        i += 2;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(name: &str) -> Vec<String> {
        test_name_ids(name)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn parses_ids_and_refuses_leading_zeros_and_unknown_families() {
        assert_eq!(
            ReqId::parse("RET-2").map(|i| i.to_string()),
            Some("RET-2".into())
        );
        assert_eq!(ReqId::parse("SEAL-10").map(|i| i.number()), Some(10));
        assert_eq!(ReqId::parse("RET-02"), None);
        assert_eq!(ReqId::parse("GAO-22"), None);
        assert_eq!(ReqId::parse("RET-"), None);
        assert_eq!(ReqId::parse("ret-2"), None);
    }

    #[test]
    fn test_names_yield_their_id_chain() {
        assert_eq!(ids("ret_2_destroyed_epoch_cannot_open"), ["RET-2"]);
        assert_eq!(ids("seal_2_ret_2_nested"), ["SEAL-2", "RET-2"]);
        assert_eq!(ids("chk_1"), ["CHK-1"]);
        assert_eq!(ids("pol_10_default_policy_is_valid"), ["POL-10"]);
        // The chain stops at the first segment that is not an ID.
        assert_eq!(ids("ret_2_10000_records"), ["RET-2"]);
        assert_eq!(ids("chk_2_x_3_y"), ["CHK-2"]);
    }

    #[test]
    fn names_without_an_id_prefix_yield_nothing() {
        assert!(ids("log_appends_are_fast").is_empty());
        assert!(ids("sha_256_vector").is_empty());
        assert!(ids("round_trip").is_empty());
        assert!(ids("ret_02_leading_zero").is_empty());
        assert!(ids("Ret_2_upper").is_empty());
        assert!(ids("").is_empty());
    }
}
