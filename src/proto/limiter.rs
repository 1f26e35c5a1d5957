//! Admission control, pure: a per-client sliding-window rate limiter and a
//! connection cap. Takes `now`, returns a decision; the server asks before
//! it creates any connection state, and again for each control request.

use core::net::IpAddr;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// Default requests allowed per client per window (100).
pub const DEFAULT_RATE_MAX: NonZeroU32 = match NonZeroU32::new(100) {
    Some(n) => n,
    None => panic!("100 is not zero"),
};
/// Default window (60 s).
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(60);
/// Default cap on concurrent connections (50).
pub const DEFAULT_MAX_CONNECTIONS: usize = 50;
/// Most connections one client (IPv4 address or IPv6 /64) may hold open
/// before authenticating; more are refused at accept. Together with
/// eviction when the server is full (it closes an unauthenticated
/// connection of the client holding the most of them, the oldest of
/// those), this keeps idle sockets from locking honest clients out.
pub const MAX_UNAUTHENTICATED_PER_CLIENT: usize = 8;

/// Most clients tracked at once; past it, expired entries are dropped and
/// new clients are refused until room frees (bounded memory under a flood
/// from many addresses).
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// At most `max` requests per `window` per client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window (never zero: a limiter that admits
    /// nothing would have no oldest request to time a retry from).
    pub max: NonZeroU32,
    /// Window length.
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            max: DEFAULT_RATE_MAX,
            window: DEFAULT_RATE_WINDOW,
        }
    }
}

/// A client as the limiter counts it: an IPv4 address, or an IPv6 /64
/// (one host usually holds a whole /64).
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

/// The answer to "may this go ahead?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Admit,
    /// Over the per-client rate; the oldest counted request leaves the
    /// window after `retry_after`.
    RateLimited { retry_after: Duration },
    /// The connection cap is reached.
    Full,
    /// Too many distinct clients are being tracked.
    TooManyClients,
}

/// Sliding-window log per client: the instants of admitted requests within
/// the window (at most `max` each).
pub struct Limiter {
    limit: RateLimit,
    clients: HashMap<ClientKey, VecDeque<Instant>>,
}

impl Limiter {
    /// A limiter with no history.
    pub fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            clients: HashMap::new(),
        }
    }

    /// Counts one request from `ip` at `now` if the window has room.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Decision {
        let key = ClientKey::from(ip);
        if !self.clients.contains_key(&key) && self.clients.len() >= MAX_TRACKED_CLIENTS {
            self.prune(now);
            if self.clients.len() >= MAX_TRACKED_CLIENTS {
                return Decision::TooManyClients;
            }
        }
        let window = self.limit.window;
        let log = self.clients.entry(key).or_default();
        while log
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            log.pop_front();
        }
        // `max` is at least 1, so a full log has an oldest entry.
        match log.front() {
            Some(&oldest) if log.len() >= self.limit.max.get() as usize => {
                return Decision::RateLimited {
                    retry_after: window.saturating_sub(now.saturating_duration_since(oldest)),
                };
            }
            _ => {}
        }
        log.push_back(now);
        Decision::Admit
    }

    /// Forgets clients with no request inside the window.
    pub fn prune(&mut self, now: Instant) {
        let window = self.limit.window;
        self.clients.retain(|_, log| {
            log.back()
                .is_some_and(|&t| now.saturating_duration_since(t) < window)
        });
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }
}

/// The server's admission rule for a new connection: the connection cap
/// first (no history is recorded for a refused peer), then the rate.
pub struct Admission {
    /// Per-client rate limiter, shared with control requests.
    pub limiter: Limiter,
    /// Concurrent connection cap.
    pub max_connections: usize,
}

impl Admission {
    /// Decides on a new connection from `ip` while `open` are open.
    pub fn decide(&mut self, ip: IpAddr, now: Instant, open: usize) -> Decision {
        if open >= self.max_connections {
            return Decision::Full;
        }
        self.limiter.check(ip, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn limiter(max: u32, secs: u64) -> Limiter {
        Limiter::new(RateLimit {
            max: NonZeroU32::new(max).unwrap(),
            window: Duration::from_secs(secs),
        })
    }

    #[test]
    fn sliding_window_admits_max_then_refuses_until_the_oldest_leaves() {
        let t0 = Instant::now();
        let mut l = limiter(3, 60);
        for i in 0..3 {
            assert_eq!(
                l.check(A, t0 + Duration::from_secs(i * 10)),
                Decision::Admit
            );
        }
        assert_eq!(
            l.check(A, t0 + Duration::from_secs(30)),
            Decision::RateLimited {
                retry_after: Duration::from_secs(30)
            }
        );
        // Another client is unaffected.
        assert_eq!(l.check(B, t0 + Duration::from_secs(30)), Decision::Admit);
        // At t0+60 the first request leaves the window: one more fits, not two.
        assert_eq!(l.check(A, t0 + Duration::from_secs(60)), Decision::Admit);
        assert!(matches!(
            l.check(A, t0 + Duration::from_secs(61)),
            Decision::RateLimited { .. }
        ));
        // Refusals are not counted: once the window has moved on, requests fit again.
        assert_eq!(l.check(A, t0 + Duration::from_secs(200)), Decision::Admit);
    }

    #[test]
    fn a_count_of_max_is_admitted_and_max_plus_one_refused() {
        let t0 = Instant::now();
        for max in [1, 2, DEFAULT_RATE_MAX.get()] {
            let mut l = limiter(max, 60);
            for _ in 0..max {
                assert_eq!(l.check(A, t0), Decision::Admit, "max {max}");
            }
            assert_eq!(
                l.check(A, t0),
                Decision::RateLimited {
                    retry_after: Duration::from_secs(60)
                },
                "max {max}"
            );
        }
    }

    /// The `i`th of many distinct IPv4 clients.
    fn client(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(i))
    }

    /// A limiter tracking exactly `MAX_TRACKED_CLIENTS` clients, all seen
    /// at `t0` (window 60 s); the last one was admitted at the limit.
    fn full_limiter(t0: Instant) -> Limiter {
        let mut l = limiter(5, 60);
        let n = MAX_TRACKED_CLIENTS as u32;
        for i in 0..n - 1 {
            l.check(client(i), t0);
        }
        assert_eq!(l.tracked(), MAX_TRACKED_CLIENTS - 1);
        assert_eq!(l.check(client(n - 1), t0), Decision::Admit);
        assert_eq!(l.tracked(), MAX_TRACKED_CLIENTS);
        l
    }

    #[test]
    fn past_max_tracked_clients_a_new_client_is_refused_when_prune_frees_nothing() {
        let t0 = Instant::now();
        let mut l = full_limiter(t0);
        let t1 = t0 + Duration::from_secs(59);
        assert_eq!(l.check(A, t1), Decision::TooManyClients);
        assert_eq!(
            l.tracked(),
            MAX_TRACKED_CLIENTS,
            "a refused client is not tracked"
        );
        // Clients already tracked are still served.
        assert_eq!(l.check(client(0), t1), Decision::Admit);
    }

    #[test]
    fn past_max_tracked_clients_prune_makes_room_for_a_new_client() {
        let t0 = Instant::now();
        let mut l = full_limiter(t0);
        // Client 0 stays active; every other client's last request is a
        // whole window old by t1 and is dropped to make room.
        l.check(client(0), t0 + Duration::from_secs(30));
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(l.check(A, t1), Decision::Admit);
        assert_eq!(l.tracked(), 2);
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_v4_as_v4() {
        let t0 = Instant::now();
        let mut l = limiter(1, 60);
        let a: IpAddr = "2001:db8:1:2::1".parse::<Ipv6Addr>().unwrap().into();
        let same64: IpAddr = "2001:db8:1:2:ffff::9".parse::<Ipv6Addr>().unwrap().into();
        let other64: IpAddr = "2001:db8:1:3::1".parse::<Ipv6Addr>().unwrap().into();
        assert_eq!(l.check(a, t0), Decision::Admit);
        assert!(matches!(l.check(same64, t0), Decision::RateLimited { .. }));
        assert_eq!(l.check(other64, t0), Decision::Admit);
        let mapped: IpAddr = Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped().into();
        assert_eq!(l.check(A, t0), Decision::Admit);
        assert!(matches!(l.check(mapped, t0), Decision::RateLimited { .. }));
    }

    #[test]
    fn prune_forgets_quiet_clients() {
        let t0 = Instant::now();
        let mut l = limiter(5, 10);
        l.check(A, t0);
        l.check(B, t0 + Duration::from_secs(5));
        l.prune(t0 + Duration::from_secs(12));
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn admission_checks_the_cap_before_the_rate() {
        let t0 = Instant::now();
        let mut adm = Admission {
            limiter: limiter(1, 60),
            max_connections: 2,
        };
        assert_eq!(adm.decide(A, t0, 2), Decision::Full);
        // The refusal for a full server did not use up A's allowance.
        assert_eq!(adm.decide(A, t0, 1), Decision::Admit);
        assert!(matches!(adm.decide(A, t0, 0), Decision::RateLimited { .. }));
    }
}
