//! A server that refuses a connection as busy (alert 8: at its connection
//! or rate limit, at admission or just after the handshake) is asked again
//! a few times, after random waits that grow ("full jitter" backoff), so
//! many clients started together spread out instead of failing.

use std::time::{Duration, Instant};

use sft::net::client::jitter;
use sft::net::client::ClientError;
use sft::proto::{AlertCode, ProtoError};

use crate::cli::error::{CliError, Exit};

/// Connection attempts in all, the first included, while the server
/// answers Busy. The sixth refusal is final.
pub(super) const BUSY_ATTEMPTS: u32 = 6;
/// The longest wait before the second attempt; each later bound doubles.
const FIRST_WAIT_BOUND: Duration = Duration::from_millis(250);
/// No wait between attempts is longer than this.
const MAX_WAIT_BOUND: Duration = Duration::from_secs(4);

/// The longest wait after attempt number `attempt` (counted from 1) was
/// refused as busy: min([`MAX_WAIT_BOUND`], [`FIRST_WAIT_BOUND`] ×
/// 2^(attempt−1)), so 0.25, 0.5, 1, 2 and 4 s, 7.75 s in all. `None` when
/// that attempt was the last ([`BUSY_ATTEMPTS`]) or `attempt` is 0: give up.
pub(super) fn wait_bound(attempt: u32) -> Option<Duration> {
    if attempt == 0 || attempt >= BUSY_ATTEMPTS {
        return None;
    }
    let doubled = FIRST_WAIT_BOUND.saturating_mul(2u32.saturating_pow(attempt - 1));
    Some(doubled.min(MAX_WAIT_BOUND))
}

/// Runs `connect` (one connection attempt to the server called `name`,
/// as `host:port`) until it ends other than with the server's Busy alert,
/// waiting a random time up to [`wait_bound`] after each Busy and saying so
/// on stderr, at most [`BUSY_ATTEMPTS`] times. A signal during a wait ends
/// the process (the command's `Interrupts` are armed while it connects).
///
/// # Errors
/// `other` applied to the first failure that is not Busy; after the last
/// Busy, an exit-3 error that says how many attempts were made over how
/// long.
pub(super) fn retry_busy<T>(
    name: &str,
    mut connect: impl FnMut() -> Result<T, ClientError>,
    other: impl FnOnce(ClientError) -> CliError,
) -> Result<T, CliError> {
    let start = Instant::now();
    let mut attempt = 1;
    loop {
        match connect() {
            Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy))) => {}
            Ok(done) => return Ok(done),
            Err(e) => return Err(other(e)),
        }
        let Some(bound) = wait_bound(attempt) else {
            return Err(CliError::new(
                Exit::Connection,
                format!(
                    "the server {name} is busy (at its connection or rate limit); \
                     gave up after {attempt} attempts over {:.1} s; nothing was sent",
                    start.elapsed().as_secs_f64()
                ),
            )
            .hint("try again later"));
        };
        let wait = jitter(bound);
        attempt += 1;
        say!(
            "sft: server {name} is busy; retrying in {:.1} s (attempt {attempt} of {BUSY_ATTEMPTS})",
            wait.as_secs_f64()
        );
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Result<(), ClientError> {
        Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy)))
    }

    #[test]
    fn the_wait_bounds_double_to_4_s_and_the_sixth_attempt_is_the_last() {
        let ms = |a| wait_bound(a).map(|d| d.as_millis());
        let bounds: Vec<_> = (1..BUSY_ATTEMPTS).map(ms).collect();
        assert_eq!(
            bounds,
            [Some(250), Some(500), Some(1000), Some(2000), Some(4000)]
        );
        // Attempt 5's bound is exactly the 4 s ceiling.
        assert_eq!(wait_bound(5), Some(MAX_WAIT_BOUND));
        // After the sixth attempt, and past it, there is no wait: give up.
        assert_eq!(wait_bound(BUSY_ATTEMPTS), None);
        assert_eq!(wait_bound(BUSY_ATTEMPTS + 1), None);
        assert_eq!(wait_bound(u32::MAX), None);
        assert_eq!(wait_bound(0), None);
        let worst: Duration = (1..BUSY_ATTEMPTS).filter_map(wait_bound).sum();
        assert_eq!(worst, Duration::from_millis(7750));
    }

    #[test]
    fn only_busy_is_retried_and_a_later_success_wins() {
        let mut calls = 0;
        let r = retry_busy(
            "h:1",
            || {
                calls += 1;
                Err::<(), _>(ClientError::ServerClosed)
            },
            |e| CliError::new(Exit::Connection, e.to_string()),
        );
        assert_eq!(r.unwrap_err().exit(), Exit::Connection);
        assert_eq!(calls, 1, "a failure other than Busy is not retried");
        let mut calls = 0;
        let r = retry_busy(
            "h:1",
            || {
                calls += 1;
                if calls == 1 {
                    busy()
                } else {
                    Ok(())
                }
            },
            |_| unreachable!("Busy then success"),
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
    }
}
