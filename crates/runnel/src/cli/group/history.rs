//! `runnel group history GROUP`: a group's rebalance history as a timeline (generation, when,
//! how long, why, who joined and left, which partitions moved), read from the broker's admin
//! HTTP listener (`GET /api/groups/{group}/history`), not the Kafka protocol: Kafka has no API
//! for it. `--format json` prints the API's document unchanged.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use clap::Args;
use runnel_coordinator::{GenerationHistory, GroupHistory};

use super::super::output::{print, print_json};
use super::super::Format;

/// Where the admin listener is when neither `--admin-url` nor `RUNNEL_ADMIN_URL` says.
pub const ADMIN_URL_DEFAULT: &str = "http://127.0.0.1:9644";
/// How long the whole HTTP exchange may take.
pub const ADMIN_TIMEOUT_MS: u64 = 10_000;
/// Largest answer read (50 generations of a large group fit well within it).
pub const ADMIN_RESPONSE_BYTES_MAX: u64 = 64 << 20;

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The consumer group.
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// The broker's admin listener, http[s]://[user:password@]host:port.
    #[arg(long, value_name = "URL", env = "RUNNEL_ADMIN_URL", default_value = ADMIN_URL_DEFAULT)]
    pub admin_url: String,
}

pub async fn run(args: HistoryArgs, format: Format) -> anyhow::Result<()> {
    let HistoryArgs { group, admin_url } = args;
    let (body, group) = tokio::task::spawn_blocking(move || fetch(&admin_url, &group).map(|body| (body, group)))
        .await
        .context("the admin request did not finish")??;
    let value: serde_json::Value = serde_json::from_str(&body).context("the admin listener answered with invalid JSON")?;
    if format == Format::Json {
        return print_json(&value);
    }
    let history: GroupHistory =
        serde_json::from_value(value).context("the admin listener's history has an unexpected shape")?;
    print(&timeline(&group, &history))
}

/// The history document of `group`, or the admin listener's error.
fn fetch(admin_url: &str, group: &str) -> anyhow::Result<String> {
    let (base, authorization) = split_credentials(admin_url)?;
    let url = format!("{}/api/groups/{}/history", base.trim_end_matches('/'), percent_encode(group));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(ADMIN_TIMEOUT_MS)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(&url);
    if let Some(authorization) = &authorization {
        request = request.header("Authorization", authorization);
    }
    let mut response = request
        .call()
        .with_context(|| format!("cannot reach the admin listener at {base} (set --admin-url or RUNNEL_ADMIN_URL)"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(ADMIN_RESPONSE_BYTES_MAX)
        .read_to_string()
        .context("reading the admin listener's answer")?;
    match status {
        200 => Ok(body),
        404 => bail!("Group '{group}' not found"),
        _ => {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or(body);
            bail!("the admin listener answered {status}: {message}")
        }
    }
}

/// The URL without `user:password@`, and the Basic authorization header for them.
fn split_credentials(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("--admin-url must start with http:// or https://, not {url:?}");
    };
    if scheme != "http" && scheme != "https" {
        bail!("--admin-url must start with http:// or https://, not {url:?}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        None => Ok((url.to_owned(), None)),
        Some((userinfo, host)) => {
            let token = base64::engine::general_purpose::STANDARD.encode(userinfo.as_bytes());
            Ok((format!("{scheme}://{host}{}", &rest[authority_end..]), Some(format!("Basic {token}"))))
        }
    }
}

/// A path segment with everything but unreserved characters escaped.
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The readable timeline, oldest generation first.
fn timeline(group: &str, history: &GroupHistory) -> String {
    let mut out = String::new();
    if history.generations.is_empty() {
        out.push_str(&format!("Group '{group}' has no completed generation yet.\n"));
        return out;
    }
    let n = history.generations.len();
    out.push_str(&format!("Group '{group}': {n} generation{} (oldest first)\n", if n == 1 { "" } else { "s" }));
    let mut previous: Option<&GenerationHistory> = None;
    for entry in &history.generations {
        let names = Names::new(previous, entry);
        out.push('\n');
        out.push_str(&format!(
            "GENERATION {}  {}  took {}  reason {}\n",
            entry.generation,
            utc(entry.completed_at_ms),
            duration(entry.duration_ms),
            entry.reason.map_or("unknown", |r| r.name()),
        ));
        let protocol = entry.protocol.as_deref().unwrap_or("-");
        let leader = entry.leader.as_deref().map_or_else(|| "-".to_owned(), |l| names.of(l));
        out.push_str(&format!(
            "  members: {}  protocol: {}/{protocol}  leader: {leader}\n",
            entry.members.len(),
            if entry.protocol_type.is_empty() { "-" } else { &entry.protocol_type },
        ));
        for j in &entry.joined {
            out.push_str(&format!("  joined: {} ({}) from {}\n", j.client_id, j.member_id, j.client_host));
        }
        for l in &entry.left {
            out.push_str(&format!("  left:   {} ({}) {}\n", l.client_id, l.member_id, l.reason.name()));
        }
        if entry.left_omitted > 0 {
            out.push_str(&format!("  left:   {} more not recorded\n", entry.left_omitted));
        }
        for mv in &entry.moves {
            let from = mv.from.as_deref().map_or_else(|| "-".to_owned(), |m| names.of(m));
            let to = mv.to.as_deref().map_or_else(|| "-".to_owned(), |m| names.of(m));
            out.push_str(&format!("  move:   {}-{}: {from} -> {to}\n", mv.topic, mv.partition));
        }
        if entry.moves_omitted > 0 {
            out.push_str(&format!("  move:   {} more not recorded\n", entry.moves_omitted));
        }
        previous = Some(entry);
    }
    out
}

/// Member ids shown as client ids where a client id names one member only.
struct Names {
    by_member: BTreeMap<String, String>,
    members_per_client: BTreeMap<String, usize>,
}

impl Names {
    fn new(previous: Option<&GenerationHistory>, entry: &GenerationHistory) -> Self {
        let mut by_member = BTreeMap::new();
        let members = previous.into_iter().flat_map(|p| p.members.iter()).chain(entry.members.iter());
        for m in members {
            by_member.insert(m.member_id.clone(), m.client_id.clone());
        }
        for l in &entry.left {
            by_member.insert(l.member_id.clone(), l.client_id.clone());
        }
        for j in &entry.joined {
            by_member.insert(j.member_id.clone(), j.client_id.clone());
        }
        let mut members_per_client = BTreeMap::new();
        for client in by_member.values() {
            *members_per_client.entry(client.clone()).or_insert(0) += 1;
        }
        Self { by_member, members_per_client }
    }

    fn of(&self, member_id: &str) -> String {
        match self.by_member.get(member_id) {
            Some(client) if self.members_per_client.get(client) == Some(&1) && !client.is_empty() => client.clone(),
            _ => member_id.to_owned(),
        }
    }
}

fn duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:03} s", ms / 1_000, ms % 1_000)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
fn utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) =
        (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1_000 % 60, ms_of_day % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(utc(1_798_243_200_123), "2026-12-26T00:00:00.123Z");
    }

    #[test]
    fn credentials_move_from_the_url_to_a_basic_header() {
        assert_eq!(split_credentials("http://127.0.0.1:9644").unwrap(), ("http://127.0.0.1:9644".into(), None));
        let (url, auth) = split_credentials("https://admin:s3cret@host:1/").unwrap();
        assert_eq!(url, "https://host:1/");
        assert_eq!(auth.as_deref(), Some("Basic YWRtaW46czNjcmV0"));
        assert!(split_credentials("127.0.0.1:9644").is_err());
        assert!(split_credentials("ftp://h").is_err());
    }

    #[test]
    fn group_names_are_escaped_in_the_path() {
        assert_eq!(percent_encode("my group/1"), "my%20group%2F1");
    }

    #[test]
    fn timeline_names_members_by_unique_client_id() {
        let json = serde_json::json!({"generations": [
            {"generation": 1, "protocol_type": "consumer", "protocol": "range", "leader": "c1-a",
             "reason": "new_member", "started_at_ms": 0, "completed_at_ms": 3000, "duration_ms": 3000,
             "joined": [{"member_id": "c1-a", "group_instance_id": null, "client_id": "consumer-1", "client_host": "/127.0.0.1"}],
             "left": [], "left_omitted": 0,
             "members": [{"member_id": "c1-a", "group_instance_id": null, "client_id": "consumer-1", "client_host": "/127.0.0.1",
                          "assignment": [{"topic": "test", "partitions": [0]}]}],
             "moves": [{"topic": "test", "partition": 0, "from": null, "to": "c1-a"}], "moves_omitted": 0},
            {"generation": 2, "protocol_type": "consumer", "protocol": "range", "leader": "c1-a",
             "reason": "new_member", "started_at_ms": 5000, "completed_at_ms": 5250, "duration_ms": 250,
             "joined": [{"member_id": "c2-b", "group_instance_id": null, "client_id": "consumer-2", "client_host": "/127.0.0.1"}],
             "left": [], "left_omitted": 0,
             "members": [],
             "moves": [{"topic": "test", "partition": 0, "from": "c1-a", "to": "c2-b"}], "moves_omitted": 3}
        ]});
        let history: GroupHistory = serde_json::from_value(json).unwrap();
        let text = timeline("g", &history);
        assert!(text.contains("GENERATION 1  1970-01-01T00:00:03.000Z  took 3.000 s  reason new_member"), "{text}");
        assert!(text.contains("  move:   test-0: - -> consumer-1\n"), "{text}");
        assert!(text.contains("GENERATION 2  1970-01-01T00:00:05.250Z  took 250 ms  reason new_member"), "{text}");
        assert!(text.contains("  joined: consumer-2 (c2-b) from /127.0.0.1\n"), "{text}");
        assert!(text.contains("  move:   test-0: consumer-1 -> consumer-2\n  move:   3 more not recorded\n"), "{text}");
    }
}
