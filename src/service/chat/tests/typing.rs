//! Typing notices: passed on to the room, paced, never stored.

use super::*;

#[tokio::test(start_paused = true)]
async fn typing_reaches_the_room_at_most_every_three_seconds_and_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, mut ann_in) = guest_in(&hub, "ann", "dev").await;
    let (_bob, mut bob_in) = guest_in(&hub, "bob", "dev").await;
    assert_eq!(next_presence(&mut ann_in).await.notice(), "~ann joined dev");
    assert_eq!(next_presence(&mut ann_in).await.notice(), "~bob joined dev");
    assert_eq!(next_presence(&mut bob_in).await.notice(), "~bob joined dev");

    ann.typing("#DEV").await.unwrap();
    let p = next_presence(&mut bob_in).await;
    assert_eq!((p.typist(), p.event_name()), (Some(ann.id()), "typing"));
    assert_eq!(p.notice(), "~ann is typing in dev");
    // The typist's own inbox has it too; its door leaves it out.
    assert_eq!(next_presence(&mut ann_in).await.typist(), Some(ann.id()));

    // Sooner than 3 s: accepted, not passed on.
    tokio::time::advance(Duration::from_millis(2900)).await;
    ann.typing("dev").await.unwrap();
    assert!(bob_in.try_recv().is_none());
    tokio::time::advance(Duration::from_millis(100)).await;
    ann.typing("dev").await.unwrap();
    assert_eq!(next_presence(&mut bob_in).await.typist(), Some(ann.id()));

    // Only in a room the member is in; nothing is ever stored.
    let e = ann.typing("ops").await.unwrap_err();
    assert!(matches!(e, ChatError::NotInRoom(_)), "{e:?}");
    let page = hub.history("dev", HistoryQuery::Last(10)).await.unwrap();
    assert!(page.messages.is_empty());
}

/// A notice another node of a cluster sent (`local::typing`): passed to
/// the room's members here as a typing notice nobody here takes for their
/// own; dropped when this node sent it, when it is older than 6 s, when
/// nobody here is in the room, or when it does not parse.
#[tokio::test]
async fn a_typing_notice_from_another_node_reaches_the_room_unless_stale_or_own() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (bob, mut bob_in) = guest_in(&hub, "bob", "dev").await;
    assert_eq!(next_presence(&mut bob_in).await.notice(), "~bob joined dev");
    let note = |node: &str, room: &str, at: u64| {
        format!(
            r#"{{"node":"{node}","room":"{room}","name":"ann","guest":false,"door":"web","at":{at}}}"#
        )
    };
    let now = 1_000_000_000;
    let six = TYPING_EXPIRES.as_millis() as u64;

    assert!(hub.remote_typing("here", &note("there", "dev", now - six), now));
    let p = next_presence(&mut bob_in).await;
    assert_eq!(p.notice(), "ann is typing in dev");
    assert_eq!(
        (p.event_name(), p.door, p.guest),
        ("typing", DoorKind::Web, false)
    );
    assert!(p.typist().is_some_and(|t| t != bob.id()));

    let stale = note("there", "dev", now - six - 1);
    let own = note("here", "dev", now);
    let elsewhere = note("there", "ops", now);
    for payload in [
        stale.as_str(),
        own.as_str(),
        elsewhere.as_str(),
        "{not json",
    ] {
        assert!(!hub.remote_typing("here", payload, now), "{payload}");
    }
    assert!(bob_in.try_recv().is_none());
}
