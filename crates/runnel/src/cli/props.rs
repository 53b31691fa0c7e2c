//! `key=value` command-line settings (`--config cleanup.policy=compact`).
//!
//! Owns: parsing them into an ordered map, with the error naming the bad argument. Client
//! property files are read by `runnel_client::config::parse_properties` instead.

use std::collections::BTreeMap;

use anyhow::bail;

/// Parses repeated `key=value` arguments; a later key replaces an earlier one. Whitespace
/// around key and value is trimmed, as Kafka's tools do; the value may itself contain `=`.
pub fn parse_key_values(flag: &str, raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in raw {
        let Some((key, value)) = item.split_once('=') else {
            bail!("invalid {flag} {item:?}: expected key=value");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("invalid {flag} {item:?}: the key is empty");
        }
        out.insert(key.to_string(), value.trim().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_parse_trimmed_and_later_wins() {
        let parsed = parse_key_values("--config", &strings(&["a = 1", "b=x=y", "a=2"])).unwrap();
        assert_eq!(parsed["a"], "2");
        assert_eq!(parsed["b"], "x=y");
    }

    #[test]
    fn missing_equals_or_key_is_named() {
        let error = parse_key_values("--config", &strings(&["retention.ms"])).unwrap_err().to_string();
        assert!(error.contains("--config") && error.contains("retention.ms"), "{error}");
        assert!(parse_key_values("--config", &strings(&["=1"])).is_err());
    }
}
