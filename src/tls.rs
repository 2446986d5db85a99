//! The TLS configuration of the plugin's default client: servers are verified against the
//! system's root certificates, as reqwest's own default client verifies them (through
//! `rustls-platform-verifier`), but the roots are read at the client's first TLS handshake, on
//! the thread that runs it, not when the client is built.
//!
//! reqwest's default client reads every root certificate on the system when it is built (on
//! Linux, a `statx` and a PEM decode for each of the ~150–300 files under `/etc/ssl/certs`):
//! 3–6 ms on this machine, spent on the game's thread in the frame that connects the first
//! source. And on a machine with no root certificate (a slim container image) the build fails,
//! so that reqwest's `Client::default()` panics, although `http://` sources never need a root.
//! Here an `http://` source never reads them, and an `https://` source on such a machine ends
//! with [`SseError::Tls`](crate::SseError::Tls), fatal, that says so.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// The default client's TLS configuration, as reqwest would build it for a client with no TLS
/// options set (TLS 1.2 and 1.3, SNI, ALPN for the HTTP versions this build speaks), with the
/// system's roots read at the first handshake. The crypto provider is the process default if
/// the game installed one, else aws-lc-rs (reqwest's own choice). `None` if rustls refuses that
/// provider (one without a cipher suite for TLS 1.2 or 1.3): reqwest then builds the client its
/// own way, and fails with an error the source reports.
pub(crate) fn default_config() -> Option<rustls::ClientConfig> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let verifier = Arc::new(SystemRoots {
        provider: provider.clone(),
        verifier: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn();
    Some(config)
}

/// What reqwest offers when no HTTP version is forced.
fn alpn() -> Vec<Vec<u8>> {
    let mut protocols = Vec::new();
    if cfg!(feature = "http2") {
        protocols.push(b"h2".to_vec());
    }
    protocols.push(b"http/1.1".to_vec());
    protocols
}

/// Verifies servers with [`rustls_platform_verifier::Verifier`], made (which reads the
/// system's roots) the first time a certificate is to be verified. A failure to read any root
/// is kept too: every later handshake fails the same way, without reading the disk again.
#[derive(Debug)]
struct SystemRoots {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl SystemRoots {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(self.provider.clone()).map_err(|error| {
                    // A certificate error, so that the source closes (another attempt would
                    // fail the same way) and its error says why.
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(NoSystemRoots(error)),
                    )))
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for SystemRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    // The signatures are checked with the provider's algorithms, as the platform verifier
    // checks them, whether or not the roots were read.
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

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// No root certificate could be read from the system. Its `Debug` is its message: rustls
/// shows the error inside a certificate error with `Debug`.
struct NoSystemRoots(rustls::Error);

impl std::fmt::Debug for NoSystemRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for NoSystemRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no root certificate could be read from the system ({}); trust a root with a \
             custom SseClient",
            self.0
        )
    }
}

impl std::error::Error for NoSystemRoots {}
