//! `--threads N`: sessions spread over the loops, share one audit log and
//! one set of limits, and all hear the shutdown (the harness, tests/inproc/,
//! runs every other in-process test with two loops too).

mod inproc;

use std::path::PathBuf;
use std::thread;

use inproc::*;
use sft::net::client::ClientError;
use sft::proto::msgs::ResultCode;
use sft::proto::{AlertCode, ProtoError};

/// CPU time, in clock ticks, of this process's threads named `name`.
#[cfg(target_os = "linux")]
fn ticks_of(name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

#[cfg(target_os = "linux")]
#[test]
fn sessions_spread_over_the_loops_and_share_one_audit_log() {
    let server = Running::start(|o| o.threads = 2);
    let local = tempfile::TempDir::new().unwrap();
    let data: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    let file: PathBuf = local_file(local.path(), "big", &data);
    let before = ticks_of("sft-loop-1");
    // Four sessions at once, each storing two files: two of them are
    // served by the second loop.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let mut s = server.session().unwrap();
            let file = file.clone();
            thread::spawn(move || {
                let steps = vec![
                    put(&file, &format!("s{i}-a")),
                    put(&file, &format!("s{i}-b")),
                ];
                let mut seen = Seen::default();
                s.run_batch(steps, None, &mut seen).unwrap();
                for k in 0..2 {
                    assert_eq!(
                        seen.outcome(k).code,
                        ResultCode::Ok,
                        "session {i}, file {k}"
                    );
                }
                s.close().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        ticks_of("sft-loop-1") > before,
        "the second loop served none of the data"
    );
    assert_eq!(server.root_names().len(), 8);
    for name in server.root_names() {
        assert_eq!(
            std::fs::read(server.root.path().join(&name)).unwrap(),
            data,
            "{name}"
        );
    }
    // Two committers appended to one log: one chain, every upload in it.
    let report = sft::audit::verify(&server.audit_log(), &server.host_key()).unwrap();
    assert!(report.first_error.is_none(), "{:?}", report.first_error);
    assert_eq!(report.uploads, 8);
}

#[test]
fn a_request_budget_is_the_keys_whatever_loop_serves_its_sessions() {
    let server = Running::start(|o| {
        o.threads = 3;
        o.limits.key_rate = sft::net::server::Rate {
            burst: std::num::NonZeroU32::new(3).unwrap(),
            per: std::time::Duration::from_secs(3600),
        };
    });
    // Three sessions of one key, each on its own loop, spend the burst
    // (3) between them; the next request, on any of them, waits.
    let mut sessions: Vec<_> = (0..3).map(|_| server.session().unwrap()).collect();
    for (i, s) in sessions.iter_mut().enumerate() {
        assert!(s.list("").unwrap().is_ok(), "request {i}");
    }
    for s in &mut sessions {
        let refused = s.list("").unwrap().unwrap_err();
        assert_eq!(refused.code, ResultCode::RateLimited);
    }
}

#[test]
fn a_key_holds_at_most_half_of_the_slots_across_the_loops() {
    let server = Running::start(|o| {
        o.threads = 4;
        o.limits.max_connections = 6;
    });
    // Its share is 3: three sessions (on three loops), then busy.
    let held: Vec<_> = (0..3).map(|_| server.session().unwrap()).collect();
    match server.session() {
        Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy))) => {}
        r => panic!("expected Busy, got {:?}", r.map(|_| "a session")),
    }
    drop(held);
}

#[test]
fn every_loops_sessions_hear_the_shutdown() {
    let mut server = Running::start(|o| o.threads = 2);
    let mut sessions: Vec<_> = (0..4).map(|_| server.session().unwrap()).collect();
    for s in &mut sessions {
        assert!(s.list("").unwrap().is_ok());
    }
    server.stop().unwrap();
    for (i, s) in sessions.iter_mut().enumerate() {
        match s.list("") {
            Err(ClientError::Proto(ProtoError::PeerAlert(AlertCode::ShuttingDown))) => {}
            other => panic!("session {i}: expected ShuttingDown, got {other:?}"),
        }
    }
}
