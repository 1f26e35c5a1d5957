//! The handshake: identities, trust, messages out of order, and which
//! alert (sealed, plaintext or none) each failure queues. Field tampering
//! is in tampering.rs.

use super::*;

#[test]
fn unknown_server_key_stops_until_the_application_trusts_it() {
    let mut w = world_with(Some(ServerTrust::Ask), true);
    w.c2s().unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::ServerKeyUnknown(w.server_key)]);
    assert!(!w.client.wants_write(), "no RESPONSE before the decision");
    assert!(w.client.peer_key().is_none());
    w.client.trust_server_key().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Established]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Established]);
    assert_eq!(w.client.peer_key(), Some(w.server_key));
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
}

#[test]
fn established_reports_the_server_key_and_its_limits() {
    let mut w = world();
    w.c2s().unwrap();
    w.s2c().unwrap();
    w.c2s().unwrap();
    let bytes = out(&mut w.server, w.now);
    w.client.read_tls(&mut &bytes[..], w.now).unwrap();
    match w.client.next_event().unwrap() {
        Some(ClientEvent::Established { server, params: p }) => {
            assert_eq!(server, w.server_key);
            assert_eq!(p, params());
        }
        other => panic!("{other:?}"),
    }
}

// ---- identities ------------------------------------------------------------

#[test]
fn wrong_pinned_key_is_refused_naming_the_key_seen() {
    let other = SigningKey::generate()
        .unwrap()
        .verifying_key()
        .fingerprint();
    let mut w = world_with(Some(ServerTrust::Pinned(other)), true);
    w.c2s().unwrap();
    match w.s2c().unwrap_err() {
        ProtoError::ServerKeyMismatch { expected, seen } => {
            assert_eq!(expected, other);
            assert_eq!(seen, w.server_key.fingerprint());
        }
        e => panic!("{e:?}"),
    }
    assert!(!w.client.wants_write(), "nothing sent to an impostor");
}

#[test]
fn unauthorized_client_is_refused_and_told() {
    let mut w = world_with(None, false);
    w.c2s().unwrap();
    w.s2c().unwrap();
    match w.c2s().unwrap_err() {
        ProtoError::ClientNotAuthorized(fp) => {
            assert_eq!(fp, w.client_key.verifying_key().fingerprint())
        }
        e => panic!("{e:?}"),
    }
    // One alert under the server's handshake key (seq 1), no
    // SESSION_ESTABLISHED; the client reads it.
    let bytes = out(&mut w.server, w.now);
    assert_eq!(
        sole_alert(&mut w.server, &bytes, 1),
        AlertCode::Unauthorized
    );
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::Unauthorized))
    ));
}

#[test]
fn any_client_policy_accepts_an_unknown_key() {
    let identity = Arc::new(SigningKey::generate().unwrap());
    let mut w = world_with(
        Some(ServerTrust::Pinned(identity.verifying_key().fingerprint())),
        false,
    );
    w.server_identity = identity.clone();
    w.server = server(
        identity,
        ClientPolicy::AnyClient,
        params(),
        Timeouts::default(),
        w.now,
    );
    w.handshake();
    assert_eq!(w.server.peer_key(), Some(w.client_key.verifying_key()));
}

/// Under trust on first use the signature is checked only once the user
/// trusts the key; a bad one then fails before any key exists, so the
/// client queues nothing.
#[test]
fn tofu_checks_the_signature_after_the_decision() {
    let mut w = world_with(Some(ServerTrust::Ask), true);
    w.c2s().unwrap();
    let ch = out(&mut w.server, w.now);
    let got = feed(&mut w.client, &flip(&ch, HEADER_LEN + 100), w.now).unwrap();
    assert_eq!(got, vec![Got::ServerKeyUnknown(w.server_key)]);
    assert!(matches!(
        w.client.trust_server_key(),
        Err(ProtoError::BadSignature("server handshake"))
    ));
    assert!(!w.client.wants_write());
    assert!(matches!(
        w.client.next_event(),
        Err(ProtoError::BadSignature("server handshake"))
    ));
}

/// A client whose handshake fails while it awaits SESSION_ESTABLISHED
/// sends nothing: the server already reads the client's direction under
/// application keys, which the client cannot derive yet, so an alert under
/// the client's handshake key would only look like tampering to the
/// server (docs/PROTOCOL.md §5.2). Fails on an implementation that seals
/// an alert under the retired handshake key.
#[test]
fn client_failing_while_awaiting_established_sends_nothing() {
    // A tampered SESSION_ESTABLISHED: BadRecord.
    for at in [13, HEADER_LEN + 3, HEADER_LEN + 61 - 2] {
        let mut w = world();
        let (_, _, response) = w.handshake_records();
        feed(&mut w.server, &response, w.now).unwrap();
        let est = out(&mut w.server, w.now);
        let err = feed(&mut w.client, &flip(&est, at), w.now).unwrap_err();
        assert!(matches!(err, ProtoError::BadRecord), "byte {at}: {err:?}");
        assert!(!w.client.wants_write(), "byte {at}: no alert");
        assert!(matches!(w.client.next_event(), Err(ProtoError::BadRecord)));
    }

    // A SESSION_ESTABLISHED that decrypts but whose key confirmation is
    // wrong (a server that never saw the RESPONSE).
    let mut w = world();
    let _ = w.handshake_records();
    send_raw(&mut w.server, inner::SESSION_ESTABLISHED, &[0u8; 44]);
    let bytes = out(&mut w.server, w.now);
    let err = feed(&mut w.client, &bytes, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadFinished("server")), "{err:?}");
    assert!(!w.client.wants_write(), "no alert");
    assert!(!w.client.is_established());
}

#[test]
fn handshake_messages_out_of_order_duplicated_or_truncated() {
    // Duplicated HELLO: the server has keys now, so plaintext is a bad
    // record, answered with one sealed alert after CHALLENGE.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    feed(&mut w.server, &hello, w.now).unwrap();
    assert!(matches!(
        feed(&mut w.server, &hello, w.now),
        Err(ProtoError::BadRecord)
    ));
    let bytes = out(&mut w.server, w.now);
    assert_eq!(records(&bytes).len(), 2, "CHALLENGE then the alert");
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::BadRecord))
    ));

    // CHALLENGE sent to a server, HELLO sent to a client.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    feed(&mut w.server, &hello, w.now).unwrap();
    let ch = out(&mut w.server, w.now);
    let mut w2 = world();
    let err = feed(&mut w2.server, &ch, w2.now).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::UnexpectedMessage {
                got: "CHALLENGE",
                state: "awaiting HELLO"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        out(&mut w2.server, w2.now),
        plain_alert(AlertCode::ProtocolError)
    );
    let err = feed(&mut w2.client, &hello, w2.now).unwrap_err();
    assert!(
        matches!(
            err,
            ProtoError::UnexpectedMessage {
                got: "HELLO",
                state: "awaiting CHALLENGE"
            }
        ),
        "{err:?}"
    );
    let queued = out(&mut w2.client, w2.now);
    assert_eq!(records(&queued).len(), 1, "its own HELLO and no alert");
    assert_eq!(queued[1], RecordType::Hello as u8);

    // Duplicated CHALLENGE: after it the client expects only encrypted
    // records; it queued RESPONSE and, awaiting SESSION_ESTABLISHED, no
    // alert (§5.2).
    feed(&mut w.client, &ch, w.now).unwrap();
    assert!(matches!(
        feed(&mut w.client, &ch, w.now),
        Err(ProtoError::BadRecord)
    ));
    let bytes = out(&mut w.client, w.now);
    let recs = records(&bytes);
    assert_eq!(recs.len(), 1, "RESPONSE only");

    // Duplicated RESPONSE.
    let mut w = world();
    let (_, _, response) = w.handshake_records();
    assert_eq!(
        feed(&mut w.server, &response, w.now).unwrap(),
        vec![Got::Established]
    );
    assert!(matches!(
        feed(&mut w.server, &response, w.now),
        Err(ProtoError::BadRecord)
    ));
    let bytes = out(&mut w.server, w.now);
    assert_eq!(
        feed(&mut w.client, &bytes[..HEADER_LEN + 61], w.now).unwrap(),
        vec![Got::Established]
    );
    assert!(matches!(
        feed(&mut w.client, &bytes[HEADER_LEN + 61..], w.now),
        Err(ProtoError::PeerAlert(AlertCode::BadRecord))
    ));

    // Truncated HELLO then end of stream.
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    assert_eq!(feed(&mut w.server, &hello[..30], w.now).unwrap(), vec![]);
    w.server.read_tls(&mut &[][..], w.now).unwrap();
    assert!(matches!(w.server.next_event(), Err(ProtoError::Truncated)));
    assert_eq!(
        out(&mut w.server, w.now),
        plain_alert(AlertCode::ProtocolError)
    );
}

/// A server that shuts down says so: a plaintext alert 9 before keys, a
/// sealed one after.
#[test]
fn shutting_down_is_announced_before_and_after_keys() {
    let mut w = world();
    w.server.shut_down();
    assert_eq!(
        out(&mut w.server, w.now),
        plain_alert(AlertCode::ShuttingDown)
    );
    assert!(matches!(
        w.server.next_event(),
        Err(ProtoError::ShuttingDown)
    ));

    let mut w = established();
    w.server.shut_down();
    w.server.shut_down();
    let bytes = out(&mut w.server, w.now);
    assert_eq!(
        sole_alert(&mut w.server, &bytes, 2),
        AlertCode::ShuttingDown
    );
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::ShuttingDown))
    ));
}

/// The server generates its ephemeral key only for a HELLO that parsed
/// and carries our version: with a generator that fails, creating the
/// connection and refusing a bad HELLO still work, and only a valid HELLO
/// reaches the failure, which is answered like any failure before keys
/// (a plaintext alert, here 6). Fails on a server that generates at
/// creation or before checking HELLO.
#[test]
fn the_ephemeral_key_is_generated_only_for_a_valid_hello() {
    let broken = |now| {
        let config = Arc::new(ServerConfig {
            identity: Arc::new(SigningKey::generate().unwrap()),
            clients: ClientPolicy::AnyClient,
            params: params(),
        });
        ServerConnection::new(config, ServerEphemeral::Broken, Timeouts::default(), now)
    };
    let mut w = world();
    let hello = out(&mut w.client, w.now);
    let mut wrong_version = hello.clone();
    wrong_version[HEADER_LEN] = PROTOCOL_VERSION + 1;

    let mut s = broken(w.now);
    let err = feed(&mut s, &wrong_version, w.now).unwrap_err();
    assert!(
        matches!(err, ProtoError::UnsupportedVersion { .. }),
        "{err:?}"
    );
    assert_eq!(
        out(&mut s, w.now),
        plain_alert(AlertCode::UnsupportedVersion)
    );

    let mut s = broken(w.now);
    let err = feed(&mut s, &hello, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::Crypto(_)), "{err:?}");
    assert_eq!(out(&mut s, w.now), plain_alert(AlertCode::Internal));
    assert!(matches!(s.next_event(), Err(ProtoError::Crypto(_))));
}
