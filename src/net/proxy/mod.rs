//! Reaching the server through a proxy: SOCKS4 and SOCKS4a, SOCKS5
//! (RFC 1928, RFC 1929) and HTTP CONNECT (RFC 9110 §9.3.6, RFC 7617).
//!
//! [`Proxy::parse`] checks a proxy URL whole before anything is sent;
//! [`open`] connects to the proxy and asks it for a tunnel to the server,
//! on a blocking socket, all within the connect timeout. The tunnel is
//! then an ordinary TCP stream for the session: sft's own handshake
//! authenticates the server end to end, so a proxy sees only ciphertext.
//!
//! Where the server's name is resolved: SOCKS5, SOCKS4a and HTTP send the
//! name, the proxy resolves it; SOCKS4 carries only an IPv4 address, so
//! the name is resolved here.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

mod env;
mod http;
mod socks;
mod url;

pub use env::{bypassed, from_env, ENV_VARS, NO_PROXY_VARS};
pub use http::{MAX_HTTP_HEAD, MAX_SHOWN_STATUS};
pub use socks::MAX_TARGET_NAME;
pub use url::{Credentials, Proxy, Scheme, UrlError, MAX_CREDENTIAL_LEN, MAX_URL_LEN};

/// How talking to the proxy failed, once connected to it.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A socket error while negotiating.
    #[error("failed while negotiating: {0}")]
    Io(#[source] io::Error),
    /// The connect timeout ran out before the proxy's reply was complete.
    #[error("did not answer in time")]
    TimedOut,
    /// The proxy closed the connection in the middle of its reply.
    #[error("closed the connection before its reply was complete")]
    Closed,
    /// The reply breaks the protocol.
    #[error("sent a malformed reply: {0}")]
    Malformed(&'static str),
    /// SOCKS5: the proxy accepts none of the methods offered.
    #[error("accepts none of the authentication methods offered ({0})")]
    NoAcceptableMethod(&'static str),
    /// SOCKS5: the user name and password were refused (RFC 1929).
    #[error("rejected the user name and password")]
    AuthRejected,
    /// HTTP: 407 Proxy Authentication Required (RFC 9110 §15.5.8); the
    /// status line.
    #[error("refused CONNECT: {0}")]
    AuthRequired(String),
    /// The proxy refused to open the tunnel: "refused" and its words.
    #[error("{0}")]
    Refused(String),
    /// The server's address cannot be put in this proxy's request.
    #[error("cannot carry the server's address: {0}")]
    Target(&'static str),
}

/// Why no tunnel was opened, naming the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No TCP connection to the proxy.
    #[error("cannot connect to the proxy {proxy}: {source}")]
    Unreachable { proxy: String, source: io::Error },
    /// SOCKS4: the server's name has no IPv4 address here.
    #[error("no IPv4 address for {host} to give the SOCKS4 proxy {proxy}: {why}")]
    Resolve {
        proxy: String,
        host: String,
        why: String,
    },
    /// The proxy answered, but no tunnel.
    #[error("the proxy {proxy}, asked for {target}, {why}")]
    Failed {
        proxy: String,
        target: String,
        why: Failure,
    },
}

/// Connects to `proxy` and asks it for a tunnel to `host`:`port`, all
/// within `timeout` (the TCP connection to the proxy and its every
/// reply). Returns the blocking stream, positioned at the first byte of
/// the tunnel.
///
/// # Errors
/// [`ProxyError`] naming the proxy: unreachable, or what it answered.
pub fn open(
    proxy: &Proxy,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ProxyError> {
    let deadline = Instant::now() + timeout;
    let name = proxy.to_string();
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let host = match proxy.scheme {
        Scheme::Socks4 => socks4_address(host, port).map_err(|why| ProxyError::Resolve {
            proxy: name.clone(),
            host: host.to_string(),
            why,
        })?,
        _ => host.to_string(),
    };
    let unreachable = |source| ProxyError::Unreachable {
        proxy: name.clone(),
        source,
    };
    let sock = dial(&proxy.host, proxy.port, deadline).map_err(unreachable)?;
    let failed = |why| ProxyError::Failed {
        proxy: name.clone(),
        target: target.clone(),
        why,
    };
    let mut timed = Timed {
        sock: &sock,
        deadline,
    };
    negotiate(&mut timed, proxy, &host, port).map_err(failed)?;
    let clear = sock
        .set_read_timeout(None)
        .and_then(|()| sock.set_write_timeout(None));
    clear.map_err(|e| failed(Failure::Io(e)))?;
    Ok(sock)
}

/// Asks for a tunnel to `host`:`port` on `s`, a stream already connected
/// to the proxy, and reads the proxy's reply to its exact end: the next
/// byte `s` yields is the tunnel's.
///
/// # Errors
/// [`Failure`]; never a panic, whatever the proxy sends.
pub fn negotiate<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Failure> {
    match proxy.scheme {
        Scheme::Socks4 => socks::socks4(s, proxy, host, port, false),
        Scheme::Socks4a => socks::socks4(s, proxy, host, port, true),
        Scheme::Socks5 => socks::socks5(s, proxy, host, port),
        Scheme::Http => http::connect(s, proxy, host, port),
    }
}

/// `read_exact` that names a cut reply and a timeout.
fn read_exact<S: Read>(s: &mut S, buf: &mut [u8]) -> Result<(), Failure> {
    s.read_exact(buf).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => Failure::Closed,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::TimedOut,
        _ => Failure::Io(e),
    })
}

/// The IPv4 address SOCKS4 carries for `host`: itself if it is one, else
/// resolved here; never an IPv6 address, which SOCKS4 cannot carry.
fn socks4_address(host: &str, port: u16) -> Result<String, String> {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => return Ok(ip.to_string()),
        Ok(IpAddr::V6(_)) => return Err(NO_IPV4.into()),
        Err(_) => {}
    }
    let addrs = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
    addrs
        .filter_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4.ip().to_string()),
            SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| NO_IPV4.into())
}

const NO_IPV4: &str = "SOCKS4 carries only IPv4 addresses (use socks4a:// or socks5://)";

/// Connects to the proxy, trying each of its addresses, by `deadline`.
fn dial(host: &str, port: u16, deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "the name has no address");
    for addr in (host, port).to_socket_addrs()? {
        let left = left(deadline)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The time left until `deadline`, or `TimedOut` when none is.
fn left(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(ErrorKind::TimedOut.into()),
    }
}

/// A blocking socket whose every read and write ends by one deadline.
struct Timed<'a> {
    sock: &'a TcpStream,
    deadline: Instant,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.set_read_timeout(Some(left(self.deadline)?))?;
        self.sock.read(buf)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.set_write_timeout(Some(left(self.deadline)?))?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{self, Read, Write};

    /// An in-memory proxy: replies from a script, records what is sent.
    pub struct Mem<'a> {
        input: &'a [u8],
        pub sent: Vec<u8>,
    }

    impl<'a> Mem<'a> {
        pub fn new(input: &'a [u8]) -> Self {
            Mem {
                input,
                sent: Vec::new(),
            }
        }

        /// What the negotiation left unread.
        pub fn rest(&self) -> &[u8] {
            self.input
        }
    }

    impl Read for Mem<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Mem<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.sent.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_unreachable_proxy_is_named_and_the_timeout_holds() {
        // A port nothing listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = super::Proxy::parse(&format!("socks5://u:secret@127.0.0.1:{port}")).unwrap();
        let e = super::open(&p, "h", 1, std::time::Duration::from_secs(5)).unwrap_err();
        let words = e.to_string();
        assert!(matches!(e, super::ProxyError::Unreachable { .. }), "{e:?}");
        assert!(
            words.contains(&format!("socks5://u@127.0.0.1:{port}")),
            "{words}"
        );
        assert!(!words.contains("secret"), "{words}");
    }

    #[test]
    fn socks4_is_refused_an_ipv6_server_before_the_proxy_is_contacted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("socks4://{}", listener.local_addr().unwrap());
        let p = super::Proxy::parse(&url).unwrap();
        let e = super::open(&p, "::1", 5555, std::time::Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, super::ProxyError::Resolve { .. }), "{e:?}");
        assert!(e.to_string().contains("only IPv4"), "{e}");
        // Nothing connected: the listener has no connection to accept.
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn a_proxy_that_never_answers_is_given_up_on_at_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let p = super::Proxy::parse(&url).unwrap();
        // Accepted by the kernel, never read or answered.
        let e = super::open(&p, "h", 1, std::time::Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(
                &e,
                super::ProxyError::Failed {
                    why: super::Failure::TimedOut,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().ends_with("did not answer in time"), "{e}");
        drop(listener);
    }
}
