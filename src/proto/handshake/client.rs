//! Client handshake states: AwaitChallenge -> (AwaitTrust) -> AwaitEstablished.

use std::sync::Arc;

use crate::crypto::ct;
use crate::crypto::ed25519::{Fingerprint, Sign, VerifyingKey};
use crate::crypto::x25519::EphemeralSecret;

use super::key_schedule::{finished_mac, KeySchedule};
use super::transcript::Transcript;
use super::{
    signed_message, Ephemeral, PeerAuthenticated, CLIENT_SIGNATURE_CONTEXT,
    SERVER_SIGNATURE_CONTEXT,
};
use crate::crypto::hkdf::Prk;
use crate::proto::msgs::{
    inner, Challenge, Established, Hello, SessionParams, CHALLENGE_SIGNED_LEN,
};
use crate::proto::record::{Opener, Output, RecordType, Sealer, HEADER_LEN};
use crate::proto::{ProtoError, PROTOCOL_VERSION};

/// Which server identity the client will accept.
#[derive(Clone, Copy, Debug)]
pub enum ServerTrust {
    /// Exactly this key (a `--server-key` pin or a known_hosts entry).
    Pinned(Fingerprint),
    /// Unknown server: stop at CHALLENGE and let the application decide
    /// (trust on first use).
    Ask,
}

/// What the client brings to a handshake.
pub struct ClientConfig {
    /// The client's Ed25519 identity.
    pub identity: Arc<dyn Sign>,
    /// Which server key to accept.
    pub trust: ServerTrust,
}

/// Sent HELLO, waiting for CHALLENGE.
pub struct AwaitChallenge {
    config: ClientConfig,
    key: EphemeralSecret,
    transcript: Transcript,
}

/// Outcome of processing CHALLENGE.
pub enum AfterChallenge {
    /// The server key is pinned and matched: RESPONSE was sent.
    Sent(AwaitEstablished),
    /// The server key is unknown: the application must decide.
    NeedsTrust(Box<AwaitTrust>),
}

impl AwaitChallenge {
    /// Writes HELLO to `out` and returns the waiting state.
    ///
    /// # Errors
    /// `Crypto` on an OpenSSL failure.
    pub fn start(
        config: ClientConfig,
        eph: Ephemeral,
        sealer: &mut Sealer,
        out: &mut impl Output,
    ) -> Result<Self, ProtoError> {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            random: eph.random,
            ephemeral: *eph.key.public_key(),
        };
        let start = out.len();
        sealer.plaintext(out, RecordType::Hello, &hello.encode());
        let mut transcript = Transcript::new()?;
        transcript.add(&out.queued()[start..])?;
        Ok(AwaitChallenge {
            config,
            key: eph.key,
            transcript,
        })
    }

    /// Processes CHALLENGE (`record` is the whole record: header and body).
    ///
    /// # Errors
    /// `MalformedMessage`; `ServerKeyMismatch` when the key is not the
    /// pinned one; then as [`AwaitTrust::trust`].
    pub fn on_challenge(
        mut self,
        record: &[u8],
        sealer: &mut Sealer,
        opener: &mut Opener,
        out: &mut impl Output,
    ) -> Result<AfterChallenge, ProtoError> {
        let challenge = Challenge::parse(&record[HEADER_LEN..])?;
        self.transcript
            .add(&record[..HEADER_LEN + CHALLENGE_SIGNED_LEN])?;
        let th_signed = self.transcript.hash()?;
        self.transcript
            .add(&record[HEADER_LEN + CHALLENGE_SIGNED_LEN..])?;
        let pending = AwaitTrust {
            state: self,
            challenge,
            th_signed,
        };
        match pending.state.config.trust {
            ServerTrust::Pinned(expected) => {
                let seen = pending.challenge.identity.fingerprint();
                if seen != expected {
                    return Err(ProtoError::ServerKeyMismatch { expected, seen });
                }
                pending.trust(sealer, opener, out).map(AfterChallenge::Sent)
            }
            ServerTrust::Ask => Ok(AfterChallenge::NeedsTrust(Box::new(pending))),
        }
    }
}

/// CHALLENGE received from an unknown server; waiting for the
/// application's decision.
pub struct AwaitTrust {
    state: AwaitChallenge,
    challenge: Challenge,
    th_signed: [u8; 32],
}

impl AwaitTrust {
    /// The server's identity key, to show or record.
    pub fn server_key(&self) -> VerifyingKey {
        self.challenge.identity
    }

    /// Continues with the presented key as the trusted one: verifies the
    /// server's signature under it, derives handshake keys and sends
    /// RESPONSE.
    ///
    /// # Errors
    /// `BadSignature("server handshake")`; `NonContributory`; `Crypto`.
    pub fn trust(
        self,
        sealer: &mut Sealer,
        opener: &mut Opener,
        out: &mut impl Output,
    ) -> Result<AwaitEstablished, ProtoError> {
        let AwaitTrust {
            state,
            challenge,
            th_signed,
        } = self;
        let AwaitChallenge {
            config,
            key,
            mut transcript,
        } = state;
        let server_key = challenge.identity;
        server_key
            .verify(
                &signed_message(SERVER_SIGNATURE_CONTEXT, &th_signed),
                &challenge.signature,
            )
            .map_err(|_| ProtoError::BadSignature("server handshake"))?;
        let shared = key.diffie_hellman(&challenge.ephemeral)?;
        let schedule = KeySchedule::new(shared)?;
        let th_challenge = transcript.hash()?;
        let hs = schedule.handshake_keys(&th_challenge)?;
        let (c_finished, s_finished) = schedule.finished_keys(&th_challenge)?;
        sealer.set_keys(&hs.client)?;
        opener.set_keys(&hs.server)?;

        // RESPONSE = identity | Sig_c(TH through identity) | finished_c(TH through signature)
        let mut body = Vec::with_capacity(1 + 32 + 64 + 32);
        body.push(inner::RESPONSE);
        body.extend_from_slice(config.identity.verifying_key().as_bytes());
        transcript.add(&body)?;
        let sig = config.identity.sign(&signed_message(
            CLIENT_SIGNATURE_CONTEXT,
            &transcript.hash()?,
        ))?;
        transcript.add(sig.as_bytes())?;
        let finished = finished_mac(&c_finished, &transcript.hash()?)?;
        transcript.add(&finished)?;
        body.extend_from_slice(sig.as_bytes());
        body.extend_from_slice(&finished);
        sealer.seal(out, body[0], &[&body[1..]])?;
        // The server reads the client's next record under application keys,
        // which the client cannot have before SESSION_ESTABLISHED: until
        // then it has nothing to say (not even an alert).
        sealer.retire_keys();
        Ok(AwaitEstablished {
            schedule,
            s_finished,
            transcript,
            server_key,
        })
    }
}

/// Sent RESPONSE, waiting for SESSION_ESTABLISHED.
pub struct AwaitEstablished {
    schedule: KeySchedule,
    s_finished: Prk,
    transcript: Transcript,
    server_key: VerifyingKey,
}

impl AwaitEstablished {
    /// Processes SESSION_ESTABLISHED (its decrypted body): checks the
    /// server's key confirmation and switches both directions to
    /// application keys. Returns the server key, the session parameters
    /// and TH_final (§3.2), which signed statements carry (§4.8).
    ///
    /// # Errors
    /// `MalformedMessage`; `BadFinished("server")`; `Crypto`.
    pub fn on_established(
        mut self,
        body: &[u8],
        sealer: &mut Sealer,
        opener: &mut Opener,
    ) -> Result<(VerifyingKey, SessionParams, [u8; 32]), ProtoError> {
        let est = Established::parse(body)?;
        self.transcript.add(&[inner::SESSION_ESTABLISHED])?;
        self.transcript.add(&body[..SessionParams::LEN])?;
        let expected = finished_mac(&self.s_finished, &self.transcript.hash()?)?;
        if !ct::eq(&expected, &est.finished) {
            return Err(ProtoError::BadFinished("server"));
        }
        self.transcript.add(&est.finished)?;
        let th_final = self.transcript.hash()?;
        let app = self
            .schedule
            .application_secrets(&th_final, PeerAuthenticated(()))?;
        sealer.set_traffic_secret(app.client)?;
        opener.set_traffic_secret(app.server)?;
        Ok((self.server_key, est.params, th_final))
    }
}
