//! Ed25519 signatures (RFC 8032) through OpenSSL `EVP_PKEY`, and the
//! OpenSSH key fingerprint.

use std::fmt;
use std::hash::{Hash, Hasher};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::{Signer, Verifier};
use zeroize::Zeroizing;

use super::ct;
use super::error::{backend, CryptoError, Result};
use super::hash;
use super::secret::Secret;
use super::stats::{self, Op};

/// Public key length in bytes (RFC 8032 section 5.1.5).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Private key (seed) length in bytes (RFC 8032 section 5.1.5).
pub const SEED_LEN: usize = 32;
/// Signature length in bytes (RFC 8032 section 5.1.6).
pub const SIGNATURE_LEN: usize = 64;
/// The SSH name of the key type (RFC 8709 section 4).
pub const SSH_KEY_TYPE: &str = "ssh-ed25519";
/// Length in bytes of a public key's SSH wire encoding: uint32 11,
/// "ssh-ed25519", uint32 32, the key (RFC 4253 section 6.6, RFC 8709
/// section 4).
pub const SSH_BLOB_LEN: usize = 4 + SSH_KEY_TYPE.len() + 4 + PUBLIC_KEY_LEN;

/// Something that signs with one Ed25519 identity: a [`SigningKey`] here,
/// or a key held elsewhere (an ssh-agent). The protocol only calls this.
pub trait Sign: Send + Sync + fmt::Debug {
    /// The public key of the identity.
    fn verifying_key(&self) -> VerifyingKey;
    /// Signs `msg` (PureEd25519, RFC 8032 section 5.1.6).
    ///
    /// # Errors
    /// `Backend` from OpenSSL, `Signer` from another signer.
    fn sign(&self, msg: &[u8]) -> Result<Signature>;
}

/// A shared signer signs as the one it shares.
impl<T: Sign + ?Sized> Sign for std::sync::Arc<T> {
    fn verifying_key(&self) -> VerifyingKey {
        (**self).verifying_key()
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature> {
        (**self).sign(msg)
    }
}

impl Sign for SigningKey {
    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature> {
        SigningKey::sign(self, msg)
    }
}

/// An Ed25519 identity (private) key. Not `Clone`; OpenSSL wipes it on drop.
pub struct SigningKey {
    pkey: PKey<Private>,
    public: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey([redacted], public {})",
            self.public.fingerprint()
        )
    }
}

impl SigningKey {
    /// A fresh identity key from OpenSSL's DRBG.
    ///
    /// # Errors
    /// `CryptoError::Backend` if key generation fails.
    pub fn generate() -> Result<Self> {
        PKey::generate_ed25519()
            .map_err(backend("Ed25519 keygen"))
            .and_then(Self::from_pkey)
    }

    /// The key with the given 32-byte seed (RFC 8032 section 5.1.5).
    ///
    /// # Errors
    /// `CryptoError::Backend` if OpenSSL refuses the seed.
    pub fn from_seed(seed: &Secret<SEED_LEN>) -> Result<Self> {
        PKey::private_key_from_raw_bytes(seed.expose(), Id::ED25519)
            .map_err(backend("Ed25519 import"))
            .and_then(Self::from_pkey)
    }

    /// Parses a PKCS#8 PEM private key (RFC 8410 section 7), as written by
    /// [`SigningKey::to_pkcs8_pem`] or `openssl genpkey -algorithm ed25519`.
    ///
    /// # Errors
    /// `MalformedKey` if the PEM does not hold an unencrypted Ed25519 key.
    pub fn from_pkcs8_pem(pem: &[u8]) -> Result<Self> {
        let pkey = PKey::private_key_from_pem(pem)
            .map_err(|_| CryptoError::MalformedKey("not a PKCS#8 PEM private key"))?;
        if pkey.id() != Id::ED25519 {
            return Err(CryptoError::MalformedKey("not an Ed25519 private key"));
        }
        Self::from_pkey(pkey)
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), in a buffer
    /// wiped on drop.
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.pkey
            .private_key_to_pem_pkcs8()
            .map(Zeroizing::new)
            .map_err(backend("PEM_write_bio_PKCS8PrivateKey"))
    }

    fn from_pkey(pkey: PKey<Private>) -> Result<Self> {
        let raw = pkey
            .raw_public_key()
            .map_err(backend("Ed25519 public key"))?;
        let public = VerifyingKey::from_bytes(&raw)?;
        Ok(SigningKey { pkey, public })
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    /// Signs `msg` (PureEd25519, RFC 8032 section 5.1.6).
    ///
    /// # Errors
    /// `CryptoError::Backend` on an OpenSSL failure.
    pub fn sign(&self, msg: &[u8]) -> Result<Signature> {
        let result = (|| {
            let mut signer = Signer::new_without_digest(&self.pkey)?;
            let mut sig = [0u8; SIGNATURE_LEN];
            signer.sign_oneshot(&mut sig, msg)?;
            Ok(Signature(sig))
        })()
        .map_err(backend("Ed25519 sign"));
        stats::record(Op::Ed25519Sign, msg.len(), result.is_ok());
        result
    }
}

/// An Ed25519 public key: 32 bytes (RFC 8032 section 5.1.5), with its
/// fingerprint computed once when the key is made. Equality and hashing
/// are those of the 32 key bytes.
#[derive(Clone, Copy)]
pub struct VerifyingKey {
    bytes: [u8; PUBLIC_KEY_LEN],
    fingerprint: Fingerprint,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for VerifyingKey {}

impl Hash for VerifyingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.fingerprint)
    }
}

impl VerifyingKey {
    /// A public key from its 32 raw bytes. The point itself is decoded when
    /// verifying, so a key that is not a curve point fails there.
    ///
    /// # Errors
    /// `InvalidLength` unless `bytes` is exactly 32 bytes; `Backend` if
    /// OpenSSL cannot compute the fingerprint's SHA-256.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes: [u8; PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| CryptoError::InvalidLength {
                what: "Ed25519 public key",
                expected: PUBLIC_KEY_LEN,
                got: bytes.len(),
            })?;
        Ok(VerifyingKey {
            bytes,
            fingerprint: Fingerprint(hash::sha256(&ssh_blob(&bytes))?),
        })
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// The key's SSH wire encoding (RFC 8709 section 4), as in an
    /// `ssh-ed25519 AAAA…` line: [`SSH_BLOB_LEN`] bytes.
    pub fn ssh_blob(&self) -> [u8; SSH_BLOB_LEN] {
        ssh_blob(&self.bytes)
    }

    /// Checks `sig` over `msg` (RFC 8032 section 5.1.7).
    ///
    /// # Errors
    /// `BadSignature` when the signature does not verify, including when this
    /// key or the signature is not a valid encoding.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<()> {
        let ok = PKey::public_key_from_raw_bytes(&self.bytes, Id::ED25519)
            .and_then(|pkey| Verifier::new_without_digest(&pkey)?.verify_oneshot(&sig.0, msg))
            .unwrap_or(false);
        stats::record(Op::Ed25519Verify, msg.len(), ok);
        if ok {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// The key's fingerprint: SHA-256 over the key's SSH wire encoding
    /// ([`VerifyingKey::ssh_blob`]), as `ssh-keygen -l` computes it;
    /// computed when the key was made (so this cannot fail).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

/// An Ed25519 signature: 64 bytes (RFC 8032 section 5.1.6).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", hex_prefix(&self.0))
    }
}

impl Signature {
    /// A signature from its 64 raw bytes.
    ///
    /// # Errors
    /// `InvalidLength` unless `bytes` is exactly 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let raw = bytes.try_into().map_err(|_| CryptoError::InvalidLength {
            what: "Ed25519 signature",
            expected: SIGNATURE_LEN,
            got: bytes.len(),
        })?;
        Ok(Signature(raw))
    }

    /// The 64 raw bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

/// A key fingerprint: SHA-256 over the public key's SSH wire encoding
/// (uint32 11, "ssh-ed25519", uint32 32, the 32 key bytes), shown as
/// `SHA256:` + unpadded base64 (43 characters): what `ssh-keygen -l` prints.
/// Equality is constant-time.
#[derive(Clone, Copy)]
pub struct Fingerprint([u8; hash::DIGEST_LEN]);

/// Prefix of a fingerprint's text form.
pub const FINGERPRINT_PREFIX: &str = "SHA256:";

impl Fingerprint {
    /// Parses `SHA256:<43 base64 characters>` (padding tolerated).
    ///
    /// # Errors
    /// `MalformedKey` when the text is not of that form.
    pub fn parse(text: &str) -> Result<Self> {
        let b64 = text
            .trim()
            .strip_prefix(FINGERPRINT_PREFIX)
            .ok_or(CryptoError::MalformedKey(
                "fingerprint must start with SHA256:",
            ))?;
        let raw = STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map_err(|_| CryptoError::MalformedKey("fingerprint is not base64"))?;
        let digest = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MalformedKey("fingerprint is not 32 bytes"))?;
        Ok(Fingerprint(digest))
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; hash::DIGEST_LEN] {
        &self.0
    }
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Self) -> bool {
        ct::eq(&self.0, &other.0)
    }
}

impl Eq for Fingerprint {}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{FINGERPRINT_PREFIX}{}", STANDARD_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn ssh_blob(key: &[u8; PUBLIC_KEY_LEN]) -> [u8; SSH_BLOB_LEN] {
    let mut blob = [0u8; SSH_BLOB_LEN];
    let name = SSH_KEY_TYPE.as_bytes();
    let (len1, rest) = blob.split_at_mut(4);
    len1.copy_from_slice(&(name.len() as u32).to_be_bytes());
    let (name_out, rest) = rest.split_at_mut(name.len());
    name_out.copy_from_slice(name);
    let (len2, key_out) = rest.split_at_mut(4);
    len2.copy_from_slice(&(PUBLIC_KEY_LEN as u32).to_be_bytes());
    key_out.copy_from_slice(key);
    blob
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}
