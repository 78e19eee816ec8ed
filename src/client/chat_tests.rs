//! The chat connection against a scripted server on a loopback socket:
//! events pushed while a request waits are kept in order, and no more than
//! the typed client's bound however many the server floods.

use futures_util::{SinkExt, StreamExt};

use super::*;
use crate::client::scripted::scripted;
use crate::client::typed::MAX_HELD_FRAMES;

/// A message in `lobby` numbered `seq`.
fn message(seq: u64) -> Frame {
    ChatEvent::Message(ChatMessage {
        room: "lobby".into(),
        seq,
        ts: 0,
        name: "bob".into(),
        guest: false,
        text: format!("message {seq}"),
        kind: None,
        target: None,
    })
    .to_frame()
}

/// A chat connection to a server that answers its first request (a join
/// of `lobby`) after pushing messages 1..=`flood`, then pushes message
/// `flood + 1` and closes.
async fn flooded(flood: u64) -> (ChatConn, tokio::task::JoinHandle<()>) {
    let (client, server) = scripted(move |mut framed| async move {
        let req = framed.next().await.unwrap().unwrap();
        for seq in 1..=flood {
            framed.feed(message(seq)).await.unwrap();
        }
        let joined = ChatReply::Join {
            room: "lobby".into(),
            last_seq: 0,
            epoch: "e1".into(),
        };
        framed.send(joined.to_frame(req.id())).await.unwrap();
        // The client may have gone by now.
        let _ = framed.send(message(flood + 1)).await;
    })
    .await;
    let logged_in = LoggedIn {
        client,
        user: "ann".into(),
        // A name only: these tests never reconnect.
        server: "tcp://127.0.0.1:7878".parse().unwrap(),
        skipped: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::in_dir(dir.path());
    let conn = ChatConn::on(logged_in, &creds, &[], Duration::from_secs(5));
    (conn, server)
}

/// The numbers of the messages `conn` yields until the server closes.
async fn drain(conn: &mut ChatConn) -> Vec<u64> {
    let mut seqs = Vec::new();
    while let Some(got) = conn.next().await.unwrap() {
        match got {
            Incoming::Message(m) => seqs.push(m.seq),
            other => panic!("unexpected {other:?}"),
        }
    }
    seqs
}

#[tokio::test]
async fn events_pushed_during_a_request_come_next_in_order() {
    let (mut conn, server) = flooded(3).await;
    let reply = conn
        .request(ChatRequest::Join {
            room: "lobby".into(),
        })
        .await
        .unwrap();
    assert!(matches!(reply, ChatReply::Join { .. }), "{reply:?}");
    assert_eq!(drain(&mut conn).await, [1, 2, 3, 4]);
    // Every message seen counts for the catch-up after a reconnect.
    assert_eq!(conn.joined().get("lobby"), Some(&4));
    server.await.unwrap();
}

#[tokio::test]
async fn a_server_flooding_a_busy_client_makes_it_hold_no_more_than_the_bound() {
    let flood = 5 * MAX_HELD_FRAMES as u64;
    let (mut conn, server) = flooded(flood).await;
    conn.request(ChatRequest::Join {
        room: "lobby".into(),
    })
    .await
    .unwrap();
    let seqs = drain(&mut conn).await;
    // The newest held ones, then the message after the reply.
    let held = flood - MAX_HELD_FRAMES as u64;
    let want: Vec<u64> = (held + 1..=flood + 1).collect();
    assert_eq!(seqs.len(), MAX_HELD_FRAMES + 1);
    assert_eq!(seqs, want);
    server.await.unwrap();
}
