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

/// The deadlines of one connection. A deadline too far out for an
/// `Instant` to hold is no deadline at all, so no `Timeouts` or wait value
/// can make these methods panic.
pub struct Timers {
    handshake_deadline: Option<Instant>,
    idle: Duration,
    last_activity: Instant,
    /// Idle time counts from no earlier than this instant (the end of the
    /// longest wait [`Timers::hold`] was told of); `None` when that end is
    /// beyond what an `Instant` holds, so there is no idle deadline.
    held_until: Option<Instant>,
}

impl Timers {
    /// Deadlines for a connection starting at `now`.
    pub fn new(timeouts: Timeouts, now: Instant) -> Self {
        Timers {
            handshake_deadline: now.checked_add(timeouts.handshake),
            idle: timeouts.idle,
            last_activity: now,
            held_until: Some(now),
        }
    }

    /// A RESULT asking for a wait of `wait` was sent or received (RESULT 8,
    /// docs/PROTOCOL.md §6): the idle deadline becomes no earlier than the
    /// last activity + `wait` + the idle timeout, so neither side is cut
    /// while the client waits as asked. Activity after that moves the
    /// deadline as before, but never earlier. A zero `wait` changes
    /// nothing.
    pub fn hold(&mut self, wait: Duration) {
        self.held_until = match (self.held_until, self.last_activity.checked_add(wait)) {
            (Some(held), Some(end)) => Some(held.max(end)),
            _ => None,
        };
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
        self.held_until?
            .max(self.last_activity)
            .checked_add(self.idle)
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.handshake_deadline, self.idle_deadline()) {
            (Some(h), Some(i)) => Some(h.min(i)),
            (h, i) => h.or(i),
        }
    }

    /// Checks the deadlines against `now`; a deadline fires at its instant.
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

#[cfg(test)]
mod tests {
    use super::*;

    const NS: Duration = Duration::from_nanos(1);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn each_deadline_fires_at_its_instant_and_not_a_nanosecond_before() {
        let t0 = Instant::now();
        let mut t = Timers::new(Timeouts::default(), t0);
        assert_eq!(t.next_deadline(), Some(t0 + secs(10)));
        assert!(t.check(t0 + secs(10) - NS).is_ok());
        assert!(matches!(
            t.check(t0 + secs(10)),
            Err(ProtoError::HandshakeTimeout)
        ));
        t.established();
        assert_eq!(t.next_deadline(), Some(t0 + secs(60)));
        t.activity(t0 + secs(30));
        assert_eq!(t.next_deadline(), Some(t0 + secs(90)));
        assert!(t.check(t0 + secs(90) - NS).is_ok());
        assert!(matches!(
            t.check(t0 + secs(90)),
            Err(ProtoError::IdleTimeout)
        ));
    }

    #[test]
    fn duration_max_timeouts_do_not_panic_and_never_fire() {
        let t0 = Instant::now();
        let forever = Timeouts {
            handshake: Duration::MAX,
            idle: Duration::MAX,
        };
        let mut t = Timers::new(forever, t0);
        assert_eq!(t.next_deadline(), None);
        let much_later = t0 + secs(1 << 40);
        t.activity(much_later);
        assert_eq!(t.next_deadline(), None);
        assert!(t.check(much_later).is_ok());
        t.established();
        assert!(t.check(much_later).is_ok());
    }

    #[test]
    fn one_unrepresentable_deadline_leaves_the_other_in_force() {
        let t0 = Instant::now();
        let t = Timers::new(
            Timeouts {
                handshake: Duration::MAX,
                idle: secs(60),
            },
            t0,
        );
        assert_eq!(t.next_deadline(), Some(t0 + secs(60)));
        assert!(matches!(
            t.check(t0 + secs(60)),
            Err(ProtoError::IdleTimeout)
        ));
        let t = Timers::new(
            Timeouts {
                handshake: secs(10),
                idle: Duration::MAX,
            },
            t0,
        );
        assert_eq!(t.next_deadline(), Some(t0 + secs(10)));
        assert!(matches!(
            t.check(t0 + secs(10)),
            Err(ProtoError::HandshakeTimeout)
        ));
    }

    /// The hold runs from the last activity; activity inside it changes
    /// nothing, activity after it counts as before, a shorter or zero
    /// hold never shortens it, and an unrepresentable one means no idle
    /// deadline rather than a panic.
    #[test]
    fn a_hold_delays_the_idle_deadline_and_never_advances_it() {
        let t0 = Instant::now();
        let idle = Timeouts {
            handshake: secs(10),
            idle: secs(5),
        };
        let mut t = Timers::new(idle, t0);
        t.established();
        t.hold(Duration::ZERO);
        assert_eq!(t.next_deadline(), Some(t0 + secs(5)));
        t.hold(secs(30));
        assert_eq!(t.next_deadline(), Some(t0 + secs(35)));
        assert!(t.check(t0 + secs(35) - NS).is_ok());
        assert!(matches!(
            t.check(t0 + secs(35)),
            Err(ProtoError::IdleTimeout)
        ));
        t.activity(t0 + secs(10));
        t.hold(secs(1));
        assert_eq!(t.next_deadline(), Some(t0 + secs(35)));
        t.activity(t0 + secs(32));
        assert_eq!(t.next_deadline(), Some(t0 + secs(37)));

        let mut t = Timers::new(idle, t0);
        t.established();
        t.hold(Duration::MAX);
        assert_eq!(t.next_deadline(), None);
        t.hold(secs(1));
        t.activity(t0 + secs(1 << 40));
        assert!(t.check(t0 + secs(1 << 40)).is_ok());
    }
}
