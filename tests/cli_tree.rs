//! Directory trees through the real `sft` binary (issue 9's proof): a tree
//! of 1,000 files in 100 nested directories goes up with `put -r -p` and
//! comes back with `get -r -p` byte-identical, with its modes and mtimes;
//! symlinks and FIFOs in it are skipped with a warning; `ls -R`, `ls -l`,
//! `--to`, `--json`, and the errors for a directory without `-r`.

mod e2e;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, UNIX_EPOCH};

use e2e::*;
use rustix::fs::{mkfifoat, Mode, CWD};
use rustix::thread::{
    capabilities, remove_capability_from_bounding_set, set_capabilities, CapabilitySet,
};
use serde_json::Value;
use sft::crypto::hash::sha256;
use tempfile::TempDir;

/// The 10 directories at the top of the tree: spaces and non-ASCII.
const TOP: [&str; 10] = [
    "d0",
    "dir one",
    "café",
    "日本語",
    "d4",
    "naïve dir",
    "d6",
    "d7",
    "Ωmega",
    "d9",
];

/// A directory or regular file of the source tree, relative to `tree`.
struct Entry {
    rel: String,
    dir: bool,
    mode: u32,
    mtime: i64,
    size: u64,
}

/// Builds `base/tree`: 100 directories below it (10 at the top, each with
/// 4 flat ones, an empty one and a chain of 4, the last empty) and 1,000
/// files spread over the 81 directories that are not empty, with varied
/// modes (up to 0777, and a 0555 directory with files in it) and mtimes
/// (one before 1970); then 3 symlinks and 2 FIFOs that must be skipped.
/// Returns the directories (parents first) and files, the tree excluded.
fn build_tree(base: &Path) -> Vec<Entry> {
    let tree = base.join("tree");
    fs::create_dir(&tree).unwrap();
    let mut dirs = Vec::new();
    for top in TOP {
        dirs.push(top.to_string());
        for sub in ["s0", "s 1", "ß2", "s3", "s4"] {
            dirs.push(format!("{top}/{sub}"));
        }
        let mut chain = top.to_string();
        for link in ["c5", "c6", "c7", "c8"] {
            chain = format!("{chain}/{link}");
            dirs.push(chain.clone());
        }
    }
    assert_eq!(dirs.len(), 100);
    let mut entries = Vec::new();
    for (i, rel) in dirs.iter().enumerate() {
        fs::create_dir(tree.join(rel)).unwrap();
        let modes = [0o755, 0o750, 0o700, 0o775, 0o777, 0o751];
        let mode = match rel.as_str() {
            "café/ß2" | "d7/c5" => 0o555,
            _ => modes[i % modes.len()],
        };
        let mtime = 1_500_000_000 + i as i64 * 86_399;
        entries.push(Entry {
            rel: rel.clone(),
            dir: true,
            mode,
            mtime,
            size: 0,
        });
    }
    let mut holders = vec![String::new()];
    holders.extend(
        dirs.iter()
            .filter(|d| !d.ends_with("s4") && !d.ends_with("c8"))
            .cloned(),
    );
    assert_eq!(holders.len(), 81);
    for k in 0..1000u64 {
        let name = match k % 3 {
            0 => format!("f{k}.txt"),
            1 => format!("file {k} with spaces.dat"),
            _ => format!("fïlé-{k}-é.bin"),
        };
        let holder = &holders[k as usize % holders.len()];
        let rel = if holder.is_empty() {
            name
        } else {
            format!("{holder}/{name}")
        };
        let size = match k {
            0 => 0,
            1 => 2 * CHUNK as u64 + 17,
            k => (k * 131) % 4000,
        };
        let mtime = match k {
            5 => -86_400,
            6 => 0,
            k => 1_577_836_800 + k as i64 * 3_607,
        };
        let modes = [
            0o644, 0o600, 0o755, 0o640, 0o444, 0o777, 0o700, 0o604, 0o400, 0o664,
        ];
        let mode = modes[k as usize % modes.len()];
        let mut f = File::create(tree.join(&rel)).unwrap();
        f.write_all(&content(k, size)).unwrap();
        f.set_modified(time(mtime)).unwrap();
        drop(f);
        fs::set_permissions(tree.join(&rel), fs::Permissions::from_mode(mode)).unwrap();
        entries.push(Entry {
            rel,
            dir: false,
            mode,
            mtime,
            size,
        });
    }
    symlink("../d4/f4.txt", tree.join("d0/link")).unwrap();
    symlink("/nonexistent/sft-test", tree.join("dangling")).unwrap();
    symlink("../d7", tree.join("d6/dirlink")).unwrap();
    mkfifoat(CWD, &tree.join("d6/fifo"), Mode::from_raw_mode(0o644)).unwrap();
    mkfifoat(CWD, &tree.join("fifo"), Mode::from_raw_mode(0o600)).unwrap();
    // Deepest first, once nothing more is created in them.
    for e in entries.iter().filter(|e| e.dir).rev() {
        let path = tree.join(&e.rel);
        File::open(&path)
            .unwrap()
            .set_modified(time(e.mtime))
            .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(e.mode)).unwrap();
    }
    fs::set_permissions(&tree, fs::Permissions::from_mode(0o750)).unwrap();
    entries
}

fn time(mtime: i64) -> std::time::SystemTime {
    match u64::try_from(mtime) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH - Duration::from_secs(mtime.unsigned_abs()),
    }
}

/// `size` bytes that differ from file to file.
fn content(k: u64, size: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15 ^ (k + 1);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Asserts that `got` holds exactly the regular files and directories of
/// `want` (symlinks and special files left out), byte-identical, with the
/// same permission bits and mtime (seconds). Returns the files compared.
fn assert_same_tree(want: &Path, got: &Path) -> usize {
    let (w, g) = (
        fs::symlink_metadata(want).unwrap(),
        fs::symlink_metadata(got).unwrap(),
    );
    assert!(g.is_dir(), "{} is not a directory", got.display());
    assert_eq!(
        g.mode() & 0o7777,
        w.mode() & 0o7777,
        "mode of {}",
        got.display()
    );
    assert_eq!(g.mtime(), w.mtime(), "mtime of {}", got.display());
    let mut files = 0;
    let mut expected = BTreeSet::new();
    for e in fs::read_dir(want).unwrap() {
        let e = e.unwrap();
        let (name, kind) = (e.file_name(), e.file_type().unwrap());
        let (w, g) = (e.path(), got.join(&name));
        if kind.is_dir() {
            files += assert_same_tree(&w, &g);
        } else if kind.is_file() {
            let (wm, gm) = (fs::metadata(&w).unwrap(), fs::symlink_metadata(&g).unwrap());
            assert!(gm.is_file(), "{} is not a file", g.display());
            assert!(
                fs::read(&w).unwrap() == fs::read(&g).unwrap(),
                "{} differs",
                g.display()
            );
            assert_eq!(
                gm.mode() & 0o7777,
                wm.mode() & 0o7777,
                "mode of {}",
                g.display()
            );
            assert_eq!(gm.mtime(), wm.mtime(), "mtime of {}", g.display());
            files += 1;
        } else {
            continue;
        }
        expected.insert(name);
    }
    let found: BTreeSet<_> = fs::read_dir(got)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(found, expected, "entries of {}", got.display());
    files
}

/// Runs `f` on a thread (and its children: the `sft` processes) without
/// the capabilities that let root ignore permission bits, so a 0555
/// directory binds as it does for any user. Only a thread that has them
/// drops them.
fn as_plain_owner<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut caps = capabilities(None).unwrap();
            let dac = CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
            if caps.effective.intersects(dac) {
                remove_capability_from_bounding_set(CapabilitySet::DAC_OVERRIDE).unwrap();
                remove_capability_from_bounding_set(CapabilitySet::DAC_READ_SEARCH).unwrap();
                caps.effective -= dac;
                caps.permitted -= dac;
                caps.inheritable -= dac;
                set_capabilities(None, caps).unwrap();
            }
            f()
        })
        .join()
        .unwrap()
    })
}

/// Gives every directory below `dir` its owner's write bit back, so the
/// temporary directories can be removed.
fn unlock(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700)).unwrap();
            unlock(&e.path());
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// A name as `sft ls` shows it: quoted when it holds a space (the only
/// character of these names that needs it).
fn shown(rel: &str) -> String {
    if rel.contains(' ') {
        format!("'{rel}'")
    } else {
        rel.to_string()
    }
}

fn mode_string(dir: bool, mode: u32) -> String {
    let mut s = String::from(if dir { "d" } else { "-" });
    for bit in (0..9).rev() {
        s.push(if mode & (1 << bit) == 0 {
            '-'
        } else {
            ['x', 'w', 'r'][bit % 3]
        });
    }
    s
}

fn when(mtime: i64) -> String {
    match u64::try_from(mtime) {
        Ok(_) => humantime::format_rfc3339_seconds(time(mtime)).to_string(),
        Err(_) => format!("@{mtime}"),
    }
}

#[test]
fn a_tree_goes_up_and_comes_back_identical_with_modes_and_mtimes() {
    as_plain_owner(|| {
        let client = Client::new();
        let server = Server::start(Some(&client.public_key()), &["--max-mode", "777"]);
        let (target, fp) = (server.target(), server.host_fp.clone());
        let src = TempDir::new().unwrap();
        let entries = build_tree(src.path());
        let tree = src.path().join("tree");
        let tree_arg = tree.to_str().unwrap();
        let sft = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--server-key", &fp]);
            client.sft(&all)
        };

        let out = sft(&["put", "-r", "-p", &target, tree_arg]);
        let err = stderr(&out);
        assert_eq!(code(&out), 0, "{err}");
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("sft: warning: skipping "))
            .collect();
        assert_eq!(warnings.len(), 5, "{err}");
        for (name, why) in [
            ("d0/link", "symbolic link"),
            ("dangling", "symbolic link"),
            ("d6/dirlink", "symbolic link"),
            ("d6/fifo", "FIFO"),
            ("tree/fifo", "FIFO"),
        ] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&format!("{name}: is a")) && w.contains(why)),
                "no warning for {name}: {err}"
            );
        }
        assert_eq!(server.root_names(), ["tree"], "{err}");
        assert_eq!(assert_same_tree(&tree, &server.root.join("tree")), 1000);

        let down = TempDir::new().unwrap();
        let out = sft(&[
            "get",
            "-r",
            "-p",
            &target,
            "tree",
            "-o",
            down.path().to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(assert_same_tree(&tree, &down.path().join("tree")), 1000);
        let names: Vec<_> = fs::read_dir(down.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["tree"],
            "nothing but the tree (no staging files) is left"
        );

        // ls -R: one line per entry, paths relative to the listed directory.
        let out = sft(&["ls", "-R", &target, "tree"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
        let want: BTreeSet<String> = entries
            .iter()
            .map(|e| shown(&e.rel) + if e.dir { "/" } else { "" })
            .collect();
        assert_eq!(lines.len(), 1100);
        assert_eq!(lines.into_iter().collect::<BTreeSet<_>>(), want);

        // ls -l -R: mode, size, time and name of every entry.
        let out = sft(&["ls", "-l", "-R", &target, "tree"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let lines: BTreeSet<String> = stdout(&out).lines().map(String::from).collect();
        let want: BTreeSet<String> = entries
            .iter()
            .map(|e| {
                let name = shown(&e.rel) + if e.dir { "/" } else { "" };
                let mode = mode_string(e.dir, e.mode);
                format!("{mode} {:>14} {} {name}", e.size, when(e.mtime))
            })
            .collect();
        assert_eq!(lines, want);

        // One file from a subdirectory, saved under its base name.
        let one = TempDir::new().unwrap();
        let remote = "tree/café/s 1/file 100 with spaces.dat";
        let out = sft(&["get", &target, remote, "-o", one.path().to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let got = fs::read(one.path().join("file 100 with spaces.dat")).unwrap();
        assert_eq!(
            got,
            fs::read(tree.join("café/s 1/file 100 with spaces.dat")).unwrap()
        );

        // A directory without -r: refused with a hint, nothing stored.
        let none = TempDir::new().unwrap();
        let out = sft(&[
            "get",
            &target,
            "tree/d0",
            "-o",
            none.path().to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("directories need -r"),
            "{}",
            stderr(&out)
        );
        assert_eq!(fs::read_dir(none.path()).unwrap().count(), 0);

        // The same tree again as JSON Lines, under --to.
        let out = sft(&[
            "put",
            "-r",
            "--json",
            "--to",
            "copy/json",
            &target,
            tree_arg,
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let objs: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect();
        let (summary, files) = objs.split_last().unwrap();
        assert_eq!(files.len(), 1000);
        let mut seen = BTreeSet::new();
        for o in files {
            assert_eq!(
                (&o["type"], &o["op"], &o["outcome"]),
                (&"file".into(), &"put".into(), &"ok".into()),
                "{o}"
            );
            let name = o["name"].as_str().unwrap();
            let rel = name.strip_prefix("copy/json/tree/").unwrap();
            let local = tree.join(rel);
            assert_eq!(o["path"], local.to_str().unwrap());
            let data = fs::read(&local).unwrap();
            assert_eq!(o["size"], data.len() as u64);
            assert_eq!(o["sha256"], hex::encode(sha256(&data).unwrap()));
            assert_eq!(
                (&o["code"], &o["message"], &o["exit"]),
                (&Value::Null, &Value::Null, &0.into())
            );
            assert!(seen.insert(rel.to_string()), "{rel} reported twice");
        }
        let want: BTreeSet<String> = entries
            .iter()
            .filter(|e| !e.dir)
            .map(|e| e.rel.clone())
            .collect();
        assert_eq!(seen, want);
        assert_eq!(summary["type"], "summary");
        assert_eq!(
            (&summary["files"], &summary["ok"], &summary["failed"]),
            (&1000.into(), &1000.into(), &0.into())
        );
        assert_eq!(
            (&summary["exit"], &summary["message"]),
            (&0.into(), &Value::Null)
        );
        let copy = server.root.join("copy/json/tree");
        for e in &entries {
            assert_eq!(
                fs::symlink_metadata(copy.join(&e.rel)).unwrap().is_dir(),
                e.dir,
                "{}",
                e.rel
            );
        }

        for dir in [src.path(), down.path(), &server.root] {
            unlock(dir);
        }
    });
}

#[test]
fn put_stores_under_to_and_refuses_a_directory_without_r() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &[]);
    let (target, fp) = (server.target(), server.host_fp.clone());
    let src = TempDir::new().unwrap();
    let file = random_file(src.path(), "x y.bin", 3000);
    let dir = src.path().join("small");
    fs::create_dir(&dir).unwrap();
    random_file(&dir, "inner.txt", 10);
    let put = |args: &[&str]| {
        let mut all = vec!["put", "--server-key", &fp, &target];
        all.extend(args);
        client.sft(&all)
    };

    let out = put(&[dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a directory (use -r)"),
        "{}",
        stderr(&out)
    );
    assert!(
        !server.root.exists() || server.root_names().is_empty(),
        "{:?}",
        server.root_names()
    );

    let out = put(&["--to", "a/b", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = put(&["-r", "--to", "a/b", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        fs::read(server.root.join("a/b/x y.bin")).unwrap(),
        fs::read(&file).unwrap()
    );
    assert_eq!(
        fs::read(server.root.join("a/b/small/inner.txt")).unwrap(),
        fs::read(dir.join("inner.txt")).unwrap()
    );
    assert_eq!(server.root_names(), ["a"]);

    // A --to that is not a plain relative path is a usage error; nothing sent.
    for bad in ["../up", "/abs", "a//b", "a/./b", "C:\\x"] {
        let out = put(&["--to", bad, file.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "--to {bad}: {}", stderr(&out));
    }
    assert_eq!(server.root_names(), ["a"]);
}
