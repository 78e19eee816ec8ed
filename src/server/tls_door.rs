//! TLS on the stream doors: the acceptor of each tls:// listener, and a
//! door run on the TLS stream itself (`net::Stream::Tls`).

use std::future::Future;
use std::io;

use super::{ServerOpts, Service};
use crate::net::tls::{self, ServerTls};
use crate::net::{Conn, Stream};

/// The TLS acceptor of a tls:// listener for `service`: the frame protocol
/// advertises ALPN "sockit/1", the web door "http/1.1".
pub(super) fn server_tls(service: Service, opts: &ServerOpts) -> Result<ServerTls, tls::TlsError> {
    let Some(id) = opts.tls.as_ref() else {
        return Err(tls::TlsError::Generate(
            "no certificate was given for tls:// listeners".into(),
        ));
    };
    let alpn: &[&[u8]] = match service {
        Service::Framed => &[tls::ALPN_FRAMES],
        Service::Web => &[tls::ALPN_HTTP1],
        _ => &[],
    };
    ServerTls::new(id, alpn, opts.handshake_timeout)
}

/// Runs `door` on `conn`, over TLS (after the bounded handshake) when the
/// listener has it.
pub(super) async fn with_tls<F, Fut>(conn: Conn, tls: Option<ServerTls>, door: F) -> io::Result<()>
where
    F: FnOnce(Stream) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    let stream = match tls {
        // Boxed: the handshake's state (rustls's, kilobytes) is needed once,
        // and must not be room in every connection's future, TLS or not.
        Some(t) => Stream::Tls(Box::new(Box::pin(t.accept(conn)).await?)),
        None => Stream::Plain(conn),
    };
    Box::pin(door(stream)).await
}
