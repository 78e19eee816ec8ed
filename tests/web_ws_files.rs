//! Files over the web door's WebSocket (docs/PROTOCOL.md, section 12): a
//! binary message carries one whole frame, so a browser uploads with
//! `file.put`/`file.write`/`file.put.end` as the CLI does (the page's
//! end-to-end sender relies on it), and a reply with a body comes back as
//! a binary frame. Hostile messages: one byte short of a frame, bytes after
//! it, lengths past the limits, a message too large to read, another
//! user's handle, a wrong hash.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::web::{IO_LIMIT, login_as, web_server};
use common::{Server, add_user, strip_scheme};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sockit::wire::{Frame, Limits, decode_from_slice, encode_to_vec};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const PASS: &str = "correct horse battery";

/// A logged-in WebSocket of `name` to the server at `host`.
async fn socket(host: &str, name: &str) -> Ws {
    let cookie = login_as(host, name, PASS).await;
    let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The web server with alice and bob, and its host:port.
fn server() -> (Server, String) {
    let srv = web_server();
    add_user(&srv.data(), "bob", PASS);
    let host = strip_scheme(&srv.addr("web", "tcp://")).to_owned();
    (srv, host)
}

/// One frame as a binary message.
fn binary(header: Value, body: &[u8]) -> Message {
    let Value::Object(h) = header else {
        panic!("not an object")
    };
    let f = Frame::from_parts(h, Bytes::copy_from_slice(body));
    Message::Binary(encode_to_vec(&f).unwrap().into())
}

/// The next reply: a text message's header, or a binary message's frame.
async fn next(ws: &mut Ws) -> Frame {
    let msg = tokio::time::timeout(IO_LIMIT, ws.next())
        .await
        .expect("no reply")
        .unwrap()
        .unwrap();
    match msg {
        Message::Text(t) => match serde_json::from_str(t.as_str()).unwrap() {
            Value::Object(h) => Frame::from_parts(h, Bytes::new()),
            v => panic!("not an object: {v}"),
        },
        Message::Binary(b) => {
            let (f, used) = decode_from_slice(&b, &Limits::default()).unwrap().unwrap();
            assert_eq!(used, b.len(), "one frame per binary message");
            f
        }
        m => panic!("unexpected {m:?}"),
    }
}

/// A frame's prefix and `header`, as given, with no body.
fn raw(header: &str) -> Vec<u8> {
    let len = u32::try_from(header.len()).unwrap().to_be_bytes();
    [&len[..], header.as_bytes()].concat()
}

async fn ask(ws: &mut Ws, v: Value) -> Frame {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
    next(ws).await
}

fn field<'a>(f: &'a Frame, k: &str) -> &'a Value {
    f.get(k).unwrap_or(&Value::Null)
}

/// Opens an upload of `size` bytes to `path`; its handle.
async fn put(ws: &mut Ws, path: &str, size: usize) -> u64 {
    let r = ask(
        ws,
        json!({"type": "file.put", "id": 1, "path": path, "file_size": size, "fingerprint": "t"}),
    )
    .await;
    assert_eq!(r.kind(), Some("file.put"), "{:?}", r.header);
    assert_eq!(field(&r, "offset"), 0);
    field(&r, "handle").as_u64().unwrap()
}

#[tokio::test]
async fn a_browser_uploads_with_binary_frames_and_reads_back_a_binary_reply() {
    let (_srv, host) = server();
    let mut ws = socket(&host, "alice").await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let h = put(&mut ws, "up/a.bin", data.len()).await;
    // Pipelined, as the page sends them: both out before either reply.
    let split = 262_144;
    ws.send(binary(
        json!({"type": "file.write", "id": 2, "handle": h, "offset": 0}),
        &data[..split],
    ))
    .await
    .unwrap();
    ws.send(binary(
        json!({"type": "file.write", "id": 3, "handle": h, "offset": split}),
        &data[split..],
    ))
    .await
    .unwrap();
    assert_eq!(field(&next(&mut ws).await, "offset"), split);
    assert_eq!(field(&next(&mut ws).await, "offset"), data.len());
    let b3 = blake3::hash(&data).to_hex().to_string();
    let end = ask(
        &mut ws,
        json!({"type": "file.put.end", "id": 4, "handle": h, "blake3": b3}),
    )
    .await;
    assert_eq!(end.kind(), Some("file.put.end"), "{:?}", end.header);
    assert_eq!(field(&end, "file_size"), data.len());

    // Read back: the reply with a body is one binary frame.
    let get = ask(
        &mut ws,
        json!({"type": "file.get", "id": 5, "path": "up/a.bin"}),
    )
    .await;
    let rh = field(&get, "handle").as_u64().unwrap();
    let mut back = Vec::new();
    while back.len() < data.len() {
        let r = ask(
            &mut ws,
            json!({"type": "file.read", "id": 6, "handle": rh, "offset": back.len(), "len": 100_000}),
        )
        .await;
        assert_eq!(r.kind(), Some("file.read"), "{:?}", r.header);
        assert!(!r.body.is_empty());
        back.extend_from_slice(&r.body);
    }
    assert_eq!(back, data);
}

#[tokio::test]
async fn a_wrong_blake3_publishes_nothing() {
    let (_srv, host) = server();
    let mut ws = socket(&host, "alice").await;
    let h = put(&mut ws, "bad.bin", 5).await;
    ws.send(binary(
        json!({"type": "file.write", "id": 2, "handle": h, "offset": 0}),
        b"hello",
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await.kind(), Some("file.write"));
    let wrong = blake3::hash(b"hellO").to_hex().to_string();
    let end = ask(
        &mut ws,
        json!({"type": "file.put.end", "id": 3, "handle": h, "blake3": wrong}),
    )
    .await;
    assert_eq!(end.kind(), Some("error"));
    let stat = ask(
        &mut ws,
        json!({"type": "file.stat", "id": 4, "path": "bad.bin"}),
    )
    .await;
    assert_eq!(field(&stat, "code"), "not_found", "{:?}", stat.header);
}

#[tokio::test]
async fn a_malformed_binary_message_is_answered_and_the_socket_stays_open() {
    let (_srv, host) = server();
    let mut ws = socket(&host, "alice").await;
    let Message::Binary(whole) = binary(json!({"type": "echo", "id": 9}), b"hello") else {
        unreachable!()
    };
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "one byte short",
            whole[..whole.len() - 1].to_vec(),
            "bad_header",
        ),
        (
            "a byte after the body",
            [&whole[..], b"x"].concat(),
            "bad_header",
        ),
        (
            "a header_len past 64 KiB",
            vec![0, 1, 0, 1, b'{'],
            "header_too_large",
        ),
        (
            "a body past 1 MiB",
            raw(r#"{"type":"echo","size":2097152}"#),
            "body_too_large",
        ),
    ];
    for (what, bytes, code) in cases {
        ws.send(Message::Binary(bytes.into())).await.unwrap();
        let r = next(&mut ws).await;
        assert_eq!(field(&r, "code"), code, "{what}: {:?}", r.header);
        let pong = ask(&mut ws, json!({"type": "ping", "id": 1})).await;
        assert_eq!(pong.kind(), Some("pong"), "{what}: the socket closed");
    }
    // A whole frame is answered as on the framed door (echo's body back).
    ws.send(Message::Binary(whole)).await.unwrap();
    let echo = next(&mut ws).await;
    assert_eq!(&echo.body[..], b"hello");
}

#[tokio::test]
async fn a_message_past_the_limits_ends_the_socket() {
    let (_srv, host) = server();
    for big in [
        Message::Binary(vec![0u8; (1 << 20) + 70_000].into()),
        Message::Text("x".repeat(65 * 1024).into()),
    ] {
        let mut ws = socket(&host, "alice").await;
        let _ = ws.send(big).await;
        let end = tokio::time::timeout(IO_LIMIT, async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(end.is_ok(), "the socket stayed open");
    }
}

#[tokio::test]
async fn another_user_cannot_write_into_an_open_upload() {
    let (_srv, host) = server();
    let mut alice = socket(&host, "alice").await;
    let mut bob = socket(&host, "bob").await;
    let h = put(&mut alice, "mine.bin", 3).await;
    bob.send(binary(
        json!({"type": "file.write", "id": 2, "handle": h, "offset": 0}),
        b"bob",
    ))
    .await
    .unwrap();
    let r = next(&mut bob).await;
    assert_eq!(r.kind(), Some("error"), "{:?}", r.header);
    alice
        .send(binary(
            json!({"type": "file.write", "id": 2, "handle": h, "offset": 0}),
            b"abc",
        ))
        .await
        .unwrap();
    assert_eq!(field(&next(&mut alice).await, "offset"), 3);
    let b3 = blake3::hash(b"abc").to_hex().to_string();
    let end = ask(
        &mut alice,
        json!({"type": "file.put.end", "id": 3, "handle": h, "blake3": b3}),
    )
    .await;
    assert_eq!(end.kind(), Some("file.put.end"), "{:?}", end.header);
}
