//! The TLS relay: one future copies between a TLS stream and one end of a
//! Unix socket pair, both ways; the door (or client) gets the other end.
//!
//! Why a relay: doors read with `readable` + `try_read` on `&self`, so an
//! idle connection holds no buffer, and tools such as ping and bench do the
//! same; a TLS stream offers neither. Through the pair every door works
//! unchanged. The cost is one extra copy and two extra syscalls per chunk
//! each way (the figures are in the TLS section of README.md).
//!
//! Buffers are taken only while data flows: a direction that finds nothing
//! to read gives its buffer back, so a quiet TLS connection holds none here
//! (rustls keeps its own record buffers).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

/// Bytes read per step: the plaintext of one full TLS record (16 KiB), so
/// each step fills one record on the way out.
pub const RELAY_CHUNK: usize = 16 * 1024;

/// How long the relay keeps going once the plaintext end is dropped: enough
/// to pass on what the door wrote last and the TLS close_notify, short
/// enough that a peer which never reads does not keep the task alive.
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// One direction of the copy.
#[derive(Debug, Default)]
struct Pump {
    /// Present only while data flows.
    buf: Option<Box<[u8]>>,
    /// Bytes of `buf` already written.
    pos: usize,
    /// Bytes of `buf` filled by the last read.
    cap: usize,
    /// The reader reached EOF.
    eof: bool,
    /// Written since the last flush.
    dirty: bool,
}

impl Pump {
    /// Copies until `r` has nothing more for now (Pending) or ends (Ready:
    /// then `w` has been shut down, passing the EOF on).
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        loop {
            if self.pos == self.cap && !self.eof {
                let buf = self
                    .buf
                    .get_or_insert_with(|| vec![0; RELAY_CHUNK].into_boxed_slice());
                let mut rb = ReadBuf::new(buf);
                match Pin::new(&mut *r).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        (self.pos, self.cap) = (0, n);
                        self.eof = n == 0;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Idle: hand the buffer back until data comes again.
                        self.buf = None;
                        if self.dirty {
                            ready!(Pin::new(&mut *w).poll_flush(cx))?;
                            self.dirty = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            if let Some(buf) = self.buf.as_deref() {
                while self.pos < self.cap {
                    let chunk = buf.get(self.pos..self.cap).unwrap_or_default();
                    let n = ready!(Pin::new(&mut *w).poll_write(cx, chunk))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    self.pos += n;
                    self.dirty = true;
                }
            }
            if self.eof {
                self.buf = None;
                ready!(Pin::new(&mut *w).poll_shutdown(cx))?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// Copies between a TLS stream and the relay's end of a socket pair until
/// both directions have ended; the first error ends it all.
#[derive(Debug)]
pub struct Relay<T> {
    tls: T,
    plain: UnixStream,
    /// Plaintext end -> TLS (what the door writes).
    out: Pump,
    /// TLS -> plaintext end (what the peer sends).
    inn: Pump,
    out_done: bool,
    in_done: bool,
}

/// Wraps `tls` in a relay; returns the plaintext end to hand the door, and
/// the relay to run beside it.
pub fn split<T>(tls: T) -> io::Result<(UnixStream, Relay<T>)>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (door, plain) = UnixStream::pair()?;
    let relay = Relay {
        tls,
        plain,
        out: Pump::default(),
        inn: Pump::default(),
        out_done: false,
        in_done: false,
    };
    Ok((door, relay))
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Relay<T> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.out_done {
            if let Poll::Ready(r) = this.out.poll_copy(cx, &mut this.plain, &mut this.tls) {
                r?;
                this.out_done = true;
            }
        }
        if !this.in_done {
            if let Poll::Ready(r) = this.inn.poll_copy(cx, &mut this.tls, &mut this.plain) {
                r?;
                this.in_done = true;
            }
        }
        if this.out_done && this.in_done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

/// Runs `relay` to its end, or for at most `linger` once `gone` fires (the
/// plaintext end was dropped: only the last bytes and the close remain).
pub async fn run<T>(relay: Relay<T>, gone: CancellationToken, linger: Duration)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut relay = relay;
    let r = tokio::select! {
        r = &mut relay => r,
        _ = gone.cancelled() => match tokio::time::timeout(linger, &mut relay).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        },
    };
    if let Err(e) = r {
        tracing::debug!(error = %e, "tls relay ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn copies_both_ways_and_passes_eof_on() {
        // A duplex pipe stands in for the TLS stream.
        let (mut peer, tls) = tokio::io::duplex(64);
        let (mut door, relay) = split(tls).unwrap();
        let task = tokio::spawn(run(relay, CancellationToken::new(), CLOSE_LINGER));
        let big = vec![7u8; RELAY_CHUNK * 3 + 5];
        let writer = {
            let big = big.clone();
            tokio::spawn(async move {
                peer.write_all(&big).await.unwrap();
                peer.shutdown().await.unwrap();
                let mut back = Vec::new();
                peer.read_to_end(&mut back).await.unwrap();
                back
            })
        };
        let mut got = Vec::new();
        door.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, big);
        door.write_all(b"reply").await.unwrap();
        door.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"reply");
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_door_ends_the_relay_within_the_linger() {
        let (_peer, tls) = tokio::io::duplex(64);
        let (door, relay) = split(tls).unwrap();
        let gone = CancellationToken::new();
        let task = tokio::spawn(run(relay, gone.clone(), CLOSE_LINGER));
        drop(door);
        gone.cancel();
        // The peer neither reads nor closes; the linger still ends it.
        tokio::time::timeout(CLOSE_LINGER * 2, task)
            .await
            .unwrap()
            .unwrap();
    }
}
