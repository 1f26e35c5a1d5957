//! OpenSSH key formats for Ed25519 keys: the private key file
//! (`-----BEGIN OPENSSH PRIVATE KEY-----`, OpenSSH's PROTOCOL.key), read
//! with the `ssh-key` crate and decrypted with a passphrase when it has
//! one, and the public blob of an `ssh-ed25519 AAAA…` line (RFC 8709
//! section 4). Only the 32-byte seed leaves the file; signing is OpenSSL's.

use std::path::Path;

use ssh_key::private::KeypairData;
use ssh_key::PrivateKey;

use super::{passphrase, KeyError};
use crate::crypto::ed25519::{SigningKey, VerifyingKey, PUBLIC_KEY_LEN, SSH_KEY_TYPE};
use crate::crypto::secret::Secret;

/// First line of an OpenSSH private key file.
pub const PEM_BEGIN: &[u8] = b"-----BEGIN OPENSSH PRIVATE KEY-----";

/// The message for a key of a type sft does not use (`ssh-rsa`, ...).
pub fn unsupported(key_type: &str) -> String {
    format!(
        "key type {key_type} is not supported: sft uses Ed25519 keys (make one with ssh-keygen -t ed25519)"
    )
}

/// Whether `word` names an SSH key type other than ssh-ed25519, so a
/// line or file starting with it gets [`unsupported`] rather than
/// "unknown key type".
pub fn is_other_ssh_type(word: &str) -> bool {
    matches!(
        word,
        "ssh-rsa" | "ssh-dss" | "ssh-ed448" | "rsa-sha2-256" | "rsa-sha2-512"
    ) || word.starts_with("ecdsa-sha2-")
        || word.starts_with("sk-")
        || word.ends_with("@openssh.com")
}

fn malformed(path: &Path, reason: String) -> KeyError {
    KeyError::Malformed {
        path: path.to_path_buf(),
        reason,
    }
}

fn parse(path: &Path, pem: &[u8]) -> Result<PrivateKey, KeyError> {
    let key = PrivateKey::from_openssh(pem)
        .map_err(|e| malformed(path, format!("not a readable OpenSSH private key ({e})")))?;
    let algorithm = key.algorithm();
    if algorithm.as_str() != SSH_KEY_TYPE {
        return Err(malformed(path, unsupported(algorithm.as_str())));
    }
    Ok(key)
}

/// The public half of the OpenSSH private key file `pem` (read from
/// `path`), without decrypting it.
///
/// # Errors
/// `Malformed` when the file cannot be parsed or holds another key type.
pub fn public_key(path: &Path, pem: &[u8]) -> Result<VerifyingKey, KeyError> {
    let key = parse(path, pem)?;
    match key.public_key().key_data().ed25519() {
        Some(public) => Ok(VerifyingKey::from_bytes(public.as_ref())?),
        None => Err(malformed(path, unsupported(key.algorithm().as_str()))),
    }
}

/// The signing key in the OpenSSH private key file `pem` (read from
/// `path`); a passphrase-protected file is decrypted with the passphrase
/// [`passphrase::for_key`] finds.
///
/// # Errors
/// `Malformed` when the file cannot be parsed, holds another key type or
/// its halves disagree; `NeedPassphrase` / `BadPassphrase` for an
/// encrypted file without the right passphrase.
pub fn signing_key(path: &Path, pem: &[u8]) -> Result<SigningKey, KeyError> {
    let mut key = parse(path, pem)?;
    if key.is_encrypted() {
        let pass = passphrase::for_key(path)?;
        key = key
            .decrypt(pass.as_slice())
            .map_err(|_| KeyError::BadPassphrase(path.to_path_buf()))?;
    }
    let KeypairData::Ed25519(pair) = key.key_data() else {
        return Err(malformed(path, unsupported(key.algorithm().as_str())));
    };
    let seed = Secret::<32>::from_slice(pair.private.as_ref())
        .ok_or_else(|| malformed(path, "the Ed25519 seed is not 32 bytes".into()))?;
    let signing = SigningKey::from_seed(&seed)?;
    if signing.verifying_key().as_bytes()[..] != pair.public.as_ref()[..] {
        return Err(malformed(
            path,
            "the public key in the file does not belong to its private key".into(),
        ));
    }
    Ok(signing)
}

/// Reads the public key from the SSH wire blob of an `ssh-ed25519` line:
/// string "ssh-ed25519" || string of 32 bytes (RFC 8709 section 4), with
/// exact lengths and nothing after.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_blob(blob: &[u8]) -> Result<VerifyingKey, String> {
    let (name, rest) = read_string(blob).ok_or("the key blob is truncated")?;
    if name != SSH_KEY_TYPE.as_bytes() {
        let name = String::from_utf8_lossy(name);
        return Err(format!(
            "the key blob holds a {name:?} key, not the {SSH_KEY_TYPE} its line names"
        ));
    }
    let (key, rest) = read_string(rest).ok_or("the key blob is truncated")?;
    if key.len() != PUBLIC_KEY_LEN {
        return Err(format!(
            "the key blob's Ed25519 key is {} bytes, expected {PUBLIC_KEY_LEN}",
            key.len()
        ));
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes follow the key in the key blob",
            rest.len()
        ));
    }
    VerifyingKey::from_bytes(key).map_err(|e| e.to_string())
}

/// One SSH `string` (uint32 length, bytes; RFC 4251 section 5) from the
/// front of `buf`, or None when `buf` is shorter than it says.
pub(super) fn read_string(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(name: &[u8], key: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(name.len() as u32).to_be_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&(key.len() as u32).to_be_bytes());
        b.extend_from_slice(key);
        b
    }

    #[test]
    fn blob_round_trips_with_verifying_key() {
        let vk = SigningKey::generate().unwrap().verifying_key();
        assert_eq!(parse_blob(&vk.ssh_blob()).unwrap(), vk);
        assert_eq!(blob(b"ssh-ed25519", vk.as_bytes()), vk.ssh_blob());
    }

    #[test]
    fn malformed_blobs_are_refused() {
        let good = blob(b"ssh-ed25519", &[7; 32]);
        for cut in 0..good.len() {
            assert!(parse_blob(&good[..cut]).is_err(), "cut at {cut}");
        }
        let err = parse_blob(&blob(b"ssh-rsa", &[7; 32])).unwrap_err();
        assert!(err.contains("\"ssh-rsa\""), "{err}");
        let err = parse_blob(&blob(b"ssh-ed25519", &[7; 31])).unwrap_err();
        assert!(err.contains("31 bytes"), "{err}");
        let err = parse_blob(&blob(b"ssh-ed25519", &[7; 33])).unwrap_err();
        assert!(err.contains("33 bytes"), "{err}");
        let mut long = good.clone();
        long.push(0);
        assert!(parse_blob(&long).unwrap_err().contains("1 bytes follow"));
        // A length field far past the buffer (no allocation by it).
        let mut huge = good;
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_blob(&huge).is_err());
    }

    #[test]
    fn other_types_are_named() {
        for t in [
            "ssh-rsa",
            "ssh-dss",
            "ecdsa-sha2-nistp256",
            "sk-ssh-ed25519@openssh.com",
        ] {
            assert!(is_other_ssh_type(t), "{t}");
            assert!(unsupported(t).contains(t));
        }
        assert!(!is_other_ssh_type("ssh-ed25519"));
    }

    #[test]
    fn garbage_private_key_is_refused_without_panic() {
        let p = Path::new("k");
        let mut pem = PEM_BEGIN.to_vec();
        pem.extend_from_slice(b"\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
        assert!(matches!(
            signing_key(p, &pem),
            Err(KeyError::Malformed { .. })
        ));
        assert!(public_key(p, &pem[..20]).is_err());
    }
}
