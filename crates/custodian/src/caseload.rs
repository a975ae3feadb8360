//! Officers' caseloads (**ACC-3**): which participants, by pseudonym, each officer
//! supervises. The agency maintains the file; it holds no names.
//!
//! ```toml
//! [officers]
//! officer-7f3a = ["70736575646f6e796d2d303030303031", "…"]
//! ```
//!
//! The file is read again whenever it changes (its modification time, length or inode),
//! so that a case reassigned today is reflected in the next request without a restart;
//! replace it by renaming a new file over it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use minimis_log::entry::OfficerId;
use minimis_proto::Pseudonym;
use serde::Deserialize;

/// Why the caseload file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseloadError {
    /// It cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a caseload file.
    #[error("{path}: not a caseload file: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    officers: BTreeMap<String, Vec<Pseudonym>>,
}

type Stamp = (Option<SystemTime>, u64, u64);
type Loaded = (Stamp, BTreeMap<String, BTreeSet<Pseudonym>>);

/// The caseload file, cached until it changes.
#[derive(Debug)]
pub struct Caseload {
    path: PathBuf,
    cached: Mutex<Option<Loaded>>,
}

impl Caseload {
    /// The caseload in `path` (read at first use).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// Checks a caseload file's text as [`Caseload`] reads it, without a file (for tools
    /// and for the configuration reference's tests, CFG-2).
    ///
    /// # Errors
    /// The TOML error: not TOML, an unknown key, or a pseudonym that is not 32 hex digits.
    pub fn check_text(text: &str) -> Result<(), toml::de::Error> {
        toml::from_str::<Raw>(text).map(|_| ())
    }

    fn load(&self) -> Result<BTreeMap<String, BTreeSet<Pseudonym>>, CaseloadError> {
        let io = |source| CaseloadError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(io)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        let stamp: Stamp = (meta.modified().ok(), meta.len(), inode);
        if let Ok(g) = self.cached.lock()
            && let Some((s, map)) = g.as_ref()
            && *s == stamp
            && s.0.is_some()
        {
            return Ok(map.clone());
        }
        let text = std::fs::read_to_string(&self.path).map_err(io)?;
        let raw: Raw = toml::from_str(&text).map_err(|source| CaseloadError::Format {
            path: self.path.clone(),
            source,
        })?;
        let map: BTreeMap<String, BTreeSet<Pseudonym>> = raw
            .officers
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        if let Ok(mut g) = self.cached.lock() {
            *g = Some((stamp, map.clone()));
        }
        Ok(map)
    }

    /// Whether every one of `participants` is in `officer`'s caseload.
    ///
    /// # Errors
    /// [`CaseloadError`] if the file cannot be read: then nobody's caseload is known.
    pub fn covers(
        &self,
        officer: &OfficerId,
        participants: impl IntoIterator<Item = Pseudonym>,
    ) -> Result<bool, CaseloadError> {
        let map = self.load()?;
        let Some(mine) = map.get(officer.as_str()) else {
            return Ok(false);
        };
        Ok(participants.into_iter().all(|p| mine.contains(&p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_3_caseload_names_pseudonyms_per_officer_and_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caseload.toml");
        let a = Pseudonym::from_bytes([1; 16]);
        let b = Pseudonym::from_bytes([2; 16]);
        std::fs::write(&path, format!("[officers]\nofficer-1 = [\"{a}\"]\n")).unwrap();
        let c = Caseload::new(&path);
        let o1 = OfficerId::new("officer-1").unwrap();
        let o2 = OfficerId::new("officer-2").unwrap();
        assert!(c.covers(&o1, [a]).unwrap());
        assert!(
            !c.covers(&o1, [a, b]).unwrap(),
            "every participant must be covered"
        );
        assert!(!c.covers(&o2, [a]).unwrap());
        // Reassigned: the next request sees it.
        std::fs::write(
            &path,
            format!("[officers]\nofficer-1 = [\"{a}\", \"{b}\"]\nofficer-2 = []\n"),
        )
        .unwrap();
        assert!(c.covers(&o1, [a, b]).unwrap());
        std::fs::write(&path, "[officers]\nofficer-1 = [\"Alice Smith\"]\n").unwrap();
        assert!(c.covers(&o1, [a]).is_err(), "names are not pseudonyms");
    }
}
