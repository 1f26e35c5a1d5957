//! The in-process server harness: `sft::net::server::Server` bound to
//! 127.0.0.1:0 in a thread, driven by `net::client::Session` and raw std
//! sockets, stopped through its `ShutdownHandle`. Shared by the tests/net_*.rs
//! files. Nothing here sleeps to synchronise: every wait is on bytes the
//! server sends (read timeouts are hang guards only).
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sft::crypto::ed25519::{Fingerprint, SigningKey};
use sft::fs::ReceiveRoot;
use sft::net::client::{ClientError, ServerTrust, Session, SessionOptions, CONNECT_TIMEOUT};
use sft::net::server::{ClientPolicy, Limits, ServeOptions, Server, ShutdownHandle, Timeouts};
use sft::proto::conn::ClientConnection;
use sft::proto::handshake::client::ClientConfig;
use sft::proto::handshake::Ephemeral;
use tempfile::TempDir;

/// Hang guard for blocking reads; never an assertion on time.
pub const GUARD: Duration = Duration::from_secs(60);

/// The Busy refusal on the wire: a plaintext alert record (type 3), length
/// 1, sequence number 0, code 8.
pub const BUSY: [u8; 15] = [2, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 8];

pub struct Running {
    pub addr: SocketAddr,
    pub stop: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
    pub host_fp: Fingerprint,
    pub client_key: Arc<SigningKey>,
    pub root: TempDir,
}

impl Running {
    /// A server accepting only its test client's key; `adjust` changes
    /// the options.
    pub fn start(adjust: impl FnOnce(&mut ServeOptions)) -> Running {
        let root = TempDir::new().unwrap();
        let host = SigningKey::generate().unwrap();
        let host_fp = host.verifying_key().fingerprint();
        let client_key = Arc::new(SigningKey::generate().unwrap());
        let mut opts = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            root: ReceiveRoot::open_or_create(root.path()).unwrap(),
            identity: host,
            clients: ClientPolicy::Authorized(HashSet::from([client_key.verifying_key()])),
            max_file_size: 1 << 30,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            allow_overwrite: false,
            max_mode: 0o777,
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
            client_key,
            root,
        }
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
