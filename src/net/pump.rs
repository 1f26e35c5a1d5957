//! The byte pump shared by client and server.

use std::io::{self, ErrorKind, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::proto::conn::ConnectionCore;

/// How a read pass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket has no more data for now.
    WouldBlock,
    /// The receive buffer is full: drain events, then read again.
    BufferFull,
    /// The peer closed its side (end of stream was handed to the connection).
    Eof,
}

/// Reads from `sock` (a socket, or an in-memory stand-in in tests) into
/// `conn` until the socket would block, the buffer fills, or the stream ends.
///
/// # Errors
/// Socket errors other than `WouldBlock` and `Interrupted`.
pub fn read(conn: &mut ConnectionCore, sock: &mut impl Read, now: Instant) -> io::Result<ReadEnd> {
    loop {
        match conn.read_tls(sock, now) {
            Ok(0) if conn.saw_eof() => return Ok(ReadEnd::Eof),
            Ok(0) => return Ok(ReadEnd::BufferFull),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(ReadEnd::WouldBlock),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `conn`'s output to `sock` until it is all written or the socket
/// would block. Returns whether output remains.
///
/// # Errors
/// Socket errors other than `WouldBlock` and `Interrupted`.
pub fn write(conn: &mut ConnectionCore, sock: &mut impl Write, now: Instant) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(sock, now) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The interest a connection needs: always readable, writable while
/// output is pending.
pub fn interest(conn: &ConnectionCore) -> Interest {
    if conn.wants_write() {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

/// Re-registers `sock` only when the interest changed.
///
/// # Errors
/// From `Registry::reregister`.
pub fn update_interest(
    registry: &Registry,
    sock: &mut TcpStream,
    token: Token,
    current: &mut Interest,
    wanted: Interest,
) -> io::Result<()> {
    if *current != wanted {
        registry.reregister(sock, token, wanted)?;
        *current = wanted;
    }
    Ok(())
}
