//! The line chat door (nc/telnet) and the UDP JSON datagram chat door over
//! real sockets, as nc and a QQ-style UDP client would use them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Server, run};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;

/// A bound on every wait: a hang fails the test instead of stalling it.
const IO_LIMIT: Duration = Duration::from_secs(30);
/// Cheap hashing so the suite stays fast.
const CHEAP: &str = "m=256,t=1,p=1";

type Reader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;
type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// An nc user: lines in, lines out.
struct Line {
    r: Reader,
    w: Writer,
}

impl Line {
    async fn tcp(srv: &Server) -> Line {
        let s = tokio::net::TcpStream::connect(srv.sock("chat-lines", "tcp://"))
            .await
            .unwrap();
        let (r, w) = s.into_split();
        Line::from_parts(Box::new(r), Box::new(w)).await
    }

    async fn from_parts(r: Box<dyn AsyncRead + Unpin + Send>, w: Writer) -> Line {
        let mut l = Line {
            r: BufReader::new(r),
            w,
        };
        let greeting = l.line().await;
        assert!(greeting.starts_with("* welcome"), "{greeting}");
        l
    }

    /// Connects and takes `name`; returns once in the lobby.
    async fn join(srv: &Server, name: &str) -> Line {
        let mut l = Line::tcp(srv).await;
        l.send(name).await;
        l.until(|s| s.starts_with("* you are")).await;
        l
    }

    async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    async fn send_bytes(&mut self, b: &[u8]) {
        self.w.write_all(b).await.unwrap();
    }

    /// The next line, without its CRLF; "" at EOF.
    async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(IO_LIMIT, self.r.read_until(b'\n', &mut buf))
            .await
            .expect("no line in time")
            .unwrap();
        assert!(buf.is_empty() || buf.ends_with(b"\r\n"), "{buf:?}");
        String::from_utf8(buf).unwrap().trim_end().to_owned()
    }

    /// Reads lines until one matches; fails at EOF.
    async fn until(&mut self, want: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self.line().await;
            assert!(!l.is_empty(), "connection closed while waiting");
            if want(&l) {
                return l;
            }
        }
    }

    /// Reads until the server closes; returns everything it said.
    async fn until_eof(&mut self) -> Vec<String> {
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
struct Udp {
    s: UdpSocket,
}

impl Udp {
    async fn new(srv: &Server) -> Udp {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(srv.sock("chat-udp", "udp://")).await.unwrap();
        Udp { s }
    }

    async fn send(&self, v: Value) {
        self.raw(v.to_string().as_bytes()).await;
    }

    async fn raw(&self, b: &[u8]) {
        self.s.send(b).await.unwrap();
    }

    async fn recv(&self) -> Value {
        let mut buf = vec![0u8; 65_536];
        let n = tokio::time::timeout(IO_LIMIT, self.s.recv(&mut buf))
            .await
            .expect("no datagram in time")
            .unwrap();
        serde_json::from_slice(&buf[..n]).unwrap()
    }

    async fn until(&self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if want(&v) {
                return v;
            }
        }
    }
}

fn server(extra: &[&str]) -> Server {
    let mut args = vec![
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--chat-udp",
        "udp://127.0.0.1:0",
        "--argon2",
        CHEAP,
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn add_user(data: &Path, name: &str, pass: &str) {
    let out = run(
        &[
            "user",
            "add",
            name,
            "--password-stdin",
            "--argon2",
            CHEAP,
            "--data",
            data.to_str().unwrap(),
        ],
        format!("{pass}\n").as_bytes(),
    );
    assert!(out.status.success(), "user add: {out:?}");
}

#[tokio::test]
async fn line_and_udp_users_share_a_room_under_one_filter() {
    let srv = server(&["--chat-filter", "darn=****", "--chat-filter", "spam=!block"]);
    let mut ann = Line::join(&srv, "ann").await;
    let bob = Udp::new(&srv).await;

    bob.send(json!({"name": "bob", "msg": "hi Darn it"})).await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    assert_eq!(ann.line().await, "<~bob> hi **** it");

    ann.send("darn, hello bob").await;
    let m = bob.until(|v| v.get("msg").is_some()).await;
    assert_eq!(
        (&m["name"], &m["msg"], &m["room"], m["guest"].as_bool()),
        (
            &json!("~ann"),
            &json!("****, hello bob"),
            &json!("lobby"),
            Some(true)
        )
    );
    assert!(m["id"].as_u64().unwrap() >= 2 && m["ts"].as_u64().unwrap() > 1_600_000_000_000);

    // The block rule refuses on both doors, with a reason to the sender only.
    bob.send(json!({"name": "bob", "msg": "buy SPAM now"}))
        .await;
    let e = bob.recv().await;
    assert_eq!(e["code"], "blocked", "{e}");
    ann.send("spam spam").await;
    let n = ann.line().await;
    assert!(
        n.starts_with("* message refused") && n.contains("spam"),
        "{n}"
    );
    bob.send(json!({"name": "bob", "msg": "still here", "room": "lobby"}))
        .await;
    assert_eq!(ann.line().await, "<~bob> still here");
    // Neither refused message reached anyone.
    ann.send("and me").await;
    assert_eq!(bob.recv().await["msg"], "and me");
}

#[tokio::test]
async fn commands_join_rooms_who_history_nick_help_quit() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut cy = Line::join(&srv, "cy").await;
    ann.until(|l| l == "* ~cy joined lobby").await;

    ann.send("/help").await;
    let help = ann.until(|l| l.contains("/history")).await;
    assert!(help.starts_with("* "), "{help}");

    ann.send("/join #Dev").await;
    cy.until(|l| l == "* ~ann left lobby").await;
    ann.until(|l| l == "* ~ann joined dev").await;
    ann.send("first in dev").await;
    ann.send("second in dev").await;
    ann.send("/history").await;
    ann.until(|l| l == "<~ann> second in dev").await;
    cy.send("/join dev").await;
    ann.until(|l| l == "* ~cy joined dev").await;

    cy.send("/who").await;
    assert_eq!(
        cy.until(|l| l.contains(" in dev: ")).await,
        "* 2 in dev: ~ann (line), ~cy (line)"
    );
    cy.send("/rooms").await;
    cy.until(|l| l == "* 1 rooms:" || l == "* 2 rooms:").await;
    let dev = cy.until(|l| l.contains("dev:")).await;
    assert_eq!(dev, "*   dev: 2 online, 2 messages (you are here)");

    cy.send("/history 1").await;
    assert_eq!(
        cy.until(|l| l.starts_with("* last")).await,
        "* last 1 messages in dev (older ones exist):"
    );
    assert_eq!(cy.line().await, "<~ann> second in dev");
    assert_eq!(cy.line().await, "* end of history");

    cy.send("/nick cyd").await;
    ann.until(|l| l == "* ~cy is now known as ~cyd").await;
    cy.send("//join is not a command here").await;
    assert_eq!(ann.line().await, "<~cyd> /join is not a command here");
    cy.send("/frobnicate").await;
    assert!(
        cy.until(|l| l.starts_with("* unknown command /frobnicate"))
            .await
            .contains("/help")
    );

    cy.send("/quit").await;
    assert_eq!(
        cy.until_eof().await.last().map(String::as_str),
        Some("* bye")
    );
    ann.until(|l| l == "* ~cyd left dev").await;
}

#[tokio::test]
async fn login_speaks_as_the_registered_user() {
    let srv = server(&[]);
    add_user(&srv.data(), "Alice", "open sesame 42");
    let mut bo = Line::join(&srv, "bo").await;

    // A guest may not take an account's name, in any case.
    let mut imp = Line::tcp(&srv).await;
    imp.send("alice").await;
    let n = imp.line().await;
    assert!(n.contains("registered account"), "{n}");

    // A wrong password says so; the right one renames the member.
    imp.send("/login Alice wrong password").await;
    assert!(imp.line().await.contains("invalid username or password"));
    imp.send("/login alice open sesame 42").await;
    imp.until(|l| l.starts_with("* you are Alice in lobby"))
        .await;
    bo.until(|l| l == "* Alice joined lobby").await;

    bo.send("/login Alice open sesame 42").await;
    bo.until(|l| l == "* ~bo is now known as Alice").await;
    bo.send("hi from bo").await;
    assert_eq!(
        imp.until(|l| l.starts_with('<')).await,
        "<Alice> hi from bo"
    );
}

#[tokio::test]
async fn guest_names_are_marked_unique_and_clean() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut dup = Line::tcp(&srv).await;
    dup.send("ANN").await;
    assert!(dup.line().await.contains("in use"));
    dup.send("~ann2").await;
    dup.until(|l| l == "* you are ~ann2 in lobby; /help lists the commands")
        .await;

    // The same rule on the UDP door.
    let u = Udp::new(&srv).await;
    u.send(json!({"name": "ann2", "msg": "x"})).await;
    assert_eq!(u.recv().await["code"], "name_taken");

    // Escapes and control characters never reach a terminal.
    dup.send_bytes(b"\x1b[2J\x1b]0;owned\x07red \x1b[31malert\x1b[0m\x07!\r\n")
        .await;
    assert_eq!(
        ann.until(|l| l.starts_with('<')).await,
        "<~ann2> red alert!"
    );
    u.send(json!({"name": "e\u{1b}[1mve", "msg": "\u{1b}[5mblink\u{1b}[0m"}))
        .await;
    ann.until(|l| l == "* ~eve joined lobby").await;
    assert_eq!(ann.line().await, "<~eve> blink");
}

#[tokio::test]
async fn garbage_on_both_doors_is_refused_and_others_keep_chatting() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut bad = Line::join(&srv, "bad").await;

    bad.send_bytes(b"caf\xe9 latin-1\r\n").await;
    assert!(bad.until(|l| l.contains("refused")).await.contains("UTF-8"));
    // A 1 MB line, with no newline until the end.
    let big = vec![b'x'; 1 << 20];
    bad.send_bytes(&big).await;
    bad.send_bytes(b"\nafter the flood\n").await;
    let n = bad.until(|l| l.contains("refused")).await;
    assert!(n.contains("longer than"), "{n}");
    assert_eq!(
        ann.until(|l| l.starts_with('<')).await,
        "<~bad> after the flood"
    );

    let u = Udp::new(&srv).await;
    let expect = [
        (b"not json".to_vec(), "bad_json"),
        (b"\xff\xfe\x00".to_vec(), "bad_json"),
        (vec![b' '; 20_000], "too_large"),
        (br#"{"msg": "no name"}"#.to_vec(), "bad_request"),
        (br#"["name", "msg"]"#.to_vec(), "bad_request"),
        (br#"{"name": 7, "msg": "x"}"#.to_vec(), "bad_request"),
        (
            br#"{"name": "u", "msg": "x", "room": "no such/room"}"#.to_vec(),
            "bad_room",
        ),
    ];
    for (datagram, code) in expect {
        u.raw(&datagram).await;
        let e = u.recv().await;
        assert_eq!(e["code"], code, "{e}");
        assert!(e["error"].as_str().unwrap().len() < 500);
    }
    u.send(json!({"name": "u", "msg": "fine now"})).await;
    assert_eq!(ann.until(|l| l.starts_with('<')).await, "<~u> fine now");
    ann.send("still serving").await;
    assert_eq!(
        u.until(|v| v.get("msg").is_some()).await["msg"],
        "still serving"
    );
}

#[tokio::test]
async fn udp_rename_and_lease_expiry() {
    let srv = server(&["--chat-lease", "1.5"]);
    let mut ann = Line::join(&srv, "ann").await;
    let u = Udp::new(&srv).await;
    u.send(json!({"name": "bob", "room": "lobby"})).await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    u.send(json!({"name": "bobby", "msg": "new name"})).await;
    ann.until(|l| l == "* ~bob is now known as ~bobby").await;
    assert_eq!(ann.line().await, "<~bobby> new name");
    // Nothing more from bobby: the lease runs out and the room is told.
    ann.until(|l| l == "* ~bobby left lobby").await;
}

#[tokio::test]
async fn a_line_member_that_never_reads_is_cut_off_and_the_room_goes_on() {
    let srv = server(&["--chat-rate", "1000000", "--chat-burst", "1000000"]);
    let mut watcher = Line::join(&srv, "watcher").await;
    // Connected, named, then never read from again; a small receive
    // buffer so that the kernel holds little of what it is sent.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let s = sock
        .connect(srv.sock("chat-lines", "tcp://").parse().unwrap())
        .await
        .unwrap();
    let (r, w) = s.into_split();
    let mut slow = Line::from_parts(Box::new(r), Box::new(w)).await;
    slow.send("slow").await;
    slow.until(|l| l.starts_with("* you are")).await;
    watcher.until(|l| l == "* ~slow joined lobby").await;
    let talker = Line::join(&srv, "talker").await;
    watcher.until(|l| l == "* ~talker joined lobby").await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let mut talker_w = talker.w;
    let pump = tokio::spawn(async move {
        let text = "z".repeat(4000);
        let mut sent = 0u32;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) && sent < 50_000 {
            talker_w
                .write_all(format!("{sent} {text}\n").as_bytes())
                .await
                .unwrap();
            sent += 1;
        }
        (talker_w, sent)
    });
    // The watcher reads everything, and sees the slow one go.
    let mut seen = 0;
    let cut = loop {
        let l = watcher.line().await;
        assert!(!l.is_empty());
        if l.starts_with("<~talker>") {
            seen += 1;
        } else if l.contains("~slow") {
            break l;
        }
    };
    assert_eq!(cut, "* ~slow was cut off from lobby (too slow)");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut talker_w, sent) = pump.await.unwrap();
    assert!(seen > 0 && sent > 256, "seen {seen}, sent {sent}");
    talker_w.write_all(b"after the cut\n").await.unwrap();
    watcher.until(|l| l == "<~talker> after the cut").await;
    // Reading at last, the slow one finds what the kernel had buffered,
    // then the cut-off notice, then the end.
    slow.w.shutdown().await.unwrap();
    let mut last = String::new();
    loop {
        let l = slow.line().await;
        if l.is_empty() {
            break;
        }
        last = l;
    }
    assert_eq!(
        last,
        "* you were cut off: you fell too far behind the room; reconnect"
    );
}

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
    let srv = server(&["--chat-idle", "0.5"]);
    let mut ann = Line::join(&srv, "ann").await;
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

#[tokio::test]
async fn a_thousand_line_members_all_receive_one_message() {
    sockit::net::raise_fd_limit();
    const MEMBERS: usize = 1000;
    const WAVE: usize = 100;
    let srv = server(&[]);
    let addr = srv.sock("chat-lines", "tcp://");
    let mut tasks = tokio::task::JoinSet::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(MEMBERS);
    let mut ready = 0;
    for i in 0..MEMBERS {
        // In waves: each join is a notice to everyone already in, and a
        // wave stays below the 256-event queue of a member whose reader
        // the test machine has not scheduled yet.
        if i % WAVE == 0 {
            while ready < i {
                ready_rx.recv().await.unwrap();
                ready += 1;
            }
        }
        let (addr, ready_tx) = (addr.clone(), ready_tx.clone());
        tasks.spawn(async move {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (r, w) = s.into_split();
            let mut l = Line::from_parts(Box::new(r), Box::new(w)).await;
            l.send(&format!("m{i}")).await;
            l.until(|s| s.starts_with("* you are")).await;
            ready_tx.send(()).await.unwrap();
            let mut last = String::new();
            let mut n = 0;
            loop {
                let s = l.line().await;
                n += 1;
                assert!(!s.is_empty(), "m{i} closed after {n} lines, last {last:?}");
                if s.starts_with('<') {
                    // Kept open until all have it: a thousand leaves at
                    // once would flood the others' queues (and the host's).
                    return (s, l);
                }
                last = s;
            }
        });
    }
    while ready < MEMBERS {
        ready_rx.recv().await.unwrap();
        ready += 1;
    }
    let mut host = Line::join(&srv, "host").await;
    host.send("hello, all of you").await;
    let mut open = Vec::with_capacity(MEMBERS);
    while let Some(r) = tasks.join_next().await {
        let (line, conn) = r.unwrap();
        assert_eq!(line, "<~host> hello, all of you");
        open.push(conn);
    }
    assert_eq!(open.len(), MEMBERS);
}

#[tokio::test]
async fn new_udp_addresses_past_the_per_ip_bound_are_refused() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut members = Vec::new();
    // One host cycling source ports: 64 members from one IP at most.
    for i in 0..64 {
        let u = Udp::new(&srv).await;
        u.send(json!({"name": format!("p{i}")})).await;
        members.push(u);
    }
    ann.until(|l| l == "* ~p63 joined lobby").await;
    let extra = Udp::new(&srv).await;
    extra.send(json!({"name": "p64", "msg": "let me in"})).await;
    let e = extra.recv().await;
    assert_eq!(e["code"], "full", "{e}");
    // The members already in are not pushed out.
    members[0]
        .send(json!({"name": "p0", "msg": "still in"}))
        .await;
    assert_eq!(ann.until(|l| l.starts_with('<')).await, "<~p0> still in");
}
