//! One stream connection (TCP, Unix or TLS) piped both ways: dialing,
//! accepting, and the session that copies input to the stream and the
//! stream to output.

use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use super::{CHUNK, CLOSE_LINGER, PipeError, PipeOpts, emit, peer_error};
use crate::net::{Bound, Conn, Endpoint, Stream};

/// Connects to a TCP, Unix or TLS endpoint within `timeout` (see
/// [`crate::net::dial_with`]).
pub(super) async fn dial(
    ep: &Endpoint,
    timeout: Duration,
    trust: &crate::net::tls::Trust,
) -> Result<Stream, PipeError> {
    let conn = crate::net::dial_with(ep, timeout, trust).await?;
    // We write whole chunks, so Nagle would only delay the last, small
    // piece of an interactive line.
    let _ = conn.set_nodelay();
    Ok(conn)
}

/// Accepts one stream client and names it for messages.
pub(super) async fn accept(bound: &Bound) -> Result<(Conn, String), PipeError> {
    let fail = |e: io::Error| {
        let addr = bound
            .local_endpoint()
            .map_or_else(|_| "listener".to_string(), |ep| ep.to_string());
        peer_error(&addr, e)
    };
    match bound {
        Bound::Tcp(l) => {
            let (s, peer) = l.accept().await.map_err(fail)?;
            let _ = s.set_nodelay(true);
            Ok((Conn::Tcp(s), format!("tcp://{peer}")))
        }
        Bound::Unix(l, _) => {
            let (s, _) = l.accept().await.map_err(fail)?;
            Ok((Conn::Unix(s), "unix client".to_string()))
        }
        Bound::Udp(_) => Err(fail(io::Error::new(
            io::ErrorKind::InvalidInput,
            "UDP has no connections to accept",
        ))),
    }
}

/// Accepts the next client the access list (`--allow/--deny`) permits;
/// denied ones are reset before a byte is read or written.
pub(super) async fn accept_permitted(
    bound: &Bound,
    opts: &PipeOpts,
) -> Result<(Conn, String), PipeError> {
    loop {
        let (conn, peer) = accept(bound).await?;
        let Some(acl) = &opts.acl else {
            return Ok((conn, peer));
        };
        match conn.peer_ip() {
            Some(ip) if !acl.permits(ip) => {
                // Debug, not info: a hostile flood must not flood stderr.
                tracing::debug!(%peer, "refused: denied by --allow/--deny");
                if let Conn::Tcp(s) = &conn {
                    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
                }
            }
            _ => return Ok((conn, peer)),
        }
    }
}

/// Runs [`session`] on an accepted client, first completing the TLS
/// handshake when listening on tls:// ([`PipeOpts::tls`]).
pub(super) async fn serve_client<R, W>(
    conn: Conn,
    peer: &str,
    opts: &PipeOpts,
    input: R,
    output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let conn = match &opts.tls {
        None => Stream::Plain(conn),
        Some(tls) => tls.accept_stream(conn).await.map_err(|e| PipeError::Peer {
            addr: peer.to_string(),
            hint: format!("TLS handshake failed: {e}"),
            io: e,
        })?,
    };
    session(conn, peer, opts, input, output).await
}

/// Pipes `input` to `conn` and `conn` to `output` until the session ends.
///
/// The session ends when the peer has closed its side and we are done
/// sending (or at once on the peer's close with
/// [`PipeOpts::end_on_peer_eof`]); with `--send-only`, when input ends.
pub(super) async fn session<R, W>(
    conn: Stream,
    addr: &str,
    opts: &PipeOpts,
    mut input: R,
    mut output: W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut rx, mut tx) = tokio::io::split(conn);
    let r = pump(&mut rx, &mut tx, addr, opts, &mut input, &mut output).await;
    // Over TLS the peer learns that the session ended here, not that the
    // connection was cut (a no-op after the half-close of a finished input).
    let _ = tokio::time::timeout(CLOSE_LINGER, tx.shutdown()).await;
    r
}

/// The two copy loops of [`session`], until the session ends.
async fn pump<R, W>(
    rx: &mut ReadHalf<Stream>,
    tx: &mut WriteHalf<Stream>,
    addr: &str,
    opts: &PipeOpts,
    input: &mut R,
    output: &mut W,
) -> Result<(), PipeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let clock = Clock::new();
    let mut up = pin!(send_input(tx, addr, opts.no_shutdown, input, &clock));
    let mut down = pin!(recv_output(rx, addr, opts.send_only, output, &clock));
    let mut up_done = opts.recv_only;
    let mut down_done = false;
    loop {
        if (opts.send_only && up_done) || (down_done && (up_done || opts.end_on_peer_eof)) {
            return Ok(());
        }
        tokio::select! {
            r = &mut down, if !down_done => {
                r?;
                tracing::debug!(peer = addr, "peer closed its side");
                down_done = true;
                // The grace below counts from the peer's close.
                clock.touch();
            }
            () = clock.idle(opts.peer_eof_grace), if down_done => return Ok(()),
            r = &mut up, if !up_done => {
                r?;
                up_done = true;
            }
            () = clock.idle(opts.idle) => {
                return Err(PipeError::Idle(opts.idle.unwrap_or_default()));
            }
        }
    }
}

/// Copies input to the stream; at its end, half-closes it so the peer sees
/// EOF and can still answer.
async fn send_input<R: AsyncRead + Unpin>(
    conn: &mut WriteHalf<Stream>,
    addr: &str,
    no_shutdown: bool,
    input: &mut R,
    clock: &Clock,
) -> Result<(), PipeError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = input.read(&mut buf).await.map_err(PipeError::Input)?;
        if n == 0 {
            if !no_shutdown {
                match conn.shutdown().await {
                    // Reset already: the receiving side reports it.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    r => r.map_err(|e| peer_error(addr, e))?,
                }
            }
            return Ok(());
        }
        clock.touch();
        let sent = async {
            conn.write_all(&buf[..n]).await?;
            // Over TLS the records leave now, not with the next chunk.
            conn.flush().await
        };
        match sent.await {
            Ok(()) => clock.touch(),
            // A reset before the peer said anything is a refusal (an
            // access list, a crashed server), not the end of a reply.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !clock.heard() => {
                return Err(peer_error(addr, e));
            }
            // The peer closed and stopped reading: nothing more can be sent,
            // which ends this direction, not the session.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                tracing::debug!(peer = addr, error = %e, "peer no longer reads");
                return Ok(());
            }
            Err(e) => return Err(peer_error(addr, e)),
        }
    }
}

/// Copies what the stream receives to the output until the peer's EOF;
/// `discard` (--send-only) still reads, so the peer never stalls on a full
/// window waiting for us.
async fn recv_output<W: AsyncWrite + Unpin>(
    conn: &mut ReadHalf<Stream>,
    addr: &str,
    discard: bool,
    output: &mut W,
    clock: &Clock,
) -> Result<(), PipeError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) => {
                // Passes the EOF on: an --exec program reads the end of its
                // stdin (stdout just flushes).
                let _ = output.shutdown().await;
                return Ok(());
            }
            Ok(n) => n,
            Err(e) => return Err(peer_error(addr, e)),
        };
        clock.touch();
        clock.heard.store(true, Ordering::Relaxed);
        if !discard {
            emit(output, &buf[..n]).await?;
        }
    }
}

/// Last activity in either direction, shared by the two copy loops of a
/// session without a lock (they may run on different threads when spawned).
pub(super) struct Clock {
    start: Instant,
    /// Milliseconds from `start` to the last activity.
    last_ms: AtomicU64,
    /// Whether the peer has sent us anything yet.
    heard: AtomicBool,
}

impl Clock {
    /// A clock whose last activity is now.
    pub(super) fn new() -> Clock {
        Clock {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            heard: AtomicBool::new(false),
        }
    }

    /// Whether the peer has sent us anything yet.
    pub(super) fn heard(&self) -> bool {
        self.heard.load(Ordering::Relaxed)
    }

    /// Records activity now.
    pub(super) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing happened for `dur`; never, for `None`.
    /// Cancel-safe: it only reads the clock.
    pub(super) async fn idle(&self, dur: Option<Duration>) {
        let Some(dur) = dur else {
            return std::future::pending().await;
        };
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let due = last + dur;
            if due <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}
