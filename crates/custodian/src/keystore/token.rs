//! Keys in a PKCS#11 token (OASIS PKCS#11 v2.40/3.x): an HSM in production, SoftHSM2 in
//! tests and the demo (**RET-34**, **RET-35**).
//!
//! In token mode every file of the keystore is an age file whose file key is wrapped by
//! an AES-256 key that lives in the token and never leaves it:
//!
//! ```text
//! age-encryption.org/v1
//! -> minimis-pkcs11 <key label> <IV, 12 bytes, base64 without padding>
//! <AES-256-GCM(file key) with the label as AAD: 16 bytes + 16-byte tag, base64>
//! --- <header MAC>
//! <age payload: the identity file, ChaCha20-Poly1305 STREAM>
//! ```
//!
//! The header and the payload are age v1 (C2SP age) exactly; only the stanza type is
//! ours, as an age plugin's would be. The `age` command reads the header; opening the
//! file needs the token, through the custodian (or any PKCS#11 client that logs in and
//! runs `C_Decrypt` with `CKM_AES_GCM` on the stanza body).
//!
//! Each key object is generated in the token (`C_GenerateKey`, `CKM_AES_KEY_GEN`) with
//! `CKA_TOKEN`, `CKA_PRIVATE` and `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` and
//! `CKA_COPYABLE` false, and `CKM_AES_GCM` as its only allowed mechanism; the keystore
//! reads those attributes back (and `CKA_NEVER_EXTRACTABLE`, `CKA_LOCAL`) and refuses a
//! key that does not have them. Labels name what a key protects, so that the custodian
//! finds its keys after a restart:
//!
//! ```text
//! minimis/<custodian id>/master          signing.age and witness.age (long-lived)
//! minimis/<custodian id>/epoch/<n>       epoch-<n>.age: one object per epoch
//! minimis/<custodian id>/hold/<hex id>   hold-<hex id>.age: one object per legal hold
//! ```
//!
//! Destroying an epoch destroys its object (`C_DestroyObject`) before its file is
//! scrubbed: once the object is gone, no copy of the file, in any backup, opens again.
//! That holds only if the token itself keeps no copy a backup can reach: an HSM whose
//! keys stay inside the module. SoftHSM2 keeps its token in files (encrypted under the
//! user PIN) and is therefore a stand-in for tests and the demo only: a backup of its
//! token directory, with the PIN, opens what the token held at the time of the backup.
//!
//! The wrap uses `CKM_AES_GCM` with a 96-bit IV drawn by the custodian (each key wraps
//! one or a few file keys, far from GCM's random-IV limit). An HSM that insists on
//! making GCM IVs itself (some FIPS modes) is not supported yet.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use age::secrecy::ExposeSecret as _;
use age_core::format::{FileKey, Stanza};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

/// The age stanza type of a file key wrapped by a token key.
pub const STANZA_TAG: &str = "minimis-pkcs11";

/// Where the token's user PIN comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// An environment variable.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
}

impl fmt::Debug for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(v) => write!(f, "PinSource::Env({v})"),
            Self::File(p) => write!(f, "PinSource::File({})", p.display()),
        }
    }
}

/// Which token, and how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenConfig {
    /// The PKCS#11 module (a shared library: `/usr/lib/softhsm/libsofthsm2.so` for
    /// SoftHSM2 on Debian).
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// The user PIN.
    pub pin: PinSource,
}

/// Why the token could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The module could not be loaded or initialised.
    #[error("cannot load the PKCS#11 module {module}: {source}")]
    Load {
        /// The module.
        module: PathBuf,
        /// Why.
        source: CkError,
    },
    /// No slot holds a token with this label.
    #[error("no PKCS#11 token labelled {0:?}")]
    NoToken(String),
    /// The PIN was refused.
    #[error("the token {0:?} refused the PIN")]
    WrongPin(String),
    /// The PIN's environment variable is not set.
    #[error("the environment variable {0} (the token PIN) is not set")]
    PinEnv(String),
    /// The PIN's file could not be read.
    #[error("cannot read the token PIN from {path}: {source}")]
    PinFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {op}: {source}")]
    Call {
        /// What was being done.
        op: &'static str,
        /// The module's answer.
        source: CkError,
    },
    /// A key object lacks a protection the keystore requires (sensitive, never
    /// extractable, generated in the token).
    #[error("token key {label:?} is not protected as required: {what}")]
    Unprotected {
        /// Its label.
        label: String,
        /// What is missing.
        what: &'static str,
    },
    /// A `pkcs11:` URI that does not parse.
    #[error("not a usable pkcs11: URI ({0})")]
    Uri(&'static str),
}

fn call(op: &'static str) -> impl FnOnce(CkError) -> TokenError {
    move |source| TokenError::Call { op, source }
}

impl TokenConfig {
    /// Parses a PKCS#11 URI (RFC 7512) naming the token, the module and the PIN:
    /// `pkcs11:token=<label>?module-path=<file>&pin-source=file:<file>` or
    /// `...&pin-source=env:<VARIABLE>` (the `env:` scheme is ours; RFC 7512 leaves
    /// the PIN source's scheme open). Values are percent-decoded. `pin-value` is
    /// refused: a PIN on a command line is visible to every user of the machine.
    ///
    /// # Errors
    /// [`TokenError::Uri`].
    pub fn from_uri(uri: &str) -> Result<Self, TokenError> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or(TokenError::Uri("it does not start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut token = None;
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or(TokenError::Uri("a path attribute without ="))?;
            match k {
                "token" => token = Some(decode(v)?),
                // Other path attributes (manufacturer, serial...) narrow the token
                // further; the label is what this keystore uses.
                "manufacturer"
                | "model"
                | "serial"
                | "slot-description"
                | "slot-manufacturer"
                | "slot-id"
                | "library-description"
                | "library-manufacturer"
                | "library-version" => {}
                _ => return Err(TokenError::Uri("an unknown path attribute")),
            }
        }
        let (mut module, mut pin) = (None, None);
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or(TokenError::Uri("a query attribute without ="))?;
            match k {
                "module-path" => module = Some(PathBuf::from(decode(v)?)),
                "pin-source" => {
                    let v = decode(v)?;
                    pin = Some(if let Some(f) = v.strip_prefix("file:") {
                        PinSource::File(PathBuf::from(f))
                    } else if let Some(e) = v.strip_prefix("env:") {
                        PinSource::Env(e.to_owned())
                    } else {
                        return Err(TokenError::Uri(
                            "pin-source must be file:<path> or env:<variable>",
                        ));
                    });
                }
                "pin-value" => {
                    return Err(TokenError::Uri(
                        "pin-value puts the PIN on the command line: use pin-source",
                    ));
                }
                _ => return Err(TokenError::Uri("an unknown query attribute")),
            }
        }
        Ok(Self {
            module: module.ok_or(TokenError::Uri("module-path is required"))?,
            token: token.ok_or(TokenError::Uri("token (the label) is required"))?,
            pin: pin.ok_or(TokenError::Uri("pin-source is required"))?,
        })
    }

    fn read_pin(&self) -> Result<AuthPin, TokenError> {
        let text = match &self.pin {
            PinSource::Env(v) => {
                Zeroizing::new(std::env::var(v).map_err(|_| TokenError::PinEnv(v.clone()))?)
            }
            PinSource::File(p) => Zeroizing::new(std::fs::read_to_string(p).map_err(|source| {
                TokenError::PinFile {
                    path: p.clone(),
                    source,
                }
            })?),
        };
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        Ok(AuthPin::from(line.to_owned()))
    }
}

/// RFC 3986 percent-decoding of one URI attribute value.
fn decode(v: &str) -> Result<String, TokenError> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(TokenError::Uri("a % without two hex digits"))?;
            let mut b = [0u8; 1];
            hex::decode_to_slice(hex, &mut b)
                .map_err(|_| TokenError::Uri("a % without two hex digits"))?;
            out.push(b[0]);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TokenError::Uri("a value is not UTF-8"))
}

/// The modules loaded in this process: PKCS#11 allows one `C_Initialize` per module per
/// process, shared by every keystore that uses it.
fn module(path: &Path) -> Result<Pkcs11, TokenError> {
    static MODULES: OnceLock<Mutex<BTreeMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let load = |source| TokenError::Load {
        module: path.to_owned(),
        source,
    };
    let mut m = MODULES
        .get_or_init(|| Mutex::new(BTreeMap::new()))
        .lock()
        .map_err(|_| TokenError::Uri("the module table's lock is poisoned"))?;
    if let Some(p) = m.get(path) {
        return Ok(p.clone());
    }
    let p = Pkcs11::new(path).map_err(load)?;
    match p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(load(e)),
    }
    m.insert(path.to_owned(), p.clone());
    Ok(p)
}

fn find_slot(p: &Pkcs11, label: &str) -> Result<Option<Slot>, TokenError> {
    for slot in p
        .get_slots_with_initialized_token()
        .map_err(call("C_GetSlotList"))?
    {
        let info = p.get_token_info(slot).map_err(call("C_GetTokenInfo"))?;
        if info.label().trim_end() == label {
            return Ok(Some(slot));
        }
    }
    Ok(None)
}

/// Initialises a token labelled `label` in the first free slot, with `so_pin` and the
/// user PIN `user_pin`. For SoftHSM2 in tests and the demo; an HSM is provisioned with
/// its own tools. Returns without change if a token with that label exists.
///
/// # Errors
/// [`TokenError`].
pub fn init_token(
    module_path: &Path,
    label: &str,
    so_pin: &str,
    user_pin: &str,
) -> Result<(), TokenError> {
    let p = module(module_path)?;
    if find_slot(&p, label)?.is_some() {
        return Ok(());
    }
    let mut free = None;
    for slot in p.get_slots_with_token().map_err(call("C_GetSlotList"))? {
        let info = p.get_token_info(slot).map_err(call("C_GetTokenInfo"))?;
        if !info.token_initialized() {
            free = Some(slot);
            break;
        }
    }
    let slot = free.ok_or_else(|| TokenError::NoToken(format!("(a free slot for {label})")))?;
    let so = AuthPin::from(so_pin.to_owned());
    p.init_token(slot, &so, label)
        .map_err(call("C_InitToken"))?;
    // SoftHSM2 moves an initialised token to a new slot id: find it again.
    let slot = find_slot(&p, label)?.ok_or_else(|| TokenError::NoToken(label.to_owned()))?;
    let s = p.open_rw_session(slot).map_err(call("C_OpenSession"))?;
    s.login(UserType::So, Some(&so)).map_err(call("C_Login"))?;
    s.init_pin(&AuthPin::from(user_pin.to_owned()))
        .map_err(call("C_InitPIN"))?;
    s.logout().map_err(call("C_Logout"))?;
    Ok(())
}

/// An open, logged-in session on the custodian's token.
pub(crate) struct Token {
    label: String,
    /// `Session` is `Send` but not `Sync`: one call at a time.
    session: Mutex<Session>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

const KEY_ATTRIBUTES: [AttributeType; 6] = [
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::NeverExtractable,
    AttributeType::Local,
    AttributeType::Token,
    AttributeType::Private,
];

impl Token {
    /// Opens a read-write session on the configured token and logs in as its user.
    pub(crate) fn open(config: &TokenConfig) -> Result<Self, TokenError> {
        let p = module(&config.module)?;
        let slot = find_slot(&p, &config.token)?
            .ok_or_else(|| TokenError::NoToken(config.token.clone()))?;
        let session = p.open_rw_session(slot).map_err(call("C_OpenSession"))?;
        let pin = config.read_pin()?;
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                return Err(TokenError::WrongPin(config.token.clone()));
            }
            Err(e) => return Err(call("C_Login")(e)),
        }
        Ok(Self {
            label: config.token.clone(),
            session: Mutex::new(session),
        })
    }

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, TokenError> {
        self.session
            .lock()
            .map_err(|_| TokenError::Uri("the token session's lock is poisoned"))
    }

    fn find(s: &Session, label: &str) -> Result<Vec<ObjectHandle>, TokenError> {
        s.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(call("C_FindObjects"))
    }

    /// The labels of every key object of this keystore (`prefix`) in the token.
    pub(crate) fn labels(&self, prefix: &str) -> Result<Vec<String>, TokenError> {
        let s = self.session()?;
        let all = s
            .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .map_err(call("C_FindObjects"))?;
        let mut out = Vec::new();
        for h in all {
            for a in s
                .get_attributes(h, &[AttributeType::Label])
                .map_err(call("C_GetAttributeValue"))?
            {
                if let Attribute::Label(l) = a
                    && let Ok(l) = String::from_utf8(l)
                    && l.starts_with(prefix)
                {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    /// Checks that `h` is a key the keystore may trust with a file key.
    fn check_protected(s: &Session, h: ObjectHandle, label: &str) -> Result<(), TokenError> {
        let attrs = s
            .get_attributes(h, &KEY_ATTRIBUTES)
            .map_err(call("C_GetAttributeValue"))?;
        let has = |want: &Attribute| attrs.iter().any(|a| a == want);
        let unprotected = |what| TokenError::Unprotected {
            label: label.to_owned(),
            what,
        };
        if !has(&Attribute::Sensitive(true)) {
            return Err(unprotected("CKA_SENSITIVE is not true"));
        }
        if !has(&Attribute::Extractable(false)) {
            return Err(unprotected("CKA_EXTRACTABLE is not false"));
        }
        if !has(&Attribute::NeverExtractable(true)) {
            return Err(unprotected("CKA_NEVER_EXTRACTABLE is not true"));
        }
        if !has(&Attribute::Local(true)) {
            return Err(unprotected(
                "CKA_LOCAL is not true (not generated in the token)",
            ));
        }
        if !has(&Attribute::Token(true)) {
            return Err(unprotected("CKA_TOKEN is not true"));
        }
        if !has(&Attribute::Private(true)) {
            return Err(unprotected("CKA_PRIVATE is not true"));
        }
        Ok(())
    }

    /// The key labelled `label`, generated if there is none (a leftover of several,
    /// from a crash, is reduced to one: the others never wrapped a file that exists).
    pub(crate) fn key(
        &self,
        label: &str,
        create: bool,
    ) -> Result<Option<ObjectHandle>, TokenError> {
        let s = self.session()?;
        let found = Self::find(&s, label)?;
        if let Some(&h) = found.first() {
            Self::check_protected(&s, h, label)?;
            return Ok(Some(h));
        }
        if !create {
            return Ok(None);
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Copyable(false),
            Attribute::Destroyable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
            Attribute::AllowedMechanisms(vec![MechanismType::AES_GCM]),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let h = s
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(call("C_GenerateKey"))?;
        Self::check_protected(&s, h, label)?;
        Ok(Some(h))
    }

    /// Destroys every object labelled `label` (`C_DestroyObject`). Returns how many.
    pub(crate) fn destroy(&self, label: &str) -> Result<usize, TokenError> {
        let s = self.session()?;
        let found = Self::find(&s, label)?;
        for &h in &found {
            s.destroy_object(h).map_err(call("C_DestroyObject"))?;
        }
        Ok(found.len())
    }

    fn encrypt(
        &self,
        key: ObjectHandle,
        label: &str,
        plain: &[u8],
    ) -> Result<(Vec<u8>, [u8; 12]), TokenError> {
        let mut iv: [u8; 12] =
            minimis_crypto::random_bytes().map_err(|_| TokenError::Uri("no randomness"))?;
        let iv_out = iv;
        let s = self.session()?;
        let params =
            GcmParams::new(&mut iv, label.as_bytes(), 128.into()).map_err(call("CK_GCM_PARAMS"))?;
        let out = s
            .encrypt(&Mechanism::AesGcm(params), key, plain)
            .map_err(call("C_Encrypt"))?;
        Ok((out, iv_out))
    }

    fn decrypt(
        &self,
        key: ObjectHandle,
        label: &str,
        iv: &[u8],
        body: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let mut iv = iv.to_vec();
        let s = self.session()?;
        let params =
            GcmParams::new(&mut iv, label.as_bytes(), 128.into()).map_err(call("CK_GCM_PARAMS"))?;
        s.decrypt(&Mechanism::AesGcm(params), key, body)
            .map(Zeroizing::new)
            .map_err(call("C_Decrypt"))
    }

    /// Every secret-key object in the token, with its label (an audit and a test try
    /// them all).
    fn every_key(&self) -> Result<Vec<ObjectHandle>, TokenError> {
        let s = self.session()?;
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .map_err(call("C_FindObjects"))
    }
}

/// An age recipient for a token key: wraps the file key with `C_Encrypt`.
pub(crate) struct TokenRecipient<'a> {
    pub(crate) token: &'a Token,
    pub(crate) key: ObjectHandle,
    pub(crate) label: &'a str,
    /// The token's error, if wrapping failed (age's error type cannot carry it).
    pub(crate) failed: Cell<Option<TokenError>>,
}

impl age::Recipient for TokenRecipient<'_> {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        match self
            .token
            .encrypt(self.key, self.label, file_key.expose_secret())
        {
            Ok((body, iv)) => Ok((
                vec![Stanza {
                    tag: STANZA_TAG.to_owned(),
                    args: vec![self.label.to_owned(), B64.encode(iv)],
                    body,
                }],
                HashSet::new(),
            )),
            Err(e) => {
                self.failed.set(Some(e));
                Err(age::EncryptError::Io(std::io::Error::other(
                    "the token did not wrap the file key",
                )))
            }
        }
    }
}

/// An age identity for a token: unwraps a `minimis-pkcs11` stanza with `C_Decrypt`,
/// with the key its label names, or (`any_key`) with every key object of the token.
pub(crate) struct TokenIdentity<'a> {
    pub(crate) token: &'a Token,
    pub(crate) any_key: bool,
}

impl TokenIdentity<'_> {
    fn unwrap_with(
        &self,
        key: ObjectHandle,
        label: &str,
        iv: &[u8],
        body: &[u8],
    ) -> Option<FileKey> {
        let plain = self.token.decrypt(key, label, iv, body).ok()?;
        let bytes: [u8; 16] = plain.as_slice().try_into().ok()?;
        let key = FileKey::init_with_mut(|k| *k = bytes);
        let mut bytes = bytes;
        zeroize::Zeroize::zeroize(&mut bytes);
        Some(key)
    }
}

impl age::Identity for TokenIdentity<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG || stanza.args.len() != 2 || stanza.body.len() != 32 {
            return None;
        }
        let label = &stanza.args[0];
        let iv = B64.decode(&stanza.args[1]).ok()?;
        if iv.len() != 12 {
            return None;
        }
        let keys = if self.any_key {
            self.token.every_key().ok()?
        } else {
            let s = self.token.session().ok()?;
            Token::find(&s, label).ok()?
        };
        keys.into_iter()
            .find_map(|k| self.unwrap_with(k, label, &iv, &stanza.body))
            .map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ret_35_a_pkcs11_uri_names_module_token_and_pin_source_and_never_the_pin() {
        let c = TokenConfig::from_uri(
            "pkcs11:token=minimis%20agency?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:AGENCY_PIN",
        )
        .unwrap();
        assert_eq!(c.token, "minimis agency");
        assert_eq!(c.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(c.pin, PinSource::Env("AGENCY_PIN".into()));
        let c = TokenConfig::from_uri("pkcs11:token=t?module-path=m.so&pin-source=file:/run/pin")
            .unwrap();
        assert_eq!(c.pin, PinSource::File("/run/pin".into()));
        for bad in [
            "token=t?module-path=m&pin-source=env:P",
            "pkcs11:token=t?module-path=m&pin-value=1234",
            "pkcs11:token=t?module-path=m",
            "pkcs11:?module-path=m&pin-source=env:P",
            "pkcs11:token=t?pin-source=env:P",
            "pkcs11:token=t?module-path=m&pin-source=https://x",
            "pkcs11:token=%zz?module-path=m&pin-source=env:P",
            "pkcs11:token=t;colour=red?module-path=m&pin-source=env:P",
        ] {
            assert!(
                matches!(TokenConfig::from_uri(bad), Err(TokenError::Uri(_))),
                "{bad}"
            );
        }
        // The PIN never appears in Debug: it is not in the configuration at all.
        assert!(!format!("{c:?}").contains("1234"));
    }
}
