//! Paths inside a receive root: files received into, read from and listed
//! in subdirectories, walked from the root's handle without ever following
//! a symlink.

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;

use sft::fs::{FsError, Kind, ReceiveRoot, TEMP_PREFIX};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

/// A fresh root `recv` and an empty directory `outside` beside it.
fn root() -> (TempDir, ReceiveRoot) {
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("outside")).unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    (tmp, root)
}

fn receive(root: &ReceiveRoot, path: &str, data: &[u8]) -> Result<(), FsError> {
    let mut staged = root.begin(path, data.len() as u64, false, None)?;
    staged.write_all(data)?;
    staged.commit().map(|_| ())
}

/// Whether `err` is an I/O error of kind `NotFound`.
fn is_not_found(err: &FsError) -> bool {
    matches!(err, FsError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
}

#[test]
fn a_file_is_staged_in_the_root_and_committed_into_its_directory() {
    let (_tmp, root) = root();
    fs::create_dir_all(root.path().join("a/b")).unwrap();
    let mut staged = root.begin("a/b/f.txt", 5, false, None).unwrap();
    staged.write_all(b"hello").unwrap();
    // While staging, the temporary file is in the root, not in a/b.
    let temps: Vec<_> = names(root.path())
        .into_iter()
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .collect();
    assert_eq!(temps.len(), 1);
    assert!(names(&root.path().join("a/b")).is_empty());
    let path = staged.commit().unwrap();
    assert_eq!(path, root.path().join("a/b/f.txt"));
    assert_eq!(fs::read(&path).unwrap(), b"hello");
    assert_eq!(names(root.path()), ["a"]);
    assert_eq!(names(&root.path().join("a/b")), ["f.txt"]);
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let err = root.begin("a/b/f.txt", 1, false, None).unwrap_err();
    assert!(
        matches!(&err, FsError::Exists(p) if p == "a/b/f.txt"),
        "{err:?}"
    );
    let mut src = root.open_source("a/b/f.txt").unwrap();
    let mut read = String::new();
    src.file.read_to_string(&mut read).unwrap();
    assert_eq!((read.as_str(), src.size, src.mode), ("hello", 5, 0o600));
}

#[test]
fn a_missing_parent_is_not_found_and_nothing_is_created() {
    let (_tmp, root) = root();
    fs::create_dir(root.path().join("a")).unwrap();
    for path in ["missing/f", "a/missing/f", "a/missing/deeper/f"] {
        let err = root.begin(path, 1, false, None).unwrap_err();
        assert!(is_not_found(&err), "{path}: {err:?}");
        let err = root.open_source(path).unwrap_err();
        assert!(is_not_found(&err), "{path}: {err:?}");
    }
    let err = root.open_source("a/absent").unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    assert_eq!(names(root.path()), ["a"]);
    assert!(names(&root.path().join("a")).is_empty());
}

#[test]
fn a_symlinked_or_file_parent_is_refused_inside_or_outside_the_root() {
    let (tmp, root) = root();
    let outside = tmp.path().join("outside");
    fs::write(outside.join("secret"), b"s").unwrap();
    fs::create_dir(root.path().join("real")).unwrap();
    fs::write(root.path().join("real/inner"), b"i").unwrap();
    fs::write(root.path().join("plain"), b"p").unwrap();
    symlink(&outside, root.path().join("out")).unwrap();
    symlink("real", root.path().join("in")).unwrap();
    fs::create_dir(root.path().join("real/deep")).unwrap();
    symlink(&outside, root.path().join("real/deep/out")).unwrap();

    for (path, walked) in [
        ("out/f", "out"),
        ("in/f", "in"),
        ("plain/f", "plain"),
        ("real/deep/out/f", "real/deep/out"),
    ] {
        let err = root.begin(path, 1, false, None).unwrap_err();
        assert!(
            matches!(&err, FsError::NotDir(p) if p == walked),
            "{path}: {err:?}"
        );
        assert!(err.to_string().contains("symlink"), "{err}");
        let err = root.begin(path, 1, true, None).unwrap_err();
        assert!(matches!(&err, FsError::NotDir(_)), "{path}: {err:?}");
        let err = root.make_dir(path, None).unwrap_err();
        assert!(matches!(&err, FsError::NotDir(_)), "{path}: {err:?}");
        let err = root.lister(path.trim_end_matches("/f")).unwrap_err();
        assert!(
            matches!(&err, FsError::NotDir(p) if p == walked),
            "{path}: {err:?}"
        );
    }
    for path in ["out/secret", "in/inner", "real/deep/out/secret"] {
        let err = root.open_source(path).unwrap_err();
        assert!(matches!(&err, FsError::NotDir(_)), "{path}: {err:?}");
    }
    assert_eq!(names(&outside), ["secret"]);
    assert_eq!(names(&root.path().join("real")), ["deep", "inner"]);
    assert_eq!(names(&root.path().join("real/deep")), ["out"]);
}

#[test]
fn paths_with_dots_empty_components_or_a_leading_slash_are_refused() {
    let (tmp, root) = root();
    fs::create_dir(root.path().join("a")).unwrap();
    for path in [
        "",
        "/",
        "/a",
        "/a/f",
        "a/",
        "a//f",
        "./f",
        "a/./f",
        "../f",
        "a/../f",
        "a/..",
        ".",
        "..",
        "a/\0",
        "a/.sft-part-0123456789abcdef",
    ] {
        let bad = |r: Result<(), FsError>| {
            let err = r.unwrap_err();
            assert!(
                matches!(&err, FsError::BadName(p) if p == path),
                "{path:?}: {err:?}"
            );
        };
        bad(root.begin(path, 1, false, None).map(drop));
        bad(root.open_source(path).map(drop));
        bad(root.make_dir(path, None));
        if !path.is_empty() {
            bad(root.lister(path).map(drop));
        }
    }
    assert_eq!(names(root.path()), ["a"]);
    assert!(names(&root.path().join("a")).is_empty());
    assert_eq!(names(tmp.path()), ["outside", "recv"]);
}

#[test]
fn a_subdirectory_lists_its_files_and_directories_with_kind_and_mode() {
    let (tmp, root) = root();
    let sub = root.path().join("a/sub");
    fs::create_dir_all(sub.join("inner")).unwrap();
    fs::set_permissions(sub.join("inner"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::write(sub.join("f"), b"123").unwrap();
    fs::set_permissions(sub.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(sub.join(format!("{TEMP_PREFIX}0123456789abcdef")), b"x").unwrap();
    symlink(tmp.path().join("outside"), sub.join("link")).unwrap();
    symlink("f", sub.join("link-in")).unwrap();
    let made = Command::new("mkfifo")
        .arg(sub.join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());
    fs::write(root.path().join("top"), b"t").unwrap();

    let listed: Vec<_> = root
        .list("a/sub")
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind, e.size, e.mode))
        .collect();
    assert_eq!(
        listed,
        [
            ("f".to_owned(), Kind::File, 3, 0o644),
            ("inner".to_owned(), Kind::Dir, 0, 0o750),
        ]
    );
    assert!(root.list("a/sub/inner").unwrap().is_empty());
    let top: Vec<_> = root.list("").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(top, ["a", "top"]);
    let err = root.list("a/missing").unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    let err = root.list("top").unwrap_err();
    assert!(matches!(&err, FsError::NotDir(p) if p == "top"), "{err:?}");
}

#[test]
fn a_source_in_a_subdirectory_must_be_a_regular_file() {
    let (_tmp, root) = root();
    fs::create_dir_all(root.path().join("a/d")).unwrap();
    fs::write(root.path().join("a/f"), b"f").unwrap();
    symlink("f", root.path().join("a/link")).unwrap();
    for path in ["a/d", "a/link"] {
        let err = root.open_source(path).unwrap_err();
        assert!(
            matches!(&err, FsError::NotRegular(p) if p == path),
            "{path}: {err:?}"
        );
    }
    assert_eq!(root.open_source("a/f").unwrap().size, 1);
    assert!(receive(&root, "a/d/g", b"g").is_ok());
    assert_eq!(fs::read(root.path().join("a/d/g")).unwrap(), b"g");
}
