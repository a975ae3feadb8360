//! The operator's API as the device (and an officer's enrollment tool) calls it, over any
//! [`Transport`]: the wire contract's typed client ([`OperatorClient`]) with the device's
//! own signing and sealing. Every request and answer is a type of
//! [`minimis_wire::operator`]; a refusal is an [`OperatorRefusal`].

use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    ChallengeId, Envelope, EpochId, LedgerState, Pseudonym, Receipt, RecordId, Schedule,
    SignedChallenge, SignedEpochRecipient, UnixTime,
};
pub use minimis_wire::OperatorRefusal;
use minimis_wire::operator::{EnrollRequest, FailureReportRequest, SealedText as WireText};
pub use minimis_wire::operator::{
    EnrollResponse, KeysResponse, LedgerRow, StatementView, TextLink,
};
use minimis_wire::operator::{StatementRequest, WireTagKey};
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
}
