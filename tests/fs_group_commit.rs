//! A group commit (the committer's batch of uploads): each file is stored
//! or fails on its own, in order, and the group shares its directories'
//! fsyncs.

use std::fs;

use sft::fs::{FsError, ReceiveRoot, Staged};
use tempfile::TempDir;

#[test]
fn a_group_commits_each_file_on_its_own_and_reports_in_order() {
    let tmp = TempDir::new().unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("root")).unwrap();
    root.make_dir("a", None).unwrap();
    root.make_dir("b", None).unwrap();
    let staged = |path: &str, body: &[u8], announced: u64| {
        let mut s = root.begin(path, announced, false, None).unwrap();
        s.write_all(body).unwrap();
        s
    };
    let mut first = staged("a/1", b"one", 3);
    // Synced before the group, as the committer may do: not synced twice.
    first.sync().unwrap();
    let group = vec![
        first,
        staged("a/2", b"two", 3),
        // Fewer bytes than announced: this one alone fails.
        staged("b/3", b"th", 3),
        staged("b/4", b"four", 4),
    ];
    let results = Staged::commit_all(group);
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(
        matches!(results[2], Err(FsError::SizeMismatch { .. })),
        "{:?}",
        results[2]
    );
    let dir = tmp.path().join("root");
    assert_eq!(fs::read(dir.join("a/1")).unwrap(), b"one");
    assert_eq!(fs::read(dir.join("a/2")).unwrap(), b"two");
    assert_eq!(fs::read(dir.join("b/4")).unwrap(), b"four");
    assert!(!dir.join("b/3").exists());
    // Nothing is left staged in the root.
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".sft-part-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(Staged::commit_all(Vec::new()).is_empty());
}
