//! Every message parser of `proto::msgs`, chosen by the first input byte
//! (`% 13`: HELLO, CHALLENGE, RESPONSE, SESSION_ESTABLISHED, OFFER, GET,
//! RESULT, LISTING, MKDIR, LIST, RESUME, END, RECEIPT); the rest is the body. Each parser has an exact wire layout, so an
//! accepted body must re-encode (with the crate's encoder where one
//! exists, else field by field) to exactly the input, and the re-encoding
//! must parse to the same value. RESULT's wait must fit its code (1 to
//! 3600 s with RateLimited, 0 otherwise), and any outcome an application
//! builds must encode to a RESULT that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::proto::codec::Writer;
use sft::proto::conn::MAX_LISTING_ENTRIES;
use sft::proto::msgs::{
    encode_list, encode_listing, encode_receipt, encode_resume, parse_list, parse_listing,
    parse_receipt, parse_resume, Challenge, End, Established, Get, Hello, Mkdir, Offer, Outcome,
    Response, ResultCode, EMPTY_SHA256, MAX_MODE, MAX_OFFSET, MAX_REASON_LEN, MAX_RETRY_AFTER_SECS,
};
use sft::proto::{ProtoError, MAX_NAME_LEN, MAX_PATH_LEN, MAX_PLAINTEXT_LEN};

/// Every RESULT code.
const CODES: [ResultCode; 9] = [
    ResultCode::Ok,
    ResultCode::Exists,
    ResultCode::BadName,
    ResultCode::TooLarge,
    ResultCode::NotFound,
    ResultCode::IoError,
    ResultCode::HashMismatch,
    ResultCode::NotAllowed,
    ResultCode::RateLimited,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 13 {
        0 => {
            if let Ok(m) = Hello::parse(body) {
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Hello::parse(&again).ok(), Some(m));
            }
        }
        1 => {
            if let Ok(m) = Challenge::parse(body) {
                let mut again = Challenge::encode_unsigned(&m.random, &m.ephemeral, &m.identity);
                again.extend_from_slice(m.signature.as_bytes());
                assert_eq!(again, body);
                assert_eq!(Challenge::parse(&again).ok(), Some(m));
            }
        }
        2 => {
            if let Ok(m) = Response::parse(body) {
                let again = [
                    &m.identity.as_bytes()[..],
                    &m.signature.as_bytes()[..],
                    &m.finished[..],
                ]
                .concat();
                assert_eq!(again, body);
                assert_eq!(Response::parse(&again).ok(), Some(m));
            }
        }
        3 => {
            if let Ok(m) = Established::parse(body) {
                let mut again = Vec::new();
                m.params.encode_into(&mut again);
                again.extend_from_slice(&m.finished);
                assert_eq!(again, body);
                assert_eq!(Established::parse(&again).ok(), Some(m));
            }
        }
        4 => {
            if let Ok(m) = Offer::parse(body) {
                assert!(m.path.len() <= MAX_PATH_LEN && m.meta.mode <= MAX_MODE);
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Offer::parse(&again).ok(), Some(m));
            }
        }
        5 => {
            if let Ok(m) = Get::parse(body) {
                assert!(m.path.len() <= MAX_PATH_LEN);
                assert!(m.held.offset <= m.max_size && m.held.offset <= MAX_OFFSET);
                assert!(m.held.offset > 0 || m.held.sha256 == EMPTY_SHA256);
                let mut again = Vec::new();
                again.put_vec16(&m.path);
                again.put_u64(m.max_size);
                again.put_u64(m.held.offset);
                again.extend_from_slice(&m.held.sha256);
                assert_eq!(again, m.encode());
                assert_eq!(again, body);
                assert_eq!(Get::parse(&again).ok(), Some(m));
            }
        }
        8 => {
            if let Ok(m) = Mkdir::parse(body) {
                assert!(m.path.len() <= MAX_PATH_LEN && m.meta.mode <= MAX_MODE);
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Mkdir::parse(&again).ok(), Some(m));
            }
        }
        9 => {
            if let Ok(path) = parse_list(body) {
                assert!(path.len() <= MAX_PATH_LEN);
                let again = encode_list(&path);
                assert_eq!(again, body);
                assert_eq!(parse_list(&again).ok(), Some(path));
            }
        }
        10 => {
            if let Ok(p) = parse_resume(body) {
                assert!(p.offset <= MAX_OFFSET);
                assert!(p.offset > 0 || p.sha256 == EMPTY_SHA256);
                let again = encode_resume(&p);
                assert_eq!(again, body);
                assert_eq!(parse_resume(&again).ok(), Some(p));
            }
        }
        11 => {
            if let Ok(end) = End::parse(body) {
                // Abandon only as all zero bytes: no hash of zeros is taken
                // for a file's.
                assert_eq!(end == End::Abandoned, body.iter().all(|b| *b == 0));
                let again = end.encode();
                assert_eq!(again, body);
                assert_eq!(End::parse(&again).ok(), Some(end));
            }
        }
        12 => {
            if let Ok((stored, sig)) = parse_receipt(body) {
                let again = encode_receipt(stored, &sig);
                assert_eq!(again, body);
                assert_eq!(parse_receipt(&again).ok(), Some((stored, sig)));
            }
        }
        6 => {
            if let Ok(m) = Outcome::parse(body) {
                assert!(m.reason.len() <= MAX_REASON_LEN);
                let wait_ok = match m.code {
                    ResultCode::RateLimited => {
                        (1..=MAX_RETRY_AFTER_SECS).contains(&m.retry_after_secs)
                    }
                    _ => m.retry_after_secs == 0,
                };
                assert!(wait_ok, "{m:?}");
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Outcome::parse(&again).ok(), Some(m));
            }
            // Any outcome the application builds encodes to a body the peer
            // accepts: the wait brought into its range for the code, the
            // reason cut at a character boundary to 255 bytes.
            if let [code, w0, w1, text @ ..] = body {
                let mut o = Outcome::new(CODES[usize::from(*code) % CODES.len()], "");
                o.retry_after_secs = u16::from_be_bytes([*w0, *w1]);
                o.reason = String::from_utf8_lossy(text).into_owned();
                let back = Outcome::parse(&o.encode()).expect("own RESULT parses");
                assert_eq!(back.code, o.code);
                let wait = match o.code {
                    ResultCode::RateLimited => o.retry_after_secs.clamp(1, MAX_RETRY_AFTER_SECS),
                    _ => 0,
                };
                assert_eq!(back.retry_after_secs, wait);
                // The longest prefix of whole characters that fits.
                let fits = o
                    .reason
                    .char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .take_while(|&end| end <= MAX_REASON_LEN)
                    .last()
                    .unwrap_or(0);
                assert_eq!(back.reason, o.reason[..fits]);
            }
        }
        _ => {
            let mut entries = Vec::new();
            if let Ok(more) = parse_listing(body, &mut entries, MAX_LISTING_ENTRIES) {
                for e in &entries {
                    assert!(e.name.len() <= MAX_NAME_LEN && e.mode <= MAX_MODE, "{e:?}");
                }
                // The count is checked against the limit before any entry.
                if let Some(fewer) = entries.len().checked_sub(1) {
                    assert!(matches!(
                        parse_listing(body, &mut Vec::new(), fewer),
                        Err(ProtoError::ListingTooLong { .. })
                    ));
                }
                // The encoder drops no valid entry and packs a body that fits
                // one record into one body, marked last.
                let (bodies, sent) = encode_listing(&entries);
                assert_eq!(sent, entries.len());
                if body.len() > MAX_PLAINTEXT_LEN - 1 {
                    return;
                }
                assert_eq!(bodies.len(), 1);
                assert_eq!(bodies[0][0], 0);
                assert_eq!(bodies[0][1..], body[1..]);
                let mut again = Vec::new();
                let parsed = parse_listing(&bodies[0], &mut again, MAX_LISTING_ENTRIES);
                assert_eq!(parsed.ok(), Some(false));
                assert_eq!(again, entries);
                assert_eq!(body[0], u8::from(more));
            }
        }
    }
});
