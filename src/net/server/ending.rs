//! How the server ends connections: one at a time (a failed, finished or
//! evicted session, a connection refused at accept) and all at once at
//! shutdown. Every socket says its last words (an alert, a close record,
//! the Busy record) and is then closed gracefully by the closing set.

use std::io;
use std::time::{Duration, Instant};

use log::info;
use mio::net::TcpStream;
use mio::{Events, Token};

use super::closing::Drain;
use super::hasher::HashJob;
use super::peer::{Peer, Session};
use super::refusal_log;
use super::turn::Turn;
use super::Server;
use crate::net::pump;
use crate::proto::conn::busy_record;

impl Server {
    /// Ends the sessions whose resumable partial a newer session of the
    /// same key asked to resume, if that upload's data has stopped for a
    /// twelfth of the idle timeout (5 s by default): such a session is one
    /// whose connection died without the server noticing yet (a cut
    /// network path), and its client has come back. One whose data still
    /// flows is left alone (its newer twin is asked to wait, and gets the
    /// file's answer once it is stored). The newer one was told to ask
    /// again in a second (RESULT 8); by then the partial is free.
    pub(super) fn end_superseded(&mut self) {
        if self.loops.len() > 1 {
            for (asking, key, path) in &self.shared.superseded {
                self.loops
                    .broadcast_superseded(self.id, *asking, *key, path);
            }
        }
        self.end_superseded_here();
    }

    /// [`Server::end_superseded`] among this loop's sessions.
    pub(super) fn end_superseded_here(&mut self) {
        let now = Instant::now();
        let quiet = self.timeouts.idle / 12;
        for (asking, key, path) in std::mem::take(&mut self.shared.superseded) {
            let older: Vec<Token> = self
                .peers
                .iter()
                .filter(|(t, p)| {
                    **t != asking
                        && p.session.key == Some(key)
                        && p.session.upload.as_ref().is_some_and(|u| {
                            u.file.staged().is_resumable()
                                && u.name == path
                                && now.saturating_duration_since(u.last_data) >= quiet
                        })
                })
                .map(|(t, _)| *t)
                .collect();
            for token in older {
                if let Some(p) = self.peers.get(&token) {
                    info!(
                        "ending {}: a newer session of its key resumes {path:?}",
                        p.session.who()
                    );
                }
                self.drop_peer(token);
            }
        }
    }

    /// Ends connection `token`: logs an abandoned transfer (a partial
    /// upload is removed, unless it is resumable and holds bytes: it is
    /// kept for its client to resume) and closes the socket gracefully.
    /// The upload's file is closed (a partial unlocked) before the socket
    /// is: a client that saw the end may resume it at once.
    pub(super) fn drop_peer(&mut self, token: Token) {
        let Some(mut peer) = self.peers.remove(&token) else {
            return;
        };
        self.loops.release(self.id);
        let upload = peer.session.upload.take();
        let s = &peer.session;
        if s.hashing.is_some() {
            // Its prefix is not worth the hasher's time any more.
            let _ = self.shared.hasher.send(HashJob::Cancel { token });
        }
        self.shared
            .admission()
            .closed(peer.source, s.client.as_ref());
        if let Some(dl) = &s.download {
            info!(
                "download {:?} to {} abandoned after {} of {} bytes",
                dl.name,
                s.addr,
                dl.file.sent(),
                dl.file.size()
            );
        }
        if let Some(up) = &upload {
            let written = up.file.staged().written();
            info!(
                "upload {:?} from {} abandoned after {written} of {} bytes{}",
                up.name,
                s.addr,
                up.size,
                if up.file.staged().kept_if_dropped() {
                    ", kept to resume"
                } else {
                    ""
                }
            );
        }
        drop(upload);
        self.close_gracefully(token, peer, Instant::now());
    }

    /// Refuses a just-accepted socket: the Busy record, then a graceful
    /// close (the peer's HELLO, unread, must not turn it into a reset).
    pub(super) fn refuse_at_accept(&mut self, sock: TcpStream, now: Instant) {
        let token = self.loops.new_token();
        self.closing
            .close(self.poll.registry(), token, sock, busy_record(), now);
    }

    /// Hands `peer`'s socket to the closing set with whatever output its
    /// connection still holds (a final alert or close record).
    fn close_gracefully(&mut self, token: Token, peer: Peer, now: Instant) {
        let Peer {
            mut sock, session, ..
        } = peer;
        let Session { mut conn, .. } = session;
        let _ = pump::write(&mut conn, &mut sock, now);
        let mut unsent = Vec::new();
        let _ = conn.write_tls(&mut unsent, now);
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut sock);
        self.closing.close(registry, token, sock, unsent, now);
    }

    /// Stops: uploads already complete are committed and answered, every
    /// session then hears alert 9 (ShuttingDown), partial uploads are
    /// removed (resumable ones holding bytes are kept for their clients),
    /// and the sockets are closed gracefully, which takes at most
    /// `CLOSE_LINGER`. New connections are no longer accepted.
    pub(super) fn stop(mut self, events: &mut Events) -> io::Result<()> {
        if let Some(listener) = &mut self.listener {
            let _ = self.poll.registry().deregister(listener);
        }
        // Sessions handed over just before the stop are stopped here too.
        self.take_commands();
        self.closing.admit_all();
        self.finish_queued_commits();
        let peers = std::mem::take(&mut self.peers);
        let open = peers.len();
        for _ in 0..open {
            self.loops.release(self.id);
        }
        let (mut removed, mut resumable) = (0, 0);
        let now = Instant::now();
        for (token, mut peer) in peers {
            peer.session.conn.shut_down();
            // Dropping the staged upload removes its temporary file, or
            // keeps a resumable partial's bytes.
            if let Some(up) = peer.session.upload.take() {
                if up.file.staged().kept_if_dropped() {
                    resumable += 1;
                } else {
                    removed += 1;
                }
            }
            self.close_gracefully(token, peer, now);
        }
        info!(
            "shutting down: closed {open} connection(s), removed {removed} partial upload(s), kept {resumable} to resume"
        );
        refusal_log::summarize(self.shared.refusals.flush());
        while !self.closing.is_empty() {
            let timeout = if self.again.is_empty() {
                self.closing
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(events, timeout) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => events.clear(),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            let ready = events.iter().map(|e| e.token());
            let tokens: Vec<Token> = ready.chain(self.again.take()).collect();
            for token in tokens {
                if self.closing.service(self.poll.registry(), token)
                    == Some(Drain::Open(Turn::MoreWork))
                {
                    self.again(token);
                }
            }
            self.closing.expire(self.poll.registry(), Instant::now());
        }
        Ok(())
    }
}
