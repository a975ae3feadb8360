//! The workspace's one HTTPS client (**SVC-42**): HTTP/1.1 over TLS 1.3 only (rustls with
//! ring), the server checked against the roots given, a client certificate if given,
//! keep-alive connections reused, and every exchange bounded by its [`Limits`]: the
//! connection (TCP, TLS and HTTP handshakes) by [`Limits::connect`], each wait for a part
//! of the answer by [`Limits::read`], the whole exchange by [`Limits::total`], the body by
//! [`Limits::max_body`] bytes (a larger `Content-Length` is refused before a byte of the
//! body is read). Each bound has its own [`TransportError`].
//!
//! The device, the custodians' links, the audit command's fetcher, the demo and the tests
//! use it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::Mutex;

use crate::transport::{Limits, Request, Response, Transport, TransportError};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Why a client cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpsConfigError {
    /// A root certificate does not parse, or none was given.
    #[error("the trusted roots are not PEM certificates")]
    Roots,
    /// The client certificate chain does not parse.
    #[error("the client certificate is not a PEM certificate chain")]
    ClientCertificate,
    /// The client key does not parse.
    #[error("the client key is not a PEM private key")]
    ClientKey,
    /// The server name is not a DNS name or an IP address.
    #[error("{0:?} is not a server name")]
    ServerName(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// An HTTPS/1.1 client on TLS 1.3 with bounded exchanges.
pub struct HttpsClient {
    addrs: Vec<SocketAddr>,
    name: ServerName<'static>,
    host: String,
    connector: tokio_rustls::TlsConnector,
    idle: Mutex<Vec<Sender>>,
    limits: Limits,
}

impl fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsClient")
            .field("addrs", &self.addrs)
            .field("host", &self.host)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The TLS configuration every client of the workspace uses: TLS 1.3 only, ALPN
/// `http/1.1`, the server verified against `roots` (PEM), `client` (certificate chain and
/// key PEM) presented if given. The only `rustls::ClientConfig` built outside tests that
/// check the server refuses other versions.
///
/// # Errors
/// [`HttpsConfigError`].
pub fn client_config(
    roots: &str,
    client: Option<(&str, &str)>,
) -> Result<rustls::ClientConfig, HttpsConfigError> {
    let mut store = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(roots.as_bytes()) {
        store
            .add(c.map_err(|_| HttpsConfigError::Roots)?)
            .map_err(|_| HttpsConfigError::Roots)?;
    }
    if store.is_empty() {
        return Err(HttpsConfigError::Roots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(store);
    let mut config = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| HttpsConfigError::ClientCertificate)?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|_| HttpsConfigError::ClientKey)?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl HttpsClient {
    /// A client for `addr`, verifying the server as `server_name` against the PEM
    /// certificates `roots`, presenting `client` (certificate and key PEM) if given, with
    /// [`Limits::DEFAULT`].
    ///
    /// # Errors
    /// [`HttpsConfigError`] if a certificate, the key or the name does not parse.
    pub fn new(
        addr: SocketAddr,
        server_name: &str,
        roots: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Self, HttpsConfigError> {
        Self::to_addrs(vec![addr], server_name, roots, client)
    }

    /// As [`HttpsClient::new`], for a server at any of `addrs` (tried in turn, the first
    /// that connects is used; for example, a host name's addresses).
    ///
    /// # Errors
    /// [`HttpsConfigError`].
    pub fn to_addrs(
        addrs: Vec<SocketAddr>,
        server_name: &str,
        roots: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Self, HttpsConfigError> {
        let config = client_config(roots, client)?;
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| HttpsConfigError::ServerName(server_name.to_owned()))?;
        let port = addrs.first().map_or(443, SocketAddr::port);
        Ok(Self {
            addrs,
            name,
            host: match port {
                443 => server_name.to_owned(),
                port => format!("{server_name}:{port}"),
            },
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

    async fn connect(&self) -> Result<Sender, TransportError> {
        let mut last = TransportError::Connect;
        for addr in &self.addrs {
            let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                last = TransportError::Connect;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let tls = self
                .connector
                .connect(self.name.clone(), tcp)
                .await
                .map_err(
                    |e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                        Some(rustls::Error::InvalidCertificate(_)) => TransportError::Certificate,
                        _ => TransportError::Tls,
                    },
                )?;
            let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|_| TransportError::Http)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(send);
        }
        Err(last)
    }

    /// Sends one request and reads its answer, within the client's [`Limits`].
    ///
    /// # Errors
    /// [`TransportError`] if no whole answer came within the bounds.
    pub async fn exchange(&self, req: Request) -> Result<Response, TransportError> {
        tokio::time::timeout(self.limits.total, self.exchange_inner(req, self.limits))
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    /// As [`HttpsClient::exchange`], reading an answer of at most `max_body` bytes (or
    /// the client's bound, if smaller): for a resource whose size is known to be small.
    ///
    /// # Errors
    /// [`TransportError`]; [`TransportError::TooLarge`] with the smaller bound.
    pub async fn exchange_limited(
        &self,
        req: Request,
        max_body: usize,
    ) -> Result<Response, TransportError> {
        let limits = Limits {
            max_body: max_body.min(self.limits.max_body),
            ..self.limits
        };
        tokio::time::timeout(limits.total, self.exchange_inner(req, limits))
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    async fn exchange_inner(
        &self,
        req: Request,
        limits: Limits,
    ) -> Result<Response, TransportError> {
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
        // A connection from the pool may have been closed by the server since its last
        // answer without this side having seen it yet. hyper hands a request back when it
        // was not written (`try_send_request`), so such a request is sent again, once, on
        // a new connection; a request that was written is never sent twice.
        let mut pooled = reused.is_some();
        let mut sender = match reused {
            Some(s) => s,
            None => self.connect_within(limits).await?,
        };
        let mut request = self.build(req)?;
        let resp = loop {
            let ready = tokio::time::timeout(limits.read, sender.ready())
                .await
                .map_err(|_| TransportError::ReadTimeout)?;
            if ready.is_err() {
                if pooled {
                    pooled = false;
                    sender = self.connect_within(limits).await?;
                    continue;
                }
                return Err(TransportError::Http);
            }
            match tokio::time::timeout(limits.read, sender.try_send_request(request))
                .await
                .map_err(|_| TransportError::ReadTimeout)?
            {
                Ok(resp) => break resp,
                Err(mut e) => match e.take_message() {
                    Some(unsent) if pooled => {
                        pooled = false;
                        request = unsent;
                        sender = self.connect_within(limits).await?;
                    }
                    _ => return Err(TransportError::Http),
                },
            }
        };
        // The server said it closes the connection after this answer: not used again.
        let closing = resp
            .headers()
            .get_all(hyper::header::CONNECTION)
            .iter()
            .any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
            });
        let status = resp.status().as_u16();
        let body = read_bounded(resp.into_body(), limits).await?;
        // Only a connection whose answer was read whole, and that the server keeps open,
        // is used again.
        if !closing {
            self.idle.lock().await.push(sender);
        }
        Ok(Response { status, body })
    }

    async fn connect_within(&self, limits: Limits) -> Result<Sender, TransportError> {
        tokio::time::timeout(limits.connect, self.connect())
            .await
            .map_err(|_| TransportError::ConnectTimeout)?
    }

    fn build(&self, req: Request) -> Result<hyper::Request<Full<Bytes>>, TransportError> {
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(&req.path)
            .header("host", &self.host);
        for (k, v) in &req.headers {
            builder = builder.header(*k, v);
        }
        builder
            .body(Full::new(Bytes::from(req.body)))
            .map_err(|_| TransportError::Http)
    }
}

impl Transport for HttpsClient {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        self.exchange(req).await
    }
}

/// Reads `body` whole, refusing more than `limits.max_body` bytes (a larger declared
/// length before reading any) and a wait longer than `limits.read` for any frame.
async fn read_bounded(
    mut body: hyper::body::Incoming,
    limits: Limits,
) -> Result<Vec<u8>, TransportError> {
    use http_body_util::BodyExt as _;
    use hyper::body::Body as _;
    // A declared Content-Length is the hint's lower bound.
    if body.size_hint().lower() > limits.max_body as u64 {
        return Err(TransportError::TooLarge(limits.max_body));
    }
    let mut out: Vec<u8> = Vec::new();
    loop {
        let frame = tokio::time::timeout(limits.read, body.frame())
            .await
            .map_err(|_| TransportError::ReadTimeout)?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|_| TransportError::Http)?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > limits.max_body {
                return Err(TransportError::TooLarge(limits.max_body));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
