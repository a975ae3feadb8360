//! The single writer: every change goes through one thread, in batches (group commit).
//!
//! The writer takes the first request waiting, then everything else already queued (up to
//! `max_batch`), checks and applies each against its in-memory view, appends the batch's
//! log entries, signs one checkpoint, and commits the database transaction, which syncs
//! the WAL to disk. Only then does anyone get an answer: a receipt is the C2SP tlog-proof
//! of the check-in's entry against that checkpoint. If the commit fails, the whole batch is
//! rolled back, every request in it is refused, and the writer rebuilds its view from the
//! database: nothing acknowledged is ever lost, and nothing refused is ever kept.
//!
//! A request that fails its checks gets its own error and changes nothing; the others in
//! the batch go on.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use minimis_crypto::{SigningKey, TagKey, VerifiedEnvelope, sign_challenge};
use minimis_log::BatchProofs;
use minimis_log::entry::RecordSetHash;
use minimis_log::obligation_entry::ObligationEntry;
use minimis_log::{KeyName, Log, LogEntry, NoteSigner};
use minimis_proto::obligations::{
    DeliveryAck, SealedDelivery, SignedConditionResult, SignedFiling, SignedInboxRecipient, day_of,
};
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CustodianRole, EpochId, FilingId, Policy, Pseudonym,
    PublicKey, Receipt, RecordId, Schedule, SignedChallenge, SignedEpochRecipient, Slot, UnixTime,
};
use minimis_wire::OperatorRefusal;
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::store::{
    ChallengeRow, ConditionRow, CountRows, DeliveryRow, FailureCategory, FailureReport, FilingRow,
    InboxRow, LedgerState, ParticipantRow, RecordRow, Resolution, ResolutionReason, ReviewRow,
    SealedTextRow, Statement, StatementCategory, Store, StoreError,
};

const THIRTY_DAYS: i64 = 30 * 86_400;
/// The most statements a participant may attach to one ledger row (ACC-12).
pub(crate) const MAX_STATEMENTS_PER_ROW: usize = 8;
/// How far a check-in's epoch may trail the server's clock at an epoch boundary.
const EPOCH_SKEW: i64 = 300;

/// What the request handlers may read without asking the writer.
#[derive(Default)]
pub(crate) struct Shared {
    /// Device keys of enrolled participants, and whether their enrollment is closed.
    pub(crate) devices: RwLock<HashMap<Pseudonym, (PublicKey, bool)>>,
    /// Signalled after each batch that signed a new checkpoint (the witness task waits on
    /// it).
    pub(crate) checkpoint_changed: tokio::sync::Notify,
}

/// The meta key under which the newest witness-cosigned checkpoint is kept (CHK-31).
pub(crate) const COSIGNED_CHECKPOINT: &str = "cosigned_checkpoint";

/// The meta key under which the first epoch not yet summarized is kept (CHK-28,
/// LOG-36), as a big-endian u32. Written in the batch that logs the summary, so a
/// summary is logged exactly once whatever the restarts.
pub(crate) const NEXT_SUMMARY_EPOCH: &str = "next_summary_epoch";

/// The meta key prefix of the counts carried for an epoch not yet summarized, from the
/// ledger rows a purge deleted before the summary (RET-20), as an `epoch summary`
/// entry's encoding.
const SUMMARY_CARRY: &str = "summary_carry/";

/// `a + b`, count by count.
fn add_counts(
    a: minimis_log::EpochSummary,
    b: &minimis_log::EpochSummary,
) -> Result<minimis_log::EpochSummary, StoreError> {
    let sum = |x: u32, y: u32| {
        x.checked_add(y).ok_or(StoreError::Corrupt {
            what: "ledger count",
        })
    };
    Ok(minimis_log::EpochSummary {
        epoch: a.epoch,
        issued: sum(a.issued, b.issued)?,
        on_time: sum(a.on_time, b.on_time)?,
        late: sum(a.late, b.late)?,
        missed: sum(a.missed, b.missed)?,
        reports: minimis_log::FailureCounts {
            no_network: sum(a.reports.no_network, b.reports.no_network)?,
            app_error: sum(a.reports.app_error, b.reports.app_error)?,
            device_error: sum(a.reports.device_error, b.reports.device_error)?,
            presence_unavailable: sum(
                a.reports.presence_unavailable,
                b.reports.presence_unavailable,
            )?,
            other: sum(a.reports.other, b.reports.other)?,
        },
    })
}

fn no_counts(epoch: EpochId) -> minimis_log::EpochSummary {
    minimis_log::EpochSummary {
        epoch,
        issued: 0,
        on_time: 0,
        late: 0,
        missed: 0,
        reports: minimis_log::FailureCounts::default(),
    }
}

/// An enrollment, as an officer submits it.
pub(crate) struct Enrollment {
    pub(crate) device_key: PublicKey,
    pub(crate) tag_key: Zeroizing<[u8; 32]>,
    pub(crate) schedule: Schedule,
    /// Under conditions: every check-in carries a condition result (**OBL-4**).
    pub(crate) conditions: bool,
}

/// A check-in as the writer takes it: the verified envelope and, for an enrollment under
/// conditions, its condition result, whose length, signature and match with the envelope
/// the handler has checked (**OBL-4**).
pub(crate) struct CheckIn {
    pub(crate) envelope: VerifiedEnvelope,
    pub(crate) condition: Option<SignedConditionResult>,
}

/// A sealed delivery as the writer takes it (**OBL-44**): for whom, to which epoch's inbox.
pub(crate) struct Delivered {
    pub(crate) pseudonym: Pseudonym,
    pub(crate) epoch: EpochId,
    pub(crate) delivery: SealedDelivery,
}

/// An entry the writer appended on a request, once committed: its tlog-proof and the day
/// it records.
pub(crate) struct Logged {
    pub(crate) proof: minimis_log::TlogProof,
    pub(crate) day: UnixTime,
}

/// What an enrollment returns.
pub(crate) struct Enrolled {
    pub(crate) pseudonym: Pseudonym,
}

/// A check-in's answer: the receipt and the ledger state it set. The receipt's text is
/// rendered by the request handler, off the writer's thread.
pub(crate) struct CheckedIn {
    pub(crate) record_id: RecordId,
    pub(crate) proof: minimis_log::TlogProof,
    pub(crate) state: LedgerState,
}

impl CheckedIn {
    /// The receipt: the record id and its C2SP tlog-proof.
    pub(crate) fn receipt(&self) -> Receipt {
        Receipt {
            record_id: self.record_id,
            tlog_proof: self.proof.to_string(),
        }
    }
}

/// A check-in in the clear, as the plaintext benchmark comparator takes it.
#[cfg(feature = "dangerous-plaintext-baseline")]
pub(crate) struct PlaintextCheckIn {
    pub(crate) pseudonym: Pseudonym,
    pub(crate) challenge_id: ChallengeId,
    pub(crate) payload: Vec<u8>,
}

/// What the plaintext comparator answers: its row id and the ledger state.
#[cfg(feature = "dangerous-plaintext-baseline")]
pub(crate) struct PlaintextStored {
    pub(crate) id: i64,
    pub(crate) state: LedgerState,
}

/// What a tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    /// Scheduled challenges issued.
    pub issued: u64,
    /// Rows set to pending review.
    pub missed: u64,
    /// Records purged at their content deadline.
    pub purged_records: u64,
    /// Sealed free texts (of failure reports and statements) purged at their content
    /// deadline.
    pub purged_texts: u64,
    /// Participants whose ledger, schedule, pseudonym and keys were purged at its
    /// deadline, each logged as `ledger purged` (RET-20).
    pub purged_participants: u64,
    /// Epochs whose challenges all closed, each logged as `epoch summary` if it had any
    /// (CHK-28).
    pub summarized_epochs: u64,
    /// Deliveries never acknowledged whose ciphertext was deleted at their inbox epoch's
    /// content deadline (**OBL-44**).
    pub expired_deliveries: u64,
}

/// Something a participant attaches to a ledger row: a failure report (CHK-22) or a
/// statement (ACC-12), with its category and its sealed text, if any.
pub(crate) struct Attachment<K> {
    pub(crate) pseudonym: Pseudonym,
    pub(crate) challenge: ChallengeId,
    pub(crate) category: K,
    pub(crate) text: Option<SealedTextRow>,
}

/// A ledger row as an officer reads it (CHK-24, ACC-12): the row with its report, and
/// the participant's statements.
pub(crate) struct RowView {
    pub(crate) row: ChallengeRow,
    pub(crate) statements: Vec<Statement>,
}

type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A request to the writer.
pub(crate) enum Op {
    Enroll(Enrollment, Reply<Enrolled>),
    CheckIn(Box<CheckIn>, Reply<CheckedIn>),
    /// A participant's filing, its length and device signature checked (**OBL-9**).
    Filing(Box<SignedFiling>, Reply<Logged>),
    /// The case system's acknowledgement of a filing (**OBL-10**).
    AcknowledgeFiling(FilingId, Reply<Logged>),
    /// One of the case system's log entries (0x10 to 0x14), decoded (**OBL-46**).
    CaseEntry(Box<ObligationEntry>, Reply<Logged>),
    /// A device's inbox recipient for an epoch, its signature checked (**OBL-43**).
    PublishInbox(Box<SignedInboxRecipient>, Reply<()>),
    /// A sealed delivery from the case system, its length checked (**OBL-44**).
    Deliver(Box<Delivered>, Reply<()>),
    /// A device's acknowledgement of a delivery, its signature checked (**OBL-12**).
    AcknowledgeDelivery(Box<DeliveryAck>, Reply<Logged>),
    /// The benchmark comparator's check-in (`IngestMode::DangerousPlaintextBaseline`).
    #[cfg(feature = "dangerous-plaintext-baseline")]
    PlaintextCheckIn(Box<PlaintextCheckIn>, Reply<PlaintextStored>),
    AdHoc(Pseudonym, Reply<SignedChallenge>),
    /// An officer's resolution: the row, the decision, its reason code, the officer.
    Resolve(
        ChallengeId,
        Resolution,
        ResolutionReason,
        String,
        Reply<LedgerState>,
    ),
    FailureReport(Box<Attachment<FailureCategory>>, Reply<()>),
    /// A participant's statement on a row of their ledger (ACC-12).
    Statement(Box<Attachment<StatementCategory>>, Reply<()>),
    /// An officer reads a row, which is recorded (CHK-24).
    ReadRow(ChallengeId, String, Reply<RowView>),
    CloseEnrollment(Pseudonym, Reply<()>),
    Recipient(Box<SignedEpochRecipient>, Reply<()>),
    Tick(Reply<TickReport>),
    /// A custodian's entries (accesses, denials, key destructions, holds), already checked
    /// against its role; answered with the tlog-proof of each against the batch's
    /// checkpoint, so the custodian can verify they are logged before it opens anything.
    CustodianEntries(Vec<LogEntry>, Reply<Vec<minimis_log::TlogProof>>),
    /// A legal hold on records, until a time.
    Hold(Vec<RecordId>, UnixTime, Reply<()>),
    /// A quorum's cosignatures, already checked: the cosigned checkpoint note, and each
    /// cosignature with its witness's key (**LOG-61**).
    Cosigned(
        Box<(
            String,
            Vec<(minimis_log::note::NoteSignature, minimis_log::VerifierKey)>,
        )>,
        Reply<()>,
    ),
    /// Finish the batch in hand and stop.
    Shutdown,
}

/// The writer's view of one participant.
struct Part {
    /// The tag key's bytes. The HMAC key is made each time a tag is needed rather than
    /// kept, which keeps this about 150 bytes smaller, for every enrolled participant.
    tag_key: Zeroizing<[u8; 32]>,
    schedule: Schedule,
    closed: bool,
    /// Under conditions (**OBL-4**).
    conditions: bool,
    /// Challenges issued in the last 30 days, for the schedule's caps.
    slots: Vec<Slot>,
}

/// An open ledger row.
#[derive(Clone, Copy)]
struct Open {
    pseudonym: Pseudonym,
    epoch: EpochId,
    window_start: UnixTime,
    window_end: UnixTime,
}

/// The writer's in-memory view, rebuilt from the database at start and after a failed
/// commit.
struct View {
    parts: HashMap<Pseudonym, Part>,
    open: HashMap<ChallengeId, Open>,
    /// (deadline, id) of open rows: window end plus grace.
    deadlines: BTreeSet<(i64, ChallengeId)>,
    /// The next window start of each participant.
    next_windows: BinaryHeap<Reverse<(i64, Pseudonym)>>,
    /// Epochs with a signed recipient from every custodian.
    sealable: HashSet<EpochId>,
}

pub(crate) struct Writer<S: Store, C: Clock> {
    store: S,
    log: Log<S::Tiles>,
    /// The log key's name and seed, to reopen the log after a failed commit.
    log_name: KeyName,
    log_seed: Zeroizing<[u8; 32]>,
    operator: SigningKey,
    policy: Policy,
    clock: C,
    custodians: Vec<(CustodianRole, PublicKey)>,
    shared: Arc<Shared>,
    view: View,
    /// Only in the benchmark comparator's mode: where plaintext check-ins go, in the
    /// same transaction as everything else.
    #[cfg(feature = "dangerous-plaintext-baseline")]
    plaintext: Option<crate::store::sqlite::PlaintextBaseline>,
}

/// What the writer must stop for: the database cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be created or opened from its tiles.
    #[error("the log cannot be opened: {0}")]
    Log(String),
}

/// Things a batch step may fail with: a refusal for this request only, or a storage
/// failure that aborts the batch.
enum Fail {
    Refuse(ApiError),
    Abort(StoreError),
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Self::Refuse(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Abort(e)
    }
}

fn refuse(refusal: OperatorRefusal, message: &str) -> Fail {
    Fail::Refuse(ApiError::new(refusal, message))
}

/// How a request in the batch will be answered once the batch commits.
enum Pending {
    Enroll(Reply<Enrolled>, Enrolled),
    CheckIn(Reply<CheckedIn>, RecordId, u64, LedgerState),
    #[cfg(feature = "dangerous-plaintext-baseline")]
    Plaintext(Reply<PlaintextStored>, PlaintextStored),
    AdHoc(Reply<SignedChallenge>, SignedChallenge),
    Resolve(Reply<LedgerState>, LedgerState),
    Row(Reply<RowView>, RowView),
    Unit(Reply<()>),
    Tick(Reply<TickReport>, TickReport),
    Entries(Reply<Vec<minimis_log::TlogProof>>, Vec<u64>),
    Logged(Reply<Logged>, u64, UnixTime),
}

impl Pending {
    fn fail(self, e: ApiError) {
        match self {
            Self::Entries(r, _) => drop(r.send(Err(e))),
            Self::Enroll(r, _) => drop(r.send(Err(e))),
            Self::CheckIn(r, ..) => drop(r.send(Err(e))),
            #[cfg(feature = "dangerous-plaintext-baseline")]
            Self::Plaintext(r, _) => drop(r.send(Err(e))),
            Self::AdHoc(r, _) => drop(r.send(Err(e))),
            Self::Resolve(r, _) => drop(r.send(Err(e))),
            Self::Row(r, _) => drop(r.send(Err(e))),
            Self::Unit(r) => drop(r.send(Err(e))),
            Self::Tick(r, _) => drop(r.send(Err(e))),
            Self::Logged(r, ..) => drop(r.send(Err(e))),
        }
    }
}

impl<S: Store, C: Clock> Writer<S, C> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: S,
        log_name: KeyName,
        log_key: &SigningKey,
        operator: SigningKey,
        policy: Policy,
        clock: C,
        custodians: Vec<(CustodianRole, PublicKey)>,
        shared: Arc<Shared>,
    ) -> Result<Self, WriterError> {
        let tiles = store.tiles();
        let log_seed = Zeroizing::new(*log_key.expose_seed());
        let log_signer = signer(&log_name, &log_seed)?;
        let log = match store_has_checkpoint(&store)? {
            true => Log::open(tiles, log_signer).map_err(|e| WriterError::Log(e.to_string()))?,
            false => Log::create(tiles, log_signer).map_err(|e| WriterError::Log(e.to_string()))?,
        };
        let mut w = Self {
            store,
            log,
            log_name,
            log_seed,
            operator,
            policy,
            clock,
            custodians,
            shared,
            view: View {
                parts: HashMap::new(),
                open: HashMap::new(),
                deadlines: BTreeSet::new(),
                next_windows: BinaryHeap::new(),
                sealable: HashSet::new(),
            },
            #[cfg(feature = "dangerous-plaintext-baseline")]
            plaintext: None,
        };
        w.rebuild()?;
        w.publish_policy()?;
        Ok(w)
    }

    /// Logs `policy published` for the policy in force, the first time the log runs under
    /// it (AUD-8 checks that every enrollment cites a published policy).
    fn publish_policy(&mut self) -> Result<(), WriterError> {
        const KEY: &str = "policy_published";
        let hash = self.policy.hash();
        if self.store.meta(KEY)?.as_deref() == Some(hash.as_bytes().as_slice()) {
            return Ok(());
        }
        self.store.begin()?;
        let entry = LogEntry::PolicyPublished { policy: hash };
        let result = self
            .store
            .set_meta(KEY, hash.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|()| self.finish(std::slice::from_ref(&entry)).map(|_| ()));
        if let Err(e) = result {
            let _ = self.store.rollback();
            return Err(WriterError::Log(e));
        }
        Ok(())
    }

    /// Logs `witness policy published` (entry `0x0f`, **LOG-65**) for the tlog-policy
    /// the log's checkpoints are cosigned under, the first time the log runs under it:
    /// before the witness task starts, so that it precedes every checkpoint published
    /// under that policy.
    pub(crate) fn publish_witness_policy(
        &mut self,
        hash: minimis_log::TlogPolicyHash,
    ) -> Result<(), WriterError> {
        const KEY: &str = "witness_policy_published";
        if self.store.meta(KEY)?.as_deref() == Some(hash.as_bytes().as_slice()) {
            return Ok(());
        }
        self.store.begin()?;
        let entry = LogEntry::WitnessPolicyPublished { policy: hash };
        let result = self
            .store
            .set_meta(KEY, hash.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|()| self.finish(std::slice::from_ref(&entry)).map(|_| ()));
        if let Err(e) = result {
            let _ = self.store.rollback();
            return Err(WriterError::Log(e));
        }
        Ok(())
    }

    /// Turns on the plaintext benchmark comparator: check-ins in the clear go to `table`,
    /// which must share the store's connection (and so its transaction).
    #[cfg(feature = "dangerous-plaintext-baseline")]
    pub(crate) fn with_dangerous_plaintext_baseline(
        mut self,
        table: crate::store::sqlite::PlaintextBaseline,
    ) -> Self {
        self.plaintext = Some(table);
        self
    }

    /// The log's verifier key.
    pub(crate) fn log_key(&self) -> minimis_log::VerifierKey {
        self.log.verifier_key()
    }

    /// Rebuilds the in-memory view from the database.
    fn rebuild(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut v = View {
            parts: HashMap::new(),
            open: HashMap::new(),
            deadlines: BTreeSet::new(),
            next_windows: BinaryHeap::new(),
            sealable: HashSet::new(),
        };
        let mut devices = HashMap::new();
        // Row by row: the rows themselves are never all in memory at once.
        let store = &self.store;
        store.for_each_participant(&mut |p| {
            let slots = store.slots_since(&p.pseudonym, now.plus(-THIRTY_DAYS))?;
            let closed = p.closed_at.is_some();
            devices.insert(p.pseudonym, (p.device_key, closed));
            if !closed && let Some(next) = due_window(&p.schedule, now, &slots) {
                v.next_windows.push(Reverse((next.seconds(), p.pseudonym)));
            }
            v.parts.insert(
                p.pseudonym,
                Part {
                    tag_key: p.tag_key,
                    schedule: p.schedule,
                    closed,
                    conditions: p.conditions,
                    slots,
                },
            );
            Ok(())
        })?;
        let grace = self.policy.grace_seconds();
        store.for_each_open_challenge(&mut |row| {
            let c = &row.signed.challenge;
            v.deadlines.insert((c.window_end.seconds() + grace, c.id));
            v.open.insert(
                c.id,
                Open {
                    pseudonym: c.pseudonym,
                    epoch: c.epoch,
                    window_start: c.window_start,
                    window_end: c.window_end,
                },
            );
            Ok(())
        })?;
        self.view = v;
        if let Ok(mut d) = self.shared.devices.write() {
            *d = devices;
        }
        // Epochs with signed recipients: those around now and those with open rows.
        let mut epochs: HashSet<EpochId> = self.view.open.values().map(|o| o.epoch).collect();
        if let Some(e) = self.policy.epoch_at(now) {
            epochs.insert(e);
            epochs.extend(e.previous());
            epochs.extend(e.next());
        }
        for e in epochs {
            self.refresh_sealable(e)?;
        }
        Ok(())
    }

    fn refresh_sealable(&mut self, epoch: EpochId) -> Result<(), StoreError> {
        let have: HashSet<CustodianRole> = self
            .store
            .recipients(epoch)?
            .iter()
            .filter(|r| self.verify_recipient(r).is_ok())
            .map(|r| r.recipient.role)
            .collect();
        if !self.custodians.is_empty() && self.custodians.iter().all(|(r, _)| have.contains(r)) {
            self.view.sealable.insert(epoch);
        }
        Ok(())
    }

    fn verify_recipient(&self, r: &SignedEpochRecipient) -> Result<(), ApiError> {
        let role = r.recipient.role;
        let key = self
            .custodians
            .iter()
            .find(|(c, _)| *c == role)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                ApiError::new(
                    OperatorRefusal::UnknownCustodian,
                    "the policy names no custodian with this role, or its key is not configured",
                )
            })?;
        let custodian = self.policy.custodian(role).map(|c| c.id.as_str());
        if custodian != Some(r.recipient.custodian.as_str()) {
            return Err(ApiError::new(
                OperatorRefusal::UnknownCustodian,
                "the recipient names a custodian id the policy does not",
            ));
        }
        minimis_crypto::verify_epoch_recipient(r, &key).map_err(|_| {
            ApiError::new(
                OperatorRefusal::BadRecipientSignature,
                "the epoch recipient is not signed by its custodian",
            )
        })?;
        Ok(())
    }

    /// Runs until every sender is dropped.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Op>, max_batch: usize) {
        while let Some(first) = rx.blocking_recv() {
            let mut ops = Vec::with_capacity(64);
            let mut stop = matches!(first, Op::Shutdown);
            if !stop {
                ops.push(first);
            }
            while !stop && ops.len() < max_batch {
                match rx.try_recv() {
                    Ok(Op::Shutdown) => stop = true,
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            if !ops.is_empty() {
                self.batch(ops);
            }
            if stop {
                break;
            }
        }
    }

    fn batch(&mut self, ops: Vec<Op>) {
        if let Err(e) = self.store.begin() {
            tracing::error!(error = %e, "cannot start a batch");
            for op in ops {
                reply_err(op, ApiError::unavailable());
            }
            return;
        }
        let mut entries: Vec<LogEntry> = Vec::new();
        let mut pending: Vec<Pending> = Vec::with_capacity(ops.len());
        let mut aborted: Option<StoreError> = None;
        for op in ops {
            if aborted.is_some() {
                reply_err(op, ApiError::unavailable());
                continue;
            }
            match self.apply(op, &mut entries) {
                Ok(Some(p)) => pending.push(p),
                Ok(None) => {}
                Err(e) => aborted = Some(e),
            }
        }
        let result = match aborted {
            Some(e) => Err(e.to_string()),
            None => self.finish(&entries),
        };
        match result {
            Ok(proofs) => self.answer(pending, proofs.as_ref()),
            Err(e) => {
                tracing::error!(error = %e, "batch rolled back");
                let _ = self.store.rollback();
                for p in pending {
                    p.fail(ApiError::unavailable());
                }
                self.recover();
            }
        }
    }

    /// Appends the batch's entries, signs the checkpoint and commits; returns what the
    /// receipts of the batch are made from.
    fn finish(&mut self, entries: &[LogEntry]) -> Result<Option<BatchProofs>, String> {
        let proofs = if entries.is_empty() {
            None
        } else {
            Some(
                self.log
                    .append_entries_with_proofs(entries)
                    .map_err(|e| e.to_string())?,
            )
        };
        self.store.commit().map_err(|e| e.to_string())?;
        if proofs.is_some() {
            self.shared.checkpoint_changed.notify_one();
        }
        Ok(proofs)
    }

    fn recover(&mut self) {
        // The log handle refuses appends after a storage error; reopen it from what is
        // durable, and rebuild the view.
        match signer(&self.log_name, &self.log_seed)
            .map_err(|e| e.to_string())
            .and_then(|s| Log::open(self.store.tiles(), s).map_err(|e| e.to_string()))
        {
            Ok(log) => self.log = log,
            Err(e) => tracing::error!(error = %e, "cannot reopen the log"),
        }
        if let Err(e) = self.rebuild() {
            tracing::error!(error = %e, "cannot rebuild the writer's view");
        }
    }

    fn answer(&mut self, pending: Vec<Pending>, proofs: Option<&BatchProofs>) {
        // Every receipt of the batch is against the checkpoint just committed.
        let mut receipts: Vec<Option<minimis_log::TlogProof>> = proofs
            .and_then(|p| p.tlog_proofs(self.log.checkpoint()).ok())
            .map(|v| v.into_iter().map(Some).collect())
            .unwrap_or_default();
        let first = proofs.map_or(0, |p| p.batch().first_index);
        for p in pending {
            match p {
                Pending::CheckIn(reply, record_id, index, state) => {
                    let receipt = usize::try_from(index - first)
                        .ok()
                        .and_then(|i| receipts.get_mut(i)?.take())
                        .map(|proof| CheckedIn {
                            record_id,
                            proof,
                            state,
                        })
                        .ok_or_else(ApiError::unavailable);
                    let _ = reply.send(receipt);
                }
                #[cfg(feature = "dangerous-plaintext-baseline")]
                Pending::Plaintext(r, v) => drop(r.send(Ok(v))),
                Pending::Enroll(r, v) => drop(r.send(Ok(v))),
                Pending::AdHoc(r, v) => drop(r.send(Ok(v))),
                Pending::Resolve(r, v) => drop(r.send(Ok(v))),
                Pending::Row(r, v) => drop(r.send(Ok(v))),
                Pending::Unit(r) => drop(r.send(Ok(()))),
                Pending::Tick(r, v) => drop(r.send(Ok(v))),
                Pending::Logged(reply, index, day) => {
                    let logged = usize::try_from(index - first)
                        .ok()
                        .and_then(|i| receipts.get_mut(i)?.take())
                        .map(|proof| Logged { proof, day })
                        .ok_or_else(ApiError::unavailable);
                    let _ = reply.send(logged);
                }
                Pending::Entries(reply, indices) => {
                    let proofs: Option<Vec<minimis_log::TlogProof>> = indices
                        .iter()
                        .map(|&index| {
                            usize::try_from(index - first)
                                .ok()
                                .and_then(|i| receipts.get_mut(i)?.take())
                        })
                        .collect();
                    let _ = reply.send(proofs.ok_or_else(ApiError::unavailable));
                }
            }
        }
    }

    /// Applies one request. `Ok(None)` when it was refused (its reply already sent);
    /// `Err` aborts the batch.
    fn apply(
        &mut self,
        op: Op,
        entries: &mut Vec<LogEntry>,
    ) -> Result<Option<Pending>, StoreError> {
        macro_rules! step {
            ($reply:expr, $body:expr, $ok:expr) => {
                match $body {
                    Ok(v) => Ok(Some($ok($reply, v))),
                    Err(Fail::Refuse(e)) => {
                        let _ = $reply.send(Err(e));
                        Ok(None)
                    }
                    Err(Fail::Abort(e)) => {
                        let _ = $reply.send(Err(ApiError::unavailable()));
                        Err(e)
                    }
                }
            };
        }
        match op {
            Op::Enroll(e, reply) => step!(reply, self.enroll(e, entries), Pending::Enroll),
            Op::CheckIn(c, reply) => {
                step!(reply, self.check_in(*c, entries), |r, (id, idx, st)| {
                    Pending::CheckIn(r, id, idx, st)
                })
            }
            Op::Filing(f, reply) => {
                step!(reply, self.filing(*f, entries), |r, (idx, day)| {
                    Pending::Logged(r, idx, day)
                })
            }
            Op::AcknowledgeFiling(id, reply) => {
                step!(
                    reply,
                    self.acknowledge_filing(id, entries),
                    |r, (idx, day)| Pending::Logged(r, idx, day)
                )
            }
            Op::CaseEntry(e, reply) => {
                step!(reply, self.case_entry(*e, entries), |r, (idx, day)| {
                    Pending::Logged(r, idx, day)
                })
            }
            Op::PublishInbox(r, reply) => {
                step!(reply, self.publish_inbox(*r), |r, ()| Pending::Unit(r))
            }
            Op::Deliver(d, reply) => step!(reply, self.deliver(*d), |r, ()| Pending::Unit(r)),
            Op::AcknowledgeDelivery(a, reply) => {
                step!(
                    reply,
                    self.acknowledge_delivery(*a, entries),
                    |r, (idx, day)| Pending::Logged(r, idx, day)
                )
            }
            #[cfg(feature = "dangerous-plaintext-baseline")]
            Op::PlaintextCheckIn(c, reply) => {
                step!(reply, self.plaintext_check_in(*c), Pending::Plaintext)
            }
            Op::AdHoc(p, reply) => step!(reply, self.adhoc(p, entries), Pending::AdHoc),
            Op::Resolve(c, res, reason, officer, reply) => step!(
                reply,
                self.resolve(c, res, reason, &officer, entries),
                Pending::Resolve
            ),
            Op::FailureReport(a, reply) => {
                step!(reply, self.failure_report(*a), |r, ()| Pending::Unit(r))
            }
            Op::Statement(a, reply) => {
                step!(reply, self.statement(*a), |r, ()| Pending::Unit(r))
            }
            Op::ReadRow(c, officer, reply) => {
                step!(reply, self.read_row(c, &officer), Pending::Row)
            }
            Op::CloseEnrollment(p, reply) => {
                step!(reply, self.close(p, entries), |r, ()| Pending::Unit(r))
            }
            Op::Recipient(r, reply) => step!(reply, self.recipient(*r), |r, ()| Pending::Unit(r)),
            Op::Tick(reply) => step!(reply, self.tick(entries), Pending::Tick),
            Op::CustodianEntries(new, reply) => {
                let first = self.log.size() + entries.len() as u64;
                let indices: Vec<u64> = (first..first + new.len() as u64).collect();
                entries.extend(new);
                Ok(Some(Pending::Entries(reply, indices)))
            }
            Op::Hold(records, until, reply) => match self.store.hold(&records, until) {
                Ok(()) => Ok(Some(Pending::Unit(reply))),
                Err(e) => {
                    let _ = reply.send(Err(ApiError::unavailable()));
                    Err(e)
                }
            },
            Op::Cosigned(c, reply) => {
                let (note, cosigs) = *c;
                if let Err(e) = self.store.set_meta(COSIGNED_CHECKPOINT, note.as_bytes()) {
                    let _ = reply.send(Err(ApiError::unavailable()));
                    return Err(e);
                }
                // Still the published checkpoint: publish the cosignature with it, so the
                // log's own `checkpoint` carries it.
                let current = self.log.checkpoint().checkpoint().to_text();
                let same =
                    minimis_log::SignedCheckpoint::open(note.as_bytes(), &self.log.verifier_key())
                        .is_ok_and(|c| c.checkpoint().to_text() == current);
                if same {
                    for (sig, witness) in cosigs {
                        if let Err(e) = self.log.add_cosignature(sig, &witness) {
                            tracing::warn!(error = %e, "cosignature not added to the checkpoint");
                            let _ = reply.send(Err(ApiError::unavailable()));
                            return Err(StoreError::Corrupt { what: "checkpoint" });
                        }
                    }
                }
                Ok(Some(Pending::Unit(reply)))
            }
            Op::Shutdown => Ok(None),
        }
    }

    fn tag(&self, p: &Pseudonym, epoch: EpochId) -> Result<minimis_proto::ParticipantTag, Fail> {
        self.view
            .parts
            .get(p)
            .map(|part| TagKey::from_bytes(part.tag_key.clone()).tag(p, epoch))
            .ok_or_else(|| refuse(OperatorRefusal::UnknownParticipant, "no such participant"))
    }

    /// The latest epoch whose content deadline is at or before `now`, if any.
    fn last_expired_epoch(&self, now: UnixTime) -> Option<EpochId> {
        let mut e = self.policy.epoch_at(now)?;
        loop {
            if self.policy.content_deadline(e) <= now {
                return Some(e);
            }
            e = EpochId::new(e.get().checked_sub(1)?);
        }
    }

    fn current_epoch(&self) -> Result<EpochId, Fail> {
        self.policy.epoch_at(self.clock.now()).ok_or_else(|| {
            refuse(
                OperatorRefusal::ServiceUnavailable,
                "the server clock is before the first epoch",
            )
        })
    }

    fn enroll(&mut self, e: Enrollment, entries: &mut Vec<LogEntry>) -> Result<Enrolled, Fail> {
        if e.conditions && self.policy.obligations().is_none() {
            return Err(refuse(
                OperatorRefusal::ObligationsNotInForce,
                "the policy has no [obligations] table: no enrollment is under conditions",
            ));
        }
        e.schedule.check_policy(&self.policy).map_err(|err| {
            Fail::Refuse(ApiError::new(
                OperatorRefusal::ScheduleOutOfPolicy,
                err.to_string(),
            ))
        })?;
        let epoch = self.current_epoch()?;
        let pseudonym = minimis_crypto::random_pseudonym()
            .map_err(|_| refuse(OperatorRefusal::ServiceUnavailable, "no randomness"))?;
        let row = ParticipantRow {
            pseudonym,
            device_key: e.device_key,
            tag_key: e.tag_key,
            schedule: e.schedule,
            enrolled_epoch: epoch,
            closed_at: None,
            conditions: e.conditions,
        };
        self.store.insert_participant(&row)?;
        let tags = TagKey::from_bytes(row.tag_key.clone());
        entries.push(LogEntry::EnrollmentOpened {
            tag: tags.tag(&pseudonym, epoch),
            epoch,
            policy: self.policy.hash(),
        });
        let now = self.clock.now();
        if let Some(next) = due_window(&row.schedule, now, &[]) {
            self.view
                .next_windows
                .push(Reverse((next.seconds(), pseudonym)));
        }
        self.view.parts.insert(
            pseudonym,
            Part {
                tag_key: row.tag_key,
                schedule: row.schedule,
                closed: false,
                conditions: row.conditions,
                slots: Vec::new(),
            },
        );
        if let Ok(mut d) = self.shared.devices.write() {
            d.insert(pseudonym, (row.device_key, false));
        }
        Ok(Enrolled { pseudonym })
    }

    /// Issues a challenge of `kind` to `p` now, if the schedule admits it (CHL-2 to CHL-4),
    /// logging it in the same batch as its ledger row (CHL-5).
    fn issue(
        &mut self,
        p: Pseudonym,
        kind: ChallengeKind,
        entries: &mut Vec<LogEntry>,
    ) -> Result<SignedChallenge, Fail> {
        let now = self.clock.now();
        let epoch = self.current_epoch()?;
        let part =
            self.view.parts.get_mut(&p).ok_or_else(|| {
                refuse(OperatorRefusal::UnknownParticipant, "no such participant")
            })?;
        if part.closed {
            return Err(refuse(
                OperatorRefusal::EnrollmentClosed,
                "the participant's enrollment is closed",
            ));
        }
        part.slots
            .retain(|s| s.at.seconds() > now.seconds() - THIRTY_DAYS);
        let slot = Slot { at: now, kind };
        let window = part.schedule.admits(&part.slots, slot).map_err(|v| {
            Fail::Refuse(ApiError::new(
                OperatorRefusal::from_schedule(&v),
                v.to_string(),
            ))
        })?;
        let id = minimis_crypto::random_challenge_id()
            .map_err(|_| refuse(OperatorRefusal::ServiceUnavailable, "no randomness"))?;
        let challenge = Challenge {
            id,
            pseudonym: p,
            epoch,
            kind,
            issued_at: now,
            window_start: window.start,
            window_end: window.end,
            policy: self.policy.hash(),
        };
        let signed = sign_challenge(&self.operator, challenge);
        self.store.insert_challenge(&signed)?;
        let tag = TagKey::from_bytes(part.tag_key.clone()).tag(&p, epoch);
        part.slots.push(slot);
        entries.push(LogEntry::ChallengeIssued {
            tag,
            challenge: id,
            epoch,
            kind,
            issued_at: now,
            window,
        });
        self.view.open.insert(
            id,
            Open {
                pseudonym: p,
                epoch,
                window_start: window.start,
                window_end: window.end,
            },
        );
        self.view
            .deadlines
            .insert((window.end.seconds() + self.policy.grace_seconds(), id));
        Ok(signed)
    }

    fn adhoc(
        &mut self,
        p: Pseudonym,
        entries: &mut Vec<LogEntry>,
    ) -> Result<SignedChallenge, Fail> {
        self.issue(p, ChallengeKind::AdHoc, entries)
    }

    fn check_in(
        &mut self,
        c: CheckIn,
        entries: &mut Vec<LogEntry>,
    ) -> Result<(RecordId, u64, LedgerState), Fail> {
        let now = self.clock.now();
        let CheckIn {
            envelope: v,
            condition,
        } = c;
        let env = v.envelope();
        let p = env.pseudonym;
        match self.view.parts.get(&p) {
            None => {
                return Err(refuse(
                    OperatorRefusal::UnknownParticipant,
                    "no such participant",
                ));
            }
            Some(part) if part.closed => {
                return Err(refuse(
                    OperatorRefusal::EnrollmentClosed,
                    "the participant's enrollment is closed",
                ));
            }
            // OBL-4: an enrollment under conditions answers with its condition result, or
            // not at all; one not under conditions sends none (the operator keeps nothing
            // nobody asked for).
            Some(part) if part.conditions && condition.is_none() => {
                return Err(refuse(
                    OperatorRefusal::ConditionRequired,
                    "the enrollment is under conditions: the check-in must carry its condition result",
                ));
            }
            Some(part) if !part.conditions && condition.is_some() => {
                return Err(refuse(
                    OperatorRefusal::ObligationsNotInForce,
                    "the enrollment is not under conditions: send no condition result",
                ));
            }
            Some(_) => {}
        }
        let open = match self.view.open.get(&env.challenge_id) {
            Some(o) => *o,
            None => return Err(self.not_open(p, &env.challenge_id)),
        };
        if open.pseudonym != p {
            return Err(refuse(
                OperatorRefusal::ChallengeNotYours,
                "the challenge was issued to another participant",
            ));
        }
        if now < open.window_start {
            return Err(refuse(
                OperatorRefusal::ChallengeNotOpen,
                "the challenge's window has not opened",
            ));
        }
        let deadline = open.window_end.plus(self.policy.grace_seconds());
        if now >= deadline {
            return Err(refuse(
                OperatorRefusal::ChallengeExpired,
                "the challenge's window and grace period have ended",
            ));
        }
        let current = self.policy.epoch_at(now);
        let recent = self.policy.epoch_at(now.plus(-EPOCH_SKEW));
        if Some(env.epoch) != current && Some(env.epoch) != recent {
            return Err(refuse(
                OperatorRefusal::WrongEpoch,
                "the check-in is sealed to an epoch that is not current",
            ));
        }
        if !self.view.sealable.contains(&env.epoch) {
            self.refresh_sealable(env.epoch)?;
            if !self.view.sealable.contains(&env.epoch) {
                return Err(refuse(
                    OperatorRefusal::UnsignedEpoch,
                    "the epoch has no recipients signed by every custodian",
                ));
            }
        }
        let state = if now < open.window_end {
            LedgerState::OnTime
        } else {
            LedgerState::Late
        };
        let tag = self.tag(&p, env.epoch)?;
        let index = self.log.size() + entries.len() as u64;
        let record_id = v.record_id();
        // The ciphertext moves into the row: no copy of it is made.
        let env = v.into_envelope();
        self.store.insert_record(&RecordRow {
            record_id,
            pseudonym: p,
            challenge_id: env.challenge_id,
            epoch: env.epoch,
            ciphertext: env.ciphertext,
            signature: env.signature,
            log_index: index,
        })?;
        self.store.set_state(&env.challenge_id, state, None)?;
        if let Some(c) = condition {
            // In the same transaction as the row's state and the record (OBL-4).
            self.store.insert_condition(&ConditionRow {
                seq: 0,
                challenge_id: env.challenge_id,
                pseudonym: p,
                epoch: open.epoch,
                ciphertext: c.ciphertext,
                signature: c.signature,
            })?;
        }
        entries.push(LogEntry::CheckInReceived {
            tag,
            record: record_id,
            challenge: env.challenge_id,
            epoch: env.epoch,
        });
        self.view.open.remove(&env.challenge_id);
        self.view.deadlines.remove(&(
            open.window_end.seconds() + self.policy.grace_seconds(),
            env.challenge_id,
        ));
        Ok((record_id, index, state))
    }

    /// Stores a participant's filing and logs `filing received` under the participant's
    /// tag for the current epoch, in the same batch (**OBL-9**). The handler checked its
    /// length, its signature and that the policy has obligations.
    fn filing(
        &mut self,
        f: SignedFiling,
        entries: &mut Vec<LogEntry>,
    ) -> Result<(u64, UnixTime), Fail> {
        let p = f.pseudonym;
        match self.view.parts.get(&p) {
            None => {
                return Err(refuse(
                    OperatorRefusal::UnknownParticipant,
                    "no such participant",
                ));
            }
            Some(part) if part.closed => {
                return Err(refuse(
                    OperatorRefusal::EnrollmentClosed,
                    "the participant's enrollment is closed",
                ));
            }
            Some(_) => {}
        }
        let id = f.filing_id();
        if self.store.filing(&id)?.is_some() {
            return Err(refuse(
                OperatorRefusal::FilingAlreadyReceived,
                "this filing was received before; fetch its receipt again",
            ));
        }
        let now = self.clock.now();
        let epoch = self.current_epoch()?;
        let tag = self.tag(&p, epoch)?;
        let day = day_of(now);
        let index = self.log.size() + entries.len() as u64;
        let addressee = f.addressee;
        self.store.insert_filing(&FilingRow {
            seq: 0,
            filing_id: id,
            pseudonym: p,
            addressee,
            ciphertext: f.ciphertext,
            signature: f.signature,
            day,
            log_index: index,
            acknowledged: None,
        })?;
        entries.push(LogEntry::Obligation(ObligationEntry::FilingReceived {
            tag,
            filing: id,
            addressee,
            day,
        }));
        Ok((index, day))
    }

    /// Records the case system's acknowledgement of a filing and logs `filing
    /// acknowledged` with the operator's day (**OBL-10**): the case system cannot date it.
    fn acknowledge_filing(
        &mut self,
        id: FilingId,
        entries: &mut Vec<LogEntry>,
    ) -> Result<(u64, UnixTime), Fail> {
        let row = self
            .store
            .filing(&id)?
            .ok_or_else(|| refuse(OperatorRefusal::UnknownFiling, "no such filing"))?;
        if row.acknowledged.is_some() {
            return Err(refuse(
                OperatorRefusal::FilingAlreadyAcknowledged,
                "the filing is acknowledged already",
            ));
        }
        let day = day_of(self.clock.now());
        let index = self.log.size() + entries.len() as u64;
        self.store.acknowledge_filing(&id, day)?;
        entries.push(LogEntry::Obligation(ObligationEntry::FilingAcknowledged {
            filing: id,
            day,
        }));
        Ok((index, day))
    }

    /// Appends one of the case system's entries, dated today, once its step is in order
    /// (**OBL-46**): a conditions summary once per epoch, after the epoch ended and its
    /// challenges closed; a review opened once; decided once, with one of the policy's
    /// reasons, after it was opened; contested once, after the decision and within
    /// `obligations.contest_days`; an appeal decided once, after a contest. Every refusal
    /// changes nothing.
    fn case_entry(
        &mut self,
        e: ObligationEntry,
        entries: &mut Vec<LogEntry>,
    ) -> Result<(u64, UnixTime), Fail> {
        const DAY: i64 = 86_400;
        let now = self.clock.now();
        let today = day_of(now);
        let Some(obligations) = self.policy.obligations().cloned() else {
            return Err(refuse(
                OperatorRefusal::ObligationsNotInForce,
                "the policy has no [obligations] table",
            ));
        };
        let day = match &e {
            ObligationEntry::ConditionsSummary(_) => None,
            ObligationEntry::ReviewOpened { day, .. }
            | ObligationEntry::ReviewDecided { day, .. }
            | ObligationEntry::DecisionContested { day, .. }
            | ObligationEntry::AppealDecided { day, .. } => Some(*day),
            _ => {
                return Err(refuse(
                    OperatorRefusal::EntryNotAllowed,
                    "the case system logs conditions summaries and review steps only",
                ));
            }
        };
        if day.is_some_and(|d| d != today) {
            return Err(refuse(
                OperatorRefusal::WrongDay,
                "a case-system entry carries the operator's day",
            ));
        }
        let review = |w: &Self, id: &minimis_proto::ReviewId| -> Result<ReviewRow, Fail> {
            w.store
                .review(id)?
                .ok_or_else(|| refuse(OperatorRefusal::UnknownReview, "no such review"))
        };
        match &e {
            ObligationEntry::ConditionsSummary(summary) => {
                let epoch = summary.epoch;
                if self.policy.epoch_end(epoch) > now
                    || self.view.open.values().any(|o| o.epoch == epoch)
                {
                    return Err(refuse(
                        OperatorRefusal::EpochNotClosed,
                        "the epoch has not ended, or has a challenge still open",
                    ));
                }
                if self.store.conditions_summary_logged(epoch)? {
                    return Err(refuse(
                        OperatorRefusal::ConditionsSummaryAlreadyLogged,
                        "the epoch's conditions summary is logged already",
                    ));
                }
                self.store.insert_conditions_summary(epoch, today)?;
            }
            ObligationEntry::ReviewOpened {
                review: id, epoch, ..
            } => {
                if *epoch > self.current_epoch()? {
                    return Err(refuse(
                        OperatorRefusal::WrongEpoch,
                        "a review of a check-in of an epoch not yet begun",
                    ));
                }
                if self.store.review(id)?.is_some() {
                    return Err(refuse(
                        OperatorRefusal::ReviewAlreadyOpened,
                        "the review is open already",
                    ));
                }
                self.store.put_review(&ReviewRow {
                    review_id: *id,
                    epoch: *epoch,
                    opened: today,
                    decided: None,
                    contested: None,
                    appeal_decided: None,
                })?;
            }
            ObligationEntry::ReviewDecided {
                review: id, reason, ..
            } => {
                let mut r = review(self, id)?;
                if r.decided.is_some() {
                    return Err(refuse(
                        OperatorRefusal::ReviewAlreadyDecided,
                        "the review is decided already",
                    ));
                }
                if !obligations.allows_reason(reason.as_str()) {
                    return Err(refuse(
                        OperatorRefusal::UnknownReason,
                        "the policy lists no such reason",
                    ));
                }
                r.decided = Some(today);
                self.store.put_review(&r)?;
            }
            ObligationEntry::DecisionContested { review: id, .. } => {
                let mut r = review(self, id)?;
                let Some(decided) = r.decided else {
                    return Err(refuse(
                        OperatorRefusal::ReviewNotDecided,
                        "a decision is contested after it is made",
                    ));
                };
                if r.contested.is_some() {
                    return Err(refuse(
                        OperatorRefusal::ReviewAlreadyContested,
                        "the decision is contested already",
                    ));
                }
                if today > decided.plus(i64::from(obligations.contest_days()) * DAY) {
                    return Err(refuse(
                        OperatorRefusal::ContestWindowClosed,
                        "the contest window (obligations.contest_days) has closed",
                    ));
                }
                r.contested = Some(today);
                self.store.put_review(&r)?;
            }
            ObligationEntry::AppealDecided {
                review: id, reason, ..
            } => {
                let mut r = review(self, id)?;
                if r.contested.is_none() {
                    return Err(refuse(
                        OperatorRefusal::ReviewNotContested,
                        "an appeal is decided on a contested decision",
                    ));
                }
                if r.appeal_decided.is_some() {
                    return Err(refuse(
                        OperatorRefusal::AppealAlreadyDecided,
                        "the appeal is decided already",
                    ));
                }
                if !obligations.allows_reason(reason.as_str()) {
                    return Err(refuse(
                        OperatorRefusal::UnknownReason,
                        "the policy lists no such reason",
                    ));
                }
                r.appeal_decided = Some(today);
                self.store.put_review(&r)?;
            }
            // Refused above.
            _ => {}
        }
        let index = self.log.size() + entries.len() as u64;
        entries.push(LogEntry::Obligation(e));
        Ok((index, today))
    }

    /// The participant, if enrolled and open.
    fn open_part(&self, p: &Pseudonym) -> Result<&Part, Fail> {
        match self.view.parts.get(p) {
            None => Err(refuse(
                OperatorRefusal::UnknownParticipant,
                "no such participant",
            )),
            Some(part) if part.closed => Err(refuse(
                OperatorRefusal::EnrollmentClosed,
                "the participant's enrollment is closed",
            )),
            Some(part) => Ok(part),
        }
    }

    /// Stores a device's inbox recipient for the current or the next epoch (**OBL-43**).
    /// The same recipient again changes nothing; another one for the epoch is refused.
    /// The handler checked the device signature.
    fn publish_inbox(&mut self, r: SignedInboxRecipient) -> Result<(), Fail> {
        self.open_part(&r.pseudonym)?;
        let now = self.current_epoch()?;
        if r.epoch != now && r.epoch.get() != now.get().saturating_add(1) {
            return Err(refuse(
                OperatorRefusal::WrongEpoch,
                "an inbox recipient is published for the current epoch or the next",
            ));
        }
        if let Some(have) = self.store.inbox(&r.pseudonym, r.epoch)? {
            if have.recipient == r.recipient && have.signature == r.signature {
                return Ok(());
            }
            return Err(refuse(
                OperatorRefusal::InboxAlreadyPublished,
                "the epoch has another inbox recipient; it is never replaced",
            ));
        }
        self.store.insert_inbox(&InboxRow {
            pseudonym: r.pseudonym,
            epoch: r.epoch,
            recipient: r.recipient,
            signature: r.signature,
        })?;
        Ok(())
    }

    /// Stores a sealed delivery for a participant's inbox of an epoch, until the device
    /// acknowledges it (**OBL-44**). The handler checked its length.
    fn deliver(&mut self, d: Delivered) -> Result<(), Fail> {
        self.open_part(&d.pseudonym)?;
        if self.store.inbox(&d.pseudonym, d.epoch)?.is_none() {
            return Err(refuse(
                OperatorRefusal::NoInbox,
                "the participant has published no inbox recipient for that epoch, or it expired",
            ));
        }
        let id = d.delivery.id();
        if self.store.delivery(&id)?.is_some() {
            return Err(refuse(
                OperatorRefusal::DeliveryAlreadyReceived,
                "this delivery was received before",
            ));
        }
        self.store.insert_delivery(&DeliveryRow {
            seq: 0,
            delivery_id: id,
            pseudonym: d.pseudonym,
            epoch: d.epoch,
            ciphertext: Some(d.delivery.ciphertext),
            day: day_of(self.clock.now()),
            acknowledged: None,
        })?;
        Ok(())
    }

    /// Records a device's acknowledgement of one of its deliveries, deletes the
    /// ciphertext, and logs `delivery acknowledged` under the participant's tag for the
    /// current epoch, in the same batch (**OBL-12**, **OBL-45**). The handler checked the
    /// device signature.
    fn acknowledge_delivery(
        &mut self,
        a: DeliveryAck,
        entries: &mut Vec<LogEntry>,
    ) -> Result<(u64, UnixTime), Fail> {
        self.open_part(&a.pseudonym)?;
        let row = self
            .store
            .delivery(&a.delivery_id)?
            .filter(|d| d.pseudonym == a.pseudonym)
            .ok_or_else(|| refuse(OperatorRefusal::UnknownDelivery, "no such delivery"))?;
        if row.acknowledged.is_some() {
            return Err(refuse(
                OperatorRefusal::DeliveryAlreadyAcknowledged,
                "the delivery is acknowledged already",
            ));
        }
        if row.ciphertext.is_none() {
            return Err(refuse(
                OperatorRefusal::UnknownDelivery,
                "the delivery expired at its inbox's content deadline",
            ));
        }
        let epoch = self.current_epoch()?;
        let tag = self.tag(&a.pseudonym, epoch)?;
        let day = day_of(self.clock.now());
        let index = self.log.size() + entries.len() as u64;
        self.store.acknowledge_delivery(&a.delivery_id, day)?;
        entries.push(LogEntry::Obligation(
            ObligationEntry::DeliveryAcknowledged {
                tag,
                delivery: a.delivery_id,
                day,
            },
        ));
        Ok((index, day))
    }

    /// Why a challenge that is not open cannot be answered: answered already, missed, or
    /// never issued.
    fn not_open(&self, p: Pseudonym, id: &ChallengeId) -> Fail {
        let row = match self.store.challenge(id) {
            Ok(row) => row,
            Err(e) => return Fail::Abort(e),
        };
        match row {
            Some(row) if row.signed.challenge.pseudonym != p => refuse(
                OperatorRefusal::ChallengeNotYours,
                "the challenge was issued to another participant",
            ),
            Some(row) if row.state == LedgerState::Open => refuse(
                OperatorRefusal::ChallengeAlreadyAnswered,
                "the challenge was already answered",
            ),
            Some(row) if matches!(row.state, LedgerState::OnTime | LedgerState::Late) => refuse(
                OperatorRefusal::ChallengeAlreadyAnswered,
                "the challenge was already answered",
            ),
            Some(_) => refuse(
                OperatorRefusal::ChallengeExpired,
                "the challenge's window and grace period have ended",
            ),
            None => refuse(OperatorRefusal::UnknownChallenge, "no such challenge"),
        }
    }

    /// The benchmark comparator: the participant and challenge checks of a sealed
    /// check-in (CHK-18 without the epoch), the ledger row set, and the payload stored in
    /// the clear. No signature, no log entry, no receipt.
    #[cfg(feature = "dangerous-plaintext-baseline")]
    fn plaintext_check_in(&mut self, c: PlaintextCheckIn) -> Result<PlaintextStored, Fail> {
        if self.plaintext.is_none() {
            return Err(refuse(
                OperatorRefusal::NotFound,
                "no plaintext check-ins on this server",
            ));
        }
        let now = self.clock.now();
        let p = c.pseudonym;
        match self.view.parts.get(&p) {
            None => {
                return Err(refuse(
                    OperatorRefusal::UnknownParticipant,
                    "no such participant",
                ));
            }
            Some(part) if part.closed => {
                return Err(refuse(
                    OperatorRefusal::EnrollmentClosed,
                    "the participant's enrollment is closed",
                ));
            }
            Some(_) => {}
        }
        let open = match self.view.open.get(&c.challenge_id) {
            Some(o) => *o,
            None => return Err(self.not_open(p, &c.challenge_id)),
        };
        if open.pseudonym != p {
            return Err(refuse(
                OperatorRefusal::ChallengeNotYours,
                "the challenge was issued to another participant",
            ));
        }
        if now < open.window_start {
            return Err(refuse(
                OperatorRefusal::ChallengeNotOpen,
                "the challenge's window has not opened",
            ));
        }
        let deadline = open.window_end.plus(self.policy.grace_seconds());
        if now >= deadline {
            return Err(refuse(
                OperatorRefusal::ChallengeExpired,
                "the challenge's window and grace period have ended",
            ));
        }
        let state = if now < open.window_end {
            LedgerState::OnTime
        } else {
            LedgerState::Late
        };
        let id = match &self.plaintext {
            Some(table) => table.insert(&p, &c.challenge_id, &c.payload)?,
            None => {
                return Err(Fail::Abort(StoreError::NotFound {
                    what: "plaintext table",
                }));
            }
        };
        self.store.set_state(&c.challenge_id, state, None)?;
        self.view.open.remove(&c.challenge_id);
        self.view.deadlines.remove(&(
            open.window_end.seconds() + self.policy.grace_seconds(),
            c.challenge_id,
        ));
        Ok(PlaintextStored { id, state })
    }

    /// An officer's resolution (CHK-24): only of a `pending-review` or `late` row, with a
    /// reason code that the row supports; `not-excused` only after this officer read the
    /// row since its last report or statement; logged as `row resolved` in the same
    /// batch.
    fn resolve(
        &mut self,
        c: ChallengeId,
        resolution: Resolution,
        reason: ResolutionReason,
        officer: &str,
        entries: &mut Vec<LogEntry>,
    ) -> Result<LedgerState, Fail> {
        let row = self
            .store
            .challenge(&c)?
            .ok_or_else(|| refuse(OperatorRefusal::UnknownChallenge, "no such challenge"))?;
        match row.state {
            LedgerState::PendingReview | LedgerState::Late => {}
            LedgerState::Open => {
                return Err(refuse(
                    OperatorRefusal::NotReviewable,
                    "the challenge is still open",
                ));
            }
            _ => {
                return Err(refuse(
                    OperatorRefusal::NotReviewable,
                    "only pending-review and late rows are resolved",
                ));
            }
        }
        let statements = self.store.statements(&c)?;
        let rests_on_nothing = match reason {
            ResolutionReason::FailureReport => row.failure_report.is_none(),
            ResolutionReason::ParticipantStatement => statements.is_empty(),
            _ => false,
        };
        if rests_on_nothing {
            return Err(refuse(
                OperatorRefusal::ReasonNotOnRow,
                "the reason names a report or statement the row does not have",
            ));
        }
        let has_account = row.failure_report.is_some() || !statements.is_empty();
        if resolution == Resolution::NotExcused
            && has_account
            && !self.store.read_by(&c, officer)?
        {
            return Err(refuse(
                OperatorRefusal::ReportNotRead,
                "read the row, its failure report and statements (GET /v1/ledger/{challenge_id}) before resolving it not-excused",
            ));
        }
        let challenge = &row.signed.challenge;
        let tag = self.tag(&challenge.pseudonym, challenge.epoch)?;
        self.store.resolve(&c, resolution, reason, officer)?;
        entries.push(LogEntry::RowResolved {
            tag,
            challenge: c,
            epoch: challenge.epoch,
            resolution,
            reason,
        });
        Ok(LedgerState::Resolved(resolution))
    }

    /// The participant's own row, or why not.
    fn own_row(&self, p: Pseudonym, c: &ChallengeId) -> Result<ChallengeRow, Fail> {
        let row = self
            .store
            .challenge(c)?
            .ok_or_else(|| refuse(OperatorRefusal::UnknownChallenge, "no such challenge"))?;
        if row.signed.challenge.pseudonym != p {
            return Err(refuse(
                OperatorRefusal::ChallengeNotYours,
                "the challenge was issued to another participant",
            ));
        }
        Ok(row)
    }

    /// Checks a sealed text's epoch as a check-in's (CHK-18): current, and sealable.
    fn check_text(&mut self, text: &SealedTextRow) -> Result<(), Fail> {
        let now = self.clock.now();
        let current = self.policy.epoch_at(now);
        let recent = self.policy.epoch_at(now.plus(-EPOCH_SKEW));
        if Some(text.epoch) != current && Some(text.epoch) != recent {
            return Err(refuse(
                OperatorRefusal::WrongEpoch,
                "the text is sealed to an epoch that is not current",
            ));
        }
        if !self.view.sealable.contains(&text.epoch) {
            self.refresh_sealable(text.epoch)?;
            if !self.view.sealable.contains(&text.epoch) {
                return Err(refuse(
                    OperatorRefusal::UnsignedEpoch,
                    "the epoch has no recipients signed by every custodian",
                ));
            }
        }
        Ok(())
    }

    /// Stores a checked sealed text, unless the same one is stored already.
    fn store_text(&mut self, text: &SealedTextRow) -> Result<(), Fail> {
        if self.store.sealed_text(&text.text_id)?.is_none() {
            self.store.insert_sealed_text(text)?;
        }
        Ok(())
    }

    /// A technical-failure report (CHK-22, CHK-23): one per row. The same report again
    /// (a retry) changes nothing; a different one is refused, and the participant adds
    /// to it with a statement (ACC-12).
    fn failure_report(&mut self, a: Attachment<FailureCategory>) -> Result<(), Fail> {
        let row = self.own_row(a.pseudonym, &a.challenge)?;
        let report = FailureReport {
            category: a.category,
            text: a.text.as_ref().map(SealedTextRow::text_ref),
        };
        if let Some(category) = row.failure_report {
            if category == report.category && row.failure_text == report.text {
                return Ok(());
            }
            return Err(refuse(
                OperatorRefusal::FailureReportExists,
                "the row has a failure report already; add to it with a statement",
            ));
        }
        if let Some(text) = &a.text {
            self.check_text(text)?;
            self.store_text(text)?;
        }
        self.store.set_failure_report(&a.challenge, &report)?;
        Ok(())
    }

    /// A participant's statement on any row of their ledger (ACC-12). The row is kept as
    /// it was; the statement is kept beside it. The same statement again (a retry)
    /// changes nothing.
    fn statement(&mut self, a: Attachment<StatementCategory>) -> Result<(), Fail> {
        self.own_row(a.pseudonym, &a.challenge)?;
        let statement = Statement {
            category: a.category,
            text: a.text.as_ref().map(SealedTextRow::text_ref),
        };
        let existing = self.store.statements(&a.challenge)?;
        if existing.contains(&statement) {
            return Ok(());
        }
        if existing.len() >= MAX_STATEMENTS_PER_ROW {
            return Err(refuse(
                OperatorRefusal::StatementLimit,
                "a row holds at most 8 statements",
            ));
        }
        if let Some(text) = &a.text {
            self.check_text(text)?;
            self.store_text(text)?;
        }
        self.store.add_statement(&a.challenge, &statement)?;
        Ok(())
    }

    /// An officer reads a row with its report and statements; the read is recorded, so
    /// that a `not-excused` resolution can require it (CHK-24).
    fn read_row(&mut self, c: ChallengeId, officer: &str) -> Result<RowView, Fail> {
        let row = self
            .store
            .challenge(&c)?
            .ok_or_else(|| refuse(OperatorRefusal::UnknownChallenge, "no such challenge"))?;
        self.store.mark_read(&c, officer)?;
        let statements = self.store.statements(&c)?;
        Ok(RowView { row, statements })
    }

    fn close(&mut self, p: Pseudonym, entries: &mut Vec<LogEntry>) -> Result<(), Fail> {
        let epoch = self.current_epoch()?;
        let now = self.clock.now();
        let part =
            self.view.parts.get_mut(&p).ok_or_else(|| {
                refuse(OperatorRefusal::UnknownParticipant, "no such participant")
            })?;
        if part.closed {
            return Err(refuse(
                OperatorRefusal::EnrollmentClosed,
                "the participant's enrollment is already closed",
            ));
        }
        self.store.close_enrollment(&p, now)?;
        part.closed = true;
        entries.push(LogEntry::EnrollmentClosed {
            tag: TagKey::from_bytes(part.tag_key.clone()).tag(&p, epoch),
            epoch,
        });
        if let Ok(mut d) = self.shared.devices.write()
            && let Some(entry) = d.get_mut(&p)
        {
            entry.1 = true;
        }
        Ok(())
    }

    fn recipient(&mut self, r: SignedEpochRecipient) -> Result<(), Fail> {
        self.verify_recipient(&r).map_err(Fail::Refuse)?;
        // One recipient per epoch and custodian (SEAL-23): the same one again is a retry;
        // another would strand the devices that fetched the first.
        let epoch = r.recipient.epoch;
        if let Some(first) = self
            .store
            .recipients(epoch)?
            .into_iter()
            .find(|o| o.recipient.role == r.recipient.role)
        {
            return if first == r {
                Ok(())
            } else {
                Err(refuse(
                    OperatorRefusal::RecipientAlreadyPublished,
                    "this custodian already published a different recipient for this epoch",
                ))
            };
        }
        self.store.put_recipient(&r)?;
        self.view.sealable.remove(&epoch);
        self.refresh_sealable(epoch)?;
        Ok(())
    }

    /// Issues due scheduled challenges, sets missed rows to pending review, and purges
    /// what is past its retention.
    fn tick(&mut self, entries: &mut Vec<LogEntry>) -> Result<TickReport, Fail> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        // Scheduled challenges whose window has opened.
        while let Some(Reverse((start, p))) = self.view.next_windows.peek().copied() {
            if start > now.seconds() {
                break;
            }
            self.view.next_windows.pop();
            let Some(part) = self.view.parts.get(&p) else {
                continue;
            };
            if part.closed {
                continue;
            }
            let schedule = part.schedule.clone();
            if schedule.window_at(now).is_some() {
                match self.issue(p, ChallengeKind::Scheduled, entries) {
                    Ok(_) => report.issued += 1,
                    Err(Fail::Abort(e)) => return Err(Fail::Abort(e)),
                    // A window the schedule does not admit now (a cap): skip it.
                    Err(Fail::Refuse(_)) => {}
                }
            }
            if let Some(next) = next_window_start(&schedule, now) {
                self.view.next_windows.push(Reverse((next.seconds(), p)));
            }
        }
        // Missed: window and grace over, no check-in. Pending review, never a violation.
        let due: Vec<(i64, ChallengeId)> = self
            .view
            .deadlines
            .range(..(now.seconds() + 1, ChallengeId::from_bytes([0; 16])))
            .copied()
            .collect();
        for key in due {
            if key.0 > now.seconds() {
                continue;
            }
            self.store
                .set_state(&key.1, LedgerState::PendingReview, None)?;
            self.view.deadlines.remove(&key);
            self.view.open.remove(&key.1);
            report.missed += 1;
        }
        // Epochs whose every challenge is closed: one summary each (CHK-28, LOG-36), before
        // any purge below deletes what it counts.
        report.summarized_epochs = self.summarize(now, entries)?;
        // Content past its deadline (RET-1), unless held.
        for epoch in self.store.epochs_with_records()? {
            if self.policy.content_deadline(epoch) > now {
                break;
            }
            let ids = self.store.purge_epoch(epoch, now)?;
            if !ids.is_empty() {
                let (count, record_set) = RecordSetHash::of(&ids);
                entries.push(LogEntry::RecordsPurged {
                    epoch,
                    count,
                    record_set,
                    purged_at: now,
                });
                report.purged_records += count;
            }
        }
        // Sealed texts of failure reports and statements, at the same deadline (D6). They
        // have no entry of their own in the log, so their purge has none either; the
        // epoch's key destruction is what makes every copy unreadable (RET-2).
        for epoch in self.store.epochs_with_sealed_texts()? {
            if self.policy.content_deadline(epoch) > now {
                break;
            }
            report.purged_texts += self.store.purge_sealed_texts(epoch, now)?;
        }
        // Deliveries never acknowledged, and inbox recipients, of every epoch whose content
        // deadline passed: the device deleted the inbox identities that open them (OBL-11).
        if let Some(through) = self.last_expired_epoch(now) {
            report.expired_deliveries += self.store.expire_deliveries(through)?;
        }
        // Ledgers of enrollments closed more than `ledger_days` ago (RET-6, RET-20), each
        // logged under the tag and epoch of its `enrollment closed` entry.
        let ledger_cutoff = now.plus(-i64::from(self.policy.ledger_retention_days()) * 86_400);
        self.carry_counts(ledger_cutoff)?;
        let gone = self.store.purge_closed_before(ledger_cutoff, now)?;
        for g in &gone {
            let epoch = self
                .policy
                .epoch_at(g.closed_at)
                .ok_or(StoreError::Corrupt { what: "closed_at" })?;
            let tag = self.tag(&g.pseudonym, epoch)?;
            entries.push(LogEntry::LedgerPurged {
                tag,
                epoch,
                purged_at: now,
            });
            self.view.parts.remove(&g.pseudonym);
            if let Ok(mut d) = self.shared.devices.write() {
                d.remove(&g.pseudonym);
            }
        }
        if !gone.is_empty() {
            let gone: HashSet<Pseudonym> = gone.iter().map(|g| g.pseudonym).collect();
            let stale: Vec<(ChallengeId, Open)> = self
                .view
                .open
                .iter()
                .filter(|(_, o)| gone.contains(&o.pseudonym))
                .map(|(id, o)| (*id, *o))
                .collect();
            for (id, o) in stale {
                self.view.open.remove(&id);
                self.view
                    .deadlines
                    .remove(&(o.window_end.seconds() + self.policy.grace_seconds(), id));
            }
        }
        report.purged_participants = gone.len() as u64;
        Ok(report)
    }
}

impl<S: Store, C: Clock> Writer<S, C> {
    /// The first epoch not yet summarized, if the server has started counting.
    fn next_summary_epoch(&self) -> Result<Option<EpochId>, StoreError> {
        self.store
            .meta(NEXT_SUMMARY_EPOCH)?
            .map(|b| {
                <[u8; 4]>::try_from(b.as_slice())
                    .map(|b| EpochId::new(u32::from_be_bytes(b)))
                    .map_err(|_| StoreError::Corrupt {
                        what: "next summary epoch",
                    })
            })
            .transpose()
    }

    /// What a purge deleted before its epoch's summary, carried into it.
    fn carried(&self, epoch: EpochId) -> Result<minimis_log::EpochSummary, StoreError> {
        match self
            .store
            .meta(&format!("{SUMMARY_CARRY}{}", epoch.get()))?
        {
            None => Ok(no_counts(epoch)),
            Some(b) => match LogEntry::decode(&b) {
                Ok(LogEntry::EpochSummary(s)) if s.epoch == epoch => Ok(s),
                _ => Err(StoreError::Corrupt {
                    what: "carried summary counts",
                }),
            },
        }
    }

    /// Logs one `epoch summary` for each epoch, oldest first, that has ended and whose
    /// every challenge is closed (its window and grace period over), counted from the
    /// ledger (CHK-28, LOG-36); an epoch with no challenge gets none. A server that has
    /// never summarized starts with the current epoch: the ledger of an older one may
    /// already be partly purged. Returns how many epochs it closed.
    fn summarize(&mut self, now: UnixTime, entries: &mut Vec<LogEntry>) -> Result<u64, Fail> {
        let Some(current) = self.policy.epoch_at(now) else {
            return Ok(0);
        };
        let mut next = match self.next_summary_epoch()? {
            Some(e) => e,
            None => {
                self.store
                    .set_meta(NEXT_SUMMARY_EPOCH, &current.get().to_be_bytes())?;
                current
            }
        };
        if self.policy.epoch_end(next) > now {
            return Ok(0);
        }
        // A challenge is issued in the epoch of its issue time, so none of an ended epoch
        // is still to come; those still open are in `open`.
        let oldest_open = self.view.open.values().map(|o| o.epoch).min();
        let mut done = 0;
        while self.policy.epoch_end(next) <= now && oldest_open.is_none_or(|o| o > next) {
            let live = self
                .store
                .ledger_counts(next, next, CountRows::All)?
                .into_iter()
                .find(|s| s.epoch == next)
                .unwrap_or_else(|| no_counts(next));
            let summary = add_counts(live, &self.carried(next)?)?;
            if summary.issued > 0 {
                entries.push(LogEntry::EpochSummary(summary));
            }
            done += 1;
            let Some(after) = next.get().checked_add(1) else {
                break;
            };
            next = EpochId::new(after);
            self.store
                .set_meta(NEXT_SUMMARY_EPOCH, &next.get().to_be_bytes())?;
        }
        Ok(done)
    }

    /// Before the ledger purge deletes the rows of enrollments closed before `cutoff`
    /// (RET-20), carries their counts into the summaries of the epochs not yet
    /// summarized, so that a summary counts every challenge its epoch issued.
    fn carry_counts(&mut self, cutoff: UnixTime) -> Result<(), StoreError> {
        let Some(next) = self.next_summary_epoch()? else {
            return Ok(());
        };
        let purged = self.store.ledger_counts(
            next,
            EpochId::new(u32::MAX),
            CountRows::ClosedBefore(cutoff),
        )?;
        for rows in purged {
            let carried = add_counts(self.carried(rows.epoch)?, &rows)?;
            self.store.set_meta(
                &format!("{SUMMARY_CARRY}{}", rows.epoch.get()),
                &LogEntry::EpochSummary(carried).encode(),
            )?;
        }
        Ok(())
    }
}

fn signer(name: &KeyName, seed: &[u8; 32]) -> Result<NoteSigner, WriterError> {
    let key = SigningKey::from_seed(seed).map_err(|e| WriterError::Log(e.to_string()))?;
    Ok(NoteSigner::new(name.clone(), key))
}

fn store_has_checkpoint<S: Store>(store: &S) -> Result<bool, WriterError> {
    use minimis_log::TileStorage as _;
    store
        .tiles()
        .read_checkpoint()
        .map(|c| c.is_some())
        .map_err(|e| WriterError::Log(e.to_string()))
}

/// When the scheduler should next look at this participant: the start of the window
/// containing `now` if no scheduled challenge was issued in it yet, else the start of the
/// next window (looked for in the next 15 days).
fn due_window(schedule: &Schedule, now: UnixTime, slots: &[Slot]) -> Option<UnixTime> {
    if let Some(span) = schedule.window_at(now) {
        let issued = slots
            .iter()
            .any(|s| s.kind == ChallengeKind::Scheduled && span.contains(s.at));
        if !issued {
            return Some(span.start);
        }
    }
    next_window_start(schedule, now)
}

/// The start of the next window occurrence that begins after `now`.
fn next_window_start(schedule: &Schedule, now: UnixTime) -> Option<UnixTime> {
    schedule
        .spans_between(now.plus(1), now.plus(15 * 86_400))
        .first()
        .map(|s| s.start)
}

fn reply_err(op: Op, e: ApiError) {
    match op {
        Op::Enroll(_, r) => drop(r.send(Err(e))),
        Op::CheckIn(_, r) => drop(r.send(Err(e))),
        Op::Filing(_, r)
        | Op::AcknowledgeFiling(_, r)
        | Op::AcknowledgeDelivery(_, r)
        | Op::CaseEntry(_, r) => {
            drop(r.send(Err(e)));
        }
        Op::PublishInbox(_, r) | Op::Deliver(_, r) => drop(r.send(Err(e))),
        #[cfg(feature = "dangerous-plaintext-baseline")]
        Op::PlaintextCheckIn(_, r) => drop(r.send(Err(e))),
        Op::AdHoc(_, r) => drop(r.send(Err(e))),
        Op::Resolve(_, _, _, _, r) => drop(r.send(Err(e))),
        Op::FailureReport(_, r) => drop(r.send(Err(e))),
        Op::Statement(_, r) => drop(r.send(Err(e))),
        Op::ReadRow(_, _, r) => drop(r.send(Err(e))),
        Op::CloseEnrollment(_, r) => drop(r.send(Err(e))),
        Op::Recipient(_, r) => drop(r.send(Err(e))),
        Op::Tick(r) => drop(r.send(Err(e))),
        Op::CustodianEntries(_, r) => drop(r.send(Err(e))),
        Op::Hold(_, _, r) => drop(r.send(Err(e))),
        Op::Cosigned(_, r) => drop(r.send(Err(e))),
        Op::Shutdown => {}
    }
}
