//! `sockit perf`: TCP throughput against `sockit serve --perf`, as iperf3
//! measures it: one-way either way or both at once, parallel streams,
//! per-interval reports, retransmits from TCP_INFO and both ends' CPU.
//!
//! Each stream is one connection speaking `wire::perf`. The bytes counted
//! are payload bytes; the server's chunk prefixes are not.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::net::usage::{cpu_percent, process_cpu, tcp_retransmits};
use crate::net::{Conn, DialError, Endpoint, Stream};
use crate::wire::perf::{CHUNK_LEN, MAX_HEADER_LINE, PerfHeader, PerfMode, PerfResult};

/// Bytes per write when the client sends: as the server's chunks.
const SEND_BUF: usize = CHUNK_LEN;

/// Longest result line the client reads after the data.
const MAX_RESULT_LINE: usize = 4096;

/// Most parallel streams (-P): iperf3's limit too.
pub const MAX_STREAMS: usize = 128;

/// How long to wait for the server's answer to the header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct PerfOpts {
    /// Which way the bytes flow.
    pub mode: PerfMode,
    /// Test length.
    pub secs: f64,
    /// Parallel streams.
    pub streams: usize,
    /// Report every this often; `None` for the summary only.
    pub interval: Option<Duration>,
    /// Connect timeout per stream.
    pub connect_timeout: Duration,
    /// How tls:// servers are checked.
    pub trust: crate::net::tls::Trust,
}

/// Why a test failed.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// A stream could not connect.
    #[error(transparent)]
    Connect(#[from] DialError),
    /// The server refused the test (its error line).
    #[error("the server refused the test: {0}")]
    Refused(String),
    /// The server's stream broke the format.
    #[error("{0}; is this a `sockit serve --perf` address?")]
    Protocol(String),
    /// A socket failed during the test.
    #[error("{addr}: {source}")]
    Io {
        /// The server.
        addr: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// One interval's figures, summed over the streams.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    /// Seconds from the test's start.
    pub start: f64,
    /// Seconds from the test's start.
    pub end: f64,
    /// Payload bytes the client sent in the interval.
    pub bytes_sent: u64,
    /// Payload bytes the client received in the interval.
    pub bytes_received: u64,
}

/// The whole test.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Direction.
    pub mode: PerfMode,
    /// Streams.
    pub streams: usize,
    /// Seconds from the first header to the last result.
    pub secs: f64,
    /// Payload bytes the client sent, and the server's count of them.
    pub client_sent: u64,
    /// What the server says it received.
    pub server_received: u64,
    /// Payload bytes the server sent.
    pub server_sent: u64,
    /// Payload bytes the client received.
    pub client_received: u64,
    /// Retransmits of the sending side(s): the client's sockets (up,
    /// bidir) plus the server's (down, bidir), when the kernel says.
    pub retransmits: Option<u64>,
    /// This process's CPU, percent of one core.
    pub cpu_client: Option<f64>,
    /// The server process's CPU as it reported it (the highest of the
    /// streams' reports), percent of one core.
    pub cpu_server: Option<f64>,
}

/// Counters a stream updates and the interval reporter reads.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
}

/// What one stream ends with.
struct StreamEnd {
    server: PerfResult,
    client_retransmits: Option<u64>,
}

/// Runs the test, calling `on_interval` after each interval.
pub async fn run(
    ep: &Endpoint,
    opts: &PerfOpts,
    mut on_interval: impl FnMut(&Interval),
) -> Result<Summary, PerfError> {
    let header = PerfHeader {
        perf: 1,
        mode: opts.mode,
        secs: opts.secs,
    };
    // Connect every stream first, so all start together.
    let mut conns = Vec::with_capacity(opts.streams);
    for _ in 0..opts.streams.clamp(1, MAX_STREAMS) {
        let conn = crate::net::dial_with(ep, opts.connect_timeout, &opts.trust).await?;
        let _ = conn.set_nodelay();
        conns.push(conn);
    }
    let counters = Arc::new(Counters::default());
    let addr = ep.to_string();
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let mut tasks = JoinSet::new();
    for conn in conns {
        let (counters, addr) = (counters.clone(), addr.clone());
        tasks.spawn(async move { stream(conn, header, &counters, &addr).await });
    }
    let mut ends = Vec::new();
    let mut last = (0u64, 0u64, 0.0f64);
    // Without -i the ticker exists but its branch is off.
    let period = opts.interval.unwrap_or(Duration::from_secs(3600));
    let mut ticks = tokio::time::interval_at(t0 + period, period);
    let mut failure = None;
    while !tasks.is_empty() {
        tokio::select! {
            Some(done) = tasks.join_next() => match done {
                Ok(Ok(end)) => ends.push(end),
                Ok(Err(e)) => { failure.get_or_insert(e); }
                Err(e) => { failure.get_or_insert(PerfError::Protocol(format!("a stream task failed: {e}"))); }
            },
            _ = ticks.tick(), if opts.interval.is_some() => {
                let now = t0.elapsed().as_secs_f64();
                let (s, r) = (counters.sent.load(Ordering::Relaxed), counters.received.load(Ordering::Relaxed));
                on_interval(&Interval { start: last.2, end: now, bytes_sent: s - last.0, bytes_received: r - last.1 });
                last = (s, r, now);
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let wall = t0.elapsed();
    let sum = |f: fn(&StreamEnd) -> Option<u64>| ends.iter().map(f).sum::<Option<u64>>();
    let client_retx = sum(|e| e.client_retransmits);
    let server_retx = sum(|e| e.server.retransmits);
    let retransmits = match opts.mode {
        PerfMode::Up => client_retx,
        PerfMode::Down => server_retx,
        PerfMode::Bidir => client_retx.zip(server_retx).map(|(a, b)| a + b),
    };
    Ok(Summary {
        mode: opts.mode,
        streams: ends.len(),
        secs: wall.as_secs_f64(),
        client_sent: counters.sent.load(Ordering::Relaxed),
        server_received: ends.iter().map(|e| e.server.received).sum(),
        server_sent: ends.iter().map(|e| e.server.sent).sum(),
        client_received: counters.received.load(Ordering::Relaxed),
        retransmits,
        cpu_client: cpu_percent(cpu0, process_cpu(), wall),
        cpu_server: ends
            .iter()
            .filter_map(|e| e.server.cpu_percent)
            .reduce(f64::max),
    })
}

/// One stream: header, answer, then sending (up, bidir) beside receiving
/// the server's chunks and its result.
async fn stream(
    mut conn: Stream,
    header: PerfHeader,
    counters: &Counters,
    addr: &str,
) -> Result<StreamEnd, PerfError> {
    let io_err = |source| PerfError::Io {
        addr: addr.to_string(),
        source,
    };
    let mut line = serde_json::to_vec(&header).map_err(|e| PerfError::Protocol(e.to_string()))?;
    line.push(b'\n');
    let sent = async {
        conn.write_all(&line).await?;
        conn.flush().await
    };
    sent.await.map_err(io_err)?;
    let answer = tokio::time::timeout(HEADER_TIMEOUT, read_line(&mut conn, MAX_HEADER_LINE))
        .await
        .map_err(|_| PerfError::Protocol("no answer to the perf header".into()))?
        .map_err(io_err)?;
    let v: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| {
        PerfError::Protocol(format!(
            "unexpected answer {:?}",
            String::from_utf8_lossy(&answer)
        ))
    })?;
    if let Some(e) = v.get("error") {
        return Err(PerfError::Refused(
            e.as_str().unwrap_or("unknown").to_string(),
        ));
    }
    // An echo server would send our own header back: only this is a yes.
    if v.get("ok") != Some(&serde_json::Value::Bool(true)) {
        return Err(PerfError::Protocol(format!(
            "unexpected answer {}",
            String::from_utf8_lossy(&answer)
        )));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(header.secs);
    let (mut rx, mut tx) = tokio::io::split(conn);
    let send = async {
        if header.mode != PerfMode::Down {
            let buf = vec![0u8; SEND_BUF];
            while Instant::now() < deadline {
                tx.write_all(&buf).await?;
                counters.sent.fetch_add(SEND_BUF as u64, Ordering::Relaxed);
            }
        }
        // Over TLS: the last records, then close_notify; then our FIN.
        tx.shutdown().await
    };
    let (sent, received) = tokio::join!(send, receive(&mut rx, counters));
    sent.map_err(io_err)?;
    let server = received?;
    let client_retransmits = match rx.unsplit(tx).conn() {
        Conn::Tcp(s) => tcp_retransmits(s),
        _ => None,
    };
    Ok(StreamEnd {
        server,
        client_retransmits,
    })
}

/// Reads the server's chunks, counting their payload, then its result line.
async fn receive<R: AsyncRead + Unpin>(
    conn: &mut R,
    counters: &Counters,
) -> Result<PerfResult, PerfError> {
    let bad = |m: &str| PerfError::Protocol(m.to_string());
    let mut buf = vec![0u8; 256 * 1024];
    // Bytes left in the current chunk, and a length prefix read in part.
    let mut left = 0usize;
    let mut prefix = [0u8; 4];
    let mut have = 0usize;
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) => return Err(bad("the server closed before its result")),
            Ok(n) => n,
            Err(e) => return Err(PerfError::Protocol(e.to_string())),
        };
        let mut at = 0;
        while at < n {
            if left > 0 {
                let take = left.min(n - at);
                counters.received.fetch_add(take as u64, Ordering::Relaxed);
                left -= take;
                at += take;
                continue;
            }
            let take = (4 - have).min(n - at);
            prefix[have..have + take].copy_from_slice(&buf[at..at + take]);
            have += take;
            at += take;
            if have < 4 {
                continue;
            }
            have = 0;
            let len = u32::from_be_bytes(prefix) as usize;
            if len > CHUNK_LEN {
                return Err(bad("a chunk longer than the format allows"));
            }
            if len == 0 {
                return result_line(conn, &buf[at..n]).await;
            }
            left = len;
        }
    }
}

/// The result line: `first` holds its start, the rest follows until EOF.
async fn result_line<R: AsyncRead + Unpin>(
    conn: &mut R,
    first: &[u8],
) -> Result<PerfResult, PerfError> {
    let mut line = first.to_vec();
    if !line.contains(&b'\n') {
        let rest = read_line(conn, MAX_RESULT_LINE)
            .await
            .map_err(|e| PerfError::Protocol(e.to_string()))?;
        line.extend_from_slice(&rest);
    }
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    serde_json::from_slice(&line[..end])
        .map_err(|e| PerfError::Protocol(format!("bad result line ({e})")))
}

/// Reads up to a newline (not included), at most `max` bytes, one byte
/// at a time from the stream: lines here are short and rare, and nothing
/// after the newline may be consumed.
async fn read_line<R: AsyncRead + Unpin>(conn: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < max {
        match conn.read(&mut b).await? {
            0 => return Ok(line),
            _ if b[0] == b'\n' => return Ok(line),
            _ => line.push(b[0]),
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"))
}
