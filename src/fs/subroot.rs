//! Sub-roots: a directory inside a receive root, opened from the root's
//! handle and held as a receive root of its own, for a client key confined
//! to it (`root=DIR` in authorized_keys).

use std::sync::Arc;

use rustix::fs::Mode;
use rustix::io::Errno;

use super::root::ReceiveRoot;
use super::{at_err, walk, FsError};

/// Mode of a sub-root directory this module creates (owner only).
const SUB_ROOT_MODE: u32 = 0o700;

impl ReceiveRoot {
    /// Opens the directory `path` ("a/b", plain names, relative to this
    /// root) as a receive root of its own, creating each missing directory
    /// of it (mode 0700). It is walked to from this root's handle one
    /// directory at a time, never following a symlink, so nothing planted
    /// in the root can send it elsewhere; everything done through the
    /// sub-root then stays under the directory opened. Returns the sub-root
    /// and whether a directory was created.
    ///
    /// # Errors
    /// [`FsError::BadName`] for a path that is not plain names joined by
    /// `/`; [`FsError::NotDir`] when a component is a symlink or not a
    /// directory; [`FsError::Io`] when one cannot be created or opened.
    pub fn open_sub_root(&self, path: &str) -> Result<(ReceiveRoot, bool), FsError> {
        walk::check_path(path)?;
        let mut created = false;
        let mut fd = walk::open_dir(self, "")?;
        let mut end = 0;
        for comp in path.split('/') {
            end += comp.len();
            let shown = &path[..end];
            match rustix::fs::mkdirat(&fd, comp, Mode::from_raw_mode(SUB_ROOT_MODE)) {
                Ok(()) => created = true,
                Err(Errno::EXIST) => {}
                Err(e) => return Err(at_err("create directory", &self.dir, shown, e)),
            }
            fd = walk::open_child_dir(self, &fd, comp, shown)?;
            end += 1;
        }
        let sub = ReceiveRoot {
            fd: Arc::new(fd),
            dir: self.dir.join(path),
            names: self.names.clone(),
        };
        Ok((sub, created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, ReceiveRoot) {
        let dir = tempfile::TempDir::new().unwrap();
        let root = ReceiveRoot::open_or_create(&dir.path().join("root")).unwrap();
        (dir, root)
    }

    #[test]
    fn a_missing_sub_root_is_created_0700_and_then_found() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, root) = root();
        let (sub, created) = root.open_sub_root("exports/alice").unwrap();
        assert!(created);
        let meta = std::fs::metadata(root.path().join("exports/alice")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        sub.make_dir("inner", None).unwrap();
        assert!(root.path().join("exports/alice/inner").is_dir());
        let (_, created) = root.open_sub_root("exports/alice").unwrap();
        assert!(!created);
    }

    #[test]
    fn a_symlink_on_the_way_is_refused() {
        let (d, root) = root();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("link")).unwrap();
        for path in ["link", "link/alice"] {
            assert!(
                matches!(root.open_sub_root(path), Err(FsError::NotDir(_))),
                "{path}"
            );
        }
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    }

    #[test]
    fn a_path_that_is_not_plain_names_is_refused() {
        let (_d, root) = root();
        for path in ["../up", "/abs", "a/../b", ""] {
            assert!(root.open_sub_root(path).is_err(), "{path}");
        }
    }
}
