//! The participant's side of the program's obligations (`spec/obligations.md`).
//!
//! - **Condition results** ([`Device::condition_result`], **OBL-4**): with every check-in
//!   the device seals what the agency must act on (whether each ordered condition was
//!   met, derived from the check-in's own zone and presence results and nothing else) to
//!   the enrollment's case recipient, and signs it.
//! - **Filings** ([`Device::file`], **OBL-9**): a change of residence or employment, a
//!   travel notice, a contest, a hold request; sealed on the device, so the operator
//!   relays only ciphertext.
//! - **Deliveries** ([`Inbox`], **OBL-11**, **OBL-12**): one inbox identity per epoch,
//!   its recipient signed by the device key, deleted at the epoch's content deadline; a
//!   delivery is shown only if its sender's signature verifies under the key its kind
//!   requires, once, and acknowledged with a signed [`DeliveryAck`].
//! - **No push service** ([`PollGate`], **OBL-20**): the device polls, at most once every
//!   `obligations.poll_minutes` inside a window of its schedule and once an hour outside.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use minimis_crypto::{
    SigningKey, sign_condition, sign_delivery_ack, sign_filing, sign_inbox_recipient,
    verify_delivery,
};
use minimis_proto::obligations::{
    ConditionResult, Delivery, DeliveryAck, DeliveryKind, Filing, SealedDelivery,
    SignedConditionResult, SignedFiling, SignedInboxRecipient,
};
use minimis_proto::{
    ChallengeId, DeliveryId, EpochId, Policy, Pseudonym, PublicKey, Schedule, UnixTime,
};
use minimis_seal::{
    CaseRecipient, InboxIdentity, OpenSealedError, ReviewRecipient, SealObligationError,
    open_delivery, seal_condition, seal_filing,
};

use crate::device::Device;

/// Why the device made no condition result. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionResultError {
    /// This device made no check-in for the challenge.
    #[error("this device made no check-in for that challenge")]
    NoCheckIn,
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealObligationError),
}

/// Why a filing was not made. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Sealing failed (a contest or hold request needs the oversight body's recipient).
    #[error(transparent)]
    Seal(#[from] SealObligationError),
}

impl Device {
    /// The obligations' keys the device was enrolled with (the bundle's `case-recipient`,
    /// `review-recipient` and `review-key` lines), if its bundle carries them.
    pub fn obligation_keys(&self) -> Option<&crate::bundle::ObligationKeys> {
        self.bundle().and_then(|b| b.obligations.as_ref())
    }

    /// The signed, sealed condition result of the check-in this device made for
    /// `challenge` (**OBL-4**): derived from that check-in's zone and presence results
    /// (**OBL-3**), sealed to `case` (the bundle's case recipient), signed with the device
    /// key. The device sends it with the check-in, in the same request.
    ///
    /// # Errors
    /// [`ConditionResultError`].
    pub fn condition_result(
        &self,
        challenge: ChallengeId,
        case: &CaseRecipient,
    ) -> Result<SignedConditionResult, ConditionResultError> {
        let sent = self
            .sent
            .iter()
            .find(|s| s.challenge == challenge)
            .ok_or(ConditionResultError::NoCheckIn)?;
        let result = ConditionResult::of_payload(&sent.payload);
        let sealed = seal_condition(&result, case)?;
        Ok(sign_condition(
            &self.key,
            self.enrollment.pseudonym,
            challenge,
            sealed,
        ))
    }

    /// A filing, sealed to the case recipient (and, for a contest or hold request, to the
    /// oversight body's review recipient too) and signed with the device key (**OBL-9**).
    ///
    /// # Errors
    /// [`FileError`].
    pub fn file(
        &self,
        filing: &Filing,
        case: &CaseRecipient,
        review: Option<&ReviewRecipient>,
    ) -> Result<SignedFiling, FileError> {
        let (addressee, sealed) = seal_filing(filing, case, review)?;
        Ok(sign_filing(
            &self.key,
            self.enrollment.pseudonym,
            addressee,
            sealed,
        ))
    }
}

/// The keys a delivery's signature must verify under, by kind (**OBL-12**): the agency's
/// enrollment key for reminders, decisions of reviews and acknowledgements; the oversight
/// body's review key for its decisions of appeals, so the agency cannot forge one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Senders {
    /// The agency's enrollment key (the key that signed the bundle).
    pub agency: PublicKey,
    /// The oversight body's review key.
    pub oversight: PublicKey,
}

impl Senders {
    fn for_kind(&self, kind: DeliveryKind) -> PublicKey {
        match kind {
            DeliveryKind::OversightDecision => self.oversight,
            _ => self.agency,
        }
    }
}

/// Why an inbox identity was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The epoch already has an inbox identity; a second one is never made.
    #[error("epoch {0} already has an inbox")]
    Exists(EpochId),
    /// The epoch's inbox identity was deleted; it is never made again.
    #[error("the inbox of epoch {0} was deleted")]
    Deleted(EpochId),
}

/// Why a delivery was not shown. The inbox is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// No inbox identity for the epoch: never made, or deleted at its deadline.
    #[error("no inbox for epoch {0}")]
    NoInbox(EpochId),
    /// The sealed bytes do not open, or are not a delivery.
    #[error(transparent)]
    Open(#[from] OpenSealedError),
    /// The sender's signature does not verify under the key the delivery's kind requires
    /// (or it was signed for another participant).
    #[error("the delivery is not signed by its sender for this participant")]
    BadSender,
    /// The same delivery was received before: shown once (a replay by the relay).
    #[error("this delivery was received before")]
    AlreadyReceived,
}

/// A delivery the device opened and verified, and its signed acknowledgement to send.
#[derive(Debug)]
pub struct Received {
    /// The delivery's id.
    pub id: DeliveryId,
    /// What it says, to show with the notice's language (ENR-20); a review is never
    /// called a violation (CHK-25).
    pub delivery: Delivery,
    /// The acknowledgement (**OBL-12**): the operator deletes the ciphertext on it.
    pub ack: DeliveryAck,
}

/// The device's inbox identities, one per epoch (**OBL-11**), and the deliveries it has
/// received. The identities are secret: no `Clone`, `Serialize` or revealing `Debug`.
#[derive(Default)]
pub struct Inbox {
    live: BTreeMap<EpochId, InboxIdentity>,
    deleted: BTreeSet<EpochId>,
    received: BTreeSet<DeliveryId>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("live", &self.live.keys().collect::<Vec<_>>())
            .field("deleted", &self.deleted)
            .field("received", &self.received.len())
            .finish()
    }
}

impl Inbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the inbox identity for `epoch` and signs its recipient with the device key,
    /// to publish through the operator ahead of the epoch (**OBL-11**).
    ///
    /// # Errors
    /// [`InboxError`].
    pub fn prepare(
        &mut self,
        epoch: EpochId,
        pseudonym: Pseudonym,
        device: &SigningKey,
    ) -> Result<SignedInboxRecipient, InboxError> {
        if self.deleted.contains(&epoch) {
            return Err(InboxError::Deleted(epoch));
        }
        if self.live.contains_key(&epoch) {
            return Err(InboxError::Exists(epoch));
        }
        let identity = InboxIdentity::generate();
        let recipient = identity.recipient().to_string();
        self.live.insert(epoch, identity);
        Ok(sign_inbox_recipient(device, pseudonym, epoch, recipient))
    }

    /// Deletes every inbox identity whose epoch's content deadline
    /// (`retention.content_days` after the epoch ends, as RET-1) is at or before `now`
    /// (**OBL-11**). Returns the epochs deleted now.
    pub fn expire(&mut self, policy: &Policy, now: UnixTime) -> Vec<EpochId> {
        let due: Vec<EpochId> = self
            .live
            .keys()
            .copied()
            .filter(|&e| policy.content_deadline(e) <= now)
            .collect();
        for e in &due {
            // Dropping the identity zeroizes its scalar.
            self.live.remove(e);
            self.deleted.insert(*e);
        }
        due
    }

    /// Epochs with a live inbox identity.
    pub fn live_epochs(&self) -> impl Iterator<Item = EpochId> + '_ {
        self.live.keys().copied()
    }

    /// Opens a delivery sealed to the inbox of `epoch`, verifies its sender's signature
    /// under the key its kind requires and for this participant, refuses one received
    /// before, and signs the acknowledgement (**OBL-12**).
    ///
    /// # Errors
    /// [`ReceiveError`]; nothing is recorded.
    pub fn receive(
        &mut self,
        epoch: EpochId,
        sealed: &SealedDelivery,
        senders: &Senders,
        pseudonym: Pseudonym,
        device: &SigningKey,
    ) -> Result<Received, ReceiveError> {
        let id = sealed.id();
        if self.received.contains(&id) {
            return Err(ReceiveError::AlreadyReceived);
        }
        let identity = self.live.get(&epoch).ok_or(ReceiveError::NoInbox(epoch))?;
        let opened = open_delivery(sealed, identity)?;
        let sender = senders.for_kind(opened.delivery.kind());
        verify_delivery(&sender, &pseudonym, &opened.bytes, &opened.signature)
            .map_err(|_| ReceiveError::BadSender)?;
        self.received.insert(id);
        Ok(Received {
            id,
            delivery: opened.delivery,
            ack: sign_delivery_ack(device, pseudonym, id),
        })
    }
}

/// A poll refused: too soon after the last one (**OBL-20**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too soon to poll again: next at {next}")]
pub struct PollTooSoon {
    /// The earliest time of the next poll.
    pub next: UnixTime,
}

/// The device's poll cap (**OBL-20**): at most once every `obligations.poll_minutes`
/// inside a window of the enrolled schedule, at most once an hour outside one. The device
/// learns of challenges, deliveries and decisions only this way; it uses no push service.
#[derive(Clone, Debug)]
pub struct PollGate {
    inside: i64,
    last: Option<UnixTime>,
}

/// The shortest interval between two polls outside every window: one hour.
pub const POLL_OUTSIDE_WINDOW_SECONDS: i64 = 3_600;

impl PollGate {
    /// The cap of `policy`; under a format-1 policy (no `[obligations]` table), the
    /// longest interval the table allows, 60 minutes.
    pub fn new(policy: &Policy) -> Self {
        let minutes = policy
            .obligations()
            .map_or(*minimis_proto::policy::limits::POLL_MINUTES.end(), |o| {
                o.poll_minutes()
            });
        Self {
            inside: i64::from(minutes) * 60,
            last: None,
        }
    }

    /// Whether the device may poll at `now`, and if so, records the poll.
    ///
    /// # Errors
    /// [`PollTooSoon`] with the earliest time it may; nothing is recorded.
    pub fn poll(&mut self, schedule: &Schedule, now: UnixTime) -> Result<(), PollTooSoon> {
        if let Some(last) = self.last {
            let gap = if schedule.window_at(now).is_some() {
                self.inside
            } else {
                POLL_OUTSIDE_WINDOW_SECONDS
            };
            // A clock set back (now before the last poll) waits out the gap from `now`
            // rather than polling at once.
            let next = if now < last {
                now.plus(gap)
            } else {
                last.plus(gap)
            };
            if now < next {
                if now < last {
                    self.last = Some(now);
                }
                return Err(PollTooSoon { next });
            }
        }
        self.last = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_crypto::sign_delivery;
    use minimis_proto::obligations::{DeliveryBody, Text};
    use minimis_proto::{ReviewId, Weekday, Window, default_policy};
    use minimis_seal::seal_delivery;

    const MONDAY: UnixTime = UnixTime(1_795_392_000);

    fn reminder() -> Delivery {
        Delivery::new(
            DeliveryBody::AppointmentReminder {
                at: UnixTime(MONDAY.0 + 86_400 * 3 + 10 * 3600),
            },
            Text::new("Appointment at the field office, Thursday 10:00."),
        )
        .unwrap()
    }

    struct Keys {
        device: SigningKey,
        agency: SigningKey,
        oversight: SigningKey,
        p: Pseudonym,
    }

    fn keys() -> Keys {
        Keys {
            device: SigningKey::generate().unwrap(),
            agency: SigningKey::generate().unwrap(),
            oversight: SigningKey::generate().unwrap(),
            p: Pseudonym::from_bytes([1; 16]),
        }
    }

    fn senders(k: &Keys) -> Senders {
        Senders {
            agency: k.agency.public_key(),
            oversight: k.oversight.public_key(),
        }
    }

    #[test]
    fn obl_11_one_inbox_per_epoch_signed_and_deleted_at_the_content_deadline() {
        let k = keys();
        let policy = default_policy();
        let e = policy.epoch_at(MONDAY).unwrap();
        let mut inbox = Inbox::new();
        let signed = inbox.prepare(e, k.p, &k.device).unwrap();
        assert!(minimis_crypto::verify_inbox_recipient(&signed, &k.device.public_key()).is_ok());
        assert!(minimis_seal::InboxRecipient::parse(&signed.recipient).is_ok());
        assert_eq!(
            inbox.prepare(e, k.p, &k.device).unwrap_err(),
            InboxError::Exists(e)
        );
        let deadline = policy.content_deadline(e);
        assert!(inbox.expire(&policy, deadline.plus(-1)).is_empty());
        assert_eq!(inbox.expire(&policy, deadline), vec![e]);
        assert_eq!(inbox.live_epochs().count(), 0);
        // Never made again, so a delivery for it can never be opened again.
        assert_eq!(
            inbox.prepare(e, k.p, &k.device).unwrap_err(),
            InboxError::Deleted(e)
        );
    }

    #[test]
    fn obl_12_obl_24_a_delivery_is_shown_once_with_a_signed_acknowledgement() {
        let k = keys();
        let e = EpochId::new(2_958);
        let mut inbox = Inbox::new();
        let signed = inbox.prepare(e, k.p, &k.device).unwrap();
        let to = minimis_seal::InboxRecipient::parse(&signed.recipient).unwrap();
        let d = reminder();
        let sig = sign_delivery(&k.agency, &k.p, &d.encode());
        let sealed = seal_delivery(&d, &sig, &to).unwrap();
        let got = inbox
            .receive(e, &sealed, &senders(&k), k.p, &k.device)
            .unwrap();
        assert_eq!(got.delivery, d);
        assert_eq!(got.id, sealed.id());
        assert!(minimis_crypto::verify_delivery_ack(&got.ack, &k.device.public_key()).is_ok());
        assert_eq!(got.ack.delivery_id, sealed.id());
        // The relay replays it: refused, not shown twice.
        assert_eq!(
            inbox
                .receive(e, &sealed, &senders(&k), k.p, &k.device)
                .unwrap_err(),
            ReceiveError::AlreadyReceived
        );
    }

    #[test]
    fn obl_12_obl_24_attack_the_agency_cannot_sign_an_oversight_decision() {
        let k = keys();
        let e = EpochId::new(7);
        let mut inbox = Inbox::new();
        let signed = inbox.prepare(e, k.p, &k.device).unwrap();
        let to = minimis_seal::InboxRecipient::parse(&signed.recipient).unwrap();
        let forged = Delivery::new(
            DeliveryBody::OversightDecision {
                review: ReviewId::from_bytes([3; 16]),
                decided: MONDAY,
                outcome: minimis_proto::obligations::AppealOutcome::Upheld,
                reason: minimis_proto::obligations::ReasonId::new("not-explained").unwrap(),
            },
            Text::default(),
        )
        .unwrap();
        let sig = sign_delivery(&k.agency, &k.p, &forged.encode());
        let sealed = seal_delivery(&forged, &sig, &to).unwrap();
        assert_eq!(
            inbox
                .receive(e, &sealed, &senders(&k), k.p, &k.device)
                .unwrap_err(),
            ReceiveError::BadSender
        );
        // Refused leaves no trace: the genuine one, signed by the oversight body, is shown.
        let sig = sign_delivery(&k.oversight, &k.p, &forged.encode());
        let genuine = seal_delivery(&forged, &sig, &to).unwrap();
        assert!(
            inbox
                .receive(e, &genuine, &senders(&k), k.p, &k.device)
                .is_ok()
        );
    }

    #[test]
    fn obl_24_attack_another_participants_delivery_is_refused() {
        let k = keys();
        let e = EpochId::new(7);
        let mut inbox = Inbox::new();
        let signed = inbox.prepare(e, k.p, &k.device).unwrap();
        let to = minimis_seal::InboxRecipient::parse(&signed.recipient).unwrap();
        let d = reminder();
        // Signed by the agency for someone else, re-sealed to this inbox.
        let other = Pseudonym::from_bytes([2; 16]);
        let sig = sign_delivery(&k.agency, &other, &d.encode());
        let sealed = seal_delivery(&d, &sig, &to).unwrap();
        assert_eq!(
            inbox
                .receive(e, &sealed, &senders(&k), k.p, &k.device)
                .unwrap_err(),
            ReceiveError::BadSender
        );
        // For an epoch with no inbox, or garbage: typed errors.
        assert_eq!(
            inbox
                .receive(EpochId::new(8), &sealed, &senders(&k), k.p, &k.device)
                .unwrap_err(),
            ReceiveError::NoInbox(EpochId::new(8))
        );
        let junk = SealedDelivery {
            ciphertext: vec![0; 900],
        };
        assert!(matches!(
            inbox.receive(e, &junk, &senders(&k), k.p, &k.device),
            Err(ReceiveError::Open(_))
        ));
    }

    #[test]
    fn obl_20_polls_are_capped_inside_and_outside_windows() {
        let policy = default_policy();
        let schedule = Schedule::new(
            "UTC",
            vec![Window {
                weekday: Weekday::Monday,
                start: "09:00".parse().unwrap(),
                end: "12:00".parse().unwrap(),
            }],
            1,
            0,
        )
        .unwrap();
        let nine = MONDAY.plus(9 * 3600);
        let mut gate = PollGate::new(&policy);
        assert_eq!(gate.poll(&schedule, nine), Ok(()));
        // Inside the window: every 5 minutes (the reference policy), not sooner.
        assert_eq!(
            gate.poll(&schedule, nine.plus(299)),
            Err(PollTooSoon {
                next: nine.plus(300)
            })
        );
        assert_eq!(gate.poll(&schedule, nine.plus(300)), Ok(()));
        // Outside: once an hour.
        let one = MONDAY.plus(13 * 3600);
        assert_eq!(gate.poll(&schedule, one), Ok(()));
        assert!(gate.poll(&schedule, one.plus(600)).is_err());
        assert_eq!(gate.poll(&schedule, one.plus(3600)), Ok(()));
        // A clock set back does not open the gate.
        // A clock set back (to 13:30, outside the window) does not open the gate.
        assert!(gate.poll(&schedule, one.plus(1800)).is_err());
        assert!(gate.poll(&schedule, one.plus(1800 + 600)).is_err());
        assert_eq!(gate.poll(&schedule, one.plus(1800 + 3600)), Ok(()));
    }
}
