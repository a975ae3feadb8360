//! TLS 1.3 only, on rustls with ring; client certificates verified by rustls during the
//! handshake; certificates and keys from PEM files.
//!
//! Every listener offers TLS 1.3 and nothing weaker, HTTP/1.1 by ALPN, and keeps no
//! session tickets or resumption state keyed to a client: nothing that would let a
//! service recognise a client across connections beyond what it authenticates.

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
    #[cfg(any(test, feature = "dev-pki"))]
    #[error("generating a development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA cannot verify client certificates.
    #[error("client CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// Client certificates are required but no client CA is configured: nobody could
    /// connect.
    #[error("no client CA is configured")]
    NoClientCa,
    /// A CA certificate that does not parse.
    #[error("a CA certificate does not parse")]
    BadCa,
    /// No TLS files are configured, and this build has no development PKI
    /// (`--no-default-features`): configure a certificate and key (**SVC-15**).
    #[error(
        "no TLS certificate is configured, and this build has no development PKI: configure a certificate and key"
    )]
    NoDevelopmentPki,
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
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
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(io(path))?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Pem {
        path: path.to_owned(),
        what: "private key",
    })
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

/// Whether a listener asks its clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Verified against the CAs when presented, but not required at the handshake (the
    /// operator: participants sign their requests instead; officers present one).
    Optional,
    /// Required: a connection without a valid one fails in the handshake, before any
    /// request is read (the custodians, **ACC-1**).
    Required,
}

/// The rustls server configuration every listener uses: TLS 1.3 only, ring, HTTP/1.1,
/// client certificates verified against `client_cas` (as `auth` says), no session
/// resumption state.
///
/// # Errors
/// [`TlsError`]; [`TlsError::NoClientCa`] if `auth` is [`ClientAuth::Required`] and
/// `client_cas` is empty.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: &[CertificateDer<'static>],
    auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in client_cas {
        roots.add(c.clone())?;
    }
    if roots.is_empty() && auth == ClientAuth::Required {
        return Err(TlsError::NoClientCa);
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = if roots.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = match auth {
            ClientAuth::Optional => verifier.allow_unauthenticated().build()?,
            ClientAuth::Required => verifier.build()?,
        };
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session tickets or resumption state keyed to a client: nothing that would let a
    // service recognise a client across connections beyond what it authenticates.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The client certificate a connection presented (already verified by rustls), if any.
pub fn peer_certificate(conn: &rustls::ServerConnection) -> Option<&CertificateDer<'static>> {
    conn.peer_certificates().and_then(|c| c.first())
}

/// A certificate's role name: its subject's common name, if it is a well-formed role
/// pseudonym or service id (1 to 32 of `a-z`, `0-9`, `-`). Officers and services are named
/// this way; anything else (a person's name, an e-mail address) is not accepted.
pub fn role_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    let ok = (1..=32).contains(&cn.len())
        && cn
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| cn.to_owned())
}

/// A certificate's issuer name, DER-encoded.
pub fn issuer(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.issuer().as_raw().to_vec())
}

/// A certificate's subject name, DER-encoded (a CA's, to compare with the issuer of the
/// certificates it issued).
///
/// # Errors
/// [`TlsError::BadCa`] if it does not parse.
pub fn subject(cert: &CertificateDer<'_>) -> Result<Vec<u8>, TlsError> {
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| TlsError::BadCa)?;
    Ok(parsed.subject().as_raw().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_pki::{DevCa, self_signed_server};

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    #[test]
    fn role_names_issuers_and_fingerprints() {
        let ca = DevCa::generate("a CA").unwrap();
        let officer = ca.issue_client("officer-7f3a").unwrap();
        let cert = der(&officer.cert);
        assert_eq!(role_name(&cert).as_deref(), Some("officer-7f3a"));
        assert_eq!(issuer(&cert).unwrap(), subject(&der(&ca.cert)).unwrap());
        let badly_named = ca.issue_client("Jane Doe").unwrap();
        assert_eq!(role_name(&der(&badly_named.cert)), None);
        let server = self_signed_server("minimis development server").unwrap();
        assert_eq!(role_name(&der(&server.cert)), None, "not a role pseudonym");
        assert_eq!(fingerprint(&der(&server.cert)).len(), 32 * 3 - 1);
    }

    #[test]
    fn required_client_auth_needs_a_ca_and_the_configuration_is_tls13_only() {
        let server = self_signed_server("s").unwrap();
        let key = || PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap();
        assert!(matches!(
            server_config(vec![der(&server.cert)], key(), &[], ClientAuth::Required),
            Err(TlsError::NoClientCa)
        ));
        let c = server_config(vec![der(&server.cert)], key(), &[], ClientAuth::Optional).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(c.send_tls13_tickets, 0);
    }

    #[test]
    fn pem_files_without_what_is_asked_for_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();
        assert!(matches!(
            read_certs(&empty),
            Err(TlsError::Pem {
                what: "certificate",
                ..
            })
        ));
        assert!(matches!(
            read_key(&empty),
            Err(TlsError::Pem {
                what: "private key",
                ..
            })
        ));
        assert!(matches!(
            read_certs(&dir.path().join("missing")),
            Err(TlsError::Io { .. })
        ));
    }
}
