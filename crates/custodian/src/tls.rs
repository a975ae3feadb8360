//! TLS 1.3 with client certificates required (**ACC-1**): every caller of a custodian
//! presents a certificate from a CA configured for its class (officers, the operator,
//! the agency custodian), and is named by the certificate's common name. A connection
//! without a valid certificate fails in the handshake, before any request is read.
//!
//! The class is the CA that issued the certificate: a client certificate must be issued
//! directly by one of the configured CAs (no intermediates), and each class must have
//! its own CA.

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
    /// A CA cannot verify client certificates.
    #[error("client CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// No client CA at all: nobody could connect.
    #[error("no client CA is configured")]
    NoClientCa,
    /// A CA certificate that does not parse.
    #[error("a CA certificate does not parse")]
    BadCa,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
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
    let bytes = std::fs::read(path).map_err(io(path))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Pem {
        path: path.to_owned(),
        what: "private key",
    })
}

/// Who may call a custodian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientClass {
    /// An officer (agency custodian): opens records, places and releases holds.
    Officer,
    /// The operator (oversight custodian): asks the witness to cosign.
    Operator,
    /// The agency custodian (oversight custodian): asks for the outer layer.
    AgencyCustodian,
}

/// An authenticated caller: its class and the common name of its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Officer, operator or agency custodian.
    pub class: ClientClass,
    /// The certificate's common name (an officer id, a custodian id).
    pub name: String,
}

/// Tells callers apart by the CA that issued their certificate.
#[derive(Clone, Debug)]
pub struct Classifier {
    subjects: Vec<(Vec<u8>, ClientClass)>,
}

impl Classifier {
    /// The caller presenting `leaf` (already verified by rustls against one of the
    /// CAs), if its issuer is a configured CA and its common name is 1 to 32 of `a-z`,
    /// `0-9`, `-`.
    pub fn classify(&self, leaf: &CertificateDer<'_>) -> Option<Caller> {
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
        let issuer = cert.issuer().as_raw();
        let class = self
            .subjects
            .iter()
            .find(|(s, _)| s.as_slice() == issuer)
            .map(|(_, c)| *c)?;
        let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
        let ok = (1..=32).contains(&cn.len())
            && cn
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| Caller {
            class,
            name: cn.to_owned(),
        })
    }
}

/// The rustls server configuration: TLS 1.3 only, ring, HTTP/1.1, a client certificate
/// required and verified against `clients`' CAs, no session resumption state.
///
/// # Errors
/// [`TlsError`].
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: &[(ClientClass, Vec<CertificateDer<'static>>)],
) -> Result<(Arc<rustls::ServerConfig>, Classifier), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let mut subjects = Vec::new();
    for (class, certs) in clients {
        for c in certs {
            roots.add(c.clone())?;
            let (_, parsed) =
                x509_parser::parse_x509_certificate(c.as_ref()).map_err(|_| TlsError::BadCa)?;
            subjects.push((parsed.subject().as_raw().to_vec(), *class));
        }
    }
    if subjects.is_empty() {
        return Err(TlsError::NoClientCa);
    }
    // No `allow_unauthenticated`: the handshake fails without a client certificate.
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok((Arc::new(config), Classifier { subjects }))
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

/// A development certificate authority: issues client certificates with a common name,
/// and server certificates for `localhost` and `127.0.0.1`. For development and tests
/// only.
pub struct DevCa {
    /// The CA's certificate, PEM.
    pub cert: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

impl DevCa {
    /// A new CA named `name`.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn generate(name: &str) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ca.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = ca.self_signed(&key)?;
        Ok(Self {
            cert: cert.pem(),
            issuer: rcgen::Issuer::new(ca, key),
        })
    }

    /// A client certificate whose common name is `cn`.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue_client(&self, cn: &str) -> Result<PemPair, TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue_server(&self) -> Result<PemPair, TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "minimis development custodian");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// Writes a file, private to its owner when `secret`.
///
/// # Errors
/// [`TlsError::Io`].
pub fn write_pem(path: &Path, text: &str, secret: bool) -> Result<(), TlsError> {
    crate::files::write_atomic(path, text.as_bytes(), secret).map_err(|e| TlsError::Io {
        path: e.path,
        source: e.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_1_callers_are_classified_by_their_ca_and_named_by_their_cn() {
        let officers = DevCa::generate("officer CA").unwrap();
        let operator = DevCa::generate("operator CA").unwrap();
        let server = officers.issue_server().unwrap();
        let der = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let (_, classifier) = server_config(
            vec![der(&server.cert)],
            PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap(),
            &[
                (ClientClass::Officer, vec![der(&officers.cert)]),
                (ClientClass::Operator, vec![der(&operator.cert)]),
            ],
        )
        .unwrap();
        let o = officers.issue_client("officer-7f3a").unwrap();
        assert_eq!(
            classifier.classify(&der(&o.cert)),
            Some(Caller {
                class: ClientClass::Officer,
                name: "officer-7f3a".into()
            })
        );
        let op = operator.issue_client("operator").unwrap();
        assert_eq!(
            classifier.classify(&der(&op.cert)).unwrap().class,
            ClientClass::Operator
        );
        let stranger = DevCa::generate("other")
            .unwrap()
            .issue_client("officer-1")
            .unwrap();
        assert_eq!(classifier.classify(&der(&stranger.cert)), None);
        let badly_named = officers.issue_client("Jane Doe").unwrap();
        assert_eq!(classifier.classify(&der(&badly_named.cert)), None);
        assert!(!format!("{o:?}").contains("PRIVATE"));
    }
}
