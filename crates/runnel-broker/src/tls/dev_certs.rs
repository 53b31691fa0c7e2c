//! A development certificate set for `runnel certs create` (Runnel's own; Kafka has no such
//! tool): a throwaway CA, a server certificate for the given host names and IP addresses, and
//! client certificates, all PEM with PKCS#8 keys (what Kafka's PEM keystores, librdkafka and
//! Python's ssl module all read), plus the broker and client settings that use them.
//!
//! Not for production: keys are unencrypted and the CA key is written next to the certificates.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// How long generated certificates are valid.
pub const DEV_CERT_VALIDITY_DAYS: i64 = 365;
/// Backdating of not-before, so a client whose clock is a little behind accepts the set.
const CLOCK_SKEW_ALLOWANCE_MINUTES: i64 = 5;
/// Organisation and unit in every generated subject: clients become `CN=<name>,OU=dev,O=runnel`.
pub const DEV_ORGANIZATION: &str = "runnel";
pub const DEV_ORGANIZATIONAL_UNIT: &str = "dev";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertsRequest {
    /// DNS names in the server certificate; the first is also its CN. At least one host or IP.
    pub hosts: Vec<String>,
    pub ips: Vec<IpAddr>,
    /// Client common names; each gets its own certificate.
    pub clients: Vec<String>,
    /// The SSL port the printed settings use.
    pub ssl_port: u16,
}

/// Why the set could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DevCertsError {
    #[error("give at least one --host or --ip for the server certificate")]
    NoServerName,
    #[error("client name {0:?} is not usable: use letters, digits, '.', '_' or '-'")]
    BadClientName(String),
    #[error("client name {0} is given twice")]
    DuplicateClient(String),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The files of one generated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFiles {
    /// The certificate's common name (`localhost`, or the client name).
    pub name: String,
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// Key and certificate chain in one file: Kafka's `ssl.keystore.type=PEM` location.
    pub keystore: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCerts {
    pub dir: PathBuf,
    pub ca_certificate: PathBuf,
    pub ca_key: PathBuf,
    pub server: IdentityFiles,
    pub clients: Vec<IdentityFiles>,
    /// `client-<name>.properties` for Java clients and Kafka's CLI tools, one per client.
    pub java_client_properties: Vec<PathBuf>,
    /// The first server host (or IP) and the SSL port, for the printed settings.
    pub bootstrap: String,
}

fn valid_client_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn params(common_name: &str, now: OffsetDateTime) -> Result<CertificateParams, DevCertsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, DEV_ORGANIZATION);
    name.push(DnType::OrganizationalUnitName, DEV_ORGANIZATIONAL_UNIT);
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.not_before = now - Duration::minutes(CLOCK_SKEW_ALLOWANCE_MINUTES);
    params.not_after = now + Duration::days(DEV_CERT_VALIDITY_DAYS);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), DevCertsError> {
    std::fs::write(path, contents).map_err(|source| DevCertsError::Io { path: path.to_path_buf(), source })?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| DevCertsError::Io { path: path.to_path_buf(), source })?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Writes an identity signed by `issuer`: certificate (leaf then CA), key, and keystore.
fn write_identity(
    dir: &Path,
    common_name: &str,
    name: &str,
    params: CertificateParams,
    issuer: &Issuer<'_, KeyPair>,
    ca_pem: &str,
) -> Result<IdentityFiles, DevCertsError> {
    let key = KeyPair::generate()?;
    let certificate = params.signed_by(&key, issuer)?;
    let chain = format!("{}{ca_pem}", certificate.pem());
    let files = IdentityFiles {
        name: common_name.to_string(),
        certificate: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        keystore: dir.join(format!("{name}-keystore.pem")),
    };
    write(&files.certificate, &chain, false)?;
    write(&files.key, &key.serialize_pem(), true)?;
    write(&files.keystore, &format!("{}{chain}", key.serialize_pem()), true)?;
    Ok(files)
}

/// Generates the set into `dir` (created if missing; existing files of the same names are
/// replaced). Paths in the result are absolute when `dir` can be made absolute.
pub fn create(dir: &Path, request: &DevCertsRequest) -> Result<DevCerts, DevCertsError> {
    if request.hosts.is_empty() && request.ips.is_empty() {
        return Err(DevCertsError::NoServerName);
    }
    let mut seen = std::collections::BTreeSet::new();
    for client in &request.clients {
        if !valid_client_name(client) {
            return Err(DevCertsError::BadClientName(client.clone()));
        }
        if !seen.insert(client.as_str()) {
            return Err(DevCertsError::DuplicateClient(client.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| DevCertsError::Io { path: dir.to_path_buf(), source })?;
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let now = OffsetDateTime::now_utc();

    let mut ca_params = params("Runnel development CA", now)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca_params.use_authority_key_identifier_extension = false;
    let ca_key = KeyPair::generate()?;
    let ca_certificate = ca_params.self_signed(&ca_key)?;
    let ca_pem = ca_certificate.pem();
    let ca_cert_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca.key");
    write(&ca_cert_path, &ca_pem, false)?;
    write(&ca_key_path, &ca_key.serialize_pem(), true)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_name = request.hosts.first().cloned().or_else(|| request.ips.first().map(IpAddr::to_string)).unwrap_or_default();
    let mut server_params = params(&server_name, now)?;
    server_params.subject_alt_names = request
        .hosts
        .iter()
        .map(|host| host.clone().try_into().map(SanType::DnsName))
        .collect::<Result<Vec<_>, _>>()?;
    server_params.subject_alt_names.extend(request.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    // clientAuth too, so the same identity can serve a broker that talks TLS to another.
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let server = write_identity(&dir, &server_name, "server", server_params, &issuer, &ca_pem)?;

    let mut clients = Vec::new();
    let mut java_client_properties = Vec::new();
    for client in &request.clients {
        let mut client_params = params(client, now)?;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let files = write_identity(&dir, client, &format!("client-{client}"), client_params, &issuer, &ca_pem)?;
        let properties = dir.join(format!("client-{client}.properties"));
        write(&properties, &java_properties(&ca_cert_path, &files), false)?;
        java_client_properties.push(properties);
        clients.push(files);
    }
    let host = if server_name.contains(':') { format!("[{server_name}]") } else { server_name };
    Ok(DevCerts {
        dir,
        ca_certificate: ca_cert_path,
        ca_key: ca_key_path,
        server,
        clients,
        java_client_properties,
        bootstrap: format!("{host}:{}", request.ssl_port),
    })
}

fn java_properties(ca: &Path, client: &IdentityFiles) -> String {
    format!(
        "# Java clients and Kafka's CLI tools (--command-config, --producer.config, --consumer.config)\n\
         security.protocol=SSL\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={}\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={}\n",
        ca.display(),
        client.keystore.display()
    )
}

/// The settings that use the set: server.properties lines, then kafka-python, confluent-kafka
/// (librdkafka) and Java client settings for the first client.
pub fn settings_text(certs: &DevCerts) -> String {
    let mut out = String::new();
    let bootstrap = &certs.bootstrap;
    let port = bootstrap.rsplit_once(':').map_or("9093", |(_, port)| port);
    let host = bootstrap.rsplit_once(':').map_or(bootstrap.as_str(), |(host, _)| host);
    let _ = writeln!(out, "# Wrote a development CA and certificates to {}", certs.dir.display());
    let _ = writeln!(out, "\n# --- broker: server.properties ---");
    let _ = writeln!(out, "listeners=PLAINTEXT://{host}:9092,SSL://{host}:{port}");
    let _ = writeln!(out, "ssl.keystore.type=PEM");
    let _ = writeln!(out, "ssl.keystore.location={}", certs.server.keystore.display());
    let _ = writeln!(out, "ssl.truststore.type=PEM");
    let _ = writeln!(out, "ssl.truststore.location={}", certs.ca_certificate.display());
    let _ = writeln!(out, "ssl.client.auth=required");
    let Some(client) = certs.clients.first() else {
        let _ = writeln!(out, "\n# No client certificates were made (--client NAME makes one); clients need only the CA:");
        let _ = writeln!(out, "#   ssl.truststore.type=PEM, ssl.truststore.location={}", certs.ca_certificate.display());
        return out;
    };
    let _ = writeln!(out, "\n# --- kafka-python (client certificate CN={}) ---", client.name);
    let _ = writeln!(
        out,
        "KafkaConsumer(..., bootstrap_servers=\"{bootstrap}\", security_protocol=\"SSL\",\n    \
         ssl_cafile=\"{}\",\n    ssl_certfile=\"{}\",\n    ssl_keyfile=\"{}\")",
        certs.ca_certificate.display(),
        client.certificate.display(),
        client.key.display()
    );
    let _ = writeln!(out, "\n# --- confluent-kafka / librdkafka (client certificate CN={}) ---", client.name);
    let _ = writeln!(
        out,
        "{{\"bootstrap.servers\": \"{bootstrap}\", \"security.protocol\": \"SSL\",\n \
         \"ssl.ca.location\": \"{}\",\n \"ssl.certificate.location\": \"{}\",\n \"ssl.key.location\": \"{}\"}}",
        certs.ca_certificate.display(),
        client.certificate.display(),
        client.key.display()
    );
    let _ = writeln!(out, "\n# --- Java clients and Kafka CLI tools: client.properties (client certificate CN={}) ---", client.name);
    if let Some(path) = certs.java_client_properties.first() {
        let _ = writeln!(out, "# written to {}", path.display());
    }
    out.push_str(&java_properties(&certs.ca_certificate, client));
    if certs.clients.len() > 1 {
        let others: Vec<&str> = certs.clients[1..].iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(out, "\n# Other clients ({}) have the same files as client-<name>.*", others.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ssl::{KeystoreSource, StoreType, TruststoreSource};
    use crate::tls::stores::{load_keystore, load_truststore};
    use crate::tls::subject_name;

    fn request() -> DevCertsRequest {
        DevCertsRequest {
            hosts: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().expect("ip")],
            clients: vec!["alice".into(), "bob".into()],
            ssl_port: 9093,
        }
    }

    #[test]
    fn the_set_loads_as_kafka_style_pem_stores_and_names_its_clients() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = create(dir.path(), &request()).expect("created");
        let server = load_keystore(
            &KeystoreSource::File { store_type: StoreType::Pem, path: certs.server.keystore.clone(), password: None },
            None,
        )
        .expect("server keystore loads");
        assert_eq!(server.chain.len(), 2, "leaf and CA");
        assert_eq!(subject_name(server.chain[0].as_ref()).expect("subject"), "CN=localhost,OU=dev,O=runnel");
        let trusted = load_truststore(&TruststoreSource::File {
            store_type: StoreType::Pem,
            path: certs.ca_certificate.clone(),
            password: None,
        })
        .expect("truststore loads");
        assert_eq!(trusted.len(), 1);
        assert_eq!(certs.clients.len(), 2);
        let bob = load_keystore(
            &KeystoreSource::File { store_type: StoreType::Pem, path: certs.clients[1].keystore.clone(), password: None },
            None,
        )
        .expect("client keystore loads");
        assert_eq!(subject_name(bob.chain[0].as_ref()).expect("subject"), "CN=bob,OU=dev,O=runnel");
        let text = settings_text(&certs);
        assert!(text.contains("ssl.keystore.location="), "{text}");
        assert!(text.contains("ssl_certfile="), "{text}");
        assert!(text.contains("\"ssl.key.location\""), "{text}");
        assert!(text.contains("security.protocol=SSL"), "{text}");
        assert!(certs.java_client_properties[0].exists());
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out");
        let no_names = DevCertsRequest { hosts: vec![], ips: vec![], ..request() };
        assert!(matches!(create(&target, &no_names), Err(DevCertsError::NoServerName)));
        let bad_client = DevCertsRequest { clients: vec!["a/b".into()], ..request() };
        assert!(matches!(create(&target, &bad_client), Err(DevCertsError::BadClientName(_))));
        let twice = DevCertsRequest { clients: vec!["a".into(), "a".into()], ..request() };
        assert!(matches!(create(&target, &twice), Err(DevCertsError::DuplicateClient(_))));
        assert!(!target.exists());
    }
}
