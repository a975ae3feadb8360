//! `minimis compare INVENTORY.toml` (spec/inventory.md, AUD-20 to AUD-26; the crate's own
//! tests, `crates/compare/tests`, check CMP-1 to CMP-20): a vendor's
//! declared inventory held against the specification, each gap with the requirement it
//! fails; SmartLINK as publicly documented has gaps, minimis's own inventory has none.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Output;

use minimis_compare::{
    Category, Evidence, Finding, Group, Inventory, InventoryError, MINIMIS_INVENTORY,
    SMARTLINK_INVENTORY,
};
use minimis_proto::{Policy, default_policy};
use serde_json::Value;

fn compare(args: &[&str]) -> Output {
    crate::minimis().arg("compare").args(args).output().unwrap()
}

fn example(name: &str) -> String {
    crate::root()
        .join("examples/inventories")
        .join(name)
        .display()
        .to_string()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The requirement IDs defined in spec/ (`**ID.**`).
fn defined_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for f in std::fs::read_dir(crate::root().join("spec")).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("**") {
                rest = &rest[i + 2..];
                if let Some(end) = rest.find(".**") {
                    let id = &rest[..end];
                    if id.contains('-')
                        && id.len() < 10
                        && id
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
                    {
                        ids.insert(id.to_owned());
                    }
                }
            }
        }
    }
    ids
}

/// An inventory that gets every property wrong: every category held by the operator and
/// a third party, readable by them, kept indefinitely by policy only, unencrypted, shared;
/// and every section's answer the one the specification forbids.
fn everything_wrong() -> String {
    let mut t = String::from(
        r#"format = "minimis-inventory/2"

[about]
system = "worst case"
operator = "vendor"
agency = "agency"
prepared_by = "a test"
as_of = "now"
complete = false
source = "the test"
evidence = "estimate"
"#,
    );
    for c in Category::ALL {
        let _ = write!(
            t,
            r#"
[[data]]
id = "{c}"
category = "{c}"
what = "all of it"
why = "because"
held_by = ["operator", "third-party"]
readable_by = ["operator", "agency", "third-party"]
retention_days = "indefinite"
retention_enforced_by = "policy-only"
encryption = "none"
key_holders = ["operator"]
shared = true
shared_with = ["a broker"]
legal_authority = "none"
records_schedule = "none"
retention_starts = "none"
backup_retention_days = "indefinite"
hosting = "unknown"
sub_processors = "unknown"
vendor_staff_access = "unknown"
third_party_requests = "on-request"
correction = "unknown"
deletion = "unknown"
accreditation = "none"
breach_history = "unknown"
"#
        );
    }
    t.push_str(
        r#"
[location]
mode = "continuous"
remote_continuous = true
fixes_outside_check_ins = true
zone_test_on = "server"

[biometrics]
face_images_leave_device = true
voice_prints_leave_device = true
templates_leave_device = true

[device]
identifiers_collected = true
permissions = ["contacts", "background-location"]
telemetry = true
loaned_phones_monitored = true

[network]
ip_addresses_kept = true
request_metadata_kept = true

[schedule]
max_check_ins_per_day = "unlimited"
device_enforces_schedule = false

[log]
what = "nothing public"
public = false
tamper_evident = false
witnessed = false
accesses_logged = false
refusals_logged = false
names_participants_by = "identity"

[access]
justification_required = false
two_party = false
operator_can_open_content = true
caseload_restricted = false
bulk_queries = true

[participant]
sees_own_record = false
sees_accesses = false
can_attach_statement = false
notice_complete = false

[failure]
missed_check_in_adverse = true
failure_reports = false
human_review_with_reason = false
grace_minutes = 0

[use]
combined_with_other_sources = true
other_purposes = true
combined_with = ["a data broker"]
"#,
    );
    t
}

#[test]
fn aud_20_a_malformed_inventory_gets_a_typed_error_naming_the_key() {
    // A key the format does not define.
    let unknown = MINIMIS_INVENTORY.replace("[network]", "[network]\nmac_addresses_kept = false");
    let e = Inventory::from_toml_str(&unknown).unwrap_err();
    assert!(matches!(e, InventoryError::Toml(_)), "{e:?}");
    assert!(
        e.to_string().contains("unknown field `mac_addresses_kept`"),
        "{e}"
    );
    // An unknown key inside a [[data]] entry.
    let unknown = MINIMIS_INVENTORY.replacen(
        "why = \"Report as scheduled (D1)\"",
        "why = \"x\"\nlawful = true",
        1,
    );
    let e = Inventory::from_toml_str(&unknown).unwrap_err();
    assert!(e.to_string().contains("unknown field `lawful`"), "{e}");
    // A value outside its set, a wrong type, a missing section.
    let e = Inventory::from_toml_str(&MINIMIS_INVENTORY.replace("\"epoch-tag\"", "\"names\""))
        .unwrap_err();
    assert!(e.to_string().contains("names"), "{e}");
    let e = Inventory::from_toml_str(
        &MINIMIS_INVENTORY.replace("grace_minutes = 60", "grace_minutes = -1"),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("a number of minutes or \"unknown\""),
        "{e}"
    );
    let cut = &MINIMIS_INVENTORY[..MINIMIS_INVENTORY.find("[use]").unwrap()];
    let e = Inventory::from_toml_str(cut).unwrap_err();
    assert!(e.to_string().contains("missing field `use`"), "{e}");
    // Not TOML at all.
    assert!(matches!(
        Inventory::from_toml_str("this is = = not toml").unwrap_err(),
        InventoryError::Toml(_)
    ));
    // Another format.
    let e =
        Inventory::from_toml_str(&MINIMIS_INVENTORY.replace("minimis-inventory/2", "smartlink/9"))
            .unwrap_err();
    assert!(
        matches!(e, InventoryError::UnsupportedFormat { .. }),
        "{e:?}"
    );
    // A blank text.
    let e = Inventory::from_toml_str(&MINIMIS_INVENTORY.replace(
        "prepared_by = \"the minimis project\"",
        "prepared_by = \" \"",
    ))
    .unwrap_err();
    assert!(
        matches!(e, InventoryError::Blank { ref key } if key == "about.prepared_by"),
        "{e:?}"
    );
    // Shared, with nobody named.
    let e =
        Inventory::from_toml_str(&MINIMIS_INVENTORY.replacen("shared = false", "shared = true", 1))
            .unwrap_err();
    assert!(
        matches!(e, InventoryError::SharedWithoutRecipients { ref id } if id == "schedule"),
        "{e:?}"
    );
}

#[test]
fn aud_20_aud_24_the_cli_refuses_a_malformed_inventory_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        MINIMIS_INVENTORY.replace("[device]", "[device]\nimei_kept = false"),
    )
    .unwrap();
    let out = compare(&[bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("imei_kept"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    assert!(out.stdout.is_empty(), "nothing was compared");
    // A file that is not there.
    let out = compare(&[dir.path().join("none.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read the inventory"));
    // Usage errors: no file; --json with --html.
    assert_eq!(compare(&[]).status.code(), Some(2));
    let out = compare(&[&example("minimis.toml"), "--json", "--html"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn aud_21_smartlink_has_gaps_naming_the_requirements_it_fails() {
    let c = Inventory::from_toml_str(SMARTLINK_INVENTORY)
        .unwrap()
        .compare(&default_policy());
    let gap = |entry: &str, property: &str| {
        c.gaps_in(Group::Conformance)
            .find(|g| g.entry == entry && g.property == property)
            .unwrap_or_else(|| panic!("no gap for {entry}.{property}:\n{}", c.to_table()))
    };
    let expect = [
        ("data.check-in-photos", "held_by", &["POL-4"][..]),
        ("data.voice-prints", "held_by", &["POL-4"]),
        ("data.check-in-locations", "held_by", &["POL-1", "LOC-2"]),
        (
            "data.location-tracking",
            "held_by",
            &["POL-1", "LOC-1", "LOC-3"],
        ),
        ("data.contacts", "held_by", &["POL-2"]),
        ("data.vehicle", "held_by", &["POL-3"]),
        ("data.health", "held_by", &["POL-5"]),
        ("data.identity", "held_by", &["ENR-1"]),
        (
            "data.check-in-records",
            "readable_by",
            &["SEAL-11", "ACC-14"],
        ),
        ("data.check-in-records", "retention_days", &["RET-1"]),
        (
            "data.check-in-records",
            "retention_enforced_by",
            &["RET-2", "RET-3"],
        ),
        ("data.jail-records", "held_by", &["POL-22"]),
        ("location", "remote_continuous", &["POL-1", "LOC-1"]),
        ("access", "two_party", &["ACC-7", "SEAL-10"]),
        (
            "access",
            "operator_can_open_content",
            &["SEAL-11", "ACC-14"],
        ),
        ("use", "combined_with_other_sources", &["POL-22"]),
    ];
    for (entry, property, ids) in expect {
        let g = gap(entry, property);
        assert_eq!(g.requirements, ids, "{entry}.{property}");
        assert_eq!(g.finding, Finding::Contrary, "{entry}.{property}");
        assert!(g.source.is_some(), "{entry}.{property} cites no source");
        assert!(!g.requires.is_empty());
    }
    // Every entry of the SmartLINK inventory cites a source and says how good it is.
    let inv = Inventory::from_toml_str(SMARTLINK_INVENTORY).unwrap();
    assert!(
        inv.data
            .iter()
            .all(|d| d.source.is_some() && d.evidence != Evidence::Declared)
    );
    assert!(
        c.gaps
            .iter()
            .all(|g| g.source.is_some() && g.evidence != Evidence::Declared)
    );
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn aud_21_every_rule_can_fail() {
    let inv = Inventory::from_toml_str(&everything_wrong()).unwrap();
    let c = inv.compare(&default_policy());
    // Every property compared is a gap; every minimis one is contrary (nothing unknown),
    // and so is every legal and minimum-standard rule that has a contrary value.
    // All but one per datum: an "indefinite" retention is a declared period, which the
    // legal minimum accepts (CMP-12) and minimis does not (RET-1, RET-20).
    assert_eq!(
        c.gaps.len() + Category::ALL.len(),
        c.compared(),
        "{}",
        c.to_table()
    );
    assert_eq!(
        c.gaps_in(Group::Baseline)
            .filter(|g| g.property == "retention_days")
            .count(),
        0
    );
    assert!(
        c.gaps_in(Group::Conformance)
            .all(|g| g.finding == Finding::Contrary)
    );
    for property in [
        "legal_authority",
        "records_schedule",
        "retention_starts",
        "backup_retention_days",
        "third_party_requests",
        "accreditation",
    ] {
        assert!(
            c.gaps_in(Group::Baseline)
                .filter(|g| g.property == property)
                .all(|g| g.finding == Finding::Contrary),
            "{property}"
        );
    }
    // Every category was compared: a gap names each entry.
    for cat in Category::ALL {
        assert!(
            c.gaps.iter().any(|g| g.entry == format!("data.{cat}")),
            "{cat}"
        );
    }
    // And each section.
    for section in [
        "about",
        "location",
        "biometrics",
        "device",
        "network",
        "schedule",
        "log",
        "access",
        "participant",
        "failure",
        "use",
    ] {
        assert!(c.gaps.iter().any(|g| g.entry == section), "{section}");
    }
}

#[test]
fn aud_22_unknown_is_a_gap_never_a_pass() {
    let policy = default_policy();
    let base = Inventory::from_toml_str(MINIMIS_INVENTORY)
        .unwrap()
        .compare(&policy);
    assert!(base.gaps.is_empty());
    for (from, to, entry, property, ids) in [
        (
            "telemetry = false",
            "telemetry = \"unknown\"",
            "device",
            "telemetry",
            &["POL-23"][..],
        ),
        (
            "witnessed = true",
            "witnessed = \"unknown\"",
            "log",
            "witnessed",
            &["LOG-16", "AUD-1"],
        ),
        (
            "mode = \"zone-result-at-check-in\"",
            "mode = \"unknown\"",
            "location",
            "mode",
            &["POL-1", "LOC-2"],
        ),
        (
            "grace_minutes = 60",
            "grace_minutes = \"unknown\"",
            "failure",
            "grace_minutes",
            &["CHK-29"],
        ),
        (
            "max_check_ins_per_day = 3",
            "max_check_ins_per_day = \"unknown\"",
            "schedule",
            "max_check_ins_per_day",
            &["CHL-3"],
        ),
        (
            "retention_days = 90\n",
            "retention_days = \"unknown\"\n",
            "data.sealed-check-ins",
            "retention_days",
            &["RET-1"],
        ),
        (
            "retention_enforced_by = \"key-destruction\"",
            "retention_enforced_by = \"unknown\"",
            "data.sealed-check-ins",
            "retention_enforced_by",
            &["RET-2", "RET-3"],
        ),
        (
            "permissions = [\"foreground-location\", \"network\"]",
            "permissions = [\"foreground-location\", \"unknown\"]",
            "device",
            "permissions",
            &["POL-21"],
        ),
    ] {
        assert!(MINIMIS_INVENTORY.contains(from), "{from}");
        let c = Inventory::from_toml_str(&MINIMIS_INVENTORY.replacen(from, to, 1))
            .unwrap()
            .compare(&policy);
        // (An unknown retention is also a gap of the legal minimum, CMP-12: one rule each.)
        let gaps: Vec<_> = c.gaps_in(Group::Conformance).collect();
        assert_eq!(gaps.len(), 1, "{from}: {}", c.to_table());
        let g = gaps[0];
        assert_eq!((g.entry.as_str(), g.property), (entry, property));
        assert_eq!(g.finding, Finding::NotShown);
        assert_eq!(g.requirements, ids);
        assert_eq!(c.exit_code(), 1, "an unknown is a gap: exit 1");
    }
}

#[test]
fn aud_23_retention_and_the_schedule_cap_are_held_against_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        minimis_proto::DEFAULT_POLICY_TOML
            .replace("ledger_days = 2555", "ledger_days = 1825")
            .replace("max_checkins_per_day = 3", "max_checkins_per_day = 2"),
    )
    .unwrap();
    let out = compare(&[
        &example("minimis.toml"),
        "--policy",
        strict.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gaps = j["gaps"].as_array().unwrap();
    // The ledger-like data kept 2555 days, now over the policy's 1825.
    let ledger: Vec<&str> = gaps
        .iter()
        .filter(|g| g["requirements"] == serde_json::json!(["RET-20"]))
        .map(|g| g["entry"].as_str().unwrap())
        .collect();
    assert_eq!(
        ledger,
        [
            "data.schedule",
            "data.challenges",
            "data.compliance-ledger",
            "data.pseudonyms"
        ]
    );
    assert!(gaps.iter().any(|g| g["property"] == "max_check_ins_per_day"
        && g["requirements"] == serde_json::json!(["CHL-3"])));
    assert_eq!(gaps.len(), 5, "{gaps:#?}");
    // Indefinite retention is always a gap.
    let inv = MINIMIS_INVENTORY.replacen(
        "retention_days = 90\n",
        "retention_days = \"indefinite\"\n",
        1,
    );
    let c = Inventory::from_toml_str(&inv)
        .unwrap()
        .compare(&default_policy());
    assert_eq!(c.gaps.len(), 1);
    assert_eq!(
        (c.gaps[0].requirements, c.gaps[0].finding),
        (&["RET-1"][..], Finding::Contrary)
    );
}

#[test]
fn aud_24_the_cli_prints_a_table_or_json_and_exits_1_on_gaps() {
    let out = compare(&[&example("smartlink.toml")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("inventory   BI SmartLINK (ICE ISAP)"),
        "{table}"
    );
    assert!(table.contains("GAP              A  POL-4"), "{table}");
    assert!(table.contains("GAP (not shown)"), "{table}");
    assert!(table.contains("exit 1"));
    let out = compare(&[&example("smartlink.toml"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["format"], "minimis-compare/2");
    assert_eq!(j["verdict"], "gaps-found");
    assert_eq!(j["exit"], 1);
    let gaps = j["gaps"].as_array().unwrap();
    assert_eq!(
        gaps.len() as u64,
        j["contrary"].as_u64().unwrap() + j["not_shown"].as_u64().unwrap()
    );
    assert!(
        gaps.iter()
            .all(|g| g["requirements"].as_array().is_some_and(|r| !r.is_empty()))
    );
    let out = compare(&[&example("smartlink.toml"), "--html"]);
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.starts_with("<section class=\"compare\""), "{html}");
    assert!(html.contains("<th scope=\"col\">requirement</th>"));
}

#[test]
fn aud_25_the_reference_inventory_compares_with_no_gap() {
    // Against the embedded policy, and against the reference policy file itself.
    for extra in [
        vec![],
        vec![
            "--policy".to_owned(),
            crate::root()
                .join("policy/default.toml")
                .display()
                .to_string(),
        ],
    ] {
        let mut args = vec![example("minimis.toml"), "--json".to_owned()];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = compare(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["verdict"], "no-gaps");
        assert_eq!(j["gaps"].as_array().unwrap().len(), 0);
        assert!(j["compared"].as_u64().unwrap() > 40);
    }
    // It lists every datum of spec/data.md that minimis holds: a row of each category
    // minimis holds.
    let inv = Inventory::from_toml_str(MINIMIS_INVENTORY).unwrap();
    for c in Category::ALL.iter().filter(|c| c.held_by_minimis()) {
        assert!(
            inv.data.iter().any(|d| d.category == *c && d.may_be_held()),
            "{c}"
        );
    }
    // Its retention values are the reference policy's.
    let p: Policy = default_policy();
    let content = inv
        .data
        .iter()
        .find(|d| d.id == "sealed-check-ins")
        .unwrap();
    assert_eq!(
        content.retention_days.as_ref().map(|r| r.value),
        Some(minimis_compare::Retention::Days(p.content_retention_days()))
    );
}

#[test]
fn aud_26_every_requirement_a_rule_names_is_defined_in_the_spec() {
    let defined = defined_ids();
    assert!(
        defined.contains("POL-1") && defined.contains("AUD-20"),
        "{defined:?}"
    );
    let mut named = BTreeSet::new();
    for text in [everything_wrong(), SMARTLINK_INVENTORY.to_owned()] {
        let c = Inventory::from_toml_str(&text)
            .unwrap()
            .compare(&default_policy());
        named.extend(c.requirements());
    }
    // The unknown forms of the location mode and the log's naming name their own sets.
    let unknowns = everything_wrong()
        .replace("mode = \"continuous\"", "mode = \"unknown\"")
        .replace(
            "names_participants_by = \"identity\"",
            "names_participants_by = \"unknown\"",
        );
    named.extend(
        Inventory::from_toml_str(&unknowns)
            .unwrap()
            .compare(&default_policy())
            .requirements(),
    );
    assert!(named.len() > 40, "{named:?}");
    for id in &named {
        assert!(
            defined.contains(*id),
            "{id} is named by a rule but not defined in spec/"
        );
    }
}
