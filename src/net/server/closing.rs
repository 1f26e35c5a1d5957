//! Graceful close. Closing a socket while the peer's bytes are unread, or
//! receiving bytes after the close, makes the kernel answer with a TCP
//! reset, and a reset can destroy our last words (a Busy alert, an alert
//! saying why the session failed) before the peer reads them. So the server
//! ends every connection the same way: write what is pending, shut down the
//! write side (the FIN follows the data), and keep the socket a little
//! while, reading and discarding, until the peer's end of stream.
//!
//! The set of such sockets is bounded in count ([`MAX_CLOSING`]; past it a
//! socket is closed at once), time ([`CLOSE_LINGER`]), bytes read
//! ([`CLOSE_DRAIN_BUDGET`]), bytes held ([`MAX_CLOSE_UNSENT`]) and work per
//! turn ([`DRAIN_PER_TURN`]), so a flood of refused connects cannot make
//! the server hold unbounded sockets or spend more than the flood costs.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::turn::Turn;

/// Most sockets kept closing at once (64). Past it a socket gets the same
/// writes and FIN but is closed at once, and the kernel may reset it.
pub const MAX_CLOSING: usize = 64;

/// Longest a closing socket is kept waiting for its peer's end of stream
/// (2 s): long enough for a peer to read our last record.
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// Most bytes read and discarded from one closing socket (64 MiB): more
/// than an uploading client can have in flight when the alert goes out
/// (a receive window of up to 32 MiB, its send buffer, and what it writes
/// before its next read). Past it the socket is closed at once. The peer
/// pays for every byte; [`DRAIN_PER_TURN`] keeps it from delaying others.
pub const CLOSE_DRAIN_BUDGET: u64 = 64 << 20;

/// Most unsent output a closing socket keeps (64 KiB) outside shutdown;
/// more is dropped (its peer was not reading) and the peer sees the stream
/// cut.
pub const MAX_CLOSE_UNSENT: usize = 64 << 10;

/// Bytes read and discarded from one closing socket per turn (64 KiB), so
/// closing sockets never take an open session's time.
pub const DRAIN_PER_TURN: usize = 64 << 10;

/// How [`ClosingSet::close`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Close {
    /// The socket stays in the set until its peer's end of stream.
    Lingering,
    /// The socket was closed at once (the set was full, or it failed).
    Immediate,
}

/// How a closing socket's turn went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drain {
    /// Still closing; `MoreWork` when it must be served again next turn.
    Open(Turn),
    /// Closed: the peer's end of stream.
    Eof,
    /// Closed: the peer sent more than [`CLOSE_DRAIN_BUDGET`].
    OverBudget,
    /// Closed: a socket error (the peer reset).
    Failed,
}

struct Closing {
    sock: TcpStream,
    /// Output still to write before the FIN, from `written` on.
    unsent: Vec<u8>,
    written: usize,
    write_shut: bool,
    interest: Interest,
    deadline: Instant,
    drained: u64,
}

impl Closing {
    /// Writes what the socket takes; once all is written, shuts down the
    /// write side.
    fn flush(&mut self) -> io::Result<()> {
        while self.written < self.unsent.len() {
            match self.sock.write(&self.unsent[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !self.write_shut {
            self.unsent = Vec::new();
            self.sock.shutdown(Shutdown::Write)?;
            self.write_shut = true;
        }
        Ok(())
    }

    fn wanted(&self) -> Interest {
        if self.write_shut {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }

    /// Writes, then reads and discards up to [`DRAIN_PER_TURN`] bytes.
    fn step(&mut self, scratch: &mut [u8]) -> Drain {
        if self.flush().is_err() {
            return Drain::Failed;
        }
        let mut read = 0;
        while read < DRAIN_PER_TURN {
            let room = (DRAIN_PER_TURN - read).min(scratch.len());
            match self.sock.read(&mut scratch[..room]) {
                Ok(0) => return Drain::Eof,
                Ok(n) => {
                    read += n;
                    self.drained += n as u64;
                    if self.drained > CLOSE_DRAIN_BUDGET {
                        return Drain::OverBudget;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Drain::Open(Turn::Idle),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Drain::Failed,
            }
        }
        Drain::Open(Turn::MoreWork)
    }
}

/// The sockets being closed gracefully.
pub(super) struct ClosingSet {
    entries: HashMap<Token, Closing>,
    cap: usize,
    max_unsent: usize,
    scratch: Box<[u8]>,
}

impl ClosingSet {
    pub fn new() -> Self {
        ClosingSet {
            entries: HashMap::new(),
            cap: MAX_CLOSING,
            max_unsent: MAX_CLOSE_UNSENT,
            scratch: vec![0u8; DRAIN_PER_TURN].into_boxed_slice(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// At shutdown every open connection is closed gracefully, whatever
    /// its count and unsent output (both were held already).
    pub fn admit_all(&mut self) {
        self.cap = usize::MAX;
        self.max_unsent = usize::MAX;
    }

    /// Starts closing `sock` (not registered): writes `unsent` as far as
    /// the socket takes it, shuts down the write side once all is written,
    /// and keeps the socket under `token` until its peer's end of stream or
    /// [`CLOSE_LINGER`] after `now`. When the set is full the socket gets
    /// the same writes and is closed at once.
    pub fn close(
        &mut self,
        registry: &Registry,
        token: Token,
        sock: TcpStream,
        unsent: Vec<u8>,
        now: Instant,
    ) -> Close {
        let unsent = if unsent.len() > self.max_unsent {
            Vec::new()
        } else {
            unsent
        };
        let mut entry = Closing {
            sock,
            unsent,
            written: 0,
            write_shut: false,
            interest: Interest::READABLE,
            deadline: now.checked_add(CLOSE_LINGER).unwrap_or(now),
            drained: 0,
        };
        if entry.flush().is_err() || self.entries.len() >= self.cap {
            return Close::Immediate;
        }
        entry.interest = entry.wanted();
        if registry
            .register(&mut entry.sock, token, entry.interest)
            .is_err()
        {
            return Close::Immediate;
        }
        self.entries.insert(token, entry);
        Close::Lingering
    }

    /// Gives closing socket `token` its turn; `None` if it is not here.
    pub fn service(&mut self, registry: &Registry, token: Token) -> Option<Drain> {
        let entry = self.entries.get_mut(&token)?;
        let drain = entry.step(&mut self.scratch);
        if let Drain::Open(_) = drain {
            let wanted = entry.wanted();
            if wanted == entry.interest
                || registry.reregister(&mut entry.sock, token, wanted).is_ok()
            {
                entry.interest = wanted;
                return Some(drain);
            }
        }
        self.remove(registry, token);
        Some(match drain {
            Drain::Open(_) => Drain::Failed,
            ended => ended,
        })
    }

    /// Closes the sockets whose time is up at `now`; returns how many.
    pub fn expire(&mut self, registry: &Registry, now: Instant) -> usize {
        let due: Vec<Token> = self
            .entries
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for &token in &due {
            self.remove(registry, token);
        }
        due.len()
    }

    /// The earliest time a closing socket is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().map(|c| c.deadline).min()
    }

    fn remove(&mut self, registry: &Registry, token: Token) {
        if let Some(mut entry) = self.entries.remove(&token) {
            let _ = registry.deregister(&mut entry.sock);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn contains(&self, token: Token) -> bool {
        self.entries.contains_key(&token)
    }

    /// Bytes read and discarded so far from `token`.
    #[cfg(test)]
    fn drained(&self, token: Token) -> Option<u64> {
        self.entries.get(&token).map(|c| c.drained)
    }
}

#[cfg(test)]
#[path = "closing_tests.rs"]
mod tests;
