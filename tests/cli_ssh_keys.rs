//! OpenSSH Ed25519 keys made by the real `ssh-keygen`: as client and host
//! identities end to end (with and without a passphrase), fingerprints
//! equal to `ssh-keygen -lf`, and other key types refused by name.

mod e2e;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use e2e::*;
use tempfile::TempDir;

/// Makes `dir/name` (and `.pub`) with `ssh-keygen -t kind -N pass`.
fn ssh_keygen(dir: &Path, name: &str, kind: &str, pass: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", pass, "-C", "test@sft", "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen is installed (openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// Writes a passphrase file as a user should: mode 0600.
fn write_pass(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// What `ssh-keygen -lf path` prints as the fingerprint.
fn ssh_fingerprint(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fp = text.split_whitespace().nth(1).unwrap().to_string();
    assert!(fp.starts_with("SHA256:"), "{text}");
    fp
}

/// Runs `sft ARGS` with its own home, stdin not a terminal, and `env`.
fn sft(home: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    Command::new(SFT)
        .env("SFT_HOME", home)
        .env_remove("SFT_PASSPHRASE_FILE")
        .env_remove("SSH_AUTH_SOCK")
        .envs(env.iter().copied())
        .current_dir(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn ssh_keygen_keys_sign_for_client_and_host_end_to_end() {
    let keys = TempDir::new().unwrap();
    let plain = ssh_keygen(keys.path(), "id_plain", "ed25519", "");
    let locked = ssh_keygen(keys.path(), "id_locked", "ed25519", "client secret");
    let host = ssh_keygen(keys.path(), "host", "ed25519", "host secret");
    let client_pass = keys.path().join("client.pass");
    write_pass(&client_pass, "client secret\n");
    let host_pass = keys.path().join("host.pass");
    write_pass(&host_pass, "host secret\n");
    // authorized_keys made of the two ssh-ed25519 .pub lines as ssh-keygen wrote them.
    let auth = keys.path().join("auth");
    let mut lines = std::fs::read_to_string(plain.with_extension("pub")).unwrap();
    lines.push_str(&std::fs::read_to_string(locked.with_extension("pub")).unwrap());
    std::fs::write(&auth, lines).unwrap();

    let server_home = TempDir::new().unwrap();
    let root = server_home.path().join("root");
    let server = Server::launch_with_env(
        server_home,
        root,
        Some(&auth),
        &["--identity", host.to_str().unwrap()],
        &[("SFT_PASSPHRASE_FILE", &host_pass)],
    );
    assert_eq!(
        server.host_fp,
        ssh_fingerprint(&host.with_extension("pub")),
        "the host key's fingerprint is ssh-keygen's"
    );

    let home = TempDir::new().unwrap();
    let data = random_file(home.path(), "data.bin", 300_000);
    let target = server.target();
    let fp = server.host_fp.clone();
    let out = sft(
        home.path(),
        &[],
        &[
            "put",
            &target,
            "--server-key",
            &fp,
            "--identity",
            plain.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(server.root.join("data.bin")).unwrap(),
        std::fs::read(&data).unwrap()
    );

    let down = home.path().join("down");
    std::fs::create_dir(&down).unwrap();
    let out = sft(
        home.path(),
        &[("SFT_PASSPHRASE_FILE", &client_pass)],
        &[
            "get",
            &target,
            "--server-key",
            &fp,
            "--identity",
            locked.to_str().unwrap(),
            "-o",
            down.to_str().unwrap(),
            "data.bin",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(down.join("data.bin")).unwrap(),
        std::fs::read(&data).unwrap()
    );

    // The wrong passphrase, and no passphrase without a terminal: usage
    // errors naming the key file; nothing is sent.
    let wrong = keys.path().join("wrong.pass");
    write_pass(&wrong, "not it\n");
    let ls_locked = |env: &[(&str, &Path)]| {
        sft(
            home.path(),
            env,
            &[
                "ls",
                &target,
                "--server-key",
                &fp,
                "--identity",
                locked.to_str().unwrap(),
            ],
        )
    };
    let out = ls_locked(&[("SFT_PASSPHRASE_FILE", &wrong)]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("wrong passphrase for {}", locked.display())),
        "{}",
        stderr(&out)
    );
    let out = ls_locked(&[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("protected by a passphrase") && err.contains("SFT_PASSPHRASE_FILE"),
        "{err}"
    );
    assert!(!err.contains("client secret"));
}

#[test]
fn fingerprints_are_ssh_keygen_s_in_every_format() {
    let keys = TempDir::new().unwrap();
    let home = keys.path();
    let plain = ssh_keygen(home, "id_plain", "ed25519", "");
    let locked = ssh_keygen(home, "id_locked", "ed25519", "pw");
    for key in [&plain, &locked] {
        let want = ssh_fingerprint(&key.with_extension("pub"));
        // The private file (an encrypted one's public half is in the clear:
        // no passphrase is asked) and the .pub file.
        for file in [key.clone(), key.with_extension("pub")] {
            let out = sft(home, &[], &["fingerprint", file.to_str().unwrap()]);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert_eq!(stdout(&out), want, "{}", file.display());
        }
    }
    // The sft-ed25519 line of the same key: the raw 32 bytes are the last
    // 32 of the ssh-ed25519 blob.
    let line = std::fs::read_to_string(plain.with_extension("pub")).unwrap();
    let blob = STANDARD
        .decode(line.split_whitespace().nth(1).unwrap())
        .unwrap();
    let sft_line = home.join("sft.pub");
    std::fs::write(
        &sft_line,
        format!(
            "sft-ed25519 {} me\n",
            STANDARD.encode(&blob[blob.len() - 32..])
        ),
    )
    .unwrap();
    let out = sft(home, &[], &["fingerprint", sft_line.to_str().unwrap()]);
    assert_eq!(stdout(&out), ssh_fingerprint(&plain.with_extension("pub")));
    // sft keygen's own key: the same fingerprint ssh-keygen gives its line
    // once written in OpenSSH's form.
    let out = sft(
        home,
        &[],
        &["keygen", "-o", home.join("sftkey").to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sft_pub = std::fs::read_to_string(home.join("sftkey.pub")).unwrap();
    let raw = STANDARD
        .decode(sft_pub.split_whitespace().nth(1).unwrap())
        .unwrap();
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&raw);
    let as_ssh = home.join("sftkey.ssh.pub");
    std::fs::write(&as_ssh, format!("ssh-ed25519 {}\n", STANDARD.encode(&blob))).unwrap();
    let out = sft(
        home,
        &[],
        &["fingerprint", home.join("sftkey").to_str().unwrap()],
    );
    assert_eq!(stdout(&out), ssh_fingerprint(&as_ssh));
}

#[test]
fn rsa_keys_are_refused_by_name_everywhere() {
    let keys = TempDir::new().unwrap();
    let home = keys.path();
    let rsa = ssh_keygen(home, "id_rsa", "rsa", "");
    let named = "key type ssh-rsa is not supported: sft uses Ed25519 keys (make one with ssh-keygen -t ed25519)";
    for file in [rsa.clone(), rsa.with_extension("pub")] {
        let out = sft(home, &[], &["fingerprint", file.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(named), "{}", stderr(&out));
    }
    let out = sft(
        home,
        &[],
        &["ls", "127.0.0.1:1", "--identity", rsa.to_str().unwrap()],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains(named), "{}", stderr(&out));

    // In authorized_keys an ssh-rsa line is skipped with a warning naming
    // line and type, so one file can serve sshd and sft: alone, it leaves
    // no keys and the server refuses to start.
    let auth = home.join("authorized_keys");
    std::fs::copy(rsa.with_extension("pub"), &auth).unwrap();
    let out = sft(
        home,
        &[],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--root",
            home.join("root").to_str().unwrap(),
            "--authorized-keys",
            auth.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let skipped = ":1: key type ssh-rsa is not one sft uses (it uses Ed25519); that key is skipped";
    assert!(
        stderr(&out).contains(&format!("{}{skipped}", auth.display())),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("no authorized client keys in"));
    // Next to an ssh-ed25519 line, the server starts and lets that key in.
    let ed = ssh_keygen(home, "id_ed", "ed25519", "");
    let mut text = std::fs::read_to_string(&auth).unwrap();
    text.push_str(&std::fs::read_to_string(ed.with_extension("pub")).unwrap());
    std::fs::write(&auth, text).unwrap();
    let server_home = TempDir::new().unwrap();
    let root = server_home.path().join("root");
    let server = Server::launch(server_home, root, Some(&auth), &[]);
    assert!(server.log_contains(skipped), "warned at start");
    let target = server.target();
    let out = sft(
        home,
        &[],
        &[
            "ls",
            &target,
            "--server-key",
            &server.host_fp,
            "--identity",
            ed.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn open_openssh_private_key_is_refused() {
    let keys = TempDir::new().unwrap();
    let key = ssh_keygen(keys.path(), "id", "ed25519", "");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = sft(
        keys.path(),
        &[],
        &["ls", "127.0.0.1:1", "--identity", key.to_str().unwrap()],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("too open"), "{}", stderr(&out));
}

/// An `ssh-agent -D` child on its own socket, killed on drop.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent is installed (openssh-client)");
        assert!(wait_until(|| sock.exists()), "ssh-agent made no socket");
        Agent { child, sock }
    }

    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", &self.sock)
            .arg(key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ssh_agent_signs_for_the_client_end_to_end() {
    use sft::crypto::ed25519::Sign;
    let keys = TempDir::new().unwrap();
    let key = ssh_keygen(keys.path(), "id_agent", "ed25519", "");
    let public = key.with_extension("pub");
    let agent = Agent::start(keys.path());

    // Before it is added, the agent does not hold the key.
    let local = sft::keys::load_identity(&key).unwrap();
    let vk = local.verifying_key();
    assert!(sft::keys::agent::AgentKey::find(&agent.sock, &vk)
        .unwrap()
        .is_none());
    agent.add(&key);
    let in_agent = sft::keys::agent::AgentKey::find(&agent.sock, &vk)
        .unwrap()
        .expect("the agent holds the key");
    // Ed25519 is deterministic: the agent's signature is OpenSSL's.
    let msg = b"sft handshake transcript stand-in";
    assert_eq!(
        Sign::sign(&in_agent, msg).unwrap(),
        local.sign(msg).unwrap()
    );

    // Only the agent can sign now.
    std::fs::remove_file(&key).unwrap();
    let server = Server::start(Some(&public), &[]);
    let home = TempDir::new().unwrap();
    let data = random_file(home.path(), "a.bin", 50_000);
    let fp = server.host_fp.clone();
    let with_agent = [("SSH_AUTH_SOCK", agent.sock.as_path())];
    let put = |id: &Path, env: &[(&str, &Path)]| {
        sft(
            home.path(),
            env,
            &[
                "put",
                "-v",
                &server.target(),
                "--server-key",
                &fp,
                "--identity",
                id.to_str().unwrap(),
                data.to_str().unwrap(),
            ],
        )
    };
    let out = put(&key, &with_agent);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("signing with ssh-agent's key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(server.root.join("a.bin")).unwrap(),
        std::fs::read(&data).unwrap()
    );
    // --identity may name the .pub file of a key in the agent.
    let ls_pub = |env: &[(&str, &Path)]| {
        sft(
            home.path(),
            env,
            &[
                "ls",
                &server.target(),
                "--server-key",
                &fp,
                "--identity",
                public.to_str().unwrap(),
            ],
        )
    };
    let out = ls_pub(&with_agent);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "a.bin");
    // Without the agent, the .pub alone cannot sign.
    let out = ls_pub(&[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a public key and no ssh-agent"),
        "{}",
        stderr(&out)
    );
}

/// A refused key's hint quotes the line the admin should add as the user
/// has it (the `.pub` line with its comment, for an ssh key), and, for
/// the default identity, points at `~/.ssh/id_ed25519` when there is one.
#[test]
fn a_refused_key_hint_quotes_its_pub_line_and_points_at_the_ssh_key() {
    let other = Client::new();
    let server = Server::start(Some(&other.public_key()), &[]);
    let home = TempDir::new().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    let key = ssh_keygen(&ssh_dir, "id_ed25519", "ed25519", "");
    let pub_line = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let env = [("HOME", home.path())];
    let target = server.target();
    let ls = |extra: &[&str]| {
        let mut args = vec!["ls", &target, "--server-key", &server.host_fp];
        args.extend_from_slice(extra);
        sft(home.path(), &env, &args)
    };
    let out = ls(&["--identity", key.to_str().unwrap()]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let want = format!("authorized_keys:\n{}", pub_line.trim());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(pub_line.contains("test@sft"), "the comment is kept");
    assert!(!stderr(&out).contains("--identity"), "{}", stderr(&out));

    // The default identity (created now): its own line, then the ssh key.
    let out = ls(&[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let own = std::fs::read_to_string(home.path().join("identity.pub")).unwrap();
    assert!(stderr(&out).contains(own.trim()), "{}", stderr(&out));
    let want = format!("--identity {}", key.display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
}
