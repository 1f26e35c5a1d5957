//! Two uploads of one name race on a server that never overwrites: the
//! loser, refused at commit, hears what staging would have told it (the
//! server does not allow overwriting), not advice to ask with --overwrite.

mod e2e;

use std::time::Instant;

use e2e::*;
use sft::proto::msgs::ResultCode;

#[test]
fn the_loser_of_a_commit_race_hears_that_the_server_never_overwrites() {
    let (server, client) = pair();
    const SIZE: usize = 3 * CHUNK;
    // The slow uploader is staged first: the name is still free.
    let mut slow = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    slow.conn
        .request_upload("race.bin", SIZE as u64, false, None, false, 1_764_000_100)
        .unwrap();
    // No ACCEPT in v3: the server's log says when it has staged the file.
    while slow.conn.wants_write() {
        slow.conn.write_tls(&mut slow.sock, Instant::now()).unwrap();
    }
    assert!(server.wait_log(&format!("upload \"race.bin\" ({SIZE} bytes)")));
    // A second upload of the name is staged and stored meanwhile.
    let p = random_file(client.dir(), "race.bin", 100);
    let out = client.sft(&[
        "put",
        &server.target(),
        "--server-key",
        &server.host_fp,
        p.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The slow one finishes; its commit finds the name taken.
    for _ in 0..SIZE / CHUNK {
        slow.conn.send_data(&vec![9u8; CHUNK]).unwrap();
    }
    let outcome = loop {
        while slow.conn.wants_write() {
            slow.conn.write_tls(&mut slow.sock, Instant::now()).unwrap();
        }
        if let Some(o) = next_outcome(&mut slow) {
            break o;
        }
    };
    assert_eq!(outcome.0, ResultCode::Exists);
    assert!(
        outcome.1.contains("does not allow overwriting"),
        "{}",
        outcome.1
    );
    assert!(!outcome.1.contains("ask with --overwrite"), "{}", outcome.1);
    assert_eq!(
        std::fs::read(server.root.join("race.bin")).unwrap().len(),
        100
    );
}

/// Reads once; the outcome's code and reason if one arrived.
fn next_outcome(raw: &mut raw::Raw) -> Option<(ResultCode, String)> {
    use sft::proto::conn::ClientEvent;
    let now = Instant::now();
    let mut buf = [0u8; 65536];
    let n = std::io::Read::read(&mut raw.sock, &mut buf).unwrap();
    assert!(n > 0, "the server closed before answering");
    raw.conn.read_tls(&mut &buf[..n], now).unwrap();
    let mut found = None;
    while let Some(ev) = raw.conn.next_event().unwrap() {
        if let ClientEvent::Outcome(o) = ev {
            found = Some((o.code, o.reason.clone()));
        }
    }
    found
}
