use super::*;

const KEY_A: &str = "sft-ed25519 AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
/// A second key, unlike [`KEY_A`].
const KEY_B: &str = "sft-ed25519 AgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE=";

#[test]
fn a_line_without_options_has_the_defaults() {
    let k = AuthorizedKey::parse(&format!("{KEY_A} alice@host")).unwrap();
    assert_eq!(k.options, KeyOptions::default());
    assert_eq!(k.line.comment, "alice@host");
}

#[test]
fn options_before_the_key_are_read() {
    let k = AuthorizedKey::parse(&format!(
        "root=\"exports/alice\",read-only,max-sessions=4 {KEY_A} alice@host"
    ))
    .unwrap();
    assert_eq!(k.options.root.as_deref(), Some("exports/alice"));
    assert_eq!(k.options.access, Access::ReadOnly);
    assert_eq!(k.options.max_sessions, Some(4));
    assert_eq!(k.options.overwrite, None);
    assert_eq!(k.line.comment, "alice@host");
}

#[test]
fn a_quoted_value_may_hold_spaces_commas_and_escapes() {
    let k = AuthorizedKey::parse(&format!(r#"root="a b,c/d\"e",write-only {KEY_A}"#)).unwrap();
    assert_eq!(k.options.root.as_deref(), Some("a b,c/d\"e"));
    assert_eq!(k.options.access, Access::WriteOnly);
}

#[test]
fn a_bad_option_fails_the_line_naming_it() {
    let cases = [
        ("frobnicate", "unknown option \"frobnicate\""),
        ("read-only,read-only", "\"read-only\" given twice"),
        ("read-only,write-only", "exclude each other"),
        ("overwrite,no-overwrite", "exclude each other"),
        ("read-only=yes", "\"read-only\" takes no value"),
        ("root", "\"root\" needs a value"),
        ("root=../up", "option \"root\""),
        ("root=/etc", "option \"root\""),
        ("root=a//b", "option \"root\""),
        ("max-sessions=0", "\"max-sessions\""),
        ("max-sessions=4097", "\"max-sessions\""),
        ("max-sessions=-1", "\"max-sessions\""),
        ("max-sessions=x", "\"max-sessions\""),
        ("max-sessions", "\"max-sessions\" needs a value"),
        ("read-only,", "empty option"),
        (",read-only", "empty option"),
        ("root=\"a", "unterminated"),
        ("root=a\"b", "double quote"),
        ("root=\"a\\x\"", "backslash"),
    ];
    for (options, expected) in cases {
        let err = AuthorizedKey::parse(&format!("{options} {KEY_A}")).unwrap_err();
        assert!(err.contains(expected), "{options}: {err}");
    }
}

#[test]
fn max_sessions_holds_at_the_limit_and_fails_past_it() {
    let at = format!("max-sessions={} {KEY_A}", options::MAX_SESSIONS_OPTION);
    assert_eq!(
        AuthorizedKey::parse(&at).unwrap().options.max_sessions,
        Some(options::MAX_SESSIONS_OPTION)
    );
    let past = format!("max-sessions={} {KEY_A}", options::MAX_SESSIONS_OPTION + 1);
    assert!(AuthorizedKey::parse(&past).is_err());
    assert_eq!(
        AuthorizedKey::parse(&format!("max-sessions=1 {KEY_A}"))
            .unwrap()
            .options
            .max_sessions,
        Some(1)
    );
}

#[test]
fn the_options_field_holds_at_its_length_limit_and_fails_past_it() {
    let root = |len: usize| {
        // root="aaa…/aaa…": components of 200 bytes, quoted.
        let mut r = String::new();
        while r.len() < len {
            if !r.is_empty() {
                r.push('/');
            }
            r.push_str(&"a".repeat(200.min(len - r.len()).max(1)));
        }
        r
    };
    let field = |len: usize| format!("root=\"{}\"", root(len - 7));
    let at = field(options::MAX_OPTIONS_LEN);
    assert_eq!(at.len(), options::MAX_OPTIONS_LEN);
    let err = options::parse_options(&field(options::MAX_OPTIONS_LEN + 1)).unwrap_err();
    assert!(err.contains("limit"), "{err}");
    // At the limit, the length check passes; the path rules then judge.
    let at_err = options::parse_options(&at).err().unwrap_or_default();
    assert!(!at_err.contains("limit"), "{at_err}");
}

#[test]
fn a_bad_key_after_good_options_is_named() {
    let err = AuthorizedKey::parse("read-only ssh-rsa AAAA").unwrap_err();
    assert!(err.contains("ssh-rsa"), "{err}");
    let err = AuthorizedKey::parse("read-only").unwrap_err();
    assert!(err.contains("empty") || err.contains("type"), "{err}");
}

#[test]
fn a_file_keeps_its_good_lines_and_names_its_bad_ones() {
    let text = format!(
        "# comment\n\n{KEY_A} a\nbogus,option {KEY_B}\nsft-ed25519 !!!\nread-only {KEY_A} b\nssh-rsa AAAA c\nfrom=\"10.*\" ecdsa-sha2-nistp256 AAAA d\n"
    );
    let parsed = parse_text(&text);
    assert_eq!(parsed.keys.len(), 2);
    let lines: Vec<usize> = parsed.bad.iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, vec![4, 5]);
    assert_eq!(
        parsed.other_types,
        [
            (7, "ssh-rsa".to_string()),
            (8, "ecdsa-sha2-nistp256".to_string())
        ],
        "other key types are set apart, not bad"
    );
    assert!(parsed.bad[0].1.contains("\"bogus\""), "{:?}", parsed.bad);
}

#[test]
fn the_table_swaps_sets_and_keeps_the_first_line_of_a_repeated_key() {
    use crate::proto::handshake::server::KeySet;
    let a = AuthorizedKey::parse(&format!("read-only {KEY_A}")).unwrap();
    let again = AuthorizedKey::parse(KEY_A).unwrap();
    let table = table::AuthorizedTable::new(vec![a.clone(), again]);
    assert_eq!(table.len(), 1);
    assert!(table.allows(&a.key()));
    assert_eq!(table.options(&a.key()).unwrap().access, Access::ReadOnly);
    assert_eq!(table.replace(Vec::new()), 1);
    assert!(!table.allows(&a.key()));
    assert!(table.is_empty());
}

#[test]
fn a_key_on_a_bad_line_is_refused_even_where_another_line_names_it() {
    let text = format!("root=\"alice\",read-only,bogus {KEY_A}\n{KEY_A} alice-old\n{KEY_B}\n");
    let parsed = parse_text(&text);
    assert_eq!(parsed.bad.len(), 1);
    let keys: Vec<String> = parsed.keys.iter().map(|k| k.line.to_string()).collect();
    assert_eq!(keys.len(), 1, "only the other key: {keys:?}");
    assert!(!keys[0].contains(KEY_A.split_whitespace().nth(1).unwrap()));
}

#[test]
fn a_key_is_found_in_a_bad_line_whatever_the_typo() {
    let b64 = KEY_A.split(' ').nth(1).unwrap();
    for bad in [
        format!("root=\"exports/alice,read-only {KEY_A}"),
        format!("root=\"exports/alice\", read-only {KEY_A}"),
        format!("read-only sft-ed2559 {b64}"),
    ] {
        let text = format!("{bad}\n{KEY_A} alice-old\n{KEY_B}\n");
        let parsed = parse_text(&text);
        assert_eq!(parsed.bad.len(), 1, "{bad}");
        assert_eq!(parsed.keys.len(), 1, "{bad}: only KEY_B stays");
        assert!(!parsed.keys[0].line.to_string().contains(b64), "{bad}");
    }
}
