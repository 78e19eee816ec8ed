//! The perf door (`sockit serve --perf ADDR`): throughput tests as
//! iperf3's server runs them, one test per connection (see `wire::perf`
//! for the format). Several clients may test at once; each connection
//! counts against --max-conns, the per-IP cap and the access lists like
//! any other door.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::StreamOpts;
use crate::net::usage::{cpu_percent, process_cpu, tcp_retransmits};
use crate::net::{AsyncStream, Conn, Stream};
use crate::wire::perf::{
    CHUNK_LEN, MAX_HEADER_LINE, PerfHeader, PerfMode, PerfResult, parse_header,
};

/// How long past its own `secs` a client may go on sending before the
/// server ends the test: clocks and buffers differ a little, never by this.
const DRAIN_SLACK: Duration = Duration::from_secs(10);

/// Chunks written before letting other tasks run, so one fast test on
/// loopback cannot hold a worker thread.
const CHUNKS_PER_TURN: usize = 16;

/// The length prefix of every full chunk.
const CHUNK_PREFIX: [u8; 4] = (CHUNK_LEN as u32).to_be_bytes();

/// Serves one perf test on `conn` (plain or TLS); the result carries the
/// TCP socket's retransmissions.
pub async fn perf_stream(mut conn: Stream, opts: StreamOpts) -> io::Result<()> {
    run(&mut conn, &opts, |c: &Stream| match c.conn() {
        Conn::Tcp(s) | Conn::Proxied(s, _) => tcp_retransmits(s),
        _ => None,
    })
    .await
}

/// [`perf_stream`] on any byte stream (no retransmission count).
pub async fn perf_on<S: AsyncStream>(mut s: S, opts: StreamOpts) -> io::Result<()> {
    run(&mut s, &opts, |_: &S| None).await
}

/// One test: the header, the data both ways, the result line;
/// `retransmits` reads the socket's count once the data is done.
async fn run<S: AsyncStream>(
    conn: &mut S,
    opts: &StreamOpts,
    retransmits: impl Fn(&S) -> Option<u64>,
) -> io::Result<()> {
    let (header, extra) = match read_header(conn, opts.idle).await? {
        Some((Ok(h), extra)) => (h, extra),
        Some((Err(msg), _)) => {
            let mut line = serde_json::json!({ "error": msg }).to_string().into_bytes();
            line.push(b'\n');
            conn.write_all(&line).await?;
            return conn.flush().await;
        }
        None => return Ok(()),
    };
    conn.write_all(b"{\"ok\":true}\n").await?;
    conn.flush().await?;
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let received = AtomicU64::new(extra);
    let (drained, sent) = {
        let (mut rx, mut tx) = tokio::io::split(&mut *conn);
        tokio::join!(
            drain(&mut rx, &header, opts, &received),
            send_chunks(&mut tx, &header, opts)
        )
    };
    drained?;
    let sent = sent?;
    let wall = t0.elapsed();
    let result = PerfResult {
        received: received.load(Ordering::Relaxed),
        sent,
        secs: wall.as_secs_f64(),
        retransmits: retransmits(conn),
        cpu_percent: cpu_percent(cpu0, process_cpu(), wall),
    };
    let mut tail = 0u32.to_be_bytes().to_vec();
    tail.extend_from_slice(&serde_json::to_vec(&result).map_err(io::Error::other)?);
    tail.push(b'\n');
    conn.write_all(&tail).await?;
    conn.shutdown().await
}

/// Reads the header line within the idle timeout. `None` when the peer
/// closed or went quiet first; else the parsed header (or why it is bad)
/// and how many bytes after the newline came with it.
async fn read_header<R: AsyncRead + Unpin>(
    conn: &mut R,
    idle: Duration,
) -> io::Result<Option<(Result<PerfHeader, String>, u64)>> {
    let mut buf = [0u8; MAX_HEADER_LINE];
    let mut len = 0;
    loop {
        let n = match tokio::time::timeout(idle, conn.read(&mut buf[len..])).await {
            Ok(Ok(0)) | Err(_) => return Ok(None),
            Ok(r) => r?,
        };
        len += n;
        if let Some(i) = buf[..len].iter().position(|&b| b == b'\n') {
            return Ok(Some((parse_header(&buf[..i]), (len - i - 1) as u64)));
        }
        if len == buf.len() {
            let why = format!("the header line is longer than {MAX_HEADER_LINE} bytes");
            return Ok(Some((Err(why), 0)));
        }
    }
}

/// Counts and discards what the client sends until its EOF, the test's
/// end plus [`DRAIN_SLACK`], the idle timeout, or shutdown.
async fn drain<R: AsyncRead + Unpin>(
    conn: &mut R,
    h: &PerfHeader,
    opts: &StreamOpts,
    received: &AtomicU64,
) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(h.secs) + DRAIN_SLACK;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = tokio::time::timeout(opts.idle, conn.read(&mut buf)) => match r {
                Ok(r) => r?,
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            },
            () = tokio::time::sleep_until(deadline) => return Err(io::ErrorKind::TimedOut.into()),
            () = opts.shutdown.cancelled() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        received.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Sends full chunks for the test's length (down, bidir); returns the
/// payload bytes sent. A client that stops reading for the idle timeout
/// ends the test with an error.
async fn send_chunks<W: AsyncWrite + Unpin>(
    conn: &mut W,
    h: &PerfHeader,
    opts: &StreamOpts,
) -> io::Result<u64> {
    if h.mode == PerfMode::Up {
        return Ok(0);
    }
    let mut chunk = vec![0u8; 4 + CHUNK_LEN];
    chunk[..4].copy_from_slice(&CHUNK_PREFIX);
    let deadline = Instant::now() + Duration::from_secs_f64(h.secs);
    let mut sent = 0u64;
    let mut turn = 0;
    while Instant::now() < deadline && !opts.shutdown.is_cancelled() {
        match tokio::time::timeout(opts.idle, conn.write_all(&chunk)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
        sent += CHUNK_LEN as u64;
        turn += 1;
        if turn % CHUNKS_PER_TURN == 0 {
            tokio::task::yield_now().await;
        }
    }
    conn.flush().await?;
    Ok(sent)
}

#[cfg(test)]
#[path = "perf_tests.rs"]
mod tests;
