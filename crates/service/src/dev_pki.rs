//! A development PKI: certificate authorities and certificates made on the spot with
//! `rcgen`, so that a service, the demo and the tests run over real TLS with nothing to
//! provision.
//!
//! **For development, tests and the demo only.** A production deployment configures its
//! own certificates and keys (PEM files); a build without the `dev-pki` feature has no
//! certificate generator at all, and a service configured without TLS files then refuses
//! to start (**SVC-15**). The keys made here are written to the data directory, private to
//! its owner, which is not how a production key is kept.

use zeroize::Zeroizing;

use crate::tls::TlsError;

/// A certificate and its key, in PEM.
#[derive(Clone)]
pub struct PemPair {
    /// The certificate.
    pub cert: String,
    /// The PKCS#8 private key (secret: zeroized on drop, never printed).
    pub key: Zeroizing<String>,
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
/// and server certificates for `localhost` and `127.0.0.1`.
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

    /// A client certificate whose common name is `cn` (an officer's role pseudonym such as
    /// `officer-0001`, a custodian's id, `operator`).
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
            key: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// A server certificate for `localhost` and `127.0.0.1`, named `cn`.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue_server(&self, cn: &str) -> Result<PemPair, TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = server_params(cn)?;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(PemPair {
            cert: cert.pem(),
            key: Zeroizing::new(key.serialize_pem()),
        })
    }
}

fn server_params(cn: &str) -> Result<rcgen::CertificateParams, TlsError> {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    Ok(params)
}

/// A self-signed server certificate for `localhost` and `127.0.0.1`, named `cn`: clients
/// trust the certificate itself (its fingerprint is printed at start).
///
/// # Errors
/// [`TlsError::Generate`].
pub fn self_signed_server(cn: &str) -> Result<PemPair, TlsError> {
    let key = rcgen::KeyPair::generate()?;
    let cert = server_params(cn)?.self_signed(&key)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: Zeroizing::new(key.serialize_pem()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted() {
        let ca = DevCa::generate("CA").unwrap();
        let pair = ca.issue_server("s").unwrap();
        assert!(pair.key.contains("PRIVATE KEY"));
        assert!(!format!("{pair:?}").contains("PRIVATE"));
        assert!(!format!("{ca:?}").contains("PRIVATE"));
    }
}
