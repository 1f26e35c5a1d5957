//! Everything that touches a receive root on disk: safe paths, directories,
//! staging (temporary file -> fsync -> atomic move), source files,
//! metadata, overwrite policy and Unicode look-alike names.
//!
//! Paths given to this module ("a/b/file", relative to the root) are
//! already validated by the protocol layer; every component is checked
//! again here ([`FsError::BadName`]) so a mistake elsewhere cannot reach
//! outside the root. Paths are resolved from the root's open handle one
//! directory at a time, and nothing here follows a symlink inside the
//! receive root.

mod list;
mod lookalike;
mod meta;
mod mkdir;
mod partial;
mod root;
mod source;
mod staging;
mod subroot;
mod walk;

use std::io;
use std::path::{Path, PathBuf};

use bytesize::ByteSize;

use crate::crypto::CryptoError;

pub use list::{Entry, Kind, Lister};
pub use meta::Meta;
pub use partial::{hash_prefix, hash_range, partial_name};
pub use root::ReceiveRoot;
pub use source::open_tree_source;
pub use source::{open_local_source, SourceError, SourceFile};
pub use staging::Staged;

/// Prefix of the temporary files a transfer writes before committing (in the
/// root, whatever directory the file goes to), followed by 16 random hex
/// characters (64 bits) for a file staged by [`ReceiveRoot::begin`], or by
/// 64 hex characters for a resumable partial ([`partial_name`]).
/// [`ReceiveRoot::list`] hides them and path components starting with it
/// are refused as [`FsError::BadName`].
pub const TEMP_PREFIX: &str = ".sft-part-";

/// Why a file-system operation on a receive root or source file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// An operating-system call failed; `op` says which, `path` on what.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The target path (from the root) already exists and overwriting was
    /// not requested and allowed (or another writer created it during the
    /// transfer).
    #[error("{0} already exists; refusing to overwrite it (overwriting must be requested, and allowed by the receiver)")]
    Exists(String),
    /// The path (from the root) exists as a symlink, directory or other
    /// non-regular file.
    #[error("{0} is a symlink or not a regular file (or, for a partial file, has other hard links); refusing")]
    NotRegular(String),
    /// A directory of the path (the path up to it, from the root), or the
    /// directory to create, exists as a symlink or something other than a
    /// directory. Symlinks are never followed.
    #[error(
        "{0:?} is a symlink or not a directory; refusing (a path never goes through a symlink)"
    )]
    NotDir(String),
    /// Creating `name` (a path from the root) was refused because
    /// `existing` (the path of a different name in the same directory) has
    /// the same Unicode NFC form, so the two would look the same.
    #[error(
        "{name:?} looks the same as the existing {existing:?} (same Unicode NFC form); refusing"
    )]
    LookAlike { name: String, existing: String },
    /// The number of bytes written differs from the announced size (bytes).
    #[error("size mismatch: {expected} bytes announced, {got} bytes received")]
    SizeMismatch { expected: u64, got: u64 },
    /// The path is not acceptable: empty, starts or ends with `/`, holds
    /// `//`, or a component is `.`, `..`, contains NUL or starts with
    /// [`TEMP_PREFIX`].
    #[error("{0:?} is not an acceptable path (plain names separated by single '/', none of them '.' or '..' or starting with {TEMP_PREFIX:?})")]
    BadName(String),
    /// The receive root exists but is not a directory.
    #[error("{0} exists but is not a directory")]
    NotADirectory(PathBuf),
    /// No randomness was available to name a temporary file, or no hash to
    /// name a partial file ([`partial_name`]): OpenSSL failed.
    #[error("cannot name a temporary file: {0}")]
    Random(#[source] CryptoError),
    /// The partial file of this path (from the root) is in use by another
    /// transfer (its lock is held), or was committed or removed while it
    /// was being opened ([`ReceiveRoot::begin_resumable`]).
    #[error("{0} is being received by another transfer right now (its partial file is in use)")]
    Busy(String),
    /// A file being sent changed while it was read (the text says how, e.g.
    /// "changed while it was being sent: grew from 10 to 20 bytes"; the
    /// caller names the file); the receiver stored nothing.
    #[error("{0}")]
    SourceChanged(String),
    /// The file system has no room: `needed` bytes were asked for (the
    /// announced size, or what was left to write) and `available` bytes
    /// were free to an unprivileged writer when it was checked. The message
    /// starts with "disk full" and names no path.
    #[error("disk full: {} ({needed} bytes) needed, {} ({available} bytes) available", ByteSize(*needed), ByteSize(*available))]
    DiskFull { needed: u64, available: u64 },
}

/// Maps an `io::Error` from `op` on `path` into [`FsError::Io`].
fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Maps an error of `op` on `name` inside the directory shown as `dir`
/// into [`FsError::Io`].
fn at_err(op: &'static str, dir: &Path, name: &str, e: rustix::io::Errno) -> FsError {
    io_err(op, &dir.join(name))(e.into())
}

/// Whether `e` says the file system (or the writer's quota) is out of room.
fn is_out_of_space(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOSPC || e == rustix::io::Errno::DQUOT
}

/// Bytes an unprivileged writer may still store on the file system of
/// `fd` (`fstatvfs`: available blocks × fragment size).
fn free_bytes(fd: impl rustix::fd::AsFd) -> rustix::io::Result<u64> {
    let st = rustix::fs::fstatvfs(fd)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
