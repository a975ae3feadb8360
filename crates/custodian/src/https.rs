//! HTTPS/1.1 over TLS 1.3 (rustls, ring) to the operator ([`HttpsOperator`]) and from
//! the agency custodian to the oversight custodian ([`HttpsPeer`], with the agency
//! custodian's client certificate).
//!
//! Every answer the custodian reads, from anyone, is bounded (**RET-41**): the
//! connection (TCP, TLS, HTTP handshakes) by [`Limits::connect`], each wait for a part
//! of the answer by [`Limits::read`], the whole exchange by [`Limits::total`], the body
//! by [`Limits::max_body`] bytes (a larger `Content-Length` is refused before a byte of
//! the body is read). Each bound has its own [`Unreachable`] error. One client type,
//! [`HttpsClient`], carries them for both links.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use minimis_crypto::SigningKey;
use minimis_log::{LogEntry, VerifierKey};
use minimis_proto::{
    ChallengeId, CustodianRole, EpochId, Pseudonym, RecordId, SignedEpochRecipient, UnixTime,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::operator::{LinkError, LinkFuture, OperatorLink, StoredRecord, Unreachable};
use crate::peer::OversightLink;
use crate::protocol::{HoldRequest, HoldRewrapResponse, OuterRequest, OuterResponse};
use crate::tls::TlsError;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// The bounds on one exchange (**RET-41**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// TCP connect, TLS handshake and HTTP handshake together.
    pub connect: Duration,
    /// The longest wait for the answer's head, or for each next part of its body.
    pub read: Duration,
    /// The whole exchange, connection included.
    pub total: Duration,
    /// The largest body, in bytes.
    pub max_body: usize,
}

impl Limits {
    /// The custodian's bounds: 10 s to connect, 15 s per read, 30 s in all, 8 MiB of
    /// body (the largest legitimate answer, 1,024 inner layers of an access, is under
    /// 2 MiB).
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(10),
        read: Duration::from_secs(15),
        total: Duration::from_secs(30),
        max_body: 8 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An HTTPS client: TLS 1.3 only, the server checked against the roots given, a client
/// certificate if given, keep-alive connections reused, every exchange bounded by its
/// [`Limits`].
pub struct HttpsClient {
    addr: SocketAddr,
    name: ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
    idle: Mutex<Vec<Sender>>,
    limits: Limits,
}

impl fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl HttpsClient {
    /// A client for `addr`, verifying the server as `server_name` against the PEM
    /// certificates `roots`, presenting `client` (certificate and key PEM) if given.
    ///
    /// # Errors
    /// [`TlsError`] if a certificate, the key or the name does not parse.
    pub fn new(
        addr: SocketAddr,
        server_name: &str,
        roots: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Self, TlsError> {
        let mut store = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(roots.as_bytes()) {
            store.add(c.map_err(|_| TlsError::BadCa)?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(store);
        let mut config = match client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| TlsError::BadCa)?;
                let key =
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|_| TlsError::Pem {
                        path: "client key".into(),
                        what: "private key",
                    })?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            addr,
            name: ServerName::try_from(server_name.to_owned()).map_err(|_| TlsError::BadCa)?,
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            idle: Mutex::new(Vec::new()),
            limits: Limits::DEFAULT,
        })
    }

    /// The same client with other bounds.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Its bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    async fn connect(&self) -> Result<Sender, Unreachable> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|_| Unreachable::Connect)?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.name.clone(), tcp)
            .await
            .map_err(|_| Unreachable::Tls)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|_| Unreachable::Http)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends one request and reads its answer, within the client's [`Limits`].
    ///
    /// # Errors
    /// [`Unreachable`] if no answer came, or the answer broke a bound.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, Unreachable> {
        tokio::time::timeout(
            self.limits.total,
            self.send_inner(method, path, headers, body),
        )
        .await
        .map_err(|_| Unreachable::Timeout)?
    }

    async fn send_inner(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, Unreachable> {
        let reused = {
            let mut idle = self.idle.lock().await;
            let mut found = None;
            while let Some(s) = idle.pop() {
                if !s.is_closed() {
                    found = Some(s);
                    break;
                }
            }
            found
        };
        let mut sender = match reused {
            Some(s) => s,
            None => tokio::time::timeout(self.limits.connect, self.connect())
                .await
                .map_err(|_| Unreachable::ConnectTimeout)??,
        };
        tokio::time::timeout(self.limits.read, sender.ready())
            .await
            .map_err(|_| Unreachable::ReadTimeout)?
            .map_err(|_| Unreachable::Http)?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "minimis")
            .header("content-type", "application/json");
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| Unreachable::Http)?;
        let resp = tokio::time::timeout(self.limits.read, sender.send_request(request))
            .await
            .map_err(|_| Unreachable::ReadTimeout)?
            .map_err(|_| Unreachable::Http)?;
        let status = resp.status().as_u16();
        let body = read_bounded(resp.into_body(), self.limits).await?;
        self.idle.lock().await.push(sender);
        Ok(Response { status, body })
    }
}

/// Reads `body` whole, refusing more than `limits.max_body` bytes (a larger declared
/// length before reading any) and a wait longer than `limits.read` for any frame.
async fn read_bounded(
    mut body: hyper::body::Incoming,
    limits: Limits,
) -> Result<Bytes, Unreachable> {
    use hyper::body::Body as _;
    // A declared Content-Length is the hint's lower bound.
    if body.size_hint().lower() > limits.max_body as u64 {
        return Err(Unreachable::TooLarge(limits.max_body));
    }
    let mut out: Vec<u8> = Vec::new();
    loop {
        let frame = tokio::time::timeout(limits.read, body.frame())
            .await
            .map_err(|_| Unreachable::ReadTimeout)?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|_| Unreachable::Http)?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > limits.max_body {
                return Err(Unreachable::TooLarge(limits.max_body));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
}

fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|e| e.error.code)
}

/// The custodian's HTTPS link to the operator (the contract in [`crate::operator`]).
pub struct HttpsOperator {
    client: HttpsClient,
    role: CustodianRole,
    key: SigningKey,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HttpsOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsOperator")
            .field("client", &self.client)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ProofsBody {
    proofs: Vec<String>,
}

#[derive(Deserialize)]
struct RecordBody {
    record_id: RecordId,
    epoch: EpochId,
    pseudonym: Pseudonym,
    ciphertext: String,
    #[serde(default)]
    challenge_id: Option<ChallengeId>,
}

#[derive(Deserialize)]
struct KeysBody {
    log: String,
}

impl HttpsOperator {
    /// A link over `client`, signing requests as `role` with `key` at `clock`'s time.
    pub fn new(
        client: HttpsClient,
        role: CustodianRole,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            role,
            key,
            clock,
        }
    }

    /// `Minimis-Custodian role=…,time=…,signature=…` for a request.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8]) -> String {
        let time = self.clock.now();
        let sig =
            minimis_crypto::sign_custodian_request(&self.key, self.role, method, path, time, body);
        format!(
            "Minimis-Custodian role={},time={},signature={}",
            self.role,
            time.seconds(),
            B64.encode(sig.as_bytes())
        )
    }

    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Response, LinkError> {
        let auth = self.authorization(method, path, &body);
        let r = self
            .client
            .send(method, path, &[("authorization", auth)], body)
            .await
            .map_err(LinkError::Unavailable)?;
        if r.status >= 500 {
            return Err(LinkError::Unavailable(Unreachable::ServerError(r.status)));
        }
        Ok(r)
    }
}

fn refused(r: &Response) -> LinkError {
    LinkError::Refused {
        status: r.status,
        code: error_code(&r.body).unwrap_or_default(),
    }
}

impl OperatorLink for HttpsOperator {
    fn append<'a>(&'a self, entries: &'a [LogEntry]) -> LinkFuture<'a, Vec<String>> {
        Box::pin(async move {
            let body = serde_json::json!({
                "entries": entries.iter().map(|e| B64.encode(e.encode())).collect::<Vec<_>>()
            });
            let body = serde_json::to_vec(&body).map_err(|_| LinkError::Malformed {
                what: "cannot encode",
            })?;
            let r = self.call("POST", "/v1/custodian/entries", body).await?;
            if r.status != 201 && r.status != 200 {
                return Err(refused(&r));
            }
            let p: ProofsBody =
                serde_json::from_slice(&r.body).map_err(|_| LinkError::Malformed {
                    what: "not {\"proofs\": [...]}",
                })?;
            Ok(p.proofs)
        })
    }

    fn record(&self, id: RecordId) -> LinkFuture<'_, StoredRecord> {
        Box::pin(async move {
            let path = format!("/v1/custodian/records/{id}");
            let r = self.call("GET", &path, Vec::new()).await?;
            if r.status == 404 {
                return Err(LinkError::UnknownRecord);
            }
            if r.status != 200 {
                return Err(refused(&r));
            }
            let b: RecordBody =
                serde_json::from_slice(&r.body).map_err(|_| LinkError::Malformed {
                    what: "not a record",
                })?;
            let ciphertext =
                B64.decode(b.ciphertext.as_bytes())
                    .map_err(|_| LinkError::Malformed {
                        what: "ciphertext is not base64",
                    })?;
            Ok(StoredRecord {
                record_id: b.record_id,
                epoch: b.epoch,
                pseudonym: b.pseudonym,
                challenge_id: b.challenge_id,
                ciphertext,
            })
        })
    }

    fn hold<'a>(&'a self, records: &'a [RecordId], until: UnixTime) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            let body = serde_json::json!({"records": records, "until": until.seconds()});
            let body = serde_json::to_vec(&body).map_err(|_| LinkError::Malformed {
                what: "cannot encode",
            })?;
            let r = self.call("POST", "/v1/custodian/holds", body).await?;
            if (200..300).contains(&r.status) {
                Ok(())
            } else {
                Err(refused(&r))
            }
        })
    }

    fn publish<'a>(&'a self, recipient: &'a SignedEpochRecipient) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            let body = serde_json::to_vec(recipient).map_err(|_| LinkError::Malformed {
                what: "cannot encode",
            })?;
            let r = self.call("POST", "/v1/recipients", body).await?;
            if (200..300).contains(&r.status) {
                Ok(())
            } else {
                Err(refused(&r))
            }
        })
    }

    fn log_key(&self) -> LinkFuture<'_, VerifierKey> {
        Box::pin(async move {
            let r = self.call("GET", "/v1/keys", Vec::new()).await?;
            if r.status != 200 {
                return Err(refused(&r));
            }
            let k: KeysBody =
                serde_json::from_slice(&r.body).map_err(|_| LinkError::Malformed {
                    what: "not {\"log\": ...}",
                })?;
            k.log.parse().map_err(|_| LinkError::Malformed {
                what: "not a verifier key",
            })
        })
    }
}

/// The agency custodian's mutual-TLS link to the oversight custodian.
#[derive(Debug)]
pub struct HttpsPeer {
    client: HttpsClient,
}

impl HttpsPeer {
    /// A link over `client` (which must present the agency custodian's certificate).
    pub fn new(client: HttpsClient) -> Self {
        Self { client }
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Option<T>, LinkError> {
        let body = serde_json::to_vec(body).map_err(|_| LinkError::Malformed {
            what: "cannot encode",
        })?;
        let r = self
            .client
            .send("POST", path, &[], body)
            .await
            .map_err(LinkError::Unavailable)?;
        if r.status == 204 {
            return Ok(None);
        }
        if r.status == 200 {
            return serde_json::from_slice(&r.body)
                .map(Some)
                .map_err(|_| LinkError::Malformed {
                    what: "an answer of the oversight custodian",
                });
        }
        match error_code(&r.body) {
            Some(code) => Err(LinkError::Refused {
                status: r.status,
                code,
            }),
            None => Err(LinkError::Unavailable(Unreachable::ServerError(r.status))),
        }
    }
}

impl OversightLink for HttpsPeer {
    fn remove_outer(&self, req: OuterRequest) -> LinkFuture<'_, OuterResponse> {
        Box::pin(async move {
            self.post("/v1/outer", &req)
                .await?
                .ok_or(LinkError::Malformed {
                    what: "empty answer",
                })
        })
    }

    fn hold_rewrap(&self, req: HoldRequest) -> LinkFuture<'_, HoldRewrapResponse> {
        Box::pin(async move {
            self.post("/v1/holds/rewrap", &req)
                .await?
                .ok_or(LinkError::Malformed {
                    what: "empty answer",
                })
        })
    }

    fn hold_release(&self, req: HoldRequest) -> LinkFuture<'_, ()> {
        Box::pin(async move {
            self.post::<serde_json::Value>("/v1/holds/release", &req)
                .await
                .map(|_| ())
        })
    }
}
