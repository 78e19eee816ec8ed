//! Runs every frame test vector in tests/vectors/frames.json through the codec.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value};
use sockit::wire::{Frame, FrameCodec, Limits, SIZE, encode_to_vec};
use tokio_util::codec::Decoder;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    hex: String,
    frames: Vec<Expected>,
    error: Option<String>,
    canonical: bool,
    #[serde(default)]
    chunks: Vec<usize>,
    limits: Option<Limits>,
}

#[derive(Deserialize)]
struct Expected {
    header: Map<String, Value>,
    body_hex: String,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn load() -> Vec<Vector> {
    let text = include_str!("vectors/frames.json");
    serde_json::from_str::<File>(text)
        .expect("frames.json parses")
        .vectors
}

/// The frame our decoder yields for an expected wire header and body:
/// the codec strips `"size"`, which the body length replaces.
fn expected_frame(e: &Expected) -> Frame {
    let mut header = e.header.clone();
    header.remove(SIZE);
    Frame {
        header,
        body: Bytes::from(unhex(&e.body_hex)),
    }
}

/// Decodes `data` fed in the given chunk lengths, then signals EOF.
fn decode(data: &[u8], chunks: &[usize], limits: Limits) -> (Vec<Frame>, Option<String>) {
    let mut codec = FrameCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = data;
    for &n in chunks {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.code().as_str().to_owned())),
            }
        }
    }
    assert!(rest.is_empty(), "chunks must cover the stream");
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e.code().as_str().to_owned())),
        }
    }
}

#[test]
fn every_vector_decodes_as_documented_under_every_split() {
    let vectors = load();
    assert!(vectors.len() >= 20, "expected the full vector set");
    for v in &vectors {
        let data = unhex(&v.hex);
        let limits = v.limits.unwrap_or_default();
        let want: Vec<Frame> = v.frames.iter().map(expected_frame).collect();
        let mut splits = vec![vec![data.len()], vec![1; data.len()]];
        if !v.chunks.is_empty() {
            splits.push(v.chunks.clone());
        }
        for split in splits {
            let (got, err) = decode(&data, &split, limits);
            assert_eq!(got, want, "{}: frames with chunks {split:?}", v.name);
            assert_eq!(err, v.error, "{}: error with chunks {split:?}", v.name);
        }
    }
}

#[test]
fn canonical_vectors_are_what_the_encoder_writes() {
    let vectors = load();
    let canonical: Vec<&Vector> = vectors.iter().filter(|v| v.canonical).collect();
    assert!(!canonical.is_empty());
    for v in canonical {
        let encoded: Vec<u8> = v
            .frames
            .iter()
            .flat_map(|e| encode_to_vec(&expected_frame(e)).expect("encodes"))
            .collect();
        assert_eq!(hex(&encoded), v.hex, "{}", v.name);
    }
}

#[test]
fn vector_names_are_unique() {
    let vectors = load();
    let mut names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), vectors.len());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
