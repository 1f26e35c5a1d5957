//! Listings end to end through the real `sft` binary: a root of any size
//! lists completely.

mod e2e;

use e2e::*;

/// Issue 8: past 100,000 files a root could not be listed at all (the
/// client failed with exit 6 and a hint of tampering). A 200,000-file root
/// lists completely through `sft ls` (`Session::list`), sorted by name
/// though the server sends its directory order; a directory in it is
/// listed too, marked with a '/'.
#[test]
fn a_200000_file_root_lists_completely_and_sorted() {
    let n = 200_000;
    let (server, client) = pair();
    let mut names: Vec<String> = (0..n).map(|i| format!("f{i:06}")).collect();
    link_files(&server.root, &names);
    std::fs::create_dir(server.root.join("d")).unwrap();
    let out = client.sft(&["ls", &server.target(), "--server-key", &server.host_fp]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = listing.lines().collect();
    names.push("d/".to_string());
    names.sort();
    assert_eq!(listed, names);
    assert!(server.wait_log(&format!("listing ({} entries) to", n + 1)));
}

/// Makes an empty regular file under each of `names` in `dir`, mostly as
/// hard links (no inode each: many times faster than creating files), at
/// most 10,000 to one file (file systems cap the link count).
fn link_files(dir: &std::path::Path, names: &[String]) {
    for group in names.chunks(10_000) {
        let first = dir.join(&group[0]);
        std::fs::File::create(&first).unwrap();
        for name in &group[1..] {
            std::fs::hard_link(&first, dir.join(name)).unwrap();
        }
    }
}
