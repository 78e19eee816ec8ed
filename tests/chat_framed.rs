//! The chat family of the frame protocol over real sockets: rooms, pushed
//! events, history and catch-up, the filter, slow consumers, restarts.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Server, add_user};
use sockit::client::{Client, ClientError};
use sockit::net::Endpoint;
use sockit::wire::{ChatEvent, ChatMessage, ChatReply, ChatRequest, Frame};

const IO_LIMIT: Duration = Duration::from_secs(30);
const CHEAP: &str = "m=256,t=1,p=1";
const PASS: &str = "correct horse battery";

fn chat_server(extra: &[&str]) -> Server {
    // Joins told at once: tests read them to know who is in.
    let mut args = vec![
        "--listen",
        "tcp://127.0.0.1:0",
        "--argon2",
        CHEAP,
        "--chat-presence-grace",
        "0",
    ];
    args.extend_from_slice(extra);
    let srv = Server::start(&args);
    for name in ["ann", "bob", "cid"] {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

async fn member(srv: &Server, name: &str) -> Client {
    common::framed_member(srv, name, PASS, IO_LIMIT).await
}

async fn ask(c: &mut Client, req: ChatRequest) -> Result<ChatReply, ClientError> {
    let reply = c.request(req.to_frame(None)).await?;
    Ok(ChatReply::from_frame(&reply).unwrap())
}

async fn join(c: &mut Client, room: &str) -> u64 {
    match ask(c, ChatRequest::Join { room: room.into() })
        .await
        .unwrap()
    {
        ChatReply::Join { last_seq, .. } => last_seq,
        other => panic!("{other:?}"),
    }
}

async fn send(c: &mut Client, room: &str, text: &str) -> (u64, String) {
    match ask(
        c,
        ChatRequest::Send {
            room: room.into(),
            text: text.into(),
            key: None,
        },
    )
    .await
    .unwrap()
    {
        ChatReply::Send { seq, text, .. } => (seq, text),
        other => panic!("{other:?}"),
    }
}

/// The next pushed chat message, skipping presence events.
async fn next_message(c: &mut Client) -> ChatMessage {
    loop {
        let f = tokio::time::timeout(IO_LIMIT, c.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(f.id(), None, "events carry no id: {f:?}");
        match ChatEvent::from_frame(&f).unwrap() {
            ChatEvent::Message(m) => return m,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn members_see_each_other_and_not_their_own_echo() {
    let srv = chat_server(&[]);
    let mut ann = member(&srv, "ann").await;
    let mut bob = member(&srv, "bob").await;
    join(&mut ann, "lobby").await;
    join(&mut bob, "Lobby").await; // room names are case-insensitive

    // ann sees bob arrive (after her own arrival).
    loop {
        let f = tokio::time::timeout(IO_LIMIT, ann.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let ChatEvent::Presence {
            name, event, door, ..
        } = ChatEvent::from_frame(&f).unwrap()
        else {
            panic!("{f:?}")
        };
        if name == "bob" {
            assert_eq!((event.as_str(), door.as_str()), ("join", "frame"));
            break;
        }
    }

    let (id, _) = send(&mut ann, "lobby", "hello bob").await;
    let m = next_message(&mut bob).await;
    assert_eq!(
        (m.seq, m.name.as_str(), m.text.as_str(), m.guest),
        (id, "ann", "hello bob", false)
    );
    let (id2, _) = send(&mut bob, "lobby", "hi ann").await;
    assert_eq!(id2, id + 1);
    // ann's next event is bob's message, not her own.
    assert_eq!(next_message(&mut ann).await.text, "hi ann");

    let ChatReply::Who { members, .. } = ask(
        &mut ann,
        ChatRequest::Who {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    let mut names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ann", "bob"]);
    let ChatReply::Rooms { rooms } = ask(&mut ann, ChatRequest::Rooms {}).await.unwrap() else {
        panic!()
    };
    let lobby = rooms.iter().find(|r| r.name == "lobby").unwrap();
    assert_eq!((lobby.members, lobby.last_seq), (2, id2));
}

#[tokio::test]
async fn chat_needs_a_login() {
    let srv = chat_server(&[]);
    let ep: Endpoint = srv.addr("framed", "tcp://").parse().unwrap();
    let mut anon = Client::connect(&ep, IO_LIMIT).await.unwrap();
    let e = ask(
        &mut anon,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Some("unauthenticated"));
    let hello = anon.hello().await.unwrap();
    assert!(
        hello
            .get("features")
            .unwrap()
            .as_array()
            .unwrap()
            .contains(&"chat".into())
    );
}

#[tokio::test]
async fn bad_requests_are_refused_and_the_connection_survives() {
    let srv = chat_server(&[]);
    let mut ann = member(&srv, "ann").await;
    for (req, code) in [
        (
            ChatRequest::Join {
                room: "no spaces allowed".into(),
            },
            "bad_room",
        ),
        (
            ChatRequest::Send {
                room: "lobby".into(),
                text: "not joined".into(),
                key: None,
            },
            "not_in_room",
        ),
    ] {
        assert_eq!(ask(&mut ann, req).await.unwrap_err().code(), Some(code));
    }
    join(&mut ann, "lobby").await;
    let e = ask(
        &mut ann,
        ChatRequest::Send {
            room: "lobby".into(),
            text: "x".repeat(10_000),
            key: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Some("too_long"));
    let e = ask(
        &mut ann,
        ChatRequest::Send {
            room: "lobby".into(),
            text: " \u{1b}[31m ".into(),
            key: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Some("empty"));
    let e = ann
        .request(Frame::new("chat.send").set("room", "lobby"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("bad_request"));
    // ANSI escapes are gone from what others (and history) see.
    let (_, stored) = send(&mut ann, "lobby", "\u{1b}[2Jred\u{1b}]0;title\u{7} alert").await;
    assert!(
        !stored.contains('\u{1b}') && !stored.contains('\u{7}'),
        "{stored:?}"
    );
    ann.request(Frame::new("ping")).await.unwrap();
}

#[tokio::test]
async fn filter_replaces_and_blocks() {
    let srv = chat_server(&["--chat-filter", "darn=****", "--chat-filter", "spam=!block"]);
    let mut ann = member(&srv, "ann").await;
    join(&mut ann, "lobby").await;
    let (_, text) = send(&mut ann, "lobby", "Darn it, darning is fine").await;
    assert_eq!(text, "**** it, darning is fine");
    let e = ask(
        &mut ann,
        ChatRequest::Send {
            room: "lobby".into(),
            text: "buy SPAM now".into(),
            key: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Some("blocked"));
}

#[tokio::test]
async fn history_and_catch_up_after_a_reconnect_have_no_gap() {
    let srv = chat_server(&["--chat-rate", "1000", "--chat-burst", "1000"]);
    let mut ann = member(&srv, "ann").await;
    join(&mut ann, "ops").await;
    for i in 0..20 {
        send(&mut ann, "ops", &format!("m{i}")).await;
    }
    let mut bob = member(&srv, "bob").await;
    let ChatReply::History { messages, more, .. } = ask(
        &mut bob,
        ChatRequest::History {
            room: "ops".into(),
            last: Some(5),
            after: None,
            before: None,
            epoch: None,
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert!(more);
    let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m15", "m16", "m17", "m18", "m19"]);
    let seen = messages.last().unwrap().seq - 3; // bob saw up to m16, then dropped

    // Scrolling back from the first one shown, a page at a time.
    let mut before = messages[0].seq;
    let mut older = Vec::new();
    loop {
        let req = ChatRequest::History {
            room: "ops".into(),
            last: Some(6),
            after: None,
            before: Some(before),
            epoch: None,
        };
        let ChatReply::History { messages, more, .. } = ask(&mut bob, req).await.unwrap() else {
            panic!()
        };
        assert!(messages.len() <= 6 && messages.windows(2).all(|w| w[0].seq < w[1].seq));
        older.splice(0..0, messages.iter().map(|m| m.text.clone()));
        before = messages[0].seq;
        if !more {
            break;
        }
    }
    assert_eq!(older, (0..15).map(|i| format!("m{i}")).collect::<Vec<_>>());

    // Meanwhile more is said; bob rejoins and catches up from what he saw.
    for i in 20..25 {
        send(&mut ann, "ops", &format!("m{i}")).await;
    }
    let last_id = join(&mut bob, "ops").await;
    let ChatReply::History { messages, .. } = ask(
        &mut bob,
        ChatRequest::History {
            room: "ops".into(),
            last: None,
            after: Some(seen),
            before: None,
            epoch: None,
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(messages.first().unwrap().text, "m17");
    assert_eq!(messages.last().unwrap().seq, last_id);
    send(&mut ann, "ops", "m25").await;
    assert_eq!(next_message(&mut bob).await.seq, last_id + 1);
}

#[tokio::test]
async fn history_survives_a_restart() {
    let srv = chat_server(&[]);
    let mut ann = member(&srv, "ann").await;
    join(&mut ann, "lobby").await;
    let (id, _) = send(&mut ann, "lobby", "before the restart").await;
    drop(ann);
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(dir, &["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let mut ann = member(&srv, "ann").await;
    assert_eq!(join(&mut ann, "lobby").await, id);
    let ChatReply::History { messages, .. } = ask(
        &mut ann,
        ChatRequest::History {
            room: "lobby".into(),
            last: Some(1),
            after: None,
            before: None,
            epoch: None,
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(messages[0].text, "before the restart");
    assert_eq!(send(&mut ann, "lobby", "after").await.0, id + 1);
}

#[tokio::test]
async fn a_member_that_never_reads_is_cut_off_while_others_get_everything() {
    let srv = chat_server(&[
        "--chat-rate",
        "100000",
        "--chat-burst",
        "100000",
        "--chat-queue",
        "256",
    ]);
    let mut ann = member(&srv, "ann").await;
    let mut bob = member(&srv, "bob").await;
    let mut cid = member(&srv, "cid").await;
    for c in [&mut ann, &mut bob, &mut cid] {
        join(c, "lobby").await;
    }
    // cid never reads again. ann floods; bob reads everything.
    const N: usize = 3_000;
    let text = "x".repeat(3_500);
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < N {
            let m = next_message(&mut bob).await;
            assert_eq!(m.name, "ann");
            got += 1;
        }
        bob
    });
    let mut ids = Vec::with_capacity(N);
    for _ in 0..N {
        ids.push(send(&mut ann, "lobby", &text).await.0);
    }
    let mut bob = reader.await.unwrap();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    // cid was cut off: bob (and ann) saw the notice, and cid is gone.
    let ChatReply::Who { members, .. } = ask(
        &mut bob,
        ChatRequest::Who {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert!(members.iter().all(|m| m.name != "cid"), "{members:?}");
    // cid's connection ends with the slow_consumer error after its backlog.
    let mut last = None;
    while let Ok(Some(f)) = tokio::time::timeout(IO_LIMIT, cid.recv()).await.unwrap() {
        last = Some(f);
    }
    let last = last.unwrap();
    assert_eq!(
        last.get("code").and_then(|c| c.as_str()),
        Some("slow_consumer"),
        "{last:?}"
    );
}

/// Reads lines from an nc-style line-door client until one matches.
async fn line_until(
    r: &mut tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
    want: &str,
) -> String {
    loop {
        let l = tokio::time::timeout(IO_LIMIT, r.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if l.contains(want) {
            return l;
        }
    }
}

#[tokio::test]
async fn the_three_doors_meet_in_one_room_under_one_filter() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let srv = chat_server(&[
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--chat-udp",
        "udp://127.0.0.1:0",
        "--chat-filter",
        "darn=****",
    ]);
    // A framed member (an account), an nc user and a UDP user, all in lobby.
    let mut ann = member(&srv, "ann").await;
    join(&mut ann, "lobby").await;
    let tcp = tokio::net::TcpStream::connect(srv.sock("chat-lines", "tcp://"))
        .await
        .unwrap();
    let (r, mut w) = tcp.into_split();
    let mut nc = tokio::io::BufReader::new(r).lines();
    w.write_all(b"nick\n").await.unwrap();
    line_until(&mut nc, "/help lists the commands").await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.connect(srv.sock("chat-udp", "udp://")).await.unwrap();
    udp.send(br#"{"name":"qq","room":"lobby"}"#).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    // The join is answered with a cookie; echoing it makes qq a member.
    let n = tokio::time::timeout(IO_LIMIT, udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let c: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    let verify = serde_json::json!({"name": "qq", "room": "lobby", "cookie": c["cookie"]});
    udp.send(verify.to_string().as_bytes()).await.unwrap();
    let who = || ChatRequest::Who {
        room: "lobby".into(),
    };
    // Wait until the UDP member is in.
    loop {
        let ChatReply::Who { members, .. } = ask(&mut ann, who()).await.unwrap() else {
            panic!()
        };
        if members.iter().any(|m| m.name == "~qq") {
            let mut doors: Vec<_> = members.iter().map(|m| m.door.as_str()).collect();
            doors.sort();
            assert_eq!(doors, ["frame", "line", "udp"]);
            break;
        }
    }

    // framed -> line and UDP, filtered the same way.
    send(&mut ann, "lobby", "darn, hello from the frame door").await;
    assert_eq!(
        line_until(&mut nc, "hello from the frame door").await,
        "<ann> ****, hello from the frame door"
    );
    let v = loop {
        let n = tokio::time::timeout(IO_LIMIT, udp.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        if v["msg"].as_str().is_some_and(|m| m.contains("frame door")) {
            break v;
        }
    };
    assert_eq!(
        (v["name"].as_str(), v["msg"].as_str()),
        (Some("ann"), Some("****, hello from the frame door"))
    );

    // line -> framed; UDP -> framed.
    w.write_all(b"darn from nc\n").await.unwrap();
    let m = next_message(&mut ann).await;
    assert_eq!(
        (m.name.as_str(), m.text.as_str(), m.guest),
        ("~nick", "**** from nc", true)
    );
    udp.send(br#"{"name":"qq","msg":"hi from udp"}"#)
        .await
        .unwrap();
    let m = next_message(&mut ann).await;
    assert_eq!((m.name.as_str(), m.text.as_str()), ("~qq", "hi from udp"));
}

#[tokio::test]
async fn every_acknowledged_message_survives_kill_9() {
    let srv = chat_server(&["--chat-rate", "100000", "--chat-burst", "100000"]);
    let mut ann = member(&srv, "ann").await;
    join(&mut ann, "ops").await;
    // Pipelined sends; each reply is the acknowledgement.
    const N: u64 = 500;
    for i in 0..N {
        ann.feed(
            ChatRequest::Send {
                room: "ops".into(),
                text: format!("m{i}"),
                key: None,
            }
            .to_frame(Some(i + 1)),
        )
        .await
        .unwrap();
    }
    ann.flush().await.unwrap();
    let mut acked = Vec::new();
    while (acked.len() as u64) < N {
        let f = tokio::time::timeout(IO_LIMIT, ann.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Ok(ChatReply::Send { seq, .. }) = ChatReply::from_frame(&f) {
            acked.push(seq);
        }
    }
    let dir = srv.kill_keep_dir(); // SIGKILL: no shutdown, no flush
    let srv = Server::start_in(dir, &["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let mut ann = member(&srv, "ann").await;
    let ChatReply::History { messages, .. } = ask(
        &mut ann,
        ChatRequest::History {
            room: "ops".into(),
            last: Some(N as usize),
            after: None,
            before: None,
            epoch: None,
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    let stored: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(stored, acked, "every acknowledged message, in order");
    assert_eq!(messages.last().unwrap().text, format!("m{}", N - 1));
}

#[tokio::test]
async fn a_resend_with_the_same_idempotency_key_is_not_posted_twice() {
    let srv = chat_server(&[]);
    let mut ann = member(&srv, "ann").await;
    let mut bob = member(&srv, "bob").await;
    let mut cid = member(&srv, "cid").await;
    join(&mut ann, "ops").await;
    join(&mut bob, "ops").await;
    join(&mut cid, "ops").await;
    let keyed = |text: &str, key: &str| ChatRequest::Send {
        room: "ops".into(),
        text: text.into(),
        key: Some(key.into()),
    };
    let seq = |r: ChatReply| match r {
        ChatReply::Send { seq, text, .. } => (seq, text),
        other => panic!("{other:?}"),
    };
    let first = seq(ask(&mut ann, keyed("hello", "k-1")).await.unwrap());
    // The reply was "lost": the client sends the same request again.
    let again = seq(ask(&mut ann, keyed("hello", "k-1")).await.unwrap());
    assert_eq!(first, again, "a resend returns the original");
    // Another member's key of the same spelling is its own.
    let cids = seq(ask(&mut cid, keyed("mine", "k-1")).await.unwrap());
    assert_eq!(cids.0, first.0 + 1);
    let next = seq(ask(&mut ann, keyed("again", "k-2")).await.unwrap());
    assert_eq!(next.0, first.0 + 2);
    // Bob saw each message once: no duplicate.
    for want in [first.0, cids.0, next.0] {
        assert_eq!(next_message(&mut bob).await.seq, want);
    }
    let req = ChatRequest::History {
        room: "ops".into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    };
    match ask(&mut bob, req).await.unwrap() {
        ChatReply::History { messages, .. } => assert_eq!(messages.len(), 3),
        other => panic!("{other:?}"),
    }
    for bad in ["", "has space", &"k".repeat(65)] {
        let e = ask(&mut ann, keyed("x", bad)).await.unwrap_err();
        assert_eq!(e.code(), Some("bad_request"), "{bad:?}");
    }
}

async fn join_epoch(c: &mut Client, room: &str) -> (u64, String) {
    match ask(c, ChatRequest::Join { room: room.into() })
        .await
        .unwrap()
    {
        ChatReply::Join {
            last_seq, epoch, ..
        } => (last_seq, epoch),
        other => panic!("{other:?}"),
    }
}

fn history_after(room: &str, after: u64, epoch: &str) -> ChatRequest {
    ChatRequest::History {
        room: room.into(),
        last: None,
        after: Some(after),
        before: None,
        epoch: Some(epoch.into()),
    }
}

#[tokio::test]
async fn the_epoch_survives_a_restart_and_a_reset_history_answers_stale_epoch() {
    let srv = chat_server(&[]);
    let mut ann = member(&srv, "ann").await;
    let (_, epoch) = join_epoch(&mut ann, "dev").await;
    assert_eq!(epoch.len(), 16, "{epoch:?}");
    send(&mut ann, "dev", "one").await;
    send(&mut ann, "dev", "two").await;
    let ChatReply::History {
        messages,
        epoch: page_epoch,
        ..
    } = ask(&mut ann, history_after("dev", 1, &epoch))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(page_epoch, epoch);
    assert_eq!(messages.len(), 1);
    drop(ann);

    // A restarted server keeps the room's epoch.
    let dir = srv.stop_keep_dir();
    let srv = Server::start_in(dir, &["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let mut ann = member(&srv, "ann").await;
    assert_eq!(join_epoch(&mut ann, "dev").await, (2, epoch.clone()));
    drop(ann);

    // The history is wiped while the server is down (what retention and
    // forgetting an empty room do): the room starts again in a new epoch.
    let dir = srv.stop_keep_dir();
    {
        let db = rusqlite::Connection::open(dir.path().join("data").join("chat.db")).unwrap();
        db.execute_batch(
            "DELETE FROM messages WHERE room = 'dev'; DELETE FROM rooms WHERE name = 'dev';",
        )
        .unwrap();
    }
    let srv = Server::start_in(dir, &["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP]);
    let mut ann = member(&srv, "ann").await;
    let (last, fresh) = join_epoch(&mut ann, "dev").await;
    assert_eq!(last, 0);
    assert_ne!(fresh, epoch);
    assert_eq!(send(&mut ann, "dev", "new one").await.0, 1);
    // A client catching up with the old epoch is told, not given a page
    // that silently skips the new seq 1.
    let err = ask(&mut ann, history_after("dev", 0, &epoch))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("stale_epoch"), "{err}");
    assert!(err.to_string().contains("reload"), "{err}");
    // With the new epoch it reads on.
    let ChatReply::History { messages, .. } = ask(&mut ann, history_after("dev", 0, &fresh))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(messages.len(), 1);
}
