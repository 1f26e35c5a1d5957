//! Pipelining (docs/PROTOCOL.md §4.3): answers go out in request order
//! whatever order the application gives them in, the client keeps at most
//! MAX_IN_FLIGHT requests pending, the server stops reading at
//! MAX_IN_FLIGHT owed answers, and a GET or LIST behind an owed answer is
//! held until that answer has gone out.

use super::*;
use crate::proto::msgs::{Mkdir, ResultCode};
use crate::proto::MAX_IN_FLIGHT;

fn ok(reason: &str) -> Outcome {
    Outcome::new(ResultCode::Ok, reason)
}

/// The codes and reasons of the RESULTs `side` has queued, opened with
/// its own key (for answers the client would not take).
fn results_sent(side: &mut ServerConnection, now: Instant) -> Vec<Outcome> {
    let bytes = out(side, now);
    open_own(side, &bytes)
        .into_iter()
        .map(|(t, body)| {
            assert_eq!(t, inner::RESULT);
            Outcome::parse(&body).unwrap()
        })
        .collect()
}

/// Fails on a server that sends each answer when it is given: the
/// tickets are answered last first, and the RESULTs still go out first
/// request first, each once its turn has come.
#[test]
fn answers_go_out_in_request_order_whatever_order_they_are_given_in() {
    let mut w = established();
    w.client.request_mkdir("a", None).unwrap();
    w.client
        .request_upload("b", 3, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"abc").unwrap();
    w.client.request_mkdir("c", None).unwrap();
    w.client.request_mkdir("d", None).unwrap();
    assert_eq!(w.client.in_flight(), 4);
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("a"), Got::upload("b", 3)]);
    w.server.accept().unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![
            Got::Data(b"abc".to_vec()),
            Got::complete(sha(b"abc")),
            Got::mkdir("c"),
            Got::mkdir("d")
        ]
    );
    let t: Vec<Ticket> = (0..4).map(|_| w.ticket()).collect();
    assert_eq!(w.server.answers_owed(), 4);
    w.server.answer(t[3], ok("d")).unwrap();
    w.server.answer(t[2], ok("c")).unwrap();
    w.server
        .answer(t[1], Outcome::new(ResultCode::IoError, "b"))
        .unwrap();
    assert!(!w.server.wants_write(), "the first answer is not known yet");
    assert_eq!(w.server.answers_owed(), 4);
    w.server.answer(t[0], ok("a")).unwrap();
    assert_eq!(w.server.answers_owed(), 0);
    assert_eq!(
        w.s2c().unwrap(),
        vec![
            Got::Outcome(ok("a")),
            Got::Outcome(Outcome::new(ResultCode::IoError, "b")),
            Got::Outcome(ok("c")),
            Got::Outcome(ok("d")),
        ]
    );
    assert_eq!(w.client.in_flight(), 0);

    // Given in the middle: the first goes out at once, the third waits
    // for the second.
    w.client.request_mkdir("e", None).unwrap();
    w.client.request_mkdir("f", None).unwrap();
    w.client.request_mkdir("g", None).unwrap();
    w.c2s().unwrap();
    let t: Vec<Ticket> = (0..3).map(|_| w.ticket()).collect();
    w.server.answer(t[0], ok("e")).unwrap();
    w.server.answer(t[2], ok("g")).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(ok("e"))]);
    w.server.answer(t[1], ok("f")).unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Outcome(ok("f")), Got::Outcome(ok("g"))]
    );
}

/// The client's limit at its value and one past: with 63 requests
/// pending a 64th may go out, with 64 none may (InvalidCall, nothing
/// sent), and an answer makes room for one.
#[test]
fn the_client_keeps_at_most_max_in_flight_requests_pending() {
    let mut w = established();
    for i in 0..MAX_IN_FLIGHT {
        assert!(w.client.can_request(), "{i} pending");
        w.client.request_mkdir(&format!("d{i}"), None).unwrap();
        assert_eq!(w.client.in_flight(), i + 1);
    }
    assert!(!w.client.can_request());
    let queued = w.client.pending_output();
    let refused = [
        w.client.request_mkdir("x", None),
        w.client.request_download("x", 1, None),
        w.client.request_list(""),
        w.client
            .request_upload("x", 1, false, None, false, T0)
            .map(drop),
    ];
    for r in refused {
        assert!(matches!(r, Err(ProtoError::InvalidCall(_))), "{r:?}");
    }
    assert_eq!(w.client.pending_output(), queued, "nothing more queued");
    assert_eq!(w.client.in_flight(), MAX_IN_FLIGHT);
    assert!(w.client.error().is_none());

    assert_eq!(w.c2s().unwrap().len(), MAX_IN_FLIGHT);
    let t = w.ticket();
    w.server.answer(t, Outcome::ok()).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    assert_eq!(w.client.in_flight(), MAX_IN_FLIGHT - 1);
    assert!(w.client.can_request());
    w.client.request_list("").unwrap();
    assert!(!w.client.can_request());
}

/// The server's limit at its value and one past: it reads a request
/// while 63 answers are owed, and none while 64 are (given or not), so a
/// client that sends more than it may is slowed down, not served out of
/// order. The requests past the limit are sent raw, as a client that
/// ignores its own limit would.
#[test]
fn the_server_reads_nothing_more_while_max_in_flight_answers_are_owed() {
    let mut w = established();
    for i in 0..MAX_IN_FLIGHT {
        w.client.request_mkdir(&format!("d{i}"), None).unwrap();
    }
    let mkdir = |path: &str| {
        Mkdir {
            path: path.as_bytes().to_vec(),
            preserve: false,
            meta: Meta::default(),
        }
        .encode()
    };
    send_raw(&mut w.client, inner::MKDIR, &mkdir("x"));
    let got = w.c2s().unwrap();
    assert_eq!(got.len(), MAX_IN_FLIGHT, "the one past the limit waits");
    assert_eq!(got[MAX_IN_FLIGHT - 1], Got::mkdir("d63"));
    assert_eq!(w.server.answers_owed(), MAX_IN_FLIGHT);
    assert!(w.server.waits_for_app());
    let t: Vec<Ticket> = (0..MAX_IN_FLIGHT).map(|_| w.ticket()).collect();

    // Answers given but not sent still count.
    w.server
        .answer(t[MAX_IN_FLIGHT - 1], Outcome::ok())
        .unwrap();
    assert!(w.server.waits_for_app());
    assert_eq!(w.c2s().unwrap(), vec![]);
    // The first sent: 63 owed, so the waiting request is read, and with
    // it 64 are owed again.
    w.server.answer(t[0], Outcome::ok()).unwrap();
    assert_eq!(w.server.answers_owed(), MAX_IN_FLIGHT - 1);
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("x")]);
    assert_eq!(w.server.answers_owed(), MAX_IN_FLIGHT);
    assert!(w.server.waits_for_app());
    send_raw(&mut w.client, inner::MKDIR, &mkdir("y"));
    assert_eq!(w.c2s().unwrap(), vec![]);
    assert_eq!(results_sent(&mut w.server, w.now).len(), 1);
    for t in &t[1..MAX_IN_FLIGHT - 1] {
        w.server.answer(*t, Outcome::ok()).unwrap();
    }
    assert_eq!(w.server.answers_owed(), 1, "x's");
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("y")]);
    assert_eq!(results_sent(&mut w.server, w.now).len(), MAX_IN_FLIGHT - 1);
}

/// A GET behind an upload whose answer is owed is held: the server
/// reads nothing after it, and serves it only once that RESULT has gone
/// out, so the client sees the RESULT first. Fails on a server that
/// serves a GET at once (its OFFER would overtake the upload's RESULT).
#[test]
fn a_get_behind_an_owed_answer_is_served_after_that_result() {
    let mut w = established();
    w.client
        .request_upload("a", 3, false, None, false, T0)
        .unwrap();
    w.client.send_data(b"abc").unwrap();
    w.client.request_download("a", 3, None).unwrap();
    w.client.request_mkdir("m", None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("a", 3)]);
    w.server.accept().unwrap();
    assert_eq!(
        w.c2s().unwrap(),
        vec![Got::Data(b"abc".to_vec()), Got::complete(sha(b"abc"))]
    );
    assert!(w.server.waits_for_app(), "the GET is held");
    assert_eq!(w.c2s().unwrap(), vec![], "and nothing after it is read");
    assert!(!w.server.wants_write());
    let t = w.ticket();
    w.store(t).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download("a".into(), 3)]);
    w.server.offer_download(3, FILE_META, None, T0).unwrap();
    w.server.send_data(b"abc").unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![
            Got::Outcome(Outcome::ok()),
            Got::Offered(3, FILE_META),
            Got::Data(b"abc".to_vec()),
            Got::complete(sha(b"abc"))
        ]
    );
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("m")]);
}

/// The same for a LIST behind an owed MKDIR, and for a GET whose path
/// the rule refuses: its RESULT 2 goes out after the owed answer, not
/// before it.
#[test]
fn a_list_or_a_refused_get_behind_an_owed_answer_waits_for_it() {
    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    w.client.request_list("d").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
    assert!(w.server.waits_for_app());
    let t = w.ticket();
    w.server.answer(t, ok("made")).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List("d".into())]);
    send_listing(&mut w.server, &[]).unwrap();
    assert_eq!(
        w.s2c().unwrap(),
        vec![Got::Outcome(ok("made")), Got::Listing(vec![])]
    );

    let mut w = established();
    w.client.request_mkdir("d", None).unwrap();
    send_raw(
        &mut w.client,
        inner::GET,
        &crate::proto::msgs::Get {
            path: b"../x".to_vec(),
            max_size: 1,
            held: crate::proto::msgs::Prefix::NONE,
        }
        .encode(),
    );
    assert_eq!(w.c2s().unwrap(), vec![Got::mkdir("d")]);
    assert!(!w.server.wants_write());
    let t = w.ticket();
    w.server.answer(t, ok("made")).unwrap();
    let got = w.c2s().unwrap();
    assert!(matches!(got[..], [Got::NameRefused(_)]), "{got:?}");
    let sent = results_sent(&mut w.server, w.now);
    let codes: Vec<ResultCode> = sent.iter().map(|o| o.code).collect();
    assert_eq!(codes, [ResultCode::Ok, ResultCode::BadName]);
    assert!(!w.server.waits_for_app());
}
