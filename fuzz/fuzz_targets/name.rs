//! `name::sanitize` on arbitrary bytes, against an independent model of
//! PROTOCOL.md §4.5: an accepted name is the input itself, non-empty, at
//! most 255 bytes, free of '/', '\\' and every `name::is_hidden`
//! character, without a drive prefix, not "." or "..", and sanitizes to
//! itself; every input the model accepts is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft::proto::name::{is_hidden, sanitize};
use sft::proto::MAX_NAME_LEN;

fuzz_target!(|data: &[u8]| {
    let model = std::str::from_utf8(data).ok().and_then(|text| {
        let drive = text.len() >= 2
            && text.as_bytes()[0].is_ascii_alphabetic()
            && text.as_bytes()[1] == b':';
        let ok = data.len() <= MAX_NAME_LEN
            && !text.chars().any(is_hidden)
            && !text.contains(['/', '\\'])
            && !drive
            && !matches!(text, "" | "." | "..");
        ok.then_some(text)
    });
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
});
