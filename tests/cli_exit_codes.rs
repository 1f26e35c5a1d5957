//! Exit codes a script relies on, end to end through the `sft` binary:
//! tampering is 6 (never 3, which a script would retry into an attacker),
//! and an interrupted transfer is 130 with nothing left behind.

mod e2e;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::proxy::{Fault, Proxy};
use e2e::*;

/// Waits (bounded, 20 s) until `cond` holds.
fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn tampering_the_server_detects_mid_upload_exits_6_every_time() {
    let (server, client) = pair();
    let file = random_file(client.dir(), "big.bin", 4 << 20);
    // Before this was fixed, the client failed on its next write against
    // the server's reset and reported exit 3 in about a third of the runs.
    for run in 0..12 {
        // Somewhere in the middle of the file data, a different record
        // each run.
        let at = 1_000_000 + run * 77_777;
        let proxy = Proxy::start(server.addr, &[Fault::FlipUp { at }]);
        let out = client.sft(&[
            "put",
            &proxy.addr.to_string(),
            "--server-key",
            &server.host_fp,
            file.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 6, "run {run}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("bad record"),
            "run {run}: the client names the server's alert: {}",
            stderr(&out)
        );
    }
    assert!(server.wait_log("record authentication failed"));
    assert!(
        !server.root_names().iter().any(|n| n == "big.bin"),
        "nothing was stored"
    );
}

#[test]
fn interrupting_a_download_exits_130_and_keeps_its_partial_to_resume() {
    let client = Client::new();
    let content = vec![0x5a_u8; 8 << 20];
    let server = Server::start_with_root(&client.public_key(), &[("big.bin", &content)]);
    let proxy = Proxy::start(server.addr, &[Fault::StallDown { after: 1 << 20 }]);
    let out_dir = client.dir().join("downloads");
    std::fs::create_dir(&out_dir).unwrap();
    let child = Command::new(SFT)
        .env("SFT_HOME", client.dir())
        .args(["get", &proxy.addr.to_string(), "big.bin", "--server-key"])
        .arg(&server.host_fp)
        .arg("-o")
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-transfer: the relay holds after a MiB and the client's partial
    // file holds some of it.
    proxy.wait_stalled();
    let held = || {
        std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .max()
            .unwrap_or(0)
    };
    assert!(wait_until(|| held() > 0));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing under the final name; the bytes received wait in the
    // partial file, which the next get resumes.
    let names = entries(&out_dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(".sft-part-") && names[0].len() == 10 + 64);
    let kept = held();
    assert!(kept > 0 && kept < content.len() as u64);
    drop(proxy);
    let out = client.sft(&[
        "get",
        &server.target(),
        "big.bin",
        "--server-key",
        &server.host_fp,
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming after"), "{}", stderr(&out));
    assert_eq!(std::fs::read(out_dir.join("big.bin")).unwrap(), content);
    assert_eq!(entries(&out_dir), vec!["big.bin".to_string()]);
}
