//! Conversation features on the line door (scrolling back through
//! history) and typing notices across doors.

use crate::clients::{Line, server};
use crate::common::{add_user, framed_member};

#[tokio::test]
async fn history_more_scrolls_back_a_page_at_a_time() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    for i in 1..=5 {
        ann.send(&format!("m{i}")).await;
    }
    ann.send("/history more").await;
    ann.until(|l| l.starts_with("* nothing shown yet")).await;
    // The member's own lines are kept before a command runs (settle).
    ann.send("/history 2").await;
    assert_eq!(
        ann.until(|l| l.starts_with("* last")).await,
        "* last 2 messages in lobby (older ones exist):"
    );
    assert_eq!(ann.line().await, "<~ann> m4");
    assert_eq!(ann.line().await, "<~ann> m5");
    assert_eq!(ann.line().await, "* end of history");
    ann.send("/history 2 more").await;
    assert_eq!(
        ann.line().await,
        "* 2 messages before 4 in lobby (older ones exist):"
    );
    assert_eq!(ann.line().await, "<~ann> m2");
    assert_eq!(ann.line().await, "<~ann> m3");
    assert_eq!(ann.line().await, "* end of history");
    ann.send("/history 2 more").await;
    assert_eq!(ann.line().await, "* 1 messages before 2 in lobby:");
    assert_eq!(ann.line().await, "<~ann> m1");
    assert_eq!(ann.line().await, "* end of history");
    ann.send("/history more").await;
    assert_eq!(ann.line().await, "* no older messages in lobby");
    ann.send("/history 1 before 3").await;
    assert_eq!(
        ann.line().await,
        "* 1 messages before 3 in lobby (older ones exist):"
    );
    assert_eq!(ann.line().await, "<~ann> m2");
    ann.send("/history before x").await;
    assert!(
        ann.until(|l| l.starts_with("* usage: /history"))
            .await
            .contains("before SEQ")
    );
}

/// Typing from the frame protocol: another framed member gets `chat.typing`,
/// the typist does not, a line member sees nothing (a terminal would
/// scroll), and outside the room it is `not_in_room`.
#[tokio::test]
async fn typing_reaches_framed_members_only_and_not_the_typist() {
    use sockit::wire::{ChatEvent, ChatReply, ChatRequest};
    let srv = server(&["--listen", "tcp://127.0.0.1:0"]);
    for name in ["ann", "bob"] {
        add_user(&srv.data(), name, "pw pw pw pw");
    }
    let limit = std::time::Duration::from_secs(30);
    let mut ann = framed_member(&srv, "ann", "pw pw pw pw", limit).await;
    let mut bob = framed_member(&srv, "bob", "pw pw pw pw", limit).await;
    let mut cy = Line::join(&srv, "cy").await;
    for c in [&mut ann, &mut bob] {
        c.request(
            ChatRequest::Join {
                room: "lobby".into(),
            }
            .to_frame(None),
        )
        .await
        .unwrap();
    }
    cy.until(|l| l == "* bob joined lobby").await;
    let typing = ChatRequest::Typing {
        room: "#Lobby".into(),
    };
    let reply = ann.request(typing.to_frame(None)).await.unwrap();
    assert_eq!(
        ChatReply::from_frame(&reply).unwrap(),
        ChatReply::Typing {
            room: "lobby".into()
        }
    );
    let seen = loop {
        let f = bob.recv().await.unwrap().unwrap();
        match ChatEvent::from_frame(&f).unwrap() {
            ChatEvent::Presence { .. } => continue,
            ev => break ev,
        }
    };
    assert_eq!(
        seen,
        ChatEvent::Typing {
            room: "lobby".into(),
            name: "ann".into(),
            guest: false
        }
    );
    // Next for the typist and the line member: bob's message, no typing.
    let say = ChatRequest::Send {
        room: "lobby".into(),
        text: "after typing".into(),
        key: None,
    };
    bob.request(say.to_frame(None)).await.unwrap();
    assert_eq!(
        cy.until(|l| !l.starts_with('*')).await,
        "<bob> after typing"
    );
    let next = loop {
        let f = ann.recv().await.unwrap().unwrap();
        match ChatEvent::from_frame(&f).unwrap() {
            ChatEvent::Presence { .. } => continue,
            ev => break ev,
        }
    };
    assert!(
        matches!(next, ChatEvent::Message(ref m) if m.text == "after typing"),
        "{next:?}"
    );
    let elsewhere = ChatRequest::Typing { room: "ops".into() };
    let e = ann.request(elsewhere.to_frame(None)).await.unwrap_err();
    assert_eq!(e.code(), Some("not_in_room"), "{e}");
}
