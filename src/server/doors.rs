//! The door table: for each service, the transports its listeners may use,
//! its options, and the handler that serves one listener. Adding a door is
//! a row in [`Service::accepts`], its options here, and its arm in
//! [`Doors::spawn`].

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::tls_door::{server_tls, with_tls};
use super::{Listener, ServerOpts, Service, web};
use crate::door;
use crate::net::tls::ServerTls;
use crate::net::{
    Bound, Busy, Shared, StreamListener, Transport, serve_datagrams, serve_stream,
    serve_stream_with,
};
use crate::service::{Families, Services};
use crate::wire::{Limits, ServerInfo};

/// Which transports a service's listeners may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// TCP, Unix or TLS streams only.
    Stream,
    /// UDP only.
    Datagram,
    /// Either: the service has a stream and a datagram form.
    Both,
}

impl Accepts {
    /// True when a listener on `transport` can serve it.
    pub fn allows(self, transport: Transport) -> bool {
        match self {
            Accepts::Stream => transport != Transport::Udp,
            Accepts::Datagram => transport == Transport::Udp,
            Accepts::Both => true,
        }
    }
}

impl Service {
    /// The transport rule of its listeners.
    pub fn accepts(self) -> Accepts {
        match self {
            Service::Echo | Service::Upper | Service::Perf => Accepts::Both,
            Service::Framed | Service::Web | Service::ChatLines => Accepts::Stream,
            Service::ChatUdp => Accepts::Datagram,
        }
    }
}

/// The frame protocol door's options.
#[derive(Debug, Clone)]
pub struct FramedDoorOpts {
    /// Frame size limits (`--max-body`, `--max-header`).
    pub limits: Limits,
    /// Once a frame's first byte has arrived, the rest must within this.
    pub frame_timeout: Duration,
    /// Largest frame body accepted before a login.
    pub guest_max_body: usize,
}

impl Default for FramedDoorOpts {
    fn default() -> Self {
        FramedDoorOpts {
            limits: Limits::default(),
            frame_timeout: door::framed::DEFAULT_FRAME_TIMEOUT,
            guest_max_body: door::framed::DEFAULT_GUEST_MAX_BODY,
        }
    }
}

/// The chat doors' options (lines and datagrams).
#[derive(Debug, Clone)]
pub struct ChatDoorOpts {
    /// Idle timeout of a line-chat member (no input and no output).
    pub idle: Duration,
    /// How long a datagram chat member stays after its last datagram.
    pub lease: Duration,
}

impl Default for ChatDoorOpts {
    fn default() -> Self {
        ChatDoorOpts {
            idle: door::CHAT_IDLE_TIMEOUT,
            lease: door::DEFAULT_LEASE,
        }
    }
}

/// The web door's options.
#[derive(Debug, Clone)]
pub struct WebDoorOpts {
    /// How often a quiet WebSocket is pinged; zero never pings.
    pub ping: Duration,
    /// Host names the web door answers to besides its address and
    /// `localhost` (`--web-host`).
    pub hosts: Vec<String>,
    /// A web session unused this long is refused (`--web-session-idle`).
    pub session_idle: Duration,
}

impl Default for WebDoorOpts {
    fn default() -> Self {
        WebDoorOpts {
            ping: door::web::DEFAULT_PING,
            hosts: Vec::new(),
            session_idle: door::web::DEFAULT_SESSION_IDLE,
        }
    }
}

/// Every door's ready-made options for one run, built once.
pub(super) struct Doors {
    stream: door::StreamOpts,
    framed: door::FramedOpts,
    chat_lines: door::ChatLineOpts,
    chat_lease: Duration,
    web: door::web::WebState,
    opts: ServerOpts,
}

impl Doors {
    /// The options of every door, with the request families `services`
    /// answer decided once, for `hello` on every door.
    pub(super) fn new(opts: ServerOpts, services: Services, shutdown: &CancellationToken) -> Doors {
        let mut info = ServerInfo::new(opts.framed.limits);
        info.features.extend(Families::of(&services).features());
        let info = Arc::new(info);
        let stream = door::StreamOpts {
            idle: opts.idle_timeout,
            max_line: opts.max_line,
            shutdown: shutdown.clone(),
            write_timeout: opts.write_timeout,
        };
        let framed = door::FramedOpts {
            info: info.clone(),
            idle: opts.idle_timeout,
            shutdown: shutdown.clone(),
            services: services.clone(),
            gate: opts.gate.clone(),
            memory: opts.memory.clone(),
            frame_timeout: opts.framed.frame_timeout,
            guest_max_body: opts.framed.guest_max_body,
            write_timeout: opts.write_timeout,
        };
        let chat_lines = door::ChatLineOpts {
            services: services.clone(),
            idle: opts.chat.idle,
            max_line: opts.max_line,
            shutdown: shutdown.clone(),
        };
        let web = door::web::WebState {
            services,
            info,
            secure: false,
            ping: opts.web.ping,
            idle: Arc::new(door::web::SessionIdle::new(opts.web.session_idle)),
            hosts: door::web::host::HostRule::names(&opts.web.hosts),
        };
        Doors {
            stream,
            framed,
            chat_lines,
            chat_lease: opts.chat.lease,
            web,
            opts,
        }
    }

    /// Starts serving `l` with its door, as a task in `loops`.
    pub(super) fn spawn(&self, l: Listener, shared: Shared, loops: &mut JoinSet<()>) {
        let service = l.service;
        let tls = match (l.tls, server_tls(service, &self.opts)) {
            (false, _) => None,
            (true, Ok(t)) => Some(t),
            (true, Err(e)) => {
                tracing::error!(service = service.name(), error = %e, "not serving a tls:// listener");
                return;
            }
        };
        match StreamListener::from_bound(l.bound) {
            Ok(listener) => self.spawn_stream(service, listener, tls, shared, loops),
            Err(Bound::Udp(sock)) => self.spawn_datagram(service, sock, shared, loops),
            Err(_) => unreachable!("from_bound returns only UDP sockets"),
        }
    }

    /// The stream doors.
    fn spawn_stream(
        &self,
        service: Service,
        listener: StreamListener,
        tls: Option<ServerTls>,
        shared: Shared,
        loops: &mut JoinSet<()>,
    ) {
        let (so, fo, co) = (
            self.stream.clone(),
            self.framed.clone(),
            self.chat_lines.clone(),
        );
        match service {
            Service::Web => {
                // Cookies of an HTTPS page are marked Secure.
                let state = door::web::WebState {
                    secure: tls.is_some(),
                    ..self.web.clone()
                };
                loops.spawn(web::serve(listener, state, tls, shared));
            }
            Service::Echo => {
                loops.spawn(serve_stream(listener, "echo", shared, move |c| {
                    let so = so.clone();
                    with_tls(c, tls.clone(), move |c| door::echo_stream(c, so))
                }));
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
                ));
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
                ));
            }
            Service::ChatLines => {
                let busy = Busy::new(door::BUSY_LINE.into(), tls.clone());
                let name = "chat-lines";
                loops.spawn(serve_stream_with(listener, name, busy, shared, move |c| {
                    let co = co.clone();
                    with_tls(c, tls.clone(), move |c| door::chat_lines_stream(c, co))
                }));
            }
            Service::Perf => {
                loops.spawn(serve_stream(listener, "perf", shared, move |c| {
                    let so = so.clone();
                    with_tls(c, tls.clone(), move |c| door::perf_stream(c, so))
                }));
            }
            // bind_all gives this one datagram sockets only.
            Service::ChatUdp => {}
        }
    }

    /// The datagram doors.
    fn spawn_datagram(
        &self,
        service: Service,
        sock: tokio::net::UdpSocket,
        shared: Shared,
        loops: &mut JoinSet<()>,
    ) {
        let rule = match service {
            Service::Echo => door::echo_datagram,
            Service::Upper => door::upper_datagram,
            Service::ChatUdp => {
                let Some(hub) = self.chat_lines.services.chat.clone() else {
                    tracing::error!("chat-udp needs the chat hub; not serving it");
                    return;
                };
                let co = door::ChatUdpOpts {
                    hub,
                    lease: self.chat_lease,
                    shutdown: shared.shutdown.clone(),
                    tracker: shared.tracker.clone(),
                    gate: self.opts.gate.clone(),
                };
                loops.spawn(door::serve_chat_udp(sock, co));
                return;
            }
            Service::Perf => {
                let mut door = door::perf_udp::PerfUdp::default();
                loops.spawn(serve_datagrams(
                    sock,
                    "perf",
                    shared,
                    move |input, peer, out| door.datagram(input, peer, out),
                ));
                return;
            }
            // bind_all refuses framed, web and line-chat UDP listeners.
            Service::Framed | Service::Web | Service::ChatLines => return,
        };
        loops.spawn(serve_datagrams(
            sock,
            service.name(),
            shared,
            move |input, _, out| rule(input, out),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::bind_all;
    use super::*;
    use crate::net::{BindError, Endpoint};

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn each_service_binds_only_the_transports_its_row_allows() {
        let (tcp, udp) = ("tcp://127.0.0.1:0", "udp://127.0.0.1:0");
        for service in [Service::Framed, Service::Web, Service::ChatLines] {
            let e = bind_all(&[(service, ep(udp))]).await.unwrap_err();
            assert!(matches!(e, BindError::NeedsStream { .. }), "{e}");
            assert_eq!(bind_all(&[(service, ep(tcp))]).await.unwrap().len(), 1);
        }
        let e = bind_all(&[(Service::ChatUdp, ep(tcp))]).await.unwrap_err();
        assert!(matches!(e, BindError::NeedsDatagram { .. }), "{e}");
        for service in [Service::Echo, Service::Upper, Service::Perf] {
            let both = [(service, ep(tcp)), (service, ep(udp))];
            assert_eq!(bind_all(&both).await.unwrap().len(), 2);
        }
        assert!(Accepts::Stream.allows(Transport::Unix));
        assert!(!Accepts::Datagram.allows(Transport::Tls));
    }
}
