//! A PostgreSQL restart under a running node (tests/common/pg.rs): every
//! connection the node held is dead afterwards, and the first call on
//! each must still succeed, on a fresh connection, with nothing run twice
//! (`PgConn`'s one stale-connection rule). End to end, a real `sockit
//! serve` on port 0: the first password login, share lookup, file read
//! and chat send after the restart. Through the library: the rule itself,
//! and `synchronous_commit` kept across the reconnect.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::pg::Pg;
use common::run_env;
use common::share::{get, path_of, sha256};
use sockit::client::Client;
use sockit::store::pg::{IDLE_CHECK, PgConn, PgTarget};
use sockit::wire::{ChatReply, ChatRequest};

const PASS: &str = "correct horse battery";
const IO_LIMIT: Duration = Duration::from_secs(30);

/// Runs `sockit ARGS` as alice with the CLI configuration `cfg`.
fn cli(cfg: &Path, addr: &str, args: &[&str]) -> Output {
    let env = [
        ("SOCKIT_CONFIG_DIR", cfg),
        ("SOCKIT_SERVER", Path::new(addr)),
    ];
    run_env(args, format!("{PASS}\n").as_bytes(), &env)
}

fn login(cfg: &Path, addr: &str) -> Output {
    cli(
        cfg,
        addr,
        &["login", addr, "--user", "alice", "--password-stdin"],
    )
}

/// Sends `text` to `room`; its seq, or the server's refusal.
async fn send(c: &mut Client, room: &str, text: &str) -> Result<u64, String> {
    let req = ChatRequest::Send {
        room: room.into(),
        text: text.into(),
        key: None,
    };
    match common::chat::ask(c, req).await {
        Ok(ChatReply::Send { seq, .. }) => Ok(seq),
        other => Err(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_postgres_restart_the_first_login_share_lookup_file_read_and_send_succeed() {
    let mut pg = Pg::start();
    let (srv, addr, web) = pg.node_with_web(&[]);
    pg.add_user("alice", PASS);
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("cfg");
    // Every service's connection opened and used once: a login, a put, a
    // share and its lookup, a read, a chat send.
    common::ok(&login(&cfg, &addr));
    let src = home.path().join("f.bin");
    std::fs::write(&src, common::random_bytes(300_000, 7)).unwrap();
    common::ok(&cli(&cfg, &addr, &["put", src.to_str().unwrap()]));
    let share: serde_json::Value = serde_json::from_str(&common::ok(&cli(
        &cfg,
        &addr,
        &["share", ":f.bin", "--json"],
    )))
    .unwrap();
    let info = format!("{}/info", path_of(share["url"].as_str().unwrap()));
    assert_eq!(get(&web, &info, &[]).await.0, 200);
    let got = home.path().join("got.bin");
    common::ok(&cli(&cfg, &addr, &["get", ":f.bin", got.to_str().unwrap()]));
    let mut chat = common::framed_member(&srv, "alice", PASS, IO_LIMIT).await;
    let join = ChatRequest::Join { room: "ops".into() };
    common::chat::ask(&mut chat, join).await.unwrap();
    assert_eq!(send(&mut chat, "ops", "before").await, Ok(1));

    tokio::task::block_in_place(|| pg.restart());

    // Each the first use of its service's connection since the restart
    // (the login's is the accounts store's, the read's the file pool's);
    // every one is tried, and what failed is named.
    let mut failed = Vec::new();
    let out = login(&home.path().join("cfg2"), &addr);
    if !out.status.success() {
        failed.push(format!("the first login: {out:?}"));
    }
    let (status, head, _) = get(&web, &info, &[]).await;
    if status != 200 {
        failed.push(format!("the first share lookup: {head}"));
    }
    std::fs::remove_file(&got).unwrap();
    let out = cli(&cfg, &addr, &["get", ":f.bin", got.to_str().unwrap()]);
    if !out.status.success() || sha256(&got) != sha256(&src) {
        failed.push(format!("the first file read: {out:?}"));
    }
    if let Err(e) = send(&mut chat, "ops", "after").await {
        failed.push(format!("the first send: {e}"));
    }
    assert!(failed.is_empty(), "{failed:#?}");
    // Nothing ran twice: the one send after the restart took the next seq.
    assert_eq!(send(&mut chat, "ops", "later").await, Ok(3));
}

/// The rule itself: a connection the server ended while it sat idle (for
/// `IDLE_CHECK` or longer) is replaced before the next call's statement
/// is sent, so that call succeeds, and its write happens once.
#[test]
fn a_connection_ended_while_idle_is_replaced_before_the_next_call() {
    let mut pg = Pg::start();
    let target = PgTarget::parse(&pg.url()).unwrap();
    let mut conn = PgConn::open(target).unwrap();
    conn.with(|c| c.batch_execute("CREATE TABLE t (n INT)"))
        .unwrap();
    pg.restart();
    conn.with(|c| c.execute("INSERT INTO t VALUES (1)", &[]))
        .unwrap();
    // Ended by hand, too (what a restart does to each session).
    let pid: i32 = conn
        .with(|c| c.query_one("SELECT pg_backend_pid()", &[]))
        .unwrap()
        .get(0);
    pg.psql(&format!("SELECT pg_terminate_backend({pid}, 10000)"));
    // Idle for as long as the rule waits before it checks (a restart
    // alone takes longer).
    std::thread::sleep(IDLE_CHECK);
    conn.with(|c| c.execute("INSERT INTO t VALUES (2)", &[]))
        .unwrap();
    assert_eq!(
        pg.psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t"),
        "1,2"
    );
}

/// `set_sync_commit(false)` holds for the connection, and again after it
/// was replaced; a connection without it keeps PostgreSQL's default.
#[test]
fn synchronous_commit_off_is_kept_across_a_reconnect_and_only_where_set() {
    let mut pg = Pg::start();
    let target = PgTarget::parse(&pg.url()).unwrap();
    let show = |c: &mut PgConn| -> String {
        c.with(|c| c.query_one("SHOW synchronous_commit", &[]))
            .unwrap()
            .get(0)
    };
    let mut writer = PgConn::open(target.clone()).unwrap();
    writer.set_sync_commit(false).unwrap();
    let mut other = PgConn::open(target).unwrap();
    assert_eq!(show(&mut writer), "off");
    assert_eq!(show(&mut other), "on");
    pg.restart();
    assert_eq!(show(&mut writer), "off", "after the reconnect");
    assert_eq!(show(&mut other), "on");
}

/// `--store-sync-commit off` serves: sends are acknowledged with
/// contiguous seqs and land in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_sync_commit_off_acknowledges_and_stores_every_send() {
    let pg = Pg::start();
    let (srv, _, _) = pg.node_with_web(&[
        "--store-sync-commit",
        "off",
        "--chat-rate",
        "100000",
        "--chat-burst",
        "100000",
    ]);
    pg.add_user("alice", PASS);
    let mut chat = common::framed_member(&srv, "alice", PASS, IO_LIMIT).await;
    let join = ChatRequest::Join { room: "ops".into() };
    common::chat::ask(&mut chat, join).await.unwrap();
    for i in 1..=20 {
        assert_eq!(send(&mut chat, "ops", &format!("m{i}")).await, Ok(i));
    }
    assert_eq!(
        pg.psql("SELECT count(*), max(seq) FROM chat_messages WHERE room = 'ops'"),
        "20|20"
    );
}

/// Without a PostgreSQL store the flag has nothing to set: refused, with
/// the reason, rather than ignored.
#[test]
fn sync_commit_off_without_postgres_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let out = common::run(
        &[
            "serve",
            "--data",
            data.path().to_str().unwrap(),
            "--listen",
            "tcp://127.0.0.1:0",
            "--store-sync-commit",
            "off",
        ],
        b"",
    );
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a PostgreSQL --store"), "{err}");
}
