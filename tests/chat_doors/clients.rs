//! The test clients: an nc user ([`Line`]) and a QQ-style UDP client
//! ([`Udp`]), and the server they talk to.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;

use crate::common::{Listening, Server};

/// A bound on every wait: a hang fails the test instead of stalling it.
pub const IO_LIMIT: Duration = Duration::from_secs(30);
/// Cheap hashing so the suite stays fast.
const CHEAP: &str = "m=256,t=1,p=1";

pub type Reader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;
pub type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// An nc user: lines in, lines out.
pub struct Line {
    pub r: Reader,
    pub w: Writer,
}

impl Line {
    pub async fn tcp(srv: &impl Listening) -> Line {
        let s = tokio::net::TcpStream::connect(srv.sock("chat-lines", "tcp://"))
            .await
            .unwrap();
        let (r, w) = s.into_split();
        Line::from_parts(Box::new(r), Box::new(w)).await
    }

    pub async fn from_parts(r: Box<dyn AsyncRead + Unpin + Send>, w: Writer) -> Line {
        let mut l = Line {
            r: BufReader::new(r),
            w,
        };
        let greeting = l.line().await;
        assert!(greeting.starts_with("* welcome"), "{greeting}");
        l
    }

    /// Like [`Line::join`], with a 4 KiB receive buffer: the kernel holds
    /// little of what the member is sent while it does not read, so its
    /// queue on the server fills instead.
    pub async fn join_small_buffer(srv: &impl Listening, name: &str) -> Line {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let s = sock
            .connect(srv.sock("chat-lines", "tcp://").parse().unwrap())
            .await
            .unwrap();
        let (r, w) = s.into_split();
        let mut l = Line::from_parts(Box::new(r), Box::new(w)).await;
        l.send(name).await;
        l.until(|s| s.starts_with("* you are")).await;
        l
    }

    /// Connects and takes `name`; returns once in the lobby.
    pub async fn join(srv: &impl Listening, name: &str) -> Line {
        let mut l = Line::tcp(srv).await;
        l.send(name).await;
        l.until(|s| s.starts_with("* you are")).await;
        l
    }

    pub async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.w.write_all(b).await.unwrap();
    }

    /// The next line, without its CRLF; "" at EOF.
    pub async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(IO_LIMIT, self.r.read_until(b'\n', &mut buf))
            .await
            .expect("no line in time")
            .unwrap();
        assert!(buf.is_empty() || buf.ends_with(b"\r\n"), "{buf:?}");
        String::from_utf8(buf).unwrap().trim_end().to_owned()
    }

    /// Reads lines until one matches; fails at EOF.
    pub async fn until(&mut self, want: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self.line().await;
            assert!(!l.is_empty(), "connection closed while waiting");
            if want(&l) {
                return l;
            }
        }
    }

    /// Reads until the server closes; returns everything it said.
    pub async fn until_eof(&mut self) -> Vec<String> {
        let mut all = Vec::new();
        loop {
            let l = self.line().await;
            if l.is_empty() {
                return all;
            }
            all.push(l);
        }
    }
}

/// A QQ-style UDP chat client.
pub struct Udp {
    pub s: UdpSocket,
}

impl Udp {
    /// An unverified client: it never echoes a cookie.
    pub async fn new(srv: &impl Listening) -> Udp {
        Udp::bind(srv, "127.0.0.1:0").await
    }

    pub async fn bind(srv: &impl Listening, local: &str) -> Udp {
        let s = UdpSocket::bind(local).await.unwrap();
        s.connect(srv.sock("chat-udp", "udp://")).await.unwrap();
        Udp { s }
    }

    /// A verified member of the lobby as `name`: asks for a cookie, echoes
    /// it, and returns once its own join notice came back.
    pub async fn verified(srv: &impl Listening, name: &str) -> Udp {
        let u = Udp::new(srv).await;
        u.verify(name).await;
        u
    }

    /// The cookie exchange, then waits for this member's own join notice.
    /// (A server without cookies admits at once; accepting that lets the
    /// regression tests fail on old code for the reason they test.)
    pub async fn verify(&self, name: &str) {
        let me = format!("~{name}");
        let joined = |v: &Value| v["event"] == "join" && v["name"] == me.as_str();
        self.send(json!({"name": name})).await;
        let first = self.until(|v| v.get("cookie").is_some() || joined(v)).await;
        if first.get("cookie").is_some() {
            self.send(json!({"name": name, "cookie": first["cookie"]}))
                .await;
            self.until(joined).await;
        }
    }

    pub async fn send(&self, v: Value) {
        self.raw(v.to_string().as_bytes()).await;
    }

    pub async fn raw(&self, b: &[u8]) {
        self.s.send(b).await.unwrap();
    }

    pub async fn recv(&self) -> Value {
        let mut buf = vec![0u8; 65_536];
        let n = tokio::time::timeout(IO_LIMIT, self.s.recv(&mut buf))
            .await
            .expect("no datagram in time")
            .unwrap();
        serde_json::from_slice(&buf[..n]).unwrap()
    }

    pub async fn until(&self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if want(&v) {
                return v;
            }
        }
    }
}

pub fn server(extra: &[&str]) -> Server {
    let mut args = vec![
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--chat-udp",
        "udp://127.0.0.1:0",
        "--argon2",
        CHEAP,
    ];
    // Joins and leaves told at once: these tests wait for them to know who
    // is in (`presence` tests the grace period itself).
    if !extra.contains(&"--chat-presence-grace") {
        args.extend_from_slice(&["--chat-presence-grace", "0"]);
    }
    args.extend_from_slice(extra);
    Server::start(&args)
}
