//! `sft serve`: one mio `Poll` over the listener and every connection.
//!
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
mod options;
mod outcomes;
mod peer;
mod refusal_log;
mod requests;
#[cfg(test)]
mod testkit;
mod turn;
mod upload_policy;
mod uploads;

use crate::aligned::AlignedBuf;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::proto::handshake::server::ServerConfig;
use crate::proto::msgs::SessionParams;
use crate::proto::CHUNK_LEN;
use admission::Admission;
use closing::{ClosingSet, Drain};
use committer::{spawn_committer, CommitDone};
use hasher::{spawn_hasher, sweep_every, HashJob, Hashed};
use iteration::{Again, HandshakeBudget};
use peer::{log_end, DriveError, Peer, Shared};
use refusal_log::RefusalLog;
use turn::Turn;
use upload_policy::UploadPolicy;

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
pub use options::{ServeOptions, DEFAULT_MAX_MODE, DEFAULT_PARTIAL_TTL};
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
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server loop to stop: open sessions hear alert 9
    /// (ShuttingDown), partial uploads are removed, sockets are closed
    /// gracefully, then [`Server::run`] returns.
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// The server: bound, not yet running.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    shutdown: Arc<AtomicBool>,
    peers: HashMap<Token, Peer>,
    /// Connections whose turn ended with work left.
    again: Again,
    /// Handshake steps left in this iteration.
    handshakes: HandshakeBudget,
    next_token: usize,
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
    /// Binds the listener, starts the committer and hasher threads, and
    /// has the hasher sweep the partials older than `partial_ttl` before
    /// any other job.
    ///
    /// # Errors
    /// The bind or poll setup error.
    pub fn bind(opts: ServeOptions) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = accept::listen(opts.listen)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (commits, done) = spawn_committer(waker.clone(), opts.audit)?;
        let (hasher, hashed) = spawn_hasher(waker.clone())?;
        let root = Arc::new(opts.root);
        let _ = hasher.send(HashJob::Sweep {
            root: root.clone(),
            max_age: opts.partial_ttl,
        });
        let now = Instant::now();
        let upload_policy = UploadPolicy {
            max_file_size: opts.max_file_size,
            allow_overwrite: opts.allow_overwrite,
            max_mode: opts.max_mode,
        };
        let config = Arc::new(ServerConfig {
            identity: opts.identity,
            clients: opts.clients,
            params: SessionParams {
                max_file_size: opts.max_file_size,
                idle_timeout_secs: opts.timeouts.idle.as_secs().try_into().unwrap_or(u32::MAX),
            },
        });
        // With any key accepted, anyone can authenticate: no source is
        // proven then.
        let proving = matches!(config.clients, ClientPolicy::Authorized(_));
        Ok(Server {
            poll,
            listener,
            waker,
            shutdown: Arc::new(AtomicBool::new(false)),
            peers: HashMap::new(),
            again: Again::default(),
            handshakes: HandshakeBudget::new(),
            next_token: FIRST_PEER,
            config,
            timeouts: opts.timeouts,
            shared: Shared {
                root,
                admission: Admission::new(opts.limits, proving),
                upload_policy,
                commits,
                hasher,
                read_buf: AlignedBuf::new(CHUNK_LEN),
                refusals: RefusalLog::new(now),
                audited_refusals: crate::proto::limiter::Buckets::new(
                    requests::AUDITED_REFUSAL_RATE,
                ),
                superseded: Vec::new(),
            },
            done,
            hashed,
            closing: ClosingSet::new(),
            last_prune: now,
            partial_ttl: opts.partial_ttl,
            next_sweep: now + sweep_every(opts.partial_ttl),
        })
    }

    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    /// From the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Stops the server on SIGINT or SIGTERM, the way [`ShutdownHandle`]
    /// does.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub fn stop_on_signals(&self) -> io::Result<()> {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, self.shutdown.clone())?;
        }
        Ok(())
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: self.shutdown.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Serves until shut down. On shutdown every open session hears alert 9
    /// (ShuttingDown), partial uploads are removed, and every socket is
    /// closed gracefully within [`CLOSE_LINGER`].
    ///
    /// # Errors
    /// Only errors of the poll itself; per-connection errors close that
    /// connection and are logged.
    pub fn run(mut self) -> io::Result<()> {
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
            if self.shutdown.load(Ordering::SeqCst) {
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

    fn new_token(&mut self) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        token
    }

    /// Serves `token` again next turn, without waiting for readiness.
    fn again(&mut self, token: Token) {
        self.again.push(token);
    }

    fn dispatch(&mut self, token: Token) {
        match token {
            LISTENER => self.accept(),
            WAKER => {
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
            if let Some(peer) = self.peers.get_mut(&token) {
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
        if now.saturating_duration_since(self.last_prune) > PRUNE_EVERY {
            self.shared.admission.prune(now);
            self.last_prune = now;
        }
        if now >= self.next_sweep {
            let _ = self.shared.hasher.send(HashJob::Sweep {
                root: self.shared.root.clone(),
                max_age: self.partial_ttl,
            });
            self.next_sweep = now + sweep_every(self.partial_ttl);
        }
    }
}
