//! Both doors in one room: the filter, commands, login, names, escapes, garbage.

use serde_json::json;

use crate::clients::{Line, Udp, server};
use crate::common::add_user;

#[tokio::test]
async fn line_and_udp_users_share_a_room_under_one_filter() {
    let srv = server(&["--chat-filter", "darn=****", "--chat-filter", "spam=!block"]);
    let mut ann = Line::join(&srv, "ann").await;
    let bob = Udp::verified(&srv, "bob").await;

    bob.send(json!({"name": "bob", "msg": "hi Darn it"})).await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    assert_eq!(ann.line().await, "<~bob> hi **** it");

    ann.send("darn, hello bob").await;
    let m = bob.until(|v| v.get("msg").is_some()).await;
    assert_eq!(
        (&m["name"], &m["msg"], &m["room"], m["guest"].as_bool()),
        (
            &json!("~ann"),
            &json!("****, hello bob"),
            &json!("lobby"),
            Some(true)
        )
    );
    assert!(m["id"].as_u64().unwrap() >= 2 && m["ts"].as_u64().unwrap() > 1_600_000_000_000);

    // The block rule refuses on both doors, with a reason to the sender only.
    bob.send(json!({"name": "bob", "msg": "buy SPAM now"}))
        .await;
    let e = bob.recv().await;
    assert_eq!(e["code"], "blocked", "{e}");
    ann.send("spam spam").await;
    let n = ann.line().await;
    assert!(
        n.starts_with("* message refused") && n.contains("spam"),
        "{n}"
    );
    bob.send(json!({"name": "bob", "msg": "still here", "room": "lobby"}))
        .await;
    assert_eq!(ann.line().await, "<~bob> still here");
    // Neither refused message reached anyone.
    ann.send("and me").await;
    assert_eq!(bob.recv().await["msg"], "and me");
}

#[tokio::test]
async fn commands_join_rooms_who_history_nick_help_quit() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut cy = Line::join(&srv, "cy").await;
    ann.until(|l| l == "* ~cy joined lobby").await;

    ann.send("/help").await;
    let help = ann.until(|l| l.contains("/history")).await;
    assert!(help.starts_with("* "), "{help}");

    ann.send("/join #Dev").await;
    cy.until(|l| l == "* ~ann left lobby").await;
    ann.until(|l| l == "* ~ann joined dev").await;
    ann.send("first in dev").await;
    ann.send("second in dev").await;
    ann.send("/history").await;
    ann.until(|l| l == "<~ann> second in dev").await;
    cy.send("/join dev").await;
    ann.until(|l| l == "* ~cy joined dev").await;

    cy.send("/who").await;
    assert_eq!(
        cy.until(|l| l.contains(" in dev: ")).await,
        "* 2 in dev: ~ann (line), ~cy (line)"
    );
    cy.send("/rooms").await;
    cy.until(|l| l == "* 1 rooms:" || l == "* 2 rooms:").await;
    let dev = cy.until(|l| l.contains("dev:")).await;
    assert_eq!(dev, "*   dev: 2 online, 2 messages (you are here)");

    cy.send("/history 1").await;
    assert_eq!(
        cy.until(|l| l.starts_with("* last")).await,
        "* last 1 messages in dev (older ones exist):"
    );
    assert_eq!(cy.line().await, "<~ann> second in dev");
    assert_eq!(cy.line().await, "* end of history");

    cy.send("/nick cyd").await;
    ann.until(|l| l == "* ~cy is now known as ~cyd").await;
    cy.send("//join is not a command here").await;
    assert_eq!(ann.line().await, "<~cyd> /join is not a command here");
    cy.send("/frobnicate").await;
    assert!(
        cy.until(|l| l.starts_with("* unknown command /frobnicate"))
            .await
            .contains("/help")
    );

    cy.send("/quit").await;
    assert_eq!(
        cy.until_eof().await.last().map(String::as_str),
        Some("* bye")
    );
    ann.until(|l| l == "* ~cyd left dev").await;
}

#[tokio::test]
async fn login_speaks_as_the_registered_user() {
    let srv = server(&[]);
    add_user(&srv.data(), "Alice", "open sesame 42");
    let mut bo = Line::join(&srv, "bo").await;

    // A guest may not take an account's name, in any case, and is told
    // exactly what a name held by another guest gets: no account shows.
    let mut imp = Line::tcp(&srv).await;
    imp.send("alice").await;
    let account = imp.line().await;
    imp.send("bo").await;
    let guest = imp.line().await;
    assert_eq!(account.replace("alice", "bo"), guest);

    // A wrong password says so; the right one renames the member.
    imp.send("/login Alice wrong password").await;
    assert!(imp.line().await.contains("invalid username or password"));
    imp.send("/login alice open sesame 42").await;
    imp.until(|l| l.starts_with("* you are Alice in lobby"))
        .await;
    bo.until(|l| l == "* Alice joined lobby").await;

    bo.send("/login Alice open sesame 42").await;
    bo.until(|l| l == "* ~bo is now known as Alice").await;
    bo.send("hi from bo").await;
    assert_eq!(
        imp.until(|l| l.starts_with('<')).await,
        "<Alice> hi from bo"
    );
}

#[tokio::test]
async fn guest_names_are_marked_unique_and_clean() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut dup = Line::tcp(&srv).await;
    dup.send("ANN").await;
    assert!(dup.line().await.contains("is taken"));
    dup.send("~ann2").await;
    dup.until(|l| l == "* you are ~ann2 in lobby; /help lists the commands")
        .await;

    // The same rule on the UDP door (here for a source that never verified).
    let u = Udp::new(&srv).await;
    u.send(json!({"name": "ann2", "msg": "x"})).await;
    assert_eq!(u.recv().await["code"], "name_taken");

    // Escapes and control characters never reach a terminal.
    dup.send_bytes(b"\x1b[2J\x1b]0;owned\x07red \x1b[31malert\x1b[0m\x07!\r\n")
        .await;
    assert_eq!(
        ann.until(|l| l.starts_with('<')).await,
        "<~ann2> red alert!"
    );
    u.send(json!({"name": "e\u{1b}[1mve", "msg": "\u{1b}[5mblink\u{1b}[0m"}))
        .await;
    assert_eq!(ann.line().await, "<~eve> blink");
}

#[tokio::test]
async fn garbage_on_both_doors_is_refused_and_others_keep_chatting() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut bad = Line::join(&srv, "bad").await;

    bad.send_bytes(b"caf\xe9 latin-1\r\n").await;
    assert!(bad.until(|l| l.contains("refused")).await.contains("UTF-8"));
    // A 1 MB line, with no newline until the end.
    let big = vec![b'x'; 1 << 20];
    bad.send_bytes(&big).await;
    bad.send_bytes(b"\nafter the flood\n").await;
    let n = bad.until(|l| l.contains("refused")).await;
    assert!(n.contains("longer than"), "{n}");
    assert_eq!(
        ann.until(|l| l.starts_with('<')).await,
        "<~bad> after the flood"
    );

    // A member: its mistakes are answered in full (an unverified source
    // gets only what three times its datagram pays for).
    let u = Udp::verified(&srv, "u").await;
    let expect = [
        (b"not json".to_vec(), "bad_json"),
        (b"\xff\xfe\x00".to_vec(), "bad_json"),
        (vec![b' '; 20_000], "too_large"),
        (br#"{"msg": "no name"}"#.to_vec(), "bad_request"),
        (br#"["name", "msg"]"#.to_vec(), "bad_request"),
        (br#"{"name": 7, "msg": "x"}"#.to_vec(), "bad_request"),
        (
            br#"{"name": "u", "msg": "x", "room": "no such/room"}"#.to_vec(),
            "bad_room",
        ),
    ];
    for (datagram, code) in expect {
        u.raw(&datagram).await;
        let e = u.recv().await;
        assert_eq!(e["code"], code, "{e}");
        assert!(e["error"].as_str().unwrap().len() < 500);
    }
    u.send(json!({"name": "u", "msg": "fine now"})).await;
    assert_eq!(ann.until(|l| l.starts_with('<')).await, "<~u> fine now");
    ann.send("still serving").await;
    assert_eq!(
        u.until(|v| v.get("msg").is_some()).await["msg"],
        "still serving"
    );
}
