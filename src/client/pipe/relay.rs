//! `sockit relay LISTEN TARGET`: socat's everyday use. Each client that
//! connects to LISTEN gets its own connection to TARGET, and bytes pass
//! both ways, half-close included, until both sides are done.
//!
//! Stream addresses (tcp, unix, tls) relay to stream addresses; UDP relays
//! to UDP with a per-peer mapping (see `relay_udp`). Each connection ends
//! with a [`ConnReport`] of its byte counts.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::stream::{Clock, accept_permitted};
use super::{CHUNK, PipeError, PipeOpts, peer_error, relay_udp};
use crate::net::{Bound, Conn, Endpoint, Stream, Transport};

/// Reports queued for the printer: a slow terminal holds back the next
/// connection's end, never memory.
pub const REPORT_QUEUE: usize = 64;

/// One relayed connection (or UDP peer), as printed when it ends.
#[derive(Debug, Clone, Serialize)]
pub struct ConnReport {
    /// 1, 2, 3... in order of arrival.
    pub id: u64,
    /// The client, as accepted on the listening side.
    pub client: String,
    /// Bytes from the client to the target.
    pub bytes_up: u64,
    /// Bytes from the target to the client.
    pub bytes_down: u64,
    /// Datagrams each way (UDP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagrams: Option<(u64, u64)>,
    /// How long the connection lasted, in seconds.
    pub secs: f64,
    /// Why it ended badly, if it did.
    pub error: Option<String>,
}

/// Serves `bound`, relaying each client to `target`, until dropped.
/// `opts` supplies `-m` (clients at once), `-w` (connect timeout), `-i`
/// (idle timeout), the ACL, listening TLS and the target's TLS trust.
pub async fn serve(
    bound: Bound,
    target: Endpoint,
    opts: PipeOpts,
    reports: mpsc::Sender<ConnReport>,
) -> Result<(), PipeError> {
    let udp_in = matches!(bound, Bound::Udp(_));
    if udp_in != (target.transport() == Transport::Udp) {
        return Err(PipeError::RelayMix);
    }
    if let Bound::Udp(socket) = bound {
        return relay_udp::serve(socket, target, opts, reports).await;
    }
    let opts = Arc::new(opts);
    let target = Arc::new(target);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            r = accept_permitted(&bound, &opts), if tasks.len() < opts.max_conns.max(1) => match r {
                Ok((conn, client)) => {
                    next_id += 1;
                    let (opts, target, reports) = (opts.clone(), target.clone(), reports.clone());
                    let id = next_id;
                    tasks.spawn(async move {
                        let report = one(id, conn, client, &target, &opts).await;
                        let _ = reports.send(report).await;
                    });
                }
                Err(e) => super::keep_open::accept_failed(e).await,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

/// Relays one accepted client; never fails, the report says how it went.
async fn one(
    id: u64,
    conn: Conn,
    client: String,
    target: &Endpoint,
    opts: &PipeOpts,
) -> ConnReport {
    let started = Instant::now();
    let counts = Counts::default();
    let accepted = match &opts.tls {
        None => Ok(Stream::Plain(conn)),
        Some(tls) => tls
            .accept_stream(conn)
            .await
            .map_err(|e| peer_error(&format!("{client} (TLS handshake)"), e)),
    };
    let result = match accepted {
        Ok(conn) => both_ways(conn, &client, target, opts, &counts).await,
        Err(e) => Err(e),
    };
    ConnReport {
        id,
        client,
        bytes_up: counts.up.load(Ordering::Relaxed),
        bytes_down: counts.down.load(Ordering::Relaxed),
        datagrams: None,
        secs: started.elapsed().as_secs_f64(),
        error: result.err().map(|e| e.to_string()),
    }
}

/// Bytes relayed each way so far, current even when a direction fails.
#[derive(Debug, Default)]
struct Counts {
    up: AtomicU64,
    down: AtomicU64,
}

/// Dials the target and copies both ways, each direction half-closing its
/// destination at its source's end, until both are done; an error in
/// either direction ends both.
async fn both_ways(
    client: Stream,
    name: &str,
    target: &Endpoint,
    opts: &PipeOpts,
    counts: &Counts,
) -> Result<(), PipeError> {
    let timeout = opts.wait.unwrap_or(super::DEFAULT_CONNECT_TIMEOUT);
    let upstream = super::stream::dial(target, timeout, &opts.trust).await?;
    let clock = Clock::new();
    let tname = target.to_string();
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let (mut up_rx, mut up_tx) = tokio::io::split(upstream);
    let mut up = std::pin::pin!(copy(
        &mut client_rx,
        name,
        &mut up_tx,
        &tname,
        &clock,
        &counts.up
    ));
    let mut down = std::pin::pin!(copy(
        &mut up_rx,
        &tname,
        &mut client_tx,
        name,
        &clock,
        &counts.down
    ));
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            r = &mut up, if !up_done => { r?; up_done = true; }
            r = &mut down, if !down_done => { r?; down_done = true; }
            () = clock.idle(opts.idle) => return Err(PipeError::Idle(opts.idle.unwrap_or_default())),
        }
    }
    Ok(())
}

/// Copies `from` to `to` until `from`'s EOF, then half-closes `to`,
/// adding each chunk to `count`.
async fn copy(
    from: &mut ReadHalf<Stream>,
    from_name: &str,
    to: &mut WriteHalf<Stream>,
    to_name: &str,
    clock: &Clock,
    count: &AtomicU64,
) -> Result<(), PipeError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(peer_error(from_name, e)),
        };
        clock.touch();
        let sent = async {
            to.write_all(&buf[..n]).await?;
            // Over TLS the records leave now, not with the next chunk.
            to.flush().await
        };
        sent.await.map_err(|e| peer_error(to_name, e))?;
        count.fetch_add(n as u64, Ordering::Relaxed);
        clock.touch();
    }
    match to.shutdown().await {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(peer_error(to_name, e)),
        _ => Ok(()),
    }
}
