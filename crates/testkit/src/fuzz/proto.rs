//! Targets for the protocol's own encodings: the 512-byte payload, the envelope and the
//! other wire messages, schedules and the policy file.

use std::sync::Arc;

use minimis_client::notice::{Language, Translation};
use minimis_client::{Device, Enrollment};
use minimis_proto::payload::{NOTE_CAPACITY, PAYLOAD_LEN};
use minimis_proto::{
    ChallengeKind, CheckInPayload, CiphertextBounds, Envelope, PayloadDecodeError, Policy, Receipt,
    Schedule, SignedChallenge, SignedEpochRecipient, Slot, UnixTime,
};
use minimis_seal::SealingKeys;
use minimis_wire::operator::{EnrollResponse, KeysResponse, LedgerRow};
use minimis_wire::{CustodianRefusal, OperatorRefusal, Refused};
use serde::Serialize;

use super::{Outcome, json_round_trip, keys, utf8};
use crate::NOW;

fn reference() -> &'static Policy {
    super::reference_policy()
}

/// The 512-byte check-in payload (**CHK-1** to **CHK-3**): decoded under the largest
/// note capacity and under the reference policy's limit; what decodes re-encodes to the
/// same bytes, and the policy's limit only ever refuses a longer note.
pub fn payload(data: &[u8]) -> Outcome {
    let max = reference().max_note_bytes();
    let under_policy = CheckInPayload::decode(data, max);
    match CheckInPayload::decode(data, NOTE_CAPACITY) {
        Ok(p) => {
            assert_eq!(data.len(), PAYLOAD_LEN);
            assert_eq!(&p.encode().expose()[..], data, "the one encoding");
            match under_policy {
                Ok(q) => assert_eq!(q, p),
                Err(PayloadDecodeError::NoteTooLong { len, max: m }) => {
                    assert!(len > m && p.note.len() == len);
                }
                Err(e) => panic!("the policy limit refused for another reason: {e}"),
            }
            Outcome::Accepted
        }
        Err(e) => {
            assert!(!e.code().is_empty());
            assert!(under_policy.is_err(), "a tighter limit accepted more");
            Outcome::Refused
        }
    }
}

/// A check-in envelope as the operator receives it (**CHK-10**, **CHK-11**): JSON that
/// round-trips, then the length bound and the device signature; the record id of a
/// verified envelope is the one its fields give (**CHK-12**).
pub fn envelope(data: &[u8]) -> Outcome {
    let Ok(env) = serde_json::from_slice::<Envelope>(data) else {
        return Outcome::Refused;
    };
    json_round_trip(&env);
    let record = env.record_id();
    let mut accepted = Outcome::Refused;
    for layers in [1, 2] {
        let bounds = CiphertextBounds::for_layers(layers);
        match minimis_crypto::verify_envelope(env.clone(), &keys::device().public_key(), bounds) {
            Ok(v) => {
                assert_eq!(v.record_id(), record);
                assert!(bounds.contains(v.envelope().ciphertext.len()));
                accepted = Outcome::Accepted;
            }
            Err(e) => assert!(!e.code().is_empty()),
        }
    }
    accepted
}

fn device() -> Device {
    let p = reference();
    let schedule = crate::fuzz::client::schedule();
    Device::new(
        Enrollment {
            pseudonym: keys::pseudonym(),
            schedule,
            zone: None,
            policy: Arc::new(p.clone()),
            policy_text: Arc::from(minimis_proto::policy::DEFAULT_POLICY_TOML),
            operator_key: keys::operator().public_key(),
            log_key: keys::log_key().clone(),
            witnesses: vec![keys::witness_key().clone()],
            tlog_policy: None,
            custodians: keys::custodian_keys(),
        },
        minimis_crypto::SigningKey::from_seed(keys::device().expose_seed())
            .unwrap_or_else(|_| unreachable!("32 bytes")),
        keys::tag_key(),
    )
}

/// What a participant's device reads from the operator: challenges, its custodians'
/// signed epoch recipients, receipts, ledger rows, the operator's keys and enrollment
/// answers. Each decodes or is refused; what decodes round-trips. A challenge is also
/// handed to a device, once as it came and once signed by the operator's key as a
/// malicious operator could sign anything (**CHL-5**, **CHL-6**); recipients go through
/// the device's check (**SEAL-7**).
pub fn messages(data: &[u8]) -> Outcome {
    let mut accepted = Outcome::Refused;
    if let Ok(signed) = serde_json::from_slice::<SignedChallenge>(data) {
        json_round_trip(&signed);
        let operator = keys::operator();
        if minimis_crypto::verify_challenge(&signed, &operator.public_key()).is_ok() {
            accepted = Outcome::Accepted;
        }
        let mut d = device();
        let _ = d.accept(signed.clone(), NOW);
        // As signed by a malicious operator: the device's own checks must hold alone, at
        // its own times and at the times the challenge names.
        let c = &signed.challenge;
        let resigned = minimis_crypto::sign_challenge(operator, c.clone());
        for now in [
            NOW,
            c.issued_at,
            c.window_start,
            c.window_end,
            UnixTime(i64::MAX),
        ] {
            let mut d = device();
            if d.accept(resigned.clone(), now).is_err() {
                assert_eq!(d.refused().len(), 1, "a refused challenge is kept (CHL-5)");
            }
        }
    }
    if let Ok(list) = serde_json::from_slice::<Vec<SignedEpochRecipient>>(data) {
        json_round_trip(&list);
        let p = reference();
        let mut times = vec![NOW];
        times.extend(list.iter().map(|r| r.recipient.not_after));
        for now in times {
            if SealingKeys::verify(p, now, &list, &keys::custodian_keys()).is_ok() {
                accepted = Outcome::Accepted;
            }
        }
    }
    if let Ok(one) = serde_json::from_slice::<SignedEpochRecipient>(data) {
        json_round_trip(&one);
        for k in [keys::agency_custodian(), keys::oversight_custodian()] {
            if minimis_crypto::verify_epoch_recipient(&one, &k.public_key()).is_ok() {
                accepted = Outcome::Accepted;
            }
        }
    }
    if let Ok(r) = serde_json::from_slice::<Receipt>(data) {
        json_round_trip(&r);
        if minimis_log::TlogProof::parse(r.tlog_proof.as_bytes()).is_ok() {
            accepted = Outcome::Accepted;
        }
    }
    if let Ok(rows) = serde_json::from_slice::<Vec<LedgerRow>>(data) {
        for row in &rows {
            let _ = (row.state.name(), row.state.resolution());
        }
        if !rows.is_empty() {
            accepted = Outcome::Accepted;
        }
    }
    if let Ok(k) = serde_json::from_slice::<KeysResponse>(data)
        && k.log.parse::<minimis_log::VerifierKey>().is_ok()
    {
        accepted = Outcome::Accepted;
    }
    if let Ok(e) = serde_json::from_slice::<EnrollResponse>(data)
        && e.policy.parse::<minimis_proto::PolicyHash>().is_ok()
    {
        accepted = Outcome::Accepted;
    }
    // A refusal, as a client reads it back (SVC-41): any status, any body.
    let status = data.first().map_or(400, |b| 400 + u16::from(*b % 200));
    if Refused::<OperatorRefusal>::parse(status, data).is_ok()
        || Refused::<CustodianRefusal>::parse(status, data).is_ok()
    {
        accepted = Outcome::Accepted;
    }
    accepted
}

/// Times a schedule is asked about: around [`NOW`], and the ends of time.
const TIMES: [i64; 7] = [
    i64::MIN,
    -1,
    0,
    NOW.0,
    NOW.0 + 3 * 86_400 + 3_600,
    253_402_300_799,
    i64::MAX,
];

/// A participant's schedule, as enrollment takes it (JSON, **CHL-1**): it round-trips,
/// is checked against the reference policy, and every question the server and the
/// device ask of it (the window at a time, the windows of a fortnight, whether a
/// challenge is admitted) is answered at ordinary times and at the ends of time.
pub fn schedule(data: &[u8]) -> Outcome {
    let Ok(s) = serde_json::from_slice::<Schedule>(data) else {
        return Outcome::Refused;
    };
    json_round_trip(&s);
    let _ = s.check_policy(reference());
    let mut prior = Vec::new();
    for t in TIMES {
        let t = UnixTime(t);
        if let Some(span) = s.window_at(t) {
            assert!(span.contains(t));
        }
        for kind in [ChallengeKind::Scheduled, ChallengeKind::AdHoc] {
            let candidate = Slot { at: t, kind };
            if let Ok(span) = s.admits(&prior, candidate) {
                assert!(span.contains(t));
                prior.push(candidate);
            }
        }
    }
    let fortnight = s.spans_between(NOW, NOW.plus(14 * 86_400));
    for w in fortnight.windows(2) {
        assert!(w[0].start <= w[1].start, "spans in order");
    }
    let _ = s.spans_between(UnixTime(i64::MAX - 3 * 86_400), UnixTime(i64::MAX));
    let _ = s.spans_between(UnixTime(i64::MIN), UnixTime(i64::MIN + 3 * 86_400));
    Outcome::Accepted
}

/// The policy file as written (`spec/policy.md`), for a round trip.
#[derive(Serialize)]
struct PolicyFile<'a> {
    format: &'a str,
    name: &'a str,
    epochs: Epochs,
    retention: Retention,
    schedule: Limits,
    checkin: Checkin,
    access: Access<'a>,
    custodians: Vec<Custodian<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    obligations: Option<ObligationsTable<'a>>,
}

#[derive(Serialize)]
struct ObligationsTable<'a> {
    acknowledge_days: u32,
    remind_days_before: u32,
    decide_days: u32,
    contest_days: u32,
    appeal_days: u32,
    poll_minutes: u32,
    reasons: Vec<Purpose<'a>>,
}

#[derive(Serialize)]
struct Epochs {
    length_days: u32,
}

#[derive(Serialize)]
struct Retention {
    content_days: u32,
    ledger_days: u32,
}

#[derive(Serialize)]
struct Limits {
    max_checkins_per_day: u32,
    max_adhoc_per_30_days: u32,
    grace_minutes: u32,
}

#[derive(Serialize)]
struct Checkin {
    max_note_bytes: u32,
}

#[derive(Serialize)]
struct Access<'a> {
    purposes: Vec<Purpose<'a>>,
    legal_bases: Vec<LegalBasis<'a>>,
}

#[derive(Serialize)]
struct Purpose<'a> {
    id: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct LegalBasis<'a> {
    id: &'a str,
    citation: &'a str,
}

#[derive(Serialize)]
struct Custodian<'a> {
    id: &'a str,
    role: minimis_proto::CustodianRole,
    name: &'a str,
}

fn to_toml(p: &Policy) -> String {
    let file = PolicyFile {
        format: match p.obligations() {
            Some(_) => minimis_proto::policy::POLICY_FORMAT,
            None => minimis_proto::policy::POLICY_FORMAT_1,
        },
        name: p.name(),
        epochs: Epochs {
            length_days: p.epoch_length_days(),
        },
        retention: Retention {
            content_days: p.content_retention_days(),
            ledger_days: p.ledger_retention_days(),
        },
        schedule: Limits {
            max_checkins_per_day: p.max_checkins_per_day(),
            max_adhoc_per_30_days: p.max_adhoc_per_30_days(),
            grace_minutes: p.grace_minutes(),
        },
        checkin: Checkin {
            max_note_bytes: u32::try_from(p.max_note_bytes()).unwrap_or(u32::MAX),
        },
        access: Access {
            purposes: p
                .purposes()
                .iter()
                .map(|x| Purpose {
                    id: &x.id,
                    description: &x.description,
                })
                .collect(),
            legal_bases: p
                .legal_bases()
                .iter()
                .map(|x| LegalBasis {
                    id: &x.id,
                    citation: &x.citation,
                })
                .collect(),
        },
        custodians: p
            .custodians()
            .iter()
            .map(|c| Custodian {
                id: &c.id,
                role: c.role,
                name: &c.name,
            })
            .collect(),
        obligations: p.obligations().map(|o| ObligationsTable {
            acknowledge_days: o.acknowledge_days(),
            remind_days_before: o.remind_days_before(),
            decide_days: o.decide_days(),
            contest_days: o.contest_days(),
            appeal_days: o.appeal_days(),
            poll_minutes: o.poll_minutes(),
            reasons: o
                .reasons()
                .iter()
                .map(|r| Purpose {
                    id: &r.id,
                    description: &r.description,
                })
                .collect(),
        }),
    };
    toml::to_string(&file).unwrap_or_else(|e| panic!("a parsed policy re-encodes: {e}"))
}

/// The policy file (TOML, **POL-1** to **POL-12**) and its translations: a policy that
/// parses, written out again, parses to the same canonical bytes and hash; its epochs
/// are computed at the ends of time; its notice is rendered. A translation is read
/// against the reference policy.
pub fn policy(data: &[u8]) -> Outcome {
    let Some(text) = utf8(data) else {
        return Outcome::Refused;
    };
    let translated = Translation::from_toml_str(text, reference());
    if let Ok(t) = &translated {
        let language = t.language.parse().unwrap_or(Language::Spanish);
        assert!(!minimis_client::notice::notice(reference(), language, Some(t)).is_empty());
    }
    let p = match Policy::from_toml_str(text) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return if translated.is_ok() {
                Outcome::Accepted
            } else {
                Outcome::Refused
            };
        }
    };
    let again = Policy::from_toml_str(&to_toml(&p))
        .unwrap_or_else(|e| panic!("a policy written out again parses: {e}"));
    assert_eq!(again.canonical_bytes(), p.canonical_bytes());
    assert_eq!(again.hash(), p.hash());
    for t in TIMES {
        if let Some(e) = p.epoch_at(UnixTime(t)) {
            assert!(p.epoch_start(e) <= UnixTime(t) && UnixTime(t) < p.epoch_end(e));
            assert!(p.content_deadline(e) >= p.epoch_end(e));
        }
    }
    for e in [0, 1, 2_912, u32::MAX] {
        let e = minimis_proto::EpochId::new(e);
        assert!(p.epoch_start(e) < p.epoch_end(e));
        let _ = p.content_deadline(e);
    }
    for language in [Language::English, Language::Spanish] {
        assert!(!minimis_client::notice::notice(&p, language, None).is_empty());
    }
    Outcome::Accepted
}

/// The obligations' fixed-size encodings (**OBL-3**, **OBL-8**, **OBL-12**): the first byte
/// picks the format (0 condition result, 1 filing, 2 delivery), the rest is decoded; what
/// decodes re-encodes to the same bytes, and every refusal has a code.
pub fn obligations(data: &[u8]) -> Outcome {
    use minimis_proto::obligations::{ConditionResult, Delivery, Filing};
    let Some((&which, rest)) = data.split_first() else {
        return Outcome::Refused;
    };
    let decoded: Result<Vec<u8>, &'static str> = match which % 3 {
        0 => ConditionResult::decode(rest)
            .map(|c| c.encode().to_vec())
            .map_err(|e| e.code()),
        1 => Filing::decode(rest)
            .map(|f| f.encode().to_vec())
            .map_err(|e| e.code()),
        _ => Delivery::decode(rest)
            .map(|d| d.encode().to_vec())
            .map_err(|e| e.code()),
    };
    match decoded {
        Ok(again) => {
            assert_eq!(again, rest, "the one encoding");
            Outcome::Accepted
        }
        Err(code) => {
            assert!(!code.is_empty());
            Outcome::Refused
        }
    }
}
