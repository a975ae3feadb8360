//! The `minimis` command as a user runs it.

use serde_json::Value;

fn demo_json(participants: &str) -> Value {
    let out = crate::minimis()
        .args(["demo", "--participants", participants, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ret_2_ret_3_demo_destroys_the_old_epoch_and_a_backup_stays_unreadable() {
    let s = demo_json("40");
    assert_eq!(s["participants"], 40);
    let o = &s["operator"];
    assert_eq!(o["sealed_checkins_received"], 80);
    assert_eq!(o["sealed_checkins_held"], 40, "the old epoch was purged");
    assert_eq!(o["decryption_keys"], 0);
    let r = &s["retention"];
    assert_eq!(r["records_purged"], 40);
    assert_eq!(r["backup_records"], 40);
    assert_eq!(r["backup_records_opened"], 0);
    assert_eq!(r["keys_tried_per_record"], 3);
    assert_eq!(r["live_epoch_record_opened_after"], true);
    // Both custodians hold the live epoch's key only.
    for c in s["custodians"].as_array().unwrap() {
        assert_eq!(c["destroyed_epochs"][0], r["destroyed_epoch"]);
        assert_eq!(c["live_epochs"].as_array().unwrap().len(), 1);
    }
    assert_eq!(
        s["distinct_log_tags"], 80,
        "ENR-3: a fresh tag per person per epoch"
    );
}

#[test]
fn log_18_demo_devices_verify_every_receipt_and_the_log_is_witnessed() {
    let s = demo_json("30");
    assert_eq!(s["receipts"]["issued"], 60);
    assert_eq!(s["receipts"]["verified_by_devices"], 60);
    assert_eq!(s["log"]["witness_cosigned"], true);
    assert_eq!(s["log"]["tiles_verified"], true);
    // policy, 30 enrollments, 2 x (30 challenges + 30 check-ins), accesses, retention.
    assert!(s["log"]["entries"].as_u64().unwrap() > 150);
}

#[test]
fn demo_accesses_are_justified_and_a_request_without_purpose_is_refused() {
    let s = demo_json("20");
    let a = &s["accesses"];
    assert_eq!(a["requests_denied"], 1);
    assert!(a["requests_granted"].as_u64().unwrap() >= 1);
    assert_eq!(a["records_opened_and_matched"], a["requests_granted"]);
    let policy = minimis_proto::default_policy();
    for purpose in a["by_purpose"].as_object().unwrap().keys() {
        assert!(policy.allows_purpose(purpose), "{purpose}");
    }
}

#[test]
fn seal_4_demo_ciphertexts_stay_within_the_bound() {
    let s = demo_json("25");
    let o = &s["operator"];
    assert!(o["min_bytes"].as_u64() >= o["bound_min"].as_u64());
    assert!(o["max_bytes"].as_u64() <= o["bound_max"].as_u64());
    assert_eq!(o["bound_max"], 1292);
}

#[test]
fn pol_11_policy_check_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let text =
        minimis_proto::DEFAULT_POLICY_TOML.replace("content_days = 90", "content_days = 4000");
    std::fs::write(&path, text).unwrap();
    let out = crate::minimis()
        .args(["policy", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retention.content_days") && err.contains("4000"),
        "{err}"
    );

    let out = crate::minimis().args(["policy", "check"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&minimis_proto::default_policy().hash().to_hex()),
        "{text}"
    );
}

#[test]
fn chk_2_payload_decode_refuses_bad_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payload.bin");
    std::fs::write(&path, [0u8; 512]).unwrap();
    let out = crate::minimis()
        .args(["payload", "decode"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 0"));
}

#[test]
fn demo_refuses_a_non_empty_export_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let out = crate::minimis()
        .args(["demo", "--participants", "2", "--quiet", "--export"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "mine"
    );
}
