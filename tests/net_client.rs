//! The client session against a scripted server: a real `ServerConnection`
//! on a blocking socket in a thread, doing what an honest server would not
//! (offering 2^64 - 1 bytes, closing mid-download, corrupting a record), so
//! the client's side of each defect is checked at the net layer.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use sft::crypto::ed25519::{Fingerprint, SigningKey};
use sft::fs::ReceiveRoot;
use sft::net::client::{ClientError, ServerTrust, Session, SessionOptions, CONNECT_TIMEOUT};
use sft::proto::conn::{ServerConnection, ServerEvent};
use sft::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use sft::proto::msgs::{ResultCode, SessionParams};
use sft::proto::timers::Timeouts;
use sft::proto::{AlertCode, ProtoError};
use tempfile::TempDir;

/// What the scripted server saw, owned.
#[derive(Debug, PartialEq)]
enum Saw {
    Established,
    Download(String),
    Outcome(ResultCode),
    Other(String),
}

/// The server end of one connection, driven step by step.
struct Wire {
    conn: ServerConnection,
    sock: TcpStream,
}

impl Wire {
    /// Writes everything pending.
    fn flush(&mut self) {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock, Instant::now()).unwrap();
        }
    }

    /// The output the connection queued, taken instead of written.
    fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out, Instant::now()).unwrap();
        }
        out
    }

    /// Reads until the next event; flushes what handling it queued.
    fn next(&mut self) -> Result<Saw, ProtoError> {
        loop {
            if let Some(ev) = self.conn.next_event()? {
                let saw = match ev {
                    ServerEvent::Authenticated { .. } => Saw::Established,
                    ServerEvent::DownloadRequested { name } => Saw::Download(name),
                    ServerEvent::Outcome(o) => Saw::Outcome(o.code),
                    other => Saw::Other(format!("{other:?}")),
                };
                if saw == Saw::Established {
                    self.conn.admit()?;
                }
                self.flush();
                return Ok(saw);
            }
            self.flush();
            let mut buf = [0u8; 65536];
            let n = self.sock.read(&mut buf).unwrap_or(0);
            self.conn.read_tls(&mut &buf[..n], Instant::now()).unwrap();
        }
    }
}

struct Scripted {
    addr: SocketAddr,
    host_fp: Fingerprint,
    client_key: Arc<SigningKey>,
    script: JoinHandle<Vec<Saw>>,
}

/// A server that authenticates the client, then runs `script`; the
/// script's return value is what the test inspects.
fn scripted(script: impl FnOnce(&mut Wire) -> Vec<Saw> + Send + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let host = SigningKey::generate().unwrap();
    let host_fp = host.verifying_key().fingerprint();
    let client_key = Arc::new(SigningKey::generate().unwrap());
    let config = Arc::new(ServerConfig {
        identity: host,
        clients: ClientPolicy::Authorized(HashSet::from([client_key.verifying_key()])),
        params: SessionParams {
            max_file_size: u64::MAX,
            idle_timeout_secs: 60,
        },
    });
    let script = thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = ServerConnection::new(
            config,
            ServerEphemeral::Fresh,
            Timeouts::default(),
            Instant::now(),
        );
        let mut wire = Wire { conn, sock };
        assert_eq!(wire.next().unwrap(), Saw::Established);
        script(&mut wire)
    });
    Scripted {
        addr,
        host_fp,
        client_key,
        script,
    }
}

impl Scripted {
    fn session(&self, max_file_size: u64) -> Session {
        let opts = SessionOptions {
            identity: self.client_key.clone(),
            trust: ServerTrust::Pinned(self.host_fp),
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: Timeouts::default().handshake,
            max_file_size,
        };
        Session::connect(self.addr, &opts, &mut |_| false).unwrap()
    }
}

fn download_root() -> (TempDir, ReceiveRoot) {
    let dir = TempDir::new().unwrap();
    let root = ReceiveRoot::open_or_create(dir.path()).unwrap();
    (dir, root)
}

fn names(dir: &TempDir) -> Vec<String> {
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Defect 11: an offer over the client's limit (1,001 bytes against 1,000)
/// or over the free space of its directory (2^64 - 1 bytes, no limit set)
/// is refused before any data moves; today's main accepted it and wrote
/// whatever arrived.
#[test]
fn an_offer_larger_than_the_limit_or_the_free_space_is_refused() {
    for (size, limit) in [(u64::MAX, u64::MAX), (1001, 1000)] {
        let server = scripted(move |w| {
            assert_eq!(w.next().unwrap(), Saw::Download("big.bin".into()));
            w.conn.offer_download(size).unwrap();
            w.flush();
            vec![w.next().unwrap()]
        });
        let mut session = server.session(limit);
        let (dir, root) = download_root();
        let report = session.get("big.bin", &root, &mut |_, _| {}).unwrap();
        assert_eq!(report.outcome.code, ResultCode::TooLarge, "{size}");
        assert_eq!(report.bytes, 0);
        assert!(names(&dir).is_empty(), "nothing was staged");
        assert_eq!(
            server.script.join().unwrap(),
            vec![Saw::Outcome(ResultCode::TooLarge)],
            "the server heard the refusal"
        );
    }
}

/// An offer at the limit exactly is taken.
#[test]
fn an_offer_at_the_limit_is_accepted() {
    let server = scripted(|w| {
        assert_eq!(w.next().unwrap(), Saw::Download("f.bin".into()));
        w.conn.offer_download(1000).unwrap();
        w.flush();
        // Read the ACCEPT, then send the data.
        while !w.conn.wants_data() {
            let mut buf = [0u8; 4096];
            let n = w.sock.read(&mut buf).unwrap();
            w.conn.read_tls(&mut &buf[..n], Instant::now()).unwrap();
            while w.conn.next_event().unwrap().is_some() {}
        }
        w.conn.send_data(&[7u8; 1000]).unwrap();
        w.flush();
        vec![w.next().unwrap()]
    });
    let mut session = server.session(1000);
    let (dir, root) = download_root();
    let report = session.get("f.bin", &root, &mut |_, _| {}).unwrap();
    assert_eq!(report.outcome.code, ResultCode::Ok);
    assert_eq!(names(&dir), vec!["f.bin".to_string()]);
    assert_eq!(
        server.script.join().unwrap(),
        vec![Saw::Outcome(ResultCode::Ok)]
    );
}

/// Defect 10: a server that closes in order in the middle of a download is
/// a closed connection (exit 3), not "unexpected event" (exit 6), and the
/// partial file is gone.
#[test]
fn a_server_close_mid_download_is_server_closed() {
    let server = scripted(|w| {
        assert_eq!(w.next().unwrap(), Saw::Download("f.bin".into()));
        w.conn.offer_download(1 << 20).unwrap();
        w.flush();
        while !w.conn.wants_data() {
            let mut buf = [0u8; 4096];
            let n = w.sock.read(&mut buf).unwrap();
            w.conn.read_tls(&mut &buf[..n], Instant::now()).unwrap();
            while w.conn.next_event().unwrap().is_some() {}
        }
        w.conn.send_data(&[1u8; 1000]).unwrap();
        w.conn.close().unwrap();
        w.flush();
        vec![]
    });
    let mut session = server.session(u64::MAX);
    let (dir, root) = download_root();
    let err = session.get("f.bin", &root, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, ClientError::ServerClosed), "{err:?}");
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    server.script.join().unwrap();
}

/// Defect 6: a client that finds a record tampered with sends its alert
/// before it gives up, and the server hears BadRecord (today's main sent
/// nothing).
#[test]
fn a_client_that_detects_tampering_tells_the_server() {
    let server = scripted(|w| {
        assert_eq!(w.next().unwrap(), Saw::Download("f.bin".into()));
        w.conn.offer_download(10).unwrap();
        let mut offer = w.take_output();
        let last = offer.len() - 1;
        offer[last] ^= 1; // a bit of the tag
        w.sock.write_all(&offer).unwrap();
        vec![match w.next() {
            Err(ProtoError::PeerAlert(code)) => Saw::Other(format!("alert {code:?}")),
            other => Saw::Other(format!("{other:?}")),
        }]
    });
    let mut session = server.session(u64::MAX);
    let (_dir, root) = download_root();
    let err = session.get("f.bin", &root, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(err, ClientError::Proto(ProtoError::BadRecord)),
        "{err:?}"
    );
    assert_eq!(
        server.script.join().unwrap(),
        vec![Saw::Other(format!("alert {:?}", AlertCode::BadRecord))]
    );
}

/// The connect timeout: a server whose accept queue is full never answers
/// the SYN (Linux drops it), so `connect` waits exactly as long as it is
/// allowed and fails with TimedOut, naming the address. Past the limit is
/// a Connect error; within it, the same listener with room answers.
#[test]
fn connect_gives_up_after_the_connect_timeout() {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap().as_socket().unwrap();
    // Within the limit: the queue has room, the TCP connection is made.
    let first = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).unwrap();
    // Fill the accept queue until a connect finds it full.
    let mut held = vec![first];
    loop {
        match TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
                break;
            }
        }
        assert!(held.len() < 64, "the accept queue never filled");
    }
    let opts = SessionOptions {
        identity: Arc::new(SigningKey::generate().unwrap()),
        trust: ServerTrust::Ask,
        connect_timeout: std::time::Duration::from_millis(200),
        handshake_timeout: Timeouts::default().handshake,
        max_file_size: u64::MAX,
    };
    let err = Session::connect(addr, &opts, &mut |_| false)
        .err()
        .expect("no connection past the timeout");
    match err {
        ClientError::Connect { addr: a, source } => {
            assert_eq!(a, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{source}");
        }
        other => panic!("{other:?}"),
    }
}
