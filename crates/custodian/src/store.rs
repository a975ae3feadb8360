//! A custodian's other durable state: the case book (**ACC-9**), the outbox of log
//! entries waiting for the log to come back (**ACC-6**, **RET-8**), and the legal holds
//! with their re-wrapped headers (**RET-31**).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_log::LogEntry;
use minimis_log::entry::{CaseCommitment, CaseRef, CaseSalt, HoldId, LegalHold};
use minimis_proto::RecordId;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::files::{self, FileError};
use crate::protocol::LoggedEntry;
use crate::rewrap::HeldHeader;

/// Why the custodian's state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file.
    #[error(transparent)]
    File(#[from] FileError),
    /// A file that is not what this custodian writes.
    #[error("{path}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
}

fn corrupt(path: &Path, what: &'static str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        what,
    }
}

// ---- the case book --------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseLine {
    case: String,
    salt: String,
    reference: String,
}

/// The agency custodian's case book: for each case commitment it logged, the salt and
/// the reference, so that it can open the commitment to an auditor or a court
/// (**ACC-9**). Append-only, synced before the entry is logged. The salt is kept like a
/// secret (the file is private to the custodian): anyone holding it can test guesses of
/// the reference.
#[derive(Debug)]
pub struct CaseBook {
    path: PathBuf,
}

impl CaseBook {
    /// The case book in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("casebook.jsonl"),
        }
    }

    /// Appends `commitment`'s salt and reference, durably.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn record(
        &self,
        commitment: &CaseCommitment,
        salt: &CaseSalt,
        reference: &CaseRef,
    ) -> Result<(), StoreError> {
        let line = CaseLine {
            case: hex::encode(commitment.as_bytes()),
            salt: hex::encode(salt.expose_secret()),
            reference: reference.as_str().to_owned(),
        };
        let mut text = Zeroizing::new(
            serde_json::to_string(&line).map_err(|_| corrupt(&self.path, "cannot encode"))?,
        );
        text.push('\n');
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.path).map_err(files::io(&self.path))?;
        f.write_all(text.as_bytes())
            .map_err(files::io(&self.path))?;
        f.sync_all().map_err(files::io(&self.path))?;
        Ok(())
    }

    /// The salt and reference of `commitment`, checked to open it.
    ///
    /// # Errors
    /// [`StoreError`] if the book cannot be read.
    pub fn open(
        &self,
        commitment: &CaseCommitment,
    ) -> Result<Option<(CaseSalt, CaseRef)>, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(files::io(&self.path)(e).into()),
        };
        let want = hex::encode(commitment.as_bytes());
        for line in text.lines() {
            let l: CaseLine =
                serde_json::from_str(line).map_err(|_| corrupt(&self.path, "bad line"))?;
            if l.case != want {
                continue;
            }
            let mut salt = [0u8; 32];
            hex::decode_to_slice(&l.salt, &mut salt).map_err(|_| corrupt(&self.path, "salt"))?;
            let salt = CaseSalt::from_bytes(salt);
            let reference =
                CaseRef::new(&l.reference).map_err(|_| corrupt(&self.path, "reference"))?;
            if commitment.opens_to(&salt, &reference) {
                return Ok(Some((salt, reference)));
            }
        }
        Ok(None)
    }
}

// ---- the outbox -----------------------------------------------------------------------

/// Log entries decided but not yet logged, because the log was unavailable: destruction
/// records, refusals, hold releases. Kept on disk and logged at the next tick. Nothing in
/// it is waited for: a key is destroyed, and a refusal refused, before its entry is
/// logged.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    entries: Vec<LogEntry>,
}

impl Outbox {
    /// The outbox in `dir`, as left by the last run.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("outbox.json");
        let entries = match std::fs::read_to_string(&path) {
            Ok(t) => {
                let v: Vec<String> =
                    serde_json::from_str(&t).map_err(|_| corrupt(&path, "not a list"))?;
                v.iter()
                    .map(|b| {
                        B64.decode(b)
                            .ok()
                            .and_then(|bytes| LogEntry::decode(&bytes).ok())
                            .ok_or_else(|| corrupt(&path, "not a log entry"))
                    })
                    .collect::<Result<_, _>>()?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(files::io(&path)(e).into()),
        };
        Ok(Self { path, entries })
    }

    fn save(&self) -> Result<(), StoreError> {
        let v: Vec<String> = self
            .entries
            .iter()
            .map(|e| B64.encode(e.encode()))
            .collect();
        let json = serde_json::to_vec(&v).map_err(|_| corrupt(&self.path, "cannot encode"))?;
        files::write_atomic(&self.path, &json, false)?;
        Ok(())
    }

    /// Adds entries, durably.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn push(&mut self, entries: impl IntoIterator<Item = LogEntry>) -> Result<(), StoreError> {
        self.entries.extend(entries);
        self.save()
    }

    /// The entries waiting.
    pub fn pending(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Removes the first `n` entries (they were logged).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn drop_first(&mut self, n: usize) -> Result<(), StoreError> {
        self.entries.drain(..n.min(self.entries.len()));
        self.save()
    }
}

// ---- legal holds ----------------------------------------------------------------------

/// What a custodian keeps about one legal hold.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HoldMeta {
    /// The hold, as logged.
    pub hold: String,
    /// The `legal hold placed` entry and its proof.
    pub placed: LoggedEntry,
    /// Whether the operator was told to keep the records (agency custodian).
    pub operator_told: bool,
    /// Whether every record's layer of this custodian is re-wrapped.
    pub rewrapped: bool,
}

impl HoldMeta {
    /// The hold as logged.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if the stored entry is not a `legal hold placed`.
    pub fn legal_hold(&self) -> Result<LegalHold, StoreError> {
        let bytes = B64
            .decode(&self.placed.entry)
            .map_err(|_| corrupt(Path::new(&self.hold), "entry"))?;
        match LogEntry::decode(&bytes) {
            Ok(LogEntry::LegalHoldPlaced(h)) => Ok(h),
            _ => Err(corrupt(Path::new(&self.hold), "entry")),
        }
    }
}

/// The holds this custodian keeps, each in its own directory:
/// `holds/<hold id>/hold.json` and one `<record id>.hdr` per re-wrapped record.
#[derive(Debug)]
pub struct HoldBook {
    dir: PathBuf,
    holds: BTreeMap<HoldId, HoldMeta>,
}

fn hold_hex(h: HoldId) -> String {
    hex::encode(h.as_bytes())
}

impl HoldBook {
    /// The holds under `dir`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let dir = dir.join("holds");
        files::make_private_dir(&dir)?;
        let mut holds = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(files::io(&dir))? {
            let path = entry.map_err(files::io(&dir))?.path();
            let meta_path = path.join("hold.json");
            let Ok(text) = std::fs::read_to_string(&meta_path) else {
                // A hold directory without its record: a release interrupted after the
                // record was removed; finish it.
                remove_dir_scrubbed(&path)?;
                continue;
            };
            let meta: HoldMeta =
                serde_json::from_str(&text).map_err(|_| corrupt(&meta_path, "not a hold"))?;
            let mut b = [0u8; 16];
            hex::decode_to_slice(&meta.hold, &mut b).map_err(|_| corrupt(&meta_path, "id"))?;
            holds.insert(HoldId::from_bytes(b), meta);
        }
        Ok(Self { dir, holds })
    }

    fn hold_dir(&self, h: HoldId) -> PathBuf {
        self.dir.join(hold_hex(h))
    }

    /// Stores (or updates) a hold.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn save(&mut self, h: HoldId, meta: HoldMeta) -> Result<(), StoreError> {
        let d = self.hold_dir(h);
        files::make_private_dir(&d)?;
        let json = serde_json::to_vec_pretty(&meta).map_err(|_| corrupt(&d, "cannot encode"))?;
        files::write_atomic(&d.join("hold.json"), &json, true)?;
        self.holds.insert(h, meta);
        Ok(())
    }

    /// A hold's record.
    pub fn get(&self, h: HoldId) -> Option<&HoldMeta> {
        self.holds.get(&h)
    }

    /// Every hold.
    pub fn all(&self) -> impl Iterator<Item = (HoldId, &HoldMeta)> {
        self.holds.iter().map(|(h, m)| (*h, m))
    }

    /// Stores a record's re-wrapped header.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_header(
        &self,
        h: HoldId,
        record: RecordId,
        header: &HeldHeader,
    ) -> Result<(), StoreError> {
        let d = self.hold_dir(h);
        files::make_private_dir(&d)?;
        files::write_atomic(&d.join(format!("{record}.hdr")), header.as_bytes(), true)?;
        Ok(())
    }

    /// A record's re-wrapped header under hold `h`.
    pub fn header(&self, h: HoldId, record: RecordId) -> Option<HeldHeader> {
        let bytes = std::fs::read(self.hold_dir(h).join(format!("{record}.hdr"))).ok()?;
        HeldHeader::from_bytes(bytes).ok()
    }

    /// The holds covering `record` with a stored header.
    pub fn covering(&self, record: RecordId) -> Vec<HoldId> {
        self.holds
            .iter()
            .filter(|(_, m)| {
                m.legal_hold()
                    .is_ok_and(|l| l.records.as_slice().contains(&record))
            })
            .map(|(h, _)| *h)
            .collect()
    }

    /// Removes a hold and scrubs its headers.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove(&mut self, h: HoldId) -> Result<(), StoreError> {
        let d = self.hold_dir(h);
        // The record first: a crash after it leaves a directory that the next open
        // finishes removing.
        files::scrub_and_unlink(&d.join("hold.json"))?;
        self.holds.remove(&h);
        remove_dir_scrubbed(&d)
    }
}

fn remove_dir_scrubbed(d: &Path) -> Result<(), StoreError> {
    match std::fs::read_dir(d) {
        Ok(entries) => {
            for e in entries {
                files::scrub_and_unlink(&e.map_err(files::io(d))?.path())?;
            }
            std::fs::remove_dir(d).map_err(files::io(d))?;
            if let Some(parent) = d.parent() {
                files::sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(files::io(d)(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_9_the_case_book_opens_each_commitment_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let book = CaseBook::new(dir.path());
        let salt = CaseSalt::generate().unwrap();
        let reference = CaseRef::new("HOU-2025-004211").unwrap();
        let c = CaseCommitment::new(&salt, &reference);
        assert!(book.open(&c).unwrap().is_none());
        book.record(&c, &salt, &reference).unwrap();
        let (s, r) = book.open(&c).unwrap().unwrap();
        assert_eq!(r, reference);
        assert_eq!(s.expose_secret(), salt.expose_secret());
        let other = CaseCommitment::new(&CaseSalt::generate().unwrap(), &reference);
        assert!(book.open(&other).unwrap().is_none());
    }

    #[test]
    fn outbox_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let e = LogEntry::EpochKeyDestroyed {
            custodian: minimis_log::entry::CustodianId::new("agency").unwrap(),
            epoch: minimis_proto::EpochId::new(3),
            destroyed_at: minimis_proto::UnixTime(9),
        };
        let mut o = Outbox::open(dir.path()).unwrap();
        o.push([e.clone(), e.clone()]).unwrap();
        let mut o = Outbox::open(dir.path()).unwrap();
        assert_eq!(o.pending(), &[e.clone(), e.clone()]);
        o.drop_first(1).unwrap();
        assert_eq!(Outbox::open(dir.path()).unwrap().pending(), &[e]);
    }
}
