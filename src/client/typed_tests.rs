//! The typed client against a scripted server on a loopback socket:
//! frames pushed while a request waits for its reply are kept, in order.

use futures_util::{SinkExt, StreamExt};

use super::{Client, MAX_HELD_FRAMES};
use crate::client::scripted::scripted as script;
use crate::wire::Frame;

/// A client connected to a server that answers the first request after
/// pushing `events` frames `event` (with `n` = 0, 1, ...).
async fn scripted(events: usize) -> (Client, tokio::task::JoinHandle<()>) {
    script(move |mut framed| async move {
        let req = framed.next().await.unwrap().unwrap();
        for n in 0..events {
            framed.feed(Frame::new("event").set("n", n)).await.unwrap();
        }
        let reply = Frame::new("pong").with_id(req.id().unwrap());
        framed.send(reply).await.unwrap();
        // The client may be gone by now (the flood test stops reading).
        let _ = framed.send(Frame::new("event").set("n", "after")).await;
    })
    .await
}

fn n(f: &Frame) -> serde_json::Value {
    f.get("n").cloned().unwrap_or_default()
}

#[tokio::test]
async fn events_before_the_reply_are_kept_for_recv() {
    let (mut c, server) = scripted(2).await;
    let reply = c.request(Frame::new("ping")).await.unwrap();
    assert_eq!(reply.kind(), Some("pong"));
    // The two pushed before the reply, then the one after, in order.
    for want in [serde_json::json!(0), serde_json::json!(1), "after".into()] {
        let f = c.recv().await.unwrap().unwrap();
        assert_eq!((f.kind(), n(&f)), (Some("event"), want));
    }
    server.await.unwrap();
}

#[tokio::test]
async fn a_flood_before_the_reply_keeps_only_the_newest() {
    let (mut c, server) = scripted(MAX_HELD_FRAMES + 3).await;
    c.request(Frame::new("ping")).await.unwrap();
    // The three oldest went; the rest are there, oldest first.
    let first = c.recv().await.unwrap().unwrap();
    assert_eq!(n(&first), serde_json::json!(3));
    let (framed, held) = c.into_parts();
    drop(framed);
    assert_eq!(held.len(), MAX_HELD_FRAMES - 1);
    assert_eq!(
        held.back().map(n),
        Some(serde_json::json!(MAX_HELD_FRAMES + 2))
    );
    server.await.unwrap();
}
