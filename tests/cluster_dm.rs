//! Direct messages, read markers and typing notices on a cluster: two
//! nodes sharing one throw-away PostgreSQL (tests/common/pg.rs); and a
//! name deleted and registered again, which reads none of the old
//! account's direct messages on any node.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::chat::{Reading, ask, next_event, next_message, reading, refusal};
use common::pg::Pg;
use sockit::client::Client;
use sockit::wire::{ChatEvent, ChatReply, ChatRequest};

const IO_LIMIT: Duration = Duration::from_secs(30);
const PASS: &str = "correct horse battery";

fn node(pg: &Pg) -> Server {
    let url = pg.url();
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        common::CHEAP_ARGON2,
        "--store",
        &url,
    ]);
    for name in ["ann", "bob", "cid"] {
        pg.add_user(name, PASS);
    }
    srv
}

async fn member(srv: &Server, name: &str) -> Client {
    common::framed_member(srv, name, PASS, IO_LIMIT).await
}

#[tokio::test]
async fn a_direct_message_and_its_read_marker_cross_nodes() {
    let pg = Pg::start();
    let (one, two) = (node(&pg), node(&pg));
    let mut ann = member(&one, "ann").await;
    // Bob is on the other node, in the lobby only, with two clients.
    let mut bob = member(&two, "bob").await;
    let mut bob2 = member(&one, "bob").await;
    let lobby = || ChatRequest::Join {
        room: "lobby".into(),
    };
    ask(&mut bob, lobby()).await.unwrap();
    ask(&mut bob2, lobby()).await.unwrap();
    let dm = ChatRequest::Dm { to: "bob".into() };
    ask(&mut ann, dm).await.unwrap();
    let send = ChatRequest::Send {
        room: "@bob".into(),
        text: "across nodes, @bob".into(),
        key: Some("k1".into()),
    };
    let ChatReply::Send { seq, .. } = ask(&mut ann, send).await.unwrap() else {
        panic!()
    };
    let m = next_message(&mut bob).await;
    assert_eq!(
        (m.room.as_str(), m.seq, m.text.as_str()),
        ("@ann+bob", seq, "across nodes, @bob")
    );

    // Counts on node two, the marker set there reaches bob's client on
    // node one.
    let ChatReply::Dms { dms } = ask(&mut bob, ChatRequest::Dms {}).await.unwrap() else {
        panic!()
    };
    assert_eq!((dms[0].unread, dms[0].mentions), (1, 1));
    let read = ChatRequest::Read {
        room: "@ann".into(),
        seq,
    };
    ask(&mut bob, read).await.unwrap();
    loop {
        if let ChatEvent::Read { room, seq: at } = next_event(&mut bob2).await {
            assert_eq!((room.as_str(), at), ("@ann+bob", seq));
            break;
        }
    }
    let ChatReply::Dms { dms } = ask(&mut bob2, ChatRequest::Dms {}).await.unwrap() else {
        panic!()
    };
    assert_eq!((dms[0].read, dms[0].unread), (seq, 0));

    // A third account on either node reads nothing.
    let mut cid = member(&two, "cid").await;
    let history = ChatRequest::History {
        room: "@ann+bob".into(),
        last: Some(5),
        after: None,
        before: None,
        epoch: None,
    };
    assert_eq!(refusal(ask(&mut cid, history).await), "not_in_room");
    let ChatReply::Rooms { rooms } = ask(&mut cid, ChatRequest::Rooms {}).await.unwrap() else {
        panic!()
    };
    assert!(rooms.iter().all(|r| !r.name.starts_with('@')));
}

async fn member_in_dev(srv: &Server, name: &str) -> Client {
    let mut c = member(srv, name).await;
    ask(&mut c, ChatRequest::Join { room: "dev".into() })
        .await
        .unwrap();
    c
}

async fn say(c: &mut Client, text: &str) -> u64 {
    let send = ChatRequest::Send {
        room: "dev".into(),
        text: text.into(),
        key: None,
    };
    let ChatReply::Send { seq, .. } = ask(c, send).await.unwrap() else {
        panic!()
    };
    seq
}

/// A typing notice crosses to the other node's members of the room,
/// never comes back to its own node, and is never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_crosses_nodes_once_and_is_never_stored() {
    let pg = Pg::start();
    let (one, two) = (node(&pg), node(&pg));
    // Ann and cid on node one, bob on node two.
    let mut ann = member_in_dev(&one, "ann").await;
    let mut cid = member_in_dev(&one, "cid").await;
    let mut bob = member_in_dev(&two, "bob").await;
    // A message that reached bob went through node two's cluster feed,
    // which listens for notices before it first reads.
    assert_eq!(say(&mut ann, "hello").await, 1);
    assert_eq!(next_message(&mut bob).await.text, "hello");
    assert_eq!(next_message(&mut cid).await.text, "hello");

    let typing = ChatRequest::Typing { room: "dev".into() };
    ask(&mut ann, typing).await.unwrap();
    let typed = ChatEvent::Typing {
        room: "dev".into(),
        name: "ann".into(),
        guest: false,
    };
    assert_eq!(next_event(&mut bob).await, typed);
    assert_eq!(next_event(&mut cid).await, typed);

    // Bob's next message reaches node one after the notice did (one
    // feed, notifications in commit order): had node one taken its own
    // notice back from PostgreSQL, cid would see it twice before this.
    let seq = say(&mut bob, "after typing").await;
    for c in [&mut cid, &mut ann] {
        // Nor does the typist get it: her next event is the message.
        let next = next_event(c).await;
        assert!(
            matches!(next, ChatEvent::Message(ref m) if m.text == "after typing"),
            "{next:?}"
        );
    }
    // Nothing stored: the seqs went on from the message before.
    assert_eq!(seq, 2);
    let history = ChatRequest::History {
        room: "dev".into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    };
    let ChatReply::History { messages, .. } = ask(&mut bob, history).await.unwrap() else {
        panic!()
    };
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "after typing"]);
}

/// `sockit user del ann --store` then `user add ann --store`: on any node,
/// the new ann reads none of what the old one said or was told, and bob,
/// on the other node, keeps it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_registered_again_reads_none_of_the_old_direct_messages_on_any_node() {
    let pg = Pg::start();
    let (one, two) = (node(&pg), node(&pg));
    let mut ann = member(&one, "ann").await;
    let mut bob = member(&two, "bob").await;
    ask(&mut bob, ChatRequest::Dm { to: "ann".into() })
        .await
        .unwrap();
    common::chat::say(&mut bob, "@ann", "secret plan for ann").await;
    ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
        .await
        .unwrap();
    common::chat::say(&mut ann, "@bob", "secret answer to bob").await;
    let bobs = Reading {
        history: vec!["secret plan for ann".into(), "secret answer to bob".into()],
        listed: true,
        unread: 1,
        found: vec!["secret answer to bob".into(), "secret plan for ann".into()],
    };
    assert_eq!(reading(&mut bob, "@ann+bob", "secret").await, bobs);
    drop(ann);

    let url = pg.url();
    let del = common::run(&["user", "del", "ann", "--store", &url], b"");
    assert!(del.status.success(), "{del:?}");
    pg.add_user("ann", PASS);
    let none = Reading {
        history: vec![],
        listed: false,
        unread: 0,
        found: vec![],
    };
    let ann_on = async |srv| {
        let mut ann = member(srv, "ann").await;
        ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
            .await
            .unwrap();
        ann
    };
    for srv in [&one, &two] {
        let mut ann = ann_on(srv).await;
        assert_eq!(reading(&mut ann, "@ann+bob", "secret").await, none);
    }
    assert_eq!(reading(&mut bob, "@ann+bob", "secret").await, bobs);
    // Bob's next message is the new ann's, on either node.
    common::chat::say(&mut bob, "@ann", "secret welcome, new ann").await;
    let news = Reading {
        history: vec!["secret welcome, new ann".into()],
        listed: true,
        unread: 1,
        found: vec!["secret welcome, new ann".into()],
    };
    for srv in [&one, &two] {
        let mut ann = ann_on(srv).await;
        assert_eq!(reading(&mut ann, "@ann+bob", "secret").await, news);
    }
}
