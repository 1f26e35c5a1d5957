//! [`AlignedBuf`]: a zeroed byte buffer whose first byte sits on a page
//! boundary. The kernel copies into a page-aligned destination several
//! times faster than into one a few bytes off (measured on x86-64 for
//! file reads and socket receives; see ci/bench-floor.py), and a plain
//! `vec![0u8; n]` of this size starts 16 bytes past a page.

use std::ops::{Deref, DerefMut};

/// The alignment of every [`AlignedBuf`], in bytes.
pub(crate) const PAGE: usize = 4096;

/// `len` zeroed bytes starting on a [`PAGE`] boundary (one page more is
/// allocated to find it).
pub(crate) struct AlignedBuf {
    raw: Box<[u8]>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zeroed bytes, page-aligned.
    pub(crate) fn new(len: usize) -> Self {
        let raw = vec![0u8; len + PAGE].into_boxed_slice();
        // align_offset may decline (usize::MAX); then the buffer is merely
        // unaligned, never wrong.
        let start = match raw.as_ptr().align_offset(PAGE) {
            off if off < PAGE => off,
            _ => 0,
        };
        AlignedBuf { raw, start, len }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_page_and_has_the_length_asked() {
        for len in [0, 1, 348, 256 * 1024] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_ptr() as usize % PAGE, 0, "len {len}");
            assert!(b.iter().all(|&x| x == 0));
        }
    }
}
