//! History across restarts, idle members, Unix sockets, wrong transports.

use std::time::Duration;

use sockit::server::Service;

use crate::clients::{Line, server};
use crate::common::inproc::InProc;
use crate::common::{Server, run};

#[tokio::test]
async fn history_survives_a_restart() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    for i in 0..3 {
        ann.send(&format!("message {i}")).await;
    }
    ann.send("/history").await;
    ann.until(|l| l == "<~ann> message 2").await;
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(
        dir,
        &[
            "--chat-lines",
            "tcp://127.0.0.1:0",
            "--chat-udp",
            "udp://127.0.0.1:0",
        ],
    );
    let mut bo = Line::join(&srv, "bo").await;
    bo.send("/history 10").await;
    assert_eq!(
        bo.until(|l| l.starts_with("* last")).await,
        "* last 3 messages in lobby:"
    );
    for i in 0..3 {
        assert_eq!(bo.line().await, format!("<~ann> message {i}"));
    }
}

#[tokio::test]
async fn idle_members_are_told_and_closed() {
    // In process, so the test moves the server's clock instead of waiting.
    let srv = InProc::start(
        &[Service::ChatLines],
        |_| {},
        |o| o.chat.idle = Duration::from_secs(60),
    )
    .await;
    // Joined: the server's last word reached us, so it is idle from now.
    let mut ann = Line::join(&srv, "ann").await;
    srv.skip(Duration::from_secs(59)).await;
    ann.send("/who").await;
    ann.until(|l| l.starts_with("* 1 in lobby")).await;
    srv.skip(Duration::from_secs(61)).await;
    let said = ann.until_eof().await;
    assert_eq!(
        said.last().map(String::as_str),
        Some("* idle for too long; bye")
    );
}

#[tokio::test]
async fn unix_socket_line_chat() {
    let srv = Server::start(&["--chat-lines", "unix://chat.sock"]);
    let s = tokio::net::UnixStream::connect(srv.unix_path("chat-lines"))
        .await
        .unwrap();
    let (r, w) = s.into_split();
    let mut l = Line::from_parts(Box::new(r), Box::new(w)).await;
    l.send("unixer").await;
    l.until(|s| s == "* you are ~unixer in lobby; /help lists the commands")
        .await;
}

#[test]
fn chat_doors_refuse_the_wrong_transport() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = run(
        &["serve", "--chat-lines", "udp://127.0.0.1:0", "--data", data],
        b"",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("chat-lines needs a stream socket"), "{err}");
    let out = run(
        &["serve", "--chat-udp", "tcp://127.0.0.1:0", "--data", data],
        b"",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("chat-udp needs a datagram socket; use udp://"),
        "{err}"
    );
}
