//! `sft selftest` through the real binary.

#[test]
fn selftest_prints_one_pass_line_per_check_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sft"))
        .arg("selftest")
        .output()
        .unwrap();
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
