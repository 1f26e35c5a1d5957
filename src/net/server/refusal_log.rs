//! A cap on refusal lines in the log, so a flood of refused attempts cannot
//! fill the disk with log.

use std::time::{Duration, Instant};

use log::warn;

/// Refusal lines allowed into the log per second; the rest are counted and
/// summed up once a second.
pub const REFUSAL_LINES_PER_SEC: u32 = 20;

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

    /// Whether a refusal at `now` may be logged.
    pub fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.second) >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                warn!(
                    "{} more refusals in the last second were not logged",
                    self.suppressed
                );
            }
            *self = RefusalLog::new(now);
        }
        if self.lines < REFUSAL_LINES_PER_SEC {
            self.lines += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}
