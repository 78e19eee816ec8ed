//! Frame encoding: the header is serialized straight into the output buffer.

use std::io;

use bytes::{BufMut, BytesMut};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::decode::PREFIX_LEN;
use super::error::FrameError;
use super::frame::{Frame, SIZE};
use super::limits::Limits;

/// Room reserved up front for a typical header, so small frames encode
/// with a single reservation.
const HEADER_GUESS: usize = 128;

/// A header as it goes on the wire: the frame's fields plus `"size"`.
///
/// Serializing this view instead of a modified copy avoids cloning the map
/// for every frame, and inserting `"size"` at its sorted place keeps the
/// bytes identical to `serde_json::to_vec` of the full map (keys sorted).
struct WireHeader<'a> {
    header: &'a Map<String, Value>,
    size: usize,
}

impl Serialize for WireHeader<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let own = self.header.len() - usize::from(self.header.contains_key(SIZE));
        let mut pending = self.size > 0;
        let mut map = serializer.serialize_map(Some(own + usize::from(pending)))?;
        for (key, value) in self.header {
            if key == SIZE {
                continue;
            }
            if pending && key.as_str() > SIZE {
                map.serialize_entry(SIZE, &self.size)?;
                pending = false;
            }
            map.serialize_entry(key, value)?;
        }
        if pending {
            map.serialize_entry(SIZE, &self.size)?;
        }
        map.end()
    }
}

/// Appends `frame` to `dst`, or leaves `dst` untouched and fails when the
/// header or body is over `limits` (we never send what we would refuse).
pub(crate) fn encode_into(
    frame: &Frame,
    limits: &Limits,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    dst.reserve(PREFIX_LEN + HEADER_GUESS + frame.body.len());
    encode_head_into(frame, limits, dst)?;
    dst.extend_from_slice(&frame.body);
    Ok(())
}

/// Encodes everything of `frame` but its body (prefix and header, with
/// `size` set to the body's length), so a large body can go to the socket
/// straight from its own buffer instead of being copied behind the header.
pub(crate) fn encode_head_into(
    frame: &Frame,
    limits: &Limits,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let size = frame.body.len();
    if size > limits.max_body {
        return Err(FrameError::BodyTooLarge {
            size: u64::try_from(size).unwrap_or(u64::MAX),
            max: limits.max_body,
            id: frame.id(),
        });
    }
    let start = dst.len();
    dst.reserve(PREFIX_LEN + HEADER_GUESS);
    // Placeholder for header_len, patched once the header is written.
    dst.put_u32(0);
    let view = WireHeader {
        header: &frame.header,
        size,
    };
    if let Err(e) = serde_json::to_writer((&mut *dst).writer(), &view) {
        dst.truncate(start);
        return Err(FrameError::Io(io::Error::other(e)));
    }
    let header_len = dst.len() - start - PREFIX_LEN;
    let prefix = u32::try_from(header_len)
        .ok()
        .filter(|_| header_len <= limits.max_header);
    let Some(prefix) = prefix else {
        dst.truncate(start);
        return Err(FrameError::HeaderTooLarge {
            len: u64::try_from(header_len).unwrap_or(u64::MAX),
            max: limits.max_header,
        });
    };
    dst[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

/// Encodes one frame into a fresh vector under the default [`Limits`].
///
/// Handy for tests, blocking clients and test vectors; streams should use
/// [`FrameCodec`](super::FrameCodec) to reuse one buffer.
pub fn encode_to_vec(frame: &Frame) -> Result<Vec<u8>, FrameError> {
    let mut buf = BytesMut::new();
    encode_into(frame, &Limits::default(), &mut buf)?;
    Ok(buf.into())
}
