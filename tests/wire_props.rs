//! Property tests of the frame codec: round trips, any chunking, hostile bytes.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde_json::{Map, Value};
use sockit::wire::{Frame, FrameCodec, Limits, PREFIX_LEN, decode_from_slice, encode_to_vec};
use tokio_util::codec::Decoder;

/// JSON leaves. Floats are short decimals (m / 10^e), kept readable in
/// failure reports; integers cover the whole i64 and u64 ranges.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (any::<i32>(), 0i32..7).prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e))),
        ".{0,16}".prop_map(Value::from),
    ]
}

/// Any JSON value with string/number/bool/null leaves, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn header() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(".{0,12}", json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

fn frame() -> impl Strategy<Value = Frame> {
    (header(), prop::collection::vec(any::<u8>(), 0..1100))
        .prop_map(|(header, body)| Frame::from_parts(header, Bytes::from(body)))
}

/// Feeds `data` cut at the given (sorted, deduplicated) offsets.
fn decode_split(
    data: &[u8],
    cuts: &[usize],
    limits: Limits,
) -> (Vec<Frame>, Option<&'static str>, usize) {
    let mut codec = FrameCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut max_capacity = 0;
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        let end = end.clamp(start, data.len());
        buf.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            let step = codec.decode(&mut buf);
            max_capacity = max_capacity.max(buf.capacity());
            match step {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.code().as_str()), max_capacity),
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(Some(frame)) => panic!("decode_eof found a frame decode missed: {frame:?}"),
        Ok(None) => (frames, None, max_capacity),
        Err(e) => (frames, Some(e.code().as_str()), max_capacity),
    }
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..12).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Capacity a decoder may legitimately reach: everything fed plus one
/// maximal frame, doubled for the allocator's amortized growth.
fn capacity_bound(fed: usize, limits: Limits) -> usize {
    2 * (fed + PREFIX_LEN + limits.max_header + limits.max_body) + 64
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(frame in frame()) {
        let data = encode_to_vec(&frame).expect("encodes");
        let (decoded, used) = decode_from_slice(&data, &Limits::default())
            .expect("decodes")
            .expect("complete");
        prop_assert_eq!(used, data.len());
        prop_assert_eq!(decoded, frame);
    }

    #[test]
    fn any_chunking_yields_the_same_frames(
        (frames, cuts) in prop::collection::vec(frame(), 1..5).prop_flat_map(|frames| {
            let len: usize = frames.iter().map(|f| encode_to_vec(f).map_or(0, |v| v.len())).sum();
            (Just(frames), cuts(len))
        })
    ) {
        let data: Vec<u8> = frames.iter().flat_map(|f| encode_to_vec(f).expect("encodes")).collect();
        let (decoded, err, _) = decode_split(&data, &cuts, Limits::default());
        prop_assert_eq!(err, None);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_overreserve(
        (data, cuts) in prop::collection::vec(any::<u8>(), 0..512)
            .prop_flat_map(|d| { let n = d.len(); (Just(d), cuts(n)) })
    ) {
        for limits in [Limits { max_header: 64, max_body: 256 }, Limits::default()] {
            let (frames, _, cap) = decode_split(&data, &cuts, limits);
            prop_assert!(cap <= capacity_bound(data.len(), limits), "capacity {}", cap);
            prop_assert!(frames.iter().all(|f| f.body.len() <= limits.max_body));
        }
    }

    #[test]
    fn mutated_frames_never_panic_or_overreserve(
        frame in frame(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        keep in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        // Valid frames with a few bytes overwritten and the tail cut reach
        // the deeper states (header parsed, body pending) that random bytes
        // rarely do.
        let mut data = encode_to_vec(&frame).expect("encodes");
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] = byte;
        }
        data.truncate(keep.index(data.len() + 1));
        let limits = Limits { max_header: 4096, max_body: 2048 };
        let (frames, err, cap) = decode_split(&data, &[cut.index(data.len() + 1)], limits);
        prop_assert!(cap <= capacity_bound(data.len(), limits), "capacity {}", cap);
        prop_assert!(frames.len() <= 1);
        prop_assert!(err.is_some() || !frames.is_empty() || data.is_empty());
    }
}
