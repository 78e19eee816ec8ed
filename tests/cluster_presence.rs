//! Join and leave notices across the nodes of a cluster: two `sockit
//! serve` nodes on one throw-away PostgreSQL, with a short grace period.
//! A member who stays on one node is announced on the other once, after
//! the grace; one who comes and goes within it is announced nowhere; a
//! killed node's members are announced as gone once its presence expires,
//! except one who came back on the other node meanwhile.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::chat::{ask, next_any, say};
use common::pg::Pg;
use sockit::client::Client;
use sockit::wire::{ChatEvent, ChatRequest};

const IO_LIMIT: Duration = Duration::from_secs(30);
const PASS: &str = "correct horse battery";
const ROOM: &str = "ops";

fn node(pg: &Pg) -> Server {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        common::CHEAP_ARGON2,
        "--chat-presence-grace",
        "3",
        "--store",
        &pg.url(),
    ]);
    for name in ["ann", "bob", "cid", "dan", "eve"] {
        pg.add_user(name, PASS);
    }
    srv
}

async fn member_in(srv: &Server, name: &str) -> Client {
    let mut c = common::framed_member(srv, name, PASS, IO_LIMIT).await;
    ask(&mut c, ChatRequest::Join { room: ROOM.into() })
        .await
        .unwrap();
    c
}

/// A presence event as a user reads it: the kind, and who joined and who
/// left (one name for `join`/`leave`, the lists of a `summary`).
#[derive(Debug, PartialEq, Eq)]
struct Heard {
    event: String,
    joined: Vec<String>,
    left: Vec<String>,
}

/// The next event that is not a typing notice.
async fn next(c: &mut Client) -> ChatEvent {
    loop {
        match next_any(c).await {
            ChatEvent::Typing { .. } => continue,
            ev => return ev,
        }
    }
}

/// The next presence event, skipping messages.
async fn heard(c: &mut Client) -> Heard {
    loop {
        if let ChatEvent::Presence {
            event,
            name,
            joined,
            left,
            ..
        } = next(c).await
        {
            let (joined, left) = match event.as_str() {
                "join" => (vec![name], vec![]),
                "leave" | "cutoff" => (vec![], vec![name]),
                _ => (joined, left),
            };
            return Heard {
                event,
                joined,
                left,
            };
        }
    }
}

fn one(event: &str, name: &str) -> Heard {
    let who = vec![name.to_owned()];
    match event {
        "join" => Heard {
            event: event.into(),
            joined: who,
            left: vec![],
        },
        _ => Heard {
            event: event.into(),
            joined: vec![],
            left: who,
        },
    }
}

/// Ann and cid in the room on `a`, ann told of cid's arrival (so node `a`
/// has looked at the other nodes for the room by then), and each with
/// nothing more to hear.
async fn settled(a: &Server) -> (Client, Client) {
    let mut ann = member_in(a, "ann").await;
    assert_eq!(
        heard(&mut ann).await,
        one("join", "ann"),
        "her own, at once"
    );
    let mut cid = member_in(a, "cid").await;
    assert_eq!(heard(&mut cid).await, one("join", "cid"));
    assert_eq!(heard(&mut ann).await, one("join", "cid"));
    // Cid heard of ann's arrival if he came before its grace was over.
    say(&mut ann, ROOM, "settled").await;
    loop {
        match next(&mut cid).await {
            ChatEvent::Message(m) if m.text == "settled" => break,
            ChatEvent::Presence { name, .. } if name == "ann" => {}
            ev => panic!("{ev:?}"),
        }
    }
    (ann, cid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_on_one_node_is_heard_on_the_other_once_and_a_quick_visit_nowhere() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let (mut ann, mut cid) = settled(&a).await;
    // Dan on b: ann and cid were there before him, and are no news to
    // him; he is to them, once the grace is over.
    let mut dan = member_in(&b, "dan").await;
    assert_eq!(heard(&mut dan).await, one("join", "dan"));
    for c in [&mut ann, &mut cid] {
        assert_eq!(heard(c).await, one("join", "dan"));
    }

    // Eve on b does what `sockit say` does: join, post, go.
    let mut eve = member_in(&b, "eve").await;
    say(&mut eve, ROOM, "eve was here").await;
    drop(eve);
    for c in [&mut ann, &mut cid, &mut dan] {
        loop {
            if let ChatEvent::Message(m) = next(c).await {
                assert_eq!(m.text, "eve was here");
                break;
            }
        }
    }
    // Bob on b stays: the next line anyone hears is his arrival alone
    // (had eve been announced, it would come first or name her too).
    let mut bob = member_in(&b, "bob").await;
    for c in [&mut ann, &mut cid, &mut dan] {
        assert_eq!(heard(c).await, one("join", "bob"));
    }
    // Once: bob's next message is what follows it, on both nodes.
    say(&mut bob, ROOM, "bob stays").await;
    for c in [&mut ann, &mut cid, &mut dan] {
        let ev = next(c).await;
        assert!(
            matches!(&ev, ChatEvent::Message(m) if m.text == "bob stays"),
            "{ev:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_members_are_told_gone_once_its_presence_expires_unless_back() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let (mut ann, mut cid) = settled(&a).await;
    let _bob = member_in(&b, "bob").await;
    let _eve = member_in(&b, "eve").await;
    for c in [&mut ann, &mut cid] {
        let mut arrived = Vec::new();
        while arrived.len() < 2 {
            let h = heard(c).await;
            assert!(h.left.is_empty(), "{h:?}");
            arrived.extend(h.joined);
        }
        arrived.sort();
        assert_eq!(arrived, ["bob", "eve"]);
    }

    // Node b dies; bob is back at once on node a, eve is not.
    drop(b.kill_keep_dir());
    let _bob = member_in(&a, "bob").await;
    // The first line after: eve left, alone. A join of bob's would have
    // come before it (after the grace), a leave of his in the same line.
    for c in [&mut ann, &mut cid] {
        assert_eq!(heard(c).await, one("leave", "eve"));
    }
}
