//! Who gets a connection slot, and what an authenticated key may do: the
//! server's admission state and its pure rules.
//!
//! Before authentication a peer is only a source (an IPv4 address or an
//! IPv6 /64): it may hold `max_pending_per_source` unauthenticated
//! connections, open new ones at `source_rate`, and sources that never
//! authenticated share at most half of the slots. When a slot is needed,
//! an unauthenticated connection makes room, chosen by [`choose_victim`];
//! authenticated sessions are never evicted. After authentication the
//! key counts: at most half of the slots per key, and requests at
//! `key_rate`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mio::Token;

use crate::crypto::ed25519::Fingerprint;
use crate::proto::limiter::{
    Buckets, ClientKey, Cost, Proven, Rate, DEFAULT_KEY_RATE, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PENDING_PER_SOURCE, DEFAULT_SOURCE_RATE, PROVEN_FOR,
};

/// The admission limits (from `sft serve`'s flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Concurrent connections, authenticated or not.
    pub max_connections: usize,
    /// Unauthenticated connections one source may hold.
    pub max_pending_per_source: usize,
    /// New connections per source.
    pub source_rate: Rate,
    /// Requests (uploads, downloads, listings) per client key.
    pub key_rate: Rate,
}

impl Default for Limits {
    /// [`DEFAULT_MAX_CONNECTIONS`], [`DEFAULT_MAX_PENDING_PER_SOURCE`],
    /// [`DEFAULT_SOURCE_RATE`] and [`DEFAULT_KEY_RATE`].
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending_per_source: DEFAULT_MAX_PENDING_PER_SOURCE,
            source_rate: DEFAULT_SOURCE_RATE,
            key_rate: DEFAULT_KEY_RATE,
        }
    }
}

impl Limits {
    /// Sessions one key may hold at once: half of the slots (at least 1),
    /// so one key can never take every slot.
    pub fn max_sessions_per_key(&self) -> usize {
        (self.max_connections / 2).max(1)
    }

    /// Unauthenticated connections that sources which never authenticated
    /// may hold in all: half of the slots (at least 1). The other half is
    /// always open to proven sources.
    pub fn unproven_share(&self) -> usize {
        (self.max_connections / 2).max(1)
    }
}

/// What placement needs to know about one open connection (taken once
/// per batch of accepts, so placing costs no table lookups).
#[derive(Clone, Copy, Debug)]
pub(super) struct Candidate {
    pub token: Token,
    /// When it was accepted.
    pub since: Instant,
    pub authenticated: bool,
    /// Whether a valid HELLO has arrived.
    pub hello: bool,
    /// Whether its source is proven.
    pub proven: bool,
    /// Unauthenticated connections its source holds.
    pub from_source: usize,
}

/// Where a new connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// A free slot.
    Admit,
    /// Close this unauthenticated connection to make room.
    Evict(Token),
    /// No room: every slot it could take is held by authenticated sessions.
    Full,
}

/// The connection to close to make room, among the unauthenticated ones
/// that `eligible` allows: first from a source that never authenticated,
/// then one that has sent nothing, then from the source holding the most
/// unauthenticated connections, then the oldest (the first accepted on a
/// tie). An attacker cannot make its connections rank below a proven
/// host's without authenticating, and an honest handshake, which takes
/// milliseconds, is younger than a flood's stalled ones. One pass.
pub(super) fn choose_victim(
    open: &[Candidate],
    eligible: impl Fn(&Candidate) -> bool,
) -> Option<Token> {
    open.iter()
        .filter(|c| !c.authenticated && eligible(c))
        .max_by(|a, b| {
            let rank = |c: &Candidate| (!c.proven, !c.hello, c.from_source);
            rank(a)
                .cmp(&rank(b))
                .then(b.since.cmp(&a.since))
                .then(b.token.cmp(&a.token))
        })
        .map(|c| c.token)
}

/// Places a new connection from a source (`proven` or not) among `open`,
/// the connections of the loop that accepts (every unauthenticated one is
/// there), with `elsewhere` authenticated sessions on the server's other
/// loops: within the unproven share when its source never authenticated,
/// then within the cap. One pass.
pub(super) fn place(
    open: &[Candidate],
    elsewhere: usize,
    proven: bool,
    limits: &Limits,
) -> Placement {
    let unproven_pending = |c: &Candidate| !c.authenticated && !c.proven;
    if !proven && open.iter().filter(|c| unproven_pending(c)).count() >= limits.unproven_share() {
        return choose_victim(open, unproven_pending).map_or(Placement::Full, Placement::Evict);
    }
    if open.len() + elsewhere >= limits.max_connections {
        return choose_victim(open, |_| true).map_or(Placement::Full, Placement::Evict);
    }
    Placement::Admit
}

/// Why a new connection was refused at accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Its source holds `max_pending_per_source` unauthenticated connections.
    PendingCap,
    /// Its source opened connections faster than `source_rate`; a token
    /// comes back after the wait.
    SourceRate(Duration),
    /// Every slot it could take is held by authenticated sessions.
    Full,
}

impl Refusal {
    /// For the log.
    pub fn describe(self) -> String {
        match self {
            Refusal::PendingCap => "too many unauthenticated connections from this source".into(),
            Refusal::SourceRate(wait) => format!(
                "over the connection rate for this source (next in {:.1} s)",
                wait.as_secs_f64()
            ),
            Refusal::Full => "no free connection slot".into(),
        }
    }
}

/// Most sources one key can keep proven (16): its sessions from more
/// places are served as usual but prove nothing, so one key cannot make a
/// flood's addresses rank with honest hosts.
pub const MAX_SOURCES_PROVEN_PER_KEY: usize = 16;

/// The server's admission state.
pub(super) struct Admission {
    pub limits: Limits,
    /// Whether authenticating proves a source (not when any key is
    /// accepted: then anyone could).
    proving: bool,
    /// Per key, the sources it proved and when.
    proved_by: HashMap<[u8; 32], Vec<(ClientKey, Instant)>>,
    sources: Buckets<ClientKey>,
    keys: Buckets<[u8; 32]>,
    proven: Proven,
    /// Unauthenticated connections per source.
    pending: HashMap<ClientKey, usize>,
    /// Authenticated sessions per key.
    sessions: HashMap<[u8; 32], usize>,
}

impl Admission {
    /// Fresh state; `proving` is false when the server accepts any key.
    pub fn new(limits: Limits, proving: bool) -> Self {
        Admission {
            limits,
            proving,
            proved_by: HashMap::new(),
            sources: Buckets::new(limits.source_rate),
            keys: Buckets::new(limits.key_rate),
            proven: Proven::new(),
            pending: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    /// Whether `source` authenticated recently.
    pub fn is_proven(&self, source: ClientKey, now: Instant) -> bool {
        self.proven.contains(source, now)
    }

    /// The first checks on a new connection, before any placement: the
    /// per-source cap on unauthenticated connections.
    pub fn precheck(&self, source: ClientKey) -> Result<(), Refusal> {
        if self.pending_from(source) >= self.limits.max_pending_per_source {
            return Err(Refusal::PendingCap);
        }
        Ok(())
    }

    /// Charges a new connection to `source`'s rate (after placement found
    /// it a slot, so a refused connection is not charged).
    pub fn charge_connection(&mut self, source: ClientKey, now: Instant) -> Result<(), Refusal> {
        self.sources.take(source, now).map_err(Refusal::SourceRate)
    }

    /// A connection from `source` was admitted.
    pub fn opened(&mut self, source: ClientKey) {
        *self.pending.entry(source).or_default() += 1;
    }

    /// A connection from `source` authenticated as `key` at `now`: counted
    /// as the key's session unless the key holds its share of the slots
    /// already, or `cap` sessions (its `max-sessions` option) when that is
    /// fewer (then `false`, and the connection is to be refused as busy).
    /// An admitted session proves its source, if the key has proved fewer
    /// than [`MAX_SOURCES_PROVEN_PER_KEY`] others within [`PROVEN_FOR`].
    pub fn authenticated(
        &mut self,
        source: ClientKey,
        key: &Fingerprint,
        cap: Option<usize>,
        now: Instant,
    ) -> bool {
        let share = self.limits.max_sessions_per_key();
        let held = self.sessions.entry(*key.as_bytes()).or_default();
        if *held >= cap.map_or(share, |c| c.min(share)) {
            return false;
        }
        *held += 1;
        decrement(&mut self.pending, source);
        if self.proving {
            let proved = self.proved_by.entry(*key.as_bytes()).or_default();
            proved
                .retain(|(s, at)| *s != source && now.saturating_duration_since(*at) < PROVEN_FOR);
            if proved.len() < MAX_SOURCES_PROVEN_PER_KEY {
                proved.push((source, now));
                self.proven.insert(source, now);
            }
        }
        true
    }

    /// Unauthenticated connections `source` holds.
    pub fn pending_from(&self, source: ClientKey) -> usize {
        self.pending.get(&source).copied().unwrap_or(0)
    }

    /// A connection from `source` ended; `key` if it was counted as that
    /// key's session.
    pub fn closed(&mut self, source: ClientKey, key: Option<&Fingerprint>) {
        match key {
            Some(key) => decrement(&mut self.sessions, *key.as_bytes()),
            None => decrement(&mut self.pending, source),
        }
    }

    /// Whether `key` may make a request now; otherwise the wait.
    pub fn check_request(&mut self, key: &Fingerprint, now: Instant) -> Result<(), Duration> {
        self.keys.check(*key.as_bytes(), now)
    }

    /// Charges a request of `key` that was answered (work or a cheap
    /// refusal).
    pub fn charge_request(&mut self, key: &Fingerprint, now: Instant, cost: Cost) {
        self.keys.charge(*key.as_bytes(), now, cost);
    }

    /// Forgets full buckets (periodically).
    pub fn prune(&mut self, now: Instant) {
        self.sources.prune(now);
        self.keys.prune(now);
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
