//! Opening a file found by walking a local tree (put -r): from the
//! argument directory down, never through a symlink, so a directory of the
//! tree swapped for a link after the walk cannot make sft read outside it.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use sft::fs::{open_tree_source, FsError};
use tempfile::TempDir;

#[test]
fn a_tree_file_opens_only_through_real_directories() {
    let tmp = TempDir::new().unwrap();
    let base = tmp.path().join("tree");
    let outside = tmp.path().join("private");
    fs::create_dir_all(base.join("real")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(base.join("real/file"), b"ok").unwrap();
    fs::write(outside.join("secret.txt"), b"secret").unwrap();
    // A directory of the tree replaced by a link to the outside, and a
    // file replaced by a link.
    symlink(&outside, base.join("swapped")).unwrap();
    symlink(outside.join("secret.txt"), base.join("real/link")).unwrap();

    let ok = open_tree_source(&base, Path::new("real/file")).unwrap();
    assert_eq!(ok.size, 2);
    for rel in ["swapped/secret.txt", "real/link"] {
        let err = open_tree_source(&base, Path::new(rel)).unwrap_err();
        assert!(matches!(err, FsError::NotRegular(_)), "{rel}: {err:?}");
    }
    // The argument itself is opened as named, even through a link.
    symlink(&base, tmp.path().join("alias")).unwrap();
    let via_alias = tmp.path().join("alias");
    assert!(open_tree_source(&via_alias, Path::new("real/file")).is_ok());
    let missing = open_tree_source(&base, Path::new("real/none")).unwrap_err();
    assert!(matches!(missing, FsError::Io { .. }), "{missing:?}");
}
