//! Checks an audit log offline with only the host's public key: every
//! line's number, its link to the line before, every statement, receipt
//! and head signature, and that a signed head covers the last entry. The
//! first failure is reported with the entry to blame.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::entry::{head_signed_bytes, Body, Line, MAX_LINE};
use crate::crypto::ct;
use crate::crypto::ed25519::VerifyingKey;
use crate::crypto::hash::sha256;
use crate::evidence_json::{read_bounded_line, LineRule};
use crate::proto::evidence::Receipt;

/// What a check of the whole log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Lines read and checked (all of them when nothing failed).
    pub entries: u64,
    pub uploads: u64,
    pub downloads: u64,
    pub refusals: u64,
    pub heads: u64,
    /// The number of the last entry a verified head covers (0: none).
    pub signed_through: u64,
    /// The first failure, if any.
    pub first_error: Option<Failure>,
}

/// The first entry that does not verify, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// Its line in the file (1 is the first).
    pub line: u64,
    /// The entry's number there: the one expected at that line.
    pub seq: u64,
    pub what: String,
}

/// Checks the log at `path` against `host` (the server's key).
///
/// # Errors
/// Only when the file cannot be opened or read: anything wrong in it is
/// the report's `first_error`.
pub fn verify(path: &Path, host: &VerifyingKey) -> io::Result<Report> {
    verify_reader(BufReader::new(File::open(path)?), host)
}

/// [`verify`] over any reader of the log's bytes.
///
/// # Errors
/// As [`verify`].
pub fn verify_reader(mut input: impl BufRead, host: &VerifyingKey) -> io::Result<Report> {
    let mut r = Report::default();
    // Chain hashes of the last two lines (zeros before the first).
    let (mut h1, mut h2) = ([0u8; 32], [0u8; 32]);
    let mut next = read_line(&mut input)?;
    let mut n = 0u64;
    while let Some(text) = next.take() {
        n += 1;
        let text = match text {
            Ok(t) => t,
            Err(what) => return Ok(failed(r, fail_at(n, what))),
        };
        let line = match std::str::from_utf8(&text)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(Line::parse)
        {
            Ok(line) => line,
            Err(e) => return Ok(failed(r, fail_at(n, format!("not an audit entry: {e}")))),
        };
        next = read_line(&mut input)?;
        let own = sha256(&text).map_err(io::Error::other)?;
        if line.seq != n {
            let what = if n > 1 && line.seq.checked_add(1) == Some(n) && ct::eq(&line.prev, &h2) {
                if ct::eq(&own, &h1) {
                    format!("line {n} repeats entry {}: a copy", n - 1)
                } else {
                    // This entry follows the line before last: that line
                    // was put between them.
                    let what = format!(
                        "entry {} was inserted: the entry after it links past it",
                        n - 1
                    );
                    return Ok(failed(r, fail_at(n - 1, what)));
                }
            } else if line.seq > n {
                format!("entry {n} is missing: line {n} holds entry {}", line.seq)
            } else {
                format!(
                    "line {n} holds entry {}: entries were reordered or copied",
                    line.seq
                )
            };
            return Ok(failed(r, fail_at(n, what)));
        }
        if !ct::eq(&line.prev, &h1) {
            // The line before was changed when this one is intact: its
            // own head signature holds, or the next line links to it.
            let intact =
                head_holds(&line, host) || matches!(&next, Some(Ok(t)) if next_links_to(t, &own));
            return Ok(failed(
                r,
                if intact && n > 1 {
                    fail_at(
                        n - 1,
                        format!(
                            "entry {} was changed: the entry after it does not link to it",
                            n - 1
                        ),
                    )
                } else {
                    fail_at(
                        n,
                        format!("entry {n} was changed, or does not follow entry {}", n - 1),
                    )
                },
            ));
        }
        // Written exactly as sft writes it: no field added, no key moved,
        // nothing re-escaped (the last line has no successor to link it).
        if line.encode().as_bytes() != text.as_slice() {
            let what =
                format!("entry {n} was changed: it is not written the way sft writes entries");
            return Ok(failed(r, fail_at(n, what)));
        }
        if let Some(what) = check_signatures(&line, host) {
            return Ok(failed(r, fail_at(n, what)));
        }
        match line.body {
            Body::Upload { .. } => r.uploads += 1,
            Body::Download(_) => r.downloads += 1,
            Body::Refusal(_) => r.refusals += 1,
            Body::Head(_) => {
                r.heads += 1;
                r.signed_through = n;
            }
        }
        r.entries = n;
        h2 = h1;
        h1 = own;
    }
    if r.signed_through < r.entries {
        let first = r.signed_through + 1;
        let which = if first == r.entries {
            format!("entry {first} is")
        } else {
            format!("entries {first} to {} are", r.entries)
        };
        let what = format!(
            "{which} not covered by a signed head: the log was cut, or the server stopped \
             while writing"
        );
        return Ok(failed(r, fail_at(first, what)));
    }
    Ok(r)
}

fn fail_at(n: u64, what: String) -> Failure {
    Failure {
        line: n,
        seq: n,
        what,
    }
}

fn failed(mut r: Report, f: Failure) -> Report {
    r.first_error = Some(f);
    r
}

/// Reads the log's next line, without its newline: `Err` (what is wrong,
/// to report) when it is longer than [`MAX_LINE`] (at most that much is
/// read) or cut short; `None` at the end.
///
/// # Errors
/// A read error.
pub fn read_line(input: &mut impl BufRead) -> io::Result<Option<Result<Vec<u8>, String>>> {
    read_bounded_line(input, MAX_LINE, LineRule::Strict)
}

/// Whether `line` is a head whose signature holds over its own fields.
fn head_holds(line: &Line, host: &VerifyingKey) -> bool {
    matches!(&line.body, Body::Head(sig)
        if host.verify(&head_signed_bytes(line.seq, line.time, &line.prev), sig).is_ok())
}

/// Whether the line `text` links to a line whose chain hash is `hash`.
fn next_links_to(text: &[u8], hash: &[u8; 32]) -> bool {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| Line::parse(t).ok())
        .is_some_and(|l| ct::eq(&l.prev, hash))
}

/// What is wrong with `line`'s signatures, if anything.
fn check_signatures(line: &Line, host: &VerifyingKey) -> Option<String> {
    let n = line.seq;
    let server_is_host = |signed: &crate::proto::evidence::Signed| {
        (signed.statement.server != *host).then(|| {
            format!(
                "entry {n} was made for server key {}, not the one given",
                signed.statement.server.fingerprint()
            )
        })
    };
    match &line.body {
        Body::Upload { signed, .. } => {
            if let Some(what) = server_is_host(signed) {
                return Some(what);
            }
            if signed.statement.clone().verify(signed.signature).is_err() {
                return Some(format!("entry {n}: the client's statement signature does not verify (the entry was changed)"));
            }
            let (signed, stored, sig) = line.receipt()?;
            Receipt::verify(signed, stored, sig).err().map(|_| {
                format!("entry {n}: the server's receipt signature does not verify (the entry was changed)")
            })
        }
        Body::Download(signed) => server_is_host(signed).or_else(|| {
            signed.statement.clone().verify(signed.signature).err().map(|_| {
                format!("entry {n}: the server's download statement signature does not verify (the entry was changed)")
            })
        }),
        Body::Refusal(_) => None,
        Body::Head(_) => (!head_holds(line, host)).then(|| {
            format!("entry {n}: the head signature does not verify with the host key given")
        }),
    }
}
