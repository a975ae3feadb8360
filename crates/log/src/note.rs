//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more signature
//! lines:
//!
//! ```text
//! <text, ending in U+000A>
//! U+000A
//! U+2014 U+0020 <key name> U+0020 base64(key ID (4 bytes, big-endian) || signature) U+000A
//! ...
//! ```
//!
//! Key IDs are `SHA-256(key name || 0x0A || signature type || public key)[:4]`;
//! signature type `0x01` is Ed25519 over the note text, `0x04` the timestamped witness
//! cosignature of c2sp.org/tlog-cosignature (see [`crate::cosignature`]). A verifier key
//! (*vkey*) is written `<name>+<hex key ID>+<base64(signature type || public key)>`.
//!
//! Spec: `spec/log.md` § Signed notes (**LOG-6** to **LOG-11**).

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_proto::{PublicKey, Signature};

/// The most signature lines a note may carry; a note with more is refused (**LOG-10**).
///
/// The signed-note spec asks verifiers to accept at least 16; the Go reference accepts
/// at most 100.
pub const MAX_SIGNATURES: usize = 100;

/// The longest note accepted, in bytes (**LOG-10**).
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The start of every signature line: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// A key name: non-empty, with no Unicode white space, no plus (U+002B) and no control
/// character (**LOG-6**).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyName(String);

/// Why a key name was refused (**LOG-6**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyNameError {
    /// The name is empty.
    #[error("a key name must not be empty")]
    Empty,
    /// The name contains Unicode white space.
    #[error("a key name must not contain white space")]
    WhiteSpace,
    /// The name contains a plus sign.
    #[error("a key name must not contain `+`")]
    Plus,
    /// The name contains a control character.
    #[error("a key name must not contain control characters")]
    ControlCharacter,
}

impl KeyName {
    /// Checks `name` against the signed-note rules.
    ///
    /// # Errors
    /// A [`KeyNameError`] naming the broken rule.
    pub fn new(name: &str) -> Result<Self, KeyNameError> {
        if name.is_empty() {
            return Err(KeyNameError::Empty);
        }
        for c in name.chars() {
            if c.is_whitespace() {
                return Err(KeyNameError::WhiteSpace);
            }
            if c == '+' {
                return Err(KeyNameError::Plus);
            }
            if c.is_control() {
                return Err(KeyNameError::ControlCharacter);
            }
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyName {
    type Err = KeyNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyName({:?})", self.0)
    }
}

/// A signature type identifier byte (signed-note § Signature types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature).
    CosignatureV1,
}

impl SignatureType {
    /// The identifier byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// A 32-bit key ID (**LOG-7**): `SHA-256(key name || 0x0A || signature type || public
/// key)[:4]`. Displayed as 8 lowercase hex digits, as in a vkey.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 4]);

impl KeyId {
    /// Computes the key ID of an Ed25519 public key of the given type and name.
    pub fn compute(name: &KeyName, signature_type: SignatureType, public_key: &PublicKey) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(name.as_str().as_bytes());
        ctx.update(&[0x0A, signature_type.code()]);
        ctx.update(public_key.as_bytes());
        let d = ctx.finish();
        let mut id = [0u8; 4];
        id.copy_from_slice(&d.as_ref()[..4]);
        Self(id)
    }

    /// Wraps four bytes (big-endian).
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The four bytes (big-endian).
    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", u32::from_be_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A public verifier key: name, key ID, signature type and Ed25519 public key.
///
/// Written as a vkey, `<name>+<hex key ID>+<base64(signature type || public key)>`
/// (**LOG-9**); [`FromStr`] checks that the key ID is the one the name, type and key
/// give.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VerifierKey {
    name: KeyName,
    key_id: KeyId,
    signature_type: SignatureType,
    public_key: PublicKey,
}

/// Why a vkey was refused (**LOG-9**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierKeyError {
    /// Not three `+`-separated fields.
    #[error("a verifier key is `<name>+<hex key id>+<base64 key>`")]
    Format,
    /// The name breaks the key name rules.
    #[error("verifier key name: {0}")]
    Name(#[from] KeyNameError),
    /// The key ID is not 8 hexadecimal digits.
    #[error("the key id of a verifier key is 8 hexadecimal digits")]
    KeyIdFormat,
    /// The key data is not canonical standard base64.
    #[error("the key data of a verifier key is not base64")]
    Base64,
    /// A signature type this crate does not verify.
    #[error("signature type {code:#04x} is not supported")]
    UnsupportedType {
        /// The type byte found.
        code: u8,
    },
    /// The key data is not 1 + 32 bytes.
    #[error("an Ed25519 verifier key is 33 bytes of key data, not {len}")]
    KeyLength {
        /// The length found.
        len: usize,
    },
    /// The key ID is not the one the name, type and key give.
    #[error("the key id does not match the name and key")]
    KeyIdMismatch,
}

impl VerifierKey {
    /// An Ed25519 (`0x01`) note-signing key: a log's.
    pub fn ed25519(name: KeyName, public_key: PublicKey) -> Self {
        Self::with_type(name, SignatureType::Ed25519, public_key)
    }

    /// A `cosignature/v1` (`0x04`) witness key.
    pub fn cosignature_v1(name: KeyName, public_key: PublicKey) -> Self {
        Self::with_type(name, SignatureType::CosignatureV1, public_key)
    }

    fn with_type(name: KeyName, signature_type: SignatureType, public_key: PublicKey) -> Self {
        let key_id = KeyId::compute(&name, signature_type, &public_key);
        Self {
            name,
            key_id,
            signature_type,
            public_key,
        }
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Whether `signature` (the bytes after the key ID) is this key's valid signature on
    /// the note `text`.
    pub(crate) fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        match self.signature_type {
            SignatureType::Ed25519 => match <[u8; 64]>::try_from(signature) {
                Ok(sig) => {
                    minimis_crypto::verify(&self.public_key, text.as_bytes(), &Signature(sig))
                        .is_ok()
                }
                Err(_) => false,
            },
            SignatureType::CosignatureV1 => {
                crate::cosignature::verify_v1(&self.public_key, text, signature).is_some()
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut data = [0u8; 33];
        data[0] = self.signature_type.code();
        data[1..].copy_from_slice(self.public_key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.key_id, B64.encode(data))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

fn parse_key_id(hex: &str) -> Option<KeyId> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16)
        .ok()
        .map(|v| KeyId(v.to_be_bytes()))
}

impl FromStr for VerifierKey {
    type Err = VerifierKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The name has no `+`; base64 may, so split twice from the left.
        let (name, rest) = s.split_once('+').ok_or(VerifierKeyError::Format)?;
        let (hex, data) = rest.split_once('+').ok_or(VerifierKeyError::Format)?;
        let name = KeyName::new(name)?;
        let key_id = parse_key_id(hex).ok_or(VerifierKeyError::KeyIdFormat)?;
        let data = B64
            .decode(data.as_bytes())
            .map_err(|_| VerifierKeyError::Base64)?;
        let (&code, key) = data
            .split_first()
            .ok_or(VerifierKeyError::KeyLength { len: 0 })?;
        let signature_type =
            SignatureType::from_code(code).ok_or(VerifierKeyError::UnsupportedType { code })?;
        let public_key = <[u8; 32]>::try_from(key)
            .map(PublicKey)
            .map_err(|_| VerifierKeyError::KeyLength { len: data.len() })?;
        let vkey = Self::with_type(name, signature_type, public_key);
        if vkey.key_id != key_id {
            return Err(VerifierKeyError::KeyIdMismatch);
        }
        Ok(vkey)
    }
}

/// One signature line of a note: key name, key ID and signature bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: KeyName,
    key_id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by `name`/`key_id`.
    pub fn new(name: KeyName, key_id: KeyId, signature: Vec<u8>) -> Self {
        Self {
            name,
            key_id,
            signature,
        }
    }

    /// The signer's key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The signer's key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature bytes (after the key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature line, `— <name> <base64(key ID || signature)>\n` (**LOG-8**).
    pub fn to_line(&self) -> String {
        let mut data = Vec::with_capacity(4 + self.signature.len());
        data.extend_from_slice(&self.key_id.0);
        data.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(data))
    }

    /// Parses one signature line, without its final newline (for example a witness's
    /// cosignature, as a tlog-witness `add-checkpoint` answer carries it).
    ///
    /// # Errors
    /// A [`NoteParseError`] naming what is malformed.
    pub fn parse_line(line: &str) -> Result<Self, NoteParseError> {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteParseError::SignatureLine)?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteParseError::SignatureLine)?;
        let name = KeyName::new(name).map_err(NoteParseError::SignatureName)?;
        let data = B64
            .decode(b64.as_bytes())
            .map_err(|_| NoteParseError::SignatureBase64)?;
        // A key ID and at least one byte of signature.
        if data.len() < 5 {
            return Err(NoteParseError::SignatureTooShort { len: data.len() });
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&data[..4]);
        Ok(Self {
            name,
            key_id: KeyId(key_id),
            signature: data[4..].to_vec(),
        })
    }
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSignature")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("signature", &B64.encode(&self.signature))
            .finish()
    }
}

/// Why a note text cannot be signed or carried (**LOG-10**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteTextError {
    /// The text does not end in a newline (this includes the empty text).
    #[error("a note text must end in a newline")]
    NoFinalNewline,
    /// The text contains an ASCII control character other than newline.
    #[error("a note text must not contain control characters other than newline (byte {offset})")]
    ControlCharacter {
        /// Where.
        offset: usize,
    },
    /// The text is longer than [`MAX_NOTE_LEN`].
    #[error("a note is at most {MAX_NOTE_LEN} bytes")]
    TooLong,
}

fn check_text(text: &str) -> Result<(), NoteTextError> {
    if text.len() > MAX_NOTE_LEN {
        return Err(NoteTextError::TooLong);
    }
    if let Some(offset) = first_control(text) {
        return Err(NoteTextError::ControlCharacter { offset });
    }
    if !text.ends_with('\n') {
        return Err(NoteTextError::NoFinalNewline);
    }
    Ok(())
}

fn first_control(text: &str) -> Option<usize> {
    text.bytes().position(|b| b < 0x20 && b != b'\n')
}

/// Why a signed note could not be parsed (**LOG-10**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteParseError {
    /// Longer than [`MAX_NOTE_LEN`].
    #[error("a note is at most {MAX_NOTE_LEN} bytes")]
    TooLong,
    /// Not valid UTF-8.
    #[error("a note must be valid UTF-8")]
    NotUtf8,
    /// An ASCII control character other than newline.
    #[error("a note must not contain control characters other than newline (byte {offset})")]
    ControlCharacter {
        /// Where.
        offset: usize,
    },
    /// No blank line separates text and signatures.
    #[error("a note needs a blank line between its text and its signatures")]
    NoSignatureBlock,
    /// The signature block is empty or does not end in a newline.
    #[error("a note's signature block must be signature lines, each ending in a newline")]
    SignatureBlock,
    /// A line of the signature block is not `— <name> <base64>`.
    #[error("a signature line must be `— <key name> <base64>`")]
    SignatureLine,
    /// A signature line's key name breaks the rules.
    #[error("a signature line's key name: {0}")]
    SignatureName(KeyNameError),
    /// A signature line's signature is not canonical standard base64.
    #[error("a signature line's signature is not base64")]
    SignatureBase64,
    /// A signature shorter than a key ID and one byte.
    #[error("a signature must be more than 4 bytes, not {len}")]
    SignatureTooShort {
        /// Its length.
        len: usize,
    },
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("a note carries at most {MAX_SIGNATURES} signatures")]
    TooManySignatures,
}

/// Why a signed note did not verify (**LOG-11**).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteVerifyError {
    /// A signature line names a known key (name and key ID) but does not verify.
    #[error("the signature by {name} ({key_id}) does not verify")]
    BadSignature {
        /// The key's name.
        name: KeyName,
        /// The key's ID.
        key_id: KeyId,
    },
    /// No signature line is from a known key.
    #[error("the note carries no signature from a known key")]
    NoKnownSignature,
}

/// A note text with its signatures (C2SP signed-note).
///
/// Parsing checks the syntax only; [`SignedNote::verify`] checks signatures. The text is
/// meaningless until a trusted key's signature has been verified.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// A note with `text` and no signature yet.
    ///
    /// # Errors
    /// A [`NoteTextError`] if the text breaks the signed-note rules.
    pub fn new(text: &str) -> Result<Self, NoteTextError> {
        check_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note (**LOG-10**): valid UTF-8, no control characters other than
    /// newline, the text separated from the signatures by the last blank line, one or
    /// more well-formed signature lines, each ending in a newline, at most
    /// [`MAX_SIGNATURES`].
    ///
    /// # Errors
    /// A [`NoteParseError`] naming the broken rule.
    pub fn parse(msg: &[u8]) -> Result<Self, NoteParseError> {
        if msg.len() > MAX_NOTE_LEN {
            return Err(NoteParseError::TooLong);
        }
        let msg = core::str::from_utf8(msg).map_err(|_| NoteParseError::NotUtf8)?;
        if let Some(offset) = first_control(msg) {
            return Err(NoteParseError::ControlCharacter { offset });
        }
        // "the text is separated from the signatures by the last empty line"
        let split = msg.rfind("\n\n").ok_or(NoteParseError::NoSignatureBlock)?;
        let (text, block) = (&msg[..=split], &msg[split + 2..]);
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteParseError::SignatureBlock);
        };
        let mut signatures = Vec::new();
        for line in block.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteParseError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, ending in a newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds `signature`, replacing any signature with the same key name and key ID.
    ///
    /// # Errors
    /// [`NoteParseError::TooManySignatures`] if the note would carry more than
    /// [`MAX_SIGNATURES`].
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteParseError> {
        self.signatures
            .retain(|s| !(s.name == signature.name && s.key_id == signature.key_id));
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteParseError::TooManySignatures);
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Verifies the note against `known` keys (**LOG-11**) and returns the known keys
    /// whose signatures verified.
    ///
    /// Signatures whose (name, key ID) is not a known key's are ignored, even if one of
    /// the two matches. Every signature whose (name, key ID) is a known key's must verify:
    /// one that fails rejects the whole note. A note with no verified signature from a
    /// known key is rejected.
    ///
    /// # Errors
    /// A [`NoteVerifyError`].
    pub fn verify<'k>(
        &self,
        known: &'k [VerifierKey],
    ) -> Result<Vec<&'k VerifierKey>, NoteVerifyError> {
        let mut verified: Vec<&'k VerifierKey> = Vec::new();
        for sig in &self.signatures {
            let Some(key) = known
                .iter()
                .find(|k| k.name == sig.name && k.key_id == sig.key_id)
            else {
                continue;
            };
            if !key.verifies(&self.text, &sig.signature) {
                return Err(NoteVerifyError::BadSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !verified.iter().any(|k| core::ptr::eq(*k, key)) {
                verified.push(key);
            }
        }
        if verified.is_empty() {
            return Err(NoteVerifyError::NoKnownSignature);
        }
        Ok(verified)
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            f.write_str(&s.to_line())?;
        }
        Ok(())
    }
}

impl fmt::Debug for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedNote")
            .field("text", &self.text)
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// An Ed25519 note signer (`0x01`): a [`SigningKey`] and its key name.
///
/// `Debug` shows the name, key ID and public key, never the secret.
pub struct NoteSigner {
    name: KeyName,
    key_id: KeyId,
    key: SigningKey,
}

/// Why a Go-format private key was refused. No variant carries key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateKeyError {
    /// Not `PRIVATE+KEY+<name>+<hex key id>+<base64>`.
    #[error("a private key is `PRIVATE+KEY+<name>+<hex key id>+<base64 key>`")]
    Format,
    /// The name breaks the key name rules.
    #[error("private key name: {0}")]
    Name(KeyNameError),
    /// The key ID is not 8 hexadecimal digits.
    #[error("the key id of a private key is 8 hexadecimal digits")]
    KeyIdFormat,
    /// The key data is not base64 of `0x01` and a 32-byte seed.
    #[error("the key data of a private key must be base64 of 0x01 and a 32-byte Ed25519 seed")]
    KeyData,
    /// The key ID is not the one the name and key give.
    #[error("the key id does not match the name and key")]
    KeyIdMismatch,
}

impl NoteSigner {
    /// A signer named `name` with `key`.
    pub fn new(name: KeyName, key: SigningKey) -> Self {
        let key_id = KeyId::compute(&name, SignatureType::Ed25519, &key.public_key());
        Self { name, key_id, key }
    }

    /// Reads the Go `golang.org/x/mod/sumdb/note` private key text,
    /// `PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || 32-byte seed)`.
    ///
    /// The text is a secret: keep it out of logs and version control.
    ///
    /// # Errors
    /// A [`PrivateKeyError`]; none carries key material.
    pub fn from_private_key_text(text: &str) -> Result<Self, PrivateKeyError> {
        let mut fields = text.splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(hex), Some(data)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(PrivateKeyError::Format);
        };
        let name = KeyName::new(name).map_err(PrivateKeyError::Name)?;
        let key_id = parse_key_id(hex).ok_or(PrivateKeyError::KeyIdFormat)?;
        let mut buf = zeroize::Zeroizing::new([0u8; 33]);
        let decoded = B64.decode_slice(data.as_bytes(), &mut buf[..]);
        let key = match decoded {
            Ok(33) if buf[0] == SignatureType::Ed25519.code() => {
                SigningKey::from_seed(&buf[1..]).map_err(|_| PrivateKeyError::KeyData)
            }
            _ => Err(PrivateKeyError::KeyData),
        };
        // `buf` zeroizes when dropped; `SigningKey` keeps its own zeroizing copy of the seed.
        drop(buf);
        let signer = Self::new(name, key?);
        if signer.key_id != key_id {
            return Err(PrivateKeyError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public verifier key (type `0x01`).
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::ed25519(self.name.clone(), self.key.public_key())
    }

    /// Signs `text` (Ed25519 over the note text, **LOG-8**).
    ///
    /// # Errors
    /// A [`NoteTextError`] if the text could not be carried in a note.
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteTextError> {
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).as_bytes().to_vec(),
        })
    }

    /// A note with `text` and this signer's signature.
    ///
    /// # Errors
    /// A [`NoteTextError`] if the text could not be carried in a note.
    pub fn sign_note(&self, text: &str) -> Result<SignedNote, NoteTextError> {
        let signature = self.sign(text)?;
        Ok(SignedNote {
            text: text.to_owned(),
            signatures: vec![signature],
        })
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Go reference vector (golang.org/x/mod/sumdb/note, `note_test.go`, BSD-3-Clause),
    /// vendored in `crates/log/testdata/signed-note/` (see its README).
    struct GoVector {
        name: String,
        key_id: String,
        vkey: String,
        skey: String,
        sigline: String,
        vkey2: String,
        sigline2: String,
        text: String,
        note: String,
    }

    fn vectors_dir() -> &'static str {
        concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/signed-note/")
    }

    fn go_vector() -> GoVector {
        let read = |f: &str| std::fs::read_to_string(format!("{}{f}", vectors_dir())).unwrap();
        let kv = read("peterneumann.txt");
        let get = |k: &str| {
            kv.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_owned()
        };
        GoVector {
            name: get("NAME"),
            key_id: get("KEYID"),
            vkey: get("VKEY"),
            skey: get("SKEY"),
            sigline: get("SIGLINE"),
            vkey2: get("VKEY2"),
            sigline2: get("SIGLINE2"),
            text: read("peterneumann.text"),
            note: read("peterneumann.note"),
        }
    }

    #[test]
    fn log_7_log_8_log_9_go_reference_vector_signs_exactly() {
        // Source: golang.org/x/mod/sumdb/note note_test.go (Ed25519 is deterministic).
        let v = go_vector();
        let signer = NoteSigner::from_private_key_text(&v.skey).unwrap();
        assert_eq!(signer.name().as_str(), v.name);
        assert_eq!(signer.key_id().to_string(), v.key_id);
        assert_eq!(signer.verifier_key().to_string(), v.vkey);
        let sig = signer.sign(&v.text).unwrap();
        assert_eq!(sig.to_line(), format!("{}\n", v.sigline));
        let note = signer.sign_note(&v.text).unwrap();
        assert_eq!(note.to_string(), v.note);
    }

    #[test]
    fn log_9_log_11_go_reference_note_verifies_with_vkey() {
        // Source: golang.org/x/mod/sumdb/note note_test.go.
        let v = go_vector();
        let vkey: VerifierKey = v.vkey.parse().unwrap();
        assert_eq!(vkey.key_id().to_string(), v.key_id);
        let note = SignedNote::parse(v.note.as_bytes()).unwrap();
        assert_eq!(note.text(), v.text);
        let known = [vkey];
        assert_eq!(note.verify(&known).unwrap().len(), 1);

        // A second signer's line added: both verify when both are known; only the
        // known one counts otherwise.
        let vkey2: VerifierKey = v.vkey2.parse().unwrap();
        let two = format!("{}{}\n", v.note, v.sigline2);
        let note2 = SignedNote::parse(two.as_bytes()).unwrap();
        assert_eq!(note2.signatures().len(), 2);
        let both = [known[0].clone(), vkey2.clone()];
        assert_eq!(note2.verify(&both).unwrap().len(), 2);
        assert_eq!(note2.verify(&[vkey2]).unwrap().len(), 1);
    }

    #[test]
    fn log_6_key_names_follow_the_rules() {
        assert!(KeyName::new("example.com/log").is_ok());
        assert!(KeyName::new("Ünïcödé/名前").is_ok());
        assert_eq!(KeyName::new(""), Err(KeyNameError::Empty));
        assert_eq!(KeyName::new("a b"), Err(KeyNameError::WhiteSpace));
        assert_eq!(KeyName::new("a\u{00a0}b"), Err(KeyNameError::WhiteSpace));
        assert_eq!(KeyName::new("a\u{3000}b"), Err(KeyNameError::WhiteSpace));
        assert_eq!(KeyName::new("a\nb"), Err(KeyNameError::WhiteSpace));
        assert_eq!(KeyName::new("a+b"), Err(KeyNameError::Plus));
        assert_eq!(KeyName::new("a\u{1}b"), Err(KeyNameError::ControlCharacter));
    }

    #[test]
    fn log_9_vkey_parsing_is_strict() {
        let v = go_vector();
        let good = v.vkey.clone();
        assert!(good.parse::<VerifierKey>().is_ok());
        // Uppercase hex is the same number.
        assert!(
            good.replace("c74f20a3", "C74F20A3")
                .parse::<VerifierKey>()
                .is_ok()
        );
        let cases: [(String, VerifierKeyError); 7] = [
            ("PeterNeumann".into(), VerifierKeyError::Format),
            (
                good.replace("c74f20a3", "c74f20a4"),
                VerifierKeyError::KeyIdMismatch,
            ),
            (
                good.replace("c74f20a3", "c74f20a"),
                VerifierKeyError::KeyIdFormat,
            ),
            (
                good.replace("PeterNeumann", "Peter Neumann"),
                VerifierKeyError::Name(KeyNameError::WhiteSpace),
            ),
            (format!("{good}="), VerifierKeyError::Base64),
            (
                "a+01020304+AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
                VerifierKeyError::UnsupportedType { code: 2 },
            ),
            (
                "a+01020304+AQAA".into(),
                VerifierKeyError::KeyLength { len: 3 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<VerifierKey>(), Err(want), "{text}");
        }
    }

    #[test]
    fn log_10_parsing_refuses_malformed_notes() {
        let v = go_vector();
        let note = v.note.clone();
        let line = format!("{}\n", v.sigline);
        let cases: Vec<(Vec<u8>, NoteParseError)> = vec![
            (
                note.replace('\n', "\r\n").into_bytes(),
                NoteParseError::ControlCharacter { offset: 56 },
            ),
            (
                note.replace("problem,\n", "problem,\t\n").into_bytes(),
                NoteParseError::ControlCharacter { offset: 56 },
            ),
            (vec![0xff, b'\n', b'\n'], NoteParseError::NotUtf8),
            (
                note.replace("\n\n", "\n").into_bytes(),
                NoteParseError::NoSignatureBlock,
            ),
            (
                note.trim_end_matches('\n').as_bytes().to_vec(),
                NoteParseError::SignatureBlock,
            ),
            (
                format!("{}\n\n", v.text).into_bytes(),
                NoteParseError::SignatureBlock,
            ),
            (
                note.replace('\u{2014}', "-").into_bytes(),
                NoteParseError::SignatureLine,
            ),
            (
                note.replace("PeterNeumann x08", "PeterNeumannx08")
                    .into_bytes(),
                NoteParseError::SignatureLine,
            ),
            (
                note.replace("PeterNeumann", "Peter+Neumann").into_bytes(),
                NoteParseError::SignatureName(KeyNameError::Plus),
            ),
            (
                note.replace("JnAM=", "JnAM").into_bytes(),
                NoteParseError::SignatureBase64,
            ),
            (
                format!("{}\n— a AAAAAA==\n", v.text).into_bytes(),
                NoteParseError::SignatureTooShort { len: 4 },
            ),
            (
                format!("{}\n{}", v.text, line.repeat(MAX_SIGNATURES + 1)).into_bytes(),
                NoteParseError::TooManySignatures,
            ),
            (vec![b'a'; MAX_NOTE_LEN + 1], NoteParseError::TooLong),
        ];
        for (msg, want) in cases {
            assert_eq!(
                SignedNote::parse(&msg),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&msg)
            );
        }
        // Exactly the maximum is accepted.
        let max = format!("{}\n{}", v.text, line.repeat(MAX_SIGNATURES));
        assert_eq!(
            SignedNote::parse(max.as_bytes())
                .unwrap()
                .signatures()
                .len(),
            MAX_SIGNATURES
        );
        // A text with empty lines splits at the last blank line.
        let signer = NoteSigner::from_private_key_text(&v.skey).unwrap();
        let text = "a\n\nb\n\n";
        let n = signer.sign_note(text).unwrap().to_string();
        let parsed = SignedNote::parse(n.as_bytes()).unwrap();
        assert_eq!(parsed.text(), text);
        assert!(parsed.verify(&[signer.verifier_key()]).is_ok());
    }

    #[test]
    fn log_10_signing_refuses_texts_a_note_cannot_carry() {
        let signer = NoteSigner::new(KeyName::new("k").unwrap(), SigningKey::generate().unwrap());
        assert_eq!(
            signer.sign("no newline"),
            Err(NoteTextError::NoFinalNewline)
        );
        assert_eq!(signer.sign(""), Err(NoteTextError::NoFinalNewline));
        assert_eq!(
            signer.sign("a\u{7}b\n"),
            Err(NoteTextError::ControlCharacter { offset: 1 })
        );
        assert_eq!(SignedNote::new("x"), Err(NoteTextError::NoFinalNewline));
    }

    #[test]
    fn log_11_unknown_signatures_are_ignored_known_bad_ones_reject() {
        let v = go_vector();
        let vkey: VerifierKey = v.vkey.parse().unwrap();
        let other = NoteSigner::new(
            KeyName::new("PeterNeumann").unwrap(),
            SigningKey::from_seed(&[9; 32]).unwrap(),
        );
        // Same name, different key ID: ignored.
        let mut note = SignedNote::parse(v.note.as_bytes()).unwrap();
        note.add_signature(other.sign(&v.text).unwrap()).unwrap();
        assert_eq!(note.verify(core::slice::from_ref(&vkey)).unwrap().len(), 1);
        // Same key ID, different name: ignored.
        let renamed =
            NoteSignature::new(KeyName::new("Other").unwrap(), vkey.key_id(), vec![0; 64]);
        note.add_signature(renamed).unwrap();
        assert_eq!(note.verify(core::slice::from_ref(&vkey)).unwrap().len(), 1);
        // Only unknown signatures: rejected.
        assert_eq!(note.verify(&[]), Err(NoteVerifyError::NoKnownSignature));
        let stranger = NoteSigner::new(KeyName::new("x").unwrap(), SigningKey::generate().unwrap());
        assert_eq!(
            note.verify(&[stranger.verifier_key()]),
            Err(NoteVerifyError::NoKnownSignature)
        );
        // A known key whose signature fails: rejected, even beside a good one.
        let mut bad = SignedNote::parse(v.note.as_bytes()).unwrap();
        let mut forged = bad.signatures()[0].signature().to_vec();
        forged[0] ^= 1;
        bad.signatures.push(NoteSignature::new(
            vkey.name().clone(),
            vkey.key_id(),
            forged,
        ));
        assert_eq!(
            bad.verify(core::slice::from_ref(&vkey)),
            Err(NoteVerifyError::BadSignature {
                name: vkey.name().clone(),
                key_id: vkey.key_id()
            })
        );
        // A changed text: rejected.
        let changed = v.note.replace("cryptography", "cryptographY");
        assert!(matches!(
            SignedNote::parse(changed.as_bytes())
                .unwrap()
                .verify(&[vkey]),
            Err(NoteVerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn private_key_errors_carry_no_key_material() {
        let v = go_vector();
        let bad = v.skey.replace("c74f20a3", "00000000");
        assert_eq!(
            NoteSigner::from_private_key_text(&bad).unwrap_err(),
            PrivateKeyError::KeyIdMismatch
        );
        assert_eq!(
            NoteSigner::from_private_key_text(&v.skey.replace("PRIVATE", "PUBLIC")).unwrap_err(),
            PrivateKeyError::Format
        );
        assert_eq!(
            NoteSigner::from_private_key_text("PRIVATE+KEY+a+01020304+AQAA").unwrap_err(),
            PrivateKeyError::KeyData
        );
        let signer = NoteSigner::from_private_key_text(&v.skey).unwrap();
        let dbg = format!("{signer:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
        let seed_b64 = v.skey.rsplit('+').next().unwrap();
        assert!(!dbg.contains(seed_b64));
    }
}
