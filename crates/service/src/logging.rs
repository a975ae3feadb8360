//! The log a `serve` command writes: to standard error, filtered by `MINIMIS_LOG`
//! (default `info`), and without a time on its lines (**SVC-13**).
//!
//! A service writes no line per request (**SVC-11**); the lines it does write are about
//! the service (started, a fault, a tally at the end of a period). It does not date them
//! itself: whoever collects them (journald, a container runtime) does, and the rule that
//! keeps arrival times out of the log is that no line is written when a request arrives,
//! not how lines are stamped. `MINIMIS_LOG` above `info` turns on the TLS and HTTP
//! libraries' own per-connection lines: for debugging on a test machine, never where
//! participants connect.

/// Installs the log for a service. Does nothing if a log is already installed.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MINIMIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .without_time()
        .try_init();
}
