//! TLS for stream endpoints (`tls://HOST:PORT`), with rustls and its `ring`
//! provider (pure Rust and C without cmake: light to build, CI-friendly).
//!
//! Servers present a certificate ([`Identity`]): loaded from PEM files, or
//! generated self-signed on first start. Clients check it by CA roots, by a
//! pinned fingerprint, or by trust on first use ([`Trust`]).
//!
//! Server doors run on the TLS stream itself ([`crate::net::Stream::Tls`],
//! after [`ServerTls::accept`]), and clients on theirs
//! ([`crate::net::Stream::TlsClient`], from `net::dial_with`), as on any
//! other stream: no relay, no socket pair. Under rustls the socket is
//! read in large chunks ([`ReadAhead`]), and AES-128-GCM is offered first
//! (see `provider`).

mod client;
mod fingerprint;
mod identity;
mod read_ahead;
mod roots;
mod server;
mod verify;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;

pub use client::{HandshakeError, Known, KnownHosts, Trust, handshake};
pub use fingerprint::{Fingerprint, FingerprintError};
pub use identity::{
    CERT_FILE, Generated, Identity, KEY_FILE, LOCAL_NAMES, load_or_create, names_with, read_certs,
    self_signed, write_pair,
};
pub use read_ahead::{READ_AHEAD, ReadAhead};
pub use roots::{CertCheck, client_config};
pub use server::ServerTls;

/// A server's TLS connection: rustls over the socket, read ahead.
pub type ServerStream = tokio_rustls::server::TlsStream<ReadAhead<crate::net::Conn>>;

/// A client's TLS connection: rustls over the socket, read ahead.
pub type ClientStream = tokio_rustls::client::TlsStream<ReadAhead<crate::net::Conn>>;

/// How long a TLS handshake may take before the server closes the
/// connection: ten round trips on the slowest link still fit, while a
/// slowloris peer that opens connections and never speaks holds each slot
/// for no longer than this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN protocol id of the sockit frame protocol. Servers advertise it on
/// framed tls:// listeners; clients may offer it (none has to).
pub const ALPN_FRAMES: &[u8] = b"sockit/1";

/// The ALPN protocol id the web door advertises (hyper speaks HTTP/1.1).
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why a certificate, key or TLS setting could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: cannot read {what} ({reason}); give a PEM file")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// A file that would be replaced already exists.
    #[error("{0} already exists; remove it, or let `sockit cert new --force` replace it")]
    Exists(PathBuf),
    /// Key or certificate generation failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate, key or roots.
    #[error("the TLS certificate, key or CA cannot be used: {0}")]
    Config(#[from] rustls::Error),
}

impl TlsError {
    fn io(path: &Path, source: io::Error) -> TlsError {
        TlsError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The crypto provider of every config: ring, built once, with the
/// AES-128-GCM suites first. The peers agree on the first suite both
/// offer; AES-128 is as safe for a connection's life as AES-256 and does
/// 10 rounds per block instead of 14, so bulk transfers spend less on
/// crypto (docs/PERFORMANCE.md, "TLS"). Every other suite of ring's
/// default stays, in its order, for peers that prefer them.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut p = rustls::crypto::ring::default_provider();
            p.cipher_suites.sort_by_key(|s| !is_aes128_gcm(s.suite()));
            Arc::new(p)
        })
        .clone()
}

/// Whether `suite` is one of the AES-128-GCM suites (TLS 1.3 or 1.2).
fn is_aes128_gcm(suite: rustls::CipherSuite) -> bool {
    use rustls::CipherSuite as C;
    matches!(
        suite,
        C::TLS13_AES_128_GCM_SHA256
            | C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    )
}
