//! Topic name rules, worded as Kafka 4 words them (clients show these messages verbatim).

/// Kafka's limit: a partition directory is `<topic>-<partition>` and must fit a file name.
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

/// Checks a topic name as Kafka's `Topic.validate` does.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    let invalid = |why: String| Err(format!("Topic name is invalid: {why}"));
    if name.is_empty() {
        return invalid("the empty string is not allowed".to_string());
    }
    if name == "." || name == ".." {
        return invalid(format!("'{name}' is not allowed"));
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return invalid(format!("the length of '{name}' is longer than the max allowed length {TOPIC_NAME_LENGTH_MAX}"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return invalid(format!(
            "'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Kafka treats '.' and '_' as the same character when checking for collisions, because
/// both map to '_' in metric names.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_and_illegal_names() {
        assert!(validate_topic_name("test").is_ok());
        assert!(validate_topic_name("a.b_c-9").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("bad name").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn dot_and_underscore_collide() {
        assert_eq!(collision_key("a.b"), collision_key("a_b"));
    }
}
