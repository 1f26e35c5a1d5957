//! Resumable partial files: a staging file in the root with a name fixed by
//! (peer key, path), kept when a transfer is cut so the next transfer of
//! the same path from the same peer can go on from its held bytes once both
//! sides agree on their hash; and the sweep that removes old ones.
//!
//! A partial in use is held under an exclusive `flock` on its open file
//! description, so two transfers never write one partial, and the sweep
//! never removes one in use.

use crate::aligned::AlignedBuf;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::root::{fits, ReceiveRoot, TEMP_MODE};
use super::staging::{Staged, Target};
use super::{at_err, walk, FsError, Meta, TEMP_PREFIX};
use crate::crypto::hash::{sha256, Sha256, DIGEST_LEN};

/// Domain label hashed before the owner key and the path in
/// [`partial_name`].
const NAME_LABEL: &[u8] = b"sft/5 partial\0";

/// Hex digits after [`TEMP_PREFIX`] in a partial's name (a SHA-256).
const NAME_HEX: usize = 2 * DIGEST_LEN;

/// Bytes [`hash_prefix`] reads at a time: 256 KiB.
const PREFIX_PIECE: usize = 256 * 1024;

/// The name of the partial file for `path` ("a/b/file", from the root)
/// received from the peer whose Ed25519 public key is `owner` (the client's
/// on a server, the server's on a downloading client): [`TEMP_PREFIX`]
/// followed by the 64 lowercase hex digits of SHA-256("sft/5 partial\0" ||
/// owner || path bytes). Another peer, or another path, gets another name.
///
/// # Errors
/// [`FsError::Random`] (cannot name a temporary file) when OpenSSL fails.
pub fn partial_name(owner: &[u8; 32], path: &str) -> Result<String, FsError> {
    let mut input = Vec::with_capacity(NAME_LABEL.len() + owner.len() + path.len());
    input.extend_from_slice(NAME_LABEL);
    input.extend_from_slice(owner);
    input.extend_from_slice(path.as_bytes());
    let digest = sha256(&input).map_err(FsError::Random)?;
    Ok(format!("{TEMP_PREFIX}{}", hex::encode(digest)))
}

/// Whether `name` has the form of a [`partial_name`].
pub(super) fn is_partial_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX).is_some_and(|hex| {
        hex.len() == NAME_HEX && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether a file modified at `mtime` is older than `max_age` at `now`
/// (strictly: exactly `max_age` old is kept; a time in the future is new).
fn is_stale(mtime: SystemTime, now: SystemTime, max_age: Duration) -> bool {
    now.duration_since(mtime).is_ok_and(|age| age > max_age)
}

/// Whether two `stat`s describe the same file (device and inode).
/// Whether `st` is a regular file with no other name: a partial's name is
/// predictable, so a hard link planted under it by someone who can write
/// the directory would have sft append to (or truncate) the linked file.
fn lone_regular(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_nlink == 1
}

fn same_file(a: &Stat, b: &Stat) -> bool {
    (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
}

/// Whether the file `st` describes was modified more than `max_age` before
/// `now` (see [`is_stale`]; a time `SystemTime` cannot hold is new).
fn stat_is_stale(st: &Stat, now: SystemTime, max_age: Duration) -> bool {
    let nanos = u32::try_from(st.st_mtime_nsec).map_or(0, |n| n % 1_000_000_000);
    let mtime = match u64::try_from(st.st_mtime) {
        Ok(secs) => SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
        // Before 1970: older than any age asked for.
        Err(_) => Some(SystemTime::UNIX_EPOCH),
    };
    mtime.is_some_and(|mtime| is_stale(mtime, now, max_age))
}

impl ReceiveRoot {
    /// Starts receiving `path` as [`begin`](ReceiveRoot::begin) does (same
    /// checks of the path, the target and look-alikes), but into the
    /// partial file [`partial_name`]`(owner, path)` in the root: opened, or
    /// created with mode 0600, never through a symlink, and locked
    /// (`flock(LOCK_EX | LOCK_NB)` on the handle, released when the
    /// [`Staged`] and every handle duplicated from it are closed). Bytes it
    /// already holds are kept when at most `size`; a longer file is
    /// truncated to 0. Free space is checked for `size` minus the held
    /// bytes, and `size` is reserved as `begin` does.
    ///
    /// Returns the [`Staged`], positioned after the held bytes with
    /// [`written`](Staged::written) equal to them, and their count. The
    /// caller checks the held prefix (through
    /// [`prefix_handle`](Staged::prefix_handle) and [`hash_prefix`]) and
    /// calls [`restart`](Staged::restart) when the peer's prefix differs.
    /// Dropped without a commit, the file is kept while it holds bytes (a
    /// later call resumes it; [`sweep_partials`](ReceiveRoot::sweep_partials)
    /// removes it when old) and removed when empty;
    /// [`discard`](Staged::discard) removes it whatever it holds.
    /// [`commit`](Staged::commit) moves it into place as for `begin`.
    ///
    /// # Errors
    /// As [`begin`](ReceiveRoot::begin); besides, [`FsError::Busy`] when
    /// another handle holds the partial's lock, or the name was committed
    /// or removed between the open and the lock (the caller may fall back
    /// to `begin`); [`FsError::NotRegular`] (naming the partial) when its
    /// name is a symlink, not a regular file, or a file with other hard
    /// links.
    pub fn begin_resumable(
        &self,
        path: &str,
        size: u64,
        overwrite: bool,
        meta: Option<Meta>,
        owner: &[u8; 32],
    ) -> Result<(Staged, u64), FsError> {
        let (dir, name) = walk::split(path)?;
        let parent = walk::open_dir(self, dir)?;
        if !walk::check_target(self, &parent, name, path, overwrite)? {
            self.refuse_lookalike(&parent, name, path)?;
        }
        let part = partial_name(owner, path)?;
        let (file, held) = self.open_partial(&part, path)?;
        let target = Target {
            parent,
            path: path.to_owned(),
            name_at: path.len() - name.len(),
        };
        let mut staged = Staged::new(self, file, part, target, size, overwrite, meta);
        staged.resumable = true;
        // From here an error drops `staged`: the file stays if it holds
        // bytes (they may still be resumed), and goes if empty.
        let held = if held > size {
            staged
                .file
                .set_len(0)
                .map_err(|e| staged.err("truncate", e))?;
            0
        } else {
            held
        };
        (&staged.file)
            .seek(SeekFrom::End(0))
            .map_err(|e| staged.err("seek to the end of", e))?;
        staged.written = held;
        fits(size - held, self.available_space()?)?;
        staged.reserve()?;
        Ok((staged, held))
    }

    /// The partial file this root holds for `path` from `owner`, if any,
    /// opened read-only (without following a symlink) with its length, so
    /// a receiver can hash what it holds before asking to resume. Nothing
    /// is locked or created.
    ///
    /// # Errors
    /// [`FsError::NotRegular`] (naming the partial) when its name is not a
    /// regular file, or one with other hard links; [`FsError::Io`] when it
    /// cannot be opened or inspected.
    pub fn held_partial(
        &self,
        path: &str,
        owner: &[u8; 32],
    ) -> Result<Option<(File, u64)>, FsError> {
        let part = partial_name(owner, path)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let Some((fd, st)) = self.open_lone(&part, flags)? else {
            return Ok(None);
        };
        Ok(Some((
            File::from(fd),
            u64::try_from(st.st_size).unwrap_or(0),
        )))
    }

    /// Opens the partial `part` in the root with `flags` (never following
    /// a symlink; a created one gets mode 0600) and checks on the handle
    /// that it is a regular file with no other name. `None` when it does
    /// not exist.
    ///
    /// # Errors
    /// [`FsError::NotRegular`] naming it otherwise; [`FsError::Io`] when it
    /// cannot be opened or inspected.
    fn open_lone(&self, part: &str, flags: OFlags) -> Result<Option<(OwnedFd, Stat)>, FsError> {
        let fd = match rustix::fs::openat(&*self.fd, part, flags, Mode::from_raw_mode(TEMP_MODE)) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(FsError::NotRegular(part.to_owned())),
            Err(e) => return Err(at_err("open partial file", &self.dir, part, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| at_err("inspect", &self.dir, part, e))?;
        if !lone_regular(&st) {
            return Err(FsError::NotRegular(part.to_owned()));
        }
        Ok(Some((fd, st)))
    }

    /// Opens or creates the partial `part` in the root for reading and
    /// writing, checks that it is a regular file, locks it and checks that
    /// the name still names the locked file. Returns it and its length.
    fn open_partial(&self, part: &str, path: &str) -> Result<(File, u64), FsError> {
        // O_NONBLOCK: opening a FIFO or device planted under the name must
        // not block; it is refused below.
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let (fd, st) = self
            .open_lone(part, flags)?
            .ok_or_else(|| at_err("open partial file", &self.dir, part, Errno::NOENT))?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Err(FsError::Busy(path.to_owned())),
            Err(e) => return Err(at_err("lock", &self.dir, part, e)),
        }
        // Between the open and the lock its holder may have committed it
        // (renamed it away) or removed it; then this handle is not the
        // partial. Whoever changes the name holds the lock, so a match now
        // stays a match. The length is read now too: the holder may have
        // written more before letting go.
        let now = match rustix::fs::statat(&*self.fd, part, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if same_file(&now, &st) => now,
            Ok(_) | Err(Errno::NOENT) => return Err(FsError::Busy(path.to_owned())),
            Err(e) => return Err(at_err("inspect", &self.dir, part, e)),
        };
        let held = u64::try_from(now.st_size).unwrap_or(0);
        Ok((File::from(fd), held))
    }

    /// Removes the partial files ([`partial_name`]s: regular files named
    /// [`TEMP_PREFIX`] + 64 hex digits, in the root) last modified more
    /// than `max_age` ago and not in use: each is opened read-only without
    /// following a symlink and skipped when another handle holds its lock.
    /// Safe while transfers run. Returns how many were removed.
    ///
    /// # Errors
    /// [`FsError::Io`] when the root cannot be read, or a partial cannot be
    /// opened, inspected, locked or removed (the sweep stops there).
    pub fn sweep_partials(&self, max_age: Duration) -> Result<usize, FsError> {
        let now = SystemTime::now();
        let mut removed = 0;
        for name in self.names_where(is_partial_name)? {
            if self.sweep_one(&name, now, max_age)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes the partial `name` if it is a regular file older than
    /// `max_age` at `now` and nobody holds its lock. Returns whether it did.
    fn sweep_one(&self, name: &str, now: SystemTime, max_age: Duration) -> Result<bool, FsError> {
        let err = |op| move |e| at_err(op, &self.dir, name, e);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&*self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // A symlink, or gone (committed, discarded) since the listing.
            Err(Errno::LOOP | Errno::NOENT) => return Ok(false),
            Err(e) => return Err(err("open partial file")(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(err("inspect"))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
            || !stat_is_stale(&st, now, max_age)
        {
            return Ok(false);
        }
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Ok(false),
            Err(e) => return Err(err("lock")(e)),
        }
        // Under the lock: the name must still be this file, and it must not
        // have been written since the first look.
        match rustix::fs::statat(&*self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now_st) if same_file(&now_st, &st) && stat_is_stale(&now_st, now, max_age) => {}
            Ok(_) | Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(err("inspect")(e)),
        }
        match rustix::fs::unlinkat(&*self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(err("remove")(e)),
        }
    }
}

impl Staged {
    /// Empties the file and starts again from byte 0 (the held prefix did
    /// not match the peer's): truncates it, moves to its start, sets
    /// [`written`](Staged::written) to 0 and reserves the announced size
    /// again (truncating released the reservation).
    ///
    /// # Errors
    /// [`FsError::DiskFull`] when the size cannot be reserved again;
    /// [`FsError::Io`] when truncating, seeking or reserving fails.
    pub fn restart(&mut self) -> Result<(), FsError> {
        self.file.set_len(0).map_err(|e| self.err("truncate", e))?;
        self.written = 0;
        self.synced = false;
        (&self.file)
            .seek(SeekFrom::Start(0))
            .map_err(|e| self.err("seek to the start of", e))?;
        self.reserve()
    }

    /// Removes the file now, resumable or not (its data is corrupt or
    /// abandoned and must not be resumed).
    pub fn discard(mut self) {
        self.resumable = false;
        // `Drop` removes it.
        drop(self);
    }

    /// A duplicate handle of a file opened by
    /// [`ReceiveRoot::begin_resumable`], for another thread to read the
    /// held prefix with `read_at` (see [`hash_prefix`]). It shares the lock:
    /// the partial stays locked until this handle is closed too. (A file
    /// from [`ReceiveRoot::begin`] is write-only: reading this handle
    /// fails.)
    ///
    /// # Errors
    /// [`FsError::Io`] when the descriptor cannot be duplicated.
    pub fn prefix_handle(&self) -> Result<File, FsError> {
        self.dup()
    }
}

/// Reads bytes `[0, len)` of `file` with `read_at` (its position is neither
/// used nor moved) in pieces of 256 KiB and hashes them. Returns the
/// running SHA-256 state (to go on with the rest of the file for its whole
/// hash) and the 32-byte digest of the prefix. Works on any readable file:
/// a partial's [`prefix_handle`](Staged::prefix_handle), or a source file.
///
/// # Errors
/// As [`hash_range`].
pub fn hash_prefix(file: &File, len: u64) -> io::Result<(Sha256, [u8; DIGEST_LEN])> {
    let mut hash = Sha256::new().map_err(io::Error::other)?;
    let piece = usize::try_from(len).map_or(PREFIX_PIECE, |l| l.min(PREFIX_PIECE));
    hash_range(file, &mut hash, 0..len, &mut AlignedBuf::new(piece))?;
    let digest = hash.digest_so_far().map_err(io::Error::other)?;
    Ok((hash, digest))
}

/// Reads bytes `range` of `file` with `read_at` (its position is neither
/// used nor moved), `buf.len()` bytes at a time (at least 1), into `hash`.
///
/// # Errors
/// Kind `UnexpectedEof` when the file ends before `range.end`; the read
/// error when reading fails (other than `Interrupted`, which is retried);
/// kind `Other` wrapping the `CryptoError` when OpenSSL fails.
pub fn hash_range(
    file: &File,
    hash: &mut Sha256,
    range: std::ops::Range<u64>,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut at = range.start;
    while at < range.end {
        let want = usize::try_from(range.end - at).map_or(buf.len(), |l| l.min(buf.len()));
        let got = match file.read_at(&mut buf[..want], at) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file ends at byte {at}, before the {} bytes to hash",
                        range.end
                    ),
                ))
            }
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hash.update(&buf[..got]).map_err(io::Error::other)?;
        at += got as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_name_is_the_prefix_and_64_lowercase_hex_digits() {
        let name = partial_name(&[7; 32], "a/b").unwrap();
        assert!(is_partial_name(&name), "{name}");
        let mut input = b"sft/5 partial\0".to_vec();
        input.extend_from_slice(&[7; 32]);
        input.extend_from_slice(b"a/b");
        let expected = format!(".sft-part-{}", hex::encode(sha256(&input).unwrap()));
        assert_eq!(name, expected);
        assert_ne!(name, partial_name(&[8; 32], "a/b").unwrap());
        assert_ne!(name, partial_name(&[7; 32], "a/c").unwrap());
    }

    #[test]
    fn only_full_length_lowercase_hex_names_are_partials() {
        let hex64 = "0123456789abcdef".repeat(4);
        assert!(is_partial_name(&format!(".sft-part-{hex64}")));
        assert!(!is_partial_name(&format!(".sft-part-{hex64}0")));
        assert!(!is_partial_name(&format!(".sft-part-{}", &hex64[1..])));
        assert!(!is_partial_name(&format!(
            ".sft-part-{}",
            hex64.to_uppercase()
        )));
        assert!(!is_partial_name(".sft-part-0123456789abcdef"));
        assert!(!is_partial_name(&format!("x.sft-part-{hex64}")));
    }

    #[test]
    fn a_partial_is_stale_only_past_max_age() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        assert!(!is_stale(now - day, now, day), "exactly max_age is kept");
        assert!(is_stale(now - day - Duration::from_nanos(1), now, day));
        assert!(!is_stale(now, now, day));
        assert!(!is_stale(now + day, now, day), "the future is new");
        assert!(is_stale(now - Duration::from_nanos(1), now, Duration::ZERO));
    }
}
