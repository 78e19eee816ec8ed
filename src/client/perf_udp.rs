//! `sockit perf -u`: UDP at a target bitrate against `sockit serve --perf
//! udp://`, with the receiver's loss, RFC 3550 jitter and reordering per
//! interval and in total (iperf3 -u's figures). See `wire::perf_udp`.
//!
//! The sender is a plain thread with a blocking socket: pacing 85,000
//! datagrams a second (1 Gbit/s of 1460-byte datagrams) needs finer sleeps
//! than a timer wheel's millisecond.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::wire::perf_udp::{
    Datagram, HELLO_LEN, Kind, MAX_INTERVALS, UdpResult, loss, parse, prefix, put_data,
};

/// iperf3's default datagram payload on Ethernet (1500 - IP - UDP headers).
pub const DEFAULT_LEN: usize = 1460;
/// Smallest payload: the sequence header.
pub const MIN_LEN: usize = crate::wire::perf_udp::DATA_HEADER_LEN;
/// Largest UDP payload over IPv4.
pub const MAX_LEN: usize = 65_507;
/// iperf3's default UDP bitrate: 1 Mbit/s.
pub const DEFAULT_BITRATE: f64 = 1e6;
/// How often, and how many times, the client sends its END before giving
/// up on the server's counts.
const END_RETRY: Duration = Duration::from_millis(250);
const END_TRIES: u32 = 8;
/// How long each HELLO waits for its WELCOME.
const HELLO_RETRY: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub struct UdpOpts {
    /// Seconds to send.
    pub secs: f64,
    /// Target bits per second of payload; 0 for as fast as possible.
    pub bitrate: f64,
    /// Payload bytes per datagram (the sequence header included).
    pub len: usize,
    /// Report interval; `None` for the summary only.
    pub interval: Option<Duration>,
    /// How long to wait for the server's WELCOME.
    pub connect_timeout: Duration,
}

/// One interval, by send time.
#[derive(Debug, Clone, Serialize)]
pub struct UdpInterval {
    /// Seconds from the test's start.
    pub start: f64,
    /// Seconds from the test's start.
    pub end: f64,
    /// Datagrams sent.
    pub sent: u64,
    /// Bits per second sent.
    pub bits_per_second: f64,
    /// Datagrams the server received of those.
    pub received: u64,
    /// Sent minus received.
    pub lost: u64,
    /// Lost, percent of sent.
    pub loss_percent: f64,
    /// Datagrams that arrived after a later-numbered one.
    pub out_of_order: u64,
    /// The server's smoothed jitter at the interval's end, ms.
    pub jitter_ms: f64,
}

/// The whole test.
#[derive(Debug, Clone, Serialize)]
pub struct UdpSummary {
    /// Seconds the client sent for.
    pub secs: f64,
    /// Target bits per second (0: unlimited).
    pub target_bits_per_second: f64,
    /// Payload bytes per datagram.
    pub length: usize,
    /// Datagrams sent.
    pub sent: u64,
    /// Bits per second sent.
    pub sent_bits_per_second: f64,
    /// Datagrams the server received.
    pub received: u64,
    /// Bits per second the server received, over the client's send time.
    pub received_bits_per_second: f64,
    /// Sent minus received.
    pub lost: u64,
    /// Lost, percent of sent.
    pub loss_percent: f64,
    /// Datagrams that arrived after a later-numbered one.
    pub out_of_order: u64,
    /// The server's smoothed interarrival jitter (RFC 3550), ms.
    pub jitter_ms: f64,
    /// This process's CPU, percent of one core.
    pub cpu_client: Option<f64>,
}

/// What the sender did.
struct Sent {
    datagrams: u64,
    per_interval: Vec<u64>,
    secs: f64,
}

/// Runs the test (blocking: call it from a blocking thread).
pub fn run(addr: SocketAddr, o: &UdpOpts) -> anyhow::Result<(Vec<UdpInterval>, UdpSummary)> {
    let any: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(any)?;
    sock.connect(addr)?;
    let id = test_id();
    hello(&sock, id, o.connect_timeout, addr)?;
    let (cpu0, wall0) = (crate::net::usage::process_cpu(), Instant::now());
    let sent = send(&sock, id, o, addr)?;
    let result = end(&sock, id, sent.datagrams, addr)?;
    let cpu =
        crate::net::usage::cpu_percent(cpu0, crate::net::usage::process_cpu(), wall0.elapsed());
    let step = o.interval.map_or(0.0, |d| d.as_secs_f64());
    let intervals = sent
        .per_interval
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let r = result.intervals.get(k).copied().unwrap_or_default();
            let start = k as f64 * step;
            let end = (start + step).min(sent.secs);
            let (lost, loss_percent) = loss(n, r.received);
            UdpInterval {
                start,
                end,
                sent: n,
                bits_per_second: bps(n * o.len as u64, end - start),
                received: r.received,
                lost,
                loss_percent,
                out_of_order: r.out_of_order,
                jitter_ms: r.jitter_ms,
            }
        })
        .collect();
    let (lost, loss_percent) = loss(sent.datagrams, result.received);
    let summary = UdpSummary {
        secs: sent.secs,
        target_bits_per_second: o.bitrate,
        length: o.len,
        sent: sent.datagrams,
        sent_bits_per_second: bps(sent.datagrams * o.len as u64, sent.secs),
        received: result.received,
        received_bits_per_second: bps(result.bytes, sent.secs),
        lost,
        loss_percent,
        out_of_order: result.out_of_order,
        jitter_ms: result.jitter_ms,
        cpu_client: cpu,
    };
    Ok((intervals, summary))
}

fn bps(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 * 8.0 / secs
    } else {
        0.0
    }
}

/// A test id: the server tells tests of one address apart by it.
fn test_id() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // Uniqueness per source port is all it needs.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ u64::from(std::process::id());
    }
    u64::from_be_bytes(b)
}

fn no_server(addr: SocketAddr, e: &io::Error) -> anyhow::Error {
    // The io::Error stays in the chain: main maps it to exit 7 (network).
    anyhow::Error::new(io::Error::new(e.kind(), e.to_string())).context(format!(
        "{addr}: no perf door answers; start one with `sockit serve --perf udp://{addr}`"
    ))
}

/// Sends HELLOs until a WELCOME for `id` comes back.
fn hello(sock: &UdpSocket, id: u64, timeout: Duration, addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = Vec::new();
    prefix(&mut out, Kind::Hello, id);
    out.resize(HELLO_LEN, 0);
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 64];
    sock.set_read_timeout(Some(HELLO_RETRY))?;
    while Instant::now() < deadline {
        sock.send(&out).map_err(|e| no_server(addr, &e))?;
        match sock.recv(&mut buf) {
            Ok(n) if parse(&buf[..n]) == Some(Datagram::Welcome { id }) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(no_server(addr, &e)),
        }
    }
    let e = io::Error::new(io::ErrorKind::TimedOut, "no answer to HELLO");
    Err(no_server(addr, &e))
}

/// Sends paced DATA datagrams for the test's length.
fn send(sock: &UdpSocket, id: u64, o: &UdpOpts, addr: SocketAddr) -> anyhow::Result<Sent> {
    let mut buf = vec![0u8; o.len];
    let interval_ns = o.interval.map_or(0, |d| d.as_nanos().max(1_000_000));
    let interval_ms = u32::try_from(interval_ns / 1_000_000).unwrap_or(u32::MAX);
    // Seconds between datagrams at the target rate.
    let gap = if o.bitrate > 0.0 {
        o.len as f64 * 8.0 / o.bitrate
    } else {
        0.0
    };
    let mut per_interval = Vec::new();
    let mut seq = 0u64;
    let end_ns = (o.secs * 1e9) as u64;
    let t0 = Instant::now();
    loop {
        let now = t0.elapsed().as_secs_f64();
        if now >= o.secs {
            break;
        }
        // Datagrams due by now; send until caught up, then sleep.
        let due = if gap > 0.0 {
            (now / gap) as u64 + 1
        } else {
            seq + 64
        };
        while seq < due {
            let ns = t0.elapsed().as_nanos() as u64;
            // Nothing is stamped past the test's end (no sliver interval).
            if ns >= end_ns {
                break;
            }
            put_data(&mut buf, id, seq, ns, interval_ms);
            match sock.send(&buf) {
                Ok(_) => {}
                // The kernel's queue is full: the datagram is not sent.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                    break;
                }
                Err(e) => return Err(no_server(addr, &e)),
            }
            if interval_ms > 0 {
                let k = ((u128::from(ns) / interval_ns) as usize).min(MAX_INTERVALS - 1);
                if per_interval.len() <= k {
                    per_interval.resize(k + 1, 0u64);
                }
                per_interval[k] += 1;
            }
            seq += 1;
        }
        let wait = seq as f64 * gap - t0.elapsed().as_secs_f64();
        if wait > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(wait.min(o.secs)));
        }
    }
    Ok(Sent {
        datagrams: seq,
        per_interval,
        secs: t0.elapsed().as_secs_f64().min(o.secs.max(0.0) + 1.0),
    })
}

/// Sends END until the server's RESULT for `id` arrives.
fn end(sock: &UdpSocket, id: u64, sent: u64, addr: SocketAddr) -> anyhow::Result<UdpResult> {
    let mut out = Vec::new();
    prefix(&mut out, Kind::End, id);
    out.extend_from_slice(&sent.to_be_bytes());
    sock.set_read_timeout(Some(END_RETRY))?;
    let mut buf = vec![0u8; MAX_LEN + 1];
    for _ in 0..END_TRIES {
        sock.send(&out).map_err(|e| no_server(addr, &e))?;
        let until = Instant::now() + END_RETRY;
        while Instant::now() < until {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    if let Some(Datagram::Result { id: got, body }) = parse(&buf[..n]) {
                        if got == id {
                            return serde_json::from_slice(body).map_err(|e| {
                                anyhow::anyhow!("{addr}: bad result from the perf door ({e})")
                            });
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(no_server(addr, &e)),
            }
        }
    }
    anyhow::bail!(
        "{addr}: the perf door sent no result for this test after {END_TRIES} tries; \
         was it restarted, are all its test slots taken, or did the test send too \
         little for its result (answers are capped at 3x what a test sends)?"
    )
}
