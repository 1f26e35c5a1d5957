//! Wire helpers: moving bytes and events, splitting and opening records,
//! and sending what a hostile peer would.

use super::*;

/// A writer that takes at most `n` more bytes.
pub(super) struct Limited<'a>(pub(super) &'a mut Vec<u8>, pub(super) usize);

impl Write for Limited<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.extend_from_slice(&buf[..n]);
        self.1 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Everything `c` has queued for the wire.
pub(super) fn out(c: &mut ConnectionCore, now: Instant) -> Vec<u8> {
    let mut v = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut v, now).unwrap();
    }
    v
}

/// Feeds `c` from `pending`, dropping what it reads, and collects the
/// events until `pending` is empty or `c` reads no more (its buffer is
/// full while it waits for the application).
pub(super) fn pump(
    c: &mut impl Endpoint,
    pending: &mut Vec<u8>,
    now: Instant,
) -> Result<Vec<Got>, ProtoError> {
    let mut got = Vec::new();
    loop {
        let mut read = 0;
        if !pending.is_empty() {
            read = c.read_tls(&mut &pending[..], now).unwrap();
            pending.drain(..read);
        }
        let before = got.len();
        while let Some(ev) = c.next_got()? {
            got.push(ev);
        }
        if pending.is_empty() || (read == 0 && got.len() == before) {
            return Ok(got);
        }
    }
}

/// Feeds all of `bytes` to `c` and collects the events.
///
/// # Panics
/// When `c` stops reading before the end of `bytes`.
pub(super) fn feed(
    c: &mut impl Endpoint,
    bytes: &[u8],
    now: Instant,
) -> Result<Vec<Got>, ProtoError> {
    let mut pending = bytes.to_vec();
    let got = pump(c, &mut pending, now)?;
    assert!(pending.is_empty(), "{} bytes not read", pending.len());
    Ok(got)
}

/// Feeds `bytes` and then the end of the stream; returns the error the
/// connection must report (a length changed upward only shows at the end).
pub(super) fn must_fail(c: &mut impl Endpoint, bytes: &[u8], now: Instant) -> ProtoError {
    if let Err(e) = feed(c, bytes, now) {
        return e;
    }
    c.read_tls(&mut &[][..], now).unwrap();
    match c.next_got() {
        Err(e) => e,
        Ok(ev) => panic!("tampered bytes were accepted: {ev:?}"),
    }
}

/// Splits a byte stream into whole records.
pub(super) fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[2..6].try_into().unwrap()) as usize;
        v.push(rest[..HEADER_LEN + len].to_vec());
        rest = &rest[HEADER_LEN + len..];
    }
    v
}

/// A record's sequence number, from its header.
pub(super) fn seq_of(record: &[u8]) -> u64 {
    u64::from_be_bytes(record[6..14].try_into().unwrap())
}

/// A record's payload length, from its header.
pub(super) fn len_of(record: &[u8]) -> usize {
    u32::from_be_bytes(record[2..6].try_into().unwrap()) as usize
}

/// The exact bytes of a plaintext alert (docs/PROTOCOL.md §5.2): record
/// type 3, length 1, sequence number 0, the code.
pub(super) fn plain_alert(code: AlertCode) -> Vec<u8> {
    let mut v = vec![PROTOCOL_VERSION, 3, 0, 0, 0, 1];
    v.extend_from_slice(&[0; 8]);
    v.push(code as u8);
    v
}

/// Checks that `bytes` is exactly one encrypted ALERT record numbered
/// `seq`, opened with the sealing side's own key (so it also works when
/// the peer cannot read it), and returns its code.
pub(super) fn sole_alert(side: &mut ConnectionCore, bytes: &[u8], seq: u64) -> AlertCode {
    let recs = records(bytes);
    assert_eq!(recs.len(), 1, "exactly one record: {bytes:02x?}");
    let rec = &recs[0];
    assert_eq!(rec[1], RecordType::Encrypted as u8);
    assert_eq!(seq_of(rec), seq, "alert number");
    assert_eq!(len_of(rec), 2 + TAG_LEN, "inner type, code, tag");
    let (t, body) = side.sealer.open_own(rec).unwrap();
    assert_eq!(t, inner::ALERT);
    AlertCode::from_u8(body[0])
}

/// Opens every record in `bytes` with the sealing side's own key; returns
/// inner types and bodies.
pub(super) fn open_own(side: &mut ConnectionCore, bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    records(bytes)
        .iter()
        .map(|r| side.sealer.open_own(r).unwrap())
        .collect()
}

/// The shared core of either role, to send what a hostile peer would.
pub(super) fn core(c: &mut impl Endpoint) -> &mut ConnectionCore {
    c
}

/// Makes `c` send a raw application message, bypassing its own state
/// checks, as a hostile peer would.
pub(super) fn send_raw(c: &mut impl Endpoint, t: u8, body: &[u8]) {
    core(c).send(t, &[body]).unwrap();
}

/// The client sends `t` with `body` raw; the server must fail with
/// `want` and queue exactly one ALERT 2 (what it had queued before is
/// dropped).
pub(super) fn server_fails(w: &mut World, t: u8, body: &[u8], want: ProtoError) {
    out(&mut w.server, w.now);
    send_raw(&mut w.client, t, body);
    let err = w.c2s().unwrap_err();
    assert_eq!(format!("{err:?}"), format!("{want:?}"));
    let bytes = out(&mut w.server, w.now);
    let seq = seq_of(&bytes);
    assert_eq!(
        sole_alert(&mut w.server, &bytes, seq),
        AlertCode::ProtocolError
    );
}

/// The server sends `t` with `body` raw; the client must fail with
/// `want` and queue exactly one ALERT 2 (what it had queued before is
/// dropped).
pub(super) fn client_fails(w: &mut World, t: u8, body: &[u8], want: ProtoError) {
    out(&mut w.client, w.now);
    send_raw(&mut w.server, t, body);
    let err = w.s2c().unwrap_err();
    assert_eq!(format!("{err:?}"), format!("{want:?}"));
    let bytes = out(&mut w.client, w.now);
    let seq = seq_of(&bytes);
    assert_eq!(
        sole_alert(&mut w.client, &bytes, seq),
        AlertCode::ProtocolError
    );
}

pub(super) fn unexpected(got: &'static str, state: &'static str) -> ProtoError {
    ProtoError::UnexpectedMessage { got, state }
}

pub(super) fn chunk(offset: u64, data: &[u8]) -> Vec<u8> {
    [offset.to_be_bytes().as_slice(), data].concat()
}

/// Flips one bit at `at` of `bytes`.
pub(super) fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

/// An END body with `sha256`, time [`T0`] and a signature of no key:
/// for files whose hash does not match or that are skipped, where no
/// signature is checked.
pub(super) fn end_body(sha256: [u8; 32]) -> [u8; END_LEN] {
    End::Signed {
        sha256,
        time: T0,
        signature: Signature::from_bytes(&[0x55; 64]).unwrap(),
    }
    .encode()
}
