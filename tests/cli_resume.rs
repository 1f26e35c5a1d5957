//! Resumed uploads through the real `sft` binary (issue 10): a 64 MiB
//! upload cut by the relay at 20 seeded random points goes on from what
//! the server holds and sends only the rest; a killed client or a killed
//! server resumes too; held bytes that differ from the file (a flipped
//! byte, another file of the same name and size) are sent whole again; a
//! partial belongs to one client key and is never exposed.
//!
//! Run in release (`cargo test --release --locked --test cli_resume`):
//! the files are 64 MiB. The seed of the cut points is printed;
//! `SFT_TEST_SEED=N` repeats a run.

mod e2e;

use std::fs;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use e2e::proxy::{Fault, Proxy};
use e2e::*;
use tempfile::TempDir;

const SIZE: u64 = 64 << 20;
const MIB: u64 = 1 << 20;

/// `sft put TARGET --server-key FP FILES...` from the client's home.
fn put(client: &Client, target: &str, fp: &str, files: &[&str]) -> Output {
    let mut args = vec!["put", target, "--server-key", fp];
    args.extend(files);
    client.sft(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Uploads `name` through a relay that cuts it after `after` bytes
/// (client to server), then waits until the server has seen the cut and
/// kept the partial. Returns the relay (its next connection is faithful),
/// the partial's path and how many bytes it holds, which the server's log
/// line states too.
fn cut_upload(server: &Server, client: &Client, name: &str, after: u64) -> (Proxy, PathBuf, u64) {
    let proxy = Proxy::start(server.addr, &[Fault::CutUp { after }]);
    let out = put(client, &proxy.addr.to_string(), &server.host_fp, &[name]);
    assert_ne!(code(&out), 0, "the cut run failed: {}", stderr(&out));
    let line = server
        .wait_line(&[&format!("upload {name:?} from"), "kept to resume"])
        .expect("the server kept the partial");
    let part = partial_path(&server.root, &client.key(), name);
    let held = len_or_zero(&part);
    assert!(held > 0 && held < SIZE, "held {held}: {line}");
    assert!(
        line.contains(&format!("abandoned after {held} of {SIZE} bytes")),
        "the partial holds what the server wrote: {held}, {line}"
    );
    (proxy, part, held)
}

/// Re-runs the upload of `name` through `proxy`'s faithful second
/// connection; returns the output and the bytes relayed client to server.
fn rerun(server: &Server, client: &Client, proxy: &Proxy, name: &str) -> (Output, u64) {
    let out = put(client, &proxy.addr.to_string(), &server.host_fp, &[name]);
    let conn = proxy.conn(1);
    conn.wait_closed();
    (out, conn.up())
}

/// Asserts the re-run resumed after exactly `held` bytes and stored
/// `content` under `name`, leaving no partial.
fn assert_resumed(server: &Server, out: &Output, name: &str, held: u64, content: &[u8]) {
    let (err, text) = (stderr(out), stdout(out));
    assert_eq!(code(out), 0, "{err}");
    assert!(
        err.contains(&format!("sft: {name} -> {name}: resuming after the ")),
        "{err}"
    );
    assert!(
        text.contains(&format!("(resumed: {held} were already there)")),
        "{text}"
    );
    assert!(server
        .wait_line(&[
            &format!("upload {name:?} from"),
            &format!("resuming after {held} bytes")
        ])
        .is_some());
    assert!(
        fs::read(server.root.join(name)).unwrap() == content,
        "{name} differs"
    );
    assert_eq!(temp_names(&server.root), Vec::<String>::new());
}

/// Asserts the re-run was told the held bytes differ, sent `relayed` >=
/// the whole file, and stored `content`.
fn assert_sent_whole(server: &Server, out: &Output, relayed: u64, name: &str, content: &[u8]) {
    let (err, text) = (stderr(out), stdout(out));
    assert_eq!(code(out), 0, "{err}");
    assert!(
        err.contains("already there differ from the file; sending it whole"),
        "{err}"
    );
    assert!(!text.contains("resumed"), "{text}");
    assert!(relayed >= SIZE, "the whole file went again: {relayed}");
    assert!(server
        .wait_line(&[&format!("upload {name:?} from"), "restarting at 0"])
        .is_some());
    assert!(
        fs::read(server.root.join(name)).unwrap() == content,
        "{name} differs"
    );
    assert_eq!(temp_names(&server.root), Vec::<String>::new());
}

#[test]
fn uploads_cut_at_twenty_random_points_resume_and_send_only_the_rest() {
    let (server, client) = pair();
    let src = random_file(client.dir(), "src.bin", SIZE as usize);
    let content = fs::read(&src).unwrap();
    let (mut rng, seed) = Rng::from_env_or_clock();
    eprintln!("cut points from seed {seed} (SFT_TEST_SEED={seed} repeats them)");
    let names: Vec<String> = (0..20).map(|i| format!("f{i:02}.bin")).collect();
    // One content under 20 names, linked before any transfer starts.
    for name in &names {
        fs::hard_link(&src, client.dir().join(name)).unwrap();
    }
    for name in &names {
        // Far enough in that a whole resend would break the bound below
        // (the server holds more than a MiB), and before the end.
        let after = rng.range(2 * MIB, SIZE - MIB);
        let (proxy, _, held) = cut_upload(&server, &client, name, after);
        let (out, relayed) = rerun(&server, &client, &proxy, name);
        assert_resumed(&server, &out, name, held, &content);
        assert!(
            relayed < SIZE - held + MIB,
            "{name} cut after {after}: held {held}, re-run relayed {relayed}"
        );
        fs::remove_file(server.root.join(name)).unwrap();
    }
}

#[test]
fn a_killed_client_resumes() {
    let (server, client) = pair();
    let file = random_file(client.dir(), "k.bin", SIZE as usize);
    let proxy = Proxy::start(server.addr, &[Fault::StallUp { after: 24 * MIB }]);
    let mut child = client.spawn(&[
        "put",
        &proxy.addr.to_string(),
        "--server-key",
        &server.host_fp,
        "k.bin",
    ]);
    proxy.wait_stalled();
    let part = partial_path(&server.root, &client.key(), "k.bin");
    // The server writes what the relay let through as it reads it.
    assert!(wait_until(|| len_or_zero(&part) >= 20 * MIB));
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.cut();
    assert!(server
        .wait_line(&["upload \"k.bin\" from", "kept to resume"])
        .is_some());
    let held = len_or_zero(&part);
    let out = put(&client, &server.target(), &server.host_fp, &["k.bin"]);
    assert_resumed(&server, &out, "k.bin", held, &fs::read(file).unwrap());
}

#[test]
fn a_killed_server_restarted_on_its_root_resumes() {
    let (server, client) = pair();
    let file = random_file(client.dir(), "s.bin", SIZE as usize);
    let proxy = Proxy::start(server.addr, &[Fault::StallUp { after: 24 * MIB }]);
    let child = client.spawn(&[
        "put",
        &proxy.addr.to_string(),
        "--server-key",
        &server.host_fp,
        "s.bin",
    ]);
    proxy.wait_stalled();
    let part = partial_path(&server.root, &client.key(), "s.bin");
    assert!(wait_until(|| len_or_zero(&part) >= 20 * MIB));
    // SIGKILL: no shutdown, nothing logged; the partial stays as written.
    let server = server.kill_and_restart(Some(&client.public_key()), &[]);
    proxy.cut();
    let out = child.wait_with_output().unwrap();
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    let held = len_or_zero(&part);
    assert!(held >= 20 * MIB, "{held}");
    // The same host key on a new port: --server-key still matches.
    let out = put(&client, &server.target(), &server.host_fp, &["s.bin"]);
    assert_resumed(&server, &out, "s.bin", held, &fs::read(file).unwrap());
}

#[test]
fn a_flipped_byte_in_the_partial_sends_the_file_whole() {
    let (server, client) = pair();
    let file = random_file(client.dir(), "flip.bin", SIZE as usize);
    let (proxy, part, held) = cut_upload(&server, &client, "flip.bin", 30 * MIB);
    flip_byte(&part, held / 2);
    let (out, relayed) = rerun(&server, &client, &proxy, "flip.bin");
    assert_sent_whole(&server, &out, relayed, "flip.bin", &fs::read(file).unwrap());
}

#[test]
fn another_file_of_the_same_name_and_size_is_sent_whole() {
    let (server, client) = pair();
    let file = random_file(client.dir(), "same.bin", SIZE as usize);
    let (proxy, _, _) = cut_upload(&server, &client, "same.bin", 30 * MIB);
    let other: Vec<u8> = fs::read(&file).unwrap().iter().map(|b| b ^ 0x5a).collect();
    fs::write(&file, &other).unwrap();
    let (out, relayed) = rerun(&server, &client, &proxy, "same.bin");
    assert_sent_whole(&server, &out, relayed, "same.bin", &other);
}

#[test]
fn a_partial_is_resumed_by_its_key_only_and_never_listed_or_fetched() {
    let first = Client::new();
    let second = Client::new();
    let server = Server::start(None, &[]);
    let file = random_file(first.dir(), "x.bin", SIZE as usize);
    random_file(second.dir(), "x.bin", SIZE as usize);
    let content = fs::read(file).unwrap();
    let (_proxy, part, held) = cut_upload(&server, &first, "x.bin", 30 * MIB);
    let before = (
        fs::read(&part).unwrap(),
        fs::metadata(&part).unwrap().modified().unwrap(),
    );
    assert!(before.0 == content[..held as usize]);

    // The same path, the same bytes, another key: from 0.
    let proxy = Proxy::start(server.addr, &[]);
    let out = put(
        &second,
        &proxy.addr.to_string(),
        &server.host_fp,
        &["x.bin"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("already there"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("resumed"), "{}", stdout(&out));
    let conn = proxy.conn(0);
    conn.wait_closed();
    assert!(conn.up() >= SIZE, "all of it was sent: {}", conn.up());
    assert!(fs::read(server.root.join("x.bin")).unwrap() == content);
    let after = (
        fs::read(&part).unwrap(),
        fs::metadata(&part).unwrap().modified().unwrap(),
    );
    assert!(after == before, "the first key's partial is untouched");

    // Neither listed nor fetched, by its owner or anyone.
    let part_name = part.file_name().unwrap().to_str().unwrap().to_string();
    let target = server.target();
    for client in [&first, &second] {
        for args in [&["ls"][..], &["ls", "-l"], &["ls", "-R"]] {
            let mut all = args.to_vec();
            all.extend([target.as_str(), "--server-key", &server.host_fp]);
            let out = client.sft(&all);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert!(stdout(&out).contains("x.bin"), "{}", stdout(&out));
            assert!(!stdout(&out).contains(".sft-part"), "{}", stdout(&out));
        }
        let down = client.dir().join("down");
        fs::create_dir_all(&down).unwrap();
        let out = client.sft(&[
            "get",
            &server.target(),
            "--server-key",
            &server.host_fp,
            &part_name,
            "-o",
            down.to_str().unwrap(),
        ]);
        assert_ne!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(fs::read_dir(&down).unwrap().count(), 0);
    }
    assert!(fs::read(&part).unwrap() == before.0);
}

/// Starts a server (`extra` flags) whose root holds a 1000-byte partial of
/// `client` for each (path, age); returns it and the partials' paths.
fn server_with_partials(
    client: &Client,
    partials: &[(&str, Duration)],
    extra: &[&str],
) -> (Server, Vec<PathBuf>) {
    let home = TempDir::new().unwrap();
    let root = home.path().join("root");
    fs::create_dir(&root).unwrap();
    let paths: Vec<PathBuf> = partials
        .iter()
        .map(|(path, age)| {
            let part = partial_path(&root, &client.key(), path);
            fs::write(&part, [7u8; 1000]).unwrap();
            set_age(&part, *age);
            part
        })
        .collect();
    let server = Server::launch(home, root, Some(&client.public_key()), extra);
    (server, paths)
}

#[test]
fn partials_older_than_the_ttl_are_swept_when_the_server_starts() {
    let client = Client::new();
    let hour = Duration::from_secs(3600);
    // The default --partial-ttl, 24h.
    let ages = [
        ("a", 48 * hour),
        ("b", 25 * hour),
        ("c", 23 * hour),
        ("d", Duration::ZERO),
    ];
    let (server, parts) = server_with_partials(&client, &ages, &[]);
    assert!(server
        .wait_line(&["swept 2 expired partial file(s)"])
        .is_some());
    let left: Vec<bool> = parts.iter().map(|p| p.exists()).collect();
    assert_eq!(left, [false, false, true, true]);

    // --partial-ttl 1h: a minute past it goes, a minute short stays.
    let ages = [
        ("a", 61 * Duration::from_secs(60)),
        ("b", 59 * Duration::from_secs(60)),
    ];
    let (server, parts) = server_with_partials(&client, &ages, &["--partial-ttl", "1h"]);
    assert!(server
        .wait_line(&["swept 1 expired partial file(s)"])
        .is_some());
    let left: Vec<bool> = parts.iter().map(|p| p.exists()).collect();
    assert_eq!(left, [false, true]);
}
