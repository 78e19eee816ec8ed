//! The chaos test (issue 19), after Centrifuge's cross-node recovery and
//! reconnect-storm scenarios: three `sockit serve` nodes on one throw-away
//! PostgreSQL, a publisher and a subscriber on every node, forced
//! reconnects, one node killed with `kill -9` mid-burst and restarted, and
//! PostgreSQL restarted once. The check: every acknowledged seq is seen by
//! every subscriber exactly once, in order, and every publisher's message
//! is acknowledged exactly once (idempotency keys make its resends safe);
//! and every upload made through the chaos (resumed on whichever node
//! answers) is intact, read back byte for byte.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use common::pg::Pg;
use sockit::client::transfer::{GetOptions, NoProgress, PutOptions, chunk_for, get_file, put_file};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::wire::ErrorCode;
use sockit::wire::path::RelPath;
use sockit::wire::{ChatEvent, ChatReply, ChatRequest, Frame};

const ROOM: &str = "chaos";
const PASS: &str = "correct horse battery";
const NODES: usize = 3;
/// Messages per publisher (one publisher per node).
const PER_PUBLISHER: u64 = 150;
const TOTAL: u64 = PER_PUBLISHER * NODES as u64;
/// Files the uploader puts, and their size: two 4 MiB wire chunks and a
/// tail each, so a put cut off by the chaos resumes mid-file.
const FILES: u64 = 5;
const FILE_BYTES: usize = 9 << 20;
/// How long one request may take before the test calls it a hang.
const IO_LIMIT: Duration = Duration::from_secs(15);
/// The whole run's bound: far above what it needs, so only a hang trips it.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Pause between attempts while a node or PostgreSQL is down (a retry
/// back-off, not a wait for readiness: every attempt checks for real).
const BACKOFF: Duration = Duration::from_millis(50);

fn node_args(url: &str) -> Vec<String> {
    [
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        "m=256,t=1,p=1",
        "--store",
        url,
        "--chat-rate",
        "100000",
        "--chat-burst",
        "100000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn start_node(url: &str, dir: Option<tempfile::TempDir>) -> Server {
    let args = node_args(url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match dir {
        Some(d) => Server::start_in(d, &args),
        None => Server::start(&args),
    }
}

/// Every publisher's and subscriber's account, in the shared store.
fn add_accounts(pg: &Pg) {
    for i in 0..NODES {
        pg.add_user(&format!("pub{i}"), PASS);
        pg.add_user(&format!("sub{i}"), PASS);
    }
    pg.add_user("up", PASS);
}

/// Logs in as `name` on node `home`, or on the next one that answers.
async fn login_anywhere(addrs: &Addrs, home: usize, name: &str, deadline: Instant) -> Client {
    let mut turn = home;
    loop {
        assert!(Instant::now() < deadline, "{name}: no node took it in time");
        let addr = addrs.lock().unwrap()[turn % NODES].clone();
        turn += 1;
        let ep: Endpoint = addr.parse().unwrap();
        if let Ok(mut c) = Client::connect(&ep, IO_LIMIT).await {
            if let Ok(Ok(_)) = tokio::time::timeout(IO_LIMIT, c.login(name, PASS)).await {
                return c;
            }
        }
        tokio::time::sleep(BACKOFF).await;
    }
}

/// The content of upload `k`.
fn upload_bytes(k: u64) -> Vec<u8> {
    common::random_bytes(FILE_BYTES, 0xc4a0 + k)
}

fn upload_path(k: u64) -> RelPath {
    RelPath::parse(&format!("chaos/f{k}.bin")).unwrap()
}

/// Puts `FILES` files, each through whichever node answers and again
/// (resuming what the store holds) after a node or PostgreSQL went away,
/// counting each completed one in `done`. A put whose reply was lost
/// finds the file there (`conflict`): checked at the end like the others.
async fn uploader(addrs: Addrs, dir: PathBuf, done: Arc<AtomicU64>, deadline: Instant) {
    for k in 0..FILES {
        let local = dir.join(format!("f{k}.bin"));
        std::fs::write(&local, upload_bytes(k)).unwrap();
        let mut turn = k as usize;
        loop {
            let mut c = login_anywhere(&addrs, turn, "up", deadline).await;
            turn += 1;
            let opts = PutOptions {
                chunk: chunk_for(None),
                ..PutOptions::default()
            };
            let remote = upload_path(k);
            let put = put_file(&mut c, &local, &remote, opts, &NoProgress);
            match tokio::time::timeout(IO_LIMIT * 4, put)
                .await
                .expect("a put hung")
            {
                Ok(out) => {
                    assert_eq!(out.size, FILE_BYTES as u64);
                    break;
                }
                Err(e) if e.server_code() == Some(ErrorCode::Conflict) => break,
                Err(_) => tokio::time::sleep(BACKOFF).await,
            }
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reads every upload back through node `n` and compares it byte for byte.
async fn check_uploads(addrs: &Addrs, dir: &Path, deadline: Instant) {
    let mut c = login_anywhere(addrs, 0, "up", deadline).await;
    for k in 0..FILES {
        let back = dir.join(format!("back{k}.bin"));
        let opts = GetOptions {
            chunk: chunk_for(None),
            ..GetOptions::default()
        };
        get_file(&mut c, &upload_path(k), &back, opts, &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("upload {k} cannot be read back: {e}"));
        assert!(
            std::fs::read(&back).unwrap() == upload_bytes(k),
            "upload {k} is not intact"
        );
    }
}

/// The nodes' current framed addresses (a restarted node gets a new port).
type Addrs = Arc<Mutex<Vec<String>>>;

/// Connects as `name`, trying node `home` first and then the others in
/// turn, until one accepts the login and the join; returns the client and
/// the room's `last_seq`.
async fn connect(addrs: &Addrs, home: usize, name: &str, deadline: Instant) -> (Client, u64) {
    let mut turn = home;
    loop {
        assert!(Instant::now() < deadline, "{name}: no node took it in time");
        let addr = addrs.lock().unwrap()[turn % NODES].clone();
        turn += 1;
        let ep: Endpoint = addr.parse().unwrap();
        let Ok(mut c) = Client::connect(&ep, IO_LIMIT).await else {
            tokio::time::sleep(BACKOFF).await;
            continue;
        };
        if c.login(name, PASS).await.is_err() {
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        match ask(&mut c, ChatRequest::Join { room: ROOM.into() }).await {
            Ok(ChatReply::Join { last_seq, .. }) => return (c, last_seq),
            Ok(other) => panic!("{other:?}"),
            Err(_) => tokio::time::sleep(BACKOFF).await,
        }
    }
}

async fn ask(c: &mut Client, req: ChatRequest) -> Result<ChatReply, ClientError> {
    let reply = tokio::time::timeout(IO_LIMIT, c.request(req.to_frame(None)))
        .await
        .expect("a request hung: errors must be clear and quick, never a hang")?;
    Ok(ChatReply::from_frame(&reply).unwrap())
}

/// [`ask`], keeping the frames pushed before the reply (live events) in
/// `early` instead of dropping them as [`Client::request`] does.
async fn ask_keeping_events(
    c: &mut Client,
    req: ChatRequest,
    early: &mut std::collections::VecDeque<Frame>,
) -> Result<ChatReply, ClientError> {
    let id = c.next_id();
    c.send(req.to_frame(Some(id))).await?;
    loop {
        let f = tokio::time::timeout(IO_LIMIT, c.recv())
            .await
            .expect("a request hung: errors must be clear and quick, never a hang")?
            .ok_or(ClientError::Closed)?;
        if f.id() == Some(id) {
            if f.kind() == Some("error") {
                return Err(ClientError::Unexpected(format!("{f:?}")));
            }
            return Ok(ChatReply::from_frame(&f).unwrap());
        }
        early.push_back(f);
    }
}

/// Publishes `PER_PUBLISHER` keyed messages, resending each (same key,
/// through whichever node answers) until it is acknowledged; returns the
/// acknowledged seqs in order of acknowledgement.
async fn publisher(addrs: Addrs, i: usize, acked: Arc<AtomicU64>, deadline: Instant) -> Vec<u64> {
    let name = format!("pub{i}");
    let mut seqs = Vec::new();
    let mut conn = None;
    for k in 0..PER_PUBLISHER {
        let key = format!("{name}-{k}");
        loop {
            assert!(
                Instant::now() < deadline,
                "{name}: {key} never acknowledged"
            );
            if conn.is_none() {
                conn = Some(connect(&addrs, i, &name, deadline).await.0);
            }
            let c = conn.as_mut().unwrap();
            let req = ChatRequest::Send {
                room: ROOM.into(),
                text: key.clone(),
                key: Some(key.clone()),
            };
            match ask(c, req).await {
                Ok(ChatReply::Send { seq, .. }) => {
                    seqs.push(seq);
                    acked.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                Ok(other) => panic!("{other:?}"),
                // The store is down: a clear, retryable error; the
                // connection stays usable.
                Err(ClientError::Server { code, .. }) if code == "store" => {
                    tokio::time::sleep(BACKOFF).await;
                }
                // The node went away (killed) or the reply was lost:
                // reconnect and resend with the same key.
                Err(_) => {
                    conn = None;
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }
    seqs
}

/// Follows the room until it has seen seq `TOTAL`, reconnecting (and
/// catching up from history after the last seq it saw) whenever its node
/// goes away, and once of its own accord every `drop_every` messages.
/// Returns every seq in the order seen, with their texts.
async fn subscriber(
    addrs: Addrs,
    i: usize,
    drop_every: u64,
    deadline: Instant,
) -> Vec<(u64, String)> {
    let name = format!("sub{i}");
    let mut seen: Vec<(u64, String)> = Vec::new();
    let last = |seen: &Vec<(u64, String)>| seen.last().map_or(0, |m| m.0);
    while last(&seen) < TOTAL {
        let (mut c, last_seq) = connect(&addrs, i, &name, deadline).await;
        // Catch up from history: after the last seq seen, up to the join's.
        // Live events pushed meanwhile are kept for after the catch-up.
        let mut early = std::collections::VecDeque::new();
        let mut broken = false;
        while last(&seen) < last_seq {
            let req = ChatRequest::History {
                room: ROOM.into(),
                last: None,
                after: Some(last(&seen)),
                before: None,
                epoch: None,
            };
            match ask_keeping_events(&mut c, req, &mut early).await {
                Ok(ChatReply::History { messages, .. }) => {
                    assert!(!messages.is_empty(), "{name}: empty page before {last_seq}");
                    for m in messages.into_iter().filter(|m| m.seq <= last_seq) {
                        assert_eq!(m.seq, last(&seen) + 1, "{name}: history gap/duplicate");
                        seen.push((m.seq, m.text));
                    }
                }
                Ok(other) => panic!("{other:?}"),
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        // Then live: exactly the next seq every time.
        let mut live = 0;
        while !broken && last(&seen) < TOTAL {
            assert!(
                Instant::now() < deadline,
                "{name}: stalled at {}",
                last(&seen)
            );
            let next = match early.pop_front() {
                Some(f) => Ok(Ok(Some(f))),
                None => tokio::time::timeout(IO_LIMIT, c.recv()).await,
            };
            let frame = match next {
                Ok(Ok(Some(f))) => f,
                // The node died (or went silent): reconnect and catch up.
                _ => break,
            };
            match ChatEvent::from_frame(&frame) {
                Ok(ChatEvent::Message(m)) => {
                    assert_eq!(
                        m.seq,
                        last(&seen) + 1,
                        "{name}: live gap or duplicate, {live} live messages after joining at {last_seq}"
                    );
                    seen.push((m.seq, m.text));
                    live += 1;
                    if live % drop_every == 0 {
                        break; // a forced reconnect
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_kill_9_and_a_postgres_restart_with_no_gap_or_duplicate() {
    let pg = Arc::new(Mutex::new(Pg::start()));
    add_accounts(&pg.lock().unwrap());
    let url = pg.lock().unwrap().url();
    let mut nodes: Vec<Option<Server>> = Vec::new();
    for _ in 0..NODES {
        let u = url.clone();
        let srv = tokio::task::spawn_blocking(move || start_node(&u, None))
            .await
            .unwrap();
        nodes.push(Some(srv));
    }
    let addrs: Addrs = Arc::new(Mutex::new(
        nodes
            .iter()
            .map(|n| n.as_ref().unwrap().addr("framed", "tcp://"))
            .collect(),
    ));
    let deadline = Instant::now() + RUN_LIMIT;
    let acked = Arc::new(AtomicU64::new(0));
    let uploaded = Arc::new(AtomicU64::new(0));
    let files = tempfile::tempdir().unwrap();
    let up = tokio::spawn(uploader(
        addrs.clone(),
        files.path().to_path_buf(),
        uploaded.clone(),
        deadline,
    ));

    // Subscribers first (each joined before any message), then publishers.
    let mut subs = Vec::new();
    for i in 0..NODES {
        let drop_every = [97, 131, 1_000][i];
        subs.push(tokio::spawn(subscriber(
            addrs.clone(),
            i,
            drop_every,
            deadline,
        )));
    }
    let mut pubs = Vec::new();
    for i in 0..NODES {
        pubs.push(tokio::spawn(publisher(
            addrs.clone(),
            i,
            acked.clone(),
            deadline,
        )));
    }

    // kill -9 the third node a third of the way through (and with an
    // upload done and more to come), then restart it on its own data
    // directory (accounts, chat and files are in PostgreSQL).
    wait_for(&acked, TOTAL / 3, deadline).await;
    wait_for(&uploaded, 1, deadline).await;
    let victim = nodes[2].take().unwrap();
    let dir = tokio::task::spawn_blocking(move || victim.kill_keep_dir())
        .await
        .unwrap();
    let u = url.clone();
    let back = tokio::task::spawn_blocking(move || start_node(&u, Some(dir)))
        .await
        .unwrap();
    addrs.lock().unwrap()[2] = back.addr("framed", "tcp://");
    nodes[2] = Some(back);

    // Restart PostgreSQL two thirds of the way through.
    wait_for(&acked, 2 * TOTAL / 3, deadline).await;
    wait_for(&uploaded, 2, deadline).await;
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.lock().unwrap().restart())
        .await
        .unwrap();

    up.await.unwrap();
    check_uploads(&addrs, files.path(), deadline).await;

    let mut all_acked = Vec::new();
    for p in pubs {
        all_acked.extend(p.await.unwrap());
    }
    all_acked.sort_unstable();
    let want: Vec<u64> = (1..=TOTAL).collect();
    assert_eq!(
        all_acked, want,
        "each message acknowledged once, seqs contiguous"
    );
    let committed = pg
        .lock()
        .unwrap()
        .psql("SELECT count(*) FROM chat_messages");
    assert_eq!(committed, TOTAL.to_string(), "no message stored twice");

    let mut first: Option<Vec<(u64, String)>> = None;
    for s in subs {
        let seen = s.await.unwrap();
        let seqs: Vec<u64> = seen.iter().map(|m| m.0).collect();
        assert_eq!(seqs, want, "every acked seq once, in order");
        match &first {
            None => first = Some(seen),
            Some(f) => assert_eq!(&seen, f, "every subscriber saw the same texts"),
        }
    }
}

/// Waits (polling a counter the publishers or the uploader bump) until
/// `n` messages or uploads are done.
async fn wait_for(acked: &AtomicU64, n: u64, deadline: Instant) {
    while acked.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "publishers or the uploader stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A node stopped the ordinary way (SIGTERM, as systemd does) while its
/// members are chatting exits cleanly: its PostgreSQL connections are
/// closed without aborting the process, and what it acknowledged stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_with_sigterm_exits_cleanly_and_keeps_what_it_acked() {
    let pg = Pg::start();
    add_accounts(&pg);
    let url = pg.url();
    let mut srv = tokio::task::spawn_blocking(move || start_node(&url, None))
        .await
        .unwrap();
    let addrs: Addrs = Arc::new(Mutex::new(vec![srv.addr("framed", "tcp://"); NODES]));
    let deadline = Instant::now() + RUN_LIMIT;
    let (mut c, _) = connect(&addrs, 0, "pub0", deadline).await;
    for i in 0..10 {
        let req = ChatRequest::Send {
            room: ROOM.into(),
            text: format!("m{i}"),
            key: None,
        };
        assert!(matches!(ask(&mut c, req).await, Ok(ChatReply::Send { .. })));
    }
    let status = tokio::task::spawn_blocking(move || srv.stop())
        .await
        .unwrap();
    assert!(status.success(), "the node did not exit cleanly: {status}");
    assert_eq!(pg.psql("SELECT count(*) FROM chat_messages"), "10");
}
