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

/// The deadlines of one connection.
pub struct Timers {
    handshake_deadline: Option<Instant>,
    idle: Duration,
    idle_deadline: Instant,
}

impl Timers {
    /// Deadlines for a connection starting at `now`.
    pub fn new(timeouts: Timeouts, now: Instant) -> Self {
        Timers {
            handshake_deadline: Some(now + timeouts.handshake),
            idle: timeouts.idle,
            idle_deadline: now + timeouts.idle,
        }
    }

    /// Bytes moved at `now`: the idle deadline moves out.
    pub fn activity(&mut self, now: Instant) {
        self.idle_deadline = now + self.idle;
    }

    /// The handshake finished: its deadline no longer applies.
    pub fn established(&mut self) {
        self.handshake_deadline = None;
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Instant {
        match self.handshake_deadline {
            Some(h) => h.min(self.idle_deadline),
            None => self.idle_deadline,
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
        if now >= self.idle_deadline {
            return Err(ProtoError::IdleTimeout);
        }
        Ok(())
    }
}
