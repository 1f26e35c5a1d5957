//! Deadlines by stepping the clock: `handle_timeout` never fails by
//! itself; a passed deadline fails the connection, queues the alert its
//! keys allow, and the next call reports it.

use std::time::Duration;

use super::*;
use crate::proto::msgs::ResultCode;

#[test]
fn handshake_deadline_by_stepping_the_clock() {
    let mut w = world();
    w.c2s().unwrap();
    let deadline = w.server.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + Duration::from_secs(10));
    w.server.handle_timeout(deadline - Duration::from_millis(1));
    assert!(w.server.error().is_none());
    assert_eq!(w.server.poll_timeout(), Some(deadline));
    w.server.handle_timeout(deadline);
    assert!(matches!(
        w.server.next_event(),
        Err(ProtoError::HandshakeTimeout)
    ));
    assert!(w.server.poll_timeout().is_none());
    // Keys existed (CHALLENGE sent), so one sealed alert follows
    // CHALLENGE, and the client reads it.
    let bytes = out(&mut w.server, w.now);
    let recs = records(&bytes);
    assert_eq!(recs.len(), 2, "CHALLENGE then the alert");
    assert_eq!(sole_alert(&mut w.server, &recs[1], 1), AlertCode::Timeout);
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::Timeout))
    ));
    // Later calls change nothing.
    w.server
        .handle_timeout(deadline + Duration::from_secs(3600));
    assert!(!w.server.wants_write());
}

/// Before CHALLENGE the server answers its deadline with a plaintext
/// alert 5; a client with no keys sends nothing. Fails on the pre-rewrite
/// server, which stayed silent.
#[test]
fn handshake_deadline_before_keys() {
    let mut w = world();
    let deadline = w.server.poll_timeout().unwrap();
    w.server.handle_timeout(deadline);
    assert_eq!(out(&mut w.server, w.now), plain_alert(AlertCode::Timeout));
    assert!(matches!(
        w.server.next_event(),
        Err(ProtoError::HandshakeTimeout)
    ));

    let mut w = world();
    out(&mut w.client, w.now); // HELLO
    let deadline = w.client.poll_timeout().unwrap();
    w.client.handle_timeout(deadline);
    assert!(!w.client.wants_write());
    assert!(matches!(
        w.client.next_event(),
        Err(ProtoError::HandshakeTimeout)
    ));
}

/// The deadline keeps running while the user decides whether to trust a
/// key; a client that has sent RESPONSE (it has keys) queues one alert 5.
#[test]
fn client_handshake_deadline_during_trust_and_after_keys() {
    let mut w = world_with(Some(ServerTrust::Ask), true);
    w.c2s().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::ServerKeyUnknown(w.server_key)]);
    let deadline = w.client.poll_timeout().unwrap();
    w.client.handle_timeout(deadline);
    assert!(matches!(
        w.client.trust_server_key(),
        Err(ProtoError::HandshakeTimeout)
    ));
    assert!(!w.client.wants_write());

    let mut w = world();
    let _ = w.handshake_records();
    let deadline = w.client.poll_timeout().unwrap();
    w.client.handle_timeout(deadline);
    assert!(matches!(
        w.client.next_event(),
        Err(ProtoError::HandshakeTimeout)
    ));
    // Awaiting SESSION_ESTABLISHED the client has no key the server can
    // read: no alert (§5.2).
    assert!(!w.client.wants_write());
}

#[test]
fn idle_deadline_moves_with_activity() {
    let mut w = established();
    let t0 = w.now;
    assert_eq!(
        w.server.poll_timeout().unwrap(),
        t0 + Duration::from_secs(60)
    );
    w.now = t0 + Duration::from_secs(50);
    w.client.request_list("").unwrap();
    w.c2s().unwrap();
    assert_eq!(
        w.server.poll_timeout().unwrap(),
        w.now + Duration::from_secs(60)
    );
    // The first deadline has passed, the moved one has not.
    w.server.handle_timeout(t0 + Duration::from_secs(100));
    assert!(w.server.error().is_none());
    w.server.handle_timeout(w.now + Duration::from_secs(60));
    assert!(matches!(
        w.server.next_event(),
        Err(ProtoError::IdleTimeout)
    ));
    assert!(matches!(
        w.s2c(),
        Err(ProtoError::PeerAlert(AlertCode::Timeout))
    ));
}

/// `handle_timeout` before a deadline is a no-op: no error, no output, the
/// same deadline. After the idle deadline the call itself reports nothing;
/// `next_event` (and every other call) returns IdleTimeout, with one
/// ALERT 5 queued. Fails on the pre-rewrite API (handle_timeout returned
/// the error itself) and on one that fails a deadline early.
#[test]
fn handle_timeout_is_a_no_op_until_the_idle_deadline_then_next_event_reports_it() {
    let mut w = established();
    let deadline = w.client.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + Duration::from_secs(60));
    for t in [
        w.now,
        w.now + Duration::from_secs(30),
        deadline - Duration::from_nanos(1),
    ] {
        w.client.handle_timeout(t);
        assert!(w.client.error().is_none());
        assert!(!w.client.wants_write());
        assert_eq!(w.client.poll_timeout(), Some(deadline));
        assert!(w.client.next_event().unwrap().is_none());
    }
    w.client.handle_timeout(deadline);
    assert!(matches!(w.client.error(), Some(ProtoError::IdleTimeout)));
    assert!(matches!(
        w.client.next_event(),
        Err(ProtoError::IdleTimeout)
    ));
    assert!(matches!(
        w.client.request_list(""),
        Err(ProtoError::IdleTimeout)
    ));
    assert!(w.client.poll_timeout().is_none());
    let bytes = out(&mut w.client, w.now);
    assert_eq!(sole_alert(&mut w.client, &bytes, 2), AlertCode::Timeout);
    assert!(matches!(
        feed(&mut w.server, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::Timeout))
    ));
    w.client
        .handle_timeout(deadline + Duration::from_secs(3600));
    assert!(!w.client.wants_write(), "one alert only");
}

/// The client stops waiting when the server would stop: it lowers its
/// idle timeout to the one announced (at least 1 s), never raises it.
#[test]
fn client_adopts_a_shorter_server_idle_timeout() {
    for (announced, expect) in [(5, 5), (0, 1), (3600, 60)] {
        let mut w = world_full(
            None,
            true,
            SessionParams {
                max_file_size: 1,
                idle_timeout_secs: announced,
            },
            Timeouts::default(),
        );
        w.handshake();
        assert_eq!(
            w.client.poll_timeout(),
            Some(w.now + Duration::from_secs(expect)),
            "announced {announced}"
        );
        assert_eq!(
            w.server.poll_timeout(),
            Some(w.now + Duration::from_secs(60))
        );
    }
}

/// An established world whose two sides both time out after 5 s idle.
fn idle_5s() -> World {
    let five = Duration::from_secs(5);
    let mut w = world_full(
        None,
        true,
        SessionParams {
            max_file_size: 1 << 30,
            idle_timeout_secs: 5,
        },
        Timeouts {
            idle: five,
            ..Timeouts::default()
        },
    );
    w.handshake();
    w
}

/// Both sides report `deadline` and have not timed out 1 ms before it.
fn both_alive_until(w: &mut World, deadline: Instant) {
    for c in [core(&mut w.client), core(&mut w.server)] {
        assert_eq!(c.poll_timeout(), Some(deadline));
        c.handle_timeout(deadline - Duration::from_millis(1));
        assert!(c.error().is_none(), "{:?}", c.error());
    }
}

/// Both sides fail with IdleTimeout at `deadline`.
fn both_time_out_at(w: &mut World, deadline: Instant) {
    for c in [core(&mut w.client), core(&mut w.server)] {
        c.handle_timeout(deadline);
        assert!(matches!(c.error(), Some(ProtoError::IdleTimeout)));
    }
}

/// RESULT 8 asking for 30 s holds the idle timer (5 s) of the server that
/// sends it and of the client that receives it, whichever request it
/// answers: neither times out before 30 + 5 s. Fails on the pre-hold
/// timers, which cut both at 5 s, and on a hold applied to one kind of
/// answer only (a refusal, or an answer given later under a ticket).
#[test]
fn a_rate_limit_wait_holds_both_idle_timers() {
    for request in ["upload", "mkdir", "download", "list"] {
        let mut w = idle_5s();
        let t0 = w.now;
        match request {
            "upload" => {
                w.client
                    .request_upload("f", 1, false, None, false, T0)
                    .unwrap();
            }
            "mkdir" => w.client.request_mkdir("d", None).unwrap(),
            "download" => w.client.request_download("f", 1, None).unwrap(),
            _ => w.client.request_list("").unwrap(),
        }
        assert_eq!(w.c2s().unwrap().len(), 1, "{request}");
        let wait = Outcome::rate_limited(30, "rate limit reached");
        match request {
            "upload" => {
                let t = w.ticket();
                w.server.refuse_upload(t, wait.clone()).unwrap();
            }
            "mkdir" => {
                let t = w.ticket();
                w.server.answer(t, wait.clone()).unwrap();
            }
            _ => w.server.refuse(&wait).unwrap(),
        }
        assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(wait)], "{request}");
        both_alive_until(&mut w, t0 + Duration::from_secs(35));
        both_time_out_at(&mut w, t0 + Duration::from_secs(35));
    }
}

/// Activity during the hold does not shorten it, another RESULT without
/// a wait does not extend it, and activity after it moves the deadline
/// as before (last activity + idle).
#[test]
fn activity_after_a_rate_limit_wait_counts_as_before() {
    let mut w = idle_5s();
    let t0 = w.now;
    let refuse = |w: &mut World, outcome: Outcome| {
        w.client.request_list("").unwrap();
        assert_eq!(w.c2s().unwrap(), vec![Got::List(String::new())]);
        w.server.refuse(&outcome).unwrap();
        assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(outcome)]);
    };
    refuse(&mut w, Outcome::rate_limited(30, "rate limit reached"));
    let not_allowed = || Outcome::new(ResultCode::NotAllowed, "no");
    w.now = t0 + Duration::from_secs(10);
    refuse(&mut w, not_allowed());
    both_alive_until(&mut w, t0 + Duration::from_secs(35));
    w.now = t0 + Duration::from_secs(32);
    refuse(&mut w, not_allowed());
    both_alive_until(&mut w, t0 + Duration::from_secs(37));
    both_time_out_at(&mut w, t0 + Duration::from_secs(37));
}
