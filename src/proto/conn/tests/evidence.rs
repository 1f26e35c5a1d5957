//! Signed statements and receipts (PROTOCOL.md §4.8): both sides build
//! the same statement, each checks the other's signature over what it
//! itself saw, and a signature that does not verify ends the session
//! before anything is stored.

use super::*;
use crate::proto::evidence::{Direction, Statement};
use crate::proto::msgs;

/// The peer of `side` must fail with `BadSignature(what)` and send one
/// alert.
fn fails_with_bad_signature(err: ProtoError, what: &str, side: &mut ConnectionCore, now: Instant) {
    assert_eq!(format!("{err}"), format!("{what} signature did not verify"));
    let bytes = out(side, now);
    let seq = seq_of(&bytes);
    assert_eq!(sole_alert(side, &bytes, seq), AlertCode::HandshakeFailed);
}

/// The statement the server took for the upload `w` just completed.
fn arrived(got: &[Got]) -> Signed {
    match got.last() {
        Some(Got::Complete(_, St(Some(signed)))) => (**signed).clone(),
        other => panic!("no statement: {other:?}"),
    }
}

/// An upload's statement names both keys, the session's transcript hash,
/// the path, size, hash and the client's time; the server's receipt over
/// it reaches the client verified. A download's statement is the
/// server's, over the same facts the client saw.
#[test]
fn both_sides_build_the_same_statements_and_the_receipt_verifies() {
    let mut w = established();
    let th = w.client.transcript_hash().unwrap();
    assert_eq!(w.server.transcript_hash(), Some(th), "one session, one TH");
    w.client
        .request_upload("d/a.txt", 3, false, None, false, T0)
        .unwrap();
    w.c2s().unwrap();
    let t = w.ticket();
    w.server.accept().unwrap();
    w.client.send_data(b"abc").unwrap();
    let got = w.c2s().unwrap();
    let signed = arrived(&got);
    let expected = Statement {
        direction: Direction::Upload,
        client: w.client_key.verifying_key(),
        server: w.server_key,
        transcript_hash: th,
        path: "d/a.txt".into(),
        size: 3,
        sha256: sha(b"abc"),
        time: T0,
    };
    assert_eq!(signed.statement, expected);
    assert!(expected.clone().verify(signed.signature).is_ok());
    w.store(t).unwrap();
    let bytes = out(&mut w.server, w.now);
    w.client.read_tls(&mut &bytes[..], w.now).unwrap();
    let Some(ClientEvent::Stored(receipt)) = w.client.next_event().unwrap() else {
        panic!("no receipt");
    };
    assert_eq!(
        receipt.signed, signed,
        "the receipt is over the statement sent"
    );
    assert_eq!(receipt.stored.audit_seq, 7);
    let again = Receipt::verify(receipt.signed.clone(), receipt.stored, receipt.signature);
    assert_eq!(again.unwrap(), receipt);

    w.client.request_download("d/a.txt", 10, None).unwrap();
    w.c2s().unwrap();
    w.server
        .offer_download(3, Meta::default(), None, T0 + 5)
        .unwrap();
    let served = w.server.send_data(b"abc").unwrap().expect("END went out");
    let bytes = out(&mut w.server, w.now);
    w.client.read_tls(&mut &bytes[..], w.now).unwrap();
    let mut got = None;
    while let Some(ev) = w.client.next_event().unwrap() {
        if let ClientEvent::ReceiveComplete { signed } = ev {
            got = Some(signed);
        }
    }
    let got = got.expect("the download completed");
    assert_eq!(got, served, "the client checked what the server signed");
    assert_eq!(got.statement.direction, Direction::Download);
    assert_eq!(got.statement.signer(), w.server_key);
    assert_eq!((got.statement.time, got.statement.size), (T0 + 5, 3));
}

/// An upload END whose hash matches but whose signature is not over this
/// session's statement is fatal: a wrong key, a flipped bit, a time other
/// than the one signed, another path. No file arrives.
#[test]
fn a_bad_upload_statement_ends_the_session_and_nothing_arrives() {
    let other = SigningKey::generate().unwrap();
    for case in 0..4 {
        let mut w = receiving_upload(3);
        let th = w.client.transcript_hash().unwrap();
        let mut statement = Statement {
            direction: Direction::Upload,
            client: w.client_key.verifying_key(),
            server: w.server_key,
            transcript_hash: th,
            path: "f".into(),
            size: 3,
            sha256: sha(b"abc"),
            time: T0,
        };
        if case == 3 {
            statement.path = "g".into();
        }
        let key = if case == 0 { &other } else { &*w.client_key };
        let mut sig = *key.sign(&statement.signed_bytes()).unwrap().as_bytes();
        let time = if case == 2 { T0 + 1 } else { T0 };
        if case == 1 {
            sig[0] ^= 1;
        }
        let end = End::Signed {
            sha256: sha(b"abc"),
            time,
            signature: Signature::from_bytes(&sig).unwrap(),
        };
        send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
        send_raw(&mut w.client, inner::END, &end.encode());
        let err = w.c2s().unwrap_err();
        assert!(w.statements.is_empty(), "case {case}: nothing arrived");
        fails_with_bad_signature(err, "client's upload statement", &mut w.server, w.now);
    }
}

/// A RECEIPT signed by another key, or over other facts than it carries
/// (another audit entry), is fatal on the client; so is a RECEIPT for a
/// MKDIR (not an upload).
#[test]
fn a_bad_receipt_ends_the_session() {
    for case in 0..2 {
        let mut w = receiving_upload(3);
        w.client.send_data(b"abc").unwrap();
        let signed = arrived(&w.c2s().unwrap());
        let stored = Stored {
            commit_time: T0,
            audit_seq: 1,
        };
        let key = match case {
            0 => Arc::new(SigningKey::generate().unwrap()),
            _ => w.server_identity.clone(),
        };
        let mut statement = signed.statement.clone();
        statement.server = key.verifying_key();
        let signed = Signed {
            statement,
            signature: signed.signature,
        };
        let receipt = Receipt::sign(signed, stored, &key).unwrap();
        let sent = Stored {
            audit_seq: 1 + case,
            ..stored
        };
        let body = msgs::encode_receipt(sent, &receipt.signature);
        out(&mut w.client, w.now);
        send_raw(&mut w.server, inner::RECEIPT, &body);
        let err = w.s2c().unwrap_err();
        fails_with_bad_signature(err, "server's receipt", &mut w.client, w.now);
    }
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.c2s().unwrap();
    let body = msgs::encode_receipt(
        Stored {
            commit_time: T0,
            audit_seq: 1,
        },
        &Signature::from_bytes(&[1; 64]).unwrap(),
    );
    client_fails(
        &mut w,
        inner::RECEIPT,
        &body,
        unexpected("RECEIPT", "awaiting MKDIR's RESULT"),
    );
}

/// A download END whose hash matches but whose signature does not verify
/// is fatal on the client: the file is not reported complete.
#[test]
fn a_bad_download_statement_ends_the_session() {
    let mut w = receiving_download(3);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &end_body(sha(b"abc")));
    let err = w.s2c().unwrap_err();
    fails_with_bad_signature(err, "server's download statement", &mut w.client, w.now);
}
