//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run a
//! pipelined batch, report each file and the whole.

mod busy;
mod config;
mod connect;
mod exit;
mod get;
mod interrupts;
mod listing_format;
mod ls;
mod observe;
mod progress;
mod proxy;
mod put;
mod receipts;
mod tally;
mod target;
mod tree;

use super::error::{CliError, Exit};

pub use get::{get, GetArgs};
pub use ls::{ls, LsArgs};
pub use put::{put, PutArgs};

/// A remote path as the user typed it, without the trailing `/` shell
/// completion adds to a directory (`dir/` is `dir`); a path of slashes
/// only is left as it is, for the path rule to refuse.
fn dir_arg(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => path,
        trimmed => trimmed,
    }
}

/// Most entries `get -r` and `ls -R` take from a server's tree in all
/// (1,000,000): the client's own memory bound, as one listing's is.
const MAX_WALK_ENTRIES: usize = 1_000_000;

/// Adds a listing of `more` entries to the `walked` so far; past
/// [`MAX_WALK_ENTRIES`] the walk ends (exit 1), whatever the server sends.
fn walk_budget(walked: usize, more: usize) -> Result<usize, CliError> {
    let total = walked.saturating_add(more);
    if total > MAX_WALK_ENTRIES {
        return Err(CliError::new(
            Exit::FileFailed,
            format!("the tree has more than {MAX_WALK_ENTRIES} entries, more than sft takes in one walk"),
        )
        .hint("fetch or list its subdirectories one by one"));
    }
    Ok(total)
}

/// Default server port.
pub const DEFAULT_PORT: u16 = 5555;

#[cfg(test)]
mod tests {
    use super::dir_arg;

    #[test]
    fn a_walk_takes_entries_up_to_its_limit_and_not_one_more() {
        use super::{walk_budget, MAX_WALK_ENTRIES};
        assert_eq!(walk_budget(0, MAX_WALK_ENTRIES).unwrap(), MAX_WALK_ENTRIES);
        assert!(walk_budget(MAX_WALK_ENTRIES, 1).is_err());
        assert!(walk_budget(usize::MAX, usize::MAX).is_err());
    }

    #[test]
    fn a_trailing_slash_on_a_remote_directory_is_dropped_and_nothing_else_changes() {
        assert_eq!(dir_arg("exports/"), "exports");
        assert_eq!(dir_arg("a/b//"), "a/b");
        assert_eq!(dir_arg("a/b"), "a/b");
        // Left for the path rule to refuse, never turned into the root.
        assert_eq!(dir_arg("/"), "/");
        assert_eq!(dir_arg("../x/"), "../x");
    }
}
