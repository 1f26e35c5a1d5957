use super::*;

#[test]
fn a_key_type_is_not_taken_for_options() {
    let (opts, rest) = split_options("sft-ed25519 AAAA c").unwrap();
    assert_eq!(opts, None);
    assert_eq!(rest, "sft-ed25519 AAAA c");
    let (opts, rest) = split_options("read-only sft-ed25519 AAAA").unwrap();
    assert_eq!(opts, Some("read-only"));
    assert_eq!(rest, "sft-ed25519 AAAA");
}

#[test]
fn the_options_field_ends_at_whitespace_outside_quotes() {
    let (opts, rest) = split_options("root=\"a b\",no-overwrite  sft-ed25519 K").unwrap();
    assert_eq!(opts, Some("root=\"a b\",no-overwrite"));
    assert_eq!(rest, "sft-ed25519 K");
}

#[test]
fn overwrite_and_no_overwrite_are_read() {
    assert_eq!(parse_options("overwrite").unwrap().overwrite, Some(true));
    assert_eq!(
        parse_options("no-overwrite").unwrap().overwrite,
        Some(false)
    );
}

#[test]
fn a_root_through_a_partial_file_name_is_refused() {
    for root in ["root=.sft-part-x", "root=\"a/.sft-part-1/b\""] {
        let err = parse_options(root).unwrap_err();
        assert!(err.contains("partial files"), "{root}: {err}");
    }
    assert_eq!(
        parse_options("root=a/.sft-partx").unwrap().root.as_deref(),
        Some("a/.sft-partx")
    );
}
