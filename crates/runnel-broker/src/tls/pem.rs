//! PEM blocks: `-----BEGIN LABEL-----`, base64, `-----END LABEL-----`, as Kafka's `PemParser`
//! finds them: text before, between and after blocks is ignored (a keystore file may carry
//! `Bag Attributes` lines from openssl), as are RFC 1421 header lines inside a block, and
//! whitespace anywhere in the base64.

use base64::Engine;

/// One decoded block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, e.g. `CERTIFICATE`, `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`.
    pub label: String,
    pub der: Vec<u8>,
}

/// Why a PEM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("PEM block {label} has no END line")]
    Unterminated { label: String },
    #[error("PEM block {label} is not valid base64: {reason}")]
    Base64 { label: String, reason: String },
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// Every block in `text`, in order. Blocks need not start on their own line: a value written
/// with properties line continuations (`-----BEGIN CERTIFICATE----- \` ...) reaches Kafka as
/// one line, and Kafka's parser accepts it, so this one does too.
pub fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find(BEGIN) {
        let after_begin = &rest[begin + BEGIN.len()..];
        let Some(label_end) = after_begin.find(DASHES) else { break };
        let label = after_begin[..label_end].trim().to_string();
        let body_and_rest = &after_begin[label_end + DASHES.len()..];
        let Some(end) = body_and_rest.find(END) else {
            return Err(PemError::Unterminated { label });
        };
        // `Proc-Type: 4,ENCRYPTED` style headers (legacy openssl encryption) hold ':' or ',',
        // which base64 never does.
        let body: String = body_and_rest[..end]
            .split_whitespace()
            .filter(|token| !token.contains(':') && !token.contains(','))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|error| PemError::Base64 { label: label.clone(), reason: error.to_string() })?;
        blocks.push(PemBlock { label, der });
        let after_end = &body_and_rest[end + END.len()..];
        rest = match after_end.find(DASHES) {
            Some(close) => &after_end[close + DASHES.len()..],
            None => "",
        };
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_between_other_text() {
        let text = "Bag Attributes\n    friendlyName: x\n-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----\n\
                    subject=CN=x\n-----BEGIN CERTIFICATE-----\r\nBAU=\r\n-----END CERTIFICATE-----";
        let blocks = parse_blocks(text).expect("valid");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0], PemBlock { label: "PRIVATE KEY".into(), der: vec![0, 1, 2, 3] });
        assert_eq!(blocks[1], PemBlock { label: "CERTIFICATE".into(), der: vec![4, 5] });
    }

    #[test]
    fn a_block_without_its_end_or_with_bad_base64_is_an_error() {
        assert!(matches!(parse_blocks("-----BEGIN CERTIFICATE-----\nAAEC\n"), Err(PemError::Unterminated { .. })));
        assert!(matches!(
            parse_blocks("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"),
            Err(PemError::Base64 { .. })
        ));
        assert!(parse_blocks("no pem here").expect("nothing").is_empty());
    }

    #[test]
    fn a_block_joined_onto_one_line_by_properties_continuations_is_read() {
        let text = "-----BEGIN CERTIFICATE----- AAEC Aw== -----END CERTIFICATE----- -----BEGIN CERTIFICATE----- BAU= -----END CERTIFICATE-----";
        let blocks = parse_blocks(text).expect("valid");
        assert_eq!(blocks.iter().map(|b| b.der.clone()).collect::<Vec<_>>(), vec![vec![0, 1, 2, 3], vec![4, 5]]);
    }
}
