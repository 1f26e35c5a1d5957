//! Files that decide whom to trust: the server's authorized_keys and the
//! client's config. As with OpenSSH's StrictModes, one is read only when
//! it belongs to this user (or root) and no one else may write it:
//! whoever could write it could let their own key in, or point an alias
//! at their own server.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::file::read_regular;
use super::KeyError;

/// Whether a file with owner `uid` and mode `mode` may decide trust for
/// the user `euid`: owned by `euid` or root, not writable by group or
/// others.
pub fn owner_and_mode_ok(uid: u32, mode: u32, euid: u32) -> bool {
    (uid == euid || uid == 0) && mode & 0o022 == 0
}

/// Reads the text of the trust file at `path`, of at most `max_len` bytes.
///
/// # Errors
/// `Io` when it cannot be opened or read (a missing file included: the
/// caller decides what that means); `Malformed` when it is not a regular
/// file (a FIFO is refused without blocking), is longer than `max_len`
/// bytes or is not UTF-8; `BadOwner` when
/// [`owner_and_mode_ok`] says no for this process's effective user.
pub fn read(path: &Path, max_len: u64) -> Result<String, KeyError> {
    let (bytes, meta) = read_regular(path, max_len)?;
    if !owner_and_mode_ok(meta.uid(), meta.mode(), rustix::process::geteuid().as_raw()) {
        return Err(KeyError::BadOwner {
            path: path.to_path_buf(),
            uid: meta.uid(),
            mode: meta.mode() & 0o777,
        });
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn owner_or_root_and_no_one_else_writing() {
        assert!(owner_and_mode_ok(1000, 0o100600, 1000));
        assert!(owner_and_mode_ok(1000, 0o100644, 1000));
        assert!(owner_and_mode_ok(0, 0o100644, 1000), "root's is fine");
        for (uid, mode) in [(1000, 0o100664), (1000, 0o100646), (1001, 0o100600)] {
            assert!(!owner_and_mode_ok(uid, mode, 1000), "{uid} {mode:o}");
        }
    }

    #[test]
    fn group_writable_a_directory_or_not_utf8_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        let e = read(&path, 10).unwrap_err().to_string();
        assert!(e.contains("bad owner or permissions"), "{e}");
        assert!(e.contains("mode 620"), "{e}");
        assert!(e.contains("chmod go-w"), "{e}");
        let e = read(dir.path(), 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = read(&path, 10).unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
    }
}
