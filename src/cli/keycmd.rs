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
    /// A private key (sft PKCS#8 or OpenSSH) or public key (`sft-ed25519 ...`, `ssh-ed25519 ...`) file
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

/// A key named on the command line: a public (or private) key file, or
/// a `SHA256:` fingerprint.
pub enum KeyArg {
    Key(sft::crypto::ed25519::VerifyingKey),
    Fingerprint(sft::crypto::ed25519::Fingerprint),
}

impl KeyArg {
    /// Parses `text`: a fingerprint when it starts with `SHA256:`, else a
    /// key file's path.
    ///
    /// # Errors
    /// A malformed fingerprint, or a file that is not a key (exit 2).
    pub fn parse(text: &str) -> Result<Self, CliError> {
        use sft::crypto::ed25519::{Fingerprint, FINGERPRINT_PREFIX};
        if text.starts_with(FINGERPRINT_PREFIX) {
            let fp = Fingerprint::parse(text)
                .map_err(|e| CliError::new(super::error::Exit::Usage, format!("{text}: {e}")))?;
            return Ok(KeyArg::Fingerprint(fp));
        }
        Ok(KeyArg::Key(keys::public_key_of_file(
            std::path::Path::new(text),
        )?))
    }

    /// The fingerprint it names.
    pub fn fingerprint(&self) -> sft::crypto::ed25519::Fingerprint {
        match self {
            KeyArg::Key(k) => k.fingerprint(),
            KeyArg::Fingerprint(fp) => *fp,
        }
    }
}
