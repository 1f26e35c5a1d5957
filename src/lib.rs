//! sft: secure file transfer over a hostile network.
//!
//! ```text
//!  bytes in ──► proto (sans-IO state machines) ──► bytes + events out
//!                  │ validated calls
//!                  ▼
//!               crypto (core layer: system OpenSSL)
//! ```
//!
//! Dependencies flow one way: cli → net, fs, keys → proto → crypto. Only
//! [`crypto`] names OpenSSL.
#![forbid(unsafe_code)]

mod aligned;
pub mod audit;
pub mod authorized;
pub mod crypto;
mod evidence_json;
pub mod fs;
pub mod keys;
pub mod net;
pub mod proto;
pub mod receipt;
#[cfg(test)]
mod vectors;
