//! AES-256-GCM (NIST SP 800-38D, RFC 5116 `AEAD_AES_256_GCM`) through
//! OpenSSL EVP, in place on caller-owned buffers.

use std::sync::OnceLock;

use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;

use super::error::{backend, CryptoError, Result};
use super::secret::Secret;
use super::stats::{self, Op};

/// Key length in bytes (RFC 5116 section 5.2: K_LEN = 32).
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes (RFC 5116 section 5.2: N_MIN = N_MAX = 12).
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes: the full 128-bit GCM tag (SP 800-38D section 5.2.1.2).
pub const TAG_LEN: usize = 16;
/// Largest plaintext or AAD one call accepts, in bytes (1 GiB). GCM itself
/// allows 2^36 - 32 bytes; this bound keeps every length inside OpenSSL's
/// `int` and is far above any record sft sends.
pub const MAX_INPUT_LEN: usize = 1 << 30;

/// An AES-256-GCM key: 32 secret bytes, wiped on drop.
pub type AeadKey = Secret<KEY_LEN>;

/// One AES-256-GCM key, its key schedule set up once and reused for every
/// record: sealing or opening a message does no key setup and no allocation.
///
/// Holds one encrypting and one decrypting EVP context (OpenSSL wipes their
/// key schedules when they are freed).
pub struct Aes256Gcm {
    seal: CipherCtx,
    open: CipherCtx,
}

impl std::fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aes256Gcm([redacted])")
    }
}

impl Aes256Gcm {
    /// Sets up both directions' key schedules for `key`.
    ///
    /// # Errors
    /// `CryptoError::Backend` if OpenSSL cannot create the contexts.
    pub fn new(key: &AeadKey) -> Result<Self> {
        let init = |encrypt: bool| -> std::result::Result<CipherCtx, openssl::error::ErrorStack> {
            let mut ctx = CipherCtx::new()?;
            let cipher = aes_256_gcm();
            if encrypt {
                ctx.encrypt_init(Some(cipher), Some(key.expose()), None)?;
            } else {
                ctx.decrypt_init(Some(cipher), Some(key.expose()), None)?;
            }
            Ok(ctx)
        };
        Ok(Aes256Gcm {
            seal: init(true).map_err(backend("EVP_EncryptInit_ex"))?,
            open: init(false).map_err(backend("EVP_DecryptInit_ex"))?,
        })
    }

    /// Encrypts `buf` in place under `nonce`, authenticating `aad` too, and
    /// returns the 16-byte tag. `buf` and `aad` may be empty.
    ///
    /// The caller guarantees `nonce` is never reused under this key (sft's
    /// record layer derives it from a sequence number, SP 800-38D 8.2.1).
    ///
    /// # Errors
    /// `TooLarge` if `buf` or `aad` exceeds [`MAX_INPUT_LEN`];
    /// `Backend` on an OpenSSL failure (then `buf` is unspecified).
    pub fn seal_in_place(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let n = buf.len();
        self.seal_with(nonce, aad, n, |ctx| ctx.cipher_update_inplace(buf, n))
    }

    /// Encrypts the concatenation of `parts` into `out` under `nonce`,
    /// authenticating `aad` too, and returns the 16-byte tag: the same
    /// ciphertext as [`Aes256Gcm::seal_in_place`] on the concatenation,
    /// without first copying the plaintext. `out` must be exactly as long
    /// as the parts together.
    ///
    /// # Errors
    /// `InvalidLength` if `out` is not the parts' total length; `TooLarge`
    /// and `Backend` as [`Aes256Gcm::seal_in_place`].
    pub fn seal_into(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total != out.len() {
            return Err(CryptoError::InvalidLength {
                what: "AEAD output",
                expected: total,
                got: out.len(),
            });
        }
        self.seal_with(nonce, aad, total, |ctx| {
            let mut at = 0;
            for part in parts {
                at += ctx.cipher_update(part, Some(&mut out[at..at + part.len()]))?;
            }
            Ok(at)
        })
    }

    /// One GCM encryption: starts `nonce`, authenticates `aad`, lets
    /// `encrypt` run the plaintext's updates (`len` bytes in all), and
    /// returns the tag.
    fn seal_with(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        len: usize,
        encrypt: impl FnOnce(&mut CipherCtx) -> std::result::Result<usize, openssl::error::ErrorStack>,
    ) -> Result<[u8; TAG_LEN]> {
        check_input("AEAD plaintext", len)?;
        check_input("AEAD AAD", aad.len())?;
        let ctx = &mut self.seal;
        let result = (|| {
            ctx.encrypt_init(None, None, Some(nonce))?;
            if !aad.is_empty() {
                ctx.cipher_update(aad, None)?;
            }
            encrypt(ctx)?;
            ctx.cipher_final(&mut [])?;
            let mut tag = [0u8; TAG_LEN];
            ctx.tag(&mut tag)?;
            Ok(tag)
        })()
        .map_err(backend("AES-256-GCM seal"));
        stats::record(Op::AeadSeal, len, result.is_ok());
        result
    }

    /// Decrypts `buf` in place under `nonce` and checks `tag` over `aad` and
    /// the ciphertext.
    ///
    /// # Errors
    /// `AuthenticationFailed` whatever the cause (tag, key, nonce, AAD or
    /// ciphertext changed); then `buf` has been zeroed, so no unauthenticated
    /// plaintext is ever released. `TooLarge` if `buf` or `aad` exceeds
    /// [`MAX_INPUT_LEN`].
    pub fn open_in_place(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        check_input("AEAD ciphertext", buf.len())?;
        check_input("AEAD AAD", aad.len())?;
        let ctx = &mut self.open;
        let ok = (|| {
            ctx.decrypt_init(None, None, Some(nonce))?;
            if !aad.is_empty() {
                ctx.cipher_update(aad, None)?;
            }
            let n = buf.len();
            ctx.cipher_update_inplace(buf, n)?;
            ctx.set_tag(tag)?;
            ctx.cipher_final(&mut [])
        })()
        .is_ok();
        stats::record(Op::AeadOpen, buf.len(), ok);
        if ok {
            Ok(())
        } else {
            buf.fill(0);
            Err(CryptoError::AuthenticationFailed)
        }
    }
}

/// AES-256-GCM as the default provider implements it, fetched once per
/// process: a context set up with it skips the implicit fetch (the
/// method-store walk) that the legacy `EVP_aes_256_gcm()` costs every
/// time. Falls back to that one if the fetch fails.
fn aes_256_gcm() -> &'static CipherRef {
    static FETCHED: OnceLock<Option<Cipher>> = OnceLock::new();
    match FETCHED.get_or_init(|| Cipher::fetch(None, "AES-256-GCM", None).ok()) {
        Some(cipher) => cipher,
        None => Cipher::aes_256_gcm(),
    }
}

fn check_input(what: &'static str, len: usize) -> Result<()> {
    if len > MAX_INPUT_LEN {
        return Err(CryptoError::TooLarge {
            what,
            limit: MAX_INPUT_LEN,
            got: len,
        });
    }
    Ok(())
}
