//! The framed door: the sockit frame protocol (docs/PROTOCOL.md) over a
//! stream socket.
//!
//! One loop per connection: read what is there, decode every complete frame,
//! answer each in order into one write buffer, write it with one call. A
//! pipelining client therefore costs one read and one write per batch, not
//! per frame. Buffers are released whenever the connection falls idle, so
//! idle peers hold no buffer memory.
//!
//! Core requests are answered synchronously; a request that needs a service
//! (login, ...) pauses the batch while [`Session`] awaits the service, so
//! replies still leave in request order.

mod chat;
mod files;
mod session;

pub use chat::{ChatState, Pushed, wire_message, wire_presence};
pub use files::{FilesState, MAX_OPEN_PER_CONN};
pub use session::Session;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use crate::net::{Conn, Gate, IdleTimer};
use crate::service::Services;
use crate::wire::{Frame, FrameCodec, FrameError, ServerInfo, answer_ping, error_frame, respond};

/// Replies buffered past this many bytes are written at once rather than
/// at the end of the batch: a pipelined download's chunks then leave one by
/// one, so the write buffer holds about one chunk, not a whole window.
const FLUSH_AT: usize = 256 * 1024;

/// Reply bodies from this size on are written straight from their own
/// buffer (one more write call, one less copy of the body): a 64 KiB copy
/// costs more than the system call it saves.
const DIRECT_BODY: usize = 64 * 1024;

/// Read reservation of a connection that just woke: a request frame (a
/// ping is ~40 bytes) arrives whole in one read of this size, and the
/// allocation stays within glibc's per-thread cache (up to 1,032 bytes),
/// so a ping-pong peer costs no trip into the allocator's bins.
const READ_FIRST: usize = 1008;

/// Largest read reservation: while reads keep filling the buffer (a burst
/// of pipelined requests, a body), each doubles the next, up to this.
const READ_MAX: usize = 64 * 1024;

/// Settings of the framed door.
#[derive(Debug, Clone)]
pub struct FramedOpts {
    /// What `hello` answers, including the limits the codec enforces.
    pub info: Arc<ServerInfo>,
    /// Close a connection after this long without input.
    pub idle: Duration,
    /// Cancelled at shutdown: idle connections close, busy ones finish.
    pub shutdown: CancellationToken,
    /// The services stateful requests go to.
    pub services: Services,
    /// The gate: its first-frame timeout is read as each connection opens,
    /// so a reload applies to new connections.
    pub gate: Arc<Gate>,
}

/// The error code a peer over the per-IP connection cap gets.
pub const TOO_MANY_CONNECTIONS: &str = "too_many_connections";

/// The error frame a peer over the per-IP connection cap reads before the
/// server closes (see `net::serve::serve_stream_with`).
pub fn busy_frame() -> bytes::Bytes {
    let frame = error_frame(
        TOO_MANY_CONNECTIONS,
        "too many connections from your address; close some and try again",
        None,
    );
    let mut out = BytesMut::new();
    // A fixed, small frame: it always fits the default limits.
    let _ = FrameCodec::new().encode(frame, &mut out);
    out.freeze()
}

/// Serves the frame protocol on one connection until EOF, error, idle
/// timeout or shutdown.
pub async fn framed_stream(conn: Conn, opts: FramedOpts) -> io::Result<()> {
    let mut session = Session::new(conn.peer_ip(), opts.services.clone());
    let result = serve(&conn, &opts, &mut session).await;
    // However the connection ended (EOF, error, timeout, shutdown), an
    // unfinished upload is made durable so the next put resumes it. Boxed,
    // like `handle` below: the file calls' futures are kilobytes, and an
    // idle connection should not carry them.
    Box::pin(session.close()).await;
    result
}

/// The connection's loop; returns when it should close.
async fn serve(conn: &Conn, opts: &FramedOpts, session: &mut Session) -> io::Result<()> {
    let _ = conn.set_nodelay();
    let mut codec = FrameCodec::with_limits(opts.info.limits);
    let mut rbuf = BytesMut::new();
    let mut wbuf = BytesMut::new();
    let mut idle = IdleTimer::new(opts.idle);
    let mut read_size = READ_FIRST;
    // A deadline from connect, not from the last byte: a slowloris peer
    // trickling one byte at a time never completes a frame, so it goes
    // when this fires. Dropped (with its timer) at the first whole frame.
    let mut first_frame = Some(Box::pin(tokio::time::sleep(
        opts.gate.first_frame_timeout(),
    )));
    loop {
        let mut took = false;
        let failed = loop {
            match answer_all(
                &mut codec, &mut rbuf, &mut wbuf, &opts.info, session, &mut took,
            ) {
                Step::NeedMore => break None,
                Step::Failed(e) => break Some(e),
                Step::Stateful(req) => {
                    let reply = Box::pin(session.handle(&req)).await;
                    if reply.body.len() >= DIRECT_BODY
                        && codec.encode_head(&reply, &mut wbuf).is_ok()
                    {
                        // A file chunk leaves from its own buffer, after
                        // what is queued, instead of being copied into it.
                        conn.write_all_within(&wbuf, opts.idle).await?;
                        wbuf.clear();
                        conn.write_all_within(&reply.body, opts.idle).await?;
                        continue;
                    }
                    encode_reply(&mut codec, reply, &req, &mut wbuf);
                    if wbuf.len() >= FLUSH_AT {
                        conn.write_all_within(&wbuf, opts.idle).await?;
                        wbuf.clear();
                    }
                }
            }
        };
        if took {
            first_frame = None;
        }
        if !wbuf.is_empty() {
            conn.write_all_within(&wbuf, opts.idle).await?;
            wbuf.clear();
        }
        if let Some(e) = failed {
            tracing::debug!(code = e.code(), error = %e, "closing after a protocol error");
            return conn.linger_close(super::REFUSE_LINGER).await;
        }
        if rbuf.is_empty() {
            // Nothing half-read: give the memory back while we wait.
            rbuf = BytesMut::new();
            wbuf = BytesMut::new();
        }
        // After a stop signal, requests keep being answered; the connection
        // closes once it falls quiet (or the grace period ends). Chat
        // members also wake for events pushed to them.
        let event = tokio::select! {
            more = super::next_input(conn, &mut idle, &opts.shutdown) => {
                if !more? {
                    return Ok(());
                }
                None
            }
            () = until(&mut first_frame) => {
                tracing::debug!("no whole frame within the first-frame timeout; closing");
                return Ok(());
            }
            ev = session.next_event(), if session.listens() => Some(ev),
        };
        if let Some(ev) = event {
            if push_events(session, ev, &mut wbuf) == Pushed::Close {
                conn.write_all_within(&wbuf, opts.idle).await?;
                return conn.linger_close(super::REFUSE_LINGER).await;
            }
            continue;
        }
        rbuf.reserve(read_size);
        match conn.read_buf_drained(&mut rbuf) {
            Ok((0, _)) => return eof(&mut codec, &mut rbuf, conn).await,
            Ok((_, true)) => read_size = READ_FIRST,
            Ok((_, false)) => read_size = (read_size * 2).min(READ_MAX),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits for `deadline`, or forever when there is none.
async fn until(deadline: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match deadline {
        Some(s) => s.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Most events written in one batch: a busy room's backlog goes out in a
/// few large writes, while requests from the same peer still get a turn.
const EVENT_BATCH: usize = 256;

/// Encodes `first` and whatever else is already queued (up to a batch).
fn push_events(
    session: &mut Session,
    first: Option<crate::service::chat::Event>,
    wbuf: &mut BytesMut,
) -> Pushed {
    if session.push_event(first, wbuf) == Pushed::Close {
        return Pushed::Close;
    }
    for _ in 1..EVENT_BATCH {
        let Some(ev) = session.try_next_event() else {
            break;
        };
        if session.push_event(Some(ev), wbuf) == Pushed::Close {
            return Pushed::Close;
        }
    }
    Pushed::Continue
}

/// Where [`answer_all`] stopped.
enum Step {
    /// Every complete frame is answered; read more.
    NeedMore,
    /// The stream is unusable; the error is already answered in `wbuf`.
    Failed(FrameError),
    /// This request needs the session (and maybe a service): answer it,
    /// then call `answer_all` again for the rest of the batch.
    Stateful(Frame),
}

/// Decodes and answers every complete core request in `rbuf`, stopping at
/// the first request the session must answer. Sets `took` when a whole
/// frame was decoded.
fn answer_all(
    codec: &mut FrameCodec,
    rbuf: &mut BytesMut,
    wbuf: &mut BytesMut,
    info: &ServerInfo,
    session: &Session,
    took: &mut bool,
) -> Step {
    loop {
        // Between frames, try the zero-allocation ping path first.
        if codec.is_idle() {
            if let Some(used) = answer_ping(rbuf, &info.limits, wbuf) {
                rbuf.advance(used);
                *took = true;
                continue;
            }
        }
        let decoded = codec.decode(rbuf);
        *took |= matches!(decoded, Ok(Some(_)));
        match decoded {
            Ok(Some(req)) if session.serves(req.kind()) => return Step::Stateful(req),
            Ok(Some(req)) => encode_reply(codec, respond(&req, info), &req, wbuf),
            Ok(None) => return Step::NeedMore,
            Err(e) => {
                let _ = codec.encode(e.to_frame(), wbuf);
                return Step::Failed(e);
            }
        }
    }
}

/// Encodes `reply` to `req`. When our own reply breaks a limit (an echo
/// whose fields grow when re-serialised), answers with an error that still
/// carries the request's id, so a pipelining client can match it.
fn encode_reply(codec: &mut FrameCodec, reply: Frame, req: &Frame, wbuf: &mut BytesMut) {
    if let Err(e) = codec.encode(reply, wbuf) {
        let _ = codec.encode(error_frame(e.code(), &e.to_string(), req.id()), wbuf);
    }
}

/// EOF from the peer: clean between frames, an error inside one.
async fn eof(codec: &mut FrameCodec, rbuf: &mut BytesMut, conn: &Conn) -> io::Result<()> {
    match codec.decode_eof(rbuf) {
        Ok(_) => conn.shutdown_write(),
        Err(e) => {
            tracing::debug!(code = e.code(), "peer closed inside a frame");
            let mut wbuf = BytesMut::new();
            let _ = codec.encode(e.to_frame(), &mut wbuf);
            // The peer may have closed both ways; a failed write is expected.
            let _ = conn.write_all_within(&wbuf, super::REFUSE_LINGER).await;
            conn.shutdown_write()
        }
    }
}
