//! `--proxy`, the proxy environment variables and `--limit-rate`, end to
//! end: the real `sft` binary through the test proxies of
//! tests/proxies/, each counting what it relayed.

mod e2e;
mod proxies;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use e2e::*;
use proxies::{Kind, TestProxy};

/// Every variable sft reads a proxy setting from.
const PROXY_VARS: [&str; 6] = [
    "all_proxy",
    "ALL_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Runs `sft ARGS` for `client` with exactly the proxy variables `env`.
fn sft_env(client: &Client, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(SFT);
    cmd.env("SFT_HOME", client.dir()).current_dir(client.dir());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn sft(client: &Client, args: &[&str]) -> Output {
    sft_env(client, &[], args)
}

/// The server as `localhost:PORT`: a name, for the proxies that resolve it.
fn by_name(server: &Server) -> String {
    format!("localhost:{}", server.addr.port())
}

/// put, ls and get of one file through `proxy_url`; each must succeed.
fn round_trip(server: &Server, client: &Client, name: &str, proxy_url: &str) {
    let target = by_name(server);
    let local = random_file(client.dir(), name, 300 * 1024 + 7);
    let local = local.to_str().unwrap();
    let out = sft(
        client,
        &["put", &target, local, "--accept-new", "--proxy", proxy_url],
    );
    assert_eq!(code(&out), 0, "put via {proxy_url}: {}", stderr(&out));
    let out = sft(client, &["ls", &target, "--proxy", proxy_url]);
    assert_eq!(code(&out), 0, "ls via {proxy_url}: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(name));
    let down = client.dir().join(format!("down-{name}"));
    std::fs::create_dir(&down).unwrap();
    let out = sft(
        client,
        &[
            "get",
            &target,
            name,
            "-o",
            down.to_str().unwrap(),
            "--proxy",
            proxy_url,
        ],
    );
    assert_eq!(code(&out), 0, "get via {proxy_url}: {}", stderr(&out));
    let sent = std::fs::read(client.dir().join(name)).unwrap();
    assert_eq!(std::fs::read(server.root.join(name)).unwrap(), sent);
    assert_eq!(std::fs::read(down.join(name)).unwrap(), sent);
}

#[test]
fn put_ls_and_get_go_through_each_proxy_with_and_without_credentials() {
    let (server, client) = pair();
    let port = server.addr.port();
    let by_name = format!("localhost:{port}");
    let by_addr = format!("127.0.0.1:{port}");
    // (proxy, scheme, userinfo in the URL, the target the proxy must see)
    let cases = [
        (Kind::Socks5, None, "socks5", None, &by_name),
        (
            Kind::Socks5,
            Some(("al ice", "p@ss:w")),
            "socks5",
            Some("al%20ice:p%40ss%3Aw"),
            &by_name,
        ),
        (Kind::Socks4, None, "socks4", None, &by_addr),
        (
            Kind::Socks4,
            Some(("joe", "")),
            "socks4",
            Some("joe"),
            &by_addr,
        ),
        (Kind::Socks4, None, "socks4a", None, &by_name),
        (Kind::Http, None, "http", None, &by_name),
        (
            Kind::Http,
            Some(("Aladdin", "open sesame")),
            "http",
            Some("Aladdin:open%20sesame"),
            &by_name,
        ),
    ];
    for (i, (kind, creds, scheme, userinfo, seen)) in cases.into_iter().enumerate() {
        let proxy = TestProxy::start(kind, creds);
        let url = proxy.url(scheme, userinfo);
        round_trip(&server, &client, &format!("f{i}"), &url);
        assert_eq!(proxy.tunnels(), 3, "{url}: one tunnel per command");
        assert_eq!(proxy.targets(), vec![seen.clone(); 3], "{url}");
        // The file went up and came down through the proxy.
        assert!(
            proxy.bytes() > 2 * 300 * 1024,
            "{url}: {} bytes",
            proxy.bytes()
        );
    }
}

#[test]
fn a_proxys_refusal_is_exit_3_with_its_words_and_nothing_reaches_the_server() {
    let client = Client::new();
    let target = "localhost:1";
    let cases = [
        (
            Kind::Socks5,
            "socks5",
            Some("u:wrong"),
            "rejected the user name and password",
        ),
        (
            Kind::Socks5,
            "socks5",
            None,
            "accepts none of the authentication methods offered",
        ),
        (
            Kind::Socks4,
            "socks4",
            Some("mallory"),
            "identd reports a different user id (SOCKS4 reply 93)",
        ),
        (
            Kind::Http,
            "http",
            Some("u:wrong"),
            "asked for localhost:1, refused CONNECT: HTTP/1.1 407 Proxy Authentication Required",
        ),
        (
            Kind::Http,
            "http",
            None,
            "407 Proxy Authentication Required",
        ),
    ];
    for (kind, scheme, userinfo, words) in cases {
        let proxy = TestProxy::start(kind, Some(("u", "right")));
        let url = proxy.url(scheme, userinfo);
        let out = sft(&client, &["ls", target, "--accept-new", "--proxy", &url]);
        assert_eq!(code(&out), 3, "{url}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{url}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("sft: the proxy {scheme}://")),
            "{}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("wrong"),
            "the password is never shown"
        );
        let hint = match kind {
            Kind::Socks4 => "hint: the proxy could not or would not reach the server",
            Kind::Socks5 | Kind::Http => "hint: check the user:password@ in the proxy URL",
        };
        assert!(stderr(&out).contains(hint), "{url}: {}", stderr(&out));
        assert_eq!((proxy.accepted(), proxy.tunnels()), (1, 0), "{url}");
    }
    // A target the proxy cannot reach: SOCKS5's reply code, named.
    let proxy = TestProxy::start(Kind::Socks5, None);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = sft(
        &client,
        &[
            "ls",
            &closed.to_string(),
            "--proxy",
            &proxy.url("socks5", None),
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused: connection refused (SOCKS5 reply 5)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn each_bad_setting_is_refused_before_any_connection() {
    let client = Client::new();
    let proxy = TestProxy::start(Kind::Socks5, None);
    let port = proxy.addr.port();
    let long = "x".repeat(256);
    let cases: Vec<(String, &str)> = vec![
        ("socks5://127.0.0.1".to_string(), "no port"),
        (format!("socks5://:{port}"), "no proxy host"),
        (
            "socks5://127.0.0.1:0".into(),
            "port \"0\" is not a number from 1 to 65535",
        ),
        (
            "socks5://127.0.0.1:65536".into(),
            "port \"65536\" is not a number",
        ),
        ("socks5://127.0.0.1:http".into(), "the port is not a number"),
        (
            format!("socks9://127.0.0.1:{port}"),
            "unknown scheme \"socks9\"",
        ),
        (
            format!("socks5://u%00:p@127.0.0.1:{port}"),
            "the user name contains a NUL byte",
        ),
        (
            format!("socks5://u:{long}@127.0.0.1:{port}"),
            "the password is longer than 255 bytes",
        ),
        (
            format!("socks4://u:secret@127.0.0.1:{port}"),
            "SOCKS4 has a user id but no password",
        ),
        ("garbage".to_string(), "not a proxy URL"),
    ];
    for (url, words) in &cases {
        let out = sft(&client, &["ls", "localhost:1", "--proxy", url]);
        assert_eq!(code(&out), 2, "{url}: {}", stderr(&out));
        let want = format!("sft: bad proxy in --proxy: {words}");
        assert!(stderr(&out).contains(&want), "{url}: {}", stderr(&out));
        assert!(!stderr(&out).contains("secret"));
        for var in ["ALL_PROXY", "https_proxy"] {
            let out = sft_env(&client, &[(var, url)], &["ls", "localhost:1"]);
            assert_eq!(code(&out), 2, "{var}={url}: {}", stderr(&out));
            let want = format!("sft: bad proxy in the {var} variable: {words}");
            assert!(
                stderr(&out).contains(&want),
                "{var}={url}: {}",
                stderr(&out)
            );
        }
    }
    // Refused before put walks or sends anything either.
    let file = random_file(client.dir(), "f", 10);
    let file = file.to_str().unwrap();
    let out = sft(
        &client,
        &["put", "localhost:1", file, "--proxy", "socks5://h:0"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(proxy.accepted(), 0, "no bad setting reached the proxy");
}

#[test]
fn the_environment_is_used_and_none_or_no_proxy_go_direct() {
    let (server, client) = pair();
    let target = by_name(&server);
    let socks = TestProxy::start(Kind::Socks5, None);
    let http = TestProxy::start(Kind::Http, None);
    let ls = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["ls", &target, "--accept-new"];
        args.extend_from_slice(extra);
        let out = sft_env(&client, env, &args);
        assert_eq!(code(&out), 0, "{env:?} {extra:?}: {}", stderr(&out));
    };
    let all = socks.url("socks5", None);
    let https = http.url("http", None);
    ls(&[("ALL_PROXY", &all), ("HTTPS_PROXY", &https)], &[]);
    assert_eq!((socks.tunnels(), http.tunnels()), (1, 0), "ALL_PROXY first");
    ls(&[("https_proxy", &https)], &[]);
    assert_eq!(
        (socks.tunnels(), http.tunnels()),
        (1, 1),
        "then HTTPS_PROXY"
    );
    ls(&[("all_proxy", ""), ("HTTPS_PROXY", &https)], &[]);
    assert_eq!(http.tunnels(), 2, "an empty variable counts as unset");
    ls(&[("ALL_PROXY", &all)], &["--proxy", &https]);
    assert_eq!((socks.tunnels(), http.tunnels()), (1, 3), "the flag wins");
    ls(&[("ALL_PROXY", &all)], &["--proxy", "none"]);
    ls(
        &[("ALL_PROXY", &all), ("NO_PROXY", "example.org, localhost")],
        &[],
    );
    ls(&[("no_proxy", "*")], &["--proxy", &all]);
    assert_eq!(
        (socks.accepted(), http.accepted()),
        (1, 3),
        "none and NO_PROXY go direct"
    );
}

#[test]
fn an_unreachable_proxy_is_exit_3_naming_it() {
    let client = Client::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("socks5://user:secret@{closed}");
    let out = sft(&client, &["ls", "localhost:1", "--proxy", &url]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let want = format!("sft: cannot connect to the proxy socks5://user@{closed}");
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(!stderr(&out).contains("secret"));
}

#[test]
fn limit_rate_moves_every_byte_both_ways_and_its_bounds_are_usage_errors() {
    let (server, client) = pair();
    let target = server.target();
    let local = random_file(client.dir(), "paced", 1 << 20);
    let out = sft(
        &client,
        &[
            "put",
            &target,
            local.to_str().unwrap(),
            "--accept-new",
            "--limit-rate",
            "50M",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let down = client.dir().join("down");
    std::fs::create_dir(&down).unwrap();
    // Through a proxy too: the pacing is on the session's own socket.
    let proxy = TestProxy::start(Kind::Socks5, None);
    let args = [
        "get",
        &target,
        "paced",
        "-o",
        down.to_str().unwrap(),
        "--limit-rate",
        "50m",
        "--proxy",
        &proxy.url("socks5", None),
    ];
    let out = sft(&client, &args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sent = std::fs::read(&local).unwrap();
    assert_eq!(std::fs::read(server.root.join("paced")).unwrap(), sent);
    assert_eq!(std::fs::read(Path::new(&down).join("paced")).unwrap(), sent);
    assert_eq!(proxy.tunnels(), 1);
    for (rate, words) in [
        ("1023", "from 1K to 100G"),
        ("101G", "from 1K to 100G"),
        ("1.5M", "not a rate"),
    ] {
        let out = sft(&client, &["ls", &target, "--limit-rate", rate]);
        assert_eq!(code(&out), 2, "{rate}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{rate}: {}", stderr(&out));
    }
}

#[test]
fn a_config_proxy_is_used_over_the_environment_and_under_the_flag() {
    use std::os::unix::fs::PermissionsExt;
    let (server, client) = pair();
    let socks = TestProxy::start(Kind::Socks5, None);
    let http = TestProxy::start(Kind::Http, None);
    let config = client.dir().join("config");
    let write = |text: String| {
        std::fs::write(&config, text).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let port = server.addr.port();
    write(format!(
        "Host nas\n  HostName localhost\n  Port {port}\n  Proxy {}\n",
        socks.url("socks5", None)
    ));
    let all = http.url("http", None);
    let ls = |extra: &[&str]| {
        let mut args = vec!["ls", "nas", "--accept-new"];
        args.extend_from_slice(extra);
        sft_env(&client, &[("ALL_PROXY", &all)], &args)
    };
    let out = ls(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        (socks.tunnels(), http.tunnels()),
        (1, 0),
        "the config's Proxy wins over ALL_PROXY"
    );
    assert_eq!(socks.targets(), [format!("localhost:{port}")]);
    let out = ls(&["--proxy", &all]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!((socks.tunnels(), http.tunnels()), (1, 1), "--proxy wins");

    write(format!(
        "Host nas\n  HostName localhost\n  Port {port}\n  Proxy none\n"
    ));
    let out = ls(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        (socks.accepted(), http.accepted()),
        (1, 1),
        "Proxy none goes direct whatever the environment says"
    );

    write(format!("Host nas\n  Port {port}\n  Proxy socks5://h:0\n"));
    let out = ls(&[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let want = format!("bad proxy in Proxy at {}:3", config.display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert_eq!((socks.accepted(), http.accepted()), (1, 1));
}

/// A download paced far below what the server's kernel buffers at once
/// (megabytes over loopback) keeps the session alive: each of the
/// server's idle deadlines finds the socket taking bytes again. The server
/// here calls a second without traffic idle, and the client needs 12 s.
#[test]
fn a_slow_paced_download_is_not_cut_as_idle_while_the_client_reads() {
    let client = Client::new();
    let server = Server::start(Some(&client.public_key()), &["--idle-timeout", "1s"]);
    let content = std::fs::read(random_file(&server.root, "slow", 6 << 20)).unwrap();
    let down = client.dir().join("down");
    std::fs::create_dir(&down).unwrap();
    let args = [
        "get",
        &server.target(),
        "slow",
        "-o",
        down.to_str().unwrap(),
        "--server-key",
        &server.host_fp,
        "--limit-rate",
        "512K",
    ];
    let out = sft(&client, &args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(std::fs::read(down.join("slow")).unwrap() == content);
}

/// A proxy variable that is not UTF-8 is a usage error, never read as
/// unset (which would connect directly, past the proxy).
#[test]
fn a_proxy_variable_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let client = Client::new();
    let bad = std::ffi::OsStr::from_bytes(b"socks5://127.0.0.1:1\xff");
    let out = Command::new(SFT)
        .env("SFT_HOME", client.dir())
        .env("ALL_PROXY", bad)
        .args(["ls", "127.0.0.1:1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ALL_PROXY variable is not UTF-8"),
        "{}",
        stderr(&out)
    );
}
