//! SSL listener settings: Kafka's keys, defaults, per-listener overrides and combination rules.

use super::{config, load};
use crate::config::ssl::{
    is_honoured_ssl_key, KeystoreSource, SslClientAuth, StoreType, TlsProtocol, TruststoreSource,
};
use crate::config::ConfigWarningKind;

const SSL_LISTENERS: (&str, &str) = ("listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093");

fn ssl_of(pairs: &[(&str, &str)]) -> Result<crate::config::ssl::ListenerSslConfig, String> {
    let mut all = vec![SSL_LISTENERS];
    all.extend_from_slice(pairs);
    let config = config(&all);
    let listener = config.listeners.iter().find(|l| l.name == "SSL").expect("SSL listener").clone();
    config.listener_ssl(&listener).map_err(|error| error.to_string())
}

#[test]
fn defaults_are_kafkas() {
    let ssl = ssl_of(&[]).expect("defaults");
    assert_eq!(ssl.client_auth, SslClientAuth::None);
    assert_eq!(ssl.enabled_protocols, vec![TlsProtocol::Tls12, TlsProtocol::Tls13]);
    assert_eq!(ssl.principal_mapping_rules, "DEFAULT");
    assert_eq!(ssl.keystore, None);
    assert_eq!(ssl.truststore, None);
}

#[test]
fn a_pem_keystore_file_needs_no_password() {
    let ssl = ssl_of(&[
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", "/k.pem"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", "/ca.pem"),
        ("ssl.client.auth", "required"),
    ])
    .expect("valid");
    assert_eq!(ssl.keystore, Some(KeystoreSource::File { store_type: StoreType::Pem, path: "/k.pem".into(), password: None }));
    assert_eq!(ssl.truststore, Some(TruststoreSource::File { store_type: StoreType::Pem, path: "/ca.pem".into(), password: None }));
    assert_eq!(ssl.client_auth, SslClientAuth::Required);
}

#[test]
fn listener_prefixed_keys_win_key_by_key() {
    let ssl = ssl_of(&[
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", "/global.pem"),
        ("listener.name.ssl.ssl.keystore.location", "/listener.pem"),
        ("listener.name.ssl.ssl.client.auth", "requested"),
        ("ssl.client.auth", "required"),
    ])
    .expect("valid");
    assert_eq!(ssl.keystore, Some(KeystoreSource::File { store_type: StoreType::Pem, path: "/listener.pem".into(), password: None }));
    assert_eq!(ssl.client_auth, SslClientAuth::Requested);
}

#[test]
fn kafkas_keystore_combination_rules_apply() {
    let error = ssl_of(&[("ssl.keystore.type", "PEM"), ("ssl.keystore.location", "/k.pem"), ("ssl.keystore.password", "x")])
        .expect_err("password with PEM");
    assert!(error.contains("SSL key store password cannot be specified with PEM format"), "{error}");
    assert!(!error.contains("Invalid value x "), "the password must not be shown: {error}");
    let error = ssl_of(&[("ssl.keystore.location", "/k.p12")]).expect_err("no password");
    assert!(error.contains("SSL key store is specified, but key store password is not specified."), "{error}");
    let error = ssl_of(&[("ssl.keystore.key", "k")]).expect_err("key without PEM type");
    assert!(error.contains("SSL private key can be specified only for PEM"), "{error}");
    let error = ssl_of(&[("ssl.keystore.type", "PEM"), ("ssl.keystore.key", "k")]).expect_err("no chain");
    assert!(error.contains("certificate chain is not specified"), "{error}");
    let error = ssl_of(&[("ssl.keystore.certificate.chain", "c")]).expect_err("chain alone");
    assert!(error.contains("SSL certificate chain is specified, but private key is not specified"), "{error}");
    let ssl = ssl_of(&[("ssl.keystore.type", "PEM"), ("ssl.keystore.key", "k"), ("ssl.keystore.certificate.chain", "c")]).expect("inline");
    assert!(matches!(ssl.keystore, Some(KeystoreSource::PemInline { .. })));
    let ssl = ssl_of(&[("ssl.keystore.type", "PKCS12"), ("ssl.keystore.location", "/k.p12"), ("ssl.keystore.password", "pw")]).expect("p12");
    assert!(matches!(ssl.keystore, Some(KeystoreSource::File { store_type: StoreType::Pkcs12, .. })));
}

#[test]
fn kafkas_truststore_combination_rules_apply() {
    let error = ssl_of(&[("ssl.truststore.type", "PEM"), ("ssl.truststore.location", "/ca.pem"), ("ssl.truststore.password", "x")])
        .expect_err("password with PEM");
    assert!(error.contains("SSL trust store password cannot be specified for PEM format."), "{error}");
    let error = ssl_of(&[("ssl.truststore.certificates", "c")]).expect_err("inline without PEM type");
    assert!(error.contains("SSL trust store certs can be specified only for PEM"), "{error}");
    let error = ssl_of(&[("ssl.truststore.password", "x")]).expect_err("password alone");
    assert!(error.contains("SSL trust store is not specified, but trust store password is specified."), "{error}");
    let ssl = ssl_of(&[("ssl.truststore.location", "/t.jks")]).expect("a truststore needs no password");
    assert!(matches!(ssl.truststore, Some(TruststoreSource::File { store_type: StoreType::Jks, password: None, .. })));
}

#[test]
fn client_auth_values_are_kafkas_lower_case_names() {
    let error = ssl_of(&[("ssl.client.auth", "REQUIRED")]).expect_err("case-sensitive as Kafka's validator");
    assert!(error.contains("Invalid value REQUIRED for configuration ssl.client.auth: String must be one of: required, requested, none"), "{error}");
}

#[test]
fn enabled_protocols_keep_tls12_and_tls13_and_drop_legacy_ones() {
    let ssl = ssl_of(&[("ssl.enabled.protocols", "TLSv1.3")]).expect("1.3 only");
    assert_eq!(ssl.enabled_protocols, vec![TlsProtocol::Tls13]);
    let ssl = ssl_of(&[("ssl.enabled.protocols", "TLSv1.1, TLSv1.2")]).expect("legacy dropped");
    assert_eq!(ssl.enabled_protocols, vec![TlsProtocol::Tls12]);
    assert_eq!(ssl.dropped_protocols, vec!["TLSv1.1".to_string()]);
    assert!(ssl_of(&[("ssl.enabled.protocols", "TLSv1.1")]).is_err());
    assert!(ssl_of(&[("ssl.enabled.protocols", "TLSv9")]).is_err());
}

#[test]
fn honoured_ssl_keys_draw_no_warning_and_the_rest_still_do() {
    let (_, warnings) = load(&[
        SSL_LISTENERS,
        ("ssl.keystore.type", "PEM"),
        ("listener.name.ssl.ssl.client.auth", "required"),
        ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
    ])
    .expect("valid");
    assert!(!warnings.iter().any(|w| w.key == "ssl.keystore.type" || w.key == "listener.name.ssl.ssl.client.auth"), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.key == "ssl.cipher.suites" && w.kind == ConfigWarningKind::NoEffect), "{warnings:?}");
    assert!(is_honoured_ssl_key("listener.name.client.ssl.keystore.location"));
    assert!(!is_honoured_ssl_key("listener.name..ssl.keystore.location"));
    assert!(!is_honoured_ssl_key("ssl.provider"));
}
