//! `sft serve --threads N`: N event loops over one listening port.
//!
//! Loop 0, the front, owns the listener: it accepts, places and runs every
//! handshake, so every unauthenticated connection (the only kind ever
//! evicted) is on the front, and placement needs no other loop's table.
//! A session that authenticates moves, before any request of it is
//! handled, to the loop holding the fewest connections (the front
//! included) and stays there. Admission (connection slots, per-source and
//! per-key limits, request budgets) and the per-key budget of audited
//! refusals are one state behind a lock, so each limit is the whole
//! server's. Each loop has its own committer and hasher threads; the audit
//! log is one, behind a lock. Loops hear each other through [`Command`]s
//! and their wakers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use mio::{Interest, Token, Waker};

use super::peer::Peer;
use super::Server;
use crate::net::pump;

/// What one loop asks another.
pub(super) enum Command {
    /// A session that authenticated on the front: serve it from now on.
    Adopt(Token, Box<Peer>),
    /// A newer session of `key` asks to resume `path`: end this loop's
    /// quiet older sessions holding it (see `Server::end_superseded`).
    EndSuperseded {
        asking: Token,
        key: [u8; 32],
        path: String,
    },
}

/// How to reach one loop, and what it holds.
pub(super) struct Link {
    tx: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    /// Connections assigned to it (sessions, and on the front also the
    /// unauthenticated ones).
    held: AtomicUsize,
}

impl Link {
    pub(super) fn new(tx: mpsc::Sender<Command>, waker: Arc<Waker>) -> Self {
        Link {
            tx,
            waker,
            held: AtomicUsize::new(0),
        }
    }
}

/// The loops of one server.
pub(super) struct Loops {
    links: Vec<Link>,
    next_token: AtomicUsize,
    shutdown: Arc<AtomicBool>,
}

impl Loops {
    /// Loops reached through `links` (the front first); tokens start at
    /// `first_token`.
    pub(super) fn new(links: Vec<Link>, first_token: usize) -> Self {
        Loops {
            links,
            next_token: AtomicUsize::new(first_token),
            shutdown: Arc::new(AtomicBool::new(false)),
        }
    }

    /// How many loops there are.
    pub(super) fn len(&self) -> usize {
        self.links.len()
    }

    /// A token no loop has used: one connection keeps its token when it
    /// moves.
    pub(super) fn new_token(&self) -> Token {
        Token(self.next_token.fetch_add(1, Ordering::Relaxed))
    }

    /// The flag every loop checks; set by a signal or a handle.
    pub(super) fn shutdown_flag(&self) -> &Arc<AtomicBool> {
        &self.shutdown
    }

    pub(super) fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Asks every loop to stop.
    pub(super) fn shut_down_all(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for link in &self.links {
            let _ = link.waker.wake();
        }
    }

    /// Loop `id` took a connection.
    pub(super) fn hold(&self, id: usize) {
        self.links[id].held.fetch_add(1, Ordering::Relaxed);
    }

    /// Loop `id` let a connection go.
    pub(super) fn release(&self, id: usize) {
        let _ = self.links[id]
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Connections held by the loops other than `id` (on the front's
    /// count at least what they hold: it adds a session when it hands it
    /// over, and they subtract only once they have let it go).
    pub(super) fn held_elsewhere(&self, id: usize) -> usize {
        let all: usize = self
            .links
            .iter()
            .map(|l| l.held.load(Ordering::Relaxed))
            .sum();
        all - self.links[id].held.load(Ordering::Relaxed).min(all)
    }

    /// The loop that should serve a session now on loop `id`: the one
    /// holding the fewest connections, not counting that session.
    fn least_held(&self, id: usize) -> usize {
        let load = |i: usize| {
            let held = self.links[i].held.load(Ordering::Relaxed);
            if i == id {
                held.saturating_sub(1)
            } else {
                held
            }
        };
        (0..self.links.len())
            .min_by_key(|&i| (load(i), i != id))
            .unwrap_or(id)
    }

    /// Sends `cmd` to loop `to` and wakes it; gives it back if that loop
    /// has stopped.
    fn send(&self, to: usize, cmd: Command) -> Result<(), Command> {
        let link = &self.links[to];
        link.tx.send(cmd).map_err(|e| e.0)?;
        let _ = link.waker.wake();
        Ok(())
    }

    /// Tells every loop but `from` about a resumed partial.
    pub(super) fn broadcast_superseded(
        &self,
        from: usize,
        asking: Token,
        key: [u8; 32],
        path: &str,
    ) {
        for to in (0..self.links.len()).filter(|&i| i != from) {
            let _ = self.send(
                to,
                Command::EndSuperseded {
                    asking,
                    key,
                    path: path.to_owned(),
                },
            );
        }
    }
}

impl Server {
    /// Moves the just-authenticated session `token` to the loop that
    /// should serve it (perhaps this one). Its receive buffer, queued
    /// output and state go with it; nothing of it was handled here but
    /// the handshake.
    pub(super) fn hand_off(&mut self, token: Token) {
        let to = self.loops.least_held(self.id);
        if to == self.id || self.loops.shutting_down() {
            self.again(token);
            return;
        }
        let Some(mut peer) = self.peers.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut peer.sock);
        self.loops.hold(to);
        self.loops.release(self.id);
        if let Err(Command::Adopt(token, mut peer)) =
            self.loops.send(to, Command::Adopt(token, Box::new(peer)))
        {
            // That loop has stopped: serve the session here.
            self.loops.release(to);
            self.loops.hold(self.id);
            let interest = pump::interest(&peer.session.conn);
            if self
                .poll
                .registry()
                .register(&mut peer.sock, token, interest)
                .is_ok()
            {
                peer.interest = interest;
                self.peers.insert(token, *peer);
                self.again(token);
            }
        }
    }

    /// Takes what other loops sent: sessions to serve, partials resumed.
    pub(super) fn take_commands(&mut self) {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Adopt(token, mut peer) => {
                    let interest: Interest = pump::interest(&peer.session.conn);
                    if self
                        .poll
                        .registry()
                        .register(&mut peer.sock, token, interest)
                        .is_err()
                    {
                        self.loops.release(self.id);
                        let client = peer.session.client;
                        self.shared.admission().closed(peer.source, client.as_ref());
                        continue;
                    }
                    peer.interest = interest;
                    self.peers.insert(token, *peer);
                    // Its pipelined requests may be in its buffer already.
                    self.again(token);
                }
                Command::EndSuperseded { asking, key, path } => {
                    self.shared.superseded.push((asking, key, path));
                    self.end_superseded_here();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::Poll;

    fn loops(n: usize) -> (Loops, Vec<Poll>) {
        let mut polls = Vec::new();
        let mut links = Vec::new();
        for _ in 0..n {
            let poll = Poll::new().unwrap();
            let waker = Arc::new(Waker::new(poll.registry(), Token(1)).unwrap());
            links.push(Link::new(mpsc::channel().0, waker));
            polls.push(poll);
        }
        (Loops::new(links, 2), polls)
    }

    #[test]
    fn a_session_goes_to_the_loop_holding_fewest_and_the_front_counts_it_there() {
        let (l, _polls) = loops(3);
        // The front holds the session being placed and one more.
        l.hold(0);
        l.hold(0);
        l.hold(1);
        // Not counting the session itself, the front holds 1, loop 1
        // holds 1, loop 2 none.
        assert_eq!(l.least_held(0), 2);
        l.hold(2);
        // A tie keeps it where it is.
        assert_eq!(l.least_held(0), 0);
        assert_eq!(l.held_elsewhere(0), 2);
        l.release(1);
        l.release(1); // never below zero
        assert_eq!(l.held_elsewhere(0), 1);
        assert_eq!(l.least_held(0), 1);
    }

    #[test]
    fn tokens_are_unique_across_loops() {
        let (l, _polls) = loops(2);
        let a = l.new_token();
        let b = l.new_token();
        assert_ne!(a, b);
        assert!(a.0 >= 2 && b.0 >= 2);
    }
}
