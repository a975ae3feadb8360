//! What a service's configuration file shares with every other's: the policy file, and
//! the `[limits]` ([`crate::limits::RawLimits`]) and `[request_log]`
//! ([`crate::request_log::RawRequestLog`]) sections.

use std::path::{Path, PathBuf};

use minimis_proto::Policy;

/// The policy file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    /// It could not be read.
    #[error("policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a valid policy.
    #[error("policy {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        source: minimis_proto::policy::PolicyError,
    },
}

/// The policy in force and its text: the file at `path`, or the embedded reference
/// policy when `None`.
///
/// # Errors
/// [`PolicyFileError`].
pub fn load_policy(path: Option<&Path>) -> Result<(Policy, String), PolicyFileError> {
    match path {
        None => Ok((
            minimis_proto::default_policy(),
            minimis_proto::DEFAULT_POLICY_TOML.to_owned(),
        )),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| PolicyFileError::Read {
                path: p.to_owned(),
                source,
            })?;
            let policy =
                Policy::from_toml_str(&text).map_err(|source| PolicyFileError::Invalid {
                    path: p.to_owned(),
                    source,
                })?;
            Ok((policy, text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_policy_by_default_and_a_bad_file_is_refused_with_its_path() {
        let (p, text) = load_policy(None).unwrap();
        assert_eq!(p, Policy::from_toml_str(&text).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("p.toml");
        std::fs::write(&bad, "format = 1").unwrap();
        let e = load_policy(Some(&bad)).unwrap_err();
        assert!(matches!(e, PolicyFileError::Invalid { .. }));
        assert!(e.to_string().contains("p.toml"));
        assert!(matches!(
            load_policy(Some(&dir.path().join("missing"))),
            Err(PolicyFileError::Read { .. })
        ));
    }
}
