//! `root=DIR` on an authorized_keys line, end to end through the `sft`
//! binary: the key's sessions see DIR as their whole root, and no path
//! reaches outside it.

mod e2e;

use std::path::Path;
use std::process::Output;

use e2e::proxy::{Fault, Proxy};
use e2e::*;

/// A server whose root holds `secret.txt` and `exports/bob/b.txt`, with
/// `client`'s key confined to `exports/alice` (created by the server).
fn confined(client: &Client) -> Server {
    let line = std::fs::read_to_string(client.public_key()).unwrap();
    let auth = client.dir().join("auth_confined");
    std::fs::write(&auth, format!("root=\"exports/alice\" {line}")).unwrap();
    let home = tempfile::TempDir::new().unwrap();
    let root = home.path().join("root");
    std::fs::create_dir_all(root.join("exports/bob")).unwrap();
    std::fs::write(root.join("secret.txt"), b"secret").unwrap();
    std::fs::write(root.join("exports/bob/b.txt"), b"bob's").unwrap();
    let server = Server::launch(home, root, Some(&auth), &[]);
    assert!(
        server.log_contains("created a key's root ") && server.log_contains("exports/alice (0700)"),
        "creation is logged"
    );
    server
}

fn run(client: &Client, server: &Server, args: &[&str]) -> Output {
    let target = server.target();
    let mut all: Vec<&str> = vec![args[0], &target, "--server-key", &server.host_fp];
    all.extend(&args[1..]);
    client.sft(&all)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn alice(server: &Server) -> std::path::PathBuf {
    server.root.join("exports/alice")
}

#[test]
fn uploads_listings_and_mkdir_stay_in_the_sub_root() {
    let client = Client::new();
    let server = confined(&client);
    let file = random_file(client.dir(), "x.bin", 1000);
    let out = run(
        &client,
        &server,
        &["put", file.to_str().unwrap(), "--to", "in/here"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(alice(&server).join("in/here/x.bin").is_file());
    assert!(!server.root.join("in").exists());

    for path in [None, Some("/"), Some(".")] {
        let mut args = vec!["ls", "-R"];
        args.extend(path);
        let out = run(&client, &server, &args);
        let listed = stdout(&out);
        assert!(
            !listed.contains("secret") && !listed.contains("bob"),
            "{path:?}: {listed}"
        );
        if path.is_none() {
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert!(listed.contains("x.bin"), "{listed}");
        }
    }
}

#[test]
fn no_path_reaches_outside_the_sub_root() {
    let client = Client::new();
    let server = confined(&client);
    // Planted inside the sub-root: links to the root and to a file in it.
    std::os::unix::fs::symlink(&server.root, alice(&server).join("up")).unwrap();
    std::os::unix::fs::symlink(server.root.join("secret.txt"), alice(&server).join("leak"))
        .unwrap();
    let down = client.dir().join("down");
    std::fs::create_dir(&down).unwrap();
    for path in [
        "../secret.txt",
        "../../secret.txt",
        "/secret.txt",
        "exports/bob/b.txt",
        "../bob/b.txt",
        "up/secret.txt",
        "leak",
        "./../secret.txt",
    ] {
        let out = run(
            &client,
            &server,
            &["get", path, "-o", down.to_str().unwrap()],
        );
        assert_ne!(code(&out), 0, "{path}: {}", stdout(&out));
    }
    assert!(
        std::fs::read_dir(&down).unwrap().next().is_none(),
        "nothing came down"
    );
    for path in ["..", "../bob", "/", "up", "up/exports"] {
        let out = run(&client, &server, &["ls", path]);
        let listed = stdout(&out);
        assert!(
            !listed.contains("secret") && !listed.contains("b.txt"),
            "{path}: {listed}"
        );
    }
    let file = random_file(client.dir(), "planted.bin", 100);
    for to in ["..", "up", "/", "../bob"] {
        let out = run(
            &client,
            &server,
            &["put", file.to_str().unwrap(), "--to", to],
        );
        assert_ne!(code(&out), 0, "--to {to}");
    }
    assert!(!server.root.join("planted.bin").exists());
    assert!(!server.root.join("exports/bob/planted.bin").exists());
    assert_eq!(
        std::fs::read(server.root.join("secret.txt")).unwrap(),
        b"secret"
    );
}

#[test]
fn a_cut_upload_keeps_its_partial_in_the_sub_root_and_resumes_there() {
    let client = Client::new();
    let server = confined(&client);
    // Over the client's resume threshold (16 MiB).
    let file = random_file(client.dir(), "big.bin", 20 << 20);
    let proxy = Proxy::start(server.addr, &[Fault::CutUp { after: 8 << 20 }]);
    let out = client.sft(&[
        "put",
        &proxy.addr.to_string(),
        "--server-key",
        &server.host_fp,
        file.to_str().unwrap(),
    ]);
    assert_ne!(code(&out), 0);
    let partial = partial_path(&alice(&server), &client.key(), "big.bin");
    assert!(server
        .wait_line(&["upload \"big.bin\" from", "kept to resume"])
        .is_some());
    assert!(len_or_zero(&partial) > 0, "the partial is in the sub-root");
    let in_root = partial_path(&server.root, &client.key(), "big.bin");
    assert!(!in_root.exists(), "and not in the server's root");
    let out = run(&client, &server, &["put", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resum"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(alice(&server).join("big.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
    assert!(!Path::new(&partial).exists());
}

/// A key whose root= cannot be opened (a file stands there) is refused as
/// busy, and each refusal gives its session slot back: once the admin
/// puts a directory there, the key gets in, even with max-sessions=1.
#[test]
fn an_unopenable_sub_root_refuses_without_using_up_the_keys_sessions() {
    // At start the server opens every sub-root; a reload adds this one.
    let (server, client) = pair();
    std::fs::write(server.root.join("team"), b"a file, not a directory").unwrap();
    let line = std::fs::read_to_string(client.public_key()).unwrap();
    let aside = server.home().join("auth.new");
    std::fs::write(&aside, format!("root=\"team\",max-sessions=1 {line}")).unwrap();
    std::fs::rename(&aside, server.home().join("authorized_keys")).unwrap();
    assert!(server.wait_log("authorized_keys reloaded: 1 keys (was 1)"));
    let out = run(&client, &server, &["ls"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(server.log_contains("root=\"team\" cannot be opened"));
    std::fs::remove_file(server.root.join("team")).unwrap();
    std::fs::create_dir(server.root.join("team")).unwrap();
    let out = run(&client, &server, &["ls"]);
    assert_eq!(code(&out), 0, "no slot leaked: {}", stderr(&out));
}
