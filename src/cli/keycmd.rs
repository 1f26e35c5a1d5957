//! `sft keygen` and `sft fingerprint`.

use std::path::PathBuf;

use clap::Args;
use sft::keys;

use super::error::CliError;
use super::{home, out};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to PATH.pub [default: $SFT_HOME/identity]
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// A private key (PEM) or public key (`sft-ed25519 ...`) file
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

pub fn keygen(args: KeygenArgs) -> Result<(), CliError> {
    let path = home::home_file(args.output, "identity")?;
    let key = home::create_identity(&path)?;
    let pub_path = keys::public_path(&path);
    let line = std::fs::read_to_string(&pub_path).unwrap_or_default();
    out::line(format_args!("private key: {}", path.display()));
    out::line(format_args!("public key:  {}", pub_path.display()));
    out::line(format_args!(
        "fingerprint: {}",
        key.verifying_key().fingerprint()
    ));
    for l in line.lines() {
        out::line(format_args!("{l}"));
    }
    Ok(())
}

pub fn fingerprint(args: FingerprintArgs) -> Result<(), CliError> {
    out::line(format_args!("{}", keys::fingerprint_of_file(&args.path)?));
    Ok(())
}
