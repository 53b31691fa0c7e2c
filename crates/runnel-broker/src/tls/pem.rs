//! PEM blocks: `-----BEGIN LABEL-----`, base64, `-----END LABEL-----`, as Kafka's `PemParser`
//! finds them: text before, between and after blocks is ignored (a keystore file may carry
//! `Bag Attributes` lines from openssl), as are RFC 1421 header lines inside a block.

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

/// Every block in `text`, in order.
pub fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix(BEGIN).and_then(|rest| rest.strip_suffix(DASHES)) else {
            continue;
        };
        let label = label.trim().to_string();
        let mut body = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if line.starts_with(END) {
                ended = true;
                break;
            }
            // `Proc-Type: 4,ENCRYPTED` style headers (legacy openssl encryption) carry a colon.
            if !line.contains(':') {
                body.push_str(line);
            }
        }
        if !ended {
            return Err(PemError::Unterminated { label });
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|error| PemError::Base64 { label: label.clone(), reason: error.to_string() })?;
        blocks.push(PemBlock { label, der });
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
}
