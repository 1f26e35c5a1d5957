//! `sft demo` through the real binary: the README's first command.

#[test]
fn demo_round_trips_and_says_so() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sft"))
        .args(["demo", "--size", "3MiB"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("upload           demo.bin, 3145728 bytes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("download         demo.bin, 3145728 bytes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verified         3145728 bytes identical both ways"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("SHA256:").count(),
        3,
        "both fingerprints, one pinned: {stdout}"
    );
}
