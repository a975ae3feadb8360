//! Getting the log's checkpoints cosigned by the witness (C2SP tlog-witness).
//!
//! After each batch the writer signals; this task takes the latest checkpoint, proves it
//! consistent with the last one the witness cosigned, and asks the witness (the oversight
//! custodian, over mutual TLS) to cosign it: `POST /witness/add-checkpoint` with
//! `old <size>`, the consistency proof and the signed note. The cosignature is checked
//! against the witness's key, then handed to the writer, which keeps the newest cosigned
//! checkpoint (receipts are re-issued against it, CHK-30) and adds the cosignature to the
//! published checkpoint if that is still the one cosigned. The witness is not in the
//! check-in's path: a slow or absent witness delays cosignatures, never receipts.
//!
//! Each exchange with the witness is bounded (**SVC-14**): the connection and the TLS
//! handshake must be done within [`CONNECT_TIMEOUT`], the whole exchange within
//! [`EXCHANGE_TIMEOUT`], and an answer longer than [`MAX_ANSWER`] is not read; a witness
//! that hangs or answers without end costs one attempt, which is retried later. Failures
//! are counted, not logged as they happen: a line written right after a batch would date
//! the batch's check-ins (**SVC-12**); the count is written with the request tally.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use minimis_log::note::NoteSignature;
use minimis_log::{LogReader, SignedCheckpoint, VerifierKey};
use rustls_pki_types::ServerName;
use tokio::sync::{mpsc, oneshot};

use crate::api::Readers;
use crate::store::ReadTiles;
use crate::writer::{Op, Shared};

/// The most time to connect to the witness and finish the TLS handshake.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most time for one whole exchange with the witness, connecting included.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest answer read from the witness (a cosignature line is under 200 bytes).
pub(crate) const MAX_ANSWER: usize = 64 * 1024;

/// Where the witness is and how to reach it.
#[derive(Clone)]
pub struct WitnessLink {
    /// Its address.
    pub addr: SocketAddr,
    /// The name its TLS certificate is for.
    pub server_name: String,
    /// PEM certificates to trust for it.
    pub roots_pem: String,
    /// The operator's client certificate (PEM) for mutual TLS.
    pub client_cert_pem: String,
    /// Its key (PEM, PKCS#8).
    pub client_key_pem: zeroize::Zeroizing<String>,
    /// The witness's verifier key (C2SP signed-note vkey, type 0x04).
    pub vkey: VerifierKey,
}

impl std::fmt::Debug for WitnessLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessLink")
            .field("addr", &self.addr)
            .field("vkey", &self.vkey.to_string())
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt {
    /// Cosigned: the checkpoint note with the cosignature appended, and the cosignature.
    Cosigned(String, NoteSignature),
    /// The witness last cosigned another size: retry from it.
    Size(u64),
    /// Nothing new to cosign.
    UpToDate,
}

fn connector(link: &WitnessLink) -> Result<tokio_rustls::TlsConnector, String> {
    // The workspace's one client TLS configuration (TLS 1.3, SVC-42), with the operator's
    // client certificate.
    let config = minimis_wire::https::client_config(
        &link.roots_pem,
        Some((&link.client_cert_pem, &link.client_key_pem)),
    )
    .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The bounds of one exchange with the witness.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    connect: Duration,
    exchange: Duration,
    max_answer: usize,
}

const BOUNDS: Bounds = Bounds {
    connect: CONNECT_TIMEOUT,
    exchange: EXCHANGE_TIMEOUT,
    max_answer: MAX_ANSWER,
};

async fn post(
    connector: &tokio_rustls::TlsConnector,
    link: &WitnessLink,
    body: String,
) -> Result<(u16, String), String> {
    post_within(connector, link, body, BOUNDS).await
}

async fn post_within(
    connector: &tokio_rustls::TlsConnector,
    link: &WitnessLink,
    body: String,
    bounds: Bounds,
) -> Result<(u16, String), String> {
    tokio::time::timeout(bounds.exchange, exchange(connector, link, body, bounds))
        .await
        .map_err(|_| format!("no answer within {} s", bounds.exchange.as_secs()))?
}

async fn exchange(
    connector: &tokio_rustls::TlsConnector,
    link: &WitnessLink,
    body: String,
    bounds: Bounds,
) -> Result<(u16, String), String> {
    let name = ServerName::try_from(link.server_name.clone()).map_err(|e| e.to_string())?;
    let tls = tokio::time::timeout(bounds.connect, async {
        let tcp = tokio::net::TcpStream::connect(link.addr)
            .await
            .map_err(|e| e.to_string())?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| format!("not connected within {} s", bounds.connect.as_secs()))??;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/witness/add-checkpoint")
        .header("host", link.server_name.as_str())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let answered = async {
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), bounds.max_answer)
            .collect()
            .await
            .map_err(|e| {
                format!(
                    "the answer was not read whole (at most {} bytes): {e}",
                    bounds.max_answer
                )
            })?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
    .await;
    // The connection is not kept: it ends with the exchange, whatever its outcome.
    conn.abort();
    answered
}

/// One attempt to get the latest checkpoint cosigned, from the witness's last size `old`.
async fn attempt(
    readers: &Arc<Readers>,
    log_key: &VerifierKey,
    connector: &tokio_rustls::TlsConnector,
    link: &WitnessLink,
    old: u64,
) -> Result<Attempt, String> {
    let key = log_key.clone();
    let (note, proof) = readers
        .with(move |r| {
            let reader = LogReader::open(ReadTiles(r), &key)
                .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?;
            let size = reader.checkpoint().checkpoint().tree_size();
            if size <= old {
                return Ok((None, Vec::new()));
            }
            let proof = if old == 0 {
                Vec::new()
            } else {
                reader
                    .consistency_proof(old, size)
                    .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?
                    .consistency_path
            };
            Ok((Some(reader.checkpoint().to_string()), proof))
        })
        .await
        .map_err(|e| e.to_string())?;
    let Some(note) = note else {
        return Ok(Attempt::UpToDate);
    };
    let mut body = format!("old {old}\n");
    for h in &proof {
        body.push_str(&B64.encode(h.as_ref()));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(&note);
    let (status, text) = post(connector, link, body).await?;
    match status {
        200 => {
            let line = text
                .lines()
                .find(|l| !l.is_empty())
                .ok_or("the witness answered no cosignature")?;
            let sig = NoteSignature::parse_line(line).map_err(|e| e.to_string())?;
            // Check it: the note with the cosignature appended must verify under the log's
            // key and carry the witness's valid cosignature.
            let mut checkpoint =
                SignedCheckpoint::open(note.as_bytes(), log_key).map_err(|e| e.to_string())?;
            checkpoint
                .add_cosignature(sig.clone(), &link.vkey)
                .map_err(|e| e.to_string())?;
            Ok(Attempt::Cosigned(checkpoint.to_string(), sig))
        }
        409 => text
            .trim()
            .parse()
            .map(Attempt::Size)
            .map_err(|_| format!("the witness answered 409 without a size: {text}")),
        s => Err(format!("the witness answered {s}: {}", text.trim())),
    }
}

/// Runs until the writer goes away: whenever the log grows, get its newest checkpoint
/// cosigned.
pub(crate) async fn run(
    link: WitnessLink,
    readers: Arc<Readers>,
    log_key: VerifierKey,
    tx: mpsc::Sender<Op>,
    shared: Arc<Shared>,
    mut old: u64,
    log: minimis_service::RequestLog,
) {
    let connector = match connector(&link) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up TLS to the witness; checkpoints stay uncosigned");
            return;
        }
    };
    loop {
        // Wake on a new batch, or every few seconds to retry after a failure.
        let _ = tokio::time::timeout(Duration::from_secs(3), shared.checkpoint_changed.notified())
            .await;
        match attempt(&readers, &log_key, &connector, &link, old).await {
            Ok(Attempt::Cosigned(note, sig)) => {
                let size = SignedCheckpoint::open(note.as_bytes(), &log_key)
                    .map(|c| c.checkpoint().tree_size())
                    .unwrap_or(old);
                let (rtx, rrx) = oneshot::channel();
                if tx
                    .send(Op::Cosigned(Box::new((note, sig, link.vkey.clone())), rtx))
                    .await
                    .is_err()
                {
                    return;
                }
                if matches!(rrx.await, Ok(Ok(()))) {
                    old = size;
                }
            }
            Ok(Attempt::Size(s)) => old = s,
            Ok(Attempt::UpToDate) => {}
            // Counted, not logged now: this attempt follows a batch (SVC-12).
            Err(e) => log.count_event("witness_cosignature_failed", &e),
        }
    }
}

#[cfg(test)]
#[cfg(feature = "dev-pki")]
mod tests {
    use super::*;
    use minimis_service::dev_pki::DevCa;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// How long anything may take before the test gives up: it only catches a hang.
    const PATIENCE: Duration = Duration::from_secs(120);

    #[derive(Clone, Copy, Debug)]
    enum Witness {
        /// Accepts TCP and never starts TLS.
        NoTls,
        /// Finishes TLS, reads the request, never answers.
        Hangs,
        /// Answers 200 with a body that never ends.
        Endless,
        /// Answers a cosignature line.
        Answers,
    }

    /// A fake witness on loopback behaving as `how`, and a link to it.
    async fn fake(how: Witness) -> WitnessLink {
        let ca = DevCa::generate("witness CA").unwrap();
        let server = ca.issue_server("witness").unwrap();
        let client = ca.issue_client("operator").unwrap();
        let der = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let tls = minimis_service::tls::server_config(
            vec![der(&server.cert)],
            PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap(),
            &[der(&ca.cert)],
            minimis_service::tls::ClientAuth::Required,
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                if matches!(how, Witness::NoTls) {
                    held.push(tcp);
                    continue;
                }
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    match how {
                        Witness::Hangs | Witness::NoTls => {
                            tokio::time::sleep(PATIENCE * 2).await;
                        }
                        Witness::Endless => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                                .await;
                            let chunk = [b"1000\r\n".as_slice(), &[b'x'; 0x1000], b"\r\n"].concat();
                            while tls.write_all(&chunk).await.is_ok() {}
                        }
                        Witness::Answers => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                                .await;
                            tokio::time::sleep(PATIENCE).await;
                        }
                    }
                });
            }
        });
        let cosigner = minimis_log::Cosigner::new(
            minimis_log::KeyName::new("witness.example").unwrap(),
            minimis_crypto::SigningKey::generate().unwrap(),
        );
        WitnessLink {
            addr,
            server_name: "localhost".into(),
            roots_pem: ca.cert.clone(),
            client_cert_pem: client.cert.clone(),
            client_key_pem: zeroize::Zeroizing::new(client.key.to_string()),
            vkey: cosigner.verifier_key(),
        }
    }

    async fn ask(how: Witness, bounds: Bounds) -> Result<(u16, String), String> {
        let link = fake(how).await;
        let connector = connector(&link).unwrap();
        tokio::time::timeout(
            PATIENCE,
            post_within(&connector, &link, "old 0\n\n".into(), bounds),
        )
        .await
        .expect("the client to the witness hung")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn svc_14_the_witness_client_gives_up_on_a_witness_that_hangs_or_answers_without_end() {
        // Short bounds, so that the test is quick; the production ones are 10 s and 30 s.
        let short = Bounds {
            connect: Duration::from_secs(1),
            exchange: Duration::from_secs(2),
            max_answer: MAX_ANSWER,
        };
        for how in [Witness::NoTls, Witness::Hangs, Witness::Endless] {
            assert!(ask(how, short).await.is_err(), "{how:?}");
        }
        // With the production bounds, an endless answer ends at its size bound, long before
        // the exchange's time is up.
        let e = ask(Witness::Endless, BOUNDS).await.unwrap_err();
        assert!(e.contains("not read whole"), "{e}");
        // A witness that answers is read (the check is not vacuous).
        assert_eq!(
            ask(Witness::Answers, short).await,
            Ok((200, "ok\n".to_owned()))
        );
    }
}
