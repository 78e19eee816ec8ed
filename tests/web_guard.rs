//! The web door's guards over real sockets: `Host` names (DNS rebinding),
//! request-body deadlines (slowloris on the body), WebSocket frame size,
//! and session idle expiry.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::inproc::InProc;
use common::strip_scheme;
use common::web::{IO_LIMIT, http, login_cookie, web_server_with};
use sockit::server::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request with its own `Host` header; the status line back.
async fn status_for_host(addr: &str, host: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /api/whoami HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn only_the_bound_address_localhost_and_web_host_names_are_answered() {
    let srv = web_server_with(&["--web-host", "chat.example.org"]);
    let addr = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    for ok in [
        addr.clone(),
        format!("localhost:{port}"),
        "chat.example.org".to_owned(),
    ] {
        let reply = status_for_host(&addr, &ok).await;
        // 401: past the host check, at the API (not logged in).
        assert!(reply.starts_with("HTTP/1.1 401"), "{ok}: {reply}");
    }
    // A rebinding page's name: refused, saying how to allow it.
    let reply = status_for_host(&addr, &format!("rebind.attacker.example:{port}")).await;
    assert!(reply.starts_with("HTTP/1.1 421"), "{reply}");
    assert!(
        reply.contains("--web-host rebind.attacker.example"),
        "{reply}"
    );
    // Its WebSocket and login are refused the same way.
    let (status, head, _) = {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let body = r#"{"name":"alice","password":"correct horse battery"}"#;
        let req = format!(
            "POST /api/login HTTP/1.1\r\nHost: evil.example\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        (text[9..12].to_owned(), text.clone(), ())
    };
    assert_eq!(status, "421", "{head}");
}

#[tokio::test]
async fn a_trickled_request_body_is_cut_at_its_deadline() {
    let srv = web_server_with(&["--first-frame-timeout", "1"]);
    let addr = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the connection is never quiet, the body never done.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            started.elapsed() < IO_LIMIT,
            "still open after {IO_LIMIT:?}"
        );
        let _ = s.write_all(b" ").await;
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "cut early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "cut late: {waited:?}");
    let reply = String::from_utf8_lossy(&out);
    assert!(reply.starts_with("HTTP/1.1 4"), "{reply}");
}

#[tokio::test]
async fn a_session_unused_past_the_idle_limit_is_refused() {
    // In process, so the test moves the server's clock instead of waiting.
    let srv = InProc::start(
        &[Service::Web],
        |_| {},
        |o| o.web.session_idle = Duration::from_secs(60),
    )
    .await;
    srv.add_user("alice", "correct horse battery").await;
    let addr = srv.addr(Service::Web);
    let cookie = login_cookie(&addr).await;
    let (status, _, body) = http(&addr, "GET", "/api/whoami", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 200, "{body}");
    // Used within the limit each time: still good, since each use renews it
    // (100 s after the login, 50 s after the last use).
    for _ in 0..2 {
        srv.skip(Duration::from_secs(50)).await;
        let (status, _, body) = http(&addr, "GET", "/api/whoami", &[("Cookie", &cookie)], "").await;
        assert_eq!(status, 200, "{body}");
    }
    srv.skip(Duration::from_secs(61)).await;
    let (status, _, body) = http(&addr, "GET", "/api/whoami", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("log in again"), "{body}");
    // And stays refused: the token was revoked, not just timed.
    let (status, _, _) = http(&addr, "GET", "/api/whoami", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 401);
    srv.stop().await;
}

#[tokio::test]
async fn a_websocket_frame_larger_than_the_message_limit_is_refused_at_its_header() {
    let srv = web_server_with(&[]);
    let addr = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let cookie = login_cookie(&addr).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(upgrade.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "{head:?}");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // The header of one masked, non-final 15 MiB text frame, and a little
    // of its payload: under a message limit alone the server would wait
    // for (and buffer) all 15 MiB before looking at the message size.
    let mut frame = vec![0x01, 0x80 | 127];
    frame.extend_from_slice(&(15u64 << 20).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend_from_slice(&[0u8; 1024]);
    s.write_all(&frame).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(IO_LIMIT, s.read(&mut buf))
            .await
            .unwrap()
        {
            Ok(0) | Err(_) => break,
            // A close frame (1009, too big) may come first.
            Ok(_) => {}
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held for {:?}",
        started.elapsed()
    );
}
