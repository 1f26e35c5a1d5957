//! What a client hears when the server says no: file-system errors and
//! admission decisions mapped to RESULT codes and reasons. Server paths stay
//! in the server's log; the client hears the kind of failure (it knows the
//! name it asked for).

use std::io;
use std::time::Duration;

use crate::fs::FsError;
use crate::proto::msgs::{Outcome, ResultCode};

/// A refusal with `code` and `reason`.
pub(super) fn refusal(code: ResultCode, reason: impl Into<String>) -> Outcome {
    Outcome::new(code, reason)
}

/// RESULT 8 for a key over its request rate: the wait until its bucket
/// holds a token again, rounded up to whole seconds (at least 1, at most
/// the wire's 3,600), as the typed field clients obey; the reason repeats
/// it for people.
pub(super) fn rate_refusal(wait: Duration) -> Outcome {
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1);
    Outcome::rate_limited(
        secs,
        format!("request rate limit of this key reached, retry in {secs}s"),
    )
}

/// The answer for a file-system failure while serving a request.
pub(super) fn refusal_for(e: &FsError) -> Outcome {
    match e {
        FsError::Exists(_) => refusal(
            ResultCode::Exists,
            "already exists on the server (ask with --overwrite)",
        ),
        FsError::NotRegular(_) => refusal(
            ResultCode::NotAllowed,
            "is a directory, symlink or special file on the server; refusing (directories need -r)",
        ),
        FsError::BadName(_) => refusal(
            ResultCode::BadName,
            "is not an acceptable path (plain names joined by '/', none starting with .sft-part-)",
        ),
        FsError::NotDir(_) => refusal(
            ResultCode::NotAllowed,
            "a directory of the path is a symlink or not a directory on the server; refusing",
        ),
        // Both names are the client's path and a name in its directory.
        FsError::LookAlike { .. } => refusal(ResultCode::BadName, e.to_string()),
        FsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => refusal(
            ResultCode::NotFound,
            "no such file or directory on the server",
        ),
        // "server disk full: <needed>, <available>"; the message has no path.
        FsError::DiskFull { .. } => refusal(ResultCode::IoError, format!("server {e}")),
        FsError::Io { .. }
        | FsError::SizeMismatch { .. }
        | FsError::NotADirectory(_)
        | FsError::Random(_)
        | FsError::Busy(_)
        | FsError::SourceChanged(_) => refusal(ResultCode::IoError, "server I/O error"),
    }
}

/// The answer when staging an upload fails: like [`refusal_for`], except
/// that an existing file on a server that never overwrites says so (asking
/// with `--overwrite` would not help).
pub(super) fn upload_refusal_for(e: &FsError, allow_overwrite: bool) -> Outcome {
    match e {
        FsError::Exists(_) if !allow_overwrite => refusal(
            ResultCode::Exists,
            "already exists on the server, which does not allow overwriting (its admin can start it with --allow-overwrite)",
        ),
        e => refusal_for(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msgs::MAX_REASON_LEN;
    use std::path::PathBuf;

    fn io_error(kind: io::ErrorKind) -> FsError {
        FsError::Io {
            op: "open",
            path: PathBuf::from("/srv/secret/path"),
            source: kind.into(),
        }
    }

    #[test]
    fn file_errors_map_to_their_result_codes_without_server_paths() {
        let cases = [
            (FsError::Exists("a".into()), ResultCode::Exists),
            (FsError::NotRegular("a".into()), ResultCode::NotAllowed),
            (FsError::BadName("a".into()), ResultCode::BadName),
            // A symlink or a file on the way, or where a directory must be.
            (FsError::NotDir("a/b".into()), ResultCode::NotAllowed),
            // The reason names the client's path and its look-alike, both
            // relative to the root.
            (
                FsError::LookAlike {
                    name: "d/cafe\u{301}".into(),
                    existing: "d/caf\u{e9}".into(),
                },
                ResultCode::BadName,
            ),
            (io_error(io::ErrorKind::NotFound), ResultCode::NotFound),
            (
                io_error(io::ErrorKind::PermissionDenied),
                ResultCode::IoError,
            ),
            (
                FsError::SizeMismatch {
                    expected: 2,
                    got: 1,
                },
                ResultCode::IoError,
            ),
            (
                FsError::NotADirectory(PathBuf::from("/srv/secret/path")),
                ResultCode::IoError,
            ),
        ];
        for (e, code) in cases {
            let o = refusal_for(&e);
            assert_eq!(o.code, code, "{e}");
            assert!(!o.reason.contains("/srv"), "{}", o.reason);
        }
    }

    #[test]
    fn a_full_disk_says_so_with_both_sizes() {
        let e = FsError::DiskFull {
            needed: 64 << 20,
            available: u64::MAX,
        };
        for o in [refusal_for(&e), upload_refusal_for(&e, false)] {
            assert_eq!(o.code, ResultCode::IoError);
            assert!(o.reason.starts_with("server disk full"), "{}", o.reason);
            assert!(o.reason.contains("64.0 MiB (67108864 bytes) needed"));
            assert!(o
                .reason
                .contains(&format!("({} bytes) available", u64::MAX)));
            // Sent whole: the wire cuts reasons at 255 bytes.
            assert!(o.reason.len() <= MAX_REASON_LEN, "{}", o.reason.len());
        }
    }

    #[test]
    fn an_existing_file_says_whether_asking_to_overwrite_would_help() {
        let e = FsError::Exists("a".into());
        let never = upload_refusal_for(&e, false);
        let ask = upload_refusal_for(&e, true);
        assert_eq!(
            (never.code, ask.code),
            (ResultCode::Exists, ResultCode::Exists)
        );
        assert!(never.reason.contains("does not allow overwriting"));
        assert!(ask.reason.contains("--overwrite"));
        // Other errors are mapped as for any request.
        let missing = io_error(io::ErrorKind::NotFound);
        assert_eq!(
            upload_refusal_for(&missing, false).code,
            ResultCode::NotFound
        );
    }

    #[test]
    fn a_rate_refusal_rounds_the_wait_up_to_whole_seconds() {
        let at = |ms| rate_refusal(Duration::from_millis(ms));
        assert_eq!(at(2000).retry_after_secs, 2);
        assert_eq!(at(2001).retry_after_secs, 3);
        assert_eq!(at(1).retry_after_secs, 1);
        assert_eq!(at(0).retry_after_secs, 1);
        assert_eq!(at(2500).code, ResultCode::RateLimited);
        assert!(at(2500).reason.ends_with("retry in 3s"));
        // A wait too long for the wire's field is cut, never wrapped.
        assert_eq!(rate_refusal(Duration::MAX).retry_after_secs, 3600);
    }
}
