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

    /// The default policy, both custodians keyed for the epoch containing `at` and the
    /// `more` epochs after it.
    pub fn keyed_at(at: UnixTime, more: u32) -> Self {
        let first = default_policy().epoch_at(at).unwrap();
        let mut epochs = vec![first];
        for _ in 0..more {
            epochs.push(epochs.last().unwrap().next().unwrap());
        }
        Self::new(&epochs)
    }

    /// The default policy, both custodians keyed for every epoch from the one containing
    /// `from` to the one containing `to`.
    pub fn keyed_between(from: UnixTime, to: UnixTime) -> Self {
        let policy = default_policy();
        let (first, last) = (policy.epoch_at(from).unwrap(), policy.epoch_at(to).unwrap());
        let mut epochs = vec![first];
        while *epochs.last().unwrap() < last {
            epochs.push(epochs.last().unwrap().next().unwrap());
        }
        Self::new(&epochs)
    }

    /// The epochs its custodians hold keys for, oldest first.
    pub fn epochs(&self) -> Vec<EpochId> {
        self.agency.live_epochs().collect()
    }

    /// A second handle on the operator's signing key (a test signs challenges as the
    /// operator while the world keeps its own).
    pub fn operator(&self) -> SigningKey {
        SigningKey::from_seed(self.operator_key.expose_seed()).unwrap()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_is_keyed_for_the_epochs_asked_for() {
        let w = World::keyed_at(NOW, 2);
        let e = w.now_epoch();
        assert_eq!(
            w.epochs(),
            vec![e, e.next().unwrap(), e.next().unwrap().next().unwrap()]
        );
        assert_eq!(w.oversight.as_ref().unwrap().live_epochs().count(), 3);
        let week = 7 * 86_400;
        let w = World::keyed_between(NOW.plus(-week), NOW.plus(3 * week));
        let (first, last) = (
            w.policy.epoch_at(NOW.plus(-week)).unwrap(),
            w.policy.epoch_at(NOW.plus(3 * week)).unwrap(),
        );
        let epochs = w.epochs();
        assert_eq!((epochs[0], *epochs.last().unwrap()), (first, last));
        assert!(epochs.windows(2).all(|p| p[0].next() == Some(p[1])));
        // The operator's second handle signs as the operator.
        assert_eq!(w.operator().public_key(), w.operator_key.public_key());
    }
}
