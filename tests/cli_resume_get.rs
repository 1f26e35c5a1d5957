//! Resumed downloads through the real `sft` binary (issue 10): a 64 MiB
//! download cut by the relay at 5 seeded random points goes on from the
//! client's partial and receives only the rest; a killed client resumes;
//! a partial with a flipped byte, or a server file replaced by another of
//! the same size, starts again from 0; a local file of the same name is
//! never touched; old client partials are swept by the next `get`.
//!
//! Run in release (`cargo test --release --locked --test cli_resume_get`):
//! the file is 64 MiB. The seed of the cut points is printed;
//! `SFT_TEST_SEED=N` repeats a run.

mod e2e;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use e2e::proxy::{Fault, Proxy};
use e2e::*;

const SIZE: u64 = 64 << 20;
const MIB: u64 = 1 << 20;

/// A server whose root holds `big.bin` (64 MiB), its content, a client.
fn setup() -> (Server, Vec<u8>, Client) {
    let client = Client::new();
    let src = random_file(client.dir(), "src.bin", SIZE as usize);
    let content = fs::read(src).unwrap();
    let server = Server::start_with_root(&client.public_key(), &[("big.bin", &content)]);
    (server, content, client)
}

/// `sft get TARGET --server-key FP PATHS... -o DIR`.
fn get(client: &Client, target: &str, fp: &str, paths: &[&str], dir: &Path) -> Output {
    let mut args = vec!["get", target, "--server-key", fp];
    args.extend(paths);
    args.extend(["-o", dir.to_str().unwrap()]);
    client.sft(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new empty directory `name` in the client's home.
fn out_dir(client: &Client, name: &str) -> PathBuf {
    let dir = client.dir().join(name);
    fs::create_dir(&dir).unwrap();
    dir
}

/// Downloads `big.bin` into `dir` through a relay that cuts it after
/// `after` bytes (server to client). Returns the relay (its next
/// connection is faithful), the client's partial and its length, final
/// once the client exited.
fn cut_get(server: &Server, client: &Client, dir: &Path, after: u64) -> (Proxy, PathBuf, u64) {
    let proxy = Proxy::start(server.addr, &[Fault::CutDown { after }]);
    let target = proxy.addr.to_string();
    let out = get(client, &target, &server.host_fp, &["big.bin"], dir);
    assert_ne!(code(&out), 0, "the cut run failed: {}", stderr(&out));
    let part = partial_path(dir, &server.host_key(), "big.bin");
    let held = len_or_zero(&part);
    assert!(held > 0 && held < SIZE, "held {held}");
    assert!(!dir.join("big.bin").exists());
    (proxy, part, held)
}

/// Re-runs the download through `proxy`'s faithful second connection;
/// returns the output and the bytes relayed server to client.
fn rerun(server: &Server, client: &Client, proxy: &Proxy, dir: &Path) -> (Output, u64) {
    let target = proxy.addr.to_string();
    let out = get(client, &target, &server.host_fp, &["big.bin"], dir);
    let conn = proxy.conn(1);
    conn.wait_closed();
    (out, conn.down())
}

/// Asserts the re-run resumed after exactly `held` bytes and stored
/// `content`, leaving no partial.
fn assert_resumed(server: &Server, out: &Output, dir: &Path, held: u64, content: &[u8]) {
    let (err, text) = (stderr(out), stdout(out));
    assert_eq!(code(out), 0, "{err}");
    assert!(err.contains("big.bin: resuming after the "), "{err}");
    assert!(
        text.contains(&format!("(resumed: {held} were already there)")),
        "{text}"
    );
    let resumed = format!("resuming after {held} bytes");
    assert!(server
        .wait_line(&["download \"big.bin\"", &resumed])
        .is_some());
    assert!(fs::read(dir.join("big.bin")).unwrap() == content);
    assert_eq!(temp_names(dir), Vec::<String>::new());
}

/// Asserts the re-run received `relayed` >= the whole file, said nothing
/// of a resume, and stored `content`.
fn assert_sent_whole(server: &Server, out: &Output, relayed: u64, dir: &Path, content: &[u8]) {
    let (err, text) = (stderr(out), stdout(out));
    assert_eq!(code(out), 0, "{err}");
    assert!(!err.contains("resuming after"), "{err}");
    // It says so, as an upload does (the held count is the partial's
    // before it is emptied).
    assert!(
        err.contains("already there differ from the file; sending it whole"),
        "{err}"
    );
    assert!(!text.contains("resumed"), "{text}");
    assert!(relayed >= SIZE, "the whole file came again: {relayed}");
    assert!(server
        .wait_line(&["download \"big.bin\"", "restarting at 0"])
        .is_some());
    assert!(fs::read(dir.join("big.bin")).unwrap() == content);
    assert_eq!(temp_names(dir), Vec::<String>::new());
}

#[test]
fn downloads_cut_at_five_random_points_resume_and_receive_only_the_rest() {
    let (server, content, client) = setup();
    let (mut rng, seed) = Rng::from_env_or_clock();
    eprintln!("cut points from seed {seed} (SFT_TEST_SEED={seed} repeats them)");
    for i in 0..5 {
        let dir = out_dir(&client, &format!("d{i}"));
        // More than a MiB held, so a whole resend breaks the bound below.
        let after = rng.range(2 * MIB, SIZE - MIB);
        let (proxy, _, held) = cut_get(&server, &client, &dir, after);
        let (out, relayed) = rerun(&server, &client, &proxy, &dir);
        assert_resumed(&server, &out, &dir, held, &content);
        assert!(
            relayed < SIZE - held + MIB,
            "cut after {after}: held {held}, re-run relayed {relayed}"
        );
    }
}

#[test]
fn a_download_whose_client_was_killed_resumes() {
    let (server, content, client) = setup();
    let dir = out_dir(&client, "down");
    let proxy = Proxy::start(server.addr, &[Fault::StallDown { after: 24 * MIB }]);
    let mut child = client.spawn(&[
        "get",
        &proxy.addr.to_string(),
        "--server-key",
        &server.host_fp,
        "big.bin",
        "-o",
        dir.to_str().unwrap(),
    ]);
    proxy.wait_stalled();
    let part = partial_path(&dir, &server.host_key(), "big.bin");
    // The client writes what the relay let through as it reads it.
    assert!(wait_until(|| len_or_zero(&part) >= 20 * MIB));
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.cut();
    let held = len_or_zero(&part);
    let out = get(
        &client,
        &server.target(),
        &server.host_fp,
        &["big.bin"],
        &dir,
    );
    assert_resumed(&server, &out, &dir, held, &content);
}

#[test]
fn a_flipped_byte_in_the_client_partial_starts_again_from_zero() {
    let (server, content, client) = setup();
    let dir = out_dir(&client, "down");
    let (proxy, part, held) = cut_get(&server, &client, &dir, 30 * MIB);
    flip_byte(&part, held / 2);
    let (out, relayed) = rerun(&server, &client, &proxy, &dir);
    assert_sent_whole(&server, &out, relayed, &dir, &content);
}

#[test]
fn a_server_file_replaced_by_another_of_the_same_size_starts_again_from_zero() {
    let (server, content, client) = setup();
    let dir = out_dir(&client, "down");
    let (proxy, _, _) = cut_get(&server, &client, &dir, 30 * MIB);
    let other: Vec<u8> = content.iter().map(|b| b ^ 0x5a).collect();
    fs::write(server.root.join("big.bin"), &other).unwrap();
    let (out, relayed) = rerun(&server, &client, &proxy, &dir);
    assert_sent_whole(&server, &out, relayed, &dir, &other);
}

#[test]
fn an_existing_local_file_is_never_modified() {
    let (server, _, client) = setup();
    let dir = out_dir(&client, "down");
    // A partial of the download is there too, to tempt a resume.
    let (_proxy, part, held) = cut_get(&server, &client, &dir, 30 * MIB);
    let mine = dir.join("big.bin");
    fs::write(&mine, b"my own file").unwrap();
    set_age(&mine, Duration::from_secs(3 * 86_400));
    let mtime = fs::metadata(&mine).unwrap().modified().unwrap();
    let out = get(
        &client,
        &server.target(),
        &server.host_fp,
        &["big.bin"],
        &dir,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(fs::read(&mine).unwrap(), b"my own file");
    assert_eq!(fs::metadata(&mine).unwrap().modified().unwrap(), mtime);
    assert_eq!(len_or_zero(&part), held);
}

#[test]
fn get_sweeps_client_partials_older_than_a_day() {
    let client = Client::new();
    let server = Server::start_with_root(&client.public_key(), &[("small.bin", b"small")]);
    let dir = out_dir(&client, "down");
    let hour = Duration::from_secs(3600);
    let ages = [("a", 48 * hour), ("b", 25 * hour), ("c", 23 * hour)];
    let parts: Vec<PathBuf> = ages
        .iter()
        .map(|(path, age)| {
            let part = partial_path(&dir, &server.host_key(), path);
            fs::write(&part, [7u8; 1000]).unwrap();
            set_age(&part, *age);
            part
        })
        .collect();
    let out = get(
        &client,
        &server.target(),
        &server.host_fp,
        &["small.bin"],
        &dir,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let left: Vec<bool> = parts.iter().map(|p| p.exists()).collect();
    assert_eq!(left, [false, false, true]);
    assert_eq!(fs::read(dir.join("small.bin")).unwrap(), b"small");
}
