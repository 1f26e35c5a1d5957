//! File and directory metadata a transfer can carry and apply: permission
//! bits and modification time.

use rustix::fd::AsFd;
use rustix::fs::{Mode, Timespec, Timestamps, UTIME_OMIT};

/// The permission bits (`rwx` for owner, group, others) kept from a mode:
/// set-user-ID, set-group-ID and sticky bits are never applied.
pub const PERMISSION_BITS: u32 = 0o777;

/// Metadata to apply to a received file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits, at most 0o777 (anything above is masked off when
    /// applied).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
}

/// Sets the modification time (the access time is left alone) and then
/// the mode (`meta.mode & 0o777`) of the open file or directory `fd`.
///
/// # Errors
/// The `futimens` or `fchmod` error (for example `EPERM` when the caller
/// does not own the file, `EINVAL` for a time the file system refuses).
pub(super) fn apply(fd: impl AsFd, meta: Meta) -> rustix::io::Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime,
            tv_nsec: 0,
        },
    };
    rustix::fs::futimens(&fd, &times)?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode & PERMISSION_BITS))
}
