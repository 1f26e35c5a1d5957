//! `sft receipt verify`: checks receipt files (docs/RECEIPTS.md) offline
//! and says what each proves.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sft::crypto::ed25519::Fingerprint;
use sft::keys::KnownHosts;
use sft::proto::evidence::Evidence;
use sft::proto::name::display_safe;
use sft::receipt::{self, Record};

use super::error::{CliError, Exit};
use super::keycmd::KeyArg;
use super::{home, out};

#[derive(Debug, Args)]
pub struct ReceiptArgs {
    #[command(subcommand)]
    command: ReceiptCommand,
}

#[derive(Debug, Subcommand)]
enum ReceiptCommand {
    /// Check receipts: every signature, and that the server's key is one you trust (known_hosts, or --server-key); print what each proves; exit 1 if any fails
    Verify {
        /// Receipts files (one receipt per line), or directories of them (every *.jsonl inside), e.g. ~/.config/sft/receipts
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Trust only this server key: its SHA256: fingerprint or public key file (known_hosts is not read)
        #[arg(long, value_name = "KEY")]
        server_key: Option<String>,
        /// known_hosts file [default: $SFT_HOME/known_hosts]
        #[arg(long, value_name = "FILE", conflicts_with = "server_key")]
        known_hosts: Option<PathBuf>,
        /// Print JSON Lines: one object per receipt checked
        #[arg(long)]
        json: bool,
    },
}

/// Which server keys a receipt may name.
enum Trust {
    Pinned(Fingerprint),
    Known(KnownHosts, PathBuf),
}

pub fn run(args: ReceiptArgs) -> Result<(), CliError> {
    let ReceiptCommand::Verify {
        files,
        server_key,
        known_hosts,
        json,
    } = args.command;
    let trust = match server_key {
        Some(k) => Trust::Pinned(KeyArg::parse(&k)?.fingerprint()),
        None => {
            let path = home::home_file(known_hosts, "known_hosts")?;
            Trust::Known(KnownHosts::load(&path)?, path)
        }
    };
    let mut failed = 0usize;
    let mut total = 0usize;
    for path in expand(&files)? {
        let lines = receipt::read_verified(&path)
            .map_err(|e| CliError::new(Exit::Usage, format!("{}: {e}", path.display())))?;
        for (n, record) in lines {
            total += 1;
            let at = format!("{}:{n}", display_safe(&path.display().to_string()));
            match record
                .map_err(|e| e.to_string())
                .and_then(|r| trusted(r, &trust))
            {
                Ok((record, known_as)) if json => {
                    out::line(format_args!("{}", facts(&path, n, &record, &known_as)))
                }
                Ok((record, known_as)) => {
                    out::line(format_args!("{at}: OK: {}", proves(&record, &known_as)))
                }
                Err(why) => {
                    failed += 1;
                    if json {
                        let v = json!({ "file": path.display().to_string(), "line": n, "ok": false, "error": why });
                        out::line(format_args!("{v}"));
                    }
                    say!("sft: {at}: FAILED: {}", display_safe(&why));
                }
            }
        }
    }
    if total == 0 {
        return Err(CliError::new(Exit::Usage, "no receipts found"));
    }
    if failed > 0 {
        return Err(CliError::new(
            Exit::FileFailed,
            format!("{failed} of {total} receipt(s) failed"),
        ));
    }
    Ok(())
}

/// The files named, a directory standing for the `*.jsonl` files in it
/// (sorted).
fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for a in args {
        if !a.is_dir() {
            files.push(a.clone());
            continue;
        }
        let inside = receipt::files_in(a)
            .map_err(|e| CliError::new(Exit::Usage, format!("{}: {e}", a.display())))?;
        files.extend(inside);
    }
    Ok(files)
}

/// Checks a verified receipt's server key against `trust`; returns it and
/// the names known_hosts gives its server.
fn trusted(record: Record, trust: &Trust) -> Result<(Record, Vec<String>), String> {
    let server = record.evidence.signed().statement.server.fingerprint();
    let known_as = match trust {
        Trust::Pinned(fp) if *fp == server => Vec::new(),
        Trust::Pinned(fp) => {
            return Err(format!(
                "signed by server key {server}, not the one given ({fp})"
            ))
        }
        Trust::Known(hosts, file) => {
            let names: Vec<String> = hosts
                .names_of(&server)
                .into_iter()
                .map(String::from)
                .collect();
            if names.is_empty() {
                return Err(format!(
                    "server key {server} is not in {}; check it with the server's admin and pass --server-key",
                    file.display()
                ));
            }
            names
        }
    };
    Ok((record, known_as))
}

/// What a verified receipt proves, in words.
fn proves(r: &Record, known_as: &[String]) -> String {
    let s = &r.evidence.signed().statement;
    let server = match known_as {
        [] => s.server.fingerprint().to_string(),
        names => format!("{} ({})", s.server.fingerprint(), names.join(", ")),
    };
    let what = format!(
        "{} ({} bytes, SHA-256 {})",
        display_safe(&s.path),
        s.size,
        hex::encode(s.sha256)
    );
    match &r.evidence {
        Evidence::Upload(receipt) => format!(
            "upload of {what} by client {} to server {server}; the client signed it at {}; the server stored it at {} as audit entry {}",
            s.client.fingerprint(),
            out::utc(s.time),
            out::utc(receipt.stored.commit_time),
            receipt.stored.audit_seq
        ),
        Evidence::Download(_) => format!(
            "download of {what} served by server {server} to client {} at {}",
            s.client.fingerprint(),
            out::utc(s.time)
        ),
    }
}

/// A verified receipt's facts for machines.
fn facts(path: &Path, line: u64, r: &Record, known_as: &[String]) -> Value {
    let s = &r.evidence.signed().statement;
    let mut v = json!({
        "file": path.display().to_string(),
        "line": line,
        "ok": true,
        "direction": s.direction.as_str(),
        "client": s.client.fingerprint().to_string(),
        "server": s.server.fingerprint().to_string(),
        "server_known_as": known_as,
        "path": s.path,
        "size": s.size,
        "sha256": hex::encode(s.sha256),
        "time": s.time,
    });
    if let Evidence::Upload(receipt) = &r.evidence {
        v["commit_time"] = json!(receipt.stored.commit_time);
        v["audit_seq"] = json!(receipt.stored.audit_seq);
    }
    v
}
