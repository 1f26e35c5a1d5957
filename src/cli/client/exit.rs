//! Exit codes and hints for session failures, mapped exhaustively.

use sft::crypto::CryptoError;
use sft::net::client::ClientError;
use sft::net::proxy::{Failure, ProxyError};
use sft::proto::{AlertCode, ProtoError};

use crate::cli::error::{CliError, Exit};

/// The exit code of a protocol failure. Exhaustive: a new error or alert
/// is a compile error here until someone decides what scripts see.
pub(super) fn proto_exit(p: &ProtoError) -> Exit {
    match p {
        ProtoError::PeerAlert(code) => match code {
            AlertCode::Unauthorized => Exit::ClientRefused,
            AlertCode::Timeout
            | AlertCode::Busy
            | AlertCode::ShuttingDown
            | AlertCode::Internal
            | AlertCode::UnsupportedVersion => Exit::Connection,
            AlertCode::BadRecord | AlertCode::ProtocolError | AlertCode::HandshakeFailed => {
                Exit::Protocol
            }
        },
        ProtoError::HandshakeTimeout
        | ProtoError::IdleTimeout
        | ProtoError::Truncated
        | ProtoError::Closed
        | ProtoError::ShuttingDown
        | ProtoError::Busy
        | ProtoError::UnsupportedVersion { .. } => Exit::Connection,
        ProtoError::ServerKeyMismatch { .. } => Exit::ServerUntrusted,
        ProtoError::ClientNotAuthorized(_) => Exit::ClientRefused,
        // The client's own memory guard: nothing was tampered with.
        ProtoError::ListingTooLong { .. } => Exit::FileFailed,
        // The client's own signer (ssh-agent) failed: nothing on the wire.
        ProtoError::Crypto(CryptoError::Signer(_)) => Exit::Usage,
        ProtoError::MalformedRecord(_)
        | ProtoError::RecordTooLarge { .. }
        | ProtoError::OutOfSequence { .. }
        | ProtoError::BadRecord
        | ProtoError::MalformedMessage(_)
        | ProtoError::UnexpectedMessage { .. }
        | ProtoError::NonContributory
        | ProtoError::BadSignature(_)
        | ProtoError::BadFinished(_)
        | ProtoError::KeyLimit
        | ProtoError::Transfer(_)
        | ProtoError::Name(_)
        | ProtoError::InvalidCall(_)
        | ProtoError::Crypto(_) => Exit::Protocol,
    }
}

/// Maps a session failure to its exit code and hint. Exhaustive.
pub(super) fn session_error(e: ClientError) -> CliError {
    let code = match &e {
        ClientError::Connect { .. }
        | ClientError::Proxy(_)
        | ClientError::Socket(_)
        | ClientError::ServerClosed => Exit::Connection,
        ClientError::Proto(p) => proto_exit(p),
        ClientError::Untrusted(_) => Exit::ServerUntrusted,
        ClientError::Local(_) | ClientError::Read { .. } => Exit::FileFailed,
        ClientError::Interrupted => Exit::Interrupted,
    };
    let err = CliError::new(code, e.to_string());
    match (&e, code) {
        (ClientError::Connect { .. }, _) => {
            err.hint("is `sft serve` running there, and is the port right (default 5555)?")
        }
        (ClientError::Proxy(p), _) => err.hint(proxy_hint(p)),
        (
            ClientError::Proto(ProtoError::PeerAlert(AlertCode::Busy | AlertCode::ShuttingDown)),
            _,
        ) => err.hint("try again later"),
        (_, Exit::Protocol) => err.hint(
            "the connection was tampered with or the server is faulty; nothing unverified was kept",
        ),
        _ => err,
    }
}

const CREDENTIALS: &str =
    "check the user:password@ in the proxy URL (percent-encode @ : / in them)";

/// What to do about a proxy that opened no tunnel.
fn proxy_hint(e: &ProxyError) -> &'static str {
    match e {
        ProxyError::Unreachable { .. } => {
            "is the proxy running, and is its address right? --proxy none connects directly"
        }
        ProxyError::Failed {
            why: Failure::AuthRejected | Failure::NoAcceptableMethod(_) | Failure::AuthRequired(_),
            ..
        } => CREDENTIALS,
        ProxyError::Failed {
            why: Failure::Refused(_),
            ..
        } => "the proxy could not or would not reach the server: is `sft serve` running there, and may the proxy connect to it?",
        ProxyError::Resolve { .. } | ProxyError::Failed { .. } => {
            "check the proxy setting (--proxy, the config's Proxy, ALL_PROXY, HTTPS_PROXY); --proxy none connects directly"
        }
    }
}

/// A session failure in the middle of a multi-file command: name the file
/// and count what was left undone.
pub(super) fn aborted(e: ClientError, name: &str, left: usize) -> CliError {
    session_error(e)
        .context(name)
        .outcome(format!("{left} file(s) not transferred"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sft::proto::conn::MAX_LISTING_ENTRIES;
    use sft::proto::TransferError;

    /// A listing past the client's own limit is a local failure (exit 1)
    /// that says so, with no hint of tampering; a broken transfer rule
    /// still is a protocol violation (exit 6) with that hint.
    #[test]
    fn a_listing_past_the_clients_limit_is_exit_1_without_a_tampering_hint() {
        let too_long = ProtoError::ListingTooLong {
            max: MAX_LISTING_ENTRIES,
        };
        let e = session_error(ClientError::Proto(too_long));
        assert_eq!(e.exit(), Exit::FileFailed);
        let words = format!("{e:?}");
        assert!(words.contains("more than 10,000,000 entries, this client's limit"));
        assert!(words.contains("hint: None"), "{words}");

        let broken = ProtoError::Transfer(TransferError::ChunkOffset);
        let e = session_error(ClientError::Proto(broken));
        assert_eq!(e.exit(), Exit::Protocol);
        assert!(format!("{e:?}").contains("tampered"));
    }
}
