//! Why a log does not verify (**AUD-1** to **AUD-3**): each way has its own error.

use minimis_log::checkpoint::OpenCheckpointError;
use minimis_log::cosignature::CosignatureError;
use minimis_log::verify::ConsistencyError;
use minimis_log::{AuditError, EntryDecodeError, ProofError};
use minimis_proto::PolicyHash;

/// Why the log does not verify. The auditor then exits 3 and reports no policy claim as
/// holding (**AUD-12**).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError<E: std::error::Error + 'static> {
    /// The source holds no checkpoint (AUD-1).
    #[error("the log has no checkpoint")]
    NoCheckpoint,
    /// The checkpoint is malformed, not signed by the log key, or names another origin
    /// (AUD-1, LOG-11, LOG-13).
    #[error(transparent)]
    Checkpoint(OpenCheckpointError),
    /// A required witness's cosignature is missing or bad (AUD-1, LOG-15).
    #[error(transparent)]
    Cosignature(CosignatureError),
    /// The log key is not the one pinned for this origin on an earlier run (AUD-2).
    #[error(
        "the log key for {origin} is not the one pinned in the state file; if the log changed its key, audit it with a new state file"
    )]
    LogKeyChanged {
        /// The log's origin.
        origin: String,
    },
    /// The tree is smaller than the one verified before: a rollback (AUD-2).
    #[error(
        "rollback: the log's tree has {offered} entries, fewer than the {pinned} verified before"
    )]
    Rollback {
        /// The size verified before.
        pinned: u64,
        /// The size offered now.
        offered: u64,
    },
    /// Another root for the size verified before: a split view (AUD-2). The state file
    /// holds the earlier signed checkpoint, the log directory the new one: together,
    /// proof that the log signed two trees of one size.
    #[error("split view: the log signed two different trees of size {size}")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// The new tree does not extend the one verified before: history rewritten (AUD-2).
    #[error(
        "rewritten history: the tree of {offered} entries does not extend the tree of {pinned} verified before ({error})"
    )]
    RewrittenHistory {
        /// The size verified before.
        pinned: u64,
        /// The size offered now.
        offered: u64,
        /// How the consistency proof failed.
        error: ConsistencyError,
    },
    /// The log follower refused the checkpoint for a reason none of the above names
    /// (a proof that does not fit the sizes; AUD-2, LOG-51).
    #[error("the log follower refused the checkpoint: {0}")]
    Follower(minimis_log::AdvanceError),
    /// No consistency proof could be read from the tiles (AUD-2).
    #[error("the consistency proof could not be read from the tiles: {0}")]
    ConsistencyProof(ProofError<E>),
    /// The tiles and entries do not match the checkpoint: an entry modified, dropped or
    /// added, a tile changed, a wrong root (AUD-3, LOG-24).
    #[error(transparent)]
    Tiles(AuditError<E>),
    /// An entry that hashes correctly but is not a minimis log entry (AUD-3, LOG-26).
    #[error("entry {index} is not a minimis log entry: {error}")]
    MalformedEntry {
        /// The entry's index.
        index: u64,
        /// Why.
        error: EntryDecodeError,
    },
    /// Reading the checkpoint from the storage failed.
    #[error("reading the log failed")]
    Storage(#[source] E),
    /// The tlog-policy given lists logs, and not the log key (LOG-67).
    #[error("the tlog-policy given does not accept the log's key")]
    LogNotInTlogPolicy,
    /// The checkpoint does not carry the tlog-policy's quorum of cosignatures, or a line
    /// by one of its witnesses does not verify (LOG-67, LOG-64).
    #[error("witness quorum: {0}")]
    Quorum(minimis_log::QuorumError),
    /// The log's latest `witness policy published` entry is not the tlog-policy given, or
    /// the log has none (LOG-67, LOG-65): the operator declares that its checkpoints are
    /// cosigned under another policy than the one the auditor holds.
    #[error(
        "the tlog-policy given ({given}) is not the one the log declares last ({})",
        logged.map_or_else(|| "none".to_owned(), |h| h.to_hex())
    )]
    TlogPolicyNotLogged {
        /// The hash of the policy given.
        given: minimis_log::TlogPolicyHash,
        /// The hash of the log's latest `witness policy published` entry.
        logged: Option<minimis_log::TlogPolicyHash>,
    },
}

impl<E: std::error::Error + 'static> VerifyError<E> {
    /// The requirement the log fails.
    pub fn requirement(&self) -> &'static str {
        match self {
            Self::NoCheckpoint | Self::Checkpoint(_) | Self::Cosignature(_) | Self::Storage(_) => {
                "AUD-1"
            }
            Self::LogKeyChanged { .. }
            | Self::Rollback { .. }
            | Self::SplitView { .. }
            | Self::RewrittenHistory { .. }
            | Self::Follower(_)
            | Self::ConsistencyProof(_) => "AUD-2",
            Self::Tiles(_) | Self::MalformedEntry { .. } => "AUD-3",
            Self::LogNotInTlogPolicy | Self::Quorum(_) | Self::TlogPolicyNotLogged { .. } => {
                "LOG-67"
            }
        }
    }

    /// The storage's own error, if that is why the log does not verify: for a log read
    /// over HTTPS, whether the server could not be reached at all or the log exceeds the
    /// caller's bound ([`crate::RemoteError::could_not_check`], exit 2, **AUD-33**).
    pub fn storage_error(&self) -> Option<&E> {
        use minimis_log::{ReadEntryError, TileReadError};
        match self {
            Self::Storage(e)
            | Self::Tiles(
                AuditError::Tiles(TileReadError::Storage(e))
                | AuditError::Entries(ReadEntryError::Storage(e)),
            )
            | Self::ConsistencyProof(ProofError::Tiles(TileReadError::Storage(e))) => Some(e),
            _ => None,
        }
    }

    /// A short machine-readable code, for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCheckpoint => "no-checkpoint",
            Self::Checkpoint(_) => "bad-checkpoint",
            Self::Cosignature(CosignatureError::Missing { .. }) => "missing-cosignature",
            Self::Cosignature(_) => "bad-cosignature",
            Self::LogKeyChanged { .. } => "log-key-changed",
            Self::Rollback { .. } => "rollback",
            Self::SplitView { .. } => "split-view",
            Self::RewrittenHistory { .. } => "rewritten-history",
            Self::ConsistencyProof(_) => "no-consistency-proof",
            Self::Follower(_) => "follower-refused",
            Self::Tiles(AuditError::EntryHashMismatch { .. }) => "modified-entry",
            Self::Tiles(AuditError::Entries(minimis_log::ReadEntryError::Bundle { .. })) => {
                "entries-do-not-match-tiles"
            }
            Self::Tiles(AuditError::TileHashMismatch { .. }) => "modified-tile",
            Self::Tiles(AuditError::RootMismatch) => "wrong-root",
            Self::Tiles(_) => "tiles-unreadable",
            Self::MalformedEntry { .. } => "malformed-entry",
            Self::Storage(_) => "storage",
            Self::LogNotInTlogPolicy => "log-not-in-tlog-policy",
            Self::Quorum(minimis_log::QuorumError::BelowQuorum { .. }) => "below-quorum",
            Self::Quorum(_) => "bad-cosignature",
            Self::TlogPolicyNotLogged { .. } => "tlog-policy-not-logged",
        }
    }
}

/// Why an audit ended without a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditFailure<E: std::error::Error + 'static> {
    /// The log does not verify: exit 3.
    #[error(transparent)]
    Verify(#[from] VerifyError<E>),
    /// The log publishes a policy the auditor was not given, so its claims cannot be
    /// checked: exit 2.
    #[error(
        "the log publishes policy {policy}, which was not given; add its file with --policy FILE"
    )]
    MissingPolicy {
        /// The policy's hash.
        policy: PolicyHash,
    },
    /// No witness's cosignature would be required, and that was not allowed (**AUD-35**):
    /// the log's own signature alone would vouch for the checkpoint. Exit 2.
    #[error(
        "no witness: the checkpoint would be vouched for by the log's own signature alone; give the witnesses' keys (--witness FILE), or say that none is needed (--allow-no-witness)"
    )]
    NoWitness,
}

impl<E: std::error::Error + 'static> AuditFailure<E> {
    /// The exit code of **AUD-12**: 3 for a log that does not verify, 2 when the claims
    /// could not be checked.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Verify(_) => 3,
            Self::MissingPolicy { .. } | Self::NoWitness => 2,
        }
    }
}
