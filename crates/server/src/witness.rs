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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use minimis_log::note::NoteSignature;
use minimis_log::{LogReader, SignedCheckpoint, VerifierKey};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::{mpsc, oneshot};

use crate::api::Readers;
use crate::store::sqlite::ReaderTiles;
use crate::writer::{Op, Shared};

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
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(link.roots_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain = CertificateDer::pem_slice_iter(link.client_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key =
        PrivateKeyDer::from_pem_slice(link.client_key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn post(
    connector: &tokio_rustls::TlsConnector,
    link: &WitnessLink,
    body: String,
) -> Result<(u16, String), String> {
    let tcp = tokio::net::TcpStream::connect(link.addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(link.server_name.clone()).map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::builder()
        .method("POST")
        .uri("/witness/add-checkpoint")
        .header("host", link.server_name.as_str())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
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
            let reader = LogReader::open(ReaderTiles(r), &key)
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
            Err(e) => tracing::warn!(error = %e, "witness cosignature not obtained; will retry"),
        }
    }
}
