//! Running a batch of transfers: progress, per-file reports, the tally
//! that decides the exit status, rate-limit waits and Ctrl-C.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sft::net::client::{Canceller, ClientError, Report, Session};
use sft::proto::msgs::{Outcome, ResultCode};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::busy;
use crate::cli::error::Exit;

/// Files at least this large get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 4 << 20;

pub(super) fn progress_bar(size: u64, label: &str) -> ProgressBar {
    if size < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

pub(super) fn rate(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64();
    if secs < 0.05 {
        return format!("{} bytes", r.bytes);
    }
    let mib_s = r.bytes as f64 / (1 << 20) as f64 / secs;
    format!("{} bytes in {secs:.2}s, {mib_s:.1} MiB/s", r.bytes)
}

/// Ctrl-C and SIGTERM for a client command, watched from before it
/// connects. Until a session takes over ([`Interrupts::cancel_session`]) a
/// signal ends the process at once with exit 130: nothing has moved yet
/// (connecting, the trust prompt, the waits between busy refusals).
pub(super) struct Interrupts {
    /// Whether the next signal ends the process at once.
    exit_now: Arc<AtomicBool>,
}

impl Interrupts {
    /// Starts watching. Call once per process: each call adds handlers.
    pub(super) fn watch() -> Interrupts {
        let exit_now = Arc::new(AtomicBool::new(true));
        for sig in [SIGINT, SIGTERM] {
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                i32::from(Exit::Interrupted.code()),
                exit_now.clone(),
            );
            let _ = signal_hook::flag::register(sig, exit_now.clone());
        }
        Interrupts { exit_now }
    }

    /// From now on a signal stops `session` cleanly (a partial download is
    /// removed), waking it if it is waiting, and a second one ends the
    /// process at once. Returns the handle the session's waits check.
    pub(super) fn cancel_session(self, session: &Session) -> Canceller {
        let canceller = session.canceller();
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) {
            let c = canceller.clone();
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    c.cancel();
                }
            });
            // Only now: a signal before this still ended the process, and
            // one after it is queued for the thread.
            self.exit_now.store(false, Ordering::SeqCst);
        }
        canceller
    }
}

/// Longest total wait sft accepts from a rate-limited server for one file.
const MAX_RATE_WAIT_SECS: u64 = 120;
/// The most random time added to a rate-limit wait.
const MAX_RATE_JITTER: Duration = Duration::from_secs(2);

/// How long to wait before trying again, given the server's answer, a
/// random `jitter` (drawn from [0, min(retry_after, [`MAX_RATE_JITTER`])])
/// and the time already waited for this file: for a RateLimited answer,
/// the wait it asks for plus `jitter`, cut to what is left of
/// [`MAX_RATE_WAIT_SECS`]. `None` for any other answer, or when the wait
/// asked for does not fit in what is left: give up.
pub(super) fn rate_wait(outcome: &Outcome, jitter: Duration, waited: Duration) -> Option<Duration> {
    if outcome.code != ResultCode::RateLimited {
        return None;
    }
    let asked = Duration::from_secs(u64::from(outcome.retry_after_secs));
    let left = Duration::from_secs(MAX_RATE_WAIT_SECS).checked_sub(waited)?;
    (asked <= left).then(|| asked.saturating_add(jitter).min(left))
}

/// Runs one transfer, again after the wait a rate-limited server asks for
/// (RESULT 8) plus a random spread, so `sft put host *.log` gets through a
/// busy server slowly instead of failing half its files, and clients told
/// the same wait do not all come back at once. When the waits for this
/// file would pass [`MAX_RATE_WAIT_SECS`], the last refusal is returned
/// with a reason that says sft gave up and after how long.
pub(super) fn with_rate_retry(
    name: &str,
    cancel: &Canceller,
    mut op: impl FnMut() -> Result<Report, ClientError>,
) -> Result<Report, ClientError> {
    let mut waited = Duration::ZERO;
    loop {
        let mut report = op()?;
        if report.outcome.code != ResultCode::RateLimited {
            return Ok(report);
        }
        let asked = Duration::from_secs(u64::from(report.outcome.retry_after_secs));
        let jitter = busy::jitter(asked.min(MAX_RATE_JITTER));
        let Some(wait) = rate_wait(&report.outcome, jitter, waited) else {
            report.outcome.reason = format!(
                "{}; gave up after waiting {:.1} s in all (sft waits at most {MAX_RATE_WAIT_SECS} s per file)",
                report.outcome.reason,
                waited.as_secs_f64()
            );
            return Ok(report);
        };
        eprintln!(
            "sft: {name}: the server's rate limit is reached; waiting {:.1} s as it asks",
            wait.as_secs_f64()
        );
        waited += wait;
        // Sleep in short steps so Ctrl-C is not held up by the wait.
        let mut left = wait;
        while !left.is_zero() {
            if cancel.is_cancelled() {
                return Err(ClientError::Interrupted);
            }
            let step = left.min(Duration::from_millis(100));
            std::thread::sleep(step);
            left -= step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: Duration = Duration::ZERO;

    fn limited(secs: u64) -> Outcome {
        Outcome::rate_limited(secs, "rate limit reached")
    }

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn rate_wait_adds_the_jitter_within_the_per_file_budget() {
        let budget = secs(MAX_RATE_WAIT_SECS);
        assert_eq!(rate_wait(&limited(30), ZERO, ZERO), Some(secs(30)));
        let jitter = Duration::from_millis(1500);
        assert_eq!(
            rate_wait(&limited(2), jitter, ZERO),
            Some(Duration::from_millis(3500))
        );
        // The budget used exactly, and one second past it.
        assert_eq!(
            rate_wait(&limited(30), ZERO, budget - secs(30)),
            Some(secs(30))
        );
        assert_eq!(rate_wait(&limited(31), ZERO, budget - secs(30)), None);
        // The jitter is cut to what is left; it never makes sft give up.
        assert_eq!(
            rate_wait(&limited(30), jitter, budget - secs(30)),
            Some(secs(30))
        );
        // Nothing is left once the budget is spent.
        assert_eq!(rate_wait(&limited(1), ZERO, budget), None);
        assert_eq!(rate_wait(&limited(1), ZERO, budget + secs(1)), None);
        // The largest wait a server may send, after the longest wait.
        assert_eq!(rate_wait(&limited(3600), jitter, Duration::MAX), None);
    }

    #[test]
    fn there_is_no_try_count_only_the_budget() {
        // 120 waits of 1 s each fit; the 121st does not.
        let mut waited = ZERO;
        let mut tries = 0;
        while let Some(w) = rate_wait(&limited(1), ZERO, waited) {
            waited += w;
            tries += 1;
        }
        assert_eq!(
            (tries, waited),
            (MAX_RATE_WAIT_SECS, secs(MAX_RATE_WAIT_SECS))
        );
    }

    #[test]
    fn only_a_rate_limit_answer_is_waited_for() {
        let exists = Outcome::new(ResultCode::Exists, "already exists");
        assert_eq!(rate_wait(&exists, ZERO, ZERO), None);
        assert_eq!(rate_wait(&Outcome::ok(), ZERO, ZERO), None);
    }
}
