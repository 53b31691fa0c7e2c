//! Which `__consumer_offsets` partition owns a group: Kafka's
//! `Utils.abs(groupId.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16
//! code units, so Runnel and Kafka put a group's records in the same partition.

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, with
/// 32-bit wrap-around.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// The partition of `__consumer_offsets` that holds `group_id`'s records. Kafka's
/// `Utils.abs` maps `Integer.MIN_VALUE` to 0. `partitions` must be positive; 0 is returned
/// otherwise rather than dividing by zero.
pub fn partition_for_group(group_id: &str, partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    let hash = java_string_hash(group_id);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_hash_code() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // U+1F600 is two UTF-16 units, 0xD83D and 0xDE00: 0xD83D * 31 + 0xDE00.
        assert_eq!(java_string_hash("\u{1F600}"), 1_772_899);
        // A string famous for hashing to Integer.MIN_VALUE in Java.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn partition_uses_kafkas_abs() {
        assert_eq!(partition_for_group("polygenelubricants", 50), 0);
        assert_eq!(partition_for_group("hello", 50), 99_162_322 % 50);
        assert_eq!(partition_for_group("", 50), 0);
        // "Aa" and "BB" collide in Java (both 2112).
        assert_eq!(partition_for_group("Aa", 50), partition_for_group("BB", 50));
        assert_eq!(partition_for_group("x", 0), 0);
        for group in ["g", "group-1", "\u{1F600}", "zzzzzzzzzzzzzzzzzzzzzzzzzz"] {
            let p = partition_for_group(group, 50);
            assert!((0..50).contains(&p), "{group} -> {p}");
        }
    }

    #[test]
    fn negative_hashes_are_made_positive() {
        let hash = java_string_hash("zzzzzzzzzzzzzzzzzzzzzzzzzz");
        assert!(hash < 0, "the test needs a negative hash, got {hash}");
        assert_eq!(partition_for_group("zzzzzzzzzzzzzzzzzzzzzzzzzz", 7), hash.abs() % 7);
    }
}
