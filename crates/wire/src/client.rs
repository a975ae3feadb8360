//! Typed clients: one method per endpoint, over any [`Transport`] (**SVC-43**). A
//! request is built from the interface's request type, an answer read as its response
//! type, and a refusal read back as the interface's enum ([`Refused`]), so a client and
//! the service it calls share every name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::SigningKey;
use minimis_proto::obligations::{DeliveryAck, SignedInboxRecipient};
use minimis_proto::{
    ChallengeId, CustodianRole, Envelope, EpochId, Pseudonym, Receipt, RecordId, SignedChallenge,
    SignedEpochRecipient, UnixTime,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::custodian::{
    AboutResponse, AccessRequest, AccessResponse, CustodianRefusal, HoldRewrapResponse,
    OuterRequest, OuterResponse, PlaceHoldRequest, PlaceHoldResponse, ReleaseHoldResponse,
};
use crate::operator::{
    AcknowledgementResponse, CaseEntryRequest, CaseEntryResponse, CheckInRequest, CheckInResponse,
    ConditionItem, DeliveryItem, DeliveryPosted, DeliveryRequest, EnrollRequest, EnrollResponse,
    EntriesRequest, EntriesResponse, FailureReportRequest, FilingItem, FilingReceipt, HoldRequest,
    KeysResponse, LedgerRow, OfficerRow, OperatorRefusal, PolicyResponse, RecordResponse,
    ResolveRequest, StateResponse, StatementRequest,
};
use crate::refusal::{Refusal, Refused, UnexpectedAnswer};
use crate::transport::{Request, Response, Transport, TransportError};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError<R: Refusal> {
    /// No whole answer came.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The service refused, with one of the interface's refusals.
    #[error(transparent)]
    Refused(Refused<R>),
    /// The answer is not what the interface specifies.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedAnswer),
}

impl<R: Refusal> CallError<R> {
    /// The refusal, if the service refused.
    pub fn refusal(&self) -> Option<R> {
        match self {
            Self::Refused(r) => Some(r.refusal),
            _ => None,
        }
    }
}

/// A call to the operator that failed.
pub type OperatorError = CallError<OperatorRefusal>;
/// A call to a custodian that failed.
pub type CustodianError = CallError<CustodianRefusal>;

fn encode<R: Refusal>(body: &impl Serialize) -> Result<Vec<u8>, CallError<R>> {
    serde_json::to_vec(body)
        .map_err(|e| CallError::Unexpected(UnexpectedAnswer::Body(e.to_string())))
}

/// The answer's body as `T` if its status is `ok`, else the refusal.
fn answer<T: DeserializeOwned, R: Refusal>(r: Response, ok: u16) -> Result<T, CallError<R>> {
    if r.status == ok {
        return serde_json::from_slice(&r.body)
            .map_err(|e| CallError::Unexpected(UnexpectedAnswer::Body(e.to_string())));
    }
    Err(refusal(r))
}

/// Nothing if the status is `ok`, else the refusal.
fn empty<R: Refusal>(r: Response, ok: u16) -> Result<(), CallError<R>> {
    if r.status == ok {
        return Ok(());
    }
    Err(refusal(r))
}

fn refusal<R: Refusal>(r: Response) -> CallError<R> {
    match Refused::parse(r.status, &r.body) {
        Ok(refused) => CallError::Refused(refused),
        Err(e) => CallError::Unexpected(e),
    }
}

/// A participant's device, as it signs its requests (CHK-13).
#[derive(Clone, Copy, Debug)]
pub struct DeviceSigner<'a> {
    /// The participant's pseudonym.
    pub pseudonym: Pseudonym,
    /// The device key.
    pub key: &'a SigningKey,
}

impl DeviceSigner<'_> {
    /// `Minimis-Device pseudonym=…,time=…,signature=…` for a request.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8], now: UnixTime) -> String {
        let sig = minimis_crypto::sign_request(self.key, &self.pseudonym, method, path, now, body);
        format!(
            "Minimis-Device pseudonym={},time={},signature={}",
            self.pseudonym,
            now.seconds(),
            B64.encode(sig.as_bytes())
        )
    }
}

/// A key custodian, as it signs its requests to the operator.
#[derive(Clone, Copy, Debug)]
pub struct CustodianSigner<'a> {
    /// Its role.
    pub role: CustodianRole,
    /// Its signing key.
    pub key: &'a SigningKey,
}

impl CustodianSigner<'_> {
    /// `Minimis-Custodian role=…,time=…,signature=…` for a request.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8], now: UnixTime) -> String {
        let sig =
            minimis_crypto::sign_custodian_request(self.key, self.role, method, path, now, body);
        format!(
            "Minimis-Custodian role={},time={},signature={}",
            self.role,
            now.seconds(),
            B64.encode(sig.as_bytes())
        )
    }
}

/// The agency's case system, as it signs its requests to the operator (**OBL-5**):
/// `Authorization: Minimis-Case time=…,signature=…`.
#[derive(Clone, Copy, Debug)]
pub struct CaseSigner<'a> {
    /// The case system's request key (its public half is in the operator's
    /// configuration).
    pub key: &'a SigningKey,
}

impl CaseSigner<'_> {
    /// `Minimis-Case time=…,signature=…` for a request.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8], now: UnixTime) -> String {
        let sig = minimis_crypto::sign_case_request(self.key, method, path, now, body);
        format!(
            "Minimis-Case time={},signature={}",
            now.seconds(),
            B64.encode(sig.as_bytes())
        )
    }
}

/// The operator's API (spec/operator.md), one method per endpoint.
#[derive(Debug)]
pub struct OperatorClient<T> {
    transport: T,
}

impl<T: Transport> OperatorClient<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn send(&self, req: Request) -> Result<Response, OperatorError> {
        Ok(self.transport.send(req).await?)
    }

    async fn device(
        &self,
        who: DeviceSigner<'_>,
        mut req: Request,
        now: UnixTime,
    ) -> Result<Response, OperatorError> {
        let auth = who.authorization(req.method, &req.path, &req.body, now);
        req.headers.push(("authorization", auth));
        self.send(req).await
    }

    async fn custodian(
        &self,
        who: CustodianSigner<'_>,
        mut req: Request,
        now: UnixTime,
    ) -> Result<Response, OperatorError> {
        let auth = who.authorization(req.method, &req.path, &req.body, now);
        req.headers.push(("authorization", auth));
        self.send(req).await
    }

    async fn case(
        &self,
        who: CaseSigner<'_>,
        mut req: Request,
        now: UnixTime,
    ) -> Result<Response, OperatorError> {
        let auth = who.authorization(req.method, &req.path, &req.body, now);
        req.headers.push(("authorization", auth));
        self.send(req).await
    }

    // ---- public ------------------------------------------------------------------------

    /// `GET /v1/policy`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn policy(&self) -> Result<PolicyResponse, OperatorError> {
        answer(self.send(Request::get("/v1/policy")).await?, 200)
    }

    /// `GET /v1/keys`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn keys(&self) -> Result<KeysResponse, OperatorError> {
        answer(self.send(Request::get("/v1/keys")).await?, 200)
    }

    /// `GET /v1/epochs/{epoch}/recipients`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn recipients(
        &self,
        epoch: EpochId,
    ) -> Result<Vec<SignedEpochRecipient>, OperatorError> {
        let path = format!("/v1/epochs/{}/recipients", epoch.get());
        answer(self.send(Request::get(path)).await?, 200)
    }

    /// `POST /v1/recipients`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn publish_recipient(&self, r: &SignedEpochRecipient) -> Result<(), OperatorError> {
        let body = encode(r)?;
        empty(self.send(Request::post("/v1/recipients", body)).await?, 204)
    }

    /// `POST /v1/checkins`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn check_in(&self, envelope: &Envelope) -> Result<CheckInResponse, OperatorError> {
        let body = encode(envelope)?;
        answer(self.send(Request::post("/v1/checkins", body)).await?, 201)
    }

    /// `POST /v1/checkins` with the check-in's condition result (**OBL-4**), or any
    /// [`CheckInRequest`].
    ///
    /// # Errors
    /// [`OperatorError`], for example [`OperatorRefusal::ConditionRequired`].
    pub async fn check_in_request(
        &self,
        req: &CheckInRequest,
    ) -> Result<CheckInResponse, OperatorError> {
        let body = encode(req)?;
        answer(self.send(Request::post("/v1/checkins", body)).await?, 201)
    }

    /// `GET /v1/log/checkpoint`: the signed note, not yet verified.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn checkpoint(&self) -> Result<Vec<u8>, OperatorError> {
        let r = self.send(Request::get("/v1/log/checkpoint")).await?;
        if r.status == 200 {
            return Ok(r.body);
        }
        Err(refusal(r))
    }

    /// A C2SP tlog-tiles resource under `/v1/log/` (`tile/0/000`,
    /// `tile/entries/001.p/7`), or `None` if the server does not have it (`404
    /// not_found`).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn log_resource(&self, path: &str) -> Result<Option<Vec<u8>>, OperatorError> {
        let r = self.send(Request::get(format!("/v1/log/{path}"))).await?;
        if r.status == 200 {
            return Ok(Some(r.body));
        }
        match refusal::<OperatorRefusal>(r) {
            CallError::Refused(r) if r.refusal == OperatorRefusal::NotFound => Ok(None),
            other => Err(other),
        }
    }

    // ---- officers (mutual TLS: the transport presents the officer's certificate) ----

    /// `POST /v1/enrollments`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, OperatorError> {
        let body = zeroize::Zeroizing::new(encode(req)?);
        answer(
            self.send(Request::post("/v1/enrollments", body.to_vec()))
                .await?,
            201,
        )
    }

    /// `POST /v1/enrollments/{pseudonym}/close`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn close(&self, pseudonym: &Pseudonym) -> Result<(), OperatorError> {
        let path = format!("/v1/enrollments/{pseudonym}/close");
        empty(self.send(Request::post(path, Vec::new())).await?, 204)
    }

    /// `POST /v1/participants/{pseudonym}/challenges`: an ad-hoc challenge.
    ///
    /// # Errors
    /// [`OperatorError`], for example [`OperatorRefusal::DailyCapReached`].
    pub async fn adhoc(&self, pseudonym: &Pseudonym) -> Result<SignedChallenge, OperatorError> {
        let path = format!("/v1/participants/{pseudonym}/challenges");
        answer(self.send(Request::post(path, Vec::new())).await?, 201)
    }

    /// `GET /v1/ledger/{challenge_id}`: the row as an officer reads it (the read is
    /// recorded, CHK-24).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn ledger_row(&self, challenge: &ChallengeId) -> Result<OfficerRow, OperatorError> {
        answer(
            self.send(Request::get(format!("/v1/ledger/{challenge}")))
                .await?,
            200,
        )
    }

    /// `POST /v1/ledger/{challenge_id}/resolution`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn resolve(
        &self,
        challenge: &ChallengeId,
        req: &ResolveRequest,
    ) -> Result<StateResponse, OperatorError> {
        let path = format!("/v1/ledger/{challenge}/resolution");
        answer(self.send(Request::post(path, encode(req)?)).await?, 200)
    }

    // ---- participants' devices (signed requests) ------------------------------------

    /// `GET /v1/participants/{pseudonym}/challenges`: the device's open challenges.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn challenges(
        &self,
        who: DeviceSigner<'_>,
        now: UnixTime,
    ) -> Result<Vec<SignedChallenge>, OperatorError> {
        let path = format!("/v1/participants/{}/challenges", who.pseudonym);
        answer(self.device(who, Request::get(path), now).await?, 200)
    }

    /// `GET /v1/participants/{pseudonym}/ledger`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn ledger(
        &self,
        who: DeviceSigner<'_>,
        now: UnixTime,
    ) -> Result<Vec<LedgerRow>, OperatorError> {
        let path = format!("/v1/participants/{}/ledger", who.pseudonym);
        answer(self.device(who, Request::get(path), now).await?, 200)
    }

    /// `GET /v1/participants/{pseudonym}/receipts/{record_id}` (CHK-30).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn receipt(
        &self,
        who: DeviceSigner<'_>,
        record: &RecordId,
        now: UnixTime,
    ) -> Result<Receipt, OperatorError> {
        let path = format!("/v1/participants/{}/receipts/{record}", who.pseudonym);
        answer(self.device(who, Request::get(path), now).await?, 200)
    }

    /// `POST /v1/participants/{pseudonym}/failure-reports` (CHK-22).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn failure_report(
        &self,
        who: DeviceSigner<'_>,
        req: &FailureReportRequest,
        now: UnixTime,
    ) -> Result<(), OperatorError> {
        let path = format!("/v1/participants/{}/failure-reports", who.pseudonym);
        let r = self
            .device(who, Request::post(path, encode(req)?), now)
            .await?;
        empty(r, 204)
    }

    /// `POST /v1/participants/{pseudonym}/statements` (ACC-12).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn statement(
        &self,
        who: DeviceSigner<'_>,
        req: &StatementRequest,
        now: UnixTime,
    ) -> Result<(), OperatorError> {
        let path = format!("/v1/participants/{}/statements", who.pseudonym);
        let r = self
            .device(who, Request::post(path, encode(req)?), now)
            .await?;
        empty(r, 204)
    }

    /// `POST /v1/participants/{pseudonym}/filings` (**OBL-9**): a sealed, signed filing;
    /// its receipt.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn file(
        &self,
        who: DeviceSigner<'_>,
        filing: &minimis_proto::obligations::SignedFiling,
        now: UnixTime,
    ) -> Result<FilingReceipt, OperatorError> {
        let path = format!("/v1/participants/{}/filings", who.pseudonym);
        let r = self
            .device(who, Request::post(path, encode(filing)?), now)
            .await?;
        answer(r, 201)
    }

    /// `POST /v1/participants/{pseudonym}/inboxes` (**OBL-43**): the device's signed
    /// inbox recipient for the current or the next epoch. Publishing the same one again
    /// changes nothing.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn publish_inbox(
        &self,
        who: DeviceSigner<'_>,
        inbox: &SignedInboxRecipient,
        now: UnixTime,
    ) -> Result<(), OperatorError> {
        let path = format!("/v1/participants/{}/inboxes", who.pseudonym);
        let r = self
            .device(who, Request::post(path, encode(inbox)?), now)
            .await?;
        empty(r, 204)
    }

    /// `GET /v1/participants/{pseudonym}/deliveries` (**OBL-44**): the deliveries waiting
    /// for the device, in the order stored.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn deliveries(
        &self,
        who: DeviceSigner<'_>,
        now: UnixTime,
    ) -> Result<Vec<DeliveryItem>, OperatorError> {
        let path = format!("/v1/participants/{}/deliveries", who.pseudonym);
        answer(self.device(who, Request::get(path), now).await?, 200)
    }

    /// `POST /v1/participants/{pseudonym}/deliveries/{delivery_id}/acknowledgement`
    /// (**OBL-12**, **OBL-45**): the device's signed acknowledgement; the operator deletes
    /// the ciphertext and logs `delivery acknowledged`, whose proof this returns.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn acknowledge_delivery(
        &self,
        who: DeviceSigner<'_>,
        ack: &DeliveryAck,
        now: UnixTime,
    ) -> Result<AcknowledgementResponse, OperatorError> {
        let path = format!(
            "/v1/participants/{}/deliveries/{}/acknowledgement",
            who.pseudonym, ack.delivery_id
        );
        let r = self
            .device(who, Request::post(path, encode(ack)?), now)
            .await?;
        answer(r, 201)
    }

    // ---- the agency's case system (signed requests) ----------------------------------

    /// `GET /v1/case/conditions?after={seq}` (**OBL-5**): the next page of condition
    /// results after the cursor `after` (0 for the first).
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn case_conditions(
        &self,
        who: CaseSigner<'_>,
        after: u64,
        now: UnixTime,
    ) -> Result<Vec<ConditionItem>, OperatorError> {
        let path = format!("/v1/case/conditions?after={after}");
        answer(self.case(who, Request::get(path), now).await?, 200)
    }

    /// `GET /v1/case/filings?after={seq}` (**OBL-9**): the next page of filings.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn case_filings(
        &self,
        who: CaseSigner<'_>,
        after: u64,
        now: UnixTime,
    ) -> Result<Vec<FilingItem>, OperatorError> {
        let path = format!("/v1/case/filings?after={after}");
        answer(self.case(who, Request::get(path), now).await?, 200)
    }

    /// `POST /v1/case/filings/{filing_id}/acknowledgement` (**OBL-10**): logs `filing
    /// acknowledged`; its proof.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn acknowledge_filing(
        &self,
        who: CaseSigner<'_>,
        filing: &minimis_proto::FilingId,
        now: UnixTime,
    ) -> Result<AcknowledgementResponse, OperatorError> {
        let path = format!("/v1/case/filings/{filing}/acknowledgement");
        answer(
            self.case(who, Request::post(path, Vec::new()), now).await?,
            201,
        )
    }

    /// `POST /v1/case/entries` (**OBL-46**): one of the case system's log entries
    /// (`conditions summary`, `review opened`, `review decided`, `decision contested`,
    /// `appeal decided`), dated the operator's day; its proof.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn case_entry(
        &self,
        who: CaseSigner<'_>,
        entry: &minimis_log::LogEntry,
        now: UnixTime,
    ) -> Result<CaseEntryResponse, OperatorError> {
        let body = encode(&CaseEntryRequest::new(entry))?;
        let r = self
            .case(who, Request::post("/v1/case/entries", body), now)
            .await?;
        answer(r, 201)
    }

    /// `GET /v1/case/inboxes/{pseudonym}/{epoch}` (**OBL-43**): the participant's signed
    /// inbox recipient for the epoch; the case system checks its device signature before
    /// it seals to it.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn case_inbox(
        &self,
        who: CaseSigner<'_>,
        pseudonym: &Pseudonym,
        epoch: EpochId,
        now: UnixTime,
    ) -> Result<SignedInboxRecipient, OperatorError> {
        let path = format!("/v1/case/inboxes/{pseudonym}/{}", epoch.get());
        answer(self.case(who, Request::get(path), now).await?, 200)
    }

    /// `POST /v1/case/deliveries` (**OBL-44**): a sealed delivery for a participant; its id.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn deliver(
        &self,
        who: CaseSigner<'_>,
        req: &DeliveryRequest,
        now: UnixTime,
    ) -> Result<DeliveryPosted, OperatorError> {
        let r = self
            .case(who, Request::post("/v1/case/deliveries", encode(req)?), now)
            .await?;
        answer(r, 201)
    }

    // ---- key custodians (signed requests) -------------------------------------------

    /// `POST /v1/custodian/entries`: appends a custodian's entries; their proofs.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn append(
        &self,
        who: CustodianSigner<'_>,
        req: &EntriesRequest,
        now: UnixTime,
    ) -> Result<EntriesResponse, OperatorError> {
        let r = self
            .custodian(
                who,
                Request::post("/v1/custodian/entries", encode(req)?),
                now,
            )
            .await?;
        answer(r, 201)
    }

    /// `GET /v1/custodian/records/{record_id}`.
    ///
    /// # Errors
    /// [`OperatorError`], [`OperatorRefusal::UnknownRecord`] if the operator holds none.
    pub async fn record(
        &self,
        who: CustodianSigner<'_>,
        id: &RecordId,
        now: UnixTime,
    ) -> Result<RecordResponse, OperatorError> {
        let path = format!("/v1/custodian/records/{id}");
        answer(self.custodian(who, Request::get(path), now).await?, 200)
    }

    /// `POST /v1/custodian/holds`.
    ///
    /// # Errors
    /// [`OperatorError`].
    pub async fn hold(
        &self,
        who: CustodianSigner<'_>,
        req: &HoldRequest,
        now: UnixTime,
    ) -> Result<(), OperatorError> {
        let r = self
            .custodian(who, Request::post("/v1/custodian/holds", encode(req)?), now)
            .await?;
        empty(r, 204)
    }
}

/// The custodians' API (spec/access.md), one method per endpoint; the caller is named
/// by the certificate its transport presents.
#[derive(Debug)]
pub struct CustodianClient<T> {
    transport: T,
}

impl<T: Transport> CustodianClient<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        req: &Q,
        ok: u16,
    ) -> Result<A, CustodianError> {
        let r = self
            .transport
            .send(Request::post(path, encode(req)?))
            .await?;
        answer(r, ok)
    }

    /// `GET /v1/custodian`.
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn about(&self) -> Result<AboutResponse, CustodianError> {
        answer(
            self.transport.send(Request::get("/v1/custodian")).await?,
            200,
        )
    }

    /// `POST /v1/access` (an officer, to the agency custodian).
    ///
    /// # Errors
    /// [`CustodianError`], for example [`CustodianRefusal::NotInCaseload`].
    pub async fn access(&self, req: &AccessRequest) -> Result<AccessResponse, CustodianError> {
        self.post("/v1/access", req, 200).await
    }

    /// `POST /v1/holds` (an officer, to the agency custodian).
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn place_hold(
        &self,
        req: &PlaceHoldRequest,
    ) -> Result<PlaceHoldResponse, CustodianError> {
        self.post("/v1/holds", req, 201).await
    }

    /// `POST /v1/holds/{hold}/release` (an officer, to the agency custodian).
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn release_hold(&self, hold: &str) -> Result<ReleaseHoldResponse, CustodianError> {
        let r = self
            .transport
            .send(Request::post(
                format!("/v1/holds/{hold}/release"),
                Vec::new(),
            ))
            .await?;
        answer(r, 200)
    }

    /// `POST /v1/outer` (the agency custodian, to the oversight custodian).
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn outer(&self, req: &OuterRequest) -> Result<OuterResponse, CustodianError> {
        self.post("/v1/outer", req, 200).await
    }

    /// `POST /v1/holds/rewrap` (the agency custodian, to the oversight custodian).
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn hold_rewrap(
        &self,
        req: &crate::custodian::HoldRequest,
    ) -> Result<HoldRewrapResponse, CustodianError> {
        self.post("/v1/holds/rewrap", req, 200).await
    }

    /// `POST /v1/holds/release` (the agency custodian, to the oversight custodian).
    ///
    /// # Errors
    /// [`CustodianError`].
    pub async fn hold_release(
        &self,
        req: &crate::custodian::HoldRequest,
    ) -> Result<(), CustodianError> {
        let r = self
            .transport
            .send(Request::post("/v1/holds/release", encode(req)?))
            .await?;
        empty(r, 204)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::refusal::RefusalBody;

    /// Answers every request with `answer`, and keeps what it was sent.
    struct Recorder {
        answer: Response,
        sent: Mutex<Vec<Request>>,
    }

    impl Transport for Recorder {
        async fn send(&self, req: Request) -> Result<Response, TransportError> {
            if let Ok(mut s) = self.sent.lock() {
                s.push(req);
            }
            Ok(self.answer.clone())
        }
    }

    fn recorder(status: u16, body: &[u8]) -> OperatorClient<Recorder> {
        OperatorClient::new(Recorder {
            answer: Response {
                status,
                body: body.to_vec(),
            },
            sent: Mutex::new(Vec::new()),
        })
    }

    fn sent(c: &OperatorClient<Recorder>) -> Vec<Request> {
        c.transport()
            .sent
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn svc_43_a_typed_call_sends_its_route_and_reads_a_refusal_as_its_variant() {
        let refusal =
            serde_json::to_vec(&RefusalBody::new("daily_cap_reached", "cap")).unwrap_or_default();
        let c = recorder(422, &refusal);
        let p = Pseudonym::from_bytes([7; 16]);
        let err = block_on(c.adhoc(&p)).err();
        assert_eq!(
            err.as_ref().and_then(CallError::refusal),
            Some(OperatorRefusal::DailyCapReached)
        );
        let req = sent(&c).pop();
        assert_eq!(
            req.map(|r| (r.method, r.path)),
            Some(("POST", format!("/v1/participants/{p}/challenges")))
        );
        // A 404 `not_found` for a log resource is "not there"; another refusal is not.
        let nf =
            serde_json::to_vec(&RefusalBody::new("not_found", "no such tile")).unwrap_or_default();
        assert!(matches!(
            block_on(recorder(404, &nf).log_resource("tile/0/000")),
            Ok(None)
        ));
        let other =
            serde_json::to_vec(&RefusalBody::new("unknown_record", "x")).unwrap_or_default();
        assert!(matches!(
            block_on(recorder(404, &other).log_resource("tile/0/000")),
            Err(CallError::Refused(_))
        ));
        // A success whose body is not the route's answer is an unexpected answer.
        assert!(matches!(
            block_on(recorder(200, b"{\"operator\": 1}").keys()),
            Err(CallError::Unexpected(UnexpectedAnswer::Body(_)))
        ));
    }

    #[test]
    fn svc_43_a_device_request_is_signed_over_its_method_path_time_and_body() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap_or_else(|e| panic!("{e:?}"));
        let p = Pseudonym::from_bytes([9; 16]);
        let who = DeviceSigner {
            pseudonym: p,
            key: &key,
        };
        let c = recorder(204, b"");
        let req = crate::operator::StatementRequest {
            challenge_id: ChallengeId::from_bytes([1; 16]),
            category: minimis_proto::StatementCategory::Dispute,
            text: None,
        };
        let now = UnixTime(1_800_000_000);
        assert!(block_on(c.statement(who, &req, now)).is_ok());
        let Some(r) = sent(&c).pop() else {
            panic!("nothing sent")
        };
        assert_eq!(r.path, format!("/v1/participants/{p}/statements"));
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| *k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let sig = auth
            .rsplit("signature=")
            .next()
            .and_then(|s| B64.decode(s).ok())
            .and_then(|v| <[u8; 64]>::try_from(v).ok())
            .map(minimis_proto::Signature)
            .unwrap_or_else(|| panic!("{auth}"));
        let verify = |body: &[u8]| {
            minimis_crypto::verify_request(&key.public_key(), &p, "POST", &r.path, now, body, &sig)
                .is_ok()
        };
        assert!(verify(&r.body));
        // The body is the typed request, and the signature covers it.
        assert_eq!(
            serde_json::from_slice::<crate::operator::StatementRequest>(&r.body).ok(),
            Some(req)
        );
        assert!(!verify(b"{}"));
    }
}
