//! Files opened for sending: regular files only, checked on the open handle.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::meta::MAX_MODE;
use super::{io_err, FsError};

/// A regular file opened for reading, with its size and modification time
/// taken from the open handle (not the path), so they describe what is read,
/// and the state it had then, to tell whether it changed since
/// ([`SourceFile::check_unchanged`]).
#[derive(Debug)]
pub struct SourceFile {
    /// The open file, positioned at its start.
    pub file: File,
    /// Length in bytes when opened.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
    /// Permission bits (`mode & 0o777`).
    pub mode: u32,
    /// The name errors show: the path as given (client) or from the root
    /// (server).
    name: String,
    /// The state when opened.
    opened: State,
}

/// What tells a changed file from the one opened: its size, and its
/// modification and status-change times (seconds, nanoseconds). Every write
/// sets both times to the kernel's clock, which (before Linux 6.13's
/// fine-grained timestamps) ticks every few milliseconds, so a same-size
/// write in the tick of the file's previous change goes unseen there.
/// Device and inode are left out: they cannot change on an open handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl State {
    fn of(meta: &Metadata) -> Self {
        State {
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Why a [`SourceFile`] cannot be read as it was opened. Every variant but
/// `Io` is a change since it was opened; the text says what changed
/// ("grew from 10 to 20 bytes").
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// It is longer than when opened (bytes). `to` is the size the handle
    /// reports now, at least `from + 1` when only a read past `from` showed
    /// the growth (a file system whose sizes lag, such as NFS).
    #[error("grew from {from} to {to} bytes")]
    Grew { from: u64, to: u64 },
    /// It is shorter than when opened (bytes): the size the handle reports,
    /// or where a read found its end.
    #[error("shrank from {from} to {to} bytes")]
    Shrank { from: u64, to: u64 },
    /// Same size, but written to (or its metadata changed) since it was
    /// opened.
    #[error("was modified (mtime/ctime changed)")]
    Modified,
    /// Reading or inspecting the handle failed.
    #[error("{0}")]
    Io(io::Error),
}

impl SourceFile {
    /// The name errors show: the path the user gave (client) or the path
    /// from the receive root (server).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fills `buf` with the bytes at `offset` (positional reads: the
    /// handle's position is neither used nor moved).
    ///
    /// # Errors
    /// `Shrank` when the file ends before `buf` is full (`to` is where it
    /// ended); `Io` when a read fails.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), SourceError> {
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset + filled as u64;
            match read_at(&self.file, &mut buf[filled..], at)? {
                0 => {
                    return Err(SourceError::Shrank {
                        from: self.opened.size,
                        to: at,
                    })
                }
                n => filled += n,
            }
        }
        Ok(())
    }

    /// Compares the file's state now (`fstat` on the handle) with its
    /// state when opened.
    ///
    /// # Errors
    /// `Grew` or `Shrank` when the size differs, `Modified` when the size
    /// is the same but a time differs, `Io` when `fstat` fails.
    pub fn check_unchanged(&self) -> Result<(), SourceError> {
        self.compare(false)
    }

    /// As [`check_unchanged`](Self::check_unchanged), after also reading
    /// one byte at offset `size`, which must find the end of the file: it
    /// does not go on past its size even where the reported size lags.
    /// One `pread` and one `fstat`.
    ///
    /// # Errors
    /// As `check_unchanged`; `Grew` when the read found a byte.
    pub fn check_ends_at_size(&self) -> Result<(), SourceError> {
        let past_end = read_at(&self.file, &mut [0], self.opened.size)? > 0;
        self.compare(past_end)
    }

    /// Compares the state now with the state when opened; `past_end` says
    /// a byte was read at the size when opened.
    fn compare(&self, past_end: bool) -> Result<(), SourceError> {
        let now = State::of(&self.file.metadata().map_err(SourceError::Io)?);
        let from = self.opened.size;
        let to = if past_end {
            now.size.max(from + 1)
        } else {
            now.size
        };
        if to > from {
            Err(SourceError::Grew { from, to })
        } else if to < from {
            Err(SourceError::Shrank { from, to })
        } else if now != self.opened {
            Err(SourceError::Modified)
        } else {
            Ok(())
        }
    }
}

/// One `pread` of `buf` at `offset`, retried when interrupted. Returns the
/// bytes read (0 at the end of the file).
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, SourceError> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r.map_err(SourceError::Io),
        }
    }
}

/// Opens a local file the user named for upload (client side).
///
/// Follows symlinks the user gave (as `scp` does), but the final file must be
/// a regular file. Opening never blocks on a FIFO or device.
///
/// # Errors
/// [`FsError::Io`] when the file cannot be opened or inspected;
/// [`FsError::NotRegular`] when it is a directory, FIFO, device or socket.
pub fn open_local_source(path: &Path) -> Result<SourceFile, FsError> {
    open_regular(path, &path.display().to_string())
}

/// Opens the file `rel` found by walking the local directory `base` (an
/// upload's argument, client side): `base` is opened as the user named it,
/// then each component of `rel` relative to the directory before it,
/// never following a symlink (`O_NOFOLLOW`), so a directory or file of
/// the tree swapped for a link after the walk cannot make sft read a file
/// from outside the tree.
///
/// # Errors
/// As [`open_local_source`]; [`FsError::NotRegular`] when a component is
/// now a symlink (or a directory of the path is no longer a directory).
pub fn open_tree_source(base: &Path, rel: &Path) -> Result<SourceFile, FsError> {
    let path = base.join(rel);
    let shown = path.display().to_string();
    let moved = |e: Errno| match e {
        Errno::LOOP | Errno::NOTDIR => FsError::NotRegular(shown.clone()),
        e => io_err("open", &path)(e.into()),
    };
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = rustix::fs::open(base, dir_flags, Mode::empty()).map_err(moved)?;
    let mut parts = rel.iter().peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&dir, part, flags, Mode::empty()).map_err(moved)?;
            return regular_source(File::from(fd), &path, &shown);
        }
        dir = rustix::fs::openat(&dir, part, dir_flags | OFlags::NOFOLLOW, Mode::empty())
            .map_err(moved)?;
    }
    Err(FsError::NotRegular(shown))
}

/// Opens `path` read-only, then requires a regular file.
///
/// `O_NONBLOCK` keeps `open` from waiting for a writer on a FIFO; it has no
/// effect on reads from a regular file.
fn open_regular(path: &Path, shown: &str) -> Result<SourceFile, FsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err("open", path))?;
    regular_source(file, path, shown)
}

/// Makes a [`SourceFile`] of an opened `file` if it is a regular file
/// (checked on the handle). `path` and `shown` name it in errors.
pub(super) fn regular_source(file: File, path: &Path, shown: &str) -> Result<SourceFile, FsError> {
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.file_type().is_file() {
        return Err(FsError::NotRegular(shown.to_owned()));
    }
    Ok(SourceFile {
        size: meta.len(),
        mtime: meta.mtime(),
        mode: meta.mode() & MAX_MODE,
        name: shown.to_owned(),
        opened: State::of(&meta),
        file,
    })
}
