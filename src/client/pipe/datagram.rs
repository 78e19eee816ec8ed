//! UDP pipes: each input line becomes one datagram, and each datagram
//! received is written to the output as it came.
//!
//! Lines, not reads, make datagrams: a read from a pipe may hold several
//! lines or half of one, and "one line, one datagram" is what the classic
//! UDP exercises (and their servers) expect.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UdpSocket;

use super::lines::Lines;
use super::stream::Clock;
use super::{DEFAULT_UDP_WAIT, MAX_DATAGRAM, PipeError, PipeOpts, emit, peer_error};
use crate::net::Endpoint;

/// Receive buffer: the largest payload any UDP datagram can carry (IPv6
/// allows a few bytes more than IPv4's 65507), so nothing is truncated.
const RECV_BUF: usize = 65_535;

/// Sends input lines to `ep` and prints the replies; after input ends,
/// replies print until none came for the wait.
pub(super) async fn connect<R, W>(
    ep: &Endpoint,
    opts: &PipeOpts,
    mut input: R,
    mut output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let addr = ep.to_string();
    let socket = crate::net::dial_udp(ep).await?;

    let mut lines = Lines::new();
    let mut buf = vec![0u8; RECV_BUF];
    let clock = Clock::new();
    let mut input_done = opts.recv_only;
    let linger = opts.idle.or(opts.wait).unwrap_or(DEFAULT_UDP_WAIT);
    loop {
        if opts.send_only && input_done {
            return Ok(());
        }
        // Before input ends only -i ends the pipe; afterwards the wait does.
        let limit = if input_done { Some(linger) } else { opts.idle };
        tokio::select! {
            r = socket.recv(&mut buf) => {
                let n = r.map_err(|e| peer_error(&addr, e))?;
                clock.touch();
                if !opts.send_only {
                    emit(&mut output, &buf[..n]).await?;
                }
            }
            r = lines.next(&mut input), if !input_done => match r? {
                Some(range) => {
                    socket.send(lines.get(range)).await.map_err(|e| send_error(&addr, e))?;
                    clock.touch();
                }
                None => {
                    input_done = true;
                    // The wait for replies starts when input ends.
                    clock.touch();
                }
            },
            () = clock.idle(limit) => return Ok(()),
        }
    }
}

/// Prints datagrams from any peer and sends input lines to the peer heard
/// from most recently. Input is not read before a peer is known: there is
/// nobody to send it to, and unread input waits in the pipe, not in memory.
pub(super) async fn listen<R, W>(
    socket: UdpSocket,
    opts: &PipeOpts,
    mut input: R,
    mut output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let local = socket
        .local_addr()
        .map_or_else(|_| "udp socket".to_string(), |a| format!("udp://{a}"));
    let mut lines = Lines::new();
    let mut buf = vec![0u8; RECV_BUF];
    let clock = Clock::new();
    let mut input_done = opts.recv_only;
    let mut peer: Option<SocketAddr> = None;
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    clock.touch();
                    if peer != Some(from) {
                        tracing::debug!(peer = %from, "now answering");
                        peer = Some(from);
                    }
                    if !opts.send_only {
                        emit(&mut output, &buf[..n]).await?;
                    }
                }
                // An ICMP error about an earlier datagram concerns one peer.
                Err(e) => tracing::debug!(error = %e, "receive failed"),
            },
            r = lines.next(&mut input), if !input_done && peer.is_some() => match (r?, peer) {
                (Some(range), Some(to)) => {
                    match socket.send_to(lines.get(range), to).await {
                        Ok(_) => clock.touch(),
                        Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                            return Err(send_error(&local, e));
                        }
                        Err(e) => tracing::debug!(peer = %to, error = %e, "send failed"),
                    }
                }
                _ => input_done = true,
            },
            () = clock.idle(opts.idle) => return Ok(()),
        }
    }
}

/// Maps a failed send; EMSGSIZE means the datagram was too large.
fn send_error(addr: &str, e: io::Error) -> PipeError {
    if e.raw_os_error() == Some(libc::EMSGSIZE) {
        PipeError::Oversize {
            len: MAX_DATAGRAM + 1,
        }
    } else {
        peer_error(addr, e)
    }
}
