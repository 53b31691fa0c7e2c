//! runnel-client against Runnel's SASL listeners, in process: SCRAM users made with the
//! admin client's `alter_user_scram_credentials`, then PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
//! clients that authenticate and work; a wrong password and a deleted user are refused with
//! SASL_AUTHENTICATION_FAILED; credentials survive a broker restart.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use runnel_broker::config::BrokerConfig;
use runnel_broker::Broker;
use runnel_client::admin::scram::{ScramMechanism, UserScramCredentialAlteration};
use runnel_client::admin::{Admin, NewTopic};
use runnel_client::config::parse_properties;
use runnel_client::ClientConfig;
use tokio_util::sync::CancellationToken;

const SASL_AUTHENTICATION_FAILED: i16 = 58;
const TEST_TIMEOUT_S: u64 = 60;

struct Running {
    plaintext: SocketAddr,
    sasl: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

async fn start(data: &Path) -> Running {
    let settings = [
        ("listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"),
        ("offsets.topic.replication.factor", "1"),
        ("listener.name.sasl_plaintext.sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";",
        ),
    ];
    let mut map: BTreeMap<String, String> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("log.dirs".into(), data.display().to_string());
    let (config, _) = BrokerConfig::from_map(&map).expect("valid settings");
    let broker = Broker::bind(config).await.expect("broker starts");
    let plaintext = broker.local_addr_of("PLAINTEXT").expect("PLAINTEXT bound");
    let sasl = broker.local_addr_of("SASL_PLAINTEXT").expect("SASL_PLAINTEXT bound");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(broker.run(shutdown.clone()));
    Running { plaintext, sasl, shutdown, task }
}

fn sasl_config(addr: SocketAddr, mechanism: &str, user: &str, password: &str) -> ClientConfig {
    let text = format!(
        "bootstrap.servers={addr}\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism={mechanism}\n\
         sasl.username={user}\nsasl.password={password}\n"
    );
    ClientConfig::from_properties(&parse_properties(&text).expect("properties")).expect("client config")
}

fn upsert(user: &str, mechanism: ScramMechanism, password: &str) -> UserScramCredentialAlteration {
    UserScramCredentialAlteration::Upsert { user: user.into(), mechanism, iterations: 8192, password: password.into() }
}

async fn works(config: ClientConfig, topic: &str) {
    let admin = Admin::new(config).await.expect("authenticated");
    let created = admin.create_topics(&[NewTopic::new(topic).partitions(1)], false).await.expect("create");
    created[topic].as_ref().expect("topic created");
    assert!(admin.list_topics(false).await.expect("list").iter().any(|t| t.name == topic));
}

async fn refused(config: ClientConfig) {
    match Admin::new(config).await {
        Ok(_) => panic!("a bad login was accepted"),
        Err(error) => assert_eq!(error.code(), Some(SASL_AUTHENTICATION_FAILED), "{error}"),
    }
}

#[tokio::test]
async fn plain_and_scram_clients_authenticate_and_bad_logins_are_refused() {
    tokio::time::timeout(Duration::from_secs(TEST_TIMEOUT_S), async {
        let data = tempfile::tempdir().expect("data dir");
        let broker = start(data.path()).await;
        let admin = Admin::new(ClientConfig::new(broker.plaintext.to_string())).await.expect("plaintext admin");
        let altered = admin
            .alter_user_scram_credentials(&[
                upsert("bob", ScramMechanism::Sha256, "bob-secret"),
                upsert("carol", ScramMechanism::Sha512, "carol-secret"),
            ])
            .await
            .expect("alter");
        assert!(altered.values().all(Result::is_ok), "{altered:?}");
        let described = admin.describe_user_scram_credentials(None).await.expect("describe");
        assert_eq!(described.keys().collect::<Vec<_>>(), ["bob", "carol"]);
        let carol = described["carol"].as_ref().expect("carol described");
        assert_eq!((carol[0].mechanism, carol[0].iterations), (ScramMechanism::Sha512, 8192));

        works(sasl_config(broker.sasl, "PLAIN", "alice", "alice-secret"), "plain-topic").await;
        works(sasl_config(broker.sasl, "SCRAM-SHA-256", "bob", "bob-secret"), "scram256-topic").await;
        works(sasl_config(broker.sasl, "SCRAM-SHA-512", "carol", "carol-secret"), "scram512-topic").await;
        refused(sasl_config(broker.sasl, "PLAIN", "alice", "wrong")).await;
        refused(sasl_config(broker.sasl, "SCRAM-SHA-256", "bob", "wrong")).await;
        // bob has no SHA-512 credential.
        refused(sasl_config(broker.sasl, "SCRAM-SHA-512", "bob", "bob-secret")).await;

        let deleted = admin
            .alter_user_scram_credentials(&[UserScramCredentialAlteration::Delete {
                user: "bob".into(),
                mechanism: ScramMechanism::Sha256,
            }])
            .await
            .expect("delete");
        assert!(deleted["bob"].is_ok(), "{deleted:?}");
        refused(sasl_config(broker.sasl, "SCRAM-SHA-256", "bob", "bob-secret")).await;
        drop(admin);
        broker.stop().await;

        // The credential store is durable: carol still logs in after a restart, bob does not.
        let broker = start(data.path()).await;
        works(sasl_config(broker.sasl, "SCRAM-SHA-512", "carol", "carol-secret"), "after-restart").await;
        refused(sasl_config(broker.sasl, "SCRAM-SHA-256", "bob", "bob-secret")).await;
        broker.stop().await;
    })
    .await
    .expect("the test finishes in time");
}
