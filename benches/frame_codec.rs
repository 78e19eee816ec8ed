//! Criterion benchmark of the frame codec: cost per frame, decode and encode.
//!
//! Run: `cargo bench --bench frame_codec -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use sockit::wire::{Frame, FrameCodec, encode_to_vec};
use tokio_util::codec::{Decoder, Encoder};

/// Frames decoded from one buffer in the "many" benchmark.
const MANY: usize = 1000;

/// A realistic ~100-byte header (a chat message's metadata).
fn sample(body_len: usize) -> Frame {
    Frame::new("chat.send")
        .with_id(123_456)
        .set("room", "general")
        .set("user", "alice")
        .set("ts", 1_700_000_000_123_u64)
        .set("text", "hello there")
        .with_body(Bytes::from(vec![b'x'; body_len]))
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(1));
    for body_len in [0, 1024] {
        let frame = sample(body_len);
        let wire = encode_to_vec(&frame).expect("sample encodes");
        let mut codec = FrameCodec::new();
        let mut input = BytesMut::with_capacity(wire.len() * 2);
        let mut output = BytesMut::with_capacity(wire.len() * 2);
        group.bench_with_input(
            BenchmarkId::new("decode+encode", body_len),
            &wire,
            |b, wire| {
                b.iter(|| {
                    input.extend_from_slice(wire);
                    let frame = codec
                        .decode(&mut input)
                        .expect("decodes")
                        .expect("complete");
                    codec.encode(&frame, &mut output).expect("encodes");
                    black_box(&output);
                    output.clear();
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("decode", body_len), &wire, |b, wire| {
            b.iter(|| {
                input.extend_from_slice(wire);
                black_box(
                    codec
                        .decode(&mut input)
                        .expect("decodes")
                        .expect("complete"),
                )
            });
        });
        group.bench_with_input(BenchmarkId::new("encode", body_len), &frame, |b, frame| {
            b.iter(|| {
                codec.encode(frame, &mut output).expect("encodes");
                black_box(&output);
                output.clear();
            });
        });
    }
    group.finish();
}

fn decode_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(MANY as u64));
    for body_len in [0, 1024] {
        let wire: Vec<u8> = (0..MANY)
            .flat_map(|_| encode_to_vec(&sample(body_len)).expect("sample encodes"))
            .collect();
        let mut codec = FrameCodec::new();
        group.bench_with_input(
            BenchmarkId::new("decode_1000", body_len),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut input = BytesMut::from(&wire[..]);
                    let mut n = 0;
                    while let Some(frame) = codec.decode(&mut input).expect("decodes") {
                        black_box(frame);
                        n += 1;
                    }
                    assert_eq!(n, MANY);
                });
            },
        );
    }
    group.finish();
}

// A plain `main` rather than `criterion_group!`, whose generated public
// function would trip the crate's `missing_docs` lint.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    round_trip(&mut c);
    decode_many(&mut c);
    c.final_summary();
}
