//! The web door inside the server's limits, over real sockets: late or idle
//! HTTP peers are closed, an open WebSocket keeps its connection's place
//! until it closes or stops answering pings, and a stopping server says
//! goodbye to its WebSockets.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::web::{IO_LIMIT, login_cookie, web_server_with};
use common::{Server, strip_scheme};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A web server started with `extra` flags, its host:port, and alice's
/// session cookie.
async fn logged_in(extra: &[&str]) -> (Server, String, String) {
    let srv = web_server_with(extra);
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let cookie = login_cookie(&host).await;
    (srv, host, cookie)
}

/// The next message on `ws`; fails the test on a hang, an error or a close.
async fn next_msg(ws: &mut Ws) -> Message {
    tokio::time::timeout(IO_LIMIT, ws.next())
        .await
        .expect("nothing arrived on the WebSocket")
        .unwrap()
        .unwrap()
}

/// Everything the server sends on `s` until it closes (or resets: a
/// refused peer's unread request makes the close a reset); fails the test
/// if the server keeps the connection open past `IO_LIMIT`.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut out))
        .await
        .expect("the server kept the connection open");
    if let Err(e) = read {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /` on a fresh connection, kept alive or not; what came back
/// before the server closed it.
async fn get_page(host: &str, keep_alive: bool) -> String {
    let mut s = TcpStream::connect(host).await.unwrap();
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n");
    // A refused peer may be closed before the request is written.
    let _ = s.write_all(req.as_bytes()).await;
    read_until_closed(&mut s).await
}

/// A WebSocket logged in with `cookie`. A connection the server has just
/// closed may still hold its per-IP place for a moment, so a refusal is
/// retried (bounded).
async fn open_ws(host: &str, cookie: &str) -> Ws {
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    for _ in 0..100 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(req.clone()).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the WebSocket was refused 100 times");
}

#[tokio::test]
async fn silent_and_idle_keep_alive_http_peers_are_closed_at_the_first_frame_timeout() {
    let srv = web_server_with(&["--first-frame-timeout", "1"]);
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    // Connects and never sends a request (slowloris).
    let mut silent = TcpStream::connect(&host).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");
    // Half a request head, then nothing.
    let mut half = TcpStream::connect(&host).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(read_until_closed(&mut half).await, "");
    // A whole request on a keep-alive connection is answered; then the
    // idle connection is closed instead of held forever.
    let page = get_page(&host, true).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>sockit</title>"));
}

#[tokio::test]
async fn an_open_websocket_keeps_its_place_under_the_per_ip_cap() {
    let (_srv, host, cookie) = logged_in(&["--max-conns-per-ip", "1"]).await;
    let mut ws = open_ws(&host, &cookie).await;
    // The socket is this address's one connection: a second is refused.
    assert_eq!(
        get_page(&host, false).await,
        "",
        "served beside an open WebSocket"
    );
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    // Once the socket has closed, its place is free again.
    for _ in 0..100 {
        let page = get_page(&host, false).await;
        if page.starts_with("HTTP/1.1 200") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the closed WebSocket never gave its place back");
}

#[tokio::test]
async fn a_stopping_server_closes_its_websockets_with_going_away() {
    let (mut srv, host, cookie) = logged_in(&["--grace", "30"]).await;
    let mut ws = open_ws(&host, &cookie).await;
    // SAFETY: kill(2) on the test's own child process.
    unsafe { libc::kill(srv.pid(), libc::SIGTERM) };
    let msg = next_msg(&mut ws).await;
    let Message::Close(Some(frame)) = msg else {
        panic!("expected a close frame, got {msg:?}");
    };
    assert_eq!(frame.code, CloseCode::Away);
    assert_eq!(frame.reason.as_str(), "server shutting down");
    // The server then exits cleanly.
    assert!(srv.stop_after_signal().success());
}

#[tokio::test]
async fn a_websocket_peer_that_stops_answering_pings_is_closed() {
    let (_srv, host, cookie) = logged_in(&["--web-ping", "0.2"]).await;
    // A peer that upgrades and then never answers (a laptop gone to
    // sleep): the handshake by hand, then only reading, never writing.
    let mut s = TcpStream::connect(&host).await.unwrap();
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(upgrade.as_bytes()).await.unwrap();
    let seen = read_until_closed(&mut s).await;
    assert!(seen.starts_with("HTTP/1.1 101"), "{seen}");
    assert!(
        seen.contains("no answer to pings"),
        "no close frame: {seen:?}"
    );
}

#[tokio::test]
async fn a_live_websocket_answers_pings_and_stays_open() {
    let (_srv, host, cookie) = logged_in(&["--web-ping", "0.2"]).await;
    let mut ws = open_ws(&host, &cookie).await;
    // Reading answers each ping (as a browser does); five pings span more
    // than the three a silent peer is allowed.
    let mut pings = 0;
    while pings < 5 {
        let msg = next_msg(&mut ws).await;
        assert!(matches!(msg, Message::Ping(_)), "{msg:?}");
        pings += 1;
    }
    ws.send(Message::Text(r#"{"type":"whoami","id":1}"#.into()))
        .await
        .unwrap();
    loop {
        let msg = next_msg(&mut ws).await;
        if let Message::Text(t) = msg {
            assert!(t.contains("alice"), "{t}");
            break;
        }
    }
}
