//! Connecting to a stream endpoint (TCP, Unix or TLS), with a timeout and
//! errors that say what to check.

use std::io;
use std::time::Duration;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::{TcpStream, UdpSocket, UnixStream};

use super::addr::{Endpoint, Transport};
use super::conn::Conn;
use super::stream::Stream;
use super::tls::{self, Trust};

/// Why a connection could not be made: one line naming the address, the
/// cause and what to check.
#[derive(Debug, thiserror::Error)]
#[error("connecting to {addr}: {hint}")]
pub struct DialError {
    /// The endpoint as written.
    pub addr: String,
    /// The cause, and the fix, in words.
    pub hint: String,
    /// The underlying error, for callers that branch on its kind.
    #[source]
    pub io: io::Error,
}

/// What a reset (RST) means to a client: the server took the connection
/// and threw it away at once. A sockit server does that to addresses its
/// access lists refuse.
pub const RESET_HINT: &str = "connection reset by peer: it refused or aborted the connection (a sockit server resets addresses its --allow/--deny lists refuse)";

/// Describes a failed connect in words that suggest the fix.
pub fn dial_hint(e: &io::Error, transport: Transport, timeout: Duration) -> String {
    use io::ErrorKind as K;
    let unix = transport == Transport::Unix;
    match e.kind() {
        K::ConnectionRefused if unix => {
            "nothing accepts connections on this socket file (left by a stopped server?); start the server".into()
        }
        K::ConnectionRefused => "connection refused; is a server listening there?".into(),
        K::ConnectionReset => RESET_HINT.into(),
        K::NotFound if unix => {
            "no such socket file; is the server running, and is the path right?".into()
        }
        K::PermissionDenied if unix => {
            "permission denied; check the socket file's and directory's permissions".into()
        }
        K::TimedOut => format!(
            "no answer within {timeout:?}; is the host up and the port open (firewall)? -w sets how long to wait"
        ),
        K::HostUnreachable | K::NetworkUnreachable => {
            "no route to the host; check the address and your network".into()
        }
        K::AddrNotAvailable => "the address is not available from this machine; check it".into(),
        _ => e.to_string(),
    }
}

/// Connects to a TCP or Unix endpoint within `timeout`. For a name with
/// several addresses (localhost: ::1 and 127.0.0.1), each is tried in turn.
/// A tls:// endpoint is refused here: it needs a [`Trust`] ([`dial_with`]).
pub async fn dial(ep: &Endpoint, timeout: Duration) -> Result<Stream, DialError> {
    dial_with(ep, timeout, &Trust::Unset).await
}

/// Like [`dial`], and for tls:// endpoints runs the handshake (within the
/// same `timeout`), checks the certificate as `trust` says, and returns the
/// TLS stream itself ([`Stream::TlsClient`]). Nothing is written to the
/// connection unless the certificate passed.
pub async fn dial_with(
    ep: &Endpoint,
    timeout: Duration,
    trust: &Trust,
) -> Result<Stream, DialError> {
    let fail = |io: io::Error| DialError {
        addr: ep.to_string(),
        hint: dial_hint(&io, ep.transport(), timeout),
        io,
    };
    let attempt = async {
        match ep {
            Endpoint::Unix(path) => UnixStream::connect(path)
                .await
                .map(|s| Stream::Plain(Conn::Unix(s)))
                .map_err(fail),
            Endpoint::Tcp(_) => connect_tcp(ep)
                .await
                .map(|s| Stream::Plain(Conn::Tcp(s)))
                .map_err(fail),
            Endpoint::Tls(hp) => {
                let tcp = connect_tcp(ep).await.map_err(fail)?;
                // Records leave whole; Nagle would only hold back the last one.
                let _ = tcp.set_nodelay(true);
                let (stream, _) = tls::handshake(tcp, hp, trust)
                    .await
                    .map_err(|e| DialError {
                        addr: ep.to_string(),
                        hint: e.hint,
                        io: e.io,
                    })?;
                Ok(Stream::TlsClient(Box::new(stream)))
            }
            Endpoint::Udp(_) => Err(fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this needs a stream address (tcp://, tls:// or unix://), not udp://",
            ))),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(fail(io::ErrorKind::TimedOut.into())),
    }
}

/// TCP to the first of the endpoint's addresses that accepts.
async fn connect_tcp(ep: &Endpoint) -> io::Result<TcpStream> {
    let addrs = ep.resolve().await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot resolve the host ({e}); check the name"),
        )
    })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tracing::debug!(%addr, "connected");
                return Ok(s);
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "connect failed");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address")))
}

/// A UDP socket connected to `ep`: the kernel then drops datagrams from
/// anyone else, and reports an ICMP "port unreachable" as
/// `ConnectionRefused` on the next receive.
pub async fn dial_udp(ep: &Endpoint) -> Result<UdpSocket, DialError> {
    let fail = |io: io::Error| DialError {
        addr: ep.to_string(),
        hint: dial_hint(&io, ep.transport(), Duration::ZERO),
        io,
    };
    let target = *ep
        .resolve()
        .await
        .map_err(|e| {
            fail(io::Error::new(
                e.kind(),
                format!("cannot resolve the host ({e}); check the name"),
            ))
        })?
        .first()
        .ok_or_else(|| {
            fail(io::Error::new(
                io::ErrorKind::NotFound,
                "the host has no addresses",
            ))
        })?;
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(fail)?;
    socket.connect(target).await.map_err(fail)?;
    Ok(socket)
}
