//! `sft selftest` and the power-on self-tests, through the real binary.

use std::path::Path;
use std::process::{Command, Output};

/// An OpenSSL configuration that asks for FIPS algorithms while no FIPS
/// provider is loaded: every algorithm fetch fails, as on a host whose
/// OpenSSL is broken or misconfigured. (Comparisons still work: they need
/// no fetch.)
const NO_ALGORITHMS_CNF: &str = "\
openssl_conf = openssl_init
[openssl_init]
alg_section = algorithm_sect
[algorithm_sect]
default_properties = fips=yes
";

fn sft(home: &Path, openssl_conf: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sft"));
    cmd.args(args).env("SFT_HOME", home);
    if let Some(conf) = openssl_conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    cmd.output().unwrap()
}

fn broken_openssl(dir: &Path) -> std::path::PathBuf {
    let conf = dir.join("openssl.cnf");
    std::fs::write(&conf, NO_ALGORITHMS_CNF).unwrap();
    conf
}

#[test]
fn selftest_prints_one_pass_line_per_check_and_exits_zero() {
    let home = tempfile::tempdir().unwrap();
    let out = sft(home.path(), None, &["selftest"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let passes = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert_eq!(passes, 9, "{stdout}");
    for name in [
        "AES-256-GCM",
        "SHA-256 one-shot",
        "SHA-256 in uneven updates",
        "HKDF",
        "X25519",
        "small-order",
        "Ed25519",
        "ct::eq",
        "compare_digest",
        "RAND_bytes",
    ] {
        assert!(stdout.contains(name), "{name} missing: {stdout}");
    }
    assert!(stdout.contains("9 passed, 0 failed"));
}

#[test]
fn crypto_commands_refuse_to_start_with_exit_2_when_a_self_test_fails() {
    let home = tempfile::tempdir().unwrap();
    let conf = broken_openssl(home.path());
    let file = home.path().join("file.txt");
    std::fs::write(&file, b"x").unwrap();
    let file = file.to_str().unwrap();
    let root = home.path().join("served");
    let root = root.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["demo", "--size", "1KiB"],
        &["serve", "--listen", "127.0.0.1:0", "--root", root],
        &["put", "127.0.0.1:1", file],
        &["get", "127.0.0.1:1", "file.txt"],
        &["ls", "127.0.0.1:1"],
    ];
    for args in commands {
        let out = sft(home.path(), Some(&conf), args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        // The first check, named, and the library it failed on.
        assert!(
            stderr.contains("sft: cryptographic self-test failed: AES-256-GCM"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("(OpenSSL "), "{args:?}: {stderr}");
        assert!(stderr.contains("hint: "), "{args:?}: {stderr}");
    }
}

#[test]
fn fingerprint_errs_instead_of_panicking_when_sha256_is_unavailable() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("id");
    let made = sft(home.path(), None, &["keygen", "-o", key.to_str().unwrap()]);
    assert!(made.status.success());
    let conf = broken_openssl(home.path());
    let public = home.path().join("id.pub");
    let out = sft(
        home.path(),
        Some(&conf),
        &["fingerprint", public.to_str().unwrap()],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("EVP_DigestInit_ex"), "{stderr}");
    // And with a working OpenSSL the same file gives its fingerprint.
    let out = sft(
        home.path(),
        None,
        &["fingerprint", public.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("SHA256:"));
}
