//! Unit tests of the typed messages and of `respond`.

use bytes::Bytes;
use serde_json::{Value, json};

use super::*;

fn field<'a>(frame: &'a Frame, key: &str) -> &'a Value {
    frame.get(key).unwrap_or(&Value::Null)
}

fn request(header: Value) -> Frame {
    match header {
        Value::Object(map) => Frame::from_parts(map, Bytes::new()),
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn hello_negotiates_the_lower_version() {
    let info = ServerInfo::default();
    for (asked, got) in [(1, 1), (2, 1), (u64::MAX, 1)] {
        let reply = respond(
            &request(json!({"type":"hello","id":4,"version":asked})),
            &info,
        );
        assert_eq!(reply.kind(), Some("hello"));
        assert_eq!(reply.id(), Some(4));
        assert_eq!(field(&reply, "version"), &json!(got));
    }
    let reply = respond(
        &request(json!({"type":"hello","version":1,"client":"t/1","x":[1]})),
        &info,
    );
    let Ok(Reply::Hello(hello)) = Reply::from_frame(&reply) else {
        panic!("not a hello reply: {reply:?}");
    };
    assert_eq!(hello.limits, Limits::default());
    assert!(hello.server.starts_with("sockit/"));
    assert_eq!(hello.features, ["echo", "ping"]);
    assert_eq!(
        field(&reply, "limits"),
        &json!({"max_header":65536,"max_body":8388608})
    );
}

#[test]
fn hello_errors_keep_the_id() {
    let info = ServerInfo::default();
    let cases = [
        (
            json!({"type":"hello","id":1,"version":0}),
            "unsupported_version",
        ),
        (json!({"type":"hello","id":1}), "bad_request"),
        (json!({"type":"hello","id":1,"version":"1"}), "bad_request"),
        (
            json!({"type":"hello","id":1,"version":1,"features":[1]}),
            "bad_request",
        ),
    ];
    for (req, code) in cases {
        let reply = respond(&request(req.clone()), &info);
        assert_eq!(
            (reply.kind(), reply.id()),
            (Some("error"), Some(1)),
            "{req}"
        );
        assert_eq!(field(&reply, "code"), &json!(code), "{req}");
    }
}

#[test]
fn pong_copies_id_and_any_ts() {
    let info = ServerInfo::default();
    for ts in [
        json!(null),
        json!(1.5),
        json!("x"),
        json!({"a":[1,{"b":null}]}),
    ] {
        let reply = respond(
            &request(json!({"type":"ping","id":7,"ts":ts,"extra":1})),
            &info,
        );
        let expected = request(json!({"type":"pong","id":7,"ts":ts}));
        assert_eq!(reply, expected);
    }
    let reply = respond(&request(json!({"type":"ping"})), &info);
    assert_eq!(reply, Frame::new("pong"));
}

#[test]
fn echo_returns_every_field_and_the_body() {
    let req = request(json!({"type":"echo","id":2,"n":{"deep":[true]},"s":"é"}))
        .with_body(Bytes::from_static(b"\x00\xffbody"));
    assert_eq!(respond(&req, &ServerInfo::default()), req);
}

#[test]
fn message_errors_keep_the_connection_usable() {
    let info = ServerInfo::default();
    let cases = [
        (json!({"id":5}), "bad_request", Some(5)),
        (json!({"type":7,"id":5}), "bad_request", Some(5)),
        (json!({"type":"ping","id":"5"}), "bad_request", None),
        (json!({"type":"ping","id":-1}), "bad_request", None),
        (json!({"type":"chat.send","id":5}), "unknown_type", Some(5)),
        (json!({"type":"pong","id":5}), "unknown_type", Some(5)),
    ];
    for (req, code, id) in cases {
        let reply = respond(&request(req.clone()), &info);
        assert_eq!((reply.kind(), reply.id()), (Some("error"), id), "{req}");
        assert_eq!(field(&reply, "code"), &json!(code), "{req}");
        assert!(
            field(&reply, "message")
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[test]
fn typed_requests_round_trip_through_frames() {
    let requests = [
        CoreRequest::Hello(Hello {
            version: 1,
            client: Some("py/1".into()),
            features: vec!["chat".into()],
        }),
        CoreRequest::Hello(Hello {
            version: 1,
            client: None,
            features: vec![],
        }),
        CoreRequest::Ping(Ping {
            ts: Some(Value::Null),
        }),
        CoreRequest::Ping(Ping { ts: None }),
        CoreRequest::Echo {},
    ];
    for req in requests {
        let frame = req.to_frame(Some(3));
        assert_eq!(frame.id(), Some(3));
        assert_eq!(CoreRequest::from_frame(&frame), Ok(req));
    }
    let frame = CoreRequest::Hello(Hello {
        version: 1,
        client: None,
        features: vec![],
    })
    .to_frame(None);
    assert_eq!(frame, request(json!({"type":"hello","version":1})));
}

#[test]
fn typed_replies_round_trip_through_frames() {
    let replies = [
        Reply::Pong(Ping {
            ts: Some(json!([1])),
        }),
        Reply::Echo {},
        Reply::Error(ErrorReply {
            code: "unknown_type".into(),
            message: "m".into(),
        }),
    ];
    for reply in replies {
        assert_eq!(Reply::from_frame(&reply.to_frame(None)), Ok(reply));
    }
    let unknown = Frame::new("chat.message");
    assert_eq!(
        Reply::from_frame(&unknown),
        Err(MessageError::UnknownType("chat.message".into()))
    );
}

#[test]
fn codes_are_snake_case() {
    let codes = [
        MessageError::MissingType.code(),
        MessageError::UnknownType(String::new()).code(),
        MessageError::UnsupportedVersion(0).code(),
        FrameError::HeaderTooLarge { len: 0, max: 0 }.code(),
        FrameError::Truncated { have: 0, need: 0 }.code(),
        FrameError::Failed.code(),
    ];
    for code in codes {
        assert!(
            code.as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
    }
}

/// The header text of a frame as encoded, for comparing with the docs.
fn header_text(frame: &Frame) -> String {
    let data = encode_to_vec(frame).unwrap();
    let len = usize::try_from(u32::from_be_bytes(data[..4].try_into().unwrap())).unwrap();
    String::from_utf8(data[4..4 + len].to_vec()).unwrap()
}

#[test]
fn protocol_md_examples_match_the_code() {
    let info = ServerInfo::default();
    let hello = request(json!({"type":"hello","id":1,"version":1,"client":"myclient/0.1"}));
    let expected = r#"{"features":["echo","ping"],"id":1,"limits":{"max_body":8388608,"max_header":65536},"server":"sockit/0.1.0","type":"hello","version":1}"#;
    let expected = expected.replace("0.1.0", env!("CARGO_PKG_VERSION"));
    assert_eq!(header_text(&respond(&hello, &info)), expected);

    let ping = request(json!({"id":2,"ts":1_700_000_000_123_456_789_u64,"type":"ping"}));
    let pong = r#"{"id":2,"ts":1700000000123456789,"type":"pong"}"#;
    assert_eq!(header_text(&respond(&ping, &info)), pong);

    let echo = request(json!({"id":3,"type":"echo","note":"anything"})).with_body(&b"hello"[..]);
    let reply = respond(&echo, &info);
    assert_eq!(
        header_text(&reply),
        r#"{"id":3,"note":"anything","size":5,"type":"echo"}"#
    );
    assert_eq!(&reply.body[..], b"hello");

    let unknown = respond(&request(json!({"type":"chat.send","id":7})), &info);
    let error = r#"{"code":"unknown_type","id":7,"message":"unknown message type \"chat.send\"; send hello to see the server's features","type":"error"}"#;
    assert_eq!(header_text(&unknown), error);
}

#[test]
fn failed_replies_become_error_frames_with_the_request_id() {
    let err = FrameError::HeaderTooLarge {
        len: 70_000,
        max: 65_536,
    };
    assert!(err.is_limit());
    let frame = err.to_frame_with_id(Some(12));
    assert_eq!((frame.kind(), frame.id()), (Some("error"), Some(12)));
    assert_eq!(field(&frame, "code"), &json!("header_too_large"));
    assert!(!FrameError::EmptyHeader.is_limit());
}
