//! The receive root is held open: renaming its path away and putting a
//! symlink or another directory in its place while it is in use never
//! redirects a write, a read, a listing or a cleanup.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;

use sft::fs::{ReceiveRoot, Staged};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

fn stage(root: &ReceiveRoot, name: &str, data: &str, overwrite: bool) -> Staged {
    root.begin(name, data.len() as u64, overwrite, None)
        .unwrap()
}

fn finish(mut staged: Staged, data: &str) {
    staged.write_all(data.as_bytes()).unwrap();
    staged.commit().unwrap();
}

#[test]
fn replacing_the_root_path_never_redirects_any_operation() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let root = ReceiveRoot::open_or_create(&path).unwrap();
    // Where the original directory ends up: `root` is moved here first.
    let original = tmp.path().join("aside-0");
    let mut expected = Vec::new();
    for i in 0..100 {
        // Begun before the swap, committed after it.
        let before = format!("before-{i}");
        let in_flight = stage(&root, &before, &before, false);

        // `mv root aside-i`, then a symlink to `outside` or a new empty
        // directory where the root was.
        fs::rename(&path, tmp.path().join(format!("aside-{i}"))).unwrap();
        if i % 2 == 0 {
            symlink(&outside, &path).unwrap();
        } else {
            fs::create_dir(&path).unwrap();
        }

        let after = format!("after-{i}");
        finish(stage(&root, &after, &after, false), &after);
        finish(in_flight, &before);
        // Overwriting goes through rename: it replaces the original's file.
        finish(stage(&root, &after, "replaced", true), "replaced");
        expected.extend([after.clone(), before.clone()]);
        expected.sort();

        let mut read = String::new();
        let mut src = root.open_source(&before).unwrap();
        src.file.read_to_string(&mut read).unwrap();
        assert_eq!(read, before);
        let listed: Vec<String> = root.list("").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(listed, expected, "iteration {i}");
        assert_eq!(root.remove_stale_parts().unwrap(), 0);

        assert_eq!(names(&original), expected, "iteration {i}");
        assert_eq!(
            fs::read_to_string(original.join(&after)).unwrap(),
            "replaced"
        );
        assert!(names(&outside).is_empty(), "iteration {i}");
        if i % 2 == 1 {
            assert!(names(&path).is_empty(), "iteration {i}");
        }
    }
    // Every replacement directory stayed empty too.
    for i in 1..100 {
        assert!(names(&tmp.path().join(format!("aside-{i}"))).is_empty());
    }
}

#[test]
fn a_removed_and_recreated_root_path_is_not_used() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("root");
    let root = ReceiveRoot::open_or_create(&path).unwrap();
    fs::write(path.join("kept"), b"k").unwrap();
    fs::rename(&path, tmp.path().join("aside")).unwrap();
    fs::create_dir(&path).unwrap();
    fs::write(path.join("planted"), b"p").unwrap();
    // A read of a name only in the new directory fails; the original's
    // file is still served.
    assert!(root.open_source("planted").is_err());
    assert_eq!(root.open_source("kept").unwrap().size, 1);
    let listed: Vec<String> = root.list("").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(listed, ["kept"]);
}
