//! The two endpoints of an sft session, sans-IO: [`ClientConnection`] and
//! [`ServerConnection`], each with its own event enum, over a shared
//! [`ConnectionCore`] (buffers, record layer, timers, sticky error, alert,
//! close). The driver moves bytes with `read_tls` and `write_tls`, pulls
//! events with `next_event`, calls the role's request methods, and sleeps
//! until `poll_timeout`.
//!
//! Errors are sticky: after the first fatal error the connection queues one
//! alert (when keys exist), and every later call returns the same error.
//! Once a side has sent or received CLOSE, the calls that would send a
//! request, an answer or file data return `Closed` and send nothing, and
//! nothing is sent on its own either (an END that cuts a refused upload, or
//! a RESULT for a refused name or a corrupt file, for a message that
//! crossed the CLOSE). A server that sent CLOSE reads on to the client's,
//! whatever it was waiting for, and drops the messages that crossed its
//! own: nothing can answer them.

mod client;
mod core;
mod recv;
mod server;

pub use self::core::{busy_record, ConnectionCore, SEND_HIGH_WATER};
pub use client::{ClientConnection, ClientEvent, MAX_LISTING_ENTRIES};
pub use recv::{HANDSHAKE_RECV_BUFFER_LEN, RECV_BUFFER_LEN};
pub use server::{ListingStep, ServerConnection, ServerEvent, Ticket};

use super::name;
use super::ProtoError;

/// Checks a path this side is about to send: it must pass the path rule.
fn own_path(path: &str) -> Result<(), ProtoError> {
    name::sanitize_path(path.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests;
