//! A small HTTPS/1.1 client over rustls for the tests: one keep-alive connection, an
//! optional client certificate, and signed participant requests.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
pub use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use minimis_crypto::SigningKey;
use minimis_proto::{Pseudonym, UnixTime};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A connection to a server.
pub struct Client {
    send: SendRequest<Full<Bytes>>,
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The error code of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Which TLS versions the client offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// TLS 1.3 only.
    Tls13,
    /// TLS 1.2 only (to check the server refuses it).
    Tls12,
}

/// Why a connection failed.
pub type ConnectError = Box<dyn std::error::Error + Send + Sync>;

fn connector(
    server_cert_pem: &str,
    client: Option<(&str, &str)>,
    versions: Versions,
) -> Result<tokio_rustls::TlsConnector, ConnectError> {
    let config = match versions {
        // The workspace's one client configuration (SVC-42).
        Versions::Tls13 => minimis_wire::https::client_config(server_cert_pem, client)?,
        // Only to check that a server refuses it: the one other client configuration.
        Versions::Tls12 => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(server_cert_pem.as_bytes()) {
                roots.add(c?)?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS12])?
                .with_root_certificates(roots);
            match client {
                Some((cert, key)) => {
                    let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<_, _>>()?;
                    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())?;
                    builder.with_client_auth_cert(chain, key)?
                }
                None => builder.with_no_client_auth(),
            }
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A TLS 1.3 connection to `addr` with nothing on it yet, for tests that write raw
/// bytes (a request head sent slowly, a body that never ends).
///
/// # Errors
/// Any TCP or TLS handshake failure.
pub async fn tls_stream(
    addr: SocketAddr,
    server_cert_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ConnectError> {
    let connector = connector(server_cert_pem, client, Versions::Tls13)?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    Ok(connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?)
}

impl Client {
    /// Connects to `addr` trusting `server_cert_pem`, presenting `client` (certificate and
    /// key PEM) if given.
    ///
    /// # Errors
    /// Any TCP, TLS or HTTP handshake failure.
    pub async fn connect(
        addr: SocketAddr,
        server_cert_pem: &str,
        client: Option<(&str, &str)>,
        versions: Versions,
    ) -> Result<Self, ConnectError> {
        Self::connect_from(None, addr, server_cert_pem, client, versions).await
    }

    /// As [`Client::connect`], from a chosen local address (for example `127.0.0.42`, to
    /// check that the server keeps no trace of it).
    ///
    /// # Errors
    /// Any TCP, TLS or HTTP handshake failure.
    pub async fn connect_from(
        local: Option<std::net::IpAddr>,
        addr: SocketAddr,
        server_cert_pem: &str,
        client: Option<(&str, &str)>,
        versions: Versions,
    ) -> Result<Self, ConnectError> {
        let connector = connector(server_cert_pem, client, versions)?;
        let tcp = match local {
            None => tokio::net::TcpStream::connect(addr).await?,
            Some(ip) => {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
        };
        let tls = connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { send })
    }

    /// Sends a request.
    ///
    /// # Errors
    /// A transport failure.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Reply, ConnectError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        self.send.ready().await?;
        let resp = self
            .send
            .send_request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }

    /// `GET`.
    ///
    /// # Errors
    /// A transport failure.
    pub async fn get(&mut self, path: &str) -> Result<Reply, ConnectError> {
        self.request(Method::GET, path, &[], Vec::new()).await
    }

    /// `POST` a JSON body.
    ///
    /// # Errors
    /// A transport failure.
    pub async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<Reply, ConnectError> {
        self.request(Method::POST, path, &[], body).await
    }

    /// A request signed by a participant's device (CHK-13).
    ///
    /// # Errors
    /// A transport failure.
    pub async fn signed(
        &mut self,
        method: Method,
        path: &str,
        pseudonym: &Pseudonym,
        device: &SigningKey,
        time: UnixTime,
        body: Vec<u8>,
    ) -> Result<Reply, ConnectError> {
        let sig =
            minimis_crypto::sign_request(device, pseudonym, method.as_str(), path, time, &body);
        let auth = format!(
            "Minimis-Device pseudonym={},time={},signature={}",
            pseudonym,
            time.seconds(),
            base64::engine::general_purpose::STANDARD.encode(sig.as_bytes())
        );
        self.request(method, path, &[("authorization", auth)], body)
            .await
    }
}

/// Enrolls `p` through the operator's officer API (`POST /v1/enrollments` with its
/// device key, tag key and schedule, over `officer`'s client-certificate connection),
/// and returns it with the pseudonym the operator chose. Panics unless the operator
/// answers `201 Created`.
pub async fn enroll(officer: &mut Client, mut p: crate::Participant) -> crate::Participant {
    let body = minimis_wire::operator::EnrollRequest {
        device_key: p.device.public_key(),
        tag_key: minimis_wire::operator::WireTagKey::new(*p.tags.expose_secret()),
        schedule: p.schedule.clone(),
        conditions: false,
    };
    let r = officer
        .post("/v1/enrollments", serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let enrolled: minimis_wire::operator::EnrollResponse = serde_json::from_slice(&r.body).unwrap();
    p.pseudonym = enrolled.pseudonym;
    p
}

/// Reads from `s` until the peer closes the connection (or resets it), for at most
/// `patience`; returns what the peer sent, or `None` if it never closed.
pub async fn read_until_closed(
    mut s: impl tokio::io::AsyncRead + Unpin,
    patience: std::time::Duration,
) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(patience, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(all)
}
