//! The datagram loop shared by the UDP doors, and the admission rule each
//! datagram passes (permitted source, size within the gate's limit).

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::Shared;
use crate::net::gate::{Gate, Refused};

/// Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes); IPv6
/// jumbograms aside, nothing larger can arrive, so this buffer never truncates.
pub const MAX_DATAGRAM: usize = 65_507;

/// Whether a received datagram of `n` bytes from `peer` is served: it
/// must come from a permitted address and be at most
/// [`Gate::max_datagram`] bytes (the receive buffer holds one byte more,
/// so a larger one shows as too long instead of truncated; see
/// [`datagram_buffer`]). Others are dropped unanswered, logged at the
/// refusal log's pace, and counted.
pub fn admit_datagram(gate: &Gate, door: &'static str, n: usize, peer: SocketAddr) -> bool {
    if !gate.permits(peer.ip()) {
        gate.log_refusal(door, peer.ip(), Refused::Denied);
        return false;
    }
    if n > gate.max_datagram() {
        gate.note_oversize(door, peer.ip());
        return false;
    }
    true
}

/// The receive buffer a datagram door needs under `gate`.
pub fn datagram_buffer(gate: &Gate) -> Vec<u8> {
    vec![0u8; gate.max_datagram().saturating_add(1)]
}

/// Serves a UDP socket: each datagram in, at most one datagram back.
///
/// `respond(payload, out)` fills `out` and returns whether to reply (an empty
/// reply is a real, empty datagram). One buffer serves the whole socket.
pub async fn serve_datagrams<F>(
    socket: UdpSocket,
    door: &'static str,
    shared: Shared,
    mut respond: F,
) where
    F: FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool + Send + 'static,
{
    let mut buf = datagram_buffer(&shared.gate);
    let mut out = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from earlier replies surface here; they
                    // concern one peer, so log and keep serving.
                    tracing::debug!(door, error = %e, "recv failed");
                    continue;
                }
            },
            _ = shared.shutdown.cancelled() => return,
        };
        if !admit_datagram(&shared.gate, door, n, peer) {
            continue;
        }
        out.clear();
        if respond(&buf[..n], peer, &mut out) {
            if let Err(e) = socket.send_to(&out, peer).await {
                tracing::debug!(door, %peer, error = %e, "send failed");
            }
        }
    }
}
