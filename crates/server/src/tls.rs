//! TLS 1.3 only, on rustls with ring; officers authenticate with client certificates.
//!
//! Participants connect without a client certificate (they sign their requests with their
//! device key); officers present a certificate issued by the configured officer CA, and the
//! officer's id is its certificate's common name. Certificates are verified by rustls during
//! the handshake; a connection without one is served, but every officer route refuses it.
//!
//! `minimis serve` with no TLS configuration makes a development PKI in the data directory
//! on first start: a self-signed server certificate, an officer CA, and one officer
//! certificate (`officer-0001`), and prints the server certificate's fingerprint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file without a certificate or key in it.
    #[error("{path}: no {what} found in PEM")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// Generating a development certificate failed.
    #[error("generating a development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The officer CA cannot verify client certificates.
    #[error("officer CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a file, private to its owner when `secret`.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Reads every certificate of a PEM file.
///
/// # Errors
/// [`TlsError`] if the file cannot be read or holds no certificate.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file.
///
/// # Errors
/// [`TlsError`] if the file cannot be read or holds no key.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Pem {
        path: path.to_owned(),
        what: "private key",
    })
}

/// A certificate and its key, in PEM.
#[derive(Clone)]
pub struct PemPair {
    /// The certificate.
    pub cert: String,
    /// The PKCS#8 private key.
    pub key: String,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemPair")
            .field("cert", &"<pem>")
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A development PKI: a self-signed server certificate for `localhost` and `127.0.0.1`,
/// an officer CA, and officer client certificates. For development and tests only.
pub struct DevPki {
    /// The server's certificate and key.
    pub server: PemPair,
    /// The officer CA's certificate (its key is kept only to issue more officers).
    pub officer_ca: String,
    officer_issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPki").finish_non_exhaustive()
    }
}

impl DevPki {
    /// Generates a new development PKI.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn generate() -> Result<Self, TlsError> {
        let server_key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "minimis development server");
        let server_cert = params.self_signed(&server_key)?;

        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "minimis development officer CA");
        let ca_cert = ca.self_signed(&ca_key)?;
        Ok(Self {
            server: PemPair {
                cert: server_cert.pem(),
                key: server_key.serialize_pem(),
            },
            officer_ca: ca_cert.pem(),
            officer_issuer: rcgen::Issuer::new(ca, ca_key),
        })
    }

    /// Issues a client certificate whose common name is `officer` (an officer's role
    /// pseudonym, such as `officer-0001`).
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue_officer(&self, officer: &str) -> Result<PemPair, TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, officer);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.officer_issuer)?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// The SHA-256 fingerprint of a DER certificate, as colon-separated hex.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The development PKI's files in `dir`, made on first use.
pub(crate) struct DevFiles {
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    pub(crate) officer_ca: PathBuf,
    pub(crate) officer_cert: PathBuf,
    pub(crate) officer_key: PathBuf,
}

/// Loads the development PKI from `dir`, making it on first start.
pub(crate) fn dev_files(dir: &Path) -> Result<DevFiles, TlsError> {
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
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let pki = DevPki::generate()?;
    let officer = pki.issue_officer("officer-0001")?;
    write_file(&files.server_key, pki.server.key.as_bytes(), true)?;
    write_file(&files.server_cert, pki.server.cert.as_bytes(), false)?;
    write_file(&files.officer_ca, pki.officer_ca.as_bytes(), false)?;
    write_file(&files.officer_key, officer.key.as_bytes(), true)?;
    write_file(&files.officer_cert, officer.cert.as_bytes(), false)?;
    Ok(files)
}

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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in officer_ca {
        roots.add(c.clone())?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session tickets or resumption state keyed to a client: nothing that would let the
    // server recognise a device across connections beyond what it signs.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The officer's id from a verified client certificate: its common name, if it is a
/// well-formed role pseudonym (1 to 32 of `a-z`, `0-9`, `-`).
pub fn officer_id(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    let ok = (1..=32).contains(&cn.len())
        && cn
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| cn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
