//! The TLS relay: one future copies between a TLS stream and one end of a
//! Unix socket pair, both ways; the door (or client) gets the other end.
//!
//! Why a relay: the client tools (ping, bench, listen, relay) read with
//! `readable` + `try_read` on `&self`; a TLS stream offers neither. Through
//! the pair they work unchanged, at one extra copy and two extra syscalls
//! per chunk each way. The server's doors no longer use it: they run on
//! the TLS stream directly (`net::Stream`); once the tools read through
//! `AsyncRead` too, this module goes.
//!
//! The relay owns no buffer: what the peer sends is written to the pair
//! straight from rustls' plaintext buffer (`poll_fill_buf`), and what the
//! door writes is read into a stack buffer and handed to rustls at once.
//! Only when rustls cannot take all of it (the peer stopped reading) is the
//! rest kept, at most one chunk, until it can.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

/// Bytes read from the door per step: the plaintext of one full TLS record
/// (16 KiB), so each step fills one record on the way out.
pub const RELAY_CHUNK: usize = 16 * 1024;

/// How long the relay keeps going once the plaintext end is dropped: enough
/// to pass on what the door wrote last and the TLS close_notify, short
/// enough that a peer which never reads does not keep the task alive.
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// Door -> TLS: the state kept between polls.
#[derive(Debug, Default)]
struct Out {
    /// Bytes read from the door that rustls has not taken yet.
    rest: Option<Vec<u8>>,
    /// The door half-closed (or closed).
    eof: bool,
    /// Written since the last flush.
    dirty: bool,
}

impl Out {
    /// Copies until the door has nothing more for now (Pending) or ended
    /// (Ready: then the TLS side has been shut down, sending close_notify).
    fn poll_copy<T>(
        &mut self,
        cx: &mut Context<'_>,
        plain: &mut UnixStream,
        tls: &mut T,
    ) -> Poll<io::Result<()>>
    where
        T: AsyncWrite + Unpin,
    {
        loop {
            if let Some(rest) = self.rest.as_mut() {
                while !rest.is_empty() {
                    let n = ready!(Pin::new(&mut *tls).poll_write(cx, rest))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    rest.drain(..n);
                    self.dirty = true;
                }
                self.rest = None;
            }
            if self.eof {
                ready!(Pin::new(&mut *tls).poll_shutdown(cx))?;
                return Poll::Ready(Ok(()));
            }
            let mut stack = [MaybeUninit::<u8>::uninit(); RELAY_CHUNK];
            let mut rb = ReadBuf::uninit(&mut stack);
            match Pin::new(&mut *plain).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    if self.dirty {
                        ready!(Pin::new(&mut *tls).poll_flush(cx))?;
                        self.dirty = false;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => self.eof = true,
                Poll::Ready(Ok(())) => {
                    let data = rb.filled();
                    let taken = match Pin::new(&mut *tls).poll_write(cx, data) {
                        Poll::Ready(r) => r?,
                        Poll::Pending => 0,
                    };
                    self.dirty |= taken > 0;
                    if let Some(left) = data.get(taken..).filter(|l| !l.is_empty()) {
                        self.rest = Some(left.to_vec());
                    }
                }
            }
        }
    }
}

/// TLS -> door, straight from rustls' plaintext buffer. Ready once the
/// peer's end of stream has been passed on (the door's end half-closed).
fn poll_in<T>(cx: &mut Context<'_>, tls: &mut T, plain: &mut UnixStream) -> Poll<io::Result<()>>
where
    T: AsyncBufRead + Unpin,
{
    loop {
        let data = ready!(Pin::new(&mut *tls).poll_fill_buf(cx))?;
        if data.is_empty() {
            ready!(Pin::new(&mut *plain).poll_shutdown(cx))?;
            return Poll::Ready(Ok(()));
        }
        let n = ready!(Pin::new(&mut *plain).poll_write(cx, data))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        Pin::new(&mut *tls).consume(n);
    }
}

/// Copies between a TLS stream and the relay's end of a socket pair until
/// both directions have ended; the first error ends it all.
#[derive(Debug)]
pub struct Relay<T> {
    tls: T,
    plain: UnixStream,
    /// Door -> TLS (what the door writes).
    out: Out,
    out_done: bool,
    /// TLS -> door (what the peer sends) has ended.
    in_done: bool,
}

/// Wraps `tls` in a relay; returns the plaintext end to hand the door, and
/// the relay to run beside it.
pub fn split<T>(tls: T) -> io::Result<(UnixStream, Relay<T>)>
where
    T: AsyncBufRead + AsyncWrite + Unpin,
{
    let (door, plain) = UnixStream::pair()?;
    let relay = Relay {
        tls,
        plain,
        out: Out::default(),
        out_done: false,
        in_done: false,
    };
    Ok((door, relay))
}

impl<T: AsyncBufRead + AsyncWrite + Unpin> Future for Relay<T> {
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
            if let Poll::Ready(r) = poll_in(cx, &mut this.tls, &mut this.plain) {
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
    T: AsyncBufRead + AsyncWrite + Unpin,
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
        // A duplex pipe stands in for the TLS stream (buffered, as rustls is).
        let (mut peer, tls) = tokio::io::duplex(64);
        let (mut door, relay) = split(tokio::io::BufReader::new(tls)).unwrap();
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
        // Back through a 64-byte pipe: the TLS side takes little at a time,
        // so the relay keeps what it could not pass on yet.
        let reply: Vec<u8> = (0..RELAY_CHUNK * 2 + 3).map(|i| i as u8).collect();
        door.write_all(&reply).await.unwrap();
        door.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), reply);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_door_ends_the_relay_within_the_linger() {
        let (_peer, tls) = tokio::io::duplex(64);
        let (door, relay) = split(tokio::io::BufReader::new(tls)).unwrap();
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
