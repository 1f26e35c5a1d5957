//! Every field of HELLO, CHALLENGE and RESPONSE tampered: each failure
//! has its own error, and queues exactly the alert the side's keys allow
//! (a plaintext alert from a server before keys, nothing from a client
//! before keys, one sealed ALERT after).

use super::*;
use crate::proto::handshake::{CLIENT_SIGNATURE_CONTEXT, SERVER_SIGNATURE_CONTEXT};

/// Every header field of HELLO: the server has no keys yet, so it answers
/// each failure with exactly one plaintext alert in place of CHALLENGE.
/// Fails on the pre-rewrite server, which sent a plaintext alert only for
/// a version it did not speak and nothing otherwise.
#[test]
fn hello_tampering_each_field() {
    type Check = fn(&ProtoError) -> bool;
    let cases: [(usize, Check, AlertCode); 4] = [
        (
            0,
            |e| matches!(e, ProtoError::UnsupportedVersion { got } if *got == PROTOCOL_VERSION ^ 1),
            AlertCode::UnsupportedVersion,
        ),
        (
            1,
            |e| matches!(e, ProtoError::MalformedRecord(_)),
            AlertCode::ProtocolError,
        ),
        (
            5,
            |e| matches!(e, ProtoError::MalformedRecord(_)),
            AlertCode::ProtocolError,
        ),
        (
            13,
            |e| {
                matches!(
                    e,
                    ProtoError::OutOfSequence {
                        expected: 0,
                        got: 1
                    }
                )
            },
            AlertCode::ProtocolError,
        ),
    ];
    for (at, expect, code) in cases {
        let mut w = world();
        let hello = out(&mut w.client, w.now);
        let err = feed(&mut w.server, &flip(&hello, at), w.now).unwrap_err();
        assert!(expect(&err), "byte {at}: {err:?}");
        let alert = out(&mut w.server, w.now);
        assert_eq!(alert, plain_alert(code), "byte {at}");
        assert!(matches!(
            feed(&mut w.client, &alert, w.now),
            Err(ProtoError::PeerAlert(c)) if c == code
        ));
    }
    // Body version.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    let err = feed(&mut w.server, &flip(&hello, HEADER_LEN), w.now).unwrap_err();
    assert!(
        matches!(err, ProtoError::UnsupportedVersion { got } if got == PROTOCOL_VERSION ^ 1),
        "{err:?}"
    );
    let alert = out(&mut w.server, w.now);
    assert_eq!(alert, plain_alert(AlertCode::UnsupportedVersion));
    assert!(matches!(
        feed(&mut w.client, &alert, w.now),
        Err(ProtoError::PeerAlert(AlertCode::UnsupportedVersion))
    ));
    assert!(!w.client.wants_write(), "the client answers no alert");
    // Random and ephemeral key: the server signs what it saw, so the
    // client's transcript differs and the server signature fails.
    for at in [
        HEADER_LEN + 1,
        HEADER_LEN + 20,
        HEADER_LEN + 33,
        HEADER_LEN + 64,
    ] {
        let mut w = world();
        let hello = out(&mut w.client, w.now);
        feed(&mut w.server, &flip(&hello, at), w.now).unwrap();
        let err = w.s2c().unwrap_err();
        assert!(
            matches!(err, ProtoError::BadSignature("server handshake")),
            "byte {at}: {err:?}"
        );
        assert!(!w.client.wants_write(), "byte {at}: no keys, no alert");
    }
}

/// Fails on the pre-rewrite server, which answered a small-order key with
/// silence: now a plaintext alert 4 and still no CHALLENGE.
#[test]
fn non_contributory_client_key_gets_a_plaintext_alert_and_no_challenge() {
    let mut one = [0u8; 32];
    one[0] = 1;
    for low in [[0u8; 32], one] {
        let mut w = world();
        let mut hello = out(&mut w.client, w.now);
        hello[HEADER_LEN + 33..HEADER_LEN + 65].copy_from_slice(&low);
        let err = feed(&mut w.server, &hello, w.now).unwrap_err();
        assert!(matches!(err, ProtoError::NonContributory), "{err:?}");
        assert_eq!(
            out(&mut w.server, w.now),
            plain_alert(AlertCode::HandshakeFailed)
        );
    }
}

#[test]
fn challenge_tampering_each_field() {
    // identity -> pinned mismatch; random, ephemeral, signature -> bad signature.
    let fields = [
        (HEADER_LEN + 5, "random"),
        (HEADER_LEN + 40, "ephemeral"),
        (HEADER_LEN + 70, "identity"),
        (HEADER_LEN + 100, "signature"),
        (HEADER_LEN + 159, "signature end"),
    ];
    for (at, what) in fields {
        let mut w = world();
        w.c2s().unwrap();
        let ch = out(&mut w.server, w.now);
        let err = feed(&mut w.client, &flip(&ch, at), w.now).unwrap_err();
        let ok = if what == "identity" {
            matches!(err, ProtoError::ServerKeyMismatch { .. })
        } else {
            matches!(err, ProtoError::BadSignature("server handshake"))
        };
        assert!(ok, "{what}: {err:?}");
        assert!(!w.client.wants_write(), "{what}: client sent nothing");
    }
    // Header fields. A client has no keys here and sends no plaintext
    // alert: nothing at all is queued.
    for (at, what) in [(0, "version"), (1, "type"), (4, "length"), (13, "seq")] {
        let mut w = world();
        w.c2s().unwrap();
        let ch = out(&mut w.server, w.now);
        let err = feed(&mut w.client, &flip(&ch, at), w.now).unwrap_err();
        let ok = match what {
            "version" => {
                matches!(err, ProtoError::UnsupportedVersion { got } if got == PROTOCOL_VERSION ^ 1)
            }
            "seq" => matches!(
                err,
                ProtoError::OutOfSequence {
                    expected: 0,
                    got: 1
                }
            ),
            _ => matches!(err, ProtoError::MalformedRecord(_)),
        };
        assert!(ok, "{what}: {err:?}");
        assert!(!w.client.wants_write(), "{what}: client sent nothing");
    }
}

#[test]
fn server_signature_cannot_pass_for_a_client_one() {
    // Contexts differ, so the same transcript hash signed by the server
    // does not verify as a client signature.
    let key = SigningKey::generate().unwrap();
    let th = [7u8; 32];
    let sig = key.sign(&[SERVER_SIGNATURE_CONTEXT, &th].concat()).unwrap();
    assert!(key
        .verifying_key()
        .verify(&[SERVER_SIGNATURE_CONTEXT, &th].concat(), &sig)
        .is_ok());
    assert!(key
        .verifying_key()
        .verify(&[CLIENT_SIGNATURE_CONTEXT, &th].concat(), &sig)
        .is_err());
}

/// Any bit of the encrypted RESPONSE (header or payload) breaks it, each
/// with its own error; the server, which has keys, queues exactly one
/// sealed alert with the matching code, which the client reads.
#[test]
fn response_tampering_each_field() {
    type Check = fn(&ProtoError) -> bool;
    let bad_record: Check = |e| matches!(e, ProtoError::BadRecord);
    let cases: [(usize, Check); 8] = [
        (
            0,
            |e| matches!(e, ProtoError::UnsupportedVersion { got } if *got == PROTOCOL_VERSION ^ 1),
        ),
        (1, |e| matches!(e, ProtoError::MalformedRecord(_))),
        // Length 145 -> 401: longer than any handshake record, refused
        // from the header before the session is established.
        (4, |e| {
            matches!(e, ProtoError::RecordTooLarge { len: 401, max: 160 })
        }),
        (9, bad_record),
        (13, bad_record),
        (HEADER_LEN, bad_record),
        (HEADER_LEN + 50, bad_record),
        (HEADER_LEN + 145 - 1, bad_record),
    ];
    for (at, expect) in cases {
        let mut w = world();
        let (_, _, response) = w.handshake_records();
        assert_eq!(response.len(), HEADER_LEN + 145);
        let err = must_fail(&mut w.server, &flip(&response, at), w.now);
        assert!(expect(&err), "byte {at}: {err:?}");
        assert!(!w.server.is_established());
        let bytes = out(&mut w.server, w.now);
        assert_eq!(
            sole_alert(&mut w.server, &bytes, 1),
            err.alert(),
            "byte {at}"
        );
        assert!(matches!(
            feed(&mut w.client, &bytes, w.now),
            Err(ProtoError::PeerAlert(c)) if c == err.alert()
        ));
    }
}
