//! The obligations through the operator's server (spec/obligations.md): condition results
//! with every check-in of an enrollment under conditions (OBL-4), served only to the
//! agency's case system (OBL-5); filings with a receipt whose log inclusion proves the day
//! (OBL-9), acknowledged by the case system through an authenticated request (OBL-10).
//! Over TLS, with the wire contract's typed client; attacks first.

use minimis_agency::CaseSystem;
use minimis_client::obligations::{Inbox, ReceiveError, Senders};
use minimis_crypto::{
    SigningKey, sign_condition, sign_delivery_ack, sign_filing, sign_inbox_recipient,
};
use minimis_log::LogEntry;
use minimis_log::obligation_entry::{ConditionsSummary, ObligationEntry};
use minimis_proto::obligations::{
    Addressee, AppealOutcome, ConditionOutcome, ConditionResult, Decision, Filing, FilingKind,
    ReasonId, ReviewCause, SignedConditionResult, SignedFiling, Text, day_of,
};
use minimis_proto::*;
use minimis_seal::{CaseRecipient, seal_condition, seal_filing};
use minimis_server::ServerConfig;
use minimis_testkit::Participant;
use minimis_wire::operator::{CheckInRequest, DeliveryRequest, EnrollRequest, WireTagKey};
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

// ---- deliveries (OBL-11, OBL-12, OBL-24, OBL-43 to OBL-45) -----------------------------

/// The senders a device checks deliveries against: `agency`'s enrollment key, and an
/// oversight key.
fn senders(agency: &CaseSystem) -> Senders {
    Senders {
        agency: agency.enrollment_key(),
        oversight: SigningKey::generate().unwrap().public_key(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_43_an_inbox_recipient_is_published_once_per_epoch_and_forgeries_change_nothing() {
    let s = Stack::start().await;
    let p = s.enroll(true).await;
    let q = s.enroll(true).await;
    let now = s.now();
    let epoch = s.h.world.now_epoch();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let mut inbox = Inbox::new();
    let signed = inbox.prepare(epoch, p.pseudonym, &p.device).unwrap();
    let before = s.h.db_digest();

    // Signed by another device (the request by this one).
    let forged = sign_inbox_recipient(&q.device, p.pseudonym, epoch, signed.recipient.clone());
    assert_eq!(
        refusal(s.anyone.publish_inbox(me, &forged, now).await),
        OperatorRefusal::BadSignature
    );
    // Another participant's, posted by this device.
    let theirs = sign_inbox_recipient(&p.device, q.pseudonym, epoch, signed.recipient.clone());
    assert_eq!(
        refusal(s.anyone.publish_inbox(me, &theirs, now).await),
        OperatorRefusal::NotYours
    );
    // Not an age recipient, validly signed.
    let junk = sign_inbox_recipient(&p.device, p.pseudonym, epoch, "age1xyz".into());
    assert_eq!(
        refusal(s.anyone.publish_inbox(me, &junk, now).await),
        OperatorRefusal::InboxMalformed
    );
    // A past epoch, and one two ahead.
    for e in [epoch.get() - 1, epoch.get() + 2] {
        let other = sign_inbox_recipient(
            &p.device,
            p.pseudonym,
            EpochId::new(e),
            signed.recipient.clone(),
        );
        assert_eq!(
            refusal(s.anyone.publish_inbox(me, &other, now).await),
            OperatorRefusal::WrongEpoch
        );
    }
    // Unsigned request.
    let r = s
        .anyone
        .transport()
        .exchange(minimis_wire::Request::post(
            format!("/v1/participants/{}/inboxes", p.pseudonym),
            serde_json::to_vec(&signed).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(before, s.h.db_digest());

    // Published; the same again changes nothing; another one for the epoch is refused.
    s.anyone.publish_inbox(me, &signed, now).await.unwrap();
    let after = s.h.db_digest();
    assert_ne!(before, after);
    s.anyone.publish_inbox(me, &signed, now).await.unwrap();
    assert_eq!(after, s.h.db_digest());
    let mut second = Inbox::new();
    let replacement = second.prepare(epoch, p.pseudonym, &p.device).unwrap();
    assert_eq!(
        refusal(s.anyone.publish_inbox(me, &replacement, now).await),
        OperatorRefusal::InboxAlreadyPublished
    );
    assert_eq!(after, s.h.db_digest());
    // The next epoch's, ahead of it.
    let next = EpochId::new(epoch.get() + 1);
    let ahead = inbox.prepare(next, p.pseudonym, &p.device).unwrap();
    s.anyone.publish_inbox(me, &ahead, now).await.unwrap();

    // The case system reads it as signed, and checks it under the enrolled device key;
    // nobody else reads it.
    let served = s
        .anyone
        .case_inbox(s.case(), &p.pseudonym, epoch, now)
        .await
        .unwrap();
    assert_eq!(served, signed);
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    agency.inbox_recipient(p.pseudonym, epoch, &served).unwrap();
    // A recipient the relay substituted (signed by another key) is not sealed to.
    assert_eq!(
        agency.inbox_recipient(p.pseudonym, epoch, &forged),
        Err(minimis_agency::InboxCheckError::BadSignature)
    );
    assert_eq!(
        agency.inbox_recipient(p.pseudonym, next, &served),
        Err(minimis_agency::InboxCheckError::WrongEpoch)
    );
    assert_eq!(
        refusal(
            s.anyone
                .case_inbox(CaseSigner { key: &p.device }, &p.pseudonym, epoch, now)
                .await
        ),
        OperatorRefusal::CaseSystemRequired
    );
    assert_eq!(
        refusal(
            s.anyone
                .case_inbox(s.case(), &q.pseudonym, epoch, now)
                .await
        ),
        OperatorRefusal::NoInbox
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_12_obl_44_obl_45_a_reminder_reaches_the_device_unread_by_the_operator_and_a_replayed_acknowledgement_changes_nothing()
 {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    let q = s.enroll(true).await;
    agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    agency.enroll(q.pseudonym, q.device.public_key()).unwrap();
    let now = s.now();
    let epoch = s.h.world.now_epoch();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let mut inbox = Inbox::new();
    let signed = inbox.prepare(epoch, p.pseudonym, &p.device).unwrap();
    s.anyone.publish_inbox(me, &signed, now).await.unwrap();

    // The case system seals a hearing reminder to the inbox recipient it checked.
    const CANARY: &str = "CANARY-7f3a hearing at 9 Court Plaza, room 4";
    let served = s
        .anyone
        .case_inbox(s.case(), &p.pseudonym, epoch, now)
        .await
        .unwrap();
    let to = agency.inbox_recipient(p.pseudonym, epoch, &served).unwrap();
    let hearing = UnixTime(day_of(now).0 + 10 * 86_400 + 9 * 3_600);
    let sealed = agency
        .remind(p.pseudonym, true, hearing, Text::new(CANARY), &to)
        .unwrap();
    let request = DeliveryRequest {
        pseudonym: p.pseudonym,
        epoch,
        delivery: sealed.clone(),
    };
    let before = s.h.db_digest();
    // Only the case system posts deliveries.
    assert_eq!(
        refusal(
            s.anyone
                .deliver(CaseSigner { key: &p.device }, &request, now)
                .await
        ),
        OperatorRefusal::CaseSystemRequired
    );
    // To a participant with no inbox for the epoch.
    let to_q = DeliveryRequest {
        pseudonym: q.pseudonym,
        ..request.clone()
    };
    assert_eq!(
        refusal(s.anyone.deliver(s.case(), &to_q, now).await),
        OperatorRefusal::NoInbox
    );
    // Of a length that is not a sealed delivery's (a longer plaintext would show).
    let mut long = request.clone();
    long.delivery.ciphertext.extend_from_slice(&[0; 300]);
    assert_eq!(
        refusal(s.anyone.deliver(s.case(), &long, now).await),
        OperatorRefusal::DeliveryMalformed
    );
    assert_eq!(before, s.h.db_digest());

    let posted = s.anyone.deliver(s.case(), &request, now).await.unwrap();
    assert_eq!(posted.delivery_id, sealed.id());
    let stored = s.h.db_digest();
    assert_eq!(
        refusal(s.anyone.deliver(s.case(), &request, now).await),
        OperatorRefusal::DeliveryAlreadyReceived
    );
    assert_eq!(stored, s.h.db_digest());

    // A forgery: the relay (or anyone holding the public inbox recipient) seals a
    // "decision" of its own, signed with a key that is not the agency's.
    let mut impostor =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    impostor.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let forged = impostor
        .remind(
            p.pseudonym,
            false,
            hearing,
            Text::new("report to 1 Fake St"),
            &to,
        )
        .unwrap();
    s.anyone
        .deliver(
            s.case(),
            &DeliveryRequest {
                pseudonym: p.pseudonym,
                epoch,
                delivery: forged.clone(),
            },
            now,
        )
        .await
        .unwrap();

    // The operator cannot read the delivery: the canary is in none of its files.
    let mut files = Vec::new();
    crate::server::files_under(s.h.dir.path(), &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == &CANARY.as_bytes()[..12]),
            "{}",
            f.display()
        );
    }

    // Only this device reads its deliveries.
    let them = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &q.device,
    };
    assert_eq!(
        refusal(s.anyone.deliveries(them, now).await),
        OperatorRefusal::BadSignature
    );
    let items = s.anyone.deliveries(me, now).await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0].delivery_id, items[0].epoch, items[0].day),
        (sealed.id(), epoch, day_of(now))
    );
    let senders = senders(&agency);
    // The forgery is refused on the device and not acknowledged.
    assert_eq!(
        inbox
            .receive(epoch, &items[1].delivery, &senders, p.pseudonym, &p.device)
            .unwrap_err(),
        ReceiveError::BadSender
    );
    let received = inbox
        .receive(epoch, &items[0].delivery, &senders, p.pseudonym, &p.device)
        .unwrap();
    assert_eq!(received.delivery.text().expose(), CANARY);

    // Acknowledgements that are not this device's, for this delivery, change nothing.
    let before = s.h.db_digest();
    let by_q = sign_delivery_ack(&q.device, p.pseudonym, received.id);
    assert_eq!(
        refusal(s.anyone.acknowledge_delivery(me, &by_q, now).await),
        OperatorRefusal::BadSignature
    );
    let qs = DeviceSigner {
        pseudonym: q.pseudonym,
        key: &q.device,
    };
    let q_claims = sign_delivery_ack(&q.device, q.pseudonym, received.id);
    assert_eq!(
        refusal(s.anyone.acknowledge_delivery(qs, &q_claims, now).await),
        OperatorRefusal::UnknownDelivery
    );
    let never = sign_delivery_ack(&p.device, p.pseudonym, DeliveryId::from_bytes([5; 32]));
    assert_eq!(
        refusal(s.anyone.acknowledge_delivery(me, &never, now).await),
        OperatorRefusal::UnknownDelivery
    );
    assert_eq!(before, s.h.db_digest());

    // The acknowledgement: the ciphertext is deleted and `delivery acknowledged` logged
    // under the participant's tag for the epoch, with the operator's day.
    let ack = s
        .anyone
        .acknowledge_delivery(me, &received.ack, now)
        .await
        .unwrap();
    assert_eq!(ack.day, day_of(now));
    let entry = LogEntry::Obligation(ObligationEntry::DeliveryAcknowledged {
        tag: p.tags.tag(&p.pseudonym, epoch),
        delivery: received.id,
        day: day_of(now),
    });
    let log_key: minimis_log::VerifierKey = s.anyone.keys().await.unwrap().log.parse().unwrap();
    minimis_log::verify_tlog_proof(ack.tlog_proof.as_bytes(), &entry.encode(), &log_key, &[])
        .unwrap();
    let left = s.anyone.deliveries(me, now).await.unwrap();
    assert_eq!(
        left.iter().map(|i| i.delivery_id).collect::<Vec<_>>(),
        vec![forged.id()]
    );
    assert_eq!(ciphertexts_held(&s, &received.id), 0);

    // A replayed acknowledgement changes nothing and logs nothing twice.
    let after = s.h.db_digest();
    assert_eq!(
        refusal(s.anyone.acknowledge_delivery(me, &received.ack, now).await),
        OperatorRefusal::DeliveryAlreadyAcknowledged
    );
    assert_eq!(after, s.h.db_digest());
    let logged: Vec<_> = s
        .log()
        .await
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                LogEntry::Obligation(ObligationEntry::DeliveryAcknowledged { .. })
            )
        })
        .collect();
    assert_eq!(logged, vec![entry]);
    // The device shows it once: the same delivery again is refused.
    assert_eq!(
        inbox
            .receive(epoch, &items[0].delivery, &senders, p.pseudonym, &p.device)
            .unwrap_err(),
        ReceiveError::AlreadyReceived
    );
}

/// How many ciphertexts of delivery `id` the operator's database holds (0 or 1).
fn ciphertexts_held(s: &Stack, id: &DeliveryId) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        s.h.dir.path().join("data/minimis.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT count(*) FROM deliveries WHERE delivery_id = ?1 AND ciphertext IS NOT NULL",
        [id.as_bytes().as_slice()],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_11_obl_44_a_delivery_never_acknowledged_is_deleted_with_its_inbox_at_the_content_deadline()
 {
    let s = Stack::start().await;
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let p = s.enroll(true).await;
    agency.enroll(p.pseudonym, p.device.public_key()).unwrap();
    let now = s.now();
    let epoch = s.h.world.now_epoch();
    let me = DeviceSigner {
        pseudonym: p.pseudonym,
        key: &p.device,
    };
    let mut inbox = Inbox::new();
    let signed = inbox.prepare(epoch, p.pseudonym, &p.device).unwrap();
    s.anyone.publish_inbox(me, &signed, now).await.unwrap();
    let to = agency.inbox_recipient(p.pseudonym, epoch, &signed).unwrap();
    let sealed = agency
        .remind(p.pseudonym, false, now, Text::new("appointment"), &to)
        .unwrap();
    s.anyone
        .deliver(
            s.case(),
            &DeliveryRequest {
                pseudonym: p.pseudonym,
                epoch,
                delivery: sealed.clone(),
            },
            now,
        )
        .await
        .unwrap();

    // A second before the epoch's content deadline nothing goes; at it, the ciphertext
    // and the inbox recipient go, as the device deletes the identity (OBL-11).
    let deadline = s.h.world.policy.content_deadline(epoch);
    s.h.clock.advance(deadline.0 - now.0 - 1);
    assert_eq!(s.h.running.tick().await.unwrap().expired_deliveries, 0);
    assert_eq!(ciphertexts_held(&s, &sealed.id()), 1);
    s.h.clock.advance(1);
    assert_eq!(s.h.running.tick().await.unwrap().expired_deliveries, 1);
    assert_eq!(ciphertexts_held(&s, &sealed.id()), 0);
    assert_eq!(inbox.expire(&s.h.world.policy, s.now()), vec![epoch]);
    let later = s.now();
    assert!(s.anyone.deliveries(me, later).await.unwrap().is_empty());
    assert_eq!(
        refusal(
            s.anyone
                .case_inbox(s.case(), &p.pseudonym, epoch, later)
                .await
        ),
        OperatorRefusal::NoInbox
    );
    // Acknowledging it now: it is gone.
    let ack = sign_delivery_ack(&p.device, p.pseudonym, sealed.id());
    assert_eq!(
        refusal(s.anyone.acknowledge_delivery(me, &ack, later).await),
        OperatorRefusal::UnknownDelivery
    );
}

// ---- the case system's log entries (OBL-7, OBL-17, OBL-46) -----------------------------

/// Posts one of the case system's entries, signed by the case system.
async fn log_step(
    s: &Stack,
    now: UnixTime,
    e: &LogEntry,
) -> Result<minimis_wire::operator::CaseEntryResponse, minimis_wire::OperatorError> {
    s.anyone.case_entry(s.case(), e, now).await
}

fn opened(review: ReviewId, epoch: EpochId, day: UnixTime) -> LogEntry {
    LogEntry::Obligation(ObligationEntry::ReviewOpened {
        review,
        epoch,
        cause: ReviewCause::Condition,
        day,
    })
}

fn decided(review: ReviewId, reason: &str, day: UnixTime) -> LogEntry {
    LogEntry::Obligation(ObligationEntry::ReviewDecided {
        review,
        decision: Decision::NotExcused,
        reason: ReasonId::new(reason).unwrap(),
        day,
    })
}

fn contested(review: ReviewId, day: UnixTime) -> LogEntry {
    LogEntry::Obligation(ObligationEntry::DecisionContested { review, day })
}

fn appealed(review: ReviewId, day: UnixTime) -> LogEntry {
    LogEntry::Obligation(ObligationEntry::AppealDecided {
        review,
        outcome: AppealOutcome::Overturned,
        reason: ReasonId::new("explained-by-participant").unwrap(),
        day,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_17_obl_46_review_steps_are_logged_in_order_and_every_step_out_of_order_changes_nothing()
 {
    let s = Stack::start().await;
    let now = s.now();
    let today = day_of(now);
    let epoch = s.h.world.now_epoch();
    let r = ReviewId::from_bytes([1; 16]);
    let log_key: minimis_log::VerifierKey = s.anyone.keys().await.unwrap().log.parse().unwrap();
    let before = s.h.db_digest();

    // Nobody but the case system.
    let stranger = SigningKey::generate().unwrap();
    assert_eq!(
        refusal(
            s.anyone
                .case_entry(CaseSigner { key: &stranger }, &opened(r, epoch, today), now)
                .await
        ),
        OperatorRefusal::CaseSystemRequired
    );
    // Steps of a review never opened.
    assert_eq!(
        refusal(log_step(&s, now, &decided(r, "not-explained", today)).await),
        OperatorRefusal::UnknownReview
    );
    assert_eq!(
        refusal(log_step(&s, now, &contested(r, today)).await),
        OperatorRefusal::UnknownReview
    );
    assert_eq!(
        refusal(log_step(&s, now, &appealed(r, today)).await),
        OperatorRefusal::UnknownReview
    );
    // Backdated, and for an epoch not begun.
    assert_eq!(
        refusal(log_step(&s, now, &opened(r, epoch, UnixTime(today.0 - 86_400))).await),
        OperatorRefusal::WrongDay
    );
    assert_eq!(
        refusal(log_step(&s, now, &opened(r, EpochId::new(epoch.get() + 1), today)).await),
        OperatorRefusal::WrongEpoch
    );
    // Entries that are not the case system's to write.
    let not_mine = LogEntry::Obligation(ObligationEntry::FilingAcknowledged {
        filing: FilingId::from_bytes([2; 32]),
        day: today,
    });
    assert_eq!(
        refusal(log_step(&s, now, &not_mine).await),
        OperatorRefusal::EntryNotAllowed
    );
    assert_eq!(
        refusal(
            log_step(
                &s,
                now,
                &LogEntry::PolicyPublished {
                    policy: s.h.world.policy.hash()
                }
            )
            .await
        ),
        OperatorRefusal::EntryNotAllowed
    );
    assert_eq!(before, s.h.db_digest());

    // Opened: logged, with the operator's day.
    let ok = log_step(&s, now, &opened(r, epoch, today)).await.unwrap();
    assert_eq!(ok.day, today);
    minimis_log::verify_tlog_proof(
        ok.tlog_proof.as_bytes(),
        &opened(r, epoch, today).encode(),
        &log_key,
        &[],
    )
    .unwrap();
    let step = s.h.db_digest();
    assert_eq!(
        refusal(log_step(&s, now, &opened(r, epoch, today)).await),
        OperatorRefusal::ReviewAlreadyOpened
    );
    assert_eq!(
        refusal(log_step(&s, now, &contested(r, today)).await),
        OperatorRefusal::ReviewNotDecided
    );
    assert_eq!(
        refusal(log_step(&s, now, &appealed(r, today)).await),
        OperatorRefusal::ReviewNotContested
    );
    assert_eq!(
        refusal(log_step(&s, now, &decided(r, "violation", today)).await),
        OperatorRefusal::UnknownReason
    );
    assert_eq!(step, s.h.db_digest());

    log_step(&s, now, &decided(r, "not-explained", today))
        .await
        .unwrap();
    let step = s.h.db_digest();
    assert_eq!(
        refusal(log_step(&s, now, &decided(r, "technical-failure", today)).await),
        OperatorRefusal::ReviewAlreadyDecided
    );
    assert_eq!(
        refusal(log_step(&s, now, &appealed(r, today)).await),
        OperatorRefusal::ReviewNotContested
    );
    assert_eq!(step, s.h.db_digest());

    log_step(&s, now, &contested(r, today)).await.unwrap();
    let step = s.h.db_digest();
    assert_eq!(
        refusal(log_step(&s, now, &contested(r, today)).await),
        OperatorRefusal::ReviewAlreadyContested
    );
    assert_eq!(step, s.h.db_digest());
    log_step(&s, now, &appealed(r, today)).await.unwrap();
    let step = s.h.db_digest();
    assert_eq!(
        refusal(log_step(&s, now, &appealed(r, today)).await),
        OperatorRefusal::AppealAlreadyDecided
    );
    assert_eq!(step, s.h.db_digest());

    // Each step once in the log, in order.
    let steps: Vec<LogEntry> = s
        .log()
        .await
        .into_iter()
        .filter(|e| matches!(e, LogEntry::Obligation(_)))
        .collect();
    assert_eq!(
        steps,
        vec![
            opened(r, epoch, today),
            decided(r, "not-explained", today),
            contested(r, today),
            appealed(r, today),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_15_obl_46_a_contest_after_the_window_is_refused_and_a_conditions_summary_waits_for_its_epoch_to_close()
 {
    let s = Stack::start().await;
    let now = s.now();
    let today = day_of(now);
    let epoch = s.h.world.now_epoch();
    let r = ReviewId::from_bytes([3; 16]);
    s.anyone
        .case_entry(s.case(), &opened(r, epoch, today), now)
        .await
        .unwrap();
    s.anyone
        .case_entry(s.case(), &decided(r, "not-explained", today), now)
        .await
        .unwrap();
    let contest_days = i64::from(s.h.world.policy.obligations().unwrap().contest_days());

    // The summary of the epoch in progress waits; last epoch's is taken once.
    let summary = |e: EpochId| {
        LogEntry::Obligation(ObligationEntry::ConditionsSummary(ConditionsSummary {
            epoch: e,
            opened: 2,
            area: [0, 1, 1, 0],
            presence: [2, 0, 0, 0],
            reviews: 1,
        }))
    };
    let before = s.h.db_digest();
    assert_eq!(
        refusal(s.anyone.case_entry(s.case(), &summary(epoch), now).await),
        OperatorRefusal::EpochNotClosed
    );
    assert_eq!(before, s.h.db_digest());
    let last = EpochId::new(epoch.get() - 1);
    s.anyone
        .case_entry(s.case(), &summary(last), now)
        .await
        .unwrap();
    let after = s.h.db_digest();
    assert_eq!(
        refusal(s.anyone.case_entry(s.case(), &summary(last), now).await),
        OperatorRefusal::ConditionsSummaryAlreadyLogged
    );
    assert_eq!(after, s.h.db_digest());

    // On the last day of the window a contest is taken; the day after, refused.
    s.h.clock.advance(contest_days * 86_400 + 86_400);
    let late = s.now();
    let before = s.h.db_digest();
    assert_eq!(
        refusal(
            s.anyone
                .case_entry(s.case(), &contested(r, day_of(late)), late)
                .await
        ),
        OperatorRefusal::ContestWindowClosed
    );
    assert_eq!(before, s.h.db_digest());
    let r2 = ReviewId::from_bytes([4; 16]);
    let e2 = s.h.world.policy.epoch_at(late).unwrap();
    s.anyone
        .case_entry(s.case(), &opened(r2, e2, day_of(late)), late)
        .await
        .unwrap();
    s.anyone
        .case_entry(s.case(), &decided(r2, "not-explained", day_of(late)), late)
        .await
        .unwrap();
    s.h.clock.advance(contest_days * 86_400);
    let last_day = s.now();
    s.anyone
        .case_entry(s.case(), &contested(r2, day_of(last_day)), last_day)
        .await
        .unwrap();
}

// ---- the device library's facade (issue 15, item 4) --------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obl_4_obl_9_obl_12_the_device_librarys_api_checks_in_with_its_result_files_and_fetches_its_deliveries()
 {
    use minimis_client::presence::{PinPresence, PinVerifier};
    use minimis_client::transport::Https;
    use minimis_client::{Api, Device, Enrollment};
    use zeroize::Zeroizing;

    struct Nowhere;
    impl minimis_client::location::LocationSource for Nowhere {
        fn one_fix(
            &mut self,
            _: minimis_client::location::FixCapability,
        ) -> Result<minimis_client::location::Fix, minimis_client::location::LocationError>
        {
            Err(minimis_client::location::LocationError::Unavailable)
        }
    }

    let s = Stack::start().await;
    let api =
        Api::new(Https::new(s.h.running.addr(), "localhost", &s.h.server_cert, None).unwrap());
    let key = SigningKey::generate().unwrap();
    let tags = minimis_crypto::TagKey::generate().unwrap();
    let schedule = s.h.world.participant().schedule;
    let enrolled = s
        .officer
        .enroll(&EnrollRequest {
            device_key: key.public_key(),
            tag_key: WireTagKey::new(*tags.expose_secret()),
            schedule: schedule.clone(),
            conditions: true,
        })
        .await
        .unwrap();
    let keys = api.keys().await.unwrap();
    let mut device = Device::new(
        Enrollment {
            pseudonym: enrolled.pseudonym,
            schedule,
            zone: None,
            policy: s.h.world.policy.clone().into(),
            policy_text: DEFAULT_POLICY_TOML.into(),
            operator_key: keys.operator,
            log_key: keys.log.parse().unwrap(),
            witnesses: vec![],
            tlog_policy: None,
            custodians: s.h.world.custodian_keys(),
        },
        key,
        tags,
    );
    let mut agency =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    let case = agency
        .enroll(device.pseudonym(), device.key().public_key())
        .unwrap();
    let now = s.now();

    // A check-in with its condition result: the operator requires one, and takes it.
    s.officer.adhoc(&device.pseudonym()).await.unwrap();
    let challenges = api.challenges(&device, now).await.unwrap();
    let accepted = device.accept(challenges[0].clone(), now).unwrap();
    let recipients = api.recipients(s.h.world.now_epoch()).await.unwrap();
    let pin = PinVerifier::new("482913").unwrap();
    let mut presence = PinPresence::new(&pin, || Some(Zeroizing::new("482913".to_owned())));
    let env = device
        .check_in(accepted, &mut Nowhere, &mut presence, "", &recipients, now)
        .unwrap();
    assert_eq!(
        refusal(api.submit(&env).await),
        OperatorRefusal::ConditionRequired
    );
    let (_, state) = api
        .submit_with_condition(&device, &env, &case)
        .await
        .unwrap();
    assert_eq!(state, LedgerState::OnTime);
    let served = s.anyone.case_conditions(s.case(), 0, now).await.unwrap();
    let accepted = agency
        .accept_condition(
            served[0].challenge_id,
            served[0].epoch,
            &served[0].condition,
            now,
        )
        .unwrap();
    assert_eq!(accepted.result.area, ConditionOutcome::NotOrdered);

    // A filing: its receipt.
    let filing = Filing::new(
        FilingKind::Employment,
        day_of(now),
        None,
        None,
        Text::new("Acme Bakery, night shift"),
    )
    .unwrap();
    let receipt = api.file(&device, &filing, &case, None, now).await.unwrap();
    assert_eq!(receipt.day, day_of(now));

    // The inbox, a reminder and a forgery: one shown and acknowledged, one refused.
    let mut inbox = Inbox::new();
    let epoch = s.h.world.now_epoch();
    let signed = api
        .publish_inbox(&device, &mut inbox, epoch, now)
        .await
        .unwrap();
    api.republish_inbox(&device, &signed, now).await.unwrap();
    let to = agency
        .inbox_recipient(device.pseudonym(), epoch, &signed)
        .unwrap();
    let mut impostor =
        CaseSystem::new(s.h.world.policy.clone(), SigningKey::generate().unwrap()).unwrap();
    impostor
        .enroll(device.pseudonym(), device.key().public_key())
        .unwrap();
    for sealed in [
        agency
            .remind(
                device.pseudonym(),
                false,
                now,
                Text::new("see your officer"),
                &to,
            )
            .unwrap(),
        impostor
            .remind(
                device.pseudonym(),
                false,
                now,
                Text::new("go elsewhere"),
                &to,
            )
            .unwrap(),
    ] {
        s.anyone
            .deliver(
                s.case(),
                &DeliveryRequest {
                    pseudonym: device.pseudonym(),
                    epoch,
                    delivery: sealed,
                },
                now,
            )
            .await
            .unwrap();
    }
    let fetched = api
        .fetch_deliveries(&device, &mut inbox, &senders(&agency), now)
        .await
        .unwrap();
    assert_eq!(fetched.shown.len(), 1);
    assert_eq!(
        fetched.shown[0].0.delivery.text().expose(),
        "see your officer"
    );
    assert!(fetched.shown[0].1.is_some());
    assert_eq!(fetched.refused.len(), 1);
    assert_eq!(fetched.refused[0].1, ReceiveError::BadSender);
    assert!(fetched.unacknowledged.is_empty());
    // Again: only the refused forgery is still there, and it is refused again.
    let again = api
        .fetch_deliveries(&device, &mut inbox, &senders(&agency), now)
        .await
        .unwrap();
    assert!(again.shown.is_empty());
    assert_eq!(again.refused.len(), 1);
}
