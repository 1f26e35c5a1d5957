//! A directory inside the root swapped with a symlink to an outside
//! directory (atomically, `renameat2(RENAME_EXCHANGE)`) as fast as a thread
//! can, while files are received into it, directories made in it, its
//! metadata set, and its files read and listed: nothing ever reaches the
//! outside directory. Operations may fail (the path can be a symlink at any
//! moment); the test asserts only safety, so it does not depend on how the
//! two threads interleave.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{renameat_with, RenameFlags, CWD};
use sft::fs::{Meta, ReceiveRoot};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

const ROUNDS: usize = 2_000;

/// One round of everything a server does with a path through `d`; every
/// error is ignored. Returns whether `d/secret` (only outside) was ever
/// opened or listed.
fn round(root: &ReceiveRoot, i: usize) -> bool {
    let meta = Meta {
        mode: 0o700,
        mtime: 1_000_000_000,
    };
    for (path, overwrite) in [(format!("d/f{i}"), false), ("d/same".to_owned(), true)] {
        if let Ok(mut staged) = root.begin(&path, 4, overwrite, Some(meta)) {
            if staged.write_all(b"data").is_ok() {
                let _ = staged.commit();
            }
        }
    }
    let _ = root.make_dir(&format!("d/x{}", i % 64), Some(meta));
    let _ = root.make_dir("d", Some(meta));
    let mut leaked = false;
    for path in ["d/secret".to_owned(), format!("d/f{}", i / 2)] {
        if let Ok(mut src) = root.open_source(&path) {
            let mut data = Vec::new();
            let _ = src.file.read_to_end(&mut data);
            leaked |= data == b"secret";
        }
    }
    // Listing reads the whole directory: not every round.
    if i % 16 == 0 {
        if let Ok(lister) = root.lister("d") {
            leaked |= lister.flatten().any(|e| e.name == "secret");
        }
    }
    leaked
}

#[test]
fn a_directory_swapped_with_an_outside_symlink_never_leaks_a_write_or_read() {
    let tmp = TempDir::new().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"secret").unwrap();
    let outside_before = fs::metadata(&outside).unwrap();
    let root = ReceiveRoot::open_or_create(&tmp.path().join("recv")).unwrap();
    let (d, link) = (root.path().join("d"), root.path().join("link"));
    fs::create_dir(&d).unwrap();
    symlink(&outside, &link).unwrap();

    let stop = AtomicBool::new(false);
    let leaked = std::thread::scope(|s| {
        let swapper = s.spawn(|| {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Atomic exchanges: `d` is always there, as the real
                // directory or as the symlink; two put it back.
                for _ in 0..2 {
                    renameat_with(CWD, &d, CWD, &link, RenameFlags::EXCHANGE).unwrap();
                }
                swaps += 1;
            }
            swaps
        });
        let leaked = (0..ROUNDS).filter(|&i| round(&root, i)).count();
        stop.store(true, Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(swaps > 0);
        leaked
    });

    assert_eq!(leaked, 0, "rounds that read the outside directory");
    assert_eq!(names(&outside), ["secret"]);
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
    let outside_after = fs::metadata(&outside).unwrap();
    assert_eq!(outside_after.mode(), outside_before.mode());
    assert_eq!(outside_after.mtime(), outside_before.mtime());
    // Nothing is left staged, and the swapper put everything back.
    assert_eq!(names(root.path()), ["d", "link"]);
    let stray: Vec<_> = names(&d)
        .into_iter()
        .filter(|n| !(n == "same" || n.starts_with('f') || n.starts_with('x')))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
