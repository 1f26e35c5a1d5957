//! Disk space: an upload that cannot fit is refused before anything is
//! written, and one that fits has its space reserved up front without
//! changing the file's visible length. Checked on the temporary directory's
//! file system and on tmpfs (`/dev/shm`) when the machine has it.
//!
//! The exact boundary (`needed == available` fits, one more byte does not)
//! is a unit test beside `begin`: here other processes may change the free
//! space at any moment, so these tests use sizes no change can cross.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sft::fs::{FsError, ReceiveRoot, TEMP_PREFIX};
use tempfile::TempDir;

/// Roots to test on: one in the default temporary directory, and one on
/// `/dev/shm` if it is a writable directory.
fn roots() -> Vec<(TempDir, ReceiveRoot)> {
    let mut dirs = vec![TempDir::new().unwrap()];
    if let Ok(shm) = TempDir::new_in("/dev/shm") {
        dirs.push(shm);
    }
    dirs.into_iter()
        .map(|tmp| {
            let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
            (tmp, root)
        })
        .collect()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .collect()
}

/// The size of the whole file system holding `dir`, in bytes: the free
/// space can never exceed it.
fn fs_size(dir: &Path) -> u64 {
    let st = rustix::fs::statvfs(dir).unwrap();
    st.f_blocks.saturating_mul(st.f_frsize)
}

#[test]
fn an_upload_larger_than_the_file_system_is_refused_as_disk_full() {
    for (_tmp, root) in roots() {
        let too_big = fs_size(root.path()) + 1;
        let err = root.begin("big", too_big, false, None).unwrap_err();
        match err {
            FsError::DiskFull { needed, available } => {
                assert_eq!(needed, too_big);
                assert!(available < too_big, "{available}");
            }
            ref other => panic!("{}: {other:?}", root.path().display()),
        }
        assert!(err.to_string().starts_with("disk full"), "{err}");
        assert!(temp_files(root.path()).is_empty());
    }
}

#[test]
fn an_upload_that_fits_is_reserved_and_keeps_its_written_length() {
    const SIZE: u64 = 1 << 20;
    for (_tmp, root) in roots() {
        assert!(root.available_space().unwrap() > 4 * SIZE);
        let mut staged = root.begin("fits", SIZE, false, None).unwrap();
        let temps = temp_files(root.path());
        assert_eq!(temps.len(), 1);
        let temp = root.path().join(&temps[0]);
        let meta = fs::metadata(&temp).unwrap();
        // Reserved on disk, yet zero bytes long.
        assert!(meta.blocks() * 512 >= SIZE, "{} blocks", meta.blocks());
        assert_eq!(meta.len(), 0);

        staged.write_all(&[7; 1000]).unwrap();
        assert_eq!(fs::metadata(&temp).unwrap().len(), 1000);
        staged.write_all(&vec![7; SIZE as usize - 1000]).unwrap();
        let path = staged.commit().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), SIZE);
        assert!(temp_files(root.path()).is_empty());
    }
}

#[test]
fn an_empty_upload_needs_no_reservation() {
    for (_tmp, root) in roots() {
        root.begin("empty", 0, false, None)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(fs::metadata(root.path().join("empty")).unwrap().len(), 0);
    }
}
