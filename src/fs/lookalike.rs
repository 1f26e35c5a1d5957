//! Unicode look-alikes: a name whose NFC form equals the NFC form of a
//! different name already in the same directory (`café` composed and
//! decomposed, `K` and KELVIN SIGN U+212A) would show as that name, so it
//! is never created.
//!
//! Cost: a non-ASCII name costs one scan of the directory. An ASCII name
//! can only be matched by a name that replaces some of its `K`, `;` or
//! `` ` `` by U+212A, U+037E or U+1FEF, the only characters outside ASCII
//! whose canonical decomposition is all ASCII (a unit test below checks
//! every character), so for an ASCII name with at most [`MAX_PROBED`] of
//! those the variants are looked up by name instead (at most 15 `statat`),
//! and one without any needs no look-up at all.

use rustix::fd::AsFd;
use rustix::fs::{AtFlags, Dir};
use rustix::io::Errno;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// The ASCII characters with a non-ASCII canonical equivalent, and that
/// equivalent.
const TWINS: [(char, char); 3] = [('K', '\u{212A}'), (';', '\u{037E}'), ('`', '\u{1FEF}')];

/// The most twinned characters in an ASCII name that are probed by name
/// (2^4 − 1 = 15 variants); a name with more is checked by a scan.
const MAX_PROBED: usize = 4;

/// A name in the directory `dir`, other than `name` itself, whose NFC form
/// equals that of `name`, if there is one. Names on disk that are not
/// UTF-8 are not compared.
///
/// # Errors
/// The error of inspecting or reading the directory.
pub(super) fn find(dir: impl AsFd, name: &str) -> rustix::io::Result<Option<String>> {
    if name.is_ascii() {
        let spots: Vec<usize> = name
            .char_indices()
            .filter(|&(_, c)| twin(c).is_some())
            .map(|(i, _)| i)
            .collect();
        if spots.len() <= MAX_PROBED {
            return probe(dir, name, &spots);
        }
    }
    scan(dir, name)
}

/// The non-ASCII canonical equivalent of `c`, if it has one.
fn twin(c: char) -> Option<char> {
    TWINS.iter().find(|(a, _)| *a == c).map(|&(_, t)| t)
}

/// Looks up, by name, every variant of the ASCII `name` with a non-empty
/// subset of the characters at byte offsets `spots` replaced by their twin.
fn probe(dir: impl AsFd, name: &str, spots: &[usize]) -> rustix::io::Result<Option<String>> {
    for subset in 1..(1u32 << spots.len()) {
        let variant: String = name
            .char_indices()
            .map(|(i, c)| match spots.iter().position(|&s| s == i) {
                Some(bit) if subset & (1 << bit) != 0 => twin(c).unwrap_or(c),
                _ => c,
            })
            .collect();
        match rustix::fs::statat(&dir, variant.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => return Ok(Some(variant)),
            // A variant longer than the file system's limit cannot exist.
            Err(Errno::NOENT | Errno::NAMETOOLONG) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Reads the whole directory once, comparing NFC forms.
fn scan(dir: impl AsFd, name: &str) -> rustix::io::Result<Option<String>> {
    let target: String = name.nfc().collect();
    let mut entries = Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let Ok(other) = entry.file_name().to_str() else {
            continue;
        };
        if other != name && same_nfc(other, &target) {
            return Ok(Some(other.to_owned()));
        }
    }
    Ok(None)
}

/// Whether the NFC form of `other` is `target` (an NFC string). An ASCII
/// name is its own NFC form; otherwise the comparison stops at the first
/// character that differs.
fn same_nfc(other: &str, target: &str) -> bool {
    // Most names are already in NFC (all ASCII ones are): then a byte
    // compare settles it, and only the others are normalized.
    if other.is_ascii() || is_nfc_quick(other.chars()) == IsNormalized::Yes {
        other == target
    } else {
        other.nfc().eq(target.chars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path for ASCII names rests on this: the only characters
    /// outside ASCII whose canonical decomposition (and so NFC form) is all
    /// ASCII are the three twins, each standing for one ASCII character.
    #[test]
    fn only_three_non_ascii_characters_are_canonically_ascii() {
        let found: Vec<(char, String)> = (0x80..=0x10FFFF)
            .filter_map(char::from_u32)
            .map(|c| (c, std::iter::once(c).nfd().collect::<String>()))
            .filter(|(_, nfd)| nfd.is_ascii())
            .collect();
        let mut expected: Vec<(char, String)> =
            TWINS.iter().map(|&(a, t)| (t, a.to_string())).collect();
        expected.sort();
        assert_eq!(found, expected);
        for (c, ascii) in &found {
            assert_eq!(&std::iter::once(*c).nfc().collect::<String>(), ascii);
        }
    }

    #[test]
    fn nfc_forms_are_compared_not_bytes() {
        assert!(same_nfc("cafe\u{301}", "caf\u{e9}"));
        assert!(same_nfc("caf\u{e9}", "caf\u{e9}"));
        assert!(same_nfc("\u{212A}", "K"));
        assert!(same_nfc("K", "K"));
        assert!(!same_nfc("cafe", "caf\u{e9}"));
        assert!(!same_nfc("k", "K"));
        assert!(!same_nfc("\u{212A}x", "K"));
    }
}
