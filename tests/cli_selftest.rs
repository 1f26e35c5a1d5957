//! `sft selftest` through the real binary.

#[test]
fn selftest_prints_one_pass_line_per_primitive_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sft"))
        .arg("selftest")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let passes = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert_eq!(passes, 6, "{stdout}");
    for name in [
        "AES-256-GCM",
        "SHA-256",
        "HKDF",
        "X25519",
        "Ed25519",
        "RAND_bytes",
    ] {
        assert!(stdout.contains(name), "{name} missing: {stdout}");
    }
    assert!(stdout.contains("6 passed, 0 failed"));
}
