//! Binding listeners: SO_REUSEADDR for TCP, stale Unix socket files replaced,
//! and one-line errors that name the address, the cause and the fix.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket, UnixListener};

use super::addr::{Endpoint, Transport};

/// Pending-connection queue length handed to listen(2). The kernel caps it at
/// `net.core.somaxconn` (4096 on current kernels); a large queue lets a burst
/// of thousands of connects wait for accept instead of being dropped.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Socket buffer asked for on UDP listeners: about 4,000 full-size replies,
/// so a client burst is queued rather than dropped.
pub const UDP_BUFFER: usize = 4 << 20;

/// Why a listener could not be set up. Each message is one line that names the
/// address, the cause and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another socket holds the port (EADDRINUSE).
    #[error(
        "cannot listen on {addr}: address already in use (port {port}); stop the program using it (see `ss -ltnup | grep :{port}`) or choose another port"
    )]
    InUse {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The port that is taken.
        port: u16,
    },
    /// A live server already answers on this Unix socket path.
    #[error(
        "cannot listen on {addr}: a running server already answers on {path}; stop it or choose another path"
    )]
    UnixLive {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The socket file's path.
        path: PathBuf,
    },
    /// The Unix path exists and is not a socket; we never delete user files.
    #[error(
        "cannot listen on {addr}: {path} exists and is not a socket; remove it or choose another path"
    )]
    NotASocket {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The path in the way.
        path: PathBuf,
    },
    /// The service cannot run on this transport (framing over UDP).
    #[error(
        "cannot serve {service} on {addr}: {service} needs a stream socket; use tcp:// or unix://"
    )]
    NeedsStream {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The service asked for.
        service: &'static str,
    },
    /// The service cannot run on this transport (a datagram door on a stream).
    #[error("cannot serve {service} on {addr}: {service} needs a datagram socket; use udp://")]
    NeedsDatagram {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The service asked for.
        service: &'static str,
    },
    /// Any other failure (resolution, permissions, bad interface address).
    #[error("cannot listen on {addr}: {source}{hint}", hint = bind_hint(source))]
    Io {
        /// The endpoint as the user wrote it.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// The fix for the common bind failures, appended to the message.
fn bind_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need root (or CAP_NET_BIND_SERVICE); choose a port above 1023"
        }
        io::ErrorKind::AddrNotAvailable => {
            "; that address is not on this machine; use 127.0.0.1, 0.0.0.0 or one of `ip addr`"
        }
        io::ErrorKind::NotFound => "; check the host name",
        _ => "",
    }
}

/// A bound socket, ready to serve.
#[derive(Debug)]
pub enum Bound {
    /// A listening TCP socket.
    Tcp(TcpListener),
    /// A bound UDP socket.
    Udp(UdpSocket),
    /// A listening Unix socket; the guard removes its file when dropped.
    Unix(UnixListener, UnixPathGuard),
}

impl Bound {
    /// The address actually bound (port 0 replaced by the real port).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        Ok(match self {
            Bound::Tcp(l) => Endpoint::from_socket_addr(Transport::Tcp, l.local_addr()?),
            Bound::Udp(s) => Endpoint::from_socket_addr(Transport::Udp, s.local_addr()?),
            Bound::Unix(_, guard) => Endpoint::Unix(guard.path.clone()),
        })
    }
}

/// Removes a Unix socket file we created when the listener goes away, so the
/// next start does not find a stale file.
#[derive(Debug)]
pub struct UnixPathGuard {
    path: PathBuf,
}

impl Drop for UnixPathGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `ep` with the options each transport wants. Must run inside a tokio runtime.
pub async fn bind(ep: &Endpoint) -> Result<Bound, BindError> {
    let io_err = |source| BindError::Io {
        addr: ep.to_string(),
        source,
    };
    match ep {
        Endpoint::Unix(path) => bind_unix(ep, path),
        // tls:// binds TCP; the server puts TLS on the accepted connections.
        Endpoint::Tcp(hp) | Endpoint::Udp(hp) | Endpoint::Tls(hp) => {
            let addrs = ep.resolve().await.map_err(io_err)?;
            // A name may resolve to several addresses (localhost -> ::1 and
            // 127.0.0.1); bind the first that works, as most servers do.
            let mut last = None;
            for addr in addrs {
                let res = match ep.transport() {
                    Transport::Udp => bind_udp(addr).map(Bound::Udp),
                    _ => bind_tcp(addr).map(Bound::Tcp),
                };
                match res {
                    Ok(b) => return Ok(b),
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                        return Err(BindError::InUse {
                            addr: ep.to_string(),
                            port: hp.port,
                        });
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(io_err(
                last.unwrap_or_else(|| io::Error::other("no address")),
            ))
        }
    }
}

fn ip_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // `[::]` serves IPv4 too (dual stack), whatever the system default.
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A TCP listener with SO_REUSEADDR, so a restarted server binds the port at
/// once even while old connections sit in TIME_WAIT.
pub fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = ip_socket(addr, Type::STREAM, Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// A UDP socket. No SO_REUSEADDR here: on Linux it would let a second server
/// bind the same UDP port silently and steal half the datagrams.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = ip_socket(addr, Type::DGRAM, Protocol::UDP)?;
    // A burst from many clients must queue in the kernel, not be dropped
    // while the serving task is busy; the kernel caps this at rmem_max.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn bind_unix(ep: &Endpoint, path: &Path) -> Result<Bound, BindError> {
    let addr = ep.to_string();
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(BindError::NotASocket {
                    addr,
                    path: path.into(),
                });
            }
            // A socket file: live if something accepts on it, stale if refused.
            match probe_unix(path) {
                Ok(()) => {
                    return Err(BindError::UnixLive {
                        addr,
                        path: path.into(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::info!(path = %path.display(), "replacing stale unix socket file");
                    std::fs::remove_file(path).map_err(|source| BindError::Io {
                        addr: addr.clone(),
                        source,
                    })?;
                }
                Err(source) => return Err(BindError::Io { addr, source }),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(BindError::Io { addr, source }),
    }
    let listener = UnixListener::bind(path).map_err(|source| BindError::Io {
        addr: addr.clone(),
        source,
    })?;
    Ok(Bound::Unix(
        listener,
        UnixPathGuard {
            path: path.to_path_buf(),
        },
    ))
}

/// Connects to a Unix socket without blocking: Ok when something listens
/// there (a full backlog, EAGAIN, counts too: a busy server is alive),
/// `ConnectionRefused` when the file is stale.
fn probe_unix(path: &Path) -> io::Result<()> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&socket2::SockAddr::unix(path)?) {
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(()),
        other => other,
    }
}
