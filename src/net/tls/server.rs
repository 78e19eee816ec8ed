//! The server side: an acceptor per listener and the bounded handshake;
//! doors then run on the TLS stream (`net::Stream::Tls`). `serve_relayed`
//! remains for the client tools that serve tls:// (`listen`, `relay`).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::relay::{self, CLOSE_LINGER};
use super::{Identity, TlsError, provider};
use crate::net::conn::{Conn, Relayed};

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
    pub async fn accept(&self, conn: Conn) -> io::Result<TlsStream<Conn>> {
        // Records leave whole; Nagle would only hold back the last one.
        let _ = conn.set_nodelay();
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(conn)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no TLS handshake within the handshake timeout",
            )),
        }
    }

    /// Completes the handshake, then runs `door` on the plaintext end of a
    /// relay ([`Conn::Tls`], which knows the peer's address) while the relay
    /// runs beside it in the same task, so both live on the same thread.
    pub async fn serve_relayed<F, Fut>(&self, conn: Conn, door: F) -> io::Result<()>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = io::Result<()>>,
    {
        let peer = conn.peer_addr();
        let tls = self.accept(conn).await?;
        let (plain, relay) = relay::split(tls)?;
        let gone = CancellationToken::new();
        let conn = Conn::Tls(Relayed::new(plain, peer, gone.clone()));
        let (r, ()) = tokio::join!(door(conn), relay::run(relay, gone, CLOSE_LINGER));
        r
    }
}
