//! The custodian's view of the operator: an [`OperatorLink`] trait (append log entries
//! and get their proofs, fetch a record, keep records under a legal hold, publish a
//! recipient, read the log's key), its HTTPS implementation
//! ([`crate::https::HttpsOperator`]) and an in-process one ([`InProcessOperator`]) backed
//! by a real [`minimis_log::Log`] for tests, benchmarks and the demo.
//!
//! The link carries data; it verifies nothing. What the operator answers is checked by
//! the custodian: every proof against the log's key and the required witnesses
//! (**ACC-4**), every record's id against its bytes when the operator gives the
//! challenge id.
//!
//! The HTTPS contract (the operator's `/v1/custodian/*` routes; every request carries
//! `Authorization: Minimis-Custodian role=<role>,time=<unix>,signature=<base64>`, the
//! Ed25519 signature of `minimis_crypto::sign_custodian_request`):
//!
//! ```text
//! POST /v1/custodian/entries   {"entries": ["<base64 entry>", ...]}
//!                              201 {"proofs": ["<tlog-proof>", ...]}
//! GET  /v1/custodian/records/{record_id}
//!                              200 {"record_id", "epoch", "pseudonym", "ciphertext"}
//!                              404 unknown_record
//! POST /v1/custodian/holds     {"records": ["<hex>", ...], "until": <unix>}   204
//! POST /v1/recipients          a SignedEpochRecipient                        204
//! GET  /v1/keys                {"operator", "log"}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use minimis_log::entry::{RecordSet, RecordSetHash};
use minimis_log::{KeyName, Log, LogEntry, MemoryStorage, NoteSigner, SignedNote, VerifierKey};
use minimis_proto::{
    ChallengeId, CustodianRole, Envelope, EpochId, ParticipantTag, Policy, Pseudonym, RecordId,
    SignedEpochRecipient, UnixTime,
};

use crate::clock::Clock;
use crate::witness::WitnessService;
use minimis_wire::{CustodianRefusal, OperatorRefusal, TransportError};

/// A boxed future, so that links are object-safe (`Arc<dyn OperatorLink>`).
pub type LinkFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LinkError>> + Send + 'a>>;

/// How the other side could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unreachable {
    /// No whole answer came: the connection, the TLS handshake or the exchange failed,
    /// or the answer broke a bound (**RET-41**; each bound has its own error).
    Transport(TransportError),
    /// The other side answered 5xx.
    ServerError(u16),
    /// The in-process operator was switched off (a simulated outage).
    Down,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => e.fmt(f),
            Self::ServerError(s) => write!(f, "answered {s}"),
            Self::Down => f.write_str("down"),
        }
    }
}

impl From<TransportError> for Unreachable {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

/// Why a link call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing was done, or the answer was lost: retry later.
    #[error("the other side is unavailable: {0}")]
    Unavailable(Unreachable),
    /// The operator refused, with one of its API's refusals.
    #[error("the operator refused: {0}")]
    OperatorRefused(OperatorRefusal),
    /// The other custodian refused, with one of the custodians' refusals.
    #[error("the other custodian refused: {0}")]
    PeerRefused(CustodianRefusal),
    /// The operator holds no such record (never stored, or purged).
    #[error("no such record")]
    UnknownRecord,
    /// The answer is not what the contract says.
    #[error("malformed answer: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
}

/// A sealed record as the operator holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Its id (**CHK-12**).
    pub record_id: RecordId,
    /// The epoch it is sealed to.
    pub epoch: EpochId,
    /// The participant's pseudonym.
    pub pseudonym: Pseudonym,
    /// The challenge it answered, if the operator gives it: then the custodian checks
    /// that the record id is the hash of these fields and the ciphertext.
    pub challenge_id: Option<ChallengeId>,
    /// The sealed check-in.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("record_id", &self.record_id)
            .field("epoch", &self.epoch)
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .finish_non_exhaustive()
    }
}

impl StoredRecord {
    /// Whether the record id binds the other fields (always true when the operator did
    /// not give the challenge id, which the binding needs).
    pub fn binding_holds(&self) -> bool {
        match self.challenge_id {
            None => true,
            Some(c) => {
                let input =
                    Envelope::signing_input_for(&self.pseudonym, &c, self.epoch, &self.ciphertext);
                RecordId::from_bytes(minimis_crypto::sha256(&input)) == self.record_id
            }
        }
    }
}

/// What a custodian asks of the operator. Implementations only carry data: the
/// custodian verifies every proof itself.
pub trait OperatorLink: Send + Sync {
    /// Appends `entries` to the log, in one batch; returns one C2SP tlog-proof per
    /// entry, in order, against the checkpoint of the batch that committed them.
    fn append<'a>(&'a self, entries: &'a [LogEntry]) -> LinkFuture<'a, Vec<String>>;
    /// The record `id`.
    fn record(&self, id: RecordId) -> LinkFuture<'_, StoredRecord>;
    /// Tells the operator not to purge `records` before `until` (a legal hold).
    fn hold<'a>(&'a self, records: &'a [RecordId], until: UnixTime) -> LinkFuture<'a, ()>;
    /// Publishes a signed epoch recipient.
    fn publish<'a>(&'a self, recipient: &'a SignedEpochRecipient) -> LinkFuture<'a, ()>;
    /// The log's verifier key, as the operator states it (trust on first use; a
    /// deployment pins it in the configuration).
    fn log_key(&self) -> LinkFuture<'_, VerifierKey>;
}

// ---- in process ---------------------------------------------------------------------

struct OpState {
    log: Log<MemoryStorage>,
    records: BTreeMap<RecordId, StoredRecord>,
    holds: BTreeMap<RecordId, UnixTime>,
    recipients: Vec<SignedEpochRecipient>,
    available: bool,
    corrupt_proofs: bool,
    witness: Option<Arc<WitnessService>>,
    witnessed: u64,
}

/// An operator in process: a real log (Ed25519 checkpoints, RFC 9162 proofs, C2SP
/// tlog-proofs, witnessed through the real `add-checkpoint` handler when a witness is
/// attached) and a record store, with switches to simulate an outage. For tests,
/// benchmarks and the demo; it enforces the entry rules of the HTTPS contract.
pub struct InProcessOperator {
    state: Mutex<OpState>,
    policy: Policy,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for InProcessOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessOperator").finish_non_exhaustive()
    }
}

/// The in-process operator failed in a way a test should see.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InProcessError {
    /// The log refused the batch.
    #[error("log append failed")]
    Append,
    /// The state lock was poisoned by a panic.
    #[error("operator state poisoned")]
    Poisoned,
    /// The system random number generator failed.
    #[error(transparent)]
    Random(#[from] minimis_crypto::RandomError),
}

fn append_witnessed(
    st: &mut OpState,
    entries: &[LogEntry],
    now: UnixTime,
) -> Result<Vec<String>, InProcessError> {
    let proofs = st
        .log
        .append_entries_with_proofs(entries)
        .map_err(|_| InProcessError::Append)?;
    if let Some(w) = st.witness.clone() {
        // The operator's side of tlog-witness: old size, consistency proof, checkpoint;
        // once more with the witness's size after a 409.
        for _ in 0..2 {
            let size = st.log.size();
            let mut body = format!("old {}\n", st.witnessed);
            if st.witnessed > 0 && st.witnessed < size {
                let p = st
                    .log
                    .consistency_proof(st.witnessed, size)
                    .map_err(|_| InProcessError::Append)?;
                for h in p.consistency_path {
                    use base64::Engine as _;
                    body.push_str(&base64::engine::general_purpose::STANDARD.encode(h.as_bytes()));
                    body.push('\n');
                }
            }
            body.push('\n');
            body.push_str(&st.log.checkpoint().to_string());
            match w.add_checkpoint(body.as_bytes(), now) {
                Ok(lines) => {
                    let note = format!("{}{lines}", st.log.checkpoint());
                    if let Ok(n) = SignedNote::parse(note.as_bytes())
                        && let Some(sig) = n.signatures().last().cloned()
                    {
                        let _ = st.log.add_cosignature(sig, w.verifier_key());
                    }
                    st.witnessed = size;
                    break;
                }
                Err(crate::witness::AddCheckpointError::SizeMismatch { latest }) => {
                    st.witnessed = latest;
                }
                Err(_) => break,
            }
        }
    }
    let proofs = proofs
        .tlog_proofs(st.log.checkpoint())
        .map_err(|_| InProcessError::Append)?;
    let mut out: Vec<String> = proofs.iter().map(ToString::to_string).collect();
    if st.corrupt_proofs {
        for p in &mut out {
            // Point every proof at the wrong leaf.
            *p = p.replacen("\nindex ", "\nindex 1", 1);
        }
    }
    Ok(out)
}

impl InProcessOperator {
    /// A fresh operator with an empty log named `log.minimis.example`, for `policy`.
    ///
    /// # Errors
    /// [`InProcessError`] if a key cannot be made.
    pub fn new(policy: Policy, clock: Arc<dyn Clock>) -> Result<Arc<Self>, InProcessError> {
        let name = KeyName::new("log.minimis.example").map_err(|_| InProcessError::Append)?;
        let signer = NoteSigner::new(
            name,
            minimis_crypto::SigningKey::generate().map_err(InProcessError::Random)?,
        );
        let log = Log::create(MemoryStorage::new(), signer).map_err(|_| InProcessError::Append)?;
        Ok(Arc::new(Self {
            state: Mutex::new(OpState {
                log,
                records: BTreeMap::new(),
                holds: BTreeMap::new(),
                recipients: Vec::new(),
                available: true,
                corrupt_proofs: false,
                witness: None,
                witnessed: 0,
            }),
            policy,
            clock,
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&mut OpState) -> T) -> Result<T, InProcessError> {
        let mut g = self.state.lock().map_err(|_| InProcessError::Poisoned)?;
        Ok(f(&mut g))
    }

    /// The log's verifier key.
    pub fn log_verifier_key(&self) -> Option<VerifierKey> {
        self.with(|s| s.log.verifier_key()).ok()
    }

    /// Has every later batch cosigned by `witness` (the oversight custodian's), through
    /// its `add-checkpoint` handler, before the proofs are returned.
    pub fn attach_witness(&self, witness: Arc<WitnessService>) {
        let _ = self.with(|s| s.witness = Some(witness));
    }

    /// Simulates an outage (`false`) or ends it.
    pub fn set_available(&self, up: bool) {
        let _ = self.with(|s| s.available = up);
    }

    /// Makes every proof returned from now on point at the wrong leaf (`true`), to
    /// check that custodians verify them.
    pub fn set_corrupt_proofs(&self, on: bool) {
        let _ = self.with(|s| s.corrupt_proofs = on);
    }

    /// Stores a check-in as the server does after verifying it, and logs `check-in
    /// received` under `tag`. Returns the record id.
    ///
    /// # Errors
    /// [`InProcessError`].
    pub fn store(
        &self,
        envelope: &Envelope,
        tag: ParticipantTag,
    ) -> Result<RecordId, InProcessError> {
        let id = envelope.record_id();
        let rec = StoredRecord {
            record_id: id,
            epoch: envelope.epoch,
            pseudonym: envelope.pseudonym,
            challenge_id: Some(envelope.challenge_id),
            ciphertext: envelope.ciphertext.as_bytes().to_vec(),
        };
        let entry = LogEntry::CheckInReceived {
            tag,
            record: id,
            challenge: envelope.challenge_id,
            epoch: envelope.epoch,
        };
        self.store_records(vec![rec], &[entry])?;
        Ok(id)
    }

    /// Stores many records at once with one log batch (benchmark setup).
    ///
    /// # Errors
    /// [`InProcessError`].
    pub fn store_records(
        &self,
        records: Vec<StoredRecord>,
        entries: &[LogEntry],
    ) -> Result<(), InProcessError> {
        let now = self.clock.now();
        self.with(|s| {
            append_witnessed(s, entries, now)?;
            for r in records {
                s.records.insert(r.record_id, r);
            }
            Ok(())
        })?
    }

    /// A full copy of every stored record: a backup.
    pub fn backup(&self) -> Vec<StoredRecord> {
        self.with(|s| s.records.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every entry of the log, decoded.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.with(|s| {
            (0..s.log.size())
                .filter_map(|i| s.log.entry(i).ok())
                .filter_map(|b| LogEntry::decode(&b).ok())
                .collect()
        })
        .unwrap_or_default()
    }

    /// The current checkpoint, with its cosignatures.
    pub fn checkpoint(&self) -> String {
        self.with(|s| s.log.checkpoint().to_string())
            .unwrap_or_default()
    }

    /// The tlog-proof of entry `index` against the current checkpoint.
    pub fn tlog_proof(&self, index: u64) -> Option<String> {
        self.with(|s| s.log.tlog_proof(index).ok().map(|p| p.to_string()))
            .ok()
            .flatten()
    }

    /// The recipients published so far.
    pub fn recipients(&self) -> Vec<SignedEpochRecipient> {
        self.with(|s| s.recipients.clone()).unwrap_or_default()
    }

    /// When the operator may purge `record` at the earliest because of holds.
    pub fn held_until(&self, record: RecordId) -> Option<UnixTime> {
        self.with(|s| s.holds.get(&record).copied()).ok().flatten()
    }

    /// The server's sweep (RET-5): deletes each record whose epoch's content deadline has
    /// passed and that no hold keeps past now, and logs `records purged` per epoch.
    /// Returns how many were deleted.
    ///
    /// # Errors
    /// [`InProcessError`].
    pub fn purge_due(&self) -> Result<u64, InProcessError> {
        let now = self.clock.now();
        self.with(|s| {
            let due: Vec<(EpochId, RecordId)> = s
                .records
                .values()
                .filter(|r| self.policy.content_deadline(r.epoch) <= now)
                .filter(|r| s.holds.get(&r.record_id).is_none_or(|&u| u <= now))
                .map(|r| (r.epoch, r.record_id))
                .collect();
            let mut by_epoch: BTreeMap<EpochId, Vec<RecordId>> = BTreeMap::new();
            for (e, r) in &due {
                by_epoch.entry(*e).or_default().push(*r);
            }
            let entries: Vec<LogEntry> = by_epoch
                .iter()
                .map(|(e, ids)| {
                    let (count, record_set) = RecordSetHash::of(ids);
                    LogEntry::RecordsPurged {
                        epoch: *e,
                        count,
                        record_set,
                        purged_at: now,
                    }
                })
                .collect();
            if !entries.is_empty() {
                append_witnessed(s, &entries, now)?;
            }
            for (_, r) in &due {
                s.records.remove(r);
            }
            Ok(due.len() as u64)
        })?
    }

    /// The link a custodian with `role` uses.
    pub fn link(self: &Arc<Self>, role: CustodianRole) -> InProcessLink {
        InProcessLink {
            operator: self.clone(),
            role,
        }
    }
}

/// One custodian's link to an [`InProcessOperator`].
#[derive(Debug, Clone)]
pub struct InProcessLink {
    operator: Arc<InProcessOperator>,
    role: CustodianRole,
}

impl InProcessLink {
    fn check_allowed(&self, entries: &[LogEntry]) -> Result<(), LinkError> {
        let mine = self
            .operator
            .policy
            .custodian(self.role)
            .map(|c| c.id.clone())
            .ok_or(LinkError::OperatorRefused(OperatorRefusal::NotYourEntry))?;
        for e in entries {
            minimis_wire::operator::custodian_may_append(e, &mine)
                .map_err(LinkError::OperatorRefused)?;
        }
        Ok(())
    }

    fn up(&self) -> Result<(), LinkError> {
        match self.operator.with(|s| s.available) {
            Ok(true) => Ok(()),
            _ => Err(LinkError::Unavailable(Unreachable::Down)),
        }
    }
}

impl OperatorLink for InProcessLink {
    fn append<'a>(&'a self, entries: &'a [LogEntry]) -> LinkFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.up()?;
            self.check_allowed(entries)?;
            if entries.is_empty() || entries.len() > 1024 {
                return Err(LinkError::OperatorRefused(OperatorRefusal::Malformed));
            }
            let now = self.operator.clock.now();
            self.operator
                .with(|s| append_witnessed(s, entries, now))
                .map_err(|_| LinkError::Unavailable(Unreachable::ServerError(503)))?
                .map_err(|_| LinkError::Unavailable(Unreachable::ServerError(503)))
        })
    }

    fn record(&self, id: RecordId) -> LinkFuture<'_, StoredRecord> {
        Box::pin(async move {
            self.up()?;
            self.operator
                .with(|s| s.records.get(&id).cloned())
                .map_err(|_| LinkError::Unavailable(Unreachable::ServerError(500)))?
                .ok_or(LinkError::UnknownRecord)
        })
    }

    fn hold<'a>(&'a self, records: &'a [RecordId], until: UnixTime) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            self.up()?;
            let set = RecordSet::new(records.iter().copied())
                .map_err(|_| LinkError::OperatorRefused(OperatorRefusal::Malformed))?;
            self.operator
                .with(|s| {
                    for r in set.as_slice() {
                        let e = s.holds.entry(*r).or_insert(until);
                        *e = (*e).max(until);
                    }
                })
                .map_err(|_| LinkError::Unavailable(Unreachable::ServerError(500)))
        })
    }

    fn publish<'a>(&'a self, recipient: &'a SignedEpochRecipient) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            self.up()?;
            // One recipient per epoch and custodian, as the operator's server keeps
            // (SEAL-23): the same one again is a retry, another is refused.
            let first = self
                .operator
                .with(|s| {
                    let first = s
                        .recipients
                        .iter()
                        .find(|r| {
                            (r.recipient.epoch, r.recipient.role)
                                == (recipient.recipient.epoch, recipient.recipient.role)
                        })
                        .cloned();
                    if first.is_none() {
                        s.recipients.push(recipient.clone());
                    }
                    first
                })
                .map_err(|_| LinkError::Unavailable(Unreachable::ServerError(500)))?;
            match first {
                Some(f) if f != *recipient => Err(LinkError::OperatorRefused(
                    OperatorRefusal::RecipientAlreadyPublished,
                )),
                _ => Ok(()),
            }
        })
    }

    fn log_key(&self) -> LinkFuture<'_, VerifierKey> {
        Box::pin(async move {
            self.operator
                .log_verifier_key()
                .ok_or(LinkError::Unavailable(Unreachable::ServerError(500)))
        })
    }
}
