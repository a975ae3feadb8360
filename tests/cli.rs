//! The `minimis` command as a user runs it.

use serde_json::Value;

#[test]
fn ret_2_demo_opens_everything_then_nothing_of_the_destroyed_epoch() {
    let out = crate::minimis()
        .args(["demo", "--participants", "40", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["participants"], 40);
    assert_eq!(s["operator"]["sealed_checkins"], 80);
    assert_eq!(s["operator"]["decryption_keys"], 0);
    assert_eq!(s["opened_before_retention"]["opened_and_matched"], 80);
    let r = &s["retention"];
    assert_eq!(r["records_still_stored"], 40);
    assert_eq!(r["records_opened_after_destruction"], 0);
    assert_eq!(r["surviving_epoch_records_opened"], 40);
    // Both custodians hold the current epoch's key only.
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
fn seal_4_demo_ciphertexts_stay_within_the_bound() {
    let out = crate::minimis()
        .args(["demo", "--participants", "25", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
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
