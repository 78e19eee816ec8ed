//! Edits, deletes and search in a cluster: two `sockit serve` nodes on one
//! throw-away PostgreSQL; a change made on one node is seen live, in
//! history and in search on the other, and deleted text leaves the
//! database's rows.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::pg::Pg;
use sockit::client::{Client, ClientError};
use sockit::wire::{ChatEvent, ChatMessage, ChatReply, ChatRequest, ErrorCode, MessageKind};

const IO_LIMIT: Duration = Duration::from_secs(30);
const PASS: &str = "correct horse battery";

fn node(pg: &Pg) -> Server {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        "m=256,t=1,p=1",
        "--store",
        &pg.url(),
    ]);
    for name in ["ann", "bob"] {
        pg.add_user(name, PASS);
    }
    srv
}

async fn ask(c: &mut Client, req: ChatRequest) -> Result<ChatReply, ClientError> {
    let reply = tokio::time::timeout(IO_LIMIT, c.request(req.to_frame(None)))
        .await
        .expect("a request hung")?;
    Ok(ChatReply::from_frame(&reply).unwrap())
}

async fn member_in(srv: &Server, name: &str, room: &str) -> Client {
    let mut c = common::framed_member(srv, name, PASS, IO_LIMIT).await;
    ask(&mut c, ChatRequest::Join { room: room.into() })
        .await
        .unwrap();
    c
}

async fn next_message(c: &mut Client) -> ChatMessage {
    loop {
        let f = tokio::time::timeout(IO_LIMIT, c.recv())
            .await
            .expect("no message within the time limit")
            .unwrap()
            .unwrap();
        if let ChatEvent::Message(m) = ChatEvent::from_frame(&f).unwrap() {
            return m;
        }
    }
}

async fn search(c: &mut Client, q: &str) -> Vec<(String, u64, String)> {
    let req = ChatRequest::Search {
        q: q.into(),
        room: None,
        before: None,
        limit: None,
    };
    match ask(c, req).await.unwrap() {
        ChatReply::Search { results, .. } => results
            .into_iter()
            .map(|r| (r.room, r.seq, r.text))
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn code(r: Result<ChatReply, ClientError>) -> ErrorCode {
    match r {
        Err(ClientError::Server { code, .. }) => code.parse().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_and_a_delete_on_one_node_show_on_the_other_live_in_history_and_search() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut ann = member_in(&a, "ann", "ops").await;
    let mut bob = member_in(&b, "bob", "ops").await;
    let seq = match ask(
        &mut ann,
        ChatRequest::Send {
            room: "ops".into(),
            text: "rollout at noon".into(),
            key: None,
        },
    )
    .await
    .unwrap()
    {
        ChatReply::Send { seq, .. } => seq,
        other => panic!("{other:?}"),
    };
    assert_eq!(next_message(&mut bob).await.seq, seq);
    let edit = ChatRequest::Edit {
        room: "ops".into(),
        seq,
        text: "rollout at three".into(),
    };
    // Bob, on the other node, may not change Ann's message.
    assert_eq!(
        code(ask(&mut bob, edit.clone()).await),
        ErrorCode::NotAuthor
    );
    let ChatReply::Edit(e) = ask(&mut ann, edit).await.unwrap() else {
        panic!("not an edit reply")
    };
    assert_eq!(
        (e.seq, e.kind, e.target),
        (seq + 1, Some(MessageKind::Edit), Some(seq))
    );
    let seen = next_message(&mut bob).await;
    assert_eq!(
        (seen.seq, seen.kind, seen.target),
        (seq + 1, Some(MessageKind::Edit), Some(seq))
    );
    assert_eq!(seen.text, "rollout at three");
    let history = ChatRequest::History {
        room: "ops".into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    };
    let ChatReply::History { messages, .. } = ask(&mut bob, history.clone()).await.unwrap() else {
        panic!("not history")
    };
    assert_eq!(messages[0].kind, Some(MessageKind::Edited));
    assert_eq!(messages[0].text, "rollout at three");
    assert_eq!(
        search(&mut bob, "three").await,
        [("ops".into(), seq, "rollout at three".into())]
    );
    assert!(search(&mut bob, "noon").await.is_empty());
    // Hostile queries are words, never a database error.
    for q in [
        "'; DROP TABLE chat_messages; --",
        "a & | ! :* ()",
        "\\' \"x",
    ] {
        search(&mut bob, q).await;
    }

    let del = ChatRequest::Delete {
        room: "ops".into(),
        seq,
    };
    assert!(matches!(
        ask(&mut ann, del.clone()).await,
        Ok(ChatReply::Delete(_))
    ));
    let seen = next_message(&mut bob).await;
    assert_eq!(
        (seen.kind, seen.target),
        (Some(MessageKind::Delete), Some(seq))
    );
    assert_eq!(code(ask(&mut ann, del).await), ErrorCode::MessageDeleted);
    let ChatReply::History { messages, .. } = ask(&mut bob, history).await.unwrap() else {
        panic!("not history")
    };
    assert!(messages.iter().all(|m| m.text.is_empty()), "{messages:?}");
    assert_eq!(messages[0].kind, Some(MessageKind::Deleted));
    assert!(search(&mut bob, "rollout").await.is_empty());
    let left = pg.psql("SELECT count(*) FROM chat_messages WHERE text LIKE '%rollout%'");
    assert_eq!(left, "0");
}

/// A name deleted and registered again (`sockit user del ann --store`,
/// `user add ann --store`) within the edit window changes nothing the old
/// account said, on either node; an account that stayed still changes
/// its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_registered_again_may_not_edit_or_delete_the_old_accounts_messages() {
    let pg = Pg::start();
    let (a, b) = (node(&pg), node(&pg));
    let mut ann = member_in(&a, "ann", "ops").await;
    let mut bob = member_in(&b, "bob", "ops").await;
    let send = |text: &str| ChatRequest::Send {
        room: "ops".into(),
        text: text.into(),
        key: None,
    };
    let seq_of = |r: ChatReply| match r {
        ChatReply::Send { seq, .. } => seq,
        other => panic!("{other:?}"),
    };
    let said = seq_of(ask(&mut ann, send("the old ann said this")).await.unwrap());
    let bobs = seq_of(ask(&mut bob, send("bob said this")).await.unwrap());
    drop(ann);
    let url = pg.url();
    let del = common::run(&["user", "del", "ann", "--store", &url], b"");
    assert!(del.status.success(), "{del:?}");
    pg.add_user("ann", PASS);

    let edit = |seq| ChatRequest::Edit {
        room: "ops".into(),
        seq,
        text: "rewritten".into(),
    };
    let delete = |seq| ChatRequest::Delete {
        room: "ops".into(),
        seq,
    };
    for srv in [&a, &b] {
        let mut ann = member_in(srv, "ann", "ops").await;
        for req in [edit(said), delete(said)] {
            match ask(&mut ann, req).await {
                Err(ClientError::Server { code, message }) => {
                    assert_eq!(code.parse::<ErrorCode>().unwrap(), ErrorCode::NotAuthor);
                    assert!(message.contains("earlier account"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let left = pg.psql(&format!(
        "SELECT text || kind FROM chat_messages WHERE room = 'ops' AND seq = {said}"
    ));
    assert_eq!(left, "the old ann said this0");
    assert!(matches!(
        ask(&mut bob, edit(bobs)).await,
        Ok(ChatReply::Edit(_))
    ));
}
