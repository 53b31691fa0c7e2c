//! Reading the topics out of a consumer's subscription metadata, as Kafka's coordinator does
//! to know which topics a "consumer" group is subscribed to (for offset expiration and
//! OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC). Every ConsumerProtocolSubscription version
//! starts with the version-0 layout, so the version-0 prefix is all that is read.

/// The protocol type of Kafka consumers.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The subscribed topics in `metadata`, or `None` when it does not parse (Kafka then treats
/// the group's subscriptions as unknown).
pub fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut cursor = metadata;
    let _version = take_i16(&mut cursor)?;
    let count = take_i32(&mut cursor)?;
    if count < 0 {
        return None;
    }
    let count = usize::try_from(count).ok()?;
    // Each topic takes at least its two length bytes, so this bound never over-allocates.
    let mut topics = Vec::with_capacity(count.min(cursor.len() / 2));
    for _ in 0..count {
        let len = take_i16(&mut cursor)?;
        let len = usize::try_from(len).ok()?;
        let bytes = take(&mut cursor, len)?;
        topics.push(std::str::from_utf8(bytes).ok()?.to_owned());
    }
    let user_data_len = take_i32(&mut cursor)?;
    if user_data_len >= 0 {
        take(&mut cursor, usize::try_from(user_data_len).ok()?)?;
    }
    Some(topics)
}

fn take<'a>(cursor: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if cursor.len() < len {
        return None;
    }
    let (head, tail) = cursor.split_at(len);
    *cursor = tail;
    Some(head)
}

fn take_i16(cursor: &mut &[u8]) -> Option<i16> {
    take(cursor, 2).map(|b| i16::from_be_bytes([b[0], b[1]]))
}

fn take_i32(cursor: &mut &[u8]) -> Option<i32> {
    take(cursor, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 subscription as the Java consumer writes it: topics, null user data, owned
    /// partitions (ignored here).
    fn subscription(version: i16, topics: &[&str]) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for t in topics {
            out.extend((t.len() as i16).to_be_bytes());
            out.extend(t.as_bytes());
        }
        out.extend((-1i32).to_be_bytes());
        out.extend(0i32.to_be_bytes());
        out
    }

    #[test]
    fn reads_topics_of_any_version() {
        assert_eq!(
            subscription_topics(&subscription(1, &["a", "bb"])),
            Some(vec!["a".to_owned(), "bb".to_owned()])
        );
        assert_eq!(subscription_topics(&subscription(3, &[])), Some(vec![]));
    }

    #[test]
    fn malformed_metadata_is_unknown_not_a_panic() {
        assert_eq!(subscription_topics(&[]), None);
        assert_eq!(subscription_topics(&[0, 1, 0, 0, 0, 5]), None);
        assert_eq!(subscription_topics(&[0, 0, 255, 255, 255, 255]), None);
        let mut truncated = subscription(0, &["abc"]);
        truncated.truncate(9);
        assert_eq!(subscription_topics(&truncated), None);
    }
}
