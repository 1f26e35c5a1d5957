//! `sft audit verify` and `sft audit show`: the server's audit log
//! (docs/AUDIT.md), checked and read offline.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sft::audit::{self, Body, Line};
use sft::crypto::ed25519::VerifyingKey;
use sft::proto::name::display_safe;

use super::error::{CliError, Exit};
use super::keycmd::KeyArg;
use super::out;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every entry's link and signature and that a signed head covers the last; name the first entry that fails (exit 1)
    Verify {
        /// The audit log (the server's --audit-log, by default $SFT_HOME/audit.log on the server)
        #[arg(value_name = "LOG")]
        log: PathBuf,
        /// The server's host key: its public key file (host_identity.pub) or its SHA256: fingerprint
        #[arg(long, value_name = "KEY")]
        host_key: String,
        /// Print one JSON object on stdout instead of a line for people
        #[arg(long)]
        json: bool,
    },
    /// Print the entries, one line each (this does not verify them: `sft audit verify` does)
    Show {
        #[arg(value_name = "LOG")]
        log: PathBuf,
        /// Print JSON Lines: each entry as written, with the keys' fingerprints and its line number added
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: AuditArgs) -> Result<(), CliError> {
    match args.command {
        AuditCommand::Verify {
            log,
            host_key,
            json,
        } => verify(&log, &KeyArg::parse(&host_key)?, json),
        AuditCommand::Show { log, json } => show(&log, json),
    }
}

fn open(log: &Path) -> Result<BufReader<File>, CliError> {
    File::open(log)
        .map(BufReader::new)
        .map_err(|e| CliError::new(Exit::Usage, format!("{}: {e}", log.display())))
}

/// The host key to check with: the one given, or the server key in the
/// log's entries whose fingerprint is the one given.
fn host_key(log: &Path, arg: &KeyArg) -> Result<VerifyingKey, CliError> {
    let fp = match arg {
        KeyArg::Key(k) => return Ok(*k),
        KeyArg::Fingerprint(fp) => *fp,
    };
    let mut input = open(log)?;
    while let Some(text) = audit::read_line(&mut input).map_err(|e| io_error(log, e))? {
        let line = text
            .ok()
            .and_then(|t| Line::parse(&String::from_utf8_lossy(&t)).ok());
        let server = match line.map(|l| l.body) {
            Some(Body::Upload { signed, .. } | Body::Download(signed)) => signed.statement.server,
            _ => continue,
        };
        if server.fingerprint() == fp {
            return Ok(server);
        }
    }
    Err(CliError::new(
        Exit::Usage,
        format!(
            "no entry of {} names a server key with fingerprint {fp}",
            log.display()
        ),
    )
    .hint("give the server's public key file (host_identity.pub) instead"))
}

fn io_error(log: &Path, e: std::io::Error) -> CliError {
    CliError::new(Exit::Usage, format!("{}: {e}", log.display()))
}

fn verify(log: &Path, arg: &KeyArg, json: bool) -> Result<(), CliError> {
    let host = host_key(log, arg)?;
    let r = audit::verify_reader(open(log)?, &host).map_err(|e| io_error(log, e))?;
    let name = display_safe(&log.display().to_string());
    if json {
        out::line(format_args!(
            "{}",
            json!({
                "log": log.display().to_string(),
                "host_key": host.fingerprint().to_string(),
                "ok": r.first_error.is_none(),
                "entries": r.entries,
                "uploads": r.uploads,
                "downloads": r.downloads,
                "refusals": r.refusals,
                "heads": r.heads,
                "signed_through": r.signed_through,
                "failed_entry": r.first_error.as_ref().map(|f| f.seq),
                "failed_line": r.first_error.as_ref().map(|f| f.line),
                "error": r.first_error.as_ref().map(|f| f.what.clone()),
            })
        ));
    }
    match &r.first_error {
        None => {
            if !json {
                out::line(format_args!(
                    "{name}: OK: {} entries ({} uploads, {} downloads, {} refusals, {} signed heads), signed through entry {} by host key {}",
                    r.entries, r.uploads, r.downloads, r.refusals, r.heads, r.signed_through,
                    host.fingerprint()
                ));
            }
            Ok(())
        }
        Some(f) => Err(CliError::new(
            Exit::FileFailed,
            format!(
                "{name}: FAILED at entry {} (line {}): {}",
                f.seq,
                f.line,
                display_safe(&f.what)
            ),
        )
        .hint(match r.signed_through {
            0 => "no signed head verified before it".to_string(),
            n => format!("the entries before it verified; signed heads cover entries 1 to {n}"),
        })),
    }
}

fn show(log: &Path, json: bool) -> Result<(), CliError> {
    let mut input = open(log)?;
    let mut n = 0u64;
    let mut bad = 0u64;
    while let Some(text) = audit::read_line(&mut input).map_err(|e| io_error(log, e))? {
        n += 1;
        let parsed = text.and_then(|t| {
            let t = String::from_utf8(t).map_err(|_| "not UTF-8".to_string())?;
            Line::parse(&t).map(|l| (t, l))
        });
        match parsed {
            Ok((text, line)) if json => out::line(format_args!("{}", json_entry(n, &text, &line))),
            Ok((_, line)) => out::line(format_args!("{}", human(&line))),
            Err(why) => {
                bad += 1;
                say!(
                    "sft: {}: line {n}: not an audit entry: {why}",
                    log.display()
                );
            }
        }
    }
    if bad > 0 {
        return Err(CliError::new(
            Exit::FileFailed,
            format!("{bad} of {n} lines are not audit entries"),
        ));
    }
    Ok(())
}

/// One entry for people: number, time, kind, who, what.
fn human(line: &Line) -> String {
    let head = format!("#{:<6} {}", line.seq, out::utc(line.time));
    match &line.body {
        Body::Upload { signed, .. } | Body::Download(signed) => {
            let s = &signed.statement;
            let (kind, peer) = match line.body {
                Body::Upload { .. } => ("upload  ", "from"),
                _ => ("download", "to"),
            };
            format!(
                "{head}  {kind}  {} bytes  {}  sha256 {}…  {peer} {}",
                s.size,
                display_safe(&s.path),
                &hex::encode(s.sha256)[..16],
                s.client.fingerprint()
            )
        }
        Body::Refusal(r) => format!(
            "{head}  refusal   {} {}  code {}: {}  for {}",
            r.request,
            display_safe(&r.path),
            r.code,
            display_safe(&r.reason),
            r.client.fingerprint()
        ),
        Body::Head(_) => format!("{head}  head      signed by the host key"),
    }
}

/// One entry for machines: the line as written, with its line number and
/// the keys' fingerprints added.
fn json_entry(n: u64, text: &str, line: &Line) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    v["line"] = json!(n);
    match &line.body {
        Body::Upload { signed, .. } | Body::Download(signed) => {
            v["client_fingerprint"] = json!(signed.statement.client.fingerprint().to_string());
            v["server_fingerprint"] = json!(signed.statement.server.fingerprint().to_string());
        }
        Body::Refusal(r) => v["client_fingerprint"] = json!(r.client.fingerprint().to_string()),
        Body::Head(_) => {}
    }
    v
}
