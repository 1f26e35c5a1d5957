//! Zeroizing holders for secret bytes.

use std::fmt;
use zeroize::Zeroize;

/// `N` secret bytes on the heap, wiped when dropped.
///
/// Not `Clone`, not `Copy`, and `Debug` prints `[redacted]`, so a secret can
/// neither be duplicated by accident nor leak into a log line. The bytes live
/// in a `Box` so moving the holder never leaves stray copies on the stack.
pub struct Secret<const N: usize>(Box<[u8; N]>);

impl<const N: usize> Secret<N> {
    /// A secret filled by `fill`, written in place (no temporary copy).
    pub fn try_fill<E>(fill: impl FnOnce(&mut [u8; N]) -> Result<(), E>) -> Result<Self, E> {
        let mut secret = Secret(Box::new([0u8; N]));
        fill(&mut secret.0)?;
        Ok(secret)
    }

    /// A secret copied from `bytes`; `None` unless `bytes.len() == N`.
    /// The caller remains responsible for wiping its own copy.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: &[u8; N] = bytes.try_into().ok()?;
        Some(Secret(Box::new(*array)))
    }

    /// The secret bytes. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
