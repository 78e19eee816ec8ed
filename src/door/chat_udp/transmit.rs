//! Where the door's datagrams go: its UDP socket, or in tests a record of
//! what would have been sent, so the door's rules run with no socket.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tokio::net::UdpSocket;

/// The sending half of the door. Object-safe, so the door holds one
/// `Arc<dyn Transmit>` and sends without boxing a future per datagram.
pub trait Transmit: Send + Sync + 'static {
    /// Sends now or not at all: the receive loop never waits.
    fn try_send_to(&self, bytes: &[u8], peer: SocketAddr) -> io::Result<usize>;
    /// Sends, waiting for room in the send buffer (a member's task).
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        peer: SocketAddr,
    ) -> Poll<io::Result<usize>>;
}

impl Transmit for UdpSocket {
    fn try_send_to(&self, bytes: &[u8], peer: SocketAddr) -> io::Result<usize> {
        UdpSocket::try_send_to(self, bytes, peer)
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        peer: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        UdpSocket::poll_send_to(self, cx, bytes, peer)
    }
}

/// Sends `bytes` to `peer`, waiting for room.
pub async fn send_to(tx: &dyn Transmit, bytes: &[u8], peer: SocketAddr) -> io::Result<usize> {
    std::future::poll_fn(|cx| tx.poll_send_to(cx, bytes, peer)).await
}
