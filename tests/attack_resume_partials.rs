//! Issue 10 attacks (helper H) on the server's partial files: things
//! planted under a partial's name in the root, two sessions of one key on
//! one path, and the disk a cut resumable upload keeps reserved. Against
//! the in-process server (tests/inproc/) with raw clients; nothing sleeps.

#[allow(dead_code)]
mod hostile;
mod inproc;
#[allow(dead_code)]
mod resumer;

use std::fs;
use std::net::Shutdown;
use std::os::unix::fs::{symlink, MetadataExt};
use std::time::Duration;

use inproc::*;
use resumer::*;
use sft::proto::msgs::ResultCode;
use sft::proto::CHUNK_LEN;

/// Offers `size` bytes as `path` for resume; the server's first answer.
fn offer(raw: &mut Raw, path: &str, size: u64) -> Vec<Ev> {
    raw.conn
        .request_upload(path, size, false, None, true, T0)
        .unwrap();
    raw.flush();
    read(raw)
}

#[test]
fn a_symlink_fifo_or_directory_at_a_partials_name_is_refused_and_never_followed() {
    let server = Running::start(|_| {});
    let outside = tempfile::TempDir::new().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let part = |p: &str| partial(&server, &server.client_key, p);
    symlink(&victim, part("link.bin")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        part("fifo.bin"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    fs::create_dir(part("dir.bin")).unwrap();
    let mut raw = Raw::connect(&server);
    for path in ["link.bin", "fifo.bin", "dir.bin"] {
        let got = offer(&mut raw, path, 100);
        assert!(
            matches!(got.as_slice(), [Ev::Result(c)] if *c != ResultCode::Ok),
            "{path}: {got:?}"
        );
    }
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(fs::symlink_metadata(part("link.bin")).unwrap().is_symlink());
    // The session goes on.
    raw.upload("ok.bin", b"ok", None);
    assert_eq!(read(&mut raw), [Ev::Result(ResultCode::Ok)]);
    raw.close().unwrap();
}

/// The idle timeout of these servers: a twelfth of it (100 ms) is how long
/// an upload's data must have stopped before a newer session of its key
/// may end it to resume its partial.
const IDLE: Duration = Duration::from_millis(1200);

/// A session A that resumed `two.bin` and sent one more chunk, holding the
/// partial's lock, and the partial's length before A: (A, data, held).
fn holding(server: &Running) -> (Raw, Vec<u8>, usize) {
    let data = content(CHUNK_LEN * 3, 21);
    cut_upload(Raw::connect(server), "two.bin", &data, CHUNK_LEN);
    let held = fs::read(partial(server, &server.client_key, "two.bin"))
        .unwrap()
        .len();
    let mut a = Raw::connect(server);
    let from = offer_resumable(&mut a, "two.bin", data.len() as u64);
    assert_eq!(from, held as u64);
    let own = prefix_hash(&data[..held]);
    assert_eq!(a.conn.resume_upload(Some(own)).unwrap().0, from);
    send_from(&mut a, &data[..held + CHUNK_LEN], held);
    (a, data, held)
}

/// A session whose data has stopped while it holds a partial (its path
/// died, but its socket stays open) is ended when a newer session of the
/// same key asks to resume that partial; the newer one is asked to wait a
/// second (RESULT 8) and then resumes. The partial is never shared.
#[test]
fn a_newer_session_of_the_key_ends_a_stalled_one_holding_its_partial_and_resumes() {
    let server = Running::start(|o| o.timeouts.idle = IDLE);
    let (mut a, data, held) = holding(&server);
    // Once A's last chunk is on disk, the server has taken it (its time
    // is at most now); then A says nothing for longer than IDLE / 12,
    // which is what the server compares the time since A's data with.
    let part = partial(&server, &server.client_key, "two.bin");
    let written = (held + CHUNK_LEN) as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fs::metadata(&part).unwrap().len() < written {
        assert!(
            std::time::Instant::now() < deadline,
            "A's chunk never landed"
        );
        std::thread::yield_now();
    }
    std::thread::sleep(IDLE / 12 + Duration::from_millis(20));
    let mut b = Raw::connect(&server);
    assert_eq!(
        offer(&mut b, "two.bin", data.len() as u64),
        [Ev::Result(ResultCode::RateLimited)]
    );
    assert!(read_all(&mut a.sock).is_ok(), "A's session was ended");
    // B asks again and resumes after everything A had written.
    let again = offer_resumable(&mut b, "two.bin", data.len() as u64);
    assert_eq!(again, (held + CHUNK_LEN) as u64);
    let own = prefix_hash(&data[..held + CHUNK_LEN]);
    assert_eq!(b.conn.resume_upload(Some(own)).unwrap().0, again);
    send_from(&mut b, &data, held + CHUNK_LEN);
    assert_eq!(
        read_until(&mut b, |e| matches!(e, Ev::Result(_))),
        [Ev::Result(ResultCode::Ok)]
    );
    assert_eq!(fs::read(server.root.path().join("two.bin")).unwrap(), data);
    b.close().unwrap();
}

/// A session whose data still flows is never ended for a newer one of its
/// key: the newer one is asked to wait, and the older one stores the file.
#[test]
fn a_newer_session_of_the_key_leaves_an_active_one_alone() {
    let server = Running::start(|o| o.timeouts.idle = Duration::from_secs(3600));
    let (mut a, data, held) = holding(&server);
    let mut b = Raw::connect(&server);
    assert_eq!(
        offer(&mut b, "two.bin", data.len() as u64),
        [Ev::Result(ResultCode::RateLimited)]
    );
    send_from(&mut a, &data, held + CHUNK_LEN);
    assert_eq!(
        read_until(&mut a, |e| matches!(e, Ev::Result(_))),
        [Ev::Result(ResultCode::Ok)]
    );
    assert_eq!(fs::read(server.root.path().join("two.bin")).unwrap(), data);
    a.close().unwrap();
    b.close().unwrap();
}

/// Allocated bytes of `path` on disk.
fn allocated(path: &std::path::Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

/// The server reserves an upload's announced size (`fallocate` with
/// KEEP_SIZE). A resumable upload cut after a few bytes keeps its partial,
/// and the partial must not keep that reservation: else each cut upload
/// of a few bytes holds `max_file_size` of disk for the partial TTL (24 h),
/// and a handful of them fill the server's disk for everyone.
#[test]
fn a_cut_resumable_upload_keeps_no_more_disk_than_the_bytes_it_holds() {
    let server = Running::start(|_| {});
    let size: u64 = 64 << 20;
    let mut raw = Raw::connect(&server);
    assert_eq!(offer_resumable(&mut raw, "hog.bin", size), 0);
    raw.conn.resume_upload(None).unwrap();
    raw.conn.send_data(b"x").unwrap();
    raw.flush();
    raw.sock.shutdown(Shutdown::Write).unwrap();
    let _ = read_all(&mut raw.sock);
    let part = partial(&server, &server.client_key, "hog.bin");
    let len = fs::metadata(&part).unwrap().len();
    assert_eq!(len, 1, "one byte held");
    let on_disk = allocated(&part);
    assert!(
        on_disk <= 1 << 20,
        "a 1-byte partial keeps {on_disk} bytes of disk allocated"
    );
}
