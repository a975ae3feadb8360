//! TLS 1.3 with client certificates required (**ACC-1**): every caller of a custodian
//! presents a certificate from a CA configured for its class (officers, the operator,
//! the agency custodian), and is named by the certificate's common name. A connection
//! without a valid certificate fails in the handshake, before any request is read.
//!
//! The class is the CA that issued the certificate: a client certificate must be issued
//! directly by one of the configured CAs (no intermediates), and each class must have
//! its own CA.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "dev-pki")]
pub use minimis_service::dev_pki::{DevCa, PemPair};
pub use minimis_service::tls::{TlsError, read_certs, read_key};

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
        let issuer = minimis_service::tls::issuer(leaf)?;
        let class = self
            .subjects
            .iter()
            .find(|(s, _)| *s == issuer)
            .map(|(_, c)| *c)?;
        let name = minimis_service::tls::role_name(leaf)?;
        Some(Caller { class, name })
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
    let mut subjects = Vec::new();
    let mut cas = Vec::new();
    for (class, certs) in clients {
        for c in certs {
            subjects.push((minimis_service::tls::subject(c)?, *class));
            cas.push(c.clone());
        }
    }
    // Required: the handshake fails without a client certificate from one of the CAs.
    let config = minimis_service::tls::server_config(
        chain,
        key,
        &cas,
        minimis_service::tls::ClientAuth::Required,
    )?;
    Ok((config, Classifier { subjects }))
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
#[cfg(feature = "dev-pki")]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject as _;

    #[test]
    fn acc_1_callers_are_classified_by_their_ca_and_named_by_their_cn() {
        let officers = DevCa::generate("officer CA").unwrap();
        let operator = DevCa::generate("operator CA").unwrap();
        let server = officers.issue_server("custodian").unwrap();
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
