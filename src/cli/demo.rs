//! `sft demo`: a local server on an ephemeral port, an upload, a download
//! and a byte-for-byte comparison, with temporary keys and directories.

use std::io::{Read, Write};
use std::sync::Arc;
use std::thread;

use clap::Args;
use sft::audit::AuditLog;
use sft::authorized::table::AuthorizedTable;
use sft::authorized::AuthorizedKey;
use sft::crypto::ed25519::SigningKey;
use sft::crypto::{hash, rand};
use sft::fs::ReceiveRoot;
use sft::net::client::{Report, ServerTrust, Session, SessionOptions, Step, CONNECT_TIMEOUT};
use sft::net::server::{Clients, Limits, ServeOptions, Server, Timeouts};
use sft::proto::msgs::ResultCode;

use super::error::{CliError, Exit};
use super::out;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the generated test file, e.g. 8MiB; 1 byte to 1GiB
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = super::parse::demo_size)]
    size: u64,
}

fn internal(e: impl std::fmt::Display) -> CliError {
    CliError::new(Exit::Protocol, format!("demo failed: {e}"))
}

fn rate(r: &Report) -> String {
    let secs = r.elapsed.as_secs_f64().max(1e-6);
    format!(
        "{:.3}s, {:.1} MiB/s",
        secs,
        r.bytes as f64 / (1 << 20) as f64 / secs
    )
}

pub fn run(args: DemoArgs) -> Result<(), CliError> {
    let tmp = tempfile::tempdir().map_err(internal)?;
    let server_root = ReceiveRoot::open_or_create(&tmp.path().join("server-root"))?;
    let download_root = ReceiveRoot::open_or_create(&tmp.path().join("downloads"))?;

    let host_key = Arc::new(SigningKey::generate().map_err(internal)?);
    let audit =
        AuditLog::open(&tmp.path().join("audit.log"), host_key.clone()).map_err(internal)?;
    let client_key = Arc::new(SigningKey::generate().map_err(internal)?);
    let host_fp = host_key.verifying_key().fingerprint();
    out::line(format_args!("server identity  {host_fp}"));
    out::line(format_args!(
        "client identity  {}",
        client_key.verifying_key().fingerprint()
    ));

    let server = Server::bind(ServeOptions {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        root: server_root,
        identity: host_key,
        audit,
        clients: Clients::Authorized(Arc::new(AuthorizedTable::new(vec![AuthorizedKey::plain(
            client_key.verifying_key(),
        )]))),
        max_file_size: args.size,
        max_mode: sft::net::server::DEFAULT_MAX_MODE,
        timeouts: Timeouts::default(),
        limits: Limits::default(),
        allow_overwrite: false,
        partial_ttl: sft::net::server::DEFAULT_PARTIAL_TTL,
        threads: 1,
    })
    .map_err(internal)?;
    let addr = server.local_addr().map_err(internal)?;
    let stop = server.shutdown_handle();
    let serving = thread::spawn(move || server.run());
    out::line(format_args!(
        "server           listening on {addr} (temporary root and keys)"
    ));

    // A file of random bytes.
    let original = tmp.path().join("demo.bin");
    let mut file = std::fs::File::create(&original).map_err(internal)?;
    let mut left = args.size;
    let mut block = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        rand::fill(&mut block[..n]).map_err(internal)?;
        file.write_all(&block[..n]).map_err(internal)?;
        left -= n as u64;
    }
    drop(file);

    let result = (|| {
        let opts = SessionOptions {
            identity: client_key,
            trust: ServerTrust::Pinned(host_fp),
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: Timeouts::default().handshake,
            max_file_size: args.size,
        };
        let mut session = Session::connect(addr, &opts, &mut |_| false).map_err(internal)?;
        out::line(format_args!(
            "handshake        ok: server proved {host_fp}, as pinned"
        ));
        let put = Step::Put {
            local: original.clone(),
            remote: "demo.bin".into(),
            overwrite: false,
            preserve: false,
            within: None,
        };
        let up = session.run_one(put, None).map_err(internal)??;
        if up.outcome.code != ResultCode::Ok {
            return Err(CliError::new(
                Exit::FileFailed,
                format!("upload refused: {}", up.outcome.reason),
            ));
        }
        out::line(format_args!(
            "upload           demo.bin, {} bytes, {}",
            up.bytes,
            rate(&up)
        ));
        let get = Step::Get {
            remote: "demo.bin".into(),
            local: "demo.bin".into(),
            preserve: false,
        };
        let down = session
            .run_one(get, Some(&download_root))
            .map_err(internal)??;
        if down.outcome.code != ResultCode::Ok {
            return Err(CliError::new(
                Exit::FileFailed,
                format!("download failed: {}", down.outcome.reason),
            ));
        }
        out::line(format_args!(
            "download         demo.bin, {} bytes, {}",
            down.bytes,
            rate(&down)
        ));
        session.close().map_err(internal)?;
        Ok(())
    })();
    stop.shutdown();
    let _ = serving.join();
    result?;

    let back = download_root.path().join("demo.bin");
    let (same, digest) = compare_and_hash(&original, &back).map_err(internal)?;
    if !same {
        return Err(CliError::new(
            Exit::FileFailed,
            "the downloaded file differs from the original",
        ));
    }
    out::line(format_args!(
        "verified         {} bytes identical both ways, SHA-256 {}",
        args.size,
        hex::encode(digest)
    ));
    Ok(())
}

/// Whether files `a` and `b` hold the same bytes, and the SHA-256 of `b`,
/// in one streaming pass.
fn compare_and_hash(a: &std::path::Path, b: &std::path::Path) -> Result<(bool, [u8; 32]), String> {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).map_err(|e| e.to_string())?,
        std::fs::File::open(b).map_err(|e| e.to_string())?,
    );
    let mut h = hash::Sha256::new().map_err(|e| e.to_string())?;
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut same = true;
    loop {
        let n = fb.read(&mut bb).map_err(|e| e.to_string())?;
        if n == 0 {
            same &= fa.read(&mut ba).map_err(|e| e.to_string())? == 0;
            return Ok((same, h.finish().map_err(|e| e.to_string())?));
        }
        h.update(&bb[..n]).map_err(|e| e.to_string())?;
        same &= fa.read_exact(&mut ba[..n]).is_ok() && ba[..n] == bb[..n];
    }
}
