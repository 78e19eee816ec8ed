//! Limits that keep guests from growing the hub: presence flood control,
//! the per-address budgets, the room limits, retention and eviction.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;

const HOST_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const HOST_B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// A guest connected from `peer`, in no room yet.
async fn guest_from(hub: &Arc<LocalHub>, name: &str, peer: IpAddr) -> (Session, Inbox) {
    Session::open_from(
        dyn_hub(hub),
        Identity::Guest(name.into()),
        DoorKind::Line,
        Some(peer),
    )
    .await
    .unwrap()
}

fn rate_limited(e: &ChatError) -> bool {
    matches!(e, ChatError::RateLimited { .. })
}

#[tokio::test(start_paused = true)]
async fn joins_renames_and_leaves_count_against_the_flood_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        rate_per_sec: 1.0,
        burst: 4,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (_ann, mut seen) = guest_in(&hub, "ann", "lobby").await;
    let (mut eve, _e) = guest_in(&hub, "eve", "lobby").await; // 1 token
    assert_eq!(next_presence(&mut seen).await.notice(), "~ann joined lobby");
    assert_eq!(next_presence(&mut seen).await.notice(), "~eve joined lobby");
    eve.rename(Identity::Guest("e1".into())).await.unwrap(); // 2
    eve.rename(Identity::Guest("e2".into())).await.unwrap(); // 3
    eve.join("dev").await.unwrap(); // 4
    // The bucket is empty: renames and joins are refused like messages.
    let e = eve.rename(Identity::Guest("e3".into())).await.unwrap_err();
    assert!(rate_limited(&e), "{e}");
    let e = eve.join("ops").await.unwrap_err();
    assert!(rate_limited(&e), "{e}");
    assert_eq!(eve.name().as_ref(), "~e2");
    // Leaving always works, but over the limit it is not announced.
    eve.leave("lobby").await.unwrap();
    assert!(
        hub.who("lobby")
            .await
            .unwrap()
            .iter()
            .all(|m| &*m.name != "~e2")
    );
    // A marker message shows what ann saw before it: exactly the
    // presence the budget allowed.
    let (marker, _m) = guest_in(&hub, "mark", "lobby").await;
    marker.publish("lobby", "end").await.unwrap();
    let mut notices = Vec::new();
    loop {
        match next(&mut seen).await {
            Event::Presence(p) => notices.push(p.notice()),
            Event::Read(_) => {}
            Event::Message(m) => {
                assert_eq!(m.text, "end");
                break;
            }
            Event::Dropped => panic!("cut off"),
        }
    }
    assert_eq!(
        notices,
        [
            "~eve is now known as ~e1",
            "~e1 is now known as ~e2",
            "~mark joined lobby"
        ]
    );
    // The allowance refills at the configured rate.
    tokio::time::advance(Duration::from_secs(1)).await;
    eve.join("ops").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn guests_from_one_address_share_one_message_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        rate_per_sec: 1.0,
        burst: 10,
        guest_ip_rate: 1.0,
        guest_ip_burst: 10,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let mut guests = Vec::new();
    for i in 0..4 {
        let (s, inbox) = guest_from(&hub, &format!("g{i}"), HOST_A).await;
        s.join("lobby").await.unwrap();
        guests.push((s, inbox));
    }
    // Four guests with ten tokens each, but one address: ten in all.
    let mut sent = 0;
    let mut refused = 0;
    for (s, _) in &guests {
        for _ in 0..5 {
            match s.publish("lobby", "hi").await {
                Ok(_) => sent += 1,
                Err(e) if rate_limited(&e) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!((sent, refused), (10, 10));
    // Another address has its own budget.
    let (other, _o) = guest_from(&hub, "other", HOST_B).await;
    other.join("lobby").await.unwrap();
    other.publish("lobby", "hello").await.unwrap();
    // The budget refills with time.
    tokio::time::advance(Duration::from_secs(2)).await;
    guests[0].0.publish("lobby", "again").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn room_creation_is_capped_per_address_and_in_total() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        rooms_max: 5,
        room_creates_per_hour: 3,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (eve, _e) = guest_from(&hub, "eve", HOST_A).await;
    for room in ["a", "b", "c"] {
        eve.join(room).await.unwrap();
    }
    let e = eve.join("d").await.unwrap_err();
    assert_eq!(e.code(), crate::wire::ErrorCode::RoomQuota, "{e}");
    assert!(e.to_string().contains("join an existing room"), "{e}");
    // Existing rooms stay open to the same address.
    let (eve2, _e2) = guest_from(&hub, "eve2", HOST_A).await;
    eve2.join("a").await.unwrap();
    // Another address may create, up to the server's limit of five.
    let (bob, _b) = guest_from(&hub, "bob", HOST_B).await;
    bob.join("d").await.unwrap();
    bob.join("e").await.unwrap();
    let e = bob.join("f").await.unwrap_err();
    assert_eq!(e, ChatError::RoomsFull(5));
    assert_eq!(e.code(), crate::wire::ErrorCode::RoomsFull);
    // A room nobody used goes when its last member leaves, freeing a place.
    bob.leave("e").await.unwrap();
    bob.join("f").await.unwrap();
    // The per-address budget refills: one creation every 20 minutes.
    tokio::time::advance(Duration::from_secs(20 * 60)).await;
    eve.leave("c").await.unwrap();
    eve.join("g").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn idle_rooms_are_evicted_and_load_again_on_join() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        room_idle: Duration::from_secs(300),
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _a) = guest_in(&hub, "ann", "dev").await;
    ann.publish("dev", "one").await.unwrap();
    ann.leave("dev").await.unwrap();
    assert_eq!(hub.live_rooms(), 1);
    tokio::time::advance(Duration::from_secs(299)).await;
    assert_eq!(hub.prune().unwrap().evicted, 0);
    assert_eq!(hub.live_rooms(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(hub.prune().unwrap().evicted, 1);
    assert_eq!(hub.live_rooms(), 0);
    // Still listed, from history, and its ids go on after a reload.
    let rooms = hub.rooms().await.unwrap();
    assert_eq!(
        rooms
            .iter()
            .map(|r| (&*r.name, r.last_id))
            .collect::<Vec<_>>(),
        [("dev", 1)]
    );
    let j = ann.join("dev").await.unwrap();
    assert_eq!(j.last_id, 1);
    assert_eq!(ann.publish("dev", "two").await.unwrap().id, 2);
    // A room with members is never evicted.
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(hub.prune().unwrap().evicted, 0);
}

#[tokio::test]
async fn retention_keeps_history_within_count_age_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        history_room_max: 3,
        history_max_age: None,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _a) = guest_in(&hub, "ann", "dev").await;
    for i in 1..=5 {
        ann.publish("dev", &format!("m{i}")).await.unwrap();
    }
    let r = hub.prune().unwrap();
    assert_eq!(r.messages, 2);
    let page = hub.history("dev", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(
        texts(&page),
        [(3, "m3".into()), (4, "m4".into()), (5, "m5".into())]
    );
    drop((ann, _a));
    drop(hub);

    // Age: everything older than now goes, and the room with it once it
    // is out of memory.
    let config = ChatConfig {
        history_max_age: Some(Duration::ZERO),
        room_idle: Duration::ZERO,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (bob, _b) = guest_in(&hub, "bob", "ops").await;
    let last = bob.publish("ops", "old news").await.unwrap();
    bob.leave("ops").await.unwrap();
    // Wait for the wall clock to pass the message's millisecond.
    for _ in 0..1_000_000 {
        if super::super::writer::now_millis() > last.ts {
            break;
        }
        std::thread::yield_now();
    }
    let r = hub.prune().unwrap();
    assert_eq!(r.messages, 4, "dev's three and ops's one");
    assert_eq!(r.rooms, 2, "{r:?}");
    assert!(hub.rooms().await.unwrap().is_empty());
    drop(hub);

    // Size: over the cap, the oldest go first.
    let config = ChatConfig {
        history_max_bytes: 1,
        history_max_age: None,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (cy, _c) = guest_in(&hub, "cy", "big").await;
    for _ in 0..50 {
        cy.publish("big", &"x".repeat(4000)).await.unwrap();
    }
    let r = hub.prune().unwrap();
    assert_eq!(r.messages, 50);
    let page = hub.history("big", HistoryQuery::Last(10)).await.unwrap();
    assert!(page.messages.is_empty());
    // Ids go on: the room is in use, so it is kept.
    assert_eq!(cy.publish("big", "after").await.unwrap().id, 51);
}

#[tokio::test]
async fn a_room_pruned_empty_and_created_again_gets_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        history_max_age: Some(Duration::ZERO),
        room_idle: Duration::ZERO,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _a) = guest_in(&hub, "ann", "lobby").await;
    let first = ann.join("ops").await.unwrap();
    assert!(!first.epoch.is_empty());
    let last = ann.publish("ops", "old news").await.unwrap();
    let page = hub.history("ops", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(page.epoch, first.epoch);
    ann.leave("ops").await.unwrap();
    // Wait for the wall clock to pass the message's millisecond.
    for _ in 0..1_000_000 {
        if super::super::writer::now_millis() > last.ts {
            break;
        }
        std::thread::yield_now();
    }
    let r = hub.prune().unwrap();
    assert_eq!((r.messages, r.rooms), (1, 1), "{r:?}");
    assert!(
        hub.history("ops", HistoryQuery::Last(10))
            .await
            .unwrap()
            .epoch
            .is_empty()
    );
    // Created again, its ids restart: another epoch.
    let reset = ann.join("ops").await.unwrap();
    assert_eq!(reset.last_id, 0);
    assert_ne!(reset.epoch, first.epoch);
    assert_eq!(ann.publish("ops", "fresh").await.unwrap().id, 1);
    let page = hub.history("ops", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(page.epoch, reset.epoch);
}
