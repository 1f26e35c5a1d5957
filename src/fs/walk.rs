//! Paths inside a receive root: checked component by component, and
//! resolved by walking from the root's open handle one directory at a time
//! (`openat` with `O_DIRECTORY | O_NOFOLLOW`), so a symlink is never
//! followed and a directory swapped for a symlink mid-walk stops the walk.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::root::ReceiveRoot;
use super::{at_err, FsError, TEMP_PREFIX};

/// Flags to open a directory of a walk: read-only (a handle can be listed
/// and fsynced), never through a symlink.
const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Checks `path` ("a/b/c": components separated by single `/`) and splits
/// it at its last `/` into the directory part ("" for a name in the root)
/// and the last component.
///
/// # Errors
/// [`FsError::BadName`] (naming the whole path) when the path is empty,
/// starts or ends with `/`, holds `//`, or any component fails the plain
/// name rule (`.`, `..`, NUL, the temporary-file prefix).
pub(super) fn split(path: &str) -> Result<(&str, &str), FsError> {
    check_path(path)?;
    Ok(match path.rfind('/') {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => ("", path),
    })
}

/// Checks every component of `path` (see [`split`]).
///
/// # Errors
/// [`FsError::BadName`] naming the whole path.
pub(super) fn check_path(path: &str) -> Result<(), FsError> {
    if path.split('/').all(is_plain_name) {
        Ok(())
    } else {
        Err(FsError::BadName(path.to_owned()))
    }
}

/// Whether `name` is a plain base name, one path component (defence in
/// depth: the protocol layer has already validated it): not empty, `.` or
/// `..`, without NUL, and not starting with [`TEMP_PREFIX`] (it has no
/// `/`: it comes from splitting a path at them).
fn is_plain_name(name: &str) -> bool {
    !(name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('\0')
        || name.starts_with(TEMP_PREFIX))
}

/// Opens the directory `dir` (a checked path, "" = the root itself) by
/// walking from the root's handle, one `openat(.., O_DIRECTORY |
/// O_NOFOLLOW)` per component. The handle returned is a new open file
/// description (its own read position), read-only.
///
/// # Errors
/// [`FsError::NotDir`] naming the first component (as a path from the
/// root) that is a symlink or not a directory; [`FsError::Io`] when a
/// component does not exist (kind `NotFound`) or cannot be opened.
pub(super) fn open_dir(root: &ReceiveRoot, dir: &str) -> Result<OwnedFd, FsError> {
    if dir.is_empty() {
        // A new open file description (not a dup of the held handle, which
        // would share its directory read position with every lister).
        return rustix::fs::openat(&*root.fd, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| at_err("open directory", &root.dir, "", e));
    }
    let mut parts = dir.split('/');
    let first = parts.next().unwrap_or_default();
    let mut fd = open_child_dir(root, &*root.fd, first, first)?;
    let mut end = first.len();
    for comp in parts {
        end += 1 + comp.len();
        fd = open_child_dir(root, &fd, comp, &dir[..end])?;
    }
    Ok(fd)
}

/// Opens the directory `name` in `parent` like a step of [`open_dir`].
/// `path` names it (from the root) in errors.
///
/// # Errors
/// [`FsError::NotDir`] when it is a symlink or not a directory;
/// [`FsError::Io`] when it is missing or cannot be opened.
pub(super) fn open_child_dir(
    root: &ReceiveRoot,
    parent: impl AsFd,
    name: &str,
    path: &str,
) -> Result<OwnedFd, FsError> {
    rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty()).map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => FsError::NotDir(path.to_owned()),
        e => at_err("open directory", &root.dir, path, e),
    })
}

/// The type of `name` in the directory `dir` without following a symlink,
/// or `None` when it does not exist. `path` names it (from the root) in
/// errors.
///
/// # Errors
/// [`FsError::Io`] when it cannot be inspected.
pub(super) fn kind_of(
    root: &ReceiveRoot,
    dir: impl AsFd,
    name: &str,
    path: &str,
) -> Result<Option<FileType>, FsError> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(at_err("inspect", &root.dir, path, e)),
    }
}

/// Applies the overwrite policy to `name` in `dir` (without following
/// symlinks): absent is fine, a regular file only with `overwrite`,
/// anything else never. Returns whether it exists. `path` names it (from
/// the root) in errors.
///
/// # Errors
/// [`FsError::Exists`] for a regular file without `overwrite`;
/// [`FsError::NotRegular`] for anything else that exists; [`FsError::Io`]
/// when it cannot be inspected.
pub(super) fn check_target(
    root: &ReceiveRoot,
    dir: impl AsFd,
    name: &str,
    path: &str,
    overwrite: bool,
) -> Result<bool, FsError> {
    match kind_of(root, dir, name, path)? {
        None => Ok(false),
        Some(FileType::RegularFile) if overwrite => Ok(true),
        Some(FileType::RegularFile) => Err(FsError::Exists(path.to_owned())),
        Some(_) => Err(FsError::NotRegular(path.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_splits_at_its_last_slash() {
        assert_eq!(split("f").unwrap(), ("", "f"));
        assert_eq!(split("a/f").unwrap(), ("a", "f"));
        assert_eq!(split("a/b c/f.txt").unwrap(), ("a/b c", "f.txt"));
    }

    #[test]
    fn a_path_with_an_empty_dot_or_temporary_component_is_refused_whole() {
        for bad in [
            "",
            "/",
            "/a",
            "a/",
            "a//b",
            ".",
            "..",
            "a/./b",
            "a/../b",
            "../a",
            "a/..",
            "a/b\0/c",
            ".sft-part-0123456789abcdef",
            "a/.sft-part-x/b",
        ] {
            let err = split(bad).unwrap_err();
            assert!(
                matches!(&err, FsError::BadName(p) if p == bad),
                "{bad:?}: {err:?}"
            );
        }
    }
}
