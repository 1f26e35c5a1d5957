//! Sources that have completed a handshake recently. Admission trusts them
//! a little more: their unauthenticated connections are evicted last, and
//! they do not compete for the half of the slots that never-authenticated
//! sources may hold. Only an authenticated session adds a source, so a
//! flood cannot grow or steer this table.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{forget_stalest, ClientKey};

/// How long a source stays proven after its last authenticated session
/// started (24 h).
pub const PROVEN_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// Most sources remembered (10,000); past it the stalest eighth is
/// forgotten.
pub const MAX_PROVEN: usize = 10_000;

/// The proven sources and when each last authenticated.
#[derive(Default)]
pub struct Proven {
    map: HashMap<ClientKey, Instant>,
}

impl Proven {
    /// Nothing proven yet.
    pub fn new() -> Self {
        Proven::default()
    }

    /// `source` authenticated at `now`.
    pub fn insert(&mut self, source: ClientKey, now: Instant) {
        if !self.map.contains_key(&source) && self.map.len() >= MAX_PROVEN {
            self.map
                .retain(|_, t| now.saturating_duration_since(*t) < PROVEN_FOR);
            if self.map.len() >= MAX_PROVEN {
                forget_stalest(&mut self.map, MAX_PROVEN / 8, |t| *t);
            }
        }
        self.map.insert(source, now);
    }

    /// Whether `source` authenticated within [`PROVEN_FOR`] before `now`.
    pub fn contains(&self, source: ClientKey, now: Instant) -> bool {
        self.map
            .get(&source)
            .is_some_and(|t| now.saturating_duration_since(*t) < PROVEN_FOR)
    }

    /// Sources remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(i: u32) -> ClientKey {
        ClientKey::V4(i)
    }

    #[test]
    fn a_source_is_proven_for_proven_for_and_not_a_moment_longer() {
        let t0 = Instant::now();
        let mut p = Proven::new();
        assert!(!p.contains(src(1), t0));
        p.insert(src(1), t0);
        assert!(p.contains(src(1), t0 + PROVEN_FOR - Duration::from_nanos(1)));
        assert!(!p.contains(src(1), t0 + PROVEN_FOR));
        assert!(!p.contains(src(2), t0));
    }

    #[test]
    fn at_max_proven_the_stalest_eighth_makes_room() {
        let t0 = Instant::now();
        let mut p = Proven::new();
        for i in 0..MAX_PROVEN as u32 {
            p.insert(src(i), t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(p.len(), MAX_PROVEN);
        let later = t0 + Duration::from_secs(60);
        p.insert(src(u32::MAX), later);
        assert_eq!(p.len(), MAX_PROVEN - MAX_PROVEN / 8 + 1);
        assert!(p.contains(src(u32::MAX), later));
        assert!(!p.contains(src(0), later), "the stalest went");
        assert!(p.contains(src(MAX_PROVEN as u32 - 1), later));
        // Re-proving a remembered source needs no room.
        p.insert(src(MAX_PROVEN as u32 - 1), later);
        assert_eq!(p.len(), MAX_PROVEN - MAX_PROVEN / 8 + 1);
    }
}
