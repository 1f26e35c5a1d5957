//! `audit::verify_reader` on arbitrary bytes as an audit log, with a fixed
//! host key (the server identity of tests/vectors/protocol/session.txt,
//! seed 22*32, which signs the seeds fuzz/make_seeds.py writes); and
//! `audit::Line::parse` on the input as text. Checked: no panic; the
//! report adds up (a clean report counts every line by kind and has a head
//! over the last entry; a failure names an entry from 1 to one past the
//! lines checked); a parsed line re-encodes to a line that parses to the
//! same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::audit::{verify_reader, Line};
use sft::crypto::ed25519::VerifyingKey;

/// The server identity public key of tests/vectors/protocol/session.txt
/// (a09aa5f4…55a4f0).
const HOST: [u8; 32] = [
    0xa0, 0x9a, 0xa5, 0xf4, 0x7a, 0x67, 0x59, 0x80, 0x2f, 0xf9, 0x55, 0xf8, 0xdc, 0x2d, 0x2a, 0x14,
    0xa5, 0xc9, 0x9d, 0x23, 0xbe, 0x97, 0xf8, 0x64, 0x12, 0x7f, 0xf9, 0x38, 0x34, 0x55, 0xa4, 0xf0,
];

fn host() -> &'static VerifyingKey {
    static KEY: std::sync::OnceLock<VerifyingKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| VerifyingKey::from_bytes(&HOST).expect("a public key"))
}

fuzz_target!(|data: &[u8]| {
    let r = verify_reader(data, host()).expect("reading a slice cannot fail");
    let counted = r.uploads + r.downloads + r.refusals + r.heads;
    assert_eq!(counted, r.entries, "{r:?}");
    assert!(r.signed_through <= r.entries, "{r:?}");
    match &r.first_error {
        None => assert_eq!(r.signed_through, r.entries, "{r:?}"),
        Some(f) => {
            assert_eq!(f.line, f.seq, "{r:?}");
            assert!(f.seq >= 1 && f.seq <= r.entries + 1, "{r:?}");
        }
    }

    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(line) = Line::parse(text) {
            let again = line.encode();
            assert_eq!(Line::parse(&again).as_ref(), Ok(&line), "{again}");
        }
    }
});
