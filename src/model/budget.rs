//! Time: how one invocation's limit is split between the stages of a pass
//! ([`TimePlan`]), and how the probe plan is fitted into the part left for
//! probing ([`fit_probes`]). Pure arithmetic on durations, shared by the
//! runtime (which times each invocation), the pipeline (which shortens the
//! probes and bounds every DNS call and alert) and `validate
//! --function-timeout` (which refuses a config whose worst case does not
//! fit).

use std::time::Duration;

use serde::Serialize;

use super::target::ProbeSettings;

/// The shortest per-attempt probe timeout a shortened plan may use. Below
/// half a second a TLS handshake to another region (one or two round trips
/// of up to 100 ms, plus the server's work) starts to fail on healthy
/// endpoints, and a false "down" is worse than a loud "could not probe".
pub const PROBE_TIMEOUT_FLOOR: Duration = Duration::from_millis(500);

/// The shortest pause between two attempts of a shortened plan.
pub const PROBE_INTERVAL_FLOOR: Duration = Duration::from_millis(200);

/// The pause between an alert channel's two tries (`notify::send_all`).
pub const ALERT_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// How an invocation's time limit is spent, as offsets from the receipt of
/// the event.
///
/// - `answer_by`: the last moment to post the answer; at it an unfinished
///   pass is abandoned and answered with a `Timeout` error, rather than
///   killed by SCF silently. The limit minus a twentieth of it (at most
///   0.5 s).
/// - `probe_until`: no probe attempt may still run after it. The limit minus
///   the *reserve*: a quarter of the limit, at least 1 s, at most 15 s, and
///   never more than half the limit.
/// - `dns_until`: every DNS call (reads, writes, retries) ends by then, so
///   that `alert_window`, half the reserve, is left for the alerts whatever
///   DNS did: an `apply_failed` alert always has time to go out.
/// - `alert_try`: one alert try; a channel tries twice with a 0.2 s pause,
///   which fits `alert_window`. At most 5 s.
///
/// With 30 s: probes until 22.5 s, DNS until 25.75 s, alerts 1.78 s per try,
/// answer by 29.5 s. With 3 s (the console's default): probes until 2 s, DNS
/// until 2.35 s, alerts 0.15 s per try, answer by 2.85 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePlan {
    pub limit: Duration,
    pub probe_until: Duration,
    pub dns_until: Duration,
    pub answer_by: Duration,
    pub alert_try: Duration,
}

impl TimePlan {
    pub fn new(limit: Duration) -> TimePlan {
        let reserve = (limit / 4)
            .max(Duration::from_secs(1))
            .min(limit / 2)
            .min(Duration::from_secs(15));
        let guard = (limit / 20).min(Duration::from_millis(500));
        let answer_by = limit - guard;
        let alert_window = reserve / 2;
        let alert_try = (alert_window.saturating_sub(ALERT_RETRY_PAUSE) / 2)
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(1));
        TimePlan {
            limit,
            probe_until: limit - reserve,
            dns_until: answer_by.saturating_sub(alert_window),
            answer_by,
            alert_try,
        }
    }
}

/// The probe plan a pass runs: the configured one, or a shortened one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProbeShape {
    pub attempts: u32,
    /// The longest per-attempt timeout of any target, in milliseconds.
    pub timeout_ms: u64,
    pub interval_ms: u64,
}

/// How the probes were fitted into the time the invocation leaves them
/// (the report's `probe_budget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeFit {
    /// Time left for probing when the pass started, in milliseconds.
    pub available_ms: u64,
    /// The worst case of the configured plan, in milliseconds.
    pub needed_ms: u64,
    pub configured: ProbeShape,
    /// What runs: equal to `configured` unless shortened.
    pub used: ProbeShape,
    /// The plan was shortened to fit.
    pub shortened: bool,
    /// Even the shortest allowed plan did not fit: nothing was probed.
    pub refused: bool,
    /// What was done and why, for people.
    pub note: String,
}

impl ProbeFit {
    /// Every per-attempt timeout is capped at this (`None`: as configured).
    pub fn timeout_cap(&self) -> Option<Duration> {
        (self.used.timeout_ms < self.configured.timeout_ms)
            .then(|| Duration::from_millis(self.used.timeout_ms))
    }
}

/// The worst case of a probe plan: `waves` rounds of targets (concurrency),
/// each `attempts × timeout + (attempts − 1) × interval`.
pub fn worst_case(attempts: u32, timeout: Duration, interval: Duration, waves: u32) -> Duration {
    let one =
        timeout.saturating_mul(attempts) + interval.saturating_mul(attempts.saturating_sub(1));
    one.saturating_mul(waves.max(1))
}

/// Rounds of probes needed for `targets` at `concurrency`.
pub fn waves(targets: usize, concurrency: usize) -> u32 {
    u32::try_from(targets.div_ceil(concurrency.max(1))).unwrap_or(u32::MAX)
}

/// Fit the probe plan into `available`. `max_timeout` is the longest
/// per-attempt timeout of any target probed (`[probe].timeout` or a
/// target's own).
///
/// When the configured plan does not fit, it is shortened in this order,
/// each step only as far as needed:
/// 1. fewer attempts, down to `fail_threshold` (a target is still only
///    called down after that many failed attempts);
/// 2. a shorter pause between attempts, down to 0.2 s;
/// 3. a shorter per-attempt timeout, down to 0.5 s ([`PROBE_TIMEOUT_FLOOR`]).
///
/// If even that does not fit, the fit is `refused`: nothing is probed and
/// the pass fails loudly.
pub fn fit_probes(
    s: &ProbeSettings,
    max_timeout: Duration,
    targets: usize,
    available: Duration,
) -> ProbeFit {
    let w = waves(targets, s.concurrency);
    let shape = |attempts: u32, timeout: Duration, interval: Duration| ProbeShape {
        attempts,
        timeout_ms: timeout.as_millis() as u64,
        interval_ms: interval.as_millis() as u64,
    };
    let configured = shape(s.attempts, max_timeout, s.interval);
    let needed = worst_case(s.attempts, max_timeout, s.interval, w);
    let mut fit = ProbeFit {
        available_ms: available.as_millis() as u64,
        needed_ms: needed.as_millis() as u64,
        configured,
        used: configured,
        shortened: false,
        refused: false,
        note: String::new(),
    };
    if targets == 0 || needed <= available {
        return fit;
    }
    let mut attempts = s.attempts.max(1);
    let mut interval = s.interval;
    let mut timeout = max_timeout;
    let fits = |a: u32, t: Duration, i: Duration| worst_case(a, t, i, w) <= available;
    // 1. Fewer attempts.
    let min_attempts = s.fail_threshold.min(s.attempts).max(1);
    while attempts > min_attempts && !fits(attempts, timeout, interval) {
        attempts -= 1;
    }
    // 2. A shorter pause: what is left after the timeouts, spread over the gaps.
    if !fits(attempts, timeout, interval) && attempts > 1 {
        let per_wave = available / w.max(1);
        let gaps = per_wave.saturating_sub(timeout.saturating_mul(attempts)) / (attempts - 1);
        interval = gaps.max(PROBE_INTERVAL_FLOOR.min(s.interval)).min(interval);
    }
    // 3. A shorter timeout: what is left after the pauses, per attempt.
    if !fits(attempts, timeout, interval) {
        let per_wave = available / w.max(1);
        let t = per_wave.saturating_sub(interval.saturating_mul(attempts - 1)) / attempts.max(1);
        timeout = t.max(PROBE_TIMEOUT_FLOOR.min(max_timeout)).min(timeout);
    }
    fit.used = shape(attempts, timeout, interval);
    if fits(attempts, timeout, interval) {
        fit.shortened = true;
        fit.note = format!(
            "probes shortened to fit the {} ms left for probing: attempts {} -> {}, interval {} -> {} ms, timeout {} -> {} ms (worst case {} -> {} ms)",
            fit.available_ms,
            s.attempts,
            attempts,
            s.interval.as_millis(),
            interval.as_millis(),
            max_timeout.as_millis(),
            timeout.as_millis(),
            fit.needed_ms,
            worst_case(attempts, timeout, interval, w).as_millis()
        );
    } else {
        fit.refused = true;
        fit.note = format!(
            "nothing was probed: the {} ms left for probing cannot hold even the shortest allowed plan ({} attempts of {} ms, {} ms apart, {} round(s) of {} targets = {} ms; the configured plan needs {} ms); raise the function timeout or lower probe.attempts/timeout/interval, or raise probe.concurrency",
            fit.available_ms,
            attempts,
            timeout.as_millis(),
            interval.as_millis(),
            w,
            targets,
            worst_case(attempts, timeout, interval, w).as_millis(),
            fit.needed_ms,
        );
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_time_plan_leaves_room_for_dns_and_alerts() {
        let p = TimePlan::new(Duration::from_secs(30));
        assert_eq!(p.probe_until, ms(22_500));
        assert_eq!(p.dns_until, ms(25_750));
        assert_eq!(p.answer_by, ms(29_500));
        assert_eq!(p.alert_try, ms(1_775));
        // Two alert tries and their pause fit between DNS and the answer.
        assert!(p.dns_until + p.alert_try * 2 + ALERT_RETRY_PAUSE <= p.answer_by);
        let p = TimePlan::new(Duration::from_secs(300));
        assert_eq!(p.probe_until, ms(285_000));
        assert_eq!(p.alert_try, ms(3_650));
        let p = TimePlan::new(Duration::from_secs(3));
        assert_eq!(p.probe_until, ms(2_000));
        assert_eq!(p.dns_until, ms(2_350));
        assert_eq!(p.answer_by, ms(2_850));
        let p = TimePlan::new(Duration::from_secs(1));
        assert_eq!(p.probe_until, ms(500));
        assert_eq!(p.answer_by, ms(950));
        assert!(p.probe_until <= p.dns_until && p.dns_until <= p.answer_by);
    }

    fn settings(timeout: u64, attempts: u32, interval: u64) -> ProbeSettings {
        ProbeSettings {
            timeout: ms(timeout),
            attempts,
            interval: ms(interval),
            fail_threshold: 2,
            concurrency: 64,
            ..ProbeSettings::default()
        }
    }

    #[test]
    fn a_plan_that_fits_is_kept() {
        let s = settings(2_000, 3, 1_000);
        let f = fit_probes(&s, s.timeout, 3, ms(22_500));
        assert!(!f.shortened && !f.refused, "{f:?}");
        assert_eq!(f.needed_ms, 8_000);
        assert_eq!(f.used, f.configured);
        assert_eq!(f.timeout_cap(), None);
    }

    /// Issue 12: with the console's 3 s default and a 2 s probe timeout no
    /// attempt ever started, and the run answered ok.
    #[test]
    fn the_console_default_timeout_shortens_the_plan_within_its_floors() {
        let s = settings(2_000, 3, 1_000);
        let f = fit_probes(&s, s.timeout, 3, ms(1_950));
        assert!(f.shortened && !f.refused, "{f:?}");
        assert_eq!(f.used.attempts, 2);
        assert_eq!(f.used.interval_ms, 200);
        assert!(
            f.used.timeout_ms >= 500 && f.used.timeout_ms < 2_000,
            "{f:?}"
        );
        assert!(
            worst_case(2, ms(f.used.timeout_ms), ms(200), 1) <= ms(1_950),
            "{f:?}"
        );
        assert!(f.note.contains("attempts 3 -> 2"), "{}", f.note);
        assert_eq!(f.timeout_cap(), Some(ms(f.used.timeout_ms)));
    }

    #[test]
    fn a_plan_that_cannot_fit_even_at_its_floors_is_refused() {
        let s = settings(2_000, 3, 1_000);
        let f = fit_probes(&s, s.timeout, 3, ms(900));
        assert!(f.refused && !f.shortened, "{f:?}");
        assert!(f.note.starts_with("nothing was probed"), "{}", f.note);
        // Rounds of targets count: 200 targets at concurrency 64 = 4 rounds.
        let f = fit_probes(&s, s.timeout, 200, ms(3_000));
        assert!(f.refused, "{f:?}");
        assert!(f.note.contains("4 round(s)"), "{}", f.note);
    }
}
