//! An accepted or dialed stream connection, TCP, Unix or TLS, behind one type.
//!
//! The accept loops, shards and PROXY headers handle this type; doors get
//! it inside a `net::Stream` (which adds TLS) through `AsyncRead` and
//! `AsyncWrite`. The client tools also use its readiness API (`readable` +
//! `try_read`); for them a TLS connection is the plaintext end of a relay
//! (see `net::tls::relay`), a Unix socket, so the same API holds for it.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_util::sync::{CancellationToken, DropGuard};

/// A connected stream socket.
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain stream connection.
    Unix(UnixStream),
    /// A TLS connection: the plaintext end of its relay.
    Tls(Relayed),
    /// A TCP connection from a trusted proxy that named its client in a
    /// PROXY protocol header (see `net::proxy_header`): the client's
    /// address stands for the peer's.
    Proxied(TcpStream, SocketAddr),
}

/// The plaintext end of a TLS connection's relay, with the TLS peer's
/// address (doors throttle logins by IP).
#[derive(Debug)]
pub struct Relayed {
    stream: UnixStream,
    peer: Option<SocketAddr>,
    /// Tells the relay, when this end is dropped, that only the last bytes
    /// and the close remain to pass on.
    _gone: DropGuard,
}

impl Relayed {
    /// Wraps the door's end of a relay; dropping it cancels `gone`.
    pub fn new(stream: UnixStream, peer: Option<SocketAddr>, gone: CancellationToken) -> Relayed {
        Relayed {
            stream,
            peer,
            _gone: gone.drop_guard(),
        }
    }

    /// The TLS peer's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }
}

macro_rules! both {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Conn::Tcp($s) => $e,
            Conn::Unix($s) => $e,
            Conn::Tls(Relayed { stream: $s, .. }) => $e,
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
    /// The plaintext end of a TLS relay, its peer, and the relay's guard.
    Tls(
        std::os::unix::net::UnixStream,
        Option<SocketAddr>,
        DropGuard,
    ),
    /// A proxied TCP connection and its client's address.
    Proxied(std::net::TcpStream, SocketAddr),
}

impl Conn {
    /// Detaches the socket from this runtime's reactor (it stays non-blocking).
    pub fn into_std(self) -> io::Result<StdConn> {
        Ok(match self {
            Conn::Tcp(s) => StdConn::Tcp(s.into_std()?),
            Conn::Unix(s) => StdConn::Unix(s.into_std()?),
            Conn::Tls(r) => StdConn::Tls(r.stream.into_std()?, r.peer, r._gone),
            Conn::Proxied(s, client) => StdConn::Proxied(s.into_std()?, client),
        })
    }

    /// Registers a detached socket with the current runtime's reactor.
    pub fn from_std(s: StdConn) -> io::Result<Conn> {
        Ok(match s {
            StdConn::Tcp(s) => Conn::Tcp(TcpStream::from_std(s)?),
            StdConn::Unix(s) => Conn::Unix(UnixStream::from_std(s)?),
            StdConn::Tls(s, peer, gone) => Conn::Tls(Relayed {
                stream: UnixStream::from_std(s)?,
                peer,
                _gone: gone,
            }),
            StdConn::Proxied(s, client) => Conn::Proxied(TcpStream::from_std(s)?, client),
        })
    }

    /// The peer's IP address (TCP and TLS): what per-IP limits count by.
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
            Conn::Tls(r) => r.peer,
            Conn::Proxied(_, client) => Some(*client),
        }
    }

    /// Polls for read readiness without a waiter of its own: the socket's
    /// one reader slot holds the waker. For a connection's single reading
    /// task this is cheaper than [`Conn::readable`], which enqueues and
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

    /// Waits until a read would not block (data, EOF or error).
    pub async fn readable(&self) -> io::Result<()> {
        both!(self, s => s.readable().await)
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        both!(self, s => s.writable().await)
    }

    /// Reads what is there without waiting; `WouldBlock` when nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        both!(self, s => s.try_read(buf))
    }

    /// Writes what fits without waiting; `WouldBlock` when nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        both!(self, s => s.try_write(buf))
    }

    /// Reads what is there into the spare capacity of `buf`, without waiting.
    pub fn try_read_buf(&self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        both!(self, s => s.try_read_buf(buf))
    }

    /// Reads once without waiting, like [`Conn::try_read`], and also says
    /// whether the socket is now drained (`true` beside the count when the
    /// read came up short). A short read tells tokio the socket is no longer
    /// readable, which saves the futile read that would otherwise only
    /// return "would block" before every wait; data arriving meanwhile
    /// raises a fresh readiness event, so nothing is missed.
    pub fn read_drained(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        let want = buf.len();
        self.read_once_drained(want, || both!(self, s => s.try_read(buf)))
    }

    /// [`Conn::read_drained`] into the spare capacity of a `BytesMut`.
    pub fn read_buf_drained(&self, buf: &mut bytes::BytesMut) -> io::Result<(usize, bool)> {
        let want = buf.capacity() - buf.len();
        self.read_once_drained(want, || both!(self, s => s.try_read_buf(buf)))
    }

    fn read_once_drained(
        &self,
        want: usize,
        mut read: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<(usize, bool)> {
        let mut got = 0;
        let mut short = || match read() {
            Ok(n) if n > 0 && n < want => {
                got = n;
                Err(io::Error::from(io::ErrorKind::WouldBlock))
            }
            other => other,
        };
        let r = both!(self, s => s.try_io(Interest::READABLE, &mut short));
        match r {
            Ok(n) => Ok((n, false)),
            Err(_) if got > 0 => Ok((got, true)),
            Err(e) => Err(e),
        }
    }

    /// Writes all of `buf`, waiting for the socket as needed (sendall).
    pub async fn write_all_ready(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes all of `buf` like [`Conn::write_all_ready`], but gives up with
    /// `TimedOut` unless the whole of it is written within `within` of the
    /// socket first being full: a peer that stops reading, or reads a byte
    /// now and then, must not hold a connection and its buffers for long.
    /// A write the socket takes at once reads no clock.
    pub async fn write_all_within(
        &self,
        mut buf: &[u8],
        within: std::time::Duration,
    ) -> io::Result<()> {
        let mut deadline = None;
        while !buf.is_empty() {
            match self.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let due = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + within);
                    tokio::time::timeout_at(due, self.writable())
                        .await
                        .map_err(|_| {
                            io::Error::new(
                                io::ErrorKind::TimedOut,
                                "the peer did not read what we sent in time",
                            )
                        })??;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Half-closes our side: the peer reads EOF, we can still read.
    pub fn shutdown_write(&self) -> io::Result<()> {
        both!(self, s => super::listen::shutdown_write(s))
    }

    /// A lingering close: half-close, then discard input until the peer
    /// closes or `linger` passes. Used after refusing a peer, so the error we
    /// just wrote is read instead of wiped out by the reset that closing
    /// with unread input would send.
    pub async fn linger_close(&self, linger: std::time::Duration) -> io::Result<()> {
        self.shutdown_write()?;
        let drain = async {
            let mut scratch = [0u8; 4096];
            loop {
                if self.readable().await.is_err() {
                    return;
                }
                match self.try_read(&mut scratch) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        // Boxed: the scratch buffer must not enlarge every caller's future.
        let _ = tokio::time::timeout(linger, Box::pin(drain)).await;
        Ok(())
    }

    /// Turns off Nagle's algorithm on TCP, so small replies leave at once
    /// (a TLS relay sets it on its own TCP socket).
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) | Conn::Proxied(s, _) => s.set_nodelay(true),
            Conn::Unix(_) | Conn::Tls(_) => Ok(()),
        }
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
