//! Assembles `sockit serve`: binds every listener first (so a taken port fails
//! at start), then runs each with its door until shutdown.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::door;
use crate::net::{
    BindError, Bound, Endpoint, Shared, StreamListener, serve_datagrams, serve_stream,
};
use crate::wire::{Limits, ServerInfo};

/// The services `sockit serve` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Bytes back as they came (TCP, UDP, Unix).
    Echo,
    /// Each line (or datagram) back upper-cased.
    Upper,
    /// The sockit frame protocol (TCP, Unix).
    Framed,
}

impl Service {
    /// The name printed on start and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Upper => "upper",
            Service::Framed => "framed",
        }
    }
}

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
    /// Frame size limits of the framed protocol.
    pub frame_limits: Limits,
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
            frame_limits: Limits::default(),
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
}

impl Listener {
    /// The actual address (with the real port when 0 was asked).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        self.bound.local_endpoint()
    }
}

/// Binds every endpoint, failing on the first that cannot be bound.
pub async fn bind_all(specs: &[(Service, Endpoint)]) -> Result<Vec<Listener>, BindError> {
    let mut out = Vec::with_capacity(specs.len());
    for (service, ep) in specs {
        if *service == Service::Framed && ep.transport() == crate::net::Transport::Udp {
            return Err(BindError::NeedsStream {
                addr: ep.to_string(),
                service: service.name(),
            });
        }
        out.push(Listener {
            service: *service,
            bound: crate::net::bind(ep).await?,
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
    shutdown: CancellationToken,
) -> RunSummary {
    let shared = Shared::new(shutdown.clone(), opts.max_conns);
    let stream_opts = door::StreamOpts {
        idle: opts.idle_timeout,
        max_line: opts.max_line,
        shutdown: shutdown.clone(),
    };
    let framed_opts = door::FramedOpts {
        info: Arc::new(ServerInfo::new(opts.frame_limits)),
        idle: opts.idle_timeout,
        shutdown: shutdown.clone(),
    };
    let mut loops = JoinSet::new();
    for l in listeners {
        let (service, shared) = (l.service, shared.clone());
        match StreamListener::from_bound(l.bound) {
            Ok(listener) => {
                let (so, fo) = (stream_opts.clone(), framed_opts.clone());
                match service {
                    Service::Echo => {
                        loops.spawn(serve_stream(listener, "echo", shared, move |c| {
                            door::echo_stream(c, so.clone())
                        }))
                    }
                    Service::Upper => {
                        loops.spawn(serve_stream(listener, "upper", shared, move |c| {
                            door::upper_stream(c, so.clone())
                        }))
                    }
                    Service::Framed => {
                        loops.spawn(serve_stream(listener, "framed", shared, move |c| {
                            door::framed_stream(c, fo.clone())
                        }))
                    }
                };
            }
            Err(Bound::Udp(sock)) => {
                let rule = match service {
                    Service::Echo => door::echo_datagram,
                    Service::Upper => door::upper_datagram,
                    // bind_all refuses framed UDP listeners.
                    Service::Framed => continue,
                };
                loops.spawn(serve_datagrams(
                    sock,
                    service.name(),
                    shared,
                    move |input, _, out| rule(input, out),
                ));
            }
            Err(_) => unreachable!("from_bound returns only UDP sockets"),
        }
    }
    shutdown.cancelled().await;
    // Accept loops end on the token; closing their listeners frees the ports.
    while loops.join_next().await.is_some() {}
    shared.tracker.close();
    let open = shared.tracker.len();
    if open > 0 {
        tracing::info!(open, grace = ?opts.grace, "waiting for connections to finish");
    }
    let cut_off = match tokio::time::timeout(opts.grace, shared.tracker.wait()).await {
        Ok(()) => 0,
        Err(_) => shared.tracker.len(),
    };
    RunSummary { cut_off }
}
