//! The receive root: the one directory files are received into and listed
//! and served from.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::source::{open_regular, SourceFile};
use super::staging::Staged;
use super::{check_name, io_err, FsError, TEMP_PREFIX};
use crate::crypto::rand;

/// Mode of a receive root this module creates (owner only).
const ROOT_MODE: u32 = 0o700;

/// Mode of a temporary (and so of a received) file: owner read/write only.
const TEMP_MODE: u32 = 0o600;

/// A directory files are received into, by its canonical path.
#[derive(Debug, Clone)]
pub struct ReceiveRoot {
    dir: PathBuf,
}

/// One regular file directly inside a receive root, as [`ReceiveRoot::list`]
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file's base name (valid UTF-8).
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
}

impl ReceiveRoot {
    /// Opens `dir`, creating it and any missing parents with mode 0700 if it
    /// does not exist. A symlink to a directory is accepted (the root is the
    /// operator's choice); the root is kept as its canonical path.
    ///
    /// # Errors
    /// [`FsError::NotADirectory`] when `dir` exists but is not a directory;
    /// [`FsError::Io`] when it cannot be inspected, created or canonicalized.
    pub fn open_or_create(dir: &Path) -> Result<Self, FsError> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(FsError::NotADirectory(dir.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
                .recursive(true)
                .mode(ROOT_MODE)
                .create(dir)
                .map_err(io_err("create directory", dir))?,
            Err(e) => return Err(io_err("inspect", dir)(e)),
        }
        let dir = dir.canonicalize().map_err(io_err("resolve", dir))?;
        Ok(Self { dir })
    }

    /// Bytes an unprivileged writer may still store on the root's file
    /// system (`statvfs`: available blocks × fragment size).
    ///
    /// # Errors
    /// [`FsError::Io`] when the file system cannot be queried.
    pub fn available_space(&self) -> Result<u64, FsError> {
        let st = rustix::fs::statvfs(&self.dir)
            .map_err(|e| io_err("query free space of", &self.dir)(e.into()))?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Starts receiving `name`, announced as `size` bytes, into a new
    /// temporary file `.sft-part-<16 hex>` (mode 0600, created exclusively,
    /// never through a symlink) in the root. [`Staged::commit`] moves it into
    /// place; dropping the [`Staged`] removes it.
    ///
    /// # Errors
    /// [`FsError::BadName`] for anything but a plain name;
    /// [`FsError::Exists`] when a regular file `name` exists and `overwrite`
    /// is false; [`FsError::NotRegular`] when `name` exists as a symlink,
    /// directory or anything else (whatever `overwrite` says);
    /// [`FsError::Random`] when no temporary name can be drawn;
    /// [`FsError::Io`] when inspecting or creating fails.
    pub fn begin(&self, name: &str, size: u64, overwrite: bool) -> Result<Staged, FsError> {
        check_name(name)?;
        let target = self.dir.join(name);
        check_target(&target, name, overwrite)?;
        let random = rand::array::<8>().map_err(FsError::Random)?;
        let tmp = self
            .dir
            .join(format!("{TEMP_PREFIX}{}", hex::encode(random)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(TEMP_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io_err("create temporary file", &tmp))?;
        Ok(Staged::new(file, tmp, target, name, size, overwrite))
    }

    /// The regular files directly in the root, sorted by name: no recursion,
    /// no symlinks, directories or other special files, no temporary
    /// `.sft-part-*` files, and no names that are not valid UTF-8.
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory or an entry cannot be read. An
    /// entry removed while listing is skipped.
    pub fn list(&self) -> Result<Vec<Entry>, FsError> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err("list", &self.dir))? {
            let entry = entry.map_err(io_err("list", &self.dir))?;
            // `DirEntry::metadata` does not follow symlinks.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("inspect", &entry.path())(e)),
            };
            if !meta.file_type().is_file() {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            entries.push(Entry {
                name,
                size: meta.len(),
                mtime: meta.mtime(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// The regular files directly in the root, one at a time in directory
    /// order (unsorted), with the filters of [`ReceiveRoot::list`]; memory
    /// stays constant however many files there are.
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory cannot be opened; an entry that
    /// cannot be read is an `Err` item.
    pub fn lister(&self) -> Result<Lister, FsError> {
        let dir = fs::read_dir(&self.dir).map_err(io_err("list", &self.dir))?;
        Ok(Lister {
            dir,
            path: self.dir.clone(),
        })
    }

    /// Removes temporary files left by transfers that were cut by a crash or
    /// a kill (regular `.sft-part-*` files only). Call it before serving,
    /// when no transfer into this root is in progress. Returns how many
    /// were removed.
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory cannot be read or a file removed.
    pub fn remove_stale_parts(&self) -> Result<usize, FsError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io_err("list", &self.dir))? {
            let entry = entry.map_err(io_err("list", &self.dir))?;
            let is_part = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
            if is_part && entry.file_type().is_ok_and(|t| t.is_file()) {
                fs::remove_file(entry.path()).map_err(io_err("remove", &entry.path()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Opens `name` in the root for reading. The open never follows a
    /// symlink (`O_NOFOLLOW`) nor blocks on a FIFO, and the regular-file check
    /// is made on the opened handle, so the path cannot be swapped between
    /// check and use.
    ///
    /// # Errors
    /// [`FsError::BadName`] for anything but a plain name;
    /// [`FsError::NotRegular`] for a symlink, directory or special file;
    /// [`FsError::Io`] when it does not exist or cannot be opened.
    pub fn open_source(&self, name: &str) -> Result<SourceFile, FsError> {
        check_name(name)?;
        open_regular(&self.dir.join(name), libc::O_NOFOLLOW, name)
    }
}

/// The files of a receive root, read as they are iterated
/// ([`ReceiveRoot::lister`]).
#[derive(Debug)]
pub struct Lister {
    dir: fs::ReadDir,
    path: PathBuf,
}

impl Iterator for Lister {
    type Item = Result<Entry, FsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.dir.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(io_err("list", &self.path)(e))),
            };
            // `DirEntry::metadata` does not follow symlinks.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Some(Err(io_err("inspect", &entry.path())(e))),
            };
            if !meta.file_type().is_file() {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            return Some(Ok(Entry {
                name,
                size: meta.len(),
                mtime: meta.mtime(),
            }));
        }
    }
}

/// Applies the overwrite policy to `target` (without following symlinks):
/// absent is fine, a regular file only with `overwrite`, anything else never.
pub(super) fn check_target(target: &Path, name: &str, overwrite: bool) -> Result<(), FsError> {
    match fs::symlink_metadata(target) {
        Ok(meta) if !meta.file_type().is_file() => Err(FsError::NotRegular(name.to_owned())),
        Ok(_) if !overwrite => Err(FsError::Exists(name.to_owned())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("inspect", target)(e)),
    }
}
