//! End to end through the `sft` binary: files uploaded and downloaded leave
//! receipts on the client and entries in the server's audit log; both
//! verify with the binary, and each fails once tampered with.

mod e2e;

use std::path::{Path, PathBuf};

use e2e::*;

fn one_receipts_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

#[test]
fn receipts_and_the_audit_log_verify_and_fail_once_tampered_with() {
    let (server, client) = pair();
    let a = random_file(client.dir(), "a.bin", 3 * CHUNK + 5);
    let b = random_file(client.dir(), "b.bin", 10);
    let up = client.dir().join("up");
    let out = client.sft(&[
        "put",
        &server.target(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--accept-new",
        "--receipt-dir",
        up.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let receipts = one_receipts_file(&up);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.contains(&format!("\"receipt\":\"{}\"", receipts.display())),
        "{json}"
    );
    let down = client.dir().join("down");
    std::fs::create_dir(&down).unwrap();
    let out = client.sft(&[
        "get",
        &server.target(),
        "a.bin",
        "b.bin",
        "nothere",
        "-o",
        down.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "nothere is refused: {}", stderr(&out));
    // The default receipt directory, for the get.
    let got = one_receipts_file(&client.dir().join("receipts"));

    let verify = |path: &Path| client.sft(&["receipt", "verify", path.to_str().unwrap()]);
    for (file, lines) in [(&receipts, 2), (&got, 2)] {
        let out = verify(file);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(
            String::from_utf8(out.stdout)
                .unwrap()
                .matches(": OK: ")
                .count(),
            lines
        );
    }
    let log = server.home().join("audit.log");
    let host_pub = server.home().join("host_identity.pub");
    let audit = |log: &Path| {
        client.sft(&[
            "audit",
            "verify",
            log.to_str().unwrap(),
            "--host-key",
            host_pub.to_str().unwrap(),
        ])
    };
    let out = audit(&log);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("(2 uploads, 2 downloads, 1 refusals"),
        "{text}"
    );

    // Each receipt's audit entry holds the same statement signature.
    let shown = client.sft(&["audit", "show", log.to_str().unwrap(), "--json"]);
    let entries: Vec<serde_json::Value> = String::from_utf8(shown.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in std::fs::read_to_string(&receipts).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let seq = r["audit_seq"].as_u64().unwrap();
        let entry = &entries[seq as usize - 1];
        assert_eq!(entry["seq"], seq);
        assert_eq!(entry["statement_sig"], r["statement_sig"]);
    }

    // Tampered: a receipt's size, the log's first entry's path.
    let text = std::fs::read_to_string(&receipts).unwrap();
    std::fs::write(&receipts, text.replacen("\"size\":10", "\"size\":11", 1)).unwrap();
    let out = verify(&receipts);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("FAILED: the client's statement signature does not verify"),
        "{}",
        stderr(&out)
    );
    let copy = client.dir().join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &copy,
        text.replacen("\"path\":\"a.bin\"", "\"path\":\"z.bin\"", 1),
    )
    .unwrap();
    let out = audit(&copy);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("FAILED at entry 1 (line 1)"),
        "{}",
        stderr(&out)
    );
}
