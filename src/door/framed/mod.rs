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
//! rendered as frames by the sibling `chat` module. This file is the loop;
//! `batch.rs` its steps (decode and answer, write, budget, EOF), `opts.rs`
//! its settings and limits.

mod batch;
mod chat;
mod opts;
mod render;
#[cfg(test)]
mod tests;

pub use chat::{Pushed, push_event};
pub use opts::{
    DEFAULT_FRAME_TIMEOUT, DEFAULT_GUEST_MAX_BODY, DEFAULT_WRITE_TIMEOUT, FRAME_TIMEOUT,
    FramedOpts, SERVER_BUSY, TOO_MANY_CONNECTIONS, busy_frame,
};
pub use render::{FRAMES, Frames};

use crate::service::chat::DoorKind;
use crate::session::{Session, revoked};

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::time::Sleep;
use tokio_util::codec::Encoder;

use crate::net::{
    AsyncStream, Charge, IdleTimer, Stream, Wake, linger_close, poll_quiet, poll_read_pooled,
    tuning::bufpool, tuning::spin::Spinning, write_all_within,
};
use crate::wire::{FrameCodec, error_frame};
use batch::{Step, answer_all, charge_pending, eof, fires, push_events, send, write_reply};
use opts::{FRAME_MIN_RATE, READ_FIRST, READ_MAX};

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
