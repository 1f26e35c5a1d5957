//! Resumable partial files: named per (peer key, path), kept when dropped,
//! locked while in use, swept by age; and hashing a file's prefix.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sft::crypto::hash::sha256;
use sft::fs::{hash_prefix, partial_name, FsError, ReceiveRoot, TEMP_PREFIX};
use tempfile::TempDir;

mod fsutil;
use fsutil::names;

const ALICE: [u8; 32] = [1; 32];
const BOB: [u8; 32] = [2; 32];
const DAY: Duration = Duration::from_secs(86_400);

/// A fresh root (the temporary directory is kept alive) and its path.
fn root() -> (TempDir, ReceiveRoot, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("recv");
    let root = ReceiveRoot::open_or_create(&dir).unwrap();
    (tmp, root, dir)
}

/// The path of `owner`'s partial of `path` in the root `dir`.
fn part(dir: &Path, owner: &[u8; 32], path: &str) -> PathBuf {
    dir.join(partial_name(owner, path).unwrap())
}

/// Leaves `data` in `owner`'s partial of `path` (announced as `size`).
fn hold(root: &ReceiveRoot, owner: &[u8; 32], path: &str, size: u64, data: &[u8]) {
    let (mut staged, held) = root
        .begin_resumable(path, size, false, None, owner)
        .unwrap();
    assert_eq!(held, 0);
    staged.write_all(data).unwrap();
    // Dropped without a commit: kept.
}

/// Sets the modification time of `path` to `age` ago.
fn age(path: &Path, age: Duration) {
    File::open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

#[test]
fn the_same_owner_and_path_resume_the_held_bytes_and_commit_moves_them_into_place() {
    let (_tmp, root, dir) = root();
    hold(&root, &ALICE, "f", 10, b"hello");
    let partial = part(&dir, &ALICE, "f");
    assert_eq!(fs::read(&partial).unwrap(), b"hello", "dropping kept it");
    let mode = fs::metadata(&partial).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (mut staged, held) = root.begin_resumable("f", 10, false, None, &ALICE).unwrap();
    assert_eq!(held, 5);
    assert_eq!(staged.written(), 5);
    staged.write_all(b"world").unwrap();
    // One byte past the announced size is refused, as for `begin`.
    assert!(matches!(
        staged.write_all(b"!"),
        Err(FsError::SizeMismatch {
            expected: 10,
            got: 11
        })
    ));
    staged.commit().unwrap();
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"helloworld");
    assert_eq!(
        names(&dir),
        vec!["f".to_string()],
        "the partial's name is gone"
    );
}

#[test]
fn another_owner_or_path_gets_its_own_empty_partial() {
    let (_tmp, root, dir) = root();
    hold(&root, &ALICE, "f", 10, b"alice");
    // Alice's partial stays held by nobody; Bob's is another name.
    let (bob, held) = root.begin_resumable("f", 10, false, None, &BOB).unwrap();
    assert_eq!(held, 0);
    let (other_path, held) = root.begin_resumable("g", 10, false, None, &ALICE).unwrap();
    assert_eq!(held, 0);
    assert_ne!(part(&dir, &ALICE, "f"), part(&dir, &BOB, "f"));
    assert_eq!(fs::read(part(&dir, &BOB, "f")).unwrap(), b"");
    assert_eq!(fs::read(part(&dir, &ALICE, "f")).unwrap(), b"alice");
    // Dropped empty: nothing to resume, so they go.
    drop((bob, other_path));
    assert_eq!(names(&dir), vec![partial_name(&ALICE, "f").unwrap()]);
}

#[test]
fn held_bytes_up_to_the_size_are_kept_and_more_are_truncated_to_zero() {
    let (_tmp, root, dir) = root();
    hold(&root, &ALICE, "f", 5, b"12345");
    // At the limit: the whole file is held.
    let (staged, held) = root.begin_resumable("f", 5, false, None, &ALICE).unwrap();
    assert_eq!(held, 5);
    drop(staged);
    // One past it: the held bytes cannot be a prefix.
    let (mut staged, held) = root.begin_resumable("f", 4, false, None, &ALICE).unwrap();
    assert_eq!(held, 0);
    assert_eq!(staged.written(), 0);
    assert_eq!(fs::read(part(&dir, &ALICE, "f")).unwrap(), b"");
    staged.write_all(b"abcd").unwrap();
    staged.commit().unwrap();
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"abcd");
}

#[test]
fn restart_empties_the_partial_and_writes_from_zero() {
    let (_tmp, root, dir) = root();
    hold(&root, &ALICE, "f", 6, b"bad");
    let (mut staged, held) = root.begin_resumable("f", 6, false, None, &ALICE).unwrap();
    assert_eq!(held, 3);
    staged.restart().unwrap();
    assert_eq!(staged.written(), 0);
    assert_eq!(fs::read(part(&dir, &ALICE, "f")).unwrap(), b"");
    staged.write_all(b"good!!").unwrap();
    staged.commit().unwrap();
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"good!!");
    assert_eq!(names(&dir), vec!["f".to_string()]);
}

#[test]
fn discard_removes_a_partial_that_holds_bytes() {
    let (_tmp, root, dir) = root();
    let (mut staged, _) = root.begin_resumable("f", 6, false, None, &ALICE).unwrap();
    staged.write_all(b"abc").unwrap();
    staged.discard();
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

#[test]
fn a_partial_in_use_is_busy_until_every_handle_is_closed() {
    let (_tmp, root, _dir) = root();
    let (mut first, _) = root.begin_resumable("f", 6, false, None, &ALICE).unwrap();
    first.write_all(b"abc").unwrap();
    let err = root
        .begin_resumable("f", 6, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(&err, FsError::Busy(p) if p == "f"), "{err:?}");
    // A prefix handle shares the lock.
    let reader = first.prefix_handle().unwrap();
    drop(first);
    assert!(matches!(
        root.begin_resumable("f", 6, false, None, &ALICE),
        Err(FsError::Busy(_))
    ));
    drop(reader);
    let (_second, held) = root.begin_resumable("f", 6, false, None, &ALICE).unwrap();
    assert_eq!(held, 3);
}

#[test]
fn a_partial_that_fails_to_commit_is_removed() {
    let (_tmp, root, dir) = root();
    let (mut staged, _) = root.begin_resumable("f", 3, false, None, &ALICE).unwrap();
    staged.write_all(b"abc").unwrap();
    fs::write(dir.join("f"), b"other").unwrap();
    assert!(matches!(staged.commit(), Err(FsError::Exists(_))));
    assert_eq!(names(&dir), vec!["f".to_string()]);
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"other");
}

#[test]
fn a_symlink_under_the_partial_name_is_refused_and_not_followed() {
    let (tmp, root, dir) = root();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"secret").unwrap();
    symlink(&outside, part(&dir, &ALICE, "f")).unwrap();
    let err = root
        .begin_resumable("f", 6, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(err, FsError::NotRegular(_)), "{err:?}");
    assert_eq!(fs::read(&outside).unwrap(), b"secret");
}

/// A partial's name is predictable: a hard link planted under it (by
/// someone who can write the directory) must not make sft append to, or
/// truncate, the linked file, nor read it as held bytes.
#[test]
fn a_hard_link_under_the_partial_name_is_refused_and_left_alone() {
    let (tmp, root, dir) = root();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"secret").unwrap();
    fs::hard_link(&outside, part(&dir, &ALICE, "f")).unwrap();
    let err = root
        .begin_resumable("f", 3, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(err, FsError::NotRegular(_)), "{err:?}");
    assert!(matches!(
        root.held_partial("f", &ALICE),
        Err(FsError::NotRegular(_))
    ));
    assert_eq!(fs::read(&outside).unwrap(), b"secret");
    // One name only (the planted link removed): an ordinary partial.
    fs::remove_file(&outside).unwrap();
    let (_, held) = root.begin_resumable("f", 6, false, None, &ALICE).unwrap();
    assert_eq!(held, 6);
}

#[test]
fn resuming_applies_the_checks_of_begin() {
    let (_tmp, root, dir) = root();
    fs::write(dir.join("f"), b"there").unwrap();
    let err = root
        .begin_resumable("f", 6, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(err, FsError::Exists(_)), "{err:?}");
    let err = root
        .begin_resumable("missing/f", 6, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(&err, FsError::Io { source, .. } if source.kind() == ErrorKind::NotFound));
    assert_eq!(names(&dir), vec!["f".to_string()], "no partial was made");
}

#[test]
fn the_sweep_removes_old_partials_and_keeps_fresh_locked_and_other_files() {
    let (_tmp, root, dir) = root();
    hold(&root, &ALICE, "old", 10, b"old");
    hold(&root, &ALICE, "fresh", 10, b"fresh");
    let (mut locked, _) = root
        .begin_resumable("locked", 10, false, None, &ALICE)
        .unwrap();
    locked.write_all(b"locked").unwrap();
    let temp = dir.join(format!("{TEMP_PREFIX}0123456789abcdef"));
    fs::write(&temp, b"temp").unwrap();
    for old in [
        part(&dir, &ALICE, "old"),
        part(&dir, &ALICE, "locked"),
        temp.clone(),
    ] {
        age(&old, 2 * DAY);
    }
    assert_eq!(root.sweep_partials(DAY).unwrap(), 1);
    let mut left = vec![
        partial_name(&ALICE, "fresh").unwrap(),
        partial_name(&ALICE, "locked").unwrap(),
        format!("{TEMP_PREFIX}0123456789abcdef"),
    ];
    left.sort();
    assert_eq!(names(&dir), left);

    // Once unlocked (which gives back its reserved space and so counts as
    // a write: its age starts again), it goes too when old.
    drop(locked);
    assert_eq!(root.sweep_partials(DAY).unwrap(), 0);
    age(&part(&dir, &ALICE, "locked"), 2 * DAY);
    assert_eq!(root.sweep_partials(DAY).unwrap(), 1);
    // A start's cleanup removes the random temporary names, not partials.
    assert_eq!(root.remove_stale_parts().unwrap(), 1);
    assert_eq!(names(&dir), vec![partial_name(&ALICE, "fresh").unwrap()]);
}

/// `n` bytes of a pattern that does not repeat every 256 KiB piece.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn hash_prefix_hashes_exactly_the_prefix_and_goes_on_to_the_whole() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("src");
    let data = pattern(600 * 1024 + 7);
    fs::write(&path, &data).unwrap();
    let file = File::open(&path).unwrap();
    // Empty, one byte, a whole 256 KiB piece and one past it, several
    // pieces, and the whole file (the limit: its length).
    for len in [0, 1, 256 * 1024, 256 * 1024 + 1, 555_555, data.len()] {
        let (mut state, digest) = hash_prefix(&file, len as u64).unwrap();
        assert_eq!(digest, sha256(&data[..len]).unwrap(), "prefix of {len}");
        state.update(&data[len..]).unwrap();
        assert_eq!(state.finish().unwrap(), sha256(&data).unwrap(), "{len}");
    }
    // One byte past the end.
    let Err(err) = hash_prefix(&file, data.len() as u64 + 1) else {
        panic!("a prefix longer than the file was hashed");
    };
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
}

#[test]
fn hash_prefix_reads_a_partial_through_its_prefix_handle() {
    let (_tmp, root, _dir) = root();
    let data = pattern(300 * 1024);
    hold(&root, &BOB, "f", 2 * data.len() as u64, &data);
    let (staged, held) = root
        .begin_resumable("f", 2 * data.len() as u64, false, None, &BOB)
        .unwrap();
    assert_eq!(held, data.len() as u64);
    let reader = staged.prefix_handle().unwrap();
    let (_, digest) = hash_prefix(&reader, held).unwrap();
    assert_eq!(digest, sha256(&data).unwrap());
    assert!(hash_prefix(&reader, held + 1).is_err());
}

#[test]
fn no_room_for_the_rest_keeps_held_bytes_and_leaves_no_empty_partial() {
    let (_tmp, root, dir) = root();
    let huge = u64::MAX / 2;
    let err = root
        .begin_resumable("new", huge, false, None, &ALICE)
        .unwrap_err();
    assert!(matches!(err, FsError::DiskFull { .. }), "{err:?}");
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));

    hold(&root, &ALICE, "f", 10, b"held");
    let err = root
        .begin_resumable("f", huge, false, None, &ALICE)
        .unwrap_err();
    assert!(
        matches!(err, FsError::DiskFull { needed, .. } if needed == huge - 4),
        "{err:?}"
    );
    assert_eq!(fs::read(part(&dir, &ALICE, "f")).unwrap(), b"held");
}
