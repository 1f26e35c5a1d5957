//! Pipelined requests against the in-process server (the harness is
//! tests/inproc/): answers in request order with each its own outcome, a
//! GET held until the RESULTs owed before it are out, MKDIR metadata set
//! after the uploads before it, and a client with a full pipeline when the
//! rate limit strikes.

mod inproc;

use std::num::NonZeroU32;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use inproc::*;
use sft::crypto::hash::sha256;
use sft::net::server::{Rate, MAX_RATE_REFUSALS_IN_A_ROW};
use sft::proto::msgs::{EntryKind, Meta, Outcome, ResultCode};
use sft::proto::{ProtoError, MAX_IN_FLIGHT};
use tempfile::TempDir;

/// Distinct content for file `i`, `len` bytes.
fn content(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// The codes of the outcomes in `got`, in order.
fn codes(got: &[Got]) -> Vec<ResultCode> {
    got.iter()
        .map(|g| match g {
            Got::Outcome(o) => o.code,
            other => panic!("not a RESULT: {other:?}"),
        })
        .collect()
}

#[test]
fn max_in_flight_pipelined_uploads_are_answered_in_order_each_with_its_outcome() {
    let server = Running::start(|o| o.max_file_size = 4096);
    let root = server.root.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    // Six kinds of request, round and round: stored, stored in a
    // directory, an existing name, a staging name the file layer refuses,
    // a missing directory, too large (its data streams and is skipped).
    let plan: Vec<(String, Vec<u8>, ResultCode)> = (0..MAX_IN_FLIGHT)
        .map(|i| match i % 6 {
            0 => (format!("f{i}"), content(i, 100 + i), ResultCode::Ok),
            1 => (format!("sub/f{i}"), content(i, 3000), ResultCode::Ok),
            2 => {
                std::fs::write(root.join(format!("old{i}")), b"old").unwrap();
                (format!("old{i}"), content(i, 10), ResultCode::Exists)
            }
            3 => (
                format!("sub/.sft-part-{i:016x}"),
                content(i, 10),
                ResultCode::BadName,
            ),
            4 => (format!("nodir/f{i}"), content(i, 10), ResultCode::NotFound),
            _ => (format!("big{i}"), content(i, 5000), ResultCode::TooLarge),
        })
        .collect();
    let mut raw = Raw::connect(&server);
    for (path, data, _) in &plan {
        raw.upload(path, data, None);
    }
    // All of them are in flight at once; the pipeline is full.
    assert_eq!(raw.conn.in_flight(), MAX_IN_FLIGHT);
    assert!(!raw.conn.can_request());
    let got = raw.answers(MAX_IN_FLIGHT).unwrap();
    let expected: Vec<ResultCode> = plan.iter().map(|(_, _, code)| *code).collect();
    assert_eq!(codes(&got), expected);
    assert!(raw.conn.can_request());
    for (i, (path, data, code)) in plan.iter().enumerate() {
        let stored = std::fs::read(root.join(path)).ok();
        match code {
            ResultCode::Ok => assert_eq!(stored.as_ref(), Some(data), "{i}: {path}"),
            ResultCode::Exists => assert_eq!(stored.unwrap(), b"old", "{i}: {path}"),
            _ => assert_eq!(stored, None, "{i}: {path}"),
        }
    }
    // Refused files left nothing behind; the session goes on.
    let mut top = server.root_names();
    top.sort();
    let mut want: Vec<String> = plan
        .iter()
        .filter(|(p, _, c)| !p.contains('/') && matches!(c, ResultCode::Ok | ResultCode::Exists))
        .map(|(p, _, _)| p.clone())
        .chain(["sub".to_string()])
        .collect();
    want.sort();
    assert_eq!(top, want);
    raw.close().unwrap();
}

#[test]
fn a_get_and_a_list_after_owed_uploads_are_served_after_their_results() {
    let server = Running::start(|_| {});
    let files: Vec<(String, Vec<u8>)> = (0..8)
        .map(|i| (format!("u{i}"), content(i, (256 << 10) + i)))
        .collect();
    let mut raw = Raw::connect(&server);
    for (path, data) in &files {
        raw.upload(path, data, None);
    }
    // Sent right behind the uploads' ENDs, before any of them is stored:
    // a GET of one of them, and a LIST of the root.
    raw.conn.request_download("u5", u64::MAX, None).unwrap();
    raw.conn.request_list("").unwrap();
    raw.flush();
    let got = raw.answers(files.len() + 2).unwrap();
    // The RESULTs first, in order; then the download, whole; then the
    // listing, which sees every file stored.
    let (results, rest) = got.split_at(files.len());
    assert_eq!(codes(results), vec![ResultCode::Ok; files.len()]);
    let want = &files[5].1;
    let Got::Offered { size, .. } = &rest[0] else {
        panic!("{:?}", rest[0]);
    };
    assert_eq!(*size, want.len() as u64);
    let data: Vec<u8> = rest
        .iter()
        .filter_map(|g| match g {
            Got::Data(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(&data, want);
    let n = rest.len();
    assert_eq!(rest[n - 2], Got::Complete(sha256(want).unwrap()));
    let Got::Listing(entries) = &rest[n - 1] else {
        panic!("{:?}", rest[n - 1]);
    };
    let mut listed: Vec<(&str, u64)> = entries.iter().map(|e| (&e.name[..], e.size)).collect();
    listed.sort();
    let mut stored: Vec<(&str, u64)> = files
        .iter()
        .map(|(p, d)| (&p[..], d.len() as u64))
        .collect();
    stored.sort();
    assert_eq!(listed, stored);
    raw.close().unwrap();
}

/// The mtime `sft put -r -p` asks for, long before any test runs.
const T: i64 = 1_000_000_000;

#[test]
fn mkdir_with_preserve_after_its_files_keeps_its_mtime_and_a_0555_dir_has_its_files() {
    let server = Running::start(|_| {});
    let local = TempDir::new().unwrap();
    // As `sft put -r -p` plans it: each directory made plainly first, its
    // files, then each directory again, deepest first, with its metadata.
    let mut steps = vec![mkdir("d", None)];
    let mut files = Vec::new();
    for i in 0..20 {
        let path = local_file(local.path(), &format!("f{i}"), &content(i, 1000 + i));
        steps.push(put(&path, &format!("d/f{i}")));
        files.push((format!("d/f{i}"), content(i, 1000 + i)));
    }
    steps.push(mkdir("d/e", None));
    let x = local_file(local.path(), "x", b"inner");
    steps.push(put(&x, "d/e/x"));
    files.push(("d/e/x".to_string(), b"inner".to_vec()));
    let ro = |mtime| Some(Meta { mode: 0o555, mtime });
    steps.push(mkdir("d/e", ro(T + 1)));
    steps.push(mkdir("d", ro(T)));
    let n = steps.len();
    let mut s = server.session().unwrap();
    let mut seen = Seen::default();
    s.run_batch(steps, None, &mut seen).unwrap();
    assert_eq!(seen.order(), (0..n).collect::<Vec<_>>());
    for i in 0..n {
        assert_eq!(seen.outcome(i).code, ResultCode::Ok, "request {i}");
    }
    let root = server.root.path();
    for (dir, mtime) in [("d", T), ("d/e", T + 1)] {
        let meta = std::fs::metadata(root.join(dir)).unwrap();
        assert_eq!(meta.mtime(), mtime, "{dir}: not reset by a later rename");
        assert_eq!(meta.mode() & 0o7777, 0o555, "{dir}");
    }
    for (path, data) in &files {
        assert_eq!(&std::fs::read(root.join(path)).unwrap(), data, "{path}");
    }
    // The listing of the read-only directory shows both kinds.
    let listing = s.list("d").unwrap().unwrap();
    assert_eq!(listing.len(), 21);
    let e = listing.iter().find(|e| e.name == "e").unwrap();
    assert_eq!((e.kind, e.mode, e.mtime), (EntryKind::Dir, 0o555, T + 1));
    s.close().unwrap();
    for dir in ["d", "d/e"] {
        let writable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(root.join(dir), writable).unwrap();
    }
}

/// PROTOCOL.md §4.3, server rule 3: a MKDIR's directory exists before a
/// later request inside it is decided, with metadata or without.
#[test]
fn mkdir_with_preserve_alone_makes_the_directory_before_the_uploads_behind_it() {
    let server = Running::start(|_| {});
    let local = TempDir::new().unwrap();
    let a = local_file(local.path(), "a", b"alpha");
    let steps = vec![
        mkdir(
            "p",
            Some(Meta {
                mode: 0o750,
                mtime: T,
            }),
        ),
        put(&a, "p/a"),
    ];
    let mut s = server.session().unwrap();
    let mut seen = Seen::default();
    s.run_batch(steps, None, &mut seen).unwrap();
    assert_eq!(seen.outcome(0).code, ResultCode::Ok);
    assert_eq!(seen.outcome(1), &Outcome::ok());
    let root = server.root.path();
    assert_eq!(std::fs::read(root.join("p/a")).unwrap(), b"alpha");
    let mode = std::fs::metadata(root.join("p")).unwrap().mode();
    assert_eq!(mode & 0o7777, 0o750);
    s.close().unwrap();
}

/// One token an hour: after the first request, every request is over the
/// budget, and the wait each refusal announces (an hour) never passes.
fn one_an_hour(o: &mut sft::net::server::ServeOptions) {
    o.limits.key_rate = Rate {
        burst: NonZeroU32::new(1).unwrap(),
        per: Duration::from_secs(3600),
    };
}

/// Queues request `i` of a pipeline: MKDIRs and uploads in turn (a
/// refused upload's data streams anyway and is skipped).
fn request(raw: &mut Raw, i: usize) {
    if i % 2 == 0 {
        raw.conn.request_mkdir(&format!("d{i}"), None).unwrap();
        raw.flush();
    } else {
        raw.upload(&format!("f{i}"), &content(i, 3000), None);
    }
}

/// A client with MAX_IN_FLIGHT requests on their way when its first
/// RESULT 8 arrives is not cut off: they are refused in their turn, as are
/// 8 more sent before the wait (MAX_RATE_REFUSALS_IN_A_ROW early refusals
/// after the first, kept); one more early request ends the session.
#[test]
fn a_full_pipeline_over_the_rate_limit_is_refused_not_cut_and_one_past_the_limit_is() {
    assert_eq!(MAX_RATE_REFUSALS_IN_A_ROW as usize, MAX_IN_FLIGHT + 8);
    // The first refusal is not early (no wait was announced before it).
    let kept = 1 + MAX_RATE_REFUSALS_IN_A_ROW as usize;
    for sent in [kept, kept + 1] {
        let server = Running::start(one_an_hour);
        let mut raw = Raw::connect(&server);
        raw.conn.request_list("").unwrap();
        raw.flush();
        assert!(matches!(raw.answers(1).unwrap()[..], [Got::Listing(_)]));
        for i in 0..MAX_IN_FLIGHT {
            request(&mut raw, i);
        }
        assert!(!raw.conn.can_request());
        let mut got = Vec::new();
        let mut cut = None;
        for i in MAX_IN_FLIGHT..sent {
            // Room for one more: read until an answer frees it.
            while !raw.conn.can_request() {
                got.extend(raw.read().unwrap());
            }
            request(&mut raw, i);
        }
        while got.len() < kept {
            match raw.read() {
                Ok(more) => got.extend(more),
                Err(e) => {
                    cut = Some(e);
                    break;
                }
            }
        }
        assert_eq!(got.len(), kept, "{sent} requests");
        for (i, g) in got.iter().enumerate() {
            let Got::Outcome(o) = g else {
                panic!("{sent} requests, answer {i}: {g:?}");
            };
            assert_eq!(
                o.code,
                ResultCode::RateLimited,
                "{sent} requests, answer {i}"
            );
            assert_eq!(o.retry_after_secs, 3600);
        }
        if sent == kept {
            assert!(cut.is_none());
            raw.close().expect("the session goes on");
        } else {
            let cut = cut.or_else(|| raw.read().err());
            assert!(matches!(cut, Some(ProtoError::Truncated)), "{cut:?}");
        }
        assert!(server.root_names().is_empty(), "{:?}", server.root_names());
    }
}

/// Through the batch driver: a batch larger than the key's burst fills the
/// pipeline, meets RESULT 8, waits as told and sends the refused requests
/// again, until every one is stored; the server never cuts it off.
#[test]
fn a_batch_past_the_burst_waits_as_told_and_every_file_is_stored() {
    let server = Running::start(|o| {
        o.limits.key_rate = Rate {
            burst: NonZeroU32::new(20).unwrap(),
            per: Duration::from_secs(1),
        }
    });
    let local = TempDir::new().unwrap();
    let n = 3 * MAX_IN_FLIGHT / 2;
    let steps = (0..n)
        .map(|i| {
            let path = local_file(local.path(), &format!("f{i}"), &content(i, 10));
            put(&path, &format!("f{i}"))
        })
        .collect();
    let mut s = server.session().unwrap();
    let mut seen = Seen::default();
    s.run_batch(steps, None, &mut seen).unwrap();
    assert!(!seen.waits.is_empty(), "the burst was never reached");
    let mut order = seen.order();
    order.sort();
    assert_eq!(order, (0..n).collect::<Vec<_>>(), "each reported once");
    for i in 0..n {
        assert_eq!(seen.outcome(i).code, ResultCode::Ok, "file {i}");
        let stored = std::fs::read(server.root.path().join(format!("f{i}"))).unwrap();
        assert_eq!(stored, content(i, 10));
    }
    assert!(s.list("").unwrap().is_ok(), "the session went on");
    s.close().unwrap();
}
