//! SOCKS4, its 4A extension, and SOCKS5 (RFC 1928) with username/password
//! authentication (RFC 1929), client side, over a blocking stream. Each
//! reply is read to its exact length and no further: what follows belongs
//! to the tunnel.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};

use super::{read_exact, Failure};
use crate::net::proxy::url::Proxy;

/// SOCKS4 reply code: request granted.
const SOCKS4_GRANTED: u8 = 90;

/// SOCKS5 authentication methods (RFC 1928 §3).
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xFF;

/// SOCKS5 address types (RFC 1928 §5).
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// Longest target name SOCKS4a and SOCKS5 carry (255 bytes): SOCKS5's
/// one-byte length (RFC 1928 §5); DNS names are shorter anyway.
pub const MAX_TARGET_NAME: usize = 255;

/// What a SOCKS4 reply code means (the SOCKS4 protocol, "CD" field).
fn socks4_code(cd: u8) -> String {
    match cd {
        91 => "request rejected or failed (SOCKS4 reply 91)".into(),
        92 => {
            "request rejected: the proxy cannot reach identd on this host (SOCKS4 reply 92)".into()
        }
        93 => "request rejected: identd reports a different user id (SOCKS4 reply 93)".into(),
        other => format!("unknown SOCKS4 reply code {other}"),
    }
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn socks5_code(rep: u8) -> String {
    let why = match rep {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        other => return format!("unassigned SOCKS5 reply code {other}"),
    };
    format!("{why} (SOCKS5 reply {rep})")
}

/// SOCKS4 (`name: false`: `host` must be an IPv4 address, resolved by
/// the caller) or SOCKS4a (`name: true`: a name is sent for the proxy to
/// resolve).
pub(super) fn socks4<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
    name: bool,
) -> Result<(), Failure> {
    let user = proxy.credentials.as_ref().map_or(&[][..], |c| &c.user[..]);
    let mut req = vec![4, 1];
    req.extend_from_slice(&port.to_be_bytes());
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.extend_from_slice(&ip.octets());
            req.extend_from_slice(user);
            req.push(0);
        }
        Ok(IpAddr::V6(_)) => return Err(Failure::Target("SOCKS4 carries no IPv6 address")),
        Err(_) if !name => return Err(Failure::Target("SOCKS4 carries only IPv4 addresses")),
        Err(_) => {
            check_name(host)?;
            // 0.0.0.x with x non-zero: "the name follows" (SOCKS4A).
            req.extend_from_slice(&Ipv4Addr::new(0, 0, 0, 1).octets());
            req.extend_from_slice(user);
            req.push(0);
            req.extend_from_slice(host.as_bytes());
            req.push(0);
        }
    }
    s.write_all(&req).map_err(Failure::Io)?;
    let mut reply = [0u8; 8];
    read_exact(s, &mut reply)?;
    if reply[0] != 0 {
        return Err(Failure::Malformed("a SOCKS4 reply starts with 0"));
    }
    match reply[1] {
        SOCKS4_GRANTED => Ok(()),
        cd => Err(Failure::Refused(format!("refused: {}", socks4_code(cd)))),
    }
}

/// SOCKS5: method selection, RFC 1929 authentication when the proxy asks
/// for it, then CONNECT to `host` (a name is sent as such, for the proxy
/// to resolve).
pub(super) fn socks5<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Failure> {
    let creds = proxy.credentials.as_ref();
    // Checked before the first byte goes out.
    let mut req = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.push(ATYP_IPV4);
            req.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            req.push(ATYP_IPV6);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            check_name(host)?;
            req.push(ATYP_DOMAIN);
            req.push(host.len() as u8);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());

    let greeting: &[u8] = if creds.is_some() {
        &[5, 2, NO_AUTH, USER_PASS]
    } else {
        &[5, 1, NO_AUTH]
    };
    s.write_all(greeting).map_err(Failure::Io)?;
    let mut chosen = [0u8; 2];
    read_exact(s, &mut chosen)?;
    if chosen[0] != 5 {
        return Err(Failure::Malformed("a SOCKS5 reply starts with 5"));
    }
    match (chosen[1], creds) {
        (NO_AUTH, _) => {}
        (USER_PASS, Some(c)) => {
            let password = c.password.as_deref().map_or(&[][..], Vec::as_slice);
            // Lengths were held to 1..=255 when the URL was parsed.
            let mut auth = zeroize::Zeroizing::new(vec![1, c.user.len() as u8]);
            auth.extend_from_slice(&c.user);
            auth.push(password.len() as u8);
            auth.extend_from_slice(password);
            s.write_all(&auth).map_err(Failure::Io)?;
            let mut status = [0u8; 2];
            read_exact(s, &mut status)?;
            if status[1] != 0 {
                return Err(Failure::AuthRejected);
            }
        }
        (NO_ACCEPTABLE, _) => {
            return Err(Failure::NoAcceptableMethod(if creds.is_some() {
                "none, username/password"
            } else {
                "none; give user:password@ in the proxy URL if it needs them"
            }))
        }
        _ => {
            return Err(Failure::Malformed(
                "the SOCKS5 proxy chose a method not offered",
            ))
        }
    }

    s.write_all(&req).map_err(Failure::Io)?;
    let mut head = [0u8; 4];
    read_exact(s, &mut head)?;
    if head[0] != 5 {
        return Err(Failure::Malformed("a SOCKS5 reply starts with 5"));
    }
    if head[1] != 0 {
        return Err(Failure::Refused(format!(
            "refused: {}",
            socks5_code(head[1])
        )));
    }
    // BND.ADDR and BND.PORT: read to the reply's exact end.
    let rest = match head[3] {
        ATYP_IPV4 => 4 + 2,
        ATYP_IPV6 => 16 + 2,
        ATYP_DOMAIN => {
            let mut len = [0u8; 1];
            read_exact(s, &mut len)?;
            usize::from(len[0]) + 2
        }
        _ => {
            return Err(Failure::Malformed(
                "unknown address type in the SOCKS5 reply",
            ))
        }
    };
    let mut bound = [0u8; 255 + 2];
    read_exact(s, &mut bound[..rest])
}

/// A target name the proxy is to resolve: 1 to [`MAX_TARGET_NAME`] bytes.
fn check_name(host: &str) -> Result<(), Failure> {
    if host.is_empty() || host.len() > MAX_TARGET_NAME || host.contains('\0') {
        return Err(Failure::Target(
            "the server's name is empty, has a NUL, or is over 255 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{negotiate, tests::Mem};
    use super::*;

    fn proxy(url: &str) -> Proxy {
        Proxy::parse(url).unwrap()
    }

    #[test]
    fn socks5_sends_the_name_and_reads_exactly_the_reply() {
        for (atyp_reply, len) in [
            (&[1, 10, 0, 0, 1, 0x15, 0xb3][..], 7),
            (&[4; 19][..], 19),
            (&[3, 3, b'a', b'b', b'c', 0, 80][..], 7),
        ] {
            let mut input = vec![5, 0, 5, 0, 0];
            input.extend_from_slice(atyp_reply);
            assert_eq!(input.len(), 5 + len);
            input.extend_from_slice(b"sft bytes");
            let mut m = Mem::new(&input);
            negotiate(&mut m, &proxy("socks5://p:1"), "files.example", 5555).unwrap();
            assert_eq!(m.rest(), b"sft bytes");
            let mut want = vec![5, 1, 0, 5, 1, 0, 3, 13];
            want.extend_from_slice(b"files.example");
            want.extend_from_slice(&5555u16.to_be_bytes());
            assert_eq!(m.sent, want);
        }
    }

    #[test]
    fn socks5_authenticates_per_rfc_1929() {
        let input = [5, 2, 1, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 1];
        let mut m = Mem::new(&input);
        negotiate(&mut m, &proxy("socks5://al%69ce:pw@p:1"), "10.0.0.2", 22).unwrap();
        let mut want = vec![5, 2, 0, 2, 1, 5];
        want.extend_from_slice(b"alice");
        want.extend_from_slice(&[2, b'p', b'w']);
        want.extend_from_slice(&[5, 1, 0, 1, 10, 0, 0, 2, 0, 22]);
        assert_eq!(m.sent, want);
        assert!(m.rest().is_empty());
        // Rejected credentials, and no acceptable method.
        let e = negotiate(
            &mut Mem::new(&[5, 2, 1, 1]),
            &proxy("socks5://a:b@p:1"),
            "h",
            1,
        );
        assert!(matches!(e, Err(Failure::AuthRejected)), "{e:?}");
        let e = negotiate(&mut Mem::new(&[5, 0xFF]), &proxy("socks5://p:1"), "h", 1);
        assert!(matches!(e, Err(Failure::NoAcceptableMethod(_))), "{e:?}");
        // Asking for a password that was not offered.
        let e = negotiate(&mut Mem::new(&[5, 2]), &proxy("socks5://p:1"), "h", 1);
        assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
    }

    #[test]
    fn every_socks5_reply_code_is_named() {
        for (rep, words) in [
            (1, "general SOCKS server failure (SOCKS5 reply 1)"),
            (2, "connection not allowed by ruleset"),
            (3, "network unreachable"),
            (4, "host unreachable"),
            (5, "connection refused (SOCKS5 reply 5)"),
            (6, "TTL expired"),
            (7, "command not supported"),
            (8, "address type not supported"),
            (9, "unassigned SOCKS5 reply code 9"),
        ] {
            let reply = [5, 0, 5, rep, 0, 1];
            let mut m = Mem::new(&reply);
            match negotiate(&mut m, &proxy("socks5://p:1"), "h", 1) {
                Err(Failure::Refused(w)) => assert!(w.contains(words), "{w}"),
                other => panic!("{rep}: {other:?}"),
            }
        }
    }

    #[test]
    fn socks4_sends_the_address_and_socks4a_the_name() {
        let reply = [0, 90, 0, 0, 0, 0, 0, 0, 0xAA];
        let mut m = Mem::new(&reply);
        negotiate(&mut m, &proxy("socks4://joe@p:1"), "127.0.0.1", 5555).unwrap();
        assert_eq!(
            m.sent,
            [4, 1, 0x15, 0xb3, 127, 0, 0, 1, b'j', b'o', b'e', 0]
        );
        assert_eq!(m.rest(), [0xAA]);
        let mut m = Mem::new(&reply);
        negotiate(&mut m, &proxy("socks4a://p:1"), "h.example", 80).unwrap();
        let mut want = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        want.extend_from_slice(b"h.example\0");
        assert_eq!(m.sent, want);
        let e = negotiate(
            &mut Mem::new(&reply),
            &proxy("socks4://p:1"),
            "h.example",
            80,
        );
        assert!(matches!(e, Err(Failure::Target(_))), "{e:?}");
        for (cd, words) in [(91, "reply 91"), (92, "identd"), (93, "different user id")] {
            let reply = [0, cd, 0, 0, 0, 0, 0, 0];
            let mut m = Mem::new(&reply);
            match negotiate(&mut m, &proxy("socks4://p:1"), "1.2.3.4", 1) {
                Err(Failure::Refused(w)) => assert!(w.contains(words), "{w}"),
                other => panic!("{cd}: {other:?}"),
            }
        }
    }

    #[test]
    fn target_names_up_to_255_bytes_and_not_one_more() {
        let name = "a".repeat(MAX_TARGET_NAME);
        let ok = [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        negotiate(&mut Mem::new(&ok), &proxy("socks5://p:1"), &name, 1).unwrap();
        let past = "a".repeat(MAX_TARGET_NAME + 1);
        let mut m = Mem::new(&ok);
        let e = negotiate(&mut m, &proxy("socks5://p:1"), &past, 1);
        assert!(matches!(e, Err(Failure::Target(_))), "{e:?}");
        assert!(
            m.sent.is_empty(),
            "nothing is sent for a name that cannot go"
        );
    }

    #[test]
    fn a_short_or_garbled_reply_is_an_error_never_a_panic() {
        let p5 = proxy("socks5://u:p@p:1");
        let p4 = proxy("socks4a://p:1");
        let full5 = [5, 2, 1, 0, 5, 0, 0, 3, 4, b'a', b'b', b'c', b'd', 0, 1];
        for cut in 0..full5.len() {
            let e = negotiate(&mut Mem::new(&full5[..cut]), &p5, "h", 1);
            assert!(matches!(e, Err(Failure::Closed)), "{cut}: {e:?}");
        }
        negotiate(&mut Mem::new(&full5), &p5, "h", 1).unwrap();
        let e = negotiate(&mut Mem::new(&[5, 0, 5, 0, 0, 9]), &p5, "h", 1);
        assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
        let e = negotiate(&mut Mem::new(&[4, 0]), &p5, "h", 1);
        assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
        let e = negotiate(&mut Mem::new(&[4, 90, 0, 0, 0, 0, 0, 0]), &p4, "h", 1);
        assert!(matches!(e, Err(Failure::Malformed(_))), "{e:?}");
    }
}
