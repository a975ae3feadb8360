//! A rate per log: a token bucket (**WIT-8**).
//!
//! A log may send `burst` requests at once, then one every `1 / per_minute` minutes. The
//! bucket is taken only after the log's signature verified, so that no one but the log
//! can use up its rate.

use std::time::{Duration, Instant};

/// How many `add-checkpoint` requests a log may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests a minute, on average (at least 1).
    pub per_minute: u32,
    /// Requests at once (at least 1).
    pub burst: u32,
}

impl Default for Rate {
    /// 120 a minute, 20 at once: a log that publishes a checkpoint every second with a
    /// resync now and then stays under it.
    fn default() -> Self {
        Self {
            per_minute: 120,
            burst: 20,
        }
    }
}

/// The state of one log's bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    pub(crate) fn new(rate: Rate) -> Self {
        let rate = Rate {
            per_minute: rate.per_minute.max(1),
            burst: rate.burst.max(1),
        };
        Self {
            rate,
            tokens: f64::from(rate.burst),
            at: None,
        }
    }

    /// Takes one token at `now`, or says how long until one is there.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(self.rate.per_minute) / 60.0;
        if let Some(at) = self.at {
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(self.rate.burst));
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_8_a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate {
            per_minute: 60,
            burst: 3,
        });
        for _ in 0..3 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // One a second comes back, and no more than the burst.
        assert!(b.take(t0 + Duration::from_secs(1)).is_ok());
        assert!(b.take(t0 + Duration::from_secs(1)).is_err());
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
    }
}
