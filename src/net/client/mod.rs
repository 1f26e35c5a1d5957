//! The client side: one connection, driven by the same pump as the server.
//! A [`Session`] connects, completes the handshake (asking the caller about
//! an unknown server key), then runs listings and pipelined batches of
//! uploads, MKDIRs and downloads ([`Session::run_batch`]).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

mod answers;
mod batch;
mod driver;
mod pace;
mod resume;
mod tasks;

use super::proxy::{self, Proxy, ProxyError};
use super::pump::{self, ReadEnd};
use crate::crypto::ed25519::{Fingerprint, Sign, VerifyingKey};
use crate::fs::FsError;
use crate::proto::conn::ClientConnection;
use crate::proto::handshake::client::ClientConfig;
pub use crate::proto::handshake::client::ServerTrust;
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{ListEntry, Outcome, SessionParams};
use crate::proto::timers::Timeouts;
use crate::proto::ProtoError;
pub use batch::{jitter, rate_wait, BatchObserver, Report, Step, MAX_RATE_JITTER, MAX_RATE_WAIT};
use pace::Paced;
pub use pace::{Pacer, BURST, MAX_LIMIT_RATE, MIN_LIMIT_RATE};
pub use resume::RESUME_MIN_SIZE;
use tasks::{Close, Handshake, List, Reply, Task};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);

/// Default time allowed for the TCP connection itself (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the TCP connection to the server is made.
#[derive(Clone, Debug)]
pub enum Route {
    /// Straight to this address.
    Direct(SocketAddr),
    /// Through a proxy, which is given the server's name (or, for SOCKS4,
    /// its address resolved here) and port; see [`proxy`].
    Proxied {
        proxy: Proxy,
        host: String,
        port: u16,
    },
}

impl From<SocketAddr> for Route {
    fn from(addr: SocketAddr) -> Route {
        Route::Direct(addr)
    }
}

impl Route {
    /// Opens the TCP connection (through the proxy's tunnel), blocking,
    /// within `timeout`.
    fn open(&self, timeout: Duration) -> Result<std::net::TcpStream, ClientError> {
        match self {
            Route::Direct(addr) => {
                std::net::TcpStream::connect_timeout(addr, timeout).map_err(|source| {
                    ClientError::Connect {
                        addr: *addr,
                        source,
                    }
                })
            }
            Route::Proxied { proxy, host, port } => Ok(proxy::open(proxy, host, *port, timeout)?),
        }
    }
}

/// Who the client is, whom it trusts, and its limits.
pub struct SessionOptions {
    /// The client's identity key.
    pub identity: Arc<dyn Sign>,
    /// Which server key to accept.
    pub trust: ServerTrust,
    /// Time allowed for the TCP connection ([`CONNECT_TIMEOUT`] unless a
    /// caller needs another), and through a proxy for the proxy's answers
    /// too.
    pub connect_timeout: Duration,
    /// Time allowed for the handshake.
    pub handshake_timeout: Duration,
    /// Largest download accepted, in bytes (the server refuses a larger
    /// file before any data moves).
    pub max_file_size: u64,
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    /// The proxy was unreachable or opened no tunnel.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The socket failed after connecting.
    #[error("connection to the server failed: {0}")]
    Socket(#[source] io::Error),
    /// The server ended the connection: an orderly close in the middle of
    /// an operation, or end of stream before the handshake finished.
    #[error("the server closed the connection")]
    ServerClosed,
    /// The session failed (authentication, tampering, timeout, the
    /// server's alert...).
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The server's key is unknown and was not trusted.
    #[error("server key {0} is not trusted")]
    Untrusted(Fingerprint),
    /// A local file operation failed.
    #[error(transparent)]
    Local(#[from] FsError),
    /// A local read failed while sending (a file that shrank reads short).
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// The operation was cancelled (Ctrl-C); a partly moved download is kept in its partial file.
    #[error("interrupted")]
    Interrupted,
}

/// Stops a [`Session`] from another thread: the operation in progress, and
/// every later one, ends with [`ClientError::Interrupted`] (a download's
/// partial file is removed on the way out), even while the session sleeps
/// waiting for the server.
#[derive(Clone)]
pub struct Canceller {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Canceller {
    /// Cancels, and wakes the session if it is waiting.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Whether [`Canceller::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// An established session with a server.
pub struct Session {
    conn: ClientConnection,
    sock: TcpStream,
    poll: Poll,
    events: Events,
    interest: Interest,
    cancel: Canceller,
    max_file_size: u64,
    /// `--limit-rate`'s buckets: what the client writes, what it reads.
    up: Option<Pacer>,
    down: Option<Pacer>,
    /// The server's verified identity key.
    pub server_key: VerifyingKey,
    /// The limits the server announced.
    pub params: SessionParams,
}

impl Session {
    /// Connects to `to` (an address, or a [`Route`] through a proxy) and
    /// completes the handshake. `decide` is asked
    /// about an unknown server key (trust on first use); `false` aborts.
    ///
    /// # Errors
    /// `Connect`, `Proxy`, `ServerClosed`, `Untrusted`, or the handshake's
    /// [`ProtoError`] (key mismatch, refused client key, the server's Busy
    /// alert, timeout...).
    pub fn connect(
        to: impl Into<Route>,
        opts: &SessionOptions,
        decide: &mut dyn FnMut(&VerifyingKey) -> bool,
    ) -> Result<Session, ClientError> {
        let std_sock = to.into().open(opts.connect_timeout)?;
        std_sock
            .set_nonblocking(true)
            .map_err(ClientError::Socket)?;
        let _ = std_sock.set_nodelay(true);
        let mut sock = TcpStream::from_std(std_sock);
        let poll = Poll::new().map_err(ClientError::Socket)?;
        poll.registry()
            .register(&mut sock, SOCKET, Interest::READABLE)
            .map_err(ClientError::Socket)?;
        let cancel = Canceller {
            flag: Arc::new(AtomicBool::new(false)),
            waker: Arc::new(Waker::new(poll.registry(), WAKER).map_err(ClientError::Socket)?),
        };
        let eph = Ephemeral::generate().map_err(ProtoError::from)?;
        let config = ClientConfig {
            identity: opts.identity.clone(),
            trust: opts.trust,
        };
        let timeouts = Timeouts {
            handshake: opts.handshake_timeout,
            ..Timeouts::default()
        };
        let conn = ClientConnection::new(config, eph, timeouts, Instant::now())?;
        let mut session = Session {
            conn,
            sock,
            poll,
            events: Events::with_capacity(8),
            interest: Interest::READABLE,
            cancel,
            max_file_size: opts.max_file_size,
            up: None,
            down: None,
            server_key: opts.identity.verifying_key(),
            params: SessionParams {
                max_file_size: 0,
                idle_timeout_secs: 0,
            },
        };
        let (key, params) = session.run(&mut Handshake { decide })?;
        session.server_key = key;
        session.params = params;
        Ok(session)
    }

    /// Paces what this session writes and what it reads, each to `rate`
    /// bytes per second (held to [`MIN_LIMIT_RATE`] ..= [`MAX_LIMIT_RATE`]),
    /// from now on.
    pub fn limit_rate(&mut self, rate: u64) {
        let now = Instant::now();
        self.up = Some(Pacer::new(rate, now));
        self.down = Some(Pacer::new(rate, now));
    }

    /// A handle that stops this session's operations from another thread
    /// (one that waits for signals, say).
    pub fn canceller(&self) -> Canceller {
        self.cancel.clone()
    }

    /// Lists the directory `path` of the server's root (empty for the
    /// root itself), in the server's order (its directory order:
    /// unspecified). At most
    /// [`crate::proto::conn::MAX_LISTING_ENTRIES`] entries are taken; a
    /// longer listing ends the session with `ListingTooLong`.
    ///
    /// # Errors
    /// `Ok(Err(outcome))` when the server refused; `Err` when the session
    /// failed.
    pub fn list(&mut self, path: &str) -> Result<Result<Vec<ListEntry>, Outcome>, ClientError> {
        self.conn.request_list(path)?;
        self.run(&mut List)
    }

    /// Ends the session with the authenticated close exchange.
    ///
    /// # Errors
    /// Session errors while closing.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.conn.close()?;
        self.run(&mut Close)
    }

    /// Runs `task` to its end. On a failure, the alert the connection
    /// queued (if any) is written out once before the error is returned.
    fn run<T: Task>(&mut self, task: &mut T) -> Result<T::Output, ClientError> {
        let result = self.drive(task);
        if result.is_err() {
            let _ = pump::write(&mut self.conn, &mut self.sock, Instant::now());
        }
        result
    }

    fn drive<T: Task>(&mut self, task: &mut T) -> Result<T::Output, ClientError> {
        loop {
            let (now, end) = self.read_in()?;
            while let Some(ev) = self.conn.next_event()? {
                match task.on_event(ev)? {
                    Reply::Continue => {}
                    Reply::Trust => self.conn.trust_server_key()?,
                    Reply::Done(out) => return self.flush().map(|()| out),
                }
            }
            let blocked = self.write_out(now)?;
            if end == ReadEnd::Eof {
                // A cut session is reported by next_event as Truncated;
                // here the stream ended where no record was due.
                return Err(ClientError::ServerClosed);
            }
            if end == ReadEnd::BufferFull || (self.conn.wants_data() && !blocked) {
                continue;
            }
            self.wait_until(None)?;
        }
    }

    /// One read pass of a driving loop, after checking for Ctrl-C: the
    /// time it started and how it ended.
    fn read_in(&mut self) -> Result<(Instant, ReadEnd), ClientError> {
        if self.cancel.is_cancelled() {
            return Err(ClientError::Interrupted);
        }
        let now = Instant::now();
        let mut paced = Paced {
            sock: &mut self.sock,
            pacer: self.down.as_mut(),
            now,
        };
        match pump::read(&mut self.conn, &mut paced, now) {
            Ok(end) => Ok((now, end)),
            Err(e) => Err(self.socket_failure(e)),
        }
    }

    /// One write pass of a driving loop: whether output remains.
    fn write_out(&mut self, now: Instant) -> Result<bool, ClientError> {
        let mut paced = Paced {
            sock: &mut self.sock,
            pacer: self.up.as_mut(),
            now,
        };
        pump::write(&mut self.conn, &mut paced, now).map_err(|e| self.socket_failure(e))
    }

    /// A socket error: the server may have sent an alert before it closed
    /// (a refusal, or tampering it detected), and the error may only be
    /// the close that followed. Read what is still pending; the alert is
    /// the better answer.
    fn socket_failure(&mut self, e: io::Error) -> ClientError {
        let _ = pump::read(&mut self.conn, &mut self.sock, Instant::now());
        loop {
            match self.conn.next_event() {
                Ok(Some(_)) => {}
                Err(alert @ ProtoError::PeerAlert(_)) => return alert.into(),
                Ok(None) | Err(_) => return ClientError::Socket(e),
            }
        }
    }

    /// Sleeps until the socket is ready, the connection's deadline, an
    /// empty `--limit-rate` bucket's refill, or `until`.
    fn wait_until(&mut self, until: Option<Instant>) -> Result<(), ClientError> {
        let wanted = pump::interest(&self.conn);
        pump::update_interest(
            self.poll.registry(),
            &mut self.sock,
            SOCKET,
            &mut self.interest,
            wanted,
        )
        .map_err(ClientError::Socket)?;
        let now = Instant::now();
        let refill = [&self.up, &self.down]
            .into_iter()
            .filter_map(|p| p.as_ref().and_then(Pacer::ready_at));
        let deadline = [self.conn.poll_timeout(), until]
            .into_iter()
            .flatten()
            .chain(refill)
            .min();
        let timeout = deadline.map(|d| d.saturating_duration_since(now));
        match self.poll.poll(&mut self.events, timeout) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(ClientError::Socket(e)),
            _ => {}
        }
        self.conn.handle_timeout(Instant::now());
        Ok(())
    }

    /// Writes all pending output.
    fn flush(&mut self) -> Result<(), ClientError> {
        loop {
            if !self.write_out(Instant::now())? {
                return Ok(());
            }
            self.wait_until(None)?;
            if let Some(e) = self.conn.error() {
                return Err(e.clone().into());
            }
        }
    }
}
