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
                Event::Presence(_) => {}
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
