//! The fixture world: a policy, custodians, an operator key and participants.

use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    CheckInPayload, CustodianRole, EpochId, Note, Policy, PresenceResult, Pseudonym, Schedule,
    SignedEpochRecipient, UnixTime, Weekday, Window, ZoneResult, default_policy,
};
use minimis_seal::{CustodianKeys, EpochKeyring, SealingKeys};

pub use minimis_proto::schedule;

/// Thursday 2026-11-26T16:00:00Z: 10:00 in Chicago, inside the default test window.
pub const NOW: UnixTime = UnixTime(1_795_708_800);

/// Custodians, operator and policy for one test.
pub struct World {
    /// The policy in force.
    pub policy: Policy,
    /// The agency custodian's keyring.
    pub agency: EpochKeyring,
    /// The oversight custodian's keyring, if the policy names one.
    pub oversight: Option<EpochKeyring>,
    /// The agency custodian's signing key.
    pub agency_key: SigningKey,
    /// The oversight custodian's signing key.
    pub oversight_key: SigningKey,
    /// The operator's signing key (challenges).
    pub operator_key: SigningKey,
}

/// A participant's device secrets and enrollment.
pub struct Participant {
    /// The pseudonym.
    pub pseudonym: Pseudonym,
    /// The device key.
    pub device: SigningKey,
    /// The tag key.
    pub tags: TagKey,
    /// The enrolled schedule.
    pub schedule: Schedule,
}

impl World {
    /// The default policy, both custodians keyed for `epochs`.
    pub fn new(epochs: &[EpochId]) -> Self {
        Self::with_policy(default_policy(), epochs)
    }

    /// A given policy, its custodians keyed for `epochs`.
    pub fn with_policy(policy: Policy, epochs: &[EpochId]) -> Self {
        let mut agency = EpochKeyring::new(CustodianRole::Agency, "agency");
        let mut oversight = policy
            .custodian(CustodianRole::Oversight)
            .map(|c| EpochKeyring::new(CustodianRole::Oversight, c.id.clone()));
        for &e in epochs {
            agency.generate(e).unwrap();
            if let Some(o) = oversight.as_mut() {
                o.generate(e).unwrap();
            }
        }
        Self {
            policy,
            agency,
            oversight,
            agency_key: SigningKey::generate().unwrap(),
            oversight_key: SigningKey::generate().unwrap(),
            operator_key: SigningKey::generate().unwrap(),
        }
    }

    /// The epoch containing [`NOW`].
    pub fn now_epoch(&self) -> EpochId {
        self.policy.epoch_at(NOW).unwrap()
    }

    /// Both custodians' signed recipients for `epoch`, valid to its end.
    pub fn published(&self, epoch: EpochId) -> Vec<SignedEpochRecipient> {
        let not_after = self.policy.epoch_end(epoch);
        let mut v = vec![
            self.agency
                .publish(epoch, not_after, &self.agency_key)
                .unwrap(),
        ];
        if let Some(o) = &self.oversight {
            v.push(o.publish(epoch, not_after, &self.oversight_key).unwrap());
        }
        v
    }

    /// The custodians' public keys, as an enrollment bundle carries them.
    pub fn custodian_keys(&self) -> CustodianKeys {
        CustodianKeys {
            agency: self.agency_key.public_key(),
            oversight: self
                .oversight
                .as_ref()
                .map(|_| self.oversight_key.public_key()),
        }
    }

    /// Verified sealing keys at time `at`.
    pub fn sealing_keys(&self, at: UnixTime) -> SealingKeys {
        let epoch = self.policy.epoch_at(at).unwrap();
        SealingKeys::verify(
            &self.policy,
            at,
            &self.published(epoch),
            &self.custodian_keys(),
        )
        .unwrap()
    }

    /// A fresh participant with a Thursday 09:00–12:00 Chicago window.
    pub fn participant(&self) -> Participant {
        let schedule = Schedule::new(
            "America/Chicago",
            vec![Window {
                weekday: Weekday::Thursday,
                start: "09:00".parse().unwrap(),
                end: "12:00".parse().unwrap(),
            }],
            1,
            2,
        )
        .unwrap();
        Participant {
            pseudonym: minimis_crypto::random_pseudonym().unwrap(),
            device: SigningKey::generate().unwrap(),
            tags: TagKey::generate().unwrap(),
            schedule,
        }
    }
}

/// A payload answering `challenge` with the given results and note.
pub fn payload(
    challenge: minimis_proto::ChallengeId,
    zone: ZoneResult,
    note: &str,
) -> CheckInPayload {
    CheckInPayload {
        challenge_id: challenge,
        zone,
        presence: PresenceResult::Confirmed,
        device_time: NOW,
        note: Note::new(note, minimis_proto::payload::NOTE_CAPACITY).unwrap(),
    }
}
