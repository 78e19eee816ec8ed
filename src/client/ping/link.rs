//! The socket under a ping run: a connected UDP socket, or a stream whose
//! replies are cut into exactly `size`-byte pieces.

use std::io;

use tokio::net::UdpSocket;

use crate::client::probe;
use crate::net::Conn;

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
    conn: Conn,
    /// One reply (frame prefix, then probe); reads never go past its end,
    /// so no reply straddles two, and a late reply is read whole and
    /// recognised by its sequence number.
    inbuf: Vec<u8>,
    /// Bytes before every probe, sent and expected back (the frame header
    /// of `--proto frame`; empty for raw echo).
    prefix: Vec<u8>,
    filled: usize,
    /// Probe bytes not yet accepted by the socket.
    out: Vec<u8>,
    written: usize,
}

impl StreamLink {
    /// Writes what the socket takes now.
    fn flush(&mut self) -> io::Result<()> {
        while self.written < self.out.len() {
            match self.conn.try_write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
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
    pub(super) fn stream(conn: Conn, size: usize, prefix: Vec<u8>) -> Link {
        Link::Stream(Box::new(StreamLink {
            conn,
            inbuf: vec![0; prefix.len() + size],
            prefix,
            filled: 0,
            out: Vec::with_capacity(size),
            written: 0,
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
                // A write error shows up again as a read error or EOF, which
                // ends the run with its reason.
                let _ = s.flush();
                Ok(false)
            }
        }
    }

    /// Reads everything already there, handing each reply to `each`;
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
                match s.conn.try_read(&mut s.inbuf[s.filled..]) {
                    Ok(0) => return Err("connection closed by the server".into()),
                    Ok(n) => s.filled += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("connection lost: {e}")),
                }
                if s.filled == s.inbuf.len() {
                    s.filled = 0;
                    let (head, probe) = s.inbuf.split_at(s.prefix.len());
                    // A reply with another header is corrupt: hand on
                    // nothing, which no probe matches.
                    each(Incoming::Reply(if head == s.prefix { probe } else { &[] }));
                }
            },
        }
    }

    /// Waits until a read would not block.
    pub(super) async fn readable(&self) -> io::Result<()> {
        match self {
            Link::Udp { sock, .. } => sock.readable().await,
            Link::Stream(s) => s.conn.readable().await,
        }
    }

    /// Resolves when pending output can move; never when there is none.
    pub(super) async fn writable(&self) -> io::Result<()> {
        match self {
            Link::Stream(s) if !s.out.is_empty() => s.conn.writable().await,
            _ => std::future::pending().await,
        }
    }

    /// Whether probe bytes wait for the socket.
    pub(super) fn has_output(&self) -> bool {
        matches!(self, Link::Stream(s) if !s.out.is_empty())
    }

    /// Writes pending probe bytes that the socket takes now.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Stream(s) => s.flush(),
            Link::Udp { .. } => Ok(()),
        }
    }
}
