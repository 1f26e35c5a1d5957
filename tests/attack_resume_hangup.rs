//! Issue 10, second attack pass (helper J): a client that hangs up while
//! the server hashes the prefix it named must lose its session at once
//! (and its hash job with it), whatever it sent before hanging up.
//!
//! The fix of the first pass looks for the end of stream only in a read
//! that comes *after* the hash job started (`turn.rs`: `end == Eof &&
//! s.hashing.is_some()` is tested before the events are handled). A client
//! that sends its GET and enough pipelined records to fill the server's
//! receive buffer (128 KiB) before its FIN is never read again while its
//! prefix is hashed: the FIN stays unread behind the unread records, the
//! readiness edge it raised is spent, and the session (a slot of its key,
//! and the hasher's time) lasts until the whole prefix is hashed. The
//! file here is a sparse 1 TiB: that is about 12 minutes of one core.
//! (A GET whose FIN arrives in the same read as the GET is missed the same
//! way, but that depends on timing; this does not.)

#[allow(dead_code)]
mod hostile;
mod inproc;
#[allow(dead_code)]
mod resumer;

use std::io::Read;
use std::net::Shutdown;
use std::time::Duration;

use hostile::Hostile;
use inproc::*;
use sft::proto::msgs::{inner, Get, Prefix};
use sft::proto::CHUNK_LEN;

#[test]
fn a_client_that_hangs_up_behind_a_full_buffer_while_its_prefix_is_hashed_loses_its_session() {
    let server = Running::start(|o| {
        // Only the end of stream may end the session, not the idle timer.
        o.timeouts.idle = Duration::from_secs(3600);
    });
    let size: u64 = 1 << 40;
    let huge = std::fs::File::create(server.root.path().join("huge.bin")).unwrap();
    huge.set_len(size).unwrap();
    drop(huge);

    let mut h = Hostile::connect(&server);
    let get = Get {
        path: b"huge.bin".to_vec(),
        max_size: u64::MAX,
        held: Prefix {
            offset: size,
            sha256: [0x5a; 32],
        },
    };
    h.send(inner::GET, &get.encode());
    // Pipelined records past the GET, more than the server's receive
    // buffer holds: it stops reading while the prefix is hashed.
    let mut chunk = vec![0u8; 8 + CHUNK_LEN];
    chunk[..8].copy_from_slice(&0u64.to_be_bytes());
    for _ in 0..4 {
        h.send(inner::CHUNK, &chunk);
    }
    // Hang up (the write side; this side still reads, to see the server
    // end the session). GUARD bounds the wait: a server that never notices
    // makes read_to_end fail with a timeout.
    let mut sock = h.into_socket();
    sock.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let ended = sock.read_to_end(&mut rest);
    assert!(
        ended.is_ok(),
        "the server kept the session of a client that hung up while it \
         hashed a 1 TiB prefix for it: {ended:?}"
    );
}
