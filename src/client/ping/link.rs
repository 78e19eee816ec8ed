//! The socket under a ping run: a connected UDP socket, or a stream whose
//! replies are cut into exactly `size`-byte pieces.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;

use crate::client::probe;
use crate::net::Stream;

/// What a read brought in.
pub(super) enum Incoming<'a> {
    /// One reply: a datagram, or `size` bytes of the stream.
    Reply(&'a [u8]),
    /// An ICMP port-unreachable report (UDP).
    Unreachable,
}

/// A connected socket and its buffers.
pub(super) enum Link {
    /// One buffer serves probes and replies alike.
    Udp { sock: UdpSocket, buf: Vec<u8> },
    /// Boxed: the stream's buffers must not bloat the UDP case.
    Stream(Box<StreamLink>),
}

/// A stream and its buffers.
pub(super) struct StreamLink {
    conn: Stream,
    /// One reply (frame prefix, then probe); reads never go past its end,
    /// so no reply straddles two, and a late reply is read whole and
    /// recognised by its sequence number.
    inbuf: Vec<u8>,
    /// Bytes before every probe, sent and expected back (the frame header
    /// of `--proto frame`; empty for raw echo).
    prefix: Vec<u8>,
    filled: usize,
    /// Probe bytes not yet accepted by the stream (or, over TLS, not yet
    /// flushed out of it).
    out: Vec<u8>,
    written: usize,
    /// Why the stream can be read no more (EOF or an error), once known.
    ended: Option<String>,
}

impl StreamLink {
    /// Writes (and flushes) what the stream takes now; `Ready` when some
    /// output moved or failed.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut moved = false;
        while self.written < self.out.len() {
            match Pin::new(&mut self.conn).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    moved = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if moved => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.out.is_empty() {
            return Poll::Pending;
        }
        // All taken; TLS may still hold the records.
        std::task::ready!(Pin::new(&mut self.conn).poll_flush(cx))?;
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Reads what has come, up to the end of the reply being assembled;
    /// `Ready` when bytes came or the stream ended.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ended.is_some() {
            return Poll::Ready(());
        }
        let mut rb = ReadBuf::new(&mut self.inbuf[self.filled..]);
        match Pin::new(&mut self.conn).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                self.ended = Some("connection closed by the server".into());
            }
            Poll::Ready(Ok(())) => self.filled += rb.filled().len(),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => self.ended = Some(format!("connection lost: {e}")),
            Poll::Pending => return Poll::Pending,
        }
        Poll::Ready(())
    }
}

impl Link {
    /// A UDP link.
    pub(super) fn udp(sock: UdpSocket) -> Link {
        // One byte more than a datagram can hold: an oversized reply must
        // show up as a mismatch, not be cut to size.
        Link::Udp {
            sock,
            buf: vec![0; probe::MAX_DATAGRAM + 1],
        }
    }

    /// A stream link for probes of `size` bytes, each preceded by `prefix`.
    pub(super) fn stream(conn: Stream, size: usize, prefix: Vec<u8>) -> Link {
        Link::Stream(Box::new(StreamLink {
            conn,
            inbuf: vec![0; prefix.len() + size],
            prefix,
            filled: 0,
            out: Vec::with_capacity(size),
            written: 0,
            ended: None,
        }))
    }

    /// Sends probe `seq`; `Ok(true)` when the kernel handed back an ICMP
    /// report about an earlier probe instead (this one may still arrive).
    pub(super) async fn send(&mut self, seq: u64, size: usize) -> io::Result<bool> {
        match self {
            Link::Udp { sock, buf } => {
                probe::fill(seq, &mut buf[..size]);
                match sock.send(&buf[..size]).await {
                    Ok(_) => Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(true),
                    Err(e) => Err(e),
                }
            }
            Link::Stream(s) => {
                s.out.extend_from_slice(&s.prefix);
                let at = s.out.len();
                s.out.resize(at + size, 0);
                probe::fill(seq, &mut s.out[at..]);
                // What the stream does not take now goes on the next wait;
                // a write error shows up again as a read error or EOF, which
                // ends the run with its reason.
                let _ = std::future::poll_fn(|cx| Poll::Ready(s.poll_flush(cx))).await;
                Ok(false)
            }
        }
    }

    /// Hands each reply already read (UDP: already there) to `each`;
    /// `Err` says why the run must end.
    pub(super) fn receive(&mut self, mut each: impl FnMut(Incoming<'_>)) -> Result<(), String> {
        match self {
            Link::Udp { sock, buf } => loop {
                match sock.try_recv(buf) {
                    Ok(n) => each(Incoming::Reply(&buf[..n])),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        each(Incoming::Unreachable)
                    }
                    Err(e) => return Err(format!("receive failed: {e}")),
                }
            },
            Link::Stream(s) => loop {
                if s.filled == s.inbuf.len() {
                    s.filled = 0;
                    let (head, probe) = s.inbuf.split_at(s.prefix.len());
                    // A reply with another header is corrupt: hand on
                    // nothing, which no probe matches.
                    each(Incoming::Reply(if head == s.prefix { probe } else { &[] }));
                }
                if let Some(end) = &s.ended {
                    return Err(end.clone());
                }
                // More may be there already: read on without waiting.
                let waker = std::task::Waker::noop();
                if s.poll_fill(&mut Context::from_waker(waker)).is_pending() {
                    return Ok(());
                }
            },
        }
    }

    /// Waits until there is something to receive (a datagram, or stream
    /// bytes, which it reads for [`Link::receive`] to hand on) or pending
    /// probe bytes moved on; `Err` when writing them failed.
    pub(super) async fn wait(&mut self) -> io::Result<()> {
        match self {
            Link::Udp { sock, .. } => sock.readable().await,
            Link::Stream(s) => {
                std::future::poll_fn(|cx| {
                    if !s.out.is_empty() {
                        if let Poll::Ready(r) = s.poll_flush(cx) {
                            return Poll::Ready(r);
                        }
                    }
                    s.poll_fill(cx).map(Ok)
                })
                .await
            }
        }
    }

    /// Whether probe bytes wait for the stream.
    pub(super) fn has_output(&self) -> bool {
        matches!(self, Link::Stream(s) if !s.out.is_empty())
    }
}
