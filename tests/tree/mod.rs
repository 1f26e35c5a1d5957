//! The source tree of tests/cli_tree.rs and how it is checked: building
//! it with varied names, modes, mtimes, symlinks and FIFOs; comparing a
//! copy with it; running the `sft` processes as a plain owner.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{mkfifoat, Mode, CWD};
use rustix::thread::{
    capabilities, remove_capability_from_bounding_set, set_capabilities, CapabilitySet,
};

use super::e2e::CHUNK;

/// The 10 directories at the top of the tree: spaces and non-ASCII.
const TOP: [&str; 10] = [
    "d0",
    "dir one",
    "café",
    "日本語",
    "d4",
    "naïve dir",
    "d6",
    "d7",
    "Ωmega",
    "d9",
];

/// A directory or regular file of the source tree, relative to `tree`.
pub struct Entry {
    pub rel: String,
    pub dir: bool,
    pub mode: u32,
    pub mtime: i64,
    pub size: u64,
}

/// Builds `base/tree`: 100 directories below it (10 at the top, each with
/// 4 flat ones, an empty one and a chain of 4, the last empty) and 1,000
/// files spread over the 81 directories that are not empty, with varied
/// modes (up to 0777, and a 0555 directory with files in it) and mtimes
/// (one before 1970); then 3 symlinks and 2 FIFOs that must be skipped.
/// Returns the directories (parents first) and files, the tree excluded.
pub fn build_tree(base: &Path) -> Vec<Entry> {
    let tree = base.join("tree");
    fs::create_dir(&tree).unwrap();
    let mut dirs = Vec::new();
    for top in TOP {
        dirs.push(top.to_string());
        for sub in ["s0", "s 1", "ß2", "s3", "s4"] {
            dirs.push(format!("{top}/{sub}"));
        }
        let mut chain = top.to_string();
        for link in ["c5", "c6", "c7", "c8"] {
            chain = format!("{chain}/{link}");
            dirs.push(chain.clone());
        }
    }
    assert_eq!(dirs.len(), 100);
    let mut entries = Vec::new();
    for (i, rel) in dirs.iter().enumerate() {
        fs::create_dir(tree.join(rel)).unwrap();
        let modes = [0o755, 0o750, 0o700, 0o775, 0o777, 0o751];
        let mode = match rel.as_str() {
            "café/ß2" | "d7/c5" => 0o555,
            _ => modes[i % modes.len()],
        };
        let mtime = 1_500_000_000 + i as i64 * 86_399;
        entries.push(Entry {
            rel: rel.clone(),
            dir: true,
            mode,
            mtime,
            size: 0,
        });
    }
    let mut holders = vec![String::new()];
    holders.extend(
        dirs.iter()
            .filter(|d| !d.ends_with("s4") && !d.ends_with("c8"))
            .cloned(),
    );
    assert_eq!(holders.len(), 81);
    for k in 0..1000u64 {
        let name = match k % 3 {
            0 => format!("f{k}.txt"),
            1 => format!("file {k} with spaces.dat"),
            _ => format!("fïlé-{k}-é.bin"),
        };
        let holder = &holders[k as usize % holders.len()];
        let rel = if holder.is_empty() {
            name
        } else {
            format!("{holder}/{name}")
        };
        let size = match k {
            0 => 0,
            1 => 2 * CHUNK as u64 + 17,
            k => (k * 131) % 4000,
        };
        let mtime = match k {
            5 => -86_400,
            6 => 0,
            k => 1_577_836_800 + k as i64 * 3_607,
        };
        let modes = [
            0o644, 0o600, 0o755, 0o640, 0o444, 0o777, 0o700, 0o604, 0o400, 0o664,
        ];
        let mode = modes[k as usize % modes.len()];
        let mut f = File::create(tree.join(&rel)).unwrap();
        f.write_all(&content(k, size)).unwrap();
        f.set_modified(time(mtime)).unwrap();
        drop(f);
        fs::set_permissions(tree.join(&rel), fs::Permissions::from_mode(mode)).unwrap();
        entries.push(Entry {
            rel,
            dir: false,
            mode,
            mtime,
            size,
        });
    }
    symlink("../d4/f4.txt", tree.join("d0/link")).unwrap();
    symlink("/nonexistent/sft-test", tree.join("dangling")).unwrap();
    symlink("../d7", tree.join("d6/dirlink")).unwrap();
    mkfifoat(CWD, tree.join("d6/fifo"), Mode::from_raw_mode(0o644)).unwrap();
    mkfifoat(CWD, tree.join("fifo"), Mode::from_raw_mode(0o600)).unwrap();
    // Deepest first, once nothing more is created in them.
    for e in entries.iter().filter(|e| e.dir).rev() {
        let path = tree.join(&e.rel);
        File::open(&path)
            .unwrap()
            .set_modified(time(e.mtime))
            .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(e.mode)).unwrap();
    }
    fs::set_permissions(&tree, fs::Permissions::from_mode(0o750)).unwrap();
    entries
}

pub fn time(mtime: i64) -> SystemTime {
    match u64::try_from(mtime) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH - Duration::from_secs(mtime.unsigned_abs()),
    }
}

/// `size` bytes that differ from file to file.
fn content(k: u64, size: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15 ^ (k + 1);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Asserts that `got` holds exactly the regular files and directories of
/// `want` (symlinks and special files left out), byte-identical, with the
/// same permission bits and mtime (seconds). Returns the files compared.
pub fn assert_same_tree(want: &Path, got: &Path) -> usize {
    let (w, g) = (
        fs::symlink_metadata(want).unwrap(),
        fs::symlink_metadata(got).unwrap(),
    );
    assert!(g.is_dir(), "{} is not a directory", got.display());
    assert_eq!(
        g.mode() & 0o7777,
        w.mode() & 0o7777,
        "mode of {}",
        got.display()
    );
    assert_eq!(g.mtime(), w.mtime(), "mtime of {}", got.display());
    let mut files = 0;
    let mut expected = BTreeSet::new();
    for e in fs::read_dir(want).unwrap() {
        let e = e.unwrap();
        let (name, kind) = (e.file_name(), e.file_type().unwrap());
        let (w, g) = (e.path(), got.join(&name));
        if kind.is_dir() {
            files += assert_same_tree(&w, &g);
        } else if kind.is_file() {
            let (wm, gm) = (fs::metadata(&w).unwrap(), fs::symlink_metadata(&g).unwrap());
            assert!(gm.is_file(), "{} is not a file", g.display());
            assert!(
                fs::read(&w).unwrap() == fs::read(&g).unwrap(),
                "{} differs",
                g.display()
            );
            assert_eq!(
                gm.mode() & 0o7777,
                wm.mode() & 0o7777,
                "mode of {}",
                g.display()
            );
            assert_eq!(gm.mtime(), wm.mtime(), "mtime of {}", g.display());
            files += 1;
        } else {
            continue;
        }
        expected.insert(name);
    }
    let found: BTreeSet<_> = fs::read_dir(got)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(found, expected, "entries of {}", got.display());
    files
}

/// Runs `f` on a thread (and its children: the `sft` processes) without
/// the capabilities that let root ignore permission bits, so a 0555
/// directory binds as it does for any user. Only a thread that has them
/// drops them. A child gets them back on exec unless they leave the
/// bounding set too, which needs CAP_SETPCAP: without it the test still
/// runs, and says that 0555 did not bind for the children.
pub fn as_plain_owner<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut caps = capabilities(None).unwrap();
            let dac = CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
            if caps.effective.intersects(dac) {
                let bounded = remove_capability_from_bounding_set(CapabilitySet::DAC_OVERRIDE)
                    .and_then(|()| {
                        remove_capability_from_bounding_set(CapabilitySet::DAC_READ_SEARCH)
                    });
                if let Err(e) = bounded {
                    eprintln!(
                        "note: the sft processes keep DAC override ({e}): 0555 does not bind"
                    );
                }
                caps.effective -= dac;
                caps.permitted -= dac;
                caps.inheritable -= dac;
                set_capabilities(None, caps).unwrap();
            }
            f()
        })
        .join()
        .unwrap()
    })
}

/// Gives every directory below `dir` its owner's write bit back, so the
/// temporary directories can be removed.
pub fn unlock(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700)).unwrap();
            unlock(&e.path());
        }
    }
}
