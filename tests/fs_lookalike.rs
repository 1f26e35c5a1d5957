//! Unicode look-alikes: a file or directory is never created under a name
//! whose NFC form equals that of a different name in the same directory.

use std::fs;

use sft::fs::{FsError, ReceiveRoot};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

/// "café" with a precomposed é (NFC) and with e + COMBINING ACUTE (NFD).
const CAFE_NFC: &str = "caf\u{e9}";
const CAFE_NFD: &str = "cafe\u{301}";
/// KELVIN SIGN, whose NFC form is the letter K.
const KELVIN: &str = "\u{212A}";

fn root() -> (TempDir, ReceiveRoot) {
    let tmp = TempDir::new().unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    (tmp, root)
}

fn receive(root: &ReceiveRoot, path: &str, overwrite: bool) -> Result<(), FsError> {
    let mut staged = root.begin(path, 1, overwrite, None)?;
    staged.write_all(b"x")?;
    staged.commit().map(|_| ())
}

/// Asserts `result` is a look-alike refusal of `name` because of `existing`.
fn refused<T: std::fmt::Debug>(result: Result<T, FsError>, name: &str, existing: &str) {
    let err = result.unwrap_err();
    assert!(
        matches!(&err, FsError::LookAlike { name: n, existing: e } if n == name && e == existing),
        "{name:?}: {err:?}"
    );
    assert!(err.to_string().contains("looks the same"), "{err}");
}

/// Creates `existing` (a file, or a directory when `dir`) in a fresh root,
/// then checks that `name` can be neither received nor made a directory,
/// whatever the overwrite flag.
fn assert_refused(existing: &str, name: &str, dir: bool) {
    let (_tmp, root) = root();
    if dir {
        fs::create_dir(root.path().join(existing)).unwrap();
    } else {
        fs::write(root.path().join(existing), b"old").unwrap();
    }
    for overwrite in [false, true] {
        refused(receive(&root, name, overwrite), name, existing);
    }
    refused(root.make_dir(name, None), name, existing);
    assert_eq!(names(root.path()), [existing]);
}

#[test]
fn cafe_composed_and_decomposed_are_refused_both_ways() {
    for dir in [false, true] {
        assert_refused(CAFE_NFC, CAFE_NFD, dir);
        assert_refused(CAFE_NFD, CAFE_NFC, dir);
    }
}

#[test]
fn kelvin_sign_and_k_are_refused_both_ways() {
    for dir in [false, true] {
        // The ASCII name probes its twins; the other one scans.
        assert_refused(KELVIN, "K", dir);
        assert_refused("K", KELVIN, dir);
        assert_refused(&format!("{KELVIN}elvin"), "Kelvin", dir);
    }
}

#[test]
fn every_ascii_twin_is_probed_in_any_combination() {
    // Greek question mark U+037E for ';', Greek varia U+1FEF for '`'.
    assert_refused("a\u{37E}b`c\u{1FEF}K", "a;b`c`K", false);
    // Four twinned characters: still probed by name (15 variants).
    assert_refused(&format!("K;K{KELVIN}"), "K;KK", false);
    // Five: the directory is scanned instead.
    assert_refused(&format!("KK;K{KELVIN}"), "KK;KK", false);
}

#[test]
fn the_same_bytes_are_the_existing_name_not_a_look_alike() {
    let (_tmp, root) = root();
    receive(&root, CAFE_NFD, false).unwrap();
    let err = receive(&root, CAFE_NFD, false).unwrap_err();
    assert!(
        matches!(&err, FsError::Exists(n) if n == CAFE_NFD),
        "{err:?}"
    );
    receive(&root, CAFE_NFD, true).unwrap();
    root.make_dir("K", None).unwrap();
    root.make_dir("K", None).unwrap();
    // Overwriting a name that exists creates nothing, even when a
    // look-alike of it exists too (made behind the receiver's back).
    fs::write(root.path().join(CAFE_NFC), b"other").unwrap();
    receive(&root, CAFE_NFD, true).unwrap();
    assert_eq!(names(root.path()), ["K", CAFE_NFD, CAFE_NFC]);
}

#[test]
fn names_that_differ_otherwise_or_live_in_other_directories_are_fine() {
    let (_tmp, root) = root();
    for name in ["k", "K", "cafe", CAFE_NFC, "Kafe", "e\u{301}"] {
        receive(&root, name, false).unwrap();
    }
    root.make_dir("a", None).unwrap();
    root.make_dir("b", None).unwrap();
    receive(&root, &format!("a/{CAFE_NFD}"), false).unwrap();
    receive(&root, &format!("b/{KELVIN}"), false).unwrap();
    refused(
        receive(&root, &format!("a/{CAFE_NFC}"), false),
        &format!("a/{CAFE_NFC}"),
        &format!("a/{CAFE_NFD}"),
    );
    refused(root.make_dir("b/K", None), "b/K", &format!("b/{KELVIN}"));
}

#[test]
fn a_twin_longer_than_the_name_limit_cannot_exist() {
    let (_tmp, root) = root();
    // 255 bytes, the limit; each K's twin takes 3 bytes, so every variant
    // is too long for the file system, which is not an error.
    let name = format!("K{}K", "a".repeat(253));
    assert_eq!(name.len(), 255);
    receive(&root, &name, false).unwrap();
    root.make_dir(&name[1..], None).unwrap();
    assert_eq!(names(root.path()).len(), 2);
}

#[test]
fn a_look_alike_made_during_a_transfer_stops_the_commit() {
    let (_tmp, root) = root();
    let mut staged = root.begin(CAFE_NFC, 1, false, None).unwrap();
    staged.write_all(b"x").unwrap();
    fs::write(root.path().join(CAFE_NFD), b"other").unwrap();
    refused(staged.commit(), CAFE_NFC, CAFE_NFD);
    // The temporary file is gone; the other writer's file is kept.
    assert_eq!(names(root.path()), [CAFE_NFD]);
}
