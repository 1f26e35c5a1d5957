//! Operating sft like a native tool: shell completions and man pages
//! generated from the clap definitions, the server's log file and JSON
//! format, the default root under SFT_HOME, the every-interface warning.

mod e2e;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use e2e::*;
use tempfile::TempDir;

/// `sft ARGS` with SFT_HOME at `home`; its stdout, which must be UTF-8.
fn sft_stdout(home: &Path, args: &[&str]) -> String {
    let out = Command::new(SFT)
        .env("SFT_HOME", home)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "sft {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_bash_completion_loads_and_registers_for_sft() {
    let home = TempDir::new().unwrap();
    let script = home.path().join("sft.bash");
    std::fs::write(&script, sft_stdout(home.path(), &["completions", "bash"])).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1" && complete -p sft"#)
        .arg("bash")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let registered = String::from_utf8(out.stdout).unwrap();
    assert!(registered.contains("-F _sft sft"), "{registered}");
}

#[test]
fn the_zsh_and_fish_completions_name_the_commands_and_their_flags() {
    let home = TempDir::new().unwrap();
    for (shell, check) in [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])] {
        let script = sft_stdout(home.path(), &["completions", shell]);
        for word in [
            "serve",
            "put",
            "get",
            "ls",
            "completions",
            "log-format",
            "listen",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if installed(shell) {
            let path = home.path().join(format!("sft.{shell}"));
            std::fs::write(&path, &script).unwrap();
            let out = Command::new(check[0])
                .arg(check[1])
                .arg(&path)
                .output()
                .unwrap();
            assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        }
    }
    let out = Command::new(SFT)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
}

/// `man -l PAGE`, rendered wide enough that no flag is hyphenated.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "400")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man (man-db) is installed: .ci/run installs it");
    assert_eq!(code(&out), 0, "man -l {}: {}", page.display(), stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_man_pages_render_and_name_the_commands_and_their_flags() {
    let home = TempDir::new().unwrap();
    let dir = home.path().join("man1");
    std::fs::create_dir(&dir).unwrap();
    sft_stdout(home.path(), &["man", dir.to_str().unwrap()]);
    let top = render(&dir.join("sft.1"));
    for sub in [
        "serve",
        "put",
        "get",
        "ls",
        "keygen",
        "fingerprint",
        "audit",
        "completions",
        "man",
    ] {
        assert!(
            top.contains(&format!("sft-{sub}(1)")),
            "sft.1 lacks sft-{sub}: {top}"
        );
        // Every page the top page refers to was written and renders.
        render(&dir.join(format!("sft-{sub}.1")));
    }
    let serve = render(&dir.join("sft-serve.1"));
    for flag in [
        "--listen",
        "--root",
        "--log-file",
        "--log-format",
        "$SFT_HOME/files",
    ] {
        assert!(serve.contains(flag), "sft-serve.1 lacks {flag}: {serve}");
    }
    // The sections clap does not know: one line each, not run together.
    for line in [
        "EXIT STATUS",
        "ENVIRONMENT",
        "SFT_PASSPHRASE_FILE",
        "FILES",
        "$SFT_HOME/known_hosts",
    ] {
        assert!(
            top.lines().any(|l| l.trim() == line),
            "sft.1 lacks {line}: {top}"
        );
    }
    assert!(
        top.lines()
            .any(|l| l.trim() == "5      the server refused this client's key"),
        "{top}"
    );
    for line in ["SIGNALS", "$SFT_HOME/authorized_keys"] {
        assert!(
            serve.lines().any(|l| l.trim() == line),
            "sft-serve.1 lacks {line}: {serve}"
        );
    }
    let put = render(&dir.join("sft-put.1"));
    assert!(put.contains("--accept-new"), "{put}");
    render(&dir.join("sft-audit-verify.1"));

    let out = Command::new(SFT)
        .args(["man"])
        .arg(home.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("missing is not a directory"),
        "{}",
        stderr(&out)
    );
}

/// A server with its own SFT_HOME logging to `log` with `extra` flags,
/// and the port it listens on, read from the log file.
struct LoggingServer {
    child: Child,
    home: TempDir,
    log: PathBuf,
    port: u16,
}

impl LoggingServer {
    fn start(listen: &str, extra: &[&str]) -> LoggingServer {
        let home = TempDir::new().unwrap();
        let log = home.path().join("sft.log");
        let child = Command::new(SFT)
            .env("SFT_HOME", home.path())
            .env("RUST_LOG", "info")
            .args([
                "serve",
                "--allow-any-client",
                "--threads",
                "1",
                "--listen",
                listen,
            ])
            .arg("--log-file")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = LoggingServer {
            child,
            home,
            log,
            port: 0,
        };
        let line = server.wait_for("listening on ");
        let rest = line.split("listening on ").nth(1).unwrap();
        let addr: std::net::SocketAddr = rest.split(',').next().unwrap().parse().unwrap();
        server.port = addr.port();
        server
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) for a log line containing `needle` and returns it.
    fn wait_for(&self, needle: &str) -> String {
        assert!(
            wait_until(|| self.lines().iter().any(|l| l.contains(needle))),
            "no {needle:?} in the log: {:?}",
            self.lines()
        );
        self.lines()
            .into_iter()
            .find(|l| l.contains(needle))
            .unwrap()
    }
}

impl Drop for LoggingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_json_log_file_holds_one_object_per_line_and_the_default_root_is_created_under_sft_home() {
    let server = LoggingServer::start("127.0.0.1:0", &["--log-format", "json"]);
    let root = server.home.path().join("files");
    assert_eq!(
        std::fs::metadata(&server.log).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let client = Client::new();
    let name = "say \"hi\" now.txt";
    std::fs::write(client.dir().join(name), b"hello").unwrap();
    let out = client.sft(&[
        "put",
        &format!("127.0.0.1:{}", server.port),
        "--accept-new",
        name,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(root.join(name)).unwrap(), b"hello");
    server.wait_for("stored ");

    let lines = server.lines();
    let mut messages = Vec::new();
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k}: {line}"));
        humantime::parse_rfc3339(field("timestamp")).unwrap();
        assert!(field("timestamp").ends_with('Z'), "UTC: {line}");
        assert!(["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&field("level")));
        assert!(field("target").starts_with("sft"), "{line}");
        messages.push(field("message").to_owned());
    }
    let canonical = root.canonicalize().unwrap();
    let created = format!("created the root {} (0700)", canonical.display());
    assert!(
        messages.contains(&created),
        "{created:?} not in {messages:?}"
    );
    assert!(messages
        .iter()
        .any(|m| m.starts_with("listening on 127.0.0.1:")));
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("stored {name:?} from "))),
        "{messages:?}"
    );
    assert!(!messages.iter().any(|m| m.contains("every interface")));
}

#[test]
fn an_explicit_root_is_reported_when_created_and_not_when_it_exists() {
    let home = TempDir::new().unwrap();
    let root = home.path().join("srv").join("sft");
    let args = ["--root", root.to_str().unwrap()];
    let first = LoggingServer::start("127.0.0.1:0", &args);
    first.wait_for(&format!("created the root {} (0700)", root.display()));
    drop(first);
    let second = LoggingServer::start("127.0.0.1:0", &args);
    assert!(!second
        .lines()
        .iter()
        .any(|l| l.contains("created the root")));
}

#[test]
fn every_interface_gets_a_warning_naming_the_loopback_listen() {
    let server = LoggingServer::start("0.0.0.0:0", &[]);
    let port = server.port;
    let warning = server.wait_for("every interface");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&format!(
            "(0.0.0.0:{port}); to serve only this host use --listen 127.0.0.1:{port}"
        )),
        "{warning}"
    );
}

#[test]
fn a_log_file_that_cannot_be_opened_is_exit_2_naming_it() {
    let home = TempDir::new().unwrap();
    let log = home.path().join("no-such-dir").join("sft.log");
    let out = Command::new(SFT)
        .env("SFT_HOME", home.path())
        .args([
            "serve",
            "--allow-any-client",
            "--listen",
            "127.0.0.1:0",
            "--log-file",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot open log file {}", log.display())),
        "{err}"
    );
    assert!(!home.path().join("files").exists(), "nothing started");
}

#[test]
fn the_example_systemd_unit_verifies_when_systemd_analyze_is_installed() {
    if !installed("systemd-analyze") {
        return;
    }
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sft.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/sft serve --root /srv/sft"));
    // verify checks that ExecStart's binary exists: point it at this build.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sft.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/sft", SFT)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warning about the unit");
}

/// The log may not be written into the audit log or authorized_keys: each
/// reload's warnings would change the file and start the next reload.
#[test]
fn a_log_file_that_is_the_audit_log_or_authorized_keys_is_refused() {
    let home = TempDir::new().unwrap();
    let keys = home.path().join("authorized_keys");
    std::fs::write(&keys, "").unwrap();
    for (log, what) in [
        (keys.clone(), "is authorized_keys"),
        (home.path().join("audit.log"), "is the audit log"),
        (home.path().join("host_identity"), "is the host key"),
    ] {
        let out = Command::new(SFT)
            .env("SFT_HOME", home.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(home.path().join("root"))
            .arg("--log-file")
            .arg(&log)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(what), "{}", stderr(&out));
    }
}
