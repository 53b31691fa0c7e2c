//! From one input line to a record's key and value, and `-H key=value` headers.
//!
//! Owns: kafka-console-producer's line rules: a line ends at `\n` (a `\r` before it is
//! dropped, as Java's `readLine` drops it), an empty line is an empty value, and with
//! `parse.key` the key is the text before the first key separator and the value the text
//! after it; a line without the separator is an error for that line.

use std::fmt;

/// Where each record's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMode {
    /// No key: records spread over partitions (sticky).
    None,
    /// `--key`: the same key on every record.
    Fixed(Vec<u8>),
    /// `--parse-key`: split each line at the first separator.
    Parse { separator: Vec<u8> },
}

/// A line without the key separator, under `--parse-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSeparator {
    pub line: u64,
    pub separator: String,
}

impl fmt::Display for NoSeparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no key separator {:?} found on line {}", self.separator, self.line)
    }
}

/// The line without its terminator (`\n` or `\r\n`).
pub fn trim_terminator(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
    }
    line
}

impl KeyMode {
    /// Key and value of the record for `line` (already without its terminator);
    /// `number` counts lines from 1, for the error.
    pub fn split(&self, line: &[u8], number: u64) -> Result<(Option<Vec<u8>>, Vec<u8>), NoSeparator> {
        match self {
            KeyMode::None => Ok((None, line.to_vec())),
            KeyMode::Fixed(key) => Ok((Some(key.clone()), line.to_vec())),
            KeyMode::Parse { separator } => {
                let at = find(line, separator).ok_or_else(|| NoSeparator {
                    line: number,
                    separator: String::from_utf8_lossy(separator).into_owned(),
                })?;
                let key = line[..at].to_vec();
                let value = line[at + separator.len()..].to_vec();
                Ok((Some(key), value))
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `-H key=value` arguments as record headers, in the order given. Keys may repeat (Kafka
/// keeps every header); the value may be empty or contain `=`.
pub fn parse_headers(raw: &[String]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    raw.iter()
        .map(|item| {
            let Some((key, value)) = item.split_once('=') else {
                anyhow::bail!("invalid --header {item:?}: expected key=value");
            };
            if key.is_empty() {
                anyhow::bail!("invalid --header {item:?}: the key is empty");
            }
            Ok((key.to_string(), value.as_bytes().to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(separator: &[u8]) -> KeyMode {
        KeyMode::Parse { separator: separator.to_vec() }
    }

    #[test]
    fn terminators_are_dropped_like_readline() {
        assert_eq!(trim_terminator(b"abc\n"), b"abc");
        assert_eq!(trim_terminator(b"abc\r\n"), b"abc");
        assert_eq!(trim_terminator(b"abc"), b"abc");
        assert_eq!(trim_terminator(b"\n"), b"");
        // A lone \r inside or at the end of the last line is data.
        assert_eq!(trim_terminator(b"a\rb\r"), b"a\rb\r");
    }

    #[test]
    fn parse_key_splits_at_the_first_separator() {
        let (key, value) = parse(b"\t").split(b"k1\tv\t1", 1).unwrap();
        assert_eq!(key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(&value[..], b"v\t1");
        let (key, value) = parse(b"::").split(b"::x", 1).unwrap();
        assert_eq!(key.as_deref(), Some(&b""[..]));
        assert_eq!(&value[..], b"x");
        let (key, value) = parse(b":").split(b"k:", 1).unwrap();
        assert_eq!((key.as_deref(), &value[..]), (Some(&b"k"[..]), &b""[..]));
    }

    #[test]
    fn a_line_without_the_separator_is_refused_with_its_number() {
        let error = parse(b"\t").split(b"no tab here", 7).unwrap_err();
        assert_eq!(error, NoSeparator { line: 7, separator: "\t".into() });
        assert!(error.to_string().contains("line 7"), "{error}");
    }

    #[test]
    fn fixed_and_absent_keys_keep_the_whole_line() {
        let (key, value) = KeyMode::Fixed(b"id".to_vec()).split(b"a\tb", 1).unwrap();
        assert_eq!((key.as_deref(), &value[..]), (Some(&b"id"[..]), &b"a\tb"[..]));
        let (key, value) = KeyMode::None.split(b"", 1).unwrap();
        assert_eq!((key, &value[..]), (None, &b""[..]));
    }

    #[test]
    fn headers_keep_order_repeats_and_equals_in_values() {
        let headers = parse_headers(&["a=1".into(), "b=x=y".into(), "a=".into()]).unwrap();
        let flat: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        assert_eq!(flat, vec![("a", &b"1"[..]), ("b", &b"x=y"[..]), ("a", &b""[..])]);
    }

    #[test]
    fn malformed_headers_are_named() {
        let error = parse_headers(&["novalue".into()]).unwrap_err().to_string();
        assert!(error.contains("novalue") && error.contains("--header"), "{error}");
        assert!(parse_headers(&["=v".into()]).is_err());
    }
}
