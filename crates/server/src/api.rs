//! The HTTP API, version 1 (`/v1/...`), JSON. `GET /v1/openapi.json` serves its OpenAPI
//! description, generated from this code.
//!
//! Three kinds of caller, authenticated three ways:
//! - **officers**: a TLS client certificate from the officer CA (mutual TLS);
//! - **participants' devices**: every request signed with the device key (CHK-13); a
//!   check-in's envelope is itself signed (CHK-10);
//! - **anyone**: the policy, the keys, the custodians' signed recipients and the log, all
//!   public.
//!
//! No handler sees the peer's address or any header but those the protocol defines
//! (POL-20): the connection's address is dropped when it is accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::verify_envelope;
use minimis_log::tiles::{BundleId, TileId};
use minimis_proto::{
    ChallengeId, CiphertextBounds, Envelope, EpochId, Policy, Pseudonym, PublicKey, Receipt,
    Schedule, SealedCheckIn, Signature, SignedChallenge, SignedEpochRecipient, UnixTime,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::IngestMode;
use crate::error::ApiError;
use crate::store::sqlite::SqliteReader;
use crate::store::{FailureCategory, LedgerState, Resolution, StoreRead};
use crate::writer::{Enrollment, Op, PlaintextCheckIn, Shared};

/// The largest request body accepted (a check-in is under 2 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// How far a signed request's time may be from the server's clock.
pub const REQUEST_SKEW: i64 = 300;

/// The officer behind a connection, if it presented a valid certificate.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The officer's role pseudonym (certificate common name).
    pub officer: Option<String>,
}

/// A small pool of read-only database connections.
pub(crate) struct Readers {
    conns: Vec<std::sync::Mutex<SqliteReader>>,
    next: AtomicUsize,
}

impl Readers {
    pub(crate) fn new(conns: Vec<SqliteReader>) -> Self {
        Self {
            conns: conns.into_iter().map(std::sync::Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `f` with a reader, on the blocking pool.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&SqliteReader) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let i = this.next.fetch_add(1, Ordering::Relaxed) % this.conns.len().max(1);
            let guard = this.conns.get(i)?.lock().ok()?;
            f(&guard).ok()
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(ApiError::unavailable)
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) tx: mpsc::Sender<Op>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) readers: Arc<Readers>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) policy_text: Arc<str>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<KeysResponse>,
    pub(crate) bounds: CiphertextBounds,
    pub(crate) ingest_mode: IngestMode,
}

async fn ask<T>(
    state: &AppState,
    op: impl FnOnce(oneshot::Sender<Result<T, ApiError>>) -> Op,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .tx
        .send(op(tx))
        .await
        .map_err(|_| ApiError::unavailable())?;
    rx.await.map_err(|_| ApiError::unavailable())?
}

async fn body(b: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(b, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are at most {MAX_BODY} bytes"),
        )
    })
}

fn json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::malformed(e.to_string()))
}

fn officer(peer: &Peer) -> Result<String, ApiError> {
    peer.officer.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "officer routes need a client certificate from the officer CA",
        )
    })
}

fn pseudonym(s: &str) -> Result<Pseudonym, ApiError> {
    s.parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))
}

/// Checks a participant's signed request (CHK-13): `Authorization: Minimis-Device
/// pseudonym=<hex>,time=<unix seconds>,signature=<base64>`.
fn device_auth(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
    expected: &Pseudonym,
) -> Result<(), ApiError> {
    let bad = |code: &'static str, msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, msg);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| bad("missing_authorization", "the request is not signed"))?
        .to_str()
        .map_err(|_| bad("bad_authorization", "the Authorization header is not text"))?;
    let params = value
        .strip_prefix("Minimis-Device ")
        .ok_or_else(|| bad("bad_authorization", "expected the Minimis-Device scheme"))?;
    let (mut p, mut t, mut s) = (None, None, None);
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("pseudonym", v)) => p = Some(v),
            Some(("time", v)) => t = Some(v),
            Some(("signature", v)) => s = Some(v),
            _ => return Err(bad("bad_authorization", "unknown Authorization parameter")),
        }
    }
    let (Some(p), Some(t), Some(s)) = (p, t, s) else {
        return Err(bad(
            "bad_authorization",
            "Authorization needs pseudonym, time and signature",
        ));
    };
    let p: Pseudonym = p
        .parse()
        .map_err(|_| bad("bad_authorization", "bad pseudonym"))?;
    if &p != expected {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_yours",
            "a device may only act for its own pseudonym",
        ));
    }
    let t = UnixTime(
        t.parse()
            .map_err(|_| bad("bad_authorization", "bad time"))?,
    );
    let now = state.clock.now();
    if (now.seconds() - t.seconds()).abs() > REQUEST_SKEW {
        return Err(bad(
            "stale_request",
            "the request's time is more than five minutes from the server's",
        ));
    }
    let sig: [u8; 64] = B64
        .decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("bad_authorization", "bad signature encoding"))?;
    let key = device_key(state, &p)?;
    minimis_crypto::verify_request(&key, &p, method.as_str(), path, t, body, &Signature(sig))
        .map_err(|_| bad("bad_signature", "the request signature does not verify"))
}

fn device_key(state: &AppState, p: &Pseudonym) -> Result<PublicKey, ApiError> {
    state
        .shared
        .devices
        .read()
        .ok()
        .and_then(|d| d.get(p).map(|(k, _)| *k))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_participant",
                "no such participant",
            )
        })
}

// ---- public ----------------------------------------------------------------------------

/// The policy in force.
#[derive(Serialize, ToSchema)]
pub struct PolicyResponse {
    /// SHA-256 of the canonical encoding (POL-12), hex.
    pub hash: String,
    /// The policy file.
    pub toml: String,
}

#[utoipa::path(get, path = "/v1/policy", tag = "public",
    responses((status = 200, description = "The policy in force", body = PolicyResponse)))]
async fn get_policy(State(s): State<AppState>) -> Json<PolicyResponse> {
    Json(PolicyResponse {
        hash: s.policy.hash().to_hex(),
        toml: s.policy_text.to_string(),
    })
}

/// The operator's public keys.
#[derive(Serialize, ToSchema, Clone)]
pub struct KeysResponse {
    /// The key that signs challenges (Ed25519, base64).
    pub operator: String,
    /// The log's verifier key (C2SP signed-note vkey).
    pub log: String,
}

#[utoipa::path(get, path = "/v1/keys", tag = "public",
    responses((status = 200, description = "The operator's public keys", body = KeysResponse)))]
async fn get_keys(State(s): State<AppState>) -> Json<KeysResponse> {
    Json((*s.keys).clone())
}

#[utoipa::path(get, path = "/v1/epochs/{epoch}/recipients", tag = "public",
    params(("epoch" = u32, Path, description = "The epoch")),
    responses((status = 200, description = "The custodians' signed recipients for the epoch", body = [Object])))]
async fn get_recipients(
    State(s): State<AppState>,
    Path(epoch): Path<u32>,
) -> Result<Json<Vec<SignedEpochRecipient>>, ApiError> {
    let e = EpochId::new(epoch);
    Ok(Json(s.readers.with(move |r| r.recipients(e)).await?))
}

#[utoipa::path(post, path = "/v1/recipients", tag = "public",
    request_body(content = Object, description = "A SignedEpochRecipient (spec/checkin.md)"),
    responses((status = 204, description = "Stored"),
        (status = 422, description = "unknown_custodian or bad_signature")))]
async fn post_recipient(State(s): State<AppState>, b: Body) -> Result<StatusCode, ApiError> {
    let r: SignedEpochRecipient = json(&body(b).await?)?;
    ask(&s, |tx| Op::Recipient(Box::new(r), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- officers ------------------------------------------------------------------------

/// An enrollment (officer, mutual TLS).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The device's Ed25519 public key, base64 (ENR-2).
    pub device_key: String,
    /// The participant's tag key, base64, 32 bytes (ENR-3).
    pub tag_key: String,
    /// The schedule (spec/schedule.md).
    #[schema(value_type = Object)]
    pub schedule: Schedule,
}

/// What an enrollment returns.
#[derive(Serialize, ToSchema)]
pub struct EnrollResponse {
    /// The pseudonym the operator assigned (ENR-1), hex.
    pub pseudonym: String,
    /// The policy hash, hex.
    pub policy: String,
    /// The operator's keys.
    pub keys: KeysResponse,
}

#[utoipa::path(post, path = "/v1/enrollments", tag = "officers",
    request_body = EnrollRequest,
    responses((status = 201, description = "Enrolled", body = EnrollResponse),
        (status = 401, description = "client_certificate_required"),
        (status = 422, description = "schedule_out_of_policy")))]
async fn post_enrollment(
    State(s): State<AppState>,
    Extension(peer): Extension<Peer>,
    b: Body,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    officer(&peer)?;
    let req: EnrollRequest = json(&body(b).await?)?;
    let device_key: [u8; 32] = B64
        .decode(&req.device_key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ApiError::malformed("device_key must be 32 bytes of base64"))?;
    let tag_key: [u8; 32] = B64
        .decode(&req.tag_key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ApiError::malformed("tag_key must be 32 bytes of base64"))?;
    let e = Enrollment {
        device_key: PublicKey(device_key),
        tag_key: Zeroizing::new(tag_key),
        schedule: req.schedule,
    };
    let done = ask(&s, |tx| Op::Enroll(e, tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            pseudonym: done.pseudonym.to_hex(),
            policy: s.policy.hash().to_hex(),
            keys: (*s.keys).clone(),
        }),
    ))
}

#[utoipa::path(post, path = "/v1/enrollments/{pseudonym}/close", tag = "officers",
    params(("pseudonym" = String, Path)),
    responses((status = 204, description = "Closed; the ledger's retention countdown starts"),
        (status = 410, description = "enrollment_closed")))]
async fn post_close(
    State(s): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(p): Path<String>,
) -> Result<StatusCode, ApiError> {
    officer(&peer)?;
    let p = pseudonym(&p)?;
    ask(&s, |tx| Op::CloseEnrollment(p, tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/challenges", tag = "officers",
    params(("pseudonym" = String, Path)),
    responses((status = 201, description = "An ad-hoc challenge, logged and signed", body = Object),
        (status = 422, description = "outside_window, daily_cap_reached or adhoc_cap_reached")))]
async fn post_adhoc(
    State(s): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(p): Path<String>,
) -> Result<(StatusCode, Json<SignedChallenge>), ApiError> {
    officer(&peer)?;
    let p = pseudonym(&p)?;
    let c = ask(&s, |tx| Op::AdHoc(p, tx)).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// An officer's resolution of a ledger row.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `excused-technical`, `excused-other` or `not-excused`.
    #[schema(value_type = String)]
    pub resolution: Resolution,
}

/// A ledger row's new state.
#[derive(Serialize, ToSchema)]
pub struct StateResponse {
    /// The state.
    #[schema(value_type = Object)]
    pub state: LedgerState,
}

#[utoipa::path(post, path = "/v1/ledger/{challenge_id}/resolution", tag = "officers",
    params(("challenge_id" = String, Path)), request_body = ResolveRequest,
    responses((status = 200, description = "Resolved", body = StateResponse),
        (status = 409, description = "not_reviewable")))]
async fn post_resolution(
    State(s): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(c): Path<String>,
    b: Body,
) -> Result<Json<StateResponse>, ApiError> {
    let who = officer(&peer)?;
    let c: ChallengeId = c
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let req: ResolveRequest = json(&body(b).await?)?;
    let state = ask(&s, |tx| Op::Resolve(c, req.resolution, who, tx)).await?;
    Ok(Json(StateResponse { state }))
}

// ---- participants' devices -------------------------------------------------------------

fn path_of(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/challenges", tag = "participants",
    params(("pseudonym" = String, Path)),
    responses((status = 200, description = "Open challenges, signed by the operator", body = [Object]),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request, bad_signature")))]
async fn get_challenges(
    State(s): State<AppState>,
    Path(p): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<SignedChallenge>>, ApiError> {
    let p = pseudonym(&p)?;
    device_auth(&s, &headers, &method, &path_of(&uri), b"", &p)?;
    let rows = s.readers.with(move |r| r.ledger(&p)).await?;
    Ok(Json(
        rows.into_iter()
            .filter(|r| r.state == LedgerState::Open)
            .map(|r| r.signed)
            .collect(),
    ))
}

/// One row of a participant's ledger, as the participant sees it.
#[derive(Serialize, ToSchema)]
pub struct LedgerRow {
    /// The challenge.
    #[schema(value_type = Object)]
    pub challenge: SignedChallenge,
    /// Its state.
    #[schema(value_type = Object)]
    pub state: LedgerState,
    /// A technical-failure report filed for it.
    #[schema(value_type = Option<String>)]
    pub failure_report: Option<FailureCategory>,
}

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/ledger", tag = "participants",
    params(("pseudonym" = String, Path)),
    responses((status = 200, description = "The participant's own ledger", body = [LedgerRow])))]
async fn get_ledger(
    State(s): State<AppState>,
    Path(p): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<LedgerRow>>, ApiError> {
    let p = pseudonym(&p)?;
    device_auth(&s, &headers, &method, &path_of(&uri), b"", &p)?;
    let rows = s.readers.with(move |r| r.ledger(&p)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| LedgerRow {
                challenge: r.signed,
                state: r.state,
                failure_report: r.failure_report,
            })
            .collect(),
    ))
}

/// A technical-failure report (CHK-23).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureReportRequest {
    /// The challenge it concerns, hex.
    pub challenge_id: String,
    /// `no-network`, `app-error`, `device-error`, `presence-unavailable` or `other`.
    #[schema(value_type = String)]
    pub category: FailureCategory,
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/failure-reports", tag = "participants",
    params(("pseudonym" = String, Path)), request_body = FailureReportRequest,
    responses((status = 204, description = "Attached to the ledger row for review")))]
async fn post_failure_report(
    State(s): State<AppState>,
    Path(p): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<StatusCode, ApiError> {
    let p = pseudonym(&p)?;
    let bytes = body(b).await?;
    device_auth(&s, &headers, &method, &path_of(&uri), &bytes, &p)?;
    let req: FailureReportRequest = json(&bytes)?;
    let c: ChallengeId = req
        .challenge_id
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    ask(&s, |tx| Op::FailureReport(p, c, req.category, tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An envelope as it arrives, before its length is checked against the policy's bound.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    pseudonym: Pseudonym,
    challenge_id: ChallengeId,
    epoch: EpochId,
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    ciphertext: Vec<u8>,
    signature: Signature,
}

/// What a check-in returns.
#[derive(Serialize, ToSchema)]
pub struct CheckInResponse {
    /// The receipt: the record id and a C2SP tlog-proof against the batch's checkpoint.
    #[schema(value_type = Object)]
    pub receipt: Receipt,
    /// `on-time` or `late`.
    #[schema(value_type = Object)]
    pub state: LedgerState,
}

#[utoipa::path(post, path = "/v1/checkins", tag = "participants",
    request_body(content = Object, description = "An Envelope (spec/checkin.md)"),
    responses((status = 201, description = "Stored durably and logged", body = CheckInResponse),
        (status = 400, description = "malformed"),
        (status = 401, description = "bad_signature"),
        (status = 403, description = "challenge_not_yours"),
        (status = 404, description = "unknown_participant or unknown_challenge"),
        (status = 409, description = "challenge_already_answered"),
        (status = 410, description = "enrollment_closed"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "ciphertext_length, challenge_not_open, challenge_expired, wrong_epoch or unsigned_epoch"),
        (status = 503, description = "storage_unavailable")))]
async fn post_checkin(
    State(s): State<AppState>,
    b: Body,
) -> Result<(StatusCode, Json<CheckInResponse>), ApiError> {
    let bytes = body(b).await?;
    let raw: RawEnvelope = json(&bytes)?;
    // The length bound is checked before anything else (CHK-11, SEAL-4).
    let ciphertext = SealedCheckIn::new(raw.ciphertext, s.bounds).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ciphertext_length",
            e.to_string(),
        )
    })?;
    let env = Envelope {
        pseudonym: raw.pseudonym,
        challenge_id: raw.challenge_id,
        epoch: raw.epoch,
        ciphertext,
        signature: raw.signature,
    };
    let key = device_key(&s, &env.pseudonym)?;
    // Length bound first, then the device signature (CHK-11); both before the writer.
    let verified = verify_envelope(env, &key, s.bounds).map_err(|e| match e {
        minimis_crypto::EnvelopeError::CiphertextLength(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
        }
        _ => ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()),
    })?;
    let done = ask(&s, |tx| Op::CheckIn(Box::new(verified), tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckInResponse {
            receipt: done.receipt(),
            state: done.state,
        }),
    ))
}

/// A check-in in the clear: the benchmark comparator's request
/// ([`IngestMode::DangerousPlaintextBaseline`]). Never served by a minimis server.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaintextCheckIn {
    pseudonym: Pseudonym,
    challenge_id: ChallengeId,
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    payload: Vec<u8>,
}

/// What the benchmark comparator answers.
#[derive(Serialize)]
struct PlaintextCheckInResponse {
    id: i64,
    state: LedgerState,
}

/// `POST /v1/checkins` in the benchmark comparator's mode: the participant must be
/// enrolled (the session lookup a conventional vendor does), the payload is 512 bytes,
/// and the writer checks the challenge, sets the ledger row and stores the payload in the
/// clear. No signature, no log, no receipt.
async fn post_checkin_plaintext_baseline(
    State(s): State<AppState>,
    b: Body,
) -> Result<(StatusCode, Json<PlaintextCheckInResponse>), ApiError> {
    let bytes = body(b).await?;
    let raw: RawPlaintextCheckIn = json(&bytes)?;
    if raw.payload.len() != minimis_proto::payload::PAYLOAD_LEN {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload_length",
            "a plaintext payload is 512 bytes",
        ));
    }
    device_key(&s, &raw.pseudonym)?;
    let c = PlaintextCheckIn {
        pseudonym: raw.pseudonym,
        challenge_id: raw.challenge_id,
        payload: raw.payload,
    };
    let done = ask(&s, |tx| Op::PlaintextCheckIn(Box::new(c), tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(PlaintextCheckInResponse {
            id: done.id,
            state: done.state,
        }),
    ))
}

// ---- the log -------------------------------------------------------------------------

fn bytes_response(content_type: &'static str, data: Vec<u8>) -> Response {
    let mut r = data.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "public",
    responses((status = 200, description = "The latest checkpoint (C2SP tlog-checkpoint, signed note)", content_type = "text/plain")))]
async fn get_checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    let cp =
        s.readers.with(|r| r.checkpoint()).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no checkpoint yet")
        })?;
    Ok(bytes_response("text/plain; charset=utf-8", cp.into_bytes()))
}

/// Parses an index in the tlog-tiles path encoding (`x001/x234/067`).
fn parse_index(parts: &[&str]) -> Option<u64> {
    let (last, rest) = parts.split_last()?;
    let mut n: u64 = 0;
    for p in rest {
        let d = p.strip_prefix('x')?;
        if d.len() != 3 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(d.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.checked_mul(1000)?.checked_add(last.parse().ok()?)
}

/// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
fn parse_tile_path(path: &str) -> Option<Result<TileId, BundleId>> {
    let (main, width) = match path.split_once(".p/") {
        Some((m, w)) => {
            let w: u16 = w.parse().ok().filter(|w| (1..=255).contains(w))?;
            (m, w)
        }
        None => (path, 256),
    };
    let mut parts: Vec<&str> = main.split('/').collect();
    if parts.is_empty() {
        return None;
    }
    let first = parts.remove(0);
    let index = parse_index(&parts)?;
    let canonical = |id: String| (id == path).then_some(());
    if first == "entries" {
        let b = BundleId::new(index, width).ok()?;
        canonical(b.path().trim_start_matches("tile/").to_owned())?;
        Some(Err(b))
    } else {
        let level: u8 = first.parse().ok()?;
        let t = TileId::new(level, index, width).ok()?;
        canonical(t.path().trim_start_matches("tile/").to_owned())?;
        Some(Ok(t))
    }
}

#[utoipa::path(get, path = "/v1/log/tile/{path}", tag = "public",
    params(("path" = String, Path, description = "A C2SP tlog-tiles tile or entry-bundle path")),
    responses((status = 200, description = "The tile or bundle", content_type = "application/octet-stream"),
        (status = 404, description = "not_found")))]
async fn get_tile(
    State(s): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such tile");
    let which = parse_tile_path(&path).ok_or_else(not_found)?;
    let data = match which {
        Ok(t) => s.readers.with(move |r| r.tile(t)).await?,
        Err(b) => s.readers.with(move |r| r.bundle(b)).await?,
    }
    .ok_or_else(not_found)?;
    Ok(bytes_response("application/octet-stream", data))
}

// ---- the document ----------------------------------------------------------------------

/// The OpenAPI description of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "minimis operator API",
        version = "1",
        description = "The operator's server: sealed check-ins it cannot read, a compliance ledger with no content, and the transparency log. See spec/operator.md."
    ),
    paths(
        get_policy,
        get_keys,
        get_recipients,
        post_recipient,
        post_enrollment,
        post_close,
        post_adhoc,
        post_resolution,
        get_challenges,
        get_ledger,
        post_failure_report,
        post_checkin,
        get_checkpoint,
        get_tile
    ),
    components(schemas(
        PolicyResponse,
        KeysResponse,
        EnrollRequest,
        EnrollResponse,
        ResolveRequest,
        StateResponse,
        LedgerRow,
        FailureReportRequest,
        CheckInResponse
    ))
)]
pub struct ApiDoc;

async fn get_openapi() -> Response {
    bytes_response(
        "application/json",
        ApiDoc::openapi().to_json().unwrap_or_default().into_bytes(),
    )
}

/// The only request log there is (POL-20): the method, the route's template (never the
/// path, which names a pseudonym), and the status. No address, no header, no time.
async fn log_request(
    matched: Option<axum::extract::MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.method().clone();
    let route = matched.map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    tracing::info!(%method, %route, status = resp.status().as_u16(), "request");
    resp
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub(crate) fn router(state: AppState) -> Router {
    let checkins = match state.ingest_mode {
        IngestMode::Sealed => post(post_checkin),
        IngestMode::DangerousPlaintextBaseline => post(post_checkin_plaintext_baseline),
    };
    Router::new()
        .route("/v1/policy", get(get_policy))
        .route("/v1/keys", get(get_keys))
        .route("/v1/epochs/{epoch}/recipients", get(get_recipients))
        .route("/v1/recipients", post(post_recipient))
        .route("/v1/enrollments", post(post_enrollment))
        .route("/v1/enrollments/{pseudonym}/close", post(post_close))
        .route(
            "/v1/participants/{pseudonym}/challenges",
            get(get_challenges).post(post_adhoc),
        )
        .route("/v1/participants/{pseudonym}/ledger", get(get_ledger))
        .route(
            "/v1/participants/{pseudonym}/failure-reports",
            post(post_failure_report),
        )
        .route(
            "/v1/ledger/{challenge_id}/resolution",
            post(post_resolution),
        )
        .route("/v1/checkins", checkins)
        .route("/v1/log/checkpoint", get(get_checkpoint))
        .route("/v1/log/tile/{*path}", get(get_tile))
        .route("/v1/openapi.json", get(get_openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_parse_only_in_canonical_form() {
        assert!(matches!(parse_tile_path("0/000"), Some(Ok(_))));
        assert!(matches!(parse_tile_path("1/x001/234.p/12"), Some(Ok(_))));
        assert!(matches!(parse_tile_path("entries/000.p/7"), Some(Err(_))));
        for bad in [
            "",
            "0/0",
            "0/000.p/0",
            "0/000.p/256",
            "9x/000",
            "0/x1/000",
            "../000",
        ] {
            assert!(parse_tile_path(bad).is_none(), "{bad}");
        }
    }
}
