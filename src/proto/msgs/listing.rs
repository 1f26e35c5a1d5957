//! LISTING: the files and directories of one server directory, in pages of
//! one record each.

use std::convert::Infallible;

use crate::proto::codec::{Reader, Writer};
use crate::proto::{ProtoError, MAX_NAME_LEN, MAX_PLAINTEXT_LEN};

/// Most bytes of a LISTING body (more, count and entries): what fits one
/// record after the inner type byte.
const MAX_PAGE_LEN: usize = MAX_PLAINTEXT_LEN - 1;

/// Entries a page takes from the source at most (512, listed or skipped):
/// bounds the directory reads one page costs, so a server can interleave a
/// long listing with its other sessions. 512 entries of the longest names
/// (255 bytes) fill about half a record, so a page always fits one.
pub const PAGE_ENTRIES: usize = 512;

/// Bytes of one entry besides its name: kind, name length, size, mtime,
/// mode.
const ENTRY_FIXED_LEN: usize = 1 + 2 + 8 + 8 + 2;

const _: () = assert!(3 + PAGE_ENTRIES * (ENTRY_FIXED_LEN + MAX_NAME_LEN) <= MAX_PAGE_LEN);

/// What a listing entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (wire value 0).
    File,
    /// A directory (wire value 1; its size is 0).
    Dir,
}

/// One file or directory in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// File or directory.
    pub kind: EntryKind,
    /// Base name (the client applies the name rule to it).
    pub name: String,
    /// Size in bytes (0 for a directory).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Permission bits, at most 0o777.
    pub mode: u32,
}

impl ListEntry {
    /// Whether the receiver's name rule takes the name unchanged (not too
    /// long, no control or hidden characters, a plain base name).
    fn listable(&self) -> bool {
        crate::proto::name::sanitize(self.name.as_bytes()).is_ok_and(|n| n == self.name)
    }
}

/// A listing being encoded one LISTING body (page) at a time from a stream
/// of entries: it holds the count so far, so memory stays one page however
/// long the listing is.
#[derive(Debug, Default)]
pub struct ListingPager {
    sent: usize,
}

impl ListingPager {
    /// Encodes the next LISTING body: more u8 (1 if another body follows),
    /// count u16, then per entry kind u8 (0 file, 1 directory), name (u16
    /// length + bytes), size u64, mtime i64, mode u16 (at most [`MAX_PLAINTEXT_LEN`] − 1 bytes). Pulls at most
    /// [`PAGE_ENTRIES`] from `entries`, fewer when they end (then `more` is
    /// 0 and the pager is done; a listing whose last page was full ends with
    /// a page of none). Entries whose names the receiver's rule would refuse
    /// are skipped, so one odd file on disk cannot break listings. Returns
    /// the body and whether another follows.
    ///
    /// # Errors
    /// The first `Err` of `entries`; the entries of the page being built
    /// are dropped and nothing is returned for it.
    pub fn next_page<E>(
        &mut self,
        entries: &mut impl Iterator<Item = Result<ListEntry, E>>,
    ) -> Result<(Vec<u8>, bool), E> {
        let mut body = vec![0; 3]; // more and count, set at the end
        let mut count: u16 = 0;
        let mut pulled = 0;
        let more = loop {
            if pulled == PAGE_ENTRIES {
                break true;
            }
            let e = match entries.next() {
                Some(e) => e?,
                None => break false,
            };
            pulled += 1;
            if !e.listable() {
                continue;
            }
            body.put_u8(match e.kind {
                EntryKind::File => 0,
                EntryKind::Dir => 1,
            });
            body.put_vec16(e.name.as_bytes());
            body.put_u64(e.size);
            body.put_i64(e.mtime);
            body.put_u16((e.mode & super::MAX_MODE) as u16);
            count += 1;
        };
        body[0] = u8::from(more);
        body[1..3].copy_from_slice(&count.to_be_bytes());
        self.sent += usize::from(count);
        Ok((body, more))
    }

    /// Entries encoded so far, in all pages.
    pub fn sent(&self) -> usize {
        self.sent
    }
}

/// Encodes a whole listing held in memory, as the pages [`ListingPager`]
/// makes of it (the server streams with the pager instead; tests and the
/// fuzz targets check bodies against this). Returns the bodies and how
/// many entries they carry.
pub fn encode_listing(entries: &[ListEntry]) -> (Vec<Vec<u8>>, usize) {
    let mut pager = ListingPager::default();
    let mut items = entries.iter().cloned().map(Ok::<_, Infallible>);
    let mut bodies = Vec::new();
    loop {
        let (body, more) = match pager.next_page(&mut items) {
            Ok(page) => page,
            Err(never) => match never {},
        };
        bodies.push(body);
        if !more {
            return (bodies, pager.sent());
        }
    }
}

/// Parses one LISTING body into `out`; returns whether more follow.
/// Entries with names that break the name rule are refused, and so is a
/// body that would take `out` past `max_total` entries (checked from the
/// count, before any entry is parsed).
///
/// # Errors
/// `MalformedMessage` on bad lengths; `Name` for a refused name;
/// `ListingTooLong` past `max_total` (the receiver's own limit).
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
        return Err(ProtoError::ListingTooLong { max: max_total });
    }
    for _ in 0..count {
        let kind = match r.u8()? {
            0 => EntryKind::File,
            1 => EntryKind::Dir,
            _ => return Err(ProtoError::MalformedMessage("LISTING")),
        };
        let raw = r.vec16(MAX_NAME_LEN)?;
        let name = crate::proto::name::sanitize(raw)?;
        if name.as_bytes() != raw {
            return Err(ProtoError::MalformedMessage("LISTING"));
        }
        let size = r.u64()?;
        let mtime = r.i64()?;
        let mode = u32::from(r.u16()?);
        if mode > super::MAX_MODE {
            return Err(ProtoError::MalformedMessage("LISTING"));
        }
        out.push(ListEntry {
            kind,
            name,
            size,
            mtime,
            mode,
        });
    }
    r.finish()?;
    Ok(more)
}
