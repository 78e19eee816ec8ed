//! The server side: an acceptor per listener and the bounded handshake;
//! doors (and the client tools that serve tls://, `listen` and `relay`)
//! then run on the TLS stream (`net::Stream::Tls`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::{Identity, ReadAhead, ServerStream, TlsError, provider};
use crate::net::conn::Conn;
use crate::net::stream::Stream;

/// What a tls:// listener needs: its acceptor and the handshake bound.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// An acceptor presenting `id`, advertising the ALPN ids in `alpn` (a
    /// client that offers none is accepted too), and closing connections
    /// whose handshake takes longer than `handshake_timeout`.
    pub fn new(
        id: &Identity,
        alpn: &[&[u8]],
        handshake_timeout: Duration,
    ) -> Result<ServerTls, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(id.chain.clone(), id.key.clone_key())?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshake_timeout,
        })
    }

    /// The handshake on an accepted connection, within the timeout.
    pub async fn accept(&self, conn: Conn) -> io::Result<ServerStream> {
        // Records leave whole; Nagle would only hold back the last one.
        let _ = conn.set_nodelay();
        let accept = self.acceptor.accept(ReadAhead::new(conn));
        match tokio::time::timeout(self.handshake_timeout, accept).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no TLS handshake within the handshake timeout",
            )),
        }
    }

    /// The handshake on an accepted connection, as a [`Stream`] any door
    /// or pipe runs on.
    pub async fn accept_stream(&self, conn: Conn) -> io::Result<Stream> {
        Ok(Stream::Tls(Box::new(self.accept(conn).await?)))
    }
}
