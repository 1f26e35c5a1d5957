//! End to end through the real `sft` binary on 127.0.0.1 with port 0.

mod e2e;

use std::process::Command;
use std::time::Instant;

use e2e::*;

#[test]
fn sizes_round_trip_byte_identical() {
    let (server, client) = pair();
    let sizes = [0, 1, CHUNK, CHUNK + 1, 64 << 20];
    let mut args = vec!["put".to_string(), server.target(), "--accept-new".into()];
    for size in sizes {
        let p = random_file(client.dir(), &format!("f{size}"), size);
        args.push(p.to_string_lossy().into_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = client.sft(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for size in sizes {
        let name = format!("f{size}");
        let stored = std::fs::read(server.root.join(&name)).unwrap();
        assert_eq!(
            stored,
            std::fs::read(client.dir().join(&name)).unwrap(),
            "{name} upload"
        );
    }
    assert!(!server
        .root_names()
        .iter()
        .any(|n| n.starts_with(".sft-part-")));

    let down = client.dir().join("down");
    // Like scp, a missing destination directory is an error, not created.
    let out = client.sft(&["get", &server.target(), "f1", "-o", down.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    std::fs::create_dir(&down).unwrap();
    let mut args = vec![
        "get".to_string(),
        server.target(),
        "-o".into(),
        down.to_string_lossy().into_owned(),
    ];
    args.extend(sizes.iter().map(|s| format!("f{s}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = client.sft(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for size in sizes {
        let name = format!("f{size}");
        assert_eq!(
            std::fs::read(down.join(&name)).unwrap(),
            std::fs::read(client.dir().join(&name)).unwrap(),
            "{name} download"
        );
    }

    // `ls` prints the names, sorted; `ls -l` the sizes too.
    let out = client.sft(&["ls", &server.target()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut names: Vec<String> = sizes.iter().map(|s| format!("f{s}")).collect();
    names.sort();
    assert_eq!(listing.lines().collect::<Vec<_>>(), names, "{listing}");
    let out = client.sft(&["ls", "-l", &server.target()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let big = listing.lines().find(|l| l.ends_with(" f67108864"));
    let columns: Vec<&str> = big.expect(&listing).split_whitespace().collect();
    assert_eq!(columns[1], (64 << 20).to_string(), "{listing}");
}

#[test]
fn unauthorized_client_is_refused_and_nothing_is_written() {
    let (server, _authorized) = pair();
    let stranger = Client::new();
    let f = random_file(stranger.dir(), "x.bin", 1000);
    let out = stranger.sft(&["put", &server.target(), "--accept-new", f.to_str().unwrap()]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("refused this client's key"));
    assert!(
        stderr(&out).contains("sft-ed25519 "),
        "hint shows the key line: {}",
        stderr(&out)
    );
    assert!(server.root_names().is_empty());
    assert!(server.wait_log("is not authorized"));
}

#[test]
fn server_identity_checks() {
    let (server, client) = pair();
    let f = random_file(client.dir(), "x.bin", 5000);
    let file = f.to_str().unwrap();

    // Unknown host, no terminal, no --accept-new.
    let out = client.sft(&["put", &server.target(), file]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("--accept-new") && stderr(&out).contains(&server.host_fp));

    // Wrong --server-key: refused before any file data.
    let wrong = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    let out = client.sft(&["put", &server.target(), "--server-key", wrong, file]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(wrong) && stderr(&out).contains(&server.host_fp));
    assert!(
        !client.dir().join("known_hosts").exists(),
        "--server-key never touches known_hosts"
    );

    // The right --server-key works.
    let out = client.sft(&[
        "put",
        &server.target(),
        "--server-key",
        &server.host_fp,
        file,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A changed key in known_hosts is a loud failure naming both.
    std::fs::write(
        client.dir().join("known_hosts"),
        format!("{} {wrong}\n", server.target()),
    )
    .unwrap();
    let out = client.sft(&["ls", &server.target()]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains("HAS CHANGED") && msg.contains(wrong) && msg.contains(&server.host_fp),
        "{msg}"
    );
    assert_eq!(
        server.root_names(),
        vec!["x.bin".to_string()],
        "only the pinned upload landed"
    );
    assert!(!server
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("upload") && l.contains("started") && l.contains(wrong)));
}

#[test]
fn names_and_overwrite_rules() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &[]);
    let t = server.target();
    let sub = client.dir().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let f = random_file(&sub, "doc.txt", 10);

    // A path with directories is stored under its base name only.
    let traversal = format!("{}/../sub/doc.txt", sub.display());
    let out = client.sft(&["put", &t, "--accept-new", &traversal]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.root_names(), vec!["doc.txt".to_string()]);

    // A directory without -r is refused locally, naming the flag.
    let out = client.sft(&["put", &t, sub.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a directory (use -r)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.root_names(), vec!["doc.txt".to_string()]);

    // A control character in the name is refused locally; nothing is sent.
    let bad = random_file(client.dir(), "bell\u{7}.txt", 10);
    let out = client.sft(&["put", &t, bad.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("contains a control or invisible formatting character"));
    // Asking for a traversal name is refused locally too.
    let out = client.sft(&[
        "get",
        &t,
        "../../etc/passwd",
        "-o",
        client.dir().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(server.root_names(), vec!["doc.txt".to_string()]);

    // Existing target: refused without --overwrite, content untouched.
    std::fs::write(&f, b"new content").unwrap();
    let out = client.sft(&["put", &t, f.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    // --overwrite, but this server does not allow it.
    let out = client.sft(&["put", &t, "--overwrite", f.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--allow-overwrite"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(server.root.join("doc.txt")).unwrap().len(),
        10
    );
    // Asking to overwrite a name the server does not have is no overwrite:
    // stored, even where overwriting is not allowed.
    let fresh = random_file(client.dir(), "fresh.txt", 7);
    let out = client.sft(&["put", &t, "--overwrite", fresh.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("fresh.txt")).unwrap().len(),
        7
    );

    // A download never overwrites a local file.
    let out = client.sft(&["get", &t, "doc.txt", "-o", sub.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(std::fs::read(&f).unwrap(), b"new content");
}

#[test]
fn overwrite_when_both_sides_agree() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--allow-overwrite"]);
    let f = random_file(client.dir(), "a.bin", 100);
    let t = server.target();
    assert_eq!(
        code(&client.sft(&["put", &t, "--accept-new", f.to_str().unwrap()])),
        0
    );
    std::fs::write(&f, b"second version").unwrap();
    let out = client.sft(&["put", &t, "--overwrite", f.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("a.bin")).unwrap(),
        b"second version"
    );
}

#[test]
fn connection_cut_mid_transfer_leaves_no_file() {
    let (server, client) = pair();
    let mut raw = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    raw.conn
        .request_upload("cut.bin", 10 << 20, false, None, false, 1_764_000_100)
        .unwrap();
    while !raw.conn.wants_data() {
        raw.step().unwrap();
    }
    let chunk = vec![7u8; CHUNK];
    for _ in 0..8 {
        raw.conn.send_data(&chunk).unwrap();
    }
    while raw.conn.wants_write() {
        raw.conn.write_tls(&mut raw.sock, Instant::now()).unwrap();
    }
    assert!(
        server.wait_log("cut.bin\" (10485760 bytes)"),
        "upload started"
    );
    drop(raw);
    assert!(
        server.wait_log("abandoned after"),
        "the server noticed the cut"
    );
    assert!(
        server.root_names().is_empty(),
        "left behind: {:?}",
        server.root_names()
    );
    let _ = raw::identity(client.dir());
}

#[test]
fn stale_partial_files_are_swept_at_start() {
    let client = Client::new();
    let server = Server::start_with_root(
        &client.public_key(),
        &[
            (".sft-part-0123456789abcdef", b"half a file"),
            ("keep.txt", b"kept"),
        ],
    );
    assert!(server.wait_log("removed 1 partial file(s)"));
    assert_eq!(server.root_names(), vec!["keep.txt".to_string()]);
}

#[test]
fn sigterm_mid_upload_removes_the_partial_file() {
    let (mut server, client) = pair();
    let mut raw = raw::Raw::connect(server.addr, client.dir(), &server.host_fp);
    raw.conn
        .request_upload("half.bin", 10 << 20, false, None, false, 1_764_000_100)
        .unwrap();
    while !raw.conn.wants_data() {
        raw.step().unwrap();
    }
    for _ in 0..8 {
        raw.conn.send_data(&vec![1u8; CHUNK]).unwrap();
    }
    while raw.conn.wants_write() {
        raw.conn.write_tls(&mut raw.sock, Instant::now()).unwrap();
    }
    assert!(server.wait_log("half.bin\" (10485760 bytes)"));
    assert!(server
        .root_names()
        .iter()
        .any(|n| n.starts_with(".sft-part-")));
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(server.wait_log("removed 1 partial upload(s)"));
    assert!(server.root_names().is_empty(), "{:?}", server.root_names());
}

#[test]
fn a_malformed_known_hosts_line_is_skipped_with_a_warning() {
    let (server, client) = pair();
    std::fs::write(
        client.dir().join("known_hosts"),
        format!("garbage line\n{} {}\n", server.target(), server.host_fp),
    )
    .unwrap();
    let out = client.sft(&["ls", &server.target()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ignoring malformed line 1"),
        "{}",
        stderr(&out)
    );
}

/// scp's order (`sft put FILE HOST:DIR`) is a usage error that shows
/// sft's, before any connection.
#[test]
fn scp_argument_order_is_a_usage_error_showing_sfts_order() {
    let client = Client::new();
    let file = random_file(client.dir(), "a.txt", 10);
    let out = client.sft(&["put", file.to_str().unwrap(), "srv:backup/"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the server comes first")
            && stderr(&out).contains("sft put HOST FILE --to DIR"),
        "{}",
        stderr(&out)
    );
}
