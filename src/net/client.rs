//! The client side: one connection, driven by the same pump as the server.
//! A [`Session`] connects, completes the handshake (asking the caller about
//! an unknown server key), then runs one operation at a time.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::pump::{self, ReadEnd};
use crate::crypto::ed25519::VerifyingKey;
use crate::fs::{FsError, ReceiveRoot, SourceFile, Staged};
use crate::proto::conn::{Connection, Event};
use crate::proto::handshake::Ephemeral;
use crate::proto::msgs::{ListEntry, Outcome, ResultCode, SessionParams};
use crate::proto::{ProtoError, CHUNK_LEN};

/// What the client brings to a handshake (plain data from the protocol layer).
pub use crate::proto::handshake::client::{ClientConfig, ServerTrust};
/// Handshake and idle timeouts (plain data from the protocol layer).
pub use crate::proto::timers::Timeouts;

const SOCKET: Token = Token(0);

/// Time allowed for the TCP connection itself.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    /// The socket failed after connecting.
    #[error("connection to the server failed: {0}")]
    Socket(#[from] io::Error),
    /// The server closed the connection without a word (refused at
    /// admission: connection cap or rate limit, or it went away).
    #[error("the server closed the connection (it may be at its connection or rate limit)")]
    ServerClosed,
    /// The session failed (authentication, tampering, timeout...).
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The server's key is unknown and was not trusted.
    #[error("server key {0} is not trusted")]
    Untrusted(crate::crypto::ed25519::Fingerprint),
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
    /// The peer's answer (`Ok`, or why not).
    pub outcome: Outcome,
    /// Bytes moved.
    pub bytes: u64,
    /// Wall time of the transfer.
    pub elapsed: Duration,
}

/// What the driver does after an event.
enum Reply<T> {
    Continue,
    Trust,
    Accept,
    Done(T),
    /// Refuse the pending offer, then finish.
    Refuse(Outcome, T),
    /// Answer a completed transfer, then finish.
    Answer(Outcome, T),
}

trait Task {
    type Output;
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<Self::Output>, ClientError>;
    fn produce(&mut self, _conn: &mut Connection) -> Result<(), ClientError> {
        Ok(())
    }
}

/// An established session with a server.
pub struct Session {
    conn: Connection,
    sock: TcpStream,
    poll: Poll,
    events: Events,
    interest: Interest,
    cancel: Option<Arc<AtomicBool>>,
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
    /// [`ProtoError`] (key mismatch, refused client key, timeout...).
    pub fn connect(
        addr: SocketAddr,
        config: ClientConfig,
        timeouts: Timeouts,
        decide: &mut dyn FnMut(&VerifyingKey) -> bool,
    ) -> Result<Session, ClientError> {
        let std_sock = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|source| ClientError::Connect { addr, source })?;
        std_sock.set_nonblocking(true)?;
        let _ = std_sock.set_nodelay(true);
        let mut sock = TcpStream::from_std(std_sock);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut sock, SOCKET, Interest::READABLE)?;
        let eph = Ephemeral::generate().map_err(ProtoError::from)?;
        let conn = Connection::client(config, eph, timeouts, Instant::now())?;
        let mut session = Session {
            conn,
            sock,
            poll,
            events: Events::with_capacity(8),
            interest: Interest::READABLE,
            cancel: None,
            server_key: VerifyingKey::from_bytes(&[0; 32]).expect("32 bytes"),
            params: SessionParams {
                max_file_size: 0,
                idle_timeout_secs: 0,
            },
        };
        let (key, params) = session
            .run(&mut Handshake { decide })
            .map_err(|e| match e {
                // A server at its connection cap or rate limit closes at once.
                ClientError::Proto(ProtoError::Truncated) => ClientError::ServerClosed,
                other => other,
            })?;
        session.server_key = key;
        session.params = params;
        Ok(session)
    }

    /// Makes every later operation stop with [`ClientError::Interrupted`]
    /// once `flag` is set (by a signal handler, say); a download's partial
    /// file is removed on the way out.
    pub fn cancel_on(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// Lists the server's receive root.
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
            source,
            path,
            sent: 0,
            buf: vec![0u8; CHUNK_LEN],
            progress,
        };
        let outcome = self.run(&mut task)?;
        Ok(Report {
            outcome,
            bytes: task.sent,
            elapsed: started.elapsed(),
        })
    }

    /// Downloads `name` into `root` (never overwriting). `progress` is
    /// called with the bytes received so far and the announced size.
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
            requested: name,
            root,
            staged: None,
            size: 0,
            received: 0,
            error: None,
            progress,
        };
        let outcome = self.run(&mut task)?;
        if let Some(e) = task.error {
            return Err(ClientError::Local(e));
        }
        Ok(Report {
            outcome,
            bytes: task.received,
            elapsed: started.elapsed(),
        })
    }

    /// Ends the session with the authenticated close exchange.
    ///
    /// # Errors
    /// Session errors while closing.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.conn.close()?;
        self.run(&mut Close)
    }

    fn run<T: Task>(&mut self, task: &mut T) -> Result<T::Output, ClientError> {
        loop {
            if self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst))
            {
                return Err(ClientError::Interrupted);
            }
            let now = Instant::now();
            let end = pump::read(&mut self.conn, &mut self.sock, now)?;
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
            let blocked = pump::write(&mut self.conn, &mut self.sock, now)?;
            if end == ReadEnd::Eof {
                // next_event reports a cut session as Truncated; reaching
                // here means the server hung up before the handshake.
                return Err(ClientError::ServerClosed);
            }
            if end == ReadEnd::BufferFull || (self.conn.wants_data() && !blocked) {
                continue;
            }
            self.wait()?;
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
        )?;
        let now = Instant::now();
        let timeout = self
            .conn
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now));
        match self.poll.poll(&mut self.events, timeout) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e.into()),
            _ => {}
        }
        if self.events.is_empty() {
            self.conn.handle_timeout(Instant::now())?;
        }
        Ok(())
    }

    /// Writes all pending output.
    fn flush(&mut self) -> Result<(), ClientError> {
        while pump::write(&mut self.conn, &mut self.sock, Instant::now())? {
            self.wait()?;
        }
        Ok(())
    }
}

struct Handshake<'a> {
    decide: &'a mut dyn FnMut(&VerifyingKey) -> bool,
}

impl Task for Handshake<'_> {
    type Output = (VerifyingKey, SessionParams);
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<Self::Output>, ClientError> {
        match ev {
            Event::ServerKeyUnknown(key) if (self.decide)(&key) => Ok(Reply::Trust),
            Event::ServerKeyUnknown(key) => Err(ClientError::Untrusted(key.fingerprint())),
            Event::Established {
                peer,
                params: Some(params),
            } => Ok(Reply::Done((peer, params))),
            _ => Err(ProtoError::InvalidCall("unexpected event during the handshake").into()),
        }
    }
}

struct List;

impl Task for List {
    type Output = Result<Vec<ListEntry>, Outcome>;
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<Self::Output>, ClientError> {
        match ev {
            Event::Listing(entries) => Ok(Reply::Done(Ok(entries))),
            Event::Outcome(o) => Ok(Reply::Done(Err(o))),
            _ => Err(ProtoError::InvalidCall("unexpected event during a listing").into()),
        }
    }
}

struct Close;

impl Task for Close {
    type Output = ();
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<()>, ClientError> {
        match ev {
            Event::Closed => Ok(Reply::Done(())),
            _ => Ok(Reply::Continue),
        }
    }
}

struct Put<'a> {
    source: SourceFile,
    path: PathBuf,
    sent: u64,
    buf: Vec<u8>,
    progress: &'a mut dyn FnMut(u64),
}

impl Task for Put<'_> {
    type Output = Outcome;
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<Outcome>, ClientError> {
        match ev {
            Event::SendReady => Ok(Reply::Continue),
            Event::Outcome(o) => Ok(Reply::Done(o)),
            _ => Err(ProtoError::InvalidCall("unexpected event during an upload").into()),
        }
    }

    fn produce(&mut self, conn: &mut Connection) -> Result<(), ClientError> {
        while conn.wants_data() {
            let want = (self.source.size - self.sent).min(CHUNK_LEN as u64) as usize;
            self.source
                .file
                .read_exact(&mut self.buf[..want])
                .map_err(|source| ClientError::Read {
                    path: self.path.clone(),
                    source: if source.kind() == io::ErrorKind::UnexpectedEof {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the file shrank while it was being sent",
                        )
                    } else {
                        source
                    },
                })?;
            conn.send_data(&self.buf[..want])?;
            self.sent += want as u64;
            (self.progress)(self.sent);
        }
        Ok(())
    }
}

struct Get<'a> {
    requested: &'a str,
    root: &'a ReceiveRoot,
    staged: Option<Staged>,
    size: u64,
    received: u64,
    error: Option<FsError>,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl Task for Get<'_> {
    type Output = Outcome;
    fn on_event(&mut self, ev: Event<'_>) -> Result<Reply<Outcome>, ClientError> {
        match ev {
            Event::DownloadOffered { name, .. } if name != self.requested => Err(
                ProtoError::Transfer("the server offered a different file than the one requested")
                    .into(),
            ),
            Event::DownloadOffered { name, size } => match self.root.begin(&name, size, false) {
                Ok(staged) => {
                    self.staged = Some(staged);
                    self.size = size;
                    (self.progress)(0, size);
                    Ok(Reply::Accept)
                }
                Err(e) => {
                    let o = Outcome {
                        code: ResultCode::IoError,
                        reason: "the client cannot store the file".into(),
                    };
                    self.error = Some(e);
                    Ok(Reply::Refuse(o.clone(), o))
                }
            },
            Event::Data(data) => {
                self.received += data.len() as u64;
                if let (Some(staged), None) = (&mut self.staged, &self.error) {
                    self.error = staged.write_all(data).err();
                }
                (self.progress)(self.received, self.size);
                Ok(Reply::Continue)
            }
            Event::ReceiveComplete => {
                let staged = self.staged.take().expect("accepted before data");
                if self.error.is_none() {
                    self.error = staged.commit().err();
                }
                let o = match &self.error {
                    None => Outcome::ok(),
                    Some(_) => Outcome {
                        code: ResultCode::IoError,
                        reason: "the client could not store the file".into(),
                    },
                };
                Ok(Reply::Answer(o.clone(), o))
            }
            Event::ReceiveCorrupt => Ok(Reply::Done(Outcome {
                code: ResultCode::HashMismatch,
                reason: "whole-file SHA-256 mismatch".into(),
            })),
            Event::Outcome(o) => Ok(Reply::Done(o)),
            _ => Err(ProtoError::InvalidCall("unexpected event during a download").into()),
        }
    }
}
