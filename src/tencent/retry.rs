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

/// What [`with_retries`] needs of a client's error.
pub trait RetryError: std::fmt::Display + Sized {
    /// A retry can succeed (throttling, 5xx, network, a timeout).
    fn is_retryable(&self) -> bool;
    /// The try took longer than `after`.
    fn timeout(after: Duration) -> Self;
    /// The budget is spent after `attempts` tries; `last` is the last error.
    fn gave_up(attempts: u32, budget: Duration, last: Self) -> Self;
}

/// How long one call may take, in all and per try, and its backoff.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Every try of the call, and the pauses between them.
    pub budget: Duration,
    /// One try.
    pub timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The call ends by this instant whatever its budget (the part of the
    /// invocation left for DNS).
    pub deadline: Option<std::time::Instant>,
}

/// Try `once` (after `pace`) until it succeeds, fails for good, or the
/// next try would not start before the budget or the deadline ends; each
/// try gets at most `timeout` and what is left. `service` names the API in
/// the retry warning. The answer's `RequestId` is logged.
pub async fn with_retries<E, P, PF, O, OF>(
    service: &str,
    p: &Patience,
    mut pace: P,
    mut once: O,
) -> Result<serde_json::Value, E>
where
    E: RetryError,
    P: FnMut() -> PF,
    PF: std::future::Future<Output = ()>,
    O: FnMut() -> OF,
    OF: std::future::Future<Output = Result<serde_json::Value, E>>,
{
    let start = Instant::now();
    // A budget too big for an Instant: no deadline of its own.
    let own = start
        .checked_add(p.budget)
        .unwrap_or(start + Duration::from_secs(365 * 86_400));
    // min(own budget, what the invocation leaves for DNS).
    let deadline = match p.deadline {
        Some(d) => own.min(Instant::from_std(d)),
        None => own,
    };
    let budget = deadline.saturating_duration_since(start);
    let mut attempt = 0u32;
    let mut last: Option<E> = None;
    loop {
        attempt += 1;
        pace().await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let per_try = p.timeout.min(remaining);
        if per_try.is_zero() && attempt > 1 {
            // The pause or the pacing ate what was left: give up with the
            // last real error, not with a try that had no time.
            return Err(last.take().map_or_else(
                || E::timeout(per_try),
                |e| E::gave_up(attempt - 1, budget, e),
            ));
        }
        let t = Instant::now();
        let result = if per_try.is_zero() {
            Err(E::timeout(per_try))
        } else {
            match tokio::time::timeout(per_try, once()).await {
                Ok(r) => r,
                Err(_) => Err(E::timeout(per_try)),
            }
        };
        let elapsed_ms = t.elapsed().as_millis() as u64;
        match result {
            Ok(v) => {
                let request_id = v
                    .get("RequestId")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                tracing::debug!(attempt, elapsed_ms, request_id, "ok");
                return Ok(v);
            }
            Err(e) if e.is_retryable() => {
                let pause = backoff(p.backoff_base, p.backoff_max, attempt);
                if Instant::now() + pause >= deadline {
                    tracing::debug!(attempt, elapsed_ms, error = %e, "giving up: budget spent");
                    return Err(E::gave_up(attempt, budget, e));
                }
                tracing::warn!(attempt, elapsed_ms, error = %e, retry_in_ms = pause.as_millis() as u64, "{service} call failed; retrying");
                last = Some(e);
                tokio::time::sleep(pause).await;
            }
            Err(e) => {
                tracing::debug!(attempt, elapsed_ms, error = %e, "failed (not retryable)");
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Throttled,
        Timeout,
        GaveUp(u32, Box<E>),
    }

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl RetryError for E {
        fn is_retryable(&self) -> bool {
            matches!(self, E::Throttled | E::Timeout)
        }
        fn timeout(_: Duration) -> Self {
            E::Timeout
        }
        fn gave_up(attempts: u32, _: Duration, last: Self) -> Self {
            E::GaveUp(attempts, Box::new(last))
        }
    }

    fn patience(budget_ms: u64) -> Patience {
        Patience {
            budget: Duration::from_millis(budget_ms),
            timeout: Duration::from_millis(50),
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            deadline: None,
        }
    }

    /// When pacing eats the time left, the call gives up with the last
    /// real error (a throttled caller is `RateLimited`), not with a try
    /// that had no time (which would read as a network timeout).
    #[tokio::test(start_paused = true)]
    async fn a_budget_spent_waiting_gives_up_with_the_last_real_error() {
        let tries = std::cell::Cell::new(0);
        let r: Result<serde_json::Value, E> = with_retries(
            "test",
            &patience(100),
            || tokio::time::sleep(Duration::from_millis(60)),
            || {
                tries.set(tries.get() + 1);
                async { Err(E::Throttled) }
            },
        )
        .await;
        assert_eq!(r.unwrap_err(), E::GaveUp(1, Box::new(E::Throttled)));
        assert_eq!(tries.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_an_answer_and_stops_at_a_final_error() {
        let tries = std::cell::Cell::new(0);
        let r: Result<serde_json::Value, E> = with_retries(
            "test",
            &patience(1000),
            || async {},
            || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move {
                    if n < 3 {
                        Err(E::Throttled)
                    } else {
                        Ok(serde_json::json!({"RequestId": "r"}))
                    }
                }
            },
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(tries.get(), 3);
        // A slow try times out, and is retried within the budget.
        let slow: Result<serde_json::Value, E> = with_retries(
            "test",
            &patience(120),
            || async {},
            || async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(serde_json::json!({}))
            },
        )
        .await;
        assert!(
            matches!(&slow, Err(E::GaveUp(n, last)) if *n >= 2 && **last == E::Timeout),
            "{slow:?}"
        );
    }
}
