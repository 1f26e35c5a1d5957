//! A raw protocol client for tests/net_resume.rs: the resume events
//! owned, and the steps of an upload or download that resumes, against the
//! in-process server (tests/inproc/). Every wait is on bytes the server
//! sends.

use std::io::Read;
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Instant;

use sft::crypto::ed25519::SigningKey;
use sft::crypto::hash::Sha256;
use sft::fs::partial_name;
use sft::proto::conn::ClientEvent;
use sft::proto::msgs::{Prefix, ResultCode};
use sft::proto::CHUNK_LEN;

use super::inproc::{Raw, Running, T0};

/// What a raw client saw, owned (the resume events included).
#[derive(Debug, PartialEq)]
pub enum Ev {
    /// RESUME from the server: the offset it offers.
    Resume(u64),
    /// A download's OFFER: its size and where its data starts.
    Offered {
        size: u64,
        from: u64,
    },
    Data(Vec<u8>),
    Complete,
    Result(ResultCode),
}

/// A file's content: `len` bytes that differ from offset to offset.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// The SHA-256 of `data` and a state that absorbed exactly it.
pub fn prefix_hash(data: &[u8]) -> ([u8; 32], Sha256) {
    let mut h = Sha256::new().unwrap();
    h.update(data).unwrap();
    (h.digest_so_far().unwrap(), h)
}

/// One blocking read, then every event it brought.
pub fn read(raw: &mut Raw) -> Vec<Ev> {
    let mut buf = vec![0u8; 1 << 16];
    let n = raw.sock.read(&mut buf).expect("hang guard");
    assert!(n > 0, "the server closed the connection");
    let mut bytes = &buf[..n];
    let mut got = Vec::new();
    loop {
        raw.conn.read_tls(&mut bytes, Instant::now()).unwrap();
        while let Some(ev) = raw.conn.next_event().unwrap() {
            got.push(match ev {
                ClientEvent::ResumeOffered { offset } => Ev::Resume(offset),
                ClientEvent::DownloadOffered { size, from, .. } => Ev::Offered { size, from },
                ClientEvent::Data(d) => Ev::Data(d.to_vec()),
                ClientEvent::ReceiveComplete { .. } => Ev::Complete,
                // Verified by the connection: stored.
                ClientEvent::Stored(_) => Ev::Result(ResultCode::Ok),
                ClientEvent::Outcome(o) => Ev::Result(o.code),
                other => panic!("unexpected {other:?}"),
            });
        }
        if bytes.is_empty() {
            return got;
        }
    }
}

/// Reads until an event `done` accepts; every event, in order.
pub fn read_until(raw: &mut Raw, done: impl Fn(&Ev) -> bool) -> Vec<Ev> {
    let mut got = Vec::new();
    while !got.iter().any(&done) {
        got.extend(read(raw));
    }
    got
}

/// Offers `size` bytes as `path` for resume; returns the server's offset.
pub fn offer_resumable(raw: &mut Raw, path: &str, size: u64) -> u64 {
    raw.conn
        .request_upload(path, size, false, None, true, T0)
        .unwrap();
    raw.flush();
    match read(raw).as_slice() {
        [Ev::Resume(offset)] => *offset,
        other => panic!("{other:?}"),
    }
}

/// Sends `data` as the upload's bytes from `from` on.
pub fn send_from(raw: &mut Raw, data: &[u8], from: usize) {
    for chunk in data[from..].chunks(CHUNK_LEN) {
        raw.conn.send_data(chunk).unwrap();
        raw.flush();
    }
}

/// Uploads the first `k` bytes of `data` as `path` (offered for resume,
/// from 0), then cuts the connection and reads until the server closed
/// it: its partial is then unlocked and holds what reached the disk.
pub fn cut_upload(mut raw: Raw, path: &str, data: &[u8], k: usize) {
    assert_eq!(offer_resumable(&mut raw, path, data.len() as u64), 0);
    assert_eq!(raw.conn.resume_upload(None).unwrap(), (0, None));
    send_from(&mut raw, &data[..k], 0);
    raw.sock.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = raw.sock.read_to_end(&mut rest);
}

/// The partial file of `path` from the client with `key`.
pub fn partial(server: &Running, key: &SigningKey, path: &str) -> PathBuf {
    let name = partial_name(key.verifying_key().as_bytes(), path).unwrap();
    server.root.path().join(name)
}

/// Resumes the upload of `data` as `path` from the server's offset when
/// the client's own prefix agrees (its real hash), stores it, and returns
/// where the data started.
pub fn resume_upload(raw: &mut Raw, path: &str, data: &[u8]) -> u64 {
    let offset = offer_resumable(raw, path, data.len() as u64);
    let own = prefix_hash(&data[..offset as usize]);
    let (from, end) = raw.conn.resume_upload(Some(own)).unwrap();
    assert_eq!(end, None);
    send_from(raw, data, from as usize);
    assert_eq!(
        read_until(raw, |e| matches!(e, Ev::Result(_))),
        [Ev::Result(ResultCode::Ok)]
    );
    from
}

/// A server accepting the harness's client key and `other`'s.
pub fn two_keys(other: &SigningKey) -> Running {
    let other = other.verifying_key();
    Running::start(|o| {
        super::inproc::also_accept(o, other);
    })
}

/// Asks for `path` holding `held` (its count and hash); returns where the
/// data started and the bytes that came.
pub fn get_held(raw: &mut Raw, path: &str, held: Option<(Prefix, Sha256)>) -> (u64, Vec<u8>) {
    raw.conn.request_download(path, u64::MAX, held).unwrap();
    raw.flush();
    let got = read_until(raw, |e| matches!(e, Ev::Complete | Ev::Result(_)));
    let Some(Ev::Offered { from, .. }) = got.first() else {
        panic!("{got:?}")
    };
    assert_eq!(got.last(), Some(&Ev::Complete), "{got:?}");
    let data = got[1..got.len() - 1]
        .iter()
        .flat_map(|e| match e {
            Ev::Data(d) => d.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    (*from, data)
}

/// `data`'s first `offset` bytes as a GET's held prefix.
pub fn held(data: &[u8], offset: usize) -> Option<(Prefix, Sha256)> {
    let (sha256, hash) = prefix_hash(&data[..offset]);
    let prefix = Prefix {
        offset: offset as u64,
        sha256,
    };
    Some((prefix, hash))
}
