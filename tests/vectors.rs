//! The committed test vectors under `spec/vectors/`: they match the generator, and each
//! one means what it says when checked by the implementation.

use std::collections::BTreeSet;
use std::path::Path;

use minimis_crypto::{SigningKey, TagKey, verify};
use minimis_proto::*;
use serde_json::Value;

fn vectors_dir() -> std::path::PathBuf {
    crate::root().join("spec/vectors")
}

fn files(sub: &str) -> Vec<(String, Value)> {
    let dir = vectors_dir().join(sub);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no vectors in {}", dir.display());
    out
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn chk_1_vectors_match_the_generator() {
    let generated = minimis_testkit::vectors::all();
    let mut on_disk = BTreeSet::new();
    walk(&vectors_dir(), &vectors_dir(), &mut on_disk);
    let expected: BTreeSet<String> = generated.iter().map(|v| v.path.clone()).collect();
    assert_eq!(
        on_disk,
        expected,
        "spec/vectors/ differs from the generator; run `{}`",
        minimis_testkit::vectors::REGENERATE
    );
    for v in generated {
        let committed = std::fs::read_to_string(vectors_dir().join(&v.path)).unwrap();
        assert_eq!(
            committed,
            v.to_file(),
            "{} is stale; run `{}`",
            v.path,
            minimis_testkit::vectors::REGENERATE
        );
    }
}

#[test]
fn chk_1_chk_2_payload_vectors_decode_as_documented() {
    let mut ok = 0;
    let mut fail = 0;
    for (name, v) in files("payload") {
        let bytes = unhex(&v["encoded"]);
        let max = v["max_note_bytes"].as_u64().unwrap() as usize;
        let result = CheckInPayload::decode(&bytes, max);
        if name.starts_with("fail_") {
            let err = result.expect_err(&name);
            assert_eq!(err.code(), v["error"].as_str().unwrap(), "{name}");
            fail += 1;
        } else {
            assert!(name.starts_with("ok_"), "{name}");
            let p = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = &v["expected"];
            assert_eq!(p.challenge_id.to_hex(), want["challenge_id"], "{name}");
            assert_eq!(
                serde_json::to_value(p.zone).unwrap(),
                want["zone"],
                "{name}"
            );
            assert_eq!(
                serde_json::to_value(p.presence).unwrap(),
                want["presence"],
                "{name}"
            );
            assert_eq!(
                p.device_time.seconds(),
                want["device_time"].as_i64().unwrap()
            );
            assert_eq!(p.note.expose(), want["note"].as_str().unwrap(), "{name}");
            // One encoding: re-encoding gives the very same bytes.
            assert_eq!(&p.encode().expose()[..], &bytes[..], "{name}");
            ok += 1;
        }
    }
    assert!(ok >= 4 && fail >= 10, "{ok} ok, {fail} fail");
}

#[test]
fn enr_3_tag_vectors_recompute() {
    for (name, v) in files("tag") {
        let mut key = [0u8; 32];
        key.copy_from_slice(&unhex(&v["tag_key"]));
        let key = TagKey::from_bytes(zeroize::Zeroizing::new(key));
        let pseudonym: Pseudonym = v["pseudonym"].as_str().unwrap().parse().unwrap();
        let epoch = EpochId::new(v["epoch"].as_u64().unwrap() as u32);
        assert_eq!(key.tag(&pseudonym, epoch).to_hex(), v["tag"], "{name}");
    }
}

#[test]
fn chk_10_chk_12_envelope_vector_signs_and_hashes_as_documented() {
    for (name, v) in files("envelope") {
        let device = SigningKey::from_seed(&unhex(&v["device_seed"])).unwrap();
        let env: Envelope = serde_json::from_value(v["json"].clone()).unwrap();
        assert_eq!(env.signing_input(), unhex(&v["signing_input"]), "{name}");
        assert_eq!(env.ciphertext.as_bytes(), &unhex(&v["ciphertext"])[..]);
        assert_eq!(&env.signature.0[..], &unhex(&v["signature"])[..]);
        // Ed25519 is deterministic: the seed reproduces the signature.
        assert_eq!(device.sign(&env.signing_input()), env.signature, "{name}");
        assert!(verify(&device.public_key(), &env.signing_input(), &env.signature).is_ok());
        assert_eq!(env.record_id().to_hex(), v["record_id"], "{name}");
        // The signing input starts with its label and carries the fields in order.
        let input = env.signing_input();
        assert!(input.starts_with(b"minimis/v1 check-in\n"));
        assert_eq!(&input[20..36], env.pseudonym.as_bytes());
        assert_eq!(&input[36..52], env.challenge_id.as_bytes());
        assert_eq!(&input[52..56], &env.epoch.get().to_be_bytes());
        assert_eq!(&input[56..60], &(env.ciphertext.len() as u32).to_be_bytes());
    }
}

#[test]
fn chl_6_challenge_vector_verifies() {
    for (name, v) in files("challenge") {
        let op = SigningKey::from_seed(&unhex(&v["operator_seed"])).unwrap();
        let signed: SignedChallenge = serde_json::from_value(v["json"].clone()).unwrap();
        assert_eq!(
            signed.challenge.signing_input(),
            unhex(&v["signing_input"]),
            "{name}"
        );
        assert_eq!(op.sign(&signed.challenge.signing_input()), signed.signature);
        assert!(minimis_crypto::verify_challenge(&signed, &op.public_key()).is_ok());
    }
}

#[test]
fn seal_7_epoch_recipient_vector_verifies() {
    for (name, v) in files("epoch-recipient") {
        let c = SigningKey::from_seed(&unhex(&v["custodian_seed"])).unwrap();
        let signed: SignedEpochRecipient = serde_json::from_value(v["json"].clone()).unwrap();
        assert_eq!(
            signed.recipient.signing_input(),
            unhex(&v["signing_input"]),
            "{name}"
        );
        assert!(minimis_crypto::verify_epoch_recipient(&signed, &c.public_key()).is_ok());
    }
}

#[test]
fn pol_12_default_policy_hash_vector() {
    for (name, v) in files("policy") {
        let p = default_policy();
        assert_eq!(p.canonical_bytes(), unhex(&v["canonical"]), "{name}");
        assert_eq!(p.hash().to_hex(), v["hash"], "{name}");
        assert_eq!(
            hex::encode(minimis_crypto::sha256(&p.canonical_bytes())),
            v["hash"].as_str().unwrap()
        );
    }
}

#[test]
fn obl_3_obl_8_obl_12_obligation_vectors_decode_as_documented() {
    use minimis_proto::obligations::{ConditionResult, Delivery, Filing};
    let mut seen = 0;
    for kind in ["condition", "filing", "delivery"] {
        let (mut ok, mut fail) = (0, 0);
        for (name, v) in files(kind) {
            let bytes = unhex(&v["encoded"]);
            // Decoded, then encoded again: the code of the refusal, or the same bytes.
            let result: Result<Vec<u8>, &'static str> = match kind {
                "condition" => ConditionResult::decode(&bytes)
                    .map(|c| c.encode().to_vec())
                    .map_err(|e| e.code()),
                "filing" => Filing::decode(&bytes)
                    .map(|f| f.encode().to_vec())
                    .map_err(|e| e.code()),
                _ => Delivery::decode(&bytes)
                    .map(|d| d.encode().to_vec())
                    .map_err(|e| e.code()),
            };
            if name.starts_with("fail_") {
                assert_eq!(result, Err(v["error"].as_str().unwrap()), "{kind}/{name}");
                fail += 1;
            } else {
                assert!(name.starts_with("ok_"), "{name}");
                assert_eq!(result, Ok(bytes), "{kind}/{name}");
                ok += 1;
            }
        }
        assert!(ok >= 2 && fail >= 4, "{kind}: {ok} ok, {fail} fail");
        seen += ok + fail;
    }
    assert_eq!(seen, 23);
}
