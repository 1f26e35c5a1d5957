//! The upload policy as a pure function: the size limit and the overwrite
//! rule decide a request before any file is touched; the event loop only
//! applies the answer.

use super::outcomes::refusal;
use crate::proto::msgs::{Meta, Outcome, ResultCode, MAX_MODE};

/// The server's rules for uploads.
#[derive(Clone, Copy, Debug)]
pub(super) struct UploadPolicy {
    /// Largest file accepted, in bytes.
    pub max_file_size: u64,
    /// Whether a client may replace an existing file when it asks.
    pub allow_overwrite: bool,
    /// Permission bits a client may set with `-p` (its mode is masked with
    /// this; at most 0o777, so never setuid, setgid or sticky).
    pub max_mode: u32,
}

impl UploadPolicy {
    /// The metadata a client asked for, with its mode capped by
    /// [`max_mode`](Self::max_mode).
    pub fn cap(&self, meta: Option<Meta>) -> Option<Meta> {
        meta.map(|m| Meta {
            mode: m.mode & self.max_mode & MAX_MODE,
            mtime: m.mtime,
        })
    }
}

/// What an upload request asks for, as far as policy cares.
#[derive(Clone, Copy, Debug)]
pub(super) struct UploadRequest {
    /// Announced size in bytes.
    pub size: u64,
    /// Whether the client asks to replace an existing file.
    pub overwrite: bool,
}

/// The policy's answer to an upload request, before any file is touched.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum UploadDecision {
    /// Stage the file; replace an existing one only when `replace`.
    Stage { replace: bool },
    /// Answer with this refusal.
    Refuse(Outcome),
}

/// Decides an upload request under `policy`: the size limit, then the
/// overwrite rule. Asking to overwrite where the server does not allow it
/// is no refusal by itself: a new name is stored as usual, and an existing
/// one is refused when staging finds it (saying that the server does not
/// allow overwriting).
pub(super) fn decide_upload(req: UploadRequest, policy: UploadPolicy) -> UploadDecision {
    if req.size > policy.max_file_size {
        return UploadDecision::Refuse(refusal(
            ResultCode::TooLarge,
            format!(
                "{} bytes is over this server's limit of {} bytes",
                req.size, policy.max_file_size
            ),
        ));
    }
    UploadDecision::Stage {
        replace: req.overwrite && policy.allow_overwrite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: UploadPolicy = UploadPolicy {
        max_file_size: 1000,
        allow_overwrite: false,
        max_mode: 0o755,
    };

    fn code(d: UploadDecision) -> Option<ResultCode> {
        match d {
            UploadDecision::Refuse(o) => Some(o.code),
            UploadDecision::Stage { .. } => None,
        }
    }

    #[test]
    fn upload_size_limit_admits_the_limit_and_refuses_one_byte_more() {
        let at = UploadRequest {
            size: 1000,
            overwrite: false,
        };
        assert_eq!(
            decide_upload(at, POLICY),
            UploadDecision::Stage { replace: false }
        );
        let past = UploadRequest { size: 1001, ..at };
        assert_eq!(
            code(decide_upload(past, POLICY)),
            Some(ResultCode::TooLarge)
        );
    }

    #[test]
    fn overwrite_needs_both_the_request_and_the_policy() {
        let ask = UploadRequest {
            size: 1,
            overwrite: true,
        };
        // Not allowed: staged without replacing (an existing file is then
        // refused as Exists; a new name is stored).
        assert_eq!(
            decide_upload(ask, POLICY),
            UploadDecision::Stage { replace: false }
        );
        let allowing = UploadPolicy {
            allow_overwrite: true,
            ..POLICY
        };
        assert_eq!(
            decide_upload(ask, allowing),
            UploadDecision::Stage { replace: true }
        );
        // A server that allows overwriting still replaces nothing unasked.
        let plain = UploadRequest {
            overwrite: false,
            ..ask
        };
        assert_eq!(
            decide_upload(plain, allowing),
            UploadDecision::Stage { replace: false }
        );
    }

    #[test]
    fn the_size_limit_is_checked_before_the_overwrite_rule() {
        let both = UploadRequest {
            size: 5000,
            overwrite: true,
        };
        assert_eq!(
            code(decide_upload(both, POLICY)),
            Some(ResultCode::TooLarge)
        );
    }

    #[test]
    fn a_mode_is_capped_by_max_mode_and_never_gets_special_bits() {
        let meta = |mode| Some(Meta { mode, mtime: -7 });
        // Within the cap the mode is kept; the mtime always is.
        assert_eq!(POLICY.cap(meta(0o755)), meta(0o755));
        assert_eq!(POLICY.cap(meta(0o640)), meta(0o640));
        // Past it, the bits the server does not allow are dropped.
        assert_eq!(POLICY.cap(meta(0o777)), meta(0o755));
        assert_eq!(POLICY.cap(meta(0o757)), meta(0o755));
        // A max_mode with special bits still never grants them.
        let lax = UploadPolicy {
            max_mode: 0o7777,
            ..POLICY
        };
        assert_eq!(lax.cap(meta(0o4777)), meta(0o777));
        assert_eq!(POLICY.cap(None), None);
    }
}
