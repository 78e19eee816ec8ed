//! Errors of the frame layer, each with a stable wire code and a one-line fix.

use std::io;

use super::code::ErrorCode;
use super::frame::Frame;

/// A frame could not be decoded or encoded.
///
/// Every decode error means the byte stream can no longer be split into
/// frames reliably, so the connection must be closed after the error frame
/// from [`FrameError::to_frame`] is sent. Message-level problems (missing
/// `"type"`, unknown types, bad fields) are *not* frame errors: they are
/// answered by [`respond`](super::respond) and the connection stays open.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// `header_len` is larger than the configured `max_header`.
    #[error("header of {len} bytes exceeds the limit of {max} bytes; send a smaller header")]
    HeaderTooLarge {
        /// The length the peer announced (or the encoder produced).
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The `"size"` field is larger than the configured `max_body`.
    #[error(
        "body of {size} bytes exceeds the limit of {max} bytes; send the data in smaller frames"
    )]
    BodyTooLarge {
        /// The body size the peer announced (or the encoder was given).
        size: u64,
        /// The limit in force.
        max: usize,
        /// The `"id"` of the offending frame, when its header was readable.
        id: Option<u64>,
    },
    /// `header_len` is 0: every frame needs at least `{"type":..}`.
    #[error(
        "header length is 0; every frame needs a JSON object header such as {{\"type\":\"ping\"}}"
    )]
    EmptyHeader,
    /// The header bytes are not valid UTF-8.
    #[error("header is not valid UTF-8; encode the JSON header as UTF-8")]
    HeaderNotUtf8,
    /// The header is UTF-8 but not valid JSON.
    #[error("header is not valid JSON ({0}); send one JSON object")]
    HeaderNotJson(String),
    /// The header is JSON but not an object.
    #[error("header is JSON but not an object; wrap the fields in {{...}}")]
    HeaderNotObject,
    /// `"size"` is present but not an unsigned integer.
    #[error("\"size\" must be an unsigned integer byte count; omit it or send e.g. \"size\":12")]
    BadSize {
        /// The `"id"` of the offending frame, when it was a valid id.
        id: Option<u64>,
    },
    /// The stream ended in the middle of a frame.
    #[error(
        "connection closed inside a frame ({have} of {need} bytes); send whole frames before closing"
    )]
    Truncated {
        /// Bytes of the frame that did arrive.
        have: u64,
        /// Bytes the frame needs (only a lower bound while the header is incomplete).
        need: u64,
    },
    /// The codec already failed on this stream and refuses to guess where
    /// the next frame starts.
    #[error("the stream already failed to decode; close the connection and reconnect")]
    Failed,
    /// Reading or writing the underlying transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// The stable snake_case code sent in the `"code"` field of the error
    /// frame; clients branch on it, so it never changes once published.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::HeaderTooLarge { .. } => ErrorCode::HeaderTooLarge,
            Self::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            Self::EmptyHeader | Self::HeaderNotUtf8 | Self::HeaderNotJson(_) => {
                ErrorCode::BadHeader
            }
            Self::HeaderNotObject => ErrorCode::BadHeader,
            Self::BadSize { .. } => ErrorCode::BadSize,
            Self::Truncated { .. } => ErrorCode::TruncatedFrame,
            Self::Failed => ErrorCode::StreamFailed,
            Self::Io(_) => ErrorCode::IoError,
        }
    }

    /// The `"id"` of the frame that caused the error, when its header could
    /// be read, so the error reply can be matched to its request.
    pub fn id(&self) -> Option<u64> {
        match self {
            Self::BodyTooLarge { id, .. } | Self::BadSize { id } => *id,
            _ => None,
        }
    }

    /// The error frame to send to the peer before closing the connection.
    pub fn to_frame(&self) -> Frame {
        error_frame(self.code(), &self.to_string(), self.id())
    }

    /// The error frame answering request `id`, for when encoding our own
    /// reply to it failed (a reply over the limits): the connection is
    /// still in sync, so this goes out in the reply's place and the
    /// connection stays open.
    pub fn to_frame_with_id(&self, id: Option<u64>) -> Frame {
        error_frame(self.code(), &self.to_string(), id.or(self.id()))
    }

    /// True for errors that come from a limit ([`HeaderTooLarge`] or
    /// [`BodyTooLarge`]); when the encoder returns one, nothing was written.
    ///
    /// [`HeaderTooLarge`]: Self::HeaderTooLarge
    /// [`BodyTooLarge`]: Self::BodyTooLarge
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Self::HeaderTooLarge { .. } | Self::BodyTooLarge { .. }
        )
    }
}

/// Builds an error frame `{"type":"error","id":..,"code":..,"message":..}`.
///
/// `id` is omitted when `None` (the request had no usable id).
pub fn error_frame(code: ErrorCode, message: &str, id: Option<u64>) -> Frame {
    Frame::new("error")
        .set("code", code.as_str())
        .set("message", message)
        .with_opt_id(id)
}
