//! Command-line definitions (clap). No logic lives here beyond dispatch;
//! each subcommand has its own file.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod selftest;

/// sft: secure file transfer on system OpenSSL.
#[derive(Debug, Parser)]
#[command(name = "sft", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the cryptographic known-answer self-tests and report each.
    ///
    /// Prints one line per test; exits 0 only if every test passed.
    Selftest,
}

impl Cli {
    /// Runs the chosen subcommand and returns the process exit status.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Selftest => selftest::run(),
        }
    }
}
