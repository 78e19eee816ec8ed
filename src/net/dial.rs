//! Connecting to a stream endpoint (TCP or Unix), with a timeout and errors
//! that say what to check.

use std::io;
use std::time::Duration;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::{TcpStream, UdpSocket, UnixStream};

use super::addr::{Endpoint, Transport};
use super::conn::Conn;

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

/// Describes a failed connect in words that suggest the fix.
pub fn dial_hint(e: &io::Error, transport: Transport, timeout: Duration) -> String {
    use io::ErrorKind as K;
    let unix = transport == Transport::Unix;
    match e.kind() {
        K::ConnectionRefused if unix => {
            "nothing accepts connections on this socket file (left by a stopped server?); start the server".into()
        }
        K::ConnectionRefused => "connection refused; is a server listening there?".into(),
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
pub async fn dial(ep: &Endpoint, timeout: Duration) -> Result<Conn, DialError> {
    let fail = |io: io::Error| DialError {
        addr: ep.to_string(),
        hint: dial_hint(&io, ep.transport(), timeout),
        io,
    };
    let attempt = async {
        match ep {
            Endpoint::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            Endpoint::Tcp(_) => {
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
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => {
                            tracing::debug!(%addr, error = %e, "connect failed");
                            last = Some(e);
                        }
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::other("no address")))
            }
            Endpoint::Udp(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this needs a stream address (tcp:// or unix://), not udp://",
            )),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r.map_err(fail),
        Err(_) => Err(fail(io::ErrorKind::TimedOut.into())),
    }
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
