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

/// `u32 BE len || bytes`, as the signing inputs write a string.
fn lp(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s);
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

/// The vector's `authorization` is the header the spec's grammar gives, and its signature
/// is the one in the vector.
fn check_authorization(v: &Value, scheme: &str, first: (&str, &str)) {
    let sig = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        unhex(&v["signature"]),
    );
    assert_eq!(
        v["authorization"].as_str().unwrap(),
        format!(
            "{scheme} {}={},time={},signature={sig}",
            first.0, first.1, v["time"]
        )
    );
}

#[test]
fn chk_13_device_request_vector_signs_as_documented() {
    for (name, v) in files("request") {
        let device = SigningKey::from_seed(&unhex(&v["device_seed"])).unwrap();
        let pseudonym: Pseudonym = v["pseudonym"].as_str().unwrap().parse().unwrap();
        let (method, path) = (
            v["method"].as_str().unwrap(),
            v["path_and_query"].as_str().unwrap(),
        );
        let time = v["time"].as_i64().unwrap();
        let body = unhex(&v["body"]);
        // The layout of CHK-13, written out here rather than taken from the code.
        let mut input = b"minimis/v1 request\n".to_vec();
        input.extend_from_slice(pseudonym.as_bytes());
        lp(&mut input, method.as_bytes());
        lp(&mut input, path.as_bytes());
        input.extend_from_slice(&time.to_be_bytes());
        input.extend_from_slice(&sha256(&body));
        assert_eq!(input, unhex(&v["signing_input"]), "{name}");
        let sig = device.sign(&input);
        assert_eq!(&sig.0[..], &unhex(&v["signature"])[..], "{name}");
        assert!(
            minimis_crypto::verify_request(
                &device.public_key(),
                &pseudonym,
                method,
                path,
                UnixTime(time),
                &body,
                &sig
            )
            .is_ok()
        );
        check_authorization(&v, "Minimis-Device", ("pseudonym", &pseudonym.to_string()));
    }
}

#[test]
fn chk_40_custodian_request_vector_signs_as_documented() {
    for (name, v) in files("custodian-request") {
        let key = SigningKey::from_seed(&unhex(&v["custodian_seed"])).unwrap();
        let role = match v["role"].as_str().unwrap() {
            "agency" => CustodianRole::Agency,
            "oversight" => CustodianRole::Oversight,
            other => panic!("{name}: role {other}"),
        };
        let (method, path) = (
            v["method"].as_str().unwrap(),
            v["path_and_query"].as_str().unwrap(),
        );
        let time = v["time"].as_i64().unwrap();
        let body = unhex(&v["body"]);
        assert_eq!(sha256(&body), unhex(&v["body_sha256"]), "{name}");
        // The layout of CHK-40, written out here rather than taken from the code.
        let mut input = b"minimis/v1 custodian-request\n".to_vec();
        input.push(match role {
            CustodianRole::Agency => 1,
            CustodianRole::Oversight => 2,
        });
        lp(&mut input, method.as_bytes());
        lp(&mut input, path.as_bytes());
        input.extend_from_slice(&time.to_be_bytes());
        input.extend_from_slice(&sha256(&body));
        assert_eq!(input, unhex(&v["signing_input"]), "{name}");
        let sig = key.sign(&input);
        assert_eq!(&sig.0[..], &unhex(&v["signature"])[..], "{name}");
        assert!(
            minimis_crypto::verify_custodian_request(
                &key.public_key(),
                role,
                method,
                path,
                UnixTime(time),
                &body,
                &sig
            )
            .is_ok()
        );
        check_authorization(
            &v,
            "Minimis-Custodian",
            ("role", v["role"].as_str().unwrap()),
        );
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

#[test]
fn seal_6_chk_43_seal_23_the_examples_epochs_follow_the_epoch_rule() {
    let policy = default_policy();
    // 2026-11-26T16:00:00Z, the examples' instant, is in epoch 2968 (SEAL-6).
    let thursday = UnixTime(1_795_708_800);
    let epoch = policy.epoch_at(thursday).unwrap();
    assert_eq!(epoch, EpochId::new(2_968));
    for (name, v) in files("challenge") {
        let signed: SignedChallenge = serde_json::from_value(v["json"].clone()).unwrap();
        let c = signed.challenge;
        assert_eq!(policy.epoch_at(c.issued_at), Some(c.epoch), "{name}");
    }
    for (name, v) in files("envelope") {
        let env: Envelope = serde_json::from_value(v["json"].clone()).unwrap();
        assert_eq!(env.epoch, epoch, "{name}");
    }
    for (name, v) in files("epoch-recipient") {
        let r: SignedEpochRecipient = serde_json::from_value(v["json"].clone()).unwrap();
        assert_eq!(r.recipient.epoch, epoch, "{name}");
        assert_eq!(
            r.recipient.not_after,
            policy.epoch_end(r.recipient.epoch),
            "{name}"
        );
    }
    // The spec's JSON examples of that Thursday name the same epoch.
    for doc in ["checkin.md", "schedule.md"] {
        let text = std::fs::read_to_string(crate::root().join("spec").join(doc)).unwrap();
        let epochs: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("\"epoch\": "))
            .collect();
        assert!(!epochs.is_empty(), "{doc}");
        for e in epochs {
            assert_eq!(e.trim_end_matches(','), "2968", "{doc}");
        }
    }
}
