//! The cluster: several `sockit serve` nodes sharing one throw-away
//! PostgreSQL (tests/common/pg.rs), each a real process on port 0, talking
//! the frame protocol to members on every node.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pg::Pg;
use common::{Server, add_user};
use sockit::client::{Client, ClientError};
use sockit::service::chat::PRESENCE_TTL;
use sockit::wire::{ChatEvent, ChatMessage, ChatReply, ChatRequest};

const IO_LIMIT: Duration = Duration::from_secs(30);
const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";
const NAMES: [&str; 4] = ["ann", "bob", "cid", "dan"];

/// A node on `pg`, with the same accounts as every other node (accounts
/// are still per node) and flood limits out of the way.
fn node(pg: &Pg) -> Server {
    let url = pg.url();
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP,
        "--store",
        &url,
        "--chat-rate",
        "100000",
        "--chat-burst",
        "100000",
    ]);
    for name in NAMES {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

async fn member(srv: &Server, name: &str) -> Client {
    common::framed_member(srv, name, PASS, IO_LIMIT).await
}

async fn ask(c: &mut Client, req: ChatRequest) -> Result<ChatReply, ClientError> {
    let reply = tokio::time::timeout(IO_LIMIT, c.request(req.to_frame(None)))
        .await
        .expect("a request hung")?;
    Ok(ChatReply::from_frame(&reply).unwrap())
}

async fn join(c: &mut Client, room: &str) -> u64 {
    match ask(c, ChatRequest::Join { room: room.into() })
        .await
        .unwrap()
    {
        ChatReply::Join { last_seq, .. } => last_seq,
        other => panic!("{other:?}"),
    }
}

async fn send(c: &mut Client, room: &str, text: &str) -> Result<u64, ClientError> {
    send_keyed(c, room, text, None).await
}

async fn send_keyed(
    c: &mut Client,
    room: &str,
    text: &str,
    key: Option<&str>,
) -> Result<u64, ClientError> {
    let req = ChatRequest::Send {
        room: room.into(),
        text: text.into(),
        key: key.map(str::to_owned),
    };
    match ask(c, req).await? {
        ChatReply::Send { seq, .. } => Ok(seq),
        other => panic!("{other:?}"),
    }
}

/// The next pushed chat message, skipping presence events.
async fn next_message(c: &mut Client) -> ChatMessage {
    loop {
        let f = tokio::time::timeout(IO_LIMIT, c.recv())
            .await
            .expect("no message within the time limit")
            .unwrap()
            .unwrap();
        match ChatEvent::from_frame(&f).unwrap() {
            ChatEvent::Message(m) => return m,
            _ => continue,
        }
    }
}

/// Reads `n` messages and checks they are numbered `from+1 ..= from+n`,
/// in order, with no gap and no duplicate; returns text by seq.
async fn read_contiguous(c: &mut Client, from: u64, n: u64) -> BTreeMap<u64, String> {
    let mut seen = BTreeMap::new();
    for want in from + 1..=from + n {
        let m = next_message(c).await;
        assert_eq!(m.seq, want, "out of order, a gap or a duplicate");
        seen.insert(m.seq, m.text);
    }
    seen
}

#[test]
fn throwaway_postgres_starts_answers_and_restarts() {
    let mut pg = Pg::start();
    assert_eq!(pg.psql("SELECT 1 + 1"), "2");
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    pg.restart();
    assert_eq!(pg.psql("SELECT x FROM t"), "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_on_two_nodes_make_one_contiguous_order_seen_alike_everywhere() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut reader_a = member(&a, "cid").await;
    let mut reader_b = member(&b, "dan").await;
    assert_eq!(join(&mut reader_a, "ops").await, 0);
    assert_eq!(join(&mut reader_b, "ops").await, 0);
    const EACH: u64 = 150;
    let mut pubs = Vec::new();
    for (srv, name) in [(&a, "ann"), (&b, "bob")] {
        let mut c = member(srv, name).await;
        join(&mut c, "ops").await;
        let name = name.to_string();
        pubs.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(send(&mut c, "ops", &format!("{name} {i}")).await.unwrap());
            }
            seqs
        }));
    }
    let (seen_a, seen_b) = tokio::join!(
        read_contiguous(&mut reader_a, 0, 2 * EACH),
        read_contiguous(&mut reader_b, 0, 2 * EACH)
    );
    assert_eq!(seen_a, seen_b, "the two nodes saw different orders");
    let mut acked = Vec::new();
    for p in pubs {
        let seqs = p.await.unwrap();
        // Each publisher's own messages are in its send order.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        acked.extend(seqs);
    }
    acked.sort_unstable();
    assert_eq!(acked, (1..=2 * EACH).collect::<Vec<_>>());
    // Each publisher's messages appear in its own order in the merged one.
    for name in ["ann", "bob"] {
        let mine: Vec<&String> = seen_a.values().filter(|t| t.starts_with(name)).collect();
        let want: Vec<String> = (0..EACH).map(|i| format!("{name} {i}")).collect();
        assert_eq!(mine, want.iter().collect::<Vec<_>>());
    }
    // PostgreSQL holds the same: one row per seq, contiguous.
    let rows = pg.psql("SELECT count(*), min(seq), max(seq) FROM chat_messages WHERE room = 'ops'");
    assert_eq!(rows, format!("{}|1|{}", 2 * EACH, 2 * EACH));
    assert_eq!(
        pg.psql("SELECT top FROM chat_rooms WHERE name = 'ops'"),
        (2 * EACH).to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joining_late_on_another_node_catches_up_from_history() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut ann = member(&a, "ann").await;
    join(&mut ann, "ops").await;
    for i in 0..5 {
        send(&mut ann, "ops", &format!("early {i}")).await.unwrap();
    }
    let mut bob = member(&b, "bob").await;
    assert_eq!(
        join(&mut bob, "ops").await,
        5,
        "the join sees the cluster's last seq"
    );
    let req = ChatRequest::History {
        room: "ops".into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    };
    match ask(&mut bob, req).await.unwrap() {
        ChatReply::History { messages, .. } => {
            let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, [1, 2, 3, 4, 5]);
        }
        other => panic!("{other:?}"),
    }
    send(&mut ann, "ops", "live").await.unwrap();
    let m = next_message(&mut bob).await;
    assert_eq!((m.seq, m.text.as_str()), (6, "live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_burst_clear_errors_then_every_ack_delivered() {
    let pg = Arc::new(Mutex::new(Pg::start()));
    let (a, b) = {
        let pg = pg.lock().unwrap();
        (node(&pg), node(&pg))
    };
    let mut reader = member(&b, "dan").await;
    join(&mut reader, "ops").await;
    let mut ann = member(&a, "ann").await;
    join(&mut ann, "ops").await;
    let mut acked = Vec::new();
    let mut errors = 0;
    for i in 0..20 {
        acked.push(send(&mut ann, "ops", &format!("before {i}")).await.unwrap());
    }
    // Stop PostgreSQL: sends fail at once with a clear, retryable error.
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.lock().unwrap().stop())
        .await
        .unwrap();
    for i in 0..5 {
        let started = std::time::Instant::now();
        match send(&mut ann, "ops", &format!("down {i}")).await {
            Err(ClientError::Server { code, message }) => {
                assert_eq!(code, "store", "{message}");
                assert!(message.contains("try again"), "{message}");
                errors += 1;
            }
            other => panic!("a send while PostgreSQL is down: {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "an error took too long"
        );
    }
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.lock().unwrap().restart())
        .await
        .unwrap();
    // The node reconnects by itself: sends succeed again (the first may
    // still find the old connection broken).
    let mut after = 0;
    for i in 0..200 {
        match send(&mut ann, "ops", &format!("after {i}")).await {
            Ok(seq) => {
                acked.push(seq);
                after += 1;
                if after == 20 {
                    break;
                }
            }
            Err(ClientError::Server { code, .. }) if code == "store" => errors += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(after, 20, "the node did not reconnect to PostgreSQL");
    assert!(errors >= 5);
    // The reader on the other node gets every acknowledged message, in
    // order, once: its node's feed reconnected and caught up.
    let want: Vec<u64> = (1..=acked.len() as u64).collect();
    assert_eq!(acked, want, "acked seqs are contiguous");
    let seen = read_contiguous(&mut reader, 0, acked.len() as u64).await;
    assert_eq!(seen.len(), acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_through_another_node_returns_the_original_seq() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut reader = member(&b, "dan").await;
    join(&mut reader, "ops").await;
    let mut on_a = member(&a, "ann").await;
    join(&mut on_a, "ops").await;
    let first = send_keyed(&mut on_a, "ops", "hello", Some("k-1"))
        .await
        .unwrap();
    // Node A's reply was lost; the client reconnects to node B and resends.
    let mut on_b = member(&b, "ann").await;
    join(&mut on_b, "ops").await;
    let again = send_keyed(&mut on_b, "ops", "hello", Some("k-1"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let next = send_keyed(&mut on_b, "ops", "next", Some("k-2"))
        .await
        .unwrap();
    assert_eq!(next, first + 1);
    assert_eq!(next_message(&mut reader).await.seq, first);
    assert_eq!(next_message(&mut reader).await.seq, next, "no duplicate");
    assert_eq!(pg.psql("SELECT count(*) FROM chat_messages"), "2");
}

async fn who(c: &mut Client, room: &str) -> Vec<(String, String)> {
    match ask(c, ChatRequest::Who { room: room.into() })
        .await
        .unwrap()
    {
        ChatReply::Who { members, .. } => members.into_iter().map(|m| (m.name, m.door)).collect(),
        other => panic!("{other:?}"),
    }
}

/// Asks `who` until it lists `want`, for at most `limit`; the last answer.
async fn who_until(
    c: &mut Client,
    room: &str,
    want: &[(&str, &str)],
    limit: Duration,
) -> Vec<(String, String)> {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect();
    let start = std::time::Instant::now();
    loop {
        let got = who(c, room).await;
        if got == want || start.elapsed() > limit {
            return got;
        }
        // Presence travels with the once-a-second heartbeat: ask again.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_lists_every_node_and_a_killed_node_vanishes_within_the_ttl() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut ann = member(&a, "ann").await;
    join(&mut ann, "ops").await;
    let mut bob = member(&b, "bob").await;
    join(&mut bob, "ops").await;
    let both = [("ann", "frame"), ("bob", "frame")];
    assert_eq!(
        who_until(&mut bob, "ops", &both, Duration::from_secs(5)).await,
        who_until(&mut ann, "ops", &both, Duration::from_secs(5)).await
    );
    assert_eq!(
        who(&mut bob, "ops").await.len(),
        2,
        "bob sees ann on node A"
    );
    // Node A dies without a word: its members go within the TTL plus one
    // heartbeat, and not long before it.
    let killed = std::time::Instant::now();
    let _ = a.kill_keep_dir();
    let limit = PRESENCE_TTL + Duration::from_secs(3);
    let left = who_until(&mut bob, "ops", &[("bob", "frame")], limit).await;
    assert_eq!(left, [("bob".to_string(), "frame".to_string())]);
    let took = killed.elapsed();
    assert!(took <= limit, "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_get_other_nodes_messages_but_never_their_own() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut ann = member(&a, "ann").await;
    join(&mut ann, "ops").await;
    let mut bob = member(&b, "bob").await;
    join(&mut bob, "ops").await;
    for i in 0..20 {
        send(&mut ann, "ops", &format!("ann {i}")).await.unwrap();
    }
    for want in 1..=20 {
        let m = next_message(&mut bob).await;
        assert_eq!((m.seq, m.name.as_str()), (want, "ann"));
    }
    let seq = send(&mut bob, "ops", "from bob").await.unwrap();
    assert_eq!(seq, 21);
    // Ann's 20 messages are in PostgreSQL too, where her node's feed reads
    // the outbox: they are not pushed back to her; bob's is.
    let m = next_message(&mut ann).await;
    assert_eq!((m.seq, m.name.as_str()), (21, "bob"));
}

async fn join_epoch(c: &mut Client, room: &str) -> String {
    match ask(c, ChatRequest::Join { room: room.into() })
        .await
        .unwrap()
    {
        ChatReply::Join { epoch, .. } => epoch,
        other => panic!("{other:?}"),
    }
}

/// `chat.history` with `before` on PostgreSQL: older pages, oldest first,
/// on a node that did not post them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scroll_back_pages_older_messages_on_every_node() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let (mut ann, mut bob) = (member(&a, "ann").await, member(&b, "bob").await);
    join(&mut ann, "old").await;
    for i in 1..=7 {
        send(&mut ann, "old", &format!("m{i}")).await.unwrap();
    }
    let page = |before, last| ChatRequest::History {
        room: "old".into(),
        last: Some(last),
        after: None,
        before: Some(before),
        epoch: None,
    };
    let texts = |r: ChatReply| match r {
        ChatReply::History { messages, more, .. } => (
            messages.into_iter().map(|m| m.text).collect::<Vec<_>>(),
            more,
        ),
        other => panic!("{other:?}"),
    };
    let got = texts(ask(&mut bob, page(6, 3)).await.unwrap());
    assert_eq!(got, (vec!["m3".into(), "m4".into(), "m5".into()], true));
    let got = texts(ask(&mut bob, page(3, 5)).await.unwrap());
    assert_eq!(got, (vec!["m1".into(), "m2".into()], false));
    let both = ChatRequest::History {
        room: "old".into(),
        last: None,
        after: Some(1),
        before: Some(3),
        epoch: None,
    };
    let err = ask(&mut bob, both).await.unwrap_err();
    assert_eq!(err.code(), Some("bad_request"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_nodes_report_one_epoch_for_a_room() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let (mut ann, mut bob) = (member(&a, "ann").await, member(&b, "bob").await);
    // A room with no history yet, created through both nodes at once.
    let (ea, eb) = tokio::join!(join_epoch(&mut ann, "fresh"), join_epoch(&mut bob, "fresh"));
    assert_eq!(ea.len(), 16, "{ea:?}");
    assert_eq!(ea, eb, "one epoch for the room on every node");
    send(&mut ann, "fresh", "one").await.unwrap();
    for c in [&mut ann, &mut bob] {
        let req = ChatRequest::History {
            room: "fresh".into(),
            last: None,
            after: Some(0),
            before: None,
            epoch: Some(ea.clone()),
        };
        match ask(c, req).await.unwrap() {
            ChatReply::History {
                messages, epoch, ..
            } => {
                assert_eq!(epoch, ea);
                assert_eq!(messages.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
    let req = ChatRequest::History {
        room: "fresh".into(),
        last: None,
        after: Some(0),
        before: None,
        epoch: Some("0123456789abcdef".into()),
    };
    let err = ask(&mut bob, req).await.unwrap_err();
    assert_eq!(err.code(), Some("stale_epoch"), "{err}");
    // A node started later reads the same epoch from the store.
    let c = node(&pg);
    let mut cid = member(&c, "cid").await;
    assert_eq!(join_epoch(&mut cid, "fresh").await, ea);
}
