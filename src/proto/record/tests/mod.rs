//! The record layer at its limits: per-key counts at the limit and one
//! past, and what a failed seal leaves behind. Key updates: key_update.rs.

use super::*;
use crate::crypto::aead::NONCE_LEN;
use crate::crypto::secret::Secret;

mod key_update;

const CHUNK: u8 = 0x14;

fn traffic_secret(b: u8) -> TrafficSecret {
    TrafficSecret(Secret::from_slice(&[b; 32]).unwrap())
}

fn handshake_keys(b: u8) -> DirectionKeys {
    DirectionKeys {
        key: Secret::from_slice(&[b; 32]).unwrap(),
        iv: Secret::from_slice(&[b; NONCE_LEN]).unwrap(),
    }
}

/// A sealer and an opener of one direction under handshake keys.
fn handshake_pair() -> (Sealer, Opener) {
    let (mut s, mut o) = (Sealer::new(), Opener::new());
    s.set_keys(&handshake_keys(1)).unwrap();
    o.set_keys(&handshake_keys(1)).unwrap();
    (s, o)
}

/// A sealer and an opener of one direction under application keys.
fn application_pair() -> (Sealer, Opener) {
    let (mut s, mut o) = (Sealer::new(), Opener::new());
    s.set_traffic_secret(traffic_secret(3)).unwrap();
    o.set_traffic_secret(traffic_secret(3)).unwrap();
    (s, o)
}
fn sealer_used(s: &mut Sealer) -> &mut u64 {
    &mut s.dir.protection.as_mut().unwrap().used
}

fn opener_used(o: &mut Opener) -> &mut u64 {
    &mut o.dir.protection.as_mut().unwrap().used
}

/// Splits a byte stream into whole records: header and payload.
fn split(mut bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut v = Vec::new();
    while !bytes.is_empty() {
        let header = Header::parse(bytes[..HEADER_LEN].try_into().unwrap()).unwrap();
        let end = HEADER_LEN + header.len;
        v.push((header, bytes[HEADER_LEN..end].to_vec()));
        bytes = &bytes[end..];
    }
    v
}

/// Opens one split record: `Ok(None)` for a KEY_UPDATE.
fn open(o: &mut Opener, rec: &(Header, Vec<u8>)) -> Result<Option<(u8, Vec<u8>)>, ProtoError> {
    let mut payload = rec.1.clone();
    Ok(o.open(&rec.0, &mut payload)?.map(|(t, b)| (t, b.to_vec())))
}

#[test]
fn header_length_limits_at_and_one_past() {
    let head = |kind: u8, len: u32| {
        let mut h = [0u8; HEADER_LEN];
        h[0] = PROTOCOL_VERSION;
        h[1] = kind;
        h[2..6].copy_from_slice(&len.to_be_bytes());
        h
    };
    let max = MAX_PLAINTEXT_LEN + TAG_LEN;
    assert_eq!(Header::parse(&head(23, max as u32)).unwrap().len, max);
    assert!(matches!(
        Header::parse(&head(23, max as u32 + 1)),
        Err(ProtoError::RecordTooLarge { len, max: m }) if len == max + 1 && m == max
    ));
    // The smallest encrypted record holds the inner type and the tag.
    assert_eq!(Header::parse(&head(23, 17)).unwrap().len, 17);
    assert!(matches!(
        Header::parse(&head(23, 16)),
        Err(ProtoError::MalformedRecord(_))
    ));
    for (kind, exact) in [(1, HELLO_LEN), (2, CHALLENGE_LEN), (3, 1)] {
        assert!(Header::parse(&head(kind, exact as u32)).is_ok());
        for wrong in [exact - 1, exact + 1] {
            assert!(
                matches!(
                    Header::parse(&head(kind, wrong as u32)),
                    Err(ProtoError::MalformedRecord(_))
                ),
                "type {kind} length {wrong}"
            );
        }
    }
}

/// Fails if the opener counts off by one: it must open record number
/// MAX_RECORDS_PER_KEY under one key and refuse the next, before any
/// decryption.
#[test]
fn opener_opens_record_max_and_refuses_max_plus_one_under_one_key() {
    let (mut s, mut o) = handshake_pair();
    *opener_used(&mut o) = MAX_RECORDS_PER_KEY - 1;
    let mut out = Vec::new();
    s.seal(&mut out, CHUNK, &[b"record 2^21"]).unwrap();
    s.seal(&mut out, CHUNK, &[b"record 2^21 + 1"]).unwrap();
    let recs = split(&out);
    assert_eq!(
        open(&mut o, &recs[0]).unwrap(),
        Some((CHUNK, b"record 2^21".to_vec()))
    );
    assert!(matches!(open(&mut o, &recs[1]), Err(ProtoError::KeyLimit)));

    // Application keys alike: a peer that never updates its key is
    // refused at the same count.
    let (mut s, mut o) = application_pair();
    *opener_used(&mut o) = MAX_RECORDS_PER_KEY - 1;
    let mut out = Vec::new();
    s.seal(&mut out, CHUNK, &[b"a"]).unwrap();
    s.seal(&mut out, CHUNK, &[b"b"]).unwrap();
    let recs = split(&out);
    assert_eq!(
        open(&mut o, &recs[0]).unwrap(),
        Some((CHUNK, b"a".to_vec()))
    );
    assert!(matches!(open(&mut o, &recs[1]), Err(ProtoError::KeyLimit)));
}

/// Fails if handshake keys were allowed past the limit (they never
/// update), or if a refusal left bytes in `out` or used up a number.
#[test]
fn handshake_sealer_refuses_at_the_limit_and_leaves_nothing() {
    let (mut s, _) = handshake_pair();
    *sealer_used(&mut s) = MAX_RECORDS_PER_KEY - 1;
    let mut out = b"earlier".to_vec();
    s.seal(&mut out, CHUNK, &[b"the last one"]).unwrap();
    let before = out.clone();
    let seq = s.dir.next_seq;
    assert!(matches!(
        s.seal(&mut out, CHUNK, &[b"one more"]),
        Err(ProtoError::KeyLimit)
    ));
    assert_eq!(out, before);
    assert_eq!(s.dir.next_seq, seq);
    assert_eq!(
        split(&out[7..]).len(),
        1,
        "no KEY_UPDATE under handshake keys"
    );
}
/// Defect 4. Fails on an implementation that writes the header (or a
/// KEY_UPDATE) before checking the size, or numbers the record before
/// it is sealed: the next record would then skip a number, or a due
/// KEY_UPDATE would go out alone.
#[test]
fn oversize_plaintext_leaves_out_unchanged_and_keeps_the_number() {
    let (mut s, mut o) = application_pair();
    let mut out = b"queued".to_vec();
    let big = vec![7u8; MAX_PLAINTEXT_LEN];
    assert!(matches!(
        s.seal(&mut out, CHUNK, &[&big]),
        Err(ProtoError::InvalidCall(_))
    ));
    assert!(matches!(
        s.seal(&mut out, CHUNK, &[&big[..10], &big[10..]]),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(out, b"queued");
    assert_eq!(s.dir.next_seq, 0);
    // Exactly MAX_PLAINTEXT_LEN (inner type included) is allowed, and
    // takes the number the refused record did not.
    s.seal(&mut out, CHUNK, &[&big[1..]]).unwrap();
    let recs = split(&out[6..]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0.seq, 0);
    assert_eq!(recs[0].0.len, MAX_PLAINTEXT_LEN + TAG_LEN);
    assert_eq!(open(&mut o, &recs[0]).unwrap().unwrap().1, big[1..]);

    // With a key update due, an oversize record sends no KEY_UPDATE
    // either; the next record sends it, at the next number.
    s.set_update_after(1);
    o.set_update_after(1);
    out.clear();
    assert!(s.seal(&mut out, CHUNK, &[&big]).is_err());
    assert!(out.is_empty());
    assert_eq!(*sealer_used(&mut s), 1);
    s.seal(&mut out, CHUNK, &[b"x"]).unwrap();
    let recs = split(&out);
    assert_eq!(
        recs.iter().map(|r| (r.0.seq, r.0.len)).collect::<Vec<_>>(),
        vec![(1, 1 + TAG_LEN), (2, 2 + TAG_LEN)]
    );
    assert_eq!(open(&mut o, &recs[0]).unwrap(), None);
    assert_eq!(
        open(&mut o, &recs[1]).unwrap(),
        Some((CHUNK, b"x".to_vec()))
    );
}

/// Defect 4. Fails on the pre-rewrite sealer, which returned on an
/// OpenSSL error with the header and the plaintext left in `out` (sent
/// in clear by the next write) and the number unused, so the alert that
/// followed was sealed under the same nonce.
#[test]
fn failed_seal_leaves_nothing_and_stops_the_sealer() {
    let (mut s, _) = application_pair();
    let mut out = b"queued".to_vec();
    s.fail_next_seal();
    assert!(matches!(
        s.seal(&mut out, CHUNK, &[b"secret file data"]),
        Err(ProtoError::Crypto(_))
    ));
    assert_eq!(out, b"queued", "nothing of the record stays");
    assert!(s.has_keys() && !s.can_seal(), "keyed, but broken");
    // Nothing more is sealed under that key, at that number or any other.
    assert!(matches!(
        s.seal(&mut out, 0x02, &[&[6]]),
        Err(ProtoError::InvalidCall(_))
    ));
    assert_eq!(out, b"queued");

    // The same when the failure hits the KEY_UPDATE.
    let (mut s, _) = application_pair();
    s.set_update_after(1);
    let mut out = Vec::new();
    s.seal(&mut out, CHUNK, &[b"a"]).unwrap();
    let len = out.len();
    s.fail_next_seal();
    assert!(s.seal(&mut out, CHUNK, &[b"b"]).is_err());
    assert_eq!(out.len(), len);
    assert!(s.has_keys() && !s.can_seal());
}
