//! Client receipts (docs/RECEIPTS.md): the signed evidence of every file a
//! command moved, one JSON line per file (`sft-receipt/1`), in one file
//! per command run. A line holds an upload's statement and the server's
//! receipt, or a download's statement by the server, and, apart, unsigned
//! context for people (the host as typed, the local path). Checked offline
//! with only public keys.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::evidence_json::{put_signed, read_bounded_line, Fields, LineRule};
use crate::keys::create_private_dir;
use crate::proto::evidence::{Direction, Evidence, Receipt, Stored};

/// The `format` every receipt line names.
pub const FORMAT: &str = "sft-receipt/1";

/// Longest receipt line read, in bytes (64 KiB): a receipt is about 1 KiB,
/// one with the longest path, every character escaped, under 30 KiB.
pub const MAX_RECEIPT_LINE: usize = 64 * 1024;

/// The receipt of one file moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub evidence: Evidence,
    /// The server as the user named it (unsigned).
    pub host: String,
    /// The local file read or written (unsigned).
    pub local_path: String,
}

/// Why a receipt cannot be read, trusted or written.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a receipt: not JSON, another format, a field missing or of the
    /// wrong form, too long.
    #[error("not an sft receipt: {0}")]
    Malformed(String),
    /// A signature does not verify: the receipt was changed, or was never
    /// signed by the keys it names.
    #[error("{0} does not verify (the receipt was changed)")]
    BadSignature(&'static str),
}

impl Record {
    /// The receipt's JSON line (no newline).
    pub fn to_line(&self) -> String {
        let mut m = Map::new();
        m.insert("format".into(), json!(FORMAT));
        let signed = self.evidence.signed();
        m.insert(
            "direction".into(),
            json!(signed.statement.direction.as_str()),
        );
        put_signed(&mut m, signed);
        if let Evidence::Upload(r) = &self.evidence {
            m.insert("commit_time".into(), json!(r.stored.commit_time));
            m.insert("audit_seq".into(), json!(r.stored.audit_seq));
            m.insert(
                "receipt_sig".into(),
                json!(hex::encode(r.signature.as_bytes())),
            );
        }
        m.insert(
            "unsigned".into(),
            json!({ "host": self.host, "local_path": self.local_path }),
        );
        Value::Object(m).to_string()
    }

    /// Parses one receipt line and checks every signature in it: the
    /// statement's (its signer's key), and for an upload the server's
    /// receipt (the statement's server key). Whether those keys are the
    /// ones to trust is the caller's question.
    ///
    /// # Errors
    /// `Malformed`; `BadSignature` naming the signature that failed.
    pub fn parse_verified(line: &str) -> Result<Self, ReceiptError> {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| ReceiptError::Malformed(format!("not JSON: {e}")))?;
        let f = Fields(&v);
        let bad = ReceiptError::Malformed;
        if f.str("format").map_err(bad)? != FORMAT {
            return Err(ReceiptError::Malformed(format!("format is not {FORMAT}")));
        }
        let direction = Direction::parse(f.str("direction").map_err(bad)?)
            .ok_or_else(|| ReceiptError::Malformed("unknown direction".into()))?;
        let signed = f.signed(direction).map_err(bad)?;
        let signed = signed
            .statement
            .verify(signed.signature)
            .map_err(|_| ReceiptError::BadSignature(statement_name(direction)))?;
        let evidence = match direction {
            Direction::Download => Evidence::Download(signed),
            Direction::Upload => {
                let stored = Stored {
                    commit_time: f.u64("commit_time").map_err(bad)?,
                    audit_seq: f.u64("audit_seq").map_err(bad)?,
                };
                let sig = f.signature("receipt_sig").map_err(bad)?;
                let receipt = Receipt::verify(signed, stored, sig)
                    .map_err(|_| ReceiptError::BadSignature("the server's receipt signature"))?;
                Evidence::Upload(receipt)
            }
        };
        let unsigned = Fields(f.get("unsigned").map_err(bad)?);
        Ok(Record {
            evidence,
            host: unsigned.str("host").map_err(bad)?.to_string(),
            local_path: unsigned.str("local_path").map_err(bad)?.to_string(),
        })
    }
}

fn statement_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Upload => "the client's statement signature",
        Direction::Download => "the server's statement signature",
    }
}

/// Reads the receipts file at `path`: each line verified
/// ([`Record::parse_verified`]), with its line number (1 is the first).
/// A line longer than [`MAX_RECEIPT_LINE`] is refused after reading that
/// much of it; a last line without a newline (a command cut while
/// writing) is read like the others.
///
/// # Errors
/// The file cannot be opened or read.
pub fn read_verified(path: &Path) -> io::Result<Vec<(u64, Result<Record, ReceiptError>)>> {
    read_verified_from(BufReader::new(File::open(path)?))
}

/// A receipts file being written by one command: created with its first
/// receipt, one line appended (one `write`) per file moved, synced once
/// at the end.
pub struct Writer {
    path: PathBuf,
    file: File,
}

impl Writer {
    /// Creates `dir/name` (mode 0600; `dir` created, mode 0700, if
    /// missing), never over an existing file.
    ///
    /// # Errors
    /// `Io`, `AlreadyExists` included.
    pub fn create(dir: &Path, name: &str) -> Result<Self, ReceiptError> {
        create_private_dir(dir).map_err(|e| io::Error::other(e.to_string()))?;
        let path = dir.join(name);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(Writer { path, file })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`'s line.
    ///
    /// # Errors
    /// `Io`.
    pub fn append(&mut self, record: &Record) -> Result<(), ReceiptError> {
        let mut line = record.to_line();
        line.push('\n');
        Ok(self.file.write_all(line.as_bytes())?)
    }

    /// Flushes the file to disk.
    ///
    /// # Errors
    /// `Io`.
    pub fn sync(&self) -> Result<(), ReceiptError> {
        Ok(self.file.sync_data()?)
    }
}

/// The receipts files in `dir` (`*.jsonl`), sorted by name.
///
/// # Errors
/// `dir` cannot be read.
pub fn files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// [`read_verified`] over any reader of a receipts file's bytes.
///
/// # Errors
/// A read error.
pub fn read_verified_from(
    mut input: impl BufRead,
) -> io::Result<Vec<(u64, Result<Record, ReceiptError>)>> {
    let mut out = Vec::new();
    let mut n = 0u64;
    while let Some(line) = read_bounded_line(&mut input, MAX_RECEIPT_LINE, LineRule::EachLine)? {
        n += 1;
        let record = line.map_err(ReceiptError::Malformed).and_then(|bytes| {
            let text = String::from_utf8(bytes)
                .map_err(|_| ReceiptError::Malformed("not UTF-8".into()))?;
            Record::parse_verified(&text)
        });
        out.push((n, record));
    }
    Ok(out)
}
