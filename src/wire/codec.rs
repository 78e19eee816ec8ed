//! `FrameCodec`: the streaming decoder/encoder used with tokio-util's `Framed`.

use std::mem;

use bytes::{Buf, Bytes, BytesMut};
use serde_json::{Map, Value};
use tokio_util::codec::{Decoder, Encoder};

use super::decode::{Head, PREFIX_LEN, read_head};
use super::encode::{encode_head_into, encode_into};
use super::error::FrameError;
use super::frame::Frame;
use super::limits::Limits;

/// Most buffer space reserved ahead of the bytes received while a body
/// arrives: large enough that a big body needs few reallocations, small
/// enough that a claimed-but-unsent body costs the server next to nothing.
const RESERVE_AHEAD: usize = 64 * 1024;

/// Where the decoder is within the current frame.
#[derive(Debug, Default)]
enum State {
    /// Waiting for the prefix and header of the next frame.
    #[default]
    Head,
    /// The header is parsed (once); waiting for `size` body bytes.
    Body {
        /// The parsed header, kept so partial reads never re-parse it.
        header: Map<String, Value>,
        /// Body bytes still expected.
        size: usize,
        /// Bytes the prefix and header took, for truncation reports.
        head_len: usize,
    },
    /// A decode error happened; the stream cannot be re-synchronized.
    Failed,
}

/// Splits a byte stream into [`Frame`]s and writes frames back out.
///
/// The decoder is a state machine: it parses each header exactly once,
/// hands out bodies without copying them (`split_to(..).freeze()`), and
/// reserves buffer space only for lengths already checked against its
/// [`Limits`]. After any decode error it stays failed (see
/// [`is_failed`](Self::is_failed)): the caller sends
/// [`FrameError::to_frame`] and closes the connection.
#[derive(Debug, Default)]
pub struct FrameCodec {
    limits: Limits,
    /// Largest body accepted from the peer when lower than
    /// `limits.max_body` (see [`FrameCodec::set_max_body`]); replies are
    /// held to `limits` alone.
    recv_max_body: Option<usize>,
    state: State,
}

impl FrameCodec {
    /// A codec with the default limits (64 KiB header, 8 MiB body).
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec enforcing `limits` in both directions.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            recv_max_body: None,
            state: State::Head,
        }
    }

    /// The limits this codec enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True once a decode error has made the stream unusable.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed)
    }

    /// The body size announced by the frame being received, once its header
    /// is in and until its body is: what a door charges to its memory
    /// budget before the bytes arrive.
    pub fn pending_body(&self) -> Option<usize> {
        match &self.state {
            State::Body { size, .. } => Some(*size),
            _ => None,
        }
    }

    /// Lowers the largest body accepted from the peer, from the next header
    /// on, below the limits' `max_body` (`None`: back to it). The framed
    /// door allows large bodies only after a login; replies keep the
    /// limits' own maximum.
    pub fn set_max_body(&mut self, max_body: Option<usize>) {
        self.recv_max_body = max_body.filter(|m| *m < self.limits.max_body);
    }

    /// True when the decoder sits between frames, where EOF is a clean close.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    fn decode_frame(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let size = match &self.state {
            State::Failed => return Err(FrameError::Failed),
            State::Body { size, .. } => *size,
            State::Head => match read_head(src, &self.recv_limits())? {
                Head::Incomplete { need } => {
                    // `need` was checked against max_header by read_head.
                    src.reserve(need.saturating_sub(src.len()));
                    return Ok(None);
                }
                Head::Complete {
                    header,
                    size,
                    consumed,
                } => {
                    src.advance(consumed);
                    self.state = State::Body {
                        header,
                        size,
                        head_len: consumed,
                    };
                    size
                }
            },
        };
        if src.len() < size {
            // `size` was checked against max_body by read_head; still, grow
            // toward it only as bytes arrive, so a peer that claims 8 MiB
            // and trickles costs what it sent, not what it claimed.
            src.reserve((size - src.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        let State::Body { header, .. } = mem::replace(&mut self.state, State::Head) else {
            return Err(FrameError::Failed);
        };
        // An empty body needs no share of the read buffer's allocation.
        let body = if size == 0 {
            Bytes::new()
        } else {
            src.split_to(size).freeze()
        };
        Ok(Some(Frame { header, body }))
    }

    /// The limits incoming frames are held to.
    fn recv_limits(&self) -> Limits {
        match self.recv_max_body {
            Some(max_body) => Limits {
                max_body,
                ..self.limits
            },
            None => self.limits,
        }
    }

    /// The error for a stream that ended with `src` still unconsumed.
    fn truncated(&self, src: &BytesMut) -> FrameError {
        let (have, need) = match &self.state {
            State::Body { size, head_len, .. } => (head_len + src.len(), head_len + size),
            _ => {
                let need = match src.first_chunk::<PREFIX_LEN>() {
                    Some(prefix) => PREFIX_LEN.saturating_add(
                        usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX),
                    ),
                    None => PREFIX_LEN,
                };
                (src.len(), need)
            }
        };
        FrameError::Truncated {
            have: u64::try_from(have).unwrap_or(u64::MAX),
            need: u64::try_from(need).unwrap_or(u64::MAX),
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let result = self.decode_frame(src);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// Like `decode`, but the stream has ended: nothing left between frames
    /// is a clean close (`Ok(None)`), anything else is `truncated_frame`.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        if self.is_idle() && src.is_empty() {
            return Ok(None);
        }
        let err = self.truncated(src);
        self.state = State::Failed;
        Err(err)
    }
}

impl FrameCodec {
    /// Encodes the prefix and header of `frame` (its `size` included) but
    /// not its body: the caller writes the body after it, from its own
    /// buffer. Large bodies (file chunks) skip a copy that way.
    pub fn encode_head(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_head_into(frame, &self.limits, dst)
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_into(frame, &self.limits, dst)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_into(&frame, &self.limits, dst)
    }
}
