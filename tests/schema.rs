//! What is never collected, checked against the model itself (LOC-1, LOC-2, POL-1 to
//! POL-8).
//!
//! Every wire type is serialised from an example and all of its JSON keys are collected,
//! recursively. The key sets must equal the allowlist in `spec/checkin.md` (block
//! `wire-fields`), so no field can be added without changing the spec; and no key may
//! name a category the spec says is never collected.

use std::collections::{BTreeMap, BTreeSet};

use minimis_proto::*;
use serde_json::Value;

fn examples() -> BTreeMap<&'static str, Value> {
    let sig = Signature([1; 64]);
    let challenge = Challenge {
        id: ChallengeId::from_bytes([2; 16]),
        pseudonym: Pseudonym::from_bytes([3; 16]),
        epoch: EpochId::new(2_912),
        kind: ChallengeKind::AdHoc,
        issued_at: UnixTime(1),
        window_start: UnixTime(0),
        window_end: UnixTime(2),
        policy: PolicyHash::from_bytes([4; 32]),
    };
    let recipient = EpochRecipient {
        epoch: EpochId::new(2_912),
        custodian: "agency".into(),
        role: CustodianRole::Agency,
        recipient: "age1…".into(),
        not_after: UnixTime(5),
    };
    let schedule = Schedule::new(
        "America/Chicago",
        vec![Window {
            weekday: Weekday::Monday,
            start: "09:00".parse().unwrap(),
            end: "10:00".parse().unwrap(),
        }],
        1,
        1,
    )
    .unwrap();
    let envelope = Envelope {
        pseudonym: Pseudonym::from_bytes([3; 16]),
        challenge_id: ChallengeId::from_bytes([2; 16]),
        epoch: EpochId::new(2_912),
        ciphertext: SealedCheckIn::try_from(vec![0; 1_000]).unwrap(),
        signature: sig,
    };
    let receipt = Receipt {
        record_id: envelope.record_id(),
        tlog_proof: "c2sp.org/tlog-proof@v1\n…".into(),
    };
    let mut m = BTreeMap::new();
    m.insert("Envelope", serde_json::to_value(&envelope).unwrap());
    m.insert("Challenge", serde_json::to_value(&challenge).unwrap());
    m.insert(
        "SignedChallenge",
        serde_json::to_value(SignedChallenge {
            challenge,
            signature: sig,
        })
        .unwrap(),
    );
    m.insert("Receipt", serde_json::to_value(&receipt).unwrap());
    m.insert("EpochRecipient", serde_json::to_value(&recipient).unwrap());
    m.insert(
        "SignedEpochRecipient",
        serde_json::to_value(SignedEpochRecipient {
            recipient,
            signature: sig,
        })
        .unwrap(),
    );
    m.insert("Schedule", serde_json::to_value(&schedule).unwrap());
    // What a device attaches to a row of its ledger (CHK-23, ACC-12), as the operator's
    // API takes it.
    use minimis_server::store::{FailureCategory, StatementCategory};
    use minimis_wire::operator::{FailureReportRequest, SealedText, StatementRequest};
    let text = || SealedText {
        epoch: EpochId::new(2_912),
        ciphertext: vec![0; 1_000],
    };
    m.insert("SealedText", serde_json::to_value(text()).unwrap());
    m.insert(
        "FailureReport",
        serde_json::to_value(FailureReportRequest {
            challenge_id: ChallengeId::from_bytes([2; 16]),
            category: FailureCategory::PresenceUnavailable,
            text: Some(text()),
        })
        .unwrap(),
    );
    m.insert(
        "Statement",
        serde_json::to_value(StatementRequest {
            challenge_id: ChallengeId::from_bytes([2; 16]),
            category: StatementCategory::Dispute,
            text: Some(text()),
        })
        .unwrap(),
    );
    m
}

fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        _ => {}
    }
}

fn top_keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Every key of every wire type and of the policy file.
fn all_keys() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for v in examples().values() {
        keys(v, &mut out);
    }
    let policy: toml::Value = toml::from_str(DEFAULT_POLICY_TOML).unwrap();
    keys(&serde_json::to_value(policy).unwrap(), &mut out);
    out
}

/// Fails if any key, or any `_`-separated word of a key, is in `forbidden`.
fn assert_no_key_names(category: &str, forbidden: &[&str]) {
    let all = all_keys();
    assert!(all.len() > 20, "the walk found the keys: {all:?}");
    for key in &all {
        let lower = key.to_lowercase();
        for word in std::iter::once(lower.as_str()).chain(lower.split('_')) {
            assert!(
                !forbidden.contains(&word),
                "field `{key}` looks like {category}, which the spec says is never collected"
            );
        }
    }
}

#[test]
fn pol_8_wire_types_hold_exactly_the_fields_the_spec_lists() {
    let spec = std::fs::read_to_string(crate::root().join("spec/checkin.md")).unwrap();
    let block = spec
        .split("```wire-fields\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("spec/checkin.md has a wire-fields block");
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (ty, fields) = line.split_once(':').expect("`Type: field field ...`");
        listed.insert(
            ty.trim().to_owned(),
            fields.split_whitespace().map(str::to_owned).collect(),
        );
    }
    let examples = examples();
    assert_eq!(
        listed.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        examples.keys().copied().collect::<BTreeSet<_>>(),
        "the spec lists every wire type, and only those"
    );
    for (ty, value) in &examples {
        assert_eq!(
            &top_keys(value),
            &listed[*ty],
            "{ty}: fields differ from spec/checkin.md"
        );
    }
}

#[test]
fn loc_1_pol_1_no_field_can_carry_a_location() {
    assert_no_key_names(
        "a location",
        &[
            "lat",
            "latitude",
            "lon",
            "lng",
            "long",
            "longitude",
            "coord",
            "coords",
            "coordinates",
            "gps",
            "geo",
            "geohash",
            "location",
            "position",
            "altitude",
            "accuracy",
            "bearing",
            "heading",
            "speed",
            "track",
            "trace",
            "place",
            "cell",
            "wifi",
            "ssid",
            "bssid",
            "beacon",
        ],
    );
}

#[test]
fn loc_2_only_a_zone_result_leaves_the_device() {
    // The payload's fields, exhaustively: adding a field breaks this destructuring.
    let p = minimis_testkit::payload(ChallengeId::from_bytes([0; 16]), ZoneResult::Inside, "");
    let CheckInPayload {
        challenge_id: _,
        zone,
        presence: _,
        device_time: _,
        note: _,
    } = p;
    // The zone result has four values and no data: adding a variant breaks this match.
    let tag = match zone {
        ZoneResult::Inside => 1,
        ZoneResult::Outside => 2,
        ZoneResult::Unavailable => 3,
        ZoneResult::NotRequired => 4,
    };
    assert_eq!(tag, zone.tag());
    // And the encoding has room for nothing else: 29 header bytes, the note, zero padding.
    let enc = p_encoded();
    assert!(
        enc[minimis_proto::payload::HEADER_LEN..]
            .iter()
            .all(|&b| b == 0)
    );
}

fn p_encoded() -> [u8; minimis_proto::payload::PAYLOAD_LEN] {
    *minimis_testkit::payload(ChallengeId::from_bytes([0; 16]), ZoneResult::Inside, "")
        .encode()
        .expose()
}

#[test]
fn pol_2_no_field_for_contacts_or_third_parties() {
    assert_no_key_names(
        "contacts or third parties",
        &[
            "contact",
            "contacts",
            "phone",
            "reference",
            "references",
            "email",
            "relative",
            "relatives",
            "family",
            "friend",
            "friends",
            "emergency",
            "sponsor",
        ],
    );
}

#[test]
fn pol_3_no_field_for_vehicles() {
    assert_no_key_names(
        "vehicle or driver data",
        &[
            "vehicle", "plate", "vin", "driver", "license", "licence", "car", "make", "model",
        ],
    );
}

#[test]
fn pol_4_no_field_for_biometrics() {
    assert_no_key_names(
        "a biometric",
        &[
            "face",
            "photo",
            "image",
            "selfie",
            "picture",
            "voice",
            "voiceprint",
            "audio",
            "biometric",
            "biometrics",
            "template",
            "iris",
            "fingerprint",
            "video",
            "liveness",
        ],
    );
}

#[test]
fn pol_5_no_field_for_health() {
    assert_no_key_names(
        "health data",
        &[
            "health",
            "medical",
            "pregnancy",
            "pregnant",
            "birth",
            "births",
            "diagnosis",
            "medication",
            "disability",
            "condition",
        ],
    );
}

#[test]
fn pol_6_no_field_for_device_identifiers() {
    assert_no_key_names(
        "a device identifier",
        &[
            "imei",
            "imsi",
            "meid",
            "serial",
            "device_id",
            "advertising",
            "idfa",
            "gaid",
            "mac",
            "msisdn",
            "hardware",
            "android",
            "udid",
        ],
    );
}

#[test]
fn pol_7_no_field_for_request_metadata() {
    assert_no_key_names(
        "request metadata",
        &[
            "ip",
            "addr",
            "address",
            "user_agent",
            "useragent",
            "agent",
            "remote",
            "forwarded",
            "host",
            "port",
            "referer",
            "referrer",
            "cookie",
            "session",
            "network",
            "carrier",
        ],
    );
}

#[test]
fn enr_1_no_field_for_a_persons_identity() {
    assert_no_key_names(
        "a person's identity",
        &[
            "surname",
            "firstname",
            "first_name",
            "last_name",
            "full_name",
            "a_number",
            "anumber",
            "alien",
            "dob",
            "ssn",
            "passport",
            "person",
            "nationality",
            "gender",
        ],
    );
}

#[test]
fn chk_45_json_spellings_are_exactly_the_specs() {
    let spec = std::fs::read_to_string(crate::root().join("spec/checkin.md")).unwrap();
    let block = spec
        .split("```json-spellings\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("spec/checkin.md has a json-spellings block");
    let listed: BTreeMap<String, Value> = block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, json) = l.split_once(' ').expect("`Name json`");
            (name.to_owned(), serde_json::from_str(json).unwrap())
        })
        .collect();
    // Every value of every enumeration, as the implementation writes it.
    let mut ours: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |name: String, v: Value| {
        assert!(ours.insert(name, v).is_none());
    };
    for (n, k) in [
        ("Scheduled", ChallengeKind::Scheduled),
        ("AdHoc", ChallengeKind::AdHoc),
    ] {
        put(
            format!("ChallengeKind::{n}"),
            serde_json::to_value(k).unwrap(),
        );
    }
    for (n, r) in [
        ("Agency", CustodianRole::Agency),
        ("Oversight", CustodianRole::Oversight),
    ] {
        put(
            format!("CustodianRole::{n}"),
            serde_json::to_value(r).unwrap(),
        );
    }
    let debug = |d: &dyn std::fmt::Debug| format!("{d:?}");
    for s in [
        LedgerState::Open,
        LedgerState::OnTime,
        LedgerState::Late,
        LedgerState::PendingReview,
    ]
    .into_iter()
    .chain(Resolution::ALL.map(LedgerState::Resolved))
    {
        put(
            format!("LedgerState::{}", debug(&s)),
            serde_json::to_value(s).unwrap(),
        );
    }
    for r in Resolution::ALL {
        put(
            format!("Resolution::{}", debug(&r)),
            serde_json::to_value(r).unwrap(),
        );
    }
    for r in ResolutionReason::ALL {
        put(
            format!("ResolutionReason::{}", debug(&r)),
            serde_json::to_value(r).unwrap(),
        );
    }
    for c in FailureCategory::ALL {
        put(
            format!("FailureCategory::{}", debug(&c)),
            serde_json::to_value(c).unwrap(),
        );
    }
    for c in StatementCategory::ALL {
        put(
            format!("StatementCategory::{}", debug(&c)),
            serde_json::to_value(c).unwrap(),
        );
    }
    assert_eq!(listed, ours, "spec/checkin.md's json-spellings block");
    // And each spelling reads back as its value, and no other spelling does.
    assert_eq!(
        serde_json::from_value::<ChallengeKind>(serde_json::json!("ad-hoc")).unwrap(),
        ChallengeKind::AdHoc
    );
    for wrong in ["adhoc", "ad_hoc", "AdHoc", "Ad-Hoc"] {
        assert!(serde_json::from_value::<ChallengeKind>(serde_json::json!(wrong)).is_err());
    }
    assert!(serde_json::from_value::<LedgerState>(serde_json::json!("on-time")).is_err());
}
