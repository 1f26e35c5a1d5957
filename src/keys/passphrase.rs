//! Where the passphrase of an encrypted key file comes from: the file
//! named by `SFT_PASSPHRASE_FILE` (for scripts), else a prompt on the
//! terminal. The passphrase lives in a buffer wiped on drop and is never
//! printed or logged.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::KeyError;

/// Environment variable naming a file whose first line is the passphrase.
pub const FILE_ENV: &str = "SFT_PASSPHRASE_FILE";

/// Most bytes read from the passphrase file; a longer file is refused.
pub const MAX_FILE_LEN: u64 = 4096;

/// The passphrase for the key file at `key_path`.
///
/// # Errors
/// `NeedPassphrase` when `SFT_PASSPHRASE_FILE` is unset and stdin or
/// stderr is not a terminal; `PassphraseFile` when that file cannot be
/// read, is too long, or is a regular file group or others may access; `Io` when the terminal prompt fails.
pub fn for_key(key_path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if let Some(file) = std::env::var_os(FILE_ENV) {
        return from_file(Path::new(&file));
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(KeyError::NeedPassphrase(key_path.to_path_buf()));
    }
    let prompt = format!("Enter passphrase for key {}: ", key_path.display());
    let pass =
        Zeroizing::new(
            rpassword::prompt_password(prompt).map_err(|source| KeyError::Io {
                op: "read the passphrase for",
                path: key_path.to_path_buf(),
                source,
            })?,
        );
    Ok(Zeroizing::new(pass.as_bytes().to_vec()))
}

/// The first line (without its `\n` or `\r\n`) of the file at `path`.
fn from_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let bad = |reason: String| KeyError::PassphraseFile {
        path: PathBuf::from(path),
        reason,
    };
    let file = File::open(path).map_err(|e| bad(e.to_string()))?;
    // A pipe (`<(pass show key)`) is fine; a regular file must be private.
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_file() && mode & 0o077 != 0 {
        return Err(bad(format!(
            "permissions {mode:04o} are too open: only its owner may read a passphrase \
             file\nhint: run `chmod 600 {}`",
            path.display()
        )));
    }
    let mut text = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(bad(format!("longer than {MAX_FILE_LEN} bytes")));
    }
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(Zeroizing::new(line.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn a_passphrase_file_others_may_read_is_refused() {
        let f = file_with(b"secret\n");
        for mode in [0o640, 0o604] {
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let err = from_file(f.path()).unwrap_err().to_string();
            assert!(
                err.contains("too open") && err.contains("chmod 600"),
                "{err}"
            );
        }
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(from_file(f.path()).unwrap().as_slice(), b"secret");
    }

    #[test]
    fn first_line_is_the_passphrase() {
        let f = file_with(b"secret words\r\nsecond line\n");
        assert_eq!(from_file(f.path()).unwrap().as_slice(), b"secret words");
        let f = file_with(b"no newline");
        assert_eq!(from_file(f.path()).unwrap().as_slice(), b"no newline");
    }

    #[test]
    fn file_at_the_limit_is_read_and_past_it_refused() {
        let f = file_with(&vec![b'a'; MAX_FILE_LEN as usize]);
        assert_eq!(from_file(f.path()).unwrap().len(), MAX_FILE_LEN as usize);
        let f = file_with(&vec![b'a'; MAX_FILE_LEN as usize + 1]);
        let err = from_file(f.path()).unwrap_err().to_string();
        assert!(err.contains("longer than 4096"), "{err}");
    }

    #[test]
    fn missing_file_names_the_variable() {
        let err = from_file(Path::new("/nonexistent/pass"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(FILE_ENV) && err.contains("/nonexistent/pass"),
            "{err}"
        );
    }
}
