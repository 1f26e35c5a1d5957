//! The `sft` binary: parse, dispatch, exit.
#![forbid(unsafe_code)]

use clap::Parser;

mod cli;

fn main() -> std::process::ExitCode {
    cli::Cli::parse().run()
}
