//! Requests and file data: OFFER, GET, LIST, MKDIR, CHUNK and END.
//! Paths are raw bytes here; the receiver applies
//! [`crate::proto::name::sanitize_path`].

use super::resume::Prefix;
use crate::proto::codec::{Reader, Writer};
use crate::proto::{ProtoError, MAX_PATH_LEN};

/// Largest permission-bits value on the wire (`rwxrwxrwx`): setuid, setgid
/// and sticky are never carried.
pub const MAX_MODE: u32 = 0o777;

/// Permission bits and modification time of a file or directory, as OFFER
/// and MKDIR carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits, at most [`MAX_MODE`] (0o777).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch (may be negative).
    pub mtime: i64,
}

impl Meta {
    fn put(&self, v: &mut Vec<u8>) {
        // The constructors' callers keep mode within 0o777; mask anyway so
        // the wire never carries more.
        v.put_u16((self.mode & MAX_MODE) as u16);
        v.put_i64(self.mtime);
    }

    fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, ProtoError> {
        let mode = u32::from(r.u16()?);
        let mtime = r.i64()?;
        if mode > MAX_MODE {
            return Err(ProtoError::MalformedMessage(what));
        }
        Ok(Meta { mode, mtime })
    }
}

/// OFFER flag bit 0: replace an existing file (uploads only).
const FLAG_OVERWRITE: u8 = 1;
/// OFFER flag bit 1 (MKDIR flag bit 0): apply the carried [`Meta`].
const FLAG_PRESERVE: u8 = 2;
/// OFFER flag bit 2: an upload asks to resume (the client waits for
/// RESUME); a download's data starts at the GET's offset.
const FLAG_RESUME: u8 = 4;

/// OFFER: a file the client sends (upload; its data follows at once) or
/// the server's answer to GET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Raw path bytes as sent.
    pub path: Vec<u8>,
    /// Size in bytes.
    pub size: u64,
    /// Replace an existing file of that path (uploads only).
    pub overwrite: bool,
    /// Apply `meta` to the stored file (uploads only).
    pub preserve: bool,
    /// The sender's permission bits and modification time.
    pub meta: Meta,
    /// Upload: the client asks to resume and waits for RESUME. Download:
    /// the data starts at the GET's offset.
    pub resume: bool,
}

impl Offer {
    /// Encodes the body: path (u16 length + bytes), size u64, flags u8,
    /// mode u16, mtime i64 (21 + path bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(21 + self.path.len());
        v.put_vec16(&self.path);
        v.put_u64(self.size);
        let flags = if self.overwrite { FLAG_OVERWRITE } else { 0 }
            | if self.preserve { FLAG_PRESERVE } else { 0 }
            | if self.resume { FLAG_RESUME } else { 0 };
        v.put_u8(flags);
        self.meta.put(&mut v);
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on bad lengths, paths over [`MAX_PATH_LEN`]
    /// bytes, unknown flag bits or a mode over 0o777.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "OFFER");
        let path = r.vec16(MAX_PATH_LEN)?.to_vec();
        let size = r.u64()?;
        let flags = r.u8()?;
        let meta = Meta::read(&mut r, "OFFER")?;
        r.finish()?;
        if flags & !(FLAG_OVERWRITE | FLAG_PRESERVE | FLAG_RESUME) != 0 {
            return Err(ProtoError::MalformedMessage("OFFER"));
        }
        Ok(Offer {
            path,
            size,
            overwrite: flags & FLAG_OVERWRITE != 0,
            preserve: flags & FLAG_PRESERVE != 0,
            meta,
            resume: flags & FLAG_RESUME != 0,
        })
    }
}

/// MKDIR: create a directory whose parent exists (an existing directory
/// is fine), optionally applying `meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mkdir {
    /// Raw path bytes as sent.
    pub path: Vec<u8>,
    /// Apply `meta` to the directory (also when it already existed).
    pub preserve: bool,
    /// Permission bits and modification time.
    pub meta: Meta,
}

impl Mkdir {
    /// Encodes the body: path (u16 length + bytes), flags u8, mode u16,
    /// mtime i64 (13 + path bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(13 + self.path.len());
        v.put_vec16(&self.path);
        v.put_u8(u8::from(self.preserve));
        self.meta.put(&mut v);
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on bad lengths, paths over [`MAX_PATH_LEN`]
    /// bytes, flags above 1 or a mode over 0o777.
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "MKDIR");
        let path = r.vec16(MAX_PATH_LEN)?.to_vec();
        let flags = r.u8()?;
        let meta = Meta::read(&mut r, "MKDIR")?;
        r.finish()?;
        if flags > 1 {
            return Err(ProtoError::MalformedMessage("MKDIR"));
        }
        Ok(Mkdir {
            path,
            preserve: flags == 1,
            meta,
        })
    }
}

/// GET: a download request; the server refuses a file larger than
/// `max_size` bytes (RESULT 3) before any data moves. A client holding
/// the first bytes of the file from an earlier download names them in
/// `held`; the server resumes after them if its file starts with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Get {
    /// Raw path bytes as sent.
    pub path: Vec<u8>,
    /// Largest size the client takes, in bytes.
    pub max_size: u64,
    /// What the client holds ([`Prefix::NONE`]: nothing).
    pub held: Prefix,
}

impl Get {
    /// Encodes the body: path (u16 length + bytes), max_size u64, offset
    /// u64, prefix SHA-256 (50 + path bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(50 + self.path.len());
        v.put_vec16(&self.path);
        v.put_u64(self.max_size);
        self.held.put(&mut v);
        v
    }

    /// Parses a body.
    ///
    /// # Errors
    /// `MalformedMessage` on bad lengths, paths over [`MAX_PATH_LEN`], an
    /// offset over `max_size` or [`MAX_OFFSET`], or offset 0 with another
    /// hash than [`EMPTY_SHA256`].
    pub fn parse(b: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(b, "GET");
        let path = r.vec16(MAX_PATH_LEN)?.to_vec();
        let max_size = r.u64()?;
        let held = Prefix::read(&mut r, "GET")?;
        r.finish()?;
        if held.offset > max_size {
            return Err(ProtoError::MalformedMessage("GET"));
        }
        Ok(Get {
            path,
            max_size,
            held,
        })
    }
}

/// Encodes a LIST body: the directory's path (u16 length + bytes; empty
/// for the root).
pub fn encode_list(path: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + path.len());
    v.put_vec16(path);
    v
}

/// Parses a LIST body: the directory's raw path (empty for the root).
///
/// # Errors
/// `MalformedMessage` on bad lengths or paths over [`MAX_PATH_LEN`].
pub fn parse_list(b: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let mut r = Reader::new(b, "LIST");
    let path = r.vec16(MAX_PATH_LEN)?.to_vec();
    r.finish()?;
    Ok(path)
}

/// Parses a CHUNK body: the offset (u64) and the data (the rest, possibly
/// empty; the transfer rules bound its length).
///
/// # Errors
/// `MalformedMessage` when shorter than 8 bytes.
pub fn parse_chunk(b: &[u8]) -> Result<(u64, &[u8]), ProtoError> {
    let mut r = Reader::new(b, "CHUNK");
    let offset = r.u64()?;
    Ok((offset, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msgs::MAX_OFFSET;

    #[test]
    fn requests_round_trip_and_limits_hold() {
        let meta = Meta {
            mode: MAX_MODE,
            mtime: -5,
        };
        let offer = Offer {
            path: b"a/b".to_vec(),
            size: 9,
            overwrite: true,
            preserve: true,
            meta,
            resume: true,
        };
        assert_eq!(offer.encode().len(), 21 + 3);
        assert_eq!(Offer::parse(&offer.encode()).unwrap(), offer);
        let mkdir = Mkdir {
            path: vec![b'd'; MAX_PATH_LEN],
            preserve: true,
            meta,
        };
        assert_eq!(Mkdir::parse(&mkdir.encode()).unwrap(), mkdir);
        let get = Get {
            path: b"x".to_vec(),
            max_size: u64::MAX,
            held: Prefix {
                offset: MAX_OFFSET,
                sha256: [7; 32],
            },
        };
        assert_eq!(get.encode().len(), 50 + 1);
        assert_eq!(Get::parse(&get.encode()).unwrap(), get);
        assert_eq!(parse_list(&encode_list(b"")).unwrap(), b"");

        // A path one byte past the limit, a mode past 0o777, unknown flags.
        let long = Mkdir {
            path: vec![b'd'; MAX_PATH_LEN + 1],
            ..mkdir.clone()
        };
        assert!(Mkdir::parse(&long.encode()).is_err());
        assert!(parse_list(&encode_list(&vec![b'd'; MAX_PATH_LEN + 1])).is_err());
        let mut body = offer.encode();
        let mode_at = 2 + 3 + 8 + 1;
        body[mode_at..mode_at + 2].copy_from_slice(&0o1000u16.to_be_bytes());
        assert!(matches!(
            Offer::parse(&body),
            Err(ProtoError::MalformedMessage("OFFER"))
        ));
        let mut body = offer.encode();
        body[mode_at - 1] = 8;
        assert!(Offer::parse(&body).is_err());
        let mut body = mkdir.encode();
        body[2 + MAX_PATH_LEN] = 2;
        assert!(Mkdir::parse(&body).is_err());
        let mut trailing = get.encode();
        trailing.push(0);
        assert!(Get::parse(&trailing).is_err());
    }
}
