//! File and directory metadata a transfer can carry and apply: permission
//! bits and modification time.

use rustix::fd::AsFd;
use rustix::fs::{Mode, Timespec, Timestamps, UTIME_OMIT};

pub use crate::proto::msgs::{Meta, MAX_MODE};

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
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode & MAX_MODE))
}
