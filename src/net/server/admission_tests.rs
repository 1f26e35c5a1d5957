use std::num::NonZeroU32;

use super::*;
use crate::crypto::ed25519::SigningKey;

fn src(i: u32) -> ClientKey {
    ClientKey::V4(i)
}

/// Connections as (token, source, age order, authenticated, hello), with
/// the sources in `proven` proven.
fn open_with(list: &[(usize, u32, u64, bool, bool)], proven: &[u32]) -> Vec<Candidate> {
    let t0 = Instant::now();
    let from = |source| {
        list.iter()
            .filter(|&&(_, s, _, authenticated, _)| s == source && !authenticated)
            .count()
    };
    list.iter()
        .map(|&(token, source, secs, authenticated, hello)| Candidate {
            token: Token(token),
            since: t0 + Duration::from_secs(secs),
            authenticated,
            hello,
            proven: proven.contains(&source),
            from_source: from(source),
        })
        .collect()
}

/// The same, nobody proven.
fn open(list: &[(usize, u32, u64, bool, bool)]) -> Vec<Candidate> {
    open_with(list, &[])
}

fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_pending_per_source: 3,
        source_rate: Rate {
            burst: NonZeroU32::new(2).unwrap(),
            per: Duration::from_secs(60),
        },
        key_rate: Rate {
            burst: NonZeroU32::new(2).unwrap(),
            per: Duration::from_secs(60),
        },
    }
}

#[test]
fn a_never_authenticated_source_goes_before_a_proven_one() {
    // Source 1 is proven; its connection is older and from the busiest
    // source, yet source 2's goes first.
    let list = [
        (2, 1, 0, false, true),
        (3, 1, 1, false, true),
        (4, 2, 5, false, true),
    ];
    assert_eq!(
        choose_victim(&open_with(&list, &[1]), |_| true),
        Some(Token(4))
    );
    assert_eq!(choose_victim(&open(&list), |_| true), Some(Token(2)));
}

#[test]
fn a_connection_that_sent_nothing_goes_before_a_handshake_under_way() {
    let v = open(&[(2, 1, 0, false, true), (3, 2, 9, false, false)]);
    assert_eq!(choose_victim(&v, |_| true), Some(Token(3)));
}

#[test]
fn then_the_busiest_source_then_the_oldest_then_the_first_accepted() {
    let v = open(&[
        (2, 1, 0, false, true),
        (3, 2, 5, false, true),
        (4, 2, 6, false, true),
    ]);
    assert_eq!(choose_victim(&v, |_| true), Some(Token(3)));
    let same_time = open(&[(5, 1, 3, false, true), (4, 2, 3, false, true)]);
    assert_eq!(choose_victim(&same_time, |_| true), Some(Token(4)));
}

#[test]
fn authenticated_sessions_are_never_evicted() {
    let v = open(&[
        (2, 1, 0, true, true),
        (3, 1, 1, true, true),
        (4, 2, 3, false, true),
    ]);
    assert_eq!(choose_victim(&v, |_| true), Some(Token(4)));
    let all_in = open(&[(2, 1, 0, true, true), (3, 2, 1, true, true)]);
    assert_eq!(choose_victim(&all_in, |_| true), None);
    assert_eq!(place(&all_in, 0, false, &limits(2)), Placement::Full);
}

#[test]
fn the_cap_admits_up_to_max_connections_then_evicts() {
    let l = limits(4);
    // Sources 1..=3 proven, so the unproven share does not apply.
    let proven = [1, 2, 3];
    let three = [
        (2, 1, 0, false, true),
        (3, 2, 1, true, true),
        (4, 3, 2, true, true),
    ];
    assert_eq!(
        place(&open_with(&three, &proven), 0, true, &l),
        Placement::Admit
    );
    let four = [
        (2, 1, 0, false, true),
        (3, 2, 1, true, true),
        (4, 3, 2, true, true),
        (5, 3, 3, true, true),
    ];
    assert_eq!(
        place(&open_with(&four, &proven), 0, true, &l),
        Placement::Evict(Token(2))
    );
    // Sessions served by the server's other loops count toward the cap:
    // three here and one elsewhere is full, and the accepting loop's own
    // unauthenticated connection makes room; with none, no room.
    assert_eq!(
        place(&open_with(&three, &proven), 1, true, &l),
        Placement::Evict(Token(2))
    );
    assert_eq!(
        place(&open_with(&three[1..], &proven), 1, true, &l),
        Placement::Admit
    );
    assert_eq!(
        place(&open_with(&three[1..], &proven), 2, true, &l),
        Placement::Full
    );
}

#[test]
fn never_authenticated_sources_hold_at_most_half_of_the_slots() {
    let l = limits(8);
    // Four unproven pending connections: the share (4) is reached.
    let v = open(&[
        (2, 5, 0, false, true),
        (3, 6, 1, false, true),
        (4, 7, 2, false, false),
        (5, 8, 3, false, true),
    ]);
    // Another unproven source takes the place of one of them (the one
    // that sent nothing) though slots are free...
    assert_eq!(place(&v, 0, false, &l), Placement::Evict(Token(4)));
    // ...while a proven source gets a free slot.
    assert_eq!(place(&v, 0, true, &l), Placement::Admit);
    // One below the share: admitted.
    assert_eq!(place(&v[..3], 0, false, &l), Placement::Admit);
}

#[test]
fn the_pending_cap_admits_max_pending_per_source_and_refuses_one_more() {
    let mut a = Admission::new(limits(100), true);
    for _ in 0..3 {
        assert_eq!(a.precheck(src(1)), Ok(()));
        a.opened(src(1));
    }
    assert_eq!(a.precheck(src(1)), Err(Refusal::PendingCap));
    assert_eq!(a.precheck(src(2)), Ok(()));
    // Authenticating frees the pending place; closing does too.
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    assert!(a.authenticated(src(1), &key, None, Instant::now()));
    assert_eq!(a.precheck(src(1)), Ok(()));
    a.opened(src(1));
    a.closed(src(1), None);
    assert_eq!(a.precheck(src(1)), Ok(()));
}

#[test]
fn a_key_holds_at_most_half_of_the_slots() {
    let l = limits(6);
    assert_eq!(l.max_sessions_per_key(), 3);
    assert_eq!(limits(1).max_sessions_per_key(), 1);
    let mut a = Admission::new(l, true);
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let other = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let now = Instant::now();
    for _ in 0..3 {
        a.opened(src(1));
        assert!(a.authenticated(src(1), &key, None, now));
    }
    a.opened(src(1));
    assert!(
        !a.authenticated(src(1), &key, None, now),
        "one past the cap"
    );
    assert!(
        a.authenticated(src(1), &other, None, now),
        "another key is served"
    );
    a.closed(src(1), Some(&key));
    a.opened(src(1));
    assert!(a.authenticated(src(1), &key, None, now), "a slot came back");
    assert!(a.is_proven(src(1), now));
}

#[test]
fn the_connection_rate_is_per_source_and_refusals_are_not_charged() {
    let mut a = Admission::new(limits(100), true);
    let now = Instant::now();
    assert_eq!(a.charge_connection(src(1), now), Ok(()));
    assert_eq!(a.charge_connection(src(1), now), Ok(()));
    assert_eq!(
        a.charge_connection(src(1), now),
        Err(Refusal::SourceRate(Duration::from_secs(30)))
    );
    assert_eq!(a.charge_connection(src(2), now), Ok(()));
    assert_eq!(
        a.charge_connection(src(1), now + Duration::from_secs(30)),
        Ok(())
    );
}

#[test]
fn requests_are_charged_per_key_work_fully_and_cheap_refusals_a_sixteenth() {
    let mut a = Admission::new(limits(100), true); // 2 tokens per key
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let other = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let now = Instant::now();
    // Sixteen cheap refusals cost one token: one real request still fits.
    for i in 0..16 {
        assert_eq!(a.check_request(&key, now), Ok(()), "refusal {i}");
        a.charge_request(&key, now, Cost::Cheap);
    }
    assert_eq!(a.check_request(&key, now), Ok(()));
    a.charge_request(&key, now, Cost::Work);
    assert_eq!(a.check_request(&key, now), Err(Duration::from_secs(30)));
    // Two real requests use the whole budget too; another key is served.
    a.charge_request(&other, now, Cost::Work);
    assert_eq!(a.check_request(&other, now), Ok(()));
    a.charge_request(&other, now, Cost::Work);
    assert!(a.check_request(&other, now).is_err());
}

#[test]
fn a_key_proves_at_most_max_sources_proven_per_key_sources() {
    let mut a = Admission::new(limits(1000), true);
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let now = Instant::now();
    let n = MAX_SOURCES_PROVEN_PER_KEY as u32;
    for i in 0..=n {
        a.opened(src(i));
        assert!(a.authenticated(src(i), &key, None, now), "session {i}");
        a.closed(src(i), Some(&key));
    }
    // Exactly the limit proven; the one past it is served but not proven.
    assert!((0..n).all(|i| a.is_proven(src(i), now)));
    assert!(!a.is_proven(src(n), now));
    // A source it proved before is refreshed, not counted again.
    a.opened(src(0));
    assert!(a.authenticated(src(0), &key, None, now));
    assert!(!a.is_proven(src(n), now));
    // Once its proofs are a day old, the key proves new sources again.
    let later = now + PROVEN_FOR;
    a.opened(src(n));
    assert!(a.authenticated(src(n), &key, None, later));
    assert!(a.is_proven(src(n), later));
}

#[test]
fn when_any_key_is_accepted_no_source_is_proven() {
    let mut a = Admission::new(limits(100), false);
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let now = Instant::now();
    a.opened(src(1));
    assert!(a.authenticated(src(1), &key, None, now));
    assert!(!a.is_proven(src(1), now));
}

#[test]
fn a_key_s_max_sessions_caps_it_below_its_share_but_never_above() {
    let mut a = Admission::new(limits(100), true);
    let key = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let now = Instant::now();
    for _ in 0..2 {
        a.opened(src(1));
        assert!(a.authenticated(src(1), &key, Some(2), now), "at the cap");
    }
    a.opened(src(1));
    assert!(!a.authenticated(src(1), &key, Some(2), now), "one past");
    a.closed(src(1), Some(&key));
    assert!(a.authenticated(src(1), &key, Some(2), now), "a place freed");
    // A cap above the key's share (half the slots, 50) leaves the share.
    let mut a = Admission::new(limits(100), true);
    for _ in 0..50 {
        a.opened(src(1));
        assert!(a.authenticated(src(1), &key, Some(4096), now));
    }
    a.opened(src(1));
    assert!(!a.authenticated(src(1), &key, Some(4096), now));
}
