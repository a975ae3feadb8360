//! The operator's API as the device (and an officer's enrollment tool) calls it, over any
//! [`Transport`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    ChallengeId, Envelope, EpochId, Pseudonym, PublicKey, Receipt, RecordId, Schedule,
    SignedChallenge, SignedEpochRecipient, UnixTime,
};
use serde::{Deserialize, Serialize};

use crate::device::{Device, FailureCategory, SealedText, StatementCategory};
use crate::transport::{Request, Response, Transport, TransportError};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Nothing was delivered, or the answer was lost.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The server refused, with its status and code (spec/operator.md).
    #[error("refused: {status} {code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The machine-readable code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server's answer is not what the API specifies.
    #[error("unexpected answer from the server: {0}")]
    Malformed(String),
}

impl ApiError {
    /// The server's code, if it refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
    message: String,
}

fn decode<T: for<'de> Deserialize<'de>>(r: Response, ok: u16) -> Result<T, ApiError> {
    if r.status == ok {
        return serde_json::from_slice(&r.body).map_err(|e| ApiError::Malformed(e.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(&r.body) {
        Ok(b) => Err(ApiError::Refused {
            status: r.status,
            code: b.error.code,
            message: b.error.message,
        }),
        Err(_) => Err(ApiError::Malformed(format!("status {}", r.status))),
    }
}

fn expect_empty(r: Response, ok: u16) -> Result<(), ApiError> {
    if r.status == ok {
        return Ok(());
    }
    decode::<serde_json::Value>(r, ok).map(|_| ())
}

/// The operator's public keys.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerKeys {
    /// The challenge-signing key.
    pub operator: PublicKey,
    /// The log's verifier key.
    pub log: String,
}

#[derive(Deserialize)]
struct RawKeys {
    operator: String,
    log: String,
}

/// What an enrollment returns.
#[derive(Clone, Debug, Deserialize)]
pub struct Enrolled {
    /// The pseudonym the operator assigned.
    pub pseudonym: Pseudonym,
    /// The policy hash, hex.
    pub policy: String,
}

/// A ledger row as the server holds it (`GET /v1/participants/{pseudonym}/ledger`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct LedgerRow {
    /// The challenge.
    pub challenge: SignedChallenge,
    /// Its state (`{"state": "on-time"}`, `{"state": "resolved", "resolution": …}`).
    pub state: serde_json::Value,
    /// What a resolution rests on (`failure-report`, `participant-statement`, …), if
    /// resolved.
    #[serde(default)]
    pub resolution_reason: Option<String>,
    /// A failure report's category, if one was filed.
    pub failure_report: Option<String>,
    /// The report's sealed text, if it has one: its id and epoch (the custodians open it
    /// by its id on a justified request; the operator cannot).
    #[serde(default)]
    pub failure_text: Option<TextLink>,
    /// The participant's statements on the row, oldest first (ACC-12): their categories.
    #[serde(default, deserialize_with = "statement_categories")]
    pub statements: Vec<String>,
}

/// Where a sealed text is kept: its id (spec/failure.md) and its epoch.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct TextLink {
    /// The text's id, hex.
    pub id: String,
    /// The epoch it was sealed to.
    pub epoch: u32,
}

impl LedgerRow {
    /// The row's state: `open`, `on-time`, `late`, `pending-review` or `resolved`.
    pub fn state_name(&self) -> &str {
        self.state
            .get("state")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown")
    }

    /// The resolution of a resolved row (`excused-technical`, `excused-other`,
    /// `not-excused`).
    pub fn resolution(&self) -> Option<&str> {
        self.state
            .get("resolution")
            .and_then(serde_json::Value::as_str)
    }
}

fn statement_categories<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct View {
        category: String,
    }
    let v: Vec<View> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|s| s.category).collect())
}

#[derive(Deserialize)]
struct CheckedIn {
    receipt: Receipt,
    state: serde_json::Value,
}

/// The operator's API over a transport.
pub struct Api<T> {
    transport: T,
}

impl<T: Transport> Api<T> {
    /// An API client over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    async fn get(&self, path: String) -> Result<Response, ApiError> {
        Ok(self
            .transport
            .send(Request {
                method: "GET",
                path,
                headers: Vec::new(),
                body: Vec::new(),
            })
            .await?)
    }

    async fn post(&self, path: String, body: Vec<u8>) -> Result<Response, ApiError> {
        Ok(self
            .transport
            .send(Request {
                method: "POST",
                path,
                headers: vec![("content-type", "application/json".to_owned())],
                body,
            })
            .await?)
    }

    /// A request signed by the device (CHK-13).
    async fn signed(
        &self,
        device: &Device,
        method: &'static str,
        path: String,
        body: Vec<u8>,
        now: UnixTime,
    ) -> Result<Response, ApiError> {
        let p = device.pseudonym();
        let sig = minimis_crypto::sign_request(device.key(), &p, method, &path, now, &body);
        let auth = format!(
            "Minimis-Device pseudonym={p},time={},signature={}",
            now.seconds(),
            B64.encode(sig.as_bytes())
        );
        let mut headers = vec![("authorization", auth)];
        if !body.is_empty() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        Ok(self
            .transport
            .send(Request {
                method,
                path,
                headers,
                body,
            })
            .await?)
    }

    /// The operator's public keys.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn keys(&self) -> Result<ServerKeys, ApiError> {
        let raw: RawKeys = decode(self.get("/v1/keys".into()).await?, 200)?;
        let operator: [u8; 32] = B64
            .decode(&raw.operator)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| ApiError::Malformed("operator key".into()))?;
        Ok(ServerKeys {
            operator: PublicKey(operator),
            log: raw.log,
        })
    }

    /// The custodians' signed recipients for `epoch`.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn recipients(&self, epoch: EpochId) -> Result<Vec<SignedEpochRecipient>, ApiError> {
        decode(
            self.get(format!("/v1/epochs/{epoch}/recipients")).await?,
            200,
        )
    }

    /// Publishes a custodian's signed recipient.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn publish_recipient(&self, r: &SignedEpochRecipient) -> Result<(), ApiError> {
        let body = serde_json::to_vec(r).map_err(|e| ApiError::Malformed(e.to_string()))?;
        expect_empty(self.post("/v1/recipients".into(), body).await?, 204)
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
        let path = format!("/v1/participants/{}/challenges", device.pseudonym());
        decode(
            self.signed(device, "GET", path, Vec::new(), now).await?,
            200,
        )
    }

    /// Submits a check-in; returns the receipt and the ledger state.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn submit(
        &self,
        envelope: &Envelope,
    ) -> Result<(Receipt, serde_json::Value), ApiError> {
        let body = serde_json::to_vec(envelope).map_err(|e| ApiError::Malformed(e.to_string()))?;
        let c: CheckedIn = decode(self.post("/v1/checkins".into(), body).await?, 201)?;
        Ok((c.receipt, c.state))
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
        let path = format!("/v1/participants/{}/receipts/{record}", device.pseudonym());
        decode(
            self.signed(device, "GET", path, Vec::new(), now).await?,
            200,
        )
    }

    /// The device's ledger, as the server holds it.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn ledger(&self, device: &Device, now: UnixTime) -> Result<Vec<LedgerRow>, ApiError> {
        let path = format!("/v1/participants/{}/ledger", device.pseudonym());
        decode(
            self.signed(device, "GET", path, Vec::new(), now).await?,
            200,
        )
    }

    /// The log's latest checkpoint, as served (`GET /v1/log/checkpoint`): a signed note,
    /// not yet verified.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn checkpoint(&self) -> Result<Vec<u8>, ApiError> {
        let r = self.get("/v1/log/checkpoint".into()).await?;
        if r.status == 200 {
            return Ok(r.body);
        }
        decode::<serde_json::Value>(r, 200).map(|_| Vec::new())
    }

    /// A C2SP tlog-tiles resource under `/v1/log/` (`tile/0/000`, `tile/entries/001.p/7`),
    /// or `None` if the server does not have it (`404`).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn log_resource(&self, path: &str) -> Result<Option<Vec<u8>>, ApiError> {
        let r = self.get(format!("/v1/log/{path}")).await?;
        match r.status {
            200 => Ok(Some(r.body)),
            404 => Ok(None),
            _ => decode::<serde_json::Value>(r, 200).map(|_| None),
        }
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
        self.attach(device, "failure-reports", challenge, category, text, now)
            .await
    }

    /// Attaches a statement to a row of the participant's own ledger (ACC-12): the row's
    /// challenge, a category and, optionally, the participant's words sealed on the device
    /// ([`Device::seal_text`]). The row's state does not change; an officer who reads the
    /// row sees the statement with it.
    ///
    /// # Errors
    /// [`ApiError`], for example `challenge_not_yours` or `statement_limit`.
    pub async fn statement(
        &self,
        device: &Device,
        challenge: ChallengeId,
        category: StatementCategory,
        text: Option<&SealedText>,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        self.attach(device, "statements", challenge, category, text, now)
            .await
    }

    /// Attaches a report or a statement (`what`) to a row of the participant's ledger: the
    /// row's challenge, a category and the optional sealed text, nothing else (CHK-23).
    async fn attach(
        &self,
        device: &Device,
        what: &str,
        challenge: ChallengeId,
        category: impl serde::Serialize,
        text: Option<&SealedText>,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        let path = format!("/v1/participants/{}/{what}", device.pseudonym());
        let mut body = serde_json::json!({
            "challenge_id": challenge,
            "category": category,
        });
        if let Some(t) = text {
            body["text"] = serde_json::json!({
                "epoch": t.epoch.get(),
                "ciphertext": B64.encode(&t.ciphertext),
            });
        }
        let body = serde_json::to_vec(&body).map_err(|e| ApiError::Malformed(e.to_string()))?;
        expect_empty(self.signed(device, "POST", path, body, now).await?, 204)
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
    ) -> Result<Enrolled, ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "device_key": B64.encode(device_key.public_key().as_bytes()),
            "tag_key": B64.encode(tags.expose_secret()),
            "schedule": schedule,
        }))
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
        decode(self.post("/v1/enrollments".into(), body).await?, 201)
    }

    /// Asks for an ad-hoc challenge (an officer's tool, over mutual TLS).
    ///
    /// # Errors
    /// [`ApiError`], for example `daily_cap_reached`.
    pub async fn adhoc(&self, pseudonym: &Pseudonym) -> Result<SignedChallenge, ApiError> {
        decode(
            self.post(
                format!("/v1/participants/{pseudonym}/challenges"),
                Vec::new(),
            )
            .await?,
            201,
        )
    }
}
