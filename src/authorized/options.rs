//! Options on an authorized_keys line, OpenSSH-style: a comma-separated
//! list before the key type, e.g.
//! `root="exports/alice",read-only,max-sessions=4 sft-ed25519 AAAA… alice@host`.

use crate::proto::name::sanitize_path;

/// Highest `max-sessions=N` a key may be given (4096, the most connections
/// `sft serve --max-connections` allows).
pub const MAX_SESSIONS_OPTION: u32 = 4096;

/// Longest options field, quotes included (4096 bytes).
pub const MAX_OPTIONS_LEN: usize = 4096;

/// What a key's sessions may do with files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// Upload, make directories, download and list (no option).
    #[default]
    ReadWrite,
    /// Download and list only (`read-only`).
    ReadOnly,
    /// Upload and make directories only (`write-only`).
    WriteOnly,
}

/// The options of one key, as captured when its session authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// `root=DIR`: the sub-root (relative to the server root, checked by
    /// the protocol's path rules) the key is confined to.
    pub root: Option<String>,
    /// `read-only` / `write-only`.
    pub access: Access,
    /// `overwrite` (`Some(true)`) / `no-overwrite` (`Some(false)`); `None`
    /// leaves it to the server's `--allow-overwrite`.
    pub overwrite: Option<bool>,
    /// `max-sessions=N`: most concurrent sessions of this key, 1 to
    /// [`MAX_SESSIONS_OPTION`].
    pub max_sessions: Option<u32>,
}

/// Option names, so a line's first field can be told apart from a key type.
const NAMES: [&str; 6] = [
    "root",
    "read-only",
    "write-only",
    "overwrite",
    "no-overwrite",
    "max-sessions",
];

/// How key types begin (`sft-ed25519`, `ssh-ed25519`, `ssh-rsa`…): a first
/// field followed by one is an options field, even an unknown one.
const KEY_TYPE_PREFIXES: [&str; 2] = ["sft-", "ssh-"];

/// Splits `line` into its options field (if its first field is one) and
/// the rest. The options field ends at the first whitespace outside double
/// quotes. It is options when it holds `=` or `,`, is an option's name,
/// or is followed by a key type.
///
/// # Errors
/// An unterminated quote.
pub fn split_options(line: &str) -> Result<(Option<&str>, &str), String> {
    let mut quoted = false;
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let first = &line[..end];
    let rest = line[end..].trim_start();
    let is_options = first.contains('=')
        || first.contains(',')
        || NAMES.contains(&first)
        || KEY_TYPE_PREFIXES.iter().any(|p| rest.starts_with(p));
    if !is_options {
        return Ok((None, line));
    }
    if quoted {
        return Err("options: unterminated double quote".into());
    }
    Ok((Some(first), rest))
}

/// Parses an options field: `name` or `name=value` (value may be in double
/// quotes, `\"` and `\\` escaped inside), separated by commas.
///
/// # Errors
/// A message naming the option: unknown, repeated, `read-only` with
/// `write-only`, a missing or bad value, or a value given to a flag.
pub fn parse_options(field: &str) -> Result<KeyOptions, String> {
    if field.len() > MAX_OPTIONS_LEN {
        return Err(format!(
            "options: {} bytes, over the {MAX_OPTIONS_LEN}-byte limit",
            field.len()
        ));
    }
    let mut opts = KeyOptions::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in fields(field)? {
        if seen.contains(&name) {
            return Err(format!("option {name:?} given twice"));
        }
        let flag = |value: &Option<String>| match value {
            None => Ok(()),
            Some(_) => Err(format!("option {name:?} takes no value")),
        };
        match name {
            "root" => opts.root = Some(root_value(value)?),
            "read-only" | "write-only" => {
                flag(&value)?;
                if opts.access != Access::ReadWrite {
                    return Err(
                        "options \"read-only\" and \"write-only\" exclude each other".into(),
                    );
                }
                opts.access = if name == "read-only" {
                    Access::ReadOnly
                } else {
                    Access::WriteOnly
                };
            }
            "overwrite" | "no-overwrite" => {
                flag(&value)?;
                if opts.overwrite.is_some() {
                    return Err(
                        "options \"overwrite\" and \"no-overwrite\" exclude each other".into(),
                    );
                }
                opts.overwrite = Some(name == "overwrite");
            }
            "max-sessions" => opts.max_sessions = Some(sessions_value(value)?),
            other => return Err(format!("unknown option {:?}", display(other))),
        }
        seen.push(name);
    }
    Ok(opts)
}

/// A name for an error message: at most 64 characters, escaped.
fn display(text: &str) -> String {
    crate::proto::name::display_safe(&text.chars().take(64).collect::<String>())
}

fn root_value(value: Option<String>) -> Result<String, String> {
    let value = value.ok_or("option \"root\" needs a value: root=DIR")?;
    let dir = sanitize_path(value.as_bytes()).map_err(|e| format!("option \"root\": {e}"))?;
    if dir
        .split('/')
        .any(|c| c.starts_with(crate::fs::TEMP_PREFIX))
    {
        return Err(format!(
            "option \"root\": names starting with {:?} are the server's partial files",
            crate::fs::TEMP_PREFIX
        ));
    }
    Ok(dir)
}

fn sessions_value(value: Option<String>) -> Result<u32, String> {
    let value = value.ok_or("option \"max-sessions\" needs a value: max-sessions=N")?;
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_SESSIONS_OPTION).contains(&n) => Ok(n),
        _ => Err(format!(
            "option \"max-sessions\": {:?} is not a number from 1 to {MAX_SESSIONS_OPTION}",
            display(&value)
        )),
    }
}

/// The `name[=value]` items of an options field, values unquoted.
fn fields(field: &str) -> Result<Vec<(&str, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut rest = field;
    loop {
        let name_end = rest.find([',', '=']).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err("options: empty option (two commas, or a comma at an end)".into());
        }
        rest = &rest[name_end..];
        let value = match rest.strip_prefix('=') {
            Some(after) => {
                let (value, after) = take_value(after)?;
                rest = after;
                Some(value)
            }
            None => None,
        };
        out.push((name, value));
        match rest.strip_prefix(',') {
            Some("") => {
                return Err("options: empty option (two commas, or a comma at an end)".into())
            }
            Some(after) => rest = after,
            None if rest.is_empty() => return Ok(out),
            None => return Err(format!("options: unexpected {:?}", display(rest))),
        }
    }
}

/// One value: up to the next comma, or a double-quoted string.
fn take_value(text: &str) -> Result<(String, &str), String> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(',').unwrap_or(text.len());
        if text[..end].contains('"') {
            return Err("options: a double quote inside an unquoted value".into());
        }
        return Ok((text[..end].to_string(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &quoted[i + 1..])),
            '\\' => match chars.next() {
                Some((_, c @ ('"' | '\\'))) => value.push(c),
                _ => return Err("options: a backslash must escape \" or \\".into()),
            },
            c => value.push(c),
        }
    }
    Err("options: unterminated double quote".into())
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
