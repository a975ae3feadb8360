//! Messages on the wire: the check-in envelope, challenges, receipts and the custodians'
//! signed epoch recipients, each with the one byte string that is signed.
//!
//! JSON field names are fixed by the spec (`spec/checkin.md` § Wire messages); unknown
//! fields are refused. Signing inputs start with a distinct label ending in a newline, so
//! no signature over one kind of message can be replayed as another (**CHK-10**).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{ChallengeId, EpochId, PolicyHash, Pseudonym, RecordId};
use crate::policy::CustodianRole;
use crate::schedule::ChallengeKind;
use crate::wire::{Signature, UnixTime, base64_bytes};

/// Sizes that make up an age v1 file with one X25519 recipient, in bytes
/// (`spec/sealing.md` § Length bound, **SEAL-20**). A layer adds `LAYER_OVERHEAD`, and
/// `LAYER_OVERHEAD + grease` when its sealer adds a grease stanza.
pub mod age_layout {
    /// `age-encryption.org/v1\n`
    pub const VERSION_LINE: usize = 22;
    /// `-> X25519 <43 base64>\n<43 base64>\n`
    pub const X25519_STANZA: usize = 98;
    /// `--- <43 base64>\n`
    pub const MAC_LINE: usize = 48;
    /// The payload nonce.
    pub const NONCE: usize = 16;
    /// One ChaCha20-Poly1305 tag: payloads under 64 KiB are one STREAM chunk.
    pub const TAG: usize = 16;
    /// Everything a layer adds but a grease stanza: what Go `age` writes (**SEAL-20**).
    pub const LAYER_OVERHEAD: usize = VERSION_LINE + X25519_STANZA + MAC_LINE + NONCE + TAG;
    /// The shortest grease stanza the age crate writes: `-> x-grease\n\n` (**SEAL-21**).
    pub const GREASE_MIN: usize = 13;
    /// The longest: a 55-byte first line (a 15-character tag and four 8-character
    /// arguments) and a 99-byte body in three lines (135 bytes).
    pub const GREASE_MAX: usize = 190;
}

/// The lengths a sealed check-in of a number of layers can have (**SEAL-4**,
/// **SEAL-20**): `512 + layers·200 + Σ grease`, where each layer's grease is 0 (no grease
/// stanza, as Go `age` writes) or 13 to 190 bytes (one grease stanza, as the age crate
/// writes). That set is `bare` alone, then the interval `min..=max`: with one layer
/// `{712} ∪ [725, 902]`, with two `{912} ∪ [925, 1292]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CiphertextBounds {
    /// The length with no grease stanza in any layer.
    pub bare: usize,
    /// The shortest length with at least one grease stanza.
    pub min: usize,
    /// Longest possible; anything longer is refused.
    pub max: usize,
}

impl CiphertextBounds {
    /// The bounds for one layer (one custodian) or two.
    pub const fn for_layers(layers: usize) -> Self {
        Self::for_files(crate::payload::PAYLOAD_LEN, layers, 1)
    }

    /// The lengths of `layers` nested age files, each with `recipients` X25519 stanzas
    /// and at most one grease stanza, around `plaintext_len` bytes (under 64 KiB less
    /// the layers' overhead, so that every layer is one STREAM chunk). For `layers ≥ 1`
    /// the sums of `layers` greases, each 0 or 13 to 190, are 0 and every value from 13
    /// to `190·layers` (the intervals `[13k, 190k]` overlap from `k = 1` on), so the set
    /// is exactly `bare ∪ [min, max]`.
    pub const fn for_files(plaintext_len: usize, layers: usize, recipients: usize) -> Self {
        use age_layout::*;
        let layer = VERSION_LINE + recipients * X25519_STANZA + MAC_LINE + NONCE + TAG;
        let bare = plaintext_len + layers * layer;
        Self {
            bare,
            min: bare + GREASE_MIN,
            max: bare + layers * GREASE_MAX,
        }
    }

    /// Whether a ciphertext of `len` bytes is one of these lengths.
    pub const fn contains(&self, len: usize) -> bool {
        len == self.bare || (self.min <= len && len <= self.max)
    }

    /// The error for a length outside these bounds.
    const fn error(&self, len: usize) -> CiphertextLengthError {
        CiphertextLengthError {
            len,
            bare: self.bare,
            min: self.min,
            max: self.max,
        }
    }
}

/// The widest bounds any policy allows: one layer's lengths or two layers'. Used where
/// the policy's number of layers is not known (parsing JSON); the operator then checks
/// the policy's own bound (**CHK-11**).
pub const ANY_CIPHERTEXT: AnyCiphertext = AnyCiphertext;

/// One layer's lengths or two layers' ([`ANY_CIPHERTEXT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnyCiphertext;

impl AnyCiphertext {
    /// The bounds of the layer count a sealed check-in of `len` bytes could have: two
    /// layers from two layers' bare length on, one below it (the two sets are disjoint).
    pub const fn layers_for(&self, len: usize) -> CiphertextBounds {
        let two = CiphertextBounds::for_layers(2);
        if len >= two.bare {
            two
        } else {
            CiphertextBounds::for_layers(1)
        }
    }

    /// Whether `len` is the length of a one-layer or a two-layer sealed check-in.
    pub const fn contains(&self, len: usize) -> bool {
        self.layers_for(len).contains(len)
    }
}

/// A sealed check-in: opaque bytes whose length is within [`ANY_CIPHERTEXT`]. The
/// operator stores these and can never open them.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCheckIn(Vec<u8>);

/// A ciphertext whose length is outside the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed check-in is {len} bytes; it must be {bare} or {min} to {max}")]
pub struct CiphertextLengthError {
    /// Its length.
    pub len: usize,
    /// The length with no grease stanza.
    pub bare: usize,
    /// The shortest allowed with a grease stanza.
    pub min: usize,
    /// The longest allowed.
    pub max: usize,
}

impl SealedCheckIn {
    /// Wraps bytes if their length is within `bounds`.
    ///
    /// # Errors
    /// [`CiphertextLengthError`] otherwise.
    pub fn new(bytes: Vec<u8>, bounds: CiphertextBounds) -> Result<Self, CiphertextLengthError> {
        if bounds.contains(bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(bounds.error(bytes.len()))
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a sealed check-in is never empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks the tighter bounds of a policy's layer count (**SEAL-4**).
    ///
    /// # Errors
    /// [`CiphertextLengthError`] if outside them.
    pub fn check(&self, bounds: CiphertextBounds) -> Result<(), CiphertextLengthError> {
        if bounds.contains(self.0.len()) {
            Ok(())
        } else {
            Err(bounds.error(self.0.len()))
        }
    }
}

impl TryFrom<Vec<u8>> for SealedCheckIn {
    type Error = CiphertextLengthError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        let bounds = ANY_CIPHERTEXT.layers_for(bytes.len());
        Self::new(bytes, bounds)
    }
}

impl fmt::Debug for SealedCheckIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedCheckIn(<{} bytes>)", self.0.len())
    }
}

impl Serialize for SealedCheckIn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for SealedCheckIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = base64_bytes::deserialize(d)?;
        Self::try_from(bytes).map_err(serde::de::Error::custom)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A check-in as sent to the operator: who, for which challenge, in which epoch, the
/// sealed content and the device's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The participant's pseudonym.
    pub pseudonym: Pseudonym,
    /// The challenge answered.
    pub challenge_id: ChallengeId,
    /// The epoch the content is sealed to.
    pub epoch: EpochId,
    /// The sealed payload.
    pub ciphertext: SealedCheckIn,
    /// Ed25519 by the device key over [`Envelope::signing_input`].
    pub signature: Signature,
}

/// The label that starts an envelope's signing input.
pub const ENVELOPE_LABEL: &[u8] = b"minimis/v1 check-in\n";

impl Envelope {
    /// The bytes the device signs (**CHK-10**):
    ///
    /// ```text
    /// "minimis/v1 check-in\n" || pseudonym (16) || challenge_id (16) || epoch (u32 BE)
    ///     || len(ciphertext) (u32 BE) || ciphertext
    /// ```
    pub fn signing_input_for(
        pseudonym: &Pseudonym,
        challenge_id: &ChallengeId,
        epoch: EpochId,
        ciphertext: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_LABEL.len() + 40 + ciphertext.len());
        out.extend_from_slice(ENVELOPE_LABEL);
        out.extend_from_slice(pseudonym.as_bytes());
        out.extend_from_slice(challenge_id.as_bytes());
        out.extend_from_slice(&epoch.get().to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(ciphertext.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(ciphertext);
        out
    }

    /// This envelope's signing input.
    pub fn signing_input(&self) -> Vec<u8> {
        Self::signing_input_for(
            &self.pseudonym,
            &self.challenge_id,
            self.epoch,
            self.ciphertext.as_bytes(),
        )
    }

    /// The record id: SHA-256 of the signing input (**CHK-12**).
    pub fn record_id(&self) -> RecordId {
        let d = ring::digest::digest(&ring::digest::SHA256, &self.signing_input());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        RecordId::from_bytes(out)
    }
}

/// The label that starts a participant request's signing input.
pub const REQUEST_LABEL: &[u8] = b"minimis/v1 request\n";

/// The bytes a device signs to authenticate a request to the operator (**CHK-13**):
///
/// ```text
/// "minimis/v1 request\n" || pseudonym (16) || str method || str path_and_query
///     || time (i64 BE) || SHA-256(body) (32)
/// ```
/// where `str` is a u32 BE byte length followed by the bytes.
pub fn request_signing_input(
    pseudonym: &Pseudonym,
    method: &str,
    path_and_query: &str,
    time: UnixTime,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(REQUEST_LABEL.len() + 80 + path_and_query.len());
    out.extend_from_slice(REQUEST_LABEL);
    out.extend_from_slice(pseudonym.as_bytes());
    put_str(&mut out, method);
    put_str(&mut out, path_and_query);
    out.extend_from_slice(&time.seconds().to_be_bytes());
    out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    out
}

/// The label that starts a custodian's request's signing input.
pub const CUSTODIAN_REQUEST_LABEL: &[u8] = b"minimis/v1 custodian-request\n";

/// The bytes a key custodian signs to authenticate a request to the operator (**CHK-40**; appending
/// its log entries, fetching a record to open, placing a hold):
///
/// ```text
/// "minimis/v1 custodian-request\n" || role (u8: 1 agency, 2 oversight) || str method
///     || str path_and_query || time (i64 BE) || SHA-256(body) (32)
/// ```
pub fn custodian_request_signing_input(
    role: CustodianRole,
    method: &str,
    path_and_query: &str,
    time: UnixTime,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(CUSTODIAN_REQUEST_LABEL.len() + 80 + path_and_query.len());
    out.extend_from_slice(CUSTODIAN_REQUEST_LABEL);
    out.push(role.code());
    put_str(&mut out, method);
    put_str(&mut out, path_and_query);
    out.extend_from_slice(&time.seconds().to_be_bytes());
    out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    out
}

/// The label that starts the agency case system's request's signing input.
pub const CASE_REQUEST_LABEL: &[u8] = b"minimis/v1 case-request\n";

/// The bytes the agency's case system signs to authenticate a request to the operator
/// (fetching condition results and filings, acknowledging a filing, appending its log
/// entries; spec/obligations.md, **OBL-5**):
///
/// ```text
/// "minimis/v1 case-request\n" || str method || str path_and_query || time (i64 BE)
///     || SHA-256(body) (32)
/// ```
pub fn case_request_signing_input(
    method: &str,
    path_and_query: &str,
    time: UnixTime,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(CASE_REQUEST_LABEL.len() + 80 + path_and_query.len());
    out.extend_from_slice(CASE_REQUEST_LABEL);
    put_str(&mut out, method);
    put_str(&mut out, path_and_query);
    out.extend_from_slice(&time.seconds().to_be_bytes());
    out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    out
}

/// A challenge: the server's request for one check-in, signed by the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// Its id.
    pub id: ChallengeId,
    /// Whom it is for.
    pub pseudonym: Pseudonym,
    /// The epoch it falls in.
    pub epoch: EpochId,
    /// Scheduled or ad hoc.
    pub kind: ChallengeKind,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When its window opened.
    pub window_start: UnixTime,
    /// When its window closes; a check-in after this is late.
    pub window_end: UnixTime,
    /// The policy in force.
    pub policy: PolicyHash,
}

/// The label that starts a challenge's signing input.
pub const CHALLENGE_LABEL: &[u8] = b"minimis/v1 challenge\n";

impl Challenge {
    /// The bytes the operator signs (**CHL-6**):
    ///
    /// ```text
    /// "minimis/v1 challenge\n" || id (16) || pseudonym (16) || epoch (u32 BE) || kind (u8)
    ///     || issued_at (i64 BE) || window_start (i64 BE) || window_end (i64 BE) || policy (32)
    /// ```
    pub fn signing_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CHALLENGE_LABEL.len() + 93);
        out.extend_from_slice(CHALLENGE_LABEL);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(self.pseudonym.as_bytes());
        out.extend_from_slice(&self.epoch.get().to_be_bytes());
        out.push(self.kind.code());
        for t in [self.issued_at, self.window_start, self.window_end] {
            out.extend_from_slice(&t.seconds().to_be_bytes());
        }
        out.extend_from_slice(self.policy.as_bytes());
        out
    }
}

/// A challenge with the operator's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedChallenge {
    /// The challenge.
    pub challenge: Challenge,
    /// Ed25519 by the operator's key over [`Challenge::signing_input`].
    pub signature: Signature,
}

/// A check-in receipt: the record's id and a C2SP `tlog-proof` of its log entry, which
/// the participant keeps as proof of compliance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The stored record.
    pub record_id: RecordId,
    /// The tlog-proof text: index, inclusion proof and the cosigned checkpoint.
    pub tlog_proof: String,
}

/// A custodian's public statement: "check-ins of `epoch` may be sealed to `recipient`
/// until `not_after`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EpochRecipient {
    /// The epoch.
    pub epoch: EpochId,
    /// The custodian's id in the policy.
    pub custodian: String,
    /// The custodian's role.
    pub role: CustodianRole,
    /// The age X25519 recipient, `age1…`.
    pub recipient: String,
    /// The last moment a device may seal to it.
    pub not_after: UnixTime,
}

/// The label that starts an epoch recipient's signing input.
pub const EPOCH_RECIPIENT_LABEL: &[u8] = b"minimis/v1 epoch-recipient\n";

impl EpochRecipient {
    /// The bytes the custodian signs (**SEAL-7**):
    ///
    /// ```text
    /// "minimis/v1 epoch-recipient\n" || epoch (u32 BE) || role (u8) || str custodian
    ///     || str recipient || not_after (i64 BE)
    /// ```
    /// where `str` is a u32 BE byte length followed by UTF-8.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(EPOCH_RECIPIENT_LABEL.len() + 96);
        out.extend_from_slice(EPOCH_RECIPIENT_LABEL);
        out.extend_from_slice(&self.epoch.get().to_be_bytes());
        out.push(self.role.code());
        put_str(&mut out, &self.custodian);
        put_str(&mut out, &self.recipient);
        out.extend_from_slice(&self.not_after.seconds().to_be_bytes());
        out
    }
}

/// An epoch recipient with its custodian's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedEpochRecipient {
    /// The statement.
    pub recipient: EpochRecipient,
    /// Ed25519 by the custodian's key over [`EpochRecipient::signing_input`].
    pub signature: Signature,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_22_what_the_length_check_refuses_and_what_it_only_bounds() {
        use age_layout::*;
        let two = CiphertextBounds::for_layers(2);
        // Refused: a greaseless file with the shortest extra stanza (`-> a\n\n`, 6
        // bytes); a whole armored two-layer file (912 bytes in 19 full lines of base64,
        // with the PEM lines); one byte past the largest greased file.
        let armored = 4 * 912usize.div_ceil(3)
            + 19
            + "-----BEGIN AGE ENCRYPTED FILE-----\n".len()
            + "-----END AGE ENCRYPTED FILE-----\n".len();
        assert_eq!(armored, 1_303);
        for len in [912 + 6, armored, two.max + 1] {
            assert!(!two.contains(len), "{len}");
        }
        // Bounded, not refused: shapes other than SEAL-1's whose length is in the set.
        let second_x25519 = two.bare + X25519_STANZA;
        let third_layer = two.bare + LAYER_OVERHEAD;
        let armored_inner = 4 * 712usize.div_ceil(3) + 15 + 35 + 33 + LAYER_OVERHEAD;
        for len in [second_x25519, third_layer, armored_inner] {
            assert!(two.contains(len), "{len}");
        }
        assert_eq!(
            (second_x25519, third_layer, armored_inner),
            (1_010, 1_112, 1_235)
        );
        // Whatever its shape, nothing beyond the bare encoding exceeds 380 bytes.
        assert_eq!(two.max - two.bare, 2 * GREASE_MAX);
    }

    #[test]
    fn seal_4_seal_20_bounds_follow_the_layout() {
        assert_eq!(
            CiphertextBounds::for_layers(1),
            CiphertextBounds {
                bare: 712,
                min: 725,
                max: 902
            }
        );
        assert_eq!(
            CiphertextBounds::for_layers(2),
            CiphertextBounds {
                bare: 912,
                min: 925,
                max: 1292
            }
        );
        assert!(SealedCheckIn::try_from(vec![0u8; 1293]).is_err());
        assert!(SealedCheckIn::try_from(vec![0u8; 724]).is_err());
        // What Go `age` writes: no grease stanza in either layer.
        assert!(SealedCheckIn::try_from(vec![0u8; 712]).is_ok());
        assert!(SealedCheckIn::try_from(vec![0u8; 912]).is_ok());
        for gap in (713..725).chain(903..912).chain(913..925) {
            let err = SealedCheckIn::try_from(vec![0u8; gap]).unwrap_err();
            assert_eq!(err.len, gap);
        }
        let ok = SealedCheckIn::try_from(vec![0u8; 900]).unwrap();
        assert!(ok.check(CiphertextBounds::for_layers(2)).is_err());
        assert!(ok.check(CiphertextBounds::for_layers(1)).is_ok());
        let err = SealedCheckIn::try_from(vec![0u8; 920]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sealed check-in is 920 bytes; it must be 912 or 925 to 1292"
        );
    }

    /// Every length a grease stanza of the age crate's shape can have (**SEAL-21**),
    /// enumerated from its parts rather than from the two constants: a tag of 1 to 8
    /// characters and `-grease`, 0 to 4 arguments of 1 to 8 characters, a body of 0 to
    /// 99 random bytes in unpadded base64, wrapped at 64 columns with a last line shorter
    /// than 64 (empty if the encoding fills its lines).
    fn grease_lengths() -> std::collections::BTreeSet<usize> {
        let mut first_lines = std::collections::BTreeSet::new();
        for tag in 1..=8usize {
            // Sums of 0 to 4 arguments of 1 to 8 characters, each with its space.
            let mut sums = std::collections::BTreeSet::from([0usize]);
            for _args in 1..=4usize {
                let mut next = std::collections::BTreeSet::new();
                for &s in &sums {
                    for a in 1..=8usize {
                        next.insert(s + 1 + a);
                    }
                }
                for &n in &next {
                    first_lines.insert("-> ".len() + tag + "-grease".len() + n + 1);
                }
                sums = next;
            }
            first_lines.insert("-> ".len() + tag + "-grease".len() + 1);
        }
        let mut bodies = std::collections::BTreeSet::new();
        for n in 0..100usize {
            let chars = (4 * n).div_ceil(3);
            bodies.insert(chars + chars / 64 + 1);
        }
        let mut out = std::collections::BTreeSet::new();
        for f in &first_lines {
            for b in &bodies {
                out.insert(f + b);
            }
        }
        out
    }

    #[test]
    fn seal_20_seal_21_the_bound_is_exactly_the_lengths_of_conforming_seals() {
        use age_layout::*;
        let grease = grease_lengths();
        assert_eq!(grease.first(), Some(&GREASE_MIN));
        assert_eq!(grease.last(), Some(&GREASE_MAX));
        // Each layer: no grease (Go age) or one grease stanza (the age crate).
        let per_layer: Vec<usize> = std::iter::once(0).chain(grease).collect();
        for layers in 1..=2usize {
            let mut sums = std::collections::BTreeSet::from([0usize]);
            for _ in 0..layers {
                sums = sums
                    .iter()
                    .flat_map(|s| per_layer.iter().map(move |g| s + g))
                    .collect();
            }
            let producible: std::collections::BTreeSet<usize> = sums
                .into_iter()
                .map(|g| crate::payload::PAYLOAD_LEN + layers * LAYER_OVERHEAD + g)
                .collect();
            let bounds = CiphertextBounds::for_layers(layers);
            for len in 0..4_096 {
                assert_eq!(
                    bounds.contains(len),
                    producible.contains(&len),
                    "{layers} layers, {len} bytes"
                );
            }
        }
    }

    #[test]
    fn chk_10_signing_inputs_are_domain_separated() {
        let labels = [
            ENVELOPE_LABEL,
            CHALLENGE_LABEL,
            EPOCH_RECIPIENT_LABEL,
            REQUEST_LABEL,
            CUSTODIAN_REQUEST_LABEL,
            CASE_REQUEST_LABEL,
        ];
        for (i, a) in labels.iter().enumerate() {
            assert!(a.ends_with(b"\n"));
            for b in &labels[i + 1..] {
                assert!(!a.starts_with(b) && !b.starts_with(a));
            }
        }
    }

    #[test]
    fn chk_11_envelope_refuses_unknown_fields_and_oversize_ciphertext() {
        let env = Envelope {
            pseudonym: Pseudonym::from_bytes([1; 16]),
            challenge_id: ChallengeId::from_bytes([2; 16]),
            epoch: EpochId::new(2_912),
            ciphertext: SealedCheckIn::try_from(vec![9u8; 1000]).unwrap(),
            signature: Signature([3; 64]),
        };
        let json = serde_json::to_string(&env).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), env);
        let extra = json.replacen('{', "{\"latitude\":29.76,", 1);
        assert!(serde_json::from_str::<Envelope>(&extra).is_err());
        let big = serde_json::to_string(&serde_json::json!({
            "pseudonym": env.pseudonym, "challenge_id": env.challenge_id, "epoch": 1,
            "ciphertext": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![0u8; 1293]),
            "signature": env.signature,
        }))
        .unwrap();
        let err = serde_json::from_str::<Envelope>(&big).unwrap_err();
        assert!(err.to_string().contains("1293 bytes"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn chk_11_envelope_json_round_trips(
            p in proptest::prelude::any::<[u8; 16]>(),
            c in proptest::prelude::any::<[u8; 16]>(),
            e in proptest::prelude::any::<u32>(),
            layers in 1usize..=2,
            greased in proptest::prelude::any::<bool>(),
            grease in 13usize..=380,
            fill in proptest::prelude::any::<u8>(),
            sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 64),
        ) {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig);
            let b = CiphertextBounds::for_layers(layers);
            let len = if greased { (b.bare + grease).min(b.max) } else { b.bare };
            let env = Envelope {
                pseudonym: Pseudonym::from_bytes(p),
                challenge_id: ChallengeId::from_bytes(c),
                epoch: EpochId::new(e),
                ciphertext: SealedCheckIn::try_from(vec![fill; len]).unwrap(),
                signature: Signature(signature),
            };
            let json = serde_json::to_string(&env).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), env.clone());
            // The signing input has the documented length: label, 40 bytes of fields, ciphertext.
            let input = env.signing_input();
            proptest::prop_assert_eq!(input.len(), ENVELOPE_LABEL.len() + 40 + len);
        }

        #[test]
        fn chl_6_challenge_json_round_trips(
            id in proptest::prelude::any::<[u8; 16]>(),
            e in proptest::prelude::any::<u32>(),
            adhoc in proptest::prelude::any::<bool>(),
            t in proptest::prelude::any::<i64>(),
            w in 0i64..86_400,
        ) {
            let c = Challenge {
                id: ChallengeId::from_bytes(id),
                pseudonym: Pseudonym::from_bytes([1; 16]),
                epoch: EpochId::new(e),
                kind: if adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled },
                issued_at: UnixTime(t),
                window_start: UnixTime(t.saturating_sub(w)),
                window_end: UnixTime(t.saturating_add(w)),
                policy: PolicyHash::from_bytes([2; 32]),
            };
            let json = serde_json::to_string(&c).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Challenge>(&json).unwrap(), c.clone());
            proptest::prop_assert_eq!(c.signing_input().len(), CHALLENGE_LABEL.len() + 93);
        }
    }

    #[test]
    fn chk_12_record_id_binds_every_field() {
        let base = Envelope {
            pseudonym: Pseudonym::from_bytes([1; 16]),
            challenge_id: ChallengeId::from_bytes([2; 16]),
            epoch: EpochId::new(7),
            ciphertext: SealedCheckIn::try_from(vec![9u8; 1000]).unwrap(),
            signature: Signature([3; 64]),
        };
        let mut other = base.clone();
        other.epoch = EpochId::new(8);
        assert_ne!(base.record_id(), other.record_id());
        let mut other = base.clone();
        other.ciphertext = SealedCheckIn::try_from(vec![8u8; 1000]).unwrap();
        assert_ne!(base.record_id(), other.record_id());
    }
}
