//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run a
//! pipelined batch, report each file and the whole.

mod busy;
mod connect;
mod exit;
mod get;
mod interrupts;
mod listing_format;
mod ls;
mod observe;
mod progress;
mod put;
mod tally;
mod tree;

pub use get::{get, GetArgs};
pub use ls::{ls, LsArgs};
pub use put::{put, PutArgs};

/// Default server port.
pub const DEFAULT_PORT: u16 = 5555;
