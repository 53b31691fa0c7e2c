//! The group service against a real `__consumer_offsets` log: rebalance history is written
//! with the group's records and read back after a restart.

use std::sync::Arc;

use runnel_coordinator::{RebalanceReason, Request, Response};
use runnel_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use runnel_protocol::kafka_protocol::messages::{GroupId, JoinGroupRequest, SyncGroupRequest};
use runnel_protocol::kafka_protocol::protocol::StrBytes;
use tokio_util::sync::CancellationToken;

use super::GroupService;
use crate::config::BrokerConfig;
use crate::topics::TopicRegistry;

fn open(dir: &std::path::Path) -> (Arc<BrokerConfig>, TopicRegistry, GroupService) {
    let map = [
        ("log.dirs".to_string(), dir.display().to_string()),
        ("group.initial.rebalance.delay.ms".to_string(), "0".to_string()),
    ]
    .into();
    let (config, _) = BrokerConfig::from_map(&map).expect("test config");
    let config = Arc::new(config);
    let topics = TopicRegistry::open(dir, Arc::new(runnel_log::FileStorage::new()), config.clone(), super::now_ms())
        .expect("test topics");
    let groups = GroupService::load(&config, &topics).expect("groups load");
    (config, topics, groups)
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn join(member_id: &str) -> Request {
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(s("g"));
    request.member_id = s(member_id);
    request.session_timeout_ms = 10_000;
    request.rebalance_timeout_ms = 10_000;
    request.protocol_type = s("consumer");
    let mut protocol = JoinGroupRequestProtocol::default();
    protocol.name = s("range");
    // ConsumerProtocolSubscription v0: topic "t", no user data.
    protocol.metadata = bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff]);
    request.protocols.push(protocol);
    Request::JoinGroup { request, api_version: 9, client_id: "consumer-1".into(), client_host: "/127.0.0.1".into() }
}

#[tokio::test]
async fn history_is_persisted_and_loaded_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shutdown = CancellationToken::new();
    {
        let (config, topics, groups) = open(dir.path());
        let groups = Arc::new(groups);
        let topics = Arc::new(topics);
        groups.ensure_offsets_topic(&config, &topics).expect("offsets topic");
        let timers = tokio::spawn({
            let (groups, topics, shutdown) = (groups.clone(), topics.clone(), shutdown.clone());
            async move { groups.run_timers(&topics, shutdown).await }
        });
        let Some(Response::JoinGroup(r)) = groups.call(&topics, join(""), &shutdown).await else { panic!("no answer") };
        let member_id = r.member_id.to_string();
        let Some(Response::JoinGroup(r)) = groups.call(&topics, join(&member_id), &shutdown).await else {
            panic!("no answer")
        };
        assert_eq!((r.error_code, r.generation_id), (0, 1));
        let mut sync = SyncGroupRequest::default();
        sync.group_id = GroupId(s("g"));
        sync.member_id = s(&member_id);
        sync.generation_id = 1;
        let Some(Response::SyncGroup(r)) =
            groups.call(&topics, Request::SyncGroup { request: sync, api_version: 3 }, &shutdown).await
        else {
            panic!("no answer")
        };
        assert_eq!(r.error_code, 0);
        let history = groups.history("g").expect("history");
        assert_eq!(history.generations.len(), 1);
        assert_eq!(history.generations[0].reason, Some(RebalanceReason::NewMember));
        assert_eq!(groups.history("nobody"), None);
        shutdown.cancel();
        timers.await.expect("timers stop");
    }
    let (_, _, reloaded) = open(dir.path());
    let history = reloaded.history("g").expect("history after a restart");
    assert_eq!(history.generations.len(), 1);
    assert_eq!(history.generations[0].generation, 1);
    assert_eq!(history.generations[0].joined[0].client_id, "consumer-1");
}
