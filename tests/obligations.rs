//! The obligations through the operator's server (spec/obligations.md): condition results
//! with every check-in of an enrollment under conditions (OBL-4), served only to the
//! agency's case system (OBL-5); filings with a receipt whose log inclusion proves the day
//! (OBL-9), acknowledged by the case system through an authenticated request (OBL-10).
//! Over TLS, with the wire contract's typed client; attacks first.

use minimis_agency::CaseSystem;
use minimis_crypto::{SigningKey, sign_condition, sign_filing};
use minimis_log::LogEntry;
use minimis_log::obligation_entry::ObligationEntry;
use minimis_proto::obligations::{
    Addressee, ConditionOutcome, ConditionResult, Filing, FilingKind, SignedConditionResult,
    SignedFiling, Text, day_of,
};
use minimis_proto::*;
use minimis_seal::{CaseRecipient, seal_condition, seal_filing};
use minimis_server::ServerConfig;
use minimis_testkit::Participant;
use minimis_wire::operator::{CheckInRequest, EnrollRequest, WireTagKey};
use minimis_wire::{CaseSigner, DeviceSigner, HttpsClient, OperatorClient, OperatorRefusal};

use crate::server::Harness;

/// A server with a case system configured, its key, and typed clients.
struct Stack {
    h: Harness,
    case_key: SigningKey,
    officer: OperatorClient<HttpsClient>,
    anyone: OperatorClient<HttpsClient>,
}

impl Stack {
    async fn start() -> Self {
        let case_key = SigningKey::generate().unwrap();
        let public = case_key.public_key();
        let h = Harness::start_with(true, |c: &mut ServerConfig| {
            c.case_system_key = Some(public);
        })
        .await;
        let addr = h.running.addr();
        let officer = OperatorClient::new(
            HttpsClient::new(
                addr,
                "localhost",
                &h.server_cert,
                Some((&h.officer.0, &h.officer.1)),
            )
            .unwrap(),
        );
        let anyone =
            OperatorClient::new(HttpsClient::new(addr, "localhost", &h.server_cert, None).unwrap());
        Self {
            h,
            case_key,
            officer,
            anyone,
        }
    }

    fn case(&self) -> CaseSigner<'_> {
        CaseSigner {
            key: &self.case_key,
        }
    }

    fn now(&self) -> UnixTime {
        self.h.clock_now()
    }

    /// Enrolls a participant, under conditions or not.
    async fn enroll(&self, conditions: bool) -> Participant {
        let mut p = self.h.world.participant();
        let req = EnrollRequest {
            device_key: p.device.public_key(),
            tag_key: WireTagKey::new(*p.tags.expose_secret()),
            schedule: p.schedule.clone(),
            conditions,
        };
        p.pseudonym = self.officer.enroll(&req).await.unwrap().pseudonym;
        p
    }

    async fn challenge(&self, p: &Participant) -> Challenge {
        self.officer.adhoc(&p.pseudonym).await.unwrap().challenge
    }

    /// A check-in answering `c` from `zone`, and its condition result sealed to `case`.
    fn check_in(
        &self,
        p: &Participant,
        c: &Challenge,
        zone: ZoneResult,
        case: &CaseRecipient,
    ) -> (Envelope, SignedConditionResult) {
        let payload = minimis_testkit::payload(c.id, zone, "a note the operator never reads");
        let keys = self.h.world.sealing_keys(self.now());
        let env = minimis_seal::seal_envelope(&payload, &keys, p.pseudonym, &p.device).unwrap();
        let sealed = seal_condition(&ConditionResult::of_payload(&payload), case).unwrap();
        (env, sign_condition(&p.device, p.pseudonym, c.id, sealed))
    }

    async fn log(&self) -> Vec<LogEntry> {
        let mut c = self.h.client().await;
        crate::server::log_entries(&self.h, &mut c).await
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, minimis_wire::OperatorError>) -> OperatorRefusal {
    r.unwrap_err().refusal().expect("a refusal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_4_obl_41_a_check_in_under_conditions_without_its_result_or_with_another_is_refused() {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let q = s.enroll(true).await;
    let c = s.challenge(&p).await;
    // Another open challenge (the schedule allows one a day per participant: another
    // participant's).
    let other = s.challenge(&q).await;
    let (env, cond) = s.check_in(&p, &c, ZoneResult::Outside, &case);
    let before = s.h.db_digest();

    // Without its condition result.
    let r = s.anyone.check_in(&env).await;
    assert_eq!(refusal(r), OperatorRefusal::ConditionRequired);
    // A result for another challenge, validly signed by the same device.
    let (_, for_other) = s.check_in(&p, &other, ZoneResult::Inside, &case);
    let r = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(for_other)))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::ConditionMalformed);
    // The relay flips a byte of the ciphertext: the signature no longer verifies.
    let mut flipped = cond.clone();
    flipped.ciphertext[100] ^= 1;
    let r = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(flipped)))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::BadSignature);
    // A result of the wrong length (a longer plaintext would leak through the size),
    // re-signed by the device so only the length is wrong.
    let mut long = cond.ciphertext.clone();
    long.extend_from_slice(&[0; 200]);
    let long = sign_condition(&p.device, p.pseudonym, c.id, long);
    let r = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(long)))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::ConditionMalformed);
    // Signed by another participant's device.
    let forged = sign_condition(&q.device, p.pseudonym, c.id, cond.ciphertext.clone());
    let r = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(forged)))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::BadSignature);
    // A body over the limit.
    let mut huge = CheckInRequest::new(&env, Some(cond.clone()));
    huge.condition.as_mut().unwrap().ciphertext = vec![7; 20_000];
    let r = s.anyone.check_in_request(&huge).await;
    assert_eq!(refusal(r), OperatorRefusal::BodyTooLarge);
    // Every refusal changed nothing.
    assert_eq!(before, s.h.db_digest());

    // With its result: stored, and the row is on time as before (CHK-26 as changed).
    let ok = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(cond)))
        .await
        .unwrap();
    assert_eq!(ok.state, LedgerState::OnTime);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_41_an_enrollment_not_under_conditions_sends_no_result_and_the_operator_keeps_none() {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(false).await;
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let c = s.challenge(&p).await;
    let (env, cond) = s.check_in(&p, &c, ZoneResult::Inside, &case);
    let before = s.h.db_digest();
    let r = s
        .anyone
        .check_in_request(&CheckInRequest::new(&env, Some(cond)))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::ObligationsNotInForce);
    assert_eq!(before, s.h.db_digest());
    s.anyone.check_in(&env).await.unwrap();
    let served = s
        .anyone
        .case_conditions(s.case(), 0, s.now())
        .await
        .unwrap();
    assert!(served.is_empty(), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_5_obl_40_only_the_case_system_reads_condition_results_and_it_opens_them_without_anyone_else()
 {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let c = s.challenge(&p).await;
    let (env, cond) = s.check_in(&p, &c, ZoneResult::Outside, &case);
    s.anyone
        .check_in_request(&CheckInRequest::new(&env, Some(cond.clone())))
        .await
        .unwrap();

    // Nobody else: no signature, another key, a device's key, a custodian's key, a
    // signature for another path, a stale one.
    let stranger = SigningKey::generate().unwrap();
    let now = s.now();
    for who in [
        CaseSigner { key: &stranger },
        CaseSigner { key: &p.device },
        CaseSigner {
            key: &s.h.world.agency_key,
        },
    ] {
        let r = s.anyone.case_conditions(who, 0, now).await;
        assert_eq!(refusal(r), OperatorRefusal::CaseSystemRequired);
    }
    let r = s
        .officer
        .case_conditions(CaseSigner { key: &stranger }, 0, now)
        .await;
    assert_eq!(
        refusal(r),
        OperatorRefusal::CaseSystemRequired,
        "an officer's certificate is not the case system"
    );
    let r = s
        .anyone
        .case_conditions(s.case(), 0, UnixTime(now.0 - 301))
        .await;
    assert_eq!(refusal(r), OperatorRefusal::StaleRequest);
    let r = s
        .anyone
        .transport()
        .exchange(minimis_wire::Request::get("/v1/case/conditions"))
        .await
        .unwrap();
    assert_eq!(
        (
            r.status,
            minimis_wire::Refused::<OperatorRefusal>::parse(r.status, &r.body)
                .unwrap()
                .refusal
        ),
        (401, OperatorRefusal::CaseSystemRequired)
    );

    // The case system: the result, with the device's signature, for the row's challenge.
    let served = s.anyone.case_conditions(s.case(), 0, now).await.unwrap();
    assert_eq!(served.len(), 1);
    let item = &served[0];
    assert_eq!((item.challenge_id, item.epoch), (c.id, c.epoch));
    assert_eq!(item.condition, cond);
    // The cursor: nothing after the last one.
    let next = s
        .anyone
        .case_conditions(s.case(), item.seq, now)
        .await
        .unwrap();
    assert!(next.is_empty());
    // It opens it with the case identity alone: outside the area, presence met.
    let accepted = agency
        .accept_condition(item.challenge_id, item.epoch, &item.condition, now)
        .unwrap();
    assert_eq!(accepted.result.area, ConditionOutcome::NotMet);
    assert_eq!(accepted.result.presence, ConditionOutcome::Met);
    assert!(
        accepted.review.is_some(),
        "a condition not met opens a review (OBL-6)"
    );

    // The operator holds only ciphertext: the 64 plaintext bytes are in none of its files.
    let plain = ConditionResult::of_payload(&minimis_testkit::payload(
        c.id,
        ZoneResult::Outside,
        "a note the operator never reads",
    ))
    .encode();
    let mut files = Vec::new();
    crate::server::files_under(s.h.dir.path(), &mut files);
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(plain.len()).any(|w| w == &plain[..]),
            "{}",
            f.display()
        );
    }
}

/// A change of residence, sealed to `case` and signed.
fn residence(p: &Participant, case: &CaseRecipient, now: UnixTime, text: &str) -> SignedFiling {
    let filing = Filing::new(
        FilingKind::Residence,
        day_of(now),
        None,
        None,
        Text::new(text),
    )
    .unwrap();
    let (addressee, sealed) = seal_filing(&filing, case, None).unwrap();
    sign_filing(&p.device, p.pseudonym, addressee, sealed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_9_obl_42_a_filing_gets_a_receipt_whose_inclusion_proves_its_day_and_forgeries_change_nothing()
 {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    let q = s.enroll(true).await;
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let now = s.now();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let f = residence(&p, &case, now, "12 Elm Street, Springfield");
    let before = s.h.db_digest();

    // Addressed falsely in transit: the addressee is signed.
    let mut readdressed = f.clone();
    readdressed.addressee = Addressee::AgencyAndOversight;
    // Some lengths of a filing to one recipient are lengths of one to two: only the
    // signature tells them apart.
    // Which of the two depends on the sealed length, known here: outside the bound of a
    // filing to both the length refuses it, inside it the signature does.
    let both = SignedFiling::bounds(Addressee::AgencyAndOversight);
    let expected = if (both.min..=both.max).contains(&readdressed.ciphertext.len()) {
        OperatorRefusal::BadSignature
    } else {
        OperatorRefusal::FilingMalformed
    };
    let r = s.anyone.file(me, &readdressed, now).await;
    assert_eq!(refusal(r), expected);
    // A filing naming another participant, posted with this device's signed request.
    let mut theirs = f.clone();
    theirs.pseudonym = q.pseudonym;
    let r = s.anyone.file(me, &theirs, now).await;
    assert_eq!(refusal(r), OperatorRefusal::NotYours);
    // Another device posting it for this participant.
    let them = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &q.device,
    };
    let r = s.anyone.file(them, &f, now).await;
    assert_eq!(refusal(r), OperatorRefusal::BadSignature);
    // A filing of the wrong length, signed by the device.
    let short = sign_filing(
        &p.device,
        p.pseudonym,
        Addressee::Agency,
        f.ciphertext[..500].to_vec(),
    );
    let r = s.anyone.file(me, &short, now).await;
    assert_eq!(refusal(r), OperatorRefusal::FilingMalformed);
    // Oversized.
    let mut huge = f.clone();
    huge.ciphertext = vec![1; 20_000];
    let r = s.anyone.file(me, &huge, now).await;
    assert_eq!(refusal(r), OperatorRefusal::BodyTooLarge);
    assert_eq!(before, s.h.db_digest());

    // The filing: a receipt.
    let receipt = s.anyone.file(me, &f, now).await.unwrap();
    assert_eq!(receipt.filing_id, f.filing_id());
    assert_eq!(receipt.day, day_of(now));
    // It proves the entry the participant can rebuild alone: their tag for the epoch, the
    // filing id they computed, the addressee, the day.
    let entry = LogEntry::Obligation(ObligationEntry::FilingReceived {
        tag: p.tags.tag(&p.pseudonym, s.h.world.now_epoch()),
        filing: f.filing_id(),
        addressee: Addressee::Agency,
        day: day_of(now),
    });
    let keys = s.anyone.keys().await.unwrap();
    let log_key: minimis_log::VerifierKey = keys.log.parse().unwrap();
    minimis_log::verify_tlog_proof(
        receipt.tlog_proof.as_bytes(),
        &entry.encode(),
        &log_key,
        &[],
    )
    .unwrap();
    // Not another day's.
    let other_day = LogEntry::Obligation(ObligationEntry::FilingReceived {
        tag: p.tags.tag(&p.pseudonym, s.h.world.now_epoch()),
        filing: f.filing_id(),
        addressee: Addressee::Agency,
        day: UnixTime(day_of(now).0 - 86_400),
    });
    assert!(
        minimis_log::verify_tlog_proof(
            receipt.tlog_proof.as_bytes(),
            &other_day.encode(),
            &log_key,
            &[]
        )
        .is_err()
    );
    // A replay: refused, nothing logged twice; the receipt can be fetched again.
    let after = s.h.db_digest();
    let r = s.anyone.file(me, &f, now).await;
    assert_eq!(refusal(r), OperatorRefusal::FilingAlreadyReceived);
    assert_eq!(after, s.h.db_digest());
    let again = s
        .anyone
        .receipt(me, &RecordId::from_bytes(*f.filing_id().as_bytes()), now)
        .await
        .unwrap();
    minimis_log::verify_tlog_proof(again.tlog_proof.as_bytes(), &entry.encode(), &log_key, &[])
        .unwrap();
    // Not to another participant.
    let r = s
        .anyone
        .receipt(
            DeviceSigner {
                pseudonym: q.pseudonym,
                key: &q.device,
            },
            &RecordId::from_bytes(*f.filing_id().as_bytes()),
            now,
        )
        .await;
    assert_eq!(refusal(r), OperatorRefusal::UnknownRecord);
    let received: Vec<_> = s
        .log()
        .await
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                LogEntry::Obligation(ObligationEntry::FilingReceived { .. })
            )
        })
        .collect();
    assert_eq!(received, vec![entry]);

    // The operator holds no plaintext of it.
    let mut files = Vec::new();
    crate::server::files_under(s.h.dir.path(), &mut files);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"12 Elm Stree"),
            "{}",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_10_obl_42_the_case_system_fetches_and_acknowledges_a_filing_once_and_the_log_says_when()
 {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let now = s.now();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let f = residence(&p, &case, now, "3 Oak Avenue");
    s.anyone.file(me, &f, now).await.unwrap();

    // Only the case system reads filings, and acknowledges.
    let r = s
        .anyone
        .case_filings(CaseSigner { key: &p.device }, 0, now)
        .await;
    assert_eq!(refusal(r), OperatorRefusal::CaseSystemRequired);
    let before = s.h.db_digest();
    let r = s
        .anyone
        .acknowledge_filing(CaseSigner { key: &p.device }, &f.filing_id(), now)
        .await;
    assert_eq!(refusal(r), OperatorRefusal::CaseSystemRequired);
    // An acknowledgement of a filing never made is not logged.
    let r = s
        .anyone
        .acknowledge_filing(s.case(), &FilingId::from_bytes([9; 32]), now)
        .await;
    assert_eq!(refusal(r), OperatorRefusal::UnknownFiling);
    assert_eq!(before, s.h.db_digest());

    let filings = s.anyone.case_filings(s.case(), 0, now).await.unwrap();
    assert_eq!(filings.len(), 1);
    assert_eq!(filings[0].filing, f);
    assert_eq!(filings[0].day, day_of(now));
    assert!(!filings[0].acknowledged);
    let accepted = agency
        .accept_filing(&filings[0].filing, filings[0].day)
        .unwrap();
    assert_eq!(accepted.filing.kind(), FilingKind::Residence);
    assert_eq!(accepted.filing.text().expose(), "3 Oak Avenue");

    // The next day, the case system acknowledges: the operator's day is logged.
    s.h.clock.advance(86_400);
    let ack = s
        .anyone
        .acknowledge_filing(s.case(), &f.filing_id(), s.now())
        .await
        .unwrap();
    assert_eq!(ack.day, day_of(s.now()));
    let entry = LogEntry::Obligation(ObligationEntry::FilingAcknowledged {
        filing: f.filing_id(),
        day: day_of(s.now()),
    });
    let log_key: minimis_log::VerifierKey = s.anyone.keys().await.unwrap().log.parse().unwrap();
    minimis_log::verify_tlog_proof(ack.tlog_proof.as_bytes(), &entry.encode(), &log_key, &[])
        .unwrap();
    // Once.
    let after = s.h.db_digest();
    let r = s
        .anyone
        .acknowledge_filing(s.case(), &f.filing_id(), s.now())
        .await;
    assert_eq!(refusal(r), OperatorRefusal::FilingAlreadyAcknowledged);
    assert_eq!(after, s.h.db_digest());
    let acks = s
        .log()
        .await
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                LogEntry::Obligation(ObligationEntry::FilingAcknowledged { .. })
            )
        })
        .count();
    assert_eq!(acks, 1);
    let filings = s.anyone.case_filings(s.case(), 0, s.now()).await.unwrap();
    assert!(filings[0].acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_41_under_a_policy_without_obligations_nothing_is_under_conditions_and_no_filing_is_taken()
 {
    // The reference policy as format 1: no [obligations] table (OBL-22).
    let text = std::fs::read_to_string(crate::root().join("policy/default.toml")).unwrap();
    let start = text.find("\n[obligations]\n").unwrap();
    let end = text.find("\n[[custodians]]\n").unwrap();
    let old = format!("{}{}", &text[..start], &text[end..]).replace(
        "format = \"minimis-policy/2\"",
        "format = \"minimis-policy/1\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("format-1.toml");
    std::fs::write(&path, old).unwrap();
    assert!(
        Policy::from_toml_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap()
            .obligations()
            .is_none()
    );
    let case_key = SigningKey::generate().unwrap();
    let public = case_key.public_key();
    let h = Harness::start_with(true, |c: &mut ServerConfig| {
        c.policy = Some(path.clone());
        c.case_system_key = Some(public);
    })
    .await;
    let addr = h.running.addr();
    let officer = OperatorClient::new(
        HttpsClient::new(
            addr,
            "localhost",
            &h.server_cert,
            Some((&h.officer.0, &h.officer.1)),
        )
        .unwrap(),
    );
    let anyone =
        OperatorClient::new(HttpsClient::new(addr, "localhost", &h.server_cert, None).unwrap());
    let mut p = h.world.participant();
    let mut req = EnrollRequest {
        device_key: p.device.public_key(),
        tag_key: WireTagKey::new(*p.tags.expose_secret()),
        schedule: p.schedule.clone(),
        conditions: true,
    };
    let before = h.db_digest();
    assert_eq!(
        refusal(officer.enroll(&req).await),
        OperatorRefusal::ObligationsNotInForce
    );
    assert_eq!(before, h.db_digest());
    req.conditions = false;
    p.pseudonym = officer.enroll(&req).await.unwrap().pseudonym;
    let mut agency = CaseSystem::new(
        minimis_proto::default_policy(),
        SigningKey::generate().unwrap(),
    )
    .unwrap();
    let case = agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let now = h.clock_now();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let before = h.db_digest();
    let r = anyone
        .file(me, &residence(&p, &case, now, "1 Main St"), now)
        .await;
    assert_eq!(refusal(r), OperatorRefusal::ObligationsNotInForce);
    assert_eq!(before, h.db_digest());
}
