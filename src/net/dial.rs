//! Connecting to a stream endpoint (TCP or Unix), with a timeout and errors
//! that say what to check.

use std::io;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use super::addr::Endpoint;
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

/// Words for a failed connect: the cause, then what to check.
pub fn dial_hint(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            "connection refused; is a server listening there?".into()
        }
        io::ErrorKind::TimedOut => format!(
            "no answer within {timeout:?}; check the host, the port and any firewall (or raise -w)"
        ),
        io::ErrorKind::NotFound => "no such socket file; is the server running there?".into(),
        io::ErrorKind::PermissionDenied => "permission denied on the socket file".into(),
        _ => e.to_string(),
    }
}

/// Connects to a TCP or Unix endpoint within `timeout`. For a name with
/// several addresses (localhost: ::1 and 127.0.0.1), each is tried in turn.
pub async fn dial(ep: &Endpoint, timeout: Duration) -> Result<Conn, DialError> {
    let fail = |io: io::Error| DialError {
        addr: ep.to_string(),
        hint: dial_hint(&io, timeout),
        io,
    };
    let attempt = async {
        match ep {
            Endpoint::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            Endpoint::Tcp(_) => {
                let mut last = None;
                for addr in ep.resolve().await? {
                    match TcpStream::connect(addr).await {
                        Ok(s) => return Ok(Conn::Tcp(s)),
                        Err(e) => last = Some(e),
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
