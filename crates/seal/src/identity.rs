//! Epoch identities (custodian side): one X25519 age identity per custodian per epoch.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr as _;

use age::secrecy::ExposeSecret as _;
use minimis_crypto::SigningKey;
use minimis_proto::{CustodianRole, EpochId, EpochRecipient, SignedEpochRecipient, UnixTime};
use zeroize::Zeroizing;

/// One custodian's age identity for one epoch.
///
/// Secret: the X25519 scalar zeroizes on drop (x25519-dalek's `StaticSecret`); `Debug`
/// shows only the epoch, the role and the public recipient; no `Clone`, `Display` or
/// `Serialize` (**SEAL-9**).
pub struct EpochIdentity {
    epoch: EpochId,
    role: CustodianRole,
    identity: age::x25519::Identity,
}

/// Why an identity file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityFileError {
    /// No `AGE-SECRET-KEY-1…` line.
    #[error("the file holds no age identity")]
    Missing,
    /// More than one identity line.
    #[error("the file holds more than one age identity")]
    Several,
    /// A line that is neither a comment, blank, nor a valid X25519 identity.
    #[error("line {line} is not a valid age X25519 identity")]
    Invalid {
        /// 1-based line number.
        line: usize,
    },
}

impl EpochIdentity {
    /// A fresh identity from the system CSPRNG.
    pub fn generate(epoch: EpochId, role: CustodianRole) -> Self {
        Self {
            epoch,
            role,
            identity: age::x25519::Identity::generate(),
        }
    }

    /// The epoch.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }

    /// The custodian role.
    pub fn role(&self) -> CustodianRole {
        self.role
    }

    /// The public recipient, `age1…`.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    pub(crate) fn age_identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The identity in the standard age identity-file format (**SEAL-8**): comment lines
    /// and one `AGE-SECRET-KEY-1…` line, as `age-keygen` writes. This is the secret key:
    /// custodians never write it anywhere but their own keystore (**RET-4**); the demo
    /// exports it only for live epochs so that anyone can check the format.
    pub fn to_identity_file(&self) -> Zeroizing<String> {
        use std::fmt::Write as _;
        let secret = self.identity.to_string();
        // Sized up front so that the buffer holding the secret is never reallocated
        // (a reallocation would leave a copy behind that is not zeroized).
        let mut out = Zeroizing::new(String::with_capacity(256));
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# minimis epoch identity: {} custodian, epoch {}\n# public key: {}\n{}\n",
            self.role,
            self.epoch,
            self.recipient(),
            secret.expose_secret()
        );
        out
    }

    /// Reads an identity file (comments and blank lines allowed, exactly one identity).
    ///
    /// # Errors
    /// [`IdentityFileError`].
    pub fn from_identity_file(
        text: &str,
        epoch: EpochId,
        role: CustodianRole,
    ) -> Result<Self, IdentityFileError> {
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
        let identity = found.ok_or(IdentityFileError::Missing)?;
        Ok(Self {
            epoch,
            role,
            identity,
        })
    }
}

impl fmt::Debug for EpochIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochIdentity")
            .field("epoch", &self.epoch)
            .field("role", &self.role)
            .field("recipient", &self.recipient())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why an epoch's identity is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyUnavailable {
    /// It was destroyed: the epoch's content is erased (**RET-2**).
    #[error("the {role} key for epoch {epoch} was destroyed")]
    Destroyed {
        /// The epoch.
        epoch: EpochId,
        /// Whose key.
        role: CustodianRole,
    },
    /// This keyring never held it.
    #[error("the {role} custodian has no key for epoch {epoch}")]
    Unknown {
        /// The epoch.
        epoch: EpochId,
        /// Whose key.
        role: CustodianRole,
    },
}

/// Why a keyring operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The epoch already has an identity; a second one is never made.
    #[error("epoch {0} already has an identity")]
    AlreadyExists(EpochId),
    /// The epoch's identity was destroyed; it is never re-created.
    #[error("epoch {0} was destroyed and cannot be re-keyed")]
    WasDestroyed(EpochId),
    /// The identity is not available.
    #[error(transparent)]
    Unavailable(#[from] KeyUnavailable),
    /// The identity given belongs to another custodian role.
    #[error("identity is for the {found} custodian, not {expected}")]
    WrongRole {
        /// This keyring's role.
        expected: CustodianRole,
        /// The identity's role.
        found: CustodianRole,
    },
}

/// What [`EpochKeyring::destroy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destruction {
    /// The identity was zeroized and dropped now.
    Destroyed,
    /// It had been destroyed before; nothing changed.
    AlreadyDestroyed,
    /// There was never an identity for this epoch; it is now marked destroyed so none can
    /// be made.
    NeverExisted,
}

/// One custodian's epoch identities, in memory. The key-custodian service keeps them in
/// an encrypted keystore; this type holds the rules: one identity per epoch, never
/// re-keyed, destruction is final.
pub struct EpochKeyring {
    role: CustodianRole,
    custodian_id: String,
    live: BTreeMap<EpochId, EpochIdentity>,
    destroyed: BTreeSet<EpochId>,
}

impl EpochKeyring {
    /// An empty keyring for the custodian `custodian_id` with `role`.
    pub fn new(role: CustodianRole, custodian_id: impl Into<String>) -> Self {
        Self {
            role,
            custodian_id: custodian_id.into(),
            live: BTreeMap::new(),
            destroyed: BTreeSet::new(),
        }
    }

    /// The custodian's role.
    pub fn role(&self) -> CustodianRole {
        self.role
    }

    /// The custodian's id in the policy.
    pub fn custodian_id(&self) -> &str {
        &self.custodian_id
    }

    /// Makes the identity for `epoch`.
    ///
    /// # Errors
    /// [`KeyringError::AlreadyExists`] or [`KeyringError::WasDestroyed`].
    pub fn generate(&mut self, epoch: EpochId) -> Result<&EpochIdentity, KeyringError> {
        self.insert(EpochIdentity::generate(epoch, self.role))?;
        self.identity(epoch).map_err(KeyringError::from)
    }

    /// Adds an identity read from storage.
    ///
    /// # Errors
    /// [`KeyringError`] if the epoch has or had one, or the role differs.
    pub fn insert(&mut self, identity: EpochIdentity) -> Result<(), KeyringError> {
        let epoch = identity.epoch();
        if identity.role() != self.role {
            return Err(KeyringError::WrongRole {
                expected: self.role,
                found: identity.role(),
            });
        }
        if self.destroyed.contains(&epoch) {
            return Err(KeyringError::WasDestroyed(epoch));
        }
        if self.live.contains_key(&epoch) {
            return Err(KeyringError::AlreadyExists(epoch));
        }
        self.live.insert(epoch, identity);
        Ok(())
    }

    /// The identity for `epoch`.
    ///
    /// # Errors
    /// [`KeyUnavailable::Destroyed`] after destruction, [`KeyUnavailable::Unknown`] if it
    /// never existed here.
    pub fn identity(&self, epoch: EpochId) -> Result<&EpochIdentity, KeyUnavailable> {
        if let Some(id) = self.live.get(&epoch) {
            return Ok(id);
        }
        if self.destroyed.contains(&epoch) {
            Err(KeyUnavailable::Destroyed {
                epoch,
                role: self.role,
            })
        } else {
            Err(KeyUnavailable::Unknown {
                epoch,
                role: self.role,
            })
        }
    }

    /// Signs this custodian's recipient for `epoch`, valid until `not_after` (**SEAL-7**).
    ///
    /// # Errors
    /// [`KeyringError::Unavailable`] if there is no live identity for the epoch.
    pub fn publish(
        &self,
        epoch: EpochId,
        not_after: UnixTime,
        signing_key: &SigningKey,
    ) -> Result<SignedEpochRecipient, KeyringError> {
        let identity = self.identity(epoch)?;
        Ok(minimis_crypto::sign_epoch_recipient(
            signing_key,
            EpochRecipient {
                epoch,
                custodian: self.custodian_id.clone(),
                role: self.role,
                recipient: identity.recipient(),
                not_after,
            },
        ))
    }

    /// Destroys the identity for `epoch`: the secret scalar is zeroized as it is dropped,
    /// and the epoch can never be keyed again (**RET-2**). Idempotent.
    pub fn destroy(&mut self, epoch: EpochId) -> Destruction {
        let newly_marked = self.destroyed.insert(epoch);
        match self.live.remove(&epoch) {
            Some(identity) => {
                drop(identity);
                Destruction::Destroyed
            }
            None if newly_marked => Destruction::NeverExisted,
            None => Destruction::AlreadyDestroyed,
        }
    }

    /// Epochs with a live identity, oldest first.
    pub fn live_epochs(&self) -> impl Iterator<Item = EpochId> + '_ {
        self.live.keys().copied()
    }

    /// Epochs destroyed, oldest first.
    pub fn destroyed_epochs(&self) -> impl Iterator<Item = EpochId> + '_ {
        self.destroyed.iter().copied()
    }
}

impl fmt::Debug for EpochKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochKeyring")
            .field("role", &self.role)
            .field("custodian_id", &self.custodian_id)
            .field("live", &self.live.keys().collect::<Vec<_>>())
            .field("destroyed", &self.destroyed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_8_identity_file_round_trips_and_parses_with_age() {
        let id = EpochIdentity::generate(EpochId::new(9), CustodianRole::Agency);
        let file = id.to_identity_file();
        assert!(file.contains("\nAGE-SECRET-KEY-1"));
        let back = EpochIdentity::from_identity_file(&file, EpochId::new(9), CustodianRole::Agency)
            .unwrap();
        assert_eq!(back.recipient(), id.recipient());
        // age's own identity-file parser reads it too.
        let parsed = age::IdentityFile::from_buffer(file.as_bytes()).unwrap();
        assert_eq!(parsed.into_identities().unwrap().len(), 1);
    }

    #[test]
    fn seal_8_bad_identity_files_are_refused() {
        let e = EpochId::new(1);
        let r = CustodianRole::Agency;
        assert_eq!(
            EpochIdentity::from_identity_file("# nothing\n", e, r).unwrap_err(),
            IdentityFileError::Missing
        );
        assert_eq!(
            EpochIdentity::from_identity_file("# c\nAGE-SECRET-KEY-1XYZ\n", e, r).unwrap_err(),
            IdentityFileError::Invalid { line: 2 }
        );
        let one = EpochIdentity::generate(e, r).to_identity_file();
        let two = format!("{}{}", *one, *one);
        assert_eq!(
            EpochIdentity::from_identity_file(&two, e, r).unwrap_err(),
            IdentityFileError::Several
        );
    }

    #[test]
    fn seal_9_identity_debug_is_redacted() {
        let id = EpochIdentity::generate(EpochId::new(3), CustodianRole::Oversight);
        let file = id.to_identity_file();
        let secret_line = file.lines().last().unwrap();
        let dbg = format!("{id:?}");
        assert!(!dbg.contains(secret_line), "{dbg}");
        assert!(
            !dbg.to_lowercase()
                .contains(&secret_line.to_lowercase()[16..40])
        );
        assert!(dbg.contains("redacted"));
        // Debug is not empty either: it shows what is public (epoch, role, recipient).
        assert!(
            dbg.contains(&id.recipient()) && dbg.contains("Oversight"),
            "{dbg}"
        );
        let ring = {
            let mut k = EpochKeyring::new(CustodianRole::Oversight, "o");
            k.insert(id).unwrap();
            k.destroy(EpochId::new(2));
            format!("{k:?}")
        };
        assert!(!ring.contains(&secret_line[16..40]));
        // The keyring's Debug shows its role, id and which epochs are live or destroyed.
        for public in [
            "Oversight",
            "\"o\"",
            "live: [EpochId(3)]",
            "destroyed: {EpochId(2)}",
        ] {
            assert!(ring.contains(public), "{public} in {ring}");
        }
    }

    #[test]
    fn ret_2_destruction_is_final() {
        let mut ring = EpochKeyring::new(CustodianRole::Agency, "agency");
        let e = EpochId::new(4);
        ring.generate(e).unwrap();
        assert_eq!(
            ring.generate(e).unwrap_err(),
            KeyringError::AlreadyExists(e)
        );
        assert_eq!(ring.destroy(e), Destruction::Destroyed);
        assert_eq!(ring.destroy(e), Destruction::AlreadyDestroyed);
        assert_eq!(
            ring.identity(e).unwrap_err(),
            KeyUnavailable::Destroyed {
                epoch: e,
                role: CustodianRole::Agency
            }
        );
        assert_eq!(ring.generate(e).unwrap_err(), KeyringError::WasDestroyed(e));
        let key = SigningKey::generate().unwrap();
        assert!(matches!(
            ring.publish(e, UnixTime(0), &key),
            Err(KeyringError::Unavailable(KeyUnavailable::Destroyed { .. }))
        ));
        assert_eq!(ring.destroy(EpochId::new(5)), Destruction::NeverExisted);
        assert_eq!(
            ring.generate(EpochId::new(5)).unwrap_err(),
            KeyringError::WasDestroyed(EpochId::new(5))
        );
    }

    #[test]
    fn ret_2_keyring_lists_live_and_destroyed_epochs() {
        // What the custodian service reads to report and to schedule destruction.
        let mut ring = EpochKeyring::new(CustodianRole::Oversight, "oversight");
        assert_eq!(ring.role(), CustodianRole::Oversight);
        assert_eq!(ring.custodian_id(), "oversight");
        for e in [4, 6, 7] {
            ring.generate(EpochId::new(e)).unwrap();
        }
        ring.destroy(EpochId::new(6));
        ring.destroy(EpochId::new(5));
        assert_eq!(
            ring.live_epochs().collect::<Vec<_>>(),
            [EpochId::new(4), EpochId::new(7)]
        );
        assert_eq!(
            ring.destroyed_epochs().collect::<Vec<_>>(),
            [EpochId::new(5), EpochId::new(6)]
        );
    }

    #[test]
    fn keyring_refuses_the_other_role() {
        let mut ring = EpochKeyring::new(CustodianRole::Agency, "agency");
        let id = EpochIdentity::generate(EpochId::new(1), CustodianRole::Oversight);
        assert!(matches!(
            ring.insert(id),
            Err(KeyringError::WrongRole { .. })
        ));
    }
}
