//! The perf door (`sockit serve --perf ADDR`): throughput tests as
//! iperf3's server runs them, one test per connection (see `wire::perf`
//! for the format). Several clients may test at once; each connection
//! counts against --max-conns, the per-IP cap and the access lists like
//! any other door.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::StreamOpts;
use crate::net::Conn;
use crate::net::usage::{cpu_percent, process_cpu, tcp_retransmits};
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

/// Serves one perf test on `conn`.
pub async fn perf_stream(conn: Conn, opts: StreamOpts) -> io::Result<()> {
    let (header, extra) = match read_header(&conn, opts.idle).await? {
        Some((Ok(h), extra)) => (h, extra),
        Some((Err(msg), _)) => {
            let mut line = serde_json::json!({ "error": msg }).to_string().into_bytes();
            line.push(b'\n');
            return conn.write_all_ready(&line).await;
        }
        None => return Ok(()),
    };
    conn.write_all_ready(b"{\"ok\":true}\n").await?;
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let received = AtomicU64::new(extra);
    let (drained, sent) = tokio::join!(
        drain(&conn, &header, &opts, &received),
        send_chunks(&conn, &header, &opts)
    );
    drained?;
    let sent = sent?;
    let wall = t0.elapsed();
    let result = PerfResult {
        received: received.load(Ordering::Relaxed),
        sent,
        secs: wall.as_secs_f64(),
        retransmits: match &conn {
            Conn::Tcp(s) | Conn::Proxied(s, _) => tcp_retransmits(s),
            _ => None,
        },
        cpu_percent: cpu_percent(cpu0, process_cpu(), wall),
    };
    let mut tail = 0u32.to_be_bytes().to_vec();
    tail.extend_from_slice(&serde_json::to_vec(&result).map_err(io::Error::other)?);
    tail.push(b'\n');
    conn.write_all_ready(&tail).await?;
    conn.shutdown_write()
}

/// Reads the header line within the idle timeout. `None` when the peer
/// closed or went quiet first; else the parsed header (or why it is bad)
/// and how many bytes after the newline came with it.
async fn read_header(
    conn: &Conn,
    idle: Duration,
) -> io::Result<Option<(Result<PerfHeader, String>, u64)>> {
    let mut buf = [0u8; MAX_HEADER_LINE];
    let mut len = 0;
    loop {
        match tokio::time::timeout(idle, conn.readable()).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        }
        let n = match conn.try_read(&mut buf[len..]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
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
async fn drain(
    conn: &Conn,
    h: &PerfHeader,
    opts: &StreamOpts,
    received: &AtomicU64,
) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(h.secs) + DRAIN_SLACK;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            r = tokio::time::timeout(opts.idle, conn.readable()) => match r {
                Ok(r) => r?,
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            },
            () = tokio::time::sleep_until(deadline) => return Err(io::ErrorKind::TimedOut.into()),
            () = opts.shutdown.cancelled() => return Ok(()),
        }
        match conn.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                received.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends full chunks for the test's length (down, bidir); returns the
/// payload bytes sent. A client that stops reading for the idle timeout
/// ends the test with an error.
async fn send_chunks(conn: &Conn, h: &PerfHeader, opts: &StreamOpts) -> io::Result<u64> {
    if h.mode == PerfMode::Up {
        return Ok(0);
    }
    let mut chunk = vec![0u8; 4 + CHUNK_LEN];
    chunk[..4].copy_from_slice(&CHUNK_PREFIX);
    let deadline = Instant::now() + Duration::from_secs_f64(h.secs);
    let mut sent = 0u64;
    let mut turn = 0;
    while Instant::now() < deadline && !opts.shutdown.is_cancelled() {
        match tokio::time::timeout(opts.idle, conn.write_all_ready(&chunk)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
        sent += CHUNK_LEN as u64;
        turn += 1;
        if turn % CHUNKS_PER_TURN == 0 {
            tokio::task::yield_now().await;
        }
    }
    Ok(sent)
}
