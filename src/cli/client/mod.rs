//! `sft put`, `sft get`, `sft ls`: connect, establish trust, run a
//! pipelined batch, report each file and the whole.

mod busy;
mod connect;
mod exit;
mod get;
mod interrupts;
mod listing_format;
mod ls;
mod observe;
mod progress;
mod put;
mod tally;
mod tree;

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

/// Default server port.
pub const DEFAULT_PORT: u16 = 5555;

#[cfg(test)]
mod tests {
    use super::dir_arg;

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
