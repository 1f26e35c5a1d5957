//! `sft selftest`: the power-on known-answer tests, one line each.

use std::process::ExitCode;

use sft::crypto::{openssl_version, selftest};

pub fn run() -> ExitCode {
    println!("library: {}", openssl_version());
    let results = selftest::run();
    let mut failed = 0;
    for r in &results {
        match &r.outcome {
            Ok(()) => println!("PASS  {}", r.name),
            Err(e) => {
                failed += 1;
                println!("FAIL  {}: {e}", r.name);
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
