//! The TLS listener's configuration: the site's certificate chain and key (PEM), TLS 1.2 and
//! 1.3 only, HTTP/1.1 (IPP over HTTPS is HTTP/1.1).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsSettings;

/// Builds the server configuration from `[tls]`, with errors that name the file at fault.
pub fn server_config(tls: &TlsSettings) -> anyhow::Result<ServerConfig> {
    let cert_file = &tls.certificate_file;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| anyhow::anyhow!("tls.certificate_file {}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("tls.certificate_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "tls.certificate_file {} holds no certificate",
            cert_file.display()
        );
    }
    // The key is never echoed: only the file's name and what is wrong with it.
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| anyhow::anyhow!("tls.key_file {}: {e}", tls.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| anyhow::anyhow!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow::anyhow!("tls.certificate_file and tls.key_file do not make a usable pair: {e}")
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
