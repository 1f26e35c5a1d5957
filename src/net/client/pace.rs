//! `--limit-rate`: a token bucket per direction that the session's socket
//! reads and writes draw from. Uploads are paced by what the client
//! writes; downloads by what it reads, and TCP flow control slows the
//! server to match. The bucket starts empty, so over any stretch of a
//! session the bytes moved are at most the rate times its length.

use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// Slowest `--limit-rate` (1 KiB/s): slower still, a 256 KiB record takes
/// minutes to pass and the session's timers lose their meaning.
pub const MIN_LIMIT_RATE: u64 = 1024;

/// Fastest `--limit-rate` (100 GiB/s): above any link sft runs on, and
/// far from where the bucket's arithmetic (bytes × nanoseconds, in u128)
/// could overflow.
pub const MAX_LIMIT_RATE: u64 = 100 << 30;

/// How much a bucket holds, as time at the rate (100 ms): the burst after
/// a pause, and how long the session sleeps once the bucket is empty.
pub const BURST: Duration = Duration::from_millis(100);

const NANOS: u128 = 1_000_000_000;

/// One direction's token bucket; time is passed in.
#[derive(Debug)]
pub struct Pacer {
    /// Bytes per second.
    rate: u64,
    /// Most tokens held, in bytes.
    capacity: u64,
    tokens: u64,
    /// The time the tokens were counted up to.
    counted: Instant,
}

impl Pacer {
    /// A bucket for `rate` bytes per second (held to [`MIN_LIMIT_RATE`] ..=
    /// [`MAX_LIMIT_RATE`]), empty at `now`.
    pub fn new(rate: u64, now: Instant) -> Pacer {
        let rate = rate.clamp(MIN_LIMIT_RATE, MAX_LIMIT_RATE);
        let capacity = (u128::from(rate) * BURST.as_nanos() / NANOS) as u64;
        Pacer {
            rate,
            capacity,
            tokens: 0,
            counted: now,
        }
    }

    /// Bytes that may move at `now`. Time is credited in whole bytes,
    /// each no earlier than its due time, so rounding never adds any.
    pub fn allowance(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.counted).as_nanos();
        let earned = elapsed.saturating_mul(u128::from(self.rate)) / NANOS;
        let room = self.capacity - self.tokens;
        if earned >= u128::from(room) {
            self.tokens = self.capacity;
            self.counted = now;
        } else if earned > 0 {
            // `earned` bytes are due after this many nanoseconds (rounded
            // up, so no time is credited twice).
            let used = (earned * NANOS).div_ceil(u128::from(self.rate));
            self.tokens += earned as u64;
            self.counted += Duration::from_nanos(used as u64);
        }
        self.tokens
    }

    /// Takes `n` bytes that moved (at most the last allowance).
    pub fn spend(&mut self, n: u64) {
        self.tokens = self.tokens.saturating_sub(n);
    }

    /// When an empty bucket is full again: the time to wake for more.
    /// `None` while tokens remain.
    pub fn ready_at(&self) -> Option<Instant> {
        (self.tokens == 0).then(|| self.counted + BURST)
    }
}

/// A socket whose reads or writes are held to a [`Pacer`]'s allowance at
/// `now`: past it, `WouldBlock`, as a full socket would say.
pub(super) struct Paced<'a, S> {
    pub sock: &'a mut S,
    pub pacer: Option<&'a mut Pacer>,
    pub now: Instant,
}

impl<S> Paced<'_, S> {
    fn allowed(&mut self, len: usize) -> io::Result<usize> {
        match &mut self.pacer {
            None => Ok(len),
            Some(p) => match p.allowance(self.now) {
                0 if len > 0 => Err(ErrorKind::WouldBlock.into()),
                allow => Ok(len.min(usize::try_from(allow).unwrap_or(usize::MAX))),
            },
        }
    }

    fn spent(&mut self, n: usize) {
        if let Some(p) = &mut self.pacer {
            p.spend(n as u64);
        }
    }
}

impl<S: Read> Read for Paced<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.allowed(buf.len())?;
        let got = self.sock.read(&mut buf[..n])?;
        self.spent(got);
        Ok(got)
    }
}

impl<S: Write> Write for Paced<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.allowed(buf.len())?;
        let put = self.sock.write(&buf[..n])?;
        self.spent(put);
        Ok(put)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves as much as the pacer allows at each step of a stepped clock
    /// and checks the bound at every step: never more than rate × time.
    fn run(rate: u64, step: Duration, steps: u32) -> u64 {
        let start = Instant::now();
        let mut p = Pacer::new(rate, start);
        let mut moved: u64 = 0;
        for i in 1..=steps {
            let now = start + step * i;
            let allow = p.allowance(now);
            p.spend(allow);
            moved += allow;
            let bound = u128::from(rate) * (step * i).as_nanos() / NANOS;
            assert!(u128::from(moved) <= bound, "{moved} > {bound} at step {i}");
        }
        moved
    }

    #[test]
    fn the_average_never_exceeds_the_rate_and_reaches_it() {
        for rate in [MIN_LIMIT_RATE, 1000 * 1024 + 7, 10 << 20, MAX_LIMIT_RATE] {
            for step in [Duration::from_nanos(1_234_567), Duration::from_millis(10)] {
                let steps = 1000;
                let moved = run(rate, step, steps);
                let ideal = u128::from(rate) * (step * steps).as_nanos() / NANOS;
                // Within a byte per step of the rate: rounding never gains
                // and loses little.
                assert!(
                    u128::from(moved) + u128::from(steps) >= ideal,
                    "{rate}: {moved} of {ideal}"
                );
            }
        }
    }

    #[test]
    fn a_pause_allows_a_burst_of_100_ms_and_no_more() {
        let start = Instant::now();
        let mut p = Pacer::new(10_240, start);
        assert_eq!(p.allowance(start), 0, "it starts empty");
        assert_eq!(p.ready_at(), Some(start + BURST));
        assert_eq!(p.allowance(start + Duration::from_secs(60)), 1024);
        p.spend(1000);
        assert_eq!(p.allowance(start + Duration::from_secs(60)), 24);
        assert_eq!(p.ready_at(), None);
    }

    #[test]
    fn rates_are_held_to_their_limits() {
        let start = Instant::now();
        let later = start + Duration::from_secs(1);
        assert_eq!(Pacer::new(0, start).allowance(later), MIN_LIMIT_RATE / 10);
        assert_eq!(
            Pacer::new(MIN_LIMIT_RATE, start).allowance(later),
            MIN_LIMIT_RATE / 10
        );
        let max = Pacer::new(u64::MAX, start).allowance(later);
        assert_eq!(max, MAX_LIMIT_RATE / 10);
        // A clock that goes back credits nothing.
        let mut p = Pacer::new(MIN_LIMIT_RATE, later);
        assert_eq!(p.allowance(start), 0);
    }

    #[test]
    fn a_paced_socket_moves_its_allowance_then_would_block() {
        let start = Instant::now();
        let mut p = Pacer::new(MIN_LIMIT_RATE, start);
        let now = start + BURST;
        let mut out = Vec::new();
        let mut w = Paced {
            sock: &mut out,
            pacer: Some(&mut p),
            now,
        };
        assert_eq!(w.write(&[7; 4096]).unwrap(), 102);
        assert_eq!(w.write(&[7; 10]).unwrap_err().kind(), ErrorKind::WouldBlock);
        let mut src: &[u8] = &[1; 4096];
        let mut q = Pacer::new(MIN_LIMIT_RATE, start);
        let mut r = Paced {
            sock: &mut src,
            pacer: Some(&mut q),
            now,
        };
        let mut buf = [0u8; 4096];
        assert_eq!(r.read(&mut buf).unwrap(), 102);
        assert_eq!(r.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    }
}
