//! `minimis audit https://HOST[:PORT][/PREFIX]`: the log read over HTTPS as a C2SP
//! tlog-tiles client reads it (spec/audit.md, AUD-13).
//!
//! The fetch order and the bounds are the library's ([`minimis_audit::TlogClient`]);
//! this is its transport: the workspace's one HTTPS client ([`HttpsClient`] of the wire
//! contract: TLS 1.3 on rustls, the server checked against the `--ca` roots only, each of
//! the host's addresses tried in turn), driven by a single-threaded tokio runtime, every
//! request bounded in time and each resource in size. Its typed errors say what failed:
//! the connection, the server's certificate, or a bound.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use minimis_audit::{Fetch, FetchError};
use minimis_log::tiles::MAX_BUNDLE_LEN;
use minimis_proto::Policy;
use minimis_wire::{HttpsClient, Limits, Request, TransportError};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

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
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    https: HttpsClient,
}

impl HttpsFetch {
    /// A transport to `url`, verifying the server against the PEM certificates `roots`,
    /// each request bounded by `timeout` (to connect, for each part of the answer, and in
    /// all). Nothing is sent yet.
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
        let https = HttpsClient::to_addrs(addrs, &url.host, &roots, None)
            .with_context(|| format!("an HTTPS client for {}", url.host))?
            .with_limits(Limits {
                connect: timeout,
                read: timeout,
                total: timeout,
                // Answers are read up to the largest resource the auditor asks for (an
                // entry bundle of 256 of the longest entries), and no further (AUD-33).
                max_body: MAX_BUNDLE_LEN.max(MAX_POLICY_RESPONSE),
            });
        Ok(Self {
            url,
            timeout,
            runtime,
            https,
        })
    }

    fn seconds(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// GETs the absolute path `path`: `Some(body)` for 200, `None` for 404. An answer
    /// longer than `max` is refused as it arrives.
    fn get_path(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
        let host = &self.url.host;
        let response = self
            .runtime
            .block_on(self.https.exchange_limited(Request::get(path), max))
            .map_err(|e| match e {
                TransportError::Connect => {
                    FetchError::Connect(format!("{}: no address of {host} answered", self.url.authority()))
                }
                TransportError::Certificate => FetchError::Tls(format!(
                    "the server's certificate for {host} does not verify against the --ca certificates"
                )),
                TransportError::Tls => FetchError::Tls(format!("the TLS 1.3 handshake with {host} failed")),
                // A server that does not finish the handshake in time never proved who
                // it is: the log could not be checked (exit 2, AUD-33), as for a
                // certificate that does not verify.
                TransportError::ConnectTimeout => FetchError::Tls(format!(
                    "no TLS 1.3 session with {host} within {} s",
                    self.seconds()
                )),
                // A server that stalls or drips its answer is cut off (AUD-33).
                TransportError::ReadTimeout | TransportError::Timeout => FetchError::Timeout {
                    seconds: self.seconds(),
                },
                TransportError::TooLarge(max) => FetchError::TooLarge { max },
                other => FetchError::Transport(other.to_string()),
            })?;
        match response.status {
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
