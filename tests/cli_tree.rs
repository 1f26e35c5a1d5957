//! Directory trees through the real `sft` binary (issue 9's proof): a tree
//! of 1,000 files in 100 nested directories goes up with `put -r -p` and
//! comes back with `get -r -p` byte-identical, with its modes and mtimes;
//! symlinks and FIFOs in it are skipped with a warning; `ls -R`, `ls -l`,
//! `--to`, `--json`, and the errors for a directory without `-r`.

mod e2e;
mod tree;

use std::collections::BTreeSet;
use std::fs;
use std::process::Output;

use e2e::*;
use serde_json::Value;
use sft::crypto::hash::sha256;
use tempfile::TempDir;
use tree::*;

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
