//! A source file that changes while it is sent (grows, shrinks, or is
//! overwritten in place) is caught before the chunk that shows it goes out,
//! and a resumed send starts at its offset.
//!
//! Changes are made between two chunks by the stand-in connection itself,
//! so they happen at a known point: no threads, no timing.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sft::fs::{open_local_source, SourceError, SourceFile};
use sft::net::transfer::{FileSender, Outgoing, SendError};
use sft::proto::{ProtoError, CHUNK_LEN};
use tempfile::TempDir;

/// What [`Fake`] does after a given chunk was handed to it.
type Hook = Box<dyn FnOnce()>;

/// A connection stand-in: wants data until `want` bytes were handed over,
/// records every chunk, runs a hook just after the chunk numbered `at` (from
/// 1), and returns a made-up hash with the last byte.
struct Fake {
    want: u64,
    chunks: Vec<Vec<u8>>,
    hook: Option<(usize, Hook)>,
}

impl Fake {
    fn new(want: u64) -> Self {
        Fake {
            want,
            chunks: Vec::new(),
            hook: None,
        }
    }

    /// Runs `f` just after chunk number `at` (from 1) is handed over.
    fn after(mut self, at: usize, f: impl FnOnce() + 'static) -> Self {
        self.hook = Some((at, Box::new(f)));
        self
    }

    fn handed(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl FileSender for Fake {
    type Ended = [u8; 32];

    fn wants_data(&self) -> bool {
        (self.handed().len() as u64) < self.want
    }

    fn send_data(&mut self, data: &[u8]) -> Result<Option<[u8; 32]>, ProtoError> {
        assert!(!data.is_empty() && data.len() <= CHUNK_LEN);
        self.chunks.push(data.to_vec());
        if self.hook.as_ref().map(|h| h.0) == Some(self.chunks.len()) {
            let (_, f) = self.hook.take().unwrap();
            f();
        }
        let done = self.handed().len() as u64 == self.want;
        Ok(done.then_some([7; 32]))
    }
}

/// A time long before any test runs.
fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800)
}

/// Writes `len` patterned bytes to `a.bin` in `tmp`, dates it
/// [`long_ago`] (so any later write moves its mtime, whatever the
/// granularity of the file system's clock), and opens it for sending.
fn source(tmp: &TempDir, len: usize) -> (PathBuf, Vec<u8>, SourceFile) {
    let path = tmp.path().join("a.bin");
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    fs::write(&path, &data).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(long_ago())
        .unwrap();
    let src = open_local_source(&path).unwrap();
    (path, data, src)
}

fn append(path: &Path, extra: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(extra)
        .unwrap();
}

/// Overwrites bytes at `offset` with different ones, keeping the size, and
/// checks the premise: the file's mtime moved.
fn overwrite(path: &Path, offset: u64) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(b"CHANGED", offset).unwrap();
    assert_ne!(file.metadata().unwrap().modified().unwrap(), long_ago());
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Pumps `out` into `conn` with a buffer of one chunk.
fn pump(out: &mut Outgoing, conn: &mut Fake) -> Result<Option<[u8; 32]>, SendError> {
    out.pump(conn, &mut vec![0; CHUNK_LEN])
}

/// The text of a `Changed` error (panics on any other result).
fn changed(r: Result<Option<[u8; 32]>, SendError>) -> String {
    match r {
        Err(SendError::Changed(text)) => text,
        other => panic!("expected Changed, got {other:?}"),
    }
}

const C: u64 = CHUNK_LEN as u64;

#[test]
fn an_unchanged_file_sends_every_byte_then_its_end() {
    let tmp = TempDir::new().unwrap();
    let (_, data, src) = source(&tmp, 2 * CHUNK_LEN + 100);
    let mut out = Outgoing::new(src);
    let mut conn = Fake::new(data.len() as u64);
    assert_eq!(pump(&mut out, &mut conn).unwrap(), Some([7; 32]));
    assert_eq!(conn.chunks.len(), 3);
    assert_eq!(conn.handed(), data);
    assert_eq!(out.sent(), out.size());
}

#[test]
fn an_unchanged_file_of_whole_chunks_sends_every_byte() {
    let tmp = TempDir::new().unwrap();
    let (_, data, src) = source(&tmp, 2 * CHUNK_LEN);
    let mut out = Outgoing::new(src);
    let mut conn = Fake::new(data.len() as u64);
    assert_eq!(pump(&mut out, &mut conn).unwrap(), Some([7; 32]));
    assert_eq!(conn.handed(), data);
}

#[test]
fn a_file_appended_to_is_caught_before_the_next_chunk() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 3 * CHUNK_LEN);
    let p = path.clone();
    let mut conn = Fake::new(data.len() as u64).after(1, move || append(&p, b"more"));
    let mut out = Outgoing::new(src);
    let text = changed(pump(&mut out, &mut conn));
    let size = data.len();
    assert!(text.ends_with(&format!(
        "changed while it was being sent: grew from {size} to {} bytes",
        size + 4
    )));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
    assert_eq!(out.sent(), C);
}

#[test]
fn a_file_appended_to_before_its_last_chunk_is_caught() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 2 * CHUNK_LEN);
    let p = path.clone();
    let mut conn = Fake::new(data.len() as u64).after(1, move || append(&p, b"x"));
    let text = changed(pump(&mut Outgoing::new(src), &mut conn));
    assert!(text.contains("changed while it was being sent: grew from"));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
}

#[test]
fn a_one_chunk_file_appended_to_before_sending_sends_nothing() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 10);
    append(&path, b"0123456789");
    let mut conn = Fake::new(data.len() as u64);
    let text = changed(pump(&mut Outgoing::new(src), &mut conn));
    assert!(text.ends_with("changed while it was being sent: grew from 10 to 20 bytes"));
    assert!(conn.chunks.is_empty());
}

#[test]
fn a_file_overwritten_in_place_with_its_size_kept_is_caught() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 3 * CHUNK_LEN);
    let p = path.clone();
    // Bytes already sent change: the next chunk must not go out either.
    let mut conn = Fake::new(data.len() as u64).after(1, move || overwrite(&p, 0));
    let mut out = Outgoing::new(src);
    let text = changed(pump(&mut out, &mut conn));
    assert!(text.ends_with("changed while it was being sent: was modified (mtime/ctime changed)"));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
    assert_eq!(fs::metadata(&path).unwrap().len(), data.len() as u64);
}

#[test]
fn a_file_overwritten_in_its_last_chunk_is_caught() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, CHUNK_LEN + 50);
    let p = path.clone();
    let mut conn = Fake::new(data.len() as u64).after(1, move || overwrite(&p, C + 1));
    let text = changed(pump(&mut Outgoing::new(src), &mut conn));
    assert!(text.contains("was modified"));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
}

#[test]
fn a_file_truncated_past_the_next_chunk_is_caught_by_its_size() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 3 * CHUNK_LEN);
    let p = path.clone();
    // The second chunk can still be read whole; the size gives it away.
    let mut conn = Fake::new(data.len() as u64).after(1, move || truncate(&p, 2 * C + 9));
    let text = changed(pump(&mut Outgoing::new(src), &mut conn));
    assert!(text.ends_with(&format!(
        "changed while it was being sent: shrank from {} to {} bytes",
        3 * C,
        2 * C + 9
    )));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
}

#[test]
fn a_file_truncated_inside_the_next_chunk_is_caught_by_the_read() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 3 * CHUNK_LEN);
    let p = path.clone();
    let mut conn = Fake::new(data.len() as u64).after(1, move || truncate(&p, C + 9));
    let text = changed(pump(&mut Outgoing::new(src), &mut conn));
    assert!(text.ends_with(&format!(
        "changed while it was being sent: shrank from {} to {} bytes",
        3 * C,
        C + 9
    )));
    assert_eq!(conn.handed(), &data[..CHUNK_LEN]);
}

#[test]
fn a_resumed_send_hands_over_only_the_bytes_from_its_offset() {
    let tmp = TempDir::new().unwrap();
    let (_, data, mut src) = source(&tmp, 2 * CHUNK_LEN + 100);
    let offset = C + 5;
    // The prefix is read (to hash it) through the handle first: its
    // position does not matter to the send.
    let mut prefix = vec![0; offset as usize];
    src.file.read_exact(&mut prefix).unwrap();
    let mut out = Outgoing::starting_at(src, offset).unwrap();
    assert_eq!(out.sent(), offset);
    let mut conn = Fake::new(data.len() as u64 - offset);
    assert_eq!(pump(&mut out, &mut conn).unwrap(), Some([7; 32]));
    assert_eq!(conn.handed(), &data[offset as usize..]);
    assert_eq!(out.sent(), data.len() as u64);
    assert_eq!(out.sent(), out.size());
}

#[test]
fn a_resumed_send_still_catches_a_change_made_before_it_started() {
    let tmp = TempDir::new().unwrap();
    let (path, data, src) = source(&tmp, 2 * CHUNK_LEN);
    overwrite(&path, 0);
    let mut out = Outgoing::starting_at(src, C).unwrap();
    let mut conn = Fake::new(data.len() as u64 - C);
    assert!(changed(pump(&mut out, &mut conn)).contains("was modified"));
    assert!(conn.chunks.is_empty());
}

#[test]
fn a_send_may_resume_at_the_size_but_not_past_it() {
    let tmp = TempDir::new().unwrap();
    let (_, _, src) = source(&tmp, 10);
    let out = Outgoing::starting_at(src, 10).unwrap();
    assert_eq!(out.sent(), out.size());
    let (_, _, src) = source(&tmp, 10);
    let err = Outgoing::starting_at(src, 11).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn the_source_check_names_each_change() {
    let tmp = TempDir::new().unwrap();
    let (path, _, src) = source(&tmp, 10);
    src.check_unchanged().unwrap();
    src.check_ends_at_size().unwrap();
    append(&path, b"abc");
    assert!(matches!(
        src.check_unchanged(),
        Err(SourceError::Grew { from: 10, to: 13 })
    ));
    assert!(matches!(
        src.check_ends_at_size(),
        Err(SourceError::Grew { from: 10, to: 13 })
    ));
    truncate(&path, 4);
    assert!(matches!(
        src.check_unchanged(),
        Err(SourceError::Shrank { from: 10, to: 4 })
    ));
    let mut buf = [0; 8];
    assert!(matches!(
        src.read_exact_at(&mut buf, 0),
        Err(SourceError::Shrank { from: 10, to: 4 })
    ));
    let (path, _, src) = source(&tmp, 10);
    overwrite(&path, 2);
    assert!(matches!(src.check_unchanged(), Err(SourceError::Modified)));
}

#[test]
fn a_positional_read_leaves_the_handle_where_it_was() {
    let tmp = TempDir::new().unwrap();
    let (_, data, mut src) = source(&tmp, 100);
    let mut buf = [0; 10];
    src.read_exact_at(&mut buf, 50).unwrap();
    assert_eq!(buf, data[50..60]);
    let mut all = Vec::new();
    src.file.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);
}

#[test]
fn the_end_check_reads_past_a_size_that_lags() {
    // Linux reports files in /proc as 0 bytes long, yet they read data: a
    // size that lags what is there, as on some network file systems.
    let src = open_local_source(Path::new("/proc/self/stat")).unwrap();
    assert_eq!(src.size, 0);
    src.check_unchanged().unwrap();
    assert!(matches!(
        src.check_ends_at_size(),
        Err(SourceError::Grew { from: 0, to: 1 })
    ));
}
