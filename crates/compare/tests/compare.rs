//! `minimis-compare` against the rules of `spec/inventory.md`: the format's refusals, the
//! evidence per property, the two groups and three tiers, the blank template, the
//! SmartLINK inventory's sources, and each legal and minimum-standard rule (CMP-1 to
//! CMP-20).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minimis_compare::{
    Category, Citation, Comparison, Evidence, Finding, Group, Inventory, InventoryError,
    MINIMIS_INVENTORY, Retention, SMARTLINK_INVENTORY, TEMPLATE_INVENTORY, Tier,
};
use minimis_proto::default_policy;

fn compare(text: &str) -> Comparison {
    Inventory::from_toml_str(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .compare(&default_policy())
}

/// `text` with the first line that starts with `key = ` (at or after `after`) replaced
/// by `key = value`.
fn set(text: &str, after: &str, key: &str, value: &str) -> String {
    let start = text.find(after).expect(after);
    let prefix = format!("\n{key} = ");
    let i = start + text[start..].find(&prefix).expect(key) + 1;
    let end = i + text[i..].find('\n').unwrap();
    format!("{}{key} = {value}{}", &text[..i], &text[end..])
}

const SCHEDULE: &str = "id = \"schedule\"";

#[test]
fn cmp_1_other_versions_and_bad_property_tables_are_refused_by_name() {
    // Version 1, by name.
    let e = Inventory::from_toml_str(
        &MINIMIS_INVENTORY.replace("minimis-inventory/2", "minimis-inventory/1"),
    )
    .unwrap_err();
    assert!(
        matches!(e, InventoryError::UnsupportedFormat { ref found } if found == "minimis-inventory/1"),
        "{e:?}"
    );
    // A key a property's table does not define, with its line.
    let bad = set(
        MINIMIS_INVENTORY,
        SCHEDULE,
        "retention_days",
        "{ value = 2555, sauce = \"x\" }",
    );
    let e = Inventory::from_toml_str(&bad).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, InventoryError::Toml(_)), "{e:?}");
    assert!(msg.contains("unknown field `sauce`"), "{msg}");
    assert!(msg.contains("line"), "a TOML error names its line: {msg}");
    // A property's table without its value.
    let bad = set(
        MINIMIS_INVENTORY,
        SCHEDULE,
        "retention_days",
        "{ source = \"x\" }",
    );
    let msg = Inventory::from_toml_str(&bad).unwrap_err().to_string();
    assert!(msg.contains("missing field `value`"), "{msg}");
    // A value of the wrong kind inside a property's table names what was expected.
    let bad = set(
        MINIMIS_INVENTORY,
        SCHEDULE,
        "retention_days",
        "{ value = \"forever\" }",
    );
    let msg = Inventory::from_toml_str(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("forever") && msg.contains("until-event"),
        "{msg}"
    );
    // A held datum without one of the new keys.
    let start = MINIMIS_INVENTORY.find(SCHEDULE).unwrap();
    let line = start
        + MINIMIS_INVENTORY[start..]
            .find("\nlegal_authority = ")
            .unwrap();
    let end = line + 1 + MINIMIS_INVENTORY[line + 1..].find('\n').unwrap();
    let cut = format!(
        "{}{}",
        &MINIMIS_INVENTORY[..line],
        &MINIMIS_INVENTORY[end..]
    );
    let e = Inventory::from_toml_str(&cut).unwrap_err();
    assert!(
        matches!(e, InventoryError::MissingForHeldDatum { ref id, key: "legal_authority" } if id == "schedule"),
        "{e:?}"
    );
    // A datum whose holders are unknown must declare everything too.
    let i = MINIMIS_INVENTORY.find("\n[location]").unwrap();
    let probe = format!(
        "{}\n[[data]]\nid = \"probe\"\ncategory = \"payment\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = \"unknown\"\n{}",
        &MINIMIS_INVENTORY[..i],
        &MINIMIS_INVENTORY[i..]
    );
    let e = Inventory::from_toml_str(&probe).unwrap_err();
    assert!(
        matches!(e, InventoryError::MissingForHeldDatum { ref id, key: "readable_by" } if id == "probe"),
        "{e:?}"
    );
    // A blank citation, a blank list item.
    let msg = Inventory::from_toml_str(&set(MINIMIS_INVENTORY, SCHEDULE, "hosting", "\" \""))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("citation"), "{msg}");
    let msg = Inventory::from_toml_str(&set(
        MINIMIS_INVENTORY,
        SCHEDULE,
        "sub_processors",
        "[\"\"]",
    ))
    .unwrap_err()
    .to_string();
    assert!(msg.contains("not blank"), "{msg}");
    // A key twice in a property's table is refused by TOML itself.
    let bad = set(
        MINIMIS_INVENTORY,
        SCHEDULE,
        "retention_days",
        "{ value = 1, value = 2 }",
    );
    assert!(Inventory::from_toml_str(&bad).is_err());
}

#[test]
fn cmp_2_a_gap_carries_its_property_s_own_evidence_or_its_entry_s() {
    let c = compare(SMARTLINK_INVENTORY);
    let gap = |entry: &str, property: &str, group: Group| {
        c.gaps
            .iter()
            .find(|g| g.entry == entry && g.property == property && g.group == group)
            .unwrap_or_else(|| panic!("no gap {entry}.{property}"))
    };
    // The check-in records' retention rests on PIA-062, seen through a summary; the entry
    // cites three other sources.
    let g = gap(
        "data.check-in-records",
        "retention_days",
        Group::Conformance,
    );
    assert_eq!(g.source.as_deref(), Some("PIA-062"));
    assert_eq!(g.evidence, Evidence::Secondary);
    assert!(g.note.as_deref().unwrap().contains("life of the contract"));
    // The tracking claim rests on CyberScoop, cited; the location section cites two.
    let g = gap("location", "remote_continuous", Group::Conformance);
    assert_eq!(g.source.as_deref(), Some("CyberScoop"));
    assert!(
        g.note
            .as_deref()
            .unwrap()
            .contains("not capable of persistent")
    );
    // The check-in records' key holders are the preparer's estimate.
    let g = gap("data.check-in-records", "readable_by", Group::Conformance);
    assert_eq!(
        g.evidence,
        Evidence::Secondary,
        "readable_by has no own evidence"
    );
    assert_eq!(
        g.source.as_deref(),
        Some("GAO WatchBlog (2022); Guardian; CyberScoop")
    );
    let inv = Inventory::from_toml_str(SMARTLINK_INVENTORY).unwrap();
    let records = inv
        .data
        .iter()
        .find(|d| d.id == "check-in-records")
        .unwrap();
    assert_eq!(
        records.key_holders.as_ref().unwrap().provenance.evidence,
        Some(Evidence::Estimate)
    );
    // A property without its own takes its entry's source, evidence and verify.
    let g = gap("data.contacts", "held_by", Group::Conformance);
    assert_eq!(g.source.as_deref(), Some("CyberScoop"));
    assert_eq!(g.evidence, Evidence::Cited);
    assert_eq!(g.note, None);
    assert!(!g.verify.is_empty());
    // The permission list names the manifest as the way to settle it.
    let g = gap("device", "permissions", Group::Conformance);
    assert_eq!(g.evidence, Evidence::Estimate);
    assert_eq!(
        g.verify.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        ["app-manifest"]
    );
    // And every output shows it.
    assert!(c.to_table().contains("verify: app-manifest"));
    assert!(c.to_html().contains("verify: app-manifest"));
    let j = c.to_json();
    assert!(
        j["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["property"] == "permissions" && g["verify"][0] == "app-manifest")
    );
}

#[test]
fn cmp_3_cmp_4_the_groups_are_reported_apart_with_their_counts_per_tier() {
    let c = compare(SMARTLINK_INVENTORY);
    let base = c.counts(Group::Baseline);
    let conf = c.counts(Group::Conformance);
    assert!(base.gaps > 0 && conf.gaps > 0);
    assert_eq!(base.gaps + conf.gaps, c.gaps.len());
    assert_eq!(base.compared + conf.compared, c.compared());
    for (group, counts) in [(Group::Baseline, base), (Group::Conformance, conf)] {
        for (i, tier) in Tier::ALL.iter().enumerate() {
            let n = c
                .gaps
                .iter()
                .filter(|g| g.group == group && g.tier == *tier)
                .count();
            assert_eq!(counts.tiers[i], n, "{group:?} {tier}");
        }
        assert_eq!(counts.tiers.iter().sum::<usize>(), counts.gaps);
        assert_eq!(counts.contrary + counts.not_shown, counts.gaps);
    }
    // SmartLINK has gaps of every tier in the minimis group.
    assert!(conf.tiers.iter().all(|n| *n > 0), "{conf:?}");
    // Baseline rules name CMP IDs only; minimis rules never do.
    for g in &c.gaps {
        let cmp = g.requirements.iter().all(|r| r.starts_with("CMP-"));
        assert_eq!(cmp, g.group == Group::Baseline, "{g:?}");
    }
    // Text: the baseline group first, then minimis, each closed by its counts.
    let t = c.to_table();
    let b = t.find("== legal and minimum standard").unwrap();
    let m = t.find("== minimis conformance").unwrap();
    assert!(b < m);
    let line = format!(
        "baseline: {} gaps in {} properties compared (tier A {}, B {}, C {})",
        base.gaps, base.compared, base.tiers[0], base.tiers[1], base.tiers[2]
    );
    assert!(t.contains(&line), "{line}\n{t}");
    let in_baseline = &t[b..m];
    assert!(in_baseline.contains("CMP-10") && !in_baseline.contains("POL-4"));
    assert!(t[m..].contains("POL-4") && !t[m..].contains("CMP-10"));
    // JSON.
    let j = c.to_json();
    assert_eq!(j["format"], "minimis-compare/2");
    for (key, counts) in [("baseline", base), ("conformance", conf)] {
        let g = &j["groups"][key];
        assert_eq!(g["gaps"], counts.gaps);
        assert_eq!(g["compared"], counts.compared);
        assert_eq!(g["tiers"]["A"], counts.tiers[0]);
        assert_eq!(g["tiers"]["B"], counts.tiers[1]);
        assert_eq!(g["tiers"]["C"], counts.tiers[2]);
    }
    assert!(
        j["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["group"].is_string() && g["tier"].is_string())
    );
    // HTML: one table per group, with the tier of each row.
    let h = c.to_html();
    assert_eq!(h.matches("<table class=\"gaps\">").count(), 2);
    assert!(h.contains("<th scope=\"col\">tier</th>"));
    assert!(h.contains(&format!("tier A {}", base.tiers[0])));
}

#[test]
fn cmp_5_the_blank_template_compares_as_not_shown_everywhere() {
    let inv = Inventory::from_toml_str(TEMPLATE_INVENTORY).unwrap();
    for c in Category::ALL {
        assert!(inv.data.iter().any(|d| d.category == *c), "{c} missing");
    }
    let c = inv.compare(&default_policy());
    assert_eq!(c.gaps.len(), c.compared(), "every property is a gap");
    assert_eq!(c.contrary(), 0);
    assert!(c.gaps.iter().all(|g| g.finding == Finding::NotShown));
    assert!(c.counts(Group::Baseline).gaps > 0 && c.counts(Group::Conformance).gaps > 0);
    assert!(c.to_table().contains("not shown (not declared)"));
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn cmp_6_every_smartlink_value_has_a_source_and_the_retention_its_sources_state() {
    let inv = Inventory::from_toml_str(SMARTLINK_INVENTORY).unwrap();
    for d in &inv.data {
        assert!(
            d.source.is_some() && d.evidence != Evidence::Declared,
            "{}",
            d.id
        );
    }
    let c = inv.compare(&default_policy());
    assert!(
        c.gaps
            .iter()
            .all(|g| g.source.is_some() && g.evidence != Evidence::Declared),
        "every gap has a source"
    );
    // Seven years after a participant leaves, per PIA-062 (secondary).
    let records = inv
        .data
        .iter()
        .find(|d| d.id == "check-in-records")
        .unwrap();
    let r = records.retention_days.as_ref().unwrap();
    assert_eq!(r.value, Retention::Days(2555));
    assert_eq!(r.provenance.source.as_deref(), Some("PIA-062"));
    assert_eq!(r.provenance.evidence, Some(Evidence::Secondary));
    assert!(
        r.provenance
            .note
            .as_deref()
            .unwrap()
            .contains("life of the contract")
    );
    // Voice prints: for the life of the contract, per ICE's FAQ.
    let voice = inv.data.iter().find(|d| d.id == "voice-prints").unwrap();
    assert_eq!(
        voice.retention_days.as_ref().unwrap().value,
        Retention::UntilEvent
    );
    // No stated rule is turned into "indefinite".
    assert!(
        inv.data
            .iter()
            .all(|d| d.retention_days.as_ref().map(|r| r.value) != Some(Retention::Indefinite))
    );
    // The contrary statement on tracking is in the note beside the claim.
    let note = inv
        .location
        .remote_continuous
        .provenance
        .note
        .as_deref()
        .unwrap();
    assert!(note.contains("not capable of persistent"), "{note}");
    // Where an authority is not stated, it is "unknown", not guessed.
    assert!(inv.data.iter().all(|d| {
        d.legal_authority
            .as_ref()
            .is_none_or(|a| a.value == Citation::Unknown)
    }));
}

#[test]
fn cmp_10_cmp_11_cmp_12_cmp_13_cmp_14_cmp_15_cmp_16_cmp_17_cmp_18_cmp_19_cmp_20_each_baseline_rule_fails_on_its_value()
 {
    let base = compare(MINIMIS_INVENTORY);
    assert!(base.gaps.is_empty(), "{}", base.to_table());
    use Finding::{Contrary, NotShown};
    for (key, value, id, tier, finding) in [
        (
            "legal_authority",
            "\"none\"",
            "CMP-10",
            Tier::A,
            Some(Contrary),
        ),
        (
            "legal_authority",
            "\"unknown\"",
            "CMP-10",
            Tier::A,
            Some(NotShown),
        ),
        (
            "records_schedule",
            "\"none\"",
            "CMP-11",
            Tier::B,
            Some(Contrary),
        ),
        (
            "records_schedule",
            "\"unknown\"",
            "CMP-11",
            Tier::B,
            Some(NotShown),
        ),
        (
            "retention_starts",
            "\"none\"",
            "CMP-12",
            Tier::B,
            Some(Contrary),
        ),
        (
            "retention_starts",
            "\"unknown\"",
            "CMP-12",
            Tier::B,
            Some(NotShown),
        ),
        (
            "retention_days",
            "\"unknown\"",
            "CMP-12",
            Tier::B,
            Some(NotShown),
        ),
        ("retention_days", "\"indefinite\"", "CMP-12", Tier::B, None),
        (
            "backup_retention_days",
            "\"indefinite\"",
            "CMP-13",
            Tier::B,
            Some(Contrary),
        ),
        (
            "backup_retention_days",
            "\"until-event\"",
            "CMP-13",
            Tier::B,
            Some(Contrary),
        ),
        (
            "backup_retention_days",
            "\"unknown\"",
            "CMP-13",
            Tier::B,
            Some(NotShown),
        ),
        ("backup_retention_days", "30", "CMP-13", Tier::B, None),
        ("hosting", "\"unknown\"", "CMP-14", Tier::B, Some(NotShown)),
        (
            "sub_processors",
            "\"unknown\"",
            "CMP-14",
            Tier::B,
            Some(NotShown),
        ),
        (
            "sub_processors",
            "[\"a support desk\"]",
            "CMP-14",
            Tier::B,
            None,
        ),
        (
            "vendor_staff_access",
            "\"unknown\"",
            "CMP-15",
            Tier::B,
            Some(NotShown),
        ),
        (
            "third_party_requests",
            "\"on-request\"",
            "CMP-16",
            Tier::B,
            Some(Contrary),
        ),
        (
            "third_party_requests",
            "\"unknown\"",
            "CMP-16",
            Tier::B,
            Some(NotShown),
        ),
        (
            "third_party_requests",
            "\"legal-process\"",
            "CMP-16",
            Tier::B,
            None,
        ),
        (
            "correction",
            "\"unknown\"",
            "CMP-17",
            Tier::B,
            Some(NotShown),
        ),
        ("deletion", "\"unknown\"", "CMP-17", Tier::B, Some(NotShown)),
        (
            "accreditation",
            "\"none\"",
            "CMP-18",
            Tier::C,
            Some(Contrary),
        ),
        (
            "accreditation",
            "\"unknown\"",
            "CMP-18",
            Tier::C,
            Some(NotShown),
        ),
        (
            "breach_history",
            "\"unknown\"",
            "CMP-19",
            Tier::C,
            Some(NotShown),
        ),
        (
            "breach_history",
            "[\"2020: a lost laptop\"]",
            "CMP-19",
            Tier::C,
            None,
        ),
        ("verify", "[]", "CMP-20", Tier::C, Some(NotShown)),
    ] {
        let text = set(MINIMIS_INVENTORY, SCHEDULE, key, value);
        let c = compare(&text);
        let gaps: Vec<_> = c.gaps_in(Group::Baseline).collect();
        match finding {
            None => assert!(gaps.is_empty(), "{key} = {value}: {gaps:?}"),
            Some(finding) => {
                assert_eq!(gaps.len(), 1, "{key} = {value}: {}", c.to_table());
                let g = gaps[0];
                assert_eq!(g.entry, "data.schedule");
                assert_eq!(g.property, key, "{key} = {value}");
                assert_eq!(g.requirements, [id], "{key} = {value}");
                assert_eq!((g.tier, g.finding), (tier, finding), "{key} = {value}");
                assert_eq!(c.exit_code(), 1);
            }
        }
    }
    // A means of verification on any one property is enough for CMP-20.
    let text = set(MINIMIS_INVENTORY, SCHEDULE, "verify", "[]");
    let text = set(
        &text,
        SCHEDULE,
        "retention_days",
        "{ value = 2555, verify = [\"contract\"] }",
    );
    assert!(compare(&text).gaps.is_empty());
}

#[test]
fn aud_21_every_category_is_classified_and_never_collected_ones_gap_only_when_held() {
    let i = MINIMIS_INVENTORY.find("\n[location]").unwrap();
    let fields = "retention_days = 1\nretention_starts = \"collection\"\nretention_enforced_by = \"deletion\"\nbackup_retention_days = 1\nrecords_schedule = \"X\"\nlegal_authority = \"Y\"\nencryption = \"none\"\nkey_holders = []\nshared = false\nhosting = \"H\"\nsub_processors = []\nvendor_staff_access = false\nthird_party_requests = \"legal-process\"\ncorrection = true\ndeletion = true\naccreditation = \"ATO\"\nbreach_history = []\nverify = [\"contract\"]\n";
    for &category in Category::ALL {
        let text = format!(
            "{}\n[[data]]\nid = \"probe\"\ncategory = \"{category}\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = [\"third-party\"]\nreadable_by = [\"third-party\"]\n{fields}{}",
            &MINIMIS_INVENTORY[..i],
            &MINIMIS_INVENTORY[i..]
        );
        let c = compare(&text);
        let probe: Vec<_> = c.gaps.iter().filter(|g| g.entry == "data.probe").collect();
        if category.held_by_minimis() {
            // Held by a third party: only content has a rule about who reads it.
            assert_eq!(
                probe.is_empty(),
                category != Category::CheckInContent,
                "{category}: {probe:?}"
            );
        } else {
            assert_eq!(probe.len(), 1, "{category}: {probe:?}");
            assert_eq!(probe[0].property, "held_by");
            assert_eq!(probe[0].tier, Tier::A);
        }
    }
}
