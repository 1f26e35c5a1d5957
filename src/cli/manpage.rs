//! The sections of the man pages that clap does not know: sft(1)'s exit
//! status, environment and files, and sft-serve(1)'s files and signals.
//! Everything else on the pages is clap_mangen's, from the clap
//! definitions.

use std::io::Write;

use clap::Command;
use clap_mangen::Man;
use roff::{bold, roman, Roff};

use super::error::Exit;

/// Variables the client and server read, each with what it does.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("SFT_HOME", "Directory of sft's keys, known_hosts, config and receipts (default ~/.config/sft)."),
    ("SFT_PASSPHRASE_FILE", "A file (mode 0600, or a pipe) whose first line is the passphrase of an encrypted OpenSSH key, for scripts and services."),
    ("SSH_AUTH_SOCK", "The ssh-agent socket: a client identity whose key the agent holds is signed for by the agent."),
    ("all_proxy, ALL_PROXY, https_proxy, HTTPS_PROXY", "The proxy for put, get and ls when neither --proxy nor the config's Proxy gives one (the first set wins)."),
    ("no_proxy, NO_PROXY", "Servers reached directly: comma-separated names (covering names under them), IP addresses, or *."),
    ("RUST_LOG", "The log level (error, warn, info, debug), over -v and the server's default."),
];

/// Files under `$SFT_HOME`, each with what it holds.
const FILES: &[(&str, &str)] = &[
    ("$SFT_HOME/identity, identity.pub", "The client's key, created on first use; --identity or IdentityFile name another (an OpenSSH ssh-ed25519 key too)."),
    ("$SFT_HOME/known_hosts", "Server keys trusted by host and port."),
    ("$SFT_HOME/config", "Host blocks: HostName, Port, IdentityFile, ServerKey, Proxy (ssh_config style; it must not be writable by others)."),
    ("$SFT_HOME/receipts/", "Signed receipts of the files moved, checked with sft receipt verify."),
];

/// The server's files and signals, for sft-serve(1).
const SERVE_FILES: &[(&str, &str)] = &[
    ("$SFT_HOME/host_identity", "The server's key, created on first start; --identity names another (an OpenSSH ssh-ed25519 key too)."),
    ("$SFT_HOME/authorized_keys", "Client keys, one per line, with options root=DIR, read-only, write-only, overwrite, no-overwrite, max-sessions=N; reloaded on change and on SIGHUP. Other ssh key types are skipped; a file others may write is refused."),
    ("$SFT_HOME/audit.log", "The signed, hash-chained record of every transfer, checked with sft audit verify."),
    ("$SFT_HOME/files/", "The default root."),
];

const SERVE_SIGNALS: &[(&str, &str)] = &[
    ("SIGHUP", "Reload authorized_keys; sessions in flight go on. Ignored with --allow-any-client."),
    ("SIGTERM, SIGINT", "Stop accepting, end sessions gracefully (uploads in flight keep their partial files to resume), exit 0."),
];

/// The man page of `cmd` (`name` as in `sft-serve`), in roff.
///
/// # Errors
/// A failure writing to `out`.
pub fn render(cmd: Command, name: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let man = Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut roff = Roff::new();
    match name {
        "sft" => {
            roff.control("SH", ["EXIT STATUS"]);
            table(
                &mut roff,
                std::iter::once((
                    "0".to_string(),
                    "every requested file was confirmed".to_string(),
                ))
                .chain(
                    Exit::ALL
                        .iter()
                        .map(|e| (e.code().to_string(), e.meaning().to_string())),
                ),
            );
            roff.control("SH", ["ENVIRONMENT"]);
            table(&mut roff, owned(ENVIRONMENT));
            roff.control("SH", ["FILES"]);
            table(&mut roff, owned(FILES));
        }
        "sft-serve" => {
            roff.control("SH", ["FILES"]);
            table(&mut roff, owned(SERVE_FILES));
            roff.control("SH", ["SIGNALS"]);
            table(&mut roff, owned(SERVE_SIGNALS));
        }
        _ => {}
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "sft(1), sft-serve(1), sft-put(1), sft-get(1), sft-ls(1), ssh-keygen(1); the README for examples",
    )]);
    roff.to_writer(out)?;
    if name == "sft" {
        man.render_version_section(out)?;
    }
    Ok(())
}

fn owned(rows: &'static [(&'static str, &'static str)]) -> impl Iterator<Item = (String, String)> {
    rows.iter().map(|(a, b)| (a.to_string(), b.to_string()))
}

/// One `.TP` paragraph a row: the term in bold, its text under it.
fn table(roff: &mut Roff, rows: impl Iterator<Item = (String, String)>) {
    for (term, text) in rows {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(text)]);
    }
}
