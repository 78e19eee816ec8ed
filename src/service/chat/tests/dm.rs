//! Direct conversations and read markers on one hub: privacy, the guest
//! rule, delivery to a party that has not opened the conversation, and
//! markers synced between two sessions of one account.

use super::*;

/// A registry of three accounts, `eve` locked.
struct Three;

impl NameRegistry for Three {
    fn is_registered(&self, name: &str) -> bool {
        ["ann", "bob", "eve", "cat"].contains(&account_key(name).as_str())
    }
    fn recipient(&self, name: &str) -> Recipient {
        match account_key(name).as_str() {
            "eve" => Recipient::Locked,
            n if self.is_registered(n) => Recipient::Open,
            _ => Recipient::Unknown,
        }
    }
}

fn hub(dir: &Path) -> Arc<LocalHub> {
    LocalHub::open(dir, unlimited(), Arc::new(Three)).unwrap()
}

async fn account(hub: &Arc<LocalHub>, name: &str) -> (Session, Inbox) {
    let who = Identity::Registered(name.into());
    Session::open(dyn_hub(hub), who, DoorKind::Frame)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_two_accounts_can_use_a_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let (ann, _a) = account(&hub, "Ann").await;
    let (cat, _c) = account(&hub, "cat").await;
    let joined = ann.join("@bob").await.unwrap();
    assert_eq!(&*joined.room, "@ann+bob");
    ann.publish("@bob", "secret").await.unwrap();

    // A third account: no join, send, history, who, listing.
    for room in ["@ann+bob", "@bob+ann", "@ANN+BOB"] {
        assert!(matches!(cat.join(room).await, Err(ChatError::NotInRoom(_))));
        assert!(matches!(
            cat.publish(room, "x").await,
            Err(ChatError::NotInRoom(_))
        ));
        assert!(cat.history(room, HistoryQuery::Last(10)).await.is_err());
        assert!(cat.who(room).await.is_err());
        assert!(cat.mark_read(room, 1).await.is_err());
        assert!(cat.unread(vec![room.into()]).await.is_err());
    }
    assert!(cat.dms().await.unwrap().is_empty());
    // The memberless calls never read a conversation.
    let h = hub.history("@ann+bob", HistoryQuery::Last(10)).await;
    assert!(matches!(h, Err(ChatError::BadRoom { .. })));
    assert!(hub.who("@ann+bob").await.is_err());
    assert!(
        hub.rooms()
            .await
            .unwrap()
            .iter()
            .all(|r| !r.name.starts_with('@'))
    );
    // A guest may not open one at all, nor be written to.
    let (guest, _g) = guest_in(&hub, "ann2", "lobby").await;
    assert_eq!(
        guest.join("@bob").await.unwrap_err(),
        ChatError::DmNeedsAccount
    );
    assert!(
        guest
            .history("@ann+bob", HistoryQuery::Last(1))
            .await
            .is_err()
    );
    assert!(ann.join("@~ann2").await.is_err());
    // Locked and unknown accounts, and oneself.
    assert_eq!(
        ann.join("@eve").await.unwrap_err(),
        ChatError::DmLocked("eve".into())
    );
    assert!(matches!(
        ann.join("@nobody").await,
        Err(ChatError::DmNoAccount(_))
    ));
    assert!(matches!(
        ann.join("@ann").await,
        Err(ChatError::BadRoom { .. })
    ));
    assert!(may_read(&Identity::Registered("bob".into()), "@ann+bob"));
    assert!(!may_read(&Identity::Registered("cat".into()), "@ann+bob"));
}

#[tokio::test]
async fn a_party_learns_of_a_message_and_reads_it_later() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let (ann, _a) = account(&hub, "ann").await;
    // Bob is online in the lobby only: the message still reaches him.
    let (bob, mut bob_in) = account(&hub, "bob").await;
    bob.join("lobby").await.unwrap();
    ann.join("@bob").await.unwrap();
    ann.publish("@bob", "hi bob").await.unwrap();
    let m = next_message(&mut bob_in).await;
    assert_eq!(
        (&*m.room, &*m.text, &*m.name),
        ("@ann+bob", "hi bob", "ann")
    );
    drop((bob, bob_in));
    // Offline, then back: history and the listing have it.
    ann.publish("@bob", "still there?").await.unwrap();
    let (bob, _b) = account(&hub, "Bob").await;
    let page = bob.history("@ann", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(
        texts(&page),
        [(1, "hi bob".into()), (2, "still there?".into())]
    );
    let dms = bob.dms().await.unwrap();
    assert_eq!(dms.len(), 1);
    let c = &dms[0];
    assert_eq!(
        (&*c.room, c.with.as_deref(), c.unread, c.last_id),
        ("@ann+bob", Some("ann"), 2, 2)
    );
}

#[tokio::test]
async fn markers_move_forward_and_reach_the_other_session() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let (one, _i1) = account(&hub, "ann").await;
    let (two, mut in2) = account(&hub, "ann").await;
    let (bob, _b) = account(&hub, "bob").await;
    bob.join("dev").await.unwrap();
    for t in ["a", "hey @Ann look", "@anna is not ann", "c"] {
        bob.publish("dev", t).await.unwrap();
    }
    let counts = one.unread(vec!["dev".into()]).await.unwrap();
    assert_eq!(
        (counts[0].read, counts[0].unread, counts[0].mentions),
        (0, 4, 1)
    );

    assert_eq!(
        one.mark_read("#Dev", 2).await.unwrap(),
        (Arc::from("dev"), 2)
    );
    loop {
        if let Event::Read(r) = next(&mut in2).await {
            assert_eq!((&*r.room, r.seq), ("dev", 2));
            break;
        }
    }
    let counts = two.unread(vec!["dev".into()]).await.unwrap();
    assert_eq!(
        (counts[0].read, counts[0].unread, counts[0].mentions),
        (2, 2, 0)
    );
    // Never back, never past the last message.
    assert_eq!(two.mark_read("dev", 1).await.unwrap().1, 2);
    assert_eq!(two.mark_read("dev", u64::MAX).await.unwrap().1, 4);
    assert_eq!(one.unread(vec!["dev".into()]).await.unwrap()[0].unread, 0);
    // Own messages are never unread.
    one.join("dev").await.unwrap();
    one.publish("dev", "mine").await.unwrap();
    assert_eq!(one.unread(vec!["dev".into()]).await.unwrap()[0].unread, 0);
    // A room with no history has no marker to keep.
    assert_eq!(one.mark_read("nowhere", 5).await.unwrap().1, 0);
}

#[tokio::test]
async fn counts_stop_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let (ann, _a) = account(&hub, "ann").await;
    let (bob, _b) = account(&hub, "bob").await;
    bob.join("@ann").await.unwrap();
    for i in 0..COUNT_CAP + 5 {
        bob.publish("@ann", &format!("@ann {i}")).await.unwrap();
    }
    let c = &ann.dms().await.unwrap()[0];
    assert_eq!(
        (c.unread, c.mentions, c.last_id),
        (COUNT_CAP, COUNT_CAP, COUNT_CAP + 5)
    );
}

#[tokio::test]
async fn an_account_starts_a_bounded_number_of_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let many = |n: &str| n.starts_with('u') || n == "ann";
    let hub = LocalHub::open(dir.path(), unlimited(), Arc::new(many)).unwrap();
    let (ann, _a) = account(&hub, "ann").await;
    for i in 0..DM_MAX_PER_ACCOUNT {
        let room = format!("@u{i}");
        ann.join(&room).await.unwrap();
        // Leaving keeps the conversation (it has a row) but frees a slot
        // of the connection's room limit.
        ann.leave(&room).await.unwrap();
    }
    let over = ann.join("@u-last").await.unwrap_err();
    assert_eq!(over, ChatError::DmQuota(DM_MAX_PER_ACCOUNT));
    // One it has already is still open to it.
    ann.join("@u0").await.unwrap();
}

#[tokio::test]
async fn a_session_renamed_away_from_the_account_leaves_its_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let (mut ann, mut ann_in) = account(&hub, "ann").await;
    let (bob, _b) = account(&hub, "bob").await;
    ann.join("@bob").await.unwrap();
    ann.join("lobby").await.unwrap();
    bob.join("@ann").await.unwrap();
    ann.rename(Identity::Guest("visitor".into())).await.unwrap();
    assert!(ann.publish("@ann+bob", "as a guest").await.is_err());
    bob.publish("@ann", "not for guests").await.unwrap();
    bob.join("lobby").await.unwrap();
    bob.publish("lobby", "public").await.unwrap();
    // The guest gets the lobby's message, never the conversation's.
    assert_eq!(next_message(&mut ann_in).await.text, "public");
}

/// Accounts where `bob` was deleted and registered again at `since`
/// (unix millis): the new `bob` reads direct messages from then on.
struct Reregistered {
    since: std::sync::atomic::AtomicU64,
}

impl NameRegistry for Reregistered {
    fn is_registered(&self, name: &str) -> bool {
        ["ann", "bob"].contains(&account_key(name).as_str())
    }
    fn reads_from(&self, name: &str) -> u64 {
        match account_key(name).as_str() {
            "bob" => self.since.load(std::sync::atomic::Ordering::Relaxed),
            _ => 0,
        }
    }
}

#[tokio::test]
async fn a_name_registered_again_does_not_read_the_old_holders_messages() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = Arc::new(Reregistered {
        since: std::sync::atomic::AtomicU64::new(0),
    });
    let hub = LocalHub::open(dir.path(), unlimited(), accounts.clone()).unwrap();
    let (ann, _a) = account(&hub, "ann").await;
    ann.join("@bob").await.unwrap();
    let old = ann.publish("@bob", "the old secret").await.unwrap();
    // The reply must be committed in a later millisecond than the secret
    // (the floor below sits between the two): two commits can share one.
    while crate::service::chat::writer::now_millis() <= old.ts {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    {
        let (bob, _b) = account(&hub, "bob").await;
        bob.join("@ann").await.unwrap();
        bob.publish("@ann", "old reply").await.unwrap();
    }
    // bob is deleted; a new bob registers after the last message.
    accounts
        .since
        .store(old.ts + 60_000, std::sync::atomic::Ordering::Relaxed);
    let (bob, _b) = account(&hub, "bob").await;
    let page = bob.history("@ann", HistoryQuery::Last(50)).await.unwrap();
    assert!(
        page.messages.is_empty() && !page.more,
        "{:?}",
        page.messages
    );
    let page = bob
        .history("@ann+bob", HistoryQuery::After(0))
        .await
        .unwrap();
    assert!(page.messages.is_empty());
    let page = bob
        .history("@ann", HistoryQuery::Before(100, 50))
        .await
        .unwrap();
    assert!(page.messages.is_empty());
    assert!(bob.dms().await.unwrap().is_empty(), "old DM listed");
    let counts = bob.unread(vec!["@ann".into()]).await.unwrap();
    assert_eq!((counts[0].unread, counts[0].mentions), (0, 0));
    let found = bob
        .search(SearchQuery::parse("secret", None, None, None).unwrap())
        .await
        .unwrap();
    assert!(found.hits.is_empty(), "{:?}", found.hits);
    // ann keeps her whole history, and finds it.
    let page = ann.history("@bob", HistoryQuery::Last(50)).await.unwrap();
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["the old secret", "old reply"]);
    let found = ann
        .search(SearchQuery::parse("secret", None, None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(ann.dms().await.unwrap().len(), 1);

    // What is said to the new bob is his.
    accounts
        .since
        .store(old.ts + 1, std::sync::atomic::Ordering::Relaxed);
    let page = bob.history("@ann", HistoryQuery::Last(50)).await.unwrap();
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["old reply"]);
    assert_eq!(bob.unread(vec!["@ann".into()]).await.unwrap()[0].unread, 0);
}
