//! Standard output and error that never panic. `println!` panics when stdout is a
//! closed pipe (`sft ls | head -1`) or a full disk, which would end a
//! batch of transfers half way; here the first failed write is reported
//! once on stderr and every later line is dropped, while the command goes
//! on and exits as its transfers decide.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout has failed; later output is dropped.
static DROPPED: AtomicBool = AtomicBool::new(false);

/// Prints `args` and a newline to stdout, unless an earlier write failed.
/// The first failure is reported on stderr; it never panics.
pub fn line(args: fmt::Arguments<'_>) {
    write_line(&mut io::stdout().lock(), &DROPPED, args);
}

/// Prints `args` and a newline to stderr. A failed write is ignored: there
/// is nowhere left to report it, and a message must never end a transfer.
pub fn err(args: fmt::Arguments<'_>) {
    let mut e = io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// Writes `args` and a newline to `w` and flushes (so the failure shows
/// here, not silently at exit), unless `dropped` is set. On the first
/// error it sets `dropped` and says so on stderr, once.
fn write_line(w: &mut impl Write, dropped: &AtomicBool, args: fmt::Arguments<'_>) {
    if dropped.load(Ordering::Relaxed) {
        return;
    }
    let written = w
        .write_fmt(args)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    if let Err(e) = written {
        if !dropped.swap(true, Ordering::Relaxed) {
            let _ = writeln!(
                io::stderr(),
                "sft: cannot write to standard output: {e}; further output is dropped"
            );
        }
    }
}

/// An mtime (seconds since the Unix epoch) as RFC 3339 UTC, e.g.
/// `2026-12-02T10:00:00Z`, or `None` outside years 1970-9999 (a server may
/// send any i64).
pub fn rfc3339(mtime: i64) -> Option<String> {
    const YEAR_10000: i64 = 253_402_300_800;
    match u64::try_from(mtime) {
        Ok(secs) if mtime < YEAR_10000 => Some(
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            )
            .to_string(),
        ),
        _ => None,
    }
}

/// A time from a signed statement, receipt or audit entry (seconds since
/// the Unix epoch, any u64 its signer chose) as RFC 3339 UTC, or
/// `@SECONDS` outside years 1970-9999.
pub fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(rfc3339)
        .unwrap_or_else(|| format!("@{secs}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `room` bytes, then fails every write.
    struct Full {
        taken: Vec<u8>,
        room: usize,
        writes: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.taken.len() + buf.len() > self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_until_the_first_failure_then_dropped() {
        let dropped = AtomicBool::new(false);
        // Room for exactly the first line ("one\n"), not one byte more.
        let mut w = Full {
            taken: Vec::new(),
            room: 4,
            writes: 0,
        };
        write_line(&mut w, &dropped, format_args!("one"));
        assert_eq!(w.taken, b"one\n");
        assert!(!dropped.load(Ordering::Relaxed));
        write_line(&mut w, &dropped, format_args!("two"));
        assert!(dropped.load(Ordering::Relaxed));
        let writes = w.writes;
        write_line(&mut w, &dropped, format_args!("three"));
        assert_eq!(w.writes, writes, "nothing is tried after the failure");
        assert_eq!(w.taken, b"one\n");
    }

    #[test]
    fn a_signers_time_outside_years_1970_to_9999_is_shown_in_seconds() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(u64::MAX), format!("@{}", u64::MAX));
        assert_eq!(super::utc(253_402_300_800), "@253402300800");
    }
}
