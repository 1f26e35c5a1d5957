//! authorized_keys while the server runs, end to end through the `sft`
//! binary: keys added or removed are in force for the next handshake
//! (on change and on SIGHUP), sessions already established go on.

mod e2e;

use std::path::Path;
use std::process::Child;

use e2e::*;

/// Replaces the server's authorized_keys with `lines` at once (written
/// aside, then renamed over it, as editors do).
fn write_keys(server: &Server, lines: &[String]) {
    let path = server.home().join("authorized_keys");
    let aside = server.home().join("authorized_keys.new");
    std::fs::write(&aside, lines.concat()).unwrap();
    std::fs::rename(aside, path).unwrap();
}

fn key_line(client: &Client) -> String {
    std::fs::read_to_string(client.public_key()).unwrap()
}

fn put(client: &Client, target: &str, server: &Server, file: &Path) -> std::process::Output {
    client.sft(&[
        "put",
        target,
        "--server-key",
        &server.host_fp,
        file.to_str().unwrap(),
    ])
}

fn finish(child: Child) -> std::process::Output {
    child.wait_with_output().unwrap()
}

#[test]
fn a_key_added_on_the_fly_gets_in_while_a_transfer_in_flight_completes() {
    let (server, a) = pair();
    let b = Client::new();
    let b_file = random_file(b.dir(), "b.bin", 1000);
    let out = put(&b, &server.target(), &server, &b_file);
    assert_eq!(code(&out), 5, "not yet authorized: {}", stderr(&out));

    let (proxy, a_put) = stalled_upload(&server, &a, "a.bin");
    write_keys(&server, &[key_line(&a), key_line(&b)]);
    assert!(server.wait_log("authorized_keys reloaded: 2 keys (was 1)"));
    let out = put(&b, &server.target(), &server, &b_file);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    proxy.release();
    let out = finish(a_put);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(server.root_names().contains(&"a.bin".to_string()));
    assert!(server.root_names().contains(&"b.bin".to_string()));
}

#[test]
fn a_removed_key_is_refused_while_its_open_session_finishes() {
    let (server, a) = pair();
    let b = Client::new();
    let (proxy, a_put) = stalled_upload(&server, &a, "a.bin");
    write_keys(&server, &[key_line(&b)]);
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 1)"));
    let small = random_file(a.dir(), "small.bin", 1000);
    let out = put(&a, &server.target(), &server, &small);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused this client's key"),
        "{}",
        stderr(&out)
    );

    proxy.release();
    let out = finish(a_put);
    assert_eq!(
        code(&out),
        0,
        "the session it had goes on: {}",
        stderr(&out)
    );
    assert!(server.root_names().contains(&"a.bin".to_string()));
    assert!(!server.root_names().contains(&"small.bin".to_string()));
}

#[test]
fn sighup_reloads_the_file() {
    let (server, a) = pair();
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert!(server.wait_log("SIGHUP: reloading"));
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 1)"));
    let file = random_file(a.dir(), "x.bin", 1000);
    let out = put(&a, &server.target(), &server, &file);
    assert_eq!(code(&out), 0, "the server still runs: {}", stderr(&out));
}

/// SIGHUP (`systemctl reload`) never ends a server, with no
/// authorized_keys to reload either.
#[test]
fn sighup_leaves_a_server_without_authorized_keys_serving() {
    let a = Client::new();
    let mut server = Server::start(None, &[]);
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let file = random_file(a.dir(), "x.bin", 1000);
    let out = put(&a, &server.target(), &server, &file);
    assert_eq!(code(&out), 0, "the server still runs: {}", stderr(&out));
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
}

#[test]
fn a_bad_line_on_reload_is_skipped_and_named_and_the_rest_applies() {
    let (server, a) = pair();
    let b = Client::new();
    let bad_b = format!("no-such-option {}", key_line(&b));
    write_keys(&server, &[key_line(&a), bad_b]);
    let line = server
        .wait_line(&["authorized_keys:2:", "unknown option \"no-such-option\""])
        .expect("the bad line is named");
    assert!(line.contains("refused"), "{line}");
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 1)"));
    let a_file = random_file(a.dir(), "a.bin", 100);
    assert_eq!(code(&put(&a, &server.target(), &server, &a_file)), 0);
    let b_file = random_file(b.dir(), "b.bin", 100);
    assert_eq!(code(&put(&b, &server.target(), &server, &b_file)), 5);
}

#[test]
fn a_missing_file_refuses_every_client_until_it_is_back() {
    let (server, a) = pair();
    let path = server.home().join("authorized_keys");
    std::fs::remove_file(&path).unwrap();
    assert!(server.wait_log("is missing: every client is refused"));
    let file = random_file(a.dir(), "a.bin", 100);
    assert_eq!(code(&put(&a, &server.target(), &server, &file)), 5);
    write_keys(&server, &[key_line(&a)]);
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 0)"));
    assert_eq!(code(&put(&a, &server.target(), &server, &file)), 0);
}

#[test]
fn a_bad_line_at_start_still_stops_the_server_naming_it() {
    let a = Client::new();
    let home = tempfile::TempDir::new().unwrap();
    let auth = home.path().join("authorized_keys");
    std::fs::write(
        &auth,
        format!("{}read-only,write-only {}", key_line(&a), key_line(&a)),
    )
    .unwrap();
    let out = serve_once(home.path(), &auth);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exclude each other"),
        "{}",
        stderr(&out)
    );
}

/// As sshd's StrictModes: an authorized_keys another user could write
/// (group- or world-writable) stops the server at start and is not
/// reloaded while it runs, the keys in force staying.
#[test]
fn a_file_others_may_write_is_refused_at_start_and_not_reloaded() {
    use std::os::unix::fs::PermissionsExt;
    let (server, a) = pair();
    let b = Client::new();
    let path = server.home().join("authorized_keys");
    write_keys(&server, &[key_line(&a), key_line(&b)]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let line = server
        .wait_line(&["authorized_keys not reloaded, the 1 keys in force stay"])
        .expect("the reload is refused");
    assert!(line.contains("bad owner or permissions"), "{line}");
    assert!(line.contains("mode 666"), "{line}");
    let b_file = random_file(b.dir(), "b.bin", 100);
    assert_eq!(code(&put(&b, &server.target(), &server, &b_file)), 5);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(server.wait_log("authorized_keys reloaded: 2 keys (was 1)"));
    assert_eq!(code(&put(&b, &server.target(), &server, &b_file)), 0);

    let home = tempfile::TempDir::new().unwrap();
    let auth = home.path().join("authorized_keys");
    std::fs::write(&auth, key_line(&a)).unwrap();
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o620)).unwrap();
    let out = serve_once(home.path(), &auth);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let want = format!("bad owner or permissions on {}", auth.display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod go-w"), "{}", stderr(&out));
}

/// A reload warns about at most 20 bad lines one by one, then counts the
/// rest in one line: a garbled file cannot flood the log on each reload.
#[test]
fn a_reload_warns_about_twenty_bad_lines_and_counts_the_rest() {
    let (server, a) = pair();
    let bad = |n: usize| -> Vec<String> {
        let mut lines = vec![key_line(&a)];
        lines.extend((0..n).map(|i| format!("garbage-{i} line\n")));
        lines
    };
    write_keys(&server, &bad(20));
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 1)"));
    assert_eq!(server.log_count("that key is refused"), 20, "at the limit");
    assert!(!server.log_contains("more such lines"));
    write_keys(&server, &bad(21));
    assert!(server.wait_log("... and 1 more such lines"), "one past it");
    assert_eq!(server.log_count("that key is refused"), 40);
}
