//! `sft serve`: mio event loops (one per `--threads`), the first over the
//! listener and the handshakes, each over the sessions it serves.
//!
//! - `start`: binding, building the loops, running them on threads.
//! - `loops`: how the loops share the listener's work and the limits.
//! - `admission`: who gets a slot (per-source limits before
//!   authentication, per-key limits after, eviction) and the state it keeps.
//! - `accept`: a bounded batch of accepts per turn, each placed by
//!   `admission` before any connection state or crypto exists.
//! - `turn`: one connection's bounded turn (read, events, data, write).
//! - `requests`: what each event of a session does.
//! - `upload_policy`: the pure upload decision (size limit, overwrite rule).
//! - `uploads`: staging an upload (resumable when asked), storing it
//!   through the committer, MKDIR.
//! - `downloads`: offering a file (resumed after a prefix the client
//!   holds), abandoning one whose source changes.
//! - `outcomes`: file errors and admission decisions as RESULTs.
//! - `committer`: the thread that fsyncs and renames finished uploads, so
//!   other connections keep moving.
//! - `hasher`: the thread that hashes held prefixes and sweeps expired
//!   partials, for the same reason.
//! - `refusal_log`: a cap on refusal lines in the log.
//! - `options`: what the server is bound with.
//! - `peer`: the state of one connection and what all connections share.
//! - `iteration`: what one iteration of the loop may still do (deferred
//!   work, handshake steps).
//! - `ending`, `closing`: how connections end (alerts written, write side
//!   shut down, the peer's last bytes drained, so no reset destroys what
//!   the server said), one at a time and all at shutdown.
//! - this file: the run loop.

mod accept;
mod admission;
#[cfg(test)]
mod audit_budget_tests;
mod closing;
mod committer;
mod downloads;
mod ending;
mod hasher;
mod iteration;
mod loops;
mod options;
mod outcomes;
mod peer;
mod refusal_log;
mod requests;
mod start;
#[cfg(test)]
mod testkit;
mod turn;
mod upload_policy;
mod uploads;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Poll, Token};

use crate::proto::handshake::server::ServerConfig;
use closing::{ClosingSet, Drain};
use committer::CommitDone;
use hasher::{sweep_every, HashJob, Hashed};
use iteration::{Again, HandshakeBudget};
use loops::{Command, Loops};
use peer::{log_end, DriveError, Peer, Shared};
use turn::Turn;

/// Which client keys the server accepts (plain data from the protocol layer).
pub use crate::proto::handshake::server::ClientPolicy;
/// A token-bucket rate (plain data from the protocol layer).
pub use crate::proto::limiter::Rate;
/// Handshake and idle timeouts (plain data from the protocol layer).
pub use crate::proto::timers::Timeouts;
pub use accept::{ACCEPTS_PER_TURN, LISTEN_BACKLOG};
/// The admission limits.
pub use admission::Limits;
pub use closing::{
    CLOSE_DRAIN_BUDGET, CLOSE_LINGER, DRAIN_PER_TURN, MAX_CLOSE_UNSENT, MAX_CLOSING,
};
pub use iteration::HANDSHAKES_PER_TURN;
pub use options::{Clients, ServeOptions, DEFAULT_MAX_MODE, DEFAULT_PARTIAL_TTL};
pub use refusal_log::REFUSAL_LINES_PER_SEC;
pub use requests::MAX_RATE_REFUSALS_IN_A_ROW;

pub use turn::{EVENTS_PER_TURN, ROUNDS_PER_TURN};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_PEER: usize = 2;

/// Longest sleep of the loop (1 s), so a shutdown signal delivered to
/// another thread is seen promptly.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How often admission forgets full token buckets (60 s).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    loops: Arc<Loops>,
}

impl ShutdownHandle {
    /// Asks every server loop to stop: open sessions hear alert 9
    /// (ShuttingDown), partial uploads are removed, sockets are closed
    /// gracefully, then [`Server::run`] returns.
    pub fn shutdown(&self) {
        self.loops.shut_down_all();
    }
}

/// One event loop of the server: bound, not yet running. The first, the
/// front, owns the listener and the other loops until [`Server::run`].
pub struct Server {
    /// Its index among the loops (0: the front).
    id: usize,
    loops: Arc<Loops>,
    commands: mpsc::Receiver<Command>,
    /// On the front until it runs: the other loops.
    workers: Vec<Server>,
    poll: Poll,
    listener: Option<TcpListener>,
    peers: HashMap<Token, Peer>,
    /// Connections whose turn ended with work left.
    again: Again,
    /// Handshake steps left in this iteration.
    handshakes: HandshakeBudget,
    config: Arc<ServerConfig>,
    timeouts: Timeouts,
    shared: Shared,
    done: mpsc::Receiver<CommitDone>,
    hashed: mpsc::Receiver<Hashed>,
    /// Sockets being closed gracefully.
    closing: ClosingSet,
    last_prune: Instant,
    partial_ttl: Duration,
    /// When expired partials are swept next.
    next_sweep: Instant,
}

impl Server {
    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    /// From the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Some(l) => l.local_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Stops the server on SIGINT or SIGTERM, the way [`ShutdownHandle`]
    /// does.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub fn stop_on_signals(&self) -> io::Result<()> {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, self.loops.shutdown_flag().clone())?;
        }
        Ok(())
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            loops: self.loops.clone(),
        }
    }

    /// One loop until shut down.
    fn run_loop(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = if self.again.is_empty() {
                self.next_timeout(Instant::now())
                    .map_or(MAX_SLEEP, |t| t.min(MAX_SLEEP))
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => events.clear(),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if self.loops.shutdown_flag().load(Ordering::SeqCst) {
                return self.stop(&mut events);
            }
            self.handshakes = HandshakeBudget::new();
            // Work left from the last iteration first (deferred handshakes
            // in the order they arrived), then what became ready.
            for token in self.again.take() {
                self.dispatch(token);
            }
            for event in events.iter() {
                if event.is_read_closed() || event.is_error() {
                    if let Some(peer) = self.peers.get_mut(&event.token()) {
                        peer.session.peer_gone = true;
                    }
                }
                self.dispatch(event.token());
            }
            self.expire(Instant::now());
        }
    }

    /// Time until the next deadline: a connection's timer, a closing
    /// socket's, or the refusal log's summary.
    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.peers
            .values()
            .filter_map(|p| p.session.conn.poll_timeout())
            .chain(self.closing.next_deadline())
            .chain(self.shared.refusals.deadline())
            .min()
            .map(|d| d.saturating_duration_since(now) + Duration::from_millis(1))
    }

    /// Serves `token` again next turn, without waiting for readiness.
    fn again(&mut self, token: Token) {
        self.again.push(token);
    }

    fn dispatch(&mut self, token: Token) {
        match token {
            LISTENER => self.accept(),
            WAKER => {
                self.take_commands();
                self.finish_commits();
                self.finish_hashes();
            }
            token => self.service(token),
        }
    }

    /// Gives connection or closing socket `token` its turn.
    fn service(&mut self, token: Token) {
        if self.peers.contains_key(&token) {
            self.serve_peer(token);
        } else if self.closing.service(self.poll.registry(), token)
            == Some(Drain::Open(Turn::MoreWork))
        {
            self.again(token);
        }
    }

    /// Deadlines at `now`: connection timers, closing sockets, the refusal
    /// log's summary, the limiter's periodic prune and the sweep of expired
    /// partials (a job for the hasher thread).
    fn expire(&mut self, now: Instant) {
        let expired: Vec<Token> = self
            .peers
            .iter()
            .filter(|(_, p)| p.session.conn.poll_timeout().is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            // A client reading slowly (--limit-rate, a slow link) still takes
            // bytes, but a full socket buffer raises no writable event until
            // much of it drains: try its turn first, and only a session whose
            // write moved nothing is idle.
            if self
                .peers
                .get(&token)
                .is_some_and(|p| p.session.client.is_some() && p.session.conn.wants_write())
            {
                self.serve_peer(token);
            }
            if let Some(peer) = self.peers.get_mut(&token) {
                if peer.session.conn.poll_timeout().is_some_and(|d| d > now) {
                    continue;
                }
                peer.session.conn.handle_timeout(now);
                if let Some(e) = peer.session.conn.error().cloned() {
                    log_end(
                        &peer.session,
                        &DriveError::Proto(e),
                        &mut self.shared.refusals,
                        now,
                    );
                    self.drop_peer(token);
                }
            }
        }
        self.closing.expire(self.poll.registry(), now);
        refusal_log::summarize(self.shared.refusals.tick(now));
        if self.id == 0 && now.saturating_duration_since(self.last_prune) > PRUNE_EVERY {
            self.shared.admission().prune(now);
            self.last_prune = now;
        }
        if self.id == 0 && now >= self.next_sweep {
            let subs: Vec<_> = {
                let subs = self.shared.sub_roots.lock();
                let subs = subs.unwrap_or_else(|e| e.into_inner());
                subs.values().cloned().collect()
            };
            for root in std::iter::once(self.shared.root.clone()).chain(subs) {
                let _ = self.shared.hasher.send(HashJob::Sweep {
                    root,
                    max_age: self.partial_ttl,
                });
            }
            self.next_sweep = now + sweep_every(self.partial_ttl);
        }
    }
}
