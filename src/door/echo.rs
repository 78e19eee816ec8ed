//! Stream and datagram doors of the echo and upper services.
//!
//! The stream doors run on any byte stream (`net::Stream`, or a
//! `tokio::io::duplex` in tests): one `select!` between the next read and
//! the idle/shutdown timer. Reads go into one of the thread's spare buffers
//! (`net::tuning::bufpool`), given back as soon as the answer is written, so an
//! idle connection owns no read buffer at all: 10,000 idle peers cost a few
//! hundred bytes each, not 64 KiB each.

use std::io;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use super::StreamOpts;
use crate::net::{
    AsyncStream, IdleTimer, Stream, poll_quiet, poll_read_pooled, tuning::bufpool,
    tuning::spin::Spinning, write_all_within,
};
use crate::service::{UpperLines, upper_case};

/// Bytes read per system call; matches the C reference server, large enough
/// that bulk transfers take few syscalls.
const READ_CHUNK: usize = 64 * 1024;

/// What a peer of the upper service over the per-IP connection cap reads
/// before the server closes: the service's own `ERROR:` line.
pub const UPPER_BUSY: &[u8] =
    b"ERROR: too many connections from your address; close some and try again\n";

/// A byte-stream service rule: input bytes in, output bytes out.
trait StreamRule {
    /// Turns received bytes into output, or refuses them with a message
    /// (which is sent, after which the connection closes).
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String>;
    /// Runs when the peer half-closes.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Echo: bytes back as they came.
struct Echo;

impl StreamRule for Echo {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(input);
        Ok(())
    }
}

impl StreamRule for UpperLines {
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.feed(input, out).map_err(|e| e.to_string())
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        UpperLines::finish(self, out)
    }
}

/// What the connection woke for.
enum Woke {
    /// This many bytes were read into the buffer (0: the peer half-closed).
    Read(usize),
    /// Idle for the timeout, or quiet after a stop signal.
    Quiet(crate::net::Wake),
}

/// Runs `rule` over `s` until EOF, idle timeout or shutdown.
async fn run<S: AsyncStream, R: StreamRule>(
    s: &mut S,
    opts: &StreamOpts,
    mut rule: R,
) -> io::Result<()> {
    let mut idle = IdleTimer::new(opts.idle);
    // Registered with the shutdown token once, for the connection's life.
    let mut shutdown = std::pin::pin!(opts.shutdown.cancelled());
    let mut stopping = false;
    let mut buf = BytesMut::new();
    loop {
        let woke = tokio::select! {
            r = std::future::poll_fn(|cx| poll_read_pooled(s, cx, &mut buf, READ_CHUNK)) => Woke::Read(r?),
            why = std::future::poll_fn(|cx| poll_quiet(cx, &mut idle, shutdown.as_mut(), &mut stopping)) => Woke::Quiet(why),
        };
        let n = match woke {
            Woke::Read(n) => n,
            Woke::Quiet(why) => return super::end_quiet(s, why).await,
        };
        idle.touch();
        let mut out = Vec::new();
        if n == 0 {
            rule.finish(&mut out);
            write_all_within(s, &out, opts.write_timeout).await?;
            return s.shutdown().await;
        }
        let refused = rule.step(&buf[..n], &mut out);
        // Answered: the read buffer goes back to the thread before we wait.
        bufpool::give(&mut buf);
        if let Err(msg) = refused {
            tracing::debug!(%msg, "refused input");
            out.extend_from_slice(format!("ERROR: {msg}\n").as_bytes());
            write_all_within(s, &out, opts.write_timeout).await?;
            return crate::net::linger_close(s, super::REFUSE_LINGER).await;
        }
        write_all_within(s, &out, opts.write_timeout).await?;
    }
}

/// Echo over a stream: every byte back as it came; EOF is answered with EOF.
pub async fn echo_stream(conn: Stream, opts: StreamOpts) -> io::Result<()> {
    // NODELAY: a reply is one small write that must leave now, not wait for
    // the ack of the previous one.
    let _ = conn.set_nodelay();
    echo_on(Spinning(conn), opts).await
}

/// [`echo_stream`] on any byte stream.
pub async fn echo_on<S: AsyncStream>(mut s: S, opts: StreamOpts) -> io::Result<()> {
    run(&mut s, &opts, Echo).await
}

/// Upper over a stream: each line back upper-cased; over-long lines refused.
pub async fn upper_stream(conn: Stream, opts: StreamOpts) -> io::Result<()> {
    let _ = conn.set_nodelay();
    upper_on(Spinning(conn), opts).await
}

/// [`upper_stream`] on any byte stream.
pub async fn upper_on<S: AsyncStream>(mut s: S, opts: StreamOpts) -> io::Result<()> {
    let rule = UpperLines::new(opts.max_line);
    run(&mut s, &opts, rule).await
}

/// Echo over UDP: the datagram back, the empty one included.
pub fn echo_datagram(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(input);
    true
}

/// Upper over UDP: each datagram back upper-cased, never longer than it
/// came. Unicode upper-casing can make text longer (`ß` is `SS`, and some
/// characters triple), which would let a forged source use the service as
/// an amplifier; the answer is cut at the last whole character that fits
/// in the input's length, so UDP upper is at most a x1 reflector, as echo
/// is. (Streams are connected, so their lines are not cut.)
pub fn upper_datagram(input: &[u8], out: &mut Vec<u8>) -> bool {
    let upper = upper_case(input);
    let mut keep = upper.len().min(input.len());
    if keep < upper.len() {
        // Upper-casing only grows valid UTF-8, so the answer is UTF-8:
        // step back to a character boundary.
        while keep > 0 && (upper[keep] & 0xC0) == 0x80 {
            keep -= 1;
        }
    }
    out.extend_from_slice(&upper[..keep]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, DuplexStream};
    use tokio_util::sync::CancellationToken;

    const IDLE: Duration = Duration::from_secs(60);
    const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

    fn opts() -> StreamOpts {
        StreamOpts {
            idle: IDLE,
            max_line: 16,
            shutdown: CancellationToken::new(),
            write_timeout: WRITE_TIMEOUT,
        }
    }

    async fn rest(peer: &mut DuplexStream) -> Vec<u8> {
        let mut out = Vec::new();
        peer.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn echo_and_upper_answer_over_any_stream() {
        let (mut peer, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(echo_on(ours, opts()));
        peer.write_all(b"hello\n").await.unwrap();
        let mut got = [0u8; 6];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello\n");
        peer.write_all(b"\x00\xffbytes").await.unwrap();
        peer.shutdown().await.unwrap();
        assert_eq!(rest(&mut peer).await, b"\x00\xffbytes", "then EOF for EOF");
        task.await.unwrap().unwrap();

        let (mut peer, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(upper_on(ours, opts()));
        peer.write_all(b"hi there\nand a half").await.unwrap();
        let mut got = [0u8; 9];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"HI THERE\n");
        peer.shutdown().await.unwrap();
        assert_eq!(rest(&mut peer).await, b"AND A HALF", "the last line at EOF");
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn upper_refuses_an_overlong_line_and_closes() {
        let (mut peer, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(upper_on(ours, opts()));
        peer.write_all(&[b'a'; 40]).await.unwrap();
        let mut line = Vec::new();
        while !line.ends_with(b"\n") {
            line.push(peer.read_u8().await.unwrap());
        }
        assert!(
            line.starts_with(b"ERROR: "),
            "{}",
            String::from_utf8_lossy(&line)
        );
        peer.shutdown().await.unwrap();
        assert_eq!(rest(&mut peer).await, b"");
        task.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_is_cut_off_at_the_write_timeout() {
        let (mut peer, ours) = tokio::io::duplex(64);
        let task = tokio::spawn(echo_on(ours, opts()));
        // Our echo of the first 64 bytes fills the pipe; the second can
        // never be written, since the peer reads nothing.
        peer.write_all(&[1u8; 128]).await.unwrap();
        let started = tokio::time::Instant::now();
        let e = task.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), WRITE_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_peer_is_closed_at_the_idle_timeout() {
        let (mut peer, ours) = tokio::io::duplex(64);
        let task = tokio::spawn(echo_on(ours, opts()));
        let started = tokio::time::Instant::now();
        assert_eq!(rest(&mut peer).await, b"");
        assert_eq!(started.elapsed(), IDLE);
        task.await.unwrap().unwrap();
    }

    #[test]
    fn udp_upper_never_answers_more_than_it_got() {
        let up = |s: &str| {
            let mut out = Vec::new();
            upper_datagram(s.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(up("hello"), "HELLO");
        assert_eq!(up("zoë"), "ZOË");
        assert_eq!(up("straße"), "STRASSE"); // ß (2 bytes) -> SS: no growth
        let grows = "\u{1f0}".repeat(100); // ǰ (2 bytes) -> J̌ (3 bytes)
        let out = up(&grows);
        assert!(out.len() <= grows.len(), "{} > {}", out.len(), grows.len());
        assert!(out.starts_with("J\u{30c}"));
        let ligature = "\u{fb03}".repeat(50); // ﬃ (3 bytes) -> FFI
        assert_eq!(up(&ligature), "FFI".repeat(50));
    }
}
