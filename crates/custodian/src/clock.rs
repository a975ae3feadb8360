//! Where a custodian's time comes from.
//!
//! Production uses [`SystemClock`]. [`ManualClock`] is for the documented demo and test
//! mode only: it lets a simulated retention period run in seconds. Nothing on the wire
//! can set a custodian's clock. (The same pattern as the operator's server; the crates
//! do not depend on each other.)

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use minimis_proto::UnixTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> UnixTime;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to: the demo and test mode. Cloning shares it.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(t.seconds())))
    }

    /// Sets the time. Time may not go backwards: an earlier `t` is ignored.
    pub fn set(&self, t: UnixTime) {
        self.0.fetch_max(t.seconds(), Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs.max(0), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let c = ManualClock::new(UnixTime(100));
        c.advance(5);
        assert_eq!(c.now(), UnixTime(105));
        c.set(UnixTime(50));
        assert_eq!(c.now(), UnixTime(105), "no going back");
        let shared = c.clone();
        shared.set(UnixTime(200));
        assert_eq!(c.now(), UnixTime(200));
    }
}
