//! `$SFT_HOME` and the files that live there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::info;
use sft::crypto::ed25519::{Sign, SigningKey};
use sft::keys::{self, agent, PublicKeyLine};

use super::error::{CliError, Exit};

/// `$SFT_HOME`, or `~/.config/sft`.
pub fn sft_home() -> Result<PathBuf, CliError> {
    if let Some(h) = std::env::var_os("SFT_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("sft")),
        None => Err(
            CliError::new(Exit::Usage, "neither SFT_HOME nor HOME is set")
                .hint("set SFT_HOME to a directory for sft's keys"),
        ),
    }
}

/// `explicit`, or `$SFT_HOME/<name>`.
pub fn home_file(explicit: Option<PathBuf>, name: &str) -> Result<PathBuf, CliError> {
    match explicit {
        Some(p) => Ok(p),
        None => Ok(sft_home()?.join(name)),
    }
}

/// A short comment for new keys: `user@host`.
fn key_comment() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "sft".into());
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// Writes a new identity at `path` (refusing to overwrite) and returns it.
pub fn create_identity(path: &Path) -> Result<SigningKey, CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        keys::create_private_dir(dir)?;
    }
    let key = SigningKey::generate().map_err(|e| CliError::new(Exit::Usage, e.to_string()))?;
    keys::write_identity(path, &key, &key_comment())?;
    Ok(key)
}

/// Loads the identity at `path`, creating it first if it does not exist;
/// `what` says in the message whose key it is ("client", "host").
pub fn load_or_create_identity(path: &Path, what: &str) -> Result<SigningKey, CliError> {
    if path.exists() {
        return Ok(keys::load_identity(path)?);
    }
    let key = create_identity(path)?;
    let line = PublicKeyLine {
        key: key.verifying_key(),
        comment: key_comment(),
    };
    say!(
        "sft: created {what} identity {} ({})",
        path.display(),
        key.verifying_key().fingerprint()
    );
    if what == "client" {
        say!("sft: give the server's admin this line for its authorized_keys:\n{line}");
    }
    Ok(key)
}

/// The client's signer for the identity at `path`: the ssh-agent at
/// `SSH_AUTH_SOCK` when it holds the key (its public key from PATH.pub, or
/// PATH itself when that is a public key file), as ssh does; else the key
/// file, decrypted if need be. Says at info level which one signs.
pub fn client_identity(path: &Path) -> Result<Arc<dyn Sign>, CliError> {
    let names_public = path.extension().is_some_and(|e| e == "pub");
    let public_file = if names_public {
        path.to_path_buf()
    } else {
        keys::public_path(path)
    };
    if let Some(sock) = std::env::var_os(agent::SOCK_ENV).filter(|s| !s.is_empty()) {
        let public = match keys::public_key_of_file(&public_file) {
            Ok(k) => Some(k),
            Err(e) if names_public => return Err(e.into()),
            Err(_) => None,
        };
        if let Some(public) = public {
            match agent::AgentKey::find(Path::new(&sock), &public) {
                Ok(Some(key)) => {
                    info!("signing with ssh-agent's key {}", public.fingerprint());
                    return Ok(Arc::new(key));
                }
                Ok(None) => info!("ssh-agent does not hold {}", public.fingerprint()),
                Err(e) => info!("ssh-agent: {e}"),
            }
        }
    }
    if names_public {
        return Err(CliError::new(
            Exit::Usage,
            format!(
                "{} is a public key and no ssh-agent (SSH_AUTH_SOCK) holds its private key",
                path.display()
            ),
        )
        .hint("add the key to the agent with `ssh-add KEY`, or give the private key file"));
    }
    let key = keys::load_identity(path)?;
    info!("signing with the key file {}", path.display());
    Ok(Arc::new(key))
}
