//! A small client of ssh-agent (draft-miller-ssh-agent): list the agent's
//! keys (SSH_AGENTC_REQUEST_IDENTITIES) and have it sign
//! (SSH_AGENTC_SIGN_REQUEST) with an Ed25519 one. Replies are read with a
//! length bound and a timeout; the agent's signature is checked before use.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::crypto::ed25519::{Sign, Signature, VerifyingKey, SIGNATURE_LEN, SSH_KEY_TYPE};
use crate::crypto::CryptoError;

use super::openssh::read_string;

/// Environment variable holding the agent's socket path.
pub const SOCK_ENV: &str = "SSH_AUTH_SOCK";

/// Longest agent reply accepted, in bytes (OpenSSH's agent uses the same
/// bound, AGENT_MAX_LEN).
pub const MAX_REPLY_LEN: usize = 256 * 1024;

/// How long one exchange with the agent may take, including a user's
/// confirmation for keys added with `ssh-add -c`.
pub const TIMEOUT: Duration = Duration::from_secs(60);

const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;

/// A key the agent holds, signing through the agent's socket.
pub struct AgentKey {
    sock: PathBuf,
    key: VerifyingKey,
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AgentKey({} via {})",
            self.key.fingerprint(),
            self.sock.display()
        )
    }
}

impl AgentKey {
    /// The agent at `sock` if it holds `key`; None if it does not.
    ///
    /// # Errors
    /// A message when the agent cannot be reached or answers badly.
    pub fn find(sock: &Path, key: &VerifyingKey) -> Result<Option<AgentKey>, String> {
        let reply = exchange(sock, &[REQUEST_IDENTITIES])?;
        let (&kind, mut rest) = reply.split_first().ok_or("empty reply")?;
        if kind != IDENTITIES_ANSWER {
            return Err(format!("agent answered {kind} to the key list request"));
        }
        let (count, r) = rest.split_first_chunk::<4>().ok_or("truncated key list")?;
        rest = r;
        let want = key.ssh_blob();
        for _ in 0..u32::from_be_bytes(*count) {
            let (blob, r) = read_string(rest).ok_or("truncated key list")?;
            let (_comment, r) = read_string(r).ok_or("truncated key list")?;
            rest = r;
            if blob == want.as_slice() {
                return Ok(Some(AgentKey {
                    sock: sock.to_path_buf(),
                    key: *key,
                }));
            }
        }
        Ok(None)
    }
}

impl Sign for AgentKey {
    fn verifying_key(&self) -> VerifyingKey {
        self.key
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature, CryptoError> {
        let fail = |why: String| CryptoError::Signer(format!("ssh-agent could not sign: {why}"));
        let blob = self.key.ssh_blob();
        let mut req = vec![SIGN_REQUEST];
        put_string(&mut req, &blob).map_err(fail)?;
        put_string(&mut req, msg).map_err(fail)?;
        req.extend_from_slice(&0u32.to_be_bytes());
        let reply = exchange(&self.sock, &req).map_err(fail)?;
        let sig = match reply.split_first() {
            Some((&SIGN_RESPONSE, rest)) => read_string(rest)
                .map(|(s, _)| s)
                .ok_or_else(|| fail("truncated reply".into()))?,
            _ => return Err(fail("the agent refused".into())),
        };
        // string "ssh-ed25519" || string of 64 bytes (RFC 8709 section 6).
        let (name, rest) = read_string(sig).ok_or_else(|| fail("truncated signature".into()))?;
        let (raw, rest) = read_string(rest).ok_or_else(|| fail("truncated signature".into()))?;
        if name != SSH_KEY_TYPE.as_bytes() || raw.len() != SIGNATURE_LEN || !rest.is_empty() {
            return Err(fail("not an ssh-ed25519 signature".into()));
        }
        let sig = Signature::from_bytes(raw)?;
        self.key.verify(msg, &sig).map_err(|_| {
            fail("its signature does not verify with the key it was asked for".into())
        })?;
        Ok(sig)
    }
}

/// Sends one request and reads one reply (uint32 length, then the body),
/// all within [`TIMEOUT`].
fn exchange(sock: &Path, body: &[u8]) -> Result<Vec<u8>, String> {
    exchange_within(sock, body, TIMEOUT)
}

/// [`exchange`] with one deadline for the whole exchange: an agent that
/// drips its reply a byte at a time cannot stretch it.
fn exchange_within(sock: &Path, body: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let io = |e: std::io::Error| format!("{}: {e}", sock.display());
    let mut s = UnixStream::connect(sock).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    put_string(&mut out, body)?;
    s.write_all(&out).map_err(io)?;
    let mut len = [0u8; 4];
    read_by(&mut s, &mut len, deadline).map_err(io)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY_LEN {
        return Err(format!(
            "reply of {len} bytes is over the limit of {MAX_REPLY_LEN}"
        ));
    }
    let mut reply = vec![0u8; len];
    read_by(&mut s, &mut reply, deadline).map_err(io)?;
    Ok(reply)
}

/// Fills `buf` from `s` before `deadline`.
fn read_by(s: &mut UnixStream, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    use std::io::ErrorKind;
    let late = || std::io::Error::new(ErrorKind::TimedOut, "the agent did not answer in time");
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf[filled..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(late())
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), String> {
    let len = u32::try_from(s.len()).map_err(|_| "message too long for the agent".to_string())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A one-shot fake agent that answers any request with `reply` (its
    /// length prefix included as given).
    fn fake_agent(reply: Vec<u8>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let listener = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut req = vec![0u8; u32::from_be_bytes(len) as usize];
            s.read_exact(&mut req).unwrap();
            let _ = s.write_all(&reply);
        });
        (dir, sock)
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn key() -> VerifyingKey {
        crate::crypto::ed25519::SigningKey::generate()
            .unwrap()
            .verifying_key()
    }

    #[test]
    fn reply_at_the_limit_is_read_and_past_it_refused() {
        let mut body = vec![IDENTITIES_ANSWER, 0, 0, 0, 0];
        body.resize(MAX_REPLY_LEN, 0);
        let (_d, sock) = fake_agent(framed(&body));
        assert!(AgentKey::find(&sock, &key()).unwrap().is_none());
        // Only the length is sent: nothing is allocated by it.
        let past = ((MAX_REPLY_LEN + 1) as u32).to_be_bytes().to_vec();
        let (_d, sock) = fake_agent(past);
        let err = AgentKey::find(&sock, &key()).unwrap_err();
        assert!(err.contains("over the limit"), "{err}");
    }

    #[test]
    fn one_deadline_holds_the_whole_exchange_however_the_reply_drips() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let listener = UnixListener::bind(&sock).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // A reply of 64 bytes, one every 20 ms: each read waits far
            // less than the deadline, all of them far more.
            let reply = framed(&[IDENTITIES_ANSWER; 60]);
            for b in reply {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[b]).is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let err =
            exchange_within(&sock, &[REQUEST_IDENTITIES], Duration::from_millis(200)).unwrap_err();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(
            err.contains("did not answer in time")
                || err.contains("timed out")
                || err.contains("Resource temporarily unavailable"),
            "{err}"
        );
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        for body in [
            vec![],
            vec![5],
            vec![IDENTITIES_ANSWER, 0, 0],
            vec![IDENTITIES_ANSWER, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9],
        ] {
            let (_d, sock) = fake_agent(framed(&body));
            assert!(AgentKey::find(&sock, &key()).is_err(), "{body:?}");
        }
        // A sign reply that is not an ssh-ed25519 signature.
        let k = key();
        let (_d, sock) = fake_agent(framed(&[SIGN_RESPONSE, 0, 0, 0, 1, 0]));
        let agent = AgentKey { sock, key: k };
        assert!(matches!(agent.sign(b"m"), Err(CryptoError::Signer(_))));
    }
}
