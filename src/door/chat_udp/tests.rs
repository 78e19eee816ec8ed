//! The datagram door with no socket: datagrams handed to the receive
//! loop's [`Door`], replies recorded by a [`Transmit`] that keeps them.
//! What a forged source can get, and what a verified member gets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cookie::Cookies;
use super::receive::Door;
use super::{ChatUdpOpts, DEFAULT_LEASE, Transmit};
use crate::net::Gate;
use crate::service::chat::{ChatConfig, ChatHub, DEFAULT_ROOM, LocalHub, NoAccounts};

/// Every datagram the door sent, in order; it wakes a waiting test.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(SocketAddr, Vec<u8>)>>,
    wake: tokio::sync::Notify,
}

impl Recorder {
    fn record(&self, bytes: &[u8], peer: SocketAddr) -> usize {
        self.sent.lock().unwrap().push((peer, bytes.to_vec()));
        self.wake.notify_waiters();
        bytes.len()
    }

    /// What `peer` was sent so far.
    fn to(&self, peer: SocketAddr) -> Vec<Vec<u8>> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits (bounded) until `peer` got a datagram that `pred` accepts.
    async fn wait_for(&self, peer: SocketAddr, pred: impl Fn(&Value) -> bool) -> Value {
        let found = async {
            loop {
                let woken = self.wake.notified();
                let got = self.to(peer).iter().find_map(|b| {
                    let v: Value = serde_json::from_slice(b).ok()?;
                    pred(&v).then_some(v)
                });
                if let Some(v) = got {
                    return v;
                }
                woken.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), found).await {
            Ok(v) => v,
            Err(_) => {
                let got: Vec<String> = self
                    .to(peer)
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect();
                panic!("the datagram never came; {peer} got {got:?}")
            }
        }
    }
}

impl Transmit for Recorder {
    fn try_send_to(&self, bytes: &[u8], peer: SocketAddr) -> std::io::Result<usize> {
        Ok(self.record(bytes, peer))
    }

    fn poll_send_to(
        &self,
        _cx: &mut Context<'_>,
        bytes: &[u8],
        peer: SocketAddr,
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(self.record(bytes, peer)))
    }
}

fn door(dir: &std::path::Path, out: Arc<Recorder>) -> Door {
    // Joins and leaves told at once: these tests read them as they happen.
    let config = ChatConfig {
        presence_grace: std::time::Duration::ZERO,
        ..ChatConfig::default()
    };
    let hub = LocalHub::open(dir, config, Arc::new(NoAccounts)).unwrap();
    let opts = ChatUdpOpts {
        hub: hub as Arc<dyn ChatHub>,
        lease: DEFAULT_LEASE,
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        gate: Arc::new(Gate::default()),
    };
    Door::new(out, Cookies::new().unwrap(), opts)
}

/// Waits (bounded) until the lobby holds `n` members.
async fn in_lobby(door: &Door, n: usize) {
    let hub = door.opts.hub.clone();
    let joined = async {
        loop {
            let rooms = hub.rooms().await.unwrap();
            if rooms
                .iter()
                .any(|r| &*r.name == DEFAULT_ROOM && r.members == n)
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), joined)
        .await
        .expect("the member never joined the lobby");
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

/// Whether a datagram's `name` is `who` (as a guest, `~who`).
fn mentions(v: &Value, who: &str) -> bool {
    v["name"]
        .as_str()
        .is_some_and(|n| n.trim_start_matches('~') == who)
}

fn bytes(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[tokio::test]
async fn a_forged_source_never_gets_more_than_three_times_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Recorder::default());
    let mut door = door(dir.path(), out.clone());
    let victim = peer(1000);
    let mut received = 0;
    // Joins, stale cookies and junk: each answered with a cookie or an
    // error at most, and only as far as the source's credit pays.
    for d in [
        bytes(json!({"name": "x"})),
        bytes(json!({"name": "x", "cookie": "forged"})),
        b"not json".to_vec(),
        b"{}".to_vec(),
        bytes(json!({"name": "x", "room": "r"})),
    ] {
        received += d.len();
        door.datagram(&d, victim);
    }
    let sent: usize = out.to(victim).iter().map(Vec::len).sum();
    assert!(sent <= 3 * received, "sent {sent} for {received}");
    assert!(door.members.is_empty(), "no forged source became a member");
}

#[tokio::test]
async fn a_member_is_made_by_echoing_its_cookie_and_then_hears_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Recorder::default());
    let mut door = door(dir.path(), out.clone());
    let (ann, bob) = (peer(1001), peer(1002));
    for (who, name) in [(ann, "ann"), (bob, "bob")] {
        // A join padded so its credit pays for the cookie.
        let join = bytes(json!({"name": name, "pad": "x".repeat(64)}));
        door.datagram(&join, who);
        let v = out.wait_for(who, |v| v.get("cookie").is_some()).await;
        let cookie = v["cookie"].as_str().unwrap().to_owned();
        door.datagram(&bytes(json!({"name": name, "cookie": cookie})), who);
        // Each is in the room (its task joined) before the next comes.
        in_lobby(&door, door.members.len()).await;
    }
    assert_eq!(door.members.len(), 2);
    // Ann hears bob join; bob hears what ann says, with her guest name.
    out.wait_for(ann, |v| v["event"] == "join" && mentions(v, "bob"))
        .await;
    let said = bytes(json!({"name": "ann", "msg": "hello bob"}));
    door.datagram(&said, ann);
    let v = out.wait_for(bob, |v| v["msg"] == "hello bob").await;
    assert!(mentions(&v, "ann"), "{v}");
    assert_eq!(v["room"], DEFAULT_ROOM);
    // A leave ends ann's membership; bob sees her go.
    door.datagram(&bytes(json!({"leave": true})), ann);
    assert_eq!(door.members.len(), 1);
    out.wait_for(bob, |v| v["event"] == "leave" && mentions(v, "ann"))
        .await;
}
