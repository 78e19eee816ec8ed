//! `GET /ws`: the frame protocol over a WebSocket. Each text message is one
//! frame header (a JSON object); each reply goes back as one text message.
//! The connection starts logged in as the cookie's account, and requests
//! are answered by the same [`Session`] as on the framed door.

use std::net::SocketAddr;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::{WebState, check_origin, session_token};
use crate::door::framed::Session;
use crate::wire::{Frame, error_frame};

/// Largest WebSocket message read: the frame protocol's header limit.
const MAX_MESSAGE: usize = 64 * 1024;

/// Checks origin and cookie, then upgrades.
pub async fn upgrade(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(refusal) = check_origin(&headers) {
        return refusal.into_response();
    }
    let (Some(accounts), Some(token)) = (&state.services.accounts, session_token(&headers)) else {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    };
    let identity = match accounts.resume(token).await {
        Ok(i) => i,
        Err(e) => return (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let session = Session::logged_in(
        Some(peer.ip()),
        state.services.clone(),
        identity,
        token.to_owned(),
    );
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve(socket, session, state))
}

/// Answers messages in order until the browser closes.
async fn serve(mut socket: WebSocket, mut session: Session, state: WebState) {
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(text) => match parse(text.as_str()) {
                Ok(req) => session.answer(&req, &state.info).await,
                Err(e) => e,
            },
            Message::Binary(_) => error_frame(
                "bad_header",
                "send each frame header as a JSON text message",
                None,
            ),
            Message::Close(_) => break,
            // Pings are answered by the library; pongs need nothing.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let text = Value::Object(reply.header).to_string();
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    session.close().await;
}

/// One message as a body-less frame, or the error frame to answer.
fn parse(text: &str) -> Result<Frame, Frame> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(header)) => Ok(Frame::from_parts(header, Bytes::new())),
        Ok(_) => Err(error_frame(
            "bad_header",
            "the message is JSON but not an object; wrap the fields in {...}",
            None,
        )),
        Err(e) => Err(error_frame(
            "bad_header",
            &format!("the message is not valid JSON ({e}); send one JSON object"),
            None,
        )),
    }
}
