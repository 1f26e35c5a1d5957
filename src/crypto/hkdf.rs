//! HKDF with SHA-256 (RFC 5869) through OpenSSL's `EVP_PKEY_HKDF`.

use std::cell::RefCell;

use openssl::md::Md;
use openssl::pkey::Id;
use openssl::pkey_ctx::{HkdfMode, PkeyCtx};

use super::error::{backend, CryptoError, Result};
use super::secret::Secret;
use super::stats::{self, Op};

/// Pseudorandom key length in bytes: HashLen for SHA-256 (RFC 5869 2.2).
pub const PRK_LEN: usize = 32;
/// Largest output of one expand, in bytes: 255 * HashLen (RFC 5869 2.3).
pub const MAX_OUTPUT_LEN: usize = 255 * 32;

/// A pseudorandom key, the output of [`extract`].
pub type Prk = Secret<PRK_LEN>;

/// HKDF-Extract(salt, IKM) (RFC 5869 section 2.2). An empty `salt` means
/// HashLen zero bytes, as the RFC specifies.
///
/// # Errors
/// `CryptoError::Backend` on an OpenSSL failure.
pub fn extract(salt: &[u8], ikm: &[u8]) -> Result<Prk> {
    let result = Secret::try_fill(|out: &mut [u8; PRK_LEN]| {
        run(HkdfMode::EXTRACT_ONLY, ikm, Some(salt), &[], out)
    });
    stats::record(Op::Hkdf, PRK_LEN, result.is_ok());
    result
}

/// HKDF-Expand(PRK, info, N) (RFC 5869 section 2.3) into a secret of `N`
/// bytes, `N` from 1 to [`MAX_OUTPUT_LEN`].
///
/// # Errors
/// `TooLarge` if `N` exceeds [`MAX_OUTPUT_LEN`]; `Backend` on an OpenSSL
/// failure.
pub fn expand<const N: usize>(prk: &Prk, info: &[u8]) -> Result<Secret<N>> {
    if N > MAX_OUTPUT_LEN {
        return Err(CryptoError::TooLarge {
            what: "HKDF output",
            limit: MAX_OUTPUT_LEN,
            got: N,
        });
    }
    let result = Secret::try_fill(|out: &mut [u8; N]| {
        run(HkdfMode::EXPAND_ONLY, prk.expose(), None, info, out)
    });
    stats::record(Op::Hkdf, N, result.is_ok());
    result
}

/// Runs one derivation on this thread's HKDF context. The context is
/// built once per thread and re-initialised after each derivation, which
/// costs half of building one (no method fetch) and wipes the key and
/// info it held: no secret stays in it between calls. A context that
/// failed is dropped and built again next time.
fn run(mode: HkdfMode, key: &[u8], salt: Option<&[u8]>, info: &[u8], out: &mut [u8]) -> Result<()> {
    thread_local! {
        static CTX: RefCell<Option<PkeyCtx<()>>> = const { RefCell::new(None) };
    }
    let derive = |ctx: &mut PkeyCtx<()>| -> std::result::Result<usize, openssl::error::ErrorStack> {
        ctx.set_hkdf_md(Md::sha256())?;
        ctx.set_hkdf_mode(mode)?;
        ctx.set_hkdf_key(key)?;
        if let Some(salt) = salt {
            ctx.set_hkdf_salt(salt)?;
        }
        if !info.is_empty() {
            ctx.add_hkdf_info(info)?;
        }
        let written = ctx.derive(Some(out))?;
        ctx.derive_init()?;
        Ok(written)
    };
    let written = CTX
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            let ctx = match slot.as_mut() {
                Some(ctx) => ctx,
                None => slot.insert(fresh_context()?),
            };
            let result = derive(ctx);
            if result.is_err() {
                *slot = None;
            }
            result
        })
        .map_err(backend("HKDF"))?;
    if written != out.len() {
        return Err(CryptoError::InvalidLength {
            what: "HKDF output",
            expected: out.len(),
            got: written,
        });
    }
    Ok(())
}

fn fresh_context() -> std::result::Result<PkeyCtx<()>, openssl::error::ErrorStack> {
    let mut ctx = PkeyCtx::new_id(Id::HKDF)?;
    ctx.derive_init()?;
    Ok(ctx)
}
