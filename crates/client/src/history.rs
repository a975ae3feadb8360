//! The participant's own record, at any time (**ACC-11**).
//!
//! [`Device::history`] puts together, for the participant to read:
//!
//! - their check-ins, from the device's own copy, each with its receipt as verified on
//!   the device (witnessed or provisional, CHK-32) and where its entry is in the log;
//! - their ledger as the operator holds it (`GET /v1/participants/{pseudonym}/ledger`, a
//!   request signed with the device key, CHK-13);
//! - what the **public log** says about them, found through their own per-epoch tags
//!   (ENR-3): every challenge issued to them, their check-ins received, the resolutions of
//!   their rows, their enrollment opened and closed, and every access to, refusal of
//!   access to and legal hold on their records (matched by record id, since an access
//!   entry names records, not people), with the purges and key destructions of the epochs
//!   they have records in;
//! - what the device refused and why, the failures it recorded, and how many location
//!   fixes it ever took;
//! - anything that does not add up ([`Discrepancy`]).
//!
//! The log is not taken on the operator's word. The device reads the log as any C2SP
//! tlog-tiles client does (`GET /v1/log/checkpoint`, then the entry bundles) and:
//!
//! 1. verifies the checkpoint under the log key fixed at enrollment (LOG-11, LOG-13);
//! 2. hashes every entry it reads into the tree and checks that the tree's root is the
//!    checkpoint's, so no entry can be left out, added or changed (RFC 9162 §2.1.1);
//! 3. reads only the entries appended since its last look, continuing the tree from the
//!    [`LogView`] it keeps in its store (the hashes of the perfect subtrees that make up
//!    the tree it last verified, one per set bit of the size). A log that rewrote any
//!    entry the device has seen cannot reach the new checkpoint's root from that view;
//! 4. checks that every checkpoint it holds from its receipts is a checkpoint of the same
//!    tree: its root is compared with the tree's root at its size while the device reads
//!    through that size, or, for a receipt kept after the device read past it, checked
//!    with a consistency proof read from the log's hash tiles (RFC 9162 §2.1.4.2).
//!
//! A smaller tree than one the device already holds proof of is a rollback, two roots
//! for one size a split view; both are errors ([`HistoryError`]), and nothing of the view
//! changes.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};

use minimis_log::checkpoint::OpenCheckpointError;
use minimis_log::follow::{FollowerState, FollowerStateError, FrontierState};
use minimis_log::tiles::{BundleError, BundleId, TILE_WIDTH, TileId, TileStorage};
use minimis_log::verify::Hash;
use minimis_log::{
    AdvanceError, CatchUp, EntryDecodeError, Follower, Frontier, LogEntry, LogReader, ProofError,
    SignedCheckpoint, TileReadError, TlogProof,
};
use minimis_proto::{
    ChallengeId, ChallengeKind, EpochId, ParticipantTag, PolicyHash, PresenceResult, Pseudonym,
    RecordId, UnixTime, ZoneResult,
};
use serde::Serialize;
use subtle::ConstantTimeEq as _;

use crate::api::{Api, ApiError, LedgerRow};
use crate::device::{Device, Failure, Refusal, Refused};
use crate::transport::Transport;
use crate::words;

/// The most hash tiles one consistency proof may need fetched.
const MAX_TILE_FETCHES: usize = 128;

/// What the device has verified of the public log, kept in its store so that each look
/// reads only the entries appended since the last.
///
/// It holds the tree size, the hashes of the perfect subtrees that make up the tree at
/// that size (one per set bit of the size, largest first), the checkpoint that signed it,
/// the tree heads the device checked (its receipts' checkpoints and its own looks), and
/// the entries about the participant found so far, with their indices. Nothing in it is
/// secret, but the entries are the participant's: it lives in the encrypted store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogView {
    pub(crate) frontier: Frontier,
    pub(crate) checkpoint: Option<String>,
    pub(crate) heads: Vec<(u64, Hash)>,
    pub(crate) found: Vec<(u64, Vec<u8>)>,
}

impl LogView {
    /// The size of the tree the device verified last.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of that tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The tree heads the device has checked, as (size, root).
    pub fn heads(&self) -> &[(u64, Hash)] {
        &self.heads
    }

    /// Rebuilds a view from its stored parts; `None` if the frontier does not fit the
    /// size (one hash per set bit).
    pub(crate) fn from_parts(
        size: u64,
        frontier: Vec<Hash>,
        checkpoint: Option<String>,
        heads: Vec<(u64, Hash)>,
        found: Vec<(u64, Vec<u8>)>,
    ) -> Option<Self> {
        Some(Self {
            frontier: Frontier::from_parts(size, frontier).ok()?,
            checkpoint,
            heads,
            found,
        })
    }

    /// The log follower this view is the state of (LOG-50): the pinned checkpoint and
    /// the frontier of its tree, re-verified under the enrolled log key.
    fn follower(&self, log_key: &minimis_log::VerifierKey) -> Result<Follower, HistoryError> {
        Follower::from_state(
            log_key.clone(),
            Vec::new(),
            &FollowerState {
                checkpoint: self.checkpoint.clone(),
                frontier: Some(FrontierState::from(&self.frontier)),
            },
        )
        .map_err(HistoryError::Store)
    }
}

/// Why the participant's record could not be put together. Nothing the device holds
/// changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The operator could not be reached or refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The log's checkpoint does not verify under the log key fixed at enrollment.
    #[error("the log's checkpoint does not verify under the enrolled log key: {0}")]
    Checkpoint(#[source] OpenCheckpointError),
    /// The log shows a smaller tree than one the device already holds proof of.
    #[error(
        "the log shows {served} entries, fewer than the {held} this device already holds proof of (a rollback)"
    )]
    Rollback {
        /// The size the device holds proof of.
        held: u64,
        /// The size the log served.
        served: u64,
    },
    /// Two different trees of the same size: one the device holds (from a receipt or an
    /// earlier look), and the one the log serves now.
    #[error("the log shows two different trees of {size} entries (a split view)")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The entries the log serves do not hash to its signed checkpoint, continued from
    /// what the device verified before: an entry was changed, left out or added, or the
    /// log no longer extends the tree the device saw.
    #[error("the log's entries do not hash to its signed checkpoint of {size} entries")]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// An entry bundle or hash tile the checkpoint requires is not served.
    #[error("the log does not serve {path}")]
    Missing {
        /// Its path under `/v1/log/`.
        path: String,
    },
    /// An entry bundle is malformed.
    #[error("{path}: {error}")]
    Bundle {
        /// Its path.
        path: String,
        /// What is wrong.
        error: BundleError,
    },
    /// An entry is in the tree but is not a valid entry (LOG-26).
    #[error("entry {index} of the log is not a valid entry: {error}")]
    Entry {
        /// Its index.
        index: u64,
        /// What is wrong.
        error: EntryDecodeError,
    },
    /// A consistency proof could not be read from the log's hash tiles.
    #[error("a consistency proof cannot be read from the log's tiles: {0}")]
    Tiles(String),
    /// A receipt the device kept no longer verifies (a damaged store).
    #[error("a kept receipt does not verify: {0}")]
    Receipt(String),
    /// The view of the log the device kept does not verify (a damaged store).
    #[error("the device's stored view of the log does not verify: {0}")]
    Store(#[source] FollowerStateError),
    /// The log follower refused the checkpoint for another reason.
    #[error("the log follower refused the checkpoint: {0}")]
    Follow(#[source] AdvanceError),
}

impl From<AdvanceError> for HistoryError {
    fn from(e: AdvanceError) -> Self {
        match e {
            AdvanceError::Checkpoint(e) => Self::Checkpoint(e),
            AdvanceError::Rollback {
                pinned, offered, ..
            } => Self::Rollback {
                held: pinned,
                served: offered,
            },
            AdvanceError::SplitView { size, .. } => Self::SplitView { size },
            AdvanceError::Inconsistent { pinned, .. } => Self::SplitView { size: pinned },
            AdvanceError::RootMismatch { size } => Self::RootMismatch { size },
            // The device requires no cosignature to read its history, keeps its
            // frontier, and gives no proof of its own: the rest cannot happen here.
            e => Self::Follow(e),
        }
    }
}

/// Where the log stands, as the device verified it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogState {
    /// Whether the device read the log just now; if not, this is what it verified at its
    /// last look ([`Device::history_offline`]).
    pub checked_now: bool,
    /// The tree size of the checkpoint the device verified.
    pub size: u64,
    /// Its root hash, hex.
    pub root: String,
    /// Whether the checkpoint carries a valid cosignature of every witness the device
    /// was enrolled with (false when it was enrolled with none).
    pub witnessed: bool,
    /// How many entries the device read this time (those appended since its last look).
    pub entries_read: u64,
    /// How many of the device's receipts' checkpoints were checked against this tree.
    pub receipts_checked: usize,
}

/// What a check-in's receipt proves, on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptState {
    /// Verified, with every required witness's cosignature (CHK-32).
    Witnessed,
    /// Verified under the log's key; the witness's cosignature is still to come.
    Provisional,
    /// No receipt: the server's answer never arrived.
    Missing,
}

/// One of the participant's check-ins, from the device's own copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckInRecord {
    /// The record id (CHK-12).
    pub record_id: RecordId,
    /// The challenge it answered.
    pub challenge: ChallengeId,
    /// The epoch it was sealed to.
    pub epoch: EpochId,
    /// What the device said: `None` once the device deleted its copy of the content at
    /// the epoch's content deadline (RET-23).
    pub content: Option<Content>,
    /// When the device deleted its copy of the content, if it did.
    pub content_deleted_at: Option<UnixTime>,
    /// The receipt.
    pub receipt: ReceiptState,
    /// The index of its `check-in received` entry in the log, if the device found it.
    pub log_index: Option<u64>,
}

/// A check-in's content, as the device sealed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Content {
    /// The zone result.
    pub zone: ZoneResult,
    /// The presence result.
    pub presence: PresenceResult,
    /// The device's time.
    pub device_time: UnixTime,
    /// The note.
    pub note: String,
}

/// What the device did with a challenge the log shows was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDevice {
    /// The device answered it.
    Answered,
    /// The device accepted it and has not answered (yet).
    Accepted,
    /// The device refused it; [`History::refused`] says why.
    Refused,
    /// The device never received it.
    NotReceived,
}

/// An entry of the public log about the participant, with its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Its index in the log.
    pub index: u64,
    /// What it says.
    #[serde(flatten)]
    pub entry: FoundEntry,
}

/// What a log entry about the participant says. Entries that name records list only the
/// participant's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FoundEntry {
    /// The participant was enrolled under a policy.
    EnrollmentOpened {
        /// The epoch.
        epoch: EpochId,
        /// The policy's hash.
        policy: PolicyHash,
    },
    /// The enrollment was closed.
    EnrollmentClosed {
        /// The epoch.
        epoch: EpochId,
    },
    /// A challenge was issued to the participant.
    ChallengeIssued {
        /// The challenge.
        challenge: ChallengeId,
        /// The epoch.
        epoch: EpochId,
        /// Scheduled or ad hoc.
        kind: ChallengeKind,
        /// When it was issued.
        issued_at: UnixTime,
        /// When its window opened.
        window_start: UnixTime,
        /// When its window closed.
        window_end: UnixTime,
        /// What the device did with it.
        on_device: OnDevice,
    },
    /// A check-in of the participant's was received.
    CheckInReceived {
        /// The record.
        record: RecordId,
        /// The challenge it answers.
        challenge: ChallengeId,
        /// The epoch.
        epoch: EpochId,
        /// Whether this device sent it.
        sent_by_this_device: bool,
    },
    /// A custodian granted access to records of the participant's, before opening them.
    ContentAccessed {
        /// The custodian.
        custodian: String,
        /// The officer who asked.
        officer: String,
        /// The purpose.
        purpose: String,
        /// The legal basis.
        legal_basis: String,
        /// The epoch.
        epoch: EpochId,
        /// The participant's records it names.
        records: Vec<RecordId>,
    },
    /// A custodian refused access to records of the participant's.
    AccessDenied {
        /// The custodian.
        custodian: String,
        /// The officer who asked.
        officer: String,
        /// The purpose asked for.
        purpose: String,
        /// The legal basis asked for.
        legal_basis: String,
        /// The epoch.
        epoch: EpochId,
        /// The participant's records it names.
        records: Vec<RecordId>,
        /// The reason code (access.md § Errors).
        reason: String,
    },
    /// An officer resolved a row of the participant's ledger.
    RowResolved {
        /// The row's challenge.
        challenge: ChallengeId,
        /// The epoch.
        epoch: EpochId,
        /// The resolution.
        resolution: String,
        /// What it rests on.
        reason: String,
    },
    /// The operator deleted the participant's ledger, schedule, pseudonym and keys.
    LedgerPurged {
        /// The epoch the enrollment closed in.
        epoch: EpochId,
        /// When.
        purged_at: UnixTime,
    },
    /// The operator deleted the sealed records of an epoch the participant has records
    /// in.
    RecordsPurged {
        /// The epoch.
        epoch: EpochId,
        /// How many records (everyone's).
        count: u64,
        /// When.
        purged_at: UnixTime,
    },
    /// A custodian destroyed its key for an epoch the participant has records in.
    EpochKeyDestroyed {
        /// The custodian.
        custodian: String,
        /// The epoch.
        epoch: EpochId,
        /// When.
        destroyed_at: UnixTime,
    },
    /// A legal hold was placed on records of the participant's.
    LegalHoldPlaced {
        /// The participant's records it names.
        records: Vec<RecordId>,
        /// Its legal basis.
        legal_basis: String,
        /// Until when.
        expires: UnixTime,
    },
    /// A legal hold on records of the participant's was released.
    LegalHoldReleased {
        /// The participant's records it names.
        records: Vec<RecordId>,
        /// Its legal basis.
        legal_basis: String,
        /// Until when it was placed.
        expires: UnixTime,
    },
}

/// Something that does not add up: evidence for the participant, their lawyer or the
/// oversight body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Discrepancy {
    /// A check-in in the log under the participant's tag that this device did not send.
    CheckInNotSent {
        /// Its index in the log.
        index: u64,
        /// The record.
        record: RecordId,
    },
    /// A challenge the operator signed for the participant (the device received it, or
    /// the ledger holds it) with no `challenge issued` entry in the log, though the
    /// server commits that entry before the challenge can be fetched (CHL-7).
    ChallengeNotLogged {
        /// The challenge.
        challenge: ChallengeId,
    },
    /// An enrollment in the log under the participant's tag that cites a policy other
    /// than the one the device was enrolled under (ENR-4).
    OtherPolicy {
        /// Its index in the log.
        index: u64,
        /// The policy it cites.
        policy: PolicyHash,
    },
    /// A row of the ledger the operator serves whose challenge is not signed by the
    /// operator for this participant.
    LedgerRowNotMine {
        /// The row's challenge id.
        challenge: ChallengeId,
    },
}

/// Everything the participant can see about themselves (ACC-11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct History {
    /// The participant's pseudonym.
    pub pseudonym: Pseudonym,
    /// The hash of the policy the device was enrolled under.
    pub policy: PolicyHash,
    /// The schedule's IANA time zone, in which times are shown.
    pub time_zone: String,
    /// The log, as verified.
    pub log: LogState,
    /// The device's check-ins, oldest first.
    pub check_ins: Vec<CheckInRecord>,
    /// The ledger, as the operator holds it; `None` when the device did not ask
    /// ([`Device::history_offline`]).
    pub ledger: Option<Vec<LedgerRow>>,
    /// The log's entries about the participant, in log order.
    pub found: Vec<Found>,
    /// The refused challenges the device kept as evidence, with why (CHL-13).
    pub refused: Vec<Refused>,
    /// Every refusal, counted by reason (CHL-13).
    pub refusals: BTreeMap<Refusal, u64>,
    /// Failures recorded on the device.
    pub failures: Vec<Failure>,
    /// How many location fixes the device ever took.
    pub location_fixes_taken: u64,
    /// What does not add up.
    pub discrepancies: Vec<Discrepancy>,
    /// When each epoch named above starts, under the enrolled policy: epochs are shown to
    /// the participant as the week (or period) starting then.
    pub epochs: BTreeMap<EpochId, UnixTime>,
}

/// Finds the participant's entries: by tag for those that carry one, by record id for
/// those that name records, by epoch for purges and key destructions.
struct Matcher<'a> {
    device: &'a Device,
    tags: HashMap<EpochId, ParticipantTag>,
    records: HashSet<RecordId>,
    epochs: BTreeSet<EpochId>,
}

impl<'a> Matcher<'a> {
    fn new(device: &'a Device) -> Self {
        let mut m = Self {
            device,
            tags: HashMap::new(),
            records: HashSet::new(),
            epochs: BTreeSet::new(),
        };
        for s in device.all_check_ins() {
            m.records.insert(s.0);
            m.epochs.insert(s.1);
        }
        m
    }

    fn is_mine(&mut self, tag: &ParticipantTag, epoch: EpochId) -> bool {
        let device = self.device;
        let mine = self.tags.entry(epoch).or_insert_with(|| device.tag(epoch));
        bool::from(mine.as_bytes().ct_eq(tag.as_bytes()))
    }

    fn names_mine(&self, records: &[RecordId]) -> bool {
        records.iter().any(|r| self.records.contains(r))
    }

    /// Whether the entry concerns the participant; learns their records and epochs from
    /// their check-ins.
    fn observe(&mut self, entry: &LogEntry) -> bool {
        match entry {
            LogEntry::EnrollmentOpened { tag, epoch, .. }
            | LogEntry::EnrollmentClosed { tag, epoch }
            | LogEntry::ChallengeIssued { tag, epoch, .. }
            | LogEntry::RowResolved { tag, epoch, .. }
            | LogEntry::LedgerPurged { tag, epoch, .. } => self.is_mine(tag, *epoch),
            LogEntry::CheckInReceived {
                tag, record, epoch, ..
            } => {
                let mine = self.is_mine(tag, *epoch);
                if mine {
                    self.records.insert(*record);
                    self.epochs.insert(*epoch);
                }
                mine
            }
            LogEntry::ContentAccessed(a) | LogEntry::AccessDenied { access: a, .. } => {
                self.names_mine(a.records.as_slice())
            }
            LogEntry::LegalHoldPlaced(h) | LogEntry::LegalHoldReleased(h) => {
                self.names_mine(h.records.as_slice())
            }
            LogEntry::RecordsPurged { epoch, .. } | LogEntry::EpochKeyDestroyed { epoch, .. } => {
                self.epochs.contains(epoch)
            }
            _ => false,
        }
    }

    fn mine_of(&self, records: &[RecordId]) -> Vec<RecordId> {
        records
            .iter()
            .filter(|r| self.records.contains(*r))
            .copied()
            .collect()
    }
}

/// Reads entries onward from a view: hashes each into the tree, checks the receipts'
/// tree heads as it passes their sizes, and keeps the participant's entries.
struct Scan<'a> {
    catch: CatchUp,
    pending: Vec<(u64, Hash)>,
    checked: Vec<(u64, Hash)>,
    matcher: Matcher<'a>,
    found: Vec<(u64, Vec<u8>)>,
    read: u64,
}

impl Scan<'_> {
    fn push(&mut self, index: u64, bytes: &[u8]) -> Result<(), HistoryError> {
        self.catch.push(bytes);
        self.read += 1;
        let size = self.catch.size();
        if self.pending.iter().any(|(s, _)| *s == size) {
            let root = self.catch.root();
            for (s, r) in self.pending.iter().filter(|(s, _)| *s == size) {
                if *r != root {
                    return Err(HistoryError::SplitView { size: *s });
                }
                self.checked.push((*s, *r));
            }
        }
        let entry =
            LogEntry::decode(bytes).map_err(|error| HistoryError::Entry { index, error })?;
        if self.matcher.observe(&entry) {
            self.found.push((index, bytes.to_vec()));
        }
        Ok(())
    }
}

/// The hash tiles fetched for a consistency proof, as a read-only [`TileStorage`].
struct Fetched<'a> {
    checkpoint: &'a str,
    tiles: &'a HashMap<TileId, Vec<u8>>,
}

/// A [`Fetched`] storage is read-only.
#[derive(Debug, thiserror::Error)]
#[error("the fetched tiles are read-only")]
struct ReadOnly;

impl TileStorage for Fetched<'_> {
    type Error = ReadOnly;

    fn write_tile(&mut self, _: TileId, _: &[u8]) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_tile(&self, tile: TileId) -> Result<Option<Cow<'_, [u8]>>, ReadOnly> {
        Ok(self.tiles.get(&tile).map(|d| Cow::Borrowed(d.as_slice())))
    }

    fn write_bundle(&mut self, _: BundleId, _: &[u8]) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_bundle(&self, _: BundleId) -> Result<Option<Cow<'_, [u8]>>, ReadOnly> {
        Ok(None)
    }

    fn write_checkpoint(&mut self, _: &str) -> Result<(), ReadOnly> {
        Err(ReadOnly)
    }

    fn read_checkpoint(&self) -> Result<Option<Cow<'_, str>>, ReadOnly> {
        Ok(Some(Cow::Borrowed(self.checkpoint)))
    }
}

/// Fetches a tile or bundle by its path, falling back, for a partial one the log no
/// longer serves, to the full one that replaced it (C2SP tlog-tiles), cut to `bytes` if
/// given (a hash tile's length).
async fn fetch<T: Transport>(
    api: &Api<T>,
    path: String,
    full: Option<String>,
) -> Result<Vec<u8>, HistoryError> {
    if let Some(d) = api.log_resource(&path).await? {
        return Ok(d);
    }
    if let Some(full) = full
        && let Some(d) = api.log_resource(&full).await?
    {
        return Ok(d);
    }
    Err(HistoryError::Missing { path })
}

async fn fetch_bundle<T: Transport>(
    api: &Api<T>,
    index: u64,
    width: u16,
) -> Result<Vec<Vec<u8>>, HistoryError> {
    let id = BundleId::new(index, width).map_err(|e| HistoryError::Tiles(e.to_string()))?;
    let full = BundleId::new(index, TILE_WIDTH).map_err(|e| HistoryError::Tiles(e.to_string()))?;
    let path = id.path();
    let data = fetch(api, path.clone(), (!id.is_full()).then(|| full.path())).await?;
    // A server may answer with a wider version of a partial bundle (or the full one that
    // replaced it): its first `width` entries are the narrower one's. What they say is
    // checked against the checkpoint's root either way.
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data.as_slice();
    while !rest.is_empty() && entries.len() < usize::from(width) {
        let entry = entries.len();
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(HistoryError::Bundle {
                path,
                error: BundleError::Truncated { entry },
            });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let Some((e, tail)) = tail.split_at_checked(len) else {
            return Err(HistoryError::Bundle {
                path,
                error: BundleError::Truncated { entry },
            });
        };
        entries.push(e.to_vec());
        rest = tail;
    }
    if entries.len() < usize::from(width) {
        return Err(HistoryError::Bundle {
            path,
            error: BundleError::EntryCount {
                expected: width,
                found: entries.len(),
            },
        });
    }
    Ok(entries)
}

async fn fetch_tile<T: Transport>(api: &Api<T>, tile: TileId) -> Result<Vec<u8>, HistoryError> {
    let full = TileId::new(tile.level(), tile.index(), TILE_WIDTH)
        .map_err(|e| HistoryError::Tiles(e.to_string()))?;
    let mut data = fetch(api, tile.path(), (!tile.is_full()).then(|| full.path())).await?;
    if data.len() < tile.byte_len() {
        return Err(HistoryError::Tiles(format!("{} is too short", tile.path())));
    }
    data.truncate(tile.byte_len());
    Ok(data)
}

/// Checks that the tree head (`first`, `first_root`) is consistent with the verified
/// checkpoint `checkpoint` (of `second` entries and `second_root`), with a consistency
/// proof read from the log's hash tiles.
async fn check_consistent<T: Transport>(
    api: &Api<T>,
    device: &Device,
    checkpoint: &str,
    first: (u64, Hash),
    second: (u64, Hash),
) -> Result<(), HistoryError> {
    let mut tiles: HashMap<TileId, Vec<u8>> = HashMap::new();
    for _ in 0..MAX_TILE_FETCHES {
        let missing = {
            let reader = LogReader::open(
                Fetched {
                    checkpoint,
                    tiles: &tiles,
                },
                &device.enrollment.log_key,
            )
            .map_err(|e| HistoryError::Tiles(e.to_string()))?;
            match reader.consistency_proof(first.0, second.0) {
                Ok(proof) => {
                    return proof
                        .verify(&first.1, &second.1)
                        .map_err(|_| HistoryError::SplitView { size: first.0 });
                }
                Err(ProofError::Tiles(TileReadError::Missing { tile })) => tile,
                Err(e) => return Err(HistoryError::Tiles(e.to_string())),
            }
        };
        let data = fetch_tile(api, missing).await?;
        tiles.insert(missing, data);
    }
    Err(HistoryError::Tiles("too many tiles".into()))
}

impl Device {
    /// The tree heads of the checkpoints the device holds from its receipts.
    fn receipt_heads(&self) -> Result<Vec<(u64, Hash)>, HistoryError> {
        let mut heads = Vec::new();
        for r in self.all_receipts() {
            let proof = TlogProof::parse(r.tlog_proof.as_bytes())
                .map_err(|e| HistoryError::Receipt(e.to_string()))?;
            let cp = SignedCheckpoint::open(
                proof.checkpoint_text().as_bytes(),
                &self.enrollment.log_key,
            )
            .map_err(|e| HistoryError::Receipt(e.to_string()))?;
            let head = (cp.checkpoint().tree_size(), *cp.checkpoint().root_hash());
            if !heads.contains(&head) {
                heads.push(head);
            }
        }
        Ok(heads)
    }

    /// Puts together everything the participant can see about themselves (**ACC-11**):
    /// their check-ins from the device's copy with their receipts, their ledger as the
    /// operator holds it, and what the public log says about them, found through their
    /// own tags and record ids; see the [module documentation](crate::history).
    ///
    /// The device first fetches the ledger (a signed request, so `now` must be within
    /// 300 seconds of the server's clock), then the log's checkpoint, so that every
    /// challenge the ledger holds must already be in the log it reads (CHL-7). It reads
    /// only the entries appended since its last look, and keeps what it verified for the
    /// next one ([`Device::log_view`]); save the device's store afterwards.
    ///
    /// # Errors
    /// A [`HistoryError`]; then nothing the device holds changed.
    pub async fn history<T: Transport>(
        &mut self,
        api: &Api<T>,
        now: UnixTime,
    ) -> Result<History, HistoryError> {
        let ledger = api.ledger(self, now).await?;
        let text = api.checkpoint().await?;
        let view = self.log_view.clone();
        // The log key's signature, no rollback, no other root for the size verified
        // last: the follower checks it (LOG-51 to LOG-53).
        let catch = view.follower(&self.enrollment.log_key)?.catch_up(&text)?;
        let cp = catch.checkpoint();
        let text = cp.to_string();
        let size = cp.checkpoint().tree_size();
        let root = *cp.checkpoint().root_hash();
        let witnessed = match &self.enrollment.tlog_policy {
            Some(p) => p.verify_quorum(cp).is_ok(),
            None => {
                !self.enrollment.witnesses.is_empty()
                    && cp.verify_cosignatures(&self.enrollment.witnesses).is_ok()
            }
        };

        let heads = self.receipt_heads()?;
        if let Some((held, _)) = heads.iter().find(|(s, _)| *s > size) {
            return Err(HistoryError::Rollback {
                held: *held,
                served: size,
            });
        }
        let (ahead, behind): (Vec<_>, Vec<_>) =
            heads.into_iter().partition(|(s, _)| *s > view.size());

        // Read the entries appended since the last look, continuing the verified tree.
        let mut scan = Scan {
            catch,
            pending: ahead,
            checked: Vec::new(),
            matcher: Matcher::new(self),
            found: Vec::new(),
            read: 0,
        };
        for (_, bytes) in &view.found {
            if let Ok(e) = LogEntry::decode(bytes) {
                scan.matcher.observe(&e);
            }
        }
        let from = view.size();
        let tile_width = u64::from(TILE_WIDTH);
        for b in from / tile_width..size.div_ceil(tile_width) {
            // At most 256, so the cast is exact.
            let width = (size - b * tile_width).min(tile_width) as u16;
            let entries = fetch_bundle(api, b, width).await?;
            for (i, e) in entries.iter().enumerate() {
                let index = b * tile_width + i as u64;
                if index >= from {
                    scan.push(index, e)?;
                }
            }
        }
        let Scan {
            catch,
            mut checked,
            found: new_found,
            read,
            matcher,
            pending: _,
        } = scan;
        drop(matcher);
        // The entries read hash to the checkpoint's root (LOG-54).
        let follower = catch.finish()?;
        let frontier = follower.frontier().cloned().unwrap_or_default();

        // Receipts kept after the device read past their size: a consistency proof.
        for head in behind {
            if view.heads.contains(&head) {
                checked.push(head);
                continue;
            }
            if view.heads.iter().any(|(s, _)| *s == head.0) {
                return Err(HistoryError::SplitView { size: head.0 });
            }
            if head.0 == 0 {
                continue;
            }
            check_consistent(api, self, &text, head, (size, root)).await?;
            checked.push(head);
        }

        // Everything verified: keep the new view.
        let receipts_checked = checked.len();
        let mut heads = view.heads;
        for h in checked.into_iter().chain(std::iter::once((size, root))) {
            if !heads.contains(&h) {
                heads.push(h);
            }
        }
        // Keep the receipts' heads and the latest look; older looks are implied by it.
        let receipt_sizes: Vec<(u64, Hash)> = self.receipt_heads()?;
        heads.retain(|h| receipt_sizes.contains(h) || *h == (size, root));
        let mut found = view.found;
        found.extend(new_found);
        self.log_view = LogView {
            frontier,
            checkpoint: Some(text),
            heads,
            found,
        };
        Ok(self.compile(
            Some(ledger),
            LogState {
                checked_now: true,
                size,
                root: root.to_hex(),
                witnessed,
                entries_read: read,
                receipts_checked,
            },
        ))
    }

    /// What the participant can see without a connection: the device's own copy, and the
    /// log's entries about them as the device verified them at its last look
    /// ([`Device::history`]); no ledger.
    pub fn history_offline(&self) -> History {
        let v = &self.log_view;
        self.compile(
            None,
            LogState {
                checked_now: false,
                size: v.size(),
                root: v.root().to_hex(),
                witnessed: false,
                entries_read: 0,
                receipts_checked: 0,
            },
        )
    }

    /// The history from what the device holds and the ledger fetched.
    fn compile(&self, ledger: Option<Vec<LedgerRow>>, log: LogState) -> History {
        let e = &self.enrollment;
        let mut matcher = Matcher::new(self);
        let mut found = Vec::new();
        let mut discrepancies = Vec::new();
        let sent: HashSet<RecordId> = self.all_check_ins().map(|c| c.0).collect();
        let answered: HashSet<ChallengeId> = self.all_check_ins().map(|c| c.2).collect();
        let refused: HashSet<ChallengeId> = self
            .refusals
            .kept()
            .iter()
            .map(|r| r.challenge.challenge.id)
            .collect();
        let accepted: HashSet<ChallengeId> = self
            .accepted
            .iter()
            .map(|t| t.signed.challenge.id)
            .collect();
        let mut logged_records: HashMap<RecordId, u64> = HashMap::new();
        let mut issued: HashSet<ChallengeId> = HashSet::new();
        for (index, bytes) in &self.log_view.found {
            let Ok(entry) = LogEntry::decode(bytes) else {
                continue;
            };
            // Learn records and epochs in log order, as the scan did.
            matcher.observe(&entry);
            let index = *index;
            let f = match entry {
                LogEntry::EnrollmentOpened { epoch, policy, .. } => {
                    if policy != e.policy.hash() {
                        discrepancies.push(Discrepancy::OtherPolicy { index, policy });
                    }
                    FoundEntry::EnrollmentOpened { epoch, policy }
                }
                LogEntry::EnrollmentClosed { epoch, .. } => FoundEntry::EnrollmentClosed { epoch },
                LogEntry::ChallengeIssued {
                    challenge,
                    epoch,
                    kind,
                    issued_at,
                    window,
                    ..
                } => {
                    issued.insert(challenge);
                    let on_device = if answered.contains(&challenge) {
                        OnDevice::Answered
                    } else if refused.contains(&challenge) {
                        OnDevice::Refused
                    } else if accepted.contains(&challenge) {
                        OnDevice::Accepted
                    } else {
                        OnDevice::NotReceived
                    };
                    FoundEntry::ChallengeIssued {
                        challenge,
                        epoch,
                        kind,
                        issued_at,
                        window_start: window.start,
                        window_end: window.end,
                        on_device,
                    }
                }
                LogEntry::CheckInReceived {
                    record,
                    challenge,
                    epoch,
                    ..
                } => {
                    logged_records.insert(record, index);
                    let mine = sent.contains(&record);
                    if !mine {
                        discrepancies.push(Discrepancy::CheckInNotSent { index, record });
                    }
                    FoundEntry::CheckInReceived {
                        record,
                        challenge,
                        epoch,
                        sent_by_this_device: mine,
                    }
                }
                LogEntry::ContentAccessed(a) => FoundEntry::ContentAccessed {
                    custodian: a.custodian.to_string(),
                    officer: a.officer.to_string(),
                    purpose: a.purpose.to_string(),
                    legal_basis: a.legal_basis.to_string(),
                    epoch: a.epoch,
                    records: matcher.mine_of(a.records.as_slice()),
                },
                LogEntry::AccessDenied { access: a, reason } => FoundEntry::AccessDenied {
                    custodian: a.custodian.to_string(),
                    officer: a.officer.to_string(),
                    purpose: a.purpose.to_string(),
                    legal_basis: a.legal_basis.to_string(),
                    epoch: a.epoch,
                    records: matcher.mine_of(a.records.as_slice()),
                    reason: reason.as_str().to_owned(),
                },
                LogEntry::RowResolved {
                    challenge,
                    epoch,
                    resolution,
                    reason,
                    ..
                } => FoundEntry::RowResolved {
                    challenge,
                    epoch,
                    resolution: resolution.as_str().to_owned(),
                    reason: reason.as_str().to_owned(),
                },
                LogEntry::LedgerPurged {
                    epoch, purged_at, ..
                } => FoundEntry::LedgerPurged { epoch, purged_at },
                LogEntry::RecordsPurged {
                    epoch,
                    count,
                    purged_at,
                    ..
                } => FoundEntry::RecordsPurged {
                    epoch,
                    count,
                    purged_at,
                },
                LogEntry::EpochKeyDestroyed {
                    custodian,
                    epoch,
                    destroyed_at,
                } => FoundEntry::EpochKeyDestroyed {
                    custodian: custodian.to_string(),
                    epoch,
                    destroyed_at,
                },
                LogEntry::LegalHoldPlaced(h) => FoundEntry::LegalHoldPlaced {
                    records: matcher.mine_of(h.records.as_slice()),
                    legal_basis: h.legal_basis.to_string(),
                    expires: h.expires,
                },
                LogEntry::LegalHoldReleased(h) => FoundEntry::LegalHoldReleased {
                    records: matcher.mine_of(h.records.as_slice()),
                    legal_basis: h.legal_basis.to_string(),
                    expires: h.expires,
                },
                _ => continue,
            };
            found.push(Found { index, entry: f });
        }

        // Challenges the operator signed for this participant must be in the log.
        let mut unlogged: Vec<ChallengeId> = Vec::new();
        let flag = |c: ChallengeId, unlogged: &mut Vec<ChallengeId>| {
            if !issued.contains(&c) && !unlogged.contains(&c) {
                unlogged.push(c);
            }
        };
        for t in &self.accepted {
            flag(t.signed.challenge.id, &mut unlogged);
        }
        for r in self.refusals.kept() {
            if !matches!(r.reason, Refusal::BadSignature | Refusal::NotMine) {
                flag(r.challenge.challenge.id, &mut unlogged);
            }
        }
        for row in ledger.iter().flatten() {
            let c = &row.challenge.challenge;
            let signed = minimis_crypto::verify_challenge(&row.challenge, &e.operator_key).is_ok();
            if !signed || c.pseudonym != e.pseudonym {
                discrepancies.push(Discrepancy::LedgerRowNotMine { challenge: c.id });
                continue;
            }
            flag(c.id, &mut unlogged);
        }
        discrepancies.extend(
            unlogged
                .into_iter()
                .map(|challenge| Discrepancy::ChallengeNotLogged { challenge }),
        );

        let check_ins = self.check_in_records(&logged_records);
        let mut epochs = BTreeMap::new();
        let mut epoch = |x: EpochId| {
            epochs.insert(x, e.policy.epoch_start(x));
        };
        for c in &check_ins {
            epoch(c.epoch);
        }
        for f in &found {
            match &f.entry {
                FoundEntry::EpochKeyDestroyed { epoch: x, .. }
                | FoundEntry::RecordsPurged { epoch: x, .. } => epoch(*x),
                _ => {}
            }
        }
        History {
            pseudonym: e.pseudonym,
            policy: e.policy.hash(),
            time_zone: e.schedule.time_zone().to_owned(),
            log,
            check_ins,
            ledger,
            found,
            refused: self.refusals.kept().to_vec(),
            refusals: self
                .refusals
                .counts()
                .iter()
                .map(|(reason, n)| (*reason, *n))
                .collect(),
            failures: self.failures.clone(),
            location_fixes_taken: self.fixes_taken,
            discrepancies,
            epochs,
        }
    }

    /// The device's check-ins, for the history.
    fn check_in_records(&self, logged: &HashMap<RecordId, u64>) -> Vec<CheckInRecord> {
        let state = |witnessed: bool, has: bool| match (has, witnessed) {
            (false, _) => ReceiptState::Missing,
            (true, true) => ReceiptState::Witnessed,
            (true, false) => ReceiptState::Provisional,
        };
        let mut out: Vec<CheckInRecord> = self
            .sent
            .iter()
            .map(|s| CheckInRecord {
                record_id: s.record_id,
                challenge: s.challenge,
                epoch: s.epoch,
                content: Some(Content {
                    zone: s.payload.zone,
                    presence: s.payload.presence,
                    device_time: s.payload.device_time,
                    note: s.payload.note.expose().to_owned(),
                }),
                content_deleted_at: None,
                receipt: state(s.witnessed, s.receipt.is_some()),
                log_index: logged.get(&s.record_id).copied(),
            })
            .collect();
        out.extend(self.expired.iter().map(|x| CheckInRecord {
            record_id: x.record_id,
            challenge: x.challenge,
            epoch: x.epoch,
            content: None,
            content_deleted_at: Some(x.deleted_at),
            receipt: state(x.witnessed, x.receipt.is_some()),
            log_index: logged.get(&x.record_id).copied(),
        }));
        out.sort_by_key(|c| (c.epoch, c.log_index.unwrap_or(u64::MAX)));
        out
    }

    /// What the device has verified of the public log (kept in its store).
    pub fn log_view(&self) -> &LogView {
        &self.log_view
    }
}

impl History {
    /// The challenges the log shows were issued to the participant.
    pub fn challenges(&self) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(|f| matches!(f.entry, FoundEntry::ChallengeIssued { .. }))
    }

    /// The accesses to, and refusals of access to, the participant's content.
    pub fn accesses(&self) -> impl Iterator<Item = &Found> {
        self.found.iter().filter(|f| {
            matches!(
                f.entry,
                FoundEntry::ContentAccessed { .. } | FoundEntry::AccessDenied { .. }
            )
        })
    }

    fn time(&self, t: UnixTime) -> String {
        words::local_time(t, &self.time_zone)
    }

    /// An epoch as the date it starts (epochs start at midnight UTC, SEAL-6).
    fn week(&self, e: EpochId) -> String {
        self.epochs
            .get(&e)
            .map_or_else(|| format!("(period {e})"), |t| words::local_date(*t, "UTC"))
    }

    /// The history in plain language, for the participant to read (English).
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut o);
        o
    }

    fn write_text(&self, o: &mut String) -> fmt::Result {
        let short = |b: &[u8]| -> String { b.iter().take(4).map(|x| format!("{x:02x}")).collect() };
        writeln!(o, "Your record")?;
        writeln!(
            o,
            "  Your code name in this program: {}. It is not your name; the company running the servers knows you only by it.",
            self.pseudonym
        )?;
        writeln!(o, "  Times are shown in {}.", self.time_zone)?;
        writeln!(o)?;

        writeln!(o, "The public record (the log)")?;
        if self.log.checked_now {
            writeln!(
                o,
                "  Checked on this phone just now: {} entries in all, signed by the log's key{}; {} new since you last looked.",
                self.log.size,
                if self.log.witnessed {
                    " and countersigned by the witness"
                } else {
                    ""
                },
                self.log.entries_read
            )?;
            writeln!(
                o,
                "  Your receipts checked against it: {}. Nothing your phone saw before was changed or left out.",
                self.log.receipts_checked
            )?;
        } else {
            writeln!(
                o,
                "  Not checked this time (no connection). What follows from it is as your phone last checked it: {} entries.",
                self.log.size
            )?;
        }
        writeln!(o)?;

        writeln!(o, "Your check-ins (your phone's own copy)")?;
        if self.check_ins.is_empty() {
            writeln!(o, "  None yet.")?;
        }
        for c in &self.check_ins {
            match &c.content {
                Some(x) => {
                    write!(
                        o,
                        "  {}: {}; {}",
                        self.time(x.device_time),
                        words::zone(x.zone),
                        words::presence(x.presence)
                    )?;
                    if x.note.is_empty() {
                        writeln!(o, ".")?;
                    } else {
                        writeln!(o, "; your note: \"{}\".", x.note)?;
                    }
                }
                None => writeln!(
                    o,
                    "  A check-in of the week starting {}: what it said was deleted from this phone on {}, at the same deadline as on the servers.",
                    self.week(c.epoch),
                    c.content_deleted_at
                        .map_or_else(String::new, |t| self.time(t))
                )?,
            }
            let receipt = match c.receipt {
                ReceiptState::Witnessed => {
                    "proof of receipt checked, and countersigned by the witness"
                }
                ReceiptState::Provisional => {
                    "proof of receipt checked; the witness's countersignature is still to come"
                }
                ReceiptState::Missing => "no proof of receipt yet: the answer did not arrive",
            };
            match c.log_index {
                Some(i) => writeln!(o, "    {receipt}; in the public record as entry {i}.")?,
                None => writeln!(o, "    {receipt}; not found in the public record.")?,
            }
        }
        writeln!(o)?;

        writeln!(o, "What the company's record (the ledger) says")?;
        match &self.ledger {
            None => writeln!(o, "  Not fetched this time (no connection).")?,
            Some(rows) if rows.is_empty() => writeln!(o, "  Nothing yet.")?,
            Some(_) => {}
        }
        for row in self.ledger.iter().flatten() {
            let c = &row.challenge.challenge;
            writeln!(
                o,
                "  Check-in request {}… (window {} to {}): {}.",
                short(c.id.as_bytes()),
                self.time(c.window_start),
                self.time(c.window_end),
                words::ledger_state(row.state)
            )?;
            if let Some(reason) = row.resolution_reason {
                writeln!(
                    o,
                    "    The decision rests on: {}.",
                    words::resolution_reason(reason)
                )?;
            }
            if let Some(r) = row.failure_report {
                writeln!(
                    o,
                    "    You reported a problem: {}.",
                    words::failure_category(r)
                )?;
            }
            if !row.statements.is_empty() {
                let categories: Vec<&str> =
                    row.statements.iter().map(|s| s.category.as_str()).collect();
                writeln!(o, "    Your statements on it: {}.", categories.join(", "))?;
            }
        }
        writeln!(o)?;

        writeln!(o, "Check-in requests sent to you (from the public record)")?;
        let mut any = false;
        for f in self.challenges() {
            if let FoundEntry::ChallengeIssued {
                challenge,
                kind,
                issued_at,
                window_end,
                on_device,
                ..
            } = &f.entry
            {
                any = true;
                writeln!(
                    o,
                    "  {} {}…, sent {}, to answer by {}: {}.",
                    match kind {
                        ChallengeKind::Scheduled => "Scheduled request",
                        ChallengeKind::AdHoc => "Extra (unscheduled) request",
                    },
                    short(challenge.as_bytes()),
                    self.time(*issued_at),
                    self.time(*window_end),
                    match on_device {
                        OnDevice::Answered => "your phone answered it",
                        OnDevice::Accepted => "your phone accepted it and has not answered yet",
                        OnDevice::Refused => "your phone refused it (see below)",
                        OnDevice::NotReceived => "your phone never received it",
                    }
                )?;
            }
        }
        if !any {
            writeln!(o, "  None.")?;
        }
        writeln!(o)?;

        writeln!(
            o,
            "Who opened your check-ins, or was refused (from the public record)"
        )?;
        let mut any = false;
        for f in self.accesses() {
            any = true;
            match &f.entry {
                FoundEntry::ContentAccessed {
                    custodian,
                    officer,
                    purpose,
                    legal_basis,
                    records,
                    ..
                } => writeln!(
                    o,
                    "  The {custodian} key holder let officer {officer} open {} of your check-ins, for the reason \"{purpose}\" under \"{legal_basis}\" (entry {}).",
                    records.len(),
                    f.index
                )?,
                FoundEntry::AccessDenied {
                    custodian,
                    officer,
                    purpose,
                    records,
                    reason,
                    ..
                } => writeln!(
                    o,
                    "  The {custodian} key holder refused officer {officer} access to {} of your check-ins, asked for \"{purpose}\": {} (entry {}).",
                    records.len(),
                    words::denial_reason(reason),
                    f.index
                )?,
                _ => {}
            }
        }
        if !any {
            writeln!(o, "  Nobody has asked to open your check-ins.")?;
        }
        for f in &self.found {
            match &f.entry {
                FoundEntry::LegalHoldPlaced {
                    records, expires, ..
                } => writeln!(
                    o,
                    "  {} of your check-ins are kept past their deadline by a legal hold, until {}.",
                    records.len(),
                    self.time(*expires)
                )?,
                FoundEntry::LegalHoldReleased { records, .. } => writeln!(
                    o,
                    "  The legal hold on {} of your check-ins was released.",
                    records.len()
                )?,
                _ => {}
            }
        }
        writeln!(o)?;

        let deleted: Vec<&Found> = self
            .found
            .iter()
            .filter(|f| {
                matches!(
                    f.entry,
                    FoundEntry::EpochKeyDestroyed { .. }
                        | FoundEntry::RecordsPurged { .. }
                        | FoundEntry::LedgerPurged { .. }
                )
            })
            .collect();
        writeln!(o, "What has been deleted (from the public record)")?;
        if deleted.is_empty() {
            writeln!(o, "  Nothing yet.")?;
        }
        for f in deleted {
            match &f.entry {
                FoundEntry::EpochKeyDestroyed {
                    custodian,
                    epoch,
                    destroyed_at,
                } => writeln!(
                    o,
                    "  On {}, the {custodian} key holder destroyed its key for the week starting {}: nobody can read that week's check-ins again.",
                    self.time(*destroyed_at),
                    self.week(*epoch)
                )?,
                FoundEntry::RecordsPurged {
                    epoch, purged_at, ..
                } => writeln!(
                    o,
                    "  On {}, the company deleted the locked check-ins of the week starting {}.",
                    self.time(*purged_at),
                    self.week(*epoch)
                )?,
                FoundEntry::LedgerPurged { purged_at, .. } => writeln!(
                    o,
                    "  On {}, the company deleted your ledger, your schedule and your code name.",
                    self.time(*purged_at)
                )?,
                _ => {}
            }
        }
        writeln!(o)?;

        writeln!(o, "Requests your phone refused")?;
        if self.refusals.is_empty() {
            writeln!(o, "  None.")?;
        }
        for (reason, n) in &self.refusals {
            match n {
                1 => writeln!(o, "  Once: {reason}.")?,
                n => writeln!(o, "  {n} times: {reason}.")?,
            }
        }
        let kept = self.refused.len() as u64;
        if kept
            < self
                .refusals
                .values()
                .fold(0u64, |a, b| a.saturating_add(*b))
        {
            writeln!(
                o,
                "  For each reason your phone keeps the first request and the newest {}, signed, as evidence: the {kept} below.",
                crate::device::REFUSALS_KEPT_PER_REASON - 1
            )?;
        }
        for r in &self.refused {
            writeln!(
                o,
                "  {}: request {}…: {}. Your phone kept it, signed, as evidence.",
                self.time(r.at),
                short(r.challenge.challenge.id.as_bytes()),
                r.reason
            )?;
        }
        writeln!(o)?;

        writeln!(o, "Problems recorded on this phone")?;
        if self.failures.is_empty() {
            writeln!(o, "  None.")?;
        }
        for f in &self.failures {
            writeln!(
                o,
                "  {}: {}. {}",
                self.time(f.at),
                words::failure_category(f.category),
                if f.reported {
                    "Your report was delivered."
                } else {
                    "Your report has not been delivered yet; it will be sent at the next chance."
                }
            )?;
        }
        if !self.failures.is_empty()
            || self
                .ledger
                .iter()
                .flatten()
                .any(|r| r.state == minimis_proto::LedgerState::PendingReview)
        {
            writeln!(o, "  {}", words::FAILURE_IS_NOT_A_VIOLATION)?;
        }
        writeln!(o)?;

        writeln!(
            o,
            "Location readings your phone ever took: {}.",
            self.location_fixes_taken
        )?;

        if !self.discrepancies.is_empty() {
            writeln!(o)?;
            writeln!(o, "Things that do not add up")?;
            for d in &self.discrepancies {
                let line = match d {
                    Discrepancy::CheckInNotSent { index, .. } => format!(
                        "The public record shows a check-in of yours (entry {index}) that this phone did not send."
                    ),
                    Discrepancy::ChallengeNotLogged { challenge } => format!(
                        "Request {}… was sent to you but is not in the public record.",
                        short(challenge.as_bytes())
                    ),
                    Discrepancy::OtherPolicy { index, policy } => format!(
                        "The public record shows you enrolled under another policy ({}…, entry {index}).",
                        short(policy.as_bytes())
                    ),
                    Discrepancy::LedgerRowNotMine { challenge } => format!(
                        "The company's record holds a request {}… that was not signed for you.",
                        short(challenge.as_bytes())
                    ),
                };
                writeln!(o, "  {line}")?;
            }
            writeln!(
                o,
                "  Show this to your lawyer or to the oversight custodian: your phone keeps the signed evidence."
            )?;
        }
        Ok(())
    }
}

impl Device {
    /// Every check-in the device made, with or without its content: (record, epoch,
    /// challenge).
    pub(crate) fn all_check_ins(&self) -> impl Iterator<Item = (RecordId, EpochId, ChallengeId)> {
        self.sent
            .iter()
            .map(|s| (s.record_id, s.epoch, s.challenge))
            .chain(
                self.expired
                    .iter()
                    .map(|x| (x.record_id, x.epoch, x.challenge)),
            )
    }

    fn all_receipts(&self) -> impl Iterator<Item = &minimis_proto::Receipt> {
        self.sent
            .iter()
            .filter_map(|s| s.receipt.as_ref())
            .chain(self.expired.iter().filter_map(|x| x.receipt.as_ref()))
    }
}
