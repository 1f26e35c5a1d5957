//! One token bucket per key (a source, or a client key), in a table of
//! bounded size. A key not in the table has a full bucket, so forgetting a
//! full bucket loses nothing, and when the table is full the stalest
//! entries make room: a new key is never refused for lack of space.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::{forget_stalest, Cost, Rate, UNITS_PER_TOKEN};

/// Most keys one table tracks (100,000; about 5 MiB). Past it, full
/// buckets are forgotten, then the stalest eighth of the rest.
pub const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Fractions of a token held ([`UNITS_PER_TOKEN`] per token).
    units: u64,
    /// The instant `units` was last brought up to date.
    at: Instant,
    /// Last time the key was charged (for choosing the stalest).
    seen: Instant,
}

/// Token buckets per key `K`, all with the same [`Rate`].
pub struct Buckets<K> {
    rate: Rate,
    max: usize,
    map: HashMap<K, Bucket>,
}

impl<K: Copy + Eq + Hash> Buckets<K> {
    /// An empty table holding at most [`MAX_TRACKED`] keys.
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_TRACKED)
    }

    /// An empty table holding at most `max` keys (at least 1).
    pub fn with_capacity(rate: Rate, max: usize) -> Self {
        Buckets {
            rate,
            max: max.max(1),
            map: HashMap::new(),
        }
    }

    fn capacity_units(&self) -> u64 {
        u64::from(self.rate.burst.get()) * UNITS_PER_TOKEN
    }

    /// Whole units `b` has regained from `b.at` to `now` (uncapped).
    fn gained(&self, b: &Bucket, now: Instant) -> u128 {
        let per = self.rate.per.as_nanos().max(1);
        let elapsed = now.saturating_duration_since(b.at).as_nanos();
        // elapsed < 2^64 ns for any real span and cap < 2^40: no overflow.
        elapsed.saturating_mul(u128::from(self.capacity_units())) / per
    }

    /// Brings `b` up to `now`: units regained since `b.at`, at most the
    /// capacity. Only the time that bought whole units is consumed, so
    /// frequent calls lose nothing to rounding.
    fn refill(&self, b: &mut Bucket, now: Instant) {
        let cap = self.capacity_units();
        let per = self.rate.per.as_nanos().max(1);
        let gained = self.gained(b, now);
        if gained == 0 {
            return;
        }
        let units = u128::from(b.units).saturating_add(gained);
        if units >= u128::from(cap) {
            b.units = cap;
            b.at = now;
        } else {
            b.units = units as u64;
            let used = gained * per / u128::from(cap);
            b.at += Duration::from_nanos(u64::try_from(used).unwrap_or(u64::MAX));
        }
    }

    /// Whether `key` has a whole token at `now`; otherwise the time until
    /// it will (more than zero). Charges nothing.
    pub fn check(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        let Some(mut b) = self.map.get(&key).copied() else {
            return Ok(());
        };
        self.refill(&mut b, now);
        self.map.insert(key, b);
        if b.units >= UNITS_PER_TOKEN {
            return Ok(());
        }
        let missing = u128::from(UNITS_PER_TOKEN - b.units);
        let per = self.rate.per.as_nanos();
        let cap = u128::from(self.capacity_units());
        let nanos = (missing * per).div_ceil(cap).max(1);
        Err(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Takes `cost` from `key`'s bucket at `now`, down to empty at most
    /// (a cheap refusal on an almost empty bucket costs what is left).
    pub fn charge(&mut self, key: K, now: Instant, cost: Cost) {
        let cap = self.capacity_units();
        if !self.map.contains_key(&key) && self.map.len() >= self.max {
            self.make_room(now);
        }
        let mut b = self.map.get(&key).copied().unwrap_or(Bucket {
            units: cap,
            at: now,
            seen: now,
        });
        self.refill(&mut b, now);
        b.units = b.units.saturating_sub(cost.units());
        b.seen = now;
        self.map.insert(key, b);
    }

    /// Takes one token if `key` has one; otherwise the wait, and nothing
    /// is charged.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        self.check(key, now)?;
        self.charge(key, now, Cost::Work);
        Ok(())
    }

    /// Forgets buckets that have refilled completely by `now` (as good as
    /// never seen).
    pub fn prune(&mut self, now: Instant) {
        let cap = u128::from(self.capacity_units());
        let full: Vec<K> = self
            .map
            .iter()
            .filter(|(_, b)| u128::from(b.units).saturating_add(self.gained(b, now)) >= cap)
            .map(|(k, _)| *k)
            .collect();
        for k in full {
            self.map.remove(&k);
        }
    }

    /// Frees room for one key: full buckets first; if none is, the
    /// stalest eighth of the table (so the next `max / 8` new keys find
    /// room without another scan).
    fn make_room(&mut self, now: Instant) {
        self.prune(now);
        if self.map.len() < self.max {
            return;
        }
        forget_stalest(&mut self.map, self.max / 8, |b| b.seen);
    }

    /// Keys currently tracked.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn rate(burst: u32, secs: u64) -> Rate {
        Rate {
            burst: NonZeroU32::new(burst).unwrap(),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_burst_is_admitted_and_one_more_waits_for_one_token() {
        let t0 = Instant::now();
        for burst in [1, 2, 600] {
            let mut b = Buckets::new(rate(burst, 60));
            for i in 0..burst {
                assert_eq!(b.take(7u8, t0), Ok(()), "burst {burst}, take {i}");
            }
            // One token comes back every 60 s / burst.
            let wait = Duration::from_secs(60) / burst;
            assert_eq!(b.take(7, t0), Err(wait), "burst {burst}");
            assert!(b.take(7, t0 + wait - Duration::from_nanos(1)).is_err());
            assert_eq!(b.take(7, t0 + wait), Ok(()));
            // Another key is unaffected.
            assert_eq!(b.take(8, t0), Ok(()));
        }
    }

    #[test]
    fn frequent_checks_lose_nothing_to_rounding() {
        let t0 = Instant::now();
        let mut b = Buckets::new(rate(3, 3)); // a token a second
        for _ in 0..3 {
            b.take(1u8, t0).unwrap();
        }
        // Asked every millisecond for a second: the token arrives at 1 s.
        let mut t = t0;
        for _ in 0..999 {
            t += Duration::from_millis(1);
            assert!(b.check(1, t).is_err(), "{:?}", t - t0);
        }
        assert_eq!(b.check(1, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn a_cheap_charge_is_a_sixteenth_and_never_goes_below_empty() {
        let t0 = Instant::now();
        let mut b = Buckets::new(rate(1, 16)); // a unit a second
        b.charge(1u8, t0, Cost::Cheap);
        // 15 units left: no whole token; the 16th unit is 1 s away.
        assert_eq!(b.check(1, t0), Err(Duration::from_secs(1)));
        for _ in 0..100 {
            b.charge(1, t0, Cost::Cheap);
        }
        assert_eq!(b.check(1, t0), Err(Duration::from_secs(16)));
    }

    #[test]
    fn check_charges_nothing_and_an_unknown_key_is_not_tracked() {
        let t0 = Instant::now();
        let mut b = Buckets::new(rate(1, 60));
        assert_eq!(b.check(1u8, t0), Ok(()));
        assert_eq!(b.check(1, t0), Ok(()));
        assert_eq!(b.tracked(), 0);
        assert_eq!(b.take(1, t0), Ok(()));
        assert_eq!(b.tracked(), 1);
    }

    #[test]
    fn a_full_table_forgets_full_buckets_then_the_stalest_and_never_refuses() {
        let t0 = Instant::now();
        let max = 64;
        let mut b = Buckets::with_capacity(rate(2, 60), max);
        for k in 0..max as u32 {
            b.take(k, t0 + Duration::from_millis(u64::from(k))).unwrap();
        }
        assert_eq!(b.tracked(), max);
        // At the limit and one past: the newcomer is admitted; the stalest
        // eighth (keys 0..8, seen first) is forgotten.
        let late = t0 + Duration::from_secs(1);
        assert_eq!(b.take(1000, late), Ok(()));
        assert_eq!(b.tracked(), max - max / 8 + 1);
        b.take(8, late).unwrap();
        assert!(b.take(8, late).is_err(), "key 8 was kept");
        assert_eq!(b.check(0, late), Ok(()), "key 0 was forgotten");
        // Once every bucket has refilled, pruning empties the table.
        b.prune(late + Duration::from_secs(60));
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn prune_forgets_only_full_buckets() {
        let t0 = Instant::now();
        let mut b = Buckets::new(rate(2, 10));
        b.take(1u8, t0).unwrap();
        b.take(2u8, t0).unwrap();
        b.take(2u8, t0).unwrap();
        // Key 1 is full again after 5 s, key 2 after 10 s.
        b.prune(t0 + Duration::from_secs(5));
        assert_eq!(b.tracked(), 1);
        b.prune(t0 + Duration::from_secs(10));
        assert_eq!(b.tracked(), 0);
    }
}
