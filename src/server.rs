//! Assembles `sockit serve`: binds every listener first (so a taken port fails
//! at start), then runs each with its door until shutdown, over TLS where the
//! address says tls://.

mod tls_door;
mod web;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::tls_door::{server_tls, with_tls};
use crate::door;
use crate::net::tls::{self, Identity};
use crate::net::{
    BindError, Bound, Busy, Endpoint, Gate, MemBudget, Shards, Shared, StreamListener, Transport,
    serve_datagrams, serve_stream, serve_stream_with,
};
use crate::service::Services;
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
/// enough that a spin which catches nothing costs little (see `net::spin`,
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
    /// Frame size limits of the framed protocol.
    pub frame_limits: Limits,
    /// Connection shards (single-threaded runtimes, see `net::shard`);
    /// 0 runs connections on the caller's runtime.
    pub shards: usize,
    /// How long a shard polls its quiet connections before it sleeps
    /// (`net::spin`); zero sleeps at once.
    pub busy_poll: Duration,
    /// Idle timeout of the chat doors (no input and no output).
    pub chat_idle: Duration,
    /// How long a datagram chat member stays after its last datagram.
    pub chat_lease: Duration,
    /// How often a quiet WebSocket is pinged; zero never pings.
    pub web_ping: Duration,
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
    /// Once a frame's first byte has arrived, the rest must within this.
    pub frame_timeout: Duration,
    /// Largest frame body accepted before a login.
    pub guest_max_body: usize,
    /// Output a peer does not take must be written within this, or the
    /// peer is cut off.
    pub write_timeout: Duration,
    /// Host names the web door answers to besides its address and
    /// `localhost` (`--web-host`).
    pub web_hosts: Vec<String>,
    /// A web session unused this long is refused (`--web-session-idle`).
    pub web_session_idle: Duration,
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
            shards: 0,
            busy_poll: DEFAULT_BUSY_POLL,
            chat_idle: door::CHAT_IDLE_TIMEOUT,
            chat_lease: door::DEFAULT_LEASE,
            web_ping: door::web::DEFAULT_PING,
            gate: Arc::new(Gate::default()),
            tls: None,
            handshake_timeout: tls::HANDSHAKE_TIMEOUT,
            memory: Arc::new(MemBudget::default()),
            frame_timeout: door::framed::DEFAULT_FRAME_TIMEOUT,
            guest_max_body: door::framed::DEFAULT_GUEST_MAX_BODY,
            write_timeout: door::framed::DEFAULT_WRITE_TIMEOUT,
            web_hosts: Vec::new(),
            web_session_idle: door::web::DEFAULT_SESSION_IDLE,
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
        let udp = ep.transport() == Transport::Udp;
        if matches!(service, Service::Framed | Service::Web | Service::ChatLines) && udp {
            return Err(BindError::NeedsStream {
                addr: ep.to_string(),
                service: service.name(),
            });
        }
        if *service == Service::ChatUdp && !udp {
            return Err(BindError::NeedsDatagram {
                addr: ep.to_string(),
                service: service.name(),
            });
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
    let stream_opts = door::StreamOpts {
        idle: opts.idle_timeout,
        max_line: opts.max_line,
        shutdown: shutdown.clone(),
        write_timeout: opts.write_timeout,
    };
    let mut info = ServerInfo::new(opts.frame_limits);
    if services.accounts.is_some() {
        info.features.push("login".to_owned());
    }
    if services.chat.is_some() {
        info.features.push("chat".to_owned());
    }
    if services.files.is_some() && services.accounts.is_some() {
        info.features.push("file".to_owned());
    }
    let framed_opts = door::FramedOpts {
        info: Arc::new(info),
        idle: opts.idle_timeout,
        shutdown: shutdown.clone(),
        services,
        gate: opts.gate.clone(),
        memory: opts.memory.clone(),
        frame_timeout: opts.frame_timeout,
        guest_max_body: opts.guest_max_body,
        write_timeout: opts.write_timeout,
    };
    let chat_lines = door::ChatLineOpts {
        services: framed_opts.services.clone(),
        idle: opts.chat_idle,
        max_line: opts.max_line,
        shutdown: shutdown.clone(),
    };
    let web = door::web::WebState {
        services: framed_opts.services.clone(),
        info: framed_opts.info.clone(),
        secure: false,
        ping: opts.web_ping,
        idle: Arc::new(door::web::SessionIdle::new(opts.web_session_idle)),
        hosts: door::web::host::HostRule::names(&opts.web_hosts),
    };
    let mut loops = JoinSet::new();
    for l in listeners {
        let (service, shared) = (l.service, shared.clone());
        let tls = match (l.tls, server_tls(service, &opts)) {
            (false, _) => None,
            (true, Ok(t)) => Some(t),
            (true, Err(e)) => {
                tracing::error!(service = service.name(), error = %e, "not serving a tls:// listener");
                continue;
            }
        };
        match StreamListener::from_bound(l.bound) {
            Ok(listener) if service == Service::Web => {
                // Cookies of an HTTPS page are marked Secure.
                let state = door::web::WebState {
                    secure: tls.is_some(),
                    ..web.clone()
                };
                loops.spawn(web::serve(listener, state, tls, shared));
            }
            Ok(listener) => {
                let (so, fo, co) = (stream_opts.clone(), framed_opts.clone(), chat_lines.clone());
                match service {
                    Service::Echo => {
                        loops.spawn(serve_stream(listener, "echo", shared, move |c| {
                            let so = so.clone();
                            with_tls(c, tls.clone(), move |c| door::echo_stream(c, so))
                        }))
                    }
                    Service::Upper => {
                        let busy = Busy::new(door::UPPER_BUSY.into(), tls.clone());
                        loops.spawn(serve_stream_with(
                            listener,
                            "upper",
                            busy,
                            shared,
                            move |c| {
                                let so = so.clone();
                                with_tls(c, tls.clone(), move |c| door::upper_stream(c, so))
                            },
                        ))
                    }
                    Service::Framed => {
                        let busy = Busy::new(door::busy_frame(), tls.clone());
                        loops.spawn(serve_stream_with(
                            listener,
                            "framed",
                            busy,
                            shared,
                            move |c| {
                                let fo = fo.clone();
                                with_tls(c, tls.clone(), move |c| door::framed_stream(c, fo))
                            },
                        ))
                    }
                    Service::ChatLines => {
                        let busy = Busy::new(door::BUSY_LINE.into(), tls.clone());
                        let name = "chat-lines";
                        loops.spawn(serve_stream_with(listener, name, busy, shared, move |c| {
                            let co = co.clone();
                            with_tls(c, tls.clone(), move |c| door::chat_lines_stream(c, co))
                        }))
                    }
                    Service::Perf => {
                        loops.spawn(serve_stream(listener, "perf", shared, move |c| {
                            let so = so.clone();
                            with_tls(c, tls.clone(), move |c| door::perf_stream(c, so))
                        }))
                    }
                    // bind_all gives these datagram sockets only.
                    Service::Web | Service::ChatUdp => continue,
                };
            }
            Err(Bound::Udp(sock)) => {
                let rule = match service {
                    Service::Echo => door::echo_datagram,
                    Service::Upper => door::upper_datagram,
                    Service::ChatUdp => {
                        let Some(hub) = chat_lines.services.chat.clone() else {
                            tracing::error!("chat-udp needs the chat hub; not serving it");
                            continue;
                        };
                        let co = door::ChatUdpOpts {
                            hub,
                            lease: opts.chat_lease,
                            shutdown: shutdown.clone(),
                            tracker: shared.tracker.clone(),
                            gate: opts.gate.clone(),
                        };
                        loops.spawn(door::serve_chat_udp(sock, co));
                        continue;
                    }
                    Service::Perf => {
                        let mut door = door::perf_udp::PerfUdp::default();
                        loops.spawn(serve_datagrams(
                            sock,
                            "perf",
                            shared,
                            move |input, peer, out| door.datagram(input, peer, out),
                        ));
                        continue;
                    }
                    // bind_all refuses framed, web and line-chat UDP listeners.
                    Service::Framed | Service::Web | Service::ChatLines => continue,
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
