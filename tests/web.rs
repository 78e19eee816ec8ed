//! The web door over real sockets: log in over HTTP, then speak the frame
//! protocol over a WebSocket with the session cookie.
#![allow(clippy::unwrap_used)]

mod common;

use common::web::{CHEAP, IO_LIMIT, http, login_cookie, web_server};
use common::{Server, add_user, run_env, strip_scheme};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn browser_session_speaks_the_frame_protocol_over_websocket() {
    let srv = web_server();
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let (status, _, page) = http(&host, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>sockit</title>"));

    let cookie = login_cookie(&host).await;
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    let mut ask = async |v: Value| -> Value {
        ws.send(Message::Text(v.to_string().into())).await.unwrap();
        let msg = tokio::time::timeout(IO_LIMIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(msg.to_text().unwrap()).unwrap()
    };
    let who = ask(json!({"type": "whoami", "id": 1})).await;
    assert_eq!(
        (
            who["type"].as_str(),
            who["user"].as_str(),
            who["id"].as_u64()
        ),
        (Some("whoami"), Some("alice"), Some(1))
    );
    let hello = ask(json!({"type": "hello", "version": 1, "id": 2})).await;
    assert!(
        hello["features"]
            .as_array()
            .unwrap()
            .contains(&json!("login"))
    );
    let pong = ask(json!({"type": "ping", "id": 3, "ts": 7})).await;
    assert_eq!(
        (pong["type"].as_str(), pong["ts"].as_u64()),
        (Some("pong"), Some(7))
    );
    // Garbage gets an error and the socket stays usable.
    ws.send(Message::Text("not json".into())).await.unwrap();
    let err: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(err["code"], "bad_header");
    let mut ask = async |v: Value| -> Value {
        ws.send(Message::Text(v.to_string().into())).await.unwrap();
        let msg = tokio::time::timeout(IO_LIMIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(msg.to_text().unwrap()).unwrap()
    };
    let who = ask(json!({"type": "whoami", "id": 4})).await;
    assert_eq!(who["user"], "alice");
    // Logging out over the socket ends the cookie's session too.
    assert_eq!(
        ask(json!({"type": "logout", "id": 5})).await["type"],
        "logout"
    );
    let (status, _, _) = http(&host, "GET", "/api/whoami", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn websocket_without_a_session_or_from_another_site_is_refused() {
    let srv = web_server();
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let e = tokio_tungstenite::connect_async(format!("ws://{host}/ws"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    let cookie = login_cookie(&host).await;
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    let e = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
}

#[tokio::test]
async fn a_websocket_flood_is_answered_in_order_and_others_are_unaffected() {
    let srv = web_server();
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let cookie = login_cookie(&host).await;
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req.clone()).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    const N: u64 = 5_000;
    let flood = tokio::spawn(async move {
        for id in 0..N {
            tx.send(Message::Text(
                json!({"type": "ping", "id": id}).to_string().into(),
            ))
            .await
            .unwrap();
        }
        tx
    });
    // A second browser tab keeps getting answers meanwhile.
    let (mut other, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    other
        .send(Message::Text(r#"{"type":"whoami","id":1}"#.into()))
        .await
        .unwrap();
    let who = tokio::time::timeout(IO_LIMIT, other.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(who.to_text().unwrap().contains("alice"));
    for id in 0..N {
        let msg = tokio::time::timeout(IO_LIMIT, rx.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(v["id"].as_u64(), Some(id));
    }
    drop(flood.await.unwrap());
}

/// A raw HTTP/1.1 request with a binary body; returns (status, head, body).
async fn http_bytes(host: &str, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "{head}\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

#[tokio::test]
async fn a_browser_upload_is_what_the_cli_gets_and_a_cli_put_is_what_the_browser_gets() {
    let srv = Server::start(&[
        "--web",
        "tcp://127.0.0.1:0",
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP,
    ]);
    let data_dir = srv.data();
    add_user(&data_dir, "alice", "correct horse battery");
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let framed = srv.addr("framed", "tcp://");
    let cookie = login_cookie(&host).await;

    // Bigger than the JSON body limit and than one store chunk.
    let mut bytes = vec![0u8; 3 * 1024 * 1024 + 5];
    getrandom::fill(&mut bytes).unwrap();
    let head = format!("PUT /api/files/up/web.bin HTTP/1.1\r\nCookie: {cookie}\r\nX-Sockit: 1");
    let (status, _, body) = http_bytes(&host, &head, &bytes).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    let cfg = tempfile::tempdir().unwrap();
    let env = [("SOCKIT_CONFIG_DIR", cfg.path())];
    let login = ["login", &framed, "--user", "alice", "--password-stdin"];
    let out = run_env(&login, b"correct horse battery\n", &env);
    assert!(out.status.success(), "{out:?}");
    let got = cfg.path().join("got.bin");
    let remote = format!("{framed}:up/web.bin");
    let out = run_env(&["get", &remote, got.to_str().unwrap()], b"", &env);
    assert!(out.status.success(), "{out:?}");
    assert!(
        std::fs::read(&got).unwrap() == bytes,
        "sockit get: other bytes"
    );

    // The other way: `sockit put`, then a browser download.
    let local = cfg.path().join("cli.txt");
    std::fs::write(&local, "from the terminal\n").unwrap();
    let dest = format!("{framed}:up/");
    let out = run_env(&["put", local.to_str().unwrap(), &dest], b"", &env);
    assert!(out.status.success(), "{out:?}");
    let head = format!("GET /api/files/up/cli.txt HTTP/1.1\r\nCookie: {cookie}");
    let (status, head, body) = http_bytes(&host, &head, b"").await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, b"from the terminal\n");
    let b3 = blake3::hash(b"from the terminal\n").to_hex().to_string();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-sockit-blake3: {b3}")),
        "{head}"
    );
}
