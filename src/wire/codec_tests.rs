//! Unit tests of the frame codec: splits, EOF, limits and zero-copy bodies.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use tokio_util::codec::{Decoder, Encoder};

use super::*;

/// The example drawn in docs/PROTOCOL.md: echo, id 1, body "hello".
const DOC_EXAMPLE: &str =
    "0000001f7b226964223a312c2273697a65223a352c2274797065223a226563686f227d68656c6c6f";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A raw frame with an arbitrary header text and body.
fn raw(header: &str, body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(header.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

fn sample_frames() -> Vec<Frame> {
    vec![
        Frame::new("ping")
            .with_id(1)
            .set("ts", json!({"t": [1, 2.5, null]})),
        Frame::new("echo")
            .with_id(2)
            .with_body(Bytes::from_static(b"hello")),
        Frame::new("echo").with_body(vec![0u8; 1024]),
        Frame::new("x.y")
            .set("size_hint", "not size")
            .set("a", true),
    ]
}

fn stream_of(frames: &[Frame]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| encode_to_vec(f).unwrap())
        .collect()
}

/// Feeds `data` in chunks of `step` bytes, decoding after each, then EOF.
fn decode_chunked(data: &[u8], step: usize) -> Vec<Frame> {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            out.push(frame);
        }
    }
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    out
}

fn decode_err(data: &[u8], limits: Limits) -> FrameError {
    let mut codec = FrameCodec::with_limits(limits);
    let mut buf = BytesMut::from(data);
    let err = codec.decode_eof(&mut buf).unwrap_err();
    assert!(codec.is_failed());
    err
}

#[test]
fn doc_example_encodes_and_decodes() {
    let frame = Frame::new("echo")
        .with_id(1)
        .with_body(Bytes::from_static(b"hello"));
    assert_eq!(encode_to_vec(&frame).unwrap(), hex(DOC_EXAMPLE));
    let (decoded, used) = decode_from_slice(&hex(DOC_EXAMPLE), &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!((decoded, used), (frame, DOC_EXAMPLE.len() / 2));
}

#[test]
fn byte_at_a_time_and_all_at_once_agree() {
    let frames = sample_frames();
    let data = stream_of(&frames);
    for step in [1, 2, 3, 7, 64, data.len()] {
        assert_eq!(decode_chunked(&data, step), frames, "step {step}");
    }
}

#[test]
fn header_is_consumed_once_while_waiting_for_the_body() {
    let data = encode_to_vec(&Frame::new("echo").with_body(vec![7u8; 100])).unwrap();
    let body_at = data.len() - 100;
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(&data[..body_at + 10]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    // The header left the buffer and now lives in the codec's state.
    assert_eq!(buf.len(), 10);
    assert!(!codec.is_idle());
    assert!(
        buf.capacity() >= 100,
        "body space reserved once the size is known"
    );
    buf.extend_from_slice(&data[body_at + 10..]);
    let frame = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.body.len(), 100);
    assert!(codec.is_idle());
}

#[test]
fn body_is_shared_with_the_read_buffer() {
    let data = encode_to_vec(&Frame::new("echo").with_body(vec![1u8; 64])).unwrap();
    let mut buf = BytesMut::from(&data[..]);
    let start = buf.as_ptr() as usize;
    let frame = FrameCodec::new().decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.body.as_ptr() as usize, start + data.len() - 64);
}

#[test]
fn eof_between_frames_is_a_clean_close() {
    let mut codec = FrameCodec::new();
    assert!(codec.decode_eof(&mut BytesMut::new()).unwrap().is_none());
    let data = encode_to_vec(&Frame::new("ping")).unwrap();
    let mut buf = BytesMut::from(&data[..]);
    assert!(codec.decode_eof(&mut buf).unwrap().is_some());
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
}

#[test]
fn eof_inside_a_frame_is_truncated() {
    let data = encode_to_vec(&Frame::new("echo").with_body(Bytes::from_static(b"hello"))).unwrap();
    for cut in 1..data.len() {
        let err = decode_err(&data[..cut], Limits::default());
        assert_eq!(
            err.code(),
            crate::wire::ErrorCode::TruncatedFrame,
            "cut at {cut}"
        );
    }
    match decode_err(&data[..data.len() - 2], Limits::default()) {
        FrameError::Truncated { have, need } => {
            assert_eq!((have, need), (data.len() as u64 - 2, data.len() as u64));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn huge_header_len_fails_before_allocating() {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::with_capacity(4);
    buf.put_u32(u32::MAX);
    let err = codec.decode(&mut buf).unwrap_err();
    assert_eq!(err.code(), crate::wire::ErrorCode::HeaderTooLarge);
    assert!(buf.capacity() < 64, "capacity {}", buf.capacity());
    // The stream is now unusable, even if more bytes arrive.
    buf.extend_from_slice(&encode_to_vec(&Frame::new("ping")).unwrap());
    assert_eq!(
        codec.decode(&mut buf).unwrap_err().code(),
        crate::wire::ErrorCode::StreamFailed
    );
}

#[test]
fn huge_size_fails_before_allocating() {
    let data = raw(r#"{"id":9,"size":1099511627776,"type":"echo"}"#, b"");
    let mut buf = BytesMut::from(&data[..]);
    let err = FrameCodec::new().decode(&mut buf).unwrap_err();
    assert_eq!((err.code().as_str(), err.id()), ("body_too_large", Some(9)));
    assert!(buf.capacity() < 256, "capacity {}", buf.capacity());
}

#[test]
fn custom_limits_are_inclusive() {
    let limits = Limits {
        max_header: 40,
        max_body: 4,
    };
    let ok = raw(r#"{"size":4,"type":"echo"}"#, b"abcd");
    let mut buf = BytesMut::from(&ok[..]);
    assert!(
        FrameCodec::with_limits(limits)
            .decode(&mut buf)
            .unwrap()
            .is_some()
    );
    let big_body = raw(r#"{"size":5,"type":"echo"}"#, b"abcde");
    assert_eq!(
        decode_err(&big_body, limits).code(),
        crate::wire::ErrorCode::BodyTooLarge
    );
    let header = format!(r#"{{"type":"{}"}}"#, "x".repeat(40));
    assert_eq!(
        decode_err(&raw(&header, b""), limits).code(),
        crate::wire::ErrorCode::HeaderTooLarge
    );
}

#[test]
fn malformed_headers_are_decode_errors() {
    let cases: &[(&[u8], &str)] = &[
        (&[0, 0, 0, 0], "bad_header"),
        (&[0, 0, 0, 2, 0xC3, 0x28], "bad_header"),
        (&raw("{\"type\":", b""), "bad_header"),
        (&raw("[1,2]", b""), "bad_header"),
        (&raw("\"ping\"", b""), "bad_header"),
        (&raw(r#"{"type":"echo","size":-1}"#, b""), "bad_size"),
        (&raw(r#"{"type":"echo","size":1.5}"#, b"x"), "bad_size"),
        (&raw(r#"{"type":"echo","size":"5"}"#, b"hello"), "bad_size"),
        (&raw(r#"{"type":"echo","size":null}"#, b""), "bad_size"),
    ];
    for (data, code) in cases {
        assert_eq!(
            decode_err(data, Limits::default()).code().as_str(),
            *code,
            "{data:?}"
        );
    }
}

#[test]
fn missing_type_is_not_a_decode_error() {
    // Framing is intact, so the message layer answers bad_request instead.
    let data = raw(r#"{"id":3,"size":2}"#, b"hi");
    let frame = decode_chunked(&data, 1).pop().unwrap();
    assert_eq!(
        (frame.kind(), frame.id(), &frame.body[..]),
        (None, Some(3), &b"hi"[..])
    );
}

#[test]
fn encoder_owns_the_size_field() {
    let frame = Frame::new("echo")
        .set("size", 99)
        .set("z", 1)
        .with_body(vec![0u8; 3]);
    let data = encode_to_vec(&frame).unwrap();
    assert_eq!(
        &data[4..],
        &b"{\"size\":3,\"type\":\"echo\",\"z\":1}\0\0\0"[..]
    );
    let empty = encode_to_vec(&Frame::new("ping").set("size", 5)).unwrap();
    assert_eq!(&empty[4..], &br#"{"type":"ping"}"#[..]);
}

#[test]
fn encoder_refuses_oversized_frames_and_leaves_dst_alone() {
    let mut codec = FrameCodec::with_limits(Limits {
        max_header: 20,
        max_body: 4,
    });
    let mut dst = BytesMut::from(&b"keep"[..]);
    let err = codec.encode(
        Frame::new("echo").with_id(5).with_body(vec![0u8; 5]),
        &mut dst,
    );
    assert_eq!(
        err.unwrap_err().code(),
        crate::wire::ErrorCode::BodyTooLarge
    );
    let err = codec.encode(&Frame::new("a-rather-long-type-name"), &mut dst);
    assert_eq!(
        err.unwrap_err().code(),
        crate::wire::ErrorCode::HeaderTooLarge
    );
    assert_eq!(&dst[..], b"keep");
    codec.encode(&Frame::new("echo"), &mut dst).unwrap();
    assert_eq!(&dst[4..], &raw(r#"{"type":"echo"}"#, b"")[..]);
}

#[test]
fn error_frames_carry_code_message_and_id() {
    let err = FrameError::BodyTooLarge {
        size: 10,
        max: 4,
        id: Some(8),
    };
    let frame = err.to_frame();
    assert_eq!(frame.kind(), Some("error"));
    assert_eq!(frame.id(), Some(8));
    assert_eq!(frame.get("code"), Some(&json!("body_too_large")));
    let message = frame.get("message").and_then(|m| m.as_str()).unwrap();
    assert!(
        message.contains("10") && message.contains("smaller"),
        "{message}"
    );
    assert!(FrameError::EmptyHeader.to_frame().id().is_none());
}

#[test]
fn an_echo_can_outgrow_the_header_limit_and_becomes_an_error_reply() {
    // "1E2" re-serializes as "100.0": the reply header is 2 bytes longer.
    let header = r#"{"type":"echo","id":4,"n":1E2}"#;
    let limits = Limits {
        max_header: header.len(),
        max_body: 16,
    };
    let mut codec = FrameCodec::with_limits(limits);
    let mut buf = BytesMut::from(&raw(header, b"")[..]);
    let request = codec.decode(&mut buf).unwrap().unwrap();
    let reply = respond(&request, &ServerInfo::new(limits));
    let mut out = BytesMut::new();
    let err = codec.encode(&reply, &mut out).unwrap_err();
    assert!(err.is_limit() && out.is_empty());
    // The error reply goes out instead; it fits any realistic max_header.
    let err_frame = err.to_frame_with_id(reply.id());
    assert_eq!(err_frame.id(), Some(4));
    assert!(encode_to_vec(&err_frame).is_ok());
}
