//! Upload plans of real local trees in temporary directories.

use super::*;
use std::fs::File;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::time::{Duration, UNIX_EPOCH};

use tempfile::TempDir;

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
}

fn mkdirs(path: &Path) {
    fs::create_dir_all(path).unwrap();
}

fn plan<P: AsRef<Path>>(args: &[P], recursive: bool, to: Option<&str>) -> Plan {
    let args: Vec<PathBuf> = args.iter().map(|a| a.as_ref().to_path_buf()).collect();
    plan_upload(&args, recursive, to).unwrap()
}

fn dirs(p: &Plan) -> Vec<&str> {
    p.dirs.iter().map(|d| d.remote.as_str()).collect()
}

fn files(p: &Plan) -> Vec<&str> {
    p.files.iter().map(|f| f.remote.as_str()).collect()
}

fn refused(p: &Plan) -> Vec<(&Path, &str)> {
    p.refused
        .iter()
        .map(|r| (r.local.as_path(), r.why.as_str()))
        .collect()
}

#[test]
fn a_tree_is_planned_parents_first_sorted_by_name_with_empty_dirs_and_metadata() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("top");
    mkdirs(&top.join("sub/deeper"));
    mkdirs(&top.join("empty"));
    write(&top.join("b.txt"), b"bb");
    write(&top.join("a.txt"), b"a");
    write(&top.join("sub/c"), b"ccc");
    write(&top.join("sub/deeper/d"), b"");
    let a = File::options().write(true).open(top.join("a.txt")).unwrap();
    a.set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .unwrap();
    a.set_permissions(fs::Permissions::from_mode(0o4640))
        .unwrap();
    fs::set_permissions(top.join("empty"), fs::Permissions::from_mode(0o751)).unwrap();

    let p = plan(&[&top], true, None);
    assert_eq!(dirs(&p), ["top", "top/empty", "top/sub", "top/sub/deeper"]);
    assert_eq!(
        files(&p),
        ["top/a.txt", "top/b.txt", "top/sub/c", "top/sub/deeper/d"]
    );
    assert_eq!(p.files[0].local, top.join("a.txt"));
    let sizes: Vec<u64> = p.files.iter().map(|f| f.size).collect();
    assert_eq!(sizes, [1, 2, 3, 0]);
    // Permission bits only: the setuid bit is not part of the mode sent.
    assert_eq!(
        p.files[0].meta,
        Meta {
            mode: 0o640,
            mtime: 1_700_000_000
        }
    );
    assert_eq!(p.dirs[1].meta.map(|m| m.mode), Some(0o751));
    assert!(p.skipped.is_empty() && p.refused.is_empty());
}

#[test]
fn names_with_spaces_and_non_ascii_are_kept_as_they_are() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("my photos");
    mkdirs(&top.join("日本"));
    write(&top.join("a b.txt"), b"x");
    write(&top.join("日本/résumé.pdf"), b"x");
    let p = plan(&[top], true, None);
    assert_eq!(dirs(&p), ["my photos", "my photos/日本"]);
    assert_eq!(
        files(&p),
        ["my photos/a b.txt", "my photos/日本/résumé.pdf"]
    );
}

#[test]
fn symlinks_inside_a_tree_are_skipped_with_a_warning_but_an_argument_link_is_followed() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("top");
    mkdirs(&top.join("real"));
    write(&top.join("real/f"), b"x");
    symlink(top.join("real/f"), top.join("to-file")).unwrap();
    symlink(top.join("real"), top.join("to-dir")).unwrap();
    symlink("nowhere", top.join("dangling")).unwrap();
    let p = plan(&[&top], true, None);
    assert_eq!(dirs(&p), ["top", "top/real"]);
    assert_eq!(files(&p), ["top/real/f"]);
    let skipped: Vec<&Path> = p.skipped.iter().map(|s| s.local.as_path()).collect();
    assert_eq!(
        skipped,
        [
            top.join("dangling"),
            top.join("to-dir"),
            top.join("to-file")
        ]
    );
    assert!(p.skipped.iter().all(|s| s.why.contains("symbolic link")));

    // As arguments, links are followed and named by the link.
    let p = plan(&[top.join("to-file"), top.join("to-dir")], true, None);
    assert_eq!(files(&p), ["to-file", "to-dir/f"]);
    assert_eq!(p.files[0].size, 1);
    assert_eq!(dirs(&p), ["to-dir"]);
    // A dangling link given as an argument is refused, not skipped.
    let p = plan(&[top.join("dangling")], false, None);
    assert_eq!(p.refused.len(), 1);
    assert!(p.skipped.is_empty() && p.files.is_empty());
}

#[test]
fn fifos_and_sockets_in_a_tree_are_skipped_and_refused_as_arguments() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("top");
    mkdirs(&top);
    let fifo = top.join("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let socket = top.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    write(&top.join("plain"), b"x");
    let p = plan(&[top], true, None);
    assert_eq!(files(&p), ["top/plain"]);
    let skipped: Vec<(&Path, &str)> = p
        .skipped
        .iter()
        .map(|s| (s.local.as_path(), s.why.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                fifo.as_path(),
                "is a FIFO; only regular files and directories are sent"
            ),
            (
                socket.as_path(),
                "is a socket; only regular files and directories are sent"
            ),
        ]
    );
    let p = plan(&[&fifo], false, None);
    assert_eq!(
        refused(&p),
        [(fifo.as_path(), "is not a regular file or a directory")]
    );
}

#[test]
fn a_name_that_fails_the_rule_is_refused_and_its_subtree_not_walked() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("top");
    let back = top.join("back\\slash");
    mkdirs(&back);
    write(&back.join("inside"), b"x");
    let newline = top.join("new\nline");
    write(&newline, b"x");
    let not_utf8 = top.join(OsStr::from_bytes(b"\xff.bin"));
    write(&not_utf8, b"x");
    write(&top.join("ok"), b"x");
    let p = plan(&[&top], true, None);
    assert_eq!(dirs(&p), ["top"]);
    assert_eq!(files(&p), ["top/ok"]);
    let why = |path: &Path| {
        p.refused
            .iter()
            .find(|r| r.local == path)
            .map(|r| r.why.clone())
            .unwrap()
    };
    assert_eq!(p.refused.len(), 3);
    assert!(
        why(&back).contains("not a plain file name"),
        "{}",
        why(&back)
    );
    assert!(why(&newline).contains("control"), "{}", why(&newline));
    assert!(why(&not_utf8).contains("UTF-8"), "{}", why(&not_utf8));
}

#[test]
fn a_directory_argument_needs_recursive_and_a_missing_one_is_refused() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("dir");
    mkdirs(&dir);
    let file = tmp.path().join("file");
    write(&file, b"abc");
    let missing = tmp.path().join("missing");
    let p = plan(&[&dir, &file, &missing], false, None);
    assert_eq!(files(&p), ["file"]);
    assert!(p.dirs.is_empty());
    let r = refused(&p);
    assert_eq!(r[0], (dir.as_path(), "is a directory (use -r)"));
    assert_eq!(r[1].0, missing);
    assert!(r[1].1.contains("No such file"), "{}", r[1].1);
    // With -r a file argument is still a file.
    let p = plan(&[dir, file], true, None);
    assert_eq!((dirs(&p), files(&p)), (vec!["dir"], vec!["file"]));
}

#[test]
fn dot_is_sent_under_the_name_of_the_directory_it_is() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("proj");
    mkdirs(&top.join("src"));
    let p = plan(&[top.join("."), top.join("src/..")], true, None);
    assert_eq!(dirs(&p), ["proj", "proj/src"]);
    // Both arguments are the same remote directory: the second is refused.
    assert_eq!(p.refused.len(), 1);
    assert!(
        p.refused[0].why.contains("\"proj\""),
        "{}",
        p.refused[0].why
    );
}

#[test]
fn two_arguments_with_one_base_name_are_refused_not_sent_twice() {
    let tmp = TempDir::new().unwrap();
    for d in ["a", "b"] {
        mkdirs(&tmp.path().join(d));
        write(&tmp.path().join(d).join("x.txt"), d.as_bytes());
    }
    let second = tmp.path().join("b/x.txt");
    let p = plan(&[&tmp.path().join("a/x.txt"), &second], false, None);
    assert_eq!(files(&p), ["x.txt"]);
    assert_eq!(p.files[0].local, tmp.path().join("a/x.txt"));
    assert_eq!(
        refused(&p),
        [(
            second.as_path(),
            "an earlier argument is also sent as \"x.txt\""
        )]
    );
}

#[test]
fn the_to_directory_and_each_of_its_prefixes_are_created_first() {
    let tmp = TempDir::new().unwrap();
    let f = tmp.path().join("f");
    write(&f, b"x");
    let p = plan(&[f], false, Some("backup/2026-12-02"));
    assert_eq!(dirs(&p), ["backup", "backup/2026-12-02"]);
    assert!(p.dirs.iter().all(|d| d.meta.is_none()));
    assert_eq!(files(&p), ["backup/2026-12-02/f"]);
}

#[test]
fn a_to_directory_that_is_not_a_valid_path_is_a_usage_error() {
    for bad in [
        "",
        "/abs",
        "trailing/",
        "a//b",
        ".",
        "a/./b",
        "a/../b",
        "..",
        "a\\b",
        "C:x",
        "nl\n",
    ] {
        let e = plan_upload(&[], false, Some(bad)).unwrap_err();
        assert_eq!(e.exit(), Exit::Usage, "{bad:?}");
        assert!(e.message().starts_with("remote directory"), "{bad:?}");
    }
}

#[test]
fn depth_is_limited_to_64_components() {
    let tmp = TempDir::new().unwrap();
    // A chain of 64 directories: top is component 1, the last is 64.
    let top = tmp.path().join("d");
    let mut last = top.clone();
    for _ in 1..MAX_DEPTH {
        last.push("d");
    }
    mkdirs(&last);
    write(&last.parent().unwrap().join("at64"), b"x");
    write(&last.join("at65"), b"x");
    let p = plan(&[top], true, None);
    assert_eq!(p.dirs.len(), MAX_DEPTH);
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].remote.split('/').count(), MAX_DEPTH);
    assert!(p.files[0].remote.ends_with("/at64"));
    assert_eq!(refused(&p).len(), 1);
    assert_eq!(p.refused[0].local, last.join("at65"));
    assert_eq!(
        p.refused[0].why,
        "the remote path would have 65 components, over the limit of 64"
    );

    // `to` counts too: 64 components are a valid path with room for
    // nothing below; 65 are refused.
    let f = tmp.path().join("f");
    write(&f, b"x");
    let to64 = vec!["t"; MAX_DEPTH].join("/");
    let p = plan(&[&f], false, Some(&to64));
    assert_eq!((p.dirs.len(), p.files.len(), p.refused.len()), (64, 0, 1));
    let to65 = vec!["t"; MAX_DEPTH + 1].join("/");
    assert!(plan_upload(&[f], false, Some(&to65)).is_err());
}

/// A valid `to` of exactly `len` bytes, in components of at most 255.
fn to_of_len(len: usize) -> String {
    let mut parts = Vec::new();
    let mut left = len;
    while left > 0 {
        // Leave at least one byte for the next component after a '/'.
        let take = left.min(255);
        let take = if left - take == 1 { take - 1 } else { take };
        parts.push("a".repeat(take));
        left -= take;
        left = left.saturating_sub(1);
    }
    let to = parts.join("/");
    assert_eq!(to.len(), len);
    to
}

#[test]
fn a_remote_path_is_at_most_4096_bytes() {
    let tmp = TempDir::new().unwrap();
    let name = "f".repeat(200);
    let f = tmp.path().join(&name);
    write(&f, b"x");
    // The file adds '/' and its 200-byte name.
    let p = plan(&[&f], false, Some(&to_of_len(MAX_PATH_LEN - 201)));
    assert_eq!(p.files[0].remote.len(), MAX_PATH_LEN);
    assert!(p.refused.is_empty());
    let p = plan(&[&f], false, Some(&to_of_len(MAX_PATH_LEN - 200)));
    assert!(p.files.is_empty());
    assert_eq!(
        p.refused[0].why,
        "the remote path would be 4097 bytes, over the limit of 4096"
    );
    // `to` alone: 4096 bytes is a path, 4097 is not.
    assert!(plan_upload(&[], false, Some(&to_of_len(MAX_PATH_LEN))).is_ok());
    let e = plan_upload(&[], false, Some(&to_of_len(MAX_PATH_LEN + 1))).unwrap_err();
    assert!(e.message().contains("4097 bytes"), "{}", e.message());
}

#[test]
fn an_unreadable_directory_is_refused_and_not_created() {
    let tmp = TempDir::new().unwrap();
    let top = tmp.path().join("top");
    let locked = top.join("locked");
    mkdirs(&locked);
    write(&locked.join("secret"), b"x");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read_dir(&locked).is_ok() {
        // Privileged (root): permissions do not stop this process, so
        // there is no unreadable directory to plan here.
        eprintln!("skipped: this process reads a mode-000 directory");
        return;
    }
    let p = plan(&[top], true, None);
    assert_eq!(dirs(&p), ["top"]);
    assert!(p.files.is_empty());
    assert_eq!(p.refused.len(), 1);
    assert_eq!(p.refused[0].local, locked);
    assert!(p.refused[0].why.starts_with("cannot read the directory"));
}
