//! Listing a receive root: a streaming [`Lister`] in directory order, in
//! constant memory whatever the number of files, and a sorted [`list`].
//!
//! [`list`]: ReceiveRoot::list

use std::path::PathBuf;

use rustix::fs::{AtFlags, Dir, FileType};
use rustix::io::Errno;

use super::root::ReceiveRoot;
use super::{at_err, io_err, FsError, TEMP_PREFIX};

/// One regular file directly inside a receive root, as [`ReceiveRoot::list`]
/// and [`Lister`] report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file's base name (valid UTF-8).
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
}

/// The regular files directly in a receive root, one at a time, in
/// directory order (unsorted). Memory stays constant however many files
/// the directory holds.
///
/// Skipped: subdirectories (no recursion), symlinks and other special
/// files, temporary `.sft-part-*` files, names that are not valid UTF-8,
/// and entries removed between reading the directory and inspecting them.
/// Files added or removed while listing may or may not appear; every other
/// file appears exactly once. After an error the iterator ends.
#[derive(Debug)]
pub struct Lister {
    /// A directory stream of its own (own read position) on the root.
    dir: Dir,
    /// The root's path, for messages.
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
        if name.starts_with(TEMP_PREFIX)
            || !matches!(listed_type, FileType::RegularFile | FileType::Unknown)
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
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Ok(None);
        }
        Ok(Some(Entry {
            name: name.to_owned(),
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
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
    /// A streaming listing of the root: see [`Lister`] for what it reports
    /// and skips. It reads the directory through the root's open handle.
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory cannot be opened for reading;
    /// the iterator yields [`FsError::Io`] when reading or inspecting fails.
    pub fn lister(&self) -> Result<Lister, FsError> {
        let dir = Dir::read_from(&*self.fd).map_err(|e| io_err("list", &self.dir)(e.into()))?;
        Ok(Lister {
            dir,
            shown: self.dir.clone(),
        })
    }

    /// What [`lister`](ReceiveRoot::lister) reports, collected and sorted
    /// by name (memory grows with the number of files).
    ///
    /// # Errors
    /// The first error of [`lister`](ReceiveRoot::lister).
    pub fn list(&self) -> Result<Vec<Entry>, FsError> {
        let mut entries = self.lister()?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}
