//! The application's side: calls the state does not allow are refused
//! and change nothing, and nothing is sent once CLOSE was sent or
//! received.

use super::*;
use crate::proto::msgs::ResultCode;

#[test]
fn application_misuse_is_refused_locally_and_changes_nothing() {
    let mut w = world();
    assert!(matches!(w.client.close(), Err(ProtoError::InvalidCall(_))));
    assert!(matches!(
        w.client.request_list(),
        Err(ProtoError::InvalidCall(_))
    ));
    w.handshake();
    let quiet = |w: &mut World| {
        assert!(!w.client.wants_write() && !w.server.wants_write());
        assert!(w.client.error().is_none() && w.server.error().is_none());
    };
    assert!(matches!(
        w.client.send_data(b"x"),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(w.client.accept(), Err(ProtoError::InvalidCall(_))));
    assert!(matches!(
        w.client.send_result(&Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.server.offer_download(1),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        send_listing(&mut w.server, &[]),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(w.server.accept(), Err(ProtoError::InvalidCall(_))));
    assert!(matches!(
        w.server.refuse(&Outcome::new(ResultCode::NotFound, "")),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        w.client.request_upload("a/b", 1, false),
        Err(ProtoError::Name(NameError::NotBaseName(n))) if n == "a/b"
    ));
    assert!(matches!(
        w.client.request_download("../x"),
        Err(ProtoError::Name(_))
    ));
    quiet(&mut w);
    w.client.request_upload("a", 2, false).unwrap();
    assert!(matches!(
        w.client.request_list(),
        Err(ProtoError::InvalidCall(_))
    ));
    w.c2s().unwrap();
    // Refusing with Ok is not a refusal.
    assert!(matches!(
        w.server.refuse(&Outcome::ok()),
        Err(ProtoError::InvalidCall(_))
    ));
    w.server.accept().unwrap();
    assert!(matches!(w.server.accept(), Err(ProtoError::InvalidCall(_))));
    w.s2c().unwrap();
    assert!(
        matches!(w.client.send_data(b"abc"), Err(ProtoError::InvalidCall(_))),
        "past size"
    );
    assert!(matches!(
        w.client.send_data(b""),
        Err(ProtoError::InvalidCall(_))
    ));
    quiet(&mut w);
    w.client.send_data(b"ab").unwrap();
    // Still usable after refused calls.
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"ab".to_vec()), Got::Complete]
    );
}

/// Defect 10: a server that closes in the middle of a download is seen
/// as Closed by the client (after the data that came before), and the
/// client answers with its own CLOSE.
#[test]
fn server_close_mid_download_gives_the_client_closed() {
    let mut w = receiving_download(5 * 100);
    let content = data(500);
    w.server.send_data(&content[..100]).unwrap();
    w.server.send_data(&content[100..200]).unwrap();
    w.server.close().unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![
            Got::Data(content[..100].to_vec()),
            Got::Data(content[100..200].to_vec()),
            Got::Closed
        ]
    );
    assert!(w.client.is_closed());
    assert!(!w.client.is_established());
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert!(w.server.is_closed());
    // The end of the stream after the close is not a truncation.
    w.client.read_tls(&mut &[][..], w.now).unwrap();
    assert!(w.client.next_event().unwrap().is_none());
}

/// A call the state does not allow is refused and changes nothing. Fails
/// on the code before this test: `trust_server_key` at any other time,
/// and `offer_download` while a transfer ran, dropped the handshake state
/// or the transfer in progress, so the next record killed the session.
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
        w.server.offer_download(4),
        Err(ProtoError::InvalidCall(_))
    ));
    w.client.send_data(b"abcd").unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abcd".to_vec()), Got::Complete]
    );
    let mut w = receiving_download(4);
    assert!(matches!(
        w.server.offer_download(4),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(w.server.wants_data());
    w.server.send_data(b"abcd").unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Data(b"abcd".to_vec()), Got::Complete]
    );
    assert!(!w.client.wants_write() && !w.server.wants_write());
}

/// Once a side has sent or received CLOSE, no request or file data may
/// follow it: the calls return `Closed` (docs/PROTOCOL.md §5.1), queue
/// nothing, and `wants_data` is false, so a driver stops pumping. Fails on
/// the code before this test: after its own `close()` a side still wanted
/// and sent data (the peer, already closed, then failed on the CHUNK and
/// both sides ended in alerts), and a closed server answered InvalidCall.
#[test]
fn nothing_is_sent_after_close_and_calls_say_closed() {
    // The server closes mid-download: it stops wanting data.
    let mut w = receiving_download(200);
    w.server.send_data(&[1; 100]).unwrap();
    w.server.close().unwrap();
    assert!(!w.server.wants_data());
    assert!(matches!(
        w.server.send_data(&[2; 100]),
        Err(ProtoError::Closed)
    ));
    assert_eq!(w.s2c().unwrap(), vec![Got::Data(vec![1; 100]), Got::Closed]);
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert!(w.client.error().is_none() && w.server.error().is_none());
    assert!(w.client.is_closed() && w.server.is_closed());

    // The client closes mid-upload, then tries to go on.
    let mut w = receiving_upload(200);
    w.client.send_data(&[1; 100]).unwrap();
    w.client.close().unwrap();
    assert!(!w.client.wants_data());
    assert!(matches!(
        w.client.send_data(&[2; 100]),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(w.client.request_list(), Err(ProtoError::Closed)));
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(vec![1; 100]), Got::Closed]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
    assert!(w.client.error().is_none() && w.server.error().is_none());

    // A server with a pending decision when the client's CLOSE arrives.
    let mut w = established();
    w.client.request_download("f").unwrap();
    w.c2s().unwrap();
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert!(matches!(
        w.server.offer_download(5),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(
        w.server.refuse(&Outcome::new(ResultCode::NotFound, "")),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(
        send_listing(&mut w.server, &[]),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(w.server.accept(), Err(ProtoError::Closed)));
    assert!(matches!(
        w.server.send_result(&Outcome::ok()),
        Err(ProtoError::Closed)
    ));
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed], "only the CLOSE answer");
    // And a client with an offer pending when the server's CLOSE arrives.
    let mut w = established();
    w.client.request_download("f").unwrap();
    w.c2s().unwrap();
    w.server.offer_download(5).unwrap();
    w.server.close().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(5), Got::Closed]);
    assert!(matches!(w.client.accept(), Err(ProtoError::Closed)));
    assert!(matches!(
        w.client.refuse(&Outcome::new(ResultCode::TooLarge, "")),
        Err(ProtoError::Closed)
    ));
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed], "only the CLOSE answer");
}

/// A failed client answers every request with its sticky error
/// (docs/PROTOCOL.md §5.3), and a closing one with `Closed` (§5.1), also
/// when the name is one the rule refuses. Found by the `client_session`
/// fuzz target: after end of stream (`Truncated`),
/// `request_download("../x")` returned `Name`.
#[test]
fn requests_with_refused_names_get_the_sticky_error_or_closed() {
    let mut w = established();
    w.client.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.client.next_event(), Err(ProtoError::Truncated)));
    out(&mut w.client, w.now);
    let calls = [
        w.client.request_download("../x"),
        w.client.request_upload("a/b", 1, false),
        w.client.request_download("f"),
    ];
    for r in calls {
        assert!(matches!(r, Err(ProtoError::Truncated)), "{r:?}");
    }
    assert!(!w.client.wants_write());

    let mut w = established();
    w.client.close().unwrap();
    let calls = [
        w.client.request_download("../x"),
        w.client.request_upload("a/b", 1, false),
    ];
    for r in calls {
        assert!(matches!(r, Err(ProtoError::Closed)), "{r:?}");
    }
}

/// What a side sends on its own, not asked by a call (END after the ACCEPT
/// of an empty file, RESULT 2 for a refused name, RESULT 6 for a corrupt
/// file), is not sent either once it has sent CLOSE: the peer, closed by
/// the time it arrives, would fail on it and alert, so a message crossing
/// a CLOSE would turn an orderly close into alerts on both sides. Found by
/// the `server_session` fuzz target (minimized: the server closes, then a
/// GET with an empty name arrives; RESULT 2 followed the CLOSE).
#[test]
fn nothing_is_sent_on_its_own_after_close() {
    let ends_in_order = |w: &mut World, events: Vec<Got>, server_closed: bool| {
        let (first, second) = if server_closed {
            (w.s2c(), w.c2s())
        } else {
            (w.c2s(), w.s2c())
        };
        assert_eq!(first.unwrap(), vec![Got::Closed], "{events:?}");
        assert_eq!(second.unwrap(), vec![Got::Closed], "{events:?}");
        assert!(w.client.error().is_none() && w.server.error().is_none());
        assert!(w.client.is_closed() && w.server.is_closed());
    };

    // The server closes; a GET with a name the rule refuses crosses it.
    let mut w = established();
    w.server.close().unwrap();
    send_raw(&mut w.client, inner::GET, &[0, 0]); // an empty name
    let events = w.c2s().unwrap();
    assert!(matches!(events[..], [Got::NameRefused(_)]), "{events:?}");
    ends_in_order(&mut w, events, true);

    // The server offers an empty file and closes; the ACCEPT crosses it.
    let mut w = established();
    w.client.request_download("f").unwrap();
    w.c2s().unwrap();
    w.server.offer_download(0).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Offered(0)]);
    w.server.close().unwrap();
    w.client.accept().unwrap();
    let events = w.c2s().unwrap();
    ends_in_order(&mut w, events, true);

    // The client offers an empty file and closes; the ACCEPT crosses it.
    let mut w = established();
    w.client.request_upload("f", 0, false).unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    w.client.close().unwrap();
    let events = w.s2c().unwrap();
    ends_in_order(&mut w, events, false);

    // The server closes mid-upload; a file with a wrong hash crosses it.
    let mut w = receiving_upload(3);
    w.server.close().unwrap();
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &[0; 32]);
    let events = w.c2s().unwrap();
    assert_eq!(events, vec![Got::Data(b"abc".to_vec()), Got::Corrupt]);
    ends_in_order(&mut w, events, true);

    // The client closes mid-download; a file with a wrong hash crosses it.
    let mut w = receiving_download(3);
    w.client.close().unwrap();
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &[0; 32]);
    let events = w.s2c().unwrap();
    assert_eq!(events, vec![Got::Data(b"abc".to_vec()), Got::Corrupt]);
    ends_in_order(&mut w, events, false);
}

/// `transfer_sha256` is the whole-file SHA-256 once END was sent
/// (upload) or received and verified (download), `None` after a wrong
/// END, and forgotten when the next transfer is asked for.
#[test]
fn transfer_sha256_is_the_verified_hash_of_the_last_transfer() {
    use crate::crypto::hash::sha256;
    let mut w = established();
    assert_eq!(w.client.transfer_sha256(), None);
    let content = data(CHUNK_LEN + 1);
    upload(&mut w, "a", &content, CHUNK_LEN);
    assert_eq!(w.client.transfer_sha256(), Some(sha256(&content).unwrap()));
    // An empty file's END goes out with the ACCEPT.
    upload(&mut w, "e", &[], CHUNK_LEN);
    assert_eq!(w.client.transfer_sha256(), Some(sha256(&[]).unwrap()));
    download(&mut w, "a", &content, CHUNK_LEN);
    assert_eq!(w.client.transfer_sha256(), Some(sha256(&content).unwrap()));
    w.client.request_list().unwrap();
    assert_eq!(w.client.transfer_sha256(), Some(sha256(&content).unwrap()));

    let mut w = receiving_download(3);
    assert_eq!(w.client.transfer_sha256(), None);
    send_raw(&mut w.server, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.server, inner::END, &[0; 32]);
    assert_eq!(w.s2c().unwrap().last(), Some(&Got::Corrupt));
    assert_eq!(w.client.transfer_sha256(), None);
}
