//! Readers for the public known-answer files under tests/vectors/.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::path::PathBuf;

/// Path of a file under tests/vectors/.
pub fn vector_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel)
}

/// One test case: its `KEY = value` fields, the `[KEY = value]` section
/// headers in force, and whether a bare `FAIL` line followed it.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub fields: HashMap<String, String>,
    pub section: HashMap<String, String>,
    pub fail: bool,
}

impl Record {
    pub fn get(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .or_else(|| self.section.get(key))
            .unwrap_or_else(|| panic!("field {key} missing in {:?}", self.fields))
    }

    pub fn hex(&self, key: &str) -> Vec<u8> {
        hex::decode(self.get(key)).unwrap_or_else(|e| panic!("field {key}: {e}"))
    }

    pub fn num(&self, key: &str) -> usize {
        self.get(key).parse().unwrap()
    }
}

/// Parses a CAVP `.rsp` or RFC-style `KEY = value` file; a new record
/// starts at each line whose key is `start_key`.
pub fn records(rel: &str, start_key: &str) -> Vec<Record> {
    let text = std::fs::read_to_string(vector_path(rel)).expect("vector file present");
    let mut out: Vec<Record> = Vec::new();
    let mut section = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some((k, v)) = inner.split_once('=') {
                section.insert(k.trim().to_string(), v.trim().to_string());
            }
            continue;
        }
        if line == "FAIL" {
            out.last_mut().expect("FAIL after a record").fail = true;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == start_key {
            out.push(Record {
                section: section.clone(),
                ..Record::default()
            });
        }
        if let Some(rec) = out.last_mut() {
            rec.fields.insert(k, v);
        }
    }
    out
}

/// Asserts a test ran exactly the expected number of cases, and says so.
pub fn assert_count(what: &str, ran: usize, expected: usize) {
    println!("{what}: {ran} cases");
    assert!(ran > 0, "{what}: no cases ran");
    assert_eq!(
        ran, expected,
        "{what}: ran {ran} cases, expected {expected}"
    );
}
