//! The framed door: the sockit frame protocol (docs/PROTOCOL.md) over a
//! stream socket.
//!
//! One loop per connection, on any byte stream (`net::Stream`, or a
//! `tokio::io::duplex` in tests): read what is there, decode every complete
//! frame, answer each in order into one write buffer, write it with one
//! call. A pipelining client therefore costs one read and one write per
//! batch, not per frame. Buffers are released whenever the connection
//! falls idle, so idle peers hold no buffer memory.
//!
//! Core requests are answered synchronously; a request that needs a service
//! (login, ...) pauses the batch while the shared [`Session`] awaits the
//! service, so replies still leave in request order. Chat events are
//! rendered as frames by the sibling `chat` module.

mod chat;
mod render;
#[cfg(test)]
mod tests;

pub use chat::{Pushed, push_event};
pub use render::{FRAMES, Frames};

use crate::service::chat::DoorKind;
use crate::session::{Session, revoked};

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::time::Sleep;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use crate::net::{
    AsyncStream, Charge, Gate, IdleTimer, MemBudget, Stream, Wake, linger_close, poll_quiet,
    poll_read_pooled, tuning::bufpool, tuning::spin::Spinning, write_all_within,
};
use crate::service::Services;
use crate::wire::{
    ErrorCode, Frame, FrameCodec, FrameError, ServerInfo, answer_ping, error_frame, respond,
};

/// Replies buffered past this many bytes are written at once rather than
/// at the end of the batch: a pipelined download's chunks then leave one by
/// one, so the write buffer holds about one chunk, not a whole window.
const FLUSH_AT: usize = 256 * 1024;

/// Reply bodies from this size on are written straight from their own
/// buffer (one more write call, one less copy of the body): a 64 KiB copy
/// costs more than the system call it saves.
const DIRECT_BODY: usize = 64 * 1024;

/// Read reservation of a connection that just woke: a request frame (a
/// ping is ~40 bytes) arrives whole in one read of this size. The buffer
/// usually comes from the thread's spares (`net::tuning::bufpool`); a new one this
/// small stays within glibc's per-thread cache (up to 1,032 bytes).
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
    /// Bytes of large bodies and their replies held at once, in total and
    /// per address (see `net::budget`).
    pub memory: Arc<MemBudget>,
    /// Once a frame's first byte has arrived, the rest must arrive within
    /// this long.
    pub frame_timeout: Duration,
    /// Largest body accepted before a login (the codec's `max_body`
    /// applies after it).
    pub guest_max_body: usize,
    /// A reply must be written whole within this long, or the peer (which
    /// is not reading) is cut off.
    pub write_timeout: Duration,
}

/// Default of `serve --frame-timeout`: a request frame arrives in
/// milliseconds even on a slow link (large bodies get a second per
/// 16 KiB on top), while a peer that stops one byte short of a
/// frame holds its buffer for seconds, not for the five-minute idle
/// timeout.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes per second a large frame body must average, on top of the frame
/// timeout: 16 KiB/s (128 kbit/s) is a poor uplink; a 4 MiB file chunk
/// (the client's default) then gets 30 s + 256 s, while a guest's largest
/// body (64 KiB) gets 4 s more.
const FRAME_MIN_RATE: u64 = 16 * 1024;

/// Default of `serve --write-timeout`: a peer that has not taken a whole
/// reply (at most one 8 MiB body) in this long is not reading; it is cut
/// and what we buffered for it is freed.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of `serve --max-body-guest`: a request before login (hello,
/// ping, login, an echo) needs a few hundred bytes; only file writes need
/// megabytes, and they need a login.
pub const DEFAULT_GUEST_MAX_BODY: usize = 64 * 1024;

/// Bodies from this size on are charged to the memory budget when their
/// header arrives; smaller ones (every request but file chunks and big
/// echoes) cost at most a read buffer, bounded per connection.
const CHARGE_FROM: usize = 16 * 1024;

/// The error code of a frame refused because the memory budget is spent.
pub const SERVER_BUSY: ErrorCode = ErrorCode::ServerBusy;

/// The error code of a frame that did not arrive whole within the frame
/// timeout.
pub const FRAME_TIMEOUT: ErrorCode = ErrorCode::FrameTimeout;

/// The error code a peer over the per-IP connection cap gets.
pub const TOO_MANY_CONNECTIONS: ErrorCode = ErrorCode::TooManyConnections;

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
pub async fn framed_stream(conn: Stream, opts: FramedOpts) -> io::Result<()> {
    let _ = conn.set_nodelay();
    let peer = conn.peer_ip();
    // Busy polling (`net::tuning::spin`) pays for request/reply peers.
    framed_on(Spinning(conn), peer, opts).await
}

/// [`framed_stream`] on any byte stream; `peer` is the address logins are
/// throttled and memory is budgeted by.
pub async fn framed_on<S: AsyncStream>(
    mut s: S,
    peer: Option<IpAddr>,
    opts: FramedOpts,
) -> io::Result<()> {
    let mut session = Session::new(peer, opts.services.clone(), DoorKind::Frame);
    let result = serve(&mut s, peer, &opts, &mut session).await;
    // However the connection ended (EOF, error, timeout, shutdown), an
    // unfinished upload is made durable so the next put resumes it. Boxed,
    // like `handle` below: the file calls' futures are kilobytes, and an
    // idle connection should not carry them.
    Box::pin(session.close()).await;
    // Only now the peer sees our EOF: a client that half-closes and waits
    // for it can resume its uploads at once (they are no longer busy).
    result?;
    // Bounded: over TLS the close_notify is a write, and the peer may not read.
    match tokio::time::timeout(super::REFUSE_LINGER, s.shutdown()).await {
        Ok(r) => r,
        Err(_) => Ok(()),
    }
}

/// The connection's loop; returns when it should close.
async fn serve<S: AsyncStream>(
    s: &mut S,
    peer: Option<IpAddr>,
    opts: &FramedOpts,
    session: &mut Session,
) -> io::Result<()> {
    let mut codec = FrameCodec::with_limits(opts.info.limits);
    let mut rbuf = BytesMut::new();
    let mut wbuf = BytesMut::new();
    let mut idle = IdleTimer::new(opts.idle);
    let mut read_size = READ_FIRST;
    // Registered with the shutdown token once, for the connection's life.
    let mut shutdown = std::pin::pin!(opts.shutdown.cancelled());
    let mut stopping = false;
    // A deadline from connect, not from the last byte: a slowloris peer
    // trickling one byte at a time never completes a frame, so it goes
    // when this fires. Dropped (with its timer) at the first whole frame.
    let mut first_frame = Some(Box::pin(tokio::time::sleep(
        opts.gate.first_frame_timeout(),
    )));
    // The same for every later frame, from its first byte: armed only
    // while a frame is partly received, so a pipelining peer whose
    // batches end between frames never pays for the timer.
    let mut frame_due: Option<Pin<Box<Sleep>>> = None;
    // Whether the frame's deadline has its body's rate allowance yet.
    let mut sized = false;
    // The large body being received, charged to the memory budget from
    // its header until its reply is written.
    let mut charge: Option<Charge> = None;
    loop {
        let mut took = false;
        let failed = loop {
            // Large bodies need a login (re-read per frame: a login or
            // logout in this batch applies to the next frame).
            codec.set_max_body((!session.is_authed()).then_some(opts.guest_max_body));
            match answer_all(
                &mut codec, &mut rbuf, &mut wbuf, &opts.info, session, &mut took,
            ) {
                Step::NeedMore => break None,
                Step::Failed(e) => break Some(e),
                // Boxed, as the answer is: these two frames and their
                // writes must not be room in an idle connection's future.
                Step::Stateful(req) => {
                    let reply = Box::pin(session.answer(&req, &opts.info)).await;
                    Box::pin(write_reply(s, opts, &mut codec, reply, &req, &mut wbuf)).await?;
                }
                Step::Large(reply, req) => {
                    Box::pin(write_reply(s, opts, &mut codec, reply, &req, &mut wbuf)).await?;
                }
            }
        };
        if took {
            first_frame = None;
        }
        if !wbuf.is_empty() {
            send(s, &wbuf, opts).await?;
            wbuf.clear();
        }
        if let Some(e) = failed {
            tracing::debug!(code = e.code().as_str(), error = %e, "closing after a protocol error");
            return linger_close(s, super::REFUSE_LINGER).await;
        }
        if took {
            // Every whole frame is answered and its reply written: a body
            // charged until now is no longer held.
            charge = None;
        }
        if let Err(refusal) = charge_pending(&codec, peer, opts, &mut charge) {
            tracing::debug!(%refusal, "memory budget spent; refusing a large frame");
            crate::ops::metrics::refusal("framed", "memory_budget");
            let _ = codec.encode(error_frame(SERVER_BUSY, &refusal, None), &mut wbuf);
            let _ = send(s, &wbuf, opts).await;
            return linger_close(s, super::REFUSE_LINGER).await;
        }
        if rbuf.is_empty() && codec.is_idle() {
            frame_due = None;
        } else {
            if took || frame_due.is_none() {
                // A new frame has begun: its whole must follow in time.
                let due = tokio::time::Instant::now() + opts.frame_timeout;
                match frame_due.as_mut() {
                    Some(d) => d.as_mut().reset(due),
                    None => frame_due = Some(Box::pin(tokio::time::sleep_until(due))),
                }
                sized = false;
            }
            if let (false, Some(size), Some(d)) = (sized, codec.pending_body(), frame_due.as_mut())
            {
                // Once its size is known, a large body gets time to match.
                let more = Duration::from_secs_f64(size as f64 / FRAME_MIN_RATE as f64);
                let due = d.deadline() + more;
                d.as_mut().reset(due);
                sized = true;
            }
        }
        if rbuf.is_empty() {
            // Nothing half-read: the buffers go back to the thread while
            // we wait, so an idle peer holds none.
            bufpool::give(&mut rbuf);
            bufpool::give(&mut wbuf);
        }
        // After a stop signal, requests keep being answered; the connection
        // closes once it falls quiet (or the grace period ends). Chat
        // members also wake for events pushed to them. The revocation
        // signal is out of the session while we wait, so it can be polled
        // beside the session's event queue; given back right after.
        let mut revoke = session.take_revoke();
        let woke = {
            let revocation = revoked(revoke.as_mut());
            let listens = session.listens();
            let want = read_size;
            let rbuf = &mut rbuf;
            tokio::select! {
                r = std::future::poll_fn(|cx| poll_read_pooled(s, cx, rbuf, want)) => Woke::Input(r),
                ev = session.next_event(), if listens => Woke::Event(ev),
                () = revocation => Woke::Revoked,
                () = fires(first_frame.as_mut()) => Woke::FirstFrameTimeout,
                () = fires(frame_due.as_mut()) => Woke::FrameTimeout,
                why = std::future::poll_fn(|cx| poll_quiet(cx, &mut idle, shutdown.as_mut(), &mut stopping)) => Woke::Quiet(why),
            }
        };
        session.put_revoke(revoke);
        match woke {
            Woke::Input(r) => {
                let n = r?;
                if n == 0 {
                    return Box::pin(eof(&mut codec, &mut rbuf, s)).await;
                }
                idle.touch();
                // A read that filled the buffer may have left more behind:
                // the next one asks for twice as much.
                read_size = if rbuf.len() == rbuf.capacity() {
                    (read_size * 2).min(READ_MAX)
                } else {
                    READ_FIRST
                };
                if wbuf.capacity() == 0 {
                    wbuf = bufpool::take(0);
                }
            }
            Woke::Event(ev) => {
                if push_events(session, ev, &mut wbuf) == Pushed::Close {
                    send(s, &wbuf, opts).await?;
                    return linger_close(s, super::REFUSE_LINGER).await;
                }
            }
            Woke::Revoked => {
                // Pushed, not left for the next request: the peer learns
                // at once, and nothing more is sent under the account.
                if let Some(frame) = Box::pin(session.recheck()).await {
                    let _ = codec.encode(frame, &mut wbuf);
                    write_all_within(s, &wbuf, opts.idle).await?;
                    return linger_close(s, super::REFUSE_LINGER).await;
                }
            }
            Woke::FirstFrameTimeout => {
                tracing::debug!("no whole frame within the first-frame timeout; closing");
                return Ok(());
            }
            Woke::FrameTimeout => {
                tracing::debug!("a frame did not arrive whole within the frame timeout; closing");
                let msg = format!(
                    "a frame must arrive whole within {} s of its first byte; send whole frames, or smaller ones on a slow link",
                    opts.frame_timeout.as_secs_f64()
                );
                let _ = codec.encode(error_frame(FRAME_TIMEOUT, &msg, None), &mut wbuf);
                let _ = send(s, &wbuf, opts).await;
                return linger_close(s, super::REFUSE_LINGER).await;
            }
            Woke::Quiet(why) => return super::end_quiet(s, why).await,
        }
    }
}

/// Resolves when `deadline` (if any) passes; never without one.
async fn fires(deadline: Option<&mut Pin<Box<Sleep>>>) {
    match deadline {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Charges the body of the frame being received to the memory budget, if
/// it is large and not charged yet; the refusal's message when the budget
/// (or this address's share) is spent.
fn charge_pending(
    codec: &FrameCodec,
    peer: Option<IpAddr>,
    opts: &FramedOpts,
    charge: &mut Option<Charge>,
) -> Result<(), String> {
    match codec.pending_body() {
        Some(size) if size >= CHARGE_FROM && charge.is_none() => {
            let c = opts
                .memory
                .try_charge(peer, size)
                .map_err(|e| e.to_string())?;
            *charge = Some(c);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Writes `buf` whole within the write timeout: a peer that does not read
/// its replies is cut off rather than holding them.
async fn send<S: AsyncStream>(s: &mut S, buf: &[u8], opts: &FramedOpts) -> io::Result<()> {
    write_all_within(s, buf, opts.write_timeout).await
}

/// Queues `reply` to `req`, or writes a large body straight from its own
/// buffer (after what is queued) instead of copying it.
async fn write_reply<S: AsyncStream>(
    s: &mut S,
    opts: &FramedOpts,
    codec: &mut FrameCodec,
    reply: Frame,
    req: &Frame,
    wbuf: &mut BytesMut,
) -> io::Result<()> {
    if reply.body.len() >= DIRECT_BODY && codec.encode_head(&reply, wbuf).is_ok() {
        send(s, wbuf, opts).await?;
        wbuf.clear();
        return send(s, &reply.body, opts).await;
    }
    encode_reply(codec, reply, req, wbuf);
    if wbuf.len() >= FLUSH_AT {
        send(s, wbuf, opts).await?;
        wbuf.clear();
    }
    Ok(())
}

/// What a connection waiting between batches woke for.
enum Woke {
    /// Bytes were read into the buffer (0: EOF), or the read failed.
    Input(io::Result<usize>),
    /// A chat event for this member (`None`: its queue was closed).
    Event(Option<crate::service::chat::Event>),
    /// No whole frame arrived within the first-frame timeout.
    FirstFrameTimeout,
    /// The account's revocation signal fired: re-check the session.
    Revoked,
    /// A frame begun did not arrive whole within the frame timeout.
    FrameTimeout,
    /// Idle for the timeout, or quiet after a stop signal.
    Quiet(Wake),
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
    if push_event(session, first, wbuf) == Pushed::Close {
        return Pushed::Close;
    }
    for _ in 1..EVENT_BATCH {
        let Some(ev) = session.try_next_event() else {
            break;
        };
        if push_event(session, Some(ev), wbuf) == Pushed::Close {
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
    /// A core reply with a large body (an echo), to write from its own
    /// buffer rather than copy, then call `answer_all` again.
    Large(Frame, Frame),
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
            if rbuf.is_empty() {
                // Every frame read is answered: nothing for the codec.
                return Step::NeedMore;
            }
            if let Some(used) = answer_ping(rbuf, &info.limits, wbuf) {
                rbuf.advance(used);
                *took = true;
                continue;
            }
        }
        let decoded = codec.decode(rbuf);
        *took |= matches!(decoded, Ok(Some(_)));
        match decoded {
            Ok(Some(req)) if session.serves(&req) => return Step::Stateful(req),
            Ok(Some(req)) => {
                let reply = respond(&req, info);
                if reply.body.len() >= DIRECT_BODY {
                    return Step::Large(reply, req);
                }
                encode_reply(codec, reply, &req, wbuf)
            }
            Ok(None) => return Step::NeedMore,
            Err(e) => {
                let _ = codec.encode(refusal(&e, info, session), wbuf);
                return Step::Failed(e);
            }
        }
    }
}

/// The error frame for a stream that failed to decode: a guest's large
/// body is told to log in first.
fn refusal(e: &FrameError, info: &ServerInfo, session: &Session) -> Frame {
    match e {
        FrameError::BodyTooLarge { size, max, id }
            if !session.is_authed() && *max < info.limits.max_body =>
        {
            let msg = format!(
                "body of {size} bytes exceeds the limit of {max} bytes before login; log in first (up to {} bytes after)",
                info.limits.max_body
            );
            error_frame(e.code(), &msg, *id)
        }
        _ => e.to_frame(),
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
async fn eof<S: AsyncStream>(
    codec: &mut FrameCodec,
    rbuf: &mut BytesMut,
    s: &mut S,
) -> io::Result<()> {
    // The write side is shut by `framed_stream`, after the session closed.
    match codec.decode_eof(rbuf) {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::debug!(code = e.code().as_str(), "peer closed inside a frame");
            let mut wbuf = BytesMut::new();
            let _ = codec.encode(e.to_frame(), &mut wbuf);
            // The peer may have closed both ways; a failed write is expected.
            let _ = write_all_within(s, &wbuf, super::REFUSE_LINGER).await;
            Ok(())
        }
    }
}
