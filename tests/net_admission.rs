//! Admission in-process: what a flood of never-authenticated sources can
//! and cannot take from authenticated keys and proven hosts (the harness is
//! tests/inproc/).

mod inproc;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use inproc::*;
use sft::crypto::ed25519::SigningKey;
use sft::net::client::ClientError;
use sft::proto::{AlertCode, ProtoError};

/// A key the server also accepts, beside the harness's own.
fn second_key(o: &mut sft::net::server::ServeOptions) -> Arc<SigningKey> {
    let key = Arc::new(SigningKey::generate().unwrap());
    also_accept(o, key.verifying_key());
    key
}

#[test]
fn a_key_holds_at_most_half_of_the_slots_while_another_key_is_served() {
    let mut other = None;
    let server = Running::start(|o| {
        o.limits.max_connections = 4;
        other = Some(second_key(o));
    });
    let other = other.unwrap();
    // Exactly the key's share (2 of 4), then one past it: refused as busy
    // after authenticating, though two slots are free.
    let a = server.session().unwrap();
    let mut b = server.session().unwrap();
    match server.session() {
        Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy))) => {}
        r => panic!("expected Busy, got {:?}", r.map(|_| "a session")),
    }
    // Another key gets a free slot.
    let mut c = server.session_as(other).unwrap();
    assert!(c.list("").unwrap().is_ok());
    // A slot of the first key freed is its own again.
    a.close().unwrap();
    let mut d = server.session().unwrap();
    for s in [&mut b, &mut d] {
        assert!(s.list("").unwrap().is_ok());
    }
}

/// Keeps opening connections that send HELLO and never answer the
/// CHALLENGE, from 20 addresses (127.0.1.1 ..= 127.0.1.20), until `stop`
/// or `max` connections; returns how many the server took.
fn half_handshake_flood(to: SocketAddr, stop: Arc<AtomicBool>, max: usize) -> usize {
    let hello = hello();
    let mut held = Vec::new();
    for i in 0..max {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let mut s = connect_from(&format!("127.0.1.{}", 1 + i % 20), to);
        if s.write_all(&hello).is_ok() {
            held.push(s);
        }
    }
    held.len()
}

#[test]
fn a_proven_host_is_never_evicted_by_a_half_handshake_flood() {
    let server = Running::start(|o| o.limits.max_connections = 8);
    // 127.0.0.1 proves itself once.
    server.session().unwrap().close().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (addr, stop) = (server.addr, stop.clone());
        thread::spawn(move || half_handshake_flood(addr, stop, 2000))
    };
    // The key's share of the slots (4 of 8), in parallel, three times over,
    // while the flood churns through the other half: every session is
    // established and served. (Its unauthenticated connections rank below
    // every never-authenticated one, so no flood connection can evict them,
    // however the two interleave.)
    for round in 0..3 {
        thread::scope(|scope| {
            let clients: Vec<_> = (0..4)
                .map(|i| {
                    let server = &server;
                    scope.spawn(move || {
                        let mut s = server
                            .session()
                            .unwrap_or_else(|e| panic!("round {round}, client {i}: {e}"));
                        assert!(s.list("").unwrap().is_ok(), "round {round}, client {i}");
                        s.close().unwrap();
                    })
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
        });
    }
    stop.store(true, Ordering::SeqCst);
    assert!(flood.join().unwrap() > 0);
}

#[test]
fn a_key_over_its_request_budget_waits_while_another_key_is_served() {
    let mut other = None;
    let server = Running::start(|o| {
        o.limits.key_rate = sft::net::server::Rate {
            burst: std::num::NonZeroU32::new(3).unwrap(),
            per: std::time::Duration::from_secs(3600),
        };
        other = Some(second_key(o));
    });
    let mut a = server.session().unwrap();
    // Exactly the burst, then one past it: told to wait (20 minutes for a
    // token of 3 per hour), and the session goes on.
    for i in 0..3 {
        assert!(a.list("").unwrap().is_ok(), "request {i}");
    }
    let refused = a.list("").unwrap().unwrap_err();
    assert_eq!(refused.code, sft::proto::msgs::ResultCode::RateLimited);
    assert_eq!(refused.retry_after_secs, 1200);
    // The other key's budget is its own; a new session of the first key
    // is not a new budget.
    let mut b = server.session_as(other.unwrap()).unwrap();
    for i in 0..3 {
        assert!(b.list("").unwrap().is_ok(), "other key, request {i}");
    }
    let mut again = server.session().unwrap();
    assert!(again.list("").unwrap().is_err());
}

#[test]
fn a_long_listing_costs_a_request_per_page() {
    let server = Running::start(|o| {
        o.limits.key_rate = sft::net::server::Rate {
            burst: std::num::NonZeroU32::new(4).unwrap(),
            per: std::time::Duration::from_secs(3600),
        };
    });
    // Three pages' worth: the LIST pays for the first, each page after it
    // costs one more.
    let n = 2 * sft::proto::msgs::PAGE_ENTRIES + 1;
    for i in 0..n {
        std::fs::File::create(server.root.path().join(format!("f{i}"))).unwrap();
    }
    let mut s = server.session().unwrap();
    assert_eq!(s.list("").unwrap().unwrap().len(), n, "3 of 4 tokens");
    assert!(
        s.list("").unwrap().is_ok(),
        "the last token starts one more"
    );
    let refused = s.list("").unwrap().unwrap_err();
    assert_eq!(refused.code, sft::proto::msgs::ResultCode::RateLimited);
}
