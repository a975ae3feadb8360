//! Targets for the transparency log's formats: signed notes and verifier keys,
//! checkpoints, cosignatures and the witness's `add-checkpoint` body, tlog-proofs, log
//! entries, entry bundles and a whole log in tiles.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::LazyLock;

use minimis_audit::Auditor;
use minimis_custodian::witness::AddCheckpointRequest;
use minimis_log::checkpoint::Checkpoint;
use minimis_log::note::NoteSignature;
use minimis_log::tiles::{BundleId, TileId, split_bundle};
use minimis_log::{
    Hash, LogEntry, LogReader, SignedCheckpoint, SignedNote, TileStorage, TlogProof, TreeHead,
    VerifierKey, Witness, verify_consistency,
};

use super::{Outcome, keys, utf8};
use crate::NOW;

/// What a log whose operator is malicious publishes: `body` as a checkpoint signed by the
/// log's key and cosigned by the witness (a witness that has seen nothing before signs
/// any checkpoint the log signed). `None` if `body` is not a checkpoint at all.
pub fn malicious_checkpoint(body: &str) -> Option<String> {
    let cp = Checkpoint::parse(body).ok()?;
    let signer = keys::log_signer();
    let signed = SignedCheckpoint::sign(cp, &signer).ok()?;
    let text = signed.to_string();
    let mut witness = Witness::new(keys::witness_cosigner(), keys::log_key().clone()).ok()?;
    let line = witness.cosign(text.as_bytes(), &[], NOW).ok()?;
    Some(format!("{text}{}", line.to_line()))
}

/// The body of a checkpoint note, or `None`.
fn note_text(msg: &[u8]) -> Option<String> {
    SignedNote::parse(msg).ok().map(|n| n.text().to_owned())
}

/// The known keys a note is verified against: the log's, the witness's, the agency's
/// enrollment key, and the signed-note known-answer key of `crates/log/testdata/`.
fn known_keys() -> &'static [VerifierKey] {
    static K: LazyLock<Vec<VerifierKey>> = LazyLock::new(|| {
        let mut v = vec![
            keys::log_key().clone(),
            keys::witness_key().clone(),
            keys::enrollment_key().clone(),
        ];
        for vkey in [
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
        ] {
            v.push(VerifierKey::from_str(vkey).unwrap_or_else(|_| unreachable!("a valid vkey")));
        }
        v
    });
    &K
}

/// A C2SP signed note (**LOG-6** to **LOG-11**) and verifier keys (**LOG-9**): a note
/// that parses writes out to exactly its bytes, each signature line to exactly its line,
/// and is verified against the known keys; every line that reads as a vkey (the
/// auditor's `log.vkey` and `witnesses.vkey`) writes out to exactly itself.
pub fn note(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::Refused;
    if let Some(text) = utf8(data) {
        for line in text.lines() {
            if let Ok(k) = VerifierKey::from_str(line) {
                // One encoding, but for the case of the key ID's hex digits, which is read
                // in either case as Go's `note` package reads it, and written lowercase.
                let mut fields = line.splitn(3, '+');
                let (name, id, data) = (fields.next(), fields.next(), fields.next());
                let lower = format!(
                    "{}+{}+{}",
                    name.unwrap_or_default(),
                    id.unwrap_or_default().to_ascii_lowercase(),
                    data.unwrap_or_default()
                );
                assert_eq!(k.to_string(), lower, "a vkey has one encoding");
                outcome = Outcome::Accepted;
            }
        }
    }
    let Ok(n) = SignedNote::parse(data) else {
        return outcome;
    };
    assert_eq!(n.to_string().as_bytes(), data, "a note has one encoding");
    for s in n.signatures() {
        let line = s.to_line();
        let parsed = NoteSignature::parse_line(line.trim_end_matches('\n'))
            .unwrap_or_else(|e| panic!("a signature line written parses: {e}"));
        assert_eq!(&parsed, s);
    }
    if let Ok(verified) = n.verify(known_keys()) {
        assert!(!verified.is_empty());
        outcome = Outcome::Accepted;
    }
    outcome
}

fn check_signed(msg: &[u8]) -> Option<SignedCheckpoint> {
    let scp = SignedCheckpoint::open(msg, keys::log_key()).ok()?;
    assert_eq!(
        scp.to_string().as_bytes(),
        msg,
        "a checkpoint has one encoding"
    );
    assert_eq!(scp.checkpoint().origin(), keys::LOG_NAME);
    if let Ok(v) = scp.verify_cosignatures(std::slice::from_ref(keys::witness_key())) {
        assert_eq!(v.len(), 1);
    }
    Some(scp)
}

/// A checkpoint (**LOG-12** to **LOG-15**): a body that parses writes out to exactly
/// itself; a signed checkpoint opens under the log's key, writes out to exactly its
/// bytes and has its witness cosignature checked. The text of the note, or the body, is
/// then signed and cosigned as a malicious log would and goes through the same checks.
pub fn checkpoint(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::Refused;
    let text = utf8(data);
    if let Some(t) = text
        && let Ok(cp) = Checkpoint::parse(t)
    {
        assert_eq!(cp.to_text(), t, "a checkpoint body has one encoding");
        outcome = Outcome::Accepted;
    }
    if check_signed(data).is_some() {
        outcome = Outcome::Accepted;
    }
    let body = note_text(data).or_else(|| text.map(str::to_owned));
    if let Some(signed) = body.as_deref().and_then(malicious_checkpoint) {
        let scp = check_signed(signed.as_bytes())
            .unwrap_or_else(|| panic!("a checkpoint the log signed opens: {signed:?}"));
        scp.verify_cosignatures(std::slice::from_ref(keys::witness_key()))
            .unwrap_or_else(|e| panic!("the witness's own cosignature verifies: {e}"));
    }
    outcome
}

/// The tree head the fuzzing witness last cosigned: the spec example's first batch
/// (`spec/log.md`), 3 entries.
pub(crate) fn witness_state() -> TreeHead {
    static H: LazyLock<TreeHead> = LazyLock::new(|| {
        let log = crate::fuzz::seeds::example_log(1);
        TreeHead {
            tree_size: log.size(),
            root_hash: *log.checkpoint().checkpoint().root_hash(),
        }
    });
    *H
}

fn cosign_with(state: Option<TreeHead>, checkpoint: &[u8], proof: &[Hash]) -> bool {
    let Ok(mut w) = Witness::resume(keys::witness_cosigner(), keys::log_key().clone(), state)
    else {
        unreachable!("an Ed25519 log key")
    };
    let Ok(line) = w.cosign(checkpoint, proof, NOW) else {
        assert_eq!(w.latest(), state, "a refusal changes no state");
        return false;
    };
    // What the witness signed verifies, and is what it now remembers.
    let mut scp = SignedCheckpoint::open(checkpoint, keys::log_key())
        .unwrap_or_else(|e| panic!("a cosigned checkpoint opens: {e}"));
    scp.add_cosignature(line, keys::witness_key())
        .unwrap_or_else(|e| panic!("the witness's cosignature verifies: {e}"));
    let head = w
        .latest()
        .unwrap_or_else(|| unreachable!("a cosignature sets the state"));
    assert_eq!(head.tree_size, scp.checkpoint().tree_size());
    assert_eq!(&head.root_hash, scp.checkpoint().root_hash());
    if let Some(s) = state.filter(|s| s.tree_size > 0) {
        assert!(head.tree_size >= s.tree_size, "never a rollback (LOG-16)");
        if head.tree_size > s.tree_size {
            verify_consistency(
                s.tree_size,
                head.tree_size,
                &s.root_hash,
                &head.root_hash,
                proof,
            )
            .unwrap_or_else(|e| panic!("cosigned without consistency: {e}"));
        } else {
            assert_eq!(head.root_hash, s.root_hash, "never a split view");
        }
    }
    true
}

/// Cosignatures and the witness (**LOG-15**, **LOG-16**): the body of a C2SP
/// tlog-witness `add-checkpoint` request, as the oversight custodian receives it from
/// the operator, is parsed, written out again to exactly itself, and handed to a witness
/// that has seen nothing and to one that last cosigned the spec example's first batch,
/// with the checkpoint as sent and signed by a malicious log; a witness cosigns only a
/// checkpoint consistent with what it saw, and its cosignature verifies. Every line that
/// reads as a signature line writes out to exactly itself and is checked as a
/// cosignature of the spec example's checkpoint.
pub fn cosignature(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::Refused;
    if let Ok(req) = AddCheckpointRequest::parse(data) {
        assert_eq!(
            req.to_bytes(),
            data,
            "an add-checkpoint body has one encoding"
        );
        let mut checkpoints = vec![req.checkpoint.to_vec()];
        if let Some(m) = note_text(req.checkpoint)
            .as_deref()
            .and_then(malicious_checkpoint)
        {
            checkpoints.push(m.into_bytes());
        }
        for cp in &checkpoints {
            for state in [None, Some(witness_state())] {
                if cosign_with(state, cp, &req.proof) {
                    outcome = Outcome::Accepted;
                }
            }
        }
    }
    if let Some(text) = utf8(data) {
        let mut scp = crate::fuzz::seeds::example_checkpoint().clone();
        for line in text.lines() {
            if let Ok(sig) = NoteSignature::parse_line(line) {
                assert_eq!(sig.to_line(), format!("{line}\n"), "one encoding");
                if scp.add_cosignature(sig, keys::witness_key()).is_ok() {
                    outcome = Outcome::Accepted;
                }
            }
        }
    }
    outcome
}

/// The entries a tlog-proof seed may prove: the spec example's.
fn example_entries() -> &'static [Vec<u8>] {
    static E: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
        crate::fuzz::seeds::example_entries()
            .iter()
            .map(LogEntry::encode)
            .collect()
    });
    &E
}

fn rebuild(proof: &TlogProof, checkpoint: &str) -> String {
    let original = proof.to_string();
    let head = original.len() - proof.checkpoint_text().len();
    format!("{}{checkpoint}", &original[..head])
}

/// A tlog-proof, the participant's receipt (**LOG-17**, **LOG-18**): one that parses
/// writes out to exactly its bytes, and is verified for each of the spec example's
/// entries under the log's and the witness's keys; with its checkpoint as carried and as
/// a malicious log would sign it. A proof that verifies for an entry proves that entry's
/// index.
pub fn tlog_proof(data: &[u8]) -> Outcome {
    let Ok(proof) = TlogProof::parse(data) else {
        return Outcome::Refused;
    };
    assert_eq!(
        proof.to_string().as_bytes(),
        data,
        "a tlog-proof has one encoding"
    );
    let mut outcome = Outcome::Refused;
    let mut texts = vec![data.to_vec()];
    if let Some(m) = note_text(proof.checkpoint_text().as_bytes())
        .as_deref()
        .and_then(malicious_checkpoint)
    {
        texts.push(rebuild(&proof, &m).into_bytes());
    }
    for (i, text) in texts.iter().enumerate() {
        for entry in example_entries() {
            for witnesses in [&[][..], std::slice::from_ref(keys::witness_key())] {
                if let Ok(v) =
                    minimis_log::verify_tlog_proof(text, entry, keys::log_key(), witnesses)
                {
                    assert_eq!(v.leaf_index, proof.leaf_index());
                    assert!(v.leaf_index < v.checkpoint.tree_size());
                    if i == 0 {
                        outcome = Outcome::Accepted;
                    }
                }
            }
        }
    }
    outcome
}

/// A log entry (**LOG-25**, **LOG-26**): one that decodes encodes to exactly its bytes.
pub fn entry(data: &[u8]) -> Outcome {
    let Ok(e) = LogEntry::decode(data) else {
        return Outcome::Refused;
    };
    assert_eq!(e.encode(), data, "an entry has one encoding");
    assert!(!e.entry_type().as_str().is_empty());
    Outcome::Accepted
}

/// An entry bundle (**LOG-21**): split into as many entries as it holds, it writes out
/// to exactly its bytes, and each entry decodes or is refused; split to any other count
/// it is refused.
pub fn entry_bundle(data: &[u8]) -> Outcome {
    // How many entries the bytes hold, if they hold whole entries only.
    let mut count = 0usize;
    let mut rest = data;
    let whole = loop {
        if rest.is_empty() {
            break true;
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            break false;
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            break false;
        }
        rest = &tail[len..];
        count += 1;
    };
    for width in [1u16, 2, 255, 256] {
        if !(whole && usize::from(width) == count) {
            assert!(split_bundle(data, width).is_err());
        }
    }
    let Some(width) = u16::try_from(count)
        .ok()
        .filter(|w| whole && (1..=256).contains(w))
    else {
        return Outcome::Refused;
    };
    let entries =
        split_bundle(data, width).unwrap_or_else(|e| panic!("{count} whole entries split: {e}"));
    let mut again = Vec::with_capacity(data.len());
    let mut all = true;
    for e in &entries {
        let len = u16::try_from(e.len()).unwrap_or_else(|_| unreachable!("a u16 length"));
        again.extend_from_slice(&len.to_be_bytes());
        again.extend_from_slice(e);
        all &= entry(e) == Outcome::Accepted;
    }
    assert_eq!(again, data, "a bundle has one encoding");
    if all {
        Outcome::Accepted
    } else {
        Outcome::Refused
    }
}

/// A read-only tile storage holding what the fuzzer gives.
#[derive(Debug, Default)]
pub struct Files {
    checkpoint: Option<String>,
    files: HashMap<String, Vec<u8>>,
}

/// A write to [`Files`]: it is read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the fuzzer's tile storage is read-only")]
pub struct ReadOnly;

impl TileStorage for Files {
    type Error = ReadOnly;

    fn write_tile(&mut self, _: TileId, _: &[u8]) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, ReadOnly> {
        Ok(self
            .files
            .get(&tile.path())
            .map(|v| Cow::Borrowed(v.as_slice())))
    }

    fn write_bundle(&mut self, _: BundleId, _: &[u8]) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, ReadOnly> {
        Ok(self
            .files
            .get(&bundle.path())
            .map(|v| Cow::Borrowed(v.as_slice())))
    }

    fn write_checkpoint(&mut self, _: &str) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, ReadOnly> {
        Ok(self.checkpoint.as_deref().map(Cow::Borrowed))
    }
}

impl Files {
    /// Reads the fuzzer's container: a checkpoint body, an empty line, then files, each
    /// `<path> <length>\n` and that many bytes (what [`Files::to_bytes`] writes).
    pub fn parse(data: &[u8]) -> Option<(String, Self)> {
        let split = data.windows(2).position(|w| w == b"\n\n")?;
        let body = std::str::from_utf8(&data[..=split]).ok()?.to_owned();
        let mut rest = &data[split + 2..];
        let mut files = HashMap::new();
        while !rest.is_empty() {
            let nl = rest.iter().position(|&b| b == b'\n')?;
            let head = std::str::from_utf8(&rest[..nl]).ok()?;
            let (path, len) = head.rsplit_once(' ')?;
            let len: usize = len.parse().ok()?;
            let tail = &rest[nl + 1..];
            let bytes = tail.get(..len)?;
            files.insert(path.to_owned(), bytes.to_vec());
            rest = &tail[len..];
        }
        Some((
            body,
            Self {
                checkpoint: None,
                files,
            },
        ))
    }

    /// Writes the container: `body`, an empty line, then every file.
    pub fn to_bytes(body: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut out = format!("{body}\n").into_bytes();
        for (path, bytes) in files {
            out.extend_from_slice(format!("{path} {}\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// A whole log as an auditor reads it (**LOG-19** to **LOG-24**, **AUD-1**, **AUD-3**):
/// tiles and entry bundles the fuzzer gives (a checkpoint body, then files by their
/// tlog-tiles paths), under that checkpoint signed and cosigned as a malicious log would.
/// The log reader audits it; entries, proofs and the auditor's full pass run on it. A log
/// that audits has every entry readable, and its proofs verify against its root.
pub fn tiles(data: &[u8]) -> Outcome {
    let Some((body, mut files)) = Files::parse(data) else {
        return Outcome::Refused;
    };
    let Some(signed) = malicious_checkpoint(&body) else {
        return Outcome::Refused;
    };
    files.checkpoint = Some(signed);
    let Ok(reader) = LogReader::open(files, keys::log_key()) else {
        unreachable!("the checkpoint was signed by the log's key")
    };
    let size = reader.checkpoint().checkpoint().tree_size();
    let root = *reader.checkpoint().checkpoint().root_hash();
    let mut seen = 0u64;
    let audited = reader.audit_with(|i, _| {
        assert_eq!(i, seen, "entries in order");
        seen += 1;
    });
    let outcome = if audited.is_ok() {
        assert_eq!(seen, size, "every entry was read");
        Outcome::Accepted
    } else {
        Outcome::Refused
    };
    for i in [0, size / 2, size.saturating_sub(1)] {
        let e = reader.entry(i);
        if audited.is_ok() && i < size {
            let bytes = e.unwrap_or_else(|e| panic!("entry {i} of an audited log: {e}"));
            if let Ok(p) = reader.inclusion_proof(i, size) {
                p.verify(&minimis_log::leaf_hash(&bytes), &root)
                    .unwrap_or_else(|e| panic!("inclusion in an audited log: {e}"));
            }
        }
    }
    if audited.is_ok() && size > 1 {
        let first = reader
            .entry(0)
            .unwrap_or_else(|e| panic!("entry 0 of an audited log: {e}"));
        let p = reader
            .consistency_proof(1, size)
            .unwrap_or_else(|e| panic!("a consistency proof of an audited log: {e}"));
        p.verify(&minimis_log::leaf_hash(&first), &root)
            .unwrap_or_else(|e| panic!("consistency in an audited log: {e}"));
    }
    // The auditor's whole pass, on the same storage.
    let Some((_, mut again)) = Files::parse(data) else {
        unreachable!("parsed once already")
    };
    again.checkpoint = Some(reader.checkpoint().to_string());
    let auditor = Auditor::new(keys::log_key().clone(), NOW)
        .witness(keys::witness_key().clone())
        .policy(super::reference_policy().clone());
    match auditor.audit(again, None) {
        Ok(report) => {
            assert!(
                audited.is_ok(),
                "the auditor passed a log the reader refused"
            );
            let _ = (report.exit_code(), report.to_table());
        }
        Err(e) => assert!(e.exit_code() >= 2),
    }
    outcome
}

/// A C2SP tlog-policy file (LOG-63, LOG-64): an accepted policy keeps its bytes and their
/// hash, every witness together always reaches its quorum, none reaches it only under
/// `quorum none`, and evaluating it on the example checkpoint never panics.
pub fn tlog_policy(data: &[u8]) -> Outcome {
    use minimis_log::tlog_policy::Quorum;
    use minimis_log::{TlogPolicy, TlogPolicyHash};
    let Ok(p) = TlogPolicy::parse(data) else {
        return Outcome::Refused;
    };
    assert_eq!(p.as_bytes(), data, "a policy keeps its bytes");
    assert_eq!(p.hash(), TlogPolicyHash::of(data));
    let n = p.witnesses().len();
    assert!(
        p.satisfied_by(&vec![true; n]),
        "every witness reaches the quorum"
    );
    assert_eq!(
        p.satisfied_by(&vec![false; n]),
        p.quorum() == Quorum::None,
        "no witness reaches only `quorum none`"
    );
    let _ = p.verify_quorum(super::seeds::example_checkpoint());
    Outcome::Accepted
}
