//! Client configurations for TLS links to servers that are not sockit's
//! own (PostgreSQL): the certificate checked against CA roots, with or
//! without its host name, or not checked at all (encryption only, as
//! libpq's `sslmode=require`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use super::verify::FingerprintVerifier;
use super::{TlsError, provider, read_certs};

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertCheck {
    /// Not at all: the link is encrypted against eavesdroppers, not against
    /// a man in the middle.
    EncryptOnly,
    /// Signed by a CA in the PEM file `roots`; and, when `name` is set,
    /// issued for the host name dialed.
    Ca {
        /// The PEM file of trusted CA certificates.
        roots: PathBuf,
        /// Whether the certificate must also name the host.
        name: bool,
    },
}

/// A client configuration that checks certificates as `check` says
/// (blocking: reads the CA file).
pub fn client_config(check: &CertCheck) -> Result<Arc<ClientConfig>, TlsError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let config = match check {
        CertCheck::EncryptOnly => builder
            .dangerous()
            .with_custom_certificate_verifier(FingerprintVerifier::new(None, &provider()))
            .with_no_client_auth(),
        CertCheck::Ca { roots, name } => {
            let mut store = RootCertStore::empty();
            for cert in read_certs(roots)? {
                store.add(cert)?;
            }
            let store = Arc::new(store);
            if *name {
                builder.with_root_certificates(store).with_no_client_auth()
            } else {
                let inner = WebPkiServerVerifier::builder_with_provider(store, provider())
                    .build()
                    .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(Arc::new(config))
}

/// The CA chain checked, the host name not (libpq's `verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
