//! `sft ls`: the server's files, sorted by name, as columns or JSON Lines.

use clap::Args;
use serde_json::json;
use sft::proto::name::display_safe;

use super::connect::connect;
use super::exit::session_error;
use super::listing_format::rfc3339;
use super::tally::{json_line, OutputArgs};
use crate::cli::error::{CliError, Exit};
use crate::cli::{out, TrustArgs};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Server, as HOST, HOST:PORT or [IPv6]:PORT (default port 5555)
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    #[command(flatten)]
    pub(in crate::cli) print: OutputArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

pub fn ls(args: LsArgs) -> Result<(), CliError> {
    let print = args.print;
    let result = list(args);
    if print.json {
        let (files, bytes, exit, message) = match &result {
            Ok((files, bytes)) => (*files, *bytes, 0, None),
            Err(e) => (0, 0, e.exit().code(), Some(e.message())),
        };
        json_line(&json!({
            "type": "summary",
            "op": "ls",
            "files": files,
            "bytes": bytes,
            "exit": exit,
            "message": message,
        }));
    }
    result.map(|_| ())
}

/// Lists the server's root, printing each entry unless quiet. Returns the
/// number of files and their total size in bytes.
fn list(args: LsArgs) -> Result<(usize, u64), CliError> {
    let mut c = connect(&args.server, args.trust, u64::MAX)?;
    let listing = c.session.list().map_err(session_error)?;
    let _ = c.session.close();
    let mut entries = listing.map_err(|o| {
        CliError::new(
            Exit::FileFailed,
            format!("listing refused: {}", display_safe(&o.reason)),
        )
    })?;
    // The server sends its directory order.
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let mut bytes = 0u64;
    for e in &entries {
        bytes = bytes.saturating_add(e.size);
        let when = rfc3339(e.mtime);
        match (args.print.json, args.print.quiet) {
            (_, true) => {}
            (true, false) => json_line(&json!({
                "type": "entry",
                "name": e.name,
                "size": e.size,
                "mtime": e.mtime,
                "mtime_utc": when,
            })),
            (false, false) => {
                let when = when.unwrap_or_else(|| format!("@{}", e.mtime));
                out::line(format_args!("{:>14}  {when}  {}", e.size, e.name));
            }
        }
    }
    Ok((entries.len(), bytes))
}
