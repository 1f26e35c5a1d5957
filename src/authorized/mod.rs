//! The server's authorized_keys file: which client keys may connect, with
//! what options ([`options`]), kept live while the server runs ([`table`],
//! [`watch`]).

pub mod options;
pub mod table;
pub mod watch;

use std::collections::HashSet;
use std::path::Path;

use crate::crypto::ed25519::VerifyingKey;
use crate::crypto::ed25519::SSH_KEY_TYPE;
use crate::keys::openssh::is_other_ssh_type;
use crate::keys::{trusted, KeyError, PublicKeyLine, KEY_TYPE};
pub use options::{Access, KeyOptions};

/// One authorized key with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedKey {
    /// The key and its comment.
    pub line: PublicKeyLine,
    /// What its sessions may do.
    pub options: KeyOptions,
}

impl AuthorizedKey {
    /// Parses `[options] key-type base64 [comment]`.
    ///
    /// # Errors
    /// A message naming the bad option or the bad part of the key.
    pub fn parse(line: &str) -> Result<Self, String> {
        let (options, key) = options::split_options(line.trim())?;
        let options = match options {
            Some(field) => options::parse_options(field)?,
            None => KeyOptions::default(),
        };
        Ok(AuthorizedKey {
            line: PublicKeyLine::parse(key)?,
            options,
        })
    }

    /// `key` with no options and no comment.
    pub fn plain(key: VerifyingKey) -> Self {
        AuthorizedKey {
            line: PublicKeyLine {
                key,
                comment: String::new(),
            },
            options: KeyOptions::default(),
        }
    }

    /// The key.
    pub fn key(&self) -> VerifyingKey {
        self.line.key
    }
}

/// Largest authorized_keys file read (16 MiB, some 150,000 keys); a larger
/// one is refused at start and not reloaded.
pub const MAX_FILE_LEN: u64 = 16 << 20;

/// What reading an authorized_keys file found: the keys of its good lines,
/// the lines of key types sft does not use, and the number and problem of
/// each bad line.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Keys of the good lines, in file order.
    pub keys: Vec<AuthorizedKey>,
    /// Each line of another SSH key type (ssh-rsa, ecdsa-sha2-*, ...), so
    /// one file can serve sshd and sft: its number (from 1) and the type.
    pub other_types: Vec<(usize, String)>,
    /// Each bad line: its number (from 1) and what is wrong.
    pub bad: Vec<(usize, String)>,
}

/// Parses an authorized_keys text: blank lines and `#` comments ignored.
/// A key on two lines keeps the options of its first; a key on a bad line
/// (bad options, say) is left out altogether, whatever its other lines
/// say, so a typo in a restriction never widens what the key may do.
pub fn parse_text(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut refused = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key_type = options::split_options(line)
            .ok()
            .and_then(|(_, key)| key.split_whitespace().next())
            .filter(|t| is_other_ssh_type(t));
        if let Some(t) = key_type {
            parsed.other_types.push((i + 1, t.to_string()));
            continue;
        }
        match AuthorizedKey::parse(line) {
            Ok(k) => parsed.keys.push(k),
            Err(reason) => {
                // A key whose line is bad is refused, even if another line
                // names it with fewer restrictions.
                refused.extend(keys_in(line));
                parsed.bad.push((i + 1, reason));
            }
        }
    }
    parsed.keys.retain(|k| !refused.contains(&k.key()));
    parsed
}

/// Every key a bad line names, wherever it stands: each word that is the
/// base64 of an Ed25519 key in either format (a typo in the options or the
/// key type must not hide the key from being refused).
fn keys_in(line: &str) -> impl Iterator<Item = VerifyingKey> + '_ {
    line.split(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .filter(|w| w.len() >= 40)
        .filter_map(|w| {
            [KEY_TYPE, SSH_KEY_TYPE]
                .iter()
                .find_map(|t| PublicKeyLine::parse(&format!("{t} {w}")).ok())
                .map(|l| l.key)
        })
}

/// Reads an authorized_keys file as at server start: any bad line is an
/// error; lines of other key types are kept in [`Parsed::other_types`]
/// (see [`warn_other_types`]).
///
/// # Errors
/// Those of [`read_authorized_keys`]; `Malformed` naming the first bad
/// line.
pub fn load_authorized_keys(path: &Path) -> Result<Parsed, KeyError> {
    let parsed = read_authorized_keys(path)?;
    match parsed.bad.first() {
        Some((line, reason)) => Err(KeyError::Malformed {
            path: path.to_path_buf(),
            reason: format!("line {line}: {reason}"),
        }),
        None => Ok(parsed),
    }
}

/// Reads an authorized_keys file, keeping its good lines and naming its
/// bad ones (as a reload does).
///
/// # Errors
/// `Io` when unreadable; `BadOwner` when another user could write it, or
/// `Malformed` when it is not a regular file, not UTF-8 or larger than
/// [`MAX_FILE_LEN`] (see [`trusted::read`]).
pub fn read_authorized_keys(path: &Path) -> Result<Parsed, KeyError> {
    Ok(parse_text(&trusted::read(path, MAX_FILE_LEN)?))
}

/// Most lines of one kind (other key types, bad lines) a load or reload
/// warns about one by one (20); the rest are counted in one more line, so
/// a huge or garbled file cannot flood the log on every reload.
pub const MAX_WARNED_LINES: usize = 20;

/// Logs a warning for each line of `parsed` whose key type sft does not
/// use (those keys are not authorized, and the rest of the file is), at
/// most [`MAX_WARNED_LINES`].
pub fn warn_other_types(path: &Path, parsed: &Parsed) {
    warn_capped(parsed.other_types.iter().map(|(line, key_type)| {
        format!(
            "{}:{line}: key type {key_type} is not one sft uses (it uses Ed25519); that key is skipped",
            path.display()
        )
    }));
}

/// Logs the first [`MAX_WARNED_LINES`] of `lines`, then how many more.
pub fn warn_capped(lines: impl ExactSizeIterator<Item = String>) {
    let total = lines.len();
    for line in lines.take(MAX_WARNED_LINES) {
        log::warn!("{line}");
    }
    if total > MAX_WARNED_LINES {
        log::warn!("... and {} more such lines", total - MAX_WARNED_LINES);
    }
}

#[cfg(test)]
mod tests;
