//! Deadlines kept as data: the connection reports the earliest one and is
//! told when time has passed; it never reads the clock.

use std::time::{Duration, Instant};

use super::ProtoError;

/// Default time allowed for the whole handshake (10 s).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may sit with no bytes moving (60 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The two timeouts of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From connection start to an established session.
    pub handshake: Duration,
    /// Longest time with no bytes read or written.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: DEFAULT_HANDSHAKE_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// The deadlines of one connection. A deadline too far away to be an
/// `Instant` is no deadline at all (checked arithmetic, never a panic).
pub struct Timers {
    handshake_deadline: Option<Instant>,
    idle: Duration,
    last_activity: Instant,
}

impl Timers {
    /// Deadlines for a connection starting at `now`.
    pub fn new(timeouts: Timeouts, now: Instant) -> Self {
        Timers {
            handshake_deadline: now.checked_add(timeouts.handshake),
            idle: timeouts.idle,
            last_activity: now,
        }
    }

    /// Bytes moved at `now`: the idle deadline moves out.
    pub fn activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// The handshake finished: its deadline no longer applies.
    pub fn established(&mut self) {
        self.handshake_deadline = None;
    }

    /// Shortens the idle timeout to `idle` if that is shorter.
    pub fn limit_idle(&mut self, idle: Duration) {
        self.idle = self.idle.min(idle);
    }

    fn idle_deadline(&self) -> Option<Instant> {
        self.last_activity.checked_add(self.idle)
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.handshake_deadline, self.idle_deadline()) {
            (Some(h), Some(i)) => Some(h.min(i)),
            (h, i) => h.or(i),
        }
    }

    /// Checks the deadlines against `now`.
    ///
    /// # Errors
    /// `HandshakeTimeout` or `IdleTimeout` once passed.
    pub fn check(&self, now: Instant) -> Result<(), ProtoError> {
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            return Err(ProtoError::HandshakeTimeout);
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            return Err(ProtoError::IdleTimeout);
        }
        Ok(())
    }
}
