//! An accepted or dialed stream socket, TCP or Unix, behind one type.
//!
//! The accept loops, shards and PROXY headers handle this type, with its
//! readiness API (`poll_read_ready`, `try_write`); doors and clients get it
//! inside a `net::Stream` (which adds TLS) through `AsyncRead` and
//! `AsyncWrite`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream socket.
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain stream connection.
    Unix(UnixStream),
    /// A TCP connection from a trusted proxy that named its client in a
    /// PROXY protocol header (see `net::proxy_header`): the client's
    /// address stands for the peer's.
    Proxied(TcpStream, SocketAddr),
}

macro_rules! both {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Conn::Tcp($s) => $e,
            Conn::Unix($s) => $e,
            Conn::Proxied($s, _) => $e,
        }
    };
}

/// A connected stream socket detached from any runtime, to move a
/// connection to another thread's reactor (see `net::tuning::shard`).
#[derive(Debug)]
pub enum StdConn {
    /// A TCP connection.
    Tcp(std::net::TcpStream),
    /// A Unix-domain stream connection.
    Unix(std::os::unix::net::UnixStream),
    /// A proxied TCP connection and its client's address.
    Proxied(std::net::TcpStream, SocketAddr),
}

impl Conn {
    /// Detaches the socket from this runtime's reactor (it stays non-blocking).
    pub fn into_std(self) -> io::Result<StdConn> {
        Ok(match self {
            Conn::Tcp(s) => StdConn::Tcp(s.into_std()?),
            Conn::Unix(s) => StdConn::Unix(s.into_std()?),
            Conn::Proxied(s, client) => StdConn::Proxied(s.into_std()?, client),
        })
    }

    /// Registers a detached socket with the current runtime's reactor.
    pub fn from_std(s: StdConn) -> io::Result<Conn> {
        Ok(match s {
            StdConn::Tcp(s) => Conn::Tcp(TcpStream::from_std(s)?),
            StdConn::Unix(s) => Conn::Unix(UnixStream::from_std(s)?),
            StdConn::Proxied(s, client) => Conn::Proxied(TcpStream::from_std(s)?, client),
        })
    }

    /// The peer's IP address (TCP): what per-IP limits count by.
    /// Behind a trusted proxy, the client it named.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.peer_addr().map(|a| a.ip())
    }

    /// The peer's address (None on a Unix socket); behind a trusted proxy,
    /// the client it named in its PROXY header.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Conn::Tcp(s) => s.peer_addr().ok(),
            Conn::Unix(_) => None,
            Conn::Proxied(_, client) => Some(*client),
        }
    }

    /// Polls for read readiness without a waiter of its own: the socket's
    /// one reader slot holds the waker. For a connection's single reading
    /// task this is cheaper than `TcpStream::readable`, which enqueues and
    /// dequeues a waiter on every wait.
    ///
    /// A connection that goes to wait here is also noted for the thread's
    /// busy polling (see `net::tuning::spin`), which is off outside shard threads.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = both!(self, s => s.poll_read_ready(cx));
        if r.is_pending() {
            super::tuning::spin::waiting(both!(self, s => s.as_raw_fd()));
        }
        r
    }

    /// Writes what fits without waiting; `WouldBlock` when nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        both!(self, s => s.try_write(buf))
    }

    /// Turns off Nagle's algorithm on TCP, so small replies leave at once
    /// (TLS records included).
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) | Conn::Proxied(s, _) => s.set_nodelay(true),
            Conn::Unix(_) => Ok(()),
        }
    }
}

impl From<TcpStream> for Conn {
    fn from(s: TcpStream) -> Conn {
        Conn::Tcp(s)
    }
}

impl From<UnixStream> for Conn {
    fn from(s: UnixStream) -> Conn {
        Conn::Unix(s)
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        both!(self, s => s.as_raw_fd())
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        both!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        both!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        both!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}
