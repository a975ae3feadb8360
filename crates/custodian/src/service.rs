//! The custodian as a service: [`Custodian::start`] runs a [`Node`] behind TLS 1.3 with
//! client certificates required, on the listener every service shares
//! ([`minimis_service::listener`]: the limits and timeouts of spec/services.md, every
//! refusal in JSON, the request tally), and its schedule on a timer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minimis_log::VerifierKey;
use minimis_log::entry::{CustodianId, HoldId, OfficerId};
use minimis_proto::{CustodianRole, Policy};
use minimis_service::listener::{self, Endpoint, Serving};
use minimis_service::refusal::{Refusals, Transport, respond};
use minimis_service::request_log::RequestLog;
use serde::Serialize;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::{CustodianConfig, TlsSource};
use crate::https::{HttpsClient, HttpsOperator, HttpsPeer};
use crate::node::{Node, NodeOptions, StartError, TickReport};
use crate::operator::OperatorLink;
use crate::peer::OversightLink;
use crate::protocol::{
    AboutResponse, AccessRequest, HoldRequest, OuterRequest, PlaceHoldRequest, PlaceHoldResponse,
    Refusal, ReleaseHoldResponse,
};
use crate::tls::{self, Caller, ClientClass};
use minimis_wire::CustodianRefusal;

/// The largest request body: 1,024 record ids with their proofs fit well within it.
const MAX_BODY: usize = 4 << 20;

/// A running custodian.
pub struct Running {
    serving: Serving,
    node: Node,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.serving.addr())
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// How many connections it holds now (**SVC-5**).
    pub fn open_connections(&self) -> usize {
        self.serving.open_connections()
    }

    /// The request tally of the current period (**SVC-11**).
    pub fn request_log(&self) -> &RequestLog {
        self.serving.request_log()
    }

    /// The custodian.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Runs the schedule once now (the demo and the tests drive time this way; with the
    /// system clock it runs every `tick_seconds`).
    pub async fn tick(&self) -> TickReport {
        self.node.tick().await
    }

    /// Waits until the service stops.
    pub async fn wait(mut self) {
        self.serving.wait().await;
    }

    /// Stops accepting connections and the schedule, and waits until the listening
    /// socket is closed.
    pub async fn shutdown(self) {
        self.serving.stop();
        if let Some(t) = self.ticker {
            t.abort();
            let _ = t.await;
        }
        self.serving.shutdown().await;
    }
}

/// The custodian service.
#[derive(Debug)]
pub struct Custodian;

fn load_policy(path: Option<&Path>) -> Result<Policy, StartError> {
    minimis_service::config::load_policy(path)
        .map(|(policy, _)| policy)
        .map_err(|e| StartError::Config(e.to_string()))
}

fn read_text(p: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(p).map_err(|e| StartError::Config(format!("{}: {e}", p.display())))
}

/// A build without the development PKI (**SVC-15**).
#[cfg(not(feature = "dev-pki"))]
fn dev_tls(_dir: &Path, _role: CustodianRole, _agency_id: &str) -> Result<TlsSource, StartError> {
    Err(StartError::Tls(tls::TlsError::NoDevelopmentPki))
}

/// The development PKI of a custodian in `dir`, made on first start.
#[cfg(feature = "dev-pki")]
fn dev_tls(dir: &Path, role: CustodianRole, agency_id: &str) -> Result<TlsSource, StartError> {
    use crate::tls::DevCa;
    let server = dir.join("server.crt");
    let key = dir.join("server.key");
    let (ca_a, ca_b) = match role {
        CustodianRole::Agency => (dir.join("officer-ca.crt"), None),
        CustodianRole::Oversight => (dir.join("operator-ca.crt"), Some(dir.join("agency-ca.crt"))),
    };
    if !server.exists() {
        crate::files::make_private_dir(dir).map_err(crate::store::StoreError::from)?;
        let ca = DevCa::generate("minimis development custodian CA")?;
        let s = ca.issue_server("minimis development custodian")?;
        tls::write_pem(&dir.join("ca.crt"), &ca.cert, false)?;
        tls::write_pem(&key, &s.key, true)?;
        tls::write_pem(&server, &s.cert, false)?;
        let (first, cn) = match role {
            CustodianRole::Agency => ("officer", "officer-0001"),
            CustodianRole::Oversight => ("operator", "operator"),
        };
        let a = DevCa::generate(&format!("minimis development {first} CA"))?;
        let c = a.issue_client(cn)?;
        tls::write_pem(&ca_a, &a.cert, false)?;
        tls::write_pem(&dir.join(format!("{cn}.crt")), &c.cert, false)?;
        tls::write_pem(&dir.join(format!("{cn}.key")), &c.key, true)?;
        if let Some(b) = &ca_b {
            let ca = DevCa::generate("minimis development agency custodian CA")?;
            let c = ca.issue_client(agency_id)?;
            tls::write_pem(b, &ca.cert, false)?;
            tls::write_pem(&dir.join("agency-client.crt"), &c.cert, false)?;
            tls::write_pem(&dir.join("agency-client.key"), &c.key, true)?;
        }
    }
    Ok(match role {
        CustodianRole::Agency => TlsSource::Files {
            cert: server,
            key,
            officer_ca: Some(ca_a),
            operator_ca: None,
            agency_ca: None,
        },
        CustodianRole::Oversight => TlsSource::Files {
            cert: server,
            key,
            officer_ca: None,
            operator_ca: Some(ca_a),
            agency_ca: ca_b,
        },
    })
}

fn client_for(e: &crate::config::Endpoint) -> Result<HttpsClient, StartError> {
    let roots = read_text(&e.ca)?;
    let client = match &e.client {
        Some((c, k)) => Some((read_text(c)?, Zeroizing::new(read_text(k)?))),
        None => None,
    };
    Ok(HttpsClient::new(
        e.address,
        &e.server_name,
        &roots,
        client.as_ref().map(|(c, k)| (c.as_str(), k.as_str())),
    )?)
}

impl Custodian {
    /// Starts the custodian of `config` on `clock`, with HTTPS links to the operator
    /// and (agency custodian) to the oversight custodian. With a [`ManualClock`](crate::ManualClock) the
    /// schedule runs only when [`Running::tick`] is called.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn start<C: Clock + Clone>(
        config: CustodianConfig,
        clock: C,
    ) -> Result<Running, StartError> {
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let operator = config
            .operator
            .as_ref()
            .ok_or_else(|| StartError::Config("[operator] is required".into()))?;
        // The link signs with the custodian's key, which is in the keystore: open it here
        // to read the key, and hand it to the node, which would otherwise open it again.
        let policy = load_policy(config.policy.as_deref())?;
        let id = policy
            .custodian(config.role)
            .ok_or(StartError::NoSuchCustodian(config.role))?
            .id
            .clone();
        let keystore = crate::keystore::Keystore::open_or_create(
            &config.data_dir.join("keystore"),
            &config.protection()?,
            config.role,
            &id,
        )?;
        let key = minimis_crypto::SigningKey::from_seed(keystore.signing_key().expose_seed())
            .map_err(|e| StartError::Config(e.to_string()))?;
        let link: Arc<dyn OperatorLink> = Arc::new(HttpsOperator::new(
            client_for(operator)?,
            config.role,
            key,
            shared,
        ));
        let peer: Option<Arc<dyn OversightLink>> = match &config.oversight {
            Some(e) => Some(Arc::new(HttpsPeer::new(client_for(e)?))),
            None => None,
        };
        Self::start_inner(config, clock, link, peer, Some(keystore)).await
    }

    /// Starts the custodian of `config` with the links given (an in-process operator in
    /// tests and the demo). `config.operator` and `config.oversight` are not used.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn start_with<C: Clock + Clone>(
        config: CustodianConfig,
        clock: C,
        link: Arc<dyn OperatorLink>,
        peer: Option<Arc<dyn OversightLink>>,
    ) -> Result<Running, StartError> {
        Self::start_inner(config, clock, link, peer, None).await
    }

    /// As [`Custodian::start_with`], with the keystore already opened (or `None`).
    async fn start_inner<C: Clock + Clone>(
        config: CustodianConfig,
        clock: C,
        link: Arc<dyn OperatorLink>,
        peer: Option<Arc<dyn OversightLink>>,
        keystore: Option<crate::keystore::Keystore>,
    ) -> Result<Running, StartError> {
        let manual = clock.is_manual();
        let policy = load_policy(config.policy.as_deref())?;
        let agency_id = policy
            .custodian(CustodianRole::Agency)
            .ok_or(StartError::NoSuchCustodian(CustodianRole::Agency))?
            .id
            .clone();
        let log_key = match &config.log_key {
            Some(k) => Some(
                k.parse::<VerifierKey>()
                    .map_err(|e| StartError::Config(format!("log_key: {e}")))?,
            ),
            None => None,
        };
        let witnesses = config
            .witnesses
            .iter()
            .map(|w| {
                w.parse::<VerifierKey>()
                    .map_err(|e| StartError::Config(format!("witnesses: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let witness_name = match &config.witness_name {
            Some(n) => Some(
                minimis_log::KeyName::new(n)
                    .map_err(|e| StartError::Config(format!("witness_name: {e}")))?,
            ),
            None => None,
        };
        let tls_source = match &config.tls {
            TlsSource::Development => {
                dev_tls(&config.data_dir.join("tls"), config.role, &agency_id)?
            }
            files => files.clone(),
        };
        let TlsSource::Files {
            cert,
            key,
            officer_ca,
            operator_ca,
            agency_ca,
        } = tls_source
        else {
            return Err(StartError::Config("no TLS files".into()));
        };
        let mut clients = Vec::new();
        for (class, path) in [
            (ClientClass::Officer, officer_ca),
            (ClientClass::Operator, operator_ca),
            (ClientClass::AgencyCustodian, agency_ca),
        ] {
            if let Some(p) = path {
                clients.push((class, tls::read_certs(&p)?));
            }
        }
        let (tls_config, classifier) =
            tls::server_config(tls::read_certs(&cert)?, tls::read_key(&key)?, &clients)?;

        let node = Node::open(
            NodeOptions {
                role: config.role,
                policy,
                data_dir: config.data_dir.clone(),
                protection: config.protection()?,
                log_key,
                witnesses,
                caseload: config.caseload.clone(),
                witness_name,
                reviewer: None,
                keystore,
            },
            Arc::new(clock),
            link,
            peer,
        )
        .await?;

        let app = router(node.clone());
        let tcp = listener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen {
                addr: e.addr,
                source: e.source,
            })?;
        let serving = listener::serve(
            tcp,
            Endpoint {
                tls: tls_config,
                router: app,
                limits: config.limits,
                max_body: MAX_BODY,
                refusals: Arc::new(CustodianRefusals),
                // A certificate from a configured CA whose name is not a well-formed id:
                // the connection is closed (ACC-1).
                identify: Arc::new(move |conn: &rustls::ServerConnection| {
                    minimis_service::tls::peer_certificate(conn)
                        .and_then(|c| classifier.classify(c))
                }),
                log: RequestLog::new("custodian", config.request_log_days),
            },
        )
        .map_err(|e| StartError::Listen {
            addr: config.listen,
            source: e.source,
        })?;
        let ticker = (!manual).then(|| {
            let node = node.clone();
            let every = std::time::Duration::from_secs(config.tick_seconds.max(1));
            tokio::spawn(async move {
                let mut t = tokio::time::interval(every);
                loop {
                    t.tick().await;
                    let _ = node.tick().await;
                }
            })
        });
        Ok(Running {
            serving,
            node,
            ticker,
        })
    }
}

// ---- routes -------------------------------------------------------------------------

fn refusal(r: &Refusal) -> Response {
    respond(r.status(), r.code(), &r.to_string())
}

/// The custodians' refusals for the refusals of the transport (spec/access.md § Errors,
/// **SVC-9**, **SVC-41**).
#[derive(Clone, Copy, Debug, Default)]
pub struct CustodianRefusals;

impl CustodianRefusals {
    /// The custodians' refusal for `t`.
    pub fn refusal(t: &Transport) -> CustodianRefusal {
        match t {
            Transport::NotFound => CustodianRefusal::NotFound,
            Transport::MethodNotAllowed => CustodianRefusal::MethodNotAllowed,
            Transport::Malformed { .. } => CustodianRefusal::Malformed,
            Transport::BodyTooLarge { .. } => CustodianRefusal::BodyTooLarge,
            Transport::HeadTooLarge { .. } => CustodianRefusal::HeadTooLarge,
            Transport::UriTooLong => CustodianRefusal::UriTooLong,
            Transport::BodyTimeout => CustodianRefusal::RequestTimeout,
            Transport::Fault { status: 503 } => CustodianRefusal::ServiceUnavailable,
            _ => CustodianRefusal::InternalError,
        }
    }

    /// The custodians' code for `t`.
    pub fn code(t: &Transport) -> &'static str {
        Self::refusal(t).code()
    }
}

impl Refusals for CustodianRefusals {
    fn refuse(&self, t: &Transport) -> Response {
        // One status per code: a fault answered `503` is `service_unavailable`, any other
        // `internal_error` (`500`).
        let r = Self::refusal(t);
        respond(r.status(), r.code(), &t.message())
    }
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|_| Refusal::Malformed {
        what: "not the expected JSON",
    })
}

fn require(caller: &Caller, class: ClientClass) -> Result<(), Refusal> {
    if caller.class == class {
        Ok(())
    } else {
        Err(Refusal::NotAllowed)
    }
}

#[derive(Serialize)]
struct OpenedJson<'a> {
    record_id: String,
    epoch: u32,
    challenge_id: String,
    zone: minimis_proto::ZoneResult,
    presence: minimis_proto::PresenceResult,
    device_time: i64,
    note: &'a str,
}

#[derive(Serialize)]
struct OpenedBody<'a> {
    records: Vec<OpenedJson<'a>>,
    log: &'a [crate::protocol::LogRef],
}

/// An owned buffer that zeroizes itself when the response is dropped (**ACC-8**).
struct Wiped(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

async fn access(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let result = async {
        require(&caller, ClientClass::Officer)?;
        let officer = OfficerId::new(&caller.name).map_err(|_| Refusal::NotAllowed)?;
        let req: AccessRequest = json(&body)?;
        node.access(&officer, req).await
    }
    .await;
    match result {
        Ok(opened) => {
            // The plaintext is written once, into a buffer that is wiped once sent.
            let records: Vec<OpenedJson<'_>> = opened
                .records
                .iter()
                .map(|r| OpenedJson {
                    record_id: r.record_id.to_string(),
                    epoch: r.epoch.get(),
                    challenge_id: r.payload.challenge_id.to_string(),
                    zone: r.payload.zone,
                    presence: r.payload.presence,
                    device_time: r.payload.device_time.seconds(),
                    note: r.payload.note.expose(),
                })
                .collect();
            // Sized so that it is never reallocated (a note of 483 bytes escapes to at
            // most 2,898): a reallocation would leave a copy that is not wiped.
            let mut buf = Zeroizing::new(Vec::with_capacity(4096 * (records.len() + 2)));
            let ok = serde_json::to_writer(
                &mut *buf,
                &OpenedBody {
                    records,
                    log: &opened.log,
                },
            );
            if ok.is_err() {
                return refusal(&Refusal::OperatorError {
                    what: "cannot encode",
                });
            }
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-store")
                .body(Body::from(Bytes::from_owner(Wiped(buf))))
                .unwrap_or_else(|_| CustodianRefusals.refuse(&Transport::Fault { status: 500 }))
        }
        Err(r) => refusal(&r),
    }
}

async fn place_hold(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let result = async {
        require(&caller, ClientClass::Officer)?;
        let officer = OfficerId::new(&caller.name).map_err(|_| Refusal::NotAllowed)?;
        let req: PlaceHoldRequest = json(&body)?;
        node.place_hold(&officer, req).await
    }
    .await;
    match result {
        Ok(p) => (
            StatusCode::CREATED,
            axum::Json(PlaceHoldResponse {
                hold: hex::encode(p.hold.as_bytes()),
                records: p.records,
                until: p.until.seconds(),
                complete: p.complete,
                log: p.log,
            }),
        )
            .into_response(),
        Err(r) => refusal(&r),
    }
}

async fn release_hold(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(hold): UrlPath<String>,
) -> Response {
    let result = async {
        require(&caller, ClientClass::Officer)?;
        let mut b = [0u8; 16];
        hex::decode_to_slice(&hold, &mut b).map_err(|_| Refusal::Malformed {
            what: "a hold id is 32 hex characters",
        })?;
        node.release_hold(HoldId::from_bytes(b)).await
    }
    .await;
    match result {
        Ok(log) => (
            StatusCode::OK,
            axum::Json(ReleaseHoldResponse { hold, log }),
        )
            .into_response(),
        Err(r) => refusal(&r),
    }
}

fn agency_caller(caller: &Caller) -> Result<CustodianId, Refusal> {
    require(caller, ClientClass::AgencyCustodian)?;
    CustodianId::new(&caller.name).map_err(|_| Refusal::NotAllowed)
}

async fn outer(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let result = async {
        let agency = agency_caller(&caller)?;
        let req: OuterRequest = json(&body)?;
        node.remove_outer(&agency, req).await
    }
    .await;
    match result {
        Ok(r) => (StatusCode::OK, axum::Json(r)).into_response(),
        Err(r) => refusal(&r),
    }
}

async fn hold_rewrap(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let result = async {
        let agency = agency_caller(&caller)?;
        let req: HoldRequest = json(&body)?;
        node.hold_rewrap(&agency, req).await
    }
    .await;
    match result {
        Ok(r) => (StatusCode::OK, axum::Json(r)).into_response(),
        Err(r) => refusal(&r),
    }
}

async fn hold_release(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let result = async {
        let agency = agency_caller(&caller)?;
        let req: HoldRequest = json(&body)?;
        node.hold_release(&agency, req).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refusal(&r),
    }
}

async fn add_checkpoint(
    State(node): State<Node>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    if let Err(r) = require(&caller, ClientClass::Operator) {
        return refusal(&r);
    }
    let Some(w) = node.witness().cloned() else {
        return refusal(&Refusal::NotAllowed);
    };
    let now = node.now();
    // The witness writes its state to disk before it answers: off the async threads.
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now)).await;
    match result {
        Ok(Ok(lines)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        // The size the witness last cosigned: a body tlog-witness fixes.
        Ok(Err(e @ crate::witness::AddCheckpointError::SizeMismatch { .. })) => {
            minimis_witness::service::add_checkpoint_response(Err(e))
        }
        Ok(Err(e)) => {
            let r = crate::witness::refusal(&e);
            respond(r.status(), r.code(), &e.to_string())
        }
        Err(_) => CustodianRefusals.refuse(&Transport::Fault { status: 503 }),
    }
}

async fn about(State(node): State<Node>) -> Response {
    axum::Json(AboutResponse {
        role: node.role(),
        custodian: node.id().as_str().to_owned(),
        public_key: node.public_key().map(|k| k.to_base64()),
        witness: node.witness().map(|w| w.verifier_key().to_string()),
        log: node.log_key().to_string(),
    })
    .into_response()
}

fn router(node: Node) -> Router {
    let common = Router::new().route("/v1/custodian", get(about));
    let routes = match node.role() {
        CustodianRole::Agency => common
            .route("/v1/access", post(access))
            .route("/v1/holds", post(place_hold))
            .route("/v1/holds/{hold}/release", post(release_hold)),
        CustodianRole::Oversight => common
            .route("/v1/outer", post(outer))
            .route("/v1/holds/rewrap", post(hold_rewrap))
            .route("/v1/holds/release", post(hold_release))
            .route("/witness/add-checkpoint", post(add_checkpoint)),
    };
    routes.with_state(node)
}
