//! The client config file, `$SFT_HOME/config`: `Host` blocks that give an
//! alias its real host name, port, identity, server key and proxy, in the
//! spirit of ssh_config(5).
//!
//! ```text
//! Host backup nas-*  !nas-old
//!     HostName 192.0.2.10
//!     Port 6000
//!     IdentityFile ~/.config/sft/backup-key
//!     ServerKey SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
//! Host *
//!     Port 5555
//! ```
//!
//! As in ssh: keywords are case-insensitive, `Keyword value` or
//! `Keyword=value`, `#` starts a comment, `"..."` quotes a value with
//! spaces; settings before the first `Host` line apply to every host; and
//! for each setting the FIRST value found in a block that matches wins, so
//! `Host *` defaults go at the end. An unknown keyword is an error naming
//! the file and line, never skipped: a setting silently ignored could send
//! files to the wrong place.
//!
//! [`parse`] and [`Config::for_host`] are pure; [`load`] reads the file and
//! refuses one that others could have written.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use sft::crypto::ed25519::Fingerprint;
use sft::keys::KeyError;

use crate::cli::error::{CliError, Exit};
use crate::cli::{home, parse};

/// Largest config file read (1 MiB): thousands of hosts; a larger file is
/// a mistake (a log or a binary named by `-F`), refused before it is held
/// in memory.
pub(super) const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The keywords sft knows, as the hint for an unknown one lists them.
const KEYWORDS: &str = "Host, HostName, Port, IdentityFile, ServerKey, Proxy";

/// A parsed config file.
#[derive(Debug)]
pub(super) struct Config {
    path: PathBuf,
    blocks: Vec<Block>,
}

/// The lines under one `Host` line (or before the first: `patterns` empty,
/// matching every host).
#[derive(Debug)]
struct Block {
    line: usize,
    patterns: Vec<String>,
    settings: Vec<Setting>,
}

#[derive(Debug)]
enum Setting {
    HostName(String),
    Port(u16),
    IdentityFile(PathBuf),
    ServerKey(String),
    Proxy { url: String, line: usize },
}

/// What the config says about one alias; each field is `None` when no
/// matching block sets it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct HostConfig {
    /// The host to connect to in place of the alias.
    pub(super) hostname: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) identity: Option<PathBuf>,
    /// A fingerprint, checked when the file was read.
    pub(super) server_key: Option<String>,
    /// A proxy URL, as `--proxy` takes it, and the `FILE:LINE` it came
    /// from; checked where it is used, so its errors name that line.
    pub(super) proxy: Option<(String, String)>,
    /// The blocks that matched, as `FILE:LINE: Host PATTERNS`, for `-v`.
    pub(super) applied: Vec<String>,
}

impl Config {
    /// The file this config was read from.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The settings for `alias` (the host as the user typed it): from each
    /// matching block in file order, the first value of each setting.
    pub(super) fn for_host(&self, alias: &str) -> HostConfig {
        let alias = alias.to_ascii_lowercase();
        let mut out = HostConfig::default();
        for block in &self.blocks {
            if !block.patterns.is_empty() {
                if !matches_list(&block.patterns, &alias) {
                    continue;
                }
                out.applied.push(format!(
                    "{}:{}: Host {}",
                    self.path.display(),
                    block.line,
                    block.patterns.join(" ")
                ));
            }
            for s in &block.settings {
                match s {
                    Setting::HostName(v) => first(&mut out.hostname, v),
                    Setting::Port(v) => first(&mut out.port, v),
                    Setting::IdentityFile(v) => first(&mut out.identity, v),
                    Setting::ServerKey(v) => first(&mut out.server_key, v),
                    Setting::Proxy { url, line } => first(
                        &mut out.proxy,
                        &(url.clone(), format!("{}:{line}", self.path.display())),
                    ),
                }
            }
        }
        out
    }
}

fn first<T: Clone>(slot: &mut Option<T>, value: &T) {
    if slot.is_none() {
        *slot = Some(value.clone());
    }
}

/// ssh's rule for a pattern list: the host matches when some pattern
/// matches it and no negated (`!`) pattern does; a list of negations only
/// matches nothing.
fn matches_list(patterns: &[String], host: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if glob(neg.as_bytes(), host.as_bytes()) => return false,
            Some(_) => {}
            None => hit |= glob(p.as_bytes(), host.as_bytes()),
        }
    }
    hit
}

/// `*` any run of characters, `?` one character, anything else itself.
/// Iterative with one backtrack point, so linear-ish and never recursive.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Which config file to read: `-F FILE`, `-F none`, or the default.
///
/// # Errors
/// [`Exit::Usage`] when a named file is missing, unreadable, too large,
/// writable by others or owned by another user, or when a line is wrong.
pub(super) fn load(flag: Option<&Path>) -> Result<Option<Config>, CliError> {
    let path = match flag {
        Some(p) if p == Path::new("none") => return Ok(None),
        Some(p) => p.to_path_buf(),
        None => {
            let p = home::sft_home()?.join("config");
            if !p.exists() {
                log::info!("no config file at {}", p.display());
                return Ok(None);
            }
            p
        }
    };
    let text = read_checked(&path)?;
    log::info!("reading config {}", path.display());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    parse(&text, &path, home.as_deref()).map(Some)
}

fn read_checked(path: &Path) -> Result<String, CliError> {
    sft::keys::trusted::read(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        KeyError::Io { source, .. } => CliError::new(
            Exit::Usage,
            format!("cannot read config file {}: {source}", path.display()),
        )
        .hint("-F names another config file; -F none reads none"),
        e @ KeyError::BadOwner { .. } => CliError::new(Exit::Usage, e.to_string()),
        e => CliError::new(Exit::Usage, format!("config file {e}")),
    })
}

/// Parses config text read from `path`; `home` expands `~/` in
/// `IdentityFile`, and a relative `IdentityFile` is taken from the config
/// file's directory.
///
/// # Errors
/// [`Exit::Usage`] naming `path:line`, what is wrong and the keywords sft
/// knows.
pub(super) fn parse(text: &str, path: &Path, home: Option<&Path>) -> Result<Config, CliError> {
    let mut blocks = vec![Block {
        line: 0,
        patterns: Vec::new(),
        settings: Vec::new(),
    }];
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let err = |msg: String| {
            CliError::new(Exit::Usage, format!("{}:{line}: {msg}", path.display())).hint(format!(
                "a config line is `Keyword value`; sft knows {KEYWORDS} (README: Config file and host aliases)"
            ))
        };
        let Some((keyword, args)) = split_line(raw).map_err(err)? else {
            continue;
        };
        let one = || match args.as_slice() {
            [v] => Ok(v.clone()),
            [] => Err(err(format!("{keyword} needs a value"))),
            _ => Err(err(format!(
                "{keyword} takes one value, got {}",
                args.len()
            ))),
        };
        let setting = match keyword.to_ascii_lowercase().as_str() {
            "host" => {
                if args.is_empty() || args.iter().any(|a| a.is_empty() || a == "!") {
                    return Err(err("Host needs one or more patterns".into()));
                }
                blocks.push(Block {
                    line,
                    patterns: args.iter().map(|a| a.to_ascii_lowercase()).collect(),
                    settings: Vec::new(),
                });
                continue;
            }
            "hostname" => Setting::HostName(host_name(&one()?).map_err(err)?),
            "port" => Setting::Port(parse::port(&one()?).map_err(|e| err(format!("Port: {e}")))?),
            "identityfile" => {
                Setting::IdentityFile(identity_path(&one()?, path, home).map_err(err)?)
            }
            "serverkey" => {
                let v = one()?;
                if Fingerprint::parse(&v).is_err() {
                    return Err(err(format!(
                        "ServerKey {v:?} is not a fingerprint (SHA256:… with 43 base64 characters)"
                    )));
                }
                Setting::ServerKey(v)
            }
            "proxy" => Setting::Proxy { url: one()?, line },
            _ => return Err(err(format!("unknown keyword {keyword:?}"))),
        };
        if let Some(b) = blocks.last_mut() {
            b.settings.push(setting);
        }
    }
    Ok(Config {
        path: path.to_path_buf(),
        blocks,
    })
}

/// A line's keyword and its values, or `None` for a blank or comment line.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    Ok(Some((keyword.to_string(), words(rest)?)))
}

/// Splits values on whitespace; `"..."` keeps spaces; an unquoted `#`
/// starting a word begins a comment.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(out),
            Some('"') => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                }
                out.push(word);
            }
            Some(_) => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '"' {
                        return Err("a quote inside a value (quote the whole value)".into());
                    }
                    word.push(c);
                }
                out.push(word);
            }
        }
    }
}

/// A `HostName` value: a name or an IP address, IPv6 without brackets;
/// never a port, user or path.
fn host_name(v: &str) -> Result<String, String> {
    let bad = v.is_empty()
        || v.contains(['@', '/', '[', ']'])
        || v.chars().any(char::is_whitespace)
        || (v.contains(':') && v.parse::<Ipv6Addr>().is_err());
    if bad {
        return Err(format!(
            "HostName {v:?} is not a host name or IP address (the port goes on a Port line)"
        ));
    }
    Ok(v.to_ascii_lowercase())
}

/// An `IdentityFile` value: `~/` is the home directory, a relative path is
/// taken from the config file's directory.
fn identity_path(v: &str, config: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("IdentityFile needs a path".into());
    }
    if let Some(rest) = v.strip_prefix("~/") {
        return match home {
            Some(h) => Ok(h.join(rest)),
            None => Err("IdentityFile starts with ~/ but HOME is not set".into()),
        };
    }
    if v.starts_with('~') {
        return Err(format!(
            "IdentityFile {v:?}: only ~/ (your own home) is expanded"
        ));
    }
    let p = Path::new(v);
    Ok(match config.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
