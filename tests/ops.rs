//! The operator's view through real processes: `/metrics` after traffic
//! on several doors, `/readyz` while draining, `/healthz`, a hostile
//! scraper, and `--log-format json` lines.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{CHEAP_ARGON2, Server, add_user, bin};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::wire::AuthRequest;

/// Bound on any one wait in these tests; a hang, not a sleep.
const LIMIT: Duration = Duration::from_secs(30);

/// A loopback source address other than 127.0.0.1: the tests deny it to
/// cause refusals without touching their own connections.
const OTHER: &str = "127.0.0.3";

/// `GET path` on the metrics listener of `srv`: (status, body).
fn get(srv: &Server, path: &str) -> (u16, String) {
    get_at(&srv.sock("metrics", "tcp://"), path)
}

fn get_at(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// The value of the series `series` (name with labels, as printed).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in:\n{metrics}"))
}

/// Connects to `addr` from [`OTHER`].
fn connect_from_other(addr: &str) -> std::io::Result<TcpStream> {
    let to: SocketAddr = addr.parse().unwrap();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let from: SocketAddr = format!("{OTHER}:0").parse().unwrap();
    s.bind(&from.into())?;
    s.connect(&to.into())?;
    Ok(s.into())
}

/// A line-chat member: joins as `name`, reads lines.
struct Line {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Line {
    fn join(srv: &Server, name: &str) -> Line {
        let s = TcpStream::connect(srv.sock("chat-lines", "tcp://")).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut l = Line {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        l.send(name);
        l.until(|s| s.starts_with("* you are"));
        l
    }

    fn send(&mut self, text: &str) {
        writeln!(self.w, "{text}").unwrap();
    }

    fn until(&mut self, want: impl Fn(&str) -> bool) -> String {
        loop {
            let mut line = String::new();
            assert!(self.r.read_line(&mut line).unwrap() > 0, "closed early");
            let line = line.trim_end().to_string();
            if want(&line) {
                return line;
            }
        }
    }
}

#[tokio::test]
async fn metrics_count_connections_messages_refusals_and_login_failures() {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--echo",
        "tcp://127.0.0.1:0",
        "--metrics",
        "0",
        "--deny",
        OTHER,
        "--argon2",
        CHEAP_ARGON2,
        "--login-max-failures",
        "2",
    ]);
    assert!(
        srv.addr("metrics", "tcp://")
            .starts_with("tcp://127.0.0.1:"),
        "a bare port listens on loopback"
    );
    add_user(&srv.data(), "alice", "right password");
    let before = get(&srv, "/metrics").1;

    // Wrong passwords on the framed door, until the account locks.
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    let mut c = Client::connect(&ep, LIMIT).await.unwrap();
    for want in [
        "invalid_credentials",
        "invalid_credentials",
        "too_many_attempts",
    ] {
        let login = AuthRequest::Login {
            name: "alice".into(),
            password: "wrong password".into(),
        };
        match c.auth(login).await {
            Err(ClientError::Server { code, .. }) => assert_eq!(code, want),
            other => panic!("expected {want}, got {other:?}"),
        }
    }
    // Two line-chat members and one message between them.
    let mut ann = Line::join(&srv, "ann");
    let mut bo = Line::join(&srv, "bo");
    ann.send("hello from ann");
    bo.until(|l| l == "<~ann> hello from ann");
    // Echo once.
    let mut e = TcpStream::connect(srv.sock("echo", "tcp://")).unwrap();
    e.set_read_timeout(Some(LIMIT)).unwrap();
    e.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    e.read_exact(&mut one).unwrap();
    // A denied peer on the echo door: reset before a byte is read.
    let mut denied = connect_from_other(&srv.sock("echo", "tcp://")).unwrap();
    denied.set_read_timeout(Some(LIMIT)).unwrap();
    let mut sink = Vec::new();
    let _ = denied.read_to_end(&mut sink);
    assert!(sink.is_empty());

    // The writer thread counts deliveries after offering the message to
    // every member, so bo may have shown it a moment before: look again.
    let delivered = "sockit_chat_messages_delivered_total";
    let since = Instant::now();
    let (status, now) = loop {
        let (status, now) = get(&srv, "/metrics");
        if value(&now, delivered) > value(&before, delivered) {
            break (status, now);
        }
        assert!(since.elapsed() < LIMIT, "no delivery counted:\n{now}");
    };
    assert_eq!(status, 200);
    let moved = |series: &str| {
        let was = before
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0);
        value(&now, series) - was
    };
    assert_eq!(
        moved(r#"sockit_connections_accepted_total{door="framed"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"sockit_connections_accepted_total{door="chat-lines"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"sockit_connections_accepted_total{door="echo"}"#),
        1.0,
        "the denied peer is not accepted"
    );
    assert_eq!(
        value(&now, r#"sockit_connections_open{door="chat-lines"}"#),
        2.0
    );
    assert!(value(&now, r#"sockit_connections_open{door="metrics"}"#) >= 1.0);
    assert_eq!(
        moved(r#"sockit_refusals_total{door="echo",reason="denied"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"sockit_login_failures_total{reason="invalid_credentials"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"sockit_login_failures_total{reason="too_many_attempts"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"sockit_login_lockouts_total{reason="account"}"#),
        1.0
    );
    assert_eq!(moved("sockit_chat_messages_committed_total"), 1.0);
    assert!(value(&now, "sockit_chat_commit_seconds_count") >= 1.0);
    assert_eq!(value(&now, "sockit_chat_members"), 2.0);
    assert!(now.contains("# TYPE sockit_chat_queue_depth_max gauge"));
    assert!(value(&now, "process_open_fds") >= 8.0, "the open sockets");
    assert!(value(&now, "process_max_fds") >= value(&now, "process_open_fds"));
    assert!(now.ends_with("# EOF\n"));
}

#[test]
fn readyz_turns_not_ready_while_draining() {
    let mut srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--metrics",
        "tcp://127.0.0.1:0",
        "--grace",
        "20",
    ]);
    assert_eq!(get(&srv, "/healthz"), (200, "ok\n".into()));
    assert_eq!(get(&srv, "/readyz"), (200, "ready\n".into()));
    // A framed peer half-way through a frame keeps the server draining.
    let mut busy = TcpStream::connect(srv.sock("framed", "tcp://")).unwrap();
    busy.write_all(&[0, 0]).unwrap();
    // Accepted by the server (not just queued by the kernel) before the stop.
    let since = Instant::now();
    while get(&srv, "/metrics")
        .1
        .lines()
        .all(|l| l != r#"sockit_connections_open{door="framed"} 1"#)
    {
        assert!(
            since.elapsed() < LIMIT,
            "the framed peer was never accepted"
        );
    }
    let metrics = srv.sock("metrics", "tcp://");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(srv.pid(), libc::SIGTERM) };
    let since = Instant::now();
    let reply = loop {
        let (status, body) = get_at(&metrics, "/readyz");
        if status != 200 {
            break (status, body);
        }
        assert!(since.elapsed() < LIMIT, "still ready after SIGTERM");
        std::thread::yield_now();
    };
    assert_eq!(
        reply,
        (503, "not ready: draining: the server is stopping\n".into())
    );
    assert_eq!(get_at(&metrics, "/healthz").0, 200, "alive while draining");
    drop(busy);
    assert!(srv.stop_after_signal().success());
}

#[test]
fn the_metrics_listener_withstands_hostile_peers() {
    let srv = Server::start(&[
        "--echo",
        "tcp://127.0.0.1:0",
        "--metrics",
        "0",
        "--first-frame-timeout",
        "0.5",
        "--deny",
        OTHER,
    ]);
    let (status, body) = get(&srv, "/nope");
    assert_eq!(status, 404);
    assert!(body.contains("/metrics"), "{body}");
    let addr = srv.sock("metrics", "tcp://");
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    // A request head that does not end: cut at 16 KiB with 431, not
    // buffered on. Exactly 16 KiB is sent, so the server reads it all and
    // its close is a FIN (unread bytes would turn it into a reset that
    // may destroy the reply before it is read).
    let mut endless = TcpStream::connect(&addr).unwrap();
    endless.set_read_timeout(Some(LIMIT)).unwrap();
    let mut head = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    head.resize(sockit::ops::http::MAX_REQUEST_HEAD, b'a');
    endless.write_all(&head).unwrap();
    let mut text = Vec::new();
    let _ = endless.read_to_end(&mut text);
    assert!(
        text.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    // Silent: closed after the first-frame timeout, well within the bound.
    let mut silent = TcpStream::connect(&addr).unwrap();
    silent.set_read_timeout(Some(LIMIT)).unwrap();
    let t = Instant::now();
    let mut sink = Vec::new();
    let _ = silent.read_to_end(&mut sink);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // The access lists hold here as on every door.
    let mut denied = connect_from_other(&addr).unwrap();
    denied.set_read_timeout(Some(LIMIT)).unwrap();
    let _ = denied.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut text = Vec::new();
    let _ = denied.read_to_end(&mut text);
    assert!(text.is_empty(), "{}", String::from_utf8_lossy(&text));
    let m = get(&srv, "/metrics").1;
    assert_eq!(
        value(
            &m,
            r#"sockit_refusals_total{door="metrics",reason="denied"}"#
        ),
        1.0
    );
}

#[test]
fn json_log_lines_parse() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--log-format",
            "json",
            "--echo",
            "tcp://127.0.0.1:0",
            "--deny",
            OTHER,
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut echo = None;
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no ready line");
        if let Some((_, a)) = line.trim_end().split_once("echo listening on tcp://") {
            echo = Some(a.to_string());
        }
        if line.starts_with("ready") {
            break;
        }
    }
    // A refusal is logged with its fields.
    let mut denied = connect_from_other(&echo.unwrap()).unwrap();
    denied.set_read_timeout(Some(LIMIT)).unwrap();
    let _ = denied.read_to_end(&mut Vec::new());
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        for key in ["time", "level", "target", "message"] {
            assert!(l[key].is_string(), "{key} in {l}");
        }
        assert!(l["fields"].is_object(), "{l}");
    }
    let refusal = lines
        .iter()
        .find(|l| l["message"] == "refused: denied by the access list")
        .unwrap_or_else(|| panic!("no refusal line in {err}"));
    assert_eq!(refusal["fields"]["door"], "echo");
    assert_eq!(refusal["fields"]["peer"], OTHER);
    assert_eq!(refusal["level"], "INFO");
    assert!(lines.iter().any(|l| l["message"] == "stopped"), "{err}");
}

#[test]
fn file_store_bytes_are_counted_both_ways() {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--metrics",
        "0",
        "--argon2",
        CHEAP_ARGON2,
    ]);
    add_user(&srv.data(), "bob", "bob's password");
    let home = tempfile::tempdir().unwrap();
    let addr = srv.addr("framed", "tcp://");
    let env = [
        ("SOCKIT_CONFIG_DIR", home.path()),
        ("SOCKIT_SERVER", std::path::Path::new(&addr)),
    ];
    let as_bob = |args: &[&str], stdin: &[u8]| common::ok(&common::run_env(args, stdin, &env));
    as_bob(
        &["login", &addr, "--user", "bob", "--password-stdin"],
        b"bob's password\n",
    );
    let file = home.path().join("data.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let back = home.path().join("back.bin");
    as_bob(&["put", file.to_str().unwrap(), ":data.bin"], b"");
    as_bob(&["get", ":data.bin", back.to_str().unwrap()], b"");
    assert_eq!(std::fs::read(&back).unwrap().len(), 100_000);
    let m = get(&srv, "/metrics").1;
    assert_eq!(
        value(&m, r#"sockit_file_transfer_bytes_total{direction="in"}"#),
        100_000.0
    );
    assert_eq!(
        value(&m, r#"sockit_file_transfer_bytes_total{direction="out"}"#),
        100_000.0
    );
}
