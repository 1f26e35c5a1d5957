//! Output that cannot be written (a pipe whose reader left, a full disk)
//! never panics a command: every file is still sent, the failure is said
//! once on stderr, and the exit code is the transfers'. A stderr that
//! cannot be written is ignored the same way.

mod e2e;

use std::process::{Command, Output, Stdio};

use e2e::*;

/// The write end of a pipe whose reader has exited: every write to it
/// fails with EPIPE, from the first.
fn dead_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    assert!(reader.wait().unwrap().success());
    Stdio::from(write_end)
}

/// Runs `sft ARGS` as `client` with stdout going to `stdout`.
fn sft_to(client: &Client, stdout: Stdio, args: &[&str]) -> Output {
    Command::new(SFT)
        .env("SFT_HOME", client.dir())
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Puts three files with stdout going to `stdout`; all must be stored.
fn put_three(stdout: impl Fn() -> Stdio) {
    let (server, client) = pair();
    let names = ["s0", "s1", "s2"];
    let paths: Vec<String> = names
        .iter()
        .map(|n| {
            random_file(client.dir(), n, 1000)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let target = server.target();
    let mut args = vec!["put", &target, "--server-key", &server.host_fp];
    args.extend(paths.iter().map(String::as_str));
    let out = sft_to(&client, stdout(), &args);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("sft: cannot write to standard output").count(),
        1,
        "{err}"
    );
    assert_eq!(server.root_names(), names);
    // ls into the same output fails the same way, and still exits 0.
    let out = sft_to(
        &client,
        stdout(),
        &["ls", &target, "--server-key", &server.host_fp],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write to standard output"));
}

#[test]
fn a_put_into_a_closed_pipe_stores_every_file() {
    put_three(dead_pipe);
}

#[cfg(target_os = "linux")]
#[test]
fn a_put_into_a_full_disk_stores_every_file() {
    put_three(|| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        Stdio::from(full)
    });
}

#[test]
fn with_stdout_and_stderr_closed_a_put_stores_every_file_and_exits_by_its_transfers() {
    let (server, client) = pair();
    let a = random_file(client.dir(), "a", 1000);
    let missing = client.dir().join("missing");
    let target = server.target();
    let out = Command::new(SFT)
        .env("SFT_HOME", client.dir())
        .args(["put", &target, "--accept-new", "--receipt-dir"])
        .arg(client.dir().join("receipts"))
        .arg(&a)
        .arg(&missing)
        .stdin(Stdio::null())
        .stdout(dead_pipe())
        .stderr(dead_pipe())
        .output()
        .unwrap();
    // 1: one file failed (the missing one); a panic on the dead stderr
    // would be 101 and would have stopped before the summary.
    assert_eq!(code(&out), 1);
    assert_eq!(server.root_names(), ["a"]);
    // Offline commands are the same: the error they print on stderr (a
    // file that is not there, exit 2) does not turn into a crash.
    let out = Command::new(SFT)
        .args(["receipt", "verify"])
        .arg(&missing)
        .stdout(dead_pipe())
        .stderr(dead_pipe())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}
