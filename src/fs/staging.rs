//! A file being received: written to a temporary file in the root,
//! fsynced, then moved into its directory atomically so a reader never sees
//! a partial file under its final name. Every step works relative to open
//! directory handles (the root's and the target directory's).

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FallocateFlags, RenameFlags};
use rustix::io::Errno;

use super::root::ReceiveRoot;
use super::{at_err, free_bytes, io_err, is_out_of_space, meta, walk, FsError, Meta};

/// Where a staged file goes: its directory, held open since
/// [`ReceiveRoot::begin`], and its path from the root.
#[derive(Debug)]
pub(super) struct Target {
    /// The directory the file is moved into.
    pub(super) parent: OwnedFd,
    /// The checked path from the root ("a/b/file").
    pub(super) path: String,
    /// Where the last component (the name in `parent`) starts in `path`.
    pub(super) name_at: usize,
}

/// A temporary file being written for one received path.
///
/// Created by [`ReceiveRoot::begin`] or [`ReceiveRoot::begin_resumable`].
/// Dropping it without a successful [`commit`](Staged::commit) removes the
/// temporary file, unless it is a resumable partial holding bytes (see
/// [`ReceiveRoot::begin_resumable`]).
#[derive(Debug)]
pub struct Staged {
    /// The root the file is staged in (a shared handle, not a path).
    root: ReceiveRoot,
    pub(super) file: File,
    /// The temporary file's name in the root.
    tmp: String,
    target: Target,
    expected: u64,
    pub(super) written: u64,
    /// Whether this is a partial kept when dropped with bytes in it; off
    /// from [`sync`](Staged::sync) on (the finished file's metadata may be
    /// on it) and in [`discard`](Staged::discard).
    pub(super) resumable: bool,
    overwrite: bool,
    /// Applied to the file just before it is moved into place.
    meta: Option<Meta>,
    committed: bool,
    /// Whether [`sync`](Staged::sync) succeeded (the commit does not sync
    /// the file again).
    pub(super) synced: bool,
}

impl Staged {
    pub(super) fn new(
        root: &ReceiveRoot,
        file: File,
        tmp: String,
        target: Target,
        expected: u64,
        overwrite: bool,
        meta: Option<Meta>,
    ) -> Self {
        Self {
            root: root.clone(),
            file,
            tmp,
            target,
            expected,
            written: 0,
            resumable: false,
            overwrite,
            meta,
            committed: false,
            synced: false,
        }
    }

    /// Reserves the announced size on disk (`fallocate` with
    /// `FALLOC_FL_KEEP_SIZE`, so the visible length stays what was
    /// written). A file system that cannot reserve (`EOPNOTSUPP`, `ENOSYS`)
    /// is left to fail at write time instead.
    ///
    /// # Errors
    /// [`FsError::DiskFull`] on `ENOSPC`, `EDQUOT` or `EFBIG`;
    /// [`FsError::Io`] on any other failure.
    pub(super) fn reserve(&self) -> Result<(), FsError> {
        if self.expected == 0 {
            // fallocate refuses a zero length.
            return Ok(());
        }
        match rustix::fs::fallocate(&self.file, FallocateFlags::KEEP_SIZE, 0, self.expected) {
            Ok(()) | Err(Errno::OPNOTSUPP | Errno::NOSYS) => Ok(()),
            Err(e) if is_out_of_space(e) || e == Errno::FBIG => Err(self.disk_full()),
            Err(e) => Err(self.err("reserve space for", e.into())),
        }
    }

    /// [`FsError::DiskFull`] for the bytes still to write, with the free
    /// space as the file system reports it now (0 if it cannot say).
    fn disk_full(&self) -> FsError {
        FsError::DiskFull {
            needed: self.expected.saturating_sub(self.written),
            available: free_bytes(&self.file).unwrap_or(0),
        }
    }

    /// [`FsError::Io`] for `op` on the temporary file.
    pub(super) fn err(&self, op: &'static str, source: io::Error) -> FsError {
        FsError::Io {
            op,
            path: self.root.dir.join(&self.tmp),
            source,
        }
    }

    /// A second handle to the temporary file, so another thread can push
    /// written data to disk (`sync_data`) while writing goes on; the final
    /// fsync in [`commit`](Staged::commit) then has little left to do.
    ///
    /// # Errors
    /// [`FsError::Io`] when the descriptor cannot be duplicated.
    pub fn writeback_handle(&self) -> Result<File, FsError> {
        self.dup()
    }

    /// A duplicate of the file's descriptor (sharing its position, which
    /// `sync_data` and `read_at` do not use, and its lock if any).
    pub(super) fn dup(&self) -> Result<File, FsError> {
        self.file
            .try_clone()
            .map_err(|e| self.err("duplicate handle of", e))
    }

    /// Appends `data` to the temporary file and counts its bytes.
    ///
    /// # Errors
    /// [`FsError::SizeMismatch`] (nothing written) when `data` would take the
    /// file past its announced size, so a peer cannot fill the disk beyond
    /// what it announced; [`FsError::DiskFull`] when the file system or
    /// quota is out of room (`ENOSPC`, `EDQUOT`); [`FsError::Io`] when the
    /// write fails otherwise.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), FsError> {
        let got = self.written.saturating_add(data.len() as u64);
        if got > self.expected {
            return Err(FsError::SizeMismatch {
                expected: self.expected,
                got,
            });
        }
        self.file.write_all(data).map_err(|e| {
            match e.raw_os_error().map(Errno::from_raw_os_error) {
                Some(errno) if is_out_of_space(errno) => self.disk_full(),
                _ => self.err("write", e),
            }
        })?;
        self.written = got;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Whether it is a resumable partial ([`ReceiveRoot::begin_resumable`])
    /// not yet synced for its commit: it holds the partial's lock.
    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    /// Whether dropping it keeps the file: a resumable partial holding
    /// bytes.
    pub fn kept_if_dropped(&self) -> bool {
        self.resumable && self.written > 0
    }

    /// Finishes the file: checks the byte count, applies the metadata
    /// given to [`ReceiveRoot::begin`] (modification time, then mode masked
    /// to 0o777, on the open file), fsyncs the file, moves it from the root
    /// into the directory held since `begin` under its final name, fsyncs
    /// that directory, and returns the final path as the root's path when
    /// opened joined with the file's path (for messages: the file is where
    /// the held handles are even if those paths have since been renamed).
    ///
    /// Without `overwrite` the move is `renameat2(RENAME_NOREPLACE)`, which
    /// fails if the name appeared meanwhile, so an existing file is never
    /// replaced. With `overwrite` the target is checked again and then
    /// replaced by `rename`, which replaces a symlink rather than following
    /// it. A name that does not exist is checked again for look-alikes just
    /// before the move.
    ///
    /// # Errors
    /// [`FsError::SizeMismatch`] when fewer bytes were written than announced;
    /// [`FsError::Exists`] when the name appeared and `overwrite` is false;
    /// [`FsError::NotRegular`] when the name became a symlink, directory or
    /// special file; [`FsError::LookAlike`] when a look-alike name appeared;
    /// [`FsError::Io`] when setting the metadata, fsync or the move fails
    /// (the move fails with `EXDEV` when the directory is on another file
    /// system than the root, where files are staged, and with `EINVAL`
    /// where the file system cannot refuse to replace). On every error the
    /// temporary file is removed, a resumable one too (from
    /// [`sync`](Staged::sync) on it is the finished file, not a partial).
    pub fn commit(self) -> Result<PathBuf, FsError> {
        let mut results = Staged::commit_all(vec![self]);
        results
            .pop()
            .unwrap_or_else(|| Err(FsError::BadName(String::new())))
    }

    /// Commits several files as [`commit`](Staged::commit) does each, but
    /// fsyncs each directory they land in once, after all their moves (a
    /// group commit: a batch of small files into one directory pays one
    /// directory fsync, not one per file). Returns one result per file, in
    /// order; when a directory's fsync fails, every file moved into it
    /// reports that error.
    pub fn commit_all(files: Vec<Staged>) -> Vec<Result<PathBuf, FsError>> {
        let mut results = Vec::with_capacity(files.len());
        let mut placed = Vec::new();
        for mut staged in files {
            match staged.place() {
                Ok(()) => {
                    // The temporary name is gone; nothing to remove.
                    staged.committed = true;
                    results.push(Ok(staged.root.dir.join(&staged.target.path)));
                    placed.push((results.len() - 1, staged));
                }
                // `Drop` removes the temporary file.
                Err(e) => results.push(Err(e)),
            }
        }
        // One fsync per directory, told apart by device and inode.
        let mut synced: Vec<((u64, u64), Option<String>)> = Vec::new();
        for (i, staged) in &placed {
            let key = rustix::fs::fstat(&staged.target.parent)
                .map(|st| (st.st_dev, st.st_ino))
                .ok();
            let known = key.and_then(|k| synced.iter().find(|(seen, _)| *seen == k));
            let failure = match known {
                Some((_, failure)) => failure.clone(),
                None => {
                    let failure = staged.sync_parent().err().map(|e| e.to_string());
                    if let Some(k) = key {
                        synced.push((k, failure.clone()));
                    }
                    failure
                }
            };
            if let Some(why) = failure {
                let dir = staged.root.dir.join(staged.parent_path());
                results[*i] = Err(FsError::Io {
                    op: "fsync directory",
                    path: dir,
                    source: io::Error::other(why),
                });
            }
        }
        results
    }

    /// The path of the directory the file moves into, from the root.
    fn parent_path(&self) -> &str {
        &self.target.path[..self.target.name_at.saturating_sub(1)]
    }

    /// fsyncs the directory the file was moved into.
    fn sync_parent(&self) -> Result<(), FsError> {
        rustix::fs::fsync(&self.target.parent).map_err(|e| {
            io_err("fsync directory", &self.root.dir.join(self.parent_path()))(e.into())
        })
    }

    /// The first step of a commit, which a caller gathering a group of
    /// files may take for each as it arrives: checks the byte count,
    /// applies the metadata given to [`ReceiveRoot::begin`] (modification
    /// time, then mode masked to 0o777) on the open file, and fsyncs it.
    /// Nothing is visible under the final name yet. From here on a
    /// resumable file is no longer kept when dropped: it may carry the
    /// final metadata (an old modification time, any mode).
    ///
    /// # Errors
    /// [`FsError::SizeMismatch`] when fewer bytes were written than
    /// announced; [`FsError::Io`] when setting the metadata or the fsync
    /// fails.
    pub fn sync(&mut self) -> Result<(), FsError> {
        if self.synced {
            return Ok(());
        }
        if self.written != self.expected {
            return Err(FsError::SizeMismatch {
                expected: self.expected,
                got: self.written,
            });
        }
        self.resumable = false;
        if let Some(wanted) = self.meta {
            meta::apply(&self.file, wanted)
                .map_err(|e| self.err("set time and mode of", e.into()))?;
        }
        self.file.sync_all().map_err(|e| self.err("fsync", e))?;
        self.synced = true;
        Ok(())
    }

    /// Everything of a commit but the directory's fsync.
    fn place(&mut self) -> Result<(), FsError> {
        self.sync()?;
        let Target {
            parent,
            path,
            name_at,
        } = &self.target;
        let name = &path[*name_at..];
        let flags = if self.overwrite {
            RenameFlags::empty()
        } else {
            RenameFlags::NOREPLACE
        };
        let _names = self.root.names_lock();
        let exists = walk::check_target(&self.root, parent, name, path, self.overwrite)?;
        if !exists {
            self.root.refuse_lookalike(parent, name, path)?;
        }
        rustix::fs::renameat_with(&*self.root.fd, &self.tmp, parent, name, flags).map_err(|e| {
            match e {
                Errno::EXIST => FsError::Exists(path.clone()),
                Errno::XDEV => at_err(
                    "move the staged file across file systems (files are staged in the root) to",
                    &self.root.dir,
                    path,
                    e,
                ),
                e => at_err("move into", &self.root.dir, path, e),
            }
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // A resumable partial with bytes is kept for a later transfer; its
        // lock goes when `file` closes, after this removal (if any).
        let kept = self.kept_if_dropped();
        if !self.committed && !kept {
            // Best effort: the error path has already been reported.
            let _ = rustix::fs::unlinkat(&*self.root.fd, &self.tmp, AtFlags::empty());
        } else if !self.committed {
            // A kept partial holds its bytes, not the space reserved for
            // the rest of the file: truncating to its length gives back
            // the blocks `reserve` allocated past it (best effort).
            let _ = self.file.set_len(self.written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    /// A staged file whose writes hit `ENOSPC`: `/dev/full` stands in for
    /// the temporary file (its name in the root does not exist, so the
    /// removal on drop does nothing).
    fn staged_on_dev_full(expected: u64) -> (tempfile::TempDir, Staged) {
        let tmp = tempfile::TempDir::new().unwrap();
        let root = ReceiveRoot::open_or_create(tmp.path()).unwrap();
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let target = Target {
            parent: rustix::fs::open(
                tmp.path(),
                rustix::fs::OFlags::RDONLY,
                rustix::fs::Mode::empty(),
            )
            .unwrap(),
            path: "f".into(),
            name_at: 0,
        };
        let staged = Staged::new(&root, full, "absent".into(), target, expected, false, None);
        (tmp, staged)
    }

    #[test]
    fn a_write_into_a_full_disk_is_disk_full_with_what_is_left() {
        let (_tmp, mut staged) = staged_on_dev_full(10);
        let err = staged.write_all(b"abc").unwrap_err();
        assert!(
            matches!(err, FsError::DiskFull { needed: 10, .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("disk full"), "{err}");
        assert_eq!(staged.written(), 0);
    }
}
