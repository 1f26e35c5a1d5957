//! The receive buffer: [`HANDSHAKE_RECV_BUFFER_LEN`] bytes until the
//! session is established and needs more, so a connection that has sent
//! nothing, or only handshaken, costs little, then [`RECV_BUFFER_LEN`]; and the longest record a side accepts
//! before that (CHALLENGE's 160-byte payload) and one past it.

use super::super::{HANDSHAKE_RECV_BUFFER_LEN, RECV_BUFFER_LEN};
use super::*;
use crate::proto::record::CHALLENGE_LEN;
use crate::proto::MAX_PLAINTEXT_LEN;

/// An encrypted record's header with payload length `len` and sequence
/// number 0.
fn encrypted_header(len: usize) -> Vec<u8> {
    let mut h = vec![PROTOCOL_VERSION, RecordType::Encrypted as u8];
    h.extend_from_slice(&(len as u32).to_be_bytes());
    h.extend_from_slice(&0u64.to_be_bytes());
    h
}

/// Reads all of `record` into `c` without draining events: fails (rather
/// than looping) if the buffer cannot hold it whole.
fn read_whole(c: &mut ConnectionCore, record: &[u8], now: Instant) {
    let mut rd = record;
    while !rd.is_empty() {
        let n = c.read_tls(&mut rd, now).unwrap();
        assert!(n > 0, "the buffer is full with {} bytes left", rd.len());
    }
}

/// Fails on a connection that allocates the full buffer up front or at
/// the handshake, or never grows it (the full-size records would not fit).
#[test]
fn the_buffer_is_small_until_an_established_session_needs_more_then_takes_the_largest_record() {
    let mut w = world();
    assert_eq!(w.server.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
    assert_eq!(w.client.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
    let (_, _, response) = w.handshake_records();
    assert_eq!(w.server.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
    assert_eq!(w.client.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
    let got = feed(&mut w.server, &response, w.now).unwrap();
    assert_eq!(got, vec![Got::Established]);
    assert_eq!(w.server.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
    assert_eq!(w.s2c().unwrap(), vec![Got::Established]);
    assert_eq!(w.client.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);

    // A full CHUNK each way arrives as one record and one event.
    let full = data(CHUNK_LEN);
    w.client
        .request_upload("f", CHUNK_LEN as u64, false, None, false, T0)
        .unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("f", CHUNK_LEN as u64)]);
    let ticket = w.ticket();
    w.server.accept().unwrap();
    w.client.send_data(&full).unwrap();
    let bytes = out(&mut w.client, w.now);
    assert_eq!(records(&bytes).len(), 2, "CHUNK and END");
    read_whole(&mut w.server, &bytes, w.now);
    assert_eq!(w.server.recv_buffer_len(), RECV_BUFFER_LEN);
    let got = feed(&mut w.server, &[], w.now).unwrap();
    assert_eq!(
        got,
        vec![Got::Data(full.clone()), Got::complete(sha(&full))]
    );
    w.keep_statements(&got);
    w.store(ticket).unwrap();
    w.s2c().unwrap();
    assert_eq!(download(&mut w, "g", &full, CHUNK_LEN), full);

    // The largest record the protocol allows passes the record layer (the
    // CHUNK is then too long for the transfer rules).
    send_raw(
        &mut w.client,
        inner::CHUNK,
        &vec![0u8; MAX_PLAINTEXT_LEN - 1],
    );
    let rec = out(&mut w.client, w.now);
    assert_eq!(rec.len(), HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN);
    read_whole(&mut w.server, &rec, w.now);
    let err = w.server.next_event().unwrap_err();
    assert!(
        matches!(err, ProtoError::UnexpectedMessage { got: "CHUNK", .. }),
        "{err:?}"
    );
    assert_eq!(w.server.recv_buffer_len(), RECV_BUFFER_LEN);
}

/// Before the session is established a record may be as long as
/// CHALLENGE's payload (160 bytes): at that length the record layer takes
/// it (and refuses it as encrypted with no keys); one byte longer is
/// refused from the header alone, and the buffer stays small. The server
/// answers with a plaintext alert, the client with nothing.
#[test]
fn before_establishment_no_record_is_longer_than_challenge() {
    let at_limit = [encrypted_header(CHALLENGE_LEN), vec![0; CHALLENGE_LEN]].concat();
    let past = encrypted_header(CHALLENGE_LEN + 1);

    let mut w = world();
    let err = feed(&mut w.server, &at_limit, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    assert_eq!(out(&mut w.server, w.now), plain_alert(AlertCode::BadRecord));
    let mut w = world();
    let err = feed(&mut w.server, &past, w.now).unwrap_err();
    assert!(
        matches!(err, ProtoError::RecordTooLarge { len, max: CHALLENGE_LEN } if len == CHALLENGE_LEN + 1),
        "{err:?}"
    );
    assert_eq!(
        out(&mut w.server, w.now),
        plain_alert(AlertCode::ProtocolError)
    );
    assert_eq!(w.server.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);

    let mut w = world();
    out(&mut w.client, w.now); // HELLO
    let err = feed(&mut w.client, &at_limit, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    let mut w = world();
    out(&mut w.client, w.now);
    let err = feed(&mut w.client, &past, w.now).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::RecordTooLarge {
                max: CHALLENGE_LEN,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!w.client.wants_write());
    assert_eq!(w.client.recv_buffer_len(), HANDSHAKE_RECV_BUFFER_LEN);
}

/// A read stops at the end of the record being received once its header
/// is in. Fails on a buffer that reads whatever fits.
#[test]
fn a_read_ends_with_the_record_being_received() {
    let mut w = established();
    let full = data(CHUNK_LEN);
    w.client
        .request_upload("f", 2 * CHUNK_LEN as u64, false, None, false, T0)
        .unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.client.send_data(&full).unwrap();
    w.client.send_data(&full).unwrap();
    let bytes = out(&mut w.client, w.now);
    let first = records(&bytes)[0].len();
    let mut rd = &bytes[..];
    let mut read = 0;
    while read < first {
        let n = w.server.read_tls(&mut rd, w.now).unwrap();
        assert!(n > 0);
        read += n;
    }
    assert_eq!(read, first, "no byte of the next record was read");
}
