//! Issue 10 attacks (helper H): a hostile client sends resume offsets and
//! RESUME messages the protocol forbids or that sit at its limits, with
//! raw records (tests/hostile/), against the in-process server. Each
//! forbidden one must end only the attacker's session (ALERT), each
//! allowed one must be served exactly as §4.7 says, and no partial may be
//! damaged by a session that dies on the wire.
//!
//! Nothing sleeps: every wait is on bytes the server sends.

#[allow(dead_code)]
mod hostile;
mod inproc;
#[allow(dead_code)]
mod resumer;

use std::fs;

use hostile::Hostile;
use inproc::*;
use resumer::*;
use sft::crypto::hash::sha256;
use sft::proto::msgs::{
    encode_resume, inner, inner_name, parse_resume, Get, Meta, Offer, Prefix, ResultCode,
    EMPTY_SHA256, MAX_OFFSET,
};
use sft::proto::CHUNK_LEN;

/// What a GET with a held prefix got.
#[derive(Debug, PartialEq)]
enum Got {
    /// The session ended with an ALERT (the body was refused).
    Alert,
    /// The file came: resumed or not, and the bytes after the offset.
    File {
        resumed: bool,
        from: u64,
        data: Vec<u8>,
    },
}

/// GET `path` with `max_size` and a held prefix, encoded as is (the
/// encoder checks nothing), and reads the answer.
fn get_raw(h: &mut Hostile, path: &[u8], max_size: u64, offset: u64, sha: [u8; 32]) -> Got {
    let get = Get {
        path: path.to_vec(),
        max_size,
        held: Prefix {
            offset,
            sha256: sha,
        },
    };
    h.send(inner::GET, &get.encode());
    let (t, body) = h.recv();
    if t == inner::ALERT {
        return Got::Alert;
    }
    assert_eq!(t, inner::OFFER, "got {}", inner_name(t));
    let offer = Offer::parse(&body).unwrap();
    let mut data = Vec::new();
    let mut from = None;
    loop {
        match h.recv() {
            (inner::CHUNK, b) => {
                from.get_or_insert(u64::from_be_bytes(b[..8].try_into().unwrap()));
                data.extend_from_slice(&b[8..]);
            }
            (inner::END, _) => break,
            (t, _) => panic!("got {} in a download", inner_name(t)),
        }
    }
    let from = from.unwrap_or(offer.size);
    Got::File {
        resumed: offer.resume,
        from,
        data,
    }
}

fn with_file(len: usize) -> (Running, Vec<u8>) {
    let server = Running::start(|_| {});
    let data = content(len, 11);
    fs::write(server.root.path().join("f.bin"), &data).unwrap();
    (server, data)
}

#[test]
fn get_offsets_past_the_wire_limits_end_only_that_session() {
    let (server, data) = with_file(CHUNK_LEN + 5);
    let size = data.len() as u64;
    let bad = [
        (u64::MAX, 0, [1u8; 32]),                 // offset 0 with a non-empty hash
        (u64::MAX, MAX_OFFSET + 1, [1; 32]),      // 2^63
        (u64::MAX, u64::MAX, [1; 32]),            // u64::MAX
        (size, size + 1, sha256(&data).unwrap()), // past max_size, by one
    ];
    for (max_size, offset, sha) in bad {
        let mut h = Hostile::connect(&server);
        let got = get_raw(&mut h, b"f.bin", max_size, offset, sha);
        assert_eq!(got, Got::Alert, "max_size {max_size} offset {offset}");
    }
    // Another session is served after them all.
    let mut raw = Raw::connect(&server);
    let (from, got) = get_held(&mut raw, "f.bin", held(&data, 7));
    assert_eq!((from, got.as_slice()), (7, &data[7..]));
    raw.close().unwrap();
}

#[test]
fn get_offsets_at_the_wire_limits_are_served_from_0_or_resumed_exactly() {
    let (server, data) = with_file(CHUNK_LEN + 5);
    let size = data.len() as u64;
    let whole = sha256(&data).unwrap();
    let mut h = Hostile::connect(&server);
    // Offset 0 with SHA-256(""): the whole file.
    let got = get_raw(&mut h, b"f.bin", u64::MAX, 0, EMPTY_SHA256);
    let from0 = Got::File {
        resumed: false,
        from: 0,
        data: data.clone(),
    };
    assert_eq!(got, from0);
    // Offset = max_size = size with the right hash: OFFER resumed, END.
    let got = get_raw(&mut h, b"f.bin", size, size, whole);
    let at_end = Got::File {
        resumed: true,
        from: size,
        data: vec![],
    };
    assert_eq!(got, at_end);
    // Offset = size with a wrong hash, size + 1, 2^63 - 1: from 0.
    let mut wrong = whole;
    wrong[0] ^= 1;
    for (offset, sha) in [(size, wrong), (size + 1, whole), (MAX_OFFSET, whole)] {
        let got = get_raw(&mut h, b"f.bin", u64::MAX, offset, sha);
        assert_eq!(got, from0, "offset {offset}");
    }
    // Offset 1 with the first byte's hash: resumed after it.
    let got = get_raw(&mut h, b"f.bin", u64::MAX, 1, sha256(&data[..1]).unwrap());
    let after1 = Got::File {
        resumed: true,
        from: 1,
        data: data[1..].to_vec(),
    };
    assert_eq!(got, after1);
}

/// Cuts an upload of `data` as `path` after `k` bytes; returns the bytes
/// its partial holds.
fn held_partial(server: &Running, path: &str, data: &[u8], k: usize) -> Vec<u8> {
    cut_upload(Raw::connect(server), path, data, k);
    let held = fs::read(partial(server, &server.client_key, path)).unwrap();
    assert!(!held.is_empty());
    held
}

/// OFFER `path` for resume; returns the server's RESUME.
fn offer_resume(h: &mut Hostile, path: &str, size: u64) -> Prefix {
    let offer = Offer {
        path: path.as_bytes().to_vec(),
        size,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: true,
    };
    h.send(inner::OFFER, &offer.encode());
    let (t, body) = h.recv();
    assert_eq!(t, inner::RESUME, "got {}", inner_name(t));
    parse_resume(&body).unwrap()
}

#[test]
fn a_client_resume_other_than_the_servers_or_zero_is_fatal_and_the_partial_survives() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 3, 12);
    let held = held_partial(&server, "p.bin", &data, 2 * CHUNK_LEN);
    let n = held.len() as u64;
    let part = partial(&server, &server.client_key, "p.bin");
    let size = data.len() as u64;
    let h_n = sha256(&held).unwrap();
    let lies = [
        (n - 1, sha256(&held[..held.len() - 1]).unwrap()), // a true shorter prefix
        (n + 1, sha256(&data[..held.len() + 1]).unwrap()), // a true longer prefix
        (size, sha256(&data).unwrap()),                    // the whole file
        (MAX_OFFSET, h_n),
        (MAX_OFFSET + 1, h_n), // malformed
        (u64::MAX, h_n),       // malformed
        (0, h_n),              // malformed: 0 with a hash
    ];
    for (offset, sha) in lies {
        let mut h = Hostile::connect(&server);
        let offered = offer_resume(&mut h, "p.bin", size);
        assert_eq!(
            offered,
            Prefix {
                offset: n,
                sha256: h_n
            }
        );
        let body = [&offset.to_be_bytes()[..], &sha].concat();
        h.send(inner::RESUME, &body);
        assert_eq!(h.recv().0, inner::ALERT, "RESUME {offset}");
        // The attacker's death leaves the partial whole; its lock is gone
        // once the server closed (read to the end).
        h.closed();
        assert_eq!(fs::read(&part).unwrap(), held, "after RESUME {offset}");
    }
    // The owner still resumes and stores the file.
    let mut raw = Raw::connect(&server);
    assert_eq!(resume_upload(&mut raw, "p.bin", &data), n);
    assert_eq!(fs::read(server.root.path().join("p.bin")).unwrap(), data);
    raw.close().unwrap();
}

#[test]
fn resume_out_of_place_is_fatal_in_every_state() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 2, 13);
    let none = encode_resume(&Prefix::NONE);
    // Idle: before any request.
    let mut h = Hostile::connect(&server);
    h.send(inner::RESUME, &none);
    assert_eq!(h.recv().0, inner::ALERT, "idle");
    // Pipelined before the server's RESUME: held until the server's goes
    // out, then taken as the answer (0: from the start), not fatal.
    let mut h = Hostile::connect(&server);
    let offer = Offer {
        path: b"early.bin".to_vec(),
        size: data.len() as u64,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: true,
    };
    h.send(inner::OFFER, &offer.encode());
    h.send(inner::RESUME, &none);
    h.send(
        inner::CHUNK,
        &[&0u64.to_be_bytes()[..], &data[..CHUNK_LEN]].concat(),
    );
    // A second RESUME while receiving.
    h.send(inner::RESUME, &none);
    assert_eq!(h.recv().0, inner::RESUME);
    assert_eq!(h.recv().0, inner::ALERT, "RESUME while receiving");
    // After a plain OFFER (no resume bit), in place of its data.
    let mut h = Hostile::connect(&server);
    let plain = Offer {
        resume: false,
        path: b"plain.bin".to_vec(),
        ..offer.clone()
    };
    h.send(inner::OFFER, &plain.encode());
    h.send(inner::RESUME, &none);
    assert_eq!(h.recv().0, inner::ALERT, "RESUME for a plain upload");
    // CHUNK in place of the client's RESUME.
    let mut h = Hostile::connect(&server);
    let _ = offer_resume(&mut h, "chunk-first.bin", data.len() as u64);
    h.send(
        inner::CHUNK,
        &[&0u64.to_be_bytes()[..], &data[..10]].concat(),
    );
    assert_eq!(h.recv().0, inner::ALERT, "CHUNK before RESUME");
    // A GET in place of the client's RESUME.
    let mut h = Hostile::connect(&server);
    let _ = offer_resume(&mut h, "get-first.bin", data.len() as u64);
    h.send(
        inner::GET,
        &Get {
            path: b"x".to_vec(),
            max_size: 1,
            held: Prefix::NONE,
        }
        .encode(),
    );
    assert_eq!(h.recv().0, inner::ALERT, "GET before RESUME");
    // The server still serves.
    let mut raw = Raw::connect(&server);
    raw.upload("ok.bin", b"ok", None);
    assert_eq!(read(&mut raw), [Ev::Result(ResultCode::Ok)]);
    raw.close().unwrap();
}

#[test]
fn a_resumable_offer_smaller_than_the_partial_starts_at_0_and_one_equal_ends_at_once() {
    let server = Running::start(|_| {});
    let data = content(CHUNK_LEN * 3, 14);
    let held = held_partial(&server, "s.bin", &data, 2 * CHUNK_LEN);
    let n = held.len();
    // Offered one byte shorter than held: RESUME 0, nothing leaks.
    let mut h = Hostile::connect(&server);
    let offered = offer_resume(&mut h, "s.bin", n as u64 - 1);
    assert_eq!(offered, Prefix::NONE);
    h.closed();
    // The partial was emptied and, empty, removed (the owner's own key
    // asked, so nothing of anyone else's is lost).
    assert!(!partial(&server, &server.client_key, "s.bin").exists());
    // Offered exactly the held size: RESUME n; the client answers n and
    // END at once; the file is the held bytes.
    let held = held_partial(&server, "e.bin", &data, 2 * CHUNK_LEN);
    let n = held.len() as u64;
    let mut h = Hostile::connect(&server);
    let offered = offer_resume(&mut h, "e.bin", n);
    assert_eq!(offered.offset, n);
    h.send(inner::RESUME, &encode_resume(&offered));
    let statement = h.statement(b"e.bin", n, sha256(&held).unwrap());
    h.send_end(statement);
    assert_eq!(h.result(), ResultCode::Ok);
    assert_eq!(fs::read(server.root.path().join("e.bin")).unwrap(), held);
}
