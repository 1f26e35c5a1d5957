//! A file being received: written to a temporary file, fsynced, then moved
//! into place atomically so a reader never sees a partial file under its
//! final name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

use super::root::check_target;
use super::{io_err, FsError};

/// A temporary file being written for one received name.
///
/// Created by [`ReceiveRoot::begin`](super::ReceiveRoot::begin). Dropping it
/// without a successful [`commit`](Staged::commit) removes the temporary file.
#[derive(Debug)]
pub struct Staged {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    name: String,
    expected: u64,
    written: u64,
    overwrite: bool,
    committed: bool,
}

impl Staged {
    pub(super) fn new(
        file: File,
        tmp: PathBuf,
        target: PathBuf,
        name: &str,
        expected: u64,
        overwrite: bool,
    ) -> Self {
        Self {
            file,
            tmp,
            target,
            name: name.to_owned(),
            expected,
            written: 0,
            overwrite,
            committed: false,
        }
    }

    /// A second handle to the temporary file, so another thread can push
    /// written data to disk (`sync_data`) while writing goes on; the final
    /// fsync in [`commit`](Staged::commit) then has little left to do.
    ///
    /// # Errors
    /// [`FsError::Io`] when the descriptor cannot be duplicated.
    pub fn writeback_handle(&self) -> Result<File, FsError> {
        self.file
            .try_clone()
            .map_err(io_err("duplicate handle of", &self.tmp))
    }

    /// Appends `data` to the temporary file and counts its bytes.
    ///
    /// # Errors
    /// [`FsError::SizeMismatch`] (nothing written) when `data` would take the
    /// file past its announced size, so a peer cannot fill the disk beyond
    /// what it announced; [`FsError::Io`] when the write fails.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), FsError> {
        let got = self.written.saturating_add(data.len() as u64);
        if got > self.expected {
            return Err(FsError::SizeMismatch {
                expected: self.expected,
                got,
            });
        }
        self.file
            .write_all(data)
            .map_err(io_err("write", &self.tmp))?;
        self.written = got;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Finishes the file: checks the byte count, fsyncs the file, moves it to
    /// its final name, fsyncs the directory, and returns the final path.
    ///
    /// Without `overwrite` the move is a hard link (which fails if the name
    /// appeared meanwhile) followed by removing the temporary name, so an
    /// existing file is never replaced; this needs a file system with hard
    /// links. With `overwrite` the target is checked again and then replaced
    /// by `rename`, which replaces a symlink rather than following it.
    ///
    /// # Errors
    /// [`FsError::SizeMismatch`] when fewer bytes were written than announced;
    /// [`FsError::Exists`] when the name appeared and `overwrite` is false;
    /// [`FsError::NotRegular`] when the name became a symlink, directory or
    /// special file; [`FsError::Io`] when fsync, link, rename or remove fails.
    /// On every error the temporary file is removed.
    pub fn commit(mut self) -> Result<PathBuf, FsError> {
        let result = self.finish();
        // On success the temporary name is gone; on error `Drop` removes it.
        self.committed = result.is_ok();
        result.map(|()| self.target.clone())
    }

    fn finish(&mut self) -> Result<(), FsError> {
        if self.written != self.expected {
            return Err(FsError::SizeMismatch {
                expected: self.expected,
                got: self.written,
            });
        }
        self.file.sync_all().map_err(io_err("fsync", &self.tmp))?;
        if self.overwrite {
            check_target(&self.target, &self.name, true)?;
            fs::rename(&self.tmp, &self.target).map_err(io_err("rename into", &self.target))?;
        } else {
            fs::hard_link(&self.tmp, &self.target).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    FsError::Exists(self.name.clone())
                } else {
                    io_err("link into", &self.target)(e)
                }
            })?;
            fs::remove_file(&self.tmp).map_err(io_err("remove temporary file", &self.tmp))?;
        }
        let dir = self.target.parent().unwrap_or(&self.target);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", dir))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the error path has already been reported.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
