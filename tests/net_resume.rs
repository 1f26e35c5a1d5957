//! Issue 10, the server's side of resume against the in-process server
//! (tests/inproc/) with raw protocol clients: an upload cut mid-way is
//! resumed from its partial (and only by the key that sent it), a
//! partial that differs from the client's file starts again at 0, a RESUME
//! that lies about the hash ends only its own session, a download resumes
//! after a prefix the client holds only when it matches, an abandoned
//! upload leaves nothing, and expired partials are swept.
//!
//! Nothing sleeps: every wait is on bytes the server sends. The server
//! closes an upload's file before it closes the socket, so a client that
//! read the end of a cut session finds the partial unlocked and complete.

#[allow(dead_code)] // the liar needs only its handshake, send and recv
mod hostile;
mod inproc;

use std::fs;
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hostile::Hostile;
use inproc::*;
use sft::crypto::ed25519::SigningKey;
use sft::crypto::hash::{sha256, Sha256};
use sft::fs::partial_name;
use sft::net::client::ServerTrust;
use sft::net::server::{ClientPolicy, Timeouts, DEFAULT_PARTIAL_TTL};
use sft::proto::conn::{ClientConnection, ClientEvent};
use sft::proto::handshake::client::ClientConfig;
use sft::proto::handshake::Ephemeral;
use sft::proto::msgs::{encode_resume, inner, Meta, Offer, Prefix, ResultCode};
use sft::proto::CHUNK_LEN;

/// What a raw client saw, owned (the resume events included).
#[derive(Debug, PartialEq)]
enum Ev {
    /// RESUME from the server: the offset it offers.
    Resume(u64),
    /// A download's OFFER: its size and where its data starts.
    Offered { size: u64, from: u64 },
    Data(Vec<u8>),
    Complete,
    Result(ResultCode),
}

/// A file's content: `len` bytes that differ from offset to offset.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// The SHA-256 of `data` and a state that absorbed exactly it.
fn prefix_hash(data: &[u8]) -> ([u8; 32], Sha256) {
    let mut h = Sha256::new().unwrap();
    h.update(data).unwrap();
    (h.digest_so_far().unwrap(), h)
}

/// A raw client with key `identity`, established.
fn connect_as(server: &Running, identity: Arc<SigningKey>) -> Raw {
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
        raw.conn.read_tls(&mut raw.sock, Instant::now()).unwrap();
        while raw.conn.next_event().unwrap().is_some() {}
    }
    raw
}

/// One blocking read, then every event it brought.
fn read(raw: &mut Raw) -> Vec<Ev> {
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
fn read_until(raw: &mut Raw, done: impl Fn(&Ev) -> bool) -> Vec<Ev> {
    let mut got = Vec::new();
    while !got.iter().any(&done) {
        got.extend(read(raw));
    }
    got
}

/// Offers `size` bytes as `path` for resume; returns the server's offset.
fn offer_resumable(raw: &mut Raw, path: &str, size: u64) -> u64 {
    raw.conn
        .request_upload(path, size, false, None, true)
        .unwrap();
    raw.flush();
    match read(raw).as_slice() {
        [Ev::Resume(offset)] => *offset,
        other => panic!("{other:?}"),
    }
}

/// Sends `data` as the upload's bytes from `from` on.
fn send_from(raw: &mut Raw, data: &[u8], from: usize) {
    for chunk in data[from..].chunks(CHUNK_LEN) {
        raw.conn.send_data(chunk).unwrap();
        raw.flush();
    }
}

/// Uploads the first `k` bytes of `data` as `path` (offered for resume,
/// from 0), then cuts the connection and reads until the server closed
/// it: its partial is then unlocked and holds what reached the disk.
fn cut_upload(mut raw: Raw, path: &str, data: &[u8], k: usize) {
    assert_eq!(offer_resumable(&mut raw, path, data.len() as u64), 0);
    assert_eq!(raw.conn.resume_upload(None).unwrap(), (0, None));
    send_from(&mut raw, &data[..k], 0);
    raw.sock.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = raw.sock.read_to_end(&mut rest);
}

/// The partial file of `path` from the client with `key`.
fn partial(server: &Running, key: &SigningKey, path: &str) -> PathBuf {
    let name = partial_name(key.verifying_key().as_bytes(), path).unwrap();
    server.root.path().join(name)
}

/// Resumes the upload of `data` as `path` from the server's offset when
/// the client's own prefix agrees (its real hash), stores it, and returns
/// where the data started.
fn resume_upload(raw: &mut Raw, path: &str, data: &[u8]) -> u64 {
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
fn two_keys(other: &SigningKey) -> Running {
    let other = other.verifying_key();
    Running::start(|o| {
        if let ClientPolicy::Authorized(keys) = &mut o.clients {
            keys.insert(other);
        }
    })
}

#[test]
fn a_cut_upload_resumes_at_what_its_partial_holds_and_is_stored_whole() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 4 + 123, 1);
    let k = CHUNK_LEN + 300;
    cut_upload(Raw::connect(&server), "big.bin", &data, k);
    let part = partial(&server, &server.client_key, "big.bin");
    let held = fs::read(&part).unwrap();
    assert!(!held.is_empty() && held.len() <= k, "{} bytes", held.len());
    assert_eq!(held, data[..held.len()], "the partial holds the data sent");
    assert!(!server.root.path().join("big.bin").exists());

    let mut raw = Raw::connect(&server);
    let from = resume_upload(&mut raw, "big.bin", &data);
    assert_eq!(from, held.len() as u64, "RESUME at the partial's length");
    assert_eq!(fs::read(server.root.path().join("big.bin")).unwrap(), data);
    assert!(!part.exists(), "the partial became the file");
    raw.close().unwrap();
}

#[test]
fn another_key_offering_the_same_path_starts_at_0_and_leaves_the_partial_alone() {
    let other = Arc::new(SigningKey::generate().unwrap());
    let server = two_keys(&other);
    let data = content(CHUNK_LEN * 2 + 5, 2);
    cut_upload(Raw::connect(&server), "shared.bin", &data, CHUNK_LEN);
    let first = partial(&server, &server.client_key, "shared.bin");
    let before = fs::read(&first).unwrap();
    assert!(!before.is_empty());

    let mut raw = connect_as(&server, other.clone());
    assert_eq!(resume_upload(&mut raw, "shared.bin", &data), 0);
    assert_eq!(
        fs::read(server.root.path().join("shared.bin")).unwrap(),
        data
    );
    assert_eq!(fs::read(&first).unwrap(), before, "untouched");
    assert!(!partial(&server, &other, "shared.bin").exists());
    raw.close().unwrap();
}

#[test]
fn a_partial_changed_on_disk_makes_the_client_start_again_and_the_file_ends_correct() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 3, 3);
    cut_upload(Raw::connect(&server), "flip.bin", &data, 2 * CHUNK_LEN);
    let part = partial(&server, &server.client_key, "flip.bin");
    let mut held = fs::read(&part).unwrap();
    assert!(held.len() > 100);
    held[100] ^= 0x40;
    fs::write(&part, &held).unwrap();

    let mut raw = Raw::connect(&server);
    assert_eq!(resume_upload(&mut raw, "flip.bin", &data), 0, "restarted");
    assert_eq!(fs::read(server.root.path().join("flip.bin")).unwrap(), data);
    assert!(!part.exists());
    raw.close().unwrap();
}

#[test]
fn a_resume_at_the_servers_offset_with_a_wrong_hash_ends_only_that_session() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 2, 4);
    cut_upload(Raw::connect(&server), "lie.bin", &data, CHUNK_LEN);
    let part = partial(&server, &server.client_key, "lie.bin");
    let held = fs::read(&part).unwrap();
    let mut other = Raw::connect(&server);

    let mut liar = Hostile::connect(&server);
    let offer = Offer {
        path: b"lie.bin".to_vec(),
        size: data.len() as u64,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: true,
    };
    liar.send(inner::OFFER, &offer.encode());
    let (t, body) = liar.recv();
    assert_eq!(t, inner::RESUME);
    let offered = sft::proto::msgs::parse_resume(&body).unwrap();
    assert_eq!(offered.offset, held.len() as u64);
    assert_eq!(offered.sha256, sha256(&held).unwrap());
    let mut wrong = offered.sha256;
    wrong[0] ^= 1;
    liar.send(
        inner::RESUME,
        &encode_resume(&Prefix {
            offset: offered.offset,
            sha256: wrong,
        }),
    );
    let (t, _) = liar.recv();
    assert_eq!(t, inner::ALERT, "the liar's session ends");

    // The other session goes on; the partial is as it was.
    other.upload("small.bin", b"still here", None);
    assert_eq!(
        read_until(&mut other, |e| matches!(e, Ev::Result(_))),
        [Ev::Result(ResultCode::Ok)]
    );
    assert_eq!(fs::read(&part).unwrap(), held);
    other.close().unwrap();
}

/// Asks for `path` holding `held` (its count and hash); returns where the
/// data started and the bytes that came.
fn get_held(raw: &mut Raw, path: &str, held: Option<(Prefix, Sha256)>) -> (u64, Vec<u8>) {
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
fn held(data: &[u8], offset: usize) -> Option<(Prefix, Sha256)> {
    let (sha256, hash) = prefix_hash(&data[..offset]);
    let prefix = Prefix {
        offset: offset as u64,
        sha256,
    };
    Some((prefix, hash))
}

#[test]
fn a_download_resumes_after_a_matching_prefix_and_starts_again_after_any_other() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 2 + 77, 5);
    fs::write(server.root.path().join("dl.bin"), &data).unwrap();
    let mut raw = Raw::connect(&server);
    let at = CHUNK_LEN + 10;

    let (from, got) = get_held(&mut raw, "dl.bin", held(&data, at));
    assert_eq!((from, got.as_slice()), (at as u64, &data[at..]), "resumed");

    let mut other = data.clone();
    other[5] ^= 1;
    let (from, got) = get_held(&mut raw, "dl.bin", held(&other, at));
    assert_eq!((from, got), (0, data.clone()), "a wrong prefix: from 0");

    // The whole file held: nothing to send. One byte more: from 0.
    let (from, got) = get_held(&mut raw, "dl.bin", held(&data, data.len()));
    assert_eq!((from, got), (data.len() as u64, vec![]));
    let mut longer = data.clone();
    longer.push(0);
    let (from, got) = get_held(&mut raw, "dl.bin", held(&longer, longer.len()));
    assert_eq!((from, got), (0, data.clone()), "held past the size: from 0");
    raw.close().unwrap();
}

#[test]
fn an_abandoned_upload_leaves_nothing_stored_and_no_partial() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 2, 6);
    let mut raw = Raw::connect(&server);
    assert_eq!(offer_resumable(&mut raw, "gone.bin", data.len() as u64), 0);
    raw.conn.resume_upload(None).unwrap();
    send_from(&mut raw, &data[..CHUNK_LEN], 0);
    raw.conn.abandon_send().unwrap();
    raw.flush();
    assert_eq!(
        read_until(&mut raw, |e| matches!(e, Ev::Result(_))),
        [Ev::Result(ResultCode::HashMismatch)]
    );
    // The session goes on.
    raw.upload("next.bin", b"x", None);
    assert_eq!(read(&mut raw), [Ev::Result(ResultCode::Ok)]);
    assert!(!partial(&server, &server.client_key, "gone.bin").exists());
    let mut names = server.root_names();
    names.sort();
    assert_eq!(names, ["next.bin"]);
    raw.close().unwrap();
}

#[test]
fn the_start_sweep_removes_partials_past_their_ttl_and_keeps_younger_ones() {
    let data = content(1000, 7);
    let now = SystemTime::now();
    let ages = [
        ("expired.bin", DEFAULT_PARTIAL_TTL + Duration::from_secs(600)),
        ("young.bin", DEFAULT_PARTIAL_TTL - Duration::from_secs(600)),
        ("fresh.bin", Duration::ZERO),
    ];
    let server = Running::start(|o| {
        let ClientPolicy::Authorized(keys) = &o.clients else {
            unreachable!()
        };
        let owner = *keys.iter().next().unwrap().as_bytes();
        for (path, age) in ages {
            let (mut staged, _) = o
                .root
                .begin_resumable(path, data.len() as u64, false, None, &owner)
                .unwrap();
            staged.write_all(&data[..400]).unwrap();
            drop(staged);
            let name = partial_name(&owner, path).unwrap();
            let file = fs::File::options()
                .write(true)
                .open(o.root.path().join(name))
                .unwrap();
            file.set_modified(now - age).unwrap();
        }
    });
    // The hasher sweeps at start before any other job: once the fresh
    // partial's prefix is hashed, the sweep is done.
    let mut raw = Raw::connect(&server);
    assert_eq!(resume_upload(&mut raw, "fresh.bin", &data), 400);
    let key = &server.client_key;
    assert!(!partial(&server, key, "expired.bin").exists(), "swept");
    assert!(partial(&server, key, "young.bin").exists(), "kept");
    raw.close().unwrap();
}
