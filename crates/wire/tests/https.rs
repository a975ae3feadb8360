//! The HTTPS client against hostile servers (**SVC-42**): a local TLS listener that
//! answers with an endless body, a body that trickles, a huge declared length, nothing
//! at all, or no handshake; a server on TLS 1.2 only; a certificate the client does not
//! trust; a port where nothing listens. Each ends with its own typed error, by the
//! client's own bounds. The outer timeouts are generous and only catch a client that
//! hangs; no test asserts a timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use minimis_service::dev_pki::{PemPair, self_signed_server};
use minimis_wire::{HttpsClient, Limits, Request, Transport as _, TransportError};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[derive(Clone, Copy, Debug)]
enum Answer {
    /// A chunked body that never ends.
    EndlessBody,
    /// `Content-Length: 1 TiB`, then nothing.
    DeclaredHuge,
    /// One byte every 200 ms of a body of 1 MB.
    Trickle,
    /// The request is read; nothing is answered.
    Silent,
    /// The TCP connection is accepted; no TLS handshake.
    NoHandshake,
    /// `200` with a small JSON body.
    Fine,
}

const LIMITS: Limits = Limits {
    connect: Duration::from_millis(500),
    read: Duration::from_millis(500),
    total: Duration::from_secs(2),
    max_body: 1 << 20,
};

/// Generous: only catches a client that does not stop by itself.
const HANG: Duration = Duration::from_secs(60);

fn tls_config(pair: &PemPair, tls12_only: bool) -> Arc<rustls::ServerConfig> {
    let chain = CertificateDer::pem_slice_iter(pair.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let version: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(version)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A server that answers every request as `answer` says; its certificate's PEM.
async fn server(answer: Answer, tls12_only: bool) -> (SocketAddr, String) {
    let pair = self_signed_server("wire-test").unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config(&pair, tls12_only));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if matches!(answer, Answer::NoHandshake) {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                    drop(tcp);
                    return;
                }
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let w = match answer {
                        Answer::EndlessBody => {
                            let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                            if tls.write_all(head).await.is_err() {
                                return;
                            }
                            let chunk = format!("10000\r\n{}\r\n", "[".repeat(1 << 16));
                            for _ in 0..4_096 {
                                if tls.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            return;
                        }
                        Answer::DeclaredHuge => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1099511627776\r\n\r\n")
                                .await;
                            tokio::time::sleep(Duration::from_secs(120)).await;
                            return;
                        }
                        Answer::Trickle => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n")
                                .await;
                            for _ in 0..600 {
                                if tls.write_all(b" ").await.is_err() {
                                    return;
                                }
                                let _ = tls.flush().await;
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            return;
                        }
                        Answer::Silent | Answer::NoHandshake => {
                            tokio::time::sleep(Duration::from_secs(120)).await;
                            return;
                        }
                        Answer::Fine => tls
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
                            )
                            .await,
                    };
                    if w.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, pair.cert)
}

async fn get(client: &HttpsClient) -> Result<minimis_wire::Response, TransportError> {
    tokio::time::timeout(HANG, client.send(Request::get("/v1/keys")))
        .await
        .expect("the client stopped by itself")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_42_every_answer_is_bounded_in_size_and_time_with_its_own_error() {
    let cases = [
        (Answer::EndlessBody, TransportError::TooLarge(1 << 20)),
        (Answer::DeclaredHuge, TransportError::TooLarge(1 << 20)),
        (Answer::Trickle, TransportError::Timeout),
        (Answer::Silent, TransportError::ReadTimeout),
        (Answer::NoHandshake, TransportError::ConnectTimeout),
    ];
    for (answer, want) in cases {
        let (addr, ca) = server(answer, false).await;
        let client = HttpsClient::new(addr, "localhost", &ca, None)
            .unwrap()
            .with_limits(LIMITS);
        assert_eq!(get(&client).await, Err(want.clone()), "{answer:?}");
        // The client is still usable afterwards: the failed connection was not kept.
        assert_eq!(get(&client).await, Err(want), "{answer:?}, again");
    }
    // The same client reads a normal answer, and reuses its connection.
    let (addr, ca) = server(Answer::Fine, false).await;
    let client = HttpsClient::new(addr, "localhost", &ca, None)
        .unwrap()
        .with_limits(LIMITS);
    for _ in 0..3 {
        let r = get(&client).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{\"ok\":true}"[..]));
    }
    // A smaller bound for one exchange: the answer is refused by it.
    let r = tokio::time::timeout(HANG, client.exchange_limited(Request::get("/v1/keys"), 4))
        .await
        .expect("stopped by itself");
    assert_eq!(r, Err(TransportError::TooLarge(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_42_only_tls_13_and_only_the_trusted_server() {
    // A server that speaks TLS 1.2 only: the handshake fails.
    let (addr, ca) = server(Answer::Fine, true).await;
    let client = HttpsClient::new(addr, "localhost", &ca, None)
        .unwrap()
        .with_limits(LIMITS);
    assert_eq!(get(&client).await, Err(TransportError::Tls));
    // A server whose certificate the client does not trust.
    let (addr, _) = server(Answer::Fine, false).await;
    let other = self_signed_server("someone-else").unwrap();
    let client = HttpsClient::new(addr, "localhost", &other.cert, None)
        .unwrap()
        .with_limits(LIMITS);
    assert_eq!(get(&client).await, Err(TransportError::Certificate));
    // Nothing listens: the connection fails (a port just released).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let client = HttpsClient::new(addr, "localhost", &other.cert, None)
        .unwrap()
        .with_limits(LIMITS);
    assert_eq!(get(&client).await, Err(TransportError::Connect));
    // Bad roots or a bad name are refused when the client is made.
    assert!(HttpsClient::new(addr, "localhost", "not a certificate", None).is_err());
    assert!(HttpsClient::new(addr, "not a name!", &other.cert, None).is_err());
}

/// A server that answers each connection's one request with `200` and
/// `connection: close`, then closes it; it counts the connections it accepted.
async fn closing_server() -> (SocketAddr, String, Arc<std::sync::atomic::AtomicUsize>) {
    let pair = self_signed_server("wire-test").unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config(&pair, false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 1 << 16];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, pair.cert, accepted)
}

/// A connection the server said it closes is not used again: every request after it goes
/// on a new connection and succeeds, however soon it follows (the server's close may not
/// have reached the client yet when it is sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_42_a_connection_the_server_closes_is_not_used_again() {
    let (addr, ca, accepted) = closing_server().await;
    let client = HttpsClient::new(addr, "localhost", &ca, None)
        .unwrap()
        .with_limits(LIMITS);
    for i in 0..30 {
        let r = get(&client)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e:?}"));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 30);
}
