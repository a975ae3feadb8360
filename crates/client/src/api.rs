//! The operator's API as the device (and an officer's enrollment tool) calls it, over any
//! [`Transport`]: the wire contract's typed client ([`OperatorClient`]) with the device's
//! own signing and sealing. Every request and answer is a type of
//! [`minimis_wire::operator`]; a refusal is an [`OperatorRefusal`].

use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::DeliveryId;
use minimis_proto::obligations::SignedInboxRecipient;
use minimis_proto::{
    ChallengeId, Envelope, EpochId, LedgerState, Pseudonym, Receipt, RecordId, Schedule,
    SignedChallenge, SignedEpochRecipient, UnixTime,
};
pub use minimis_wire::OperatorRefusal;
pub use minimis_wire::operator::{AcknowledgementResponse, FilingReceipt};
use minimis_wire::operator::{CheckInRequest, StatementRequest, WireTagKey};
use minimis_wire::operator::{EnrollRequest, FailureReportRequest, SealedText as WireText};
pub use minimis_wire::operator::{
    EnrollResponse, KeysResponse, LedgerRow, StatementView, TextLink,
};

use crate::obligations::{
    ConditionResultError, FileError, Inbox, InboxError, ReceiveError, Received, Senders,
};
use minimis_wire::{DeviceSigner, OperatorClient};

use crate::device::{Device, FailureCategory, SealedText, StatementCategory};
use crate::transport::Transport;

/// Why a call failed: no whole answer ([`TransportError`](crate::transport::TransportError)),
/// a refusal of the operator's API ([`OperatorRefusal`], read back from its code), or an
/// answer the API does not specify.
pub type ApiError = minimis_wire::OperatorError;

/// The operator's API over a transport.
#[derive(Debug)]
pub struct Api<T> {
    client: OperatorClient<T>,
}

fn signer(device: &Device) -> DeviceSigner<'_> {
    DeviceSigner {
        pseudonym: device.pseudonym(),
        key: device.key(),
    }
}

fn wire_text(t: Option<&SealedText>) -> Option<WireText> {
    t.map(|t| WireText {
        epoch: t.epoch,
        ciphertext: t.ciphertext.clone(),
    })
}

impl<T: Transport> Api<T> {
    /// An API client over `transport`.
    pub fn new(transport: T) -> Self {
        Self {
            client: OperatorClient::new(transport),
        }
    }

    /// The typed client underneath, for the endpoints this facade does not wrap.
    pub fn client(&self) -> &OperatorClient<T> {
        &self.client
    }

    /// The operator's public keys.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn keys(&self) -> Result<KeysResponse, ApiError> {
        self.client.keys().await
    }

    /// The custodians' signed recipients for `epoch`.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn recipients(&self, epoch: EpochId) -> Result<Vec<SignedEpochRecipient>, ApiError> {
        self.client.recipients(epoch).await
    }

    /// Publishes a custodian's signed recipient.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn publish_recipient(&self, r: &SignedEpochRecipient) -> Result<(), ApiError> {
        self.client.publish_recipient(r).await
    }

    /// The device's open challenges.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn challenges(
        &self,
        device: &Device,
        now: UnixTime,
    ) -> Result<Vec<SignedChallenge>, ApiError> {
        self.client.challenges(signer(device), now).await
    }

    /// Submits a check-in; returns the receipt and the ledger state.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn submit(&self, envelope: &Envelope) -> Result<(Receipt, LedgerState), ApiError> {
        let r = self.client.check_in(envelope).await?;
        Ok((r.receipt, r.state))
    }

    /// Fetches a fresh receipt for one of the device's records (CHK-30): against the
    /// newest checkpoint the witness has cosigned once it covers the record, so a
    /// provisional receipt can be traded for a witnessed one
    /// ([`Device::keep_receipt`](crate::Device::keep_receipt)).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn receipt(
        &self,
        device: &Device,
        record: RecordId,
        now: UnixTime,
    ) -> Result<Receipt, ApiError> {
        self.client.receipt(signer(device), &record, now).await
    }

    /// The device's ledger, as the server holds it.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn ledger(&self, device: &Device, now: UnixTime) -> Result<Vec<LedgerRow>, ApiError> {
        self.client.ledger(signer(device), now).await
    }

    /// The log's latest checkpoint, as served (`GET /v1/log/checkpoint`): a signed note,
    /// not yet verified.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn checkpoint(&self) -> Result<Vec<u8>, ApiError> {
        self.client.checkpoint().await
    }

    /// A C2SP tlog-tiles resource under `/v1/log/` (`tile/0/000`, `tile/entries/001.p/7`),
    /// or `None` if the server does not have it (`404`).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn log_resource(&self, path: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.client.log_resource(path).await
    }

    /// Files a technical-failure report (CHK-22): the challenge, the category and, if the
    /// participant wrote one, a free text sealed on the device ([`Device::seal_text`],
    /// CHK-23). Nothing else.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn report_failure(
        &self,
        device: &Device,
        challenge: ChallengeId,
        category: FailureCategory,
        text: Option<&SealedText>,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        let req = FailureReportRequest {
            challenge_id: challenge,
            category,
            text: wire_text(text),
        };
        self.client.failure_report(signer(device), &req, now).await
    }

    /// Attaches a statement to a row of the participant's own ledger (ACC-12): the row's
    /// challenge, a category and, optionally, the participant's words sealed on the device
    /// ([`Device::seal_text`]). The row's state does not change; an officer who reads the
    /// row sees the statement with it.
    ///
    /// # Errors
    /// [`ApiError`], for example [`OperatorRefusal::ChallengeNotYours`] or
    /// [`OperatorRefusal::StatementLimit`].
    pub async fn statement(
        &self,
        device: &Device,
        challenge: ChallengeId,
        category: StatementCategory,
        text: Option<&SealedText>,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        let req = StatementRequest {
            challenge_id: challenge,
            category,
            text: wire_text(text),
        };
        self.client.statement(signer(device), &req, now).await
    }

    /// Enrolls a participant (an officer's tool, over mutual TLS): the device's public key,
    /// its tag key and the schedule.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn enroll(
        &self,
        device_key: &SigningKey,
        tags: &TagKey,
        schedule: &Schedule,
    ) -> Result<EnrollResponse, ApiError> {
        let req = EnrollRequest {
            device_key: device_key.public_key(),
            tag_key: WireTagKey::new(*tags.expose_secret()),
            schedule: schedule.clone(),
            conditions: false,
        };
        self.client.enroll(&req).await
    }

    /// Asks for an ad-hoc challenge (an officer's tool, over mutual TLS).
    ///
    /// # Errors
    /// [`ApiError`], for example [`OperatorRefusal::DailyCapReached`].
    pub async fn adhoc(&self, pseudonym: &Pseudonym) -> Result<SignedChallenge, ApiError> {
        self.client.adhoc(pseudonym).await
    }

    /// Submits a check-in with its condition result (**OBL-4**): the device seals the
    /// result of the check-in it made for the envelope's challenge to `case` (the bundle's
    /// case recipient) and signs it; the operator stores both in one transaction. For an
    /// enrollment under conditions; one that is not sends [`Api::submit`].
    ///
    /// # Errors
    /// [`SubmitError`]; nothing was sent if the condition result could not be made.
    pub async fn submit_with_condition(
        &self,
        device: &Device,
        envelope: &Envelope,
        case: &minimis_seal::CaseRecipient,
    ) -> Result<(Receipt, LedgerState), SubmitError> {
        let condition = device.condition_result(envelope.challenge_id, case)?;
        let r = self
            .client
            .check_in_request(&CheckInRequest::new(envelope, Some(condition)))
            .await?;
        Ok((r.receipt, r.state))
    }

    /// Seals, signs and sends a filing (**OBL-9**); its receipt, whose inclusion proof
    /// is the participant's evidence of the day it was given. A contest or a hold request
    /// needs `review`, the oversight body's recipient.
    ///
    /// # Errors
    /// [`FilingCallError`]; nothing was sent if sealing failed.
    pub async fn file(
        &self,
        device: &Device,
        filing: &minimis_proto::obligations::Filing,
        case: &minimis_seal::CaseRecipient,
        review: Option<&minimis_seal::ReviewRecipient>,
        now: UnixTime,
    ) -> Result<FilingReceipt, FilingCallError> {
        let signed = device.file(filing, case, review)?;
        Ok(self.client.file(signer(device), &signed, now).await?)
    }

    /// Makes the inbox identity of `epoch` and publishes its signed recipient through the
    /// operator (**OBL-11**, **OBL-43**), for the current epoch or the next.
    ///
    /// # Errors
    /// [`InboxCallError`]; an identity made and not published stays in `inbox` (publishing
    /// it again needs [`Api::republish_inbox`]).
    pub async fn publish_inbox(
        &self,
        device: &Device,
        inbox: &mut Inbox,
        epoch: EpochId,
        now: UnixTime,
    ) -> Result<SignedInboxRecipient, InboxCallError> {
        let signed = inbox.prepare(epoch, device.pseudonym(), device.key())?;
        self.client
            .publish_inbox(signer(device), &signed, now)
            .await?;
        Ok(signed)
    }

    /// Publishes an inbox recipient again (after a failed call): the operator answers
    /// the same recipient without change.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn republish_inbox(
        &self,
        device: &Device,
        signed: &SignedInboxRecipient,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        self.client.publish_inbox(signer(device), signed, now).await
    }

    /// Fetches the deliveries waiting for the device, opens and verifies each with
    /// `inbox` (**OBL-24**), and acknowledges each one shown (**OBL-12**): the operator
    /// then deletes its ciphertext and logs `delivery acknowledged`. A delivery the device
    /// refuses (a forgery, a replay, one it cannot open) is not acknowledged and is
    /// returned with why.
    ///
    /// # Errors
    /// [`ApiError`] if fetching fails; an acknowledgement that fails leaves that delivery
    /// at the operator, shown already, and is returned in [`Fetched::unacknowledged`].
    pub async fn fetch_deliveries(
        &self,
        device: &Device,
        inbox: &mut Inbox,
        senders: &Senders,
        now: UnixTime,
    ) -> Result<Fetched, ApiError> {
        let items = self.client.deliveries(signer(device), now).await?;
        let mut out = Fetched::default();
        for item in items {
            match inbox.receive(
                item.epoch,
                &item.delivery,
                senders,
                device.pseudonym(),
                device.key(),
            ) {
                Ok(received) => {
                    match self
                        .client
                        .acknowledge_delivery(signer(device), &received.ack, now)
                        .await
                    {
                        Ok(ack) => out.shown.push((received, Some(ack))),
                        Err(e) => {
                            out.unacknowledged.push((received.id, e));
                            out.shown.push((received, None));
                        }
                    }
                }
                Err(e) => out.refused.push((item.delivery_id, e)),
            }
        }
        Ok(out)
    }
}

/// Why a check-in with its condition result was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The device made no condition result; nothing was sent.
    #[error(transparent)]
    Condition(#[from] ConditionResultError),
    /// The call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Why a filing was not received.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilingCallError {
    /// Sealing failed; nothing was sent.
    #[error(transparent)]
    File(#[from] FileError),
    /// The call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Why an inbox recipient was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxCallError {
    /// The inbox has (or had) an identity for the epoch; nothing was sent.
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// The call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// What [`Api::fetch_deliveries`] did.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Deliveries opened, verified and shown, with the proof of their `delivery
    /// acknowledged` entry (`None` if the acknowledgement failed).
    pub shown: Vec<(Received, Option<AcknowledgementResponse>)>,
    /// Deliveries refused by the device, not acknowledged: their id and why.
    pub refused: Vec<(DeliveryId, ReceiveError)>,
    /// Deliveries shown whose acknowledgement failed; they stay at the operator.
    pub unacknowledged: Vec<(DeliveryId, ApiError)>,
}
