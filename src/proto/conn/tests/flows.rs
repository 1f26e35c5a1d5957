//! Whole operations between the two sides, and worlds in the middle of
//! one.

use super::*;

/// The SHA-256 of `content`.
pub(super) fn sha(content: &[u8]) -> [u8; 32] {
    crate::crypto::hash::sha256(content).unwrap()
}

/// Sends the whole listing `entries` at once, page after page whatever
/// room the output has; returns how many entries went out.
pub(super) fn send_listing(
    server: &mut ServerConnection,
    entries: &[ListEntry],
) -> Result<usize, ProtoError> {
    let mut items = entries.iter().cloned().map(Ok::<_, Infallible>);
    loop {
        match server.send_listing_page(&mut items)? {
            ListingStep::More => {}
            ListingStep::Done { entries } => return Ok(entries),
            ListingStep::SourceFailed(never) => match never {},
        }
    }
}

pub(super) fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Uploads `content` in pieces of at most `piece` bytes, the data sent
/// at once after OFFER and read once the server accepts; answers Ok.
/// Returns what the server received.
pub(super) fn upload(w: &mut World, path: &str, content: &[u8], piece: usize) -> Vec<u8> {
    let size = content.len() as u64;
    let mut hash = w
        .client
        .request_upload(path, size, false, None, false, T0)
        .unwrap();
    assert_eq!(hash.is_some(), content.is_empty());
    assert_eq!(w.c2s().unwrap(), vec![Got::upload(path, size)]);
    let ticket = w.ticket();
    w.server.accept().unwrap();
    let mut received = Vec::new();
    let mut sent = 0;
    loop {
        while w.client.wants_data() {
            let n = (content.len() - sent).min(piece);
            hash = w.client.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        let mut done = false;
        for e in w.c2s().unwrap() {
            match e {
                Got::Data(d) => received.extend_from_slice(&d),
                Got::Complete(h, _) => {
                    assert_eq!(h, sha(content));
                    done = true;
                }
                other => panic!("{other:?}"),
            }
        }
        if done {
            break;
        }
    }
    assert_eq!(hash, Some(sha(content)), "the client's END hash");
    w.store(ticket).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Outcome(Outcome::ok())]);
    received
}

/// The meta the helpers' downloads carry.
pub(super) const FILE_META: Meta = Meta {
    mode: 0o640,
    mtime: 1_764_000_000,
};

/// Downloads `content` (which the server sends in pieces of at most
/// `piece` bytes); returns what the client received.
pub(super) fn download(w: &mut World, path: &str, content: &[u8], piece: usize) -> Vec<u8> {
    let size = content.len() as u64;
    w.client.request_download(path, u64::MAX, None).unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Download(path.into(), u64::MAX)]);
    w.server.offer_download(size, FILE_META, None, T0).unwrap();
    let mut received = Vec::new();
    let mut sent = 0;
    let mut offered = false;
    loop {
        while w.server.wants_data() {
            let n = (content.len() - sent).min(piece);
            w.server.send_data(&content[sent..sent + n]).unwrap();
            sent += n;
        }
        let mut done = false;
        for e in w.s2c().unwrap() {
            match e {
                Got::Offered(s, meta) if !offered => {
                    assert_eq!((s, meta), (size, FILE_META));
                    offered = true;
                }
                Got::Data(d) if offered => received.extend_from_slice(&d),
                Got::Complete(h, _) if offered => {
                    assert_eq!(h, sha(content));
                    done = true;
                }
                other => panic!("{other:?}"),
            }
        }
        if done {
            break;
        }
    }
    assert_eq!(w.client.in_flight(), 0);
    assert!(!w.client.wants_write(), "nothing goes back for a download");
    received
}

/// An established world whose server is receiving an upload of `size`
/// (accepted; the client has sent no data yet). Its ticket is the next
/// in `tickets`.
pub(super) fn receiving_upload(size: u64) -> World {
    let mut w = established();
    w.client
        .request_upload("f", size, false, None, false, T0)
        .unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::upload("f", size)]);
    w.server.accept().unwrap();
    w
}

/// An established world whose client is receiving a download of `size`
/// (offered; no data sent yet).
pub(super) fn receiving_download(size: u64) -> World {
    let mut w = established();
    w.client.request_download("f", u64::MAX, None).unwrap();
    w.c2s().unwrap();
    w.server
        .offer_download(size, Meta::default(), None, T0)
        .unwrap();
    let got = w.s2c().unwrap();
    assert_eq!(got[0], Got::Offered(size, Meta::default()));
    w
}
