//! One connection's turn: read, handle events, produce download data and
//! write, within fixed budgets, so no connection (one fast transfer, a
//! flood of tiny records) can starve the others.

use std::io::{Read, Write};
use std::time::Instant;

use log::{info, warn};
use mio::Token;

use super::downloads::abandon;
use super::peer::{log_end, DriveError, Session, Shared};
use super::requests::{audit, charge, handle_events, log_download_end};
use super::Server;
use crate::audit::Entry;
use crate::fs::Kind;
use crate::net::pump::{self, ReadEnd};
use crate::net::transfer::SendError;
use crate::proto::conn::{ListingStep, SEND_HIGH_WATER};
use crate::proto::limiter::Cost;
use crate::proto::msgs::{EntryKind, ListEntry};

/// Rounds one connection may run per wake-up before the others get a turn
/// (each round moves at most a receive buffer in and a send high-water mark
/// out, so about 12 MiB in all).
pub const ROUNDS_PER_TURN: usize = 8;

/// Events one connection may handle per turn: bounds the work a flood of
/// tiny records can make before the others get a turn.
pub const EVENTS_PER_TURN: usize = 1024;

/// Whether a source of work stopped because it was done for now, or because
/// its turn ended with work left (it must be served again without waiting
/// for a new readiness event, which edge-triggered polling would not
/// deliver).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turn {
    Idle,
    MoreWork,
}

/// Reads, handles events, produces download data or listing pages and
/// writes, until the socket would block or the turn ends.
pub(super) fn drive(
    s: &mut Session,
    sock: &mut (impl Read + Write),
    token: Token,
    shared: &mut Shared,
) -> Result<Turn, DriveError> {
    let mut budget = EVENTS_PER_TURN;
    for _ in 0..ROUNDS_PER_TURN {
        let now = Instant::now();
        // Backpressure: while the peer does not take our output, read none
        // of its input, so answers to a request flood cannot pile up. The
        // writable event brings us back here.
        if pump::write(&mut s.conn, sock, now).map_err(DriveError::Io)?
            && s.conn.pending_output() >= SEND_HIGH_WATER
        {
            return Ok(Turn::Idle);
        }
        let end = pump::read(&mut s.conn, sock, now).map_err(DriveError::Io)?;
        // The connection reads no record while a resume point is hashed,
        // so it would not act on the end: noted here for the server.
        s.peer_gone |= end == ReadEnd::Eof;
        let held_back = handle_events(s, token, shared, now, &mut budget)?;
        if s.handoff_due {
            // The loop it moves to handles the rest.
            return Ok(Turn::MoreWork);
        }
        let waited = s.conn.waits_for_app();
        let paged = produce(s, shared, now)?;
        // A file or listing that just ended lets pipelined requests already
        // in the buffer be read; while the connection waits for this side
        // (a commit, a decision), a full buffer is no reason to go round.
        let released = waited && !s.conn.waits_for_app();
        let blocked = pump::write(&mut s.conn, sock, now).map_err(DriveError::Io)?;
        if budget == 0 || (paged && s.conn.wants_listing()) {
            // A listing reads one page per turn: the others get theirs
            // before its next.
            return Ok(Turn::MoreWork);
        }
        if held_back && blocked {
            // Requests wait in the receive buffer until the peer reads our
            // answers; the writable event resumes here.
            return Ok(Turn::Idle);
        }
        let more_in =
            (end == ReadEnd::BufferFull && !s.conn.waits_for_app()) || held_back || released;
        let more_out = (s.conn.wants_data() || s.conn.wants_listing()) && !blocked;
        if !more_in && !more_out {
            return Ok(Turn::Idle);
        }
    }
    Ok(Turn::MoreWork)
}

/// Feeds download data to the connection while it wants more, or one
/// listing page if it wants one (then `true`). A file that changed since
/// it was opened is abandoned (the client discards it) and the session
/// goes on; a file that cannot be read ends the connection.
fn produce(s: &mut Session, shared: &mut Shared, now: Instant) -> Result<bool, DriveError> {
    if let Some(dl) = &mut s.download {
        match dl.file.pump(&mut s.conn, &mut shared.read_buf) {
            Ok(Some(signed)) => {
                if let Some(dl) = s.download.take() {
                    log_download_end(s, &dl);
                }
                audit(shared, Entry::Download(signed));
            }
            Ok(None) => {}
            Err(SendError::Changed(why)) => abandon(s, shared, now, &why)?,
            Err(SendError::Read(e)) => return Err(DriveError::Io(e)),
            Err(SendError::Proto(e)) => return Err(DriveError::Proto(e)),
        }
    }
    produce_listing(s, shared, now)
}

/// Sends one listing page if the connection has room for it (then
/// `true`): at most [`PAGE_ENTRIES`](crate::proto::msgs::PAGE_ENTRIES)
/// directory entries read, and the turn ends after it, so a long listing
/// costs each turn a bounded amount and the other sessions keep their
/// turns. Each page after the first is charged to the key as one request
/// (the LIST paid for the first), so listing a large directory over and
/// over costs in proportion. A client that does not read holds one page
/// and the bounded output, never the directory. A directory that cannot be
/// read, before the first page or after any, ends the listing with RESULT
/// 5 (the connection sends it).
fn produce_listing(s: &mut Session, shared: &mut Shared, now: Instant) -> Result<bool, DriveError> {
    if !s.conn.wants_listing() {
        return Ok(false);
    }
    let Some(lister) = &mut s.listing else {
        return Ok(false);
    };
    let mut entries = lister.map(|r| {
        r.map(|e| ListEntry {
            kind: match e.kind {
                Kind::File => EntryKind::File,
                Kind::Dir => EntryKind::Dir,
            },
            name: e.name,
            size: e.size,
            mtime: e.mtime,
            mode: e.mode,
        })
    });
    match s.conn.send_listing_page(&mut entries)? {
        ListingStep::More => charge(s, shared, now, Cost::Work),
        ListingStep::Done { entries } => {
            s.listing = None;
            info!("listing ({entries} entries) to {}", s.who());
        }
        ListingStep::SourceFailed(e) => {
            s.listing = None;
            warn!("listing for {} failed: {e}", s.who());
        }
    }
    Ok(true)
}

impl Server {
    pub(super) fn serve_peer(&mut self, token: Token) {
        let Some(peer) = self.peers.get_mut(&token) else {
            return;
        };
        if peer.session.client.is_none() && !self.handshakes.take() {
            self.again(token);
            return;
        }
        let outcome = drive(&mut peer.session, &mut peer.sock, token, &mut self.shared);
        let keep = match outcome {
            // Waiting on the hasher, it reads no record: a client that has
            // left ends its session (and its hashing) now, not when the
            // whole prefix is hashed.
            Ok(_) if peer.session.peer_gone && peer.session.hashing.is_some() => {
                info!(
                    "{} left while its resume point was being hashed",
                    peer.session.who()
                );
                false
            }
            Ok(_) if peer.session.handoff_due && !peer.session.conn.is_closed() => {
                peer.session.handoff_due = false;
                self.hand_off(token);
                self.end_superseded();
                return;
            }
            Ok(turn) if !peer.session.conn.is_closed() => {
                let wanted = pump::interest(&peer.session.conn);
                let registry = self.poll.registry();
                let ok = pump::update_interest(
                    registry,
                    &mut peer.sock,
                    token,
                    &mut peer.interest,
                    wanted,
                )
                .is_ok();
                if ok && turn == Turn::MoreWork {
                    self.again(token);
                }
                ok
            }
            Ok(_) => {
                // A CLOSE can come before authentication: such lines are
                // within the budget of unauthenticated ones.
                if peer.session.client.is_some() || self.shared.refusals.allow(Instant::now()) {
                    info!("{} closed the session", peer.session.who());
                }
                false
            }
            Err(e) => {
                log_end(&peer.session, &e, &mut self.shared.refusals, Instant::now());
                false
            }
        };
        if !keep {
            self.drop_peer(token);
        }
        self.end_superseded();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Bench;
    use super::*;
    use crate::crypto::aead::TAG_LEN;
    use crate::proto::limiter::DEFAULT_KEY_RATE;
    use crate::proto::record::HEADER_LEN;
    use crate::proto::{CHUNK_LEN, MAX_PLAINTEXT_LEN};

    /// Issue 8: a client that sends LIST and never reads pinned the whole
    /// listing (100,000 files of 200-byte names: about 21 MB) in the server's
    /// output. Now the session holds less than SEND_HIGH_WATER plus one
    /// record, and the rest follows once the client reads.
    #[test]
    fn a_listing_to_a_client_that_does_not_read_keeps_the_output_bounded() {
        let n = 100_000;
        let record = HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
        let mut b = Bench::established(DEFAULT_KEY_RATE, &[]);
        // Hard links: no inode each, many times faster to make than files;
        // at most 10,000 to one file (file systems cap the link count).
        let root = b.shared.root.path().to_path_buf();
        let names: Vec<String> = (0..n)
            .map(|i| format!("{i:06}-{}", "x".repeat(193)))
            .collect();
        for group in names.chunks(10_000) {
            std::fs::File::create(root.join(&group[0])).unwrap();
            for name in &group[1..] {
                std::fs::hard_link(root.join(&group[0]), root.join(name)).unwrap();
            }
        }
        b.client.request_list("").unwrap();
        b.send();
        b.stall(true);
        // The client reads nothing: each turn reads one page and hands
        // back MoreWork; turn after turn the output fills to the mark and no
        // further, and the turn that reaches it is Idle.
        let mut turns = 0;
        loop {
            turns += 1;
            assert!(turns <= 100, "{turns} turns and the output not full");
            let turn = b.turn().unwrap();
            assert!(b.session.conn.pending_output() < SEND_HIGH_WATER + record);
            if !b.session.conn.wants_listing() {
                assert_eq!(turn, Turn::Idle, "turn {turns}");
                break;
            }
            assert_eq!(turn, Turn::MoreWork, "turn {turns}");
        }
        assert!(turns > 2, "a turn read more than one page");
        let pending = b.session.conn.pending_output();
        assert!(pending >= SEND_HIGH_WATER, "{pending} bytes pending");
        for _ in 0..3 {
            assert_eq!(b.turn().unwrap(), Turn::Idle);
            assert_eq!(b.session.conn.pending_output(), pending);
            assert!(b.session.listing.is_some(), "the rest waits for the client");
        }
        b.stall(false);
        let mut events = Vec::new();
        loop {
            let turn = b.turn().unwrap();
            events.extend(b.receive().unwrap());
            if b.session.listing.is_none() {
                break;
            }
            // Nothing blocked: no readiness event would resume the rest.
            assert_eq!(turn, Turn::MoreWork, "pages left after a turn");
        }
        assert_eq!(events.len(), 1);
        assert!(events[0].starts_with("Listing("));
        assert_eq!(events[0].matches("ListEntry {").count(), n);
    }

    #[test]
    fn a_turn_handles_events_per_turn_events_and_leaves_the_rest_for_the_next() {
        for sent in [EVENTS_PER_TURN, EVENTS_PER_TURN + 1] {
            let mut b = Bench::established(DEFAULT_KEY_RATE, &[]);
            let size = 2 * EVENTS_PER_TURN as u64;
            b.client
                .request_upload("tiny.bin", size, false, None, false, 0)
                .unwrap();
            // The OFFER alone first: its turn accepts the upload.
            b.send();
            assert_eq!(b.turn().unwrap(), Turn::Idle);
            assert!(b.session.upload.is_some(), "the upload was accepted");
            // One byte per record: one event each.
            for _ in 0..sent {
                b.client.send_data(&[7]).unwrap();
            }
            b.send();
            let written = |b: &Bench| b.session.upload.as_ref().unwrap().file.staged().written();
            assert_eq!(b.turn().unwrap(), Turn::MoreWork, "{sent} events");
            assert_eq!(written(&b), EVENTS_PER_TURN as u64, "{sent} events");
            assert_eq!(b.turn().unwrap(), Turn::Idle, "{sent} events");
            assert_eq!(written(&b), sent as u64);
        }
    }

    #[test]
    fn a_turn_runs_rounds_per_turn_rounds_and_leaves_the_rest_for_the_next() {
        // A round sends full chunks until the output reaches SEND_HIGH_WATER:
        // four (their record overhead tips the fourth over the mark). No
        // ACCEPT: the turn that reads the GET offers the file and starts
        // sending it.
        let per_round = (SEND_HIGH_WATER / CHUNK_LEN) as u64;
        let limit = ROUNDS_PER_TURN as u64 * per_round * CHUNK_LEN as u64;
        let sent = |b: &Bench| b.session.download.as_ref().unwrap().file.sent();
        for size in [limit, limit + 1] {
            let name = "big.bin";
            let mut b = Bench::established(DEFAULT_KEY_RATE, &[(name, size as usize)]);
            b.client.request_download(name, size, None).unwrap();
            b.send();
            // The turn ends after its rounds, or because the file ended
            // (requests pipelined behind it may be read now): either way
            // it is served again.
            assert_eq!(b.turn().unwrap(), Turn::MoreWork, "{size} bytes");
            if size > limit {
                assert_eq!(sent(&b), limit, "{size} bytes");
                assert_eq!(b.turn().unwrap(), Turn::Idle, "{size} bytes");
            }
            assert!(b.session.download.is_none(), "{size} bytes: all sent");
            let events = b.receive().unwrap();
            assert!(events[0].starts_with("DownloadOffered"), "{events:?}");
            assert!(events.last().unwrap().starts_with("ReceiveComplete"));
        }
    }

    /// PROTOCOL.md §4.3, server rules 4 and 5: a GET read while answers are
    /// owed is held, and the turn waits for the committer without going
    /// round (no busy loop over the buffered request); once the answers
    /// are given, the GET is served after them.
    #[test]
    fn a_get_behind_owed_uploads_waits_for_the_committer_and_follows_their_results() {
        let mut b = Bench::established(DEFAULT_KEY_RATE, &[]);
        for i in 0..3u8 {
            let path = format!("u{i}");
            assert_eq!(
                b.client
                    .request_upload(&path, 1, false, None, false, 0)
                    .unwrap(),
                None
            );
            b.client.send_data(&[i]).unwrap();
        }
        b.client.request_download("u1", u64::MAX, None).unwrap();
        b.send();
        for _ in 0..2 {
            assert_eq!(b.turn().unwrap(), Turn::Idle);
            assert_eq!(b.session.conn.answers_owed(), 3);
            assert!(b.session.conn.waits_for_app(), "the GET is held");
            assert!(b.session.download.is_none());
            assert_eq!(b.receive().unwrap(), Vec::<String>::new());
        }
        b.commit_all();
        b.turn().unwrap();
        let events = b.receive().unwrap();
        assert_eq!(events.len(), 6, "{events:?}");
        for e in &events[..3] {
            assert!(e.starts_with("Stored(Receipt"), "{events:?}");
        }
        assert!(
            events[3].starts_with("DownloadOffered { size: 1"),
            "{events:?}"
        );
        assert_eq!(events[4], "data");
        assert!(events[5].starts_with("ReceiveComplete"), "{events:?}");
    }
}
