//! Fuzzes `FrameCodec`'s decoder with arbitrary bytes in arbitrary chunkings.
//!
//! Input layout: byte 0 picks the limits, byte 1 seeds the chunk sizes, the
//! rest is the byte stream. Invariants checked on every input:
//! - no panic, and the read buffer never grows past what the limits allow;
//! - chunking never changes the outcome: fed in random chunks or all at
//!   once, the stream yields the same frames and the same error code;
//! - every frame respects the limits and carries no `"size"` key;
//! - after an error the codec stays failed;
//! - every decoded frame re-encodes (unless its re-serialized header grew
//!   past `max_header`) into bytes that decode again;
//! - `respond` answers every frame with a typed reply that copies its id;
//! - the ping fast path (`answer_ping`) never panics, and whenever it
//!   answers, the general path decodes the same frame and gives the same pong.

#![no_main]

// The wire layer is compiled on its own, not through the `sockit` crate:
// it depends on nothing else in the crate (it is the bottom layer), and
// this keeps tokio's runtime, clap and friends out of instrumented builds.
#[allow(dead_code, missing_docs, unused_imports)]
#[path = "../../src/wire/mod.rs"]
mod wire;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use wire::{Frame, FrameCodec, Limits, PREFIX_LEN, SIZE, ServerInfo, answer_ping, respond};

/// Limits small enough that the fuzzer reaches them with short inputs.
const SMALL: Limits = Limits {
    max_header: 256,
    max_body: 1024,
};

/// The frames and final error code (if any) a stream decodes to.
type Outcome = (Vec<Frame>, Option<&'static str>);

fuzz_target!(|data: &[u8]| {
    let (limits, seed, stream) = match data {
        [a, b, rest @ ..] => (if a & 1 == 0 { SMALL } else { Limits::default() }, *b, rest),
        _ => return,
    };
    let whole = decode(stream, &[stream.len()], limits);
    let chunked = decode(stream, &chunk_sizes(seed, stream.len()), limits);
    assert_eq!(whole, chunked, "chunking changed the outcome");
    for frame in &whole.0 {
        check_frame(frame, limits);
    }
    check_fast_ping(stream, limits);
});

/// The fast path must agree with decode + respond whenever it answers.
fn check_fast_ping(stream: &[u8], limits: Limits) {
    let mut out = BytesMut::new();
    let Some(used) = answer_ping(stream, &limits, &mut out) else {
        assert!(out.is_empty(), "fast path wrote without answering");
        return;
    };
    let mut codec = FrameCodec::with_limits(limits);
    let mut input = BytesMut::from(&stream[..used]);
    let req = codec
        .decode(&mut input)
        .ok()
        .flatten()
        .expect("fast path took a frame the codec rejects");
    let slow = respond(&req, &ServerInfo::new(limits));
    let mut big = FrameCodec::new();
    let fast = big
        .decode(&mut out)
        .ok()
        .flatten()
        .expect("fast pong does not decode");
    assert_eq!(
        fast.kind(),
        slow.kind(),
        "fast path answered what the general path refuses"
    );
    assert_eq!(fast.id(), slow.id(), "fast path changed the id");
    assert_eq!(
        fast.header.get("ts"),
        slow.header.get("ts"),
        "fast path changed ts"
    );
}

/// Chunk sizes from 1 to 64 bytes covering `len`, from a xorshift seed.
fn chunk_sizes(seed: u8, len: usize) -> Vec<usize> {
    let mut state = u32::from(seed) | 0x100;
    let mut sizes = Vec::new();
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = usize::try_from(state % 64).unwrap_or(0) + 1;
        sizes.push(n.min(left));
        left -= n.min(left);
    }
    sizes
}

fn decode(stream: &[u8], sizes: &[usize], limits: Limits) -> Outcome {
    let mut codec = FrameCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    // Everything fed plus one maximal frame, doubled for amortized growth.
    let bound = 2 * (stream.len() + PREFIX_LEN + limits.max_header + limits.max_body) + 64;
    for &n in sizes {
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            let step = codec.decode(&mut buf);
            assert!(
                buf.capacity() <= bound,
                "capacity {} > {bound}",
                buf.capacity()
            );
            match step {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    assert!(codec.is_failed());
                    let again = codec.decode(&mut buf);
                    assert!(matches!(again, Err(wire::FrameError::Failed)));
                    return (frames, Some(e.code().as_str()));
                }
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(Some(_)) => panic!("decode_eof found a frame that decode missed"),
        Ok(None) => (frames, None),
        Err(e) => (frames, Some(e.code().as_str())),
    }
}

fn check_frame(frame: &Frame, limits: Limits) {
    assert!(frame.body.len() <= limits.max_body);
    assert!(!frame.header.contains_key(SIZE));
    let reply = respond(frame, &ServerInfo::new(limits));
    assert!(reply.kind().is_some(), "reply without a type");
    assert_eq!(reply.id(), frame.id(), "reply must copy the id");
    let mut codec = FrameCodec::with_limits(limits);
    let mut out = BytesMut::new();
    match codec.encode(frame, &mut out) {
        Ok(()) => {}
        // Re-serializing can lengthen a header ("1E2" becomes "100.0").
        Err(e) if e.code() == wire::ErrorCode::HeaderTooLarge => return,
        Err(e) => panic!("a decoded frame failed to re-encode: {e}"),
    }
    let again = codec
        .decode_eof(&mut out)
        .expect("re-encoded frame decodes");
    let again = again.expect("re-encoded frame is complete");
    assert_eq!(again.body, frame.body);
    assert_eq!(again.kind(), frame.kind());
    assert_eq!(again.id(), frame.id());
}
