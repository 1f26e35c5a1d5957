//! CLI errors: what went wrong, what to do, and the exit code scripts see.

use std::process::ExitCode;

/// At least one file failed (refused, exists, not found, too large, local I/O).
pub const FILE_FAILED: u8 = 1;
/// Bad arguments or configuration (clap also uses 2).
pub const USAGE: u8 = 2;
/// Could not connect, connection refused or cut, or timed out.
pub const CONNECTION: u8 = 3;
/// The server's identity is not trusted: unknown, changed, or not the pinned key.
pub const SERVER_UNTRUSTED: u8 = 4;
/// The server refused this client's key.
pub const CLIENT_REFUSED: u8 = 5;
/// The peer broke the protocol or data failed its integrity check.
pub const PROTOCOL: u8 = 6;
/// Interrupted by SIGINT or SIGTERM (partial files removed), as shells report 128+2.
pub const INTERRUPTED: u8 = 130;

/// The exit-code table, shown in `sft --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  every requested file was confirmed
  1  at least one file failed (refused, exists, not found, too large, local I/O)
  2  bad arguments or configuration
  3  could not connect, connection refused or cut, timed out
  4  server identity not trusted (unknown host, changed key, --server-key mismatch)
  5  the server refused this client's key
  6  protocol violation or failed integrity check
130  interrupted (Ctrl-C); partial files were removed";

/// A failure to report: one line, an optional hint, an exit code.
#[derive(Debug)]
pub struct CliError {
    /// Exit status (see the constants above).
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl CliError {
    /// An error with no hint.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints the error to stderr and returns its exit status.
    pub fn report(&self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("sft: {}", self.message);
        }
        if let Some(h) = &self.hint {
            eprintln!("hint: {h}");
        }
        ExitCode::from(self.code)
    }
}

impl From<sft::keys::KeyError> for CliError {
    fn from(e: sft::keys::KeyError) -> Self {
        CliError::new(USAGE, e.to_string())
    }
}

impl From<sft::fs::FsError> for CliError {
    fn from(e: sft::fs::FsError) -> Self {
        CliError::new(FILE_FAILED, e.to_string())
    }
}
