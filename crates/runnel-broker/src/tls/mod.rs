//! TLS for SSL listeners, on rustls with the ring provider: building a listener's server
//! configuration from its `ssl.*` settings, and deciding who a client is once its handshake is
//! done. The handshake itself runs in `connection`, the only place that owns sockets.
//!
//! Module map: `stores` (keystores and truststores: PEM, PKCS12, JKS refused), `pem` (PEM
//! blocks), `principal` (`KafkaPrincipal`, a certificate subject as Java prints it), `mapping`
//! (ssl.principal.mapping.rules), `dev_certs` (the `runnel certs create` generator).
//!
//! Kafka semantics kept: ssl.client.auth=required refuses a client without a certificate the
//! truststore vouches for (untrusted CA, expired, not yet valid, wrong key usage); `requested`
//! asks for one, lets a client without one in as ANONYMOUS and refuses a bad one; `none` never
//! asks. A client with a certificate is `User:<mapped subject>`.

pub mod dev_certs;
pub mod mapping;
pub mod pem;
pub mod principal;
pub mod stores;

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::config::ssl::{ListenerSslConfig, SslClientAuth, TlsProtocol};
pub use mapping::{MappingError, PrincipalMapper};
pub use principal::{subject_name, KafkaPrincipal, SubjectError};
pub use stores::StoreError;

/// How long a client has to complete its TLS handshake before the connection is closed (the
/// smaller of this and connections.max.idle.ms applies). Kafka bounds a stalled handshake only
/// by connections.max.idle.ms (10 minutes by default), which lets a slow-loris client hold a
/// connection slot for that long.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Why a listener's TLS cannot be set up; the server reports it at startup and exits.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("keystore: {0}")]
    Keystore(StoreError),
    #[error("truststore: {0}")]
    Truststore(StoreError),
    #[error(
        "an SSL listener needs a keystore: set ssl.keystore.type=PEM with ssl.keystore.location (private key and \
         certificate chain in one file), or ssl.keystore.key and ssl.keystore.certificate.chain, or a PKCS12 \
         ssl.keystore.location with ssl.keystore.password (`runnel certs create` makes a development set)"
    )]
    NoKeystore,
    #[error(
        "ssl.client.auth={0} needs a truststore to verify client certificates: set ssl.truststore.type=PEM and \
         ssl.truststore.location (or ssl.truststore.certificates). Kafka would fall back to the JVM's default CAs; \
         Runnel has none"
    )]
    NoTruststore(&'static str),
    #[error("ssl.principal.mapping.rules: {0}")]
    Mapping(MappingError),
    #[error("{0}")]
    Rustls(String),
}

/// Why an authenticated client has no principal; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum PrincipalError {
    #[error(transparent)]
    Subject(#[from] SubjectError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

/// An SSL listener's TLS: the rustls server configuration and the principal rules.
#[derive(Clone)]
pub struct ListenerTls {
    pub server_config: Arc<ServerConfig>,
    pub mapper: PrincipalMapper,
    pub client_auth: SslClientAuth,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls").field("client_auth", &self.client_auth).field("mapper", &self.mapper).finish()
    }
}

impl ListenerTls {
    /// Loads the stores and builds the server configuration for one listener.
    pub fn build(ssl: &ListenerSslConfig) -> Result<ListenerTls, TlsError> {
        let mapper = PrincipalMapper::parse(&ssl.principal_mapping_rules).map_err(TlsError::Mapping)?;
        let keystore = ssl.keystore.as_ref().ok_or(TlsError::NoKeystore)?;
        let identity = stores::load_keystore(keystore, ssl.key_password.as_ref()).map_err(TlsError::Keystore)?;
        // Loaded even when unused (client auth none), so a broken truststore fails at startup
        // as it does in Kafka.
        let trusted = match &ssl.truststore {
            Some(source) => Some(stores::load_truststore(source).map_err(TlsError::Truststore)?),
            None => None,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: Vec<&'static SupportedProtocolVersion> = ssl
            .enabled_protocols
            .iter()
            .map(|protocol| match protocol {
                TlsProtocol::Tls12 => &rustls::version::TLS12,
                TlsProtocol::Tls13 => &rustls::version::TLS13,
            })
            .collect();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|error| TlsError::Rustls(format!("ssl.enabled.protocols: {error}")))?;
        let builder = match ssl.client_auth {
            SslClientAuth::None => builder.with_no_client_auth(),
            auth @ (SslClientAuth::Requested | SslClientAuth::Required) => {
                let trusted = trusted.ok_or(TlsError::NoTruststore(auth.name()))?;
                let roots = root_store(trusted)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if auth == SslClientAuth::Requested { verifier.allow_unauthenticated() } else { verifier };
                let verifier = verifier.build().map_err(|error| TlsError::Rustls(format!("truststore: {error}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let server_config = builder
            .with_single_cert(identity.chain, identity.key)
            .map_err(|error| TlsError::Rustls(format!("keystore: the private key does not fit the certificate: {error}")))?;
        Ok(ListenerTls { server_config: Arc::new(server_config), mapper, client_auth: ssl.client_auth })
    }

    /// The principal of a client after its handshake: `User:<mapped subject>` with a
    /// certificate, ANONYMOUS without.
    pub fn principal(&self, peer_certificates: Option<&[CertificateDer<'_>]>) -> Result<KafkaPrincipal, PrincipalError> {
        match peer_certificates.and_then(|chain| chain.first()) {
            None => Ok(KafkaPrincipal::anonymous()),
            Some(leaf) => {
                let subject = subject_name(leaf.as_ref())?;
                Ok(KafkaPrincipal::user(self.mapper.name_for(&subject)?))
            }
        }
    }
}

fn root_store(certificates: Vec<CertificateDer<'static>>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(TlsError::Truststore(StoreError::Invalid(format!(
            "none of its {ignored} certificates can serve as a trust anchor"
        ))));
    }
    Ok(roots)
}
