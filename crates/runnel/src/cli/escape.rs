//! Separators typed on the command line (`--key-separator`).
//!
//! Owns: reading the escapes `\t`, `\n`, `\r` and `\\`, so that a TAB or newline can be
//! given without the shell's `$'\t'` quoting. Any other backslash is kept as typed.

/// The bytes of `text` with its escapes replaced.
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let replaced = match (c, chars.peek()) {
            ('\\', Some('t')) => Some('\t'),
            ('\\', Some('n')) => Some('\n'),
            ('\\', Some('r')) => Some('\r'),
            ('\\', Some('\\')) => Some('\\'),
            _ => None,
        };
        let c = match replaced {
            Some(r) => {
                chars.next();
                r
            }
            None => c,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_control_characters() {
        assert_eq!(unescape("\\t"), b"\t");
        assert_eq!(unescape("a\\nb\\r"), b"a\nb\r");
        assert_eq!(unescape("\\\\t"), b"\\t");
    }

    #[test]
    fn other_text_is_kept_as_typed() {
        assert_eq!(unescape(":"), b":");
        assert_eq!(unescape("\t"), b"\t");
        assert_eq!(unescape("\\x"), b"\\x");
        assert_eq!(unescape("end\\"), b"end\\");
        assert_eq!(unescape("é=>"), "é=>".as_bytes());
    }
}
