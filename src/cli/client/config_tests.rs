use std::path::{Path, PathBuf};

use super::*;

const FP: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

fn cfg(text: &str) -> Config {
    parse(
        text,
        Path::new("/etc/sft/config"),
        Some(Path::new("/home/ann")),
    )
    .unwrap()
}

/// The error message of a bad config text.
fn error(text: &str) -> String {
    let e = parse(
        text,
        Path::new("/etc/sft/config"),
        Some(Path::new("/home/ann")),
    )
    .unwrap_err();
    assert_eq!(e.exit(), Exit::Usage);
    e.message().to_string()
}

#[test]
fn an_alias_gets_each_setting_of_its_block() {
    let c = cfg(&format!(
        "Host backup\n  HostName 192.0.2.10\n  Port 6000\n  IdentityFile ~/keys/b\n  ServerKey {FP}\n  Proxy socks5://127.0.0.1:1080\n"
    ));
    let h = c.for_host("backup");
    assert_eq!(h.hostname.as_deref(), Some("192.0.2.10"));
    assert_eq!(h.port, Some(6000));
    assert_eq!(h.identity, Some(PathBuf::from("/home/ann/keys/b")));
    assert_eq!(h.server_key.as_deref(), Some(FP));
    let (url, at) = h.proxy.unwrap();
    assert_eq!(url, "socks5://127.0.0.1:1080");
    assert_eq!(at, "/etc/sft/config:6");
    assert_eq!(h.applied, ["/etc/sft/config:1: Host backup"]);
    assert_eq!(c.for_host("other"), HostConfig::default());
}

#[test]
fn the_first_value_wins_so_defaults_go_last() {
    let c = cfg(
        "Host a\n Port 1000\nHost a b\n Port 2000\n HostName x\nHost *\n Port 3000\n HostName y\n",
    );
    let a = c.for_host("a");
    assert_eq!((a.hostname.as_deref(), a.port), (Some("x"), Some(1000)));
    assert_eq!(a.applied.len(), 3);
    let b = c.for_host("b");
    assert_eq!((b.hostname.as_deref(), b.port), (Some("x"), Some(2000)));
    let z = c.for_host("z");
    assert_eq!((z.hostname.as_deref(), z.port), (Some("y"), Some(3000)));
    // Within one block too: the first Port line is the one.
    assert_eq!(cfg("Host a\nPort 1\nPort 2\n").for_host("a").port, Some(1));
}

#[test]
fn lines_before_any_host_apply_to_every_host() {
    let c = cfg("Port 7000\nHost a\n Port 8000\n");
    assert_eq!(c.for_host("a").port, Some(7000));
    assert_eq!(c.for_host("q").port, Some(7000));
    assert!(c.for_host("q").applied.is_empty());
}

#[test]
fn patterns_take_star_and_question_mark_and_ignore_case() {
    let c = cfg("Host nas-?? *.Example.org\n Port 1\n");
    for yes in [
        "nas-01",
        "NAS-ab",
        "a.example.org",
        "x.y.example.org",
        ".example.org",
    ] {
        assert_eq!(c.for_host(yes).port, Some(1), "{yes}");
    }
    for no in [
        "nas-1",
        "nas-001",
        "example.org",
        "a.example.org.evil",
        "nas",
    ] {
        assert_eq!(c.for_host(no).port, None, "{no}");
    }
    assert!(glob(b"*a*b*", b"xxaxxbxx"));
    assert!(!glob(b"*a*b", b"xxaxxbxa"));
    assert!(glob(b"**", b""));
    assert!(!glob(b"?", b""));
}

#[test]
fn a_negated_pattern_excludes_and_negations_alone_match_nothing() {
    let c = cfg("Host nas-* !nas-old\n Port 1\nHost !a\n Port 2\n");
    assert_eq!(c.for_host("nas-new").port, Some(1));
    assert_eq!(c.for_host("nas-old").port, None);
    // As in ssh, `Host !a` alone matches no host, not every other one.
    assert_eq!(c.for_host("b").port, None);
    // The order of the patterns does not matter.
    let c = cfg("Host !nas-old nas-*\n Port 1\n");
    assert_eq!(c.for_host("nas-old").port, None);
}

#[test]
fn equals_case_quotes_and_comments_are_read_as_ssh_reads_them() {
    let c = cfg(
        "# a comment\n\n  \tHOST=a # trailing comment\n\tport=5\nhostNAME = H.example\nIdentityFile \"my keys/id\"\n",
    );
    let a = c.for_host("a");
    assert_eq!(a.port, Some(5));
    assert_eq!(a.hostname.as_deref(), Some("h.example"));
    assert_eq!(a.identity, Some(PathBuf::from("/etc/sft/my keys/id")));
    assert_eq!(words(r#" "a b" c  "" "#).unwrap(), ["a b", "c", ""]);
}

#[test]
fn an_ipv6_host_name_is_taken_without_brackets() {
    assert_eq!(
        cfg("Host v6\nHostName ::1\n")
            .for_host("v6")
            .hostname
            .as_deref(),
        Some("::1")
    );
    for bad in ["[::1]", "h:5555", "u@h", "h/x", "\"a b\""] {
        assert!(
            error(&format!("HostName {bad}")).contains("is not a host name"),
            "{bad}"
        );
    }
}

#[test]
fn each_error_names_file_and_line_and_what_is_wrong() {
    let cases = [
        (
            "Host a\n  Port 5\n  User ann\n",
            ":3: unknown keyword \"User\"",
        ),
        ("\n\nMatch host a\n", ":3: unknown keyword \"Match\""),
        ("Port 0\n", ":1: Port: \"0\" is not a port"),
        ("Port 65536\n", ":1: Port: \"65536\" is not a port"),
        ("Port\n", ":1: Port needs a value"),
        ("Port 1 2\n", ":1: Port takes one value, got 2"),
        ("Host\n", ":1: Host needs one or more patterns"),
        ("Host a !\n", ":1: Host needs one or more patterns"),
        (
            "ServerKey SHA256:nope\n",
            ":1: ServerKey \"SHA256:nope\" is not a fingerprint",
        ),
        ("IdentityFile \"open\n", ":1: unterminated quote"),
        (
            "IdentityFile ~bob/k\n",
            ":1: IdentityFile \"~bob/k\": only ~/",
        ),
        ("HostName a\"b\n", ":1: a quote inside a value"),
    ];
    for (text, want) in cases {
        let msg = error(text);
        assert!(
            msg.starts_with("/etc/sft/config:") && msg.contains(want),
            "{text:?}: {msg}"
        );
    }
    let e = parse("Bogus 1", Path::new("c"), None).unwrap_err();
    assert!(
        format!("{e:?}").contains("HostName, Port, IdentityFile"),
        "{e:?}"
    );
    // Port at its limits.
    assert_eq!(cfg("Port 65535").for_host("a").port, Some(65535));
    assert_eq!(cfg("Port 1").for_host("a").port, Some(1));
}

#[test]
fn load_reads_a_file_up_to_its_size_limit_and_refuses_a_group_writable_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let set = |text: &[u8], mode: u32| {
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut text = b"Port 9\n".to_vec();
    text.resize(MAX_CONFIG_BYTES as usize, b'\n');
    set(&text, 0o600);
    let c = load(Some(&path)).unwrap().unwrap();
    assert_eq!(c.for_host("x").port, Some(9));
    text.push(b'\n');
    set(&text, 0o600);
    let e = load(Some(&path)).unwrap_err();
    assert!(e.message().contains("larger than"), "{e:?}");
    set(b"Port 9\n", 0o620);
    let e = load(Some(&path)).unwrap_err();
    assert!(e.message().contains("bad owner or permissions"), "{e:?}");
    // -F none reads nothing; a named file must exist.
    assert!(load(Some(Path::new("none"))).unwrap().is_none());
    let e = load(Some(&dir.path().join("missing"))).unwrap_err();
    assert_eq!(e.exit(), Exit::Usage);
    assert!(e.message().contains("cannot read config file"), "{e:?}");
}
