//! Signed evidence of what moved (PROTOCOL.md §4.8): a *statement*, which
//! the sender of a file signs (the client for an upload, the server for a
//! download), and a *receipt*, which the server signs over an upload's
//! statement once the file is stored. Both sides build the statement from
//! facts each already holds (both identity keys, the session's transcript
//! hash, the path, size and SHA-256); only the time and the signature
//! travel, in END. The signed bytes here are the whole contract: the
//! client's receipt files and the server's audit log store the same facts
//! and are checked against these functions.
//!
//! ```text
//! statement = context || client key (32) || server key (32) || transcript hash (32)
//!             || path_len u16 || path || size u64 || SHA-256 (32) || time u64
//! receipt   = "sft/5 upload receipt\0" || statement || statement signature (64)
//!             || commit_time u64 || audit_seq u64
//! ```
//!
//! Signatures are PureEd25519 (RFC 8032 §5.1.6) over those bytes; each
//! context differs from the handshake's (§3.3), so no signature of one
//! kind can be taken for another.

use crate::crypto::ed25519::{Sign, Signature, VerifyingKey};
use crate::proto::ProtoError;

/// Context of the client's statement of an upload.
pub const UPLOAD_STATEMENT_CONTEXT: &[u8] = b"sft/5 upload statement\0";
/// Context of the server's statement of a download it served.
pub const DOWNLOAD_STATEMENT_CONTEXT: &[u8] = b"sft/5 download statement\0";
/// Context of the server's receipt for a stored upload.
pub const RECEIPT_CONTEXT: &[u8] = b"sft/5 upload receipt\0";

/// Which way a file moved: whose statement it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server; the client signs the statement.
    Upload,
    /// Server to client; the server signs the statement.
    Download,
}

impl Direction {
    /// `"upload"` or `"download"`, as receipt files and the audit log
    /// write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s words.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "upload" => Some(Direction::Upload),
            "download" => Some(Direction::Download),
            _ => None,
        }
    }
}

/// The facts of one file moved in one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub direction: Direction,
    /// The client's identity key.
    pub client: VerifyingKey,
    /// The server's identity key.
    pub server: VerifyingKey,
    /// The session's final transcript hash (TH_final, §3.2): binds the
    /// statement to one authenticated session.
    pub transcript_hash: [u8; 32],
    /// The path, relative to the server's root, as it went on the wire
    /// (at most 4,096 bytes of UTF-8).
    pub path: String,
    /// The whole file's size, in bytes.
    pub size: u64,
    /// The whole file's SHA-256 (FIPS 180-4).
    pub sha256: [u8; 32],
    /// The sender's clock when it offered the file: seconds since the
    /// Unix epoch.
    pub time: u64,
}

impl Statement {
    /// The bytes the sender signs (module docs). The path is at most
    /// `MAX_PATH_LEN` bytes wherever a statement is built from the wire;
    /// a longer one (never sent) is cut to u16 in the length field.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let context = match self.direction {
            Direction::Upload => UPLOAD_STATEMENT_CONTEXT,
            Direction::Download => DOWNLOAD_STATEMENT_CONTEXT,
        };
        let path = self.path.as_bytes();
        let path = &path[..path.len().min(usize::from(u16::MAX))];
        let mut out = Vec::with_capacity(context.len() + 32 * 4 + 2 + path.len() + 16);
        out.extend_from_slice(context);
        out.extend_from_slice(self.client.as_bytes());
        out.extend_from_slice(self.server.as_bytes());
        out.extend_from_slice(&self.transcript_hash);
        out.extend_from_slice(&(path.len() as u16).to_be_bytes());
        out.extend_from_slice(path);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.sha256);
        out.extend_from_slice(&self.time.to_be_bytes());
        out
    }

    /// The key that signs this statement: the client's for an upload, the
    /// server's for a download.
    pub fn signer(&self) -> VerifyingKey {
        match self.direction {
            Direction::Upload => self.client,
            Direction::Download => self.server,
        }
    }

    /// Signs the statement with `key`, which must be
    /// [`signer`](Self::signer)'s private half.
    ///
    /// # Errors
    /// `InvalidCall` when `key` is not the signer's; `Crypto`.
    pub fn sign(self, key: &dyn Sign) -> Result<Signed, ProtoError> {
        if key.verifying_key() != self.signer() {
            return Err(ProtoError::InvalidCall(
                "a statement signed by the wrong key",
            ));
        }
        let signature = key.sign(&self.signed_bytes())?;
        Ok(Signed {
            statement: self,
            signature,
        })
    }

    /// Checks `signature` against [`signer`](Self::signer).
    ///
    /// # Errors
    /// `BadSignature` naming the statement when it does not verify.
    pub fn verify(self, signature: Signature) -> Result<Signed, ProtoError> {
        let what = match self.direction {
            Direction::Upload => "client's upload statement",
            Direction::Download => "server's download statement",
        };
        self.signer()
            .verify(&self.signed_bytes(), &signature)
            .map_err(|_| ProtoError::BadSignature(what))?;
        Ok(Signed {
            statement: self,
            signature,
        })
    }
}

/// A statement and its signer's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub statement: Statement,
    pub signature: Signature,
}

/// What the server adds to an upload's signed statement once the file is
/// stored and its audit entry is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The server's clock when the file was stored: seconds since the
    /// Unix epoch.
    pub commit_time: u64,
    /// The number of the server's audit log entry that records it (the
    /// first entry is 1).
    pub audit_seq: u64,
}

/// The server's receipt for a stored upload: the client's signed
/// statement, what the server adds, and the server's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub signed: Signed,
    pub stored: Stored,
    pub signature: Signature,
}

impl Receipt {
    /// The bytes the server signs (module docs).
    pub fn signed_bytes(signed: &Signed, stored: Stored) -> Vec<u8> {
        let statement = signed.statement.signed_bytes();
        let mut out = Vec::with_capacity(RECEIPT_CONTEXT.len() + statement.len() + 64 + 16);
        out.extend_from_slice(RECEIPT_CONTEXT);
        out.extend_from_slice(&statement);
        out.extend_from_slice(signed.signature.as_bytes());
        out.extend_from_slice(&stored.commit_time.to_be_bytes());
        out.extend_from_slice(&stored.audit_seq.to_be_bytes());
        out
    }

    /// The server signs an upload's statement with `key`, its identity.
    ///
    /// # Errors
    /// `InvalidCall` for a download's statement or another key than the
    /// statement's server; `Crypto`.
    pub fn sign(signed: Signed, stored: Stored, key: &dyn Sign) -> Result<Self, ProtoError> {
        if signed.statement.direction != Direction::Upload
            || key.verifying_key() != signed.statement.server
        {
            return Err(ProtoError::InvalidCall(
                "a receipt is the server's, for an upload",
            ));
        }
        let signature = key.sign(&Self::signed_bytes(&signed, stored))?;
        Ok(Receipt {
            signed,
            stored,
            signature,
        })
    }

    /// Checks the server's `signature` over an upload's statement and
    /// `stored`, with the statement's server key.
    ///
    /// # Errors
    /// `BadSignature` when it does not verify, or for a download.
    pub fn verify(
        signed: Signed,
        stored: Stored,
        signature: Signature,
    ) -> Result<Self, ProtoError> {
        let bad = ProtoError::BadSignature("server's receipt");
        if signed.statement.direction != Direction::Upload {
            return Err(bad);
        }
        signed
            .statement
            .server
            .verify(&Self::signed_bytes(&signed, stored), &signature)
            .map_err(|_| bad)?;
        Ok(Receipt {
            signed,
            stored,
            signature,
        })
    }
}

/// What a client keeps of one file moved: an upload's receipt, or the
/// server's signed statement of a download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    Upload(Receipt),
    Download(Signed),
}

impl Evidence {
    /// The signed statement it holds.
    pub fn signed(&self) -> &Signed {
        match self {
            Evidence::Upload(receipt) => &receipt.signed,
            Evidence::Download(signed) => signed,
        }
    }
}
