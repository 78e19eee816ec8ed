//! The socket under a TLS stream, read in large chunks.
//!
//! rustls asks its transport for at most 4 KiB per read (`read_tls`), so a
//! full 16 KiB record costs four system calls, and a 1 MiB file chunk 256
//! of them. [`ReadAhead`] answers those small reads from one large read of
//! the socket ([`READ_AHEAD`] bytes): one system call per 64 KiB, and a
//! memory copy of what rustls takes, which costs far less than the calls
//! it saves (figures in docs/PERFORMANCE.md, "TLS").
//!
//! The buffer is one of the thread's spares (`net::tuning::bufpool`),
//! taken when a read comes and given back as soon as it is drained, so a
//! quiet TLS connection holds no read-ahead buffer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::stream::poll_read_pooled;
use crate::net::tuning::bufpool;

/// Bytes asked of the socket per read: four full TLS records, and what
/// the stream doors read per call on plaintext.
pub const READ_AHEAD: usize = 64 * 1024;

/// A transport whose reads are served from one large socket read; writes
/// pass straight through.
#[derive(Debug)]
pub struct ReadAhead<S> {
    inner: S,
    /// Read from the socket, not yet taken by the reader; unallocated
    /// while empty.
    buf: BytesMut,
}

impl<S> ReadAhead<S> {
    /// Wraps `inner`, holding no buffer yet.
    pub fn new(inner: S) -> ReadAhead<S> {
        ReadAhead {
            inner,
            buf: BytesMut::new(),
        }
    }

    /// The transport itself.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.buf.is_empty() {
            if out.remaining() >= READ_AHEAD {
                // A large read gains nothing from a copy in between.
                return Pin::new(&mut me.inner).poll_read(cx, out);
            }
            // EOF (0) leaves nothing buffered and nothing written to `out`.
            if ready!(poll_read_pooled(&mut me.inner, cx, &mut me.buf, READ_AHEAD))? == 0 {
                return Poll::Ready(Ok(()));
            }
        }
        let n = me.buf.len().min(out.remaining());
        out.put_slice(&me.buf[..n]);
        me.buf.advance(n);
        if me.buf.is_empty() {
            bufpool::give(&mut me.buf);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Counts the reads that reach the transport.
    struct Counted<S> {
        inner: S,
        reads: usize,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let me = self.get_mut();
            let r = Pin::new(&mut me.inner).poll_read(cx, buf);
            if r.is_ready() {
                me.reads += 1;
            }
            r
        }
    }

    #[tokio::test]
    async fn small_reads_are_served_from_one_large_read_and_the_buffer_goes_back() {
        let (mut peer, ours) = tokio::io::duplex(2 * READ_AHEAD);
        let data: Vec<u8> = (0..READ_AHEAD).map(|i| (i % 251) as u8).collect();
        peer.write_all(&data).await.unwrap();
        let mut r = ReadAhead::new(Counted {
            inner: ours,
            reads: 0,
        });
        let mut got = Vec::new();
        let mut small = [0u8; 4096];
        while got.len() < data.len() {
            let n = r.read(&mut small).await.unwrap();
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data, "every byte, in order");
        assert_eq!(r.get_ref().reads, 1, "sixteen 4 KiB reads, one socket read");
        assert_eq!(r.buf.capacity(), 0, "drained: no buffer held");
    }

    #[tokio::test]
    async fn eof_and_large_reads_pass_through() {
        let (mut peer, ours) = tokio::io::duplex(64);
        peer.write_all(b"last words").await.unwrap();
        drop(peer);
        let mut r = ReadAhead::new(ours);
        let mut big = vec![0u8; READ_AHEAD];
        let n = r.read(&mut big).await.unwrap();
        assert_eq!(&big[..n], b"last words");
        assert_eq!(r.read(&mut [0u8; 16]).await.unwrap(), 0, "EOF is EOF");
        assert_eq!((r.buf.len(), r.buf.capacity()), (0, 0));
    }
}
