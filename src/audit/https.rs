//! `minimis audit https://HOST[:PORT][/PREFIX]`: the log read over HTTPS as a C2SP
//! tlog-tiles client reads it (spec/audit.md, AUD-13).
//!
//! The fetch order and the bounds are the library's ([`minimis_audit::TlogClient`]);
//! this is its transport: [`minimis_client::transport::Https`] (hyper, TLS 1.3 on
//! rustls, the server checked against the `--ca` roots only), driven by a single-threaded
//! tokio runtime, with a time limit on every request. The first request is preceded by a
//! TLS handshake of our own, to each of the host's addresses until one answers, so that a
//! certificate the roots do not sign is reported as such rather than as a dropped
//! connection.

use std::cell::OnceCell;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use minimis_audit::{Fetch, FetchError};
use minimis_client::transport::{Https, Request, Transport as _};
use minimis_log::tiles::MAX_BUNDLE_LEN;
use minimis_proto::Policy;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};

/// Where `minimis serve` serves its log (spec/operator.md).
pub(crate) const OPERATOR_LOG_PREFIX: &str = "/v1/log";

/// The largest answer to `GET /v1/policy` read: a policy file is a few kilobytes.
const MAX_POLICY_RESPONSE: usize = 1 << 20;

/// A log's URL: `https://HOST[:PORT][/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogUrl {
    /// The host: a DNS name or an IP address (without brackets).
    host: String,
    port: u16,
    /// The tlog-tiles prefix, starting with `/` unless empty; no trailing `/`.
    prefix: String,
}

impl LogUrl {
    /// Parses `https://HOST[:PORT][/PREFIX]`. With no path, the prefix is `/v1/log`,
    /// where `minimis serve` serves its log; `https://HOST/` is a log at the root.
    pub(crate) fn parse(url: &str) -> anyhow::Result<Self> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") {
            bail!("{url}: the auditor reads a log over HTTPS only (TLS 1.3); give an https:// URL");
        }
        let Some(rest) = lower.starts_with("https://").then(|| &url[8..]) else {
            bail!("{url} is not an https:// URL");
        };
        if rest.contains(['?', '#', '@']) {
            bail!("{url}: give https://HOST[:PORT][/PREFIX], with no user, query or fragment");
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .with_context(|| format!("{url}: an IPv6 address needs its closing ]"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .with_context(|| format!("{url}: bad port"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("{url}: no host");
        }
        let port = match port {
            None => 443,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .with_context(|| format!("{url}: `{p}` is not a port"))?,
        };
        let prefix = match path {
            None => OPERATOR_LOG_PREFIX.to_owned(),
            Some(p) => p.trim_end_matches('/').to_owned(),
        };
        if prefix.split('/').any(|s| s == ".." || s == ".") {
            bail!("{url}: the prefix may not hold . or .. segments");
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            prefix,
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The log's prefix as a URL.
    pub(crate) fn location(&self) -> String {
        format!("https://{}{}", self.authority(), self.prefix)
    }

    /// The operator API's root, when the prefix is the operator's log (`…/v1/log`).
    fn api_root(&self) -> Option<&str> {
        self.prefix.strip_suffix(OPERATOR_LOG_PREFIX)
    }
}

/// Reads the `--ca` file: PEM certificates, at least one, each one that parses.
pub(crate) fn read_roots(path: &std::path::Path) -> anyhow::Result<String> {
    let text = super::read_user_file(path, 1 << 20, "--ca file")?;
    let certs = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not PEM", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    let mut store = rustls::RootCertStore::empty();
    for c in certs {
        store.add(c).with_context(|| {
            format!(
                "{} holds a certificate that is not usable as a root",
                path.display()
            )
        })?;
    }
    Ok(text)
}

/// The HTTPS transport of one log.
pub(crate) struct HttpsFetch {
    url: LogUrl,
    /// The host's addresses, tried in order.
    addrs: Vec<SocketAddr>,
    roots: String,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// The transport, to the first address whose TLS handshake succeeded: made by the
    /// first request.
    https: OnceCell<Https>,
}

impl HttpsFetch {
    /// A transport to `url`, verifying the server against the PEM certificates `roots`,
    /// each request bounded by `timeout`. Nothing is sent yet.
    pub(crate) fn new(url: LogUrl, roots: String, timeout: Duration) -> anyhow::Result<Self> {
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", url.host))?
            .collect();
        if addrs.is_empty() {
            bail!("{} has no address", url.host);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the HTTPS client's runtime")?;
        Ok(Self {
            url,
            addrs,
            roots,
            timeout,
            runtime,
            https: OnceCell::new(),
        })
    }

    fn seconds(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// The transport, made on first use: a TLS 1.3 handshake of our own with the same
    /// roots, to each of the host's addresses in turn, whose errors say what failed (the
    /// connection, or the server's certificate); then [`Https`] to the address that
    /// answered.
    fn transport(&self) -> Result<&Https, FetchError> {
        if let Some(h) = self.https.get() {
            return Ok(h);
        }
        let mut store = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.roots.as_bytes()).flatten() {
            let _ = store.add(c);
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| FetchError::Tls(e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
        let name = ServerName::try_from(self.url.host.clone())
            .map_err(|e| FetchError::Tls(format!("{}: {e}", self.url.host)))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let host = &self.url.host;
        let handshake = async {
            let mut refused = Vec::new();
            for &addr in &self.addrs {
                let tcp = match tokio::net::TcpStream::connect(addr).await {
                    Ok(t) => t,
                    Err(e) => {
                        refused.push(format!("{addr}: {e}"));
                        continue;
                    }
                };
                return match connector.connect(name.clone(), tcp).await {
                    Ok(mut tls) => {
                        // close_notify, so the server sees an orderly end.
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                        Ok(addr)
                    }
                    Err(e) => Err(
                        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                            Some(t @ rustls::Error::InvalidCertificate(_)) => {
                                FetchError::Tls(format!(
                                    "{t}: the server's certificate for {host} does not verify against the --ca certificates"
                                ))
                            }
                            Some(t) => FetchError::Tls(t.to_string()),
                            None => FetchError::Tls(e.to_string()),
                        },
                    ),
                };
            }
            Err(FetchError::Connect(refused.join("; ")))
        };
        // A server that does not finish the handshake in time never proved who it is:
        // the log could not be checked (exit 2, AUD-33), as for a certificate that does
        // not verify.
        let addr = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, handshake).await })
            .map_err(|_| {
                FetchError::Tls(format!(
                    "no TLS 1.3 session with {host} within {} s",
                    self.seconds()
                ))
            })??;
        // Answers are read up to the largest resource the auditor asks for (an entry
        // bundle of 256 of the longest entries), and no further (AUD-33).
        let https = Https::new(addr, host, &self.roots, None)
            .map_err(|e| FetchError::Tls(e.to_string()))?
            .with_max_body(MAX_BUNDLE_LEN.max(MAX_POLICY_RESPONSE));
        Ok(self.https.get_or_init(|| https))
    }

    /// GETs the absolute path `path`: `Some(body)` for 200, `None` for 404.
    fn get_path(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
        let https = self.transport()?;
        let request = Request {
            method: "GET",
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        // The whole request, answer included, within the time limit: a server that
        // stalls or drips its answer is cut off (AUD-33).
        let response = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, https.send(request)).await })
            .map_err(|_| FetchError::Timeout {
                seconds: self.seconds(),
            })?
            .map_err(|e| FetchError::Transport(e.0))?;
        match response.status {
            200 if response.body.len() > max => Err(FetchError::TooLarge { max }),
            200 => Ok(Some(response.body)),
            404 => Ok(None),
            status => Err(FetchError::Status { status }),
        }
    }

    /// The policy the operator serves at `GET /v1/policy`, when the log is an
    /// operator's (its prefix ends in `/v1/log`). Any failure is reported, not fatal:
    /// the policy is only a convenience, used when the log publishes its hash.
    pub(crate) fn operator_policy(&self) -> Result<Option<Policy>, String> {
        let Some(root) = self.url.api_root() else {
            return Ok(None);
        };
        let path = format!("{root}/v1/policy");
        let url = format!("https://{}{path}", self.url.authority());
        let body = self
            .get_path(&path, MAX_POLICY_RESPONSE)
            .map_err(|e| format!("GET {url}: {e}"))?
            .ok_or_else(|| format!("GET {url}: not found (404)"))?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON ({e})"))?;
        let toml = json["toml"]
            .as_str()
            .ok_or_else(|| format!("{url}: no `toml` field"))?;
        Policy::from_toml_str(toml)
            .map(Some)
            .map_err(|e| format!("{url}: not a valid policy ({e})"))
    }
}

impl Fetch for HttpsFetch {
    fn location(&self) -> String {
        self.url.location()
    }

    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
        self.get_path(&format!("{}/{path}", self.url.prefix), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aud_13_log_urls_parse_as_the_spec_says() {
        let u = |s: &str| LogUrl::parse(s).map(|u| (u.host, u.port, u.prefix));
        let ok = |h: &str, p: u16, x: &str| (h.to_owned(), p, x.to_owned());
        assert_eq!(
            u("https://127.0.0.1:8443").unwrap(),
            ok("127.0.0.1", 8443, "/v1/log")
        );
        assert_eq!(
            u("https://log.example").unwrap(),
            ok("log.example", 443, "/v1/log")
        );
        assert_eq!(
            u("https://log.example/").unwrap(),
            ok("log.example", 443, "")
        );
        assert_eq!(
            u("HTTPS://log.example:9/mirror/log/").unwrap(),
            ok("log.example", 9, "/mirror/log")
        );
        assert_eq!(u("https://[::1]:8443/x").unwrap(), ok("::1", 8443, "/x"));
        let parsed = LogUrl::parse("https://[::1]:8443").unwrap();
        assert_eq!(parsed.location(), "https://[::1]:8443/v1/log");
        assert_eq!(parsed.api_root(), Some(""));
        assert_eq!(LogUrl::parse("https://h/mirror").unwrap().api_root(), None);
        for bad in [
            "http://127.0.0.1:8443",
            "ftp://x",
            "https://",
            "https://:80",
            "https://h:0",
            "https://h:99999",
            "https://h:x",
            "https://u@h",
            "https://h/x?y",
            "https://h/../x",
            "https://[::1",
        ] {
            assert!(LogUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
