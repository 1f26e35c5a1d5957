//! Resume (PROTOCOL.md §4.7): an upload offered for resume waits for the
//! server's RESUME, the client's RESUME agrees or starts again, a download
//! resumes after the prefix the GET names, and END of 32 zero bytes
//! abandons a file in either direction.

use super::*;
use crate::crypto::hash::Sha256;
use crate::proto::msgs::{encode_resume, Offer, Prefix, ResultCode};
use crate::proto::TransferError;

/// A hash state that has absorbed `bytes`, and their digest.
fn held(bytes: &[u8]) -> (Prefix, Sha256) {
    let mut h = Sha256::new().unwrap();
    h.update(bytes).unwrap();
    let prefix = Prefix {
        offset: bytes.len() as u64,
        sha256: sha(bytes),
    };
    (prefix, h)
}

/// A world whose client offered `size` bytes for resume and whose server
/// answered RESUME holding `server_has` (delivered to the client).
fn offered(size: u64, server_has: &[u8]) -> World {
    let mut w = established();
    assert_eq!(
        w.client
            .request_upload("f", size, false, None, true, T0)
            .unwrap(),
        None
    );
    assert!(!w.client.can_request(), "nothing goes out before RESUME");
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::UploadResume("f".into(), size, Tk(None))]
    );
    let arg = (!server_has.is_empty()).then(|| held(server_has));
    w.server.accept_resume(arg).unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::ResumeOffered(server_has.len() as u64)]
    );
    w
}

/// Sends the rest of `content` from the client and returns what the server
/// got.
fn finish_upload(w: &mut World, content: &[u8], from: usize) -> Vec<Got> {
    let mut sent = from;
    while w.client.wants_data() {
        let n = (content.len() - sent).min(CHUNK_LEN);
        w.client.send_data(&content[sent..sent + n]).unwrap();
        sent += n;
    }
    w.c2s().unwrap()
}

#[test]
fn an_upload_resumes_after_the_verified_prefix_and_ends_with_the_whole_hash() {
    let content = data(1000);
    let mut w = offered(1000, &content[..600]);
    let own = held(&content[..600]);
    let (from, end) = w.client.resume_upload(Some((own.0.sha256, own.1))).unwrap();
    assert_eq!((from, end), (600, None));
    let got = finish_upload(&mut w, &content, 600);
    assert_eq!(
        got,
        vec![
            Got::ResumeAgreed(600),
            Got::Data(content[600..].to_vec()),
            Got::complete(sha(&content)),
        ]
    );
    // Only the remainder crossed: 400 data bytes in one CHUNK.
    let t = w.ticket();
    w.store(t).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    assert!(w.client.can_request());
}

#[test]
fn a_prefix_that_differs_restarts_the_upload_at_zero() {
    let content = data(1000);
    let mut other = content[..600].to_vec();
    other[17] ^= 1;
    let mut w = offered(1000, &other);
    let own = held(&content[..600]);
    assert_eq!(
        w.client.resume_upload(Some((own.0.sha256, own.1))).unwrap(),
        (0, None)
    );
    let got = finish_upload(&mut w, &content, 0);
    assert_eq!(got[0], Got::ResumeAgreed(0));
    assert_eq!(*got.last().unwrap(), Got::complete(sha(&content)));
}

#[test]
fn a_server_holding_the_whole_file_gets_end_at_once() {
    let content = data(50);
    let mut w = offered(50, &content);
    let own = held(&content);
    let (from, end) = w.client.resume_upload(Some((own.0.sha256, own.1))).unwrap();
    assert_eq!((from, end), (50, Some(sha(&content))));
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::ResumeAgreed(50), Got::complete(sha(&content))]
    );
}

#[test]
fn a_resumable_offer_refused_sends_no_data_and_frees_the_client() {
    let mut w = established();
    w.client
        .request_upload("f", 10, false, None, true, T0)
        .unwrap();
    w.c2s().unwrap();
    let t = w.ticket();
    let exists = Outcome::new(ResultCode::Exists, "");
    w.server.refuse_upload(t, exists.clone()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(exists)]);
    assert!(w.client.can_request());
    assert!(!w.client.wants_write(), "no END for data never sent");
    // The server is idle again: a MKDIR is read at once.
    w.client.request_mkdir("d", None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
}

#[test]
fn a_resume_offset_past_the_size_from_the_server_is_fatal() {
    let mut w = established();
    w.client
        .request_upload("f", 10, false, None, true, T0)
        .unwrap();
    w.c2s().unwrap();
    let past = Prefix {
        offset: 11,
        sha256: [3; 32],
    };
    client_fails(
        &mut w,
        inner::RESUME,
        &encode_resume(&past),
        ProtoError::Transfer(TransferError::BadResume),
    );
    // And 2^63 is malformed before any state is consulted.
    let mut w = established();
    w.client
        .request_upload("f", 10, false, None, true, T0)
        .unwrap();
    w.c2s().unwrap();
    let mut body = encode_resume(&past);
    body[..8].copy_from_slice(&(1u64 << 63).to_be_bytes());
    client_fails(
        &mut w,
        inner::RESUME,
        &body,
        ProtoError::MalformedMessage("RESUME"),
    );
}

#[test]
fn a_client_resume_other_than_the_offer_or_zero_is_fatal() {
    let content = data(100);
    for theirs in [
        Prefix {
            offset: 40,
            sha256: sha(&content[..40]),
        },
        Prefix {
            offset: 60,
            sha256: [9; 32],
        },
    ] {
        let mut w = offered(100, &content[..60]);
        server_fails(
            &mut w,
            inner::RESUME,
            &encode_resume(&theirs),
            ProtoError::Transfer(TransferError::BadResume),
        );
    }
    // RESUME where none was offered.
    let mut w = established();
    server_fails(
        &mut w,
        inner::RESUME,
        &encode_resume(&Prefix::NONE),
        unexpected("RESUME", "idle"),
    );
    let mut w = established();
    client_fails(
        &mut w,
        inner::RESUME,
        &encode_resume(&Prefix::NONE),
        unexpected("RESUME", "idle"),
    );
}

#[test]
fn a_download_resumes_after_the_prefix_the_get_holds() {
    let content = data(900);
    let mut w = established();
    let mine = held(&content[..300]);
    w.client
        .request_download("f", u64::MAX, Some(mine))
        .unwrap();
    let got = w.c2s().unwrap();
    let Got::DownloadHeld(path, _, prefix) = &got[0] else {
        panic!("{got:?}");
    };
    assert_eq!((path.as_str(), prefix.offset), ("f", 300));
    assert_eq!(prefix.sha256, sha(&content[..300]));
    // The server checked its file starts with those bytes.
    let (_, state) = held(&content[..300]);
    w.server
        .offer_download(900, FILE_META, Some(state), T0)
        .unwrap();
    while w.server.wants_data() {
        w.server.send_data(&content[300..]).unwrap();
    }
    assert_eq!(
        w.s2c().unwrap(),
        vec![
            Got::Resumed(900, 300),
            Got::Data(content[300..].to_vec()),
            Got::complete(sha(&content)),
        ]
    );
}

#[test]
fn a_download_not_resumed_starts_at_zero_and_an_unasked_resume_is_fatal() {
    let content = data(20);
    let mut w = established();
    w.client
        .request_download("f", u64::MAX, Some(held(&content[..5])))
        .unwrap();
    w.c2s().unwrap();
    w.server.offer_download(20, FILE_META, None, T0).unwrap();
    w.server.send_data(&content).unwrap();
    let got = w.s2c().unwrap();
    assert_eq!(got[0], Got::Offered(20, FILE_META));
    assert_eq!(*got.last().unwrap(), Got::complete(sha(&content)));

    // A server may not resume a GET that held nothing.
    let mut w = established();
    w.client.request_download("f", u64::MAX, None).unwrap();
    w.c2s().unwrap();
    assert!(matches!(
        w.server
            .offer_download(20, FILE_META, Some(Sha256::new().unwrap()), T0),
        Err(ProtoError::InvalidCall(_))
    ));
    let offer = Offer {
        path: b"f".to_vec(),
        size: 20,
        overwrite: false,
        preserve: false,
        meta: FILE_META,
        resume: true,
    };
    client_fails(
        &mut w,
        inner::OFFER,
        &offer.encode(),
        ProtoError::Transfer(TransferError::BadResume),
    );
    // Nor resume past the file's size (the client held 5, the file has 4).
    let mut w = established();
    w.client
        .request_download("f", u64::MAX, Some(held(&content[..5])))
        .unwrap();
    w.c2s().unwrap();
    assert!(w
        .server
        .offer_download(4, FILE_META, Some(Sha256::new().unwrap()), T0)
        .is_err());
    let offer = Offer { size: 4, ..offer };
    client_fails(
        &mut w,
        inner::OFFER,
        &offer.encode(),
        ProtoError::Transfer(TransferError::BadResume),
    );
}

#[test]
fn end_of_zero_bytes_abandons_a_file_midway_in_both_directions() {
    let content = data(100);
    // Upload: the client abandons after 40 of 100 bytes.
    let mut w = receiving_upload(100);
    w.client.send_data(&content[..40]).unwrap();
    w.client.abandon_send().unwrap();
    assert!(w.client.can_request());
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(content[..40].to_vec()), Got::Abandoned]
    );
    let bytes = out(&mut w.server, w.now);
    let answer = open_own(&mut w.server, &bytes);
    assert_eq!(
        Outcome::parse(&answer[0].1).unwrap(),
        Outcome::new(ResultCode::HashMismatch, "abandoned by the sender")
    );
    // Download: the server abandons after 40 bytes; the session goes on.
    let mut w = receiving_download(100);
    w.server.send_data(&content[..40]).unwrap();
    w.server.abandon_send().unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(content[..40].to_vec()), Got::Abandoned]
    );
    assert_eq!(w.client.in_flight(), 0);
    w.client.request_mkdir("d", None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
    // Abandoning with nothing being sent is a misuse, not a wire event.
    assert!(matches!(
        w.client.abandon_send(),
        Err(ProtoError::InvalidCall(_))
    ));
}
