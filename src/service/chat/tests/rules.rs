//! The message rules: sanitising, length, filter, flood control.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn escapes_and_line_breaks_never_reach_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let hub = open(dir.path(), unlimited());
    let (ann, mut inbox) = guest_in(&hub, "ann", "lobby").await;
    let m = ann
        .publish("lobby", "\x1b[31mred\x1b[0m\r\n<bob> forged\x07")
        .await
        .unwrap();
    assert_eq!(m.text, "red  <bob> forged");
    let seen = next_message(&mut inbox).await;
    // Stored as sanitised; the line door shows the blank run as one space
    // (door::chat_lines' render tests).
    assert_eq!(seen.text, "red  <bob> forged");
    assert_eq!(
        ann.publish("lobby", "\x1b[2J\x1b[H \t").await.unwrap_err(),
        ChatError::Empty
    );
    assert_eq!(
        ann.publish("lobby", "").await.unwrap_err(),
        ChatError::Empty
    );
}

#[tokio::test]
async fn length_limit_counts_utf8_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        max_message_bytes: 10,
        filter: vec![FilterRule::parse("x=xxxxxxxxxx").unwrap()],
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _inbox) = guest_in(&hub, "ann", "lobby").await;
    ann.publish("lobby", "ééééé").await.unwrap(); // 10 bytes
    let e = ann.publish("lobby", "éééééé").await.unwrap_err();
    assert_eq!(e, ChatError::TooLong { len: 12, max: 10 });
    // Escapes removed by sanitising do not count...
    ann.publish("lobby", "\x1b[1mhi\x1b[0m").await.unwrap();
    // ...but what the filter adds does.
    assert_eq!(
        ann.publish("lobby", "a x").await.unwrap_err().code(),
        crate::wire::ErrorCode::TooLong
    );
    assert_eq!(
        ann.publish("lobby", &"a".repeat(1_000_000))
            .await
            .unwrap_err()
            .code(),
        crate::wire::ErrorCode::TooLong
    );
}

#[tokio::test]
async fn the_filter_replaces_whole_words_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let rules = ["darn=****", "spam=!block", "Ärger=ä"];
    let config = ChatConfig {
        filter: rules.iter().map(|r| r.parse().unwrap()).collect(),
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    let (ann, _inbox) = guest_in(&hub, "ann", "lobby").await;
    let m = ann
        .publish("lobby", "DARN it, darning darn. ÄRGER!")
        .await
        .unwrap();
    assert_eq!(m.text, "**** it, darning ****. ä!");
    let e = ann.publish("lobby", "cheap Spam here").await.unwrap_err();
    assert_eq!(e, ChatError::Blocked("Spam".into()));
    assert_eq!(
        e.to_string(),
        "message refused: the word \"Spam\" is not allowed here"
    );
    let page = hub.history("lobby", HistoryQuery::Last(10)).await.unwrap();
    assert_eq!(texts(&page), [(1, "**** it, darning ****. ä!".to_string())]);
}

#[tokio::test(start_paused = true)]
async fn flood_control_refuses_and_does_not_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        rate_per_sec: 1.0,
        burst: 3,
        ..unlimited()
    };
    let hub = open(dir.path(), config);
    // The join takes one of the three tokens.
    let (ann, _inbox) = guest_in(&hub, "ann", "lobby").await;
    ann.publish("lobby", "one").await.unwrap();
    ann.publish("lobby", "two").await.unwrap();
    let e = ann.publish("lobby", "three").await.unwrap_err();
    assert_eq!(
        e,
        ChatError::RateLimited {
            retry_after: Duration::from_secs(1)
        }
    );
    assert!(e.to_string().starts_with("slow down"), "{e}");
    // Another member has its own allowance.
    let (bob, _b) = guest_in(&hub, "bob", "lobby").await;
    bob.publish("lobby", "bob's").await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    ann.publish("lobby", "four").await.unwrap();
    let page = hub.history("lobby", HistoryQuery::Last(10)).await.unwrap();
    let got: Vec<String> = page.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(got, ["one", "two", "bob's", "four"]);
}
