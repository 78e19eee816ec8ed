//! A stream that records when bytes last moved either way, for loops that
//! do not own the reads and writes themselves (hyper's HTTP connection)
//! but must still close a connection that has gone quiet.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with every read or write that moved bytes noted in an
/// [`Activity`].
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Activity,
}

/// When bytes last moved on a [`Watched`] stream; cheap to clone and read
/// from another task.
#[derive(Debug, Clone)]
pub struct Activity {
    /// When the stream was wrapped: the clock's zero.
    epoch: Instant,
    /// Microseconds from `epoch` to the last move.
    last: Arc<AtomicU64>,
}

impl Activity {
    /// How long ago bytes last moved (or the stream was wrapped).
    pub fn quiet_for(&self) -> Duration {
        let last = Duration::from_micros(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    fn touch(&self) {
        // u64 microseconds last 584,000 years; saturate rather than wrap.
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }
}

/// Wraps `inner`; the [`Activity`] reads its quiet time.
pub fn watch<T>(inner: T) -> (Watched<T>, Activity) {
    let activity = Activity {
        epoch: Instant::now(),
        last: Arc::new(AtomicU64::new(0)),
    };
    let watched = Watched {
        inner,
        activity: activity.clone(),
    };
    (watched, activity)
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_and_writes_reset_the_quiet_time_and_waiting_does_not() {
        let (a, mut b) = tokio::io::duplex(64);
        let (mut a, activity) = watch(a);
        std::thread::sleep(Duration::from_millis(30));
        let quiet = activity.quiet_for();
        assert!(quiet >= Duration::from_millis(30), "{quiet:?}");
        a.write_all(b"hi").await.unwrap();
        assert!(activity.quiet_for() < quiet, "a write is activity");
        std::thread::sleep(Duration::from_millis(30));
        let quiet = activity.quiet_for();
        b.write_all(b"yo").await.unwrap();
        let mut got = [0; 2];
        a.read_exact(&mut got).await.unwrap();
        assert!(activity.quiet_for() < quiet, "a read is activity");
    }
}
