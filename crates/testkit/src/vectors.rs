//! The test vectors under `spec/vectors/`, one JSON file per case, negatives named
//! `fail_*` (in the style of the age testkit).
//!
//! Regenerate with `cargo run -p minimis-testkit --bin gen-vectors` from the repository
//! root. Every value is fixed (Ed25519 and HMAC are deterministic), so regenerating
//! without a code change writes the same bytes; the workspace test
//! `chk_1_vectors_match_the_generator` fails if the committed files drift.

use minimis_crypto::{SigningKey, TagKey, sign_challenge, sign_envelope, sign_epoch_recipient};
use minimis_proto::payload::{HEADER_LEN, NOTE_CAPACITY, PAYLOAD_LEN};
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CheckInPayload, CustodianRole, EpochId, EpochRecipient,
    Note, PolicyHash, PresenceResult, Pseudonym, SealedCheckIn, UnixTime, ZoneResult,
    default_policy,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The command that regenerates the vectors.
pub const REGENERATE: &str = "cargo run -p minimis-testkit --bin gen-vectors";

/// One vector file: its path under `spec/vectors/` and its JSON.
pub struct Vector {
    /// Path relative to `spec/vectors/`, e.g. `payload/ok_minimal.json`.
    pub path: String,
    /// The content.
    pub json: Value,
}

impl Vector {
    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_file(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.json).unwrap_or_default();
        s.push('\n');
        s
    }
}

fn v(path: &str, mut json: Value) -> Vector {
    if let Value::Object(map) = &mut json {
        map.insert("generated_by".into(), json!(REGENERATE));
    }
    Vector {
        path: path.into(),
        json,
    }
}

const CHALLENGE: ChallengeId = ChallengeId::from_bytes([
    0x4d, 0x69, 0x6e, 0x69, 0x6d, 0x69, 0x73, 0x2d, 0x63, 0x68, 0x61, 0x6c, 0x6c, 0x65, 0x6e, 0x67,
]);
const PSEUDONYM: Pseudonym = Pseudonym::from_bytes([
    0x70, 0x73, 0x65, 0x75, 0x64, 0x6f, 0x6e, 0x79, 0x6d, 0x2d, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31,
]);
const DEVICE_TIME: UnixTime = UnixTime(1_795_708_800);

fn payload(zone: ZoneResult, presence: PresenceResult, note: &str) -> CheckInPayload {
    CheckInPayload {
        challenge_id: CHALLENGE,
        zone,
        presence,
        device_time: DEVICE_TIME,
        note: Note::new(note, NOTE_CAPACITY).unwrap_or_default(),
    }
}

fn ok_payload(name: &str, comment: &str, max: usize, p: &CheckInPayload) -> Vector {
    v(
        &format!("payload/{name}.json"),
        json!({
            "comment": comment,
            "max_note_bytes": max,
            "encoded": hex::encode(p.encode().expose()),
            "expected": {
                "challenge_id": p.challenge_id,
                "zone": p.zone,
                "presence": p.presence,
                "device_time": p.device_time,
                "note": p.note.expose(),
            },
        }),
    )
}

fn fail_payload(name: &str, comment: &str, max: usize, bytes: &[u8], error: &str) -> Vector {
    v(
        &format!("payload/{name}.json"),
        json!({
            "comment": comment,
            "max_note_bytes": max,
            "encoded": hex::encode(bytes),
            "error": error,
        }),
    )
}

fn payload_vectors() -> Vec<Vector> {
    let mut out = vec![];
    let minimal = payload(ZoneResult::Inside, PresenceResult::Confirmed, "");
    out.push(ok_payload(
        "ok_minimal",
        "inside the zone, presence confirmed, no note",
        280,
        &minimal,
    ));
    out.push(ok_payload(
        "ok_outside_with_note",
        "outside the zone with a UTF-8 note in Spanish",
        280,
        &payload(
            ZoneResult::Outside,
            PresenceResult::Confirmed,
            "Estoy en la clínica con mi hija; volveré a las 6.",
        ),
    ));
    out.push(ok_payload(
        "ok_no_zone_ordered",
        "no zone was ordered, so no fix was taken; presence check not required",
        280,
        &payload(ZoneResult::NotRequired, PresenceResult::NotRequired, ""),
    ));
    out.push(ok_payload(
        "ok_unavailable",
        "no fix could be taken and the presence sensor failed",
        280,
        &payload(
            ZoneResult::Unavailable,
            PresenceResult::Unavailable,
            "no GPS",
        ),
    ));
    out.push(ok_payload(
        "ok_full_note",
        "a note of the full 483-byte capacity, accepted when the policy allows 483",
        NOTE_CAPACITY,
        &payload(
            ZoneResult::Inside,
            PresenceResult::NotConfirmed,
            &"a".repeat(NOTE_CAPACITY),
        ),
    ));

    let good = *minimal.encode().expose();
    let with_note = *payload(ZoneResult::Inside, PresenceResult::Confirmed, "ok")
        .encode()
        .expose();
    let mut cases: Vec<(&str, &str, usize, Vec<u8>, &str)> = vec![
        (
            "fail_short",
            "511 bytes: one short",
            280,
            good[..PAYLOAD_LEN - 1].to_vec(),
            "wrong_length",
        ),
        (
            "fail_long",
            "513 bytes: one long",
            280,
            [&good[..], &[0u8]].concat(),
            "wrong_length",
        ),
    ];
    let mut b = good;
    b[0] = 2;
    cases.push((
        "fail_version",
        "version 2 is unknown",
        280,
        b.to_vec(),
        "unsupported_version",
    ));
    let mut b = good;
    b[17] = 0;
    cases.push((
        "fail_zone_tag_zero",
        "zone tag 0 is not defined (an all-zero payload never decodes)",
        280,
        b.to_vec(),
        "unknown_zone_tag",
    ));
    let mut b = good;
    b[17] = 5;
    cases.push((
        "fail_zone_tag_five",
        "zone tag 5 is not defined",
        280,
        b.to_vec(),
        "unknown_zone_tag",
    ));
    let mut b = good;
    b[18] = 0xff;
    cases.push((
        "fail_presence_tag",
        "presence tag 255 is not defined",
        280,
        b.to_vec(),
        "unknown_presence_tag",
    ));
    let mut b = good;
    b[27..29].copy_from_slice(&281u16.to_be_bytes());
    cases.push((
        "fail_note_over_policy",
        "a 281-byte note where the policy allows 280",
        280,
        b.to_vec(),
        "note_too_long",
    ));
    let mut b = good;
    b[27..29].copy_from_slice(&484u16.to_be_bytes());
    cases.push((
        "fail_note_over_capacity",
        "a note length of 484, past the end of the payload",
        NOTE_CAPACITY,
        b.to_vec(),
        "note_too_long",
    ));
    let mut b = with_note;
    b[HEADER_LEN] = 0xc3; // a lone UTF-8 lead byte followed by 'k'
    cases.push((
        "fail_note_not_utf8",
        "the note's first byte starts a two-byte sequence that never completes",
        280,
        b.to_vec(),
        "note_not_utf8",
    ));
    let mut b = with_note;
    b[PAYLOAD_LEN - 1] = 0x01;
    cases.push((
        "fail_padding_last_byte",
        "the last padding byte is not zero",
        280,
        b.to_vec(),
        "non_zero_padding",
    ));
    let mut b = with_note;
    b[HEADER_LEN + 2] = b'!';
    cases.push((
        "fail_padding_after_note",
        "a byte right after the note (hidden data) is not zero",
        280,
        b.to_vec(),
        "non_zero_padding",
    ));
    for (name, comment, max, bytes, error) in cases {
        out.push(fail_payload(name, comment, max, &bytes, error));
    }
    out
}

fn tag_vectors() -> Vec<Vector> {
    let key = TagKey::from_bytes(Zeroizing::new([0x74; 32]));
    [0u32, 2_968, u32::MAX]
        .iter()
        .map(|&e| {
            let epoch = EpochId::new(e);
            v(
                &format!("tag/ok_epoch_{e}.json"),
                json!({
                    "comment": "HMAC-SHA-256(tag_key, \"minimis/v1 tag\\n\" || pseudonym || epoch as u32 BE)",
                    "tag_key": hex::encode([0x74u8; 32]),
                    "pseudonym": PSEUDONYM,
                    "epoch": epoch,
                    "tag": key.tag(&PSEUDONYM, epoch),
                }),
            )
        })
        .collect()
}

fn seeded(byte: u8) -> SigningKey {
    SigningKey::from_seed(&[byte; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
}

fn signing_vectors() -> Vec<Vector> {
    let device = seeded(0xde);
    let ciphertext: Vec<u8> = (0..1_000u32).map(|i| (i % 251) as u8).collect();
    let sealed = SealedCheckIn::try_from(ciphertext.clone()).unwrap_or_else(|_| unreachable!());
    let env = sign_envelope(&device, PSEUDONYM, CHALLENGE, EpochId::new(2_968), sealed);
    let envelope = v(
        "envelope/ok_signed.json",
        json!({
            "comment": "an envelope over a fixed 1000-byte stand-in ciphertext, signed by the device key with the given seed",
            "device_seed": hex::encode([0xdeu8; 32]),
            "device_public_key": device.public_key(),
            "pseudonym": env.pseudonym,
            "challenge_id": env.challenge_id,
            "epoch": env.epoch,
            "ciphertext": hex::encode(&ciphertext),
            "signing_input": hex::encode(env.signing_input()),
            "signature": hex::encode(env.signature.as_bytes()),
            "record_id": env.record_id(),
            "json": env,
        }),
    );

    let operator = seeded(0x0b);
    let challenge = Challenge {
        id: CHALLENGE,
        pseudonym: PSEUDONYM,
        epoch: EpochId::new(2_968),
        kind: ChallengeKind::Scheduled,
        issued_at: UnixTime(1_795_708_800),
        window_start: UnixTime(1_795_705_200),
        window_end: UnixTime(1_795_716_000),
        policy: PolicyHash::from_bytes([0x90; 32]),
    };
    let signed = sign_challenge(&operator, challenge);
    let challenge = v(
        "challenge/ok_signed.json",
        json!({
            "comment": "a scheduled challenge signed by the operator key with the given seed",
            "operator_seed": hex::encode([0x0bu8; 32]),
            "operator_public_key": operator.public_key(),
            "signing_input": hex::encode(signed.challenge.signing_input()),
            "signature": hex::encode(signed.signature.as_bytes()),
            "json": signed,
        }),
    );

    let custodian = seeded(0xc0);
    let body = EpochRecipient {
        epoch: EpochId::new(2_968),
        custodian: "oversight".into(),
        role: CustodianRole::Oversight,
        recipient: "age1t7rxyev2z3rw82stdlrrepyc39nvn86l5078zqkf5uasdy86jp6svpy7pa".into(),
        not_after: UnixTime(1_795_996_800),
    };
    let signed = sign_epoch_recipient(&custodian, body);
    let recipient = v(
        "epoch-recipient/ok_signed.json",
        json!({
            "comment": "an oversight custodian's recipient for epoch 2968, signed with the given seed",
            "custodian_seed": hex::encode([0xc0u8; 32]),
            "custodian_public_key": custodian.public_key(),
            "signing_input": hex::encode(signed.recipient.signing_input()),
            "signature": hex::encode(signed.signature.as_bytes()),
            "json": signed,
        }),
    );
    vec![
        envelope,
        challenge,
        recipient,
        device_request_vector(&env),
        custodian_request_vector(&env),
    ]
}

/// A participant's signed request (**CHK-13**): a statement posted with its body.
fn device_request_vector(env: &minimis_proto::Envelope) -> Vector {
    let device = seeded(0xde);
    let signer = minimis_wire::DeviceSigner {
        pseudonym: PSEUDONYM,
        key: &device,
    };
    let method = "GET";
    let path = format!(
        "/v1/participants/{}/receipts/{}",
        PSEUDONYM,
        env.record_id()
    );
    let time = UnixTime(1_795_708_830);
    let body: &[u8] = b"";
    let input =
        minimis_proto::messages::request_signing_input(&PSEUDONYM, method, &path, time, body);
    v(
        "request/ok_signed.json",
        json!({
            "comment": "a device's signed request for a fresh receipt of the envelope vector's record (CHK-13), with the envelope vector's device seed",
            "device_seed": hex::encode([0xdeu8; 32]),
            "device_public_key": device.public_key(),
            "pseudonym": PSEUDONYM,
            "method": method,
            "path_and_query": path,
            "time": time.seconds(),
            "body": hex::encode(body),
            "signing_input": hex::encode(&input),
            "signature": hex::encode(device.sign(&input).as_bytes()),
            "authorization": signer.authorization(method, &path, body, time),
        }),
    )
}

/// A key custodian's signed request to the operator (**CHK-40**): a hold on the envelope
/// vector's record, posted with its JSON body.
fn custodian_request_vector(env: &minimis_proto::Envelope) -> Vector {
    let custodian = seeded(0xc0);
    let signer = minimis_wire::CustodianSigner {
        role: CustodianRole::Oversight,
        key: &custodian,
    };
    let method = "POST";
    let path = "/v1/custodian/holds";
    let time = UnixTime(1_795_708_860);
    let body = format!(
        "{{\"records\":[\"{}\"],\"until\":1798128000}}",
        env.record_id()
    );
    let input = minimis_proto::messages::custodian_request_signing_input(
        CustodianRole::Oversight,
        method,
        path,
        time,
        body.as_bytes(),
    );
    v(
        "custodian-request/ok_signed.json",
        json!({
            "comment": "the oversight custodian's signed request placing a hold on the envelope vector's record (CHK-40), with the epoch-recipient vector's custodian seed",
            "custodian_seed": hex::encode([0xc0u8; 32]),
            "custodian_public_key": custodian.public_key(),
            "role": "oversight",
            "method": method,
            "path_and_query": path,
            "time": time.seconds(),
            "body": hex::encode(body.as_bytes()),
            "body_sha256": hex::encode(&input[input.len() - 32..]),
            "signing_input": hex::encode(&input),
            "signature": hex::encode(custodian.sign(&input).as_bytes()),
            "authorization": signer.authorization(method, path, body.as_bytes(), time),
        }),
    )
}

fn policy_vectors() -> Vec<Vector> {
    let p = default_policy();
    vec![v(
        "policy/ok_default.json",
        json!({
            "comment": "policy/default.toml: its canonical encoding and SHA-256",
            "canonical": hex::encode(p.canonical_bytes()),
            "hash": p.hash(),
        }),
    )]
}

/// Every vector, in a stable order.
pub fn all() -> Vec<Vector> {
    let mut out = payload_vectors();
    out.extend(tag_vectors());
    out.extend(signing_vectors());
    out.extend(policy_vectors());
    out.extend(obligation_vectors());
    out
}

/// One encoding of the obligations' formats (`spec/obligations.md`): `ok_*` decode and
/// re-encode to the same bytes; `fail_*` are refused with the named code.
fn obligation_vectors() -> Vec<Vector> {
    use minimis_proto::obligations::{
        ConditionOutcome, ConditionResult, Decision, Delivery, DeliveryBody, FILING_LEN, Filing,
        FilingKind, ReasonId, Text,
    };
    use minimis_proto::{FilingId, ReviewId};

    const DAY: i64 = 86_400;
    let monday = UnixTime(1_795_392_000);
    let review = ReviewId::from_bytes([0x72; 16]);
    let mut out = vec![];
    let ok = |kind: &str, name: &str, comment: &str, bytes: &[u8]| {
        v(
            &format!("{kind}/{name}.json"),
            json!({ "comment": comment, "encoded": hex::encode(bytes) }),
        )
    };
    let fail = |kind: &str, name: &str, comment: &str, bytes: &[u8], error: &str| {
        v(
            &format!("{kind}/{name}.json"),
            json!({ "comment": comment, "encoded": hex::encode(bytes), "error": error }),
        )
    };

    // Condition results (OBL-3).
    let outside = ConditionResult {
        challenge_id: CHALLENGE,
        area: ConditionOutcome::NotMet,
        presence: ConditionOutcome::Met,
    };
    let good = *outside.encode();
    out.push(ok(
        "condition",
        "ok_outside_the_area",
        "the spec's example: area not met (outside), presence met",
        &good,
    ));
    let unchecked = ConditionResult {
        challenge_id: CHALLENGE,
        area: ConditionOutcome::NotChecked,
        presence: ConditionOutcome::NotOrdered,
    };
    out.push(ok(
        "condition",
        "ok_location_unavailable_no_presence_ordered",
        "area not checked (no location), no presence check ordered",
        &*unchecked.encode(),
    ));
    out.push(fail(
        "condition",
        "fail_short",
        "63 bytes",
        &good[..63],
        "wrong_length",
    ));
    let mut b = good;
    b[0] = 2;
    out.push(fail(
        "condition",
        "fail_version",
        "version 2",
        &b,
        "unsupported_version",
    ));
    let mut b = good;
    b[17] = 4;
    out.push(fail(
        "condition",
        "fail_area_four",
        "area 4 is not defined",
        &b,
        "unknown_outcome",
    ));
    let mut b = good;
    b[63] = 1;
    out.push(fail(
        "condition",
        "fail_padding",
        "a non-zero padding byte",
        &b,
        "non_zero_padding",
    ));

    // Filings (OBL-8).
    let residence = Filing::new(
        FilingKind::Residence,
        monday,
        None,
        None,
        Text::new("Calle Ocho 1200, Apt 4B, Miami, FL 33135"),
    );
    let travel = Filing::new(
        FilingKind::Travel,
        monday,
        Some(monday.plus(4 * DAY)),
        None,
        Text::new("Orlando, FL: my daughter's graduation"),
    );
    let hold = Filing::new(
        FilingKind::HoldRequest,
        monday,
        None,
        Some(review),
        Text::new(""),
    );
    if let (Ok(residence), Ok(travel), Ok(hold)) = (residence, travel, hold) {
        let good = *residence.encode();
        out.push(ok("filing", "ok_residence", "a change of residence", &good));
        out.push(ok(
            "filing",
            "ok_travel",
            "a travel notice, Monday to Friday",
            &*travel.encode(),
        ));
        out.push(ok(
            "filing",
            "ok_hold_request",
            "a hold request on a review, with no text",
            &*hold.encode(),
        ));
        out.push(fail(
            "filing",
            "fail_short",
            "1,023 bytes",
            &good[..FILING_LEN - 1],
            "wrong_length",
        ));
        let mut b = good;
        b[1] = 6;
        out.push(fail(
            "filing",
            "fail_kind",
            "kind 6 is not defined",
            &b,
            "unknown_kind",
        ));
        let mut b = good;
        b[9] = 1;
        out.push(fail(
            "filing",
            "fail_not_a_day",
            "an effective time one second after midnight",
            &b,
            "not_a_day",
        ));
        let mut b = good;
        b[10..18].copy_from_slice(&monday.plus(DAY).seconds().to_be_bytes());
        out.push(fail(
            "filing",
            "fail_end_on_a_notice",
            "an end date on a change of residence",
            &b,
            "end_date",
        ));
        let mut b = good;
        b[18] = 1;
        out.push(fail(
            "filing",
            "fail_review_on_a_notice",
            "a review id on a change of residence",
            &b,
            "review_id",
        ));
        let mut b = good;
        b[FILING_LEN - 1] = 1;
        out.push(fail(
            "filing",
            "fail_padding",
            "a non-zero padding byte",
            &b,
            "non_zero_padding",
        ));
    }

    // Deliveries (OBL-12).
    let decision = ReasonId::new("explained-by-notice").map(|reason| {
        Delivery::new(
            DeliveryBody::ReviewDecision {
                review,
                decided: monday,
                decision: Decision::Excused,
                reason,
                contest_by: monday.plus(30 * DAY),
            },
            Text::new("Su aviso de viaje explica el reporte del 26 de noviembre."),
        )
    });
    let ack = Delivery::new(
        DeliveryBody::FilingAcknowledgement {
            filing: FilingId::from_bytes([0x66; 32]),
            day: monday,
        },
        Text::new("Received."),
    );
    let hearing = Delivery::new(
        DeliveryBody::HearingReminder {
            at: monday.plus(3 * DAY + 9 * 3600),
        },
        Text::new("Hearing at 9:00, immigration court, courtroom 4."),
    );
    if let (Ok(Ok(decision)), Ok(ack), Ok(hearing)) = (decision, ack, hearing) {
        let good = *decision.encode();
        out.push(ok(
            "delivery",
            "ok_review_decision",
            "a review decided, excused, with the reason and the contest deadline, text in Spanish",
            &good,
        ));
        out.push(ok(
            "delivery",
            "ok_filing_acknowledgement",
            "a filing acknowledged",
            &*ack.encode(),
        ));
        out.push(ok(
            "delivery",
            "ok_hearing_reminder",
            "a hearing reminder with its time of day",
            &*hearing.encode(),
        ));
        let mut b = good;
        b[1] = 6;
        out.push(fail(
            "delivery",
            "fail_kind",
            "kind 6 is not defined",
            &b,
            "unknown_kind",
        ));
        let mut b = good;
        b[50] = 4;
        out.push(fail(
            "delivery",
            "fail_decision",
            "decision 4 is not defined",
            &b,
            "unknown_outcome",
        ));
        let mut b = good;
        b[52] = b'E';
        out.push(fail(
            "delivery",
            "fail_reason",
            "a reason id with a capital letter",
            &b,
            "bad_reason",
        ));
        let mut b = good;
        b[40] = 1;
        out.push(fail(
            "delivery",
            "fail_review_tail",
            "a byte after the review id in `concerns`",
            &b,
            "non_zero_field",
        ));
        let mut b = good;
        b[10..18].copy_from_slice(&monday.plus(-DAY).seconds().to_be_bytes());
        out.push(fail(
            "delivery",
            "fail_contest_before_decision",
            "a contest deadline before the decision",
            &b,
            "contest_by",
        ));
    }
    out
}
