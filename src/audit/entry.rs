//! One line of the audit log: its fields as written and as read back
//! (docs/AUDIT.md gives the format).
//!
//! Every line is a JSON object with `seq` (1, 2, …), `prev` (hex of the
//! SHA-256 of the previous line's bytes without its newline; 64 zeros for
//! entry 1), `kind` and `time` (the server's clock, Unix seconds).

use serde_json::{json, Map, Value};

use crate::crypto::ed25519::{Signature, VerifyingKey};
use crate::evidence_json::{put_signed, Fields};
use crate::proto::evidence::{Direction, Receipt, Signed, Stored};

/// Context of a head's signature: the host key signs
/// `context || seq u64 || time u64 || prev (32)`, big-endian.
pub const AUDIT_HEAD_CONTEXT: &[u8] = b"sft/5 audit head\0";

/// Longest line a reader takes, in bytes (64 KiB): an entry with the
/// longest path, every character escaped, is well under it.
pub const MAX_LINE: usize = 64 * 1024;

/// What the server appends.
#[derive(Debug)]
pub enum Entry {
    /// A stored upload: the client's verified statement (its receipt is
    /// signed as it is appended).
    Upload(Signed),
    /// A served download: the server's own signed statement.
    Download(Signed),
    /// A refused request of an authenticated client.
    Refusal(Refusal),
}

/// A refused request of an authenticated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub client: VerifyingKey,
    /// "upload", "mkdir", "download" or "list".
    pub request: String,
    pub path: String,
    /// The RESULT code it was refused with (PROTOCOL.md §4.2).
    pub code: u8,
    pub reason: String,
}

/// One line read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub seq: u64,
    pub prev: [u8; 32],
    pub time: u64,
    pub body: Body,
}

/// What a line records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// The upload's receipt: `time` is its commit time, `seq` its
    /// audit_seq.
    Upload {
        signed: Signed,
        receipt: Signature,
    },
    Download(Signed),
    Refusal(Refusal),
    /// The host key's signature over the chain up to here.
    Head(Signature),
}

/// The bytes a head at `seq` signs.
pub fn head_signed_bytes(seq: u64, time: u64, prev: &[u8; 32]) -> Vec<u8> {
    let mut out = AUDIT_HEAD_CONTEXT.to_vec();
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(prev);
    out
}

impl Line {
    /// The line's JSON text (no newline).
    pub fn encode(&self) -> String {
        let mut m = Map::new();
        m.insert("seq".into(), json!(self.seq));
        m.insert("prev".into(), json!(hex::encode(self.prev)));
        let kind = match &self.body {
            Body::Upload { .. } => "upload",
            Body::Download(_) => "download",
            Body::Refusal(_) => "refusal",
            Body::Head(_) => "head",
        };
        m.insert("kind".into(), json!(kind));
        m.insert("time".into(), json!(self.time));
        match &self.body {
            Body::Upload { signed, receipt } => {
                put_signed(&mut m, signed);
                m.insert("receipt_sig".into(), json!(hex::encode(receipt.as_bytes())));
            }
            Body::Download(signed) => put_signed(&mut m, signed),
            Body::Refusal(r) => {
                m.insert("client".into(), json!(hex::encode(r.client.as_bytes())));
                m.insert("request".into(), json!(r.request));
                m.insert("path".into(), json!(r.path));
                m.insert("code".into(), json!(r.code));
                m.insert("reason".into(), json!(r.reason));
            }
            Body::Head(sig) => {
                m.insert("sig".into(), json!(hex::encode(sig.as_bytes())));
            }
        }
        Value::Object(m).to_string()
    }

    /// Parses one line (without its newline).
    ///
    /// # Errors
    /// What is wrong with it: not JSON, a field missing or of the wrong
    /// form, an unknown kind.
    pub fn parse(text: &str) -> Result<Line, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let f = Fields(&v);
        let seq = f.u64("seq")?;
        let prev = f.bytes32("prev")?;
        let time = f.u64("time")?;
        let body = match f.str("kind")? {
            "upload" => Body::Upload {
                signed: f.signed(Direction::Upload)?,
                receipt: f.signature("receipt_sig")?,
            },
            "download" => Body::Download(f.signed(Direction::Download)?),
            "refusal" => Body::Refusal(Refusal {
                client: f.key("client")?,
                request: f.str("request")?.to_string(),
                path: f.str("path")?.to_string(),
                code: u8::try_from(f.u64("code")?).map_err(|_| "code is not a byte")?,
                reason: f.str("reason")?.to_string(),
            }),
            "head" => Body::Head(f.signature("sig")?),
            other => return Err(format!("unknown kind {other:?}")),
        };
        Ok(Line {
            seq,
            prev,
            time,
            body,
        })
    }

    /// The upload's receipt this line holds, checked or not.
    pub fn receipt(&self) -> Option<(Signed, Stored, Signature)> {
        match &self.body {
            Body::Upload { signed, receipt } => Some((
                signed.clone(),
                Stored {
                    commit_time: self.time,
                    audit_seq: self.seq,
                },
                *receipt,
            )),
            _ => None,
        }
    }
}

/// The line of an upload's receipt.
pub(super) fn upload_line(prev: [u8; 32], receipt: &Receipt) -> Line {
    Line {
        seq: receipt.stored.audit_seq,
        prev,
        time: receipt.stored.commit_time,
        body: Body::Upload {
            signed: receipt.signed.clone(),
            receipt: receipt.signature,
        },
    }
}
