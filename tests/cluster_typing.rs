//! Typing notices on a cluster: two nodes sharing one throw-away
//! PostgreSQL (tests/common/pg.rs). A notice crosses to the other node's
//! members of the room, never comes back to its node, and is never stored.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::chat::{ask, next_event, next_message};
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

async fn member_in(srv: &Server, name: &str, room: &str) -> Client {
    let mut c = common::framed_member(srv, name, PASS, IO_LIMIT).await;
    let join = ChatRequest::Join { room: room.into() };
    ask(&mut c, join).await.unwrap();
    c
}

async fn send(c: &mut Client, text: &str) -> u64 {
    let send = ChatRequest::Send {
        room: "dev".into(),
        text: text.into(),
        key: None,
    };
    match ask(c, send).await.unwrap() {
        ChatReply::Send { seq, .. } => seq,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_crosses_nodes_once_and_is_never_stored() {
    let pg = Pg::start();
    let (one, two) = (node(&pg), node(&pg));
    // Ann and cid on node one, bob on node two.
    let mut ann = member_in(&one, "ann", "dev").await;
    let mut cid = member_in(&one, "cid", "dev").await;
    let mut bob = member_in(&two, "bob", "dev").await;
    // A message that reached bob went through node two's cluster feed,
    // which listens for notices before it first reads.
    assert_eq!(send(&mut ann, "hello").await, 1);
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
    let seq = send(&mut bob, "after typing").await;
    let next = next_event(&mut cid).await;
    assert!(
        matches!(next, ChatEvent::Message(ref m) if m.text == "after typing"),
        "{next:?}"
    );
    // Nor does the typist get it: her next event is the message.
    let next = next_event(&mut ann).await;
    assert!(
        matches!(next, ChatEvent::Message(ref m) if m.text == "after typing"),
        "{next:?}"
    );
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
