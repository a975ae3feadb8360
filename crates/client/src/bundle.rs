//! The signed enrollment bundle (**ENR-4**, **LOC-21**): what the device is enrolled with,
//! fixed and signed at the in-person enrollment, so that neither the operator nor anyone
//! else can change it afterwards.
//!
//! The bundle is a C2SP [signed note](https://c2sp.org/signed-note), Ed25519, signed by
//! the agency's enrollment key (the key of the agency's enrollment station, whose
//! verifier key the agency publishes with its officer CA and the device pins at
//! enrollment). Its text is one field per line, in this order:
//!
//! ```text
//! minimis/v1 enrollment-bundle
//! pseudonym <32 lowercase hex>
//! device-key <base64 of the device's 32-byte Ed25519 public key>
//! policy <64 lowercase hex: the policy hash, POL-12>
//! schedule <the schedule as one line of JSON, as POST /v1/enrollments takes it>
//! zone <64 lowercase hex: the zone commitment> | zone none
//! operator-key <base64 of the operator's challenge key>
//! log-key <the log's verifier key, LOG-9>
//! witness <a witness's verifier key>          (zero or more lines)
//! witness-policy <base64 of a C2SP tlog-policy file>   (optional, LOG-68)
//! agency-key <base64 of the agency custodian's Ed25519 key>
//! oversight-key <base64 of the oversight custodian's key>   (absent with one custodian)
//! case-recipient <age1…: the enrollment's case recipient>      (these three together,
//! review-recipient <age1…: the oversight body's review recipient>   or none of them)
//! review-key <base64 of the oversight body's review key>
//! issued <seconds since the Unix epoch>
//! ```
//!
//! The three obligation lines ([`ObligationKeys`], `spec/obligations.md`) fix what the
//! device seals condition results and filings to, and whose signature an oversight
//! decision must carry (OBL-1, OBL-9, OBL-24).
//!
//! The zone commitment is `SHA-256("minimis/v1 zone\n" || salt (32) || zone)`, with a
//! 32-byte random salt and the zone's GeoJSON bytes exactly as enrolled: the bundle can be
//! shown to anyone without showing the zone, and a standard area cannot be recognised by
//! hashing public boundaries. The salt and the zone stay with the device and the agency.
//!
//! [`Device::enroll`] accepts a bundle only if its signature verifies under the pinned
//! key, it names this device's key, the policy text given has its policy hash, the
//! schedule is within that policy (CHL-1), and the zone given is the one it commits to (or
//! there is none on either side). Everything the device then enforces comes from the
//! bundle: the schedule, the zone, the policy (so every challenge and every custodian
//! recipient is checked under it), and the keys.

use std::fmt;
use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::{SigningKey, TagKey};
use minimis_log::note::SignatureType;
use minimis_log::{NoteSigner, SignedNote, TlogPolicy, VerifierKey};
use minimis_proto::{Policy, PolicyHash, Pseudonym, PublicKey, Schedule, UnixTime};
use minimis_seal::{CaseRecipient, CustodianKeys, ReviewRecipient};
use zeroize::Zeroizing;

use crate::device::{Device, Enrollment};
use crate::location::Zone;
use crate::notice::{Language, NoticeShown, Translation};

/// The first line of a bundle's text.
pub const BUNDLE_HEADER: &str = "minimis/v1 enrollment-bundle";

/// The label that starts a zone commitment's input.
pub const ZONE_LABEL: &[u8] = b"minimis/v1 zone\n";

/// The random salt of a zone commitment. Kept by the device and the agency; zeroized on
/// drop, never shown.
pub struct ZoneSalt(Zeroizing<[u8; 32]>);

impl ZoneSalt {
    /// A fresh salt from the system's secure random number generator.
    ///
    /// # Errors
    /// [`minimis_crypto::RandomError`].
    pub fn generate() -> Result<Self, minimis_crypto::RandomError> {
        Ok(Self(Zeroizing::new(minimis_crypto::random_bytes()?)))
    }

    /// A salt from its bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// The bytes, to store on the device.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ZoneSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZoneSalt(<redacted>)")
    }
}

/// A zone commitment: `SHA-256("minimis/v1 zone\n" || salt || zone GeoJSON)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneCommitment(pub [u8; 32]);

impl ZoneCommitment {
    /// The commitment to `zone` under `salt`.
    pub fn new(salt: &ZoneSalt, zone: &Zone) -> Self {
        let mut input = Zeroizing::new(Vec::with_capacity(
            ZONE_LABEL.len() + 32 + zone.geojson().len(),
        ));
        input.extend_from_slice(ZONE_LABEL);
        input.extend_from_slice(salt.expose_secret());
        input.extend_from_slice(zone.geojson().as_bytes());
        Self(minimis_crypto::sha256(&input))
    }
}

/// The keys of the program's obligations that an enrollment fixes (`spec/obligations.md`):
/// all public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObligationKeys {
    /// The enrollment's case recipient: condition results and filings are sealed to it
    /// (OBL-1, OBL-4, OBL-9).
    pub case_recipient: CaseRecipient,
    /// The oversight body's review recipient: contests and hold requests are sealed to it
    /// too (OBL-9).
    pub review_recipient: ReviewRecipient,
    /// The oversight body's review key: an oversight decision must verify under it (OBL-24).
    pub review_key: PublicKey,
}

/// What an enrollment fixes. All public; the zone appears only as its commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The pseudonym the operator assigned.
    pub pseudonym: Pseudonym,
    /// The device's public key.
    pub device_key: PublicKey,
    /// The policy's hash.
    pub policy: PolicyHash,
    /// The schedule.
    pub schedule: Schedule,
    /// The commitment to the ordered zone, if the agency or a court ordered one.
    pub zone: Option<ZoneCommitment>,
    /// The operator's challenge-signing key.
    pub operator_key: PublicKey,
    /// The log's verifier key.
    pub log_key: VerifierKey,
    /// The witnesses whose cosignature every receipt must carry.
    pub witnesses: Vec<VerifierKey>,
    /// The tlog-policy whose quorum every witnessed receipt must carry (**LOG-68**).
    pub tlog_policy: Option<TlogPolicy>,
    /// The custodians' keys, for their signed epoch recipients (SEAL-7).
    pub custodians: CustodianKeys,
    /// The obligations' keys, if the enrollment carries them.
    pub obligations: Option<ObligationKeys>,
    /// When the agency issued it.
    pub issued: UnixTime,
}

/// Why a bundle was refused. Nothing was enrolled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The text cannot be carried in a signed note.
    #[error("the bundle cannot be signed: {0}")]
    Text(String),
    /// The key given to verify it is not an Ed25519 note key.
    #[error("the agency's enrollment key must be an Ed25519 note key")]
    NotASigningKey,
    /// Not a signed note, or not signed by the agency's enrollment key.
    #[error("the bundle is not signed by the agency's enrollment key")]
    Signature,
    /// A line is missing, out of order, unknown or malformed.
    #[error("the bundle is malformed at `{0}`")]
    Malformed(&'static str),
    /// It names another device's key.
    #[error("the bundle is for another device's key")]
    NotThisDevice,
    /// The policy given does not parse.
    #[error("the policy given does not parse: {0}")]
    Policy(String),
    /// The policy given is not the one the bundle cites (ENR-4).
    #[error("the bundle cites policy {bundle}, not the policy given ({given})")]
    OtherPolicy {
        /// The hash the bundle cites.
        bundle: PolicyHash,
        /// The hash of the policy given.
        given: PolicyHash,
    },
    /// The schedule is outside the policy (CHL-1).
    #[error("the bundle's schedule is outside its policy: {0}")]
    Schedule(String),
    /// The zone given is not the one the bundle commits to, or the bundle fixes a zone and
    /// none was given, or none and one was given (LOC-21).
    #[error("the zone is not the one the bundle fixes")]
    Zone,
    /// The notice shown was for another policy than the bundle cites (ENR-20).
    #[error("the notice shown is not the notice of the policy the bundle cites")]
    NoticeForOtherPolicy,
}

fn b64_key(s: &str) -> Option<PublicKey> {
    let v = B64.decode(s).ok()?;
    Some(PublicKey(v.try_into().ok()?))
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl Bundle {
    /// The note text (every line ending in a newline).
    ///
    /// # Errors
    /// [`BundleError::Text`] if the schedule cannot be written as JSON.
    pub fn text(&self) -> Result<String, BundleError> {
        let schedule =
            serde_json::to_string(&self.schedule).map_err(|e| BundleError::Text(e.to_string()))?;
        let mut t = String::new();
        let mut line = |k: &str, v: &str| {
            t.push_str(k);
            t.push(' ');
            t.push_str(v);
            t.push('\n');
        };
        line("pseudonym", &self.pseudonym.to_hex());
        line("device-key", &self.device_key.to_base64());
        line("policy", &self.policy.to_hex());
        line("schedule", &schedule);
        match &self.zone {
            Some(z) => line("zone", &hex::encode(z.0)),
            None => line("zone", "none"),
        }
        line("operator-key", &self.operator_key.to_base64());
        line("log-key", &self.log_key.to_string());
        for w in &self.witnesses {
            line("witness", &w.to_string());
        }
        if let Some(p) = &self.tlog_policy {
            line("witness-policy", &B64.encode(p.as_bytes()));
        }
        line("agency-key", &self.custodians.agency.to_base64());
        if let Some(o) = &self.custodians.oversight {
            line("oversight-key", &o.to_base64());
        }
        if let Some(o) = &self.obligations {
            line("case-recipient", &o.case_recipient.to_string());
            line("review-recipient", &o.review_recipient.to_string());
            line("review-key", &o.review_key.to_base64());
        }
        line("issued", &self.issued.seconds().to_string());
        Ok(format!("{BUNDLE_HEADER}\n{t}"))
    }

    /// Signs the bundle with the agency's enrollment key (the enrollment station's job).
    ///
    /// # Errors
    /// [`BundleError::Text`].
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, BundleError> {
        let text = self.text()?;
        let note = signer
            .sign_note(&text)
            .map_err(|e| BundleError::Text(e.to_string()))?;
        Ok(note.to_string())
    }

    /// Verifies a signed bundle under the agency's enrollment key and reads it.
    ///
    /// # Errors
    /// [`BundleError`].
    pub fn open(note: &str, agency_key: &VerifierKey) -> Result<Self, BundleError> {
        if agency_key.signature_type() != SignatureType::Ed25519 {
            return Err(BundleError::NotASigningKey);
        }
        let note = SignedNote::parse(note.as_bytes()).map_err(|_| BundleError::Signature)?;
        note.verify(std::slice::from_ref(agency_key))
            .map_err(|_| BundleError::Signature)?;
        Self::parse(note.text())
    }

    fn parse(text: &str) -> Result<Self, BundleError> {
        use BundleError::Malformed as M;
        let mut lines = text.lines().peekable();
        if lines.next() != Some(BUNDLE_HEADER) {
            return Err(M("header"));
        }
        let mut field = |name: &'static str| -> Result<&str, BundleError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or(M(name))
        };
        let pseudonym: Pseudonym = field("pseudonym")?.parse().map_err(|_| M("pseudonym"))?;
        let device_key = b64_key(field("device-key")?).ok_or(M("device-key"))?;
        let policy = PolicyHash::from_bytes(hex32(field("policy")?).ok_or(M("policy"))?);
        let schedule: Schedule =
            serde_json::from_str(field("schedule")?).map_err(|_| M("schedule"))?;
        let zone = match field("zone")? {
            "none" => None,
            z => Some(ZoneCommitment(hex32(z).ok_or(M("zone"))?)),
        };
        let operator_key = b64_key(field("operator-key")?).ok_or(M("operator-key"))?;
        let log_key = VerifierKey::from_str(field("log-key")?).map_err(|_| M("log-key"))?;
        let mut witnesses = Vec::new();
        while let Some(w) = lines.peek().and_then(|l| l.strip_prefix("witness ")) {
            witnesses.push(VerifierKey::from_str(w).map_err(|_| M("witness"))?);
            lines.next();
        }
        let tlog_policy = match lines.peek().and_then(|l| l.strip_prefix("witness-policy ")) {
            Some(p) => {
                let bytes = B64.decode(p).map_err(|_| M("witness-policy"))?;
                let policy = TlogPolicy::parse(&bytes).map_err(|_| M("witness-policy"))?;
                if !policy.accepts_log(&log_key) {
                    return Err(M("witness-policy"));
                }
                lines.next();
                Some(policy)
            }
            None => None,
        };
        let mut field = |name: &'static str| -> Result<&str, BundleError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or(M(name))
        };
        let agency = b64_key(field("agency-key")?).ok_or(M("agency-key"))?;
        let oversight = match lines.peek().and_then(|l| l.strip_prefix("oversight-key ")) {
            Some(o) => {
                let k = b64_key(o).ok_or(M("oversight-key"))?;
                lines.next();
                Some(k)
            }
            None => None,
        };
        let obligations = match lines.peek().and_then(|l| l.strip_prefix("case-recipient ")) {
            Some(c) => {
                let case_recipient = CaseRecipient::parse(c).map_err(|_| M("case-recipient"))?;
                lines.next();
                let mut field = |name: &'static str| -> Result<&str, BundleError> {
                    lines
                        .next()
                        .and_then(|l| l.strip_prefix(name))
                        .and_then(|l| l.strip_prefix(' '))
                        .ok_or(M(name))
                };
                let review_recipient = ReviewRecipient::parse(field("review-recipient")?)
                    .map_err(|_| M("review-recipient"))?;
                let review_key = b64_key(field("review-key")?).ok_or(M("review-key"))?;
                Some(ObligationKeys {
                    case_recipient,
                    review_recipient,
                    review_key,
                })
            }
            None => None,
        };
        let issued = lines
            .next()
            .and_then(|l| l.strip_prefix("issued "))
            .filter(|s| !s.starts_with('+') && !s.starts_with("-0") && *s != "-")
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or(M("issued"))?;
        if lines.next().is_some() {
            return Err(M("end"));
        }
        let bundle = Self {
            pseudonym,
            device_key,
            policy,
            schedule,
            zone,
            operator_key,
            log_key,
            witnesses,
            tlog_policy,
            custodians: CustodianKeys { agency, oversight },
            obligations,
            issued: UnixTime(issued),
        };
        // One encoding only: the text must be exactly what this bundle writes.
        if bundle.text()? != text {
            return Err(M("encoding"));
        }
        Ok(bundle)
    }
}

/// What the device keeps of its bundle: the signed note and the key it was verified under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeptBundle {
    pub(crate) note: String,
    pub(crate) agency_key: VerifierKey,
    pub(crate) bundle: Bundle,
}

/// The zone the participant was ordered to stay in, with its commitment's salt.
pub type OrderedZone = (Zone, ZoneSalt);

impl Device {
    /// Enrolls the device from a signed bundle (**ENR-4**, **LOC-21**): verifies it under
    /// the agency's enrollment key, checks that it names this device's key, that
    /// `policy_text` is the policy it cites and the schedule is within it, that `zone`
    /// is the zone it commits to (with its salt), or that neither has a zone, and that
    /// the participant was shown the notice of that policy (`notice`, from
    /// [`crate::notice::show`], **ENR-20**). The device's
    /// enrollment is then taken from the bundle alone; the device refuses every challenge
    /// that cites another policy ([`crate::Refusal::WrongPolicy`]) and every custodian
    /// recipient that is not signed by the bundle's custodian keys for the policy's
    /// custodians and epochs (SEAL-7).
    ///
    /// # Errors
    /// [`BundleError`]; nothing was enrolled.
    pub fn enroll(
        note: &str,
        agency_key: &VerifierKey,
        policy_text: &str,
        zone: Option<OrderedZone>,
        notice: NoticeShown,
        key: SigningKey,
        tags: TagKey,
    ) -> Result<Self, BundleError> {
        let bundle = Bundle::open(note, agency_key)?;
        let enrollment = enrollment_from(&bundle, policy_text, zone.as_ref())?;
        if bundle.device_key != key.public_key() {
            return Err(BundleError::NotThisDevice);
        }
        if notice.policy() != bundle.policy {
            return Err(BundleError::NoticeForOtherPolicy);
        }
        let mut device = Self::new(enrollment, key, tags);
        device.bundle = Some(KeptBundle {
            note: note.to_owned(),
            agency_key: agency_key.clone(),
            bundle,
        });
        device.zone_salt = zone.map(|(_, s)| s);
        device.notice_shown = Some(notice);
        Ok(device)
    }

    /// The notice shown at enrollment (ENR-20), if enrolled with a bundle.
    pub fn notice_shown(&self) -> Option<NoticeShown> {
        self.notice_shown
    }

    /// The notice for the policy the device was enrolled under, to show again at any time
    /// (ENR-20); `translation` as for [`crate::notice::notice`].
    pub fn notice(&self, language: Language, translation: Option<&Translation>) -> String {
        crate::notice::notice(&self.enrollment.policy, language, translation)
    }

    /// The signed enrollment bundle the device was enrolled with, if it was enrolled with
    /// one ([`Device::enroll`]); a device made with [`Device::new`] has none.
    pub fn bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref().map(|b| &b.bundle)
    }

    /// The signed bundle's text, as a third party verifies it.
    pub fn bundle_note(&self) -> Option<&str> {
        self.bundle.as_ref().map(|b| b.note.as_str())
    }
}

/// The enrollment a bundle fixes, with the policy and zone the device holds.
pub(crate) fn enrollment_from(
    bundle: &Bundle,
    policy_text: &str,
    zone: Option<&OrderedZone>,
) -> Result<Enrollment, BundleError> {
    let policy =
        Policy::from_toml_str(policy_text).map_err(|e| BundleError::Policy(e.to_string()))?;
    if policy.hash() != bundle.policy {
        return Err(BundleError::OtherPolicy {
            bundle: bundle.policy,
            given: policy.hash(),
        });
    }
    bundle
        .schedule
        .check_policy(&policy)
        .map_err(|e| BundleError::Schedule(e.to_string()))?;
    match (&bundle.zone, zone) {
        (None, None) => {}
        (Some(c), Some((z, salt))) if ZoneCommitment::new(salt, z) == *c => {}
        _ => return Err(BundleError::Zone),
    }
    Ok(Enrollment {
        pseudonym: bundle.pseudonym,
        schedule: bundle.schedule.clone(),
        zone: zone.map(|(z, _)| z.clone()),
        policy: policy.into(),
        policy_text: policy_text.into(),
        operator_key: bundle.operator_key,
        log_key: bundle.log_key.clone(),
        witnesses: bundle.witnesses.clone(),
        tlog_policy: bundle.tlog_policy.clone().map(std::sync::Arc::new),
        custodians: bundle.custodians,
    })
}
