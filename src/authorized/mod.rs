//! The server's authorized_keys file: which client keys may connect, with
//! what options ([`options`]), kept live while the server runs ([`table`],
//! [`watch`]).

pub mod options;
pub mod table;
pub mod watch;

use std::fs;
use std::path::Path;

use crate::crypto::ed25519::VerifyingKey;
use crate::keys::{KeyError, PublicKeyLine};
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

/// What reading an authorized_keys file found: the keys of its good lines,
/// and the number and problem of each bad one.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Keys of the good lines, in file order.
    pub keys: Vec<AuthorizedKey>,
    /// Each bad line: its number (from 1) and what is wrong.
    pub bad: Vec<(usize, String)>,
}

/// Parses an authorized_keys text: blank lines and `#` comments ignored.
/// A key on two lines keeps the options of its first.
pub fn parse_text(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match AuthorizedKey::parse(line) {
            Ok(k) => parsed.keys.push(k),
            Err(reason) => parsed.bad.push((i + 1, reason)),
        }
    }
    parsed
}

/// Reads an authorized_keys file (as at server start: any bad line is an
/// error).
///
/// # Errors
/// `Io` when unreadable; `Malformed` naming the first bad line.
pub fn load_authorized_keys(path: &Path) -> Result<Vec<AuthorizedKey>, KeyError> {
    let parsed = read_authorized_keys(path)?;
    match parsed.bad.into_iter().next() {
        Some((line, reason)) => Err(KeyError::Malformed {
            path: path.to_path_buf(),
            reason: format!("line {line}: {reason}"),
        }),
        None => Ok(parsed.keys),
    }
}

/// Reads an authorized_keys file, keeping its good lines and naming its
/// bad ones (as a reload does).
///
/// # Errors
/// `Io` when unreadable.
pub fn read_authorized_keys(path: &Path) -> Result<Parsed, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_text(&text))
}

#[cfg(test)]
mod tests;
