//! The keystore: a custodian's only copy of its keys, encrypted at rest (**RET-4**,
//! **RET-7**, **RET-8**), in one of two modes ([`Protection`]).
//!
//! **Token mode** (production, **RET-34**): every file is wrapped by its own AES-256 key
//! in a PKCS#11 token (an HSM), generated there and never extractable; destroying an
//! epoch destroys its token key (`C_DestroyObject`) before its file. A copy of the data
//! directory, taken at any moment, holds only files that need those keys: after an
//! epoch's deadline no copy of its file opens, whoever holds the copy and whatever
//! secret they know. The format is in [`token`].
//!
//! **File mode** (development, **RET-36** to **RET-39**): the files are encrypted to a
//! key-encryption identity, itself an age file under scrypt (RFC 7914) with the
//! keystore secret (a passphrase, or a key file's bytes). Anyone who holds a copy of the
//! keystore and the secret opens every epoch the copy held, destroyed since or not: the
//! secret must live on other storage than the data directory (the custodian refuses a
//! key file inside it unless told otherwise), passphrases have a minimum strength
//! ([`MIN_PASSPHRASE_CHARS`], [`MIN_PASSPHRASE_GUESSES_LOG10`]), scrypt has a floor
//! ([`WorkFactor`]), and [`Keystore::rotate`] moves the keystore to a new secret (or
//! into a token) and scrubs the old one.
//!
//! ```text
//! keystore/
//!   keystore.age          file mode: the key-encryption identity (X25519), an age file
//!                         encrypted with the keystore secret under scrypt, log2(N) >= 15
//!   signing.age           the custodian's Ed25519 seed        } each an age file, to the
//!   witness.age           the witness's Ed25519 seed (oversight) } key-encryption identity
//!   epoch-<n>.age         one epoch identity (SEAL-8 format)   } (file mode) or to its
//!   hold-<hold id>.age    one legal hold's identity            } own token key (token mode)
//!   tombstones.json       which epochs and holds were destroyed, and when (public)
//! ```
//!
//! Every file is a standard age file. In file mode, with the secret, `age -d
//! keystore.age` gives the key-encryption identity and `age -d -i <it> epoch-2968.age`
//! the epoch identity, so an auditor can check the format with tools we did not write.
//! The key-encryption identity is held in memory only while the keystore is opened;
//! afterwards the custodian keeps only its public recipient, to encrypt the identities
//! it makes later.
//!
//! Destruction ([`Keystore::destroy_epoch`]) writes the tombstone first (the commit
//! point: an epoch with a tombstone is never keyed again, and a destruction interrupted
//! after it is finished at the next [`Keystore::finish_destructions`] or open), then
//! zeroizes the identity in memory, destroys the token key (token mode), then
//! overwrites the file's bytes, syncs it, unlinks it and syncs the directory.

pub mod token;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use age::secrecy::{ExposeSecret as _, SecretString};
use minimis_crypto::SigningKey;
use minimis_log::entry::HoldId;
use minimis_proto::{CustodianRole, EpochId, UnixTime};
use minimis_seal::{EpochIdentity, EpochKeyring, KeyUnavailable, KeyringError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::files::{self, FileError};
pub use token::{PinSource, TokenConfig, TokenError};
use token::{Token, TokenIdentity, TokenRecipient};

/// The scrypt work factor (log2 N) of a file keystore's key-encryption identity
/// (**RET-38**): at least [`WorkFactor::FLOOR`] (2^15: 32 MiB and tens of milliseconds a
/// guess), at most [`WorkFactor::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkFactor(u8);

impl WorkFactor {
    /// The smallest work factor a keystore is made with outside tests.
    pub const FLOOR: u8 = 15;
    /// The work factor used unless configured: about a second on a current server core.
    pub const DEFAULT: Self = Self(18);
    /// The largest work factor a keystore file may demand when opened (bounds the work
    /// a corrupted file can cause).
    pub const MAX: u8 = 22;

    /// `log_n`, if it is within [`WorkFactor::FLOOR`]`..=`[`WorkFactor::MAX`].
    ///
    /// # Errors
    /// [`KeystoreError::WorkFactor`].
    pub fn new(log_n: u8) -> Result<Self, KeystoreError> {
        if (Self::FLOOR..=Self::MAX).contains(&log_n) {
            Ok(Self(log_n))
        } else {
            Err(KeystoreError::WorkFactor(log_n))
        }
    }

    /// A work factor below the floor, for tests and benchmarks only (a keystore made
    /// with it falls to a guessed passphrase far sooner). No configuration file or
    /// command-line flag reaches it.
    pub fn below_floor_for_tests(log_n: u8) -> Self {
        Self(log_n.clamp(1, Self::MAX))
    }

    /// log2 N.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for WorkFactor {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The shortest passphrase a keystore accepts, in characters (NIST SP 800-63B-4's
/// minimum for a password used alone) (**RET-37**).
pub const MIN_PASSPHRASE_CHARS: usize = 15;
/// The fewest guesses, as log10, that zxcvbn must estimate for a passphrase
/// (**RET-37**): 10^14 guesses at 2^15 scrypt take a GPU farm decades.
pub const MIN_PASSPHRASE_GUESSES_LOG10: f64 = 14.0;
/// The shortest key file, in bytes (**RET-37**).
pub const MIN_KEY_FILE_BYTES: usize = 32;

const KEK_FILE: &str = "keystore.age";
const SIGNING_FILE: &str = "signing.age";
const WITNESS_FILE: &str = "witness.age";
const TOMBSTONES_FILE: &str = "tombstones.json";

/// Where the keystore secret comes from (file mode). Both go through scrypt.
pub enum KeystoreSecret {
    /// A passphrase (from an environment variable, a prompt or a credentials file), of
    /// at least [`MIN_PASSPHRASE_CHARS`] characters and 10^[`MIN_PASSPHRASE_GUESSES_LOG10`]
    /// guesses by zxcvbn's estimate.
    Passphrase(Zeroizing<String>),
    /// A key file: its bytes (at least [`MIN_KEY_FILE_BYTES`]), base64-encoded, are the
    /// passphrase. It must live on other storage than the keystore (a removable token, a
    /// TPM-sealed or tmpfs credential).
    KeyFile(PathBuf),
}

impl fmt::Debug for KeystoreSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("KeystoreSecret::Passphrase(<redacted>)"),
            Self::KeyFile(p) => write!(f, "KeystoreSecret::KeyFile({})", p.display()),
        }
    }
}

/// Checks a passphrase against the minimum strength (**RET-37**).
///
/// # Errors
/// [`KeystoreError::WeakPassphrase`], saying why.
pub fn check_passphrase(p: &str) -> Result<(), KeystoreError> {
    if p.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(KeystoreError::WeakPassphrase {
            why: "shorter than 15 characters",
        });
    }
    let guesses = zxcvbn::zxcvbn(p, &["minimis", "custodian", "keystore"]).guesses_log10();
    if guesses < MIN_PASSPHRASE_GUESSES_LOG10 {
        return Err(KeystoreError::WeakPassphrase {
            why: "guessable in fewer than 10^14 tries (zxcvbn's estimate): use more unrelated words",
        });
    }
    Ok(())
}

impl KeystoreSecret {
    /// The scrypt passphrase. `strict`: refuse a weak one (always, except to open a
    /// keystore in order to rotate it away from that passphrase).
    fn passphrase(&self, strict: bool) -> Result<SecretString, KeystoreError> {
        use base64::Engine as _;
        match self {
            Self::Passphrase(p) => {
                if p.is_empty() {
                    return Err(KeystoreError::EmptySecret);
                }
                if strict {
                    check_passphrase(p)?;
                }
                Ok(SecretString::from(p.as_str().to_owned()))
            }
            Self::KeyFile(path) => {
                let bytes = Zeroizing::new(std::fs::read(path).map_err(files::io(path))?);
                if bytes.len() < MIN_KEY_FILE_BYTES && (strict || bytes.len() < 16) {
                    return Err(KeystoreError::EmptySecret);
                }
                Ok(SecretString::from(
                    base64::engine::general_purpose::STANDARD.encode(&*bytes),
                ))
            }
        }
    }

    /// Makes a key file of 32 random bytes at `path` if there is none (private to its
    /// owner). For development and first setup; a deployment provisions it.
    ///
    /// # Errors
    /// [`KeystoreError`] on I/O or randomness failure.
    pub fn make_key_file(path: &Path) -> Result<(), KeystoreError> {
        if path.exists() {
            return Ok(());
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(files::io(dir))?;
        }
        let bytes = Zeroizing::new(minimis_crypto::random_bytes::<32>()?);
        files::write_atomic(path, &*bytes, true)?;
        Ok(())
    }
}

/// How a keystore's files are protected.
#[derive(Debug)]
#[non_exhaustive]
pub enum Protection {
    /// Development: files encrypted to a key-encryption identity under scrypt.
    File {
        /// The secret.
        secret: KeystoreSecret,
        /// The scrypt work factor of a new keystore.
        work: WorkFactor,
    },
    /// Production: each file wrapped by its own non-extractable key in a PKCS#11 token.
    Token(TokenConfig),
}

impl Protection {
    /// A human name: `file` or `token <label>`.
    pub fn describe(&self) -> String {
        match self {
            Self::File { .. } => "file (development)".to_owned(),
            Self::Token(t) => format!("PKCS#11 token {:?}", t.token),
        }
    }
}

/// Why the keystore could not be opened or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// A file could not be read, written or removed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The secret does not open the keystore (a wrong passphrase or key file), or the
    /// file is not an age file.
    #[error(
        "{path}: cannot be decrypted with the keystore secret (wrong passphrase, key file or token?)"
    )]
    WrongSecret {
        /// The file.
        path: PathBuf,
    },
    /// An empty passphrase, or a key file shorter than [`MIN_KEY_FILE_BYTES`].
    #[error("the keystore secret is empty, or the key file is shorter than 32 bytes")]
    EmptySecret,
    /// A passphrase below the minimum strength (**RET-37**).
    #[error("the keystore passphrase is too weak: {why}")]
    WeakPassphrase {
        /// Why.
        why: &'static str,
    },
    /// A decrypted file does not hold what its name says.
    #[error("{path}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The scrypt work factor is outside the floor and the maximum (**RET-38**).
    #[error("the scrypt work factor log2(N) = {0} is outside {floor}..={max}", floor = WorkFactor::FLOOR, max = WorkFactor::MAX)]
    WorkFactor(u8),
    /// The keystore on disk is in the other mode (a file keystore opened as a token's,
    /// or the reverse).
    #[error("{dir}: the keystore is in {found} mode; move it with `minimis custodian rotate-key`")]
    ModeMismatch {
        /// The keystore directory.
        dir: PathBuf,
        /// The mode found on disk.
        found: &'static str,
    },
    /// A rotation that cannot be done (see [`Keystore::rotate`]).
    #[error("cannot rotate: {0}")]
    Rotation(&'static str),
    /// The PKCS#11 token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// age refused to encrypt.
    #[error("age encryption failed")]
    Encrypt,
    /// The keyring's rules refused (a second identity for an epoch, a destroyed epoch).
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The system random number generator failed.
    #[error(transparent)]
    Random(#[from] minimis_crypto::RandomError),
    /// The keystore's lock was poisoned by a panic in another thread.
    #[error("the keystore lock is poisoned")]
    Poisoned,
    /// A hold identity that is not in the keystore (never made, or destroyed).
    #[error("no identity for legal hold {0:?}")]
    UnknownHold(HoldId),
}

/// One legal hold's X25519 identity at one custodian. Secret: zeroized on drop (the
/// scalar is an x25519-dalek `StaticSecret`), redacted in `Debug`, no `Clone`.
pub struct HoldIdentity {
    hold: HoldId,
    identity: age::x25519::Identity,
}

impl HoldIdentity {
    /// The hold.
    pub fn hold(&self) -> HoldId {
        self.hold
    }

    /// The public recipient.
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.identity.to_public()
    }

    /// The age identity, to open a layer with. Like an epoch identity it is never
    /// written anywhere but the keystore (**RET-4**).
    pub fn age_identity(&self) -> &age::x25519::Identity {
        &self.identity
    }
}

impl fmt::Debug for HoldIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldIdentity")
            .field("hold", &self.hold)
            .field("recipient", &self.recipient().to_string())
            .finish_non_exhaustive()
    }
}

/// What the keystore remembers of destroyed keys: public, and never shrinks.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Tombstones {
    /// Epoch number to destruction time (Unix seconds).
    epochs: BTreeMap<u32, i64>,
    /// Hold id (hex) to destruction time.
    holds: BTreeMap<String, i64>,
}

/// What [`Keystore::destroy_epoch`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destroyed {
    /// The epoch.
    pub epoch: EpochId,
    /// When it was (first) destroyed.
    pub destroyed_at: UnixTime,
    /// Whether this call destroyed it (false: it had been destroyed before).
    pub newly: bool,
}

/// What a file protects, which in token mode names its token key.
#[derive(Clone, Copy)]
enum Slot {
    Master,
    Epoch(EpochId),
    Hold(HoldId),
}

impl Slot {
    fn label(self, prefix: &str) -> String {
        match self {
            Self::Master => format!("{prefix}master"),
            Self::Epoch(e) => format!("{prefix}epoch/{}", e.get()),
            Self::Hold(h) => format!("{prefix}hold/{}", hex::encode(h.as_bytes())),
        }
    }
}

/// What opens the files while the keystore is opened: the secret key-encryption
/// identity (file mode; dropped, and zeroized, once opened) or the token.
enum Opener {
    Kek(age::x25519::Identity),
    Token,
}

/// How new files are encrypted.
enum Wrapper {
    /// To the key-encryption identity's recipient.
    File(age::x25519::Recipient),
    /// To a token key per file; labels start with `prefix`.
    Token { token: Token, prefix: String },
}

/// A custodian's keystore, opened. See the module docs.
pub struct Keystore {
    dir: PathBuf,
    wrapper: Wrapper,
    signing: SigningKey,
    witness: Option<SigningKey>,
    keyring: EpochKeyring,
    holds: BTreeMap<HoldId, HoldIdentity>,
    tombstones: Tombstones,
    /// Tombstoned keys whose token object or file may still exist (a destruction
    /// interrupted by an error): finished by [`Keystore::finish_destructions`].
    unfinished: BTreeSet<String>,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore")
            .field("dir", &self.dir)
            .field("token", &self.is_token())
            .field("keyring", &self.keyring)
            .field("holds", &self.holds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn encrypt(recipient: &dyn age::Recipient, plaintext: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
        .map_err(|_| KeystoreError::Encrypt)?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|_| KeystoreError::Encrypt)?;
    w.write_all(plaintext).map_err(|_| KeystoreError::Encrypt)?;
    w.finish().map_err(|_| KeystoreError::Encrypt)?;
    Ok(out)
}

fn decrypt_bytes(
    identity: &dyn age::Identity,
    bytes: &[u8],
    path: &Path,
) -> Result<Zeroizing<String>, KeystoreError> {
    let wrong = || KeystoreError::WrongSecret {
        path: path.to_owned(),
    };
    let d = age::Decryptor::new_buffered(bytes).map_err(|_| wrong())?;
    let mut r = d.decrypt(std::iter::once(identity)).map_err(|_| wrong())?;
    // Sized up front so the buffer holding the secret is not reallocated.
    let mut out = Zeroizing::new(Vec::with_capacity(4096));
    r.read_to_end(&mut out).map_err(|_| wrong())?;
    let text = String::from_utf8(out.to_vec()).map_err(|e| {
        let mut v = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut v);
        KeystoreError::Corrupt {
            path: path.to_owned(),
            what: "not UTF-8",
        }
    })?;
    Ok(Zeroizing::new(text))
}

fn decrypt(identity: &dyn age::Identity, path: &Path) -> Result<Zeroizing<String>, KeystoreError> {
    let bytes = std::fs::read(path).map_err(files::io(path))?;
    decrypt_bytes(identity, &bytes, path)
}

fn parse_x25519(text: &str, path: &Path) -> Result<age::x25519::Identity, KeystoreError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| KeystoreError::Corrupt {
            path: path.to_owned(),
            what: "no age identity",
        })?;
    age::x25519::Identity::from_str(line).map_err(|_| KeystoreError::Corrupt {
        path: path.to_owned(),
        what: "not an age X25519 identity",
    })
}

fn identity_text(identity: &age::x25519::Identity, comment: &str) -> Zeroizing<String> {
    let secret = identity.to_string();
    let mut out = Zeroizing::new(String::with_capacity(256));
    out.push_str(comment);
    out.push_str("\n# public key: ");
    out.push_str(&identity.to_public().to_string());
    out.push('\n');
    out.push_str(secret.expose_secret());
    out.push('\n');
    out
}

fn seed_text(key: &SigningKey) -> Zeroizing<String> {
    use base64::Engine as _;
    let mut out = Zeroizing::new(String::with_capacity(64));
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(key.expose_seed()));
    out.push('\n');
    out
}

fn parse_seed(text: &str, path: &Path) -> Result<SigningKey, KeystoreError> {
    use base64::Engine as _;
    let seed = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KeystoreError::Corrupt {
                path: path.to_owned(),
                what: "not a base64 Ed25519 seed",
            })?,
    );
    SigningKey::from_seed(&seed).map_err(|_| KeystoreError::Corrupt {
        path: path.to_owned(),
        what: "not a 32-byte Ed25519 seed",
    })
}

fn epoch_file_name(epoch: EpochId) -> String {
    format!("epoch-{}.age", epoch.get())
}

fn hold_file_name(hold: HoldId) -> String {
    format!("hold-{}.age", hex::encode(hold.as_bytes()))
}

/// The token-key label prefix of a custodian's keystore.
fn token_prefix(custodian_id: &str) -> String {
    format!("minimis/{custodian_id}/")
}

/// The work factor recorded in a scrypt age file's header, if it is one.
fn scrypt_work_factor(bytes: &[u8]) -> Option<u8> {
    // The header is text; the payload after it is not.
    let text = String::from_utf8_lossy(&bytes[..200.min(bytes.len())]);
    let line = text.lines().find(|l| l.starts_with("-> scrypt "))?;
    line.split(' ').nth(3)?.parse().ok()
}

/// The sibling directories a rotation uses.
fn rotation_dirs(dir: &Path) -> (PathBuf, PathBuf) {
    let name = dir
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    let mut next = name.clone();
    next.push(".rotating");
    let mut old = name;
    old.push(".old");
    (dir.with_file_name(next), dir.with_file_name(old))
}

/// Scrubs every file under `dir` and removes it.
fn scrub_dir(dir: &Path) -> Result<(), KeystoreError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(files::io(dir))? {
        let path = entry.map_err(files::io(dir))?.path();
        if path.is_dir() {
            scrub_dir(&path)?;
        } else {
            files::scrub_and_unlink(&path)?;
        }
    }
    std::fs::remove_dir(dir).map_err(files::io(dir))?;
    Ok(())
}

/// Finishes or undoes a rotation a crash interrupted: before the swap the new copy is
/// scrubbed; between the two renames the new copy is put in place; after it the old
/// copy is scrubbed.
fn recover_rotation(dir: &Path) -> Result<(), KeystoreError> {
    let (next, old) = rotation_dirs(dir);
    if !next.exists() && !old.exists() {
        return Ok(());
    }
    if next.exists() {
        if dir.exists() {
            scrub_dir(&next)?;
        } else {
            std::fs::rename(&next, dir).map_err(files::io(dir))?;
        }
    }
    scrub_dir(&old)?;
    sync_parent(dir)
}

fn sync_parent(dir: &Path) -> Result<(), KeystoreError> {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(files::sync_dir(p)?),
        _ => Ok(files::sync_dir(Path::new("."))?),
    }
}

impl Keystore {
    /// Opens the keystore in `dir` with `protection`, or creates it (with a fresh
    /// signing key, and in file mode a fresh key-encryption identity) if `dir` holds
    /// none.
    ///
    /// Finishes any destruction a crash interrupted (a tombstone whose token key or file
    /// is still there), any rotation a crash interrupted, and removes leftover temporary
    /// files.
    ///
    /// # Errors
    /// [`KeystoreError`]; [`KeystoreError::WrongSecret`] for a wrong secret,
    /// [`KeystoreError::WeakPassphrase`] for a passphrase below the minimum strength,
    /// [`KeystoreError::ModeMismatch`] for a keystore in the other mode.
    pub fn open_or_create(
        dir: &Path,
        protection: &Protection,
        role: CustodianRole,
        custodian_id: &str,
    ) -> Result<Self, KeystoreError> {
        Self::open_inner(dir, protection, role, custodian_id, true)
    }

    fn open_inner(
        dir: &Path,
        protection: &Protection,
        role: CustodianRole,
        custodian_id: &str,
        strict: bool,
    ) -> Result<Self, KeystoreError> {
        recover_rotation(dir)?;
        files::make_private_dir(dir)?;
        let kek_path = dir.join(KEK_FILE);
        let has_signing = dir.join(SIGNING_FILE).exists();

        // What opens the files now, and what encrypts new ones.
        let (opener, wrapper) = match protection {
            Protection::File { secret, work } => {
                if !kek_path.exists() && has_signing {
                    return Err(KeystoreError::ModeMismatch {
                        dir: dir.to_owned(),
                        found: "token",
                    });
                }
                let passphrase = secret.passphrase(strict)?;
                let kek = if kek_path.exists() {
                    let bytes = std::fs::read(&kek_path).map_err(files::io(&kek_path))?;
                    if scrypt_work_factor(&bytes).is_some_and(|n| n < WorkFactor::FLOOR) {
                        tracing::warn!(
                            floor = WorkFactor::FLOOR,
                            "the keystore's scrypt work factor is below the floor: rotate it (`minimis custodian rotate-key`)"
                        );
                    }
                    let mut id = age::scrypt::Identity::new(passphrase);
                    id.set_max_work_factor(WorkFactor::MAX);
                    let text = decrypt_bytes(&id, &bytes, &kek_path)?;
                    parse_x25519(&text, &kek_path)?
                } else {
                    let kek = age::x25519::Identity::generate();
                    let mut r = age::scrypt::Recipient::new(passphrase);
                    r.set_work_factor(work.get());
                    let text = identity_text(
                        &kek,
                        "# minimis custodian keystore: key-encryption identity",
                    );
                    files::write_atomic(&kek_path, &encrypt(&r, text.as_bytes())?, true)?;
                    kek
                };
                let recipient = kek.to_public();
                (Opener::Kek(kek), Wrapper::File(recipient))
            }
            Protection::Token(config) => {
                if kek_path.exists() {
                    return Err(KeystoreError::ModeMismatch {
                        dir: dir.to_owned(),
                        found: "file",
                    });
                }
                let token = Token::open(config)?;
                (
                    Opener::Token,
                    Wrapper::Token {
                        token,
                        prefix: token_prefix(custodian_id),
                    },
                )
            }
        };

        // Leftover temporary files of an interrupted write hold no more than the files
        // themselves would (they are encrypted the same way); remove them.
        for entry in std::fs::read_dir(dir).map_err(files::io(dir))? {
            let path = entry.map_err(files::io(dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                files::scrub_and_unlink(&path)?;
            }
        }

        let tombstones_path = dir.join(TOMBSTONES_FILE);
        let tombstones: Tombstones = if tombstones_path.exists() {
            let text =
                std::fs::read_to_string(&tombstones_path).map_err(files::io(&tombstones_path))?;
            serde_json::from_str(&text).map_err(|_| KeystoreError::Corrupt {
                path: tombstones_path.clone(),
                what: "not a tombstone list",
            })?
        } else {
            Tombstones::default()
        };

        let mut ks = Self {
            dir: dir.to_owned(),
            wrapper,
            // Replaced below; a placeholder that is never used or written.
            signing: SigningKey::generate()?,
            witness: None,
            keyring: EpochKeyring::new(role, custodian_id),
            holds: BTreeMap::new(),
            tombstones,
            unfinished: BTreeSet::new(),
        };
        // Finish every destruction a crash or an error interrupted (RET-8).
        for &e in ks.tombstones.epochs.keys() {
            ks.keyring.destroy(EpochId::new(e));
        }
        ks.unfinished = ks
            .tombstones
            .epochs
            .keys()
            .map(|&e| epoch_file_name(EpochId::new(e)))
            .chain(ks.tombstones.holds.keys().map(|h| format!("hold-{h}.age")))
            .collect();
        ks.finish_destructions()?;

        let signing_path = dir.join(SIGNING_FILE);
        ks.signing = if signing_path.exists() {
            parse_seed(&ks.unseal(&opener, &signing_path)?, &signing_path)?
        } else {
            let key = SigningKey::generate()?;
            let bytes = ks.seal(Slot::Master, seed_text(&key).as_bytes())?;
            files::write_atomic(&signing_path, &bytes, true)?;
            key
        };
        let witness_path = dir.join(WITNESS_FILE);
        if witness_path.exists() {
            ks.witness = Some(parse_seed(
                &ks.unseal(&opener, &witness_path)?,
                &witness_path,
            )?);
        }

        for entry in std::fs::read_dir(dir).map_err(files::io(dir))? {
            let path = entry.map_err(files::io(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(n) = name
                .strip_prefix("epoch-")
                .and_then(|r| r.strip_suffix(".age"))
            {
                let n: u32 = n.parse().map_err(|_| KeystoreError::Corrupt {
                    path: path.clone(),
                    what: "not an epoch number",
                })?;
                let text = ks.unseal(&opener, &path)?;
                let id = EpochIdentity::from_identity_file(&text, EpochId::new(n), role).map_err(
                    |_| KeystoreError::Corrupt {
                        path: path.clone(),
                        what: "not an age identity file",
                    },
                )?;
                ks.keyring.insert(id)?;
            } else if let Some(h) = name
                .strip_prefix("hold-")
                .and_then(|r| r.strip_suffix(".age"))
            {
                let mut bytes = [0u8; 16];
                hex::decode_to_slice(h, &mut bytes).map_err(|_| KeystoreError::Corrupt {
                    path: path.clone(),
                    what: "not a hold id",
                })?;
                let hold = HoldId::from_bytes(bytes);
                let identity = parse_x25519(&ks.unseal(&opener, &path)?, &path)?;
                ks.holds.insert(hold, HoldIdentity { hold, identity });
            }
        }
        // `opener` (the secret key-encryption identity, or the opening session) is
        // dropped, and zeroized, here.
        drop(opener);
        Ok(ks)
    }

    /// Moves the keystore in `dir` from `from` to `to` (**RET-39**): a new secret for a
    /// file keystore (a fresh key-encryption identity, every file encrypted to it), or a
    /// file keystore into a token, or one token into another. The custodian must be
    /// stopped. The new keystore is written beside the old one, synced, swapped in, and
    /// the old one (its scrypt file included) scrubbed; with `to` a token, the old
    /// token's keys of this keystore are destroyed. A crash at any point leaves either
    /// the old keystore or the new one, complete.
    ///
    /// What it cannot do: reach copies of the old files made before (backups). Those
    /// open with the old secret as they did, which is why the secret is rotated when it
    /// may have leaked, and why production uses a token.
    ///
    /// # Errors
    /// [`KeystoreError::Rotation`] for a token to files (a downgrade) or a token to the
    /// same token (its keys never leave it: nothing to rotate); [`KeystoreError`].
    pub fn rotate(
        dir: &Path,
        from: &Protection,
        to: &Protection,
        role: CustodianRole,
        custodian_id: &str,
    ) -> Result<(), KeystoreError> {
        match (from, to) {
            (Protection::Token(_), Protection::File { .. }) => {
                return Err(KeystoreError::Rotation(
                    "a token keystore is not moved back to files",
                ));
            }
            (Protection::Token(a), Protection::Token(b))
                if a.module == b.module && a.token == b.token =>
            {
                return Err(KeystoreError::Rotation(
                    "the token's keys never leave it: name another token to move to",
                ));
            }
            (Protection::File { secret: a, .. }, Protection::File { secret: b, .. }) => {
                if let (KeystoreSecret::KeyFile(x), KeystoreSecret::KeyFile(y)) = (a, b)
                    && x == y
                {
                    return Err(KeystoreError::Rotation("the new key file is the old one"));
                }
            }
            _ => {}
        }
        if !dir.join(SIGNING_FILE).exists() {
            return Err(KeystoreError::Rotation("there is no keystore to rotate"));
        }
        let old = Self::open_inner(dir, from, role, custodian_id, false)?;
        let (next, old_dir) = rotation_dirs(dir);
        scrub_dir(&next)?;
        {
            files::make_private_dir(&next)?;
            let mut new = Self::open_or_create(&next, to, role, custodian_id)?;
            // The same keys, under the new protection.
            new.signing = SigningKey::from_seed(old.signing.expose_seed()).map_err(|_| {
                KeystoreError::Corrupt {
                    path: dir.join(SIGNING_FILE),
                    what: "not a 32-byte Ed25519 seed",
                }
            })?;
            let bytes = new.seal(Slot::Master, seed_text(&new.signing).as_bytes())?;
            files::write_atomic(&next.join(SIGNING_FILE), &bytes, true)?;
            if let Some(w) = &old.witness {
                let bytes = new.seal(Slot::Master, seed_text(w).as_bytes())?;
                files::write_atomic(&next.join(WITNESS_FILE), &bytes, true)?;
            }
            for e in old.keyring.live_epochs() {
                let text = old
                    .keyring
                    .identity(e)
                    .map_err(|_| KeystoreError::Rotation("a live epoch has no identity"))?
                    .to_identity_file();
                let bytes = new.seal(Slot::Epoch(e), text.as_bytes())?;
                files::write_atomic(&next.join(epoch_file_name(e)), &bytes, true)?;
            }
            for (h, id) in &old.holds {
                let text = identity_text(&id.identity, "# minimis custodian: legal hold identity");
                let bytes = new.seal(Slot::Hold(*h), text.as_bytes())?;
                files::write_atomic(&next.join(hold_file_name(*h)), &bytes, true)?;
            }
            new.tombstones = old.tombstones.clone();
            new.write_tombstones()?;
        }
        // Swap: old -> .old, new -> dir. A crash between the renames is finished by
        // `recover_rotation` at the next open.
        std::fs::rename(dir, &old_dir).map_err(files::io(dir))?;
        std::fs::rename(&next, dir).map_err(files::io(dir))?;
        sync_parent(dir)?;
        // The old token's keys of this keystore.
        if let Wrapper::Token { token, prefix } = &old.wrapper {
            for label in token.labels(prefix)? {
                token.destroy(&label)?;
            }
        }
        drop(old);
        scrub_dir(&old_dir)?;
        // The old secret, if it was a key file, opens nothing on this machine now.
        if let Protection::File {
            secret: KeystoreSecret::KeyFile(p),
            ..
        } = from
        {
            files::scrub_and_unlink(p)?;
        }
        Ok(())
    }

    /// Opens a file of this keystore while it is being opened.
    fn unseal(&self, opener: &Opener, path: &Path) -> Result<Zeroizing<String>, KeystoreError> {
        match (opener, &self.wrapper) {
            (Opener::Kek(id), _) => decrypt(id, path),
            (Opener::Token, Wrapper::Token { token, .. }) => decrypt(
                &TokenIdentity {
                    token,
                    any_key: false,
                },
                path,
            ),
            (Opener::Token, Wrapper::File(_)) => Err(KeystoreError::WrongSecret {
                path: path.to_owned(),
            }),
        }
    }

    /// Encrypts `plaintext` for the file of `slot`: to the key-encryption recipient, or
    /// with the slot's token key (generated if it has none).
    fn seal(&self, slot: Slot, plaintext: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        match &self.wrapper {
            Wrapper::File(r) => encrypt(r, plaintext),
            Wrapper::Token { token, prefix } => {
                let label = slot.label(prefix);
                let key = token
                    .key(&label, true)?
                    .ok_or_else(|| TokenError::NoToken(label.clone()))?;
                let r = TokenRecipient {
                    token,
                    key,
                    label: &label,
                    failed: std::cell::Cell::new(None),
                };
                encrypt(&r, plaintext).map_err(|e| match r.failed.take() {
                    Some(t) => KeystoreError::Token(t),
                    None => e,
                })
            }
        }
    }

    /// Whether this keystore is in token mode.
    pub fn is_token(&self) -> bool {
        matches!(self.wrapper, Wrapper::Token { .. })
    }

    /// The labels of this keystore's keys in its token (empty in file mode): what an
    /// auditor of the token, or a test, compares with the live epochs.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn token_labels(&self) -> Result<Vec<String>, KeystoreError> {
        match &self.wrapper {
            Wrapper::File(_) => Ok(Vec::new()),
            Wrapper::Token { token, prefix } => Ok(token.labels(prefix)?),
        }
    }

    /// Tries to open an age file of a keystore (any copy of one, from any time) with
    /// every key this keystore can use now: in token mode every secret-key object in
    /// the token, whatever its label. What a thief with this machine's token and PIN
    /// could open; the backup test uses it (**RET-34**).
    pub fn try_open_with_every_token_key(&self, file: &[u8]) -> Option<Zeroizing<String>> {
        match &self.wrapper {
            Wrapper::File(_) => None,
            Wrapper::Token { token, .. } => decrypt_bytes(
                &TokenIdentity {
                    token,
                    any_key: true,
                },
                file,
                Path::new(""),
            )
            .ok(),
        }
    }

    /// Finishes destructions left unfinished: destroys the token keys and scrubs the
    /// files of tombstoned epochs and holds (**RET-8**). Cheap when there are none; the
    /// custodian calls it at every tick.
    ///
    /// # Errors
    /// [`KeystoreError`]; what is left stays for the next call.
    pub fn finish_destructions(&mut self) -> Result<usize, KeystoreError> {
        let pending: Vec<String> = self.unfinished.iter().cloned().collect();
        let mut done = 0;
        for name in pending {
            if let Wrapper::Token { token, prefix } = &self.wrapper {
                let slot = if let Some(n) = name
                    .strip_prefix("epoch-")
                    .and_then(|r| r.strip_suffix(".age"))
                    .and_then(|n| n.parse().ok())
                {
                    Some(Slot::Epoch(EpochId::new(n)))
                } else {
                    name.strip_prefix("hold-")
                        .and_then(|r| r.strip_suffix(".age"))
                        .and_then(|h| {
                            let mut b = [0u8; 16];
                            hex::decode_to_slice(h, &mut b).ok()?;
                            Some(Slot::Hold(HoldId::from_bytes(b)))
                        })
                };
                if let Some(slot) = slot {
                    token.destroy(&slot.label(prefix))?;
                }
            }
            files::scrub_and_unlink(&self.dir.join(&name))?;
            self.unfinished.remove(&name);
            done += 1;
        }
        Ok(done)
    }

    /// Whether a destruction is still unfinished (its token key or file may exist).
    pub fn has_unfinished_destructions(&self) -> bool {
        !self.unfinished.is_empty()
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The custodian's Ed25519 key: signs its epoch recipients and its requests to the
    /// operator.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The witness's Ed25519 key (the oversight custodian's), made on first use.
    ///
    /// # Errors
    /// [`KeystoreError`] if it cannot be made or stored.
    pub fn witness_key(&mut self) -> Result<&SigningKey, KeystoreError> {
        if self.witness.is_none() {
            let key = SigningKey::generate()?;
            let bytes = self.seal(Slot::Master, seed_text(&key).as_bytes())?;
            files::write_atomic(&self.dir.join(WITNESS_FILE), &bytes, true)?;
            self.witness = Some(key);
        }
        self.witness.as_ref().ok_or(KeystoreError::Corrupt {
            path: self.dir.join(WITNESS_FILE),
            what: "missing",
        })
    }

    /// The epoch identities (live and destroyed).
    pub fn keyring(&self) -> &EpochKeyring {
        &self.keyring
    }

    /// The identity for `epoch`.
    ///
    /// # Errors
    /// [`KeyUnavailable`] if destroyed or never made.
    pub fn epoch(&self, epoch: EpochId) -> Result<&EpochIdentity, KeyUnavailable> {
        self.keyring.identity(epoch)
    }

    /// The epoch identity as an age identity, for the header re-wrap of a legal hold.
    /// The copy zeroizes when dropped.
    pub(crate) fn epoch_age_identity(
        &self,
        epoch: EpochId,
    ) -> Result<age::x25519::Identity, KeyUnavailable> {
        let file = self.keyring.identity(epoch)?.to_identity_file();
        let role = self.keyring.role();
        parse_x25519(&file, Path::new("")).map_err(|_| KeyUnavailable::Unknown { epoch, role })
    }

    /// Makes the identity for `epoch` and stores it, encrypted (in token mode, under a
    /// new token key of its own), in its own file. Does nothing if the epoch has one.
    ///
    /// # Errors
    /// [`KeystoreError::Keyring`] if the epoch was destroyed; I/O and token errors.
    pub fn generate_epoch(&mut self, epoch: EpochId) -> Result<bool, KeystoreError> {
        if self.keyring.identity(epoch).is_ok() {
            return Ok(false);
        }
        if self.tombstones.epochs.contains_key(&epoch.get()) {
            return Err(KeyringError::WasDestroyed(epoch).into());
        }
        let id = EpochIdentity::generate(epoch, self.keyring.role());
        let text = id.to_identity_file();
        let bytes = self.seal(Slot::Epoch(epoch), text.as_bytes())?;
        files::write_atomic(&self.dir.join(epoch_file_name(epoch)), &bytes, true)?;
        self.keyring.insert(id)?;
        Ok(true)
    }

    fn write_tombstones(&self) -> Result<(), KeystoreError> {
        let json =
            serde_json::to_vec_pretty(&self.tombstones).map_err(|_| KeystoreError::Corrupt {
                path: self.dir.join(TOMBSTONES_FILE),
                what: "cannot encode",
            })?;
        files::write_atomic(&self.dir.join(TOMBSTONES_FILE), &json, false)?;
        Ok(())
    }

    /// Destroys the identity for `epoch` (**RET-2**, **RET-4**, **RET-8**, **RET-34**):
    /// records the tombstone durably, zeroizes the identity in memory, destroys its
    /// token key (token mode), overwrites the file's bytes, syncs, unlinks and syncs
    /// the directory. Idempotent; an epoch that never had an identity is tombstoned
    /// too, so none can be made for it.
    ///
    /// # Errors
    /// I/O and token errors. After an error the tombstone may be written and the token
    /// key or the file not yet destroyed; [`Keystore::finish_destructions`], or the
    /// next open, finishes the job.
    pub fn destroy_epoch(
        &mut self,
        epoch: EpochId,
        at: UnixTime,
    ) -> Result<Destroyed, KeystoreError> {
        let previous = self.tombstones.epochs.get(&epoch.get()).copied();
        if previous.is_none() {
            self.tombstones.epochs.insert(epoch.get(), at.seconds());
            if let Err(e) = self.write_tombstones() {
                self.tombstones.epochs.remove(&epoch.get());
                return Err(e);
            }
        }
        self.keyring.destroy(epoch);
        self.unfinished.insert(epoch_file_name(epoch));
        self.finish_destructions()?;
        Ok(Destroyed {
            epoch,
            destroyed_at: UnixTime(previous.unwrap_or(at.seconds())),
            newly: previous.is_none(),
        })
    }

    /// When `epoch` was destroyed, if it was.
    pub fn destroyed_at(&self, epoch: EpochId) -> Option<UnixTime> {
        self.tombstones
            .epochs
            .get(&epoch.get())
            .copied()
            .map(UnixTime)
    }

    /// Makes the identity for legal hold `hold` and stores it like an epoch's.
    ///
    /// # Errors
    /// [`KeystoreError`]; a hold that was destroyed is never re-keyed.
    pub fn create_hold(&mut self, hold: HoldId) -> Result<&HoldIdentity, KeystoreError> {
        let hex = hex::encode(hold.as_bytes());
        if self.tombstones.holds.contains_key(&hex) {
            return Err(KeystoreError::UnknownHold(hold));
        }
        if !self.holds.contains_key(&hold) {
            let identity = age::x25519::Identity::generate();
            let text = identity_text(&identity, "# minimis custodian: legal hold identity");
            let bytes = self.seal(Slot::Hold(hold), text.as_bytes())?;
            files::write_atomic(&self.dir.join(hold_file_name(hold)), &bytes, true)?;
            self.holds.insert(hold, HoldIdentity { hold, identity });
        }
        self.holds
            .get(&hold)
            .ok_or(KeystoreError::UnknownHold(hold))
    }

    /// The identity of legal hold `hold`.
    pub fn hold(&self, hold: HoldId) -> Option<&HoldIdentity> {
        self.holds.get(&hold)
    }

    /// The holds with a live identity.
    pub fn live_holds(&self) -> impl Iterator<Item = HoldId> + '_ {
        self.holds.keys().copied()
    }

    /// Whether hold `hold` was destroyed.
    pub fn hold_destroyed(&self, hold: HoldId) -> bool {
        self.tombstones
            .holds
            .contains_key(&hex::encode(hold.as_bytes()))
    }

    /// Destroys the identity of legal hold `hold` as [`Keystore::destroy_epoch`] does.
    /// Returns whether this call destroyed it.
    ///
    /// # Errors
    /// I/O and token errors.
    pub fn destroy_hold(&mut self, hold: HoldId, at: UnixTime) -> Result<bool, KeystoreError> {
        let hex = hex::encode(hold.as_bytes());
        let newly = !self.tombstones.holds.contains_key(&hex);
        if newly {
            self.tombstones.holds.insert(hex.clone(), at.seconds());
            if let Err(e) = self.write_tombstones() {
                self.tombstones.holds.remove(&hex);
                return Err(e);
            }
        }
        drop(self.holds.remove(&hold));
        self.unfinished.insert(hold_file_name(hold));
        self.finish_destructions()?;
        Ok(newly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> KeystoreSecret {
        KeystoreSecret::Passphrase(Zeroizing::new("correct horse battery staple".into()))
    }

    fn file(secret: KeystoreSecret) -> Protection {
        Protection::File {
            secret,
            work: WorkFactor::below_floor_for_tests(10),
        }
    }

    fn open(dir: &Path) -> Keystore {
        Keystore::open_or_create(dir, &file(secret()), CustodianRole::Agency, "agency").unwrap()
    }

    fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect()
    }

    #[test]
    fn ret_7_keys_are_encrypted_at_rest_and_reopen_with_the_secret_only() {
        let dir = tempfile::tempdir().unwrap();
        let e = EpochId::new(2968);
        let (recipient, signing_public, secret_line) = {
            let mut ks = open(dir.path());
            ks.generate_epoch(e).unwrap();
            let id = ks.epoch(e).unwrap();
            let file = id.to_identity_file();
            let line = file.lines().last().unwrap().to_owned();
            (id.recipient(), ks.signing_key().public_key(), line)
        };
        // Every file is an age file; none holds an identity or a seed in the clear.
        for (path, bytes) in all_bytes(dir.path()) {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name == TOMBSTONES_FILE {
                continue;
            }
            assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{name}");
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("AGE-SECRET-KEY-1"), "{name}");
            assert!(!text.contains(&secret_line), "{name}");
        }
        // The keystore key is protected by scrypt, the others by the keystore key.
        let kek = std::fs::read(dir.path().join(KEK_FILE)).unwrap();
        assert!(String::from_utf8_lossy(&kek).contains("\n-> scrypt "));
        let ks = open(dir.path());
        assert_eq!(ks.epoch(e).unwrap().recipient(), recipient);
        assert_eq!(ks.signing_key().public_key(), signing_public);
        // A wrong passphrase opens nothing.
        let wrong = KeystoreSecret::Passphrase(Zeroizing::new("wrong horse battery staple".into()));
        let err =
            Keystore::open_or_create(dir.path(), &file(wrong), CustodianRole::Agency, "agency")
                .unwrap_err();
        assert!(matches!(err, KeystoreError::WrongSecret { .. }), "{err}");
        // A key file works the same way.
        let kdir = tempfile::tempdir().unwrap();
        let key_file = kdir.path().join("custodian.key");
        KeystoreSecret::make_key_file(&key_file).unwrap();
        let from_file = file(KeystoreSecret::KeyFile(key_file));
        let store = kdir.path().join("ks");
        Keystore::open_or_create(&store, &from_file, CustodianRole::Oversight, "oversight")
            .unwrap()
            .generate_epoch(e)
            .unwrap();
        let again =
            Keystore::open_or_create(&store, &from_file, CustodianRole::Oversight, "oversight")
                .unwrap();
        assert!(again.epoch(e).is_ok());
    }

    #[test]
    fn ret_7_the_files_open_with_the_standard_age_format() {
        // What an auditor does with the age tool: passphrase -> key-encryption identity
        // -> epoch identity file.
        let dir = tempfile::tempdir().unwrap();
        let e = EpochId::new(7);
        let recipient = {
            let mut ks = open(dir.path());
            ks.generate_epoch(e).unwrap();
            ks.epoch(e).unwrap().recipient()
        };
        let mut pass = age::scrypt::Identity::new(SecretString::from(
            "correct horse battery staple".to_owned(),
        ));
        pass.set_max_work_factor(22);
        let kek_text = decrypt(&pass, &dir.path().join(KEK_FILE)).unwrap();
        let kek = age::IdentityFile::from_buffer(kek_text.as_bytes())
            .unwrap()
            .into_identities()
            .unwrap();
        let kek = &kek[0];
        let epoch_text = decrypt(kek.as_ref(), &dir.path().join("epoch-7.age")).unwrap();
        let id = EpochIdentity::from_identity_file(&epoch_text, e, CustodianRole::Agency).unwrap();
        assert_eq!(id.recipient(), recipient);
    }

    #[test]
    fn ret_2_ret_4_ret_8_destruction_leaves_no_trace_and_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let e = EpochId::new(2967);
        let mut ks = open(dir.path());
        ks.generate_epoch(e).unwrap();
        ks.generate_epoch(e.next().unwrap()).unwrap();
        let secret_line = ks
            .epoch(e)
            .unwrap()
            .to_identity_file()
            .lines()
            .last()
            .unwrap()
            .to_owned();
        let before = std::fs::read(dir.path().join("epoch-2967.age")).unwrap();
        let d = ks.destroy_epoch(e, UnixTime(1_000)).unwrap();
        assert!(d.newly);
        assert!(matches!(ks.epoch(e), Err(KeyUnavailable::Destroyed { .. })));
        // Idempotent, and the first time stays.
        let again = ks.destroy_epoch(e, UnixTime(2_000)).unwrap();
        assert!(!again.newly);
        assert_eq!(again.destroyed_at, UnixTime(1_000));
        // Never re-keyed, not even after reopening.
        assert!(matches!(
            ks.generate_epoch(e),
            Err(KeystoreError::Keyring(KeyringError::WasDestroyed(_)))
        ));
        drop(ks);
        let mut ks = open(dir.path());
        assert!(ks.generate_epoch(e).is_err());
        assert_eq!(ks.destroyed_at(e), Some(UnixTime(1_000)));
        assert!(ks.epoch(e.next().unwrap()).is_ok(), "other epochs are kept");
        // No file holds the identity, its encrypted file, or any piece of it.
        assert!(!dir.path().join("epoch-2967.age").exists());
        for (path, bytes) in all_bytes(dir.path()) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret_line), "{}", path.display());
            assert!(
                !bytes
                    .windows(64)
                    .any(|w| before.windows(64).any(|b| b == w)),
                "{} holds bytes of the destroyed file",
                path.display()
            );
        }
    }

    #[test]
    fn ret_8_an_interrupted_destruction_is_finished_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let e = EpochId::new(5);
        {
            let mut ks = open(dir.path());
            ks.generate_epoch(e).unwrap();
        }
        // A crash after the tombstone was written, before the file was scrubbed.
        let mut t = Tombstones::default();
        t.epochs.insert(5, 77);
        std::fs::write(
            dir.path().join(TOMBSTONES_FILE),
            serde_json::to_vec(&t).unwrap(),
        )
        .unwrap();
        assert!(dir.path().join("epoch-5.age").exists());
        let ks = open(dir.path());
        assert!(!dir.path().join("epoch-5.age").exists());
        assert!(matches!(ks.epoch(e), Err(KeyUnavailable::Destroyed { .. })));
    }

    #[test]
    fn seal_9_keystore_debug_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut ks = open(dir.path());
        ks.generate_epoch(EpochId::new(1)).unwrap();
        let hold = ks.create_hold(HoldId::from_bytes([3; 16])).unwrap();
        let line = identity_text(hold.age_identity(), "#")
            .lines()
            .last()
            .unwrap()
            .to_owned();
        let dbg = format!(
            "{ks:?} {hold:?}",
            hold = ks.hold(HoldId::from_bytes([3; 16]))
        );
        assert!(!dbg.contains(&line));
        assert!(!dbg.contains("AGE-SECRET-KEY"));
        let s = format!("{:?}", secret());
        assert!(!s.contains("horse"));
    }

    #[test]
    fn ret_30_hold_identities_are_stored_and_destroyed_like_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let h = HoldId::from_bytes([9; 16]);
        let r = {
            let mut ks = open(dir.path());
            ks.create_hold(h).unwrap().recipient().to_string()
        };
        let mut ks = open(dir.path());
        assert_eq!(ks.hold(h).unwrap().recipient().to_string(), r);
        assert!(ks.destroy_hold(h, UnixTime(5)).unwrap());
        assert!(ks.hold(h).is_none());
        assert!(ks.hold_destroyed(h));
        assert!(ks.create_hold(h).is_err(), "never re-keyed");
        drop(ks);
        let ks = open(dir.path());
        assert!(ks.hold(h).is_none());
        assert_eq!(ks.live_holds().count(), 0);
    }

    #[test]
    fn ret_37_weak_passphrases_and_short_key_files_are_refused_and_nothing_is_written() {
        for weak in [
            "",
            "hunter2",
            "Tr0ub4dor&3",
            "password1234567890",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            "minimis custodian keystore",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let ks = dir.path().join("ks");
            let p = file(KeystoreSecret::Passphrase(Zeroizing::new(weak.into())));
            let err =
                Keystore::open_or_create(&ks, &p, CustodianRole::Agency, "agency").unwrap_err();
            assert!(
                matches!(
                    err,
                    KeystoreError::WeakPassphrase { .. } | KeystoreError::EmptySecret
                ),
                "{weak:?}: {err}"
            );
            assert!(
                std::fs::read_dir(&ks).map_or(true, |mut d| d.next().is_none()),
                "{weak:?}: a refused secret writes nothing"
            );
        }
        for strong in [
            "correct horse battery staple",
            "yellow-kettle-ninety-quartz-bramble",
            "kdh2-pq9x-mm3a-77ty",
        ] {
            check_passphrase(strong).unwrap();
        }
        // A key file needs 32 bytes.
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, [7u8; 31]).unwrap();
        let err = Keystore::open_or_create(
            &dir.path().join("ks"),
            &file(KeystoreSecret::KeyFile(short)),
            CustodianRole::Agency,
            "agency",
        )
        .unwrap_err();
        assert!(matches!(err, KeystoreError::EmptySecret), "{err}");
    }

    #[test]
    fn ret_38_scrypt_below_the_floor_is_refused_and_the_floor_is_what_is_written() {
        for n in [0, 10, 14, 23] {
            assert!(matches!(
                WorkFactor::new(n),
                Err(KeystoreError::WorkFactor(m)) if m == n
            ));
        }
        let floor = WorkFactor::new(WorkFactor::FLOOR).unwrap();
        let dir = tempfile::tempdir().unwrap();
        Keystore::open_or_create(
            dir.path(),
            &Protection::File {
                secret: secret(),
                work: floor,
            },
            CustodianRole::Agency,
            "agency",
        )
        .unwrap();
        let kek = std::fs::read(dir.path().join(KEK_FILE)).unwrap();
        assert_eq!(scrypt_work_factor(&kek), Some(15));
    }

    #[test]
    fn ret_39_rotation_moves_every_key_under_a_new_secret_and_scrubs_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let ks_dir = dir.path().join("data").join("keystore");
        let (old_key, new_key) = (dir.path().join("old.key"), dir.path().join("new.key"));
        KeystoreSecret::make_key_file(&old_key).unwrap();
        KeystoreSecret::make_key_file(&new_key).unwrap();
        let old = file(KeystoreSecret::KeyFile(old_key.clone()));
        let new = file(KeystoreSecret::KeyFile(new_key.clone()));
        let (e, h) = (EpochId::new(2968), HoldId::from_bytes([4; 16]));
        let (recipient, signing, hold) = {
            let mut ks =
                Keystore::open_or_create(&ks_dir, &old, CustodianRole::Oversight, "o").unwrap();
            ks.generate_epoch(e).unwrap();
            ks.destroy_epoch(EpochId::new(2960), UnixTime(5)).unwrap();
            ks.witness_key().unwrap();
            let hold = ks.create_hold(h).unwrap().recipient().to_string();
            (
                ks.epoch(e).unwrap().recipient(),
                ks.signing_key().public_key(),
                hold,
            )
        };
        let before = std::fs::read(ks_dir.join(KEK_FILE)).unwrap();
        Keystore::rotate(&ks_dir, &old, &new, CustodianRole::Oversight, "o").unwrap();
        // The old key file is scrubbed; the new secret opens the same keys.
        assert!(!old_key.exists());
        let ks = Keystore::open_or_create(&ks_dir, &new, CustodianRole::Oversight, "o").unwrap();
        assert_eq!(ks.epoch(e).unwrap().recipient(), recipient);
        assert_eq!(ks.signing_key().public_key(), signing);
        assert_eq!(ks.hold(h).unwrap().recipient().to_string(), hold);
        assert_eq!(ks.destroyed_at(EpochId::new(2960)), Some(UnixTime(5)));
        // A fresh key-encryption identity: no file is the old one, nothing is left over.
        let after = std::fs::read(ks_dir.join(KEK_FILE)).unwrap();
        assert_ne!(after, before);
        let (next, old_dir) = rotation_dirs(&ks_dir);
        assert!(!next.exists() && !old_dir.exists());
        // The old secret opens nothing now (it no longer exists; a copy of it would not
        // open the new files either).
        let stale = dir.path().join("stale.key");
        KeystoreSecret::make_key_file(&stale).unwrap();
        assert!(matches!(
            Keystore::open_or_create(
                &ks_dir,
                &file(KeystoreSecret::KeyFile(stale)),
                CustodianRole::Oversight,
                "o"
            ),
            Err(KeystoreError::WrongSecret { .. })
        ));
        // Refused: the same key file, a token back to files.
        assert!(matches!(
            Keystore::rotate(
                &ks_dir,
                &new,
                &file(KeystoreSecret::KeyFile(new_key.clone())),
                CustodianRole::Oversight,
                "o"
            ),
            Err(KeystoreError::Rotation(_))
        ));
    }

    #[test]
    fn ret_39_a_rotation_interrupted_by_a_crash_leaves_one_whole_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let ks_dir = dir.path().join("keystore");
        let e = EpochId::new(9);
        let recipient = {
            let mut ks = open(&ks_dir);
            ks.generate_epoch(e).unwrap();
            ks.epoch(e).unwrap().recipient()
        };
        let (next, old) = rotation_dirs(&ks_dir);
        // Before the swap: a half-written new keystore is scrubbed, the old one kept.
        std::fs::create_dir_all(&next).unwrap();
        std::fs::write(next.join("epoch-9.age"), b"half").unwrap();
        assert_eq!(open(&ks_dir).epoch(e).unwrap().recipient(), recipient);
        assert!(!next.exists());
        // Between the renames: the new keystore (complete) is put in place.
        std::fs::rename(&ks_dir, &next).unwrap();
        assert_eq!(open(&ks_dir).epoch(e).unwrap().recipient(), recipient);
        assert!(!next.exists());
        // After the swap: the old copy is scrubbed.
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("keystore.age"), b"old").unwrap();
        open(&ks_dir);
        assert!(!old.exists());
    }

    #[test]
    fn ret_34_a_file_keystore_is_not_opened_as_a_token_one() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path());
        let token = Protection::Token(TokenConfig {
            module: PathBuf::from("no-such-module.so"),
            token: "t".into(),
            pin: PinSource::Env("MINIMIS_NO_SUCH_PIN".into()),
        });
        assert!(matches!(
            Keystore::open_or_create(dir.path(), &token, CustodianRole::Agency, "agency"),
            Err(KeystoreError::ModeMismatch { found: "file", .. })
        ));
    }
}
