//! Signed statements against a real server (PROTOCOL.md §4.8): a client
//! whose statement does not verify is cut off and nothing of its upload
//! is stored or audited; an honest upload and download afterwards are
//! stored, receipted and recorded, and the server's audit log verifies.
#[allow(dead_code)]
mod hostile;
mod inproc;

use hostile::Hostile;
use inproc::*;
use sft::crypto::hash::sha256;
use sft::proto::msgs::{inner, Meta, Offer};
use sft::proto::AlertCode;

/// A statement over other facts than the server saw (another path), and
/// one signed by another key: each ends the session with alert 4 before
/// the file is stored; no partial is left, and the audit log records no
/// upload. The server keeps serving: the same key's honest upload is
/// stored with its receipt.
#[test]
fn a_statement_that_does_not_verify_is_refused_and_nothing_is_stored() {
    let mut server = Running::start(|_| {});
    let data = b"forged evidence".to_vec();
    for case in 0..2 {
        let mut h = Hostile::connect(&server);
        let offer = Offer {
            path: b"x.bin".to_vec(),
            size: data.len() as u64,
            overwrite: false,
            preserve: false,
            meta: Meta::default(),
            resume: false,
        };
        h.send(inner::OFFER, &offer.encode());
        h.send(inner::CHUNK, &[&0u64.to_be_bytes()[..], &data].concat());
        let hash = sha256(&data).unwrap();
        let statement = match case {
            0 => h.statement(b"y.bin", data.len() as u64, hash),
            _ => h.statement(b"x.bin", data.len() as u64 + 1, hash),
        };
        h.send_end(statement);
        let (t, body) = h.recv();
        assert_eq!(
            (t, body),
            (inner::ALERT, vec![AlertCode::HandshakeFailed as u8])
        );
        h.closed();
    }
    assert_eq!(server.root_names(), Vec::<String>::new(), "nothing stored");

    let mut h = Hostile::connect(&server);
    assert_eq!(
        h.upload(b"x.bin", &data, false),
        hostile::Answer::Result(sft::proto::msgs::ResultCode::Ok)
    );
    assert_eq!(h.get(b"x.bin"), hostile::Answer::File(data.clone()));
    h.closed();
    server.stop().unwrap();
    let host = server.host_key();
    let report = sft::audit::verify(&server.audit_log(), &host).unwrap();
    assert!(report.first_error.is_none(), "{:?}", report.first_error);
    assert_eq!((report.uploads, report.downloads), (1, 1));
}
