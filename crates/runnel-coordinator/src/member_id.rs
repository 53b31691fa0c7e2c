//! Member ids: `<client id or group instance id>-<uuid>`, as Kafka forms them. The coordinator
//! reads no random source, so the UUID is a hash of the configured seed and the request
//! (group, request id, time, attempt); an id already used in the group is never handed out.

use crate::group::ClassicGroup;
use crate::request::RequestId;

/// How many hashes to try before falling back to an id made unique by construction.
pub const MEMBER_ID_ATTEMPTS_MAX: u32 = 8;

/// A member id not used by any member or pending member of `group`.
pub(crate) fn generate(
    group: &ClassicGroup,
    prefix: &str,
    seed: u64,
    request: RequestId,
    now_ms: i64,
) -> String {
    for attempt in 0..MEMBER_ID_ATTEMPTS_MAX {
        let id = format!("{prefix}-{}", uuid(seed, group.group_id(), request, now_ms, attempt));
        if !group.has_member(&id) && !group.is_pending_member(&id) {
            return id;
        }
    }
    // Only reachable if the hash collided MEMBER_ID_ATTEMPTS_MAX times; count upwards from
    // the group size, which is unique once the ids below it are taken.
    let mut n = group.num_members() + group.pending_members().count();
    loop {
        let id = format!("{prefix}-{}-{n}", uuid(seed, group.group_id(), request, now_ms, 0));
        if !group.has_member(&id) && !group.is_pending_member(&id) {
            return id;
        }
        n += 1;
    }
}

/// A version-4-shaped UUID string derived from the inputs.
fn uuid(seed: u64, group_id: &str, request: RequestId, now_ms: i64, attempt: u32) -> String {
    let mut input = Vec::with_capacity(group_id.len() + 28);
    input.extend_from_slice(&seed.to_be_bytes());
    input.extend_from_slice(&request.0.to_be_bytes());
    input.extend_from_slice(&now_ms.to_be_bytes());
    input.extend_from_slice(&attempt.to_be_bytes());
    input.extend_from_slice(group_id.as_bytes());
    let hi = mix(fnv1a(&input, 0xcbf2_9ce4_8422_2325));
    let lo = mix(fnv1a(&input, 0x8422_2325_cbf2_9ce4));
    let bits = (u128::from(hi) << 64 | u128::from(lo)) & !(0xf << 76) & !(0x3 << 62);
    let bits = bits | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    bytes.iter().fold(basis, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// splitmix64's finalizer: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_kafkas_and_differ_per_request() {
        let group = ClassicGroup::new_empty("g", None);
        let a = generate(&group, "client", 0, RequestId(1), 5);
        let b = generate(&group, "client", 0, RequestId(2), 5);
        assert_ne!(a, b);
        let uuid = a.strip_prefix("client-").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4', "version nibble in {uuid}");
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "variant in {uuid}");
        assert_eq!(generate(&group, "client", 0, RequestId(1), 5), a, "pure: same inputs, same id");
        assert_ne!(generate(&group, "client", 7, RequestId(1), 5), a, "the seed matters");
    }
}
