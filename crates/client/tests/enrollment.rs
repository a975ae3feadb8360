//! The signed enrollment bundle (ENR-4), the zone it fixes (LOC-21) and the notice shown
//! before enrollment (ENR-20).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minimis_client::bundle::{Bundle, BundleError, ZoneCommitment, ZoneSalt};
use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::notice::{Language, NoticeShown, show};
use minimis_client::presence::NotRequired;
use minimis_client::{CheckInError, Device, Refusal};
use minimis_crypto::{SigningKey, TagKey, sign_challenge};
use minimis_log::{KeyName, NoteSigner, VerifierKey};
use minimis_proto::*;
use minimis_seal::{EpochKeyring, RecipientError};
use minimis_testkit::device::log_signer;
use minimis_testkit::{NOW, World};

const CHICAGO: &str = r#"{"type":"Polygon","coordinates":[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]}"#;
const HOUSTON: &str = r#"{"type":"Polygon","coordinates":[[[-95.5,29.6],[-95.2,29.6],[-95.2,29.9],[-95.5,29.9],[-95.5,29.6]]]}"#;

struct Gps(u32);

impl LocationSource for Gps {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        self.0 += 1;
        Ok(cap.into_fix(41.8781, -87.6298))
    }
}

/// The agency's enrollment station, the operator, the custodians, and one participant's
/// device keys.
struct Station {
    world: World,
    signer: NoteSigner,
    operator: SigningKey,
    log_key: VerifierKey,
    device: SigningKey,
    tags: TagKey,
    pseudonym: Pseudonym,
    schedule: Schedule,
}

fn station() -> Station {
    let world = World::keyed_at(NOW, 0);
    let p = world.participant();
    Station {
        signer: NoteSigner::new(
            KeyName::new("agency.example/enrollment").unwrap(),
            SigningKey::generate().unwrap(),
        ),
        operator: world.operator(),
        log_key: log_signer(&[0x4c; 32]).verifier_key(),
        device: p.device,
        tags: p.tags,
        pseudonym: p.pseudonym,
        schedule: p.schedule,
        world,
    }
}

impl Station {
    fn bundle(&self, zone: Option<ZoneCommitment>) -> Bundle {
        Bundle {
            pseudonym: self.pseudonym,
            device_key: self.device.public_key(),
            policy: self.world.policy.hash(),
            schedule: self.schedule.clone(),
            zone,
            operator_key: self.operator.public_key(),
            log_key: self.log_key.clone(),
            witnesses: vec![],
            tlog_policy: None,
            custodians: self.world.custodian_keys(),
            obligations: None,
            issued: NOW,
        }
    }

    fn shown(&self) -> NoticeShown {
        show(&self.world.policy, Language::English, None).1
    }

    fn enroll(
        &self,
        note: &str,
        policy: &str,
        zone: Option<(Zone, ZoneSalt)>,
    ) -> Result<Device, BundleError> {
        Device::enroll(
            note,
            &self.signer.verifier_key(),
            policy,
            zone,
            self.shown(),
            SigningKey::from_seed(self.device.expose_seed()).unwrap(),
            TagKey::from_bytes(zeroize::Zeroizing::new(*self.tags.expose_secret())),
        )
    }

    fn challenge(&self, policy: PolicyHash) -> SignedChallenge {
        let w = self.schedule.window_at(NOW).unwrap();
        sign_challenge(
            &self.operator,
            Challenge {
                id: ChallengeId::from_bytes([1; 16]),
                pseudonym: self.pseudonym,
                epoch: self.world.now_epoch(),
                kind: ChallengeKind::Scheduled,
                issued_at: NOW,
                window_start: w.start,
                window_end: w.end,
                policy,
            },
        )
    }
}

fn salt(b: u8) -> ZoneSalt {
    ZoneSalt::from_bytes(zeroize::Zeroizing::new([b; 32]))
}

/// Decrypts the device's store, changes its JSON, and encrypts it again under the same
/// passphrase, as someone holding the passphrase could.
fn edit_store(path: &std::path::Path, pass: &str, f: impl FnOnce(&mut serde_json::Value)) {
    use std::io::{Read as _, Write as _};
    let bytes = std::fs::read(path).unwrap();
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(pass.to_owned()));
    let mut plain = Vec::new();
    age::Decryptor::new_buffered(bytes.as_slice())
        .unwrap()
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    f(&mut json);
    let e = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(pass.to_owned()));
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(&serde_json::to_vec(&json).unwrap()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

fn other_policy_text() -> String {
    DEFAULT_POLICY_TOML.replace("grace_minutes = 60", "grace_minutes = 30")
}

#[test]
fn enr_4_the_signed_bundle_cites_the_policy_and_fixes_the_enrollment() {
    let s = station();
    let bundle = s.bundle(None);
    let note = bundle.sign(&s.signer).unwrap();
    // A C2SP signed note: the text, a blank line, the station's signature line.
    assert!(note.starts_with("minimis/v1 enrollment-bundle\npseudonym "));
    assert!(note.contains(&format!("\npolicy {}\n", s.world.policy.hash())));
    assert!(note.contains("\n\n— agency.example/enrollment "));
    assert_eq!(
        Bundle::open(&note, &s.signer.verifier_key()).unwrap(),
        bundle
    );

    let device = s.enroll(&note, DEFAULT_POLICY_TOML, None).unwrap();
    assert_eq!(device.bundle(), Some(&bundle));
    assert_eq!(device.bundle_note(), Some(note.as_str()));
    let e = device.enrollment();
    assert_eq!(e.policy.hash(), bundle.policy);
    assert_eq!(e.pseudonym, s.pseudonym);
    assert_eq!(e.schedule, s.schedule);
    assert_eq!(e.operator_key, s.operator.public_key());
    assert_eq!(e.log_key, s.log_key);
    assert_eq!(e.custodians, s.world.custodian_keys());
    assert!(e.zone.is_none());
}

#[test]
fn enr_4_a_bundle_is_refused_unless_signed_by_the_station_for_this_device_under_the_policy_given() {
    let s = station();
    let note = s.bundle(None).sign(&s.signer).unwrap();

    // Signed by someone else; a changed line under the station's signature.
    let impostor = NoteSigner::new(
        KeyName::new("agency.example/enrollment").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let forged = s.bundle(None).sign(&impostor).unwrap();
    assert!(matches!(
        s.enroll(&forged, DEFAULT_POLICY_TOML, None),
        Err(BundleError::Signature)
    ));
    let edited = note.replace("\"daily_cap\":1", "\"daily_cap\":3");
    assert_ne!(edited, note);
    assert!(matches!(
        s.enroll(&edited, DEFAULT_POLICY_TOML, None),
        Err(BundleError::Signature)
    ));

    // Another policy than the bundle cites: refused, naming both hashes.
    let other = other_policy_text();
    match s.enroll(&note, &other, None) {
        Err(BundleError::OtherPolicy { bundle, given }) => {
            assert_eq!(bundle, s.world.policy.hash());
            assert_eq!(given, Policy::from_toml_str(&other).unwrap().hash());
        }
        r => panic!("{r:?}"),
    }

    // Another device's key.
    let mut b = s.bundle(None);
    b.device_key = SigningKey::generate().unwrap().public_key();
    assert!(matches!(
        s.enroll(&b.sign(&s.signer).unwrap(), DEFAULT_POLICY_TOML, None),
        Err(BundleError::NotThisDevice)
    ));

    // A schedule the policy does not allow (four check-ins a day; the policy allows 3).
    let mut b = s.bundle(None);
    b.schedule = Schedule::new(
        "America/Chicago",
        s.schedule.windows().to_vec(),
        4,
        s.schedule.adhoc_cap_30d(),
    )
    .unwrap();
    assert!(matches!(
        s.enroll(&b.sign(&s.signer).unwrap(), DEFAULT_POLICY_TOML, None),
        Err(BundleError::Schedule(_))
    ));

    // Signed, but not in the one encoding: an extra line.
    let text = s.bundle(None).text().unwrap() + "extra line\n";
    let odd = s.signer.sign_note(&text).unwrap().to_string();
    assert!(matches!(
        s.enroll(&odd, DEFAULT_POLICY_TOML, None),
        Err(BundleError::Malformed(_))
    ));

    // The notice shown must be the notice of the bundle's policy (ENR-20).
    let other_policy = Policy::from_toml_str(&other).unwrap();
    let (_, wrong_notice) = show(&other_policy, Language::English, None);
    assert!(matches!(
        Device::enroll(
            &note,
            &s.signer.verifier_key(),
            DEFAULT_POLICY_TOML,
            None,
            wrong_notice,
            SigningKey::from_seed(s.device.expose_seed()).unwrap(),
            TagKey::generate().unwrap(),
        ),
        Err(BundleError::NoticeForOtherPolicy)
    ));
}

#[test]
fn enr_4_the_device_refuses_challenges_and_recipients_under_any_other_policy() {
    let s = station();
    let note = s.bundle(None).sign(&s.signer).unwrap();
    let mut device = s.enroll(&note, DEFAULT_POLICY_TOML, None).unwrap();
    let epoch = s.world.now_epoch();

    // A challenge the operator signed, for this participant, in the window, under another
    // policy: refused, and kept as evidence.
    let other = Policy::from_toml_str(&other_policy_text()).unwrap();
    let wrong = s.challenge(other.hash());
    assert_eq!(
        device.accept(wrong.clone(), NOW).err(),
        Some(Refusal::WrongPolicy)
    );
    assert_eq!(device.refused()[0].challenge, wrong);

    // The challenge under the enrolled policy is accepted.
    let right = sign_challenge(
        &s.operator,
        Challenge {
            id: ChallengeId::from_bytes([2; 16]),
            ..s.challenge(s.world.policy.hash()).challenge
        },
    );
    let accepted = device.accept(right, NOW).unwrap();

    // A recipient the enrolled custodian key signed, but for a custodian the enrolled
    // policy does not name (another policy's): the device does not seal to it.
    let mut elsewhere = EpochKeyring::new(CustodianRole::Agency, "county-agency");
    elsewhere.generate(epoch).unwrap();
    let mut recipients = s.world.published(epoch);
    recipients[0] = elsewhere
        .publish(epoch, s.world.policy.epoch_end(epoch), &s.world.agency_key)
        .unwrap();
    let mut gps = Gps(0);
    let r = device.check_in(accepted, &mut gps, &mut NotRequired, "", &recipients, NOW);
    assert!(matches!(
        r,
        Err(CheckInError::Recipients(RecipientError::WrongCustodian(
            CustodianRole::Agency
        )))
    ));
    assert!(device.sent().is_empty(), "nothing was sealed");
}

#[test]
fn loc_21_the_device_takes_only_the_zone_its_bundle_fixes() {
    let s = station();
    let chicago = Zone::from_geojson(CHICAGO).unwrap();
    let houston = Zone::from_geojson(HOUSTON).unwrap();
    let commitment = ZoneCommitment::new(&salt(7), &chicago);
    // The commitment hides the zone: another salt gives another commitment.
    assert_ne!(commitment, ZoneCommitment::new(&salt(8), &chicago));
    let note = s.bundle(Some(commitment)).sign(&s.signer).unwrap();
    assert!(!note.contains("-88.0"), "the bundle carries no coordinate");

    for (zone, what) in [
        (Some((houston.clone(), salt(7))), "another zone"),
        (Some((chicago.clone(), salt(8))), "another salt"),
        (None, "no zone"),
    ] {
        assert!(
            matches!(
                s.enroll(&note, DEFAULT_POLICY_TOML, zone),
                Err(BundleError::Zone)
            ),
            "{what}"
        );
    }
    // A bundle that fixes no zone takes none.
    let none = s.bundle(None).sign(&s.signer).unwrap();
    assert!(matches!(
        s.enroll(&none, DEFAULT_POLICY_TOML, Some((chicago.clone(), salt(7)))),
        Err(BundleError::Zone)
    ));

    let device = s
        .enroll(&note, DEFAULT_POLICY_TOML, Some((chicago.clone(), salt(7))))
        .unwrap();
    assert_eq!(device.enrollment().zone.as_ref(), Some(&chicago));

    // The store keeps the bundle; a store whose zone was swapped does not load.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.age");
    minimis_client::store::save(&device, &path, "pass").unwrap();
    let back = minimis_client::store::load(&path, "pass").unwrap();
    assert_eq!(back.enrollment().zone.as_ref(), Some(&chicago));
    assert_eq!(back.bundle_note(), Some(note.as_str()));
    assert_eq!(back.notice_shown(), device.notice_shown());
    edit_store(&path, "pass", |json| {
        json["zone"] = serde_json::Value::String(HOUSTON.to_owned());
    });
    assert!(matches!(
        minimis_client::store::load(&path, "pass"),
        Err(minimis_client::store::StoreError::Corrupt("zone"))
    ));
}

#[test]
fn enr_20_the_notice_of_the_enrolled_policy_is_shown_before_enrollment_and_again_at_any_time() {
    let s = station();
    let note = s.bundle(None).sign(&s.signer).unwrap();
    let (text, shown) = show(&s.world.policy, Language::Spanish, None);
    assert!(text.contains("QUÉ HACE ESTA APLICACIÓN"), "{text}");
    assert_eq!(shown.policy(), s.world.policy.hash());
    let device = Device::enroll(
        &note,
        &s.signer.verifier_key(),
        DEFAULT_POLICY_TOML,
        None,
        shown,
        SigningKey::from_seed(s.device.expose_seed()).unwrap(),
        TagKey::generate().unwrap(),
    )
    .unwrap();
    assert_eq!(device.notice_shown(), Some(shown));
    // Again at any time: the notice of the enrolled policy, not of a default.
    assert_eq!(
        device.notice(Language::English, None),
        minimis_client::notice::notice(&s.world.policy, Language::English, None)
    );
}

#[test]
fn obl_1_the_bundle_fixes_the_case_recipient_and_the_review_keys() {
    use minimis_client::bundle::ObligationKeys;
    let s = station();
    let case = minimis_seal::CaseIdentity::generate();
    let review = minimis_seal::ReviewIdentity::generate();
    let review_key = SigningKey::generate().unwrap().public_key();
    let keys = ObligationKeys {
        case_recipient: case.recipient(),
        review_recipient: review.recipient(),
        review_key,
    };
    let mut b = s.bundle(None);
    b.obligations = Some(keys.clone());
    let text = b.text().unwrap();
    assert!(text.contains(&format!("\ncase-recipient {}\n", case.recipient())));
    let note = b.sign(&s.signer).unwrap();
    let device = s.enroll(&note, DEFAULT_POLICY_TOML, None).unwrap();
    assert_eq!(device.obligation_keys(), Some(&keys));
    // Without the lines, the device has none.
    let plain = s
        .enroll(
            &s.bundle(None).sign(&s.signer).unwrap(),
            DEFAULT_POLICY_TOML,
            None,
        )
        .unwrap();
    assert_eq!(plain.obligation_keys(), None);

    // The three lines come together, each well formed.
    let cut = text.replace(&format!("review-key {}\n", review_key.to_base64()), "");
    let odd = s.signer.sign_note(&cut).unwrap().to_string();
    assert!(matches!(
        s.enroll(&odd, DEFAULT_POLICY_TOML, None),
        Err(BundleError::Malformed("review-key"))
    ));
    let bad = text.replace(&case.recipient().to_string(), "age1notarecipient");
    let odd = s.signer.sign_note(&bad).unwrap().to_string();
    assert!(matches!(
        s.enroll(&odd, DEFAULT_POLICY_TOML, None),
        Err(BundleError::Malformed("case-recipient"))
    ));
}

/// The bundle carries the tlog-policy (LOG-68): signed with it, it opens to the same
/// policy, the device enrolls with it and keeps it across its store; a policy that does
/// not accept the bundle's log key, or that does not parse, makes the bundle malformed.
#[test]
fn log_68_the_bundle_ships_the_tlog_policy_and_the_device_keeps_it() {
    use minimis_log::{Cosigner, TlogPolicy};
    let s = station();
    let witness = |i: u8| {
        Cosigner::new(
            KeyName::new(&format!("witness{i}.example")).unwrap(),
            SigningKey::from_seed(&[0x50 + i; 32]).unwrap(),
        )
        .verifier_key()
    };
    let text = format!(
        "log {}\nwitness a {}\nwitness b {}\nwitness c {}\ngroup g 2 a b c\nquorum g\n",
        s.log_key,
        witness(1),
        witness(2),
        witness(3)
    );
    let mut bundle = s.bundle(None);
    bundle.tlog_policy = Some(TlogPolicy::parse(text.as_bytes()).unwrap());
    let note = bundle.sign(&s.signer).unwrap();
    assert!(note.contains("\nwitness-policy "));
    assert_eq!(
        Bundle::open(&note, &s.signer.verifier_key()).unwrap(),
        bundle
    );
    let device = s.enroll(&note, DEFAULT_POLICY_TOML, None).unwrap();
    let held = device.enrollment().tlog_policy.clone().unwrap();
    assert_eq!(held.as_bytes(), text.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.json");
    minimis_client::store::save(&device, &path, "pass").unwrap();
    let back = minimis_client::store::load(&path, "pass").unwrap();
    assert_eq!(back.enrollment().tlog_policy, Some(held));

    // Another log's policy in the bundle: refused.
    let other_log = log_signer(&[0x4d; 32]).verifier_key();
    let mut wrong = s.bundle(None);
    wrong.tlog_policy =
        Some(TlogPolicy::parse(format!("log {other_log}\nquorum none\n").as_bytes()).unwrap());
    let note = wrong.sign(&s.signer).unwrap();
    assert!(matches!(
        Bundle::open(&note, &s.signer.verifier_key()),
        Err(BundleError::Malformed("witness-policy"))
    ));
}
