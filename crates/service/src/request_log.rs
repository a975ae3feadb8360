//! The only request log: a tally per period, never a line per request (**SVC-11**,
//! **SVC-12**).
//!
//! A line written when a request arrives dates the request, whatever the line says: the
//! log collector (journald, a container runtime) stamps every line with the time it
//! received it, and a request log line can then be matched to the record the request
//! made, by order or by count (a check-in's arrival time is exactly what **CHK-19** and
//! **POL-7** keep the operator from holding). So a service counts its requests instead,
//! by method, route template (never the path, which names a pseudonym) and status, and
//! its connections by how they ended, and writes the counts once per period, at the
//! period's end. Periods are whole UTC days (one by default), aligned to the Unix epoch;
//! the counts of a period the service did not run to its end are never written.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

/// How a connection ended, or failed to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection was accepted.
    Accepted,
    /// The TLS handshake failed or did not finish in time (**SVC-1**).
    HandshakeFailed,
    /// A request head did not arrive whole in time (**SVC-2**).
    HeaderTimeout,
    /// Closed after the idle timeout (**SVC-4**).
    Idle,
    /// Accepting failed for lack of resources (**SVC-6**).
    AcceptFailed,
    /// A request head did not parse or was too large: refused and closed (**SVC-8**).
    HeadRefused,
}

/// Connections, counted by how they ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionCounts {
    /// Accepted.
    pub accepted: u64,
    /// Closed in or after a failed or late TLS handshake.
    pub handshake_failed: u64,
    /// Closed because a request head was late.
    pub header_timeouts: u64,
    /// Closed when idle.
    pub idle_closed: u64,
    /// Failed accepts (each one followed by a wait).
    pub accept_errors: u64,
    /// Closed after refusing a request head that did not parse or was too large.
    pub heads_refused: u64,
}

/// What a period's tally holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tally {
    /// Requests by method, route template (`(no route)` for unknown routes) and status.
    pub requests: BTreeMap<(String, String, u16), u64>,
    /// Connections.
    pub connections: ConnectionCounts,
    /// Other events a service counts instead of logging as they happen (a failed call
    /// to a witness right after a batch would date the batch): how many, and the last
    /// one's detail.
    pub events: BTreeMap<&'static str, (u64, String)>,
}

impl Tally {
    /// The requests counted for `method` and `route` with `status`.
    pub fn count(&self, method: &str, route: &str, status: u16) -> u64 {
        self.requests
            .get(&(method.to_owned(), route.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }
}

/// A service's request tally, shared by its listeners' connections.
#[derive(Clone, Debug)]
pub struct RequestLog {
    service: &'static str,
    period_days: u32,
    tally: Arc<Mutex<Tally>>,
}

/// The `[request_log]` section of a service's configuration file.
///
/// ```toml
/// [request_log]
/// period_days = 1      # the tally's period, in whole UTC days (1 to 31)
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequestLog {
    period_days: Option<u32>,
}

/// A tally period out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request_log.period_days = {0} is out of range 1..=31")]
pub struct PeriodError(pub u32);

impl RawRequestLog {
    /// The period in days: 1 unless given.
    ///
    /// # Errors
    /// [`PeriodError`] outside 1 to 31.
    pub fn period_days(&self) -> Result<u32, PeriodError> {
        let d = self.period_days.unwrap_or(DEFAULT_PERIOD_DAYS);
        if (1..=31).contains(&d) {
            Ok(d)
        } else {
            Err(PeriodError(d))
        }
    }
}

/// The default period: one UTC day.
pub const DEFAULT_PERIOD_DAYS: u32 = 1;

const DAY: u64 = 86_400;

impl RequestLog {
    /// A tally for `service` (its name in the lines) over periods of `period_days` whole
    /// UTC days (clamped to 1 to 31).
    pub fn new(service: &'static str, period_days: u32) -> Self {
        Self {
            service,
            period_days: period_days.clamp(1, 31),
            tally: Arc::new(Mutex::new(Tally::default())),
        }
    }

    /// The period, in days.
    pub fn period_days(&self) -> u32 {
        self.period_days
    }

    /// The counts so far in this period (nothing is written).
    pub fn snapshot(&self) -> Tally {
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub(crate) fn count_request(&self, method: &str, route: &str, status: u16) {
        if let Ok(mut t) = self.tally.lock() {
            *t.requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
    }

    /// Counts an event that happens because of requests (a call a batch of them set off)
    /// and so must not be logged when it happens; written with the tally.
    pub fn count_event(&self, event: &'static str, detail: &str) {
        if let Ok(mut t) = self.tally.lock() {
            let e = t.events.entry(event).or_default();
            e.0 += 1;
            detail.clone_into(&mut e.1);
        }
    }

    pub(crate) fn count(&self, event: ConnectionEvent) {
        if let Ok(mut t) = self.tally.lock() {
            let c = &mut t.connections;
            match event {
                ConnectionEvent::Accepted => c.accepted += 1,
                ConnectionEvent::HandshakeFailed => c.handshake_failed += 1,
                ConnectionEvent::HeaderTimeout => c.header_timeouts += 1,
                ConnectionEvent::Idle => c.idle_closed += 1,
                ConnectionEvent::AcceptFailed => c.accept_errors += 1,
                ConnectionEvent::HeadRefused => c.heads_refused += 1,
            }
        }
    }

    /// The end of the period that `now` (Unix seconds) is in.
    fn period_end(&self, now: u64) -> u64 {
        let len = u64::from(self.period_days) * DAY;
        (now / len + 1) * len
    }

    /// The label of the period ending at `end`: its first day, and its length if longer
    /// than a day (`2026-11-26`, `2026-11-23/P7D`).
    fn label(&self, end: u64) -> String {
        let start = end.saturating_sub(u64::from(self.period_days) * DAY);
        let day = i64::try_from(start)
            .ok()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date().to_string())
            .unwrap_or_default();
        if self.period_days == 1 {
            day
        } else {
            format!("{day}/P{}D", self.period_days)
        }
    }

    /// Writes the tally of the period ending at `end` and starts a new one.
    fn write(&self, end: u64) {
        let tally = match self.tally.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        let period = self.label(end);
        for ((method, route, status), count) in &tally.requests {
            tracing::info!(
                target: "minimis::requests",
                service = self.service,
                %period,
                %method,
                %route,
                status,
                count,
                "requests in the period"
            );
        }
        let c = tally.connections;
        tracing::info!(
            target: "minimis::requests",
            service = self.service,
            %period,
            accepted = c.accepted,
            handshake_failed = c.handshake_failed,
            header_timeouts = c.header_timeouts,
            idle_closed = c.idle_closed,
            accept_errors = c.accept_errors,
            heads_refused = c.heads_refused,
            "connections in the period"
        );
        for (event, (count, last)) in &tally.events {
            tracing::warn!(
                target: "minimis::requests",
                service = self.service,
                %period,
                event,
                count,
                last = %last,
                "events in the period"
            );
        }
    }

    /// Writes the tally so far, labelled with the current period, and starts counting
    /// anew. The period task does this at each period's end; tests call it to see what a
    /// period's lines hold. Never called on a request's path.
    pub fn write_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.write(self.period_end(now));
    }

    /// Runs until aborted: at the end of each period, writes its tally.
    pub(crate) async fn run(self) {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let end = self.period_end(now);
            // Sleep in steps of at most an hour, so that a clock that jumps (a suspended
            // machine, a corrected clock) is noticed within the hour.
            let wait = Duration::from_secs((end - now).min(3_600));
            tokio::time::sleep(wait).await;
            let after = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if after >= end {
                self.write(end);
            }
        }
    }
}

/// A layer (`axum::middleware::from_fn_with_state`): counts each request by method,
/// route template and final status. Nothing is written here.
pub(crate) async fn count_requests(
    State(log): State<RequestLog>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let route = matched.map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    log.count_request(method.as_str(), &route, resp.status().as_u16());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svc_11_periods_are_whole_utc_days_aligned_to_the_epoch() {
        let log = RequestLog::new("test", 1);
        // 2026-11-26T16:00:00Z.
        let now = 1_795_708_800;
        let end = log.period_end(now);
        assert_eq!(end % DAY, 0);
        assert!(end > now && end - now <= DAY);
        assert_eq!(log.label(end), "2026-11-26");
        let week = RequestLog::new("test", 7);
        let end = week.period_end(now);
        assert_eq!(end % (7 * DAY), 0);
        assert!(week.label(end).ends_with("/P7D"));
        assert_eq!(RequestLog::new("t", 0).period_days(), 1);
        assert_eq!(RequestLog::new("t", 99).period_days(), 31);
    }

    #[test]
    fn svc_11_counts_and_resets_when_written() {
        let log = RequestLog::new("test", 1);
        log.count_request("POST", "/v1/checkins", 201);
        log.count_request("POST", "/v1/checkins", 201);
        log.count(ConnectionEvent::Accepted);
        log.count_event("witness_failed", "first");
        log.count_event("witness_failed", "second");
        let t = log.snapshot();
        assert_eq!(t.events["witness_failed"], (2, "second".to_owned()));
        assert_eq!(t.count("POST", "/v1/checkins", 201), 2);
        assert_eq!(t.connections.accepted, 1);
        log.write(log.period_end(0));
        assert_eq!(log.snapshot(), Tally::default());
    }

    #[test]
    fn svc_11_the_period_is_configured_within_its_range() {
        let parse = |s: &str| toml::from_str::<RawRequestLog>(s).unwrap().period_days();
        assert_eq!(parse(""), Ok(1));
        assert_eq!(parse("period_days = 7"), Ok(7));
        assert_eq!(parse("period_days = 0"), Err(PeriodError(0)));
        assert_eq!(parse("period_days = 32"), Err(PeriodError(32)));
        assert!(toml::from_str::<RawRequestLog>("per_request = true").is_err());
    }
}
