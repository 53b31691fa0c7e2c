//! The Java properties parser.

use proptest::prelude::*;

use crate::config::properties::{decode_properties_bytes, parse_properties, Property};

fn pairs(text: &str) -> Vec<(String, String)> {
    parse_properties(text).expect("valid properties").into_iter().map(|p| (p.key, p.value)).collect()
}

fn one(text: &str) -> (String, String) {
    let all = pairs(text);
    assert_eq!(all.len(), 1, "expected one entry in {text:?}, got {all:?}");
    all.into_iter().next().expect("one entry")
}

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[test]
fn separators_equals_colon_and_whitespace() {
    assert_eq!(one("a=b"), kv("a", "b"));
    assert_eq!(one("a:b"), kv("a", "b"));
    assert_eq!(one("a b"), kv("a", "b"));
    assert_eq!(one("a = b"), kv("a", "b"));
    assert_eq!(one("a\t:\tb"), kv("a", "b"));
    assert_eq!(one("  a=b"), kv("a", "b"));
    assert_eq!(one("a b c"), kv("a", "b c"));
}

#[test]
fn only_one_separator_is_consumed() {
    assert_eq!(one("a==b"), kv("a", "=b"));
    assert_eq!(one("a = = b"), kv("a", "= b"));
    assert_eq!(one("a :=b"), kv("a", "=b"));
    assert_eq!(one("url=http://host:1"), kv("url", "http://host:1"));
}

#[test]
fn value_keeps_trailing_whitespace_and_key_only_lines_have_empty_values() {
    assert_eq!(one("a=b  "), kv("a", "b  "));
    assert_eq!(one("flag"), kv("flag", ""));
    assert_eq!(one("flag   "), kv("flag", ""));
    assert_eq!(one("a="), kv("a", ""));
    assert_eq!(one("=v"), kv("", "v"));
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    let text = "# comment\n! also comment\n   # indented comment\n\n   \t\nkey=value # not a comment\n";
    assert_eq!(pairs(text), vec![kv("key", "value # not a comment")]);
}

#[test]
fn trailing_backslash_continues_the_line_and_skips_leading_whitespace() {
    assert_eq!(one("a=one \\\n     two"), kv("a", "one two"));
    assert_eq!(one("a=one,\\\n  two,\\\n  three"), kv("a", "one,two,three"));
    assert_eq!(one("long\\\n  key=v"), kv("longkey", "v"));
}

#[test]
fn even_backslashes_do_not_continue() {
    assert_eq!(pairs("a=x\\\\\nb=y"), vec![kv("a", "x\\"), kv("b", "y")]);
}

#[test]
fn continuation_at_end_of_input_drops_the_backslash() {
    assert_eq!(one("a=x\\"), kv("a", "x"));
}

#[test]
fn comment_lines_are_never_continued_but_continuations_may_start_with_hash() {
    assert_eq!(pairs("# comment \\\nb=1"), vec![kv("b", "1")]);
    assert_eq!(one("a=x\\\n# part of a"), kv("a", "x# part of a"));
}

#[test]
fn continuation_onto_a_blank_line_ends_the_value() {
    assert_eq!(pairs("a=x\\\n\nb=y"), vec![kv("a", "x"), kv("b", "y")]);
}

#[test]
fn escapes_in_values() {
    assert_eq!(one(r"a=tab\there"), kv("a", "tab\there"));
    assert_eq!(one(r"a=\n\r\f"), kv("a", "\n\r\x0C"));
    assert_eq!(one(r"a=\u0041\u00e9"), kv("a", "Aé"));
    assert_eq!(one(r"a=\q\#\!"), kv("a", "q#!"));
    assert_eq!(one(r"a=\uD83D\uDE00"), kv("a", "\u{1F600}"));
    assert_eq!(one(r"a=C:\\dir"), kv("a", r"C:\dir"));
}

#[test]
fn escaped_separators_and_spaces_belong_to_the_key() {
    assert_eq!(one(r"a\=b=c"), kv("a=b", "c"));
    assert_eq!(one(r"a\:b:c"), kv("a:b", "c"));
    assert_eq!(one(r"my\ key=v"), kv("my key", "v"));
    assert_eq!(one(r"\#notcomment=1"), kv("#notcomment", "1"));
}

#[test]
fn malformed_unicode_escape_reports_its_line() {
    let error = parse_properties("a=1\n\nb=\\u12\n").expect_err("malformed escape");
    assert_eq!(error.line, 3);
    assert!(error.message.contains("Malformed \\uxxxx encoding"), "{error}");
    let error = parse_properties("a=\\uZZZZ").expect_err("non-hex escape");
    assert_eq!(error.line, 1);
}

#[test]
fn escape_error_in_a_continuation_reports_the_continuation_line() {
    let error = parse_properties("x=1\na=ok\\\n  \\u00G1").expect_err("malformed escape");
    assert_eq!(error.line, 3);
}

#[test]
fn line_numbers_are_the_first_line_of_each_entry() {
    let parsed = parse_properties("# c\na=1\nb=2\\\n 3\nc=4").expect("valid");
    let lines: Vec<(String, usize)> = parsed.into_iter().map(|Property { key, line, .. }| (key, line)).collect();
    assert_eq!(lines, vec![("a".into(), 2), ("b".into(), 3), ("c".into(), 5)]);
}

#[test]
fn crlf_and_cr_line_endings() {
    assert_eq!(pairs("a=1\r\nb=2\rc=3"), vec![kv("a", "1"), kv("b", "2"), kv("c", "3")]);
    assert_eq!(one("a=x\\\r\n  y"), kv("a", "xy"));
}

#[test]
fn duplicates_are_all_returned_in_order() {
    assert_eq!(pairs("a=1\na=2"), vec![kv("a", "1"), kv("a", "2")]);
}

#[test]
fn bytes_decode_as_utf8_without_bom_else_latin1() {
    assert_eq!(decode_properties_bytes("\u{FEFF}a=é".as_bytes()), "a=é");
    assert_eq!(decode_properties_bytes(&[b'a', b'=', 0xE9]), "a=é");
}

/// Writes a key and value the way `Properties.store` escapes them.
fn store(key: &str, value: &str) -> String {
    fn escape(s: &str, is_key: bool) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\x0C' => out.push_str("\\f"),
                '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if is_key || i == 0 => out.push_str("\\ "),
                c if (' '..='~').contains(&c) => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
        }
        out
    }
    format!("{}={}", escape(key, true), escape(value, false))
}

proptest! {
    #[test]
    fn stored_entries_parse_back_to_themselves(key in "\\PC{1,12}", value in "\\PC{0,24}") {
        let text = store(&key, &value);
        let parsed = parse_properties(&text).expect("stored text parses");
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(&parsed[0].key, &key);
        prop_assert_eq!(&parsed[0].value, &value);
    }

    #[test]
    fn parser_never_panics(text in "(\\PC|[\\\\\\n\\r=: #!u])*") {
        let _ = parse_properties(&text);
    }
}
