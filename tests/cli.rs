//! The `minimis` command as a user runs it.

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
