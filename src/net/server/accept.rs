//! Accepting: a bounded batch per turn, each connection placed by the
//! rules of [`super::admission`] before any connection state or crypto
//! exists; a connection evicted to make room hears Busy.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::admission::{place, Candidate, Placement, Refusal};
use super::peer::{Peer, Session};
use super::turn::Turn;
use super::{Server, LISTENER};
use crate::proto::conn::ServerConnection;
use crate::proto::handshake::server::ServerEphemeral;
use crate::proto::limiter::ClientKey;

/// Connections accepted per turn (64): a flood of connects waits in the
/// listen backlog instead of delaying established sessions.
pub const ACCEPTS_PER_TURN: usize = 64;

/// Connections the kernel queues for `accept` (1024; Linux caps it at
/// `net.core.somaxconn`): a burst of connects waits there instead of
/// having its SYNs dropped and retried a second later.
pub const LISTEN_BACKLOG: i32 = 1024;

/// A non-blocking listener on `addr` with [`LISTEN_BACKLOG`] and
/// `SO_REUSEADDR` (a restarted server can bind at once).
pub(super) fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Calls `accept` until it would block, fails, or [`ACCEPTS_PER_TURN`]
/// connections are taken; `MoreWork` when the budget ran out first, and
/// the error that ended the batch, if any (out of descriptors, say).
fn accept_batch<T>(mut accept: impl FnMut() -> io::Result<T>) -> (Vec<T>, Turn, Option<io::Error>) {
    let mut batch = Vec::new();
    while batch.len() < ACCEPTS_PER_TURN {
        match accept() {
            Ok(item) => batch.push(item),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (batch, Turn::Idle, None),
            Err(e) => return (batch, Turn::Idle, Some(e)),
        }
    }
    (batch, Turn::MoreWork, None)
}

impl Server {
    /// Accepts pending connections until the listener would block or the
    /// turn's budget is spent (then the listener is served again next turn,
    /// after every connection that is ready has had its turn).
    pub(super) fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        let (batch, turn, error) = accept_batch(|| listener.accept());
        let now = Instant::now();
        if let Some(e) = error {
            if self.shared.refusals.allow(now) {
                warn!("accept failed: {e}");
            }
        }
        if !batch.is_empty() {
            let mut open = self.candidates(now);
            for (sock, addr) in batch {
                self.admit(sock, addr, now, &mut open);
            }
        }
        if turn == Turn::MoreWork {
            self.again(LISTENER);
        }
    }

    fn candidates(&self, now: Instant) -> Vec<Candidate> {
        let admission = self.shared.admission();
        self.peers
            .iter()
            .map(|(token, p)| Candidate {
                token: *token,
                since: p.since,
                authenticated: p.session.client.is_some(),
                hello: p.session.conn.has_hello(),
                proven: admission.is_proven(p.source, now),
                from_source: admission.pending_from(p.source),
            })
            .collect()
    }

    /// Admits, or refuses, one accepted connection. Nothing here costs
    /// more than a few table lookups unless the server is full (then one
    /// pass over `open`, the connections as this batch of accepts left
    /// them): no key is generated and nothing is logged for an admitted
    /// connection before it sends a valid HELLO.
    fn admit(
        &mut self,
        mut sock: TcpStream,
        addr: SocketAddr,
        now: Instant,
        open: &mut Vec<Candidate>,
    ) {
        let source = ClientKey::from(addr.ip());
        let elsewhere = self.loops.held_elsewhere(self.id);
        let mut admission = self.shared.admission();
        let proven = admission.is_proven(source, now);
        let placement = admission.precheck(source).and_then(|()| {
            match place(open, elsewhere, proven, &admission.limits) {
                Placement::Full => Err(Refusal::Full),
                p => Ok(p),
            }
        });
        let placement =
            placement.and_then(|p| admission.charge_connection(source, now).map(|()| p));
        drop(admission);
        let victim = match placement {
            Ok(Placement::Evict(victim)) => Some(victim),
            Ok(_) => None,
            Err(refusal) => {
                self.refuse_at_accept(sock, now);
                if self.shared.refusals.allow(now) {
                    warn!("refused {addr}: {}", refusal.describe());
                }
                return;
            }
        };
        if let Some(victim) = victim {
            open.retain(|c| c.token != victim);
            self.evict(victim, addr, now);
        }
        let token = self.loops.new_token();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut sock, token, Interest::READABLE)
        {
            if self.shared.refusals.allow(now) {
                warn!("refused {addr}: register: {e}");
            }
            return;
        }
        let _ = sock.set_nodelay(true);
        let conn = ServerConnection::new(
            self.config.clone(),
            ServerEphemeral::Fresh,
            self.timeouts,
            now,
        );
        let from_source = {
            let mut admission = self.shared.admission();
            admission.opened(source);
            admission.pending_from(source)
        };
        open.push(Candidate {
            token,
            since: now,
            authenticated: false,
            hello: false,
            proven,
            from_source,
        });
        self.loops.hold(self.id);
        self.peers.insert(
            token,
            Peer {
                sock,
                interest: Interest::READABLE,
                since: now,
                source,
                session: Session::new(conn, addr),
            },
        );
    }

    /// Closes unauthenticated connection `victim` to make room for `for_addr`:
    /// it hears Busy (and its client retries later).
    fn evict(&mut self, victim: Token, for_addr: SocketAddr, now: Instant) {
        if let Some(p) = self.peers.get_mut(&victim) {
            if self.shared.refusals.allow(now) {
                info!(
                    "closed {} (not authenticated) to make room for {for_addr}",
                    p.session.addr
                );
            }
            p.session.conn.refuse_busy();
        }
        self.drop_peer(victim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (batch, turn, _) = accept_batch(&mut full);
        assert_eq!((batch.len(), turn), (ACCEPTS_PER_TURN, Turn::MoreWork));
        let (batch, turn, error) = accept_batch(&mut full);
        assert_eq!((batch, turn, error.is_none()), (vec![], Turn::Idle, true));
        // One past: that one waits for the next turn.
        let mut past = backlog(ACCEPTS_PER_TURN + 1);
        let (batch, turn, _) = accept_batch(&mut past);
        assert_eq!((batch.len(), turn), (ACCEPTS_PER_TURN, Turn::MoreWork));
        let (batch, turn, _) = accept_batch(&mut past);
        assert_eq!((batch, turn), (vec![ACCEPTS_PER_TURN + 1], Turn::Idle));
    }

    #[test]
    fn an_accept_error_ends_the_turn_with_what_was_taken_and_is_returned() {
        let mut calls = 0;
        let failing = || {
            calls += 1;
            if calls < 3 {
                Ok(calls)
            } else {
                Err(io::Error::from_raw_os_error(24)) // EMFILE
            }
        };
        let (batch, turn, error) = accept_batch(failing);
        assert_eq!((batch, turn), (vec![1, 2], Turn::Idle));
        assert_eq!(error.and_then(|e| e.raw_os_error()), Some(24));
    }
}
