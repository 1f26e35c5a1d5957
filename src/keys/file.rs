//! Reading the small local files sft's keys and settings live in: only a
//! regular file, opened without blocking (a FIFO put in a key's place
//! must not hang sft), and never more than a stated number of bytes (nor
//! must `/dev/zero`, or a huge file, fill memory).

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::KeyError;

/// Most bytes read from a key file, private or public (64 KiB): an
/// Ed25519 key in any of its formats is well under 1 KiB.
pub const MAX_KEY_FILE: u64 = 64 << 10;

/// The bytes of the regular file at `path` (at most `max_len`), with its
/// metadata (from the open file, so the two are of one file).
///
/// # Errors
/// `Io` when it cannot be opened or read; `Malformed` when it is not a
/// regular file or holds more than `max_len` bytes.
pub fn read_regular(path: &Path, max_len: u64) -> Result<(Zeroizing<Vec<u8>>, Metadata), KeyError> {
    let io = |op| {
        move |source| KeyError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let malformed = |reason: String| KeyError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io("read"))?;
    let meta = file.metadata().map_err(io("stat"))?;
    if !meta.is_file() {
        return Err(malformed(
            "not a regular file (a directory, FIFO or device)".into(),
        ));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    if bytes.len() as u64 > max_len {
        return Err(malformed(format!("larger than {max_len} bytes")));
    }
    Ok((bytes, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_its_limit_is_read_and_one_past_it_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(read_regular(&path, 4).unwrap().0.as_slice(), b"abcd");
        let e = read_regular(&path, 3).unwrap_err().to_string();
        assert!(e.contains("larger than 3 bytes"), "{e}");
    }

    #[test]
    fn a_fifo_a_device_or_a_directory_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        for path in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let e = read_regular(path, 10).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{}: {e}", path.display());
        }
    }
}
