//! What the operator stores, behind a trait, so that a backend with replication (such as
//! PostgreSQL) can follow the SQLite one. Every backend must pass [`conformance`].
//!
//! The operator stores: enrolled participants (pseudonym, device public key, tag key,
//! schedule), the compliance ledger (one row per challenge: its window and state, no
//! content; the resolution, its reason code and the officer who set it; the
//! participant's technical-failure report and statements, as category codes; which
//! officers read the row since its last report or statement), sealed check-ins and
//! sealed free texts it cannot open, the custodians' signed epoch recipients, legal
//! holds, and the transparency log's tiles. Nothing else: no address, no user agent,
//! no time a check-in arrived (the ledger state says all that is needed: on time or late).
//!
//! A write happens inside [`Store::begin`] … [`Store::commit`]; the log's tiles are
//! written through [`Store::tiles`] inside the same transaction, so a batch's records,
//! ledger rows and log entries become durable together, or not at all.

pub mod conformance;
pub mod postgres;
pub mod sqlite;

use std::borrow::Cow;
use std::fmt;

use minimis_log::TileStorage;
use minimis_log::tiles::{BundleId, TileId};
use minimis_proto::obligations::Addressee;
use minimis_proto::{
    ChallengeId, DeliveryId, EpochId, FilingId, Pseudonym, PublicKey, RecordId, ReviewId, Schedule,
    SealedCheckIn, Signature, SignedChallenge, SignedEpochRecipient, Slot, UnixTime,
};
use zeroize::Zeroizing;

/// A storage failure. The batch it happened in is rolled back and every caller in it gets
/// an error; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL database failed.
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// A stored value does not decode (the database was changed outside the server).
    #[error("stored {what} is corrupt")]
    Corrupt {
        /// What.
        what: &'static str,
    },
    /// A row that must be unique already exists.
    #[error("{what} already exists")]
    Duplicate {
        /// What.
        what: &'static str,
    },
    /// A row that must exist does not.
    #[error("{what} not found")]
    NotFound {
        /// What.
        what: &'static str,
    },
    /// A statement of the batch failed earlier: the batch cannot commit and was rolled
    /// back (on PostgreSQL a failed statement aborts its transaction, **STO-12**).
    #[error("the batch was aborted by an earlier failure and rolled back")]
    Aborted,
    /// The backend does not do this.
    #[error("not supported by this store: {what}")]
    Unsupported {
        /// What.
        what: &'static str,
    },
    /// A file of the data directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// An enrolled participant, as the operator knows them.
#[derive(Clone)]
pub struct ParticipantRow {
    /// The pseudonym.
    pub pseudonym: Pseudonym,
    /// The device's public key.
    pub device_key: PublicKey,
    /// The tag key (ENR-3): to write the log's tags.
    pub tag_key: Zeroizing<[u8; 32]>,
    /// The enrolled schedule.
    pub schedule: Schedule,
    /// The epoch of enrollment.
    pub enrolled_epoch: EpochId,
    /// When the enrollment closed, if it has.
    pub closed_at: Option<UnixTime>,
    /// Whether the enrollment is under conditions: every check-in carries a condition
    /// result (**OBL-4**).
    pub conditions: bool,
}

impl fmt::Debug for ParticipantRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParticipantRow")
            .field("pseudonym", &self.pseudonym)
            .field("device_key", &self.device_key)
            .field("tag_key", &"<redacted>")
            .field("schedule", &self.schedule)
            .field("closed_at", &self.closed_at)
            .field("conditions", &self.conditions)
            .finish_non_exhaustive()
    }
}

pub use minimis_proto::{
    FailureCategory, LedgerState, Resolution, ResolutionReason, StatementCategory,
};

/// The code a ledger state is stored under: `0` open, `1` on time, `2` late, `3` pending
/// review, `10 +` the resolution's code (spec/log.md) when resolved.
pub(crate) fn state_code(state: LedgerState) -> i64 {
    match state {
        LedgerState::Open => 0,
        LedgerState::OnTime => 1,
        LedgerState::Late => 2,
        LedgerState::PendingReview => 3,
        LedgerState::Resolved(r) => 10 + i64::from(r.code()),
    }
}

/// The ledger state stored under `code`, if it is one.
pub(crate) fn state_from_code(code: i64) -> Option<LedgerState> {
    Some(match code {
        0 => LedgerState::Open,
        1 => LedgerState::OnTime,
        2 => LedgerState::Late,
        3 => LedgerState::PendingReview,
        c if c > 10 => LedgerState::Resolved(Resolution::from_code(u8::try_from(c - 10).ok()?)?),
        _ => return None,
    })
}

/// The code a resolution reason is stored under: its byte in the log (spec/log.md).
pub(crate) fn reason_code(reason: ResolutionReason) -> i64 {
    i64::from(reason.code())
}

/// The resolution reason stored under `code`, if it is one.
pub(crate) fn reason_from_code(code: i64) -> Option<ResolutionReason> {
    ResolutionReason::from_code(u8::try_from(code).ok()?)
}

/// Where a sealed free text is: its id and the epoch it is sealed to. The ledger keeps
/// this link after the ciphertext itself is purged at the epoch's content deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TextRef {
    /// The text's id (spec/failure.md): what a custodian fetches and an access names.
    pub id: RecordId,
    /// The epoch whose keys sealed it.
    pub epoch: EpochId,
}

/// A free text the participant's device sealed to an epoch's custodians, as a check-in's
/// note is sealed (CHK-23, ACC-12). The operator cannot open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedTextRow {
    /// Its id.
    pub text_id: RecordId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The ledger row it belongs to.
    pub challenge_id: ChallengeId,
    /// The epoch whose keys sealed it.
    pub epoch: EpochId,
    /// The ciphertext, within the same bound as a check-in's (SEAL-4).
    pub ciphertext: SealedCheckIn,
}

impl SealedTextRow {
    /// The link the ledger keeps.
    pub fn text_ref(&self) -> TextRef {
        TextRef {
            id: self.text_id,
            epoch: self.epoch,
        }
    }
}

/// The label that starts a sealed text's id input (spec/failure.md).
pub const SEALED_TEXT_LABEL: &[u8] = b"minimis/v1 sealed-text\n";

/// A sealed text's id:
///
/// ```text
/// SHA-256("minimis/v1 sealed-text\n" || pseudonym (16) || challenge_id (16)
///         || epoch (u32 BE) || len(ciphertext) (u32 BE) || ciphertext)
/// ```
///
/// Its label differs from a check-in's (CHK-12), so a text's id is never a record's.
pub fn sealed_text_id(
    pseudonym: &Pseudonym,
    challenge: &ChallengeId,
    epoch: EpochId,
    ciphertext: &SealedCheckIn,
) -> RecordId {
    let bytes = ciphertext.as_bytes();
    let mut input = Vec::with_capacity(SEALED_TEXT_LABEL.len() + 40 + bytes.len());
    input.extend_from_slice(SEALED_TEXT_LABEL);
    input.extend_from_slice(pseudonym.as_bytes());
    input.extend_from_slice(challenge.as_bytes());
    input.extend_from_slice(&epoch.get().to_be_bytes());
    input.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    input.extend_from_slice(bytes);
    RecordId::from_bytes(minimis_crypto::sha256(&input))
}

/// A technical-failure report on a ledger row (CHK-22, CHK-23): a category and, if the
/// participant wrote one, the link to its sealed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FailureReport {
    /// The category.
    pub category: FailureCategory,
    /// The sealed free text, if any.
    pub text: Option<TextRef>,
}

/// A participant's statement on a ledger row (ACC-12): a category and, if the
/// participant wrote one, the link to its sealed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Statement {
    /// The category.
    pub category: StatementCategory,
    /// The sealed free text, if any.
    pub text: Option<TextRef>,
}

/// A closed enrollment whose ledger was purged (RET-20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgedParticipant {
    /// The pseudonym it had.
    pub pseudonym: Pseudonym,
    /// When its enrollment closed.
    pub closed_at: UnixTime,
}

/// Which ledger rows [`StoreRead::ledger_counts`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountRows {
    /// Every row.
    All,
    /// The rows of participants whose enrollment closed before this time: those the
    /// next ledger purge deletes (RET-20).
    ClosedBefore(UnixTime),
}

/// One ledger row: a challenge, its state, and what a person said about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeRow {
    /// The challenge as signed and sent.
    pub signed: SignedChallenge,
    /// Its ledger state.
    pub state: LedgerState,
    /// The officer who resolved it, if resolved.
    pub resolved_by: Option<String>,
    /// What the resolution rests on, if resolved with a reason (CHK-24).
    pub resolution_reason: Option<ResolutionReason>,
    /// A technical-failure report the participant filed, if any.
    pub failure_report: Option<FailureCategory>,
    /// The link to the report's sealed free text, if it has one.
    pub failure_text: Option<TextRef>,
}

/// A stored, sealed check-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRow {
    /// Its id (CHK-12).
    pub record_id: RecordId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The challenge it answers.
    pub challenge_id: ChallengeId,
    /// The epoch it is sealed to.
    pub epoch: EpochId,
    /// The ciphertext.
    pub ciphertext: SealedCheckIn,
    /// The device's signature over the envelope.
    pub signature: Signature,
    /// Its entry's index in the log.
    pub log_index: u64,
}

/// A sealed condition result, stored beside its ledger row (**OBL-4**, **OBL-5**). The
/// operator cannot open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionRow {
    /// Its position in the order stored (assigned by the store; 0 when inserting).
    pub seq: u64,
    /// The challenge of its row.
    pub challenge_id: ChallengeId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The row's epoch.
    pub epoch: EpochId,
    /// The sealed result.
    pub ciphertext: Vec<u8>,
    /// The device's signature (**OBL-4**).
    pub signature: Signature,
}

/// A sealed filing the operator relays to the agency's case system (**OBL-9**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilingRow {
    /// Its position in the order stored (assigned by the store; 0 when inserting).
    pub seq: u64,
    /// Its id: SHA-256 of its signing input.
    pub filing_id: FilingId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// To whom it is sealed.
    pub addressee: Addressee,
    /// The sealed filing.
    pub ciphertext: Vec<u8>,
    /// The device's signature.
    pub signature: Signature,
    /// The day it was received.
    pub day: UnixTime,
    /// Its `filing received` entry's index in the log.
    pub log_index: u64,
    /// The day the case system acknowledged it, if it has (**OBL-10**).
    pub acknowledged: Option<UnixTime>,
}

/// A device's signed inbox recipient for one epoch (**OBL-11**, **OBL-43**): public, and
/// kept until the epoch's content deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxRow {
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The epoch it is for.
    pub epoch: EpochId,
    /// The age X25519 recipient, `age1…`.
    pub recipient: String,
    /// The device's signature over it.
    pub signature: Signature,
}

/// A sealed delivery the operator relays from the case system to a device (**OBL-12**,
/// **OBL-44**). Its ciphertext is deleted when the device acknowledges it, or at its
/// inbox epoch's content deadline; the row (id, whose, days) stays until the ledger's
/// deadline, so that a replay of it or of its acknowledgement changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Its position in the order stored (assigned by the store; 0 when inserting).
    pub seq: u64,
    /// SHA-256 of the sealed bytes.
    pub delivery_id: DeliveryId,
    /// Whose.
    pub pseudonym: Pseudonym,
    /// The epoch of the inbox it is sealed to.
    pub epoch: EpochId,
    /// The sealed delivery; `None` once acknowledged or expired.
    pub ciphertext: Option<Vec<u8>>,
    /// The day it was received from the case system.
    pub day: UnixTime,
    /// The day the device acknowledged it, if it has.
    pub acknowledged: Option<UnixTime>,
}

/// Where a review stands, as the case system's log entries put it (**OBL-46**): the days
/// of its steps. The operator keeps it to refuse a step out of order; it holds nothing the
/// log's review entries do not already show publicly, and no pseudonym.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewRow {
    /// The review id.
    pub review_id: ReviewId,
    /// The epoch of the check-in reviewed.
    pub epoch: EpochId,
    /// The day `review opened` was logged.
    pub opened: UnixTime,
    /// The day `review decided` was logged.
    pub decided: Option<UnixTime>,
    /// The day `decision contested` was logged.
    pub contested: Option<UnixTime>,
    /// The day `appeal decided` was logged.
    pub appeal_decided: Option<UnixTime>,
}

/// Reading what is stored. Readers may run while the writer writes.
pub trait StoreRead {
    /// A participant.
    ///
    /// # Errors
    /// [`StoreError`].
    fn participant(&self, pseudonym: &Pseudonym) -> Result<Option<ParticipantRow>, StoreError>;

    /// Every participant (to rebuild the server's caches at start).
    ///
    /// # Errors
    /// [`StoreError`].
    fn participants(&self) -> Result<Vec<ParticipantRow>, StoreError>;

    /// A ledger row.
    ///
    /// # Errors
    /// [`StoreError`].
    fn challenge(&self, id: &ChallengeId) -> Result<Option<ChallengeRow>, StoreError>;

    /// A participant's ledger, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    fn ledger(&self, pseudonym: &Pseudonym) -> Result<Vec<ChallengeRow>, StoreError>;

    /// Ledger rows still open (to rebuild the server's caches at start).
    ///
    /// # Errors
    /// [`StoreError`].
    fn open_challenges(&self) -> Result<Vec<ChallengeRow>, StoreError>;

    /// Challenges issued to a participant at or after `since` (for the schedule's caps).
    ///
    /// # Errors
    /// [`StoreError`].
    fn issued_since(
        &self,
        pseudonym: &Pseudonym,
        since: UnixTime,
    ) -> Result<Vec<SignedChallenge>, StoreError>;

    /// A stored record.
    ///
    /// # Errors
    /// [`StoreError`].
    fn record(&self, id: &RecordId) -> Result<Option<RecordRow>, StoreError>;

    /// How many records are stored for an epoch.
    ///
    /// # Errors
    /// [`StoreError`].
    fn records_in_epoch(&self, epoch: EpochId) -> Result<u64, StoreError>;

    /// Epochs that still have records, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    fn epochs_with_records(&self) -> Result<Vec<EpochId>, StoreError>;

    /// The custodians' signed recipients for an epoch.
    ///
    /// # Errors
    /// [`StoreError`].
    fn recipients(&self, epoch: EpochId) -> Result<Vec<SignedEpochRecipient>, StoreError>;

    /// A value of the server's own bookkeeping (for example which policy it last
    /// published to the log).
    ///
    /// # Errors
    /// [`StoreError`].
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The counts of an `epoch summary` (CHK-28) for every epoch from `first` to `last`
    /// that has ledger rows among `rows`, oldest first: the rows, those `on-time`, those
    /// whose check-in came late (`late`, or resolved with a check-in stored), those with
    /// none (`pending-review`, still `open`, or resolved with no check-in stored), and
    /// the failure reports by category.
    ///
    /// # Errors
    /// [`StoreError`].
    fn ledger_counts(
        &self,
        first: EpochId,
        last: EpochId,
        rows: CountRows,
    ) -> Result<Vec<minimis_log::EpochSummary>, StoreError>;

    /// The participant's statements on a ledger row, oldest first (ACC-12).
    ///
    /// # Errors
    /// [`StoreError`].
    fn statements(&self, id: &ChallengeId) -> Result<Vec<Statement>, StoreError>;

    /// Whether `officer` read the row (with its report and statements) since the last
    /// report or statement was attached to it (CHK-24).
    ///
    /// # Errors
    /// [`StoreError`].
    fn read_by(&self, id: &ChallengeId, officer: &str) -> Result<bool, StoreError>;

    /// A stored sealed text.
    ///
    /// # Errors
    /// [`StoreError`].
    fn sealed_text(&self, id: &RecordId) -> Result<Option<SealedTextRow>, StoreError>;

    /// Epochs that still have sealed texts, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    fn epochs_with_sealed_texts(&self) -> Result<Vec<EpochId>, StoreError>;

    /// Up to `limit` condition results stored after the cursor `after`, in order
    /// (**OBL-5**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn conditions_after(&self, after: u64, limit: usize) -> Result<Vec<ConditionRow>, StoreError>;

    /// Up to `limit` filings stored after the cursor `after`, in order (**OBL-9**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn filings_after(&self, after: u64, limit: usize) -> Result<Vec<FilingRow>, StoreError>;

    /// A filing by id.
    ///
    /// # Errors
    /// [`StoreError`].
    fn filing(&self, id: &FilingId) -> Result<Option<FilingRow>, StoreError>;

    /// A participant's inbox recipient for an epoch (**OBL-43**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn inbox(&self, pseudonym: &Pseudonym, epoch: EpochId) -> Result<Option<InboxRow>, StoreError>;

    /// A review's steps (**OBL-46**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn review(&self, id: &ReviewId) -> Result<Option<ReviewRow>, StoreError>;

    /// Whether the case system's `conditions summary` of `epoch` is logged (**OBL-46**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn conditions_summary_logged(&self, epoch: EpochId) -> Result<bool, StoreError>;

    /// A delivery by id, whether or not its ciphertext is still held.
    ///
    /// # Errors
    /// [`StoreError`].
    fn delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRow>, StoreError>;

    /// Up to `limit` of a participant's deliveries still held (not acknowledged, not
    /// expired), in the order stored (**OBL-44**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn pending_deliveries(
        &self,
        pseudonym: &Pseudonym,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError>;

    /// Calls `f` with every participant, one at a time, so that the server rebuilds its
    /// caches at start without holding every row at once. The default collects
    /// [`StoreRead::participants`]; a backend should stream.
    ///
    /// # Errors
    /// [`StoreError`], or the first error `f` returns.
    fn for_each_participant(
        &self,
        f: &mut dyn FnMut(ParticipantRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.participants()?.into_iter().try_for_each(f)
    }

    /// Calls `f` with every open ledger row, one at a time (as
    /// [`StoreRead::for_each_participant`]).
    ///
    /// # Errors
    /// [`StoreError`], or the first error `f` returns.
    fn for_each_open_challenge(
        &self,
        f: &mut dyn FnMut(ChallengeRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.open_challenges()?.into_iter().try_for_each(f)
    }

    /// When, and of which kind, the challenges issued to a participant at or after
    /// `since` were: all the schedule's caps need (as [`StoreRead::issued_since`], without
    /// the rest of each row).
    ///
    /// # Errors
    /// [`StoreError`].
    fn slots_since(&self, pseudonym: &Pseudonym, since: UnixTime) -> Result<Vec<Slot>, StoreError> {
        Ok(self
            .issued_since(pseudonym, since)?
            .iter()
            .map(|s| Slot {
                at: s.challenge.issued_at,
                kind: s.challenge.kind,
            })
            .collect())
    }
}

/// What the operator holds, by kind, in bytes of stored values (ids, keys, ciphertext,
/// hashes; the backend's own overhead is not counted): the figures `minimis demo` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Holdings {
    /// Enrolled participants (pseudonym, device key, tag key, schedule).
    pub participants: u64,
    /// Their rows' bytes.
    pub participant_bytes: u64,
    /// Compliance-ledger rows (one per challenge; no content).
    pub ledger_rows: u64,
    /// Their bytes.
    pub ledger_bytes: u64,
    /// Sealed check-ins held.
    pub records: u64,
    /// Their ciphertext bytes (which the operator cannot open).
    pub ciphertext_bytes: u64,
    /// The rest of their rows (ids, device signature, log index).
    pub record_row_bytes: u64,
    /// Sealed free texts of failure reports and statements held (CHK-23, ACC-12).
    pub sealed_texts: u64,
    /// Their ciphertext bytes (which the operator cannot open).
    pub sealed_text_bytes: u64,
    /// The log's entry bundles, hash tiles and checkpoint.
    pub log_bytes: u64,
}

/// The read path the API and the witness use, beside [`StoreRead`]: the log as stored
/// and the operator's own views. A reader may run while the writer writes; it sees only
/// committed batches.
pub trait ReadStore: StoreRead + Send {
    /// A stored hash tile.
    ///
    /// # Errors
    /// [`StoreError`].
    fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError>;

    /// A stored entry bundle.
    ///
    /// # Errors
    /// [`StoreError`].
    fn bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError>;

    /// The latest checkpoint.
    ///
    /// # Errors
    /// [`StoreError`].
    fn checkpoint(&self) -> Result<Option<String>, StoreError>;

    /// What the store holds now ([`Holdings`]), read in one transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    fn holdings(&self) -> Result<Holdings, StoreError>;

    /// Writes a consistent copy of the whole store to `path`, as an operator's backup
    /// would be (RET-3: a backup taken before a retention deadline is unreadable after
    /// it).
    ///
    /// # Errors
    /// [`StoreError`]; `path` must not exist.
    fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError>;
}

/// A reader as the log's (read-only) tile storage: for making receipts and proofs from
/// the stored tiles outside the writer.
pub struct ReadTiles<'a, R: ?Sized>(pub &'a R);

/// A write through a reader, or a failed read.
#[derive(Debug, thiserror::Error)]
pub enum ReadTilesError {
    /// The store failed.
    #[error("log storage: {0}")]
    Store(#[from] StoreError),
    /// A write was attempted.
    #[error("the reader's tile storage is read-only")]
    ReadOnly,
}

impl<R: ReadStore + ?Sized> TileStorage for ReadTiles<'_, R> {
    type Error = ReadTilesError;

    fn write_tile(&mut self, _: TileId, _: &[u8]) -> Result<(), ReadTilesError> {
        Err(ReadTilesError::ReadOnly)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, ReadTilesError> {
        Ok(self.0.tile(tile)?.map(Cow::Owned))
    }

    fn write_bundle(&mut self, _: BundleId, _: &[u8]) -> Result<(), ReadTilesError> {
        Err(ReadTilesError::ReadOnly)
    }

    fn read_bundle(&self, bundle: BundleId) -> Result<Option<Cow<'_, [u8]>>, ReadTilesError> {
        Ok(self.0.bundle(bundle)?.map(Cow::Owned))
    }

    fn write_checkpoint(&mut self, _: &str) -> Result<(), ReadTilesError> {
        Err(ReadTilesError::ReadOnly)
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, ReadTilesError> {
        Ok(self.0.checkpoint()?.map(Cow::Owned))
    }
}

/// Writing, by the server's single writer.
pub trait Store: StoreRead {
    /// The log's tile storage, sharing the writer's transaction.
    type Tiles: TileStorage + 'static;

    /// A tile-storage handle for the log.
    fn tiles(&self) -> Self::Tiles;

    /// A new reader of the same store, for the API's pool: it sees only committed
    /// batches (**STO-2**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn open_reader(&self) -> Result<Box<dyn ReadStore>, StoreError>;

    /// Starts a batch.
    ///
    /// # Errors
    /// [`StoreError`].
    fn begin(&mut self) -> Result<(), StoreError>;

    /// Makes the batch durable (on SQLite: the WAL is synced before this returns).
    ///
    /// # Errors
    /// [`StoreError`]; the batch is then rolled back.
    fn commit(&mut self) -> Result<(), StoreError>;

    /// Abandons the batch.
    ///
    /// # Errors
    /// [`StoreError`].
    fn rollback(&mut self) -> Result<(), StoreError>;

    /// Adds a participant.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the pseudonym exists.
    fn insert_participant(&mut self, row: &ParticipantRow) -> Result<(), StoreError>;

    /// Closes an enrollment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn close_enrollment(&mut self, pseudonym: &Pseudonym, at: UnixTime) -> Result<(), StoreError>;

    /// Adds a ledger row for an issued challenge, in state [`LedgerState::Open`].
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the id exists.
    fn insert_challenge(&mut self, challenge: &SignedChallenge) -> Result<(), StoreError>;

    /// Sets a ledger row's state.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn set_state(
        &mut self,
        id: &ChallengeId,
        state: LedgerState,
        resolved_by: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Sets a ledger row to `Resolved(resolution)`, with the reason code and the officer
    /// (CHK-24).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn resolve(
        &mut self,
        id: &ChallengeId,
        resolution: Resolution,
        reason: ResolutionReason,
        officer: &str,
    ) -> Result<(), StoreError>;

    /// Attaches a technical-failure report to a ledger row, replacing any before, and
    /// forgets who had read the row (CHK-24: it must be read again).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn set_failure_report(
        &mut self,
        id: &ChallengeId,
        report: &FailureReport,
    ) -> Result<(), StoreError>;

    /// Adds a statement to a ledger row, after those already there, and forgets who had
    /// read the row (CHK-24).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if there is no such row.
    fn add_statement(&mut self, id: &ChallengeId, statement: &Statement) -> Result<(), StoreError>;

    /// Records that `officer` read the row, its report and its statements (CHK-24).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if there is no such row.
    fn mark_read(&mut self, id: &ChallengeId, officer: &str) -> Result<(), StoreError>;

    /// Stores a sealed text.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] for a text id already stored.
    fn insert_sealed_text(&mut self, text: &SealedTextRow) -> Result<(), StoreError>;

    /// Deletes an epoch's sealed texts that are not under a hold lasting past `now`, and
    /// returns how many. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    fn purge_sealed_texts(&mut self, epoch: EpochId, now: UnixTime) -> Result<u64, StoreError>;

    /// Stores a condition result beside its row (**OBL-4**).
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the row has one.
    fn insert_condition(&mut self, row: &ConditionRow) -> Result<(), StoreError>;

    /// Stores a filing (**OBL-9**).
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if it is stored already.
    fn insert_filing(&mut self, row: &FilingRow) -> Result<(), StoreError>;

    /// Records the acknowledgement of a filing (**OBL-10**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn acknowledge_filing(&mut self, id: &FilingId, day: UnixTime) -> Result<(), StoreError>;

    /// Stores a review's steps, new or updated (**OBL-46**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn put_review(&mut self, row: &ReviewRow) -> Result<(), StoreError>;

    /// Records that `epoch`'s `conditions summary` is logged (**OBL-46**).
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if it is already.
    fn insert_conditions_summary(
        &mut self,
        epoch: EpochId,
        day: UnixTime,
    ) -> Result<(), StoreError>;

    /// Stores a device's inbox recipient for an epoch (**OBL-43**).
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if the epoch has one.
    fn insert_inbox(&mut self, row: &InboxRow) -> Result<(), StoreError>;

    /// Stores a sealed delivery (**OBL-44**).
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if it is stored already.
    fn insert_delivery(&mut self, row: &DeliveryRow) -> Result<(), StoreError>;

    /// Records a delivery's acknowledgement and deletes its ciphertext (**OBL-12**).
    ///
    /// # Errors
    /// [`StoreError`].
    fn acknowledge_delivery(&mut self, id: &DeliveryId, day: UnixTime) -> Result<(), StoreError>;

    /// Deletes the ciphertexts of deliveries, and the inbox recipients, of every epoch up
    /// to and including `through`: their content deadline passed, the device deleted the
    /// inbox identities that open them (**OBL-11**). Returns the ciphertexts deleted.
    ///
    /// # Errors
    /// [`StoreError`].
    fn expire_deliveries(&mut self, through: EpochId) -> Result<u64, StoreError>;

    /// Stores a sealed check-in.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] for a record id or challenge already stored.
    fn insert_record(&mut self, row: &RecordRow) -> Result<(), StoreError>;

    /// Stores a custodian's signed recipient (replacing that custodian's for the epoch).
    ///
    /// # Errors
    /// [`StoreError`].
    fn put_recipient(&mut self, recipient: &SignedEpochRecipient) -> Result<(), StoreError>;

    /// Puts records on legal hold until `until`.
    ///
    /// # Errors
    /// [`StoreError`].
    fn hold(&mut self, records: &[RecordId], until: UnixTime) -> Result<(), StoreError>;

    /// Sets a bookkeeping value (replacing it).
    ///
    /// # Errors
    /// [`StoreError`].
    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Deletes an epoch's records that are not under a hold lasting past `now`, and returns
    /// their ids. Idempotent: a second call returns nothing.
    ///
    /// # Errors
    /// [`StoreError`].
    fn purge_epoch(&mut self, epoch: EpochId, now: UnixTime) -> Result<Vec<RecordId>, StoreError>;

    /// Deletes participants whose enrollment closed before `before` (RET-6, RET-20): the
    /// participant's row (pseudonym, device key, tag key, schedule), every ledger row of
    /// theirs with its statements and reads, and their sealed texts not under a hold
    /// lasting past `now`; returns who, and when each enrollment closed. Sealed check-ins
    /// are left to their own deadline (RET-5). Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    fn purge_closed_before(
        &mut self,
        before: UnixTime,
        now: UnixTime,
    ) -> Result<Vec<PurgedParticipant>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chk_24_states_and_reasons_are_stored_under_codes_that_round_trip() {
        let mut states = vec![
            LedgerState::Open,
            LedgerState::OnTime,
            LedgerState::Late,
            LedgerState::PendingReview,
        ];
        states.extend(Resolution::ALL.map(LedgerState::Resolved));
        let mut codes = std::collections::BTreeSet::new();
        for s in states {
            assert!(codes.insert(state_code(s)), "{s:?} shares its code");
            assert_eq!(state_from_code(state_code(s)), Some(s));
        }
        for bad in [-1, 4, 10, 14, 265] {
            assert_eq!(state_from_code(bad), None, "{bad}");
        }
        for r in ResolutionReason::ALL {
            assert_eq!(reason_from_code(reason_code(r)), Some(r));
        }
        assert_eq!(reason_from_code(0), None);
        assert_eq!(reason_from_code(256 + 1), None);
    }

    #[test]
    fn chk_23_a_sealed_texts_id_is_its_own_hash_and_never_a_records() {
        use minimis_proto::messages::{
            CHALLENGE_LABEL, CUSTODIAN_REQUEST_LABEL, ENVELOPE_LABEL, EPOCH_RECIPIENT_LABEL,
            REQUEST_LABEL,
        };
        for other in [
            ENVELOPE_LABEL,
            REQUEST_LABEL,
            CUSTODIAN_REQUEST_LABEL,
            CHALLENGE_LABEL,
            EPOCH_RECIPIENT_LABEL,
            minimis_crypto::TAG_LABEL,
        ] {
            assert!(!other.starts_with(SEALED_TEXT_LABEL) && !SEALED_TEXT_LABEL.starts_with(other));
        }
        let p = Pseudonym::from_bytes([1; 16]);
        let c = ChallengeId::from_bytes([2; 16]);
        let e = EpochId::new(2_968);
        let ct = SealedCheckIn::try_from(vec![7u8; 1_000]).unwrap();
        let mut input = b"minimis/v1 sealed-text\n".to_vec();
        input.extend_from_slice(&[1; 16]);
        input.extend_from_slice(&[2; 16]);
        input.extend_from_slice(&2_968u32.to_be_bytes());
        input.extend_from_slice(&1_000u32.to_be_bytes());
        input.extend_from_slice(&[7; 1_000]);
        assert_eq!(
            sealed_text_id(&p, &c, e, &ct),
            RecordId::from_bytes(minimis_crypto::sha256(&input))
        );
        // The same bytes as an envelope have another id (CHK-12).
        let env = minimis_proto::Envelope {
            pseudonym: p,
            challenge_id: c,
            epoch: e,
            ciphertext: ct.clone(),
            signature: Signature([0; 64]),
        };
        assert_ne!(env.record_id(), sealed_text_id(&p, &c, e, &ct));
    }
}
