//! Assembles `sockit serve`: binds every listener first (so a taken port fails
//! at start), then runs each with its door until shutdown, over TLS where the
//! address says tls://. The door table (each service's transport rule,
//! options and handler) is in `server/doors.rs`.

mod doors;
mod tls_door;
mod web;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use self::doors::{Accepts, ChatDoorOpts, FramedDoorOpts, WebDoorOpts};
use crate::net::tls::{self, Identity};
use crate::net::{BindError, Bound, Endpoint, Gate, MemBudget, Shards, Shared, Transport};
use crate::service::Services;

/// The services `sockit serve` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Bytes back as they came (TCP, UDP, Unix).
    Echo,
    /// Each line (or datagram) back upper-cased.
    Upper,
    /// The sockit frame protocol (TCP, Unix).
    Framed,
    /// The web page, its JSON API and the frame protocol over WebSocket (TCP).
    Web,
    /// Line chat for nc and telnet users (TCP, Unix).
    ChatLines,
    /// JSON datagram chat (UDP).
    ChatUdp,
    /// Throughput tests for `sockit perf` (TCP, Unix; UDP for `perf -u`).
    Perf,
}

impl Service {
    /// The name printed on start and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Upper => "upper",
            Service::Framed => "framed",
            Service::Web => "web",
            Service::ChatLines => "chat-lines",
            Service::ChatUdp => "chat-udp",
            Service::Perf => "perf",
        }
    }
}

/// How long a shard polls its quiet connections before it sleeps, by
/// default: longer than a peer on this machine takes to answer when its
/// own thread must be woken (~70 us on a VM without halt polling), short
/// enough that a spin which catches nothing costs little (see `net::tuning::spin`,
/// which also backs off when spins do not pay).
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(100);

/// Server-wide limits and timings.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    /// Close a stream connection after this long without input.
    pub idle_timeout: Duration,
    /// Longest line the line services buffer.
    pub max_line: usize,
    /// Most stream connections open at once, across all listeners.
    pub max_conns: usize,
    /// How long in-flight connections may finish after a stop signal.
    pub grace: Duration,
    /// Connection shards (single-threaded runtimes, see `net::tuning::shard`);
    /// 0 runs connections on the caller's runtime.
    pub shards: usize,
    /// How long a shard polls its quiet connections before it sleeps
    /// (`net::tuning::spin`); zero sleeps at once.
    pub busy_poll: Duration,
    /// Access lists, the per-IP cap, the first-frame timeout and the
    /// datagram size limit, shared by every door; the caller keeps a
    /// clone to swap the rules on reload.
    pub gate: Arc<Gate>,
    /// The certificate and key tls:// listeners present; a tls:// listener
    /// without one is not served (the CLI always provides one).
    pub tls: Option<Identity>,
    /// How long a TLS handshake may take before the connection is closed.
    pub handshake_timeout: Duration,
    /// Bytes of large frame bodies and replies held at once, in total and
    /// per address.
    pub memory: Arc<MemBudget>,
    /// Output a peer does not take must be written within this, or the
    /// peer is cut off.
    pub write_timeout: Duration,
    /// The frame protocol door's own options.
    pub framed: FramedDoorOpts,
    /// The chat doors' own options.
    pub chat: ChatDoorOpts,
    /// The web door's own options.
    pub web: WebDoorOpts,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            // Five minutes: long enough for an interactive nc session to sit
            // and think, short enough that abandoned peers do not pile up.
            idle_timeout: Duration::from_secs(300),
            // 64 KiB: far beyond any line a person types, small enough that a
            // thousand peers sending endless lines cost at most 64 MiB.
            max_line: 64 * 1024,
            // Above the 10,000-connection load the benchmarks hold, below the
            // descriptor limit we raise ourselves to.
            max_conns: 20_000,
            // Enough for an in-flight request to complete on a loaded machine.
            grace: Duration::from_secs(5),
            shards: 0,
            busy_poll: DEFAULT_BUSY_POLL,
            gate: Arc::new(Gate::default()),
            tls: None,
            handshake_timeout: tls::HANDSHAKE_TIMEOUT,
            memory: Arc::new(MemBudget::default()),
            write_timeout: crate::door::framed::DEFAULT_WRITE_TIMEOUT,
            framed: FramedDoorOpts::default(),
            chat: ChatDoorOpts::default(),
            web: WebDoorOpts::default(),
        }
    }
}

/// A bound socket and the service it will run.
#[derive(Debug)]
pub struct Listener {
    /// What to serve.
    pub service: Service,
    /// The socket, already bound.
    pub bound: Bound,
    /// Whether connections speak TLS (the address was tls://).
    pub tls: bool,
}

impl Listener {
    /// The actual address (with the real port when 0 was asked).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        Ok(match self.bound.local_endpoint()? {
            Endpoint::Tcp(hp) if self.tls => Endpoint::Tls(hp),
            ep => ep,
        })
    }
}

/// Binds every endpoint, failing on the first that cannot be bound.
pub async fn bind_all(specs: &[(Service, Endpoint)]) -> Result<Vec<Listener>, BindError> {
    let mut out = Vec::with_capacity(specs.len());
    for (service, ep) in specs {
        let transport = ep.transport();
        match service.accepts() {
            Accepts::Stream if !Accepts::Stream.allows(transport) => {
                return Err(BindError::NeedsStream {
                    addr: ep.to_string(),
                    service: service.name(),
                });
            }
            Accepts::Datagram if !Accepts::Datagram.allows(transport) => {
                return Err(BindError::NeedsDatagram {
                    addr: ep.to_string(),
                    service: service.name(),
                });
            }
            _ => {}
        }
        out.push(Listener {
            service: *service,
            bound: crate::net::bind(ep).await?,
            tls: ep.transport() == Transport::Tls,
        });
    }
    Ok(out)
}

/// What a finished run reports.
#[derive(Debug, Clone, Copy)]
pub struct RunSummary {
    /// Connections still open when the grace period ran out.
    pub cut_off: usize,
}

/// Serves until `shutdown` is cancelled, then lets in-flight connections
/// finish for the grace period.
pub async fn run(
    listeners: Vec<Listener>,
    opts: ServerOpts,
    services: Services,
    shutdown: CancellationToken,
) -> RunSummary {
    let mut shared = Shared::new(shutdown.clone(), opts.max_conns).with_gate(opts.gate.clone());
    // Kept alive until every connection is done: dropping it stops the shards.
    let mut _shards = None;
    if opts.shards > 0 {
        match Shards::start(opts.shards, opts.busy_poll) {
            Ok(s) => {
                let s = Arc::new(s);
                shared = shared.with_shards(s.clone());
                _shards = Some(s);
            }
            // Threads are a resource like any other; serving on the main
            // runtime is slower for a lone peer but correct.
            Err(e) => tracing::warn!(error = %e, "cannot start connection shards; serving without"),
        }
    }
    let grace = opts.grace;
    let doors = doors::Doors::new(opts, services, &shutdown);
    let mut loops = JoinSet::new();
    for l in listeners {
        doors.spawn(l, shared.clone(), &mut loops);
    }
    shutdown.cancelled().await;
    // Accept loops end on the token; closing their listeners frees the ports.
    while loops.join_next().await.is_some() {}
    shared.tracker.close();
    let open = shared.tracker.len();
    if open > 0 {
        tracing::info!(open, ?grace, "waiting for connections to finish");
    }
    let cut_off = match tokio::time::timeout(grace, shared.tracker.wait()).await {
        Ok(()) => 0,
        Err(_) => shared.tracker.len(),
    };
    RunSummary { cut_off }
}
