//! The hot path for `ping`: answer a bodiless ping frame straight from its
//! bytes, without building a JSON tree for the request or the reply.
//!
//! Pings are what monitoring and load tools send most, and the general path
//! (parse into a map, build a reply map, serialize it) costs several times
//! the socket work (`cargo bench --bench frame_codec`; docs/PERFORMANCE.md). This path accepts only the exact shape
//! `{"type":"ping"[,"id":N][,"ts":ANY]}` (any key order, no other key, no
//! body); anything else falls through to [`super::FrameCodec`] and
//! [`super::respond`], which give the same answer more slowly (or the error).

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::decode::PREFIX_LEN;
use super::limits::Limits;

/// The only header shape the fast path takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PingHead<'a> {
    /// Must be "ping"; borrowed, so an escaped string falls back.
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    /// The request id, copied into the pong; `null` or a non-integer is
    /// not this shape (the general path answers `bad_request`).
    #[serde(default, deserialize_with = "present_u64")]
    id: Option<u64>,
    /// Copied verbatim; present-but-null stays present (`Some("null")`).
    #[serde(default, borrow, deserialize_with = "present")]
    ts: Option<&'a RawValue>,
}

fn present_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    u64::deserialize(d).map(Some)
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// If `buf` starts with a complete bodiless ping frame within `limits`,
/// appends its pong frame to `out` and returns the bytes the ping took.
/// Returns `None` (and leaves `out` alone) for anything else.
pub fn answer_ping(buf: &[u8], limits: &Limits, out: &mut BytesMut) -> Option<usize> {
    let prefix: [u8; PREFIX_LEN] = buf.get(..PREFIX_LEN)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(prefix)).ok()?;
    if len == 0 || len > limits.max_header {
        return None;
    }
    let header = buf.get(PREFIX_LEN..PREFIX_LEN + len)?;
    if let Some(pong) = literal_pong(header) {
        // The pong is as long as the ping, so it is within the limit too.
        out.reserve(PREFIX_LEN + len);
        out.put_u32(len as u32);
        out.put_slice(&pong.prefix[..pong.prefix_len]);
        out.put_slice(pong.digits);
        out.put_slice(pong.suffix);
        return Some(PREFIX_LEN + len);
    }
    // serde reads a struct from a JSON array too (`["ping"]`), but only an
    // object is a header: the codec refuses the rest (`bad_header`).
    if header.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let head: PingHead<'_> = serde_json::from_slice(header).ok()?;
    if head.kind != "ping" {
        return None;
    }
    // `ts` is copied verbatim, so it must be a value the codec accepts:
    // RawValue checks only the syntax, and a number beyond f64's range
    // (`1e999`, nested or not) is a `bad_header` to the codec. Found by
    // the frame_decoder fuzzer: the fast path answered such a ping with a
    // pong no strict decoder reads.
    if let Some(ts) = head.ts {
        if serde_json::from_str::<serde_json::Value>(ts.get()).is_err() {
            return None;
        }
    }
    // Keys in sorted order, as the general encoder writes them.
    let start = out.len();
    out.reserve(PREFIX_LEN + len + 8);
    out.put_u32(0);
    out.put_u8(b'{');
    if let Some(id) = head.id {
        out.put_slice(b"\"id\":");
        out.put_slice(itoa_u64(id, &mut [0u8; 20]));
        out.put_u8(b',');
    }
    if let Some(ts) = head.ts {
        out.put_slice(b"\"ts\":");
        out.put_slice(ts.get().as_bytes());
        out.put_u8(b',');
    }
    out.put_slice(b"\"type\":\"pong\"}");
    // The pong is no longer than the ping (same keys, "pong" for "ping"),
    // so it is within the header limit too.
    let reply_len = u32::try_from(out.len() - start - PREFIX_LEN).ok()?;
    out[start..start + PREFIX_LEN].copy_from_slice(&reply_len.to_be_bytes());
    Some(PREFIX_LEN + len)
}

/// The pong for a ping header in one of the two exact forms our encoders
/// write (compact, keys sorted): `{"type":"ping"}` and
/// `{"id":N,"type":"ping"}`. Matching the bytes costs a few comparisons;
/// parsing them as JSON costs more than the rest of a ping's user-space
/// work. Any other spelling (spaces, `ts`, keys in another order) takes the
/// JSON path below.
fn literal_pong(header: &[u8]) -> Option<LiteralPong<'_>> {
    const BARE: &[u8] = br#"{"type":"ping"}"#;
    const ID_OPEN: &[u8] = br#"{"id":"#;
    const ID_CLOSE: &[u8] = br#","type":"ping"}"#;
    if header == BARE {
        return Some(LiteralPong {
            prefix: *br#"{"type":"pong"}"#,
            prefix_len: BARE.len(),
            digits: &[],
            suffix: &[],
        });
    }
    let digits = header.strip_prefix(ID_OPEN)?.strip_suffix(ID_CLOSE)?;
    // A JSON integer in u64's range without a leading zero: the same id
    // the general path would read and write back, digit for digit.
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
        || std::str::from_utf8(digits).ok()?.parse::<u64>().is_err()
    {
        return None;
    }
    let mut prefix = [0u8; 15];
    prefix[..ID_OPEN.len()].copy_from_slice(ID_OPEN);
    Some(LiteralPong {
        prefix,
        prefix_len: ID_OPEN.len(),
        digits,
        suffix: br#","type":"pong"}"#,
    })
}

/// A pong header in three pieces: `prefix[..prefix_len]`, the request's id
/// digits, `suffix`.
struct LiteralPong<'a> {
    prefix: [u8; 15],
    prefix_len: usize,
    digits: &'a [u8],
    suffix: &'static [u8],
}

/// Formats `n` in decimal into `buf`, returning the digits.
fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Frame, ServerInfo, decode_from_slice, encode_to_vec, respond};

    fn fast(frame: &Frame) -> Option<Frame> {
        let bytes = encode_to_vec(frame).unwrap();
        let mut out = BytesMut::new();
        let used = answer_ping(&bytes, &Limits::default(), &mut out)?;
        assert_eq!(used, bytes.len());
        Some(
            decode_from_slice(&out, &Limits::default())
                .unwrap()
                .unwrap()
                .0,
        )
    }

    #[test]
    fn agrees_with_the_general_path() {
        let info = ServerInfo::default();
        for req in [
            Frame::new("ping"),
            Frame::new("ping").with_id(0),
            Frame::new("ping").with_id(u64::MAX).set("ts", 12.5),
            Frame::new("ping").set("ts", serde_json::Value::Null),
            Frame::new("ping").set("ts", serde_json::json!({"b": [1, "x"], "a": null})),
        ] {
            assert_eq!(fast(&req), Some(respond(&req, &info)), "{req:?}");
        }
    }

    #[test]
    fn anything_else_falls_through() {
        for req in [
            Frame::new("echo"),
            Frame::new("ping").set("extra", 1),
            Frame::new("ping").with_body(&b"x"[..]),
            Frame::new("ping").set("id", -1),
            Frame::new("ping").set("id", serde_json::Value::Null),
            Frame::new("pi\u{6e}g\u{0}"),
        ] {
            assert!(fast(&req).is_none(), "{req:?}");
        }
        let mut out = BytesMut::new();
        // Incomplete, empty and over-limit headers are the codec's business.
        assert!(answer_ping(&[0, 0, 0, 20, b'{'], &Limits::default(), &mut out).is_none());
        assert!(answer_ping(&[0, 0, 0, 0], &Limits::default(), &mut out).is_none());
        assert!(answer_ping(&[0xff; 8], &Limits::default(), &mut out).is_none());
        // Not an object (found by fuzzing: serde takes a struct as an array).
        for header in [&br#"["ping"]"#[..], br#" ["ping",7,null]"#] {
            let frame = [&(header.len() as u32).to_be_bytes()[..], header].concat();
            assert!(answer_ping(&frame, &Limits::default(), &mut out).is_none());
        }
        // A ts the codec refuses (a number beyond f64's range, found by
        // fuzzing) is the codec's business too.
        for header in [
            &br#"{"id":4255555,"ts":5555515E55555,"type":"ping"}"#[..],
            br#"{"ts":[1,{"a":-1e400}],"type":"ping"}"#,
        ] {
            let frame = [&(header.len() as u32).to_be_bytes()[..], header].concat();
            assert!(decode_from_slice(&frame, &Limits::default()).is_err());
            assert!(answer_ping(&frame, &Limits::default(), &mut out).is_none());
        }
        assert!(out.is_empty());
    }

    #[test]
    fn literal_forms_answer_like_the_general_path() {
        let info = ServerInfo::default();
        for header in [
            &br#"{"type":"ping"}"#[..],
            br#"{"id":0,"type":"ping"}"#,
            br#"{"id":42,"type":"ping"}"#,
            br#"{"id":18446744073709551615,"type":"ping"}"#,
        ] {
            assert!(literal_pong(header).is_some(), "{header:?}");
            let frame = [&(header.len() as u32).to_be_bytes()[..], header].concat();
            let mut out = BytesMut::new();
            assert_eq!(
                answer_ping(&frame, &Limits::default(), &mut out),
                Some(frame.len())
            );
            let (pong, used) = decode_from_slice(&out, &Limits::default())
                .unwrap()
                .unwrap();
            assert_eq!(used, out.len());
            let (req, _) = decode_from_slice(&frame, &Limits::default())
                .unwrap()
                .unwrap();
            assert_eq!(pong, respond(&req, &info));
        }
        // Not the literal forms: these go to the JSON path (or the codec).
        for header in [
            &br#"{"id":01,"type":"ping"}"#[..],
            br#"{"id":+1,"type":"ping"}"#,
            br#"{"id":,"type":"ping"}"#,
            br#"{"id":18446744073709551616,"type":"ping"}"#,
            br#"{"id":-1,"type":"ping"}"#,
            br#"{"id":1.0,"type":"ping"}"#,
            br#"{"type":"ping","id":1}"#,
            br#"{ "type":"ping"}"#,
            br#"{"type":"pong"}"#,
        ] {
            assert!(literal_pong(header).is_none(), "{header:?}");
        }
    }

    #[test]
    fn itoa() {
        for n in [0, 7, 10, 12345, u64::MAX] {
            assert_eq!(itoa_u64(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
