//! Files opened for sending: regular files only, checked on the open handle.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::meta::MAX_MODE;
use super::{io_err, FsError};

/// A regular file opened for reading, with its size and modification time
/// taken from the open handle (not the path), so they describe what is read.
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
        file,
    })
}
