//! Receive root: staging, overwrite policy, symlink refusal, listing, sources.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use sft::fs::{open_local_source, Entry, FsError, Kind, ReceiveRoot, TEMP_PREFIX};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

/// A fresh root inside a temporary directory (the directory is kept alive).
fn root() -> (TempDir, ReceiveRoot) {
    let tmp = TempDir::new().unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    (tmp, root)
}

fn temp_files(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .collect()
}

fn receive(root: &ReceiveRoot, name: &str, data: &[u8], overwrite: bool) -> Result<(), FsError> {
    let mut staged = root.begin(name, data.len() as u64, overwrite, None)?;
    staged.write_all(data)?;
    staged.commit().map(|_| ())
}

#[test]
fn open_or_create_makes_missing_root_0700_and_refuses_a_file() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("a").join("b");
    let root = ReceiveRoot::open_or_create(&dir).unwrap();
    let meta = fs::metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert_eq!(root.path(), dir.canonicalize().unwrap());
    // Opening an existing root again works and gives the same path.
    let again = ReceiveRoot::open_or_create(&dir).unwrap();
    assert_eq!(again.path(), root.path());

    let file = tmp.path().join("plain");
    fs::write(&file, b"x").unwrap();
    let err = ReceiveRoot::open_or_create(&file).unwrap_err();
    assert!(
        matches!(&err, FsError::NotADirectory(p) if p == &file),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a directory"));
}

#[test]
fn commit_writes_exact_bytes_and_leaves_no_temp() {
    let (_tmp, root) = root();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut staged = root
        .begin("report.pdf", data.len() as u64, false, None)
        .unwrap();
    // While staging, only the temp file exists, and the final name does not.
    assert_eq!(temp_files(root.path()).len(), 1);
    assert!(!root.path().join("report.pdf").exists());
    for chunk in data.chunks(4096) {
        staged.write_all(chunk).unwrap();
    }
    assert_eq!(staged.written(), data.len() as u64);
    let path = staged.commit().unwrap();
    assert_eq!(path, root.path().join("report.pdf"));
    assert_eq!(fs::read(&path).unwrap(), data);
    assert_eq!(names(root.path()), ["report.pdf"]);
}

#[test]
fn empty_file_commits() {
    let (_tmp, root) = root();
    receive(&root, "empty", b"", false).unwrap();
    assert_eq!(fs::read(root.path().join("empty")).unwrap(), b"");
    assert_eq!(names(root.path()), ["empty"]);
}

#[test]
fn drop_without_commit_leaves_nothing() {
    let (_tmp, root) = root();
    let mut staged = root.begin("f", 10, false, None).unwrap();
    staged.write_all(b"12345").unwrap();
    assert_eq!(temp_files(root.path()).len(), 1);
    drop(staged);
    assert!(names(root.path()).is_empty());
}

#[test]
fn short_file_fails_commit_and_leaves_nothing() {
    let (_tmp, root) = root();
    let mut staged = root.begin("f", 10, false, None).unwrap();
    staged.write_all(b"12345").unwrap();
    let err = staged.commit().unwrap_err();
    assert!(
        matches!(
            err,
            FsError::SizeMismatch {
                expected: 10,
                got: 5
            }
        ),
        "{err:?}"
    );
    assert!(names(root.path()).is_empty());
}

#[test]
fn writing_past_announced_size_is_refused() {
    let (_tmp, root) = root();
    let mut staged = root.begin("f", 4, false, None).unwrap();
    staged.write_all(b"123").unwrap();
    let err = staged.write_all(b"45").unwrap_err();
    assert!(
        matches!(
            err,
            FsError::SizeMismatch {
                expected: 4,
                got: 5
            }
        ),
        "{err:?}"
    );
    // The refused bytes were not counted (or written).
    assert_eq!(staged.written(), 3);
    staged.write_all(b"4").unwrap();
    staged.commit().unwrap();
    assert_eq!(fs::read(root.path().join("f")).unwrap(), b"1234");
}

#[test]
fn existing_file_refused_without_overwrite_replaced_with_it() {
    let (_tmp, root) = root();
    let target = root.path().join("f");
    fs::write(&target, b"old").unwrap();

    let err = root.begin("f", 3, false, None).unwrap_err();
    assert!(matches!(&err, FsError::Exists(n) if n == "f"), "{err:?}");
    assert!(err.to_string().contains("already exists"));
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert_eq!(names(root.path()), ["f"]);

    receive(&root, "f", b"new!", true).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"new!");
    assert_eq!(names(root.path()), ["f"]);
}

#[test]
fn target_created_during_transfer_is_not_replaced_without_overwrite() {
    let (_tmp, root) = root();
    let target = root.path().join("f");
    let mut staged = root.begin("f", 3, false, None).unwrap();
    staged.write_all(b"new").unwrap();
    fs::write(&target, b"other writer").unwrap();
    let err = staged.commit().unwrap_err();
    assert!(matches!(&err, FsError::Exists(n) if n == "f"), "{err:?}");
    assert_eq!(fs::read(&target).unwrap(), b"other writer");
    assert_eq!(names(root.path()), ["f"]);
}

#[test]
fn symlink_target_refused_in_both_modes() {
    let (tmp, root) = root();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"precious").unwrap();
    let link = root.path().join("f");
    symlink(&outside, &link).unwrap();

    for overwrite in [false, true] {
        let err = root.begin("f", 4, overwrite, None).unwrap_err();
        assert!(
            matches!(&err, FsError::NotRegular(n) if n == "f"),
            "{err:?}"
        );
        assert!(err.to_string().contains("symlink"));
    }
    assert_eq!(fs::read(&outside).unwrap(), b"precious");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(names(root.path()), ["f"]);
}

#[test]
fn symlink_planted_during_transfer_is_never_followed() {
    for overwrite in [false, true] {
        let (tmp, root) = root();
        let outside = tmp.path().join("outside");
        fs::write(&outside, b"precious").unwrap();
        let mut staged = root.begin("f", 3, overwrite, None).unwrap();
        staged.write_all(b"new").unwrap();
        symlink(&outside, root.path().join("f")).unwrap();
        let err = staged.commit().unwrap_err();
        assert!(
            matches!(&err, FsError::NotRegular(n) if n == "f"),
            "{err:?}"
        );
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
        assert_eq!(names(root.path()), ["f"]);
    }
}

#[test]
fn directory_target_refused() {
    let (_tmp, root) = root();
    fs::create_dir(root.path().join("d")).unwrap();
    for overwrite in [false, true] {
        let err = root.begin("d", 1, overwrite, None).unwrap_err();
        assert!(
            matches!(&err, FsError::NotRegular(n) if n == "d"),
            "{err:?}"
        );
    }
    assert!(root.path().join("d").is_dir());
    assert_eq!(names(root.path()), ["d"]);
}

#[test]
fn list_shows_files_and_directories_sorted_with_size_mtime_and_mode() {
    let (tmp, root) = root();
    fs::write(root.path().join("b.txt"), b"hello").unwrap();
    fs::write(root.path().join("a.bin"), vec![0u8; 1234]).unwrap();
    let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    fs::File::options()
        .write(true)
        .open(root.path().join("a.bin"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::set_permissions(root.path().join("a.bin"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(root.path().join("b.txt"), fs::Permissions::from_mode(0o604)).unwrap();
    fs::create_dir(root.path().join("dir")).unwrap();
    fs::write(root.path().join("dir").join("nested"), b"n").unwrap();
    fs::set_permissions(root.path().join("dir"), fs::Permissions::from_mode(0o751)).unwrap();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"outside").unwrap();
    symlink(&outside, root.path().join("link")).unwrap();
    symlink(root.path().join("b.txt"), root.path().join("link-in")).unwrap();
    let staged = root.begin("partial", 10, false, None).unwrap();

    let listed = root.list("").unwrap();
    assert_eq!(
        listed,
        [
            Entry {
                name: "a.bin".into(),
                kind: Kind::File,
                size: 1234,
                mtime: 1_600_000_000,
                mode: 0o640,
            },
            Entry {
                name: "b.txt".into(),
                kind: Kind::File,
                size: 5,
                mtime: listed[1].mtime,
                mode: 0o604,
            },
            Entry {
                name: "dir".into(),
                kind: Kind::Dir,
                size: 0,
                mtime: listed[2].mtime,
                mode: 0o751,
            },
        ]
    );
    assert!(listed[1].mtime > 1_600_000_000);
    drop(staged);
}

#[test]
fn open_source_reads_regular_file() {
    let (_tmp, root) = root();
    fs::write(root.path().join("f"), b"content").unwrap();
    let src = root.open_source("f").unwrap();
    assert_eq!(src.size, 7);
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut &src.file, &mut buf).unwrap();
    assert_eq!(buf, "content");
}

#[test]
fn open_source_refuses_symlink_directory_and_fifo() {
    let (tmp, root) = root();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"secret").unwrap();
    symlink(&outside, root.path().join("link")).unwrap();
    fs::create_dir(root.path().join("dir")).unwrap();
    let fifo = root.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());

    for name in ["link", "dir", "fifo"] {
        // A FIFO must be refused without waiting for a writer.
        let err = root.open_source(name).unwrap_err();
        assert!(
            matches!(&err, FsError::NotRegular(n) if n == name),
            "{name}: {err:?}"
        );
    }
    let err = root.open_source("missing").unwrap_err();
    assert!(matches!(&err, FsError::Io { .. }), "{err:?}");
}

#[test]
fn temp_file_is_0600_with_random_hex_name() {
    let (_tmp, root) = root();
    let first = root.begin("f", 1, false, None).unwrap();
    let second = root.begin("g", 1, false, None).unwrap();
    let temps = temp_files(root.path());
    assert_eq!(temps.len(), 2, "{temps:?}");
    for temp in &temps {
        let suffix = &temp[TEMP_PREFIX.len()..];
        assert_eq!(suffix.len(), 16, "{temp}");
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{temp}");
        let mode = fs::metadata(root.path().join(temp))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{temp}: {mode:o}");
    }
    drop((first, second));
}

#[test]
fn bad_names_are_refused() {
    let (tmp, root) = root();
    let bad = [
        "../x",
        "a/../x",
        "a/./x",
        "a//x",
        "a/",
        "/x",
        "/etc/passwd",
        ".",
        "..",
        "",
        "a\0b",
        ".sft-part-0123456789abcdef",
    ];
    for name in bad {
        for overwrite in [false, true] {
            let err = root.begin(name, 1, overwrite, None).unwrap_err();
            assert!(
                matches!(&err, FsError::BadName(n) if n == name),
                "{name:?}: {err:?}"
            );
        }
        let err = root.open_source(name).unwrap_err();
        assert!(
            matches!(&err, FsError::BadName(n) if n == name),
            "{name:?}: {err:?}"
        );
    }
    assert!(names(root.path()).is_empty());
    assert_eq!(names(tmp.path()), ["recv"]);
}

#[test]
fn local_source_follows_user_symlink_but_needs_regular_file() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"abc").unwrap();
    let link = tmp.path().join("link");
    symlink(&file, &link).unwrap();
    let src = open_local_source(&link).unwrap();
    assert_eq!(src.size, 3);

    let err = open_local_source(tmp.path()).unwrap_err();
    assert!(matches!(err, FsError::NotRegular(_)), "{err:?}");
    let err = open_local_source(&tmp.path().join("missing")).unwrap_err();
    assert!(matches!(err, FsError::Io { op: "open", .. }), "{err:?}");
}
