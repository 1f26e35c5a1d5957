//! `name::sanitize` and `name::sanitize_path` on arbitrary bytes, against
//! an independent model of PROTOCOL.md §4.5. The name rule: an accepted
//! name is the input itself, non-empty, at most 255 bytes, free of '/',
//! '\\' and every `name::is_hidden` character, without a drive prefix, not
//! "." or "..", and sanitizes to itself; every input the model accepts is
//! accepted. The path rule: the model checks, in the spec's order, the
//! length, UTF-8, hidden characters, each component (over 255 bytes
//! `TooLong`, else any other name failure `NotRelative`), then the depth,
//! and the verdict must be the model's, error and number included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::proto::name::{display_safe, is_hidden, sanitize, sanitize_path, NameError};
use sft::proto::{MAX_DEPTH, MAX_NAME_LEN, MAX_PATH_LEN};

/// The name rule's verdict, as a yes or no, on valid text without hidden
/// characters.
fn plain_name(text: &str) -> bool {
    let b = text.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    b.len() <= MAX_NAME_LEN
        && !text.contains(['/', '\\'])
        && !drive
        && !matches!(text, "" | "." | "..")
}

/// PROTOCOL.md §4.5's path rule, step by step.
fn path_model(data: &[u8]) -> Result<String, NameError> {
    if data.len() > MAX_PATH_LEN {
        return Err(NameError::PathTooLong(data.len()));
    }
    let text = std::str::from_utf8(data).map_err(|_| NameError::NotUtf8)?;
    if text.chars().any(is_hidden) {
        return Err(NameError::ControlChar(display_safe(text)));
    }
    let mut depth = 0;
    for part in text.split('/') {
        if part.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(part.len()));
        }
        if !plain_name(part) {
            return Err(NameError::NotRelative(text.to_string()));
        }
        depth += 1;
    }
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep(depth));
    }
    Ok(text.to_string())
}

fuzz_target!(|data: &[u8]| {
    let model = std::str::from_utf8(data)
        .ok()
        .filter(|text| !text.chars().any(is_hidden) && plain_name(text));
    match sanitize(data) {
        Ok(name) => {
            assert_eq!(Some(name.as_str()), model, "input {data:02x?}");
            assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN);
            assert!(!name.contains(['/', '\\']), "{name:?}");
            assert!(!name.chars().any(is_hidden), "{name:?}");
            assert!(name != "." && name != "..");
            assert_eq!(data, name.as_bytes());
            assert_eq!(
                sanitize(name.as_bytes()).as_ref(),
                Ok(&name),
                "not idempotent"
            );
        }
        Err(e) => assert_eq!(model, None, "refused {data:02x?}: {e}"),
    }
    let path = sanitize_path(data);
    assert_eq!(path, path_model(data), "path {data:02x?}");
    if let Ok(p) = path {
        assert_eq!(p.as_bytes(), data);
        // A name is a path of one component.
        assert!(p.contains('/') || sanitize(data).is_ok());
    }
});
