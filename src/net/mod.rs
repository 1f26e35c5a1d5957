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

pub mod client;
pub mod pump;
pub mod server;
pub mod transfer;
