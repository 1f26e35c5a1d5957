//! Property tests of the wire codecs: Writer -> Reader round trips for
//! every field type, encode -> parse round trips for every message that
//! has both, the length limits at the edge (max accepted, one past
//! refused), and "never panics" on arbitrary bytes for every parser that
//! sees peer bytes. The fuzz targets in fuzz/ explore the same parsers for
//! longer; these run in the normal `cargo test`, in a few seconds.

use proptest::prelude::*;

use sft::crypto::aead::TAG_LEN;
use sft::crypto::ed25519::{Signature, SigningKey, VerifyingKey, SIGNATURE_LEN};
use sft::crypto::secret::Secret;
use sft::proto::codec::{Reader, Writer};
use sft::proto::conn::MAX_LISTING_ENTRIES;
use sft::proto::msgs::{
    encode_list, encode_listing, parse_chunk, parse_list, parse_listing, parse_receipt, Challenge,
    End, EntryKind, Established, Get, Hello, ListEntry, Meta, Mkdir, Offer, Outcome, Prefix,
    Response, ResultCode, SessionParams, END_LEN, ESTABLISHED_LEN, MAX_MODE, MAX_OFFSET,
    MAX_REASON_LEN, MAX_RETRY_AFTER_SECS,
};
use sft::proto::name::{is_hidden, sanitize, sanitize_path};
use sft::proto::record::{Header, RecordType, CHALLENGE_LEN, HEADER_LEN, HELLO_LEN};
use sft::proto::{
    ProtoError, MAX_DEPTH, MAX_NAME_LEN, MAX_PATH_LEN, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION,
};

/// Cases per property: enough to cover the edges many times over, few
/// enough that the whole file runs in a few seconds in release mode.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1024,
        ..ProptestConfig::default()
    }
}

/// One field of a message body, for mixed Writer/Reader sequences.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I64(i64),
    Vec16(Vec<u8>),
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<u8>().prop_map(Field::U8),
        any::<u16>().prop_map(Field::U16),
        any::<u32>().prop_map(Field::U32),
        any::<u64>().prop_map(Field::U64),
        any::<i64>().prop_map(Field::I64),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Field::Vec16),
    ]
}

fn write(v: &mut Vec<u8>, f: &Field) {
    match f {
        Field::U8(x) => v.put_u8(*x),
        Field::U16(x) => v.put_u16(*x),
        Field::U32(x) => v.put_u32(*x),
        Field::U64(x) => v.put_u64(*x),
        Field::I64(x) => v.put_i64(*x),
        Field::Vec16(b) => v.put_vec16(b),
    }
}

/// Reads a field of the same kind as `like`.
fn read(r: &mut Reader<'_>, like: &Field) -> Result<Field, ProtoError> {
    Ok(match like {
        Field::U8(_) => Field::U8(r.u8()?),
        Field::U16(_) => Field::U16(r.u16()?),
        Field::U32(_) => Field::U32(r.u32()?),
        Field::U64(_) => Field::U64(r.u64()?),
        Field::I64(_) => Field::I64(r.i64()?),
        Field::Vec16(_) => Field::Vec16(r.vec16(u16::MAX.into())?.to_vec()),
    })
}

fn encoded_len(f: &Field) -> usize {
    match f {
        Field::U8(_) => 1,
        Field::U16(_) => 2,
        Field::U32(_) => 4,
        Field::U64(_) | Field::I64(_) => 8,
        Field::Vec16(b) => 2 + b.len(),
    }
}

fn result_code() -> impl Strategy<Value = ResultCode> {
    prop::sample::select(vec![
        ResultCode::Ok,
        ResultCode::Exists,
        ResultCode::BadName,
        ResultCode::TooLarge,
        ResultCode::NotFound,
        ResultCode::IoError,
        ResultCode::HashMismatch,
        ResultCode::NotAllowed,
        ResultCode::RateLimited,
    ])
}

/// Names the name rule keeps unchanged (valid base names), 1 to 255 bytes,
/// with multi-byte characters.
fn base_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._ é日-]{1,80}".prop_filter_map("a valid base name", |n| {
        (sanitize(n.as_bytes()).ok()? == n).then_some(n)
    })
}

/// Names near the edges of the rule: dots, separators, controls, bidi
/// overrides, and sometimes over 255 bytes.
fn odd_name() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[a./\\\x00\x7f\u{202e}\u{200b}é]{0,6}",
        "[ab]{250,260}",
        base_name(),
    ]
}

/// Reasons of any characters, and long ones of 1- to 4-byte characters
/// that the encoder must cut.
fn reason() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,80}", "[a-zé日😀]{60,140}"]
}

/// Text with a path separator in it, so the base-name rule has work.
fn path_like() -> impl Strategy<Value = String> {
    "\\PC{0,40}(/|\\\\)?\\PC{0,20}"
}

/// Paths the path rule keeps unchanged: 1 to 6 valid base names joined
/// by `/`.
fn valid_path() -> impl Strategy<Value = String> {
    prop::collection::vec(base_name(), 1..6).prop_map(|parts| parts.join("/"))
}

/// Paths near the edges of the path rule: odd names joined by `/`,
/// leading, trailing and doubled separators, and long or deep ones.
fn odd_path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(odd_name(), 0..5).prop_map(|p| p.join("/")),
        r"[a./\\:]{0,12}",
        (1usize..70).prop_map(|n| vec!["d"; n].join("/")),
        (4000usize..4200).prop_map(|n| "a/".repeat(n / 2)),
    ]
}

fn meta() -> impl Strategy<Value = Meta> {
    (0..=MAX_MODE, any::<i64>()).prop_map(|(mode, mtime)| Meta { mode, mtime })
}

fn list_entry() -> impl Strategy<Value = ListEntry> {
    (base_name(), any::<bool>(), any::<u64>(), meta()).prop_map(|(name, dir, size, m)| ListEntry {
        kind: if dir { EntryKind::Dir } else { EntryKind::File },
        name,
        size: if dir { 0 } else { size },
        mtime: m.mtime,
        mode: m.mode,
    })
}

/// A real Ed25519 public key (not every 32 bytes are one).
fn verifying_key() -> impl Strategy<Value = VerifyingKey> {
    any::<[u8; 32]>().prop_map(|seed| {
        SigningKey::from_seed(&Secret::from_slice(&seed).unwrap())
            .unwrap()
            .verifying_key()
    })
}

fn signature() -> impl Strategy<Value = Signature> {
    prop::collection::vec(any::<u8>(), SIGNATURE_LEN)
        .prop_map(|b| Signature::from_bytes(&b).unwrap())
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(config())]

    // ---- codec ---------------------------------------------------------

    #[test]
    fn every_field_sequence_round_trips(fields in prop::collection::vec(field(), 0..12)) {
        let mut v = Vec::new();
        for f in &fields {
            write(&mut v, f);
        }
        prop_assert_eq!(v.len(), fields.iter().map(encoded_len).sum::<usize>());
        let mut r = Reader::new(&v, "test");
        for f in &fields {
            prop_assert_eq!(&read(&mut r, f).unwrap(), f);
        }
        prop_assert!(r.finish().is_ok());
    }

    #[test]
    fn a_short_field_is_refused_not_read(f in field(), cut in 1usize..8) {
        let mut v = Vec::new();
        write(&mut v, &f);
        let short = &v[..v.len().saturating_sub(cut)];
        prop_assert!(read(&mut Reader::new(short, "test"), &f).is_err());
    }

    #[test]
    fn trailing_bytes_fail_finish(f in field(), extra in prop::collection::vec(any::<u8>(), 1..4)) {
        let mut v = Vec::new();
        write(&mut v, &f);
        v.extend_from_slice(&extra);
        let mut r = Reader::new(&v, "test");
        read(&mut r, &f).unwrap();
        prop_assert!(r.finish().is_err());
    }

    #[test]
    fn vec16_takes_max_and_refuses_one_past(
        at_max in (0usize..600).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
    ) {
        let max = at_max.len();
        let mut v = Vec::new();
        v.put_vec16(&at_max);
        prop_assert_eq!(Reader::new(&v, "test").vec16(max).unwrap(), &at_max[..]);

        let mut past = at_max.clone();
        past.push(0);
        let mut v = Vec::new();
        v.put_vec16(&past);
        prop_assert!(Reader::new(&v, "test").vec16(max).is_err());
        prop_assert_eq!(Reader::new(&v, "test").vec16(max + 1).unwrap(), &past[..]);
    }

    #[test]
    fn reader_never_panics(
        input in bytes(64),
        ops in prop::collection::vec(0u8..9, 0..16),
        max in any::<u16>(),
    ) {
        let mut r = Reader::new(&input, "test");
        for op in ops {
            let _ = match op {
                0 => r.u8().map(drop),
                1 => r.u16().map(drop),
                2 => r.u32().map(drop),
                3 => r.u64().map(drop),
                4 => r.i64().map(drop),
                5 => r.vec16(max.into()).map(drop),
                6 => r.array::<5>().map(drop),
                7 => r.bytes(max.into()).map(drop),
                _ => {
                    r.rest();
                    Ok(())
                }
            };
        }
        let _ = r.finish();
    }

    // ---- record header -------------------------------------------------

    #[test]
    fn valid_headers_round_trip(kind in 0usize..4, len in any::<u32>(), seq in any::<u64>()) {
        let max = MAX_PLAINTEXT_LEN + TAG_LEN;
        let (kind, len) = match kind {
            0 => (RecordType::Hello, HELLO_LEN),
            1 => (RecordType::Challenge, CHALLENGE_LEN),
            2 => (RecordType::PlainAlert, 1),
            _ => (RecordType::Encrypted, TAG_LEN + 1 + len as usize % (max - TAG_LEN)),
        };
        let h = Header { kind, len, seq };
        prop_assert_eq!(Header::parse(&h.encode()).unwrap(), h);
    }

    #[test]
    fn header_parse_never_panics(h in any::<[u8; HEADER_LEN]>()) {
        if let Ok(header) = Header::parse(&h) {
            prop_assert_eq!(header.encode(), h);
        }
    }

    // ---- handshake messages --------------------------------------------

    #[test]
    fn hello_round_trips(
        version in any::<u8>(),
        random in any::<[u8; 32]>(),
        ephemeral in any::<[u8; 32]>(),
    ) {
        let m = Hello { version, random, ephemeral };
        let body = m.encode();
        prop_assert_eq!(body.len(), HELLO_LEN);
        prop_assert_eq!(Hello::parse(&body).unwrap(), m);
        prop_assert!(Hello::parse(&body[1..]).is_err());
        prop_assert!(Hello::parse(&[&body[..], &[0]].concat()).is_err());
    }

    #[test]
    fn challenge_round_trips(
        random in any::<[u8; 32]>(),
        ephemeral in any::<[u8; 32]>(),
        identity in verifying_key(),
        signature in signature(),
    ) {
        let mut body = Challenge::encode_unsigned(&random, &ephemeral, &identity);
        body.extend_from_slice(signature.as_bytes());
        prop_assert_eq!(body.len(), CHALLENGE_LEN);
        let m = Challenge::parse(&body).unwrap();
        prop_assert_eq!(m, Challenge { random, ephemeral, identity, signature });
        prop_assert!(Challenge::parse(&body[..CHALLENGE_LEN - 1]).is_err());
        prop_assert!(Challenge::parse(&[&body[..], &[0]].concat()).is_err());
    }

    #[test]
    fn response_parses_its_layout(
        identity in verifying_key(),
        signature in signature(),
        finished in any::<[u8; 32]>(),
    ) {
        let body = [&identity.as_bytes()[..], signature.as_bytes(), &finished].concat();
        let parsed = Response::parse(&body).unwrap();
        prop_assert_eq!(parsed, Response { identity, signature, finished });
        prop_assert!(Response::parse(&body[..127]).is_err());
        prop_assert!(Response::parse(&[&body[..], &[0]].concat()).is_err());
    }

    #[test]
    fn established_round_trips(
        max_file_size in any::<u64>(),
        idle_timeout_secs in any::<u32>(),
        finished in any::<[u8; 32]>(),
    ) {
        let params = SessionParams { max_file_size, idle_timeout_secs };
        let mut body = Vec::new();
        params.encode_into(&mut body);
        prop_assert_eq!(body.len(), SessionParams::LEN);
        body.extend_from_slice(&finished);
        prop_assert_eq!(body.len(), ESTABLISHED_LEN);
        prop_assert_eq!(Established::parse(&body).unwrap(), Established { params, finished });
        prop_assert!(Established::parse(&body[..ESTABLISHED_LEN - 1]).is_err());
        prop_assert!(Established::parse(&[&body[..], &[0]].concat()).is_err());
    }

    // ---- application messages ------------------------------------------

    #[test]
    fn offer_round_trips_up_to_the_path_limit(
        path in bytes(MAX_PATH_LEN + 40),
        size in any::<u64>(),
        overwrite in any::<bool>(),
        preserve in any::<bool>(),
        meta in meta(),
        resume in any::<bool>(),
    ) {
        let m = Offer { path, size, overwrite, preserve, meta, resume };
        let body = m.encode();
        prop_assert_eq!(body.len(), 21 + m.path.len());
        let parsed = Offer::parse(&body);
        if m.path.len() <= MAX_PATH_LEN {
            prop_assert_eq!(parsed.unwrap(), m);
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn offer_refuses_unknown_flags_a_mode_past_0o777_and_trailing_bytes(
        flags in any::<u8>(),
        mode in any::<u16>(),
        path in bytes(20),
    ) {
        let mut body = Vec::new();
        body.put_vec16(&path);
        body.put_u64(1);
        body.put_u8(flags);
        body.put_u16(mode);
        body.put_i64(-1);
        // Bits 0 to 2: overwrite, preserve, resume.
        let valid = flags & !7 == 0 && u32::from(mode) <= MAX_MODE;
        prop_assert_eq!(Offer::parse(&body).is_ok(), valid);
        body.push(0);
        prop_assert!(Offer::parse(&body).is_err());
    }

    #[test]
    fn mkdir_round_trips_and_refuses_flags_past_1_and_a_mode_past_0o777(
        path in bytes(MAX_PATH_LEN + 40),
        preserve in any::<bool>(),
        meta in meta(),
        flags in any::<u8>(),
        mode in any::<u16>(),
    ) {
        let m = Mkdir { path, preserve, meta };
        let body = m.encode();
        prop_assert_eq!(body.len(), 13 + m.path.len());
        let parsed = Mkdir::parse(&body);
        if m.path.len() <= MAX_PATH_LEN {
            prop_assert_eq!(parsed.unwrap(), m);
        } else {
            prop_assert!(parsed.is_err());
        }
        let mut body = Vec::new();
        body.put_vec16(b"d");
        body.put_u8(flags);
        body.put_u16(mode);
        body.put_i64(0);
        prop_assert_eq!(Mkdir::parse(&body).is_ok(), flags <= 1 && u32::from(mode) <= MAX_MODE);
    }

    #[test]
    fn get_and_list_round_trip_up_to_the_path_limit(
        path in bytes(MAX_PATH_LEN + 40),
        max_size in any::<u64>(),
        offset in any::<u64>(),
        sha256 in any::<[u8; 32]>(),
    ) {
        let held = if offset == 0 { Prefix::NONE } else { Prefix { offset, sha256 } };
        let get = Get { path: path.clone(), max_size, held };
        let parsed = Get::parse(&get.encode());
        let listed = parse_list(&encode_list(&path));
        let held_ok = offset <= max_size && offset <= MAX_OFFSET;
        if path.len() <= MAX_PATH_LEN && held_ok {
            prop_assert_eq!(parsed.unwrap(), get);
            prop_assert_eq!(listed.unwrap(), path);
        } else if path.len() <= MAX_PATH_LEN {
            prop_assert!(parsed.is_err());
            prop_assert_eq!(listed.unwrap(), path);
        } else {
            prop_assert!(parsed.is_err());
            prop_assert!(listed.is_err());
        }
    }

    #[test]
    fn chunk_and_end_parse_their_layout(offset in any::<u64>(), data in bytes(64)) {
        let body = [&offset.to_be_bytes()[..], &data].concat();
        let (o, d) = parse_chunk(&body).unwrap();
        prop_assert_eq!((o, d), (offset, &data[..]));
        prop_assert!(parse_chunk(&body[..7.min(body.len())]).is_err());
        let end = End::Signed {
            sha256: [offset as u8 | 1; 32],
            time: offset,
            signature: Signature::from_bytes(&[data.len() as u8; 64]).unwrap(),
        };
        let body = end.encode();
        prop_assert_eq!(End::parse(&body).unwrap(), end);
        prop_assert!(End::parse(&body[..END_LEN - 1]).is_err());
        prop_assert!(End::parse(&[&body[..], &[0]].concat()).is_err());
    }

    #[test]
    fn outcome_round_trips_with_the_reason_cut_at_a_char_boundary(
        code in result_code(),
        reason in reason(),
        wait in 1u64..=u64::from(MAX_RETRY_AFTER_SECS),
    ) {
        let m = if code == ResultCode::RateLimited {
            Outcome::rate_limited(wait, reason.clone())
        } else {
            Outcome::new(code, reason.clone())
        };
        let body = m.encode();
        let back = Outcome::parse(&body).unwrap();
        prop_assert_eq!(back.code, code);
        prop_assert_eq!(back.retry_after_secs, m.retry_after_secs);
        prop_assert!(back.reason.len() <= MAX_REASON_LEN);
        prop_assert!(reason.starts_with(&back.reason));
        // The cut is the longest prefix that fits: at most 3 bytes of one
        // character are lost.
        prop_assert!(back.reason.len() == reason.len() || back.reason.len() > MAX_REASON_LEN - 4);
        prop_assert_eq!(Outcome::parse(&back.encode()).unwrap(), back);
    }

    #[test]
    fn outcome_refuses_unknown_codes_long_reasons_and_bad_waits(
        code in 9u8..=255,
        extra in 1usize..100,
        wait in 1u16..=u16::MAX,
    ) {
        let mut body = vec![code, 0, 0];
        body.put_vec16(b"");
        prop_assert!(Outcome::parse(&body).is_err());
        let mut body = vec![ResultCode::IoError as u8, 0, 0];
        body.put_vec16(&vec![b'r'; MAX_REASON_LEN + extra]);
        prop_assert!(Outcome::parse(&body).is_err());
        // A wait with any code but RateLimited, or one out of range with it.
        let mut body = vec![ResultCode::IoError as u8];
        body.put_u16(wait);
        body.put_vec16(b"");
        prop_assert!(Outcome::parse(&body).is_err());
        let mut body = vec![ResultCode::RateLimited as u8];
        body.put_u16(wait);
        body.put_vec16(b"");
        prop_assert_eq!(Outcome::parse(&body).is_ok(), wait <= MAX_RETRY_AFTER_SECS);
    }

    #[test]
    fn listing_round_trips(entries in prop::collection::vec(list_entry(), 0..40)) {
        let (bodies, sent) = encode_listing(&entries);
        prop_assert_eq!(sent, entries.len());
        prop_assert_eq!(bodies.len(), 1);
        let mut back = Vec::new();
        prop_assert!(!parse_listing(&bodies[0], &mut back, MAX_LISTING_ENTRIES).unwrap());
        prop_assert_eq!(back, entries);
    }

    #[test]
    fn listing_leaves_out_names_the_client_would_refuse(
        names in prop::collection::vec(odd_name(), 0..30),
    ) {
        let entries: Vec<ListEntry> = names
            .into_iter()
            .map(|name| ListEntry { kind: EntryKind::File, name, size: 1, mtime: 2, mode: 0o600 })
            .collect();
        // PROTOCOL.md §4.6, written out rather than asking `sanitize`.
        let plain = |n: &str| {
            !matches!(n, "" | "." | "..")
                && n.len() <= MAX_NAME_LEN
                && !n.contains(['/', '\\'])
                && !n.chars().any(is_hidden)
        };
        let valid: Vec<ListEntry> = entries.iter().filter(|e| plain(&e.name)).cloned().collect();
        let (bodies, sent) = encode_listing(&entries);
        prop_assert_eq!(sent, valid.len());
        let mut back = Vec::new();
        for body in &bodies {
            parse_listing(body, &mut back, MAX_LISTING_ENTRIES).unwrap();
        }
        prop_assert_eq!(back, valid);
    }

    #[test]
    fn listing_refuses_a_kind_past_1_and_a_mode_past_0o777(kind in any::<u8>(), mode in any::<u16>()) {
        let mut body = vec![0];
        body.put_u16(1);
        body.put_u8(kind);
        body.put_vec16(b"n");
        body.put_u64(0);
        body.put_i64(0);
        body.put_u16(mode);
        let parsed = parse_listing(&body, &mut Vec::new(), MAX_LISTING_ENTRIES);
        prop_assert_eq!(parsed.is_ok(), kind <= 1 && u32::from(mode) <= MAX_MODE);
    }

    // ---- names and paths -----------------------------------------------

    #[test]
    fn sanitize_path_keeps_only_plain_relative_paths_unchanged(
        raw in prop_oneof![
            bytes(300),
            odd_path().prop_map(String::into_bytes),
            valid_path().prop_map(String::into_bytes),
        ],
    ) {
        if let Ok(path) = sanitize_path(&raw) {
            prop_assert_eq!(path.as_bytes(), &raw[..]);
            prop_assert!(path.len() <= MAX_PATH_LEN);
            let parts: Vec<&str> = path.split('/').collect();
            prop_assert!(parts.len() <= MAX_DEPTH);
            for part in parts {
                prop_assert_eq!(sanitize(part.as_bytes()).unwrap(), part);
            }
        }
    }

    #[test]
    fn valid_paths_pass_the_path_rule(path in valid_path()) {
        prop_assert_eq!(sanitize_path(path.as_bytes()).unwrap(), path);
    }


    #[test]
    fn sanitize_keeps_only_safe_base_names(
        raw in prop_oneof![bytes(300), path_like().prop_map(String::into_bytes)],
    ) {
        if let Ok(name) = sanitize(&raw) {
            prop_assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN);
            prop_assert!(!name.contains(['/', '\\']));
            prop_assert!(!name.chars().any(is_hidden));
            prop_assert!(name != "." && name != "..");
            prop_assert!(raw.ends_with(name.as_bytes()));
        }
    }

    // ---- no parser panics on arbitrary bytes ---------------------------

    #[test]
    fn message_parsers_never_panic(body in bytes(400)) {
        let _ = Hello::parse(&body);
        let _ = Challenge::parse(&body);
        let _ = Response::parse(&body);
        let _ = Established::parse(&body);
        let _ = Offer::parse(&body);
        let _ = Mkdir::parse(&body);
        let _ = Get::parse(&body);
        let _ = parse_list(&body);
        let _ = parse_chunk(&body);
        let _ = End::parse(&body);
        let _ = parse_receipt(&body);
        let _ = Outcome::parse(&body);
        let _ = parse_listing(&body, &mut Vec::new(), MAX_LISTING_ENTRIES);
        let _ = sanitize(&body);
        let _ = sanitize_path(&body);
    }

    // Bodies at the exact lengths the fixed-size parsers take, so the
    // random input reaches their field checks, not only the length check.
    #[test]
    fn fixed_size_parsers_never_panic(body in prop::collection::vec(any::<u8>(), CHALLENGE_LEN)) {
        let _ = Hello::parse(&body[..HELLO_LEN]);
        let _ = Challenge::parse(&body);
        let _ = Response::parse(&body[..128]);
        let _ = Established::parse(&body[..ESTABLISHED_LEN]);
    }

    // LISTING bodies that look like listings: a valid header and count,
    // random entries, so the per-entry checks run.
    #[test]
    fn listing_parser_never_panics(more in 0u8..3, count in 0u16..8, rest in bytes(300)) {
        let mut body = vec![more];
        body.put_u16(count);
        body.extend_from_slice(&rest);
        let _ = parse_listing(&body, &mut Vec::new(), MAX_LISTING_ENTRIES);
    }
}

/// A listing too large for one record is split: every body but the last
/// says more = 1, each fits a record, and together they carry every entry.
#[test]
fn a_large_listing_splits_into_record_sized_bodies() {
    let entries: Vec<ListEntry> = (0..2000)
        .map(|i| ListEntry {
            kind: if i % 2 == 0 {
                EntryKind::File
            } else {
                EntryKind::Dir
            },
            name: format!("{i:0>255}"),
            size: i * (1 - i % 2),
            mtime: -(i as i64),
            mode: (i % 512) as u32,
        })
        .collect();
    let (bodies, sent) = encode_listing(&entries);
    assert_eq!(sent, entries.len());
    assert!(bodies.len() > 1, "2000 long names fit one record?");
    let mut back = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let plaintext = 1 + body.len(); // the inner type byte, then the body
        assert!(
            plaintext <= MAX_PLAINTEXT_LEN,
            "body {i}: {plaintext} bytes"
        );
        let more = parse_listing(body, &mut back, MAX_LISTING_ENTRIES).unwrap();
        assert_eq!(more, i + 1 < bodies.len(), "body {i}");
    }
    assert_eq!(back, entries);
}

/// An empty listing is one body: more = 0, count 0.
#[test]
fn an_empty_listing_is_one_empty_body() {
    assert_eq!(encode_listing(&[]), (vec![vec![0, 0, 0]], 0));
}

/// The header's length limits at the edges (PROTOCOL.md §2.2, §2.6).
#[test]
fn header_length_edges() {
    let parse = |kind: u8, len: usize| {
        let mut h = [0u8; HEADER_LEN];
        h[0] = PROTOCOL_VERSION;
        h[1] = kind;
        h[2..6].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        Header::parse(&h)
    };
    let max = MAX_PLAINTEXT_LEN + TAG_LEN;
    assert_eq!(parse(23, max).unwrap().len, max);
    assert!(
        matches!(parse(23, max + 1), Err(ProtoError::RecordTooLarge { len, .. }) if len == max + 1)
    );
    assert_eq!(parse(23, TAG_LEN + 1).unwrap().len, TAG_LEN + 1);
    assert!(matches!(
        parse(23, TAG_LEN),
        Err(ProtoError::MalformedRecord(_))
    ));
    for (kind, len) in [(1, HELLO_LEN), (2, CHALLENGE_LEN), (3, 1)] {
        assert!(parse(kind, len).is_ok());
        assert!(matches!(
            parse(kind, len + 1),
            Err(ProtoError::MalformedRecord(_))
        ));
        assert!(matches!(
            parse(kind, len - 1),
            Err(ProtoError::MalformedRecord(_))
        ));
    }
}
