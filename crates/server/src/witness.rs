//! Getting the log's checkpoints cosigned by a quorum of witnesses (C2SP tlog-witness;
//! **LOG-60** to **LOG-64**).
//!
//! After each batch the writer signals; this task takes the latest checkpoint and, to
//! every configured witness at once, sends `add-checkpoint`: `old <size>` (the size that
//! witness last cosigned), the consistency proof from it and the signed note. Each answer
//! is checked: a `200`'s cosignature must verify under that witness's key on this very
//! checkpoint; a `409` gives the witness's size (`text/x.tlog.size`), from which the task
//! resyncs at once, in the same round, with a proof from that size; anything else, or no
//! answer within the bounds, skips the witness for this round. Once the quorum's
//! cosignatures are in, the checkpoint with all of them is handed to the writer, which
//! publishes it as the newest cosigned checkpoint (receipts are re-issued against it,
//! CHK-30); below the quorum nothing is published, and the last cosigned checkpoint
//! stays. The witnesses are not in the check-in's path: slow or absent witnesses delay
//! cosignatures, never receipts.
//!
//! Each witness has its own keep-alive connection through minimis-wire's one HTTPS client
//! (**SVC-42**), bounded (**SVC-14**): [`CONNECT_TIMEOUT`] to connect, [`EXCHANGE_TIMEOUT`]
//! for the whole exchange, an answer of at most [`MAX_ANSWER`] bytes; a round waits at
//! most one exchange (and one resync) per witness, so a witness that hangs delays a round
//! by at most those bounds and costs only its own cosignature. Failures are counted, not
//! logged as they happen: a line written right after a batch would date the batch's
//! check-ins (**SVC-12**); the count is written with the request tally.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::note::NoteSignature;
use minimis_log::{LogReader, SignedCheckpoint, VerifierKey};
use minimis_wire::https::HttpsClient;
use minimis_wire::transport::{Limits, Request};
use tokio::sync::{mpsc, oneshot};

use crate::api::Readers;
use crate::store::ReadTiles;
use crate::writer::{Op, Shared};

/// The most time to connect to a witness and finish the TLS handshake.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most time for one whole exchange with a witness, connecting included.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest answer read from a witness (a cosignature line is under 200 bytes).
pub(crate) const MAX_ANSWER: usize = 64 * 1024;

const LIMITS: Limits = Limits {
    connect: CONNECT_TIMEOUT,
    read: Duration::from_secs(15),
    total: EXCHANGE_TIMEOUT,
    max_body: MAX_ANSWER,
};

/// Where a witness is and how to reach it.
#[derive(Clone)]
pub struct WitnessLink {
    /// Its address.
    pub addr: SocketAddr,
    /// The name its TLS certificate is for.
    pub server_name: String,
    /// PEM certificates to trust for it.
    pub roots_pem: String,
    /// A client certificate and its key (PEM, PKCS#8) for mutual TLS: the oversight
    /// custodian's witness asks for the operator's; a public witness asks for none.
    pub client: Option<(String, zeroize::Zeroizing<String>)>,
    /// Its submission prefix: `/witness` for the oversight custodian, empty for
    /// `minimis witness serve` (the request goes to `<prefix>/add-checkpoint`).
    pub prefix: String,
    /// The witness's verifier key (C2SP signed-note vkey, type 0x04).
    pub vkey: VerifierKey,
}

impl std::fmt::Debug for WitnessLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessLink")
            .field("addr", &self.addr)
            .field("prefix", &self.prefix)
            .field("vkey", &self.vkey.to_string())
            .finish_non_exhaustive()
    }
}

/// The witnesses and how many of them must cosign a checkpoint before it is published
/// (**LOG-61**).
#[derive(Clone, Debug)]
pub struct WitnessSet {
    /// The witnesses.
    pub witnesses: Vec<WitnessLink>,
    /// How many must cosign (1 to the number of witnesses), when there is no `policy`.
    pub quorum: usize,
    /// The tlog-policy whose quorum decides instead of `quorum` (**LOG-66**); every
    /// witness of the set is one of its witnesses.
    pub policy: Option<Arc<minimis_log::TlogPolicy>>,
}

impl WitnessSet {
    /// Whether the witnesses whose keys are `cosigned` make the quorum (**LOG-61**,
    /// **LOG-66**): the policy's rule if there is one, else `quorum` of them.
    pub fn reached(&self, cosigned: &[&VerifierKey]) -> bool {
        match &self.policy {
            Some(p) => {
                let marks: Vec<bool> = p
                    .witnesses()
                    .iter()
                    .map(|w| cosigned.contains(&&w.key))
                    .collect();
                p.satisfied_by(&marks)
            }
            None => cosigned.len() >= self.quorum.max(1),
        }
    }
}

/// One witness as the task sees it: its client and the size it last cosigned.
struct Peer {
    link: WitnessLink,
    client: HttpsClient,
    old: u64,
}

/// What one witness answered in a round.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Its cosignature, checked on the round's checkpoint.
    Cosigned(NoteSignature),
    /// It last cosigned this size (a `409`).
    Size(u64),
}

fn client(link: &WitnessLink) -> Result<HttpsClient, String> {
    let client = link.client.as_ref().map(|(c, k)| (c.as_str(), k.as_str()));
    Ok(
        HttpsClient::new(link.addr, &link.server_name, &link.roots_pem, client)
            .map_err(|e| e.to_string())?
            .with_limits(LIMITS),
    )
}

/// The `add-checkpoint` body.
fn body(old: u64, proof: &[minimis_log::Hash], note: &str) -> Vec<u8> {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&B64.encode(h.as_ref()));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body.into_bytes()
}

/// Reads a witness's answer to `add-checkpoint` for `note` (tlog-witness, the client's
/// side): a `200`'s cosignature lines are checked against `vkey` on `note` (lines from
/// other keys are ignored, as the spec says); a `409`'s body is the witness's size.
fn read_answer(
    status: u16,
    body: &[u8],
    note: &str,
    log_key: &VerifierKey,
    vkey: &VerifierKey,
) -> Result<Answer, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
    match status {
        200 => {
            let signed =
                SignedCheckpoint::open(note.as_bytes(), log_key).map_err(|e| e.to_string())?;
            for line in text.split_terminator('\n') {
                let Ok(sig) = NoteSignature::parse_line(line) else {
                    return Err("the answer is not note signature lines".into());
                };
                if sig.name() == vkey.name() && sig.key_id() == vkey.key_id() {
                    let mut c = signed.clone();
                    c.add_cosignature(sig.clone(), vkey)
                        .map_err(|e| e.to_string())?;
                    return Ok(Answer::Cosigned(sig));
                }
            }
            Err("the witness answered no cosignature by its key".into())
        }
        409 => text
            .strip_suffix('\n')
            .and_then(minimis_witness::protocol::parse_decimal)
            .map(Answer::Size)
            .ok_or_else(|| format!("the witness answered 409 without a size: {text:?}")),
        s => Err(format!("the witness answered {s}: {}", text.trim())),
    }
}

/// The note and the consistency proof from `old`, if the log is larger than `old`.
async fn proof_from(
    readers: &Arc<Readers>,
    log_key: &VerifierKey,
    old: u64,
) -> Result<Option<(String, Vec<minimis_log::Hash>)>, String> {
    let key = log_key.clone();
    readers
        .with(move |r| {
            let reader = LogReader::open(ReadTiles(r), &key)
                .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?;
            let size = reader.checkpoint().checkpoint().tree_size();
            if size <= old {
                return Ok(None);
            }
            let proof = if old == 0 {
                Vec::new()
            } else {
                reader
                    .consistency_proof(old, size)
                    .map_err(|_| crate::store::StoreError::Corrupt { what: "log" })?
                    .consistency_path
            };
            Ok(Some((reader.checkpoint().to_string(), proof)))
        })
        .await
        .map_err(|e| e.to_string())
}

/// Asks one witness to cosign `note` (of `size`), resyncing once from a `409`.
async fn ask(
    peer: &mut Peer,
    readers: &Arc<Readers>,
    log_key: &VerifierKey,
    note: &str,
    size: u64,
    proof: Vec<minimis_log::Hash>,
) -> Result<Option<NoteSignature>, String> {
    let path = format!("{}/add-checkpoint", peer.link.prefix);
    let mut proof = proof;
    for _ in 0..2 {
        let r = peer
            .client
            .exchange(Request {
                method: "POST",
                path: path.clone(),
                headers: vec![("content-type", "text/plain".to_owned())],
                body: body(peer.old, &proof, note),
            })
            .await
            .map_err(|e| e.to_string())?;
        match read_answer(r.status, &r.body, note, log_key, &peer.link.vkey)? {
            Answer::Cosigned(sig) => {
                peer.old = size;
                return Ok(Some(sig));
            }
            Answer::Size(s) if s >= size => {
                // It has cosigned this size or a larger one already: a larger one is the
                // log's (only the log key signs checkpoints); resume from it.
                peer.old = s;
                return Ok(None);
            }
            Answer::Size(s) => {
                peer.old = s;
                proof = if s == 0 {
                    Vec::new()
                } else {
                    match proof_from(readers, log_key, s).await? {
                        Some((n, p)) if n == note => p,
                        // The log moved on meanwhile: the next round sends the new one.
                        _ => return Ok(None),
                    }
                };
            }
        }
    }
    Ok(None)
}

/// Runs until the writer goes away: whenever the log grows, get its newest checkpoint
/// cosigned by the quorum, and publish it once it is.
pub(crate) async fn run(
    set: WitnessSet,
    readers: Arc<Readers>,
    log_key: VerifierKey,
    tx: mpsc::Sender<Op>,
    shared: Arc<Shared>,
    old: u64,
    log: minimis_service::RequestLog,
) {
    let mut peers = Vec::new();
    for link in set.witnesses.clone() {
        match client(&link) {
            Ok(client) => peers.push(Peer { link, client, old }),
            Err(e) => {
                tracing::error!(error = %e, "cannot set up TLS to a witness; it is left out");
            }
        }
    }
    let mut published = old;
    loop {
        // Wake on a new batch, or every few seconds to retry after a failure.
        let _ = tokio::time::timeout(Duration::from_secs(3), shared.checkpoint_changed.notified())
            .await;
        let (note, size) = match proof_from(&readers, &log_key, published).await {
            Ok(Some((note, _))) => {
                let size = SignedCheckpoint::open(note.as_bytes(), &log_key)
                    .map(|c| c.checkpoint().tree_size())
                    .unwrap_or(0);
                (note, size)
            }
            Ok(None) => continue,
            Err(e) => {
                log.count_event("witness_cosignature_failed", &e);
                continue;
            }
        };
        // Every witness at once; each exchange bounded, so the round is too.
        let mut round = tokio::task::JoinSet::new();
        for mut peer in std::mem::take(&mut peers) {
            let (readers, log_key, note) = (readers.clone(), log_key.clone(), note.clone());
            round.spawn(async move {
                let proof = if peer.old == 0 || peer.old >= size {
                    Ok(Vec::new())
                } else {
                    proof_from(&readers, &log_key, peer.old)
                        .await
                        .map(|p| p.map(|(_, p)| p).unwrap_or_default())
                };
                let got = match proof {
                    Ok(p) => ask(&mut peer, &readers, &log_key, &note, size, p).await,
                    Err(e) => Err(e),
                };
                (peer, got)
            });
        }
        let mut cosigs = Vec::new();
        while let Some(done) = round.join_next().await {
            let Ok((peer, got)) = done else { continue };
            match got {
                Ok(Some(sig)) => cosigs.push((sig, peer.link.vkey.clone())),
                Ok(None) => {}
                // Counted, not logged now: this round follows a batch (SVC-12).
                Err(e) => log.count_event("witness_cosignature_failed", &e),
            }
            peers.push(peer);
        }
        let keys: Vec<&VerifierKey> = cosigs.iter().map(|(_, k)| k).collect();
        if !set.reached(&keys) {
            log.count_event("witness_quorum_not_reached", "");
            continue;
        }
        let mut checkpoint = match SignedCheckpoint::open(note.as_bytes(), &log_key) {
            Ok(c) => c,
            Err(_) => continue,
        };
        for (sig, vkey) in &cosigs {
            let _ = checkpoint.add_cosignature(sig.clone(), vkey);
        }
        let (rtx, rrx) = oneshot::channel();
        if tx
            .send(Op::Cosigned(
                Box::new((checkpoint.to_string(), cosigs)),
                rtx,
            ))
            .await
            .is_err()
        {
            return;
        }
        if matches!(rrx.await, Ok(Ok(()))) {
            published = size;
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
            client: Some((
                client.cert.clone(),
                zeroize::Zeroizing::new(client.key.to_string()),
            )),
            prefix: "/witness".into(),
            vkey: cosigner.verifier_key(),
        }
    }

    async fn ask(how: Witness, limits: Limits) -> Result<(u16, String), String> {
        let link = fake(how).await;
        let c = client(&link).unwrap().with_limits(limits);
        tokio::time::timeout(
            PATIENCE,
            c.exchange(Request::post(
                "/witness/add-checkpoint",
                b"old 0\n\n".to_vec(),
            )),
        )
        .await
        .expect("the client to the witness hung")
        .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
        .map_err(|e| e.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn svc_14_the_witness_client_gives_up_on_a_witness_that_hangs_or_answers_without_end() {
        // Short bounds, so that the test is quick; the production ones are 10 s and 30 s.
        let short = Limits {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(1),
            total: Duration::from_secs(2),
            max_body: MAX_ANSWER,
        };
        for how in [Witness::NoTls, Witness::Hangs, Witness::Endless] {
            assert!(ask(how, short).await.is_err(), "{how:?}");
        }
        // With the production bounds, an endless answer ends at its size bound, long before
        // the exchange's time is up.
        let e = ask(Witness::Endless, LIMITS).await.unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        // A witness that answers is read (the check is not vacuous).
        assert_eq!(
            ask(Witness::Answers, short).await,
            Ok((200, "ok\n".to_owned()))
        );
    }
}

#[cfg(test)]
mod answers {
    //! The log's side of tlog-witness, from the spec's text: every answer a witness can
    //! give, and what the client makes of it (**LOG-62**).
    use super::*;
    use minimis_crypto::SigningKey;
    use minimis_log::{KeyName, Log, MemoryStorage, NoteSigner};

    fn setup() -> (String, String, VerifierKey, VerifierKey, String) {
        let signer = NoteSigner::new(
            KeyName::new("log.example").unwrap(),
            SigningKey::from_seed(&[1; 32]).unwrap(),
        );
        let mut log = Log::create(MemoryStorage::new(), signer).unwrap();
        log.append_batch(&[b"a".as_slice(), b"b"]).unwrap();
        let note = log.checkpoint().to_string();
        let dir = tempfile::tempdir().unwrap();
        let w = minimis_witness::TlogWitness::open(
            dir.path(),
            KeyName::new("w.example").unwrap(),
            SigningKey::from_seed(&[2; 32]).unwrap(),
            vec![minimis_witness::KnownLog {
                key: log.verifier_key(),
                rate: None,
            }],
        )
        .unwrap();
        let line = w
            .add_checkpoint(
                &body(0, &[], &note),
                minimis_proto::UnixTime(5),
                std::time::Instant::now(),
            )
            .unwrap();
        // A cosignature by the same witness on another checkpoint.
        log.append_batch(&[b"c".as_slice()]).unwrap();
        let p = log.consistency_proof(2, 3).unwrap().consistency_path;
        let other = w
            .add_checkpoint(
                &body(2, &p, &log.checkpoint().to_string()),
                minimis_proto::UnixTime(6),
                std::time::Instant::now(),
            )
            .unwrap();
        (
            note,
            line,
            log.verifier_key(),
            w.verifier_key().clone(),
            other,
        )
    }

    #[test]
    fn log_62_the_client_reads_every_witness_answer_as_tlog_witness_defines_it() {
        let (note, line, log_key, vkey, other) = setup();
        let foreign = minimis_log::Cosigner::new(
            KeyName::new("x.example").unwrap(),
            SigningKey::from_seed(&[3; 32]).unwrap(),
        );
        let foreign_line = format!(
            "— x.example {}\n",
            B64.encode([&foreign.verifier_key().key_id().as_bytes()[..], &[0u8; 72]].concat())
        );
        let rows: Vec<(&str, u16, String, Result<(), ()>)> = vec![
            (
                "200 with the witness's cosignature",
                200,
                line.clone(),
                Ok(()),
            ),
            (
                "200: cosignatures from unknown keys are ignored",
                200,
                format!("{foreign_line}{line}"),
                Ok(()),
            ),
            (
                "200 with only unknown keys' lines",
                200,
                foreign_line.clone(),
                Err(()),
            ),
            (
                "200 with a cosignature of another checkpoint",
                200,
                other,
                Err(()),
            ),
            (
                "200 that is not signature lines",
                200,
                "ok\n".into(),
                Err(()),
            ),
            ("409 with the size", 409, "7\n".into(), Ok(())),
            ("409 with a leading zero", 409, "07\n".into(), Err(())),
            ("409 without the newline", 409, "7".into(), Err(())),
            ("409 with JSON", 409, "{\"error\":{}}".into(), Err(())),
            ("400", 400, String::new(), Err(())),
            ("403", 403, String::new(), Err(())),
            ("404", 404, String::new(), Err(())),
            ("422", 422, String::new(), Err(())),
            ("429", 429, String::new(), Err(())),
            ("503", 503, String::new(), Err(())),
        ];
        for (what, status, text, want) in rows {
            let got = read_answer(status, text.as_bytes(), &note, &log_key, &vkey);
            assert_eq!(got.is_ok(), want.is_ok(), "{what}: {got:?}");
            match got {
                Ok(Answer::Size(s)) => assert_eq!((status, s), (409, 7), "{what}"),
                Ok(Answer::Cosigned(sig)) => {
                    assert_eq!(status, 200);
                    assert_eq!(sig.name(), vkey.name(), "{what}");
                }
                Err(_) => {}
            }
        }
    }
}
