//! Receipt files on any bytes (`sft receipt verify` reads files anyone may
//! have edited): reading never panics, and a receipt that verifies
//! re-encodes to a line that verifies to the same receipt.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sft::receipt::{read_verified_from, Record};

fuzz_target!(|data: &[u8]| {
    let _ = read_verified_from(Cursor::new(data));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = Record::parse_verified(text) {
            assert_eq!(Record::parse_verified(&record.to_line()).ok(), Some(record));
        }
    }
});
