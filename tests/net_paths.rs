//! A hostile client against the in-process server (issue 9's proof): raw
//! OFFER, MKDIR, GET and LIST records with paths that try to leave the
//! root (`..`, absolute, drive prefixes, backslashes, a symlink inside the
//! root that points outside) are refused with RESULT 2, or 7 through the
//! symlink, and the session goes on; a directory swapped with such a
//! symlink during a batch never lets a write or read escape; a Unicode
//! look-alike of an existing name is RESULT 2. The harness is
//! tests/inproc/; the raw client below seals records itself, since
//! `ClientConnection` refuses to send a path its own rule refuses.

mod hostile;
mod inproc;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hostile::*;
use inproc::*;
use rustix::fs::{renameat_with, RenameFlags, CWD};
use sft::fs::{FsError, ReceiveRoot};
use sft::net::client::{BatchObserver, Report, Step};
use sft::proto::msgs::{inner, Meta, ResultCode};
use tempfile::TempDir;

fn sorted(dir: &Path) -> Vec<String> {
    let mut v = names(dir);
    v.sort();
    v
}

/// A name no test creates: finding it anywhere means a path escaped.
const ESCAPE: &str = "sft-net-paths-escape";

#[test]
fn paths_out_of_the_root_are_refused_and_the_session_goes_on() {
    let server = Running::start(|o| o.allow_overwrite = true);
    let outer = TempDir::new().unwrap();
    let outside = outer.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"secret").unwrap();
    let root = server.root.path();
    symlink(&outside, root.join("link")).unwrap();
    symlink(outside.join("secret"), root.join("flink")).unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/in.txt"), b"inside").unwrap();
    symlink(&outside, root.join("sub/link2")).unwrap();
    let abs = format!("{}/{ESCAPE}", outside.display());
    let bad: Vec<String> = [
        "..",
        "../ESC",
        "a/../../ESC",
        "sub/../../ESC",
        "/etc/ESC",
        "/",
        "C:\\ESC",
        "C:ESC",
        "sub/C:ESC",
        "sub\\ESC",
        ".",
        "./ESC",
        "sub/.",
        "sub/",
        "a//b",
        "\u{202e}ESC",
        "sub/\u{1b}[2K",
        ".sft-part-0123456789abcdef",
        "sub/.sft-part-ESC",
    ]
    .iter()
    .map(|p| p.replace("ESC", ESCAPE))
    .chain([abs, String::new()])
    .collect();
    let mut h = Hostile::connect(&server);
    let bad_name = Answer::Result(ResultCode::BadName);
    for p in &bad {
        let p = p.as_bytes();
        assert_eq!(h.upload(p, b"evil", true), bad_name, "OFFER {p:?}");
        assert_eq!(h.mkdir(p), bad_name, "MKDIR {p:?}");
        assert_eq!(h.get(p), bad_name, "GET {p:?}");
        if !p.is_empty() {
            assert_eq!(h.list(p), bad_name, "LIST {p:?}");
        }
    }
    assert_eq!(
        h.upload(&[b'a', 0xff], b"evil", false),
        bad_name,
        "not UTF-8"
    );

    let not_allowed = Answer::Result(ResultCode::NotAllowed);
    for p in ["link/ESC", "sub/link2/ESC", "link/secret", "flink"] {
        let p = p.replace("ESC", ESCAPE);
        let p = p.as_bytes();
        assert_eq!(h.upload(p, b"evil", true), not_allowed, "OFFER {p:?}");
        assert_eq!(h.mkdir(p), not_allowed, "MKDIR {p:?}");
    }
    for p in [
        "link",
        "sub/link2",
        "link/secret",
        "sub/link2/secret",
        "flink",
    ] {
        assert_eq!(h.get(p.as_bytes()), not_allowed, "GET {p:?}");
        assert_eq!(h.list(p.as_bytes()), not_allowed, "LIST {p:?}");
    }

    // The same session still works, inside the root.
    assert_eq!(
        h.upload(b"sub/ok.txt", b"fine", false),
        Answer::Result(ResultCode::Ok)
    );
    assert_eq!(h.get(b"sub/in.txt"), Answer::File(b"inside".to_vec()));
    let Answer::Names(mut listed) = h.list(b"") else {
        panic!("no listing")
    };
    listed.sort();
    assert_eq!(listed, ["sub"], "symlinks are not listed");
    h.send(inner::CLOSE, &[]);
    assert_eq!(h.recv().0, inner::CLOSE);

    assert_eq!(sorted(&outside), ["secret"]);
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
    assert_eq!(sorted(outer.path()), ["outside"]);
    assert_eq!(
        sorted(root),
        ["flink", "link", "sub"],
        "nothing staged is left"
    );
    assert_eq!(sorted(&root.join("sub")), ["in.txt", "link2", "ok.txt"]);
    for dir in [
        root.parent().unwrap(),
        root.parent().unwrap().parent().unwrap(),
        Path::new("/etc"),
    ] {
        assert!(!dir.join(ESCAPE).exists(), "{}", dir.display());
    }
}

/// Collects a batch's results.
#[derive(Default)]
struct Results(Vec<(usize, Result<Report, FsError>)>);

impl BatchObserver for Results {
    fn bytes(&mut self, _: u64) {}
    fn done(&mut self, index: usize, result: Result<Report, FsError>) {
        self.0.push((index, result));
    }
    fn waiting(&mut self, _: usize, _: Duration, _: &str) {}
}

/// One round of requests through `d`: an upload, a directory with and
/// without metadata, and downloads of `d/mine` and of `d/secret` (which
/// exists only outside).
fn round(i: usize, local: &Path) -> Vec<Step> {
    let put = |remote: String, preserve| Step::Put {
        local: local.to_path_buf(),
        remote,
        overwrite: false,
        preserve,
        within: None,
    };
    let get = |remote: &str, local: String| Step::Get {
        remote: remote.to_string(),
        local,
        preserve: false,
    };
    vec![
        put(format!("d/f{i}"), i % 2 == 0),
        Step::Mkdir {
            remote: format!("d/x{}", i % 8),
            meta: None,
        },
        Step::Mkdir {
            remote: format!("d/y{}", i % 8),
            meta: Some(Meta {
                mode: 0o777,
                mtime: 1,
            }),
        },
        get("d/mine", format!("mine{i}")),
        get("d/secret", format!("secret{i}")),
    ]
}

fn codes(results: &Results) -> Vec<ResultCode> {
    results
        .0
        .iter()
        .map(|(_, r)| r.as_ref().map_or(ResultCode::IoError, |r| r.outcome.code))
        .collect()
}

#[test]
fn a_directory_swapped_with_an_outside_symlink_during_batches_never_leaks() {
    let server = Running::start(|_| {});
    let outer = TempDir::new().unwrap();
    let outside = outer.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"secret").unwrap();
    let root = server.root.path();
    let (d, l) = (root.join("d"), root.join("l"));
    fs::create_dir(&d).unwrap();
    fs::write(d.join("mine"), b"mine").unwrap();
    symlink(&outside, &l).unwrap();
    let local = TempDir::new().unwrap();
    let data = local.path().join("data");
    fs::write(&data, b"data").unwrap();
    let down = ReceiveRoot::open_or_create(&local.path().join("down")).unwrap();
    let mut session = server.session().unwrap();
    let swap = || renameat_with(CWD, &d, CWD, &l, RenameFlags::EXCHANGE).unwrap();
    let mut index = 0;
    let mut next_round = || {
        index += 1;
        round(index, &data)
    };

    // In step: `d` a directory, then the symlink, then a directory again.
    use ResultCode as C;
    let dir = [C::Ok, C::Ok, C::Ok, C::Ok, C::NotFound];
    for (is_link, want) in [(false, dir), (true, [C::NotAllowed; 5]), (false, dir)] {
        if is_link {
            swap();
        }
        let mut got = Results::default();
        session
            .run_batch(next_round(), Some(&down), &mut got)
            .unwrap();
        assert_eq!(codes(&got), want, "d is a symlink: {is_link}");
        let listed = session.list("d").unwrap().map_err(|o| o.code);
        assert_eq!(
            listed.map(|_| ()),
            if is_link { Err(C::NotAllowed) } else { Ok(()) }
        );
        if is_link {
            swap();
        }
    }

    // Free-running: a thread swaps while batches run; only safety is
    // asserted, so how the two interleave does not matter.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                swap();
                swap();
            }
        });
        for _ in 0..40 {
            let steps: Vec<Step> = (0..10).flat_map(|_| next_round()).collect();
            session
                .run_batch(steps, Some(&down), &mut Results::default())
                .unwrap();
            if let Ok(entries) = session.list("d").unwrap() {
                assert!(
                    entries.iter().all(|e| e.name != "secret"),
                    "listed the outside directory"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    session.close().unwrap();

    assert_eq!(sorted(&outside), ["secret"]);
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
    for name in names(down.path()) {
        let got = fs::read(down.path().join(&name)).unwrap();
        assert_eq!(got, b"mine", "{name} was read from outside the root");
        assert!(name.starts_with("mine"), "{name}");
    }
    assert_eq!(sorted(root), ["d", "l"], "nothing staged is left");
}

#[test]
fn a_look_alike_of_an_existing_name_is_refused_with_bad_name() {
    let server = Running::start(|_| {});
    let (nfc, nfd) = ("caf\u{e9}", "cafe\u{301}");
    let mut h = Hostile::connect(&server);
    assert_eq!(
        h.upload(format!("{nfc}.txt").as_bytes(), b"one", false),
        Answer::Result(ResultCode::Ok)
    );
    assert_eq!(
        h.upload(format!("{nfd}.txt").as_bytes(), b"two", false),
        Answer::Result(ResultCode::BadName)
    );
    assert_eq!(
        h.mkdir(nfd.as_bytes()),
        Answer::Result(ResultCode::Ok),
        "no look-alike yet"
    );
    assert_eq!(h.mkdir(nfc.as_bytes()), Answer::Result(ResultCode::BadName));
    assert_eq!(
        h.upload(format!("{nfd}/{nfc}").as_bytes(), b"in", false),
        Answer::Result(ResultCode::Ok)
    );
    assert_eq!(
        h.upload(format!("{nfd}/{nfd}").as_bytes(), b"in", false),
        Answer::Result(ResultCode::BadName)
    );
    // The same bytes again are the same name: Exists, not a look-alike.
    assert_eq!(
        h.upload(format!("{nfc}.txt").as_bytes(), b"one", false),
        Answer::Result(ResultCode::Exists)
    );
    assert_eq!(
        sorted(server.root.path()),
        [nfd.to_string(), format!("{nfc}.txt")]
    );
    assert_eq!(sorted(&server.root.path().join(nfd)), [nfc]);
}
