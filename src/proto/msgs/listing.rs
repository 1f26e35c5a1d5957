//! LISTING: the server's files, split into records.

use crate::proto::codec::{Reader, Writer};
use crate::proto::{ProtoError, TransferError, MAX_NAME_LEN, MAX_PLAINTEXT_LEN};

/// One file in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// Base name (the client applies the name rule to it).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
}

impl ListEntry {
    fn encoded_len(&self) -> usize {
        2 + self.name.len() + 16
    }
}

/// Encodes `entries` as LISTING bodies, each fitting one record: more u8
/// (1 if another LISTING follows), count u16, then per entry name (u16
/// length + bytes), size u64, mtime i64. An empty listing is one body with
/// count 0. Names the receiver's name rule would refuse (too long, control
/// characters, not a base name) are skipped, so one odd file on disk cannot
/// break listings. Returns the bodies and how many entries they carry.
pub fn encode_listing(entries: &[ListEntry]) -> (Vec<Vec<u8>>, usize) {
    let budget = MAX_PLAINTEXT_LEN - 1 - 3;
    let mut bodies = Vec::new();
    let mut current: Vec<&ListEntry> = Vec::new();
    let (mut used, mut sent) = (0, 0);
    let valid = entries
        .iter()
        .filter(|e| crate::proto::name::sanitize(e.name.as_bytes()).is_ok_and(|n| n == e.name));
    for e in valid {
        if used + e.encoded_len() > budget || current.len() == u16::MAX as usize {
            bodies.push(std::mem::take(&mut current));
            used = 0;
        }
        used += e.encoded_len();
        sent += 1;
        current.push(e);
    }
    bodies.push(current);
    let last = bodies.len() - 1;
    let encoded = bodies
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut v = Vec::new();
            v.put_u8(u8::from(i != last));
            v.put_u16(part.len() as u16);
            for e in part {
                v.put_vec16(e.name.as_bytes());
                v.put_u64(e.size);
                v.put_i64(e.mtime);
            }
            v
        })
        .collect();
    (encoded, sent)
}

/// Parses one LISTING body into `out`; returns whether more follow.
/// Entries with names that break the name rule are refused, and so is a
/// body that would take `out` past `max_total` entries (checked from the
/// count, before any entry is parsed).
///
/// # Errors
/// `MalformedMessage` on bad lengths; `Name` for a refused name;
/// `Transfer(TooManyEntries)` past `max_total`.
pub fn parse_listing(
    b: &[u8],
    out: &mut Vec<ListEntry>,
    max_total: usize,
) -> Result<bool, ProtoError> {
    let mut r = Reader::new(b, "LISTING");
    let more = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(ProtoError::MalformedMessage("LISTING")),
    };
    let count = r.u16()?;
    if out.len() + usize::from(count) > max_total {
        return Err(ProtoError::Transfer(TransferError::TooManyEntries));
    }
    for _ in 0..count {
        let raw = r.vec16(MAX_NAME_LEN)?;
        let name = crate::proto::name::sanitize(raw)?;
        if name.as_bytes() != raw {
            return Err(ProtoError::MalformedMessage("LISTING"));
        }
        let size = r.u64()?;
        let mtime = r.i64()?;
        out.push(ListEntry { name, size, mtime });
    }
    r.finish()?;
    Ok(more)
}
