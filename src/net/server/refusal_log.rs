//! A cap on the log lines a peer can cause without authenticating (refused
//! and evicted connections, failed handshakes) and on refusal lines, so a
//! flood cannot fill the disk with log. Pure counting with `now` passed in; the run loop
//! ticks it on a timer and flushes it at shutdown, so the summary of the
//! lines left out never waits for a later refusal.

use std::time::{Duration, Instant};

use log::warn;

/// Lines about refused or unauthenticated connections allowed into the log
/// per second (20); the rest are counted and summed up in one line when the
/// second ends.
pub const REFUSAL_LINES_PER_SEC: u32 = 20;

const SECOND: Duration = Duration::from_secs(1);

pub(super) struct RefusalLog {
    second: Instant,
    lines: u32,
    suppressed: u64,
}

impl RefusalLog {
    pub fn new(now: Instant) -> Self {
        RefusalLog {
            second: now,
            lines: 0,
            suppressed: 0,
        }
    }

    /// Whether a refusal at `now` may be logged. A second that ended first
    /// is summed up (see [`RefusalLog::tick`]).
    pub fn allow(&mut self, now: Instant) -> bool {
        summarize(self.tick(now));
        if self.lines < REFUSAL_LINES_PER_SEC {
            self.lines += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// Ends the current second if `now` is past it: returns how many
    /// refusals it left out of the log, if any.
    pub fn tick(&mut self, now: Instant) -> Option<u64> {
        if now.saturating_duration_since(self.second) < SECOND {
            return None;
        }
        let left_out = self.suppressed;
        *self = RefusalLog::new(now);
        (left_out > 0).then_some(left_out)
    }

    /// At shutdown: how many refusals of the current second were left out
    /// of the log, if any.
    pub fn flush(&mut self) -> Option<u64> {
        let left_out = std::mem::take(&mut self.suppressed);
        (left_out > 0).then_some(left_out)
    }

    /// When [`RefusalLog::tick`] has a summary to give: the end of the
    /// current second, while refusals were left out.
    pub fn deadline(&self) -> Option<Instant> {
        if self.suppressed == 0 {
            return None;
        }
        self.second.checked_add(SECOND)
    }
}

/// Logs the summary line for refusals left out, if any.
pub(super) fn summarize(left_out: Option<u64>) {
    if let Some(n) = left_out {
        warn!("{n} more lines about refused or unauthenticated connections in the last second were not logged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flooded(n: u32) -> (RefusalLog, Instant, Vec<bool>) {
        let t0 = Instant::now();
        let mut log = RefusalLog::new(t0);
        let allowed = (0..n)
            .map(|i| log.allow(t0 + Duration::from_millis(u64::from(i))))
            .collect();
        (log, t0, allowed)
    }

    #[test]
    fn the_limit_is_logged_in_full() {
        let (mut log, t0, allowed) = flooded(REFUSAL_LINES_PER_SEC);
        assert!(allowed.iter().all(|&a| a));
        assert_eq!(log.deadline(), None);
        assert_eq!(log.tick(t0 + SECOND), None);
        assert_eq!(log.flush(), None);
    }

    #[test]
    fn one_past_the_limit_is_left_out_and_summed_up_by_the_timer() {
        let (mut log, t0, allowed) = flooded(REFUSAL_LINES_PER_SEC + 1);
        assert_eq!(
            allowed.iter().filter(|&&a| a).count(),
            REFUSAL_LINES_PER_SEC as usize
        );
        assert!(!allowed[REFUSAL_LINES_PER_SEC as usize]);
        // No new refusal arrives: the timer alone brings the summary, at
        // the end of the second and not before.
        assert_eq!(log.deadline(), Some(t0 + SECOND));
        assert_eq!(log.tick(t0 + SECOND - Duration::from_nanos(1)), None);
        assert_eq!(log.tick(t0 + SECOND), Some(1));
        assert_eq!(log.tick(t0 + 3 * SECOND), None, "summed up once");
        assert_eq!(log.deadline(), None);
        // The new second logs in full again.
        assert!(log.allow(t0 + 3 * SECOND));
    }

    #[test]
    fn shutdown_flushes_the_summary_of_the_current_second() {
        let (mut log, _, _) = flooded(REFUSAL_LINES_PER_SEC + 5);
        assert_eq!(log.flush(), Some(5));
        assert_eq!(log.flush(), None);
    }

    #[test]
    fn a_refusal_after_the_second_ends_starts_a_new_one() {
        let (mut log, t0, _) = flooded(REFUSAL_LINES_PER_SEC + 2);
        // The summary is given (and logged) by allow itself; nothing is
        // left for the timer.
        assert!(log.allow(t0 + 2 * SECOND));
        assert_eq!(log.tick(t0 + 4 * SECOND), None);
    }
}
