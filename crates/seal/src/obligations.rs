//! Sealing the obligations' messages (`spec/obligations.md`): condition results and
//! filings to the agency's case recipient (and a contest or hold request also to the
//! oversight body's review recipient), deliveries to the device's inbox recipient for the
//! epoch.
//!
//! Each is one standard age v1 file with one X25519 stanza per recipient (C2SP age), of a
//! fixed-size plaintext, so its length says nothing of its content
//! ([`minimis_proto::obligations::sealed_bounds`]). The identities are separate types
//! ([`CaseIdentity`], [`ReviewIdentity`], [`InboxIdentity`]), each with its own recipient
//! type, so that a condition result cannot be sealed to an inbox by mistake. None of them
//! is a custodian's epoch key: a case identity never opens a check-in's content (**OBL-1**,
//! **SEAL-2**).

use std::fmt;
use std::io::{Read as _, Write as _};
use std::str::FromStr as _;

use age::secrecy::ExposeSecret as _;
use minimis_proto::obligations::{
    Addressee, CONDITION_LEN, ConditionDecodeError, ConditionResult, DELIVERY_LEN, Delivery,
    DeliveryDecodeError, FILING_LEN, Filing, FilingDecodeError, SIGNED_DELIVERY_LEN,
    SealedDelivery, SealedLengthError, SignedConditionResult, SignedFiling, sealed_bounds,
};
use minimis_proto::{CiphertextBounds, Signature};
use zeroize::Zeroizing;

use crate::identity::IdentityFileError;
use crate::open::LayerFailure;

/// A recipient string that is not an age X25519 recipient (`age1…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid age X25519 recipient")]
pub struct InvalidRecipient;

macro_rules! identity_pair {
    (
        $(#[$idoc:meta])* $identity:ident,
        $(#[$rdoc:meta])* $recipient:ident,
        $label:expr
    ) => {
        $(#[$rdoc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $recipient(age::x25519::Recipient);

        impl $recipient {
            /// Parses `age1…`.
            ///
            /// # Errors
            /// [`InvalidRecipient`].
            pub fn parse(s: &str) -> Result<Self, InvalidRecipient> {
                age::x25519::Recipient::from_str(s.trim())
                    .map(Self)
                    .map_err(|_| InvalidRecipient)
            }

            fn age(&self) -> &age::x25519::Recipient {
                &self.0
            }
        }

        impl fmt::Display for $recipient {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $recipient {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($recipient), self.0)
            }
        }

        $(#[$idoc])*
        ///
        /// Secret: the X25519 scalar zeroizes on drop; `Debug` shows only the public
        /// recipient; no `Clone`, `Display` or `Serialize` (**SEAL-9**).
        pub struct $identity {
            identity: age::x25519::Identity,
        }

        impl $identity {
            /// A fresh identity from the system's secure random number generator.
            pub fn generate() -> Self {
                Self {
                    identity: age::x25519::Identity::generate(),
                }
            }

            /// The public recipient.
            pub fn recipient(&self) -> $recipient {
                $recipient(self.identity.to_public())
            }

            /// The identity in the standard age identity-file format: a comment line and
            /// one `AGE-SECRET-KEY-1…` line. The secret key: written only to its holder's
            /// key store.
            pub fn to_identity_file(&self) -> Zeroizing<String> {
                use std::fmt::Write as _;
                let secret = self.identity.to_string();
                let mut out = Zeroizing::new(String::with_capacity(256));
                let _ = write!(
                    out,
                    "# minimis {}\n# public key: {}\n{}\n",
                    $label,
                    self.identity.to_public(),
                    secret.expose_secret()
                );
                out
            }

            /// Reads an identity file (comments and blank lines allowed, exactly one
            /// identity).
            ///
            /// # Errors
            /// [`IdentityFileError`].
            pub fn from_identity_file(text: &str) -> Result<Self, IdentityFileError> {
                read_identity_file(text).map(|identity| Self { identity })
            }

            fn age(&self) -> &age::x25519::Identity {
                &self.identity
            }
        }

        impl fmt::Debug for $identity {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($identity))
                    .field("recipient", &self.identity.to_public().to_string())
                    .field("secret", &"<redacted>")
                    .finish()
            }
        }
    };
}

identity_pair!(
    /// The agency case system's identity for one enrollment (**OBL-1**): it opens that
    /// enrollment's condition results and filings, and nothing else.
    CaseIdentity,
    /// The public half of a [`CaseIdentity`]: the enrollment bundle's `case-recipient`.
    CaseRecipient,
    "case identity"
);

identity_pair!(
    /// The oversight body's review identity (**OBL-9**, **OBL-15**): it opens contests and
    /// hold requests, so that they are heard even if the agency does nothing.
    ReviewIdentity,
    /// The public half of a [`ReviewIdentity`].
    ReviewRecipient,
    "oversight review identity"
);

identity_pair!(
    /// A device's inbox identity for one epoch (**OBL-11**): it opens the deliveries
    /// sealed to that epoch's inbox, and is deleted at the epoch's content deadline.
    InboxIdentity,
    /// The public half of an [`InboxIdentity`], published signed by the device key.
    InboxRecipient,
    "inbox identity"
);

fn read_identity_file(text: &str) -> Result<age::x25519::Identity, IdentityFileError> {
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = age::x25519::Identity::from_str(line)
            .map_err(|_| IdentityFileError::Invalid { line: i + 1 })?;
        if found.replace(identity).is_some() {
            return Err(IdentityFileError::Several);
        }
    }
    found.ok_or(IdentityFileError::Missing)
}

/// Why sealing an obligations message failed. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealObligationError {
    /// A contest or hold request, and no review recipient to seal it to as well
    /// (**OBL-9**).
    #[error(
        "a contest or hold request is sealed to the oversight body too; no review recipient was given"
    )]
    NoReviewRecipient,
    /// age refused to encrypt.
    #[error("age encryption failed")]
    Encrypt(#[source] age::EncryptError),
    /// Writing the age stream failed.
    #[error("age encryption failed")]
    Io(#[source] std::io::Error),
    /// The result is outside the documented bound; never sent.
    #[error(transparent)]
    Length(#[from] SealedLengthError),
}

/// Why a sealed obligations message could not be opened. Never panics, whatever the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenSealedError {
    /// The sealed bytes are not the length of what they must seal.
    #[error(transparent)]
    Length(#[from] SealedLengthError),
    /// The age file could not be opened.
    #[error("the sealed message cannot be opened: {0}")]
    Layer(LayerFailure),
    /// The plaintext is not the fixed size of the message.
    #[error("the sealed plaintext is {actual} bytes, not {expected}")]
    PlaintextLength {
        /// The fixed size.
        expected: usize,
        /// What was found (at most one byte more).
        actual: usize,
    },
    /// Not a condition result.
    #[error(transparent)]
    Condition(#[from] ConditionDecodeError),
    /// Not a filing.
    #[error(transparent)]
    Filing(#[from] FilingDecodeError),
    /// Not a delivery.
    #[error(transparent)]
    Delivery(#[from] DeliveryDecodeError),
}

fn check_bounds(
    what: &'static str,
    len: usize,
    bounds: CiphertextBounds,
) -> Result<(), SealedLengthError> {
    if bounds.contains(len) {
        Ok(())
    } else {
        Err(SealedLengthError {
            what,
            len,
            bare: bounds.bare,
            min: bounds.min,
            max: bounds.max,
        })
    }
}

/// One age v1 file with one X25519 stanza per recipient around `plaintext`.
fn age_file(
    plaintext: &[u8],
    recipients: &[&age::x25519::Recipient],
    bounds: CiphertextBounds,
    what: &'static str,
) -> Result<Vec<u8>, SealObligationError> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| *r as &dyn age::Recipient))
            .map_err(SealObligationError::Encrypt)?;
    let mut out = Vec::with_capacity(bounds.max);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(SealObligationError::Io)?;
    writer
        .write_all(plaintext)
        .map_err(SealObligationError::Io)?;
    writer.finish().map_err(SealObligationError::Io)?;
    check_bounds(what, out.len(), bounds)?;
    Ok(out)
}

/// Opens one age file with `identity`, expecting exactly `expected` bytes of plaintext.
fn age_open_exact(
    ciphertext: &[u8],
    identity: &age::x25519::Identity,
    expected: usize,
) -> Result<Zeroizing<Vec<u8>>, OpenSealedError> {
    let layer = |e: &age::DecryptError| {
        OpenSealedError::Layer(match e {
            age::DecryptError::NoMatchingKeys => LayerFailure::NoMatchingKey,
            age::DecryptError::InvalidMac | age::DecryptError::DecryptionFailed => {
                LayerFailure::Tampered
            }
            _ => LayerFailure::Malformed,
        })
    };
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| layer(&e))?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| layer(&e))?;
    let mut out = Zeroizing::new(Vec::with_capacity(expected + 1));
    reader
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| OpenSealedError::Layer(LayerFailure::Tampered))?;
    if out.len() != expected {
        return Err(OpenSealedError::PlaintextLength {
            expected,
            actual: out.len(),
        });
    }
    Ok(out)
}

/// Seals a condition result to the enrollment's case recipient (**OBL-4**).
///
/// # Errors
/// [`SealObligationError`].
pub fn seal_condition(
    result: &ConditionResult,
    to: &CaseRecipient,
) -> Result<Vec<u8>, SealObligationError> {
    age_file(
        &result.encode()[..],
        &[to.age()],
        SignedConditionResult::BOUNDS,
        "condition result",
    )
}

/// Opens a sealed condition result with the enrollment's case identity (**OBL-5**). The
/// caller checks the device signature first (`minimis_crypto::verify_condition`).
///
/// # Errors
/// [`OpenSealedError`].
pub fn open_condition(
    ciphertext: &[u8],
    identity: &CaseIdentity,
) -> Result<ConditionResult, OpenSealedError> {
    check_bounds(
        "condition result",
        ciphertext.len(),
        SignedConditionResult::BOUNDS,
    )?;
    let plain = age_open_exact(ciphertext, identity.age(), CONDITION_LEN)?;
    Ok(ConditionResult::decode(&plain)?)
}

/// Seals a filing (**OBL-9**): to the case recipient, and for a contest or a hold request
/// to the oversight body's review recipient as well (one age file, two stanzas, so either
/// can open it without the other). Returns the addressee to sign with it.
///
/// # Errors
/// [`SealObligationError::NoReviewRecipient`] for a contest or hold request without a
/// review recipient; otherwise [`SealObligationError`].
pub fn seal_filing(
    filing: &Filing,
    case: &CaseRecipient,
    review: Option<&ReviewRecipient>,
) -> Result<(Addressee, Vec<u8>), SealObligationError> {
    let addressee = filing.addressee();
    let recipients: Vec<&age::x25519::Recipient> = match addressee {
        Addressee::Agency => vec![case.age()],
        Addressee::AgencyAndOversight => vec![
            case.age(),
            review.ok_or(SealObligationError::NoReviewRecipient)?.age(),
        ],
    };
    let sealed = age_file(
        &filing.encode()[..],
        &recipients,
        SignedFiling::bounds(addressee),
        "filing",
    )?;
    Ok((addressee, sealed))
}

/// Opens a sealed filing with the enrollment's case identity.
///
/// # Errors
/// [`OpenSealedError`].
pub fn open_filing_as_agency(
    ciphertext: &[u8],
    addressee: Addressee,
    identity: &CaseIdentity,
) -> Result<Filing, OpenSealedError> {
    open_filing(ciphertext, addressee, identity.age())
}

/// Opens a sealed contest or hold request with the oversight body's review identity.
///
/// # Errors
/// [`OpenSealedError`]; a filing addressed to the agency alone is not sealed to it
/// ([`LayerFailure::NoMatchingKey`]).
pub fn open_filing_as_oversight(
    ciphertext: &[u8],
    identity: &ReviewIdentity,
) -> Result<Filing, OpenSealedError> {
    open_filing(ciphertext, Addressee::AgencyAndOversight, identity.age())
}

fn open_filing(
    ciphertext: &[u8],
    addressee: Addressee,
    identity: &age::x25519::Identity,
) -> Result<Filing, OpenSealedError> {
    check_bounds(
        "filing",
        ciphertext.len(),
        sealed_bounds(FILING_LEN, addressee.recipients()),
    )?;
    let plain = age_open_exact(ciphertext, identity, FILING_LEN)?;
    Ok(Filing::decode(&plain)?)
}

/// Seals a delivery and its sender's signature (`minimis_crypto::sign_delivery`) to the
/// participant's inbox recipient for the current epoch (**OBL-12**).
///
/// # Errors
/// [`SealObligationError`].
pub fn seal_delivery(
    delivery: &Delivery,
    signature: &Signature,
    to: &InboxRecipient,
) -> Result<SealedDelivery, SealObligationError> {
    let mut plain = Zeroizing::new([0u8; SIGNED_DELIVERY_LEN]);
    plain[..DELIVERY_LEN].copy_from_slice(&delivery.encode()[..]);
    plain[DELIVERY_LEN..].copy_from_slice(signature.as_bytes());
    let ciphertext = age_file(&plain[..], &[to.age()], SealedDelivery::BOUNDS, "delivery")?;
    Ok(SealedDelivery { ciphertext })
}

/// Opens a sealed delivery with the inbox identity of its epoch: the delivery, its exact
/// 512 bytes (for the signature check) and its sender's signature. The caller verifies the
/// signature (`minimis_crypto::verify_delivery`) before it shows anything.
///
/// # Errors
/// [`OpenSealedError`].
pub fn open_delivery(
    sealed: &SealedDelivery,
    identity: &InboxIdentity,
) -> Result<OpenedDelivery, OpenSealedError> {
    sealed.check_length()?;
    let plain = age_open_exact(&sealed.ciphertext, identity.age(), SIGNED_DELIVERY_LEN)?;
    let mut bytes = Zeroizing::new([0u8; DELIVERY_LEN]);
    bytes.copy_from_slice(&plain[..DELIVERY_LEN]);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&plain[DELIVERY_LEN..]);
    let delivery = Delivery::decode(&bytes[..])?;
    Ok(OpenedDelivery {
        delivery,
        bytes,
        signature: Signature(sig),
    })
}

/// A delivery opened by the device, its signature not yet checked.
pub struct OpenedDelivery {
    /// What it says.
    pub delivery: Delivery,
    /// Its encoding, which the signature covers.
    pub bytes: Zeroizing<[u8; DELIVERY_LEN]>,
    /// Its sender's signature.
    pub signature: Signature,
}

impl fmt::Debug for OpenedDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedDelivery")
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_crypto::{SigningKey, sign_delivery, verify_delivery};
    use minimis_proto::obligations::{ConditionOutcome, DeliveryBody, FilingKind, Text};
    use minimis_proto::{ChallengeId, Pseudonym, ReviewId, UnixTime};

    const MONDAY: UnixTime = UnixTime(1_795_392_000);

    fn result() -> ConditionResult {
        ConditionResult {
            challenge_id: ChallengeId::from_bytes([4; 16]),
            area: ConditionOutcome::NotMet,
            presence: ConditionOutcome::Met,
        }
    }

    #[test]
    fn obl_4_condition_result_opens_with_the_case_identity_only() {
        let case = CaseIdentity::generate();
        let sealed = seal_condition(&result(), &case.recipient()).unwrap();
        assert!(SignedConditionResult::BOUNDS.contains(sealed.len()));
        assert_eq!(open_condition(&sealed, &case).unwrap(), result());
        // Another enrollment's case identity cannot open it.
        let other = CaseIdentity::generate();
        assert_eq!(
            open_condition(&sealed, &other).unwrap_err(),
            OpenSealedError::Layer(LayerFailure::NoMatchingKey)
        );
        // A changed byte in the payload fails authentication.
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            open_condition(&tampered, &case).unwrap_err(),
            OpenSealedError::Layer(LayerFailure::Tampered)
        );
        // A condition result is a standard age file: age's own decryptor opens it.
        let d = age::Decryptor::new_buffered(&sealed[..]).unwrap();
        let mut r = d
            .decrypt(std::iter::once(case.age() as &dyn age::Identity))
            .unwrap();
        let mut plain = Vec::new();
        r.read_to_end(&mut plain).unwrap();
        assert_eq!(plain, result().encode().to_vec());
    }

    #[test]
    fn obl_4_a_sealed_plaintext_of_another_size_is_refused() {
        let case = CaseIdentity::generate();
        // 64 bytes of something else would decode-fail; 63 bytes is caught by its size.
        let short = age_file(
            &[1u8; 63],
            &[case.recipient().age()],
            sealed_bounds(63, 1),
            "x",
        )
        .unwrap();
        assert!(matches!(
            open_condition(&short, &case),
            Err(OpenSealedError::PlaintextLength {
                expected: 64,
                actual: 63
            })
        ));
        let junk = age_file(
            &[0xffu8; 64],
            &[case.recipient().age()],
            SignedConditionResult::BOUNDS,
            "x",
        )
        .unwrap();
        assert!(matches!(
            open_condition(&junk, &case),
            Err(OpenSealedError::Condition(
                ConditionDecodeError::UnsupportedVersion(0xff)
            ))
        ));
        assert!(matches!(
            open_condition(&[0u8; 10], &case),
            Err(OpenSealedError::Length(_))
        ));
    }

    #[test]
    fn obl_9_contest_opens_for_agency_and_oversight_notice_for_agency_only() {
        let case = CaseIdentity::generate();
        let review = ReviewIdentity::generate();
        let notice = Filing::new(
            FilingKind::Residence,
            MONDAY,
            None,
            None,
            Text::new("4 Oak Avenue"),
        )
        .unwrap();
        let (addressee, sealed) =
            seal_filing(&notice, &case.recipient(), Some(&review.recipient())).unwrap();
        assert_eq!(addressee, Addressee::Agency);
        assert_eq!(
            open_filing_as_agency(&sealed, addressee, &case).unwrap(),
            notice
        );
        // The oversight body is not a recipient of a notice.
        assert!(open_filing_as_oversight(&sealed, &review).is_err());

        let contest = Filing::new(
            FilingKind::Contest,
            MONDAY,
            None,
            Some(ReviewId::from_bytes([8; 16])),
            Text::new("I was at the hospital."),
        )
        .unwrap();
        assert!(matches!(
            seal_filing(&contest, &case.recipient(), None),
            Err(SealObligationError::NoReviewRecipient)
        ));
        let (addressee, sealed) =
            seal_filing(&contest, &case.recipient(), Some(&review.recipient())).unwrap();
        assert_eq!(addressee, Addressee::AgencyAndOversight);
        assert_eq!(
            open_filing_as_agency(&sealed, addressee, &case).unwrap(),
            contest
        );
        assert_eq!(open_filing_as_oversight(&sealed, &review).unwrap(), contest);
    }

    #[test]
    fn obl_12_delivery_round_trip_with_its_sender_signature() {
        let inbox = InboxIdentity::generate();
        let agency = SigningKey::generate().unwrap();
        let p = Pseudonym::from_bytes([1; 16]);
        let d = Delivery::new(
            DeliveryBody::HearingReminder {
                at: UnixTime(MONDAY.0 + 9 * 3600),
            },
            Text::new("Hearing at 9:00, courtroom 4."),
        )
        .unwrap();
        let sig = sign_delivery(&agency, &p, &d.encode());
        let sealed = seal_delivery(&d, &sig, &inbox.recipient()).unwrap();
        assert!(SealedDelivery::BOUNDS.contains(sealed.ciphertext.len()));
        let opened = open_delivery(&sealed, &inbox).unwrap();
        assert_eq!(opened.delivery, d);
        assert!(
            verify_delivery(&agency.public_key(), &p, &opened.bytes, &opened.signature).is_ok()
        );
        // Another epoch's inbox cannot open it.
        assert!(open_delivery(&sealed, &InboxIdentity::generate()).is_err());
    }

    #[test]
    fn seal_9_obligation_identities_are_redacted_and_files_round_trip() {
        let case = CaseIdentity::generate();
        let file = case.to_identity_file();
        let secret = file.lines().last().unwrap().to_owned();
        assert!(secret.starts_with("AGE-SECRET-KEY-1"));
        assert!(!format!("{case:?}").contains(&secret[16..40]));
        let back = CaseIdentity::from_identity_file(&file).unwrap();
        assert_eq!(back.recipient(), case.recipient());
        assert_eq!(
            CaseRecipient::parse(&case.recipient().to_string()).unwrap(),
            case.recipient()
        );
        assert_eq!(CaseRecipient::parse("age1nope"), Err(InvalidRecipient));
        assert!(InboxIdentity::from_identity_file("# none\n").is_err());
    }
}
