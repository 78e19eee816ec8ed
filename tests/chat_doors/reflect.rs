//! The datagram door is no reflector: an unverified source is sent at most
//! three times what it sent, forged sources never become members, and the
//! two kinds of client (the classic one that cannot echo a cookie, and a
//! verified member) both work. Bytes are counted on real sockets.

use std::time::Duration;

use serde_json::{Value, json};

use crate::clients::{Line, Udp, server};
use crate::common::{Server, add_user};

/// How long a socket must stay silent before its count is final: replies
/// come within milliseconds on loopback, so a quarter second of silence
/// means the server has nothing more for it.
const QUIET: Duration = Duration::from_millis(250);

/// Reads every datagram until `QUIET` passes without one; their sizes.
async fn drain(u: &Udp) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(r) = tokio::time::timeout(QUIET, u.s.recv(&mut buf)).await {
        sizes.push(r.unwrap());
        assert!(sizes.len() < 100_000, "no end to the replies");
    }
    sizes
}

/// A room with `n` verified UDP members and a line user, `ann`.
async fn busy_room(srv: &Server, n: usize) -> (Line, Vec<Udp>) {
    let mut ann = Line::join(srv, "ann").await;
    let mut members = Vec::new();
    for i in 0..n {
        members.push(Udp::verified(srv, &format!("m{i}")).await);
    }
    ann.until(|l| l == format!("* ~m{} joined lobby", n - 1))
        .await;
    (ann, members)
}

#[tokio::test]
async fn an_unverified_source_never_gets_more_than_three_times_what_it_sent() {
    let srv = server(&[]);
    let (_ann, _members) = busy_room(&srv, 20).await;
    let victim = Udp::new(&srv).await;
    // Forged joins, renames (a new name each time), messages, garbage.
    let mut datagrams: Vec<Vec<u8>> = Vec::new();
    for i in 0..30 {
        let forged: [Value; 4] = [
            json!({"name": "x"}),
            json!({"name": format!("r{i}"), "room": "lobby"}),
            json!({"name": "x", "msg": format!("m{i}")}),
            json!({"name": "x", "cookie": "0123456789abcdef0123"}),
        ];
        datagrams.extend(forged.iter().map(|v| v.to_string().into_bytes()));
        datagrams.push(b"!".to_vec());
    }
    let sent: usize = datagrams.iter().map(Vec::len).sum();
    for d in &datagrams {
        victim.raw(d).await;
    }
    let got: usize = drain(&victim).await.iter().sum();
    assert!(got > 0, "the source was answered at all");
    assert!(
        got <= 3 * sent,
        "sent {sent} bytes, was sent {got} (x{:.1})",
        got as f64 / sent as f64
    );
}

#[tokio::test]
async fn forged_joins_never_become_members_nor_fill_the_table() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    // 100 sources from one address, more than the 64 members it may have:
    // none echoes its cookie, so none becomes a member.
    let mut forged = Vec::new();
    for i in 0..100 {
        let u = Udp::new(&srv).await;
        u.send(json!({"name": format!("f{i}")})).await;
        forged.push(u);
    }
    for u in &forged {
        let c = u.recv().await;
        assert!(c["cookie"].is_string(), "{c}");
    }
    // A real client from the same address still gets in, and no presence
    // came for any forged join before it.
    let _bob = Udp::verified(&srv, "bob").await;
    loop {
        let l = ann.line().await;
        assert!(!l.contains("~f"), "{l}");
        if l == "* ~bob joined lobby" {
            break;
        }
    }
    ann.send("/who").await;
    assert_eq!(
        ann.until(|l| l.contains(" in lobby: ")).await,
        "* 2 in lobby: ~ann (line), ~bob (udp)"
    );
}

#[tokio::test]
async fn a_verified_member_gets_every_message_and_presence() {
    let srv = server(&["--chat-burst", "100", "--chat-rate", "100"]);
    let mut ann = Line::join(&srv, "ann").await;
    let bob = Udp::verified(&srv, "bob").await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    let _cy = Line::join(&srv, "cy").await;
    let j = bob.until(|v| v["event"] == "join").await;
    assert_eq!(j["name"], "~cy");
    let text = "a long line that costs far more than bob ever sent ".repeat(10);
    for i in 0..40 {
        ann.send(&format!("{i} {text}end")).await;
    }
    for i in 0..40 {
        let m = bob.until(|v| v.get("msg").is_some()).await;
        assert_eq!(m["msg"], format!("{i} {text}end"));
    }
}

#[tokio::test]
async fn the_classic_exercise_client_chats_without_a_cookie() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let mut dan = Line::join(&srv, "dan").await;
    ann.until(|l| l == "* ~dan joined lobby").await;
    // Send one {"name","msg"}, read one reply with name and msg, repeat.
    let cy = Udp::new(&srv).await;
    cy.send(json!({"name": "cy", "msg": "hello"})).await;
    let r = cy.recv().await;
    assert_eq!((&r["name"], &r["msg"]), (&json!("~cy"), &json!("hello")));
    assert_eq!(ann.line().await, "<~cy> hello", "no join notice first");
    ann.send("hi cy").await;
    dan.until(|l| l == "<~ann> hi cy").await; // committed
    cy.send(json!({"name": "cy", "msg": "how are you"})).await;
    let r = cy.recv().await;
    assert_eq!((&r["name"], &r["msg"]), (&json!("~ann"), &json!("hi cy")));
    assert_eq!(ann.line().await, "<~cy> how are you");
    // It is no member: nobody sees it in the room.
    ann.send("/who").await;
    assert_eq!(
        ann.until(|l| l.contains(" in lobby: ")).await,
        "* 2 in lobby: ~ann (line), ~dan (line)"
    );
}

#[tokio::test]
async fn udp_upper_never_answers_with_more_bytes_than_it_got() {
    let srv = Server::start(&["--upper", "udp://127.0.0.1:0"]);
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.connect(srv.sock("upper", "udp://")).await.unwrap();
    // ǰ is 2 bytes and upper-cases to 3 (J + combining caron).
    let input = "\u{1f0}".repeat(1000);
    s.send(input.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(30), s.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n <= input.len(), "{n} > {}", input.len());
    let text = std::str::from_utf8(&buf[..n]).expect("cut at a character");
    assert!(text.starts_with("J\u{30c}J\u{30c}"), "{text:.20}");
}

#[tokio::test]
async fn a_verified_client_back_on_a_new_port_reclaims_its_name() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let first = Udp::verified(&srv, "bob").await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    drop(first); // the program was restarted: same address, new port
    let again = Udp::verified(&srv, "bob").await;
    ann.until(|l| l == "* ~bob left lobby").await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    again.send(json!({"name": "bob", "msg": "back"})).await;
    assert_eq!(ann.until(|l| l.starts_with('<')).await, "<~bob> back");
}

#[tokio::test]
async fn a_leave_datagram_ends_the_membership_at_once() {
    let srv = server(&[]);
    let mut ann = Line::join(&srv, "ann").await;
    let bob = Udp::verified(&srv, "bob").await;
    ann.until(|l| l == "* ~bob joined lobby").await;
    bob.send(json!({"leave": true})).await;
    ann.until(|l| l == "* ~bob left lobby").await;
    // The name is free for anyone now.
    ann.send("/nick bob").await;
    ann.until(|l| l == "* ~ann is now known as ~bob").await;
}

#[tokio::test]
async fn guest_name_answers_do_not_reveal_accounts() {
    let srv = server(&[]);
    add_user(&srv.data(), "alice", "open sesame 42");
    let ann = Line::join(&srv, "ann").await;
    let mut cy = Line::join(&srv, "cy").await;
    // The line door: /nick to an account's name reads as a name in use.
    cy.send("/nick alice").await;
    let account = cy.until(|l| l.contains("alice")).await;
    cy.send("/nick ann").await;
    let guest = cy.until(|l| l.contains("ann")).await;
    assert_eq!(account.replace("alice", "ann"), guest);
    assert!(!account.contains("account"), "{account}");
    // The UDP door, member or not: the same code and text.
    let u = Udp::new(&srv).await;
    let mut answers = Vec::new();
    for name in ["alice", "ann"] {
        u.send(json!({"name": name, "msg": "hi"})).await;
        answers.push(u.recv().await);
    }
    assert_eq!(answers[0]["code"], "name_taken", "{}", answers[0]);
    assert_eq!(
        answers[0]["error"]
            .as_str()
            .unwrap()
            .replace("alice", "ann"),
        answers[1]["error"]
    );
    let c = {
        u.send(json!({"name": "alice"})).await;
        u.recv().await
    };
    u.send(json!({"name": "alice", "cookie": c["cookie"]}))
        .await;
    let e = u.recv().await;
    assert_eq!(e, answers[0]);
    drop(ann);
}
