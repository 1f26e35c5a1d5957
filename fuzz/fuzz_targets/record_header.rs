//! `record::Header::parse` on arbitrary 14 bytes, against an independent
//! model of PROTOCOL.md §2.1, §2.2 and §2.6 step 1: the verdict and the error
//! kind must match the model, and an accepted header re-encodes to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::crypto::aead::TAG_LEN;
use sft::proto::record::{Header, RecordType, CHALLENGE_LEN, HEADER_LEN, HELLO_LEN};
use sft::proto::{ProtoError, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION};

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = data.get(..HEADER_LEN) else {
        return;
    };
    let h: &[u8; HEADER_LEN] = bytes.try_into().expect("14 bytes");
    let len = u32::from_be_bytes(h[2..6].try_into().expect("4 bytes")) as usize;
    let max = MAX_PLAINTEXT_LEN + TAG_LEN;
    match Header::parse(h) {
        Ok(header) => {
            assert_eq!(&header.encode(), h, "re-encoding changed the header");
            assert_eq!(h[0], PROTOCOL_VERSION);
            assert_eq!(header.len, len);
            match header.kind {
                RecordType::Hello => assert_eq!(len, HELLO_LEN),
                RecordType::Challenge => assert_eq!(len, CHALLENGE_LEN),
                RecordType::PlainAlert => assert_eq!(len, 1),
                RecordType::Encrypted => assert!(len > TAG_LEN && len <= max, "length {len}"),
            }
        }
        Err(ProtoError::UnsupportedVersion { got }) => {
            assert_ne!(h[0], PROTOCOL_VERSION);
            assert_eq!(got, h[0]);
        }
        Err(ProtoError::RecordTooLarge { len: got, max: m }) => {
            assert_eq!(h[0], PROTOCOL_VERSION);
            assert_eq!((h[1], got, m), (RecordType::Encrypted as u8, len, max));
            assert!(len > max);
        }
        Err(ProtoError::MalformedRecord(_)) => {
            assert_eq!(h[0], PROTOCOL_VERSION);
            let fits = match h[1] {
                1 => len == HELLO_LEN,
                2 => len == CHALLENGE_LEN,
                3 => len == 1,
                23 => len > TAG_LEN && len <= max,
                _ => false,
            };
            assert!(!fits, "a valid header was refused: {h:02x?}");
        }
        Err(e) => panic!("unexpected error kind {e:?} for {h:02x?}"),
    }
});
