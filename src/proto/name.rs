//! The receiver-side rules for remote file names and paths.
//!
//! A *path* from the wire ([`sanitize_path`]) is UTF-8 of at most
//! [`MAX_PATH_LEN`] bytes: 1 to [`MAX_DEPTH`] components separated by `/`,
//! each a name that passes [`sanitize`]. A leading `/`, an empty, `.` or
//! `..` component, a backslash or a drive prefix is refused, never
//! rewritten.
//!
//! A name from the wire is UTF-8 of at most [`MAX_NAME_LEN`] bytes and a
//! plain file name: a name with a directory part (`/` or `\`) or a drive
//! prefix (`C:`) is refused, never reduced to its base name (`../x` stored
//! as `x` would be a surprise). It is also refused when empty, `.` or `..`,
//! or when it contains NUL, any control character (C0, DEL, C1), or an
//! invisible formatting character that can make a name display as
//! something else (bidirectional overrides and isolates, zero-width
//! characters, the byte-order mark).

use super::{MAX_DEPTH, MAX_NAME_LEN, MAX_PATH_LEN};

/// Why a remote file name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Longer than 255 bytes.
    #[error("file name is {0} bytes, over the 255-byte limit")]
    TooLong(usize),
    /// Not valid UTF-8.
    #[error("file name is not valid UTF-8")]
    NotUtf8,
    /// Empty, `.` or `..`.
    #[error("file name {0:?} is empty, \".\" or \"..\"")]
    Empty(String),
    /// Has a directory part (`/` or `\`) or a drive prefix (`C:`).
    #[error("{0:?} is not a plain file name: a name with a directory part ('/' or '\\') or a drive prefix is refused, never reduced to its base name")]
    NotBaseName(String),
    /// Contains NUL, a control character or an invisible formatting
    /// character (the name is kept with those characters escaped).
    #[error("file name \"{0}\" contains a control or invisible formatting character")]
    ControlChar(String),
    /// A path longer than [`MAX_PATH_LEN`] (4,096) bytes.
    #[error("path is {0} bytes, over the 4096-byte limit")]
    PathTooLong(usize),
    /// A path of more than [`MAX_DEPTH`] (64) components.
    #[error("path has {0} components, over the 64-component limit")]
    TooDeep(usize),
    /// A path that is not relative and plain: a leading `/`, an empty
    /// (`a//b`, trailing `/`), `.` or `..` component, a backslash, or a
    /// component with a drive prefix.
    #[error("{0:?} is not a plain relative path: a leading '/', an empty, '.' or '..' component, a backslash or a drive prefix is refused, never rewritten")]
    NotRelative(String),
}

/// Applies the rule to raw wire bytes (PROTOCOL.md §4.5): the name, as
/// text, when it passes.
///
/// # Errors
/// [`NameError`] saying which part of the rule failed, checked in this
/// order: length, UTF-8, control and invisible characters, a directory part
/// or drive prefix, empty or dots.
pub fn sanitize(raw: &[u8]) -> Result<String, NameError> {
    if raw.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(raw.len()));
    }
    let text = std::str::from_utf8(raw).map_err(|_| NameError::NotUtf8)?;
    if text.chars().any(is_hidden) {
        return Err(NameError::ControlChar(display_safe(text)));
    }
    if text.contains(['/', '\\']) || has_drive_prefix(text) {
        return Err(NameError::NotBaseName(text.to_string()));
    }
    if text.is_empty() || text == "." || text == ".." {
        return Err(NameError::Empty(text.to_string()));
    }
    Ok(text.to_string())
}

/// Applies the path rule to raw wire bytes (PROTOCOL.md §4.5): the path,
/// as text, when it passes. Used exactly as sent.
///
/// # Errors
/// [`NameError`] saying which part of the rule failed, checked in this
/// order: total length ([`NameError::PathTooLong`]), UTF-8, control and
/// invisible characters, then each component in order: a backslash,
/// drive prefix, empty, `.` or `..` component ([`NameError::NotRelative`],
/// naming the whole path), a component over 255 bytes
/// ([`NameError::TooLong`]); last the number of components
/// ([`NameError::TooDeep`]).
pub fn sanitize_path(raw: &[u8]) -> Result<String, NameError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(NameError::PathTooLong(raw.len()));
    }
    let text = std::str::from_utf8(raw).map_err(|_| NameError::NotUtf8)?;
    if text.chars().any(is_hidden) {
        return Err(NameError::ControlChar(display_safe(text)));
    }
    let mut depth = 0usize;
    for part in text.split('/') {
        match sanitize(part.as_bytes()) {
            Ok(_) => depth += 1,
            Err(NameError::TooLong(n)) => return Err(NameError::TooLong(n)),
            Err(_) => return Err(NameError::NotRelative(text.to_string())),
        }
    }
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep(depth));
    }
    Ok(text.to_string())
}

/// Whether `text` starts like a Windows drive: one ASCII letter, then `:`.
fn has_drive_prefix(text: &str) -> bool {
    matches!(text.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic())
}

/// Characters that must not appear in a name, nor reach a terminal
/// unescaped: controls (C0, DEL, C1) and characters that are invisible or
/// reorder text, so a name could display as another: soft hyphen U+00AD,
/// combining grapheme joiner U+034F, bidi controls (U+061C, U+200E-U+200F,
/// U+202A-U+202E, U+2066-U+2069), zero-width and invisible operators
/// (U+200B-U+200D, U+2060-U+2064), line and paragraph separators
/// (U+2028-U+2029), Mongolian vowel separator U+180E, Hangul fillers
/// (U+115F, U+1160, U+3164, U+FFA0), U+FEFF, and tag characters
/// (U+E0000-U+E007F).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` from a peer made safe to print on a terminal or in a log: every
/// [`is_hidden`] character is written as a `\u{..}` escape.
pub fn display_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_safe_escapes_terminal_tricks() {
        assert_eq!(display_safe("ok \x1b[2Kfake\n"), "ok \\u{1b}[2Kfake\\u{a}");
        assert_eq!(display_safe("\u{202E}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(display_safe("plain résumé"), "plain résumé");
    }

    #[test]
    fn a_relative_path_passes_unchanged() {
        for good in [
            "a",
            "a/b/c.txt",
            "d i r/caf\u{e9}/.profile",
            "..x/y..",
            "a/bc:d",
        ] {
            assert_eq!(sanitize_path(good.as_bytes()).unwrap(), good);
        }
    }

    #[test]
    fn a_path_that_escapes_or_is_not_plain_is_refused_never_rewritten() {
        for bad in [
            &b""[..],
            b"/",
            b"/etc/passwd",
            b"a/",
            b"a//b",
            b".",
            b"./a",
            b"a/.",
            b"..",
            b"../x",
            b"a/../../x",
            b"a\\b",
            b"C:\\x",
            b"C:x",
            b"a/C:x",
        ] {
            assert!(
                matches!(sanitize_path(bad), Err(NameError::NotRelative(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            sanitize_path(b"a/\x1b[2K"),
            Err(NameError::ControlChar(_))
        ));
        assert_eq!(sanitize_path(&[0xff]), Err(NameError::NotUtf8));
    }

    #[test]
    fn path_limits_hold_at_the_limit_and_fail_just_past_it() {
        let deep = vec!["d"; MAX_DEPTH].join("/");
        assert!(sanitize_path(deep.as_bytes()).is_ok());
        let deeper = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(
            sanitize_path(deeper.as_bytes()),
            Err(NameError::TooDeep(MAX_DEPTH + 1))
        );
        // 16 components of 255 bytes joined by 15 slashes: 4,095 bytes.
        let part = "p".repeat(255);
        let mut long = vec![part.as_str(); 16].join("/");
        long.push('x');
        assert_eq!(long.len(), MAX_PATH_LEN);
        assert!(matches!(
            sanitize_path(long.as_bytes()),
            Err(NameError::TooLong(256))
        ));
        // 20 components of 200 bytes, 19 slashes, then "/" and 76 bytes: 4,096.
        let mut legal = vec!["a".repeat(200); 20].join("/");
        legal.push('/');
        legal.push_str(&"b".repeat(MAX_PATH_LEN - legal.len()));
        assert_eq!(legal.len(), MAX_PATH_LEN);
        assert!(sanitize_path(legal.as_bytes()).is_ok());
        let past = format!("{legal}x");
        assert_eq!(
            sanitize_path(past.as_bytes()),
            Err(NameError::PathTooLong(MAX_PATH_LEN + 1))
        );
        assert!(sanitize_path(&[b'a'; 255]).is_ok());
        assert_eq!(sanitize_path(&[b'a'; 256]), Err(NameError::TooLong(256)));
    }

    /// The rows of PROTOCOL.md §4.5's table that the tests above leave
    /// out, and the order of the checks: the first failing component
    /// names the error, and a deeper path with a bad component reports
    /// the component, not the depth.
    #[test]
    fn the_spec_table_rows_and_the_order_of_the_checks() {
        for good in ["ab:c/x", "a/x.y:z"] {
            assert_eq!(sanitize_path(good.as_bytes()).unwrap(), good);
        }
        assert!(matches!(
            sanitize_path(b"a/b:c"),
            Err(NameError::NotRelative(p)) if p == "a/b:c"
        ));
        let long_then_dots = format!("{}/..", "a".repeat(256));
        assert_eq!(
            sanitize_path(long_then_dots.as_bytes()),
            Err(NameError::TooLong(256))
        );
        let deep_and_bad = format!("{}/..", vec!["d"; MAX_DEPTH].join("/"));
        assert!(matches!(
            sanitize_path(deep_and_bad.as_bytes()),
            Err(NameError::NotRelative(_))
        ));
        let deep_and_long = format!("{}/{}", vec!["d"; MAX_DEPTH].join("/"), "l".repeat(256));
        assert_eq!(
            sanitize_path(deep_and_long.as_bytes()),
            Err(NameError::TooLong(256))
        );
    }

    #[test]
    fn a_plain_name_passes_unchanged() {
        for good in [
            "résumé.pdf",
            "..hidden",
            ".profile",
            "ab:c",
            "1:x",
            "C",
            "x.y:z",
        ] {
            assert_eq!(sanitize(good.as_bytes()).unwrap(), good);
        }
    }

    #[test]
    fn a_path_or_drive_prefix_is_refused_never_reduced() {
        for bad in [
            &b"../x"[..],
            b"a/../../x",
            b"../../etc/passwd",
            b"/abs/file.txt",
            b"dir/",
            b"a\\b",
            b"C:\\x",
            b"C:x",
            b"z:",
            b"x\\.",
        ] {
            assert!(
                matches!(sanitize(bad), Err(NameError::NotBaseName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_empty_dots_control_and_long_names() {
        for bad in [&b""[..], b".", b".."] {
            assert!(matches!(sanitize(bad), Err(NameError::Empty(_))), "{bad:?}");
        }
        for bad in [
            &b"a\0b"[..],
            b"tab\there",
            b"nl\n",
            b"del\x7f",
            "c1\u{85}".as_bytes(),
            b"\x1b[31m",
        ] {
            assert!(
                matches!(sanitize(bad), Err(NameError::ControlChar(_))),
                "{bad:?}"
            );
        }
        for bad in [
            "\u{202E}exe.txt",
            "a\u{200B}b",
            "\u{FEFF}bom",
            "iso\u{2066}late",
        ] {
            assert!(
                matches!(sanitize(bad.as_bytes()), Err(NameError::ControlChar(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(sanitize(&[0xff, 0xfe]), Err(NameError::NotUtf8)));
        assert!(sanitize(&[b'a'; 255]).is_ok());
        assert_eq!(sanitize(&[b'a'; 256]), Err(NameError::TooLong(256)));
    }
}
