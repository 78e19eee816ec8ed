//! Fan-out: slow members are cut off, large rooms, group commit.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_never_reads_is_cut_off_and_the_others_get_everything() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        queue_capacity: 8,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (_sleeper, mut sleeper_inbox) = guest_in(&hub, "sleeper", "lobby").await;
    let (talker, mut talker_inbox) = guest_in(&hub, "talker", "lobby").await;
    let (_reader, mut inbox) = guest_in(&hub, "reader", "lobby").await;
    // The talker's and reader's doors keep up: each reads every message
    // before the next is sent (lockstep, so the test does not depend on
    // how fast the machine schedules reader tasks).
    let mut got = Vec::new();
    let mut notice = None;
    for i in 0..50 {
        let sent = talker.publish("lobby", &format!("m{i}")).await.unwrap();
        assert_eq!(next_message(&mut talker_inbox).await.id, sent.id);
        loop {
            match next(&mut inbox).await {
                Event::Message(m) => {
                    got.push(m.id);
                    break;
                }
                Event::Presence(p) if p.change == Change::CutOff => notice = Some(p.notice()),
                Event::Presence(_) | Event::Read(_) => {}
                Event::Dropped => panic!("the reader was cut off"),
            }
        }
    }
    assert_eq!(got, (1..=50).collect::<Vec<u64>>());
    assert_eq!(
        notice.as_deref(),
        Some("~sleeper was cut off from lobby (too slow)")
    );
    assert!(matches!(sleeper_inbox.recv().await, Some(Event::Dropped)));
    assert!(sleeper_inbox.recv().await.is_none());
    assert_eq!(hub.stats().cut_off, 1);
    let names: Vec<String> = hub
        .who("lobby")
        .await
        .unwrap()
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(names, ["~reader", "~talker"]);
    assert_eq!(
        _sleeper.publish("lobby", "hello?").await.unwrap_err(),
        ChatError::Gone
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_members_all_receive_one_publish() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        // Room for the 999 join notices a member sees while the room fills.
        queue_capacity: 1100,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let mut members = Vec::new();
    let mut readers = Vec::new();
    for i in 0..1000 {
        let (s, mut inbox) = guest_in(&hub, &format!("g{i}"), "big").await;
        members.push(s);
        readers.push(tokio::spawn(async move { next_message(&mut inbox).await }));
    }
    assert_eq!(hub.who("big").await.unwrap().len(), 1000);
    let sent = members[0].publish("big", "to everyone").await.unwrap();
    for r in readers {
        let got = r.await.unwrap();
        // The very same allocation, not a copy per member.
        assert!(Arc::ptr_eq(&got, &sent));
    }
    assert_eq!(hub.stats().cut_off, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        queue_capacity: 4096,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let mut tasks = Vec::new();
    for t in 0..20 {
        let (s, mut inbox) = guest_in(&hub, &format!("t{t}"), "lobby").await;
        tokio::spawn(async move { while inbox.recv().await.is_some() {} });
        let s = Arc::new(s);
        for i in 0..50 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.publish("lobby", &format!("{t}.{i}")).await.unwrap().id
            }));
        }
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=1000).collect::<Vec<u64>>());
    let stats = hub.stats();
    assert_eq!(stats.messages, 1000);
    assert!(
        stats.commits < 500,
        "1000 messages took {} commits",
        stats.commits
    );
}

#[tokio::test]
async fn a_member_whose_door_dropped_its_inbox_leaves_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _ann_inbox) = guest_in(&hub, "ann", "lobby").await;
    let (_ghost, ghost_inbox) = guest_in(&hub, "ghost", "lobby").await;
    drop(ghost_inbox);
    ann.publish("lobby", "anyone?").await.unwrap();
    let who = hub.who("lobby").await.unwrap();
    assert_eq!(who.iter().map(|m| &*m.name).collect::<Vec<_>>(), ["~ann"]);
}

/// A door's renderer for the test: counts how often it encodes.
struct Counting {
    slot: RenderSlot,
    messages: std::sync::atomic::AtomicUsize,
    presences: std::sync::atomic::AtomicUsize,
}

impl Renderer for Counting {
    fn slot(&self) -> RenderSlot {
        self.slot
    }

    fn message(&self, m: &Message) -> bytes::Bytes {
        self.messages
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes::Bytes::from(format!("test:{}:{}", m.id, m.text))
    }

    fn presence(&self, p: &Presence) -> bytes::Bytes {
        self.presences
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes::Bytes::from(format!("test:{}", p.notice()))
    }
}

#[tokio::test]
async fn a_door_renderer_encodes_each_event_once_for_every_member() {
    use std::sync::atomic::Ordering;
    // A door registers its renderer once, so the test claims its slot once
    // for the whole test binary.
    static COUNTING: std::sync::LazyLock<Counting> = std::sync::LazyLock::new(|| Counting {
        slot: RenderSlot::claim("test"),
        messages: Default::default(),
        presences: Default::default(),
    });
    assert_ne!(COUNTING.slot, RenderSlot::UNCACHED, "a free slot");
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    const MEMBERS: usize = 20;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        members.push(guest_in(&hub, &format!("m{i}"), "lobby").await);
    }
    let (talker, _talker_inbox) = guest_in(&hub, "talker", "lobby").await;
    // Every member renders the talker's join and its two messages.
    for text in ["one", "two"] {
        talker.publish("lobby", text).await.unwrap();
    }
    let mut seen = Vec::new();
    for (_, inbox) in &mut members {
        let join = loop {
            let p = next_presence(inbox).await;
            if &*p.name == "~talker" {
                break p;
            }
        };
        let mut bytes = vec![join.render(&*COUNTING)];
        for _ in 0..2 {
            bytes.push(next_message(inbox).await.render(&*COUNTING));
        }
        seen.push(bytes);
    }
    assert_eq!(COUNTING.messages.load(Ordering::Relaxed), 2);
    assert_eq!(COUNTING.presences.load(Ordering::Relaxed), 1);
    // And every member got the very same bytes, not a copy.
    let first = &seen[0];
    assert_eq!(&first[1][..], b"test:1:one");
    assert_eq!(&first[0][..], b"test:~talker joined lobby");
    for other in &seen[1..] {
        for (a, b) in first.iter().zip(other) {
            assert_eq!(a.as_ptr(), b.as_ptr());
        }
    }
}

#[test]
fn the_uncached_slot_renders_every_time() {
    let m = Message::new("lobby".into(), 1, 0, "~a".into(), true, "x".into(), None);
    let counting = Counting {
        slot: RenderSlot::UNCACHED,
        messages: Default::default(),
        presences: Default::default(),
    };
    assert_eq!(m.render(&counting), m.render(&counting));
    assert_eq!(
        counting.messages.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}
