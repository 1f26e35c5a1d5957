//! The mio shell: moves bytes between sockets and sans-IO
//! [`Connection`](crate::proto::conn::Connection)s and does the file work the
//! events ask for. One `Poll` drives everything; nothing blocks on a peer.
//!
//! - [`pump`]: read until `WouldBlock`, write until `WouldBlock`, interest.
//! - [`server`]: listener, admission, connection map, committer thread.
//! - [`client`]: one connection, driven the same way.

pub mod client;
pub mod pump;
pub mod server;
pub mod transfer;
