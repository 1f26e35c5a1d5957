//! A batch of requests in one session, pipelined: up to
//! [`MAX_IN_FLIGHT`](crate::proto::MAX_IN_FLIGHT) requests await their
//! answers while the next ones go out, so many small files do not each pay
//! a round trip. Answers come back in request order and are reported to a
//! [`BatchObserver`] one by one. A request the server rate-limits (RESULT
//! 8) is sent again after the wait it asks for, plus a random spread, for
//! at most [`MAX_RATE_WAIT`] per request in all.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::fs::{FsError, SourceFile};
use crate::proto::evidence::Evidence;
use crate::proto::msgs::{Meta, Outcome, ResultCode};

/// Longest total wait for one request that a rate-limited server asks for
/// (120 s); past it the request is reported with the server's refusal.
pub const MAX_RATE_WAIT: Duration = Duration::from_secs(120);

/// The most random time added to a rate-limit wait (2 s), so clients told
/// the same wait do not come back together.
pub const MAX_RATE_JITTER: Duration = Duration::from_secs(2);

/// One request of a batch.
#[derive(Debug)]
pub enum Step {
    /// Create the remote directory `remote` (its parent must exist); with
    /// `meta`, also set its mode and mtime.
    Mkdir { remote: String, meta: Option<Meta> },
    /// Upload the local file `local` as `remote`.
    Put {
        local: PathBuf,
        remote: String,
        overwrite: bool,
        /// Send the file's mode and mtime for the server to apply (`-p`).
        preserve: bool,
        /// The directory argument `local` was found under by walking it:
        /// the file is then opened from there without following a symlink
        /// (a file named on the command line is opened as named).
        within: Option<PathBuf>,
    },
    /// Download `remote` into the local root as `local` (a path relative
    /// to the root); with `preserve`, apply the server's mode and mtime.
    Get {
        remote: String,
        local: String,
        preserve: bool,
    },
}

/// How one request ended, as reported to the [`BatchObserver`].
#[derive(Debug)]
pub struct Report {
    /// The answer: the server's (`Ok`, or why not), or this side's own
    /// verdict on a download (a SHA-256 mismatch).
    pub outcome: Outcome,
    /// File bytes moved.
    pub bytes: u64,
    /// From the request going out to its answer.
    pub elapsed: Duration,
    /// The signed evidence of a transfer that ended `Ok`: the server's
    /// receipt for an upload, its signed statement for a download (both
    /// verified, §4.8).
    pub evidence: Option<Evidence>,
    /// Bytes of the file the receiver already held from an interrupted
    /// transfer and verified, so they did not move again (0: none).
    pub resumed_from: u64,
}

impl Report {
    /// The whole-file SHA-256 of a transfer that ended `Ok`, as its
    /// evidence states it.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.evidence.as_ref().map(|e| e.signed().statement.sha256)
    }
}

/// Receives a batch's progress and results.
pub trait BatchObserver {
    /// `n` more file bytes were sent or received.
    fn bytes(&mut self, n: u64);
    /// Request `index` (its position in the batch) ended: the answer, or a
    /// local failure that kept it from being sent or stored.
    fn done(&mut self, index: usize, result: Result<Report, FsError>);
    /// Request `index` was asked to wait (RESULT 8, the server's reason
    /// `why`) and goes out again after `wait`.
    fn waiting(&mut self, index: usize, wait: Duration, why: &str);
    /// The receiver of file `index` held `held` bytes of it from an
    /// interrupted transfer: the transfer goes on from `from`, which is
    /// `held` when both sides' SHA-256 of those bytes matched, else 0
    /// (they differ: the whole file moves again).
    fn resumed(&mut self, index: usize, held: u64, from: u64) {
        let _ = (index, held, from);
    }
}

/// A request waiting to go out (again).
pub(super) struct Queued {
    pub index: usize,
    pub step: Step,
    /// Rate-limit waits so far for this request.
    pub waited: Duration,
}

/// A request sent and not yet answered.
pub(super) struct InFlight {
    pub queued: Queued,
    pub started: Instant,
    pub bytes: u64,
    pub sha256: Option<[u8; 32]>,
    /// What the receiver held and verified (see [`Report::resumed_from`]).
    pub resumed_from: u64,
    /// Why this side abandoned the upload (its source changed): reported
    /// in place of the server's RESULT 6.
    pub changed: Option<String>,
}

/// The batch's bookkeeping, apart from the connection: what goes out next,
/// what awaits answers, and the pause a rate limit imposes.
pub(super) struct Plan {
    pub queue: VecDeque<Queued>,
    pub in_flight: VecDeque<InFlight>,
    /// Rate-limited requests, in order, to go out again after the pause.
    pub again: Vec<Queued>,
    /// No new request before this.
    pub paused_until: Option<Instant>,
}

impl Plan {
    pub(super) fn new(steps: Vec<Step>) -> Self {
        let queue = steps
            .into_iter()
            .enumerate()
            .map(|(index, step)| Queued {
                index,
                step,
                waited: Duration::ZERO,
            })
            .collect();
        Plan {
            queue,
            in_flight: VecDeque::new(),
            again: Vec::new(),
            paused_until: None,
        }
    }

    /// Whether every request has been answered.
    pub(super) fn finished(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && self.again.is_empty()
    }

    /// Whether [`next`](Self::next) would give a request at `now`.
    pub(super) fn ready(&self, now: Instant) -> bool {
        match self.paused_until {
            Some(until) => {
                now >= until
                    && self.in_flight.is_empty()
                    && !(self.again.is_empty() && self.queue.is_empty())
            }
            None => !self.queue.is_empty(),
        }
    }

    /// The next request to send at `now`, unless paused. Once the pause is
    /// over and every earlier answer is in, the rate-limited requests go
    /// first, in their order.
    pub(super) fn next(&mut self, now: Instant) -> Option<Queued> {
        if let Some(until) = self.paused_until {
            if now < until || !self.in_flight.is_empty() {
                return None;
            }
            self.paused_until = None;
            for q in self.again.drain(..).rev() {
                self.queue.push_front(q);
            }
        }
        self.queue.pop_front()
    }

    /// A RESULT 8 for `flight`: when the wait it asks for (plus `jitter`)
    /// fits in what is left of [`MAX_RATE_WAIT`] for it, it is queued to go
    /// out again after the pause and `Ok(wait)` is returned; otherwise
    /// `Err` gives it back with a refusal that says sft gave up.
    pub(super) fn rate_limited(
        &mut self,
        mut flight: InFlight,
        outcome: &Outcome,
        jitter: Duration,
        now: Instant,
    ) -> Result<Duration, Box<(InFlight, Outcome)>> {
        let waited = flight.queued.waited;
        let Some(wait) = rate_wait(outcome, jitter, waited) else {
            let mut gave_up = outcome.clone();
            gave_up.reason = format!(
                "{}; gave up after waiting {:.1} s in all (sft waits at most {} s per file)",
                outcome.reason,
                waited.as_secs_f64(),
                MAX_RATE_WAIT.as_secs()
            );
            return Err(Box::new((flight, gave_up)));
        };
        flight.queued.waited += wait;
        let until = now + wait;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.again.push(flight.queued);
        Ok(wait)
    }
}

/// How long to wait before asking again, given the server's answer, a
/// random `jitter` (drawn from [0, min(retry_after, [`MAX_RATE_JITTER`])])
/// and the time already waited for this request: for a RateLimited
/// answer, the wait it asks for plus `jitter`, cut to what is left of
/// [`MAX_RATE_WAIT`]. `None` for any other answer, or when the wait asked
/// for does not fit in what is left: give up.
pub fn rate_wait(outcome: &Outcome, jitter: Duration, waited: Duration) -> Option<Duration> {
    if outcome.code != ResultCode::RateLimited {
        return None;
    }
    let asked = Duration::from_secs(u64::from(outcome.retry_after_secs));
    let left = MAX_RATE_WAIT.checked_sub(waited)?;
    (asked <= left).then(|| asked.saturating_add(jitter).min(left))
}

/// A random time in [0, `bound`], in whole milliseconds, from the
/// project's DRBG (spreads rate-limit waits and busy retries). If the DRBG
/// fails, `bound` itself: the next attempt needs randomness too and
/// reports the failure.
pub fn jitter(bound: Duration) -> Duration {
    let bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    match crate::crypto::rand::array::<8>() {
        Ok(bytes) => Duration::from_millis(u64::from_le_bytes(bytes) % bound_ms.saturating_add(1)),
        Err(_) => bound,
    }
}

/// The file an upload step sends, opened just before its request goes out.
pub(super) fn open_upload(
    local: &std::path::Path,
    within: Option<&std::path::Path>,
) -> Result<SourceFile, FsError> {
    match within.and_then(|base| Some((base, local.strip_prefix(base).ok()?))) {
        Some((base, rel)) => crate::fs::open_tree_source(base, rel),
        None => crate::fs::open_local_source(local),
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
    fn jitter_stays_within_its_bound_and_varies() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        let bound = Duration::from_millis(250);
        let draws: Vec<_> = (0..200).map(|_| jitter(bound)).collect();
        assert!(draws.iter().all(|d| *d <= bound), "{draws:?}");
        assert!(draws.iter().any(|d| *d != draws[0]), "{draws:?}");
    }

    #[test]
    fn rate_wait_adds_the_jitter_within_the_per_request_budget() {
        let budget = MAX_RATE_WAIT;
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
        assert_eq!(rate_wait(&limited(1), ZERO, budget), None);
        assert_eq!(rate_wait(&limited(3600), jitter, Duration::MAX), None);
        let exists = Outcome::new(ResultCode::Exists, "already exists");
        assert_eq!(rate_wait(&exists, ZERO, ZERO), None);
        assert_eq!(rate_wait(&Outcome::ok(), ZERO, ZERO), None);
    }

    fn mkdir(i: usize) -> Step {
        Step::Mkdir {
            remote: format!("d{i}"),
            meta: None,
        }
    }

    fn fly(plan: &mut Plan, now: Instant) -> InFlight {
        let queued = plan.next(now).unwrap();
        InFlight {
            queued,
            started: now,
            bytes: 0,
            sha256: None,
            resumed_from: 0,
            changed: None,
        }
    }

    #[test]
    fn rate_limited_requests_go_out_again_first_in_order_after_the_pause_and_the_answers() {
        let t0 = Instant::now();
        let mut plan = Plan::new((0..4).map(mkdir).collect());
        let a = fly(&mut plan, t0);
        let b = fly(&mut plan, t0);
        let c = fly(&mut plan, t0);
        plan.in_flight.push_back(c); // still unanswered
        assert_eq!(
            plan.rate_limited(a, &limited(2), ZERO, t0).ok(),
            Some(secs(2))
        );
        assert_eq!(
            plan.rate_limited(b, &limited(1), ZERO, t0).ok(),
            Some(secs(1))
        );
        // Paused for the longest wait, and until c is answered.
        assert!(plan.next(t0 + secs(1)).is_none());
        assert!(plan.next(t0 + secs(3)).is_none(), "c is in flight");
        plan.in_flight.clear();
        let order: Vec<usize> = std::iter::from_fn(|| plan.next(t0 + secs(3)))
            .map(|q| q.index)
            .collect();
        assert_eq!(order, [0, 1, 3]);
        assert!(plan.finished());
    }

    #[test]
    fn a_request_past_its_wait_budget_is_given_up_with_a_reason() {
        let t0 = Instant::now();
        let mut plan = Plan::new(vec![mkdir(0)]);
        let mut a = fly(&mut plan, t0);
        a.queued.waited = MAX_RATE_WAIT - secs(1);
        let Err(gave_up) = plan.rate_limited(a, &limited(2), ZERO, t0) else {
            panic!("a wait past the budget must give up");
        };
        let (back, why) = *gave_up;
        assert_eq!(back.queued.index, 0);
        assert!(
            why.reason.contains("gave up after waiting 119.0 s"),
            "{}",
            why.reason
        );
        assert!(plan.paused_until.is_none());
    }
}
