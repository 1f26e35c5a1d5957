//! Issue 10, the server's side of resume against the in-process server
//! (tests/inproc/) with raw protocol clients: an upload cut mid-way is
//! resumed from its partial (and only by the key that sent it), a
//! partial that differs from the client's file starts again at 0, a RESUME
//! that lies about the hash ends only its own session, a download resumes
//! after a prefix the client holds only when it matches, an abandoned
//! upload leaves nothing, and expired partials are swept.
//!
//! Nothing sleeps: every wait is on bytes the server sends (the client
//! is tests/resumer/). The server
//! closes an upload's file before it closes the socket, so a client that
//! read the end of a cut session finds the partial unlocked and complete.

#[allow(dead_code)] // the liar needs only its handshake, send and recv
mod hostile;
mod inproc;
mod resumer;

use std::fs;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hostile::Hostile;
use inproc::*;
use resumer::*;
use sft::authorized::table::AuthorizedTable;
use sft::authorized::AuthorizedKey;
use sft::crypto::ed25519::SigningKey;
use sft::crypto::hash::sha256;
use sft::fs::partial_name;
use sft::net::server::{Clients, DEFAULT_PARTIAL_TTL};
use sft::proto::msgs::{encode_resume, inner, Meta, Offer, Prefix, ResultCode};
use sft::proto::CHUNK_LEN;

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

    let mut raw = Raw::connect_as(&server, other.clone());
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
        (
            "expired.bin",
            DEFAULT_PARTIAL_TTL + Duration::from_secs(600),
        ),
        ("young.bin", DEFAULT_PARTIAL_TTL - Duration::from_secs(600)),
        ("fresh.bin", Duration::ZERO),
    ];
    let server = Running::start(|o| {
        let Clients::Authorized(table) = &o.clients else {
            unreachable!()
        };
        let owner = *table.keys()[0].as_bytes();
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

#[test]
fn a_partial_outlives_a_server_stopped_mid_upload_and_resumes_on_the_next() {
    let mut first = Running::start(|_| {});
    let data = content(CHUNK_LEN * 4, 8);
    cut_upload(Raw::connect(&first), "kept.bin", &data, CHUNK_LEN);
    // A second attempt resumes, sends more and is cut by the shutdown.
    let mut raw = Raw::connect(&first);
    let offset = offer_resumable(&mut raw, "kept.bin", data.len() as u64);
    assert!(offset > 0);
    let own = prefix_hash(&data[..offset as usize]);
    assert_eq!(raw.conn.resume_upload(Some(own)).unwrap(), (offset, None));
    send_from(&mut raw, &data[..2 * CHUNK_LEN], offset as usize);
    first.stop().unwrap();
    let part = partial(&first, &first.client_key, "kept.bin");
    let held = fs::read(&part).unwrap();
    assert!(held.len() as u64 >= offset, "kept at shutdown");
    assert_eq!(held, data[..held.len()]);

    let key = first.client_key.clone();
    let next = Running::start(|o| {
        o.root = sft::fs::ReceiveRoot::open_or_create(first.root.path()).unwrap();
        o.clients =
            Clients::Authorized(Arc::new(AuthorizedTable::new(vec![AuthorizedKey::plain(
                key.verifying_key(),
            )])));
    });
    let mut raw = Raw::connect_as(&next, key);
    assert_eq!(
        resume_upload(&mut raw, "kept.bin", &data),
        held.len() as u64
    );
    assert_eq!(fs::read(first.root.path().join("kept.bin")).unwrap(), data);
    raw.close().unwrap();
}

#[test]
fn a_corrupt_resumable_upload_leaves_no_partial_to_resume() {
    let server = Running::start(|_| {});
    let data = content(1000, 9);
    let mut h = Hostile::connect(&server);
    let offer = Offer {
        path: b"bad.bin".to_vec(),
        size: data.len() as u64,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: true,
    };
    h.send(inner::OFFER, &offer.encode());
    assert_eq!(h.recv().0, inner::RESUME);
    h.send(inner::RESUME, &encode_resume(&Prefix::NONE));
    h.send(inner::CHUNK, &[&0u64.to_be_bytes()[..], &data].concat());
    let mut wrong = sha256(&data).unwrap();
    wrong[31] ^= 1;
    let statement = h.statement(b"bad.bin", data.len() as u64, wrong);
    h.send_end(statement);
    let (t, body) = h.recv();
    assert_eq!(t, inner::RESULT);
    let code = sft::proto::msgs::Outcome::parse(&body).unwrap().code;
    assert_eq!(code, ResultCode::HashMismatch);
    assert!(!partial(&server, &server.client_key, "bad.bin").exists());
    assert!(server.root_names().is_empty(), "{:?}", server.root_names());
}
