//! Key updates between live connections: with both sealers updating every
//! 3 records (and both openers expecting it), files cross many updates each
//! way, and a replayed, dropped or early KEY_UPDATE is fatal.

use super::*;

/// An established world whose sealers update their key every 3 records,
/// and whose openers expect the peer's KEY_UPDATE there.
fn updating_world() -> World {
    let mut w = established();
    for c in [core(&mut w.client), core(&mut w.server)] {
        c.sealer.set_update_after(3);
        c.opener.set_update_after(3);
    }
    w.wire_c2s.clear();
    w.wire_s2c.clear();
    w
}

/// Checks one direction's records after the handshake: numbers run on
/// from 2 with no gap, and exactly every fourth record (3 under a key,
/// then the KEY_UPDATE) has the KEY_UPDATE's size, 1 + 16 bytes. No
/// message these tests send has that size. Returns (records, updates).
fn count_updates(wire: &[u8]) -> (usize, usize) {
    let recs = records(wire);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(seq_of(r), 2 + i as u64, "record {i}");
        assert_eq!(len_of(r) == 1 + TAG_LEN, i % 4 == 3, "record {i}");
    }
    let updates = recs.iter().filter(|r| len_of(r) == 1 + TAG_LEN).count();
    (recs.len(), updates)
}

/// Fails on the pre-rewrite code (no key update), on a receiver that does
/// not switch keys at KEY_UPDATE (the next record fails), on one that
/// hands KEY_UPDATE to the application, and on a sender that updates at
/// another count.
#[test]
fn upload_and_download_cross_many_key_updates_intact() {
    let mut w = updating_world();
    let content = data(40 * 100);
    // Each helper checks the data and that the SHA-256 matched (Complete).
    assert_eq!(upload(&mut w, "ku.bin", &content, 100), content);
    assert_eq!(download(&mut w, "ku.bin", &content, 100), content);
    // Client messages: OFFER, 40 CHUNK, END, GET (43).
    // Server messages: RESULT, OFFER, 40 CHUNK, END (43).
    // A KEY_UPDATE goes before message 4, 7, 10, ...: (n - 1) / 3 of them.
    assert_eq!(count_updates(&w.wire_c2s), (43 + 14, 14));
    assert_eq!(count_updates(&w.wire_s2c), (43 + 14, 14));
    // Still in step afterwards.
    w.client.request_list("").unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::List(String::new())]);
    send_listing(&mut w.server, &[]).unwrap();
    assert_eq!(w.s2c().unwrap(), vec![Got::Listing(vec![])]);
    w.client.close().unwrap();
    assert_eq!(w.c2s().unwrap(), vec![Got::Closed]);
    assert_eq!(w.s2c().unwrap(), vec![Got::Closed]);
}

/// The client's records of a 10-chunk upload after OFFER: CHUNK, CHUNK,
/// KEY_UPDATE, CHUNK, CHUNK, CHUNK, KEY_UPDATE, ... Returns them and the
/// index of the first KEY_UPDATE.
fn upload_records(w: &mut World) -> (Vec<Vec<u8>>, usize) {
    w.client
        .request_upload("f", 1000, false, None, false, T0)
        .unwrap();
    w.c2s().unwrap();
    w.server.accept().unwrap();
    for i in 0..10u8 {
        w.client.send_data(&[i; 100]).unwrap();
    }
    let recs = records(&out(&mut w.client, w.now));
    let ku = recs.iter().position(|r| len_of(r) == 1 + TAG_LEN).unwrap();
    assert_eq!(ku, 2);
    (recs, ku)
}

fn server_alerted_bad_record(w: &mut World) {
    let bytes = out(&mut w.server, w.now);
    assert_eq!(sole_alert(&mut w.server, &bytes, 2), AlertCode::BadRecord);
    assert!(matches!(
        feed(&mut w.client, &bytes, w.now),
        Err(ProtoError::PeerAlert(AlertCode::BadRecord))
    ));
}

/// Fails on a receiver that takes KEY_UPDATE outside the sequence check
/// (a replay would move it a key ahead, or a drop go unnoticed).
#[test]
fn replayed_or_dropped_key_update_is_fatal() {
    // Replayed right away, and later.
    for later in [0, 2] {
        let mut w = updating_world();
        let (recs, ku) = upload_records(&mut w);
        let upto = recs[..=ku + later].concat();
        assert_eq!(feed(&mut w.server, &upto, w.now).unwrap().len(), 2 + later);
        let err = feed(&mut w.server, &recs[ku], w.now).unwrap_err();
        assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
        server_alerted_bad_record(&mut w);
    }
    // Dropped.
    let mut w = updating_world();
    let (recs, ku) = upload_records(&mut w);
    let without = [recs[..ku].concat(), recs[ku + 1..].concat()].concat();
    let err = feed(&mut w.server, &without, w.now).unwrap_err();
    assert!(matches!(err, ProtoError::BadRecord), "{err:?}");
    server_alerted_bad_record(&mut w);
    // Delivered once, in place: the upload completes.
    let mut w = updating_world();
    let (recs, _) = upload_records(&mut w);
    let got = feed(&mut w.server, &recs.concat(), w.now).unwrap();
    assert_eq!(got.len(), 11, "10 data events and the end");
    let content: Vec<u8> = (0..10u8).flat_map(|i| [i; 100]).collect();
    assert_eq!(got[10], Got::complete(sha(&content)));
}

/// Fails on a receiver that takes KEY_UPDATE wherever it comes: an
/// authenticated peer could then make it derive keys at will, each
/// KEY_UPDATE consumed inside the record loop with no event to count.
/// As the first record under the key, or one record before its place
/// (the fourth), it is a fatal protocol error.
#[test]
fn key_update_before_its_place_is_fatal() {
    for before in [0, 2u64] {
        let mut w = updating_world();
        if before == 2 {
            w.client
                .request_upload("f", 1000, false, None, false, T0)
                .unwrap();
            w.c2s().unwrap();
            w.server.accept().unwrap();
            w.client.send_data(&[1; 100]).unwrap();
        }
        send_raw(&mut w.client, crate::proto::record::KEY_UPDATE, &[]);
        let bytes = out(&mut w.client, w.now);
        let ku = records(&bytes).pop().unwrap();
        assert_eq!(
            seq_of(&ku),
            2 + before,
            "after `before` records under the key"
        );
        let err = feed(&mut w.server, &bytes, w.now).unwrap_err();
        assert!(
            matches!(
                err,
                ProtoError::UnexpectedMessage {
                    got: "KEY_UPDATE",
                    ..
                }
            ),
            "{err:?}"
        );
        let alert = out(&mut w.server, w.now);
        assert_eq!(
            sole_alert(&mut w.server, &alert, 2),
            AlertCode::ProtocolError
        );
        assert!(matches!(
            feed(&mut w.client, &alert, w.now),
            Err(ProtoError::PeerAlert(AlertCode::ProtocolError))
        ));
    }
}
