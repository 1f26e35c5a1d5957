//! A hostile client for tests/net_paths.rs: it runs the real handshake
//! with the public pieces of `sft::proto`, then seals any request it is
//! told to, since `ClientConnection` refuses to send a path its own rule
//! refuses. One request at a time: each waits for its whole answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use sft::crypto::ed25519::{SigningKey, VerifyingKey};
use sft::crypto::hash::sha256;
use sft::proto::evidence::{Direction, Statement};
use sft::proto::handshake::client::{AfterChallenge, AwaitChallenge, ClientConfig, ServerTrust};
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{
    encode_list, inner, inner_name, parse_listing, End, Get, Meta, Mkdir, Offer, Outcome,
    ResultCode,
};
use sft::proto::record::{Header, Opener, Sealer, HEADER_LEN};

use super::inproc::{Running, GUARD, T0};

/// A client that seals whatever records it is told to.
pub struct Hostile {
    sock: TcpStream,
    sealer: Sealer,
    opener: Opener,
    identity: Arc<SigningKey>,
    /// The server's key and TH_final, once established: what an upload's
    /// statement names.
    server: Option<VerifyingKey>,
    transcript_hash: [u8; 32],
}

/// What the server answered to one request.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Result(ResultCode),
    /// A download: its bytes.
    File(Vec<u8>),
    /// A listing: its names.
    Names(Vec<String>),
}

impl Hostile {
    pub fn connect(server: &Running) -> Hostile {
        Hostile::connect_as(server, server.client_key.clone())
    }

    /// A session with client key `identity` (which the server must accept).
    pub fn connect_as(server: &Running, identity: Arc<SigningKey>) -> Hostile {
        let sock = TcpStream::connect(server.addr).unwrap();
        sock.set_read_timeout(Some(GUARD)).unwrap();
        let mut h = Hostile {
            sock,
            sealer: Sealer::new(),
            opener: Opener::new(),
            identity: identity.clone(),
            server: None,
            transcript_hash: [0; 32],
        };
        let config = ClientConfig {
            identity,
            trust: ServerTrust::Pinned(server.host_fp),
        };
        let mut out = Vec::new();
        let eph = Ephemeral::generate().unwrap();
        let hs = AwaitChallenge::start(config, eph, &mut h.sealer, &mut out).unwrap();
        h.sock.write_all(&out).unwrap();
        let (header, mut record) = h.record();
        h.opener.accept_plaintext(&header).unwrap();
        out.clear();
        let next = hs.on_challenge(&record, &mut h.sealer, &mut h.opener, &mut out);
        let Ok(AfterChallenge::Sent(est)) = next else {
            panic!("the pinned server key was not accepted")
        };
        h.sock.write_all(&out).unwrap();
        (_, record) = h.record();
        let (t, body) = h
            .opener
            .open(&header_of(&record), &mut record[HEADER_LEN..])
            .unwrap()
            .unwrap();
        assert_eq!(t, inner::SESSION_ESTABLISHED);
        let body = body.to_vec();
        let (key, _, th) = est
            .on_established(&body, &mut h.sealer, &mut h.opener)
            .unwrap();
        h.server = Some(key);
        h.transcript_hash = th;
        h
    }

    /// This session's statement of an upload of `path` (`size` bytes,
    /// `sha256`), time [`T0`], unsigned.
    pub fn statement(&self, path: &[u8], size: u64, sha256: [u8; 32]) -> Statement {
        Statement {
            direction: Direction::Upload,
            client: self.identity.verifying_key(),
            server: self.server.expect("established"),
            transcript_hash: self.transcript_hash,
            path: String::from_utf8_lossy(path).into_owned(),
            size,
            sha256,
            time: T0,
        }
    }

    /// Sends END with `statement`'s hash and time, signed by this
    /// client's key.
    pub fn send_end(&mut self, statement: Statement) {
        let signed = statement.sign(&self.identity).unwrap();
        let end = End::Signed {
            sha256: signed.statement.sha256,
            time: signed.statement.time,
            signature: signed.signature,
        };
        self.send(inner::END, &end.encode());
    }

    /// Reads one whole record: its header, and header and payload bytes.
    fn record(&mut self) -> (Header, Vec<u8>) {
        let mut record = vec![0u8; HEADER_LEN];
        self.sock.read_exact(&mut record).unwrap();
        let header = header_of(&record);
        record.resize(HEADER_LEN + header.len, 0);
        self.sock.read_exact(&mut record[HEADER_LEN..]).unwrap();
        (header, record)
    }

    /// The next application message: inner type and body.
    pub fn recv(&mut self) -> (u8, Vec<u8>) {
        loop {
            let (header, mut record) = self.record();
            if let Some((t, body)) = self
                .opener
                .open(&header, &mut record[HEADER_LEN..])
                .unwrap()
            {
                return (t, body.to_vec());
            }
        }
    }

    /// Ends its side and reads until the server closes the connection:
    /// the server has then dropped this session and what it held.
    #[allow(dead_code)] // only some test binaries wait for the close
    pub fn closed(mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = self.sock.read_to_end(&mut rest);
    }

    /// The socket, to hang up in ways of the test's choosing.
    #[allow(dead_code)] // only some test binaries hang up by hand
    pub fn into_socket(self) -> TcpStream {
        self.sock
    }

    pub fn send(&mut self, t: u8, body: &[u8]) {
        let mut out = Vec::new();
        self.sealer.seal(&mut out, t, &[body]).unwrap();
        self.sock.write_all(&out).unwrap();
    }

    /// The answer to an upload or MKDIR: a RESULT's code, or Ok for a
    /// RECEIPT (an upload stored).
    pub fn result(&mut self) -> ResultCode {
        let (t, body) = self.recv();
        if t == inner::RECEIPT {
            return ResultCode::Ok;
        }
        assert_eq!(t, inner::RESULT, "got {}", inner_name(t));
        Outcome::parse(&body).unwrap().code
    }

    /// Uploads `data` as `path`: OFFER, CHUNK and END at once.
    pub fn upload(&mut self, path: &[u8], data: &[u8], overwrite: bool) -> Answer {
        let offer = Offer {
            path: path.to_vec(),
            size: data.len() as u64,
            overwrite,
            preserve: false,
            meta: Meta::default(),
            resume: false,
        };
        self.send(inner::OFFER, &offer.encode());
        self.send(inner::CHUNK, &[&0u64.to_be_bytes()[..], data].concat());
        let statement = self.statement(path, data.len() as u64, sha256(data).unwrap());
        self.send_end(statement);
        Answer::Result(self.result())
    }

    pub fn mkdir(&mut self, path: &[u8]) -> Answer {
        let mkdir = Mkdir {
            path: path.to_vec(),
            preserve: true,
            meta: Meta {
                mode: 0o777,
                mtime: 0,
            },
        };
        self.send(inner::MKDIR, &mkdir.encode());
        Answer::Result(self.result())
    }

    pub fn get(&mut self, path: &[u8]) -> Answer {
        let get = Get {
            path: path.to_vec(),
            max_size: u64::MAX,
            held: sft::proto::msgs::Prefix::NONE,
        };
        self.send(inner::GET, &get.encode());
        let (t, body) = self.recv();
        if t == inner::RESULT {
            return Answer::Result(Outcome::parse(&body).unwrap().code);
        }
        assert_eq!(t, inner::OFFER, "got {}", inner_name(t));
        assert_eq!(Offer::parse(&body).unwrap().path, path);
        let mut data = Vec::new();
        loop {
            match self.recv() {
                (inner::CHUNK, b) => data.extend_from_slice(&b[8..]),
                (inner::END, _) => return Answer::File(data),
                (t, _) => panic!("got {} in a download", inner_name(t)),
            }
        }
    }

    pub fn list(&mut self, path: &[u8]) -> Answer {
        self.send(inner::LIST, &encode_list(path));
        let mut entries = Vec::new();
        loop {
            let (t, body) = self.recv();
            if t == inner::RESULT {
                return Answer::Result(Outcome::parse(&body).unwrap().code);
            }
            assert_eq!(t, inner::LISTING, "got {}", inner_name(t));
            if !parse_listing(&body, &mut entries, usize::MAX).unwrap() {
                return Answer::Names(entries.into_iter().map(|e| e.name).collect());
            }
        }
    }
}

fn header_of(record: &[u8]) -> Header {
    Header::parse(record[..HEADER_LEN].try_into().unwrap()).unwrap()
}
