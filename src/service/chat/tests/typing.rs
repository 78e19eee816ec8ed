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
