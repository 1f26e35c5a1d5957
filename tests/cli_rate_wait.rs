//! A put refused by the server's key rate waits as asked, within a budget
//! per file; past the budget it gives up on that file and says so.

mod e2e;

use e2e::*;

#[test]
fn a_wait_past_the_per_file_budget_is_not_waited_and_the_error_says_why() {
    let client = Client::new();
    // One request an hour: the second file would wait far past 120 s.
    let server = Server::start(Some(&client.public_key()), &["--key-rate", "1/1h"]);
    let files: Vec<String> = ["g0", "g1"]
        .iter()
        .map(|n| {
            random_file(client.dir(), n, 100)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let target = server.target();
    let mut args = vec!["put", "--server-key", &server.host_fp, &target];
    args.extend(files.iter().map(String::as_str));
    let out = client.sft(&args);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(!err.contains("limit is reached; waiting"), "{err}");
    assert!(
        err.contains("sft: g1: request rate limit of this key reached")
            && err
                .contains("gave up after waiting 0.0 s in all (sft waits at most 120 s per file)"),
        "{err}"
    );
    assert_eq!(server.root_names(), vec!["g0"]);
}
