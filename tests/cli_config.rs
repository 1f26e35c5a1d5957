//! The client config file end to end: an alias in `$SFT_HOME/config`
//! resolves to a running server with its port, identity and server key;
//! flags win over the file; `-F FILE`, `-F none`; bad files exit 2.

mod e2e;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use e2e::*;

/// Writes a config file only its owner may write, as sft requires.
fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Moves the client's identity out of the default place, so only a
/// setting that names it can get the client in: the default identity
/// would be created anew and refused (exit 5).
fn move_identity(client: &Client) -> PathBuf {
    let dir = client.dir().join("keys");
    std::fs::create_dir(&dir).unwrap();
    let moved = dir.join("nas-key");
    std::fs::rename(client.dir().join("identity"), &moved).unwrap();
    moved
}

#[test]
fn an_alias_resolves_to_its_host_port_identity_and_server_key() {
    let (server, client) = pair();
    move_identity(&client);
    write_config(
        &client.dir().join("config"),
        &format!(
            "# my servers\nHost nas backup-*\n    HostName 127.0.0.1\n    Port={}\n    IdentityFile keys/nas-key\n    ServerKey \"{}\"\n\nHost *\n    Port 1\n",
            server.addr.port(),
            server.host_fp
        ),
    );
    let f = random_file(client.dir(), "a.bin", 1000);
    let out = client.sft(&["put", "-v", "nas", f.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("a.bin")).unwrap(),
        std::fs::read(&f).unwrap()
    );
    let log = stderr(&out);
    let config = client.dir().join("config");
    for needle in [
        format!("reading config {}", config.display()),
        format!("{}:2: Host nas backup-* applies to nas", config.display()),
        format!("{}:8: Host * applies to nas", config.display()),
        format!("nas is 127.0.0.1:{}", server.addr.port()),
        "ServerKey in the config file".to_string(),
    ] {
        assert!(log.contains(&needle), "missing {needle:?} in:\n{log}");
    }
    // The pin came from the file: nothing asked, nothing recorded.
    assert!(!client.dir().join("known_hosts").exists());
    // A second pattern of the same block, with get and ls.
    let out = client.sft(&["ls", "backup-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.bin\n");
}

#[test]
fn command_line_flags_win_over_the_file() {
    let (server, client) = pair();
    let key = move_identity(&client);
    let port = server.addr.port().to_string();
    let wrong_fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    // Every setting of the file is wrong: a closed port, a missing key, a
    // foreign server key.
    write_config(
        &client.dir().join("config"),
        &format!("Host nas\n HostName 127.0.0.1\n Port 1\n IdentityFile keys/missing\n ServerKey {wrong_fp}\n"),
    );
    let id = key.to_str().unwrap();
    let fp = server.host_fp.as_str();
    for args in [
        &[
            "ls",
            "nas",
            "-P",
            &port,
            "--identity",
            id,
            "--server-key",
            fp,
        ][..],
        &[
            "ls",
            &format!("nas:{port}"),
            "--identity",
            id,
            "--server-key",
            fp,
        ],
        &[
            "ls",
            "--port",
            &port,
            "nas",
            "--identity",
            id,
            "--server-key",
            fp,
        ],
    ] {
        let out = client.sft(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    }
    // Without --server-key the file's pin holds, and says where it came from.
    let out = client.sft(&["ls", "nas", "-P", &port, "--identity", id]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the config file's ServerKey expects"),
        "{}",
        stderr(&out)
    );
    // Without --identity the file's (missing) IdentityFile is used.
    let out = client.sft(&["ls", "nas", "-P", &port, "--server-key", fp]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no identity key at"),
        "{}",
        stderr(&out)
    );
    // Two different ports, or a port out of range: usage errors.
    let out = client.sft(&["ls", &format!("nas:{port}"), "-P", "2"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("nas:{port} says {port}, -P says 2")),
        "{}",
        stderr(&out)
    );
    for bad in ["0", "65536"] {
        let out = client.sft(&["ls", "nas", "-P", bad]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains("1 to 65535"), "{}", stderr(&out));
    }
}

#[test]
fn dash_f_names_another_file_and_dash_f_none_reads_none() {
    let (server, client) = pair();
    let target = server.target();
    let pin = format!("Host 127.0.0.1\n ServerKey {}\n", server.host_fp);
    write_config(&client.dir().join("config"), &pin);
    let other = client.dir().join("other.conf");
    write_config(&other, "Host 127.0.0.1\n Port 1\n");
    // The default file pins the key.
    let out = client.sft(&["ls", &target]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // -F none: no pin, an unknown server (exit 4), nothing recorded.
    let out = client.sft(&["ls", "-F", "none", &target]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    // -F FILE replaces the default file: its Port only; the glued port wins.
    let out = client.sft(&["ls", "-F", other.to_str().unwrap(), &target]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let out = client.sft(&["ls", "-F", other.to_str().unwrap(), "127.0.0.1"]);
    assert_eq!(code(&out), 3, "port 1 from the file: {}", stderr(&out));
    // A named file must exist.
    let missing = client.dir().join("missing.conf");
    let out = client.sft(&["ls", "-F", missing.to_str().unwrap(), &target]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot read config file {}", missing.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_config_exits_2_naming_file_and_line_before_connecting() {
    let (server, client) = pair();
    let config = client.dir().join("config");
    write_config(&config, "Host nas\n  HostName 127.0.0.1\n  User ann\n");
    let f = random_file(client.dir(), "a.bin", 10);
    let out = client.sft(&["put", &server.target(), f.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3: unknown keyword \"User\"", config.display())),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("HostName, Port"),
        "{err}"
    );
    // Writable by the group: refused as ssh refuses it.
    write_config(&config, "Host nas\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o664)).unwrap();
    let out = client.sft(&["ls", &server.target()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bad owner or permissions") && stderr(&out).contains("chmod go-w"),
        "{}",
        stderr(&out)
    );
    assert!(server.root_names().is_empty());
}
