//! Keystores and truststores: turning a listener's [`KeystoreSource`] / [`TruststoreSource`]
//! into a certificate chain and private key, or trust anchors, as Kafka's
//! `DefaultSslEngineFactory` reads them.
//!
//! - PEM (file or inline): certificates from every `CERTIFICATE` block; exactly one
//!   `... PRIVATE KEY` block. With ssl.key.password the key must be an `ENCRYPTED PRIVATE KEY`
//!   (PKCS#8 EncryptedPrivateKeyInfo, as Kafka requires); without, PKCS#8 (Kafka's only form),
//!   and also PKCS#1 / SEC1, which Kafka refuses but rustls reads.
//! - PKCS12 (also a PKCS12 file under the default type JKS, which Java reads too): the first
//!   private key entry with its chain, decrypted with ssl.keystore.password.
//! - A JKS file is refused with the commands that convert it.

use std::path::Path;

use p12_keystore::{KeyStore, Pkcs12Archive, Pkcs12ImportPolicy};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use super::pem::{parse_blocks, PemBlock};
use crate::config::ssl::{KeystoreSource, Password, StoreType, TruststoreSource};

/// The magic numbers that open Java's proprietary keystores (JKS, JCEKS).
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];
const JCEKS_MAGIC: [u8; 4] = [0xCE, 0xCE, 0xCE, 0xCE];
/// A keystore file larger than this is not a keystore; refuse rather than read it all.
pub const STORE_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Why a keystore or truststore cannot be used; each names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is {bytes} bytes, more than the {STORE_FILE_BYTES_MAX} a keystore may have")]
    TooLarge { path: String, bytes: u64 },
    #[error("{0}")]
    Invalid(String),
}

/// A listener's identity: its certificate chain (leaf first) and private key.
#[derive(Debug)]
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Reads the keystore.
pub fn load_keystore(source: &KeystoreSource, key_password: Option<&Password>) -> Result<KeyMaterial, StoreError> {
    match source {
        KeystoreSource::PemInline { key, chain } => {
            let key = pem_private_key("ssl.keystore.key", key.value(), key_password)?;
            let chain = pem_certificates("ssl.keystore.certificate.chain", chain.value())?;
            Ok(KeyMaterial { chain, key })
        }
        KeystoreSource::File { store_type, path, password } => {
            let shown = path.display().to_string();
            let bytes = read_store(path)?;
            match store_type {
                StoreType::Pem => {
                    let text = pem_text(&shown, &bytes)?;
                    let key = pem_private_key(&shown, &text, key_password)?;
                    let chain = pem_certificates(&shown, &text)?;
                    Ok(KeyMaterial { chain, key })
                }
                StoreType::Jks | StoreType::Pkcs12 => {
                    check_binary_store(&shown, &bytes, Role::Keystore)?;
                    pkcs12_keystore(&shown, &bytes, password.as_ref().map(Password::value).unwrap_or(""))
                }
                StoreType::Other(name) => Err(unsupported_type("ssl.keystore.type", name)),
            }
        }
    }
}

/// Reads the truststore's CA certificates.
pub fn load_truststore(source: &TruststoreSource) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    match source {
        TruststoreSource::PemInline(certificates) => pem_certificates("ssl.truststore.certificates", certificates.value()),
        TruststoreSource::File { store_type, path, password } => {
            let shown = path.display().to_string();
            let bytes = read_store(path)?;
            match store_type {
                StoreType::Pem => pem_certificates(&shown, &pem_text(&shown, &bytes)?),
                StoreType::Jks | StoreType::Pkcs12 => {
                    check_binary_store(&shown, &bytes, Role::Truststore)?;
                    pkcs12_truststore(&shown, &bytes, password.as_ref().map(Password::value).unwrap_or(""))
                }
                StoreType::Other(name) => Err(unsupported_type("ssl.truststore.type", name)),
            }
        }
    }
}

fn unsupported_type(key: &str, name: &str) -> StoreError {
    StoreError::Invalid(format!("{key}={name} is not supported: Runnel reads PEM and PKCS12 stores"))
}

fn read_store(path: &Path) -> Result<Vec<u8>, StoreError> {
    let shown = || path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|source| StoreError::Io { path: shown(), source })?;
    if metadata.len() > STORE_FILE_BYTES_MAX {
        return Err(StoreError::TooLarge { path: shown(), bytes: metadata.len() });
    }
    std::fs::read(path).map_err(|source| StoreError::Io { path: shown(), source })
}

fn pem_text(shown: &str, bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| StoreError::Invalid(format!("{shown} is not a PEM text file (is it PKCS12? then set the store type to PKCS12)")))
}

#[derive(Clone, Copy)]
enum Role {
    Keystore,
    Truststore,
}

/// Refuses what a JKS/PKCS12 store type cannot mean here: Java's own formats, which only
/// Java reads, and PEM text under a binary type.
fn check_binary_store(shown: &str, bytes: &[u8], role: Role) -> Result<(), StoreError> {
    let (key, stem) = match role {
        Role::Keystore => ("ssl.keystore", "keystore"),
        Role::Truststore => ("ssl.truststore", "truststore"),
    };
    if bytes.starts_with(&JKS_MAGIC) || bytes.starts_with(&JCEKS_MAGIC) {
        let pem_step = match role {
            Role::Keystore => format!(
                "or to PEM: `openssl pkcs12 -in {stem}.p12 -nodes -out {stem}.pem` (private key and certificates in one \
                 file; Kafka and Runnel want the key as PKCS#8: `openssl pkcs8 -topk8 -nocrypt`) and set {key}.type=PEM \
                 with no {key}.password"
            ),
            Role::Truststore => format!(
                "or to PEM: `openssl pkcs12 -in {stem}.p12 -nokeys -out ca.pem` and set {key}.type=PEM, \
                 {key}.location=ca.pem with no {key}.password"
            ),
        };
        return Err(StoreError::Invalid(format!(
            "{shown} is a Java KeyStore (JKS), which only Java can read. Convert it to PKCS12: \
             `keytool -importkeystore -srckeystore {shown} -srcstoretype JKS -destkeystore {stem}.p12 -deststoretype PKCS12` \
             and set {key}.type=PKCS12 and {key}.location={stem}.p12 (same password), {pem_step}"
        )));
    }
    if bytes.starts_with(b"-----") || String::from_utf8_lossy(bytes).contains("-----BEGIN ") {
        return Err(StoreError::Invalid(format!(
            "{shown} is a PEM file, but {key}.type is not PEM (Kafka's default is JKS): set {key}.type=PEM"
        )));
    }
    Ok(())
}

fn pkcs12_error(shown: &str, error: p12_keystore::error::Error) -> StoreError {
    StoreError::Invalid(format!("cannot read PKCS12 store {shown} (wrong password, or not PKCS12?): {error}"))
}

fn pkcs12_keystore(shown: &str, bytes: &[u8], password: &str) -> Result<KeyMaterial, StoreError> {
    let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Strict).map_err(|error| pkcs12_error(shown, error))?;
    let (_, entry) = store
        .private_key_chain()
        .ok_or_else(|| StoreError::Invalid(format!("PKCS12 keystore {shown} has no private key entry with a certificate")))?;
    let chain: Vec<CertificateDer<'static>> =
        entry.certs().iter().map(|cert| CertificateDer::from(cert.as_der().to_vec())).collect();
    if chain.is_empty() {
        return Err(StoreError::Invalid(format!("PKCS12 keystore {shown}: the private key entry has no certificate")));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.key().as_der().to_vec()));
    Ok(KeyMaterial { chain, key })
}

fn pkcs12_truststore(shown: &str, bytes: &[u8], password: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    // Every certificate bag counts: Java marks trusted entries with an attribute, openssl
    // does not, and a truststore made with either must work.
    let archive = Pkcs12Archive::from_pkcs12(bytes, password).map_err(|error| pkcs12_error(shown, error))?;
    let certs: Vec<CertificateDer<'static>> =
        archive.certs.iter().map(|bag| CertificateDer::from(bag.cert.as_der().to_vec())).collect();
    if certs.is_empty() {
        return Err(StoreError::Invalid(format!("PKCS12 truststore {shown} holds no certificate")));
    }
    Ok(certs)
}

fn blocks(shown: &str, text: &str) -> Result<Vec<PemBlock>, StoreError> {
    parse_blocks(text).map_err(|error| StoreError::Invalid(format!("{shown}: {error}")))
}

/// Every certificate in a PEM text; at least one (Kafka: "At least one certificate expected").
pub fn pem_certificates(shown: &str, text: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certs: Vec<CertificateDer<'static>> = blocks(shown, text)?
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| CertificateDer::from(block.der))
        .collect();
    if certs.is_empty() {
        return Err(StoreError::Invalid(format!("{shown}: no certificate found (expected -----BEGIN CERTIFICATE-----)")));
    }
    Ok(certs)
}

/// The one private key in a PEM text, decrypted with `password` when given.
pub fn pem_private_key(shown: &str, text: &str, password: Option<&Password>) -> Result<PrivateKeyDer<'static>, StoreError> {
    let mut keys: Vec<PemBlock> = blocks(shown, text)?.into_iter().filter(|block| block.label.ends_with("PRIVATE KEY")).collect();
    let block = match keys.len() {
        0 => return Err(StoreError::Invalid(format!("{shown}: private key not provided (no -----BEGIN PRIVATE KEY----- block)"))),
        1 => keys.remove(0),
        n => return Err(StoreError::Invalid(format!("{shown}: expected one private key, but found {n}"))),
    };
    let invalid = |message: String| StoreError::Invalid(format!("{shown}: {message}"));
    match (block.label.as_str(), password) {
        ("ENCRYPTED PRIVATE KEY", Some(password)) => {
            let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(block.der.as_slice())
                .map_err(|error| invalid(format!("the encrypted private key cannot be parsed: {error}")))?;
            let plain = info.decrypt(password.value().as_bytes()).map_err(|error| {
                invalid(format!(
                    "cannot decrypt the private key with ssl.key.password ({error}); a wrong password, or a scheme \
                     other than PBES2 (PBKDF2 or scrypt with AES) or 3DES: re-encrypt with \
                     `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out encrypted.pem`"
                ))
            })?;
            Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec())))
        }
        ("ENCRYPTED PRIVATE KEY", None) => {
            Err(invalid("the private key is encrypted: set ssl.key.password to its password".to_string()))
        }
        (_, Some(_)) => Err(invalid(
            "ssl.key.password is set, but the private key is not encrypted (Kafka reads it as an \
             EncryptedPrivateKeyInfo and fails the same way): remove ssl.key.password"
                .to_string(),
        )),
        ("PRIVATE KEY", None) => Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(block.der))),
        ("RSA PRIVATE KEY", None) => Ok(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(block.der))),
        ("EC PRIVATE KEY", None) => Ok(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(block.der))),
        (label, None) => Err(invalid(format!(
            "unsupported private key block {label}; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::dev_certs::{create, DevCertsRequest};

    fn dev_set(dir: &Path) -> crate::tls::dev_certs::DevCerts {
        let request = DevCertsRequest { hosts: vec!["localhost".into()], ips: vec![], clients: vec![], ssl_port: 9093 };
        create(dir, &request).expect("dev certs")
    }

    fn file(store_type: StoreType, path: &Path, password: Option<&str>) -> KeystoreSource {
        KeystoreSource::File { store_type, path: path.to_path_buf(), password: password.map(Password::new) }
    }

    fn error_of(result: Result<KeyMaterial, StoreError>) -> String {
        result.expect_err("must fail").to_string()
    }

    #[test]
    fn a_jks_file_is_refused_with_the_commands_that_convert_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jks = dir.path().join("server.jks");
        std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).expect("write");
        let message = error_of(load_keystore(&file(StoreType::Jks, &jks, Some("pw")), None));
        assert!(message.contains("keytool -importkeystore") && message.contains("-deststoretype PKCS12"), "{message}");
        assert!(message.contains("openssl pkcs12") && message.contains("ssl.keystore.type=PEM"), "{message}");
        let source = TruststoreSource::File { store_type: StoreType::Jks, path: jks, password: None };
        let message = load_truststore(&source).expect_err("must fail").to_string();
        assert!(message.contains("keytool -importkeystore") && message.contains("ssl.truststore.type=PEM"), "{message}");
    }

    #[test]
    fn a_pem_file_under_the_default_jks_type_says_to_set_pem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dev_set(dir.path());
        let message = error_of(load_keystore(&file(StoreType::Jks, &certs.server.keystore, Some("pw")), None));
        assert!(message.contains("set ssl.keystore.type=PEM"), "{message}");
    }

    #[test]
    fn key_password_and_key_encryption_must_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dev_set(dir.path());
        let source = file(StoreType::Pem, &certs.server.keystore, None);
        let message = error_of(load_keystore(&source, Some(&Password::new("secret"))));
        assert!(message.contains("the private key is not encrypted"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let message = pem_private_key("inline", encrypted, None).expect_err("must fail").to_string();
        assert!(message.contains("set ssl.key.password"), "{message}");
        let message = pem_private_key("inline", encrypted, Some(&Password::new("x"))).expect_err("must fail").to_string();
        assert!(message.contains("cannot be parsed"), "{message}");
    }

    #[test]
    fn pem_keystores_need_exactly_one_key_and_a_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dev_set(dir.path());
        let chain = std::fs::read_to_string(&certs.server.certificate).expect("chain");
        let key = std::fs::read_to_string(&certs.server.key).expect("key");
        assert!(pem_private_key("x", &chain, None).expect_err("no key").to_string().contains("private key not provided"));
        let two = format!("{key}{key}");
        assert!(pem_private_key("x", &two, None).expect_err("two keys").to_string().contains("found 2"));
        assert!(pem_certificates("x", &key).expect_err("no cert").to_string().contains("no certificate"));
        let inline = KeystoreSource::PemInline { key: Password::new(key), chain: Password::new(chain) };
        let material = load_keystore(&inline, None).expect("inline PEM loads");
        assert_eq!(material.chain.len(), 2);
    }

    #[test]
    fn unreadable_and_unsupported_stores_are_named() {
        let missing = Path::new("/nonexistent/runnel/keystore.pem");
        assert!(error_of(load_keystore(&file(StoreType::Pem, missing, None), None)).contains("/nonexistent/runnel/keystore.pem"));
        let message = error_of(load_keystore(&file(StoreType::Other("BCFKS".into()), missing, None), None));
        assert!(message.contains("cannot read") || message.contains("BCFKS"), "{message}");
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("garbage.p12");
        std::fs::write(&garbage, [0x30, 0x03, 0x02, 0x01, 0x03]).expect("write");
        let message = error_of(load_keystore(&file(StoreType::Pkcs12, &garbage, Some("pw")), None));
        assert!(message.contains("cannot read PKCS12 store"), "{message}");
    }
}
