//! The fixed keys every fuzz target verifies against, and the seed generator signs with.
//!
//! They are public test keys: the log's and the witness's are the ones `spec/log.md`
//! quotes its example artifacts under, the device's, the operator's and the oversight
//! custodian's are those of `spec/vectors/`, so those artifacts verify in the targets as
//! they are. A seed signed with them reaches past the signature check, and the fuzzer's
//! mutations of it explore what lies behind.

use std::str::FromStr as _;
use std::sync::LazyLock;

use minimis_crypto::{SigningKey, TagKey};
use minimis_log::{Cosigner, KeyName, NoteSigner, VerifierKey};
use minimis_proto::{CustodianRole, EpochId, Pseudonym};
use minimis_seal::{CustodianKeys, EpochIdentity, EpochKeyring};

fn seeded(byte: u8) -> SigningKey {
    SigningKey::from_seed(&[byte; 32]).unwrap_or_else(|_| unreachable!("32 bytes"))
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap_or_else(|_| unreachable!("a valid key name"))
}

/// The log's key name: the origin of every checkpoint (spec/log.md's example).
pub const LOG_NAME: &str = "log.minimis.example";
/// The witness's key name (spec/log.md's example).
pub const WITNESS_NAME: &str = "oversight.example/witness";
/// The agency's enrollment station's key name.
pub const ENROLLMENT_NAME: &str = "agency.example/enrollment";

/// The log's signer (seed `0x4c`, as in spec/log.md).
pub fn log_signer() -> NoteSigner {
    NoteSigner::new(name(LOG_NAME), seeded(0x4c))
}

/// The log's verifier key.
pub fn log_key() -> &'static VerifierKey {
    static K: LazyLock<VerifierKey> = LazyLock::new(|| log_signer().verifier_key());
    &K
}

/// The witness's cosigner (seed `0x57`, as in spec/log.md).
pub fn witness_cosigner() -> Cosigner {
    Cosigner::new(name(WITNESS_NAME), seeded(0x57))
}

/// The witness's verifier key (`cosignature/v1`).
pub fn witness_key() -> &'static VerifierKey {
    static K: LazyLock<VerifierKey> = LazyLock::new(|| witness_cosigner().verifier_key());
    &K
}

/// The agency's enrollment signer (seed `0xe5`).
pub fn enrollment_signer() -> &'static NoteSigner {
    static K: LazyLock<NoteSigner> =
        LazyLock::new(|| NoteSigner::new(name(ENROLLMENT_NAME), seeded(0xe5)));
    &K
}

/// The agency's enrollment verifier key.
pub fn enrollment_key() -> &'static VerifierKey {
    static K: LazyLock<VerifierKey> = LazyLock::new(|| enrollment_signer().verifier_key());
    &K
}

/// The device key (seed `0xde`, as in `spec/vectors/envelope/`).
pub fn device() -> &'static SigningKey {
    static K: LazyLock<SigningKey> = LazyLock::new(|| seeded(0xde));
    &K
}

/// The operator's challenge key (seed `0x0b`, as in `spec/vectors/challenge/`).
pub fn operator() -> &'static SigningKey {
    static K: LazyLock<SigningKey> = LazyLock::new(|| seeded(0x0b));
    &K
}

/// The agency custodian's signing key (seed `0xa0`).
pub fn agency_custodian() -> &'static SigningKey {
    static K: LazyLock<SigningKey> = LazyLock::new(|| seeded(0xa0));
    &K
}

/// The oversight custodian's signing key (seed `0xc0`, as in
/// `spec/vectors/epoch-recipient/`).
pub fn oversight_custodian() -> &'static SigningKey {
    static K: LazyLock<SigningKey> = LazyLock::new(|| seeded(0xc0));
    &K
}

/// Both custodians' public keys, as an enrollment carries them.
pub fn custodian_keys() -> CustodianKeys {
    CustodianKeys {
        agency: agency_custodian().public_key(),
        oversight: Some(oversight_custodian().public_key()),
    }
}

/// The participant's pseudonym.
pub fn pseudonym() -> Pseudonym {
    Pseudonym::from_bytes(*b"fuzz-participant")
}

/// The participant's tag key (32 bytes of `0x7a`).
pub fn tag_key() -> TagKey {
    TagKey::from_bytes(zeroize::Zeroizing::new([0x7a; 32]))
}

/// The epoch every sealed seed is sealed in: the one containing [`crate::NOW`] under the
/// reference policy.
pub fn epoch() -> EpochId {
    static E: LazyLock<EpochId> = LazyLock::new(|| {
        minimis_proto::default_policy()
            .epoch_at(crate::NOW)
            .unwrap_or_else(|| unreachable!("NOW is after the epoch origin"))
    });
    *E
}

// Public test identities, published on purpose: 32 bytes of 0xa1 and of 0x0a, in age's
// Bech32 form. Nothing real is ever sealed to them.
const AGENCY_AGE_SECRET: &str =
    "AGE-SECRET-KEY-15XS6RGDP5XS6RGDP5XS6RGDP5XS6RGDP5XS6RGDP5XS6RGDP5XSSUKDNR0";
const OVERSIGHT_AGE_SECRET: &str =
    "AGE-SECRET-KEY-1PG9Q5ZS2PG9Q5ZS2PG9Q5ZS2PG9Q5ZS2PG9Q5ZS2PG9Q5ZS2PG9QXLTRNX";

fn identity(secret: &str, role: CustodianRole) -> EpochIdentity {
    EpochIdentity::from_identity_file(secret, epoch(), role)
        .unwrap_or_else(|_| unreachable!("a valid age identity"))
}

/// A custodian's keyring holding its fixed identity for [`epoch`].
fn keyring(role: CustodianRole, id: &str, secret: &str) -> EpochKeyring {
    let mut k = EpochKeyring::new(role, id);
    k.insert(identity(secret, role))
        .unwrap_or_else(|_| unreachable!("a fresh keyring"));
    k
}

/// The agency custodian's keyring (policy id `agency`).
pub fn agency_keyring() -> &'static EpochKeyring {
    static K: LazyLock<EpochKeyring> =
        LazyLock::new(|| keyring(CustodianRole::Agency, "agency", AGENCY_AGE_SECRET));
    &K
}

/// The oversight custodian's keyring (policy id `oversight`).
pub fn oversight_keyring() -> &'static EpochKeyring {
    static K: LazyLock<EpochKeyring> =
        LazyLock::new(|| keyring(CustodianRole::Oversight, "oversight", OVERSIGHT_AGE_SECRET));
    &K
}

/// The agency custodian's age identity, for the legal-hold re-wrap.
pub fn agency_age_identity() -> age::x25519::Identity {
    age::x25519::Identity::from_str(AGENCY_AGE_SECRET)
        .unwrap_or_else(|_| unreachable!("a valid age identity"))
}

/// The oversight custodian's age identity.
pub fn oversight_age_identity() -> age::x25519::Identity {
    age::x25519::Identity::from_str(OVERSIGHT_AGE_SECRET)
        .unwrap_or_else(|_| unreachable!("a valid age identity"))
}
