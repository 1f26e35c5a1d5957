//! How `sft ls` shows an entry so that no name can break a line or its
//! columns. A name is written last, and quoted shell-style (like GNU ls
//! `--quoting-style=shell-escape`) when it holds whitespace, a quote, a
//! backslash, a shell special character or any non-printing character: a
//! printable run goes in single quotes (`'` as `'\''`), a non-printing one
//! in `$'...'` (`\t`, `\n`, `\r`, else each UTF-8 byte as `\NNN` octal). So
//! every entry is exactly one line, and the quoted name pasted into a
//! POSIX shell with `$'...'` (bash, zsh, ksh) is the name itself.

use sft::proto::name::is_hidden;

use crate::cli::out::rfc3339;

/// One `ls -l` line: mode, size in bytes (right-aligned in 14 columns,
/// wider if it must be), mtime as RFC 3339 UTC (`@SECONDS` outside years
/// 1970-9999), then the name as [`short_name`] writes it, e.g.
/// `drwxr-xr-x              0 2026-12-02T10:00:00Z photos/`. Splitting
/// on the first 3 runs of whitespace gives the 4 columns. Only the
/// permission bits of `mode` (`0o777`) are shown.
pub fn long_line(name: &str, is_dir: bool, size: u64, mtime: i64, mode: u32) -> String {
    let when = rfc3339(mtime).unwrap_or_else(|| format!("@{mtime}"));
    format!(
        "{} {size:>14} {when} {}",
        mode_string(is_dir, mode),
        short_name(name, is_dir)
    )
}

/// The name for plain `ls`: quoted when it must be (see the module
/// docs), with `/` after a directory's name.
pub fn short_name(name: &str, is_dir: bool) -> String {
    let mut shown = quote(name);
    if is_dir {
        shown.push('/');
    }
    shown
}

/// `drwxr-xr-x` style: the type, then read, write, execute for the owner,
/// the group and others.
fn mode_string(is_dir: bool, mode: u32) -> String {
    let mut s = String::from(if is_dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = mode >> shift;
        for (bit, c) in [(4, 'r'), (2, 'w'), (1, 'x')] {
            s.push(if bits & bit != 0 { c } else { '-' });
        }
    }
    s
}

/// Whether `c` at position `i` of a name can be written bare.
fn is_plain(i: usize, c: char) -> bool {
    if is_hidden(c) || c.is_whitespace() {
        return false;
    }
    match c {
        'a'..='z'
        | 'A'..='Z'
        | '0'..='9'
        | '%'
        | '+'
        | ','
        | '-'
        | '.'
        | '/'
        | ':'
        | '='
        | '@'
        | '_' => true,
        // Special only as the first character (home directory, comment).
        '#' | '~' => i > 0,
        c => !c.is_ascii(),
    }
}

/// Where [`quote`] is in its output.
#[derive(PartialEq)]
enum Open {
    Nothing,
    Single,
    Dollar,
}

/// `name` bare if every character is plain, else quoted as the module
/// docs say.
fn quote(name: &str) -> String {
    if !name.is_empty() && name.chars().enumerate().all(|(i, c)| is_plain(i, c)) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    let mut open = Open::Nothing;
    for c in name.chars() {
        let want = if is_hidden(c) {
            Open::Dollar
        } else {
            Open::Single
        };
        if open != want {
            if open != Open::Nothing {
                out.push('\'');
            }
            out.push_str(if want == Open::Dollar { "$'" } else { "'" });
            open = want;
        }
        match c {
            '\'' => out.push_str("'\\''"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_hidden(c) => {
                for b in c.encode_utf8(&mut [0; 4]).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    if open == Open::Nothing {
        out.push('\'');
    }
    out.push('\'');
    out
}

#[cfg(test)]
#[path = "listing_format_tests.rs"]
mod tests;
