//! The application's side: calls the state does not allow are refused
//! and change nothing; the hashes the client reports.

use super::*;
use crate::proto::msgs::ResultCode;

fn not_found() -> Outcome {
    Outcome::new(ResultCode::NotFound, "")
}

#[test]
fn application_misuse_is_refused_locally_and_changes_nothing() {
    let mut w = world();
    assert!(matches!(w.client.close(), Err(ProtoError::InvalidCall(_))));
    assert!(matches!(
        w.client.request_list(""),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(!w.client.can_request());
    w.handshake();
    assert!(w.client.can_request());
    let quiet = |w: &mut World| {
        assert!(!w.client.wants_write() && !w.server.wants_write());
        assert!(w.client.error().is_none() && w.server.error().is_none());
    };
    assert!(matches!(
        w.client.send_data(b"x"),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.server.offer_download(1, Meta::default(), None, T0),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        send_listing(&mut w.server, &[]),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(w.server.accept(), Err(ProtoError::InvalidCall(_))));
    assert!(matches!(
        w.server.refuse(&not_found()),
        Err(ProtoError::InvalidCall(_))
    ));
    // Paths this side would send must pass the path rule.
    assert!(matches!(
        w.client.request_upload("a/../b", 1, false, None, false, T0),
        Err(ProtoError::Name(NameError::NotRelative(p))) if p == "a/../b"
    ));
    assert!(matches!(
        w.client.request_download("../x", 1, None),
        Err(ProtoError::Name(NameError::NotRelative(_)))
    ));
    assert!(matches!(
        w.client.request_mkdir("/x", None),
        Err(ProtoError::Name(NameError::NotRelative(_)))
    ));
    assert!(matches!(
        w.client.request_list("a//b"),
        Err(ProtoError::Name(NameError::NotRelative(_)))
    ));
    assert_eq!(w.client.in_flight(), 0);
    quiet(&mut w);

    // While an upload's data remains, no other request may go out.
    w.client
        .request_upload("a", 2, false, None, false, T0)
        .unwrap();
    assert!(!w.client.can_request());
    assert!(matches!(
        w.client.request_list(""),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("a", 2)]);
    let t = w.ticket();
    // Refusing with Ok is not a refusal.
    assert!(matches!(
        w.server.refuse_upload(t, Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.server.refuse(&not_found()),
        Err(ProtoError::InvalidCall(_))
    ));
    w.server.accept().unwrap();
    assert!(matches!(w.server.accept(), Err(ProtoError::InvalidCall(_))));
    assert!(
        matches!(w.client.send_data(b"abc"), Err(ProtoError::InvalidCall(_))),
        "past size"
    );
    assert!(matches!(
        w.client.send_data(b""),
        Err(ProtoError::InvalidCall(_))
    ));
    quiet(&mut w);
    // Still usable after refused calls.
    assert_eq!(w.client.send_data(b"ab").unwrap(), Some(sha(b"ab")));
    assert!(w.client.can_request());
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"ab".to_vec()), Got::complete(sha(b"ab"))]
    );
    w.store(t).unwrap();
    // A ticket answers once.
    assert!(matches!(
        w.server.answer(t, Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    quiet(&mut w);
}

/// A call the state does not allow is refused and changes nothing. Fails
/// on code where `trust_server_key` at any other time, or
/// `offer_download` or `refuse_upload` while something else ran, dropped
/// the handshake state or the operation in progress, so the next record
/// killed the session.
#[test]
fn refused_calls_leave_the_handshake_and_the_transfer_in_progress() {
    // trust_server_key while awaiting SESSION_ESTABLISHED, and once open.
    let mut w = world();
    w.c2s().unwrap();
    w.s2c().unwrap();
    assert!(matches!(
        w.client.trust_server_key(),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(w.c2s().unwrap(), vec![Got::Established]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Established]);
    assert!(matches!(
        w.client.trust_server_key(),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(w.client.is_established());
    assert_eq!(upload(&mut w, "a", b"abc", 2), b"abc");

    // offer_download during an upload, and during a download.
    let mut w = receiving_upload(4);
    assert!(matches!(
        w.server.offer_download(4, Meta::default(), None, T0),
        Err(ProtoError::InvalidCall(_))
    ));
    w.client.send_data(b"abcd").unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abcd".to_vec()), Got::complete(sha(b"abcd"))]
    );
    let mut w = receiving_download(4);
    assert!(matches!(
        w.server.offer_download(4, Meta::default(), None, T0),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(w.server.wants_data());
    w.server.send_data(b"abcd").unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(b"abcd".to_vec()), Got::complete(sha(b"abcd"))]
    );
    assert!(!w.client.wants_write() && !w.server.wants_write());

    // refuse_upload with a MKDIR's ticket while no upload runs: refused,
    // and the MKDIR is still owed its answer.
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
    let t = w.ticket();
    assert!(matches!(
        w.server.refuse_upload(t, not_found()),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(w.server.answers_owed(), 1);
    assert!(!w.server.wants_write());
    w.server.answer(t, Outcome::ok()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    assert_eq!(w.client.in_flight(), 0);
}

/// A failed client answers every request with its sticky error
/// (docs/PROTOCOL.md §5.3), and a closing one with `Closed` (§5.1), also
/// when the path is one the rule refuses. Found by the `client_session`
/// fuzz target: after end of stream (`Truncated`),
/// `request_download("../x")` returned `Name`.
#[test]
fn requests_with_refused_paths_get_the_sticky_error_or_closed() {
    let mut w = established();
    w.client.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.client.next_event(), Err(ProtoError::Truncated)));
    out(&mut w.client, w.now);
    let calls = [
        w.client.request_download("../x", 1, None),
        w.client
            .request_upload("a/../b", 1, false, None, false, T0)
            .map(drop),
        w.client.request_mkdir("/d", None),
        w.client.request_list("a//b"),
        w.client.request_download("f", 1, None),
    ];
    for r in calls {
        assert!(matches!(r, Err(ProtoError::Truncated)), "{r:?}");
    }
    assert!(!w.client.wants_write());

    let mut w = established();
    w.client.close().unwrap();
    let calls = [
        w.client.request_download("../x", 1, None),
        w.client
            .request_upload("a/../b", 1, false, None, false, T0)
            .map(drop),
        w.client.request_mkdir("/d", None),
        w.client.request_list("a//b"),
    ];
    for r in calls {
        assert!(matches!(r, Err(ProtoError::Closed)), "{r:?}");
    }
}

/// The whole-file SHA-256 the client reports: `send_data` returns it with
/// the last byte (the END's), `request_upload` returns an empty file's at
/// once, and ReceiveComplete carries a download's; a wrong END is
/// ReceiveCorrupt, with nothing sent back.
#[test]
fn the_client_reports_the_sent_and_verified_hashes() {
    let mut w = established();
    let content = data(CHUNK_LEN + 1);
    upload(&mut w, "a", &content, CHUNK_LEN); // checks send_data's hash
    assert_eq!(
        w.client
            .request_upload("e", 0, false, None, false, T0)
            .unwrap(),
        Some(sha(&[]))
    );
    assert!(w.client.can_request(), "an empty file's END went out");
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::upload("e", 0)],
        "END waits for the decision"
    );
    w.server.accept().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::complete(sha(&[]))]);
    let t = w.ticket();
    w.store(t).unwrap();
    w.s2c().unwrap();
    download(&mut w, "a", &content, CHUNK_LEN); // checks the event's hash

    let mut w = receiving_download(3);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &end_body([1; 32]));
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::Corrupt]
    );
    assert!(!w.client.wants_write());
    assert_eq!(w.client.in_flight(), 0);
}

/// The upload in progress is answered only through `refuse_upload` with
/// its own ticket (or, once complete, `answer`): `refuse_upload` with
/// another request's ticket, and `answer` for the upload while it is
/// offered or being received, are refused and change nothing. Fails on
/// the code before this test, where the first skipped the upload and left
/// its answer owed forever (every later RESULT waited behind it), and
/// the second sent its RESULT while the client was still sending (OK is
/// then fatal for the client, a refusal cut the file and the server,
/// still receiving, failed on the short END).
#[test]
fn the_upload_in_progress_is_answered_only_under_its_own_ticket() {
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.client
        .request_upload("f", 2, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"a").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d"), Got::upload("f", 2)]);
    let (d, f) = (w.ticket(), w.ticket());
    let quiet = |w: &mut World| {
        assert!(!w.server.wants_write() && w.server.error().is_none());
        assert_eq!(w.server.answers_owed(), 2);
    };
    assert!(matches!(
        w.server.refuse_upload(d, not_found()),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.server.answer(f, Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    quiet(&mut w);
    w.server.accept().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(b"a".to_vec())]);
    assert!(matches!(
        w.server.answer(f, not_found()),
        Err(ProtoError::InvalidCall(_))
    ));
    quiet(&mut w);
    w.client.send_data(b"b").unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"b".to_vec()), Got::complete(sha(b"ab"))]
    );
    w.store(f).unwrap();
    w.server.answer(d, Outcome::ok()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok()); 2]);
}
