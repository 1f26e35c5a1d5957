//! Directories made in a receive root, and the mode and modification time
//! applied to received files and directories.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
use sft::fs::{FsError, Meta, ReceiveRoot};
use tempfile::TempDir;

fn root() -> (TempDir, ReceiveRoot) {
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("outside")).unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    (tmp, root)
}

/// Mode bits and mtime of `path`, not following a symlink.
fn mode_and_mtime(path: &Path) -> (u32, i64) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.mtime())
}

fn receive(root: &ReceiveRoot, path: &str, data: &[u8], meta: Option<Meta>) -> Result<(), FsError> {
    let mut staged = root.begin(path, data.len() as u64, false, meta)?;
    staged.write_all(data)?;
    staged.commit().map(|_| ())
}

/// Runs `f` on a thread of its own without the capabilities that let root
/// ignore permission bits, so a mode such as 0555 binds as it does for any
/// owner (the tests may run as root). Capabilities belong to a thread on
/// Linux: the rest of the process keeps its own.
fn without_dac_override<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut caps = capabilities(None).unwrap();
            caps.effective -= CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
            set_capabilities(None, caps).unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

#[test]
fn make_dir_creates_the_last_component_0700_and_accepts_an_existing_directory() {
    let (_tmp, root) = root();
    root.make_dir("a", None).unwrap();
    root.make_dir("a/b", None).unwrap();
    let (mode, _) = mode_and_mtime(&root.path().join("a/b"));
    assert_eq!(mode, 0o700);
    fs::write(root.path().join("a/b/kept"), b"k").unwrap();
    fs::set_permissions(root.path().join("a/b"), fs::Permissions::from_mode(0o750)).unwrap();
    // Again: fine, and neither emptied nor changed without metadata.
    root.make_dir("a/b", None).unwrap();
    assert_eq!(mode_and_mtime(&root.path().join("a/b")).0, 0o750);
    assert!(root.path().join("a/b/kept").is_file());

    let err = root.make_dir("x/y", None).unwrap_err();
    assert!(
        matches!(&err, FsError::Io { source, .. } if source.kind() == ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(!root.path().join("x").exists());
}

#[test]
fn make_dir_refuses_an_existing_file_or_symlink() {
    let (tmp, root) = root();
    let outside = tmp.path().join("outside");
    fs::write(root.path().join("file"), b"f").unwrap();
    symlink(&outside, root.path().join("out")).unwrap();
    fs::create_dir(root.path().join("real")).unwrap();
    symlink("real", root.path().join("in")).unwrap();
    let meta = Some(Meta {
        mode: 0o777,
        mtime: 1_000_000,
    });
    for path in ["file", "out", "in"] {
        for m in [None, meta] {
            let err = root.make_dir(path, m).unwrap_err();
            assert!(
                matches!(&err, FsError::NotDir(p) if p == path),
                "{path}: {err:?}"
            );
        }
    }
    for path in ["out/x", "in/x"] {
        let err = root.make_dir(path, None).unwrap_err();
        assert!(matches!(&err, FsError::NotDir(_)), "{path}: {err:?}");
    }
    assert!(fs::read_dir(&outside).unwrap().next().is_none());
    assert!(fs::read_dir(root.path().join("real"))
        .unwrap()
        .next()
        .is_none());
    assert_ne!(mode_and_mtime(&outside).0, 0o777);
    assert_ne!(mode_and_mtime(&root.path().join("file")).1, 1_000_000);
}

#[test]
fn make_dir_applies_mtime_and_mode_to_new_and_existing_directories() {
    let (_tmp, root) = root();
    let meta = Meta {
        mode: 0o751,
        mtime: 1_234_567_890,
    };
    root.make_dir("new", Some(meta)).unwrap();
    assert_eq!(
        mode_and_mtime(&root.path().join("new")),
        (0o751, 1_234_567_890)
    );
    fs::create_dir(root.path().join("old")).unwrap();
    let before = Meta {
        mode: 0o7755,
        mtime: -86_400,
    };
    root.make_dir("old", Some(before)).unwrap();
    // Set-user-ID, set-group-ID and sticky bits are never applied.
    assert_eq!(mode_and_mtime(&root.path().join("old")), (0o755, -86_400));
}

#[test]
fn a_read_only_directory_mode_must_come_after_its_files() {
    let (_tmp, root) = root();
    let read_only = Meta {
        mode: 0o555,
        mtime: 1_500_000_000,
    };
    without_dac_override(|| {
        // Mode first: the directory can no longer be filled.
        root.make_dir("early", Some(read_only)).unwrap();
        let err = receive(&root, "early/f", b"data", None).unwrap_err();
        assert!(
            matches!(&err, FsError::Io { source, .. } if source.kind() == ErrorKind::PermissionDenied),
            "{err:?}"
        );
        // The order a sender uses: directory, its files, then its metadata.
        root.make_dir("late", None).unwrap();
        receive(&root, "late/f", b"data", None).unwrap();
        root.make_dir("late", Some(read_only)).unwrap();
    });
    assert!(fs::read_dir(root.path().join("early"))
        .unwrap()
        .next()
        .is_none());
    assert_eq!(fs::read(root.path().join("late/f")).unwrap(), b"data");
    assert_eq!(
        mode_and_mtime(&root.path().join("late")),
        (0o555, 1_500_000_000)
    );
    // Nothing was left staged in the root by the refused file.
    let mut top: Vec<_> = fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["early", "late"]);
    // So that an unprivileged run can remove it.
    fs::set_permissions(root.path().join("late"), fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_received_file_gets_its_mode_and_mtime_but_never_setuid() {
    let (_tmp, root) = root();
    let cases = [
        ("exec", 0o755, 1_600_000_000),
        ("setuid", 0o4755, 0),
        ("sticky-setgid", 0o3700, -1),
        ("none", 0o000, 42),
    ];
    for (name, mode, mtime) in cases {
        receive(&root, name, b"x", Some(Meta { mode, mtime })).unwrap();
        let got = mode_and_mtime(&root.path().join(name));
        assert_eq!(got, (mode & 0o777, mtime), "{name}");
    }
    // Without metadata: 0600, and a current modification time.
    receive(&root, "plain", b"x", None).unwrap();
    let (mode, mtime) = mode_and_mtime(&root.path().join("plain"));
    assert_eq!(mode, 0o600);
    assert!(mtime > 1_600_000_000);
    // The source side reports the mode.
    assert_eq!(root.open_source("exec").unwrap().mode, 0o755);
}
