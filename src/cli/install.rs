//! `sft completions` and `sft man`: generated from the clap definitions,
//! so they name exactly the flags this build has.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::error::{CliError, Exit};
use super::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages to (sft.1, sft-serve.1, ...), e.g. /usr/local/share/man/man1
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Prints the completion script for `args.shell` to stdout.
pub fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "sft", &mut script);
    write_stdout(&script)
}

/// Writes one man page per command (sft.1, sft-put.1, sft-audit-verify.1,
/// ...) into `args.dir`, replacing older ones.
pub fn man(args: ManArgs) -> Result<(), CliError> {
    if !args.dir.is_dir() {
        return Err(CliError::new(
            Exit::Usage,
            format!("{} is not a directory", args.dir.display()),
        )
        .hint("create it first, e.g. mkdir -p /usr/local/share/man/man1"));
    }
    clap_mangen::generate_to(Cli::command(), &args.dir).map_err(|e| {
        CliError::new(
            Exit::Usage,
            format!("cannot write man pages to {}: {e}", args.dir.display()),
        )
    })?;
    say!(
        "sft: wrote the man pages to {}; read them with `man sft`, `man sft-serve`, ...",
        args.dir.display()
    );
    Ok(())
}

/// Writes `bytes` to stdout; a closed pipe or full disk is an error, not a
/// panic.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            CliError::new(
                Exit::FileFailed,
                format!("cannot write to standard output: {e}"),
            )
        })
}
