//! The keystore: a custodian's only copy of its keys, encrypted at rest (**RET-4**,
//! **RET-7**, **RET-8**).
//!
//! ```text
//! keystore/
//!   keystore.age          the key-encryption identity (X25519), as an age file encrypted
//!                         with the keystore secret under scrypt (RFC 7914), log2(N) >= 15
//!   signing.age           the custodian's Ed25519 seed        } each an age file
//!   witness.age           the witness's Ed25519 seed (oversight) } encrypted to the
//!   epoch-<n>.age         one epoch identity (SEAL-8 format)   } key-encryption
//!   hold-<hold id>.age    one legal hold's identity            } identity's recipient
//!   tombstones.json       which epochs and holds were destroyed, and when (public)
//! ```
//!
//! Every file is a standard age file: with the secret, `age -d keystore.age` gives the
//! key-encryption identity and `age -d -i <it> epoch-2968.age` the epoch identity, so an
//! auditor can check the format with tools we did not write. The key-encryption identity
//! is held in memory only while the keystore is opened; afterwards the custodian keeps
//! only its public recipient, to encrypt the identities it makes later.
//!
//! Destruction ([`Keystore::destroy_epoch`]) writes the tombstone first (the commit
//! point: an epoch with a tombstone is never keyed again, and a destruction interrupted
//! after it is finished on the next open), then zeroizes the identity in memory, then
//! overwrites the file's bytes, syncs it, unlinks it and syncs the directory.

use std::collections::BTreeMap;
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

/// The smallest scrypt work factor (log2 N) a keystore accepts.
pub const MIN_SCRYPT_LOG_N: u8 = 10;
/// The work factor used unless configured: about a second on a current server core.
pub const DEFAULT_SCRYPT_LOG_N: u8 = 18;
/// The largest work factor a keystore file may demand when opened (bounds the work a
/// corrupted file can cause).
const MAX_SCRYPT_LOG_N: u8 = 22;

const KEK_FILE: &str = "keystore.age";
const SIGNING_FILE: &str = "signing.age";
const WITNESS_FILE: &str = "witness.age";
const TOMBSTONES_FILE: &str = "tombstones.json";

/// Where the keystore secret comes from. Both go through scrypt.
pub enum KeystoreSecret {
    /// A passphrase (from an environment variable, a prompt or a credentials file).
    Passphrase(Zeroizing<String>),
    /// A key file: its bytes, base64-encoded, are the passphrase. It must live on other
    /// storage than the keystore (a removable token, a TPM-sealed or tmpfs credential).
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

impl KeystoreSecret {
    fn passphrase(&self) -> Result<SecretString, KeystoreError> {
        use base64::Engine as _;
        match self {
            Self::Passphrase(p) => {
                if p.is_empty() {
                    return Err(KeystoreError::EmptySecret);
                }
                Ok(SecretString::from(p.as_str().to_owned()))
            }
            Self::KeyFile(path) => {
                let bytes = Zeroizing::new(std::fs::read(path).map_err(files::io(path))?);
                if bytes.len() < 16 {
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
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(files::io(dir))?;
            }
        }
        let bytes = Zeroizing::new(minimis_crypto::random_bytes::<32>()?);
        files::write_atomic(path, &*bytes, true)?;
        Ok(())
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
    #[error("{path}: cannot be decrypted with the keystore secret (wrong passphrase or key file?)")]
    WrongSecret {
        /// The file.
        path: PathBuf,
    },
    /// An empty passphrase, or a key file shorter than 16 bytes.
    #[error("the keystore secret is empty or too short")]
    EmptySecret,
    /// A decrypted file does not hold what its name says.
    #[error("{path}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The scrypt work factor is below [`MIN_SCRYPT_LOG_N`] or above 22.
    #[error("the scrypt work factor log2(N) = {0} is outside {MIN_SCRYPT_LOG_N}..=22")]
    WorkFactor(u8),
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

/// A custodian's keystore, opened. See the module docs.
pub struct Keystore {
    dir: PathBuf,
    kek: age::x25519::Recipient,
    signing: SigningKey,
    witness: Option<SigningKey>,
    keyring: EpochKeyring,
    holds: BTreeMap<HoldId, HoldIdentity>,
    tombstones: Tombstones,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore")
            .field("dir", &self.dir)
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

fn decrypt(identity: &dyn age::Identity, path: &Path) -> Result<Zeroizing<String>, KeystoreError> {
    let bytes = std::fs::read(path).map_err(files::io(path))?;
    let wrong = || KeystoreError::WrongSecret {
        path: path.to_owned(),
    };
    let d = age::Decryptor::new_buffered(&bytes[..]).map_err(|_| wrong())?;
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

impl Keystore {
    /// Opens the keystore in `dir` with `secret`, or creates it (with a fresh
    /// key-encryption identity and signing key) if `dir` holds none. `scrypt_log_n` is
    /// the work factor for a new keystore.
    ///
    /// Finishes any destruction a crash interrupted (a tombstone whose file is still
    /// there) and removes leftover temporary files.
    ///
    /// # Errors
    /// [`KeystoreError`]; [`KeystoreError::WrongSecret`] for a wrong secret.
    pub fn open_or_create(
        dir: &Path,
        secret: &KeystoreSecret,
        role: CustodianRole,
        custodian_id: &str,
        scrypt_log_n: u8,
    ) -> Result<Self, KeystoreError> {
        if !(MIN_SCRYPT_LOG_N..=MAX_SCRYPT_LOG_N).contains(&scrypt_log_n) {
            return Err(KeystoreError::WorkFactor(scrypt_log_n));
        }
        files::make_private_dir(dir)?;
        let passphrase = secret.passphrase()?;
        let kek_path = dir.join(KEK_FILE);
        let kek = if kek_path.exists() {
            let mut id = age::scrypt::Identity::new(passphrase);
            id.set_max_work_factor(MAX_SCRYPT_LOG_N);
            let text = decrypt(&id, &kek_path)?;
            parse_x25519(&text, &kek_path)?
        } else {
            let kek = age::x25519::Identity::generate();
            let mut r = age::scrypt::Recipient::new(passphrase);
            r.set_work_factor(scrypt_log_n);
            let text = identity_text(
                &kek,
                "# minimis custodian keystore: key-encryption identity",
            );
            files::write_atomic(&kek_path, &encrypt(&r, text.as_bytes())?, true)?;
            kek
        };
        let recipient = kek.to_public();

        // Leftover temporary files of an interrupted write hold no more than the files
        // themselves would (they are encrypted the same way); remove them.
        for entry in std::fs::read_dir(dir).map_err(files::io(dir))? {
            let path = entry.map_err(files::io(dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                files::scrub_and_unlink(&path)?;
            }
        }

        let signing_path = dir.join(SIGNING_FILE);
        let signing = if signing_path.exists() {
            parse_seed(&decrypt(&kek, &signing_path)?, &signing_path)?
        } else {
            let key = SigningKey::generate()?;
            files::write_atomic(
                &signing_path,
                &encrypt(&recipient, seed_text(&key).as_bytes())?,
                true,
            )?;
            key
        };
        let witness_path = dir.join(WITNESS_FILE);
        let witness = if witness_path.exists() {
            Some(parse_seed(&decrypt(&kek, &witness_path)?, &witness_path)?)
        } else {
            None
        };

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

        let mut keyring = EpochKeyring::new(role, custodian_id);
        for &e in tombstones.epochs.keys() {
            let epoch = EpochId::new(e);
            keyring.destroy(epoch);
            // Finish a destruction interrupted after its tombstone was written.
            files::scrub_and_unlink(&dir.join(epoch_file_name(epoch)))?;
        }
        for h in tombstones.holds.keys() {
            files::scrub_and_unlink(&dir.join(format!("hold-{h}.age")))?;
        }
        let mut holds = BTreeMap::new();
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
                let text = decrypt(&kek, &path)?;
                let id = EpochIdentity::from_identity_file(&text, EpochId::new(n), role).map_err(
                    |_| KeystoreError::Corrupt {
                        path: path.clone(),
                        what: "not an age identity file",
                    },
                )?;
                keyring.insert(id)?;
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
                let identity = parse_x25519(&decrypt(&kek, &path)?, &path)?;
                holds.insert(hold, HoldIdentity { hold, identity });
            }
        }
        // `kek` (the secret key-encryption identity) is dropped, and zeroized, here.
        Ok(Self {
            dir: dir.to_owned(),
            kek: recipient,
            signing,
            witness,
            keyring,
            holds,
            tombstones,
        })
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
            files::write_atomic(
                &self.dir.join(WITNESS_FILE),
                &encrypt(&self.kek, seed_text(&key).as_bytes())?,
                true,
            )?;
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

    /// Makes the identity for `epoch` and stores it, encrypted, in its own file. Does
    /// nothing if the epoch has one.
    ///
    /// # Errors
    /// [`KeystoreError::Keyring`] if the epoch was destroyed; I/O errors.
    pub fn generate_epoch(&mut self, epoch: EpochId) -> Result<bool, KeystoreError> {
        if self.keyring.identity(epoch).is_ok() {
            return Ok(false);
        }
        if self.tombstones.epochs.contains_key(&epoch.get()) {
            return Err(KeyringError::WasDestroyed(epoch).into());
        }
        let id = EpochIdentity::generate(epoch, self.keyring.role());
        let text = id.to_identity_file();
        files::write_atomic(
            &self.dir.join(epoch_file_name(epoch)),
            &encrypt(&self.kek, text.as_bytes())?,
            true,
        )?;
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

    /// Destroys the identity for `epoch` (**RET-2**, **RET-4**, **RET-8**): records the
    /// tombstone durably, zeroizes the identity in memory, overwrites the file's bytes,
    /// syncs, unlinks and syncs the directory. Idempotent; an epoch that never had an
    /// identity is tombstoned too, so none can be made for it.
    ///
    /// # Errors
    /// I/O errors. After an error the tombstone may be written and the file not yet
    /// scrubbed; the next call, or the next open, finishes the job.
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
        files::scrub_and_unlink(&self.dir.join(epoch_file_name(epoch)))?;
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
            files::write_atomic(
                &self.dir.join(hold_file_name(hold)),
                &encrypt(&self.kek, text.as_bytes())?,
                true,
            )?;
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
    /// I/O errors.
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
        files::scrub_and_unlink(&self.dir.join(hold_file_name(hold)))?;
        Ok(newly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> KeystoreSecret {
        KeystoreSecret::Passphrase(Zeroizing::new("correct horse battery staple".into()))
    }

    fn open(dir: &Path) -> Keystore {
        Keystore::open_or_create(dir, &secret(), CustodianRole::Agency, "agency", 10).unwrap()
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
        let wrong = KeystoreSecret::Passphrase(Zeroizing::new("wrong".into()));
        let err = Keystore::open_or_create(dir.path(), &wrong, CustodianRole::Agency, "agency", 10)
            .unwrap_err();
        assert!(matches!(err, KeystoreError::WrongSecret { .. }), "{err}");
        // A key file works the same way.
        let kdir = tempfile::tempdir().unwrap();
        let key_file = kdir.path().join("custodian.key");
        KeystoreSecret::make_key_file(&key_file).unwrap();
        let from_file = KeystoreSecret::KeyFile(key_file);
        let store = kdir.path().join("ks");
        Keystore::open_or_create(
            &store,
            &from_file,
            CustodianRole::Oversight,
            "oversight",
            10,
        )
        .unwrap()
        .generate_epoch(e)
        .unwrap();
        let again = Keystore::open_or_create(
            &store,
            &from_file,
            CustodianRole::Oversight,
            "oversight",
            10,
        )
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
}
