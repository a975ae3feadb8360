//! The target for a vendor's data inventory.

use minimis_compare::Inventory;

use super::{Outcome, utf8};

/// A vendor's data inventory (TOML, **AUD-20** to **AUD-26**, **CMP-1** to **CMP-20**):
/// read or refused with the key at fault; one that reads is compared with the legal
/// minimum, the specification and the reference policy and written as a table, JSON and
/// HTML; its exit code says whether it has gaps, and its groups' counts add up.
pub fn inventory(data: &[u8]) -> Outcome {
    let Some(text) = utf8(data) else {
        return Outcome::Refused;
    };
    let inv = match Inventory::from_toml_str(text) {
        Ok(i) => i,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return Outcome::Refused;
        }
    };
    let c = inv.compare(super::reference_policy());
    assert_eq!(c.exit_code(), u8::from(c.has_gaps()));
    assert_eq!(c.contrary() + c.not_shown(), c.gaps.len());
    assert!(c.gaps.len() <= c.compared());
    let (base, conf) = (
        c.counts(minimis_compare::Group::Baseline),
        c.counts(minimis_compare::Group::Conformance),
    );
    assert_eq!(base.gaps + conf.gaps, c.gaps.len());
    assert_eq!(base.tiers.iter().sum::<usize>(), base.gaps);
    assert_eq!(conf.tiers.iter().sum::<usize>(), conf.gaps);
    assert!(!c.to_table().is_empty());
    let json = serde_json::to_string(&c.to_json()).unwrap_or_else(|e| panic!("JSON: {e}"));
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    assert!(!c.to_html().is_empty());
    Outcome::Accepted
}
