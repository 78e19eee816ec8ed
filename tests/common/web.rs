//! The web door's test helpers: a server with a web listener and a user,
//! raw HTTP/1.1 requests, and logging in for a session cookie.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Server, add_user};

/// Cheap argon2 parameters, so logins in tests take milliseconds.
pub const CHEAP: &str = "m=256,t=1,p=1";
/// A bound on a hang, not a sleep.
pub const IO_LIMIT: Duration = Duration::from_secs(30);

/// A server with a web listener (and `extra` flags) and the user alice.
pub fn web_server_with(extra: &[&str]) -> Server {
    let mut args = vec!["--web", "tcp://127.0.0.1:0", "--argon2", CHEAP];
    args.extend_from_slice(extra);
    let srv = Server::start(&args);
    let data = srv.data();
    add_user(&data, "alice", "correct horse battery");
    srv
}

/// A server with a web listener and the user alice.
pub fn web_server() -> Server {
    web_server_with(&[])
}

/// One HTTP/1.1 request over a fresh connection; returns (status, headers, body).
pub async fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(IO_LIMIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// Logs alice in; returns the `name=value` of her session cookie.
pub async fn login_cookie(host: &str) -> String {
    login_as(host, "alice", "correct horse battery").await
}

/// Logs `name` in; returns the `name=value` of the session cookie.
pub async fn login_as(host: &str, name: &str, password: &str) -> String {
    let login = serde_json::json!({"name": name, "password": password}).to_string();
    let (status, head, body) = http(
        host,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        &login,
    )
    .await;
    assert_eq!(status, 200, "{head}\n{body}");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}
