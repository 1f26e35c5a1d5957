//! Proxy URLs: `SCHEME://[USER[:PASSWORD]@]HOST:PORT`, checked whole
//! before anything is sent, so a bad setting is a usage error that names
//! the problem, never a half-made connection.

use std::fmt;

use zeroize::Zeroizing;

/// Longest user name or password a proxy URL may carry, in bytes after
/// percent-decoding (255): the one-byte ULEN and PLEN fields of RFC 1929
/// §2 hold no more, and the same bound keeps SOCKS4 user ids and HTTP
/// Basic credentials small.
pub const MAX_CREDENTIAL_LEN: usize = 255;

/// Longest proxy URL taken (2,048 bytes): far more than any real one, and
/// a bound on what is decoded.
pub const MAX_URL_LEN: usize = 2048;

/// The protocol spoken to the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// SOCKS4: the target is resolved here, IPv4 only; a user id, no
    /// password.
    Socks4,
    /// SOCKS4a: SOCKS4 with the target's name sent for the proxy to
    /// resolve.
    Socks4a,
    /// SOCKS5 (RFC 1928), with username/password (RFC 1929) when given;
    /// the target's name is sent for the proxy to resolve.
    Socks5,
    /// HTTP CONNECT (RFC 9110 §9.3.6), with Basic credentials (RFC 7617)
    /// when given; the target's name is sent for the proxy to resolve.
    Http,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Socks4 => "socks4",
            Scheme::Socks4a => "socks4a",
            Scheme::Socks5 => "socks5",
            Scheme::Http => "http",
        }
    }
}

/// A user name and password for the proxy, as bytes (percent-decoded);
/// the password is wiped on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    /// The user name (SOCKS4: the user id), 1 to [`MAX_CREDENTIAL_LEN`]
    /// bytes, no NUL.
    pub user: Vec<u8>,
    /// The password, up to [`MAX_CREDENTIAL_LEN`] bytes, no NUL; `None`
    /// when the URL has no `:` after the user.
    pub password: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A checked proxy setting.
#[derive(Clone, Debug)]
pub struct Proxy {
    /// How to speak to it.
    pub scheme: Scheme,
    /// Its host name or IP address (IPv6 without brackets), lowercase.
    pub host: String,
    /// Its port, 1 to 65535.
    pub port: u16,
    /// Credentials, when the URL carries them.
    pub credentials: Option<Credentials>,
}

/// Why a proxy URL was refused. The messages never repeat the URL (it
/// may hold a password); the caller names where it came from.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than [`MAX_URL_LEN`].
    #[error("longer than {MAX_URL_LEN} bytes")]
    TooLong,
    /// No `SCHEME://`.
    #[error("not a proxy URL (expected SCHEME://HOST:PORT, e.g. socks5://127.0.0.1:1080)")]
    NoScheme,
    /// A scheme sft does not speak.
    #[error("unknown scheme {0:?} (sft speaks socks5, socks4, socks4a and http)")]
    UnknownScheme(String),
    /// Nothing between `://` (or `@`) and the port.
    #[error("no proxy host")]
    NoHost,
    /// A host with characters no host name or address has.
    #[error("{0:?} is not a host name or IP address")]
    BadHost(String),
    /// More than one `:` before the port, and no brackets: IPv6 written
    /// bare, or `user:password` without its `@` (so it is not shown).
    #[error("more than one ':' before the port (write IPv6 in brackets, [::1]:1080; user:password needs an @ after it)")]
    Colons,
    /// No `:PORT` (proxies have no default port sft would guess).
    #[error("no port (give it: HOST:PORT, e.g. :1080)")]
    NoPort,
    /// A port that is not a number from 1 to 65535.
    #[error("port {0:?} is not a number from 1 to 65535")]
    BadPort(String),
    /// A port with characters other than digits (not shown: it may be a
    /// password whose `@host:port` is missing).
    #[error(
        "the port is not a number from 1 to 65535 (a user:password needs @host:port after it)"
    )]
    PortNotNumber,
    /// A path, query or fragment after the port.
    /// (Not shown: without `@host:port` it may be part of a password.)
    #[error("unexpected text after the port (a proxy URL has no path, query or fragment)")]
    Trailing,
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in the {0}")]
    BadPercent(&'static str),
    /// An empty user name before `@`.
    #[error("empty user name")]
    EmptyUser,
    /// A user name or password longer than [`MAX_CREDENTIAL_LEN`].
    #[error("the {0} is longer than {MAX_CREDENTIAL_LEN} bytes")]
    CredentialTooLong(&'static str),
    /// A user name or password with a NUL byte.
    #[error("the {0} contains a NUL byte")]
    CredentialNul(&'static str),
    /// A password on a socks4 or socks4a URL.
    #[error("SOCKS4 has a user id but no password; drop the :password")]
    Socks4Password,
    /// An empty password on a socks5 URL.
    #[error(
        "SOCKS5 needs a password of 1 to {MAX_CREDENTIAL_LEN} bytes with a user name (RFC 1929)"
    )]
    Socks5NoPassword,
    /// A `:` in an HTTP user name.
    #[error("an HTTP Basic user name cannot contain ':' (RFC 7617)")]
    HttpUserColon,
}

impl Proxy {
    /// Parses and checks `url`. User name and password are
    /// percent-decoded (`%40` is `@`); the scheme and host are
    /// case-insensitive.
    ///
    /// # Errors
    /// A [`UrlError`] naming the first problem.
    pub fn parse(url: &str) -> Result<Proxy, UrlError> {
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::NoScheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "socks5" | "socks5h" => Scheme::Socks5,
            "socks4" => Scheme::Socks4,
            "socks4a" => Scheme::Socks4a,
            "http" => Scheme::Http,
            other => return Err(UrlError::UnknownScheme(printable(other))),
        };
        // The user info first, up to the last `@`: nothing after this
        // point may echo it (an unencoded `/` or `#` in a password is
        // taken as part of it, not reported as a path).
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        // A trailing slash (curl writes http://host:port/) is no path.
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if hostport.contains(['/', '?', '#']) {
            return Err(UrlError::Trailing);
        }
        let (host, port) = split_host_port(hostport)?;
        let credentials = userinfo.map(|u| credentials(scheme, u)).transpose()?;
        Ok(Proxy {
            scheme,
            host,
            port,
            credentials,
        })
    }
}

/// `SCHEME://[USER@]HOST:PORT`, never the password.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.name())?;
        if let Some(c) = &self.credentials {
            write!(f, "{}@", printable(&String::from_utf8_lossy(&c.user)))?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(s: &str) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError::BadHost(printable(s)))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UrlError::BadHost(printable(host)));
        }
        match after.strip_prefix(':') {
            Some(p) => (host, p),
            None if after.is_empty() => return Err(UrlError::NoPort),
            None => return Err(UrlError::Trailing),
        }
    } else {
        match s.rsplit_once(':') {
            // Not echoed: without an `@` this may be `user:password`.
            Some((h, _)) if h.contains(':') => return Err(UrlError::Colons),
            Some((h, p)) => (h, p),
            None if s.is_empty() => return Err(UrlError::NoHost),
            None => return Err(UrlError::NoPort),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let name_chars = |b: u8| b.is_ascii_alphanumeric() || b"-._:".contains(&b);
    if !host.bytes().all(name_chars) {
        return Err(UrlError::BadHost(printable(host)));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ if port.is_empty() => return Err(UrlError::NoPort),
        _ if port.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(UrlError::BadPort(port.to_string()))
        }
        // Not echoed: in `user:password` without `@host:port`, this is
        // the password.
        _ => return Err(UrlError::PortNotNumber),
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn credentials(scheme: Scheme, userinfo: &str) -> Result<Credentials, UrlError> {
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (userinfo, None),
    };
    let user = decode(user, "user name")?;
    if user.is_empty() {
        return Err(UrlError::EmptyUser);
    }
    let password = password
        .map(|p| decode(p, "password").map(Zeroizing::new))
        .transpose()?;
    match scheme {
        Scheme::Socks4 | Scheme::Socks4a if password.is_some() => Err(UrlError::Socks4Password),
        Scheme::Socks5 if password.as_ref().map_or(true, |p| p.is_empty()) => {
            Err(UrlError::Socks5NoPassword)
        }
        Scheme::Http if user.contains(&b':') => Err(UrlError::HttpUserColon),
        _ => Ok(Credentials { user, password }),
    }
}

/// Percent-decodes `s` (RFC 3986 §2.1), checking the result against the
/// credential rules.
fn decode(s: &str, what: &'static str) -> Result<Vec<u8>, UrlError> {
    let mut out = Vec::with_capacity(s.len().min(MAX_CREDENTIAL_LEN));
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        let b = if b == b'%' {
            let hex = |d: Option<u8>| d.and_then(|d| (d as char).to_digit(16));
            match (hex(bytes.next()), hex(bytes.next())) {
                (Some(hi), Some(lo)) => (hi * 16 + lo) as u8,
                _ => return Err(UrlError::BadPercent(what)),
            }
        } else {
            b
        };
        if b == 0 {
            return Err(UrlError::CredentialNul(what));
        }
        if out.len() == MAX_CREDENTIAL_LEN {
            return Err(UrlError::CredentialTooLong(what));
        }
        out.push(b);
    }
    Ok(out)
}

/// `s` with control characters escaped, for a message.
fn printable(s: &str) -> String {
    s.chars().flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Proxy {
        Proxy::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn each_scheme_with_and_without_credentials() {
        let p = ok("socks5://127.0.0.1:1080");
        assert_eq!(
            (p.scheme, p.host.as_str(), p.port),
            (Scheme::Socks5, "127.0.0.1", 1080)
        );
        assert!(p.credentials.is_none());
        let p = ok("SOCKS5://Alice:s%40cret%3A1@Proxy.Example:65535/");
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", 65535));
        let c = p.credentials.as_ref().unwrap();
        assert_eq!(c.user, b"Alice");
        assert_eq!(
            c.password.as_deref().map(Vec::as_slice),
            Some(&b"s@cret:1"[..])
        );
        assert_eq!(p.to_string(), "socks5://Alice@proxy.example:65535");
        assert!(!format!("{p:?}").contains("cret"), "{p:?}");
        assert_eq!(ok("socks4://joe@h:1").credentials.unwrap().user, b"joe");
        assert_eq!(ok("socks4a://h:1").scheme, Scheme::Socks4a);
        let p = ok("http://u:@[::1]:3128");
        assert_eq!((p.scheme, p.host.as_str()), (Scheme::Http, "::1"));
        assert_eq!(p.to_string(), "http://u@[::1]:3128");
        assert_eq!(ok("http://u@h:8080").credentials.unwrap().password, None);
    }

    #[test]
    fn credentials_up_to_255_bytes_and_not_one_more() {
        let at_limit = "x".repeat(MAX_CREDENTIAL_LEN);
        let p = ok(&format!("socks5://{at_limit}:{at_limit}@h:1"));
        assert_eq!(p.credentials.unwrap().user.len(), MAX_CREDENTIAL_LEN);
        // Counted after decoding: 255 escapes are 255 bytes.
        ok(&format!(
            "socks5://u:{}@h:1",
            "%41".repeat(MAX_CREDENTIAL_LEN)
        ));
        let past = "x".repeat(MAX_CREDENTIAL_LEN + 1);
        assert_eq!(
            Proxy::parse(&format!("socks5://{past}:p@h:1")).unwrap_err(),
            UrlError::CredentialTooLong("user name")
        );
        assert_eq!(
            Proxy::parse(&format!("http://u:{past}@h:1")).unwrap_err(),
            UrlError::CredentialTooLong("password")
        );
    }

    #[test]
    fn urls_up_to_the_limit_and_not_one_byte_more() {
        let long_host = format!("http://{}:1", "a".repeat(MAX_URL_LEN - "http://:1".len()));
        assert_eq!(long_host.len(), MAX_URL_LEN);
        ok(&long_host);
        let past = format!(
            "http://{}:1",
            "a".repeat(MAX_URL_LEN + 1 - "http://:1".len())
        );
        assert_eq!(Proxy::parse(&past).unwrap_err(), UrlError::TooLong);
    }

    #[test]
    fn each_bad_setting_is_named() {
        use UrlError::*;
        let cases: &[(&str, UrlError)] = &[
            ("", NoScheme),
            ("127.0.0.1:1080", NoScheme),
            ("garbage", NoScheme),
            ("ftp://h:21", UnknownScheme("ftp".into())),
            ("https://h:443", UnknownScheme("https".into())),
            ("socks5://", NoHost),
            ("socks5://:1080", NoHost),
            ("socks5://u:p@:1080", NoHost),
            ("socks5://h", NoPort),
            ("socks5://h:", NoPort),
            ("socks5://[::1]", NoPort),
            ("socks5://h:0", BadPort("0".into())),
            ("socks5://h:65536", BadPort("65536".into())),
            ("socks5://h:99999999999", BadPort("99999999999".into())),
            ("socks5://h:+80", PortNotNumber),
            ("socks5://h:port", PortNotNumber),
            ("socks5://h:1/path", Trailing),
            ("socks5://h:1?x", Trailing),
            ("socks5://h h:1", BadHost("h h".into())),
            ("socks5://::1:1080", Colons),
            ("socks5://alice:hunter2:1080", Colons),
            ("socks5://[nope]:1", BadHost("nope".into())),
            ("socks5://u:p%0@h:1", BadPercent("password")),
            ("socks5://%zz:p@h:1", BadPercent("user name")),
            ("socks5://u%00:p@h:1", CredentialNul("user name")),
            ("http://u:p%00@h:1", CredentialNul("password")),
            ("socks5://:p@h:1", EmptyUser),
            ("socks4://u:p@h:1", Socks4Password),
            ("socks4a://u:@h:1", Socks4Password),
            ("socks5://u@h:1", Socks5NoPassword),
            ("socks5://u:@h:1", Socks5NoPassword),
            ("http://a%3Ab:p@h:1", HttpUserColon),
        ];
        for (url, want) in cases {
            assert_eq!(&Proxy::parse(url).unwrap_err(), want, "{url:?}");
        }
    }

    #[test]
    fn a_refusal_never_repeats_the_password() {
        for url in [
            "socks5://u:hunter2@h:0",
            "socks4://u:hunter2@h:1",
            "socks5://u:hunter2:1080",
            "socks5://u:hunter2/x@h:0",
            "http://u:hunter2#x@h:1/path",
            "socks5://u:hunter2?@[nope]:1",
            "socks5://alice:hunter2",
            "http://alice:hunter2/",
            "socks5://alice:hun/ter2",
        ] {
            let e = Proxy::parse(url).unwrap_err().to_string();
            assert!(!e.contains("hunter2") && !e.contains("ter2"), "{e}");
        }
    }
}
