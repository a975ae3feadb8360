//! # minimis-compare: any vendor's data inventory, held against the law and minimis
//!
//! `minimis compare INVENTORY.toml` (spec: `spec/inventory.md`, **AUD-20** to **AUD-26**,
//! **CMP-1** to **CMP-20**; method: `guide/compare.md`). For procurement officers,
//! oversight bodies, auditors and journalists who must judge a supervision app they did
//! not build. A vendor, or anyone reading the public record about one, declares in a
//! TOML file every category of data the system holds (address and employment history,
//! documents and ID images, risk scores, alerts, message content and metadata, tracks
//! from other devices, payment and phone-plan data among them) and, for each datum, its
//! legal authority, records schedule, retention and what starts it, backups, hosting and
//! sub-processors, vendor-staff access, what happens to third-party and law-enforcement
//! requests, correction and deletion, accreditation and breach history; then how the
//! system treats location, biometrics, device identifiers and request metadata, what it
//! logs, who may open records, what the participant sees, and what a missed check-in
//! leads to. Any property may carry its own `source`, `evidence`, `note` and `verify`
//! (how a reader can check it: an app's permission manifest, a contract clause, a FOIA
//! result), so that evidence is per property, not per entry.
//!
//! [`Inventory::compare`] holds each property against two groups of rules, reported
//! apart ([`Group`]): the **legal and minimum-standard** rules, which any lawful design
//! must pass whatever its architecture, and the **minimis conformance** rules, the design
//! choices of this specification, which another architecture may meet otherwise. Every
//! rule has a severity [`Tier`]: A, prohibited collection; B, retention and access; C,
//! verifiability. A property declared `"unknown"` is a gap too (**AUD-22**): what a
//! vendor cannot show does not hold for procurement. A blank template
//! ([`TEMPLATE_INVENTORY`]) compares as *not shown* everywhere.
//!
//! ```toml
//! format = "minimis-inventory/2"
//!
//! [about]
//! system = "Example check-in app"
//! operator = "Example Vendor Inc."
//! agency = "Example Supervision Agency"
//! prepared_by = "Example Vendor Inc."
//! as_of = "2026-01"
//! complete = true              # every datum the system holds is listed below
//!
//! [[data]]
//! id = "check-in-photos"       # a-z, 0-9 and -, unique
//! category = "face-image"      # one of the categories of spec/inventory.md
//! what = "A selfie at each check-in"
//! why = "Identity verification by face matching"
//! held_by = ["operator", "agency"]
//! readable_by = ["operator", "agency"]
//! retention_days = { value = 2555, source = "Contract, clause H.12", evidence = "cited", verify = ["contract"] }
//! retention_starts = "the end of supervision"
//! # … every other property of a held datum: see spec/inventory.md.
//! source = "Vendor privacy policy, section 3"
//! evidence = "declared"
//!
//! # … and [location], [biometrics], [device], [network], [schedule], [log], [access],
//! # [participant], [failure] and [use].
//! ```
//!
//! Parsing is strict (**AUD-20**, **CMP-1**): an unknown key (at any level, a property's
//! table included), a missing key, a value outside its set or a duplicate id is refused
//! with an [`InventoryError`] that names it, and a TOML error its line.
//!
//! ```
//! use minimis_compare::{Group, Inventory};
//!
//! let minimis = Inventory::from_toml_str(minimis_compare::MINIMIS_INVENTORY)?;
//! let result = minimis.compare(&minimis_proto::default_policy());
//! assert!(result.gaps.is_empty());
//! assert_eq!(result.exit_code(), 0);
//!
//! let blank = Inventory::from_toml_str(minimis_compare::TEMPLATE_INVENTORY)?;
//! let result = blank.compare(&minimis_proto::default_policy());
//! assert_eq!(result.not_shown(), result.compared());
//! assert!(result.counts(Group::Baseline).gaps > 0);
//! # Ok::<(), minimis_compare::InventoryError>(())
//! ```
//!
//! It is not the auditor (`minimis-audit`), which verifies from its public log what a
//! running minimis system did. A comparison holds a *declaration*: it says what the
//! declaration, if true, would fail, and proves nothing about the system itself.
//!
//! **Trust domain:** anyone. **Holds:** the inventory and the policy it is given.
//! **Never holds:** personal data, a key, anything from the network.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod format;
mod report;
mod rules;

pub use format::*;
pub use report::{Comparison, Finding, Gap, Group, GroupCounts, Tier};
