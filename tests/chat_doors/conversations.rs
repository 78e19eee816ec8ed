//! The line door's conversation commands: scrolling back through history.

use crate::clients::{Line, server};

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
