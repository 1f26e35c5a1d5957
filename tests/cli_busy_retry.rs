//! A client refused as busy (alert 8) tries again, with bounded, jittered
//! backoff, before it gives up; nothing else is retried, and a signal
//! during the backoff ends it with exit 130.

mod e2e;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::*;

/// How the fake server answers one connection.
#[derive(Clone, Copy)]
enum Answer {
    /// The Busy record, then a graceful close (as `sft serve` refuses).
    Busy,
    /// A close with no answer.
    Close,
    /// Nothing: the connection is held open.
    Silent,
}

/// A fake server on 127.0.0.1 answering connection `i` (from 0) with
/// `answer(i)`. Returns its address and the count of accepted connections.
fn fake_server(answer: fn(usize) -> Answer) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (i, sock) in listener.incoming().enumerate() {
            let mut sock = sock.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            match answer(i) {
                Answer::Busy => refuse(&mut sock),
                Answer::Close => drop(sock),
                Answer::Silent => held.push(sock),
            }
        }
    });
    (addr, accepted)
}

/// Writes the Busy record, then closes without a reset (§5.2): FIN, and
/// read what the client sent until it closes too.
fn refuse(sock: &mut TcpStream) {
    sock.write_all(&sft::proto::conn::busy_record()).unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut sink = [0u8; 1024];
    while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
}

/// `sft ls TARGET` from `client`'s home, with stdout and stderr piped.
fn spawn_ls(client: &Client, target: &str, trust: &[&str]) -> Child {
    Command::new(SFT)
        .env("SFT_HOME", client.dir())
        .args(["ls", target])
        .args(trust)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stderr lines until one says the client is retrying; returns the
/// lines read, or all of them if none does.
fn until_retrying(stderr: &mut BufReader<ChildStderr>) -> Vec<String> {
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let done = line.contains("retrying");
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

#[test]
fn a_server_busy_every_time_is_tried_six_times_then_exit_3() {
    let client = Client::new();
    let (addr, accepted) = fake_server(|_| Answer::Busy);
    let out = client.sft(&["ls", &addr.to_string(), "--accept-new"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 6, "{err}");
    let retries: Vec<&str> = err.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 5, "{err}");
    for (line, attempt) in retries.iter().zip(2..) {
        assert!(
            line.starts_with(&format!("sft: server {addr} is busy; retrying in "))
                && line.ends_with(&format!(" s (attempt {attempt} of 6)")),
            "{line}"
        );
    }
    assert!(
        err.contains(&format!(
            "the server {addr} is busy (at its connection or rate limit); gave up after 6 attempts over "
        )) && err.contains(" s; nothing was sent"),
        "{err}"
    );
}

#[test]
fn a_failure_other_than_busy_is_not_retried() {
    let client = Client::new();
    let (addr, accepted) = fake_server(|_| Answer::Close);
    let out = client.sft(&["ls", &addr.to_string(), "--accept-new"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "{err}");
    assert!(!err.contains("retrying") && !err.contains("busy"), "{err}");
}

#[test]
fn a_signal_during_the_backoff_exits_130_and_tries_no_more() {
    for signal in ["-INT", "-TERM"] {
        let client = Client::new();
        // Busy once; the second attempt, if the signal comes after the
        // wait, hangs in its handshake (deadline 60 s, a failure) until the signal.
        let (addr, accepted) = fake_server(|i| if i == 0 { Answer::Busy } else { Answer::Silent });
        let trust = ["--accept-new", "--handshake-timeout", "60s"];
        let mut child = spawn_ls(&client, &addr.to_string(), &trust);
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let seen = until_retrying(&mut err);
        assert!(
            seen.last().is_some_and(|l| l.contains("retrying")),
            "{seen:?}"
        );
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(130), "{signal}: {rest}");
        assert!(!rest.contains("retrying"), "{signal}: {rest}");
        assert!(accepted.load(Ordering::SeqCst) <= 2);
    }
}

#[test]
fn a_full_server_admits_the_client_once_a_slot_frees() {
    let client = Client::new();
    let home = tempfile::TempDir::new().unwrap();
    let root = home.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("listed.txt"), b"hello").unwrap();
    let server = Server::launch(
        home,
        root,
        Some(&client.public_key()),
        &["--max-connections", "1"],
    );
    // An authenticated session holds the only slot; it is never evicted.
    let held = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    let mut child = spawn_ls(
        &client,
        &server.target(),
        &["--server-key", &server.host_fp],
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let seen = until_retrying(&mut err);
    assert!(
        seen.last().is_some_and(|l| l.contains("retrying")),
        "{seen:?}"
    );
    drop(held);
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{seen:?} {rest}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("listed.txt"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(server.log_contains("no free connection slot"));
}
