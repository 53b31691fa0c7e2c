//! Java `.properties` parsing with `java.util.Properties#load` semantics, so a Kafka
//! `server.properties` means the same thing to Runnel as to Kafka.
//!
//! Rules (from the `Properties.load` contract):
//! - a natural line ends at `\n`, `\r` or `\r\n`; leading spaces, tabs and form feeds are skipped;
//! - a line whose first non-blank character is `#` or `!` is a comment, and a comment line is
//!   never continued;
//! - a line ending in an odd number of backslashes continues on the next natural line, whose
//!   leading whitespace is skipped (at end of input the dangling backslash is dropped);
//! - the key runs to the first unescaped `=`, `:`, space, tab or form feed; whitespace, then at
//!   most one `=` or `:`, then whitespace, separate it from the value; trailing whitespace of the
//!   value is kept (Kafka trims when it parses typed values);
//! - escapes: `\t \n \r \f`, `\uXXXX` (exactly four hex digits, else an error), and `\c` for any
//!   other character is `c`.
//!
//! Kafka reads the file as ISO-8859-1; Runnel reads UTF-8 and falls back to ISO-8859-1 when the
//! bytes are not valid UTF-8, so files Kafka accepts still load.

/// One `key=value` entry and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A syntax error in a properties text, with the 1-based line it occurred on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PropertiesError {
    pub line: usize,
    pub message: String,
}

/// Decodes a properties file's bytes: UTF-8 (a leading byte-order mark is dropped), or
/// ISO-8859-1 when the bytes are not UTF-8.
pub fn decode_properties_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{FEFF}').unwrap_or(text).to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Parses a properties text into its entries, in file order (duplicates kept; the caller
/// decides that the last one wins, as `Properties` does).
pub fn parse_properties(text: &str) -> Result<Vec<Property>, PropertiesError> {
    let lines = natural_lines(text);
    let mut out = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let first = lines[index].trim_start_matches(is_blank);
        let first_line_number = index + 1;
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = LogicalLine::default();
        let mut segment = first;
        let mut segment_line = first_line_number;
        loop {
            if ends_with_odd_backslashes(segment) {
                logical.push(&segment[..segment.len() - 1], segment_line);
                match lines.get(index) {
                    Some(next) => {
                        segment = next.trim_start_matches(is_blank);
                        segment_line = index + 1;
                        index += 1;
                    }
                    None => break,
                }
            } else {
                logical.push(segment, segment_line);
                break;
            }
        }
        out.push(logical.into_property(first_line_number)?);
    }
    Ok(out)
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0C')
}

fn natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// A logical line assembled from natural lines, remembering where each piece came from so an
/// escape error can name its own line.
#[derive(Default)]
struct LogicalLine {
    chars: Vec<(char, usize)>,
}

impl LogicalLine {
    fn push(&mut self, segment: &str, line: usize) {
        self.chars.extend(segment.chars().map(|c| (c, line)));
    }

    fn into_property(self, first_line: usize) -> Result<Property, PropertiesError> {
        let chars = &self.chars;
        let limit = chars.len();
        let mut key_len = 0;
        let mut value_start = limit;
        let mut has_separator = false;
        let mut preceding_backslash = false;
        while key_len < limit {
            let c = chars[key_len].0;
            if (c == '=' || c == ':') && !preceding_backslash {
                value_start = key_len + 1;
                has_separator = true;
                break;
            } else if is_blank(c) && !preceding_backslash {
                value_start = key_len + 1;
                break;
            }
            preceding_backslash = c == '\\' && !preceding_backslash;
            key_len += 1;
        }
        while value_start < limit {
            let c = chars[value_start].0;
            if !is_blank(c) {
                if !has_separator && (c == '=' || c == ':') {
                    has_separator = true;
                } else {
                    break;
                }
            }
            value_start += 1;
        }
        let key = unescape(&chars[..key_len])?;
        let value = unescape(&chars[value_start.min(limit)..])?;
        Ok(Property { key, value, line: first_line })
    }
}

fn unescape(chars: &[(char, usize)]) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, line) = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(escaped, _)) = chars.get(i) else {
            // A lone trailing backslash that did not continue the line: Java drops it.
            break;
        };
        i += 1;
        match escaped {
            'u' => {
                let code = read_hex4(chars, i).ok_or_else(|| PropertiesError {
                    line,
                    message: format!(
                        "Malformed \\uxxxx encoding: \\u{}",
                        chars.iter().skip(i).take(4).map(|(c, _)| *c).collect::<String>()
                    ),
                })?;
                i += 4;
                // Java strings are UTF-16: a high surrogate followed by an escaped low one is a
                // single character.
                if (0xD800..0xDC00).contains(&code) && chars.get(i).map(|p| p.0) == Some('\\')
                    && chars.get(i + 1).map(|p| p.0) == Some('u')
                {
                    if let Some(low) = read_hex4(chars, i + 2).filter(|low| (0xDC00..0xE000).contains(low)) {
                        let combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(combined).unwrap_or('\u{FFFD}'));
                        i += 6;
                        continue;
                    }
                }
                // A lone surrogate half (legal in a Java string) has no Rust char: substitute
                // U+FFFD rather than fail the whole file.
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0C'),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn read_hex4(chars: &[(char, usize)], at: usize) -> Option<u32> {
    let digits = chars.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |acc, (c, _)| Some(acc * 16 + c.to_digit(16)?))
}
