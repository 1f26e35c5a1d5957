//! Close (docs/PROTOCOL.md §5.1): nothing is sent once CLOSE was sent or
//! received, calls say `Closed`, and each side reads on to the peer's
//! CLOSE whatever it was doing.

use super::*;
use crate::proto::msgs::ResultCode;

fn not_found() -> Outcome {
    Outcome::new(ResultCode::NotFound, "")
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

/// Once a side has sent or received CLOSE, no request or file data may
/// follow it: the calls return `Closed` (docs/PROTOCOL.md §5.1), queue
/// nothing, and `wants_data` is false, so a driver stops pumping. Fails on
/// code where after its own `close()` a side still wanted and sent data
/// (the peer, already closed, then failed on the CHUNK and both sides
/// ended in alerts), or a closed server answered InvalidCall.
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
    assert!(!w.client.wants_data() && !w.client.can_request());
    assert!(matches!(
        w.client.send_data(&[2; 100]),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(w.client.request_list(""), Err(ProtoError::Closed)));
    assert_eq!(w.c2s().unwrap(), vec![Got::Data(vec![1; 100]), Got::Closed]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
    assert!(w.client.error().is_none() && w.server.error().is_none());

    // The client closes behind a MKDIR: the server reads both, and the
    // answer it gives afterwards is not sent; every call says Closed.
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d"), Got::Closed]);
    let t = w.ticket();
    w.server.answer(t, Outcome::ok()).unwrap();
    assert!(matches!(
        w.server.offer_download(5, Meta::default(), None, T0),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(
        w.server.refuse(&not_found()),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(
        send_listing(&mut w.server, &[]),
        Err(ProtoError::Closed)
    ));
    assert!(matches!(w.server.accept(), Err(ProtoError::Closed)));
    assert!(matches!(
        w.server.refuse_upload(t, not_found()),
        Err(ProtoError::Closed)
    ));
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed], "only the CLOSE answer");

    // A server deciding on a GET reads nothing, not even CLOSE, until it
    // has decided (§4.3 rule 5); then it reads the CLOSE.
    let mut w = established();
    w.client.request_download("f", 1, None).unwrap();
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download("f".into(), 1)]);
    assert!(w.server.waits_for_app());
    w.server.refuse(&not_found()).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Outcome(not_found()), Got::Closed]
    );
    assert!(w.client.error().is_none() && w.server.error().is_none());
}

/// A server that has sent CLOSE reads on to the client's CLOSE, whatever
/// it was waiting for (a decision, its own sending, owed answers), and
/// drops the messages that crossed its CLOSE: nothing can answer them.
/// Fails on the code before this test, which kept waiting for a decision
/// that every call now refused with `Closed`, so the session hung until
/// the idle timeout.
#[test]
fn a_closing_server_reads_on_to_the_clients_close() {
    let ends_in_order = |w: &mut World| {
        assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
        assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
        assert!(w.client.error().is_none() && w.server.error().is_none());
        assert!(w.client.is_closed() && w.server.is_closed());
        assert!(!w.server.wants_write(), "nothing after the CLOSE");
    };

    // Deciding on an upload, whose data and a MKDIR follow.
    let mut w = established();
    w.client
        .request_upload("f", 3, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"abc").unwrap();
    w.client.request_mkdir("d", None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("f", 3)]);
    assert!(w.server.waits_for_app());
    w.server.close().unwrap();
    assert!(!w.server.waits_for_app());
    assert!(matches!(w.server.accept(), Err(ProtoError::Closed)));
    ends_in_order(&mut w);

    // Deciding on a GET, and holding a LIST behind an owed answer.
    let mut w = established();
    w.client.request_download("f", 1, None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download("f".into(), 1)]);
    w.server.close().unwrap();
    ends_in_order(&mut w);
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.client.request_list("d").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
    w.server.close().unwrap();
    ends_in_order(&mut w);

    // Idle: a GET with a path the rule refuses crosses the CLOSE; no
    // RESULT 2 follows it. Found by the `server_session` fuzz target.
    let mut w = established();
    w.server.close().unwrap();
    send_raw(&mut w.client, inner::GET, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(w.c2s().unwrap(), vec![]);
    ends_in_order(&mut w);

    // Receiving: a file with a wrong hash crosses it; no RESULT 6.
    let mut w = receiving_upload(3);
    w.server.close().unwrap();
    send_raw(&mut w.client, inner::CHUNK, &chunk(0, b"abc"));
    send_raw(&mut w.client, inner::END, &End::Abandoned.encode());
    assert_eq!(w.c2s().unwrap(), vec![]);
    ends_in_order(&mut w);
}

/// The END that cuts a refused upload is not sent once the client has
/// sent CLOSE: the server, closed by the time it arrived, would fail on
/// it, turning an orderly close into alerts on both sides.
#[test]
fn a_closing_client_does_not_cut_a_refused_upload() {
    let mut w = receiving_upload(3);
    w.client.send_data(b"a").unwrap();
    w.client.close().unwrap();
    let sent = out(&mut w.client, w.now); // CHUNK, CLOSE
    let t = w.ticket();
    w.server
        .refuse_upload(t, Outcome::new(ResultCode::IoError, "disk"))
        .unwrap();
    let events = w.s2c().unwrap();
    assert!(
        matches!(&events[..], [Got::Outcome(o)] if o.code == ResultCode::IoError),
        "{events:?}"
    );
    assert!(!w.client.wants_write(), "no END after CLOSE");
    assert_eq!(
        feed(&mut w.server, &sent, w.now).unwrap(),
        vec![Got::Closed]
    );
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
    assert!(w.client.error().is_none() && w.server.error().is_none());
}
