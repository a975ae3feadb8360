//! The HTTP API, version 1 (`/v1/...`), JSON. `GET /v1/openapi.json` serves its OpenAPI
//! description, generated from this code.
//!
//! Its callers, each authenticated its own way:
//! - **officers**: a TLS client certificate from the officer CA (mutual TLS);
//! - **participants' devices**: every request signed with the device key (CHK-13); a
//!   check-in's envelope is itself signed (CHK-10);
//! - **key custodians**: every request signed with the custodian's key;
//! - **the agency's case system**: every request signed with its request key, configured
//!   at the operator (`Minimis-Case`, spec/obligations.md, **OBL-5**);
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
    SealedCheckIn, Signature, SignedChallenge, SignedEpochRecipient, UnixTime,
};
use serde::Deserialize;
#[cfg(feature = "dangerous-plaintext-baseline")]
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use utoipa::OpenApi;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::IngestMode;
use crate::error::{ApiError, OperatorRefusal};
use crate::store::{
    ChallengeRow, LedgerState, ReadStore, ReadTiles, SealedTextRow, Statement, TextRef,
    sealed_text_id,
};
#[cfg(feature = "dangerous-plaintext-baseline")]
use crate::writer::PlaintextCheckIn;
use crate::writer::{Attachment, CheckIn, Delivered, Enrollment, Op, RowView, Shared};
use minimis_proto::obligations::{DeliveryAck, SealedDelivery, SignedFiling, SignedInboxRecipient};
use minimis_proto::{DeliveryId, FilingId, RecordId};
use minimis_wire::operator::{
    AcknowledgementResponse, CASE_PAGE, CaseEntryRequest, CaseEntryResponse, CheckInRequest,
    CheckInResponse, ConditionItem, DELIVERY_PAGE, DeliveryItem, DeliveryPosted, DeliveryRequest,
    EnrollRequest, EnrollResponse, EntriesRequest, EntriesResponse, FailureReportRequest,
    FailureReportView, FilingItem, FilingReceipt, HoldRequest, KeysResponse, LedgerRow, OfficerRow,
    PolicyResponse, RecordKind, RecordResponse, ResolveRequest, SealedText, StateResponse,
    StatementRequest, StatementView, TextLink,
};

/// The largest request body accepted (a check-in is under 2 KiB).
pub const MAX_BODY: usize = 16 * 1024;
/// How far a signed request's time may be from the server's clock.
pub const REQUEST_SKEW: i64 = 300;

/// Whether a signed request's time `t` is within [`REQUEST_SKEW`] of `now`, for any `t`
/// the caller writes (no overflow at the ends of time).
fn within_skew(now: UnixTime, t: UnixTime) -> bool {
    now.seconds().abs_diff(t.seconds()) <= REQUEST_SKEW.unsigned_abs()
}

/// The officer behind a connection, if it presented a valid certificate.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The officer's role pseudonym (certificate common name).
    pub officer: Option<String>,
}

/// A small pool of readers of the store (on SQLite: read-only connections), whichever
/// backend it is: every read the API does goes through [`ReadStore`].
pub(crate) struct Readers {
    conns: Vec<std::sync::Mutex<Box<dyn ReadStore>>>,
    next: AtomicUsize,
}

impl Readers {
    pub(crate) fn new(conns: Vec<Box<dyn ReadStore>>) -> Self {
        Self {
            conns: conns.into_iter().map(std::sync::Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `f` with a reader, on the blocking pool.
    pub(crate) async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn ReadStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let i = this.next.fetch_add(1, Ordering::Relaxed) % this.conns.len().max(1);
            let guard = this.conns.get(i)?.lock().ok()?;
            f(&**guard).ok()
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
    /// The custodians' keys, by role: their requests are signed with them.
    pub(crate) custodians: Arc<Vec<(minimis_proto::CustodianRole, PublicKey)>>,
    /// The log's verifier key, to make receipts from the stored tiles.
    pub(crate) log_key: Arc<minimis_log::VerifierKey>,
    /// The agency case system's request key (**OBL-5**); `None`: no case-system route
    /// answers.
    pub(crate) case_system: Option<PublicKey>,
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
            OperatorRefusal::BodyTooLarge,
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
            OperatorRefusal::ClientCertificateRequired,
            "officer routes need a client certificate from the officer CA",
        )
    })
}

fn pseudonym(s: &str) -> Result<Pseudonym, ApiError> {
    s.parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))
}

/// The parameters of a signed request's `Authorization` header (**CHK-41**).
#[derive(Debug, PartialEq, Eq)]
struct Credentials<'a> {
    /// `pseudonym=` (a device) or `role=` (a custodian), as written.
    who: &'a str,
    /// `time=`.
    time: UnixTime,
    /// `signature=`.
    signature: Signature,
}

/// Parses `<scheme> <first>=<who>,time=<t>,signature=<base64>` in the one form CHK-41
/// gives: the scheme and the parameter names spelled exactly, one space, the three
/// parameters in this order, each once, separated by a comma without spaces; `time` a
/// canonical decimal i64; `signature` the canonical padded base64 of 64 bytes. Anything
/// else is refused, so that a request has one spelling.
fn parse_credentials<'a>(
    value: &'a str,
    scheme: &str,
    first: &str,
) -> Result<Credentials<'a>, &'static str> {
    let rest = value
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or("the Authorization header does not start with its scheme and one space")?;
    let mut parts = rest.split(',');
    let mut param = |name: &str| -> Result<&'a str, &'static str> {
        parts
            .next()
            .and_then(|p| p.split_once('='))
            .filter(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v)
            .ok_or("Authorization parameters must be the scheme's three, in order, each once")
    };
    let who = param(first)?;
    let time = param("time")?;
    let signature = param("signature")?;
    if parts.next().is_some() {
        return Err("Authorization parameters must be the scheme's three, in order, each once");
    }
    let digits = time.strip_prefix('-').unwrap_or(time);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && time != "-0";
    let time = canonical
        .then(|| time.parse::<i64>().ok())
        .flatten()
        .ok_or("bad time")?;
    let signature: [u8; 64] = (signature.len() == 88)
        .then(|| B64.decode(signature).ok())
        .flatten()
        .and_then(|v| v.try_into().ok())
        .ok_or("bad signature encoding")?;
    Ok(Credentials {
        who,
        time: UnixTime(time),
        signature: Signature(signature),
    })
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
    let bad = |refusal: OperatorRefusal, msg: &str| ApiError::new(refusal, msg);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            bad(
                OperatorRefusal::MissingAuthorization,
                "the request is not signed",
            )
        })?
        .to_str()
        .map_err(|_| {
            bad(
                OperatorRefusal::BadAuthorization,
                "the Authorization header is not text",
            )
        })?;
    let creds = parse_credentials(value, "Minimis-Device", "pseudonym")
        .map_err(|why| bad(OperatorRefusal::BadAuthorization, why))?;
    let p: Pseudonym = creds
        .who
        .parse()
        .ok()
        .filter(|p: &Pseudonym| p.to_string() == creds.who)
        .ok_or_else(|| bad(OperatorRefusal::BadAuthorization, "bad pseudonym"))?;
    if &p != expected {
        return Err(ApiError::new(
            OperatorRefusal::NotYours,
            "a device may only act for its own pseudonym",
        ));
    }
    let (t, sig) = (creds.time, creds.signature);
    if !within_skew(state.clock.now(), t) {
        return Err(bad(
            OperatorRefusal::StaleRequest,
            "the request's time is more than five minutes from the server's",
        ));
    }
    let key = device_key(state, &p)?;
    minimis_crypto::verify_request(&key, &p, method.as_str(), path, t, body, &sig).map_err(|_| {
        bad(
            OperatorRefusal::BadSignature,
            "the request signature does not verify",
        )
    })
}

fn device_key(state: &AppState, p: &Pseudonym) -> Result<PublicKey, ApiError> {
    state
        .shared
        .devices
        .read()
        .ok()
        .and_then(|d| d.get(p).map(|(k, _)| *k))
        .ok_or_else(|| ApiError::new(OperatorRefusal::UnknownParticipant, "no such participant"))
}

/// Checks a key custodian's signed request: `Authorization: Minimis-Custodian
/// role=<agency|oversight>,time=<unix seconds>,signature=<base64>` over
/// `minimis_proto::messages::custodian_request_signing_input`, under the key configured
/// for that role. Returns the role.
fn custodian_auth(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<minimis_proto::CustodianRole, ApiError> {
    use minimis_proto::CustodianRole;
    let bad = |refusal: OperatorRefusal, msg: &str| ApiError::new(refusal, msg);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            bad(
                OperatorRefusal::MissingAuthorization,
                "the request is not signed",
            )
        })?
        .to_str()
        .map_err(|_| {
            bad(
                OperatorRefusal::BadAuthorization,
                "the Authorization header is not text",
            )
        })?;
    let creds = parse_credentials(value, "Minimis-Custodian", "role")
        .map_err(|why| bad(OperatorRefusal::BadAuthorization, why))?;
    let role = match creds.who {
        "agency" => CustodianRole::Agency,
        "oversight" => CustodianRole::Oversight,
        _ => {
            return Err(bad(
                OperatorRefusal::BadAuthorization,
                "unknown custodian role",
            ));
        }
    };
    let (t, sig) = (creds.time, creds.signature);
    if !within_skew(state.clock.now(), t) {
        return Err(bad(
            OperatorRefusal::StaleRequest,
            "the request's time is more than five minutes from the server's",
        ));
    }
    let key = state
        .custodians
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            bad(
                OperatorRefusal::BadSignature,
                "no custodian with this role is configured",
            )
        })?;
    minimis_crypto::verify_custodian_request(&key, role, method.as_str(), path, t, body, &sig)
        .map_err(|_| {
            bad(
                OperatorRefusal::BadSignature,
                "the request signature does not verify",
            )
        })?;
    Ok(role)
}

/// Checks the agency case system's signed request (**OBL-5**): `Authorization:
/// Minimis-Case time=<unix seconds>,signature=<base64>` over
/// `minimis_proto::messages::case_request_signing_input`, under the configured key. Every
/// failure is `case_system_required` (or `stale_request`): these routes answer no one else.
fn case_auth(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let refuse = |msg: &str| ApiError::new(OperatorRefusal::CaseSystemRequired, msg);
    let key = state
        .case_system
        .ok_or_else(|| refuse("this operator has no case system configured"))?;
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse("the request is not signed by the case system"))?;
    let params = value
        .strip_prefix("Minimis-Case ")
        .ok_or_else(|| refuse("expected the Minimis-Case scheme"))?;
    let (mut t, mut s) = (None, None);
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("time", v)) if t.is_none() => t = Some(v),
            Some(("signature", v)) if s.is_none() => s = Some(v),
            _ => return Err(refuse("unknown or repeated Authorization parameter")),
        }
    }
    let (Some(t), Some(s)) = (t, s) else {
        return Err(refuse("Authorization needs time and signature"));
    };
    let t = UnixTime(t.parse().map_err(|_| refuse("bad time"))?);
    if !within_skew(state.clock.now(), t) {
        return Err(ApiError::new(
            OperatorRefusal::StaleRequest,
            "the request's time is more than five minutes from the server's",
        ));
    }
    let sig: [u8; 64] = B64
        .decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| refuse("bad signature encoding"))?;
    minimis_crypto::verify_case_request(&key, method.as_str(), path, t, body, &Signature(sig))
        .map_err(|_| refuse("the request signature does not verify under the case system's key"))
}

/// The `after` cursor of a case-system page (`?after=<u64>`, the only parameter).
fn cursor(uri: &axum::http::Uri) -> Result<u64, ApiError> {
    match uri.query() {
        None => Ok(0),
        Some(q) => q
            .strip_prefix("after=")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::malformed("the only query parameter is after=<u64>")),
    }
}

/// Refuses what needs the obligations when the policy has none (**OBL-22**).
fn obligations_in_force(state: &AppState) -> Result<(), ApiError> {
    match state.policy.obligations() {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            OperatorRefusal::ObligationsNotInForce,
            "the policy has no [obligations] table",
        )),
    }
}

// ---- public ----------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/policy", tag = "public",
    responses((status = 200, description = "The policy in force", body = PolicyResponse)))]
async fn get_policy(State(s): State<AppState>) -> Json<PolicyResponse> {
    Json(PolicyResponse {
        hash: s.policy.hash().to_hex(),
        toml: s.policy_text.to_string(),
    })
}

#[utoipa::path(get, path = "/v1/keys", tag = "public",
    responses((status = 200, description = "The operator's public keys", body = KeysResponse)))]
async fn get_keys(State(s): State<AppState>) -> Json<KeysResponse> {
    Json((*s.keys).clone())
}

#[utoipa::path(get, path = "/v1/epochs/{epoch}/recipients", tag = "public",
    params(("epoch" = EpochId, Path, description = "The epoch")),
    responses((status = 200, description = "The custodians' signed recipients for the epoch", body = [SignedEpochRecipient])))]
async fn get_recipients(
    State(s): State<AppState>,
    Path(epoch): Path<u32>,
) -> Result<Json<Vec<SignedEpochRecipient>>, ApiError> {
    let e = EpochId::new(epoch);
    Ok(Json(s.readers.with(move |r| r.recipients(e)).await?))
}

#[utoipa::path(post, path = "/v1/recipients", tag = "public",
    request_body(content = SignedEpochRecipient, description = "A custodian's signed recipient for an epoch (spec/checkin.md, SEAL-7)"),
    responses((status = 204, description = "Stored, or the same recipient was already stored"),
        (status = 409, description = "recipient_already_published (SEAL-23)"),
        (status = 422, description = "unknown_custodian or bad_recipient_signature (SEAL-24)")))]
async fn post_recipient(State(s): State<AppState>, b: Body) -> Result<StatusCode, ApiError> {
    let r: SignedEpochRecipient = json(&body(b).await?)?;
    ask(&s, |tx| Op::Recipient(Box::new(r), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- officers ------------------------------------------------------------------------

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
    let e = Enrollment {
        device_key: req.device_key,
        tag_key: Zeroizing::new(*req.tag_key.expose_secret()),
        schedule: req.schedule,
        conditions: req.conditions,
    };
    let done = ask(&s, |tx| Op::Enroll(e, tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            pseudonym: done.pseudonym,
            policy: s.policy.hash().to_hex(),
            keys: (*s.keys).clone(),
        }),
    ))
}

#[utoipa::path(post, path = "/v1/enrollments/{pseudonym}/close", tag = "officers",
    params(("pseudonym" = Pseudonym, Path)),
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
    params(("pseudonym" = Pseudonym, Path)),
    responses((status = 201, description = "An ad-hoc challenge, logged and signed", body = SignedChallenge),
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

#[utoipa::path(post, path = "/v1/ledger/{challenge_id}/resolution", tag = "officers",
    params(("challenge_id" = ChallengeId, Path)), request_body = ResolveRequest,
    responses((status = 200, description = "Resolved, and logged as `row resolved` (CHK-24)", body = StateResponse),
        (status = 400, description = "malformed: a missing or unknown resolution or reason"),
        (status = 401, description = "client_certificate_required"),
        (status = 404, description = "unknown_challenge"),
        (status = 409, description = "not_reviewable (the row is open or resolved already), report_not_read (not-excused before reading the row's failure report and statements)"),
        (status = 422, description = "reason_not_on_row: the reason names a report or statement the row does not have"),
        (status = 503, description = "storage_unavailable")))]
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
    let state = ask(&s, |tx| Op::Resolve(c, req.resolution, req.reason, who, tx)).await?;
    Ok(Json(StateResponse { state }))
}

impl From<TextRef> for TextLink {
    fn from(t: TextRef) -> Self {
        Self {
            id: t.id,
            epoch: t.epoch,
        }
    }
}

impl From<Statement> for StatementView {
    fn from(s: Statement) -> Self {
        Self {
            category: s.category,
            text: s.text.map(TextLink::from),
        }
    }
}

impl From<RowView> for OfficerRow {
    fn from(v: RowView) -> Self {
        let r = v.row;
        Self {
            challenge: r.signed,
            state: r.state,
            resolved_by: r.resolved_by,
            resolution_reason: r.resolution_reason,
            failure_report: r.failure_report.map(|category| FailureReportView {
                category,
                text: r.failure_text.map(TextLink::from),
            }),
            statements: v.statements.into_iter().map(StatementView::from).collect(),
        }
    }
}

#[utoipa::path(get, path = "/v1/ledger/{challenge_id}", tag = "officers",
    params(("challenge_id" = ChallengeId, Path)),
    responses((status = 200, description = "The row with its failure report and statements; the read is recorded, so that the officer may then resolve it not-excused (CHK-24)", body = OfficerRow),
        (status = 400, description = "malformed: a bad challenge id"),
        (status = 401, description = "client_certificate_required"),
        (status = 404, description = "unknown_challenge"),
        (status = 503, description = "storage_unavailable")))]
async fn get_ledger_row(
    State(s): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(c): Path<String>,
) -> Result<Json<OfficerRow>, ApiError> {
    let who = officer(&peer)?;
    let c: ChallengeId = c
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let view = ask(&s, |tx| Op::ReadRow(c, who, tx)).await?;
    Ok(Json(OfficerRow::from(view)))
}

// ---- participants' devices -------------------------------------------------------------

fn path_of(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/challenges", tag = "participants",
    params(("pseudonym" = Pseudonym, Path)),
    responses((status = 200, description = "Open challenges, signed by the operator", body = [SignedChallenge]),
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

/// A row of a participant's ledger, as the participant sees it.
fn ledger_row(r: ChallengeRow, statements: Vec<Statement>) -> LedgerRow {
    LedgerRow {
        challenge: r.signed,
        state: r.state,
        resolution_reason: r.resolution_reason,
        failure_report: r.failure_report,
        failure_text: r.failure_text.map(TextLink::from),
        statements: statements.into_iter().map(StatementView::from).collect(),
    }
}

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/ledger", tag = "participants",
    params(("pseudonym" = Pseudonym, Path)),
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
    let rows = s
        .readers
        .with(move |r| {
            r.ledger(&p)?
                .into_iter()
                .map(|row| {
                    let statements = r.statements(&row.signed.challenge.id)?;
                    Ok(ledger_row(row, statements))
                })
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .await?;
    Ok(Json(rows))
}

/// A sealed text as the writer takes it: its length checked against the policy's bound
/// (SEAL-4) and its id computed.
fn sealed_text(
    s: &AppState,
    p: Pseudonym,
    c: ChallengeId,
    t: SealedText,
) -> Result<SealedTextRow, ApiError> {
    let ciphertext = SealedCheckIn::new(t.ciphertext, s.bounds)
        .map_err(|e| ApiError::new(OperatorRefusal::CiphertextLength, e.to_string()))?;
    let epoch = t.epoch;
    Ok(SealedTextRow {
        text_id: sealed_text_id(&p, &c, epoch, &ciphertext),
        pseudonym: p,
        challenge_id: c,
        epoch,
        ciphertext,
    })
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/failure-reports", tag = "participants",
    params(("pseudonym" = Pseudonym, Path)), request_body = FailureReportRequest,
    responses((status = 204, description = "Attached to the ledger row for review (the same report again changes nothing)"),
        (status = 400, description = "malformed: an unknown or missing field, a bad category, id or base64"),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature"),
        (status = 403, description = "not_yours or challenge_not_yours"),
        (status = 404, description = "unknown_participant or unknown_challenge"),
        (status = 409, description = "failure_report_exists: the row has another report; add to it with a statement"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "ciphertext_length, wrong_epoch or unsigned_epoch (the sealed text)"),
        (status = 503, description = "storage_unavailable")))]
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
    let c = req.challenge_id;
    let text = req.text.map(|t| sealed_text(&s, p, c, t)).transpose()?;
    let a = Attachment {
        pseudonym: p,
        challenge: c,
        category: req.category,
        text,
    };
    ask(&s, |tx| Op::FailureReport(Box::new(a), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/statements", tag = "participants",
    params(("pseudonym" = Pseudonym, Path)), request_body = StatementRequest,
    responses((status = 204, description = "Kept beside the row, which is unchanged (the same statement again changes nothing)"),
        (status = 400, description = "malformed: an unknown or missing field, a bad category, id or base64"),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature"),
        (status = 403, description = "not_yours or challenge_not_yours"),
        (status = 404, description = "unknown_participant or unknown_challenge"),
        (status = 409, description = "statement_limit: the row holds 8 statements already"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "ciphertext_length, wrong_epoch or unsigned_epoch (the sealed text)"),
        (status = 503, description = "storage_unavailable")))]
async fn post_statement(
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
    let req: StatementRequest = json(&bytes)?;
    let c = req.challenge_id;
    let text = req.text.map(|t| sealed_text(&s, p, c, t)).transpose()?;
    let a = Attachment {
        pseudonym: p,
        challenge: c,
        category: req.category,
        text,
    };
    ask(&s, |tx| Op::Statement(Box::new(a), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/checkins", tag = "participants",
    request_body = CheckInRequest,
    responses((status = 201, description = "Stored durably and logged, with its condition result if the enrollment is under conditions (OBL-4)", body = CheckInResponse),
        (status = 400, description = "malformed"),
        (status = 401, description = "bad_signature"),
        (status = 403, description = "challenge_not_yours"),
        (status = 404, description = "unknown_participant or unknown_challenge"),
        (status = 409, description = "challenge_already_answered"),
        (status = 410, description = "enrollment_closed"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "ciphertext_length, challenge_not_open, challenge_expired, wrong_epoch, unsigned_epoch, condition_required, condition_malformed or obligations_not_in_force"),
        (status = 503, description = "storage_unavailable")))]
async fn post_checkin(
    State(s): State<AppState>,
    b: Body,
) -> Result<(StatusCode, Json<CheckInResponse>), ApiError> {
    let bytes = body(b).await?;
    let raw: CheckInRequest = json(&bytes)?;
    // The length bound is checked before anything else (CHK-11, SEAL-4).
    let ciphertext = SealedCheckIn::new(raw.ciphertext, s.bounds)
        .map_err(|e| ApiError::new(OperatorRefusal::CiphertextLength, e.to_string()))?;
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
            ApiError::new(OperatorRefusal::CiphertextLength, e.to_string())
        }
        _ => ApiError::new(OperatorRefusal::BadSignature, e.to_string()),
    })?;
    // The condition result (OBL-4): for this envelope's participant and challenge, of the
    // length of 64 bytes sealed to one recipient, signed by the same device key. Whether
    // the enrollment needs one is the writer's to check.
    if let Some(c) = &raw.condition {
        obligations_in_force(&s)?;
        if c.pseudonym != verified.envelope().pseudonym
            || c.challenge_id != verified.envelope().challenge_id
        {
            return Err(ApiError::new(
                OperatorRefusal::ConditionMalformed,
                "the condition result is for another participant or challenge",
            ));
        }
        minimis_crypto::verify_condition(c, &key).map_err(|e| match e {
            minimis_crypto::SealedMessageError::Malformed(_) => {
                ApiError::new(OperatorRefusal::ConditionMalformed, e.to_string())
            }
            _ => ApiError::new(
                OperatorRefusal::BadSignature,
                "the condition result's signature does not verify",
            ),
        })?;
    }
    let c = CheckIn {
        envelope: verified,
        condition: raw.condition,
    };
    let done = ask(&s, |tx| Op::CheckIn(Box::new(c), tx)).await?;
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
#[cfg(feature = "dangerous-plaintext-baseline")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaintextCheckIn {
    pseudonym: Pseudonym,
    challenge_id: ChallengeId,
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    payload: Vec<u8>,
}

/// What the benchmark comparator answers.
#[cfg(feature = "dangerous-plaintext-baseline")]
#[derive(Serialize)]
struct PlaintextCheckInResponse {
    id: i64,
    state: LedgerState,
}

/// `POST /v1/checkins` in the benchmark comparator's mode: the participant must be
/// enrolled (the session lookup a conventional vendor does), the payload is 512 bytes,
/// and the writer checks the challenge, sets the ledger row and stores the payload in the
/// clear. No signature, no log, no receipt.
#[cfg(feature = "dangerous-plaintext-baseline")]
async fn post_checkin_plaintext_baseline(
    State(s): State<AppState>,
    b: Body,
) -> Result<(StatusCode, Json<PlaintextCheckInResponse>), ApiError> {
    let bytes = body(b).await?;
    let raw: RawPlaintextCheckIn = json(&bytes)?;
    if raw.payload.len() != minimis_proto::payload::PAYLOAD_LEN {
        return Err(ApiError::new(
            OperatorRefusal::PayloadLength,
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

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/receipts/{record_id}", tag = "participants",
    params(("pseudonym" = Pseudonym, Path), ("record_id" = RecordId, Path)),
    responses((status = 200, description = "A fresh receipt for one of the participant's records or filings (by filing id), against the latest checkpoint and its cosignatures", body = Receipt),
        (status = 404, description = "unknown_record")))]
async fn get_receipt(
    State(s): State<AppState>,
    Path((p, record)): Path<(String, String)>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Receipt>, ApiError> {
    let p = pseudonym(&p)?;
    device_auth(&s, &headers, &method, &path_of(&uri), b"", &p)?;
    let record: minimis_proto::RecordId = record
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let unknown = || ApiError::new(OperatorRefusal::UnknownRecord, "no such record of yours");
    let log_key = s.log_key.clone();
    let proof = s
        .readers
        .with(move |r| {
            // A check-in's record, or a filing's `filing received` entry (OBL-9).
            let row = match r.record(&record)? {
                Some(row) => Some((row.pseudonym, row.log_index)),
                None => r
                    .filing(&FilingId::from_bytes(*record.as_bytes()))?
                    .map(|f| (f.pseudonym, f.log_index)),
            };
            let Some((owner, log_index)) = row else {
                return Ok(None);
            };
            if owner != p {
                return Ok(None);
            }
            let reader = minimis_log::LogReader::open(ReadTiles(r), &log_key)
                .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?;
            // Against the newest checkpoint the witness cosigned, once it covers the record
            // (CHK-31); until then against the latest, uncosigned.
            let cosigned = r
                .meta(crate::writer::COSIGNED_CHECKPOINT)?
                .and_then(|b| minimis_log::SignedCheckpoint::open(&b, &log_key).ok())
                .filter(|c| c.checkpoint().tree_size() > log_index);
            let checkpoint = cosigned.as_ref().unwrap_or_else(|| reader.checkpoint());
            let proof = reader
                .inclusion_proof(log_index, checkpoint.checkpoint().tree_size())
                .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?;
            Ok(Some(
                minimis_log::TlogProof::new(log_index, proof.inclusion_path, checkpoint)
                    .to_string(),
            ))
        })
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(Receipt {
        record_id: record,
        tlog_proof: proof,
    }))
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/filings", tag = "participants",
    params(("pseudonym" = Pseudonym, Path)),
    request_body(content = SignedFiling, description = "A filing, sealed and signed by the device (spec/obligations.md, OBL-9)"),
    responses((status = 201, description = "Stored and logged as `filing received`; the receipt is the entry's tlog-proof (OBL-9)", body = FilingReceipt),
        (status = 400, description = "malformed"),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature (the request's or the filing's)"),
        (status = 403, description = "not_yours: the filing names another participant"),
        (status = 404, description = "unknown_participant"),
        (status = 409, description = "filing_already_received: a replay; fetch the receipt again"),
        (status = 410, description = "enrollment_closed"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "filing_malformed or obligations_not_in_force"),
        (status = 503, description = "storage_unavailable")))]
async fn post_filing(
    State(s): State<AppState>,
    Path(p): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<FilingReceipt>), ApiError> {
    let p = pseudonym(&p)?;
    let bytes = body(b).await?;
    device_auth(&s, &headers, &method, &path_of(&uri), &bytes, &p)?;
    obligations_in_force(&s)?;
    let filing: SignedFiling = json(&bytes)?;
    if filing.pseudonym != p {
        return Err(ApiError::new(
            OperatorRefusal::NotYours,
            "the filing names another participant",
        ));
    }
    let key = device_key(&s, &p)?;
    let filing_id = minimis_crypto::verify_filing(&filing, &key).map_err(|e| match e {
        minimis_crypto::SealedMessageError::Malformed(_) => {
            ApiError::new(OperatorRefusal::FilingMalformed, e.to_string())
        }
        _ => ApiError::new(
            OperatorRefusal::BadSignature,
            "the filing's signature does not verify",
        ),
    })?;
    let logged = ask(&s, |tx| Op::Filing(Box::new(filing), tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(FilingReceipt {
            filing_id,
            day: logged.day,
            tlog_proof: logged.proof.to_string(),
        }),
    ))
}

// ---- the agency's case system ----------------------------------------------------------

#[utoipa::path(get, path = "/v1/case/conditions", tag = "case system",
    params(("after" = Option<u64>, Query, description = "The cursor: the last `seq` seen (0 or absent for the first page)")),
    responses((status = 200, description = "Up to 256 condition results after the cursor, in the order stored, with their device signatures (OBL-5)", body = [ConditionItem]),
        (status = 400, description = "malformed: a query other than after=<u64>"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 503, description = "storage_unavailable")))]
async fn get_case_conditions(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<ConditionItem>>, ApiError> {
    case_auth(&s, &headers, &method, &path_of(&uri), b"")?;
    let after = cursor(&uri)?;
    let rows = s
        .readers
        .with(move |r| r.conditions_after(after, CASE_PAGE))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|c| ConditionItem {
                seq: c.seq,
                challenge_id: c.challenge_id,
                epoch: c.epoch,
                condition: minimis_proto::obligations::SignedConditionResult {
                    pseudonym: c.pseudonym,
                    challenge_id: c.challenge_id,
                    ciphertext: c.ciphertext,
                    signature: c.signature,
                },
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/case/filings", tag = "case system",
    params(("after" = Option<u64>, Query, description = "The cursor: the last `seq` seen (0 or absent for the first page)")),
    responses((status = 200, description = "Up to 256 filings after the cursor, in the order stored, with their device signatures and the day received (OBL-9)", body = [FilingItem]),
        (status = 400, description = "malformed: a query other than after=<u64>"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 503, description = "storage_unavailable")))]
async fn get_case_filings(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<FilingItem>>, ApiError> {
    case_auth(&s, &headers, &method, &path_of(&uri), b"")?;
    let after = cursor(&uri)?;
    let rows = s
        .readers
        .with(move |r| r.filings_after(after, CASE_PAGE))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|f| FilingItem {
                seq: f.seq,
                day: f.day,
                acknowledged: f.acknowledged.is_some(),
                filing: SignedFiling {
                    pseudonym: f.pseudonym,
                    addressee: f.addressee,
                    ciphertext: f.ciphertext,
                    signature: f.signature,
                },
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/case/filings/{filing_id}/acknowledgement", tag = "case system",
    params(("filing_id" = FilingId, Path)),
    responses((status = 201, description = "Logged as `filing acknowledged` with the operator's day (OBL-10)", body = AcknowledgementResponse),
        (status = 400, description = "malformed: a bad filing id"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 404, description = "unknown_filing"),
        (status = 409, description = "filing_already_acknowledged"),
        (status = 503, description = "storage_unavailable")))]
async fn post_case_acknowledgement(
    State(s): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<AcknowledgementResponse>), ApiError> {
    let bytes = body(b).await?;
    case_auth(&s, &headers, &method, &path_of(&uri), &bytes)?;
    if !bytes.is_empty() {
        return Err(ApiError::malformed("an acknowledgement has no body"));
    }
    let id: FilingId = id
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let logged = ask(&s, |tx| Op::AcknowledgeFiling(id, tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(AcknowledgementResponse {
            day: logged.day,
            tlog_proof: logged.proof.to_string(),
        }),
    ))
}

#[utoipa::path(post, path = "/v1/case/entries", tag = "case system",
    request_body = CaseEntryRequest,
    responses((status = 201, description = "Logged, dated the operator's day (OBL-46)", body = CaseEntryResponse),
        (status = 400, description = "malformed: not base64, or not an entry"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 404, description = "unknown_review"),
        (status = 409, description = "review_already_opened, review_already_decided, review_not_decided, review_already_contested, review_not_contested, appeal_already_decided or conditions_summary_already_logged"),
        (status = 422, description = "entry_not_allowed, wrong_day, wrong_epoch, unknown_reason, contest_window_closed, epoch_not_closed or obligations_not_in_force"),
        (status = 503, description = "storage_unavailable")))]
async fn post_case_entry(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<CaseEntryResponse>), ApiError> {
    use minimis_log::LogEntry;
    let bytes = body(b).await?;
    case_auth(&s, &headers, &method, &path_of(&uri), &bytes)?;
    obligations_in_force(&s)?;
    let req: CaseEntryRequest = json(&bytes)?;
    let raw = B64
        .decode(&req.entry)
        .map_err(|_| ApiError::malformed("the entry is not base64"))?;
    let entry = LogEntry::decode(&raw).map_err(|err| ApiError::malformed(err.to_string()))?;
    let LogEntry::Obligation(entry) = entry else {
        return Err(ApiError::new(
            OperatorRefusal::EntryNotAllowed,
            "the case system logs conditions summaries and review steps only",
        ));
    };
    let logged = ask(&s, |tx| Op::CaseEntry(Box::new(entry), tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CaseEntryResponse {
            day: logged.day,
            tlog_proof: logged.proof.to_string(),
        }),
    ))
}

// ---- deliveries (OBL-11, OBL-12, OBL-43 to OBL-45) -------------------------------------

/// The shape of an age X25519 recipient: `age1` and 58 Bech32 characters (32 bytes and a
/// checksum). The operator cannot parse it further without age, which it never links
/// (SEAL-11); the device's signature covers it and the case system parses it before it
/// seals to it.
fn looks_like_age_recipient(r: &str) -> bool {
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    r.len() == 62 && r.starts_with("age1") && r[4..].chars().all(|c| BECH32.contains(c))
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/inboxes", tag = "participants",
    params(("pseudonym" = String, Path)),
    request_body(content = SignedInboxRecipient, description = "The device's signed inbox recipient (spec/obligations.md, OBL-11, OBL-43)"),
    responses((status = 204, description = "Stored; the same recipient again changes nothing"),
        (status = 400, description = "malformed"),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature (the request's or the recipient's)"),
        (status = 403, description = "not_yours: the recipient names another participant"),
        (status = 404, description = "unknown_participant"),
        (status = 409, description = "inbox_already_published: another recipient for the epoch"),
        (status = 410, description = "enrollment_closed"),
        (status = 422, description = "inbox_malformed, wrong_epoch (not the current epoch or the next) or obligations_not_in_force"),
        (status = 503, description = "storage_unavailable")))]
async fn post_inbox(
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
    obligations_in_force(&s)?;
    let inbox: SignedInboxRecipient = json(&bytes)?;
    if inbox.pseudonym != p {
        return Err(ApiError::new(
            OperatorRefusal::NotYours,
            "the inbox recipient names another participant",
        ));
    }
    if !looks_like_age_recipient(&inbox.recipient) {
        return Err(ApiError::new(
            OperatorRefusal::InboxMalformed,
            "not an age X25519 recipient",
        ));
    }
    let key = device_key(&s, &p)?;
    minimis_crypto::verify_inbox_recipient(&inbox, &key).map_err(|_| {
        ApiError::new(
            OperatorRefusal::BadSignature,
            "the inbox recipient's signature does not verify under the enrolled device key",
        )
    })?;
    ask(&s, |tx| Op::PublishInbox(Box::new(inbox), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/participants/{pseudonym}/deliveries", tag = "participants",
    params(("pseudonym" = String, Path)),
    responses((status = 200, description = "Up to 32 deliveries waiting for the device, in the order stored (OBL-44)", body = [DeliveryItem]),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature"),
        (status = 403, description = "not_yours"),
        (status = 404, description = "unknown_participant"),
        (status = 503, description = "storage_unavailable")))]
async fn get_deliveries(
    State(s): State<AppState>,
    Path(p): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<DeliveryItem>>, ApiError> {
    let p = pseudonym(&p)?;
    device_auth(&s, &headers, &method, &path_of(&uri), b"", &p)?;
    let rows = s
        .readers
        .with(move |r| r.pending_deliveries(&p, DELIVERY_PAGE))
        .await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|d| {
                Some(DeliveryItem {
                    delivery_id: d.delivery_id,
                    epoch: d.epoch,
                    day: d.day,
                    delivery: SealedDelivery {
                        ciphertext: d.ciphertext?,
                    },
                })
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/participants/{pseudonym}/deliveries/{delivery_id}/acknowledgement", tag = "participants",
    params(("pseudonym" = String, Path), ("delivery_id" = String, Path)),
    request_body(content = DeliveryAck, description = "The device's signed acknowledgement (spec/obligations.md, OBL-12)"),
    responses((status = 201, description = "The ciphertext is deleted and `delivery acknowledged` logged; its tlog-proof (OBL-45)", body = AcknowledgementResponse),
        (status = 400, description = "malformed: a bad delivery id, or one other than the acknowledgement's"),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature (the request's or the acknowledgement's)"),
        (status = 403, description = "not_yours"),
        (status = 404, description = "unknown_participant or unknown_delivery"),
        (status = 409, description = "delivery_already_acknowledged: a replay"),
        (status = 410, description = "enrollment_closed"),
        (status = 503, description = "storage_unavailable")))]
async fn post_delivery_acknowledgement(
    State(s): State<AppState>,
    Path((p, id)): Path<(String, String)>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<AcknowledgementResponse>), ApiError> {
    let p = pseudonym(&p)?;
    let bytes = body(b).await?;
    device_auth(&s, &headers, &method, &path_of(&uri), &bytes, &p)?;
    let id: DeliveryId = id
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let ack: DeliveryAck = json(&bytes)?;
    if ack.pseudonym != p {
        return Err(ApiError::new(
            OperatorRefusal::NotYours,
            "the acknowledgement names another participant",
        ));
    }
    if ack.delivery_id != id {
        return Err(ApiError::malformed(
            "the acknowledgement names another delivery than the path",
        ));
    }
    let key = device_key(&s, &p)?;
    minimis_crypto::verify_delivery_ack(&ack, &key).map_err(|_| {
        ApiError::new(
            OperatorRefusal::BadSignature,
            "the acknowledgement's signature does not verify under the enrolled device key",
        )
    })?;
    let logged = ask(&s, |tx| Op::AcknowledgeDelivery(Box::new(ack), tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(AcknowledgementResponse {
            day: logged.day,
            tlog_proof: logged.proof.to_string(),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/case/inboxes/{pseudonym}/{epoch}", tag = "case system",
    params(("pseudonym" = String, Path), ("epoch" = u32, Path)),
    responses((status = 200, description = "The participant's inbox recipient for the epoch, as the device signed it (OBL-43)", body = SignedInboxRecipient),
        (status = 400, description = "malformed"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 404, description = "no_inbox"),
        (status = 503, description = "storage_unavailable")))]
async fn get_case_inbox(
    State(s): State<AppState>,
    Path((p, epoch)): Path<(String, String)>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<SignedInboxRecipient>, ApiError> {
    case_auth(&s, &headers, &method, &path_of(&uri), b"")?;
    let p = pseudonym(&p)?;
    let epoch = EpochId::new(
        epoch
            .parse()
            .map_err(|_| ApiError::malformed("the epoch is a u32"))?,
    );
    let row = s
        .readers
        .with(move |r| r.inbox(&p, epoch))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                OperatorRefusal::NoInbox,
                "no inbox recipient for that participant and epoch",
            )
        })?;
    Ok(Json(SignedInboxRecipient {
        pseudonym: row.pseudonym,
        epoch: row.epoch,
        recipient: row.recipient,
        signature: row.signature,
    }))
}

#[utoipa::path(post, path = "/v1/case/deliveries", tag = "case system",
    request_body = DeliveryRequest,
    responses((status = 201, description = "Stored until the device acknowledges it (OBL-44)", body = DeliveryPosted),
        (status = 400, description = "malformed"),
        (status = 401, description = "case_system_required or stale_request"),
        (status = 404, description = "unknown_participant or no_inbox"),
        (status = 409, description = "delivery_already_received"),
        (status = 410, description = "enrollment_closed"),
        (status = 413, description = "body_too_large"),
        (status = 422, description = "delivery_malformed or obligations_not_in_force"),
        (status = 503, description = "storage_unavailable")))]
async fn post_case_delivery(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<DeliveryPosted>), ApiError> {
    let bytes = body(b).await?;
    case_auth(&s, &headers, &method, &path_of(&uri), &bytes)?;
    obligations_in_force(&s)?;
    let req: DeliveryRequest = json(&bytes)?;
    req.delivery
        .check_length()
        .map_err(|e| ApiError::new(OperatorRefusal::DeliveryMalformed, e.to_string()))?;
    let delivery_id = req.delivery.id();
    let d = Delivered {
        pseudonym: req.pseudonym,
        epoch: req.epoch,
        delivery: req.delivery,
    };
    ask(&s, |tx| Op::Deliver(Box::new(d), tx)).await?;
    Ok((StatusCode::CREATED, Json(DeliveryPosted { delivery_id })))
}

// ---- key custodians ------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/custodian/entries", tag = "custodians",
    request_body = EntriesRequest,
    responses((status = 201, description = "Logged; the proofs let the custodian check before it opens anything", body = EntriesResponse),
        (status = 401, description = "missing_authorization, bad_authorization, stale_request or bad_signature"),
        (status = 403, description = "not_your_entry"),
        (status = 422, description = "entry_not_allowed")))]
async fn post_custodian_entries(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<EntriesResponse>), ApiError> {
    use minimis_log::LogEntry;
    let bytes = body(b).await?;
    let role = custodian_auth(&s, &headers, &method, &path_of(&uri), &bytes)?;
    let req: EntriesRequest = json(&bytes)?;
    if req.entries.is_empty() || req.entries.len() > 64 {
        return Err(ApiError::malformed("between 1 and 64 entries"));
    }
    let me = s
        .policy
        .custodian(role)
        .map(|c| c.id.clone())
        .ok_or_else(|| {
            ApiError::new(
                OperatorRefusal::NotYourEntry,
                "the policy names no custodian with this role",
            )
        })?;
    let mut entries = Vec::with_capacity(req.entries.len());
    for e in &req.entries {
        let raw = B64
            .decode(e)
            .map_err(|_| ApiError::malformed("an entry is not base64"))?;
        let entry = LogEntry::decode(&raw).map_err(|err| ApiError::malformed(err.to_string()))?;
        minimis_wire::operator::custodian_may_append(&entry, &me).map_err(|r| {
            let why = match r {
                OperatorRefusal::EntryNotAllowed => {
                    "a custodian logs accesses, denials, key destructions and legal holds only"
                }
                _ => "the entry names another custodian",
            };
            ApiError::new(r, why)
        })?;
        entries.push(entry);
    }
    let proofs = ask(&s, |tx| Op::CustodianEntries(entries, tx)).await?;
    Ok((
        StatusCode::CREATED,
        Json(EntriesResponse {
            proofs: proofs.iter().map(ToString::to_string).collect(),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/custodian/records/{record_id}", tag = "custodians",
    params(("record_id" = String, Path, description = "A check-in's record id, or a sealed text's id")),
    responses((status = 200, description = "The record (a sealed check-in, or the sealed text of a failure report or statement)", body = RecordResponse),
        (status = 404, description = "unknown_record")))]
async fn get_custodian_record(
    State(s): State<AppState>,
    Path(record): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<RecordResponse>, ApiError> {
    custodian_auth(&s, &headers, &method, &path_of(&uri), b"")?;
    let id: minimis_proto::RecordId = record
        .parse()
        .map_err(|e: minimis_proto::ids::IdParseError| ApiError::malformed(e.to_string()))?;
    let found = s
        .readers
        .with(move |r| {
            if let Some(row) = r.record(&id)? {
                return Ok(Some((
                    row.record_id,
                    row.epoch,
                    row.pseudonym,
                    row.ciphertext,
                    RecordKind::CheckIn,
                    Some(row.challenge_id),
                )));
            }
            Ok(r.sealed_text(&id)?.map(|t| {
                (
                    t.text_id,
                    t.epoch,
                    t.pseudonym,
                    t.ciphertext,
                    RecordKind::SealedText,
                    None,
                )
            }))
        })
        .await?
        .ok_or_else(|| {
            ApiError::new(
                OperatorRefusal::UnknownRecord,
                "no such record (purged, or never stored)",
            )
        })?;
    let (record_id, epoch, pseudonym, ciphertext, kind, challenge) = found;
    Ok(Json(RecordResponse {
        record_id,
        epoch,
        pseudonym,
        ciphertext: ciphertext.as_bytes().to_vec(),
        kind,
        challenge_id: challenge,
    }))
}

#[utoipa::path(post, path = "/v1/custodian/holds", tag = "custodians",
    request_body = HoldRequest,
    responses((status = 204, description = "The records will not be purged until then")))]
async fn post_custodian_hold(
    State(s): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    b: Body,
) -> Result<StatusCode, ApiError> {
    let bytes = body(b).await?;
    custodian_auth(&s, &headers, &method, &path_of(&uri), &bytes)?;
    let req: HoldRequest = json(&bytes)?;
    let records = req.records;
    if records.is_empty() || records.len() > 1024 {
        return Err(ApiError::malformed("between 1 and 1024 records"));
    }
    ask(&s, |tx| Op::Hold(records, UnixTime(req.until), tx)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- the log -------------------------------------------------------------------------

fn bytes_response(content_type: &'static str, data: Vec<u8>) -> Response {
    let mut r = data.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "public",
    responses((status = 200, description = "The latest checkpoint (C2SP tlog-checkpoint, signed note)", body = String, content_type = "text/plain")))]
async fn get_checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    let cp = s
        .readers
        .with(|r| r.checkpoint())
        .await?
        .ok_or_else(|| ApiError::new(OperatorRefusal::NotFound, "no checkpoint yet"))?;
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
    responses((status = 200, description = "The tile or bundle", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, description = "not_found")))]
async fn get_tile(
    State(s): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(OperatorRefusal::NotFound, "no such tile");
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
        get_ledger_row,
        get_challenges,
        get_ledger,
        post_failure_report,
        post_statement,
        post_checkin,
        get_receipt,
        post_filing,
        get_case_conditions,
        get_case_filings,
        post_case_acknowledgement,
        post_case_entry,
        post_inbox,
        get_deliveries,
        post_delivery_acknowledgement,
        get_case_inbox,
        post_case_delivery,
        post_custodian_entries,
        get_custodian_record,
        post_custodian_hold,
        get_checkpoint,
        get_tile
    ),
    modifiers(&RefusalBodies),
    components(schemas(
        PolicyResponse,
        KeysResponse,
        EnrollRequest,
        EnrollResponse,
        ResolveRequest,
        StateResponse,
        TextLink,
        FailureReportView,
        StatementView,
        OfficerRow,
        LedgerRow,
        SealedText,
        FailureReportRequest,
        StatementRequest,
        CheckInRequest,
        CheckInResponse,
        FilingReceipt,
        ConditionItem,
        FilingItem,
        AcknowledgementResponse,
        CaseEntryRequest,
        CaseEntryResponse,
        DeliveryRequest,
        DeliveryPosted,
        SignedInboxRecipient,
        DeliveryAck,
        SealedDelivery,
        DeliveryItem,
        EntriesRequest,
        EntriesResponse,
        RecordResponse,
        HoldRequest
    ))
)]
pub struct ApiDoc;

/// Gives every failure answer of the document its body: the refusal object, its `code`
/// one of [`OperatorRefusal`]'s codes with that status (SVC-8, SVC-41), and adds the
/// schema of any refusal as the component `Refusal`.
struct RefusalBodies;

impl utoipa::Modify for RefusalBodies {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use minimis_wire::refusal::refusal_schema;
        use utoipa::openapi::RefOr;
        use utoipa::openapi::content::Content;
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, answer) in &mut op.responses.responses {
                    let Ok(code) = status.parse::<u16>() else {
                        continue;
                    };
                    if let RefOr::T(answer) = answer
                        && code >= 400
                        && answer.content.is_empty()
                    {
                        answer.content.insert(
                            "application/json".to_owned(),
                            RefOr::T(Content::new(Some(refusal_schema::<OperatorRefusal>(Some(
                                code,
                            ))))),
                        );
                    }
                }
            }
        }
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .insert(
                "Refusal".to_owned(),
                refusal_schema::<OperatorRefusal>(None),
            );
    }
}

async fn get_openapi() -> Response {
    bytes_response(
        "application/json",
        ApiDoc::openapi().to_json().unwrap_or_default().into_bytes(),
    )
}

/// The routes. The listener ([`minimis_service::listener`]) adds what every interface
/// has: bodies bounded and read in time before any handler, every refusal in JSON (an
/// unknown route is `404 not_found`, a method a route does not take `405
/// method_not_allowed`), and the request tally, the only request log there is: counts by
/// method, route template and status, written once a day, never a line per request
/// (**SVC-11**, **CHK-33**).
pub(crate) fn router(state: AppState) -> Router {
    let checkins = match state.ingest_mode {
        IngestMode::Sealed => post(post_checkin),
        #[cfg(feature = "dangerous-plaintext-baseline")]
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
            "/v1/participants/{pseudonym}/statements",
            post(post_statement),
        )
        .route("/v1/ledger/{challenge_id}", get(get_ledger_row))
        .route(
            "/v1/ledger/{challenge_id}/resolution",
            post(post_resolution),
        )
        .route("/v1/checkins", checkins)
        .route(
            "/v1/participants/{pseudonym}/receipts/{record_id}",
            get(get_receipt),
        )
        .route("/v1/participants/{pseudonym}/filings", post(post_filing))
        .route("/v1/case/conditions", get(get_case_conditions))
        .route("/v1/case/filings", get(get_case_filings))
        .route(
            "/v1/case/filings/{filing_id}/acknowledgement",
            post(post_case_acknowledgement),
        )
        .route("/v1/participants/{pseudonym}/inboxes", post(post_inbox))
        .route(
            "/v1/participants/{pseudonym}/deliveries",
            get(get_deliveries),
        )
        .route(
            "/v1/participants/{pseudonym}/deliveries/{delivery_id}/acknowledgement",
            post(post_delivery_acknowledgement),
        )
        .route("/v1/case/inboxes/{pseudonym}/{epoch}", get(get_case_inbox))
        .route("/v1/case/deliveries", post(post_case_delivery))
        .route("/v1/case/entries", post(post_case_entry))
        .route("/v1/custodian/entries", post(post_custodian_entries))
        .route(
            "/v1/custodian/records/{record_id}",
            get(get_custodian_record),
        )
        .route("/v1/custodian/holds", post(post_custodian_hold))
        .route("/v1/log/checkpoint", get(get_checkpoint))
        .route("/v1/log/tile/{*path}", get(get_tile))
        .route("/v1/openapi.json", get(get_openapi))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sto_1_the_api_and_the_witness_read_only_through_the_store_traits() {
        for (file, src) in [
            ("api.rs", include_str!("api.rs")),
            ("witness.rs", include_str!("witness.rs")),
        ] {
            // The code before its tests (this test's own strings do not count).
            let code = src.split("#[cfg(test)]").next().unwrap_or(src);
            for backend in ["rusqlite", "sqlite::", "SqliteReader", "tokio_postgres"] {
                assert!(!code.contains(backend), "{file} names {backend}");
            }
        }
    }

    use super::*;

    #[test]
    fn chk_13_aud_40_a_request_time_at_the_end_of_time_is_stale_not_a_panic() {
        // The time is the caller's: `now - t` overflowed for t near i64::MIN, and for the
        // one t at which it wrapped to exactly i64::MIN, `abs()` kept it negative, so
        // the request passed as fresh.
        let now = UnixTime(1_795_708_800);
        assert!(within_skew(now, now));
        assert!(within_skew(now, UnixTime(now.0 - 300)));
        assert!(within_skew(now, UnixTime(now.0 + 300)));
        assert!(!within_skew(now, UnixTime(now.0 + 301)));
        for t in [
            i64::MIN,
            i64::MIN + 1,
            now.0.wrapping_sub(i64::MIN),
            -1,
            i64::MAX,
        ] {
            assert!(!within_skew(now, UnixTime(t)), "{t}");
        }
        assert!(!within_skew(UnixTime(i64::MIN), UnixTime(i64::MAX)));
    }

    #[test]
    fn chk_41_authorization_has_one_spelling() {
        let sig = B64.encode([7u8; 64]);
        let good = format!("Minimis-Custodian role=oversight,time=1795708860,signature={sig}");
        assert_eq!(
            parse_credentials(&good, "Minimis-Custodian", "role"),
            Ok(Credentials {
                who: "oversight",
                time: UnixTime(1_795_708_860),
                signature: Signature([7; 64]),
            })
        );
        let neg = format!("Minimis-Device pseudonym=ab,time=-5,signature={sig}");
        assert_eq!(
            parse_credentials(&neg, "Minimis-Device", "pseudonym").map(|c| c.time),
            Ok(UnixTime(-5))
        );
        let mut bad_sig = [7u8; 64];
        bad_sig[63] = 8;
        let other = B64.encode(bad_sig);
        // Every other spelling of the same credentials is refused.
        for bad in [
            format!("minimis-custodian role=oversight,time=1795708860,signature={sig}"),
            format!("Minimis-Custodian  role=oversight,time=1795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight, time=1795708860,signature={sig}"),
            format!("Minimis-Custodian time=1795708860,role=oversight,signature={sig}"),
            format!("Minimis-Custodian Role=oversight,time=1795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=1795708860,signature={sig},role=agency"),
            format!("Minimis-Custodian role=oversight,role=agency,time=1795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=1795708860,signature={sig},"),
            format!("Minimis-Custodian role=,time=1795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=+1795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=01795708860,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=-0,signature={sig}"),
            format!("Minimis-Custodian role=oversight,time=9223372036854775808,signature={sig}"),
            format!(
                "Minimis-Custodian role=oversight,time=1795708860,signature={}",
                &sig[..86]
            ),
            format!("Minimis-Custodian role=oversight,time=1795708860,signature=\"{sig}\""),
            // Non-canonical base64: the last character's unused bits are not zero.
            format!(
                "Minimis-Custodian role=oversight,time=1795708860,signature={}B==",
                &other[..85]
            ),
            "Minimis-Custodian".to_owned(),
            String::new(),
        ] {
            assert!(
                parse_credentials(&bad, "Minimis-Custodian", "role").is_err(),
                "{bad}"
            );
        }
        assert!(parse_credentials(&good, "Minimis-Device", "pseudonym").is_err());
    }

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
