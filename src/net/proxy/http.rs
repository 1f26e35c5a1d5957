//! HTTP CONNECT (RFC 9110 §9.3.6), with Basic credentials (RFC 7617) when
//! the proxy URL has them. The response head is read one byte at a time
//! up to its blank line, bounded by [`MAX_HTTP_HEAD`], so no byte of the
//! tunnel is taken by mistake.

use std::io::{Read, Write};

use base64::Engine;
use zeroize::Zeroizing;

use super::{read_exact, Failure};
use crate::net::proxy::url::Proxy;

/// Largest response head taken from an HTTP proxy (8 KiB), status line
/// and header fields with their line ends: a CONNECT answer is a few
/// lines; a longer one is refused, not buffered.
pub const MAX_HTTP_HEAD: usize = 8 * 1024;

/// Most characters of a refusing status line shown to the user (200).
pub const MAX_SHOWN_STATUS: usize = 200;

/// Sends CONNECT `host:port` and reads the response head: any 2xx opens
/// the tunnel (RFC 9110 §9.3.6); anything else is a refusal that shows
/// the status line.
pub(super) fn connect<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Failure> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if authority.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(Failure::Target(
            "the server's name has spaces or control characters",
        ));
    }
    let mut req = Zeroizing::new(format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    ));
    if let Some(c) = &proxy.credentials {
        let mut pair = Zeroizing::new(c.user.clone());
        pair.push(b':');
        if let Some(p) = &c.password {
            pair.extend_from_slice(p);
        }
        let token = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&token);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(Failure::Io)?;

    let head = read_head(s)?;
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let line = line.trim_end_matches('\r');
    let code = status_code(line)?;
    if (200..300).contains(&code) {
        return Ok(());
    }
    let shown: String = line
        .chars()
        .take(MAX_SHOWN_STATUS)
        .flat_map(char::escape_debug)
        .collect();
    match code {
        407 => Err(Failure::AuthRequired(shown)),
        _ => Err(Failure::Refused(format!("refused CONNECT: {shown}"))),
    }
}

/// The status code of `HTTP/1.x NNN reason`.
fn status_code(line: &str) -> Result<u16, Failure> {
    let bad = Failure::Malformed("the HTTP proxy's status line is not HTTP/1.x NNN ...");
    let rest = line.strip_prefix("HTTP/1.").ok_or(bad)?;
    let mut parts = rest.splitn(3, ' ');
    let (Some(minor), Some(code)) = (parts.next(), parts.next()) else {
        return Err(Failure::Malformed(
            "the HTTP proxy's status line has no code",
        ));
    };
    if minor.len() != 1 || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Malformed(
            "the HTTP proxy's status line is not HTTP/1.x NNN ...",
        ));
    }
    code.parse()
        .map_err(|_| Failure::Malformed("the HTTP proxy's status code is not a number"))
}

/// Reads up to and including the blank line that ends the head (`\r\n\r\n`,
/// or bare `\n\n` from a sloppy proxy), one byte at a time.
fn read_head<S: Read>(s: &mut S) -> Result<Vec<u8>, Failure> {
    let mut head = Vec::with_capacity(256);
    loop {
        if head.len() == MAX_HTTP_HEAD {
            return Err(Failure::Malformed(
                "the HTTP proxy's response head is longer than 8 KiB",
            ));
        }
        let mut b = [0u8; 1];
        read_exact(s, &mut b)?;
        head.push(b[0]);
        if head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n") {
            return Ok(head);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{negotiate, tests::Mem};
    use super::*;

    fn proxy(url: &str) -> Proxy {
        Proxy::parse(url).unwrap()
    }

    #[test]
    fn connect_sends_the_authority_and_basic_credentials() {
        let reply = b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nSFT";
        let mut m = Mem::new(reply);
        negotiate(
            &mut m,
            &proxy("http://Aladdin:open%20sesame@p:1"),
            "h.example",
            5555,
        )
        .unwrap();
        // RFC 7617 §2's own example credentials.
        assert_eq!(
            String::from_utf8(m.sent.clone()).unwrap(),
            "CONNECT h.example:5555 HTTP/1.1\r\nHost: h.example:5555\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert_eq!(m.rest(), b"SFT");
        let mut m = Mem::new(b"HTTP/1.0 204 ok\n\nX");
        negotiate(&mut m, &proxy("http://p:1"), "::1", 22).unwrap();
        assert!(String::from_utf8(m.sent.clone())
            .unwrap()
            .starts_with("CONNECT [::1]:22 HTTP/1.1\r\n"));
        assert_eq!(m.rest(), b"X");
    }

    #[test]
    fn a_refusal_shows_the_status_line() {
        let reply =
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n";
        match negotiate(&mut Mem::new(reply), &proxy("http://p:1"), "h", 1) {
            Err(e @ Failure::AuthRequired(_)) => assert_eq!(
                e.to_string(),
                "refused CONNECT: HTTP/1.1 407 Proxy Authentication Required"
            ),
            other => panic!("{other:?}"),
        }
        let long = format!("HTTP/1.1 403 {}\r\n\r\n", "\u{1b}".repeat(500));
        match negotiate(&mut Mem::new(long.as_bytes()), &proxy("http://p:1"), "h", 1) {
            Err(Failure::Refused(w)) => {
                assert!(!w.contains('\u{1b}'));
                assert!(w.len() < 2000, "{}", w.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_head_up_to_8_kib_is_read_and_one_byte_more_is_refused() {
        let head = |len: usize| {
            let mut h = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
            h.resize(len - 4, b'a');
            h.extend_from_slice(b"\r\n\r\n");
            h.extend_from_slice(b"tunnel");
            h
        };
        let at_limit = head(MAX_HTTP_HEAD);
        let mut m = Mem::new(&at_limit);
        negotiate(&mut m, &proxy("http://p:1"), "h", 1).unwrap();
        assert_eq!(m.rest(), b"tunnel");
        let e = negotiate(
            &mut Mem::new(&head(MAX_HTTP_HEAD + 1)),
            &proxy("http://p:1"),
            "h",
            1,
        );
        assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
    }

    #[test]
    fn garbage_and_cut_heads_are_errors() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 2000 x\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
        ] {
            let e = negotiate(&mut Mem::new(bad), &proxy("http://p:1"), "h", 1);
            assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
        }
        let e = negotiate(
            &mut Mem::new(b"HTTP/1.1 200 OK\r\n"),
            &proxy("http://p:1"),
            "h",
            1,
        );
        assert!(matches!(e, Err(Failure::Closed)), "{e:?}");
    }
}
