//! Certificate checks without a CA: pin one fingerprint, or accept any
//! certificate and report which one it was (trust on first use).
//!
//! Either way the server must still prove it holds the certificate's key
//! (the handshake signature is verified as usual): a peer that merely
//! replays a known certificate cannot complete the handshake.

use std::sync::{Arc, Mutex};

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::Fingerprint;

/// Checks the server's leaf certificate by fingerprint alone.
#[derive(Debug)]
pub(super) struct FingerprintVerifier {
    /// The one fingerprint to accept; `None` accepts any (first use).
    want: Option<Fingerprint>,
    /// The fingerprint the server presented, once it has.
    seen: Mutex<Option<Fingerprint>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl FingerprintVerifier {
    /// A verifier accepting `want` only, or any certificate when `None`.
    pub(super) fn new(want: Option<Fingerprint>, provider: &CryptoProvider) -> Arc<Self> {
        Arc::new(FingerprintVerifier {
            want,
            seen: Mutex::new(None),
            algorithms: provider.signature_verification_algorithms,
        })
    }

    /// The fingerprint the server presented (`None` before the handshake
    /// reached the certificate).
    pub(super) fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().ok().and_then(|s| *s)
    }
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(got);
        }
        match self.want {
            Some(want) if want != got => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
