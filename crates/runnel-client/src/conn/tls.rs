//! TLS for broker connections (security.protocol SSL and SASL_SSL), on rustls.
//!
//! Owns: turning `SslConfig` (PEM files, as Kafka's `ssl.keystore.type=PEM` and librdkafka's
//! `ssl.ca.location`/`ssl.certificate.location`/`ssl.key.location`) into a rustls client
//! configuration, and wrapping a TCP stream. With `ssl.endpoint.identification.algorithm`
//! empty the broker's chain is still verified, only its host name is not (Kafka's meaning).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::SslConfig;
use crate::error::{Error, Result};

/// Builds the rustls configuration once per client; connections share it.
pub fn client_config(ssl: &SslConfig) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca_location = ssl
        .ca_location
        .as_deref()
        .ok_or_else(|| Error::Config("TLS needs ssl.truststore.location (or ssl.ca.location): a PEM file of CA certificates".into()))?;
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_location)? {
        roots.add(cert).map_err(|e| Error::Config(format!("{ca_location}: {e}")))?;
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Config(format!("{ca_location}: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> =
        if ssl.verify_hostname { verifier } else { Arc::new(ChainOnlyVerifier(verifier)) };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&ssl.certificate_location, &ssl.key_location) {
        (Some(cert_path), Some(key_path)) => {
            if ssl.key_password.is_some() {
                return Err(Error::Config(
                    "ssl.key.password: encrypted private keys are not supported; decrypt with `openssl pkey -in key.pem -out plain.pem`".into(),
                ));
            }
            let chain = read_certs(cert_path)?;
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| Error::Config(format!("{key_path}: no PEM private key ({e})")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| Error::Config(format!("{cert_path}: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Config("a client certificate needs both a certificate and a private key".into())),
    };
    Ok(Arc::new(config))
}

/// Wraps `stream` in TLS to `host`.
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    stream: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| Error::Config(format!("{host}: {e}")))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|source| Error::Io { broker: host.to_string(), source })
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::Config(format!("{path}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("{path}: no PEM certificate")));
    }
    Ok(certs)
}

/// Verifies the chain and signatures but accepts any host name.
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
