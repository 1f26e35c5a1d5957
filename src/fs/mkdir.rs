//! Creating directories inside a receive root, and applying their
//! metadata.

use rustix::fs::{FileType, Mode};
use rustix::io::Errno;

use super::root::ReceiveRoot;
use super::{at_err, io_err, meta, walk, FsError, Meta};

/// Mode of a directory this module creates (owner only), unless metadata
/// says otherwise.
const DIR_MODE: u32 = 0o700;

impl ReceiveRoot {
    /// Makes the directory `path` ("a/b/dir", relative to the root): the
    /// last component is created (mode 0700) in its parent, which must
    /// exist and is walked to from the root without following any symlink.
    /// A directory that already exists is fine. With `meta`, the
    /// directory's modification time and then its mode (masked to 0o777)
    /// are set through a handle opened without following a symlink, also
    /// when it already existed; a sender gives it after the directory's
    /// files, since a mode such as 0555 forbids adding any.
    ///
    /// # Errors
    /// [`FsError::BadName`] for a path that is not plain names joined by
    /// `/`; [`FsError::NotDir`] when a directory of the path, or `path`
    /// itself, exists as a symlink or not a directory; [`FsError::Io`] of
    /// kind `NotFound` when the parent is missing;
    /// [`FsError::LookAlike`] when `path` does not exist but a different
    /// name in its parent has the same NFC form; [`FsError::Io`] when
    /// inspecting, creating, opening, setting the metadata or the fsync
    /// fails.
    pub fn make_dir(&self, path: &str, meta: Option<Meta>) -> Result<(), FsError> {
        let (dir, name) = walk::split(path)?;
        let parent = walk::open_dir(self, dir)?;
        let mut kind = walk::kind_of(self, &parent, name, path)?;
        if kind.is_none() {
            let _names = self.names_lock();
            self.refuse_lookalike(&parent, name, path)?;
            kind = match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(DIR_MODE)) {
                Ok(()) => {
                    rustix::fs::fsync(&parent)
                        .map_err(|e| io_err("fsync directory", &self.dir.join(dir))(e.into()))?;
                    Some(FileType::Directory)
                }
                // Made by someone else meanwhile: fine if a directory.
                Err(Errno::EXIST) => walk::kind_of(self, &parent, name, path)?,
                Err(e) => return Err(at_err("create directory", &self.dir, path, e)),
            };
        }
        if kind != Some(FileType::Directory) {
            return Err(FsError::NotDir(path.to_owned()));
        }
        if let Some(wanted) = meta {
            let fd = walk::open_child_dir(self, &parent, name, path)?;
            meta::apply(&fd, wanted)
                .map_err(|e| at_err("set time and mode of", &self.dir, path, e))?;
        }
        Ok(())
    }
}
