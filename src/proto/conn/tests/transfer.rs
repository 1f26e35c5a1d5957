//! Uploads, downloads, MKDIRs, listings and close end to end; refusals
//! and wrong hashes, which the session survives.

use super::*;
use crate::proto::msgs::{self, EntryKind, ResultCode};

#[test]
fn handshake_then_upload_download_mkdir_list_and_close() {
    let mut w = established();
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
    assert_eq!(w.client.peer_key(), Some(w.server_key));

    let content = data(3 * CHUNK_LEN + 12345);
    assert_eq!(upload(&mut w, "big.bin", &content, CHUNK_LEN), content);
    assert_eq!(upload(&mut w, "empty", &[], CHUNK_LEN), Vec::<u8>::new());
    assert_eq!(download(&mut w, "big.bin", &content, CHUNK_LEN), content);
    assert_eq!(download(&mut w, "empty", &[], CHUNK_LEN), Vec::<u8>::new());

    // MKDIR, with and without meta, and an upload with meta and
    // overwrite into it: the server sees exactly what was sent.
    let meta = Meta {
        mode: 0o555,
        mtime: -1,
    };
    w.client.request_mkdir("d", None).unwrap();
    w.client.request_mkdir("d/e", Some(meta)).unwrap();
    w.client
        .request_upload("d/e/f", 1, true, Some(meta), false, T0)
        .unwrap();
    w.client.send_data(b"x").unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![
            Got::mkdir("d"),
            Got::Mkdir("d/e".into(), Some(meta), Tk(None)),
            Got::Upload("d/e/f".into(), 1, true, Some(meta), Tk(None)),
        ]
    );
    w.server.accept().unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"x".to_vec()), Got::complete(sha(b"x"))]
    );
    for _ in 0..2 {
        let t = w.ticket();
        w.server.answer(t, Outcome::ok()).unwrap();
    }
    let t = w.ticket();
    w.store(t).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok()); 3]);

    // Listing of a directory across several LISTING records.
    let entries: Vec<ListEntry> = (0..3000)
        .map(|i| ListEntry {
            kind: if i % 2 == 0 {
                EntryKind::File
            } else {
                EntryKind::Dir
            },
            name: format!("file-{i:05}-{}", "x".repeat(100)),
            size: i * (1 - i % 2),
            mtime: 1_700_000_000 + i as i64,
            mode: (i % 512) as u32,
        })
        .collect();
    w.client.request_list("d/e").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List("d/e".into())]);
    assert_eq!(send_listing(&mut w.server, &entries).unwrap(), 3000);
    let bytes = out(&mut w.server, w.now);
    assert!(records(&bytes).len() > 1);
    assert_eq!(
        feed(&mut w.client, &bytes, w.now).unwrap(),
        vec![Got::Listing(entries)]
    );
    // An empty listing of the root is one record.
    w.client.request_list("").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List(String::new())]);
    send_listing(&mut w.server, &[]).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Listing(vec![])]);

    // Orderly close both ways.
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
    assert!(w.client.is_closed() && w.server.is_closed());
    assert!(w.client.poll_timeout().is_none() && w.server.poll_timeout().is_none());
    // A cut after the close is not a truncation.
    assert_eq!(w.client.read_tls(&mut &[][..], w.now).unwrap(), 0);
    assert!(w.client.next_event().unwrap().is_none());
    assert_eq!(w.server.read_tls(&mut &[][..], w.now).unwrap(), 0);
    assert!(w.server.next_event().unwrap().is_none());
}

/// An empty download is OFFER then END on the wire (§4.3 rule 7), and
/// the client reports the offer and the empty file's hash.
#[test]
fn an_empty_download_is_offer_then_end() {
    let mut w = established();
    w.client.request_download("e", 0, None).unwrap();
    w.c2s().unwrap();
    w.server.offer_download(0, FILE_META, None, T0).unwrap();
    assert!(!w.server.wants_data() && !w.server.waits_for_app());
    let bytes = out(&mut w.server, w.now);
    let opened = open_own(&mut w.server, &bytes);
    let types: Vec<u8> = opened.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [inner::OFFER, inner::END]);
    assert_eq!(opened[1].1[..32], sha(&[]));
    assert_eq!(
        feed(&mut w.client, &bytes, w.now).unwrap(),
        vec![Got::Offered(0, FILE_META), Got::complete(sha(&[]))]
    );
    assert_eq!(w.client.in_flight(), 0);
}

#[test]
fn refusals_answer_the_request_and_the_session_goes_on() {
    let mut w = established();
    // Upload refused: its data is skipped, the client cuts it with END.
    w.client
        .request_upload("exists.txt", 5, false, None, false, T0)
        .unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("exists.txt", 5)]);
    let t = w.ticket();
    let exists = Outcome::new(ResultCode::Exists, "exists.txt exists");
    w.server.refuse_upload(t, exists.clone()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(exists)]);
    assert_eq!(w.c2s().unwrap(), vec![], "the cut file is skipped");
    // MKDIR refused.
    w.client.request_mkdir("no/such", None).unwrap();
    w.c2s().unwrap();
    let t = w.ticket();
    let missing = Outcome::new(ResultCode::NotFound, "no such directory");
    w.server.answer(t, missing.clone()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(missing)]);
    // Download refused.
    w.client.request_download("nope.txt", 1, None).unwrap();
    w.c2s().unwrap();
    let missing = Outcome::new(ResultCode::NotFound, "no such file");
    w.server.refuse(&missing).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(missing)]);
    // Listing refused, rate-limited with a typed wait.
    w.client.request_list("").unwrap();
    w.c2s().unwrap();
    let slow = Outcome::rate_limited(42, "slow down");
    w.server.refuse(&slow).unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Outcome(Outcome {
            code: ResultCode::RateLimited,
            retry_after_secs: 42,
            reason: "slow down".into()
        })]
    );
    // Still usable.
    assert_eq!(w.client.in_flight(), 0);
    assert_eq!(upload(&mut w, "after.txt", b"data", 2), b"data");
}

/// A wrong whole-file hash is not fatal: the server answers RESULT 6
/// for an upload, the client reports a corrupt download and sends
/// nothing, and the session goes on.
#[test]
fn wrong_hash_is_not_fatal() {
    // Upload: the server receives a wrong END (sent raw; the client's own
    // state still thinks it is sending: read the server's answer with the
    // server's key).
    let mut w = receiving_upload(3);
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &end_body([1; 32]));
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Corrupt]
    );
    let bytes = out(&mut w.server, w.now);
    let answer = open_own(&mut w.server, &bytes);
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].0, inner::RESULT);
    assert_eq!(
        Outcome::parse(&answer[0].1).unwrap(),
        Outcome::new(ResultCode::HashMismatch, "whole-file SHA-256 mismatch")
    );
    assert_eq!(w.server.answers_owed(), 0);
    let t = w.ticket();
    assert!(
        matches!(
            w.server.answer(t, Outcome::ok()),
            Err(ProtoError::InvalidCall(_))
        ),
        "the upload's answer was RESULT 6"
    );
    send_raw(&mut w.client, inner::LIST, &msgs::encode_list(b""));
    assert_eq!(w.c2s().unwrap(), vec![Got::List(String::new())]);

    // Download: the client reports it and sends nothing.
    let mut w = receiving_download(3);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &end_body([1; 32]));
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Corrupt]
    );
    assert!(!w.client.wants_write());
    assert!(w.client.in_flight() == 0 && w.client.can_request());
}

#[test]
fn listing_leaves_out_names_the_client_would_refuse() {
    let mut w = established();
    let entry = |name: &str| ListEntry {
        kind: EntryKind::File,
        name: name.into(),
        size: 1,
        mtime: 0,
        mode: 0o600,
    };
    let entries = [
        entry("ok.txt"),
        entry("\u{202E}txt.exe"),
        entry("bad\nname"),
        entry("dir/name"),
        entry(".."),
        entry("two.txt"),
    ];
    w.client.request_list("").unwrap();
    w.c2s().unwrap();
    assert_eq!(send_listing(&mut w.server, &entries).unwrap(), 2);
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Listing(vec![entry("ok.txt"), entry("two.txt")])]
    );
}
