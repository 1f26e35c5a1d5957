//! The client side: one connection, driven by the same pump as the server.
//! A [`Session`] connects, completes the handshake (asking the caller about
//! an unknown server key), then runs one operation at a time.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

mod tasks;

use super::pump::{self, ReadEnd};
use super::transfer::Outgoing;
use crate::crypto::ed25519::{Fingerprint, SigningKey, VerifyingKey};
use crate::fs::{FsError, ReceiveRoot, SourceFile};
use crate::proto::conn::ClientConnection;
use crate::proto::handshake::client::ClientConfig;
pub use crate::proto::handshake::client::ServerTrust;
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{ListEntry, Outcome, ResultCode, SessionParams};
use crate::proto::timers::Timeouts;
use crate::proto::{ProtoError, CHUNK_LEN};
use tasks::{Close, Get, Handshake, List, Put, Reply, Task};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);

/// Default time allowed for the TCP connection itself (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Who the client is, whom it trusts, and its limits.
pub struct SessionOptions {
    /// The client's identity key.
    pub identity: Arc<SigningKey>,
    /// Which server key to accept.
    pub trust: ServerTrust,
    /// Time allowed for the TCP connection ([`CONNECT_TIMEOUT`] unless a
    /// caller needs another).
    pub connect_timeout: Duration,
    /// Time allowed for the handshake.
    pub handshake_timeout: Duration,
    /// Largest download accepted, in bytes (a larger offer is refused
    /// before any data moves).
    pub max_file_size: u64,
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
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
    /// The operation was cancelled (Ctrl-C); partial files were removed.
    #[error("interrupted")]
    Interrupted,
}

/// How a transfer went.
#[derive(Debug)]
pub struct Report {
    /// The answer: the peer's (`Ok`, or why not), or this side's own
    /// refusal of a download it cannot take.
    pub outcome: Outcome,
    /// Bytes moved.
    pub bytes: u64,
    /// Wall time of the transfer.
    pub elapsed: Duration,
    /// The whole-file SHA-256, when the transfer completed with it
    /// verified (the outcome is `Ok`); `None` otherwise.
    pub sha256: Option<[u8; 32]>,
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
    /// The server's verified identity key.
    pub server_key: VerifyingKey,
    /// The limits the server announced.
    pub params: SessionParams,
}

impl Session {
    /// Connects to `addr` and completes the handshake. `decide` is asked
    /// about an unknown server key (trust on first use); `false` aborts.
    ///
    /// # Errors
    /// `Connect`, `ServerClosed`, `Untrusted`, or the handshake's
    /// [`ProtoError`] (key mismatch, refused client key, the server's Busy
    /// alert, timeout...).
    pub fn connect(
        addr: SocketAddr,
        opts: &SessionOptions,
        decide: &mut dyn FnMut(&VerifyingKey) -> bool,
    ) -> Result<Session, ClientError> {
        let std_sock = std::net::TcpStream::connect_timeout(&addr, opts.connect_timeout)
            .map_err(|source| ClientError::Connect { addr, source })?;
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

    /// A handle that stops this session's operations from another thread
    /// (one that waits for signals, say).
    pub fn canceller(&self) -> Canceller {
        self.cancel.clone()
    }

    /// Lists the server's receive root, in the server's order (its
    /// directory order: unspecified). At most
    /// [`crate::proto::conn::MAX_LISTING_ENTRIES`] entries are taken; a
    /// longer listing ends the session with `ListingTooLong`.
    ///
    /// # Errors
    /// `Ok(Err(outcome))` when the server refused; `Err` when the session
    /// failed.
    pub fn list(&mut self) -> Result<Result<Vec<ListEntry>, Outcome>, ClientError> {
        self.conn.request_list()?;
        self.run(&mut List)
    }

    /// Uploads `source` as `name`. `progress` is called with the bytes
    /// sent so far.
    ///
    /// # Errors
    /// `Read` when the local file cannot be read to its announced size;
    /// session errors. A refusal is a [`Report`] with its outcome.
    pub fn put(
        &mut self,
        source: SourceFile,
        path: PathBuf,
        name: &str,
        overwrite: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Report, ClientError> {
        let started = Instant::now();
        self.conn.request_upload(name, source.size, overwrite)?;
        let mut task = Put {
            file: Outgoing::new(source),
            path,
            buf: vec![0u8; CHUNK_LEN],
            progress,
        };
        let outcome = self.run(&mut task)?;
        let sha256 = self.verified_sha256(&outcome);
        Ok(Report {
            outcome,
            bytes: task.file.sent(),
            elapsed: started.elapsed(),
            sha256,
        })
    }

    /// Downloads `name` into `root` (never overwriting). `progress` is
    /// called with the bytes received so far and the announced size. An
    /// offer larger than the session's `max_file_size` or the free space
    /// in `root` is refused (a [`Report`] with [`ResultCode::TooLarge`]).
    ///
    /// # Errors
    /// Session errors; local write failures are reported to the server and
    /// returned as [`ClientError::Local`].
    pub fn get(
        &mut self,
        name: &str,
        root: &ReceiveRoot,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Report, ClientError> {
        let started = Instant::now();
        self.conn.request_download(name)?;
        let mut task = Get {
            name,
            root,
            max_file_size: self.max_file_size,
            file: None,
            size: 0,
            received: 0,
            error: None,
            progress,
        };
        let outcome = self.run(&mut task)?;
        if let Some(e) = task.error {
            return Err(ClientError::Local(e));
        }
        let sha256 = self.verified_sha256(&outcome);
        Ok(Report {
            outcome,
            bytes: task.received,
            elapsed: started.elapsed(),
            sha256,
        })
    }

    /// The transfer's SHA-256 if it ended `Ok` (verified by the receiver).
    fn verified_sha256(&self, outcome: &Outcome) -> Option<[u8; 32]> {
        (outcome.code == ResultCode::Ok)
            .then(|| self.conn.transfer_sha256())
            .flatten()
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
            if self.cancel.is_cancelled() {
                return Err(ClientError::Interrupted);
            }
            let now = Instant::now();
            let end = match pump::read(&mut self.conn, &mut self.sock, now) {
                Ok(end) => end,
                Err(e) => return Err(self.socket_failure(e)),
            };
            while let Some(ev) = self.conn.next_event()? {
                match task.on_event(ev)? {
                    Reply::Continue => {}
                    Reply::Trust => self.conn.trust_server_key()?,
                    Reply::Accept => self.conn.accept()?,
                    Reply::Done(out) => return self.flush().map(|()| out),
                    Reply::Refuse(o, out) => {
                        self.conn.refuse(&o)?;
                        return self.flush().map(|()| out);
                    }
                    Reply::Answer(o, out) => {
                        self.conn.send_result(&o)?;
                        return self.flush().map(|()| out);
                    }
                }
            }
            task.produce(&mut self.conn)?;
            let blocked = match pump::write(&mut self.conn, &mut self.sock, now) {
                Ok(blocked) => blocked,
                Err(e) => return Err(self.socket_failure(e)),
            };
            if end == ReadEnd::Eof {
                // A cut session is reported by next_event as Truncated;
                // here the stream ended where no record was due.
                return Err(ClientError::ServerClosed);
            }
            if end == ReadEnd::BufferFull || (self.conn.wants_data() && !blocked) {
                continue;
            }
            self.wait()?;
        }
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

    /// Sleeps until the socket is ready or the connection's deadline.
    fn wait(&mut self) -> Result<(), ClientError> {
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
        let timeout = self
            .conn
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now));
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
            match pump::write(&mut self.conn, &mut self.sock, Instant::now()) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => return Err(self.socket_failure(e)),
            }
            self.wait()?;
            if let Some(e) = self.conn.error() {
                return Err(e.clone().into());
            }
        }
    }
}
