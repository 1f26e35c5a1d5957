//! The record layer between two live connections: tampering, replay,
//! drop, reorder, reflection, oversize headers, truncation, and what a
//! failed seal leaves on the wire.

use super::*;
use crate::proto::MAX_PLAINTEXT_LEN;

/// Two consecutive application records from the client: a MKDIR, then a
/// LIST of the root (both pipelined).
fn two_client_records(w: &mut World) -> (Vec<u8>, Vec<u8>) {
    w.client.request_mkdir("a", None).unwrap();
    let first = out(&mut w.client, w.now);
    w.client.request_list("").unwrap();
    let second = out(&mut w.client, w.now);
    (first, second)
}

/// The server failed with `err`: it queued exactly one sealed alert with
/// the code for `err`, which the client reads, and the error is sticky.
fn server_told_client(w: &mut World, err: &ProtoError) {
    let bytes = out(&mut w.server, w.now);
    assert_eq!(sole_alert(&mut w.server, &bytes, 2), err.alert(), "{err:?}");
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(c)) if c == err.alert()
    ));
    assert_eq!(
        format!("{:?}", w.server.next_event().unwrap_err()),
        format!("{err:?}"),
        "sticky"
    );
    assert!(!w.server.wants_write(), "no second alert");
    assert!(w.server.poll_timeout().is_none());
}

#[test]
fn records_bit_flipped_replayed_dropped_reordered_reflected() {
    // Bit flips in header and payload, each with its own error. The MKDIR
    // record is 14 + 31 bytes (type, 2 + 1 path, flags, mode, mtime, tag).
    type Check = fn(&ProtoError) -> bool;
    let bad_record: Check = |e| matches!(e, ProtoError::BadRecord);
    let cases: [(usize, Check); 9] = [
        (
            0,
            |e| matches!(e, ProtoError::UnsupportedVersion { got } if *got == PROTOCOL_VERSION ^ 1),
        ),
        (1, |e| matches!(e, ProtoError::MalformedRecord(_))),
        // Length 31 -> 65,567: the record never completes.
        (3, |e| matches!(e, ProtoError::Truncated)),
        (6, bad_record),
        (13, bad_record),
        (14, bad_record),
        (15, bad_record),
        (20, bad_record),
        (HEADER_LEN + 31 - 1, bad_record),
    ];
    for (at, expect) in cases {
        let mut w = established();
        let (rec, _) = two_client_records(&mut w);
        assert_eq!(rec.len(), HEADER_LEN + 31);
        let err = must_fail(&mut w.server, &flip(&rec, at), w.now);
        assert!(expect(&err), "byte {at}: {err:?}");
        server_told_client(&mut w, &err);
    }

    // Replay.
    let mut w = established();
    let (first, _) = two_client_records(&mut w);
    assert_eq!(
        feed(&mut w.server, &first, w.now).unwrap(),
        vec![Got::mkdir("a")]
    );
    let err = feed(&mut w.server, &first, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    server_told_client(&mut w, &err);

    // Drop.
    let mut w = established();
    let (_, second) = two_client_records(&mut w);
    let err = feed(&mut w.server, &second, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    server_told_client(&mut w, &err);

    // Reorder.
    let mut w = established();
    let (first, second) = two_client_records(&mut w);
    let err = feed(&mut w.server, &[second, first].concat(), w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    server_told_client(&mut w, &err);

    // Reflection: the client's own record sent back to it (same number as
    // the server's next record, other key).
    let mut w = established();
    let (first, _) = two_client_records(&mut w);
    assert!(matches!(
        feed(&mut w.client, &first, w.now),
        Err(ProtoError::BadRecord)
    ));
}

#[test]
fn plaintext_after_keys_is_a_bad_record() {
    let mut w = established();
    let err = feed(&mut w.server, &plain_alert(AlertCode::Busy), w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    server_told_client(&mut w, &err);
}

#[test]
fn oversize_length_is_refused_from_the_header_alone() {
    let mut w = established();
    let mut header = [0u8; HEADER_LEN];
    header[0] = PROTOCOL_VERSION;
    header[1] = RecordType::Encrypted as u8;
    header[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    header[6..].copy_from_slice(&2u64.to_be_bytes());
    let err = feed(&mut w.server, &header, w.now).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::RecordTooLarge { len, max }
                if len == u32::MAX as usize && max == MAX_PLAINTEXT_LEN + TAG_LEN
        ),
        "{err:?}"
    );
    assert_eq!(
        w.server.recv_buffer_len(),
        super::super::HANDSHAKE_RECV_BUFFER_LEN,
        "the receive buffer does not grow for a length it refuses"
    );
    server_told_client(&mut w, &err);
}

#[test]
fn cut_connection_mid_transfer_is_truncation_not_an_end() {
    let mut w = receiving_upload(100);
    w.client.send_data(&[1u8; 50]).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(vec![1u8; 50])]);
    w.server.read_tls(&mut &[][..], w.now).unwrap();
    let err = w.server.next_event().unwrap_err();
    assert!(matches!(err, ProtoError::Truncated), "{err:?}");
    let bytes = out(&mut w.server, w.now);
    assert_eq!(
        sole_alert(&mut w.server, &bytes, 2),
        AlertCode::ProtocolError
    );
}

/// Defect 4 at the connection: a record that cannot be sealed is fatal,
/// leaves nothing of itself, and the alert that follows takes the number
/// the failed record did not use, so it is sealed under a fresh nonce and
/// the peer reads it. Fails on an implementation that numbers a record
/// before sealing it (the peer would see a gap: BadRecord) or writes its
/// header first.
#[test]
fn unsealable_record_leaves_nothing_and_the_alert_takes_its_number() {
    let mut w = established();
    let c = core(&mut w.client);
    let err = c
        .send(inner::CHUNK, &[&vec![0u8; MAX_PLAINTEXT_LEN]])
        .unwrap_err();
    assert!(matches!(err, ProtoError::InvalidCall(_)), "{err:?}");
    let bytes = out(&mut w.client, w.now);
    assert_eq!(sole_alert(&mut w.client, &bytes, 2), AlertCode::Internal);
    assert!(matches!(
        feed(&mut w.server, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::Internal))
    ));
}

/// Defect 4 with an OpenSSL failure: nothing of the record (not its
/// plaintext, not its header) reaches the wire, and no alert is sealed
/// at all, since the nonce may have been used. Fails on the pre-rewrite
/// connection, which left the plaintext request in the output and then
/// sealed its alert under the same sequence number.
#[test]
fn openssl_seal_failure_leaves_nothing_on_the_wire() {
    let mut w = established();
    w.client.sealer.fail_next_seal();
    let err = w
        .client
        .request_download("secret-name.txt", 1, None)
        .unwrap_err();
    assert!(matches!(err, ProtoError::Crypto(_)), "{err:?}");
    assert_eq!(w.client.pending_output(), 0);
    assert!(!w.client.wants_write());
    assert!(matches!(w.client.next_event(), Err(ProtoError::Crypto(_))));
    assert!(matches!(w.client.close(), Err(ProtoError::Crypto(_))));
    assert!(!w.client.wants_write());
    // The server sees the stream end: a truncation, not a request.
    w.server.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.server.next_event(), Err(ProtoError::Truncated)));
}
