//! The JSON form of signed evidence, shared by client receipt files
//! (docs/RECEIPTS.md) and the server's audit log (docs/AUDIT.md): a
//! statement's fields (`client`, `server`, `transcript_hash`, `path`,
//! `size`, `sha256`, `stated_time`, `statement_sig`) written and read.
//! Keys, hashes and signatures are lowercase hex.

use std::io::{self, BufRead, Read};

use serde_json::{json, Map, Value};

use crate::crypto::ed25519::{Signature, VerifyingKey};
use crate::proto::evidence::{Direction, Signed, Statement};

/// Writes a signed statement's fields into `m`.
pub(crate) fn put_signed(m: &mut Map<String, Value>, signed: &Signed) {
    let s = &signed.statement;
    m.insert("client".into(), json!(hex::encode(s.client.as_bytes())));
    m.insert("server".into(), json!(hex::encode(s.server.as_bytes())));
    m.insert(
        "transcript_hash".into(),
        json!(hex::encode(s.transcript_hash)),
    );
    m.insert("path".into(), json!(s.path));
    m.insert("size".into(), json!(s.size));
    m.insert("sha256".into(), json!(hex::encode(s.sha256)));
    m.insert("stated_time".into(), json!(s.time));
    m.insert(
        "statement_sig".into(),
        json!(hex::encode(signed.signature.as_bytes())),
    );
}

/// Typed reads of a JSON object's fields, each error naming the field.
pub(crate) struct Fields<'a>(pub &'a Value);

impl Fields<'_> {
    pub(crate) fn get(&self, name: &str) -> Result<&Value, String> {
        self.0.get(name).ok_or_else(|| format!("no {name:?} field"))
    }

    pub(crate) fn u64(&self, name: &str) -> Result<u64, String> {
        self.get(name)?
            .as_u64()
            .ok_or_else(|| format!("{name} is not a whole number"))
    }

    pub(crate) fn str(&self, name: &str) -> Result<&str, String> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| format!("{name} is not a string"))
    }

    pub(crate) fn hex<const N: usize>(&self, name: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        hex::decode_to_slice(self.str(name)?, &mut out)
            .map_err(|_| format!("{name} is not {N} bytes of hex"))?;
        Ok(out)
    }

    pub(crate) fn bytes32(&self, name: &str) -> Result<[u8; 32], String> {
        self.hex::<32>(name)
    }

    pub(crate) fn key(&self, name: &str) -> Result<VerifyingKey, String> {
        VerifyingKey::from_bytes(&self.bytes32(name)?)
            .map_err(|_| format!("{name} is not an Ed25519 public key"))
    }

    pub(crate) fn signature(&self, name: &str) -> Result<Signature, String> {
        Signature::from_bytes(&self.hex::<64>(name)?).map_err(|e| format!("{name}: {e}"))
    }

    pub(crate) fn signed(&self, direction: Direction) -> Result<Signed, String> {
        let statement = Statement {
            direction,
            client: self.key("client")?,
            server: self.key("server")?,
            transcript_hash: self.bytes32("transcript_hash")?,
            path: self.str("path")?.to_string(),
            size: self.u64("size")?,
            sha256: self.bytes32("sha256")?,
            time: self.u64("stated_time")?,
        };
        Ok(Signed {
            statement,
            signature: self.signature("statement_sig")?,
        })
    }
}

/// Drops the rest of the current line, its newline included, without
/// keeping it.
fn skip_past_newline(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(at) = buf.iter().position(|&b| b == b'\n') {
            input.consume(at + 1);
            return Ok(());
        }
        let n = buf.len();
        input.consume(n);
    }
}

/// How [`read_bounded_line`] treats a bad line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRule {
    /// The first bad line ends the reading (the audit log: its first
    /// failure ends the check): a last line without its newline is an
    /// error, and nothing past an overlong line's first `max` + 1 bytes is
    /// read.
    Strict,
    /// Every line counts on its own (receipts): a last line without its
    /// newline is read, and the rest of an overlong line is skipped so the
    /// next one can be read.
    EachLine,
}

/// Reads the next line of a JSON-lines file, without its newline, keeping
/// at most `max` + 1 bytes of it: `Err` (what is wrong, to report) for a
/// line longer than `max`, or under [`LineRule::Strict`] for a last line
/// without a newline; `None` at the end.
///
/// # Errors
/// A read error.
pub(crate) fn read_bounded_line(
    input: &mut impl BufRead,
    max: usize,
    rule: LineRule,
) -> io::Result<Option<Result<Vec<u8>, String>>> {
    let mut buf = Vec::new();
    input
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > max {
        if rule == LineRule::EachLine {
            skip_past_newline(input)?;
        }
        return Ok(Some(Err(format!("longer than {} KiB", max / 1024))));
    } else if rule == LineRule::Strict {
        return Ok(Some(Err(
            "cut short (no newline): the file was cut, or its writer stopped while writing".into(),
        )));
    }
    Ok(Some(Ok(buf)))
}
