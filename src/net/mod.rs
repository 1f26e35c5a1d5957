//! The mio shell: moves bytes between sockets and the sans-IO
//! [`ClientConnection`](crate::proto::conn::ClientConnection) and
//! [`ServerConnection`](crate::proto::conn::ServerConnection), and does the
//! file work their events ask for. One `Poll` per side drives everything;
//! nothing blocks on a peer.
//!
//! - [`pump`]: read until `WouldBlock`, write until `WouldBlock`, interest.
//! - [`transfer`]: the file driver both roles use: a source feeding a
//!   sender, a receiver filling a staged file.
//! - [`server`]: listener, admission, turns, requests, committer, closing.
//! - [`client`]: one session, driven the same way.
//! - [`proxy`]: the tunnel to the server through a SOCKS or HTTP proxy.

pub mod client;
pub mod proxy;
pub mod pump;
pub mod server;
pub mod transfer;

/// This host's clock in whole seconds since the Unix epoch (0 before it):
/// the time signed statements, receipts and audit entries carry.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
