//! `sft selftest`: the power-on self-tests, one line each; and the
//! power-on gate the commands that use cryptography pass first.

use std::process::ExitCode;

use sft::crypto::{openssl_version, selftest};

use super::error::{CliError, Exit};
use super::out;

pub fn run() -> ExitCode {
    out::line(format_args!("library: {}", openssl_version()));
    let results = selftest::run();
    let mut failed = 0;
    for r in &results {
        match &r.outcome {
            Ok(()) => out::line(format_args!("PASS  {}", r.name)),
            Err(e) => {
                failed += 1;
                out::line(format_args!("FAIL  {}: {e}", r.name));
            }
        }
    }
    out::line(format_args!(
        "{} passed, {failed} failed",
        results.len() - failed
    ));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The power-on self-tests (once per process), as a configuration error
/// (exit 2) naming the failed test and the OpenSSL version.
pub fn power_on() -> Result<(), CliError> {
    selftest::power_on().map_err(|e| {
        CliError::new(Exit::Usage, e.to_string()).hint(
            "sft will not run on a library that gives wrong answers or lacks an \
             algorithm; check the OpenSSL install and OPENSSL_CONF, and run \
             `sft selftest` to see every test",
        )
    })
}
