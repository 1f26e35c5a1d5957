//! The server's authorized_keys file: which client keys may connect.

use std::fs;
use std::path::Path;

use crate::keys::{KeyError, PublicKeyLine};

/// Reads an authorized_keys file: one public-key line per client,
/// blank lines and `#` comments ignored.
///
/// # Errors
/// `Io` when unreadable; `Malformed` naming the first bad line.
pub fn load_authorized_keys(path: &Path) -> Result<Vec<PublicKeyLine>, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(
            PublicKeyLine::parse(line).map_err(|reason| KeyError::Malformed {
                path: path.to_path_buf(),
                reason: format!("line {}: {reason}", i + 1),
            })?,
        );
    }
    Ok(keys)
}
