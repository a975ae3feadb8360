//! TLS 1.3 only, on rustls with ring ([`minimis_service::tls`]); officers authenticate
//! with client certificates.
//!
//! Participants connect without a client certificate (they sign their requests with their
//! device key); officers present a certificate issued by the configured officer CA, and the
//! officer's id is its certificate's common name. Certificates are verified by rustls during
//! the handshake; a connection without one is served, but every officer route refuses it.
//!
//! `minimis serve` with no TLS configuration makes a development PKI in the data directory
//! on first start (cargo feature `dev-pki`, on by default): a self-signed server
//! certificate, an officer CA, and one officer certificate (`officer-0001`), and prints the
//! server certificate's fingerprint. A build without the feature refuses to start without
//! a configured certificate, key and officer CA (**SVC-15**).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use minimis_service::tls::{TlsError, fingerprint, read_certs, read_key};

/// The rustls configuration: TLS 1.3 only (**POL-20**'s companion: nothing weaker is
/// offered), ring, HTTP/1.1, and client certificates verified against `officer_ca` but not
/// required at the handshake.
///
/// # Errors
/// [`TlsError`].
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    officer_ca: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    minimis_service::tls::server_config(
        chain,
        key,
        officer_ca,
        minimis_service::tls::ClientAuth::Optional,
    )
}

/// The officer's id from a verified client certificate: its common name, if it is a
/// well-formed role pseudonym (1 to 32 of `a-z`, `0-9`, `-`).
pub fn officer_id(cert: &CertificateDer<'_>) -> Option<String> {
    minimis_service::tls::role_name(cert)
}

#[cfg(feature = "dev-pki")]
pub use dev::{DevPki, PemPair};

/// The development PKI's files in a data directory.
#[cfg_attr(not(feature = "dev-pki"), allow(dead_code))]
pub(crate) struct DevFiles {
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    pub(crate) officer_ca: PathBuf,
    pub(crate) officer_cert: PathBuf,
    pub(crate) officer_key: PathBuf,
}

/// Loads the development PKI from `dir`, making it on first start.
#[cfg(feature = "dev-pki")]
pub(crate) fn dev_files(dir: &Path) -> Result<DevFiles, TlsError> {
    dev::files(dir)
}

/// This build has no development PKI (**SVC-15**).
#[cfg(not(feature = "dev-pki"))]
pub(crate) fn dev_files(_dir: &Path) -> Result<DevFiles, TlsError> {
    Err(TlsError::NoDevelopmentPki)
}

#[cfg(feature = "dev-pki")]
mod dev {
    use std::path::Path;

    pub use minimis_service::dev_pki::PemPair;
    use minimis_service::dev_pki::{DevCa, self_signed_server};

    use super::{DevFiles, TlsError};

    /// A development PKI: a self-signed server certificate for `localhost` and
    /// `127.0.0.1`, an officer CA, and officer client certificates. For development and
    /// tests only.
    #[derive(Debug)]
    pub struct DevPki {
        /// The server's certificate and key.
        pub server: PemPair,
        /// The officer CA's certificate.
        pub officer_ca: String,
        officers: DevCa,
    }

    impl DevPki {
        /// Generates a new development PKI.
        ///
        /// # Errors
        /// [`TlsError::Generate`].
        pub fn generate() -> Result<Self, TlsError> {
            let officers = DevCa::generate("minimis development officer CA")?;
            Ok(Self {
                server: self_signed_server("minimis development server")?,
                officer_ca: officers.cert.clone(),
                officers,
            })
        }

        /// Issues a client certificate whose common name is `officer` (an officer's role
        /// pseudonym, such as `officer-0001`).
        ///
        /// # Errors
        /// [`TlsError::Generate`].
        pub fn issue_officer(&self, officer: &str) -> Result<PemPair, TlsError> {
            self.officers.issue_client(officer)
        }
    }

    fn write(path: &Path, text: &str, secret: bool) -> Result<(), TlsError> {
        minimis_service::files::write_atomic(path, text.as_bytes(), secret).map_err(|e| {
            TlsError::Io {
                path: e.path,
                source: e.source,
            }
        })
    }

    pub(super) fn files(dir: &Path) -> Result<DevFiles, TlsError> {
        let files = DevFiles {
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            officer_ca: dir.join("officer-ca.crt"),
            officer_cert: dir.join("officer-0001.crt"),
            officer_key: dir.join("officer-0001.key"),
        };
        if files.server_cert.exists() && files.server_key.exists() && files.officer_ca.exists() {
            return Ok(files);
        }
        minimis_service::files::make_private_dir(dir).map_err(|e| TlsError::Io {
            path: e.path,
            source: e.source,
        })?;
        let pki = DevPki::generate()?;
        let officer = pki.issue_officer("officer-0001")?;
        write(&files.server_key, &pki.server.key, true)?;
        write(&files.server_cert, &pki.server.cert, false)?;
        write(&files.officer_ca, &pki.officer_ca, false)?;
        write(&files.officer_key, &officer.key, true)?;
        write(&files.officer_cert, &officer.cert, false)?;
        Ok(files)
    }
}

#[cfg(test)]
#[cfg(feature = "dev-pki")]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject as _;

    #[test]
    fn dev_pki_issues_officer_certificates_with_their_id() {
        let pki = DevPki::generate().unwrap();
        let officer = pki.issue_officer("officer-7f3a").unwrap();
        let cert = CertificateDer::from_pem_slice(officer.cert.as_bytes()).unwrap();
        assert_eq!(officer_id(&cert).as_deref(), Some("officer-7f3a"));
        let server = CertificateDer::from_pem_slice(pki.server.cert.as_bytes()).unwrap();
        assert_eq!(officer_id(&server), None, "not a role pseudonym");
        assert_eq!(fingerprint(&server).len(), 32 * 3 - 1);
        assert!(!format!("{officer:?}").contains("PRIVATE"));
        assert!(!format!("{pki:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_development_files_are_made_once_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let f = dev_files(&dir.path().join("tls")).unwrap();
        let first = std::fs::read(&f.server_cert).unwrap();
        let again = dev_files(&dir.path().join("tls")).unwrap();
        assert_eq!(std::fs::read(&again.server_cert).unwrap(), first);
        assert!(read_key(&f.officer_key).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for k in [&f.server_key, &f.officer_key] {
                let mode = std::fs::metadata(k).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", k.display());
            }
        }
    }
}
