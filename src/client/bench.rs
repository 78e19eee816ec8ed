//! `bench`: a load generator for echo services, cheap enough per message
//! that on a shared 2-core machine the server, not the client, is measured.
//!
//! Every connection is one task that owns its socket, its buffers (filled
//! once, reused for every message) and its own
//! [`crate::stats::LatencyStats`]; the statistics are merged when the run
//! ends, so the hot path takes no lock and allocates nothing. Replies
//! completing during the warm-up are not counted; those completing in the
//! measured window are.

pub mod churn;
mod pace;
mod plan;
pub mod plot;
mod report;
mod stream;
pub mod sweep;
mod udp;
pub mod ws;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use self::plan::{ConnMode, Live, Plan, Schedule, Tally, Window};
pub use self::report::{BenchReport, IntervalReport};
use self::report::{report, take_interval};
use super::probe::{self, SizeError};
use super::probe_format::{Proto, nats_handshake};
use crate::net::DialError as ConnectError;
use crate::net::{Endpoint, Transport};
pub use tokio_util::sync::CancellationToken;

/// How messages are issued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Each connection keeps `depth` messages in flight; a reply releases the next.
    Closed {
        /// Messages in flight per connection (pipelining).
        depth: usize,
    },
    /// `rate` messages/s across all connections, sent on schedule whatever
    /// the replies do; latency counts from the intended send time, so a
    /// stalled server shows up as queueing instead of being hidden
    /// (coordinated omission).
    Open {
        /// Messages per second, in total.
        rate: f64,
    },
    /// TCP or Unix only: write continuously, count echoed bytes; no latency.
    Stream,
}

/// What to load and how.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The echo service.
    pub target: Endpoint,
    /// Connections (UDP: connected sockets).
    pub conns: usize,
    /// Message size in bytes (UDP: at least 8, the sequence number).
    pub size: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time before measuring starts (connections busy, nothing counted).
    pub warmup: Duration,
    /// How messages are issued.
    pub mode: Mode,
    /// A message unanswered this long is counted as a timeout (UDP: lost).
    pub timeout: Duration,
    /// How long a TCP or Unix connect may take.
    pub connect_timeout: Duration,
    /// What a message looks like on the wire.
    pub proto: Proto,
    /// How a tls:// target's certificate is checked.
    pub trust: crate::net::tls::Trust,
    /// Connection churn (`--connect-rate`, `--conn-lifetime`); `None`
    /// opens every connection before the run and keeps it to the end.
    pub churn: Option<churn::Churn>,
    /// A `ws://` or `wss://` target (then `target` is the endpoint dialed,
    /// and each message is a `ping` text frame); `None` for the others.
    pub web: Option<ws::WebTarget>,
}

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A flag value that cannot work.
    #[error("{0}")]
    Config(String),
    /// The message size does not fit the transport.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// Not every connection could be opened.
    #[error("{connected} of {wanted} connections opened; {first}")]
    Connect {
        /// Connections that succeeded.
        connected: usize,
        /// Connections asked for.
        wanted: usize,
        /// The first failure.
        first: ConnectError,
    },
    /// The pacer could not be set up.
    #[error("setting up the open-loop pacer")]
    Pacer(#[source] io::Error),
}

/// A connected client socket.
enum Sock {
    Stream(crate::net::Stream),
    Udp(tokio::net::UdpSocket),
    Ws(Box<tokio_tungstenite::WebSocketStream<crate::net::Stream>>),
}

fn check(cfg: &BenchConfig) -> Result<(), BenchError> {
    let udp = cfg.target.transport() == Transport::Udp;
    let bad = |m: &str| Err(BenchError::Config(m.to_string()));
    if cfg.conns == 0 {
        return bad("--conns must be at least 1");
    }
    if cfg.duration.is_zero() {
        return bad("--duration must be more than 0 seconds");
    }
    match cfg.mode {
        Mode::Closed { depth: 0 } => return bad("--pipeline must be at least 1"),
        Mode::Open { rate } if !(rate.is_finite() && rate > 0.0) => {
            return bad("--rate must be a positive number");
        }
        Mode::Stream if udp => {
            return bad("--stream needs a TCP or Unix address; UDP has no byte stream");
        }
        _ => {}
    }
    if cfg.web.is_some() {
        if cfg.proto != Proto::Echo {
            return bad(&format!(
                "--proto {} does not apply to ws:// targets: they send the web door's ping",
                cfg.proto
            ));
        }
        if cfg.mode == Mode::Stream {
            return bad("--stream needs a byte stream; a ws:// target carries messages");
        }
    }
    if let Some(c) = cfg.churn {
        if udp {
            return bad("--connect-rate and --conn-lifetime need a connection; UDP has none");
        }
        if cfg.mode == Mode::Stream {
            return bad(
                "--connect-rate and --conn-lifetime measure connects and replies, which --stream does not; drop one",
            );
        }
        if c.connect_rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return bad("--connect-rate must be a positive number of connections per second");
        }
        if c.lifetime.is_some_and(|l| l.is_zero()) {
            return bad("--conn-lifetime must be more than 0 seconds");
        }
    }
    if udp && cfg.proto.needs_stream() {
        return bad(&format!(
            "--proto {} needs a TCP or Unix address; over UDP only raw echo runs",
            cfg.proto
        ));
    }
    if !cfg.proto.carries_payload() {
        if cfg.mode == Mode::Stream {
            return bad(&format!(
                "--stream needs a payload to stream; use --proto echo or frame, not {}",
                cfg.proto
            ));
        }
        return Ok(());
    }
    if udp {
        probe::check_size(cfg.size, true)?;
    } else if cfg.size == 0 || cfg.size > probe::MAX_STREAM_PROBE {
        return bad(&format!(
            "--size must be 1 to {} bytes",
            probe::MAX_STREAM_PROBE
        ));
    }
    Ok(())
}

/// Opens every connection (all of them, or fails), then loads the target
/// for `warmup + duration` and reports the measured window.
pub async fn bench(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    bench_live(cfg, None, CancellationToken::new(), |_| {}).await
}

/// [`bench()`], calling `on_interval` every `interval` of the measured
/// window, and ending early (with the report so far) when `stop` is
/// cancelled.
pub async fn bench_live(
    cfg: &BenchConfig,
    interval: Option<Duration>,
    stop: CancellationToken,
    mut on_interval: impl FnMut(&IntervalReport),
) -> Result<BenchReport, BenchError> {
    check(cfg)?;
    if interval.is_some() && cfg.mode == Mode::Stream {
        return Err(BenchError::Config(
            "--interval reports latency, which --stream does not measure; drop one".into(),
        ));
    }
    let mut tasks = JoinSet::new();
    let mut windows = Vec::new();
    let mut live = || {
        let window = interval.map(|_| Arc::new(Mutex::new(Window::default())));
        windows.extend(window.clone());
        Live {
            window,
            stop: stop.clone(),
        }
    };
    // Open loop: connection (or slot) `i` of `conns` sends every
    // `interval_ns`, staggered so they do not all send at once.
    let schedule = |i: usize, t0: Instant| match cfg.mode {
        Mode::Open { rate } => {
            let interval_ns = cfg.conns as f64 * 1e9 / rate;
            let offset = Duration::from_nanos((interval_ns * i as f64 / cfg.conns as f64) as u64);
            Some(Schedule {
                first: t0 + offset,
                interval_ns,
            })
        }
        _ => None,
    };
    let window = |t0: Instant| (t0 + cfg.warmup, t0 + cfg.warmup + cfg.duration);
    let (t0, from, _until) = if let Some(churn) = cfg.churn {
        // Connections open (and close) as the run goes.
        let t0 = Instant::now();
        let (from, until) = window(t0);
        let shared = Arc::new(cfg.clone());
        let gate = Arc::new(churn::Gate::new(churn.connect_rate, t0));
        for i in 0..cfg.conns {
            let slot = churn::Slot {
                index: i,
                cfg: shared.clone(),
                churn,
                from,
                until,
                schedule: schedule(i, t0),
                gate: gate.clone(),
                live: live(),
            };
            tasks.spawn(slot.run());
        }
        (t0, from, until)
    } else {
        // Every connection opens before the clock starts, or the run fails.
        let socks = connect_all(cfg).await?;
        let t0 = Instant::now();
        let (from, until) = window(t0);
        for (i, sock) in socks.into_iter().enumerate() {
            let mode = match (cfg.mode, schedule(i, t0)) {
                (Mode::Closed { depth }, _) => ConnMode::Closed { depth },
                (Mode::Open { .. }, Some(s)) => ConnMode::Open(s),
                _ => ConnMode::Stream,
            };
            let plan = Plan {
                size: cfg.size,
                proto: cfg.proto,
                mode,
                timeout: cfg.timeout,
                from,
                issue_until: until,
                until,
            };
            tasks.spawn(run_conn(sock, plan, live()));
        }
        (t0, from, until)
    };
    let period = interval.unwrap_or(Duration::from_secs(3600));
    let mut ticks = tokio::time::interval_at(from + period, period);
    let mut last = 0.0;
    let mut total = Tally::default();
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Ok(t))) => total.merge(t),
                Some(Ok(Err(e))) => return Err(BenchError::Pacer(e)),
                Some(Err(e)) => total.fail(format!("connection task failed: {e}")),
            },
            now = ticks.tick(), if interval.is_some() && !stop.is_cancelled() => {
                let end = now.saturating_duration_since(from).as_secs_f64();
                on_interval(&take_interval(&windows, last, end, cfg));
                last = end;
            }
        }
    }
    // What ran of the measured window: all of it, or up to the stop.
    let ran_for = Instant::now()
        .saturating_duration_since(from)
        .min(cfg.duration);
    // The last interval, often cut short by the run's end or the stop.
    let end = ran_for.as_secs_f64();
    if interval.is_some() && end - last > 1e-3 {
        on_interval(&take_interval(&windows, last, end, cfg));
    }
    let ran = stop.is_cancelled().then_some(ran_for);
    Ok(report(cfg, total, ran, t0))
}

/// Opens one connection to the target (handshakes included).
async fn dial_one(cfg: &BenchConfig) -> Result<Sock, ConnectError> {
    let ep = &cfg.target;
    match ep {
        Endpoint::Udp(_) => crate::net::dial_udp(ep).await.map(Sock::Udp),
        _ => {
            let mut conn = crate::net::dial_with(ep, cfg.connect_timeout, &cfg.trust).await?;
            let _ = conn.set_nodelay();
            if let Some(web) = &cfg.web {
                let ws = tokio::time::timeout(cfg.connect_timeout, ws::handshake(conn, web))
                    .await
                    .map_err(|_| ConnectError {
                        addr: web.url.clone(),
                        hint: "the WebSocket handshake timed out; raise --connect-timeout".into(),
                        io: io::ErrorKind::TimedOut.into(),
                    })??;
                return Ok(Sock::Ws(Box::new(ws)));
            }
            if cfg.proto == Proto::Nats {
                nats_handshake(&mut conn).await.map_err(|io| ConnectError {
                    addr: ep.to_string(),
                    hint: format!("NATS handshake failed: {io}"),
                    io,
                })?;
            }
            Ok(Sock::Stream(conn))
        }
    }
}

/// Runs one connection's load with the engine of its kind.
async fn run_conn(sock: Sock, plan: Plan, live: Live) -> io::Result<Tally> {
    match sock {
        Sock::Stream(c) => stream::run(c, plan, live).await,
        Sock::Udp(s) => udp::run(s, plan, live).await,
        Sock::Ws(w) => ws::run(*w, plan, live).await,
    }
}

async fn connect_all(cfg: &BenchConfig) -> Result<Vec<Sock>, BenchError> {
    let mut set = JoinSet::new();
    let shared = Arc::new(cfg.clone());
    for _ in 0..cfg.conns {
        let cfg = shared.clone();
        set.spawn(async move { dial_one(&cfg).await });
    }
    let (mut socks, mut first_err) = (Vec::with_capacity(cfg.conns), None);
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(s)) => socks.push(s),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(ConnectError {
                    addr: cfg.target.to_string(),
                    hint: e.to_string(),
                    io: io::Error::other(e.to_string()),
                });
            }
        }
    }
    match first_err {
        None => Ok(socks),
        Some(first) => Err(BenchError::Connect {
            connected: socks.len(),
            wanted: cfg.conns,
            first,
        }),
    }
}
