//! Exponential backoff with jitter, as the Java client computes it for
//! `reconnect.backoff.ms` / `reconnect.backoff.max.ms`.
//!
//! The n-th delay is `base * 2^n`, capped at `max`, then spread by ±`jitter`
//! (20 % like Java) so that many clients that lost the same broker do not all
//! reconnect in the same millisecond.

use std::time::Duration;

use rand::Rng;

/// A backoff sequence. Call [`Backoff::next_delay`] after each failure and
/// [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    /// A backoff from `base` doubling up to `max`, with ±20 % jitter.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            jitter: 0.2,
            attempts: 0,
        }
    }

    /// Sets the relative jitter (0.0 to 1.0; clamped).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// How many failures since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt; advances the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.attempts.min(31);
        self.attempts = self.attempts.saturating_add(1);
        let nominal = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        if self.jitter == 0.0 || nominal.is_zero() {
            return nominal;
        }
        let factor = rand::rng().random_range((1.0 - self.jitter)..=(1.0 + self.jitter));
        // Jitter may push above `max` by up to `jitter`; Java does the same,
        // and it keeps capped clients from synchronising at exactly `max`.
        nominal.mul_f64(factor)
    }

    /// Starts the sequence again after a success.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let base = Duration::from_millis(50);
        let max = Duration::from_millis(1000);
        for _ in 0..200 {
            let mut b = Backoff::new(base, max);
            for n in 0..12u32 {
                let d = b.next_delay();
                let nominal = (base * 2u32.pow(n)).min(max);
                assert!(
                    d >= nominal.mul_f64(0.8),
                    "attempt {n}: {d:?} < 0.8*{nominal:?}"
                );
                assert!(
                    d <= nominal.mul_f64(1.2),
                    "attempt {n}: {d:?} > 1.2*{nominal:?}"
                );
            }
        }
    }

    #[test]
    fn no_jitter_is_exact_and_reset_restarts() {
        let mut b =
            Backoff::new(Duration::from_millis(10), Duration::from_millis(75)).with_jitter(0.0);
        let got: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![10, 20, 40, 75, 75]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30)).with_jitter(0.0);
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
    }
}
