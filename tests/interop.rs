//! A check-in sealed by another age v1 implementation than ours: the Go reference `age`
//! command (Debian's package), which writes no grease stanza. The operator accepts it
//! (SEAL-4, SEAL-20) and both custodians' steps open it back (SEAL-10).

use std::io::Write as _;
use std::process::{Command, Stdio};

use minimis_proto::{
    CiphertextBounds, CustodianRole, PresenceResult, SealedCheckIn, SignedEpochRecipient,
    ZoneResult,
};
use minimis_testkit::World;
use minimis_testkit::https::StatusCode;
use minimis_testkit::serve::{self, Serve, system_now};

/// Encrypts `plain` to `recipient` with the `age` command, binary output.
fn age_cli(recipient: &str, plain: &[u8]) -> Vec<u8> {
    let mut child = Command::new("age")
        .args(["-e", "-r", recipient])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the age command (Debian package age)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(plain).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Encrypts `plain` to `recipient` with the age crate (one grease stanza).
fn age_crate(recipient: &str, plain: &[u8]) -> Vec<u8> {
    let r: age::x25519::Recipient = recipient.parse().unwrap();
    let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = vec![];
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn recipient_of(published: &[SignedEpochRecipient], role: CustodianRole) -> String {
    published
        .iter()
        .find(|r| r.recipient.role == role)
        .unwrap()
        .recipient
        .recipient
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the age command; run by .ci/run"]
async fn seal_1_seal_4_seal_20_a_check_in_sealed_by_go_age_is_accepted_and_both_custodians_open_it()
{
    let world = World::keyed_at(system_now(), 1);
    let dir = tempfile::tempdir().unwrap();
    let options = serve::Options {
        log: Some("warn".into()),
        wait_until_served: true,
        ..serve::Options::default()
    };
    let server = Serve::start(
        env!("CARGO_BIN_EXE_minimis").as_ref(),
        &dir.path().join("data"),
        &world,
        &options,
    )
    .await;
    let mut c = server.client().await;
    for e in world.epochs() {
        for r in world.published(e) {
            let reply = c
                .post("/v1/recipients", serde_json::to_vec(&r).unwrap())
                .await
                .unwrap();
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json());
        }
    }
    let epoch = world.policy.epoch_at(system_now()).unwrap();
    let published = world.published(epoch);
    let agency = recipient_of(&published, CustodianRole::Agency);
    let oversight = recipient_of(&published, CustodianRole::Oversight);
    let two = CiphertextBounds::for_layers(2);

    // Inner (agency) and outer (oversight) layers by: Go age for both; Go age inside the
    // age crate; the age crate inside Go age. Each shape is a length the bound admits.
    type Layer = fn(&str, &[u8]) -> Vec<u8>;
    let shapes: [(&str, Layer, Layer); 3] = [
        ("go/go", age_cli, age_cli),
        ("go inner, crate outer", age_cli, age_crate),
        ("crate inner, go outer", age_crate, age_cli),
    ];
    let mut officer = server.officer_client().await;
    for (name, inner_by, outer_by) in shapes {
        let mut p = world.participant();
        p.schedule = serve::always_open();
        let p = minimis_testkit::https::enroll(&mut officer, p).await;
        let challenge = serve::first_challenge(&mut c, &p).await;
        assert_eq!(challenge.epoch, epoch);
        let mut payload = minimis_testkit::payload(
            challenge.id,
            ZoneResult::Inside,
            "sealed by another implementation",
        );
        payload.presence = PresenceResult::Confirmed;
        payload.device_time = system_now();
        let plain = payload.encode();

        let inner = inner_by(&agency, plain.expose());
        let outer = outer_by(&oversight, &inner);
        if name == "go/go" {
            // No grease stanza in either layer: exactly the bare length.
            assert_eq!(outer.len(), two.bare, "{name}");
        } else {
            assert!((two.min..=two.min + 177).contains(&outer.len()), "{name}");
        }
        let sealed = SealedCheckIn::new(outer, two).unwrap();
        let env =
            minimis_crypto::sign_envelope(&p.device, p.pseudonym, challenge.id, epoch, sealed);
        let r = c
            .post("/v1/checkins", serde_json::to_vec(&env).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.json());
        let answer: minimis_wire::operator::CheckInResponse =
            serde_json::from_slice(&r.body).unwrap();
        assert_eq!(answer.receipt.record_id, env.record_id(), "{name}");

        // The custodians' two steps: oversight removes the outer layer, agency opens the
        // inner one and decodes the payload.
        let oversight_id = world.oversight.as_ref().unwrap().identity(epoch).unwrap();
        let agency_id = world.agency.identity(epoch).unwrap();
        let inner_back = minimis_seal::remove_outer(&env.ciphertext, oversight_id).unwrap();
        assert_eq!(inner_back.as_bytes(), inner.as_slice(), "{name}");
        let opened = minimis_seal::open_inner(
            inner_back.as_bytes(),
            agency_id,
            world.policy.max_note_bytes(),
        )
        .unwrap();
        assert_eq!(opened, payload, "{name}");
    }
}
