//! Direct messages and read markers over real sockets: the frame protocol,
//! the line door, the datagram door and the web door's WebSocket, on one
//! server with accounts ann, bob and cid; and what a name deleted and
//! registered again (`sockit user del`, `user add`) may read and change.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::chat::{Reading, ask, next_event, next_message, reading, refusal, say};
use common::{Server, add_user, run, strip_scheme};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sockit::client::{Client, ClientError};
use sockit::wire::{ChatEvent, ChatReply, ChatRequest};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const IO_LIMIT: Duration = Duration::from_secs(30);
const PASS: &str = "correct horse battery";

fn server() -> Server {
    let srv = Server::start(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--chat-lines",
        "tcp://127.0.0.1:0",
        "--chat-udp",
        "udp://127.0.0.1:0",
        "--web",
        "tcp://127.0.0.1:0",
        "--argon2",
        common::CHEAP_ARGON2,
    ]);
    for name in ["ann", "bob", "cid"] {
        add_user(&srv.data(), name, PASS);
    }
    srv
}

async fn member(srv: &Server, name: &str) -> Client {
    common::framed_member(srv, name, PASS, IO_LIMIT).await
}

async fn send(c: &mut Client, room: &str, text: &str) -> Result<ChatReply, ClientError> {
    let req = ChatRequest::Send {
        room: room.into(),
        text: text.into(),
        key: None,
    };
    ask(c, req).await
}

fn history(room: &str) -> ChatRequest {
    ChatRequest::History {
        room: room.into(),
        last: Some(10),
        after: None,
        before: None,
        epoch: None,
    }
}

#[tokio::test]
async fn a_direct_message_reaches_only_its_two_accounts() {
    let srv = server();
    let mut ann = member(&srv, "ann").await;
    let mut bob = member(&srv, "bob").await;
    let mut cid = member(&srv, "cid").await;
    ask(
        &mut bob,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap();
    ask(
        &mut cid,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap();

    let ChatReply::Dm { room, with, .. } = ask(&mut ann, ChatRequest::Dm { to: "Bob".into() })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((room.as_str(), with.as_str()), ("@ann+bob", "bob"));
    send(&mut ann, &room, "for bob only").await.unwrap();
    // Bob never opened it and still gets it.
    let m = next_message(&mut bob).await;
    assert_eq!(
        (m.room.as_str(), m.name.as_str(), m.text.as_str()),
        ("@ann+bob", "ann", "for bob only")
    );

    // cid: no join, history, send, who, read, and it is not in the lists.
    for r in ["@ann+bob", "@bob+ann"] {
        assert_eq!(
            refusal(ask(&mut cid, ChatRequest::Join { room: r.into() }).await),
            "not_in_room"
        );
        assert_eq!(refusal(ask(&mut cid, history(r)).await), "not_in_room");
        assert_eq!(refusal(send(&mut cid, r, "peek").await), "not_in_room");
        assert_eq!(
            refusal(ask(&mut cid, ChatRequest::Who { room: r.into() }).await),
            "not_in_room"
        );
        let read = ChatRequest::Read {
            room: r.into(),
            seq: 1,
        };
        assert_eq!(refusal(ask(&mut cid, read).await), "not_in_room");
    }
    let ChatReply::Dms { dms } = ask(&mut cid, ChatRequest::Dms {}).await.unwrap() else {
        panic!()
    };
    assert!(dms.is_empty());
    let ChatReply::Rooms { rooms } = ask(&mut cid, ChatRequest::Rooms {}).await.unwrap() else {
        panic!()
    };
    assert!(rooms.iter().all(|r| !r.name.starts_with('@')), "{rooms:?}");
    // And the lobby's members (cid among them) never saw it.
    send(&mut ann, "@bob", "second").await.unwrap();
    ask(
        &mut ann,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap();
    send(&mut ann, "lobby", "public").await.unwrap();
    let m = next_message(&mut cid).await;
    assert_eq!(m.text, "public");

    // Hostile names: one short line each, the connection goes on.
    for bad in [
        "@ann",
        "@",
        "@~x",
        "@a b",
        &format!("@{}", "z".repeat(5000)),
    ] {
        let r = ask(&mut ann, ChatRequest::Join { room: bad.into() }).await;
        let Err(ClientError::Server { code, message }) = r else {
            panic!("{bad}")
        };
        assert_eq!(code, "bad_room", "{bad}");
        assert!(message.len() < 200, "{message}");
    }
    let r = ask(
        &mut ann,
        ChatRequest::Dm {
            to: "nobody".into(),
        },
    )
    .await;
    assert_eq!(refusal(r), "not_found");
}

#[tokio::test]
async fn markers_sync_between_two_clients_and_counts_rise_and_clear() {
    let srv = server();
    let mut bob = member(&srv, "bob").await;
    let mut ann1 = member(&srv, "ann").await;
    let mut ann2 = member(&srv, "ann").await;
    // ann2 has a chat session open (events reach it).
    ask(
        &mut ann2,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap();
    ask(&mut bob, ChatRequest::Dm { to: "ann".into() })
        .await
        .unwrap();
    send(&mut bob, "@ann", "one").await.unwrap();
    send(&mut bob, "@ann", "two, @ann").await.unwrap();
    let counts = |r: ChatReply| match r {
        ChatReply::Dms { dms } => (dms[0].room.clone(), dms[0].unread, dms[0].mentions),
        other => panic!("{other:?}"),
    };
    let got = counts(ask(&mut ann1, ChatRequest::Dms {}).await.unwrap());
    assert_eq!(got, ("@ann+bob".to_owned(), 2, 1));

    let ChatReply::Read { seq, .. } = ask(
        &mut ann1,
        ChatRequest::Read {
            room: "@bob".into(),
            seq: 2,
        },
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(seq, 2);
    // The other client is told, then counts the same.
    loop {
        if let ChatEvent::Read { room, seq } = next_event(&mut ann2).await {
            assert_eq!((room.as_str(), seq), ("@ann+bob", 2));
            break;
        }
    }
    let req = ChatRequest::Unread {
        rooms: vec!["@ann+bob".into(), "lobby".into()],
    };
    let ChatReply::Unread { rooms } = ask(&mut ann2, req).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (rooms[0].read, rooms[0].unread, rooms[0].mentions),
        (2, 0, 0)
    );
    // It never moves back.
    let back = ChatRequest::Read {
        room: "@ann+bob".into(),
        seq: 1,
    };
    assert!(matches!(
        ask(&mut ann2, back).await.unwrap(),
        ChatReply::Read { seq: 2, .. }
    ));
    // Too many rooms at once is a bad request, not a long scan.
    let many = ChatRequest::Unread {
        rooms: (0..65).map(|i| format!("r{i}")).collect(),
    };
    assert_eq!(refusal(ask(&mut ann2, many).await), "bad_request");
}

#[tokio::test]
async fn the_line_door_sends_queries_and_keeps_guests_out() {
    let srv = server();
    let mut ann = member(&srv, "ann").await;
    ask(
        &mut ann,
        ChatRequest::Join {
            room: "lobby".into(),
        },
    )
    .await
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(srv.sock("chat-lines", "tcp://"))
        .await
        .unwrap();
    let (r, mut w) = tcp.into_split();
    let mut nc = tokio::io::BufReader::new(r).lines();
    let mut until = async |want: &str| loop {
        let l = tokio::time::timeout(IO_LIMIT, nc.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if l.contains(want) {
            return l;
        }
    };
    w.write_all(b"visitor\n").await.unwrap();
    until("/help lists the commands").await;
    // A guest: one line saying to log in.
    w.write_all(b"/msg ann hello\n").await.unwrap();
    let l = until("log in first").await;
    assert!(l.starts_with("* direct messages"), "{l}");
    w.write_all(format!("/login cid {PASS}\n").as_bytes())
        .await
        .unwrap();
    until("is now known as cid").await;
    // Not cid's conversation.
    w.write_all(b"/join @ann+bob\n").await.unwrap();
    until("you are not in room").await;
    w.write_all(b"/msg ann psst\n").await.unwrap();
    assert_eq!(until("psst").await, "* -> *ann* psst");
    let m = next_message(&mut ann).await;
    assert_eq!((m.room.as_str(), m.text.as_str()), ("@ann+cid", "psst"));
    ask(&mut ann, ChatRequest::Dm { to: "cid".into() })
        .await
        .unwrap();
    send(&mut ann, "@cid", "got it").await.unwrap();
    assert_eq!(until("got it").await, "*ann* got it");
    // /query: plain lines go to the conversation.
    w.write_all(b"/query ann\nplain line\n").await.unwrap();
    let m = next_message(&mut ann).await;
    assert_eq!(
        (m.room.as_str(), m.text.as_str()),
        ("@ann+cid", "plain line")
    );
    w.write_all(b"/history 5\n").await.unwrap();
    until("in @ann+cid:").await;
    assert_eq!(until("psst").await, "*cid* psst");
}

#[tokio::test]
async fn a_datagram_to_someone_is_refused_within_the_amplification_budget() {
    let srv = server();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.connect(srv.sock("chat-udp", "udp://")).await.unwrap();
    let sent = br#"{"name":"qq","to":"ann","msg":"hello there, ann"}"#;
    udp.send(sent).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(IO_LIMIT, udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(v["code"], "unauthenticated", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("need an account"),
        "{v}"
    );
    assert!(
        n <= 3 * sent.len(),
        "{n} bytes answered {} bytes",
        sent.len()
    );
}

#[tokio::test]
async fn a_locked_or_deleted_recipient_gets_nothing() {
    let srv = server();
    let mut ann = member(&srv, "ann").await;
    ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
        .await
        .unwrap();
    send(&mut ann, "@bob", "before").await.unwrap();
    let data = srv.data();
    let data = data.to_str().unwrap();
    assert!(
        run(&["user", "lock", "bob", "--data", data], b"")
            .status
            .success()
    );
    let r = send(&mut ann, "@bob", "while locked").await;
    let Err(ClientError::Server { code: why, message }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(why, "account_locked");
    assert!(message.contains("bob"), "{message}");
    assert!(
        run(&["user", "unlock", "bob", "--data", data], b"")
            .status
            .success()
    );
    send(&mut ann, "@bob", "after").await.unwrap();
    assert!(
        run(&["user", "del", "bob", "--data", data], b"")
            .status
            .success()
    );
    assert_eq!(refusal(send(&mut ann, "@bob", "gone").await), "not_found");
    let ChatReply::History { messages, .. } = ask(&mut ann, history("@bob")).await.unwrap() else {
        panic!()
    };
    let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before", "after"]);
}

#[tokio::test]
async fn over_the_websocket_a_third_user_cannot_read_a_conversation() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let srv = server();
    let mut ann = member(&srv, "ann").await;
    ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
        .await
        .unwrap();
    send(&mut ann, "@bob", "private").await.unwrap();
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    let socket = async |name: &str| {
        let body = json!({"name": name, "password": PASS}).to_string();
        let headers = [("Content-Type", "application/json")];
        let (status, head, _) =
            common::web::http(&host, "POST", "/api/login", &headers, &body).await;
        assert_eq!(status, 200);
        let cookie = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with("set-cookie:")
                    .then(|| l[11..].trim().split(';').next().unwrap().to_owned())
            })
            .unwrap();
        let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
        req.headers_mut().insert("Cookie", cookie.parse().unwrap());
        tokio_tungstenite::connect_async(req).await.unwrap().0
    };
    let ws_ask = async |ws: &mut tokio_tungstenite::WebSocketStream<_>, v: Value| -> Value {
        ws.send(Message::Text(v.to_string().into())).await.unwrap();
        loop {
            let msg = tokio::time::timeout(IO_LIMIT, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            if v.get("id").is_some() {
                return v;
            }
        }
    };
    let mut cid = socket("cid").await;
    let r = ws_ask(
        &mut cid,
        json!({"type": "chat.history", "id": 1, "room": "@ann+bob"}),
    )
    .await;
    assert_eq!(r["code"], "not_in_room", "{r}");
    let r = ws_ask(
        &mut cid,
        json!({"type": "chat.join", "id": 2, "room": "@ann+bob"}),
    )
    .await;
    assert_eq!(r["code"], "not_in_room", "{r}");
    let mut bob = socket("bob").await;
    let r = ws_ask(
        &mut bob,
        json!({"type": "chat.history", "id": 1, "room": "@ann"}),
    )
    .await;
    assert_eq!(r["messages"][0]["text"], "private", "{r}");
    let r = ws_ask(&mut bob, json!({"type": "chat.dms", "id": 2})).await;
    assert_eq!(
        (r["dms"][0]["with"].as_str(), r["dms"][0]["unread"].as_u64()),
        (Some("ann"), Some(1)),
        "{r}"
    );
}

/// `sockit user del NAME` then `sockit user add NAME` on `srv`'s data, as
/// an operator giving a name to someone new.
fn register_again(srv: &Server, name: &str) {
    let data = srv.data();
    let del = run(
        &["user", "del", name, "--data", data.to_str().unwrap()],
        b"",
    );
    assert!(del.status.success(), "{del:?}");
    add_user(&data, name, PASS);
}

#[tokio::test]
async fn a_name_registered_again_reads_none_of_the_old_accounts_direct_messages() {
    let srv = server();
    let mut ann = member(&srv, "ann").await;
    let mut bob = member(&srv, "bob").await;
    ask(&mut bob, ChatRequest::Dm { to: "ann".into() })
        .await
        .unwrap();
    say(&mut bob, "@ann", "secret plan for ann").await;
    ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
        .await
        .unwrap();
    say(&mut ann, "@bob", "secret answer to bob").await;
    let old = ["secret plan for ann", "secret answer to bob"].map(String::from);
    let bobs = Reading {
        history: old.to_vec(),
        listed: true,
        unread: 1,
        found: vec![old[1].clone(), old[0].clone()],
    };
    assert_eq!(reading(&mut bob, "@ann+bob", "secret").await, bobs);
    drop(ann);

    register_again(&srv, "ann");
    let mut ann = member(&srv, "ann").await;
    ask(&mut ann, ChatRequest::Dm { to: "bob".into() })
        .await
        .unwrap();
    let none = Reading {
        history: vec![],
        listed: false,
        unread: 0,
        found: vec![],
    };
    assert_eq!(reading(&mut ann, "@ann+bob", "secret").await, none);
    // Bob keeps the whole conversation.
    assert_eq!(reading(&mut bob, "@ann+bob", "secret").await, bobs);
    // What is said to the new account from now on is its own, at once.
    say(&mut bob, "@ann", "secret welcome, new ann").await;
    let news = Reading {
        history: vec!["secret welcome, new ann".into()],
        listed: true,
        unread: 1,
        found: vec!["secret welcome, new ann".into()],
    };
    assert_eq!(reading(&mut ann, "@ann+bob", "secret").await, news);
}

#[tokio::test]
async fn a_name_registered_again_may_not_edit_or_delete_the_old_accounts_messages() {
    let srv = server();
    let join = || ChatRequest::Join {
        room: "lobby".into(),
    };
    let mut ann = member(&srv, "ann").await;
    ask(&mut ann, join()).await.unwrap();
    let said = say(&mut ann, "lobby", "the old ann said this").await;
    // Cid, whose account stays, said something too, just after its
    // account was made (the same second, most likely).
    let mut cid = member(&srv, "cid").await;
    ask(&mut cid, join()).await.unwrap();
    let cids = say(&mut cid, "lobby", "cid said this").await;
    drop(ann);

    register_again(&srv, "ann");
    let mut ann = member(&srv, "ann").await;
    ask(&mut ann, join()).await.unwrap();
    let edit = |seq, text: &str| ChatRequest::Edit {
        room: "lobby".into(),
        seq,
        text: text.into(),
    };
    let delete = |seq| ChatRequest::Delete {
        room: "lobby".into(),
        seq,
    };
    for req in [edit(said, "rewritten by the new ann"), delete(said)] {
        match ask(&mut ann, req).await {
            Err(ClientError::Server { code, message }) => {
                assert_eq!(code, "not_author");
                assert!(message.contains("earlier account"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The old message is as it was.
    let ChatReply::History { messages, .. } = ask(&mut cid, history("lobby")).await.unwrap() else {
        panic!()
    };
    let old = messages.iter().find(|m| m.seq == said).unwrap();
    assert_eq!(
        (old.text.as_str(), old.kind),
        ("the old ann said this", None)
    );
    // An account that stayed changes its own; the new ann hers.
    assert!(matches!(
        ask(&mut cid, edit(cids, "cid fixed this")).await,
        Ok(ChatReply::Edit(_))
    ));
    let mine = say(&mut ann, "lobby", "the new ann said this").await;
    assert!(matches!(
        ask(&mut ann, edit(mine, "the new ann fixed this")).await,
        Ok(ChatReply::Edit(_))
    ));
    assert!(matches!(
        ask(&mut ann, delete(mine)).await,
        Ok(ChatReply::Delete(_))
    ));
}
