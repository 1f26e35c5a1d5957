//! Uploads, downloads, listings and close, and every transfer rule a peer
//! can break.

use super::*;
use crate::proto::msgs::{Offer, ResultCode};
use crate::proto::TransferError;

#[test]
fn handshake_then_multi_chunk_upload_download_list_and_close() {
    let mut w = established();
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
    assert_eq!(w.client.peer_key(), Some(w.server_key));

    let content = data(3 * CHUNK_LEN + 12345);
    assert_eq!(upload(&mut w, "big.bin", &content, CHUNK_LEN), content);
    assert_eq!(upload(&mut w, "empty", &[], CHUNK_LEN), Vec::<u8>::new());
    assert_eq!(download(&mut w, "big.bin", &content, CHUNK_LEN), content);
    assert_eq!(download(&mut w, "empty", &[], CHUNK_LEN), Vec::<u8>::new());

    // Listing across several LISTING records.
    let entries: Vec<ListEntry> = (0..3000)
        .map(|i| ListEntry {
            name: format!("file-{i:05}-{}", "x".repeat(100)),
            size: i,
            mtime: 1_700_000_000 + i as i64,
        })
        .collect();
    w.client.request_list().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List]);
    assert_eq!(send_listing(&mut w.server, &entries).unwrap(), 3000);
    let bytes = out(&mut w.server, w.now);
    assert!(records(&bytes).len() > 1);
    assert_eq!(
        feed(&mut w.client, &bytes, w.now).unwrap(),
        vec![Got::Listing(entries)]
    );
    // An empty listing is one record.
    w.client.request_list().unwrap();
    w.c2s().unwrap();
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

#[test]
fn refusals_end_the_operation_and_the_session_goes_on() {
    let mut w = established();
    // Upload refused.
    w.client.request_upload("exists.txt", 5, false).unwrap();
    w.c2s().unwrap();
    let exists = Outcome::new(ResultCode::Exists, "exists.txt exists");
    w.server.refuse(&exists).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(exists)]);
    // Download refused by the server.
    w.client.request_download("nope.txt").unwrap();
    w.c2s().unwrap();
    let missing = Outcome::new(ResultCode::NotFound, "no such file");
    w.server.refuse(&missing).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(missing)]);
    // Download offer refused by the client.
    w.client.request_download("big.iso").unwrap();
    w.c2s().unwrap();
    w.server.offer_download(1 << 40).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(1 << 40)]);
    let too_large = Outcome::new(ResultCode::TooLarge, "too large");
    w.client.refuse(&too_large).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Outcome(too_large)]);
    assert!(!w.server.wants_data());
    // Listing refused, rate-limited with a typed wait.
    w.client.request_list().unwrap();
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
    assert_eq!(upload(&mut w, "after.txt", b"data", 2), b"data");
}

#[test]
fn transfer_violations_are_protocol_errors() {
    fn check(w: &mut World, t: u8, body: &[u8], want: ProtoError) {
        send_raw(&mut w.client, t, body);
        let err = w.c2s().unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{want:?}"));
        let bytes = out(&mut w.server, w.now);
        let seq = seq_of(&bytes);
        assert_eq!(
            sole_alert(&mut w.server, &bytes, seq),
            AlertCode::ProtocolError
        );
    }
    let chunk_err = ProtoError::Transfer;

    // Chunk at the wrong offset.
    let mut w = receiving_upload(100);
    check(
        &mut w,
        inner::CHUNK,
        &chunk(10, &[0; 10]),
        chunk_err(TransferError::ChunkOffset),
    );

    // Chunk past the announced size.
    let mut w = receiving_upload(100);
    check(
        &mut w,
        inner::CHUNK,
        &chunk(0, &[0; 101]),
        chunk_err(TransferError::PastSize),
    );
    let mut w = receiving_upload(100);
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, &[0; 60]));
    check(
        &mut w,
        inner::CHUNK,
        &chunk(60, &[0; 41]),
        chunk_err(TransferError::PastSize),
    );

    // An empty chunk.
    let mut w = receiving_upload(100);
    check(
        &mut w,
        inner::CHUNK,
        &chunk(0, &[]),
        chunk_err(TransferError::ChunkLength),
    );

    // A chunk too short to hold its offset.
    let mut w = receiving_upload(100);
    check(
        &mut w,
        inner::CHUNK,
        &[0; 7],
        ProtoError::MalformedMessage("CHUNK"),
    );

    // END with bytes missing.
    let mut w = receiving_upload(100);
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, &[0; 60]));
    check(
        &mut w,
        inner::END,
        &[0; 32],
        chunk_err(TransferError::EndEarly),
    );

    // Data after END.
    let mut w = receiving_upload(3);
    let hash = crate::crypto::hash::sha256(b"abc").unwrap();
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &hash);
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Complete]
    );
    check(
        &mut w,
        inner::CHUNK,
        &chunk(3, b"d"),
        ProtoError::UnexpectedMessage {
            got: "CHUNK",
            state: "finishing a received file",
        },
    );

    // A chunk with no transfer at all.
    let mut w = established();
    check(
        &mut w,
        inner::CHUNK,
        &chunk(0, b"x"),
        ProtoError::UnexpectedMessage {
            got: "CHUNK",
            state: "idle",
        },
    );

    // A chunk before the offer was accepted.
    let mut w = established();
    w.client.request_upload("f", 10, false).unwrap();
    w.c2s().unwrap();
    check(
        &mut w,
        inner::CHUNK,
        &chunk(0, b"x"),
        ProtoError::UnexpectedMessage {
            got: "CHUNK",
            state: "deciding on an offered file",
        },
    );

    // ACCEPT at another offset (resume is reserved): the client fails.
    let mut w = established();
    w.client.request_upload("f", 10, false).unwrap();
    w.c2s().unwrap();
    send_raw(&mut w.server, inner::ACCEPT, &5u64.to_be_bytes());
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(TransferError::ResumeOffset)),
        "{err:?}"
    );

    // RESULT Ok before anything was sent.
    let mut w = established();
    w.client.request_upload("f", 10, false).unwrap();
    w.c2s().unwrap();
    send_raw(&mut w.server, inner::RESULT, &Outcome::ok().encode());
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(TransferError::OkEarly)),
        "{err:?}"
    );
    let mut w = established();
    w.client.request_download("f").unwrap();
    w.c2s().unwrap();
    send_raw(&mut w.server, inner::RESULT, &Outcome::ok().encode());
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(TransferError::OkEarly)),
        "{err:?}"
    );

    // RESULT while the client is still sending data.
    let mut w = receiving_upload(10);
    w.client.send_data(b"12345").unwrap();
    w.c2s().unwrap();
    send_raw(
        &mut w.server,
        inner::RESULT,
        &Outcome::new(ResultCode::IoError, "disk").encode(),
    );
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::UnexpectedMessage {
                got: "RESULT",
                state: "sending file data"
            }
        ),
        "{err:?}"
    );
}

/// A wrong whole-file hash is not fatal: the receiver says HashMismatch
/// and the session goes on.
#[test]
fn wrong_hash_is_answered_with_hash_mismatch_and_the_session_goes_on() {
    // Upload: the server receives a wrong END (sent raw, so the client's
    // own state still thinks it is sending: read the server's answer with
    // the server's key).
    let mut w = receiving_upload(3);
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &[0; 32]);
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Corrupt]
    );
    let bytes = out(&mut w.server, w.now);
    let answer = open_own(&mut w.server, &bytes);
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].0, inner::RESULT);
    assert_eq!(
        Outcome::parse(&answer[0].1).unwrap().code,
        ResultCode::HashMismatch
    );
    assert!(matches!(
        w.server.send_result(&Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    send_raw(&mut w.client, inner::LIST, &[]);
    assert_eq!(w.c2s().unwrap(), vec![Got::List]);

    // Download: the client receives a wrong END and answers by itself.
    let mut w = receiving_download(3);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &[0; 32]);
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Corrupt]
    );
    let bytes = out(&mut w.client, w.now);
    let answer = open_own(&mut w.client, &bytes);
    assert_eq!(answer.len(), 1);
    assert_eq!(
        Outcome::parse(&answer[0].1).unwrap().code,
        ResultCode::HashMismatch
    );
    // The client is idle again.
    w.client.request_list().unwrap();
}

#[test]
fn hostile_names_are_refused_with_a_result_and_the_session_goes_on() {
    let mut w = established();
    for raw in [
        &b""[..],
        b".",
        b"..",
        b"a/..",
        b"../../etc/passwd",
        b"C:\\x",
        b"x\0y",
        b"bell\x07",
        b"\xff\xfe",
        "\u{202E}txt.exe".as_bytes(),
    ] {
        let want = crate::proto::name::sanitize(raw).unwrap_err();
        let offer = Offer {
            name: raw.to_vec(),
            size: 1,
            overwrite: false,
        };
        send_raw(&mut w.client, inner::OFFER, &offer.encode());
        assert_eq!(
            w.c2s().unwrap(),
            vec![Got::NameRefused(want.clone())],
            "{raw:?}"
        );
        // The raw OFFER bypassed the client's state, so read the server's
        // answer with the server's own key.
        let bytes = out(&mut w.server, w.now);
        let answer = open_own(&mut w.server, &bytes);
        assert_eq!(answer.len(), 1, "{raw:?}");
        assert_eq!(answer[0].0, inner::RESULT);
        assert_eq!(
            Outcome::parse(&answer[0].1).unwrap(),
            Outcome::new(ResultCode::BadName, want.to_string())
        );
        // GET with the same name: the same answer.
        send_raw(
            &mut w.client,
            inner::GET,
            &crate::proto::msgs::encode_get(raw),
        );
        assert_eq!(w.c2s().unwrap(), vec![Got::NameRefused(want)], "{raw:?}");
        out(&mut w.server, w.now);
    }
    // Over 255 bytes the parser refuses the message itself: fatal.
    let mut w2 = established();
    let long = [b'a'; 256];
    let body = [&256u16.to_be_bytes()[..], &long, &1u64.to_be_bytes(), &[0]].concat();
    send_raw(&mut w2.client, inner::OFFER, &body);
    let err = w2.c2s().unwrap_err();
    assert!(
        matches!(err, ProtoError::MalformedMessage("OFFER")),
        "{err:?}"
    );
}

#[test]
fn listing_leaves_out_names_the_client_would_refuse() {
    let mut w = established();
    let entry = |name: &str| ListEntry {
        name: name.into(),
        size: 1,
        mtime: 0,
    };
    let entries = [
        entry("ok.txt"),
        entry("\u{202E}txt.exe"),
        entry("bad\nname"),
        entry("dir/name"),
        entry("two.txt"),
    ];
    w.client.request_list().unwrap();
    w.c2s().unwrap();
    assert_eq!(send_listing(&mut w.server, &entries).unwrap(), 2);
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Listing(vec![entry("ok.txt"), entry("two.txt")])]
    );
}

/// Defect 14: a download OFFER must carry exactly the bytes of the GET.
/// Fails on the pre-rewrite client, which reduced the offered name to its
/// base name and so took "sub/a.txt" and "../a.txt" for "a.txt", and on
/// any comparison after normalization or case folding.
#[test]
fn download_offer_must_echo_the_requested_name_exactly() {
    for other in [
        &b"sub/a.txt"[..],
        b"../a.txt",
        b"x/../a.txt",
        b"A.txt",
        b"a.txt\0",
        b"a.tx",
    ] {
        let mut w = established();
        w.client.request_download("a.txt").unwrap();
        assert_eq!(w.c2s().unwrap(), vec![Got::Download("a.txt".into())]);
        let offer = Offer {
            name: other.to_vec(),
            size: 5,
            overwrite: false,
        };
        send_raw(&mut w.server, inner::OFFER, &offer.encode());
        let err = w.s2c().unwrap_err();
        assert!(
            matches!(err, ProtoError::Transfer(TransferError::OfferedOtherName)),
            "{other:?}: {err:?}"
        );
        assert!(!w.client.is_established());
        let bytes = out(&mut w.client, w.now);
        assert_eq!(
            sole_alert(&mut w.client, &bytes, 3),
            AlertCode::ProtocolError
        );
        assert!(matches!(
            feed(&mut w.server, &bytes, w.now),
            Err(ProtoError::PeerAlert(AlertCode::ProtocolError))
        ));
    }
    // An exact echo, by hand and through offer_download.
    let mut w = established();
    w.client.request_download("a.txt").unwrap();
    w.c2s().unwrap();
    let offer = Offer {
        name: b"a.txt".to_vec(),
        size: 5,
        overwrite: false,
    };
    send_raw(&mut w.server, inner::OFFER, &offer.encode());
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(5)]);
    let mut w = established();
    assert_eq!(download(&mut w, "a.txt", b"hello", 5), b"hello");
}
