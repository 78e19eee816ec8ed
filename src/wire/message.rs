//! Typed messages of protocol v1: one enum per direction, built from frames.

use bytes::Bytes;
use serde::de::value::MapDeserializer;
use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::code::ErrorCode;
use super::error::error_frame;
use super::frame::{Frame, ID, TYPE};
use super::limits::Limits;

/// The protocol version this code speaks (and the highest it accepts).
pub const PROTOCOL_VERSION: u64 = 1;

/// A core request, answered by the pure [`respond`](super::respond) with
/// no connection state; the frame's `"type"` names the variant. One family
/// of [`Request`](super::Request).
///
/// Unknown fields are ignored, so newer clients can add fields freely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreRequest {
    /// `hello`: states the client's protocol version and features.
    Hello(Hello),
    /// `ping`: asks for a `pong` carrying the same `"ts"`, to measure RTT.
    Ping(Ping),
    /// `echo`: asks for the whole frame (every field and the body) back.
    Echo {},
}

/// Fields of a `hello` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Highest protocol version the client speaks.
    pub version: u64,
    /// Free-form client name and version, for the server's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Features the client would like to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// Fields of a `ping` request and of its `pong` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// Any JSON value, returned unchanged; `Some(Null)` is a present `null`,
    /// `None` an absent field, so `"ts":null` round-trips too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub ts: Option<Value>,
}

/// Deserializes a present field as `Some`, even when it is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A message from server to client; the frame's `"type"` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// `hello`: the version chosen, the server's name, limits and features.
    Hello(HelloReply),
    /// `pong`: answers `ping`, with the request's `"ts"` copied.
    Pong(Ping),
    /// `echo`: the request's fields and body, unchanged.
    Echo {},
    /// `error`: why a request failed (see [`MessageError`], [`FrameError`](super::FrameError)).
    Error(ErrorReply),
}

/// Fields of the server's `hello` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloReply {
    /// The version both sides will speak: the lower of the two.
    pub version: u64,
    /// Server software and version, e.g. `sockit/0.1.0`.
    pub server: String,
    /// The frame limits the server enforces on what it receives.
    pub limits: Limits,
    /// Features (message families) the server offers.
    pub features: Vec<String>,
}

/// Fields of an `error` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Stable snake_case code to branch on (kept as sent, so a code a
    /// newer server added still reads; [`ErrorReply::error_code`] types it).
    pub code: String,
    /// One line for humans naming the cause and the fix.
    pub message: String,
}

/// A well-framed message that cannot be served. The connection stays open:
/// the framing is intact, so the next frame can still be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// `"type"` is missing or not a string.
    #[error("frame has no string \"type\"; add one, e.g. \"type\":\"ping\"")]
    MissingType,
    /// `"id"` is present but not an unsigned integer.
    #[error("\"id\" must be an unsigned integer; send e.g. \"id\":1 or leave it out")]
    BadId,
    /// The type is known but its fields have the wrong shape.
    #[error("bad fields for \"{kind}\": {reason}; see docs/PROTOCOL.md")]
    BadFields {
        /// The message type.
        kind: String,
        /// What serde objected to.
        reason: String,
    },
    /// No message of this type exists (in this direction, on this server).
    #[error("unknown message type \"{0}\"; send hello to see the server's features")]
    UnknownType(String),
    /// The client's highest version is below what the server speaks.
    #[error("protocol version {0} is not supported; this server speaks version 1")]
    UnsupportedVersion(u64),
}

impl MessageError {
    /// The stable snake_case code sent in the error frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingType | Self::BadId | Self::BadFields { .. } => ErrorCode::BadRequest,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
        }
    }

    /// The error frame answering the request whose id was `id`.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        error_frame(self.code(), &self.to_string(), id)
    }
}

impl CoreRequest {
    /// Reads a request out of a frame's header (the body is left to the caller).
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this request, with `id` when given and no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

impl ErrorReply {
    /// The code as an [`ErrorCode`]; `None` for one this build does not know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code.parse().ok()
    }
}

impl Reply {
    /// Reads a reply out of a frame's header (the body is left to the caller).
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        from_header(frame)
    }

    /// A frame carrying this reply, with `id` when given and no body.
    pub fn to_frame(&self, id: Option<u64>) -> Frame {
        to_frame(self, id)
    }
}

/// Checks `"type"` and `"id"`, then lets serde read the variant.
///
/// Every message family reads its frames through this one function. A type
/// `T` does not know is reported as `unknown_type`, not as serde's "unknown
/// variant", so a client can tell "not offered" from "malformed"; which
/// types `T` knows comes from its serde derive alone (`knows`), never
/// from a list kept by hand beside it.
pub fn from_header<T: DeserializeOwned>(frame: &Frame) -> Result<T, MessageError> {
    let kind = check_header(frame)?;
    T::deserialize(&frame.header).map_err(|e| {
        if knows::<T>(kind) {
            MessageError::BadFields {
                kind: kind.to_owned(),
                reason: e.to_string(),
            }
        } else {
            MessageError::UnknownType(kind.to_owned())
        }
    })
}

/// The frame's `"type"`, after checking that it is a string and that
/// `"id"`, when present, is an unsigned integer.
pub(super) fn check_header(frame: &Frame) -> Result<&str, MessageError> {
    let kind = frame.kind().ok_or(MessageError::MissingType)?;
    if frame.header.get(ID).is_some_and(|id| !id.is_u64()) {
        return Err(MessageError::BadId);
    }
    Ok(kind)
}

/// True when the internally tagged enum `T` has a variant named `kind`.
///
/// Asks `T`'s own `Deserialize` with a header holding only the tag and an
/// error type that remembers whether serde called `unknown_variant`: a
/// known variant fails later (a missing field) or succeeds. No allocation
/// but serde's small buffer of the one field; only error paths and the
/// family routing of [`Request`](super::Request) call it.
pub(super) fn knows<T: DeserializeOwned>(kind: &str) -> bool {
    let header = MapDeserializer::<_, Probe>::new(std::iter::once((TYPE, kind)));
    !matches!(T::deserialize(header), Err(Probe::UnknownVariant))
}

/// The error type of [`knows`]: all it keeps is whether the tag was unknown.
#[derive(Debug)]
enum Probe {
    /// serde found no variant with the tag.
    UnknownVariant,
    /// Anything else (the variant exists; its fields are missing).
    Other,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Probe::UnknownVariant => "unknown variant",
            Probe::Other => "other error",
        })
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Probe::Other
    }

    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Probe::UnknownVariant
    }
}

/// Serializes a message into a frame header and sets `"id"`; every message
/// family builds its frames through this one function.
pub fn to_frame<T: Serialize>(message: &T, id: Option<u64>) -> Frame {
    // Our message types always serialize to an object with string keys;
    // the fallback only keeps this function total.
    let header = match serde_json::to_value(message) {
        Ok(Value::Object(map)) => map,
        _ => {
            let mut map = Map::new();
            map.insert(TYPE.to_owned(), Value::from("error"));
            map
        }
    };
    Frame::from_parts(header, Bytes::new()).with_opt_id(id)
}
