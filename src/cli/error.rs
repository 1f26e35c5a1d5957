//! CLI errors: what went wrong, what to do, and the exit code scripts see.

use std::fmt::Display;
use std::process::ExitCode;

/// Why sft exits with a failure; each discriminant is the documented exit
/// status (0, success, is not an error and has no variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// At least one file failed (refused, exists, not found, too large, local I/O).
    FileFailed = 1,
    /// Bad arguments or configuration (clap also uses 2).
    Usage = 2,
    /// Could not connect, connection refused or cut, or timed out.
    Connection = 3,
    /// The server's identity is not trusted: unknown, changed, or not the pinned key.
    ServerUntrusted = 4,
    /// The server refused this client's key.
    ClientRefused = 5,
    /// The peer broke the protocol or data failed its integrity check.
    Protocol = 6,
    /// Interrupted by SIGINT or SIGTERM (a partly moved file is kept in its
    /// partial file, to resume), as shells report 128+2.
    Interrupted = 130,
}

impl Exit {
    /// Every variant, in the order `sft --help` lists them.
    pub(super) const ALL: [Exit; 7] = [
        Exit::FileFailed,
        Exit::Usage,
        Exit::Connection,
        Exit::ServerUntrusted,
        Exit::ClientRefused,
        Exit::Protocol,
        Exit::Interrupted,
    ];

    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The line `sft --help` gives this status.
    pub(super) fn meaning(self) -> &'static str {
        match self {
            Exit::FileFailed => {
                "at least one file failed (refused, exists, not found, too large, local I/O, changed while sent)"
            }
            Exit::Usage => "bad arguments or configuration",
            Exit::Connection => "could not connect, connection refused or cut, timed out",
            Exit::ServerUntrusted => {
                "server identity not trusted (unknown host, changed key, --server-key mismatch)"
            }
            Exit::ClientRefused => "the server refused this client's key",
            Exit::Protocol => "protocol violation or failed integrity check",
            Exit::Interrupted => "interrupted (Ctrl-C); a partly moved file is kept to resume",
        }
    }
}

/// The exit-status table shown in `sft --help`, made from [`Exit`].
pub fn exit_codes_help() -> String {
    let mut help = String::from("Exit status:\n  0  every requested file was confirmed");
    for exit in Exit::ALL {
        help += &format!("\n{:>3}  {}", exit.code(), exit.meaning());
    }
    help
}

/// A failure to report: one line, an optional hint, an exit status.
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    message: String,
    hint: Option<String>,
}

impl CliError {
    /// An error with no hint.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint line: what the user can do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names what the failure concerns, such as a file name:
    /// the message becomes `{context}: {message}`.
    pub fn context(mut self, context: impl Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Adds what the failure left undone: the message becomes
    /// `{message}; {outcome}`.
    pub fn outcome(mut self, outcome: impl Display) -> Self {
        self.message = format!("{}; {outcome}", self.message);
        self
    }

    /// The exit status this error ends the process with.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// The one-line message, without the hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prints the error to stderr and returns its exit status.
    pub fn report(&self) -> ExitCode {
        if !self.message.is_empty() {
            say!("sft: {}", self.message);
        }
        if let Some(h) = &self.hint {
            say!("hint: {h}");
        }
        ExitCode::from(self.exit.code())
    }
}

impl From<sft::keys::KeyError> for CliError {
    fn from(e: sft::keys::KeyError) -> Self {
        CliError::new(Exit::Usage, e.to_string())
    }
}

impl From<sft::fs::FsError> for CliError {
    fn from(e: sft::fs::FsError) -> Self {
        CliError::new(Exit::FileFailed, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 130]);
    }

    #[test]
    fn help_lists_every_exit_status_with_its_number() {
        let help = exit_codes_help();
        for exit in Exit::ALL {
            let line = format!("{:>3}  {}", exit.code(), exit.meaning());
            assert!(help.lines().any(|l| l == line), "{exit:?} missing");
        }
        // The table as README.md and scripts know it, byte for byte.
        assert_eq!(
            help,
            "\
Exit status:
  0  every requested file was confirmed
  1  at least one file failed (refused, exists, not found, too large, local I/O, changed while sent)
  2  bad arguments or configuration
  3  could not connect, connection refused or cut, timed out
  4  server identity not trusted (unknown host, changed key, --server-key mismatch)
  5  the server refused this client's key
  6  protocol violation or failed integrity check
130  interrupted (Ctrl-C); a partly moved file is kept to resume"
        );
    }

    #[test]
    fn context_and_outcome_wrap_the_message_and_keep_the_hint() {
        let e = CliError::new(Exit::Connection, "connection cut")
            .hint("try again")
            .context("a.txt")
            .outcome("2 file(s) not transferred");
        assert_eq!(
            e.message,
            "a.txt: connection cut; 2 file(s) not transferred"
        );
        assert_eq!(e.hint.as_deref(), Some("try again"));
        assert_eq!(e.exit, Exit::Connection);
    }
}
