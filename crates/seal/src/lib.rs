//! # minimis-seal: sealing check-ins to epoch keys, and erasing them by destroying keys
//!
//! A check-in payload is sealed on the participant's device as **standard age v1 files,
//! nested** (**SEAL-1**, **SEAL-2**): the inner file to the agency custodian's X25519
//! recipient for the current epoch, the outer file to the oversight custodian's. Opening
//! takes both custodians' identities for that epoch (**SEAL-10**); a policy with one
//! custodian gives one layer (**SEAL-3**). When either custodian destroys its identity
//! for an epoch, every copy of that epoch's content, backups included, can no longer be
//! opened by anyone (**RET-2**, **RET-3**). Spec: `spec/sealing.md`, `spec/retention.md`.
//!
//! The obligations' messages (`spec/obligations.md`) are sealed here too: condition results
//! and filings to the agency's per-enrollment [`CaseIdentity`], deliveries to the device's
//! per-epoch [`InboxIdentity`] ([`seal_condition`], [`seal_filing`], [`seal_delivery`]).
//!
//! **Trust domain:** the participant's device (sealing: [`SealingKeys`], [`seal`]) and
//! the key custodians (identities: [`EpochKeyring`], [`open`]). **Never linked by the
//! operator's server**, which has no code path that decrypts: **SEAL-11**'s tests check
//! the operator crates' dependency tree (`cargo tree`) and the parts of `ring` their own
//! code uses. **Never holds:** precise location, images or templates; there
//! is nothing in a payload to hold them (`minimis-proto`).
//!
//! Any conforming age implementation opens the files given the identity files this crate
//! writes ([`EpochIdentity::to_identity_file`], **SEAL-8**): `age -d -i oversight.txt
//! record.age | age -d -i agency.txt` yields the 512-byte payload.
//!
//! ```
//! use minimis_crypto::SigningKey;
//! use minimis_proto::*;
//! use minimis_seal::{CustodianKeys, EpochKeyring, SealingKeys, open, seal};
//!
//! let policy = default_policy();
//! let now = UnixTime(1_795_651_200);
//! let epoch = policy.epoch_at(now).unwrap();
//! // Each custodian makes its epoch identity and signs its recipient.
//! let (agency_key, oversight_key) = (SigningKey::generate()?, SigningKey::generate()?);
//! let mut agency = EpochKeyring::new(CustodianRole::Agency, "agency");
//! let mut oversight = EpochKeyring::new(CustodianRole::Oversight, "oversight");
//! agency.generate(epoch)?;
//! oversight.generate(epoch)?;
//! let not_after = policy.epoch_end(epoch);
//! let published = [
//!     agency.publish(epoch, not_after, &agency_key)?,
//!     oversight.publish(epoch, not_after, &oversight_key)?,
//! ];
//! // The device checks the custodians' signatures before sealing (SEAL-7).
//! let custodians = CustodianKeys {
//!     agency: agency_key.public_key(),
//!     oversight: Some(oversight_key.public_key()),
//! };
//! let keys = SealingKeys::verify(&policy, now, &published, &custodians)?;
//! let payload = CheckInPayload {
//!     challenge_id: ChallengeId::from_bytes([1; 16]),
//!     zone: ZoneResult::Inside,
//!     presence: PresenceResult::Confirmed,
//!     device_time: now,
//!     note: Note::empty(),
//! };
//! let sealed = seal(&payload, &keys)?;
//! let opened = open(&sealed, epoch, &agency, Some(&oversight), policy.max_note_bytes())?;
//! assert_eq!(opened, payload);
//! // Destroying either custodian's key erases the epoch.
//! oversight.destroy(epoch);
//! assert!(open(&sealed, epoch, &agency, Some(&oversight), 280).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod identity;
mod obligations;
mod open;
mod sealing;

pub use identity::{
    Destruction, EpochIdentity, EpochKeyring, IdentityFileError, KeyUnavailable, KeyringError,
};
pub use obligations::{
    CaseIdentity, CaseRecipient, InboxIdentity, InboxRecipient, InvalidRecipient, OpenSealedError,
    OpenedDelivery, ReviewIdentity, ReviewRecipient, SealObligationError, open_condition,
    open_delivery, open_filing_as_agency, open_filing_as_oversight, seal_condition, seal_delivery,
    seal_filing,
};
pub use open::{InnerCiphertext, LayerFailure, OpenError, open, open_inner, remove_outer};
pub use sealing::{CustodianKeys, RecipientError, SealError, SealingKeys, seal, seal_envelope};

#[cfg(test)]
mod tests;
