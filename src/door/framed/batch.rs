//! The steps of the framed door's loop: decode and answer a batch of
//! requests (`answer_all`), write replies and events, charge large bodies
//! to the memory budget, and tell a clean EOF from a cut frame.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;

use bytes::{Buf, BytesMut};
use tokio::time::Sleep;
use tokio_util::codec::{Decoder, Encoder};

use super::chat::{Pushed, push_event};
use super::opts::{CHARGE_FROM, DIRECT_BODY, FLUSH_AT, FramedOpts};
use crate::net::{AsyncStream, Charge, write_all_within, write_buf_within};
use crate::session::Session;
use crate::wire::{Frame, FrameCodec, FrameError, ServerInfo, answer_ping, error_frame, respond};

/// Resolves when `deadline` (if any) passes; never without one.
pub(super) async fn fires(deadline: Option<&mut Pin<Box<Sleep>>>) {
    match deadline {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Charges the body of the frame being received to the memory budget, if
/// it is large and not charged yet; the refusal's message when the budget
/// (or this address's share) is spent.
pub(super) fn charge_pending(
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
pub(super) async fn send<S: AsyncStream>(
    s: &mut S,
    buf: &[u8],
    opts: &FramedOpts,
) -> io::Result<()> {
    write_all_within(s, buf, opts.write_timeout).await
}

/// Queues `reply` to `req`, or writes a large body straight from its own
/// buffer (in one vectored write after what is queued and its head)
/// instead of copying it.
pub(super) async fn write_reply<S: AsyncStream>(
    s: &mut S,
    opts: &FramedOpts,
    codec: &mut FrameCodec,
    reply: Frame,
    req: &Frame,
    wbuf: &mut BytesMut,
) -> io::Result<()> {
    if reply.body.len() >= DIRECT_BODY && codec.encode_head(&reply, wbuf).is_ok() {
        let out = (&wbuf[..]).chain(&reply.body[..]);
        write_buf_within(s, out, opts.write_timeout).await?;
        wbuf.clear();
        return Ok(());
    }
    encode_reply(codec, reply, req, wbuf);
    if wbuf.len() >= FLUSH_AT {
        send(s, wbuf, opts).await?;
        wbuf.clear();
    }
    Ok(())
}

/// Most events written in one batch: a busy room's backlog goes out in a
/// few large writes, while requests from the same peer still get a turn.
pub(super) const EVENT_BATCH: usize = 256;

/// Encodes `first` and whatever else is already queued (up to a batch).
pub(super) fn push_events(
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
pub(super) enum Step {
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
pub(super) fn answer_all(
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
pub(super) fn refusal(e: &FrameError, info: &ServerInfo, session: &Session) -> Frame {
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
pub(super) fn encode_reply(codec: &mut FrameCodec, reply: Frame, req: &Frame, wbuf: &mut BytesMut) {
    if let Err(e) = codec.encode(reply, wbuf) {
        let _ = codec.encode(error_frame(e.code(), &e.to_string(), req.id()), wbuf);
    }
}

/// EOF from the peer: clean between frames, an error inside one.
pub(super) async fn eof<S: AsyncStream>(
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
            let _ = write_all_within(s, &wbuf, super::super::REFUSE_LINGER).await;
            Ok(())
        }
    }
}
