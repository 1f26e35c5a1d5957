//! The in-process server harness: `sft::net::server::Server` bound to
//! 127.0.0.1:0 in a thread, driven by `net::client::Session` and raw std
//! sockets, stopped through its `ShutdownHandle`. Shared by the tests/net_*.rs
//! files. Nothing here sleeps to synchronise: every wait is on bytes the
//! server sends (read timeouts are hang guards only).
#![allow(dead_code)] // each test binary uses a different part

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sft::audit::AuditLog;
use sft::authorized::table::AuthorizedTable;
use sft::authorized::AuthorizedKey;
use sft::crypto::ed25519::{Fingerprint, SigningKey, VerifyingKey};
use sft::fs::{FsError, ReceiveRoot};
use sft::net::client::{
    BatchObserver, ClientError, Report, ServerTrust, Session, SessionOptions, Step, CONNECT_TIMEOUT,
};
use sft::net::server::{Clients, Limits, ServeOptions, Server, ShutdownHandle, Timeouts};
use sft::proto::conn::{ClientConnection, ClientEvent};
use sft::proto::handshake::client::ClientConfig;
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{ListEntry, Meta, Outcome};
use sft::proto::ProtoError;
use tempfile::TempDir;

/// Hang guard for blocking reads; never an assertion on time.
pub const GUARD: Duration = Duration::from_secs(60);

/// The Busy refusal on the wire: version 5, a plaintext alert record (type 3), length
/// 1, sequence number 0, code 8.
pub const BUSY: [u8; 15] = [5, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 8];

/// The time upload statements carry (Unix seconds).
pub const T0: u64 = 1_764_000_100;

pub struct Running {
    pub addr: SocketAddr,
    pub stop: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    pub host_fp: Fingerprint,
    host: VerifyingKey,
    pub client_key: Arc<SigningKey>,
    pub root: TempDir,
    /// Holds the audit log, outside the served root.
    pub state: TempDir,
}

impl Running {
    /// A server accepting only its test client's key; `adjust` changes
    /// the options.
    pub fn start(adjust: impl FnOnce(&mut ServeOptions)) -> Running {
        let root = TempDir::new().unwrap();
        let state = TempDir::new().unwrap();
        let host = Arc::new(SigningKey::generate().unwrap());
        let host_fp = host.verifying_key().fingerprint();
        let host_key = host.verifying_key();
        let client_key = Arc::new(SigningKey::generate().unwrap());
        let audit = AuditLog::open(&state.path().join("audit.log"), host.clone()).unwrap();
        let mut opts = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            root: ReceiveRoot::open_or_create(root.path()).unwrap(),
            identity: host,
            audit,
            clients: Clients::Authorized(Arc::new(AuthorizedTable::new(vec![
                AuthorizedKey::plain(client_key.verifying_key()),
            ]))),
            max_file_size: 1 << 30,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            allow_overwrite: false,
            max_mode: 0o777,
            partial_ttl: sft::net::server::DEFAULT_PARTIAL_TTL,
            // Two loops, so every test also crosses the hand-over of a
            // session from the front to another loop.
            threads: 2,
        };
        adjust(&mut opts);
        let server = Server::bind(opts).unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let thread = Some(thread::spawn(move || server.run()));
        Running {
            addr,
            stop,
            thread,
            host_fp,
            host: host_key,
            client_key,
            root,
            state,
        }
    }

    /// The server's host key.
    pub fn host_key(&self) -> VerifyingKey {
        self.host
    }

    /// The server's audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.state.path().join("audit.log")
    }

    pub fn session(&self) -> Result<Session, ClientError> {
        self.session_as(self.client_key.clone())
    }

    /// A session with client key `identity` (which the server must accept).
    pub fn session_as(&self, identity: Arc<SigningKey>) -> Result<Session, ClientError> {
        let opts = SessionOptions {
            identity,
            trust: ServerTrust::Pinned(self.host_fp),
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: Timeouts::default().handshake,
            max_file_size: u64::MAX,
        };
        Session::connect(self.addr, &opts, &mut |_| false)
    }

    /// Stops the server and waits until `run` returns.
    pub fn stop(&mut self) -> io::Result<()> {
        self.stop.shutdown();
        self.thread.take().map_or(Ok(()), |t| t.join().unwrap())
    }

    pub fn root_names(&self) -> Vec<String> {
        names(self.root.path())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

pub fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A raw connection from `from` (a loopback address, port chosen by the
/// system).
pub fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src = SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0);
    s.bind(&src.into()).unwrap();
    s.connect(&to.into()).unwrap();
    let sock: TcpStream = s.into();
    sock.set_read_timeout(Some(GUARD)).unwrap();
    sock
}

/// The bytes a client sends first: a real HELLO.
pub fn hello() -> Vec<u8> {
    let mut conn = ClientConnection::new(
        ClientConfig {
            identity: Arc::new(SigningKey::generate().unwrap()),
            trust: ServerTrust::Ask,
        },
        Ephemeral::generate().unwrap(),
        Timeouts::default(),
        Instant::now(),
    )
    .unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out, Instant::now()).unwrap();
    out
}

/// Everything the server sends until it closes (an error means a reset).
pub fn read_all(sock: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    sock.read_to_end(&mut got)?;
    Ok(got)
}

/// Sends HELLO and waits for the first bytes of the answer: proof that
/// the server admitted the connection (it stays unauthenticated).
pub fn admitted_half_way(sock: &mut TcpStream) {
    sock.write_all(&hello()).unwrap();
    let mut header = [0u8; 2];
    sock.read_exact(&mut header).unwrap();
    assert_ne!(header[1], BUSY[1], "a CHALLENGE, not a plaintext alert");
}

// ---- requests through a Session ------------------------------------------------------

/// Upload `local` as `remote`: no overwrite, no metadata.
pub fn put(local: &Path, remote: &str) -> Step {
    Step::Put {
        local: local.to_path_buf(),
        remote: remote.to_string(),
        overwrite: false,
        preserve: false,
        within: None,
    }
}

/// Download `remote` into the root as `local`.
pub fn get(remote: &str, local: &str) -> Step {
    Step::Get {
        remote: remote.to_string(),
        local: local.to_string(),
        preserve: false,
    }
}

/// Make the directory `remote`, with `meta` if given.
pub fn mkdir(remote: &str, meta: Option<Meta>) -> Step {
    Step::Mkdir {
        remote: remote.to_string(),
        meta,
    }
}

/// Writes `content` to `dir/name`; returns the path.
pub fn local_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Everything a batch reported, in the order it came.
#[derive(Default)]
pub struct Seen {
    pub done: Vec<(usize, Result<Report, FsError>)>,
    pub waits: Vec<(usize, Duration)>,
    pub bytes: u64,
}

impl Seen {
    /// The request indexes in the order they were reported.
    pub fn order(&self) -> Vec<usize> {
        self.done.iter().map(|(i, _)| *i).collect()
    }

    /// The server's answer to request `index` (which must have one).
    pub fn outcome(&self, index: usize) -> &Outcome {
        match self.done.iter().find(|(i, _)| *i == index) {
            Some((_, Ok(report))) => &report.outcome,
            other => panic!("request {index}: {other:?}"),
        }
    }
}

impl BatchObserver for Seen {
    fn bytes(&mut self, n: u64) {
        self.bytes += n;
    }
    fn done(&mut self, index: usize, result: Result<Report, FsError>) {
        self.done.push((index, result));
    }
    fn waiting(&mut self, index: usize, wait: Duration, _: &str) {
        self.waits.push((index, wait));
    }
}

// ---- a raw client, driven by hand ----------------------------------------------------

/// What the raw client saw, owned.
#[derive(Debug, PartialEq)]
pub enum Got {
    Outcome(Outcome),
    Offered { size: u64, meta: Meta },
    Data(Vec<u8>),
    Complete([u8; 32]),
    Corrupt,
    Listing(Vec<ListEntry>),
    Closed,
}

impl Got {
    /// Whether this event completes the answer to one request.
    pub fn is_answer(&self) -> bool {
        matches!(
            self,
            Got::Outcome(_) | Got::Complete(_) | Got::Corrupt | Got::Listing(_)
        )
    }
}

/// A protocol client on a blocking socket: requests are queued on `conn`,
/// `flush` writes them, `read` takes what the server sent.
pub struct Raw {
    pub conn: ClientConnection,
    pub sock: TcpStream,
}

impl Raw {
    /// A session with the harness's client key.
    pub fn connect(server: &Running) -> Raw {
        Raw::connect_as(server, server.client_key.clone())
    }

    /// A session with the client key `identity`.
    pub fn connect_as(server: &Running, identity: Arc<SigningKey>) -> Raw {
        let mut raw = Raw {
            conn: ClientConnection::new(
                ClientConfig {
                    identity,
                    trust: ServerTrust::Pinned(server.host_fp),
                },
                Ephemeral::generate().unwrap(),
                Timeouts::default(),
                Instant::now(),
            )
            .unwrap(),
            sock: TcpStream::connect(server.addr).unwrap(),
        };
        raw.sock.set_read_timeout(Some(GUARD)).unwrap();
        while !raw.conn.is_established() {
            raw.flush();
            raw.read().unwrap();
        }
        raw
    }

    /// Writes everything the connection has queued.
    pub fn flush(&mut self) {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock, Instant::now()).unwrap();
        }
    }

    /// Queues an upload of `data` as `path` and writes it all.
    pub fn upload(&mut self, path: &str, data: &[u8], meta: Option<Meta>) {
        self.conn
            .request_upload(path, data.len() as u64, false, meta, false, T0)
            .unwrap();
        for chunk in data.chunks(sft::proto::CHUNK_LEN) {
            self.conn.send_data(chunk).unwrap();
            self.flush();
        }
        self.flush();
    }

    /// One blocking read (the end of stream included), then every event
    /// it brought. A hang guard, not a timing assertion, bounds the read.
    pub fn read(&mut self) -> Result<Vec<Got>, ProtoError> {
        let mut buf = vec![0u8; 1 << 16];
        let n = loop {
            match self.sock.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break 0,
                r => break r.expect("hang guard: nothing from the server"),
            }
        };
        // The receive buffer may take less than one read brought: feed it
        // in turns, taking the events between.
        let mut bytes = &buf[..n];
        let mut got = Vec::new();
        loop {
            self.conn.read_tls(&mut bytes, Instant::now()).unwrap();
            while let Some(ev) = self.conn.next_event()? {
                got.push(match ev {
                    ClientEvent::Established { .. } => continue,
                    ClientEvent::Outcome(o) => Got::Outcome(o),
                    // Verified by the connection: stored.
                    ClientEvent::Stored(_) => Got::Outcome(Outcome::ok()),
                    ClientEvent::DownloadOffered {
                        size,
                        meta,
                        from: 0,
                    } => Got::Offered { size, meta },
                    ClientEvent::Data(d) => Got::Data(d.to_vec()),
                    ClientEvent::ReceiveComplete { signed } => {
                        Got::Complete(signed.statement.sha256)
                    }
                    ClientEvent::ReceiveCorrupt => Got::Corrupt,
                    ClientEvent::Listing(l) => Got::Listing(l),
                    ClientEvent::Closed => Got::Closed,
                    other => panic!("unexpected {other:?}"),
                });
            }
            if bytes.is_empty() {
                break;
            }
        }
        Ok(got)
    }

    /// Reads until `answers` requests are answered; every event, in order.
    pub fn answers(&mut self, answers: usize) -> Result<Vec<Got>, ProtoError> {
        let mut got = Vec::new();
        while got.iter().filter(|g: &&Got| g.is_answer()).count() < answers {
            got.extend(self.read()?);
        }
        Ok(got)
    }

    /// Sends CLOSE and reads until the server's: the session ended in
    /// order.
    pub fn close(mut self) -> Result<(), ProtoError> {
        self.conn.close()?;
        self.flush();
        loop {
            if self.read()?.contains(&Got::Closed) {
                return Ok(());
            }
        }
    }
}

/// Makes the server of `o` accept `key` too, beside the keys it has.
pub fn also_accept(o: &ServeOptions, key: VerifyingKey) {
    if let Clients::Authorized(table) = &o.clients {
        let mut keys = table.keys();
        keys.push(key);
        table.replace(keys.into_iter().map(AuthorizedKey::plain).collect());
    }
}
