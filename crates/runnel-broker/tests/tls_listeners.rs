//! An in-process broker with a PLAINTEXT and an SSL listener (client certificates required),
//! driven with a rustls client: each listener advertises its own address, and every kind of
//! bad TLS client is refused while good clients on both listeners carry on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use runnel_broker::config::BrokerConfig;
use runnel_broker::tls::dev_certs::{self, DevCerts, DevCertsRequest};
use runnel_broker::Broker;
use runnel_protocol::kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse, RequestHeader,
};
use runnel_protocol::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Bound on every network wait in these tests.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const METADATA_VERSION: i16 = 1;
/// Kafka's error code when no coordinator can be named.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// connections.max.idle.ms in the bad-client test, which bounds a stalled handshake.
const STALL_BOUND_MS: u64 = 2_000;

struct Running {
    plaintext: SocketAddr,
    ssl: SocketAddr,
    shutdown: CancellationToken,
    _data: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(certs: &DevCerts, extra: &[(&str, &str)]) -> Running {
    let data = tempfile::tempdir().expect("data dir");
    let mut map: BTreeMap<String, String> = [
        ("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0".to_string()),
        ("log.dirs", data.path().display().to_string()),
        ("offsets.topic.replication.factor", "1".to_string()),
        ("ssl.keystore.type", "PEM".to_string()),
        ("ssl.keystore.location", certs.server.keystore.display().to_string()),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", certs.ca_certificate.display().to_string()),
        ("ssl.client.auth", "required".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (key, value) in extra {
        map.insert(key.to_string(), value.to_string());
    }
    let (config, _) = BrokerConfig::from_map(&map).expect("valid config");
    let broker = Broker::bind(config).await.expect("broker binds");
    let plaintext = broker.local_addr_of("PLAINTEXT").expect("plaintext listener");
    let ssl = broker.local_addr_of("SSL").expect("ssl listener");
    let shutdown = CancellationToken::new();
    tokio::spawn(broker.run(shutdown.clone()));
    Running { plaintext, ssl, shutdown, _data: data }
}

fn certs(dir: &Path) -> DevCerts {
    let request = DevCertsRequest {
        hosts: vec!["localhost".into()],
        ips: vec!["127.0.0.1".parse().expect("ip")],
        clients: vec!["alice".into()],
        ssl_port: 9093,
    };
    dev_certs::create(dir, &request).expect("dev certs")
}

fn client_config(ca: &Path, identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("ca file") {
        roots.add(cert.expect("ca cert")).expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).expect("client cert"),
        None => builder.with_no_client_auth(),
    })
}

fn identity_from(cert: &Path, key: &Path) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let chain = CertificateDer::pem_file_iter(cert).expect("cert file").map(|c| c.expect("cert")).collect();
    (chain, PrivateKeyDer::from_pem_file(key).expect("key"))
}

/// A TLS connection to `addr`, or the error that ended it: with TLS 1.3 a refused client
/// certificate shows only when the client next reads.
async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(IO_TIMEOUT, tokio_rustls::TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// Sends one request and decodes its response (response header v0 below flexible versions,
/// v1 from them).
async fn call<S, Req, Resp>(stream: &mut S, key: ApiKey, version: i16, request: Req) -> std::io::Result<Resp>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Req: Encodable,
    Resp: Decodable,
{
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("tls-test")));
    let mut body = BytesMut::new();
    header.encode(&mut body, key.request_header_version(version)).map_err(std::io::Error::other)?;
    request.encode(&mut body, version).map_err(std::io::Error::other)?;
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    tokio::time::timeout(IO_TIMEOUT, async {
        stream.write_all(&frame).await?;
        stream.flush().await?;
        let size = stream.read_i32().await?;
        let mut response = vec![0u8; usize::try_from(size).map_err(std::io::Error::other)?];
        stream.read_exact(&mut response).await?;
        let mut response = bytes::Bytes::from(response);
        assert_eq!(response.get_i32(), 7, "correlation id");
        if key.response_header_version(version) >= 1 {
            // The tagged fields of a flexible response header: none expected.
            assert_eq!(response.get_u8(), 0, "no header tagged fields");
        }
        Resp::decode(&mut response, version).map_err(std::io::Error::other)
    })
    .await
    .map_err(|_| std::io::Error::other("request timed out"))?
}

async fn metadata<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> std::io::Result<MetadataResponse> {
    call(stream, ApiKey::Metadata, METADATA_VERSION, MetadataRequest::default().with_topics(Some(vec![]))).await
}

async fn coordinator_port<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> i32 {
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("some-group"));
    let response: FindCoordinatorResponse = call(stream, ApiKey::FindCoordinator, 1, request).await.expect("find coordinator");
    assert_eq!(response.error_code, 0, "{response:?}");
    response.port
}

async fn cluster_ports<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Vec<i32> {
    let response: DescribeClusterResponse =
        call(stream, ApiKey::DescribeCluster, 0, DescribeClusterRequest::default()).await.expect("describe cluster");
    response.brokers.iter().map(|broker| broker.port).collect()
}

fn advertised_port(response: &MetadataResponse) -> i32 {
    assert_eq!(response.brokers.len(), 1, "{response:?}");
    response.brokers[0].port
}

#[tokio::test]
async fn each_listener_advertises_its_own_port_and_a_certificate_client_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certs(dir.path());
    let broker = start(&certs, &[]).await;

    let mut plain = TcpStream::connect(broker.plaintext).await.expect("plaintext connect");
    assert_eq!(advertised_port(&metadata(&mut plain).await.expect("plaintext metadata")), i32::from(broker.plaintext.port()));

    let alice = identity_from(&certs.clients[0].certificate, &certs.clients[0].key);
    let mut tls = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(alice))).await.expect("tls connect");
    assert_eq!(advertised_port(&metadata(&mut tls).await.expect("tls metadata")), i32::from(broker.ssl.port()));

    // The group coordinator and the cluster description follow the listener too.
    assert_eq!(coordinator_port(&mut plain).await, i32::from(broker.plaintext.port()));
    assert_eq!(coordinator_port(&mut tls).await, i32::from(broker.ssl.port()));
    assert_eq!(cluster_ports(&mut plain).await, vec![i32::from(broker.plaintext.port())]);
    assert_eq!(cluster_ports(&mut tls).await, vec![i32::from(broker.ssl.port())]);
}

#[tokio::test]
async fn bad_tls_clients_are_refused_and_good_clients_carry_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certs(dir.path());
    let rogue_dir = tempfile::tempdir().expect("tempdir");
    let rogue = self::certs(rogue_dir.path());
    let broker = start(&certs, &[("connections.max.idle.ms", &STALL_BOUND_MS.to_string())]).await;
    let alice = identity_from(&certs.clients[0].certificate, &certs.clients[0].key);
    let mut good = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(alice))).await.expect("good client");
    metadata(&mut good).await.expect("good client served");

    // A plaintext Kafka request on the TLS port: the handshake fails and the connection closes.
    let mut plain_on_tls = TcpStream::connect(broker.ssl).await.expect("connect");
    assert!(metadata(&mut plain_on_tls).await.is_err(), "a plaintext request on the TLS port must not be answered");

    // No client certificate, and one from a CA the broker does not trust.
    let anonymous = tls_connect(broker.ssl, client_config(&certs.ca_certificate, None)).await;
    if let Ok(mut stream) = anonymous {
        assert!(metadata(&mut stream).await.is_err(), "a client without a certificate must be refused");
    }
    let untrusted = identity_from(&rogue.clients[0].certificate, &rogue.clients[0].key);
    let stranger = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(untrusted))).await;
    if let Ok(mut stream) = stranger {
        assert!(metadata(&mut stream).await.is_err(), "an untrusted certificate must be refused");
    }

    // The good clients never noticed.
    assert_eq!(advertised_port(&metadata(&mut good).await.expect("still served")), i32::from(broker.ssl.port()));
    let mut plain = TcpStream::connect(broker.plaintext).await.expect("plaintext connect");
    metadata(&mut plain).await.expect("plaintext still served");

    // A handshake that never starts is cut off after the smaller of TLS_HANDSHAKE_TIMEOUT_MS
    // and connections.max.idle.ms (set low here).
    let mut silent = TcpStream::connect(broker.ssl).await.expect("connect");
    let started = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let ended = tokio::time::timeout(IO_TIMEOUT, silent.read(&mut byte)).await;
    assert!(matches!(ended, Ok(Ok(0) | Err(_))), "a stalled handshake must be closed: {ended:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(STALL_BOUND_MS / 2), "closed after {waited:?}, before the bound");

    // Idle connections close at the same bound; new ones are served.
    let alice = identity_from(&certs.clients[0].certificate, &certs.clients[0].key);
    let mut fresh = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(alice))).await.expect("fresh client");
    metadata(&mut fresh).await.expect("served after the stall");
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certs(dir.path());
    let broker = start(&certs, &[]).await;
    // Re-create the CA as an issuer from its key and name, and sign a certificate that expired.
    let ca_key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&certs.ca_key).expect("ca key")).expect("ca key pem");
    let mut ca_params = rcgen::CertificateParams::default();
    let mut ca_name = rcgen::DistinguishedName::new();
    ca_name.push(rcgen::DnType::OrganizationName, dev_certs::DEV_ORGANIZATION);
    ca_name.push(rcgen::DnType::OrganizationalUnitName, dev_certs::DEV_ORGANIZATIONAL_UNIT);
    ca_name.push(rcgen::DnType::CommonName, "Runnel development CA");
    ca_params.distinguished_name = ca_name;
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, "expired");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(10);
    params.not_after = now - time::Duration::days(1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("signed");
    let identity = (vec![cert.der().clone()], PrivateKeyDer::try_from(key.serialize_der()).expect("key der"));
    let outcome = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(identity))).await;
    if let Ok(mut stream) = outcome {
        assert!(metadata(&mut stream).await.is_err(), "an expired certificate must be refused");
    }
    // Control: the CA re-created this way does sign certificates the broker accepts, so the
    // refusal above is about expiry.
    let mut fresh = rcgen::CertificateParams::default();
    fresh.distinguished_name.push(rcgen::DnType::CommonName, "fresh");
    fresh.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let fresh_key = rcgen::KeyPair::generate().expect("key");
    let fresh_cert = fresh.signed_by(&fresh_key, &issuer).expect("signed");
    let identity = (vec![fresh_cert.der().clone()], PrivateKeyDer::try_from(fresh_key.serialize_der()).expect("key der"));
    let mut stream = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(identity))).await.expect("fresh connects");
    metadata(&mut stream).await.expect("a fresh certificate from the same CA is served");
}

#[tokio::test]
async fn a_listener_missing_from_advertised_listeners_gets_no_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certs(dir.path());
    let broker = start(&certs, &[("advertised.listeners", "SSL://localhost:19093")]).await;
    let mut plain = TcpStream::connect(broker.plaintext).await.expect("plaintext connect");
    let response = metadata(&mut plain).await.expect("metadata");
    assert!(response.brokers.is_empty(), "{response:?}");
    assert!(cluster_ports(&mut plain).await.is_empty());
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let response: FindCoordinatorResponse = call(&mut plain, ApiKey::FindCoordinator, 1, request).await.expect("find");
    assert_eq!(response.error_code, COORDINATOR_NOT_AVAILABLE, "{response:?}");
    let alice = identity_from(&certs.clients[0].certificate, &certs.clients[0].key);
    let mut tls = tls_connect(broker.ssl, client_config(&certs.ca_certificate, Some(alice))).await.expect("tls");
    let response = metadata(&mut tls).await.expect("metadata");
    assert_eq!(response.brokers[0].host.as_str(), "localhost");
    assert_eq!(response.brokers[0].port, 19093);
}

#[tokio::test]
async fn sasl_listeners_without_a_usable_mechanism_and_missing_keystores_fail_at_startup() {
    let data = tempfile::tempdir().expect("data dir");
    let base = |listeners: &str| -> BTreeMap<String, String> {
        [("listeners".to_string(), listeners.to_string()), ("log.dirs".to_string(), data.path().display().to_string())].into()
    };
    // Kafka's default sasl.enabled.mechanisms is GSSAPI, which Runnel does not serve; SASL_SSL
    // needs its keystore first.
    for (protocol, expected) in [("SASL_PLAINTEXT", "GSSAPI (Kerberos) is not supported"), ("SASL_SSL", "needs a keystore")] {
        let (config, _) = BrokerConfig::from_map(&base(&format!("{protocol}://127.0.0.1:0"))).expect("config loads");
        let error = Broker::bind(config).await.err().expect("refused").to_string();
        assert!(error.contains(protocol) && error.contains(expected), "{error}");
    }
    let (config, _) = BrokerConfig::from_map(&base("SSL://127.0.0.1:0")).expect("config loads");
    let error = Broker::bind(config).await.err().expect("refused").to_string();
    assert!(error.contains("needs a keystore"), "{error}");
}
