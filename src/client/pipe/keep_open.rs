//! `listen -k`: many stream clients at once, ncat style. Each client's data
//! goes to the output; input goes to every connected client.
//!
//! One task owns the output and writes whole chunks, so clients interleave
//! chunk by chunk, never mid-chunk. Every queue is bounded: a slow output
//! stops clients from being read (TCP flow control slows them down), and a
//! client that stops reading holds input back for all, because dropping
//! data would be worse for a pipe.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::PollSender;
use tokio_util::task::AbortOnDropHandle;

use super::{CHUNK, PipeError, PipeOpts, emit, stream};
use crate::net::Bound;

/// Input chunks queued per client: enough to ride out a short stall without
/// holding the others back, at most `QUEUE * CHUNK` bytes per client.
const QUEUE: usize = 8;

/// Chunks queued for the output across all clients.
const OUT_QUEUE: usize = 32;

/// Accepts clients until dropped or until the output fails.
pub(super) async fn serve<R, W>(
    bound: Bound,
    opts: &PipeOpts,
    mut input: R,
    output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(OUT_QUEUE);
    let mut writer = AbortOnDropHandle::new(tokio::spawn(write_output(out_rx, output)));
    // Each -k client is its own session that ends when the client closes:
    // input is shared, so its end says nothing about any one client.
    let client_opts = PipeOpts {
        end_on_peer_eof: true,
        ..opts.clone()
    };
    let mut clients: Vec<mpsc::Sender<Bytes>> = Vec::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; CHUNK];
    let mut input_done = opts.recv_only;
    loop {
        // Input is read only while someone is there to receive it.
        clients.retain(|c| !c.is_closed());
        tokio::select! {
            r = stream::accept_permitted(&bound, opts), if tasks.len() < opts.max_conns.max(1) => match r {
                Ok((conn, peer)) => {
                    tracing::debug!(%peer, "connection");
                    let (tx, rx) = mpsc::channel(QUEUE);
                    // After input ended, dropping `tx` half-closes the
                    // newcomer at once: it gets nothing more from us.
                    if !input_done {
                        clients.push(tx);
                    }
                    let out = PollSender::new(out_tx.clone());
                    let opts = client_opts.clone();
                    tasks.spawn(async move {
                        let res = stream::serve_client(conn, &peer, &opts, Queued::new(rx), ChunkOut(out)).await;
                        (peer, res)
                    });
                }
                Err(e) => accept_failed(e).await,
            },
            r = input.read(&mut buf), if !input_done && !clients.is_empty() => {
                let n = r.map_err(PipeError::Input)?;
                if n == 0 {
                    input_done = true;
                    clients.clear();
                } else {
                    broadcast(&mut clients, Bytes::copy_from_slice(&buf[..n])).await;
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((peer, res)) = done {
                    match res {
                        Ok(()) => tracing::debug!(%peer, "client left"),
                        // The writer reports its own failure below.
                        Err(PipeError::Output(_)) => {}
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
            }
            r = &mut writer => {
                return r.unwrap_or_else(|e| Err(PipeError::Output(io::Error::other(e))));
            }
        }
    }
}

/// Sends a chunk to every client, waiting for room in each queue; clients
/// that left are dropped from the list.
async fn broadcast(clients: &mut Vec<mpsc::Sender<Bytes>>, chunk: Bytes) {
    let mut gone = false;
    for c in clients.iter() {
        gone |= c.send(chunk.clone()).await.is_err();
    }
    if gone {
        clients.retain(|c| !c.is_closed());
    }
}

/// Writes chunks to the output in arrival order until it fails.
async fn write_output<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Bytes>,
    mut output: W,
) -> Result<(), PipeError> {
    while let Some(chunk) = rx.recv().await {
        emit(&mut output, &chunk).await?;
    }
    Ok(())
}

/// A failed accept concerns one client, except when descriptors or memory
/// run out; then pause instead of spinning (see [`crate::net::serve::pause_if_exhausted`]).
pub(super) async fn accept_failed(e: PipeError) {
    let paused = match &e {
        PipeError::Peer { io, .. } => crate::net::serve::pause_if_exhausted(io).await,
        _ => false,
    };
    if !paused {
        tracing::debug!("{e}");
    }
}

/// A client's share of the input: chunks from its queue, read as a stream;
/// EOF once the queue is closed.
struct Queued {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Queued {
    fn new(rx: mpsc::Receiver<Bytes>) -> Queued {
        Queued {
            rx,
            current: Bytes::new(),
        }
    }
}

impl AsyncRead for Queued {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.current.is_empty() {
            match ready!(self.rx.poll_recv(cx)) {
                Some(chunk) => self.current = chunk,
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current[..n]);
        self.current.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// A client's way to the shared output: each write becomes one chunk for
/// the writer task, and waits while the writer's queue is full.
struct ChunkOut(PollSender<Bytes>);

impl AsyncWrite for ChunkOut {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "output closed");
        ready!(self.0.poll_reserve(cx)).map_err(|_| gone())?;
        self.0
            .send_item(Bytes::copy_from_slice(buf))
            .map_err(|_| gone())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The writer task flushes after every chunk.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}
