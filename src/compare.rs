//! `minimis compare INVENTORY.toml`: hold a vendor's declared data inventory against the
//! legal minimum and, apart, the minimis specification and policy, and report every gap
//! with its rule, tier and evidence (`minimis-compare`; spec/inventory.md).
//!
//! Exit codes (AUD-24): 0 no gap; 1 gaps found; 2 usage error, or an inventory or
//! policy that cannot be read or parsed (nothing was compared).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use minimis_compare::Inventory;

use crate::Outcome;

/// `minimis compare` arguments.
#[derive(Args)]
pub(crate) struct CompareArgs {
    /// The inventory (TOML, format `minimis-inventory/2`; see spec/inventory.md,
    /// guide/compare.md and examples/inventories/template.toml).
    inventory: PathBuf,
    /// The policy to hold retention periods and the schedule cap against (the embedded
    /// reference policy if omitted).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, conflicts_with = "html")]
    json: bool,
    /// Print an HTML fragment (a section element with a table) instead of text.
    #[arg(long)]
    html: bool,
}

pub(crate) fn run(args: &CompareArgs) -> anyhow::Result<Outcome> {
    let policy = crate::load_policy(args.policy.as_ref())?;
    let path = &args.inventory;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the inventory {}", path.display()))?;
    let inventory = Inventory::from_toml_str(&text).with_context(|| {
        format!(
            "in {}; spec/inventory.md lists every key, examples/inventories/ has two complete inventories and a blank template, and guide/compare.md says how to fill one",
            path.display()
        )
    })?;
    let comparison = inventory.compare(&policy);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison.to_json())?);
    } else if args.html {
        print!("{}", comparison.to_html());
    } else {
        print!("{}", comparison.to_table());
    }
    Ok(if comparison.has_gaps() {
        Outcome::CheckFailed
    } else {
        Outcome::Success
    })
}
