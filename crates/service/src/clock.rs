//! Where a service's time comes from.
//!
//! Production uses [`SystemClock`]. [`ManualClock`] exists for the documented demo and
//! test mode only (`minimis demo`, the test suites): it lets a simulated year run in
//! seconds. Nothing on the wire can set a service's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use minimis_proto::UnixTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> UnixTime;

    /// Whether time moves only when told to (the demo and test mode). A service on such a
    /// clock runs its schedule only when asked, never on a timer.
    fn is_manual(&self) -> bool {
        false
    }
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

    fn is_manual(&self) -> bool {
        true
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }

    fn is_manual(&self) -> bool {
        (**self).is_manual()
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
        c.advance(-10);
        assert_eq!(c.now(), UnixTime(200), "advance never goes back either");
    }

    #[test]
    fn only_the_manual_clock_is_manual_and_an_arc_says_what_it_holds() {
        assert!(ManualClock::new(UnixTime(0)).is_manual());
        assert!(!SystemClock.is_manual());
        assert!(Arc::new(ManualClock::new(UnixTime(0))).is_manual());
        let dynamic: Arc<dyn Clock> = Arc::new(SystemClock);
        assert!(!dynamic.is_manual());
        assert!(SystemClock.now().seconds() > 1_700_000_000);
    }
}
