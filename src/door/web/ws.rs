//! `GET /ws`: the frame protocol over a WebSocket. Each text message is one
//! frame header (a JSON object); each reply goes back as one text message.
//! A binary message is one whole frame as on the framed door (length
//! prefix, header, body): that carries `file.write` chunks, so the page
//! uploads as the CLI does (the end-to-end sender seals in the browser and
//! streams through here), and a reply with a body goes back the same way.
//! The connection starts logged in as the cookie's account, and requests
//! are answered by the shared [`Session`], as on every door; chat events
//! are rendered here, as JSON text messages.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::render::WEB_EVENTS;
use super::{Lease, WebState, check_origin};
use crate::service::chat::{DoorKind, Event};
use crate::session::{Session, revoked};
use crate::wire::{self, ErrorCode, Frame, Limits, SLOW_CONSUMER, error_frame};

/// Largest text message read: the frame protocol's header limit.
const MAX_MESSAGE: usize = 64 * 1024;

/// Largest body of a binary message (a `file.write` chunk). 1 MiB keeps
/// what one socket can make the server buffer near the framed door's
/// per-connection figure while a browser still sends few, large messages;
/// the page writes 256 KiB.
pub const MAX_WS_BODY: usize = 1 << 20;

/// Largest WebSocket message read: a binary frame with the largest header
/// and body. A text message over [`MAX_MESSAGE`] still ends the socket.
const MAX_BINARY: usize = wire::PREFIX_LEN + MAX_MESSAGE + MAX_WS_BODY;

/// The limits a binary message's frame is decoded under.
const BINARY_LIMITS: Limits = Limits {
    max_header: MAX_MESSAGE,
    max_body: MAX_WS_BODY,
};

/// Pings a socket may leave unanswered (with nothing else heard either)
/// before it counts as gone. Browsers answer pings on their own (RFC 6455),
/// so a live tab, even a background one, never reaches this.
const MISSED_PINGS: u32 = 3;

/// Checks origin and cookie, then upgrades.
pub async fn upgrade(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    lease: Option<Extension<Lease>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(refusal) = check_origin(&headers) {
        return refusal.into_response();
    }
    let (identity, token) = match super::resume(&state, &headers).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let session = Session::logged_in(
        super::client_ip(peer),
        state.services.clone(),
        DoorKind::Web,
        identity,
        token.clone(),
    );
    let token_again = token;
    // Served outside a server (router tests), there is no connection to
    // hold and no stop to watch.
    let lease = lease.map_or_else(|| Lease::new(CancellationToken::new()).0, |l| l.0);
    // Both limits: a message limit alone still lets a peer send one huge
    // frame (the default frame limit is 16 MiB), buffered whole before
    // the message limit is looked at.
    ws.max_message_size(MAX_BINARY)
        .max_frame_size(MAX_BINARY)
        .on_upgrade(move |socket| async move {
            let idle = state.idle.clone();
            serve(socket, session, state, lease).await;
            // An open socket is a tab in use: its session's idle clock
            // restarts when it closes (a reload resumes the session).
            idle.touch(&token_again);
        })
}

/// The close frame a browser gets when the server stops: 1001, "going
/// away", which the page shows and browsers treat as a normal close.
fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::AWAY,
        reason: "server shutting down".into(),
    }))
}

/// The close frame a peer that stopped answering pings gets (if it can
/// still read at all).
fn gone_silent() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::POLICY,
        reason: "no answer to pings; reconnect".into(),
    }))
}

/// The close frame of a socket whose session was revoked (logout, password
/// change, lock or deletion of the account): 1008, policy.
fn revoked_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::POLICY,
        reason: "session revoked; log in again".into(),
    }))
}

/// Answers messages in order until the browser closes, falls silent
/// through [`MISSED_PINGS`] pings, or the server stops, and pushes chat
/// events as they come. Holds `lease` (and so the connection's slot) until
/// it returns.
async fn serve(mut socket: WebSocket, mut session: Session, state: WebState, lease: Lease) {
    // With pings off, the timer is parked far away and never fires.
    let every = if state.ping.is_zero() {
        Duration::from_secs(86_400 * 365)
    } else {
        state.ping
    };
    let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Pings sent since the peer last sent anything (a pong included).
    let mut unanswered = 0u32;
    // The account's revocation watch, out of the session so it can be
    // polled beside the session's own futures; each turn first picks up a
    // newer one (a login or resume over this socket) or drops it (logout).
    let mut revoke = None;
    loop {
        session.put_revoke(revoke.take());
        revoke = session.take_revoke();
        let reply = tokio::select! {
            () = revoked(revoke.as_mut()) => {
                match session.recheck().await {
                    Some(frame) => {
                        // Pushed at once, then the close (1008).
                        let text = Bytes::from(Value::Object(frame.header).to_string());
                        let _ = tokio::time::timeout(every, send_text(&mut socket, text)).await;
                        let _ = tokio::time::timeout(every, socket.send(revoked_close())).await;
                        break;
                    }
                    None => continue,
                }
            }
            _ = heartbeat.tick() => {
                if unanswered >= MISSED_PINGS {
                    tracing::debug!("WebSocket silent through {MISSED_PINGS} pings; closing");
                    // A half-open peer may never read this; don't wait on it.
                    let _ = tokio::time::timeout(every, socket.send(gone_silent())).await;
                    break;
                }
                unanswered += 1;
                match tokio::time::timeout(every, socket.send(Message::Ping(Bytes::new()))).await {
                    Ok(Ok(())) => continue,
                    // Closed, or so stuck that a tiny ping could not leave.
                    _ => break,
                }
            }
            () = lease.shutdown.cancelled() => {
                // A request in flight was answered before this turn; the
                // browser is told to go, then the session is closed below.
                let _ = socket.send(going_away()).await;
                break;
            }
            msg = socket.recv() => {
                // Anything heard, a pong included, shows the peer is there.
                unanswered = 0;
                match msg {
                    // Past the header limit: as a framed peer's oversized
                    // header, the socket ends.
                    Some(Ok(Message::Text(t))) if t.len() > MAX_MESSAGE => break,
                    Some(Ok(msg)) => match answer(&mut session, msg, &state).await {
                        Some(reply) => reply,
                        None => continue,
                    },
                    // Closed, or a protocol error (e.g. an oversized message).
                    _ => break,
                }
            }
            ev = session.next_event(), if session.listens() => {
                let (text, close) = web_event(&mut session, ev);
                if let Some(text) = text {
                    if send_text(&mut socket, text).await.is_err() {
                        break;
                    }
                }
                if close {
                    break;
                }
                continue;
            }
        };
        if send_reply(&mut socket, reply).await.is_err() {
            break;
        }
    }
    session.close().await;
}

/// `ev` as WebSocket text (the frame's header as JSON), rendered once per
/// message for all browsers; `None` for a member's own message. True when
/// the member was cut off: the text is then its last words, and the socket
/// closes after them.
fn web_event(session: &mut Session, ev: Option<Event>) -> (Option<Bytes>, bool) {
    let json = |f: Frame| Bytes::from(Value::Object(f.header).to_string());
    match ev {
        Some(Event::Message(m)) if session.is_own(&m) => (None, false),
        Some(Event::Message(m)) => (Some(m.render(&*WEB_EVENTS)), false),
        Some(Event::Presence(p)) if session.is_own_typing(&p) => (None, false),
        Some(Event::Presence(p)) => (Some(p.render(&*WEB_EVENTS)), false),
        Some(Event::Read(r)) => {
            let ev = crate::wire::ChatEvent::Read {
                room: r.room.to_string(),
                seq: r.seq,
            };
            (Some(ev.header_json()), false)
        }
        Some(Event::Dropped) | None => {
            session.end_chat();
            let msg = "you fell too far behind the room's messages; reload to catch up";
            (Some(json(error_frame(SLOW_CONSUMER, msg, None))), true)
        }
    }
}

/// The reply to one WebSocket message; `None` for control messages.
async fn answer(session: &mut Session, msg: Message, state: &WebState) -> Option<Frame> {
    Some(match msg {
        Message::Text(text) => match parse(text.as_str()) {
            Ok(req) => session.answer(&req, &state.info).await,
            Err(e) => e,
        },
        Message::Binary(bytes) => match parse_binary(&bytes) {
            Ok(req) => session.answer(&req, &state.info).await,
            Err(e) => e,
        },
        // Close is handled by recv() returning None next; pings are
        // answered by the library; pongs need nothing.
        Message::Close(_) | Message::Ping(_) | Message::Pong(_) => return None,
    })
}

/// A reply as one text message (its header), or, when it carries a body,
/// as one binary message holding the whole frame.
async fn send_reply(socket: &mut WebSocket, reply: Frame) -> Result<(), axum::Error> {
    if reply.body.is_empty() {
        let text = Bytes::from(Value::Object(reply.header).to_string());
        return send_text(socket, text).await;
    }
    let id = reply.id();
    let bytes = match wire::encode_to_vec(&reply) {
        Ok(b) => b,
        Err(e) => {
            let f = e.to_frame_with_id(id);
            return send_text(socket, Bytes::from(Value::Object(f.header).to_string())).await;
        }
    };
    socket.send(Message::Binary(Bytes::from(bytes))).await
}

async fn send_text(socket: &mut WebSocket, text: Bytes) -> Result<(), axum::Error> {
    // Our own JSON: always UTF-8.
    match axum::extract::ws::Utf8Bytes::try_from(text) {
        Ok(t) => socket.send(Message::Text(t)).await,
        Err(_) => Ok(()),
    }
}

/// A binary message as the one frame it must hold exactly, or the error
/// frame to answer (the socket stays open: the message was read whole).
fn parse_binary(bytes: &[u8]) -> Result<Frame, Frame> {
    match wire::decode_from_slice(bytes, &BINARY_LIMITS) {
        Ok(Some((frame, used))) if used == bytes.len() => Ok(frame),
        Ok(Some((frame, _))) => Err(error_frame(
            ErrorCode::BadHeader,
            "a binary message holds exactly one frame; bytes follow its body",
            frame.id(),
        )),
        Ok(None) => Err(error_frame(
            ErrorCode::BadHeader,
            "the binary message ends inside its frame; send the whole frame in one message",
            None,
        )),
        Err(e) => Err(e.to_frame()),
    }
}

/// One message as a body-less frame, or the error frame to answer.
fn parse(text: &str) -> Result<Frame, Frame> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(header)) => Ok(Frame::from_parts(header, Bytes::new())),
        Ok(_) => Err(error_frame(
            ErrorCode::BadHeader,
            "the message is JSON but not an object; wrap the fields in {...}",
            None,
        )),
        Err(e) => Err(error_frame(
            ErrorCode::BadHeader,
            &format!("the message is not valid JSON ({e}); send one JSON object"),
            None,
        )),
    }
}
