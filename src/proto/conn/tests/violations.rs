//! Every transfer and state rule a peer can break (docs/PROTOCOL.md §4.3,
//! §4.4): each is fatal with its own error and one ALERT 2.

use super::*;
use crate::proto::msgs::{self, Offer, ResultCode};
use crate::proto::TransferError;

#[test]
fn upload_violations_are_protocol_errors() {
    let t = ProtoError::Transfer;
    // (bytes sent first, the message, the error)
    let cases = [
        (
            0,
            inner::CHUNK,
            chunk(10, &[0; 10]),
            t(TransferError::ChunkOffset),
        ),
        (
            0,
            inner::CHUNK,
            chunk(0, &[0; 101]),
            t(TransferError::PastSize),
        ),
        (
            60,
            inner::CHUNK,
            chunk(60, &[0; 41]),
            t(TransferError::PastSize),
        ),
        (
            0,
            inner::CHUNK,
            chunk(0, &[]),
            t(TransferError::ChunkLength),
        ),
        (
            0,
            inner::CHUNK,
            vec![0; 7],
            ProtoError::MalformedMessage("CHUNK"),
        ),
        (
            60,
            inner::END,
            end_body([1; 32]).to_vec(),
            t(TransferError::EndEarly),
        ),
    ];
    for (before, ty, body, want) in cases {
        let mut w = receiving_upload(100);
        if before > 0 {
            w.client.send_data(&vec![0; before]).unwrap();
        }
        server_fails(&mut w, ty, &body, want);
    }

    // Data after END: the server is idle again.
    let mut w = receiving_upload(3);
    w.client.send_data(b"abc").unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::complete(sha(b"abc"))]
    );
    server_fails(
        &mut w,
        inner::CHUNK,
        &chunk(3, b"d"),
        unexpected("CHUNK", "idle"),
    );
    // END with no upload at all.
    let mut w = established();
    server_fails(
        &mut w,
        inner::END,
        &End::Abandoned.encode(),
        unexpected("END", "idle"),
    );
    // A request between an OFFER and its END, receiving or skipping.
    let mut w = receiving_upload(10);
    w.client.send_data(b"12345").unwrap();
    let body = msgs::encode_list(b"");
    server_fails(
        &mut w,
        inner::LIST,
        &body,
        unexpected("LIST", "receiving file data"),
    );
    let mut w = established();
    w.client
        .request_upload("f", 10, false, None, false, T0)
        .unwrap();
    w.c2s().unwrap();
    let t = w.ticket();
    w.server
        .refuse_upload(t, Outcome::new(ResultCode::Exists, ""))
        .unwrap();
    server_fails(
        &mut w,
        inner::LIST,
        &body,
        unexpected("LIST", "skipping a refused file"),
    );
    // ACCEPT (0x13, version 2) and messages of the server's role.
    for (ty, name) in [
        (0x13, "unknown"),
        (inner::RESULT, "RESULT"),
        (inner::LISTING, "LISTING"),
    ] {
        let mut w = established();
        let body = Outcome::ok().encode();
        server_fails(&mut w, ty, &body, unexpected(name, "idle"));
    }
}

#[test]
fn download_and_answer_violations_are_protocol_errors() {
    let t = ProtoError::Transfer;
    // File data checked as on the server.
    let mut w = receiving_download(100);
    client_fails(
        &mut w,
        inner::CHUNK,
        &chunk(1, b"x"),
        t(TransferError::ChunkOffset),
    );
    let mut w = receiving_download(100);
    client_fails(
        &mut w,
        inner::CHUNK,
        &chunk(0, &[0; 101]),
        t(TransferError::PastSize),
    );
    let mut w = receiving_download(100);
    client_fails(
        &mut w,
        inner::CHUNK,
        &chunk(0, &[]),
        t(TransferError::ChunkLength),
    );
    let mut w = receiving_download(100);
    client_fails(
        &mut w,
        inner::END,
        &end_body([1; 32]),
        t(TransferError::EndEarly),
    );

    // RESULT Ok for a GET or a LIST.
    let mut w = established();
    w.client.request_download("f", 1, None).unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::RESULT,
        &Outcome::ok().encode(),
        t(TransferError::OkEarly),
    );
    let mut w = established();
    w.client.request_list("").unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::RESULT,
        &Outcome::ok().encode(),
        t(TransferError::OkEarly),
    );

    // An answer with no request pending, file data before the OFFER, a
    // LISTING for a GET, and messages of the client's role.
    let result = Outcome::new(ResultCode::NotFound, "").encode();
    let mut w = established();
    client_fails(&mut w, inner::RESULT, &result, unexpected("RESULT", "idle"));
    let mut w = established();
    w.client.request_download("f", 1, None).unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::CHUNK,
        &chunk(0, b"x"),
        unexpected("CHUNK", "awaiting OFFER"),
    );
    let mut w = established();
    w.client.request_download("f", 1, None).unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::LISTING,
        &[0, 0, 0],
        unexpected("LISTING", "awaiting OFFER"),
    );
    for (ty, name) in [
        (inner::GET, "GET"),
        (inner::LIST, "LIST"),
        (inner::MKDIR, "MKDIR"),
        (0x13, "unknown"),
    ] {
        let mut w = established();
        w.client.request_list("").unwrap();
        w.c2s().unwrap();
        client_fails(&mut w, ty, &[0, 0], unexpected(name, "awaiting LISTING"));
    }
    // An OFFER for an upload, or for a LIST.
    let offer = Offer {
        path: b"f".to_vec(),
        size: 1,
        overwrite: false,
        preserve: false,
        meta: Meta::default(),
        resume: false,
    };
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::OFFER,
        &offer.encode(),
        unexpected("OFFER", "awaiting MKDIR's RESULT"),
    );
    let mut w = established();
    w.client.request_list("").unwrap();
    w.c2s().unwrap();
    client_fails(
        &mut w,
        inner::OFFER,
        &offer.encode(),
        unexpected("OFFER", "awaiting LISTING"),
    );
}
