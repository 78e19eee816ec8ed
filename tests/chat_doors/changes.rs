//! Edits, deletes and search on the line and datagram doors: an account
//! logged in on the line door changes its message, guests see the change
//! as a notice (and may change nothing), `/search` finds the new text.

use serde_json::json;

use crate::clients::{Line, Udp, server};
use crate::common::add_user;

#[tokio::test]
async fn line_members_edit_delete_and_search_and_every_door_sees_it() {
    let srv = server(&[]);
    add_user(&srv.data(), "ann", "pw pw pw pw");
    let mut ann = Line::join(&srv, "someone").await;
    ann.send("/login ann pw pw pw pw").await;
    ann.until(|l| l.ends_with("is now known as ann")).await;
    let mut bob = Line::join(&srv, "bob").await;
    let udp = Udp::verified(&srv, "cid").await;
    ann.send("disk full on db1").await;
    assert_eq!(
        bob.until(|l| l.starts_with('<')).await,
        "<ann> disk full on db1"
    );

    bob.send("/edit 1 mine now").await;
    assert!(
        bob.until(|l| l.contains("not yours"))
            .await
            .starts_with("* message #1")
    );
    bob.send("/delete 1").await;
    bob.until(|l| l.contains("not yours")).await;

    ann.send("/edit #1 disk fine on db1").await;
    assert_eq!(
        bob.until(|l| l.starts_with("* ann")).await,
        "* ann edited #1: disk fine on db1"
    );
    let v = udp.until(|v| v["kind"] == "edit").await;
    assert_eq!(
        (&v["target"], &v["msg"], &v["id"]),
        (&json!(1), &json!("edited #1: disk fine on db1"), &json!(2))
    );
    bob.send("/search DISK").await;
    assert_eq!(bob.line().await, "* 1 messages found, newest first:");
    assert_eq!(
        bob.line().await,
        "* [lobby] #1 <ann> disk fine on db1 (edited)"
    );
    bob.send("/search full").await;
    assert_eq!(bob.line().await, "* no messages found");
    // Query syntax is plain text; nothing searchable is a usage error.
    bob.send("/search \"db1\" (disk* -:^").await;
    assert_eq!(bob.line().await, "* 1 messages found, newest first:");
    bob.line().await;
    bob.send("/search \"\" ** ()").await;
    assert!(
        bob.line()
            .await
            .starts_with("* bad search: nothing to search for")
    );

    ann.send("/delete 1").await;
    assert_eq!(
        bob.until(|l| l.starts_with("* ann")).await,
        "* ann deleted #1"
    );
    ann.send("/edit 1 again").await;
    ann.until(|l| l.contains("was deleted")).await;
    bob.send("/history 5").await;
    bob.until(|l| l.starts_with("* last")).await;
    assert_eq!(bob.line().await, "<ann> (message deleted)");
    assert_eq!(bob.line().await, "* ann edited #1");
    assert_eq!(bob.line().await, "* ann deleted #1");
}
