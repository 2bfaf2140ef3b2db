//! TLS towards `ipps://` copiers. A copier's certificate is trusted when it chains to the system
//! roots or to `[release] copier_ca_file` (the hospital's CA), or when the device is **pinned**:
//! the SHA-256 of its certificate is recorded at `folio device add --pin-certificate`, and only
//! that certificate is accepted afterwards, whatever its name or dates. Copiers ship with
//! self-signed certificates for `localhost` or their serial number: pinning is what works for
//! them without turning verification off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use sha2::{Digest, Sha256};

/// The trust Folio gives copiers (cheap to clone).
#[derive(Clone)]
pub struct CopierTls {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for CopierTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CopierTls({} roots)", self.roots.len())
    }
}

impl CopierTls {
    /// The system's roots, plus the CA certificates (PEM) in `ca_file` when it is not empty.
    pub fn load(ca_file: &Path) -> anyhow::Result<CopierTls> {
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped: the hospital CA file still counts.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        if !ca_file.as_os_str().is_empty() {
            use rustls::pki_types::pem::PemObject;
            let mut added = 0;
            for cert in CertificateDer::pem_file_iter(ca_file)
                .map_err(|e| anyhow::anyhow!("release.copier_ca_file {}: {e}", ca_file.display()))?
            {
                let cert = cert.map_err(|e| {
                    anyhow::anyhow!("release.copier_ca_file {}: {e}", ca_file.display())
                })?;
                roots.add(cert).map_err(|e| {
                    anyhow::anyhow!("release.copier_ca_file {}: {e}", ca_file.display())
                })?;
                added += 1;
            }
            if added == 0 {
                anyhow::bail!(
                    "release.copier_ca_file {} holds no certificate",
                    ca_file.display()
                );
            }
        }
        Ok(CopierTls {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// The client configuration for a device: its pin when it has one (hex SHA-256 of the
    /// certificate), the roots otherwise.
    pub fn client_config(&self, pin: Option<&str>) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        // A stored pin that does not parse (edited by hand) pins nothing: refuse every
        // certificate rather than fall back to the roots.
        let config = match pin.map(|p| parse_pin(p).unwrap_or([0; 32])) {
            Some(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    pin,
                    provider: self.provider.clone(),
                    seen: None,
                }))
                .with_no_client_auth(),
            None => builder
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth(),
        };
        Arc::new(config)
    }

    /// Connects to `address` (`host:port`) and returns the hex SHA-256 of the certificate the
    /// device presents, without trusting it: what an administrator pins after checking it (on
    /// the copier's panel or web page) matches.
    pub fn fingerprint(
        &self,
        address: &str,
        timeout: Duration,
        egress: &super::egress::Egress,
    ) -> anyhow::Result<String> {
        let seen = Arc::new(Mutex::new(None));
        let verifier = Pinned {
            pin: [0; 32],
            provider: self.provider.clone(),
            seen: Some(seen.clone()),
        };
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let host = address
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']))
            .unwrap_or(address);
        let name =
            ServerName::try_from(host.to_owned()).map_err(|e| anyhow::anyhow!("{host}: {e}"))?;
        let addr = egress.connect_address(address)?;
        let mut tcp = TcpStream::connect_timeout(&addr, timeout)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name)?;
        // The handshake stops at our verifier (it records the certificate, then refuses).
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let _ = tls.write_all(b"");
        let _ = tls.flush();
        let _ = tls.read(&mut [0u8; 1]);
        let found = seen.lock().unwrap_or_else(|e| e.into_inner()).take();
        found.ok_or_else(|| anyhow::anyhow!("{address} presented no TLS certificate"))
    }
}

/// `sha256:`-prefixed or bare hex, with or without colons, to bytes.
pub fn parse_pin(pin: &str) -> Option<[u8; 32]> {
    let hex_digits: String = pin
        .trim()
        .trim_start_matches("sha256:")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bytes = hex::decode(hex_digits).ok()?;
    bytes.try_into().ok()
}

/// The canonical form of a pin (lowercase hex), or `None` when it is not a SHA-256.
pub fn normalize_pin(pin: &str) -> Option<String> {
    parse_pin(pin).map(hex::encode)
}

/// Accepts exactly one certificate (or, with `seen`, records what is presented and refuses).
#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    seen: Option<Arc<Mutex<Option<String>>>>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if let Some(seen) = &self.seen {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(hex::encode(digest));
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        // Not secret: a constant-time comparison is not needed for a public certificate hash.
        if digest == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_in_the_usual_spellings() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(normalize_pin(&hex), Some(hex.clone()));
        assert_eq!(normalize_pin(&format!("sha256:{hex}")), Some(hex.clone()));
        assert_eq!(normalize_pin(&colons), Some(hex));
        assert_eq!(normalize_pin("abcd"), None);
        assert_eq!(normalize_pin("not hex at all"), None);
    }
}
