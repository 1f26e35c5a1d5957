//! Server handshake states: AwaitHello -> AwaitResponse -> established.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::crypto::ct;
use crate::crypto::ed25519::{SigningKey, VerifyingKey};
use crate::crypto::hkdf::Prk;

use super::key_schedule::{finished_mac, ApplicationSecrets, KeySchedule};
use super::transcript::Transcript;
use super::{
    signed_message, Ephemeral, PeerAuthenticated, CLIENT_SIGNATURE_CONTEXT,
    SERVER_SIGNATURE_CONTEXT,
};
use crate::proto::msgs::{inner, Challenge, Hello, Response, SessionParams};
use crate::proto::record::{Header, Opener, Output, RecordType, Sealer, CHALLENGE_LEN, HEADER_LEN};
use crate::proto::{ProtoError, PROTOCOL_VERSION};

/// A set of client keys, asked at each handshake: it may change while
/// the server runs (a reloaded authorized_keys file), and each handshake
/// sees the set in force when its RESPONSE arrives.
pub trait KeySet: Send + Sync + fmt::Debug {
    /// Whether `key` may complete the handshake now.
    fn allows(&self, key: &VerifyingKey) -> bool;
}

impl KeySet for HashSet<VerifyingKey> {
    fn allows(&self, key: &VerifyingKey) -> bool {
        self.contains(key)
    }
}

/// Which client keys the server accepts.
#[derive(Clone, Debug)]
pub enum ClientPolicy {
    /// Only the keys of this set (an authorized_keys file).
    Authorized(Arc<dyn KeySet>),
    /// Any key; the key seen is reported to the application.
    AnyClient,
}

/// What the server brings to every handshake.
pub struct ServerConfig {
    /// The server's Ed25519 host identity (it also signs download
    /// statements and, in the application, receipts and audit heads).
    pub identity: Arc<SigningKey>,
    /// Which clients may complete the handshake.
    pub clients: ClientPolicy,
    /// Limits announced to the client.
    pub params: SessionParams,
}

/// Where the server's ephemeral values (random and X25519 key) come from.
pub enum ServerEphemeral {
    /// Generated once a HELLO has parsed and carries our version, just
    /// before CHALLENGE: a connection that never sends a valid HELLO
    /// costs no key generation. Every real server uses this.
    Fresh,
    /// These values, for test vectors and tests only: reusing an
    /// ephemeral key across sessions gives up forward secrecy.
    Fixed(Ephemeral),
    /// Tests only: generation fails as a broken DRBG would.
    #[cfg(test)]
    Broken,
}

/// Waiting for HELLO.
pub struct AwaitHello {
    config: Arc<ServerConfig>,
    eph: ServerEphemeral,
}

impl AwaitHello {
    /// A server handshake whose ephemeral values come from `eph`.
    pub fn new(config: Arc<ServerConfig>, eph: ServerEphemeral) -> Self {
        AwaitHello { config, eph }
    }

    /// Processes HELLO (`record`: header and body) and writes CHALLENGE.
    /// A malformed HELLO or a wrong version is refused before any key
    /// generation; a non-contributory key before any signature or KDF
    /// work.
    ///
    /// # Errors
    /// `MalformedMessage`, `UnsupportedVersion`, `NonContributory`;
    /// `Crypto` when key generation (the DRBG) or another OpenSSL call
    /// fails.
    pub fn on_hello(
        self,
        record: &[u8],
        sealer: &mut Sealer,
        opener: &mut Opener,
        out: &mut impl Output,
    ) -> Result<AwaitResponse, ProtoError> {
        let hello = Hello::parse(&record[HEADER_LEN..])?;
        if hello.version != PROTOCOL_VERSION {
            return Err(ProtoError::UnsupportedVersion { got: hello.version });
        }
        let AwaitHello { config, eph } = self;
        let eph = match eph {
            ServerEphemeral::Fresh => Ephemeral::generate()?,
            ServerEphemeral::Fixed(eph) => eph,
            #[cfg(test)]
            ServerEphemeral::Broken => {
                return Err(ProtoError::Crypto(
                    crate::crypto::CryptoError::RandomRepeated,
                ))
            }
        };
        let server_public = *eph.key.public_key();
        let shared_secret = eph.key.diffie_hellman(&hello.ephemeral)?;

        let mut transcript = Transcript::new()?;
        transcript.add(record)?;
        let identity = config.identity.verifying_key();
        let unsigned = Challenge::encode_unsigned(&eph.random, &server_public, &identity);
        // CHALLENGE is always the server's first record: sequence number 0.
        let header = Header {
            kind: RecordType::Challenge,
            len: CHALLENGE_LEN,
            seq: 0,
        }
        .encode();
        transcript.add(&header)?;
        transcript.add(&unsigned)?;
        let sig = config.identity.sign(&signed_message(
            SERVER_SIGNATURE_CONTEXT,
            &transcript.hash()?,
        ))?;
        transcript.add(sig.as_bytes())?;
        sealer.plaintext(
            out,
            RecordType::Challenge,
            &[unsigned.as_slice(), sig.as_bytes()].concat(),
        );

        let schedule = KeySchedule::new(shared_secret)?;
        let th_challenge = transcript.hash()?;
        let hs = schedule.handshake_keys(&th_challenge)?;
        let (c_finished, s_finished) = schedule.finished_keys(&th_challenge)?;
        sealer.set_keys(&hs.server)?;
        opener.set_keys(&hs.client)?;
        Ok(AwaitResponse {
            config,
            schedule,
            c_finished,
            s_finished,
            transcript,
        })
    }
}

/// Sent CHALLENGE, waiting for RESPONSE.
pub struct AwaitResponse {
    config: Arc<ServerConfig>,
    schedule: KeySchedule,
    c_finished: Prk,
    s_finished: Prk,
    transcript: Transcript,
}

impl AwaitResponse {
    /// Processes RESPONSE (its decrypted body): checks the client's key
    /// confirmation, authorization and signature, and prepares
    /// SESSION_ESTABLISHED. Nothing is sent yet: the application admits
    /// the client ([`Verified::establish`]) or refuses it.
    ///
    /// # Errors
    /// `MalformedMessage`, `BadFinished("client")`, `ClientNotAuthorized`,
    /// `BadSignature("client handshake")`, `Crypto`.
    pub fn on_response(mut self, body: &[u8]) -> Result<Verified, ProtoError> {
        let response = Response::parse(body)?;
        self.transcript.add(&[inner::RESPONSE])?;
        self.transcript.add(response.identity.as_bytes())?;
        let th_signed = self.transcript.hash()?;
        self.transcript.add(response.signature.as_bytes())?;
        let expected = finished_mac(&self.c_finished, &self.transcript.hash()?)?;
        if !ct::eq(&expected, &response.finished) {
            return Err(ProtoError::BadFinished("client"));
        }
        if let ClientPolicy::Authorized(keys) = &self.config.clients {
            if !keys.allows(&response.identity) {
                return Err(ProtoError::ClientNotAuthorized(
                    response.identity.fingerprint(),
                ));
            }
        }
        response
            .identity
            .verify(
                &signed_message(CLIENT_SIGNATURE_CONTEXT, &th_signed),
                &response.signature,
            )
            .map_err(|_| ProtoError::BadSignature("client handshake"))?;
        self.transcript.add(&response.finished)?;

        let mut established = Vec::with_capacity(SessionParams::LEN + 32);
        self.config.params.encode_into(&mut established);
        self.transcript.add(&[inner::SESSION_ESTABLISHED])?;
        self.transcript.add(&established)?;
        let finished = finished_mac(&self.s_finished, &self.transcript.hash()?)?;
        self.transcript.add(&finished)?;
        established.extend_from_slice(&finished);

        let th_final = self.transcript.hash()?;
        let app = self
            .schedule
            .application_secrets(&th_final, PeerAuthenticated(()))?;
        Ok(Verified {
            client: response.identity,
            established,
            app,
            th_final,
        })
    }
}

/// A client whose RESPONSE verified, awaiting the application's decision:
/// SESSION_ESTABLISHED is ready but unsent, and the application keys are
/// derived but not in use. Refusing it (alert 8, Busy) goes out under the
/// handshake key, which the client still reads with.
pub struct Verified {
    client: VerifyingKey,
    /// The SESSION_ESTABLISHED body.
    established: Vec<u8>,
    app: ApplicationSecrets,
    /// TH_final (§3.2), which signed statements carry (§4.8).
    th_final: [u8; 32],
}

impl Verified {
    /// The client's verified (and authorized) identity key.
    pub fn client(&self) -> VerifyingKey {
        self.client
    }

    /// Admits the client: writes SESSION_ESTABLISHED under the handshake
    /// key, then switches both directions to application keys.
    ///
    /// # Errors
    /// `Crypto` or `KeyLimit` from the record layer.
    pub fn establish(
        self,
        sealer: &mut Sealer,
        opener: &mut Opener,
        out: &mut impl Output,
    ) -> Result<(VerifyingKey, [u8; 32]), ProtoError> {
        sealer.seal(out, inner::SESSION_ESTABLISHED, &[&self.established])?;
        sealer.set_traffic_secret(self.app.server)?;
        opener.set_traffic_secret(self.app.client)?;
        Ok((self.client, self.th_final))
    }
}
