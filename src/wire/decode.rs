//! Pure parsing of the frame prefix and header: no buffers owned, no state.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::FrameError;
use super::frame::{Frame, ID, SIZE};
use super::limits::Limits;

/// Bytes of the big-endian `header_len` prefix.
pub const PREFIX_LEN: usize = 4;

/// What the start of a buffer holds, as far as the frame header goes.
#[derive(Debug)]
pub(crate) enum Head {
    /// Not enough bytes yet; the frame head needs `need` bytes in total.
    /// `need` is always checked against the limits, so it is safe to reserve.
    Incomplete {
        /// Total bytes (prefix plus header) the head needs.
        need: usize,
    },
    /// The prefix and header are complete and valid.
    Complete {
        /// The header object with `"size"` already removed.
        header: Map<String, Value>,
        /// The body length, checked against `max_body`.
        size: usize,
        /// Bytes taken by the prefix and header.
        consumed: usize,
    },
}

/// Reads the prefix and, once it is all there, the header at the start of `buf`.
///
/// The header is parsed only when every byte of it is buffered, so a caller
/// that keeps the result never parses the same JSON twice.
pub(crate) fn read_head(buf: &[u8], limits: &Limits) -> Result<Head, FrameError> {
    let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
        return Ok(Head::Incomplete { need: PREFIX_LEN });
    };
    let header_len = u32::from_be_bytes(*prefix);
    if header_len == 0 {
        return Err(FrameError::EmptyHeader);
    }
    // The limit check comes before anything is reserved for the header.
    let too_large = FrameError::HeaderTooLarge {
        len: u64::from(header_len),
        max: limits.max_header,
    };
    let need = usize::try_from(header_len)
        .ok()
        .filter(|&len| len <= limits.max_header)
        .and_then(|len| len.checked_add(PREFIX_LEN))
        .ok_or(too_large)?;
    let Some(bytes) = buf.get(PREFIX_LEN..need) else {
        return Ok(Head::Incomplete { need });
    };
    let mut header = parse_header(bytes)?;
    let size = take_size(&mut header, limits)?;
    Ok(Head::Complete {
        header,
        size,
        consumed: need,
    })
}

/// Parses header bytes into a JSON object, naming which rule they broke.
fn parse_header(bytes: &[u8]) -> Result<Map<String, Value>, FrameError> {
    // Checked separately so the peer learns "not UTF-8" rather than a
    // confusing JSON syntax error at some column.
    let text = std::str::from_utf8(bytes).map_err(|_| FrameError::HeaderNotUtf8)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(FrameError::HeaderNotObject),
        Err(e) => Err(FrameError::HeaderNotJson(e.to_string())),
    }
}

/// Removes `"size"` from the header and checks it against `max_body`.
fn take_size(header: &mut Map<String, Value>, limits: &Limits) -> Result<usize, FrameError> {
    let Some(value) = header.remove(SIZE) else {
        return Ok(0);
    };
    let id = header.get(ID).and_then(Value::as_u64);
    let size = value.as_u64().ok_or(FrameError::BadSize { id })?;
    usize::try_from(size)
        .ok()
        .filter(|&size| size <= limits.max_body)
        .ok_or(FrameError::BodyTooLarge {
            size,
            max: limits.max_body,
            id,
        })
}

/// Decodes one frame from the start of `buf` without any codec state.
///
/// Returns the frame and the number of bytes it took, or `Ok(None)` when
/// `buf` holds only part of a frame. The body is copied out of `buf`; use
/// [`FrameCodec`](super::FrameCodec) on a stream to share it instead.
pub fn decode_from_slice(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Frame, usize)>, FrameError> {
    let Head::Complete {
        header,
        size,
        consumed,
    } = read_head(buf, limits)?
    else {
        return Ok(None);
    };
    let Some(end) = consumed.checked_add(size) else {
        return Ok(None);
    };
    let Some(body) = buf.get(consumed..end) else {
        return Ok(None);
    };
    let frame = Frame {
        header,
        body: Bytes::copy_from_slice(body),
    };
    Ok(Some((frame, end)))
}
