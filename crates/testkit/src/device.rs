//! A participant's device enrolled in a [`World`] directly (from an [`Enrollment`], as
//! the library's tests and the demo's simulated phones do, without the agency's signed
//! bundle), and the log key it trusts.

use minimis_client::location::Zone;
use minimis_client::{Device, Enrollment};
use minimis_crypto::SigningKey;
use minimis_log::{KeyName, NoteSigner, VerifierKey};
use minimis_proto::{DEFAULT_POLICY_TOML, Schedule};

use crate::{Participant, World};

/// The fixtures' log signer, key name `test/log`, from `seed`.
pub fn log_signer(seed: &[u8; 32]) -> NoteSigner {
    NoteSigner::new(
        KeyName::new("test/log").unwrap(),
        SigningKey::from_seed(seed).unwrap(),
    )
}

/// What `p`'s device is enrolled with in `world` under the default policy: `schedule`,
/// `zone`, the operator's key, `log` and `witnesses` for receipts, the custodians' keys.
pub fn enrollment(
    world: &World,
    p: &Participant,
    schedule: Schedule,
    zone: Option<Zone>,
    log: VerifierKey,
    witnesses: Vec<VerifierKey>,
) -> Enrollment {
    Enrollment {
        pseudonym: p.pseudonym,
        schedule,
        zone,
        policy: world.policy.clone().into(),
        policy_text: DEFAULT_POLICY_TOML.into(),
        operator_key: world.operator_key.public_key(),
        log_key: log,
        witnesses,
        tlog_policy: None,
        custodians: world.custodian_keys(),
    }
}

/// `p`'s device, enrolled as [`enrollment`] says; it takes `p`'s keys.
pub fn device(
    world: &World,
    p: Participant,
    schedule: Schedule,
    zone: Option<Zone>,
    log: VerifierKey,
    witnesses: Vec<VerifierKey>,
) -> Device {
    let e = enrollment(world, &p, schedule, zone, log, witnesses);
    Device::new(e, p.device, p.tags)
}
