//! TLS on the stream doors: the acceptor of each tls:// listener, and a
//! door run through the relay (see `net::tls`).

use std::future::Future;
use std::io;

use super::{ServerOpts, Service};
use crate::net::Conn;
use crate::net::tls::{self, ServerTls};

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

/// Runs `door` on `conn`, over TLS (through the relay) when the listener
/// has it.
pub(super) async fn with_tls<F, Fut>(conn: Conn, tls: Option<ServerTls>, door: F) -> io::Result<()>
where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    match tls {
        Some(t) => t.serve_relayed(conn, |c| Box::pin(door(c))).await,
        None => Box::pin(door(conn)).await,
    }
}
