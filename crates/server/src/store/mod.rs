//! What the operator stores, behind a trait, so that a backend with replication (such as
//! PostgreSQL) can follow the SQLite one. Every backend must pass [`conformance`].
//!
//! The operator stores: enrolled participants (pseudonym, device public key, tag key,
//! schedule), the compliance ledger (one row per challenge: its window and state, no
//! content), sealed check-ins it cannot open, the custodians' signed epoch recipients,
//! legal holds, and the transparency log's tiles. Nothing else: no address, no user agent,
//! no time a check-in arrived (the ledger state says all that is needed: on time or late).
//!
//! A write happens inside [`Store::begin`] … [`Store::commit`]; the log's tiles are
//! written through [`Store::tiles`] inside the same transaction, so a batch's records,
//! ledger rows and log entries become durable together, or not at all.

pub mod conformance;
pub mod sqlite;

use std::fmt;

use minimis_log::TileStorage;
use minimis_proto::{
    ChallengeId, EpochId, Pseudonym, PublicKey, RecordId, Schedule, SealedCheckIn, Signature,
    SignedChallenge, SignedEpochRecipient, Slot, UnixTime,
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
}

impl fmt::Debug for ParticipantRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParticipantRow")
            .field("pseudonym", &self.pseudonym)
            .field("device_key", &self.device_key)
            .field("tag_key", &"<redacted>")
            .field("schedule", &self.schedule)
            .field("closed_at", &self.closed_at)
            .finish_non_exhaustive()
    }
}

/// Why an officer excused, or did not excuse, a row (spec/failure.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// The app, the network or the device failed.
    ExcusedTechnical,
    /// A reason the officer accepts (illness, a hearing).
    ExcusedOther,
    /// Not excused: the only state that can support an adverse decision, set by a person.
    NotExcused,
}

impl Resolution {
    fn code(self) -> i64 {
        match self {
            Self::ExcusedTechnical => 1,
            Self::ExcusedOther => 2,
            Self::NotExcused => 3,
        }
    }

    fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            1 => Self::ExcusedTechnical,
            2 => Self::ExcusedOther,
            3 => Self::NotExcused,
            _ => return None,
        })
    }
}

/// The state of a ledger row (spec/failure.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "resolution")]
pub enum LedgerState {
    /// Issued; its window (and grace period) has not ended and no check-in arrived.
    Open,
    /// A valid check-in arrived inside the window.
    OnTime,
    /// A valid check-in arrived after the window, within the grace period.
    Late,
    /// No valid check-in by the end of the grace period: for a person to review. Never a
    /// violation by itself (CHK-20).
    PendingReview,
    /// An officer reviewed the row.
    Resolved(Resolution),
}

impl LedgerState {
    /// The code stored in the database.
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Open => 0,
            Self::OnTime => 1,
            Self::Late => 2,
            Self::PendingReview => 3,
            Self::Resolved(r) => 10 + r.code(),
        }
    }

    pub(crate) fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => Self::Open,
            1 => Self::OnTime,
            2 => Self::Late,
            3 => Self::PendingReview,
            c if c > 10 => Self::Resolved(Resolution::from_code(c - 10)?),
            _ => return None,
        })
    }
}

/// A technical-failure report's category (CHK-23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCategory {
    /// No network.
    NoNetwork,
    /// The app failed.
    AppError,
    /// The device failed.
    DeviceError,
    /// The presence check could not run.
    PresenceUnavailable,
    /// Something else.
    Other,
}

impl FailureCategory {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::NoNetwork => 1,
            Self::AppError => 2,
            Self::DeviceError => 3,
            Self::PresenceUnavailable => 4,
            Self::Other => 5,
        }
    }

    pub(crate) fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            1 => Self::NoNetwork,
            2 => Self::AppError,
            3 => Self::DeviceError,
            4 => Self::PresenceUnavailable,
            5 => Self::Other,
            _ => return None,
        })
    }
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
    /// A technical-failure report the participant filed, if any.
    pub failure_report: Option<FailureCategory>,
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

/// Writing, by the server's single writer.
pub trait Store: StoreRead {
    /// The log's tile storage, sharing the writer's transaction.
    type Tiles: TileStorage + 'static;

    /// A tile-storage handle for the log.
    fn tiles(&self) -> Self::Tiles;

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

    /// Attaches a technical-failure report to a ledger row.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn set_failure_report(
        &mut self,
        id: &ChallengeId,
        category: FailureCategory,
    ) -> Result<(), StoreError>;

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

    /// Deletes an epoch's records that are not under a hold lasting past `now`, and returns
    /// their ids. Idempotent: a second call returns nothing.
    ///
    /// # Errors
    /// [`StoreError`].
    fn purge_epoch(&mut self, epoch: EpochId, now: UnixTime) -> Result<Vec<RecordId>, StoreError>;

    /// Deletes participants whose enrollment closed before `before`, with their ledger
    /// rows, and returns their pseudonyms.
    ///
    /// # Errors
    /// [`StoreError`].
    fn purge_closed_before(&mut self, before: UnixTime) -> Result<Vec<Pseudonym>, StoreError>;
}
