//! Every limit at its value and one past, between live connections:
//! chunk length, paths, reasons, the retry wait and the send high-water
//! mark (the listing's limits are in `listing.rs`, pipelining's in
//! `pipeline.rs`).

use super::super::SEND_HIGH_WATER;
use super::*;
use crate::proto::msgs::{Get, ResultCode, MAX_REASON_LEN, MAX_RETRY_AFTER_SECS};
use crate::proto::{TransferError, MAX_DEPTH, MAX_NAME_LEN, MAX_PATH_LEN, MAX_PLAINTEXT_LEN};

/// A CHUNK of CHUNK_LEN data bytes is accepted and one of CHUNK_LEN + 1
/// refused, on both receiving sides, though MAX_PLAINTEXT_LEN would let
/// the record through. Fails on a receiver that relies on the record
/// size alone.
#[test]
fn chunk_length_at_the_limit_and_one_past() {
    let full = data(CHUNK_LEN);
    let over = data(CHUNK_LEN + 1);
    assert!(1 + 8 + over.len() <= MAX_PLAINTEXT_LEN);
    let size = 3 * CHUNK_LEN as u64;

    let mut w = receiving_upload(size);
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, &full));
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(full.clone())]);
    send_raw(&mut w.client, inner::CHUNK, &chunk(CHUNK_LEN as u64, &over));
    let err = w.c2s().unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(TransferError::ChunkLength)),
        "{err:?}"
    );

    let mut w = receiving_download(size);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, &full));
    assert_eq!(w.s2c().unwrap(), vec![Got::Data(full.clone())]);
    send_raw(&mut w.server, inner::CHUNK, &chunk(CHUNK_LEN as u64, &over));
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(err, ProtoError::Transfer(TransferError::ChunkLength)),
        "{err:?}"
    );

    // The sending side refuses an oversize piece locally and goes on.
    let mut w = receiving_upload(size);
    assert!(matches!(
        w.client.send_data(&over),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(!w.client.wants_write());
    w.client.send_data(&full).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(full)]);
}

/// A role's `send_data`.
type SendData<E, T> = fn(&mut E, &[u8]) -> Result<Option<T>, ProtoError>;

/// Drives `c`, already sending a file of 8 full chunks, to just past the
/// high-water mark, then writes out bytes one step at a time: `wants` is
/// false with exactly SEND_HIGH_WATER bytes pending and true with one
/// fewer. Returns every byte written, the whole file sent.
fn high_water<E: Endpoint, T>(
    c: &mut E,
    wants: fn(&E) -> bool,
    send: SendData<E, T>,
    content: &[u8],
    now: Instant,
) -> Vec<u8> {
    let mut sent = 0;
    while wants(c) {
        send(c, &content[sent..sent + CHUNK_LEN]).unwrap();
        sent += CHUNK_LEN;
    }
    let pending = c.pending_output();
    assert!(pending >= SEND_HIGH_WATER && sent < content.len());
    let mut wire = Vec::new();
    c.write_tls(&mut Limited(&mut wire, pending - SEND_HIGH_WATER), now)
        .unwrap();
    assert_eq!(c.pending_output(), SEND_HIGH_WATER);
    assert!(!wants(c), "at the mark");
    c.write_tls(&mut Limited(&mut wire, 1), now).unwrap();
    assert_eq!(c.pending_output(), SEND_HIGH_WATER - 1);
    assert!(wants(c), "just below the mark");
    while sent < content.len() {
        send(c, &content[sent..sent + CHUNK_LEN]).unwrap();
        sent += CHUNK_LEN;
    }
    assert!(!wants(c), "all sent");
    wire.extend_from_slice(&out(c, now));
    wire
}

fn received(got: Vec<Got>) -> Vec<u8> {
    let mut v = Vec::new();
    let n = got.len();
    for (i, g) in got.into_iter().enumerate() {
        match g {
            Got::Data(d) => v.extend_from_slice(&d),
            Got::Complete(..) if i == n - 1 => {}
            other => panic!("{other:?}"),
        }
    }
    v
}

/// Fails on a `wants_data` that compares with `<=` (one full mark of
/// output beyond the limit) or ignores the output buffer.
#[test]
fn wants_data_is_true_just_below_the_high_water_mark_and_false_at_it() {
    let content = data(8 * CHUNK_LEN);
    let mut w = receiving_upload(content.len() as u64);
    let wire = high_water(
        &mut w.client,
        ClientConnection::wants_data,
        ClientConnection::send_data,
        &content,
        w.now,
    );
    let got = feed(&mut w.server, &wire, w.now).unwrap();
    assert_eq!(got.last(), Some(&Got::complete(sha(&content))));
    assert_eq!(received(got), content);

    let mut w = receiving_download(content.len() as u64);
    let wire = high_water(
        &mut w.server,
        ServerConnection::wants_data,
        ServerConnection::send_data,
        &content,
        w.now,
    );
    let got = feed(&mut w.client, &wire, w.now).unwrap();
    assert_eq!(got.last(), Some(&Got::complete(sha(&content))));
    assert_eq!(received(got), content);
}

/// A component of MAX_NAME_LEN bytes and a path of MAX_PATH_LEN bytes
/// and MAX_DEPTH components cross the wire as sent; one byte or component
/// more is refused locally (nothing is sent) and the session goes on. A
/// path_len past MAX_PATH_LEN on the wire is a malformed body: fatal.
#[test]
fn path_limits_at_the_limit_and_one_past() {
    let name = "n".repeat(MAX_NAME_LEN);
    let mut long = vec!["a".repeat(200); 20].join("/");
    long.push('/');
    long.push_str(&"b".repeat(MAX_PATH_LEN - long.len()));
    let deep = vec!["d"; MAX_DEPTH].join("/");
    let mut w = established();
    for path in [&name, &long, &deep] {
        w.client
            .request_upload(path, 1, false, None, false, T0)
            .unwrap();
        assert_eq!(w.c2s().unwrap(), vec![Got::upload(path, 1)]);
        let t = w.ticket();
        w.server
            .refuse_upload(t, Outcome::new(ResultCode::Exists, ""))
            .unwrap();
        assert_eq!(
            w.s2c().unwrap(),
            vec![Got::Outcome(Outcome::new(ResultCode::Exists, ""))]
        );
        assert_eq!(w.c2s().unwrap(), vec![], "the cut END is skipped");
    }
    let past = [
        (format!("{name}n"), NameError::TooLong(MAX_NAME_LEN + 1)),
        (format!("{long}b"), NameError::PathTooLong(MAX_PATH_LEN + 1)),
        (format!("{deep}/d"), NameError::TooDeep(MAX_DEPTH + 1)),
    ];
    for (path, want) in past {
        let err = w.client.request_download(&path, 1, None).unwrap_err();
        assert!(matches!(&err, ProtoError::Name(e) if *e == want), "{err:?}");
        let err = w.client.request_mkdir(&path, None).unwrap_err();
        assert!(matches!(&err, ProtoError::Name(e) if *e == want), "{err:?}");
        assert!(!w.client.wants_write());
    }
    assert!(w.client.can_request() && w.client.error().is_none());

    let body = |len: usize| {
        let get = Get {
            path: vec![b'p'; len],
            max_size: 1,
            held: crate::proto::msgs::Prefix::NONE,
        };
        get.encode()
    };
    let mut w = established();
    send_raw(&mut w.client, inner::GET, &body(MAX_PATH_LEN));
    let got = w.c2s().unwrap();
    assert!(
        matches!(
            &got[..],
            [Got::NameRefused(NameError::TooLong(MAX_PATH_LEN))]
        ),
        "{got:?}"
    );
    send_raw(&mut w.client, inner::GET, &body(MAX_PATH_LEN + 1));
    let err = w.c2s().unwrap_err();
    assert!(
        matches!(err, ProtoError::MalformedMessage("GET")),
        "{err:?}"
    );
}

/// A reason of MAX_REASON_LEN bytes arrives whole; a longer one arrives
/// cut at a character boundary; a RESULT that carries a longer one is
/// malformed.
#[test]
fn reason_length_at_the_limit_and_past() {
    let refuse = |reason: String| {
        let mut w = established();
        w.client.request_download("x", 1, None).unwrap();
        w.c2s().unwrap();
        w.server
            .refuse(&Outcome::new(ResultCode::NotFound, reason))
            .unwrap();
        match w.s2c().unwrap().pop() {
            Some(Got::Outcome(o)) => o.reason,
            other => panic!("{other:?}"),
        }
    };
    let at = "r".repeat(MAX_REASON_LEN);
    assert_eq!(refuse(at.clone()), at);
    assert_eq!(refuse("r".repeat(MAX_REASON_LEN + 1)), at);
    // 2-byte characters: 255 would split one, so 254 bytes arrive.
    assert_eq!(refuse("é".repeat(200)), "é".repeat(127));

    let mut w = established();
    w.client.request_download("x", 1, None).unwrap();
    w.c2s().unwrap();
    let long = "r".repeat(MAX_REASON_LEN + 1);
    let body = [
        &[ResultCode::NotFound as u8, 0, 0][..],
        &(long.len() as u16).to_be_bytes(),
        long.as_bytes(),
    ]
    .concat();
    send_raw(&mut w.server, inner::RESULT, &body);
    let err = w.s2c().unwrap_err();
    assert!(
        matches!(err, ProtoError::MalformedMessage("RESULT")),
        "{err:?}"
    );
}

/// The typed wait: 1 to MAX_RETRY_AFTER_SECS with RateLimited arrives as
/// sent; 0 or one past with RateLimited, and any wait with another code,
/// are fatal for the client.
#[test]
fn retry_after_at_the_limit_and_past() {
    let asked = |w: &mut World| {
        w.client.request_download("x", 1, None).unwrap();
        w.c2s().unwrap();
    };
    for secs in [1, MAX_RETRY_AFTER_SECS] {
        let mut w = established();
        asked(&mut w);
        let outcome = Outcome::rate_limited(u64::from(secs), "busy");
        assert_eq!(outcome.retry_after_secs, secs);
        w.server.refuse(&outcome).unwrap();
        assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(outcome)]);
    }
    let bad = [
        (ResultCode::RateLimited, MAX_RETRY_AFTER_SECS + 1),
        (ResultCode::RateLimited, 0),
        (ResultCode::RateLimited, u16::MAX),
        (ResultCode::NotFound, 1),
        (ResultCode::Ok, MAX_RETRY_AFTER_SECS),
    ];
    for (code, secs) in bad {
        let mut w = established();
        asked(&mut w);
        let body = [&[code as u8][..], &secs.to_be_bytes(), &[0, 0]].concat();
        send_raw(&mut w.server, inner::RESULT, &body);
        let err = w.s2c().unwrap_err();
        assert!(
            matches!(err, ProtoError::MalformedMessage("RESULT")),
            "{code:?} {secs}: {err:?}"
        );
        let bytes = out(&mut w.client, w.now);
        assert_eq!(
            sole_alert(&mut w.client, &bytes, 3),
            AlertCode::ProtocolError
        );
    }
}

/// An Outcome built by hand with a wait out of range still goes out as a
/// valid RESULT (the wait brought into range, as the reason is cut), so
/// a local slip cannot make the peer fail the session. Fails on the code
/// before this test, which sent the wait as given: the client then failed
/// with MalformedMessage and alerted.
#[test]
fn an_outcome_built_by_hand_is_sent_with_a_valid_wait() {
    let cases = [
        (ResultCode::NotFound, 5, 0),
        (ResultCode::RateLimited, 0, 1),
        (
            ResultCode::RateLimited,
            MAX_RETRY_AFTER_SECS + 1,
            MAX_RETRY_AFTER_SECS,
        ),
        (ResultCode::RateLimited, 7, 7),
    ];
    for (code, given, sent) in cases {
        let mut w = established();
        w.client.request_download("x", 1, None).unwrap();
        w.c2s().unwrap();
        let outcome = Outcome {
            code,
            retry_after_secs: given,
            reason: "r".into(),
        };
        w.server.refuse(&outcome).unwrap();
        assert_eq!(
            w.s2c().unwrap(),
            vec![Got::Outcome(Outcome {
                retry_after_secs: sent,
                ..outcome
            })],
            "{code:?} {given}"
        );
    }
}
