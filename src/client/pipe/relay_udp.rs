//! UDP relaying: each client address gets its own socket to the target
//! (so the target's replies can be told apart), kept until the mapping has
//! been quiet for the peer timeout, as a NAT keeps its UDP entries.
//!
//! A client address is not verified (UDP sources can be forged), so the
//! target's replies to it are capped at 3x the bytes it sent (QUIC's
//! anti-amplification rule): the relay cannot be made a reflector.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::relay::ConnReport;
use super::stream::Clock;
use super::{PipeError, PipeOpts, peer_error};
use crate::net::Endpoint;

/// How long a UDP mapping lives without a datagram either way when `-i`
/// is not given: longer than any request/reply pause of a chatty
/// protocol, short enough that departed peers free their socket soon
/// (Linux conntrack keeps an unreplied UDP entry 30 s, a replied one 120 s).
pub const DEFAULT_UDP_PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// At most this many bytes go back to a client per byte it sent.
pub const AMPLIFICATION_LIMIT: u64 = 3;

/// Receive buffer: the largest UDP payload, so nothing is truncated.
const RECV_BUF: usize = 65_535;

/// One client's mapping.
struct Peer {
    /// Connected to the target; only the target's datagrams arrive here.
    upstream: UdpSocket,
    clock: Clock,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    dgrams_up: AtomicU64,
    dgrams_down: AtomicU64,
}

/// Relays datagrams between clients of `socket` and `target` until
/// dropped; at most `opts.max_conns` mappings at once (datagrams from
/// further new clients are dropped until one expires).
pub(super) async fn serve(
    socket: UdpSocket,
    target: Endpoint,
    opts: PipeOpts,
    reports: mpsc::Sender<ConnReport>,
) -> Result<(), PipeError> {
    let socket = Arc::new(socket);
    let timeout = opts.idle.unwrap_or(DEFAULT_UDP_PEER_TIMEOUT);
    let max = opts.max_conns.max(1);
    let mut peers: HashMap<SocketAddr, Arc<Peer>> = HashMap::new();
    // Each mapping reports its end once, so `max` slots never block.
    let (gone_tx, mut gone_rx) = mpsc::channel::<SocketAddr>(max);
    let mut buf = vec![0u8; RECV_BUF];
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, from) = match r {
                    Ok(x) => x,
                    // An ICMP error about an earlier reply concerns one client.
                    Err(e) => { tracing::debug!(error = %e, "receive failed"); continue; }
                };
                if opts.acl.as_ref().is_some_and(|acl| !acl.permits(from.ip())) {
                    continue;
                }
                let peer = match peers.get(&from) {
                    Some(p) => p.clone(),
                    None if peers.len() >= max => {
                        tracing::debug!(%from, "too many UDP peers (-m); dropped");
                        continue;
                    }
                    None => {
                        let upstream = match crate::net::dial_udp(&target).await {
                            Ok(s) => s,
                            Err(e) => { tracing::warn!("{e}"); continue; }
                        };
                        next_id += 1;
                        let peer = Arc::new(Peer {
                            upstream,
                            clock: Clock::new(),
                            bytes_up: AtomicU64::new(0),
                            bytes_down: AtomicU64::new(0),
                            dgrams_up: AtomicU64::new(0),
                            dgrams_down: AtomicU64::new(0),
                        });
                        peers.insert(from, peer.clone());
                        let task = downstream(next_id, from, peer.clone(), socket.clone(), target.to_string(), timeout);
                        let (gone, reports) = (gone_tx.clone(), reports.clone());
                        tokio::spawn(async move {
                            let report = task.await;
                            let _ = gone.send(from).await;
                            let _ = reports.send(report).await;
                        });
                        peer
                    }
                };
                peer.clock.touch();
                // Counted before the send: the reply may reach `downstream`
                // (another task) before this one runs again, and must find
                // the budget it earns.
                peer.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
                match peer.upstream.send(&buf[..n]).await {
                    Ok(_) => {
                        peer.dgrams_up.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        peer.bytes_up.fetch_sub(n as u64, Ordering::Relaxed);
                        tracing::debug!(%from, error = %e, "send to the target failed");
                    }
                }
            }
            Some(from) = gone_rx.recv() => { peers.remove(&from); }
        }
    }
}

/// Passes the target's replies back to `client` until the mapping is quiet
/// for `timeout` or the target is unreachable; returns the mapping's report.
async fn downstream(
    id: u64,
    client: SocketAddr,
    peer: Arc<Peer>,
    socket: Arc<UdpSocket>,
    target: String,
    timeout: Duration,
) -> ConnReport {
    let started = Instant::now();
    let mut buf = vec![0u8; RECV_BUF];
    let mut capped = 0u64;
    let error = loop {
        tokio::select! {
            r = peer.upstream.recv(&mut buf) => match r {
                Ok(n) => {
                    peer.clock.touch();
                    let budget = peer.bytes_up.load(Ordering::Relaxed).saturating_mul(AMPLIFICATION_LIMIT);
                    let sent = peer.bytes_down.load(Ordering::Relaxed);
                    if sent + n as u64 > budget {
                        capped += 1;
                        continue;
                    }
                    if socket.send_to(&buf[..n], client).await.is_ok() {
                        peer.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                        peer.dgrams_down.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => break Some(peer_error(&target, e).to_string()),
            },
            () = peer.clock.idle(Some(timeout)) => break None,
        }
    };
    if capped > 0 {
        tracing::debug!(%client, capped, "replies over 3x the client's bytes dropped");
    }
    ConnReport {
        id,
        client: format!("udp://{client}"),
        bytes_up: peer.bytes_up.load(Ordering::Relaxed),
        bytes_down: peer.bytes_down.load(Ordering::Relaxed),
        datagrams: Some((
            peer.dgrams_up.load(Ordering::Relaxed),
            peer.dgrams_down.load(Ordering::Relaxed),
        )),
        secs: started.elapsed().as_secs_f64(),
        error,
    }
}
