//! Refusals in their place (docs/PROTOCOL.md §4.3): a refused upload's
//! data is skipped up to END, the client cuts the upload it is still
//! sending when its refusal arrives, a path the rule refuses and a
//! corrupt upload are answered in the request's place, and a download
//! OFFER must be the one asked for.

use super::*;
use crate::proto::msgs::{self, Offer, ResultCode};
use crate::proto::TransferError;

fn exists() -> Outcome {
    Outcome::new(ResultCode::Exists, "exists")
}

/// An established world whose server refused an upload of `size` bytes
/// (its RESULT 1 sent) before reading any of its data.
fn skipping(size: u64) -> World {
    let mut w = established();
    w.client
        .request_upload("f", size, false, None, false, T0)
        .unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("f", size)]);
    let t = w.ticket();
    w.server.refuse_upload(t, exists()).unwrap();
    assert!(!w.server.waits_for_app());
    w
}

/// While skipping, a CHUNK's offset and the announced size are not
/// checked (1 … CHUNK_LEN bytes at any offset), and any END ends the
/// file; the session goes on.
#[test]
fn a_refused_uploads_chunks_are_skipped_up_to_end() {
    let mut w = skipping(5);
    send_raw(&mut w.client, inner::CHUNK, &chunk(999, &data(CHUNK_LEN)));
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"x"));
    send_raw(&mut w.client, inner::END, &end_body([7; 32]));
    assert_eq!(w.c2s().unwrap(), vec![]);
    assert!(w.server.error().is_none());
    send_raw(&mut w.client, inner::LIST, &msgs::encode_list(b""));
    assert_eq!(w.c2s().unwrap(), vec![Got::List(String::new())]);

    // Skipped from the middle: the application gives up on an upload it
    // had accepted (a write failed); its RESULT goes out when refused.
    let mut w = receiving_upload(10);
    w.client.send_data(b"12345").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(b"12345".to_vec())]);
    let t = w.ticket();
    let failed = Outcome::new(ResultCode::IoError, "write failed");
    w.server.refuse_upload(t, failed.clone()).unwrap();
    w.client.send_data(b"67890").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![], "the rest is skipped");
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(failed)]);
    assert!(w.client.can_request() && !w.client.wants_write());
}

/// An empty or oversize CHUNK, one too short for its offset, a short END
/// and any other message are still fatal while skipping.
#[test]
fn a_bad_chunk_or_message_while_skipping_is_fatal() {
    let t = ProtoError::Transfer;
    let cases = [
        (inner::CHUNK, chunk(0, &[]), t(TransferError::ChunkLength)),
        (
            inner::CHUNK,
            chunk(0, &data(CHUNK_LEN + 1)),
            t(TransferError::ChunkLength),
        ),
        (
            inner::CHUNK,
            vec![0; 7],
            ProtoError::MalformedMessage("CHUNK"),
        ),
        (inner::END, vec![0; 31], ProtoError::MalformedMessage("END")),
        (
            inner::MKDIR,
            vec![0; 13],
            unexpected("MKDIR", "skipping a refused file"),
        ),
        (
            inner::OFFER,
            vec![0; 21],
            unexpected("OFFER", "skipping a refused file"),
        ),
    ];
    for (ty, body, want) in cases {
        let mut w = skipping(5);
        server_fails(&mut w, ty, &body, want);
    }
}

/// The refusal of the upload the client is still sending: the client
/// stops, sends END with 32 zero bytes at once and may request again;
/// the server skips the rest. Fails on a client that takes the RESULT
/// as unexpected, keeps sending, or sends the real hash.
#[test]
fn a_refusal_while_sending_makes_the_client_cut_the_file_with_end() {
    let mut w = established();
    w.client
        .request_upload("f", 100, false, None, false, T0)
        .unwrap();
    w.client.send_data(&[1; 10]).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("f", 100)]);
    let t = w.ticket();
    w.server.refuse_upload(t, exists()).unwrap();
    assert!(w.client.wants_data());
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(exists())]);
    assert!(!w.client.wants_data() && w.client.can_request());
    assert_eq!(w.client.in_flight(), 0);
    assert!(matches!(
        w.client.send_data(&[1; 10]),
        Err(ProtoError::InvalidCall(_))
    ));
    let bytes = out(&mut w.client, w.now);
    assert_eq!(
        open_own(&mut w.client, &bytes),
        vec![(inner::END, End::Abandoned.encode().to_vec())]
    );
    assert_eq!(feed(&mut w.server, &bytes, w.now).unwrap(), vec![]);
    assert!(w.server.error().is_none());
    assert_eq!(upload(&mut w, "g", b"next", 3), b"next");
}

/// Only the upload being sent is cut: a refusal of an earlier upload,
/// whose END went out, leaves the next one sending. And RECEIPT for the
/// upload being sent is fatal (`OkEarly`), RESULT 0 for any upload too
/// (`UnsignedOk`: only a RECEIPT says stored).
#[test]
fn only_the_upload_being_sent_is_cut_and_ok_for_it_is_fatal() {
    let mut w = established();
    w.client
        .request_upload("a", 1, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"a").unwrap();
    w.client
        .request_upload("b", 2, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"b").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("a", 1)]);
    let t = w.ticket();
    w.server.refuse_upload(t, exists()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(exists())]);
    assert!(w.client.wants_data(), "b is still being sent");
    assert!(!w.client.wants_write());
    assert_eq!(w.client.in_flight(), 1);

    let receipt = msgs::encode_receipt(
        Stored {
            commit_time: T0,
            audit_seq: 1,
        },
        &Signature::from_bytes(&[0x55; 64]).unwrap(),
    );
    let mut cut = w;
    client_fails(
        &mut cut,
        inner::RECEIPT,
        &receipt,
        ProtoError::Transfer(TransferError::OkEarly),
    );

    let mut w = established();
    w.client
        .request_upload("a", 1, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"a").unwrap();
    client_fails(
        &mut w,
        inner::RESULT,
        &Outcome::ok().encode(),
        ProtoError::Transfer(TransferError::UnsignedOk),
    );
}

/// An OFFER whose path the rule refuses: RESULT 2 (the rule's error
/// text) in its place, behind an answer owed before it and ahead of one
/// owed after it; its data is skipped.
#[test]
fn a_bad_path_in_offer_is_answered_in_its_place_and_its_data_skipped() {
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    let offer = Offer {
        path: b"../x".to_vec(),
        size: 3,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: false,
    };
    send_raw(&mut w.client, inner::OFFER, &offer.encode());
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &end_body(sha(b"abc")));
    let mkdir = msgs::Mkdir {
        path: b"e".to_vec(),
        preserve: false,
        meta: Meta::default(),
    };
    send_raw(&mut w.client, inner::MKDIR, &mkdir.encode());
    let refused = crate::proto::name::sanitize_path(b"../x").unwrap_err();
    assert_eq!(
        w.c2s().unwrap(),
        vec![
            Got::mkdir("d"),
            Got::NameRefused(refused.clone()),
            Got::mkdir("e")
        ]
    );
    assert!(!w.server.wants_write(), "RESULT 2 waits for d's answer");
    assert_eq!(w.server.answers_owed(), 3);
    let (d, e) = (w.ticket(), w.ticket());
    w.server.answer(e, Outcome::ok()).unwrap();
    assert!(!w.server.wants_write());
    w.server.answer(d, Outcome::ok()).unwrap();
    let bytes = out(&mut w.server, w.now);
    let sent: Vec<Outcome> = open_own(&mut w.server, &bytes)
        .into_iter()
        .map(|(_, body)| Outcome::parse(&body).unwrap())
        .collect();
    assert_eq!(
        sent,
        [
            Outcome::ok(),
            Outcome::new(ResultCode::BadName, refused.to_string()),
            Outcome::ok()
        ]
    );
}

/// A corrupt upload's RESULT 6 takes the upload's place: behind an
/// earlier upload's owed answer, never before it. Fails on a server that
/// sends RESULT 6 at once.
#[test]
fn a_corrupt_uploads_result_6_waits_for_the_answer_owed_before_it() {
    let mut w = established();
    w.client
        .request_upload("a", 1, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"a").unwrap();
    w.client
        .request_upload("b", 1, false, None, false, T0)
        .unwrap();
    // b's data sent raw with a wrong hash (the client's own END is right).
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"b"));
    send_raw(&mut w.client, inner::END, &end_body([1; 32]));
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("a", 1)]);
    w.server.accept().unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![
            Got::Data(b"a".to_vec()),
            Got::complete(sha(b"a")),
            Got::upload("b", 1)
        ]
    );
    w.server.accept().unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"b".to_vec()), Got::Corrupt]
    );
    assert!(!w.server.wants_write(), "RESULT 6 waits for a's answer");
    assert_eq!(w.server.answers_owed(), 2);
    let a = w.ticket();
    w.server.answer(a, ok_stored()).unwrap();
    let bytes = out(&mut w.server, w.now);
    let codes: Vec<ResultCode> = open_own(&mut w.server, &bytes)
        .into_iter()
        .map(|(_, body)| Outcome::parse(&body).unwrap().code)
        .collect();
    assert_eq!(codes, [ResultCode::Ok, ResultCode::HashMismatch]);
    assert_eq!(w.server.answers_owed(), 0);
}

fn ok_stored() -> Outcome {
    Outcome::new(ResultCode::Ok, "stored")
}

/// A download OFFER must carry exactly the GET's path bytes and flags 0
/// (`OfferedOtherName`), and no more bytes than the GET's max_size
/// (`OfferTooLarge`, at max_size it is taken). Fails on a client that
/// compares after normalizing, reduces to a base name, ignores the flags
/// or the size.
#[test]
fn a_download_offer_must_be_the_file_asked_for() {
    let offer = |path: &[u8], size: u64, overwrite: bool, preserve: bool| Offer {
        path: path.to_vec(),
        size,
        overwrite,
        preserve,
        meta: Meta::default(),
        resume: false,
    };
    let other_name = ProtoError::Transfer(TransferError::OfferedOtherName);
    let too_large = ProtoError::Transfer(TransferError::OfferTooLarge);
    let cases = [
        (offer(b"d/a.txt", 5, false, false), other_name.clone()),
        (offer(b"a.txt", 5, false, false), other_name.clone()),
        (offer(b"d/x/../a.txt", 5, false, false), other_name.clone()),
        (offer(b"D/a.txt", 5, false, false), other_name.clone()),
        (offer(b"d/a.txt\0", 5, false, false), other_name.clone()),
        (offer(b"d//a.txt", 5, false, false), other_name.clone()),
        (offer(b"d/sub/a.txt", 5, true, false), other_name.clone()),
        (offer(b"d/sub/a.txt", 5, false, true), other_name.clone()),
        (offer(b"d/sub/a.txt", 6, false, false), too_large.clone()),
        (offer(b"d/sub/a.txt", u64::MAX, false, false), too_large),
    ];
    for (o, want) in cases {
        let mut w = established();
        w.client.request_download("d/sub/a.txt", 5, None).unwrap();
        assert_eq!(
            w.c2s().unwrap(),
            vec![Got::Download("d/sub/a.txt".into(), 5)]
        );
        client_fails(&mut w, inner::OFFER, &o.encode(), want);
        assert!(!w.client.is_established());
    }
    // An exact echo at max_size is taken.
    let mut w = established();
    w.client.request_download("d/sub/a.txt", 5, None).unwrap();
    w.c2s().unwrap();
    let meta = Meta {
        mode: 0o777,
        mtime: i64::MIN,
    };
    let exact = Offer {
        meta,
        ..offer(b"d/sub/a.txt", 5, false, false)
    };
    send_raw(&mut w.server, inner::OFFER, &exact.encode());
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(5, meta)]);
    let mut w = established();
    assert_eq!(download(&mut w, "d/sub/a.txt", b"hello", 5), b"hello");
}
