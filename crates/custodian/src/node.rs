//! One custodian's logic, without the network: [`Node`]. The service
//! ([`crate::Custodian`]) puts it behind mutual TLS; tests, benchmarks and the demo call
//! it directly, with an [`InProcessOperator`](crate::InProcessOperator) and an
//! [`InProcessPeer`](crate::InProcessPeer).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::entry::{
    Access, CaseCommitment, CaseRef, CaseSalt, CustodianId, HoldId, LegalBasisId, LegalHold,
    OfficerId, PurposeId, RecordSet,
};
use minimis_log::{DenialReason, KeyName, LogEntry, VerifierKey, verify_tlog_proof};
use minimis_proto::{
    CheckInPayload, CiphertextBounds, CustodianRole, EpochId, Policy, RecordId, SealedCheckIn,
    UnixTime,
};

use crate::caseload::Caseload;
use crate::clock::Clock;
use crate::files;
use crate::keystore::{Keystore, KeystoreError, Protection};
use crate::operator::{LinkError, OperatorLink, StoredRecord};
use crate::peer::OversightLink;
use crate::protocol::{
    AccessRequest, HoldRequest, HoldRewrapResponse, InnerFile, InnerHeader, LogRef, LoggedEntry,
    OuterRequest, OuterResponse, PlaceHoldRequest, Refusal,
};
use crate::rewrap::{self, HeldHeader};
use crate::store::{CaseBook, HoldBook, HoldMeta, Outbox, StoreError};
use crate::witness::{WitnessService, WitnessStartError};
use minimis_wire::OperatorRefusal;

/// What the oversight custodian's reviewer decides (**ACC-16**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Remove the layer.
    Approve,
    /// Refuse: logged as `oversight-refused`.
    Refuse,
}

/// A request as the oversight custodian's reviewer sees it.
#[derive(Clone, Debug)]
pub struct Review<'a> {
    /// The officer.
    pub officer: &'a OfficerId,
    /// The purpose.
    pub purpose: &'a PurposeId,
    /// The legal basis.
    pub legal_basis: &'a LegalBasisId,
    /// The records.
    pub records: &'a [RecordId],
}

/// The oversight custodian's review of each request before it removes its layer
/// (**ACC-16**). The default approves every request the policy allows.
pub trait Reviewer: Send + Sync {
    /// Decides.
    fn review(&self, request: &Review<'_>) -> Verdict;
}

/// Approves every request that passed the policy checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApproveAll;

impl Reviewer for ApproveAll {
    fn review(&self, _: &Review<'_>) -> Verdict {
        Verdict::Approve
    }
}

/// What a [`Node`] is made of, besides its links and clock.
pub struct NodeOptions {
    /// Agency or oversight.
    pub role: CustodianRole,
    /// The policy in force.
    pub policy: Policy,
    /// The data directory (keystore, holds, case book, outbox, witness state).
    pub data_dir: PathBuf,
    /// How the keystore is protected: a PKCS#11 token, or (development) a secret.
    pub protection: Protection,
    /// The log's verifier key; if `None`, the operator's (`GET /v1/keys`) is taken on
    /// first start and pinned in `log.vkey`.
    pub log_key: Option<VerifierKey>,
    /// Witnesses whose cosignature every proof must carry (none by default: the
    /// operator asks its witness off the request's path, CHK-31). Whatever is
    /// configured, the oversight custodian, the log's witness, refuses a checkpoint
    /// whose root is not the one it cosigned for that size.
    pub witnesses: Vec<VerifierKey>,
    /// The caseload file (agency custodian).
    pub caseload: Option<PathBuf>,
    /// The witness's key name (oversight custodian); default `<custodian id>.minimis/witness`.
    pub witness_name: Option<KeyName>,
    /// The reviewer (oversight custodian); default [`ApproveAll`].
    pub reviewer: Option<Arc<dyn Reviewer>>,
    /// The keystore, if the caller has already opened it from `data_dir` with `secret`
    /// (to read the custodian's signing key for its links); otherwise the node opens it.
    /// Opening costs a scrypt run, so it is done once.
    pub keystore: Option<Keystore>,
}

impl fmt::Debug for NodeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeOptions")
            .field("role", &self.role)
            .field("data_dir", &self.data_dir)
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

/// Why a custodian could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The policy names no custodian with this role.
    #[error("the policy names no {0} custodian")]
    NoSuchCustodian(CustodianRole),
    /// The keystore.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// The custodian's state files.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The witness.
    #[error(transparent)]
    Witness(#[from] WitnessStartError),
    /// The log's key could not be had from the operator, or differs from the pinned one.
    #[error("the log's key: {what}")]
    LogKey {
        /// What went wrong.
        what: String,
    },
    /// The configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The keystore's configuration (its secret, its token, where its key file is).
    #[error(transparent)]
    KeystoreConfig(#[from] crate::config::ConfigError),
    /// TLS.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A client to the operator or the other custodian: its roots, certificate, key or
    /// server name.
    #[error("HTTPS client: {0}")]
    Client(#[from] minimis_wire::HttpsConfigError),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The longest the network half of a [`Node::tick`] may take, all calls together: a
/// tick never keeps the next one (whose first act is destruction) waiting longer
/// (**RET-40**).
pub const NETWORK_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// How long before its content deadline an epoch's identity is destroyed: one tick
/// interval at most (`tick_seconds` is at most 60), so that the tick that destroys it
/// comes before the deadline, never after (**RET-8**: early, never late; **RET-40**).
pub const DESTROY_AHEAD_SECONDS: i64 = 60;

/// What a [`Node::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Epoch identities made.
    pub generated: Vec<EpochId>,
    /// Recipients published.
    pub published: Vec<EpochId>,
    /// Epochs whose recipient the operator refused because it already holds a different
    /// one of this custodian (`409 recipient_already_published`, SEAL-23): devices seal to
    /// that one, which this custodian's keystore may not open. Reported once per epoch and
    /// run of the service, and not sent again.
    pub conflicting: Vec<EpochId>,
    /// Epoch identities destroyed.
    pub destroyed: Vec<EpochId>,
    /// Legal holds whose identity was destroyed (released or expired).
    pub holds_ended: Vec<HoldId>,
    /// Entries logged from the outbox.
    pub logged: usize,
    /// Entries still waiting for the log.
    pub pending: usize,
}

/// One record opened for an officer.
#[derive(Debug)]
pub struct OpenedRecord {
    /// The record.
    pub record_id: RecordId,
    /// Its epoch.
    pub epoch: EpochId,
    /// Its content. Secret: zeroized on drop.
    pub payload: CheckInPayload,
}

/// The result of an access: the content, and where the custodians logged it.
#[derive(Debug)]
pub struct Opened {
    /// The records.
    pub records: Vec<OpenedRecord>,
    /// Every custodian's `content accessed` entries.
    pub log: Vec<LogRef>,
}

/// A legal hold as placed.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The hold.
    pub hold: HoldId,
    /// Its records.
    pub records: Vec<RecordId>,
    /// When it lapses.
    pub until: UnixTime,
    /// Where it was logged.
    pub log: Vec<LogRef>,
    /// Whether every step is done (operator told, every layer re-wrapped); if not, the
    /// custodian retries at each tick.
    pub complete: bool,
}

/// A logged entry with its verified proof.
struct Logged {
    entry: LogEntry,
    proof: String,
    index: u64,
}

/// How a custodian opens its layer of a record.
enum KeyPath {
    Epoch,
    Hold(HoldId, HeldHeader),
}

struct Core {
    role: CustodianRole,
    id: CustodianId,
    agency_id: CustodianId,
    oversight_id: Option<CustodianId>,
    policy: Policy,
    keystore: RwLock<Keystore>,
    link: Arc<dyn OperatorLink>,
    peer: Option<Arc<dyn OversightLink>>,
    clock: Arc<dyn Clock>,
    log_key: VerifierKey,
    witnesses: Vec<VerifierKey>,
    outbox: Mutex<Outbox>,
    holds: Mutex<HoldBook>,
    published: Mutex<BTreeSet<EpochId>>,
    /// Epochs whose recipient the operator refused as a second, different one (SEAL-23).
    conflicting: Mutex<BTreeSet<EpochId>>,
    tick_lock: tokio::sync::Mutex<()>,
    caseload: Option<Caseload>,
    casebook: CaseBook,
    witness: Option<Arc<WitnessService>>,
    reviewer: Arc<dyn Reviewer>,
}

/// A custodian: its keystore, its rules, its links. Cloning shares it.
#[derive(Clone)]
pub struct Node(Arc<Core>);

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("role", &self.0.role)
            .field("id", &self.0.id)
            .finish_non_exhaustive()
    }
}

fn label<T>(
    r: Result<T, minimis_log::entry::LabelError>,
    what: &'static str,
) -> Result<T, Refusal> {
    r.map_err(|_| Refusal::Malformed { what })
}

fn poisoned() -> Refusal {
    Refusal::OperatorError {
        what: "custodian state lock poisoned",
    }
}

fn parse_records(ids: &[String]) -> Result<RecordSet, Refusal> {
    let parsed = ids
        .iter()
        .map(|s| s.parse::<RecordId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Refusal::Malformed {
            what: "a record id is not 64 lowercase hex characters",
        })?;
    RecordSet::new(parsed).map_err(|_| Refusal::Malformed {
        what: "name 1 to 1024 records",
    })
}

impl Node {
    /// Opens (or creates) the custodian in `opts.data_dir`.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn open(
        opts: NodeOptions,
        clock: Arc<dyn Clock>,
        link: Arc<dyn OperatorLink>,
        peer: Option<Arc<dyn OversightLink>>,
    ) -> Result<Self, StartError> {
        let me = opts
            .policy
            .custodian(opts.role)
            .ok_or(StartError::NoSuchCustodian(opts.role))?;
        let id = CustodianId::new(&me.id).map_err(|e| StartError::Config(e.to_string()))?;
        let agency_id = opts
            .policy
            .custodian(CustodianRole::Agency)
            .and_then(|c| CustodianId::new(&c.id).ok())
            .ok_or(StartError::NoSuchCustodian(CustodianRole::Agency))?;
        let oversight_id = opts
            .policy
            .custodian(CustodianRole::Oversight)
            .and_then(|c| CustodianId::new(&c.id).ok());
        if opts.role == CustodianRole::Agency && oversight_id.is_some() && peer.is_none() {
            return Err(StartError::Config(
                "the policy names an oversight custodian: the agency custodian needs a link to it"
                    .into(),
            ));
        }
        files::make_private_dir(&opts.data_dir).map_err(StoreError::from)?;
        let keystore = match opts.keystore {
            Some(k) => k,
            None => Keystore::open_or_create(
                &opts.data_dir.join("keystore"),
                &opts.protection,
                opts.role,
                id.as_str(),
            )?,
        };

        // Destruction first: before any network call, every identity past its deadline
        // is destroyed and its entry kept for the log (RET-40).
        let keystore = RwLock::new(keystore);
        let outbox = Mutex::new(Outbox::open(&opts.data_dir)?);
        let holds = Mutex::new(HoldBook::open(&opts.data_dir)?);
        let at_start = destroy_due(
            &keystore,
            &holds,
            &outbox,
            opts.role,
            &id,
            &opts.policy,
            clock.now(),
        );
        if !at_start.destroyed.is_empty() {
            tracing::info!(epochs = ?at_start.destroyed.iter().map(|e| e.get()).collect::<Vec<_>>(), "destroyed at start, past their deadline");
        }

        // The log's key: configured, pinned from an earlier start, or the operator's.
        let pinned_path = opts.data_dir.join("log.vkey");
        let pinned: Option<VerifierKey> = std::fs::read_to_string(&pinned_path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        let log_key = match (opts.log_key, pinned) {
            (Some(k), Some(p)) if k != p => {
                return Err(StartError::LogKey {
                    what: format!("configured {k}, but {p} is pinned in log.vkey"),
                });
            }
            (Some(k), _) => k,
            (None, Some(p)) => p,
            (None, None) => link.log_key().await.map_err(|e| StartError::LogKey {
                what: e.to_string(),
            })?,
        };
        files::write_atomic(&pinned_path, format!("{log_key}\n").as_bytes(), false)
            .map_err(StoreError::from)?;

        let witnesses = opts.witnesses;
        let witness = if opts.role == CustodianRole::Oversight {
            let name = match opts.witness_name {
                Some(n) => n,
                None => KeyName::new(&format!("{}.minimis/witness", id.as_str()))
                    .map_err(|e| StartError::Config(e.to_string()))?,
            };
            let seed = *keystore
                .write()
                .map_err(|_| KeystoreError::Poisoned)?
                .witness_key()?
                .expose_seed();
            let key = minimis_crypto::SigningKey::from_seed(&seed)
                .map_err(|e| StartError::Config(e.to_string()))?;
            let w =
                WitnessService::open(&opts.data_dir.join("witness"), name, key, log_key.clone())?;
            Some(Arc::new(w))
        } else {
            None
        };
        let caseload = opts.caseload.as_deref().map(Caseload::new);
        Ok(Self(Arc::new(Core {
            role: opts.role,
            id,
            agency_id,
            oversight_id,
            casebook: CaseBook::new(&opts.data_dir),
            outbox,
            holds,
            policy: opts.policy,
            keystore,
            link,
            peer,
            clock,
            log_key,
            witnesses,
            published: Mutex::new(BTreeSet::new()),
            conflicting: Mutex::new(BTreeSet::new()),
            tick_lock: tokio::sync::Mutex::new(()),
            caseload,
            witness,
            reviewer: opts.reviewer.unwrap_or_else(|| Arc::new(ApproveAll)),
        })))
    }

    /// Agency or oversight.
    pub fn role(&self) -> CustodianRole {
        self.0.role
    }

    /// The custodian's id in the policy.
    pub fn id(&self) -> &CustodianId {
        &self.0.id
    }

    /// Now, by the custodian's clock.
    pub fn now(&self) -> UnixTime {
        self.0.clock.now()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.0.policy
    }

    /// The custodian's Ed25519 public key, which the operator and the enrollment bundle
    /// must be configured with.
    pub fn public_key(&self) -> Option<minimis_proto::PublicKey> {
        self.0
            .keystore
            .read()
            .ok()
            .map(|k| k.signing_key().public_key())
    }

    /// The log's verifier key in use.
    pub fn log_key(&self) -> &VerifierKey {
        &self.0.log_key
    }

    /// The witness (oversight custodian).
    pub fn witness(&self) -> Option<&Arc<WitnessService>> {
        self.0.witness.as_ref()
    }

    /// Runs `f` on the keystore (tests and the demo inspect it this way).
    pub fn with_keystore<T>(&self, f: impl FnOnce(&Keystore) -> T) -> Option<T> {
        self.0.keystore.read().ok().map(|k| f(&k))
    }

    /// The salt and reference behind a case commitment this custodian logged
    /// (**ACC-9**), to open it to an auditor or a court.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open_case(
        &self,
        commitment: &CaseCommitment,
    ) -> Result<Option<(CaseSalt, CaseRef)>, StoreError> {
        self.0.casebook.open(commitment)
    }

    /// Log entries waiting for the log.
    pub fn pending_entries(&self) -> Vec<LogEntry> {
        self.0
            .outbox
            .lock()
            .map(|o| o.pending().to_vec())
            .unwrap_or_default()
    }

    // ---- the log ---------------------------------------------------------------------

    /// Appends `entries` and verifies each proof against the log's key and the required
    /// witnesses (**ACC-4**).
    async fn log(&self, entries: &[LogEntry]) -> Result<Vec<Logged>, LinkError> {
        let proofs = self.0.link.append(entries).await?;
        if proofs.len() != entries.len() {
            return Err(LinkError::Malformed {
                what: "one proof per entry",
            });
        }
        let mut out = Vec::with_capacity(entries.len());
        for (e, p) in entries.iter().zip(proofs) {
            let v = verify_tlog_proof(
                p.as_bytes(),
                &e.encode(),
                &self.0.log_key,
                &self.0.witnesses,
            )
            .map_err(|_| LinkError::Malformed {
                what: "a proof does not verify",
            })?;
            self.check_witnessed(&v.checkpoint)
                .map_err(|_| LinkError::Malformed {
                    what: "a proof's checkpoint is a split view",
                })?;
            out.push(Logged {
                entry: e.clone(),
                proof: p,
                index: v.leaf_index,
            });
        }
        Ok(out)
    }

    /// Verifies an entry another custodian logged.
    fn verify_logged(&self, l: &LoggedEntry) -> Result<(LogEntry, u64), Refusal> {
        let bytes = l.entry_bytes()?;
        let entry = LogEntry::decode(&bytes).map_err(|_| Refusal::Malformed {
            what: "not a log entry",
        })?;
        let v = verify_tlog_proof(
            l.proof.as_bytes(),
            &bytes,
            &self.0.log_key,
            &self.0.witnesses,
        )
        .map_err(|_| Refusal::Denied(DenialReason::AccessNotLogged))?;
        self.check_witnessed(&v.checkpoint)?;
        Ok((entry, v.leaf_index))
    }

    /// The oversight custodian is the log's witness: a checkpoint of a size it cosigned
    /// must have the root it cosigned, or the operator is showing a split view.
    fn check_witnessed(&self, cp: &minimis_log::Checkpoint) -> Result<(), Refusal> {
        match self
            .0
            .witness
            .as_ref()
            .and_then(|w| w.root_at(cp.tree_size()))
        {
            Some(root) if root != *cp.root_hash() => {
                tracing::error!(
                    size = cp.tree_size(),
                    "split view: a logged entry's checkpoint is not the one the witness cosigned"
                );
                Err(Refusal::Denied(DenialReason::AccessNotLogged))
            }
            _ => Ok(()),
        }
    }

    fn push_outbox(&self, entries: Vec<LogEntry>) {
        push_outbox(&self.0.outbox, entries);
    }

    /// Logs a refusal (**ACC-6**) and returns it; if the log is unavailable the entries
    /// wait in the outbox. A refusal that cannot be logged is still a refusal.
    async fn deny(&self, reason: DenialReason, accesses: Vec<Access>) -> Refusal {
        let entries: Vec<LogEntry> = accesses
            .into_iter()
            .map(|access| LogEntry::AccessDenied { access, reason })
            .collect();
        if !entries.is_empty() && self.log(&entries).await.is_err() {
            self.push_outbox(entries);
        }
        Refusal::Denied(reason)
    }

    /// A fresh case commitment for `reference`, recorded in the case book before it is
    /// logged (**ACC-9**, **LOG-33**).
    fn commit_case(&self, reference: &CaseRef) -> Result<CaseCommitment, Refusal> {
        let unavailable = || Refusal::Denied(DenialReason::LogUnavailable);
        let salt = CaseSalt::generate().map_err(|_| unavailable())?;
        let c = CaseCommitment::new(&salt, reference);
        self.0
            .casebook
            .record(&c, &salt, reference)
            .map_err(|_| unavailable())?;
        Ok(c)
    }

    // ---- records and keys ------------------------------------------------------------

    async fn fetch(&self, id: RecordId) -> Result<Option<StoredRecord>, LinkError> {
        match self.0.link.record(id).await {
            Ok(r) if r.record_id == id => Ok(Some(r)),
            Ok(_) => Err(LinkError::Malformed {
                what: "the operator answered with another record",
            }),
            Err(LinkError::UnknownRecord) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How this custodian opens its layer of `r`: its epoch key, or a hold's.
    fn key_path(&self, r: &StoredRecord) -> Option<KeyPath> {
        let live = self
            .0
            .keystore
            .read()
            .ok()
            .is_some_and(|k| k.epoch(r.epoch).is_ok());
        if live {
            return Some(KeyPath::Epoch);
        }
        let holds = self.0.holds.lock().ok()?;
        let ks = self.0.keystore.read().ok()?;
        holds
            .covering(r.record_id)
            .into_iter()
            .filter(|h| ks.hold(*h).is_some())
            .find_map(|h| {
                holds
                    .header(h, r.record_id)
                    .map(|hdr| KeyPath::Hold(h, hdr))
            })
    }

    /// The oversight custodian's step: the inner file of record `r`.
    fn outer_layer(&self, r: &StoredRecord, path: &KeyPath) -> Result<Vec<u8>, Refusal> {
        let ks = self.0.keystore.read().map_err(|_| poisoned())?;
        let destroyed = || Refusal::Denied(DenialReason::KeyDestroyed);
        let bad = || Refusal::OperatorError {
            what: "a record's outer layer does not open with the custodian's key",
        };
        match path {
            KeyPath::Epoch => {
                // The stored record must be a two-layer check-in (SEAL-4).
                let sealed =
                    SealedCheckIn::new(r.ciphertext.clone(), CiphertextBounds::for_layers(2))
                        .map_err(|_| Refusal::OperatorError {
                            what: "a record is not a two-layer check-in",
                        })?;
                let id = ks.epoch(r.epoch).map_err(|_| destroyed())?;
                minimis_seal::remove_outer(&sealed, id)
                    .map(|i| i.as_bytes().to_vec())
                    .map_err(|_| bad())
            }
            KeyPath::Hold(h, header) => {
                let id = ks.hold(*h).ok_or_else(destroyed)?;
                let rebuilt = rewrap::with_held_header(header, &r.ciphertext).map_err(|_| bad())?;
                rewrap::open_file(
                    &rebuilt,
                    id.age_identity(),
                    CiphertextBounds::for_layers(1).max,
                )
                .map(|z| z.to_vec())
                .map_err(|_| bad())
            }
        }
    }

    /// The agency custodian's step: the payload inside `inner`, the inner file of a
    /// record of `epoch`.
    fn inner_layer(
        &self,
        epoch: EpochId,
        path: &KeyPath,
        inner: &[u8],
    ) -> Result<CheckInPayload, Refusal> {
        let ks = self.0.keystore.read().map_err(|_| poisoned())?;
        let destroyed = || Refusal::Denied(DenialReason::KeyDestroyed);
        let bad = || Refusal::OperatorError {
            what: "a record's inner layer does not open with the custodian's key",
        };
        let max_note = self.0.policy.max_note_bytes();
        match path {
            KeyPath::Epoch => {
                let id = ks.epoch(epoch).map_err(|_| destroyed())?;
                minimis_seal::open_inner(inner, id, max_note).map_err(|_| bad())
            }
            KeyPath::Hold(h, header) => {
                let id = ks.hold(*h).ok_or_else(destroyed)?;
                let rebuilt = rewrap::with_held_header(header, inner).map_err(|_| bad())?;
                let plain = rewrap::open_file(
                    &rebuilt,
                    id.age_identity(),
                    minimis_proto::payload::PAYLOAD_LEN,
                )
                .map_err(|_| bad())?;
                CheckInPayload::decode(&plain, max_note).map_err(|_| bad())
            }
        }
    }

    // ---- access: the agency custodian --------------------------------------------------

    /// An officer's request to open records (**ACC-1** to **ACC-10**), as the agency
    /// custodian: checks the policy and the caseload, logs the access or the refusal and
    /// verifies its proof before anything is opened, has the oversight custodian remove
    /// the outer layer, opens the inner one.
    ///
    /// # Errors
    /// A [`Refusal`]; every refusal under the policy is logged.
    pub async fn access(&self, officer: &OfficerId, req: AccessRequest) -> Result<Opened, Refusal> {
        if self.0.role != CustodianRole::Agency {
            return Err(Refusal::NotAllowed);
        }
        let records = parse_records(&req.records)?;
        let purpose = label(PurposeId::new(&req.purpose), "purpose is not a policy id")?;
        let basis = label(
            LegalBasisId::new(&req.legal_basis),
            "legal_basis is not a policy id",
        )?;
        let case_ref = CaseRef::new(&req.case_reference).map_err(|_| Refusal::Malformed {
            what: "case_reference",
        })?;
        let now = self.0.clock.now();
        let current = self.0.policy.epoch_at(now).unwrap_or(EpochId::new(0));

        // The records, from the operator (their epochs and participants).
        let mut found: BTreeMap<EpochId, Vec<StoredRecord>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for &id in records.as_slice() {
            match self.fetch(id).await {
                Ok(Some(r)) => {
                    if !r.binding_holds() {
                        return Err(Refusal::OperatorError {
                            what: "a record's bytes do not hash to its id",
                        });
                    }
                    found.entry(r.epoch).or_default().push(r);
                }
                Ok(None) => unknown.push(id),
                Err(LinkError::Malformed { what }) => return Err(Refusal::OperatorError { what }),
                Err(_) => {
                    // Nothing can be logged now either: the refusal waits in the outbox.
                    let groups = BTreeMap::from([(current, records.as_slice().to_vec())]);
                    let accesses = self.accesses(&groups, officer, &purpose, &basis, &case_ref)?;
                    self.push_outbox(
                        accesses
                            .into_iter()
                            .map(|access| LogEntry::AccessDenied {
                                access,
                                reason: DenialReason::LogUnavailable,
                            })
                            .collect(),
                    );
                    return Err(Refusal::Denied(DenialReason::LogUnavailable));
                }
            }
        }
        let mut groups: BTreeMap<EpochId, Vec<RecordId>> = found
            .iter()
            .map(|(e, rs)| (*e, rs.iter().map(|r| r.record_id).collect()))
            .collect();
        if !unknown.is_empty() {
            // A record the operator does not know has no epoch: the refusal names the
            // epoch of the request.
            groups.entry(current).or_default().extend(unknown.iter());
        }
        let (g, p, b, c) = (&groups, &purpose, &basis, &case_ref);
        let deny = |reason| async move {
            let accesses = self.accesses(g, officer, p, b, c)?;
            Err::<Opened, Refusal>(self.deny(reason, accesses).await)
        };
        if !unknown.is_empty() {
            return deny(DenialReason::RecordUnknown).await;
        }
        if !self.0.policy.allows_purpose(purpose.as_str()) {
            return deny(DenialReason::PurposeNotAllowed).await;
        }
        if !self.0.policy.allows_legal_basis(basis.as_str()) {
            return deny(DenialReason::LegalBasisNotAllowed).await;
        }
        let caseload = self
            .0
            .caseload
            .as_ref()
            .ok_or(Refusal::CaseloadUnavailable)?;
        let covered = caseload
            .covers(officer, found.values().flatten().map(|r| r.pseudonym))
            .map_err(|_| Refusal::CaseloadUnavailable)?;
        if !covered {
            return deny(DenialReason::NotInCaseload).await;
        }
        let mut paths = BTreeMap::new();
        for r in found.values().flatten() {
            match self.key_path(r) {
                Some(p) => {
                    paths.insert(r.record_id, p);
                }
                None => return deny(DenialReason::KeyDestroyed).await,
            }
        }

        // Log before open (ACC-4, ACC-5).
        let accesses = self.accesses(&groups, officer, &purpose, &basis, &case_ref)?;
        let entries: Vec<LogEntry> = accesses
            .iter()
            .cloned()
            .map(LogEntry::ContentAccessed)
            .collect();
        let logged = match self.log(&entries).await {
            Ok(l) => l,
            Err(_) => {
                self.push_outbox(
                    accesses
                        .into_iter()
                        .map(|access| LogEntry::AccessDenied {
                            access,
                            reason: DenialReason::LogUnavailable,
                        })
                        .collect(),
                );
                return Err(Refusal::Denied(DenialReason::LogUnavailable));
            }
        };
        let mut log: Vec<LogRef> = logged
            .iter()
            .map(|l| LogRef::new(&l.entry, l.index))
            .collect();

        // The outer layer, by the oversight custodian (ACC-7).
        let mut inner: BTreeMap<RecordId, Vec<u8>> = BTreeMap::new();
        match &self.0.peer {
            Some(peer) if self.0.oversight_id.is_some() => {
                let req = OuterRequest {
                    officer: officer.to_string(),
                    purpose: purpose.to_string(),
                    legal_basis: basis.to_string(),
                    records: records.as_slice().to_vec(),
                    logged: logged
                        .iter()
                        .map(|l| LoggedEntry::new(&l.entry, l.proof.clone()))
                        .collect(),
                };
                let resp = match peer.remove_outer(req).await {
                    Ok(r) => r,
                    Err(LinkError::PeerRefused(r)) => {
                        return Err(Refusal::from_peer(r));
                    }
                    Err(_) => return Err(Refusal::OversightUnavailable),
                };
                // The oversight custodian's own entries must be in the log too.
                let theirs = match self.check_oversight_entries(&accesses, &resp.logged) {
                    Ok(t) => t,
                    Err(_) => {
                        return Err(self
                            .deny(DenialReason::AccessNotLogged, accesses.clone())
                            .await);
                    }
                };
                log.extend(theirs);
                for f in resp.inner {
                    let bytes =
                        B64.decode(f.file.as_bytes())
                            .map_err(|_| Refusal::OperatorError {
                                what: "an inner file is not base64",
                            })?;
                    inner.insert(f.record_id, bytes);
                }
            }
            _ => {
                for r in found.values().flatten() {
                    inner.insert(r.record_id, r.ciphertext.clone());
                }
            }
        }

        // The inner layer, here; the plaintext goes only to the officer (ACC-8).
        let mut out = Vec::with_capacity(records.as_slice().len());
        for r in found.values().flatten() {
            let file = inner.remove(&r.record_id).ok_or(Refusal::OperatorError {
                what: "the oversight custodian left out a record",
            })?;
            let path = paths.get(&r.record_id).ok_or(Refusal::OperatorError {
                what: "no key path",
            })?;
            let payload = self.inner_layer(r.epoch, path, &file)?;
            if r.challenge_id.is_some_and(|c| c != payload.challenge_id) {
                return Err(Refusal::OperatorError {
                    what: "a record answers another challenge than the operator says",
                });
            }
            out.push(OpenedRecord {
                record_id: r.record_id,
                epoch: r.epoch,
                payload,
            });
        }
        Ok(Opened { records: out, log })
    }

    /// The access entries of a request: one per epoch, each with its own salted case
    /// commitment.
    fn accesses(
        &self,
        groups: &BTreeMap<EpochId, Vec<RecordId>>,
        officer: &OfficerId,
        purpose: &PurposeId,
        basis: &LegalBasisId,
        case_ref: &CaseRef,
    ) -> Result<Vec<Access>, Refusal> {
        groups
            .iter()
            .map(|(e, ids)| {
                Ok(Access {
                    custodian: self.0.id.clone(),
                    officer: officer.clone(),
                    purpose: purpose.clone(),
                    legal_basis: basis.clone(),
                    case: self.commit_case(case_ref)?,
                    records: RecordSet::new(ids.iter().copied()).map_err(|_| {
                        Refusal::Malformed {
                            what: "name 1 to 1024 records",
                        }
                    })?,
                    epoch: *e,
                })
            })
            .collect()
    }

    fn check_oversight_entries(
        &self,
        ours: &[Access],
        theirs: &[LoggedEntry],
    ) -> Result<Vec<LogRef>, Refusal> {
        let oversight = self.0.oversight_id.as_ref().ok_or(Refusal::NotAllowed)?;
        let mut refs = Vec::new();
        let mut matched = 0;
        for l in theirs {
            let (entry, index) = self.verify_logged(l)?;
            let LogEntry::ContentAccessed(a) = &entry else {
                return Err(Refusal::Denied(DenialReason::AccessNotLogged));
            };
            let mirror = ours.iter().any(|o| {
                a.custodian == *oversight
                    && a.officer == o.officer
                    && a.purpose == o.purpose
                    && a.legal_basis == o.legal_basis
                    && a.case == o.case
                    && a.records == o.records
                    && a.epoch == o.epoch
            });
            if !mirror {
                return Err(Refusal::Denied(DenialReason::AccessNotLogged));
            }
            matched += 1;
            refs.push(LogRef::new(&entry, index));
        }
        if matched != ours.len() {
            return Err(Refusal::Denied(DenialReason::AccessNotLogged));
        }
        Ok(refs)
    }

    // ---- access: the oversight custodian -----------------------------------------------

    /// The agency custodian's request to remove the outer layer (**ACC-7**): verifies
    /// the agency custodian's logged entries, checks the policy and the reviewer, logs
    /// its own entries and verifies their proofs, then returns the inner files.
    ///
    /// # Errors
    /// A [`Refusal`]; every refusal under the policy is logged.
    pub async fn remove_outer(
        &self,
        caller: &CustodianId,
        req: OuterRequest,
    ) -> Result<OuterResponse, Refusal> {
        if self.0.role != CustodianRole::Oversight || *caller != self.0.agency_id {
            return Err(Refusal::NotAllowed);
        }
        let officer = label(OfficerId::new(&req.officer), "officer")?;
        let purpose = label(PurposeId::new(&req.purpose), "purpose")?;
        let basis = label(LegalBasisId::new(&req.legal_basis), "legal_basis")?;
        let records =
            RecordSet::new(req.records.iter().copied()).map_err(|_| Refusal::Malformed {
                what: "name 1 to 1024 records",
            })?;
        if req.logged.is_empty() {
            return Err(Refusal::Malformed {
                what: "no logged entry",
            });
        }
        // The agency custodian's entries, as claimed.
        let mut claimed = Vec::new();
        for l in &req.logged {
            let bytes = l.entry_bytes()?;
            match LogEntry::decode(&bytes) {
                Ok(LogEntry::ContentAccessed(a)) => claimed.push(a),
                _ => {
                    return Err(Refusal::Malformed {
                        what: "not a content-accessed entry",
                    });
                }
            }
        }
        // Our refusals mirror the agency custodian's entries.
        let mirror = |claimed: &[Access]| -> Vec<Access> {
            claimed
                .iter()
                .map(|a| Access {
                    custodian: self.0.id.clone(),
                    ..a.clone()
                })
                .collect()
        };
        let named: BTreeSet<RecordId> = claimed
            .iter()
            .flat_map(|a| a.records.as_slice().iter().copied())
            .collect();
        let consistent = claimed.iter().all(|a| {
            a.custodian == self.0.agency_id
                && a.officer == officer
                && a.purpose == purpose
                && a.legal_basis == basis
        }) && named.iter().copied().eq(records.as_slice().iter().copied())
            && claimed
                .iter()
                .map(|a| a.epoch)
                .collect::<BTreeSet<_>>()
                .len()
                == claimed.len();
        let all_logged = consistent && req.logged.iter().all(|l| self.verify_logged(l).is_ok());
        if !all_logged {
            return Err(self
                .deny(DenialReason::AccessNotLogged, mirror(&claimed))
                .await);
        }
        if !self.0.policy.allows_purpose(purpose.as_str()) {
            return Err(self
                .deny(DenialReason::PurposeNotAllowed, mirror(&claimed))
                .await);
        }
        if !self.0.policy.allows_legal_basis(basis.as_str()) {
            return Err(self
                .deny(DenialReason::LegalBasisNotAllowed, mirror(&claimed))
                .await);
        }
        let review = Review {
            officer: &officer,
            purpose: &purpose,
            legal_basis: &basis,
            records: records.as_slice(),
        };
        if self.0.reviewer.review(&review) == Verdict::Refuse {
            return Err(self
                .deny(DenialReason::OversightRefused, mirror(&claimed))
                .await);
        }
        // The records, fetched by us: never ciphertext from the agency custodian.
        let mut found = Vec::new();
        for a in &claimed {
            for &id in a.records.as_slice() {
                match self.fetch(id).await {
                    Ok(Some(r)) if r.epoch == a.epoch && r.binding_holds() => found.push(r),
                    Ok(Some(_)) => {
                        return Err(self
                            .deny(DenialReason::AccessNotLogged, mirror(&claimed))
                            .await);
                    }
                    Ok(None) => {
                        return Err(self
                            .deny(DenialReason::RecordUnknown, mirror(&claimed))
                            .await);
                    }
                    Err(_) => {
                        self.push_outbox(
                            mirror(&claimed)
                                .into_iter()
                                .map(|access| LogEntry::AccessDenied {
                                    access,
                                    reason: DenialReason::LogUnavailable,
                                })
                                .collect(),
                        );
                        return Err(Refusal::Denied(DenialReason::LogUnavailable));
                    }
                }
            }
        }
        let mut paths = Vec::with_capacity(found.len());
        for r in &found {
            match self.key_path(r) {
                Some(p) => paths.push(p),
                None => {
                    return Err(self
                        .deny(DenialReason::KeyDestroyed, mirror(&claimed))
                        .await);
                }
            }
        }
        // Our own entries, logged and verified before we open anything.
        let ours: Vec<LogEntry> = mirror(&claimed)
            .into_iter()
            .map(LogEntry::ContentAccessed)
            .collect();
        let logged = match self.log(&ours).await {
            Ok(l) => l,
            Err(_) => {
                self.push_outbox(
                    mirror(&claimed)
                        .into_iter()
                        .map(|access| LogEntry::AccessDenied {
                            access,
                            reason: DenialReason::LogUnavailable,
                        })
                        .collect(),
                );
                return Err(Refusal::Denied(DenialReason::LogUnavailable));
            }
        };
        let mut inner = Vec::with_capacity(found.len());
        for (r, path) in found.iter().zip(&paths) {
            let file = zeroize::Zeroizing::new(self.outer_layer(r, path)?);
            inner.push(InnerFile {
                record_id: r.record_id,
                file: B64.encode(&*file),
            });
        }
        Ok(OuterResponse {
            inner,
            logged: logged
                .iter()
                .map(|l| LoggedEntry::new(&l.entry, l.proof.clone()))
                .collect(),
        })
    }

    // ---- legal holds -------------------------------------------------------------------

    /// An officer's legal hold (**RET-30** to **RET-32**): logs it, tells the operator to
    /// keep the records until `until`, and has each custodian re-wrap its layer of every
    /// record to its own identity for the hold.
    ///
    /// # Errors
    /// A [`Refusal`]. A hold that was logged but could not be completed (the operator or
    /// the oversight custodian unavailable) is completed at the next ticks.
    pub async fn place_hold(
        &self,
        officer: &OfficerId,
        req: PlaceHoldRequest,
    ) -> Result<Placed, Refusal> {
        if self.0.role != CustodianRole::Agency {
            return Err(Refusal::NotAllowed);
        }
        let records = parse_records(&req.records)?;
        let basis = label(
            LegalBasisId::new(&req.legal_basis),
            "legal_basis is not a policy id",
        )?;
        let until = UnixTime(req.until);
        let now = self.0.clock.now();
        if until <= now {
            return Err(Refusal::Malformed {
                what: "until must be in the future",
            });
        }
        if !self.0.policy.allows_legal_basis(basis.as_str()) {
            return Err(Refusal::Denied(DenialReason::LegalBasisNotAllowed));
        }
        let mut found = Vec::new();
        for &id in records.as_slice() {
            match self.fetch(id).await {
                Ok(Some(r)) if r.binding_holds() => found.push(r),
                Ok(Some(_)) => {
                    return Err(Refusal::OperatorError {
                        what: "a record's bytes do not hash to its id",
                    });
                }
                Ok(None) => return Err(Refusal::Denied(DenialReason::RecordUnknown)),
                Err(_) => return Err(Refusal::Denied(DenialReason::LogUnavailable)),
            }
        }
        let caseload = self
            .0
            .caseload
            .as_ref()
            .ok_or(Refusal::CaseloadUnavailable)?;
        if !caseload
            .covers(officer, found.iter().map(|r| r.pseudonym))
            .map_err(|_| Refusal::CaseloadUnavailable)?
        {
            return Err(Refusal::Denied(DenialReason::NotInCaseload));
        }
        {
            let ks = self.0.keystore.read().map_err(|_| poisoned())?;
            if found.iter().any(|r| ks.epoch(r.epoch).is_err()) {
                return Err(Refusal::Denied(DenialReason::KeyDestroyed));
            }
        }
        let hold = HoldId::from_bytes(
            minimis_crypto::random_bytes::<16>()
                .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?,
        );
        self.0
            .keystore
            .write()
            .map_err(|_| poisoned())?
            .create_hold(hold)
            .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?;
        let entry = LogEntry::LegalHoldPlaced(LegalHold {
            hold,
            records: records.clone(),
            legal_basis: basis,
            expires: until,
        });
        let logged = match self.log(std::slice::from_ref(&entry)).await {
            Ok(mut l) if !l.is_empty() => l.remove(0),
            _ => {
                let _ = self
                    .0
                    .keystore
                    .write()
                    .map_err(|_| poisoned())?
                    .destroy_hold(hold, now);
                return Err(Refusal::Denied(DenialReason::LogUnavailable));
            }
        };
        let meta = HoldMeta {
            hold: hex::encode(hold.as_bytes()),
            placed: LoggedEntry::new(&logged.entry, logged.proof.clone()),
            operator_told: false,
            rewrapped: false,
        };
        self.0
            .holds
            .lock()
            .map_err(|_| poisoned())?
            .save(hold, meta)
            .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?;
        let complete = self.complete_hold(hold).await;
        Ok(Placed {
            hold,
            records: records.as_slice().to_vec(),
            until,
            log: vec![LogRef::new(&logged.entry, logged.index)],
            complete,
        })
    }

    /// Does what is left of a hold's placement: tell the operator, re-wrap the layers.
    /// Returns whether it is complete.
    async fn complete_hold(&self, hold: HoldId) -> bool {
        let Some(meta) = self.0.holds.lock().ok().and_then(|h| h.get(hold).cloned()) else {
            return false;
        };
        let Ok(lh) = meta.legal_hold() else {
            return false;
        };
        let mut meta = meta;
        if !meta.operator_told
            && self
                .0
                .link
                .hold(lh.records.as_slice(), lh.expires)
                .await
                .is_ok()
        {
            meta.operator_told = true;
        }
        if !meta.rewrapped {
            meta.rewrapped = self.rewrap_agency(hold, &lh, &meta.placed).await.is_ok();
        }
        let done = meta.operator_told && meta.rewrapped;
        if let Ok(mut h) = self.0.holds.lock() {
            let _ = h.save(hold, meta);
        }
        done
    }

    /// The agency custodian's re-wrap: its inner layers, from the inner headers the
    /// oversight custodian returns (or, with one custodian, from the records).
    async fn rewrap_agency(
        &self,
        hold: HoldId,
        lh: &LegalHold,
        placed: &LoggedEntry,
    ) -> Result<(), Refusal> {
        let headers: Vec<(RecordId, Vec<u8>)> = match &self.0.peer {
            Some(peer) if self.0.oversight_id.is_some() => {
                let resp = peer
                    .hold_rewrap(HoldRequest {
                        logged: placed.clone(),
                    })
                    .await
                    .map_err(|e| match e {
                        LinkError::PeerRefused(r) => Refusal::from_peer(r),
                        _ => Refusal::OversightUnavailable,
                    })?;
                resp.headers
                    .into_iter()
                    .map(|h| {
                        B64.decode(h.inner_header.as_bytes())
                            .map(|b| (h.record_id, b))
                            .map_err(|_| Refusal::OperatorError {
                                what: "an inner header is not base64",
                            })
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => {
                let mut v = Vec::new();
                for &id in lh.records.as_slice() {
                    let r = self
                        .fetch(id)
                        .await
                        .ok()
                        .flatten()
                        .ok_or(Refusal::Denied(DenialReason::RecordUnknown))?;
                    v.push((id, r.ciphertext));
                }
                v
            }
        };
        let mut epochs = BTreeMap::new();
        for &id in lh.records.as_slice() {
            if let Ok(Some(r)) = self.fetch(id).await {
                epochs.insert(id, r.epoch);
            }
        }
        let ks = self.0.keystore.read().map_err(|_| poisoned())?;
        let hold_id = ks.hold(hold).ok_or(Refusal::UnknownHold)?;
        let holds = self.0.holds.lock().map_err(|_| poisoned())?;
        for (id, header) in &headers {
            if !lh.records.as_slice().contains(id) {
                return Err(Refusal::OperatorError {
                    what: "a header for a record the hold does not name",
                });
            }
            let epoch = epochs
                .get(id)
                .ok_or(Refusal::Denied(DenialReason::RecordUnknown))?;
            let eid = ks
                .epoch_age_identity(*epoch)
                .map_err(|_| Refusal::Denied(DenialReason::KeyDestroyed))?;
            let held = rewrap::rewrap_header(header, &eid, &hold_id.recipient()).map_err(|_| {
                Refusal::OperatorError {
                    what: "an inner header does not re-wrap",
                }
            })?;
            holds
                .put_header(hold, *id, &held)
                .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?;
        }
        if headers.len() != lh.records.as_slice().len() {
            return Err(Refusal::OperatorError {
                what: "a header is missing",
            });
        }
        Ok(())
    }

    /// The oversight custodian's part of a hold (**RET-31**): verifies the logged
    /// placement, re-wraps the outer layer of each record to its own identity for the
    /// hold, and returns each inner file's header (never its payload).
    ///
    /// # Errors
    /// A [`Refusal`].
    pub async fn hold_rewrap(
        &self,
        caller: &CustodianId,
        req: HoldRequest,
    ) -> Result<HoldRewrapResponse, Refusal> {
        if self.0.role != CustodianRole::Oversight || *caller != self.0.agency_id {
            return Err(Refusal::NotAllowed);
        }
        let (entry, _) = self.verify_logged(&req.logged)?;
        let LogEntry::LegalHoldPlaced(lh) = entry else {
            return Err(Refusal::Malformed {
                what: "not a legal-hold-placed entry",
            });
        };
        if !self.0.policy.allows_legal_basis(lh.legal_basis.as_str()) {
            return Err(Refusal::Denied(DenialReason::LegalBasisNotAllowed));
        }
        if lh.expires <= self.0.clock.now() {
            return Err(Refusal::Malformed {
                what: "the hold has expired",
            });
        }
        let mut found = Vec::new();
        for &id in lh.records.as_slice() {
            match self.fetch(id).await {
                Ok(Some(r)) if r.binding_holds() => found.push(r),
                Ok(Some(_)) => {
                    return Err(Refusal::OperatorError {
                        what: "a record's bytes do not hash to its id",
                    });
                }
                Ok(None) => return Err(Refusal::Denied(DenialReason::RecordUnknown)),
                Err(_) => return Err(Refusal::Denied(DenialReason::LogUnavailable)),
            }
        }
        let recipient = {
            let mut ks = self.0.keystore.write().map_err(|_| poisoned())?;
            ks.create_hold(lh.hold)
                .map_err(|_| Refusal::UnknownHold)?
                .recipient()
        };
        let mut headers = Vec::with_capacity(found.len());
        {
            let ks = self.0.keystore.read().map_err(|_| poisoned())?;
            let mut holds = self.0.holds.lock().map_err(|_| poisoned())?;
            for r in &found {
                let eid = ks
                    .epoch_age_identity(r.epoch)
                    .map_err(|_| Refusal::Denied(DenialReason::KeyDestroyed))?;
                let held =
                    rewrap::rewrap_header(&r.ciphertext, &eid, &recipient).map_err(|_| {
                        Refusal::OperatorError {
                            what: "a record's outer header does not re-wrap",
                        }
                    })?;
                holds
                    .put_header(lh.hold, r.record_id, &held)
                    .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?;
                let inner =
                    rewrap::open_file(&r.ciphertext, &eid, CiphertextBounds::for_layers(1).max)
                        .map_err(|_| Refusal::OperatorError {
                            what: "a record does not open with the epoch key",
                        })?;
                let (header, _) = rewrap::split(&inner).map_err(|_| Refusal::OperatorError {
                    what: "an inner layer is not an age file",
                })?;
                headers.push(InnerHeader {
                    record_id: r.record_id,
                    inner_header: B64.encode(header),
                });
            }
            holds
                .save(
                    lh.hold,
                    HoldMeta {
                        hold: hex::encode(lh.hold.as_bytes()),
                        placed: req.logged.clone(),
                        operator_told: true,
                        rewrapped: true,
                    },
                )
                .map_err(|_| Refusal::Denied(DenialReason::LogUnavailable))?;
        }
        Ok(HoldRewrapResponse { headers })
    }

    /// Ends a hold: logs `legal hold released` (or keeps it for the log), destroys this
    /// custodian's hold identity and headers, and asks the oversight custodian to do the
    /// same (**RET-33**).
    ///
    /// # Errors
    /// [`Refusal::UnknownHold`].
    pub async fn release_hold(&self, hold: HoldId) -> Result<Vec<LogRef>, Refusal> {
        if self.0.role != CustodianRole::Agency {
            return Err(Refusal::NotAllowed);
        }
        let meta = self
            .0
            .holds
            .lock()
            .map_err(|_| poisoned())?
            .get(hold)
            .cloned()
            .ok_or(Refusal::UnknownHold)?;
        let lh = meta.legal_hold().map_err(|_| Refusal::UnknownHold)?;
        let entry = LogEntry::LegalHoldReleased(lh);
        let logged = match self.log(std::slice::from_ref(&entry)).await {
            Ok(mut l) if !l.is_empty() => Some(l.remove(0)),
            _ => {
                self.push_outbox(vec![entry]);
                None
            }
        };
        self.end_hold(hold);
        if let (Some(peer), Some(l)) = (&self.0.peer, &logged) {
            let _ = peer
                .hold_release(HoldRequest {
                    logged: LoggedEntry::new(&l.entry, l.proof.clone()),
                })
                .await;
        }
        Ok(logged
            .iter()
            .map(|l| LogRef::new(&l.entry, l.index))
            .collect())
    }

    /// The oversight custodian's release: after the logged release, destroys its hold
    /// identity and headers (**RET-33**).
    ///
    /// # Errors
    /// A [`Refusal`].
    pub async fn hold_release(
        &self,
        caller: &CustodianId,
        req: HoldRequest,
    ) -> Result<(), Refusal> {
        if self.0.role != CustodianRole::Oversight || *caller != self.0.agency_id {
            return Err(Refusal::NotAllowed);
        }
        let (entry, _) = self.verify_logged(&req.logged)?;
        let LogEntry::LegalHoldReleased(lh) = entry else {
            return Err(Refusal::Malformed {
                what: "not a legal-hold-released entry",
            });
        };
        self.end_hold(lh.hold);
        Ok(())
    }

    /// Destroys a hold's identity and headers here.
    fn end_hold(&self, hold: HoldId) -> bool {
        end_hold(&self.0.keystore, &self.0.holds, hold, self.0.clock.now())
    }

    /// Destroys this custodian's identity for `epoch` now, before its deadline (an
    /// epoch may be erased early, never late), and logs it (**RET-8**). Idempotent.
    ///
    /// # Errors
    /// [`KeystoreError`] if the file cannot be scrubbed; the next tick retries.
    pub async fn destroy_epoch(&self, epoch: EpochId) -> Result<UnixTime, KeystoreError> {
        let now = self.0.clock.now();
        let d = self
            .0
            .keystore
            .write()
            .map_err(|_| KeystoreError::Poisoned)?
            .destroy_epoch(epoch, now)?;
        if d.newly {
            let entry = LogEntry::EpochKeyDestroyed {
                custodian: self.0.id.clone(),
                epoch,
                destroyed_at: d.destroyed_at,
            };
            if self.log(std::slice::from_ref(&entry)).await.is_err() {
                self.push_outbox(vec![entry]);
            }
        }
        Ok(d.destroyed_at)
    }

    // ---- the schedule ------------------------------------------------------------------

    /// Runs the custodian's schedule once (**RET-8**, **RET-9**, **RET-33**,
    /// **RET-40**). First what needs no one else, before any network call: destroys
    /// every identity whose content deadline has passed (and finishes any destruction an
    /// error left unfinished), ends expired holds, makes the current and next epochs'
    /// identities. Then, within [`NETWORK_BUDGET`] in all: publishes the recipients,
    /// completes unfinished holds, and logs what waits in the outbox. An operator that
    /// hangs, fails or answers without end delays only the second half; the entries of
    /// the first wait in the outbox, each with the time of what it records.
    pub async fn tick(&self) -> TickReport {
        let _one = self.0.tick_lock.lock().await;
        let now = self.0.clock.now();
        let mut report = destroy_due(
            &self.0.keystore,
            &self.0.holds,
            &self.0.outbox,
            self.0.role,
            &self.0.id,
            &self.0.policy,
            now,
        );
        let policy = &self.0.policy;

        // Identities ahead of their epoch, and their signed recipients.
        let mut to_publish = Vec::new();
        if let Some(current) = policy.epoch_at(now)
            && let Ok(mut ks) = self.0.keystore.write()
        {
            for e in [Some(current), current.next()].into_iter().flatten() {
                if policy.content_deadline(e) <= now || ks.destroyed_at(e).is_some() {
                    continue;
                }
                match ks.generate_epoch(e) {
                    Ok(true) => report.generated.push(e),
                    Ok(false) => {}
                    Err(err) => {
                        tracing::error!(error = %err, epoch = e.get(), "cannot make an epoch identity")
                    }
                }
                let published = self.0.published.lock().is_ok_and(|p| p.contains(&e))
                    || self.0.conflicting.lock().is_ok_and(|c| c.contains(&e));
                if !published
                    && let Ok(r) = ks
                        .keyring()
                        .publish(e, policy.epoch_end(e), ks.signing_key())
                {
                    to_publish.push((e, r));
                }
            }
        }

        // The network half, bounded as a whole.
        let network = async {
            for (e, r) in to_publish {
                match self.0.link.publish(&r).await {
                    Ok(()) => {
                        if let Ok(mut p) = self.0.published.lock() {
                            p.insert(e);
                        }
                        report.published.push(e);
                    }
                    Err(LinkError::OperatorRefused(OperatorRefusal::RecipientAlreadyPublished)) => {
                        // Not a failure to retry: the operator keeps the first recipient
                        // of each epoch and custodian (SEAL-23), so every retry would be
                        // refused alike. Said once, loudly: the keystore was restored or
                        // replaced, or someone else holds this custodian's signing key.
                        tracing::error!(
                            epoch = e.get(),
                            recipient = %r.recipient.recipient,
                            "the operator already holds a different recipient of this custodian for this epoch (recipient_already_published, SEAL-23): devices seal this epoch's check-ins to that one, which this keystore may not open; find out why (a restored or replaced keystore, or a copied signing key) before the epoch starts"
                        );
                        if let Ok(mut c) = self.0.conflicting.lock() {
                            c.insert(e);
                        }
                        report.conflicting.push(e);
                    }
                    Err(_) => {}
                }
            }
            if self.0.role == CustodianRole::Agency {
                let unfinished: Vec<HoldId> = self
                    .0
                    .holds
                    .lock()
                    .map(|h| {
                        h.all()
                            .filter(|(_, m)| !(m.operator_told && m.rewrapped))
                            .filter(|(_, m)| m.legal_hold().is_ok_and(|lh| lh.expires > now))
                            .map(|(k, _)| k)
                            .collect()
                    })
                    .unwrap_or_default();
                for h in unfinished {
                    self.complete_hold(h).await;
                }
            }
            let pending: Vec<LogEntry> = self
                .0
                .outbox
                .lock()
                .map(|o| o.pending().to_vec())
                .unwrap_or_default();
            for chunk in pending.chunks(256) {
                if self.log(chunk).await.is_err() {
                    break;
                }
                if let Ok(mut o) = self.0.outbox.lock() {
                    let _ = o.drop_first(chunk.len());
                }
                report.logged += chunk.len();
            }
        };
        if tokio::time::timeout(NETWORK_BUDGET, network).await.is_err() {
            tracing::warn!(
                budget_s = NETWORK_BUDGET.as_secs(),
                "the schedule's network calls ran out of time; what is left is retried at the next tick"
            );
        }
        report.pending = self.pending_entries().len();
        report
    }
}

/// Destroys a hold's identity and headers (**RET-33**). Returns whether the identity
/// was destroyed by this call.
fn end_hold(
    keystore: &RwLock<Keystore>,
    holds: &Mutex<HoldBook>,
    hold: HoldId,
    now: UnixTime,
) -> bool {
    let destroyed = match keystore.write() {
        Ok(mut k) => match k.destroy_hold(hold, now) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "a hold identity's destruction failed; retried at the next tick");
                false
            }
        },
        Err(_) => false,
    };
    if let Ok(mut h) = holds.lock()
        && let Err(e) = h.remove(hold)
    {
        tracing::error!(error = %e, "cannot remove a hold's headers");
    }
    destroyed
}

/// The half of the schedule that needs no one else (**RET-40**): destroys every epoch
/// identity past its content deadline, finishes destructions an error interrupted, ends
/// expired holds and orphaned hold identities, and keeps their log entries in the
/// outbox. Runs at start, before any network call, and first in every tick.
fn destroy_due(
    keystore: &RwLock<Keystore>,
    holds: &Mutex<HoldBook>,
    outbox: &Mutex<Outbox>,
    role: CustodianRole,
    id: &CustodianId,
    policy: &Policy,
    now: UnixTime,
) -> TickReport {
    let mut report = TickReport::default();
    let mut entries = Vec::new();
    let due: Vec<EpochId> = keystore
        .read()
        .map(|k| {
            k.keyring()
                .live_epochs()
                .filter(|&e| policy.content_deadline(e) <= now.plus(DESTROY_AHEAD_SECONDS))
                .collect()
        })
        .unwrap_or_default();
    for e in due {
        let done = keystore.write().ok().map(|mut k| k.destroy_epoch(e, now));
        match done {
            Some(Ok(d)) => {
                report.destroyed.push(e);
                entries.push(LogEntry::EpochKeyDestroyed {
                    custodian: id.clone(),
                    epoch: e,
                    destroyed_at: d.destroyed_at,
                });
            }
            Some(Err(err)) => {
                tracing::error!(error = %err, epoch = e.get(), "epoch key destruction failed; finished at the next tick");
            }
            None => {}
        }
    }
    if let Ok(mut k) = keystore.write()
        && k.has_unfinished_destructions()
        && let Err(err) = k.finish_destructions()
    {
        tracing::error!(error = %err, "a destruction is still unfinished; retried at the next tick");
    }
    if !entries.is_empty() {
        push_outbox(outbox, entries);
    }

    // Expired holds end.
    let expired: Vec<(HoldId, LegalHold)> = holds
        .lock()
        .map(|h| {
            h.all()
                .filter_map(|(k, m)| m.legal_hold().ok().map(|lh| (k, lh)))
                .filter(|(_, lh)| lh.expires <= now)
                .collect()
        })
        .unwrap_or_default();
    for (h, lh) in expired {
        if role == CustodianRole::Agency {
            push_outbox(outbox, vec![LogEntry::LegalHoldReleased(lh)]);
        }
        end_hold(keystore, holds, h, now);
        report.holds_ended.push(h);
    }
    // A hold identity with no hold record (a crash between the two) is destroyed.
    let orphans: Vec<HoldId> = {
        let known: BTreeSet<HoldId> = holds
            .lock()
            .map(|b| b.all().map(|(k, _)| k).collect())
            .unwrap_or_default();
        keystore
            .read()
            .map(|k| k.live_holds().filter(|h| !known.contains(h)).collect())
            .unwrap_or_default()
    };
    for h in orphans {
        end_hold(keystore, holds, h, now);
    }
    report
}

fn push_outbox(outbox: &Mutex<Outbox>, entries: Vec<LogEntry>) {
    if let Ok(mut o) = outbox.lock()
        && let Err(e) = o.push(entries)
    {
        tracing::error!(error = %e, "cannot keep log entries for later");
    }
}
