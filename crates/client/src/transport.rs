//! How the device talks to the operator: a [`Transport`] trait, so that a mobile app can
//! use its platform's HTTP stack, and [`Https`], an async HTTPS/1.1 transport on rustls
//! (TLS 1.3 only) for everything else (feature `https`, on by default).

use std::future::Future;

/// An HTTP request, as the API layer builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Headers the protocol defines (`authorization`, `content-type`); nothing else.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A transport failure: nothing was delivered, or the answer was lost.
#[derive(Debug, thiserror::Error)]
#[error("transport: {0}")]
pub struct TransportError(pub String);

/// Sends requests to the operator.
pub trait Transport {
    /// Sends one request and returns the response.
    fn send(&self, req: Request) -> impl Future<Output = Result<Response, TransportError>> + Send;
}

#[cfg(feature = "https")]
pub use https::{DEFAULT_MAX_BODY, Https};

#[cfg(feature = "https")]
mod https {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use http_body_util::{BodyExt as _, Full, Limited};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::sync::Mutex;

    use super::{Request, Response, Transport, TransportError};

    type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

    /// HTTPS/1.1 over TLS 1.3 (rustls with ring), one keep-alive connection, reconnecting
    /// when it drops. The server's certificate is checked against the roots given (for a
    /// deployment: the operator's CA, pinned in the app). An officer's tool passes its
    /// client certificate; a participant's device passes none.
    pub struct Https {
        addr: SocketAddr,
        name: ServerName<'static>,
        host: String,
        connector: tokio_rustls::TlsConnector,
        conn: Mutex<Option<Sender>>,
        max_body: usize,
    }

    /// The largest answer [`Https`] reads by default: 32 MiB (a full C2SP tlog-tiles entry
    /// bundle of 256 of the largest entries is 16 MiB).
    pub const DEFAULT_MAX_BODY: usize = 32 << 20;

    fn err(e: impl std::fmt::Display) -> TransportError {
        TransportError(e.to_string())
    }

    impl Https {
        /// A transport to `addr`, verifying the server as `server_name` against the PEM
        /// certificates in `roots`, presenting `client` (certificate and key PEM) if given.
        ///
        /// # Errors
        /// [`TransportError`] if the certificates or the name do not parse.
        pub fn new(
            addr: SocketAddr,
            server_name: &str,
            roots: &str,
            client: Option<(&str, &str)>,
        ) -> Result<Self, TransportError> {
            let mut store = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(roots.as_bytes()) {
                store.add(c.map_err(err)?).map_err(err)?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(err)?
                .with_root_certificates(store);
            let mut config = match client {
                Some((cert, key)) => {
                    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(err)?;
                    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(err)?;
                    builder.with_client_auth_cert(chain, key).map_err(err)?
                }
                None => builder.with_no_client_auth(),
            };
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Self {
                addr,
                name: ServerName::try_from(server_name.to_owned()).map_err(err)?,
                host: match addr.port() {
                    443 => server_name.to_owned(),
                    port => format!("{server_name}:{port}"),
                },
                connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
                conn: Mutex::new(None),
                max_body: DEFAULT_MAX_BODY,
            })
        }

        /// Reads answers of at most `bytes` (a larger one is an error, and the connection
        /// is dropped), instead of [`DEFAULT_MAX_BODY`].
        #[must_use]
        pub fn with_max_body(mut self, bytes: usize) -> Self {
            self.max_body = bytes;
            self
        }

        async fn connect(&self) -> Result<Sender, TransportError> {
            let tcp = tokio::net::TcpStream::connect(self.addr)
                .await
                .map_err(err)?;
            let _ = tcp.set_nodelay(true);
            let tls = self
                .connector
                .connect(self.name.clone(), tcp)
                .await
                .map_err(err)?;
            let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(err)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(send)
        }
    }

    impl Transport for Https {
        async fn send(&self, req: Request) -> Result<Response, TransportError> {
            let mut guard = self.conn.lock().await;
            let reusable = guard.as_ref().is_some_and(|s| !s.is_closed());
            if !reusable {
                *guard = Some(self.connect().await?);
            }
            let sender = guard
                .as_mut()
                .ok_or_else(|| TransportError("no connection".into()))?;
            sender.ready().await.map_err(err)?;
            let mut builder = hyper::Request::builder()
                .method(req.method)
                .uri(&req.path)
                .header("host", &self.host);
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            let request = builder
                .body(Full::new(Bytes::from(req.body)))
                .map_err(err)?;
            let result = sender.send_request(request).await;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    *guard = None;
                    return Err(err(e));
                }
            };
            let status = resp.status().as_u16();
            let body = match Limited::new(resp.into_body(), self.max_body)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    *guard = None;
                    return Err(TransportError(format!(
                        "the answer was not read whole (at most {} bytes are read): {e}",
                        self.max_body
                    )));
                }
            };
            Ok(Response {
                status,
                body: body.to_vec(),
            })
        }
    }
}
