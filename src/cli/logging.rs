//! Where the log goes and in what shape: stderr or an appended file, plain
//! lines or JSON Lines for log shippers. `RUST_LOG` still picks the filter.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::error::{CliError, Exit};

/// Mode of a log file sft creates: the service's group may read it (a log
/// shipper run in that group), others may not. Log lines name client key
/// fingerprints, addresses and file names, never a secret. An existing
/// file keeps its mode.
pub const LOG_FILE_MODE: u32 = 0o640;

/// The server's log destination and format.
#[derive(Clone, Debug, Args)]
pub struct LogArgs {
    /// Append the log to FILE (created 0640; its directory must exist) instead of writing it to stderr
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Log line format: plain text, or JSON Lines with timestamp (RFC 3339 UTC), level, target and message
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl LogArgs {
    /// Whether the log file is the file at `other` (one device and inode;
    /// false when either does not exist).
    pub fn writes_to(&self, other: &Path) -> bool {
        let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        match (&self.log_file, id(other)) {
            (Some(log), Some(other)) => id(log) == Some(other),
            _ => false,
        }
    }
}

/// Sets up the global logger: `RUST_LOG`, else `default_filter`; to stderr
/// as plain lines unless `args` asks otherwise.
///
/// # Errors
/// [`Exit::Usage`] naming the path when the log file cannot be opened.
pub fn init(default_filter: &str, args: Option<&LogArgs>) -> Result<(), CliError> {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter));
    builder.format_target(false);
    let Some(args) = args else {
        builder.init();
        return Ok(());
    };
    if let Some(path) = &args.log_file {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(LOG_FILE_MODE)
            .open(path)
            .map_err(|e| {
                CliError::new(
                    Exit::Usage,
                    format!("cannot open log file {}: {e}", path.display()),
                )
                .hint("--log-file appends to a file whose directory exists and is writable")
            })?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    if args.log_format == LogFormat::Json {
        builder.format(|buf, record| {
            let line = json_line(
                &buf.timestamp_millis().to_string(),
                record.level(),
                record.target(),
                &record.args().to_string(),
            );
            writeln!(buf, "{line}")
        });
    }
    builder.init();
    Ok(())
}

/// One JSON Lines record. serde_json escapes every control character, so a
/// message cannot end its line or forge another.
fn json_line(timestamp: &str, level: log::Level, target: &str, message: &str) -> String {
    serde_json::json!({
        "timestamp": timestamp,
        "level": level.as_str(),
        "target": target,
        "message": message,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_newlines_and_quotes_stays_on_one_parseable_line() {
        let msg = "a\nforged {\"level\":\"ERROR\"}\r\u{0}\u{1b}[31m";
        let line = json_line(
            "2026-12-04T03:00:00.000Z",
            log::Level::Warn,
            "sft::net",
            msg,
        );
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["message"], msg);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "sft::net");
        assert_eq!(v["timestamp"], "2026-12-04T03:00:00.000Z");
    }
}
