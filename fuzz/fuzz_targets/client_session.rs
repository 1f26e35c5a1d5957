//! A client connection, established in memory with fixed keys, fed the
//! input as its peer: raw bytes, or correctly sealed records and local
//! calls (format and checks in `fuzz/src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::proto::conn::ClientConnection;

fuzz_target!(|data: &[u8]| sft_fuzz::run::<ClientConnection>(data));
