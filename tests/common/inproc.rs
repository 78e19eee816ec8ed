//! An in-process server: `sockit::server::run` on the test's own tokio
//! runtime, on port 0 on loopback, so a test can move the server's clock.
//!
//! Timed rules (login lockout, web session idle) run on tokio's clock, and
//! session expiry on the accounts' calendar (`UnixClock`). A test jumps past
//! one with [`InProc::skip`]: it moves the calendar, pauses tokio's clock,
//! advances it, and lets it run again, so the server sees the time pass at
//! once while sockets and the hashing threads work in real time. (A test paused for its
//! whole length would let tokio jump its clock whenever the runtime waits on
//! those threads.) Needs a current-thread runtime: the default `#[tokio::test]`.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use sockit::net::Endpoint;
use sockit::server::{self, Accepts, RunSummary, ServerOpts, Service};
use sockit::service::Services;
use sockit::service::accounts::{Accounts, AccountsConfig, HashParams, UnixClock};
use sockit::service::chat::{ChatConfig, ChatHub, LocalHub};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Cheap hashing so tests stay fast; the production cost is benchmarked.
pub const CHEAP_HASH: HashParams = HashParams {
    m_kib: 256,
    t: 1,
    p: 1,
};

/// A server running inside the test.
pub struct InProc {
    /// Each listener's service and bound address.
    pub endpoints: Vec<(Service, Endpoint)>,
    /// The account store the server uses (add users with it directly).
    pub accounts: Accounts,
    /// The accounts' calendar, moved by [`InProc::skip`].
    clock: UnixClock,
    shutdown: CancellationToken,
    task: Option<JoinHandle<RunSummary>>,
    _dir: tempfile::TempDir,
}

impl InProc {
    /// Serves `services` (each on `tcp://127.0.0.1:0`, or `udp://` for a
    /// datagram-only one) with an account store set up by `accounts` (cheap
    /// hashing already set), a chat hub, and server options set up by `opts`.
    pub async fn start(
        services: &[Service],
        accounts: impl FnOnce(&mut AccountsConfig),
        opts: impl FnOnce(&mut ServerOpts),
    ) -> InProc {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = AccountsConfig {
            hash: CHEAP_HASH,
            ..AccountsConfig::default()
        };
        accounts(&mut cfg);
        let clock = cfg.clock.clone();
        let path = dir.path().to_owned();
        let (store, hub) = tokio::task::spawn_blocking(move || {
            let store = Accounts::open(&path, cfg).unwrap();
            // Joins and leaves told at once: tests read them to know who is in.
            let chat = ChatConfig {
                presence_grace: Duration::ZERO,
                ..ChatConfig::default()
            };
            let hub = LocalHub::open(&path, chat, Arc::new(store.clone())).unwrap();
            (store, hub)
        })
        .await
        .unwrap();
        let mut o = ServerOpts::default();
        opts(&mut o);
        let specs: Vec<(Service, Endpoint)> = services
            .iter()
            .map(|s| {
                let addr = match s.accepts() {
                    Accepts::Datagram => "udp://127.0.0.1:0",
                    _ => "tcp://127.0.0.1:0",
                };
                (*s, addr.parse().unwrap())
            })
            .collect();
        let listeners = server::bind_all(&specs).await.unwrap();
        let endpoints = listeners
            .iter()
            .map(|l| (l.service, l.local_endpoint().unwrap()))
            .collect();
        let services = Services {
            accounts: Some(store.clone()),
            chat: Some(hub as Arc<dyn ChatHub>),
            files: None,
            shares: None,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server::run(listeners, o, services, shutdown.clone()));
        InProc {
            endpoints,
            accounts: store,
            clock,
            shutdown,
            task: Some(task),
            _dir: dir,
        }
    }

    /// The `HOST:PORT` of the first listener of `service`.
    pub fn addr(&self, service: Service) -> String {
        let ep = self
            .endpoints
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, ep)| ep.to_string())
            .unwrap();
        super::strip_scheme(&ep).to_owned()
    }

    /// Adds an account (blocking work off the runtime's thread).
    pub async fn add_user(&self, name: &str, password: &str) {
        let (a, n, p) = (self.accounts.clone(), name.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || a.add_user(&n, &p))
            .await
            .unwrap()
            .unwrap();
    }

    /// Moves the server's clocks `by` forward at once (see the module doc).
    pub async fn skip(&self, by: Duration) {
        self.clock.advance(by);
        tokio::time::pause();
        tokio::time::advance(by).await;
        tokio::time::resume();
    }

    /// Moves only the accounts' calendar `by` forward: sessions age, while
    /// tokio's timers (idle timeouts of open connections) do not fire.
    pub fn skip_calendar(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> RunSummary {
        self.shutdown.cancel();
        self.task.take().unwrap().await.unwrap()
    }
}

impl super::Listening for InProc {
    fn sock(&self, service: &str, scheme: &str) -> String {
        let ep = self
            .endpoints
            .iter()
            .map(|(s, ep)| (s.name(), ep.to_string()))
            .find(|(s, ep)| *s == service && ep.starts_with(scheme))
            .map(|(_, ep)| ep)
            .unwrap_or_else(|| panic!("no {service} {scheme} listener"));
        super::strip_scheme(&ep).to_owned()
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
