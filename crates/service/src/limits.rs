//! The limits every listener enforces (**SVC-1** to **SVC-7**), their defaults and the
//! ranges a configuration file may set them to.
//!
//! ```toml
//! [limits]                                # every key optional; these are the defaults
//! handshake_timeout_seconds = 10          # TCP accepted to TLS handshake done (1 to 120)
//! header_timeout_seconds = 10             # first byte of a request to its whole head (1 to 120)
//! body_timeout_seconds = 30               # head received to whole body received (1 to 600)
//! idle_timeout_seconds = 30               # no byte either way, no request being handled (1 to 3600)
//! max_connections = 512                   # connections held at once (1 to 65536)
//! ```

use std::time::Duration;

use serde::Deserialize;

/// A listener's limits. [`Limits::default`] is what spec/services.md states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// From the TCP connection being accepted to the TLS handshake being done (**SVC-1**).
    pub handshake_timeout: Duration,
    /// From the first byte of a request to the end of its head (request line and
    /// headers) (**SVC-2**).
    pub header_timeout: Duration,
    /// From the end of a request's head to the end of its body (**SVC-3**).
    pub body_timeout: Duration,
    /// How long a connection may go with no byte moving either way while no request on
    /// it is being handled: before its first request, between requests, and while a
    /// response waits for a client that does not read it (**SVC-4**).
    pub idle_timeout: Duration,
    /// The most connections held at once; more wait in the kernel's queue (**SVC-5**).
    pub max_connections: usize,
    /// The first wait after accepting a connection failed for lack of resources; it
    /// doubles on each failure in a row (**SVC-6**).
    pub accept_backoff_min: Duration,
    /// The longest wait between attempts to accept (**SVC-6**).
    pub accept_backoff_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_connections: 512,
            accept_backoff_min: Duration::from_millis(10),
            accept_backoff_max: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// These limits with all four timeouts set to `t` (tests use short ones).
    #[must_use]
    pub fn with_timeouts(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self.header_timeout = t;
        self.body_timeout = t;
        self.idle_timeout = t;
        self
    }

    /// These limits with at most `n` connections at once.
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// A limit out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits.{key} = {value} is out of range {min}..={max}")]
pub struct LimitsError {
    /// The key.
    pub key: &'static str,
    /// The value.
    pub value: u64,
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed.
    pub max: u64,
}

/// The `[limits]` section of a service's configuration file, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    handshake_timeout_seconds: Option<u64>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    max_connections: Option<u64>,
}

fn ranged(
    key: &'static str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, LimitsError> {
    let v = value.unwrap_or(default);
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(LimitsError {
            key,
            value: v,
            min,
            max,
        })
    }
}

impl RawLimits {
    /// The limits, the defaults for keys not given.
    ///
    /// # Errors
    /// [`LimitsError`] for a value out of its range.
    pub fn resolve(&self) -> Result<Limits, LimitsError> {
        let d = Limits::default();
        let secs = |key, v, default: Duration, max| {
            ranged(key, v, default.as_secs(), 1, max).map(Duration::from_secs)
        };
        Ok(Limits {
            handshake_timeout: secs(
                "handshake_timeout_seconds",
                self.handshake_timeout_seconds,
                d.handshake_timeout,
                120,
            )?,
            header_timeout: secs(
                "header_timeout_seconds",
                self.header_timeout_seconds,
                d.header_timeout,
                120,
            )?,
            body_timeout: secs(
                "body_timeout_seconds",
                self.body_timeout_seconds,
                d.body_timeout,
                600,
            )?,
            idle_timeout: secs(
                "idle_timeout_seconds",
                self.idle_timeout_seconds,
                d.idle_timeout,
                3600,
            )?,
            max_connections: usize::try_from(ranged(
                "max_connections",
                self.max_connections,
                d.max_connections as u64,
                1,
                65_536,
            )?)
            .unwrap_or(d.max_connections),
            ..d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Limits, String> {
        let raw: RawLimits = toml::from_str(text).map_err(|e| e.to_string())?;
        raw.resolve().map_err(|e| e.to_string())
    }

    #[test]
    fn svc_7_limits_default_as_specified_and_are_set_within_their_ranges() {
        let d = parse("").unwrap();
        assert_eq!(d, Limits::default());
        assert_eq!(d.handshake_timeout, Duration::from_secs(10));
        assert_eq!(d.header_timeout, Duration::from_secs(10));
        assert_eq!(d.body_timeout, Duration::from_secs(30));
        assert_eq!(d.idle_timeout, Duration::from_secs(30));
        assert_eq!(d.max_connections, 512);
        let set = parse(
            "handshake_timeout_seconds = 3\nheader_timeout_seconds = 4\nbody_timeout_seconds = 5\nidle_timeout_seconds = 6\nmax_connections = 7\n",
        )
        .unwrap();
        assert_eq!(set.handshake_timeout, Duration::from_secs(3));
        assert_eq!(set.header_timeout, Duration::from_secs(4));
        assert_eq!(set.body_timeout, Duration::from_secs(5));
        assert_eq!(set.idle_timeout, Duration::from_secs(6));
        assert_eq!(set.max_connections, 7);
        for bad in [
            "handshake_timeout_seconds = 0",
            "header_timeout_seconds = 121",
            "body_timeout_seconds = 601",
            "idle_timeout_seconds = 0",
            "max_connections = 0",
            "max_connections = 65537",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("out of range"), "{bad}: {e}");
        }
        assert!(
            parse("keepalive = 1")
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
