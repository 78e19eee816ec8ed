//! `passwd`: a user changes their own password over the frame protocol (and
//! the web page's WebSocket, which carries the same requests). The current
//! password is checked, a bad new one refused, and every other session of
//! the account ends at once while the asking connection stays.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{CHEAP_ARGON2, Server, add_user};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::wire::Frame;

const PASS: &str = "correct horse battery";
const NEW: &str = "staple battery horse";
const IO_LIMIT: Duration = Duration::from_secs(30);
/// The promise is one second; the margin absorbs a loaded machine.
const CLOSE_LIMIT: Duration = Duration::from_secs(3);

fn server() -> Server {
    let srv = Server::start(&["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2]);
    for name in ["alice", "bob"] {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

async fn connect(srv: &Server) -> Client {
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    Client::connect(&ep, IO_LIMIT).await.unwrap()
}

async fn member(srv: &Server, name: &str, pass: &str) -> Client {
    let mut c = connect(srv).await;
    c.login(name, pass).await.unwrap();
    c
}

fn passwd(current: &str, new: &str) -> Frame {
    Frame::new("passwd")
        .set("password", current)
        .set("new_password", new)
}

fn code(r: Result<Frame, ClientError>) -> String {
    match r {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwd_checks_the_current_password_and_the_new_one() {
    let srv = server();
    let mut a = member(&srv, "alice", PASS).await;
    assert_eq!(
        code(a.request(passwd("wrong password", NEW)).await),
        "invalid_credentials"
    );
    assert_eq!(code(a.request(passwd(PASS, "short")).await), "bad_request");
    let long = "x".repeat(1025);
    assert_eq!(code(a.request(passwd(PASS, &long)).await), "bad_request");
    assert_eq!(code(a.request(passwd(&long, NEW)).await), "bad_request");
    // Nothing changed: the old password still logs in.
    member(&srv, "alice", PASS).await;
    // Anonymous: unauthenticated, whatever the fields.
    let mut anon = connect(&srv).await;
    assert_eq!(
        code(anon.request(passwd(PASS, NEW)).await),
        "unauthenticated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwd_ends_the_other_sessions_and_keeps_this_one() {
    let srv = server();
    let mut a = member(&srv, "alice", PASS).await;
    let mut other = member(&srv, "alice", PASS).await;
    let mut bob = member(&srv, "bob", PASS).await;
    let reply = a.request(passwd(PASS, NEW)).await.unwrap();
    assert_eq!(reply.kind(), Some("passwd"));
    assert_eq!(reply.header["ended"], 1, "{:?}", reply.header);
    let t0 = Instant::now();
    // The other session is pushed out at once, not at its next request.
    let mut pushed = None;
    loop {
        match tokio::time::timeout(CLOSE_LIMIT, other.recv()).await {
            Ok(Ok(Some(f))) if f.kind() == Some("error") => pushed = Some(f),
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) => break,
            Err(_) => panic!("the other session is still open after {CLOSE_LIMIT:?}"),
        }
    }
    assert!(t0.elapsed() < CLOSE_LIMIT);
    assert_eq!(pushed.unwrap().header["code"], "unauthenticated");
    // This connection and bob's go on.
    let who = a.request(Frame::new("whoami")).await.unwrap();
    assert_eq!(who.header["user"], "alice");
    let who = bob.request(Frame::new("whoami")).await.unwrap();
    assert_eq!(who.header["user"], "bob");
    // The old password is refused, the new one works.
    let mut c = connect(&srv).await;
    let e = c.login("alice", PASS).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Server { ref code, .. } if code == "invalid_credentials"),
        "{e}"
    );
    member(&srv, "alice", NEW).await;
}

/// On a cluster the accounts are in PostgreSQL: a password changed through
/// node A ends the account's session on node B within the second promised
/// (the revocation log and its wake-up), keeps the asking one, and node B
/// takes the new password only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwd_on_one_node_ends_the_session_on_another() {
    let pg = common::pg::Pg::start();
    pg.add_user("alice", PASS);
    let url = pg.url();
    let args = [
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP_ARGON2,
        "--store",
        &url,
    ];
    let (a, b) = (Server::start(&args), Server::start(&args));
    let mut on_a = member(&a, "alice", PASS).await;
    let mut on_b = member(&b, "alice", PASS).await;
    let reply = on_a.request(passwd(PASS, NEW)).await.unwrap();
    assert_eq!(reply.header["ended"], 1, "{:?}", reply.header);
    let t0 = Instant::now();
    loop {
        match tokio::time::timeout(CLOSE_LIMIT, on_b.recv()).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) => break,
            Err(_) => panic!("node B's session is still open after {CLOSE_LIMIT:?}"),
        }
    }
    assert!(t0.elapsed() < CLOSE_LIMIT);
    let who = on_a.request(Frame::new("whoami")).await.unwrap();
    assert_eq!(who.header["user"], "alice");
    let mut c = connect(&b).await;
    let e = c.login("alice", PASS).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Server { ref code, .. } if code == "invalid_credentials"),
        "{e}"
    );
    member(&b, "alice", NEW).await;
}
