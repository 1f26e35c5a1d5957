//! The client session against a scripted server: a real `ServerConnection`
//! on a blocking socket in a thread, doing what an honest server would not
//! (offering more than the GET's max_size, closing mid-download, corrupting
//! a record), so the client's side of each defect is checked at the net
//! layer.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use sft::crypto::ed25519::{Fingerprint, SigningKey};
use sft::fs::ReceiveRoot;
use sft::net::client::{ClientError, ServerTrust, Session, SessionOptions, Step, CONNECT_TIMEOUT};
use sft::proto::conn::{ServerConnection, ServerEvent, Ticket};
use sft::proto::evidence::{Receipt, Signed, Stored};
use sft::proto::handshake::server::{ClientPolicy, ServerConfig, ServerEphemeral};
use sft::proto::msgs::{Meta, ResultCode, SessionParams};
use sft::proto::timers::Timeouts;
use sft::proto::{AlertCode, ProtoError, TransferError};
use tempfile::TempDir;

/// What the scripted server saw, owned.
#[derive(Debug, PartialEq)]
enum Saw {
    Established,
    /// A GET: its path and max_size.
    Download(String, u64),
    /// An upload offered, under this ticket.
    Upload(Ticket),
    /// An upload's data arrived whole, with the client's statement.
    Arrived(Box<Signed>),
    Closed,
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
                    ServerEvent::DownloadRequested { path, max_size, .. } => {
                        Saw::Download(path, max_size)
                    }
                    ServerEvent::UploadRequested { ticket, .. } => Saw::Upload(ticket),
                    ServerEvent::ReceiveComplete { signed } => Saw::Arrived(signed),
                    ServerEvent::Closed => Saw::Closed,
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

    /// Offers the GET's file: `size` bytes, no metadata of note.
    fn offer(&mut self, size: u64) {
        self.conn
            .offer_download(size, Meta::default(), None, 1_764_000_100)
            .unwrap();
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
        identity: Arc::new(host),
        clients: ClientPolicy::Authorized(Arc::new(HashSet::from([client_key.verifying_key()]))),
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

/// Downloads `name` into `root` as one request.
fn get(session: &mut Session, name: &str, root: &ReceiveRoot) -> Result<ResultCode, ClientError> {
    let step = Step::Get {
        remote: name.into(),
        local: name.into(),
        preserve: false,
    };
    let report = session.run_one(step, Some(root))?.unwrap();
    Ok(report.outcome.code)
}

/// The GET says how large a file the client takes: its own limit, or the
/// free space of the directory it stores into, whichever is smaller. A
/// server that honours it refuses a larger file before any data moves
/// (RESULT 3), and the client reports the refusal.
#[test]
fn the_get_carries_the_limit_or_the_free_space_whichever_is_smaller() {
    let (dir, root) = download_root();
    // Other processes change the free space; the disk's size bounds it.
    let fs = rustix::fs::statvfs(dir.path()).unwrap();
    let disk = fs.f_blocks * fs.f_frsize;
    for limit in [1000, u64::MAX] {
        let server = scripted(move |w| {
            let saw = w.next().unwrap();
            w.conn
                .refuse(&sft::proto::msgs::Outcome::new(ResultCode::TooLarge, "big"))
                .unwrap();
            w.flush();
            vec![saw]
        });
        let mut session = server.session(limit);
        assert_eq!(
            get(&mut session, "big.bin", &root).unwrap(),
            ResultCode::TooLarge
        );
        assert!(names(&dir).is_empty(), "nothing was staged");
        let saw = server.script.join().unwrap();
        let [Saw::Download(path, asked)] = &saw[..] else {
            panic!("{saw:?}");
        };
        assert_eq!(path, "big.bin");
        if limit == 1000 {
            assert_eq!(*asked, 1000);
        } else {
            assert!(
                0 < *asked && *asked <= disk,
                "{asked} of a {disk}-byte disk"
            );
        }
    }
}

/// Defect 11, in v3: a server that offers more than the GET's max_size
/// (1,001 bytes against 1,000) breaks the protocol; the client ends the
/// session before any data is stored. At the limit the file is taken.
#[test]
fn an_offer_past_the_max_size_ends_the_session_and_one_at_it_is_stored() {
    for size in [1000, 1001] {
        let server = scripted(move |w| {
            assert_eq!(w.next().unwrap(), Saw::Download("f.bin".into(), 1000));
            w.offer(size);
            w.conn.send_data(&vec![7u8; size as usize]).unwrap();
            w.flush();
            // The client sends nothing for a download: next comes its
            // CLOSE (an honest end) or its alert.
            vec![match w.next() {
                Ok(saw) => saw,
                Err(ProtoError::PeerAlert(code)) => Saw::Other(format!("alert {code:?}")),
                Err(e) => Saw::Other(format!("{e:?}")),
            }]
        });
        let mut session = server.session(1000);
        let (dir, root) = download_root();
        let got = get(&mut session, "f.bin", &root);
        if size == 1000 {
            assert_eq!(got.unwrap(), ResultCode::Ok);
            assert_eq!(names(&dir), vec!["f.bin".to_string()]);
            assert_eq!(
                std::fs::read(dir.path().join("f.bin")).unwrap(),
                [7u8; 1000]
            );
            session.close().unwrap();
            assert_eq!(server.script.join().unwrap(), vec![Saw::Closed]);
        } else {
            match got {
                Err(ClientError::Proto(ProtoError::Transfer(TransferError::OfferTooLarge))) => {}
                other => panic!("{size} bytes: {other:?}"),
            }
            assert!(names(&dir).is_empty(), "{:?}", names(&dir));
            assert_eq!(
                server.script.join().unwrap(),
                vec![Saw::Other(format!("alert {:?}", AlertCode::ProtocolError))]
            );
        }
    }
}

/// Defect 10: a server that closes in order in the middle of a download is
/// a closed connection (exit 3), not "unexpected event" (exit 6); nothing
/// is stored under the file's name, and the bytes received wait in the
/// partial file for a later download to resume.
#[test]
fn a_server_close_mid_download_is_server_closed() {
    let server = scripted(|w| {
        assert!(matches!(w.next().unwrap(), Saw::Download(..)));
        w.offer(1 << 20);
        w.conn.send_data(&[1u8; 1000]).unwrap();
        w.conn.close().unwrap();
        w.flush();
        vec![]
    });
    let mut session = server.session(u64::MAX);
    let (dir, root) = download_root();
    let err = get(&mut session, "f.bin", &root).unwrap_err();
    assert!(matches!(err, ClientError::ServerClosed), "{err:?}");
    assert_only_partial(&dir, 1000);
    server.script.join().unwrap();
}

/// Defect 6: a client that finds a record tampered with sends its alert
/// before it gives up, and the server hears BadRecord.
#[test]
fn a_client_that_detects_tampering_tells_the_server() {
    let server = scripted(|w| {
        assert!(matches!(w.next().unwrap(), Saw::Download(..)));
        // The whole file (OFFER, CHUNK, END): a server reads nothing
        // while it sends one.
        w.offer(10);
        w.conn.send_data(&[5u8; 10]).unwrap();
        let mut records = w.take_output();
        let last = records.len() - 1;
        records[last] ^= 1; // a bit of END's tag
        w.sock.write_all(&records).unwrap();
        vec![match w.next() {
            Err(ProtoError::PeerAlert(code)) => Saw::Other(format!("alert {code:?}")),
            other => Saw::Other(format!("{other:?}")),
        }]
    });
    let mut session = server.session(u64::MAX);
    let (dir, root) = download_root();
    let err = get(&mut session, "f.bin", &root).unwrap_err();
    assert!(
        matches!(err, ClientError::Proto(ProtoError::BadRecord)),
        "{err:?}"
    );
    // Every CHUNK before the tampered END authenticated: kept to resume
    // (a resume verifies them again), never stored as the file.
    assert_only_partial(&dir, 10);
    assert_eq!(
        server.script.join().unwrap(),
        vec![Saw::Other(format!("alert {:?}", AlertCode::BadRecord))]
    );
}

/// A server whose receipt does not verify (signed by another key than the
/// one the handshake proved) fails the upload: the client reports the
/// session's error, not a stored file, and tells the server why.
#[test]
fn a_receipt_that_does_not_verify_fails_the_upload() {
    let server = scripted(|w| {
        let Saw::Upload(ticket) = w.next().unwrap() else {
            panic!("no upload");
        };
        w.conn.accept().unwrap();
        let signed = loop {
            if let Saw::Arrived(signed) = w.next().unwrap() {
                break *signed;
            }
        };
        let other = SigningKey::generate().unwrap();
        let mut forged = signed.clone();
        forged.statement.server = other.verifying_key();
        let stored = Stored {
            commit_time: 1,
            audit_seq: 1,
        };
        let by_other = Receipt::sign(forged, stored, &other).unwrap();
        let receipt = Receipt {
            signed,
            stored,
            signature: by_other.signature,
        };
        w.conn.answer_stored(ticket, &receipt).unwrap();
        w.flush();
        vec![match w.next() {
            Err(ProtoError::PeerAlert(code)) => Saw::Other(format!("alert {code:?}")),
            other => Saw::Other(format!("{other:?}")),
        }]
    });
    let mut session = server.session(u64::MAX);
    let dir = TempDir::new().unwrap();
    let local = dir.path().join("a.txt");
    std::fs::write(&local, b"abc").unwrap();
    let step = Step::Put {
        local,
        remote: "a.txt".into(),
        overwrite: false,
        preserve: false,
        within: None,
    };
    let err = session.run_one(step, None).unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Proto(ProtoError::BadSignature("server's receipt"))
        ),
        "{err:?}"
    );
    assert_eq!(
        server.script.join().unwrap(),
        vec![Saw::Other(format!(
            "alert {:?}",
            AlertCode::HandshakeFailed
        ))]
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

/// `dir` holds nothing but one partial file (`.sft-part-` and 64 hex
/// digits) of `len` bytes.
fn assert_only_partial(dir: &TempDir, len: u64) {
    let found = names(dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(".sft-part-") && found[0].len() == 10 + 64);
    assert_eq!(
        std::fs::metadata(dir.path().join(&found[0])).unwrap().len(),
        len
    );
}
