//! The server in-process: shutdown, the Busy refusal and the closing set,
//! the rate of refused requests (the harness is tests/inproc/).

mod inproc;

use inproc::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sft::fs::FsError;
use sft::net::client::{BatchObserver, ClientError, Report};
use sft::net::server::{Rate, MAX_CLOSING, MAX_RATE_REFUSALS_IN_A_ROW};
use sft::proto::conn::busy_record;
use sft::proto::limiter::DEFAULT_MAX_PENDING_PER_SOURCE;
use sft::proto::msgs::ResultCode;
use sft::proto::{AlertCode, ProtoError};
use tempfile::TempDir;

#[test]
fn the_busy_record_is_the_documented_bytes() {
    assert_eq!(busy_record(), BUSY);
}

#[test]
fn a_busy_refusal_at_the_cap_is_read_even_after_the_client_sent_hello() {
    let server = Running::start(|o| o.limits.max_connections = 1);
    let a = server.session().unwrap();
    // Before the graceful close, the unread HELLO made the kernel reset the
    // connection and the Busy record was often lost: run it many times.
    let hello = hello();
    for i in 0..50 {
        let mut sock = connect_from("127.0.0.1", server.addr);
        sock.write_all(&hello).unwrap();
        let got = read_all(&mut sock).unwrap_or_else(|e| panic!("connect {i}: {e}"));
        assert_eq!(got, BUSY, "connect {i}");
    }
    // The session holding the slot was never disturbed.
    let mut a = a;
    assert!(a.list("").unwrap().is_ok());
    a.close().unwrap();
}

#[test]
fn a_session_client_hears_busy_at_the_cap() {
    let server = Running::start(|o| o.limits.max_connections = 1);
    let _a = server.session().unwrap();
    for _ in 0..10 {
        match server.session() {
            Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy))) => {}
            other => panic!("expected Busy, got {:?}", other.map(|_| "a session")),
        }
    }
}

#[test]
fn max_pending_per_source_then_one_more_is_refused() {
    let server = Running::start(|_| {});
    // Exactly the limit from 127.0.0.2: each admitted, each left half-way.
    let held: Vec<TcpStream> = (0..DEFAULT_MAX_PENDING_PER_SOURCE)
        .map(|_| {
            let mut s = connect_from("127.0.0.2", server.addr);
            admitted_half_way(&mut s);
            s
        })
        .collect();
    // One more from the same address is refused with Busy.
    let mut past = connect_from("127.0.0.2", server.addr);
    past.write_all(&hello()).unwrap();
    assert_eq!(read_all(&mut past).unwrap(), BUSY);
    // Other addresses are not affected.
    let mut other = connect_from("127.0.0.3", server.addr);
    admitted_half_way(&mut other);
    let mut honest = server.session().unwrap();
    assert!(honest.list("").unwrap().is_ok());
    drop(held);
}

#[test]
fn the_request_after_max_rate_refusals_in_a_row_ends_the_session() {
    // The first listing uses up the key's allowance.
    let server = Running::start(|o| {
        o.limits.key_rate = Rate {
            burst: std::num::NonZeroU32::new(1).unwrap(),
            per: Duration::from_secs(3600),
        }
    });
    let mut s = server.session().unwrap();
    assert!(s.list("").unwrap().is_ok());
    // The first refusal announces an hour's wait (20 minutes per token of
    // 1 per hour, rounded); then exactly the limit of requests that do not
    // wait is refused and the session goes on...
    for i in 0..=MAX_RATE_REFUSALS_IN_A_ROW {
        let refused = s.list("").unwrap().unwrap_err();
        assert_eq!(refused.code, ResultCode::RateLimited, "refusal {i}");
    }
    // ...and one past: the server closes (gracefully: no reset, the stream
    // ends).
    match s.list("") {
        Err(ClientError::Proto(ProtoError::Truncated)) => {}
        other => panic!("expected the session cut, got {other:?}"),
    }
}

#[test]
fn shutdown_sends_alert_9_to_an_established_session() {
    let mut server = Running::start(|_| {});
    let mut s = server.session().unwrap();
    assert!(s.list("").unwrap().is_ok());
    // run() returns once the session's socket is closed (here: the linger
    // ends, as this client sends nothing more); the alert and the end of
    // stream then wait in the client's socket.
    server.stop().unwrap();
    match s.list("") {
        Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::ShuttingDown))) => {}
        other => panic!("expected ShuttingDown, got {other:?}"),
    }
}

#[test]
fn shutdown_mid_upload_tells_the_uploader_and_removes_the_partial_file() {
    let mut server = Running::start(|_| {});
    let local = TempDir::new().unwrap();
    let path = local.path().join("big.bin");
    std::fs::write(&path, vec![5u8; 64 << 20]).unwrap();
    let mut s = server.session().unwrap();
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    /// Pauses once, mid-upload, until the server has been told to stop.
    struct PauseOnce {
        sent: u64,
        paused: bool,
        started: mpsc::Sender<()>,
        go: mpsc::Receiver<()>,
    }
    impl BatchObserver for PauseOnce {
        fn bytes(&mut self, n: u64) {
            self.sent += n;
            if !self.paused && self.sent >= 1 << 20 {
                self.paused = true;
                self.started.send(()).unwrap();
                self.go.recv().unwrap();
            }
        }
        fn done(&mut self, _: usize, result: Result<Report, FsError>) {
            panic!("the upload was answered: {result:?}");
        }
        fn waiting(&mut self, _: usize, _: Duration, _: &str) {}
    }
    let uploader = thread::spawn(move || {
        let mut pause = PauseOnce {
            sent: 0,
            paused: false,
            started: started_tx,
            go: go_rx,
        };
        s.run_batch(vec![put(&path, "big.bin")], None, &mut pause)
    });
    started.recv().unwrap();
    server.stop.shutdown();
    go.send(()).unwrap();
    // Far less than the 63 MiB left can move before the server sees the
    // stop, so the upload cannot finish: the client hears why it ended.
    match uploader.join().unwrap() {
        Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::ShuttingDown))) => {}
        other => panic!("expected ShuttingDown, got {other:?}"),
    }
    server.stop().unwrap();
    assert!(server.root_names().is_empty(), "{:?}", server.root_names());
}

/// A stop that lands as an upload completes (all bytes written, the
/// commit queued or running) must never leave a file stored under its
/// final name while its client is told the upload failed: the server
/// finishes the commits already queued and answers them before alert 9.
/// Which side of the race each run lands on varies; the invariant must
/// hold on both (before the fix, a file could be stored while its client
/// heard only ShuttingDown, or be left as a partial file).
#[test]
fn a_stop_as_an_upload_completes_never_contradicts_its_client() {
    const SIZE: u64 = 8 << 20;
    for run in 0..10 {
        let mut server = Running::start(|_| {});
        let local = TempDir::new().unwrap();
        let path = local.path().join("f.bin");
        std::fs::write(&path, vec![3u8; SIZE as usize]).unwrap();
        let stop = server.stop.clone();
        let root = server.root.path().to_path_buf();
        // Stop as soon as every byte is on the server's disk.
        let watcher = thread::spawn(move || {
            let deadline = Instant::now() + GUARD;
            while Instant::now() < deadline {
                let full = std::fs::read_dir(&root)
                    .unwrap()
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .any(|m| m.len() == SIZE);
                if full {
                    stop.shutdown();
                    return;
                }
                thread::yield_now();
            }
        });
        let mut s = server.session().unwrap();
        let answer = s.run_one(put(&path, "f.bin"), None);
        watcher.join().unwrap();
        drop(s);
        server.stop().unwrap();
        let names = server.root_names();
        match answer {
            Ok(Ok(r)) if r.outcome.code == ResultCode::Ok => {
                assert_eq!(names, vec!["f.bin".to_string()], "run {run}")
            }
            other => assert!(
                names.is_empty(),
                "run {run}: the client heard {other:?} but the root holds {names:?}"
            ),
        }
    }
}

#[test]
fn refused_connects_past_the_closing_bound_still_hear_busy_and_sessions_go_on() {
    let server = Running::start(|o| o.limits.max_connections = 1);
    let mut a = server.session().unwrap();
    // Refused peers that never close fill the closing set; past its bound
    // a refused socket is closed at once, after the same Busy and FIN.
    let mut held = Vec::new();
    for i in 0..MAX_CLOSING + 8 {
        let mut sock = connect_from("127.0.0.1", server.addr);
        let got = read_all(&mut sock).unwrap_or_else(|e| panic!("connect {i}: {e}"));
        assert_eq!(got, BUSY, "connect {i}");
        held.push(sock);
    }
    assert!(a.list("").unwrap().is_ok());
    a.close().unwrap();
}
