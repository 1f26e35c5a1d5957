//! `ls` lines: names that could break a line or a column are quoted, and
//! the quoting reads back as the name.

use super::*;
use proptest::prelude::*;

/// What a POSIX shell makes of the quoting [`quote`] writes: bare
/// characters, `'...'`, `\'` and `$'...'` with `\t`, `\n`, `\r`, `\NNN`.
fn unquote(s: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("$'") {
            let end = r.find('\'').expect("closed $'");
            let mut esc = &r[..end];
            while let Some(e) = esc.strip_prefix('\\') {
                let (b, n) = match e.as_bytes()[0] {
                    b't' => (b'\t', 1),
                    b'n' => (b'\n', 1),
                    b'r' => (b'\r', 1),
                    _ => (u8::from_str_radix(&e[..3], 8).unwrap(), 3),
                };
                bytes.push(b);
                esc = &e[n..];
            }
            assert!(esc.is_empty(), "only escapes inside $'': {s:?}");
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('\'') {
            let end = r.find('\'').expect("closed '");
            bytes.extend_from_slice(&r.as_bytes()[..end]);
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix("\\'") {
            bytes.push(b'\'');
            rest = r;
        } else {
            assert!(is_plain(1, c), "bare {c:?} in {s:?}");
            bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    String::from_utf8(bytes).unwrap()
}

/// The first `n` whitespace-separated columns of `line`, and the rest.
fn columns(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut cols = Vec::new();
    let mut rest = line;
    for _ in 0..n {
        let (col, r) = rest.split_once(' ').unwrap();
        cols.push(col);
        rest = r.trim_start();
    }
    (cols, rest)
}

#[test]
fn plain_names_are_bare_and_directories_get_a_slash() {
    for name in [
        "report.pdf",
        "résumé.pdf",
        "日本",
        "a-b_c+d,e%f@g:h=i",
        "x~#",
    ] {
        assert_eq!(short_name(name, false), name);
    }
    assert_eq!(short_name("photos", true), "photos/");
}

#[test]
fn names_that_could_break_a_line_or_a_column_are_quoted() {
    for (name, shown) in [
        ("a b.txt", "'a b.txt'"),
        ("a\nb", "'a'$'\\n''b'"),
        ("a\tb", "'a'$'\\t''b'"),
        ("\r\n", "$'\\r\\n'"),
        ("it's", "'it'\\''s'"),
        ("say \"hi\"", "'say \"hi\"'"),
        ("a\\b", "'a\\b'"),
        ("日本 語", "'日本 語'"),
        ("nb\u{a0}sp", "'nb\u{a0}sp'"),
        ("\u{202E}exe", "$'\\342\\200\\256''exe'"),
        ("\x1b[2J", "$'\\033''[2J'"),
        ("~x", "'~x'"),
        ("#x", "'#x'"),
        ("$HOME", "'$HOME'"),
        ("*", "'*'"),
        ("a;b", "'a;b'"),
        ("", "''"),
    ] {
        assert_eq!(short_name(name, false), shown, "{name:?}");
        assert_eq!(unquote(shown), name);
    }
    assert_eq!(short_name("my photos", true), "'my photos'/");
}

#[test]
fn long_lines_keep_the_size_and_date_style_of_ls() {
    assert_eq!(
        long_line("photos", true, 0, 1_764_669_600, 0o755),
        "drwxr-xr-x              0 2025-12-02T10:00:00Z photos/"
    );
    assert_eq!(
        long_line("a b.txt", false, 4096, 1_764_669_600, 0o644),
        "-rw-r--r--           4096 2025-12-02T10:00:00Z 'a b.txt'"
    );
    // Only the permission bits; a time outside 1970-9999 as seconds.
    assert_eq!(
        long_line("x", false, u64::MAX, -1, 0o104_701),
        "-rwx-----x 18446744073709551615 @-1 x"
    );
    assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    assert_eq!(
        rfc3339(253_402_300_799).as_deref(),
        Some("9999-12-31T23:59:59Z")
    );
    assert_eq!(rfc3339(253_402_300_800), None);
}

proptest! {
    /// Whatever the name, the line is one line of 4 columns whose last
    /// reads back as the name.
    #[test]
    fn every_name_is_one_line_and_reads_back(name in any::<String>(), dir: bool) {
        let line = long_line(&name, dir, 7, 0, 0o640);
        prop_assert!(!line.chars().any(|c| is_hidden(c) || c == '\n'));
        let (cols, shown) = columns(&line, 3);
        prop_assert_eq!(cols.len(), 3);
        prop_assert_eq!(shown, short_name(&name, dir));
        let shown = if dir { shown.strip_suffix('/').unwrap() } else { shown };
        prop_assert_eq!(unquote(shown), name);
    }
}
