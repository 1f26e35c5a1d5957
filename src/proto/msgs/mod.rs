//! Every message of the protocol: encoding and parsing. Parsers check
//! exact lengths and limits and never allocate by an untrusted length.
//! Layouts are in docs/PROTOCOL.md.

mod end;
mod handshake;
mod listing;
mod request;
mod result;
mod resume;

pub use end::{encode_receipt, parse_receipt, End, END_LEN, RECEIPT_LEN};
pub use handshake::{
    Challenge, Established, Hello, Response, SessionParams, CHALLENGE_SIGNED_LEN, ESTABLISHED_LEN,
};
pub use listing::{
    encode_listing, parse_listing, EntryKind, ListEntry, ListingPager, PAGE_ENTRIES,
};
pub use request::{encode_list, parse_chunk, parse_list, Get, Meta, Mkdir, Offer, MAX_MODE};
pub use result::{Outcome, ResultCode, MAX_REASON_LEN, MAX_RETRY_AFTER_SECS};
pub use resume::{encode_resume, parse_resume, Prefix, EMPTY_SHA256, MAX_OFFSET};

/// Inner message types of encrypted records (the first plaintext byte).
pub mod inner {
    /// Orderly end of the session (empty body).
    pub const CLOSE: u8 = 0x01;
    /// Fatal alert (1-byte code).
    pub const ALERT: u8 = 0x02;
    /// The sender's next records use its next key (empty body; handled by
    /// the record layer).
    pub const KEY_UPDATE: u8 = crate::proto::record::KEY_UPDATE;
    /// Client authentication and key confirmation.
    pub const RESPONSE: u8 = 0x20;
    /// Server key confirmation and session parameters.
    pub const SESSION_ESTABLISHED: u8 = 0x21;
    /// Offer of a file: an upload from the client (its data follows at
    /// once), or the answer to GET.
    pub const OFFER: u8 = 0x10;
    /// Request to download a file by path.
    pub const GET: u8 = 0x11;
    /// Request to list one directory.
    pub const LIST: u8 = 0x12;
    /// File data at an offset.
    pub const CHUNK: u8 = 0x14;
    /// End of file data: the whole-file SHA-256 and the sender's signed
    /// statement, or all zero (the sender abandons the file).
    pub const END: u8 = 0x15;
    /// Outcome of a request or transfer.
    pub const RESULT: u8 = 0x16;
    /// Part of a listing.
    pub const LISTING: u8 = 0x17;
    /// Request to create a directory (or set its metadata).
    pub const MKDIR: u8 = 0x18;
    /// Where a resumed upload's data starts, and the hash of the bytes
    /// before it: the server's offer, then the client's choice.
    pub const RESUME: u8 = 0x19;
    /// The server's signed receipt for a stored upload: its answer in
    /// place of RESULT 0.
    pub const RECEIPT: u8 = 0x1A;
}

/// A name for an inner type, for error messages.
pub fn inner_name(t: u8) -> &'static str {
    match t {
        inner::CLOSE => "CLOSE",
        inner::ALERT => "ALERT",
        inner::KEY_UPDATE => "KEY_UPDATE",
        inner::RESPONSE => "RESPONSE",
        inner::SESSION_ESTABLISHED => "SESSION_ESTABLISHED",
        inner::OFFER => "OFFER",
        inner::GET => "GET",
        inner::LIST => "LIST",
        inner::CHUNK => "CHUNK",
        inner::END => "END",
        inner::RESULT => "RESULT",
        inner::LISTING => "LISTING",
        inner::MKDIR => "MKDIR",
        inner::RESUME => "RESUME",
        inner::RECEIPT => "RECEIPT",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    //! Message limits at their value and one past.

    use super::*;
    use crate::proto::codec::Writer;
    use crate::proto::ProtoError;

    fn result_body(code: u8, wait: u16, reason: &[u8]) -> Vec<u8> {
        let mut v = vec![code];
        v.put_u16(wait);
        v.put_u16(reason.len() as u16);
        v.extend_from_slice(reason);
        v
    }

    #[test]
    fn reason_of_max_len_round_trips_and_a_longer_one_is_cut_at_a_char_boundary() {
        let at = Outcome::new(ResultCode::NotFound, "r".repeat(MAX_REASON_LEN));
        assert_eq!(Outcome::parse(&at.encode()).unwrap(), at);

        let over = Outcome::new(ResultCode::NotFound, "r".repeat(MAX_REASON_LEN + 1));
        assert_eq!(over.encode().len(), 5 + MAX_REASON_LEN);
        assert_eq!(Outcome::parse(&over.encode()).unwrap(), at);

        // "é" is 2 bytes: byte 255 would split the 128th, so 254 are sent.
        // Fails on an encoder that cuts at 255 regardless (invalid UTF-8,
        // refused by the peer) or panics slicing mid-character.
        let wide = Outcome::new(ResultCode::IoError, "é".repeat(128));
        let parsed = Outcome::parse(&wide.encode()).unwrap();
        assert_eq!(parsed.reason, "é".repeat(127));
        // A 4-byte character straddling the limit.
        let emoji = Outcome::new(ResultCode::IoError, format!("{}🦀", "x".repeat(253)));
        assert_eq!(
            Outcome::parse(&emoji.encode()).unwrap().reason,
            "x".repeat(253)
        );
    }

    #[test]
    fn reason_over_max_len_or_not_utf8_is_malformed() {
        let code = ResultCode::NotFound as u8;
        assert!(Outcome::parse(&result_body(code, 0, &[b'r'; MAX_REASON_LEN])).is_ok());
        assert!(matches!(
            Outcome::parse(&result_body(code, 0, &[b'r'; MAX_REASON_LEN + 1])),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
        assert!(matches!(
            Outcome::parse(&result_body(code, 0, b"\xff")),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
        let mut trailing = result_body(code, 0, b"ok");
        trailing.push(0);
        assert!(matches!(
            Outcome::parse(&trailing),
            Err(ProtoError::MalformedMessage("RESULT"))
        ));
    }

    #[test]
    fn retry_after_bounds() {
        let limited = ResultCode::RateLimited as u8;
        for ok in [1, 60, MAX_RETRY_AFTER_SECS] {
            let o = Outcome::parse(&result_body(limited, ok, b"")).unwrap();
            assert_eq!((o.code, o.retry_after_secs), (ResultCode::RateLimited, ok));
        }
        for bad in [0, MAX_RETRY_AFTER_SECS + 1, u16::MAX] {
            assert!(
                matches!(
                    Outcome::parse(&result_body(limited, bad, b"")),
                    Err(ProtoError::MalformedMessage("RESULT"))
                ),
                "{bad}"
            );
        }
        for code in [0u8, 1, 2, 3, 4, 5, 6, 7] {
            assert!(Outcome::parse(&result_body(code, 0, b"")).is_ok());
            for bad in [1, MAX_RETRY_AFTER_SECS] {
                assert!(
                    matches!(
                        Outcome::parse(&result_body(code, bad, b"")),
                        Err(ProtoError::MalformedMessage("RESULT"))
                    ),
                    "code {code} wait {bad}"
                );
            }
        }
        // Code 9 (Unsupported in version 1) is gone.
        assert!(Outcome::parse(&result_body(9, 0, b"")).is_err());
        // The constructor keeps a wait in range.
        assert_eq!(Outcome::rate_limited(0, "").retry_after_secs, 1);
        assert_eq!(
            Outcome::rate_limited(3601, "").retry_after_secs,
            MAX_RETRY_AFTER_SECS
        );
        assert_eq!(
            Outcome::rate_limited(u64::MAX, "").retry_after_secs,
            MAX_RETRY_AFTER_SECS
        );
        let o = Outcome::rate_limited(3600, "wait");
        assert_eq!(Outcome::parse(&o.encode()).unwrap(), o);
    }

    #[test]
    fn listing_count_is_checked_before_entries_are_parsed() {
        let mut out = Vec::new();
        // Count 2 with room for one: refused from the count, though the
        // body carries no entry at all.
        assert!(matches!(
            parse_listing(&[0, 0, 2], &mut out, 1),
            Err(ProtoError::ListingTooLong { max: 1 })
        ));
        assert!(out.is_empty());
        // With room, the missing entries make it malformed.
        assert!(matches!(
            parse_listing(&[0, 0, 2], &mut out, 2),
            Err(ProtoError::MalformedMessage("LISTING"))
        ));
        let (bodies, n) = encode_listing(&[ListEntry {
            kind: EntryKind::Dir,
            name: "a".into(),
            size: 1,
            mtime: -1,
            mode: 0o755,
        }]);
        assert_eq!((bodies.len(), n), (1, 1));
        let mut out = Vec::new();
        assert!(!parse_listing(&bodies[0], &mut out, 1).unwrap());
        assert_eq!(out[0].mtime, -1);
        assert_eq!((out[0].kind, out[0].mode), (EntryKind::Dir, 0o755));
        // A kind other than 0 or 1 is malformed.
        let mut bad = bodies[0].clone();
        bad[3] = 2;
        assert!(matches!(
            parse_listing(&bad, &mut Vec::new(), 1),
            Err(ProtoError::MalformedMessage("LISTING"))
        ));
        assert!(matches!(
            parse_listing(&bodies[0], &mut out, 1),
            Err(ProtoError::ListingTooLong { max: 1 })
        ));
    }
}
