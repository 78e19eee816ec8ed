//! Commit-before-fan-out, ids across restarts, history pages, catch-up.

use super::*;

/// Reads a message's text from the database file with a fresh connection,
/// as a restarted server would.
fn on_disk(dir: &Path, room: &str, id: u64) -> Option<String> {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let id = i64::try_from(id).unwrap();
    conn.query_row(
        "SELECT text FROM messages WHERE room = ?1 AND id = ?2",
        rusqlite::params![room, id],
        |r| r.get(0),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_sees_or_hears_back_a_message_before_it_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (_watcher, mut inbox) = guest_in(&hub, "watcher", "lobby").await;
    let (talker, _talker_inbox) = guest_in(&hub, "talker", "lobby").await;
    let talker = Arc::new(talker);
    let sends: Vec<_> = (0..100)
        .map(|i| {
            let t = talker.clone();
            tokio::spawn(async move {
                let m = t.publish("lobby", &format!("m{i}")).await.unwrap();
                (m.id, m.text.clone())
            })
        })
        .collect();
    for _ in 0..100 {
        let m = next_message(&mut inbox).await;
        assert_eq!(
            on_disk(dir.path(), "lobby", m.id).as_deref(),
            Some(&*m.text)
        );
    }
    for s in sends {
        let (id, text) = s.await.unwrap();
        assert_eq!(on_disk(dir.path(), "lobby", id), Some(text));
    }
}

#[tokio::test]
async fn ids_are_per_room_monotonic_and_continue_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hub = open(dir.path(), unlimited());
        let (s, _inbox) = guest_in(&hub, "ann", "a").await;
        s.join("b").await.unwrap();
        let mut got = Vec::new();
        for (room, text) in [("a", "1"), ("b", "1"), ("a", "2"), ("a", "3"), ("b", "2")] {
            got.push((room, s.publish(room, text).await.unwrap().id));
        }
        assert_eq!(got, [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]);
    }
    let hub = open(dir.path(), unlimited());
    let (s, _inbox) = guest_in(&hub, "ann", "a").await;
    let joined = s.join("b").await.unwrap();
    assert_eq!(joined.last_id, 2);
    assert_eq!(s.publish("a", "4").await.unwrap().id, 4);
    assert_eq!(s.publish("b", "3").await.unwrap().id, 3);
    let page = hub.history("a", HistoryQuery::Last(10)).await.unwrap();
    let want: Vec<(u64, String)> = (1..=4).map(|i| (i, i.to_string())).collect();
    assert_eq!(texts(&page), want);
    let rooms = hub.rooms().await.unwrap();
    let summary: Vec<(&str, usize, u64)> = rooms
        .iter()
        .map(|r| (&*r.name, r.members, r.last_id))
        .collect();
    assert_eq!(summary, [("a", 1, 4), ("b", 1, 3)]);
}

#[tokio::test]
async fn history_pages_last_n_and_after_id() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        history_page_max: 4,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (s, _inbox) = guest_in(&hub, "ann", "lobby").await;
    for i in 1..=10 {
        s.publish("lobby", &format!("m{i}")).await.unwrap();
    }
    let ids = |p: &HistoryPage| p.messages.iter().map(|m| m.id).collect::<Vec<_>>();
    let last3 = hub.history("lobby", HistoryQuery::Last(3)).await.unwrap();
    assert_eq!((ids(&last3), last3.more), (vec![8, 9, 10], true));
    let capped = hub.history("lobby", HistoryQuery::Last(100)).await.unwrap();
    assert_eq!(ids(&capped), [7, 8, 9, 10]);
    let first = hub.history("lobby", HistoryQuery::After(0)).await.unwrap();
    assert_eq!((ids(&first), first.more), (vec![1, 2, 3, 4], true));
    let tail = hub.history("#LOBBY", HistoryQuery::After(7)).await.unwrap();
    assert_eq!((ids(&tail), tail.more), (vec![8, 9, 10], false));
    assert_eq!(tail.messages[0].text, "m8");
    assert_eq!(tail.messages[0].name.as_ref(), "~ann");
    let none = hub.history("empty", HistoryQuery::Last(5)).await.unwrap();
    assert!(none.messages.is_empty() && !none.more);
    // Scroll-back: pages below a seq, oldest first, until none is older.
    let back = hub
        .history("lobby", HistoryQuery::Before(8, 3))
        .await
        .unwrap();
    assert_eq!((ids(&back), back.more), (vec![5, 6, 7], true));
    assert_eq!(back.messages[0].text, "m5");
    let capped = hub
        .history("lobby", HistoryQuery::Before(11, 9))
        .await
        .unwrap();
    assert_eq!((ids(&capped), capped.more), (vec![7, 8, 9, 10], true));
    let start = hub
        .history("lobby", HistoryQuery::Before(3, 3))
        .await
        .unwrap();
    assert_eq!((ids(&start), start.more), (vec![1, 2], false));
    let past = hub
        .history("lobby", HistoryQuery::Before(1, 3))
        .await
        .unwrap();
    assert!(past.messages.is_empty() && !past.more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_catches_up_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        history_page_max: 7,
        queue_capacity: 1024,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (talker, mut talker_inbox) = guest_in(&hub, "talker", "lobby").await;
    tokio::spawn(async move { while talker_inbox.recv().await.is_some() {} });
    let (reader, mut inbox) = guest_in(&hub, "reader", "lobby").await;
    for i in 1..=20 {
        talker.publish("lobby", &format!("m{i}")).await.unwrap();
    }
    // The reader saw up to 12, then lost its connection.
    let mut seen = Vec::new();
    while seen.len() < 12 {
        seen.push(next_message(&mut inbox).await.id);
    }
    drop((reader, inbox));
    // Messages keep coming while it is away and while it reconnects.
    let talking = tokio::spawn(async move {
        for i in 21..=200 {
            talker.publish("lobby", &format!("m{i}")).await.unwrap();
        }
        talker
    });
    tokio::task::yield_now().await;
    let who = Identity::Guest("reader".into());
    let (reader, mut inbox) = Session::open(dyn_hub(&hub), who, DoorKind::Frame)
        .await
        .unwrap();
    let joined = reader.join("lobby").await.unwrap();
    let mut last = *seen.last().unwrap();
    while last < joined.last_id {
        let page = hub
            .history("lobby", HistoryQuery::After(last))
            .await
            .unwrap();
        for m in page.messages.iter().filter(|m| m.id <= joined.last_id) {
            seen.push(m.id);
            last = m.id;
        }
    }
    let talker = talking.await.unwrap();
    while last < 200 {
        last = next_message(&mut inbox).await.id;
        seen.push(last);
    }
    assert_eq!(seen, (1..=200).collect::<Vec<u64>>());
    drop(talker);
}
