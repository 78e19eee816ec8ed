//! Edits, deletes and search on the one-node hub (SQLite): the rules, the
//! log entries members receive, what history and search show after.

use super::*;

/// An account member (the hub takes the name as authenticated), in `room`.
async fn user_in(hub: &Arc<LocalHub>, name: &str, room: &str) -> (Session, Inbox) {
    let (s, inbox) = Session::open(
        dyn_hub(hub),
        Identity::Registered(name.into()),
        DoorKind::Frame,
    )
    .await
    .unwrap();
    s.join(room).await.unwrap();
    (s, inbox)
}

fn search(words: &str) -> SearchQuery {
    SearchQuery::parse(words, None, None, None).unwrap()
}

fn seqs(page: &SearchPage) -> Vec<u64> {
    page.hits.iter().map(|h| h.seq).collect()
}

#[tokio::test]
async fn an_edit_is_a_new_entry_members_see_and_history_shows_the_new_text() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    let (_bob, mut b) = user_in(&hub, "bob", "lobby").await;
    let m = ann.publish("lobby", "deploy at noon").await.unwrap();
    assert_eq!(next_message(&mut b).await.id, m.id);
    let e = ann
        .amend("lobby", m.id, Amend::Edit("deploy at  one".into()))
        .await
        .unwrap();
    assert_eq!((e.id, e.revision), (m.id + 1, Revision::Edit(m.id)));
    let seen = next_message(&mut b).await;
    assert_eq!(seen.revision, Revision::Edit(m.id));
    assert_eq!(seen.text, "deploy at  one");
    assert_eq!(
        seen.display_text(),
        format!("edited #{}: deploy at  one", m.id)
    );
    let page = hub.history("lobby", HistoryQuery::Last(10)).await.unwrap();
    let kinds: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.id, m.revision, m.text.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (m.id, Revision::Edited, "deploy at  one"),
            (e.id, Revision::Edit(m.id), "deploy at  one")
        ]
    );
    // Catch-up after the first message replays the edit in order.
    let after = hub
        .history("lobby", HistoryQuery::After(m.id))
        .await
        .unwrap();
    assert_eq!(texts(&after), [(e.id, "deploy at  one".to_owned())]);
    // Search finds the new text, not the old.
    assert_eq!(seqs(&ann.search(search("one")).await.unwrap()), [m.id]);
    assert!(ann.search(search("noon")).await.unwrap().hits.is_empty());
    assert!(ann.search(search("noon")).await.unwrap().next.is_none());
}

#[tokio::test]
async fn a_delete_erases_the_text_everywhere_and_ends_further_changes() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    let m = ann
        .publish("lobby", "the password is hunter2")
        .await
        .unwrap();
    ann.amend(
        "lobby",
        m.id,
        Amend::Edit("the password is swordfish".into()),
    )
    .await
    .unwrap();
    let d = ann.amend("lobby", m.id, Amend::Delete).await.unwrap();
    assert_eq!((d.revision, d.text.as_str()), (Revision::Delete(m.id), ""));
    let page = hub.history("lobby", HistoryQuery::Last(10)).await.unwrap();
    assert!(page.messages.iter().all(|m| m.text.is_empty()), "{page:?}");
    assert_eq!(page.messages[0].revision, Revision::Deleted);
    assert_eq!(page.messages[0].display_text(), "(message deleted)");
    for word in ["hunter2", "swordfish", "password"] {
        assert!(ann.search(search(word)).await.unwrap().hits.is_empty());
    }
    // Not in the database's rows either.
    drop(hub);
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE text LIKE '%hunter2%' OR text LIKE '%swordfish%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    drop(conn);
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    for change in [Amend::Edit("back".into()), Amend::Delete] {
        assert_eq!(
            ann.amend("lobby", m.id, change).await.unwrap_err(),
            ChatError::MessageDeleted(m.id)
        );
    }
}

#[tokio::test]
async fn only_the_logged_in_author_may_change_and_only_messages() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    let (bob, _b) = user_in(&hub, "bob", "lobby").await;
    let (eve, _e) = guest_in(&hub, "eve", "lobby").await;
    let m = ann.publish("lobby", "mine").await.unwrap();
    let g = eve.publish("lobby", "a guest's").await.unwrap();
    let edit = || Amend::Edit("changed".into());
    assert_eq!(
        bob.amend("lobby", m.id, edit()).await.unwrap_err(),
        ChatError::NotAuthor(m.id)
    );
    assert_eq!(
        bob.amend("lobby", m.id, Amend::Delete).await.unwrap_err(),
        ChatError::NotAuthor(m.id)
    );
    // A guest may change nothing, not even what its name said.
    assert_eq!(
        eve.amend("lobby", g.id, edit()).await.unwrap_err(),
        ChatError::NotAuthor(g.id)
    );
    let e = ann.amend("lobby", m.id, edit()).await.unwrap();
    // An edit entry is not a message to edit; nor is a seq never used.
    for seq in [e.id, 999] {
        assert_eq!(
            ann.amend("lobby", seq, edit()).await.unwrap_err(),
            ChatError::NoSuchMessage("lobby".into(), seq)
        );
    }
    // The text goes through a message's checks.
    assert_eq!(
        ann.amend("lobby", m.id, Amend::Edit(" \u{7} ".into()))
            .await
            .unwrap_err(),
        ChatError::Empty
    );
    // Not a member of the room: refused before anything is read.
    assert!(matches!(
        ann.amend("elsewhere", m.id, Amend::Delete).await,
        Err(ChatError::NotInRoom(_))
    ));
    let page = hub.history("lobby", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(
        page.messages.len(),
        3,
        "one edit entry, nothing else: {page:?}"
    );
}

#[tokio::test]
async fn changes_after_the_edit_window_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        edit_window: Duration::ZERO,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    let m = ann.publish("lobby", "too late").await.unwrap();
    assert_eq!(
        ann.amend("lobby", m.id, Amend::Delete).await.unwrap_err(),
        ChatError::EditWindow {
            seq: m.id,
            window: Duration::ZERO
        }
    );
}

#[tokio::test]
async fn search_pages_newest_first_within_a_room_and_takes_hostile_queries() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    ann.join("ops").await.unwrap();
    for i in 0..5 {
        ann.publish("lobby", &format!("backup {i} done"))
            .await
            .unwrap();
    }
    let o = ann
        .publish("ops", "backup failed: disk \"full\" AND NEAR")
        .await
        .unwrap();
    let first = ann
        .search(SearchQuery::parse("backup", None, None, Some(4)).unwrap())
        .await
        .unwrap();
    assert_eq!(first.hits.len(), 4);
    assert_eq!((&*first.hits[0].room, first.hits[0].seq), ("ops", o.id));
    let next = first.next.expect("a cursor to the next page");
    let rest = ann
        .search(SearchQuery::parse("backup", None, Some(next), Some(4)).unwrap())
        .await
        .unwrap();
    assert_eq!(seqs(&rest), [2, 1]);
    let only_ops = SearchQuery::parse("backup", Some("OPS"), None, None).unwrap();
    assert_eq!(seqs(&ann.search(only_ops).await.unwrap()), [o.id]);
    // Prefix on the last word; operators and quotes are plain words.
    assert_eq!(seqs(&ann.search(search("fail")).await.unwrap()), [o.id]);
    for q in [
        "\"full\" AND",
        "NEAR(disk full)",
        "disk* OR -x",
        "full\"",
        "a:b ^c",
    ] {
        let page = ann.search(search(q)).await.unwrap();
        assert!(page.hits.len() <= 1, "{q}: {page:?}");
    }
    for q in ["", "  ", "\"\" ** ()", &"x".repeat(10 * 1024)] {
        assert!(
            matches!(
                SearchQuery::parse(q, None, None, None),
                Err(ChatError::BadQuery(_))
            ),
            "{q:.20}"
        );
    }
    let many = vec!["w"; QUERY_MAX_WORDS + 1].join(" ");
    assert!(SearchQuery::parse(&many, None, None, None).is_err());
}

/// Three open accounts: direct conversations between them.
struct Three;

impl NameRegistry for Three {
    fn is_registered(&self, name: &str) -> bool {
        ["ann", "bob", "eve"].contains(&account_key(name).as_str())
    }
    fn recipient(&self, name: &str) -> Recipient {
        match self.is_registered(name) {
            true => Recipient::Open,
            false => Recipient::Unknown,
        }
    }
}

#[tokio::test]
async fn search_shows_a_direct_conversation_to_its_two_accounts_only() {
    let dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::open(dir.path(), unlimited(), Arc::new(Three)).unwrap();
    let (ann, _a) = user_in(&hub, "ann", "lobby").await;
    ann.join("@bob").await.unwrap();
    let m = ann.publish("@bob", "the vault code is 1234").await.unwrap();
    let (bob, _b) = user_in(&hub, "Bob", "lobby").await;
    let (eve, _e) = user_in(&hub, "eve", "lobby").await;
    assert_eq!(seqs(&ann.search(search("vault")).await.unwrap()), [m.id]);
    assert_eq!(seqs(&bob.search(search("vault")).await.unwrap()), [m.id]);
    assert!(eve.search(search("vault")).await.unwrap().hits.is_empty());
    let (guest, _g) = guest_in(&hub, "zed", "lobby").await;
    assert!(guest.search(search("vault")).await.unwrap().hits.is_empty());
    // Access follows the identity, not a name: a guest called bob is
    // not the account bob.
    let hit = |who: Identity| {
        let hub = hub.clone();
        async move { hub.search(&who, search("vault")).await.unwrap().hits.len() }
    };
    assert_eq!(hit(Identity::Registered("ANN".into())).await, 1);
    assert_eq!(hit(Identity::Guest("bob".into())).await, 0);
    assert_eq!(hit(Identity::Registered("ann+bob".into())).await, 0);
}

#[tokio::test]
async fn a_topic_is_set_by_an_account_member_pushed_stored_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, _a) = user_in(&hub, "ann", "ops").await;
    let (_bob, mut b) = user_in(&hub, "bob", "ops").await;
    let (eve, _e) = guest_in(&hub, "eve", "ops").await;
    assert_eq!(hub.topic("ops").await.unwrap(), "");
    let set = ann
        .amend("ops", 0, Amend::Topic("release \u{1b}[31mfriday".into()))
        .await
        .unwrap();
    assert_eq!(
        (set.revision, set.text.as_str()),
        (Revision::Topic, "release friday")
    );
    let seen = next_message(&mut b).await;
    assert_eq!(seen.display_text(), "set the topic: release friday");
    assert_eq!(hub.topic("ops").await.unwrap(), "release friday");
    let listed = hub.rooms().await.unwrap();
    let ops = listed.iter().find(|r| &*r.name == "ops").unwrap();
    assert_eq!(ops.topic, "release friday");
    assert_eq!(
        eve.amend("ops", 0, Amend::Topic("mine".into()))
            .await
            .unwrap_err(),
        ChatError::TopicNeedsAccount
    );
    let long = "x".repeat(TOPIC_MAX_BYTES + 1);
    assert!(matches!(
        ann.amend("ops", 0, Amend::Topic(long)).await,
        Err(ChatError::TooLong { .. })
    ));
    ann.amend("ops", 0, Amend::Topic("  ".into()))
        .await
        .unwrap();
    assert_eq!(hub.topic("ops").await.unwrap(), "");
    // Kept across a restart.
    ann.amend("ops", 0, Amend::Topic("kept".into()))
        .await
        .unwrap();
    drop((ann, _a, _bob, b, eve, _e));
    drop(hub);
    let hub = open(dir.path(), unlimited());
    assert_eq!(hub.topic("ops").await.unwrap(), "kept");
}
