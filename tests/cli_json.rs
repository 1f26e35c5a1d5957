//! `--json` and `-q` on put, get and ls, through the real `sft` binary:
//! every stdout line is one JSON object a script can parse.

mod e2e;

use std::path::Path;
use std::process::Output;

use e2e::*;
use serde_json::Value;
use sft::crypto::hash::sha256;

/// Every stdout line, parsed (a line that is not JSON fails the test).
fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn hex_sha256(path: &Path) -> String {
    hex::encode(sha256(&std::fs::read(path).unwrap()).unwrap())
}

/// The file object for `name`.
fn file<'a>(objs: &'a [Value], name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["type"] == "file" && o["name"] == name)
        .unwrap_or_else(|| panic!("no object for {name}: {objs:?}"))
}

fn args<'a>(head: &[&'a str], paths: &'a [String]) -> Vec<&'a str> {
    let mut v = head.to_vec();
    v.extend(paths.iter().map(String::as_str));
    v
}

#[test]
fn put_and_get_print_one_object_per_file_and_a_summary() {
    let client = Client::new();
    let server = Server::start_with_root(&client.public_key(), &[("b.bin", b"there already")]);
    let target = server.target();
    let sizes = [("a.bin", 1000), ("b.bin", 2000), ("c.bin", CHUNK + 1)];
    let paths: Vec<String> = sizes
        .iter()
        .map(|(n, len)| {
            let p = random_file(client.dir(), n, *len);
            p.to_string_lossy().into_owned()
        })
        .collect();

    let out = client.sft(&args(&["put", &target, "--accept-new", "--json"], &paths));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 4, "{objs:?}");
    for (i, (n, len)) in sizes.iter().enumerate() {
        let o = file(&objs, n);
        assert_eq!(o["op"], "put");
        assert_eq!(o["path"], paths[i].as_str());
        assert!(o["seconds"].is_f64());
        if *n == "b.bin" {
            assert_eq!(o["outcome"], "failed");
            assert_eq!(o["code"], "Exists");
            // Its data went out before the refusal came back (no ACCEPT),
            // but nothing was moved: a refusal says 0.
            assert_eq!(o["size"], 0);
            assert!(o["message"].is_string());
            assert_eq!(o["sha256"], Value::Null);
            assert_eq!(o["exit"], 1);
        } else {
            assert_eq!(o["outcome"], "ok");
            assert_eq!(o["size"], *len as u64);
            assert_eq!(o["sha256"], hex_sha256(Path::new(&paths[i])).as_str());
            assert_eq!(o["code"], Value::Null);
            assert_eq!(o["message"], Value::Null);
            assert_eq!(o["exit"], 0);
        }
    }
    let s = objs.last().unwrap();
    assert_eq!(s["type"], "summary");
    assert_eq!(s["op"], "put");
    assert_eq!(
        (&s["files"], &s["ok"], &s["failed"]),
        (&3.into(), &2.into(), &1.into())
    );
    assert_eq!(s["bytes"], (1000 + CHUNK + 1) as u64);
    assert_eq!(s["exit"], 1);
    assert!(s["seconds"].is_f64());

    let down = client.dir().join("down");
    std::fs::create_dir(&down).unwrap();
    let d = down.to_str().unwrap();
    let out = client.sft(&["get", &target, "--json", "-o", d, "a.bin", "c.bin"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 3, "{objs:?}");
    for (n, i) in [("a.bin", 0), ("c.bin", 2)] {
        let o = file(&objs, n);
        assert_eq!(o["op"], "get");
        assert_eq!(o["outcome"], "ok");
        assert_eq!(o["path"], down.join(n).to_str().unwrap());
        assert_eq!(o["sha256"], hex_sha256(Path::new(&paths[i])).as_str());
    }
    // Again: a.bin now exists locally, and nope.bin is not on the server.
    let out = client.sft(&["get", &target, "--json", "-o", d, "a.bin", "nope.bin"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 3, "{objs:?}");
    let exists = file(&objs, "a.bin");
    assert_eq!(
        (&exists["outcome"], &exists["exit"]),
        (&"failed".into(), &1.into())
    );
    assert!(exists["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    let missing = file(&objs, "nope.bin");
    assert_eq!(missing["code"], "NotFound");
    let s = objs.last().unwrap();
    assert_eq!((&s["type"], &s["op"]), (&"summary".into(), &"get".into()));
    assert_eq!(
        (&s["ok"], &s["failed"], &s["exit"]),
        (&0.into(), &2.into(), &1.into())
    );
    assert_eq!(s["message"], "2 of 2 file(s) failed");
}

#[test]
fn ls_json_gives_back_names_with_spaces_and_quotes_exactly() {
    let client = Client::new();
    let names = ["a name with spaces.txt", "say \"hi\".txt", "plain"];
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, n.as_bytes())).collect();
    let server = Server::start_with_root(&client.public_key(), &files);
    // Listings carry directories too, with their kind and mode.
    let dir = server.root.join("sub dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o751)).unwrap();
    let out = client.sft(&["ls", &server.target(), "--accept-new", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 5, "{objs:?}");
    let mut sorted = names.to_vec();
    sorted.push("sub dir");
    sorted.sort_unstable();
    let got: Vec<&str> = objs[..4]
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, sorted);
    for o in &objs[..4] {
        assert_eq!(o["type"], "entry");
        assert_eq!(o["path"], o["name"]);
        assert!(o["mtime"].is_i64());
        assert!(o["mtime_utc"].as_str().unwrap().ends_with('Z'));
        if o["name"] == "sub dir" {
            assert_eq!((&o["kind"], &o["size"]), (&"dir".into(), &0.into()));
            assert_eq!(o["mode"], "751");
        } else {
            assert_eq!(o["kind"], "file");
            assert_eq!(o["size"], o["name"].as_str().unwrap().len());
        }
    }
    // The summary counts the files.
    let s = &objs[4];
    assert_eq!(
        (&s["type"], &s["op"], &s["files"]),
        (&"summary".into(), &"ls".into(), &3.into())
    );
    let total: usize = names.iter().map(|n| n.len()).sum();
    assert_eq!((&s["bytes"], &s["exit"]), (&total.into(), &0.into()));
}

#[test]
fn quiet_prints_nothing_for_successes_and_only_failures_with_json() {
    let client = Client::new();
    let server = Server::start_with_root(&client.public_key(), &[("b.bin", b"x")]);
    let target = server.target();
    let a = random_file(client.dir(), "a.bin", 10);
    let b = random_file(client.dir(), "b.bin", 20);
    let c = random_file(client.dir(), "c.bin", 30);
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );

    let out = client.sft(&["put", &target, "--accept-new", "-q", a]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = client.sft(&["ls", &target, "-q"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // The failure still goes to stderr for a human; stdout stays empty.
    let out = client.sft(&["put", &target, "--quiet", b, c]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("1 of 2 file(s) failed"));

    let d = random_file(client.dir(), "d.bin", 40);
    let out = client.sft(&["put", &target, "--json", "-q", b, d.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 2, "{objs:?}");
    assert_eq!(
        (&objs[0]["name"], &objs[0]["outcome"]),
        (&"b.bin".into(), &"failed".into())
    );
    assert_eq!(
        (&objs[1]["type"], &objs[1]["ok"]),
        (&"summary".into(), &1.into())
    );
}

#[test]
fn a_session_failure_still_ends_stdout_with_a_summary() {
    let (server, client) = pair();
    let a = random_file(client.dir(), "a.bin", 10);
    let target = server.target();
    // An unknown host with no terminal and no --accept-new: exit 4.
    let out = client.sft(&["put", &target, "--json", a.to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--accept-new"),
        "stderr stays for humans"
    );
    let objs = lines(&out);
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(
        (&objs[0]["type"], &objs[0]["exit"]),
        (&"summary".into(), &4.into())
    );
    assert_eq!((&objs[0]["files"], &objs[0]["ok"]), (&1.into(), &0.into()));
    assert!(objs[0]["message"]
        .as_str()
        .unwrap()
        .contains(&server.host_fp));
    let out = client.sft(&["ls", &target, "--json"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let objs = lines(&out);
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(
        (&objs[0]["op"], &objs[0]["exit"]),
        (&"ls".into(), &4.into())
    );
}
