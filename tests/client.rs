//! The participant's device library against a real `minimis-server` over TLS.

use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::presence::{PinPresence, PinVerifier};
use minimis_client::transport::Https;
use minimis_client::{Api, Device, Enrollment, FailureCategory};
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::*;
use zeroize::Zeroizing;

use crate::server::Harness;

struct Gps(u32);

impl LocationSource for Gps {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        self.0 += 1;
        Ok(cap.into_fix(41.8781, -87.6298))
    }
}

const CHICAGO: &str = r#"{"type":"Polygon","coordinates":[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]}"#;

fn https(h: &Harness, officer: bool) -> Api<Https> {
    let client = officer.then_some((h.officer.0.as_str(), h.officer.1.as_str()));
    Api::new(Https::new(h.running.addr(), "localhost", &h.server_cert, client).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chl_5_enr_2_enroll_check_in_verify_the_receipt_and_see_the_ledger_over_tls() {
    let h = Harness::start().await;
    let officer = https(&h, true);
    let device_api = https(&h, false);

    // Enrollment, in person: the device makes its keys; the officer enrolls it.
    let key = SigningKey::generate().unwrap();
    let tags = TagKey::generate().unwrap();
    let schedule = h.world.participant().schedule;
    let enrolled = officer.enroll(&key, &tags, &schedule).await.unwrap();
    let keys = device_api.keys().await.unwrap();
    let enrollment = Enrollment {
        pseudonym: enrolled.pseudonym,
        schedule,
        zone: Some(Zone::from_geojson(CHICAGO).unwrap()),
        policy: h.world.policy.clone().into(),
        policy_text: DEFAULT_POLICY_TOML.into(),
        operator_key: keys.operator,
        log_key: keys.log.parse().unwrap(),
        witnesses: vec![],
        custodians: h.world.custodian_keys(),
    };
    let mut device = Device::new(enrollment, key, tags);
    let pin = PinVerifier::new("482913").unwrap();

    h.running.tick().await.unwrap();
    let now = h.clock_now();
    let challenges = device_api.challenges(&device, now).await.unwrap();
    assert_eq!(challenges.len(), 1);
    let accepted = device.accept(challenges[0].clone(), now).unwrap();
    let epoch = h.world.policy.epoch_at(now).unwrap();
    let recipients = device_api.recipients(epoch).await.unwrap();
    let mut gps = Gps(0);
    let mut presence = PinPresence::new(&pin, || Some(Zeroizing::new("482913".to_owned())));
    let env = device
        .check_in(
            accepted,
            &mut gps,
            &mut presence,
            "on the bus",
            &recipients,
            now,
        )
        .unwrap();
    assert_eq!(gps.0, 1);
    let (receipt, state) = device_api.submit(&env).await.unwrap();
    assert_eq!(state["state"], "on-time");
    device.keep_receipt(receipt).unwrap();
    assert!(
        device.sent()[0].receipt.is_some(),
        "the receipt is verified and kept"
    );

    // A hostile ad-hoc burst through the officer API: the server stops at the schedule's
    // daily cap, and the device would refuse anything beyond it anyway.
    let refused = officer.adhoc(&device.pseudonym()).await.unwrap_err();
    assert_eq!(refused.code(), Some("daily_cap_reached"));

    // The participant sees their ledger as the server holds it.
    let ledger = device_api.ledger(&device, h.clock_now()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].state["state"], "on-time");

    // A failure recorded on the device is reported at the next chance.
    let c = challenges[0].challenge.id;
    device.record_failure(c, FailureCategory::NoNetwork, h.clock_now());
    for f in device.unreported_failures() {
        device_api
            .report_failure(&device, f.challenge, f.category, h.clock_now())
            .await
            .unwrap();
        device.mark_reported(f.challenge);
    }
    assert!(device.unreported_failures().is_empty());
    let ledger = device_api.ledger(&device, h.clock_now()).await.unwrap();
    assert_eq!(ledger[0].failure_report.as_deref(), Some("no-network"));
}
