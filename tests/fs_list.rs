//! The streaming lister: every regular file and directory exactly once, in
//! directory order, with the same filters as the sorted listing.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::process::Command;

use sft::fs::{Kind, ReceiveRoot, TEMP_PREFIX};
use tempfile::TempDir;

fn root() -> (TempDir, ReceiveRoot) {
    let tmp = TempDir::new().unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    (tmp, root)
}

#[test]
fn two_hundred_thousand_files_are_each_listed_once() {
    const FILES: usize = 200_000;
    let (_tmp, root) = root();
    for i in 0..FILES {
        File::create(root.path().join(format!("f{i}"))).unwrap();
    }
    let mut seen = HashSet::with_capacity(FILES);
    for entry in root.lister("").unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.size, 0);
        assert!(seen.insert(entry.name.clone()), "{} twice", entry.name);
    }
    assert_eq!(seen.len(), FILES);
    assert!((0..FILES).all(|i| seen.contains(&format!("f{i}"))));
}

#[test]
fn the_lister_reports_regular_files_and_directories_only() {
    let (tmp, root) = root();
    let dir = root.path();
    fs::write(dir.join("plain"), b"12345").unwrap();
    fs::write(dir.join(format!("{TEMP_PREFIX}0123456789abcdef")), b"part").unwrap();
    fs::write(dir.join(OsStr::from_bytes(b"not-utf8-\xff")), b"x").unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    fs::write(dir.join("sub").join("nested"), b"n").unwrap();
    fs::write(tmp.path().join("outside"), b"o").unwrap();
    symlink(tmp.path().join("outside"), dir.join("link")).unwrap();
    let made = Command::new("mkfifo")
        .arg(dir.join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());

    let mut listed: Vec<_> = root.lister("").unwrap().map(Result::unwrap).collect();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let shown: Vec<_> = listed
        .iter()
        .map(|e| (e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(shown, [("plain", Kind::File, 5), ("sub", Kind::Dir, 0)]);
    assert_eq!(root.list("").unwrap(), listed);
}

#[test]
fn files_removed_while_listing_are_skipped_without_error() {
    let (_tmp, root) = root();
    for i in 0..10 {
        fs::write(root.path().join(format!("f{i}")), b"x").unwrap();
    }
    let mut lister = root.lister("").unwrap();
    // The first entry is read (with the next ones, into the lister's
    // buffer); then every file is removed.
    let first = lister.next().unwrap().unwrap();
    for i in 0..10 {
        fs::remove_file(root.path().join(format!("f{i}"))).unwrap();
    }
    assert!(first.name.starts_with('f'));
    let rest: Vec<_> = lister.collect();
    assert!(rest.is_empty(), "{rest:?}");
}

/// Each listing of a directory reads it from its start: a lister of the
/// root must not share a read position with the held root handle (a dup
/// would, and every listing after the first would come back empty).
#[test]
fn the_root_and_a_subdirectory_list_the_same_every_time() {
    let (dir, root) = root();
    fs::create_dir(dir.path().join("recv/sub")).unwrap();
    File::create(dir.path().join("recv/a")).unwrap();
    File::create(dir.path().join("recv/sub/b")).unwrap();
    for _ in 0..3 {
        let names: Vec<_> = root.list("").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "sub"]);
        let names: Vec<_> = root
            .list("sub")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["b"]);
    }
}
