//! Files that change while they are sent, through the real `sft` binary
//! (issue 10): the relay holds a transfer part way, the test changes the
//! source (appends to it, overwrites 4 KiB already sent in place,
//! truncates it), then lets the transfer go on. The sender abandons the
//! file: the command fails and names it, the receiver stores nothing and
//! keeps no partial, and the next file of the same command is stored.
//!
//! Run in release (`cargo test --release --locked --test cli_source_change`):
//! the files are 64 MiB, so the sender has read only part of one when the
//! relay holds it.

mod e2e;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use e2e::proxy::{Fault, Proxy};
use e2e::*;

const SIZE: u64 = 64 << 20;
const MIB: u64 = 1 << 20;
/// Where the relay holds a transfer: far from both ends of the file.
const HOLD_AT: u64 = 4 * MIB;

/// The ways a test changes a file being sent.
#[derive(Clone, Copy, Debug)]
enum Change {
    Append,
    /// 4 KiB at offset 0, already sent, same size.
    OverwriteInPlace,
    Truncate,
}

impl Change {
    fn apply(self, path: &Path) {
        let file = fs::File::options().write(true).open(path).unwrap();
        match self {
            Change::Append => file.write_all_at(&[1u8; 4096], SIZE).unwrap(),
            Change::OverwriteInPlace => file.write_all_at(&[0xa5; 4096], 0).unwrap(),
            Change::Truncate => file.set_len(SIZE / 2).unwrap(),
        }
    }
}

/// A file of `SIZE` bytes whose mtime is an hour back, so that a change
/// gets another mtime whatever the file system's clock granularity.
fn source_file(dir: &Path, name: &str) {
    let path = random_file(dir, name, SIZE as usize);
    set_age(&path, Duration::from_secs(3600));
}

#[test]
fn an_upload_whose_source_changes_is_abandoned_and_the_batch_goes_on() {
    let (server, client) = pair();
    for change in [Change::Append, Change::OverwriteInPlace, Change::Truncate] {
        let name = format!("{change:?}.bin");
        let next = format!("{change:?}-next.txt");
        source_file(client.dir(), &name);
        fs::write(client.dir().join(&next), name.as_bytes()).unwrap();
        let proxy = Proxy::start(server.addr, &[Fault::StallUp { after: HOLD_AT }]);
        let child = client.spawn(&[
            "put",
            &proxy.addr.to_string(),
            "--server-key",
            &server.host_fp,
            &name,
            &next,
        ]);
        proxy.wait_stalled();
        change.apply(&client.dir().join(&name));
        proxy.release();
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 1, "{change:?}: {err}");
        assert!(
            err.contains(&format!("{name}: changed while it was being sent")),
            "{change:?}: {err}"
        );
        assert!(
            !server.root.join(&name).exists(),
            "{change:?}: nothing stored"
        );
        assert_eq!(temp_names(&server.root), Vec::<String>::new(), "{change:?}");
        assert_eq!(
            fs::read(server.root.join(&next)).unwrap(),
            name.as_bytes(),
            "{change:?}: the next file was stored"
        );
        assert!(server
            .wait_line(&[
                &format!("upload {name:?} from"),
                "discarded: abandoned by the client"
            ])
            .is_some());
    }
}

#[test]
fn a_download_whose_server_file_changes_is_abandoned_and_the_batch_goes_on() {
    let client = Client::new();
    let server = Server::start_with_root(&client.public_key(), &[("next.txt", b"next")]);
    for change in [Change::Append, Change::OverwriteInPlace, Change::Truncate] {
        let name = format!("{change:?}.bin");
        source_file(&server.root, &name);
        let dir = client.dir().join(format!("{change:?}"));
        fs::create_dir(&dir).unwrap();
        let proxy = Proxy::start(server.addr, &[Fault::StallDown { after: HOLD_AT }]);
        let child = client.spawn(&[
            "get",
            &proxy.addr.to_string(),
            "--server-key",
            &server.host_fp,
            &name,
            "next.txt",
            "-o",
            dir.to_str().unwrap(),
        ]);
        proxy.wait_stalled();
        change.apply(&server.root.join(&name));
        proxy.release();
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 1, "{change:?}: {err}");
        assert!(
            err.contains("the server's file changed while it was being sent"),
            "{change:?}: {err}"
        );
        assert!(!dir.join(&name).exists(), "{change:?}: nothing stored");
        assert_eq!(temp_names(&dir), Vec::<String>::new(), "{change:?}");
        assert_eq!(fs::read(dir.join("next.txt")).unwrap(), b"next");
        assert!(server
            .wait_line(&[
                &format!("download {name:?} to"),
                "changed while it was being sent"
            ])
            .is_some());
    }
}
