//! The receive root: the one directory files are received into and listed
//! and served from, held open as a directory handle.
//!
//! The root is resolved by path once, in [`ReceiveRoot::open_or_create`].
//! Every later operation works relative to the open handle (`openat`,
//! `statat`, `renameat2`, ...), and a path inside the root is walked to one
//! directory at a time without following a symlink, so renaming the root's
//! path or replacing it (or a directory in it) by a symlink while a server
//! runs cannot redirect a write, read or listing: they all stay in the
//! directories that were opened.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::partial::is_partial_name;
use super::source::{regular_source, SourceFile};
use super::staging::{Staged, Target};
use super::{at_err, free_bytes, io_err, lookalike, walk, FsError, Meta, TEMP_PREFIX};
use crate::crypto::rand;

/// Mode of a receive root this module creates (owner only).
const ROOT_MODE: u32 = 0o700;

/// Mode of a temporary (and so of a received) file: owner read/write only.
pub(super) const TEMP_MODE: u32 = 0o600;

/// A directory files are received into, held open. Clones share the handle.
#[derive(Debug, Clone)]
pub struct ReceiveRoot {
    /// The open root directory; every operation is relative to it.
    pub(super) fd: Arc<OwnedFd>,
    /// The canonical path when opened, for messages only (never re-resolved).
    pub(super) dir: PathBuf,
    /// Held from a look-alike check to the create or move it allows, so
    /// two names that look the same cannot both pass (the event loop makes
    /// directories while the committer moves files in).
    pub(super) names: Arc<Mutex<()>>,
}

impl ReceiveRoot {
    /// Opens `dir`, creating it and any missing parents with mode 0700 if it
    /// does not exist. A symlink to a directory is accepted (the root is the
    /// operator's choice). The directory is opened once, here; renaming or
    /// replacing `dir` afterwards does not change which directory is used.
    ///
    /// # Errors
    /// [`FsError::NotADirectory`] when `dir` exists but is not a directory;
    /// [`FsError::Io`] when it cannot be inspected, created, opened or
    /// canonicalized.
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
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| match e {
            // Replaced by a file since the check above.
            Errno::NOTDIR => FsError::NotADirectory(dir.to_path_buf()),
            e => io_err("open", dir)(e.into()),
        })?;
        let shown = dir.canonicalize().map_err(io_err("resolve", dir))?;
        Ok(Self {
            fd: Arc::new(fd),
            dir: shown,
            names: Arc::new(Mutex::new(())),
        })
    }

    /// Bytes an unprivileged writer may still store on the root's file
    /// system (`fstatvfs` of the open root: available blocks × fragment
    /// size).
    ///
    /// # Errors
    /// [`FsError::Io`] when the file system cannot be queried.
    pub fn available_space(&self) -> Result<u64, FsError> {
        free_bytes(&*self.fd).map_err(|e| io_err("query free space of", &self.dir)(e.into()))
    }

    /// The canonical path of the root when it was opened, for messages.
    /// Operations never go through it: after a rename it may name another
    /// directory, or nothing.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Starts receiving the file `path` ("a/b/file", relative to the root),
    /// announced as `size` bytes, into a new temporary file
    /// `.sft-part-<16 hex>` (mode 0600, created exclusively, never through a
    /// symlink) in the root, and reserves `size` bytes of disk for it
    /// (`fallocate` keeping the visible length at what is written; skipped
    /// where the file system cannot reserve), so concurrent uploads cannot
    /// promise the same free space twice. The parent directory must exist:
    /// it is walked to from the root without following any symlink and
    /// held open until the commit, so renaming or replacing it meanwhile
    /// cannot redirect the file. [`Staged::commit`] applies `meta` (if
    /// given) and moves the file into that directory; dropping the
    /// [`Staged`] removes it.
    ///
    /// # Errors
    /// [`FsError::BadName`] for a path that is not plain names joined by
    /// `/`; [`FsError::NotDir`] when a directory of the path is a symlink or
    /// not a directory; [`FsError::Io`] of kind `NotFound` when one is
    /// missing; [`FsError::Exists`] when a regular file `path` exists and
    /// `overwrite` is false; [`FsError::NotRegular`] when `path` exists as
    /// a symlink, directory or anything else (whatever `overwrite` says);
    /// [`FsError::LookAlike`] when `path` does not exist but a different
    /// name in its directory has the same NFC form; [`FsError::DiskFull`]
    /// when `size` exceeds [`available_space`] (nothing is created) or
    /// cannot be reserved (the temporary file is removed);
    /// [`FsError::Random`] when no temporary name can be drawn;
    /// [`FsError::Io`] when inspecting, creating or reserving fails.
    ///
    /// [`available_space`]: ReceiveRoot::available_space
    pub fn begin(
        &self,
        path: &str,
        size: u64,
        overwrite: bool,
        meta: Option<Meta>,
    ) -> Result<Staged, FsError> {
        let (dir, name) = walk::split(path)?;
        let parent = walk::open_dir(self, dir)?;
        if !walk::check_target(self, &parent, name, path, overwrite)? {
            self.refuse_lookalike(&parent, name, path)?;
        }
        fits(size, self.available_space()?)?;
        let random = rand::array::<8>().map_err(FsError::Random)?;
        let tmp = format!("{TEMP_PREFIX}{}", hex::encode(random));
        let flags =
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&*self.fd, &tmp, flags, Mode::from_raw_mode(TEMP_MODE))
            .map_err(|e| at_err("create temporary file", &self.dir, &tmp, e))?;
        let target = Target {
            parent,
            path: path.to_owned(),
            name_at: path.len() - name.len(),
        };
        let staged = Staged::new(self, File::from(fd), tmp, target, size, overwrite, meta);
        // On an error the `Staged` is dropped, which removes the file.
        staged.reserve()?;
        Ok(staged)
    }

    /// Refuses to create `name` (the last component of `path`) in the open
    /// directory `dir` when a different name there has the same NFC form.
    ///
    /// # Errors
    /// [`FsError::LookAlike`] naming both paths; [`FsError::Io`] when the
    /// directory cannot be inspected or read.
    /// Holds the look-alike lock (see [`ReceiveRoot`]) until the guard is
    /// dropped. A poisoned lock is taken anyway: it guards no data.
    pub(super) fn names_lock(&self) -> MutexGuard<'_, ()> {
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn refuse_lookalike(
        &self,
        dir: impl AsFd,
        name: &str,
        path: &str,
    ) -> Result<(), FsError> {
        match lookalike::find(dir, name) {
            Ok(None) => Ok(()),
            Ok(Some(existing)) => Err(FsError::LookAlike {
                name: path.to_owned(),
                existing: format!("{}{existing}", &path[..path.len() - name.len()]),
            }),
            Err(e) => Err(at_err("look for look-alikes of", &self.dir, path, e)),
        }
    }

    /// Removes temporary files left by transfers that were cut by a crash or
    /// a kill: regular `.sft-part-*` files, except resumable partials
    /// ([`partial_name`]s, which [`sweep_partials`] removes by age). Call it
    /// before serving, when no transfer into this root is in progress.
    /// Returns how many were removed.
    ///
    /// [`partial_name`]: super::partial_name
    /// [`sweep_partials`]: ReceiveRoot::sweep_partials
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory cannot be read or a file removed.
    pub fn remove_stale_parts(&self) -> Result<usize, FsError> {
        let names = self.names_where(|n| n.starts_with(TEMP_PREFIX) && !is_partial_name(n))?;
        let mut removed = 0;
        for name in &names {
            if walk::kind_of(self, &*self.fd, name, name)? != Some(FileType::RegularFile) {
                continue;
            }
            match rustix::fs::unlinkat(&*self.fd, name, AtFlags::empty()) {
                Ok(()) => removed += 1,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(at_err("remove", &self.dir, name, e)),
            }
        }
        Ok(removed)
    }

    /// The names in the root (UTF-8 ones) that `wanted` accepts.
    ///
    /// # Errors
    /// [`FsError::Io`] when the directory cannot be read.
    pub(super) fn names_where(
        &self,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, FsError> {
        let list_err = |e: Errno| io_err("list", &self.dir)(e.into());
        let mut dir = Dir::read_from(&*self.fd).map_err(list_err)?;
        let mut names = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(list_err)?;
            if let Ok(name) = entry.file_name().to_str() {
                if wanted(name) {
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    /// Opens the file `path` ("a/b/file", relative to the root) for
    /// reading. Its directories are walked to from the root without
    /// following any symlink; the file is opened without following a
    /// symlink (`O_NOFOLLOW`) nor blocking on a FIFO, and the regular-file
    /// check is made on the opened handle, so nothing can be swapped
    /// between check and use.
    ///
    /// # Errors
    /// [`FsError::BadName`] for a path that is not plain names joined by
    /// `/`; [`FsError::NotDir`] when a directory of the path is a symlink or
    /// not a directory; [`FsError::NotRegular`] when the file is a symlink,
    /// directory or special file; [`FsError::Io`] when it or a directory
    /// does not exist (kind `NotFound`) or cannot be opened.
    pub fn open_source(&self, path: &str) -> Result<SourceFile, FsError> {
        let (dir, name) = walk::split(path)?;
        let parent = walk::open_dir(self, dir)?;
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&parent, name, flags, Mode::empty()).map_err(|e| match e {
            Errno::LOOP => FsError::NotRegular(path.to_owned()),
            e => at_err("open", &self.dir, path, e),
        })?;
        regular_source(File::from(fd), &self.dir.join(path), path)
    }
}

/// Refuses `needed` bytes unless they fit in `available` bytes.
pub(super) fn fits(needed: u64, available: u64) -> Result<(), FsError> {
    if needed > available {
        return Err(FsError::DiskFull { needed, available });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_fits_up_to_exactly_the_free_space() {
        assert!(fits(0, 0).is_ok());
        assert!(fits(1000, 1000).is_ok());
        assert!(fits(u64::MAX, u64::MAX).is_ok());
        let err = fits(1001, 1000).unwrap_err();
        assert!(
            matches!(
                err,
                FsError::DiskFull {
                    needed: 1001,
                    available: 1000
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("disk full"), "{err}");
        assert!(matches!(fits(1, 0), Err(FsError::DiskFull { .. })));
    }
}
