//! Batches through the real `sft` binary against a server with its
//! DEFAULT limits (issue 9's proof): 10,000 small files in one `sft put`,
//! 50 parallel `sft put` of one key from 127.0.0.1, then re-runs of the
//! whole batch that report each existing file and exit 1 as documented,
//! without ever tripping the server's defences against floods; then the
//! 10,051 names in one `ls` of many pages.

mod e2e;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::*;
use serde_json::Value;

const FILES: usize = 10_000;
const PARALLEL: usize = 50;

/// Waits (bounded: a hang guard, never an assertion on time) until `n`
/// lines of the server's log contain `needle`, and returns how many do.
fn log_count(server: &Server, needle: &str, n: usize) -> usize {
    let count = || {
        let log = server.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    count()
}

fn content(i: usize) -> Vec<u8> {
    format!("file {i}\n").into_bytes()
}

/// Lines of `text` that report an existing file.
fn exists_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| l.contains("already exists"))
        .count()
}

#[test]
fn ten_thousand_files_fifty_clients_and_re_runs_against_default_limits() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &[]);
    let (target, fp) = (server.target(), server.host_fp.clone());
    let many = client.dir().join("many");
    fs::create_dir(&many).unwrap();
    let names: Vec<String> = (0..FILES).map(|i| format!("f{i:05}")).collect();
    for (i, n) in names.iter().enumerate() {
        fs::write(many.join(n), content(i)).unwrap();
    }
    // As a shell passes `many/*`: one argument per file, relative to the
    // client's working directory.
    let args: Vec<String> = names.iter().map(|n| format!("many/{n}")).collect();
    let put = |extra: &[&str]| {
        let mut all = vec!["put", "--server-key", &fp, &target];
        all.extend(extra);
        all.extend(args.iter().map(String::as_str));
        client.sft(&all)
    };

    // 1. One session for the whole batch: every file stored, exit 0.
    let out = put(&[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{}", err.lines().last().unwrap_or(""));
    assert!(!err.contains("rate limit"), "no file waited: {err}");
    assert!(
        err.contains(&format!("put {FILES} file(s): {FILES} ok, 0 failed")),
        "{}",
        err.lines().last().unwrap_or("")
    );
    // The server logs each session's end after everything before it.
    assert_eq!(log_count(&server, "closed the session", 1), 1);
    assert_eq!(
        log_count(&server, "authenticated as", 1),
        1,
        "one handshake"
    );
    let stored = server.root_names();
    assert_eq!(stored, names, "exactly the files, no staging file left");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(fs::read(server.root.join(n)).unwrap(), content(i), "{n}");
    }

    // 2. 50 clients of the same key at once, from 127.0.0.1: all in at
    // once (no busy retry) and all stored.
    let par = client.dir().join("par");
    fs::create_dir(&par).unwrap();
    let children: Vec<_> = (0..PARALLEL)
        .map(|i| {
            let name = format!("par{i:02}");
            fs::write(par.join(&name), content(i)).unwrap();
            Command::new(SFT)
                .env("SFT_HOME", client.dir())
                .current_dir(client.dir())
                .args(["put", "--server-key", &fp, &target])
                .arg(format!("par/{name}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "client {i}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("busy"),
            "client {i}: {}",
            stderr(&out)
        );
        let name = format!("par{i:02}");
        assert_eq!(fs::read(server.root.join(&name)).unwrap(), content(i));
    }

    // 3. The same batch again, for a script: one object per file, each
    // "Exists"; a line per file on stderr too; exit 1 as documented.
    let out = put(&["--json"]);
    assert_eq!(
        code(&out),
        1,
        "{}",
        stderr(&out).lines().last().unwrap_or("")
    );
    assert_eq!(exists_lines(&stderr(&out)), FILES);
    let objs: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let (summary, files) = objs.split_last().unwrap();
    assert_eq!(files.len(), FILES);
    for (o, n) in files.iter().zip(&names) {
        assert_eq!(o["name"], n.as_str(), "in batch order");
        assert_eq!(o["outcome"], "failed");
        assert_eq!(o["code"], "Exists", "{o}");
        assert_eq!(o["exit"], 1);
    }
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (&summary["files"], &summary["ok"], &summary["failed"]),
        (&FILES.into(), &0.into(), &FILES.into())
    );
    assert_eq!(summary["exit"], 1);

    // 4. And a third time, with one new file: still served in full, the
    // existing files reported one by one, the new one stored.
    fs::write(many.join("late"), b"late").unwrap();
    let mut all = vec!["put", "--server-key", &fp, &target];
    all.extend(args.iter().map(String::as_str));
    all.push("many/late");
    let out = client.sft(&all);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{}", err.lines().last().unwrap_or(""));
    assert_eq!(exists_lines(&err), FILES);
    assert!(
        err.contains(&format!("put {} file(s): 1 ok, {FILES} failed", FILES + 1)),
        "{}",
        err.lines().last().unwrap_or("")
    );
    assert!(!err.contains("rate limit"), "no file waited");
    assert_eq!(fs::read(server.root.join("late")).unwrap(), b"late");

    // The whole root in one listing of many pages, each name once.
    let out = client.sft(&["ls", "--json", "--server-key", &fp, &target]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, entries) = listed.split_last().unwrap();
    let mut want: Vec<String> = names.clone();
    want.extend((0..PARALLEL).map(|i| format!("par{i:02}")));
    want.push("late".into());
    want.sort();
    let got: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, want, "sorted by name");
    assert_eq!(summary["files"], want.len());

    // Every session ended as its client closed it, and the server never
    // cut, slowed down or refused anyone for abuse.
    let sessions = 1 + PARALLEL + 3;
    assert_eq!(log_count(&server, "closed the session", sessions), sessions);
    let log = server.log.lock().unwrap();
    for needle in [
        "kept sending requests",
        "too many refused requests",
        "rate limit",
        "as busy",
    ] {
        let hits: Vec<_> = log.iter().filter(|l| l.contains(needle)).collect();
        assert!(hits.is_empty(), "{needle:?} in the server log: {hits:?}");
    }
}
