//! `sft completions` and `sft man`: generated from the clap definitions,
//! so they name exactly the flags this build has.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::error::{CliError, Exit};
use super::manpage;
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
    write_pages(&args.dir).map_err(|e| {
        CliError::new(
            Exit::Usage,
            format!("cannot write man pages to {}: {e}", args.dir.display()),
        )
    })?;
    say!(
        "sft: wrote the man pages to {0}; read one with `man -l {0}/sft.1`, or write them to a directory on the MANPATH and use `man sft`",
        args.dir.display()
    );
    Ok(())
}

/// clap_mangen's pages for every command, then sft(1) and sft-serve(1)
/// again with the sections clap does not know ([`manpage`]).
fn write_pages(dir: &Path) -> std::io::Result<()> {
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let serve = cmd.find_subcommand("serve").cloned();
    for (name, page) in std::iter::once(("sft", cmd.clone())).chain(serve.map(|s| ("sft-serve", s)))
    {
        let mut file = std::fs::File::create(dir.join(format!("{name}.1")))?;
        manpage::render(page, name, &mut file)?;
        file.flush()?;
    }
    Ok(())
}

/// Writes `bytes` to stdout; a closed pipe or full disk is an error, not a
/// panic.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
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
