//! Patience: the backoff between retries of one call, and the pacing of
//! calls of one action under the service's documented rate limit. Sleeps
//! use `tokio::time`, so tests can pause time.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Equal-jitter exponential backoff: half the exponential step plus a
/// random half, so parallel probers do not retry in lockstep. `attempt`
/// counts from 1; the step starts at `base` and is capped at `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

/// The next free slot of each paced action.
#[derive(Debug, Default)]
pub struct Pacer {
    next_slot: tokio::sync::Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// Wait for `action`'s next slot under its rate in `rate_limits`
    /// (requests per second); actions not listed are not paced.
    pub async fn pace(&self, rate_limits: &[(&str, u32)], action: &str) {
        let Some(rate) = rate_limits
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, r)| *r)
            .filter(|r| *r > 0)
        else {
            return;
        };
        let gap = Duration::from_secs(1) / rate;
        let at = {
            let mut slots = self.next_slot.lock().await;
            let now = Instant::now();
            let at = slots
                .get(action)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            slots.insert(action.to_string(), at + gap);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}
