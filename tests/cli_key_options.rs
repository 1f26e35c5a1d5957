//! Options on an authorized_keys line, end to end through the `sft`
//! binary: read-only, write-only, overwrite / no-overwrite, max-sessions.

mod e2e;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Output;

use e2e::*;

/// Starts a server whose authorized_keys is `client`'s key with `options`
/// before it, with `extra` flags and `files` in its root.
fn server_with(client: &Client, options: &str, extra: &[&str], files: &[(&str, &[u8])]) -> Server {
    let line = std::fs::read_to_string(client.public_key()).unwrap();
    let auth = client.dir().join("auth_with_options");
    std::fs::write(&auth, format!("{options} {line}")).unwrap();
    let home = tempfile::TempDir::new().unwrap();
    let root = home.path().join("root");
    std::fs::create_dir(&root).unwrap();
    for (name, content) in files {
        std::fs::write(root.join(name), content).unwrap();
    }
    Server::launch(home, root, Some(&auth), extra)
}

/// `sft ARGS[0] SERVER --server-key FP ARGS[1..]`.
fn run(client: &Client, server: &Server, args: &[&str]) -> Output {
    let target = server.target();
    let mut all: Vec<&str> = vec![args[0], &target];
    all.extend(["--server-key", &server.host_fp]);
    all.extend(&args[1..]);
    client.sft(&all)
}

fn out_dir(client: &Client) -> PathBuf {
    let dir = client.dir().join("down");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_read_only_key_can_get_and_list_but_not_upload_or_mkdir() {
    let client = Client::new();
    let server = server_with(&client, "read-only", &[], &[("there.txt", b"hello")]);
    let file = random_file(client.dir(), "up.bin", 100);
    let out = run(&client, &server, &["put", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "a refused request");
    assert!(
        stderr(&out).contains("this key is read-only"),
        "{}",
        stderr(&out)
    );
    assert!(!server.root_names().contains(&"up.bin".to_string()));

    let tree = client.dir().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    let out = run(&client, &server, &["put", "-r", tree.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "a refused request");
    assert!(
        stderr(&out).contains("this key is read-only"),
        "{}",
        stderr(&out)
    );
    assert!(!server.root_names().contains(&"tree".to_string()));

    let out = run(&client, &server, &["ls"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("there.txt"));
    let down = out_dir(&client);
    let out = run(
        &client,
        &server,
        &["get", "there.txt", "-o", down.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(down.join("there.txt")).unwrap(), b"hello");
}

#[test]
fn a_write_only_key_can_put_a_tree_but_not_get_or_list() {
    let client = Client::new();
    let server = server_with(&client, "write-only", &[], &[("there.txt", b"hello")]);
    let down = out_dir(&client);
    let out = run(
        &client,
        &server,
        &["get", "there.txt", "-o", down.to_str().unwrap()],
    );
    assert_eq!(code(&out), 1, "a refused request");
    assert!(
        stderr(&out).contains("this key is write-only"),
        "{}",
        stderr(&out)
    );
    assert!(!down.join("there.txt").exists());
    let out = run(&client, &server, &["ls"]);
    assert_eq!(code(&out), 1, "a refused request");
    assert!(
        stderr(&out).contains("this key is write-only"),
        "{}",
        stderr(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("there.txt"));

    let tree = client.dir().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("top.txt"), b"top").unwrap();
    std::fs::write(tree.join("a/b/deep.txt"), b"deep").unwrap();
    let out = run(&client, &server, &["put", "-r", tree.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("tree/a/b/deep.txt")).unwrap(),
        b"deep"
    );
    // Again, skipping what is there: a batch re-run works too.
    let out = run(
        &client,
        &server,
        &["put", "-r", "--skip-existing", tree.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn the_overwrite_option_wins_over_the_server_flag_either_way() {
    let client = Client::new();
    let file = client.dir().join("there.txt");
    std::fs::write(&file, b"new").unwrap();
    let path = file.to_str().unwrap();

    let server = server_with(&client, "overwrite", &[], &[("there.txt", b"old")]);
    let out = run(&client, &server, &["put", "--overwrite", path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("there.txt")).unwrap(),
        b"new"
    );

    let server = server_with(
        &client,
        "no-overwrite",
        &["--allow-overwrite"],
        &[("there.txt", b"old")],
    );
    let out = run(&client, &server, &["put", "--overwrite", path]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("no-overwrite"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("there.txt")).unwrap(),
        b"old"
    );
}

#[test]
fn max_sessions_admits_n_and_makes_one_more_wait_its_turn() {
    let client = Client::new();
    let server = server_with(&client, "max-sessions=1", &["--threads", "2"], &[]);
    // One session, held mid-upload.
    let (proxy, held) = stalled_upload(&server, &client, "big.bin");
    // One more: refused as busy, the client waits and retries.
    let small = random_file(client.dir(), "small.bin", 100);
    let mut second = client.spawn(&[
        "put",
        &server.target(),
        "--server-key",
        &server.host_fp,
        small.to_str().unwrap(),
    ]);
    let mut err = BufReader::new(second.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("retrying") {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "second put ended without retrying"
        );
    }
    assert!(server.wait_log("holds its max-sessions=1 sessions"));
    assert!(!server.root_names().contains(&"small.bin".to_string()));
    // The first ends; the second gets in on a retry.
    proxy.release();
    let out = held.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = second.wait_with_output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(server.root_names().contains(&"small.bin".to_string()));
}

#[test]
fn a_bad_option_at_start_stops_the_server_naming_it() {
    let client = Client::new();
    let line = std::fs::read_to_string(client.public_key()).unwrap();
    for (options, named) in [
        ("max-sessions=0", "max-sessions"),
        ("root=../up", "root"),
        ("chmod", "unknown option \"chmod\""),
    ] {
        let home = tempfile::TempDir::new().unwrap();
        let auth = home.path().join("authorized_keys");
        std::fs::write(&auth, format!("{options} {line}")).unwrap();
        let out = serve_once(home.path(), &auth);
        assert_eq!(code(&out), 2, "{options}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{options}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("line 1"),
            "{options}: {}",
            stderr(&out)
        );
    }
}
