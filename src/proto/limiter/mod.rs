//! Admission control, pure: token buckets per source before
//! authentication and per client key after it, and the memory of which
//! sources have authenticated. Takes `now`, returns decisions; the server
//! asks before it creates any connection state, and again for each
//! request of an authenticated session.
//!
//! - [`Buckets`]: one token bucket per key in a bounded table.
//! - [`Proven`]: sources that completed a handshake recently.
//! - this file: rates, costs, what a source is, and the defaults.

mod buckets;
mod proven;

use core::net::IpAddr;
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

pub use buckets::{Buckets, MAX_TRACKED};
pub use proven::{Proven, MAX_PROVEN, PROVEN_FOR};

/// `burst` events at once, refilled at `burst` per `per`: a token bucket
/// that holds `burst` tokens and gains one every `per / burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Bucket size, and tokens regained per `per` (never zero: a bucket
    /// that holds nothing would have no wait to announce).
    pub burst: NonZeroU32,
    /// Time to refill an empty bucket completely (more than zero).
    pub per: Duration,
}

const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("zero"),
    }
}

/// Default rate of new connections per source (600 per 60 s): a burst of
/// 600, then 10 a second. Bounds the handshakes one address (or IPv6 /64)
/// can make the server start; 50 parallel clients or a shell loop of
/// single transfers from one host fit many times over.
pub const DEFAULT_SOURCE_RATE: Rate = Rate {
    burst: nonzero(600),
    per: Duration::from_secs(60),
};

/// Default rate of requests per client key (20,000 per 60 s): a batch of
/// 10,000 files in one session, or 50 parallel sessions of one key, never
/// waits; a key that keeps asking gets about 333 requests a second.
pub const DEFAULT_KEY_RATE: Rate = Rate {
    burst: nonzero(20_000),
    per: Duration::from_secs(60),
};

/// Default cap on concurrent connections (128).
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// Default cap on unauthenticated connections one source may hold (64):
/// 50 parallel clients of one host (or one NAT) get in at once.
pub const DEFAULT_MAX_PENDING_PER_SOURCE: usize = 64;

/// What a request costs from its key's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// Real work: a stored or served file, a listing (one token).
    Work,
    /// A refusal answered from a name or a stat alone (exists, not found,
    /// too large, bad name): a sixteenth of a token.
    Cheap,
}

/// Fractions of a token a bucket counts in: [`Cost::Cheap`] is one.
pub(crate) const UNITS_PER_TOKEN: u64 = 16;

impl Cost {
    pub(crate) fn units(self) -> u64 {
        match self {
            Cost::Work => UNITS_PER_TOKEN,
            Cost::Cheap => 1,
        }
    }
}

/// Forgets the `n` entries of `map` (at least one) whose `at` is oldest:
/// how a full table makes room for the next `n` newcomers in one scan.
pub(crate) fn forget_stalest<K: Copy + Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    n: usize,
    at: impl Fn(&V) -> Instant,
) {
    if map.is_empty() {
        return;
    }
    let n = n.clamp(1, map.len());
    let mut by_age: Vec<(Instant, K)> = map.iter().map(|(k, v)| (at(v), *k)).collect();
    by_age.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
    for (_, k) in &by_age[..n] {
        map.remove(k);
    }
}

/// A source as admission counts it: an IPv4 address, or an IPv6 /64 (one
/// host usually holds a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// One IPv4 address.
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_v4_as_v4() {
        let key = |s: &str| ClientKey::from(s.parse::<IpAddr>().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        let mapped: IpAddr = Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped().into();
        assert_eq!(ClientKey::from(mapped), key("192.0.2.1"));
        let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_ne!(ClientKey::from(v6), key("0.0.0.1"));
    }

    #[test]
    fn a_cheap_refusal_is_a_sixteenth_of_real_work() {
        assert_eq!(Cost::Work.units(), 16 * Cost::Cheap.units());
    }
}
