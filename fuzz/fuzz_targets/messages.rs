//! Every message parser of `proto::msgs`, chosen by the first input byte;
//! the rest is the body. Each parser has an exact wire layout, so an
//! accepted body must re-encode (with the crate's encoder where one
//! exists, else field by field) to exactly the input, and the re-encoding
//! must parse to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::proto::codec::Writer;
use sft::proto::msgs::{
    encode_listing, parse_get, parse_listing, Challenge, Established, Hello, Offer, Outcome,
    Response, MAX_REASON_LEN,
};
use sft::proto::{MAX_NAME_LEN, MAX_PLAINTEXT_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 8 {
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
                assert!(m.name.len() <= MAX_NAME_LEN);
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Offer::parse(&again).ok(), Some(m));
            }
        }
        5 => {
            if let Ok(name) = parse_get(body) {
                assert!(name.len() <= MAX_NAME_LEN);
                let mut again = Vec::new();
                again.put_vec16(&name);
                assert_eq!(again, body);
                assert_eq!(parse_get(&again).ok(), Some(name));
            }
        }
        6 => {
            if let Ok(m) = Outcome::parse(body) {
                assert!(m.reason.len() <= MAX_REASON_LEN);
                let again = m.encode();
                assert_eq!(again, body);
                assert_eq!(Outcome::parse(&again).ok(), Some(m));
            }
        }
        _ => {
            let mut entries = Vec::new();
            if let Ok(more) = parse_listing(body, &mut entries) {
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
                assert_eq!(parse_listing(&bodies[0], &mut again).ok(), Some(false));
                assert_eq!(again, entries);
                assert_eq!(body[0], u8::from(more));
            }
        }
    }
});
