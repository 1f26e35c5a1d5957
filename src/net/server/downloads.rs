//! Downloads: opening the file asked for, checking a prefix the client
//! holds (hashed off the loop by the hasher thread), offering the file
//! from 0 or resumed after that prefix, and abandoning one whose source
//! changes while it is sent.

use std::time::Instant;

use log::{info, warn};
use mio::Token;

use super::hasher::{queue_prefix, PrefixHash};
use super::outcomes::{refusal, refusal_for};
use super::peer::{Download, DriveError, Hashing, HeldDownload, Session, Shared};
use super::requests::{access_refusal, audit, charge, check_budget, log_download_end, refuse};
use crate::audit::Entry;
use crate::authorized::Access;
use crate::crypto::ct;
use crate::crypto::hash::Sha256;
use crate::fs::SourceFile;
use crate::net::transfer::Outgoing;
use crate::proto::limiter::Cost;
use crate::proto::msgs::{Meta, Prefix, ResultCode};

/// Answers a GET: refuses it, offers the file from 0, or, when the client
/// holds a prefix no longer than the file, has the hasher thread hash the
/// file's first bytes ([`on_download_hashed`] then offers it). One
/// request either way, however long the prefix.
pub(super) fn on_download(
    s: &mut Session,
    token: Token,
    shared: &mut Shared,
    now: Instant,
    (name, max_size, held): (String, u64, Option<Prefix>),
) -> Result<(), DriveError> {
    if let Some(wait) = check_budget(s, shared, now)? {
        return refuse(s, shared, now, ("download", &name), &wait);
    }
    if let Some(outcome) = access_refusal(s, Access::ReadOnly) {
        charge(s, shared, now, Cost::Cheap);
        return refuse(s, shared, now, ("download", &name), &outcome);
    }
    let opened = s
        .root(shared)
        .open_source(&name)
        .map_err(|e| refusal_for(&e));
    let opened = opened.and_then(|source| {
        if source.size > max_size {
            Err(refusal(
                ResultCode::TooLarge,
                format!(
                    "{} bytes, larger than the {max_size} bytes the client takes",
                    source.size
                ),
            ))
        } else {
            Ok(source)
        }
    });
    let source = match opened {
        Ok(source) => source,
        Err(outcome) => {
            charge(s, shared, now, Cost::Cheap);
            return refuse(s, shared, now, ("download", &name), &outcome);
        }
    };
    charge(s, shared, now, Cost::Work);
    let Some(held) = held.filter(|h| h.offset <= source.size) else {
        return offer(s, shared, now, source, name, None);
    };
    let queued = source
        .file
        .try_clone()
        .is_ok_and(|file| queue_prefix(shared, s, token, file, held.offset));
    if !queued {
        return offer(s, shared, now, source, name, None);
    }
    s.hashing = Some(Hashing::Download(Box::new(HeldDownload {
        source,
        name,
        held,
    })));
    Ok(())
}

/// Offers a file whose held prefix was hashed: resumed after it when the
/// hash equals the client's (compared in constant time) and, for a prefix
/// that is the whole file, the file still ends there; else from 0.
pub(super) fn on_download_hashed(
    s: &mut Session,
    shared: &Shared,
    now: Instant,
    dl: HeldDownload,
    result: PrefixHash,
) -> Result<(), DriveError> {
    let HeldDownload { source, name, held } = dl;
    let resumed = match result {
        Ok((hash, digest)) if ct::eq(&digest, &held.sha256) => {
            // No chunk will be read to catch a change: look now.
            let whole_changed = held.offset == source.size && source.check_ends_at_size().is_err();
            (!whole_changed).then_some((held.offset, hash))
        }
        Ok(_) => None,
        Err(e) => {
            warn!(
                "download {name:?} to {}: cannot hash its first {} bytes: {e}",
                s.who(),
                held.offset
            );
            None
        }
    };
    if resumed.is_none() {
        info!(
            "download {name:?} to {}: restarting at 0 (the {} bytes the client holds differ)",
            s.who(),
            held.offset
        );
    }
    offer(s, shared, now, source, name, resumed)
}

/// Offers `source` and starts sending it: from the start, or after the
/// first `offset` bytes (`hash` absorbed exactly them). The statement its
/// END carries goes to the audit log.
fn offer(
    s: &mut Session,
    shared: &Shared,
    now: Instant,
    source: SourceFile,
    name: String,
    resumed: Option<(u64, Sha256)>,
) -> Result<(), DriveError> {
    let size = source.size;
    let meta = Meta {
        mode: source.mode,
        mtime: source.mtime,
    };
    let (from, hash) = resumed.map_or((0, None), |(from, hash)| (from, Some(hash)));
    let ended = s
        .conn
        .offer_download(size, meta, hash, crate::net::unix_now())?;
    let file = Outgoing::starting_at(source, from).map_err(DriveError::Io)?;
    if from > 0 {
        info!(
            "download {name:?} ({size} bytes) to {} offered, resuming after {from} bytes",
            s.who()
        );
    } else {
        info!("download {name:?} ({size} bytes) to {} offered", s.who());
    }
    let download = Download {
        file,
        name,
        started: now,
    };
    if let Some(signed) = ended {
        // Nothing left to send: its END went out with the OFFER.
        log_download_end(s, &download);
        audit(shared, Entry::Download(signed));
    } else {
        s.download = Some(download);
    }
    Ok(())
}

/// Abandons the download being sent because its source changed (`why`
/// says how): END of 32 zero bytes goes out in place of the rest, the
/// client discards what it got, and the session goes on. The log line is
/// within the refusal log's budget.
pub(super) fn abandon(
    s: &mut Session,
    shared: &mut Shared,
    now: Instant,
    why: &str,
) -> Result<(), DriveError> {
    let Some(dl) = s.download.take() else {
        return Ok(());
    };
    s.conn.abandon_send()?;
    if shared.refusals.allow(now) {
        warn!(
            "download {:?} to {} abandoned after {} of {} bytes: {why}",
            dl.name,
            s.who(),
            dl.file.sent(),
            dl.file.size()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Bench;
    use super::super::turn::Turn;
    use crate::proto::conn::SEND_HIGH_WATER;
    use crate::proto::limiter::DEFAULT_KEY_RATE;

    /// A file appended to while it is sent: the data stops, END of zeros
    /// goes out (the client discards the file), and the session goes on.
    #[test]
    fn a_download_whose_source_changes_is_abandoned_and_the_session_goes_on() {
        let size = 4 * SEND_HIGH_WATER;
        let mut b = Bench::established(DEFAULT_KEY_RATE, &[("grows.bin", size), ("b", 1)]);
        b.client
            .request_download("grows.bin", u64::MAX, None)
            .unwrap();
        b.send();
        // The client does not read: the server sends up to the mark.
        b.stall(true);
        assert_eq!(b.turn().unwrap(), Turn::Idle);
        assert!(b.session.download.is_some(), "the file is not all out");
        let path = b.shared.root.path().join("grows.bin");
        let mut f = std::fs::File::options().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, b"more").unwrap();
        b.stall(false);
        b.turn().unwrap();
        assert!(b.session.download.is_none());
        let events = b.receive().unwrap();
        assert!(events[0].starts_with("DownloadOffered"), "{events:?}");
        assert_eq!(events.last().unwrap(), "ReceiveAbandoned", "{events:?}");
        // The next request is served.
        b.client.request_download("b", u64::MAX, None).unwrap();
        b.send();
        b.turn().unwrap();
        let events = b.receive().unwrap();
        assert!(
            events[0].starts_with("DownloadOffered { size: 1"),
            "{events:?}"
        );
        assert!(events.last().unwrap().starts_with("ReceiveComplete"));
    }
}
