//! Accept, admission and eviction. Admission is decided before any
//! connection state or crypto exists; when the server is full, an
//! unauthenticated connection makes room, chosen by [`choose_victim`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{info, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};

use super::outcomes::describe;
use super::peer::{Peer, Session};
use super::turn::Turn;
use super::{Server, LISTENER};
use crate::proto::conn::ServerConnection;
use crate::proto::handshake::server::ServerEphemeral;
use crate::proto::limiter::{ClientKey, Decision, MAX_UNAUTHENTICATED_PER_CLIENT};

/// Connections accepted per turn (64): a flood of connects waits in the
/// listen backlog instead of delaying established sessions.
pub const ACCEPTS_PER_TURN: usize = 64;

/// Calls `accept` until it would block or [`ACCEPTS_PER_TURN`] connections
/// are taken; `MoreWork` when the budget ran out first.
fn accept_batch<T>(mut accept: impl FnMut() -> io::Result<T>) -> (Vec<T>, Turn) {
    let mut batch = Vec::new();
    while batch.len() < ACCEPTS_PER_TURN {
        match accept() {
            Ok(item) => batch.push(item),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (batch, Turn::Idle),
            Err(e) => {
                warn!("accept failed: {e}");
                return (batch, Turn::Idle);
            }
        }
    }
    (batch, Turn::MoreWork)
}

/// What admission and eviction need to know about one open connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Candidate {
    pub token: Token,
    pub client: ClientKey,
    /// When it was accepted.
    pub since: Instant,
    pub authenticated: bool,
}

/// How many of `open` are unauthenticated connections from `client`.
pub(super) fn unauthenticated_from(open: &[Candidate], client: ClientKey) -> usize {
    open.iter()
        .filter(|c| !c.authenticated && c.client == client)
        .count()
}

/// The connection to close when the server is full: an unauthenticated one
/// from the client holding the most unauthenticated connections, the
/// oldest of those (the first accepted on a tie). Authenticated sessions
/// are never chosen. An honest client holds one unauthenticated connection,
/// so an attacker must spread over as many addresses as there are slots to
/// evict it.
pub(super) fn choose_victim(open: &[Candidate]) -> Option<Token> {
    let mut per_client: HashMap<ClientKey, usize> = HashMap::new();
    for c in open.iter().filter(|c| !c.authenticated) {
        *per_client.entry(c.client).or_default() += 1;
    }
    open.iter()
        .filter(|c| !c.authenticated)
        .max_by(|a, b| {
            per_client[&a.client]
                .cmp(&per_client[&b.client])
                .then(b.since.cmp(&a.since))
                .then(b.token.cmp(&a.token))
        })
        .map(|c| c.token)
}

impl Server {
    /// Accepts pending connections until the listener would block or the
    /// turn's budget is spent (then the listener is served again next turn).
    pub(super) fn accept(&mut self) {
        let (batch, turn) = accept_batch(|| self.listener.accept());
        for (sock, addr) in batch {
            self.admit(sock, addr, Instant::now());
        }
        if turn == Turn::MoreWork {
            self.again(LISTENER);
        }
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.peers
            .iter()
            .map(|(token, p)| Candidate {
                token: *token,
                client: ClientKey::from(p.session.addr.ip()),
                since: p.since,
                authenticated: p.session.client.is_some(),
            })
            .collect()
    }

    /// Admits, or refuses, one accepted connection.
    fn admit(&mut self, mut sock: TcpStream, addr: SocketAddr, now: Instant) {
        let open = self.candidates();
        if unauthenticated_from(&open, ClientKey::from(addr.ip())) >= MAX_UNAUTHENTICATED_PER_CLIENT
        {
            self.refuse_at_accept(sock, now);
            if self.shared.refusals.allow(now) {
                warn!("refused {addr}: too many unauthenticated connections from this address");
            }
            return;
        }
        // When full, a connection that has not authenticated makes room:
        // idle sockets cannot lock honest clients out.
        let victim = choose_victim(&open);
        let counted = open.len() - usize::from(victim.is_some());
        match self.shared.admission.decide(addr.ip(), now, counted) {
            Decision::Admit => {}
            refusal => {
                self.refuse_at_accept(sock, now);
                if self.shared.refusals.allow(now) {
                    warn!("refused {addr}: {}", describe(refusal));
                }
                return;
            }
        }
        if let Some(old) = victim.filter(|_| open.len() >= self.shared.admission.max_connections) {
            if let Some(p) = self.peers.get(&old) {
                info!(
                    "closed {} (not authenticated) to make room for {addr}",
                    p.session.addr
                );
            }
            self.drop_peer(old);
        }
        let token = self.new_token();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut sock, token, Interest::READABLE)
        {
            warn!("refused {addr}: register: {e}");
            return;
        }
        let _ = sock.set_nodelay(true);
        let conn = ServerConnection::new(
            self.config.clone(),
            ServerEphemeral::Fresh,
            self.timeouts,
            now,
        );
        info!("connection from {addr}");
        self.peers.insert(
            token,
            Peer {
                sock,
                interest: Interest::READABLE,
                since: now,
                session: Session::new(conn, addr),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn key(last: u8) -> ClientKey {
        ClientKey::from(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    fn open(list: &[(usize, u8, u64, bool)]) -> Vec<Candidate> {
        let t0 = Instant::now();
        list.iter()
            .map(|&(token, client, secs, authenticated)| Candidate {
                token: Token(token),
                client: key(client),
                since: t0 + Duration::from_secs(secs),
                authenticated,
            })
            .collect()
    }

    #[test]
    fn the_victim_comes_from_the_client_holding_the_most_unauthenticated() {
        // Client 1 holds one old connection; client 2 holds two newer ones.
        let v = open(&[(2, 1, 0, false), (3, 2, 5, false), (4, 2, 6, false)]);
        assert_eq!(choose_victim(&v), Some(Token(3)));
    }

    #[test]
    fn among_equals_the_oldest_goes_then_the_first_accepted() {
        let v = open(&[(2, 1, 7, false), (3, 2, 3, false), (4, 3, 9, false)]);
        assert_eq!(choose_victim(&v), Some(Token(3)));
        let same_time = open(&[(5, 1, 3, false), (4, 2, 3, false), (6, 3, 3, false)]);
        assert_eq!(choose_victim(&same_time), Some(Token(4)));
    }

    #[test]
    fn authenticated_sessions_are_never_evicted_nor_counted() {
        // Client 1's three sessions are authenticated: client 2's one
        // unauthenticated connection is the only choice.
        let v = open(&[
            (2, 1, 0, true),
            (3, 1, 1, true),
            (4, 1, 2, true),
            (5, 2, 3, false),
        ]);
        assert_eq!(choose_victim(&v), Some(Token(5)));
        let all_in = open(&[(2, 1, 0, true), (3, 2, 1, true)]);
        assert_eq!(choose_victim(&all_in), None);
        assert_eq!(choose_victim(&[]), None);
    }

    /// An accept stand-in with `n` connections waiting.
    fn backlog(n: usize) -> impl FnMut() -> io::Result<usize> {
        let mut taken = 0;
        move || {
            if taken == n {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            taken += 1;
            Ok(taken)
        }
    }

    #[test]
    fn a_turn_accepts_at_most_accepts_per_turn() {
        // At the limit the turn takes them all; it cannot know the backlog
        // is empty, so it comes back once and finds nothing.
        let mut full = backlog(ACCEPTS_PER_TURN);
        let (batch, turn) = accept_batch(&mut full);
        assert_eq!((batch.len(), turn), (ACCEPTS_PER_TURN, Turn::MoreWork));
        assert_eq!(accept_batch(&mut full), (vec![], Turn::Idle));
        // One past: that one waits for the next turn.
        let mut past = backlog(ACCEPTS_PER_TURN + 1);
        let (batch, turn) = accept_batch(&mut past);
        assert_eq!((batch.len(), turn), (ACCEPTS_PER_TURN, Turn::MoreWork));
        assert_eq!(
            accept_batch(&mut past),
            (vec![ACCEPTS_PER_TURN + 1], Turn::Idle)
        );
    }

    #[test]
    fn an_accept_error_ends_the_turn_with_what_was_taken() {
        let mut calls = 0;
        let failing = || {
            calls += 1;
            if calls < 3 {
                Ok(calls)
            } else {
                Err(io::Error::from_raw_os_error(24)) // EMFILE
            }
        };
        assert_eq!(accept_batch(failing), (vec![1, 2], Turn::Idle));
    }

    #[test]
    fn unauthenticated_connections_are_counted_per_client() {
        let v = open(&[
            (2, 1, 0, false),
            (3, 1, 1, true),
            (4, 1, 2, false),
            (5, 2, 3, false),
        ]);
        assert_eq!(unauthenticated_from(&v, key(1)), 2);
        assert_eq!(unauthenticated_from(&v, key(2)), 1);
        assert_eq!(unauthenticated_from(&v, key(3)), 0);
    }
}
