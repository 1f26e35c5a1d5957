//! Test-only: the deterministic vector files under tests/vectors/, which
//! unit tests in the sans-IO protocol layer compute but must not read or
//! write themselves.

/// Checks that the file at `rel` (under tests/vectors/) holds exactly
/// `text`; with `SFT_REGENERATE_VECTORS` set, writes `text` there first.
///
/// # Panics
/// When the file differs or cannot be read or written (a test failure).
pub(crate) fn check_or_regenerate(rel: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel);
    if std::env::var_os("SFT_REGENERATE_VECTORS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}
