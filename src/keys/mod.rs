//! Identity key files and public-key lines.
//!
//! - Private key: PKCS#8 PEM (RFC 5958, RFC 8410), so `openssl pkey -in KEY
//!   -noout` reads it; written with `create_new` and mode 0600. An OpenSSH
//!   Ed25519 private key file (`ssh-keygen -t ed25519`, with or without a
//!   passphrase) is read too ([`openssh`]). Either is refused on load when
//!   group or others can read it (as ssh refuses).
//! - Public key: one line `sft-ed25519 <base64 of the 32 raw bytes> [comment]`
//!   or OpenSSH's `ssh-ed25519 <base64 of the SSH blob> [comment]`.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::crypto::ed25519::{Fingerprint, SigningKey, VerifyingKey, SSH_KEY_TYPE};
use crate::crypto::CryptoError;

pub mod agent;
pub mod file;
pub mod openssh;
pub mod passphrase;
pub mod trusted;

/// Algorithm tag that starts a public-key line.
pub const KEY_TYPE: &str = "sft-ed25519";

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The key file already exists; keys are never overwritten.
    #[error("{0} already exists; refusing to overwrite a key (move it away first)")]
    Exists(PathBuf),
    /// The private key file is readable by group or others.
    #[error("permissions {mode:04o} for {path} are too open: a private key must not be accessible by others\nhint: run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    /// A file that decides trust (authorized_keys, the client config) that
    /// another user could write ([`trusted`]).
    #[error("bad owner or permissions on {path} (owner uid {uid}, mode {mode:03o}): it must belong to this user or root, and only its owner may write it\nhint: run `chmod go-w {path}`")]
    BadOwner { path: PathBuf, uid: u32, mode: u32 },
    /// The file does not hold a key sft can read.
    #[error("{path}: {reason}")]
    Malformed { path: PathBuf, reason: String },
    /// An encrypted key file, with no passphrase file and no terminal to ask on.
    #[error("{0} is protected by a passphrase and there is no terminal to ask for it\nhint: set SFT_PASSPHRASE_FILE to a file (mode 0600) whose first line is the passphrase; a client can also sign with the key held by ssh-agent (ssh-add KEY)")]
    NeedPassphrase(PathBuf),
    /// The passphrase does not decrypt the key file.
    #[error("wrong passphrase for {0}")]
    BadPassphrase(PathBuf),
    /// The file named by `SFT_PASSPHRASE_FILE` cannot be used.
    #[error("SFT_PASSPHRASE_FILE {path}: {reason}")]
    PassphraseFile { path: PathBuf, reason: String },
    /// A failure in the crypto core.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A public key with its optional comment, as on one public-key line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyLine {
    /// The Ed25519 public key.
    pub key: VerifyingKey,
    /// Free text after the key (often `user@host`); may be empty.
    pub comment: String,
}

impl PublicKeyLine {
    /// Parses `sft-ed25519 <base64 of 32 bytes> [comment]` or
    /// `ssh-ed25519 <base64 of the SSH blob> [comment]` (RFC 8709 section
    /// 4; the blob's own type must be ssh-ed25519 too).
    ///
    /// # Errors
    /// A message saying which part is wrong; another SSH key type (ssh-rsa,
    /// ecdsa-sha2-*, ...) is named as not supported.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut parts = line.trim().splitn(3, char::is_whitespace);
        let key_type = match parts.next() {
            Some(t @ (KEY_TYPE | SSH_KEY_TYPE)) => t,
            Some(other) if openssh::is_other_ssh_type(other) => {
                return Err(openssh::unsupported(other))
            }
            Some(other) => {
                return Err(format!(
                    "unknown key type {other:?}, expected {KEY_TYPE} or {SSH_KEY_TYPE}"
                ))
            }
            None => return Err("empty line".into()),
        };
        let b64 = parts
            .next()
            .ok_or("missing base64 key after the key type")?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| "key is not valid base64".to_string())?;
        let key = if key_type == KEY_TYPE {
            VerifyingKey::from_bytes(&raw).map_err(|e| e.to_string())?
        } else {
            openssh::parse_blob(&raw)?
        };
        let comment = parts.next().unwrap_or("").trim().to_string();
        Ok(PublicKeyLine { key, comment })
    }
}

impl fmt::Display for PublicKeyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_TYPE} {}", STANDARD.encode(self.key.as_bytes()))?;
        if !self.comment.is_empty() {
            write!(f, " {}", self.comment)?;
        }
        Ok(())
    }
}

/// The path of the public-key file that goes with private key `path`
/// (`path` + `.pub`).
pub fn public_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Writes `key` to `path` (PKCS#8 PEM, mode 0600, `create_new`) and its
/// public line to `path.pub` (mode 0644). Neither file may exist already.
///
/// # Errors
/// `Exists` if either file exists; `Io` for other file errors.
pub fn write_identity(path: &Path, key: &SigningKey, comment: &str) -> Result<(), KeyError> {
    let pub_path = public_path(path);
    for p in [path, pub_path.as_path()] {
        if p.symlink_metadata().is_ok() {
            return Err(KeyError::Exists(p.to_path_buf()));
        }
    }
    let pem = key.to_pkcs8_pem()?;
    write_new(path, 0o600, &pem)?;
    let line = PublicKeyLine {
        key: key.verifying_key(),
        comment: comment.to_string(),
    };
    write_new(&pub_path, 0o644, format!("{line}\n").as_bytes())
}

fn write_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_path_buf())
            } else {
                KeyError::Io {
                    op: "create",
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
    file.write_all(bytes).map_err(io_err("write", path))?;
    file.sync_all().map_err(io_err("fsync", path))
}

/// Loads the private key at `path`: PKCS#8 PEM or an OpenSSH Ed25519
/// key file (asking for its passphrase if it has one, [`passphrase`]).
///
/// # Errors
/// `Malformed` when it is not a regular file or not an Ed25519 key in
/// either format (a public key gets a pointer to the private one, another
/// key type is named); `TooOpen` when group or others have any permission
/// on a private key file (fix: `chmod 600`); `Io` when it cannot be read;
/// the passphrase errors of [`openssh::signing_key`].
pub fn load_identity(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = read_private(path)?;
    if pem.starts_with(openssh::PEM_BEGIN) {
        return openssh::signing_key(path, &pem);
    }
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The bytes of the private key file at `path`, after checking it is a
/// regular file in one of the two formats and not open to group or others.
fn read_private(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
    let malformed = |reason: &str| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let (pem, meta) = file::read_regular(path, file::MAX_KEY_FILE)?;
    let first_word = pem
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    let first_word = String::from_utf8_lossy(first_word);
    if first_word == KEY_TYPE || first_word == SSH_KEY_TYPE {
        return Err(malformed(
            "this is a public key; give the private key (the file without .pub)",
        ));
    }
    if openssh::is_other_ssh_type(&first_word) {
        return Err(malformed(&openssh::unsupported(&first_word)));
    }
    if !pem.starts_with(b"-----BEGIN PRIVATE KEY-----") && !pem.starts_with(openssh::PEM_BEGIN) {
        return Err(malformed(
            "not a private key sft reads (PKCS#8 PEM as `sft keygen` writes, or an OpenSSH ssh-ed25519 key)",
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(pem)
}

/// Reads the public key of a key file: a private key (PKCS#8 or OpenSSH;
/// an encrypted OpenSSH file is not decrypted, its public half is in the
/// clear) or a public-key line. A private key file is subject to the same
/// permission check as [`load_identity`].
///
/// # Errors
/// As [`load_identity`], or `Malformed` when the file is neither form.
pub fn public_key_of_file(path: &Path) -> Result<VerifyingKey, KeyError> {
    let (text, _) = file::read_regular(path, file::MAX_KEY_FILE)?;
    if text.starts_with(openssh::PEM_BEGIN) {
        return openssh::public_key(path, &read_private(path)?);
    }
    if text.starts_with(b"-----BEGIN") {
        return Ok(load_identity(path)?.verifying_key());
    }
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    PublicKeyLine::parse(line)
        .map(|l| l.key)
        .map_err(|reason| KeyError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
}

/// Reads the fingerprint of a key file ([`public_key_of_file`]).
///
/// # Errors
/// As [`public_key_of_file`].
pub fn fingerprint_of_file(path: &Path) -> Result<Fingerprint, KeyError> {
    public_key_of_file(path).map(|k| k.fingerprint())
}

/// The known_hosts file: `host:port SHA256:<fingerprint>` per line, `#`
/// comments allowed, like OpenSSH's file of the same name. Malformed lines
/// are skipped (and reported), as ssh does, so one bad line cannot lock a
/// user out of every server.
pub struct KnownHosts {
    entries: Vec<(String, Fingerprint)>,
    /// 1-based numbers of the lines that were skipped.
    pub skipped: Vec<usize>,
}

impl KnownHosts {
    /// Reads `path`; a missing file is an empty list.
    ///
    /// # Errors
    /// `Io` when the file exists but cannot be read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line
                .split_once(char::is_whitespace)
                .and_then(|(host, fp)| Some((host, Fingerprint::parse(fp.trim()).ok()?)));
            match parsed {
                Some((host, fp)) => entries.push((host.to_string(), fp)),
                None => skipped.push(i + 1),
            }
        }
        Ok(KnownHosts { entries, skipped })
    }

    /// The names (`host:port`) recorded with fingerprint `fp`.
    pub fn names_of(&self, fp: &Fingerprint) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(_, f)| f == fp)
            .map(|(h, _)| h.as_str())
            .collect()
    }

    /// The fingerprint recorded for `host_port` (`host:port`), if any.
    pub fn lookup(&self, host_port: &str) -> Option<Fingerprint> {
        self.entries
            .iter()
            .find(|(h, _)| h == host_port)
            .map(|(_, fp)| *fp)
    }

    /// Appends `host_port fingerprint` to the file at `path`, creating it
    /// (mode 0644) and its directory (mode 0700) if needed.
    ///
    /// # Errors
    /// `Io` on any file error.
    pub fn append(path: &Path, host_port: &str, fp: &Fingerprint) -> Result<(), KeyError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)
            .map_err(io_err("open", path))?;
        writeln!(file, "{host_port} {fp}").map_err(io_err("write", path))
    }
}

/// Creates `dir` and its parents, the last with mode 0700, if missing.
///
/// # Errors
/// `Io` on failure.
pub fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create directory", dir))
}
