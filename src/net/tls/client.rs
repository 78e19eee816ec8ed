//! The client side: how a server's certificate is trusted, and the handshake.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::verify::FingerprintVerifier;
use super::{ClientStream, Fingerprint, ReadAhead, TlsError, provider};
use crate::net::{Conn, HostPort};

/// A store of server fingerprints trusted on first use, as ssh's
/// known_hosts (the CLI's lives in the config directory). Both methods
/// block (file I/O): [`handshake`] calls them on a blocking thread.
pub trait KnownHosts: Send + Sync + fmt::Debug {
    /// The fingerprint stored for `server` (`HOST:PORT`), if any.
    fn lookup(&self, server: &str) -> io::Result<Option<Known>>;
    /// Stores `fingerprint` for `server` after a first connection.
    fn remember(&self, server: &str, fingerprint: Fingerprint) -> io::Result<()>;
}

/// A fingerprint found in a [`KnownHosts`] store.
#[derive(Debug, Clone)]
pub struct Known {
    /// The trusted fingerprint.
    pub fingerprint: Fingerprint,
    /// Where it is written (`FILE:LINE`), for the message when it changed.
    pub whence: String,
}

/// How a client checks a tls:// server's certificate.
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// No policy set: tls:// endpoints are refused (a library caller must
    /// choose one; the CLI always does).
    #[default]
    Unset,
    /// Standard verification of name and chain against CA roots.
    Roots(Arc<ClientConfig>),
    /// Accept exactly the certificate with this fingerprint.
    Pin(Fingerprint),
    /// Trust on first use: remember the first fingerprint, refuse a change.
    FirstUse(Arc<dyn KnownHosts>),
    /// Accept any certificate and remember nothing: only to look at what a
    /// server presents (`sockit cert show`); send nothing over such a link.
    Inspect,
}

impl Trust {
    /// Verification against the CA certificates of a PEM file (blocking).
    pub fn from_ca_file(path: &Path) -> Result<Trust, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in super::read_certs(path)? {
            roots.add(cert)?;
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Trust::Roots(Arc::new(config)))
    }
}

/// A failed handshake: the error, and a sentence with the cause and the fix.
#[derive(Debug)]
pub struct HandshakeError {
    /// The underlying error.
    pub io: io::Error,
    /// What went wrong and what to do, for the user.
    pub hint: String,
}

fn fail(io: io::Error, hint: impl Into<String>) -> HandshakeError {
    HandshakeError {
        io,
        hint: hint.into(),
    }
}

/// Runs the TLS handshake over `tcp` (a dialed connection) to the server `hp`, checking its
/// certificate as `trust` says. Nothing is sent over the connection before
/// the certificate passed: a changed or wrong certificate fails here.
pub async fn handshake(
    tcp: impl Into<Conn>,
    hp: &HostPort,
    trust: &Trust,
) -> Result<(ClientStream, Fingerprint), HandshakeError> {
    let tcp = ReadAhead::new(tcp.into());
    let name = ServerName::try_from(hp.host.clone()).map_err(|e| {
        let hint = format!("{:?} is not a host name TLS can use ({e})", hp.host);
        fail(io::Error::new(io::ErrorKind::InvalidInput, e), hint)
    })?;
    let (known, pin) = match trust {
        Trust::Unset => {
            let hint = "no way to check the server's certificate was given (a CA, a fingerprint or known_hosts)";
            return Err(fail(io::ErrorKind::InvalidInput.into(), hint));
        }
        Trust::Roots(config) => return roots_handshake(tcp, name, config.clone()).await,
        Trust::Pin(fp) => (None, Some(*fp)),
        Trust::Inspect => (None, None),
        Trust::FirstUse(store) => {
            let (store, key) = (store.clone(), hp.to_string());
            let known = tokio::task::spawn_blocking(move || store.lookup(&key))
                .await
                .map_err(|e| fail(io::Error::other(e), "reading known_hosts failed"))?
                .map_err(|e| fail(e, "cannot read the known_hosts file"))?;
            let pin = known.as_ref().map(|k| k.fingerprint);
            (known, pin)
        }
    };
    let verifier = FingerprintVerifier::new(pin, &provider());
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(io::Error::other(e), "no TLS protocol version available"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    match TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
    {
        Ok(tls) => {
            let got = verifier.seen().unwrap_or(Fingerprint([0; 32]));
            if let (Trust::FirstUse(store), None) = (trust, &known) {
                let (store, key) = (store.clone(), hp.to_string());
                tokio::task::spawn_blocking(move || store.remember(&key, got))
                    .await
                    .map_err(|e| fail(io::Error::other(e), "writing known_hosts failed"))?
                    .map_err(|e| fail(e, "cannot store the fingerprint in known_hosts"))?;
            }
            Ok((tls, got))
        }
        Err(e) => Err(explain(e, hp, trust, known.as_ref(), verifier.seen())),
    }
}

async fn roots_handshake(
    tcp: ReadAhead<Conn>,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
) -> Result<(ClientStream, Fingerprint), HandshakeError> {
    match TlsConnector::from(config).connect(name, tcp).await {
        Ok(tls) => {
            let got = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map_or(Fingerprint([0; 32]), |c| Fingerprint::of(c));
            Ok((tls, got))
        }
        Err(e) => {
            let hint = format!(
                "the server's certificate does not verify against the CA (--ca): {e}; \
                 check the CA file and that the certificate names the host you dial"
            );
            Err(fail(e, hint))
        }
    }
}

/// The sentence for a failed handshake; a changed certificate is loud.
fn explain(
    e: io::Error,
    hp: &HostPort,
    trust: &Trust,
    known: Option<&Known>,
    seen: Option<Fingerprint>,
) -> HandshakeError {
    let mismatch = || io::Error::new(io::ErrorKind::InvalidData, "certificate mismatch");
    let (e, hint) = match (trust, known, seen) {
        (Trust::FirstUse(_), Some(k), Some(got)) if got != k.fingerprint => (
            mismatch(),
            format!(
                "SERVER CERTIFICATE CHANGED: {hp} now presents {got}, but {} trusts {}; \
             nothing was sent. If the server's certificate was replaced on purpose, run \
             `sockit cert forget {hp}` and connect again; otherwise someone may be \
             intercepting this connection",
                k.whence, k.fingerprint
            ),
        ),
        (Trust::Pin(want), _, Some(got)) if got != *want => (
            mismatch(),
            format!(
                "the server presents {got}, not the pinned {want} (--fingerprint); nothing was sent"
            ),
        ),
        _ => {
            let hint = format!(
                "TLS handshake failed ({e}); is the server listening with tls:// (not tcp://)?"
            );
            (e, hint)
        }
    };
    fail(e, hint)
}
