//! Accounts on a cluster: two real `sockit serve` nodes sharing one
//! throw-away PostgreSQL (tests/common/pg.rs), with a real HAProxy in TCP
//! mode in front (contrib/haproxy.cfg, PROXY protocol v2). A session made
//! through the balancer is valid on both nodes; each node sees the
//! client's own address (not HAProxy's) for its login throttle; a lock or
//! a logout on one node ends the account's sessions on every node.
//!
//! Clients pick their source address in 127.0.0.0/8 (all local on Linux),
//! so "different clients" are different addresses. The nodes trust
//! 127.0.0.1 (HAProxy's address) to send a PROXY header; tests talk to a
//! node directly from 127.0.0.5, which is not trusted.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::Pg;
use common::{CHEAP_ARGON2, Server, run, strip_scheme};
use sockit::client::{Client, ClientError};
use sockit::net::Conn;
use sockit::wire::{AuthReply, Frame};

const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);
/// How soon a revoked connection must be closed: the promise is one
/// second; the margin absorbs a loaded test machine (as in tests/revoke.rs).
const CLOSE_LIMIT: Duration = Duration::from_secs(3);
/// Failed logins per client address before a lockout (the default).
const IP_MAX_FAILURES: u32 = 20;
/// A client talking to a node directly: not a trusted proxy.
const DIRECT: &str = "127.0.0.5";

/// A node on `pg` that trusts HAProxy on 127.0.0.1 to name its clients.
fn node(pg: &Pg) -> Server {
    let url = pg.url();
    Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
        "--store",
        &url,
        "--trusted-proxy",
        "127.0.0.1",
    ])
}

fn framed(srv: &Server) -> SocketAddr {
    strip_scheme(&srv.addr("framed", "tcp://")).parse().unwrap()
}

/// A real HAProxy running contrib/haproxy.cfg in front of two nodes. Its
/// listening socket is opened here on port 0 and handed over (`fd@N`), so
/// there is no port to guess and nothing to wait for: connections queue
/// in the socket's backlog until HAProxy accepts them.
struct Haproxy {
    child: Child,
    addr: SocketAddr,
    _listener: std::net::TcpListener,
}

impl Haproxy {
    fn start(a: SocketAddr, b: SocketAddr) -> Haproxy {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Inherited across exec: HAProxy takes it as `fd@N`.
        rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/haproxy.cfg");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .env("SOCKIT_LB", format!("fd@{}", listener.as_raw_fd()))
            .env("SOCKIT_NODE_A", a.to_string())
            .env("SOCKIT_NODE_B", b.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy is not installed: apt-get install haproxy");
        Haproxy {
            child,
            addr,
            _listener: listener,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A frame-protocol connection to `to` from source address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> Client {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let s = tokio::time::timeout(IO_LIMIT, sock.connect(to))
        .await
        .expect("connect hung")
        .unwrap();
    Client::from_conn(Conn::Tcp(s).into())
}

async fn login(c: &mut Client, name: &str, pass: &str) -> Result<String, ClientError> {
    match tokio::time::timeout(IO_LIMIT, c.login(name, pass))
        .await
        .expect("login hung")?
    {
        AuthReply::Login { token, .. } => Ok(token),
        other => panic!("{other:?}"),
    }
}

async fn resume(c: &mut Client, token: &str) -> Result<String, ClientError> {
    match tokio::time::timeout(IO_LIMIT, c.resume(token))
        .await
        .expect("resume hung")?
    {
        AuthReply::Resume { user, .. } => Ok(user),
        other => panic!("{other:?}"),
    }
}

/// `sockit user ARGS --store URL`, which must succeed.
fn user(pg: &Pg, args: &[&str]) {
    let url = pg.url();
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--store", &url]);
    let out = run(&all, b"");
    assert!(out.status.success(), "user {args:?}: {out:?}");
}

/// Reads until the server closes; a pushed `unauthenticated` error must
/// come first, and the close within [`CLOSE_LIMIT`] of `since`.
async fn expect_revoked(c: &mut Client, since: Instant) -> Duration {
    let mut pushed: Option<Frame> = None;
    loop {
        match tokio::time::timeout(CLOSE_LIMIT, c.recv()).await {
            Ok(Ok(Some(f))) => {
                if f.kind() == Some("error") {
                    pushed = Some(f);
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => break,
            Err(_) => panic!("connection still open {CLOSE_LIMIT:?} after the revocation"),
        }
    }
    let took = since.elapsed();
    assert!(took < CLOSE_LIMIT, "{took:?}");
    let f = pushed.expect("an error frame before the close");
    assert_eq!(f.header["code"], "unauthenticated", "{:?}", f.header);
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_through_haproxy_is_valid_on_both_nodes_and_each_sees_the_client() {
    let pg = Pg::start();
    pg.add_user("ann", PASS);
    let (a, b) = (node(&pg), node(&pg));
    let lb = Haproxy::start(framed(&a), framed(&b));

    // Logged in through the balancer; the token works on each node.
    let mut c = connect_from("127.0.0.2", lb.addr).await;
    let token = login(&mut c, "ann", PASS).await.unwrap();
    for srv in [&a, &b] {
        let mut d = connect_from(DIRECT, framed(srv)).await;
        assert_eq!(resume(&mut d, &token).await.unwrap(), "ann");
    }

    // 127.0.0.3 guesses through the balancer (round robin: the nodes take
    // turns) until both nodes refuse it twice in a row; the names are
    // unknown ones, so only the per-address count can stop it. Each node
    // locks the address out after IP_MAX_FAILURES of its own at the
    // latest (sooner with the failures other nodes share), never sooner
    // than IP_MAX_FAILURES in all.
    let mut first_refusal = None;
    let mut in_a_row = 0;
    for i in 0..2 * IP_MAX_FAILURES + 4 {
        let mut g = connect_from("127.0.0.3", lb.addr).await;
        match login(&mut g, &format!("nobody{i}"), "wrong password").await {
            Err(e) if e.code() == Some("invalid_credentials") => in_a_row = 0,
            Err(e) if e.code() == Some("too_many_attempts") => {
                first_refusal.get_or_insert(i);
                in_a_row += 1;
                if in_a_row == 2 {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        in_a_row, 2,
        "the guessing address was never locked out on both nodes"
    );
    let n = first_refusal.unwrap();
    assert!(n >= IP_MAX_FAILURES, "locked out after only {n} failures");
    eprintln!("first refusal after {n} failures spread over two nodes");
    // Its right password is refused on both nodes now, while another
    // client address (behind the same HAProxy) logs in on both: each node
    // counts the client's address, not HAProxy's.
    for _ in 0..2 {
        let mut g = connect_from("127.0.0.3", lb.addr).await;
        let e = login(&mut g, "ann", PASS).await.unwrap_err();
        assert_eq!(e.code(), Some("too_many_attempts"), "{e}");
        let mut ok = connect_from("127.0.0.4", lb.addr).await;
        login(&mut ok, "ann", PASS).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_logout_on_one_node_end_the_sessions_on_every_node() {
    let pg = Pg::start();
    pg.add_user("ann", PASS);
    pg.add_user("bob", PASS);
    let (a, b) = (node(&pg), node(&pg));
    let lb = Haproxy::start(framed(&a), framed(&b));

    // Logout on A ends the same session's connection on B.
    let mut on_a = connect_from(DIRECT, framed(&a)).await;
    let token = login(&mut on_a, "bob", PASS).await.unwrap();
    let mut on_b = connect_from(DIRECT, framed(&b)).await;
    resume(&mut on_b, &token).await.unwrap();
    let t0 = Instant::now();
    tokio::time::timeout(IO_LIMIT, on_a.auth(sockit::wire::AuthRequest::Logout {}))
        .await
        .unwrap()
        .unwrap();
    let logout_took = expect_revoked(&mut on_b, t0).await;
    // The token is gone on every node.
    let mut again = connect_from(DIRECT, framed(&b)).await;
    let e = resume(&mut again, &token).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_token"), "{e}");

    // ann is connected to both nodes (through the balancer, round robin,
    // and directly); `sockit user lock` ends both connections.
    let mut sessions = Vec::new();
    for to in [lb.addr, lb.addr, framed(&a), framed(&b)] {
        let from = if to == lb.addr { "127.0.0.2" } else { DIRECT };
        let mut c = connect_from(from, to).await;
        login(&mut c, "ann", PASS).await.unwrap();
        sessions.push(c);
    }
    let t0 = Instant::now();
    user(&pg, &["lock", "ann"]);
    let mut took = Vec::new();
    for c in &mut sessions {
        took.push(expect_revoked(c, t0).await);
    }
    eprintln!("cross-node logout closed in {logout_took:?}; lock closed in {took:?}");
    for srv in [&a, &b] {
        let mut c = connect_from(DIRECT, framed(srv)).await;
        let e = login(&mut c, "ann", PASS).await.unwrap_err();
        assert_eq!(e.code(), Some("account_locked"), "{e}");
    }
}

async fn chat(c: &mut Client, req: sockit::wire::ChatRequest) -> sockit::wire::ChatReply {
    let reply = tokio::time::timeout(IO_LIMIT, c.request(req.to_frame(None)))
        .await
        .expect("a request hung")
        .unwrap();
    sockit::wire::ChatReply::from_frame(&reply).unwrap()
}

async fn join(c: &mut Client, room: &str) -> (u64, String) {
    use sockit::wire::{ChatReply, ChatRequest};
    match chat(c, ChatRequest::Join { room: room.into() }).await {
        ChatReply::Join {
            last_seq, epoch, ..
        } => (last_seq, epoch),
        other => panic!("{other:?}"),
    }
}

async fn say(c: &mut Client, room: &str, text: &str, key: Option<&str>) -> u64 {
    use sockit::wire::{ChatReply, ChatRequest};
    let req = ChatRequest::Send {
        room: room.into(),
        text: text.into(),
        key: key.map(str::to_owned),
    };
    match chat(c, req).await {
        ChatReply::Send { seq, .. } => seq,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_migrate_moves_a_single_node_into_postgres_once_and_nothing_is_lost() {
    // A single node on SQLite: an account, a session, a room with history
    // and an idempotency key.
    let single = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2]);
    common::add_user(&single.data(), "ann", PASS);
    let mut c = common::framed_member(&single, "ann", PASS, IO_LIMIT).await;
    let (_, epoch) = join(&mut c, "ops").await;
    let mut token_conn = connect_from(DIRECT, framed(&single)).await;
    let token = login(&mut token_conn, "ann", PASS).await.unwrap();
    assert_eq!(say(&mut c, "ops", "one", None).await, 1);
    assert_eq!(say(&mut c, "ops", "two", Some("k-2")).await, 2);
    assert_eq!(say(&mut c, "ops", "three", None).await, 3);
    // What chat has beside messages: an edit (entry 4), a topic (entry
    // 5), a read marker.
    use sockit::wire::{ChatReply, ChatRequest};
    let edit = ChatRequest::Edit {
        room: "ops".into(),
        seq: 1,
        text: "uno".into(),
    };
    assert!(matches!(chat(&mut c, edit).await, ChatReply::Edit(_)));
    let topic = ChatRequest::Topic {
        room: "ops".into(),
        topic: Some("deploys".into()),
    };
    chat(&mut c, topic).await;
    let read = ChatRequest::Read {
        room: "ops".into(),
        seq: 2,
    };
    chat(&mut c, read).await;
    drop((c, token_conn));
    // And a file, put through the CLI.
    let home = tempfile::tempdir().unwrap();
    let addr = single.addr("framed", "tcp://");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let src = home.path().join("notes.bin");
    std::fs::write(&src, &content).unwrap();
    let cfg = home.path().join("cfg");
    let cli = |addr: &str, args: &[&str], stdin: &str| {
        let stdin = format!("{stdin}\n");
        common::run_env(
            args,
            stdin.as_bytes(),
            &[
                ("SOCKIT_CONFIG_DIR", cfg.as_path()),
                ("SOCKIT_SERVER", Path::new(addr)),
            ],
        )
    };
    let out = cli(
        &addr,
        &["login", &addr, "--user", "ann", "--password-stdin"],
        PASS,
    );
    assert!(out.status.success(), "{out:?}");
    let out = cli(&addr, &["put", src.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    let dir = single.stop_keep_dir();
    let data = dir.path().join("data");

    let pg = Pg::start();
    let first = pg.migrate(&data);
    assert_eq!(first["accounts"]["accounts"], 1, "{first}");
    assert!(
        first["accounts"]["sessions"].as_u64().unwrap() >= 2,
        "{first}"
    );
    assert_eq!(first["chat"]["rooms"], 1, "{first}");
    assert_eq!(first["chat"]["messages"], 5, "{first}");
    assert_eq!(first["chat"]["keys"], 1, "{first}");
    assert_eq!(first["chat"]["reads"], 1, "{first}");
    assert_eq!(first["files"]["files"], 1, "{first}");
    assert_eq!(first["files"]["bytes"], content.len(), "{first}");
    // The second run copies nothing, and says so.
    let second = pg.migrate(&data);
    assert_eq!(second["accounts"]["accounts"], 0, "{second}");
    assert_eq!(second["accounts"]["accounts_present"], 1, "{second}");
    assert_eq!(second["chat"]["messages"], 0, "{second}");
    assert_eq!(second["chat"]["rooms_present"], 1, "{second}");
    assert_eq!(second["files"]["files"], 0, "{second}");
    assert_eq!(second["files"]["present"], 1, "{second}");
    let url = pg.url();
    let args = [
        "admin",
        "migrate",
        "--data",
        data.to_str().unwrap(),
        "--to",
        &url,
    ];
    let out = run(&args, b"");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to copy"),
        "{out:?}"
    );

    // A cluster node sees it all: the password, the session, the room
    // under the same epoch, and a resend of the keyed message posts once.
    let n = node(&pg);
    let mut d = connect_from(DIRECT, framed(&n)).await;
    assert_eq!(resume(&mut d, &token).await.unwrap(), "ann");
    let mut e = connect_from(DIRECT, framed(&n)).await;
    login(&mut e, "ann", PASS).await.unwrap();
    assert_eq!(join(&mut e, "ops").await, (5, epoch));
    assert_eq!(say(&mut e, "ops", "two", Some("k-2")).await, 2);
    assert_eq!(say(&mut e, "ops", "four", None).await, 6);
    // The edit, the topic and the read marker came along.
    let history = ChatRequest::History {
        room: "ops".into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    };
    let ChatReply::History { messages, .. } = chat(&mut e, history).await else {
        panic!("no history")
    };
    assert_eq!(
        (messages[0].text.as_str(), messages[0].kind),
        ("uno", Some(sockit::wire::MessageKind::Edited))
    );
    let topic = ChatRequest::Topic {
        room: "ops".into(),
        topic: None,
    };
    assert!(
        matches!(chat(&mut e, topic).await, ChatReply::Topic { topic, .. } if topic == "deploys")
    );
    let unread = ChatRequest::Unread {
        rooms: vec!["ops".into()],
    };
    let ChatReply::Unread { rooms } = chat(&mut e, unread).await else {
        panic!("no counts")
    };
    assert_eq!(rooms[0].read, 2);
    // A new account gets a fresh id, not one the single node gave out.
    pg.add_user("bob", PASS);
    let ids = pg.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM acct_users");
    assert_eq!(ids, "1,2");
    // The file comes back whole from a cluster node, as ann's (one that
    // takes direct connections: `node` expects HAProxy's PROXY header).
    let url = pg.url();
    let direct = Server::start(&["--listen", "tcp://127.0.0.1:0", "--store", &url]);
    let addr = direct.addr("framed", "tcp://");
    let out = cli(
        &addr,
        &["login", &addr, "--user", "ann", "--password-stdin"],
        PASS,
    );
    assert!(out.status.success(), "{out:?}");
    let back = home.path().join("back.bin");
    let out = cli(&addr, &["get", ":notes.bin", back.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&back).unwrap(), content);
}
