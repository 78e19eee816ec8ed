//! Presence that does not flood: the grace period and the folded line,
//! with paused time.

use super::*;

const GRACE: Duration = DEFAULT_PRESENCE_GRACE;

/// A hub with the default grace period, flood control off.
fn graceful(dir: &Path) -> Arc<LocalHub> {
    open(
        dir,
        ChatConfig {
            rate_per_sec: 0.0,
            ..ChatConfig::default()
        },
    )
}

/// Lets time pass (paused clock) and the flush tasks run.
async fn pass(d: Duration) {
    tokio::time::advance(d).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A guest in the lobby whose join the room has heard, its inbox read.
async fn settled(hub: &Arc<LocalHub>, name: &str) -> (Session, Inbox) {
    let (s, mut inbox) = guest_in(hub, name, "lobby").await;
    pass(GRACE).await;
    notices(&mut inbox);
    (s, inbox)
}

/// Every presence event in the inbox now, as notices.
fn notices(inbox: &mut Inbox) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(ev) = inbox.try_recv() {
        if let Event::Presence(p) = ev {
            out.push(p.notice());
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn say_and_leave_within_the_grace_period_is_not_announced() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = guest_in(&hub, "ann", "lobby").await;
    // A member is told its own join at once, and not again.
    assert_eq!(notices(&mut ann_in), ["~ann joined lobby"]);
    pass(GRACE).await;
    assert_eq!(notices(&mut ann_in), Vec::<String>::new());

    // What `sockit say` does: connect, join, (post,) go. (Posting waits
    // on the writer thread, which lets a paused clock jump ahead; the door
    // tests run `sockit say` itself.)
    let (bob, _bob_in) = guest_in(&hub, "bob", "lobby").await;
    pass(Duration::from_secs(1)).await;
    drop(bob);
    pass(GRACE * 3).await;
    assert_eq!(notices(&mut ann_in), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_member_who_stays_is_announced_once_and_its_leave_too() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;

    let (mut bob, _bob_in) = guest_in(&hub, "bob", "lobby").await;
    pass(GRACE - Duration::from_millis(10)).await;
    assert!(
        notices(&mut ann_in).is_empty(),
        "announced before the grace"
    );
    pass(Duration::from_millis(10)).await;
    let p = next_presence(&mut ann_in).await;
    assert_eq!(
        (p.event_name(), &*p.name, p.notice().as_str()),
        ("join", "~bob", "~bob joined lobby")
    );
    pass(GRACE * 4).await;
    assert!(notices(&mut ann_in).is_empty(), "announced twice");

    // A renamed member the room knows is told at once.
    bob.rename(Identity::Guest("bobby".into())).await.unwrap();
    assert_eq!(notices(&mut ann_in), ["~bob is now known as ~bobby"]);
    bob.leave("lobby").await.unwrap();
    pass(GRACE).await;
    assert_eq!(notices(&mut ann_in), ["~bobby left lobby"]);
}

#[tokio::test(start_paused = true)]
async fn joins_and_leaves_in_one_window_fold_into_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = guest_in(&hub, "ann", "lobby").await;
    let (dan, _dan_in) = guest_in(&hub, "dan", "lobby").await;
    pass(GRACE).await;
    // Each is told its own join at once; the room, when the window ends.
    assert_eq!(
        notices(&mut ann_in),
        ["~ann joined lobby", "~ann and ~dan joined lobby"]
    );

    let (_bob, _b) = guest_in(&hub, "bob", "lobby").await;
    let (_cid, _c) = guest_in(&hub, "cid", "lobby").await;
    drop(dan);
    pass(GRACE).await;
    let p = next_presence(&mut ann_in).await;
    assert_eq!(p.event_name(), "summary");
    assert_eq!(p.notice(), "~bob and ~cid joined lobby; ~dan left");
    let s = p.summary_of().unwrap();
    let joined: Vec<&str> = s.joined.iter().map(|n| &**n).collect();
    let left: Vec<&str> = s.left.iter().map(|n| &**n).collect();
    assert_eq!((joined, left), (vec!["~bob", "~cid"], vec!["~dan"]));
    // Every door renders it from the protocol's shape.
    let wire = crate::wire::ChatEvent::from(&*p);
    let v = serde_json::to_value(&wire).unwrap();
    assert_eq!(v["joined"], serde_json::json!(["~bob", "~cid"]));
    assert_eq!(v["left"], serde_json::json!(["~dan"]));
    assert!(v.get("name").is_none() && v.get("door").is_none(), "{v}");
    assert!(notices(&mut ann_in).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_within_the_window_is_neither_a_leave_nor_a_join() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;
    let (bob, _b) = settled(&hub, "bob").await;
    assert_eq!(notices(&mut ann_in), ["~bob joined lobby"]);
    drop(bob);
    pass(Duration::from_secs(1)).await;
    let (_bob, _b) = guest_in(&hub, "bob", "lobby").await;
    pass(GRACE * 3).await;
    assert!(notices(&mut ann_in).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_crowd_is_named_up_to_the_limit_and_counted_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;
    let mut crowd = Vec::new();
    for i in 0..FOLD_NAMES_MAX + 3 {
        crowd.push(guest_in(&hub, &format!("g{i:02}"), "lobby").await);
    }
    pass(GRACE).await;
    let p = next_presence(&mut ann_in).await;
    let s = p.summary_of().unwrap();
    assert_eq!((s.joined.len(), s.joined_more), (FOLD_NAMES_MAX, 3));
    assert!(
        p.notice().ends_with(" and 3 others joined lobby"),
        "{}",
        p.notice()
    );
}

/// What the cluster feed reads of the other nodes: `names` (guests), in
/// `sessions` sessions.
fn far(names: &[&str], sessions: usize) -> crate::service::chat::presence_pg::RemoteView {
    crate::service::chat::presence_pg::RemoteView {
        members: names
            .iter()
            .map(|n| MemberInfo {
                name: Arc::from(format!("~{n}")),
                door: DoorKind::Frame,
                guest: true,
            })
            .collect(),
        sessions,
    }
}

/// The lag a member of another node is seen with (two heartbeats).
const LAG: Duration = Duration::from_secs(2);

#[tokio::test(start_paused = true)]
async fn a_member_of_another_node_is_announced_after_the_grace_and_the_lag() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;
    // Whoever is there at the first look was there before: no news.
    hub.seen_far_in("lobby", far(&["old"], 1));
    hub.seen_far_in("lobby", far(&["old", "bob"], 2));
    pass(GRACE).await;
    assert!(notices(&mut ann_in).is_empty(), "before the lag");
    pass(LAG).await;
    assert_eq!(notices(&mut ann_in), ["~bob joined lobby"]);
    hub.seen_far_in("lobby", far(&["old"], 1));
    pass(GRACE).await;
    assert_eq!(notices(&mut ann_in), ["~bob left lobby"]);
    // Come and gone on another node within the grace: nothing, anywhere.
    hub.seen_far_in("lobby", far(&["old", "cid"], 2));
    pass(Duration::from_secs(1)).await;
    hub.seen_far_in("lobby", far(&["old"], 1));
    pass(GRACE * 3).await;
    assert!(notices(&mut ann_in).is_empty());
}

#[tokio::test(start_paused = true)]
async fn moving_from_a_dead_node_to_this_one_within_the_window_is_no_news() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;
    hub.seen_far_in("lobby", far(&[], 0));
    hub.seen_far_in("lobby", far(&["bob", "eve"], 2));
    pass(GRACE + LAG).await;
    assert_eq!(notices(&mut ann_in), ["~bob and ~eve joined lobby"]);
    // Their node dies; bob is back here at once. When the dead node's
    // presence expires, only eve is gone.
    let (bob, _b) = guest_in(&hub, "bob", "lobby").await;
    pass(Duration::from_secs(4)).await;
    hub.seen_far_in("lobby", far(&[], 0));
    pass(GRACE * 3).await;
    assert_eq!(notices(&mut ann_in), ["~eve left lobby"]);
    // And the other way: bob leaves here and is back on another node
    // within the window.
    drop(bob);
    pass(Duration::from_secs(1)).await;
    hub.seen_far_in("lobby", far(&["bob"], 1));
    pass(GRACE * 3).await;
    assert!(notices(&mut ann_in).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_room_large_across_nodes_announces_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let hub = graceful(dir.path());
    let (_ann, mut ann_in) = settled(&hub, "ann").await;
    hub.seen_far_in("lobby", far(&[], 0));
    // 499 sessions elsewhere, ann and now bob here: 501 in all.
    hub.seen_far_in("lobby", far(&["x"], 499));
    let (_bob, _b) = guest_in(&hub, "bob", "lobby").await;
    pass(GRACE * 3).await;
    assert!(notices(&mut ann_in).is_empty());
}
