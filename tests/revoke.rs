//! Revoking an account reaches everything it had: a deleted account's files
//! go with it and its id is never given to a new account; lock, delete,
//! password change and logout end the account's live framed and WebSocket
//! connections within a second, pushed rather than at their next request.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::web::login_cookie;
use common::{CHEAP_ARGON2, Server, add_user, ok, run, run_env, strip_scheme};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sockit::client::Client;
use sockit::net::Endpoint;
use sockit::wire::{ChatRequest, Frame};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);
/// How soon a revoked connection must be closed: the promise is one
/// second; the margin absorbs a loaded test machine.
const CLOSE_LIMIT: Duration = Duration::from_secs(3);

/// `sockit user ARGS --data DATA` with `stdin`.
fn user(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(["--data", data.to_str().unwrap()]);
    run(&all, stdin)
}

/// `sockit ARGS` with its own config directory and default server.
fn as_user(cfg: &Path, addr: &str, args: &[&str], stdin: &[u8]) -> Output {
    run_env(
        args,
        stdin,
        &[
            ("SOCKIT_CONFIG_DIR", cfg),
            ("SOCKIT_SERVER", Path::new(addr)),
        ],
    )
}

fn login(cfg: &Path, addr: &str, name: &str) {
    ok(&as_user(
        cfg,
        addr,
        &["login", addr, "--user", name, "--password-stdin"],
        format!("{PASS}\n").as_bytes(),
    ));
}

fn user_dir(data: &Path) -> PathBuf {
    data.join("files").join("u")
}

/// The ids the file store holds trees for.
fn tree_ids(data: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(user_dir(data))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_new_account_never_inherits_a_deleted_accounts_files() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2]);
    let addr = srv.addr("framed", "tcp://");
    let data = srv.data();
    let home = tempfile::tempdir().unwrap();
    add_user(&data, "alice", PASS);
    add_user(&data, "bob", PASS);
    let bob = home.path().join("bob");
    login(&bob, &addr, "bob");
    let f = home.path().join("secret.txt");
    std::fs::write(&f, b"bob's secret").unwrap();
    ok(&as_user(&bob, &addr, &["put", f.to_str().unwrap()], b""));
    let before = tree_ids(&data);
    assert_eq!(before.len(), 1, "bob's tree: {before:?}");

    // bob is the newest account: with reused ids, mallory would get his.
    let out = ok(&user(&data, &["del", "bob"], b""));
    assert!(out.contains("user bob deleted"), "{out}");
    assert!(out.contains("removed by the running server"), "{out}");
    // The running server removes his files within a second or so.
    let t0 = Instant::now();
    while !tree_ids(&data).is_empty() {
        assert!(
            t0.elapsed() < IO_LIMIT,
            "bob's files stayed: {:?}",
            tree_ids(&data)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    add_user(&data, "mallory", PASS);
    let mallory = home.path().join("mallory");
    login(&mallory, &addr, "mallory");
    let listing = ok(&as_user(&mallory, &addr, &["ls", "--json"], b""));
    let j: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(j["entries"].as_array().unwrap().len(), 0, "{listing}");
    let out = as_user(
        &mallory,
        &addr,
        &[
            "get",
            ":secret.txt",
            home.path().join("got").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(!home.path().join("got").exists());
}

#[test]
fn del_without_a_server_removes_the_files_at_once() {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2]);
    let addr = srv.addr("framed", "tcp://");
    let data = srv.data();
    let home = tempfile::tempdir().unwrap();
    add_user(&data, "bob", PASS);
    let bob = home.path().join("bob");
    login(&bob, &addr, "bob");
    let f = home.path().join("notes.txt");
    std::fs::write(&f, b"notes").unwrap();
    ok(&as_user(&bob, &addr, &["put", f.to_str().unwrap()], b""));
    let dir = srv.stop_keep_dir();
    let data = dir.path().join("data");
    // A partial upload left behind too.
    let staging = data.join("files").join("staging").join("1");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("0123.part"), b"half").unwrap();

    let out = ok(&user(&data, &["del", "bob"], b""));
    assert!(
        out.contains("files and partial uploads are removed"),
        "{out}"
    );
    assert!(tree_ids(&data).is_empty());
    assert!(!staging.exists());
}

async fn framed(srv: &Server) -> Client {
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    Client::connect(&ep, IO_LIMIT).await.unwrap()
}

/// A framed connection logged in as `name`, in the lobby; its token.
async fn framed_member(srv: &Server, name: &str) -> (Client, String) {
    let mut c = framed(srv).await;
    let reply = c.login(name, PASS).await.unwrap();
    let token = match reply {
        sockit::wire::AuthReply::Login { token, .. } => token,
        other => panic!("{other:?}"),
    };
    c.request(
        ChatRequest::Join {
            room: "lobby".into(),
        }
        .to_frame(None),
    )
    .await
    .unwrap();
    (c, token)
}

/// Reads until the server closes; the pushed error must come first, and
/// the close within [`CLOSE_LIMIT`] of `since`.
async fn expect_revoked(c: &mut Client, since: Instant) {
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
    assert!(since.elapsed() < CLOSE_LIMIT, "{:?}", since.elapsed());
    let f = pushed.expect("an error frame before the close");
    assert_eq!(f.header["code"], "unauthenticated", "{:?}", f.header);
    assert!(
        f.header["message"].as_str().unwrap().contains("revoked"),
        "{:?}",
        f.header
    );
}

fn chat_server() -> Server {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--web",
        "tcp://127.0.0.1:0",
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
    ]);
    for name in ["alice", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_del_and_passwd_close_live_framed_connections() {
    let srv = chat_server();
    let data = srv.data();
    for (args, stdin) in [
        (vec!["lock", "alice"], String::new()),
        (
            vec![
                "passwd",
                "alice",
                "--password-stdin",
                "--argon2",
                CHEAP_ARGON2,
            ],
            format!("{PASS}\n"),
        ),
        (vec!["del", "alice"], String::new()),
    ] {
        let (mut a, _) = framed_member(&srv, "alice").await;
        let (mut b, _) = framed_member(&srv, "bob").await;
        ok(&user(&data, &args, stdin.as_bytes()));
        let t0 = Instant::now();
        expect_revoked(&mut a, t0).await;
        // Bob is untouched.
        let who = b.request(Frame::new("whoami")).await.unwrap();
        assert_eq!(who.header["user"], "bob", "{args:?}");
        if args[0] == "lock" {
            ok(&user(&data, &["unlock", "alice"], b""));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_the_other_connections_of_that_session_only() {
    let srv = chat_server();
    let (mut a, token) = framed_member(&srv, "alice").await;
    // The same session resumed on a second connection, and another session.
    let mut same = framed(&srv).await;
    same.resume(&token).await.unwrap();
    let (mut other, _) = framed_member(&srv, "alice").await;
    let reply = a.request(Frame::new("logout")).await.unwrap();
    assert_eq!(reply.kind(), Some("logout"));
    expect_revoked(&mut same, Instant::now()).await;
    let who = other.request(Frame::new("whoami")).await.unwrap();
    assert_eq!(who.header["user"], "alice");
}

/// A WebSocket logged in as alice through the cookie; sends a whoami first.
async fn alice_socket(
    host: &str,
    cookie: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "whoami", "id": 1}).to_string().into(),
    ))
    .await
    .unwrap();
    let first = tokio::time::timeout(IO_LIMIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(v["user"], "alice");
    ws
}

/// Reads until the close: a pushed `unauthenticated` error, then close 1008.
async fn expect_ws_revoked(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    since: Instant,
) {
    let mut pushed = None;
    let mut closed = None;
    loop {
        match tokio::time::timeout(CLOSE_LIMIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "error" {
                    pushed = Some(v);
                }
            }
            Ok(Some(Ok(Message::Close(c)))) => {
                closed = c.map(|c| u16::from(c.code));
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(_) => break,
            Err(_) => panic!("socket still open {CLOSE_LIMIT:?} after the revocation"),
        }
    }
    assert!(since.elapsed() < CLOSE_LIMIT, "{:?}", since.elapsed());
    let v = pushed.expect("an error before the close");
    assert_eq!(v["code"], "unauthenticated", "{v}");
    assert_eq!(closed, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_del_passwd_and_logout_close_live_websockets() {
    let srv = chat_server();
    let data = srv.data();
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    for what in ["logout", "lock", "passwd", "del"] {
        let cookie = login_cookie(&host).await;
        let mut ws = alice_socket(&host, &cookie).await;
        match what {
            "logout" => {
                let (status, _, _) = common::web::http(
                    &host,
                    "POST",
                    "/api/logout",
                    &[("Cookie", cookie.as_str())],
                    "",
                )
                .await;
                assert_eq!(status, 200);
            }
            "passwd" => {
                ok(&user(
                    &data,
                    &[
                        "passwd",
                        "alice",
                        "--password-stdin",
                        "--argon2",
                        CHEAP_ARGON2,
                    ],
                    format!("{PASS}\n").as_bytes(),
                ));
            }
            _ => {
                ok(&user(&data, &[what, "alice"], b""));
            }
        }
        expect_ws_revoked(&mut ws, Instant::now()).await;
        if what == "lock" {
            ok(&user(&data, &["unlock", "alice"], b""));
        }
        if what == "del" {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_passwd_close_a_logged_in_line_member() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let srv = chat_server();
    let data = srv.data();
    for (args, stdin) in [
        (vec!["lock", "alice"], String::new()),
        (
            vec![
                "passwd",
                "alice",
                "--password-stdin",
                "--argon2",
                CHEAP_ARGON2,
            ],
            format!("{PASS}\n"),
        ),
    ] {
        let s = tokio::net::TcpStream::connect(srv.sock("chat-lines", "tcp://"))
            .await
            .unwrap();
        let (r, mut w) = s.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(format!("/login alice {PASS}\n").as_bytes())
            .await
            .unwrap();
        // Wait until in the lobby as alice.
        loop {
            let l = tokio::time::timeout(IO_LIMIT, lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if l.contains("you are alice") {
                break;
            }
        }
        ok(&user(&data, &args, stdin.as_bytes()));
        let t0 = Instant::now();
        let mut last = String::new();
        while let Some(l) = tokio::time::timeout(CLOSE_LIMIT, lines.next_line())
            .await
            .expect("line member still connected after the revocation")
            .unwrap()
        {
            last = l;
        }
        assert!(t0.elapsed() < CLOSE_LIMIT);
        assert!(
            last.contains("locked, deleted or its password changed"),
            "{last}"
        );
        if args[0] == "lock" {
            ok(&user(&data, &["unlock", "alice"], b""));
        }
    }
}
