//! The participant's device library against a real `minimis-server` over TLS.

use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::presence::{PinPresence, PinVerifier};
use minimis_client::transport::Https;
use minimis_client::{Api, Device, Enrollment, FailureCategory};
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::*;
use minimis_wire::OperatorRefusal;
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
async fn chl_5_enr_2_chk_23_acc_12_enroll_check_in_verify_the_receipt_report_a_failure_and_see_the_ledger_over_tls()
 {
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
        tlog_policy: None,
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
    assert_eq!(state, LedgerState::OnTime);
    device.keep_receipt(receipt).unwrap();
    assert!(
        device.sent()[0].receipt.is_some(),
        "the receipt is verified and kept"
    );

    // A hostile ad-hoc burst through the officer API: the server stops at the schedule's
    // daily cap, and the device would refuse anything beyond it anyway.
    let refused = officer.adhoc(&device.pseudonym()).await.unwrap_err();
    assert_eq!(refused.refusal(), Some(OperatorRefusal::DailyCapReached));

    // The participant sees their ledger as the server holds it.
    let ledger = device_api.ledger(&device, h.clock_now()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].state, LedgerState::OnTime);

    // A failure recorded on the device is reported at the next chance, with a few words
    // sealed on the device (CHK-22, CHK-23).
    let c = challenges[0].challenge.id;
    device.record_failure(c, FailureCategory::NoNetwork, h.clock_now());
    let canary = "minimis-canary-client-5e21: sin señal en el metro";
    let text = device
        .seal_text(c, canary, &recipients, h.clock_now())
        .unwrap();
    assert_eq!(text.epoch, epoch);
    for f in device.unreported_failures() {
        device_api
            .report_failure(&device, f.challenge, f.category, Some(&text), h.clock_now())
            .await
            .unwrap();
        device.mark_reported(f.challenge);
    }
    assert!(device.unreported_failures().is_empty());
    let ledger = device_api.ledger(&device, h.clock_now()).await.unwrap();
    assert_eq!(ledger[0].failure_report, Some(FailureCategory::NoNetwork));
    let link = ledger[0].failure_text.as_ref().expect("the text is linked");
    assert_eq!(link.epoch, epoch);
    // Only the custodians, together, open it: the note of a payload for the row's
    // challenge, with no location and no presence result.
    let opened = minimis_seal::open(
        &SealedCheckIn::try_from(text.ciphertext.clone()).unwrap(),
        epoch,
        &h.world.agency,
        h.world.oversight.as_ref(),
        h.world.policy.max_note_bytes(),
    )
    .unwrap();
    assert_eq!(opened.note.expose(), canary);
    assert_eq!(opened.challenge_id, c);
    assert_eq!(opened.zone, ZoneResult::NotRequired);
    assert_eq!(opened.presence, PresenceResult::NotRequired);
    assert_eq!(gps.0, 1, "sealing a text takes no location fix");
    // The operator holds it only as ciphertext: the words are in none of its files.
    let mut files = Vec::new();
    crate::server::files_under(h.dir.path(), &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(26).any(|w| w == &canary.as_bytes()[..26]),
            "the report's text reached {} in the clear",
            f.display()
        );
    }
    // The participant attaches a statement, with their own words sealed, to the same row:
    // the row keeps its state and shows the report and the statement together (ACC-12).
    let words = device
        .seal_text(
            c,
            "I was at the clinic; the letter is with my lawyer",
            &recipients,
            h.clock_now(),
        )
        .unwrap();
    let state_before = ledger[0].state;
    device_api
        .statement(
            &device,
            c,
            minimis_client::StatementCategory::Explanation,
            Some(&words),
            h.clock_now(),
        )
        .await
        .unwrap();
    let ledger = device_api.ledger(&device, h.clock_now()).await.unwrap();
    assert_eq!(
        ledger[0]
            .statements
            .iter()
            .map(|s| s.category)
            .collect::<Vec<_>>(),
        vec![minimis_client::StatementCategory::Explanation]
    );
    assert_eq!(
        ledger[0].state, state_before,
        "a statement changes no state"
    );
    assert_eq!(ledger[0].failure_report, Some(FailureCategory::NoNetwork));
    // A statement on a challenge that is not this participant's is refused.
    let err = device_api
        .statement(
            &device,
            ChallengeId::from_bytes([0x42; 16]),
            minimis_client::StatementCategory::Dispute,
            None,
            h.clock_now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.refusal(), Some(OperatorRefusal::UnknownChallenge));

    // A text longer than the policy's note bound is refused on the device.
    let long = "x".repeat(h.world.policy.max_note_bytes() + 1);
    assert!(matches!(
        device.seal_text(c, &long, &recipients, h.clock_now()),
        Err(minimis_client::CheckInError::Note(_))
    ));
}

// ---- the participant's own record against the real services (ACC-11, ENR-4) -------------

use minimis_client::bundle::{Bundle, ZoneCommitment, ZoneSalt};
use minimis_client::history::{FoundEntry, OnDevice, ReceiptState};
use minimis_custodian::protocol::AccessRequest;
use minimis_testkit::NOW;
use minimis_testkit::https::{Client, StatusCode, Versions};

use crate::custodian::{RealStack as Stack, read};

/// What the participant's tests add to the end-to-end stack of `tests/custodian.rs`.
impl Stack {
    fn api(&self, officer: bool) -> Api<Https> {
        let (c, k) = (
            self.server_tls("officer-0001.crt"),
            self.server_tls("officer-0001.key"),
        );
        let client = officer.then_some((c.as_str(), k.as_str()));
        Api::new(
            Https::new(
                self.server.addr(),
                "localhost",
                &self.server_tls("server.crt"),
                client,
            )
            .unwrap(),
        )
    }

    /// An officer's mutual-TLS connection to the agency custodian.
    async fn officer_at_agency(&self) -> Client {
        let t = self.dir.path().join("agency/tls");
        let (c, k) = (
            read(t.join("officer-0001.crt")),
            read(t.join("officer-0001.key")),
        );
        Client::connect(
            self.agency.addr(),
            &read(t.join("ca.crt")),
            Some((&c, &k)),
            Versions::Tls13,
        )
        .await
        .unwrap()
    }
}

/// A participant enrolled in person: the officer enrolls the device's key with the
/// operator, the agency's enrollment station signs the bundle, and the device accepts it.
async fn enroll_with_bundle(
    s: &Stack,
    agency_enrollment: &minimis_log::NoteSigner,
    zone: Option<&str>,
) -> Device {
    let officer = s.api(true);
    let key = SigningKey::generate().unwrap();
    let tags = TagKey::generate().unwrap();
    let schedule = minimis_testkit::World::new(&[]).participant().schedule;
    let enrolled = officer.enroll(&key, &tags, &schedule).await.unwrap();
    let keys = s.api(false).keys().await.unwrap();
    let zone = zone.map(|z| {
        (
            Zone::from_geojson(z).unwrap(),
            ZoneSalt::generate().unwrap(),
        )
    });
    let bundle = Bundle {
        pseudonym: enrolled.pseudonym,
        device_key: key.public_key(),
        policy: enrolled.policy.parse().unwrap(),
        schedule,
        zone: zone.as_ref().map(|(z, salt)| ZoneCommitment::new(salt, z)),
        operator_key: keys.operator,
        log_key: keys.log.parse().unwrap(),
        witnesses: vec![s.oversight.node().witness().unwrap().verifier_key().clone()],
        tlog_policy: None,
        custodians: minimis_seal::CustodianKeys {
            agency: s.keys[0],
            oversight: Some(s.keys[1]),
        },
        obligations: None,
        issued: NOW,
    };
    let note = bundle.sign(agency_enrollment).unwrap();
    // The participant is shown the notice of the policy the bundle cites (ENR-20).
    let (text, shown) = minimis_client::notice::show(
        &default_policy(),
        minimis_client::notice::Language::English,
        None,
    );
    assert!(text.contains("WHAT THIS APP DOES"));
    Device::enroll(
        &note,
        &agency_enrollment.verifier_key(),
        DEFAULT_POLICY_TOML,
        zone,
        shown,
        key,
        tags,
    )
    .unwrap()
}

/// Fetches the open challenge, checks in, and keeps the receipt.
async fn check_in(api: &Api<Https>, device: &mut Device, note: &str) -> (ChallengeId, RecordId) {
    let challenges = api.challenges(device, NOW).await.unwrap();
    assert_eq!(challenges.len(), 1);
    let accepted = device.accept(challenges[0].clone(), NOW).unwrap();
    let id = accepted.challenge().id;
    let epoch = default_policy().epoch_at(NOW).unwrap();
    let recipients = api.recipients(epoch).await.unwrap();
    let pin = PinVerifier::new("482913").unwrap();
    let mut presence = PinPresence::new(&pin, || Some(Zeroizing::new("482913".to_owned())));
    let env = device
        .check_in(accepted, &mut Gps(0), &mut presence, note, &recipients, NOW)
        .unwrap();
    let (receipt, state) = api.submit(&env).await.unwrap();
    assert_eq!(state, LedgerState::OnTime);
    device.keep_receipt(receipt).unwrap();
    (id, env.record_id())
}

fn access(records: &[RecordId], purpose: &str) -> Vec<u8> {
    serde_json::to_vec(&AccessRequest {
        records: records.iter().map(ToString::to_string).collect(),
        purpose: purpose.into(),
        legal_basis: "release-conditions".into(),
        case_reference: "HOU-2025-004211".into(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc_11_enr_4_the_participant_sees_their_challenge_check_in_receipt_ledger_and_accesses_and_nothing_of_anyone_else()
 {
    let s = Stack::start().await;
    let station = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("agency.example/enrollment").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let mut me = enroll_with_bundle(&s, &station, Some(CHICAGO)).await;
    let mut other = enroll_with_bundle(&s, &station, None).await;
    assert_eq!(
        me.bundle().unwrap().policy,
        default_policy().hash(),
        "the bundle cites the policy"
    );
    s.server.tick().await.unwrap();
    let api = s.api(false);
    let (my_challenge, my_record) = check_in(&api, &mut me, "on the bus").await;
    let (their_challenge, their_record) = check_in(&api, &mut other, "at work").await;

    // An officer opens my check-in through both custodians, is refused a request with no
    // allowed purpose, and opens the other participant's check-in too.
    std::fs::write(
        s.dir.path().join("caseload.toml"),
        format!(
            "[officers]\nofficer-0001 = [\"{}\", \"{}\"]\n",
            me.pseudonym(),
            other.pseudonym()
        ),
    )
    .unwrap();
    let mut officer = s.officer_at_agency().await;
    let r = officer
        .post("/v1/access", access(&[my_record], "compliance-review"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["records"][0]["note"], "on the bus");
    let r = officer
        .post("/v1/access", access(&[my_record], "curiosity"))
        .await
        .unwrap();
    assert_eq!(r.code(), "purpose_not_allowed");
    let r = officer
        .post("/v1/access", access(&[their_record], "compliance-review"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());

    // My record, put together on my device from the ledger and the verified log.
    let h = me.history(&api, NOW).await.unwrap();
    assert!(h.log.checked_now);
    assert_eq!(
        h.log.entries_read, h.log.size,
        "the first look reads the whole log"
    );
    assert_eq!(
        h.log.receipts_checked, 1,
        "my receipt's checkpoint is checked"
    );
    assert!(h.discrepancies.is_empty(), "{:?}", h.discrepancies);

    // The challenge, answered.
    let challenges: Vec<_> = h.challenges().collect();
    assert_eq!(challenges.len(), 1);
    assert!(matches!(
        &challenges[0].entry,
        FoundEntry::ChallengeIssued { challenge, on_device: OnDevice::Answered, .. }
            if *challenge == my_challenge
    ));
    // The check-in, from the device's copy, with its verified receipt, found in the log.
    assert_eq!(h.check_ins.len(), 1);
    let c = &h.check_ins[0];
    assert_eq!(c.record_id, my_record);
    assert_eq!(c.content.as_ref().unwrap().note, "on the bus");
    assert_ne!(c.receipt, ReceiptState::Missing);
    let index = c.log_index.expect("the check-in is in the log");
    assert!(h.found.iter().any(|f| f.index == index
        && matches!(f.entry, FoundEntry::CheckInReceived { record, sent_by_this_device: true, .. } if record == my_record)));
    // The ledger row, as the operator holds it.
    let ledger = h.ledger.as_ref().unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].challenge.challenge.id, my_challenge);
    assert_eq!(ledger[0].state, LedgerState::OnTime);
    // The accesses: both custodians' entries for the opening, and the refusal.
    let accesses: Vec<&FoundEntry> = h.accesses().map(|f| &f.entry).collect();
    assert_eq!(accesses.len(), 3, "{accesses:?}");
    let mut opened_by = Vec::new();
    for a in &accesses {
        match a {
            FoundEntry::ContentAccessed {
                custodian,
                officer,
                purpose,
                records,
                ..
            } => {
                assert_eq!(
                    (officer.as_str(), purpose.as_str()),
                    ("officer-0001", "compliance-review")
                );
                assert_eq!(records, &vec![my_record]);
                opened_by.push(custodian.clone());
            }
            FoundEntry::AccessDenied {
                reason, records, ..
            } => {
                assert_eq!(reason, "purpose-not-allowed");
                assert_eq!(records, &vec![my_record]);
            }
            other => panic!("not an access: {other:?}"),
        }
    }
    opened_by.sort();
    assert_eq!(opened_by, vec!["agency".to_owned(), "oversight".to_owned()]);
    // Nothing of the other participant: not their challenge, check-in or access, and
    // nothing beyond my enrollment, challenge, check-in and the three access entries.
    let json = serde_json::to_string(&h).unwrap();
    for theirs in [
        their_record.to_string(),
        their_challenge.to_string(),
        other.pseudonym().to_string(),
        other
            .tag(default_policy().epoch_at(NOW).unwrap())
            .to_string(),
    ] {
        assert!(!json.contains(&theirs), "the history names {theirs}");
    }
    assert_eq!(h.found.len(), 6, "{:?}", h.found);
    assert!(matches!(
        h.found[0].entry,
        FoundEntry::EnrollmentOpened { policy, .. } if policy == default_policy().hash()
    ));
    // In plain words.
    let text = h.to_text();
    assert!(text.contains("you checked in on time"), "{text}");
    assert!(
        text.contains("let officer officer-0001 open 1 of your check-ins"),
        "{text}"
    );
    assert!(text.contains("refused officer officer-0001"), "{text}");
    assert!(text.contains("your phone answered it"), "{text}");

    // A second look reads only what was appended since, and still checks my receipt.
    s.server.tick().await.unwrap();
    let again = me.history(&api, NOW).await.unwrap();
    assert_eq!(again.log.entries_read, again.log.size - h.log.size);
    assert_eq!(again.found, h.found);

    // The command line shows the same, from the device's encrypted store.
    let file = s.dir.path().join("me.device");
    minimis_client::store::save(&me, &file, "correct horse").unwrap();
    let out = crate::minimis()
        .args(["participant", "history", "--device"])
        .arg(&file)
        .args(["--operator", &s.server.addr().to_string(), "--ca"])
        .arg(s.dir.path().join("operator/tls/server.crt"))
        .args(["--now", &NOW.seconds().to_string()])
        .env("MINIMIS_DEVICE_PASSPHRASE", "correct horse")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Who opened your check-ins, or was refused"),
        "{stdout}"
    );
    assert!(
        stdout.contains("let officer officer-0001 open 1 of your check-ins"),
        "{stdout}"
    );
    assert!(stdout.contains("your note: \"on the bus\""), "{stdout}");
    assert!(
        !stdout.contains(&their_challenge.to_string()[..8]),
        "{stdout}"
    );
    let out = crate::minimis()
        .args(["participant", "history", "--json", "--device"])
        .arg(&file)
        .args(["--operator", &s.server.addr().to_string(), "--ca"])
        .arg(s.dir.path().join("operator/tls/server.crt"))
        .args(["--now", &NOW.seconds().to_string()])
        .env("MINIMIS_DEVICE_PASSPHRASE", "correct horse")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["found"].as_array().unwrap().len(), 6);
    assert_eq!(v["ledger"][0]["state"]["state"], "on-time");
    assert_eq!(v["log"]["entries_read"], 0, "the store kept the view");
    s.stop().await;
}

/// The command line, with no connection: a problem reported is recorded and described as
/// something a person reviews, never a violation (CHK-25); the history shows it; and the
/// notice shown is the enrolled policy's, not the default's (ENR-20).
#[test]
fn chk_22_chk_25_enr_20_the_command_line_records_and_reports_a_problem_in_plain_words_and_shows_the_enrolled_notice()
 {
    let world = minimis_testkit::World::new(&[]);
    let p = world.participant();
    let policy_text =
        DEFAULT_POLICY_TOML.replace("max_checkins_per_day = 3", "max_checkins_per_day = 2");
    let policy = Policy::from_toml_str(&policy_text).unwrap();
    let station = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("agency.example/enrollment").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let bundle = Bundle {
        pseudonym: p.pseudonym,
        device_key: p.device.public_key(),
        policy: policy.hash(),
        schedule: p.schedule.clone(),
        zone: None,
        operator_key: world.operator_key.public_key(),
        log_key: minimis_log::NoteSigner::new(
            minimis_log::KeyName::new("test/log").unwrap(),
            SigningKey::generate().unwrap(),
        )
        .verifier_key(),
        witnesses: vec![],
        tlog_policy: None,
        custodians: world.custodian_keys(),
        obligations: None,
        issued: NOW,
    };
    let (_, shown) =
        minimis_client::notice::show(&policy, minimis_client::notice::Language::English, None);
    let device = Device::enroll(
        &bundle.sign(&station).unwrap(),
        &station.verifier_key(),
        &policy_text,
        None,
        shown,
        p.device,
        p.tags,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("device.age");
    minimis_client::store::save(&device, &file, "pass").unwrap();
    let run = |args: &[&str]| {
        let out = crate::minimis()
            .arg("participant")
            .args(args)
            .arg("--device")
            .arg(&file)
            .env("MINIMIS_DEVICE_PASSPHRASE", "pass")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let challenge = ChallengeId::from_bytes([0xab; 16]).to_string();
    let said = run(&[
        "report",
        "--challenge",
        &challenge,
        "--category",
        "no-network",
    ]);
    assert!(said.contains("there was no network"), "{said}");
    assert!(
        said.contains("is not a violation by itself. A person will review it"),
        "{said}"
    );
    assert!(said.contains("Report a problem"), "{said}");
    assert!(
        said.contains("1 report(s) recorded on this device"),
        "{said}"
    );
    let history = run(&["history"]);
    assert!(
        history.contains("Problems recorded on this phone"),
        "{history}"
    );
    assert!(
        history.contains("there was no network. Your report has not been delivered yet"),
        "{history}"
    );
    assert!(history.contains("A person will review it"), "{history}");
    assert!(
        history.contains("Not checked this time (no connection)"),
        "{history}"
    );

    let notice = run(&["notice"]);
    assert!(notice.contains("at most 2 check-ins a day"), "{notice}");
    let default = crate::minimis()
        .args(["participant", "notice"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&default.stdout).contains("at most 3 check-ins a day"));
}
