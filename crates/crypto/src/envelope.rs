//! Signing and verifying the protocol's messages.

use minimis_proto::messages::CiphertextLengthError;
use minimis_proto::{
    Challenge, ChallengeId, CiphertextBounds, Envelope, EpochId, EpochRecipient, Pseudonym,
    PublicKey, RecordId, SealedCheckIn, SignedChallenge, SignedEpochRecipient,
};

use crate::keys::{SigningKey, verify};

/// Why an envelope was refused by [`verify_envelope`]. Each has a machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The ciphertext is outside the bound for the policy's number of custodians.
    #[error(transparent)]
    CiphertextLength(#[from] CiphertextLengthError),
    /// The device signature does not verify.
    #[error("the device signature does not verify")]
    BadSignature,
}

impl EnvelopeError {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::CiphertextLength(_) => "ciphertext_length",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// A message signature that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The signature does not verify under the expected key.
    #[error("the {what} signature does not verify")]
    BadSignature {
        /// Which message.
        what: &'static str,
    },
}

/// An envelope whose device signature and length bound were checked, with its record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    envelope: Envelope,
    record_id: RecordId,
}

impl VerifiedEnvelope {
    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Its record id (**CHK-12**).
    pub fn record_id(&self) -> RecordId {
        self.record_id
    }

    /// The envelope, giving up the proof of verification.
    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }
}

/// Signs an envelope with the device key (**CHK-10**).
pub fn sign_envelope(
    device: &SigningKey,
    pseudonym: Pseudonym,
    challenge_id: ChallengeId,
    epoch: EpochId,
    ciphertext: SealedCheckIn,
) -> Envelope {
    let input =
        Envelope::signing_input_for(&pseudonym, &challenge_id, epoch, ciphertext.as_bytes());
    let signature = device.sign(&input);
    Envelope {
        pseudonym,
        challenge_id,
        epoch,
        ciphertext,
        signature,
    }
}

/// What the operator checks of every envelope before anything else (**CHK-11**): the
/// ciphertext is within `bounds` (**SEAL-4**) and the device signature verifies.
///
/// # Errors
/// [`EnvelopeError`]; the length is checked first, so an oversize body costs no
/// signature check.
pub fn verify_envelope(
    envelope: Envelope,
    device: &PublicKey,
    bounds: CiphertextBounds,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    envelope.ciphertext.check(bounds)?;
    let input = envelope.signing_input();
    verify(device, &input, &envelope.signature).map_err(|_| EnvelopeError::BadSignature)?;
    let record_id = RecordId::from_bytes(crate::sha256(&input));
    Ok(VerifiedEnvelope {
        envelope,
        record_id,
    })
}

/// Signs a participant's request to the operator with the device key (**CHK-13**).
pub fn sign_request(
    device: &SigningKey,
    pseudonym: &Pseudonym,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
) -> minimis_proto::Signature {
    device.sign(&minimis_proto::messages::request_signing_input(
        pseudonym,
        method,
        path_and_query,
        time,
        body,
    ))
}

/// Verifies a participant request's device signature (**CHK-13**).
///
/// # Errors
/// [`MessageError::BadSignature`].
pub fn verify_request(
    device: &PublicKey,
    pseudonym: &Pseudonym,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
    signature: &minimis_proto::Signature,
) -> Result<(), MessageError> {
    let input = minimis_proto::messages::request_signing_input(
        pseudonym,
        method,
        path_and_query,
        time,
        body,
    );
    verify(device, &input, signature).map_err(|_| MessageError::BadSignature { what: "request" })
}

/// Signs a key custodian's request to the operator with the custodian's key.
pub fn sign_custodian_request(
    custodian: &SigningKey,
    role: minimis_proto::CustodianRole,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
) -> minimis_proto::Signature {
    custodian.sign(&minimis_proto::messages::custodian_request_signing_input(
        role,
        method,
        path_and_query,
        time,
        body,
    ))
}

/// Verifies a key custodian's request signature.
///
/// # Errors
/// [`MessageError::BadSignature`].
pub fn verify_custodian_request(
    custodian: &PublicKey,
    role: minimis_proto::CustodianRole,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
    signature: &minimis_proto::Signature,
) -> Result<(), MessageError> {
    let input = minimis_proto::messages::custodian_request_signing_input(
        role,
        method,
        path_and_query,
        time,
        body,
    );
    verify(custodian, &input, signature).map_err(|_| MessageError::BadSignature {
        what: "custodian request",
    })
}

/// Signs a request of the agency's case system to the operator (**OBL-5**).
pub fn sign_case_request(
    case_system: &SigningKey,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
) -> minimis_proto::Signature {
    case_system.sign(&minimis_proto::messages::case_request_signing_input(
        method,
        path_and_query,
        time,
        body,
    ))
}

/// Verifies a request signature of the agency's case system (**OBL-5**).
///
/// # Errors
/// [`MessageError::BadSignature`].
pub fn verify_case_request(
    case_system: &PublicKey,
    method: &str,
    path_and_query: &str,
    time: minimis_proto::UnixTime,
    body: &[u8],
    signature: &minimis_proto::Signature,
) -> Result<(), MessageError> {
    let input =
        minimis_proto::messages::case_request_signing_input(method, path_and_query, time, body);
    verify(case_system, &input, signature).map_err(|_| MessageError::BadSignature {
        what: "case system request",
    })
}

/// Signs a challenge with the operator's key (**CHL-6**).
pub fn sign_challenge(operator: &SigningKey, challenge: Challenge) -> SignedChallenge {
    let signature = operator.sign(&challenge.signing_input());
    SignedChallenge {
        challenge,
        signature,
    }
}

/// Verifies a challenge's operator signature (**CHL-6**).
///
/// # Errors
/// [`MessageError::BadSignature`].
pub fn verify_challenge<'a>(
    signed: &'a SignedChallenge,
    operator: &PublicKey,
) -> Result<&'a Challenge, MessageError> {
    verify(
        operator,
        &signed.challenge.signing_input(),
        &signed.signature,
    )
    .map(|()| &signed.challenge)
    .map_err(|_| MessageError::BadSignature { what: "challenge" })
}

/// Signs an epoch recipient with the custodian's key (**SEAL-7**).
pub fn sign_epoch_recipient(custodian: &SigningKey, body: EpochRecipient) -> SignedEpochRecipient {
    let signature = custodian.sign(&body.signing_input());
    SignedEpochRecipient {
        recipient: body,
        signature,
    }
}

/// Verifies an epoch recipient's custodian signature (**SEAL-7**).
///
/// # Errors
/// [`MessageError::BadSignature`].
pub fn verify_epoch_recipient<'a>(
    signed: &'a SignedEpochRecipient,
    custodian: &PublicKey,
) -> Result<&'a EpochRecipient, MessageError> {
    verify(
        custodian,
        &signed.recipient.signing_input(),
        &signed.signature,
    )
    .map(|()| &signed.recipient)
    .map_err(|_| MessageError::BadSignature {
        what: "epoch recipient",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_proto::{ChallengeKind, CustodianRole, PolicyHash, UnixTime};

    fn envelope(device: &SigningKey, len: usize) -> Envelope {
        sign_envelope(
            device,
            Pseudonym::from_bytes([1; 16]),
            ChallengeId::from_bytes([2; 16]),
            EpochId::new(3),
            SealedCheckIn::try_from(vec![7u8; len]).unwrap(),
        )
    }

    #[test]
    fn chk_11_good_envelope_verifies_with_its_record_id() {
        let device = SigningKey::generate().unwrap();
        let env = envelope(&device, 1000);
        let id = env.record_id();
        let v =
            verify_envelope(env, &device.public_key(), CiphertextBounds::for_layers(2)).unwrap();
        assert_eq!(v.record_id(), id);
    }

    #[test]
    fn chk_11_every_field_is_covered_by_the_signature() {
        let device = SigningKey::generate().unwrap();
        let bounds = CiphertextBounds::for_layers(2);
        let good = envelope(&device, 1000);
        let mut tampered = Vec::new();
        let mut e = good.clone();
        e.pseudonym = Pseudonym::from_bytes([9; 16]);
        tampered.push(e);
        let mut e = good.clone();
        e.challenge_id = ChallengeId::from_bytes([9; 16]);
        tampered.push(e);
        let mut e = good.clone();
        e.epoch = EpochId::new(4);
        tampered.push(e);
        let mut e = good.clone();
        let mut ct = good.ciphertext.as_bytes().to_vec();
        ct[500] ^= 1;
        e.ciphertext = SealedCheckIn::try_from(ct).unwrap();
        tampered.push(e);
        for e in tampered {
            assert_eq!(
                verify_envelope(e, &device.public_key(), bounds).unwrap_err(),
                EnvelopeError::BadSignature
            );
        }
        let stranger = SigningKey::generate().unwrap();
        assert_eq!(
            verify_envelope(good, &stranger.public_key(), bounds)
                .unwrap_err()
                .code(),
            "bad_signature"
        );
    }

    #[test]
    fn seal_4_length_is_checked_against_the_policy_bound() {
        let device = SigningKey::generate().unwrap();
        // 1000 bytes is fine for two layers but too long for one.
        let err = verify_envelope(
            envelope(&device, 1000),
            &device.public_key(),
            CiphertextBounds::for_layers(1),
        )
        .unwrap_err();
        assert_eq!(err.code(), "ciphertext_length");
    }

    #[test]
    fn chk_13_request_signature_covers_method_path_time_and_body() {
        let device = SigningKey::generate().unwrap();
        let p = Pseudonym::from_bytes([4; 16]);
        let t = minimis_proto::UnixTime(1_800_000_000);
        let sig = sign_request(&device, &p, "GET", "/v1/challenges", t, b"");
        let pk = device.public_key();
        assert!(verify_request(&pk, &p, "GET", "/v1/challenges", t, b"", &sig).is_ok());
        assert!(verify_request(&pk, &p, "POST", "/v1/challenges", t, b"", &sig).is_err());
        assert!(verify_request(&pk, &p, "GET", "/v1/ledger", t, b"", &sig).is_err());
        assert!(verify_request(&pk, &p, "GET", "/v1/challenges", t.plus(1), b"", &sig).is_err());
        assert!(verify_request(&pk, &p, "GET", "/v1/challenges", t, b"x", &sig).is_err());
        let other = Pseudonym::from_bytes([5; 16]);
        assert!(verify_request(&pk, &other, "GET", "/v1/challenges", t, b"", &sig).is_err());
    }

    #[test]
    fn chk_10_custodian_requests_are_bound_to_role_and_cannot_pass_as_device_requests() {
        use minimis_proto::CustodianRole;
        let key = SigningKey::generate().unwrap();
        let t = minimis_proto::UnixTime(1_800_000_000);
        let sig = sign_custodian_request(
            &key,
            CustodianRole::Agency,
            "POST",
            "/v1/custodian/entries",
            t,
            b"{}",
        );
        let pk = key.public_key();
        assert!(
            verify_custodian_request(
                &pk,
                CustodianRole::Agency,
                "POST",
                "/v1/custodian/entries",
                t,
                b"{}",
                &sig
            )
            .is_ok()
        );
        assert!(
            verify_custodian_request(
                &pk,
                CustodianRole::Oversight,
                "POST",
                "/v1/custodian/entries",
                t,
                b"{}",
                &sig
            )
            .is_err()
        );
        // The same key signing a device request gives a signature no custodian check accepts.
        let p = Pseudonym::from_bytes([1; 16]);
        let device_sig = sign_request(&key, &p, "POST", "/v1/custodian/entries", t, b"{}");
        assert!(
            verify_custodian_request(
                &pk,
                CustodianRole::Agency,
                "POST",
                "/v1/custodian/entries",
                t,
                b"{}",
                &device_sig
            )
            .is_err()
        );
    }

    #[test]
    fn chl_6_challenge_signature_covers_the_window() {
        let op = SigningKey::generate().unwrap();
        let c = Challenge {
            id: ChallengeId::from_bytes([1; 16]),
            pseudonym: Pseudonym::from_bytes([2; 16]),
            epoch: EpochId::new(3),
            kind: ChallengeKind::Scheduled,
            issued_at: UnixTime(100),
            window_start: UnixTime(100),
            window_end: UnixTime(200),
            policy: PolicyHash::from_bytes([4; 32]),
        };
        let signed = sign_challenge(&op, c);
        assert!(verify_challenge(&signed, &op.public_key()).is_ok());
        let mut moved = signed.clone();
        moved.challenge.window_end = UnixTime(10_000);
        assert!(verify_challenge(&moved, &op.public_key()).is_err());
        let mut adhoc = signed;
        adhoc.challenge.kind = ChallengeKind::AdHoc;
        assert!(verify_challenge(&adhoc, &op.public_key()).is_err());
    }

    #[test]
    fn seal_7_epoch_recipient_signature_covers_every_field() {
        let custodian = SigningKey::generate().unwrap();
        let body = EpochRecipient {
            epoch: EpochId::new(5),
            custodian: "agency".into(),
            role: CustodianRole::Agency,
            recipient: "age1example".into(),
            not_after: UnixTime(1_000),
        };
        let signed = sign_epoch_recipient(&custodian, body);
        assert!(verify_epoch_recipient(&signed, &custodian.public_key()).is_ok());
        let mut e = signed.clone();
        e.recipient.recipient = "age1attacker".into();
        assert!(verify_epoch_recipient(&e, &custodian.public_key()).is_err());
        let mut e = signed.clone();
        e.recipient.not_after = UnixTime(2_000);
        assert!(verify_epoch_recipient(&e, &custodian.public_key()).is_err());
        let mut e = signed;
        e.recipient.role = CustodianRole::Oversight;
        assert!(verify_epoch_recipient(&e, &custodian.public_key()).is_err());
    }
}
