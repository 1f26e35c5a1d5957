//! `net::proxy::negotiate` against arbitrary proxy replies: the first
//! byte picks the protocol (SOCKS4, SOCKS4a, SOCKS5 with and without
//! credentials, HTTP CONNECT with and without), the rest is what the proxy
//! sends. It must never panic, and on success it must have read exactly
//! one whole reply, as an independent model of RFC 1928/1929, SOCKS4 and
//! RFC 9110 §9.3.6 measures it: never a byte of the tunnel after it.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use sft::net::proxy::{negotiate, Proxy, MAX_HTTP_HEAD};

/// The proxy's side: replies from the input, requests dropped.
struct Mem<'a> {
    input: &'a [u8],
}

impl Read for Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Mem<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const URLS: [&str; 6] = [
    "socks4://user@p:1",
    "socks4a://p:1",
    "socks5://p:1",
    "socks5://user:pass@p:1",
    "http://p:1",
    "http://user:pass@p:1",
];

/// The length of one whole successful SOCKS5 reply sequence at the start
/// of `r`, if there is one.
fn socks5_len(r: &[u8]) -> Option<usize> {
    let auth = match r.get(1)? {
        0 => 0,
        2 => 2,
        _ => return None,
    };
    let head = 2 + auth;
    let addr = match r.get(head + 3)? {
        1 => 4,
        4 => 16,
        3 => 1 + usize::from(*r.get(head + 4)?),
        _ => return None,
    };
    Some(head + 4 + addr + 2)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, reply)) = data.split_first() else {
        return;
    };
    let url = URLS[usize::from(pick) % URLS.len()];
    let proxy = Proxy::parse(url).expect("a valid URL");
    let host = if pick & 0x80 == 0 { "10.0.0.1" } else { "files.example" };
    let mut mem = Mem { input: reply };
    let result = negotiate(&mut mem, &proxy, host, 5555);
    let used = reply.len() - mem.input.len();
    let Ok(()) = result else {
        return;
    };
    let got = &reply[..used];
    if url.starts_with("socks4") {
        assert_eq!(used, 8);
        assert_eq!(&got[..2], [0, 90]);
    } else if url.starts_with("socks5") {
        assert_eq!(Some(used), socks5_len(reply), "{got:02x?}");
        assert_eq!(got[0], 5);
    } else {
        assert!(used <= MAX_HTTP_HEAD);
        let end = |h: &[u8]| h.ends_with(b"\n\r\n") || h.ends_with(b"\n\n");
        assert!(end(got), "the head ends with its blank line");
        assert!(!(1..used).any(|i| end(&got[..i])), "and at the first one");
        assert!(got.starts_with(b"HTTP/1.") && got.get(9) == Some(&b'2'), "{got:02x?}");
    }
});
