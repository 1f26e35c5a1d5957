//! Listing one directory of a receive root: a streaming [`Lister`] in
//! directory order, in constant memory whatever the number of entries, and
//! a sorted [`list`].
//!
//! [`list`]: ReceiveRoot::list

use std::path::PathBuf;

use rustix::fs::{AtFlags, Dir, FileType};
use rustix::io::Errno;

use super::meta::MAX_MODE;
use super::root::ReceiveRoot;
use super::{at_err, io_err, walk, FsError, TEMP_PREFIX};

/// What a listed entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One regular file or directory directly inside a listed directory, as
/// [`ReceiveRoot::list`] and [`Lister`] report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's base name (valid UTF-8).
    pub name: String,
    /// A file or a directory.
    pub kind: Kind,
    /// Length in bytes of a file; 0 for a directory.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
    /// Permission bits (`mode & 0o777`).
    pub mode: u32,
}

/// The regular files and directories directly in one directory of a
/// receive root, one at a time, in directory order (unsorted). Memory stays
/// constant however many entries the directory holds.
///
/// Skipped: `.` and `..` (there is no recursion), symlinks and other
/// special files, temporary `.sft-part-*` files, names that are not valid
/// UTF-8, and entries removed between reading the directory and inspecting
/// them. Entries added or removed while listing may or may not appear;
/// every other one appears exactly once. After an error the iterator ends.
#[derive(Debug)]
pub struct Lister {
    /// A directory stream of its own (own read position) on the directory.
    dir: Dir,
    /// The directory's path, for messages.
    shown: PathBuf,
}

impl Lister {
    /// The next entry to report from this directory `entry`, `None` to
    /// skip it.
    fn examine(&self, entry: &rustix::fs::DirEntry) -> Result<Option<Entry>, FsError> {
        let Ok(name) = entry.file_name().to_str() else {
            return Ok(None);
        };
        let listed_type = entry.file_type();
        if name == "."
            || name == ".."
            || name.starts_with(TEMP_PREFIX)
            || !matches!(
                listed_type,
                FileType::RegularFile | FileType::Directory | FileType::Unknown
            )
        {
            return Ok(None);
        }
        let fd = self
            .dir
            .fd()
            .map_err(|e| io_err("list", &self.shown)(e.into()))?;
        let st = match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(at_err("inspect", &self.shown, name, e)),
        };
        let (kind, size) = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => (Kind::File, u64::try_from(st.st_size).unwrap_or(0)),
            FileType::Directory => (Kind::Dir, 0),
            _ => return Ok(None),
        };
        Ok(Some(Entry {
            name: name.to_owned(),
            kind,
            size,
            mtime: st.st_mtime,
            mode: st.st_mode & MAX_MODE,
        }))
    }
}

impl Iterator for Lister {
    type Item = Result<Entry, FsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.dir.read()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(io_err("list", &self.shown)(e.into()))),
            };
            match self.examine(&entry) {
                Ok(None) => continue,
                Ok(Some(found)) => return Some(Ok(found)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl ReceiveRoot {
    /// A streaming listing of the directory `path` ("a/b", relative to the
    /// root; "" is the root itself): see [`Lister`] for what it reports and
    /// skips. The directory is walked to from the root without following
    /// any symlink, and read through its own open handle.
    ///
    /// # Errors
    /// [`FsError::BadName`] for a non-empty path that is not plain names
    /// joined by `/`; [`FsError::NotDir`] when `path` or a directory of it
    /// is a symlink or not a directory; [`FsError::Io`] when one does not
    /// exist (kind `NotFound`) or the directory cannot be opened for
    /// reading. The iterator yields [`FsError::Io`] when reading or
    /// inspecting fails.
    pub fn lister(&self, path: &str) -> Result<Lister, FsError> {
        if !path.is_empty() {
            walk::check_path(path)?;
        }
        let fd = walk::open_dir(self, path)?;
        let shown = self.dir.join(path);
        let dir = Dir::new(fd).map_err(|e| io_err("list", &shown)(e.into()))?;
        Ok(Lister { dir, shown })
    }

    /// What [`lister`](ReceiveRoot::lister) reports for `path`, collected
    /// and sorted by name (memory grows with the number of entries).
    ///
    /// # Errors
    /// The first error of [`lister`](ReceiveRoot::lister).
    pub fn list(&self, path: &str) -> Result<Vec<Entry>, FsError> {
        let mut entries = self.lister(path)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}
