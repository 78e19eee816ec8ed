//! A connection as one byte stream: [`Stream`] is `AsyncRead + AsyncWrite`
//! over TCP, Unix, a trusted proxy's TCP connection, or TLS (tokio-rustls's
//! server or client stream, directly: no relay, no extra copy). Servers get
//! one from their accept loops, clients from `net::dial_with`.
//!
//! Doors are written against any `S: AsyncRead + AsyncWrite + Unpin`
//! ([`AsyncStream`]), so they are tested in memory over
//! `tokio::io::duplex`; the helpers here hold what every door needs on top
//! of plain reads and writes: a read that holds no buffer while the peer is
//! quiet ([`poll_read_pooled`]), a write that gives up on a peer that does
//! not read ([`write_all_within`]), and a lingering close ([`linger_close`]).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::conn::Conn;
use super::tls::{ClientStream, ServerStream};
use super::tuning::bufpool;

/// What a door runs on: any byte stream, in memory or a socket (`Sync`
/// too, so a door may hold it behind a `&` across an await).
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> AsyncStream for T {}

/// A connection, accepted or dialed, plaintext or TLS.
#[derive(Debug)]
pub enum Stream {
    /// TCP, Unix or a trusted proxy's TCP connection, as accepted or dialed.
    Plain(Conn),
    /// TLS over an accepted connection, after the handshake (boxed: the
    /// rustls state is kilobytes, the plain variant a few words).
    Tls(Box<ServerStream>),
    /// TLS over a dialed connection, after the handshake checked the
    /// server's certificate.
    TlsClient(Box<ClientStream>),
}

impl Stream {
    /// The socket under any TLS.
    pub fn conn(&self) -> &Conn {
        match self {
            Stream::Plain(c) => c,
            Stream::Tls(t) => t.get_ref().0.get_ref(),
            Stream::TlsClient(t) => t.get_ref().0.get_ref(),
        }
    }

    /// Whether the bytes travel inside TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// The peer's IP address (None on a Unix socket): what per-IP limits
    /// count by. Behind a trusted proxy, the client it named.
    pub fn peer_ip(&self) -> Option<IpAddr> {
        self.conn().peer_ip()
    }

    /// The peer's address (None on a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.conn().peer_addr()
    }

    /// Turns off Nagle's algorithm on TCP, so small replies leave at once
    /// (TLS records included).
    pub fn set_nodelay(&self) -> io::Result<()> {
        self.conn().set_nodelay()
    }
}

impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.conn().as_raw_fd()
    }
}

impl From<Conn> for Stream {
    fn from(c: Conn) -> Stream {
        Stream::Plain(c)
    }
}

macro_rules! either {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Plain($s) => $e,
            Stream::Tls($s) => $e,
            Stream::TlsClient($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => poll_read_records(&mut **s, cx, buf),
            Stream::TlsClient(s) => poll_read_records(&mut **s, cx, buf),
        }
    }
}

/// Reads a TLS stream into `buf` until it is full or no whole record is
/// left to open without waiting. tokio-rustls hands out one record (at
/// most 16 KiB) per read, so a door reading 64 KiB would otherwise go
/// round its loop four times where plaintext takes one, and a pipelining
/// peer's requests, one record per write, would be answered a record at
/// a time instead of as one batch.
fn poll_read_records<R: AsyncRead + Unpin>(
    r: &mut R,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let start = buf.filled().len();
    std::task::ready!(Pin::new(&mut *r).poll_read(cx, buf))?;
    let mut had = buf.filled().len();
    // Nothing came: EOF, said as is.
    while had > start && buf.remaining() > 0 {
        // Pending (the waker is set; a spurious wake costs one poll), EOF
        // or an error end the loop with what came; the next read meets
        // the EOF or the error again (rustls keeps both).
        match Pin::new(&mut *r).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > had => had = buf.filled().len(),
            _ => break,
        }
    }
    Poll::Ready(Ok(()))
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        either!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Reads once into `buf` (at least `want` bytes of room). When `buf` holds
/// no allocation (the connection was quiet), the read goes into one of the
/// thread's spare buffers (`net::tuning::bufpool`), which `buf` keeps only if bytes
/// came: a peer that sends nothing holds no read buffer while it waits.
/// `Ready(Ok(0))` is EOF (or `want` was 0).
pub fn poll_read_pooled<S: AsyncRead + Unpin>(
    s: &mut S,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    want: usize,
) -> Poll<io::Result<usize>> {
    let borrowed = buf.capacity() == 0;
    if borrowed {
        *buf = bufpool::take(want);
    } else {
        buf.reserve(want);
    }
    let r = tokio_util::io::poll_read_buf(Pin::new(s), cx, buf);
    if borrowed && !matches!(r, Poll::Ready(Ok(n)) if n > 0) {
        bufpool::give(buf);
    }
    r
}

/// Writes all of `buf` and flushes it (TLS: the records leave), giving up
/// with `TimedOut` unless all of it is gone within `within` of the stream
/// first refusing more: a peer that stops reading, or reads a byte now and
/// then, must not hold a connection and its buffers for long. A write the
/// stream takes at once arms no timer.
pub async fn write_all_within<S: AsyncWrite + Unpin>(
    s: &mut S,
    buf: &[u8],
    within: Duration,
) -> io::Result<()> {
    write_buf_within(s, buf, within).await
}

/// [`write_all_within`] for bytes in several pieces (a frame's head and
/// its body): vectored writes, so no piece is copied to join them and, on
/// TLS, the records are filled across the pieces.
pub async fn write_buf_within<S: AsyncWrite + Unpin, B: Buf>(
    s: &mut S,
    mut buf: B,
    within: Duration,
) -> io::Result<()> {
    let mut write = std::pin::pin!(async {
        s.write_all_buf(&mut buf).await?;
        s.flush().await
    });
    // Boxed, and only once the peer stalls: an idle connection's future
    // carries no timer.
    let mut due: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = write.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        let d = due.get_or_insert_with(|| Box::pin(tokio::time::sleep(within)));
        d.as_mut().poll(cx).map(|()| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer did not read what we sent in time",
            ))
        })
    })
    .await
}

/// A lingering close: end our side (TLS: close_notify, then FIN), then
/// discard input until the peer closes or `linger` passes. Used after
/// refusing a peer, so the error we just wrote is read instead of wiped
/// out by the reset that closing with unread input would send.
pub async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    linger: Duration,
) -> io::Result<()> {
    let drain = async {
        s.shutdown().await?;
        let mut scratch = BytesMut::new();
        loop {
            scratch.clear();
            if s.read_buf(&mut scratch).await? == 0 {
                return Ok::<(), io::Error>(());
            }
        }
    };
    // Boxed with its timer: a lingering close happens once per connection,
    // and its state must not enlarge every caller's future for its life.
    let _ = Box::pin(tokio::time::timeout(linger, drain)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_times_the_write_out() {
        let (mut ours, _theirs) = tokio::io::duplex(8);
        let started = tokio::time::Instant::now();
        let e = write_all_within(&mut ours, &[1u8; 64], Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_pooled_read_keeps_no_buffer_while_nothing_comes() {
        let (mut ours, mut theirs) = tokio::io::duplex(64);
        let mut buf = BytesMut::new();
        let pending = std::future::poll_fn(|cx| {
            Poll::Ready(poll_read_pooled(&mut ours, cx, &mut buf, 1024).is_pending())
        })
        .await;
        assert!(pending);
        assert_eq!(buf.capacity(), 0, "a quiet peer holds no buffer");
        theirs.write_all(b"ping").await.unwrap();
        let n = std::future::poll_fn(|cx| poll_read_pooled(&mut ours, cx, &mut buf, 1024))
            .await
            .unwrap();
        assert_eq!((n, &buf[..]), (4, &b"ping"[..]));
    }
}
